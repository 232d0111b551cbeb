use super::*;
use crate::audit::chain::{Chain, ChainStart, resume};
use crate::audit::clock::FixedClock;
use crate::audit::event::{EventParts, serialize_event};
use ed25519_dalek::VerifyingKey;
use policygate_api::{AuditEvaluationRef, ErrorCode, PolicyIdentity};
use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn identity() -> PolicyIdentity {
    PolicyIdentity {
        policy_id: "p".into(),
        policy_version: "1".into(),
        policy_sha256: "a".repeat(64),
    }
}

fn clock() -> FixedClock {
    FixedClock::new(
        time::OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
        Duration::from_micros(5),
    )
}

/// `n` event bodies, as the handlers serialise them (each distinct).
fn bodies(n: usize) -> Vec<u8> {
    let identity = policygate_api::Rendered::new(identity());
    let mut batch = Vec::new();
    for i in 0..n {
        let id = format!("req-{i}");
        let line = serialize_event(
            EventParts {
                event_type: policygate_api::AUDIT_EVENT_TYPE,
                request_id: &id,
                trace: None,
                caller: None,
                evaluation: AuditEvaluationRef::refused(None, None, ErrorCode::InvalidJson),
                context: None,
                covers: None,
                latency_ms: 0.005,
                shadow: None,
            },
            &identity,
            None,
            &clock(),
        );
        batch.extend_from_slice(line.as_ref());
        batch.push(b'\n');
    }
    batch
}

/// A trail as the server writes it: the opening event, then `n` events in two
/// batches.
fn trail(n: usize) -> Vec<u8> {
    let out = Shared::default();
    let mut chain = Chain::new(Box::new(out.clone()), ChainStart::NEW);
    chain
        .open_file(&identity(), None, Arc::new(clock()))
        .unwrap();
    let batch = bodies(n);
    let lines: Vec<&[u8]> = batch.split_inclusive(|b| *b == b'\n').collect();
    let half = lines.len() / 2;
    chain.write_batch(&lines[..half].concat()).unwrap();
    chain.write_batch(&lines[half..].concat()).unwrap();
    drop(chain);
    std::mem::take(&mut *out.0.lock().unwrap())
}

fn one(bytes: Vec<u8>) -> AuditVerifyReport {
    verify(&[("audit.log".to_owned(), Ok(bytes))], None)
}

fn split(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes
        .split_inclusive(|b| *b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

#[test]
fn a_trail_as_written_verifies() {
    let report = one(trail(6));
    assert!(report.ok, "{report:#?}");
    let f = &report.files[0];
    assert_eq!((f.events, f.valid_events), (7, 7));
    assert_eq!((f.first_seq, f.last_seq), (Some(1), Some(7)));
    assert_eq!(f.torn_tail_bytes, None);
    assert_eq!(report.total.valid_events, 7);
}

/// Editing any byte of any line but the last, deleting any line but the last,
/// inserting a copy of any line anywhere and swapping any two neighbours are all
/// detected. (The last line has nothing after it; signed checkpoints cover it.)
#[test]
fn editing_deleting_inserting_or_reordering_any_line_is_detected() {
    let lines = split(&trail(5));
    let n = lines.len();
    let check = |mutated: Vec<Vec<u8>>, what: &str| {
        let report = one(mutated.concat());
        assert!(!report.ok, "{what} went unnoticed: {report:#?}");
        assert!(
            report.total.valid_events < report.total.events,
            "{what}: some line is counted as not valid: {report:#?}"
        );
    };
    for i in 0..n - 1 {
        // Edit: change one character of the request id (or the policy id) in place.
        let mut edited = lines.clone();
        let pos = edited[i]
            .windows(4)
            .position(|w| w == b"req-" || w == b"\"p\",")
            .unwrap();
        edited[i][pos + 1] = b'X';
        check(edited, &format!("editing line {}", i + 1));
        // A change that keeps the line valid JSON of the schema, too.
        let mut rehashed = lines.clone();
        let text = String::from_utf8(rehashed[i].clone()).unwrap();
        rehashed[i] = text.replace("2023-11-14", "2023-11-15").into_bytes();
        assert_ne!(rehashed[i], lines[i]);
        check(rehashed, &format!("changing the time of line {}", i + 1));
        // Delete.
        let mut deleted = lines.clone();
        deleted.remove(i);
        check(deleted, &format!("deleting line {}", i + 1));
        // Reorder.
        let mut swapped = lines.clone();
        swapped.swap(i, i + 1);
        check(swapped, &format!("swapping lines {} and {}", i + 1, i + 2));
    }
    for at in 0..=n {
        for copy in 0..n {
            let mut inserted = lines.clone();
            inserted.insert(at, lines[copy].clone());
            check(inserted, &format!("inserting line {} at {at}", copy + 1));
        }
    }
}

#[test]
fn a_break_is_reported_at_the_line_after_the_edit_with_its_reason() {
    let mut lines = split(&trail(4));
    let text = String::from_utf8(lines[2].clone()).unwrap();
    lines[2] = text.replace("req-1", "req-9").into_bytes();
    let report = one(lines.concat());
    let f = &report.files[0];
    assert_eq!(f.breaks.len(), 1, "{f:#?}");
    assert_eq!(f.breaks[0].line, 4);
    assert_eq!(f.breaks[0].reason, BreakReason::PrevHashMismatch);
    assert_eq!((f.events, f.valid_events), (5, 4));
}

#[test]
fn a_torn_final_line_is_reported_as_such_not_as_tampering() {
    let mut bytes = trail(3);
    bytes.truncate(bytes.len() - 40);
    let report = one(bytes);
    assert!(report.ok, "{report:#?}");
    let f = &report.files[0];
    assert!(f.torn_tail_bytes.is_some_and(|b| b > 0));
    assert_eq!((f.events, f.valid_events), (3, 3));
}

#[test]
fn a_restart_seals_a_torn_tail_and_the_chain_goes_on() {
    let dir = std::env::temp_dir().join(format!("pg-verify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("audit.log");
    let mut bytes = trail(3);
    bytes.truncate(bytes.len() - 25);
    std::fs::write(&path, &bytes).unwrap();
    // What `run` does on start.
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .append(true)
        .open(&path)
        .unwrap();
    let start = resume(&mut file).unwrap();
    assert_eq!(start.seq, 4);
    let mut chain = Chain::new(Box::new(file), start);
    chain
        .open_file(&identity(), start.torn_tail_bytes, Arc::new(clock()))
        .unwrap();
    chain.write_batch(&bodies(2)).unwrap();
    drop(chain);
    let report = verify_paths(&[&path], None);
    assert!(report.ok, "{report:#?}");
    let f = &report.files[0];
    assert_eq!(f.sealed_fragments, 1);
    assert_eq!(f.torn_tail_bytes, None);
    // Opening, events 2 and 3 (event 4 was torn), opening 4, events 5 and 6.
    assert_eq!((f.events, f.valid_events), (6, 6));
    assert_eq!(f.last_seq, Some(6));
}

#[test]
fn files_are_verified_as_one_chain_in_the_order_given() {
    let lines = split(&trail(5));
    // A later file continues the chain: its own opening event linked to the last line.
    let out = Shared::default();
    let last = lines.last().unwrap();
    let last = &last[..last.len() - 1];
    let mut chain = Chain::new(
        Box::new(out.clone()),
        ChainStart {
            seq: 7,
            prev: chain::line_hash(last),
            torn_tail_bytes: None,
        },
    );
    chain
        .open_file(&identity(), None, Arc::new(clock()))
        .unwrap();
    chain.write_batch(&bodies(2)).unwrap();
    let second = out.0.lock().unwrap().clone();
    let files = vec![
        ("a".to_owned(), Ok(lines.concat())),
        ("b".to_owned(), Ok(second.clone())),
    ];
    let report = verify(&files, None);
    assert!(report.ok, "{report:#?}");
    assert_eq!(report.total.events, 9);
    // Given in the wrong order, or with the first file's last line gone, they do not.
    let swapped = vec![
        ("b".to_owned(), Ok(second.clone())),
        ("a".to_owned(), Ok(lines.concat())),
    ];
    assert!(!verify(&swapped, None).ok);
    let cut = vec![
        ("a".to_owned(), Ok(lines[..lines.len() - 1].concat())),
        ("b".to_owned(), Ok(second)),
    ];
    let report = verify(&cut, None);
    assert_eq!(report.files[1].breaks[0].reason, BreakReason::SeqGap);
}

#[test]
fn unreadable_files_and_foreign_lines_are_breaks() {
    let files = vec![(
        "missing".to_owned(),
        Err(io::Error::new(io::ErrorKind::NotFound, "no such file")),
    )];
    let report = verify(&files, None);
    assert!(!report.ok);
    assert_eq!(report.files[0].breaks[0].reason, BreakReason::Unreadable);
    let mut lines = split(&trail(2));
    lines.insert(2, b"{\"hello\":1}\n".to_vec());
    let report = one(lines.concat());
    assert_eq!(report.files[0].breaks[0].reason, BreakReason::InvalidSchema);
    let mut lines = split(&trail(2));
    lines.insert(2, b"not json\n".to_vec());
    let report = one(lines.concat());
    assert_eq!(report.files[0].breaks[0].reason, BreakReason::InvalidJson);
}

fn signing() -> crate::audit::AuditSigning {
    crate::audit::AuditSigning::new([7; 32], 3, Duration::from_secs(3600))
}

fn key() -> VerifyingKey {
    parse_verify_key(&signing().public_key_hex()).unwrap()
}

/// A signed trail: a checkpoint after every 3 lines, and a last one at the end.
fn signed_trail(n: usize) -> Vec<u8> {
    let out = Shared::default();
    let mut chain =
        Chain::new(Box::new(out.clone()), ChainStart::NEW).sign_with(signing(), Arc::new(clock()));
    chain
        .open_file(&identity(), None, Arc::new(clock()))
        .unwrap();
    let batch = bodies(n);
    for line in batch.split_inclusive(|b| *b == b'\n') {
        chain.write_batch(line).unwrap();
    }
    chain.finish().unwrap();
    drop(chain);
    std::mem::take(&mut *out.0.lock().unwrap())
}

/// What someone who can write the file but does not hold the key can do: rewrite
/// lines and recompute the whole chain (checkpoints keep their old signatures).
fn rechain(lines: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut prev = [0u8; 32];
    for (i, line) in lines.iter().enumerate() {
        let mut v: serde_json::Value = serde_json::from_slice(line).unwrap();
        let obj = v.as_object_mut().unwrap();
        obj.remove("seq");
        obj.remove("prev_hash");
        if obj["event_type"] == "policygate.audit.checkpoint" {
            obj.insert("head_seq".into(), (i as u64).into());
            obj.insert("head_hash".into(), chain::hash_hex(&prev).into());
        }
        let body = serde_json::to_vec(&v).unwrap();
        let mut sealed = Vec::new();
        prev = chain::seal_into(&mut sealed, &body, i as u64 + 1, &prev);
        out.extend_from_slice(&sealed);
        out.push(b'\n');
    }
    out
}

#[test]
fn signed_checkpoints_verify_with_the_key_and_cover_the_head() {
    let bytes = signed_trail(5);
    let report = verify(&[("a".to_owned(), Ok(bytes.clone()))], Some(&key()));
    assert!(report.ok, "{report:#?}");
    let f = &report.files[0];
    // Opening + 5 events = 6 lines: checkpoints after 3 lines and at the end.
    assert_eq!(f.checkpoints, 2, "{f:#?}");
    assert_eq!(report.total.last_seq, Some(8));
    assert_eq!(report.total.signed_through_seq, Some(7));
    // Without the key the chain still verifies, and nothing counts as signed.
    let report = verify(&[("a".to_owned(), Ok(bytes))], None);
    assert!(report.ok);
    assert_eq!(report.total.signed_through_seq, None);
}

#[test]
fn a_rewritten_chain_passes_the_hashes_but_not_the_signatures() {
    let mut lines = split(&signed_trail(5));
    let text = String::from_utf8(lines[1].clone()).unwrap();
    lines[1] = text.replace("req-0", "req-X").into_bytes();
    let forged = rechain(&lines);
    let unsigned = verify(&[("a".to_owned(), Ok(forged.clone()))], None);
    assert!(unsigned.ok, "the hashes alone cannot tell: {unsigned:#?}");
    let signed = verify(&[("a".to_owned(), Ok(forged))], Some(&key()));
    assert!(!signed.ok);
    let first = &signed.files[0].breaks[0];
    assert_eq!(first.reason, BreakReason::BadCheckpoint);
    assert_eq!(first.line, 5, "{first:?}");
}

#[test]
fn a_checkpoint_of_another_key_is_a_break() {
    let other = crate::audit::AuditSigning::new([9; 32], 3, Duration::from_secs(3600));
    let other = parse_verify_key(&other.public_key_hex()).unwrap();
    let report = verify(&[("a".to_owned(), Ok(signed_trail(2)))], Some(&other));
    assert!(!report.ok);
    assert_eq!(report.files[0].breaks[0].reason, BreakReason::BadCheckpoint);
    assert!(parse_verify_key("zz").is_err());
}

#[test]
fn rotation_keeps_one_chain_across_files() {
    use crate::audit::chain::{AuditFile, AuditSync};
    let dir = std::env::temp_dir().join(format!("pg-rotate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("audit.log");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(&path)
        .unwrap();
    let f = AuditFile {
        file,
        path: path.clone(),
        max_bytes: Some(2000),
        sync: AuditSync::Always,
    };
    let mut chain = Chain::file(f, ChainStart::NEW).unwrap();
    chain
        .open_file(&identity(), None, Arc::new(clock()))
        .unwrap();
    let batch = bodies(12);
    for line in batch.split_inclusive(|b| *b == b'\n') {
        chain.write_batch(line).unwrap();
    }
    drop(chain);
    let mut rotated: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p != &path)
        .collect();
    rotated.sort();
    assert!(rotated.len() >= 2, "{rotated:?}");
    assert!(
        rotated[0]
            .to_str()
            .unwrap()
            .ends_with("audit.log.000000000001"),
        "{rotated:?}"
    );
    for p in &rotated {
        // Rotation happens before a batch would pass the limit.
        assert!(std::fs::metadata(p).unwrap().len() <= 2000, "{p:?}");
    }
    let mut all = rotated.clone();
    all.push(path.clone());
    let report = verify_paths(&all, None);
    assert!(report.ok, "{report:#?}");
    // 12 events plus one opening event per file.
    assert_eq!(report.total.events, 12 + all.len() as u64);
    assert!(report.files.iter().all(|f| f.breaks.is_empty()));
    // A rotated file left out is a gap.
    let mut gap = all.clone();
    gap.remove(1);
    let report = verify_paths(&gap, None);
    assert!(!report.ok);
    assert_eq!(report.files[1].breaks[0].reason, BreakReason::SeqGap);
}
