//! Bounded-rate auditing: how many events of one kind may be written per second, and
//! how many were left out.
//!
//! With auth on, a call to a decision endpoint without a valid bearer token is
//! refused (401) and audited, but only up to a configured rate: an anonymous client
//! must not be able to fill the audit trail or its disk, while the evidence of probing
//! is kept. The calls past the rate are still answered and counted in the metrics,
//! and their number goes into a periodic audit event of its own
//! (`policygate.audit.suppressed`, see `routes::audit_suppressed`). The same limiter
//! bounds the operational log lines of requests for no endpoint.
//!
//! The limit is a token bucket in its GCRA form (one "theoretical arrival time"
//! instead of a token count): `per_second` admissions per second on average and at
//! most `per_second` at once, computed in exact `Duration` steps. It reads the
//! runtime's monotonic clock ([`tokio::time::Instant`]), so tests drive it with
//! tokio's paused time.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// At most `per_second` admissions per second (and at most that many at once).
#[derive(Debug)]
pub(crate) struct RateLimit {
    per_second: u32,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// When the bucket is empty again if nothing more is admitted (`None`: full).
    tat: Option<Instant>,
    /// Refused since the last [`RateLimit::take_suppressed`].
    suppressed: u64,
    /// What the caller recorded at the first of them (a time, for the audit event).
    first: Option<String>,
}

impl RateLimit {
    /// A limit of `per_second` (0: nothing is admitted, everything is counted).
    pub(crate) fn new(per_second: u32) -> RateLimit {
        RateLimit {
            per_second,
            state: Mutex::new(State::default()),
        }
    }

    /// The configured rate.
    pub(crate) fn per_second(&self) -> u32 {
        self.per_second
    }

    /// Whether one more event may be written at `now`; when not, it is counted as
    /// suppressed (and `first` is called for the first one counted).
    pub(crate) fn admit(&self, now: Instant, first: impl FnOnce() -> String) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if self.per_second > 0 {
            let interval = Duration::from_secs(1) / self.per_second;
            // Admitted while the bucket holds at least one token: the theoretical
            // arrival time is at most one second (minus one interval) ahead of now.
            let tolerance = Duration::from_secs(1) - interval;
            let tat = state.tat.map_or(now, |tat| tat.max(now));
            if tat <= now + tolerance {
                state.tat = Some(tat + interval);
                return true;
            }
        }
        state.suppressed += 1;
        if state.first.is_none() {
            state.first = Some(first());
        }
        false
    }

    /// The events suppressed since the last call, with what was recorded at the first
    /// of them; `None` when there were none.
    pub(crate) fn take_suppressed(&self) -> Option<(u64, String)> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let count = std::mem::take(&mut state.suppressed);
        let first = state.first.take();
        first.filter(|_| count > 0).map(|first| (count, first))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admitted(limit: &RateLimit, now: Instant, calls: usize) -> usize {
        (0..calls)
            .filter(|_| limit.admit(now, || "t".to_owned()))
            .count()
    }

    #[test]
    fn admits_the_rate_per_second_and_counts_the_rest() {
        let limit = RateLimit::new(3);
        let t0 = Instant::now();
        // A burst: the bucket's three tokens, then nothing.
        assert_eq!(admitted(&limit, t0, 10), 3);
        assert_eq!(limit.take_suppressed(), Some((7, "t".to_owned())));
        assert_eq!(limit.take_suppressed(), None, "taken once");
        // A third of a second later, one token came back.
        assert_eq!(admitted(&limit, t0 + Duration::from_secs(1) / 3, 10), 1);
        // A long pause refills the bucket to three, never more.
        assert_eq!(admitted(&limit, t0 + Duration::from_secs(60), 10), 3);
        assert_eq!(limit.take_suppressed().map(|s| s.0), Some(16));
    }

    #[test]
    fn a_steady_stream_at_the_rate_is_all_admitted() {
        let limit = RateLimit::new(4);
        let t0 = Instant::now();
        let step = Duration::from_millis(250);
        let mut at = t0;
        for _ in 0..100 {
            assert!(limit.admit(at, String::new));
            at += step;
        }
        assert_eq!(limit.take_suppressed(), None);
    }

    #[test]
    fn a_zero_rate_admits_nothing_and_counts_everything() {
        let limit = RateLimit::new(0);
        assert_eq!(admitted(&limit, Instant::now(), 5), 0);
        assert_eq!(limit.take_suppressed().map(|s| s.0), Some(5));
    }
}
