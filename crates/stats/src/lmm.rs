//! Linear mixed models with random intercepts for one or more (crossed) grouping factors,
//! fitted by REML (or ML) as lme4, with Satterthwaite degrees of freedom as lmerTest. Random
//! slopes are [`crate::mixed`], which shares this module's optimiser, numerical derivatives and
//! result type.
//!
//! Key design decision: the data are touched once. One pass accumulates the sufficient
//! statistics — level counts, the cross-tabulations of every pair of grouping factors, Z'X,
//! Z'y, X'X, X'y, y'y — and everything after works on matrices whose size is the number of
//! random levels, not the number of rows. The profiled deviance at a given θ (lme4's relative
//! standard deviations) is the Cholesky factorisation of the augmented matrix
//! `[ΛZ X y]'[ΛZ X y] + diag(I, 0, 0)`; the grouping factor with the most levels has a diagonal
//! block there, so it is eliminated first by a Schur complement and only the other levels,
//! X and y enter a dense Cholesky. Deviance, β̂, vcov(β̂) and the REML criterion fall out of
//! that one factor.
//!
//! The deviance is invariant to the sign of each θ_k, so it is minimised without bounds
//! (Nelder-Mead, then Newton steps with Richardson-extrapolated derivatives) and |θ| reported.
//! Satterthwaite df repeat lmerTest exactly: the Hessian of the deviance in (θ, σ) and the
//! Jacobian of vcov(β̂) in (θ, σ) by numDeriv's Richardson scheme (same steps), the covariance
//! of (θ, σ) as twice the pseudo-inverse of that Hessian.
//!
//! Cost: the pass over the data is O(n (p² + K²)) for p fixed-effect columns and K grouping
//! factors; a deviance evaluation is O(m₁ r² + r³) with m₁ the levels of the largest factor and
//! r = (levels of the other factors) + p + 1. Participants × clips (1,000 × 50) costs about a
//! millisecond per evaluation; two crossed factors with thousands of levels *each* would need a
//! sparse Cholesky (as lme4's CHOLMOD), which this module does not have.
//!
//! Numerical care: with an intercept column y − ȳ is fitted (ȳ added back to the intercept),
//! so the sums of squares stay on the residual scale.

use std::collections::HashMap;

use nalgebra::{DMatrix, DVector, SymmetricEigen};

use crate::design::DesignMatrix;
use crate::dist::t_two_sided;
use crate::error::{Result, StatsError, check_finite};

/// A grouping factor for random intercepts: one level code per row (`codes[i] < n_levels`).
/// Levels that never occur are ignored, as lme4 drops unused levels.
#[derive(Debug, Clone, Copy)]
pub struct GroupingFactor<'a> {
    /// Name (e.g. `Subject`).
    pub name: &'a str,
    /// Number of level codes.
    pub n_levels: usize,
    /// Level code of each row.
    pub codes: &'a [u32],
}

/// Options of [`fit_lmm`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct LmmOptions {
    /// REML (default, as `lmer`) or maximum likelihood.
    pub reml: bool,
    /// Compute Satterthwaite df (default true); without them `df` is NaN and `p` too.
    pub satterthwaite: bool,
}

impl Default for LmmOptions {
    fn default() -> Self {
        Self {
            reml: true,
            satterthwaite: true,
        }
    }
}

impl LmmOptions {
    /// Maximum likelihood instead of REML.
    pub fn ml() -> Self {
        Self {
            reml: false,
            ..Self::default()
        }
    }
}

/// A test of one fixed effect or linear contrast of fixed effects.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FixedTest {
    /// Coefficient name (or `"contrast"`).
    pub name: String,
    /// Estimate.
    pub estimate: f64,
    /// Standard error.
    pub se: f64,
    /// Satterthwaite degrees of freedom.
    pub df: f64,
    /// t statistic.
    pub t: f64,
    /// Two-sided p-value from t with `df`.
    pub p: f64,
}

/// Variance of one random effect (an intercept or a slope) of one grouping factor, as a row of
/// lme4's `VarCorr`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct VarianceComponent {
    /// Grouping factor name.
    pub group: String,
    /// Column of the random-effects term (`(Intercept)` or a slope column such as
    /// `congruenceincongruent`).
    pub term: String,
    /// Number of levels that occur in the data.
    pub n_levels: usize,
    /// Variance of the intercepts.
    pub variance: f64,
    /// Standard deviation of the intercepts.
    pub sd: f64,
}

/// Correlation of two random effects of one term (lme4's `VarCorr`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RandomCorrelation {
    /// Grouping factor name.
    pub group: String,
    /// First column of the term.
    pub a: String,
    /// Second column of the term.
    pub b: String,
    /// Covariance `σ² (T T')_{ab}`.
    pub covariance: f64,
    /// Correlation; NaN when either standard deviation is 0.
    pub correlation: f64,
}

/// How the optimisation ended.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Convergence {
    /// Whether the optimiser reached its tolerance.
    pub converged: bool,
    /// Deviance evaluations by Nelder-Mead.
    pub evaluations: usize,
    /// Newton polishing steps.
    pub newton_steps: usize,
    /// Max-norm of the deviance gradient in θ at the end.
    pub gradient_max: f64,
    /// Smallest eigenvalue of the Hessian of the deviance in (θ, σ) (lmerTest warns when it
    /// is not positive). NaN when Satterthwaite df were not asked for.
    pub hessian_min_eigenvalue: f64,
}

/// A fitted linear mixed model.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LmmFit {
    /// Number of observations.
    pub n_obs: usize,
    /// Whether REML (true) or ML was used.
    pub reml: bool,
    /// Fixed effects in design-column order.
    pub fixed: Vec<FixedTest>,
    /// Variances of the random effects: per random term in the order given, one per column of
    /// the term (for intercept-only models, one per grouping factor).
    pub random: Vec<VarianceComponent>,
    /// Correlations of the random effects within each term (empty for intercept-only terms).
    pub correlations: Vec<RandomCorrelation>,
    /// lme4's `isSingular()`: some element of θ with a lower bound of 0 (an SD relative to σ, a
    /// diagonal element of a term's Cholesky factor) is below 1e-4 — a variance at 0 or a
    /// correlation at ±1.
    pub singular: bool,
    /// Residual standard deviation (σ).
    pub residual_sd: f64,
    /// lme4's θ: per random term in the order given, the lower triangle of the term's relative
    /// Cholesky factor, column by column (for a random intercept: its SD relative to σ).
    pub theta: Vec<f64>,
    /// The REML criterion (`REMLcrit`), or for ML the deviance (−2 log-likelihood).
    pub criterion: f64,
    /// Covariance matrix of the fixed effects (p × p, row-major).
    pub vcov: Vec<f64>,
    /// How the optimiser ended.
    pub convergence: Convergence,
    /// 2 × pseudo-inverse of the deviance Hessian in (θ, σ).
    pub(crate) varpar_vcov: Option<DMatrix<f64>>,
    /// d vcov(β) / d (θ, σ), one p × p matrix per parameter.
    pub(crate) vcov_jacobian: Vec<DMatrix<f64>>,
}

impl LmmFit {
    /// Fills `fixed` with the Satterthwaite t test of each coefficient (vcov and the
    /// Satterthwaite ingredients must be set).
    pub(crate) fn set_fixed_tests(&mut self, names: &[String], beta: &[f64]) -> Result<()> {
        let p = beta.len();
        self.fixed = names
            .iter()
            .zip(beta)
            .map(|(name, &estimate)| FixedTest {
                name: name.clone(),
                estimate,
                se: f64::NAN,
                df: f64::NAN,
                t: f64::NAN,
                p: f64::NAN,
            })
            .collect();
        for j in 0..p {
            let mut l = vec![0.0; p];
            l[j] = 1.0;
            let mut test = self.contrast(&l)?;
            test.name = names[j].clone();
            self.fixed[j] = test;
        }
        Ok(())
    }

    /// The fixed effect named `name`.
    pub fn fixed_effect(&self, name: &str) -> Option<&FixedTest> {
        self.fixed.iter().find(|f| f.name == name)
    }

    /// Test of the linear contrast `l'β` with Satterthwaite df (lmerTest `contest1D`).
    ///
    /// # Errors
    /// `l` has the wrong length or a non-finite value.
    pub fn contrast(&self, l: &[f64]) -> Result<FixedTest> {
        let p = self.fixed.len();
        if l.len() != p {
            return Err(StatsError::LengthMismatch {
                what: "contrast",
                expected: p,
                actual: l.len(),
            });
        }
        check_finite("contrast", l)?;
        let estimate: f64 = l.iter().zip(&self.fixed).map(|(c, f)| c * f.estimate).sum();
        let v = DMatrix::from_row_slice(p, p, &self.vcov);
        let lv = DVector::from_column_slice(l);
        let var = lv.dot(&(&v * &lv));
        let se = var.sqrt();
        let t = estimate / se;
        let df = match &self.varpar_vcov {
            Some(a) => {
                let g = DVector::from_iterator(
                    self.vcov_jacobian.len(),
                    self.vcov_jacobian.iter().map(|j| lv.dot(&(j * &lv))),
                );
                2.0 * var * var / g.dot(&(a * &g))
            }
            None => f64::NAN,
        };
        Ok(FixedTest {
            name: "contrast".into(),
            estimate,
            se,
            df,
            t,
            p: t_two_sided(t, df),
        })
    }
}

/// A multi-df F test of fixed effects (lmerTest `contestMD`, Satterthwaite).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FTest {
    /// Numerator df (rank of the hypothesis).
    pub num_df: f64,
    /// Satterthwaite denominator df.
    pub den_df: f64,
    /// F statistic.
    pub f: f64,
    /// p-value.
    pub p: f64,
    /// Sum of squares as lmerTest reports it, `F σ² num_df`.
    pub sum_sq: f64,
    /// Mean square, `F σ²`.
    pub mean_sq: f64,
}

impl LmmFit {
    /// F test of `L β = 0` for the hypothesis rows `l` (each of length p), with Satterthwaite
    /// denominator df exactly as lmerTest's `contestMD`: `L V L'` is diagonalised, each
    /// eigen-direction gets its own 1-df Satterthwaite ν, and the F df combine them.
    ///
    /// # Errors
    /// No rows, a row of the wrong length or with a non-finite value, or a hypothesis of rank 0.
    pub fn f_test(&self, l: &[Vec<f64>]) -> Result<FTest> {
        let p = self.fixed.len();
        if l.is_empty() {
            return Err(StatsError::TooFew {
                what: "hypothesis rows",
                needed: 1,
                got: 0,
            });
        }
        for row in l {
            if row.len() != p {
                return Err(StatsError::LengthMismatch {
                    what: "hypothesis row",
                    expected: p,
                    actual: row.len(),
                });
            }
            check_finite("hypothesis row", row)?;
        }
        let lm = DMatrix::from_fn(l.len(), p, |i, j| l[i][j]);
        let v = DMatrix::from_row_slice(p, p, &self.vcov);
        let vl = &lm * &v * lm.transpose();
        let eig = SymmetricEigen::new(vl);
        let mut order: Vec<usize> = (0..eig.eigenvalues.len()).collect();
        order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
        let d_max = eig.eigenvalues[order[0]];
        let tol = (f64::EPSILON.sqrt() * d_max).max(0.0);
        let beta = DVector::from_iterator(p, self.fixed.iter().map(|f| f.estimate));
        let mut t2 = 0.0;
        let mut nu = Vec::new();
        for &m in order.iter().filter(|&&m| eig.eigenvalues[m] > tol) {
            let d = eig.eigenvalues[m];
            let ptl: Vec<f64> = (lm.transpose() * eig.eigenvectors.column(m))
                .iter()
                .copied()
                .collect();
            let est: f64 = ptl.iter().zip(beta.iter()).map(|(a, b)| a * b).sum();
            t2 += est * est / d;
            nu.push(self.contrast(&ptl)?.df);
        }
        let q = nu.len();
        if q == 0 {
            return Err(StatsError::Degenerate("the hypothesis has rank 0".into()));
        }
        let f = t2 / q as f64;
        let den_df = if q == 1 {
            nu[0]
        } else if nu.windows(2).all(|w| (w[1] - w[0]).abs() < 1e-8) {
            nu.iter().sum::<f64>() / q as f64
        } else if nu.iter().any(|&v| v <= 2.0) {
            2.0
        } else {
            let e: f64 = nu.iter().map(|v| v / (v - 2.0)).sum();
            2.0 * e / (e - q as f64)
        };
        let mean_sq = f * self.residual_sd * self.residual_sd;
        Ok(FTest {
            num_df: q as f64,
            den_df,
            f,
            p: crate::dist::f_upper(f, q as f64, den_df),
            sum_sq: mean_sq * q as f64,
            mean_sq,
        })
    }

    /// F test that the fixed-effect columns `columns` are all zero (one unit row each). For a
    /// term that no interaction contains this is lmerTest's type III `anova()` row.
    ///
    /// # Errors
    /// As [`LmmFit::f_test`], and a column index out of range.
    pub fn f_test_columns(&self, columns: &[usize]) -> Result<FTest> {
        let p = self.fixed.len();
        let rows = columns
            .iter()
            .map(|&c| {
                if c >= p {
                    return Err(StatsError::InvalidArgument(format!(
                        "column {c} is not below {p}"
                    )));
                }
                let mut r = vec![0.0; p];
                r[c] = 1.0;
                Ok(r)
            })
            .collect::<Result<Vec<_>>>()?;
        self.f_test(&rows)
    }
}

/// The sufficient statistics of the model, from one pass over the rows.
#[derive(Debug)]
struct Sufficient {
    n: usize,
    p: usize,
    /// Factor order: `order[0]` is eliminated by its diagonal block.
    order: Vec<usize>,
    counts: Vec<Vec<f64>>,
    zx: Vec<DMatrix<f64>>,
    zy: Vec<Vec<f64>>,
    cross: HashMap<(usize, usize), DMatrix<f64>>,
    xtx: DMatrix<f64>,
    xty: DVector<f64>,
    yty: f64,
}

fn accumulate(y: &[f64], x: &DesignMatrix, groups: &[GroupingFactor<'_>]) -> Sufficient {
    let n = y.len();
    let p = x.n_cols();
    let k = groups.len();
    let mut counts: Vec<Vec<f64>> = groups.iter().map(|g| vec![0.0; g.n_levels]).collect();
    let mut zx: Vec<DMatrix<f64>> = groups
        .iter()
        .map(|g| DMatrix::zeros(g.n_levels, p))
        .collect();
    let mut zy: Vec<Vec<f64>> = groups.iter().map(|g| vec![0.0; g.n_levels]).collect();
    let mut cross = HashMap::new();
    for a in 0..k {
        for b in (a + 1)..k {
            cross.insert(
                (a, b),
                DMatrix::zeros(groups[a].n_levels, groups[b].n_levels),
            );
        }
    }
    let mut xtx = DMatrix::zeros(p, p);
    let mut xty = DVector::zeros(p);
    let mut yty = 0.0;
    let cols: Vec<&[f64]> = (0..p).map(|j| x.column(j)).collect();
    let mut row = vec![0.0; p];
    for i in 0..n {
        for (r, c) in row.iter_mut().zip(&cols) {
            *r = c[i];
        }
        let yi = y[i];
        yty += yi * yi;
        for a in 0..p {
            xty[a] += row[a] * yi;
            for b in a..p {
                xtx[(a, b)] += row[a] * row[b];
            }
        }
        for (g, grp) in groups.iter().enumerate() {
            let lvl = grp.codes[i] as usize;
            counts[g][lvl] += 1.0;
            zy[g][lvl] += yi;
            let m = &mut zx[g];
            for (j, r) in row.iter().enumerate() {
                m[(lvl, j)] += r;
            }
        }
        for a in 0..k {
            for b in (a + 1)..k {
                if let Some(m) = cross.get_mut(&(a, b)) {
                    m[(groups[a].codes[i] as usize, groups[b].codes[i] as usize)] += 1.0;
                }
            }
        }
    }
    for a in 0..p {
        for b in 0..a {
            xtx[(a, b)] = xtx[(b, a)];
        }
    }
    let mut order: Vec<usize> = (0..k).collect();
    // The factor with the most levels first (stable: ties keep the given order).
    order.sort_by_key(|&g| std::cmp::Reverse(groups[g].n_levels));
    Sufficient {
        n,
        p,
        order,
        counts,
        zx,
        zy,
        cross,
        xtx,
        xty,
        yty,
    }
}

/// The θ-free pieces of the augmented system, laid out in the eliminated order.
#[derive(Debug)]
struct System {
    n: usize,
    p: usize,
    /// Grouping factor eliminated by its diagonal (index into the given factors), if any.
    elim: Option<usize>,
    elim_counts: Vec<f64>,
    /// Rows: levels of the eliminated factor; columns: rest levels, X, y.
    b0: DMatrix<f64>,
    /// The rest block without θ scaling and without the identity.
    s0: DMatrix<f64>,
    /// For each column of the rest block, which factor's θ scales it (None for X and y).
    scale_of: Vec<Option<usize>>,
    /// Number of random levels in the rest block.
    m_rest: usize,
}

impl System {
    fn new(s: &Sufficient) -> Self {
        let p = s.p;
        let elim = s.order.first().copied();
        let rest: Vec<usize> = s.order.iter().skip(1).copied().collect();
        let mut offsets = Vec::new();
        let mut m_rest = 0;
        for &g in &rest {
            offsets.push(m_rest);
            m_rest += s.counts[g].len();
        }
        let r = m_rest + p + 1;
        let (xo, yo) = (m_rest, m_rest + p);
        let mut scale_of = vec![None; r];
        let mut s0 = DMatrix::zeros(r, r);
        for (ri, &g) in rest.iter().enumerate() {
            let o = offsets[ri];
            for (lvl, c) in s.counts[g].iter().enumerate() {
                scale_of[o + lvl] = Some(g);
                s0[(o + lvl, o + lvl)] = *c;
                s0[(o + lvl, yo)] = s.zy[g][lvl];
                s0[(yo, o + lvl)] = s.zy[g][lvl];
                for j in 0..p {
                    s0[(o + lvl, xo + j)] = s.zx[g][(lvl, j)];
                    s0[(xo + j, o + lvl)] = s.zx[g][(lvl, j)];
                }
            }
            for (rj, &h) in rest.iter().enumerate() {
                if rj <= ri {
                    continue;
                }
                let (key, transpose) = if g < h {
                    ((g, h), false)
                } else {
                    ((h, g), true)
                };
                let m = &s.cross[&key];
                let oh = offsets[rj];
                for a in 0..s.counts[g].len() {
                    for b in 0..s.counts[h].len() {
                        let v = if transpose { m[(b, a)] } else { m[(a, b)] };
                        s0[(o + a, oh + b)] = v;
                        s0[(oh + b, o + a)] = v;
                    }
                }
            }
        }
        for a in 0..p {
            for b in 0..p {
                s0[(xo + a, xo + b)] = s.xtx[(a, b)];
            }
            s0[(xo + a, yo)] = s.xty[a];
            s0[(yo, xo + a)] = s.xty[a];
        }
        s0[(yo, yo)] = s.yty;

        let (elim_counts, b0) = match elim {
            Some(e) => {
                let me = s.counts[e].len();
                let mut b0 = DMatrix::zeros(me, r);
                for (ri, &h) in rest.iter().enumerate() {
                    let key = if e < h { (e, h) } else { (h, e) };
                    let m = &s.cross[&key];
                    for a in 0..me {
                        for b in 0..s.counts[h].len() {
                            b0[(a, offsets[ri] + b)] = if e < h { m[(a, b)] } else { m[(b, a)] };
                        }
                    }
                }
                for a in 0..me {
                    for j in 0..p {
                        b0[(a, xo + j)] = s.zx[e][(a, j)];
                    }
                    b0[(a, yo)] = s.zy[e][a];
                }
                (s.counts[e].clone(), b0)
            }
            None => (vec![], DMatrix::zeros(0, r)),
        };
        Self {
            n: s.n,
            p,
            elim,
            elim_counts,
            b0,
            s0,
            scale_of,
            m_rest,
        }
    }

    /// Factorises the augmented system at θ (in the given factor order).
    fn factor_at(&self, theta: &[f64]) -> Option<Factored> {
        let r = self.s0.nrows();
        let scale: Vec<f64> = self
            .scale_of
            .iter()
            .map(|g| g.map_or(1.0, |g| theta[g]))
            .collect();
        let mut s = self.s0.clone();
        let mut ld_l2 = 0.0;
        if let Some(e) = self.elim {
            let te = theta[e];
            let d: Vec<f64> = self.elim_counts.iter().map(|c| te * te * c + 1.0).collect();
            ld_l2 += d.iter().map(|v| v.ln()).sum::<f64>();
            let mut w = self.b0.clone();
            for (a, da) in d.iter().enumerate() {
                let f = te / da.sqrt();
                for v in w.row_mut(a).iter_mut() {
                    *v *= f;
                }
            }
            // A transposed copy lets the product go through the blocked GEMM kernel.
            s -= w.transpose() * &w;
        }
        for a in 0..r {
            for b in 0..r {
                s[(a, b)] *= scale[a] * scale[b];
            }
        }
        for a in 0..self.m_rest {
            s[(a, a)] += 1.0;
        }
        let chol = s.cholesky()?;
        let l = chol.l();
        let xo = self.m_rest;
        let yo = self.m_rest + self.p;
        for a in 0..self.m_rest {
            ld_l2 += 2.0 * l[(a, a)].ln();
        }
        let ld_rx2: f64 = (xo..yo).map(|a| 2.0 * l[(a, a)].ln()).sum();
        let r2 = l[(yo, yo)].powi(2);
        let lxx = l.view((xo, xo), (self.p, self.p)).into_owned();
        let lyx = DVector::from_iterator(self.p, (0..self.p).map(|j| l[(yo, xo + j)]));
        Some(Factored {
            ld_l2,
            ld_rx2,
            r2,
            lxx,
            lyx,
        })
    }
}

impl Profiled for System {
    fn factor(&self, theta: &[f64]) -> Option<Factored> {
        self.factor_at(theta)
    }

    fn n_obs(&self) -> usize {
        self.n
    }

    fn n_fixed(&self) -> usize {
        self.p
    }
}

/// A profiled-deviance model: anything that can factorise the penalised system at θ. The
/// deviance, the REML criterion and lmerTest's (θ, σ) functions follow from the factor alone.
pub(crate) trait Profiled {
    /// Factorises the augmented system at θ; None when it is not positive definite.
    fn factor(&self, theta: &[f64]) -> Option<Factored>;
    /// Number of observations.
    fn n_obs(&self) -> usize;
    /// Number of fixed-effect columns.
    fn n_fixed(&self) -> usize;

    fn dof(&self, reml: bool) -> f64 {
        if reml {
            (self.n_obs() - self.n_fixed()) as f64
        } else {
            self.n_obs() as f64
        }
    }

    /// Profiled deviance (REML criterion or −2 log L) at θ.
    fn profiled(&self, theta: &[f64], reml: bool) -> f64 {
        match self.factor(theta) {
            Some(f) => {
                let nd = self.dof(reml);
                let base = f.ld_l2 + nd * (1.0 + (2.0 * std::f64::consts::PI * f.r2 / nd).ln());
                if reml { base + f.ld_rx2 } else { base }
            }
            None => f64::INFINITY,
        }
    }

    /// Deviance at (θ, σ) without profiling σ (lmerTest's `devfun_vp`).
    fn deviance_vp(&self, varpar: &[f64], reml: bool) -> f64 {
        let k = varpar.len() - 1;
        let sigma2 = varpar[k] * varpar[k];
        match self.factor(&varpar[..k]) {
            Some(f) => {
                let two_pi_s2 = (2.0 * std::f64::consts::PI * sigma2).ln();
                let dev = f.ld_l2 + f.r2 / sigma2 + self.n_obs() as f64 * two_pi_s2;
                if reml {
                    dev + f.ld_rx2 - self.n_fixed() as f64 * two_pi_s2
                } else {
                    dev
                }
            }
            None => f64::NAN,
        }
    }

    /// vcov(β̂) at (θ, σ) (lmerTest's `get_covbeta`).
    fn covbeta_vp(&self, varpar: &[f64]) -> Option<DMatrix<f64>> {
        let k = varpar.len() - 1;
        let f = self.factor(&varpar[..k])?;
        Some(f.covbeta(varpar[k] * varpar[k]))
    }
}

#[derive(Debug)]
pub(crate) struct Factored {
    /// log det of the random-effects block's Cholesky factor, squared.
    pub(crate) ld_l2: f64,
    /// log det of the fixed-effects block's Cholesky factor, squared.
    pub(crate) ld_rx2: f64,
    /// Penalised residual sum of squares.
    pub(crate) r2: f64,
    /// Fixed-effects block of the Cholesky factor.
    pub(crate) lxx: DMatrix<f64>,
    /// Row of y against X in the Cholesky factor.
    pub(crate) lyx: DVector<f64>,
}

impl Factored {
    pub(crate) fn beta(&self) -> DVector<f64> {
        self.lxx
            .transpose()
            .solve_upper_triangular(&self.lyx)
            .unwrap_or_else(|| DVector::from_element(self.lyx.len(), f64::NAN))
    }

    pub(crate) fn covbeta(&self, sigma2: f64) -> DMatrix<f64> {
        let p = self.lxx.nrows();
        let linv = self
            .lxx
            .solve_lower_triangular(&DMatrix::identity(p, p))
            .unwrap_or_else(|| DMatrix::from_element(p, p, f64::NAN));
        linv.tr_mul(&linv) * sigma2
    }
}

/// lme4's `isSingular` tolerance.
pub(crate) const SINGULAR_TOL: f64 = 1e-4;

/// numDeriv's default Richardson settings: relative step of `jacobian` (and `genD`) and of
/// `hessian`, which uses a larger one.
pub(crate) const ND_D: f64 = 1e-4;
pub(crate) const ND_D_HESSIAN: f64 = 0.1;
/// Relative step of the derivatives that polish the optimum (larger than numDeriv's for less
/// rounding noise; Richardson extrapolation removes the truncation error).
pub(crate) const ND_D_POLISH: f64 = 1e-3;
const ND_EPS: f64 = 1e-4;
const ND_R: usize = 4;

fn nd_steps(x: &[f64], d: f64) -> Vec<f64> {
    let zero_tol = (f64::EPSILON / 7e-7).sqrt();
    x.iter()
        .map(|v| (d * v).abs() + if v.abs() < zero_tol { ND_EPS } else { 0.0 })
        .collect()
}

fn richardson(a: &mut [f64]) -> f64 {
    let r = a.len();
    for m in 1..r {
        let f = 4f64.powi(m as i32);
        for k in 0..(r - m) {
            a[k] = (a[k + 1] * f - a[k]) / (f - 1.0);
        }
    }
    a[0]
}

/// Gradient and Hessian as numDeriv's `genD` (Richardson with relative step `d`, r = 4, v = 2);
/// `numDeriv::hessian` calls it with d = 0.1.
pub(crate) fn gen_d(f: &dyn Fn(&[f64]) -> f64, x: &[f64], d: f64) -> (Vec<f64>, DMatrix<f64>) {
    let n = x.len();
    let f0 = f(x);
    let h0 = nd_steps(x, d);
    let mut grad = vec![0.0; n];
    let mut hdiag = vec![0.0; n];
    let shifted = |i: usize, hi: f64, j: Option<(usize, f64)>, sign: f64| {
        let mut z = x.to_vec();
        z[i] += sign * hi;
        if let Some((j, hj)) = j {
            z[j] += sign * hj;
        }
        f(&z)
    };
    for i in 0..n {
        let mut h = h0.clone();
        let mut da = vec![0.0; ND_R];
        let mut ha = vec![0.0; ND_R];
        for k in 0..ND_R {
            let f1 = shifted(i, h[i], None, 1.0);
            let f2 = shifted(i, h[i], None, -1.0);
            da[k] = (f1 - f2) / (2.0 * h[i]);
            ha[k] = (f1 - 2.0 * f0 + f2) / (h[i] * h[i]);
            h.iter_mut().for_each(|v| *v /= 2.0);
        }
        grad[i] = richardson(&mut da);
        hdiag[i] = richardson(&mut ha);
    }
    let mut hess = DMatrix::zeros(n, n);
    for i in 0..n {
        hess[(i, i)] = hdiag[i];
        for j in 0..i {
            let mut h = h0.clone();
            let mut da = vec![0.0; ND_R];
            for v in da.iter_mut() {
                let f1 = shifted(i, h[i], Some((j, h[j])), 1.0);
                let f2 = shifted(i, h[i], Some((j, h[j])), -1.0);
                *v = (f1 - 2.0 * f0 + f2 - hdiag[i] * h[i] * h[i] - hdiag[j] * h[j] * h[j])
                    / (2.0 * h[i] * h[j]);
                h.iter_mut().for_each(|v| *v /= 2.0);
            }
            let d = richardson(&mut da);
            hess[(i, j)] = d;
            hess[(j, i)] = d;
        }
    }
    (grad, hess)
}

/// Jacobian of a matrix-valued function as numDeriv's `jacobian` (Richardson).
pub(crate) fn jacobian(
    f: &dyn Fn(&[f64]) -> Option<DMatrix<f64>>,
    x: &[f64],
) -> Option<Vec<DMatrix<f64>>> {
    let h0 = nd_steps(x, ND_D);
    let mut out = Vec::with_capacity(x.len());
    for i in 0..x.len() {
        let mut h = h0[i];
        let mut approx: Vec<DMatrix<f64>> = Vec::with_capacity(ND_R);
        for _ in 0..ND_R {
            let mut up = x.to_vec();
            up[i] += h;
            let mut down = x.to_vec();
            down[i] -= h;
            approx.push((f(&up)? - f(&down)?) / (2.0 * h));
            h /= 2.0;
        }
        for m in 1..ND_R {
            let fm = 4f64.powi(m as i32);
            for k in 0..(ND_R - m) {
                approx[k] = (&approx[k + 1] * fm - &approx[k]) / (fm - 1.0);
            }
        }
        out.push(approx.swap_remove(0));
    }
    Some(out)
}

/// Bounded-free Nelder-Mead (Lagarias et al.) from `x0`.
pub(crate) fn nelder_mead(
    f: &dyn Fn(&[f64]) -> f64,
    x0: &[f64],
    max_evals: usize,
) -> (Vec<f64>, f64, usize, bool) {
    let n = x0.len();
    let mut simplex: Vec<Vec<f64>> = vec![x0.to_vec()];
    for i in 0..n {
        let mut v = x0.to_vec();
        v[i] += if v[i].abs() > 1e-3 {
            0.5 * v[i].abs()
        } else {
            0.5
        };
        simplex.push(v);
    }
    let mut fv: Vec<f64> = simplex.iter().map(|v| f(v)).collect();
    let mut evals = n + 1;
    let mut converged = false;
    while evals < max_evals {
        let mut idx: Vec<usize> = (0..=n).collect();
        idx.sort_by(|&a, &b| fv[a].total_cmp(&fv[b]));
        simplex = idx.iter().map(|&i| simplex[i].clone()).collect();
        fv = idx.iter().map(|&i| fv[i]).collect();
        let spread = fv[n] - fv[0];
        let size = simplex
            .iter()
            .skip(1)
            .flat_map(|v| v.iter().zip(&simplex[0]).map(|(a, b)| (a - b).abs()))
            .fold(0.0, f64::max);
        if spread <= 1e-11 * (1.0 + fv[0].abs())
            && size <= 1e-7 * (1.0 + simplex[0].iter().fold(0.0_f64, |a, b| a.max(b.abs())))
        {
            converged = true;
            break;
        }
        let centroid: Vec<f64> = (0..n)
            .map(|j| simplex[..n].iter().map(|v| v[j]).sum::<f64>() / n as f64)
            .collect();
        let along = |t: f64| -> Vec<f64> {
            centroid
                .iter()
                .zip(&simplex[n])
                .map(|(c, w)| c + t * (c - w))
                .collect()
        };
        let xr = along(1.0);
        let fr = f(&xr);
        evals += 1;
        if fr < fv[0] {
            let xe = along(2.0);
            let fe = f(&xe);
            evals += 1;
            if fe < fr {
                simplex[n] = xe;
                fv[n] = fe;
            } else {
                simplex[n] = xr;
                fv[n] = fr;
            }
        } else if fr < fv[n - 1] {
            simplex[n] = xr;
            fv[n] = fr;
        } else {
            let (xc, fc) = if fr < fv[n] {
                let xc = along(0.5);
                let fc = f(&xc);
                (xc, fc)
            } else {
                let xc = along(-0.5);
                let fc = f(&xc);
                (xc, fc)
            };
            evals += 1;
            if fc < fv[n].min(fr) {
                simplex[n] = xc;
                fv[n] = fc;
            } else {
                for i in 1..=n {
                    let v: Vec<f64> = simplex[i]
                        .iter()
                        .zip(&simplex[0])
                        .map(|(a, b)| b + 0.5 * (a - b))
                        .collect();
                    fv[i] = f(&v);
                    simplex[i] = v;
                    evals += 1;
                }
            }
        }
    }
    let best = (0..=n)
        .min_by(|&a, &b| fv[a].total_cmp(&fv[b]))
        .unwrap_or(0);
    (simplex[best].clone(), fv[best], evals, converged)
}

/// Where the optimiser stopped.
pub(crate) struct Optimum {
    /// θ as optimised (signs not normalised).
    pub(crate) theta: Vec<f64>,
    pub(crate) evaluations: usize,
    pub(crate) nm_converged: bool,
    pub(crate) newton_steps: usize,
    pub(crate) gradient_max: f64,
}

/// Minimises a profiled deviance over θ: Nelder-Mead from `theta0`, then Newton polish.
pub(crate) fn minimise(dev: &dyn Fn(&[f64]) -> f64, theta0: &[f64]) -> Result<Optimum> {
    let k = theta0.len();
    let (mut theta, mut fbest, evals, nm_converged) = nelder_mead(dev, theta0, 400 * (k + 1));
    if !fbest.is_finite() {
        return Err(StatsError::NoConvergence("deviance is not finite".into()));
    }
    // Newton polish. Near the optimum the deviance is too flat for Nelder-Mead's function
    // comparisons to place θ better than about sqrt(ε); Newton steps on the (Richardson)
    // gradient do, accepted while the gradient shrinks and the deviance does not rise beyond
    // rounding.
    let noise = 1e-10 * (1.0 + fbest.abs());
    let max_abs = |g: &[f64]| g.iter().fold(0.0, |a: f64, b| a.max(b.abs()));
    let (mut g, mut h) = gen_d(dev, &theta, ND_D_POLISH);
    let mut gradient_max = max_abs(&g);
    let mut newton_steps = 0;
    for _ in 0..20 {
        if gradient_max < 1e-12 {
            break;
        }
        let Some(step) = h
            .clone()
            .cholesky()
            .map(|c| c.solve(&DVector::from_column_slice(&g)))
        else {
            break;
        };
        let theta_max = theta.iter().fold(0.0_f64, |a, b| a.max(b.abs()));
        if max_abs(step.as_slice()) <= 1e-10 * (1.0 + theta_max) {
            break;
        }
        let mut t = 1.0;
        let mut accepted = false;
        while t > 0.05 {
            let cand: Vec<f64> = theta
                .iter()
                .zip(step.iter())
                .map(|(a, s)| a - t * s)
                .collect();
            let fc = dev(&cand);
            if fc <= fbest + noise {
                let (g2, h2) = gen_d(dev, &cand, ND_D_POLISH);
                let g2max = max_abs(&g2);
                if g2max < gradient_max {
                    theta = cand;
                    fbest = fbest.min(fc);
                    (g, h, gradient_max) = (g2, h2, g2max);
                    accepted = true;
                    newton_steps += 1;
                    break;
                }
            }
            t /= 2.0;
        }
        if !accepted {
            break;
        }
    }
    Ok(Optimum {
        theta,
        evaluations: evals,
        nm_converged,
        newton_steps,
        gradient_max,
    })
}

/// lmerTest's ingredients of Satterthwaite df at the optimum: twice the pseudo-inverse of the
/// deviance Hessian in (θ, σ), the Jacobian of vcov(β̂) in (θ, σ), and the Hessian's smallest
/// eigenvalue.
pub(crate) fn satterthwaite(
    sys: &dyn Profiled,
    theta: &[f64],
    sigma: f64,
    reml: bool,
) -> Result<(DMatrix<f64>, Vec<DMatrix<f64>>, f64)> {
    let mut varpar = theta.to_vec();
    varpar.push(sigma);
    let (_, h) = gen_d(&|v: &[f64]| sys.deviance_vp(v, reml), &varpar, ND_D_HESSIAN);
    let eig = SymmetricEigen::new(h);
    let hessian_min_eigenvalue = eig
        .eigenvalues
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min);
    let tol = 1e-8;
    let m = varpar.len();
    let mut hinv = DMatrix::zeros(m, m);
    for (i, &ev) in eig.eigenvalues.iter().enumerate() {
        if ev > tol {
            let v = eig.eigenvectors.column(i);
            hinv += (v * v.transpose()) / ev;
        }
    }
    let vcov_jacobian = jacobian(&|v: &[f64]| sys.covbeta_vp(v), &varpar)
        .ok_or_else(|| StatsError::NoConvergence("Cholesky failed near the optimum".into()))?;
    Ok((hinv * 2.0, vcov_jacobian, hessian_min_eigenvalue))
}

/// The checks every mixed-model fitter makes of its response and design: as many design rows
/// as responses, finite responses, and at least one grouping (`what` names them).
pub(crate) fn check_response(
    y: &[f64],
    x: &DesignMatrix,
    n_groupings: usize,
    what: &'static str,
) -> Result<()> {
    if x.n_rows() != y.len() {
        return Err(StatsError::LengthMismatch {
            what: "design rows",
            expected: y.len(),
            actual: x.n_rows(),
        });
    }
    check_finite("response", y)?;
    if n_groupings == 0 {
        return Err(StatsError::TooFew {
            what,
            needed: 1,
            got: 0,
        });
    }
    Ok(())
}

/// A grouping factor's codes: one per observation, each below its number of levels.
pub(crate) fn check_grouping(n: usize, name: &str, codes: &[u32], n_levels: usize) -> Result<()> {
    if codes.len() != n {
        return Err(StatsError::LengthMismatch {
            what: "grouping codes",
            expected: n,
            actual: codes.len(),
        });
    }
    if let Some(index) = codes.iter().position(|&c| c as usize >= n_levels) {
        return Err(StatsError::LevelOutOfRange {
            factor: name.to_string(),
            code: codes[index] as usize,
            index,
            n_levels,
        });
    }
    Ok(())
}

/// Fits `y ~ X + (1 | g1) + (1 | g2) + …` by REML (or ML), as `lmerTest::lmer`.
///
/// ```
/// use cuelab_stats::{DesignMatrix, GroupingFactor, LmmOptions, fit_lmm};
/// let y = [10.0, 12.0, 11.0, 15.0, 13.0, 17.0, 9.0, 12.0];
/// let x = DesignMatrix::from_columns(vec!["(Intercept)".into(), "b".into()],
///     vec![vec![1.0; 8], vec![0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0]]).unwrap();
/// let g = [GroupingFactor { name: "Subject", n_levels: 4, codes: &[0, 0, 1, 1, 2, 2, 3, 3] }];
/// let fit = fit_lmm(&y, &x, &g, &LmmOptions::default()).unwrap();
/// // Balanced data: the estimate is the mean within-subject difference.
/// assert!((fit.fixed[1].estimate - 3.25).abs() < 1e-9);
/// ```
///
/// # Errors
/// Shape mismatches, a non-finite value, a level code out of range, no grouping factor, too
/// few rows, a rank-deficient X ([`StatsError::Degenerate`]) or a failed optimisation.
pub fn fit_lmm(
    y: &[f64],
    x: &DesignMatrix,
    groups: &[GroupingFactor<'_>],
    options: &LmmOptions,
) -> Result<LmmFit> {
    let n = y.len();
    check_response(y, x, groups.len(), "grouping factors")?;
    for g in groups {
        check_grouping(n, g.name, g.codes, g.n_levels)?;
    }
    let p = x.n_cols();
    if n <= p + 1 {
        return Err(StatsError::TooFew {
            what: "observations",
            needed: p + 2,
            got: n,
        });
    }
    // With an intercept column, fit y − ȳ and add ȳ back to the intercept: the sums of
    // squares then stay near the residual scale instead of n ȳ², which keeps digits when the
    // mean is large against the spread (reaction times in ms).
    let intercept = (0..p).find(|&j| x.column(j).iter().all(|&v| v == 1.0));
    let shift = match intercept {
        Some(_) => y.iter().sum::<f64>() / n as f64,
        None => 0.0,
    };
    let centred: Vec<f64>;
    let y = if shift != 0.0 {
        centred = y.iter().map(|v| v - shift).collect();
        &centred[..]
    } else {
        y
    };
    let suff = accumulate(y, x, groups);
    let used: Vec<usize> = suff
        .counts
        .iter()
        .map(|c| c.iter().filter(|&&v| v > 0.0).count())
        .collect();
    // Rank check on the column-scaled X'X, so a collinear design is caught even when rounding
    // leaves a tiny positive pivot.
    let xtx_scaled = DMatrix::from_fn(p, p, |a, b| {
        suff.xtx[(a, b)] / (suff.xtx[(a, a)] * suff.xtx[(b, b)]).sqrt()
    });
    let full_rank = xtx_scaled
        .cholesky()
        .is_some_and(|c| c.l().diagonal().iter().all(|&d| d * d > 1e-10));
    if !full_rank {
        return Err(StatsError::Degenerate(
            "the fixed-effects design is rank deficient".into(),
        ));
    }
    let sys = System::new(&suff);
    let reml = options.reml;
    let k = groups.len();
    let dev = |t: &[f64]| sys.profiled(t, reml);

    let opt = minimise(&dev, &vec![1.0; k])?;
    let (evals, nm_converged, newton_steps, gradient_max) = (
        opt.evaluations,
        opt.nm_converged,
        opt.newton_steps,
        opt.gradient_max,
    );
    let theta = opt.theta;
    let theta: Vec<f64> = theta.iter().map(|t| t.abs()).collect();
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

    let mut fit = LmmFit {
        n_obs: n,
        reml,
        fixed: Vec::with_capacity(p),
        random: groups
            .iter()
            .enumerate()
            .map(|(g, grp)| VarianceComponent {
                group: grp.name.to_string(),
                term: "(Intercept)".into(),
                n_levels: used[g],
                variance: (theta[g] * sigma).powi(2),
                sd: theta[g] * sigma,
            })
            .collect(),
        correlations: Vec::new(),
        singular: theta.iter().any(|&t| t < SINGULAR_TOL),
        residual_sd: sigma,
        theta,
        criterion,
        vcov: (0..p * p).map(|i| vcov[(i / p, i % p)]).collect(),
        convergence: Convergence {
            converged: gradient_max < 1e-3 || (nm_converged && gradient_max.is_nan()),
            evaluations: evals,
            newton_steps,
            gradient_max,
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

    fn one_factor() -> (Vec<f64>, Vec<u32>) {
        let y = vec![10.0, 12.0, 11.0, 15.0, 13.0, 17.0, 9.0, 12.0, 14.0, 13.5];
        let g = vec![0, 0, 1, 1, 2, 2, 3, 3, 4, 4];
        (y, g)
    }

    #[test]
    fn collinear_design_is_rejected() {
        let (y, g) = one_factor();
        let a: Vec<f64> = (0..10).map(|i| f64::from(i % 2)).collect();
        let b: Vec<f64> = a.iter().map(|v| 2.0 * v).collect();
        let x = DesignMatrix::from_columns(
            vec!["(Intercept)".into(), "a".into(), "b".into()],
            vec![vec![1.0; 10], a, b],
        )
        .unwrap();
        let groups = [GroupingFactor {
            name: "g",
            n_levels: 5,
            codes: &g,
        }];
        let err = fit_lmm(&y, &x, &groups, &LmmOptions::default()).unwrap_err();
        assert!(matches!(err, StatsError::Degenerate(_)), "{err}");
    }

    #[test]
    fn a_shift_of_y_moves_only_the_intercept() {
        let (y, g) = one_factor();
        let a: Vec<f64> = (0..10).map(|i| f64::from(i % 2)).collect();
        let x = DesignMatrix::from_columns(
            vec!["(Intercept)".into(), "a".into()],
            vec![vec![1.0; 10], a],
        )
        .unwrap();
        let groups = [GroupingFactor {
            name: "g",
            n_levels: 5,
            codes: &g,
        }];
        let base = fit_lmm(&y, &x, &groups, &LmmOptions::default()).unwrap();
        let shifted: Vec<f64> = y.iter().map(|v| v + 1e6).collect();
        let moved = fit_lmm(&shifted, &x, &groups, &LmmOptions::default()).unwrap();
        assert!((moved.fixed[0].estimate - base.fixed[0].estimate - 1e6).abs() < 1e-6);
        assert!((moved.fixed[1].estimate - base.fixed[1].estimate).abs() < 1e-9);
        assert!((moved.residual_sd / base.residual_sd - 1.0).abs() < 1e-9);
        assert!((moved.fixed[1].df / base.fixed[1].df - 1.0).abs() < 1e-6);
    }
}
