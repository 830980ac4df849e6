//! `cuelab validate PROTOCOL...`: exit 0 when every protocol is valid, 2 otherwise, with
//! `file:line:col` diagnostics on stderr. Writes nothing.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::protocol_files::{LoadError, load};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Protocol files (TOML).
    #[arg(required = true)]
    protocols: Vec<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut n_bad = 0;
    for path in &args.protocols {
        match load(path) {
            Ok(p) => {
                let dir = path
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(std::path::Path::new("."));
                match crate::stimuli::check(&p, dir) {
                    Ok(reports) => {
                        eprintln!(
                            "{}: ok — `{}`: {} clip(s), {} soundtrack(s), {} factor(s), {} step(s) per trial",
                            path.display(),
                            p.experiment().id,
                            p.clips().len(),
                            p.soundtracks().len(),
                            p.factors().len(),
                            p.procedure().len()
                        );

                        for r in &reports {
                            eprintln!("  {}: {}", r.id, r.summary);
                            for w in &r.warnings {
                                eprintln!("  warning: {w}");
                            }
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
