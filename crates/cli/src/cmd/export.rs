//! `cuelab export`: session journals to tidy tables (CSV, Parquet), psych-DS metadata and a
//! BIDS behavioural dataset. Several data folders (e.g. from several lab machines) merge.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::error::{Invalid, invalid};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Data folders (`--data-dir` of `cuelab run`).
    #[arg(required = true)]
    data_dirs: Vec<PathBuf>,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    /// Formats, comma-separated: csv, parquet (default both).
    #[arg(long, value_delimiter = ',', default_value = "csv,parquet")]
    format: Vec<String>,
    /// Parquet partitioned by experiment and participant.
    #[arg(long)]
    partitioned: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut options = cuelab_export::Options {
        csv: false,
        parquet: false,
        ..cuelab_export::Options::default()
    };
    for f in &args.format {
        match f.as_str() {
            "csv" => options.csv = true,
            "parquet" => options.parquet = true,
            other => {
                return Err(invalid(format!(
                    "--format: unknown format `{other}` (csv, parquet)"
                )));
            }
        }
    }
    options.partitioned = args.partitioned;
    if args.out.is_file() {
        return Err(invalid(format!("--out {} is a file", args.out.display())));
    }
    for d in &args.data_dirs {
        if args.out.starts_with(d) && args.out != *d {
            // Writing inside a data folder is fine; writing over one is not.
        }
        if args.out == *d {
            return Err(invalid(format!("--out {} is a data folder", d.display())));
        }
    }
    let summary = cuelab_export::export(&args.data_dirs, &args.out, &options).map_err(|e| {
        if e.is_invalid_input() {
            anyhow::Error::new(Invalid(e.to_string()))
        } else {
            anyhow::Error::new(e)
        }
    })?;
    println!(
        "exported {} session(s): {} trials, {} responses, {} continuous samples, {} files in {}",
        summary.sessions,
        summary.trials,
        summary.responses,
        summary.continuous,
        summary.files.len(),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
