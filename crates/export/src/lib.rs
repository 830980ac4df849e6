//! cuelab export: session journals to tidy tables — CSV and Parquet — with a psych-DS
//! description and codebook, and a BIDS dataset of the behavioural data type, so eye-tracking or
//! EEG recordings of the same sessions line up in BIDS tools.
//!
//! Key design decision: **rows are built by column name, from `cuelab_core::schema`.** Every
//! table's fixed columns (names, types, units, meanings) come from the schema module the
//! analysis crate also reads; dynamic columns (factors, drawn durations, wide responses named by
//! step id) follow them. The same column list drives the CSV header, the Parquet schema, the
//! codebook, psych-DS's `variableMeasured` and the BIDS sidecars, so none can drift from
//! another. Booleans are written `TRUE`/`FALSE` (base R's `read.csv`, readr, pandas and polars
//! all read them as logical); missing values are empty in CSV and `n/a` in BIDS files.
//!
//! Layout of an export folder `OUT/`:
//!
//! ```text
//! dataset_description.json   psych-DS (schema.org Dataset, variableMeasured for every column)
//! README.md, codebook.csv
//! data/experiment-<id>_table-<table>_data.csv     one per table (several experiments: one each)
//! parquet/<table>.parquet                          (or parquet/<table>/experiment=…/participant=…/part-0.parquet)
//! bids/dataset_description.json, participants.tsv(.json), task-<task>_{events,beh}.json
//! bids/sub-<label>/ses-<n>/beh/sub-<label>_ses-<n>_task-<task>_{events,beh}.tsv
//! ```
//!
//! Every file is written durably (temporary file, fsync, rename).

mod bids;
mod tables;
mod write;

use std::path::{Path, PathBuf};

pub use tables::{ColumnDef, Event, Table, Tables, Value, build};

use cuelab_session::store::{FoundSession, StoreError, find_sessions};

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// A data folder could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file could not be written.
    #[error("{}: {message}", path.display())]
    Write { path: PathBuf, message: String },
    /// Two data folders hold the same session.
    #[error("session {experiment}/sub-{participant}/ses-{session} is in both {} and {}", first.display(), second.display())]
    Duplicate {
        experiment: String,
        participant: String,
        session: u32,
        first: PathBuf,
        second: PathBuf,
    },
    /// No session was found.
    #[error("no sessions found in {0}")]
    Empty(String),
}

impl ExportError {
    /// Is this the user's doing (an invalid request) rather than the machine's?
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            ExportError::Duplicate { .. }
                | ExportError::Empty(_)
                | ExportError::Store(StoreError::DataDir { .. } | StoreError::BadMeta { .. })
        )
    }
}

/// Which files to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    pub csv: bool,
    pub parquet: bool,
    /// Parquet partitioned by experiment and participant.
    pub partitioned: bool,
    pub bids: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            csv: true,
            parquet: true,
            partitioned: false,
            bids: true,
        }
    }
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub sessions: usize,
    pub trials: usize,
    pub responses: usize,
    pub continuous: usize,
    pub files: Vec<PathBuf>,
}

/// Reads every session under the data folders (several folders merge; the same session in two
/// of them is an error).
pub fn collect(data_dirs: &[PathBuf]) -> Result<Vec<FoundSession>, ExportError> {
    let mut all: Vec<FoundSession> = Vec::new();
    for dir in data_dirs {
        for s in find_sessions(dir)? {
            if let Some(prev) = all.iter().find(|p| {
                p.meta.experiment == s.meta.experiment
                    && p.meta.participant == s.meta.participant
                    && p.meta.session == s.meta.session
            }) {
                return Err(ExportError::Duplicate {
                    experiment: s.meta.experiment.clone(),
                    participant: s.meta.participant.clone(),
                    session: s.meta.session,
                    first: prev.dir.clone(),
                    second: s.dir.clone(),
                });
            }
            all.push(s);
        }
    }
    if all.is_empty() {
        let names: Vec<String> = data_dirs.iter().map(|d| d.display().to_string()).collect();
        return Err(ExportError::Empty(names.join(", ")));
    }
    all.sort_by(|a, b| {
        (&a.meta.experiment, &a.meta.participant, a.meta.session).cmp(&(
            &b.meta.experiment,
            &b.meta.participant,
            b.meta.session,
        ))
    });
    Ok(all)
}

/// Exports the sessions under `data_dirs` into `out`.
pub fn export(
    data_dirs: &[PathBuf],
    out: &Path,
    options: &Options,
) -> Result<Summary, ExportError> {
    let sessions = collect(data_dirs)?;
    let tables = build(&sessions);
    let mut files = Vec::new();
    write::psychds(out, &tables, &sessions, options, &mut files)?;
    if options.parquet {
        write::parquet(out, &tables, options.partitioned, &mut files)?;
    }
    if options.bids {
        bids::write(&out.join("bids"), &tables, &sessions, &mut files)?;
    }
    Ok(Summary {
        sessions: sessions.len(),
        trials: tables.trials.len(),
        responses: tables.responses.len(),
        continuous: tables.continuous.len(),
        files,
    })
}

fn durably(path: &Path, bytes: &[u8], files: &mut Vec<PathBuf>) -> Result<(), ExportError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| ExportError::Write {
            path: dir.to_path_buf(),
            message: e.to_string(),
        })?;
    }
    cuelab_session::durable::write_durably(path, bytes).map_err(|e| ExportError::Write {
        path: path.to_path_buf(),
        message: e.source.to_string(),
    })?;
    files.push(path.to_path_buf());
    Ok(())
}
