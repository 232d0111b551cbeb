//! TLS and mTLS for `serve --tls-cert --tls-key [--tls-client-ca]`, with rustls (the
//! `ring` provider: no OpenSSL, no C toolchain beyond ring's own).
//!
//! - **Files**: the certificate chain (PEM, leaf first), its private key (PEM: PKCS#8,
//!   PKCS#1 or SEC1) and, for mTLS, the CA certificates (PEM) that client
//!   certificates must chain to. [`TlsFiles::server_config`] reads and checks them
//!   into a rustls `ServerConfig` (the key must match the leaf; a CA file must hold at
//!   least one usable CA certificate); a [`TlsError`] names the file and how to fix it.
//! - **Rotation**: [`Tls`] holds the active `ServerConfig` in an `ArcSwap`. Every
//!   handshake takes the config active when it starts; [`Tls::reload`] (run on
//!   `SIGHUP`) reads the files again and swaps a new config in only when all of them
//!   are good, so a broken new certificate or key keeps the old ones (and says why).
//!   Connections already established keep their session.
//! - **Client identity**: with a client CA, a client without a certificate signed by
//!   it fails the handshake (rustls' WebPKI verifier: chain, validity dates, client
//!   auth usage). The verified leaf's identity — its first URI SAN (SPIFFE IDs
//!   included), else its first DNS SAN, else its subject common name — becomes the
//!   connection's `Peer` identity, which the accept loop (`conn`, where the handshake
//!   runs within the header read timeout) puts into every request's extensions; the
//!   routes make it the caller (`caller_id`, the `caller.id` fact, see
//!   [`crate::auth`]). A verified certificate with no usable identity is refused
//!   after the handshake.

use crate::conn::{Handshake, Peer};
use arc_swap::ArcSwap;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Longest client identity accepted, in characters: the contract's bound on
/// `caller.id` (like `subject.id`).
pub const MAX_IDENTITY_CHARS: usize = policygate_api::contract::MAX_ID_CHARS;

/// The PEM files TLS is served with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain, PEM, leaf first (`--tls-cert`).
    pub cert: PathBuf,
    /// The leaf's private key, PEM (`--tls-key`).
    pub key: PathBuf,
    /// CA certificates, PEM, that client certificates must chain to (`--tls-client-ca`);
    /// `None`: no client certificate is asked for.
    pub client_ca: Option<PathBuf>,
}

/// Which of the TLS files a [`TlsError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsFile {
    /// `--tls-cert`.
    Cert,
    /// `--tls-key`.
    Key,
    /// `--tls-client-ca`.
    ClientCa,
}

impl TlsFile {
    /// The flag naming the file.
    pub fn flag(self) -> &'static str {
        match self {
            TlsFile::Cert => "--tls-cert",
            TlsFile::Key => "--tls-key",
            TlsFile::ClientCa => "--tls-client-ca",
        }
    }
}

/// Why the TLS files were refused: the file, and what is wrong with it and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsError {
    /// Which file.
    pub file: TlsFile,
    /// Its path.
    pub path: PathBuf,
    /// What is wrong, with a fix.
    pub message: String,
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} `{}`: {}",
            self.file.flag(),
            self.path.display(),
            self.message
        )
    }
}

impl std::error::Error for TlsError {}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(file: TlsFile, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError {
        file,
        path: path.to_owned(),
        message: format!(
            "cannot read it ({e}); check the path given to {}",
            file.flag()
        ),
    })
}

fn certificates(file: TlsFile, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(file, path)?;
    let refused = |message: String| TlsError {
        file,
        path: path.to_owned(),
        message,
    };
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            refused(format!(
                "it is not valid PEM ({e}); give a PEM file of `-----BEGIN CERTIFICATE-----` blocks"
            ))
        })?;
    if certs.is_empty() {
        return Err(refused(
            "it holds no certificate; give a PEM file of `-----BEGIN CERTIFICATE-----` blocks"
                .to_owned(),
        ));
    }
    for (index, cert) in certs.iter().enumerate() {
        if let Err(e) = x509_parser::parse_x509_certificate(cert) {
            return Err(refused(format!(
                "certificate {} is not a valid X.509 certificate ({e}); give the PEM certificates as issued",
                index + 1
            )));
        }
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read(TlsFile::Key, path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| TlsError {
        file: TlsFile::Key,
        path: path.to_owned(),
        message: match e {
            rustls_pki_types::pem::Error::NoItemsFound => "it holds no private key; give the PEM key of --tls-cert (`-----BEGIN PRIVATE KEY-----`, `RSA PRIVATE KEY` or `EC PRIVATE KEY`)".to_owned(),
            e => format!("it is not a valid PEM private key ({e}); give the PEM key of --tls-cert"),
        },
    })
}

impl TlsFiles {
    /// Reads and checks the files into a rustls server configuration (HTTP/1.1 over
    /// TLS 1.2 or 1.3; client certificates required when `client_ca` is set).
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let chain = certificates(TlsFile::Cert, &self.cert)?;
        let key = private_key(&self.key)?;
        let builder = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError {
                file: TlsFile::Cert,
                path: self.cert.clone(),
                message: format!("the TLS library refused its defaults ({e})"),
            })?;
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(path) => {
                let refused = |message: String| TlsError {
                    file: TlsFile::ClientCa,
                    path: path.clone(),
                    message,
                };
                let mut roots = rustls::RootCertStore::empty();
                for (index, cert) in certificates(TlsFile::ClientCa, path)?
                    .into_iter()
                    .enumerate()
                {
                    roots.add(cert).map_err(|e| {
                        refused(format!(
                            "certificate {} cannot be a trust anchor ({e}); give the CA certificates that issue the client certificates",
                            index + 1
                        ))
                    })?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                        .build()
                        .map_err(|e| {
                            refused(format!(
                                "no usable CA certificate ({e}); give the CA certificates that issue the client certificates"
                            ))
                        })?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder.with_single_cert(chain, key).map_err(|e| TlsError {
            file: TlsFile::Key,
            path: self.key.clone(),
            message: format!(
                "it cannot be used with the certificate `{}` ({e}); give the private key that belongs to the first certificate of --tls-cert",
                self.cert.display()
            ),
        })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// The TLS configuration being served, swapped on [`Tls::reload`].
#[derive(Debug)]
pub struct Tls {
    files: TlsFiles,
    config: ArcSwap<rustls::ServerConfig>,
}

impl Tls {
    /// Loads `files` (see [`TlsFiles::server_config`]).
    pub fn load(files: TlsFiles) -> Result<Tls, TlsError> {
        let config = files.server_config()?;
        Ok(Tls {
            config: ArcSwap::new(config),
            files,
        })
    }

    /// The files served.
    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    /// Whether clients must present a certificate (mTLS).
    pub fn requires_client_cert(&self) -> bool {
        self.files.client_ca.is_some()
    }

    /// Reads the files again; when all are good, new handshakes use them. On failure
    /// the configuration in use is kept and the error returned.
    pub fn reload(&self) -> Result<(), TlsError> {
        let config = self.files.server_config()?;
        self.config.store(config);
        Ok(())
    }

    /// An acceptor over the configuration active now.
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.config.load_full())
    }

    /// Runs the server side of the handshake on `io` (the accept loop bounds it with
    /// the header read timeout). With mTLS the client's verified identity comes back
    /// with the stream; a client certificate without a usable identity is an error.
    pub async fn accept<IO>(
        &self,
        io: IO,
    ) -> std::io::Result<(tokio_rustls::server::TlsStream<IO>, Option<Arc<str>>)>
    where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let stream = self.acceptor().accept(io).await?;
        let identity = match stream.get_ref().1.peer_certificates() {
            None => None,
            Some(chain) => {
                let leaf = chain.first().ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::PermissionDenied,
                        "the client sent an empty certificate chain",
                    )
                })?;
                let id = identity_of(leaf).map_err(|reason| {
                    std::io::Error::new(std::io::ErrorKind::PermissionDenied, reason)
                })?;
                Some(Arc::from(id))
            }
        };
        Ok((stream, identity))
    }
}

/// The accept loop's handshake for TLS listeners: the TLS handshake, then the
/// client's identity as the connection's [`Peer`].
#[derive(Debug, Clone)]
pub(crate) struct TlsHandshake(pub(crate) Arc<Tls>);

impl<S> Handshake<S> for TlsHandshake
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    type Io = tokio_rustls::server::TlsStream<S>;

    async fn handshake(&self, stream: S) -> std::io::Result<(Self::Io, Peer)> {
        let (stream, identity) = self.0.accept(stream).await?;
        Ok((stream, Peer { identity }))
    }
}

/// The identity a client certificate names: its first URI SAN, else its first DNS
/// SAN, else its subject's first common name. Refused when there is none, or it is
/// empty, longer than [`MAX_IDENTITY_CHARS`] or holds control characters.
pub fn identity_of(cert: &CertificateDer<'_>) -> Result<String, String> {
    use x509_parser::extensions::GeneralName;
    let (_, parsed) = x509_parser::parse_x509_certificate(cert)
        .map_err(|e| format!("the client certificate cannot be read ({e})"))?;
    let sans = parsed.subject_alternative_name().map_err(|e| {
        format!("the client certificate's subject alternative names cannot be read ({e})")
    })?;
    let names = sans
        .map(|ext| ext.value.general_names.as_slice())
        .unwrap_or(&[]);
    let uri = names.iter().find_map(|n| match n {
        GeneralName::URI(u) => Some(*u),
        _ => None,
    });
    let dns = names.iter().find_map(|n| match n {
        GeneralName::DNSName(d) => Some(*d),
        _ => None,
    });
    let id = match uri.or(dns) {
        Some(id) => id.to_owned(),
        None => match parsed.subject().iter_common_name().next() {
            Some(cn) => cn
                .as_str()
                .map_err(|e| format!("the client certificate's common name is not text ({e})"))?
                .to_owned(),
            None => {
                return Err(
                    "the client certificate names no URI or DNS subject alternative name and no common name"
                        .to_owned(),
                );
            }
        },
    };
    if id.is_empty() || id.chars().count() > MAX_IDENTITY_CHARS || id.chars().any(char::is_control)
    {
        return Err(format!(
            "the client certificate's identity is empty, longer than {MAX_IDENTITY_CHARS} characters or holds control characters"
        ));
    }
    Ok(id)
}

#[cfg(test)]
mod tests;
