//! `cuelab run`: one participant's session through the one runner, journaled trial by trial.
//!
//! Wiring only: the protocol and plan come from `cuelab_protocol`, the session folder, lock and
//! resume from `cuelab_session::store`, the loop from `cuelab_session::run`, presentation from
//! `cuelab_playback::rig`. Exit codes: 0 done (or nothing left to resume), 2 invalid input, 1
//! machine failure, 3 aborted by the participant or experimenter (Esc, SIGINT, SIGTERM).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::Context;
use cuelab_core::marker::{Marker, MarkerEvent, MarkerSink, NoMarkers};
use cuelab_core::{ParticipantId, Presenter, SessionTime, TrialTiming, VirtualClock, WaitClock};
use cuelab_playback::clock::MonotonicClock;
use cuelab_playback::rig::{Frames, Rig, Stimuli, VirtualRig, VirtualRigConfig};
use cuelab_playback::video::VirtualDisplay;
use cuelab_protocol::{PlannedTrial, Protocol};
use cuelab_session::journal::Durability;
use cuelab_session::runner::{Controls, Observer, Rig as Seams};
use cuelab_session::store::{self, AudioInfo, DisplayInfo, Opened, StoreError};
use cuelab_session::{Model, Simulator, Status};

use crate::error::{Invalid, invalid};
use crate::protocol_files::load_or_invalid;
use crate::sessions;

use crate::sessions::device_rig;
pub use crate::sessions::{RATE, REFRESH_HZ};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DisplayKind {
    Fullscreen,
    Window,
    Headless,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClockKind {
    /// The real monotonic clock (real time).
    Monotonic,
    /// A virtual clock: waits take no time (simulations only).
    Virtual,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The protocol file.
    protocol: PathBuf,
    /// Participant label (letters and digits ending in a number), or `next` for the next label
    /// of the assignment sheet with no session in the data folder.
    #[arg(long)]
    participant: String,
    /// Session number.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=999))]
    session: u32,
    /// Where sessions are written (`DATA_DIR/<experiment>/sub-<label>/ses-<n>/`).
    #[arg(long, default_value = "data")]
    data_dir: PathBuf,
    /// Continue the session at its first incomplete trial (starts it if it does not exist).
    #[arg(long)]
    resume: bool,
    /// Audio output: a device name (see `cuelab check`), or `virtual`. Default: the system's
    /// default device; `virtual` with --simulate.
    #[arg(long)]
    audio: Option<String>,
    /// Where the participant sees the study. Default: fullscreen; headless with --simulate.
    #[arg(long, value_enum)]
    display: Option<DisplayKind>,
    /// A simulated participant answers (pilot runs, tests).
    #[arg(long)]
    simulate: bool,
    /// The session clock (virtual: simulations only, no real time passes).
    #[arg(long, value_enum, default_value_t = ClockKind::Monotonic)]
    clock: ClockKind,
    /// Seed of the simulated participant's answers.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Simulated participants' model (TOML); defaults documented in `cuelab_session::simulate`.
    #[arg(long)]
    model: Option<PathBuf>,
    /// The audio calibration profile file (`cuelab check --calibrate`). Default:
    /// $XDG_CONFIG_HOME/cuelab/calibration.toml.
    #[arg(long, value_name = "FILE")]
    calibration: Option<PathBuf>,
    /// The monitor a fullscreen window opens on (0 = the first in the system's order).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16))]
    screen: Option<u16>,
    /// Send a Lab Streaming Layer marker stream (`cuelab-<experiment>`, type `Markers`) at every
    /// measured onset; liblsl is loaded from --lsl-lib, CUELAB_LIBLSL, the library folders or
    /// pylsl's wheel.
    #[arg(long)]
    lsl: bool,
    /// liblsl to load for --lsl (nothing else is tried).
    #[arg(long, value_name = "PATH", requires = "lsl")]
    lsl_lib: Option<PathBuf>,
    /// With --lsl, wait up to this many seconds for a recorder (LabRecorder) to connect before
    /// the first marker: markers sent before it connects never reach it.
    #[arg(long, value_name = "SECONDS", default_value_t = 0.0, requires = "lsl")]
    lsl_wait: f64,
    /// Write a trigger byte per event to a serial port (`serial:PORT[:BAUD]`, default 115200
    /// baud); each write's time goes to the session's `triggers.jsonl`.
    #[arg(long, value_name = "serial:PORT[:BAUD]")]
    trigger: Option<String>,
    /// The trigger codes: `event = code` lines, overriding the protocol's `[triggers]` table
    /// (without either: session_start 1, trial_start 2, audio_onset 3, video_onset 4,
    /// response 5, trial_end 6, session_end 7, abort 8).
    #[arg(long, value_name = "FILE", requires = "trigger")]
    trigger_codes: Option<PathBuf>,
}

/// Reads a simulation model file, or the defaults.
pub fn load_model(path: Option<&Path>) -> anyhow::Result<Model> {
    match path {
        None => Ok(Model::default()),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| Invalid(format!("cannot read the model file {}", p.display())))?;
            Model::parse(&p.display().to_string(), &text).map_err(|e| invalid(e.to_string()))
        }
    }
}

/// The next participant number with no session folder under `data_dir` for this experiment.
fn next_label(data_dir: &Path, experiment: &str) -> String {
    let exp = data_dir.join(experiment);
    let mut k = 1u64;
    while exp.join(format!("sub-{k}")).exists() {
        k += 1;
    }
    k.to_string()
}

/// Prints the experimenter's console: one line per trial.
struct Console {
    started: std::time::Instant,
}

impl Observer for Console {
    fn trial_done(&mut self, trial: &PlannedTrial, of: usize, timing: Option<&TrialTiming>) {
        let elapsed = self.started.elapsed().as_secs_f64();
        let av = timing
            .and_then(|t| t.av_offset_ms)
            .map_or_else(|| "-".to_string(), |ms| format!("{ms:+.3} ms"));
        let flags = timing
            .filter(|t| t.flagged)
            .map(|t| {
                let f: Vec<String> = t.flags.iter().map(ToString::to_string).collect();
                format!("  FLAGGED: {}", f.join("; "))
            })
            .unwrap_or_default();
        let left = elapsed / f64::from(trial.index) * (of as f64 - f64::from(trial.index));
        eprintln!(
            "trial {:>3}/{of}  {:>6.1} s elapsed, ~{:.0} s left  av_offset {av}{flags}",
            trial.index, elapsed, left
        );
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let audio = args
        .audio
        .clone()
        .unwrap_or_else(|| if args.simulate { "virtual" } else { "default" }.into());
    let display = args.display.unwrap_or(if args.simulate {
        DisplayKind::Headless
    } else {
        DisplayKind::Fullscreen
    });
    if display == DisplayKind::Headless && !args.simulate {
        return Err(invalid(
            "--display headless needs --simulate: with no screen nobody can see the clips or answer",
        ));
    }
    if display != DisplayKind::Headless && args.simulate {
        return Err(invalid(
            "--simulate answers for the participant: use it with --display headless (the window is for people)",
        ));
    }
    if args.lsl && args.clock == ClockKind::Virtual {
        return Err(invalid(
            "--lsl needs the real clock: times on --clock virtual mean nothing to other devices",
        ));
    }
    if args.trigger.is_some() && args.clock == ClockKind::Virtual {
        return Err(invalid(
            "--trigger needs the real clock: times on --clock virtual mean nothing to other devices",
        ));
    }
    let trigger_port = args
        .trigger
        .as_deref()
        .map(cuelab_markers::TriggerPort::parse)
        .transpose()
        .map_err(|e| invalid(e.to_string()))?;
    let trigger_codes = match &args.trigger_codes {
        None => None,
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| Invalid(format!("cannot read {}", p.display())))?;
            Some(
                cuelab_markers::TriggerCodes::parse(&p.display().to_string(), &text)
                    .map_err(|e| invalid(e.to_string()))?,
            )
        }
    };
    if !(0.0..=3600.0).contains(&args.lsl_wait) {
        return Err(invalid("--lsl-wait must be between 0 and 3600 seconds"));
    }
    if args.clock == ClockKind::Virtual && (!args.simulate || audio != "virtual") {
        return Err(invalid(
            "--clock virtual needs --simulate and --audio virtual (no real device runs on a virtual clock)",
        ));
    }
    let protocol = load_or_invalid(&args.protocol)?;
    let dir = args
        .protocol
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let label = if args.participant == "next" {
        next_label(&args.data_dir, &protocol.experiment().id)
    } else {
        args.participant.clone()
    };
    let id = ParticipantId::parse(&label).map_err(|e| invalid(format!("--participant: {e}")))?;
    let plan = cuelab_protocol::plan(&protocol, &id, args.session)
        .map_err(|e| invalid(format!("planning participant {label}: {e}")))?;
    let model = load_model(args.model.as_deref())?;
    store::preflight(&args.data_dir, sessions::expected_bytes(&plan))?;

    let mut meta = sessions::meta(
        &protocol,
        &args.protocol,
        &plan,
        sessions::stimulus_hashes(&protocol, &dir)?,
    );
    meta.simulated = args.simulate;
    meta.simulation_seed = args.simulate.then_some(args.seed);
    meta.clock = match args.clock {
        ClockKind::Monotonic => "monotonic".into(),
        ClockKind::Virtual => "virtual".into(),
    };
    let calibration = calibration_for(&args, &audio)?;
    meta.audio = Some(AudioInfo {
        device: audio.clone(),
        sample_rate: RATE,
        buffer_frames: Some(buffer_frames(&audio)),
        calibration_profile: calibration
            .as_ref()
            .map(|(path, _)| path.display().to_string()),
        calibration_bias_ms: calibration.as_ref().map(|(_, bias)| *bias),
        ..AudioInfo::default()
    });
    let bias = calibration
        .as_ref()
        .map_or(SessionTime::ZERO, |(_, bias_ms)| {
            SessionTime::from_nanos((bias_ms * 1e6).round() as i64)
        });
    meta.display = Some(DisplayInfo {
        kind: match display {
            DisplayKind::Fullscreen => "fullscreen",
            DisplayKind::Window => "window",
            DisplayKind::Headless => "headless",
        }
        .into(),
        refresh_hz: f64::from(REFRESH_HZ),
        ..DisplayInfo::default()
    });

    // Stimuli are loaded before the session opens: a stimulus that fails is found before
    // anything is written.
    let set = sessions::stimulus_set(&protocol, &dir)?;
    meta.loudness_gain_db = sessions::normalization_gains(&protocol, &set);
    let stimuli = Arc::new(Stimuli::load(&set, RATE, true).context("loading the stimuli")?);
    // The real session clock starts here, before the journal's first line, so that line can map
    // session time zero to CLOCK_MONOTONIC (`monotonic_ns`) for offline alignment.
    let real_clock = (args.clock == ClockKind::Monotonic).then(MonotonicClock::start_now);
    let monotonic_ns = real_clock
        .as_ref()
        .map(|c| cuelab_markers::monotonic_origin_ns(c));
    // liblsl is loaded only with --lsl, and before the session opens: a missing library is
    // found before anything is written or shown.
    let mut lsl = match (&real_clock, args.lsl) {
        (Some(clock), true) => Some(open_lsl(&args, &protocol, &plan, &label, clock)?),
        _ => None,
    };
    // The trigger port too: a port that cannot be opened stops the session before it starts.
    let mut trigger = match (trigger_port, monotonic_ns) {
        (Some(port), Some(origin_ns)) => {
            // A --trigger-codes file overrides the protocol's [triggers] table; with neither,
            // the default codes 1-8.
            let codes: Box<dyn cuelab_markers::TriggerMap> = match trigger_codes {
                Some(file) => Box::new(file),
                None if !protocol.triggers().is_empty() => {
                    Box::new(ProtocolTriggers(protocol.triggers().clone()))
                }
                None => Box::new(cuelab_markers::TriggerCodes::default()),
            };
            Some(
                cuelab_markers::SerialTrigger::open(&port, codes, origin_ns)
                    .context("--trigger")?,
            )
        }
        _ => None,
    };
    let opened = store::open(
        &args.data_dir,
        meta,
        args.resume,
        Durability::Sync,
        monotonic_ns,
    )
    .map_err(store_error)?;
    let mut session = match opened {
        Opened::Ready(s) => s,
        Opened::AlreadyEnded { dir, status } => {
            println!(
                "the session in {} already ended ({}); nothing to resume",
                dir.display(),
                status.name()
            );
            return Ok(ExitCode::SUCCESS);
        }
    };
    if session.resumed {
        eprintln!(
            "resuming {}: {} trial(s) done",
            session.dir().display(),
            session.progress.trials_done.len()
        );
    }

    if let Some(outlet) = &mut lsl
        && args.lsl_wait > 0.0
        && !outlet.wait_for_consumers(args.lsl_wait)
    {
        eprintln!(
            "lsl: no recorder connected within {} s; sending markers anyway",
            args.lsl_wait
        );
    }
    if let Some(t) = &mut trigger {
        t.log_to(&session.dir().join("triggers.jsonl"))
            .context("--trigger")?;
    }
    let mut sinks = cuelab_markers::Sinks {
        lsl: lsl.as_mut(),
        trigger: trigger.as_mut(),
    };
    // The journal's first line (`session_start` or `resume`) is at session time zero.
    let _ = sinks.mark(&Marker::new(MarkerEvent::SessionStart, SessionTime::ZERO));

    let controls = Controls::default();
    install_signals(&controls)?;
    let simulator = Simulator::new(&protocol, model, args.seed);
    let mut console = Console {
        started: std::time::Instant::now(),
    };
    let progress = session.progress.clone();
    let result = match args.clock {
        ClockKind::Virtual => {
            let clock = VirtualClock::new();
            let mut rig = VirtualRig::new(
                Arc::clone(&stimuli),
                clock.clone(),
                VirtualRigConfig::default(),
            );
            let mut participant = simulator.participant(plan.seed, clock.clone());
            go(
                &protocol,
                &plan,
                &progress,
                &mut rig,
                &mut participant,
                &mut session.journal,
                &clock,
                &mut NoMarkers,
                &mut console,
                &controls,
            )
        }
        ClockKind::Monotonic if display != DisplayKind::Headless => {
            let clock = real_clock.unwrap_or_else(MonotonicClock::start_now);
            let markers: &mut (dyn MarkerSink + Send) = &mut sinks;
            super::window::run_lab(super::window::Lab {
                protocol: &protocol,
                plan: &plan,
                progress: &progress,
                journal: &mut session.journal,
                stimuli: Arc::clone(&stimuli),
                audio: &audio,
                fullscreen: display == DisplayKind::Fullscreen,
                screen: args.screen.map(usize::from),
                clock,
                observer: &mut console,
                markers,
                controls: &controls,
                bias,
            })?
        }
        ClockKind::Monotonic => {
            let clock = real_clock.unwrap_or_else(MonotonicClock::start_now);
            let markers: &mut dyn MarkerSink = &mut sinks;
            let mut rig = headless_rig(&audio, Arc::clone(&stimuli), clock)?.with_bias(bias);
            let mut participant = simulator.participant(plan.seed, clock);
            go(
                &protocol,
                &plan,
                &progress,
                &mut rig,
                &mut participant,
                &mut session.journal,
                &clock,
                markers,
                &mut console,
                &controls,
            )
        }
    };
    if let Some(outlet) = &lsl {
        report_lsl(outlet);
    }
    if let Some(t) = &trigger {
        report_lags("trigger", t.lags());
    }
    let outcome = match result {
        Ok(o) => o,
        Err(e) => {
            // The journal has every trial up to the last boundary; the session can be resumed.
            let _ = session.journal.sync();
            return Err(anyhow::Error::new(e).context(format!(
                "the session stopped; its data is kept in {} (continue with --resume)",
                session.dir().display()
            )));
        }
    };
    session.finish(outcome.status)?;
    println!(
        "session {} ({} trial(s) this run): data in {}",
        outcome.status.name(),
        outcome.trials_run,
        session.dir().display()
    );
    Ok(match outcome.status {
        Status::Aborted => ExitCode::from(3),
        _ => ExitCode::SUCCESS,
    })
}

#[allow(clippy::too_many_arguments)]
fn go(
    protocol: &Protocol,
    plan: &cuelab_protocol::TrialPlan,
    progress: &cuelab_session::journal::Progress,
    presenter: &mut dyn Presenter,
    respondent: &mut dyn cuelab_session::Respondent,
    journal: &mut cuelab_session::journal::FileJournal,
    clock: &dyn WaitClock,
    markers: &mut dyn MarkerSink,
    observer: &mut dyn Observer,
    controls: &Controls,
) -> Result<cuelab_session::Outcome, cuelab_session::RunError> {
    let seams = Seams {
        presenter,
        respondent,
        journal,
        clock,
        markers,
        observer,
    };
    cuelab_session::run(protocol, plan, progress, seams, controls)
}

/// Frames per buffer the rigs open a device with.
fn buffer_frames(audio: &str) -> u32 {
    if audio == "virtual" { 256 } else { 512 }
}

/// The calibration profile and bias (ms) for this run's audio device, if one was measured. The
/// virtual device needs none; a real device without one is run uncorrected, and the console
/// says so (`session.json` then has no calibration fields).
fn calibration_for(args: &Args, audio: &str) -> anyhow::Result<Option<(PathBuf, f64)>> {
    if audio == "virtual" {
        return Ok(None);
    }
    let Some(path) = args
        .calibration
        .clone()
        .or_else(crate::calibration::default_path)
    else {
        return Ok(None);
    };
    let profiles = crate::calibration::read(&path)?;
    match crate::calibration::lookup(&profiles, audio, RATE, buffer_frames(audio)) {
        Some(p) => {
            eprintln!(
                "calibration: {} measured {}: audio onsets corrected by {:+.3} ms",
                path.display(),
                p.measured,
                p.bias_ms
            );
            Ok(Some((path, p.bias_ms)))
        }
        None => {
            eprintln!(
                "calibration: no profile for `{audio}` at {RATE} Hz, {} frames in {}: audio onsets are the device's timestamps, uncorrected (`cuelab check --calibrate --audio {audio}` makes one)",
                buffer_frames(audio),
                path.display()
            );
            Ok(None)
        }
    }
}

/// A rig for a real-time headless session: a virtual display paced on the monotonic clock.
fn headless_rig(
    audio: &str,
    stimuli: Arc<Stimuli>,
    clock: MonotonicClock,
) -> anyhow::Result<Rig<VirtualDisplay<MonotonicClock>>> {
    let display = VirtualDisplay::with_rate(clock, i64::from(REFRESH_HZ), 1, SessionTime::ZERO);
    device_rig(audio, stimuli, clock, display, Frames::Timestamps)
}

/// Prints the marker rate and the latency from event to push, overall and per event.
fn report_lsl(outlet: &cuelab_markers::LslOutlet) {
    let latency = |s: &cuelab_markers::MarkerStats| {
        format!(
            "event to push: median {:.3} ms, 95% {:.3} ms, max {:.3} ms",
            s.latency_median_s * 1e3,
            s.latency_p95_s * 1e3,
            s.latency_max_s * 1e3
        )
    };
    let all = outlet.stats();
    eprintln!(
        "lsl: {} markers in {:.1} s ({:.2}/s); {}",
        all.markers,
        all.span_s,
        all.markers as f64 / all.span_s.max(1e-9),
        latency(&all)
    );
    for event in MarkerEvent::ALL {
        let s = outlet.stats_of(event);
        if s.markers > 0 {
            eprintln!(
                "lsl:   {:<13} {:>5} markers; {}",
                event.name(),
                s.markers,
                latency(&s)
            );
        }
    }
}

/// The protocol's `[triggers]` table as the trigger port's code map: a trial event's code may
/// depend on the trial's conditions (`[[triggers.when]]`).
#[derive(Debug)]
struct ProtocolTriggers(cuelab_protocol::model::Triggers);

impl cuelab_markers::TriggerMap for ProtocolTriggers {
    fn code(&self, m: &cuelab_core::marker::Marker<'_>) -> Option<u8> {
        self.0.code(m.event.name(), &|var: &str| {
            cuelab_markers::trial_variable(m, var)
        })
    }
}

/// Prints how long after their events triggers were written (seconds in, ms out).
fn report_lags(what: &str, lags: &[f64]) {
    let mut l = lags.to_vec();
    l.sort_by(f64::total_cmp);
    if let (Some(min), Some(max)) = (l.first(), l.last()) {
        eprintln!(
            "{what}: {} writes; event to write: min {:.3} ms, median {:.3} ms, max {:.3} ms",
            l.len(),
            min * 1e3,
            l[l.len() / 2] * 1e3,
            max * 1e3
        );
    }
}

/// Loads liblsl and opens the session's marker stream, its clock mapped onto LSL's.
fn open_lsl(
    args: &Args,
    protocol: &Protocol,
    plan: &cuelab_protocol::TrialPlan,
    label: &str,
    clock: &MonotonicClock,
) -> anyhow::Result<cuelab_markers::LslOutlet> {
    let lsl = cuelab_markers::Search::from_env(args.lsl_lib.as_deref())
        .load()
        .context("--lsl: loading liblsl")?;
    let id = cuelab_markers::StreamIdentity {
        experiment: &protocol.experiment().id,
        protocol_version: &protocol.experiment().version,
        protocol_sha256: &plan.protocol_sha256,
        participant: label,
        session: args.session,
    };
    let outlet = cuelab_markers::LslOutlet::open(&lsl, &id, clock)
        .context("--lsl: opening the marker outlet")?;
    eprintln!(
        "lsl: stream {} ({}) from {} (liblsl {}); session clock mapped to lsl_local_clock within {:.3} us",
        id.name(),
        id.source_id(),
        lsl.path().display(),
        lsl.version(),
        outlet.mapping().uncertainty_s * 1e6
    );
    Ok(outlet)
}

fn store_error(e: StoreError) -> anyhow::Error {
    if e.is_invalid_input() {
        anyhow::Error::new(Invalid(e.to_string()))
    } else {
        anyhow::Error::new(e)
    }
}

/// SIGINT and SIGTERM stop the session after the current step; it is recorded `aborted`.
pub fn install_signals(controls: &Controls) -> anyhow::Result<()> {
    let stop = Arc::clone(&controls.stop);
    ctrlc::set_handler(move || {
        stop.store(true, Ordering::SeqCst);
    })
    .or_else(|e| match e {
        // A second session in one process (tests) keeps the first handler's flag.
        ctrlc::Error::MultipleHandlers => Ok(()),
        other => Err(other),
    })
    .context("installing the SIGINT/SIGTERM handler")
}
