//! W3C Trace Context: the `traceparent` header, read only to copy its trace id and
//! parent span id into the audit event.
//!
//! PolicyGate does not take part in tracing (it starts no spans of its own on the
//! wire); it records which trace a decision belongs to. The value's rules are
//! [`policygate_api::TraceParent`]'s; a header that breaks them is ignored, never
//! refused: tracing is best-effort and must not turn a decision into an error.

use axum::http::HeaderMap;
pub(crate) use policygate_api::TraceParent;

/// Reads `traceparent` from the headers; `None` when absent, repeated or invalid.
pub(crate) fn from_headers(headers: &HeaderMap) -> Option<TraceParent> {
    let mut values = headers.get_all("traceparent").iter();
    let value = values.next()?;
    if values.next().is_some() {
        // The spec says a vendor receiving several traceparent headers must restart
        // the trace: we simply record none.
        return None;
    }
    TraceParent::parse(value.to_str().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn repeated_headers_are_ignored() {
        let mut headers = HeaderMap::new();
        headers.append("traceparent", VALID.parse().unwrap());
        assert!(from_headers(&headers).is_some());
        headers.append("traceparent", VALID.parse().unwrap());
        assert!(from_headers(&headers).is_none());
    }

    #[test]
    fn invalid_headers_are_ignored() {
        let mut headers = HeaderMap::new();
        headers.append(
            "traceparent",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
                .parse()
                .unwrap(),
        );
        assert!(from_headers(&headers).is_none());
    }
}
