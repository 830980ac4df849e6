//! From prepared trials to results: calls into `cuelab-stats` with plain slices and gathers
//! everything into [`Results`], the serializable shape of `results.json`.

use std::collections::BTreeMap;

use polars::prelude::*;

use cuelab_stats as stats;

use crate::data::{self, CellMeans, Prepared};
use crate::error::AnalysisError;
use crate::named::Named;
use crate::plan::{ColumnOrValue, DerivedKind, Plan};
pub use crate::results::*;

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

    let mut ratings = Named::default();
    for spec in &plan.results.ratings {
        let within = spec.within.clone().unwrap_or_else(|| design.within.clone());
        let between = spec
            .between
            .clone()
            .unwrap_or_else(|| design.between.clone());
        let cm = data::cell_means(prepared, &design.subject, &spec.dv, &within, &between)?;
        if !cm.incomplete_subjects.is_empty() {
            notes.push(format!(
                "ratings {}: {} subject(s) without data in every cell were left out: {}",
                spec.dv,
                cm.incomplete_subjects.len(),
                cm.incomplete_subjects.join(", ")
            ));
        }
        ratings.push(
            spec.dv.clone(),
            Descriptives {
                within,
                between,
                conf_level,
                cells: describe_cells(&cm, &prepared.levels, conf_level)?,
            },
        );
        anova.push(spec.dv.clone(), run_anova(&cm)?);
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
                let mut per_subject = Named::default();
                for (s, effect) in cm.subjects.iter().zip(&e.per_subject) {
                    per_subject.push(s.clone(), *effect);
                }
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
                        dz_ci: (&e.test.dz_ci).into(),
                        ci_lower: e.test.ci_lower,
                        ci_upper: e.test.ci_upper,
                        per_subject,
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
        ratings,
        continuous: None,
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
            .group_by_stable([col("s")])
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
