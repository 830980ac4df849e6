//! What one trial left behind: its plan, its measured timing and its responses; and the seam
//! through which a session presents a trial ([`Presenter`]).

use cuelab_core::SessionTime;
use cuelab_protocol::PlannedTrial;

/// The measured timing of one presented clip, as the export writes it (columns
/// `scheduled_onset_ns` ... `flagged` of `cuelab_core::schema::TRIALS`).
#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    /// The planned flip of the clip's first frame.
    pub scheduled_onset: SessionTime,
    /// Measured audio onset (device time of the soundtrack's first sample); `None` without
    /// music.
    pub audio_onset: Option<SessionTime>,
    /// Measured video onset (flip of the first frame).
    pub video_onset: Option<SessionTime>,
    /// The protocol's audio − video offset, ms (what `av_offset_ms` should be).
    pub wanted_av_offset_ms: f64,
    /// Measured audio − video onset, ms (negative = audio first); `None` without music.
    pub av_offset_ms: Option<f64>,
    /// Distinct frames shown.
    pub frames_shown: u64,
    /// Frames skipped.
    pub frames_dropped: u64,
    /// Audio underruns while the clip played.
    pub xruns: u64,
    /// `true` when anything about the presentation was off; the reasons are in `flags`.
    pub flagged: bool,
    /// Human-readable reasons for `flagged` (empty when clean).
    pub flags: Vec<String>,
}

/// Presents one planned trial (its clip and soundtrack) and reports the measured timing.
///
/// The binary implements this over the playback crate (sound card and window in the lab; the
/// virtual audio device and virtual display for simulations and tests), so this crate stays
/// free of device code.
pub trait Presenter {
    /// Presents `trial`; `Ok(None)` when the trial has nothing to present (no clip).
    fn present(
        &mut self,
        trial: &PlannedTrial,
    ) -> Result<Option<Timing>, Box<dyn std::error::Error + Send + Sync>>;
}

/// One response given in a trial.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// Position of the procedure step that asked for it (from 0).
    pub step: u32,
    /// The step's kind: `time_estimate`, `rating`, ...
    pub kind: String,
    /// What was answered: a rating dimension (`valence`) or an estimate (`verbal_s`).
    pub item: String,
    /// The answer.
    pub value: f64,
}

/// Everything one trial produced.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialRecord {
    /// Participant label.
    pub participant: String,
    /// Session number (from 1).
    pub session: u32,
    /// The planned trial.
    pub trial: PlannedTrial,
    /// The clip's actual duration, seconds (what estimates are compared with).
    pub clip_duration_s: Option<f64>,
    /// Measured timing, when the trial was presented.
    pub timing: Option<Timing>,
    /// The responses, in procedure order.
    pub responses: Vec<Response>,
    /// The responses came from a simulated participant.
    pub simulated: bool,
}
