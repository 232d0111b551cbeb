//! Obligations: which types this enforcer knows, and helpers to honour `OUTPUT_CAP`.
//!
//! The set of obligation types is closed and fixed by the product. This module is the one
//! place that lists the types the enforcer supports ([`ObligationKind`]); a response with
//! any other type is refused before a handler sees it. The helpers apply a cap to what a
//! generation request may ask for and to what it produced; they never loosen a limit.

use policygate_api::{Obligation, OutputCap, contract};
use std::fmt;

/// The obligation types this enforcer knows how to check and help enforce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ObligationKind {
    /// `OUTPUT_CAP`: cap what the model may return.
    OutputCap,
}

impl ObligationKind {
    /// Every supported kind.
    pub const ALL: [ObligationKind; 1] = [ObligationKind::OutputCap];

    /// The wire name of the type.
    pub fn as_str(self) -> &'static str {
        match self {
            ObligationKind::OutputCap => "OUTPUT_CAP",
        }
    }

    /// The kind with this wire name, if this enforcer supports it.
    pub fn parse(type_name: &str) -> Option<ObligationKind> {
        ObligationKind::ALL
            .into_iter()
            .find(|k| k.as_str() == type_name)
    }

    /// The kind of an obligation.
    pub fn of(obligation: &Obligation) -> ObligationKind {
        // INVARIANT: this match is exhaustive on purpose: a new obligation type in the
        // wire contract fails to compile here until the enforcer learns about it.
        match obligation {
            Obligation::OutputCap(_) => ObligationKind::OutputCap,
        }
    }
}

impl fmt::Display for ObligationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Most tokens an `OUTPUT_CAP` may set (the contract's bound).
pub const MAX_TOKENS_LIMIT: u32 = contract::OUTPUT_CAP_MAX_TOKENS;
/// Most items an `OUTPUT_CAP` may set (the contract's bound).
pub const MAX_ITEMS_LIMIT: u32 = contract::OUTPUT_CAP_MAX_ITEMS;
/// Most bytes an `OUTPUT_CAP` may set (the contract's bound).
pub const MAX_BYTES_LIMIT: u64 = contract::OUTPUT_CAP_MAX_BYTES;

/// Checks an obligation's params against the contract (what the policy language allows).
pub(crate) fn check_params(obligation: &Obligation) -> Result<(), String> {
    match obligation {
        Obligation::OutputCap(cap) => {
            if cap.max_tokens.is_none() && cap.max_items.is_none() && cap.max_bytes.is_none() {
                return Err("OUTPUT_CAP sets none of max_tokens, max_items, max_bytes".into());
            }
            check_range(
                "max_tokens",
                cap.max_tokens.map(u64::from),
                MAX_TOKENS_LIMIT.into(),
            )?;
            check_range(
                "max_items",
                cap.max_items.map(u64::from),
                MAX_ITEMS_LIMIT.into(),
            )?;
            check_range("max_bytes", cap.max_bytes, MAX_BYTES_LIMIT)?;
            Ok(())
        }
    }
}

fn check_range(name: &str, value: Option<u64>, max: u64) -> Result<(), String> {
    match value {
        Some(v) if !contract::output_cap_in_range(v, max) => Err(format!(
            "OUTPUT_CAP {name} is {v}, outside its domain 1..={max}"
        )),
        _ => Ok(()),
    }
}

/// Merges every `OUTPUT_CAP` into one, keeping the smallest value of each limit; `None`
/// when there is no `OUTPUT_CAP`.
pub fn merged_output_cap(obligations: &[Obligation]) -> Option<OutputCap> {
    fn min<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
    obligations
        .iter()
        .map(|o| match o {
            Obligation::OutputCap(cap) => *cap,
        })
        .reduce(|a, b| OutputCap {
            max_tokens: min(a.max_tokens, b.max_tokens),
            max_items: min(a.max_items, b.max_items),
            max_bytes: min(a.max_bytes, b.max_bytes),
        })
}

/// Helpers that apply an [`OutputCap`] to a generation request and to its output.
///
/// Each helper only ever tightens: a request that already asks for less keeps asking
/// for less, and output within the cap is returned unchanged.
pub trait OutputCapExt {
    /// The `max_tokens` to send to the model: the smaller of what the request asked
    /// for and the cap; the cap itself when the request set no limit.
    fn limit_max_tokens(&self, requested: Option<u32>) -> Option<u32>;

    /// Lowers (or sets) the `max_tokens` member of a JSON generation request (an
    /// OpenAI-style body). Fails when the body is not a JSON object or the member is
    /// not a non-negative integer: a request whose limit cannot be read cannot be
    /// capped, so the caller must refuse it.
    fn apply_to_json_params(&self, params: &mut serde_json::Value) -> Result<(), String>;

    /// The longest prefix of `text` within `max_bytes`, cut on a UTF-8 character
    /// boundary.
    fn truncate_bytes<'a>(&self, text: &'a str) -> &'a str;

    /// Drops items beyond `max_items`.
    fn truncate_items<T>(&self, items: &mut Vec<T>);
}

impl OutputCapExt for OutputCap {
    fn limit_max_tokens(&self, requested: Option<u32>) -> Option<u32> {
        match (requested, self.max_tokens) {
            (Some(r), Some(cap)) => Some(r.min(cap)),
            (r, cap) => r.or(cap),
        }
    }

    fn apply_to_json_params(&self, params: &mut serde_json::Value) -> Result<(), String> {
        let Some(cap) = self.max_tokens else {
            return Ok(());
        };
        let Some(map) = params.as_object_mut() else {
            return Err("the generation request is not a JSON object".into());
        };
        let requested = match map.get("max_tokens") {
            None | Some(serde_json::Value::Null) => None,
            Some(v) => match v.as_u64() {
                Some(n) => Some(u32::try_from(n).unwrap_or(u32::MAX)),
                None => return Err("`max_tokens` is not a non-negative integer".into()),
            },
        };
        let limited = requested.map_or(cap, |r| r.min(cap));
        map.insert("max_tokens".into(), limited.into());
        Ok(())
    }

    fn truncate_bytes<'a>(&self, text: &'a str) -> &'a str {
        let Some(max) = self.max_bytes else {
            return text;
        };
        let max = usize::try_from(max).unwrap_or(usize::MAX);
        if text.len() <= max {
            return text;
        }
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.get(..end).unwrap_or_default()
    }

    fn truncate_items<T>(&self, items: &mut Vec<T>) {
        if let Some(max) = self.max_items {
            items.truncate(usize::try_from(max).unwrap_or(usize::MAX));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cap(tokens: Option<u32>, items: Option<u32>, bytes: Option<u64>) -> OutputCap {
        OutputCap {
            max_tokens: tokens,
            max_items: items,
            max_bytes: bytes,
        }
    }

    #[test]
    fn merging_keeps_the_smallest_limits() {
        let merged = merged_output_cap(&[
            Obligation::OutputCap(cap(Some(200), None, Some(50))),
            Obligation::OutputCap(cap(Some(100), Some(3), Some(80))),
        ]);
        assert_eq!(merged, Some(cap(Some(100), Some(3), Some(50))));
        assert_eq!(merged_output_cap(&[]), None);
    }

    #[test]
    fn max_tokens_is_only_ever_lowered() {
        let c = cap(Some(100), None, None);
        assert_eq!(c.limit_max_tokens(Some(500)), Some(100));
        assert_eq!(c.limit_max_tokens(Some(20)), Some(20));
        assert_eq!(c.limit_max_tokens(None), Some(100));
        assert_eq!(cap(None, Some(1), None).limit_max_tokens(Some(7)), Some(7));
    }

    #[test]
    fn json_params_are_capped_or_refused() {
        let c = cap(Some(100), None, None);
        let mut body = json!({"model": "m", "max_tokens": 4096});
        c.apply_to_json_params(&mut body).unwrap();
        assert_eq!(body["max_tokens"], 100);
        let mut body = json!({"model": "m"});
        c.apply_to_json_params(&mut body).unwrap();
        assert_eq!(body["max_tokens"], 100);
        let mut body = json!({"max_tokens": 10});
        c.apply_to_json_params(&mut body).unwrap();
        assert_eq!(body["max_tokens"], 10);
        assert!(
            c.apply_to_json_params(&mut json!({"max_tokens": "lots"}))
                .is_err()
        );
        assert!(
            c.apply_to_json_params(&mut json!({"max_tokens": -1}))
                .is_err()
        );
        assert!(c.apply_to_json_params(&mut json!([1])).is_err());
    }

    #[test]
    fn bytes_are_cut_on_character_boundaries() {
        let c = cap(None, None, Some(5));
        assert_eq!(c.truncate_bytes("abcdefgh"), "abcde");
        assert_eq!(c.truncate_bytes("abc"), "abc");
        // "é" is two bytes: a cut at 5 would split the third one.
        assert_eq!(c.truncate_bytes("ééé"), "éé");
        assert_eq!(cap(None, None, Some(1)).truncate_bytes("€"), "");
        assert_eq!(cap(None, None, None).truncate_bytes("ééé"), "ééé");
    }

    #[test]
    fn items_are_dropped_beyond_the_cap() {
        let mut v = vec![1, 2, 3, 4];
        cap(None, Some(2), None).truncate_items(&mut v);
        assert_eq!(v, [1, 2]);
        cap(None, None, None).truncate_items(&mut v);
        assert_eq!(v, [1, 2]);
    }

    #[test]
    fn params_outside_the_contract_are_refused() {
        let ok = Obligation::OutputCap(cap(Some(1), None, None));
        assert!(check_params(&ok).is_ok());
        assert!(check_params(&Obligation::OutputCap(cap(None, None, None))).is_err());
        assert!(check_params(&Obligation::OutputCap(cap(Some(0), None, None))).is_err());
        assert!(check_params(&Obligation::OutputCap(cap(Some(100_001), None, None))).is_err());
        assert!(check_params(&Obligation::OutputCap(cap(None, Some(1_000_001), None))).is_err());
        assert!(check_params(&Obligation::OutputCap(cap(None, None, Some(100_000_001)))).is_err());
    }

    #[test]
    fn kinds_round_trip() {
        for k in ObligationKind::ALL {
            assert_eq!(ObligationKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(ObligationKind::parse("REDACT"), None);
        let o = Obligation::OutputCap(OutputCap::default());
        assert_eq!(ObligationKind::of(&o).as_str(), o.type_name());
    }
}
