//! `cuelab demo`: first contact. Each of the four bundled studies (time perception, congruence,
//! emotion attribution, memory bias) is validated, planned for N simulated participants
//! (counterbalancing checked), run through the one session runner on virtual devices
//! (`cuelab simulate`'s `simulate_sessions`: virtual audio device + virtual 60 Hz display on one
//! virtual clock, so no sound card and no display are needed), exported (`cuelab export`: tidy
//! tables, psych-DS, BIDS) and analysed with its plan; the bundled real MusicTime data is
//! analysed into the same folder, and `OUT/index.html` links the five reports.
//!
//! Only the wiring lives here: no loop of its own. The one piece of data handling is the
//! memory-bias study's recognition table, which joins the exported old/new answers with the
//! protocol's recognition file (which details were old, which fit the music's mood), because the
//! analysis reads one table.

use std::fmt::Write as _;
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

/// One bundled study and how the demo analyses it.
struct Study {
    /// The protocol, relative to the repository root.
    protocol: &'static str,
    /// The folder under OUT.
    key: &'static str,
    /// What the study asks, for the index.
    title: &'static str,
    /// The published effect the simulated participants mirror.
    effect: &'static str,
    /// The analysis plan (its data path is replaced by the exported table's).
    plan: &'static str,
    /// The data file the plan names, replaced by the real path.
    placeholder: &'static str,
    /// The factor whose ANOVA and pairwise comparisons the summary prints.
    factor: &'static str,
    /// Whether the plan analyses the continuous ratings (`[continuous]`): the demo adds the
    /// designed affect curves the protocol declares as `[continuous.curves]`.
    continuous: bool,
}

const STUDIES: [Study; 4] = [
    Study {
        protocol: "protocols/time-perception.toml",
        key: "time-perception",
        title: "Film music and perceived duration",
        effect: "arousing music lengthens, relaxing and sad music shorten verbal estimates and reproductions (Droit-Volet et al. 2013; Ansani et al. 2021)",
        plan: include_str!("demo_analysis.toml"),
        placeholder: "trials.csv",
        factor: "music",
        continuous: false,
    },
    Study {
        protocol: "protocols/congruence.toml",
        key: "congruence",
        title: "Music and the meaning of animated shapes",
        effect: "music fits the animation that shares its character (a music x clip interaction in fit) and colours the shapes' rated activity and mood (Marshall & Cohen 1988)",
        plan: include_str!("demo_congruence.toml"),
        placeholder: "trials.csv",
        factor: "music",
        continuous: false,
    },
    Study {
        protocol: "protocols/emotion-attribution.toml",
        key: "emotion-attribution",
        title: "Music and the emotions read into a scene",
        effect: "the music's valence moves the valence attributed to the scene; continuous ratings follow a change in the music with a lag (Tan et al. 2007; Hoeckner et al. 2011)",
        plan: include_str!("demo_emotion.toml"),
        placeholder: "trials.csv",
        factor: "music",
        continuous: true,
    },
    Study {
        protocol: "protocols/memory-bias.toml",
        key: "memory-bias",
        title: "Film music and memory for scenes",
        effect: "details that fit the music's mood but were not in the scene are falsely recognised more often (Boltz 2001)",
        plan: include_str!("demo_memory.toml"),
        placeholder: "recognition.csv",
        factor: "detail",
        continuous: false,
    },
];

/// The bundled real dataset's plan.
const MUSICTIME: &str = "analysis/musictime.toml";
/// The fewest simulated participants the demo runs per study: one counterbalancing cycle of
/// every bundled study, and enough for the emotion study's mixed ANOVA (2 groups).
const MIN_PARTICIPANTS: u64 = 4;
/// The most simulated participants the demo runs per study.
const MAX_PARTICIPANTS: u64 = 1000;
/// The simulated answers' seed.
const SEED: u64 = 20_261_129;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output folder; refused if it exists and is not empty (unless --force).
    #[arg(long, default_value = "cuelab-demo")]
    out: PathBuf,
    /// Simulated participants per study (4 make one counterbalancing cycle of every study).
    #[arg(long, default_value_t = 24)]
    participants: u64,
    /// Write into an existing non-empty folder, replacing the demo's files in it.
    #[arg(long)]
    force: bool,
}

/// What one study's run gave, for the summary and the index.
struct Done {
    outcome: Outcome,
    report: PathBuf,
    sessions: usize,
    trials: usize,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    if !(MIN_PARTICIPANTS..=MAX_PARTICIPANTS).contains(&args.participants) {
        return Err(invalid(format!(
            "--participants must be from {MIN_PARTICIPANTS} to {MAX_PARTICIPANTS}"
        )));
    }
    let root = bundled_root()?;
    // Refuse before doing anything, so a refused run leaves the folder untouched.
    prepare_out(&args.out, args.force)?;
    let out = &args.out;
    let model = Model::default();

    let mut done = Vec::new();
    for study in &STUDIES {
        done.push(run_study(study, &root, out, args.participants, &model)?);
    }
    let mt_dir = out.join("musictime");
    let mt_outcome = run_plan_file(&root.join(MUSICTIME), &mt_dir, &Formats::all())
        .context("analysing the bundled MusicTime data")?;

    let readme = readme(&args, &model);
    cuelab_session::durable::write_durably(&out.join("README.md"), readme.as_bytes())?;
    let index = out.join("index.html");
    let html = index_html(&args, &done, &mt_outcome);
    cuelab_session::durable::write_durably(&index, html.as_bytes())?;

    // Summary.
    say!("");
    for (study, d) in STUDIES.iter().zip(&done) {
        print_summary(
            &format!("simulated {} ({})", study.key, study.title),
            &d.outcome,
            study.factor,
        )?;
        if study.key == "time-perception" {
            print_cells(&d.outcome)?;
            print_lmm(&d.outcome, &model.time)?;
        }
    }
    print_summary("MusicTime (real data)", &mt_outcome, "Music")?;
    say!("");
    say!("reports    {}", index.display());
    for d in &done {
        say!("           {}", d.report.display());
    }
    say!("           {}", mt_dir.join("report.html").display());
    say!("done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}

/// Validates, plans, simulates, exports and analyses one study into `OUT/<key>/`.
fn run_study(
    study: &Study,
    root: &Path,
    out: &Path,
    n: u64,
    model: &Model,
) -> anyhow::Result<Done> {
    let dir = out.join(study.key);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;

    // 1. Validate the bundled protocol, stimuli included.
    let protocol_path = root.join(study.protocol);
    let protocol = load_or_invalid(&protocol_path)?;
    let protocol_dir = protocol_path.parent().unwrap_or(Path::new("."));
    let stimuli = crate::stimuli::check(&protocol, protocol_dir).map_err(|diags| {
        for d in &diags {
            eprintln!("{d}");
        }
        invalid(format!(
            "the bundled protocol `{}`'s stimuli do not decode",
            study.protocol
        ))
    })?;
    say!(
        "validated  {}: {} clips, {} soundtracks checked, {} steps per trial",
        study.protocol,
        protocol.clips().len(),
        stimuli.reports.len() - protocol.clips().len(),
        protocol.procedure().len()
    );

    // 2. Plan and check the counterbalancing.
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
    let data_dir = dir.join("data");
    if data_dir.exists() {
        std::fs::remove_dir_all(&data_dir)
            .with_context(|| format!("replacing {}", data_dir.display()))?;
    }
    let sim = crate::cmd::simulate::simulate_sessions(
        &protocol,
        &protocol_path,
        n,
        SEED,
        model,
        &data_dir,
        crate::cmd::simulate::default_jobs(),
    )?;
    let export_dir = dir.join("export");
    let summary = cuelab_export::export(
        std::slice::from_ref(&data_dir),
        &export_dir,
        &cuelab_export::Options::default(),
    )
    .context("exporting the simulated sessions")?;
    say!(
        "simulated  {} sessions through the session runner on a virtual 60 Hz display + virtual audio device in {:.1} s, seed {SEED}: {} trials, exported to {} (SIMULATED: column `simulated` = TRUE)",
        sim.sessions,
        sim.seconds,
        summary.trials,
        export_dir.display()
    );
    print_av_timing(&data_dir, clip_offset_ms(&protocol))?;

    // 5. Analyse.
    let data_file = if study.placeholder == "recognition.csv" {
        let table = recognition_table(&protocol, &data_dir)?;
        cuelab_session::durable::write_durably(&dir.join("recognition.csv"), table.as_bytes())?;
        "recognition.csv".to_string()
    } else {
        format!(
            "export/data/experiment-{}_table-trials_data.csv",
            keyword(&protocol.experiment().id)
        )
    };
    let mut plan_text = study.plan.replace(
        &format!("path = \"{}\"", study.placeholder),
        &format!("path = \"{data_file}\""),
    );
    if study.continuous {
        plan_text.push_str(&designed_curves(&protocol, &dir)?);
    }
    let plan_path = dir.join("analysis.toml");
    cuelab_session::durable::write_durably(&plan_path, plan_text.as_bytes())?;
    let plan = Plan::parse(&plan_text, &plan_path)
        .with_context(|| format!("the demo's analysis plan for {}", study.key))?;
    let report_dir = dir.join("report");
    let outcome = run_plan(&plan, &plan_path, None, Some(&report_dir), &Formats::all())
        .with_context(|| format!("analysing the simulated {} study", study.key))?;
    Ok(Done {
        outcome,
        report: report_dir.join("report.html"),
        sessions: sim.sessions,
        trials: summary.trials,
    })
}

fn keyword(s: &str) -> String {
    s.chars().filter(char::is_ascii_alphanumeric).collect()
}

/// The memory-bias study's answers as one table: a row per old/new answer in a test trial,
/// with the trial's clip and mood, whether the detail was old and whether it fits the music's
/// mood (`congruent`, `incongruent`, or `none` for a scene shown without music), and
/// `said_old` (1 = "old").
fn recognition_table(protocol: &Protocol, data_dir: &Path) -> anyhow::Result<String> {
    let items: Vec<_> = protocol
        .procedure()
        .iter()
        .filter_map(|s| match &s.kind {
            StepKind::Recognition { items, .. } => Some(items),
            _ => None,
        })
        .flatten()
        .collect();
    let sessions = cuelab_export::collect(&[data_dir.to_path_buf()])?;
    let tables = cuelab_export::build(&sessions);
    // (participant, trial index) -> (clip, soundtrack, mood) of test trials.
    let t = &tables.trials;
    let mut trials = std::collections::BTreeMap::new();
    for i in 0..t.len() {
        if *t.get(i, "practice") == Value::Bool(true) {
            continue;
        }
        trials.insert(
            (text(t.get(i, "participant")), text(t.get(i, "trial_index"))),
            (
                text(t.get(i, "clip")),
                text(t.get(i, "soundtrack")),
                text(t.get(i, "mood")),
            ),
        );
    }
    let mut csv = String::from("participant,trial_index,clip,mood,old,detail,said_old\n");
    let r = &tables.responses;
    for i in 0..r.len() {
        if text(r.get(i, "kind")) != "recognition" {
            continue;
        }
        let key = (text(r.get(i, "participant")), text(r.get(i, "trial_index")));
        let Some((clip, soundtrack, mood)) = trials.get(&key) else {
            continue;
        };
        let item = text(r.get(i, "item"));
        let Some(row) = items.iter().find(|x| x.clip == *clip && x.item == item) else {
            continue;
        };
        let detail = match (soundtrack.is_empty(), row.congruent) {
            (true, _) | (false, None) => "none",
            (false, Some(true)) => "congruent",
            (false, Some(false)) => "incongruent",
        };
        let said_old = match r.get(i, "value") {
            Value::Float(v) => *v,
            Value::Int(v) => *v as f64,
            _ => continue,
        };
        writeln!(
            csv,
            "{},{},{clip},{mood},{},{detail},{said_old}",
            key.0, key.1, row.old
        )?;
    }
    Ok(csv)
}

/// The designed affect curve of every test soundtrack the protocol declares one for, written to
/// `DIR/curves/<id>.curve.csv` (`t_s,valence,arousal`), as the plan's `[continuous.curves]`
/// section (the music levels are soundtrack ids).
fn designed_curves(protocol: &Protocol, dir: &Path) -> anyhow::Result<String> {
    let curves_dir = dir.join("curves");
    std::fs::create_dir_all(&curves_dir)
        .with_context(|| format!("creating {}", curves_dir.display()))?;
    let mut section = String::from("\n[continuous.curves]\n");
    for s in protocol.soundtracks().iter().filter(|s| !s.practice) {
        let Some(curve) = &s.curve else { continue };
        let mut csv = String::from("t_s,valence,arousal\n");
        for p in curve {
            let _ = writeln!(csv, "{},{},{}", p.t_s, p.valence, p.arousal);
        }
        let file = format!("curves/{}.curve.csv", s.id);
        cuelab_session::durable::write_durably(&dir.join(&file), csv.as_bytes())?;
        let _ = writeln!(section, "\"{}\" = \"{file}\"", s.id);
    }
    Ok(section)
}

/// A table value as CSV text.
fn text(v: &Value) -> String {
    match v {
        Value::Str(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => String::new(),
    }
}

/// The repository holding the bundled studies: the current folder if it has them, else the
/// source tree this binary was built from.
fn bundled_root() -> anyhow::Result<PathBuf> {
    let first = STUDIES[0].protocol;
    let here = PathBuf::from(".");
    if here.join(first).is_file() {
        return Ok(here);
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    if built.join(first).is_file() {
        return Ok(built);
    }
    Err(invalid(format!(
        "cannot find the bundled study `{first}`: run `cuelab demo` from the cuelab repository"
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

fn readme(args: &Args, model: &Model) -> String {
    let mut studies = String::new();
    for s in &STUDIES {
        let _ = writeln!(
            studies,
            "- `{key}/`: `{protocol}` — journals in `data/`, tidy tables in `export/` (CSV in\n  \
             `export/data/`, Parquet in `export/parquet/`, psych-DS, BIDS in `export/bids/`),\n  \
             `analysis.toml` (rerun with `cuelab analyze {key}/analysis.toml --out DIR`) and its\n  \
             results in `report/`. Mirrors: {effect}.",
            key = s.key,
            protocol = s.protocol,
            effect = s.effect,
        );
    }
    format!(
        "# SIMULATED DATA — not real participants\n\n\
         Written by `cuelab demo --out {out} --participants {n}` (cuelab {version}).\n\n\
         {n} simulated participants per study (S001..), session 1, simulated answers seed {SEED},\n\
         each run through the session runner (`cuelab_session::run`) on a virtual audio device and a\n\
         virtual 60 Hz display sharing a virtual clock: the same code path as `cuelab run`. Every\n\
         exported row has `simulated = TRUE`. `index.html` links the reports.\n\n\
         {studies}\
         - `musictime/`: the bundled real MusicTime data analysed with `{MUSICTIME}`.\n\
         - `memory-bias/recognition.csv`: the exported old/new answers joined with the protocol's\n  \
           recognition file (`old`, `detail` = congruent / incongruent / none), as analysed.\n\n\
         Model parameters (the default model):\n\n```text\n{model:#?}\n```\n",
        out = args.out.display(),
        n = args.participants,
        version = env!("CARGO_PKG_VERSION"),
    )
}

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The main result line of an outcome: the ANOVA effect of `factor` (or its interaction) as
/// reported.
fn headline(outcome: &Outcome, factor: &str) -> String {
    let mut lines = Vec::new();
    for (name, anova) in outcome.results.anova.iter() {
        for (effect, e) in anova.effects.iter() {
            if effect.contains(factor) {
                lines.push(esc(&format!(
                    "ANOVA {name}: {effect} F({}, {}) = {:.2}, p {}, η²G = {:.3}",
                    e.df_num,
                    e.df_den,
                    e.f,
                    fmt_p(e.p),
                    e.ges
                )));
            }
        }
    }
    lines.join("<br>")
}

/// `OUT/index.html`: one page linking every report, with each study's headline result.
fn index_html(args: &Args, done: &[Done], musictime: &Outcome) -> String {
    let mut rows = String::new();
    for (s, d) in STUDIES.iter().zip(done) {
        let _ = writeln!(
            rows,
            "<tr><td><a href=\"{key}/report/report.html\">{title}</a><br><code>{protocol}</code></td>\
             <td>{effect}</td><td>{sessions} sessions, {trials} trials</td><td>{head}</td></tr>",
            key = s.key,
            title = esc(s.title),
            protocol = s.protocol,
            effect = esc(s.effect),
            sessions = d.sessions,
            trials = d.trials,
            head = headline(&d.outcome, s.factor),
        );
    }
    let _ = writeln!(
        rows,
        "<tr><td><a href=\"musictime/report.html\">MusicTime (real data)</a><br><code>{MUSICTIME}</code></td>\
         <td>produced duration of 45 s with upbeat, calm or no music (Stat2Data; 20 participants)</td>\
         <td>{} rows</td><td>{}</td></tr>",
        musictime.results.n_rows,
        headline(musictime, "Music")
    );
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>cuelab demo</title><style>\
         body{{font-family:system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em;color:#222}}\
         table{{border-collapse:collapse;width:100%}}td,th{{border:1px solid #ccc;padding:.5em;vertical-align:top;text-align:left}}\
         th{{background:#f3f3f3}}.sim{{background:#fff3cd;border:1px solid #e0c060;padding:.6em 1em}}\
         </style></head><body>\n<h1>cuelab demo</h1>\n\
         <p class=\"sim\"><strong>SIMULATED DATA</strong> for the four bundled studies: {n} simulated \
         participants each, run through the session runner on virtual devices (seed {SEED}); \
         MusicTime is real data.</p>\n\
         <p>Written by <code>cuelab demo --out {out} --participants {n}</code> (cuelab {version}). \
         See <code>README.md</code> beside this page.</p>\n\
         <table><tr><th>Study and report</th><th>Effect the simulated participants mirror</th>\
         <th>Data</th><th>Result</th></tr>\n{rows}</table>\n</body></html>\n",
        n = args.participants,
        out = esc(&args.out.display().to_string()),
        version = env!("CARGO_PKG_VERSION"),
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
        for (effect, e) in anova.effects.iter() {
            if effect.contains(factor) {
                say!(
                    "  ANOVA `{name}`: {effect} F({}, {}) = {:.2}, p {}, ges = {:.3}",
                    e.df_num,
                    e.df_den,
                    e.f,
                    fmt_p(e.p),
                    e.ges
                );
            }
        }
    }
    if let Some(pw) = r.pairwise.get(factor) {
        for (pair, c) in pw.comparisons.iter() {
            // Mixed designs compare marginal means (emmeans): there is no paired dz.
            let dz =
                c.dz.filter(|d| d.is_finite())
                    .map_or_else(String::new, |d| format!(", dz = {d:.2}"));
            say!(
                "    {pair}: {:+.3}, p(Holm) {}{dz}",
                c.estimate,
                fmt_p(c.p_holm)
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
