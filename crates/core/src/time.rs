//! Time units. The session clock counts monotonic nanoseconds since the session started.

use serde::{Deserialize, Serialize};

/// An instant on the session clock: nanoseconds since the session started (may be negative for
/// instants before the start, e.g. a device timestamp mapped backwards).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct SessionTime(pub i64);

impl SessionTime {
    pub const ZERO: SessionTime = SessionTime(0);

    pub const fn from_nanos(ns: i64) -> Self {
        SessionTime(ns)
    }

    pub const fn from_micros(us: i64) -> Self {
        SessionTime(us * 1_000)
    }

    pub const fn from_millis(ms: i64) -> Self {
        SessionTime(ms * 1_000_000)
    }

    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// Milliseconds as a float, for reports and exports only.
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }

    /// The frame at or after this instant, counting from session time zero at `rate` Hz.
    /// Rounds up so that a start "at" an instant never begins before it.
    pub fn to_frames(self, rate: u32) -> Frames {
        let num = self.0 as i128 * rate as i128;
        let den = 1_000_000_000i128;
        let q = num.div_euclid(den) + i128::from(num.rem_euclid(den) != 0);
        Frames(q as i64)
    }

    pub fn saturating_add(self, other: SessionTime) -> SessionTime {
        SessionTime(self.0.saturating_add(other.0))
    }
}

impl std::ops::Add for SessionTime {
    type Output = SessionTime;
    fn add(self, rhs: SessionTime) -> SessionTime {
        SessionTime(self.0 + rhs.0)
    }
}

impl std::ops::Sub for SessionTime {
    type Output = SessionTime;
    fn sub(self, rhs: SessionTime) -> SessionTime {
        SessionTime(self.0 - rhs.0)
    }
}

/// A count of sample frames (one sample per channel) at some sample rate.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Frames(pub i64);

impl Frames {
    /// The session instant of this frame at `rate` Hz, rounded down to the nanosecond.
    /// Rounding down here and up in [`SessionTime::to_frames`] makes the two exact inverses.
    pub fn to_session_time(self, rate: u32) -> SessionTime {
        let num = self.0 as i128 * 1_000_000_000i128;
        SessionTime(num.div_euclid(rate as i128) as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_round_trip_is_exact_at_common_rates() {
        for rate in [44_100u32, 48_000, 96_000] {
            for f in [0i64, 1, 441, 47_999, 1_234_567, -5] {
                let t = Frames(f).to_session_time(rate);
                assert_eq!(t.to_frames(rate), Frames(f), "rate {rate} frame {f}");
            }
        }
    }

    #[test]
    fn to_frames_rounds_up_between_samples() {
        // 1 ns after frame 0 at 48 kHz is still before frame 1, so the next frame is 1.
        assert_eq!(SessionTime(1).to_frames(48_000), Frames(1));
        assert_eq!(SessionTime(0).to_frames(48_000), Frames(0));
        assert_eq!(SessionTime(-1).to_frames(48_000), Frames(0));
    }

    #[test]
    fn serializes_as_plain_integer() {
        let s = serde_json::to_string(&SessionTime(42)).unwrap();
        assert_eq!(s, "42");
    }
}
