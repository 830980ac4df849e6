//! Tidy tables of sessions, written durably.
//!
//! - `trials.csv`: one row per trial. The columns of [`cuelab_core::schema::TRIALS`] in that
//!   order, then one text column per protocol factor (sorted by name), then `clip_duration_s`,
//!   then one column per response item in wide form (e.g. `verbal_s`, `reproduction_s`,
//!   `valence`, `arousal`; in order of first appearance), then `presented` (the trial went
//!   through the presentation path, so its timing columns are measured) and `simulated` (the
//!   responses came from a simulated participant). Timing columns are empty for trials that
//!   were not presented; `av_offset_ms` and `audio_onset_ns` are empty without music.
//! - `responses.csv`: one row per response, the columns of [`cuelab_core::schema::RESPONSES`],
//!   then `simulated`.
//!
//! Files are written durably: to a temporary file in the same folder, flushed and fsynced,
//! renamed over the target, and the folder fsynced, so a crash leaves either the old file or
//! the whole new one, never a torn table.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use cuelab_core::schema;

use crate::record::TrialRecord;

/// Why a table could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The file system refused.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The CSV layer failed (malformed file on reading).
    #[error("{}: {source}", path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// The csv crate's error.
        #[source]
        source: csv::Error,
    },
    /// A field does not hold what its column says.
    #[error("{}:{line}: column `{column}`: {message}", path.display())]
    Field {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// The column.
        column: String,
        /// What is wrong.
        message: String,
    },
    /// A column the table must have is missing.
    #[error("{}: no column `{column}`", path.display())]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
    },
}

/// One row of `trials.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialRow {
    pub participant: String,
    pub session: u32,
    pub trial_index: u32,
    pub block: u32,
    pub practice: bool,
    pub clip: Option<String>,
    pub soundtrack: Option<String>,
    pub scheduled_onset_ns: Option<i64>,
    pub audio_onset_ns: Option<i64>,
    pub video_onset_ns: Option<i64>,
    pub av_offset_ms: Option<f64>,
    pub frames_shown: Option<u64>,
    pub frames_dropped: Option<u64>,
    pub xruns: Option<u64>,
    pub flagged: bool,
    /// Factor → level.
    pub conditions: BTreeMap<String, String>,
    pub clip_duration_s: Option<f64>,
    /// (response item, value) in the trial's order (wide form).
    pub responses: Vec<(String, f64)>,
    pub presented: bool,
    pub simulated: bool,
}

/// One row of `responses.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseRow {
    pub participant: String,
    pub session: u32,
    pub trial_index: u32,
    pub step: u32,
    pub kind: String,
    pub item: String,
    pub value: Option<f64>,
    pub text: Option<String>,
    pub rt_ms: Option<f64>,
    pub correct: Option<bool>,
    pub simulated: bool,
}

/// Extra trial columns after the factor columns.
pub const CLIP_DURATION_S: &str = "clip_duration_s";
/// The trial went through the presentation path.
pub const PRESENTED: &str = "presented";
/// The row comes from a simulated participant.
pub const SIMULATED: &str = "simulated";

impl TrialRow {
    /// The export row of a trial record.
    pub fn from_record(r: &TrialRecord) -> Self {
        let t = r.timing.as_ref();
        Self {
            participant: r.participant.clone(),
            session: r.session,
            trial_index: r.trial.index,
            block: r.trial.block,
            practice: r.trial.practice,
            clip: r.trial.clip.clone(),
            soundtrack: r.trial.soundtrack.clone(),
            scheduled_onset_ns: t.map(|t| t.scheduled_onset.as_nanos()),
            audio_onset_ns: t.and_then(|t| t.audio_onset).map(|x| x.as_nanos()),
            video_onset_ns: t.and_then(|t| t.video_onset).map(|x| x.as_nanos()),
            av_offset_ms: t.and_then(|t| t.av_offset_ms),
            frames_shown: t.map(|t| t.frames_shown),
            frames_dropped: t.map(|t| t.frames_dropped),
            xruns: t.map(|t| t.xruns),
            flagged: t.is_some_and(|t| t.flagged),
            conditions: r.trial.conditions.clone(),
            clip_duration_s: r.clip_duration_s,
            responses: r
                .responses
                .iter()
                .map(|x| (x.item.clone(), x.value))
                .collect(),
            presented: t.is_some(),
            simulated: r.simulated,
        }
    }
}

impl ResponseRow {
    /// The export rows of a trial record's responses.
    pub fn from_record(r: &TrialRecord) -> Vec<Self> {
        r.responses
            .iter()
            .map(|x| Self {
                participant: r.participant.clone(),
                session: r.session,
                trial_index: r.trial.index,
                step: x.step,
                kind: x.kind.clone(),
                item: x.item.clone(),
                value: Some(x.value),
                text: None,
                rt_ms: None,
                correct: None,
                simulated: r.simulated,
            })
            .collect()
    }
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(String::new, ToString::to_string)
}

/// The header of `trials.csv` for these rows.
pub fn trial_header(rows: &[TrialRow]) -> Vec<String> {
    let mut factors: Vec<&String> = rows.iter().flat_map(|r| r.conditions.keys()).collect();
    factors.sort();
    factors.dedup();
    let mut items: Vec<&String> = Vec::new();
    for r in rows {
        for (k, _) in &r.responses {
            if !items.contains(&k) {
                items.push(k);
            }
        }
    }
    let mut header: Vec<String> = schema::TRIALS.iter().map(|c| c.name.to_string()).collect();
    header.extend(factors.into_iter().cloned());
    header.push(CLIP_DURATION_S.into());
    header.extend(items.into_iter().cloned());
    header.push(PRESENTED.into());
    header.push(SIMULATED.into());
    header
}

/// Writes `trials.csv` durably at `path`.
pub fn write_trials(path: &Path, rows: &[TrialRow]) -> Result<(), ExportError> {
    let header = trial_header(rows);
    let n_fixed = schema::TRIALS.len();
    let mut w = csv::Writer::from_writer(Vec::new());
    let csv_err = |source| ExportError::Csv {
        path: path.to_path_buf(),
        source,
    };
    w.write_record(&header).map_err(csv_err)?;
    for r in rows {
        let mut rec = vec![
            r.participant.clone(),
            r.session.to_string(),
            r.trial_index.to_string(),
            r.block.to_string(),
            r.practice.to_string(),
            opt(&r.clip),
            opt(&r.soundtrack),
            opt(&r.scheduled_onset_ns),
            opt(&r.audio_onset_ns),
            opt(&r.video_onset_ns),
            opt(&r.av_offset_ms),
            opt(&r.frames_shown),
            opt(&r.frames_dropped),
            opt(&r.xruns),
            r.flagged.to_string(),
        ];
        debug_assert_eq!(rec.len(), n_fixed);
        for name in &header[n_fixed..header.len() - 2] {
            let field = if name == CLIP_DURATION_S {
                opt(&r.clip_duration_s)
            } else if let Some(level) = r.conditions.get(name) {
                level.clone()
            } else {
                opt(&r.responses.iter().find(|(k, _)| k == name).map(|(_, v)| v))
            };
            rec.push(field);
        }
        rec.push(r.presented.to_string());
        rec.push(r.simulated.to_string());
        w.write_record(&rec).map_err(csv_err)?;
    }
    let bytes = w.into_inner().map_err(|e| ExportError::Io {
        path: path.to_path_buf(),
        source: e.into_error(),
    })?;
    write_durably(path, &bytes)
}

/// Writes `responses.csv` durably at `path`.
pub fn write_responses(path: &Path, rows: &[ResponseRow]) -> Result<(), ExportError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let csv_err = |source| ExportError::Csv {
        path: path.to_path_buf(),
        source,
    };
    let mut header: Vec<&str> = schema::RESPONSES.iter().map(|c| c.name).collect();
    header.push(SIMULATED);
    w.write_record(&header).map_err(csv_err)?;
    for r in rows {
        w.write_record([
            r.participant.clone(),
            r.session.to_string(),
            r.trial_index.to_string(),
            r.step.to_string(),
            r.kind.clone(),
            r.item.clone(),
            opt(&r.value),
            opt(&r.text),
            opt(&r.rt_ms),
            opt(&r.correct),
            r.simulated.to_string(),
        ])
        .map_err(csv_err)?;
    }
    let bytes = w.into_inner().map_err(|e| ExportError::Io {
        path: path.to_path_buf(),
        source: e.into_error(),
    })?;
    write_durably(path, &bytes)
}

/// Writes `bytes` to `path` so that a crash leaves the old content or the new, never a mix:
/// temporary file in the same folder, fsync, rename, fsync of the folder.
pub fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| ExportError::Io { path: p, source }
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(io(path))?;
        // The rename itself is durable once the folder's entry is synced (POSIX).
        #[cfg(unix)]
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io(dir))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A parsed CSV: header and records, with the helpers to read typed fields.
struct Table {
    path: PathBuf,
    header: Vec<String>,
    records: Vec<csv::StringRecord>,
}

impl Table {
    fn read(path: &Path) -> Result<Self, ExportError> {
        let csv_err = |source| ExportError::Csv {
            path: path.to_path_buf(),
            source,
        };
        let mut r = csv::Reader::from_path(path).map_err(csv_err)?;
        let header = r
            .headers()
            .map_err(csv_err)?
            .iter()
            .map(String::from)
            .collect();
        let records = r
            .records()
            .collect::<Result<Vec<_>, _>>()
            .map_err(csv_err)?;
        Ok(Self {
            path: path.to_path_buf(),
            header,
            records,
        })
    }

    fn col(&self, name: &str) -> Result<usize, ExportError> {
        self.header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| ExportError::MissingColumn {
                path: self.path.clone(),
                column: name.to_string(),
            })
    }

    fn field<T: std::str::FromStr>(
        &self,
        rec: &csv::StringRecord,
        idx: usize,
    ) -> Result<Option<T>, ExportError>
    where
        T::Err: std::fmt::Display,
    {
        let text = rec.get(idx).unwrap_or("");
        if text.is_empty() {
            return Ok(None);
        }
        text.parse()
            .map(Some)
            .map_err(|e: T::Err| ExportError::Field {
                path: self.path.clone(),
                line: rec.position().map_or(0, |p| p.line()),
                column: self.header[idx].clone(),
                message: format!("`{text}`: {e}"),
            })
    }

    fn required<T: std::str::FromStr>(
        &self,
        rec: &csv::StringRecord,
        idx: usize,
    ) -> Result<T, ExportError>
    where
        T::Err: std::fmt::Display,
    {
        self.field(rec, idx)?.ok_or_else(|| ExportError::Field {
            path: self.path.clone(),
            line: rec.position().map_or(0, |p| p.line()),
            column: self.header[idx].clone(),
            message: "empty, but the column is not nullable".into(),
        })
    }
}

/// Reads `trials.csv` back. `factors` names the factor columns (the protocol's factors); every
/// other column between the schema's and `presented` is a response item.
pub fn read_trials(path: &Path, factors: &[&str]) -> Result<Vec<TrialRow>, ExportError> {
    let t = Table::read(path)?;
    let idx = |name: &str| t.col(name);
    let fixed: Vec<usize> = schema::TRIALS
        .iter()
        .map(|c| idx(c.name))
        .collect::<Result<_, _>>()?;
    let (dur, presented, simulated) = (idx(CLIP_DURATION_S)?, idx(PRESENTED)?, idx(SIMULATED)?);
    let factor_cols: Vec<(String, usize)> = factors
        .iter()
        .map(|f| Ok((f.to_string(), idx(f)?)))
        .collect::<Result<_, ExportError>>()?;
    let item_cols: Vec<(String, usize)> = ((dur + 1)..presented)
        .map(|i| (t.header[i].clone(), i))
        .collect();
    let mut rows = Vec::with_capacity(t.records.len());
    for rec in &t.records {
        let s = |i: usize| rec.get(fixed[i]).unwrap_or("").to_string();
        let text = |i: usize| Some(s(i)).filter(|x| !x.is_empty());
        let mut conditions = BTreeMap::new();
        for (name, i) in &factor_cols {
            let level = rec.get(*i).unwrap_or("");
            if !level.is_empty() {
                conditions.insert(name.clone(), level.to_string());
            }
        }
        let mut responses = Vec::new();
        for (name, i) in &item_cols {
            if let Some(v) = t.field::<f64>(rec, *i)? {
                responses.push((name.clone(), v));
            }
        }
        rows.push(TrialRow {
            participant: s(0),
            session: t.required(rec, fixed[1])?,
            trial_index: t.required(rec, fixed[2])?,
            block: t.required(rec, fixed[3])?,
            practice: t.required(rec, fixed[4])?,
            clip: text(5),
            soundtrack: text(6),
            scheduled_onset_ns: t.field(rec, fixed[7])?,
            audio_onset_ns: t.field(rec, fixed[8])?,
            video_onset_ns: t.field(rec, fixed[9])?,
            av_offset_ms: t.field(rec, fixed[10])?,
            frames_shown: t.field(rec, fixed[11])?,
            frames_dropped: t.field(rec, fixed[12])?,
            xruns: t.field(rec, fixed[13])?,
            flagged: t.required(rec, fixed[14])?,
            conditions,
            clip_duration_s: t.field(rec, dur)?,
            responses,
            presented: t.required(rec, presented)?,
            simulated: t.required(rec, simulated)?,
        });
    }
    Ok(rows)
}

/// Reads `responses.csv` back.
pub fn read_responses(path: &Path) -> Result<Vec<ResponseRow>, ExportError> {
    let t = Table::read(path)?;
    let c: Vec<usize> = schema::RESPONSES
        .iter()
        .map(|c| t.col(c.name))
        .chain(std::iter::once(t.col(SIMULATED)))
        .collect::<Result<_, _>>()?;
    let mut rows = Vec::with_capacity(t.records.len());
    for rec in &t.records {
        let s = |i: usize| rec.get(c[i]).unwrap_or("").to_string();
        rows.push(ResponseRow {
            participant: s(0),
            session: t.required(rec, c[1])?,
            trial_index: t.required(rec, c[2])?,
            step: t.required(rec, c[3])?,
            kind: s(4),
            item: s(5),
            value: t.field(rec, c[6])?,
            text: Some(s(7)).filter(|x| !x.is_empty()),
            rt_ms: t.field(rec, c[8])?,
            correct: t.field(rec, c[9])?,
            simulated: t.required(rec, c[10])?,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Response, Timing};
    use cuelab_core::SessionTime;
    use cuelab_protocol::PlannedTrial;

    fn record(index: u32, music: &str, presented: bool) -> TrialRecord {
        let timing = presented.then(|| Timing {
            scheduled_onset: SessionTime::from_nanos(1_000_000_123 * i64::from(index)),
            audio_onset: (music != "silence")
                .then(|| SessionTime::from_nanos(1_000_010_456 * i64::from(index))),
            video_onset: Some(SessionTime::from_nanos(1_000_000_123 * i64::from(index))),
            wanted_av_offset_ms: 0.0,
            av_offset_ms: (music != "silence").then_some(0.010_333_333_333_333_334),
            frames_shown: 200,
            frames_dropped: u64::from(index % 2),
            xruns: 0,
            flagged: index % 2 == 1,
            flags: vec![],
        });
        TrialRecord {
            participant: "P07".into(),
            session: 1,
            trial: PlannedTrial {
                index,
                block: u32::from(index > 1),
                practice: index == 1,
                clip: Some("lake, at \"dusk\"".into()),
                soundtrack: (music != "silence").then(|| music.to_string()),
                conditions: BTreeMap::from([("music".into(), music.into())]),
                break_before: false,
            },
            clip_duration_s: Some(8.0),
            timing,
            responses: vec![
                Response {
                    step: 2,
                    kind: "time_estimate".into(),
                    item: "verbal_s".into(),
                    value: 9.123_456_789_012_345 + f64::from(index),
                },
                Response {
                    step: 4,
                    kind: "rating".into(),
                    item: "valence".into(),
                    value: 3.0,
                },
            ],
            simulated: true,
        }
    }

    #[test]
    fn trials_and_responses_round_trip_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let records = [
            record(1, "relaxing", true),
            record(2, "silence", true),
            record(3, "arousing", false),
        ];
        let trials: Vec<TrialRow> = records.iter().map(TrialRow::from_record).collect();
        let responses: Vec<ResponseRow> =
            records.iter().flat_map(ResponseRow::from_record).collect();
        let tp = dir.path().join("trials.csv");
        let rp = dir.path().join("responses.csv");
        write_trials(&tp, &trials).unwrap();
        write_responses(&rp, &responses).unwrap();
        assert_eq!(read_trials(&tp, &["music"]).unwrap(), trials);
        assert_eq!(read_responses(&rp).unwrap(), responses);
        assert_eq!(responses.len(), 6);
        // No temporary file is left behind.
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn trial_columns_are_the_schema_then_factors_then_responses() {
        let rows = [TrialRow::from_record(&record(2, "sad", true))];
        let header = trial_header(&rows);
        let schema_names: Vec<&str> = schema::TRIALS.iter().map(|c| c.name).collect();
        assert_eq!(&header[..schema_names.len()], schema_names.as_slice());
        assert_eq!(
            &header[schema_names.len()..],
            [
                "music",
                CLIP_DURATION_S,
                "verbal_s",
                "valence",
                PRESENTED,
                SIMULATED
            ]
        );
    }

    #[test]
    fn a_bad_field_names_its_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("responses.csv");
        let rows = ResponseRow::from_record(&record(5, "sad", true));
        write_responses(&p, &rows).unwrap();
        let text = std::fs::read_to_string(&p)
            .unwrap()
            .replacen(",2,", ",two,", 1);
        std::fs::write(&p, text).unwrap();
        let err = read_responses(&p).unwrap_err();
        assert!(
            matches!(&err, ExportError::Field { line: 2, column, .. } if column == "step"),
            "{err}"
        );
    }

    #[test]
    fn rewriting_replaces_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        write_durably(&p, b"a long first version\n").unwrap();
        write_durably(&p, b"short\n").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"short\n");
    }
}
