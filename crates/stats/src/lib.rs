//! Statistics of cuelab that match R's numbers — afex for ANOVA, emmeans-style pairwise paired
//! tests, lme4/lmerTest for mixed models — on plain slices and small structs.
//!
//! Key design decision: this crate is numeric only. It takes slices (per-subject cell means,
//! per-row responses and level codes) and returns result structs; it knows nothing of
//! dataframes, files or column names, so the analysis crate owns all data handling and every
//! statistic here can be checked against a recorded R fixture in isolation. Each algorithm
//! follows the R code path it must match (car's multivariate ANOVA and its sphericity formulas,
//! emmeans on afex's multivariate model, effectsize's noncentral-distribution CIs, lme4's
//! profiled REML deviance, lmerTest's numerical derivatives), documented on the function.
//! Mixed models come in two fitters over one profiled-deviance core: [`fit_lmm`] for random
//! intercepts on sufficient statistics, [`fit_mixed`] for random slopes; [`parse_formula`] reads
//! lme4's formula syntax into names the caller resolves against its columns.
//!
//! ```
//! use cuelab_stats::{CellMatrix, PAdjust, describe, pairwise_paired};
//! // Four subjects, three within cells (subject-major).
//! let values = [1.0, 2.0, 4.0, 2.0, 3.5, 5.0, 3.0, 3.0, 6.5, 1.5, 2.5, 4.5];
//! let cells = CellMatrix::new(&values, 4, 3).unwrap();
//! let d = describe(&cells, 0.95).unwrap();
//! assert_eq!(d[2].mean, 5.0);
//! let pairs = pairwise_paired(&cells, PAdjust::Holm, 0.95).unwrap();
//! assert_eq!((pairs[0].a, pairs[0].b), (0, 1));
//! ```

pub mod anova;
pub mod cells;
pub mod describe;
pub mod design;
mod dist;
pub mod effsize;
pub mod emm;
pub mod error;
pub mod formula;
pub mod lmm;
pub mod mixed;
pub mod sdt;
pub mod timecourse;
pub mod timing;
pub mod ttest;

pub use anova::{
    AnovaInput, AnovaRow, AnovaTable, BetweenFactor, Correction, Sphericity, WithinFactor, anova,
};
pub use cells::CellMatrix;
pub use describe::{CellSummary, describe};
pub use design::{DesignMatrix, FixedFactor, TermHypothesis};
pub use effsize::{EffectSizeCi, dz_ci, eta_squared_ci};
pub use emm::{Groups, MarginalMean, WithinContrast, WithinPairwise, within_pairwise};
pub use error::{Result, StatsError};
pub use formula::{FormulaError, FormulaErrorKind, ModelSpec, RandomSpec, parse_formula};
pub use lmm::{
    Convergence, FTest, FixedTest, GroupingFactor, LmmFit, LmmOptions, RandomCorrelation,
    VarianceComponent, fit_lmm,
};
pub use mixed::{RandomTerm, fit_mixed};
pub use sdt::{SdtCounts, SignalDetection, signal_detection, signal_detection_all};
pub use timecourse::{
    LagFit, Peak, best_lag, cross_correlation, lagged_correlations, peak, resample_linear,
};
pub use timing::{
    CongruenceEffect, VierordtFit, coefficient_of_variation, congruence_effect, duration_ratio,
    log_ratio, vierordt,
};
pub use ttest::{
    PAdjust, PairedT, PairwiseT, TwoSampleT, one_sample_t, p_adjust, paired_t, pairwise_paired,
    two_sample_t,
};
