//! Data handling: one lazy polars query from the file to the analysed trials, and the small
//! aggregations (per-subject cell means) that feed the statistics.
//!
//! The query is scan → exclusion masks (incorrect, flagged, bounds, SD within subject via
//! `.over(subject)`) → derived columns → one `collect()`. The masks are kept as columns so the
//! report can say how many rows each step removed without scanning the file again. The schema of
//! every column the plan uses is declared up front (text for subjects, items and factors, `f64`
//! for numbers); undeclared CSV columns are read as text and never inferred.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::error::AnalysisError;
use crate::input::{self, RowLines};
use crate::plan::{ColumnOrValue, ColumnType, DerivedKind, Plan};

/// How many rows each exclusion step kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Rows read.
    pub read: usize,
    /// Rows kept after dropping incorrect trials.
    pub after_incorrect: usize,
    /// ... and flagged trials.
    pub after_flagged: usize,
    /// ... and rows outside the absolute bounds.
    pub after_bounds: usize,
    /// ... and rows beyond the SD limit within participant.
    pub after_sd: usize,
    /// ... and rows with a missing dependent variable: the rows analysed.
    pub analysed: usize,
}

/// The analysed trials: one row per kept trial, with the subject, item and factor columns as
/// text and the dependent variable (and derived numbers) as `f64`.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The kept trials.
    pub trials: DataFrame,
    /// Rows kept per step.
    pub counts: Counts,
    /// Level order of every factor the plan uses (plan order, else sorted).
    pub levels: BTreeMap<String, Vec<String>>,
    /// The table file read.
    pub table: PathBuf,
}

/// Per-subject cell means in wide form, subjects in sorted order.
#[derive(Debug, Clone)]
pub struct CellMeans {
    /// Subject ids, one per row of `values`.
    pub subjects: Vec<String>,
    /// Within factors (slowest-varying first) with their level counts.
    pub within: Vec<(String, usize)>,
    /// Between factors with their level counts.
    pub between: Vec<(String, usize)>,
    /// Per subject: the index of its between cell (row-major over `between`).
    pub group: Vec<usize>,
    /// `subjects.len() × n_within_cells`, row-major; within cells row-major over `within`.
    pub values: Vec<f64>,
    /// Subjects dropped because they lack a within cell (as afex does).
    pub incomplete_subjects: Vec<String>,
}

impl CellMeans {
    /// Number of within cells.
    pub fn n_cells(&self) -> usize {
        self.within.iter().map(|(_, n)| n).product()
    }
}

/// The columns a plan reads and the type each is read as.
fn required_columns(plan: &Plan) -> BTreeMap<String, ColumnType> {
    let mut cols = BTreeMap::new();
    let d = &plan.design;
    cols.insert(d.subject.clone(), ColumnType::Str);
    if let Some(item) = &d.item {
        cols.insert(item.clone(), ColumnType::Str);
    }
    let derived: BTreeSet<&str> = plan.derive.iter().map(|x| x.name.as_str()).collect();
    for f in d.within.iter().chain(&d.between) {
        if !derived.contains(f.as_str()) {
            cols.insert(f.clone(), ColumnType::Str);
        }
    }
    for spec in &plan.results.lmm {
        for f in &spec.fixed {
            if !derived.contains(f.as_str()) {
                cols.insert(f.clone(), ColumnType::Str);
            }
        }
        for r in spec.random.iter().flatten() {
            cols.insert(r.clone(), ColumnType::Str);
        }
        let v = spec.formula_variables();
        for f in v.factors.iter().chain(&v.groups) {
            if !derived.contains(f.as_str()) {
                cols.insert(f.clone(), ColumnType::Str);
            }
        }
        if !v.response.is_empty() && !derived.contains(v.response.as_str()) {
            cols.insert(v.response.clone(), ColumnType::F64);
        }
    }
    for spec in &plan.results.anova {
        for f in spec
            .within
            .iter()
            .flatten()
            .chain(spec.between.iter().flatten())
        {
            if !derived.contains(f.as_str()) {
                cols.insert(f.clone(), ColumnType::Str);
            }
        }
    }
    for spec in &plan.results.ratings {
        for f in spec
            .within
            .iter()
            .flatten()
            .chain(spec.between.iter().flatten())
        {
            if !derived.contains(f.as_str()) {
                cols.insert(f.clone(), ColumnType::Str);
            }
        }
        if !derived.contains(spec.dv.as_str()) {
            cols.insert(spec.dv.clone(), ColumnType::F64);
        }
    }
    if let Some(c) = &plan.continuous {
        // The keys that join the continuous table to these trials, and the condition.
        for name in [
            cuelab_core::schema::SESSION,
            cuelab_core::schema::TRIAL_INDEX,
            c.condition.as_str(),
        ] {
            if !derived.contains(name) {
                cols.insert(name.to_string(), ColumnType::Str);
            }
        }
    }
    for x in &plan.derive {
        match x.kind() {
            Some(DerivedKind::Ratio(dur)) | Some(DerivedKind::LogRatio(dur)) => {
                for v in [&dur.estimate, &dur.actual] {
                    if let ColumnOrValue::Column(c) = v {
                        cols.insert(c.clone(), ColumnType::F64);
                    }
                }
            }
            Some(DerivedKind::Congruence(c)) => {
                cols.insert(c.a.clone(), ColumnType::Str);
                cols.insert(c.b.clone(), ColumnType::Str);
            }
            None => {}
        }
    }
    let ex = &plan.exclude;
    if let Some(k) = &ex.incorrect {
        let t = if k.value.is_some() {
            ColumnType::Str
        } else {
            ColumnType::Bool
        };
        cols.insert(k.column.clone(), t);
    }
    if let Some(f) = &ex.flagged {
        cols.insert(f.clone(), ColumnType::Bool);
    }
    if let Some(b) = &ex.bounds {
        cols.insert(b.column.clone(), ColumnType::F64);
    }
    if let Some(s) = &ex.sd {
        cols.insert(s.column.clone(), ColumnType::F64);
    }
    if !derived.contains(d.dv.as_str()) {
        cols.insert(d.dv.clone(), ColumnType::F64);
    }
    // Derived columns are computed, not read.
    cols.retain(|name, _| !derived.contains(name.as_str()));
    // Declared types win.
    for (name, t) in &plan.data.columns {
        cols.insert(name.clone(), *t);
    }
    cols
}

fn polars_type(t: ColumnType) -> DataType {
    match t {
        ColumnType::Str => DataType::String,
        ColumnType::F64 => DataType::Float64,
        ColumnType::I64 => DataType::Int64,
        ColumnType::Bool => DataType::Boolean,
    }
}

/// Finds the table to read: the file itself, or the trials table of a cuelab export directory
/// (`trials.parquet` / `trials.csv`, `parquet/trials.parquet`, `data/*_table-trials_data.csv`;
/// also under `export/` of a `cuelab simulate --out` folder).
pub(crate) fn resolve_table(path: &Path) -> Result<PathBuf, AnalysisError> {
    if path.is_dir() {
        for name in [
            "trials.parquet",
            "trials.csv",
            "parquet/trials.parquet",
            "export/parquet/trials.parquet",
        ] {
            let candidate = path.join(name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
        for dir in [path.join("data"), path.join("export/data")] {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut found: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.ends_with("_table-trials_data.csv"))
                })
                .collect();
            found.sort();
            if let Some(first) = found.into_iter().next() {
                return Ok(first);
            }
        }
        return Err(AnalysisError::Data(format!(
            "{}: a cuelab export directory needs trials.parquet or trials.csv",
            path.display()
        )));
    }
    if !path.is_file() {
        return Err(AnalysisError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such data file"),
        });
    }
    Ok(path.to_path_buf())
}

/// Checks the table ([`crate::input`]), then scans it lazily with the declared types of the
/// used columns. Returns the query, the table's path and where each row came from.
pub(crate) fn scan(
    path: &Path,
    types: &BTreeMap<String, ColumnType>,
) -> Result<(LazyFrame, PathBuf, RowLines), AnalysisError> {
    let table = resolve_table(path)?;
    let pl = |e| crate::error::polars(&table, e);
    let pl_path = PlRefPath::try_from_path(&table).map_err(pl)?;
    let is_parquet = table
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"));
    if is_parquet {
        let mut lf = LazyFrame::scan_parquet(pl_path, ScanArgsParquet::default()).map_err(pl)?;
        check_columns(&table, lf.collect_schema().map_err(pl)?.as_ref(), types)?;
        let rows = input::check(&table, types)?;
        let casts: Vec<Expr> = types
            .iter()
            .map(|(name, t)| col(name.as_str()).strict_cast(polars_type(*t)))
            .collect();
        return Ok((lf.with_columns(casts), table, rows));
    }
    // The whole file is checked first: names, row lengths, every typed value.
    let rows = input::check(&table, types)?;
    // The header alone (no types declared) says which columns exist.
    let header = LazyCsvReader::new(pl_path.clone())
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .finish()
        .map_err(pl)?
        .collect_schema()
        .map_err(pl)?;
    check_columns(&table, header.as_ref(), types)?;
    let overwrite: Schema = types
        .iter()
        .map(|(name, t)| Field::new(name.as_str().into(), polars_type(*t)))
        .collect();
    // Infer nothing: every undeclared column is text.
    let lf = LazyCsvReader::new(pl_path)
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .with_dtype_overwrite(Some(Arc::new(overwrite)))
        .finish()
        .map_err(pl)?;
    Ok((lf, table, rows))
}

/// A data error naming every column the plan needs that the table lacks.
fn check_columns(
    table: &Path,
    schema: &Schema,
    types: &BTreeMap<String, ColumnType>,
) -> Result<(), AnalysisError> {
    let missing: Vec<String> = types
        .keys()
        .filter(|c| !schema.contains(c))
        .map(|c| format!("`{c}`"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let present: Vec<&str> = schema.iter_names().map(|n| n.as_str()).collect();
    Err(AnalysisError::Data(format!(
        "{}: no column {} (columns: {})",
        table.display(),
        missing.join(", "),
        present.join(", ")
    )))
}

fn value_expr(v: &ColumnOrValue) -> Expr {
    match v {
        ColumnOrValue::Value(x) => lit(*x),
        ColumnOrValue::Column(c) => col(c.as_str()),
    }
}

const K_CORRECT: &str = "__keep_correct";
const K_FLAGGED: &str = "__keep_flagged";
const K_BOUNDS: &str = "__keep_bounds";
const K_SD: &str = "__keep_sd";
const K_ROW: &str = "__row";

/// Runs the plan's query on the data at `data_path` (already resolved against the plan file).
pub fn prepare(plan: &Plan, data_path: &Path) -> Result<Prepared, AnalysisError> {
    let types = required_columns(plan);
    let (lf, table, rows) = scan(data_path, &types)?;
    let pl = |e| crate::error::polars(&table, e);
    // The row number in the file, to name a row that fails a later check.
    let lf = lf.with_row_index(K_ROW, None);
    let subject = plan.design.subject.as_str();

    // Derived columns first: exclusions may refer to them.
    let mut derived = Vec::new();
    for d in &plan.derive {
        let e = match d.kind() {
            Some(DerivedKind::Ratio(dur)) => value_expr(&dur.estimate) / value_expr(&dur.actual),
            Some(DerivedKind::LogRatio(dur)) => {
                (value_expr(&dur.estimate) / value_expr(&dur.actual)).log(lit(std::f64::consts::E))
            }
            Some(DerivedKind::Congruence(c)) => {
                let pairs = c.pairs();
                let congruent = if pairs.is_empty() {
                    col(c.a.as_str()).eq(col(c.b.as_str()))
                } else {
                    pairs
                        .iter()
                        .map(|(a, b)| {
                            col(c.a.as_str())
                                .eq(lit(*a))
                                .and(col(c.b.as_str()).eq(lit(*b)))
                        })
                        .reduce(Expr::or)
                        .unwrap_or_else(|| lit(false))
                };
                when(congruent)
                    .then(lit("congruent"))
                    .otherwise(lit("incongruent"))
            }
            None => continue,
        };
        derived.push(e.alias(d.name.as_str()));
    }
    let lf = if derived.is_empty() {
        lf
    } else {
        lf.with_columns_seq(derived)
    };

    let ex = &plan.exclude;
    let k_correct = match &ex.incorrect {
        Some(k) => match &k.value {
            Some(v) => col(k.column.as_str())
                .cast(DataType::String)
                .eq(lit(v.as_str()))
                .fill_null(lit(false)),
            None => col(k.column.as_str()).fill_null(lit(false)),
        },
        None => lit(true),
    };
    let k_flagged = match &ex.flagged {
        Some(f) => col(K_CORRECT).and(col(f.as_str()).fill_null(lit(false)).not()),
        None => col(K_CORRECT),
    };
    let k_bounds = match &ex.bounds {
        Some(b) => {
            let x = col(b.column.as_str());
            let mut e = col(K_FLAGGED).and(x.clone().is_not_null());
            if let Some(min) = b.min {
                e = e.and(x.clone().gt_eq(lit(min)));
            }
            if let Some(max) = b.max {
                e = e.and(x.lt_eq(lit(max)));
            }
            e.fill_null(lit(false))
        }
        None => col(K_FLAGGED),
    };
    let k_sd = match &ex.sd {
        Some(s) => {
            let x = col(s.column.as_str());
            let kept = x.clone().filter(col(K_BOUNDS));
            let mean = kept.clone().mean().over([col(subject)]).map_err(pl)?;
            let sd = kept.std(1).over([col(subject)]).map_err(pl)?;
            col(K_BOUNDS)
                .and(
                    (x - mean)
                        .abs()
                        .lt_eq(lit(s.max_sd) * sd)
                        .fill_null(lit(true)),
                )
                .fill_null(lit(false))
        }
        None => col(K_BOUNDS),
    };
    let lf = lf
        .with_columns([k_correct.alias(K_CORRECT)])
        .with_columns([k_flagged.alias(K_FLAGGED)])
        .with_columns([k_bounds.alias(K_BOUNDS)])
        .with_columns([k_sd.alias(K_SD)]);

    let mut keep_cols: Vec<String> = types.keys().cloned().collect();
    for d in &plan.derive {
        if !keep_cols.contains(&d.name) {
            keep_cols.push(d.name.clone());
        }
    }
    let mut select: Vec<Expr> = keep_cols.iter().map(|c| col(c.as_str())).collect();
    select.extend([K_CORRECT, K_FLAGGED, K_BOUNDS, K_SD, K_ROW].map(col));
    let all = lf.select(select).collect().map_err(pl)?;
    check_derived(plan, &all, &rows)?;
    check_congruent_pairs(plan, &all, &table)?;

    let count = |name: &str| -> Result<usize, AnalysisError> {
        Ok(all.column(name)?.bool()?.sum().unwrap_or(0) as usize)
    };
    let read = all.height();
    let after_incorrect = count(K_CORRECT)?;
    let after_flagged = count(K_FLAGGED)?;
    let after_bounds = count(K_BOUNDS)?;
    let after_sd = count(K_SD)?;

    let dv = plan.design.dv.as_str();
    let dv_col = all.column(dv)?.cast(&DataType::Float64)?;
    let mask = all.column(K_SD)?.bool()? & &dv_col.is_not_null();
    let trials = all
        .filter(&mask)?
        .drop_many([K_CORRECT, K_FLAGGED, K_BOUNDS, K_SD]);
    let counts = Counts {
        read,
        after_incorrect,
        after_flagged,
        after_bounds,
        after_sd,
        analysed: trials.height(),
    };
    if counts.analysed == 0 {
        return Err(AnalysisError::Data(format!(
            "{}: no rows left to analyse after exclusions ({read} read)",
            table.display()
        )));
    }
    let line_of = |i: usize| -> String {
        let row = trials
            .column(K_ROW)
            .ok()
            .and_then(|c| c.get(i).ok())
            .and_then(|v| v.extract::<u64>())
            .unwrap_or(0);
        rows.locate(row as usize)
    };

    let mut levels = BTreeMap::new();
    let mut factors: BTreeSet<&str> = plan
        .design
        .within
        .iter()
        .chain(&plan.design.between)
        .map(String::as_str)
        .collect();
    for spec in &plan.results.lmm {
        factors.extend(spec.fixed.iter().map(String::as_str));
    }
    let formula_variables: Vec<_> = plan
        .results
        .lmm
        .iter()
        .map(|s| s.formula_variables())
        .collect();
    for v in &formula_variables {
        factors.extend(v.factors.iter().map(String::as_str));
    }
    for spec in &plan.results.anova {
        factors.extend(
            spec.within
                .iter()
                .flatten()
                .chain(spec.between.iter().flatten())
                .map(String::as_str),
        );
    }
    for spec in &plan.results.ratings {
        factors.extend(
            spec.within
                .iter()
                .flatten()
                .chain(spec.between.iter().flatten())
                .map(String::as_str),
        );
    }
    // The columns that group rows must have a value on every analysed row.
    let mut grouping: Vec<&str> = vec![subject];
    grouping.extend(plan.design.item.as_deref());
    grouping.extend(factors.iter().copied());
    grouping.extend(
        formula_variables
            .iter()
            .flat_map(|v| v.groups.iter().map(String::as_str)),
    );
    for name in grouping {
        let column = trials.column(name)?;
        if column.null_count() > 0
            && let Some(i) = column.is_null().iter().position(|v| v == Some(true))
        {
            return Err(AnalysisError::Data(format!(
                "{}: column `{name}` is empty on a row that is analysed; every row needs its \
                 subject, item and factor levels",
                line_of(i)
            )));
        }
    }
    for f in factors {
        let found = distinct_text(&trials, f)?;
        let order = match plan.design.levels.get(f) {
            Some(listed) => {
                if let Some(extra) = found.iter().find(|l| !listed.contains(l)) {
                    let texts = trials.column(f)?.cast(&DataType::String)?;
                    let at = texts
                        .str()?
                        .iter()
                        .position(|v| v == Some(extra.as_str()))
                        .map_or_else(|| table.display().to_string(), line_of);
                    return Err(AnalysisError::Data(format!(
                        "{at}: factor `{f}` has level `{extra}` in the data, which the plan's \
                         [design.levels] does not list ({})",
                        listed.join(", ")
                    )));
                }
                listed
                    .iter()
                    .filter(|l| found.contains(l))
                    .cloned()
                    .collect()
            }
            None => found,
        };
        if order.len() < 2 {
            return Err(AnalysisError::Data(format!(
                "{}: factor `{f}` needs at least two levels in the analysed data, found {}",
                table.display(),
                order.len()
            )));
        }
        levels.insert(f.to_string(), order);
    }
    let trials = trials.drop(K_ROW)?;
    Ok(Prepared {
        trials,
        counts,
        levels,
        table,
    })
}

/// A derived number that is not finite (a ratio with an actual duration of 0, the log of a
/// negative estimate) on a row that reaches SD trimming and the statistics is the data's
/// fault: named at the row's line, with the derivation.
fn check_derived(plan: &Plan, all: &DataFrame, rows: &RowLines) -> Result<(), AnalysisError> {
    let reaching = all.column(K_BOUNDS)?.bool()?;
    let row_index = all.column(K_ROW)?.cast(&DataType::UInt64)?;
    let row_index = row_index.u64()?;
    for d in &plan.derive {
        let (what, dur) = match d.kind() {
            Some(DerivedKind::Ratio(dur)) => ("estimate / actual", dur),
            Some(DerivedKind::LogRatio(dur)) => ("ln(estimate / actual)", dur),
            _ => continue,
        };
        let values = all.column(d.name.as_str())?.cast(&DataType::Float64)?;
        let values = values.f64()?;
        let bad = values
            .iter()
            .zip(reaching.iter())
            .position(|(v, keep)| keep == Some(true) && v.is_some_and(|x| !x.is_finite()));
        if let Some(i) = bad {
            let describe = |v: &ColumnOrValue| match v {
                ColumnOrValue::Value(x) => format!("{x}"),
                ColumnOrValue::Column(c) => all
                    .column(c.as_str())
                    .ok()
                    .and_then(|col| col.get(i).ok())
                    .map_or_else(|| format!("`{c}`"), |v| format!("`{c}` = {v}")),
            };
            return Err(AnalysisError::Data(format!(
                "{}: derived column `{}` = {what} is {} with estimate {} and actual {}: \
                 a duration must be positive",
                rows.locate(row_index.get(i).unwrap_or(0) as usize),
                d.name,
                values.get(i).unwrap_or(f64::NAN),
                describe(&dur.estimate),
                describe(&dur.actual),
            )));
        }
    }
    Ok(())
}

/// Every level a plan's stated congruent pairs name must occur in the data: a misspelt level
/// would otherwise silently make every trial of it incongruent.
fn check_congruent_pairs(plan: &Plan, all: &DataFrame, table: &Path) -> Result<(), AnalysisError> {
    for d in &plan.derive {
        let Some(DerivedKind::Congruence(c)) = d.kind() else {
            continue;
        };
        let pairs = c.pairs();
        if pairs.is_empty() {
            continue;
        }
        let a_levels = distinct_text(all, &c.a)?;
        let b_levels = distinct_text(all, &c.b)?;
        for (a, b) in pairs {
            for (column, level, found) in [(&c.a, a, &a_levels), (&c.b, b, &b_levels)] {
                if !found.iter().any(|l| l == level) {
                    return Err(AnalysisError::Data(format!(
                        "{}: derived column `{}` names the congruent pair ({a}, {b}), but `{column}` has no level `{level}` in the data (levels: {})",
                        table.display(),
                        d.name,
                        found.join(", ")
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Sorted distinct non-null values of a text column.
fn distinct_text(df: &DataFrame, name: &str) -> Result<Vec<String>, AnalysisError> {
    let column = df.column(name)?.cast(&DataType::String)?;
    let unique = column.unique()?;
    let mut out: Vec<String> = unique.str()?.iter().flatten().map(str::to_string).collect();
    out.sort();
    Ok(out)
}

/// Text column as owned strings (nulls become an error naming the column).
pub(crate) fn text_column(df: &DataFrame, name: &str) -> Result<Vec<String>, AnalysisError> {
    let column = df.column(name)?.cast(&DataType::String)?;
    column
        .str()?
        .iter()
        .map(|v| {
            v.map(str::to_string)
                .ok_or_else(|| AnalysisError::Data(format!("column `{name}` has missing values")))
        })
        .collect()
}

/// Numeric column as `f64` (nulls become an error naming the column).
pub(crate) fn f64_column(df: &DataFrame, name: &str) -> Result<Vec<f64>, AnalysisError> {
    let column = df.column(name)?.cast(&DataType::Float64)?;
    column
        .f64()?
        .iter()
        .map(|v| {
            v.ok_or_else(|| AnalysisError::Data(format!("column `{name}` has missing values")))
        })
        .collect()
}

/// Codes of a text column against a level order.
pub(crate) fn codes(
    df: &DataFrame,
    name: &str,
    levels: &[String],
) -> Result<Vec<usize>, AnalysisError> {
    let index: HashMap<&str, usize> = levels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();
    let column = df.column(name)?.cast(&DataType::String)?;
    column
        .str()?
        .iter()
        .map(|v| {
            v.and_then(|s| index.get(s).copied()).ok_or_else(|| {
                AnalysisError::Data(format!(
                    "column `{name}` has a missing value or a level outside {levels:?}"
                ))
            })
        })
        .collect()
}

/// Per-subject means of `dv` in every cell of `within` (× the subject's `between` cell).
///
/// Subjects missing a within cell are dropped and listed, as afex does. A subject whose
/// between-factor value changes across trials is an error.
pub fn cell_means(
    prepared: &Prepared,
    subject: &str,
    dv: &str,
    within: &[String],
    between: &[String],
) -> Result<CellMeans, AnalysisError> {
    // The means are summed here, in row order, not by a polars group-by: its sums came out
    // different in the last bit from run to run (the order it visits a group's rows is not
    // fixed), and the same data must give the same bytes.
    let rows = prepared
        .trials
        .clone()
        .lazy()
        .filter(col(dv).is_not_null())
        .collect()?;

    let level_count = |f: &String| -> Result<(String, usize), AnalysisError> {
        let n = prepared
            .levels
            .get(f)
            .map(Vec::len)
            .ok_or_else(|| AnalysisError::Data(format!("`{f}` is not a factor of the plan")))?;
        Ok((f.clone(), n))
    };
    let within_n: Vec<(String, usize)> =
        within.iter().map(level_count).collect::<Result<_, _>>()?;
    let between_n: Vec<(String, usize)> =
        between.iter().map(level_count).collect::<Result<_, _>>()?;
    let n_cells: usize = within_n.iter().map(|(_, n)| n).product();

    let row_codes = |names: &[String]| -> Result<Vec<Vec<usize>>, AnalysisError> {
        names
            .iter()
            .map(|f| codes(&rows, f, &prepared.levels[f]))
            .collect()
    };
    let (row_within, row_between) = (row_codes(within)?, row_codes(between)?);
    let values = f64_column(&rows, dv)?;
    // (subject, cell) -> (sum, n), the cell one mixed-radix code of the within then the
    // between factors' codes; no allocation per row (a million trials stay cheap).
    let factors: Vec<(&Vec<usize>, usize)> = row_within
        .iter()
        .zip(&within_n)
        .chain(row_between.iter().zip(&between_n))
        .map(|(codes, (_, n))| (codes, *n))
        .collect();
    let subject_column = rows.column(subject)?.cast(&DataType::String)?;
    let mut subject_index: HashMap<&str, usize> = HashMap::new();
    let mut names: Vec<&str> = Vec::new();
    let mut sums: HashMap<(usize, usize), (f64, usize)> = HashMap::new();
    for (r, s) in subject_column.str()?.iter().enumerate() {
        let s =
            s.ok_or_else(|| AnalysisError::Data(format!("column `{subject}` has missing values")))?;
        let si = *subject_index.entry(s).or_insert_with(|| {
            names.push(s);
            names.len() - 1
        });
        let code = factors.iter().fold(0, |acc, (c, n)| acc * n + c[r]);
        // Each key's rows are summed in row order, whatever order the map keeps its keys in.
        let e = sums.entry((si, code)).or_default();
        e.0 += values[r];
        e.1 += 1;
    }
    let mut keys: Vec<(usize, usize)> = sums.keys().copied().collect();
    keys.sort_by(|a, b| names[a.0].cmp(names[b.0]).then(a.1.cmp(&b.1)));
    let subjects_col: Vec<String> = keys.iter().map(|k| names[k.0].to_string()).collect();
    let means: Vec<f64> = keys
        .iter()
        .map(|k| {
            let (sum, n) = sums[k];
            sum / n as f64
        })
        .collect();
    // Back from the cell code to each factor's code (the last factor varies fastest).
    let mut factor_codes: Vec<Vec<usize>> = vec![Vec::with_capacity(keys.len()); factors.len()];
    for &(_, code) in &keys {
        let mut rest = code;
        for (k, (_, n)) in factors.iter().enumerate().rev() {
            factor_codes[k].push(rest % n);
            rest /= n;
        }
    }
    let between_codes = factor_codes.split_off(within.len());
    let within_codes = factor_codes;

    let mut order: Vec<String> = Vec::new();
    let mut row_of: HashMap<&str, usize> = HashMap::new();
    let mut rows: Vec<Vec<Option<f64>>> = Vec::new();
    let mut groups: Vec<Option<usize>> = Vec::new();
    for (r, s) in subjects_col.iter().enumerate() {
        let row = *row_of.entry(s.as_str()).or_insert_with(|| {
            order.push(s.clone());
            rows.push(vec![None; n_cells]);
            groups.push(None);
            rows.len() - 1
        });
        let mut cell = 0;
        for (k, (_, n)) in within_n.iter().enumerate() {
            cell = cell * n + within_codes[k][r];
        }
        let mut group = 0;
        for (k, (_, n)) in between_n.iter().enumerate() {
            group = group * n + between_codes[k][r];
        }
        match groups[row] {
            Some(g) if g != group => {
                return Err(AnalysisError::Data(format!(
                    "subject `{s}` has more than one level of a between factor ({between:?})"
                )));
            }
            _ => groups[row] = Some(group),
        }
        if rows[row][cell].is_some() {
            return Err(AnalysisError::Data(format!(
                "subject `{s}` has two groups for one cell: is a between factor varying within subject?"
            )));
        }
        rows[row][cell] = Some(means[r]);
    }
    let mut out = CellMeans {
        subjects: Vec::new(),
        within: within_n,
        between: between_n,
        group: Vec::new(),
        values: Vec::new(),
        incomplete_subjects: Vec::new(),
    };
    for ((s, row), g) in order.into_iter().zip(rows).zip(groups) {
        if row.iter().all(Option::is_some) {
            out.subjects.push(s);
            out.group.push(g.unwrap_or(0));
            out.values.extend(row.into_iter().flatten());
        } else {
            out.incomplete_subjects.push(s);
        }
    }
    if out.subjects.len() < 2 {
        return Err(AnalysisError::Data(format!(
            "fewer than two subjects have data in every cell of {within:?}"
        )));
    }
    Ok(out)
}
