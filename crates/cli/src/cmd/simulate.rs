//! `cuelab simulate`: N simulated participants through the same runner, journal and rig as a
//! lab session (virtual audio device, virtual display, virtual clock), in parallel, then
//! exported. Plans are those `cuelab plan` gives for the same labels (`S001`, `S002`, ...);
//! `--seed` seeds only the simulated answers.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::Context;
use cuelab_core::marker::NoMarkers;
use cuelab_core::{ParticipantId, VirtualClock};
use cuelab_playback::rig::{Stimuli, VirtualRig, VirtualRigConfig};
use cuelab_protocol::Protocol;
use cuelab_session::journal::Durability;
use cuelab_session::runner::{Controls, Quiet, Rig as Seams};
use cuelab_session::store::{self, AudioInfo, DisplayInfo, Opened};
use cuelab_session::{Model, Simulator};

use crate::cmd::run::{RATE, REFRESH_HZ, load_model};
use crate::error::{Invalid, invalid};
use crate::protocol_files::load_or_invalid;
use crate::sessions;

/// The most simulated participants one command runs.
pub const MAX_PARTICIPANTS: u64 = 10_000;
/// The most worker threads.
pub const MAX_JOBS: usize = 64;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The protocol file.
    protocol: PathBuf,
    /// How many simulated participants (labels S001, S002, ...).
    #[arg(long)]
    participants: u64,
    /// Seed of the simulated answers (plans come from the protocol, as `cuelab plan` gives them).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output folder: journals in OUT/data, tables in OUT/export. Must not hold sessions yet.
    #[arg(long)]
    out: PathBuf,
    /// Parallel sessions (default: the number of CPUs).
    #[arg(long)]
    jobs: Option<usize>,
    /// Simulated participants' model (TOML).
    #[arg(long)]
    model: Option<PathBuf>,
}

/// What a simulation run produced.
#[derive(Debug, Clone)]
pub struct Simulated {
    pub sessions: usize,
    pub seconds: f64,
}

/// What every simulated session of one protocol shares: the decoded stimuli, their loudness
/// gains and file hashes. Loading them is most of a small simulation's cost (a debug build
/// decodes and resamples every soundtrack), so `cuelab power` loads them once for all its
/// replications.
pub struct SharedStimuli {
    stimuli: Arc<Stimuli>,
    gains: std::collections::BTreeMap<String, f64>,
    hashes: std::collections::BTreeMap<String, String>,
}

impl SharedStimuli {
    /// Decodes and hashes the stimuli of `protocol` (read from `protocol_path`'s folder).
    pub fn load(protocol: &Protocol, protocol_path: &Path) -> anyhow::Result<Self> {
        let dir = protocol_path
            .parent()
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let set = sessions::stimulus_set(protocol, &dir)?;
        let gains = sessions::normalization_gains(protocol, &set);
        let stimuli = Arc::new(Stimuli::load(&set, RATE, true).context("loading the stimuli")?);
        let hashes = sessions::stimulus_hashes(protocol, &dir)?;
        Ok(Self {
            stimuli,
            gains,
            hashes,
        })
    }
}

/// Runs `n` simulated sessions of `protocol` into `data_dir` (the runner on virtual devices).
pub fn simulate_sessions(
    protocol: &Protocol,
    protocol_path: &Path,
    n: u64,
    seed: u64,
    model: &Model,
    data_dir: &Path,
    jobs: usize,
) -> anyhow::Result<Simulated> {
    let shared = SharedStimuli::load(protocol, protocol_path)?;
    // A progress bar on stderr (hidden when stderr is not a terminal).
    let bar = indicatif::ProgressBar::new(n);
    bar.set_style(
        indicatif::ProgressStyle::with_template("simulating {pos}/{len} sessions {wide_bar} {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let result = simulate_with(
        &shared,
        protocol,
        protocol_path,
        n,
        seed,
        model,
        data_dir,
        jobs,
        &bar,
    );
    bar.finish_and_clear();
    result
}

/// [`simulate_sessions`] with stimuli already loaded (by [`SharedStimuli::load`] for the same
/// protocol), counting finished sessions on `bar` (`cuelab power` passes a hidden one and
/// counts replications instead).
// The arguments are `simulate_sessions`'s plus the loaded stimuli; a struct for one caller
// would only rename them.
#[allow(clippy::too_many_arguments)]
pub fn simulate_with(
    shared: &SharedStimuli,
    protocol: &Protocol,
    protocol_path: &Path,
    n: u64,
    seed: u64,
    model: &Model,
    data_dir: &Path,
    jobs: usize,
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<Simulated> {
    let started = Instant::now();
    let SharedStimuli {
        stimuli,
        gains,
        hashes,
    } = shared;
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let next = AtomicUsize::new(1);
    let simulator = Simulator::new(protocol, model.clone(), seed);
    let controls = Controls::default();
    let jobs = jobs.clamp(1, MAX_JOBS);
    let result: anyhow::Result<()> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..jobs)
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<()> {
                    loop {
                        let k = next.fetch_add(1, Ordering::SeqCst) as u64;
                        if k > n {
                            return Ok(());
                        }
                        let label = format!("S{k:03}");
                        let id = ParticipantId::parse(&label).expect("S + digits is a valid id");
                        let plan = cuelab_protocol::plan(protocol, &id, 1)
                            .with_context(|| format!("planning {label}"))?;
                        let mut meta =
                            sessions::meta(protocol, protocol_path, &plan, hashes.clone());
                        meta.simulated = true;
                        meta.loudness_gain_db = gains.clone();
                        meta.simulation_seed = Some(seed);
                        meta.clock = "virtual".into();
                        meta.audio = Some(AudioInfo {
                            device: "virtual".into(),
                            sample_rate: RATE,
                            buffer_frames: Some(256),
                            ..AudioInfo::default()
                        });
                        meta.display = Some(DisplayInfo {
                            kind: "headless".into(),
                            refresh_hz: f64::from(REFRESH_HZ),
                            ..DisplayInfo::default()
                        });
                        let mut session =
                            match store::open(data_dir, meta, false, Durability::Flush, None) {
                                Ok(Opened::Ready(s)) => s,
                                Ok(Opened::AlreadyEnded { .. }) => continue,
                                Err(e) if e.is_invalid_input() => {
                                    return Err(anyhow::Error::new(Invalid(e.to_string())));
                                }
                                Err(e) => return Err(e.into()),
                            };
                        let clock = VirtualClock::new();
                        let mut rig = VirtualRig::new(
                            Arc::clone(stimuli),
                            clock.clone(),
                            VirtualRigConfig::default(),
                        );
                        let mut participant = simulator.participant(plan.seed, clock.clone());
                        let seams = Seams {
                            presenter: &mut rig,
                            respondent: &mut participant,
                            journal: &mut session.journal,
                            clock: &clock,
                            markers: &mut NoMarkers,
                            observer: &mut Quiet,
                        };
                        let progress = session.progress.clone();
                        let outcome =
                            cuelab_session::run(protocol, &plan, &progress, seams, &controls)
                                .with_context(|| format!("simulating {label}"))?;
                        session.finish(outcome.status)?;
                        bar.inc(1);
                    }
                })
            })
            .collect();
        for w in workers {
            w.join()
                .map_err(|_| anyhow::anyhow!("a simulation worker panicked"))??;
        }
        Ok(())
    });
    result?;
    Ok(Simulated {
        sessions: n as usize,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The default number of parallel jobs.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.participants == 0 || args.participants > MAX_PARTICIPANTS {
        return Err(invalid(format!(
            "--participants must be from 1 to {MAX_PARTICIPANTS}"
        )));
    }
    if let Some(j) = args.jobs
        && (j == 0 || j > MAX_JOBS)
    {
        return Err(invalid(format!("--jobs must be from 1 to {MAX_JOBS}")));
    }
    let protocol = load_or_invalid(&args.protocol)?;
    let model = load_model(args.model.as_deref())?;
    let data_dir = args.out.join("data");
    if data_dir.join(&protocol.experiment().id).exists() {
        return Err(invalid(format!(
            "{} already holds sessions of `{}`; choose another --out (sessions are never overwritten)",
            data_dir.display(),
            protocol.experiment().id
        )));
    }
    let sim = simulate_sessions(
        &protocol,
        &args.protocol,
        args.participants,
        args.seed,
        &model,
        &data_dir,
        args.jobs.unwrap_or_else(default_jobs),
    )?;
    let export_dir = args.out.join("export");
    let summary = cuelab_export::export(
        std::slice::from_ref(&data_dir),
        &export_dir,
        &cuelab_export::Options::default(),
    )
    .context("exporting the simulated sessions")?;
    println!(
        "simulated {} session(s) in {:.2} s ({:.1} sessions/s), seed {}: journals in {}, tables in {} ({} trials, {} responses, {} continuous samples) — SIMULATED data",
        sim.sessions,
        sim.seconds,
        sim.sessions as f64 / sim.seconds.max(1e-9),
        args.seed,
        data_dir.display(),
        export_dir.display(),
        summary.trials,
        summary.responses,
        summary.continuous
    );
    Ok(ExitCode::SUCCESS)
}
