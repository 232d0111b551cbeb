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
//! - `policygate_gateway_check_duration_seconds{protocol}`: the same for gateway
//!   checks, `http` (`/authz`) and `grpc` (Envoy ext_authz `Check`);
//! - `policygate_evaluate_in_flight`: `POST /evaluate` calls being handled now;
//! - `policygate_rejected_requests_total{code}`: answers with the error body, by code
//!   (including those the connection layer writes for heads hyper cannot parse);
//! - `policygate_connections_open`: client connections being served now;
//!   `policygate_connections_refused_total`: connections closed at once because
//!   `--max-connections` were open; `policygate_connections_timed_out_total{wait}`:
//!   connections closed by the header read (`header_read`) or idle (`idle`) timeout;
//!   `policygate_accept_errors_total`: failed `accept` calls (e.g. `EMFILE`);
//! - `policygate_audit_events_written_total`: audit events handed to the sink;
//! - `policygate_audit_sink_up`: 1 while the audit sink accepts writes, else 0;
//! - `policygate_policy_info{policy_id, policy_version, policy_sha256}`: constant 1,
//!   labelled with the active policy (it changes when a reload swaps one in), and
//!   `policygate_build_info{version}`: constant 1, for joins and dashboards;
//! - `policygate_policy_reloads_total{outcome}`: reload attempts by outcome
//!   (`applied`, `rejected`, `unchanged`);
//! - `policygate_policy_last_success_timestamp_seconds`: Unix time the active policy
//!   was loaded (at start, then at each applied reload);
//! - `policygate_shadow_decisions_total{live, shadow}`: with `--shadow-policy`, the
//!   decisions returned, by live decision and shadow decision (`REFUSED` when the
//!   shadow refused the request);
//! - `policygate_shadow_reloads_total{outcome}` and
//!   `policygate_shadow_policy_info{policy_id, policy_version, policy_sha256}`.
//!
//! It must not allocate per request on the success path (the rule map is filled on a
//! rule's first decision only).

use crate::conn::Wait;
use policygate_api::{DecisionKind, ErrorCode, PolicyIdentity, ReloadOutcome};
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

    /// The series of histogram `name`, each with `labels` (`key="value",` pairs,
    /// each followed by a comma, or empty) before its own.
    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}le=\"{bound}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        #[expect(
            clippy::cast_precision_loss,
            reason = "a sum of nanoseconds shown as float seconds"
        )]
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let plain = labels.trim_end_matches(',');
        let braces = if plain.is_empty() {
            String::new()
        } else {
            format!("{{{plain}}}")
        };
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}le=\"+Inf\"}} {count}\n{name}_sum{braces} {sum}\n{name}_count{braces} {count}"
        );
    }
}

/// The protocol of a gateway check (`policygate_gateway_check_duration_seconds`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GatewayProtocol {
    /// Forward-auth on `/authz`.
    Http,
    /// Envoy ext_authz `Check`.
    Grpc,
}

impl GatewayProtocol {
    const ALL: [GatewayProtocol; 2] = [GatewayProtocol::Http, GatewayProtocol::Grpc];

    fn as_str(self) -> &'static str {
        match self {
            GatewayProtocol::Http => "http",
            GatewayProtocol::Grpc => "grpc",
        }
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
    rejected: [AtomicU64; ErrorCode::ALL.len()],
    latency: Histogram,
    /// Per [`GatewayProtocol`]: http, grpc.
    gateway_latency: [Histogram; 2],
    in_flight: AtomicI64,
    connections_open: AtomicI64,
    connections_refused: AtomicU64,
    /// Per [`Wait`]: header read, idle.
    connections_timed_out: [AtomicU64; 2],
    accept_errors: AtomicU64,
    /// Reload attempts, per outcome (index of [`ReloadOutcome::ALL`]).
    reloads: [AtomicU64; 3],
    /// Unix time (milliseconds) of the last successful load.
    last_success_ms: AtomicU64,
    /// Live decision × shadow decision (index of [`DecisionKind::ALL`], or the last
    /// for a shadow refusal).
    shadow_pairs: [[AtomicU64; 5]; 4],
    shadow_reloads: [AtomicU64; 3],
    info: String,
}

/// Counts one in-flight `POST /evaluate` (or one open connection) for as long as it
/// lives (also when the handler is dropped because the client went away).
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
    pub(crate) fn new() -> Metrics {
        let mut info = String::new();
        // Writing to a String cannot fail.
        let _ = writeln!(
            info,
            "# HELP policygate_build_info The running PolicyGate (always 1).\n# TYPE policygate_build_info gauge\npolicygate_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION"),
        );
        let metrics = Metrics {
            by_rule: Default::default(),
            by_default: Default::default(),
            rejected: Default::default(),
            latency: Histogram::default(),
            gateway_latency: Default::default(),
            in_flight: AtomicI64::new(0),
            connections_open: AtomicI64::new(0),
            connections_refused: AtomicU64::new(0),
            connections_timed_out: Default::default(),
            accept_errors: AtomicU64::new(0),
            reloads: Default::default(),
            last_success_ms: AtomicU64::new(0),
            shadow_pairs: Default::default(),
            shadow_reloads: Default::default(),
            info,
        };
        metrics.loaded_now();
        metrics
    }

    /// Records that a policy was loaded successfully now.
    pub(crate) fn loaded_now(&self) {
        let ms = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        self.last_success_ms
            .store(u64::try_from(ms).unwrap_or(0), Ordering::Relaxed);
    }

    /// Counts one decision returned while a shadow policy decided beside it.
    pub(crate) fn shadow_pair(&self, live: DecisionKind, shadow: Option<DecisionKind>) {
        let s = shadow.map_or(DecisionKind::ALL.len(), decision_index);
        if let Some(c) = self
            .shadow_pairs
            .get(decision_index(live))
            .and_then(|row| row.get(s))
        {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts one shadow reload attempt.
    pub(crate) fn shadow_reload(&self, outcome: ReloadOutcome) {
        let i = ReloadOutcome::ALL
            .iter()
            .position(|o| *o == outcome)
            .unwrap_or(0);
        if let Some(c) = self.shadow_reloads.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts one reload attempt.
    pub(crate) fn reload(&self, outcome: ReloadOutcome) {
        let i = ReloadOutcome::ALL
            .iter()
            .position(|o| *o == outcome)
            .unwrap_or(0);
        if let Some(c) = self.reloads.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        if outcome == ReloadOutcome::Applied {
            self.loaded_now();
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

    /// Counts one open client connection until the guard is dropped.
    pub(crate) fn connection_open(&self) -> InFlight<'_> {
        self.connections_open.fetch_add(1, Ordering::Relaxed);
        InFlight(&self.connections_open)
    }

    /// A connection closed at once because the limit was reached.
    pub(crate) fn connection_refused(&self) {
        self.connections_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection closed by a timeout while waiting for `wait`.
    pub(crate) fn connection_timed_out(&self, wait: Wait) {
        let i = match wait {
            Wait::Head => 0,
            Wait::Idle => 1,
        };
        if let Some(c) = self.connections_timed_out.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A failed `accept`.
    pub(crate) fn accept_error(&self) {
        self.accept_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Records the handling time of one `POST /evaluate`.
    pub(crate) fn evaluate_duration(&self, elapsed: Duration) {
        self.latency.observe(elapsed);
    }

    /// Records the handling time of one gateway check.
    pub(crate) fn gateway_check_duration(&self, protocol: GatewayProtocol, elapsed: Duration) {
        let i = GatewayProtocol::ALL
            .iter()
            .position(|p| *p == protocol)
            .unwrap_or(0);
        if let Some(h) = self.gateway_latency.get(i) {
            h.observe(elapsed);
        }
    }

    /// The text exposition (format 0.0.4).
    pub(crate) fn render(
        &self,
        audit_events_written: u64,
        audit_sink_up: bool,
        policy: &PolicyIdentity,
        shadow: Option<&PolicyIdentity>,
    ) -> String {
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
        self.latency
            .render(&mut out, "policygate_evaluate_duration_seconds", "");
        out.push_str("# HELP policygate_gateway_check_duration_seconds Time to handle a gateway check, by protocol: http (/authz forward-auth) or grpc (Envoy ext_authz Check), from handler start to response (mapping, evaluation and audit write included).\n# TYPE policygate_gateway_check_duration_seconds histogram\n");
        for (protocol, h) in GatewayProtocol::ALL.iter().zip(&self.gateway_latency) {
            h.render(
                &mut out,
                "policygate_gateway_check_duration_seconds",
                &format!("protocol=\"{}\",", protocol.as_str()),
            );
        }

        let _ = writeln!(
            out,
            "# HELP policygate_evaluate_in_flight POST /evaluate calls being handled.\n# TYPE policygate_evaluate_in_flight gauge\npolicygate_evaluate_in_flight {}",
            self.in_flight.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP policygate_connections_open Client connections being served.\n# TYPE policygate_connections_open gauge\npolicygate_connections_open {}",
            self.connections_open.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP policygate_connections_refused_total Connections closed at once because --max-connections were open.\n# TYPE policygate_connections_refused_total counter\npolicygate_connections_refused_total {}",
            self.connections_refused.load(Ordering::Relaxed)
        );
        out.push_str("# HELP policygate_connections_timed_out_total Connections closed by a timeout, by what they waited for (header_read: a complete request head; idle: the next request).\n# TYPE policygate_connections_timed_out_total counter\n");
        for (wait, c) in [Wait::Head, Wait::Idle]
            .iter()
            .zip(&self.connections_timed_out)
        {
            let _ = writeln!(
                out,
                "policygate_connections_timed_out_total{{wait=\"{}\"}} {}",
                wait.as_str(),
                c.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP policygate_accept_errors_total Failed accept calls (e.g. out of file descriptors); each is logged at most once a second.\n# TYPE policygate_accept_errors_total counter\npolicygate_accept_errors_total {}",
            self.accept_errors.load(Ordering::Relaxed)
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
        out.push_str("# HELP policygate_policy_reloads_total Policy reload attempts (SIGHUP or file watcher), by outcome.\n# TYPE policygate_policy_reloads_total counter\n");
        for (outcome, c) in ReloadOutcome::ALL.iter().zip(&self.reloads) {
            let _ = writeln!(
                out,
                "policygate_policy_reloads_total{{outcome=\"{}\"}} {}",
                outcome.as_str(),
                c.load(Ordering::Relaxed)
            );
        }
        let ms = self.last_success_ms.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "# HELP policygate_policy_last_success_timestamp_seconds Unix time the active policy was loaded.\n# TYPE policygate_policy_last_success_timestamp_seconds gauge\npolicygate_policy_last_success_timestamp_seconds {}.{:03}",
            ms / 1000,
            ms % 1000
        );
        let _ = writeln!(
            out,
            "# HELP policygate_policy_info The active policy (always 1).\n# TYPE policygate_policy_info gauge\npolicygate_policy_info{{policy_id=\"{}\",policy_version=\"{}\",policy_sha256=\"{}\"}} 1",
            escape_label(&policy.policy_id),
            escape_label(&policy.policy_version),
            escape_label(&policy.policy_sha256),
        );
        if let Some(shadow) = shadow {
            out.push_str("# HELP policygate_shadow_decisions_total Decisions returned while a shadow policy decided beside the live one, by live and shadow decision (REFUSED: the shadow refused the request).\n# TYPE policygate_shadow_decisions_total counter\n");
            for (live, row) in DecisionKind::ALL.iter().zip(&self.shadow_pairs) {
                for (i, c) in row.iter().enumerate() {
                    let name = DecisionKind::ALL
                        .get(i)
                        .map_or_else(|| "REFUSED".to_owned(), ToString::to_string);
                    let _ = writeln!(
                        out,
                        "policygate_shadow_decisions_total{{live=\"{live}\",shadow=\"{name}\"}} {}",
                        c.load(Ordering::Relaxed)
                    );
                }
            }
            let _ = writeln!(
                out,
                "# HELP policygate_shadow_policy_info The shadow policy (always 1).\n# TYPE policygate_shadow_policy_info gauge\npolicygate_shadow_policy_info{{policy_id=\"{}\",policy_version=\"{}\",policy_sha256=\"{}\"}} 1",
                escape_label(&shadow.policy_id),
                escape_label(&shadow.policy_version),
                escape_label(&shadow.policy_sha256),
            );
        }
        out.push_str("# HELP policygate_shadow_reloads_total Shadow policy reload attempts, by outcome.\n# TYPE policygate_shadow_reloads_total counter\n");
        for (outcome, c) in ReloadOutcome::ALL.iter().zip(&self.shadow_reloads) {
            let _ = writeln!(
                out,
                "policygate_shadow_reloads_total{{outcome=\"{}\"}} {}",
                outcome.as_str(),
                c.load(Ordering::Relaxed)
            );
        }
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
        let m = Metrics::new();
        m.reload(ReloadOutcome::Rejected);
        m.decision(DecisionKind::Allow, Some("allow_public"));
        m.decision(DecisionKind::Allow, Some("allow_public"));
        m.decision(DecisionKind::Block, None);
        m.decision(DecisionKind::Degrade, Some("we\"ird\nrule"));
        m.rejected(ErrorCode::InvalidJson);
        m.evaluate_duration(Duration::from_micros(70));
        m.evaluate_duration(Duration::from_secs(10));
        m.gateway_check_duration(GatewayProtocol::Grpc, Duration::from_micros(300));
        let guard = m.in_flight();
        assert!(
            m.render(0, true, &identity(), None)
                .contains("\npolicygate_evaluate_in_flight 1\n")
        );
        drop(guard);
        m.shadow_pair(DecisionKind::Allow, None);
        m.shadow_pair(DecisionKind::Allow, Some(DecisionKind::Block));
        let text = m.render(7, true, &identity(), Some(&identity()));
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
            "policygate_gateway_check_duration_seconds_bucket{protocol=\"grpc\",le=\"0.00025\"} 0",
            "policygate_gateway_check_duration_seconds_bucket{protocol=\"grpc\",le=\"0.0005\"} 1",
            "policygate_gateway_check_duration_seconds_count{protocol=\"grpc\"} 1",
            "policygate_gateway_check_duration_seconds_count{protocol=\"http\"} 0",
            "policygate_audit_events_written_total 7",
            "policygate_audit_sink_up 1",
            "policygate_evaluate_in_flight 0",
            "policygate_policy_reloads_total{outcome=\"rejected\"} 1",
            "policygate_policy_reloads_total{outcome=\"applied\"} 0",
            "policygate_shadow_decisions_total{live=\"ALLOW\",shadow=\"REFUSED\"} 1",
            "policygate_shadow_decisions_total{live=\"ALLOW\",shadow=\"BLOCK\"} 1",
            "policygate_shadow_decisions_total{live=\"BLOCK\",shadow=\"ALLOW\"} 0",
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
