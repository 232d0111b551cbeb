//! JSON read into a `serde_json::Value` with every object key unique.
//!
//! `serde_json` keeps the last of two equal keys, so `{"risk_score":0.95,
//! "risk_score":0.1}` would be decided on `0.1` while a filter, WAF or logger that
//! reads the first value sees `0.95`. A request whose bytes can be read two ways is
//! refused instead: the refusal names the key and the JSON pointer of the object that
//! repeats it. The one-pass fast path already gives up on a repeated key, so every
//! body with one reaches this reader.

use crate::error::child;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

/// Parses `body` as JSON, refusing any object that holds a key twice.
pub(crate) fn from_slice(body: &[u8]) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = Unique { pointer: "" }.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// A value at `pointer` (the JSON pointer of where it is, `""` for the root).
struct Unique<'p> {
    pointer: &'p str,
}

impl<'de> DeserializeSeed<'de> for Unique<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Unique<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        loop {
            let pointer = format!("{}/{}", self.pointer, out.len());
            match seq.next_element_seed(Unique { pointer: &pointer })? {
                Some(v) => out.push(v),
                None => return Ok(Value::Array(out)),
            }
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                let at = if self.pointer.is_empty() {
                    "/"
                } else {
                    self.pointer
                };
                return Err(de::Error::custom(format!(
                    "duplicate key `{}` in the object at {at} (send each key once)",
                    crate::contract::clip(&key)
                )));
            }
            let pointer = child(self.pointer, &key);
            let value = map.next_value_seed(Unique { pointer: &pointer })?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_as_serde_json_reads_them() {
        for body in [
            r#"{"a":[1,-2,3.5,"x",null,true,{"b":{}}],"c":18446744073709551615,"d":-9223372036854775808}"#,
            r#"[]"#,
            r#""s""#,
            r#"1e400"#,
        ] {
            let ours = from_slice(body.as_bytes()).map_err(|e| e.to_string());
            let theirs =
                serde_json::from_slice::<Value>(body.as_bytes()).map_err(|e| e.to_string());
            assert_eq!(ours, theirs, "{body}");
        }
    }

    #[test]
    fn a_repeated_key_is_refused_with_its_pointer() {
        let cases = [
            (r#"{"a":1,"a":2}"#, "duplicate key `a` in the object at /"),
            (
                r#"{"signals":{"risk_score":0.95,"risk_score":0.1}}"#,
                "duplicate key `risk_score` in the object at /signals",
            ),
            (
                r#"{"x":[{"k":1},{"k":1,"k":2}]}"#,
                "duplicate key `k` in the object at /x/1",
            ),
            (r#"{"a/b":{"c":1,"c":1}}"#, "in the object at /a~1b"),
        ];
        for (body, want) in cases {
            let e = from_slice(body.as_bytes()).unwrap_err().to_string();
            assert!(e.contains(want), "{body}: {e}");
        }
        assert!(from_slice(br#"{"a":{"k":1},"b":{"k":1}}"#).is_ok());
        assert!(from_slice(br#"{"a":1} x"#).is_err());
    }
}
