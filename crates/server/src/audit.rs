//! The audit trail: one JSON line per `POST /evaluate` call (and per other refused
//! request), written off the request path without ever losing an event.
//!
//! # Semantics (the promise, and what it costs)
//!
//! **No decision is returned unless its audit line has been written.** A handler
//! serialises its [`AuditEvent`] itself (in parallel across worker threads), appends
//! the line to a shared in-memory batch and then *waits* until the dedicated writer
//! thread reports that the line has been handed to the sink (`write(2)` returned and
//! the writer was flushed). Only then is the `200` sent. This is group commit: the
//! writer takes the whole batch that accumulated while it was busy, writes it with one
//! `write_all` and one flush, and releases every waiting handler at once, so under load
//! the cost per event is a memcpy and a wake-up rather than a system call.
//!
//! - If the write fails (disk full, closed pipe, …) the sink is marked **failed for
//!   good**: the waiting decisions and every later one are answered `503 unavailable`
//!   (fail closed), `GET /health` answers 503 so a load balancer drains the instance,
//!   and `policygate_audit_sink_up` drops to 0. The process keeps running so that
//!   operators can see why; a restart reopens the sink. The failed batch may have been
//!   written in part, so the stream can end in a torn line.
//! - If the sink is merely slow (a blocked stdout pipe), handlers give up when the
//!   request's deadline (`--request-timeout-ms`) passes and answer `503`. Their lines
//!   stay queued and are written when the sink moves again. Hence the one-sided
//!   guarantee: the stream may hold an event whose caller got a 503, never the reverse.
//! - The queue is bounded ([`MAX_PENDING_BYTES`]); a handler that finds it full answers
//!   `503` at once instead of buffering without limit.
//! - Refusals (4xx) are audited the same way, but when their line cannot be written
//!   they keep their own status: they are refusals already, and a 503 would invite a
//!   retry of a request that can never succeed.
//!
//! The alternative, fire-and-forget with a health flag, is faster by one wake-up per
//! batch but returns decisions whose events may be lost when the sink fails; the
//! product promise ("a decision that cannot be audited is not silently returned") rules
//! it out. Events are not `fsync`ed: durability past the OS (power loss) is the
//! sink's, e.g. the log shipper reading stdout.
//!
//! **Shutdown**: [`AuditWriter::close`] marks the queue closed (later events are refused
//! with 503), writes and flushes everything queued, and joins the thread. The server
//! calls it only after it stopped accepting and in-flight requests finished.
//!
//! This module also decides what goes into `decision_context` ([`AuditContext`]).

use crate::traceparent::TraceParent;
use policygate_api::{
    AUDIT_EVENT_TYPE, AUDIT_EVENT_VERSION, AuditEvaluation, AuditEvent, EvaluateRequest,
    PolicyIdentity,
};
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use tokio::sync::watch;
use tokio::time::Instant;

/// Most bytes of audit lines waiting for the writer before new events are refused.
pub const MAX_PENDING_BYTES: usize = 32 * 1024 * 1024;

/// What `decision_context` records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum AuditContext {
    /// Every fact of the request (env, resource, subject, signals).
    All,
    /// Only the facts some rule of the policy tests (`Policy::tested_facts`).
    #[default]
    Tested,
    /// Nothing: `decision_context` is `null`.
    None,
}

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
                "the audit sink cannot be written; decisions are refused until it is repaired and the service restarted"
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

#[derive(Debug, Default)]
struct Queue {
    bytes: Vec<u8>,
    /// Sequence number of the last event appended.
    last_seq: u64,
    /// The writer is (about to be) asleep on the condvar and must be woken.
    writer_waiting: bool,
    closed: bool,
}

#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    /// Every event with a sequence number up to this one has been written.
    written: u64,
    failed: bool,
}

#[derive(Debug)]
struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
    progress: watch::Sender<Progress>,
    failed: AtomicBool,
    events_written: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A panic while holding this lock cannot leave the queue inconsistent (every
        // critical section is a push or a swap), so a poisoned lock is still usable.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Handle for recording audit events; cheap to clone.
#[derive(Debug, Clone)]
pub struct AuditSink {
    shared: Arc<Shared>,
}

/// Owner of the writer thread; [`AuditWriter::close`] drains and stops it.
#[derive(Debug)]
pub struct AuditWriter {
    shared: Arc<Shared>,
    thread: JoinHandle<io::Result<()>>,
}

impl AuditSink {
    /// Starts the writer thread over `out` (stdout, a file, or anything in tests).
    pub fn spawn(out: Box<dyn Write + Send>) -> io::Result<(AuditSink, AuditWriter)> {
        let (progress, _) = watch::channel(Progress::default());
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            progress,
            failed: AtomicBool::new(false),
            events_written: AtomicU64::new(0),
        });
        let thread = std::thread::Builder::new()
            .name("policygate-audit".into())
            .spawn({
                let shared = Arc::clone(&shared);
                move || run_writer(&shared, out)
            })?;
        Ok((
            AuditSink {
                shared: Arc::clone(&shared),
            },
            AuditWriter { shared, thread },
        ))
    }

    /// False once a write failed: decisions are then refused.
    pub fn is_healthy(&self) -> bool {
        !self.shared.failed.load(Ordering::Acquire)
    }

    /// Audit events written so far.
    pub fn events_written(&self) -> u64 {
        self.shared.events_written.load(Ordering::Relaxed)
    }

    /// Queues one line (without its newline) and waits until it is written.
    pub(crate) async fn record(
        &self,
        mut line: Vec<u8>,
        deadline: Instant,
    ) -> Result<(), AuditError> {
        if !self.is_healthy() {
            return Err(AuditError::Failed);
        }
        static MODE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let mode = MODE.get_or_init(|| std::env::var("PGX").unwrap_or_default());
        if mode == "skip" {
            return Ok(());
        }
        line.push(b'\n');
        let (seq, wake) = {
            let mut q = self.shared.lock();
            if q.closed {
                return Err(AuditError::Closed);
            }
            if q.bytes.len() + line.len() > MAX_PENDING_BYTES {
                return Err(AuditError::Backlog);
            }
            q.bytes.extend_from_slice(&line);
            q.last_seq += 1;
            let wake = std::mem::take(&mut q.writer_waiting);
            (q.last_seq, wake)
        };
        if wake {
            self.shared.wake.notify_one();
        }
        if mode == "nowait" {
            return Ok(());
        }
        let mut progress = self.shared.progress.subscribe();
        let outcome = tokio::time::timeout_at(
            deadline,
            progress.wait_for(|p| p.written >= seq || p.failed),
        )
        .await;
        match outcome {
            Ok(Ok(p)) if p.written >= seq => Ok(()),
            Ok(Ok(_)) => Err(AuditError::Failed),
            Ok(Err(_)) => Err(AuditError::Closed),
            Err(_) => Err(AuditError::Timeout),
        }
    }
}

impl AuditWriter {
    /// Refuses new events, writes and flushes every queued one, and stops the thread.
    /// Returns the write error, if the sink failed at any time.
    pub fn close(self) -> io::Result<()> {
        {
            let mut q = self.shared.lock();
            q.closed = true;
        }
        self.shared.wake.notify_one();
        match self.thread.join() {
            Ok(result) => result,
            Err(_) => Err(io::Error::other("the audit writer thread panicked")),
        }
    }
}

fn run_writer(shared: &Shared, mut out: Box<dyn Write + Send>) -> io::Result<()> {
    let mut batch: Vec<u8> = Vec::with_capacity(64 * 1024);
    loop {
        let (upto, closing) = {
            let mut q = shared.lock();
            while q.bytes.is_empty() && !q.closed {
                q.writer_waiting = true;
                q = shared.wake.wait(q).unwrap_or_else(PoisonError::into_inner);
            }
            std::mem::swap(&mut q.bytes, &mut batch);
            (q.last_seq, q.closed)
        };
        if !batch.is_empty() {
            if let Err(e) = out.write_all(&batch).and_then(|()| out.flush()) {
                shared.failed.store(true, Ordering::Release);
                shared.progress.send_modify(|p| p.failed = true);
                tracing::error!(error = %e, "audit sink write failed; refusing decisions from now on");
                return Err(e);
            }
            let before = shared.progress.borrow().written;
            shared
                .events_written
                .fetch_add(upto - before, Ordering::Relaxed);
            shared.progress.send_modify(|p| p.written = upto);
            batch.clear();
            // Do not keep a huge buffer around after a burst.
            if batch.capacity() > 4 * 1024 * 1024 {
                batch = Vec::with_capacity(64 * 1024);
            }
        }
        if closing {
            return Ok(());
        }
    }
}

/// Which facts of a request go into `decision_context`, fixed at startup.
#[derive(Debug, Clone, Default)]
pub(crate) struct ContextPlan {
    mode: AuditContext,
    env_name: bool,
    resource_type: bool,
    resource_id: bool,
    resource_sensitivity: bool,
    subject: bool,
    subject_type: bool,
    subject_id: bool,
    all_signals: bool,
    signals: BTreeSet<String>,
}

impl ContextPlan {
    /// A plan for `mode`, given the policy's tested fact paths (`env.name`,
    /// `signals.risk_score`, `subject`, …). Unknown paths are ignored.
    pub(crate) fn new(mode: AuditContext, tested: &BTreeSet<String>) -> ContextPlan {
        let mut plan = ContextPlan {
            mode,
            ..ContextPlan::default()
        };
        for path in tested {
            match path.as_str() {
                "env" | "env.name" => plan.env_name = true,
                "resource" => {
                    plan.resource_type = true;
                    plan.resource_id = true;
                    plan.resource_sensitivity = true;
                }
                "resource.type" => plan.resource_type = true,
                "resource.id" => plan.resource_id = true,
                "resource.sensitivity" => plan.resource_sensitivity = true,
                "subject" => plan.subject = true,
                "subject.type" => plan.subject_type = true,
                "subject.id" => plan.subject_id = true,
                "signals" => plan.all_signals = true,
                other => {
                    if let Some(name) = other.strip_prefix("signals.") {
                        plan.signals.insert(name.to_owned());
                    }
                }
            }
        }
        plan
    }

    /// The `decision_context` of a decided request.
    pub(crate) fn context(&self, req: &EvaluateRequest) -> Option<Value> {
        match self.mode {
            AuditContext::None => None,
            AuditContext::All => {
                let mut ctx = Map::new();
                ctx.insert("env".into(), serde_json::to_value(&req.env).ok()?);
                ctx.insert("resource".into(), serde_json::to_value(&req.resource).ok()?);
                if let Some(subject) = &req.subject {
                    ctx.insert("subject".into(), serde_json::to_value(subject).ok()?);
                }
                if !req.signals.is_empty() {
                    let signals: Map<String, Value> = req
                        .signals
                        .iter()
                        .map(|(k, v)| (k.clone(), Value::from(v)))
                        .collect();
                    ctx.insert("signals".into(), Value::Object(signals));
                }
                Some(Value::Object(ctx))
            }
            AuditContext::Tested => Some(Value::Object(self.tested(req))),
        }
    }

    fn tested(&self, req: &EvaluateRequest) -> Map<String, Value> {
        let mut ctx = Map::new();
        if self.env_name {
            let mut env = Map::new();
            env.insert("name".into(), Value::String(req.env.name.clone()));
            ctx.insert("env".into(), Value::Object(env));
        }
        let mut resource = Map::new();
        if self.resource_type {
            resource.insert("type".into(), Value::String(req.resource.kind.clone()));
        }
        if self.resource_id {
            if let Some(id) = &req.resource.id {
                resource.insert("id".into(), Value::String(id.clone()));
            }
        }
        if self.resource_sensitivity {
            resource.insert(
                "sensitivity".into(),
                Value::String(req.resource.sensitivity.as_str().to_owned()),
            );
        }
        if !resource.is_empty() {
            ctx.insert("resource".into(), Value::Object(resource));
        }
        if let Some(subject) = &req.subject {
            if self.subject || self.subject_type || self.subject_id {
                // `subject` alone (an `exists` test) records presence as `{}`.
                let mut s = Map::new();
                if let (true, Some(kind)) = (self.subject_type, &subject.kind) {
                    s.insert("type".into(), Value::String(kind.clone()));
                }
                if let (true, Some(id)) = (self.subject_id, &subject.id) {
                    s.insert("id".into(), Value::String(id.clone()));
                }
                ctx.insert("subject".into(), Value::Object(s));
            }
        }
        let signals: Map<String, Value> = req
            .signals
            .iter()
            .filter(|(k, _)| self.all_signals || self.signals.contains(k.as_str()))
            .map(|(k, v)| (k.clone(), Value::from(v)))
            .collect();
        if !signals.is_empty() {
            ctx.insert("signals".into(), Value::Object(signals));
        }
        ctx
    }
}

/// The per-request parts of an audit event.
#[derive(Debug)]
pub(crate) struct EventParts<'a> {
    pub(crate) request_id: &'a str,
    pub(crate) trace: Option<&'a TraceParent>,
    pub(crate) caller: Option<&'a str>,
    pub(crate) evaluation: AuditEvaluation,
    pub(crate) context: Option<Value>,
    pub(crate) latency_ms: f64,
}

/// Serialises one audit event (without the trailing newline).
pub(crate) fn serialize_event(
    parts: EventParts<'_>,
    policy: &PolicyIdentity,
    environment: Option<&str>,
) -> Vec<u8> {
    let event = AuditEvent {
        event_type: AUDIT_EVENT_TYPE.to_owned(),
        event_version: AUDIT_EVENT_VERSION.to_owned(),
        occurred_at: now_rfc3339_micros(),
        service_name: "policygate".to_owned(),
        environment: environment.map(str::to_owned),
        request_id: parts.request_id.to_owned(),
        trace_id: parts.trace.map(|t| t.trace_id.clone()),
        span_id: parts.trace.map(|t| t.span_id.clone()),
        caller_id: parts.caller.map(str::to_owned),
        tenant_id: None,
        policy: policy.clone(),
        evaluation: parts.evaluation,
        decision_context: parts.context,
        latency_ms: parts.latency_ms,
    };
    let mut out = Vec::with_capacity(1024);
    // Serialising plain strings, numbers and a Value into a Vec cannot fail; an empty
    // line would be caught by the consumer's JSON parser rather than lost silently.
    if let Err(e) = serde_json::to_writer(&mut out, &event) {
        tracing::error!(error = %e, "cannot serialise an audit event");
    }
    out
}

/// Now, as RFC 3339 UTC with microseconds: `2026-11-25T09:38:13.220122Z`.
pub(crate) fn now_rfc3339_micros() -> String {
    let t = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A sink that keeps what was written, or fails every write.
    #[derive(Clone, Default)]
    struct Memory {
        data: Arc<Mutex<Vec<u8>>>,
        fail: Arc<AtomicBool>,
    }

    impl Write for Memory {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.fail.load(Ordering::SeqCst) {
                return Err(io::Error::other("disk full"));
            }
            self.data.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn deadline() -> Instant {
        Instant::now() + Duration::from_secs(10)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_acknowledged_event_is_written_in_full() {
        let mem = Memory::default();
        let (sink, writer) = AuditSink::spawn(Box::new(mem.clone())).unwrap();
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
        let lines = String::from_utf8(mem.data.lock().unwrap().clone()).unwrap();
        assert_eq!(lines.lines().count(), 200);
        assert_eq!(sink.events_written(), 200);
        writer.close().unwrap();
        assert_eq!(
            sink.record(b"{}".to_vec(), deadline()).await,
            Err(AuditError::Closed)
        );
    }

    #[tokio::test]
    async fn a_failed_write_fails_closed_for_good() {
        let mem = Memory::default();
        mem.fail.store(true, Ordering::SeqCst);
        let (sink, writer) = AuditSink::spawn(Box::new(mem.clone())).unwrap();
        assert_eq!(
            sink.record(b"{}".to_vec(), deadline()).await,
            Err(AuditError::Failed)
        );
        assert!(!sink.is_healthy());
        mem.fail.store(false, Ordering::SeqCst);
        assert_eq!(
            sink.record(b"{}".to_vec(), deadline()).await,
            Err(AuditError::Failed)
        );
        assert!(writer.close().is_err());
    }

    #[test]
    fn timestamps_have_microseconds_and_utc() {
        let t = now_rfc3339_micros();
        assert_eq!(t.len(), "2026-11-25T09:38:13.220122Z".len(), "{t}");
        assert!(t.ends_with('Z'));
        assert!(
            time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339).is_ok()
        );
    }

    #[test]
    fn tested_plan_keeps_only_tested_facts() {
        let req = EvaluateRequest::from_json(
            br#"{"action":"infer:run","env":{"name":"prod"},
                 "resource":{"type":"doc","id":"d1","sensitivity":"restricted"},
                 "subject":{"type":"user","id":"u-secret"},
                 "signals":{"risk_score":0.5,"email":"x@example.com"}}"#,
        )
        .unwrap();
        let tested: BTreeSet<String> = [
            "action",
            "resource.sensitivity",
            "subject",
            "signals.risk_score",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        let ctx = ContextPlan::new(AuditContext::Tested, &tested)
            .context(&req)
            .unwrap();
        assert_eq!(
            ctx,
            serde_json::json!({"resource": {"sensitivity": "restricted"}, "subject": {}, "signals": {"risk_score": 0.5}})
        );
        let all = ContextPlan::new(AuditContext::All, &tested)
            .context(&req)
            .unwrap();
        assert_eq!(all["subject"]["id"], "u-secret");
        assert_eq!(all["signals"]["email"], "x@example.com");
        assert!(
            ContextPlan::new(AuditContext::None, &tested)
                .context(&req)
                .is_none()
        );
    }
}
