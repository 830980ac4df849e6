//! `cuelab demo`: first contact. The bundled time-perception study is validated, planned for N
//! simulated participants (counterbalancing checked), run through the real presentation path
//! on virtual devices (virtual audio device + virtual 60 Hz display on one virtual clock, so no
//! sound card and no display are needed), exported as tidy tables, and analysed; the bundled
//! real MusicTime data is analysed into the same folder.
//!
//! Only the wiring lives here: the simulated participants and the export are
//! `cuelab_session`, presentation is `cuelab_playback::video::present` behind the session's
//! [`Presenter`] trait, statistics and the report are `cuelab_analysis`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use cuelab_analysis::{Formats, Outcome, Plan, run_plan, run_plan_file};
use cuelab_core::{ParticipantId, SessionTime};
use cuelab_playback::clock::{Clock, VirtualClock};
use cuelab_playback::decode::{DecodeOptions, decode_file};
use cuelab_playback::engine::{Engine, EngineConfig};
use cuelab_playback::sound::Sound;
use cuelab_playback::video::{
    ClipDecoder, DecodeConfig, EngineSoundtrack, PresentConfig, TrialTiming, VirtualDisplay,
    present, probe,
};
use cuelab_playback::virtual_device::VirtualDevice;
use cuelab_protocol::model::StepKind;
use cuelab_protocol::{PlannedTrial, Protocol};
use cuelab_session::export::{write_durably, write_responses, write_trials};
use cuelab_session::simulate::run_session;
use cuelab_session::{Presenter, ResponseRow, Simulator, TimeModel, Timing, TrialRow};

use crate::error::invalid;

/// `println!` that returns the error instead of panicking (`cuelab demo | head` closes the pipe).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*)?;
    }};
}
use crate::protocol_files::load_or_invalid;

/// The bundled study, relative to the repository root.
const PROTOCOL: &str = "protocols/time-perception.toml";
/// The bundled real dataset's plan.
const MUSICTIME: &str = "analysis/musictime.toml";
/// The analysis of the simulated study (written beside the data as `analysis.toml`).
const PLAN: &str = include_str!("demo_analysis.toml");
/// Virtual audio device rate and buffer.
const RATE: u32 = 48_000;
const BUFFER_FRAMES: u32 = 256;
/// Virtual display refresh rate.
const REFRESH_HZ: u32 = 60;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output folder; refused if it exists and is not empty (unless --force).
    #[arg(long, default_value = "cuelab-demo")]
    out: PathBuf,
    /// Simulated participants (4 make one Latin-square cycle).
    #[arg(long, default_value_t = 24)]
    participants: u64,
    /// How many of the participants (the first ones) are presented through the playback path
    /// on the virtual devices; the others' timing columns stay empty (`presented = false`).
    /// Default: all of them.
    #[arg(long)]
    present: Option<u64>,
    /// Write into an existing non-empty folder, replacing the demo's files there.
    #[arg(long)]
    force: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    if args.participants == 0 {
        return Err(invalid("--participants must be at least 1"));
    }
    let root = bundled_root()?;
    // Refuse before doing anything, so a refused run leaves the folder untouched.
    prepare_out(&args.out, args.force)?;
    let out = &args.out;

    // 1. Validate the bundled protocol, stimuli included.
    let protocol_path = root.join(PROTOCOL);
    let protocol = load_or_invalid(&protocol_path)?;
    let protocol_dir = protocol_path.parent().unwrap_or(Path::new("."));
    let stimuli = crate::stimuli::check(&protocol, protocol_dir).map_err(|diags| {
        for d in &diags {
            eprintln!("{d}");
        }
        invalid("the bundled protocol's stimuli do not decode")
    })?;
    say!(
        "validated  {PROTOCOL}: {} clips, {} soundtracks checked, {} steps per trial",
        protocol.clips().len(),
        stimuli.len() - protocol.clips().len(),
        protocol.procedure().len()
    );

    // 2. Plan and check the counterbalancing.
    let n = args.participants;
    let cycle = cuelab_protocol::cycle_length(&protocol);
    let cb = cuelab_protocol::counterbalance(&protocol, n).context("counterbalancing")?;
    let min = cb.cells.iter().map(|c| c.count).min().unwrap_or(0);
    let max = cb.cells.iter().map(|c| c.count).max().unwrap_or(0);
    say!(
        "planned    {n} participants ({} full Latin-square cycle(s) of {cycle}); {} clip x condition cells seen {}",
        n / cycle,
        cb.cells.len(),
        if min == max {
            format!("{min} times each: balanced")
        } else {
            format!("{min} to {max} times: NOT balanced (use a multiple of {cycle} participants)")
        }
    );

    // 3. Simulate, presenting through the virtual devices.
    let seed = cuelab_protocol::protocol_seed(&protocol);
    let sim = Simulator::new(TimeModel::default(), seed);
    let durations = clip_durations(&protocol, protocol_dir)?;
    let mut rig = VirtualRig::new(&protocol, protocol_dir)?;
    let n_present = args.present.unwrap_or(n).min(n);
    let mut records = Vec::new();
    let t_sim = Instant::now();
    for k in 1..=n {
        let id = ParticipantId::parse(&format!("P{k:02}")).map_err(|e| invalid(e.to_string()))?;
        let plan = cuelab_protocol::plan(&protocol, &id, 1).context("planning trials")?;
        let presenter: Option<&mut dyn Presenter> = (k <= n_present).then_some(&mut rig as _);
        let session = run_session(&sim, &plan, protocol.procedure(), presenter, &|clip| {
            durations.get(clip).copied()
        })
        .with_context(|| format!("simulating participant {}", id.label()))?;
        records.extend(session);
    }
    let trials: Vec<TrialRow> = records.iter().map(TrialRow::from_record).collect();
    let responses: Vec<ResponseRow> = records.iter().flat_map(ResponseRow::from_record).collect();
    let n_presented = trials.iter().filter(|t| t.presented).count();
    say!(
        "simulated  {} trials ({n_presented} presented on a virtual {REFRESH_HZ} Hz display + virtual audio device) in {:.1} s, seed {seed}",
        trials.len(),
        t_sim.elapsed().as_secs_f64()
    );

    // 4. Export.
    write_trials(&out.join("trials.csv"), &trials)?;
    write_responses(&out.join("responses.csv"), &responses)?;
    let plan_path = out.join("analysis.toml");
    write_durably(&plan_path, PLAN.as_bytes())?;
    let readme = readme(&args, &protocol, seed, n_present, &trials);
    write_durably(&out.join("README.md"), readme.as_bytes())?;
    say!(
        "exported   {} (SIMULATED: column `simulated` = true), {}",
        out.join("trials.csv").display(),
        out.join("responses.csv").display()
    );

    // 5. Analyse the simulated study and the bundled real data.
    let plan = Plan::parse(PLAN, &plan_path).context("the demo's analysis plan")?;
    let sim_dir = out.join("time-perception");
    let sim_outcome = run_plan(&plan, &plan_path, None, Some(&sim_dir), &Formats::all())
        .context("analysing the simulated study")?;
    let mt_dir = out.join("musictime");
    let mt_outcome = run_plan_file(&root.join(MUSICTIME), &mt_dir, &Formats::all())
        .context("analysing the bundled MusicTime data")?;

    // 6. Summary.
    say!("");
    print_summary("simulated time perception", &sim_outcome, "music")?;
    print_cells(&sim_outcome)?;
    print_lmm(&sim_outcome, sim.model())?;
    print_summary("MusicTime (real data)", &mt_outcome, "Music")?;
    print_av_timing(&trials, clip_offset_ms(&protocol))?;
    say!(
        "report     {}\n           {}",
        sim_dir.join("report.html").display(),
        mt_dir.join("report.html").display()
    );
    say!("done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}

/// The repository holding the bundled study: the current folder if it has one, else the
/// source tree this binary was built from.
fn bundled_root() -> anyhow::Result<PathBuf> {
    let here = PathBuf::from(".");
    if here.join(PROTOCOL).is_file() {
        return Ok(here);
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    if built.join(PROTOCOL).is_file() {
        return Ok(built);
    }
    Err(invalid(format!(
        "cannot find the bundled study `{PROTOCOL}`: run `cuelab demo` from the cuelab repository"
    )))
}

fn prepare_out(out: &Path, force: bool) -> anyhow::Result<()> {
    match std::fs::read_dir(out) {
        Ok(mut entries) => {
            if entries.next().is_some() && !force {
                return Err(invalid(format!(
                    "`{}` exists and is not empty; choose another --out, or pass --force to replace the demo's files in it",
                    out.display()
                )));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(anyhow::Error::new(e).context(crate::error::Invalid(format!(
                "cannot use `{}` as the output folder",
                out.display()
            ))));
        }
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create `{}`", out.display()))
}

/// Each clip's duration in seconds, from its container.
fn clip_durations(protocol: &Protocol, dir: &Path) -> anyhow::Result<BTreeMap<String, f64>> {
    protocol
        .clips()
        .iter()
        .map(|c| {
            let info = probe(&dir.join(&c.path)).with_context(|| format!("clip `{}`", c.id))?;
            Ok((c.id.clone(), info.duration.as_nanos() as f64 / 1e9))
        })
        .collect()
}

/// The playback path on virtual devices: one virtual clock shared by a virtual audio device and
/// a virtual display, so every trial's onsets are measured by the production code, headless.
struct VirtualRig {
    clock: VirtualClock,
    device: VirtualDevice,
    engine: Engine,
    display: VirtualDisplay,
    clips: BTreeMap<String, PathBuf>,
    sounds: BTreeMap<String, Arc<Sound>>,
    config: PresentConfig,
    /// Time between trials (the fixation), audio device running.
    gap: SessionTime,
}

impl std::fmt::Debug for VirtualRig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualRig")
            .field("clips", &self.clips)
            .finish_non_exhaustive()
    }
}

impl VirtualRig {
    fn new(protocol: &Protocol, dir: &Path) -> anyhow::Result<Self> {
        let clock = VirtualClock::new();
        let mut config = EngineConfig::new(RATE, 2);
        config.buffer_frames = BUFFER_FRAMES;
        let (device, engine) = VirtualDevice::new(&config, clock.clone());
        let display = VirtualDisplay::new(clock.clone(), REFRESH_HZ);
        let clips = protocol
            .clips()
            .iter()
            .map(|c| (c.id.clone(), dir.join(&c.path)))
            .collect();
        // Soundtracks are decoded once (gain and fades applied) and shared by every trial.
        let mut sounds = BTreeMap::new();
        for s in protocol.soundtracks() {
            let options = DecodeOptions {
                target_rate: RATE,
                gain_db: s.gain_db as f32,
                fade_in: SessionTime::from_millis(i64::from(s.fade_in_ms)),
                fade_out: SessionTime::from_millis(i64::from(s.fade_out_ms)),
            };
            let sound = decode_file(&dir.join(&s.path), &options, &mut |_| {})
                .with_context(|| format!("decoding soundtrack `{}`", s.id))?;
            sounds.insert(s.id.clone(), Arc::new(sound));
        }
        let offset_ms = clip_offset_ms(protocol);
        let gap_ms = protocol
            .procedure()
            .iter()
            .find_map(|s| match &s.kind {
                StepKind::Fixation { ms } => Some(ms.mean_ms().round() as i64),
                _ => None,
            })
            .unwrap_or(500);
        Ok(Self {
            clock,
            device,
            engine,
            display,
            clips,
            sounds,
            config: PresentConfig {
                av_offset: SessionTime::from_nanos((offset_ms * 1e6).round() as i64),
                lead: SessionTime::from_millis(150),
                ..PresentConfig::default()
            },
            gap: SessionTime::from_millis(gap_ms),
        })
    }
}

impl Presenter for VirtualRig {
    fn present(
        &mut self,
        trial: &PlannedTrial,
    ) -> Result<Option<Timing>, Box<dyn std::error::Error + Send + Sync>> {
        let Some(clip) = &trial.clip else {
            return Ok(None);
        };
        let path = self
            .clips
            .get(clip)
            .ok_or_else(|| format!("no clip `{clip}` in the protocol"))?;
        let until = self.clock.now() + self.gap;
        self.device.render_until(until);
        let mut frames = ClipDecoder::open(path, &DecodeConfig::default())?;
        let timing = match &trial.soundtrack {
            Some(id) => {
                let sound = self
                    .sounds
                    .get(id)
                    .ok_or_else(|| format!("no soundtrack `{id}` in the protocol"))?;
                let mut out = EngineSoundtrack::on_virtual_device(
                    &mut self.engine,
                    &mut self.device,
                    self.clock.clone(),
                    Arc::clone(sound),
                    0.0,
                );
                present(&mut frames, &mut self.display, Some(&mut out), &self.config)?
            }
            None => present(&mut frames, &mut self.display, None, &self.config)?,
        };
        Ok(Some(to_timing(&timing)))
    }
}

/// The protocol's audio − video offset of the clip step, ms.
fn clip_offset_ms(protocol: &Protocol) -> f64 {
    protocol
        .procedure()
        .iter()
        .find_map(|s| match &s.kind {
            StepKind::Clip { offset_ms, .. } => Some(*offset_ms),
            _ => None,
        })
        .unwrap_or(0.0)
}

fn to_timing(t: &TrialTiming) -> Timing {
    Timing {
        scheduled_onset: t.scheduled_onset,
        audio_onset: t.audio_onset,
        video_onset: t.video_onset,
        wanted_av_offset_ms: t.wanted_av_offset_ms,
        av_offset_ms: t.av_offset_ms,
        frames_shown: t.frames_shown,
        frames_dropped: t.frames_dropped,
        xruns: t.xruns,
        flagged: t.flagged,
        flags: t.flags.iter().map(ToString::to_string).collect(),
    }
}

fn readme(
    args: &Args,
    protocol: &Protocol,
    seed: u64,
    n_present: u64,
    trials: &[TrialRow],
) -> String {
    format!(
        "# SIMULATED DATA — not real participants\n\n\
         Written by `cuelab demo --out {out} --participants {n}{present}` (cuelab {version}).\n\n\
         - Study: `{PROTOCOL}` (`{id}` {pversion}, SHA-256 `{sha}`), study seed {seed}.\n\
         - {n} simulated participants (P01..P{n:02}), session 1, {rows} trials.\n\
         - Responses come from the simulated time-perception participant of `cuelab-session`\n  \
           (`simulate` module: music effects on the log duration ratio, participant and clip\n  \
           random offsets, Vierordt regression, noise; parameters below). Every row of\n  \
           `trials.csv` and `responses.csv` has `simulated = true`.\n\
         - Timing columns (`scheduled_onset_ns` .. `flagged`) of the first {n_present} participants\n  \
           were measured by the real presentation code (FFmpeg decoding, audio engine, frame\n  \
           clock) on a virtual audio device ({RATE} Hz, {BUFFER_FRAMES}-frame buffers) and a\n  \
           virtual {REFRESH_HZ} Hz display sharing a virtual clock; `presented` says which rows.\n\n\
         Files: `trials.csv` (one row per trial), `responses.csv` (one row per response),\n\
         `analysis.toml` (rerun with `cuelab analyze analysis.toml --out DIR`),\n\
         `time-perception/` (its results and `report.html`), `musictime/` (the bundled real\n\
         MusicTime data analysed with `{MUSICTIME}`).\n\n\
         Model parameters:\n\n```text\n{model:#?}\n```\n",
        out = args.out.display(),
        n = args.participants,
        present = args
            .present
            .map_or_else(String::new, |p| format!(" --present {p}")),
        version = env!("CARGO_PKG_VERSION"),
        id = protocol.experiment().id,
        pversion = protocol.experiment().version,
        sha = protocol.sha256(),
        rows = trials.len(),
        model = TimeModel::default(),
    )
}

fn print_summary(label: &str, outcome: &Outcome, factor: &str) -> std::io::Result<()> {
    let r = &outcome.results;
    say!(
        "{label}: {} rows analysed of {}, {} participants",
        r.n_rows,
        r.n_rows_read,
        r.n_subjects
    );
    for (name, anova) in r.anova.iter() {
        if let Some(e) = anova.effects.get(factor) {
            say!(
                "  ANOVA `{name}`: {factor} F({}, {}) = {:.2}, p {}, ges = {:.3}",
                e.df_num,
                e.df_den,
                e.f,
                fmt_p(e.p),
                e.ges
            );
        }
    }
    if let Some(pw) = r.pairwise.get(factor) {
        for (pair, c) in pw.comparisons.iter() {
            say!(
                "    {pair}: {:+.3}, p(Holm) {}, dz = {:.2}",
                c.estimate,
                fmt_p(c.p_holm),
                c.dz
            );
        }
    }
    Ok(())
}

/// The mixed models' fixed effects and variance components, beside the simulation's truth.
fn print_lmm(outcome: &Outcome, model: &TimeModel) -> std::io::Result<()> {
    for (name, lmm) in outcome.results.lmm.iter() {
        say!("  LMM `{name}`: {}", lmm.formula);
        for (term, e) in lmm.fixed.iter() {
            let truth = term
                .strip_prefix(model.factor.as_str())
                .and_then(|level| {
                    let reference = model.music_effects.get("silence")?;
                    Some(model.music_effects.get(level)? - reference)
                })
                .map_or_else(String::new, |t| format!(" (simulated {t:+.3})"));
            say!(
                "    {term}: {:+.3} (SE {:.3}, t({:.1}) = {:.2}, p {}){truth}",
                e.estimate,
                e.se,
                e.df,
                e.t,
                fmt_p(e.p)
            );
        }
        let sds: Vec<String> = lmm
            .random
            .iter()
            .map(|(g, v)| format!("{g} {:.3}", v.sd))
            .collect();
        say!(
            "    SDs: {} (simulated participant {:.3}, clip {:.3}, residual {:.3})",
            sds.join(", "),
            model.participant_sd,
            model.clip_sd,
            model.perception_sd.hypot(model.verbal_sd)
        );
    }
    Ok(())
}

fn fmt_p(p: f64) -> String {
    if p < 0.001 {
        format!("< 0.001 ({p:.1e})")
    } else {
        format!("= {p:.3}")
    }
}

fn print_cells(outcome: &Outcome) -> std::io::Result<()> {
    let Some(d) = &outcome.results.descriptives else {
        return Ok(());
    };
    let cells: Vec<String> = d
        .cells
        .iter()
        .map(|(name, c)| format!("{name} {:.3} (x{:.3})", c.mean, c.mean.exp()))
        .collect();
    say!("  mean log(verbal/actual): {}", cells.join(", "));
    if let Some(t) = outcome.results.timing.get("reproduction_ratio") {
        let cells: Vec<String> = t
            .cells
            .iter()
            .map(|(name, c)| format!("{name} {:.3}", c.mean))
            .collect();
        say!("  mean reproduction/actual: {}", cells.join(", "));
    }
    Ok(())
}

/// Median and maximum |measured − protocol| audio − video offset over presented trials with
/// music, and the faults.
fn print_av_timing(trials: &[TrialRow], target_ms: f64) -> std::io::Result<()> {
    let mut errors: Vec<f64> = trials
        .iter()
        .filter_map(|t| t.av_offset_ms)
        .map(|av| (av - target_ms).abs())
        .collect();
    let presented = trials.iter().filter(|t| t.presented).count();
    let flagged = trials.iter().filter(|t| t.flagged).count();
    let dropped: u64 = trials.iter().filter_map(|t| t.frames_dropped).sum();
    let xruns: u64 = trials.iter().filter_map(|t| t.xruns).sum();
    if errors.is_empty() {
        say!("timing     no presented trial had music");
        return Ok(());
    }
    errors.sort_by(f64::total_cmp);
    let median = errors[errors.len() / 2];
    let max = errors[errors.len() - 1];
    say!(
        "timing     |av_offset - target| over {} presented trials with music: median {:.6} ms, max {:.6} ms; {presented} presented, {flagged} flagged, {dropped} frames dropped, {xruns} xruns",
        errors.len(),
        median,
        max
    );
    Ok(())
}
