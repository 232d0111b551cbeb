//! The audit trail: one JSON line per `POST /evaluate` call (and per other refused
//! request), written without ever returning a decision whose event was not written.
//!
//! The family is the one place audit behaviour lives:
//! - [`sink`]: the group-commit writer and its fail-closed semantics (read its docs
//!   before changing anything about when a handler answers);
//! - `chain`: the hash chain's head, sealing each batch (`seq`, `prev_hash`), the
//!   opening event of a file and resuming (and torn-tail sealing) on start;
//! - `event`: serialising one event from borrowed parts into a reused buffer;
//! - `context`: what `decision_context` records ([`AuditContext`]), planned once
//!   from the policy's tested facts;
//! - [`clock`]: where events read the time, injected so that tests can fix it;
//! - `limit`: the bounded rate at which unauthenticated refusals are audited (and
//!   the count of those left out).

mod chain;
pub mod clock;
mod context;
mod event;
mod limit;
pub mod sink;
pub mod verify;

pub use chain::{AuditFile, AuditSigning, AuditSync, ChainStart, resume};
pub(crate) use clock::latency_ms;
pub use clock::{Clock, FixedClock, SystemClock};
pub use context::AuditContext;
pub(crate) use context::ContextPlan;
pub(crate) use event::{EventParts, Line, serialize_event};
pub(crate) use limit::RateLimit;
pub(crate) use sink::AuditError;
pub use sink::{AuditOutput, AuditSink, AuditWriter, MAX_PENDING_BYTES};
