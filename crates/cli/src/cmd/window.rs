//! `cuelab run --display window|fullscreen`: the lab session in the participant window.
//!
//! Wiring only. The window takes the main thread (`cuelab_ui::run`); the session runs on the
//! worker thread it starts, through a rig built there (the audio device lives on that thread)
//! over the window's display, with the window as the respondent.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use cuelab_core::marker::MarkerSink;
use cuelab_playback::clock::MonotonicClock;
use cuelab_playback::rig::{Frames, Stimuli};
use cuelab_protocol::{Protocol, TrialPlan};
use cuelab_session::journal::{FileJournal, Progress, Status};
use cuelab_session::runner::{Controls, Observer, Rig as Seams};
use cuelab_session::{Outcome, RunError};
use cuelab_ui::{Labels, Window, WindowOptions};

/// Flips measured when the window opens, to find the refresh rate and whether vsync holds.
const CALIBRATION_FLIPS: usize = 60;

/// Everything a lab session needs.
pub struct Lab<'a> {
    pub protocol: &'a Protocol,
    pub plan: &'a TrialPlan,
    pub progress: &'a Progress,
    pub journal: &'a mut FileJournal,
    pub stimuli: Arc<Stimuli>,
    pub audio: &'a str,
    pub fullscreen: bool,
    pub clock: MonotonicClock,
    pub observer: &'a mut (dyn Observer + Send),
    pub markers: &'a mut (dyn MarkerSink + Send),
    pub controls: &'a Controls,
    /// Added to every measured audio onset (a calibration profile's bias).
    pub bias: cuelab_core::SessionTime,
}

/// Runs the session in the window. A window closed during a clip stops the presentation; the
/// session is then reported aborted, like Esc.
pub fn run_lab(lab: Lab<'_>) -> anyhow::Result<Result<Outcome, RunError>> {
    let options = WindowOptions {
        fullscreen: lab.fullscreen,
        title: format!("cuelab — {}", lab.protocol.experiment().title),
        labels: Labels::of(lab.protocol),
        clock: lab.clock,
        stop: Arc::clone(&lab.controls.stop),
        nominal_hz: super::run::REFRESH_HZ,
    };
    let stop = Arc::clone(&lab.controls.stop);
    let Lab {
        protocol,
        plan,
        progress,
        journal,
        stimuli,
        audio,
        clock,
        observer,
        markers,
        controls,
        bias,
        ..
    } = lab;
    let result = cuelab_ui::run(options, move |window: Window| {
        let Window {
            mut display,
            mut respondent,
        } = window;
        let stats = display.calibrate(CALIBRATION_FLIPS, super::run::REFRESH_HZ)?;
        let refresh = display.refresh();
        eprintln!(
            "window: {} flips, median interval {:.2} ms; {}",
            CALIBRATION_FLIPS,
            stats.median_ms(),
            if refresh.vsync {
                format!(
                    "vsync, refresh {:.2} Hz",
                    1000.0 / refresh.period.as_millis_f64()
                )
            } else {
                format!(
                    "vsync not enforced by this display: flips paced at {} Hz on the session clock",
                    super::run::REFRESH_HZ
                )
            }
        );
        let mut rig =
            super::run::device_rig(audio, stimuli, clock, display, Frames::Decode)?.with_bias(bias);
        let seams = Seams {
            presenter: &mut rig,
            respondent: &mut respondent,
            journal,
            clock: &clock,
            markers,
            observer,
        };
        anyhow::Ok(cuelab_session::run(
            protocol, plan, progress, seams, controls,
        ))
    });
    let outcome = match result {
        Ok(r) => r?,
        Err(cuelab_ui::UiError::Closed) => Ok(Outcome {
            status: Status::Aborted,
            trials_run: 0,
        }),
        Err(e) => return Err(e.into()),
    };
    Ok(match outcome {
        // The window went away mid-clip: the presentation failed because the participant or
        // the window manager closed it.
        Err(RunError::Present { .. }) if stop.load(Ordering::SeqCst) => Ok(Outcome {
            status: Status::Aborted,
            trials_run: 0,
        }),
        other => other,
    })
}
