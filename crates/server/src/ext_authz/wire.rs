//! Writing protobuf fields straight into a byte buffer: the helpers behind the answers
//! whose wire form the service writes itself (`metadata`, for the decision's `Struct`,
//! and `service::CheckAnswer::allowed`, for an allowed Check's whole `CheckResponse`).
//!
//! A length-delimited field whose length is not known yet is [`open`]ed (its key and
//! room for the length) and [`close`]d once its bytes are written. Singular fields
//! follow proto3's rule as prost does: an empty string or a zero is not written.

use prost::encoding::{WireType, encode_key, encode_varint};

/// Room left for a length before a message's bytes are known: five varint bytes hold
/// any length below 2^35.
const LENGTH_ROOM: usize = 5;

/// Starts a length-delimited field in place: its key and room for its length; returns
/// where its bytes begin, for [`close`].
pub(super) fn open(out: &mut Vec<u8>, tag: u32) -> usize {
    encode_key(tag, WireType::LengthDelimited, out);
    out.extend_from_slice(&[0; LENGTH_ROOM]);
    out.len()
}

/// Ends the field [`open`] started at `start`: writes its length (the shortest varint)
/// into the room left for it, and closes the gap.
pub(super) fn close(out: &mut Vec<u8>, start: usize) {
    let mut length = [0_u8; 10];
    let mut rest = &mut length[..];
    encode_varint((out.len() - start) as u64, &mut rest);
    let used = 10 - rest.len();
    out.splice(start - LENGTH_ROOM..start, length[..used].iter().copied());
}

/// A string field, written even when empty (an element of a repeated field, a map
/// key).
pub(super) fn put_text(out: &mut Vec<u8>, tag: u32, text: &str) {
    encode_key(tag, WireType::LengthDelimited, out);
    encode_varint(text.len() as u64, out);
    out.extend_from_slice(text.as_bytes());
}

/// A singular string field: not written when empty (proto3).
pub(super) fn put_string_field(out: &mut Vec<u8>, tag: u32, text: &str) {
    if !text.is_empty() {
        put_text(out, tag, text);
    }
}

/// A singular varint field (an `int32`, an enum): not written when zero (proto3).
pub(super) fn put_varint_field(out: &mut Vec<u8>, tag: u32, value: u64) {
    if value != 0 {
        encode_key(tag, WireType::Varint, out);
        encode_varint(value, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_take_the_shortest_varint() {
        for len in [0_usize, 1, 127, 128, 300, 16_383, 16_384, 70_000] {
            let mut out = vec![0xAA];
            let start = open(&mut out, 3);
            out.extend(std::iter::repeat_n(7_u8, len));
            close(&mut out, start);
            let mut expected = vec![0xAA, 3 << 3 | 2];
            encode_varint(len as u64, &mut expected);
            expected.extend(std::iter::repeat_n(7_u8, len));
            assert_eq!(out, expected, "{len}");
        }
    }

    #[test]
    fn singular_fields_skip_their_default() {
        let mut out = Vec::new();
        put_string_field(&mut out, 1, "");
        put_varint_field(&mut out, 2, 0);
        assert!(out.is_empty());
        put_string_field(&mut out, 1, "ab");
        put_varint_field(&mut out, 2, 300);
        assert_eq!(out, [0x0A, 2, b'a', b'b', 0x10, 0xAC, 0x02]);
        put_text(&mut out, 5, "");
        assert_eq!(out[out.len() - 2..], [0x2A, 0]);
    }
}
