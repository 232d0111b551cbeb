//! `policygate replay --policy NEW AUDIT.jsonl...`: re-decides recorded decisions under
//! a new policy, streaming (one line in memory at a time), and reports what changes.
//!
//! An event is replayed only when it says which facts its `decision_context` covers and
//! those include every fact NEW tests: a fact missing from a context that does not say
//! it covers it may have been absent or merely unrecorded, so it is never guessed.
//! Audit events of version 1.0 do not say what they cover, so they are counted as not
//! replayable, with that reason.

use crate::command::validate::Format;
use crate::{exit, load};
use policygate_api::{
    AUDIT_CHECKPOINT_TYPE, AUDIT_EVENT_TYPE, AUDIT_EXPLAIN_EVENT_TYPE, AUDIT_OPENED_TYPE,
    AUDIT_SUPPRESSED_TYPE, DecisionKind, DecisionTransition, DiffOutcome, EvaluateRequest,
    MalformedLine, MissingFact, Obligation, POLICY_RELOAD_REJECTED_EVENT_TYPE,
    POLICY_SWAPPED_EVENT_TYPE, REPLAY_REPORT_VERSION, ReplayChange, ReplayReason, ReplayReport,
    RuleTransition,
};
use policygate_core::Policy;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

mod typed;

/// Most malformed lines listed in the report (all are counted).
const MAX_MALFORMED_LISTED: usize = 100;

/// Arguments of `policygate replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// The policy to re-decide the recorded events under.
    #[arg(long, value_name = "PATH")]
    pub policy: PathBuf,
    /// Audit logs (JSON lines, as `policygate serve --audit-file` writes them).
    #[arg(required = true, value_name = "AUDIT.jsonl")]
    pub logs: Vec<PathBuf>,
    /// Write one JSON line per changed event (request_id, old and new outcome) here.
    #[arg(long, value_name = "FILE")]
    pub changes: Option<PathBuf>,
    /// Output format of the summary.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// What one line is.
#[derive(Debug, PartialEq)]
pub(crate) enum Line {
    Refusal,
    /// An opening event, checkpoint, policy change or explanation: no decision.
    Other,
    NotReplayable {
        reason: String,
        missing: Vec<String>,
    },
    Replayed {
        request_id: String,
        old: DiffOutcome,
        new: DiffOutcome,
    },
}

fn field<'v>(v: &'v Value, key: &str) -> Result<&'v Value, String> {
    v.get(key)
        .ok_or_else(|| format!("not an audit event: no `{key}`"))
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The fact paths an event records (`decision_context_covers`, audit events of
/// version 2.0); `None` for an event that does not say (version 1.0 never does).
fn covered_facts(event: &Value) -> Option<BTreeSet<String>> {
    let covers = event.get("decision_context_covers")?.as_array()?;
    covers
        .iter()
        .map(|c| c.as_str().map(str::to_owned))
        .collect()
}

/// True when `covered` holds `fact` (`signals.*` holds every signal).
fn covers<'c>(mut covered: impl Iterator<Item = &'c str>, fact: &str) -> bool {
    let signal = fact.starts_with("signals.");
    covered.any(|c| c == fact || (signal && c == "signals.*"))
}

/// The new policy and what every replayed event needs from it, computed once.
#[derive(Debug)]
pub(crate) struct Replayer<'p> {
    policy: &'p Policy,
    /// The fact paths the policy tests.
    tested: Vec<String>,
}

impl<'p> Replayer<'p> {
    pub(crate) fn new(policy: &'p Policy) -> Replayer<'p> {
        Replayer {
            policy,
            tested: policy.tested_facts().paths(),
        }
    }

    /// What one line of an audit log is: the typed fast path when the line has the
    /// usual shape, else the generic path, which alone defines the meaning.
    pub(crate) fn line(&self, text: &str) -> Result<Line, String> {
        typed::replay_line(text, self).unwrap_or_else(|| {
            match serde_json::from_str::<Value>(text) {
                Err(e) => Err(format!("not JSON: {e}")),
                Ok(event) => replay_event(&event, covered_facts(&event).as_ref(), self),
            }
        })
    }

    /// Re-decides a rebuilt request under the new policy.
    fn decide(&self, request_id: String, old: DiffOutcome, request: &EvaluateRequest) -> Line {
        if self.policy.check_request(request).is_err() {
            return Line::NotReplayable {
                reason: "the new policy's fact declarations refuse the recorded facts (422)".into(),
                missing: Vec::new(),
            };
        }
        let d = self.policy.evaluate(request);
        let new = DiffOutcome {
            rule_id: d.matched_rule_id.map(str::to_owned),
            decision: d.decision,
            rationale_codes: d.rationale_codes.to_vec(),
            obligations: d.obligations.to_vec(),
        };
        Line::Replayed {
            request_id,
            old,
            new,
        }
    }
}

/// Rebuilds the request from what the event recorded; facts NEW does not test may get
/// placeholders, since they cannot change its decision.
fn request_from(
    event: &Value,
    evaluation: &Value,
    context: &Map<String, Value>,
) -> Result<EvaluateRequest, String> {
    let mut req = Map::new();
    req.insert(
        "action".into(),
        evaluation.get("action").cloned().unwrap_or(Value::Null),
    );
    let mut env = context
        .get("env")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    env.entry("name").or_insert_with(|| "replay".into());
    req.insert("env".into(), Value::Object(env));
    let mut resource = context
        .get("resource")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let Some(t) = evaluation.get("resource_type").filter(|t| t.is_string()) {
        resource.entry("type").or_insert_with(|| t.clone());
    }
    resource.entry("type").or_insert_with(|| "replay".into());
    resource
        .entry("sensitivity")
        .or_insert_with(|| "public".into());
    req.insert("resource".into(), Value::Object(resource));
    for key in ["subject", "signals"] {
        if let Some(v) = context.get(key) {
            req.insert(key.into(), v.clone());
        }
    }
    let mut request = EvaluateRequest::from_value(&Value::Object(req)).map_err(|e| match e {
        policygate_api::RequestError::Malformed(m) => m,
        policygate_api::RequestError::Invalid(problems) => problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
    })?;
    // `caller.id` is never part of a body: the server records it as `caller_id`.
    request.caller = event
        .get("caller_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(request)
}

fn recorded_outcome(evaluation: &Value) -> Result<Option<DiffOutcome>, String> {
    let decision = match evaluation.get("decision") {
        None | Some(Value::Null) => return Ok(None),
        Some(d) => serde_json::from_value::<DecisionKind>(d.clone())
            .map_err(|e| format!("`evaluation.decision`: {e}"))?,
    };
    let obligations: Vec<Obligation> = match evaluation.get("obligations") {
        None | Some(Value::Null) => Vec::new(),
        Some(o) => serde_json::from_value(o.clone())
            .map_err(|e| format!("`evaluation.obligations`: {e}"))?,
    };
    Ok(Some(DiffOutcome {
        rule_id: evaluation
            .get("matched_rule_id")
            .and_then(Value::as_str)
            .map(str::to_owned),
        decision,
        rationale_codes: strings(evaluation.get("rationale_codes")),
        obligations,
    }))
}

/// Classifies one event (the generic path); `Err` for a line that is not an audit event.
pub(crate) fn replay_event(
    event: &Value,
    covered: Option<&BTreeSet<String>>,
    replayer: &Replayer<'_>,
) -> Result<Line, String> {
    match field(event, "event_type")?.as_str() {
        Some(AUDIT_EVENT_TYPE) => {}
        // Opening events, checkpoints, policy changes, counts of suppressed refusals and
        // explanations decide nothing.
        Some(
            AUDIT_OPENED_TYPE
            | AUDIT_CHECKPOINT_TYPE
            | AUDIT_SUPPRESSED_TYPE
            | AUDIT_EXPLAIN_EVENT_TYPE
            | POLICY_SWAPPED_EVENT_TYPE
            | POLICY_RELOAD_REJECTED_EVENT_TYPE,
        ) => return Ok(Line::Other),
        _ => {
            return Err(format!(
                "not an audit event: `event_type` is not `{AUDIT_EVENT_TYPE}`"
            ));
        }
    }
    let evaluation = field(event, "evaluation")?;
    let Some(old) = recorded_outcome(evaluation)? else {
        return Ok(Line::Refusal);
    };
    let request_id = field(event, "request_id")?
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let version = event
        .get("event_version")
        .and_then(Value::as_str)
        .unwrap_or("?");
    let Some(covered) = covered else {
        return Ok(Line::NotReplayable {
            reason: format!(
                "audit event version {version} does not say which facts its decision_context covers"
            ),
            missing: Vec::new(),
        });
    };
    let context = match field(event, "decision_context")? {
        Value::Object(m) => m.clone(),
        Value::Null => Map::new(),
        _ => return Err("`decision_context` is neither an object nor null".into()),
    };
    let missing: Vec<String> = replayer
        .tested
        .iter()
        .filter(|f| !covers(covered.iter().map(String::as_str), f))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Ok(Line::NotReplayable {
            reason: "the event did not record every fact the new policy tests".into(),
            missing,
        });
    }
    let request = match request_from(event, evaluation, &context) {
        Ok(r) => r,
        Err(e) => {
            return Ok(Line::NotReplayable {
                reason: format!("the recorded facts do not form a valid request: {e}"),
                missing: Vec::new(),
            });
        }
    };
    Ok(replayer.decide(request_id, old, &request))
}

/// Counters of a replay; memory stays bounded by the policy, not the log.
struct Tally {
    report: ReplayReport,
    by_decision: BTreeMap<(DecisionKind, DecisionKind), u64>,
    by_rule: BTreeMap<(Option<String>, Option<String>), u64>,
    reasons: BTreeMap<String, u64>,
    missing: BTreeMap<String, u64>,
}

impl Tally {
    fn add(
        &mut self,
        line: Line,
        changes: &mut Option<BufWriter<std::fs::File>>,
    ) -> std::io::Result<()> {
        let r = &mut self.report;
        r.events_read += 1;
        match line {
            Line::Refusal => r.refusals_skipped += 1,
            Line::Other => r.other_events_skipped += 1,
            Line::NotReplayable { reason, missing } => {
                r.not_replayable += 1;
                *self.reasons.entry(reason).or_default() += 1;
                for m in missing {
                    *self.missing.entry(m).or_default() += 1;
                }
            }
            Line::Replayed {
                request_id,
                old,
                new,
            } => {
                r.replayed += 1;
                if old == new {
                    r.unchanged += 1;
                } else {
                    r.changed += 1;
                    *self
                        .by_decision
                        .entry((old.decision, new.decision))
                        .or_default() += 1;
                    *self
                        .by_rule
                        .entry((old.rule_id.clone(), new.rule_id.clone()))
                        .or_default() += 1;
                    if let Some(w) = changes {
                        let change = ReplayChange {
                            request_id,
                            old,
                            new,
                        };
                        serde_json::to_writer(&mut *w, &change)?;
                        w.write_all(b"\n")?;
                    }
                }
            }
        }
        Ok(())
    }

    fn finish(mut self) -> ReplayReport {
        self.report.by_decision = self
            .by_decision
            .into_iter()
            .map(|((old, new), events)| DecisionTransition { old, new, events })
            .collect();
        self.report.by_rule = self
            .by_rule
            .into_iter()
            .map(|((old_rule_id, new_rule_id), events)| RuleTransition {
                old_rule_id,
                new_rule_id,
                events,
            })
            .collect();
        self.report.not_replayable_reasons = self
            .reasons
            .into_iter()
            .map(|(reason, events)| ReplayReason { reason, events })
            .collect();
        self.report.missing_facts = self
            .missing
            .into_iter()
            .map(|(fact, events)| MissingFact { fact, events })
            .collect();
        self.report
    }
}

fn human(r: &ReplayReport) -> String {
    let mut out = format!(
        "replayed under `{}` version `{}`\nevents read {}, refusals skipped {}, other events skipped {}, replayed {}, unchanged {}, changed {}, not replayable {}, malformed lines {}\n",
        r.policy.policy_id,
        r.policy.policy_version,
        r.events_read,
        r.refusals_skipped,
        r.other_events_skipped,
        r.replayed,
        r.unchanged,
        r.changed,
        r.not_replayable,
        r.malformed
    );
    for t in &r.by_decision {
        out.push_str(&format!("  {} -> {}: {}\n", t.old, t.new, t.events));
    }
    let rule = |id: &Option<String>| id.clone().unwrap_or_else(|| "(default)".into());
    for t in &r.by_rule {
        out.push_str(&format!(
            "  rule {} -> {}: {}\n",
            rule(&t.old_rule_id),
            rule(&t.new_rule_id),
            t.events
        ));
    }
    for reason in &r.not_replayable_reasons {
        out.push_str(&format!(
            "  not replayable ({}): {}\n",
            reason.events, reason.reason
        ));
    }
    for m in &r.missing_facts {
        out.push_str(&format!(
            "  missing fact `{}` in {} events\n",
            m.fact, m.events
        ));
    }
    for m in &r.malformed_lines {
        out.push_str(&format!("  {}:{}: {}\n", m.file, m.line, m.message));
    }
    out
}

/// Runs the command: exit 0 when nothing replayed changed, 1 when some event changed,
/// 2 when the policy is invalid or a file cannot be read or written.
pub fn run(args: &ReplayArgs) -> ExitCode {
    let policy = match load::read_bytes(&args.policy, "--policy").and_then(|bytes| {
        load::require_bytes(
            &args.policy,
            &bytes,
            false,
            exit::USAGE,
            "nothing was replayed",
        )
    }) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let mut changes = match &args.changes {
        None => None,
        Some(path) => match std::fs::File::create(path) {
            Ok(f) => Some(BufWriter::new(f)),
            Err(e) => {
                eprintln!("error: cannot write `{}`: {e}", path.display());
                return exit::code(exit::USAGE);
            }
        },
    };
    let mut tally = Tally {
        report: ReplayReport {
            report_version: REPLAY_REPORT_VERSION.to_owned(),
            policy: policy.identity().clone(),
            events_read: 0,
            refusals_skipped: 0,
            other_events_skipped: 0,
            replayed: 0,
            unchanged: 0,
            changed: 0,
            not_replayable: 0,
            malformed: 0,
            by_decision: Vec::new(),
            by_rule: Vec::new(),
            not_replayable_reasons: Vec::new(),
            missing_facts: Vec::new(),
            malformed_lines: Vec::new(),
        },
        by_decision: BTreeMap::new(),
        by_rule: BTreeMap::new(),
        reasons: BTreeMap::new(),
        missing: BTreeMap::new(),
    };
    let replayer = Replayer::new(&policy);
    let mut line = String::new();
    for path in &args.logs {
        let file_name = path.display().to_string();
        let mut reader = match std::fs::File::open(path) {
            Ok(f) => BufReader::new(f),
            Err(e) => {
                eprintln!("error: cannot read audit log `{file_name}`: {e}");
                return exit::code(exit::USAGE);
            }
        };
        let mut number = 0u64;
        loop {
            line.clear();
            let malformed = match reader.read_line(&mut line) {
                Ok(0) => break,
                Ok(_) => {
                    number += 1;
                    if line.trim().is_empty() {
                        continue;
                    }
                    match replayer.line(&line) {
                        Ok(l) => {
                            if let Err(e) = tally.add(l, &mut changes) {
                                eprintln!("error: cannot write the changes file: {e}");
                                return exit::code(exit::USAGE);
                            }
                            None
                        }
                        Err(m) => Some(m),
                    }
                }
                Err(e) => {
                    number += 1;
                    Some(format!("cannot read the line: {e}"))
                }
            };
            if let Some(message) = malformed {
                tally.report.malformed += 1;
                if tally.report.malformed_lines.len() < MAX_MALFORMED_LISTED {
                    tally.report.malformed_lines.push(MalformedLine {
                        file: file_name.clone(),
                        line: number,
                        message,
                    });
                }
            }
        }
    }
    if let Some(mut w) = changes
        && let Err(e) = w.flush()
    {
        eprintln!("error: cannot write the changes file: {e}");
        return exit::code(exit::USAGE);
    }
    let report = tally.finish();
    let text = match args.format {
        Format::Human => human(&report),
        Format::Json => serde_json::to_string_pretty(&report).unwrap_or_default() + "\n",
    };
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return exit::code(exit::USAGE);
    }
    if report.changed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]
    use super::*;
    use serde_json::json;

    fn policy(threshold: f64) -> Policy {
        let text = format!(
            "policy_id: t\npolicy_version: \"1\"\ndefault: {{decision: ALLOW, rationale_codes: [OK]}}\nrules:\n  - rule_id: risky\n    priority: 10\n    when: {{env: {{name: prod}}, signals: {{risk: {{gte: {threshold}}}}}}}\n    then: {{decision: BLOCK, rationale_codes: [RISK]}}\n"
        );
        policygate_core::load(
            "t.yaml",
            text.as_bytes(),
            &policygate_core::LoadOptions::default(),
        )
        .0
        .unwrap()
    }

    fn event(risk: f64, decision: &str, rule: Option<&str>, codes: &[&str]) -> Value {
        json!({
            "event_type": AUDIT_EVENT_TYPE, "event_version": "1.0", "request_id": "r1",
            "evaluation": {"action": "infer:run", "resource_type": "doc", "decision": decision,
                "matched_rule_id": rule, "default_applied": rule.is_none(),
                "rationale_codes": codes, "obligations": []},
            "decision_context": {"env": {"name": "prod"}, "signals": {"risk": risk}}
        })
    }

    fn all_tested(p: &Policy) -> BTreeSet<String> {
        p.tested_facts().paths().into_iter().collect()
    }

    #[test]
    fn the_policy_that_wrote_the_event_replays_it_unchanged() {
        let p = policy(0.9);
        let e = event(0.95, "BLOCK", Some("risky"), &["RISK"]);
        match replay_event(&e, Some(&all_tested(&p)), &Replayer::new(&p)).unwrap() {
            Line::Replayed { old, new, .. } => assert_eq!(old, new),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_lower_threshold_changes_the_event() {
        let old = policy(0.9);
        let new = policy(0.5);
        let e = event(0.6, "ALLOW", None, &["OK"]);
        match replay_event(&e, Some(&all_tested(&old)), &Replayer::new(&new)).unwrap() {
            Line::Replayed { old, new, .. } => {
                assert_eq!(old.decision, DecisionKind::Allow);
                assert_eq!(new.decision, DecisionKind::Block);
                assert_eq!(new.rule_id.as_deref(), Some("risky"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_event_without_every_tested_fact_is_not_replayable_and_names_it() {
        let p = policy(0.9);
        let e = event(0.6, "ALLOW", None, &["OK"]);
        let covered: BTreeSet<String> = ["env.name".to_owned()].into();
        match replay_event(&e, Some(&covered), &Replayer::new(&p)).unwrap() {
            Line::NotReplayable { missing, .. } => assert_eq!(missing, vec!["signals.risk"]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn version_1_0_events_are_never_guessed() {
        let p = policy(0.9);
        let e = event(0.6, "ALLOW", None, &["OK"]);
        assert_eq!(covered_facts(&e), None);
        assert!(matches!(
            replay_event(&e, None, &Replayer::new(&p)).unwrap(),
            Line::NotReplayable { reason, .. } if reason.contains("does not say which facts")
        ));
    }

    #[test]
    fn refusals_are_skipped_and_other_json_is_malformed() {
        let p = policy(0.9);
        let mut refusal = event(0.1, "ALLOW", None, &[]);
        refusal["evaluation"]["decision"] = Value::Null;
        assert_eq!(
            replay_event(&refusal, None, &Replayer::new(&p)).unwrap(),
            Line::Refusal
        );
        assert!(replay_event(&json!({"x": 1}), None, &Replayer::new(&p)).is_err());
        let mut bad = event(0.1, "MAYBE", None, &[]);
        bad["evaluation"]["decision"] = json!("MAYBE");
        assert!(replay_event(&bad, None, &Replayer::new(&p)).is_err());
    }
}
