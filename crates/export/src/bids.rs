//! A BIDS dataset of the behavioural data type: `events.tsv` (onset and duration in seconds
//! from the session's start, `n/a` for missing) and `beh.tsv` (the session's trials) per
//! session, with JSON sidecars that describe every column, `participants.tsv`, and
//! `dataset_description.json`. `<task>` is the experiment id with non-alphanumerics removed;
//! `TaskName` keeps the original id.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cuelab_session::store::FoundSession;
use serde_json::{Value as Json, json};

use crate::tables::{Event, Table, Tables, Value};
use crate::write::{format_float, keyword};
use crate::{ExportError, durably};

fn tsv_field(v: &Value) -> String {
    let s = match v {
        Value::Null => return "n/a".into(),
        Value::Str(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) if f.is_finite() => format_float(*f),
        Value::Float(_) => return "n/a".into(),
        Value::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
    };
    if s.is_empty() {
        return "n/a".into();
    }
    s.replace(['\t', '\n', '\r'], " ")
}

fn table_tsv(table: &Table) -> String {
    let mut out = table
        .columns
        .iter()
        .map(|c| c.name.as_str())
        .collect::<Vec<_>>()
        .join("\t");
    out.push('\n');
    for row in table.rows() {
        out.push_str(
            &row.iter()
                .map(|v| tsv_field(v))
                .collect::<Vec<_>>()
                .join("\t"),
        );
        out.push('\n');
    }
    out
}

fn sidecar(table: &Table, task_name: Option<&str>) -> String {
    let mut obj = serde_json::Map::new();
    if let Some(name) = task_name {
        obj.insert("TaskName".into(), json!(name));
    }
    for c in &table.columns {
        let mut d = json!({ "Description": c.description });
        if !c.unit.is_empty() {
            d["Units"] = json!(c.unit);
        }
        obj.insert(c.name.clone(), d);
    }
    serde_json::to_string_pretty(&Json::Object(obj)).expect("JSON of plain values")
}

const EVENT_COLUMNS: &[(&str, &str, &str)] = &[
    (
        "onset",
        "Onset of the event, from the start of the session (first run, across resumes).",
        "s",
    ),
    ("duration", "Duration of the event (0 for responses).", "s"),
    (
        "trial_type",
        "trial, clip (video onset), music (audio onset) or response.",
        "",
    ),
    (
        "trial_index",
        "The trial's position in the session's plan, from 1.",
        "",
    ),
    ("clip", "Clip id.", ""),
    ("soundtrack", "Soundtrack id.", ""),
    ("step", "Id of the protocol step.", ""),
    ("item", "The answered item, for responses.", ""),
    ("value", "The answer, for responses.", ""),
    (
        "response_time",
        "Response time from the onset of the asking screen.",
        "s",
    ),
];

fn events_tsv(events: &[Event]) -> String {
    let mut out = EVENT_COLUMNS
        .iter()
        .map(|c| c.0)
        .collect::<Vec<_>>()
        .join("\t");
    out.push('\n');
    let opt = |s: &Option<String>| tsv_field(&Value::from(s.clone()));
    for e in events {
        let fields = [
            format!("{:.6}", e.onset),
            format!("{:.6}", e.duration),
            e.trial_type.clone(),
            e.trial_index.map_or("n/a".into(), |i| i.to_string()),
            opt(&e.clip),
            opt(&e.soundtrack),
            opt(&e.step),
            opt(&e.item),
            opt(&e.value),
            e.response_time.map_or("n/a".into(), |t| format!("{t:.6}")),
        ];
        out.push_str(&fields.join("\t"));
        out.push('\n');
    }
    out
}

/// The events sidecar describes columns only: the validator reads every key of a tabular
/// sidecar as a column (a `TaskName` there is an error; it lives in the `beh.json` sidecar).
fn events_sidecar() -> String {
    let mut obj = serde_json::Map::new();
    for (name, description, unit) in EVENT_COLUMNS {
        let mut d = json!({ "Description": description });
        if !unit.is_empty() {
            d["Units"] = json!(unit);
        }
        obj.insert((*name).into(), d);
    }
    serde_json::to_string_pretty(&Json::Object(obj)).expect("JSON of plain values")
}

pub(crate) fn write(
    root: &Path,
    tables: &Tables,
    sessions: &[FoundSession],
    files: &mut Vec<PathBuf>,
) -> Result<(), ExportError> {
    let exps: Vec<&str> = {
        let mut v: Vec<&str> = sessions
            .iter()
            .map(|s| s.meta.experiment.as_str())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let description = json!({
        "Name": format!("cuelab: {}", exps.join(", ")),
        "BIDSVersion": "1.8.0",
        "DatasetType": "raw",
        "GeneratedBy": [{ "Name": "cuelab", "Version": env!("CARGO_PKG_VERSION") }],
    });
    durably(
        &root.join("dataset_description.json"),
        serde_json::to_string_pretty(&description)
            .expect("JSON")
            .as_bytes(),
        files,
    )?;
    let readme = format!(
        "# {}\n\nBehavioural data exported by cuelab {}. Each session has `events.tsv` (onsets in seconds from the session's start) and `beh.tsv` (one row per trial).\n",
        exps.join(", "),
        env!("CARGO_PKG_VERSION")
    );
    durably(&root.join("README"), readme.as_bytes(), files)?;

    // participants.tsv: one row per participant label (BIDS labels are unique per dataset).
    let mut participants: BTreeMap<String, bool> = BTreeMap::new();
    for s in sessions {
        participants
            .entry(s.meta.participant.clone())
            .and_modify(|sim| *sim |= s.meta.simulated)
            .or_insert(s.meta.simulated);
    }
    let mut tsv = String::from("participant_id\tsimulated\n");
    for (p, sim) in &participants {
        tsv.push_str(&format!(
            "sub-{p}\t{}\n",
            if *sim { "TRUE" } else { "FALSE" }
        ));
    }
    durably(&root.join("participants.tsv"), tsv.as_bytes(), files)?;
    let pjson = json!({
        "participant_id": { "Description": "Participant label, as in the other tables' `participant` column with a `sub-` prefix." },
        "simulated": { "Description": "The participant is simulated (TRUE) or a person (FALSE)." },
    });
    durably(
        &root.join("participants.json"),
        serde_json::to_string_pretty(&pjson)
            .expect("JSON")
            .as_bytes(),
        files,
    )?;

    for s in sessions {
        let m = &s.meta;
        let task = keyword(&m.experiment);
        let dir = root
            .join(format!("sub-{}", m.participant))
            .join(format!("ses-{}", m.session))
            .join("beh");
        let stem = format!("sub-{}_ses-{}_task-{task}", m.participant, m.session);
        let key = (m.experiment.clone(), m.participant.clone(), m.session);
        let events = tables.events.get(&key).map_or(&[][..], Vec::as_slice);
        durably(
            &dir.join(format!("{stem}_events.tsv")),
            events_tsv(events).as_bytes(),
            files,
        )?;
        durably(
            &dir.join(format!("{stem}_events.json")),
            events_sidecar().as_bytes(),
            files,
        )?;
        let trials = tables
            .trials
            .filter("experiment", &Value::Str(m.experiment.clone()))
            .filter("participant", &Value::Str(m.participant.clone()))
            .filter("session", &Value::Int(i64::from(m.session)));
        durably(
            &dir.join(format!("{stem}_beh.tsv")),
            table_tsv(&trials).as_bytes(),
            files,
        )?;
        durably(
            &dir.join(format!("{stem}_beh.json")),
            sidecar(&trials, Some(&m.experiment)).as_bytes(),
            files,
        )?;
    }
    Ok(())
}
