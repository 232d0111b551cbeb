//! The PDP client: one `POST /evaluate` per decision, bounded in time, failing closed.
//!
//! It keeps a pool of HTTP/1.1 connections (reused across calls), enforces one deadline
//! over the whole call (connecting, retries, sending and reading), and retries only when
//! a connection could not be *established*: once a request may have reached the PDP it is
//! never sent again, so no evaluation (and no audit event) is duplicated. It never
//! returns a decision that did not pass the checks of `response.rs`; [`PdpClient::decide`]
//! turns every failure into a BLOCK.

use crate::builder::IntoEvaluateRequest;
use crate::decision::Decision;
use crate::error::PepError;
use crate::response::{decision_from_body, error_status};
use crate::transport::{Connector, Pem, TlsClient};
use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use policygate_api::{EvaluateRequest, TraceParent};
use std::fmt;
use std::time::Duration;

/// Default per-call deadline.
pub const DEFAULT_DEADLINE: Duration = Duration::from_millis(500);
/// Default number of retries after a failed connection attempt.
pub const DEFAULT_MAX_RETRIES: u32 = 2;
/// Largest PDP answer read, in bytes; a larger one is refused as invalid.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// The pause before the first retry; it doubles for each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(10);

/// Per-call options.
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    /// A W3C `traceparent` to forward to the PDP. A value that is not a well-formed
    /// `traceparent` (see [`policygate_api::TraceParent`]: `00-<32 hex>-<16 hex>-<2 hex>`,
    /// no all-zero ids, not version `ff`) is not sent: tracing must never change a
    /// decision.
    pub traceparent: Option<String>,
}

impl CallOptions {
    /// Options that forward `traceparent`.
    pub fn with_traceparent(traceparent: impl Into<String>) -> CallOptions {
        CallOptions {
            traceparent: Some(traceparent.into()),
        }
    }
}

/// Builds a [`PdpClient`].
#[derive(Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct PdpClientBuilder {
    base_url: String,
    deadline: Duration,
    max_retries: u32,
    bearer_token: Option<String>,
    tls_roots: Option<Pem>,
    tls_client: Option<(Pem, Pem)>,
}

impl fmt::Debug for PdpClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PdpClientBuilder")
            .field("base_url", &self.base_url)
            .field("deadline", &self.deadline)
            .field("max_retries", &self.max_retries)
            .field(
                "bearer_token",
                &self.bearer_token.as_ref().map(|_| "<redacted>"),
            )
            .field("tls_roots", &self.tls_roots.is_some())
            .field("tls_client_cert", &self.tls_client.is_some())
            .finish()
    }
}

impl PdpClientBuilder {
    /// The deadline of one call, retries included (default 500 ms). Past it, the
    /// decision is BLOCK with `PEP_PDP_TIMEOUT`.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// How many times to retry a failed *connection* (default 2). Other failures are
    /// never retried.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// Sends `Authorization: Bearer <token>` with every call.
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.bearer_token = Some(token.into());
        self
    }

    /// Trusts these CA certificates (PEM) for an `https://` PDP instead of the system's
    /// trust store.
    pub fn tls_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls_roots = Some(Pem::Bytes(pem.into()));
        self
    }

    /// [`tls_ca_pem`](Self::tls_ca_pem) from a file, read by [`build`](Self::build).
    pub fn tls_ca_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.tls_roots = Some(Pem::File(path.into()));
        self
    }

    /// Presents this client certificate chain and private key (both PEM) to an
    /// `https://` PDP that requires one (mTLS, `serve --tls-client-ca`).
    pub fn tls_client_cert_pem(
        mut self,
        cert_chain: impl Into<Vec<u8>>,
        key: impl Into<Vec<u8>>,
    ) -> Self {
        self.tls_client = Some((Pem::Bytes(cert_chain.into()), Pem::Bytes(key.into())));
        self
    }

    /// [`tls_client_cert_pem`](Self::tls_client_cert_pem) from files, read by
    /// [`build`](Self::build).
    pub fn tls_client_cert_files(
        mut self,
        cert_chain: impl Into<std::path::PathBuf>,
        key: impl Into<std::path::PathBuf>,
    ) -> Self {
        self.tls_client = Some((Pem::File(cert_chain.into()), Pem::File(key.into())));
        self
    }

    /// Checks the configuration and builds the client. It does not connect yet (TLS
    /// files are read now).
    pub fn build(self) -> Result<PdpClient, PepError> {
        #[cfg(unix)]
        let socket = self
            .base_url
            .strip_prefix("unix:")
            .map(|p| std::sync::Arc::<std::path::Path>::from(std::path::Path::new(p)));
        #[cfg(not(unix))]
        let socket: Option<()> = self.base_url.strip_prefix("unix:").map(|_| ());
        if socket.is_some() && self.base_url.len() <= "unix:".len() {
            return Err(PepError::config(
                "the PDP url `unix:` names no socket; pass `unix:/path/to/pdp.sock`",
            ));
        }
        #[cfg(not(unix))]
        if socket.is_some() {
            return Err(PepError::config(
                "a `unix:` PDP url needs a Unix system; use `http://host:port`",
            ));
        }
        let base = if socket.is_some() {
            // The socket replaces host and port; requests still name a host.
            "http://localhost"
        } else {
            self.base_url.trim_end_matches('/')
        };
        let url = format!("{base}/evaluate");
        let endpoint: Uri = url.parse().map_err(|e| {
            PepError::config(format!(
                "the PDP url `{}` is not a valid url ({e}); pass a base url such as `http://127.0.0.1:8000`",
                self.base_url
            ))
        })?;
        let https = endpoint.scheme_str() == Some("https");
        if !(https || endpoint.scheme_str() == Some("http")) || endpoint.authority().is_none() {
            return Err(PepError::config(format!(
                "the PDP url `{}` must be an `http://host:port` or `https://host:port` url",
                self.base_url
            )));
        }
        let tls_options = self.tls_roots.is_some() || self.tls_client.is_some();
        if tls_options && !https {
            return Err(PepError::config(format!(
                "TLS options are set but the PDP url `{}` is not `https://`; use an https:// url (or drop the TLS options)",
                self.base_url
            )));
        }
        if endpoint.query().is_some() {
            return Err(PepError::config(format!(
                "the PDP url `{}` must not have a query",
                self.base_url
            )));
        }
        if self.deadline.is_zero() {
            return Err(PepError::config(
                "the deadline is zero; set a positive per-call deadline",
            ));
        }
        let authorization = match self.bearer_token {
            None => None,
            Some(token) => {
                let mut value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                    PepError::config(
                        "the bearer token contains characters not allowed in a header; use the token as issued",
                    )
                })?;
                value.set_sensitive(true);
                Some(value)
            }
        };
        let mut tcp = HttpConnector::new();
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(self.deadline));
        let tcp_or_tls = if https {
            tcp.enforce_http(false);
            let tls = TlsClient::new(self.tls_roots.as_ref(), self.tls_client.as_ref())
                .map_err(PepError::config)?;
            Connector::Tls(tcp, tls)
        } else {
            Connector::Tcp(tcp)
        };
        #[cfg(unix)]
        let connector = match socket {
            Some(path) => Connector::Unix(path),
            None => tcp_or_tls,
        };
        #[cfg(not(unix))]
        let connector = tcp_or_tls;
        let http = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(PdpClient {
            http,
            endpoint,
            deadline: self.deadline,
            max_retries: self.max_retries,
            authorization,
        })
    }
}

/// A client of one PDP's `POST /evaluate`. Cheap to clone: clones share the pool.
///
/// It must be used inside a Tokio runtime (with the time driver enabled).
#[derive(Clone)]
pub struct PdpClient {
    http: Client<Connector, Full<Bytes>>,
    endpoint: Uri,
    deadline: Duration,
    max_retries: u32,
    authorization: Option<HeaderValue>,
}

impl fmt::Debug for PdpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PdpClient")
            .field("endpoint", &self.endpoint)
            .field("deadline", &self.deadline)
            .field("max_retries", &self.max_retries)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl PdpClient {
    /// Starts building a client of the PDP at `base_url`: `http://127.0.0.1:8000`,
    /// `https://pdp.internal:8443` for a PDP serving TLS (`serve --tls-cert`; see
    /// [`tls_ca_pem`](PdpClientBuilder::tls_ca_pem) and
    /// [`tls_client_cert_pem`](PdpClientBuilder::tls_client_cert_pem) for a private CA
    /// and mTLS), or `unix:/run/policygate/pdp.sock` for a PDP listening on a Unix
    /// domain socket (`policygate serve --listen unix:/run/policygate/pdp.sock`).
    pub fn builder(base_url: impl Into<String>) -> PdpClientBuilder {
        PdpClientBuilder {
            base_url: base_url.into(),
            deadline: DEFAULT_DEADLINE,
            max_retries: DEFAULT_MAX_RETRIES,
            bearer_token: None,
            tls_roots: None,
            tls_client: None,
        }
    }

    /// The evaluate endpoint this client calls.
    pub fn endpoint(&self) -> &Uri {
        &self.endpoint
    }

    /// The per-call deadline.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// Asks the PDP; every failure becomes a BLOCK decision from the enforcement point.
    pub async fn decide(&self, request: impl IntoEvaluateRequest) -> Decision {
        self.decide_with(request, &CallOptions::default()).await
    }

    /// [`PdpClient::decide`] with per-call options.
    pub async fn decide_with(
        &self,
        request: impl IntoEvaluateRequest,
        options: &CallOptions,
    ) -> Decision {
        let request = match request.into_request() {
            Ok(r) => r,
            Err(e) => return Decision::from_error(e, None),
        };
        // INVARIANT: `into_request` validated the request; it is not validated twice.
        match self.send_valid(&request, options).await {
            Ok(decision) => decision,
            Err(e) => Decision::from_error(e, request.request_id.clone()),
        }
    }

    /// Asks the PDP and returns its decision, or why there is none that can be trusted.
    ///
    /// The request is checked against the contract first; an invalid one is never sent.
    pub async fn evaluate(
        &self,
        request: &EvaluateRequest,
        options: &CallOptions,
    ) -> Result<Decision, PepError> {
        request
            .validate()
            .map_err(|problems| PepError::InvalidFacts { problems })?;
        self.send_valid(request, options).await
    }

    /// `GET path` on the PDP (`/ready`, `/health`; under the base url's path, as
    /// `/evaluate` is), within the per-call deadline and without retries: the HTTP
    /// status it answers, whatever it is. The bearer token, if set, is sent (`/health`
    /// and `/ready` ignore it; `/metrics` needs it with auth on). The body is not
    /// read. For a service that waits for its PDP before taking traffic, and for
    /// `policygate healthcheck`.
    pub async fn status(&self, path: &str) -> Result<u16, PepError> {
        if !path.starts_with('/') {
            return Err(PepError::config(format!(
                "`{path}` is not a request path; pass one that starts with `/`, such as `/ready`"
            )));
        }
        let base = self
            .endpoint
            .path()
            .strip_suffix("/evaluate")
            .unwrap_or_default();
        let target = format!("{base}{path}");
        let mut parts = self.endpoint.clone().into_parts();
        parts.path_and_query = Some(target.parse().map_err(|e| {
            PepError::config(format!(
                "`{path}` is not a request path ({e}); pass one such as `/ready`"
            ))
        })?);
        let uri = Uri::from_parts(parts)
            .map_err(|e| PepError::config(format!("cannot build the url of `{path}`: {e}")))?;
        let mut builder = Request::builder().method(Method::GET).uri(uri.clone());
        if let Some(auth) = &self.authorization {
            builder = builder.header(AUTHORIZATION, auth.clone());
        }
        let request = builder
            .body(Full::new(Bytes::new()))
            .map_err(|e| PepError::config(format!("cannot build the PDP request: {e}")))?;
        match tokio::time::timeout(self.deadline, self.http.request(request)).await {
            Err(_) => Err(PepError::Timeout {
                deadline: self.deadline,
            }),
            Ok(Err(e)) => Err(transport_error(&e, &uri, 1)),
            Ok(Ok(response)) => Ok(response.status().as_u16()),
        }
    }

    /// Sends a request that has passed `validate`.
    async fn send_valid(
        &self,
        request: &EvaluateRequest,
        options: &CallOptions,
    ) -> Result<Decision, PepError> {
        let body =
            serde_json::to_vec(request)
                .map(Bytes::from)
                .map_err(|e| PepError::InvalidFacts {
                    problems: vec![policygate_api::Problem::new("", e.to_string())],
                })?;
        let traceparent = options
            .traceparent
            .as_deref()
            .filter(|t| is_traceparent(t))
            .and_then(|t| HeaderValue::from_str(TraceParent::trim(t)).ok());
        let call = self.call(body, traceparent, request.request_id.as_deref());
        match tokio::time::timeout(self.deadline, call).await {
            Ok(result) => result,
            Err(_) => Err(PepError::Timeout {
                deadline: self.deadline,
            }),
        }
    }

    async fn call(
        &self,
        body: Bytes,
        traceparent: Option<HeaderValue>,
        request_id: Option<&str>,
    ) -> Result<Decision, PepError> {
        let mut attempt: u32 = 0;
        let response = loop {
            attempt += 1;
            let request = self.http_request(body.clone(), traceparent.clone())?;
            match self.http.request(request).await {
                Ok(response) => break response,
                Err(e) if e.is_connect() && attempt <= self.max_retries => {
                    let backoff = FIRST_BACKOFF.saturating_mul(1 << (attempt - 1).min(6));
                    tokio::time::sleep(backoff).await;
                }
                Err(e) => return Err(transport_error(&e, &self.endpoint, attempt)),
            }
        };
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map(|b| b.to_bytes());
        let body = match body {
            Ok(b) => b,
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                return Err(PepError::invalid_response(format!(
                    "the body is larger than {MAX_RESPONSE_BYTES} bytes"
                )));
            }
            Err(e) => {
                return Err(PepError::Unavailable {
                    url: self.endpoint.to_string(),
                    reason: format!("the answer was cut off: {e}"),
                    attempts: attempt,
                });
            }
        };
        if status != http::StatusCode::OK {
            return Err(error_status(status.as_u16(), &body));
        }
        decision_from_body(&body, request_id)
    }

    fn http_request(
        &self,
        body: Bytes,
        traceparent: Option<HeaderValue>,
    ) -> Result<Request<Full<Bytes>>, PepError> {
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(self.endpoint.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json");
        if let Some(auth) = &self.authorization {
            builder = builder.header(AUTHORIZATION, auth.clone());
        }
        if let Some(tp) = traceparent {
            builder = builder.header("traceparent", tp);
        }
        builder
            .body(Full::new(body))
            .map_err(|e| PepError::config(format!("cannot build the PDP request: {e}")))
    }
}

/// The error for a request to `url` that failed in transport after `attempts`
/// tries: an answer that is not HTTP is an invalid response, anything else means
/// the PDP is unavailable. The one mapping for every request this client sends.
fn transport_error(e: &(dyn std::error::Error + 'static), url: &Uri, attempts: u32) -> PepError {
    if is_parse_error(e) {
        PepError::invalid_response(format!("the answer is not HTTP/1.1: {}", error_chain(e)))
    } else {
        PepError::Unavailable {
            url: url.to_string(),
            reason: error_chain(e),
            attempts,
        }
    }
}

/// Whether the peer answered something that is not an HTTP response.
fn is_parse_error(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(e);
    while let Some(err) = current {
        if let Some(h) = err.downcast_ref::<hyper::Error>() {
            return h.is_parse() || h.is_parse_status();
        }
        current = err.source();
    }
    false
}

/// A transport error with its causes, on one line.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Whether `value` is a well-formed W3C `traceparent` header (the rules of
/// [`policygate_api::TraceParent`], which the PDP applies too).
pub fn is_traceparent(value: &str) -> bool {
    TraceParent::parse(value).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparents_are_checked() {
        assert!(is_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        ));
        assert!(!is_traceparent(
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"
        ));
        assert!(!is_traceparent(
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01"
        ));
        assert!(!is_traceparent("00-abc-def-01"));
        assert!(!is_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nx: y"
        ));
    }

    #[test]
    fn configuration_errors_say_how_to_fix() {
        for bad in [
            "not a url",
            "ftp://pdp:8000",
            "127.0.0.1:8000",
            "http://pdp/?x=1",
        ] {
            let e = PdpClient::builder(bad).build().unwrap_err();
            assert_eq!(e.code(), "PEP_CONFIG_INVALID", "{bad}");
        }
        let e = PdpClient::builder("http://pdp")
            .deadline(Duration::ZERO)
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("positive"), "{e}");
        let e = PdpClient::builder("http://pdp")
            .bearer_token("a\nb")
            .build()
            .unwrap_err();
        assert_eq!(e.code(), "PEP_CONFIG_INVALID");
    }

    #[test]
    fn tls_configuration_errors_say_how_to_fix() {
        let pki = policygate_testkit::tls::Pki::new("pep unit CA");
        let ca = pki.ca_pem();
        let client = pki.client(policygate_testkit::tls::Name::Cn("pep"));
        let message = |b: PdpClientBuilder| {
            let e = b.build().unwrap_err();
            assert_eq!(e.code(), "PEP_CONFIG_INVALID");
            e.to_string()
        };
        let e = message(PdpClient::builder("http://pdp").tls_ca_pem(ca.clone()));
        assert!(e.contains("not `https://`"), "{e}");
        let e = message(PdpClient::builder("https://pdp").tls_ca_pem("no pem here"));
        assert!(e.contains("no `-----BEGIN CERTIFICATE-----`"), "{e}");
        let e = message(PdpClient::builder("https://pdp").tls_ca_file("/nonexistent/ca.pem"));
        assert!(e.contains("/nonexistent/ca.pem"), "{e}");
        let other = pki.client(policygate_testkit::tls::Name::Cn("other"));
        let e = message(
            PdpClient::builder("https://pdp")
                .tls_ca_pem(ca.clone())
                .tls_client_cert_pem(client.cert_pem.clone(), other.key_pem),
        );
        assert!(e.contains("does not fit"), "{e}");
        let c = PdpClient::builder("https://127.0.0.1:8443")
            .tls_ca_pem(ca)
            .tls_client_cert_pem(client.cert_pem, client.key_pem)
            .build()
            .unwrap();
        assert_eq!(c.endpoint().to_string(), "https://127.0.0.1:8443/evaluate");
    }

    #[test]
    fn endpoint_and_debug_output() {
        let c = PdpClient::builder("http://127.0.0.1:8000/")
            .bearer_token("s3cret")
            .build()
            .unwrap();
        assert_eq!(c.endpoint().to_string(), "http://127.0.0.1:8000/evaluate");
        let debug = format!("{c:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
        let c = PdpClient::builder("http://pdp.internal:8000/policygate")
            .build()
            .unwrap();
        assert_eq!(
            c.endpoint().to_string(),
            "http://pdp.internal:8000/policygate/evaluate"
        );
    }
}
