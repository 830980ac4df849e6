//! [`WindowRespondent`]: the participant window as the runner's [`Respondent`], usable from
//! the worker thread.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, sync_channel};

use cuelab_core::{Clock, ContinuousTrace, Response, SessionTime, TrialTiming, WaitClock};
use cuelab_playback::clock::MonotonicClock;
use cuelab_session::respond::{
    Ask, ContinuousSpec, Page, PageResult, RespondError, Respondent, Screen,
};

use crate::wire::{AskView, ContinuousView, PageKind, Request, Timed};
use crate::{Link, UiError};

/// How long practice feedback and the time-out message stay up.
pub const MESSAGE_MS: i64 = 1000;

/// Shows what the runner asks in the window and returns what the participant did.
#[derive(Debug)]
pub struct WindowRespondent {
    link: Link,
    clock: MonotonicClock,
}

impl WindowRespondent {
    pub(crate) fn new(link: Link, clock: MonotonicClock) -> Self {
        Self { link, clock }
    }

    fn aborted(&self, why: &str) -> RespondError {
        self.link.stop.store(true, Ordering::SeqCst);
        RespondError::Aborted(why.to_string())
    }

    fn call<T>(&self, request: Request, rx: Receiver<T>) -> Result<T, RespondError> {
        if self.link.stop.load(Ordering::SeqCst) {
            return Err(RespondError::Aborted("the session was stopped".into()));
        }
        self.link.send(request).map_err(|e| match e {
            UiError::Closed => self.aborted("the window was closed"),
            other => RespondError::Failed(other.to_string()),
        })?;
        rx.recv().map_err(|_| {
            if self.link.stop.load(Ordering::SeqCst) {
                RespondError::Aborted("the participant or experimenter quit (Esc)".into())
            } else {
                self.aborted("the window was closed")
            }
        })
    }

    fn timed(&mut self, screen: Timed, duration: SessionTime) -> Result<SessionTime, RespondError> {
        let (tx, rx) = sync_channel(1);
        let onset = self.call(Request::Timed { screen, reply: tx }, rx)?;
        self.clock.wait_until(onset + duration);
        Ok(onset)
    }
}

impl Respondent for WindowRespondent {
    fn show(&mut self, screen: Screen, duration: SessionTime) -> Result<SessionTime, RespondError> {
        let timed = match screen {
            Screen::Fixation => Timed::Fixation,
            _ => Timed::Blank,
        };
        self.timed(timed, duration)
    }

    fn page(&mut self, page: &Page<'_>) -> Result<PageResult, RespondError> {
        let (kind, markdown) = match *page {
            Page::Consent { markdown, .. } => (PageKind::Consent, markdown),
            Page::Text { markdown, .. }
            | Page::Break { markdown }
            | Page::PracticeEnd { markdown }
            | Page::End { markdown } => (PageKind::Continue, markdown),
            _ => (PageKind::Continue, ""),
        };
        let (tx, rx) = sync_channel(1);
        self.call(
            Request::Page {
                kind,
                markdown: markdown.to_string(),
                reply: tx,
            },
            rx,
        )
    }

    fn ask(&mut self, ask: &Ask<'_>) -> Result<Vec<Response>, RespondError> {
        let view = AskView {
            step: ask.step.clone(),
            items: ask.items.to_vec(),
            clip: ask.trial.and_then(|t| t.clip.clone()),
            timeout: ask.timeout,
        };
        let (tx, rx) = sync_channel(1);
        let responses = self.call(
            Request::Ask {
                ask: Box::new(view),
                reply: tx,
            },
            rx,
        )?;
        if responses.iter().any(|r| r.timed_out) {
            self.timed(Timed::Timeout, SessionTime::from_millis(MESSAGE_MS))?;
        }
        Ok(responses)
    }

    fn arm_continuous(&mut self, spec: &ContinuousSpec<'_>) -> Result<(), RespondError> {
        let view = ContinuousView {
            dims: spec.dims.to_vec(),
            hz: spec.hz.max(1),
        };
        self.link
            .send(Request::Arm(Some(view)))
            .map_err(|_| self.aborted("the window was closed"))
    }

    fn collect_continuous(
        &mut self,
        timing: &TrialTiming,
    ) -> Result<Vec<ContinuousTrace>, RespondError> {
        let Some(video_onset) = timing.video_onset else {
            self.link
                .send(Request::Arm(None))
                .map_err(|_| self.aborted("the window was closed"))?;
            return Ok(Vec::new());
        };
        let end = video_onset + timing.measured_duration().unwrap_or(SessionTime::ZERO);
        let (tx, rx) = sync_channel(1);
        self.call(
            Request::Collect {
                video_onset,
                end,
                reply: tx,
            },
            rx,
        )
    }

    fn feedback(&mut self, correct: bool) -> Result<(), RespondError> {
        self.timed(
            Timed::Feedback(correct),
            SessionTime::from_millis(MESSAGE_MS),
        )?;
        Ok(())
    }
}

impl WindowRespondent {
    /// The session clock the window timestamps on.
    pub fn clock(&self) -> MonotonicClock {
        self.clock
    }

    /// Now on the session clock.
    pub fn now(&self) -> SessionTime {
        self.clock.now()
    }
}
