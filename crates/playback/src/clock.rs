//! Session clocks: where "now" comes from.
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

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use cuelab_core::SessionTime;

/// A source of session time. Implementations are monotonic: `now` never goes backwards.
///
/// `now` must be cheap and must not allocate, lock or block: the audio callback may call it.
pub trait Clock: Send + Sync {
    /// The current instant on the session clock.
    fn now(&self) -> SessionTime;
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> SessionTime {
        (**self).now()
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> SessionTime {
        (**self).now()
    }
}

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

/// A clock that moves only when told to. Clones share the same time, so a test can keep one
/// handle to advance while the code under test reads another.
#[derive(Debug, Clone, Default)]
pub struct VirtualClock {
    ns: Arc<AtomicI64>,
}

impl VirtualClock {
    /// A virtual clock at session time zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// A virtual clock at `t`.
    pub fn starting_at(t: SessionTime) -> Self {
        Self {
            ns: Arc::new(AtomicI64::new(t.as_nanos())),
        }
    }

    /// Moves the clock forward by `d` (a negative `d` is ignored: the clock never goes back) and
    /// returns the new time.
    pub fn advance(&self, d: SessionTime) -> SessionTime {
        let step = d.as_nanos().max(0);
        SessionTime(self.ns.fetch_add(step, Ordering::AcqRel) + step)
    }

    /// Moves the clock forward to `t` if `t` is later than now; returns the new time.
    pub fn advance_to(&self, t: SessionTime) -> SessionTime {
        let prev = self.ns.fetch_max(t.as_nanos(), Ordering::AcqRel);
        SessionTime(prev.max(t.as_nanos()))
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> SessionTime {
        SessionTime(self.ns.load(Ordering::Acquire))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_clock_moves_only_forward_and_clones_share_time() {
        let clock = VirtualClock::new();
        let other = clock.clone();
        assert_eq!(clock.advance(SessionTime(10)), SessionTime(10));
        assert_eq!(other.now(), SessionTime(10));
        assert_eq!(clock.advance(SessionTime(-5)), SessionTime(10));
        assert_eq!(clock.advance_to(SessionTime(3)), SessionTime(10));
        assert_eq!(other.advance_to(SessionTime(25)), SessionTime(25));
        assert_eq!(clock.now(), SessionTime(25));
    }

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
