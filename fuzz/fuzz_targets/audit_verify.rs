//! `policygate audit verify` (the server's `audit::verify::verify`, which the command
//! only prints) on mutated audit trails. Each input picks one of three real trails
//! written by `policygate serve` (`fuzz/fixtures/`: two runs chained in one file; a
//! signed run with checkpoints; a torn line sealed off by a restart), whether the
//! verify key is given, and up to 8 mutations (bytes flipped, set, inserted or deleted;
//! lines deleted, repeated, swapped or moved; truncation). Verify never panics, the
//! unmutated trail verifies, and a mutated trail that is reported valid has every
//! complete line but its last exactly as written: the hash chain protects each line by
//! the one after it, so only dropping lines from the end (a torn final line included)
//! or editing the very last line can go unseen, and dropping whole runs from the front
//! (a run's opening event may continue an earlier file, so the trail then verifies from
//! it on: see `first_seq`). The lines compared are the records
//! (JSON lines): a torn fragment that a restart sealed off is not covered by the chain
//! (the opening event after it records only its length), so editing it in place or
//! deleting it goes unseen: a limit of audit contract 2.0, not checked here.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use policygate_server::audit::verify::{parse_verify_key, verify};

const TRAILS: [&[u8]; 3] = [
    include_bytes!("../fixtures/plain.jsonl"),
    include_bytes!("../fixtures/signed.jsonl"),
    include_bytes!("../fixtures/sealed.jsonl"),
];
const VERIFY_KEY: &str = include_str!("../fixtures/signed.pub");
const MAX_MUTATIONS: usize = 8;

#[derive(Debug, Arbitrary)]
struct Input {
    trail: u8,
    with_key: bool,
    mutations: Vec<Mutation>,
}

#[derive(Debug, Arbitrary)]
enum Mutation {
    Flip { at: u16, mask: u8 },
    Set { at: u16, byte: u8 },
    Insert { at: u16, bytes: Vec<u8> },
    Delete { at: u16, len: u8 },
    DeleteLine(u8),
    RepeatLine(u8),
    SwapLines(u8, u8),
    MoveLine(u8, u8),
    Truncate(u16),
}

fn lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = bytes.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
    out.pop();
    out
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let at = |i: u16, len: usize| usize::from(i) % (len + 1);
    match m {
        Mutation::Flip { at: i, mask } => {
            let i = at(*i, bytes.len());
            if let Some(b) = bytes.get_mut(i) {
                *b ^= mask;
            }
        }
        Mutation::Set { at: i, byte } => {
            let i = at(*i, bytes.len());
            if let Some(b) = bytes.get_mut(i) {
                *b = *byte;
            }
        }
        Mutation::Insert { at: i, bytes: new } => {
            let i = at(*i, bytes.len());
            bytes.splice(i..i, new.iter().copied());
        }
        Mutation::Delete { at: i, len } => {
            let i = at(*i, bytes.len());
            let end = (i + usize::from(*len)).min(bytes.len());
            bytes.drain(i..end);
        }
        Mutation::Truncate(i) => {
            let i = at(*i, bytes.len());
            bytes.truncate(i);
        }
        Mutation::DeleteLine(_)
        | Mutation::RepeatLine(_)
        | Mutation::SwapLines(..)
        | Mutation::MoveLine(..) => {
            let torn_tail = bytes.rsplit(|b| *b == b'\n').next().map(<[u8]>::to_vec);
            let mut ls = lines(bytes);
            if ls.is_empty() {
                return;
            }
            let line = |i: u8| usize::from(i) % ls.len();
            match m {
                Mutation::DeleteLine(i) => {
                    ls.remove(line(*i));
                }
                Mutation::RepeatLine(i) => {
                    let i = line(*i);
                    ls.insert(i, ls[i].clone());
                }
                Mutation::SwapLines(i, j) => {
                    let (i, j) = (line(*i), line(*j));
                    ls.swap(i, j);
                }
                Mutation::MoveLine(i, j) => {
                    let moved = ls.remove(line(*i));
                    let j = usize::from(*j) % (ls.len() + 1);
                    ls.insert(j, moved);
                }
                _ => {}
            }
            let mut out = Vec::with_capacity(bytes.len());
            for l in &ls {
                out.extend_from_slice(l);
                out.push(b'\n');
            }
            out.extend_from_slice(&torn_tail.unwrap_or_default());
            *bytes = out;
        }
    }
}

fn is_json(line: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok()
}

fuzz_target!(|input: Input| {
    let original = TRAILS[usize::from(input.trail) % TRAILS.len()];
    let key = if input.with_key {
        Some(parse_verify_key(VERIFY_KEY.trim()).unwrap_or_else(|e| panic!("fixture key: {e}")))
    } else {
        None
    };
    let mut mutated = original.to_vec();
    for m in input.mutations.iter().take(MAX_MUTATIONS) {
        apply(&mut mutated, m);
    }
    let report = verify(
        &[("trail.jsonl".to_owned(), Ok(mutated.clone()))],
        key.as_ref(),
    );
    if mutated == original {
        assert!(report.ok, "the unmutated trail does not verify: {report:?}");
        return;
    }
    if !report.ok {
        return;
    }
    // Only JSON lines are records; the one kind of non-JSON line a valid trail may
    // hold is a sealed fragment, which the chain does not cover (see the header).
    let records = |bytes: &[u8]| -> Vec<Vec<u8>> {
        lines(bytes).into_iter().filter(|l| is_json(l)).collect()
    };
    let (was, now) = (records(original), records(&mutated));
    // A trail may start in the middle of a chain: a run's opening event continues the
    // previous file's last hash (rotation), and a file given alone is verified from its
    // first record on. So removing whole runs from the front of a file is not seen (a
    // limit of audit contract 2.0: the report's `first_seq` then says where the verified
    // chain starts). Compare from the record the mutated trail starts with.
    let start = now
        .first()
        .and_then(|first| was.iter().position(|w| w == first))
        .unwrap_or(0);
    let was = &was[start..];
    let protected = now.len().saturating_sub(1);
    assert!(
        protected <= was.len(),
        "{} records verify where {} were written: {report:?}",
        now.len(),
        was.len()
    );
    for (i, (w, n)) in was.iter().zip(&now).take(protected).enumerate() {
        assert!(
            w == n,
            "record {} was changed but the trail is reported valid:\nwas: {}\nnow: {}\n{report:?}",
            i + 1,
            String::from_utf8_lossy(w),
            String::from_utf8_lossy(n)
        );
    }
});
