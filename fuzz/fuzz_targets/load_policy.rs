//! The policy loader on arbitrary bytes (`policygate_core::load`, what `validate`,
//! `serve` and reload call): it never panics; the report renders; it returns a policy
//! exactly when the report has no error; and a loaded policy evaluates a fixed request
//! and the requests its own analysis suggests without panicking, each suggested
//! request being decided by the rule (or the default) it was suggested for, with and
//! without the decision index.
#![no_main]

use libfuzzer_sys::fuzz_target;
use policygate_api::EvaluateRequest;
use policygate_core::{LoadOptions, load};

/// Rules whose suggested request is checked, at most (the search is not free).
const SUGGESTED_RULES: usize = 4;

fuzz_target!(|data: &[u8]| {
    let (policy, report) = load("fuzz.yaml", data, &LoadOptions::default());
    assert_eq!(
        policy.is_some(),
        !report.has_errors(),
        "{}",
        report.summary()
    );
    let _ = report.render_human(false);
    let _ = report.to_json();
    let Some(policy) = policy else { return };

    let mut requests: Vec<(Option<String>, EvaluateRequest)> = Vec::new();
    if let Ok(fixed) = EvaluateRequest::parse(
        br#"{"action":"infer:run","env":{"name":"prod"},"resource":{"type":"document","sensitivity":"restricted"},"subject":{"type":"user","id":"u"},"signals":{"risk_score":0.5,"prompt_tokens":100,"pii_detected":true,"tags":["a"]}}"#,
    ) {
        requests.push((None, fixed));
    }
    let targets: Vec<Option<String>> = std::iter::once(None)
        .chain(
            policy
                .rules()
                .take(SUGGESTED_RULES)
                .map(|r| Some(r.rule_id.to_owned())),
        )
        .collect();
    for target in targets {
        if let Some(request) = policy.suggest_request(target.as_deref()) {
            let decided = policy.evaluate(&request).matched_rule_id.map(str::to_owned);
            assert_eq!(
                decided, target,
                "the suggested request {request:?} is decided by another rule"
            );
            requests.push((target, request));
        }
    }
    for (_, request) in &requests {
        let indexed = policy.evaluate(request);
        let in_order = policy.evaluate_in_order(request);
        assert_eq!(
            indexed.matched_rule_id, in_order.matched_rule_id,
            "{request:?}"
        );
        let _ = policy.check_request(request);
        let explained = policy.explain(request, "c".into(), true);
        assert_eq!(
            explained.response.matched_rule_id.as_deref(),
            indexed.matched_rule_id
        );
    }
});
