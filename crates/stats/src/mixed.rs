//! Linear mixed models with vector-valued random effects — random intercepts *and slopes* with
//! correlations, `(1 + a | subject)`, alone or crossed with other terms such as `(1 | item)` —
//! fitted by REML (or ML) as lme4, with Satterthwaite df as lmerTest.
//!
//! Key design decision: as in [`crate::lmm`], the rows are touched once. One pass accumulates
//! the cross-products of the augmented matrix `[Z X y]` — per level of the *eliminated* term
//! (the one with the most random effects, levels × columns) its small `q × q` block `Z_j'Z_j`
//! and its row block against everything else, and one dense block for the other terms' levels,
//! X and y. lme4's relative covariance factor is `Λ = ⊕ I_{m_t} ⊗ T_t` with `T_t` the
//! lower-triangular `q_t × q_t` factor whose lower triangle, column by column, is θ. At a given θ the profiled deviance
//! needs the Cholesky factor of `Λ'Z'ZΛ + I` bordered by X and y (lme4's PLS step). The
//! eliminated term's part is block diagonal, so each level's `T'Z_j'Z_jT + I` is factorised on
//! its own and removed by a Schur complement; only the remaining block (the other terms' levels,
//! X, y) goes through a dense Cholesky. The deviance, β̂, vcov(β̂) and the REML criterion follow
//! from that factor exactly as lme4's `pwrssUpdate`/`devfun` compute them.
//!
//! The deviance is invariant under a sign change of any column of a `T_t` (it depends on `Λ`
//! only through `Λ'Z'ZΛ + I` up to an orthogonal similarity), so it is minimised without bounds
//! (Nelder-Mead, then Newton steps on Richardson derivatives, shared with [`crate::lmm`]) and
//! each column is then given a non-negative diagonal, lme4's parameterisation (its diagonal
//! elements have lower bound 0). A fit is singular, as `lme4::isSingular`, when a diagonal
//! element is below 1e-4.
//!
//! Cost model: the pass over the data is O(n (q_e² + s²)) for s non-zero entries per row
//! outside the eliminated term (the other terms' q_t, the fixed columns, y). One deviance
//! evaluation is O(m_e q_e r² + r³) with m_e the levels of the eliminated term and
//! r = Σ_{other terms} m_t q_t + p + 1; memory is O(m_e q_e r + r²). Participants with random
//! slopes crossed with items — (1 + a | participant) + (1 | item) with 1,000 × 50 levels — is
//! r ≈ 55, a few milliseconds per evaluation at any number of rows: on 1,000,000 rows
//! (`benches/stats.rs`, `lmm_slopes_1m_rows`) the whole fit with Satterthwaite df takes 1.5 s
//! against 268 s for `lmer` + lmerTest's summary on the same model (`benches/r/lmm_slopes_1m.R`;
//! 2-core machine under a load of 5–7 from other work, November 2026). The Schur product
//! `V'V` (a GEMM of m_e q_e × r²) dominates as r grows: the same model with 200 items costs
//! 31 s on 200,000 rows and with 500 items 86 s (same machine and load; 264 Nelder-Mead
//! evaluations plus those of the Newton polish and the Satterthwaite derivatives). The limit:
//! the dense block grows with the *second* largest grouping; two crossed factors with thousands
//! of levels each (r in the thousands) cost seconds per evaluation. A sparse Cholesky (lme4's
//! CHOLMOD) would not help when the factors are fully crossed — every participant seeing every item
//! fills the items' block in under any elimination order, so lme4 factorises it dense too — but
//! it would when they are only partly crossed (thousands of items, each participant seeing a
//! few dozen): then the remaining block stays sparse and a fill-reducing ordering pays. This
//! module has no sparse path; such designs fit here at the dense cost above.

use nalgebra::{DMatrix, DVector};

use crate::design::DesignMatrix;
use crate::error::{Result, StatsError, check_finite};
use crate::lmm::{
    Convergence, Factored, LmmFit, LmmOptions, Profiled, RandomCorrelation, SINGULAR_TOL,
    VarianceComponent, minimise, satterthwaite,
};

/// One random-effects term `(c₁ + c₂ + … | group)`: a grouping factor and the columns of the
/// term's model matrix (1 for an intercept, a treatment-coded dummy or a covariate for a slope).
/// The term's effects per level are correlated (an unstructured covariance, as lme4's `|`).
#[derive(Debug, Clone, Copy)]
pub struct RandomTerm<'a> {
    /// Grouping factor name (e.g. `participant`).
    pub group: &'a str,
    /// Number of level codes; levels that never occur are ignored, as lme4 drops them.
    pub n_levels: usize,
    /// Level code of each row.
    pub codes: &'a [u32],
    /// Names of the term's columns, as lme4 prints them (`(Intercept)`, `congruenceincongruent`).
    pub names: &'a [String],
    /// The term's columns, each with one value per row.
    pub columns: &'a [&'a [f64]],
}

/// Shape of the augmented system.
#[derive(Debug)]
struct Layout {
    n: usize,
    p: usize,
    /// Columns per term.
    q: Vec<usize>,
    /// Levels per term.
    m: Vec<usize>,
    /// The term eliminated by its block diagonal.
    elim: usize,
    /// Offset of each other term's first column in the dense block (unused for `elim`).
    offset: Vec<usize>,
    /// Random columns in the dense block.
    m_rest: usize,
    /// Start of each term's θ.
    theta_start: Vec<usize>,
    theta_len: usize,
}

impl Layout {
    fn r(&self) -> usize {
        self.m_rest + self.p + 1
    }

    /// The term's relative covariance factor `T` (row-major, lower triangular) from θ.
    fn t_factor(&self, theta: &[f64], term: usize) -> Vec<f64> {
        let q = self.q[term];
        let mut t = vec![0.0; q * q];
        let mut k = self.theta_start[term];
        for j in 0..q {
            for i in j..q {
                t[i * q + j] = theta[k];
                k += 1;
            }
        }
        t
    }
}

/// The θ-free cross-products.
#[derive(Debug)]
struct General {
    layout: Layout,
    /// `Z_j'Z_j` of the eliminated term, level after level (each q_e × q_e, row-major).
    d: Vec<f64>,
    /// Rows: the dense block; columns: the eliminated term's columns level by level (so one
    /// level's block is contiguous in memory).
    b0t: DMatrix<f64>,
    /// The dense block without Λ and without the identity.
    s0: DMatrix<f64>,
}

/// In-place Cholesky of a small row-major SPD matrix (lower triangle); false if not PD.
fn small_cholesky(a: &mut [f64], q: usize) -> bool {
    for j in 0..q {
        let mut d = a[j * q + j];
        for k in 0..j {
            d -= a[j * q + k] * a[j * q + k];
        }
        if d.is_nan() || d <= 0.0 {
            return false;
        }
        let d = d.sqrt();
        a[j * q + j] = d;
        for i in (j + 1)..q {
            let mut v = a[i * q + j];
            for k in 0..j {
                v -= a[i * q + k] * a[j * q + k];
            }
            a[i * q + j] = v / d;
        }
    }
    true
}

impl General {
    fn factor_at(&self, theta: &[f64]) -> Option<Factored> {
        let lay = &self.layout;
        let r = lay.r();
        let e = lay.elim;
        let qe = lay.q[e];
        let te = lay.t_factor(theta, e);
        // Vᵀ: one column per random effect of the eliminated term, V_j = L_j⁻¹ T' B_j.
        let mut vt = DMatrix::<f64>::zeros(r, lay.m[e] * qe);
        let mut ld_l2 = 0.0;
        let mut a = vec![0.0; qe * qe];
        let mut dt = vec![0.0; qe * qe];
        for j in 0..lay.m[e] {
            let dj = &self.d[j * qe * qe..(j + 1) * qe * qe];
            // A = T' D_j T + I.
            for i in 0..qe {
                for c in 0..qe {
                    dt[i * qe + c] = (0..qe).map(|k| dj[i * qe + k] * te[k * qe + c]).sum();
                }
            }
            for i in 0..qe {
                for c in 0..qe {
                    a[i * qe + c] = (0..qe)
                        .map(|k| te[k * qe + i] * dt[k * qe + c])
                        .sum::<f64>()
                        + if i == c { 1.0 } else { 0.0 };
                }
            }
            if !small_cholesky(&mut a, qe) {
                return None;
            }
            ld_l2 += (0..qe).map(|i| 2.0 * a[i * qe + i].ln()).sum::<f64>();
            // Column by column over contiguous memory (column-major storage): W_i = Σ_k T_ki B_k,
            // then forward substitution W_i = (W_i − Σ_{k<i} A_ik W_k) / A_ii.
            let b0 = self.b0t.as_slice();
            let block = &mut vt.as_mut_slice()[j * qe * r..(j + 1) * qe * r];
            for i in 0..qe {
                let (done, rest) = block.split_at_mut(i * r);
                let w = &mut rest[..r];
                for k in i..qe {
                    let tki = te[k * qe + i];
                    if tki != 0.0 {
                        let bk = &b0[(j * qe + k) * r..(j * qe + k + 1) * r];
                        for (x, y) in w.iter_mut().zip(bk) {
                            *x += tki * y;
                        }
                    }
                }
                for k in 0..i {
                    let aik = a[i * qe + k];
                    for (x, y) in w.iter_mut().zip(&done[k * r..(k + 1) * r]) {
                        *x -= aik * y;
                    }
                }
                let d = a[i * qe + i];
                for x in w.iter_mut() {
                    *x /= d;
                }
            }
        }
        let mut s = &self.s0 - &vt * vt.transpose();
        // Λ' S Λ on the other terms' blocks.
        for (t, &q) in lay.q.iter().enumerate() {
            if t == e {
                continue;
            }
            let tt = lay.t_factor(theta, t);
            for l in 0..lay.m[t] {
                let o = lay.offset[t] + l * q;
                let mut tmp = vec![0.0; q];
                for row in 0..r {
                    for (c, x) in tmp.iter_mut().enumerate() {
                        *x = (0..q).map(|k| s[(row, o + k)] * tt[k * q + c]).sum();
                    }
                    for (c, x) in tmp.iter().enumerate() {
                        s[(row, o + c)] = *x;
                    }
                }
                for col in 0..r {
                    for (c, x) in tmp.iter_mut().enumerate() {
                        *x = (0..q).map(|k| tt[k * q + c] * s[(o + k, col)]).sum();
                    }
                    for (c, x) in tmp.iter().enumerate() {
                        s[(o + c, col)] = *x;
                    }
                }
            }
        }
        for i in 0..lay.m_rest {
            s[(i, i)] += 1.0;
        }
        let chol = s.cholesky()?;
        let l = chol.l();
        let (xo, yo) = (lay.m_rest, lay.m_rest + lay.p);
        for i in 0..lay.m_rest {
            ld_l2 += 2.0 * l[(i, i)].ln();
        }
        let ld_rx2: f64 = (xo..yo).map(|i| 2.0 * l[(i, i)].ln()).sum();
        Some(Factored {
            ld_l2,
            ld_rx2,
            r2: l[(yo, yo)].powi(2),
            lxx: l.view((xo, xo), (lay.p, lay.p)).into_owned(),
            lyx: DVector::from_iterator(lay.p, (0..lay.p).map(|j| l[(yo, xo + j)])),
        })
    }
}

impl Profiled for General {
    fn factor(&self, theta: &[f64]) -> Option<Factored> {
        self.factor_at(theta)
    }

    fn n_obs(&self) -> usize {
        self.layout.n
    }

    fn n_fixed(&self) -> usize {
        self.layout.p
    }
}

fn validate(y: &[f64], x: &DesignMatrix, terms: &[RandomTerm<'_>]) -> Result<()> {
    let n = y.len();
    crate::lmm::check_response(y, x, terms.len(), "random-effects terms")?;
    for t in terms {
        crate::lmm::check_grouping(n, t.group, t.codes, t.n_levels)?;
        if t.columns.is_empty() {
            return Err(StatsError::TooFew {
                what: "columns of a random-effects term",
                needed: 1,
                got: 0,
            });
        }
        if t.names.len() != t.columns.len() {
            return Err(StatsError::LengthMismatch {
                what: "random-effects column names",
                expected: t.columns.len(),
                actual: t.names.len(),
            });
        }
        for c in t.columns {
            if c.len() != n {
                return Err(StatsError::LengthMismatch {
                    what: "random-effects column",
                    expected: n,
                    actual: c.len(),
                });
            }
            check_finite("random-effects column", c)?;
        }
    }
    if n <= x.n_cols() + 1 {
        return Err(StatsError::TooFew {
            what: "observations",
            needed: x.n_cols() + 2,
            got: n,
        });
    }
    Ok(())
}

/// One pass over the rows: the cross-products of the augmented system.
fn accumulate(y: &[f64], x: &DesignMatrix, terms: &[RandomTerm<'_>]) -> (General, Vec<usize>) {
    let n = y.len();
    let p = x.n_cols();
    let q: Vec<usize> = terms.iter().map(|t| t.columns.len()).collect();
    let m: Vec<usize> = terms.iter().map(|t| t.n_levels).collect();
    // The term with the most random effects (levels × columns; the first of equals) is
    // eliminated, which leaves the smallest dense block.
    let elim = (0..terms.len())
        .max_by(|&a, &b| (m[a] * q[a]).cmp(&(m[b] * q[b])).then(b.cmp(&a)))
        .unwrap_or(0);
    let mut offset = vec![usize::MAX; terms.len()];
    let mut m_rest = 0;
    for t in 0..terms.len() {
        if t != elim {
            offset[t] = m_rest;
            m_rest += m[t] * q[t];
        }
    }
    let mut theta_start = Vec::with_capacity(terms.len());
    let mut theta_len = 0;
    for &qt in &q {
        theta_start.push(theta_len);
        theta_len += qt * (qt + 1) / 2;
    }
    let layout = Layout {
        n,
        p,
        q,
        m,
        elim,
        offset,
        m_rest,
        theta_start,
        theta_len,
    };
    let r = layout.r();
    let qe = layout.q[elim];
    let mut d = vec![0.0; layout.m[elim] * qe * qe];
    let mut b0t = DMatrix::<f64>::zeros(r, layout.m[elim] * qe);
    let mut s0 = DMatrix::<f64>::zeros(r, r);
    let mut counts: Vec<Vec<u32>> = terms.iter().map(|t| vec![0; t.n_levels]).collect();
    let xcols: Vec<&[f64]> = (0..p).map(|j| x.column(j)).collect();
    let (xo, yo) = (m_rest, m_rest + p);
    let mut entries: Vec<(usize, f64)> = Vec::with_capacity(r);
    let mut ze = vec![0.0; qe];
    for i in 0..n {
        entries.clear();
        for (t, term) in terms.iter().enumerate() {
            let lvl = term.codes[i] as usize;
            counts[t][lvl] += 1;
            if t == elim {
                continue;
            }
            let o = layout.offset[t] + lvl * layout.q[t];
            for (c, col) in term.columns.iter().enumerate() {
                if col[i] != 0.0 {
                    entries.push((o + c, col[i]));
                }
            }
        }
        for (j, col) in xcols.iter().enumerate() {
            if col[i] != 0.0 {
                entries.push((xo + j, col[i]));
            }
        }
        entries.push((yo, y[i]));
        let je = terms[elim].codes[i] as usize;
        for (c, col) in terms[elim].columns.iter().enumerate() {
            ze[c] = col[i];
        }
        let dj = &mut d[je * qe * qe..(je + 1) * qe * qe];
        for a in 0..qe {
            for b in 0..qe {
                dj[a * qe + b] += ze[a] * ze[b];
            }
            if ze[a] != 0.0 {
                for &(idx, v) in &entries {
                    b0t[(idx, je * qe + a)] += ze[a] * v;
                }
            }
        }
        // Entries are in increasing index order: accumulate the upper triangle.
        for (u, &(i1, v1)) in entries.iter().enumerate() {
            for &(i2, v2) in &entries[u..] {
                s0[(i1, i2)] += v1 * v2;
            }
        }
    }
    for a in 0..r {
        for b in 0..a {
            s0[(a, b)] = s0[(b, a)];
        }
    }
    let used = counts
        .iter()
        .map(|c| c.iter().filter(|&&v| v > 0).count())
        .collect();
    (General { layout, d, b0t, s0 }, used)
}

/// Fits `y ~ X + (terms)` by REML (or ML) as `lme4::lmer`, with Satterthwaite df for every fixed
/// effect as `lmerTest` (and [`LmmFit::f_test`] for its type III table). Each random term has
/// an unstructured covariance of its columns (`(1 + a | g)`); crossed and nested groupings are
/// several terms.
///
/// ```
/// use cuelab_stats::{DesignMatrix, LmmOptions, RandomTerm, fit_mixed};
/// // Four subjects, two conditions, two trials per cell.
/// let y = [10.0, 10.5, 12.0, 12.4, 11.0, 11.3, 15.0, 15.9, 13.0, 12.2, 17.0, 18.1, 9.0, 9.8, 12.0, 11.1];
/// let a: Vec<f64> = (0..16).map(|i| ((i / 2) % 2) as f64).collect();
/// let x = DesignMatrix::from_columns(vec!["(Intercept)".into(), "a".into()], vec![vec![1.0; 16], a.clone()]).unwrap();
/// let codes: Vec<u32> = (0..16).map(|i| i / 4).collect();
/// let ones = vec![1.0; 16];
/// let names = ["(Intercept)".to_string(), "a".to_string()];
/// let cols = [&ones[..], &a[..]];
/// let term = RandomTerm { group: "subject", n_levels: 4, codes: &codes, names: &names, columns: &cols };
/// let fit = fit_mixed(&y, &x, &[term], &LmmOptions::default()).unwrap();
/// assert_eq!(fit.random.len(), 2);
/// assert_eq!(fit.correlations.len(), 1);
/// ```
///
/// # Errors
/// Shape mismatches, a non-finite value, a level code out of range, no random term, too few
/// rows, as many random effects in a term as observations (lme4's `check.nobs.vs.nRE`), a
/// rank-deficient X ([`StatsError::Degenerate`]) or a failed optimisation.
pub fn fit_mixed(
    y: &[f64],
    x: &DesignMatrix,
    terms: &[RandomTerm<'_>],
    options: &LmmOptions,
) -> Result<LmmFit> {
    validate(y, x, terms)?;
    let n = y.len();
    let p = x.n_cols();
    // With an intercept column, fit y − ȳ and add ȳ back to the intercept (see crate::lmm).
    let intercept = (0..p).find(|&j| x.column(j).iter().all(|&v| v == 1.0));
    let shift = match intercept {
        Some(_) => y.iter().sum::<f64>() / n as f64,
        None => 0.0,
    };
    let centred: Vec<f64> = y.iter().map(|v| v - shift).collect();
    let (sys, used) = accumulate(&centred, x, terms);
    for (t, term) in terms.iter().enumerate() {
        // lme4's checks: a grouping factor needs more than one level and fewer levels than
        // observations.
        if used[t] < 2 || used[t] >= n {
            return Err(StatsError::Degenerate(format!(
                "grouping factor {} has {} levels for {n} observations: it needs more than one \
                 and fewer than the observations",
                term.group, used[t]
            )));
        }
        let n_re = used[t] * term.columns.len();
        if n_re >= n {
            return Err(StatsError::Degenerate(format!(
                "number of observations ({n}) <= number of random effects ({n_re}) for the \
                 term of {}: the random-effects parameters and the residual variance are \
                 unidentifiable",
                term.group
            )));
        }
    }
    let lay = &sys.layout;
    let xo = lay.m_rest;
    let xtx = sys.s0.view((xo, xo), (p, p));
    let xtx_scaled = DMatrix::from_fn(p, p, |a, b| {
        xtx[(a, b)] / (xtx[(a, a)] * xtx[(b, b)]).sqrt()
    });
    let full_rank = xtx_scaled
        .cholesky()
        .is_some_and(|c| c.l().diagonal().iter().all(|&d| d * d > 1e-10));
    if !full_rank {
        return Err(StatsError::Degenerate(
            "the fixed-effects design is rank deficient".into(),
        ));
    }
    let reml = options.reml;
    let mut theta0 = vec![0.0; lay.theta_len];
    for (t, &q) in lay.q.iter().enumerate() {
        let mut k = lay.theta_start[t];
        for j in 0..q {
            theta0[k] = 1.0;
            k += q - j;
        }
    }
    let dev = |t: &[f64]| sys.profiled(t, reml);
    let opt = minimise(&dev, &theta0)?;
    let mut theta = opt.theta;
    // lme4's parameterisation: a non-negative diagonal in every T (a column's sign is free).
    for (t, &q) in lay.q.iter().enumerate() {
        let s = lay.theta_start[t];
        let mut col_start = s;
        for j in 0..q {
            if theta[col_start] < 0.0 {
                for v in &mut theta[col_start..col_start + (q - j)] {
                    *v = -*v;
                }
            }
            col_start += q - j;
        }
    }
    let fac = sys
        .factor(&theta)
        .ok_or_else(|| StatsError::NoConvergence("Cholesky failed at the optimum".into()))?;
    let sigma2 = fac.r2 / sys.dof(reml);
    let sigma = sigma2.sqrt();
    let mut beta = fac.beta();
    if let Some(j) = intercept {
        beta[j] += shift;
    }
    let vcov = fac.covbeta(sigma2);
    let criterion = sys.profiled(&theta, reml);
    let (varpar_vcov, vcov_jacobian, hessian_min_eigenvalue) = if options.satterthwaite {
        let (a, j, e) = satterthwaite(&sys, &theta, sigma, reml)?;
        (Some(a), j, e)
    } else {
        (None, Vec::new(), f64::NAN)
    };

    let mut random = Vec::new();
    let mut correlations = Vec::new();
    let mut singular = false;
    for (t, term) in terms.iter().enumerate() {
        let q = lay.q[t];
        let tt = lay.t_factor(&theta, t);
        singular |= (0..q).any(|i| tt[i * q + i] < SINGULAR_TOL);
        let cov = |a: usize, b: usize| {
            sigma2 * (0..q).map(|k| tt[a * q + k] * tt[b * q + k]).sum::<f64>()
        };
        for a in 0..q {
            let variance = cov(a, a);
            random.push(VarianceComponent {
                group: term.group.to_string(),
                term: term.names[a].clone(),
                n_levels: used[t],
                variance,
                sd: variance.sqrt(),
            });
        }
        for a in 0..q {
            for b in (a + 1)..q {
                let c = cov(a, b);
                let denom = (cov(a, a) * cov(b, b)).sqrt();
                correlations.push(RandomCorrelation {
                    group: term.group.to_string(),
                    a: term.names[a].clone(),
                    b: term.names[b].clone(),
                    covariance: c,
                    correlation: if denom > 0.0 { c / denom } else { f64::NAN },
                });
            }
        }
    }
    let mut fit = LmmFit {
        n_obs: n,
        reml,
        fixed: Vec::new(),
        random,
        correlations,
        singular,
        residual_sd: sigma,
        theta,
        criterion,
        vcov: (0..p * p).map(|i| vcov[(i / p, i % p)]).collect(),
        convergence: Convergence {
            converged: opt.gradient_max < 1e-3 || (opt.nm_converged && opt.gradient_max.is_nan()),
            evaluations: opt.evaluations,
            newton_steps: opt.newton_steps,
            gradient_max: opt.gradient_max,
            hessian_min_eigenvalue,
        },
        varpar_vcov,
        vcov_jacobian,
    };
    fit.set_fixed_tests(x.names(), beta.as_slice())?;
    Ok(fit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grouping_with_one_level_is_degenerate() {
        let y = [1.0, 2.0, 3.5, 4.0, 5.5, 6.0];
        let x = DesignMatrix::from_columns(vec!["(Intercept)".into()], vec![vec![1.0; 6]]).unwrap();
        let ones = [1.0; 6];
        let names = ["(Intercept)".to_string()];
        let cols = [&ones[..]];
        let term = RandomTerm {
            group: "g",
            n_levels: 3,
            codes: &[1; 6],
            names: &names,
            columns: &cols,
        };
        let err = fit_mixed(&y, &x, &[term], &LmmOptions::default()).unwrap_err();
        assert!(matches!(err, StatsError::Degenerate(_)), "{err}");
    }

    #[test]
    fn small_cholesky_factors_and_rejects() {
        let mut a = vec![4.0, 2.0, 2.0, 3.0];
        assert!(small_cholesky(&mut a, 2));
        assert!((a[0] - 2.0).abs() < 1e-15 && (a[2] - 1.0).abs() < 1e-15);
        assert!((a[3] - 2f64.sqrt()).abs() < 1e-15);
        let mut b = vec![1.0, 2.0, 2.0, 1.0];
        assert!(!small_cholesky(&mut b, 2));
    }
}
