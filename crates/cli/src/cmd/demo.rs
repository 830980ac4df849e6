//! `cuelab demo`: first contact. The bundled time-perception study is validated, planned for N
//! simulated participants (counterbalancing checked), run through the one session runner on
//! virtual devices (`cuelab simulate`: virtual audio device + virtual 60 Hz display on one
//! virtual clock, so no sound card and no display are needed), exported (`cuelab export`: tidy
//! tables, psych-DS, BIDS), and analysed; the bundled real MusicTime data is analysed into the
//! same folder.
//!
//! Only the wiring lives here: no loop of its own.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use cuelab_analysis::{Formats, Outcome, Plan, run_plan, run_plan_file};
use cuelab_export::Value;
use cuelab_protocol::Protocol;
use cuelab_protocol::model::StepKind;
use cuelab_session::Model;
use cuelab_session::simulate::TimeModel;

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
/// The most simulated participants the demo runs.
const MAX_PARTICIPANTS: u64 = 1000;
/// The simulated answers' seed.
const SEED: u64 = 20_261_129;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output folder; refused if it exists and is not empty (unless --force).
    #[arg(long, default_value = "cuelab-demo")]
    out: PathBuf,
    /// Simulated participants (4 make one Latin-square cycle).
    #[arg(long, default_value_t = 24)]
    participants: u64,
    /// Write into an existing non-empty folder, replacing the demo's files in it.
    #[arg(long)]
    force: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    if args.participants == 0 || args.participants > MAX_PARTICIPANTS {
        return Err(invalid(format!(
            "--participants must be from 1 to {MAX_PARTICIPANTS}"
        )));
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
        "planned    {n} participants ({} full counterbalancing cycle(s) of {cycle}); {} clip x condition cells seen {}",
        n / cycle,
        cb.cells.len(),
        if min == max {
            format!("{min} times each: balanced")
        } else {
            format!("{min} to {max} times: NOT balanced (use a multiple of {cycle} participants)")
        }
    );

    // 3. Simulate through the runner on virtual devices; 4. export.
    let model = Model::default();
    let data_dir = out.join("data");
    if data_dir.exists() {
        std::fs::remove_dir_all(&data_dir)
            .with_context(|| format!("replacing {}", data_dir.display()))?;
    }
    let sim = crate::cmd::simulate::simulate_sessions(
        &protocol,
        &protocol_path,
        n,
        SEED,
        &model,
        &data_dir,
        crate::cmd::simulate::default_jobs(),
    )?;
    let export_dir = out.join("export");
    let summary = cuelab_export::export(
        std::slice::from_ref(&data_dir),
        &export_dir,
        &cuelab_export::Options::default(),
    )
    .context("exporting the simulated sessions")?;
    say!(
        "simulated  {} sessions through the session runner on a virtual 60 Hz display + virtual audio device in {:.1} s ({:.0} sessions/s), seed {SEED}: {} trials",
        sim.sessions,
        sim.seconds,
        sim.sessions as f64 / sim.seconds.max(1e-9),
        summary.trials
    );
    let trials_csv = export_dir.join("data").join(format!(
        "experiment-{}_table-trials_data.csv",
        keyword(&protocol.experiment().id)
    ));
    say!(
        "exported   {} (SIMULATED: column `simulated` = TRUE), psych-DS + BIDS in {}",
        trials_csv.display(),
        export_dir.display()
    );

    // 5. Analyse the simulated study and the bundled real data.
    let plan_text = PLAN.replace(
        "trials.csv",
        &format!(
            "export/data/{}",
            trials_csv.file_name().unwrap_or_default().to_string_lossy()
        ),
    );
    let plan_path = out.join("analysis.toml");
    cuelab_session::durable::write_durably(&plan_path, plan_text.as_bytes())?;
    let readme = readme(&args, &protocol, &model);
    cuelab_session::durable::write_durably(&out.join("README.md"), readme.as_bytes())?;
    let plan = Plan::parse(&plan_text, &plan_path).context("the demo's analysis plan")?;
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
    print_lmm(&sim_outcome, &model.time)?;
    print_summary("MusicTime (real data)", &mt_outcome, "Music")?;
    print_av_timing(&data_dir, clip_offset_ms(&protocol))?;
    say!(
        "report     {}\n           {}",
        sim_dir.join("report.html").display(),
        mt_dir.join("report.html").display()
    );
    say!("done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}

fn keyword(s: &str) -> String {
    s.chars().filter(char::is_ascii_alphanumeric).collect()
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

fn readme(args: &Args, protocol: &Protocol, model: &Model) -> String {
    format!(
        "# SIMULATED DATA — not real participants\n\n\
         Written by `cuelab demo --out {out} --participants {n}` (cuelab {version}).\n\n\
         - Study: `{PROTOCOL}` (`{id}` {pversion}, SHA-256 `{sha}`), simulated answers seed {SEED}.\n\
         - {n} simulated participants (S001..), session 1, each run through the session runner\n  \
           (`cuelab_session::run`) on a virtual audio device and a virtual 60 Hz display sharing\n  \
           a virtual clock: the same code path as `cuelab run`, journaled in `data/`.\n\
         - `export/`: tidy tables (CSV in `export/data/`, Parquet in `export/parquet/`), psych-DS\n  \
           `dataset_description.json` and `codebook.csv`, a BIDS dataset in `export/bids/`. Every row\n  \
           has `simulated = TRUE`.\n\
         - `analysis.toml` (rerun with `cuelab analyze analysis.toml --out DIR`),\n  \
           `time-perception/` (its results and `report.html`), `musictime/` (the bundled real\n  \
           MusicTime data analysed with `{MUSICTIME}`).\n\n\
         Model parameters:\n\n```text\n{model:#?}\n```\n",
        out = args.out.display(),
        n = args.participants,
        version = env!("CARGO_PKG_VERSION"),
        id = protocol.experiment().id,
        pversion = protocol.experiment().version,
        sha = protocol.sha256(),
    )
}

/// Median and maximum |measured − protocol| audio − video offset over trials with music, and
/// the faults, read back from the journals through the export's tables.
fn print_av_timing(data_dir: &Path, target_ms: f64) -> anyhow::Result<()> {
    let sessions = cuelab_export::collect(&[data_dir.to_path_buf()])?;
    let tables = cuelab_export::build(&sessions);
    let t = &tables.trials;
    let mut errors = Vec::new();
    let (mut flagged, mut dropped, mut xruns) = (0, 0i64, 0i64);
    for i in 0..t.len() {
        if let Value::Float(av) = t.get(i, "av_offset_ms") {
            errors.push((av - target_ms).abs());
        }
        if *t.get(i, "flagged") == Value::Bool(true) {
            flagged += 1;
        }
        if let Value::Int(d) = t.get(i, "frames_dropped") {
            dropped += d;
        }
        if let Value::Int(x) = t.get(i, "xruns") {
            xruns += x;
        }
    }
    if errors.is_empty() {
        say!("timing     no trial had music");
        return Ok(());
    }
    errors.sort_by(f64::total_cmp);
    say!(
        "timing     |av_offset - target| over {} trials with music: median {:.6} ms, max {:.6} ms; {} trials, {flagged} flagged, {dropped} frames dropped, {xruns} xruns",
        errors.len(),
        errors[errors.len() / 2],
        errors[errors.len() - 1],
        t.len()
    );
    Ok(())
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
                c.dz.unwrap_or(f64::NAN)
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
