//! Shadow policy (`serve --shadow-policy`): a candidate decides every `/evaluate`
//! beside the live policy; its outcome goes into the audit event (`shadow`) and the
//! metrics (live × shadow decision pairs), never into the answer.
//!
//! The shadow is optional at every moment: one that fails to load at start or on
//! reload is logged and left out (or the previous shadow kept), and the live policy
//! decides exactly as without it. The shadow evaluates the request after the live
//! policy accepted it; a shadow that refuses the request (its own declared signal
//! types) is recorded as a refusal that differs, and an engine panic in it is caught
//! and recorded the same way, never turned into the caller's error.

use crate::reload::{PolicyLoader, Rejected};
use crate::state::AppState;
use policygate_api::{ErrorCode, EvaluateRequest, PolicyIdentity, ReloadOutcome, ShadowOutcomeRef};
use policygate_core::{Decision, Policy};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, PoisonError};

/// What `shadow` decides for `request`, compared with the live `decision`.
pub(crate) fn decide<'a>(
    shadow: &'a Policy,
    request: &EvaluateRequest,
    live: &Decision<'_>,
) -> ShadowOutcomeRef<'a> {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        shadow
            .check_request(request)
            .map(|()| shadow.evaluate(request))
    }));
    match outcome {
        Ok(Ok(d)) => ShadowOutcomeRef {
            policy: shadow.rendered_identity(),
            decision: Some(d.decision),
            matched_rule_id: d.matched_rule_id,
            rationale_codes: d.rationale_codes,
            differs: d.decision != live.decision || d.obligations != live.obligations,
            error_code: None,
        },
        Ok(Err(_)) | Err(_) => {
            if outcome.is_err() {
                tracing::error!("the policy engine panicked on the shadow policy");
            }
            ShadowOutcomeRef {
                policy: shadow.rendered_identity(),
                decision: None,
                matched_rule_id: None,
                rationale_codes: &[],
                differs: true,
                error_code: Some(if outcome.is_err() {
                    ErrorCode::Internal
                } else {
                    ErrorCode::InvalidRequest
                }),
            }
        }
    }
}

/// Loads the shadow policy at start; a failure is logged and the service runs without
/// one (the live policy is never affected).
pub(crate) fn load_at_start(state: &AppState, loader: &PolicyLoader) {
    match loader.load() {
        Ok(policy) => {
            log_active(
                policy.identity(),
                "shadow policy loaded; it decides beside the live policy, never for it",
            );
            *state
                .inner
                .shadow_last_candidate
                .lock()
                .unwrap_or_else(PoisonError::into_inner) =
                Some(policy.identity().policy_sha256.clone());
            state.inner.shadow.store(Some(Arc::new(policy)));
        }
        Err(rejected) => log_rejected(&rejected, "the service runs without a shadow policy"),
    }
}

fn log_active(identity: &PolicyIdentity, message: &str) {
    tracing::info!(
        shadow_policy_id = %identity.policy_id,
        shadow_policy_version = %identity.policy_version,
        shadow_policy_sha256 = %identity.policy_sha256,
        "{message}"
    );
}

fn log_rejected(rejected: &Rejected, consequence: &str) {
    tracing::error!(
        errors = rejected.error_codes.len(),
        "shadow policy refused; {consequence} (live decisions are not affected):\n{}",
        rejected.diagnostics
    );
}

/// Reloads the shadow policy off the request path; an invalid candidate leaves the
/// previous shadow (or none) in place. Returns `None` when a watcher event did not
/// change the file's content.
pub(crate) async fn reload(
    state: &AppState,
    loader: &PolicyLoader,
    from_watcher: bool,
) -> Option<ReloadOutcome> {
    let inner = &state.inner;
    let loaded = crate::reload::load_candidate(loader, "shadow policy").await;
    let candidate = match &loaded {
        Ok(p) => Some(p.identity().policy_sha256.clone()),
        Err(r) => r.candidate_sha256.clone(),
    };
    {
        let mut last = inner
            .shadow_last_candidate
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if from_watcher && candidate.is_some() && *last == candidate {
            return None;
        }
        last.clone_from(&candidate);
    }
    let current = inner.shadow.load_full();
    let outcome = match loaded {
        Ok(policy)
            if current
                .as_ref()
                .is_some_and(|c| c.identity().policy_sha256 == policy.identity().policy_sha256) =>
        {
            crate::reload::retire(Arc::new(policy));
            ReloadOutcome::Unchanged
        }
        Ok(policy) => {
            log_active(policy.identity(), "shadow policy reloaded");
            drop(current);
            if let Some(replaced) = inner.shadow.swap(Some(Arc::new(policy))) {
                crate::reload::retire(replaced);
            }
            ReloadOutcome::Applied
        }
        Err(rejected) => {
            log_rejected(&rejected, "the previous shadow policy (if any) stays");
            ReloadOutcome::Rejected
        }
    };
    inner.metrics.shadow_reload(outcome);
    Some(outcome)
}
