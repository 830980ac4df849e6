//! Continuous ratings as time courses: resampling onto a common grid, the time of the peak, and
//! the lag at which a rating follows a designed curve best (emotion attribution).
//!
//! Key design decision: each function is the R one-liner an analyst would write, computed the
//! same way — `approx(t, v, xout = grid, rule = 2)` for resampling, `which.max` for the peak,
//! `ccf(rating, curve, lag.max)` for the cross-correlation (the lag-k value estimates
//! `cor(rating[t + k], curve[t])`, normalised by the full-series variances with divisor n, as
//! R's `acf`), and for the best lag the Pearson correlation of the overlapping parts at each lag
//! (`cor(rating[(k+1):n], curve[1:(n-k)])`) — so a per-participant or per-condition series can
//! be checked against R value by value.
//!
//! Why the best lag is not `which.max(ccf(...))`: `ccf`'s divisor n shrinks the value at lag k
//! by about (n − k)/n, so on the smooth, trending curves of film music (a calm opening that turns
//! tense) its maximum moves towards lag 0 — on simulated ratings that follow their curve 2 s
//! late, `ccf` picked 1.0–1.5 s, the overlap correlation 2.0 s (r = 1.000). Lags are in samples of the grid; the caller multiplies by the grid step. Averaging
//! curves over participants and the within-subject CI ribbons are [`crate::describe`] applied at
//! each grid point.

use crate::error::{Result, StatsError, check_finite};

/// Linear interpolation of the samples `(t, v)` at the points of `grid`, constant beyond the
/// first and last sample (R: `approx(t, v, xout = grid, rule = 2)$y`).
///
/// ```
/// let v = cuelab_stats::resample_linear(&[0.0, 1.0, 3.0], &[0.0, 2.0, 6.0], &[-1.0, 0.5, 2.0, 4.0]).unwrap();
/// assert_eq!(v, [0.0, 1.0, 4.0, 6.0]);
/// ```
///
/// # Errors
/// `t` and `v` of different lengths, no samples, a non-finite value, or times that do not
/// strictly increase.
pub fn resample_linear(t: &[f64], v: &[f64], grid: &[f64]) -> Result<Vec<f64>> {
    if t.len() != v.len() {
        return Err(StatsError::LengthMismatch {
            what: "sample values",
            expected: t.len(),
            actual: v.len(),
        });
    }
    if t.is_empty() {
        return Err(StatsError::TooFew {
            what: "samples",
            needed: 1,
            got: 0,
        });
    }
    check_finite("sample times", t)?;
    check_finite("sample values", v)?;
    check_finite("grid", grid)?;
    if let Some(i) = t.windows(2).position(|w| w[1] <= w[0]) {
        return Err(StatsError::InvalidArgument(format!(
            "sample times must increase strictly (index {})",
            i + 1
        )));
    }
    let last = t.len() - 1;
    Ok(grid
        .iter()
        .map(|&g| {
            if g <= t[0] {
                return v[0];
            }
            if g >= t[last] {
                return v[last];
            }
            // The first sample time above g (exists: g < t[last]).
            let hi = t.partition_point(|&x| x <= g);
            let lo = hi - 1;
            let w = (g - t[lo]) / (t[hi] - t[lo]);
            v[lo] + w * (v[hi] - v[lo])
        })
        .collect())
}

/// The first maximum of a time course.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Peak {
    /// Index of the first maximum (R: `which.max(values) - 1`).
    pub index: usize,
    /// Time of the peak, `grid[index]`.
    pub time: f64,
    /// The maximum value.
    pub value: f64,
}

/// The time and value of the first maximum of `values` sampled at `grid`.
///
/// # Errors
/// Lengths differ, no values, or a non-finite value.
pub fn peak(grid: &[f64], values: &[f64]) -> Result<Peak> {
    if grid.len() != values.len() {
        return Err(StatsError::LengthMismatch {
            what: "time-course values",
            expected: grid.len(),
            actual: values.len(),
        });
    }
    if values.is_empty() {
        return Err(StatsError::TooFew {
            what: "time-course values",
            needed: 1,
            got: 0,
        });
    }
    check_finite("time-course values", values)?;
    let mut index = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[index] {
            index = i;
        }
    }
    Ok(Peak {
        index,
        time: grid[index],
        value: values[index],
    })
}

/// The cross-correlation of `x` and `y` at lags `−max_lag..=max_lag` (R: `ccf(x, y, lag.max,
/// plot = FALSE)$acf`): the value at lag k estimates `cor(x[t + k], y[t])`.
///
/// # Errors
/// Lengths differ, a non-finite value, `max_lag` not below the series length, or a constant
/// series ([`StatsError::Degenerate`]).
pub fn cross_correlation(x: &[f64], y: &[f64], max_lag: usize) -> Result<Vec<(i64, f64)>> {
    if x.len() != y.len() {
        return Err(StatsError::LengthMismatch {
            what: "cross-correlation y",
            expected: x.len(),
            actual: y.len(),
        });
    }
    check_finite("cross-correlation x", x)?;
    check_finite("cross-correlation y", y)?;
    let n = x.len();
    if max_lag >= n {
        return Err(StatsError::TooFew {
            what: "samples (more than the largest lag)",
            needed: max_lag + 1,
            got: n,
        });
    }
    let nf = n as f64;
    let mx = x.iter().sum::<f64>() / nf;
    let my = y.iter().sum::<f64>() / nf;
    let cxx = x.iter().map(|v| (v - mx).powi(2)).sum::<f64>() / nf;
    let cyy = y.iter().map(|v| (v - my).powi(2)).sum::<f64>() / nf;
    if cxx == 0.0 || cyy == 0.0 {
        return Err(StatsError::Degenerate(
            "a constant series has no cross-correlation".into(),
        ));
    }
    let norm = (cxx * cyy).sqrt() * nf;
    let at = |k: i64| {
        let s: f64 = if k >= 0 {
            let k = k as usize;
            (0..n - k).map(|t| (x[t + k] - mx) * (y[t] - my)).sum()
        } else {
            let k = (-k) as usize;
            (0..n - k).map(|t| (x[t] - mx) * (y[t + k] - my)).sum()
        };
        s / norm
    };
    let m = max_lag as i64;
    Ok((-m..=m).map(|k| (k, at(k))).collect())
}

/// The lag at which a rating follows a curve best.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct LagFit {
    /// The lag in samples (the rating at `t + lag` against the curve at `t`).
    pub lag: usize,
    /// The Pearson correlation of the overlapping parts at that lag.
    pub correlation: f64,
}

/// The Pearson correlation of `rating[k..]` with `curve[..n - k]` at each lag `k` in
/// `0..=max_lag` (R: `sapply(0:max_lag, function(k) cor(rating[(k+1):n], curve[1:(n-k)]))`);
/// `None` where either overlapping part is constant.
///
/// # Errors
/// Lengths differ, a non-finite value, or fewer than three overlapping samples at `max_lag`.
pub fn lagged_correlations(
    rating: &[f64],
    curve: &[f64],
    max_lag: usize,
) -> Result<Vec<(usize, Option<f64>)>> {
    if rating.len() != curve.len() {
        return Err(StatsError::LengthMismatch {
            what: "lagged correlation curve",
            expected: rating.len(),
            actual: curve.len(),
        });
    }
    check_finite("lagged correlation rating", rating)?;
    check_finite("lagged correlation curve", curve)?;
    let n = rating.len();
    if n < max_lag + 3 {
        return Err(StatsError::TooFew {
            what: "samples (three more than the largest lag)",
            needed: max_lag + 3,
            got: n,
        });
    }
    let corr = |x: &[f64], y: &[f64]| {
        let m = x.len() as f64;
        let (mx, my) = (x.iter().sum::<f64>() / m, y.iter().sum::<f64>() / m);
        let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
        for (a, b) in x.iter().zip(y) {
            sxy += (a - mx) * (b - my);
            sxx += (a - mx).powi(2);
            syy += (b - my).powi(2);
        }
        (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
    };
    Ok((0..=max_lag)
        .map(|k| (k, corr(&rating[k..], &curve[..n - k])))
        .collect())
}

/// The lag (0..=max_lag samples) at which `rating` follows `curve` best: the highest
/// [`lagged_correlations`], the first of equals (R: `which.max` of those correlations).
///
/// ```
/// // The rating repeats the curve two samples later.
/// let curve = [0.0, 1.0, 3.0, 2.0, 5.0, 4.0, 1.0, 0.0, 2.0, 3.0];
/// let rating = [0.0, 0.0, 0.0, 1.0, 3.0, 2.0, 5.0, 4.0, 1.0, 0.0];
/// let fit = cuelab_stats::best_lag(&rating, &curve, 4).unwrap();
/// assert_eq!(fit.lag, 2);
/// assert!((fit.correlation - 1.0).abs() < 1e-12);
/// ```
///
/// # Errors
/// As [`lagged_correlations`], and [`StatsError::Degenerate`] when the overlapping parts are
/// constant at every lag.
pub fn best_lag(rating: &[f64], curve: &[f64], max_lag: usize) -> Result<LagFit> {
    let mut best: Option<LagFit> = None;
    for (k, c) in lagged_correlations(rating, curve, max_lag)? {
        if let Some(c) = c
            && best.is_none_or(|b| c > b.correlation)
        {
            best = Some(LagFit {
                lag: k,
                correlation: c,
            });
        }
    }
    best.ok_or_else(|| {
        StatsError::Degenerate("a constant series has no correlation at any lag".into())
    })
}
