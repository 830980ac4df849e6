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
    /// The monitor for a fullscreen window (`--screen`).
    pub screen: Option<usize>,
    pub clock: MonotonicClock,
    pub observer: &'a mut (dyn Observer + Send),
    pub markers: &'a mut (dyn MarkerSink + Send),
    pub controls: &'a Controls,
    /// Added to every measured audio onset (a calibration profile's bias).
    pub bias: cuelab_core::SessionTime,
}

/// The experimenter's commands, typed on the terminal while the participant sees the window:
/// `p` pauses before the next trial, `r` resumes, `b NOTE` marks the last trial bad with a note
/// (all journaled by the runner).
struct Commands<'a> {
    console: &'a mut (dyn Observer + Send),
    notes: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Observer for Commands<'_> {
    fn trial_done(
        &mut self,
        trial: &cuelab_protocol::PlannedTrial,
        of: usize,
        timing: Option<&cuelab_core::TrialTiming>,
    ) {
        self.console.trial_done(trial, of, timing);
    }

    fn take_mark_bad(&mut self) -> Vec<String> {
        let mut notes = self
            .notes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        std::mem::take(&mut *notes)
    }
}

/// What one line typed by the experimenter asks for.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    Pause,
    Resume,
    MarkBad(String),
    Unknown,
}

fn parse_command(line: &str) -> Option<Command> {
    let line = line.trim();
    let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
    Some(match word {
        "" => return None,
        "p" | "pause" => Command::Pause,
        "r" | "resume" => Command::Resume,
        "b" | "bad" => Command::MarkBad(if rest.trim().is_empty() {
            "marked bad by the experimenter".into()
        } else {
            rest.trim().to_string()
        }),
        _ => Command::Unknown,
    })
}

/// Reads the experimenter's commands from standard input on a thread of its own (it ends at
/// the end of input; the process does not wait for it).
fn listen(controls: &Controls, notes: Arc<std::sync::Mutex<Vec<String>>>) {
    let pause = Arc::clone(&controls.pause);
    eprintln!(
        "console: type `p` to pause before the next trial, `r` to resume, `b NOTE` to mark the last trial bad"
    );
    let _ = std::thread::Builder::new()
        .name("cuelab-console".into())
        .spawn(move || {
            for line in std::io::stdin().lines() {
                let Ok(line) = line else { break };
                match parse_command(&line) {
                    Some(Command::Pause) => {
                        pause.store(true, Ordering::SeqCst);
                        eprintln!("console: pausing before the next trial (`r` resumes)");
                    }
                    Some(Command::Resume) => {
                        pause.store(false, Ordering::SeqCst);
                        eprintln!("console: resumed");
                    }
                    Some(Command::MarkBad(note)) => {
                        eprintln!("console: the last trial will be marked bad: {note}");
                        notes
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .push(note);
                    }
                    Some(Command::Unknown) => {
                        eprintln!("console: unknown command `{}` (p, r, b NOTE)", line.trim())
                    }
                    None => {}
                }
            }
        });
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
        nominal_hz: crate::sessions::REFRESH_HZ,
        screen: lab.screen,
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
    let notes = Arc::new(std::sync::Mutex::new(Vec::new()));
    listen(controls, Arc::clone(&notes));
    let mut commands = Commands {
        console: observer,
        notes,
    };
    let result = cuelab_ui::run(options, move |window: Window| {
        let Window {
            mut display,
            mut respondent,
        } = window;
        let stats = display.calibrate(CALIBRATION_FLIPS, crate::sessions::REFRESH_HZ)?;
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
                    crate::sessions::REFRESH_HZ
                )
            }
        );
        let mut rig = crate::sessions::device_rig(audio, stimuli, clock, display, Frames::Decode)?
            .with_bias(bias);
        let seams = Seams {
            presenter: &mut rig,
            respondent: &mut respondent,
            journal,
            clock: &clock,
            markers,
            observer: &mut commands,
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

/// What `cuelab check --display` measured.
#[derive(Debug, Clone)]
pub struct DisplayReport {
    pub refresh: cuelab_ui::Refresh,
    /// The back-to-back flips of the calibration.
    pub calibration: cuelab_ui::FlipStats,
    /// The presented flips (paced as a clip is).
    pub flips: cuelab_ui::FlipStats,
    pub clip: Option<std::path::PathBuf>,
}

/// Opens the window, measures whether the swap waits for the vertical blank, then presents `n`
/// frames as a clip is presented (each at the next refresh; `clip`'s frames, looped, or the
/// picture on screen) and returns the measured flip intervals.
pub fn check_display(
    fullscreen: bool,
    n: usize,
    clip: Option<&std::path::Path>,
) -> anyhow::Result<DisplayReport> {
    use cuelab_playback::video::{ClipDecoder, DecodeConfig, Display};
    let options = WindowOptions {
        fullscreen,
        title: "cuelab check --display".into(),
        labels: Labels::defaults(),
        clock: MonotonicClock::start_now(),
        stop: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        nominal_hz: crate::sessions::REFRESH_HZ,
        screen: None,
    };
    let result = cuelab_ui::run(options, |window: Window| -> anyhow::Result<DisplayReport> {
        let mut display = window.display;
        let calibration = display.calibrate(CALIBRATION_FLIPS, crate::sessions::REFRESH_HZ)?;
        let open = |p: &std::path::Path| ClipDecoder::open(p, &DecodeConfig::default());
        let mut decoder = clip.map(open).transpose()?;
        let mut flips = Vec::with_capacity(n);
        for _ in 0..n {
            let frame = match (&mut decoder, clip) {
                (Some(d), Some(path)) => match d.next_frame()? {
                    Some(f) => Some(f),
                    None => {
                        // Loop the clip.
                        let mut fresh = open(path)?;
                        let f = fresh.next_frame()?;
                        *d = fresh;
                        f
                    }
                },
                _ => None,
            };
            flips.push(display.present(frame.as_ref())?);
            if let (Some(d), Some(f)) = (&mut decoder, frame) {
                d.recycle(f);
            }
        }
        Ok(DisplayReport {
            refresh: display.refresh(),
            calibration,
            flips: cuelab_ui::FlipStats {
                intervals_ms: flips
                    .windows(2)
                    .map(|w| (w[1] - w[0]).as_millis_f64())
                    .collect(),
            },
            clip: clip.map(std::path::Path::to_path_buf),
        })
    });
    match result {
        Ok(report) => report,
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn experimenter_commands_parse() {
        assert_eq!(parse_command(" p "), Some(Command::Pause));
        assert_eq!(parse_command("resume"), Some(Command::Resume));
        assert_eq!(
            parse_command("b  looked away "),
            Some(Command::MarkBad("looked away".into()))
        );
        assert_eq!(
            parse_command("bad"),
            Some(Command::MarkBad("marked bad by the experimenter".into()))
        );
        assert_eq!(parse_command("x"), Some(Command::Unknown));
        assert_eq!(parse_command("  "), None);
    }
}
