//! The audit hash chain: the canonical form every audit line is hashed in, and how a
//! line is sealed into the chain. This is part of the audit contract (version 2.0);
//! the server's writer and `policygate audit verify` both use exactly these functions.
//!
//! # The canonical form
//!
//! The hash of a line is **SHA-256 over the line's bytes exactly as written, without
//! its trailing newline** (`\n`). Nothing is re-serialised: a verifier hashes what it
//! reads, so any edit to a byte of a line changes its hash.
//!
//! Every line (decision events and opening events alike) ends with two chain fields,
//! written last: `"seq"`, its sequence number (one more than the line before it in the
//! stream, across rotated files and restarts), and `"prev_hash"`, the lowercase hex
//! SHA-256 of the line before it ([`GENESIS_HASH`] for the very first line of a chain).
//! Editing, deleting, inserting or reordering a line therefore breaks the `seq` or
//! `prev_hash` of the line after it; only the last line of a stream is protected by
//! nothing after it (a signed checkpoint, when configured, covers the head).

use sha2::{Digest as _, Sha256};

/// A SHA-256 digest of one line.
pub type LineHash = [u8; 32];

/// `prev_hash` of the first line of a chain: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash of one line, as defined by the canonical form (the bytes without the
/// newline).
pub fn line_hash(line: &[u8]) -> LineHash {
    Sha256::digest(line).into()
}

/// The lowercase hex form of a hash, as `prev_hash` writes it.
pub fn hash_hex(hash: &LineHash) -> String {
    let mut out = String::with_capacity(64);
    for b in hash {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Seals `body`, a JSON object serialised without its chain fields (as
/// [`crate::AuditEventRef`] writes it), into `out`: the object with `"seq"` and
/// `"prev_hash"` appended as its last members. Returns the hash of the sealed line.
///
/// `body` must end with `}`; a body that does not (which serialising an event never
/// gives) is written as an object holding only the chain fields, so that the chain
/// stays verifiable and the defect is visible.
pub fn seal_into(out: &mut Vec<u8>, body: &[u8], seq: u64, prev: &LineHash) -> LineHash {
    let start = out.len();
    match body.strip_suffix(b"}") {
        Some(open) if open.len() > 1 => {
            out.extend_from_slice(open);
            out.push(b',');
        }
        Some(open) => out.extend_from_slice(open),
        None => out.push(b'{'),
    }
    out.extend_from_slice(b"\"seq\":");
    out.extend_from_slice(itoa::Buffer::new().format(seq).as_bytes());
    out.extend_from_slice(b",\"prev_hash\":\"");
    for b in prev {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 0xf)]);
    }
    out.extend_from_slice(b"\"}");
    line_hash(&out[start..])
}

/// The bytes a checkpoint signs: `policygate.audit.checkpoint/2.0:{head_seq}:{head_hash}`
/// (the hash in lowercase hex).
pub fn checkpoint_message(head_seq: u64, head_hash: &LineHash) -> Vec<u8> {
    format!(
        "policygate.audit.checkpoint/2.0:{head_seq}:{}",
        hash_hex(head_hash)
    )
    .into_bytes()
}

/// Lowercase hex of any bytes (keys and signatures).
pub fn to_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

/// Bytes from lowercase or uppercase hex; `None` for an odd length or a non-hex digit.
pub fn from_hex(hex: &str) -> Option<Vec<u8>> {
    let hex = hex.trim().as_bytes();
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| char::from(c).to_digit(16);
    hex.chunks_exact(2)
        .map(|p| u8::try_from(digit(p[0])? * 16 + digit(p[1])?).ok())
        .collect()
}

/// Parses a `prev_hash` value back into a hash (64 lowercase hex digits).
pub fn parse_hash(hex: &str) -> Option<LineHash> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let digit = |c: u8| HEX.iter().position(|h| *h == c);
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let hi = digit(pair[0])?;
        let lo = digit(pair[1])?;
        out[i] = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealing_appends_the_chain_fields_and_hashes_the_sealed_bytes() {
        let prev = line_hash(b"x");
        let mut out = Vec::new();
        let h = seal_into(&mut out, br#"{"a":1}"#, 7, &prev);
        let text = String::from_utf8(out.clone()).unwrap();
        assert_eq!(
            text,
            format!(r#"{{"a":1,"seq":7,"prev_hash":"{}"}}"#, hash_hex(&prev))
        );
        assert_eq!(h, line_hash(&out));
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(parse_hash(v["prev_hash"].as_str().unwrap()), Some(prev));
        let mut empty = Vec::new();
        seal_into(&mut empty, b"{}", 1, &[0; 32]);
        assert_eq!(
            String::from_utf8(empty).unwrap(),
            format!(r#"{{"seq":1,"prev_hash":"{GENESIS_HASH}"}}"#)
        );
    }

    #[test]
    fn hashes_round_trip_and_bad_hex_is_refused() {
        let h = line_hash(b"abc");
        assert_eq!(parse_hash(&hash_hex(&h)), Some(h));
        assert_eq!(parse_hash(GENESIS_HASH), Some([0; 32]));
        assert_eq!(parse_hash("ab"), None);
        assert_eq!(parse_hash(&"G".repeat(64)), None);
        assert_eq!(parse_hash(&hash_hex(&h).to_uppercase()), None);
    }
}
