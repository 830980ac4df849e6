//! Linear mixed models on trial-level data: codes the prepared columns and calls
//! `cuelab_stats::fit_lmm` (REML, Satterthwaite df, crossed random intercepts) for models given
//! as lists, or resolves an lme4 formula through `cuelab_stats::ModelSpec::build` and fits it
//! with `fit_mixed` (random slopes). Either way the result carries lmerTest's type III table.

use std::collections::{BTreeMap, HashMap};

use cuelab_stats as stats;

use crate::data::{self, Prepared};
use crate::error::AnalysisError;
use crate::named::Named;
use crate::results::{FixedEffect, LmmResult, LmmTerm, RandomCorrelation, VarianceComponent};

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
    let rhs = if fixed.is_empty() {
        "1".to_string()
    } else {
        fixed.join(" + ")
    };
    let re: Vec<String> = random.iter().map(|g| format!("(1 | {g})")).collect();
    result(format!("{dv} ~ {rhs} + {}", re.join(" + ")), &model, &x)
}

/// Fits an lme4 formula by REML. The formula's factors take the plan's level order and
/// reference level; grouping factors are coded in order of first appearance.
pub fn fit_formula(
    prepared: &Prepared,
    formula: &str,
    reference: &BTreeMap<String, String>,
) -> Result<LmmResult, AnalysisError> {
    let spec = stats::parse_formula(formula).map_err(|e| formula_err(formula, &e))?;
    let n = prepared.trials.height();
    let y = data::f64_column(&prepared.trials, &spec.response.name).map_err(|_| {
        let column = formula[..spec.response.span.start].chars().count() + 1;
        AnalysisError::Options(format!(
            "mixed-model formula, column {column}: the response `{}` is not a numeric column \
             with a value on every analysed row\n  {formula}\n  {}^",
            spec.response.name,
            " ".repeat(column - 1)
        ))
    })?;
    // Every variable the formula names, coded once: (levels, codes, reference).
    let mut coded: HashMap<String, (Vec<String>, Vec<u32>, usize)> = HashMap::new();
    let names = spec
        .fixed
        .iter()
        .chain(spec.random.iter().flat_map(|r| &r.terms))
        .flat_map(|t| t.factors.iter().map(|f| f.name.clone()))
        .chain(spec.random.iter().map(|r| r.group.name.clone()));
    for name in names {
        if coded.contains_key(&name) || prepared.trials.column(&name).is_err() {
            continue;
        }
        let entry = match prepared.levels.get(&name) {
            Some(levels) => {
                let codes = data::codes(&prepared.trials, &name, levels)?
                    .into_iter()
                    .map(|c| c as u32)
                    .collect();
                let reference = match reference.get(&name) {
                    Some(r) => levels.iter().position(|l| l == r).ok_or_else(|| {
                        AnalysisError::Data(format!(
                            "reference level `{r}` of `{name}` does not occur in the data"
                        ))
                    })?,
                    None => 0,
                };
                (levels.clone(), codes, reference)
            }
            None => {
                let (codes, n_levels) = group_codes(prepared, &name)?;
                ((0..n_levels).map(|i| i.to_string()).collect(), codes, 0)
            }
        };
        coded.insert(name, entry);
    }
    let lookup = |name: &str| {
        coded
            .get(name)
            .map(|(levels, codes, reference)| stats::formula::FactorData {
                levels,
                codes,
                reference: *reference,
            })
    };
    let built = spec
        .build(n, &lookup)
        .map_err(|e| formula_err(formula, &e))?;
    let model = built
        .fit(&y, &stats::LmmOptions::default())
        .map_err(stats_err)?;
    result(formula.to_string(), &model, &built.x)
}

/// A formula error in the CLI's words: the message, the formula and a caret under the term.
pub(crate) fn formula_err(formula: &str, e: &stats::FormulaError) -> AnalysisError {
    AnalysisError::Options(format!(
        "mixed-model formula, {e}\n  {formula}\n  {}^",
        " ".repeat(e.column.saturating_sub(1))
    ))
}

/// The serializable result of a fit: fixed effects, lmerTest's type III table, variance
/// components (keyed by group for intercepts, `group: term` for slopes) and correlations.
fn result(
    formula: String,
    model: &stats::LmmFit,
    x: &stats::DesignMatrix,
) -> Result<LmmResult, AnalysisError> {
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
    let mut anova = Named::default();
    for h in x.type3_hypotheses() {
        let f = model.f_test(&h.rows).map_err(stats_err)?;
        anova.push(
            h.term,
            LmmTerm {
                df_num: f.num_df,
                df_den: f.den_df,
                f: f.f,
                p: f.p,
            },
        );
    }
    let mut random_out = Named::default();
    let mut n_groups = BTreeMap::new();
    for c in &model.random {
        n_groups.insert(c.group.clone(), c.n_levels);
        let key = if c.term == "(Intercept)" || c.term.is_empty() {
            c.group.clone()
        } else {
            format!("{}: {}", c.group, c.term)
        };
        random_out.push(
            key,
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
    let mut correlations = Named::default();
    for c in &model.correlations {
        correlations.push(
            format!("{}: {}, {}", c.group, c.a, c.b),
            RandomCorrelation {
                covariance: c.covariance,
                correlation: c.correlation,
            },
        );
    }
    Ok(LmmResult {
        formula,
        n_obs: model.n_obs,
        n_groups,
        reml_criterion: model.criterion,
        singular: model.singular,
        fixed: fixed_out,
        anova,
        random: random_out,
        correlations,
    })
}
