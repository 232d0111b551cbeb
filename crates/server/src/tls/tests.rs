use super::*;
use policygate_testkit::tls::{CertKey, Name, Pki};
use rustls_pki_types::ServerName;

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir =
            std::env::temp_dir().join(format!("policygate-tls-unit-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn files(dir: &Dir, pki: &Pki, client_ca: bool) -> TlsFiles {
    let (cert, key) = pki.server().write(&dir.0, "server");
    TlsFiles {
        cert,
        key,
        client_ca: client_ca.then(|| pki.write_ca(&dir.0, "client-ca")),
    }
}

fn der(pem: &str) -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
}

#[test]
fn identity_is_the_first_uri_san_else_the_first_dns_san_else_the_common_name() {
    let pki = Pki::new("unit CA");
    let spiffe = "spiffe://example.org/ns/prod/sa/billing";
    let id = |name| identity_of(&der(&pki.client(name).cert_pem)).unwrap();
    assert_eq!(id(Name::Uri(spiffe)), spiffe);
    assert_eq!(id(Name::Dns("billing.internal")), "billing.internal");
    assert_eq!(id(Name::Cn("billing-svc")), "billing-svc");

    // Both kinds of SAN, DNS first in the certificate: the URI still wins; of two
    // URIs, the first.
    let mut params = rcgen::CertificateParams::default();
    params.subject_alt_names = vec![
        rcgen::SanType::DnsName("dns.example".try_into().unwrap()),
        rcgen::SanType::URI("spiffe://a/first".try_into().unwrap()),
        rcgen::SanType::URI("spiffe://a/second".try_into().unwrap()),
    ];
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    assert_eq!(identity_of(cert.der()).unwrap(), "spiffe://a/first");

    // No SAN and no common name: no identity.
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    let cert = params.self_signed(&key).unwrap();
    let err = identity_of(cert.der()).unwrap_err();
    assert!(err.contains("no common name"), "{err}");

    // Longer than `caller.id` may be.
    let long = format!("spiffe://example.org/{}", "a".repeat(MAX_IDENTITY_CHARS));
    let err = identity_of(&der(&pki.client(Name::Uri(&long)).cert_pem)).unwrap_err();
    assert!(err.contains("longer than 256"), "{err}");
}

#[test]
fn good_files_load_with_and_without_a_client_ca() {
    let dir = Dir::new("good");
    let pki = Pki::new("unit CA");
    let tls = Tls::load(files(&dir, &pki, false)).unwrap();
    assert!(!tls.requires_client_cert());
    let tls = Tls::load(files(&dir, &pki, true)).unwrap();
    assert!(tls.requires_client_cert());
    assert_eq!(
        tls.acceptor().config().alpn_protocols,
        vec![b"http/1.1".to_vec()]
    );
}

#[test]
fn bad_files_are_refused_naming_the_file_and_the_fix() {
    let dir = Dir::new("bad");
    let pki = Pki::new("unit CA");
    let good = files(&dir, &pki, true);

    let missing = TlsFiles {
        cert: dir.0.join("missing.crt"),
        ..good.clone()
    };
    let err = missing.server_config().unwrap_err();
    assert_eq!(err.file, TlsFile::Cert);
    let shown = err.to_string();
    assert!(shown.starts_with("--tls-cert `"), "{shown}");
    assert!(
        shown.contains("missing.crt") && shown.contains("check the path"),
        "{shown}"
    );

    // A key file given as the certificate: no certificate in it.
    let swapped = TlsFiles {
        cert: good.key.clone(),
        ..good.clone()
    };
    let err = swapped.server_config().unwrap_err();
    assert_eq!(err.file, TlsFile::Cert);
    assert!(
        err.message.contains("holds no certificate"),
        "{}",
        err.message
    );

    // The certificate given as the key.
    let no_key = TlsFiles {
        key: good.cert.clone(),
        ..good.clone()
    };
    let err = no_key.server_config().unwrap_err();
    assert_eq!(err.file, TlsFile::Key);
    assert!(
        err.message.contains("holds no private key"),
        "{}",
        err.message
    );

    // Another certificate's key.
    let other: CertKey = pki.server();
    let (_, other_key) = other.write(&dir.0, "other");
    let mismatch = TlsFiles {
        key: other_key,
        ..good.clone()
    };
    let err = mismatch.server_config().unwrap_err();
    assert_eq!(err.file, TlsFile::Key);
    assert!(
        err.message.contains("belongs to the first certificate"),
        "{}",
        err.message
    );

    // A client CA file with no certificate.
    let empty = dir.0.join("empty.crt");
    std::fs::write(&empty, "not pem at all\n").unwrap();
    let no_ca = TlsFiles {
        client_ca: Some(empty),
        ..good.clone()
    };
    let err = no_ca.server_config().unwrap_err();
    assert_eq!(err.file, TlsFile::ClientCa);
    assert!(err.to_string().starts_with("--tls-client-ca `"), "{err}");

    // A PEM block that is no certificate.
    let garbage = dir.0.join("garbage.crt");
    std::fs::write(
        &garbage,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let err = TlsFiles {
        cert: garbage,
        ..good
    }
    .server_config()
    .unwrap_err();
    assert_eq!(err.file, TlsFile::Cert);
    assert!(err.message.contains("not a valid X.509"), "{}", err.message);
}

#[test]
fn reload_swaps_good_files_in_and_keeps_the_old_config_on_bad_ones() {
    let dir = Dir::new("reload");
    let pki = Pki::new("unit CA");
    let files = files(&dir, &pki, false);
    let tls = Tls::load(files.clone()).unwrap();
    let first = tls.config.load_full();

    std::fs::write(&files.cert, "garbage").unwrap();
    let err = tls.reload().unwrap_err();
    assert_eq!(err.file, TlsFile::Cert);
    assert!(
        Arc::ptr_eq(&first, &tls.config.load_full()),
        "a bad file must not be swapped in"
    );

    pki.server().write(&dir.0, "server");
    tls.reload().unwrap();
    assert!(
        !Arc::ptr_eq(&first, &tls.config.load_full()),
        "good files are swapped in"
    );
}

fn client_config(ca: &Pki, cert: Option<&CertKey>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der(&ca.ca_pem())).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match cert {
        None => builder.with_no_client_auth(),
        Some(c) => builder
            .with_client_auth_cert(
                vec![der(&c.cert_pem)],
                PrivateKeyDer::from_pem_slice(c.key_pem.as_bytes()).unwrap(),
            )
            .unwrap(),
    };
    Arc::new(config)
}

/// A handshake over an in-memory pipe: the server's outcome (identity or error).
async fn handshake(
    tls: &Tls,
    client: Arc<rustls::ClientConfig>,
) -> std::io::Result<Option<Arc<str>>> {
    let (server_io, client_io) = tokio::io::duplex(64 * 1024);
    let connector = tokio_rustls::TlsConnector::from(client);
    let name = ServerName::try_from("localhost").unwrap();
    let client = tokio::spawn(async move {
        // The client's view does not matter here; a refused TLS 1.3 client learns it
        // only on its first read.
        if let Ok(mut s) = connector.connect(name, client_io).await {
            use tokio::io::AsyncReadExt;
            let mut buf = [0_u8; 1];
            let _ = s.read(&mut buf).await;
        }
    });
    let outcome = tls.accept(server_io).await.map(|(_, id)| id);
    client.abort();
    outcome
}

#[tokio::test]
async fn mtls_handshakes_yield_the_identity_and_refuse_missing_or_foreign_certificates() {
    let dir = Dir::new("mtls");
    let pki = Pki::new("unit CA");
    let tls = Tls::load(files(&dir, &pki, true)).unwrap();
    let spiffe = "spiffe://example.org/ns/prod/sa/billing";

    let good = pki.client(Name::Uri(spiffe));
    let id = handshake(&tls, client_config(&pki, Some(&good)))
        .await
        .unwrap();
    assert_eq!(id.as_deref(), Some(spiffe));

    let err = handshake(&tls, client_config(&pki, None))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no certificates"), "{err}");

    let other = Pki::new("another CA");
    let foreign = other.client(Name::Uri(spiffe));
    let err = handshake(&tls, client_config(&pki, Some(&foreign)))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");

    // Without a client CA no certificate is asked for and there is no identity.
    let plain = Tls::load(files(&dir, &pki, false)).unwrap();
    let id = handshake(&plain, client_config(&pki, Some(&good)))
        .await
        .unwrap();
    assert_eq!(id, None);
}
