//! PolicyGate behind the benchmark's engine interface: load the YAML, build an
//! `EvaluateRequest` from the JSON body (contract validation plus the policy-aware
//! signal type check, as the server does), and evaluate.

use crate::model::Outcome;
use policygate_api::{EvaluateRequest, Obligation};
use policygate_core::{Decision, LoadOptions, Policy};

/// A loaded PolicyGate policy.
#[derive(Debug)]
pub struct PolicyGate {
    policy: Policy,
}

impl PolicyGate {
    /// Parses, validates (with the full overlap and shadowing analysis) and compiles.
    /// Errors when the report has an error or a warning: the generated policies must
    /// validate cleanly.
    pub fn load(yaml: &str) -> Result<Self, String> {
        let (policy, report) = policygate_core::load(
            "bench.yaml",
            yaml.as_bytes(),
            &LoadOptions { strict: false },
        );
        let (errors, warnings) = (report.errors().len(), report.warnings().len());
        let rendered = || first_lines(&report.render_human(false));
        match policy {
            Some(policy) if warnings == 0 => Ok(Self { policy }),
            Some(_) => Err(format!("policy loads with {warnings} warning(s):\n{}", rendered())),
            None if errors == 0 => Err(
                "policygate_core::load returned no policy and no diagnostics (is crates/core still the stub?)".to_owned(),
            ),
            None => Err(format!("policy refused with {errors} error(s):\n{}", rendered())),
        }
    }

    /// What a server does per request before deciding: parse and validate the body
    /// against the contract, then check the declared signal types.
    pub fn prepare(&self, body: &[u8]) -> Result<EvaluateRequest, String> {
        let req =
            EvaluateRequest::from_json(body).map_err(|e| format!("invalid request: {e:?}"))?;
        self.policy
            .check_request(&req)
            .map_err(|p| format!("request refused by the policy: {p:?}"))?;
        Ok(req)
    }

    /// Pure evaluation of a prepared request.
    pub fn decide(&self, req: &EvaluateRequest) -> Decision<'_> {
        self.policy.evaluate(req)
    }

    /// The decision reduced to what engines must agree on.
    pub fn outcome(d: &Decision<'_>) -> Outcome {
        Outcome {
            decision: d.decision,
            rule_id: d.matched_rule_id.map(str::to_owned),
            max_tokens: d.obligations.iter().find_map(|o| match o {
                Obligation::OutputCap(cap) => cap.max_tokens,
            }),
        }
    }
}

/// The first 40 lines of a long report.
fn first_lines(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut s = lines
        .iter()
        .take(40)
        .copied()
        .collect::<Vec<_>>()
        .join("\n");
    if lines.len() > 40 {
        s.push_str(&format!("\n... ({} more lines)", lines.len() - 40));
    }
    s
}
