//! The trial-timing record: what was measured when one clip was presented, and why a trial is
//! not clean. One record for the whole workspace: the playback crate fills it, the session
//! journals it, the export writes it (columns in [`crate::schema`]).

use std::fmt;

use crate::SessionTime;

/// Why a trial's timing is not clean.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TimingFlag {
    /// The measured audio − video offset missed the protocol's by more than the allowed error.
    AvOffset {
        /// Measured audio − video, ms.
        measured_ms: f64,
        /// The protocol's audio − video, ms.
        wanted_ms: f64,
    },
    /// Frames were skipped.
    DroppedFrames(u64),
    /// The audio device under-ran while the clip played.
    Xruns(u64),
    /// The audio engine never reported the soundtrack's onset.
    NoAudioOnset,
    /// No frame of the clip was shown.
    NoVideo,
    /// The first frame was not shown on the planned refresh.
    FirstFlipMissed {
        /// Actual first flip − planned first flip, ms.
        late_by_ms: f64,
    },
    /// Refreshes became visible later than predicted (missed vsync).
    LateFlips(u64),
    /// The presentation failed part-way; the message says how.
    Failed(String),
    /// The experimenter marked the trial bad; the note says why.
    MarkedBad(String),
}

impl fmt::Display for TimingFlag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimingFlag::AvOffset {
                measured_ms,
                wanted_ms,
            } => write!(
                f,
                "audio-video offset {measured_ms:.3} ms, protocol asks {wanted_ms:.3} ms"
            ),
            TimingFlag::DroppedFrames(n) => write!(f, "{n} frame(s) dropped"),
            TimingFlag::Xruns(n) => write!(f, "{n} audio xrun(s)"),
            TimingFlag::NoAudioOnset => write!(f, "no measured audio onset"),
            TimingFlag::NoVideo => write!(f, "no video frame shown"),
            TimingFlag::FirstFlipMissed { late_by_ms } => {
                write!(
                    f,
                    "first frame {late_by_ms:.3} ms after its planned refresh"
                )
            }
            TimingFlag::LateFlips(n) => write!(f, "{n} refresh(es) later than predicted"),
            TimingFlag::Failed(msg) => write!(f, "presentation failed: {msg}"),
            TimingFlag::MarkedBad(note) => write!(f, "marked bad by the experimenter: {note}"),
        }
    }
}

/// The timing record of one clip presentation (one trial). Column names in
/// [`crate::schema`] (`scheduled_onset_ns`, `audio_onset_ns`, ...).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TrialTiming {
    /// The planned flip of the clip's first frame.
    pub scheduled_onset: SessionTime,
    /// The instant the soundtrack was asked to start: `scheduled_onset + av_offset`.
    pub scheduled_audio_onset: Option<SessionTime>,
    /// Measured audio onset (device timestamp of the first sample), from the engine.
    pub audio_onset: Option<SessionTime>,
    /// Measured video onset: the flip time of the first frame shown.
    pub video_onset: Option<SessionTime>,
    /// The protocol's audio − video offset, ms.
    pub wanted_av_offset_ms: f64,
    /// Measured audio − video onset, ms (negative = audio first).
    pub av_offset_ms: Option<f64>,
    /// Distinct frames shown.
    pub frames_shown: u64,
    /// Frames skipped.
    pub frames_dropped: u64,
    /// Refreshes that showed the previous frame again (expected when the clip's rate is below
    /// the refresh rate).
    pub frames_repeated: u64,
    /// Refreshes that became visible later than predicted.
    pub late_flips: u64,
    /// Audio xruns while the clip played.
    pub xruns: u64,
    /// The flip at which the clip ended (its last frame was taken off screen), or the end of
    /// the sound for a clip-less trial.
    pub video_offset: Option<SessionTime>,
    /// Standard deviation of the intervals between the clip's flips, ms (`None` with fewer than
    /// three flips).
    pub frame_interval_sd_ms: Option<f64>,
    /// The longest interval between two of the clip's flips, ms.
    pub frame_interval_max_ms: Option<f64>,
    /// `true` when anything is off; the reasons are in `flags`.
    pub flagged: bool,
    /// Why the trial is flagged (empty when clean).
    pub flags: Vec<TimingFlag>,
}

impl TrialTiming {
    /// How long the presentation lasted as measured: from the first of the two onsets to the
    /// end of the clip (or sound).
    pub fn measured_duration(&self) -> Option<SessionTime> {
        let start = match (self.video_onset, self.audio_onset) {
            (Some(v), _) => v,
            (None, Some(a)) => a,
            (None, None) => return None,
        };
        self.video_offset.map(|end| end - start)
    }

    /// Adds a flag and marks the trial flagged.
    pub fn flag(&mut self, flag: TimingFlag) {
        self.flags.push(flag);
        self.flagged = true;
    }
}

/// Running statistics of flip intervals (Welford), for [`TrialTiming::frame_interval_sd_ms`].
#[derive(Debug, Clone, Copy, Default)]
pub struct IntervalStats {
    last: Option<SessionTime>,
    n: u64,
    mean: f64,
    m2: f64,
    max: f64,
}

impl IntervalStats {
    /// Records one flip.
    pub fn flip(&mut self, at: SessionTime) {
        if let Some(prev) = self.last {
            let x = (at - prev).as_millis_f64();
            self.n += 1;
            let d = x - self.mean;
            self.mean += d / self.n as f64;
            self.m2 += d * (x - self.mean);
            self.max = self.max.max(x);
        }
        self.last = Some(at);
    }

    /// Sample SD of the intervals, ms (`None` with fewer than two intervals).
    pub fn sd_ms(&self) -> Option<f64> {
        (self.n >= 2).then(|| (self.m2 / (self.n - 1) as f64).sqrt())
    }

    /// Mean interval, ms.
    pub fn mean_ms(&self) -> Option<f64> {
        (self.n >= 1).then_some(self.mean)
    }

    /// Longest interval, ms.
    pub fn max_ms(&self) -> Option<f64> {
        (self.n >= 1).then_some(self.max)
    }

    /// Number of intervals.
    pub fn count(&self) -> u64 {
        self.n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_stats_match_a_direct_computation() {
        let flips = [0i64, 16_666_667, 33_333_333, 50_000_000, 83_333_333];
        let mut s = IntervalStats::default();
        for f in flips {
            s.flip(SessionTime(f));
        }
        let iv: Vec<f64> = flips
            .windows(2)
            .map(|w| (w[1] - w[0]) as f64 / 1e6)
            .collect();
        let mean = iv.iter().sum::<f64>() / iv.len() as f64;
        let var = iv.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (iv.len() - 1) as f64;
        assert!((s.mean_ms().unwrap() - mean).abs() < 1e-12);
        assert!((s.sd_ms().unwrap() - var.sqrt()).abs() < 1e-12);
        assert!((s.max_ms().unwrap() - 33.333333).abs() < 1e-9);
        assert_eq!(s.count(), 4);
    }

    #[test]
    fn measured_duration_runs_from_the_first_onset_to_the_offset() {
        let t = TrialTiming {
            video_onset: Some(SessionTime::from_millis(100)),
            video_offset: Some(SessionTime::from_millis(5100)),
            ..TrialTiming::default()
        };
        assert_eq!(t.measured_duration(), Some(SessionTime::from_millis(5000)));
    }
}
