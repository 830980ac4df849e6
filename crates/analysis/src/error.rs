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
    /// A fault in a data table, at its `file:line:col` (a CSV) or row (Parquet, `line` and
    /// `col` absent, the row in the message): a duplicate column name, a ragged row, a value
    /// that is not a finite number within ±[`crate::input::MAX_ABS`], a file polars cannot read
    /// as declared.
    #[error("{}{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default(), col.map(|c| format!(":{c}")).unwrap_or_default())]
    Table {
        /// The data file.
        path: PathBuf,
        /// 1-based line, for a CSV.
        line: Option<u64>,
        /// 1-based column (field), when one field is at fault.
        col: Option<usize>,
        /// What is wrong, in the project's words.
        message: String,
    },
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
    /// A file the plan reads (its data, `[sdt]` responses or `[time_course]` table) does not
    /// exist, e.g. a plan on `../shared/datasets` in a clone without it. [`crate::reproduce`]
    /// reports such a plan as skipped; the caller decides whether that is an error.
    #[error("{}: data absent (no such file)", path.display())]
    DataAbsent {
        /// The missing file, as the plan resolves it.
        path: PathBuf,
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
            Self::Plan { .. }
                | Self::Data(_)
                | Self::Table { .. }
                | Self::Options(_)
                | Self::Expected { .. }
                | Self::DataAbsent { .. }
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

/// A polars error met while reading or querying the user's table at `path`, in the project's
/// words: a schema or parse problem is the table's fault ([`AnalysisError::Table`], exit 2),
/// with polars' advice for Python users (`infer_schema_length`, `ignore_errors=True`, ...)
/// left out; an I/O error stays an I/O error.
pub(crate) fn polars(path: &std::path::Path, e: polars::error::PolarsError) -> AnalysisError {
    use polars::error::PolarsError as P;
    let message = match e {
        P::IO { error, .. } => {
            return AnalysisError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::new(error.kind(), error.to_string()),
            };
        }
        P::ColumnNotFound(m) => format!("no column {}", first_sentence(&m)),
        P::Duplicate(m) => format!("a column name appears twice: {}", first_sentence(&m)),
        P::NoData(m) => format!("no data: {}", first_sentence(&m)),
        P::ShapeMismatch(m) => format!("rows of unequal length: {}", first_sentence(&m)),
        P::SchemaMismatch(m) | P::InvalidOperation(m) | P::ComputeError(m) => format!(
            "cannot be read with the declared column types: {}",
            first_sentence(&m)
        ),
        other => format!("cannot be read: {}", first_sentence(&other.to_string())),
    };
    AnalysisError::Table {
        path: path.to_path_buf(),
        line: None,
        col: None,
        message,
    }
}

/// The part of a polars message before its advice: the first paragraph, without lines that
/// suggest Python arguments.
fn first_sentence(message: &str) -> String {
    let text = message.split("\n\n").next().unwrap_or(message);
    let kept: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .take_while(|l| !l.starts_with("You might want to try") && !l.starts_with("Hint:"))
        .filter(|l| {
            !l.contains("=True")
                && !l.contains("infer_schema_length")
                && !l.contains("schema_overrides")
        })
        .collect();
    kept.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polars_advice_for_python_users_is_left_out() {
        let e = polars::error::PolarsError::ComputeError(
            "could not parse `x` as dtype `f64` at column 'y' (column number 2)\n\n\
             The current offset in the file is 10 bytes.\n\n\
             You might want to try:\n- increasing `infer_schema_length` (e.g. `infer_schema_length=10000`),\n\
             - setting `ignore_errors` to `True`,"
                .into(),
        );
        let err = polars(std::path::Path::new("d.csv"), e);
        let text = err.to_string();
        assert!(err.is_invalid_input());
        assert!(text.starts_with("d.csv: cannot be read"), "{text}");
        assert!(text.contains("could not parse `x`"), "{text}");
        assert!(
            !text.contains("True") && !text.contains("infer_schema"),
            "{text}"
        );
    }
}
