//! Time-perception measures: duration ratio, log ratio, Vierordt slope, coefficient of
//! variation, and the congruence effect.

use crate::error::{Result, StatsError, check_finite};
use crate::ttest::{PairedT, paired_t};

/// Duration ratio `estimate / actual` (1 = veridical, > 1 = overestimation).
///
/// # Errors
/// A non-finite input or a non-positive actual duration.
pub fn duration_ratio(estimate: f64, actual: f64) -> Result<f64> {
    check_finite("estimate", &[estimate])?;
    check_finite("actual", &[actual])?;
    if actual <= 0.0 {
        return Err(StatsError::InvalidArgument(format!(
            "actual duration {actual} is not positive"
        )));
    }
    Ok(estimate / actual)
}

/// Natural log of the duration ratio, `ln(estimate / actual)` (0 = veridical).
///
/// # Errors
/// As [`duration_ratio`], and a non-positive estimate.
pub fn log_ratio(estimate: f64, actual: f64) -> Result<f64> {
    let r = duration_ratio(estimate, actual)?;
    if r <= 0.0 {
        return Err(StatsError::InvalidArgument(format!(
            "estimate {estimate} is not positive"
        )));
    }
    Ok(r.ln())
}

/// Ordinary least-squares fit of estimate on actual duration for one participant.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct VierordtFit {
    /// Number of trials.
    pub n: usize,
    /// Slope: 1 = veridical scaling, < 1 = Vierordt's law (short overestimated, long
    /// underestimated).
    pub slope: f64,
    /// Intercept.
    pub intercept: f64,
    /// Coefficient of determination.
    pub r_squared: f64,
    /// Indifference point, where estimate equals actual: `intercept / (1 − slope)` (NaN when
    /// the slope is 1).
    pub indifference_point: f64,
}

/// Vierordt slope: OLS of `estimate` on `actual` (R: `coef(lm(estimate ~ actual))`).
///
/// # Errors
/// Lengths differ, fewer than 2 trials, a non-finite value, or all actual durations equal.
pub fn vierordt(actual: &[f64], estimate: &[f64]) -> Result<VierordtFit> {
    if actual.len() != estimate.len() {
        return Err(StatsError::LengthMismatch {
            what: "estimate",
            expected: actual.len(),
            actual: estimate.len(),
        });
    }
    check_finite("actual", actual)?;
    check_finite("estimate", estimate)?;
    let n = actual.len();
    if n < 2 {
        return Err(StatsError::TooFew {
            what: "trials",
            needed: 2,
            got: n,
        });
    }
    let nf = n as f64;
    let mx = actual.iter().sum::<f64>() / nf;
    let my = estimate.iter().sum::<f64>() / nf;
    let sxx: f64 = actual.iter().map(|x| (x - mx).powi(2)).sum();
    let syy: f64 = estimate.iter().map(|y| (y - my).powi(2)).sum();
    let sxy: f64 = actual
        .iter()
        .zip(estimate)
        .map(|(x, y)| (x - mx) * (y - my))
        .sum();
    if sxx == 0.0 {
        return Err(StatsError::Degenerate(
            "all actual durations are equal".into(),
        ));
    }
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let r_squared = if syy == 0.0 {
        1.0
    } else {
        sxy * sxy / (sxx * syy)
    };
    let indifference_point = if slope == 1.0 {
        f64::NAN
    } else {
        intercept / (1.0 - slope)
    };
    Ok(VierordtFit {
        n,
        slope,
        intercept,
        r_squared,
        indifference_point,
    })
}

/// Coefficient of variation `sd / mean` (sample SD, n − 1): the scalar-property measure of
/// timing precision.
///
/// # Errors
/// Fewer than 2 values, a non-finite value, or a zero mean.
pub fn coefficient_of_variation(values: &[f64]) -> Result<f64> {
    check_finite("values", values)?;
    let n = values.len();
    if n < 2 {
        return Err(StatsError::TooFew {
            what: "values",
            needed: 2,
            got: n,
        });
    }
    let nf = n as f64;
    let mean = values.iter().sum::<f64>() / nf;
    if mean == 0.0 {
        return Err(StatsError::Degenerate("mean is zero".into()));
    }
    let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (nf - 1.0)).sqrt();
    Ok(sd / mean)
}

/// The congruence effect over subjects: per-subject `incongruent − congruent` and its paired
/// t-test.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CongruenceEffect {
    /// Per-subject effect, `incongruent[s] − congruent[s]`.
    pub per_subject: Vec<f64>,
    /// Paired t-test of incongruent − congruent (its `mean_diff` is the mean effect).
    pub test: PairedT,
}

/// Congruence effect from per-subject condition means (same subject order in both slices).
///
/// # Errors
/// As [`paired_t`].
pub fn congruence_effect(
    congruent: &[f64],
    incongruent: &[f64],
    conf_level: f64,
) -> Result<CongruenceEffect> {
    let test = paired_t(incongruent, congruent, conf_level)?;
    let per_subject = incongruent
        .iter()
        .zip(congruent)
        .map(|(i, c)| i - c)
        .collect();
    Ok(CongruenceEffect { per_subject, test })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vierordt_recovers_a_known_line() {
        let actual = [1.0, 2.0, 4.0, 8.0];
        let estimate: Vec<f64> = actual.iter().map(|x| 0.5 + 0.75 * x).collect();
        let fit = vierordt(&actual, &estimate).unwrap();
        assert!((fit.slope - 0.75).abs() < 1e-14);
        assert!((fit.intercept - 0.5).abs() < 1e-14);
        assert!((fit.indifference_point - 2.0).abs() < 1e-13);
        assert!((fit.r_squared - 1.0).abs() < 1e-14);
    }

    #[test]
    fn ratios_and_cv() {
        assert_eq!(duration_ratio(3.0, 2.0).unwrap(), 1.5);
        assert!((log_ratio(2.0, 2.0).unwrap()).abs() < 1e-15);
        assert!(duration_ratio(1.0, 0.0).is_err());
        // R: sd(c(2, 4, 6)) / mean(c(2, 4, 6)) = 0.5
        assert!((coefficient_of_variation(&[2.0, 4.0, 6.0]).unwrap() - 0.5).abs() < 1e-15);
    }

    #[test]
    fn congruence_effect_is_incongruent_minus_congruent() {
        let e = congruence_effect(&[500.0, 510.0, 490.0], &[520.0, 515.0, 530.0], 0.95).unwrap();
        assert_eq!(e.per_subject, vec![20.0, 5.0, 40.0]);
        assert!((e.test.mean_diff - 65.0 / 3.0).abs() < 1e-12);
    }
}
