//! Session clocks: where "now" comes from.
//!
//! Everything in a session is timed on one clock, [`SessionTime`] nanoseconds since the session
//! started. Code that needs "now" takes a `&dyn Clock` (or a generic `C: Clock`) instead of
//! calling `Instant::now()` itself, so the same code runs on the real monotonic clock in the lab
//! (`cuelab_playback::clock::MonotonicClock`, which lives with the devices) and on a
//! [`VirtualClock`] in tests and simulations, where time only moves when something advances it
//! (faster than real time and deterministic).
//!
//! ```
//! use cuelab_core::SessionTime;
//! use cuelab_core::clock::{Clock, VirtualClock, WaitClock};
//!
//! let clock = VirtualClock::new();
//! let view = clock.clone(); // clones share the same time
//! clock.advance(SessionTime::from_millis(16));
//! assert_eq!(view.now(), SessionTime::from_millis(16));
//! // Waiting on a virtual clock takes no real time: it moves the clock.
//! assert_eq!(view.wait_until(SessionTime::from_millis(500)), SessionTime::from_millis(500));
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::SessionTime;

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

/// A clock a session can wait on: the virtual clock jumps, the real clock sleeps.
pub trait WaitClock: Clock {
    /// Returns at `t` or later, with the clock's now at that moment.
    fn wait_until(&self, t: SessionTime) -> SessionTime;

    /// `true` when waiting takes no real time (a virtual clock). Simulations use it to decide
    /// whether a simulated participant's response time must be slept through.
    fn is_virtual(&self) -> bool {
        false
    }
}

impl<C: WaitClock + ?Sized> WaitClock for Arc<C> {
    fn wait_until(&self, t: SessionTime) -> SessionTime {
        (**self).wait_until(t)
    }
    fn is_virtual(&self) -> bool {
        (**self).is_virtual()
    }
}

impl<C: WaitClock + ?Sized> WaitClock for &C {
    fn wait_until(&self, t: SessionTime) -> SessionTime {
        (**self).wait_until(t)
    }
    fn is_virtual(&self) -> bool {
        (**self).is_virtual()
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

impl WaitClock for VirtualClock {
    /// Moves the virtual clock to `t` (if it is not already later): waiting takes no real time.
    fn wait_until(&self, t: SessionTime) -> SessionTime {
        self.advance_to(t)
    }
    fn is_virtual(&self) -> bool {
        true
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
        assert!(clock.is_virtual());
    }
}
