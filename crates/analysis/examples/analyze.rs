//! `cuelab analyze PLAN --data FILE --out DIR [--format LIST]` as a stand-alone program that
//! links only this crate (and so builds in release without the rest of the workspace). The
//! benchmark script (`benches/vs_r.sh`) can time it instead of the full binary.
//!
//! `cargo run --release -p cuelab-analysis --example analyze -- PLAN --data FILE --out DIR`

use std::path::PathBuf;
use std::process::ExitCode;

use cuelab_analysis::{Formats, Plan, run_plan};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (mut plan, mut data, mut out, mut format) = (None, None, None, "json".to_string());
    while let Some(a) = args.next() {
        match a.as_str() {
            "--data" => data = args.next().map(PathBuf::from),
            "--out" => out = args.next().map(PathBuf::from),
            "--format" => format = args.next().unwrap_or_default(),
            _ => plan = Some(PathBuf::from(a)),
        }
    }
    let Some(plan_path) = plan else {
        eprintln!("usage: analyze PLAN [--data FILE] [--out DIR] [--format LIST]");
        return ExitCode::from(2);
    };
    let result = Formats::parse(&format).and_then(|formats| {
        let plan = Plan::from_file(&plan_path)?;
        run_plan(&plan, &plan_path, data.as_deref(), out.as_deref(), &formats)
    });
    match result {
        Ok(o) => {
            eprintln!(
                "analysed {} rows ({} subjects)",
                o.results.n_rows, o.results.n_subjects
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(if e.is_invalid_input() { 2 } else { 1 })
        }
    }
}
