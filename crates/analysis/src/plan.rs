//! Analysis plans: the TOML a researcher writes, parsed into typed structs.
//!
//! Unknown keys are errors (every table is `deny_unknown_fields`), reported with the plan's
//! path and the `line:col` of the fault. Paths inside a plan are relative to the plan file;
//! [`Plan::resolve_data_path`] does that join. Only this module knows TOML.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cuelab_stats::{FormulaError, ModelSpec, parse_formula};
use serde::Deserialize;

use crate::error::AnalysisError;

/// A whole analysis plan (`analysis/<name>.toml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Short name; used for output file names. Defaults to the plan file's stem.
    #[serde(default)]
    pub name: Option<String>,
    /// Human title for the report.
    #[serde(default)]
    pub title: Option<String>,
    /// Where the data comes from.
    pub data: DataSpec,
    /// Which rows to drop before analysis.
    #[serde(default)]
    pub exclude: Exclusions,
    /// Columns computed from others, in order.
    #[serde(default)]
    pub derive: Vec<Derived>,
    /// The design: dv, subject, item, factors.
    pub design: Design,
    /// Which results to compute.
    #[serde(default)]
    pub results: Results,
    /// Continuous ratings to draw as time courses (a separate table).
    #[serde(default)]
    pub time_course: Option<TimeCourseSpec>,
    /// Signal detection on old/new recognition responses (a separate table).
    #[serde(default)]
    pub sdt: Option<SdtSpec>,
    /// Continuous ratings analysed as time courses on a common grid (a separate table).
    #[serde(default)]
    pub continuous: Option<ContinuousSpec>,
}

/// `[continuous]`: cuelab's continuous table (one row per sample: `participant`, `session`,
/// `trial_index`, `step`, `item`, `t_ms`, `value`), joined to the plan's analysed trials by
/// subject, `session` and `trial_index` for the condition. Each trial's samples are resampled
/// onto a common grid (linear interpolation, constant beyond the ends: R's `approx(rule = 2)`),
/// averaged per participant and condition, then over participants with Cousineau-Morey
/// within-subject CIs at every grid point.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContinuousSpec {
    /// The continuous table (CSV or Parquet), relative to the plan file.
    pub path: PathBuf,
    /// The trials column holding the condition (its level order is `[design.levels]`'s when
    /// listed there, else sorted).
    pub condition: String,
    /// The rated dimensions to analyse (values of the `item` column, e.g. `valence`).
    pub items: Vec<String>,
    /// Only samples of this step (default: every step).
    #[serde(default)]
    pub step: Option<String>,
    /// Step of the common grid in ms; the grid runs from 0 to the last sample of the shortest
    /// analysed trial.
    pub grid_ms: f64,
    /// The largest lag (ms) at which a rating may follow its designed curve; at most a quarter
    /// of the grid's span (default 5000).
    #[serde(default)]
    pub max_lag_ms: Option<f64>,
    /// The designed affect curve of each condition level: a CSV with `t_s` and one column per
    /// item (cuelab's `*.curve.csv`), relative to the plan file.
    #[serde(default)]
    pub curves: BTreeMap<String, PathBuf>,
}

impl ContinuousSpec {
    /// The largest lag in ms (the plan's, else 5000).
    pub fn max_lag(&self) -> f64 {
        self.max_lag_ms.unwrap_or(5000.0)
    }
}

/// `[sdt]`: old/new recognition responses of cuelab's responses table (`value` 1 = "old",
/// `correct` TRUE/FALSE), joined to the plan's trials by subject and `trial_index` for the
/// condition; hits, misses, false alarms and correct rejections per subject × condition give d′
/// and c (log-linear correction), each analysed by a repeated-measures ANOVA over the condition.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SdtSpec {
    /// The responses table (CSV or Parquet), relative to the plan file.
    pub responses: PathBuf,
    /// The recognition step's id.
    pub step: String,
    /// The trials column holding the condition (rows where it is empty, e.g. practice, are left
    /// out).
    pub condition: String,
}

/// `[time_course]`: a long table of continuous ratings (one row per sample).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeCourseSpec {
    /// CSV or Parquet file, relative to the plan file.
    pub path: PathBuf,
    /// Participant column.
    pub subject: String,
    /// Time column (numeric).
    pub time: String,
    /// Rating column (numeric).
    pub value: String,
    /// Condition column (one line and ribbon per level).
    pub condition: String,
    /// Width of time bins (default: no binning beyond exact time values).
    #[serde(default)]
    pub bin: Option<f64>,
    /// Axis label for time.
    #[serde(default)]
    pub time_label: Option<String>,
}

/// The data source: a cuelab export directory, or a CSV or Parquet file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// File or directory, relative to the plan file.
    pub path: PathBuf,
    /// Declared column types for the columns the plan uses (`str`, `f64`, `i64`, `bool`).
    /// Declared columns are read with that type; the rest are read as text.
    #[serde(default)]
    pub columns: BTreeMap<String, ColumnType>,
}

/// A declared column type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// Text.
    Str,
    /// 64-bit float.
    F64,
    /// 64-bit integer.
    I64,
    /// Boolean.
    Bool,
}

/// Row exclusions, applied in this order: incorrect, flagged, absolute bounds, SD trimming.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exclusions {
    /// Keep only rows whose `column` equals `value` (text) or is true (bool column, no value).
    #[serde(default)]
    pub incorrect: Option<KeepIf>,
    /// A boolean column; rows where it is true are dropped (cuelab's `flagged`).
    #[serde(default)]
    pub flagged: Option<String>,
    /// Drop rows whose `column` lies outside `[min, max]`.
    #[serde(default)]
    pub bounds: Option<Bounds>,
    /// Drop rows further than `max_sd` SDs from their participant's mean of `column`.
    #[serde(default)]
    pub sd: Option<SdTrim>,
}

/// `incorrect = { column = "Correct", value = "Correct" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeepIf {
    /// The column that says whether a trial is correct.
    pub column: String,
    /// The text that means correct; absent for a boolean column.
    #[serde(default)]
    pub value: Option<String>,
}

/// `bounds = { column = "RT", min = 200, max = 3000 }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bounds {
    /// The column to check.
    pub column: String,
    /// Smallest kept value (inclusive).
    #[serde(default)]
    pub min: Option<f64>,
    /// Largest kept value (inclusive).
    #[serde(default)]
    pub max: Option<f64>,
}

/// `sd = { column = "RT", max_sd = 2.5 }`: trimming within participant.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SdTrim {
    /// The column to trim on.
    pub column: String,
    /// Rows with |x − participant mean| > max_sd × participant SD are dropped.
    pub max_sd: f64,
}

/// A derived column: `name` plus exactly one of the kinds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Derived {
    /// Name of the new column.
    pub name: String,
    /// estimate / actual.
    #[serde(default)]
    pub ratio: Option<Duration>,
    /// ln(estimate / actual).
    #[serde(default)]
    pub log_ratio: Option<Duration>,
    /// "congruent" when the two columns are equal, else "incongruent".
    #[serde(default)]
    pub congruence: Option<Congruence>,
}

/// The kind of a [`Derived`] column, once validated.
#[derive(Debug, Clone, Copy)]
pub enum DerivedKind<'a> {
    /// estimate / actual.
    Ratio(&'a Duration),
    /// ln(estimate / actual).
    LogRatio(&'a Duration),
    /// Congruence of two factors.
    Congruence(&'a Congruence),
}

impl Derived {
    /// The one kind this entry names (validated by [`Plan::parse`]).
    pub fn kind(&self) -> Option<DerivedKind<'_>> {
        match (&self.ratio, &self.log_ratio, &self.congruence) {
            (Some(d), None, None) => Some(DerivedKind::Ratio(d)),
            (None, Some(d), None) => Some(DerivedKind::LogRatio(d)),
            (None, None, Some(c)) => Some(DerivedKind::Congruence(c)),
            _ => None,
        }
    }
}

/// Estimated and actual durations: each a column name or a constant.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Duration {
    /// The participant's estimate.
    pub estimate: ColumnOrValue,
    /// The true duration.
    pub actual: ColumnOrValue,
}

/// A column name or a constant number.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum ColumnOrValue {
    /// A constant.
    Value(f64),
    /// A column.
    Column(String),
}

/// Two factor columns whose equality (or a stated list of pairs) defines congruence.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Congruence {
    /// First factor (e.g. the prime's valence, the scene).
    pub a: String,
    /// Second factor (e.g. the target's valence, the music).
    pub b: String,
    /// The congruent pairs, stated explicitly: each level of `a` with the levels of `b` that
    /// are congruent with it (`congruent = { approach = ["relaxing"] }`); every other pair is
    /// incongruent. Without it, a row is congruent when `a` equals `b`.
    #[serde(default)]
    pub congruent: Option<BTreeMap<String, Vec<String>>>,
}

impl Congruence {
    /// The stated congruent pairs `(level of a, level of b)`, in order (empty: by equality).
    pub fn pairs(&self) -> Vec<(&str, &str)> {
        self.congruent
            .iter()
            .flatten()
            .flat_map(|(a, bs)| bs.iter().map(move |b| (a.as_str(), b.as_str())))
            .collect()
    }
}

/// The design of the analysis.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Design {
    /// Dependent variable (numeric column).
    pub dv: String,
    /// Participant column.
    pub subject: String,
    /// Item column (e.g. clip), for crossed random intercepts.
    #[serde(default)]
    pub item: Option<String>,
    /// Within-subject factors.
    #[serde(default)]
    pub within: Vec<String>,
    /// Between-subject factors.
    #[serde(default)]
    pub between: Vec<String>,
    /// Level order per factor (default: sorted as text). Data levels not listed are an error.
    #[serde(default)]
    pub levels: BTreeMap<String, Vec<String>>,
    /// Reference level per factor for mixed models (default: the first level).
    #[serde(default)]
    pub reference: BTreeMap<String, String>,
}

impl Design {
    /// The first conflict among the design's column roles, as `(name, message)`: an empty
    /// name, a factor listed twice, a column that is both a within and a between factor, or a
    /// factor that is also the dependent variable, the subject or the item column. Checked
    /// before any data is read.
    pub fn conflict(&self) -> Option<(String, String)> {
        let mut roles: Vec<(&str, &str)> = vec![("dv", &self.dv), ("subject", &self.subject)];
        if let Some(item) = &self.item {
            roles.push(("item", item));
        }
        roles.extend(self.within.iter().map(|f| ("within", f.as_str())));
        roles.extend(self.between.iter().map(|f| ("between", f.as_str())));
        for (i, (role, name)) in roles.iter().enumerate() {
            if name.trim().is_empty() {
                return Some((name.to_string(), format!("the {role} column name is empty")));
            }
            if let Some((earlier, _)) = roles[..i].iter().find(|(_, n)| n == name) {
                let message = if earlier == role {
                    format!("`{name}` is listed twice as a {role} factor")
                } else {
                    format!(
                        "`{name}` is both the {earlier} and a {role} column; each column has one role"
                    )
                };
                return Some((name.to_string(), message));
            }
        }
        None
    }
}

/// Which results to compute. All empty means "everything that applies to the design".
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Results {
    /// Descriptives per cell with Cousineau-Morey CIs (default true).
    #[serde(default)]
    pub descriptives: Option<bool>,
    /// Confidence level for every interval (default 0.95).
    #[serde(default)]
    pub conf_level: Option<f64>,
    /// ANOVAs on per-subject cell means.
    #[serde(default)]
    pub anova: Vec<AnovaSpec>,
    /// Pairwise paired t-tests between the levels of one within factor.
    #[serde(default)]
    pub pairwise: Vec<PairwiseSpec>,
    /// Linear mixed models on trial-level data.
    #[serde(default)]
    pub lmm: Vec<LmmSpec>,
    /// Figures to draw (default: those that apply).
    #[serde(default)]
    pub figures: Option<Vec<FigureKind>>,
    /// Further dependent variables, each described and analysed by its own ANOVA.
    #[serde(default)]
    pub ratings: Vec<RatingSpec>,
}

/// `[[results.ratings]]`: another dependent variable of the same trials (e.g. each item of a
/// semantic differential), with cell descriptives (Cousineau-Morey CIs) and a type III ANOVA on
/// per-subject cell means, keyed by the column's name in `ratings` and `anova`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatingSpec {
    /// The numeric column.
    pub dv: String,
    /// Within factors (default: the design's).
    #[serde(default)]
    pub within: Option<Vec<String>>,
    /// Between factors (default: the design's).
    #[serde(default)]
    pub between: Option<Vec<String>>,
}

/// `[[results.anova]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnovaSpec {
    /// Key in the outputs.
    pub name: String,
    /// Within factors (default: the design's).
    #[serde(default)]
    pub within: Option<Vec<String>>,
    /// Between factors (default: the design's).
    #[serde(default)]
    pub between: Option<Vec<String>>,
}

/// `[[results.pairwise]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairwiseSpec {
    /// The within factor whose levels are compared (the key in the outputs).
    pub factor: String,
}

/// `[[results.lmm]]`: either an lme4 formula (`formula = "RT ~ a + (1 + a | subject) + (1 | item)"`,
/// also accepted as `lmm = "..."`) or `dv ~ fixed + (1 | random...)` given as lists.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LmmSpec {
    /// Key in the outputs.
    pub name: String,
    /// An lme4 formula: factors, interactions, crossed random intercepts and slopes.
    #[serde(default, alias = "lmm")]
    pub formula: Option<String>,
    /// Fixed-effect factors (treatment coded against the reference level), main effects only.
    #[serde(default)]
    pub fixed: Vec<String>,
    /// Grouping columns with a random intercept each (default: subject, and item if given).
    #[serde(default)]
    pub random: Option<Vec<String>>,
}

/// The variables an lme4 formula names, by role.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormulaVariables {
    /// The response.
    pub response: String,
    /// Variables of fixed terms and random slopes (coded as factors).
    pub factors: Vec<String>,
    /// Grouping factors of random terms.
    pub groups: Vec<String>,
}

impl LmmSpec {
    /// The parsed formula, if the spec gives one.
    pub fn model(&self) -> Option<Result<ModelSpec, FormulaError>> {
        self.formula.as_deref().map(parse_formula)
    }

    /// The variables of the formula (empty when there is none or it does not parse).
    pub fn formula_variables(&self) -> FormulaVariables {
        let Some(Ok(m)) = self.model() else {
            return FormulaVariables::default();
        };
        let mut out = FormulaVariables {
            response: m.response.name.clone(),
            ..Default::default()
        };
        let add = |list: &mut Vec<String>, name: &str| {
            if !list.iter().any(|n| n == name) {
                list.push(name.to_string());
            }
        };
        for t in m.fixed.iter().chain(m.random.iter().flat_map(|r| &r.terms)) {
            for f in &t.factors {
                add(&mut out.factors, &f.name);
            }
        }
        for r in &m.random {
            add(&mut out.groups, &r.group.name);
        }
        out
    }
}

/// A figure kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FigureKind {
    /// Cell means with within-subject CIs.
    CellMeans,
    /// Estimated vs actual duration with the identity line (needs a ratio column).
    EstimateVsActual,
}

impl Plan {
    /// Parses a plan from TOML text; `origin` names the file in error messages.
    pub fn parse(text: &str, origin: &Path) -> Result<Self, AnalysisError> {
        let plan: Plan = toml::from_str(text).map_err(|e| {
            let (line, col) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
            AnalysisError::Plan {
                path: origin.to_path_buf(),
                line,
                col,
                message: e.message().to_string(),
            }
        })?;
        plan.validate(text, origin)?;
        Ok(plan)
    }

    /// Reads and parses a plan file.
    pub fn from_file(path: &Path) -> Result<Self, AnalysisError> {
        let text = std::fs::read_to_string(path).map_err(|source| AnalysisError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// The data path, joined onto the plan file's folder when relative.
    pub fn resolve_data_path(&self, plan_path: &Path) -> PathBuf {
        resolve(plan_path, &self.data.path)
    }

    fn validate(&self, text: &str, origin: &Path) -> Result<(), AnalysisError> {
        let fail = |needle: &str, message: String| {
            let (line, col) = text
                .find(needle)
                .map(|at| line_col(text, at))
                .unwrap_or((1, 1));
            Err(AnalysisError::Plan {
                path: origin.to_path_buf(),
                line,
                col,
                message,
            })
        };
        if let Some((name, message)) = self.design.conflict() {
            return fail(&format!("\"{name}\""), message);
        }
        if let Some(bin) = self.time_course.as_ref().and_then(|t| t.bin)
            && !(bin.is_finite() && bin > 0.0)
        {
            return fail("bin", "`bin` must be a positive, finite width".to_string());
        }
        if let Some(c) = &self.continuous {
            if !(c.grid_ms.is_finite() && c.grid_ms > 0.0) {
                return fail(
                    "grid_ms",
                    "`grid_ms` must be a positive, finite step".to_string(),
                );
            }
            let lag = c.max_lag();
            if !(lag.is_finite() && lag >= 0.0) {
                return fail(
                    "max_lag_ms",
                    "`max_lag_ms` must be a finite number of ms, 0 or more".to_string(),
                );
            }
            if c.items.is_empty() {
                return fail(
                    "items",
                    "`items` must name at least one rated item".to_string(),
                );
            }
            if let Some((_, item)) = c
                .items
                .iter()
                .enumerate()
                .find(|(i, item)| c.items[..*i].contains(item))
            {
                return fail(
                    &format!("\"{item}\""),
                    format!("`items` lists `{item}` twice"),
                );
            }
        }
        for d in &self.derive {
            if let Some(DerivedKind::Congruence(c)) = d.kind()
                && let Some((a, _)) = c
                    .congruent
                    .iter()
                    .flatten()
                    .find(|(_, levels)| levels.is_empty())
            {
                return fail(
                    "congruent",
                    format!("congruent pairs of `{a}` list no level of `{}`", c.b),
                );
            }
        }
        for (what, value) in self.numbers() {
            if !value.is_finite() {
                return fail(what, format!("`{what}` must be a finite number"));
            }
        }
        for d in &self.derive {
            if d.kind().is_none() {
                return fail(
                    &format!("\"{}\"", d.name),
                    format!(
                        "derived column `{}` needs exactly one of `ratio`, `log_ratio`, `congruence`",
                        d.name
                    ),
                );
            }
        }
        if let Some(sd) = &self.exclude.sd
            && (sd.max_sd.is_nan() || sd.max_sd <= 0.0)
        {
            return fail("max_sd", "`max_sd` must be positive".to_string());
        }
        if let Some(c) = self.results.conf_level
            && (c.is_nan() || c <= 0.0 || c >= 1.0)
        {
            return fail("conf_level", "`conf_level` must lie in (0, 1)".to_string());
        }
        for spec in &self.results.lmm {
            match spec.model() {
                Some(Err(e)) => {
                    let formula = spec.formula.as_deref().unwrap_or_default();
                    let (line, col) = formula_position(text, formula, e.span.start);
                    return Err(AnalysisError::Plan {
                        path: origin.to_path_buf(),
                        line,
                        col,
                        message: format!(
                            "lmm `{}`: {}\n  {formula}\n  {}^",
                            spec.name,
                            e,
                            " ".repeat(e.column.saturating_sub(1))
                        ),
                    });
                }
                Some(Ok(_)) if !spec.fixed.is_empty() || spec.random.is_some() => {
                    return fail(
                        &format!("\"{}\"", spec.name),
                        format!(
                            "lmm `{}`: give either `formula` or `fixed`/`random`, not both",
                            spec.name
                        ),
                    );
                }
                None if spec.fixed.is_empty() && spec.random.is_none() => {
                    return fail(
                        &format!("\"{}\"", spec.name),
                        format!(
                            "lmm `{}` needs a `formula` (lme4 syntax) or `fixed` factors",
                            spec.name
                        ),
                    );
                }
                _ => {}
            }
        }
        for (factor, reference) in &self.design.reference {
            if let Some(levels) = self.design.levels.get(factor)
                && !levels.contains(reference)
            {
                return fail(
                    &format!("\"{reference}\""),
                    format!("reference level `{reference}` is not a level of `{factor}`"),
                );
            }
        }
        Ok(())
    }
}

impl Plan {
    /// Every number the plan states, with the key it is given under.
    fn numbers(&self) -> Vec<(&'static str, f64)> {
        let mut out = Vec::new();
        if let Some(b) = &self.exclude.bounds {
            out.extend(b.min.map(|v| ("min", v)));
            out.extend(b.max.map(|v| ("max", v)));
        }
        for d in &self.derive {
            if let Some(DerivedKind::Ratio(dur) | DerivedKind::LogRatio(dur)) = d.kind() {
                for (key, v) in [("estimate", &dur.estimate), ("actual", &dur.actual)] {
                    if let ColumnOrValue::Value(x) = v {
                        out.push((key, *x));
                    }
                }
            }
        }
        out
    }
}

/// Joins a plan-relative path onto the plan file's folder.
pub fn resolve(plan_path: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_path_buf();
    }
    plan_path
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join(path)
}

/// The line and column of byte `offset` of `formula` as written in the plan's text: the
/// formula's first occurrence inside quotes, else the start of the file.
fn formula_position(text: &str, formula: &str, offset: usize) -> (usize, usize) {
    match text.find(&format!("\"{formula}\"")) {
        Some(at) => line_col(text, at + 1 + offset),
        None => (1, 1),
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count() + 1)
        .unwrap_or(1);
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err(text: &str) -> String {
        Plan::parse(text, Path::new("p.toml"))
            .expect_err("plan should be rejected")
            .to_string()
    }

    const MINIMAL: &str = "[data]\npath = \"d.csv\"\n[design]\ndv = \"rt\"\nsubject = \"s\"\n";

    #[test]
    fn minimal_plan_parses_with_defaults() {
        let plan = Plan::parse(MINIMAL, Path::new("analysis/p.toml")).unwrap();
        assert_eq!(plan.design.dv, "rt");
        assert!(plan.results.anova.is_empty());
        assert_eq!(
            plan.resolve_data_path(Path::new("analysis/p.toml")),
            Path::new("analysis/d.csv")
        );
    }

    #[test]
    fn unknown_key_is_an_error_with_line_and_column() {
        let text = format!("{MINIMAL}colour = \"red\"\n");
        let msg = parse_err(&text);
        assert!(msg.starts_with("p.toml:6:1:"), "{msg}");
        assert!(msg.contains("colour"), "{msg}");
    }

    #[test]
    fn unknown_key_in_nested_table_points_at_it() {
        let text =
            "[data]\npath = \"d.csv\"\n[design]\ndv = \"rt\"\nsubject = \"s\"\nwithn = [\"a\"]\n";
        let msg = parse_err(text);
        assert!(msg.starts_with("p.toml:6:1:"), "{msg}");
    }

    #[test]
    fn derived_column_needs_exactly_one_kind() {
        let text = format!("{MINIMAL}[[derive]]\nname = \"r\"\n");
        let msg = parse_err(&text);
        assert!(msg.contains("exactly one"), "{msg}");
        assert!(msg.starts_with("p.toml:7:"), "{msg}");
    }

    #[test]
    fn duration_accepts_a_constant_or_a_column() {
        let text = format!(
            "{MINIMAL}[[derive]]\nname = \"r\"\nratio = {{ estimate = \"est\", actual = 45 }}\n"
        );
        let plan = Plan::parse(&text, Path::new("p.toml")).unwrap();
        let Some(DerivedKind::Ratio(d)) = plan.derive[0].kind() else {
            panic!("expected a ratio");
        };
        assert_eq!(d.estimate, ColumnOrValue::Column("est".into()));
        assert_eq!(d.actual, ColumnOrValue::Value(45.0));
    }

    #[test]
    fn overlapping_and_duplicate_factors_are_errors_at_their_line() {
        let check = |design: &str, want: &str| {
            let text = format!("[data]\npath = \"d.csv\"\n[design]\n{design}");
            let msg = parse_err(&text);
            assert!(msg.contains(want), "{design}: {msg}");
            assert!(msg.starts_with("p.toml:"), "{msg}");
        };
        check(
            "dv = \"rt\"\nsubject = \"s\"\nwithin = [\"m\", \"m\"]\n",
            "`m` is listed twice as a within factor",
        );
        check(
            "dv = \"rt\"\nsubject = \"s\"\nwithin = [\"m\"]\nbetween = [\"m\"]\n",
            "`m` is both the within and a between column",
        );
        check(
            "dv = \"rt\"\nsubject = \"s\"\nwithin = [\"s\"]\n",
            "`s` is both the subject and a within column",
        );
        check(
            "dv = \"rt\"\nsubject = \"rt\"\n",
            "`rt` is both the dv and a subject column",
        );
        check("dv = \"\"\nsubject = \"s\"\n", "dv column name is empty");
        let msg = parse_err(&format!(
            "{MINIMAL}[exclude]\nbounds = {{ column = \"rt\", max = inf }}\n"
        ));
        assert!(msg.contains("`max` must be a finite number"), "{msg}");
        assert!(msg.starts_with("p.toml:7:"), "{msg}");
    }

    #[test]
    fn an_unsupported_formula_term_is_an_error_at_its_column() {
        let text =
            format!("{MINIMAL}[[results.lmm]]\nname = \"m\"\nformula = \"rt ~ a + (1 | s/b)\"\n");
        let msg = parse_err(&text);
        // `(1 | s/b)` starts at byte 9 of the formula, column 12 of line 8.
        assert!(msg.starts_with("p.toml:8:"), "{msg}");
        assert!(msg.contains("lmm `m`"), "{msg}");
        let ok = format!(
            "{MINIMAL}[[results.lmm]]\nname = \"m\"\nlmm = \"rt ~ a + (1 + a | s) + (1 | i)\"\n"
        );
        let plan = Plan::parse(&ok, Path::new("p.toml")).unwrap();
        let v = plan.results.lmm[0].formula_variables();
        assert_eq!(v.response, "rt");
        assert_eq!(v.factors, ["a"]);
        assert_eq!(v.groups, ["s", "i"]);
        let neither = parse_err(&format!("{MINIMAL}[[results.lmm]]\nname = \"m\"\n"));
        assert!(neither.contains("needs a `formula`"), "{neither}");
    }

    #[test]
    fn continuous_and_congruent_pairs_are_checked_at_their_line() {
        let continuous = |keys: &str| {
            format!("{MINIMAL}[continuous]\npath = \"c.csv\"\ncondition = \"m\"\n{keys}\n")
        };
        let ok = Plan::parse(
            &continuous("items = [\"valence\"]\ngrid_ms = 500"),
            Path::new("p.toml"),
        )
        .unwrap();
        assert_eq!(ok.continuous.unwrap().max_lag(), 5000.0);
        let msg = parse_err(&continuous("items = [\"valence\"]\ngrid_ms = 0"));
        assert!(
            msg.starts_with("p.toml:10:1:") && msg.contains("`grid_ms`"),
            "{msg}"
        );
        let msg = parse_err(&continuous(
            "items = [\"valence\"]\ngrid_ms = 500\nmax_lag_ms = -1",
        ));
        assert!(msg.contains("`max_lag_ms`"), "{msg}");
        let msg = parse_err(&continuous("items = [\"v\", \"v\"]\ngrid_ms = 500"));
        assert!(msg.contains("`v` twice"), "{msg}");
        let msg = parse_err(&continuous("items = []\ngrid_ms = 500"));
        assert!(msg.contains("at least one"), "{msg}");
        let msg = parse_err(&format!(
            "{MINIMAL}[[derive]]\nname = \"cg\"\ncongruence = {{ a = \"s\", b = \"m\", congruent = {{ x = [] }} }}\n"
        ));
        assert!(
            msg.starts_with("p.toml:8:") && msg.contains("list no level"),
            "{msg}"
        );
    }

    #[test]
    fn reference_must_be_a_listed_level() {
        let text = format!(
            "{MINIMAL}[design.levels]\nm = [\"a\", \"b\"]\n[design.reference]\nm = \"c\"\n"
        );
        let msg = parse_err(&text);
        assert!(msg.contains("reference level `c`"), "{msg}");
    }
}
