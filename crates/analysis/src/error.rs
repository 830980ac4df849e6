//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong while running an analysis.
///
/// [`AnalysisError::is_invalid_input`] tells the caller whether the user's input (plan, data,
/// options) is at fault — the CLI exits 2 for those.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnalysisError {
    /// A plan (or expected-results file) could not be parsed or is inconsistent.
    #[error("{}:{line}:{col}: {message}", path.display())]
    Plan {
        /// The plan file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        col: usize,
        /// What is wrong.
        message: String,
    },
    /// The data does not fit the plan: a missing column, a wrong type, a level not listed,
    /// an empty cell.
    #[error("{0}")]
    Data(String),
    /// Options given to the library (e.g. on the command line) are inconsistent.
    #[error("{0}")]
    Options(String),
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Polars failed while reading or transforming the data.
    #[error("data pipeline: {0}")]
    Polars(#[from] polars::error::PolarsError),
    /// A statistic could not be computed (singular design, too few subjects, ...).
    #[error("statistics ({what}): {message}")]
    Stats {
        /// Which result.
        what: String,
        /// The stats crate's message.
        message: String,
    },
    /// Drawing a figure failed.
    #[error("figure {name}: {message}")]
    Figure {
        /// The figure.
        name: String,
        /// What went wrong.
        message: String,
    },
    /// An expected-results file is malformed.
    #[error("{}: {message}", path.display())]
    Expected {
        /// The expected.json file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl AnalysisError {
    /// Is the user's input at fault (plan, data, options) rather than the machine?
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            Self::Plan { .. } | Self::Data(_) | Self::Options(_) | Self::Expected { .. }
        ) || matches!(
            self,
            Self::Polars(polars::error::PolarsError::ColumnNotFound(_))
        ) || matches!(
            self,
            Self::Polars(polars::error::PolarsError::SchemaMismatch(_))
        ) || matches!(
            self,
            Self::Polars(polars::error::PolarsError::ComputeError(_))
        ) || matches!(self, Self::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}
