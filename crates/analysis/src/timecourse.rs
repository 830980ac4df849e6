//! Continuous-rating time courses: one lazy query bins time and averages each participant's
//! samples per condition and bin; the per-bin means over participants get a t-based CI.

use std::collections::BTreeMap;
use std::path::Path;

use polars::prelude::*;
use serde::Serialize;

use crate::data;
use crate::error::AnalysisError;
use crate::figures::Ribbon;
use crate::named::Named;
use crate::plan::TimeCourseSpec;

/// Mean time course per condition.
#[derive(Debug, Clone, Serialize)]
pub struct TimeCourse {
    /// The value column.
    pub value: String,
    /// The time column.
    pub time: String,
    /// Per condition: bins with mean over participants and CI.
    pub conditions: Named<Vec<Bin>>,
}

/// One time bin of one condition.
#[derive(Debug, Clone, Serialize)]
pub struct Bin {
    /// Bin start (time units of the data).
    pub t: f64,
    /// Participants with data in the bin.
    pub n: usize,
    /// Mean over participants of their bin means.
    pub mean: f64,
    /// 95% CI lower bound (t-based, between participants).
    pub ci_lower: f64,
    /// 95% CI upper bound.
    pub ci_upper: f64,
}

impl TimeCourse {
    /// The series for [`crate::figures::time_course`].
    pub fn ribbons(&self) -> Vec<Ribbon> {
        self.conditions
            .iter()
            .map(|(label, bins)| Ribbon {
                label: label.to_string(),
                points: bins
                    .iter()
                    .map(|b| (b.t, b.mean, b.ci_lower, b.ci_upper))
                    .collect(),
            })
            .collect()
    }
}

/// Reads and aggregates the time-course table at `path`.
pub fn compute(spec: &TimeCourseSpec, path: &Path) -> Result<TimeCourse, AnalysisError> {
    if !path.is_file() {
        return Err(AnalysisError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such time-course file"),
        });
    }
    let pl_path = PlRefPath::try_from_path(path)?;
    let lf = if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
    {
        LazyFrame::scan_parquet(pl_path, ScanArgsParquet::default())?
    } else {
        let schema: Schema = [
            Field::new(spec.subject.as_str().into(), DataType::String),
            Field::new(spec.condition.as_str().into(), DataType::String),
            Field::new(spec.time.as_str().into(), DataType::Float64),
            Field::new(spec.value.as_str().into(), DataType::Float64),
        ]
        .into_iter()
        .collect();
        LazyCsvReader::new(pl_path)
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .with_dtype_overwrite(Some(Arc::new(schema)))
            .finish()?
    };
    let time = col(spec.time.as_str()).cast(DataType::Float64);
    let binned = match spec.bin {
        Some(w) if w > 0.0 => (time / lit(w)).floor_div(lit(1.0)) * lit(w),
        _ => time,
    };
    let per_subject = lf
        .select([
            col(spec.subject.as_str()).cast(DataType::String).alias("s"),
            col(spec.condition.as_str())
                .cast(DataType::String)
                .alias("c"),
            binned.alias("t"),
            col(spec.value.as_str()).cast(DataType::Float64).alias("v"),
        ])
        .drop_nulls(None)
        .group_by([col("c"), col("t"), col("s")])
        .agg([col("v").mean().alias("v")])
        .sort(["c", "t"], SortMultipleOptions::default())
        .collect()?;
    let conds = data::text_column(&per_subject, "c")?;
    let times = data::f64_column(&per_subject, "t")?;
    let values = data::f64_column(&per_subject, "v")?;
    let mut groups: BTreeMap<(String, u64), (f64, Vec<f64>)> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for ((c, t), v) in conds.into_iter().zip(times).zip(values) {
        if !order.contains(&c) {
            order.push(c.clone());
        }
        // Sortable key for non-negative and negative times alike.
        let key = t.to_bits()
            ^ if t.is_sign_negative() {
                u64::MAX
            } else {
                1 << 63
            };
        groups.entry((c, key)).or_insert((t, Vec::new())).1.push(v);
    }
    let mut conditions = Named::default();
    for c in order {
        let mut bins = Vec::new();
        for ((_, _), (t, vs)) in groups.range((c.clone(), 0)..=(c.clone(), u64::MAX)) {
            let n = vs.len();
            let mean = vs.iter().sum::<f64>() / n as f64;
            let (lo, hi) = match cuelab_stats::one_sample_t(vs, 0.95) {
                Ok(t) => (t.ci_lower, t.ci_upper),
                Err(_) => (mean, mean),
            };
            bins.push(Bin {
                t: *t,
                n,
                mean,
                ci_lower: lo,
                ci_upper: hi,
            });
        }
        conditions.push(c, bins);
    }
    if conditions.is_empty() {
        return Err(AnalysisError::Data(format!(
            "{}: no time-course samples",
            path.display()
        )));
    }
    Ok(TimeCourse {
        value: spec.value.clone(),
        time: spec.time.clone(),
        conditions,
    })
}
