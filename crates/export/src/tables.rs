//! Journals to tables. Rows are built as maps from column *name* to value and laid out by the
//! table's column list (fixed columns from `cuelab_core::schema`, then the dynamic ones), so
//! no value is ever placed by position.

use std::collections::{BTreeMap, BTreeSet};

use cuelab_core::schema::{self as s, Column, DType};
use cuelab_session::journal::{ClipEntry, Entry, ResponseEntry};
use cuelab_session::store::FoundSession;

/// A cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Str(v.to_string())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Str(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Int(i64::from(v))
    }
}
impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Value::Int(v as i64)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// A column of an exported table: a fixed one from the schema or a dynamic one.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDef {
    pub name: String,
    pub dtype: DType,
    pub unit: String,
    pub description: String,
}

impl From<&Column> for ColumnDef {
    fn from(c: &Column) -> Self {
        Self {
            name: c.name.to_string(),
            dtype: c.dtype,
            unit: c.unit.to_string(),
            description: c.description.to_string(),
        }
    }
}

/// A table: named, typed columns and rows keyed by column name.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub name: &'static str,
    pub columns: Vec<ColumnDef>,
    rows: Vec<BTreeMap<String, Value>>,
}

impl Table {
    fn new(name: &'static str, fixed: &[Column]) -> Self {
        Self {
            name,
            columns: fixed.iter().map(ColumnDef::from).collect(),
            rows: Vec::new(),
        }
    }

    fn add_column(&mut self, def: ColumnDef) {
        if !self.columns.iter().any(|c| c.name == def.name) {
            self.columns.push(def);
        }
    }

    fn push(&mut self, row: BTreeMap<String, Value>) {
        debug_assert!(
            row.keys()
                .all(|k| self.columns.iter().any(|c| &c.name == k)),
            "row has a column the table does not: {:?}",
            row.keys().collect::<Vec<_>>()
        );
        self.rows.push(row);
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The value of `column` in row `i` (`Null` where absent).
    pub fn get(&self, i: usize, column: &str) -> &Value {
        self.rows[i].get(column).unwrap_or(&Value::Null)
    }

    /// Rows in column order.
    pub fn rows(&self) -> impl Iterator<Item = Vec<&Value>> + '_ {
        self.rows.iter().map(|row| {
            self.columns
                .iter()
                .map(|c| row.get(&c.name).unwrap_or(&Value::Null))
                .collect()
        })
    }

    /// The rows whose `column` equals `value`, as a new table with the same columns.
    pub fn filter(&self, column: &str, value: &Value) -> Table {
        Table {
            name: self.name,
            columns: self.columns.clone(),
            rows: self
                .rows
                .iter()
                .filter(|r| r.get(column).unwrap_or(&Value::Null) == value)
                .cloned()
                .collect(),
        }
    }
}

/// Every table of an export.
#[derive(Debug, Clone)]
pub struct Tables {
    pub trials: Table,
    pub responses: Table,
    pub continuous: Table,
    pub sessions: Table,
    pub participants: Table,
    /// BIDS events per session: (experiment, participant, session) → rows.
    pub events: BTreeMap<(String, String, u32), Vec<Event>>,
}

impl Tables {
    /// The tables in export order.
    pub fn all(&self) -> [&Table; 5] {
        [
            &self.trials,
            &self.responses,
            &self.continuous,
            &self.sessions,
            &self.participants,
        ]
    }
}

/// One BIDS event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Seconds from the session's start.
    pub onset: f64,
    /// Seconds.
    pub duration: f64,
    pub trial_type: String,
    pub trial_index: Option<u32>,
    pub clip: Option<String>,
    pub soundtrack: Option<String>,
    pub step: Option<String>,
    pub item: Option<String>,
    pub value: Option<String>,
    pub response_time: Option<f64>,
}

fn dynamic(name: &str, dtype: DType, unit: &str, description: String) -> ColumnDef {
    ColumnDef {
        name: name.to_string(),
        dtype,
        unit: unit.to_string(),
        description,
    }
}

/// The wide column a response goes to: `<step>` for single-valued steps, else `<step>_<item>`
/// with the item made a column name (letters, digits and `_`: a recognition statement such as
/// "the red square" becomes `recognition_the_red_square`; the responses table keeps the item as
/// written).
fn wide_name(r: &ResponseEntry) -> String {
    if r.item == r.step {
        return r.step.clone();
    }
    let mut item = String::with_capacity(r.item.len());
    for c in r.item.chars() {
        if c.is_ascii_alphanumeric() {
            item.push(c.to_ascii_lowercase());
        } else if !item.ends_with('_') {
            item.push('_');
        }
    }
    format!("{}_{}", r.step, item.trim_matches('_'))
}

/// A response's value for a wide column: its number, else its text.
fn wide_value(r: &ResponseEntry) -> Value {
    match (&r.value, &r.text) {
        (Some(v), _) => Value::Float(*v),
        (None, Some(t)) => Value::Str(t.clone()),
        (None, None) => Value::Null,
    }
}

/// Builds every table from the sessions found in one or more data folders.
pub fn build(sessions: &[FoundSession]) -> Tables {
    let mut t = Tables {
        trials: Table::new("trials", s::TRIALS),
        responses: Table::new("responses", s::RESPONSES),
        continuous: Table::new("continuous", s::CONTINUOUS),
        sessions: Table::new("sessions", s::SESSIONS),
        participants: Table::new("participants", s::PARTICIPANTS),
        events: BTreeMap::new(),
    };
    // Dynamic columns first, in a stable order: factors (sorted), durations (sorted), then
    // wide responses in order of first appearance.
    let mut factors = BTreeSet::new();
    let mut durations = BTreeSet::new();
    for ses in sessions {
        for e in &ses.entries {
            if let Entry::TrialStart {
                conditions,
                durations_ms,
                ..
            } = e
            {
                factors.extend(conditions.keys().cloned());
                durations.extend(durations_ms.keys().cloned());
            }
        }
    }
    for f in &factors {
        t.trials.add_column(dynamic(
            f,
            DType::Str,
            "",
            format!("Level of the factor `{f}`."),
        ));
    }
    for d in &durations {
        t.trials.add_column(dynamic(
            &format!("{d}_ms"),
            DType::Int,
            "ms",
            format!("Drawn duration of the step `{d}`."),
        ));
    }
    for ses in sessions {
        for e in &ses.entries {
            if let Entry::Response(r) = e {
                let (table, name) = match r.trial {
                    Some(_) => (&mut t.trials, wide_name(r)),
                    None => (&mut t.participants, wide_name(r)),
                };
                let dtype = if r.value.is_some() || r.text.is_none() {
                    DType::Float
                } else {
                    DType::Str
                };
                let existing = table.columns.iter().position(|c| c.name == name);
                match existing {
                    // A column that held numbers and now text becomes text.
                    Some(i) if table.columns[i].dtype == DType::Float && dtype == DType::Str => {
                        table.columns[i].dtype = DType::Str;
                    }
                    Some(_) => {}
                    None => table.add_column(dynamic(
                        &name,
                        dtype,
                        "",
                        format!(
                            "Answer to `{}` of step `{}` ({}); see the responses table.",
                            r.item, r.step, r.kind
                        ),
                    )),
                }
            }
            if let Entry::Score { step, scale, .. } = e {
                t.participants.add_column(dynamic(
                    &format!("{step}_{scale}"),
                    DType::Float,
                    "",
                    format!(
                        "Score of the scale `{scale}` of questionnaire `{step}`: the sum of its items, reverse-keyed items recoded."
                    ),
                ));
            }
        }
    }
    t.trials.add_column(ColumnDef::from(
        s::column(s::SIMULATED).expect("schema has `simulated`"),
    ));
    for ses in sessions {
        add_session(&mut t, ses);
    }
    // Text columns whose values are numbers stay text; numeric columns that got text were
    // turned to text above. Now make every value agree with its column's type.
    for table in [&mut t.trials, &mut t.participants] {
        let text_cols: Vec<String> = table
            .columns
            .iter()
            .filter(|c| c.dtype == DType::Str)
            .map(|c| c.name.clone())
            .collect();
        for row in &mut table.rows {
            for c in &text_cols {
                if let Some(Value::Float(v)) = row.get(c) {
                    let v = *v;
                    row.insert(c.clone(), Value::Str(format_number(v)));
                }
            }
        }
    }
    t
}

fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn base(ses: &FoundSession) -> BTreeMap<String, Value> {
    BTreeMap::from([
        (
            s::EXPERIMENT.to_string(),
            Value::from(ses.meta.experiment.as_str()),
        ),
        (
            s::PARTICIPANT.to_string(),
            Value::from(ses.meta.participant.as_str()),
        ),
        (s::SESSION.to_string(), Value::from(ses.meta.session)),
        (s::SIMULATED.to_string(), Value::from(ses.meta.simulated)),
    ])
}

/// A trial being assembled from its entries.
#[derive(Default)]
struct Open {
    row: BTreeMap<String, Value>,
    clip: Option<ClipEntry>,
    start_ns: i64,
    step_hz: Vec<f64>,
    flags: Vec<String>,
    /// Continuous samples, kept only if the trial ends.
    continuous: Vec<BTreeMap<String, Value>>,
    /// Responses and their events, kept only if the trial ends.
    responses: Vec<BTreeMap<String, Value>>,
    events: Vec<Event>,
}

fn add_session(t: &mut Tables, ses: &FoundSession) {
    let key = (
        ses.meta.experiment.clone(),
        ses.meta.participant.clone(),
        ses.meta.session,
    );
    let mut events = Vec::new();
    let mut open: Option<Open> = None;
    let mut done: BTreeMap<u32, BTreeMap<String, Value>> = BTreeMap::new();
    let mut person = base(ses);
    let mut attention_failed = 0i64;
    let mut consent: Option<bool> = None;
    // Session-clock times restart at each resume; `offset` maps them onto the first start.
    let mut origin_wall: Option<i64> = None;
    let mut offset = 0i64;
    let secs = |ns: i64, offset: i64| (ns + offset) as f64 / 1e9;
    for e in &ses.entries {
        match e {
            Entry::SessionStart { wall_unix_ns, .. } | Entry::Resume { wall_unix_ns, .. } => {
                let origin = *origin_wall.get_or_insert(*wall_unix_ns);
                offset = wall_unix_ns - origin;
                // A trial in progress when the process stopped was not finished.
                open = None;
            }
            Entry::TrialStart {
                t_ns,
                trial,
                block,
                practice,
                clip,
                soundtrack,
                conditions,
                durations_ms,
                iti_ms,
            } => {
                let mut row = base(ses);
                row.insert(s::TRIAL_INDEX.into(), Value::from(*trial));
                row.insert(s::BLOCK.into(), Value::from(*block));
                row.insert(s::PRACTICE.into(), Value::from(*practice));
                row.insert(s::CLIP.into(), Value::from(clip.clone()));
                row.insert(s::SOUNDTRACK.into(), Value::from(soundtrack.clone()));
                row.insert(s::ITI_MS.into(), Value::from(*iti_ms));
                row.insert(s::FLAGGED.into(), Value::from(false));
                for (f, l) in conditions {
                    row.insert(f.clone(), Value::from(l.as_str()));
                }
                for (step, ms) in durations_ms {
                    row.insert(format!("{step}_ms"), Value::from(*ms));
                }
                open = Some(Open {
                    row,
                    start_ns: *t_ns,
                    ..Open::default()
                });
            }
            Entry::Clip(c) => {
                if let Some(o) = open.as_mut() {
                    let r = &mut o.row;
                    r.insert(
                        s::SCHEDULED_ONSET_NS.into(),
                        Value::from(c.scheduled_onset_ns + offset),
                    );
                    r.insert(
                        s::AUDIO_ONSET_NS.into(),
                        Value::from(c.audio_onset_ns.map(|v| v + offset)),
                    );
                    r.insert(
                        s::VIDEO_ONSET_NS.into(),
                        Value::from(c.video_onset_ns.map(|v| v + offset)),
                    );
                    r.insert(s::AV_OFFSET_MS.into(), Value::from(c.av_offset_ms));
                    r.insert(s::FRAMES_SHOWN.into(), Value::from(c.frames_shown));
                    r.insert(s::FRAMES_DROPPED.into(), Value::from(c.frames_dropped));
                    r.insert(
                        s::FRAME_INTERVAL_SD_MS.into(),
                        Value::from(c.frame_interval_sd_ms),
                    );
                    r.insert(s::XRUNS.into(), Value::from(c.xruns));
                    r.insert(
                        s::CLIP_DURATION_S.into(),
                        Value::from(c.measured_duration_ms().map(|ms| ms / 1000.0)),
                    );
                    o.flags.extend(c.flags.iter().cloned());
                    o.clip = Some(c.clone());
                    let duration = c.measured_duration_ms().unwrap_or(0.0) / 1000.0;
                    if let Some(v) = c.video_onset_ns {
                        o.events.push(Event {
                            onset: secs(v, offset),
                            duration,
                            trial_type: "clip".into(),
                            trial_index: Some(c.trial),
                            clip: c.clip.clone(),
                            soundtrack: c.soundtrack.clone(),
                            step: Some(c.step.clone()),
                            item: None,
                            value: None,
                            response_time: None,
                        });
                    }
                    if let Some(a) = c.audio_onset_ns {
                        o.events.push(Event {
                            onset: secs(a, offset),
                            duration,
                            trial_type: "music".into(),
                            trial_index: Some(c.trial),
                            clip: c.clip.clone(),
                            soundtrack: c.soundtrack.clone(),
                            step: Some(c.step.clone()),
                            item: None,
                            value: None,
                            response_time: None,
                        });
                    }
                }
            }
            Entry::Continuous {
                trial,
                step,
                item,
                hz,
                samples,
                ..
            } => {
                if let Some(o) = open.as_mut() {
                    if let Some(hz) = hz {
                        o.step_hz.push(*hz);
                    }
                    for [t_ms, v] in samples {
                        let mut row = base(ses);
                        row.insert(s::TRIAL_INDEX.into(), Value::from(*trial));
                        row.insert(s::STEP.into(), Value::from(step.as_str()));
                        row.insert(s::ITEM.into(), Value::from(item.as_str()));
                        row.insert(s::T_MS.into(), Value::from(*t_ms));
                        row.insert(s::VALUE.into(), Value::from(*v));
                        o.continuous.push(row);
                    }
                }
            }
            Entry::Response(r) => {
                let mut row = base(ses);
                row.insert(s::TRIAL_INDEX.into(), Value::from(r.trial));
                row.insert(s::STEP.into(), Value::from(r.step.as_str()));
                row.insert(s::KIND.into(), Value::from(r.kind.as_str()));
                row.insert(s::ITEM.into(), Value::from(r.item.as_str()));
                row.insert(s::VALUE.into(), Value::from(r.value));
                row.insert(s::TEXT.into(), Value::from(r.text.clone()));
                row.insert(s::RT_MS.into(), Value::from(r.rt_ms));
                row.insert(s::ONSET_NS.into(), Value::from(r.onset_ns + offset));
                row.insert(s::TIMED_OUT.into(), Value::from(r.timed_out));
                row.insert(s::CORRECT.into(), Value::from(r.correct));
                row.insert(s::ATTENTION_CHECK.into(), Value::from(r.attention_check));
                let answered = r.rt_ms.map(|rt| r.onset_ns as f64 / 1e9 + rt / 1000.0);
                let event = Event {
                    onset: answered.map_or(secs(r.t_ns, offset), |a| a + offset as f64 / 1e9),
                    duration: 0.0,
                    trial_type: "response".into(),
                    trial_index: r.trial,
                    clip: None,
                    soundtrack: None,
                    step: Some(r.step.clone()),
                    item: Some(r.item.clone()),
                    value: r.value.map(format_number).or_else(|| r.text.clone()),
                    response_time: r.rt_ms.map(|ms| ms / 1000.0),
                };
                match (r.trial, open.as_mut()) {
                    (Some(_), Some(o)) => {
                        o.row.insert(wide_name(r), wide_value(r));
                        o.responses.push(row);
                        o.events.push(event);
                    }
                    (Some(_), None) => {}
                    (None, _) => {
                        if r.attention_check && r.correct == Some(false) {
                            attention_failed += 1;
                        }
                        person.insert(wide_name(r), wide_value(r));
                        t.responses.push(row);
                        events.push(event);
                    }
                }
            }
            Entry::Score {
                step, scale, value, ..
            } => {
                person.insert(format!("{step}_{scale}"), Value::from(*value));
            }
            Entry::Consent { accepted, .. } => consent = Some(*accepted),
            Entry::TrialEnd { t_ns, trial, .. } => {
                if let Some(mut o) = open.take() {
                    for row in o.continuous.drain(..) {
                        t.continuous.push(row);
                    }
                    for row in o.responses.drain(..) {
                        if matches!(row.get(s::ATTENTION_CHECK), Some(Value::Bool(true)))
                            && matches!(row.get(s::CORRECT), Some(Value::Bool(false)))
                        {
                            attention_failed += 1;
                        }
                        t.responses.push(row);
                    }
                    events.append(&mut o.events);
                    if !o.step_hz.is_empty() {
                        let mean = o.step_hz.iter().sum::<f64>() / o.step_hz.len() as f64;
                        o.row.insert(s::CONTINUOUS_HZ.into(), Value::from(mean));
                    }
                    let flagged = o.clip.as_ref().is_some_and(|c| c.flagged);
                    o.row.insert(s::FLAGGED.into(), Value::from(flagged));
                    if !o.flags.is_empty() {
                        o.row
                            .insert(s::FLAGS.into(), Value::from(o.flags.join("; ")));
                    }
                    events.push(Event {
                        onset: secs(o.start_ns, offset),
                        duration: (t_ns - o.start_ns) as f64 / 1e9,
                        trial_type: "trial".into(),
                        trial_index: Some(*trial),
                        clip: o.row.get(s::CLIP).and_then(as_str),
                        soundtrack: o.row.get(s::SOUNDTRACK).and_then(as_str),
                        step: None,
                        item: None,
                        value: None,
                        response_time: None,
                    });
                    done.insert(*trial, o.row);
                }
            }
            Entry::MarkBad { trial, note, .. } => {
                if let Some(row) = done.get_mut(trial) {
                    row.insert(s::FLAGGED.into(), Value::from(true));
                    let flag = format!("marked bad by the experimenter: {note}");
                    let flags = match row.get(s::FLAGS) {
                        Some(Value::Str(f)) => format!("{f}; {flag}"),
                        _ => flag,
                    };
                    row.insert(s::FLAGS.into(), Value::from(flags));
                }
            }
            _ => {}
        }
    }
    let n_done = done.len();
    for (_, row) in done {
        t.trials.push(row);
    }
    person.insert(s::CONSENT.into(), Value::from(consent));
    person.insert(s::ATTENTION_FAILED.into(), Value::from(attention_failed));
    t.participants.push(person);

    let m = &ses.meta;
    let mut row = base(ses);
    row.insert(s::STATUS.into(), Value::from(ses.status.as_str()));
    row.insert(s::STARTED.into(), Value::from(m.started.as_str()));
    row.insert(s::ENDED.into(), Value::from(m.ended.clone()));
    row.insert(s::TRIALS_DONE.into(), Value::from(n_done as u64));
    row.insert(
        s::PROTOCOL_SHA256.into(),
        Value::from(m.protocol_sha256.as_str()),
    );
    row.insert(s::SEED.into(), Value::from(m.seed as i64));
    row.insert(s::SOFTWARE.into(), Value::from(m.software.as_str()));
    row.insert(s::HOST.into(), Value::from(m.host.as_str()));
    row.insert(s::CLOCK.into(), Value::from(m.clock.as_str()));
    row.insert(
        s::AUDIO_DEVICE.into(),
        Value::from(m.audio.as_ref().map(|a| a.device.clone())),
    );
    row.insert(
        s::SAMPLE_RATE.into(),
        Value::from(m.audio.as_ref().map(|a| a.sample_rate)),
    );
    row.insert(
        s::DISPLAY.into(),
        Value::from(m.display.as_ref().map(|d| d.kind.clone())),
    );
    row.insert(
        s::REFRESH_HZ.into(),
        Value::from(m.display.as_ref().map(|d| d.refresh_hz)),
    );
    row.insert(s::LANGUAGE.into(), Value::from(m.language.as_str()));
    t.sessions.push(row);

    events.sort_by(|a, b| a.onset.total_cmp(&b.onset));
    t.events.insert(key, events);
}

fn as_str(v: &Value) -> Option<String> {
    match v {
        Value::Str(s) => Some(s.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use cuelab_core::{Response, SessionTime};
    use cuelab_session::Status;
    use cuelab_session::journal::{Entry, ResponseEntry};
    use cuelab_session::store::{FoundSession, SessionMeta};

    use super::*;

    fn meta() -> SessionMeta {
        SessionMeta {
            experiment: "exp".into(),
            participant: "P1".into(),
            session: 1,
            protocol_file: "p.toml".into(),
            protocol_sha256: "ab".into(),
            stimuli_sha256: BTreeMap::new(),
            seed: 3,
            simulation_seed: None,
            simulated: false,
            software: "cuelab".into(),
            host: "h".into(),
            clock: "virtual".into(),
            audio: None,
            display: None,
            loudness_gain_db: BTreeMap::new(),
            language: "en".into(),
            started: "2026-11-29T00:00:00.000+00:00".into(),
            ended: None,
            resumed: Vec::new(),
            status: Status::Completed,
        }
    }

    fn start(trial: u32, t_ns: i64) -> Entry {
        Entry::TrialStart {
            t_ns,
            trial,
            block: 1,
            practice: false,
            clip: Some("lake".into()),
            soundtrack: None,
            conditions: BTreeMap::from([("music".into(), "silence".into())]),
            durations_ms: BTreeMap::from([("fixation".into(), 500)]),
            iti_ms: 0,
        }
    }

    fn answer(trial: Option<u32>, step: &str, item: &str, value: f64) -> Entry {
        Entry::Response(ResponseEntry::new(
            SessionTime(7),
            trial,
            &Response {
                step: step.into(),
                kind: "rating".into(),
                item: item.into(),
                value: Some(value),
                rt_ms: Some(800.0),
                onset: SessionTime(1_000_000_000),
                ..Response::default()
            },
        ))
    }

    fn session(entries: Vec<Entry>) -> FoundSession {
        FoundSession {
            dir: PathBuf::from("d"),
            meta: meta(),
            status: "completed".into(),
            entries,
        }
    }

    #[test]
    fn rows_are_built_by_name_and_unfinished_trials_leave_nothing() {
        let entries = vec![
            Entry::SessionStart {
                t_ns: 0,
                monotonic_ns: None,
                wall_unix_ns: 1_000_000_000,
            },
            answer(None, "demo", "age", 31.0),
            start(1, 10),
            answer(Some(1), "fit", "fit", 70.0),
            answer(Some(1), "recognition", "the red square!", 1.0),
            Entry::Continuous {
                t_ns: 20,
                trial: 1,
                step: "clip".into(),
                item: "valence".into(),
                hz: Some(20.0),
                samples: vec![[0.0, 5.0], [50.0, 5.5]],
            },
            Entry::TrialEnd {
                t_ns: 30,
                trial: 1,
                iti_ms: 0,
            },
            Entry::MarkBad {
                t_ns: 31,
                trial: 1,
                note: "noise".into(),
            },
            // Trial 2 never ended: the process was killed; then the session was resumed two
            // seconds of wall clock later and trial 2 ran again whole.
            start(2, 40),
            answer(Some(2), "fit", "fit", 10.0),
            Entry::Continuous {
                t_ns: 45,
                trial: 2,
                step: "clip".into(),
                item: "valence".into(),
                hz: Some(20.0),
                samples: vec![[0.0, 1.0]],
            },
            Entry::Resume {
                t_ns: 0,
                monotonic_ns: None,
                wall_unix_ns: 3_000_000_000,
                next_trial: None,
            },
            start(2, 5),
            answer(Some(2), "fit", "fit", 40.0),
            Entry::TrialEnd {
                t_ns: 9,
                trial: 2,
                iti_ms: 0,
            },
            Entry::SessionEnd {
                t_ns: 10,
                status: Status::Completed,
            },
        ];
        let t = build(&[session(entries)]);
        assert_eq!(t.trials.len(), 2);
        assert_eq!(*t.trials.get(0, "fit"), Value::Float(70.0));
        assert_eq!(*t.trials.get(1, "fit"), Value::Float(40.0));
        assert_eq!(
            *t.trials.get(0, "recognition_the_red_square"),
            Value::Float(1.0)
        );
        assert_eq!(*t.trials.get(0, "music"), Value::Str("silence".into()));
        assert_eq!(*t.trials.get(0, "fixation_ms"), Value::Int(500));
        assert_eq!(*t.trials.get(0, "flagged"), Value::Bool(true));
        assert_eq!(*t.trials.get(1, "flagged"), Value::Bool(false));
        assert_eq!(*t.trials.get(0, "continuous_hz"), Value::Float(20.0));
        // The dropped attempt of trial 2 leaves no samples and no response.
        assert_eq!(t.continuous.len(), 2);
        assert_eq!(t.responses.len(), 4);
        assert_eq!(*t.participants.get(0, "demo_age"), Value::Float(31.0));
        // Times after the resume are placed after the first run's start (2 s of wall clock).
        let events = &t.events[&("exp".to_string(), "P1".to_string(), 1)];
        let second = events
            .iter()
            .find(|e| e.trial_type == "trial" && e.trial_index == Some(2))
            .unwrap();
        assert!(
            (second.onset - 2.000_000_005).abs() < 1e-9,
            "{}",
            second.onset
        );
        // Column order: the schema's fixed columns first.
        let names: Vec<&str> = t.trials.columns.iter().map(|c| c.name.as_str()).collect();
        let fixed: Vec<&str> = cuelab_core::schema::TRIALS.iter().map(|c| c.name).collect();
        assert_eq!(&names[..fixed.len()], &fixed[..]);
    }
}
