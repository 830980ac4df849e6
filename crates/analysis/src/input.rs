//! Checks of a data table before any query runs, so that a fault in the user's file is reported
//! at its `file:line:col` in the project's words instead of surfacing from inside polars (or
//! not at all: a NaN, an infinity or 1e308 would otherwise flow into the statistics and hang
//! the figure code).
//!
//! A CSV is read once with the `csv` crate (streaming, one record in memory): the header must
//! name each column once, every row must have as many fields as the header, and every column
//! the plan reads as a number must hold, in every row, nothing (a missing value) or a finite
//! number within ±[`MAX_ABS`]; a boolean column holds `true`/`false` (any case) or nothing.
//! The line on which each record starts is remembered only when it is not simply `row + 2`
//! (quoted fields spanning lines), so later checks can still name a row's line.
//!
//! A Parquet file has typed columns and no lines; its numeric columns are checked for
//! non-finite or too large values by one query, and faults are named by row (from 1).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::error::AnalysisError;
use crate::plan::ColumnType;

/// The largest magnitude accepted for a number in the data. Sums of squares of up to 10^100
/// values of this size stay finite in `f64`, so no statistic overflows; no measurement in the
/// field comes near it.
pub const MAX_ABS: f64 = 1e100;

/// Where each data row came from, for messages.
#[derive(Debug, Clone)]
pub(crate) struct RowLines {
    path: PathBuf,
    /// For a CSV: the line of each record when any record does not start on `row + 2`.
    lines: Option<Vec<u64>>,
    /// Whether the rows are CSV lines (else Parquet rows).
    csv: bool,
}

impl RowLines {
    /// `file:line` of a CSV row (0-based data row), or `file: row N` for Parquet.
    pub(crate) fn locate(&self, row: usize) -> String {
        if self.csv {
            let line = match &self.lines {
                Some(lines) => lines.get(row).copied().unwrap_or(row as u64 + 2),
                None => row as u64 + 2,
            };
            format!("{}:{line}", self.path.display())
        } else {
            format!("{}: row {}", self.path.display(), row + 1)
        }
    }
}

fn at(path: &Path, line: u64, col: Option<usize>, message: String) -> AnalysisError {
    AnalysisError::Table {
        path: path.to_path_buf(),
        line: Some(line),
        col,
        message,
    }
}

/// Checks the table at `path` (CSV or Parquet) for the columns in `types`.
pub(crate) fn check(
    path: &Path,
    types: &BTreeMap<String, ColumnType>,
) -> Result<RowLines, AnalysisError> {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
    {
        check_parquet(path, types)?;
        return Ok(RowLines {
            path: path.to_path_buf(),
            lines: None,
            csv: false,
        });
    }
    check_csv(path, types)
}

fn check_csv(path: &Path, types: &BTreeMap<String, ColumnType>) -> Result<RowLines, AnalysisError> {
    let io = |source| AnalysisError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(std::io::BufReader::new(file));
    let header = reader.headers().map_err(|e| csv_error(path, e))?.clone();
    if header.is_empty() {
        return Err(at(path, 1, None, "the file is empty (no header)".into()));
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, name) in header.iter().enumerate() {
        if let Some(first) = seen.insert(name, i) {
            return Err(at(
                path,
                1,
                Some(i + 1),
                format!(
                    "column name `{}` appears twice (columns {} and {}); each column needs its own name",
                    name,
                    first + 1,
                    i + 1
                ),
            ));
        }
    }
    // The columns to check, by position.
    let checked: Vec<(usize, &str, ColumnType)> = types
        .iter()
        .filter(|(_, t)| **t != ColumnType::Str)
        .filter_map(|(name, t)| seen.get(name.as_str()).map(|&i| (i, name.as_str(), *t)))
        .collect();

    // Every field must be UTF-8 text (a `StringRecord` checks it), not only the typed ones.
    let mut record = csv::StringRecord::new();
    let mut lines: Vec<u64> = Vec::new();
    let mut irregular = false;
    let mut row = 0usize;
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(path, e)),
        }
        let line = record.position().map_or(row as u64 + 2, |p| p.line());
        if !irregular && line != row as u64 + 2 {
            irregular = true;
            lines = (0..row as u64).map(|r| r + 2).collect();
        }
        if irregular {
            lines.push(line);
        }
        for &(i, name, t) in &checked {
            let field = record.get(i).unwrap_or_default();
            check_field(field, t).map_err(|message| {
                at(
                    path,
                    line,
                    Some(i + 1),
                    format!("column `{name}`: {message}"),
                )
            })?;
        }
        row += 1;
    }
    if row == 0 {
        return Err(at(
            path,
            1,
            None,
            "the file has a header but no rows of data".into(),
        ));
    }
    Ok(RowLines {
        path: path.to_path_buf(),
        lines: irregular.then_some(lines),
        csv: true,
    })
}

/// Checks one field of a typed column; `Err` holds the message.
fn check_field(text: &str, t: ColumnType) -> Result<(), String> {
    if text.is_empty() {
        return Ok(());
    }
    match t {
        ColumnType::Str => Ok(()),
        ColumnType::F64 => match text.parse::<f64>() {
            Ok(x) => finite_within_limit(x, text),
            Err(_) => Err(format!(
                "`{text}` is not a number (leave the field empty for a missing value)"
            )),
        },
        ColumnType::I64 => match text.parse::<i64>() {
            Ok(x) if (x as f64).abs() <= MAX_ABS => Ok(()),
            _ => Err(format!(
                "`{text}` is not a whole number (leave the field empty for a missing value)"
            )),
        },
        ColumnType::Bool => {
            if text.eq_ignore_ascii_case("true") || text.eq_ignore_ascii_case("false") {
                Ok(())
            } else {
                Err(format!(
                    "`{text}` is not `true` or `false` (leave the field empty for a missing value)"
                ))
            }
        }
    }
}

fn finite_within_limit(x: f64, text: &str) -> Result<(), String> {
    if !x.is_finite() {
        Err(format!(
            "`{text}` is not a finite number (NaN and infinities are not data; leave the field empty for a missing value)"
        ))
    } else if x.abs() > MAX_ABS {
        Err(format!(
            "`{text}` is beyond ±{MAX_ABS:e}, the largest magnitude cuelab analyses"
        ))
    } else {
        Ok(())
    }
}

fn csv_error(path: &Path, e: csv::Error) -> AnalysisError {
    let line = e.position().map_or(1, |p| p.line());
    match e.into_kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => at(
            path,
            line,
            None,
            format!("this row has {len} fields but the header has {expected_len}"),
        ),
        csv::ErrorKind::Io(source) => AnalysisError::Io {
            path: path.to_path_buf(),
            source,
        },
        csv::ErrorKind::Utf8 { err, .. } => at(
            path,
            line,
            Some(err.field() + 1),
            "the field is not valid UTF-8 text".into(),
        ),
        other => at(
            path,
            line,
            None,
            format!("not a readable CSV row: {other:?}"),
        ),
    }
}

fn check_parquet(path: &Path, types: &BTreeMap<String, ColumnType>) -> Result<(), AnalysisError> {
    let numeric: Vec<&str> = types
        .iter()
        .filter(|(_, t)| matches!(t, ColumnType::F64 | ColumnType::I64))
        .map(|(n, _)| n.as_str())
        .collect();
    if numeric.is_empty() {
        return Ok(());
    }
    let pl_path = PlRefPath::try_from_path(path).map_err(|e| crate::error::polars(path, e))?;
    let lf = LazyFrame::scan_parquet(pl_path, ScanArgsParquet::default())
        .map_err(|e| crate::error::polars(path, e))?;
    let schema = lf
        .clone()
        .collect_schema()
        .map_err(|e| crate::error::polars(path, e))?;
    for name in numeric {
        if !schema.contains(name) {
            // A missing column is reported with the others by the scan.
            continue;
        }
        let x = col(name).cast(DataType::Float64);
        let bad = x
            .clone()
            .is_finite()
            .not()
            .or(x.abs().gt(lit(MAX_ABS)))
            .fill_null(lit(false));
        let found = lf
            .clone()
            .with_row_index("__row", None)
            .filter(bad)
            .select([col("__row"), col(name).cast(DataType::Float64)])
            .limit(1)
            .collect()
            .map_err(|e| crate::error::polars(path, e))?;
        if found.height() > 0 {
            let row = found
                .column("__row")
                .ok()
                .and_then(|c| c.get(0).ok())
                .and_then(|v| v.extract::<u64>())
                .unwrap_or(0);
            let value = found
                .column(name)
                .ok()
                .and_then(|c| c.get(0).ok())
                .and_then(|v| v.extract::<f64>())
                .unwrap_or(f64::NAN);
            return Err(AnalysisError::Table {
                path: path.to_path_buf(),
                line: None,
                col: None,
                message: format!(
                    "row {}, column `{name}`: {}",
                    row + 1,
                    finite_within_limit(value, &value.to_string()).unwrap_err()
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(tag: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("cuelab-input-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("d.csv");
        std::fs::write(&path, text).unwrap();
        path
    }

    fn check_err(tag: &str, text: &str) -> String {
        let path = write(tag, text);
        let types: BTreeMap<String, ColumnType> = [
            ("y".to_string(), ColumnType::F64),
            ("ok".to_string(), ColumnType::Bool),
            ("s".to_string(), ColumnType::Str),
        ]
        .into_iter()
        .collect();
        let err = check(&path, &types).expect_err(text).to_string();
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
        err.replace(&path.display().to_string(), "d.csv")
    }

    #[test]
    fn faults_are_named_at_their_line_and_column() {
        let cases = [
            (
                "s,y,ok\na,1,true\nb,inf,false\n",
                "d.csv:3:2: column `y`: `inf` is not a finite",
            ),
            (
                "s,y,ok\na,NaN,true\n",
                "d.csv:2:2: column `y`: `NaN` is not a finite",
            ),
            (
                "s,y,ok\na,-1e308,true\n",
                "d.csv:2:2: column `y`: `-1e308` is beyond",
            ),
            (
                "s,y,ok\na,abc,true\n",
                "d.csv:2:2: column `y`: `abc` is not a number",
            ),
            (
                "s,y,ok\na,1,maybe\n",
                "d.csv:2:3: column `ok`: `maybe` is not `true`",
            ),
            (
                "s,y,ok\na,1\n",
                "d.csv:2: this row has 2 fields but the header has 3",
            ),
            (
                "s,y,y\na,1,2\n",
                "d.csv:1:3: column name `y` appears twice (columns 2 and 3)",
            ),
            ("s,y,ok\n", "d.csv:1: the file has a header but no rows"),
            ("", "d.csv:1: the file is empty"),
            // A quoted field spanning lines: the fault is on the line its record starts.
            (
                "s,y,ok\n\"a\nb\",1,true\nc,inf,true\n",
                "d.csv:4:2: column `y`",
            ),
        ];
        for (i, (text, want)) in cases.iter().enumerate() {
            let got = check_err(&format!("case{i}"), text);
            assert!(got.starts_with(want), "{text:?}: {got}");
        }
    }

    #[test]
    fn missing_values_and_ordinary_numbers_pass() {
        let path = write(
            "ok",
            "s,y,ok\na,1.5,true\nb,,FALSE\nc,-2e3,\n\"d\ne\",1e100,True\n",
        );
        let types: BTreeMap<String, ColumnType> = [
            ("y".to_string(), ColumnType::F64),
            ("ok".to_string(), ColumnType::Bool),
        ]
        .into_iter()
        .collect();
        let lines = check(&path, &types).unwrap();
        assert!(lines.locate(3).ends_with("d.csv:5"), "{}", lines.locate(3));
        assert!(lines.locate(1).ends_with("d.csv:3"));
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_non_finite_parquet_value_is_named_by_row() {
        let dir = std::env::temp_dir().join(format!("cuelab-input-pq-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("d.parquet");
        let mut df = df!(
            "s" => ["a", "b", "c"],
            "y" => [1.0, f64::NEG_INFINITY, 2.0],
        )
        .unwrap();
        ParquetWriter::new(std::fs::File::create(&path).unwrap())
            .finish(&mut df)
            .unwrap();
        let types: BTreeMap<String, ColumnType> =
            [("y".to_string(), ColumnType::F64)].into_iter().collect();
        let err = check(&path, &types).unwrap_err();
        let text = err.to_string();
        assert!(err.is_invalid_input(), "{text}");
        assert!(
            text.ends_with("d.parquet: row 2, column `y`: `-inf` is not a finite number (NaN and infinities are not data; leave the field empty for a missing value)"),
            "{text}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
