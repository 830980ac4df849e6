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
        || !args.lmm.is_empty();
    let (plan, plan_path, data) = match &args.plan {
        Some(path) => {
            if adhoc_given {
                return Err(invalid(
                    "give either a PLAN or --dv/--subject/--item/--within/--between/--lmm, not both",
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
