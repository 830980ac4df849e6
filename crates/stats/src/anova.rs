//! Repeated-measures and mixed ANOVA, type III, on per-subject cell means (afex::aov_car / car).
//!
//! The computation is car's multivariate one: the cell vector of each subject is projected on
//! an orthonormal basis of each within-subject effect, the projection is regressed on the
//! between-subject design (sum-to-zero contrasts, so type III), and each between-subject
//! hypothesis gives a sum of squares (trace of its SSP matrix) tested against the residual SSP
//! of the same projection. Sphericity statistics (Mauchly, Greenhouse-Geisser, Huynh-Feldt) come
//! from that residual SSP; they are invariant to the choice of basis.

use nalgebra::DMatrix;

use crate::dist::{chisq_upper, f_upper};
use crate::effsize::{EffectSizeCi, eta_squared_ci};
use crate::error::{Result, StatsError, check_finite};

/// A between-subject factor: one level code per subject (`codes[s] < n_levels`).
#[derive(Debug, Clone, Copy)]
pub struct BetweenFactor<'a> {
    /// Factor name, used in effect names.
    pub name: &'a str,
    /// Number of levels.
    pub n_levels: usize,
    /// Level code of each subject.
    pub codes: &'a [usize],
}

/// A within-subject factor.
#[derive(Debug, Clone, Copy)]
pub struct WithinFactor<'a> {
    /// Factor name, used in effect names.
    pub name: &'a str,
    /// Number of levels (at least 2).
    pub n_levels: usize,
}

/// The input of [`anova`].
///
/// `values` holds one mean per subject and within cell, subject-major; within one subject the
/// cells are in row-major order of `within` (the last factor varies fastest). With no within
/// factors there is one value per subject.
#[derive(Debug, Clone, Copy)]
pub struct AnovaInput<'a> {
    /// Number of subjects.
    pub n_subjects: usize,
    /// Between-subject factors (may be empty).
    pub between: &'a [BetweenFactor<'a>],
    /// Within-subject factors (may be empty).
    pub within: &'a [WithinFactor<'a>],
    /// Cell means, `n_subjects × Π within levels`.
    pub values: &'a [f64],
    /// Names of factors that are observed (measured, not manipulated), for the generalized eta
    /// squared (afex's `observed`). Usually empty.
    pub observed: &'a [&'a str],
}

/// A sphericity correction of the degrees of freedom.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Correction {
    /// Epsilon as estimated. The Huynh-Feldt estimate can exceed 1; the corrected df and p use
    /// `min(1, epsilon)` (car and afex).
    pub epsilon: f64,
    /// Corrected numerator df.
    pub df1: f64,
    /// Corrected denominator df.
    pub df2: f64,
    /// p-value with the corrected df.
    pub p: f64,
}

/// Sphericity test and corrections of an effect with more than one numerator df per subject.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Sphericity {
    /// Mauchly's W.
    pub mauchly_w: f64,
    /// p-value of Mauchly's test (car's chi-squared approximation with its second-order term).
    pub mauchly_p: f64,
    /// Greenhouse-Geisser correction.
    pub gg: Correction,
    /// Huynh-Feldt correction (car's formula).
    pub hf: Correction,
}

/// One effect of the ANOVA table.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AnovaRow {
    /// Effect name as afex prints it: between factors then within factors, joined by `:`.
    pub effect: String,
    /// Between-subject factors of the effect (indices into [`AnovaInput::between`]).
    pub between: Vec<usize>,
    /// Within-subject factors of the effect (indices into [`AnovaInput::within`]).
    pub within: Vec<usize>,
    /// Numerator df (uncorrected).
    pub df1: f64,
    /// Denominator df (uncorrected).
    pub df2: f64,
    /// Sum of squares of the effect (type III).
    pub ss: f64,
    /// Sum of squares of its error term.
    pub ss_error: f64,
    /// Mean squared error, `ss_error / df2`.
    pub mse: f64,
    /// F statistic.
    pub f: f64,
    /// p-value (uncorrected).
    pub p: f64,
    /// Generalized eta squared (afex's `ges`).
    pub ges: f64,
    /// Partial eta squared, `ss / (ss + ss_error)`.
    pub pes: f64,
    /// Eta squared (effectsize's `partial = FALSE`): `ss` over the total sum of squares of the
    /// table without the intercept (every effect and every error term). NaN for the intercept.
    pub eta2: f64,
    /// Partial eta squared with its one-sided 95% CI from the noncentral F (effectsize's
    /// `eta_squared(partial = TRUE, ci = 0.95)` default, `[lower, 1]`).
    pub pes_ci: EffectSizeCi,
    /// Generalized eta squared with its one-sided 95% CI (effectsize's
    /// `eta_squared(generalized = TRUE)`, with afex's `observed` factors).
    pub ges_ci: EffectSizeCi,
    /// Eta squared with its one-sided 95% CI (effectsize's `eta_squared(partial = FALSE)`).
    pub eta2_ci: EffectSizeCi,
    /// Present for effects with a within part of more than one df.
    pub sphericity: Option<Sphericity>,
}

/// The ANOVA table.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AnovaTable {
    /// Effects in car/afex order: for each within term (none, then each within effect in
    /// formula order), the between terms (intercept excluded here), e.g. `G`, `A`, `G:A`.
    pub rows: Vec<AnovaRow>,
    /// The intercept test (afex prints it with `intercept = TRUE`).
    pub intercept: AnovaRow,
    /// Error df per subject-level projection, `n_subjects − number of between cells`.
    pub error_df: f64,
}

impl AnovaTable {
    /// The row of the effect named `effect` (e.g. `"MusicBg:Music"`).
    pub fn row(&self, effect: &str) -> Option<&AnovaRow> {
        self.rows.iter().find(|r| r.effect == effect)
    }
}

/// All non-empty subsets of `0..k`, by size, each in lexicographic order (R's term order).
fn terms(k: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    for size in 1..=k {
        let mut comb: Vec<usize> = (0..size).collect();
        loop {
            out.push(comb.clone());
            let mut i = size;
            let mut advanced = false;
            while i > 0 {
                i -= 1;
                if comb[i] < k - size + i {
                    comb[i] += 1;
                    for j in (i + 1)..size {
                        comb[j] = comb[j - 1] + 1;
                    }
                    advanced = true;
                    break;
                }
            }
            if !advanced {
                break;
            }
        }
    }
    out
}

/// Orthonormal basis (l × (l − 1)) of the contrasts of an l-level factor (normalised Helmert).
fn orthonormal_contrasts(l: usize) -> DMatrix<f64> {
    let mut m = DMatrix::zeros(l, l - 1);
    for k in 1..l {
        let norm = ((k * (k + 1)) as f64).sqrt();
        for i in 0..k {
            m[(i, k - 1)] = 1.0 / norm;
        }
        m[(k, k - 1)] = -(k as f64) / norm;
    }
    m
}

fn kron(a: &DMatrix<f64>, b: &DMatrix<f64>) -> DMatrix<f64> {
    a.kronecker(b)
}

/// Repeated-measures or mixed ANOVA, type III (afex `aov_car`; `observed` as afex).
///
/// ```
/// use cuelab_stats::{AnovaInput, WithinFactor, anova};
/// // Three subjects, one within factor with two levels.
/// let values = [1.0, 3.0, 2.0, 5.0, 4.0, 5.5];
/// let within = [WithinFactor { name: "A", n_levels: 2 }];
/// let t = anova(&AnovaInput { n_subjects: 3, between: &[], within: &within, values: &values, observed: &[] }).unwrap();
/// assert_eq!(t.rows[0].effect, "A");
/// assert_eq!((t.rows[0].df1, t.rows[0].df2), (1.0, 2.0));
/// ```
///
/// # Errors
/// Shape mismatches, a level code out of range, a within factor with fewer than 2 levels, an
/// `observed` name that is no factor, a between-subject cell without subjects, or no error df
/// left.
pub fn anova(input: &AnovaInput<'_>) -> Result<AnovaTable> {
    let n = input.n_subjects;
    for w in input.within {
        if w.n_levels < 2 {
            return Err(StatsError::TooFew {
                what: "levels of a within factor",
                needed: 2,
                got: w.n_levels,
            });
        }
    }
    let n_cells: usize = input.within.iter().map(|w| w.n_levels).product();
    if input.values.len() != n * n_cells {
        return Err(StatsError::LengthMismatch {
            what: "ANOVA values",
            expected: n * n_cells,
            actual: input.values.len(),
        });
    }
    check_finite("ANOVA values", input.values)?;
    for b in input.between {
        if b.codes.len() != n {
            return Err(StatsError::LengthMismatch {
                what: "between-factor codes",
                expected: n,
                actual: b.codes.len(),
            });
        }
        if b.n_levels < 2 {
            return Err(StatsError::TooFew {
                what: "levels of a between factor",
                needed: 2,
                got: b.n_levels,
            });
        }
        if let Some(index) = b.codes.iter().position(|&c| c >= b.n_levels) {
            return Err(StatsError::LevelOutOfRange {
                factor: b.name.to_string(),
                code: b.codes[index],
                index,
                n_levels: b.n_levels,
            });
        }
    }
    for o in input.observed {
        if !input.between.iter().any(|b| b.name == *o) && !input.within.iter().any(|w| w.name == *o)
        {
            return Err(StatsError::InvalidArgument(format!(
                "observed factor {o} is not in the design"
            )));
        }
    }

    // Every between-subject cell needs a subject, or the type III design is rank deficient.
    if !input.between.is_empty() {
        let n_between_cells: usize = input.between.iter().map(|b| b.n_levels).product();
        let mut seen = vec![false; n_between_cells];
        for s in 0..n {
            let cell = input
                .between
                .iter()
                .fold(0, |acc, b| acc * b.n_levels + b.codes[s]);
            seen[cell] = true;
        }
        if seen.iter().any(|&x| !x) {
            return Err(StatsError::Degenerate(
                "a between-subject cell has no subjects".into(),
            ));
        }
    }

    // Between-subject design: intercept, then each term with sum-to-zero coding.
    let between_terms = terms(input.between.len());
    let mut columns: Vec<Vec<f64>> = vec![vec![1.0; n]];
    let mut term_cols: Vec<Vec<usize>> = vec![vec![0]];
    for term in &between_terms {
        let mut cols: Vec<Vec<f64>> = vec![vec![1.0; n]];
        for &f in term {
            let b = &input.between[f];
            let mut next = Vec::new();
            for j in 0..(b.n_levels - 1) {
                for c in &cols {
                    let col: Vec<f64> = (0..n)
                        .map(|s| {
                            let code = b.codes[s];
                            let v = if code == j {
                                1.0
                            } else if code == b.n_levels - 1 {
                                -1.0
                            } else {
                                0.0
                            };
                            c[s] * v
                        })
                        .collect();
                    next.push(col);
                }
            }
            cols = next;
        }
        let start = columns.len();
        term_cols.push((start..start + cols.len()).collect());
        columns.extend(cols);
    }
    let p = columns.len();
    if n <= p {
        return Err(StatsError::TooFew {
            what: "subjects (more than between-design columns)",
            needed: p + 1,
            got: n,
        });
    }
    let x = DMatrix::from_fn(n, p, |i, j| columns[j][i]);
    let xtx = x.transpose() * &x;
    let xtx_inv = xtx
        .clone()
        .cholesky()
        .ok_or_else(|| StatsError::Degenerate("a between-subject cell has no subjects".into()))?
        .inverse();
    // Rank check: a missing between cell makes X'X singular even if Cholesky passes narrowly.
    if !(xtx_inv.iter().all(|v| v.is_finite())) {
        return Err(StatsError::Degenerate(
            "a between-subject cell has no subjects".into(),
        ));
    }
    let error_df = (n - p) as f64;
    let y = DMatrix::from_row_slice(n, n_cells, input.values);

    // Within terms: the empty term first, then as R orders them.
    let mut within_terms: Vec<Vec<usize>> = vec![vec![]];
    within_terms.extend(terms(input.within.len()));

    let mut rows = Vec::new();
    let mut intercept = None;
    let mut error_ss_sum = 0.0;
    for w_term in &within_terms {
        let mut m = DMatrix::from_element(1, 1, 1.0);
        for (f, w) in input.within.iter().enumerate() {
            let part = if w_term.contains(&f) {
                orthonormal_contrasts(w.n_levels)
            } else {
                DMatrix::from_element(w.n_levels, 1, 1.0 / (w.n_levels as f64).sqrt())
            };
            m = kron(&m, &part);
        }
        let d = m.ncols();
        let yw = &y * &m;
        let bhat = &xtx_inv * (x.transpose() * &yw);
        let resid = &yw - &x * &bhat;
        let e = resid.transpose() * &resid;
        let ss_error = e.trace();
        error_ss_sum += ss_error;
        let df2 = error_df * d as f64;
        let sphericity = if d > 1 {
            sphericity_stats(&e, d, n_cells, error_df)
        } else {
            None
        };

        for (t_idx, cols) in term_cols.iter().enumerate() {
            let q = cols.len();
            let bt = DMatrix::from_fn(q, d, |i, j| bhat[(cols[i], j)]);
            let vt = DMatrix::from_fn(q, q, |i, j| xtx_inv[(cols[i], cols[j])]);
            let vt_inv = vt
                .cholesky()
                .ok_or_else(|| {
                    StatsError::Degenerate("singular between-subject hypothesis".into())
                })?
                .inverse();
            let h = bt.transpose() * vt_inv * &bt;
            let ss = h.trace();
            let df1 = (q * d) as f64;
            let f = (ss / df1) / (ss_error / df2);
            let between: Vec<usize> = if t_idx == 0 {
                vec![]
            } else {
                between_terms[t_idx - 1].clone()
            };
            let mut names: Vec<&str> = between.iter().map(|&b| input.between[b].name).collect();
            names.extend(w_term.iter().map(|&w| input.within[w].name));
            let effect = if names.is_empty() {
                "(Intercept)".to_string()
            } else {
                names.join(":")
            };
            let corr = |eps: f64| {
                let e1 = eps.min(1.0);
                Correction {
                    epsilon: eps,
                    df1: df1 * e1,
                    df2: df2 * e1,
                    p: f_upper(f, df1 * e1, df2 * e1),
                }
            };
            let row = AnovaRow {
                effect,
                between,
                within: w_term.clone(),
                df1,
                df2,
                ss,
                ss_error,
                mse: ss_error / df2,
                f,
                p: f_upper(f, df1, df2),
                ges: f64::NAN,
                pes: ss / (ss + ss_error),
                eta2: f64::NAN,
                pes_ci: nan_ci(),
                ges_ci: nan_ci(),
                eta2_ci: nan_ci(),
                sphericity: sphericity.map(|(w, wp, gg, hf)| Sphericity {
                    mauchly_w: w,
                    mauchly_p: wp,
                    gg: corr(gg),
                    hf: {
                        let mut c = corr(hf);
                        c.epsilon = hf;
                        c
                    },
                }),
            };
            if t_idx == 0 && w_term.is_empty() {
                intercept = Some(row);
            } else {
                rows.push(row);
            }
        }
    }

    // Generalized eta squared as afex: SS / (SS + Σ distinct error SS + observed SS − own
    // observed SS), the sums running over the whole table including the intercept row.
    let is_observed = |r: &AnovaRow| {
        r.between
            .iter()
            .any(|&b| input.observed.contains(&input.between[b].name))
            || r.within
                .iter()
                .any(|&w| input.observed.contains(&input.within[w].name))
    };
    let observed_ss: f64 = rows.iter().filter(|r| is_observed(r)).map(|r| r.ss).sum();
    let mut intercept =
        intercept.ok_or_else(|| StatsError::Degenerate("no intercept row".into()))?;
    // Eta squared as effectsize: the total runs over every effect and every error term but
    // not the intercept.
    let total_ss = rows.iter().map(|r| r.ss).sum::<f64>() + error_ss_sum;
    for r in rows.iter_mut().chain(std::iter::once(&mut intercept)) {
        let own = if is_observed(r) { r.ss } else { 0.0 };
        r.ges = r.ss / (r.ss + error_ss_sum + observed_ss - own);
        r.pes_ci = effect_ci(r.pes, r.df1, r.df2);
        r.ges_ci = effect_ci(r.ges, r.df1, r.df2);
    }
    for r in &mut rows {
        r.eta2 = r.ss / total_ss;
        r.eta2_ci = effect_ci(r.eta2, r.df1, r.df2);
    }
    Ok(AnovaTable {
        rows,
        intercept,
        error_df,
    })
}

/// The CI effectsize gives by default (one-sided 95%), or NaN where none can be computed.
fn effect_ci(es: f64, df1: f64, df2: f64) -> EffectSizeCi {
    if es.is_nan() {
        return nan_ci();
    }
    eta_squared_ci(es.max(0.0), df1, df2, 0.95).unwrap_or_else(|_| nan_ci())
}

fn nan_ci() -> EffectSizeCi {
    EffectSizeCi {
        estimate: f64::NAN,
        ci_lower: f64::NAN,
        ci_upper: f64::NAN,
        conf_level: 0.95,
        one_sided: true,
    }
}

/// Mauchly's W and p, GG and HF epsilon, from the residual SSP `e` (d × d, orthonormal basis),
/// `n_cells` within cells in all and `error_df` residual df (car's formulas, including its use of
/// the number of cells in the second-order term of Mauchly's p).
fn sphericity_stats(
    e: &DMatrix<f64>,
    d: usize,
    n_cells: usize,
    error_df: f64,
) -> Option<(f64, f64, f64, f64)> {
    let df = d as f64;
    let tr = e.trace();
    let tr2 = (e * e).trace();
    let gg = tr * tr / (df * tr2);
    let hf = ((error_df + 1.0) * df * gg - 2.0) / (df * (error_df - df * gg));
    let det = e.determinant();
    if det.is_nan() || det <= 0.0 || tr.is_nan() || tr <= 0.0 {
        return None;
    }
    let log_w = det.ln() - df * (tr / df).ln();
    let nn = error_df;
    let rho = 1.0 - (2.0 * df * df + df + 2.0) / (6.0 * df * nn);
    let pc = n_cells as f64;
    let w2 =
        (df + 2.0) * (df - 1.0) * (df - 2.0) * (2.0 * df.powi(3) + 6.0 * df * df + 3.0 * pc + 2.0)
            / (288.0 * (nn * df * rho).powi(2));
    let z = -nn * rho * log_w;
    let f = df * (df + 1.0) / 2.0 - 1.0;
    let pr1 = chisq_upper(z, f);
    let pr2 = chisq_upper(z, f + 4.0);
    let p = pr1 + w2 * (pr2 - pr1);
    Some((log_w.exp(), p, gg, hf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_follow_r_order() {
        assert_eq!(
            terms(3),
            vec![
                vec![0],
                vec![1],
                vec![2],
                vec![0, 1],
                vec![0, 2],
                vec![1, 2],
                vec![0, 1, 2]
            ]
        );
        assert!(terms(0).is_empty());
    }

    #[test]
    fn contrasts_are_orthonormal_and_sum_to_zero() {
        for l in 2..6 {
            let m = orthonormal_contrasts(l);
            let g = m.transpose() * &m;
            assert!((g - DMatrix::identity(l - 1, l - 1)).abs().max() < 1e-14);
            assert!(m.row_sum().abs().max() < 1e-14);
        }
    }

    #[test]
    fn empty_between_cell_is_degenerate() {
        let values = [1.0, 2.0, 3.0, 4.0];
        let between = [BetweenFactor {
            name: "G",
            n_levels: 3,
            codes: &[0, 1, 0, 1],
        }];
        let err = anova(&AnovaInput {
            n_subjects: 4,
            between: &between,
            within: &[],
            values: &values,
            observed: &[],
        })
        .unwrap_err();
        assert!(matches!(err, StatsError::Degenerate(_)), "{err}");
    }
}
