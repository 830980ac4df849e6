//! `cuelab validate PROTOCOL...`: exit 0 when every protocol is valid, 2 otherwise, with
//! `file:line:col` diagnostics on stderr. Prints each stimulus's facts (durations, levels,
//! integrated loudness and the gain applied under `normalize_lufs`), located warnings (e.g.
//! soundtracks of one factor that differ in loudness) and an estimate of one session's length.
//! Writes nothing, unless `--write-normalized DIR` asks for the gain-applied soundtracks as WAV.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use cuelab_core::ParticipantId;
use cuelab_protocol::Protocol;
use cuelab_protocol::model::{EstimateMethod, StepKind};

use crate::error::invalid;
use crate::protocol_files::{LoadError, load};
use crate::stimuli::Checked;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Protocol files (TOML).
    #[arg(required = true)]
    protocols: Vec<PathBuf>,
    /// Write every soundtrack as it will play (gain_db and `normalize_lufs` applied, 48 kHz,
    /// 32-bit float WAV) to DIR/<soundtrack>.wav, for checking with any loudness meter. Needs
    /// exactly one protocol.
    #[arg(long, value_name = "DIR")]
    write_normalized: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.write_normalized.is_some() && args.protocols.len() != 1 {
        return Err(invalid("--write-normalized takes exactly one protocol"));
    }
    let mut n_bad = 0;
    for path in &args.protocols {
        match load(path) {
            Ok(p) => {
                let dir = path
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                match crate::stimuli::check(&p, dir) {
                    Ok(checked) => {
                        report(path, &p, &checked);
                        if let Some(out) = &args.write_normalized {
                            write_normalized(out, &checked)?;
                        }
                    }
                    Err(diags) => {
                        for d in diags {
                            eprintln!("{d}");
                        }
                        n_bad += 1;
                        continue;
                    }
                }
            }
            Err(LoadError::Invalid(d)) => {
                eprintln!("{d}");
                n_bad += 1;
            }
            Err(LoadError::Io(e)) => {
                eprintln!("{}:1:1: error: {e:#}", path.display());
                n_bad += 1;
            }
        }
    }
    if n_bad > 0 {
        eprintln!("{n_bad} of {} protocol(s) invalid", args.protocols.len());
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

fn report(path: &Path, p: &Protocol, checked: &Checked) {
    eprintln!(
        "{}: ok — `{}`: {} clip(s), {} soundtrack(s), {} factor(s), {} step(s) per trial",
        path.display(),
        p.experiment().id,
        p.clips().len(),
        p.soundtracks().len(),
        p.factors().len(),
        p.procedure().len()
    );
    for r in &checked.reports {
        eprintln!("  {}: {}", r.id, r.summary);
        for w in &r.warnings {
            eprintln!("  warning: {w}");
        }
    }
    for w in &checked.warnings {
        eprintln!("{w}");
    }
    if let Some(estimate) = session_estimate(p, checked) {
        eprintln!("  {estimate}");
    }
}

fn write_normalized(dir: &Path, checked: &Checked) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    for t in &checked.soundtracks {
        let path = dir.join(format!("{}.wav", t.id));
        cuelab_playback::loudness::write_wav(&path, &t.sound, t.normalization_db)?;
        eprintln!(
            "  wrote {} (applied gain {:+.2} dB{})",
            path.display(),
            t.applied_gain_db,
            t.playing_lufs
                .map_or(String::new(), |l| format!(", {l:.1} LUFS"))
        );
    }
    Ok(())
}

/// Allowances for the time participants take (stated in the printed estimate).
const ANSWER_S: f64 = 5.0;
const RATING_ITEM_S: f64 = 3.0;
const QUESTIONNAIRE_ITEM_S: f64 = 8.0;
const PAGE_S: f64 = 30.0;
const BREAK_S: f64 = 30.0;

/// Seconds of one session, by what fills them.
#[derive(Default)]
struct Totals {
    stimuli_s: f64,
    timed_s: f64,
    answers_s: f64,
}

impl Totals {
    /// Adds a step that runs; `presentation_s` is the trial's clip (or soundtrack) duration and
    /// `clip` its clip (recognition asks about that clip's items only).
    fn step(&mut self, p: &Protocol, step_id: &str, presentation_s: f64, clip: Option<&str>) {
        let Some(step) = p.step(step_id) else { return };
        if let Some(d) = step.duration() {
            self.timed_s += d.mean_ms() / 1000.0;
            return;
        }
        self.answers_s += match &step.kind {
            StepKind::Clip { .. } => {
                self.stimuli_s += presentation_s;
                0.0
            }
            StepKind::Instructions { .. } | StepKind::Consent { .. } => PAGE_S,
            StepKind::Rating(r) => ANSWER_S.max(RATING_ITEM_S * r.items.len() as f64),
            StepKind::Questionnaire(q) => QUESTIONNAIRE_ITEM_S * q.items.len() as f64,
            StepKind::TimeEstimate {
                method: EstimateMethod::Reproduction,
                ..
            } => presentation_s + 2.0,
            StepKind::Recognition { items, .. } => {
                let n = items
                    .iter()
                    .filter(|i| Some(i.clip.as_str()) == clip)
                    .count();
                ANSWER_S * n.max(1) as f64
            }
            _ => ANSWER_S,
        };
    }
}

/// One session's expected length for participant 1's plan: stimuli as measured, fixed and mean
/// jittered durations, and the allowances above for every step that waits for an answer.
fn session_estimate(p: &Protocol, checked: &Checked) -> Option<String> {
    let id = ParticipantId::parse("1").ok()?;
    let plan = cuelab_protocol::plan(p, &id, 1).ok()?;
    let mut total = Totals::default();
    for s in plan.before_steps.iter().chain(&plan.after_steps) {
        total.step(p, s, 0.0, None);
    }
    let mut n_breaks = 0;
    for t in &plan.trials {
        let presentation_s =
            checked.presentation_ms(t.clip.as_deref(), t.soundtrack.as_deref()) / 1000.0;
        for s in &t.steps {
            total.step(p, s, presentation_s, t.clip.as_deref());
        }
        if t.index > 1 {
            total.timed_s += p.design().iti_ms.mean_ms() / 1000.0;
        }
        n_breaks += usize::from(t.break_before);
    }
    let Totals {
        stimuli_s,
        timed_s,
        answers_s,
    } = total;
    let breaks_s = BREAK_S * n_breaks as f64;
    let total = stimuli_s + timed_s + answers_s + breaks_s;
    Some(format!(
        "estimated session length: {:.1} min for {} trials (stimuli {:.1} min, fixed and mean jittered durations {:.1} min, answers {:.1} min, {n_breaks} break(s) {:.1} min); allowances: {ANSWER_S} s per answer, {RATING_ITEM_S} s per rating item, {QUESTIONNAIRE_ITEM_S} s per questionnaire item, {PAGE_S} s per page, {BREAK_S} s per break, a reproduction as long as the clip plus 2 s",
        total / 60.0,
        plan.trials.len(),
        stimuli_s / 60.0,
        timed_s / 60.0,
        answers_s / 60.0,
        breaks_s / 60.0,
    ))
}
