//! The seam between the runner and whatever shows a clip: [`Presenter`].
//!
//! The session runner asks a presenter to present one clip (and its soundtrack) and gets the
//! measured [`TrialTiming`] back, and is told of each onset the moment it has happened
//! ([`Onset`]), so markers and hardware triggers go out at the onset rather than when the clip
//! has ended. The playback crate's rigs implement it: a virtual rig (virtual
//! audio device and virtual display, for simulations and tests) and a device rig (the sound card
//! and the participant window). A presentation error says whether the session can go on with the
//! trial flagged ([`PresentErrorKind::Flag`]) or must stop, resumably ([`PresentErrorKind::Stop`]).

use std::fmt;

use crate::SessionTime;
use crate::timing::TrialTiming;

/// What to present: a plain description, independent of protocol syntax.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClipRequest {
    /// The trial's index in its plan (from 1), for messages and markers.
    pub trial_index: u32,
    /// The clip id (`None`: music only, with a blank screen).
    pub clip: Option<String>,
    /// The soundtrack id (`None`: silence).
    pub soundtrack: Option<String>,
    /// The protocol's audio − video offset, ms (positive: the music starts after the first
    /// frame).
    pub av_offset_ms: f64,
}

/// What went wrong while presenting, and whether to go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PresentErrorKind {
    /// Record the trial as flagged (no usable timing) and go on with the next.
    Flag,
    /// Stop the session; it can be resumed (the device or window is gone).
    Stop,
}

/// A presentation that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentError {
    /// Whether the session goes on.
    pub kind: PresentErrorKind,
    /// What happened, in words.
    pub message: String,
}

impl PresentError {
    /// A failure that flags the trial.
    pub fn flag(message: impl Into<String>) -> Self {
        Self {
            kind: PresentErrorKind::Flag,
            message: message.into(),
        }
    }

    /// A failure that stops the session.
    pub fn stop(message: impl Into<String>) -> Self {
        Self {
            kind: PresentErrorKind::Stop,
            message: message.into(),
        }
    }
}

impl fmt::Display for PresentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PresentError {}

/// An onset measured during a presentation, on the session clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Onset {
    /// The soundtrack's first sample (calibrated, as in [`TrialTiming::audio_onset`]).
    Audio(SessionTime),
    /// The flip that showed the clip's first frame ([`TrialTiming::video_onset`]).
    Video(SessionTime),
}

impl Onset {
    /// When it happened.
    pub fn at(self) -> SessionTime {
        match self {
            Onset::Audio(t) | Onset::Video(t) => t,
        }
    }
}

/// Presents clips and measures them.
pub trait Presenter {
    /// Presents one clip with its soundtrack and returns the measured timing. Blocks until the
    /// clip has ended (on a virtual clock, moves the clock to its end).
    ///
    /// `onsets` is called on the presenting thread once per measured onset, in the order they
    /// happened, as soon as the clock has passed it (within one refresh: the presentation loop
    /// looks after every flip). It runs between flips, so it must be quick (send a marker,
    /// write a trigger byte) and never block. Each onset it is told equals the one in the
    /// returned timing.
    fn present(
        &mut self,
        req: &ClipRequest,
        onsets: &mut dyn FnMut(Onset),
    ) -> Result<TrialTiming, PresentError>;
}

impl<P: Presenter + ?Sized> Presenter for &mut P {
    fn present(
        &mut self,
        req: &ClipRequest,
        onsets: &mut dyn FnMut(Onset),
    ) -> Result<TrialTiming, PresentError> {
        (**self).present(req, onsets)
    }
}

impl<P: Presenter + ?Sized> Presenter for Box<P> {
    fn present(
        &mut self,
        req: &ClipRequest,
        onsets: &mut dyn FnMut(Onset),
    ) -> Result<TrialTiming, PresentError> {
        (**self).present(req, onsets)
    }
}
