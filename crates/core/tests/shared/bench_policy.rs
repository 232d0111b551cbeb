//! The generated benchmark policy, shared by the engine benchmark
//! (`benches/engine.rs`) and the property tests (`tests/properties.rs`), which check
//! that the decision index never changes a decision on it. Included with `#[path]`,
//! so it is not a test target of its own.

/// Actions the generated tenant rules cycle through.
pub const ACTIONS: [&str; 4] = ["infer:run", "data:read", "data:write", "tool:invoke"];
/// Sensitivities the generated tenant rules cycle through.
pub const SENS: [&str; 3] = ["public", "internal", "restricted"];

/// A policy of `n` rules: per-tenant environment rules (disjoint at equal priority),
/// plus a few global guards at higher priorities.
pub fn policy(n: usize) -> String {
    let mut s = String::from(
        "policy_id: bench\npolicy_version: \"1\"\nfacts:\n  risk_score: {type: number, min: 0, max: 1}\n  prompt_tokens: {type: integer, min: 0}\n  caller_trust: {type: string, enum: [low, medium, high]}\ndefault: {decision: BLOCK, rationale_codes: [DEFAULT_DENY]}\nrules:\n  - rule_id: block_risk\n    priority: 1000\n    when: {signals: {risk_score: {gte: 0.95}}}\n    then: {decision: BLOCK, rationale_codes: [RISK]}\n",
    );
    for i in 0..n.saturating_sub(1) {
        let tenant = i / 12;
        let action = ACTIONS[i % 4];
        let sens = SENS[(i / 4) % 3];
        let (decision, extra) = match i % 4 {
            0 => ("ALLOW", String::new()),
            1 => ("REQUIRE_REVIEW", String::new()),
            2 => (
                "DEGRADE",
                "\n      obligations: [{type: OUTPUT_CAP, params: {max_tokens: 256}}]".to_owned(),
            ),
            _ => ("BLOCK", String::new()),
        };
        s.push_str(&format!(
            "  - rule_id: r{i}\n    priority: {}\n    when:\n      action: \"{action}\"\n      env: {{name: tenant-{tenant}}}\n      resource: {{sensitivity: {sens}}}\n      signals: {{prompt_tokens: {{lte: {}}}, caller_trust: {{in: [medium, high]}}}}\n    then:\n      decision: {decision}\n      rationale_codes: [R{i}]{extra}\n",
            100 + (i % 7),
            1000 + i
        ));
    }
    s
}

/// The benchmark's request for the policy of `n` rules: a tenant rule in the middle decides.
pub fn request(n: usize) -> Vec<u8> {
    let tenant = (n.saturating_sub(2) / 12) / 2;
    format!(
        r#"{{"action":"data:read","env":{{"name":"tenant-{tenant}"}},"resource":{{"type":"document","sensitivity":"public"}},"signals":{{"prompt_tokens":500,"caller_trust":"high","risk_score":0.2}}}}"#
    )
    .into_bytes()
}
