//! Certificates made at test time (none are committed): a [`Pki`] is a fresh
//! certificate authority that issues server and client certificates, written as PEM
//! files for `serve --tls-*` and read back by the PEP client's TLS options.
//!
//! [`Pki::client_config`], [`call`] and [`send`] are the TLS side of the raw HTTP
//! client ([`crate::http`]): the same requests and replies over rustls.
//!
//! Every certificate is ECDSA P-256 (rcgen's default key), valid from a fixed past
//! date to a far future one, so no test depends on today's date.

pub use rustls::ClientConfig;

use crate::http::{self, Reply};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A certificate and its private key, both PEM.
#[derive(Debug, Clone)]
pub struct CertKey {
    /// The certificate (one `CERTIFICATE` block).
    pub cert_pem: String,
    /// Its private key (`PRIVATE KEY`, PKCS#8).
    pub key_pem: String,
}

impl CertKey {
    /// Writes `NAME.crt` and `NAME.key` into `dir` and returns their paths.
    pub fn write(&self, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let cert = dir.join(format!("{name}.crt"));
        let key = dir.join(format!("{name}.key"));
        std::fs::write(&cert, &self.cert_pem).unwrap();
        std::fs::write(&key, &self.key_pem).unwrap();
        (cert, key)
    }
}

/// What a client certificate names.
#[derive(Debug, Clone, Copy)]
pub enum Name<'a> {
    /// A URI SAN, e.g. a SPIFFE ID `spiffe://example.org/ns/prod/sa/billing`.
    Uri(&'a str),
    /// A DNS SAN.
    Dns(&'a str),
    /// Only the subject's common name (no SAN at all).
    Cn(&'a str),
}

/// A test certificate authority.
#[derive(Debug)]
pub struct Pki {
    ca: CertifiedIssuer<'static, KeyPair>,
}

fn validity(params: &mut CertificateParams) {
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2090, 1, 1);
}

impl Pki {
    /// A new CA whose subject CN is `name`.
    pub fn new(name: &str) -> Pki {
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        validity(&mut params);
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Pki { ca }
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> String {
        self.ca.pem()
    }

    /// Writes the CA certificate as `NAME.crt` into `dir`.
    pub fn write_ca(&self, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(format!("{name}.crt"));
        std::fs::write(&path, self.ca_pem()).unwrap();
        path
    }

    /// A server certificate for `localhost` and `127.0.0.1`.
    pub fn server(&self) -> CertKey {
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, "policygate test server");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(params)
    }

    /// A client certificate naming `name`.
    pub fn client(&self, name: Name<'_>) -> CertKey {
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        match name {
            Name::Uri(uri) => {
                dn.push(DnType::CommonName, "uri-client");
                params.subject_alt_names = vec![SanType::URI(uri.try_into().unwrap())];
            }
            Name::Dns(dns) => {
                dn.push(DnType::CommonName, "dns-client");
                params.subject_alt_names = vec![SanType::DnsName(dns.try_into().unwrap())];
            }
            Name::Cn(cn) => dn.push(DnType::CommonName, cn),
        }
        params.distinguished_name = dn;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(params)
    }

    fn issue(&self, mut params: CertificateParams) -> CertKey {
        validity(&mut params);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.ca).unwrap();
        CertKey {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

fn der(pem: &str) -> rustls::pki_types::CertificateDer<'static> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
}

impl Pki {
    /// A TLS client configuration that trusts this CA and presents `cert` (mTLS), if any.
    pub fn client_config(&self, cert: Option<&CertKey>) -> Arc<rustls::ClientConfig> {
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        roots.add(der(&self.ca_pem())).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let config = match cert {
            None => builder.with_no_client_auth(),
            Some(c) => builder
                .with_client_auth_cert(
                    vec![der(&c.cert_pem)],
                    rustls::pki_types::PrivateKeyDer::from_pem_slice(c.key_pem.as_bytes()).unwrap(),
                )
                .unwrap(),
        };
        Arc::new(config)
    }
}

/// Sends `raw` over TLS (server name `localhost`) on a new connection and reads the
/// answer to its end (blocking). A handshake the server refuses is an error whose
/// text names the TLS alert (with TLS 1.3 a refused client certificate shows on the
/// first read, so the error comes from reading).
pub fn send(addr: SocketAddr, config: &Arc<rustls::ClientConfig>, raw: &[u8]) -> io::Result<Reply> {
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(Arc::clone(config), name).map_err(io::Error::other)?;
    let tcp = TcpStream::connect_timeout(&addr, http::TIMEOUT)?;
    tcp.set_read_timeout(Some(http::TIMEOUT))?;
    tcp.set_write_timeout(Some(http::TIMEOUT))?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(raw)?;
    tls.flush()?;
    let mut answer = Vec::new();
    match tls.read_to_end(&mut answer) {
        Ok(_) => {}
        // A server that closes without close_notify after a whole answer.
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && !answer.is_empty() => {}
        Err(e) => return Err(e),
    }
    http::parse_reply(&answer)
}

/// One exchange over TLS (blocking): [`http::request`] then [`send`].
pub fn call(
    addr: SocketAddr,
    config: &Arc<rustls::ClientConfig>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> io::Result<Reply> {
    send(
        addr,
        config,
        &http::request(method, path, headers, body.as_bytes()),
    )
}
