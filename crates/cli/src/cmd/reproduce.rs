//! `cuelab reproduce`: run every plan in `analysis/` and compare with its recorded results.
//!
//! A plan whose data file does not exist (a clone without `../shared/datasets`) is reported as
//! skipped and does not fail the run; `--require-all` (CI and the tests) makes it invalid input
//! (exit 2, naming the missing file).

use std::path::PathBuf;
use std::process::ExitCode;

use cuelab_analysis::{Formats, reproduce};

use super::analyze::lift;
use crate::error::invalid;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Exit 1 if any value differs from its expected value beyond tolerance.
    #[arg(long)]
    check: bool,
    /// Folder with the plans (`<name>.toml`) and their `<name>.expected.json`.
    #[arg(long, default_value = "analysis")]
    dir: PathBuf,
    /// Also write each plan's outputs to OUT/<name>/.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print every compared value, not only the differences.
    #[arg(long)]
    verbose: bool,
    /// Fail (exit 2) if a plan's data file is absent instead of skipping the plan.
    #[arg(long)]
    require_all: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !args.dir.is_dir() {
        return Err(invalid(format!(
            "{}: no such folder of analysis plans (run from the repository root or pass --dir)",
            args.dir.display()
        )));
    }
    let formats = if args.out.is_some() {
        Formats::all()
    } else {
        Formats::none()
    };
    let results = reproduce(&args.dir, args.out.as_deref(), &formats).map_err(lift)?;
    if results.is_empty() {
        return Err(invalid(format!("{}: no *.toml plans", args.dir.display())));
    }
    let mut differences = 0usize;
    let mut skipped = 0usize;
    let mut first_invalid = None;
    for r in &results {
        let name = r.plan.display();
        if let Some(path) = r.absent_data() {
            if args.require_all {
                println!("{name}: FAILED: data absent: {}", path.display());
                differences += 1;
                if first_invalid.is_none() {
                    first_invalid = Some(format!(
                        "{name}: data absent: {} (--require-all)",
                        path.display()
                    ));
                }
            } else {
                println!("{name}: skipped (data absent: {})", path.display());
                skipped += 1;
            }
            continue;
        }
        match &r.comparison {
            Ok(c) => {
                let n_ok = c.checks.iter().filter(|x| x.ok).count();
                let worst = c
                    .checks
                    .iter()
                    .filter_map(|x| x.rel_diff)
                    .fold(0.0f64, f64::max);
                println!(
                    "{name}: {n_ok}/{} values match {} (largest relative difference {worst:.2e})",
                    c.checks.len(),
                    c.expected_file.display()
                );
                for x in &c.checks {
                    if !x.ok || args.verbose {
                        let actual = x.actual.map_or("missing".to_string(), |a| format!("{a}"));
                        println!(
                            "  {} {}: expected {}, got {actual}",
                            if x.ok { "ok  " } else { "DIFF" },
                            x.key,
                            x.expected
                        );
                    }
                }
                differences += c.checks.len() - n_ok;
            }
            Err(e) => {
                println!("{name}: FAILED: {e}");
                differences += 1;
                if e.is_invalid_input() && first_invalid.is_none() {
                    first_invalid = Some(format!("{name}: {e}"));
                }
            }
        }
    }
    if let Some(msg) = first_invalid {
        return Err(invalid(msg));
    }
    if differences > 0 {
        println!("{differences} difference(s) beyond tolerance");
        if args.check {
            return Ok(ExitCode::from(1));
        }
    } else if skipped > 0 {
        println!(
            "all {} plan(s) reproduce their recorded results; {skipped} skipped (data absent; --require-all makes that an error)",
            results.len() - skipped
        );
    } else {
        println!(
            "all {} plan(s) reproduce their recorded results",
            results.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
