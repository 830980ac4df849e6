//! The participant's side of the seam: [`Respondent`], defined here where the runner consumes it
//! (as ripgrep's `Sink` is defined by the searcher).
//!
//! A respondent shows what the runner asks for — timed screens, pages, questions — and returns
//! what the participant did, timed on the session clock: every [`Response`] carries the onset of
//! the screen that asked for it and its response time from that onset. The participant window
//! (the `ui` crate) implements it for people; [`crate::simulate::SimulatedParticipant`]
//! implements it for simulated participants. Either one enforces the step's timeout and answers
//! with `timed_out` responses when it passes.

use cuelab_core::{ContinuousTrace, Response, SessionTime, TrialTiming};
use cuelab_protocol::PlannedTrial;
use cuelab_protocol::model::Step;

/// A screen shown for a fixed time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Screen {
    /// A fixation cross.
    Fixation,
    /// An empty screen.
    Blank,
    /// The inter-trial interval (an empty screen).
    Iti,
}

/// A page the participant reads and leaves with a key or button.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Page<'a> {
    /// Instructions or debrief (Markdown).
    Text {
        /// The step that shows it (`None` for pages the runner adds).
        step: Option<&'a Step>,
        markdown: &'a str,
    },
    /// A consent page: accept or decline.
    Consent { step: &'a Step, markdown: &'a str },
    /// A rest break before a trial.
    Break { markdown: &'a str },
    /// The end of the practice trials.
    PracticeEnd { markdown: &'a str },
    /// The last screen of the session.
    End { markdown: &'a str },
}

/// What the participant did with a page.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PageResult {
    /// When the page became visible.
    pub onset: SessionTime,
    /// When the participant left it, ms after `onset`.
    pub rt_ms: f64,
    /// A consent page was accepted (always `true` for other pages).
    pub accepted: bool,
}

/// A question: one step that waits for answers.
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    /// The step (its id, kind and settings).
    pub step: &'a Step,
    /// The trial (`None` for `before`/`after` steps).
    pub trial: Option<&'a PlannedTrial>,
    /// The items in the order to present them (the plan's `item_order` where shuffled).
    pub items: &'a [String],
    /// The trial's clip as presented, when it was (time estimates need it).
    pub clip_timing: Option<&'a TrialTiming>,
    /// The step's timeout.
    pub timeout: Option<SessionTime>,
    /// The trial is a practice trial (feedback may follow).
    pub practice: bool,
}

/// What to sample during a clip.
#[derive(Debug, Clone, Copy)]
pub struct ContinuousSpec<'a> {
    /// The clip step.
    pub step: &'a Step,
    /// The trial.
    pub trial: &'a PlannedTrial,
    /// The dimensions rated (one for a slider, two for a valence–arousal pad).
    pub dims: &'a [String],
    /// Samples per second on the session clock.
    pub hz: u32,
}

/// Why a respondent could not go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RespondError {
    /// The participant or experimenter aborted the session (Esc confirmed, window closed).
    #[error("the session was aborted: {0}")]
    Aborted(String),
    /// The respondent failed (the window is gone); the session stops and can be resumed.
    #[error("{0}")]
    Failed(String),
}

/// Shows screens and collects answers. All times are on the session clock.
pub trait Respondent {
    /// Shows `screen` for `duration`; returns when it ends, with its onset.
    fn show(&mut self, screen: Screen, duration: SessionTime) -> Result<SessionTime, RespondError>;

    /// Shows a page until the participant leaves it.
    fn page(&mut self, page: &Page<'_>) -> Result<PageResult, RespondError>;

    /// Asks one step's question(s). Returns one response per item (in `ask.items` order where
    /// the step has items), each with `timed_out` set if the timeout passed.
    fn ask(&mut self, ask: &Ask<'_>) -> Result<Vec<Response>, RespondError>;

    /// Prepares a continuous rating for the clip about to be presented.
    fn arm_continuous(&mut self, spec: &ContinuousSpec<'_>) -> Result<(), RespondError>;

    /// The continuous rating of the clip just presented (times from its video onset).
    fn collect_continuous(
        &mut self,
        timing: &TrialTiming,
    ) -> Result<Vec<ContinuousTrace>, RespondError>;

    /// Tells a practising participant whether the last answer was right.
    fn feedback(&mut self, correct: bool) -> Result<(), RespondError>;
}

impl<R: Respondent + ?Sized> Respondent for &mut R {
    fn show(&mut self, screen: Screen, duration: SessionTime) -> Result<SessionTime, RespondError> {
        (**self).show(screen, duration)
    }
    fn page(&mut self, page: &Page<'_>) -> Result<PageResult, RespondError> {
        (**self).page(page)
    }
    fn ask(&mut self, ask: &Ask<'_>) -> Result<Vec<Response>, RespondError> {
        (**self).ask(ask)
    }
    fn arm_continuous(&mut self, spec: &ContinuousSpec<'_>) -> Result<(), RespondError> {
        (**self).arm_continuous(spec)
    }
    fn collect_continuous(
        &mut self,
        timing: &TrialTiming,
    ) -> Result<Vec<ContinuousTrace>, RespondError> {
        (**self).collect_continuous(timing)
    }
    fn feedback(&mut self, correct: bool) -> Result<(), RespondError> {
        (**self).feedback(correct)
    }
}
