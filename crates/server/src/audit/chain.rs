//! The writer's end of the hash chain (the form is `api::chain`): the sink's output
//! together with the position of the chain's head, the opening event that starts
//! every file, and resuming a chain from an existing audit file on start.
//!
//! A batch is sealed line by line (`seq`, `prev_hash` appended, the sealed bytes
//! hashed) by the one handler that holds the sink, so the chain is in write order
//! without a lock of its own; the head advances only once the batch was written.
//! Resuming reads the file's tail: a final line without its newline (a write torn by
//! a crash or a full disk) is ended with a newline, so that nothing is ever appended
//! to a fragment, and its length is recorded by the opening event; the chain goes on
//! from the last complete line.

use super::clock::{Clock, occurred_at};
use ed25519_dalek::{Signer as _, SigningKey};
use policygate_api::chain::{self, LineHash};
use policygate_api::{
    AUDIT_CHECKPOINT_TYPE, AUDIT_EVENT_VERSION, AUDIT_OPENED_TYPE, AuditCheckpoint, AuditOpened,
    AuditRecord, PolicyIdentity,
};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Signed checkpoints (`--audit-signing-key`): the key, and how often to sign.
#[derive(Clone)]
pub struct AuditSigning {
    key: SigningKey,
    /// Sign after this many lines since the last checkpoint.
    pub every_events: u64,
    /// Sign when a batch is written this long after the last checkpoint.
    pub every: Duration,
}

impl std::fmt::Debug for AuditSigning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret key.
        f.debug_struct("AuditSigning")
            .field("public_key", &self.public_key_hex())
            .field("every_events", &self.every_events)
            .field("every", &self.every)
            .finish()
    }
}

impl AuditSigning {
    /// From a 32-byte ed25519 secret key (seed).
    pub fn new(seed: [u8; 32], every_events: u64, every: Duration) -> AuditSigning {
        AuditSigning {
            key: SigningKey::from_bytes(&seed),
            every_events: every_events.max(1),
            every,
        }
    }

    /// Reads a key file: the 32-byte secret key as 64 hex digits (surrounding
    /// whitespace ignored), e.g. made with `openssl rand -hex 32`.
    pub fn load(path: &Path, every_events: u64, every: Duration) -> Result<AuditSigning, String> {
        let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
        let seed: [u8; 32] = chain::from_hex(text.trim())
            .and_then(|b| b.try_into().ok())
            .ok_or("the file must hold the 32-byte ed25519 secret key as 64 hex digits (make one with `openssl rand -hex 32`)")?;
        Ok(AuditSigning::new(seed, every_events, every))
    }

    /// The public key, as `audit verify --verify-key` takes it (64 hex digits).
    pub fn public_key_hex(&self) -> String {
        chain::to_hex(self.key.verifying_key().as_bytes())
    }
}

/// Checkpoint state of a chain that signs.
struct Signer {
    signing: AuditSigning,
    clock: Arc<dyn Clock>,
    since: u64,
    last: Instant,
}

/// Where a chain starts: the next sequence number and the hash of the line before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainStart {
    /// `seq` of the next line.
    pub seq: u64,
    /// Hash of the line before it (all zeros for a new chain).
    pub prev: LineHash,
    /// Bytes of a torn final line that was sealed off, if any.
    pub torn_tail_bytes: Option<u64>,
}

impl ChainStart {
    /// A new chain: `seq` 1, genesis `prev_hash`.
    pub const NEW: ChainStart = ChainStart {
        seq: 1,
        prev: [0; 32],
        torn_tail_bytes: None,
    };
}

/// How far back from the end of an audit file its last complete line is looked for.
const TAIL_WINDOW: u64 = 4 * 1024 * 1024;

/// Reads the end of an audit file opened for reading and appending, seals a torn
/// final line (writes the missing newline) and returns where the chain goes on.
///
/// A file whose last complete line is not an audit record of this version (an older
/// format, or not an audit file) starts a new chain after it.
pub fn resume(file: &mut File) -> io::Result<ChainStart> {
    let len = file.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok(ChainStart::NEW);
    }
    let from = len.saturating_sub(TAIL_WINDOW);
    file.seek(SeekFrom::Start(from))?;
    let mut tail = Vec::new();
    file.take(len - from).read_to_end(&mut tail)?;
    let complete = match tail.iter().rposition(|b| *b == b'\n') {
        Some(end) => end + 1,
        None => 0,
    };
    let torn = tail.len() - complete;
    let torn_tail_bytes = if torn > 0 {
        // The fragment is ended, so that the next line starts on a line of its own.
        file.write_all(b"\n")?;
        file.flush()?;
        Some(torn as u64)
    } else {
        None
    };
    let lines = &tail[..complete];
    let last = lines
        .strip_suffix(b"\n")
        .map(|body| match body.iter().rposition(|b| *b == b'\n') {
            Some(i) => &body[i + 1..],
            None if from == 0 => body,
            // The window began inside the line: it cannot be hashed.
            None => &[][..],
        });
    let start = match last.map(|line| (line, AuditRecord::parse(line))) {
        Some((line, Ok(record))) => ChainStart {
            seq: record.seq().saturating_add(1),
            prev: chain::line_hash(line),
            torn_tail_bytes,
        },
        _ => ChainStart {
            torn_tail_bytes,
            ..ChainStart::NEW
        },
    };
    Ok(start)
}

/// When an audit file is `fsync`ed (`--audit-sync`). Stdout is never synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuditSync {
    /// Never: lines reach the OS page cache before their decision is answered; a
    /// power loss can lose what the kernel had not written back yet.
    #[default]
    Never,
    /// `fdatasync` after a batch when a second has passed since the last one (and on
    /// rotation and shutdown): a power loss loses at most about a second of lines.
    Batch,
    /// `fdatasync` after every batch, before any decision in it is answered: an
    /// answered decision is on disk.
    Always,
}

/// An audit file: the open file, its path (for rotation), when it rotates and how
/// it is synced.
#[derive(Debug)]
pub struct AuditFile {
    /// Opened for reading and appending (see [`resume`]).
    pub file: File,
    /// Where it lives; rotated files are renamed to `{path}.{first seq, 12 digits}`.
    pub path: PathBuf,
    /// Rotate before a batch would take the file past this many bytes.
    pub max_bytes: Option<u64>,
    /// When to `fsync`.
    pub sync: AuditSync,
}

/// Where sealed lines go.
enum Output {
    Stream(Box<dyn Write + Send>),
    File {
        f: AuditFile,
        /// Bytes in the current file.
        written: u64,
        /// `seq` of the current file's opening event (names it when rotated).
        first_seq: u64,
        last_sync: Instant,
        cache: CacheWindow,
    },
}

/// Keeps what an audit file holds in the OS page cache to the newest window or two of
/// it. The server only appends to the file and never reads it back, so without this
/// every line written stays cached: the container's memory use (page cache counts
/// towards a memory cgroup) grows by every gigabyte audited, and on a VM that backs
/// guest memory lazily (Firecracker on Fargate, most cloud VMs) each new page of cache
/// is memory the guest has not touched before, which costs more than reusing a freed
/// page (BENCHMARKS.md, "The audit file's page cache": a plain writer's CPU per byte
/// grew up to eightfold as the cache grew, and stayed flat with this advice).
///
/// Each time another window has been written, `POSIX_FADV_DONTNEED` is given for the
/// last two: with `--audit-sync never` it starts writeback of the newest (Linux keeps
/// dirty pages) and drops the one before, written back since, so the newest 16 to
/// 32 MiB stay cached for a log shipper that tails the file; with `batch` and `always`
/// the pages are mostly clean already and go at once. The advice does not wait for
/// writeback to finish (starting it can still block briefly on a congested disk); a
/// disk slower than the audit rate just leaves pages cached, as without the window.
/// The advice changes nothing but the cache, so its failure is not reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CacheWindow {
    /// Start of the older of the two windows given advice next.
    older: u64,
    /// End of the last window given advice (the start of the one being written).
    newer: u64,
}

impl CacheWindow {
    /// Bytes per window: 16 MiB, about 14,000 decision lines.
    const BYTES: u64 = 16 << 20;

    /// For a file of `len` bytes (what it held before is left alone).
    fn at(len: u64) -> CacheWindow {
        CacheWindow {
            older: len,
            newer: len,
        }
    }

    /// After a write took the file to `written` bytes: the range to advise once
    /// another window is complete.
    fn advance(&mut self, written: u64) -> Option<(u64, u64)> {
        if written < self.newer.saturating_add(Self::BYTES) {
            return None;
        }
        let range = (self.older, written);
        *self = CacheWindow {
            older: self.newer,
            newer: written,
        };
        Some(range)
    }
}

/// `POSIX_FADV_DONTNEED` for bytes `from..to` of `file` (`None`: to its end; Linux,
/// elsewhere nothing). `from` is rounded down to 64 KiB, a multiple of every page size
/// Linux uses: the kernel only drops whole pages, so the page that held a window's
/// boundary, still being written at the first advice, is dropped at the second.
fn advise_dont_need(file: &File, from: u64, to: Option<u64>) {
    #[cfg(target_os = "linux")]
    {
        let from = from & !0xffff;
        let len = match to {
            None => None,
            Some(to) => match std::num::NonZeroU64::new(to.saturating_sub(from)) {
                Some(len) => Some(len),
                None => return,
            },
        };
        let _ = rustix::fs::fadvise(file, from, len, rustix::fs::Advice::DontNeed);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, from, to);
}

impl Output {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Output::Stream(w) => w.write_all(bytes).and_then(|()| w.flush()),
            Output::File {
                f,
                written,
                last_sync,
                cache,
                ..
            } => {
                f.file.write_all(bytes)?;
                let due = match f.sync {
                    AuditSync::Never => false,
                    AuditSync::Always => true,
                    AuditSync::Batch => last_sync.elapsed() >= Duration::from_secs(1),
                };
                if due {
                    f.file.sync_data()?;
                    *last_sync = Instant::now();
                }
                // Counted only once written and, where due, synced: after a failed
                // `fdatasync` the batch is not counted, so `discard_partial_write` cuts
                // it off and the retry does not append it a second time.
                *written += bytes.len() as u64;
                if let Some((from, to)) = cache.advance(*written) {
                    advise_dont_need(&f.file, from, Some(to));
                }
                Ok(())
            }
        }
    }

    fn sync(&mut self) -> io::Result<()> {
        match self {
            Output::File { f, .. } if f.sync != AuditSync::Never => f.file.sync_data(),
            _ => Ok(()),
        }
    }

    fn rotation_due(&self, incoming: usize) -> bool {
        match self {
            Output::File {
                f:
                    AuditFile {
                        max_bytes: Some(max),
                        ..
                    },
                written,
                ..
            } => *written > 0 && *written + incoming as u64 > *max,
            _ => false,
        }
    }

    /// After a failed write: cuts an audit file back to the bytes known written, so a
    /// partly written batch leaves no fragment (a stream cannot be cut back).
    fn discard_partial_write(&mut self) -> io::Result<()> {
        if let Output::File { f, written, .. } = self
            && f.file.metadata()?.len() > *written
        {
            f.file.set_len(*written)?;
        }
        Ok(())
    }

    /// Renames the current file to `{path}.{first_seq}` and opens a new one at `path`.
    fn rotate(&mut self) -> io::Result<()> {
        let Output::File {
            f,
            written,
            first_seq,
            cache,
            ..
        } = self
        else {
            return Ok(());
        };
        f.file.sync_data()?;
        // Synced, so all of it is clean: none of the closed file stays cached.
        advise_dont_need(&f.file, 0, None);
        let mut rotated = f.path.clone().into_os_string();
        rotated.push(format!(".{first_seq:012}"));
        std::fs::rename(&f.path, &rotated)?;
        f.file = std::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&f.path)?;
        *written = 0;
        *cache = CacheWindow::at(0);
        tracing::info!(rotated = %PathBuf::from(rotated).display(), "audit file rotated");
        Ok(())
    }
}

/// The sink's output and the chain's head.
pub(crate) struct Chain {
    out: Output,
    /// What an opening event names, once the first was written (for rotation).
    opening: Option<(PolicyIdentity, Arc<dyn Clock>)>,
    /// `seq` of the next line written.
    next_seq: u64,
    /// Hash of the last line written.
    prev: LineHash,
    /// The sealed batch, reused.
    sealed: Vec<u8>,
    signer: Option<Signer>,
}

impl Chain {
    pub(crate) fn new(out: Box<dyn Write + Send>, start: ChainStart) -> Chain {
        Chain::with_output(Output::Stream(out), start)
    }

    /// A chain over an audit file (rotated and synced as it says).
    pub(crate) fn file(f: AuditFile, start: ChainStart) -> io::Result<Chain> {
        let written = f.file.metadata()?.len();
        Ok(Chain::with_output(
            Output::File {
                f,
                written,
                first_seq: start.seq,
                last_sync: Instant::now(),
                cache: CacheWindow::at(written),
            },
            start,
        ))
    }

    fn with_output(out: Output, start: ChainStart) -> Chain {
        Chain {
            out,
            opening: None,
            next_seq: start.seq,
            prev: start.prev,
            sealed: Vec::with_capacity(64 * 1024),
            signer: None,
        }
    }

    /// Signs checkpoints from now on.
    pub(crate) fn sign_with(mut self, signing: AuditSigning, clock: Arc<dyn Clock>) -> Chain {
        self.signer = Some(Signer {
            signing,
            clock,
            since: 0,
            last: Instant::now(),
        });
        self
    }

    /// Appends a signed checkpoint over the head (`seq - 1`, `prev`) to `out`; returns
    /// the new head.
    fn checkpoint(
        signer: &mut Signer,
        out: &mut Vec<u8>,
        seq: u64,
        prev: LineHash,
    ) -> io::Result<(u64, LineHash)> {
        let head_seq = seq.saturating_sub(1);
        let signature = signer
            .signing
            .key
            .sign(&chain::checkpoint_message(head_seq, &prev));
        let checkpoint = AuditCheckpoint {
            event_type: AUDIT_CHECKPOINT_TYPE.into(),
            event_version: AUDIT_EVENT_VERSION.into(),
            occurred_at: occurred_at(&*signer.clock),
            service_name: "policygate".into(),
            head_seq,
            head_hash: chain::hash_hex(&prev),
            public_key: signer.signing.public_key_hex(),
            signature: chain::to_hex(&signature.to_bytes()),
            seq,
            prev_hash: chain::hash_hex(&prev),
        };
        let line = serde_json::to_vec(&checkpoint).map_err(io::Error::other)?;
        let hash = chain::line_hash(&line);
        out.extend_from_slice(&line);
        out.push(b'\n');
        signer.since = 0;
        signer.last = Instant::now();
        Ok((seq + 1, hash))
    }

    /// When the writer stops: a last checkpoint over the head, if anything was written
    /// since the last one.
    pub(crate) fn finish(&mut self) -> io::Result<()> {
        let Some(signer) = &mut self.signer else {
            return self.out.sync();
        };
        if signer.since == 0 {
            return self.out.sync();
        }
        let mut line = Vec::new();
        let (seq, prev) = Chain::checkpoint(signer, &mut line, self.next_seq, self.prev)?;
        self.out.write_all(&line)?;
        self.next_seq = seq;
        self.prev = prev;
        self.out.sync()
    }

    /// Writes the opening event of a file (the chain's next line).
    pub(crate) fn open_file(
        &mut self,
        policy: &PolicyIdentity,
        torn_tail_bytes: Option<u64>,
        clock: Arc<dyn Clock>,
    ) -> io::Result<()> {
        if let Output::File { first_seq, .. } = &mut self.out {
            *first_seq = self.next_seq;
        }
        let opened = AuditOpened {
            event_type: AUDIT_OPENED_TYPE.into(),
            event_version: AUDIT_EVENT_VERSION.into(),
            occurred_at: occurred_at(&*clock),
            service_name: "policygate".into(),
            policy: policy.clone(),
            torn_tail_bytes,
            seq: self.next_seq,
            prev_hash: chain::hash_hex(&self.prev),
        };
        let mut line = serde_json::to_vec(&opened).map_err(io::Error::other)?;
        let hash = chain::line_hash(&line);
        line.push(b'\n');
        self.out.write_all(&line)?;
        self.next_seq += 1;
        self.prev = hash;
        self.opening = Some((policy.clone(), clock));
        Ok(())
    }

    /// Before retrying a failed batch: see [`Output::discard_partial_write`].
    pub(crate) fn discard_partial_write(&mut self) -> io::Result<()> {
        self.out.discard_partial_write()
    }

    /// Seals every line of `batch` (lines ended by `\n`, without chain fields),
    /// writes them with one `write_all` and flushes. The head moves only on success.
    pub(crate) fn write_batch(&mut self, batch: &[u8]) -> io::Result<()> {
        if self.out.rotation_due(batch.len())
            && let Some((policy, clock)) = self.opening.clone()
        {
            self.out.rotate()?;
            // The new file opens with the head of the old one as its prev_hash.
            self.open_file(&policy, None, clock)?;
        }
        self.sealed.clear();
        let mut seq = self.next_seq;
        let mut prev = self.prev;
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', batch).chain(std::iter::once(batch.len())) {
            let body = &batch[start..end];
            start = end + 1;
            if body.is_empty() {
                continue;
            }
            prev = chain::seal_into(&mut self.sealed, body, seq, &prev);
            self.sealed.push(b'\n');
            seq += 1;
        }
        let since = self.signer.as_ref().map(|s| s.since);
        if let Some(signer) = &mut self.signer {
            signer.since += seq - self.next_seq;
            if signer.since >= signer.signing.every_events
                || signer.last.elapsed() >= signer.signing.every
            {
                (seq, prev) = Chain::checkpoint(signer, &mut self.sealed, seq, prev)?;
            }
        }
        if let Err(e) = self.out.write_all(&self.sealed) {
            // Not written: the head stays, and a checkpoint is due again as before.
            if let (Some(signer), Some(before)) = (&mut self.signer, since) {
                signer.since = before;
            }
            return Err(e);
        }
        self.next_seq = seq;
        self.prev = prev;
        if self.sealed.capacity() > 1024 * 1024 {
            self.sealed = Vec::with_capacity(64 * 1024);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str, content: &[u8]) -> (std::path::PathBuf, File) {
        let dir = std::env::temp_dir().join(format!("pg-chain-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("audit.log");
        std::fs::write(&path, content).unwrap();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .open(&path)
            .unwrap();
        (path, file)
    }

    fn sealed_lines(n: u64) -> (Vec<u8>, LineHash) {
        let mut out = Vec::new();
        let mut prev = [0; 32];
        for seq in 1..=n {
            let mut line = Vec::new();
            let body = serde_json::to_vec(&serde_json::json!({
                "event_type": AUDIT_OPENED_TYPE,
                "event_version": AUDIT_EVENT_VERSION,
                "occurred_at": "2026-01-01T00:00:00.000000Z",
                "service_name": "policygate",
                "policy": {"policy_id": "p", "policy_version": "1", "policy_sha256": "a".repeat(64)},
                "torn_tail_bytes": null,
            }))
            .unwrap();
            prev = chain::seal_into(&mut line, &body, seq, &prev);
            out.extend_from_slice(&line);
            out.push(b'\n');
        }
        (out, prev)
    }

    /// Every byte written is advised twice (writeback, then drop), one window apart,
    /// and never a byte the file held before it was opened.
    #[test]
    fn the_cache_window_advises_each_range_twice_in_order() {
        const W: u64 = CacheWindow::BYTES;
        let mut cache = CacheWindow::at(100);
        assert_eq!(cache.advance(100 + W - 1), None);
        assert_eq!(cache.advance(100 + W), Some((100, 100 + W)));
        assert_eq!(cache.advance(100 + W + 10), None);
        // A batch may take the file past a boundary by any amount.
        assert_eq!(cache.advance(100 + 2 * W + 7), Some((100, 100 + 2 * W + 7)));
        assert_eq!(
            cache.advance(100 + 3 * W + 7),
            Some((100 + W, 100 + 3 * W + 7))
        );
        assert_eq!(
            cache,
            CacheWindow {
                older: 100 + 2 * W + 7,
                newer: 100 + 3 * W + 7
            }
        );
    }

    #[test]
    fn a_new_or_empty_file_starts_a_new_chain() {
        let (_, mut f) = temp("empty", b"");
        assert_eq!(resume(&mut f).unwrap(), ChainStart::NEW);
    }

    #[test]
    fn the_chain_goes_on_from_the_last_line() {
        let (lines, last) = sealed_lines(3);
        let (_, mut f) = temp("clean", &lines);
        assert_eq!(
            resume(&mut f).unwrap(),
            ChainStart {
                seq: 4,
                prev: last,
                torn_tail_bytes: None
            }
        );
    }

    #[test]
    fn a_torn_tail_is_sealed_and_skipped() {
        let (mut lines, last) = sealed_lines(2);
        lines.extend_from_slice(b"{\"event_type\":\"policygate.deci");
        let (path, mut f) = temp("torn", &lines);
        let start = resume(&mut f).unwrap();
        assert_eq!(start.seq, 3);
        assert_eq!(start.prev, last);
        assert_eq!(start.torn_tail_bytes, Some(30));
        let after = std::fs::read(&path).unwrap();
        assert!(
            after.ends_with(b"policygate.deci\n"),
            "the fragment is ended"
        );
    }

    #[test]
    fn a_file_of_another_format_starts_a_new_chain() {
        let (_, mut f) = temp("old", b"{\"event_version\":\"1.0\"}\n");
        assert_eq!(resume(&mut f).unwrap(), ChainStart::NEW);
    }
}
