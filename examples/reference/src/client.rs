//! A tiny HTTP client of the reference service, for the `reference-client` binary and
//! the end-to-end tests. Not part of the enforcement: any HTTP client will do.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

/// A service answer: status and JSON body (`null` when the body is not JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The body.
    pub body: Value,
}

/// A client of the reference service at `base_url` (e.g. `http://127.0.0.1:8080`).
#[derive(Debug, Clone)]
pub struct ServiceClient {
    base_url: String,
    http: Client<HttpConnector, Full<Bytes>>,
}

impl ServiceClient {
    /// A client of the service at `base_url`.
    pub fn new(base_url: impl Into<String>) -> ServiceClient {
        ServiceClient {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            http: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// `POST /summarise`.
    pub async fn summarise(
        &self,
        document_id: &str,
        max_tokens: Option<u32>,
        user_id: Option<&str>,
    ) -> Result<Answer, String> {
        let mut body = json!({"document_id": document_id});
        if let Some(n) = max_tokens {
            body["max_tokens"] = n.into();
        }
        let mut request = http::Request::post(format!("{}/summarise", self.base_url))
            .header("content-type", "application/json");
        if let Some(user) = user_id {
            request = request.header("x-user-id", user);
        }
        let request = request
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| format!("cannot build the request: {e}"))?;
        self.send(request).await
    }

    /// `GET /documents/{id}`.
    pub async fn read(&self, document_id: &str) -> Result<Answer, String> {
        self.get(&format!("/documents/{document_id}")).await
    }

    /// `GET <path>`.
    pub async fn get(&self, path: &str) -> Result<Answer, String> {
        let request = http::Request::get(format!("{}{path}", self.base_url))
            .body(Full::new(Bytes::new()))
            .map_err(|e| format!("cannot build the request: {e}"))?;
        self.send(request).await
    }

    async fn send(&self, request: http::Request<Full<Bytes>>) -> Result<Answer, String> {
        let response = self
            .http
            .request(request)
            .await
            .map_err(|e| format!("cannot reach the service at {}: {e}", self.base_url))?;
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("the answer was cut off: {e}"))?
            .to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Answer { status, body })
    }
}
