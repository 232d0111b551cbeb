//! PolicyGate's wire contracts (version 1).
//!
//! This crate is the only place that defines JSON shapes: the evaluate request and
//! response, the error body, the audit event, the small health/version documents, the
//! validation report of `policygate validate --format json`, the reports of `policygate
//! diff` and `policygate replay`, what the PEP writes, and
//! the W3C `traceparent` value both sides of the wire read.
//! The response and the audit event also come in borrowed forms ([`EvaluateResponseRef`],
//! [`AuditEventRef`]), which the server writes on its hot path and which write exactly
//! the bytes of the owned forms. It depends on nothing of the engine, so that the PEP
//! library and other clients can use it alone. It performs no I/O.
//!
//! A request is parsed with [`EvaluateRequest::parse`] (or [`EvaluateRequest::from_json`]),
//! which reports **every** contract violation at once, each with a JSON pointer, rather
//! than stopping at the first. The rules of the request contract are defined once, in
//! [`contract`].
#![warn(missing_docs)]

mod audit;
mod batch;
mod borrowed;
pub mod chain;
pub mod contract;
mod diff;
mod domain;
mod enforcement;
mod error;
mod fast;
mod gateway;
mod guardrail;
mod parse;
mod reload;
mod rendered;
mod replay;
mod report;
mod request;
mod response;
mod shadow;
mod tooling;
mod trace;
mod unique;
mod validate;
mod verify;
mod walk;

pub use audit::{
    AUDIT_CHECKPOINT_TYPE, AUDIT_EVENT_TYPE, AUDIT_EVENT_VERSION, AUDIT_EXPLAIN_EVENT_TYPE,
    AUDIT_OPENED_TYPE, AUDIT_SUPPRESSED_TYPE, AuditCheckpoint, AuditEvaluation, AuditEvent,
    AuditLineError, AuditOpened, AuditPolicy, AuditRecord, AuditSuppressed,
    SUPPRESSED_UNAUTHENTICATED,
};
pub use batch::{
    BatchItem, BatchResult, BatchResultRef, EvaluateBatchRequest, EvaluateBatchResponse,
    EvaluateBatchResponseRef,
};
pub use borrowed::{
    AuditEvaluationRef, AuditEventRef, DecisionContextRef, EvaluateResponseRef, SignalSelection,
    SignalsRef, SubjectContextRef,
};
pub use contract::{
    MAX_BATCH_REQUESTS, MAX_ID_CHARS, MAX_LIST_SIGNAL_ITEMS, MAX_REQUEST_ID_CHARS,
    MAX_SIGNAL_STRING_CHARS, MAX_SIGNALS, clip, is_valid_env_name, is_valid_resource_type,
    is_valid_signal_name, is_valid_subject_type,
};
pub use diff::{
    ChangedRules, DIFF_REPORT_VERSION, DiffChange, DiffOutcome, DiffReport, DiffUndecided,
};
pub use domain::{Action, DecisionKind, Sensitivity};
pub use enforcement::{EnforcedDecisionRef, Origin, PepRefusal};
pub use error::{ErrorBody, ErrorCode, ErrorDetail, Problem};
pub use gateway::{
    GatewayDenial, GatewayDenialCode, GatewayDenialDetail, HEADER_CORRELATION_ID, HEADER_DECISION,
    HEADER_DENIAL, HEADER_MATCHED_RULE, HEADER_MAX_BYTES, HEADER_MAX_ITEMS, HEADER_MAX_TOKENS,
    HEADER_RATIONALE_CODES, HEADER_REVIEW_REASON,
};
pub use guardrail::{
    LiteLlmAction, LiteLlmGuardrailAnswer, LiteLlmGuardrailCall, LiteLlmRequestData,
};
pub use parse::Rejection;
pub use reload::{
    CandidatePolicy, POLICY_CHANGE_EVENT_VERSION, POLICY_RELOAD_REJECTED_EVENT_TYPE,
    POLICY_SWAPPED_EVENT_TYPE, PolicyChangeEvent, ReloadAttempt, ReloadOutcome, ReloadTrigger,
};
pub use rendered::Rendered;
pub use replay::{
    DecisionTransition, MalformedLine, MissingFact, REPLAY_REPORT_VERSION, ReplayChange,
    ReplayReason, ReplayReport, RuleTransition,
};
pub use report::{
    CheckedFile, FileReport, Finding, FindingSeverity, RelatedLocation, UnreadableFile,
    ValidationReport,
};
pub use request::{Env, EvaluateRequest, RequestError, Resource, SignalValue, Subject};
pub use response::{
    EvaluateResponse, HealthResponse, Obligation, OutputCap, PolicyIdentity, VersionResponse,
};
pub use shadow::{ShadowOutcome, ShadowOutcomeRef};
pub use tooling::{
    CaseOutcome, CaseResult, ExplainResponse, FailedCondition, PolicyCoverage, RuleCoverage,
    TestFileResult, TestReport, TraceStep,
};
pub use trace::TraceParent;
pub use verify::{AuditVerifyReport, BreakReason, ChainBreak, VerifiedFile, VerifyTotals};
