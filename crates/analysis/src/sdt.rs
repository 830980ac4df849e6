//! Signal detection on old/new recognition: counts per subject × condition from cuelab's
//! responses table, d′ and c from `cuelab_stats::signal_detection` (Hautus 1995 log-linear
//! correction), and a repeated-measures ANOVA of each over the condition.
//!
//! Whether an item was old is not a column of the responses table, but it follows from two that
//! are: a response is correct exactly when it says "old" (`value` 1) to an old item or "new" to a
//! new one, so `old = (value == 1) == correct`. The condition comes from the trials table (the
//! plan's data), joined by subject and `trial_index`; trials without a condition (practice) are
//! left out.

use std::collections::BTreeMap;
use std::path::Path;

use polars::prelude::*;

use cuelab_stats as stats;

use crate::compute::run_anova;
use crate::data::{self, CellMeans};
use crate::error::AnalysisError;
use crate::named::Named;
use crate::plan::SdtSpec;
use crate::results::AnovaResult;
pub use crate::results::{SdtCell, SdtResult};

fn read_text(path: &Path, columns: &[&str]) -> Result<DataFrame, AnalysisError> {
    let pl = |e| crate::error::polars(path, e);
    let table = data::resolve_table(path)?;
    let pl_path = PlRefPath::try_from_path(&table).map_err(pl)?;
    let mut lf = if table
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
    {
        LazyFrame::scan_parquet(pl_path, ScanArgsParquet::default()).map_err(pl)?
    } else {
        LazyCsvReader::new(pl_path)
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .finish()
            .map_err(pl)?
    };
    let schema = lf.collect_schema().map_err(pl)?;
    let missing: Vec<&str> = columns
        .iter()
        .copied()
        .filter(|c| !schema.contains(c))
        .collect();
    if !missing.is_empty() {
        return Err(AnalysisError::Data(format!(
            "{}: no column `{}` (signal detection needs {})",
            table.display(),
            missing.join("`, `"),
            columns.join(", ")
        )));
    }
    lf.select(
        columns
            .iter()
            .map(|c| col(*c).cast(DataType::String))
            .collect::<Vec<_>>(),
    )
    .collect()
    .map_err(pl)
}

/// Counts, d′ and c per subject × condition, and the ANOVAs of d′ and of c.
pub fn compute(
    spec: &SdtSpec,
    responses: &Path,
    trials: &Path,
    subject: &str,
) -> Result<(SdtResult, AnovaResult, AnovaResult), AnalysisError> {
    let resp = read_text(
        responses,
        &[subject, "trial_index", "step", "value", "correct"],
    )?;
    let conds = read_text(trials, &[subject, "trial_index", spec.condition.as_str()])?;
    let truthy = |c: &str| col(c).eq(lit("TRUE")).or(col(c).eq(lit("true")));
    let joined = resp
        .lazy()
        .filter(col("step").eq(lit(spec.step.as_str())))
        .join(
            conds.lazy(),
            [col(subject), col("trial_index")],
            [col(subject), col("trial_index")],
            JoinArgs::new(JoinType::Inner),
        )
        .filter(
            col(spec.condition.as_str())
                .is_not_null()
                .and(col(spec.condition.as_str()).neq(lit(""))),
        )
        .with_columns([
            col("value")
                .cast(DataType::Float64)
                .eq(lit(1.0))
                .fill_null(lit(false))
                .alias("said_old"),
            truthy("correct").fill_null(lit(false)).alias("right"),
        ])
        .with_columns([col("said_old").eq(col("right")).alias("is_old")])
        .group_by_stable([col(subject), col(spec.condition.as_str())])
        .agg([
            (col("is_old").and(col("said_old")))
                .cast(DataType::UInt32)
                .sum()
                .alias("h"),
            (col("is_old").and(col("said_old").not()))
                .cast(DataType::UInt32)
                .sum()
                .alias("m"),
            (col("is_old").not().and(col("said_old")))
                .cast(DataType::UInt32)
                .sum()
                .alias("f"),
            (col("is_old").not().and(col("said_old").not()))
                .cast(DataType::UInt32)
                .sum()
                .alias("r"),
        ])
        .sort(
            [subject, spec.condition.as_str()],
            SortMultipleOptions::default(),
        )
        .collect()?;
    if joined.height() == 0 {
        return Err(AnalysisError::Data(format!(
            "{}: no responses of step `{}` on trials with a `{}`",
            responses.display(),
            spec.step,
            spec.condition
        )));
    }
    let subjects = data::text_column(&joined, subject)?;
    let levels_col = data::text_column(&joined, &spec.condition)?;
    let count = |name: &str| -> Result<Vec<u32>, AnalysisError> {
        Ok(data::f64_column(&joined, name)?
            .into_iter()
            .map(|v| v as u32)
            .collect())
    };
    let (h, m, f, r) = (count("h")?, count("m")?, count("f")?, count("r")?);
    let mut levels: Vec<String> = levels_col.clone();
    levels.sort();
    levels.dedup();
    let mut by_subject: BTreeMap<&str, Vec<Option<(f64, f64)>>> = BTreeMap::new();
    let mut cells = Named::default();
    for i in 0..joined.height() {
        let counts = stats::SdtCounts {
            hits: h[i],
            misses: m[i],
            false_alarms: f[i],
            correct_rejections: r[i],
        };
        let sd = stats::signal_detection(&counts).map_err(|e| AnalysisError::Stats {
            what: format!("signal detection of {} in {}", subjects[i], levels_col[i]),
            message: e.to_string(),
        })?;
        let level = levels.iter().position(|l| l == &levels_col[i]).unwrap_or(0);
        by_subject
            .entry(subjects[i].as_str())
            .or_insert_with(|| vec![None; levels.len()])[level] = Some((sd.d_prime, sd.criterion));
        cells.push(
            format!("{}:{}", subjects[i], levels_col[i]),
            SdtCell {
                hits: h[i],
                misses: m[i],
                false_alarms: f[i],
                correct_rejections: r[i],
                hit_rate: sd.hit_rate,
                false_alarm_rate: sd.false_alarm_rate,
                d_prime: sd.d_prime,
                c: sd.criterion,
            },
        );
    }
    // Subjects without every condition are left out of the ANOVAs, as afex does.
    let mut complete = Vec::new();
    let mut incomplete = Vec::new();
    for (s, v) in &by_subject {
        if v.iter().all(Option::is_some) {
            complete.push((
                s.to_string(),
                v.iter().flatten().copied().collect::<Vec<_>>(),
            ));
        } else {
            incomplete.push(s.to_string());
        }
    }
    let matrix = |pick: fn(&(f64, f64)) -> f64| CellMeans {
        subjects: complete.iter().map(|(s, _)| s.clone()).collect(),
        within: vec![(spec.condition.clone(), levels.len())],
        between: Vec::new(),
        group: vec![0; complete.len()],
        values: complete
            .iter()
            .flat_map(|(_, v)| v.iter().map(pick))
            .collect(),
        incomplete_subjects: incomplete.clone(),
    };
    let d_prime = run_anova(&matrix(|x| x.0))?;
    let c = run_anova(&matrix(|x| x.1))?;
    Ok((
        SdtResult {
            step: spec.step.clone(),
            condition: spec.condition.clone(),
            levels,
            cells,
        },
        d_prime,
        c,
    ))
}
