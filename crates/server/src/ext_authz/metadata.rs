//! Any serialisable value as the wire bytes of a `google.protobuf.Struct`, written
//! directly by a `serde` serializer: no `serde_json::Value` and no prost `Struct` in
//! between.
//!
//! This is how an allowed Check carries its decision in `dynamic_metadata`. The shape
//! stays owned by the value's `Serialize` (`api::EvaluateResponseRef`); this module
//! owns only the JSON-to-`Struct` rule, which is serde_json's:
//! - objects become `Struct`s and arrays `ListValue`s, in serialisation order;
//! - numbers become `number_value` (integers converted to `f64`);
//! - a non-finite float, `None` and `()` become `null_value`;
//! - a unit enum variant becomes its name, and any other variant a one-entry `Struct`
//!   keyed by the variant's name;
//! - bytes become a list of numbers;
//! - map keys must be strings, characters, booleans or integers (written as text).
//!
//! Where serde_json would do otherwise, the difference is on shapes the decision never
//! has, and stated: floats as map keys, a top-level enum variant and serde_json's
//! `RawValue` (raw JSON text) are refused, and an `i128`/`u128` beyond 64 bits becomes
//! the nearest double instead of an error.
//!
//! Before, the decision went to a `serde_json::Value`, then to a prost `Struct` (a
//! hash map per object), then to bytes; in a profile of `bench/grpc.sh` those steps
//! took about a tenth of the server's CPU.

use super::wire::{close, open, put_text};
use prost::encoding::{WireType, encode_key, encode_varint};
use serde::ser::{self, Serialize};
use std::fmt;

/// `google.protobuf.Value`'s fields (its `kind` oneof).
const NULL_VALUE: u32 = 1;
const NUMBER_VALUE: u32 = 2;
const STRING_VALUE: u32 = 3;
const BOOL_VALUE: u32 = 4;
const STRUCT_VALUE: u32 = 5;
const LIST_VALUE: u32 = 6;
/// `Struct.fields` (a map: each entry a message of `key = 1`, `value = 2`) and
/// `ListValue.values`.
const STRUCT_FIELDS: u32 = 1;
const ENTRY_KEY: u32 = 1;
const ENTRY_VALUE: u32 = 2;
const LIST_VALUES: u32 = 1;

/// The struct name under which serde_json's `RawValue` serialises its text.
const RAW_JSON: &str = "$serde_json::private::RawValue";

/// serde_json's `RawValue` is a struct of this name (with one field of the same name).
fn refuse_raw_json(name: &str) -> Result<(), MetadataError> {
    if name == RAW_JSON {
        return Err(MetadataError(
            "raw JSON text (serde_json's RawValue) has no Struct form here".to_owned(),
        ));
    }
    Ok(())
}

/// Why a value has no `Struct` form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MetadataError(String);

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MetadataError {}

impl ser::Error for MetadataError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        MetadataError(msg.to_string())
    }
}

/// Appends to `out` the bytes of the `Struct` that `value` (which must serialise as a
/// map or a struct) is in JSON: the message's body, without a tag or length of its
/// own. On an error `out` is left as it was.
pub(crate) fn append_struct<T: Serialize + ?Sized>(
    out: &mut Vec<u8>,
    value: &T,
) -> Result<(), MetadataError> {
    let before = out.len();
    value
        .serialize(TopLevel { out: &mut *out })
        .inspect_err(|_| out.truncate(before))
}

/// [`append_struct`] into a buffer of its own.
#[cfg(test)]
pub(crate) fn struct_bytes<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, MetadataError> {
    let mut out = Vec::new();
    append_struct(&mut out, value)?;
    Ok(out)
}

/// Opens one `Struct` entry, `key` → a `Value` whose body comes next; returns the two
/// starts to [`close`], the value's first.
fn open_entry(out: &mut Vec<u8>, key: &str) -> [usize; 2] {
    let entry = open(out, STRUCT_FIELDS);
    put_text(out, ENTRY_KEY, key);
    [open(out, ENTRY_VALUE), entry]
}

/// Fields opened around a list or a struct being written, innermost first, closed
/// together when it ends: its own `list_value`/`struct_value` and, for an enum
/// variant, the one-entry `Struct` that names it.
#[derive(Default)]
struct Opened {
    starts: [usize; 4],
    count: usize,
}

impl Opened {
    /// Opens the wrapper of a variant named `variant` (a `struct_value` holding one
    /// entry), whose value is what is written next.
    fn variant(out: &mut Vec<u8>, variant: &str) -> Opened {
        let wrapper = open(out, STRUCT_VALUE);
        let [value, entry] = open_entry(out, variant);
        Opened {
            starts: [value, entry, wrapper, 0],
            count: 3,
        }
    }

    /// Opens `tag` inside what is already open.
    fn then(mut self, out: &mut Vec<u8>, tag: u32) -> Opened {
        self.starts.copy_within(0..self.count, 1);
        self.starts[0] = open(out, tag);
        self.count += 1;
        self
    }

    fn close(self, out: &mut Vec<u8>) {
        for &start in &self.starts[..self.count] {
            close(out, start);
        }
    }
}

fn put_null(out: &mut Vec<u8>) {
    encode_key(NULL_VALUE, WireType::Varint, out);
    encode_varint(0, out);
}

#[expect(
    clippy::cast_precision_loss,
    reason = "JSON numbers are doubles in a Struct; serde_json's as_f64 rounds the same way"
)]
fn put_integer(out: &mut Vec<u8>, n: i128) {
    put_number(out, n as f64);
}

fn put_number(out: &mut Vec<u8>, n: f64) {
    if n.is_finite() {
        encode_key(NUMBER_VALUE, WireType::SixtyFourBit, out);
        out.extend_from_slice(&n.to_le_bytes());
    } else {
        put_null(out);
    }
}

fn put_string(out: &mut Vec<u8>, s: &str) {
    put_text(out, STRING_VALUE, s);
}

/// Writes the top level, which must be a `Struct`: its entries go straight to `out`.
struct TopLevel<'a> {
    out: &'a mut Vec<u8>,
}

/// Writes one `Value`'s body into `out`.
struct ValueWriter<'a> {
    out: &'a mut Vec<u8>,
}

/// A list being written in place, inside the fields in `opened`.
struct ListWriter<'a> {
    out: &'a mut Vec<u8>,
    opened: Opened,
}

/// A struct or map being written in place, inside the fields in `opened` (none for the
/// top-level `Struct`, whose entries are the output itself); `next_key` is the key of
/// a map entry whose value has not come yet.
struct StructWriter<'a> {
    out: &'a mut Vec<u8>,
    opened: Opened,
    next_key: Option<String>,
}

impl<'a> ListWriter<'a> {
    fn new(out: &'a mut Vec<u8>, variant: Option<&str>) -> ListWriter<'a> {
        let opened = match variant {
            None => Opened::default(),
            Some(name) => Opened::variant(out, name),
        };
        let opened = opened.then(out, LIST_VALUE);
        ListWriter { out, opened }
    }

    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), MetadataError> {
        let item = open(self.out, LIST_VALUES);
        value.serialize(ValueWriter { out: self.out })?;
        close(self.out, item);
        Ok(())
    }

    fn finish(self) -> Result<(), MetadataError> {
        self.opened.close(self.out);
        Ok(())
    }
}

impl<'a> StructWriter<'a> {
    /// A `struct_value` (inside a variant's wrapper when `variant` names one).
    fn nested(out: &'a mut Vec<u8>, variant: Option<&str>) -> StructWriter<'a> {
        let opened = match variant {
            None => Opened::default(),
            Some(name) => Opened::variant(out, name),
        };
        let opened = opened.then(out, STRUCT_VALUE);
        StructWriter {
            out,
            opened,
            next_key: None,
        }
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), MetadataError> {
        let [v, entry] = open_entry(self.out, key);
        value.serialize(ValueWriter { out: self.out })?;
        close(self.out, v);
        close(self.out, entry);
        Ok(())
    }

    fn finish(self) -> Result<(), MetadataError> {
        if self.next_key.is_some() {
            return Err(MetadataError(
                "a map key was written without its value".to_owned(),
            ));
        }
        self.opened.close(self.out);
        Ok(())
    }
}

fn not_a_struct() -> MetadataError {
    MetadataError("only a map or a struct has the form of a protobuf Struct".to_owned())
}

/// Serializer methods that refuse their value: `refuse!(Ok, refusal; method(args), ...)`
/// answers every listed method with `Err(refusal())`.
macro_rules! refuse {
    ($ok:ty, $refusal:ident; $($method:ident($($arg:ty),*)),* $(,)?) => {
        $(fn $method(self, $(_: $arg),*) -> Result<$ok, MetadataError> { Err($refusal()) })*
    };
}

/// The compound serializer methods that [`TopLevel`] and [`KeyWriter`] both refuse
/// (enum variants with data, sequences and tuples), answering `$refusal()`.
macro_rules! refuse_compounds {
    ($ok:ty, $refusal:ident) => {
        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            self,
            _name: &'static str,
            _index: u32,
            _variant: &'static str,
            _value: &T,
        ) -> Result<$ok, MetadataError> {
            Err($refusal())
        }

        fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, MetadataError> {
            Err($refusal())
        }

        fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, MetadataError> {
            Err($refusal())
        }

        fn serialize_tuple_struct(
            self,
            _name: &'static str,
            _len: usize,
        ) -> Result<Self::SerializeTupleStruct, MetadataError> {
            Err($refusal())
        }

        fn serialize_tuple_variant(
            self,
            _name: &'static str,
            _index: u32,
            _variant: &'static str,
            _len: usize,
        ) -> Result<Self::SerializeTupleVariant, MetadataError> {
            Err($refusal())
        }

        fn serialize_struct_variant(
            self,
            _name: &'static str,
            _index: u32,
            _variant: &'static str,
            _len: usize,
        ) -> Result<Self::SerializeStructVariant, MetadataError> {
            Err($refusal())
        }
    };
}

impl<'a> ser::Serializer for TopLevel<'a> {
    type Ok = ();
    type Error = MetadataError;
    type SerializeSeq = ser::Impossible<(), MetadataError>;
    type SerializeTuple = ser::Impossible<(), MetadataError>;
    type SerializeTupleStruct = ser::Impossible<(), MetadataError>;
    type SerializeTupleVariant = ser::Impossible<(), MetadataError>;
    type SerializeMap = StructWriter<'a>;
    type SerializeStruct = StructWriter<'a>;
    type SerializeStructVariant = ser::Impossible<(), MetadataError>;

    refuse!(
        (), not_a_struct;
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    );

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), MetadataError> {
        value.serialize(self)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), MetadataError> {
        value.serialize(self)
    }

    refuse_compounds!((), not_a_struct);

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, MetadataError> {
        Ok(StructWriter {
            out: self.out,
            opened: Opened::default(),
            next_key: None,
        })
    }

    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStruct, MetadataError> {
        refuse_raw_json(name)?;
        self.serialize_map(Some(len))
    }
}

/// The serializer methods of [`ValueWriter`] for integers that fit an `i128`: through
/// `serialize_i128`.
macro_rules! widen_integers {
    ($($method:ident($arg:ty)),* $(,)?) => {
        $(fn $method(self, v: $arg) -> Result<(), MetadataError> { self.serialize_i128(i128::from(v)) })*
    };
}

impl<'a> ser::Serializer for ValueWriter<'a> {
    type Ok = ();
    type Error = MetadataError;
    type SerializeSeq = ListWriter<'a>;
    type SerializeTuple = ListWriter<'a>;
    type SerializeTupleStruct = ListWriter<'a>;
    type SerializeTupleVariant = ListWriter<'a>;
    type SerializeMap = StructWriter<'a>;
    type SerializeStruct = StructWriter<'a>;
    type SerializeStructVariant = StructWriter<'a>;

    fn serialize_bool(self, v: bool) -> Result<(), MetadataError> {
        encode_key(BOOL_VALUE, WireType::Varint, self.out);
        encode_varint(u64::from(v), self.out);
        Ok(())
    }

    widen_integers!(
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
    );

    fn serialize_i128(self, v: i128) -> Result<(), MetadataError> {
        put_integer(self.out, v);
        Ok(())
    }

    #[expect(
        clippy::cast_precision_loss,
        reason = "JSON numbers are doubles in a Struct"
    )]
    fn serialize_u128(self, v: u128) -> Result<(), MetadataError> {
        put_number(self.out, v as f64);
        Ok(())
    }

    fn serialize_f32(self, v: f32) -> Result<(), MetadataError> {
        put_number(self.out, f64::from(v));
        Ok(())
    }

    fn serialize_f64(self, v: f64) -> Result<(), MetadataError> {
        put_number(self.out, v);
        Ok(())
    }

    fn serialize_char(self, v: char) -> Result<(), MetadataError> {
        put_string(self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    fn serialize_str(self, v: &str) -> Result<(), MetadataError> {
        put_string(self.out, v);
        Ok(())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), MetadataError> {
        let mut list = ListWriter::new(self.out, None);
        for b in v {
            list.push(b)?;
        }
        list.finish()
    }

    fn serialize_none(self) -> Result<(), MetadataError> {
        put_null(self.out);
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), MetadataError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), MetadataError> {
        put_null(self.out);
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), MetadataError> {
        put_null(self.out);
        Ok(())
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), MetadataError> {
        put_string(self.out, variant);
        Ok(())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), MetadataError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), MetadataError> {
        let opened = Opened::variant(self.out, variant);
        value.serialize(ValueWriter { out: self.out })?;
        opened.close(self.out);
        Ok(())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<ListWriter<'a>, MetadataError> {
        Ok(ListWriter::new(self.out, None))
    }

    fn serialize_tuple(self, len: usize) -> Result<ListWriter<'a>, MetadataError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<ListWriter<'a>, MetadataError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<ListWriter<'a>, MetadataError> {
        Ok(ListWriter::new(self.out, Some(variant)))
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<StructWriter<'a>, MetadataError> {
        Ok(StructWriter::nested(self.out, None))
    }

    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<StructWriter<'a>, MetadataError> {
        refuse_raw_json(name)?;
        self.serialize_map(Some(len))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<StructWriter<'a>, MetadataError> {
        Ok(StructWriter::nested(self.out, Some(variant)))
    }
}

/// serde's four list traits, all one `ListWriter`: `$method` pushes an element.
macro_rules! list_impls {
    ($($trait:ident::$method:ident),* $(,)?) => {
        $(impl ser::$trait for ListWriter<'_> {
            type Ok = ();
            type Error = MetadataError;

            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), MetadataError> {
                self.push(value)
            }

            fn end(self) -> Result<(), MetadataError> {
                self.finish()
            }
        })*
    };
}

list_impls!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field,
);

impl ser::SerializeMap for StructWriter<'_> {
    type Ok = ();
    type Error = MetadataError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), MetadataError> {
        self.next_key = Some(key.serialize(KeyWriter)?);
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), MetadataError> {
        let key = self
            .next_key
            .take()
            .ok_or_else(|| MetadataError("a map value was written before its key".to_owned()))?;
        self.field(&key, value)
    }

    fn end(self) -> Result<(), MetadataError> {
        self.finish()
    }
}

/// serde's two struct traits, both one `StructWriter`: a field is an entry.
macro_rules! struct_impls {
    ($($trait:ident),* $(,)?) => {
        $(impl ser::$trait for StructWriter<'_> {
            type Ok = ();
            type Error = MetadataError;

            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), MetadataError> {
                self.field(key, value)
            }

            fn end(self) -> Result<(), MetadataError> {
                self.finish()
            }
        })*
    };
}

struct_impls!(SerializeStruct, SerializeStructVariant);

/// A map key as text, as serde_json writes keys.
struct KeyWriter;

fn not_a_key() -> MetadataError {
    MetadataError("a map key must be a string, a character, a boolean or an integer".to_owned())
}

/// The serializer methods of [`KeyWriter`] for integers: their decimal text.
macro_rules! integer_keys {
    ($($method:ident($arg:ty)),* $(,)?) => {
        $(fn $method(self, v: $arg) -> Result<String, MetadataError> { Ok(v.to_string()) })*
    };
}

impl ser::Serializer for KeyWriter {
    type Ok = String;
    type Error = MetadataError;
    type SerializeSeq = ser::Impossible<String, MetadataError>;
    type SerializeTuple = ser::Impossible<String, MetadataError>;
    type SerializeTupleStruct = ser::Impossible<String, MetadataError>;
    type SerializeTupleVariant = ser::Impossible<String, MetadataError>;
    type SerializeMap = ser::Impossible<String, MetadataError>;
    type SerializeStruct = ser::Impossible<String, MetadataError>;
    type SerializeStructVariant = ser::Impossible<String, MetadataError>;

    integer_keys!(
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
        serialize_bool(bool),
    );

    refuse!(
        String, not_a_key;
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str),
    );

    fn serialize_char(self, v: char) -> Result<String, MetadataError> {
        Ok(v.to_string())
    }

    fn serialize_str(self, v: &str) -> Result<String, MetadataError> {
        Ok(v.to_owned())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<String, MetadataError> {
        Err(not_a_key())
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<String, MetadataError> {
        Ok(variant.to_owned())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<String, MetadataError> {
        value.serialize(self)
    }

    refuse_compounds!(String, not_a_key);

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, MetadataError> {
        Err(not_a_key())
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, MetadataError> {
        Err(not_a_key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use envoy_types::pb::google::protobuf::{Struct, Value as PbValue, value};
    use proptest::prelude::*;
    use prost::Message;
    use serde_json::{Value, json};
    use std::collections::BTreeMap;

    /// The oracle: serde_json's own value, turned into prost's `Struct` field by field.
    fn expected_value(v: &Value) -> PbValue {
        let kind = match v {
            Value::Null => value::Kind::NullValue(0),
            Value::Bool(b) => value::Kind::BoolValue(*b),
            Value::Number(n) => value::Kind::NumberValue(n.as_f64().unwrap_or_default()),
            Value::String(s) => value::Kind::StringValue(s.clone()),
            Value::Array(items) => {
                value::Kind::ListValue(envoy_types::pb::google::protobuf::ListValue {
                    values: items.iter().map(expected_value).collect(),
                })
            }
            Value::Object(map) => value::Kind::StructValue(expected_struct(map)),
        };
        PbValue { kind: Some(kind) }
    }

    fn expected_struct(map: &serde_json::Map<String, Value>) -> Struct {
        Struct {
            fields: map
                .iter()
                .map(|(k, v)| (k.clone(), expected_value(v)))
                .collect(),
        }
    }

    fn decoded<T: Serialize>(value: &T) -> Struct {
        let bytes = struct_bytes(value).unwrap();
        Struct::decode(bytes.as_slice()).unwrap()
    }

    /// JSON values with numbers at the edges (±2^53, the integer limits, fractions,
    /// huge doubles), empty and nested containers, and keys that repeat nowhere.
    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            prop_oneof![
                Just(json!(9_007_199_254_740_992_i64)),
                Just(json!(-9_007_199_254_740_993_i64)),
                Just(json!(i64::MIN)),
                Just(json!(u64::MAX)),
                Just(json!(0)),
                Just(json!(-0.0)),
                Just(json!(1e300)),
                Just(json!(0.1)),
                any::<i64>().prop_map(|n| json!(n)),
                any::<f64>()
                    .prop_filter("finite", |f| f.is_finite())
                    .prop_map(|f| json!(f)),
            ],
            "\\PC{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map("[a-z_]{0,8}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_json_object_encodes_as_the_struct_serde_json_describes(
            fields in prop::collection::btree_map("\\PC{0,10}", json_value(), 0..8)
        ) {
            let object: serde_json::Map<String, Value> = fields.into_iter().collect();
            prop_assert_eq!(decoded(&object), expected_struct(&object));
        }
    }

    #[test]
    fn derived_shapes_encode_as_their_json() {
        #[derive(serde::Serialize)]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        enum Kind {
            Allow,
            Wrapped(u8),
            Pair(i32, String),
            Named { n: f64 },
        }
        #[derive(serde::Serialize)]
        struct Shape {
            unit: Kind,
            newtype: Kind,
            tuple: Kind,
            named: Kind,
            absent: Option<&'static str>,
            present: Option<&'static str>,
            nan: f64,
            bytes: serde_bytes_like::Bytes,
            chars: char,
            int_keys: BTreeMap<i32, bool>,
            nothing: (),
        }
        mod serde_bytes_like {
            pub struct Bytes(pub &'static [u8]);
            impl serde::Serialize for Bytes {
                fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                    s.serialize_bytes(self.0)
                }
            }
        }
        let shape = Shape {
            unit: Kind::Allow,
            newtype: Kind::Wrapped(7),
            tuple: Kind::Pair(-1, "x".to_owned()),
            named: Kind::Named { n: 0.5 },
            absent: None,
            present: Some("here"),
            nan: f64::NAN,
            bytes: serde_bytes_like::Bytes(&[1, 255]),
            chars: 'é',
            int_keys: [(-3, true), (10, false)].into(),
            nothing: (),
        };
        let Value::Object(as_json) = serde_json::to_value(&shape).unwrap() else {
            unreachable!()
        };
        assert_eq!(
            Value::Object(as_json.clone()),
            json!({
                "unit": "ALLOW", "newtype": {"WRAPPED": 7}, "tuple": {"PAIR": [-1, "x"]},
                "named": {"NAMED": {"n": 0.5}}, "absent": null, "present": "here",
                "nan": null, "bytes": [1, 255], "chars": "é",
                "int_keys": {"-3": true, "10": false}, "nothing": null
            })
        );
        assert_eq!(decoded(&shape), expected_struct(&as_json));
    }

    #[test]
    fn only_a_map_or_a_struct_is_a_struct_and_keys_are_text() {
        for refused in [json!(1), json!("x"), json!([1]), Value::Null] {
            assert_eq!(struct_bytes(&refused), Err(not_a_struct()), "{refused}");
        }
        let byte_keys: BTreeMap<Vec<u8>, u8> = [(vec![1], 1)].into();
        assert_eq!(struct_bytes(&byte_keys), Err(not_a_key()));
        let raw = serde_json::value::RawValue::from_string("[1]".to_owned()).unwrap();
        let with_raw: BTreeMap<&str, &serde_json::value::RawValue> = [("raw", &*raw)].into();
        assert!(struct_bytes(&with_raw).is_err());
        // An empty object is an empty Struct: no bytes at all.
        assert_eq!(struct_bytes(&serde_json::Map::new()), Ok(Vec::new()));
    }

    #[test]
    fn a_struct_refused_halfway_leaves_the_buffer_as_it_was() {
        #[derive(serde::Serialize)]
        struct Halfway<'a> {
            a: &'a str,
            b: f64,
            nested: BTreeMap<&'a str, &'a serde_json::value::RawValue>,
        }
        // Entries before the one refused are written first, then taken back; the bytes
        // already in the buffer stay.
        let mut out = vec![0x0A, 0x00];
        let raw = serde_json::value::RawValue::from_string("[1]".to_owned()).unwrap();
        let value = Halfway {
            a: "text",
            b: 1.5,
            nested: [("z", &*raw)].into(),
        };
        assert!(append_struct(&mut out, &value).is_err());
        assert_eq!(out, [0x0A, 0x00]);
        // The same buffer then takes a Struct that has one.
        assert_eq!(append_struct(&mut out, &json!({"a": "text"})), Ok(()));
        assert_eq!(
            Struct::decode(&out[2..]).unwrap(),
            expected_struct(json!({"a": "text"}).as_object().unwrap())
        );
    }
}
