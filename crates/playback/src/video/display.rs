//! Displays: where frames are shown, and when they became visible.

use cuelab_core::SessionTime;

use super::{VideoError, VideoFrame};
use crate::clock::{VirtualClock, WaitClock};

/// A screen that refreshes at a fixed rate. The participant window (ui crate) implements it for
/// a real monitor; [`VirtualDisplay`] implements it on a [`VirtualClock`] for tests and
/// simulations, running the same presentation code headless.
pub trait Display {
    /// The nominal time between refreshes.
    fn refresh_period(&self) -> SessionTime;

    /// The session clock this display's flip times are on.
    fn now(&self) -> SessionTime;

    /// The predicted flip time of the first refresh at or after `t`.
    fn refresh_at_or_after(&self, t: SessionTime) -> SessionTime;

    /// The predicted flip time of the next [`Display::present`] if it were called now.
    fn next_flip(&self) -> SessionTime;

    /// Shows `frame` at the next refresh (`None`: keep what is on screen), blocking until it is
    /// visible, and returns the flip time: the session instant it became visible.
    fn present(&mut self, frame: Option<&VideoFrame>) -> Result<SessionTime, VideoError>;

    /// Waits until `t` on the session clock. The presentation loop uses it for at most a couple
    /// of milliseconds after a flip, to tell of an audio onset that falls just after it at the
    /// onset rather than a refresh later. The default yields until [`Display::now`] reaches
    /// `t`; a display on a virtual clock must move its clock instead.
    fn wait_until(&mut self, t: SessionTime) {
        while self.now() < t {
            std::thread::yield_now();
        }
    }
}

/// A display with no screen: refreshes happen at `phase + k * period` on the session clock,
/// and presenting a frame waits for the next refresh and returns its instant as the flip time.
/// Refresh instants are computed from the refresh count (not by adding a rounded period), so a
/// 60 Hz virtual display does not drift from 60 Hz over a session.
///
/// On a [`VirtualClock`] (the default) waiting moves the clock, so tests and simulations run
/// faster than real time. On the [`MonotonicClock`] it paces a real-time session with no window
/// (`--display headless`); a wake-up later than half a refresh counts as a missed refresh, and
/// the flip lands on the next one, as a real monitor's would.
#[derive(Debug, Clone)]
pub struct VirtualDisplay<C: WaitClock = VirtualClock> {
    clock: C,
    hz_num: i64,
    hz_den: i64,
    phase: SessionTime,
    last_flip: Option<SessionTime>,
    presented: u64,
    last_frame: Option<u64>,
    miss_every: Option<u64>,
}

impl<C: WaitClock> VirtualDisplay<C> {
    /// A display refreshing `hz` times a second, first refresh at session time zero.
    pub fn new(clock: C, hz: u32) -> Self {
        Self::with_rate(clock, i64::from(hz.max(1)), 1, SessionTime::ZERO)
    }

    /// A display refreshing `hz_num / hz_den` times a second (e.g. 60000/1001), with refreshes
    /// at `phase + k / rate`.
    pub fn with_rate(clock: C, hz_num: i64, hz_den: i64, phase: SessionTime) -> Self {
        Self {
            clock,
            hz_num: hz_num.max(1),
            hz_den: hz_den.max(1),
            phase,
            last_flip: None,
            presented: 0,
            last_frame: None,
            miss_every: None,
        }
    }

    /// The refresh instant number `k` (rounded down to the nanosecond).
    fn refresh(&self, k: i64) -> SessionTime {
        let ns = i128::from(k) * i128::from(self.hz_den) * 1_000_000_000 / i128::from(self.hz_num);
        self.phase + SessionTime(ns as i64)
    }

    /// The number of the first refresh at or after `t`.
    fn refresh_index_at_or_after(&self, t: SessionTime) -> i64 {
        let rel = i128::from((t - self.phase).as_nanos());
        let per = i128::from(self.hz_den) * 1_000_000_000;
        // Ceiling of rel * hz_num / per, then nudged for the rounding of `refresh`.
        let mut k = (rel * i128::from(self.hz_num)).div_euclid(per) as i64;
        while self.refresh(k) < t {
            k += 1;
        }
        while k > i64::MIN && self.refresh(k - 1) >= t {
            k -= 1;
        }
        k
    }

    /// Simulates a renderer that misses its deadline: every `n`th present (the `n`th, `2n`th,
    /// ...) becomes visible one refresh later than predicted. `None` (the default) never misses.
    pub fn miss_every(&mut self, n: Option<u64>) {
        self.miss_every = n.filter(|&n| n > 0);
    }

    /// Number of `present` calls so far.
    pub fn presented(&self) -> u64 {
        self.presented
    }

    /// Index of the frame shown by the last `present` that showed one.
    pub fn last_frame(&self) -> Option<u64> {
        self.last_frame
    }
}

impl<C: WaitClock> Display for VirtualDisplay<C> {
    fn refresh_period(&self) -> SessionTime {
        SessionTime(self.hz_den * 1_000_000_000 / self.hz_num)
    }

    fn now(&self) -> SessionTime {
        self.clock.now()
    }

    fn refresh_at_or_after(&self, t: SessionTime) -> SessionTime {
        self.refresh(self.refresh_index_at_or_after(t))
    }

    fn next_flip(&self) -> SessionTime {
        // One flip per refresh: never the same refresh twice.
        let earliest = match self.last_flip {
            Some(last) => self.clock.now().max(last + SessionTime(1)),
            None => self.clock.now(),
        };
        self.refresh_at_or_after(earliest)
    }

    fn wait_until(&mut self, t: SessionTime) {
        self.clock.wait_until(t);
    }

    fn present(&mut self, frame: Option<&VideoFrame>) -> Result<SessionTime, VideoError> {
        let mut flip = self.next_flip();
        if self
            .miss_every
            .is_some_and(|n| (self.presented + 1).is_multiple_of(n))
        {
            flip = self.refresh_at_or_after(flip + SessionTime(1));
        }
        let woke = self.clock.wait_until(flip);
        if (woke - flip).as_nanos() > self.refresh_period().as_nanos() / 2 {
            flip = self.refresh_at_or_after(woke);
            self.clock.wait_until(flip);
        }
        self.last_flip = Some(flip);
        self.presented += 1;
        if let Some(frame) = frame {
            self.last_frame = Some(frame.index());
        }
        Ok(flip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, MonotonicClock};

    #[test]
    fn virtual_60hz_flips_on_exact_refresh_instants_without_drift() {
        let clock = VirtualClock::new();
        let mut display = VirtualDisplay::new(clock.clone(), 60);
        assert_eq!(display.refresh_period(), SessionTime(16_666_666));
        let flips: Vec<SessionTime> = (0..=600).map(|_| display.present(None).unwrap()).collect();
        assert_eq!(flips[0], SessionTime::ZERO);
        assert_eq!(flips[1], SessionTime(16_666_666));
        assert_eq!(flips[3], SessionTime::from_millis(50));
        // After 600 refreshes the display is at exactly 10 s, not 600 rounded periods.
        assert_eq!(flips[600], SessionTime::from_millis(10_000));
        assert_eq!(clock.now(), SessionTime::from_millis(10_000));
    }

    #[test]
    fn next_flip_waits_for_the_next_refresh_after_now() {
        let clock = VirtualClock::new();
        let mut display = VirtualDisplay::new(clock.clone(), 60);
        clock.advance(SessionTime::from_millis(20));
        assert_eq!(display.next_flip(), SessionTime(33_333_333));
        assert_eq!(display.present(None).unwrap(), SessionTime(33_333_333));
        // Presenting again goes to the following refresh, even though no time passed.
        assert_eq!(display.present(None).unwrap(), SessionTime::from_millis(50));
        assert_eq!(
            display.refresh_at_or_after(SessionTime::from_millis(50)),
            SessionTime::from_millis(50)
        );
        assert_eq!(
            display.refresh_at_or_after(SessionTime(50_000_001)),
            SessionTime(66_666_666)
        );
    }

    #[test]
    fn a_missed_deadline_shows_one_refresh_late() {
        let clock = VirtualClock::new();
        let mut display = VirtualDisplay::new(clock, 50);
        display.miss_every(Some(3));
        let flips: Vec<i64> = (0..6)
            .map(|_| display.present(None).unwrap().as_nanos() / 1_000_000)
            .collect();
        assert_eq!(flips, vec![0, 20, 60, 80, 100, 140]);
    }

    #[test]
    fn on_the_real_clock_flips_are_paced_in_real_time() {
        let clock = MonotonicClock::start_now();
        let mut display = VirtualDisplay::new(clock, 100);
        let first = display.present(None).unwrap();
        let mut last = first;
        for _ in 0..5 {
            let flip = display.present(None).unwrap();
            // Whole refreshes apart (more than one only if this thread woke late).
            assert_eq!((flip - last).as_nanos() % 10_000_000, 0);
            assert!(flip > last);
            last = flip;
        }
        // The clock really reached the last flip: time passed.
        assert!(clock.now() >= last);
    }

    #[test]
    fn ntsc_rate_and_phase() {
        let clock = VirtualClock::starting_at(SessionTime::from_millis(5));
        let display = VirtualDisplay::with_rate(clock, 60_000, 1001, SessionTime::from_millis(3));
        assert_eq!(display.next_flip(), SessionTime(3_000_000 + 16_683_333));
        assert_eq!(display.refresh_period(), SessionTime(16_683_333));
    }
}
