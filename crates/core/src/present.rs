//! The seam between the runner and whatever shows a clip: [`Presenter`].
//!
//! The session runner asks a presenter to present one clip (and its soundtrack) and gets the
//! measured [`TrialTiming`] back. The playback crate's rigs implement it: a virtual rig (virtual
//! audio device and virtual display, for simulations and tests) and a device rig (the sound card
//! and the participant window). A presentation error says whether the session can go on with the
//! trial flagged ([`PresentErrorKind::Flag`]) or must stop, resumably ([`PresentErrorKind::Stop`]).

use std::fmt;

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

/// Presents clips and measures them.
pub trait Presenter {
    /// Presents one clip with its soundtrack and returns the measured timing. Blocks until the
    /// clip has ended (on a virtual clock, moves the clock to its end).
    fn present(&mut self, req: &ClipRequest) -> Result<TrialTiming, PresentError>;
}

impl<P: Presenter + ?Sized> Presenter for &mut P {
    fn present(&mut self, req: &ClipRequest) -> Result<TrialTiming, PresentError> {
        (**self).present(req)
    }
}

impl<P: Presenter + ?Sized> Presenter for Box<P> {
    fn present(&mut self, req: &ClipRequest) -> Result<TrialTiming, PresentError> {
        (**self).present(req)
    }
}
