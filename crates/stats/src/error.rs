//! The one error type of this crate.

/// Why a statistic could not be computed.
///
/// Every function of this crate validates its input before computing and returns one of these
/// variants instead of panicking or returning NaN.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StatsError {
    /// Two inputs that must have matching lengths do not.
    #[error("{what}: expected length {expected}, got {actual}")]
    LengthMismatch {
        /// Which input is wrong.
        what: &'static str,
        /// The length implied by the other inputs.
        expected: usize,
        /// The length given.
        actual: usize,
    },
    /// Too few observations (or subjects, or levels) for the statistic.
    #[error("{what}: needs at least {needed}, got {got}")]
    TooFew {
        /// What is counted.
        what: &'static str,
        /// The minimum needed.
        needed: usize,
        /// The number given.
        got: usize,
    },
    /// An input value is NaN or infinite.
    #[error("{what}: non-finite value at index {index}")]
    NonFinite {
        /// Which input.
        what: &'static str,
        /// Index of the first offending value.
        index: usize,
    },
    /// A level code is not below the number of levels declared for its factor.
    #[error("factor {factor}: level code {code} at index {index} is not below {n_levels}")]
    LevelOutOfRange {
        /// Factor name.
        factor: String,
        /// The offending code.
        code: usize,
        /// Row (or subject) index of the offending code.
        index: usize,
        /// Declared number of levels.
        n_levels: usize,
    },
    /// An argument is outside its domain (a confidence level not in (0, 1), an empty factor
    /// name, an interaction naming an unknown factor, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The data are degenerate for this statistic: zero variance, a between-subject cell
    /// without subjects, a rank-deficient fixed-effects design.
    #[error("degenerate data: {0}")]
    Degenerate(String),
    /// The optimiser of a mixed model did not reach a minimum.
    #[error("mixed model did not converge: {0}")]
    NoConvergence(String),
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, StatsError>;

pub(crate) fn check_finite(what: &'static str, values: &[f64]) -> Result<()> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(StatsError::NonFinite { what, index }),
        None => Ok(()),
    }
}

pub(crate) fn check_conf_level(conf_level: f64) -> Result<()> {
    if conf_level > 0.0 && conf_level < 1.0 {
        Ok(())
    } else {
        Err(StatsError::InvalidArgument(format!(
            "confidence level {conf_level} is not in (0, 1)"
        )))
    }
}
