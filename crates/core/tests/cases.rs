//! Golden cases: `tests/cases/<topic>/*.yaml`, each a policy with either requests and
//! the decisions they must get, or the exact diagnostics (code, line, column, rule) the
//! policy must produce. Every file is run; all failures are reported together.
//!
//! Case format:
//! ```yaml
//! description: what the case pins down
//! strict: false                 # optional
//! policy: |                     # the policy text, verbatim
//!   ...
//! requests:                     # valid policies: request -> expected decision
//!   - request: { action: infer:run, env: {name: prod}, resource: {type: doc, sensitivity: public} }
//!     want: { decision: ALLOW, matched_rule_id: allow_public, rationale_codes: [A] }
//!     # `matched_rule_id: null` means the default decided; `obligations` compared when given
//!     # `caller: NAME` beside `request` sets the authenticated caller (`caller.id`)
//! errors:                       # invalid policies: every error, in report order
//!   - { code: policygate::validate::dead_rule, line: 7, column: 5, rule_id: r1 }
//! warnings: [...]               # same shape; checked whenever `errors` or `warnings` is given
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test and bench code fails loudly"
)]

use policygate_api::EvaluateRequest;
use policygate_core::{Diagnostic, LoadOptions, load};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn case_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            case_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "yaml") {
            out.push(p);
        }
    }
}

fn diag_json(d: &Diagnostic) -> Value {
    serde_json::json!({
        "code": d.code().as_str(),
        "line": d.loc().map(|l| l.line()),
        "column": d.loc().map(|l| l.column()),
        "rule_id": d.rule_id(),
    })
}

fn compare_diags(
    kind: &str,
    want: Option<&Value>,
    got: &[Diagnostic],
    failures: &mut Vec<String>,
    name: &str,
) {
    let want: Vec<Value> = want.and_then(Value::as_array).cloned().unwrap_or_default();
    let got: Vec<Value> = got.iter().map(diag_json).collect();
    let normalise = |v: &Value| {
        let mut v = v.clone();
        if v.get("rule_id").is_none() {
            v["rule_id"] = Value::Null;
        }
        v
    };
    let want: Vec<Value> = want.iter().map(normalise).collect();
    if want != got {
        failures.push(format!(
            "{name}: {kind} differ\n  want: {}\n  got:  {}",
            serde_json::to_string(&want).unwrap(),
            serde_json::to_string(&got).unwrap()
        ));
    }
}

fn run_case(path: &Path, failures: &mut Vec<String>) {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).unwrap();
    let case: Value = match serde_saphyr::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            failures.push(format!("{name}: unreadable case file: {e}"));
            return;
        }
    };
    let policy_text = case["policy"].as_str().unwrap_or_default();
    let strict = case["strict"].as_bool().unwrap_or(false);
    let (policy, report) = load(
        "policy.yaml",
        policy_text.as_bytes(),
        &LoadOptions { strict },
    );
    let expects_diags = case.get("errors").is_some() || case.get("warnings").is_some();
    if expects_diags {
        compare_diags(
            "errors",
            case.get("errors"),
            report.errors(),
            failures,
            &name,
        );
        compare_diags(
            "warnings",
            case.get("warnings"),
            report.warnings(),
            failures,
            &name,
        );
    }
    let Some(requests) = case.get("requests").and_then(Value::as_array) else {
        if !expects_diags {
            failures.push(format!(
                "{name}: a case needs `requests`, `errors` or `warnings`"
            ));
        }
        return;
    };
    let Some(policy) = policy else {
        failures.push(format!(
            "{name}: policy refused:\n{}",
            report.render_human(false)
        ));
        return;
    };
    for (i, r) in requests.iter().enumerate() {
        let mut req = match EvaluateRequest::from_value(&r["request"]) {
            Ok(req) => req,
            Err(e) => {
                failures.push(format!("{name}: request {i} invalid: {e}"));
                continue;
            }
        };
        // The authenticated caller is not part of the body; a case gives it beside.
        req.caller = r.get("caller").and_then(Value::as_str).map(str::to_owned);
        let want = &r["want"];
        if let Some(problems) = want.get("request_problems") {
            let got = policy.check_request(&req).err().unwrap_or_default();
            let got: Vec<&str> = got.iter().map(|p| p.path.as_str()).collect();
            let want: Vec<&str> = problems
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            if got != want {
                failures.push(format!(
                    "{name}: request {i}: problems want {want:?} got {got:?}"
                ));
            }
            continue;
        }
        if let Err(p) = policy.check_request(&req) {
            failures.push(format!("{name}: request {i} refused by the policy: {p:?}"));
            continue;
        }
        let d = policy.evaluate(&req);
        let got = serde_json::json!({
            "decision": d.decision.as_str(),
            "matched_rule_id": d.matched_rule_id,
            "rationale_codes": d.rationale_codes,
            "obligations": d.obligations,
        });
        for key in [
            "decision",
            "matched_rule_id",
            "rationale_codes",
            "obligations",
        ] {
            if let Some(w) = want.get(key) {
                if w != &got[key] {
                    failures.push(format!(
                        "{name}: request {i}: `{key}` want {w} got {}",
                        got[key]
                    ));
                }
            }
        }
    }
}

#[test]
fn golden_cases() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files = Vec::new();
    case_files(&root, &mut files);
    assert!(
        files.len() >= 2,
        "no golden cases found under {}",
        root.display()
    );
    let mut failures = Vec::new();
    for f in &files {
        run_case(f, &mut failures);
    }
    assert!(
        failures.is_empty(),
        "{} of {} golden cases failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}
