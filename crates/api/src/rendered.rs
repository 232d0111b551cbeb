//! JSON written once and copied into every line that carries it.
//!
//! Some parts of an audit event are the same for every decision of a policy: the
//! policy's identity (three strings, one a 64-digit fingerprint) and the fact paths
//! the trail records (`decision_context_covers`). Serialising them again for every
//! event was a measurable share of an event's cost; a [`Rendered`] value holds its JSON
//! from the start and is written by copying those bytes.

use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

/// A value and its JSON, rendered once by `serde_json`. It serialises to exactly the
/// bytes the value itself would (a test checks it), **for `serde_json` only**: another
/// serializer sees `serde_json`'s raw-value wrapper, so `Rendered` appears only in
/// the shapes PolicyGate writes as JSON lines (the audit event).
#[derive(Debug, Clone)]
pub struct Rendered<T> {
    value: T,
    /// `None` only if the value could not be serialised, which is then tried again,
    /// and reported, each time it is written (never the case for the strings and
    /// lists it holds).
    json: Option<Box<RawValue>>,
}

impl<T: Serialize> Rendered<T> {
    /// Renders `value`'s JSON.
    pub fn new(value: T) -> Rendered<T> {
        let json = serde_json::value::to_raw_value(&value).ok();
        Rendered { value, json }
    }
}

impl<T> Rendered<T> {
    /// The value itself.
    pub fn value(&self) -> &T {
        &self.value
    }
}

impl<T: PartialEq> PartialEq for Rendered<T> {
    fn eq(&self, other: &Rendered<T>) -> bool {
        self.value == other.value
    }
}

impl<T: Eq> Eq for Rendered<T> {}

impl<T: Serialize> Serialize for Rendered<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.json {
            Some(json) => json.serialize(s),
            None => self.value.serialize(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PolicyIdentity;

    /// Inside a document, a rendered value writes the bytes of the value itself,
    /// escapes included.
    #[test]
    fn writes_the_bytes_of_the_value() {
        let identity = PolicyIdentity {
            policy_id: "p\"\u{1}\u{e9}".into(),
            policy_version: "1\n".into(),
            policy_sha256: "a".repeat(64),
        };
        let paths = vec!["env.name".to_owned(), "signals.x\\y".to_owned()];
        let empty: Vec<String> = Vec::new();
        let plain = serde_json::json!({"policy": identity, "covers": paths, "none": empty});
        let rendered = serde_json::json!({
            "policy": serde_json::to_value(Rendered::new(identity.clone())).unwrap(),
        });
        // Through a `Value` the raw JSON is parsed back: the same value.
        assert_eq!(rendered["policy"], plain["policy"]);
        #[derive(Serialize)]
        struct Doc<'a> {
            policy: &'a Rendered<PolicyIdentity>,
            covers: Rendered<Vec<String>>,
            none: Rendered<Vec<String>>,
        }
        #[derive(Serialize)]
        struct Plain<'a> {
            policy: &'a PolicyIdentity,
            covers: &'a [String],
            none: &'a [String],
        }
        let r = Rendered::new(identity.clone());
        let doc = Doc {
            policy: &r,
            covers: Rendered::new(paths.clone()),
            none: Rendered::new(empty.clone()),
        };
        let want = serde_json::to_string(&Plain {
            policy: &identity,
            covers: &paths,
            none: &empty,
        })
        .unwrap();
        assert_eq!(serde_json::to_string(&doc).unwrap(), want);
        assert_eq!(r.value(), &identity);
        assert_eq!(r, Rendered::new(identity));
    }
}
