//! A generic YAML tree with a source position on every node.
//!
//! serde-saphyr does the parsing (it refuses duplicate keys and bounds alias
//! expansion); this module only keeps its `Spanned` positions in a shape the
//! structural stage can walk while collecting every problem, which a derived
//! `Deserialize` (stopping at the first error) could not do.

use crate::loc::Loc;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::fmt;

/// One YAML node and where it is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub kind: Kind,
    pub loc: Loc,
}

/// The value of a node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// A mapping entry: the key (always read as a string) and its value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub key: String,
    pub key_loc: Loc,
    pub value: Node,
}

impl Kind {
    /// How the kind is named in messages.
    pub fn describe(&self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) => "an integer",
            Kind::Float(_) => "a number",
            Kind::Str(_) => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }
}

/// Why the text is not a YAML document we can read.
#[derive(Debug, Clone)]
pub(crate) struct SyntaxError {
    pub message: String,
    pub loc: Option<Loc>,
    pub duplicate_key: bool,
}

/// Most YAML nodes a policy file may hold.
pub(crate) const MAX_NODES: usize = 4_000_000;

/// Parses one YAML document.
pub(crate) fn parse(text: &str) -> Result<Node, SyntaxError> {
    // Large generated policies (10,000+ rules) exceed the default node budget; the
    // alias and depth limits that guard against YAML bombs stay at their defaults.
    let mut budget = serde_saphyr::Budget::default();
    budget.max_nodes = MAX_NODES;
    budget.max_events = MAX_NODES * 2;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    // YAML 1.2 core booleans only: `y`, `n`, `yes`, `off`… stay strings, so that
    // `rationale_codes: [N]` or `env: {name: on}` mean what they say.
    options.strict_booleans = true;
    match serde_saphyr::from_str_with_options::<Spanned<Raw>>(text, options) {
        Ok(root) => Ok(to_node(root)),
        Err(e) => {
            let loc = e.location().map(|l| Loc::from_saphyr(&l));
            // The crate's Display includes a snippet; keep only the first line's message.
            let full = e.without_snippet().to_string();
            // The error may arrive wrapped (with a snippet), so match on its text.
            let duplicate_key = full.contains("duplicate mapping key");
            let first = full.lines().next().unwrap_or("invalid YAML").trim();
            let message = match first.split_once(": ") {
                Some((prefix, rest))
                    if prefix.starts_with("error: line") || prefix.starts_with("line ") =>
                {
                    rest
                }
                _ => first,
            };
            let message = message.strip_prefix("error: ").unwrap_or(message);
            let message = match message.split_once(": ") {
                Some((prefix, rest)) if prefix.starts_with("line ") => rest,
                _ => message,
            };
            let message = message
                .split(", set DuplicateKeyPolicy")
                .next()
                .unwrap_or(message)
                .to_owned();
            Err(SyntaxError {
                message,
                loc,
                duplicate_key,
            })
        }
    }
}

fn to_node(s: Spanned<Raw>) -> Node {
    let loc = Loc::from_saphyr(&s.referenced);
    let kind = match s.value {
        Raw::Null => Kind::Null,
        Raw::Bool(b) => Kind::Bool(b),
        Raw::Int(i) => Kind::Int(i),
        Raw::Float(f) => Kind::Float(f),
        Raw::Str(v) => Kind::Str(v),
        Raw::Seq(items) => Kind::Seq(items.into_iter().map(to_node).collect()),
        Raw::Map(entries) => Kind::Map(
            entries
                .into_iter()
                .map(|(k, v)| Entry {
                    key: k.value,
                    key_loc: Loc::from_saphyr(&k.referenced),
                    value: to_node(v),
                })
                .collect(),
        ),
    };
    Node { kind, loc }
}

/// What serde hands us, before positions are unwrapped.
enum Raw {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<String>, Spanned<Raw>)>),
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
        d.deserialize_any(RawVisitor)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Raw, E> {
        Ok(match i64::try_from(v) {
            Ok(i) => Raw::Int(i),
            #[expect(
                clippy::cast_precision_loss,
                reason = "integers beyond i64 are read as numbers"
            )]
            Err(_) => Raw::Float(v as f64),
        })
    }
    fn visit_i128<E>(self, v: i128) -> Result<Raw, E> {
        Ok(match i64::try_from(v) {
            Ok(i) => Raw::Int(i),
            #[expect(
                clippy::cast_precision_loss,
                reason = "integers beyond i64 are read as numbers"
            )]
            Err(_) => Raw::Float(v as f64),
        })
    }
    fn visit_u128<E>(self, v: u128) -> Result<Raw, E> {
        Ok(match i64::try_from(v) {
            Ok(i) => Raw::Int(i),
            #[expect(
                clippy::cast_precision_loss,
                reason = "integers beyond i64 are read as numbers"
            )]
            Err(_) => Raw::Float(v as f64),
        })
    }
    fn visit_f64<E>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = a.next_element()? {
            items.push(item);
        }
        Ok(Raw::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = a.next_key::<Spanned<String>>()? {
            let value = a.next_value()?;
            entries.push((key, value));
        }
        Ok(Raw::Map(entries))
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Raw, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_positions_and_order() {
        let n = parse("a: 1\nb:\n  - x\n  - '2'\n").unwrap();
        let Kind::Map(entries) = n.kind else {
            panic!("map")
        };
        assert_eq!(entries[0].key, "a");
        assert_eq!(
            (entries[1].key_loc.line(), entries[1].key_loc.column()),
            (2, 1)
        );
        let Kind::Seq(items) = &entries[1].value.kind else {
            panic!("seq")
        };
        assert_eq!(items[1].kind, Kind::Str("2".into()));
        assert_eq!((items[1].loc.line(), items[1].loc.column()), (4, 5));
    }

    #[test]
    fn refuses_duplicate_keys_with_a_location() {
        let e = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert!(e.duplicate_key);
        assert_eq!(e.loc.map(|l| l.line()), Some(3));
        assert!(e.message.contains("duplicate"), "{}", e.message);
    }

    #[test]
    fn syntax_errors_have_a_location() {
        let e = parse("a: [1\n").unwrap_err();
        assert!(!e.duplicate_key);
        assert!(e.loc.is_some());
        assert!(!e.message.is_empty());
    }
}
