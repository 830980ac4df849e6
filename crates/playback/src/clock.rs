//! Session clocks: where "now" comes from. The [`Clock`] trait and [`VirtualClock`] live in
//! `cuelab_core` (re-exported here); the real [`MonotonicClock`] lives here, with the devices.
//!
//! Everything in a session is timed on one clock, [`SessionTime`] nanoseconds since the session
//! started. Code that needs "now" takes a `&dyn Clock` (or a generic `C: Clock`) instead of
//! calling [`std::time::Instant::now`] itself, so the same code runs on the real monotonic clock
//! in the lab and on a [`VirtualClock`] in tests and simulations, where time only moves when the
//! test advances it (faster than real time and deterministic).
//!
//! ```
//! use cuelab_core::SessionTime;
//! use cuelab_playback::clock::{Clock, VirtualClock};
//!
//! let clock = VirtualClock::new();
//! let view = clock.clone(); // clones share the same time
//! clock.advance(SessionTime::from_millis(16));
//! assert_eq!(view.now(), SessionTime::from_millis(16));
//! ```

use std::time::Instant;

use cuelab_core::SessionTime;
pub use cuelab_core::clock::{Clock, VirtualClock, WaitClock};

/// The real clock: the OS monotonic clock (`CLOCK_MONOTONIC` on Linux), counted from the instant
/// the session started.
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock {
    origin: Instant,
}

impl MonotonicClock {
    /// A clock whose session time zero is now.
    pub fn start_now() -> Self {
        Self {
            origin: Instant::now(),
        }
    }

    /// A clock whose session time zero is `origin`.
    pub fn with_origin(origin: Instant) -> Self {
        Self { origin }
    }

    /// The instant that is session time zero.
    pub fn origin(&self) -> Instant {
        self.origin
    }

    /// The session time of an `Instant` (negative if it is before the origin).
    pub fn session_time_of(&self, instant: Instant) -> SessionTime {
        match instant.checked_duration_since(self.origin) {
            Some(d) => SessionTime(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)),
            None => {
                let d = self.origin.duration_since(instant);
                SessionTime(-i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
            }
        }
    }
}

impl Clock for MonotonicClock {
    fn now(&self) -> SessionTime {
        self.session_time_of(Instant::now())
    }
}

impl WaitClock for MonotonicClock {
    /// Sleeps until 1 ms before `t`, then yields until `t` (sleep alone overshoots by up to a
    /// scheduler tick).
    fn wait_until(&self, t: SessionTime) -> SessionTime {
        loop {
            let now = self.now();
            if now >= t {
                return now;
            }
            let left = (t - now).as_nanos();
            if left > 2_000_000 {
                std::thread::sleep(std::time::Duration::from_nanos((left - 1_000_000) as u64));
            } else {
                std::thread::yield_now();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_clock_maps_instants_both_sides_of_origin() {
        let origin = Instant::now();
        let clock = MonotonicClock::with_origin(origin);
        let later = origin + std::time::Duration::from_micros(1500);
        assert_eq!(clock.session_time_of(later), SessionTime::from_micros(1500));
        if let Some(earlier) = origin.checked_sub(std::time::Duration::from_millis(2)) {
            assert_eq!(clock.session_time_of(earlier), SessionTime::from_millis(-2));
        }
        let a = clock.now();
        let b = clock.now();
        assert!(b >= a);
    }
}
