//! A tower `Layer` that guards routes: map the request to facts, ask the PDP, enforce.
//!
//! This is the idiomatic way to put the enforcer in front of an axum (or any tower/hyper)
//! service. The fact mapping is the customer's closure over the request head; the layer
//! owns the rest and fails closed: BLOCK (from the PDP or synthesised) answers `403` with
//! the refusal as JSON, and the inner service runs only for decisions the route can
//! honour. The inner service finds the [`Decision`] in the request's extensions, so a
//! DEGRADE route reads its obligations from there.

use crate::builder::IntoEvaluateRequest;
use crate::client::{CallOptions, PdpClient};
use crate::decision::Decision;
use crate::error::PepError;
use crate::obligation::ObligationKind;
use http::request::Parts;
use http::{HeaderValue, Request, Response, StatusCode};
use policygate_api::DecisionKind;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower_layer::Layer;
use tower_service::Service;

/// Guards a service with the PDP's decisions.
///
/// - ALLOW: the inner service runs, with the [`Decision`] in the request's extensions.
/// - DEGRADE: the same, but only when every obligation's kind was declared with
///   [`PepLayer::enforcing`]; otherwise `403` (`PEP_OBLIGATION_UNENFORCEABLE`). The inner
///   service must honour the obligations (see [`Decision::output_cap`]).
/// - REQUIRE_REVIEW: `403` (`PEP_DECISION_UNHANDLED`) unless the route opted in with
///   [`PepLayer::forward_review`]; then the inner service runs and must not perform the
///   operation, only queue it for review.
/// - BLOCK, and every failure: `403` with the [`Decision::refusal`] as JSON; the inner
///   service does not run.
///
/// The incoming request's `traceparent` header is forwarded to the PDP.
pub struct PepLayer<F> {
    client: PdpClient,
    map: Arc<F>,
    enforces: Arc<[ObligationKind]>,
    forward_review: bool,
}

impl<F> Clone for PepLayer<F> {
    fn clone(&self) -> Self {
        PepLayer {
            client: self.client.clone(),
            map: Arc::clone(&self.map),
            enforces: Arc::clone(&self.enforces),
            forward_review: self.forward_review,
        }
    }
}

impl<F> fmt::Debug for PepLayer<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PepLayer")
            .field("client", &self.client)
            .field("enforces", &self.enforces)
            .field("forward_review", &self.forward_review)
            .finish_non_exhaustive()
    }
}

impl<F> PepLayer<F> {
    /// A layer that maps each request head to facts with `map` and asks `client`'s PDP.
    ///
    /// `map` returns anything the enforcer accepts: a [`crate::RequestBuilder`], an
    /// `EvaluateRequest`, or a `Result` of either; an error becomes `403`
    /// (`PEP_INVALID_FACTS`) without a PDP call.
    pub fn new<R>(client: PdpClient, map: F) -> PepLayer<F>
    where
        F: Fn(&Parts) -> R,
        R: IntoEvaluateRequest,
    {
        PepLayer {
            client,
            map: Arc::new(map),
            enforces: Arc::from(Vec::new()),
            forward_review: false,
        }
    }

    /// Declares that the guarded service honours obligations of `kind`, so DEGRADE
    /// decisions carrying them reach it.
    #[must_use]
    pub fn enforcing(mut self, kind: ObligationKind) -> Self {
        let mut kinds = self.enforces.to_vec();
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
        self.enforces = Arc::from(kinds);
        self
    }

    /// Lets REQUIRE_REVIEW decisions reach the guarded service, which must then queue
    /// the operation for review instead of performing it.
    #[must_use]
    pub fn forward_review(mut self, yes: bool) -> Self {
        self.forward_review = yes;
        self
    }
}

impl<S, F> Layer<S> for PepLayer<F> {
    type Service = PepService<S, F>;

    fn layer(&self, inner: S) -> Self::Service {
        PepService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`PepLayer`] wraps around a route.
pub struct PepService<S, F> {
    inner: S,
    layer: PepLayer<F>,
}

impl<S: Clone, F> Clone for PepService<S, F> {
    fn clone(&self) -> Self {
        PepService {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<S: fmt::Debug, F> fmt::Debug for PepService<S, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PepService")
            .field("inner", &self.inner)
            .field("layer", &self.layer)
            .finish()
    }
}

impl<F> PepLayer<F> {
    /// The decision the route acts on: the PDP's, or a BLOCK when the route cannot
    /// honour it.
    fn gate(&self, decision: Decision) -> Decision {
        match decision.kind() {
            DecisionKind::Allow | DecisionKind::Block => decision,
            DecisionKind::RequireReview if self.forward_review => decision,
            DecisionKind::RequireReview => decision.overruled(PepError::UnhandledDecision {
                decision: DecisionKind::RequireReview,
            }),
            DecisionKind::Degrade => {
                let missing = decision
                    .obligations()
                    .iter()
                    .map(ObligationKind::of)
                    .find(|k| !self.enforces.contains(k));
                match missing {
                    None => decision,
                    Some(kind) => decision.overruled(PepError::Unenforceable {
                        obligation: kind.as_str().to_owned(),
                        reason:
                            "the guarded route does not declare that it honours this obligation"
                                .into(),
                    }),
                }
            }
        }
    }
}

/// The `403` answer for a refused request.
fn forbidden<B: From<String>>(decision: &Decision) -> Response<B> {
    let body = serde_json::to_string(&decision.refusal()).unwrap_or_else(|_| {
        // INVARIANT: a refusal is plain strings and enums; this branch is unreachable,
        // and still answers with a refusal.
        r#"{"decision":"BLOCK","rationale_codes":["PEP_CONFIG_INVALID"],"origin":"pep"}"#.to_owned()
    });
    let mut response = Response::new(B::from(body));
    *response.status_mut() = StatusCode::FORBIDDEN;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

impl<S, F, R, ReqBody, ResBody> Service<Request<ReqBody>> for PepService<S, F>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    F: Fn(&Parts) -> R + Send + Sync + 'static,
    R: IntoEvaluateRequest,
    ReqBody: Send + 'static,
    ResBody: From<String> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<ResBody>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // The clone is the one that was driven to readiness; keep it for this call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        let (mut parts, body) = request.into_parts();
        let facts = (layer.map)(&parts).into_request();
        let options = CallOptions {
            traceparent: parts
                .headers
                .get("traceparent")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        };
        Box::pin(async move {
            let decision = match facts {
                Ok(request) => layer.client.decide_with(request, &options).await,
                Err(e) => Decision::from_error(e, None),
            };
            let decision = layer.gate(decision);
            if decision.kind() == DecisionKind::Block {
                return Ok(forbidden(&decision));
            }
            parts.extensions.insert(decision);
            inner.call(Request::from_parts(parts, body)).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use policygate_api::{EvaluateResponse, Obligation, OutputCap, PolicyIdentity};

    fn pdp(decision: DecisionKind) -> Decision {
        let obligations = if decision == DecisionKind::Degrade {
            vec![Obligation::OutputCap(OutputCap {
                max_bytes: Some(3),
                ..OutputCap::default()
            })]
        } else {
            vec![]
        };
        Decision::from_pdp(EvaluateResponse {
            correlation_id: "c".into(),
            decision,
            rationale_codes: vec!["R".into()],
            obligations,
            policy: PolicyIdentity {
                policy_id: "p".into(),
                policy_version: "1".into(),
                policy_sha256: "0".repeat(64),
            },
            matched_rule_id: None,
        })
    }

    fn layer() -> PepLayer<impl Fn(&Parts) -> Result<policygate_api::EvaluateRequest, PepError>> {
        let client = PdpClient::builder("http://127.0.0.1:9").build().unwrap();
        PepLayer::new(client, |_: &Parts| {
            Err(PepError::Config {
                reason: "unused".into(),
            })
        })
    }

    #[test]
    fn the_gate_blocks_what_the_route_cannot_honour() {
        let l = layer();
        assert_eq!(l.gate(pdp(DecisionKind::Allow)).kind(), DecisionKind::Allow);
        let review = l.gate(pdp(DecisionKind::RequireReview));
        assert_eq!(review.rationale_codes(), ["PEP_DECISION_UNHANDLED"]);
        let degrade = l.gate(pdp(DecisionKind::Degrade));
        assert_eq!(degrade.rationale_codes(), ["PEP_OBLIGATION_UNENFORCEABLE"]);

        let l = layer()
            .forward_review(true)
            .enforcing(ObligationKind::OutputCap)
            .enforcing(ObligationKind::OutputCap);
        assert_eq!(
            l.gate(pdp(DecisionKind::RequireReview)).kind(),
            DecisionKind::RequireReview
        );
        assert_eq!(
            l.gate(pdp(DecisionKind::Degrade)).kind(),
            DecisionKind::Degrade
        );
        assert_eq!(l.enforces.len(), 1);
    }

    #[test]
    fn refusals_are_json_403s() {
        let response: Response<String> = forbidden(&pdp(DecisionKind::Block));
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            response.body(),
            r#"{"decision":"BLOCK","rationale_codes":["R"],"origin":"pdp","correlation_id":"c"}"#
        );
    }
}
