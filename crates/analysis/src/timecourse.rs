//! Continuous-rating time courses: one lazy query bins time and averages each participant's
//! samples per condition and bin; the per-bin means over participants get a t-based CI.

use std::collections::BTreeMap;
use std::path::Path;

use polars::prelude::*;
use serde::Serialize;

use crate::data;
use crate::error::AnalysisError;
use crate::figures::Ribbon;
use crate::input;
use crate::named::Named;
use crate::plan::ColumnType;
use crate::plan::TimeCourseSpec;

/// The largest bin number a time may fall in (exact integers in `f64` end at 2^53).
pub const MAX_BINS_PER_TIME: f64 = 1e15;

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
    let pl = |e| crate::error::polars(path, e);
    let types: BTreeMap<String, ColumnType> = [
        (spec.subject.clone(), ColumnType::Str),
        (spec.condition.clone(), ColumnType::Str),
        (spec.time.clone(), ColumnType::F64),
        (spec.value.clone(), ColumnType::F64),
    ]
    .into_iter()
    .collect();
    // Names, row lengths and every time and value checked first (finite, within ±1e100).
    input::check(path, &types)?;
    let pl_path = PlRefPath::try_from_path(path).map_err(pl)?;
    let lf = if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
    {
        LazyFrame::scan_parquet(pl_path, ScanArgsParquet::default()).map_err(pl)?
    } else {
        let schema: Schema = types
            .iter()
            .map(|(name, t)| {
                let dtype = if *t == ColumnType::F64 {
                    DataType::Float64
                } else {
                    DataType::String
                };
                Field::new(name.as_str().into(), dtype)
            })
            .collect();
        LazyCsvReader::new(pl_path)
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .with_dtype_overwrite(Some(Arc::new(schema)))
            .finish()
            .map_err(pl)?
    };
    if let Some(w) = spec.bin {
        // Bins are counted in `i64` through `f64`: beyond 2^53 bins of a time the count is not
        // exact, so such a width is refused rather than silently merging or dropping samples.
        let max_abs = lf
            .clone()
            .select([col(spec.time.as_str())
                .cast(DataType::Float64)
                .abs()
                .max()
                .alias("m")])
            .collect()
            .map_err(pl)?;
        let m = data::f64_column(&max_abs, "m")
            .ok()
            .and_then(|v| v.first().copied());
        if let Some(m) = m
            && m / w > MAX_BINS_PER_TIME
        {
            return Err(AnalysisError::Data(format!(
                "{}: a time of {m} in bins of {w} is bin number {:e}, beyond {MAX_BINS_PER_TIME:e}: choose a wider `bin`",
                path.display(),
                m / w
            )));
        }
    }
    let time = col(spec.time.as_str()).cast(DataType::Float64);
    let binned = match spec.bin {
        Some(w) if w > 0.0 => {
            // floor(t / w) without the `round_series` feature: truncate, then step down for
            // negative non-integers.
            let q = time / lit(w);
            let i = q.clone().cast(DataType::Int64).cast(DataType::Float64);
            when(i.clone().gt(q))
                .then(i.clone() - lit(1.0))
                .otherwise(i)
                * lit(w)
        }
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
        .collect()
        .map_err(pl)?;
    let subjects = data::text_column(&per_subject, "s")?;
    let conds = data::text_column(&per_subject, "c")?;
    let times = data::f64_column(&per_subject, "t")?;
    let values = data::f64_column(&per_subject, "v")?;
    // Each subject's mean per (condition, bin), summed here in row order with every key
    // sorted (a polars group-by's sums differed in the last bit from run to run).
    // Sortable key for non-negative and negative times alike.
    let time_key = |t: f64| {
        t.to_bits()
            ^ if t.is_sign_negative() {
                u64::MAX
            } else {
                1 << 63
            }
    };
    let mut cells: BTreeMap<(String, u64, String), (f64, f64, usize)> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for (((s, c), t), v) in subjects.into_iter().zip(conds).zip(times).zip(values) {
        if !order.contains(&c) {
            order.push(c.clone());
        }
        let e = cells.entry((c, time_key(t), s)).or_insert((t, 0.0, 0));
        e.1 += v;
        e.2 += 1;
    }
    order.sort();
    let mut groups: BTreeMap<(String, u64), (f64, Vec<f64>)> = BTreeMap::new();
    for ((c, key, _), (t, sum, n)) in cells {
        groups
            .entry((c, key))
            .or_insert((t, Vec::new()))
            .1
            .push(sum / n as f64);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_average_within_participant_then_across() {
        let dir = std::env::temp_dir().join(format!("cuelab-tc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.csv");
        // Participant p1 rates 1, 3 in bin [0, 1) and 5 at t = 1.0; p2 rates 3, 5 and 7.
        std::fs::write(
            &path,
            "p,cond,t,v\np1,a,0.0,1\np1,a,0.5,3\np1,a,1.0,5\np2,a,0.0,3\np2,a,0.5,5\np2,a,1.0,7\np1,b,0.0,2\np2,b,0.0,2\n",
        )
        .unwrap();
        let spec = TimeCourseSpec {
            path: path.clone(),
            subject: "p".into(),
            time: "t".into(),
            value: "v".into(),
            condition: "cond".into(),
            bin: Some(1.0),
            time_label: None,
        };
        let tc = compute(&spec, &path).unwrap();
        let a = tc.conditions.get("a").unwrap();
        assert_eq!(a.len(), 2);
        // Bin 0: participant means 2 and 4 → mean 3; t(0.975, 1) · sd / √2 = 12.7062 · 1.
        assert_eq!((a[0].t, a[0].n, a[0].mean), (0.0, 2, 3.0));
        assert!((a[0].ci_upper - 3.0 - 12.706204736174707).abs() < 1e-9);
        assert_eq!((a[1].t, a[1].mean), (1.0, 6.0));
        // Identical values: no spread, the ribbon collapses onto the mean.
        let b = tc.conditions.get("b").unwrap();
        assert_eq!((b[0].ci_lower, b[0].ci_upper), (2.0, 2.0));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn an_infinite_sample_or_a_too_narrow_bin_is_invalid_input() {
        let dir = std::env::temp_dir().join(format!("cuelab-tc-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.csv");
        let spec = |bin: Option<f64>| TimeCourseSpec {
            path: path.clone(),
            subject: "p".into(),
            time: "t".into(),
            value: "v".into(),
            condition: "cond".into(),
            bin,
            time_label: None,
        };
        std::fs::write(&path, "p,cond,t,v\np1,a,0.0,1\np1,a,inf,3\n").unwrap();
        let err = compute(&spec(None), &path).unwrap_err();
        assert!(err.is_invalid_input(), "{err}");
        assert!(err.to_string().ends_with("c.csv:3:3: column `t`: `inf` is not a finite number (NaN and infinities are not data; leave the field empty for a missing value)"), "{err}");
        std::fs::write(&path, "p,cond,t,v\np1,a,0.0,1\np1,a,1e90,3\n").unwrap();
        let err = compute(&spec(Some(1e-300)), &path).unwrap_err();
        assert!(
            err.is_invalid_input() && err.to_string().contains("wider `bin`"),
            "{err}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
