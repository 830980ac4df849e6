//! The one session runner: lab, headless and simulated sessions all go through [`run`].
//!
//! It is two parts. [`schedule`] is sans-I/O: from the protocol, the plan and what the journal
//! says is done ([`Progress`]), it lists the [`Action`]s left — `before` steps, practice trials,
//! breaks, test trials, `after` steps, in order, skipping what a resumed session already has.
//! [`run`] is the one blocking driver: it executes each action through the seams
//! ([`Presenter`] shows clips, [`Respondent`] shows screens and collects answers, [`Journal`]
//! records, [`MarkerSink`] tells other devices), stamping everything with the session clock.
//!
//! Durability: entries are appended as they happen and committed at every boundary — the end
//! of each trial and of each `before`/`after` step — so a trial is on disk before the next one
//! begins. An abort (Esc, SIGINT/SIGTERM through [`Controls::stop`]) is recorded as `aborted`
//! after the last complete trial; the trial in progress is dropped on resume and runs again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use cuelab_core::marker::{Marker, MarkerEvent, MarkerSink};
use cuelab_core::{
    ClipRequest, Onset, PresentErrorKind, Presenter, Response, SessionTime, TimingFlag,
    TrialTiming, WaitClock,
};
use cuelab_protocol::model::{Step, StepKind};
use cuelab_protocol::{PlannedTrial, Protocol, TrialPlan};

use crate::journal::{
    ClipEntry, Entry, Journal, JournalError, Phase, Progress, ResponseEntry, Status,
};
use crate::respond::{Ask, ContinuousSpec, Page, RespondError, Respondent, Screen};

/// One thing the session does next.
#[derive(Debug, Clone, Copy)]
pub enum Action<'p> {
    /// A `before` or `after` step.
    Once { phase: Phase, step: &'p Step },
    /// A rest break before a trial.
    Break { before_trial: u32 },
    /// The end-of-practice page, before the first test trial.
    PracticeEnd,
    /// A whole trial.
    Trial(&'p PlannedTrial),
}

/// What is left of a session: every action not yet done, in order.
pub fn schedule<'p>(
    protocol: &'p Protocol,
    plan: &'p TrialPlan,
    done: &Progress,
) -> Result<Vec<Action<'p>>, RunError> {
    let mut out = Vec::new();
    let step = |id: &str| {
        protocol.step(id).ok_or_else(|| {
            RunError::PlanMismatch(format!(
                "the plan names step `{id}`, which the protocol does not have"
            ))
        })
    };
    for id in &plan.before_steps {
        if !done.steps_done.contains(&(Phase::Before, id.clone())) {
            out.push(Action::Once {
                phase: Phase::Before,
                step: step(id)?,
            });
        }
    }
    let mut after_practice = false;
    for trial in &plan.trials {
        if done.trials_done.contains(&trial.index) {
            after_practice = trial.practice;
            continue;
        }
        if after_practice && !trial.practice {
            out.push(Action::PracticeEnd);
        }
        after_practice = trial.practice;
        if trial.break_before && !trial.practice && !done.breaks_done.contains(&trial.index) {
            // The break after practice is the practice-end page.
            if !matches!(out.last(), Some(Action::PracticeEnd)) {
                out.push(Action::Break {
                    before_trial: trial.index,
                });
            }
        }
        out.push(Action::Trial(trial));
    }
    for id in &plan.after_steps {
        if !done.steps_done.contains(&(Phase::After, id.clone())) {
            out.push(Action::Once {
                phase: Phase::After,
                step: step(id)?,
            });
        }
    }
    Ok(out)
}

/// How the runner is steered from outside: a stop flag (set by a signal handler or the
/// experimenter) and an optional observer that sees progress and sends commands.
#[derive(Debug, Clone, Default)]
pub struct Controls {
    /// Set to stop the session after the current step; the session ends `aborted`.
    pub stop: Arc<AtomicBool>,
    /// Set to pause before the next trial; cleared to go on.
    pub pause: Arc<AtomicBool>,
}

/// What the experimenter's console sees and says.
pub trait Observer {
    /// A trial ended (its index, how many trials the plan has, its clip timing).
    fn trial_done(&mut self, trial: &PlannedTrial, of: usize, timing: Option<&TrialTiming>);
    /// Notes to mark the last trial bad with, collected since the last call.
    fn take_mark_bad(&mut self) -> Vec<String> {
        Vec::new()
    }
}

/// An observer that sees nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Quiet;

impl Observer for Quiet {
    fn trial_done(&mut self, _: &PlannedTrial, _: usize, _: Option<&TrialTiming>) {}
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The session's status at the end of this run.
    pub status: Status,
    /// Trials completed in this run.
    pub trials_run: usize,
}

/// Why a run stopped with an error. The journal holds everything up to the last boundary, so
/// the session can be resumed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The journal could not be written.
    #[error("writing the journal: {0}")]
    Journal(#[from] JournalError),
    /// The presenter stopped (a device or window failed).
    #[error("trial {trial}: presentation stopped: {message}")]
    Present { trial: u32, message: String },
    /// The respondent failed.
    #[error("{0}")]
    Respond(String),
    /// The plan does not fit the protocol (a plan from another protocol version).
    #[error("{0}")]
    PlanMismatch(String),
}

/// The seams a run goes through.
pub struct Rig<'a> {
    pub presenter: &'a mut dyn Presenter,
    pub respondent: &'a mut dyn Respondent,
    pub journal: &'a mut dyn Journal,
    pub clock: &'a dyn WaitClock,
    pub markers: &'a mut dyn MarkerSink,
    pub observer: &'a mut dyn Observer,
}

impl std::fmt::Debug for Rig<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Rig")
    }
}

/// Runs what is left of a session (see the module docs). `done` is the journal's progress (empty
/// for a new session); the caller has already journaled `session_start` or `resume`.
pub fn run(
    protocol: &Protocol,
    plan: &TrialPlan,
    done: &Progress,
    rig: Rig<'_>,
    controls: &Controls,
) -> Result<Outcome, RunError> {
    let actions = schedule(protocol, plan, done)?;
    let mut d = Driver {
        protocol,
        plan,
        rig,
        controls,
        trials_run: 0,
    };
    let status = match d.run_actions(&actions) {
        Ok(status) => status,
        Err(Stop::Aborted) => Status::Aborted,
        Err(Stop::Declined) => Status::Declined,
        Err(Stop::Error(e)) => return Err(e),
    };
    let now = d.rig.clock.now();
    d.rig.journal.append(&Entry::SessionEnd {
        t_ns: now.as_nanos(),
        status,
    })?;
    d.rig.journal.commit()?;
    let event = if status == Status::Aborted {
        MarkerEvent::Abort
    } else {
        MarkerEvent::SessionEnd
    };
    d.mark(Marker::new(event, now));
    if status == Status::Aborted {
        d.mark(Marker::new(MarkerEvent::SessionEnd, now));
    }
    Ok(Outcome {
        status,
        trials_run: d.trials_run,
    })
}

/// Why the actions stopped early.
enum Stop {
    Aborted,
    Declined,
    Error(RunError),
}

impl From<JournalError> for Stop {
    fn from(e: JournalError) -> Self {
        Stop::Error(RunError::Journal(e))
    }
}

impl From<RespondError> for Stop {
    fn from(e: RespondError) -> Self {
        match e {
            RespondError::Aborted(_) => Stop::Aborted,
            RespondError::Failed(m) => Stop::Error(RunError::Respond(m)),
        }
    }
}

struct Driver<'a, 'r> {
    protocol: &'a Protocol,
    plan: &'a TrialPlan,
    rig: Rig<'r>,
    controls: &'a Controls,
    trials_run: usize,
}

/// A trial's conditions as a marker carries them (factor, level); none outside a trial.
fn marker_conditions(trial: Option<&PlannedTrial>) -> Vec<(&str, &str)> {
    trial
        .map(|t| {
            t.conditions
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect()
        })
        .unwrap_or_default()
}

fn ms(ms: u32) -> SessionTime {
    SessionTime::from_millis(i64::from(ms))
}

impl Driver<'_, '_> {
    fn mark(&mut self, m: Marker<'_>) {
        // A marker sink that fails does not stop the session; the journal is the record.
        let _ = self.rig.markers.mark(&m);
    }

    fn check_stop(&self) -> Result<(), Stop> {
        if self.controls.stop.load(Ordering::SeqCst) {
            return Err(Stop::Aborted);
        }
        Ok(())
    }

    fn wait_while_paused(&mut self) -> Result<(), Stop> {
        if !self.controls.pause.load(Ordering::SeqCst) {
            return Ok(());
        }
        let now = self.rig.clock.now();
        self.rig.journal.append(&Entry::Pause {
            t_ns: now.as_nanos(),
            paused: true,
        })?;
        self.rig.journal.commit()?;
        while self.controls.pause.load(Ordering::SeqCst) {
            self.check_stop()?;
            let now = self.rig.clock.now();
            self.rig
                .clock
                .wait_until(now + SessionTime::from_millis(50));
        }
        let now = self.rig.clock.now();
        self.rig.journal.append(&Entry::Pause {
            t_ns: now.as_nanos(),
            paused: false,
        })?;
        self.rig.journal.commit()?;
        Ok(())
    }

    fn run_actions(&mut self, actions: &[Action<'_>]) -> Result<Status, Stop> {
        let n_trials = self.plan.trials.len();
        let mut first_trial = true;
        for action in actions {
            self.check_stop()?;
            match *action {
                Action::Once { phase, step } => {
                    self.step(step, None, None)?;
                    let now = self.rig.clock.now();
                    self.rig.journal.append(&Entry::StepDone {
                        t_ns: now.as_nanos(),
                        phase,
                        step: step.id.clone(),
                    })?;
                    self.rig.journal.commit()?;
                }
                Action::Break { before_trial } => {
                    let markdown = self.protocol.text("break").to_string();
                    let r = self.rig.respondent.page(&Page::Break {
                        markdown: &markdown,
                    })?;
                    self.rig.journal.append(&Entry::Break {
                        t_ns: self.rig.clock.now().as_nanos(),
                        before_trial,
                        duration_ms: r.rt_ms,
                    })?;
                    self.rig.journal.commit()?;
                }
                Action::PracticeEnd => {
                    let markdown = self.protocol.text("practice_end").to_string();
                    self.rig.respondent.page(&Page::PracticeEnd {
                        markdown: &markdown,
                    })?;
                }
                Action::Trial(trial) => {
                    self.wait_while_paused()?;
                    if !first_trial && trial.iti_ms > 0 {
                        self.rig.respondent.show(Screen::Iti, ms(trial.iti_ms))?;
                    }
                    first_trial = false;
                    let timing = self.trial(trial)?;
                    self.trials_run += 1;
                    self.rig
                        .observer
                        .trial_done(trial, n_trials, timing.as_ref());
                    for note in self.rig.observer.take_mark_bad() {
                        self.rig.journal.append(&Entry::MarkBad {
                            t_ns: self.rig.clock.now().as_nanos(),
                            trial: trial.index,
                            note,
                        })?;
                        self.rig.journal.commit()?;
                    }
                }
            }
        }
        let markdown = self.protocol.text("end").to_string();
        self.rig.respondent.page(&Page::End {
            markdown: &markdown,
        })?;
        Ok(Status::Completed)
    }

    /// One trial: its steps in plan order, then the boundary.
    fn trial(&mut self, trial: &PlannedTrial) -> Result<Option<TrialTiming>, Stop> {
        let start = self.rig.clock.now();
        self.rig.journal.append(&Entry::TrialStart {
            t_ns: start.as_nanos(),
            trial: trial.index,
            block: trial.block,
            practice: trial.practice,
            clip: trial.clip.clone(),
            soundtrack: trial.soundtrack.clone(),
            conditions: trial.conditions.clone(),
            durations_ms: trial.durations_ms.clone(),
            iti_ms: trial.iti_ms,
        })?;
        let conditions: Vec<(&str, &str)> = trial
            .conditions
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.mark(Marker {
            trial: Some(trial.index),
            clip: trial.clip.as_deref(),
            soundtrack: trial.soundtrack.as_deref(),
            conditions: &conditions,
            ..Marker::new(MarkerEvent::TrialStart, start)
        });
        let mut timing = None;
        for id in &trial.steps {
            self.check_stop()?;
            let step = self.protocol.step(id).ok_or_else(|| {
                Stop::Error(RunError::PlanMismatch(format!(
                    "trial {}: the plan names step `{id}`, which the protocol does not have",
                    trial.index
                )))
            })?;
            if let Some(t) = self.step(step, Some(trial), timing.as_ref())? {
                timing = Some(t);
            }
        }
        let end = self.rig.clock.now();
        self.rig.journal.append(&Entry::TrialEnd {
            t_ns: end.as_nanos(),
            trial: trial.index,
            iti_ms: trial.iti_ms,
        })?;
        self.rig.journal.commit()?;
        self.mark(Marker {
            trial: Some(trial.index),
            clip: trial.clip.as_deref(),
            soundtrack: trial.soundtrack.as_deref(),
            conditions: &conditions,
            ..Marker::new(MarkerEvent::TrialEnd, end)
        });
        Ok(timing)
    }

    /// One step; returns the clip's timing for a clip step.
    fn step(
        &mut self,
        step: &Step,
        trial: Option<&PlannedTrial>,
        clip_timing: Option<&TrialTiming>,
    ) -> Result<Option<TrialTiming>, Stop> {
        let duration = |trial: Option<&PlannedTrial>| {
            let drawn = match trial {
                Some(t) => t.durations_ms.get(&step.id),
                None => self.plan.durations_ms.get(&step.id),
            };
            drawn
                .copied()
                .unwrap_or_else(|| step.duration().map_or(0, |d| d.mean_ms() as u32))
        };
        match &step.kind {
            StepKind::Fixation { .. } => {
                self.rig
                    .respondent
                    .show(Screen::Fixation, ms(duration(trial)))?;
            }
            StepKind::Blank { .. } => {
                self.rig
                    .respondent
                    .show(Screen::Blank, ms(duration(trial)))?;
            }
            StepKind::Instructions { markdown } => {
                self.rig.respondent.page(&Page::Text {
                    step: Some(step),
                    markdown,
                })?;
            }
            StepKind::Consent { markdown } => {
                let r = self
                    .rig
                    .respondent
                    .page(&Page::Consent { step, markdown })?;
                self.rig.journal.append(&Entry::Consent {
                    t_ns: self.rig.clock.now().as_nanos(),
                    step: step.id.clone(),
                    accepted: r.accepted,
                })?;
                self.record(
                    trial,
                    &[Response {
                        step: step.id.clone(),
                        kind: "consent".into(),
                        item: step.id.clone(),
                        value: Some(if r.accepted { 1.0 } else { 0.0 }),
                        text: Some(if r.accepted { "accepted" } else { "declined" }.into()),
                        rt_ms: Some(r.rt_ms),
                        onset: r.onset,
                        ..Response::default()
                    }],
                )?;
                self.rig.journal.commit()?;
                if !r.accepted {
                    let markdown = self.protocol.text("declined").to_string();
                    self.rig.respondent.page(&Page::End {
                        markdown: &markdown,
                    })?;
                    return Err(Stop::Declined);
                }
            }
            StepKind::Clip {
                continuous,
                offset_ms,
            } => {
                let trial = trial.ok_or_else(|| {
                    Stop::Error(RunError::PlanMismatch(format!(
                        "step `{}` shows a clip outside a trial",
                        step.id
                    )))
                })?;
                return self
                    .clip(step, trial, continuous.as_ref(), *offset_ms)
                    .map(Some);
            }
            _ => {
                let items = self.items(step, trial);
                let timeout = step.timeout_ms.map(ms);
                let responses = self.rig.respondent.ask(&Ask {
                    step,
                    trial,
                    items: &items,
                    clip_timing,
                    timeout,
                    practice: trial.is_some_and(|t| t.practice),
                })?;
                self.record(trial, &responses)?;
                if let StepKind::Questionnaire(q) = &step.kind {
                    let answers: Vec<(String, f64)> = responses
                        .iter()
                        .filter_map(|r| r.value.map(|v| (r.item.clone(), v)))
                        .collect();
                    for (scale, value) in q.score(&answers) {
                        self.rig.journal.append(&Entry::Score {
                            t_ns: self.rig.clock.now().as_nanos(),
                            trial: trial.map(|t| t.index),
                            step: step.id.clone(),
                            scale,
                            value,
                        })?;
                    }
                }
                let feedback = match &step.kind {
                    StepKind::Choice { feedback, .. } | StepKind::Recognition { feedback, .. } => {
                        *feedback
                    }
                    _ => false,
                };
                if feedback && trial.is_some_and(|t| t.practice) {
                    for r in &responses {
                        if let Some(c) = r.correct {
                            self.rig.respondent.feedback(c)?;
                        }
                    }
                }
            }
        }
        Ok(None)
    }

    /// The items of a step in presentation order.
    fn items(&self, step: &Step, trial: Option<&PlannedTrial>) -> Vec<String> {
        let shuffled = match trial {
            Some(t) => t.item_order.get(&step.id),
            None => self.plan.item_order.get(&step.id),
        };
        if let Some(order) = shuffled {
            return order.clone();
        }
        match &step.kind {
            StepKind::Rating(r) => r.items.clone(),
            StepKind::Questionnaire(q) => q.items.iter().map(|i| i.key.clone()).collect(),
            StepKind::Recognition { items, .. } => match trial.and_then(|t| t.clip.as_deref()) {
                Some(clip) => items
                    .iter()
                    .filter(|i| i.clip == clip)
                    .map(|i| i.item.clone())
                    .collect(),
                None => Vec::new(),
            },
            _ => vec![step.id.clone()],
        }
    }

    fn record(&mut self, trial: Option<&PlannedTrial>, responses: &[Response]) -> Result<(), Stop> {
        for r in responses {
            let t = self.rig.clock.now();
            self.rig
                .journal
                .append(&Entry::Response(ResponseEntry::new(
                    t,
                    trial.map(|t| t.index),
                    r,
                )))?;
            let answered_at = r
                .rt_ms
                .map_or(t, |rt| r.onset + SessionTime((rt * 1e6).round() as i64));
            let conditions = marker_conditions(trial);
            self.mark(Marker {
                trial: trial.map(|t| t.index),
                clip: trial.and_then(|t| t.clip.as_deref()),
                soundtrack: trial.and_then(|t| t.soundtrack.as_deref()),
                conditions: &conditions,
                step: Some(&r.step),
                item: Some(&r.item),
                ..Marker::new(MarkerEvent::Response, answered_at)
            });
        }
        Ok(())
    }

    fn clip(
        &mut self,
        step: &Step,
        trial: &PlannedTrial,
        continuous: Option<&cuelab_protocol::model::Continuous>,
        offset_ms: f64,
    ) -> Result<TrialTiming, Stop> {
        if let Some(c) = continuous {
            self.rig.respondent.arm_continuous(&ContinuousSpec {
                step,
                trial,
                dims: &c.dims,
                hz: c.hz,
            })?;
        }
        let req = ClipRequest {
            trial_index: trial.index,
            clip: trial.clip.clone(),
            soundtrack: trial.soundtrack.clone(),
            av_offset_ms: offset_ms,
        };
        let conditions = marker_conditions(Some(trial));
        // Onset markers go out from inside the presentation, the moment each onset has
        // happened (within a refresh), stamped with its measured time.
        let mut told = (None, None);
        let markers = &mut *self.rig.markers;
        let result = self.rig.presenter.present(&req, &mut |onset| {
            let event = match onset {
                Onset::Audio(at) => {
                    told.0 = Some(at);
                    MarkerEvent::AudioOnset
                }
                Onset::Video(at) => {
                    told.1 = Some(at);
                    MarkerEvent::VideoOnset
                }
            };
            // A marker sink that fails does not stop the session; the journal is the record.
            let _ = markers.mark(&Marker {
                trial: Some(trial.index),
                clip: trial.clip.as_deref(),
                soundtrack: trial.soundtrack.as_deref(),
                conditions: &conditions,
                ..Marker::new(event, onset.at())
            });
        });
        let timing = match result {
            Ok(t) => t,
            Err(e) if e.kind == PresentErrorKind::Flag => {
                // Onsets already sent as markers are journaled too, so the journal holds
                // every marker that went out.
                let mut t = TrialTiming {
                    scheduled_onset: self.rig.clock.now(),
                    wanted_av_offset_ms: offset_ms,
                    audio_onset: told.0,
                    video_onset: told.1,
                    ..TrialTiming::default()
                };
                t.flag(TimingFlag::Failed(e.message));
                t
            }
            Err(e) => {
                return Err(Stop::Error(RunError::Present {
                    trial: trial.index,
                    message: e.message,
                }));
            }
        };
        let now = self.rig.clock.now();
        self.rig.journal.append(&Entry::Clip(ClipEntry::new(
            now,
            trial.index,
            &step.id,
            trial.clip.as_deref(),
            trial.soundtrack.as_deref(),
            &timing,
        )))?;
        if continuous.is_some() {
            let traces = self.rig.respondent.collect_continuous(&timing)?;
            for trace in &traces {
                self.rig
                    .journal
                    .append(&Entry::continuous(now, trial.index, &step.id, trace))?;
            }
        }
        Ok(timing)
    }
}

#[cfg(test)]
mod tests {
    use cuelab_core::marker::MarkerError;
    use cuelab_core::{ClipRequest, Clock, ParticipantId, PresentError, VirtualClock};
    use cuelab_protocol::{MemFiles, load, plan};

    use super::*;
    use crate::journal::{MemJournal, Progress};
    use crate::simulate::{Model, Simulator};

    /// Music 20 ms after the picture, 100 ms after the request; the clip lasts 5 s. Tells each
    /// onset when the clock reaches it, as a rig does after the flip that passed it.
    struct FiveSeconds(VirtualClock);

    impl Presenter for FiveSeconds {
        fn present(
            &mut self,
            _: &ClipRequest,
            onsets: &mut dyn FnMut(Onset),
        ) -> Result<TrialTiming, PresentError> {
            let video = self.0.advance(SessionTime::from_millis(100));
            onsets(Onset::Video(video));
            let audio = self.0.advance(SessionTime::from_millis(20));
            onsets(Onset::Audio(audio));
            let end = self.0.advance(SessionTime::from_millis(5000));
            Ok(TrialTiming {
                video_onset: Some(video),
                audio_onset: Some(audio),
                video_offset: Some(end),
                ..TrialTiming::default()
            })
        }
    }

    /// Each marker's event, stamped time and the clock's time when it arrived.
    struct Recorder {
        clock: VirtualClock,
        got: Vec<(MarkerEvent, SessionTime, SessionTime)>,
    }

    impl MarkerSink for Recorder {
        fn mark(&mut self, m: &Marker<'_>) -> Result<(), MarkerError> {
            self.got.push((m.event, m.at, self.clock.now()));
            Ok(())
        }
    }

    #[test]
    fn onset_markers_go_out_when_the_onset_happens_not_when_the_clip_ends() {
        let text = r#"
[experiment]
id = "demo"
title = "Demo"
version = "1"
[stimuli.clips]
lake = "lake.mp4"
[stimuli.soundtracks]
tune = "tune.wav"
[factors]
music = { levels = ["tune"] }
[[procedure]]
clip = {}
[[procedure]]
time_estimate = { method = "verbal", unit = "s" }
"#;
        let files = MemFiles::default()
            .with("lake.mp4", vec![0u8; 16])
            .with("tune.wav", vec![0u8; 16]);
        let protocol = load("demo.toml", text.as_bytes(), &files).unwrap();
        let p = plan(&protocol, &ParticipantId::parse("1").unwrap(), 1).unwrap();
        let clock = VirtualClock::new();
        let sim = Simulator::new(&protocol, Model::default(), 42);
        let mut participant = sim.participant(p.seed, clock.clone());
        let mut journal = MemJournal::default();
        let mut markers = Recorder {
            clock: clock.clone(),
            got: Vec::new(),
        };
        let rig = Rig {
            presenter: &mut FiveSeconds(clock.clone()),
            respondent: &mut participant,
            journal: &mut journal,
            clock: &clock,
            markers: &mut markers,
            observer: &mut Quiet,
        };
        run(
            &protocol,
            &p,
            &Progress::default(),
            rig,
            &Controls::default(),
        )
        .unwrap();

        let onsets: Vec<_> = markers
            .got
            .iter()
            .filter(|(e, ..)| matches!(e, MarkerEvent::AudioOnset | MarkerEvent::VideoOnset))
            .collect();
        assert_eq!(onsets.len(), 2 * p.trials.len(), "{:?}", markers.got);
        for pair in onsets.chunks(2) {
            // In the order they happened, each sent at its own instant, 5 s before the clip's
            // end.
            assert_eq!(pair[0].0, MarkerEvent::VideoOnset);
            assert_eq!(pair[1].0, MarkerEvent::AudioOnset);
            assert_eq!(pair[1].1 - pair[0].1, SessionTime::from_millis(20));
            for (_, at, sent) in pair {
                assert_eq!(sent, at);
            }
        }
        // Every trial's markers in order: start, the onsets, the response, the end (the caller
        // sends `session_start`, with the journal's session line).
        let events: Vec<&str> = markers.got.iter().map(|(e, ..)| e.name()).collect();
        assert_eq!(
            &events[..6],
            [
                "trial_start",
                "video_onset",
                "audio_onset",
                "response",
                "trial_end",
                "session_end"
            ]
        );
    }
}
