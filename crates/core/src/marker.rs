//! Event markers for eye trackers, EEG and other recordings: the [`MarkerSink`] seam.
//!
//! The session runner sends a [`Marker`] at every event whose time other devices need (session
//! start and end, trial start and end, measured audio and video onsets, every response, abort),
//! stamped with the event's *measured* session time, not the time it is sent. Sinks (a Lab
//! Streaming Layer outlet, a serial trigger port) live outside the runner; [`NoMarkers`] is the
//! default.

use std::fmt;

use crate::SessionTime;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MarkerEvent {
    SessionStart,
    TrialStart,
    AudioOnset,
    VideoOnset,
    Response,
    TrialEnd,
    SessionEnd,
    Abort,
}

impl MarkerEvent {
    /// The event's name in marker payloads and the journal (`audio_onset`, ...).
    pub fn name(self) -> &'static str {
        match self {
            MarkerEvent::SessionStart => "session_start",
            MarkerEvent::TrialStart => "trial_start",
            MarkerEvent::AudioOnset => "audio_onset",
            MarkerEvent::VideoOnset => "video_onset",
            MarkerEvent::Response => "response",
            MarkerEvent::TrialEnd => "trial_end",
            MarkerEvent::SessionEnd => "session_end",
            MarkerEvent::Abort => "abort",
        }
    }

    /// Every event, in a stable order.
    pub const ALL: [MarkerEvent; 8] = [
        MarkerEvent::SessionStart,
        MarkerEvent::TrialStart,
        MarkerEvent::AudioOnset,
        MarkerEvent::VideoOnset,
        MarkerEvent::Response,
        MarkerEvent::TrialEnd,
        MarkerEvent::SessionEnd,
        MarkerEvent::Abort,
    ];
}

impl fmt::Display for MarkerEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One marker: an event, its measured session time and what it is about.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Marker<'a> {
    pub event: MarkerEvent,
    /// The event's measured time on the session clock.
    pub at: SessionTime,
    /// The plan's trial index, for trial events.
    pub trial: Option<u32>,
    pub clip: Option<&'a str>,
    pub soundtrack: Option<&'a str>,
    /// The step id, for responses.
    pub step: Option<&'a str>,
    /// The item, for responses.
    pub item: Option<&'a str>,
    /// The trial's conditions (factor, level), for trial events.
    pub conditions: &'a [(&'a str, &'a str)],
}

impl<'a> Marker<'a> {
    /// A marker with no trial context.
    pub fn new(event: MarkerEvent, at: SessionTime) -> Self {
        Self {
            event,
            at,
            trial: None,
            clip: None,
            soundtrack: None,
            step: None,
            item: None,
            conditions: &[],
        }
    }
}

/// Why a marker could not be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkerError(pub String);

impl fmt::Display for MarkerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MarkerError {}

/// Where markers go. Called on the runner's thread, between presentations (never inside the
/// audio callback); implementations should not block for long.
pub trait MarkerSink: Send {
    /// Sends one marker.
    fn mark(&mut self, marker: &Marker<'_>) -> Result<(), MarkerError>;
}

/// Sends nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMarkers;

impl MarkerSink for NoMarkers {
    fn mark(&mut self, _marker: &Marker<'_>) -> Result<(), MarkerError> {
        Ok(())
    }
}

/// Sends each marker to every sink in turn (e.g. LSL and a serial trigger port).
#[derive(Default)]
pub struct Fanout(pub Vec<Box<dyn MarkerSink>>);

impl fmt::Debug for Fanout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fanout({} sinks)", self.0.len())
    }
}

impl MarkerSink for Fanout {
    fn mark(&mut self, marker: &Marker<'_>) -> Result<(), MarkerError> {
        for sink in &mut self.0 {
            sink.mark(marker)?;
        }
        Ok(())
    }
}
