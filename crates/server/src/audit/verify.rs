//! Verifying an audit trail: JSON and schema of every line, `seq` continuity and the
//! hash chain (`api::chain`) within and across files given in chain order (rotated
//! files oldest first, or one file written across restarts). What `policygate audit
//! verify` runs; the command only prints the report.
//!
//! A torn final line (no newline) is reported as such, not as tampering: a crash or a
//! full disk leaves one. A fragment that a restart sealed off (ended with a newline)
//! is accepted when the opening event right after it records its length and chains
//! to the line before it. Every other defect is a break. After a break the check
//! goes on from the breaking line, so that one edit is reported once.

use ed25519_dalek::{Signature, VerifyingKey};
use policygate_api::chain::{self, LineHash};
use policygate_api::{
    AuditLineError, AuditRecord, AuditVerifyReport, BreakReason, ChainBreak, VerifiedFile,
    VerifyTotals,
};
use std::path::Path;

/// Where the chain stands after the lines read so far.
#[derive(Debug, Clone, Copy)]
struct Head {
    /// `seq` and hash of the last record.
    seq: u64,
    hash: LineHash,
}

/// The public key checkpoints are verified with: 64 hex digits (what the server
/// logs on start), or a file holding them.
pub fn parse_verify_key(text: &str) -> Result<VerifyingKey, String> {
    let hex = match chain::from_hex(text) {
        Some(bytes) => bytes,
        None => {
            let file = std::fs::read_to_string(text).map_err(|e| {
                format!("`{text}` is neither 64 hex digits nor a readable key file: {e}")
            })?;
            chain::from_hex(&file).ok_or_else(|| format!("`{text}` does not hold 64 hex digits"))?
        }
    };
    let bytes: [u8; 32] = hex
        .try_into()
        .map_err(|_| "an ed25519 public key is 32 bytes (64 hex digits)".to_owned())?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| format!("not an ed25519 public key: {e}"))
}

/// Verifies files given by path, in chain order; checkpoints' signatures are checked
/// when `key` is given.
pub fn verify_paths(paths: &[impl AsRef<Path>], key: Option<&VerifyingKey>) -> AuditVerifyReport {
    let files: Vec<(String, std::io::Result<Vec<u8>>)> = paths
        .iter()
        .map(|p| (p.as_ref().display().to_string(), std::fs::read(p)))
        .collect();
    verify(&files, key)
}

/// Verifies files given as their names and contents (or the error reading them), in
/// chain order.
pub fn verify(
    files: &[(String, std::io::Result<Vec<u8>>)],
    key: Option<&VerifyingKey>,
) -> AuditVerifyReport {
    let mut head: Option<Head> = None;
    let mut signed_through_seq = None;
    let mut out = Vec::new();
    for (name, bytes) in files {
        let file = match bytes {
            Ok(bytes) => verify_file(name, bytes, &mut head, key, &mut signed_through_seq),
            Err(e) => VerifiedFile {
                path: name.clone(),
                events: 0,
                valid_events: 0,
                first_seq: None,
                last_seq: None,
                torn_tail_bytes: None,
                sealed_fragments: 0,
                checkpoints: 0,
                breaks: vec![ChainBreak {
                    line: 0,
                    reason: BreakReason::Unreadable,
                    message: format!("cannot read the file: {e}"),
                }],
            },
        };
        out.push(file);
    }
    let total = VerifyTotals {
        files: out.len() as u64,
        valid_files: out.iter().filter(|f| f.breaks.is_empty()).count() as u64,
        events: out.iter().map(|f| f.events).sum(),
        valid_events: out.iter().map(|f| f.valid_events).sum(),
        signed_through_seq,
        last_seq: head.map(|h| h.seq),
    };
    AuditVerifyReport {
        ok: total.valid_files == total.files,
        files: out,
        total,
    }
}

fn verify_file(
    name: &str,
    bytes: &[u8],
    head: &mut Option<Head>,
    key: Option<&VerifyingKey>,
    signed_through_seq: &mut Option<u64>,
) -> VerifiedFile {
    let mut file = VerifiedFile {
        path: name.to_owned(),
        events: 0,
        valid_events: 0,
        first_seq: None,
        last_seq: None,
        torn_tail_bytes: None,
        sealed_fragments: 0,
        checkpoints: 0,
        breaks: Vec::new(),
    };
    let mut lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    // `split` yields an empty piece after a final newline; any other last piece is a
    // line without its newline: torn.
    match lines.pop() {
        Some([]) | None => {}
        Some(torn) => file.torn_tail_bytes = Some(torn.len() as u64),
    }
    // A line that is not JSON, held until the next line says whether a restart
    // sealed it off: (line number, length, message).
    let mut fragment: Option<(u64, usize, String)> = None;
    for (i, line) in lines.iter().enumerate() {
        let number = i as u64 + 1;
        let record = match AuditRecord::parse(line) {
            Ok(record) => record,
            Err(AuditLineError::Json(message)) => {
                if let Some((n, _, m)) = fragment.take() {
                    file.breaks.push(broken(n, BreakReason::InvalidJson, m));
                }
                fragment = Some((number, line.len(), message));
                continue;
            }
            Err(AuditLineError::Schema(message)) => {
                if let Some((n, _, m)) = fragment.take() {
                    file.breaks.push(broken(n, BreakReason::InvalidJson, m));
                }
                file.events += 1;
                file.breaks
                    .push(broken(number, BreakReason::InvalidSchema, message));
                // The chain goes on from this line, so that the next one is judged
                // on its own.
                *head = Some(Head {
                    seq: seq_of(line).unwrap_or(0),
                    hash: chain::line_hash(line),
                });
                continue;
            }
        };
        file.events += 1;
        file.first_seq.get_or_insert(record.seq());
        file.last_seq = Some(record.seq());
        let opening = match &record {
            AuditRecord::Opened(o) => Some(o.torn_tail_bytes),
            AuditRecord::Evaluated(_)
            | AuditRecord::Checkpoint(_)
            | AuditRecord::PolicyChanged(_)
            | AuditRecord::Suppressed(_) => None,
        };
        if let Some((n, len, message)) = fragment.take() {
            if opening == Some(Some(len as u64)) {
                file.sealed_fragments += 1;
            } else {
                file.breaks
                    .push(broken(n, BreakReason::InvalidJson, message));
            }
        }
        let mut ok = true;
        if i == 0 && opening.is_none() {
            ok = false;
            file.breaks.push(broken(
                number,
                BreakReason::MissingOpening,
                "the file does not start with an opening event (policygate.audit.opened): its first lines were removed, or it is not a file the server started".into(),
            ));
        }
        // The files given are one chain: only its very first line is taken on trust
        // (its `prev_hash` is genesis, or the hash of a line in a file not given).
        if let Some(h) = *head {
            if record.seq() != h.seq.wrapping_add(1) {
                ok = false;
                file.breaks.push(broken(
                    number,
                    BreakReason::SeqGap,
                    format!(
                        "seq is {}, expected {}: a line was removed, inserted or moved",
                        record.seq(),
                        h.seq.wrapping_add(1)
                    ),
                ));
            } else if chain::parse_hash(record.prev_hash()) != Some(h.hash) {
                ok = false;
                file.breaks.push(broken(
                    number,
                    BreakReason::PrevHashMismatch,
                    format!(
                        "prev_hash is not the hash of the line before ({}): that line was changed, or lines were removed, inserted or moved",
                        chain::hash_hex(&h.hash)
                    ),
                ));
            }
        }
        if let AuditRecord::Checkpoint(c) = &record {
            file.checkpoints += 1;
            match check_checkpoint(c, key) {
                Err(message) => {
                    ok = false;
                    file.breaks
                        .push(broken(number, BreakReason::BadCheckpoint, message));
                }
                Ok(true) if ok => *signed_through_seq = Some(c.head_seq),
                Ok(_) => {}
            }
        }
        if ok {
            file.valid_events += 1;
        }
        *head = Some(Head {
            seq: record.seq(),
            hash: chain::line_hash(line),
        });
    }
    if let Some((n, _, message)) = fragment {
        file.breaks
            .push(broken(n, BreakReason::InvalidJson, message));
    }
    file
}

/// Whether a checkpoint's signature verified (`false` without a key); an error when
/// it does not sign the line before it or its signature fails.
fn check_checkpoint(
    c: &policygate_api::AuditCheckpoint,
    key: Option<&VerifyingKey>,
) -> Result<bool, String> {
    if c.head_hash != c.prev_hash || c.seq != c.head_seq.wrapping_add(1) {
        return Err("the checkpoint does not sign the line before it".into());
    }
    let Some(key) = key else {
        return Ok(false);
    };
    if c.public_key != chain::to_hex(key.as_bytes()) {
        return Err(format!(
            "signed by another key ({}) than the one given",
            c.public_key
        ));
    }
    let head = chain::parse_hash(&c.head_hash).ok_or("head_hash is not a hash")?;
    let signature: [u8; 64] = chain::from_hex(&c.signature)
        .and_then(|b| b.try_into().ok())
        .ok_or("the signature is not 64 bytes of hex")?;
    key.verify_strict(
        &chain::checkpoint_message(c.head_seq, &head),
        &Signature::from_bytes(&signature),
    )
    .map_err(|_| {
        "the signature does not verify: the lines it covers are not what the key holder wrote"
            .to_owned()
    })?;
    Ok(true)
}

fn broken(line: u64, reason: BreakReason, message: String) -> ChainBreak {
    ChainBreak {
        line,
        reason,
        message,
    }
}

/// `seq` of a line that is JSON but not a valid record, when it has one.
fn seq_of(line: &[u8]) -> Option<u64> {
    serde_json::from_slice::<serde_json::Value>(line)
        .ok()?
        .get("seq")?
        .as_u64()
}

#[cfg(test)]
mod tests;
