//! `cuelab withdraw`: a participant's right to withdraw. Removes every session of the
//! participant from a data folder and records only that a withdrawal happened, when, and how
//! many sessions (`withdrawals.jsonl`).

use std::path::PathBuf;
use std::process::ExitCode;

use cuelab_core::ParticipantId;

use crate::error::{Invalid, invalid};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The data folder.
    data_dir: PathBuf,
    /// The participant's label.
    #[arg(long)]
    participant: String,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let id = ParticipantId::parse(&args.participant)
        .map_err(|e| invalid(format!("--participant: {e}")))?;
    let n = cuelab_session::store::withdraw(&args.data_dir, id.label()).map_err(|e| match e {
        cuelab_session::store::StoreError::DataDir { .. } => {
            anyhow::Error::new(Invalid(e.to_string()))
        }
        other => anyhow::Error::new(other),
    })?;
    println!(
        "withdrew participant {}: {n} session(s) removed from {}; withdrawals.jsonl records the count and time only",
        id.label(),
        args.data_dir.display()
    );
    Ok(ExitCode::SUCCESS)
}
