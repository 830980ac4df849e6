//! Per-cell descriptives with within-subject confidence intervals (Cousineau-Morey).

use crate::cells::CellMatrix;
use crate::dist::t_quantile;
use crate::error::{Result, StatsError, check_conf_level};

/// Descriptives of one cell of a within-subject design.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CellSummary {
    /// Cell index (column of the [`CellMatrix`]).
    pub cell: usize,
    /// Number of subjects.
    pub n: usize,
    /// Mean over subjects.
    pub mean: f64,
    /// Sample standard deviation (n − 1) over subjects.
    pub sd: f64,
    /// Between-subject standard error, `sd / sqrt(n)`.
    pub se: f64,
    /// Within-subject standard error (Cousineau-Morey): the SD of the normalised values
    /// `y − subject mean + grand mean`, times `sqrt(J / (J − 1))` for `J` cells, over `sqrt(n)`.
    /// With a single cell it equals `se`.
    pub se_within: f64,
    /// Confidence level of the interval.
    pub conf_level: f64,
    /// Lower bound of the within-subject CI, `mean − t(1 − α/2, n − 1) · se_within`.
    pub ci_lower: f64,
    /// Upper bound of the within-subject CI.
    pub ci_upper: f64,
}

/// Descriptives of every cell, with Cousineau-Morey within-subject confidence intervals
/// (Morey 2008: normalise by subject mean and grand mean, correct by `sqrt(J/(J−1))`, t quantile
/// with `n − 1` df).
///
/// For a mixed design call this once per between-subject group: Morey's normalisation is done
/// within a group.
///
/// # Errors
/// Fewer than 2 subjects, or a confidence level outside (0, 1).
pub fn describe(cells: &CellMatrix<'_>, conf_level: f64) -> Result<Vec<CellSummary>> {
    check_conf_level(conf_level)?;
    let n = cells.n_subjects();
    let j = cells.n_cells();
    if n < 2 {
        return Err(StatsError::TooFew {
            what: "subjects",
            needed: 2,
            got: n,
        });
    }
    let nf = n as f64;
    let jf = j as f64;
    let subject_means: Vec<f64> = (0..n)
        .map(|s| (0..j).map(|c| cells.get(s, c)).sum::<f64>() / jf)
        .collect();
    let grand = subject_means.iter().sum::<f64>() / nf;
    let q = t_quantile(0.5 + conf_level / 2.0, nf - 1.0);
    let morey = if j > 1 { (jf / (jf - 1.0)).sqrt() } else { 1.0 };
    let out = (0..j)
        .map(|c| {
            let col = cells.column(c);
            let mean = col.iter().sum::<f64>() / nf;
            let sd = (col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (nf - 1.0)).sqrt();
            let se = sd / nf.sqrt();
            let se_within = if j > 1 {
                // The normalised values have the same mean as the raw ones.
                let ss: f64 = col
                    .iter()
                    .zip(&subject_means)
                    .map(|(v, m)| (v - m + grand - mean).powi(2))
                    .sum();
                (ss / (nf - 1.0)).sqrt() / nf.sqrt() * morey
            } else {
                se
            };
            CellSummary {
                cell: c,
                n,
                mean,
                sd,
                se,
                se_within,
                conf_level,
                ci_lower: mean - q * se_within,
                ci_upper: mean + q * se_within,
            }
        })
        .collect();
    Ok(out)
}
