//! Golden cases: `tests/cases/<topic>/*.yaml`, each a policy with either requests and
//! the decisions they must get, or the exact diagnostics (code, line, column, rule) the
//! policy must produce. Each file is its own test, named `<topic>/<file>` (run one with
//! `cargo test -p policygate-core --test cases -- errors/dead_rule`).
//!
//! Besides the expectations written in the file, every case's report is checked against
//! two stored `insta` snapshots in `tests/snapshots/`: the human rendering (message,
//! source labels, help, summary; what `policygate validate` prints) and the JSON
//! rendering (`--format json`). A change to either shows up as a snapshot diff.
//!
//! A new case needs nothing but its file: this runner (a `harness = false` test using
//! `libtest-mimic`) finds every `.yaml` under `tests/cases/` when it starts. Its
//! snapshots do not exist yet, so the first run fails and writes them as `.snap.new`
//! files; review and accept them with `cargo insta review` (from `cargo-insta`), or
//! write them directly with
//! `INSTA_UPDATE=always cargo test -p policygate-core --test cases`, read the new
//! `tests/snapshots/*.snap` files, and commit them with the case. The same two commands
//! refresh snapshots after a deliberate change of a message. Under CI (`CI=true`)
//! nothing is written and a missing or different snapshot fails.
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
//! mapping: |                    # optional: a gateway mapping checked against the (valid)
//!   ...                         # policy; `errors`, `warnings` and snapshots are then its report
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test and bench code fails loudly"
)]

use libtest_mimic::{Arguments, Failed, Trial};
use policygate_api::EvaluateRequest;
use policygate_core::gateway::Mapping;
use policygate_core::{Diagnostic, LoadOptions, Report, load};
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

/// The stored renderings of a case's report, named after its `<topic>/<file>`.
fn check_snapshots(name: &str, report: &Report) {
    let snapshot = name.replace('/', "__");
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_description(format!("golden case {name}"));
    settings.set_omit_expression(true);
    settings.bind(|| {
        insta::assert_snapshot!(format!("{snapshot}.human"), report.render_human(false));
        let json = serde_json::to_string_pretty(&report.to_json()).unwrap();
        insta::assert_snapshot!(format!("{snapshot}.json"), json);
    });
}

/// Runs one case file: its written expectations (every failure reported together),
/// then its snapshots.
fn run_case(name: &str, path: &Path) -> Result<(), Failed> {
    let mut failures = Vec::new();
    let report = check_expectations(path, &mut failures);
    if !failures.is_empty() {
        return Err(failures.join("\n").into());
    }
    if let Some(report) = report {
        check_snapshots(name, &report);
    }
    Ok(())
}

fn check_expectations(path: &Path, failures: &mut Vec<String>) -> Option<Report> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).unwrap();
    let case: Value = match serde_saphyr::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            failures.push(format!("{name}: unreadable case file: {e}"));
            return None;
        }
    };
    let policy_text = case["policy"].as_str().unwrap_or_default();
    let strict = case["strict"].as_bool().unwrap_or(false);
    let (policy, report) = load(
        "policy.yaml",
        policy_text.as_bytes(),
        &LoadOptions { strict },
    );
    // A gateway mapping case: the policy must load; `errors`/`warnings` and the
    // snapshots are the mapping's report.
    let (policy, report) = match case.get("mapping").and_then(Value::as_str) {
        Some(mapping_text) => {
            let Some(policy) = policy else {
                failures.push(format!(
                    "{name}: the policy of a mapping case is refused:\n{}",
                    report.render_human(false)
                ));
                return None;
            };
            let (_, mapping_report) =
                Mapping::load("gateway-mapping.yaml", mapping_text.as_bytes(), &policy);
            (Some(policy), mapping_report)
        }
        None => (policy, report),
    };
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
        return Some(report);
    };
    let Some(policy) = policy else {
        failures.push(format!(
            "{name}: policy refused:\n{}",
            report.render_human(false)
        ));
        return None;
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
            if let Some(w) = want.get(key)
                && w != &got[key]
            {
                failures.push(format!(
                    "{name}: request {i}: `{key}` want {w} got {}",
                    got[key]
                ));
            }
        }
    }
    Some(report)
}

fn main() -> std::process::ExitCode {
    let args = Arguments::from_args();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files = Vec::new();
    case_files(&root, &mut files);
    let mut trials: Vec<Trial> = files
        .into_iter()
        .map(|path| {
            let name = path
                .strip_prefix(&root)
                .unwrap()
                .with_extension("")
                .to_string_lossy()
                .replace('\\', "/");
            Trial::test(name.clone(), move || run_case(&name, &path))
        })
        .collect();
    let found = trials.len();
    let shown = root.display().to_string();
    trials.push(Trial::test("cases_are_found", move || {
        if found >= 2 {
            Ok(())
        } else {
            Err(format!("only {found} golden cases found under {shown}").into())
        }
    }));
    libtest_mimic::run(&args, trials).exit_code()
}
