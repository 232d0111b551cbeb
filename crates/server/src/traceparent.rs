//! W3C Trace Context: the `traceparent` header, parsed only to copy its trace id and
//! parent span id into the audit event.
//!
//! PolicyGate does not take part in tracing (it starts no spans of its own on the
//! wire); it records which trace a decision belongs to. A header that does not follow
//! <https://www.w3.org/TR/trace-context/#traceparent-header> is ignored, never refused:
//! tracing is best-effort and must not turn a decision into an error.

use axum::http::HeaderMap;

/// The ids carried by a valid `traceparent` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TraceParent {
    /// 32 lowercase hex digits, not all zero.
    pub(crate) trace_id: String,
    /// 16 lowercase hex digits, not all zero.
    pub(crate) span_id: String,
}

/// Reads `traceparent` from the headers; `None` when absent, repeated or invalid.
pub(crate) fn from_headers(headers: &HeaderMap) -> Option<TraceParent> {
    let mut values = headers.get_all("traceparent").iter();
    let value = values.next()?;
    if values.next().is_some() {
        // The spec says a vendor receiving several traceparent headers must restart
        // the trace: we simply record none.
        return None;
    }
    parse(value.to_str().ok()?)
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Parses `version-traceid-parentid-flags`.
pub(crate) fn parse(value: &str) -> Option<TraceParent> {
    let value = value.trim_matches(|c| c == ' ' || c == '\t');
    let version = value.get(0..2)?;
    let trace_id = value.get(3..35)?;
    let span_id = value.get(36..52)?;
    let flags = value.get(53..55)?;
    let dashes_ok = value.as_bytes().get(2) == Some(&b'-')
        && value.as_bytes().get(35) == Some(&b'-')
        && value.as_bytes().get(52) == Some(&b'-');
    if !dashes_ok
        || !is_lower_hex(version)
        || !is_lower_hex(trace_id)
        || !is_lower_hex(span_id)
        || !is_lower_hex(flags)
        || version == "ff"
    {
        return None;
    }
    let rest = value.get(55..)?;
    // Version 00 has exactly four fields; later versions may append `-...` fields.
    if (version == "00" && !rest.is_empty()) || (!rest.is_empty() && !rest.starts_with('-')) {
        return None;
    }
    if trace_id.bytes().all(|b| b == b'0') || span_id.bytes().all(|b| b == b'0') {
        return None;
    }
    Some(TraceParent {
        trace_id: trace_id.to_owned(),
        span_id: span_id.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn parses_the_spec_example() {
        let t = parse(VALID).unwrap();
        assert_eq!(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(t.span_id, "00f067aa0ba902b7");
    }

    #[test]
    fn future_versions_may_append_fields() {
        assert!(parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra").is_some());
        assert!(parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x").is_none());
        assert!(parse(&format!("{VALID}-extra")).is_none());
    }

    #[test]
    fn rejects_malformed_values() {
        for bad in [
            "",
            "00",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-é1",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn repeated_headers_are_ignored() {
        let mut headers = HeaderMap::new();
        headers.append("traceparent", VALID.parse().unwrap());
        assert!(from_headers(&headers).is_some());
        headers.append("traceparent", VALID.parse().unwrap());
        assert!(from_headers(&headers).is_none());
    }
}
