//! The enforcer: exactly the right handler runs, obligations are honoured or the request
//! is blocked, and both trait and closure handlers, sync and async, work.

use crate::answers::deciding;
use policygate_api::{Action, DecisionKind, Sensitivity};
use policygate_pep::{
    BlockingEnforcer, Decision, DegradeResult, Enforcer, Handlers, ObligationKind, Origin,
    OutputCapExt, PdpClient, RequestBuilder, SyncAdapter, SyncHandlers, Unenforceable, codes,
    dispatch_sync, handlers,
};
use policygate_testkit::pdp::closed_port_url;
use std::time::Duration;

/// A generation request, the context the handlers act on.
#[derive(Debug, Clone, PartialEq)]
struct Generation {
    text: String,
    max_tokens: Option<u32>,
}

fn generation() -> Generation {
    Generation {
        text: "one two three four five six".into(),
        max_tokens: Some(100),
    }
}

fn facts(sensitivity: Sensitivity) -> RequestBuilder {
    RequestBuilder::new(Action::InferRun)
        .env("prod")
        .resource("document", sensitivity)
}

fn forced(decision: &str) -> RequestBuilder {
    facts(Sensitivity::Public).signal("force", decision)
}

fn enforcer(url: &str) -> Enforcer {
    Enforcer::new(
        PdpClient::builder(url)
            .deadline(Duration::from_secs(5))
            .build()
            .unwrap(),
    )
}

/// The stand-in model: the first `max_tokens` words.
fn generate(g: &Generation) -> String {
    let n = g.max_tokens.map_or(usize::MAX, |n| n as usize);
    g.text.split(' ').take(n).collect::<Vec<_>>().join(" ")
}

/// Closure handlers recording which one ran.
macro_rules! recording_handlers {
    () => {
        handlers::<Generation>()
            .on_allow(|g, _d| async move { format!("allow:{}", generate(&g)) })
            .on_degrade(|mut g, d| async move {
                let cap = d.output_cap().unwrap();
                g.max_tokens = cap.limit_max_tokens(g.max_tokens);
                let out = generate(&g);
                Ok(format!("degrade:{}", cap.truncate_bytes(&out)))
            })
            .on_review_sync(|_g, d| format!("review:{}", d.rationale_codes().join(",")))
            .on_block_sync(|_g, d| {
                format!("block:{}:{:?}", d.rationale_codes().join(","), d.origin())
            })
    };
}

#[tokio::test]
async fn each_decision_reaches_its_own_handler() {
    let pdp = deciding().await;
    let e = enforcer(&pdp.url);
    let h = recording_handlers!().enforcing(ObligationKind::OutputCap);
    assert_eq!(
        e.enforce(facts(Sensitivity::Public), generation(), &h)
            .await,
        "allow:one two three four five six"
    );
    // OUTPUT_CAP max_tokens 3 then max_bytes 5: "one two three" → "one t".
    assert_eq!(
        e.enforce(facts(Sensitivity::Internal), generation(), &h)
            .await,
        "degrade:one t"
    );
    assert_eq!(
        e.enforce(facts(Sensitivity::Restricted), generation(), &h)
            .await,
        "review:RESTRICTED_REVIEW"
    );
    assert_eq!(
        e.enforce(forced("BLOCK"), generation(), &h).await,
        "block:FORCED_BLOCK:Pdp"
    );
}

#[tokio::test]
async fn failures_reach_the_block_handler() {
    let e = enforcer(&closed_port_url());
    let h = recording_handlers!().enforcing(ObligationKind::OutputCap);
    assert_eq!(
        e.enforce(facts(Sensitivity::Public), generation(), &h)
            .await,
        "block:PEP_PDP_UNAVAILABLE:Pep"
    );
    let invalid = facts(Sensitivity::Public).env("no spaces allowed");
    assert_eq!(
        e.enforce(invalid, generation(), &h).await,
        "block:PEP_INVALID_FACTS:Pep"
    );
}

#[tokio::test]
async fn degrade_without_a_declared_obligation_blocks() {
    let pdp = deciding().await;
    let e = enforcer(&pdp.url);
    let h = recording_handlers!(); // no `.enforcing(OutputCap)`
    assert_eq!(
        e.enforce(facts(Sensitivity::Internal), generation(), &h)
            .await,
        "block:PEP_OBLIGATION_UNENFORCEABLE:Pep"
    );
}

#[tokio::test]
async fn a_degrade_handler_that_cannot_honour_the_cap_hands_over_to_block() {
    let pdp = deciding().await;
    let e = enforcer(&pdp.url);
    let h = handlers::<Generation>()
        .on_allow_sync(|_g, _d| "allow".to_owned())
        .on_degrade_sync(|g, _d| {
            Err(Unenforceable::new(
                g,
                ObligationKind::OutputCap,
                "this model has no token limit",
            ))
        })
        .on_review_sync(|_g, _d| "review".to_owned())
        .on_block(|g, d| async move {
            // The context came back intact, and the decision says why.
            assert_eq!(g, generation());
            assert!(matches!(
                d.error(),
                Some(policygate_pep::PepError::Unenforceable { reason, .. })
                    if reason == "this model has no token limit"
            ));
            assert_eq!(d.correlation_id(), Some("generated-1"));
            format!("block:{}", d.rationale_codes().join(","))
        })
        .enforcing(ObligationKind::OutputCap);
    assert_eq!(
        e.enforce(facts(Sensitivity::Internal), generation(), &h)
            .await,
        "block:PEP_OBLIGATION_UNENFORCEABLE"
    );
}

/// Handlers as a trait with `async fn`.
struct TraitHandlers;

impl Handlers<Generation> for TraitHandlers {
    type Output = (DecisionKind, Origin, String);

    fn can_enforce(&self, kind: ObligationKind) -> bool {
        kind == ObligationKind::OutputCap
    }

    async fn allow(&self, g: Generation, d: Decision) -> Self::Output {
        tokio::task::yield_now().await;
        (d.kind(), d.origin(), generate(&g))
    }

    async fn degrade(
        &self,
        mut g: Generation,
        d: Decision,
    ) -> DegradeResult<Self::Output, Generation> {
        let Some(cap) = d.output_cap() else {
            return Err(Unenforceable::new(g, ObligationKind::OutputCap, "no cap"));
        };
        g.max_tokens = cap.limit_max_tokens(g.max_tokens);
        Ok((d.kind(), d.origin(), generate(&g)))
    }

    async fn require_review(&self, _g: Generation, d: Decision) -> Self::Output {
        (d.kind(), d.origin(), String::new())
    }

    async fn block(&self, _g: Generation, d: Decision) -> Self::Output {
        (d.kind(), d.origin(), d.rationale_codes().join(","))
    }
}

#[tokio::test]
async fn trait_handlers_work_async() {
    let pdp = deciding().await;
    let e = enforcer(&pdp.url);
    let got = e
        .enforce(facts(Sensitivity::Internal), generation(), &TraitHandlers)
        .await;
    assert_eq!(
        got,
        (DecisionKind::Degrade, Origin::Pdp, "one two three".into())
    );
    let got = e
        .enforce(forced("REQUIRE_REVIEW"), generation(), &TraitHandlers)
        .await;
    assert_eq!(got.0, DecisionKind::RequireReview);
}

/// Handlers as a sync trait.
struct Counting;

impl SyncHandlers<u32> for Counting {
    type Output = String;
    fn allow(&self, n: u32, _d: Decision) -> String {
        format!("allow {n}")
    }
    fn degrade(&self, n: u32, _d: Decision) -> DegradeResult<String, u32> {
        Ok(format!("degrade {n}"))
    }
    fn require_review(&self, n: u32, _d: Decision) -> String {
        format!("review {n}")
    }
    fn block(&self, n: u32, d: Decision) -> String {
        format!("block {n} {}", d.rationale_codes().join(","))
    }
}

#[tokio::test]
async fn sync_trait_handlers_work_through_the_adapter_and_directly() {
    let pdp = deciding().await;
    let e = enforcer(&pdp.url);
    let adapted = SyncAdapter(Counting);
    assert_eq!(
        e.enforce(facts(Sensitivity::Public), 7, &adapted).await,
        "allow 7"
    );
    // `Counting` keeps the default `can_enforce` (nothing), so DEGRADE becomes BLOCK.
    assert_eq!(
        e.enforce(facts(Sensitivity::Internal), 8, &adapted).await,
        "block 8 PEP_OBLIGATION_UNENFORCEABLE"
    );
    let d = e.decide(facts(Sensitivity::Restricted)).await;
    assert_eq!(dispatch_sync(d, 9, &Counting), "review 9");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_blocking_enforcer_serves_plain_threads_and_refuses_async_contexts() {
    let pdp = deciding().await;
    let url = pdp.url.clone();
    let work = move || {
        let client = PdpClient::builder(&url).build().unwrap();
        let blocking = BlockingEnforcer::new(client).unwrap();
        let h = handlers::<u32>()
            .on_allow_sync(|n, _d| format!("allow {n}"))
            .on_degrade_sync(|n, d| {
                Ok(format!(
                    "degrade {n} {:?}",
                    d.output_cap().unwrap().max_tokens
                ))
            })
            .on_review_sync(|n, _d| format!("review {n}"))
            .on_block_sync(|n, _d| format!("block {n}"))
            .enforcing(ObligationKind::OutputCap);
        let a = blocking.enforce(facts(Sensitivity::Public), 1, &h);
        let b = blocking.enforce(facts(Sensitivity::Internal), 2, &h);
        // Called from inside a runtime, it refuses instead of blocking a runtime thread.
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let inside = rt.block_on(async { blocking.decide(facts(Sensitivity::Public)) });
        (a, b, inside)
    };
    // A plain thread: no runtime context, as in a synchronous program.
    let results = tokio::task::spawn_blocking(move || std::thread::spawn(work).join().unwrap())
        .await
        .unwrap();
    assert_eq!(results.0, "allow 1");
    assert_eq!(results.1, "degrade 2 Some(3)");
    assert_eq!(results.2.rationale_codes(), [codes::PEP_CONFIG_INVALID]);
    assert_eq!(pdp.hits(), 2);
}
