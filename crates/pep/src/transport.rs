//! How the client reaches the PDP: TCP (`http://host:port`), TLS over TCP
//! (`https://host:port`, rustls with the `ring` provider; optionally with a client
//! certificate for mTLS) or, for a PDP running as a sidecar, a Unix domain socket
//! (`unix:/path/to.sock`).
//!
//! All go through the same hyper connection pool; the socket path replaces DNS and
//! TCP, and the request still carries `Host: localhost`. Over TLS the server's
//! certificate must chain to the configured roots and name the url's host.

use http::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower_service::Service;

/// Connects to the PDP.
#[derive(Debug, Clone)]
pub(crate) enum Connector {
    Tcp(HttpConnector),
    Tls(HttpConnector, TlsClient),
    #[cfg(unix)]
    Unix(Arc<Path>),
}

/// The client's TLS configuration (roots, optional client certificate).
#[derive(Clone)]
pub(crate) struct TlsClient(pub(crate) tokio_rustls::TlsConnector);

/// PEM bytes given directly, or a file to read them from when the client is built.
#[derive(Debug, Clone)]
pub(crate) enum Pem {
    Bytes(Vec<u8>),
    File(std::path::PathBuf),
}

impl Pem {
    fn read(&self, what: &str) -> Result<std::borrow::Cow<'_, [u8]>, String> {
        match self {
            Pem::Bytes(b) => Ok(std::borrow::Cow::Borrowed(b)),
            Pem::File(path) => std::fs::read(path)
                .map(std::borrow::Cow::Owned)
                .map_err(|e| format!("cannot read the {what} `{}`: {e}", path.display())),
        }
    }
}

fn certificates(
    pem: &Pem,
    what: &str,
) -> Result<Vec<rustls_pki_types::CertificateDer<'static>>, String> {
    use rustls_pki_types::pem::PemObject;
    let bytes = pem.read(what)?;
    let certs = rustls_pki_types::CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("the {what} is not valid PEM: {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "the {what} holds no `-----BEGIN CERTIFICATE-----` block"
        ));
    }
    Ok(certs)
}

impl TlsClient {
    /// TLS over `roots` (PEM CA certificates; `None`: the system's trust store), with a
    /// client certificate chain and key (PEM) for mTLS. Errors say what to fix.
    pub(crate) fn new(
        roots: Option<&Pem>,
        client: Option<&(Pem, Pem)>,
    ) -> Result<TlsClient, String> {
        use rustls_pki_types::pem::PemObject;
        let mut store = rustls::RootCertStore::empty();
        match roots {
            Some(pem) => {
                for cert in certificates(pem, "TLS CA certificate file")? {
                    store.add(cert).map_err(|e| {
                        format!("a TLS CA certificate cannot be a trust anchor: {e}; pass the CA that issued the PDP's certificate")
                    })?;
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                let (added, _) = store.add_parsable_certificates(found.certs);
                if added == 0 {
                    return Err("no CA certificate found in the system trust store; pass the CA that issued the PDP's certificate with `tls_ca_pem`/`tls_ca_file`".to_owned());
                }
            }
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("the TLS library refused its defaults: {e}"))?
            .with_root_certificates(store);
        let mut config = match client {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let chain = certificates(cert, "TLS client certificate file")?;
                let key_bytes = key.read("TLS client key file")?;
                let key =
                    rustls_pki_types::PrivateKeyDer::from_pem_slice(&key_bytes).map_err(|e| {
                        format!("the TLS client key file holds no usable PEM private key: {e}")
                    })?;
                builder.with_client_auth_cert(chain, key).map_err(|e| {
                    format!("the TLS client key does not fit the client certificate: {e}; pass the key that belongs to the certificate")
                })?
            }
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsClient(tokio_rustls::TlsConnector::from(
            std::sync::Arc::new(config),
        )))
    }
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsClient(..)")
    }
}

/// A connection to the PDP.
#[derive(Debug)]
pub(crate) enum Stream {
    Tcp(TokioIo<tokio::net::TcpStream>),
    Tls(Box<TokioIo<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>>),
    #[cfg(unix)]
    Unix(TokioIo<tokio::net::UnixStream>),
}

type Connecting = Pin<Box<dyn Future<Output = Result<Stream, io::Error>> + Send>>;

impl Service<Uri> for Connector {
    type Response = Stream;
    type Error = io::Error;
    type Future = Connecting;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        match self {
            Connector::Tcp(c) | Connector::Tls(c, _) => c.poll_ready(cx).map_err(io::Error::other),
            #[cfg(unix)]
            Connector::Unix(_) => Poll::Ready(Ok(())),
        }
    }

    fn call(&mut self, uri: Uri) -> Connecting {
        match self {
            Connector::Tcp(c) => {
                let connecting = c.call(uri);
                Box::pin(async move { connecting.await.map(Stream::Tcp).map_err(io::Error::other) })
            }
            Connector::Tls(c, tls) => {
                let name = server_name(&uri);
                let connecting = c.call(uri);
                let tls = tls.0.clone();
                Box::pin(async move {
                    let name = name?;
                    let tcp = connecting.await.map_err(io::Error::other)?.into_inner();
                    let stream = tls.connect(name, tcp).await?;
                    Ok(Stream::Tls(Box::new(TokioIo::new(stream))))
                })
            }
            #[cfg(unix)]
            Connector::Unix(path) => {
                let path = Arc::clone(path);
                Box::pin(async move {
                    let stream = tokio::net::UnixStream::connect(&*path).await?;
                    Ok(Stream::Unix(TokioIo::new(stream)))
                })
            }
        }
    }
}

/// The name the server's certificate must carry: the url's host (a DNS name or an
/// IP address).
fn server_name(uri: &Uri) -> io::Result<rustls_pki_types::ServerName<'static>> {
    let host = uri.host().unwrap_or_default();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    rustls_pki_types::ServerName::try_from(host.to_owned()).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("`{host}` is not a TLS server name: {e}"),
        )
    })
}

impl Connection for Stream {
    fn connected(&self) -> Connected {
        match self {
            Stream::Tcp(s) => s.connected(),
            Stream::Tls(s) => s.inner().get_ref().0.connected(),
            #[cfg(unix)]
            Stream::Unix(s) => s.connected(),
        }
    }
}

impl hyper::rt::Read for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            #[cfg(unix)]
            Stream::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl hyper::rt::Write for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            #[cfg(unix)]
            Stream::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            #[cfg(unix)]
            Stream::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            #[cfg(unix)]
            Stream::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
