//! Signal detection for old/new recognition (memory bias): hit and false-alarm rates, d′ and
//! criterion c with the log-linear correction of Hautus (1995).
//!
//! The correction adds 0.5 to the hit and false-alarm counts and 1 to the numbers of signal
//! and noise trials before the rates are converted to z scores, so a participant with every
//! old item recognised (or no false alarm) still gets finite d′ and c, and the estimate is less
//! biased than with the 1/(2N) replacement of extreme rates. The uncorrected rates are reported
//! beside the corrected ones, since that is what a reader of the data table expects to see.

use statrs::distribution::{ContinuousCDF, Normal};

use crate::error::{Result, StatsError};

/// Response counts of one participant in one condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdtCounts {
    /// Signal (old) trials answered "old".
    pub hits: u32,
    /// Signal (old) trials answered "new".
    pub misses: u32,
    /// Noise (new) trials answered "old".
    pub false_alarms: u32,
    /// Noise (new) trials answered "new".
    pub correct_rejections: u32,
}

/// Signal-detection measures of one participant in one condition.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct SignalDetection {
    /// Uncorrected hit rate, `hits / (hits + misses)`.
    pub hit_rate: f64,
    /// Uncorrected false-alarm rate, `false_alarms / (false_alarms + correct_rejections)`.
    pub false_alarm_rate: f64,
    /// Log-linear corrected hit rate, `(hits + 0.5) / (hits + misses + 1)`.
    pub hit_rate_corrected: f64,
    /// Log-linear corrected false-alarm rate,
    /// `(false_alarms + 0.5) / (false_alarms + correct_rejections + 1)`.
    pub false_alarm_rate_corrected: f64,
    /// Sensitivity `d′ = z(H) − z(F)` on the corrected rates.
    pub d_prime: f64,
    /// Criterion `c = −(z(H) + z(F)) / 2` on the corrected rates (positive: conservative).
    pub criterion: f64,
}

/// d′ and c of one participant × condition with the log-linear correction (Hautus 1995).
///
/// ```
/// use cuelab_stats::{SdtCounts, signal_detection};
/// // All 20 old items recognised, 2 of 20 new items called old.
/// let s = signal_detection(&SdtCounts { hits: 20, misses: 0, false_alarms: 2, correct_rejections: 18 }).unwrap();
/// assert_eq!(s.hit_rate, 1.0);
/// assert!((s.hit_rate_corrected - 20.5 / 21.0).abs() < 1e-15);
/// assert!(s.d_prime.is_finite() && s.d_prime > 2.0);
/// ```
///
/// # Errors
/// No signal trials or no noise trials ([`StatsError::TooFew`]).
pub fn signal_detection(counts: &SdtCounts) -> Result<SignalDetection> {
    let n_signal = f64::from(counts.hits) + f64::from(counts.misses);
    let n_noise = f64::from(counts.false_alarms) + f64::from(counts.correct_rejections);
    for (n, what) in [(n_signal, "signal trials"), (n_noise, "noise trials")] {
        if n == 0.0 {
            return Err(StatsError::TooFew {
                what,
                needed: 1,
                got: 0,
            });
        }
    }
    let h = (f64::from(counts.hits) + 0.5) / (n_signal + 1.0);
    let f = (f64::from(counts.false_alarms) + 0.5) / (n_noise + 1.0);
    let z = |p: f64| Normal::standard().inverse_cdf(p);
    let (zh, zf) = (z(h), z(f));
    Ok(SignalDetection {
        hit_rate: f64::from(counts.hits) / n_signal,
        false_alarm_rate: f64::from(counts.false_alarms) / n_noise,
        hit_rate_corrected: h,
        false_alarm_rate_corrected: f,
        d_prime: zh - zf,
        criterion: -(zh + zf) / 2.0,
    })
}

/// [`signal_detection`] for each participant × condition cell, in the order given.
///
/// # Errors
/// As [`signal_detection`], for the first cell without signal or noise trials.
pub fn signal_detection_all(cells: &[SdtCounts]) -> Result<Vec<SignalDetection>> {
    cells.iter().map(signal_detection).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_without_noise_trials_is_an_error() {
        let err = signal_detection(&SdtCounts {
            hits: 3,
            misses: 1,
            false_alarms: 0,
            correct_rejections: 0,
        })
        .unwrap_err();
        assert!(matches!(
            err,
            StatsError::TooFew {
                what: "noise trials",
                ..
            }
        ));
    }
}
