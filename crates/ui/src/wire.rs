//! What the worker thread asks of the UI thread, and how the answer comes back.
//!
//! Every request carries its own reply channel (bounded, capacity 1). The UI thread keeps the
//! reply sender until it has the answer; if the window goes away the sender is dropped and the
//! worker's `recv` fails, which the handles turn into an abort.

use std::sync::mpsc::SyncSender;

use cuelab_core::{ContinuousTrace, Response, SessionTime};
use cuelab_protocol::model::Step;
use cuelab_session::respond::PageResult;

/// A video frame's pixels, copied off the decoder (RGBA, rows `stride` bytes apart).
#[derive(Debug, Clone)]
pub(crate) struct FrameImage {
    pub width: u32,
    pub height: u32,
    pub stride: usize,
    pub rgba: Vec<u8>,
}

/// A screen shown for a fixed time (timed by the worker on the session clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timed {
    Fixation,
    Blank,
    /// Practice feedback: right or wrong.
    Feedback(bool),
    /// The protocol's time-out message.
    Timeout,
}

/// What kind of page, and so how it is left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PageKind {
    /// Left with the space bar, Enter or the button.
    Continue,
    /// Accept or decline.
    Consent,
}

/// A question, owned so that it can cross threads.
#[derive(Debug, Clone)]
pub(crate) struct AskView {
    pub step: Step,
    pub items: Vec<String>,
    /// The trial's clip (recognition items belong to it).
    pub clip: Option<String>,
    pub timeout: Option<SessionTime>,
}

/// A continuous rating to record while the next clip plays.
#[derive(Debug, Clone)]
pub(crate) struct ContinuousView {
    pub dims: Vec<String>,
    pub hz: u32,
}

/// One request from the worker thread.
#[derive(Debug)]
pub(crate) enum Request {
    /// Show this frame (or keep the picture) at the next refresh; reply with the flip time.
    /// With `not_before` (a display that does not wait for the vertical blank), the UI thread
    /// holds the swap so that the flip lands at that instant rather than as soon as it is drawn.
    Flip {
        frame: Option<FrameImage>,
        not_before: Option<SessionTime>,
        reply: SyncSender<SessionTime>,
    },
    /// Show a timed screen; reply with its onset (the flip that first showed it).
    Timed {
        screen: Timed,
        reply: SyncSender<SessionTime>,
    },
    /// Show a page until it is left.
    Page {
        kind: PageKind,
        markdown: String,
        reply: SyncSender<PageResult>,
    },
    /// Ask a step's questions.
    Ask {
        ask: Box<AskView>,
        reply: SyncSender<Vec<Response>>,
    },
    /// Record the pointer during the next clip (`None`: record nothing).
    Arm(Option<ContinuousView>),
    /// The continuous rating of the clip just shown, resampled on the session clock.
    Collect {
        video_onset: SessionTime,
        end: SessionTime,
        reply: SyncSender<Vec<ContinuousTrace>>,
    },
}
