//! The results of an analysis: the serializable shape of `results.json`, in one module that the
//! computing modules (`compute`, `lmm`, `sdt`) all fill and the renderings (`tables`, `report`)
//! read, so no helper imports back up from the module that calls it.

use std::collections::BTreeMap;

use cuelab_stats as stats;
use serde::Serialize;

use crate::data::Counts;
use crate::named::Named;

/// Version tag of the JSON shape.
pub const SCHEMA: &str = "cuelab-analysis/1";

/// Every result of one analysis: the content of `results.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Results {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// Plan name.
    pub plan: String,
    /// Report title.
    pub title: String,
    /// The data file read.
    pub data: String,
    /// Dependent variable.
    pub dv: String,
    /// Subject column.
    pub subject: String,
    /// Item column, if any.
    pub item: Option<String>,
    /// Rows kept after each exclusion step.
    pub counts: Counts,
    /// Rows read (= `counts.read`).
    pub n_rows_read: usize,
    /// Rows analysed (= `counts.analysed`).
    pub n_rows: usize,
    /// Distinct subjects among the analysed rows.
    pub n_subjects: usize,
    /// Level order of every factor.
    pub levels: BTreeMap<String, Vec<String>>,
    /// Cell descriptives of the design's factors.
    pub descriptives: Option<Descriptives>,
    /// ANOVAs by name.
    pub anova: Named<AnovaResult>,
    /// Pairwise comparisons by factor.
    pub pairwise: Named<PairwiseResult>,
    /// Linear mixed models by name.
    pub lmm: Named<LmmResult>,
    /// Congruence effects by derived column.
    pub congruence: Named<CongruenceResult>,
    /// Cell descriptives of each `[[results.ratings]]` column (its ANOVA is in `anova`, keyed
    /// by the column).
    pub ratings: Named<Descriptives>,
    /// Continuous ratings as time courses, when the plan has `[continuous]`.
    pub continuous: Option<ContinuousResult>,
    /// Time-perception measures by derived ratio column.
    pub timing: Named<TimingResult>,
    /// Signal detection per subject × condition, when the plan has `[sdt]`.
    pub sdt: Option<SdtResult>,
    /// Timing quality of the presentation, when the data has cuelab's timing columns.
    pub timing_quality: Option<crate::quality::TimingQuality>,
    /// Where the results come from: version, command, data file and its SHA-256, date.
    pub provenance: Provenance,
    /// Things the reader should know (dropped subjects, skipped results).
    pub notes: Vec<String>,
}

/// Where the results come from.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Provenance {
    /// The cuelab version that computed them.
    pub cuelab_version: String,
    /// The command line, when run from the CLI.
    pub command: Option<String>,
    /// The table read.
    pub data_file: String,
    /// SHA-256 of the table read (hex).
    pub data_sha256: String,
    /// When (UTC, RFC 3339).
    pub date: String,
}

/// Per-cell descriptives of per-subject means.
#[derive(Debug, Clone, Serialize)]
pub struct Descriptives {
    /// Within factors of the cells.
    pub within: Vec<String>,
    /// Between factors of the cells.
    pub between: Vec<String>,
    /// Confidence level of the intervals.
    pub conf_level: f64,
    /// Cells keyed by their levels joined with `:` (between levels first).
    pub cells: Named<Cell>,
}

/// One cell.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    /// Level of each factor (between first, then within).
    pub levels: Vec<String>,
    /// Subjects.
    pub n: usize,
    /// Mean of subject means.
    pub mean: f64,
    /// SD of subject means (n − 1).
    pub sd: f64,
    /// Between-subject SE.
    pub se: f64,
    /// Cousineau-Morey within-subject SE.
    pub se_within: f64,
    /// Lower bound of the within-subject CI.
    pub ci_lower: f64,
    /// Upper bound of the within-subject CI.
    pub ci_upper: f64,
}

/// One ANOVA (type III on per-subject cell means).
#[derive(Debug, Clone, Serialize)]
pub struct AnovaResult {
    /// Within factors.
    pub within: Vec<String>,
    /// Between factors.
    pub between: Vec<String>,
    /// Subjects in the analysis.
    pub n_subjects: usize,
    /// Subjects dropped for lacking a cell.
    pub incomplete_subjects: Vec<String>,
    /// Effects keyed by name (factors joined with ` x `).
    pub effects: Named<Effect>,
    /// Sphericity statistics keyed by effect (effects with more than 1 df only).
    pub sphericity: Named<SphericityResult>,
}

/// One effect row.
#[derive(Debug, Clone, Serialize)]
pub struct Effect {
    /// Numerator df.
    pub df_num: f64,
    /// Denominator df.
    pub df_den: f64,
    /// Effect sum of squares.
    pub ss: f64,
    /// Error sum of squares.
    pub ss_error: f64,
    /// Mean squared error.
    pub mse: f64,
    /// F statistic.
    #[serde(rename = "F")]
    pub f: f64,
    /// Uncorrected p.
    pub p: f64,
    /// Generalized eta squared.
    pub ges: f64,
    /// Partial eta squared.
    pub pes: f64,
    /// CI of the generalized eta squared (one-sided `[lower, 1]`, effectsize's default).
    pub ges_ci: EffectSizeInterval,
    /// CI of the partial eta squared (one-sided `[lower, 1]`, effectsize's default).
    pub pes_ci: EffectSizeInterval,
    /// Greenhouse-Geisser corrected test.
    pub gg: Option<Corrected>,
    /// Huynh-Feldt corrected test.
    pub hf: Option<Corrected>,
}

/// A confidence interval of an effect size, saying whether it is one-sided.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct EffectSizeInterval {
    /// Lower bound.
    pub lower: f64,
    /// Upper bound (1 for a one-sided eta-squared interval).
    pub upper: f64,
    /// Confidence level.
    pub conf_level: f64,
    /// Whether the interval is one-sided (`[lower, 1]`) rather than two-sided.
    pub one_sided: bool,
}

impl From<&stats::EffectSizeCi> for EffectSizeInterval {
    fn from(c: &stats::EffectSizeCi) -> Self {
        Self {
            lower: c.ci_lower,
            upper: c.ci_upper,
            conf_level: c.conf_level,
            one_sided: c.one_sided,
        }
    }
}

/// A sphericity-corrected test.
#[derive(Debug, Clone, Serialize)]
pub struct Corrected {
    /// Epsilon estimate.
    pub epsilon: f64,
    /// Corrected numerator df.
    pub df_num: f64,
    /// Corrected denominator df.
    pub df_den: f64,
    /// Corrected p.
    pub p: f64,
}

/// Mauchly's test and the epsilons.
#[derive(Debug, Clone, Serialize)]
pub struct SphericityResult {
    /// Mauchly's W.
    pub mauchly_w: f64,
    /// Its p-value.
    pub mauchly_p: f64,
    /// Greenhouse-Geisser epsilon.
    pub gg_epsilon: f64,
    /// Huynh-Feldt epsilon (may exceed 1; corrections use min(1, ε)).
    pub hf_epsilon: f64,
}

/// All pairwise paired t-tests between the levels of one within factor.
#[derive(Debug, Clone, Serialize)]
pub struct PairwiseResult {
    /// The factor.
    pub factor: String,
    /// Subjects.
    pub n_subjects: usize,
    /// How the comparisons were made: `paired t` (within-subject designs) or `emmeans` (a
    /// mixed design: emmeans on afex's multivariate model, equal weights over the
    /// between-subject groups, df = N − groups).
    pub method: String,
    /// Confidence level of the CIs (unadjusted).
    pub conf_level: f64,
    /// Comparisons keyed `"a - b"` (difference a − b), in emmeans' order.
    pub comparisons: Named<Comparison>,
}

/// One paired comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// Mean difference a − b.
    pub estimate: f64,
    /// SE of the mean difference.
    pub se: f64,
    /// t statistic.
    pub t: f64,
    /// df.
    pub df: f64,
    /// Unadjusted p.
    pub p: f64,
    /// Holm-adjusted p over the family.
    pub p_holm: f64,
    /// Bonferroni-adjusted p over the family.
    pub p_bonferroni: f64,
    /// Cohen's d_z, mean difference / SD of differences (signed as a − b); absent for
    /// emmeans comparisons in mixed designs.
    pub dz: Option<f64>,
    /// Two-sided CI of d_z from the noncentral t (effectsize's `cohens_d(paired = TRUE)`).
    pub dz_ci: Option<EffectSizeInterval>,
    /// Lower bound of the unadjusted CI of the difference.
    pub ci_lower: f64,
    /// Upper bound.
    pub ci_upper: f64,
}

/// A linear mixed model fitted by REML.
#[derive(Debug, Clone, Serialize)]
pub struct LmmResult {
    /// R-style formula.
    pub formula: String,
    /// Observations.
    pub n_obs: usize,
    /// Levels per grouping factor.
    pub n_groups: BTreeMap<String, usize>,
    /// REML criterion at the optimum (−2 × restricted log-likelihood).
    pub reml_criterion: f64,
    /// Whether the fit is singular (a variance at zero or a correlation at ±1), as
    /// `lme4::isSingular` says.
    pub singular: bool,
    /// Fixed effects keyed as R names them (`(Intercept)`, `Musiccontrol`, ...).
    pub fixed: Named<FixedEffect>,
    /// lmerTest's type III table (Satterthwaite), keyed by term (`music`, `a:b`).
    pub anova: Named<LmmTerm>,
    /// Variance components keyed by grouping factor (its intercept), `group: term` for a
    /// random slope, and `Residual`.
    pub random: Named<VarianceComponent>,
    /// Correlations of random effects within a term, keyed `group: a, b`.
    pub correlations: Named<RandomCorrelation>,
}

/// One row of lmerTest's type III table.
#[derive(Debug, Clone, Serialize)]
pub struct LmmTerm {
    /// Numerator df.
    pub df_num: f64,
    /// Satterthwaite denominator df.
    pub df_den: f64,
    /// F statistic.
    #[serde(rename = "F")]
    pub f: f64,
    /// p.
    pub p: f64,
}

/// A covariance and correlation of two random effects of one grouping factor.
#[derive(Debug, Clone, Serialize)]
pub struct RandomCorrelation {
    /// Covariance.
    pub covariance: f64,
    /// Correlation.
    pub correlation: f64,
}

/// One fixed effect with Satterthwaite df.
#[derive(Debug, Clone, Serialize)]
pub struct FixedEffect {
    /// Estimate.
    pub estimate: f64,
    /// Standard error.
    pub se: f64,
    /// Satterthwaite df.
    pub df: f64,
    /// t value.
    pub t: f64,
    /// Two-sided p.
    pub p: f64,
}

/// A variance component.
#[derive(Debug, Clone, Serialize)]
pub struct VarianceComponent {
    /// Variance.
    pub variance: f64,
    /// Standard deviation.
    pub sd: f64,
}

/// Congruence effect (incongruent − congruent) over subjects.
#[derive(Debug, Clone, Serialize)]
pub struct CongruenceResult {
    /// Subjects.
    pub n: usize,
    /// Mean effect.
    pub effect: f64,
    /// SD of per-subject effects.
    pub sd: f64,
    /// t statistic.
    pub t: f64,
    /// df.
    pub df: f64,
    /// p.
    pub p: f64,
    /// Cohen's d_z.
    pub dz: f64,
    /// Two-sided CI of d_z from the noncentral t (effectsize's `cohens_d(paired = TRUE)`).
    pub dz_ci: EffectSizeInterval,
    /// CI lower bound of the mean effect.
    pub ci_lower: f64,
    /// CI upper bound of the mean effect.
    pub ci_upper: f64,
    /// Each subject's effect: mean of its incongruent trials − mean of its congruent trials.
    pub per_subject: Named<f64>,
}

/// Continuous ratings as time courses (`[continuous]`).
#[derive(Debug, Clone, Serialize)]
pub struct ContinuousResult {
    /// The trials column giving the condition.
    pub condition: String,
    /// The step whose samples were used (None: every step).
    pub step: Option<String>,
    /// Step of the common grid (ms).
    pub grid_ms: f64,
    /// Largest lag tried against the designed curves (ms).
    pub max_lag_ms: f64,
    /// Condition levels, in order.
    pub levels: Vec<String>,
    /// Trials with samples that were analysed.
    pub n_trials: usize,
    /// Subjects with every condition (the others are left out, as afex does).
    pub n_subjects: usize,
    /// Subjects left out for lacking a condition.
    pub incomplete_subjects: Vec<String>,
    /// Confidence level of the within-subject intervals.
    pub conf_level: f64,
    /// Per item (valence, arousal), per condition level.
    pub items: Named<Named<ConditionCourse>>,
}

/// One condition's time course of one item.
#[derive(Debug, Clone, Serialize)]
pub struct ConditionCourse {
    /// Subjects.
    pub n: usize,
    /// Mean over subjects of each subject's time-averaged rating.
    pub mean: f64,
    /// Its Cousineau-Morey within-subject SE (across conditions).
    pub se_within: f64,
    /// Lower bound of the within-subject CI of `mean`.
    pub ci_lower: f64,
    /// Upper bound.
    pub ci_upper: f64,
    /// Time of the first maximum of the mean time course (ms).
    pub peak_ms: f64,
    /// The mean time course at its first maximum.
    pub peak_value: f64,
    /// The lag (ms, ≥ 0) at which the mean time course follows the designed curve best
    /// (highest correlation of the overlapping parts); None without a curve, or when the curve is constant.
    pub lag_ms: Option<f64>,
    /// The Pearson correlation of the overlapping parts at that lag.
    pub lag_correlation: Option<f64>,
    /// The mean time course on the grid with within-subject CIs.
    pub grid: Vec<GridPoint>,
}

/// One grid point of a mean time course.
#[derive(Debug, Clone, Serialize)]
pub struct GridPoint {
    /// Time since the clip's onset (ms).
    pub t_ms: f64,
    /// Mean over subjects.
    pub mean: f64,
    /// Cousineau-Morey within-subject SE across conditions at this time.
    pub se_within: f64,
    /// Lower bound of the within-subject CI.
    pub ci_lower: f64,
    /// Upper bound.
    pub ci_upper: f64,
}

/// Time-perception measures of one ratio column.
#[derive(Debug, Clone, Serialize)]
pub struct TimingResult {
    /// The derived column (ratio or log ratio).
    pub column: String,
    /// Cell descriptives of the ratio (same cells as the main descriptives).
    pub cells: Named<Cell>,
    /// Per-subject Vierordt fits (only when the actual duration is a column that varies).
    pub vierordt: Named<Vierordt>,
    /// Mean Vierordt slope over subjects.
    pub mean_vierordt_slope: Option<f64>,
    /// Mean over subjects of the coefficient of variation of the estimates.
    pub mean_cv: Option<f64>,
}

/// One participant's Vierordt fit.
#[derive(Debug, Clone, Serialize)]
pub struct Vierordt {
    /// Trials.
    pub n: usize,
    /// Slope of estimate on actual.
    pub slope: f64,
    /// Intercept.
    pub intercept: f64,
    /// R².
    pub r_squared: f64,
    /// Coefficient of variation of the estimates.
    pub cv: f64,
}

/// Signal detection per subject × condition.
#[derive(Debug, Clone, Serialize)]
pub struct SdtResult {
    /// The recognition step.
    pub step: String,
    /// The condition column.
    pub condition: String,
    /// Its levels (sorted).
    pub levels: Vec<String>,
    /// Cells keyed `subject:level`.
    pub cells: Named<SdtCell>,
}

/// One subject's recognition in one condition.
#[derive(Debug, Clone, Serialize)]
pub struct SdtCell {
    /// "Old" to old items.
    pub hits: u32,
    /// "New" to old items.
    pub misses: u32,
    /// "Old" to new items.
    pub false_alarms: u32,
    /// "New" to new items.
    pub correct_rejections: u32,
    /// Uncorrected hit rate.
    pub hit_rate: f64,
    /// Uncorrected false-alarm rate.
    pub false_alarm_rate: f64,
    /// d′ from the corrected rates.
    pub d_prime: f64,
    /// Criterion c from the corrected rates.
    pub c: f64,
}
