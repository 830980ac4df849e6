//! Thin wrappers over statrs distributions with the argument checks done once.

use statrs::distribution::{ChiSquared, ContinuousCDF, FisherSnedecor, StudentsT};

/// Two-sided p-value of a t statistic with `df` degrees of freedom.
pub(crate) fn t_two_sided(t: f64, df: f64) -> f64 {
    match StudentsT::new(0.0, 1.0, df) {
        Ok(d) => 2.0 * d.sf(t.abs()),
        Err(_) => f64::NAN,
    }
}

/// Quantile of Student's t.
pub(crate) fn t_quantile(p: f64, df: f64) -> f64 {
    match StudentsT::new(0.0, 1.0, df) {
        Ok(d) => d.inverse_cdf(p),
        Err(_) => f64::NAN,
    }
}

/// Upper-tail probability of an F statistic.
pub(crate) fn f_upper(f: f64, df1: f64, df2: f64) -> f64 {
    if f.is_nan() {
        return f64::NAN;
    }
    match FisherSnedecor::new(df1, df2) {
        Ok(d) => d.sf(f.max(0.0)),
        Err(_) => f64::NAN,
    }
}

/// Upper-tail probability of a chi-squared statistic.
pub(crate) fn chisq_upper(x: f64, df: f64) -> f64 {
    match ChiSquared::new(df) {
        Ok(d) => d.sf(x.max(0.0)),
        Err(_) => f64::NAN,
    }
}

/// Poisson(μ) weights `w_j` and the indices they belong to, summed outward from the mode until
/// a weight falls below 1e-18 of the mode's (the mixture sums of noncentral distributions).
fn poisson_terms(mu: f64, mut term: impl FnMut(f64, f64) -> f64) -> f64 {
    use statrs::function::gamma::ln_gamma;
    if mu <= 0.0 {
        return term(0.0, 1.0);
    }
    let weight = |j: f64| (-mu + j * mu.ln() - ln_gamma(j + 1.0)).exp();
    let mode = mu.floor();
    let w_mode = weight(mode);
    let mut sum = term(mode, w_mode);
    let mut j = mode + 1.0;
    loop {
        let w = weight(j);
        sum += term(j, w);
        if w < 1e-18 * w_mode || j > mode + 1e6 {
            break;
        }
        j += 1.0;
    }
    let mut j = mode - 1.0;
    while j >= 0.0 {
        let w = weight(j);
        sum += term(j, w);
        if w < 1e-18 * w_mode {
            break;
        }
        j -= 1.0;
    }
    sum
}

/// Lower-tail probability of the noncentral F distribution (R: `pf(f, df1, df2, ncp)`), as a
/// Poisson mixture of regularized incomplete beta functions.
pub(crate) fn noncentral_f_cdf(f: f64, df1: f64, df2: f64, ncp: f64) -> f64 {
    use statrs::function::beta::beta_reg;
    if f <= 0.0 {
        return 0.0;
    }
    let x = df1 * f / (df1 * f + df2);
    poisson_terms(ncp / 2.0, |j, w| w * beta_reg(df1 / 2.0 + j, df2 / 2.0, x)).min(1.0)
}

/// Lower-tail probability of the noncentral t distribution (R: `pt(t, df, ncp)`), by the series
/// of Lenth (1989, AS 243) summed to full double precision.
pub(crate) fn noncentral_t_cdf(t: f64, df: f64, ncp: f64) -> f64 {
    use statrs::distribution::Normal;
    use statrs::function::beta::beta_reg;
    use statrs::function::gamma::ln_gamma;
    if t < 0.0 {
        return 1.0 - noncentral_t_cdf(-t, df, -ncp);
    }
    let phi = Normal::standard().cdf(-ncp);
    if t == 0.0 {
        return phi;
    }
    let x = t * t / (t * t + df);
    let mu = ncp * ncp / 2.0;
    // P = Φ(−δ) + ½ Σ_j [p_j I_x(j + ½, ν/2) + q_j I_x(j + 1, ν/2)], with p_j the Poisson(δ²/2)
    // weights and q_j = e^{−δ²/2} (δ²/2)^j δ / (√2 Γ(j + 3/2)).
    let series = poisson_terms(mu, |j, w| {
        let q = if ncp == 0.0 {
            0.0
        } else {
            ncp.signum()
                * (-mu + j * mu.ln() + ncp.abs().ln()
                    - std::f64::consts::SQRT_2.ln()
                    - ln_gamma(j + 1.5))
                .exp()
        };
        w * beta_reg(j + 0.5, df / 2.0, x) + q * beta_reg(j + 1.0, df / 2.0, x)
    });
    (phi + 0.5 * series).clamp(0.0, 1.0)
}

/// The root of a decreasing function `g` of one real variable, bracketed outward from `start`
/// in steps that double from `step`, then bisected to the last bit; `lo` bounds the search
/// from below (the root is `lo` when `g(lo) <= 0`).
pub(crate) fn decreasing_root(g: impl Fn(f64) -> f64, start: f64, step: f64, lo: f64) -> f64 {
    let (mut a, mut b);
    let mut width = step;
    if g(start) > 0.0 {
        a = start;
        b = start + width;
        while g(b) > 0.0 {
            a = b;
            width *= 2.0;
            b += width;
            if !b.is_finite() {
                return f64::NAN;
            }
        }
    } else {
        b = start;
        a = (start - width).max(lo);
        while g(a) <= 0.0 {
            if a <= lo {
                return lo;
            }
            b = a;
            width *= 2.0;
            a = (a - width).max(lo);
            if !a.is_finite() {
                return f64::NAN;
            }
        }
    }
    for _ in 0..2000 {
        let m = 0.5 * (a + b);
        if m <= a || m >= b {
            break;
        }
        if g(m) > 0.0 {
            a = m;
        } else {
            b = m;
        }
    }
    0.5 * (a + b)
}
