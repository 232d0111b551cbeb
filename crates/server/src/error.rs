//! `ApiError`: every non-2xx answer of the service, rendered as the contract's error body.
//!
//! Handlers never build error responses by hand: they return an [`ApiError`], whose
//! [`IntoResponse`] picks the status from the stable [`ErrorCode`] and writes
//! `{"error": {...}}` exactly as `contracts/error.schema.json` describes. The message
//! is for people and never carries internal detail (paths, panics, I/O errors): those
//! are logged by the caller of [`ApiError::new`] and stay on stderr.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use policygate_api::{ErrorBody, ErrorCode, Problem};

/// An error answer: a stable code, a one-line message, and the contract problems (422).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) code: ErrorCode,
    pub(crate) message: String,
    pub(crate) details: Vec<Problem>,
    pub(crate) correlation_id: Option<String>,
}

impl ApiError {
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            details: Vec::new(),
            correlation_id: None,
        }
    }

    pub(crate) fn with_details(mut self, details: Vec<Problem>) -> ApiError {
        self.details = details;
        self
    }

    pub(crate) fn with_correlation_id(mut self, id: String) -> ApiError {
        self.correlation_id = Some(id);
        self
    }

    pub(crate) fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub(crate) fn not_found() -> ApiError {
        ApiError::new(
            ErrorCode::NotFound,
            "no such endpoint; the service answers POST /evaluate, GET /health, GET /ready, GET /version, GET /metrics and GET /openapi.json",
        )
    }

    pub(crate) fn method_not_allowed() -> ApiError {
        ApiError::new(
            ErrorCode::MethodNotAllowed,
            "method not allowed on this endpoint; the `Allow` header lists the accepted methods",
        )
    }

    pub(crate) fn unauthorized() -> ApiError {
        ApiError::new(
            ErrorCode::Unauthorized,
            "missing or unknown bearer token; send `Authorization: Bearer <token>` with a token from the service's tokens file",
        )
    }

    pub(crate) fn internal() -> ApiError {
        ApiError::new(
            ErrorCode::Internal,
            "internal error in PolicyGate; the request was not decided (see the service's logs)",
        )
    }

    /// What hyper refuses to parse: a garbage request line, a bad header or
    /// `Content-Length`.
    pub(crate) fn malformed() -> ApiError {
        ApiError::new(
            ErrorCode::BadRequest,
            "malformed HTTP request (request line, header syntax or message framing such as Content-Length); send a well-formed HTTP/1.1 request",
        )
    }

    pub(crate) fn missing_host() -> ApiError {
        ApiError::new(
            ErrorCode::BadRequest,
            "HTTP/1.1 request without a `Host` header; send `Host: <the service's host>`",
        )
    }

    pub(crate) fn uri_too_long() -> ApiError {
        ApiError::new(
            ErrorCode::UriTooLong,
            format!(
                "request target longer than {} bytes; the service's paths are short and take no query parameters",
                crate::conn::MAX_URI_BYTES
            ),
        )
    }

    pub(crate) fn headers_too_large() -> ApiError {
        ApiError::new(
            ErrorCode::HeadersTooLarge,
            format!(
                "request header section too large (over {} bytes or {} fields); send fewer or smaller headers",
                crate::conn::MAX_HEADER_BYTES,
                crate::conn::MAX_HEADERS
            ),
        )
    }

    /// A complete HTTP/1.1 response with this error's body that closes the
    /// connection, for the connection layer to write in place of the HTTP library's
    /// bodyless answers.
    pub(crate) fn raw_response(&self) -> Vec<u8> {
        let status = self.status();
        let body = self.body_bytes();
        let mut out = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or(""),
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(&body);
        out
    }

    /// The error body.
    pub(crate) fn body(&self) -> ErrorBody {
        ErrorBody::new(
            self.code,
            self.message.clone(),
            self.correlation_id.clone(),
            self.details.clone(),
        )
    }

    /// The JSON bytes of the error body.
    pub(crate) fn body_bytes(&self) -> Vec<u8> {
        let body = self.body();
        // Serialising a struct of strings into a Vec cannot fail; keep a fixed fallback
        // anyway so that no path can answer without a contract body.
        serde_json::to_vec(&body).unwrap_or_else(|_| {
            br#"{"error":{"code":"internal","message":"internal error in PolicyGate"}}"#.to_vec()
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            self.body_bytes(),
        )
            .into_response();
        if self.code == ErrorCode::Unauthorized {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"policygate\""),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_gets_its_status_and_a_contract_body() {
        for code in ErrorCode::ALL {
            let err = ApiError::new(code, "m").with_correlation_id("c".into());
            assert_eq!(err.status().as_u16(), code.http_status());
            let body: ErrorBody = serde_json::from_slice(&err.body_bytes()).unwrap();
            assert_eq!(body.error.code, code);
            assert_eq!(body.error.correlation_id.as_deref(), Some("c"));
        }
    }

    #[test]
    fn unauthorized_carries_a_challenge() {
        let response = ApiError::unauthorized().into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers().get(header::WWW_AUTHENTICATE).unwrap(),
            "Bearer realm=\"policygate\""
        );
    }
}
