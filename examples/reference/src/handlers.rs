//! CHANGE: the four handlers — what the business does on each decision.
//!
//! The enforcer (stable core) picks the handler; these decide the business response.
//! Keep their *contract*: ALLOW may run the operation; DEGRADE runs it only within the
//! obligations (here `OUTPUT_CAP`, applied to the model's `max_tokens` and to the bytes
//! returned); REQUIRE_REVIEW must not run it, only queue it; BLOCK must not run it and
//! says why with the rationale codes.

use crate::documents::{Document, summarise};
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use policygate_pep::{
    Decision, DegradeResult, Handlers, ObligationKind, Origin, OutputCapExt, Unenforceable,
};
use serde::Serialize;
use serde_json::json;
use std::sync::{Arc, Mutex};

/// How many tokens a summary has when neither the caller nor an obligation limits it.
pub const DEFAULT_MAX_TOKENS: u32 = 40;

/// One summarise request on its way to a handler (the enforcer's context).
#[derive(Debug, Clone)]
pub struct SummariseJob {
    /// The document to summarise.
    pub document: Document,
    /// The `max_tokens` the caller asked for, if any.
    pub max_tokens: Option<u32>,
}

/// A request held for a person to review.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PendingReview {
    /// The reference handed to the caller.
    pub review_id: String,
    /// The document.
    pub document_id: String,
    /// The PDP's correlation id, to find the audit event.
    pub correlation_id: Option<String>,
    /// Why a review is needed.
    pub rationale_codes: Vec<String>,
}

/// The review queue (in memory here; a ticket system or a table in real life).
#[derive(Debug, Clone, Default)]
pub struct ReviewQueue {
    pending: Arc<Mutex<Vec<PendingReview>>>,
}

impl ReviewQueue {
    /// Queues a review and returns its reference.
    fn push(&self, document_id: &str, decision: &Decision) -> String {
        let mut pending = self
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let review_id = format!("review-{:06}", pending.len() + 1);
        pending.push(PendingReview {
            review_id: review_id.clone(),
            document_id: document_id.to_owned(),
            correlation_id: decision.correlation_id().map(str::to_owned),
            rationale_codes: decision.rationale_codes().to_vec(),
        });
        review_id
    }

    /// Every pending review, oldest first.
    pub fn pending(&self) -> Vec<PendingReview> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// The summarise endpoint's handlers.
#[derive(Debug, Clone, Default)]
pub struct SummariseHandlers {
    /// Where REQUIRE_REVIEW puts requests.
    pub reviews: ReviewQueue,
}

/// The body of a successful summary.
#[derive(Debug, Serialize)]
struct Summary<'a> {
    document_id: &'a str,
    summary: &'a str,
    decision: &'static str,
    degraded: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_cap: Option<policygate_pep::api::OutputCap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    correlation_id: Option<&'a str>,
}

impl Handlers<SummariseJob> for SummariseHandlers {
    type Output = Response;

    fn can_enforce(&self, kind: ObligationKind) -> bool {
        // The DEGRADE handler below honours OUTPUT_CAP; any other obligation type makes
        // the enforcer BLOCK instead of calling it.
        kind == ObligationKind::OutputCap
    }

    async fn allow(&self, job: SummariseJob, decision: Decision) -> Response {
        let max_tokens = job.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS);
        let summary = summarise(&job.document.text, max_tokens);
        let body = Summary {
            document_id: &job.document.id,
            summary: &summary,
            decision: "ALLOW",
            degraded: false,
            output_cap: None,
            correlation_id: decision.correlation_id(),
        };
        (StatusCode::OK, Json(body)).into_response()
    }

    async fn degrade(
        &self,
        job: SummariseJob,
        decision: Decision,
    ) -> DegradeResult<Response, SummariseJob> {
        let Some(cap) = decision.output_cap() else {
            return Err(Unenforceable::new(
                job,
                ObligationKind::OutputCap,
                "the decision carries no OUTPUT_CAP",
            ));
        };
        // Lower the model's max_tokens (never raise it), then cap the bytes returned.
        // A summary is one item, and max_items is at least 1, so it needs no cut.
        let max_tokens = cap
            .limit_max_tokens(Some(job.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS)))
            .unwrap_or(DEFAULT_MAX_TOKENS);
        let summary = summarise(&job.document.text, max_tokens);
        let summary = cap.truncate_bytes(&summary);
        let body = Summary {
            document_id: &job.document.id,
            summary,
            decision: "DEGRADE",
            degraded: true,
            output_cap: Some(cap),
            correlation_id: decision.correlation_id(),
        };
        Ok((StatusCode::OK, Json(body)).into_response())
    }

    async fn require_review(&self, job: SummariseJob, decision: Decision) -> Response {
        // Do not run the model: queue the request and hand back a reference.
        let review_id = self.reviews.push(&job.document.id, &decision);
        let body = json!({
            "status": "pending_review",
            "review_id": review_id,
            "document_id": job.document.id,
            "decision": "REQUIRE_REVIEW",
            "rationale_codes": decision.rationale_codes(),
            "correlation_id": decision.correlation_id(),
        });
        (StatusCode::ACCEPTED, Json(body)).into_response()
    }

    async fn block(&self, job: SummariseJob, decision: Decision) -> Response {
        if let Some(error) = decision.error() {
            // Fail-closed: tell operators why (this may name internal hosts, so it goes
            // to the log, not to the caller).
            eprintln!(
                "reference-service: blocked summarise of `{}`: {error}",
                job.document.id
            );
        }
        blocked(&decision)
    }
}

/// The `403` a refused caller gets: the decision's codes and who decided.
pub fn blocked(decision: &Decision) -> Response {
    let message = match decision.origin() {
        Origin::Pdp => "the request is not allowed by policy",
        Origin::Pep => "the request was refused because no policy decision could be obtained",
    };
    let body = json!({
        "error": { "code": "blocked", "message": message },
        "decision": "BLOCK",
        "rationale_codes": decision.rationale_codes(),
        "origin": decision.origin(),
        "correlation_id": decision.correlation_id(),
    });
    (StatusCode::FORBIDDEN, Json(body)).into_response()
}
