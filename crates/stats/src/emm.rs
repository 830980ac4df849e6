//! Estimated marginal means and pairwise comparisons of within-subject levels in mixed designs,
//! as emmeans computes them on an afex model (`emmeans(aov_car(...), pairwise ~ A)` with afex's
//! default multivariate model).
//!
//! afex hands emmeans the multivariate linear model of the subject × cell matrix on the
//! between-subject design. Its cell means are the group means of each cell, a marginal mean of
//! a within level averages them with equal weights over the between-subject groups (not over
//! subjects) and over the other within factors, and every linear combination `c` of the cells
//! has variance `c' S c · Σ_g 1 / (G² n_g)` with `S` the pooled within-group covariance of the
//! cells and `df = N − G` (G groups, N subjects). With one group this is the paired t-test.

use nalgebra::{DMatrix, DVector};

use crate::anova::WithinFactor;
use crate::cells::CellMatrix;
use crate::dist::{t_quantile, t_two_sided};
use crate::error::{Result, StatsError, check_conf_level};
use crate::ttest::{PAdjust, p_adjust};

/// A between-subject grouping for [`within_pairwise`]: each subject's between-subject cell
/// (the combination of all between factors' levels), `codes[s] < n_groups`.
#[derive(Debug, Clone, Copy)]
pub struct Groups<'a> {
    /// Number of between-subject cells (1 for a purely within-subject design).
    pub n_groups: usize,
    /// The cell of each subject.
    pub codes: &'a [usize],
}

/// The estimated marginal mean of one within level (emmeans' first table).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MarginalMean {
    /// Level index of the factor.
    pub level: usize,
    /// Mean over groups (equal weights) and the other within factors.
    pub mean: f64,
    /// Standard error from the pooled within-group covariance.
    pub se: f64,
    /// Degrees of freedom, `N − G`.
    pub df: f64,
    /// Lower confidence limit.
    pub ci_lower: f64,
    /// Upper confidence limit.
    pub ci_upper: f64,
}

/// One pairwise comparison `level a − level b` (emmeans' `contrasts` table).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct WithinContrast {
    /// First level.
    pub a: usize,
    /// Second level.
    pub b: usize,
    /// Estimate of `mean(a) − mean(b)`.
    pub estimate: f64,
    /// Standard error.
    pub se: f64,
    /// Degrees of freedom, `N − G`.
    pub df: f64,
    /// t ratio.
    pub t: f64,
    /// Unadjusted two-sided p-value.
    pub p: f64,
    /// p-value adjusted over all pairs of the factor.
    pub p_adjusted: f64,
    /// Lower confidence limit of the difference (unadjusted).
    pub ci_lower: f64,
    /// Upper confidence limit of the difference (unadjusted).
    pub ci_upper: f64,
}

/// Marginal means and pairwise comparisons of one within factor.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct WithinPairwise {
    /// One mean per level, in level order.
    pub means: Vec<MarginalMean>,
    /// Pairs (0,1), (0,2), …, (1,2), … as emmeans' `pairs()`.
    pub contrasts: Vec<WithinContrast>,
}

/// Marginal means and all pairwise comparisons of the levels of within factor `factor` in a
/// mixed (or purely within) design, as `emmeans(afex_model, pairwise ~ factor, adjust)`.
///
/// `cells` holds one mean per subject and within cell in the layout of [`crate::anova`]
/// (row-major over `within`, the last factor fastest); `groups` gives each subject's
/// between-subject cell.
///
/// ```
/// use cuelab_stats::{CellMatrix, Groups, PAdjust, WithinFactor, within_pairwise};
/// let v = [1.0, 2.0, 2.0, 4.0, 3.0, 3.5, 5.0, 7.5];
/// let cells = CellMatrix::new(&v, 4, 2).unwrap();
/// let w = [WithinFactor { name: "A", n_levels: 2 }];
/// let g = Groups { n_groups: 2, codes: &[0, 0, 1, 1] };
/// let r = within_pairwise(&cells, &w, 0, &g, PAdjust::Holm, 0.95).unwrap();
/// assert_eq!(r.contrasts[0].df, 2.0);
/// ```
///
/// # Errors
/// `within` does not match the number of cells, `factor` is out of range, a group code is out
/// of range, a group without subjects, no error df left, or a confidence level outside (0, 1).
pub fn within_pairwise(
    cells: &CellMatrix<'_>,
    within: &[WithinFactor<'_>],
    factor: usize,
    groups: &Groups<'_>,
    adjust: PAdjust,
    conf_level: f64,
) -> Result<WithinPairwise> {
    check_conf_level(conf_level)?;
    let n = cells.n_subjects();
    let k = cells.n_cells();
    let n_cells: usize = within.iter().map(|w| w.n_levels).product();
    if n_cells != k {
        return Err(StatsError::LengthMismatch {
            what: "within cells",
            expected: n_cells,
            actual: k,
        });
    }
    let Some(target) = within.get(factor) else {
        return Err(StatsError::InvalidArgument(format!(
            "within factor {factor} is not below {}",
            within.len()
        )));
    };
    if groups.codes.len() != n {
        return Err(StatsError::LengthMismatch {
            what: "group codes",
            expected: n,
            actual: groups.codes.len(),
        });
    }
    if let Some(index) = groups.codes.iter().position(|&c| c >= groups.n_groups) {
        return Err(StatsError::LevelOutOfRange {
            factor: "between-subject cell".into(),
            code: groups.codes[index],
            index,
            n_levels: groups.n_groups,
        });
    }
    let g = groups.n_groups;
    let mut n_g = vec![0usize; g];
    for &c in groups.codes {
        n_g[c] += 1;
    }
    if n_g.contains(&0) {
        return Err(StatsError::Degenerate(
            "a between-subject cell has no subjects".into(),
        ));
    }
    if n <= g {
        return Err(StatsError::TooFew {
            what: "subjects (more than between-subject cells)",
            needed: g + 1,
            got: n,
        });
    }

    // Group means of each cell and the pooled within-group covariance of the cells.
    let mut means = DMatrix::<f64>::zeros(g, k);
    for s in 0..n {
        for c in 0..k {
            means[(groups.codes[s], c)] += cells.get(s, c);
        }
    }
    for (gi, &count) in n_g.iter().enumerate() {
        for c in 0..k {
            means[(gi, c)] /= count as f64;
        }
    }
    let df = (n - g) as f64;
    let mut cov = DMatrix::<f64>::zeros(k, k);
    for s in 0..n {
        let r = DVector::from_iterator(
            k,
            (0..k).map(|c| cells.get(s, c) - means[(groups.codes[s], c)]),
        );
        cov += &r * r.transpose();
    }
    cov /= df;
    let weight: f64 = n_g.iter().map(|&m| 1.0 / (g * g * m) as f64).sum();
    let grand = DVector::from_iterator(
        k,
        (0..k).map(|c| (0..g).map(|gi| means[(gi, c)]).sum::<f64>() / g as f64),
    );

    // The level of the target factor of each cell (row-major over `within`).
    let stride: usize = within[factor + 1..].iter().map(|w| w.n_levels).product();
    let level_of = |c: usize| (c / stride) % target.n_levels;
    let per_level = (k / target.n_levels) as f64;
    let averaging = |l: usize| {
        DVector::from_iterator(
            k,
            (0..k).map(|c| {
                if level_of(c) == l {
                    1.0 / per_level
                } else {
                    0.0
                }
            }),
        )
    };
    let q = t_quantile(0.5 + conf_level / 2.0, df);
    let estimate = |v: &DVector<f64>| {
        let est = v.dot(&grand);
        let se = (v.dot(&(&cov * v)) * weight).sqrt();
        (est, se)
    };

    let means_out = (0..target.n_levels)
        .map(|l| {
            let (mean, se) = estimate(&averaging(l));
            MarginalMean {
                level: l,
                mean,
                se,
                df,
                ci_lower: mean - q * se,
                ci_upper: mean + q * se,
            }
        })
        .collect();
    let mut contrasts = Vec::new();
    for a in 0..target.n_levels {
        for b in (a + 1)..target.n_levels {
            let v = averaging(a) - averaging(b);
            let (est, se) = estimate(&v);
            if se == 0.0 {
                return Err(StatsError::Degenerate(format!(
                    "levels {a} and {b} differ by a constant"
                )));
            }
            let t = est / se;
            let p = t_two_sided(t, df);
            contrasts.push(WithinContrast {
                a,
                b,
                estimate: est,
                se,
                df,
                t,
                p,
                p_adjusted: p,
                ci_lower: est - q * se,
                ci_upper: est + q * se,
            });
        }
    }
    let p: Vec<f64> = contrasts.iter().map(|c| c.p).collect();
    for (c, adj) in contrasts.iter_mut().zip(p_adjust(&p, adjust)) {
        c.p_adjusted = adj;
    }
    Ok(WithinPairwise {
        means: means_out,
        contrasts,
    })
}
