//! `reload` in memory: a valid candidate is swapped in and decides from then on; an
//! invalid one is refused, the last valid policy keeps deciding, and both outcomes are
//! visible on `/health`, `/ready`, `/metrics` and in the audit stream.

use crate::common::{Harness, assert_valid, fixture, post_evaluate, request_json, schemas};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use policygate_api::{ReloadOutcome, ReloadTrigger};
use policygate_core::{LoadOptions, Policy};
use policygate_server::{PolicyLoader, Rejected, reload};

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

fn policy_version(version: &str) -> Policy {
    let text = std::fs::read_to_string(fixture("policy.yaml"))
        .unwrap()
        .replace("2026-11-25.1", version);
    policygate_core::load("policy.yaml", text.as_bytes(), &LoadOptions::default())
        .0
        .unwrap()
}

#[tokio::test]
async fn a_valid_candidate_is_swapped_in_and_an_invalid_one_refused() {
    let h = Harness::new();
    let first = h.state.policy().identity().clone();
    let ready = h.call(get("/ready")).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.json()["status"], "ready");
    assert!(
        h.call(get("/health"))
            .await
            .json()
            .get("last_reload")
            .is_none()
    );

    let next = PolicyLoader::new(|| Ok(policy_version("v-next")));
    let outcome = reload(&h.state, &next, ReloadTrigger::Signal).await;
    assert_eq!(outcome, Some(ReloadOutcome::Applied));
    let second = h.state.policy().identity().clone();
    assert_eq!(second.policy_version, "v-next");
    let answer = h
        .call(post_evaluate(
            request_json("infer:run", "public").to_string(),
        ))
        .await;
    assert_eq!(answer.json()["policy"]["policy_version"], "v-next");
    let version = h.call(get("/version")).await.json();
    assert_eq!(version["policy"]["policy_version"], "v-next");

    // The same candidate again: nothing changes (a signal reports it).
    let outcome = reload(&h.state, &next, ReloadTrigger::Signal).await;
    assert_eq!(outcome, Some(ReloadOutcome::Unchanged));
    // The watcher skips a candidate identical to the last one silently.
    assert_eq!(reload(&h.state, &next, ReloadTrigger::Watch).await, None);

    let broken = PolicyLoader::new(|| {
        Err(Rejected {
            summary: "policy.yaml: invalid (1 error, 0 warnings)".into(),
            diagnostics: "error[policygate::validate::invalid_literal]: …".into(),
            error_codes: vec!["policygate::validate::invalid_literal".into()],
            candidate_sha256: Some("b".repeat(64)),
        })
    });
    let outcome = reload(&h.state, &broken, ReloadTrigger::Watch).await;
    assert_eq!(outcome, Some(ReloadOutcome::Rejected));
    assert_eq!(h.state.policy().identity(), &second);
    let health = h.call(get("/health")).await.json();
    assert_eq!(health["policy"]["policy_version"], "v-next");
    assert_eq!(health["last_reload"]["outcome"], "rejected");
    assert_eq!(health["last_reload"]["trigger"], "watch");
    assert_eq!(health["last_reload"]["error_count"], 1);
    assert!(health["last_reload"]["at"].as_str().unwrap().ends_with('Z'));
    let answer = h
        .call(post_evaluate(
            request_json("infer:run", "public").to_string(),
        ))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json()["policy"]["policy_version"], "v-next");

    let metrics = String::from_utf8(h.call(get("/metrics")).await.body).unwrap();
    for line in [
        "policygate_policy_reloads_total{outcome=\"applied\"} 1",
        "policygate_policy_reloads_total{outcome=\"rejected\"} 1",
        "policygate_policy_reloads_total{outcome=\"unchanged\"} 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} not in\n{metrics}"
        );
    }
    assert!(metrics.contains("policy_version=\"v-next\""));

    let events = h.sink.events();
    let changes: Vec<_> = events
        .iter()
        .filter(|e| e["event_type"] != "policygate.decision.evaluated")
        .collect();
    assert_eq!(changes.len(), 2, "{changes:?}");
    for e in &changes {
        assert_valid(&schemas().policy_change, e, "policy change event");
    }
    assert_eq!(changes[0]["event_type"], "policygate.policy.swapped");
    assert_eq!(
        changes[0]["previous_policy"]["policy_sha256"],
        first.policy_sha256.as_str()
    );
    assert_eq!(changes[0]["policy"]["policy_version"], "v-next");
    assert_eq!(
        changes[1]["event_type"],
        "policygate.policy.reload_rejected"
    );
    assert_eq!(changes[1]["previous_policy"]["policy_version"], "v-next");
    assert_eq!(
        changes[1]["policy"]["policy_sha256"],
        "b".repeat(64).as_str()
    );
    assert_eq!(
        changes[1]["error_codes"][0],
        "policygate::validate::invalid_literal"
    );
    // Decision events name the policy that decided each.
    let decided: Vec<_> = events
        .iter()
        .filter(|e| e["event_type"] == "policygate.decision.evaluated")
        .map(|e| e["policy"]["policy_version"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(decided, ["v-next", "v-next"]);
}
