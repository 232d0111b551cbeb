//! The request contract, defined once: every field rule and limit of EvaluateRequest v1
//! (lengths, patterns, enumerations, signal limits) and the bounds of `OUTPUT_CAP`.
//!
//! Everything that checks or describes a request reads its rules from here: the one-pass
//! fast path (`fast.rs`), the `Value` walk (`walk.rs`), the typed check behind
//! [`EvaluateRequest::validate`](crate::EvaluateRequest::validate), `core`'s policy
//! checks (a literal a request can never carry is refused), the PEP's request builder and
//! obligation checks, and the JSON Schemas generated from the `api` types. Messages that
//! quote a pattern quote these constants, so a rule and its description cannot drift
//! apart. It depends only on the closed vocabularies of `domain.rs`.

use crate::domain::{Action, Sensitivity};

/// Longest `request_id`, in characters.
pub const MAX_REQUEST_ID_CHARS: usize = 128;
/// Most requests in one `POST /evaluate/batch` body.
pub const MAX_BATCH_REQUESTS: usize = 256;
/// Longest `resource.id` / `subject.id`, in characters.
pub const MAX_ID_CHARS: usize = 256;
/// Most keys in `signals`.
pub const MAX_SIGNALS: usize = 50;
/// Longest string signal (or list item), in characters.
pub const MAX_SIGNAL_STRING_CHARS: usize = 256;
/// Most items in a list signal.
pub const MAX_LIST_SIGNAL_ITEMS: usize = 64;

/// The pattern of `env.name` (checked by [`is_valid_env_name`]).
pub const ENV_NAME_PATTERN: &str = "^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$";
/// The pattern of `resource.type` (checked by [`is_valid_resource_type`]).
pub const RESOURCE_TYPE_PATTERN: &str = "^[a-zA-Z][a-zA-Z0-9._-]{0,63}$";
/// The pattern of `subject.type` (checked by [`is_valid_subject_type`]).
pub const SUBJECT_TYPE_PATTERN: &str = "^[a-zA-Z][a-zA-Z0-9._-]{0,31}$";
/// The pattern of a signal name, a key of `signals` (checked by [`is_valid_signal_name`]).
pub const SIGNAL_NAME_PATTERN: &str = "^[a-z][a-z0-9_]{0,40}$";

// INVARIANT: the field lists are in contract order; the fast path matches fields by
// their index in these lists.

/// The fields of the request object, in contract order.
pub const REQUEST_FIELDS: &[&str] = &[
    "request_id",
    "timestamp",
    "action",
    "env",
    "resource",
    "subject",
    "signals",
];
/// The fields of `env`.
pub const ENV_FIELDS: &[&str] = &["name"];
/// The fields of `resource`, in contract order.
pub const RESOURCE_FIELDS: &[&str] = &["type", "id", "sensitivity"];
/// The fields of `subject`, in contract order.
pub const SUBJECT_FIELDS: &[&str] = &["type", "id"];

/// The actions, as quoted in refusals (the wire spellings of
/// [`Action::ALL`](crate::Action::ALL), in order; a test keeps them equal).
pub const ACTION_NAMES: &str = "infer:run, data:read, data:write, tool:invoke, policy:admin";
/// The sensitivities, as quoted in refusals (the wire spellings of
/// [`Sensitivity::ALL`](crate::Sensitivity::ALL), in order; a test keeps them equal).
pub const SENSITIVITY_NAMES: &str = "public, internal, restricted";

/// Most tokens an `OUTPUT_CAP` may set (`max_tokens` is in `1..=` this).
pub const OUTPUT_CAP_MAX_TOKENS: u32 = 100_000;
/// Most items an `OUTPUT_CAP` may set (`max_items` is in `1..=` this).
pub const OUTPUT_CAP_MAX_ITEMS: u32 = 1_000_000;
/// Most bytes an `OUTPUT_CAP` may set (`max_bytes` is in `1..=` this).
pub const OUTPUT_CAP_MAX_BYTES: u64 = 100_000_000;

fn matches_class(s: &str, first: fn(u8) -> bool, max_len: usize) -> bool {
    let bytes = s.as_bytes();
    match bytes.split_first() {
        Some((head, rest)) => {
            first(*head)
                && rest.len() < max_len
                && rest
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        }
        None => false,
    }
}

/// `env.name`: [`ENV_NAME_PATTERN`].
pub fn is_valid_env_name(s: &str) -> bool {
    matches_class(s, |b| b.is_ascii_alphanumeric(), 64)
}

/// `resource.type`: [`RESOURCE_TYPE_PATTERN`].
pub fn is_valid_resource_type(s: &str) -> bool {
    matches_class(s, |b| b.is_ascii_alphabetic(), 64)
}

/// `subject.type`: [`SUBJECT_TYPE_PATTERN`].
pub fn is_valid_subject_type(s: &str) -> bool {
    matches_class(s, |b| b.is_ascii_alphabetic(), 32)
}

/// Signal names: [`SIGNAL_NAME_PATTERN`].
pub fn is_valid_signal_name(s: &str) -> bool {
    let bytes = s.as_bytes();
    match bytes.split_first() {
        Some((head, rest)) => {
            head.is_ascii_lowercase()
                && rest.len() <= 40
                && rest
                    .iter()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
        }
        None => false,
    }
}

/// The number of characters in `s`, when it is outside `min..=max` (then a refusal).
pub(crate) fn length_outside(s: &str, min: usize, max: usize) -> Option<usize> {
    // A character takes one to four bytes: a string of `min.max(1)..=max` bytes (with
    // `min` at most 1) has an acceptable count of characters without counting.
    if min <= 1 && s.len() >= min && s.len() <= max {
        return None;
    }
    let n = s.chars().count();
    (n < min || n > max).then_some(n)
}

/// Whether `s` is `1..=max` characters long (`request_id`, the ids).
pub(crate) fn nonempty_at_most(s: &str, max: usize) -> bool {
    length_outside(s, 1, max).is_none()
}

/// The number of characters of a string signal (or list item) over
/// [`MAX_SIGNAL_STRING_CHARS`]; `None` when it is short enough.
pub(crate) fn signal_string_too_long(s: &str) -> Option<usize> {
    length_outside(s, 0, MAX_SIGNAL_STRING_CHARS)
}

/// Whether `s` is an RFC 3339 date-time (the check behind `timestamp`).
pub(crate) fn rfc3339_ok(s: &str) -> bool {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok()
}

/// Whether `v` is inside an `OUTPUT_CAP` parameter's domain `1..=max`.
pub fn output_cap_in_range(v: u64, max: u64) -> bool {
    (1..=max).contains(&v)
}

/// Shortens caller input quoted back in messages (at most 64 characters, then `…`).
pub fn clip(s: &str) -> String {
    const MAX: usize = 64;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head}…")
    }
}

// The rules of the string fields, with the refusal each one reports. The walk reports the
// message; the fast path only asks whether the rule holds.

fn length_between(s: &str, min: usize, max: usize) -> Result<(), String> {
    match length_outside(s, min, max) {
        None => Ok(()),
        Some(n) => Err(format!("must be {min}..{max} characters long, found {n}")),
    }
}

fn pattern(s: &str, ok: fn(&str) -> bool, pattern: &str) -> Result<(), String> {
    if ok(s) {
        Ok(())
    } else {
        Err(format!("`{}` does not match `{pattern}`", clip(s)))
    }
}

/// `request_id`: 1..=[`MAX_REQUEST_ID_CHARS`] characters.
pub(crate) fn check_request_id(s: &str) -> Result<(), String> {
    length_between(s, 1, MAX_REQUEST_ID_CHARS)
}

/// `timestamp`: an RFC 3339 date-time.
pub(crate) fn check_timestamp(s: &str) -> Result<(), String> {
    if rfc3339_ok(s) {
        Ok(())
    } else {
        Err(format!("`{}` is not an RFC 3339 date-time", clip(s)))
    }
}

/// `action`: one of [`ACTION_NAMES`].
pub(crate) fn check_action(s: &str) -> Result<Action, String> {
    Action::parse(s).ok_or_else(|| format!("`{}` is not one of {ACTION_NAMES}", clip(s)))
}

/// `resource.sensitivity`: one of [`SENSITIVITY_NAMES`].
pub(crate) fn check_sensitivity(s: &str) -> Result<Sensitivity, String> {
    Sensitivity::parse(s).ok_or_else(|| format!("`{}` is not one of {SENSITIVITY_NAMES}", clip(s)))
}

/// `env.name`: [`ENV_NAME_PATTERN`].
pub(crate) fn check_env_name(s: &str) -> Result<(), String> {
    pattern(s, is_valid_env_name, ENV_NAME_PATTERN)
}

/// `resource.type`: [`RESOURCE_TYPE_PATTERN`].
pub(crate) fn check_resource_type(s: &str) -> Result<(), String> {
    pattern(s, is_valid_resource_type, RESOURCE_TYPE_PATTERN)
}

/// `subject.type`: [`SUBJECT_TYPE_PATTERN`].
pub(crate) fn check_subject_type(s: &str) -> Result<(), String> {
    pattern(s, is_valid_subject_type, SUBJECT_TYPE_PATTERN)
}

/// `resource.id` and `subject.id`: 1..=[`MAX_ID_CHARS`] characters.
pub(crate) fn check_id(s: &str) -> Result<(), String> {
    length_between(s, 1, MAX_ID_CHARS)
}

/// The number of keys in `signals`: at most [`MAX_SIGNALS`].
pub(crate) fn check_signal_count(n: usize) -> Result<(), String> {
    if n > MAX_SIGNALS {
        Err(format!(
            "at most {MAX_SIGNALS} signals are allowed, found {n}"
        ))
    } else {
        Ok(())
    }
}

/// A key of `signals`: [`SIGNAL_NAME_PATTERN`].
pub(crate) fn check_signal_name(name: &str) -> Result<(), String> {
    if is_valid_signal_name(name) {
        Ok(())
    } else {
        Err(format!(
            "signal name `{}` does not match `{SIGNAL_NAME_PATTERN}`",
            clip(name)
        ))
    }
}

/// A string signal or list item: at most [`MAX_SIGNAL_STRING_CHARS`] characters.
pub(crate) fn check_signal_string(s: &str) -> Result<(), String> {
    match signal_string_too_long(s) {
        None => Ok(()),
        Some(n) => Err(format!(
            "string signals are at most {MAX_SIGNAL_STRING_CHARS} characters, found {n}"
        )),
    }
}

/// The number of items of a list signal: at most [`MAX_LIST_SIGNAL_ITEMS`].
pub(crate) fn check_list_len(n: usize) -> Result<(), String> {
    if n > MAX_LIST_SIGNAL_ITEMS {
        Err(format!(
            "list signals hold at most {MAX_LIST_SIGNAL_ITEMS} items, found {n}"
        ))
    } else {
        Ok(())
    }
}

/// The refusal of a number signal that is not a finite `f64`.
pub(crate) const NUMBER_OUT_OF_RANGE: &str = "number is out of range";

/// A number signal: finite.
pub(crate) fn check_number(f: f64) -> Result<(), String> {
    if f.is_finite() {
        Ok(())
    } else {
        Err(NUMBER_OUT_OF_RANGE.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Action, Sensitivity};

    #[test]
    fn patterns_follow_the_fact_table() {
        assert!(is_valid_env_name("prod"));
        assert!(is_valid_env_name("0prod.eu-1_a"));
        assert!(!is_valid_env_name(""));
        assert!(!is_valid_env_name("-prod"));
        assert!(!is_valid_env_name("pr od"));
        assert!(is_valid_env_name(&"a".repeat(64)));
        assert!(!is_valid_env_name(&"a".repeat(65)));
        assert!(!is_valid_resource_type("1doc"));
        assert!(is_valid_resource_type("doc.v2"));
        assert!(is_valid_subject_type(&"s".repeat(32)));
        assert!(!is_valid_subject_type(&"s".repeat(33)));
        assert!(is_valid_signal_name("risk_score"));
        assert!(!is_valid_signal_name("Risk"));
        assert!(!is_valid_signal_name("risk-score"));
        assert!(is_valid_signal_name(&format!("a{}", "b".repeat(40))));
        assert!(!is_valid_signal_name(&format!("a{}", "b".repeat(41))));
    }

    #[test]
    fn quoted_vocabularies_are_the_enumerations() {
        let actions: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(ACTION_NAMES, actions.join(", "));
        let sensitivities: Vec<&str> = Sensitivity::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(SENSITIVITY_NAMES, sensitivities.join(", "));
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        assert_eq!(length_outside("", 1, 3), Some(0));
        assert_eq!(length_outside("", 0, 3), None);
        assert_eq!(length_outside("abc", 1, 3), None);
        assert_eq!(length_outside("abcd", 1, 3), Some(4));
        // Three characters in six bytes.
        assert_eq!(length_outside("\u{e9}\u{e9}\u{e9}", 1, 3), None);
        assert_eq!(length_outside("\u{e9}\u{e9}\u{e9}\u{e9}", 1, 3), Some(4));
        assert!(nonempty_at_most(&"x".repeat(128), MAX_REQUEST_ID_CHARS));
        assert!(!nonempty_at_most(&"x".repeat(129), MAX_REQUEST_ID_CHARS));
        assert_eq!(signal_string_too_long(&"\u{e9}".repeat(256)), None);
        assert_eq!(signal_string_too_long(&"\u{e9}".repeat(257)), Some(257));
    }

    #[test]
    fn output_cap_bounds() {
        let max = u64::from(OUTPUT_CAP_MAX_TOKENS);
        assert!(!output_cap_in_range(0, max));
        assert!(output_cap_in_range(1, max));
        assert!(output_cap_in_range(max, max));
        assert!(!output_cap_in_range(max + 1, max));
        assert!(rfc3339_ok("2026-11-25T09:38:13Z"));
        assert!(!rfc3339_ok("yesterday"));
    }
}
