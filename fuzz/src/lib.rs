//! What the fuzz targets share: the core property tests' reference evaluator (one copy,
//! included from `crates/core/tests/shared/`), and an independent detector of repeated
//! JSON object keys that the request parser target checks the parser against.

#[path = "../../crates/core/tests/shared/reference.rs"]
pub mod reference;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::BTreeSet;
use std::fmt;

/// Whether some object in the JSON text `body` holds a key twice; `None` when `body`
/// is not JSON (or nests deeper than serde_json reads).
pub fn has_duplicate_key(body: &[u8]) -> Option<bool> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let found = Dup.deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(found)
}

/// Reads any value; yields whether it (or something inside it) repeats a key.
struct Dup;

impl<'de> DeserializeSeed<'de> for Dup {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Dup {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_f64<E>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_str<E>(self, _: &str) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let mut found = false;
        while let Some(inner) = seq.next_element_seed(Dup)? {
            found |= inner;
        }
        Ok(found)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let mut keys = BTreeSet::new();
        let mut found = false;
        while let Some(key) = map.next_key::<String>()? {
            found |= !keys.insert(key);
            found |= map.next_value_seed(Dup)?;
        }
        Ok(found)
    }
}
