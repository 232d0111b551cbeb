//! The request builder: a customer's facts in, a contract-valid `EvaluateRequest` out.
//!
//! Fact mapping is customer code; this module makes its result safe to send. Every
//! request leaves the builder checked by `EvaluateRequest::validate` (the contract's
//! rules applied to the typed value, no JSON round trip), so a mapping bug
//! surfaces as [`PepError::InvalidFacts`] (and a BLOCK) before any network call, never as
//! a PDP `422` in production.

use crate::error::PepError;
use policygate_api::{
    Action, Env, EvaluateRequest, Problem, Resource, Sensitivity, SignalValue, Subject,
};
use std::collections::BTreeMap;

/// Builds an [`EvaluateRequest`] from facts and checks it against the contract.
///
/// ```
/// use policygate_pep::RequestBuilder;
/// use policygate_api::{Action, Sensitivity};
///
/// let request = RequestBuilder::new(Action::InferRun)
///     .env("prod")
///     .resource("document", Sensitivity::Internal)
///     .resource_id("doc-42")
///     .subject("service", "billing")
///     .signal("prompt_tokens", 5120)
///     .signal("pii_detected", false)
///     .build()?;
/// assert_eq!(request.resource.sensitivity, Sensitivity::Internal);
/// # Ok::<(), policygate_pep::PepError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct RequestBuilder {
    action: Action,
    request_id: Option<String>,
    timestamp: Option<String>,
    env: Option<String>,
    resource: Option<(String, Sensitivity)>,
    resource_id: Option<String>,
    subject: Option<Subject>,
    signals: BTreeMap<String, SignalValue>,
    problems: Vec<Problem>,
}

impl RequestBuilder {
    /// Starts a request for `action`. `env` and `resource` are required before `build`.
    pub fn new(action: Action) -> RequestBuilder {
        RequestBuilder {
            action,
            request_id: None,
            timestamp: None,
            env: None,
            resource: None,
            resource_id: None,
            subject: None,
            signals: BTreeMap::new(),
            problems: Vec::new(),
        }
    }

    /// Sets `request_id` (1..128 characters); the PDP echoes it as `correlation_id`, and
    /// the enforcer checks that it does.
    pub fn request_id(mut self, id: impl Into<String>) -> Self {
        self.request_id = Some(id.into());
        self
    }

    /// Sets the caller's RFC 3339 `timestamp` (recorded, never used to decide).
    pub fn timestamp(mut self, timestamp: impl Into<String>) -> Self {
        self.timestamp = Some(timestamp.into());
        self
    }

    /// Sets `env.name`.
    pub fn env(mut self, name: impl Into<String>) -> Self {
        self.env = Some(name.into());
        self
    }

    /// Sets `resource.type` and `resource.sensitivity`.
    pub fn resource(mut self, kind: impl Into<String>, sensitivity: Sensitivity) -> Self {
        self.resource = Some((kind.into(), sensitivity));
        self
    }

    /// Sets `resource.id`.
    pub fn resource_id(mut self, id: impl Into<String>) -> Self {
        self.resource_id = Some(id.into());
        self
    }

    /// Sets `subject.type` and `subject.id`.
    pub fn subject(mut self, kind: impl Into<String>, id: impl Into<String>) -> Self {
        self.subject = Some(Subject {
            kind: Some(kind.into()),
            id: Some(id.into()),
        });
        self
    }

    /// Sets `subject` from its optional parts (either may be absent).
    pub fn subject_parts(mut self, kind: Option<String>, id: Option<String>) -> Self {
        self.subject = Some(Subject { kind, id });
        self
    }

    /// Sets `signals.<name>`. A later call with the same name replaces the value.
    pub fn signal(mut self, name: impl Into<String>, value: impl IntoSignal) -> Self {
        let name = name.into();
        match value.into_signal() {
            Ok(v) => {
                self.signals.insert(name, v);
            }
            Err(message) => self
                .problems
                .push(Problem::new(format!("/signals/{name}"), message)),
        }
        self
    }

    /// Checks the facts and returns the request, or every contract problem at once.
    pub fn build(self) -> Result<EvaluateRequest, PepError> {
        let mut problems = self.problems;
        if self.env.is_none() {
            problems.push(Problem::new("/env", "required field is missing"));
        }
        if self.resource.is_none() {
            problems.push(Problem::new("/resource", "required field is missing"));
        }
        let (Some(env), Some((kind, sensitivity))) = (self.env, self.resource) else {
            return Err(PepError::InvalidFacts { problems });
        };
        let request = EvaluateRequest {
            request_id: self.request_id,
            timestamp: self.timestamp,
            action: self.action,
            env: Env { name: env },
            resource: Resource {
                kind,
                id: self.resource_id,
                sensitivity,
            },
            subject: self.subject,
            signals: self.signals,
        };
        if let Err(more) = request.validate() {
            problems.extend(more);
        }
        if problems.is_empty() {
            Ok(request)
        } else {
            Err(PepError::InvalidFacts { problems })
        }
    }
}

/// A value that can be a signal: booleans, integers, finite floats, strings, lists of
/// strings, and `Option`s of those (`None` is a null signal, which counts as absent).
pub trait IntoSignal {
    /// The signal value, or why it cannot be one.
    fn into_signal(self) -> Result<SignalValue, String>;
}

impl IntoSignal for SignalValue {
    fn into_signal(self) -> Result<SignalValue, String> {
        match self {
            SignalValue::Float(f) => f.into_signal(),
            other => Ok(other),
        }
    }
}

impl IntoSignal for bool {
    fn into_signal(self) -> Result<SignalValue, String> {
        Ok(SignalValue::Bool(self))
    }
}

macro_rules! int_signal {
    ($($t:ty),*) => {$(
        impl IntoSignal for $t {
            fn into_signal(self) -> Result<SignalValue, String> {
                Ok(SignalValue::Int(i64::from(self)))
            }
        }
    )*};
}
int_signal!(i8, i16, i32, i64, u8, u16, u32);

impl IntoSignal for u64 {
    fn into_signal(self) -> Result<SignalValue, String> {
        i64::try_from(self)
            .map(SignalValue::Int)
            .map_err(|_| format!("integer {self} is out of range"))
    }
}

impl IntoSignal for usize {
    fn into_signal(self) -> Result<SignalValue, String> {
        i64::try_from(self)
            .map(SignalValue::Int)
            .map_err(|_| format!("integer {self} is out of range"))
    }
}

impl IntoSignal for f64 {
    fn into_signal(self) -> Result<SignalValue, String> {
        if self.is_finite() {
            Ok(SignalValue::Float(self))
        } else {
            Err(format!("number {self} is not finite"))
        }
    }
}

impl IntoSignal for &str {
    fn into_signal(self) -> Result<SignalValue, String> {
        Ok(SignalValue::Str(self.to_owned()))
    }
}

impl IntoSignal for String {
    fn into_signal(self) -> Result<SignalValue, String> {
        Ok(SignalValue::Str(self))
    }
}

impl IntoSignal for Vec<String> {
    fn into_signal(self) -> Result<SignalValue, String> {
        Ok(SignalValue::List(self))
    }
}

impl IntoSignal for &[&str] {
    fn into_signal(self) -> Result<SignalValue, String> {
        Ok(SignalValue::List(
            self.iter().map(|s| (*s).to_owned()).collect(),
        ))
    }
}

impl<T: IntoSignal> IntoSignal for Option<T> {
    fn into_signal(self) -> Result<SignalValue, String> {
        match self {
            Some(v) => v.into_signal(),
            None => Ok(SignalValue::Null),
        }
    }
}

/// What the enforcer accepts as "the request": a built request (checked again), a
/// [`RequestBuilder`], or the `Result` of a fact mapping. Any error becomes a BLOCK with
/// `PEP_INVALID_FACTS` (or the error's own code) without a network call.
pub trait IntoEvaluateRequest {
    /// The contract-valid request.
    fn into_request(self) -> Result<EvaluateRequest, PepError>;
}

impl IntoEvaluateRequest for EvaluateRequest {
    fn into_request(self) -> Result<EvaluateRequest, PepError> {
        self.validate()
            .map_err(|problems| PepError::InvalidFacts { problems })?;
        Ok(self)
    }
}

impl IntoEvaluateRequest for RequestBuilder {
    fn into_request(self) -> Result<EvaluateRequest, PepError> {
        self.build()
    }
}

impl<R: IntoEvaluateRequest> IntoEvaluateRequest for Result<R, PepError> {
    fn into_request(self) -> Result<EvaluateRequest, PepError> {
        self.and_then(IntoEvaluateRequest::into_request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(e: PepError) -> Vec<String> {
        match e {
            PepError::InvalidFacts { problems } => problems.into_iter().map(|p| p.path).collect(),
            other => panic!("expected invalid facts, got {other:?}"),
        }
    }

    #[test]
    fn builds_a_valid_request() {
        let r = RequestBuilder::new(Action::DataRead)
            .request_id("req-1")
            .timestamp("2026-11-25T09:38:13Z")
            .env("prod")
            .resource("document", Sensitivity::Public)
            .resource_id("d1")
            .subject("user", "alice")
            .signal("caller_trust", "low")
            .signal("prompt_tokens", 10_u32)
            .signal("risk", 0.5)
            .signal("tags", &["a", "b"][..])
            .signal("maybe", None::<bool>)
            .build()
            .unwrap();
        assert_eq!(r.request_id.as_deref(), Some("req-1"));
        assert_eq!(r.signals.get("prompt_tokens"), Some(&SignalValue::Int(10)));
        assert_eq!(r.signals.get("maybe"), Some(&SignalValue::Null));
        assert_eq!(
            serde_json::to_value(&r).unwrap()["resource"],
            serde_json::json!({"type": "document", "id": "d1", "sensitivity": "public"})
        );
    }

    #[test]
    fn reports_every_problem_before_any_network_call() {
        let e = RequestBuilder::new(Action::InferRun)
            .signal("Bad-Name", 1)
            .signal("nan", f64::NAN)
            .build()
            .unwrap_err();
        assert_eq!(paths(e), ["/signals/nan", "/env", "/resource"]);

        let e = RequestBuilder::new(Action::InferRun)
            .env("-prod")
            .resource("document", Sensitivity::Public)
            .signal("Bad-Name", 1)
            .signal("long", "x".repeat(300))
            .build()
            .unwrap_err();
        assert_eq!(
            paths(e),
            ["/env/name", "/signals/Bad-Name", "/signals/long"]
        );
    }

    #[test]
    fn hand_built_requests_are_checked_too() {
        let mut r = RequestBuilder::new(Action::InferRun)
            .env("prod")
            .resource("document", Sensitivity::Public)
            .build()
            .unwrap();
        assert!(r.clone().into_request().is_ok());
        r.resource.kind = "1bad".into();
        assert_eq!(paths(r.into_request().unwrap_err()), ["/resource/type"]);
        let err: Result<RequestBuilder, PepError> = Err(PepError::Config { reason: "x".into() });
        assert_eq!(err.into_request().unwrap_err().code(), "PEP_CONFIG_INVALID");
    }

    #[test]
    fn huge_unsigned_values_are_refused() {
        assert!(u64::MAX.into_signal().is_err());
        assert_eq!(7_u64.into_signal(), Ok(SignalValue::Int(7)));
        assert!(f64::INFINITY.into_signal().is_err());
        assert!(SignalValue::Float(f64::NAN).into_signal().is_err());
    }
}
