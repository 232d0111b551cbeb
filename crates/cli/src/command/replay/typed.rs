//! The fast path of `replay`: one audit line read straight into the few fields replay
//! needs, borrowed from the line (every other field is skipped, never built), and the
//! request rebuilt as JSON text for the request parser's one-pass path.
//!
//! The generic path ([`super::replay_event`] over a `serde_json::Value`) alone defines
//! what a line means. This path answers only for the usual shape of an audit event and
//! gives up (`None`) on anything else — a field absent or of an unexpected type, a
//! duplicate key — so that the generic path decides, with its messages. When it does
//! answer, it answers exactly what the generic path would (tested below).

use super::{Line, Replayer, covers};
use policygate_api::{
    AUDIT_EVENT_TYPE, DecisionKind, DiffOutcome, EvaluateRequest, Obligation, RequestError,
};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Absent stays `None` (through `#[serde(default)]`), a JSON null becomes `Some(None)`.
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// The fields of an audit line that replay reads.
#[derive(Deserialize)]
#[serde(bound(deserialize = "'de: 'a"))]
struct Recorded<'a> {
    #[serde(borrow)]
    event_type: Cow<'a, str>,
    #[serde(default, borrow)]
    event_version: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    request_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    caller_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    evaluation: Option<Evaluation<'a>>,
    #[serde(default, deserialize_with = "present")]
    decision_context: Option<Option<Context<'a>>>,
    #[serde(default, borrow)]
    decision_context_covers: Option<Vec<Cow<'a, str>>>,
}

#[derive(Deserialize)]
#[serde(bound(deserialize = "'de: 'a"))]
struct Evaluation<'a> {
    #[serde(default, borrow)]
    action: Option<&'a RawValue>,
    #[serde(default, borrow)]
    resource_type: Option<Cow<'a, str>>,
    #[serde(default)]
    decision: Option<DecisionKind>,
    #[serde(default, borrow)]
    matched_rule_id: Option<Cow<'a, str>>,
    #[serde(default)]
    rationale_codes: Option<Vec<String>>,
    #[serde(default)]
    obligations: Option<Vec<Obligation>>,
}

/// An object's members, as written (a repeated key keeps its last value, as the
/// generic path's `Map` does).
type Members<'a> = BTreeMap<&'a str, &'a RawValue>;

#[derive(Deserialize)]
#[serde(bound(deserialize = "'de: 'a"))]
struct Context<'a> {
    #[serde(default, borrow)]
    env: Option<Members<'a>>,
    #[serde(default, borrow)]
    resource: Option<Members<'a>>,
    #[serde(default, deserialize_with = "present")]
    subject: Option<Option<&'a RawValue>>,
    #[serde(default, deserialize_with = "present")]
    signals: Option<Option<&'a RawValue>>,
}

/// Writes `"key":` with the key escaped as JSON.
fn key(out: &mut String, key: &str) {
    // INVARIANT: serializing a string cannot fail.
    out.push_str(&serde_json::to_string(key).unwrap_or_default());
    out.push(':');
}

/// Writes an object from `members`, with `defaults` added where a key is missing.
fn object(out: &mut String, members: &Members<'_>, defaults: &[(&str, &str)]) {
    out.push('{');
    let mut first = true;
    let mut sep = |out: &mut String| {
        if !std::mem::take(&mut first) {
            out.push(',');
        }
    };
    for (k, v) in members {
        sep(out);
        key(out, k);
        out.push_str(v.get());
    }
    for (k, v) in defaults {
        if !members.contains_key(k) {
            sep(out);
            key(out, k);
            key_value(out, v);
        }
    }
    out.push('}');
}

fn key_value(out: &mut String, v: &str) {
    out.push_str(&serde_json::to_string(v).unwrap_or_default());
}

/// The line's meaning when it has the usual shape of an audit line; `None` when the
/// generic path must decide.
pub(super) fn replay_line(line: &str, replayer: &Replayer<'_>) -> Option<Result<Line, String>> {
    let event: Recorded<'_> = serde_json::from_str(line).ok()?;
    if event.event_type != AUDIT_EVENT_TYPE {
        // Other kinds, and lines that are not audit events, are the generic path's.
        return None;
    }
    let evaluation = event.evaluation?;
    let Some(decision) = evaluation.decision else {
        return Some(Ok(Line::Refusal));
    };
    let request_id = event.request_id?.into_owned();
    let version = event.event_version.as_deref().unwrap_or("?");
    let Some(covered) = event.decision_context_covers else {
        return Some(Ok(Line::NotReplayable {
            reason: format!(
                "audit event version {version} does not say which facts its decision_context covers"
            ),
            missing: Vec::new(),
        }));
    };
    let context = event.decision_context?;
    let old = DiffOutcome {
        rule_id: evaluation.matched_rule_id.map(Cow::into_owned),
        decision,
        rationale_codes: evaluation.rationale_codes.unwrap_or_default(),
        obligations: evaluation.obligations.unwrap_or_default(),
    };
    let missing: Vec<String> = replayer
        .tested
        .iter()
        .filter(|f| !covers(covered.iter().map(|c| c.as_ref()), f))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Some(Ok(Line::NotReplayable {
            reason: "the event did not record every fact the new policy tests".into(),
            missing,
        }));
    }
    let body = request_body(
        evaluation.action?,
        evaluation.resource_type.as_deref(),
        context.as_ref(),
    );
    let mut request = match EvaluateRequest::parse(body.as_bytes()) {
        Ok(r) => r,
        Err(rejection) => {
            let e = match rejection.error {
                // A recorded piece the request reader refuses as JSON (a repeated key
                // in `signals`, say): the generic path reads it as it reads the line.
                RequestError::Malformed(_) => return None,
                RequestError::Invalid(problems) => problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            };
            return Some(Ok(Line::NotReplayable {
                reason: format!("the recorded facts do not form a valid request: {e}"),
                missing: Vec::new(),
            }));
        }
    };
    request.caller = event.caller_id.map(Cow::into_owned);
    Some(Ok(replayer.decide(request_id, old, &request)))
}

/// The request as JSON text, with the placeholders of [`super::request_from`] for the
/// facts the context did not record.
fn request_body(
    action: &RawValue,
    resource_type: Option<&str>,
    context: Option<&Context<'_>>,
) -> String {
    let empty = Members::new();
    let mut out = String::with_capacity(256);
    out.push_str("{\"action\":");
    out.push_str(action.get());
    out.push_str(",\"env\":");
    object(
        &mut out,
        context.and_then(|c| c.env.as_ref()).unwrap_or(&empty),
        &[("name", "replay")],
    );
    out.push_str(",\"resource\":");
    object(
        &mut out,
        context.and_then(|c| c.resource.as_ref()).unwrap_or(&empty),
        &[
            ("type", resource_type.unwrap_or("replay")),
            ("sensitivity", "public"),
        ],
    );
    for (name, value) in [
        ("subject", context.and_then(|c| c.subject)),
        ("signals", context.and_then(|c| c.signals)),
    ] {
        if let Some(v) = value {
            let _ = write!(out, ",\"{name}\":{}", v.map_or("null", RawValue::get));
        }
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]
    use super::super::{Line, Replayer, covered_facts, replay_event};
    use super::replay_line;
    use policygate_core::Policy;
    use serde_json::Value;

    fn policy() -> Policy {
        let text = "policy_id: t\npolicy_version: \"1\"\ndefault: {decision: ALLOW, rationale_codes: [OK]}\nrules:\n  - rule_id: risky\n    priority: 10\n    when: {env: {name: prod}, signals: {risk: {gte: 0.5}}}\n    then: {decision: BLOCK, rationale_codes: [RISK]}\n  - rule_id: cap\n    priority: 5\n    when: {resource: {sensitivity: internal}, subject: {type: user}}\n    then: {decision: DEGRADE, rationale_codes: [CAP], obligations: [{type: OUTPUT_CAP, params: {max_tokens: 256}}]}\n  - rule_id: billing\n    priority: 20\n    when: {caller: {id: billing}}\n    then: {decision: REQUIRE_REVIEW, rationale_codes: [BILL]}\n";
        policygate_core::load(
            "t.yaml",
            text.as_bytes(),
            &policygate_core::LoadOptions::default(),
        )
        .0
        .unwrap()
    }

    const COVERS: &str = r#"["action","caller.id","env.name","resource.sensitivity","resource.type","signals.*","subject.type"]"#;

    /// Audit lines of every shape the two paths must agree on.
    fn lines() -> Vec<String> {
        let event = |request_id: &str, evaluation: &str, context: &str, tail: &str| {
            format!(
                r#"{{"event_type":"policygate.decision.evaluated","event_version":"2.0","request_id":{request_id},"caller_id":null,"policy":{{"policy_id":"t"}},"evaluation":{evaluation},"decision_context":{context}{tail},"seq":3,"prev_hash":"00"}}"#
            )
        };
        let block = r#"{"action":"infer:run","resource_type":"doc","decision":"BLOCK","matched_rule_id":"risky","default_applied":false,"rationale_codes":["RISK"],"obligations":[]}"#;
        let allow = r#"{"action":"infer:run","resource_type":"doc","decision":"ALLOW","matched_rule_id":null,"default_applied":true,"rationale_codes":["OK"],"obligations":[]}"#;
        let ctx =
            r#"{"env":{"name":"prod"},"resource":{"sensitivity":"public"},"signals":{"risk":0.7}}"#;
        let covers = format!(r#","decision_context_covers":{COVERS}"#);
        let mut out = vec![
            event(r#""r1""#, block, ctx, &covers),
            event(r#""r2""#, allow, ctx, &covers),
            event(r#""r\"3\n""#, block, ctx, &covers),
            event(
                r#""r4""#,
                block,
                r#"{"env":{"name":"prod"},"resource":{"sensitivity":"internal"},"subject":{"type":"user"},"signals":{"risk":0.1}}"#,
                &covers,
            ),
            event(
                r#""r5""#,
                r#"{"action":"infer:run","resource_type":"doc","decision":"DEGRADE","matched_rule_id":"cap","rationale_codes":["CAP"],"obligations":[{"type":"OUTPUT_CAP","params":{"max_tokens":256}}]}"#,
                r#"{"resource":{"sensitivity":"internal"},"subject":{"type":"user"}}"#,
                &covers,
            ),
            event(
                r#""r6""#,
                block,
                r#"{"env":{"name":"prod"},"subject":null,"signals":null}"#,
                &covers,
            ),
            event(r#""r7""#, block, "null", &covers),
            event(r#""r8""#, block, ctx, ""),
            event(
                r#""r9""#,
                block,
                ctx,
                r#","decision_context_covers":["env.name"]"#,
            ),
            event(
                r#""r10""#,
                r#"{"action":"infer:run","decision":null,"rationale_codes":[]}"#,
                "null",
                "",
            ),
            event(
                r#""r11""#,
                block,
                r#"{"env":{"name":"prod"},"signals":{"risk":0.1,"risk":0.9}}"#,
                &covers,
            ),
            event(
                r#""r12""#,
                block,
                r#"{"env":{"name":"-bad"},"signals":{"risk":0.9}}"#,
                &covers,
            ),
            event(
                r#""r13""#,
                r#"{"action":"infer:run","decision":"BLOCK","rationale_codes":["RISK",1]}"#,
                ctx,
                &covers,
            ),
            event("null", block, ctx, &covers),
            event(
                r#""r15""#,
                r#"{"action":"nope","decision":"ALLOW","rationale_codes":["OK"]}"#,
                ctx,
                &covers,
            ),
            event(r#""r16""#, r#"{"decision":"MAYBE"}"#, ctx, &covers),
            event(r#""r17""#, block, r#""text""#, &covers),
            event(
                r#""r18""#,
                block,
                r#"{"env":"prod","resource":{"type":"x","sensitivity":"public"}}"#,
                &covers,
            ),
            r#"{"event_type":"policygate.audit.opened","event_version":"2.0","seq":1}"#.to_owned(),
            r#"{"event_type":"something.else"}"#.to_owned(),
            r#"{"x":1}"#.to_owned(),
        ];
        // The same with a caller, which `caller.id` rules test.
        out.push(out[1].replace(r#""caller_id":null"#, r#""caller_id":"billing""#));
        out
    }

    fn generic(line: &str, replayer: &Replayer<'_>) -> Result<Line, String> {
        let event: Value = serde_json::from_str(line).unwrap();
        replay_event(&event, covered_facts(&event).as_ref(), replayer)
    }

    #[test]
    fn the_fast_path_agrees_with_the_generic_path_whenever_it_answers() {
        let p = policy();
        let replayer = Replayer::new(&p);
        let mut answered = 0;
        for line in lines() {
            if let Some(fast) = replay_line(&line, &replayer) {
                answered += 1;
                assert_eq!(fast, generic(&line, &replayer), "{line}");
            }
            assert_eq!(replayer.line(&line), generic(&line, &replayer), "{line}");
        }
        // The usual shapes take the fast path (else it would be dead code).
        assert!(answered >= 12, "only {answered} lines took the fast path");
    }

    #[test]
    fn the_usual_event_is_replayed_by_the_fast_path() {
        let p = policy();
        let replayer = Replayer::new(&p);
        let lines = lines();
        match replay_line(&lines[0], &replayer) {
            Some(Ok(Line::Replayed {
                request_id,
                old,
                new,
            })) => {
                assert_eq!(request_id, "r1");
                assert_eq!(old, new);
            }
            other => panic!("{other:?}"),
        }
        match replay_line(lines.last().unwrap(), &replayer) {
            Some(Ok(Line::Replayed { new, .. })) => {
                assert_eq!(new.rule_id.as_deref(), Some("billing"))
            }
            other => panic!("{other:?}"),
        }
    }
}
