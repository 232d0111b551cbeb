//! The audit trail's clock: when an event occurred (`occurred_at`) and how long
//! deciding took (`latency_ms`). It is injected into the sink so that tests can fix
//! both and pin audit lines byte for byte, and so that everything the trail reads from
//! time goes through one place (a hash chain or file rotation will read it too).
//!
//! Request deadlines and the duration metrics are not the audit trail's business and
//! keep using the runtime's clock.

use std::fmt;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// Where audit events read the time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time, in UTC.
    fn now(&self) -> OffsetDateTime;
    /// The time elapsed since `start`, an instant this process took.
    fn elapsed(&self, start: Instant) -> Duration;
}

/// The system's clocks: wall time for `occurred_at`, the monotonic clock for latency.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
    fn elapsed(&self, start: Instant) -> Duration {
        start.elapsed()
    }
}

/// A clock that always reads the same time and always measures the same duration.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock {
    now: OffsetDateTime,
    elapsed: Duration,
}

impl FixedClock {
    /// Reads `now` (converted to UTC) and measures every duration as `elapsed`.
    pub fn new(now: OffsetDateTime, elapsed: Duration) -> FixedClock {
        FixedClock {
            now: now.to_offset(time::UtcOffset::UTC),
            elapsed,
        }
    }
}

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        self.now
    }
    fn elapsed(&self, _start: Instant) -> Duration {
        self.elapsed
    }
}

/// `occurred_at`: RFC 3339 UTC with microseconds, `2026-11-25T09:38:13.220122Z`.
pub(crate) fn occurred_at(clock: &dyn Clock) -> String {
    let t = clock.now();
    // Written digit by digit (`format!` with seven arguments was a measurable share of
    // an audit event's cost on the request path).
    let mut out = [0u8; 27];
    let mut at = 0;
    let mut put = |value: u32, width: usize, then: u8| {
        let mut v = value;
        for i in (0..width).rev() {
            out[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        at += width;
        if then != 0 {
            out[at] = then;
            at += 1;
        }
    };
    // Years before 0 or after 9999 cannot come from the system clock; clamped so the
    // form stays RFC 3339.
    put(t.year().clamp(0, 9999).unsigned_abs(), 4, b'-');
    put(u32::from(u8::from(t.month())), 2, b'-');
    put(u32::from(t.day()), 2, b'T');
    put(u32::from(t.hour()), 2, b':');
    put(u32::from(t.minute()), 2, b':');
    put(u32::from(t.second()), 2, b'.');
    put(t.microsecond(), 6, b'Z');
    out.iter().map(|b| char::from(*b)).collect()
}

/// `latency_ms`: milliseconds since `start`, with the clock's resolution.
pub(crate) fn latency_ms(clock: &dyn Clock, start: Instant) -> f64 {
    clock.elapsed(start).as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_microseconds_and_utc() {
        let t = occurred_at(&SystemClock);
        assert_eq!(t.len(), "2026-11-25T09:38:13.220122Z".len(), "{t}");
        assert!(t.ends_with('Z'));
        assert!(
            time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339).is_ok()
        );
    }

    /// The digit-by-digit form is `format!`'s, at the edges of every field.
    #[test]
    fn timestamps_are_written_as_format_writes_them() {
        for nanos in [
            0_i128,
            1_000,
            999_999_000,
            951_782_400_000_000_000,     // 2000-02-29 (a leap day)
            1_795_599_493_220_122_000,   // 2026-11-25T09:38:13.220122
            253_402_300_799_999_999_000, // 9999-12-31T23:59:59.999999
        ] {
            let at = OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap();
            let expected = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
                at.year(),
                u8::from(at.month()),
                at.day(),
                at.hour(),
                at.minute(),
                at.second(),
                at.microsecond()
            );
            let clock = FixedClock::new(at, Duration::ZERO);
            assert_eq!(occurred_at(&clock), expected);
        }
    }

    #[test]
    fn a_fixed_clock_reads_its_time_in_utc() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_795_599_493_220_122_000)
            .unwrap()
            .to_offset(time::UtcOffset::from_hms(1, 0, 0).unwrap());
        let clock = FixedClock::new(at, Duration::from_micros(125));
        assert_eq!(occurred_at(&clock), "2026-11-25T09:38:13.220122Z");
        assert_eq!(latency_ms(&clock, Instant::now()), 0.125);
    }
}
