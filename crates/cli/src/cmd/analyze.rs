//! `cuelab analyze`: run an analysis plan, or a design given as options, and write tables,
//! figures and a report.

use std::path::PathBuf;
use std::process::ExitCode;

use cuelab_analysis::{AdHocDesign, AnalysisError, Formats, Plan, run_plan};

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

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let formats = Formats::parse(&args.format).map_err(lift)?;
    let adhoc_given = args.dv.is_some()
        || args.subject.is_some()
        || args.item.is_some()
        || !args.within.is_empty()
        || !args.between.is_empty();
    let (plan, plan_path, data) = match &args.plan {
        Some(path) => {
            if adhoc_given {
                return Err(invalid(
                    "give either a PLAN or --dv/--subject/--item/--within/--between, not both",
                ));
            }
            (
                Plan::from_file(path).map_err(lift)?,
                path.clone(),
                args.data.clone(),
            )
        }
        None => {
            let (Some(data), Some(dv), Some(subject)) = (&args.data, &args.dv, &args.subject)
            else {
                return Err(invalid(
                    "without a PLAN, --data, --dv and --subject are required",
                ));
            };
            let design = AdHocDesign {
                dv: dv.clone(),
                subject: subject.clone(),
                item: args.item.clone(),
                within: args.within.clone(),
                between: args.between.clone(),
            };
            // Relative paths are then relative to the working directory.
            (design.to_plan(data), PathBuf::from("./options"), None)
        }
    };
    match &args.out {
        Some(out) => {
            let outcome =
                run_plan(&plan, &plan_path, data.as_deref(), Some(out), &formats).map_err(lift)?;
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
            let outcome = run_plan(&plan, &plan_path, data.as_deref(), None, &Formats::none())
                .map_err(lift)?;
            if formats
                == (Formats {
                    json: true,
                    ..Formats::none()
                })
            {
                println!("{}", serde_json::to_string_pretty(&outcome.json)?);
            } else {
                let tables = cuelab_analysis::tables::tables(&outcome.results);
                for t in &tables {
                    print!("{}", t.to_markdown());
                }
                for note in &outcome.results.notes {
                    println!("note: {note}");
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
