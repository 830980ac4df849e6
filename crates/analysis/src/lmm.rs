//! Linear mixed models on trial-level data: codes the prepared columns and calls
//! `cuelab_stats::fit_lmm` (REML, Satterthwaite df, crossed random intercepts).

use std::collections::{BTreeMap, HashMap};

use cuelab_stats as stats;

use crate::compute::{FixedEffect, LmmResult, VarianceComponent};
use crate::data::{self, Prepared};
use crate::error::AnalysisError;
use crate::named::Named;

fn stats_err(e: stats::StatsError) -> AnalysisError {
    AnalysisError::Stats {
        what: "mixed model".to_string(),
        message: e.to_string(),
    }
}

/// Codes of a grouping column in order of first appearance.
fn group_codes(prepared: &Prepared, name: &str) -> Result<(Vec<u32>, usize), AnalysisError> {
    let values = data::text_column(&prepared.trials, name)?;
    let mut index: HashMap<&str, u32> = HashMap::new();
    let codes = values
        .iter()
        .map(|v| {
            let next = index.len() as u32;
            *index.entry(v.as_str()).or_insert(next)
        })
        .collect();
    Ok((codes, index.len()))
}

/// Fits `dv ~ fixed + (1 | random[0]) + (1 | random[1]) + ...` by REML.
pub fn fit(
    prepared: &Prepared,
    dv: &str,
    fixed: &[String],
    random: &[String],
    reference: &BTreeMap<String, String>,
) -> Result<LmmResult, AnalysisError> {
    if random.is_empty() {
        return Err(AnalysisError::Options(
            "a mixed model needs at least one grouping factor".to_string(),
        ));
    }
    let y = data::f64_column(&prepared.trials, dv)?;
    let n = y.len();
    let mut fixed_codes = Vec::with_capacity(fixed.len());
    for f in fixed {
        let levels = prepared
            .levels
            .get(f)
            .ok_or_else(|| AnalysisError::Data(format!("`{f}` is not a factor of the plan")))?;
        let codes: Vec<u32> = data::codes(&prepared.trials, f, levels)?
            .into_iter()
            .map(|c| c as u32)
            .collect();
        let reference = match reference.get(f) {
            Some(r) => levels.iter().position(|l| l == r).ok_or_else(|| {
                AnalysisError::Data(format!(
                    "reference level `{r}` of `{f}` does not occur in the data"
                ))
            })?,
            None => 0,
        };
        fixed_codes.push((f, levels, codes, reference));
    }
    let factors: Vec<stats::FixedFactor<'_>> = fixed_codes
        .iter()
        .map(|(name, levels, codes, reference)| stats::FixedFactor {
            name,
            levels,
            codes,
            reference: *reference,
        })
        .collect();
    let x = stats::DesignMatrix::treatment(n, &factors, &[]).map_err(stats_err)?;
    let groups_owned: Vec<(Vec<u32>, usize)> = random
        .iter()
        .map(|g| group_codes(prepared, g))
        .collect::<Result<_, _>>()?;
    let groups: Vec<stats::GroupingFactor<'_>> = random
        .iter()
        .zip(&groups_owned)
        .map(|(name, (codes, n_levels))| stats::GroupingFactor {
            name,
            n_levels: *n_levels,
            codes,
        })
        .collect();
    let model =
        stats::fit_lmm(&y, &x, &groups, &stats::LmmOptions::default()).map_err(stats_err)?;

    let mut fixed_out = Named::default();
    for t in &model.fixed {
        fixed_out.push(
            t.name.clone(),
            FixedEffect {
                estimate: t.estimate,
                se: t.se,
                df: t.df,
                t: t.t,
                p: t.p,
            },
        );
    }
    let mut random_out = Named::default();
    let mut n_groups = BTreeMap::new();
    for c in &model.random {
        n_groups.insert(c.group.clone(), c.n_levels);
        random_out.push(
            c.group.clone(),
            VarianceComponent {
                variance: c.variance,
                sd: c.sd,
            },
        );
    }
    random_out.push(
        "Residual",
        VarianceComponent {
            variance: model.residual_sd * model.residual_sd,
            sd: model.residual_sd,
        },
    );
    let rhs = if fixed.is_empty() {
        "1".to_string()
    } else {
        fixed.join(" + ")
    };
    let re: Vec<String> = random.iter().map(|g| format!("(1 | {g})")).collect();
    Ok(LmmResult {
        formula: format!("{dv} ~ {rhs} + {}", re.join(" + ")),
        n_obs: model.n_obs,
        n_groups,
        reml_criterion: model.criterion,
        fixed: fixed_out,
        random: random_out,
    })
}
