//! Timing quality of a cuelab export: how far each trial's audio onset lay from its video
//! onset (`av_offset_ms`), how many frames were dropped, and how many trials were flagged, per
//! participant and overall.
//!
//! The section is descriptive and reads the trials table a second time, apart from the plan's
//! query: it describes every trial as presented (before any exclusion), which is what a reader
//! of the methods section needs, and a table without these columns simply has no section.

use std::path::Path;

use polars::prelude::*;
use serde::Serialize;

use crate::error::AnalysisError;
use crate::named::Named;

/// The timing-quality summary.
#[derive(Debug, Clone, Serialize)]
pub struct TimingQuality {
    /// Trials with a measured audio-video offset.
    pub n_trials: usize,
    /// Mean audio-video offset (ms; positive: audio after video).
    pub av_offset_mean: f64,
    /// Its SD.
    pub av_offset_sd: f64,
    /// Smallest offset.
    pub av_offset_min: f64,
    /// Largest offset.
    pub av_offset_max: f64,
    /// 95th percentile of |offset|.
    pub av_offset_abs_p95: f64,
    /// Frames dropped over all trials (when the column exists).
    pub frames_dropped: Option<f64>,
    /// Trials flagged (when the column exists).
    pub flagged: Option<usize>,
    /// Per participant.
    pub participants: Named<ParticipantQuality>,
    /// Every trial's offset, for the histogram (not serialized).
    #[serde(skip)]
    pub offsets: Vec<f64>,
}

/// One participant's timing quality.
#[derive(Debug, Clone, Serialize)]
pub struct ParticipantQuality {
    /// Trials.
    pub n_trials: usize,
    /// Mean audio-video offset (ms).
    pub av_offset_mean: f64,
    /// Largest |offset| (ms).
    pub av_offset_abs_max: f64,
    /// Frames dropped.
    pub frames_dropped: Option<f64>,
    /// Trials flagged.
    pub flagged: Option<usize>,
}

/// The summary of `table` with participants in `subject`, or `None` when the table has no
/// `av_offset_ms` column.
pub fn timing_quality(table: &Path, subject: &str) -> Result<Option<TimingQuality>, AnalysisError> {
    let pl = |e| crate::error::polars(table, e);
    let path = PlRefPath::try_from_path(table).map_err(pl)?;
    let is_parquet = table
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"));
    let mut lf = if is_parquet {
        LazyFrame::scan_parquet(path, ScanArgsParquet::default()).map_err(pl)?
    } else {
        LazyCsvReader::new(path)
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .finish()
            .map_err(pl)?
    };
    let schema = lf.collect_schema().map_err(pl)?;
    if !schema.contains("av_offset_ms") || !schema.contains(subject) {
        return Ok(None);
    }
    let has_frames = schema.contains("frames_dropped");
    let has_flagged = schema.contains("flagged");
    let mut cols = vec![
        col(subject).cast(DataType::String).alias("s"),
        col("av_offset_ms").cast(DataType::Float64).alias("o"),
    ];
    if has_frames {
        cols.push(col("frames_dropped").cast(DataType::Float64).alias("fd"));
    }
    if has_flagged {
        cols.push(
            // `TRUE` in cuelab's CSV, `true` once a Parquet boolean is cast to text.
            col("flagged")
                .cast(DataType::String)
                .eq(lit("TRUE"))
                .or(col("flagged").cast(DataType::String).eq(lit("true")))
                .fill_null(lit(false))
                .cast(DataType::UInt32)
                .alias("fl"),
        );
    }
    let trials = lf.select(cols).collect().map_err(pl)?;
    let f64s = |df: &DataFrame, name: &str| -> Result<Vec<f64>, AnalysisError> {
        Ok(df
            .column(name)?
            .cast(&DataType::Float64)?
            .f64()?
            .iter()
            .map(|v| v.unwrap_or(f64::NAN))
            .collect())
    };
    let o = f64s(&trials, "o")?;
    let offsets: Vec<f64> = o.iter().copied().filter(|v| v.is_finite()).collect();
    if offsets.is_empty() {
        return Ok(None);
    }
    let fd = has_frames.then(|| f64s(&trials, "fd")).transpose()?;
    let fl = has_flagged.then(|| f64s(&trials, "fl")).transpose()?;
    // One pass per participant, in row order, participants sorted (a polars group-by's sums
    // are not the same to the last bit from run to run). Missing values are left out.
    #[derive(Default)]
    struct Acc {
        n: usize,
        sum: f64,
        measured: usize,
        abs_max: Option<f64>,
        frames_dropped: f64,
        flagged: f64,
    }
    let mut per: std::collections::BTreeMap<String, Acc> = Default::default();
    for (r, s) in crate::data::text_column(&trials, "s")?
        .into_iter()
        .enumerate()
    {
        let a = per.entry(s).or_default();
        a.n += 1;
        if o[r].is_finite() {
            a.sum += o[r];
            a.measured += 1;
            a.abs_max = Some(a.abs_max.map_or(o[r].abs(), |m| m.max(o[r].abs())));
        }
        if let Some(v) = fd.as_ref().map(|v| v[r]).filter(|v| v.is_finite()) {
            a.frames_dropped += v;
        }
        if let Some(v) = fl.as_ref().map(|v| v[r]).filter(|v| v.is_finite()) {
            a.flagged += v;
        }
    }
    let mut participants = Named::default();
    for (name, a) in per {
        participants.push(
            name,
            ParticipantQuality {
                n_trials: a.n,
                av_offset_mean: if a.measured > 0 {
                    a.sum / a.measured as f64
                } else {
                    f64::NAN
                },
                av_offset_abs_max: a.abs_max.unwrap_or(f64::NAN),
                frames_dropped: has_frames.then_some(a.frames_dropped),
                flagged: has_flagged.then_some(a.flagged as usize),
            },
        );
    }
    let count = offsets.len() as f64;
    let m = offsets.iter().sum::<f64>() / count;
    let sd = if offsets.len() > 1 {
        (offsets.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (count - 1.0)).sqrt()
    } else {
        f64::NAN
    };
    let mut abs: Vec<f64> = offsets.iter().map(|x| x.abs()).collect();
    abs.sort_by(f64::total_cmp);
    // R's default quantile (type 7).
    let h = (abs.len() - 1) as f64 * 0.95;
    let lo = h.floor() as usize;
    let p95 = abs[lo] + (h - lo as f64) * (abs[(lo + 1).min(abs.len() - 1)] - abs[lo]);
    Ok(Some(TimingQuality {
        n_trials: offsets.len(),
        av_offset_mean: m,
        av_offset_sd: sd,
        av_offset_min: offsets.iter().copied().fold(f64::INFINITY, f64::min),
        av_offset_max: offsets.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        av_offset_abs_p95: p95,
        frames_dropped: fd.map(|v| v.iter().filter(|x| x.is_finite()).sum()),
        flagged: fl.map(|v| v.iter().filter(|x| x.is_finite()).sum::<f64>() as usize),
        participants,
        offsets,
    }))
}
