//! PolicyGate's wire contracts (version 1).
//!
//! This crate is the only place that defines JSON shapes: the evaluate request and
//! response, the error body, the audit event and the small health/version documents.
//! It depends on nothing of the engine, so that the PEP library and other clients can
//! use it alone. It performs no I/O.
//!
//! A request is parsed with [`EvaluateRequest::from_json`], which reports **every**
//! contract violation at once, each with a JSON pointer, rather than stopping at the
//! first.
#![warn(missing_docs)]

mod audit;
mod domain;
mod error;
mod fast;
mod request;
mod response;
mod tooling;

pub use audit::{AUDIT_EVENT_TYPE, AUDIT_EVENT_VERSION, AuditEvaluation, AuditEvent, AuditPolicy};
pub use domain::{
    Action, DecisionKind, MAX_ID_CHARS, MAX_LIST_SIGNAL_ITEMS, MAX_REQUEST_ID_CHARS,
    MAX_SIGNAL_STRING_CHARS, MAX_SIGNALS, Sensitivity, is_valid_env_name, is_valid_resource_type,
    is_valid_signal_name, is_valid_subject_type,
};
pub use error::{ErrorBody, ErrorCode, ErrorDetail, Problem};
pub use request::{Env, EvaluateRequest, RequestError, Resource, SignalValue, Subject, clip};
pub use response::{
    EvaluateResponse, HealthResponse, Obligation, OutputCap, PolicyIdentity, VersionResponse,
};
pub use tooling::{
    CaseOutcome, CaseResult, ExplainResponse, FailedCondition, PolicyCoverage, RuleCoverage,
    TestFileResult, TestReport, TraceStep,
};
