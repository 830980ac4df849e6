//! CSV, Parquet and the psych-DS description and codebook.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cuelab_core::schema::DType;
use cuelab_session::store::FoundSession;
use polars::prelude::*;
use serde_json::json;

use crate::tables::{Table, Tables, Value};
use crate::{ExportError, Options, durably};

/// A CSV field: empty for missing, `TRUE`/`FALSE` for booleans, quoted when needed.
fn csv_field(v: &Value, out: &mut String) {
    match v {
        Value::Null => {}
        Value::Str(s) => {
            if s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') || s.ends_with(' ') {
                out.push('"');
                out.push_str(&s.replace('"', "\"\""));
                out.push('"');
            } else {
                out.push_str(s);
            }
        }
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&format_float(*f)),
        Value::Bool(b) => out.push_str(if *b { "TRUE" } else { "FALSE" }),
    }
}

/// Shortest round-trip decimal (Rust's `Display` for f64).
pub(crate) fn format_float(f: f64) -> String {
    if f.is_finite() {
        format!("{f}")
    } else {
        String::new()
    }
}

/// A table as CSV text.
pub(crate) fn to_csv(table: &Table) -> String {
    let mut out = String::new();
    let header: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
    out.push_str(&header.join(","));
    out.push('\n');
    for row in table.rows() {
        for (i, v) in row.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            csv_field(v, &mut out);
        }
        out.push('\n');
    }
    out
}

fn experiments(tables: &Tables) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    for i in 0..tables.sessions.len() {
        if let Value::Str(e) = tables.sessions.get(i, "experiment") {
            set.insert(e.clone());
        }
    }
    set
}

/// The psych-DS part: `data/*.csv`, `dataset_description.json`, `codebook.csv`, `README.md`.
pub(crate) fn psychds(
    out: &Path,
    tables: &Tables,
    sessions: &[FoundSession],
    options: &Options,
    files: &mut Vec<PathBuf>,
) -> Result<(), ExportError> {
    let exps = experiments(tables);
    if options.csv {
        for exp in &exps {
            let key = Value::Str(exp.clone());
            for table in tables.all() {
                let part = table.filter("experiment", &key);
                let name = format!("experiment-{}_table-{}_data.csv", keyword(exp), table.name);
                durably(
                    &out.join("data").join(name),
                    to_csv(&part).as_bytes(),
                    files,
                )?;
            }
        }
    }
    // Codebook: every column of every table.
    let mut codebook = String::from("table,column,type,unit,description\n");
    let mut variables = Vec::new();
    let mut seen = BTreeSet::new();
    for table in tables.all() {
        for c in &table.columns {
            let mut line = String::new();
            for (i, field) in [
                table.name,
                c.name.as_str(),
                c.dtype.name(),
                c.unit.as_str(),
                c.description.as_str(),
            ]
            .iter()
            .enumerate()
            {
                if i > 0 {
                    line.push(',');
                }
                csv_field(&Value::Str((*field).to_string()), &mut line);
            }
            codebook.push_str(&line);
            codebook.push('\n');
            if seen.insert(c.name.clone()) {
                let mut v = json!({
                    "@type": "PropertyValue",
                    "name": c.name,
                    "description": c.description,
                    "value": c.dtype.name(),
                });
                if !c.unit.is_empty() {
                    v["unitText"] = json!(c.unit);
                }
                variables.push(v);
            }
        }
    }
    durably(&out.join("codebook.csv"), codebook.as_bytes(), files)?;
    let simulated = sessions.iter().any(|s| s.meta.simulated);
    let names: Vec<&str> = exps.iter().map(String::as_str).collect();
    let description = json!({
        "@context": "https://schema.org/",
        "@type": "Dataset",
        "name": format!("cuelab export: {}", names.join(", ")),
        "description": format!(
            "{} session(s) of {} exported by cuelab {}: trials, responses, continuous ratings, sessions and participants as tidy tables.{}",
            sessions.len(),
            names.join(", "),
            env!("CARGO_PKG_VERSION"),
            if simulated { " Contains SIMULATED sessions (column `simulated`)." } else { "" }
        ),
        "variableMeasured": variables,
    });
    let text = serde_json::to_string_pretty(&description).expect("JSON of plain values");
    durably(
        &out.join("dataset_description.json"),
        text.as_bytes(),
        files,
    )?;
    let readme = format!(
        "# {}\n\n{}Exported by cuelab {} from {} session(s).\n\n\
         - `data/`: one CSV per table and experiment (psych-DS layout); booleans `TRUE`/`FALSE`, missing values empty.\n\
         - `parquet/`: the same tables as Parquet.\n\
         - `bids/`: a BIDS dataset of the behavioural data type (`events.tsv` per session, onsets in seconds from the session's start).\n\
         - `codebook.csv`: every column with its type, unit and meaning.\n",
        names.join(", "),
        if simulated {
            "**SIMULATED DATA** — sessions with `simulated = TRUE` come from simulated participants.\n\n"
        } else {
            ""
        },
        env!("CARGO_PKG_VERSION"),
        sessions.len()
    );
    durably(&out.join("README.md"), readme.as_bytes(), files)?;
    Ok(())
}

/// A psych-DS keyword value: letters and digits only.
pub(crate) fn keyword(s: &str) -> String {
    s.chars().filter(char::is_ascii_alphanumeric).collect()
}

fn series(name: &str, dtype: DType, values: Vec<&Value>) -> Column {
    let name: PlSmallStr = name.into();
    match dtype {
        DType::Str => {
            let v: Vec<Option<String>> = values
                .iter()
                .map(|v| match v {
                    Value::Str(s) => Some(s.clone()),
                    Value::Null => None,
                    Value::Int(i) => Some(i.to_string()),
                    Value::Float(f) => Some(format_float(*f)),
                    Value::Bool(b) => Some(if *b { "TRUE" } else { "FALSE" }.to_string()),
                })
                .collect();
            Column::new(name, v)
        }
        DType::Int => {
            let v: Vec<Option<i64>> = values
                .iter()
                .map(|v| match v {
                    Value::Int(i) => Some(*i),
                    _ => None,
                })
                .collect();
            Column::new(name, v)
        }
        DType::Float => {
            let v: Vec<Option<f64>> = values
                .iter()
                .map(|v| match v {
                    Value::Float(f) => Some(*f),
                    Value::Int(i) => Some(*i as f64),
                    _ => None,
                })
                .collect();
            Column::new(name, v)
        }
        DType::Bool => {
            let v: Vec<Option<bool>> = values
                .iter()
                .map(|v| match v {
                    Value::Bool(b) => Some(*b),
                    _ => None,
                })
                .collect();
            Column::new(name, v)
        }
        _ => Column::new(name, Vec::<Option<String>>::new()),
    }
}

/// A table as a polars DataFrame with the declared types.
pub fn to_frame(table: &Table) -> Result<DataFrame, PolarsError> {
    let rows: Vec<Vec<&Value>> = table.rows().collect();
    let columns: Vec<Column> = table
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| series(&c.name, c.dtype, rows.iter().map(|r| r[i]).collect()))
        .collect();
    DataFrame::new(rows.len(), columns)
}

fn write_parquet(path: &Path, table: &Table, files: &mut Vec<PathBuf>) -> Result<(), ExportError> {
    let err = |e: &dyn std::fmt::Display| ExportError::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut df = to_frame(table).map_err(|e| err(&e))?;
    let mut bytes = Vec::new();
    ParquetWriter::new(&mut bytes)
        .with_compression(ParquetCompression::Zstd(None))
        .finish(&mut df)
        .map_err(|e| err(&e))?;
    durably(path, &bytes, files)
}

/// `parquet/<table>.parquet`, or partitioned by experiment and participant.
pub(crate) fn parquet(
    out: &Path,
    tables: &Tables,
    partitioned: bool,
    files: &mut Vec<PathBuf>,
) -> Result<(), ExportError> {
    let dir = out.join("parquet");
    for table in tables.all() {
        if !partitioned {
            write_parquet(&dir.join(format!("{}.parquet", table.name)), table, files)?;
            continue;
        }
        let mut keys = BTreeSet::new();
        for i in 0..table.len() {
            if let (Value::Str(e), Value::Str(p)) =
                (table.get(i, "experiment"), table.get(i, "participant"))
            {
                keys.insert((e.clone(), p.clone()));
            }
        }
        for (e, p) in keys {
            let part = table
                .filter("experiment", &Value::Str(e.clone()))
                .filter("participant", &Value::Str(p.clone()));
            let path = dir
                .join(table.name)
                .join(format!("experiment={e}"))
                .join(format!("participant={p}"))
                .join("part-0.parquet");
            write_parquet(&path, &part, files)?;
        }
    }
    Ok(())
}
