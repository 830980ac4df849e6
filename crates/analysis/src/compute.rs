//! From prepared trials to results: calls into `cuelab-stats` with plain slices and gathers
//! everything into [`Results`], the serializable shape of `results.json`.

use std::collections::BTreeMap;

use polars::prelude::*;
use serde::Serialize;

use cuelab_stats as stats;

use crate::data::{self, CellMeans, Counts, Prepared};
use crate::error::AnalysisError;
use crate::named::Named;
use crate::plan::{ColumnOrValue, DerivedKind, Plan};

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
    /// Time-perception measures by derived ratio column.
    pub timing: Named<TimingResult>,
    /// Signal detection per subject × condition, when the plan has `[sdt]`.
    pub sdt: Option<crate::sdt::SdtResult>,
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
    /// CI lower bound.
    pub ci_lower: f64,
    /// CI upper bound.
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

fn stats_err(what: &str) -> impl Fn(stats::StatsError) -> AnalysisError + '_ {
    move |e| AnalysisError::Stats {
        what: what.to_string(),
        message: e.to_string(),
    }
}

/// Builds the cells of a CellMeans (between groups × within cells) and describes them.
fn describe_cells(
    cm: &CellMeans,
    levels: &BTreeMap<String, Vec<String>>,
    conf_level: f64,
) -> Result<Named<Cell>, AnalysisError> {
    let n_cells = cm.n_cells();
    let n_groups: usize = cm.between.iter().map(|(_, n)| n).product();
    let mut out = Named::default();
    for g in 0..n_groups {
        let rows: Vec<usize> = (0..cm.subjects.len())
            .filter(|&s| cm.group[s] == g)
            .collect();
        if rows.len() < 2 {
            continue;
        }
        let values: Vec<f64> = rows
            .iter()
            .flat_map(|&s| cm.values[s * n_cells..(s + 1) * n_cells].iter().copied())
            .collect();
        let matrix = stats::CellMatrix::new(&values, rows.len(), n_cells)
            .map_err(stats_err("descriptives"))?;
        let summaries = stats::describe(&matrix, conf_level).map_err(stats_err("descriptives"))?;
        let group_levels = decode(g, &cm.between, levels);
        for s in summaries {
            let mut cell_levels = group_levels.clone();
            cell_levels.extend(decode(s.cell, &cm.within, levels));
            out.push(
                cell_levels.join(":"),
                Cell {
                    levels: cell_levels,
                    n: s.n,
                    mean: s.mean,
                    sd: s.sd,
                    se: s.se,
                    se_within: s.se_within,
                    ci_lower: s.ci_lower,
                    ci_upper: s.ci_upper,
                },
            );
        }
    }
    Ok(out)
}

/// Level names of a row-major cell index.
pub(crate) fn decode(
    mut index: usize,
    factors: &[(String, usize)],
    levels: &BTreeMap<String, Vec<String>>,
) -> Vec<String> {
    let mut out = vec![String::new(); factors.len()];
    for (k, (name, n)) in factors.iter().enumerate().rev() {
        out[k] = levels[name][index % n].clone();
        index /= n;
    }
    out
}

fn between_codes(cm: &CellMeans) -> Vec<Vec<usize>> {
    let mut codes = vec![Vec::with_capacity(cm.subjects.len()); cm.between.len()];
    for &g in &cm.group {
        let mut rest = g;
        for (k, (_, n)) in cm.between.iter().enumerate().rev() {
            codes[k].push(rest % n);
            rest /= n;
        }
    }
    codes
}

pub(crate) fn run_anova(cm: &CellMeans) -> Result<AnovaResult, AnalysisError> {
    let codes = between_codes(cm);
    let between: Vec<stats::BetweenFactor<'_>> = cm
        .between
        .iter()
        .zip(&codes)
        .map(|((name, n), c)| stats::BetweenFactor {
            name,
            n_levels: *n,
            codes: c,
        })
        .collect();
    let within: Vec<stats::WithinFactor<'_>> = cm
        .within
        .iter()
        .map(|(name, n)| stats::WithinFactor { name, n_levels: *n })
        .collect();
    let table = stats::anova(&stats::AnovaInput {
        n_subjects: cm.subjects.len(),
        between: &between,
        within: &within,
        values: &cm.values,
        observed: &[],
    })
    .map_err(stats_err("anova"))?;
    let mut effects = Named::default();
    let mut sphericity = Named::default();
    for row in &table.rows {
        let key = row.effect.replace(':', " x ");
        let corr = |c: &stats::Correction| Corrected {
            epsilon: c.epsilon,
            df_num: c.df1,
            df_den: c.df2,
            p: c.p,
        };
        if let Some(s) = &row.sphericity {
            sphericity.push(
                key.clone(),
                SphericityResult {
                    mauchly_w: s.mauchly_w,
                    mauchly_p: s.mauchly_p,
                    gg_epsilon: s.gg.epsilon,
                    hf_epsilon: s.hf.epsilon,
                },
            );
        }
        effects.push(
            key,
            Effect {
                df_num: row.df1,
                df_den: row.df2,
                ss: row.ss,
                ss_error: row.ss_error,
                mse: row.mse,
                f: row.f,
                p: row.p,
                ges: row.ges,
                pes: row.pes,
                ges_ci: (&row.ges_ci).into(),
                pes_ci: (&row.pes_ci).into(),
                gg: row.sphericity.as_ref().map(|s| corr(&s.gg)),
                hf: row.sphericity.as_ref().map(|s| corr(&s.hf)),
            },
        );
    }
    Ok(AnovaResult {
        within: cm.within.iter().map(|(n, _)| n.clone()).collect(),
        between: cm.between.iter().map(|(n, _)| n.clone()).collect(),
        n_subjects: cm.subjects.len(),
        incomplete_subjects: cm.incomplete_subjects.clone(),
        effects,
        sphericity,
    })
}

fn run_pairwise(
    cm: &CellMeans,
    levels: &[String],
    conf_level: f64,
) -> Result<PairwiseResult, AnalysisError> {
    let matrix = stats::CellMatrix::new(&cm.values, cm.subjects.len(), cm.n_cells())
        .map_err(stats_err("pairwise"))?;
    let holm = stats::pairwise_paired(&matrix, stats::PAdjust::Holm, conf_level)
        .map_err(stats_err("pairwise"))?;
    let raw: Vec<f64> = holm.iter().map(|r| r.test.p).collect();
    let bonferroni = stats::p_adjust(&raw, stats::PAdjust::Bonferroni);
    let mut comparisons = Named::default();
    for (r, p_bonferroni) in holm.iter().zip(bonferroni) {
        comparisons.push(
            format!("{} - {}", levels[r.a], levels[r.b]),
            Comparison {
                estimate: r.test.mean_diff,
                se: r.test.se,
                t: r.test.t,
                df: r.test.df,
                p: r.test.p,
                p_holm: r.p_adjusted,
                p_bonferroni,
                dz: Some(r.test.dz),
                dz_ci: Some((&r.test.dz_ci).into()),
                ci_lower: r.test.ci_lower,
                ci_upper: r.test.ci_upper,
            },
        );
    }
    Ok(PairwiseResult {
        factor: cm.within[0].0.clone(),
        n_subjects: cm.subjects.len(),
        method: "paired t".to_string(),
        conf_level,
        comparisons,
    })
}

/// Pairwise comparisons of the levels of within factor `factor` in a mixed design, as emmeans
/// gives them on afex's model (`cm` holds every within and between factor of the design).
fn run_within_pairwise(
    cm: &CellMeans,
    factor: &str,
    levels: &[String],
    conf_level: f64,
) -> Result<PairwiseResult, AnalysisError> {
    let what = stats_err("pairwise");
    let matrix =
        stats::CellMatrix::new(&cm.values, cm.subjects.len(), cm.n_cells()).map_err(&what)?;
    let within: Vec<stats::WithinFactor<'_>> = cm
        .within
        .iter()
        .map(|(name, n)| stats::WithinFactor { name, n_levels: *n })
        .collect();
    let index = cm
        .within
        .iter()
        .position(|(n, _)| n == factor)
        .ok_or_else(|| AnalysisError::Data(format!("`{factor}` is not a within factor")))?;
    let n_groups = cm.between.iter().map(|(_, n)| n).product();
    let groups = stats::Groups {
        n_groups,
        codes: &cm.group,
    };
    let r = stats::within_pairwise(
        &matrix,
        &within,
        index,
        &groups,
        stats::PAdjust::Holm,
        conf_level,
    )
    .map_err(&what)?;
    let raw: Vec<f64> = r.contrasts.iter().map(|c| c.p).collect();
    let bonferroni = stats::p_adjust(&raw, stats::PAdjust::Bonferroni);
    let mut comparisons = Named::default();
    for (c, p_bonferroni) in r.contrasts.iter().zip(bonferroni) {
        comparisons.push(
            format!("{} - {}", levels[c.a], levels[c.b]),
            Comparison {
                estimate: c.estimate,
                se: c.se,
                t: c.t,
                df: c.df,
                p: c.p,
                p_holm: c.p_adjusted,
                p_bonferroni,
                dz: None,
                dz_ci: None,
                ci_lower: c.ci_lower,
                ci_upper: c.ci_upper,
            },
        );
    }
    Ok(PairwiseResult {
        factor: factor.to_string(),
        n_subjects: cm.subjects.len(),
        method: "emmeans".to_string(),
        conf_level,
        comparisons,
    })
}

/// Computes every result the plan asks for (or that applies, when it asks for none).
pub fn compute(
    plan: &Plan,
    name: &str,
    data_label: &str,
    prepared: &Prepared,
) -> Result<Results, AnalysisError> {
    let design = &plan.design;
    let conf_level = plan.results.conf_level.unwrap_or(0.95);
    let n_subjects = prepared.trials.column(&design.subject)?.n_unique()?;
    let mut notes = Vec::new();
    let everything = plan.results.anova.is_empty()
        && plan.results.pairwise.is_empty()
        && plan.results.lmm.is_empty();
    let has_factors = !design.within.is_empty() || !design.between.is_empty();

    let descriptives = if plan.results.descriptives.unwrap_or(true) && has_factors {
        let cm = data::cell_means(
            prepared,
            &design.subject,
            &design.dv,
            &design.within,
            &design.between,
        )?;
        Some(Descriptives {
            within: design.within.clone(),
            between: design.between.clone(),
            conf_level,
            cells: describe_cells(&cm, &prepared.levels, conf_level)?,
        })
    } else {
        None
    };

    let mut anova = Named::default();
    let anova_specs: Vec<(String, Vec<String>, Vec<String>)> = if everything {
        if has_factors {
            vec![(
                "anova".to_string(),
                design.within.clone(),
                design.between.clone(),
            )]
        } else {
            Vec::new()
        }
    } else {
        plan.results
            .anova
            .iter()
            .map(|s| {
                (
                    s.name.clone(),
                    s.within.clone().unwrap_or_else(|| design.within.clone()),
                    s.between.clone().unwrap_or_else(|| design.between.clone()),
                )
            })
            .collect()
    };
    for (key, within, between) in anova_specs {
        let cm = data::cell_means(prepared, &design.subject, &design.dv, &within, &between)?;
        if !cm.incomplete_subjects.is_empty() {
            notes.push(format!(
                "anova {key}: {} subject(s) without data in every cell were left out: {}",
                cm.incomplete_subjects.len(),
                cm.incomplete_subjects.join(", ")
            ));
        }
        anova.push(key, run_anova(&cm)?);
    }

    let mut pairwise = Named::default();
    let pairwise_factors: Vec<String> = if everything {
        design.within.clone()
    } else {
        plan.results
            .pairwise
            .iter()
            .map(|p| p.factor.clone())
            .collect()
    };
    for factor in pairwise_factors {
        if !design.between.is_empty() && design.within.contains(&factor) {
            let cm = data::cell_means(
                prepared,
                &design.subject,
                &design.dv,
                &design.within,
                &design.between,
            )?;
            let result = run_within_pairwise(&cm, &factor, &prepared.levels[&factor], conf_level)?;
            pairwise.push(factor, result);
            continue;
        }
        let cm = data::cell_means(
            prepared,
            &design.subject,
            &design.dv,
            std::slice::from_ref(&factor),
            &[],
        )?;
        let result = run_pairwise(&cm, &prepared.levels[&factor], conf_level)?;
        pairwise.push(factor, result);
    }

    let mut lmm = Named::default();
    let lmm_specs: Vec<(String, Vec<String>, Vec<String>)> = if everything {
        // With a within factor the random-intercept model (lmerTest `y ~ A + (1 | subject)`)
        // is fitted too, even on one row per cell.
        let is_trial_level = prepared.counts.analysed > n_subjects * cell_count(design, prepared);
        if is_trial_level || design.item.is_some() || !design.within.is_empty() {
            let mut random = vec![design.subject.clone()];
            random.extend(design.item.clone());
            let mut fixed = design.within.clone();
            fixed.extend(design.between.clone());
            vec![("lmm".to_string(), fixed, random)]
        } else {
            Vec::new()
        }
    } else {
        plan.results
            .lmm
            .iter()
            .filter(|s| s.formula.is_none())
            .map(|s| {
                let random = s.random.clone().unwrap_or_else(|| {
                    let mut r = vec![design.subject.clone()];
                    r.extend(design.item.clone());
                    r
                });
                (s.name.clone(), s.fixed.clone(), random)
            })
            .collect()
    };
    for (key, fixed, random) in lmm_specs {
        let result = crate::lmm::fit(prepared, &design.dv, &fixed, &random, &design.reference)?;
        lmm.push(key, result);
    }
    for spec in &plan.results.lmm {
        if let Some(formula) = &spec.formula {
            let result = crate::lmm::fit_formula(prepared, formula, &design.reference)?;
            lmm.push(spec.name.clone(), result);
        }
    }

    let mut congruence = Named::default();
    let mut timing = Named::default();
    for d in &plan.derive {
        match d.kind() {
            Some(DerivedKind::Congruence(_)) => {
                let cm = data::cell_means(
                    prepared,
                    &design.subject,
                    &design.dv,
                    std::slice::from_ref(&d.name),
                    &[],
                )?;
                let levels = &prepared.levels[&d.name];
                let (Some(ci), Some(ii)) = (
                    levels.iter().position(|l| l == "congruent"),
                    levels.iter().position(|l| l == "incongruent"),
                ) else {
                    notes.push(format!("congruence `{}`: needs both levels", d.name));
                    continue;
                };
                let matrix = stats::CellMatrix::new(&cm.values, cm.subjects.len(), cm.n_cells())
                    .map_err(stats_err("congruence"))?;
                let e =
                    stats::congruence_effect(&matrix.column(ci), &matrix.column(ii), conf_level)
                        .map_err(stats_err("congruence"))?;
                congruence.push(
                    d.name.clone(),
                    CongruenceResult {
                        n: e.test.n,
                        effect: e.test.mean_diff,
                        sd: e.test.sd_diff,
                        t: e.test.t,
                        df: e.test.df,
                        p: e.test.p,
                        dz: e.test.dz,
                        ci_lower: e.test.ci_lower,
                        ci_upper: e.test.ci_upper,
                    },
                );
            }
            Some(DerivedKind::Ratio(dur)) | Some(DerivedKind::LogRatio(dur)) => {
                timing.push(
                    d.name.clone(),
                    timing_result(
                        plan,
                        prepared,
                        &d.name,
                        &dur.estimate,
                        &dur.actual,
                        conf_level,
                    )?,
                );
            }
            None => {}
        }
    }

    Ok(Results {
        schema: SCHEMA,
        plan: name.to_string(),
        title: plan.title.clone().unwrap_or_else(|| name.to_string()),
        data: data_label.to_string(),
        dv: design.dv.clone(),
        subject: design.subject.clone(),
        item: design.item.clone(),
        counts: prepared.counts,
        n_rows_read: prepared.counts.read,
        n_rows: prepared.counts.analysed,
        n_subjects,
        levels: prepared.levels.clone(),
        descriptives,
        anova,
        pairwise,
        lmm,
        congruence,
        timing,
        sdt: None,
        timing_quality: None,
        provenance: Provenance::default(),
        notes,
    })
}

fn cell_count(design: &crate::plan::Design, prepared: &Prepared) -> usize {
    design
        .within
        .iter()
        .map(|f| prepared.levels.get(f).map_or(1, Vec::len))
        .product()
}

fn timing_result(
    plan: &Plan,
    prepared: &Prepared,
    column: &str,
    estimate: &ColumnOrValue,
    actual: &ColumnOrValue,
    conf_level: f64,
) -> Result<TimingResult, AnalysisError> {
    let design = &plan.design;
    let cells = if design.within.is_empty() && design.between.is_empty() {
        Named::default()
    } else {
        let cm = data::cell_means(
            prepared,
            &design.subject,
            column,
            &design.within,
            &design.between,
        )?;
        describe_cells(&cm, &prepared.levels, conf_level)?
    };
    let mut vierordt = Named::default();
    let (mut slopes, mut cvs) = (Vec::new(), Vec::new());
    if let (ColumnOrValue::Column(est), ColumnOrValue::Column(act)) = (estimate, actual) {
        // Sorted by subject in polars, then cut into per-subject runs by the group sizes.
        let sorted = prepared
            .trials
            .clone()
            .lazy()
            .select([
                col(design.subject.as_str())
                    .cast(DataType::String)
                    .alias("s"),
                col(est.as_str()).cast(DataType::Float64).alias("e"),
                col(act.as_str()).cast(DataType::Float64).alias("a"),
            ])
            .sort(
                ["s"],
                SortMultipleOptions::default().with_maintain_order(true),
            );
        let runs = sorted
            .clone()
            .group_by([col("s")])
            .agg([len().alias("n")])
            .sort(["s"], SortMultipleOptions::default())
            .collect()?;
        let sorted = sorted.collect()?;
        let est = data::f64_column(&sorted, "e")?;
        let act = data::f64_column(&sorted, "a")?;
        let names = data::text_column(&runs, "s")?;
        let sizes = data::f64_column(&runs, "n")?;
        let mut start = 0;
        let mut by_subject = Vec::with_capacity(names.len());
        for (name, n) in names.iter().zip(sizes) {
            let end = start + n as usize;
            by_subject.push((name.as_str(), &act[start..end], &est[start..end]));
            start = end;
        }
        for (s, a, e) in by_subject {
            let (Ok(fit), Ok(cv)) = (stats::vierordt(a, e), stats::coefficient_of_variation(e))
            else {
                continue;
            };
            slopes.push(fit.slope);
            cvs.push(cv);
            vierordt.push(
                s,
                Vierordt {
                    n: fit.n,
                    slope: fit.slope,
                    intercept: fit.intercept,
                    r_squared: fit.r_squared,
                    cv,
                },
            );
        }
    }
    let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    Ok(TimingResult {
        column: column.to_string(),
        cells,
        vierordt,
        mean_vierordt_slope: mean(&slopes),
        mean_cv: mean(&cvs),
    })
}
