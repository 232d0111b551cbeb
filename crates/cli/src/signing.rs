//! Signed policies: ed25519 keys, detached signatures over a policy file's bytes, and
//! their verification (`policygate keygen`, `policygate sign`, `serve --verify-key`).
//!
//! Files (text, one `key: value` per line after a header line, so they diff and grep):
//!
//! ```text
//! # PREFIX.pub                         # PREFIX.key (mode 0600)
//! policygate-ed25519-public-key v1     policygate-ed25519-private-key v1
//! key_id: 3f0c…(16 hex)                key_id: 3f0c…
//! key: <64 hex: the public key>        key: <64 hex: the secret seed>
//!
//! # POLICY.sig (next to the policy: `policy.yaml.sig`)
//! policygate-policy-signature v1
//! key_id: 3f0c…
//! signature: <128 hex: ed25519 over the policy file's exact bytes>
//! ```
//!
//! The key id is the first 8 bytes of SHA-256 of the public key, in hex: it names the
//! key a policy was signed with, so that a wrong key is reported as such. With a verify
//! key, a policy without a signature, with another key's signature, or whose bytes
//! changed after signing is refused, at start and at every reload; there is no
//! fallback to unsigned.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use std::path::{Path, PathBuf};

const PUBLIC_HEADER: &str = "policygate-ed25519-public-key v1";
const PRIVATE_HEADER: &str = "policygate-ed25519-private-key v1";
const SIGNATURE_HEADER: &str = "policygate-policy-signature v1";

/// The signature file of `policy`: `policy.yaml` → `policy.yaml.sig`.
pub fn signature_path(policy: &Path) -> PathBuf {
    let mut name = policy.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let text = text.trim();
    if text.len() != 2 * N || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The key id of a public key.
pub fn key_id(key: &VerifyingKey) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(key.as_bytes());
    hex(digest.as_slice().get(..8).unwrap_or_default())
}

/// Reads `header` then `key: value` lines into (key, value) pairs.
fn fields(text: &str, header: &str, what: &str) -> Result<Vec<(String, String)>, String> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    if lines.next() != Some(header) {
        return Err(format!("not a {what} (its first line must be `{header}`)"));
    }
    lines
        .map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .ok_or_else(|| format!("a {what} line is not `key: value`"))
        })
        .collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str, what: &str) -> Result<&'a str, String> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .ok_or_else(|| format!("the {what} has no `{name}:` line"))
}

/// A new key pair: (public file text, private file text).
pub fn generate() -> Result<(String, String), String> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| format!("no random source: {e}"))?;
    let signing = SigningKey::from_bytes(&seed);
    let public = signing.verifying_key();
    let id = key_id(&public);
    Ok((
        format!(
            "{PUBLIC_HEADER}\nkey_id: {id}\nkey: {}\n",
            hex(public.as_bytes())
        ),
        format!("{PRIVATE_HEADER}\nkey_id: {id}\nkey: {}\n", hex(&seed)),
    ))
}

/// Parses a public key file.
pub fn parse_public(text: &str) -> Result<VerifyingKey, String> {
    let f = fields(text, PUBLIC_HEADER, "public key file")?;
    let bytes = unhex::<32>(field(&f, "key", "public key file")?)
        .ok_or("the public key is not 64 hex digits")?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| format!("not an ed25519 public key: {e}"))
}

/// Parses a private key file.
pub fn parse_private(text: &str) -> Result<SigningKey, String> {
    let f = fields(text, PRIVATE_HEADER, "private key file")?;
    let seed = unhex::<32>(field(&f, "key", "private key file")?)
        .ok_or("the private key is not 64 hex digits")?;
    Ok(SigningKey::from_bytes(&seed))
}

/// The signature file text for `policy` bytes.
pub fn sign(key: &SigningKey, policy: &[u8]) -> String {
    let signature = key.sign(policy);
    format!(
        "{SIGNATURE_HEADER}\nkey_id: {}\nsignature: {}\n",
        key_id(&key.verifying_key()),
        hex(&signature.to_bytes())
    )
}

/// Checks that `signature` (a signature file's text) signs `policy` with `key`. The
/// error says what is wrong and how to fix it.
pub fn verify(key: &VerifyingKey, policy: &[u8], signature: &str) -> Result<(), String> {
    let f = fields(signature, SIGNATURE_HEADER, "policy signature file")?;
    let expected = key_id(key);
    let found = field(&f, "key_id", "policy signature file")?;
    if found != expected {
        return Err(format!(
            "the policy is signed with key `{found}`, not with the verify key `{expected}`; sign it with the matching private key"
        ));
    }
    let bytes = unhex::<64>(field(&f, "signature", "policy signature file")?)
        .ok_or("the signature is not 128 hex digits")?;
    key.verify(policy, &Signature::from_bytes(&bytes)).map_err(|_| {
        "the signature does not match the policy's bytes (changed after signing?); sign the policy again with `policygate sign`".to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies_and_refuses_every_mismatch() {
        let (public, private) = generate().unwrap();
        let key = parse_private(&private).unwrap();
        let verify_key = parse_public(&public).unwrap();
        assert_eq!(key.verifying_key(), verify_key);
        let signature = sign(&key, b"policy bytes");
        assert_eq!(verify(&verify_key, b"policy bytes", &signature), Ok(()));
        let changed = verify(&verify_key, b"policy bytes!", &signature).unwrap_err();
        assert!(changed.contains("does not match"), "{changed}");
        let (other_public, _) = generate().unwrap();
        let other = parse_public(&other_public).unwrap();
        let wrong = verify(&other, b"policy bytes", &signature).unwrap_err();
        assert!(wrong.contains("signed with key"), "{wrong}");
        assert!(verify(&verify_key, b"x", "garbage").is_err());
        assert!(parse_public(&private).is_err());
        assert!(parse_private(&public).is_err());
        assert_eq!(
            signature_path(Path::new("a/p.yaml")),
            Path::new("a/p.yaml.sig")
        );
    }
}
