//! What `--listen` names: a TCP address (`host:port`) or, for sidecar deployments, a
//! Unix domain socket (`unix:/path/to.sock`).
//!
//! A socket path that already exists is replaced only when it is a socket (one left
//! by a previous run); any other file there is an error, never deleted. The socket is
//! created with the process umask; put it in a directory only the callers can reach.

use std::path::PathBuf;

/// A bound listener.
#[derive(Debug)]
pub(crate) enum Bound {
    Tcp(tokio::net::TcpListener),
    #[cfg(unix)]
    Unix(tokio::net::UnixListener, PathBuf),
}

/// The Unix socket path of a `unix:` listen address.
pub(crate) fn unix_path(listen: &str) -> Option<PathBuf> {
    listen.strip_prefix("unix:").map(PathBuf::from)
}

impl Bound {
    /// Binds `listen`.
    pub(crate) async fn bind(listen: &str) -> std::io::Result<Bound> {
        match unix_path(listen) {
            None => Ok(Bound::Tcp(tokio::net::TcpListener::bind(listen).await?)),
            #[cfg(unix)]
            Some(path) => {
                use std::os::unix::fs::FileTypeExt;
                if path.as_os_str().is_empty() {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        "`unix:` needs a socket path, e.g. unix:/run/policygate/pdp.sock",
                    ));
                }
                if let Ok(meta) = std::fs::symlink_metadata(&path) {
                    if meta.file_type().is_socket() {
                        std::fs::remove_file(&path)?;
                    } else {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::AlreadyExists,
                            format!("`{}` exists and is not a socket", path.display()),
                        ));
                    }
                }
                let listener = tokio::net::UnixListener::bind(&path)?;
                Ok(Bound::Unix(listener, path))
            }
            #[cfg(not(unix))]
            Some(_) => Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "Unix domain sockets need a Unix system",
            )),
        }
    }

    /// The address as logged: `host:port`, or `unix:/path`.
    pub(crate) fn display(&self, listen: &str) -> String {
        match self {
            Bound::Tcp(l) => l
                .local_addr()
                .map_or_else(|_| listen.to_owned(), |a| a.to_string()),
            #[cfg(unix)]
            Bound::Unix(_, path) => format!("unix:{}", path.display()),
        }
    }
}
