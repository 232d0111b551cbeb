//! CHANGE: fact mapping — what the business knows, expressed as PolicyGate facts.
//!
//! This is the one place that decides which facts the policy sees. Map only facts the
//! service has verified (from its own store or an authenticated caller), never values an
//! end user or a model could choose freely. The builder checks the result against the
//! request contract, so a mapping bug becomes a BLOCK (`PEP_INVALID_FACTS`), not a
//! wrong decision.

use crate::documents::Document;
use http::HeaderMap;
use policygate_pep::RequestBuilder;
use policygate_pep::api::Action;

/// Who is calling, as the service's own authentication established it.
///
/// The example reads an `x-user-id` header; a real service takes this from its
/// authentication layer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    /// The authenticated user id, if any.
    pub user_id: Option<String>,
    /// The caller's request id (`x-request-id`), forwarded as `request_id` so that the
    /// PDP's audit event and the service's logs share one id.
    pub request_id: Option<String>,
}

impl Caller {
    /// The caller, from the request headers.
    pub fn from_headers(headers: &HeaderMap) -> Caller {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        Caller {
            user_id: header("x-user-id"),
            request_id: header("x-request-id"),
        }
    }
}

/// The facts for "summarise this document" (`infer:run`).
pub fn summarise_facts(env_name: &str, document: &Document, caller: &Caller) -> RequestBuilder {
    document_facts(Action::InferRun, env_name, document, caller)
        .signal("prompt_tokens", document.word_count())
}

/// The facts for "read this document" (`data:read`).
pub fn read_facts(env_name: &str, document: &Document, caller: &Caller) -> RequestBuilder {
    document_facts(Action::DataRead, env_name, document, caller)
}

fn document_facts(
    action: Action,
    env_name: &str,
    document: &Document,
    caller: &Caller,
) -> RequestBuilder {
    let mut facts = RequestBuilder::new(action)
        .env(env_name)
        .resource("document", document.sensitivity)
        .resource_id(document.id.as_str())
        .signal("pii_detected", document.contains_pii);
    if let Some(user) = &caller.user_id {
        facts = facts.subject("user", user.as_str());
    }
    if let Some(id) = &caller.request_id {
        facts = facts.request_id(id.as_str());
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::documents::DocumentStore;
    use policygate_pep::api::{Sensitivity, SignalValue};

    #[test]
    fn maps_a_document_and_a_caller() {
        let store = DocumentStore::sample();
        let doc = store.get("payroll").unwrap();
        let caller = Caller {
            user_id: Some("alice".into()),
            request_id: Some("req-7".into()),
        };
        let r = summarise_facts("prod", doc, &caller).build().unwrap();
        assert_eq!(r.action, Action::InferRun);
        assert_eq!(r.resource.sensitivity, Sensitivity::Restricted);
        assert_eq!(r.resource.id.as_deref(), Some("payroll"));
        assert_eq!(r.subject.as_ref().unwrap().id.as_deref(), Some("alice"));
        assert_eq!(r.request_id.as_deref(), Some("req-7"));
        assert_eq!(r.signal("pii_detected"), Some(&SignalValue::Bool(true)));
        assert!(matches!(r.signal("prompt_tokens"), Some(SignalValue::Int(n)) if *n > 20));
    }

    #[test]
    fn a_bad_caller_value_is_caught_before_the_pdp() {
        let store = DocumentStore::sample();
        let doc = store.get("handbook").unwrap();
        let caller = Caller {
            user_id: None,
            request_id: Some("x".repeat(500)),
        };
        let e = summarise_facts("prod", doc, &caller).build().unwrap_err();
        assert_eq!(e.code(), "PEP_INVALID_FACTS");
    }
}
