//! W3C Trace Context: the `traceparent` header value, one parser for the PDP (which
//! records the ids in its audit event) and the PEP (which forwards the header).
//!
//! The rules are those of <https://www.w3.org/TR/trace-context/#traceparent-header>:
//! `version-traceid-parentid-flags` in lowercase hex of 2, 32, 16 and 2 digits; version
//! `ff` is invalid; an all-zero trace id or parent id is invalid; version `00` has
//! exactly these four fields, while a later version may append `-`-separated fields,
//! which are ignored. Optional whitespace (spaces, tabs) around the value is allowed.
//! A value that breaks a rule is not a `TraceParent`: callers ignore it, never refuse
//! the request, because tracing must not change a decision.

/// The ids of a valid `traceparent` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceParent {
    /// The trace id: 32 lowercase hex digits, not all zero.
    pub trace_id: String,
    /// The parent (span) id: 16 lowercase hex digits, not all zero.
    pub span_id: String,
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl TraceParent {
    /// Parses a `traceparent` value; `None` when it breaks any rule of the module doc.
    pub fn parse(value: &str) -> Option<TraceParent> {
        let value = TraceParent::trim(value);
        let version = value.get(0..2)?;
        let trace_id = value.get(3..35)?;
        let span_id = value.get(36..52)?;
        let flags = value.get(53..55)?;
        let bytes = value.as_bytes();
        let dashes_ok = bytes.get(2) == Some(&b'-')
            && bytes.get(35) == Some(&b'-')
            && bytes.get(52) == Some(&b'-');
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

    /// `value` without the optional whitespace around it (what a forwarder sends on).
    pub fn trim(value: &str) -> &str {
        value.trim_matches(|c| c == ' ' || c == '\t')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn parse(value: &str) -> Option<TraceParent> {
        TraceParent::parse(value)
    }

    #[test]
    fn parses_the_spec_example() {
        let t = parse(VALID).unwrap();
        assert_eq!(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(t.span_id, "00f067aa0ba902b7");
        // Any flags; optional whitespace around the value.
        assert!(parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff").is_some());
        assert_eq!(parse(&format!(" \t{VALID} ")), Some(t));
        assert_eq!(TraceParent::trim(&format!(" \t{VALID} ")), VALID);
    }

    #[test]
    fn future_versions_may_append_fields() {
        assert!(parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra").is_some());
        assert!(parse("fe-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").is_some());
        assert!(parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x").is_none());
        assert!(parse(&format!("{VALID}-extra")).is_none());
    }

    #[test]
    fn version_ff_is_invalid() {
        assert_eq!(
            parse("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            None
        );
        assert_eq!(
            parse("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"),
            None
        );
    }

    #[test]
    fn all_zero_ids_are_invalid() {
        assert_eq!(
            parse("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
            None
        );
        assert_eq!(
            parse("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"),
            None
        );
        // One non-zero digit is enough.
        assert!(parse("00-00000000000000000000000000000001-0000000000000001-00").is_some());
    }

    #[test]
    fn rejects_malformed_values() {
        for bad in [
            "",
            "00",
            "00-abc-def-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
            "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-é1",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nx: y",
            "\u{e9}0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
