//! Confidence intervals of standardised effect sizes, as the R package effectsize computes them:
//! eta squared (partial, generalized or plain) from the noncentral F, Cohen's d_z from the
//! noncentral t.
//!
//! effectsize's defaults differ by effect size and a report must say which it shows: eta
//! squared gets a *one-sided* interval (`alternative = "greater"`: the lower bound of a 90%
//! two-sided interval, the upper bound fixed at 1), d_z a two-sided 95% one. Both invert the
//! noncentral distribution in its noncentrality parameter; effectsize does that with
//! `optim(abstol = 1e-9)`, this module by bisection to the last bit, which agrees to far more
//! digits than R's own noncentral CDFs carry (about 1e-9).

use crate::dist::{decreasing_root, noncentral_f_cdf, noncentral_t_cdf};
use crate::error::{Result, StatsError, check_conf_level};

/// An effect size with its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct EffectSizeCi {
    /// The point estimate.
    pub estimate: f64,
    /// Lower confidence limit.
    pub ci_lower: f64,
    /// Upper confidence limit (1 for a one-sided eta-squared interval).
    pub ci_upper: f64,
    /// Confidence level, e.g. 0.95.
    pub conf_level: f64,
    /// Whether the interval is one-sided (`[lower, 1]`, effectsize's default for eta squared)
    /// rather than two-sided.
    pub one_sided: bool,
}

/// One-sided confidence interval `[lower, 1]` of an eta squared (partial, generalized or plain)
/// of an effect with `df1` and `df2` degrees of freedom, as
/// `effectsize::eta_squared(model, ci = conf_level)` with its default
/// `alternative = "greater"`.
///
/// The estimate is turned into the F it would have as a partial eta squared,
/// `F = (η²/df1) / ((1 − η²)/df2)`; the lower limit is `λ / (λ + df2)` for the noncentrality λ
/// at which F is the `conf_level` quantile of the noncentral F (0 when F is below the central
/// quantile).
///
/// ```
/// // afex: F(2, 38) = 5.1 gives a partial eta squared of 0.2116...
/// let pes = 2.0 * 5.1 / (2.0 * 5.1 + 38.0);
/// let ci = cuelab_stats::eta_squared_ci(pes, 2.0, 38.0, 0.95).unwrap();
/// assert!(ci.ci_lower > 0.0 && ci.ci_lower < pes && ci.ci_upper == 1.0);
/// ```
///
/// # Errors
/// A confidence level outside (0, 1), an estimate outside [0, 1], or df that are not positive.
pub fn eta_squared_ci(eta2: f64, df1: f64, df2: f64, conf_level: f64) -> Result<EffectSizeCi> {
    check_conf_level(conf_level)?;
    if !(0.0..=1.0).contains(&eta2) {
        return Err(StatsError::InvalidArgument(format!(
            "eta squared {eta2} is not in [0, 1]"
        )));
    }
    if !(df1 > 0.0 && df2 > 0.0 && df1.is_finite() && df2.is_finite()) {
        return Err(StatsError::InvalidArgument(format!(
            "degrees of freedom ({df1}, {df2}) are not positive"
        )));
    }
    let f = (eta2 / df1) / ((1.0 - eta2) / df2);
    let lower = if !f.is_finite() {
        1.0
    } else if noncentral_f_cdf(f, df1, df2, 0.0) <= conf_level {
        0.0
    } else {
        let lambda = decreasing_root(
            |ncp| noncentral_f_cdf(f, df1, df2, ncp) - conf_level,
            0.0,
            (f * df1).max(1.0),
            0.0,
        );
        lambda / (lambda + df2)
    };
    Ok(EffectSizeCi {
        estimate: eta2,
        ci_lower: lower,
        ci_upper: 1.0,
        conf_level,
        one_sided: true,
    })
}

/// Two-sided confidence interval of Cohen's d_z (`mean(d) / sd(d)` of `n` paired differences)
/// from the noncentral t, as `effectsize::cohens_d(x, y, paired = TRUE, ci = conf_level)`:
/// with `t = d_z √n` and `df = n − 1`, the limits are `δ / √n` for the noncentralities δ at
/// which t is the upper and lower `(1 − conf_level)/2` quantile.
///
/// ```
/// let ci = cuelab_stats::dz_ci(0.8, 20, 0.95).unwrap();
/// assert!(ci.ci_lower < 0.8 && 0.8 < ci.ci_upper && !ci.one_sided);
/// ```
///
/// # Errors
/// A confidence level outside (0, 1), fewer than 2 pairs, or a non-finite d_z.
pub fn dz_ci(dz: f64, n: usize, conf_level: f64) -> Result<EffectSizeCi> {
    check_conf_level(conf_level)?;
    if n < 2 {
        return Err(StatsError::TooFew {
            what: "pairs",
            needed: 2,
            got: n,
        });
    }
    if !dz.is_finite() {
        return Err(StatsError::NonFinite {
            what: "d_z",
            index: 0,
        });
    }
    let sqrt_n = (n as f64).sqrt();
    let t = dz * sqrt_n;
    let df = (n - 1) as f64;
    let alpha = 1.0 - conf_level;
    let ncp_at = |p: f64| {
        decreasing_root(
            |ncp| noncentral_t_cdf(t, df, ncp) - p,
            t,
            1.0,
            f64::NEG_INFINITY,
        )
    };
    Ok(EffectSizeCi {
        estimate: dz,
        ci_lower: ncp_at(1.0 - alpha / 2.0) / sqrt_n,
        ci_upper: ncp_at(alpha / 2.0) / sqrt_n,
        conf_level,
        one_sided: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noncentral_cdfs_match_r() {
        // R 4.2: sprintf("%.15g", c(pf(3, 2, 20, ncp = 5), pt(1.5, 9, ncp = 0.7),
        //                            pt(-0.4, 5, ncp = -1.2)))
        let want = [0.484131732717945, 0.763010297632165, 0.791975010219255];
        let got = [
            noncentral_f_cdf(3.0, 2.0, 20.0, 5.0),
            noncentral_t_cdf(1.5, 9.0, 0.7),
            noncentral_t_cdf(-0.4, 5.0, -1.2),
        ];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-9, "{got:?} vs {want:?}");
        }
    }
}
