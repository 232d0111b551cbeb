//! The error body every non-2xx answer carries.

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

/// One contract problem: where (a JSON pointer into the request) and what.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Problem {
    /// JSON pointer (RFC 6901) to the offending value; empty for the whole document.
    pub path: String,
    /// What is wrong, in one line.
    pub message: String,
}

impl Problem {
    /// A problem at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            path: path.into(),
            message: message.into(),
        }
    }

    /// A one-line summary of a list of problems: how many, then the first. The count
    /// comes first so that it is never read as part of the first problem's message
    /// (which may itself list field names).
    pub fn summary(problems: &[Problem]) -> String {
        match problems {
            [] => "request does not satisfy the contract".to_owned(),
            [one] => one.to_string(),
            [first, ..] => format!(
                "{} problems with the request (each in `details`); the first: {first}",
                problems.len()
            ),
        }
    }
}

impl Serialize for Problem {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("path", &self.path)?;
        m.serialize_entry("message", &self.message)?;
        m.end()
    }
}

/// The JSON pointer of `key` inside the value at `parent` (RFC 6901 escaping).
pub(crate) fn child(parent: &str, key: &str) -> String {
    let escaped = key.replace('~', "~0").replace('/', "~1");
    format!("{parent}/{escaped}")
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = if self.path.is_empty() {
            "/"
        } else {
            self.path.as_str()
        };
        write!(f, "{shown}: {}", self.message)
    }
}

/// Stable, machine-readable error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Body is not JSON (400).
    InvalidJson,
    /// Body breaks the contract (422).
    InvalidRequest,
    /// Body over the size limit (413).
    PayloadTooLarge,
    /// Missing or wrong credentials (401).
    Unauthorized,
    /// Not `application/json` (415).
    UnsupportedMediaType,
    /// No such path (404).
    NotFound,
    /// Wrong method (405).
    MethodNotAllowed,
    /// The service cannot decide right now, e.g. the audit sink failed (503).
    Unavailable,
    /// A fault of PolicyGate itself (500).
    Internal,
    /// A malformed HTTP request: bad request line, header or framing, or no `Host`
    /// on HTTP/1.1 (400).
    BadRequest,
    /// Request target over the service's limit (414).
    UriTooLong,
    /// Header section over the service's limits (431).
    HeadersTooLarge,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: [ErrorCode; 12] = [
        ErrorCode::InvalidJson,
        ErrorCode::InvalidRequest,
        ErrorCode::PayloadTooLarge,
        ErrorCode::Unauthorized,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
        ErrorCode::BadRequest,
        ErrorCode::UriTooLong,
        ErrorCode::HeadersTooLarge,
    ];

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::UriTooLong => "uri_too_long",
            ErrorCode::HeadersTooLarge => "headers_too_large",
        }
    }

    /// The HTTP status that goes with the code.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidJson => 400,
            ErrorCode::InvalidRequest => 422,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::Unauthorized => 401,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::Unavailable => 503,
            ErrorCode::Internal => 500,
            ErrorCode::BadRequest => 400,
            ErrorCode::UriTooLong => 414,
            ErrorCode::HeadersTooLarge => 431,
        }
    }
}

/// `{"error": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The inside of [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ErrorDetail {
    /// Stable code.
    pub code: ErrorCode,
    /// One line for people; never internal detail.
    pub message: String,
    /// The request's correlation id, when one was known or assigned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// One entry per contract problem (422), else empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<Problem>,
}

impl ErrorBody {
    /// An error body.
    pub fn new(
        code: ErrorCode,
        message: impl Into<String>,
        correlation_id: Option<String>,
        details: Vec<Problem>,
    ) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code,
                message: message.into(),
                correlation_id,
                details,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialise_as_documented() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
        assert_eq!(ErrorCode::InvalidRequest.http_status(), 422);
    }

    #[test]
    fn body_shape() {
        let body = ErrorBody::new(
            ErrorCode::InvalidRequest,
            "bad",
            Some("c1".into()),
            vec![Problem::new("/action", "nope")],
        );
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"error":{"code":"invalid_request","message":"bad","correlation_id":"c1","details":[{"path":"/action","message":"nope"}]}}"#
        );
        assert_eq!(Problem::summary(&body.error.details), "/action: nope");
    }

    /// Issue 12: "(and N more problems)" glued to a message that lists field names
    /// read as if the fields were the problems.
    #[test]
    fn summary_of_several_problems_counts_first() {
        let problems = vec![
            Problem::new("", "unknown fields `user`, `tenant`"),
            Problem::new("/action", "missing"),
            Problem::new("/env", "missing"),
        ];
        assert_eq!(
            Problem::summary(&problems),
            "3 problems with the request (each in `details`); the first: /: unknown fields `user`, `tenant`"
        );
        assert!(!Problem::summary(&problems).contains("more problem"));
    }
}
