//! Audit event serialisation: one line per event, `api`'s [`AuditEventRef`] written
//! from borrowed parts of the request, the decision and the policy without copying a
//! string, into a buffer that is reused by the next event on the same worker thread.

use super::clock::{Clock, occurred_at};
use crate::traceparent::TraceParent;
use policygate_api::{
    AuditEvaluationRef, AuditEventRef, DecisionContextRef, PolicyIdentity, Rendered,
};
use std::cell::Cell;

/// The per-request parts of an audit event.
#[derive(Debug)]
pub(crate) struct EventParts<'a> {
    /// `event_type`: `api::AUDIT_EVENT_TYPE`, or `AUDIT_EXPLAIN_EVENT_TYPE` for /explain.
    pub(crate) event_type: &'static str,
    pub(crate) request_id: &'a str,
    pub(crate) trace: Option<&'a TraceParent>,
    pub(crate) caller: Option<&'a str>,
    pub(crate) evaluation: AuditEvaluationRef<'a>,
    pub(crate) context: Option<DecisionContextRef<'a>>,
    /// The fact paths the event records (`ContextPlan::covers`; `None` for a refusal,
    /// which records none).
    pub(crate) covers: Option<&'a Rendered<Vec<String>>>,
    pub(crate) latency_ms: f64,
    pub(crate) shadow: Option<policygate_api::ShadowOutcomeRef<'a>>,
}

thread_local! {
    /// One spare line buffer per worker thread: a line is copied into the queue, so
    /// its buffer can serve the next event instead of being freed.
    static SPARE: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// One serialised audit line. Dropped, its buffer goes back to the thread's spare when
/// its capacity is between [`LINE_CAPACITY`] and 16 KiB: not an empty buffer, so that
/// the default (empty) line left once a line was queued does not replace a good
/// spare, and not one a huge event grew.
#[derive(Debug, Default)]
pub(crate) struct Line(Vec<u8>);

/// Room reserved for a line: a decision's line is 1.1-1.5 KB before its chain fields,
/// so a fresh buffer rarely has to grow while it is written.
const LINE_CAPACITY: usize = 2048;

impl AsRef<[u8]> for Line {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        let mut buf = std::mem::take(&mut self.0);
        if (LINE_CAPACITY..=16 * 1024).contains(&buf.capacity()) {
            buf.clear();
            SPARE.set(buf);
        }
    }
}

/// Serialises one audit event (without the trailing newline and without the chain
/// fields, which the writer appends in write order).
pub(crate) fn serialize_event(
    parts: EventParts<'_>,
    policy: &Rendered<PolicyIdentity>,
    environment: Option<&str>,
    clock: &dyn Clock,
) -> Line {
    let occurred_at = occurred_at(clock);
    let event = AuditEventRef {
        event_type: parts.event_type,
        occurred_at: &occurred_at,
        environment,
        request_id: parts.request_id,
        trace_id: parts.trace.map(|t| t.trace_id.as_str()),
        span_id: parts.trace.map(|t| t.span_id.as_str()),
        caller_id: parts.caller,
        tenant_id: None,
        policy,
        evaluation: parts.evaluation,
        decision_context: parts.context,
        decision_context_covers: parts.covers,
        latency_ms: parts.latency_ms,
        shadow: parts.shadow,
    };
    let mut out = Line(SPARE.take());
    out.0.reserve(LINE_CAPACITY);
    // Serialising strings, numbers and maps into a Vec cannot fail; an empty line
    // would be caught by the consumer's JSON parser rather than lost silently.
    if let Err(e) = serde_json::to_writer(&mut out.0, &event) {
        tracing::error!(error = %e, "cannot serialise an audit event");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::clock::FixedClock;
    use policygate_api::{AuditEvent, ErrorCode};
    use std::time::Duration;

    /// The line is the event `api` defines, stamped with the clock's time, and its
    /// buffer is reused by the next line on the thread.
    #[test]
    fn lines_are_stamped_events_in_reused_buffers() {
        let identity = Rendered::new(PolicyIdentity {
            policy_id: "p".into(),
            policy_version: "1".into(),
            policy_sha256: "a".repeat(64),
        });
        let at = time::OffsetDateTime::from_unix_timestamp(0).unwrap();
        let clock = FixedClock::new(at, Duration::ZERO);
        let parts = || EventParts {
            event_type: policygate_api::AUDIT_EVENT_TYPE,
            request_id: "r-1",
            trace: None,
            caller: Some("c"),
            evaluation: AuditEvaluationRef::refused(None, None, ErrorCode::NotFound),
            context: None,
            covers: None,
            latency_ms: 0.5,
            shadow: None,
        };
        let line = serialize_event(parts(), &identity, Some("prod"), &clock);
        let mut sealed = Vec::new();
        policygate_api::chain::seal_into(&mut sealed, line.as_ref(), 1, &[0; 32]);
        let event: AuditEvent = serde_json::from_slice(&sealed).unwrap();
        assert_eq!(event.seq, 1);
        assert_eq!(event.occurred_at, "1970-01-01T00:00:00.000000Z");
        assert_eq!(event.environment.as_deref(), Some("prod"));
        assert_eq!(event.evaluation.http_status, Some(404));
        let first = line.as_ref().as_ptr();
        drop(line);
        let again = serialize_event(parts(), &identity, None, &clock);
        assert_eq!(again.as_ref().as_ptr(), first, "the spare buffer is reused");
    }
}
