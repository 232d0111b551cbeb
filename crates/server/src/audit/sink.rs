//! The audit sink: where audit lines are written, without ever returning a decision
//! whose line was not written.
//!
//! # Semantics (the promise, and what it costs)
//!
//! **No decision is returned unless its audit line has been written.** A handler
//! serialises its event itself (`audit/event`, in parallel across worker threads),
//! appends the line to a shared queue and waits until the line has been handed to the sink
//! (`write(2)` returned and the sink was flushed). Only then is the `200` sent.
//!
//! Writing is **group commit by flat combining**, with the `write(2)` itself off the
//! runtime: a handler that appends to an idle queue yields to the runtime once (so
//! that the other handlers ready on its worker append their lines too), then takes
//! the whole queue and hands it to a blocking-pool thread (`spawn_blocking`), which
//! writes it with one `write_all` and one flush, releases the handlers of that batch
//! (each batch has its own completion, so a write wakes exactly the handlers it wrote
//! for), and repeats while others appended meanwhile. Every handler, the one that
//! handed the batch over included, waits (asynchronously) for its batch, bounded by
//! its request's deadline. Under load a batch holds many events, so the cost per
//! event is a memcpy plus a share of one thread hand-off. Writing each line as soon
//! as it was appended (no yield) cost one `write(2)` per request at 64 connections;
//! that first yield cut the service's CPU per request by about a fifth (see
//! `bench/serve.sh`). A waiting handler also looks once more after a yield of its own
//! before it arms a timer for its deadline, so that one whose batch was written
//! meanwhile arms none (arming and clearing a timer per request was about 2% of the
//! server's CPU in a profile of `bench/grpc.sh`). The write once ran on the handler's
//! own worker thread, which saved the hand-off but let a `write(2)` stuck in the
//! kernel hold its request past the timeout (19 s for a 5 s budget), and could stall
//! the runtime's timers altogether (a worker parked off the driver while the other was
//! blocked).
//!
//! - If the write fails (disk full, `EFBIG`, `EIO`, closed pipe, …) the sink is marked
//!   **failing**: the waiting decisions and every later one are answered `503
//!   unavailable` (fail closed) at once, `GET /health` answers 503 so a load balancer
//!   drains the instance, and `policygate_audit_sink_up` drops to 0. A recovery task
//!   retries the failed batch with exponential backoff (100 ms doubling to 5 s); an
//!   audit file is first cut back to the bytes known written, so a partly written
//!   batch leaves no fragment. When a retry succeeds the failed batch is in the chain,
//!   the sink is put back and decisions resume by themselves, without a restart. (A
//!   stream cannot be cut back: a batch written in part to stdout can leave a torn
//!   line there.)
//! - If the sink blocks (a stdout pipe nobody reads, a hung disk), only the writing
//!   thread blocks in `write(2)`; the runtime keeps serving. Waiting handlers give up
//!   when the request's deadline (`--request-timeout-ms`) passes and answer `503`, the
//!   one whose line is in the stuck batch too; their lines stay queued and are written
//!   when the sink moves again. `/ready` answers 503 once a write has been stuck
//!   longer than the request timeout. Hence the one-sided guarantee: the stream may
//!   hold an event whose caller got a 503, never the reverse.
//! - The queue is bounded ([`MAX_PENDING_BYTES`]); a handler that finds it full answers
//!   `503` at once instead of buffering without limit.
//! - Refusals (4xx) are audited the same way, but when their line cannot be written
//!   they keep their own status: they are refusals already, and a 503 would invite a
//!   retry of a request that can never succeed.
//!
//! The alternative, fire-and-forget with a health flag, returns decisions whose events
//! may be lost when the sink fails; the product promise ("a decision that cannot be
//! audited is not silently returned") rules it out. By default events are not
//! `fsync`ed: durability past the OS (power loss) is the sink's, e.g. the log shipper
//! reading stdout; an audit file can be synced per batch (`--audit-sync`, in
//! `audit/chain`), inside the same write step, so "written" then means "on disk".
//!
//! Every batch is sealed into the hash chain by the writing handler (`audit/chain`)
//! just before its `write(2)`: the chain's head travels with the sink, so lines are
//! chained in exactly the order they are written.
//!
//! **Shutdown**: [`AuditWriter::close`] marks the queue closed (later events are refused
//! with 503), waits for an active writer, writes and flushes whatever is still queued
//! (lines of handlers that timed out), and reports whether the sink ever failed. The
//! server calls it only after it stopped accepting and in-flight requests finished.

use super::chain::{AuditFile, AuditSigning, Chain, ChainStart};
use super::clock::{Clock, SystemClock};
use policygate_api::PolicyIdentity;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// Most bytes of audit lines waiting for the writer before new events are refused.
pub const MAX_PENDING_BYTES: usize = 32 * 1024 * 1024;

/// Why an event could not be recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuditError {
    /// A write to the sink failed; the sink stays failed.
    Failed,
    /// The writer is closed (shutting down) or gone.
    Closed,
    /// Too many bytes are waiting for the writer.
    Backlog,
    /// The request's deadline passed before the line was written.
    Timeout,
}

impl AuditError {
    pub(crate) fn message(self) -> &'static str {
        match self {
            AuditError::Failed => {
                "the audit sink cannot be written; decisions are refused until a write succeeds again (retried with backoff)"
            }
            AuditError::Closed => "the service is shutting down; retry on another instance",
            AuditError::Backlog => {
                "the audit sink is falling behind; decisions are refused until it catches up"
            }
            AuditError::Timeout => {
                "the audit event could not be written within the request timeout; the decision is withheld"
            }
        }
    }
}

struct Queue {
    bytes: Vec<u8>,
    /// An empty buffer, which `bytes` starts from again when a batch is taken: once
    /// a written batch's buffer is given back here ([`Queue::keep_spare`]), a new
    /// batch does not grow from nothing. (It has no room while the writer still
    /// holds that buffer.)
    spare: Vec<u8>,
    /// Completion of the batch `bytes` holds: what the handlers whose lines are in it
    /// wait for.
    done: Arc<BatchDone>,
    /// Sequence number of the last event appended.
    last_seq: u64,
    /// The sink and the chain's head, while no handler is writing to it; `None`
    /// while one is.
    out: Option<Chain>,
    closed: bool,
}

// 0 (the default): pending.
const WRITTEN: u8 = 1;
const FAILED: u8 = 2;
/// The batch was handed back to the queue unwritten (a write job dropped unrun): its
/// handlers wait for the queue's batch instead.
const REQUEUED: u8 = 3;

/// The outcome of one batch, for the handlers whose lines are in it. One per batch,
/// so that a write wakes exactly the handlers it wrote for (one progress signal for
/// all woke every waiter at every batch, most of them to wait again).
#[derive(Debug, Default)]
struct BatchDone {
    state: std::sync::atomic::AtomicU8,
    notify: tokio::sync::Notify,
}

impl BatchDone {
    fn finish(&self, state: u8) {
        self.state.store(state, Ordering::Release);
        self.notify.notify_waiters();
    }

    fn state(&self) -> u8 {
        self.state.load(Ordering::Acquire)
    }
}

impl Queue {
    /// Keeps `buf`, emptied, as the spare buffer, unless the spare is larger already
    /// or a burst grew `buf` past 1 MiB.
    fn keep_spare(&mut self, mut buf: Vec<u8>) {
        if buf.capacity() <= 1024 * 1024 && self.spare.capacity() < buf.capacity() {
            buf.clear();
            self.spare = buf;
        }
    }

    /// Takes the batch accumulated so far (its lines, the last sequence number in it
    /// and its completion) and starts a new one.
    fn take_batch(&mut self) -> (Vec<u8>, u64, Arc<BatchDone>) {
        let next = std::mem::take(&mut self.spare);
        (
            std::mem::replace(&mut self.bytes, next),
            self.last_seq,
            std::mem::take(&mut self.done),
        )
    }
}

/// Lines [`AuditSink::enqueue`] queued, for [`AuditSink::written`] to wait for.
#[derive(Debug)]
pub(crate) struct Queued {
    /// Sequence number of the last of them.
    seq: u64,
    /// Whether a writer held the sink when they were queued (it then writes them).
    writer_active: bool,
    /// Completion of the batch they are in.
    done: Arc<BatchDone>,
}

struct Shared {
    queue: Mutex<Queue>,
    /// Signalled when a writer puts the sink back (for [`AuditWriter::close`]).
    idle: Condvar,
    failed: AtomicBool,
    /// Every event with a sequence number up to this one has been written.
    events_written: AtomicU64,
    /// While the sink is failing: the chain and the batch that failed, for the
    /// recovery task to retry.
    broken: Mutex<Option<Broken>>,
    /// When the write in progress started, in microseconds since `epoch` plus one
    /// (0: no write in progress); `/ready` reads it to tell a blocked sink.
    writing_since: AtomicU64,
    epoch: std::time::Instant,
}

/// What a failed write left: the sink (its head unmoved) and the batch to retry.
struct Broken {
    chain: Chain,
    batch: Vec<u8>,
    upto: u64,
}

/// First and longest wait between two attempts to write to a failing sink.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("failed", &self.failed)
            .field("events_written", &self.events_written)
            .finish_non_exhaustive()
    }
}

/// Retries the failed batch with exponential backoff until a write succeeds, then
/// puts the sink back and clears the failure: decisions resume by themselves.
async fn recover(shared: Arc<Shared>) {
    let mut delay = RETRY_FIRST;
    let mut attempts = 0u64;
    loop {
        tokio::time::sleep(delay).await;
        let Some(mut broken) = shared.broken_lock().take() else {
            return;
        };
        if shared.lock().closed {
            *shared.broken_lock() = Some(broken);
            return;
        }
        attempts += 1;
        let attempt = broken
            .chain
            .discard_partial_write()
            .and_then(|()| broken.chain.write_batch(&broken.batch));
        match attempt {
            Ok(()) => {
                // Only one writer at a time: a store, not a race.
                shared.events_written.store(broken.upto, Ordering::Release);
                shared.failed.store(false, Ordering::Release);
                tracing::warn!(
                    attempts,
                    "audit sink writable again; decisions are served again"
                );
                let mut q = shared.lock();
                q.out = Some(broken.chain);
                q.keep_spare(broken.batch);
                let closing = q.closed;
                drop(q);
                if closing {
                    shared.idle.notify_all();
                }
                return;
            }
            Err(e) => {
                if attempts.is_power_of_two() {
                    tracing::error!(error = %e, attempts, "audit sink still failing; decisions stay refused");
                }
                *shared.broken_lock() = Some(broken);
                delay = (delay * 2).min(RETRY_MAX);
            }
        }
    }
}

impl Shared {
    fn broken_lock(&self) -> MutexGuard<'_, Option<Broken>> {
        self.broken.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A panic while holding this lock cannot leave the queue inconsistent (every
        // critical section is a push or a swap), so a poisoned lock is still usable.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes batches until the queue is empty, then puts the sink back. Called with
    /// the sink taken out of the queue by this caller (so no one else writes).
    fn write_until_empty(
        self: &Arc<Self>,
        mut out: Chain,
        mut batch: Vec<u8>,
        mut upto: u64,
        mut done: Arc<BatchDone>,
    ) -> io::Result<()> {
        loop {
            let since = u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
            self.writing_since
                .store(since.saturating_add(1), Ordering::Release);
            let result = out.write_batch(&batch);
            self.writing_since.store(0, Ordering::Release);
            if let Err(e) = result {
                self.failed.store(true, Ordering::Release);
                // Fail closed at once: the handlers of this batch, and those whose lines
                // are queued behind it (later ones see `failed` before they wait).
                done.finish(FAILED);
                let queued = std::mem::take(&mut self.lock().done);
                queued.finish(FAILED);
                tracing::error!(error = %e, "audit sink write failed; refusing decisions until a retry succeeds");
                // The sink is not put back: nothing else is written while it fails. The
                // recovery task retries this batch with backoff.
                *self.broken_lock() = Some(Broken {
                    chain: out,
                    batch,
                    upto,
                });
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    runtime.spawn(recover(Arc::clone(self)));
                }
                // Taking the lock orders this with a closer between its check and its
                // wait.
                drop(self.lock());
                self.idle.notify_all();
                return Err(e);
            }
            // Only the writer holding `out` moves it: a store, not a race.
            self.events_written.store(upto, Ordering::Release);
            done.finish(WRITTEN);
            batch.clear();
            let mut q = self.lock();
            if q.bytes.is_empty() {
                q.keep_spare(batch);
                q.out = Some(out);
                // Only a closer waits on `idle`, and it sets `closed` before waiting
                // (under this lock); waking a condvar is a syscall, so skip it otherwise.
                let closing = q.closed;
                drop(q);
                if closing {
                    self.idle.notify_all();
                }
                return Ok(());
            }
            std::mem::swap(&mut q.bytes, &mut batch);
            upto = q.last_seq;
            done = std::mem::take(&mut q.done);
        }
    }
}

/// A batch handed to a blocking-pool thread. A pool that drops it without running it
/// (the runtime shutting down) puts the sink and the batch back in the queue, in
/// order, for [`AuditWriter::close`] to write: no line is lost with the job.
struct WriteJob {
    shared: Arc<Shared>,
    job: Option<(Chain, Vec<u8>, u64, Arc<BatchDone>)>,
}

impl WriteJob {
    fn run(mut self) {
        if let Some((out, batch, upto, done)) = self.job.take() {
            // A failure is published through `failed` and the batches (and logged).
            let _ = self.shared.write_until_empty(out, batch, upto, done);
        }
    }
}

impl Drop for WriteJob {
    fn drop(&mut self) {
        if let Some((out, mut batch, _, done)) = self.job.take() {
            let mut q = self.shared.lock();
            batch.extend_from_slice(&q.bytes);
            let displaced = std::mem::replace(&mut q.bytes, batch);
            q.keep_spare(displaced);
            q.out = Some(out);
            drop(q);
            // Its handlers now wait for the queue's batch, which holds their lines.
            done.finish(REQUEUED);
            self.shared.idle.notify_all();
        }
    }
}

/// Where [`AuditSink::open_file`] writes.
pub enum AuditOutput {
    /// A stream (stdout): never rotated or synced.
    Stream(Box<dyn Write + Send>),
    /// An audit file, rotated and synced as it says.
    File(AuditFile),
}

impl std::fmt::Debug for AuditOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuditOutput::Stream(_) => f.write_str("Stream"),
            AuditOutput::File(file) => f.debug_tuple("File").field(file).finish(),
        }
    }
}

/// Handle for recording audit events; cheap to clone.
#[derive(Debug, Clone)]
pub struct AuditSink {
    shared: Arc<Shared>,
    clock: Arc<dyn Clock>,
}

/// Owner of the sink's lifetime; [`AuditWriter::close`] drains it at shutdown.
#[derive(Debug)]
pub struct AuditWriter {
    shared: Arc<Shared>,
}

impl AuditSink {
    /// An audit trail over `out` (stdout, a file, or anything in tests), timed by the
    /// system clock.
    pub fn open(out: Box<dyn Write + Send>) -> (AuditSink, AuditWriter) {
        AuditSink::open_with_clock(out, Arc::new(SystemClock))
    }

    /// An audit trail over `out` whose events read the time from `clock`. The chain
    /// starts anew (`seq` 1) and no opening event is written: for tests and
    /// embedders that frame the stream themselves; [`AuditSink::open_file`] is what
    /// a process writes.
    pub fn open_with_clock(
        out: Box<dyn Write + Send>,
        clock: Arc<dyn Clock>,
    ) -> (AuditSink, AuditWriter) {
        AuditSink::with_chain(Chain::new(out, ChainStart::NEW), clock)
    }

    /// An audit trail over `out` that continues the chain at `start` and begins with
    /// an opening event naming `policy` (and a torn tail that `start` sealed off),
    /// signing checkpoints when `signing` is given. Fails when the opening event
    /// cannot be written.
    pub fn open_file(
        out: AuditOutput,
        start: ChainStart,
        policy: &PolicyIdentity,
        signing: Option<AuditSigning>,
        clock: Arc<dyn Clock>,
    ) -> io::Result<(AuditSink, AuditWriter)> {
        let mut chain = match out {
            AuditOutput::Stream(out) => Chain::new(out, start),
            AuditOutput::File(f) => Chain::file(f, start)?,
        };
        if let Some(signing) = signing {
            chain = chain.sign_with(signing, Arc::clone(&clock));
        }
        chain.open_file(policy, start.torn_tail_bytes, Arc::clone(&clock))?;
        Ok(AuditSink::with_chain(chain, clock))
    }

    fn with_chain(chain: Chain, clock: Arc<dyn Clock>) -> (AuditSink, AuditWriter) {
        let out = chain;
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                bytes: Vec::with_capacity(64 * 1024),
                spare: Vec::with_capacity(64 * 1024),
                done: Arc::default(),
                last_seq: 0,
                out: Some(out),
                closed: false,
            }),
            idle: Condvar::new(),
            failed: AtomicBool::new(false),
            events_written: AtomicU64::new(0),
            broken: Mutex::new(None),
            writing_since: AtomicU64::new(0),
            epoch: std::time::Instant::now(),
        });
        (
            AuditSink {
                shared: Arc::clone(&shared),
                clock,
            },
            AuditWriter { shared },
        )
    }

    /// The clock events are timed with.
    pub fn clock(&self) -> &dyn Clock {
        &*self.clock
    }

    /// False while the sink is failing (from a failed write until a retry succeeds):
    /// decisions are then refused.
    pub fn is_healthy(&self) -> bool {
        !self.shared.failed.load(Ordering::Acquire)
    }

    /// Whether decisions can be served: the sink works and no write has been stuck
    /// for longer than `timeout` (a blocked pipe or disk). What `/ready` answers.
    pub fn is_ready(&self, timeout: Duration) -> bool {
        if !self.is_healthy() {
            return false;
        }
        let since = self.shared.writing_since.load(Ordering::Acquire);
        if since == 0 {
            return true;
        }
        let now = u64::try_from(self.shared.epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
        let stuck = now.saturating_sub(since - 1);
        u128::from(stuck) <= timeout.as_micros()
    }

    /// Audit events queued but not written yet.
    pub fn unwritten(&self) -> u64 {
        let queued = self.shared.lock().last_seq;
        queued.saturating_sub(self.events_written())
    }

    /// Audit events written so far.
    pub fn events_written(&self) -> u64 {
        self.shared.events_written.load(Ordering::Relaxed)
    }

    /// Queues one line (without its newline) and returns once it is written.
    ///
    /// Group commit: a handler that finds no writer active does not write at once. It
    /// yields to the runtime first, so that every other handler that is ready to run on
    /// this worker appends its line too; then the first of them to resume writes the
    /// whole queue with one `write(2)`, and the others find their line written. Without
    /// load the yield costs one pass of the scheduler. Nothing is held across the
    /// yield but the line's sequence number: a handler dropped there (its client went
    /// away) leaves its line queued for the next writer or for [`AuditWriter::close`].
    pub(crate) async fn record(
        &self,
        line: impl AsRef<[u8]>,
        deadline: Instant,
    ) -> Result<(), AuditError> {
        let queued = self.enqueue(std::slice::from_ref(&line));
        drop(line);
        self.written(queued?, deadline).await
    }

    /// Queues several lines (each without its newline) together, in order, without
    /// waiting: all or none (too big for the queue: `Backlog`). [`AuditSink::written`]
    /// then waits once for the lot (a batch request's items), with the same group
    /// commit as [`AuditSink::record`]. Split in two so that a caller can give its
    /// line buffers back ([`super::Line`]) before it waits, for the next event on
    /// its worker thread. `None`: there was nothing to queue.
    pub(crate) fn enqueue<L: AsRef<[u8]>>(
        &self,
        lines: &[L],
    ) -> Result<Option<Queued>, AuditError> {
        if lines.is_empty() {
            return Ok(None);
        }
        if !self.is_healthy() {
            return Err(AuditError::Failed);
        }
        let mut q = self.shared.lock();
        if q.closed {
            return Err(AuditError::Closed);
        }
        let adding: usize = lines.iter().map(|l| l.as_ref().len() + 1).sum();
        if q.bytes.len() + adding > MAX_PENDING_BYTES {
            return Err(AuditError::Backlog);
        }
        for line in lines {
            q.bytes.extend_from_slice(line.as_ref());
            q.bytes.push(b'\n');
        }
        q.last_seq += lines.len() as u64;
        Ok(Some(Queued {
            seq: q.last_seq,
            writer_active: q.out.is_none(),
            done: Arc::clone(&q.done),
        }))
    }

    /// Returns once the lines [`AuditSink::enqueue`] queued are written (group
    /// commit, as [`AuditSink::record`] describes), or why they were not by
    /// `deadline`; at once when it queued none.
    pub(crate) async fn written(
        &self,
        queued: Option<Queued>,
        deadline: Instant,
    ) -> Result<(), AuditError> {
        let shared = &*self.shared;
        let Some(Queued {
            seq,
            writer_active,
            mut done,
        }) = queued
        else {
            return Ok(());
        };
        // INVARIANT: whoever takes `out` writes until the queue is empty, so a line
        // appended while a writer is active is written by that writer.
        if !writer_active {
            tokio::task::yield_now().await;
            if shared.events_written.load(Ordering::Acquire) >= seq {
                return Ok(());
            }
            let job = {
                let mut q = shared.lock();
                match q.out.take() {
                    Some(out) => {
                        let (batch, upto, done) = q.take_batch();
                        Some((out, batch, upto, done))
                    }
                    None => None,
                }
            };
            if let Some((out, batch, upto, batch_done)) = job {
                // The write runs on a blocking-pool thread, never on this task: a
                // `write(2)` stuck in the kernel (a pipe nobody reads, a hung disk)
                // then blocks that thread only, and this handler waits for its line
                // like any other, bounded by its deadline. (Blocking a runtime worker
                // instead can also stall the runtime's timers, so that no deadline
                // fires at all.)
                let job = WriteJob {
                    shared: Arc::clone(&self.shared),
                    job: Some((out, batch, upto, batch_done)),
                };
                drop(tokio::task::spawn_blocking(move || job.run()));
            } else if !self.is_healthy() {
                return Err(AuditError::Failed);
            }
        }
        // Whether this handler has looked once without a timer (see below).
        let mut looked = false;
        loop {
            let requeued = {
                let notified = done.notify.notified();
                let mut notified = std::pin::pin!(notified);
                // Registered before the state is read, so a finish in between is not
                // missed.
                notified.as_mut().enable();
                // Lines are written in sequence order: this also covers a requeued
                // line that a later batch wrote before this handler looked again.
                if shared.events_written.load(Ordering::Acquire) >= seq {
                    return Ok(());
                }
                match done.state() {
                    WRITTEN => return Ok(()),
                    FAILED => return Err(AuditError::Failed),
                    REQUEUED => Arc::clone(&shared.lock().done),
                    _ => {
                        if !self.is_healthy() {
                            return Err(AuditError::Failed);
                        }
                        if !looked {
                            // The batch may be written (on the blocking thread) while
                            // this worker runs the other ready tasks: looking again
                            // after one yield spares a handler whose batch was written
                            // meanwhile arming a timer for its deadline. The deadline
                            // bounds the wait all the same: the yield returns at the
                            // runtime's next turn, and the wait after it is timed.
                            looked = true;
                            tokio::task::yield_now().await;
                            continue;
                        }
                        if tokio::time::timeout_at(deadline, notified).await.is_err() {
                            return Err(AuditError::Timeout);
                        }
                        continue;
                    }
                }
            };
            done = requeued;
        }
    }
}

impl AuditWriter {
    /// Refuses new events, waits for an active writer, writes and flushes everything
    /// still queued (and a last signed checkpoint, when signing). Returns an error if
    /// the sink failed at any time.
    pub fn close(self) -> io::Result<()> {
        let shared = &*self.shared;
        let mut q = shared.lock();
        q.closed = true;
        loop {
            if shared.failed.load(Ordering::Acquire) {
                return Err(io::Error::other(
                    "the audit sink failed; decisions were refused from then on",
                ));
            }
            if let Some(mut out) = q.out.take() {
                let (batch, upto, done) = q.take_batch();
                drop(q);
                if !batch.is_empty() {
                    self.shared.write_until_empty(out, batch, upto, done)?;
                    // Put back by the writer once the queue was empty.
                    match shared.lock().out.take() {
                        Some(back) => out = back,
                        None => return Ok(()),
                    }
                }
                // A last signed checkpoint over the head, when signing.
                return out.finish();
            }
            q = shared.idle.wait(q).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use policygate_testkit::MemorySink as Memory;

    /// The `n` of every line written, after checking that the lines form a chain
    /// from genesis in the order written.
    fn unseal(mem: &Memory) -> Vec<String> {
        let data = mem.bytes();
        let mut prev = [0u8; 32];
        let mut out = Vec::new();
        for (i, line) in data
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .enumerate()
        {
            let v: serde_json::Value = serde_json::from_slice(line).unwrap();
            assert_eq!(v["seq"], i as u64 + 1);
            assert_eq!(v["prev_hash"], policygate_api::chain::hash_hex(&prev));
            prev = policygate_api::chain::line_hash(line);
            out.push(v["n"].to_string());
        }
        out
    }

    fn deadline() -> Instant {
        Instant::now() + Duration::from_secs(10)
    }

    /// `enqueue` then `written`, as `routes::decide::commit_all` does.
    async fn record_all<L: AsRef<[u8]>>(sink: &AuditSink, lines: &[L]) -> Result<(), AuditError> {
        sink.written(sink.enqueue(lines)?, deadline()).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_acknowledged_event_is_written_in_full() {
        let mem = Memory::default();
        let (sink, writer) = AuditSink::open(Box::new(mem.clone()));
        let mut tasks = Vec::new();
        for i in 0..200 {
            let sink = sink.clone();
            tasks.push(tokio::spawn(async move {
                sink.record(format!("{{\"n\":{i}}}").into_bytes(), deadline())
                    .await
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), Ok(()));
        }
        // Acknowledged means written: no close needed to see the lines.
        let lines = String::from_utf8(mem.bytes()).unwrap();
        assert_eq!(lines.lines().count(), 200);
        assert_eq!(sink.events_written(), 200);
        writer.close().unwrap();
        assert_eq!(
            sink.record(b"{}".to_vec(), deadline()).await,
            Err(AuditError::Closed)
        );
    }

    /// A failed write refuses decisions while the sink fails; once it works again the
    /// retry writes the failed line and decisions resume by themselves, one chain.
    #[tokio::test(start_paused = true)]
    async fn a_failed_write_fails_closed_until_a_retry_succeeds() {
        let mem = Memory::default();
        mem.fail.store(true, Ordering::SeqCst);
        let (sink, writer) = AuditSink::open(Box::new(mem.clone()));
        assert_eq!(
            sink.record(br#"{"n":1}"#.to_vec(), deadline()).await,
            Err(AuditError::Failed)
        );
        assert!(!sink.is_healthy());
        assert_eq!(
            sink.record(br#"{"n":2}"#.to_vec(), deadline()).await,
            Err(AuditError::Failed),
            "refused at once while failing"
        );
        // Still failing after a few retries (the paused clock runs the backoff).
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(!sink.is_healthy());
        mem.fail.store(false, Ordering::SeqCst);
        // The next retry succeeds (backoff is at most 5 s).
        tokio::time::sleep(Duration::from_secs(6)).await;
        assert!(sink.is_healthy(), "recovered without a restart");
        assert_eq!(
            sink.record(br#"{"n":3}"#.to_vec(), deadline()).await,
            Ok(())
        );
        writer.close().unwrap();
        // The failed line was written by the retry; the refused one never queued.
        assert_eq!(unseal(&mem), ["1", "3"]);
        assert_eq!(sink.events_written(), 2);
    }

    /// A sink whose writes wait for a gate to open.
    struct Gated {
        open: Arc<(Mutex<bool>, Condvar)>,
        entered: Arc<AtomicBool>,
        mem: Memory,
    }

    impl Write for Gated {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.entered.store(true, Ordering::SeqCst);
            let (lock, cvar) = &*self.open;
            let mut open = lock.lock().unwrap();
            while !*open {
                open = cvar.wait(open).unwrap();
            }
            self.mem.write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A write stuck in the sink bounds every waiter by its deadline, the handler whose
    /// line is being written included (the write runs on a thread of its own), and the
    /// lines still reach the sink once it moves again.
    ///
    /// This once hung: the writing handler blocked its runtime worker inside the gated
    /// write, and when the other worker had parked on its condition variable rather
    /// than on the I/O and timer driver, no thread polled the timers, so no deadline
    /// ever fired. No worker thread blocks now, and every wait here is bounded.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_blocked_sink_times_out_waiters_but_still_writes_their_lines() {
        let mem = Memory::default();
        let open = Arc::new((Mutex::new(false), Condvar::new()));
        let entered = Arc::new(AtomicBool::new(false));
        let (sink, writer) = AuditSink::open(Box::new(Gated {
            open: Arc::clone(&open),
            entered: Arc::clone(&entered),
            mem: mem.clone(),
        }));
        let first = tokio::spawn({
            let sink = sink.clone();
            let deadline = Instant::now() + Duration::from_millis(200);
            async move { sink.record(b"{\"n\":1}".to_vec(), deadline).await }
        });
        let until = std::time::Instant::now() + Duration::from_secs(10);
        while !entered.load(Ordering::SeqCst) {
            assert!(
                std::time::Instant::now() < until,
                "the first record never wrote"
            );
            tokio::task::yield_now().await;
        }
        // The sink is stuck: a second event waits for the writer and gives up.
        let short = Instant::now() + Duration::from_millis(50);
        assert_eq!(
            sink.record(b"{\"n\":2}".to_vec(), short).await,
            Err(AuditError::Timeout)
        );
        // So does the handler whose line is in the stuck write.
        let first = tokio::time::timeout(Duration::from_secs(10), first)
            .await
            .expect("the writing handler ignored its deadline");
        assert_eq!(first.unwrap(), Err(AuditError::Timeout));
        assert!(mem.bytes().is_empty());
        assert!(
            !sink.is_ready(Duration::from_millis(10)),
            "a stuck write is not ready"
        );
        // The sink moves again: both lines are written, the timed-out ones included.
        *open.0.lock().unwrap() = true;
        open.1.notify_all();
        writer.close().unwrap();
        assert_eq!(unseal(&mem), ["1", "2"]);
        assert_eq!(sink.events_written(), 2);
    }

    /// A write job dropped unrun (a runtime shutting down drops queued blocking tasks)
    /// gives its batch back, and the close writes it, in order.
    #[test]
    fn a_write_job_dropped_unrun_gives_its_batch_back() {
        let mem = Memory::default();
        let (sink, writer) = AuditSink::open(Box::new(mem.clone()));
        let job = {
            let mut q = sink.shared.lock();
            q.bytes.extend_from_slice(b"{\"n\":1}\n");
            q.last_seq = 1;
            let out = q.out.take().unwrap();
            let (batch, upto, done) = q.take_batch();
            // A line queued while the job waits.
            q.bytes.extend_from_slice(b"{\"n\":2}\n");
            q.last_seq = 2;
            WriteJob {
                shared: Arc::clone(&sink.shared),
                job: Some((out, batch, upto, done)),
            }
        };
        drop(job);
        // Bounded: without the sink given back, the close would wait for it forever.
        let (done, closed) = std::sync::mpsc::channel();
        std::thread::spawn(move || done.send(writer.close().is_ok()));
        assert_eq!(closed.recv_timeout(Duration::from_secs(10)), Ok(true));
        assert_eq!(unseal(&mem), ["1", "2"]);
        assert_eq!(sink.events_written(), 2);
    }

    /// Handlers ready at the same time share one write.
    #[test]
    fn concurrent_events_share_writes() {
        #[derive(Clone, Default)]
        struct Counting {
            mem: Memory,
            writes: Arc<AtomicU64>,
        }
        impl Write for Counting {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.writes.fetch_add(1, Ordering::SeqCst);
                self.mem.write(buf)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let out = Counting::default();
        let (sink, writer) = AuditSink::open(Box::new(out.clone()));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let tasks: Vec<_> = (0..50)
                .map(|i| {
                    let sink = sink.clone();
                    tokio::spawn(
                        async move { sink.record(format!("{{\"n\":{i}}}"), deadline()).await },
                    )
                })
                .collect();
            for t in tasks {
                assert_eq!(t.await.unwrap(), Ok(()));
            }
        });
        assert_eq!(sink.events_written(), 50);
        let writes = out.writes.load(Ordering::SeqCst);
        assert!(writes < 5, "{writes} writes for 50 events");
        writer.close().unwrap();
        let data = out.mem.bytes();
        assert_eq!(String::from_utf8(data).unwrap().lines().count(), 50);
    }

    /// Lines recorded together are written in order, in one chain, with one wait; an
    /// empty list writes nothing and is never refused.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lines_recorded_together_are_written_in_order() {
        let mem = Memory::default();
        let (sink, writer) = AuditSink::open(Box::new(mem.clone()));
        sink.record(b"{\"n\":0}".to_vec(), deadline())
            .await
            .unwrap();
        let lines: Vec<String> = (1..=100).map(|i| format!("{{\"n\":{i}}}")).collect();
        record_all(&sink, &lines).await.unwrap();
        record_all::<&[u8]>(&sink, &[]).await.unwrap();
        assert_eq!(sink.events_written(), 101);
        let ns = unseal(&mem);
        let want: Vec<String> = (0..=100).map(|i: u32| i.to_string()).collect();
        assert_eq!(ns, want);
        writer.close().unwrap();
        // Nothing to queue is not refused, even by a closed sink (an empty batch
        // request is answered, not withheld).
        record_all::<&[u8]>(&sink, &[]).await.unwrap();
        assert_eq!(record_all(&sink, &[b"{}"]).await, Err(AuditError::Closed));
    }

    /// Lines that would take the queue past its limit are refused together: none of
    /// them is queued (not even the two that alone would fit), and the chain goes on
    /// from the last line written.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lines_over_the_queue_limit_are_refused_together() {
        let mem = Memory::default();
        let (sink, writer) = AuditSink::open(Box::new(mem.clone()));
        sink.record(b"{\"n\":0}".to_vec(), deadline())
            .await
            .unwrap();
        let big = |n: u8| {
            let mut line = format!("{{\"n\":{n},\"pad\":\"").into_bytes();
            line.resize(MAX_PENDING_BYTES / 3, b'x');
            line.extend_from_slice(b"\"}");
            line
        };
        assert_eq!(
            record_all(&sink, &[big(1), big(2), big(3), big(4)]).await,
            Err(AuditError::Backlog)
        );
        assert_eq!(sink.unwritten(), 0);
        sink.record(b"{\"n\":4}".to_vec(), deadline())
            .await
            .unwrap();
        writer.close().unwrap();
        assert_eq!(unseal(&mem), ["0", "4"]);
    }

    /// A handler dropped while it yields (its client went away) leaves its line queued,
    /// and the line is still written.
    #[test]
    fn an_event_dropped_before_its_write_is_written_later() {
        use futures_util::FutureExt;
        let mem = Memory::default();
        let (sink, writer) = AuditSink::open(Box::new(mem.clone()));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let first = sink.record(r#"{"n":1}"#, deadline());
            assert!(first.now_or_never().is_none(), "the first record yields");
            assert!(mem.bytes().is_empty());
            // The next writer writes both.
            assert_eq!(sink.record(r#"{"n":2}"#, deadline()).await, Ok(()));
        });
        assert_eq!(unseal(&mem), ["1", "2"]);
        // Polled once in the runtime's context (the writer of the first two may still
        // be putting the sink back, so this one may wait for it rather than yield).
        let third = sink.record(r#"{"n":3}"#, deadline());
        {
            let _in_runtime = rt.enter();
            assert!(third.now_or_never().is_none());
        }
        writer.close().unwrap();
        assert_eq!(unseal(&mem), ["1", "2", "3"]);
    }
}
