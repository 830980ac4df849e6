//! Clock alignment: the session clock against `CLOCK_MONOTONIC` and against another program's
//! clock (liblsl's `lsl_local_clock`).
//!
//! Both mappings are measured the same way: read the session clock, read the other clock, read
//! the session clock again, and keep the round with the narrowest bracket. The other clock's
//! reading belongs to an instant inside the bracket, so half its width bounds the error.

use cuelab_core::SessionTime;
use cuelab_core::clock::Clock;
use rustix::time::{ClockId, clock_gettime};

/// Rounds per measurement: enough that one of them is not interrupted by the scheduler.
const ROUNDS: usize = 64;

/// `CLOCK_MONOTONIC` now, in nanoseconds.
pub fn monotonic_now_ns() -> u64 {
    let ts = clock_gettime(ClockId::Monotonic);
    // CLOCK_MONOTONIC counts from boot: never negative.
    u64::try_from(ts.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(ts.tv_nsec).unwrap_or(0)
}

/// `CLOCK_MONOTONIC` seconds now (what `lsl_local_clock` returns on Linux).
pub fn monotonic_now_s() -> f64 {
    monotonic_now_ns() as f64 / 1e9
}

/// How a session clock maps onto another clock counted in seconds:
/// `other = session_seconds + offset_s`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClockMapping {
    /// The other clock's reading at session time zero, in seconds.
    pub offset_s: f64,
    /// Half the narrowest bracket: the mapping is exact to within this, in seconds.
    pub uncertainty_s: f64,
}

impl ClockMapping {
    /// Measures the mapping of `session` onto `other` (see the module doc).
    pub fn measure(session: &dyn Clock, other: &dyn Fn() -> f64) -> ClockMapping {
        let mut best = ClockMapping {
            offset_s: 0.0,
            uncertainty_s: f64::INFINITY,
        };
        for _ in 0..ROUNDS {
            let s0 = session.now();
            let o = other();
            let s1 = session.now();
            let half = seconds(s1 - s0) / 2.0;
            if half < best.uncertainty_s {
                best = ClockMapping {
                    offset_s: o - (seconds(s0) + half),
                    uncertainty_s: half,
                };
            }
        }
        best
    }

    /// The other clock's reading at session time `t`.
    pub fn map(&self, t: SessionTime) -> f64 {
        seconds(t) + self.offset_s
    }
}

/// Session time in seconds.
pub fn seconds(t: SessionTime) -> f64 {
    t.as_nanos() as f64 / 1e9
}

/// The `CLOCK_MONOTONIC` nanoseconds of session time zero of `session`, a clock that runs on
/// `CLOCK_MONOTONIC` (as `cuelab_playback::clock::MonotonicClock` does: Rust's `Instant` is
/// `CLOCK_MONOTONIC` on Linux). This is what the journal's `session_start.monotonic_ns` holds.
pub fn monotonic_origin_ns(session: &dyn Clock) -> u64 {
    let mut best = (u64::MAX, 0u64);
    for _ in 0..ROUNDS {
        let m0 = monotonic_now_ns();
        let s = session.now();
        let m1 = monotonic_now_ns();
        let width = m1 - m0;
        if width < best.0 {
            let mid = m0 + width / 2;
            best = (width, mid.saturating_add_signed(-s.as_nanos()));
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// A session clock on `Instant`, as playback's `MonotonicClock`.
    struct InstantClock(Instant);

    impl Clock for InstantClock {
        fn now(&self) -> SessionTime {
            SessionTime::from_nanos(self.0.elapsed().as_nanos() as i64)
        }
    }

    #[test]
    fn instant_and_clock_monotonic_agree_to_within_microseconds() {
        let before = monotonic_now_ns();
        let clock = InstantClock(Instant::now());
        let after = monotonic_now_ns();
        let origin = monotonic_origin_ns(&clock);
        // The origin lies between the two readings taken around it.
        assert!(
            origin + 20_000 >= before && origin <= after + 20_000,
            "{before} {origin} {after}"
        );
    }

    #[test]
    fn a_mapping_onto_clock_monotonic_recovers_the_origin() {
        let clock = InstantClock(Instant::now());
        let mapping = ClockMapping::measure(&clock, &monotonic_now_s);
        let origin = monotonic_origin_ns(&clock) as f64 / 1e9;
        assert!(mapping.uncertainty_s < 1e-3, "{mapping:?}");
        assert!(
            (mapping.offset_s - origin).abs() < 1e-4,
            "{mapping:?} vs {origin}"
        );
        let t = SessionTime::from_millis(1500);
        assert!((mapping.map(t) - (origin + 1.5)).abs() < 1e-4);
    }
}
