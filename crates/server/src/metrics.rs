//! Prometheus metrics for `GET /metrics`, kept in plain atomics.
//!
//! The text exposition format (version 0.0.4) is small enough to write by hand, and
//! doing so keeps the hot path to a few relaxed atomic adds: a read lock and a map
//! lookup for the per-rule decision counter is the most expensive step. Series:
//!
//! - `policygate_decisions_total{decision, rule}`: decisions returned (status 200);
//!   `rule` is empty when the policy's default decided;
//! - `policygate_evaluate_duration_seconds`: histogram of `POST /evaluate` handling
//!   time, from the start of the handler to the response (body read, evaluation and
//!   audit write included; socket I/O excluded), for every outcome;
//! - `policygate_evaluate_in_flight`: `POST /evaluate` calls being handled now;
//! - `policygate_rejected_requests_total{code}`: answers with the error body, by code;
//! - `policygate_audit_events_written_total`: audit events handed to the sink;
//! - `policygate_audit_sink_up`: 1 while the audit sink accepts writes, else 0;
//! - `policygate_policy_info{policy_id, policy_version, policy_sha256}` and
//!   `policygate_build_info{version}`: constant 1, for joins and dashboards.
//!
//! It must not allocate per request on the success path (the rule map is filled on a
//! rule's first decision only).

use policygate_api::{DecisionKind, ErrorCode, PolicyIdentity};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::RwLock;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 14] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
    5.0,
];

#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Histogram {
    fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b)
            && let Some(bucket) = self.buckets.get(i)
        {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

/// The service's counters.
#[derive(Debug)]
pub(crate) struct Metrics {
    /// Per decision kind (index of [`DecisionKind::ALL`]): rule id → count.
    by_rule: [RwLock<HashMap<String, AtomicU64>>; 4],
    /// Per decision kind: decisions made by the default.
    by_default: [AtomicU64; 4],
    /// Per error code (index of [`ErrorCode::ALL`]).
    rejected: [AtomicU64; 9],
    latency: Histogram,
    in_flight: AtomicI64,
    info: String,
}

/// Counts one in-flight `POST /evaluate` for as long as it lives (also when the
/// handler is dropped because the client went away).
#[derive(Debug)]
pub(crate) struct InFlight<'a>(&'a AtomicI64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn decision_index(d: DecisionKind) -> usize {
    DecisionKind::ALL.iter().position(|k| *k == d).unwrap_or(0)
}

fn code_index(c: ErrorCode) -> usize {
    ErrorCode::ALL.iter().position(|k| *k == c).unwrap_or(0)
}

/// Escapes a label value: backslash, double quote and line feed.
fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

impl Metrics {
    pub(crate) fn new(policy: &PolicyIdentity) -> Metrics {
        let mut info = String::new();
        // Writing to a String cannot fail.
        let _ = writeln!(
            info,
            "# HELP policygate_policy_info The loaded policy (always 1).\n# TYPE policygate_policy_info gauge\npolicygate_policy_info{{policy_id=\"{}\",policy_version=\"{}\",policy_sha256=\"{}\"}} 1",
            escape_label(&policy.policy_id),
            escape_label(&policy.policy_version),
            escape_label(&policy.policy_sha256),
        );
        let _ = writeln!(
            info,
            "# HELP policygate_build_info The running PolicyGate (always 1).\n# TYPE policygate_build_info gauge\npolicygate_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION"),
        );
        Metrics {
            by_rule: Default::default(),
            by_default: Default::default(),
            rejected: Default::default(),
            latency: Histogram::default(),
            in_flight: AtomicI64::new(0),
            info,
        }
    }

    /// Counts one decision returned to a caller.
    pub(crate) fn decision(&self, decision: DecisionKind, rule: Option<&str>) {
        let i = decision_index(decision);
        let Some(rule) = rule else {
            if let Some(c) = self.by_default.get(i) {
                c.fetch_add(1, Ordering::Relaxed);
            }
            return;
        };
        let Some(lock) = self.by_rule.get(i) else {
            return;
        };
        {
            let map = lock
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(c) = map.get(rule) {
                c.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        let mut map = lock
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(rule.to_owned())
            .or_default()
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one answer with the error body.
    pub(crate) fn rejected(&self, code: ErrorCode) {
        if let Some(c) = self.rejected.get(code_index(code)) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Marks one `POST /evaluate` as in flight until the guard is dropped.
    pub(crate) fn in_flight(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(&self.in_flight)
    }

    /// Records the handling time of one `POST /evaluate`.
    pub(crate) fn evaluate_duration(&self, elapsed: Duration) {
        self.latency.observe(elapsed);
    }

    /// The text exposition (format 0.0.4).
    pub(crate) fn render(&self, audit_events_written: u64, audit_sink_up: bool) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str("# HELP policygate_decisions_total Decisions returned, by decision and matched rule (rule is empty when the default decided).\n# TYPE policygate_decisions_total counter\n");
        for (i, kind) in DecisionKind::ALL.iter().enumerate() {
            if let Some(lock) = self.by_rule.get(i) {
                let map = lock
                    .read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let mut rules: Vec<(&String, u64)> = map
                    .iter()
                    .map(|(k, v)| (k, v.load(Ordering::Relaxed)))
                    .collect();
                rules.sort();
                for (rule, n) in rules {
                    let _ = writeln!(
                        out,
                        "policygate_decisions_total{{decision=\"{kind}\",rule=\"{}\"}} {n}",
                        escape_label(rule)
                    );
                }
            }
            let n = self
                .by_default
                .get(i)
                .map_or(0, |c| c.load(Ordering::Relaxed));
            if n > 0 {
                let _ = writeln!(
                    out,
                    "policygate_decisions_total{{decision=\"{kind}\",rule=\"\"}} {n}"
                );
            }
        }

        out.push_str("# HELP policygate_evaluate_duration_seconds Time to handle POST /evaluate, from handler start to response (body read, evaluation and audit write included).\n# TYPE policygate_evaluate_duration_seconds histogram\n");
        let mut cumulative = 0;
        for (bound, bucket) in BUCKETS.iter().zip(&self.latency.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "policygate_evaluate_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        let count = self.latency.count.load(Ordering::Relaxed);
        #[expect(
            clippy::cast_precision_loss,
            reason = "a sum of nanoseconds shown as float seconds"
        )]
        let sum = self.latency.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(
            out,
            "policygate_evaluate_duration_seconds_bucket{{le=\"+Inf\"}} {count}\npolicygate_evaluate_duration_seconds_sum {sum}\npolicygate_evaluate_duration_seconds_count {count}"
        );

        let _ = writeln!(
            out,
            "# HELP policygate_evaluate_in_flight POST /evaluate calls being handled.\n# TYPE policygate_evaluate_in_flight gauge\npolicygate_evaluate_in_flight {}",
            self.in_flight.load(Ordering::Relaxed)
        );
        out.push_str("# HELP policygate_rejected_requests_total Requests answered with the error body, by error code.\n# TYPE policygate_rejected_requests_total counter\n");
        for (code, c) in ErrorCode::ALL.iter().zip(&self.rejected) {
            let _ = writeln!(
                out,
                "policygate_rejected_requests_total{{code=\"{}\"}} {}",
                code.as_str(),
                c.load(Ordering::Relaxed)
            );
        }

        let _ = writeln!(
            out,
            "# HELP policygate_audit_events_written_total Audit events written to the audit sink.\n# TYPE policygate_audit_events_written_total counter\npolicygate_audit_events_written_total {audit_events_written}"
        );
        let _ = writeln!(
            out,
            "# HELP policygate_audit_sink_up 1 while the audit sink accepts writes; 0 after a write failed (decisions are then refused).\n# TYPE policygate_audit_sink_up gauge\npolicygate_audit_sink_up {}",
            u8::from(audit_sink_up)
        );
        out.push_str(&self.info);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> PolicyIdentity {
        PolicyIdentity {
            policy_id: "p\"1".into(),
            policy_version: "v\\2".into(),
            policy_sha256: "a".repeat(64),
        }
    }

    #[test]
    fn renders_counts_histogram_and_escaped_labels() {
        let m = Metrics::new(&identity());
        m.decision(DecisionKind::Allow, Some("allow_public"));
        m.decision(DecisionKind::Allow, Some("allow_public"));
        m.decision(DecisionKind::Block, None);
        m.decision(DecisionKind::Degrade, Some("we\"ird\nrule"));
        m.rejected(ErrorCode::InvalidJson);
        m.evaluate_duration(Duration::from_micros(70));
        m.evaluate_duration(Duration::from_secs(10));
        let guard = m.in_flight();
        assert!(
            m.render(0, true)
                .contains("\npolicygate_evaluate_in_flight 1\n")
        );
        drop(guard);
        let text = m.render(7, true);
        for line in [
            "policygate_decisions_total{decision=\"ALLOW\",rule=\"allow_public\"} 2",
            "policygate_decisions_total{decision=\"BLOCK\",rule=\"\"} 1",
            "policygate_decisions_total{decision=\"DEGRADE\",rule=\"we\\\"ird\\nrule\"} 1",
            "policygate_rejected_requests_total{code=\"invalid_json\"} 1",
            "policygate_rejected_requests_total{code=\"internal\"} 0",
            "policygate_evaluate_duration_seconds_bucket{le=\"0.00005\"} 0",
            "policygate_evaluate_duration_seconds_bucket{le=\"0.0001\"} 1",
            "policygate_evaluate_duration_seconds_bucket{le=\"5\"} 1",
            "policygate_evaluate_duration_seconds_bucket{le=\"+Inf\"} 2",
            "policygate_evaluate_duration_seconds_count 2",
            "policygate_audit_events_written_total 7",
            "policygate_audit_sink_up 1",
            "policygate_evaluate_in_flight 0",
            "policygate_policy_info{policy_id=\"p\\\"1\",policy_version=\"v\\\\2\",policy_sha256=\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"} 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        // Every sample line is `name{labels} value` or `name value` with a number.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
