//! `cuelab analyze`: run an analysis plan, or a design given as options, and write tables,
//! figures and a report.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use cuelab_analysis::{AdHocDesign, AnalysisError, Formats, Plan, run_plan_for_command};

use crate::error::invalid;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Analysis plan (TOML). Without a plan, give --data, --dv and --subject.
    plan: Option<PathBuf>,
    /// Data: a cuelab export directory or a CSV/Parquet file (replaces the plan's data).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Dependent variable column (without a plan).
    #[arg(long)]
    dv: Option<String>,
    /// Participant column (without a plan).
    #[arg(long)]
    subject: Option<String>,
    /// Item column, e.g. the clip, for crossed random intercepts (without a plan).
    #[arg(long)]
    item: Option<String>,
    /// Within-subject factors, comma-separated (without a plan).
    #[arg(long, value_delimiter = ',')]
    within: Vec<String>,
    /// Between-subject factors, comma-separated (without a plan).
    #[arg(long, value_delimiter = ',')]
    between: Vec<String>,
    /// A mixed model in lme4's formula syntax, fitted by REML with Satterthwaite df
    /// (repeatable): `'RT ~ congruence + (1 + congruence | participant) + (1 | item)'`. Without
    /// --dv and --subject, the response and the first grouping factor take those roles.
    #[arg(long)]
    lmm: Vec<String>,
    /// Congruence paradigm (without a plan): two factor columns, `A,B` (e.g. `clip,music`),
    /// whose pairing derives a within factor `congruence` (congruent / incongruent).
    #[arg(long, value_delimiter = ',')]
    congruence: Vec<String>,
    /// The congruent pairs of --congruence, `a:b` comma-separated (`approach:relaxing,
    /// chase:scary`); every other pair is incongruent. Without it, equal levels are congruent.
    #[arg(long, value_delimiter = ',')]
    congruent: Vec<String>,
    /// Continuous ratings (without a plan): cuelab's continuous table (CSV or Parquet), analysed
    /// as time courses per --condition and joined to the analysed trials.
    #[arg(long)]
    continuous: Option<PathBuf>,
    /// The trials column whose levels the time courses are compared across (with --continuous).
    #[arg(long)]
    condition: Option<String>,
    /// The rated dimensions to analyse, comma-separated (with --continuous; e.g. `valence,arousal`).
    #[arg(long, value_delimiter = ',')]
    items: Vec<String>,
    /// Step of the common time grid, ms (with --continuous).
    #[arg(long, default_value_t = 500.0)]
    grid_ms: f64,
    /// Largest lag tried against the designed curves, ms (with --continuous; default 5000).
    #[arg(long)]
    max_lag_ms: Option<f64>,
    /// A designed affect curve, `LEVEL=FILE` (`t_s` plus one column per item, as cuelab's
    /// `*.curve.csv`), repeatable (with --continuous).
    #[arg(long)]
    curve: Vec<String>,
    /// Output directory. Without it, the results are printed (Markdown, or JSON with
    /// `--format json`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Outputs: any of json, md, csv, html, figures (svg + png).
    #[arg(long, default_value = "json,md,csv,html,figures")]
    format: String,
}

/// Maps a library error to the CLI's exit codes (2 for invalid input).
pub(crate) fn lift(err: AnalysisError) -> anyhow::Error {
    if err.is_invalid_input() {
        invalid(err.to_string())
    } else {
        anyhow::Error::new(err)
    }
}

/// The command line as typed (arguments with spaces quoted), for the provenance.
fn command_line() -> String {
    std::env::args()
        .map(|a| {
            if a.contains([' ', '\'', '"']) {
                format!("'{}'", a.replace('\'', "'\\''"))
            } else {
                a
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let formats = Formats::parse(&args.format).map_err(lift)?;
    let adhoc_given = args.dv.is_some()
        || args.subject.is_some()
        || args.item.is_some()
        || !args.within.is_empty()
        || !args.between.is_empty()
        || !args.lmm.is_empty()
        || !args.congruence.is_empty()
        || !args.congruent.is_empty()
        || args.continuous.is_some()
        || args.condition.is_some()
        || !args.items.is_empty()
        || !args.curve.is_empty();
    let (plan, plan_path, data) = match &args.plan {
        Some(path) => {
            if adhoc_given {
                return Err(invalid(
                    "give either a PLAN or --dv/--subject/--item/--within/--between/--lmm/--congruence/--continuous, not both",
                ));
            }
            (
                Plan::from_file(path).map_err(lift)?,
                path.clone(),
                args.data.clone(),
            )
        }
        None => {
            // The first formula may stand in for --dv (its response) and --subject (its first
            // grouping factor).
            let roles = args
                .lmm
                .first()
                .map(|f| AdHocDesign::roles_from_formula(f))
                .transpose()
                .map_err(lift)?;
            let dv = args
                .dv
                .clone()
                .or_else(|| roles.as_ref().map(|r| r.0.clone()));
            let subject = args.subject.clone().or_else(|| roles.and_then(|r| r.1));
            let (Some(data), Some(dv), Some(subject)) = (&args.data, dv, subject) else {
                return Err(invalid(
                    "without a PLAN, --data and --dv and --subject (or an --lmm formula) are required",
                ));
            };
            let design = AdHocDesign {
                dv,
                subject,
                item: args.item.clone(),
                within: args.within.clone(),
                between: args.between.clone(),
                lmm: args.lmm.clone(),
                congruence: congruence(&args.congruence, &args.congruent)?,
                continuous: continuous(&args)?,
            };
            // Relative paths are then relative to the working directory.
            (design.to_plan(data), PathBuf::from("./options"), None)
        }
    };
    match &args.out {
        Some(out) => {
            let outcome = run_plan_for_command(
                &plan,
                &plan_path,
                data.as_deref(),
                Some(out),
                &formats,
                &command_line(),
            )
            .map_err(lift)?;
            for note in &outcome.results.notes {
                eprintln!("note: {note}");
            }
            eprintln!(
                "analysed {} rows ({} subjects); wrote {} files to {}",
                outcome.results.n_rows,
                outcome.results.n_subjects,
                outcome.files.len(),
                out.display()
            );
        }
        None => {
            let outcome = run_plan_for_command(
                &plan,
                &plan_path,
                data.as_deref(),
                None,
                &Formats::none(),
                &command_line(),
            )
            .map_err(lift)?;
            // Written, not printed: a closed pipe is an error the caller maps, not a panic.
            let mut out = std::io::stdout().lock();
            if formats
                == (Formats {
                    json: true,
                    ..Formats::none()
                })
            {
                writeln!(out, "{}", serde_json::to_string_pretty(&outcome.json)?)?;
            } else {
                let tables = cuelab_analysis::tables::tables(&outcome.results);
                for t in &tables {
                    write!(out, "{}", t.to_markdown())?;
                }
                for note in &outcome.results.notes {
                    writeln!(out, "note: {note}")?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `--congruence A,B` and `--congruent a:b,...` as the plan's congruence.
fn congruence(
    columns: &[String],
    pairs: &[String],
) -> anyhow::Result<Option<cuelab_analysis::plan::Congruence>> {
    if columns.is_empty() {
        if !pairs.is_empty() {
            return Err(invalid(
                "--congruent needs --congruence A,B (the two factor columns)",
            ));
        }
        return Ok(None);
    }
    let [a, b] = columns else {
        return Err(invalid(format!(
            "--congruence takes two factor columns, `A,B` (e.g. clip,music); got {}",
            columns.join(",")
        )));
    };
    let mut congruent: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for pair in pairs {
        let Some((x, y)) = pair
            .split_once(':')
            .filter(|(x, y)| !x.is_empty() && !y.is_empty())
        else {
            return Err(invalid(format!(
                "--congruent `{pair}`: give a pair as `{a}-level:{b}-level`, e.g. approach:relaxing"
            )));
        };
        congruent
            .entry(x.to_string())
            .or_default()
            .push(y.to_string());
    }
    Ok(Some(cuelab_analysis::plan::Congruence {
        a: a.clone(),
        b: b.clone(),
        congruent: (!congruent.is_empty()).then_some(congruent),
    }))
}

/// `--continuous FILE --condition COL --items a,b [--grid-ms] [--max-lag-ms] [--curve L=F]` as
/// the plan's continuous section.
fn continuous(args: &Args) -> anyhow::Result<Option<cuelab_analysis::plan::ContinuousSpec>> {
    let Some(path) = &args.continuous else {
        if args.condition.is_some() || !args.items.is_empty() || !args.curve.is_empty() {
            return Err(invalid(
                "--condition, --items and --curve describe --continuous FILE: give it too",
            ));
        }
        return Ok(None);
    };
    let (Some(condition), false) = (&args.condition, args.items.is_empty()) else {
        return Err(invalid(
            "--continuous needs --condition COL (the trials column to compare) and --items a,b (the rated dimensions)",
        ));
    };
    if !(args.grid_ms.is_finite() && args.grid_ms > 0.0) {
        return Err(invalid(format!(
            "--grid-ms {}: give a positive step in ms",
            args.grid_ms
        )));
    }
    if let Some(lag) = args.max_lag_ms
        && !(lag.is_finite() && lag >= 0.0)
    {
        return Err(invalid(format!(
            "--max-lag-ms {lag}: give a lag of 0 ms or more"
        )));
    }
    let mut curves = std::collections::BTreeMap::new();
    for c in &args.curve {
        let Some((level, file)) = c
            .split_once('=')
            .filter(|(l, f)| !l.is_empty() && !f.is_empty())
        else {
            return Err(invalid(format!(
                "--curve `{c}`: give LEVEL=FILE, e.g. calm_to_tense=calm_to_tense.curve.csv"
            )));
        };
        if curves
            .insert(level.to_string(), PathBuf::from(file))
            .is_some()
        {
            return Err(invalid(format!("--curve: level `{level}` given twice")));
        }
    }
    Ok(Some(cuelab_analysis::plan::ContinuousSpec {
        path: path.clone(),
        condition: condition.clone(),
        items: args.items.clone(),
        step: None,
        grid_ms: args.grid_ms,
        max_lag_ms: args.max_lag_ms,
        curves,
    }))
}
