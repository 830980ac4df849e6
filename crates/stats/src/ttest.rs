//! Paired t-tests, all pairwise paired comparisons over the cells of a within-subject design,
//! and p-value adjustment as R's `p.adjust`.

use crate::cells::CellMatrix;
use crate::dist::{t_quantile, t_two_sided};
use crate::effsize::{EffectSizeCi, dz_ci};
use crate::error::{Result, StatsError, check_conf_level, check_finite};

/// A paired t-test of `x − y` (R: `t.test(x, y, paired = TRUE)`), with Cohen's d_z.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PairedT {
    /// Number of pairs.
    pub n: usize,
    /// Mean of the differences `x − y`.
    pub mean_diff: f64,
    /// Sample standard deviation (n − 1) of the differences.
    pub sd_diff: f64,
    /// Standard error of the mean difference, `sd_diff / sqrt(n)`.
    pub se: f64,
    /// t statistic, `mean_diff / se`.
    pub t: f64,
    /// Degrees of freedom, `n − 1`.
    pub df: f64,
    /// Two-sided p-value.
    pub p: f64,
    /// Confidence level of the interval, e.g. 0.95.
    pub conf_level: f64,
    /// Lower bound of the confidence interval of the mean difference.
    pub ci_lower: f64,
    /// Upper bound of the confidence interval of the mean difference.
    pub ci_upper: f64,
    /// Cohen's d_z: `mean_diff / sd_diff` (signed like the difference).
    pub dz: f64,
    /// d_z with its two-sided CI at `conf_level` from the noncentral t (effectsize's
    /// `cohens_d(x, y, paired = TRUE)`; see [`crate::dz_ci`]).
    pub dz_ci: EffectSizeCi,
}

/// Paired t-test of `x − y`.
///
/// ```
/// let x = [43.0, 18.0, 68.0, 26.0];
/// let y = [50.0, 40.0, 75.0, 44.0];
/// let t = cuelab_stats::paired_t(&x, &y, 0.95).unwrap();
/// assert_eq!(t.df, 3.0);
/// assert!(t.mean_diff < 0.0 && t.p < 0.05);
/// ```
///
/// # Errors
/// Lengths differ, fewer than 2 pairs, a non-finite value, a confidence level outside (0, 1),
/// or all differences equal ([`StatsError::Degenerate`]: t is undefined).
pub fn paired_t(x: &[f64], y: &[f64], conf_level: f64) -> Result<PairedT> {
    if x.len() != y.len() {
        return Err(StatsError::LengthMismatch {
            what: "paired y",
            expected: x.len(),
            actual: y.len(),
        });
    }
    check_finite("paired x", x)?;
    check_finite("paired y", y)?;
    let diffs: Vec<f64> = x.iter().zip(y).map(|(a, b)| a - b).collect();
    one_sample_t(&diffs, conf_level)
}

/// One-sample t-test of `d` against 0 (the paired test on differences).
///
/// # Errors
/// As [`paired_t`].
pub fn one_sample_t(d: &[f64], conf_level: f64) -> Result<PairedT> {
    check_conf_level(conf_level)?;
    check_finite("differences", d)?;
    let n = d.len();
    if n < 2 {
        return Err(StatsError::TooFew {
            what: "pairs",
            needed: 2,
            got: n,
        });
    }
    let nf = n as f64;
    let mean = d.iter().sum::<f64>() / nf;
    let var = d.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (nf - 1.0);
    let sd = var.sqrt();
    if sd == 0.0 {
        return Err(StatsError::Degenerate("all differences are equal".into()));
    }
    let se = sd / nf.sqrt();
    let t = mean / se;
    let df = nf - 1.0;
    let q = t_quantile(0.5 + conf_level / 2.0, df);
    let dz = mean / sd;
    Ok(PairedT {
        n,
        mean_diff: mean,
        sd_diff: sd,
        se,
        t,
        df,
        p: t_two_sided(t, df),
        conf_level,
        ci_lower: mean - q * se,
        ci_upper: mean + q * se,
        dz,
        dz_ci: dz_ci(dz, n, conf_level)?,
    })
}

/// An independent two-sample t-test of `mean(x) − mean(y)` (R: `t.test(x, y, var.equal)`),
/// for between-subject comparisons.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TwoSampleT {
    /// Group sizes.
    pub n_x: usize,
    /// Group sizes.
    pub n_y: usize,
    /// `mean(x) − mean(y)`.
    pub mean_diff: f64,
    /// Standard error of the difference.
    pub se: f64,
    /// t statistic.
    pub t: f64,
    /// Degrees of freedom (Welch-Satterthwaite unless `equal_var`).
    pub df: f64,
    /// Two-sided p-value.
    pub p: f64,
    /// Confidence level of the interval.
    pub conf_level: f64,
    /// Lower bound of the confidence interval of the difference.
    pub ci_lower: f64,
    /// Upper bound.
    pub ci_upper: f64,
    /// Cohen's d with the pooled SD: `mean_diff / sqrt(((n_x−1)s²_x + (n_y−1)s²_y)/(n_x+n_y−2))`.
    pub d: f64,
}

/// Independent two-sample t-test: Welch's (R's default) or, with `equal_var`, Student's.
///
/// # Errors
/// Fewer than 2 values in a group, a non-finite value, a confidence level outside (0, 1), or
/// zero variance in both groups.
pub fn two_sample_t(x: &[f64], y: &[f64], equal_var: bool, conf_level: f64) -> Result<TwoSampleT> {
    check_conf_level(conf_level)?;
    check_finite("sample x", x)?;
    check_finite("sample y", y)?;
    for (len, what) in [
        (x.len(), "values in group x"),
        (y.len(), "values in group y"),
    ] {
        if len < 2 {
            return Err(StatsError::TooFew {
                what,
                needed: 2,
                got: len,
            });
        }
    }
    let stats = |v: &[f64]| {
        let n = v.len() as f64;
        let m = v.iter().sum::<f64>() / n;
        (
            n,
            m,
            v.iter().map(|a| (a - m).powi(2)).sum::<f64>() / (n - 1.0),
        )
    };
    let (nx, mx, vx) = stats(x);
    let (ny, my, vy) = stats(y);
    if vx == 0.0 && vy == 0.0 {
        return Err(StatsError::Degenerate(
            "both groups have zero variance".into(),
        ));
    }
    let pooled = ((nx - 1.0) * vx + (ny - 1.0) * vy) / (nx + ny - 2.0);
    let (se, df) = if equal_var {
        ((pooled * (1.0 / nx + 1.0 / ny)).sqrt(), nx + ny - 2.0)
    } else {
        let (ax, ay) = (vx / nx, vy / ny);
        let se2 = ax + ay;
        (
            se2.sqrt(),
            se2 * se2 / (ax * ax / (nx - 1.0) + ay * ay / (ny - 1.0)),
        )
    };
    let diff = mx - my;
    let t = diff / se;
    let q = t_quantile(0.5 + conf_level / 2.0, df);
    Ok(TwoSampleT {
        n_x: x.len(),
        n_y: y.len(),
        mean_diff: diff,
        se,
        t,
        df,
        p: t_two_sided(t, df),
        conf_level,
        ci_lower: diff - q * se,
        ci_upper: diff + q * se,
        d: diff / pooled.sqrt(),
    })
}

/// How to adjust p-values for multiple comparisons (R's `p.adjust` methods).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PAdjust {
    /// No adjustment.
    None,
    /// Holm's step-down method (R: `"holm"`).
    Holm,
    /// Bonferroni (R: `"bonferroni"`): `min(1, m p)`.
    Bonferroni,
}

/// Adjusts p-values exactly as R's `p.adjust(p, method)`; NaN p-values are kept as NaN and do
/// not count towards the number of tests (as R's `NA`).
pub fn p_adjust(p: &[f64], method: PAdjust) -> Vec<f64> {
    let idx: Vec<usize> = (0..p.len()).filter(|&i| !p[i].is_nan()).collect();
    let m = idx.len() as f64;
    let mut out = vec![f64::NAN; p.len()];
    match method {
        PAdjust::None => out.clone_from_slice(p),
        PAdjust::Bonferroni => {
            for &i in &idx {
                out[i] = (p[i] * m).min(1.0);
            }
        }
        PAdjust::Holm => {
            // R: i <- seq_len(lp); o <- order(p); ro <- order(o);
            //    pmin(1, cummax((n - i + 1L) * p[o]))[ro]
            let mut order = idx.clone();
            order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
            let mut running = 0.0_f64;
            for (rank, &i) in order.iter().enumerate() {
                let adj = (m - rank as f64) * p[i];
                running = running.max(adj);
                out[i] = running.min(1.0);
            }
        }
    }
    out
}

/// One pairwise paired comparison of cell `a` against cell `b` (difference `a − b`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PairwiseT {
    /// Index of the first cell.
    pub a: usize,
    /// Index of the second cell.
    pub b: usize,
    /// The unadjusted paired test of `a − b`.
    pub test: PairedT,
    /// The p-value adjusted over all pairs of this family.
    pub p_adjusted: f64,
}

/// All pairwise paired t-tests between cells `a < b` (in the order (0,1), (0,2), …, (1,2), …,
/// as emmeans' `pairs()`), with `p_adjusted` adjusted over the whole family.
///
/// # Errors
/// Fewer than 2 cells or 2 subjects, a confidence level outside (0, 1), or a pair whose
/// differences are all equal.
pub fn pairwise_paired(
    cells: &CellMatrix<'_>,
    adjust: PAdjust,
    conf_level: f64,
) -> Result<Vec<PairwiseT>> {
    let k = cells.n_cells();
    if k < 2 {
        return Err(StatsError::TooFew {
            what: "cells for pairwise tests",
            needed: 2,
            got: k,
        });
    }
    let mut out = Vec::with_capacity(k * (k - 1) / 2);
    for a in 0..k {
        for b in (a + 1)..k {
            let test = paired_t(&cells.column(a), &cells.column(b), conf_level)?;
            out.push(PairwiseT {
                a,
                b,
                p_adjusted: test.p,
                test,
            });
        }
    }
    let p: Vec<f64> = out.iter().map(|r| r.test.p).collect();
    for (row, adj) in out.iter_mut().zip(p_adjust(&p, adjust)) {
        row.p_adjusted = adj;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holm_matches_r_p_adjust() {
        // R: p.adjust(c(0.01, 0.04, 0.03, 0.005), "holm") = 0.03 0.06 0.06 0.02
        let adj = p_adjust(&[0.01, 0.04, 0.03, 0.005], PAdjust::Holm);
        let want = [0.03, 0.06, 0.06, 0.02];
        for (a, w) in adj.iter().zip(want) {
            assert!((a - w).abs() < 1e-15, "{adj:?}");
        }
        // R: p.adjust(c(0.01, 0.04, 0.3), "bonferroni") = 0.03 0.12 0.90
        let adj = p_adjust(&[0.01, 0.04, 0.3], PAdjust::Bonferroni);
        assert!(
            (adj[0] - 0.03).abs() < 1e-15
                && (adj[1] - 0.12).abs() < 1e-15
                && (adj[2] - 0.9).abs() < 1e-15
        );
    }

    #[test]
    fn two_sample_matches_r_t_test() {
        let x = [43.0, 26.0, 30.0, 52.0, 38.0];
        let y = [18.0, 68.0, 22.0, 30.0, 25.0, 41.0];
        // R 4.2: t.test(x, y) and t.test(x, y, var.equal = TRUE), printed with %.10g.
        let w = two_sample_t(&x, &y, false, 0.95).unwrap();
        let want = [
            (w.t, 0.4297879958),
            (w.df, 8.055162357),
            (w.p, 0.6786158638),
            (w.ci_lower, -16.56441573),
            (w.ci_upper, 24.16441573),
        ];
        for (got, r) in want {
            assert!((got / r - 1.0).abs() < 1e-8, "{got} vs R {r}");
        }
        let s = two_sample_t(&x, &y, true, 0.95).unwrap();
        assert_eq!(s.df, 9.0);
        for (got, r) in [(s.t, 0.4078474883), (s.p, 0.6929171325)] {
            assert!((got / r - 1.0).abs() < 1e-8, "{got} vs R {r}");
        }
    }

    #[test]
    fn constant_differences_are_degenerate() {
        let err = paired_t(&[1.0, 2.0, 3.0], &[0.0, 1.0, 2.0], 0.95).unwrap_err();
        assert!(matches!(err, StatsError::Degenerate(_)));
    }
}
