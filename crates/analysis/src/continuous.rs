//! Continuous ratings as time courses (emotion attribution): each trial's samples resampled onto
//! one common grid, averaged per participant and condition, then over participants with
//! Cousineau-Morey within-subject CIs at every grid point; per condition the time-averaged
//! rating, the time of the peak, and the lag at which the rating follows the soundtrack's
//! designed affect curve best.
//!
//! The continuous table has no condition column (cuelab's export keeps one row per sample and
//! the conditions once per trial), so one lazy query joins it to the plan's *analysed* trials by
//! subject, `session` and `trial_index`: the plan's exclusions (practice, flagged trials) apply
//! to the time courses too, and the export schema stays as it is. Everything after the join is
//! done on plain vectors by `cuelab-stats`, each step the R one-liner an analyst would write
//! (`approx(rule = 2)`, `rowMeans`, `which.max`, `cor` of the overlapping parts at each lag),
//! which is how `analysis/expected.R` checks it value by value.
//!
//! Choices stated once: the grid runs from 0 (the clip's onset) in steps of `grid_ms` to the
//! last sample of the shortest analysed trial, so every grid point is inside every trial; the
//! peak and the lag are those of the condition's *mean* time course (the averaged curve is what
//! the figure shows and what a single participant's noise does not move); lags run from 0 to
//! `max_lag_ms`, which may be at most a quarter of the grid's span so that every correlation
//! uses at least three quarters of the clip.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cuelab_core::schema;
use cuelab_stats as stats;
use polars::prelude::*;

use crate::data::{self, Prepared};
use crate::error::AnalysisError;
use crate::named::Named;
use crate::plan::{ColumnType, ContinuousSpec};
use crate::results::{ConditionCourse, ContinuousResult, GridPoint};

/// The most points a common grid may have (a trial of an hour at 20 Hz has 72 000 samples).
pub const MAX_GRID_POINTS: usize = 100_000;

/// What [`compute`] needs besides the spec: the resolved files and the plan's context.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The continuous table (resolved against the plan file).
    pub table: &'a Path,
    /// The designed curve of each condition level (resolved against the plan file).
    pub curves: &'a BTreeMap<String, PathBuf>,
    /// The subject column of the plan's trials (and of the continuous table).
    pub subject: &'a str,
    /// The plan's level order of the condition, if it lists one.
    pub level_order: Option<&'a [String]>,
    /// Confidence level of the intervals.
    pub conf_level: f64,
}

/// One trial's samples of one item.
struct TrialSeries {
    item: String,
    subject: String,
    /// Session and trial index, joined: the trial within the subject.
    trial: String,
    level: String,
    t: Vec<f64>,
    v: Vec<f64>,
}

fn stats_err(what: String) -> impl Fn(stats::StatsError) -> AnalysisError {
    move |e| AnalysisError::Stats {
        what: what.clone(),
        message: e.to_string(),
    }
}

/// The time courses of `spec` over the analysed trials of `prepared`, and notes for the reader.
pub fn compute(
    spec: &ContinuousSpec,
    prepared: &Prepared,
    inputs: &Inputs<'_>,
) -> Result<(ContinuousResult, Vec<String>), AnalysisError> {
    let series = read_series(spec, prepared, inputs)?;
    let table = inputs.table;
    if series.is_empty() {
        return Err(AnalysisError::Data(format!(
            "{}: no samples of {} on the analysed trials",
            table.display(),
            spec.items.join(", ")
        )));
    }
    let mut found: Vec<String> = series.iter().map(|s| s.level.clone()).collect();
    found.sort();
    found.dedup();
    let levels: Vec<String> = match inputs.level_order {
        Some(order) => order
            .iter()
            .filter(|l| found.contains(l))
            .cloned()
            .collect(),
        None => found.clone(),
    };
    if let Some(extra) = found.iter().find(|l| !levels.contains(l)) {
        return Err(AnalysisError::Data(format!(
            "{}: condition `{}` has level `{extra}`, which the plan's [design.levels] does not list",
            table.display(),
            spec.condition
        )));
    }
    if levels.len() < 2 {
        return Err(AnalysisError::Data(format!(
            "{}: the time courses need at least two levels of `{}`, found {}",
            table.display(),
            spec.condition,
            levels.len()
        )));
    }
    if let Some(level) = inputs.curves.keys().find(|l| !levels.contains(l)) {
        return Err(AnalysisError::Data(format!(
            "[continuous.curves] names `{level}`, which is not a level of `{}` in the analysed trials ({})",
            spec.condition,
            levels.join(", ")
        )));
    }

    // The common grid: 0, step, 2 step, ... up to the end of the shortest trial.
    let shortest = series
        .iter()
        .map(|s| s.t[s.t.len() - 1])
        .fold(f64::INFINITY, f64::min);
    if shortest / spec.grid_ms > MAX_GRID_POINTS as f64 {
        return Err(AnalysisError::Data(format!(
            "{}: a grid step of {} ms over {shortest} ms makes more than {MAX_GRID_POINTS} grid points; choose a wider `grid_ms`",
            table.display(),
            spec.grid_ms
        )));
    }
    let n_grid = (shortest / spec.grid_ms).floor() as i64 + 1;
    if n_grid < 2 {
        return Err(AnalysisError::Data(format!(
            "{}: the shortest analysed trial ends at {shortest} ms, less than one grid step of {} ms",
            table.display(),
            spec.grid_ms
        )));
    }
    let grid: Vec<f64> = (0..n_grid).map(|k| k as f64 * spec.grid_ms).collect();
    let max_lag = (spec.max_lag() / spec.grid_ms + 1e-9).floor() as usize;
    if 4 * max_lag > grid.len() - 1 {
        return Err(AnalysisError::Data(format!(
            "{}: a lag of {} ms is more than a quarter of the {} ms every trial spans; give a smaller `max_lag_ms`",
            table.display(),
            spec.max_lag(),
            grid[grid.len() - 1]
        )));
    }

    // Per item, subject and level: the sum of the trials' resampled series and their count.
    type Key = (String, String, usize);
    let mut sums: BTreeMap<Key, (Vec<f64>, usize)> = BTreeMap::new();
    for s in &series {
        let resampled = stats::resample_linear(&s.t, &s.v, &grid).map_err(stats_err(format!(
            "resampling {}'s {} ratings",
            s.subject, s.item
        )))?;
        let level = levels.iter().position(|l| l == &s.level).unwrap_or(0);
        let entry = sums
            .entry((s.item.clone(), s.subject.clone(), level))
            .or_insert_with(|| (vec![0.0; grid.len()], 0));
        for (acc, v) in entry.0.iter_mut().zip(resampled) {
            *acc += v;
        }
        entry.1 += 1;
    }
    // Subjects with every level of every item; the others are left out, as afex does.
    let mut subjects: Vec<String> = series.iter().map(|s| s.subject.clone()).collect();
    subjects.sort();
    subjects.dedup();
    let (complete, incomplete): (Vec<String>, Vec<String>) = subjects.into_iter().partition(|s| {
        spec.items
            .iter()
            .all(|item| (0..levels.len()).all(|l| sums.contains_key(&(item.clone(), s.clone(), l))))
    });
    if complete.len() < 2 {
        return Err(AnalysisError::Data(format!(
            "{}: fewer than two subjects have time courses in every level of `{}`",
            table.display(),
            spec.condition
        )));
    }
    let mut notes = Vec::new();
    if !incomplete.is_empty() {
        notes.push(format!(
            "continuous: {} subject(s) without every level of `{}` were left out: {}",
            incomplete.len(),
            spec.condition,
            incomplete.join(", ")
        ));
    }

    let n = complete.len();
    let j = levels.len();
    let mut items = Named::default();
    for item in &spec.items {
        // Each complete subject's mean curve per level.
        let curve = |s: &String, l: usize| -> Vec<f64> {
            let (sum, count) = &sums[&(item.clone(), s.clone(), l)];
            sum.iter().map(|x| x / *count as f64).collect()
        };
        let curves: Vec<Vec<Vec<f64>>> = complete
            .iter()
            .map(|s| (0..j).map(|l| curve(s, l)).collect())
            .collect();
        let what = format!("time course of {item}");
        let describe = |values: &[f64]| -> Result<Vec<stats::CellSummary>, AnalysisError> {
            let matrix = stats::CellMatrix::new(values, n, j).map_err(stats_err(what.clone()))?;
            stats::describe(&matrix, inputs.conf_level).map_err(stats_err(what.clone()))
        };
        let mut points: Vec<Vec<GridPoint>> = vec![Vec::with_capacity(grid.len()); j];
        for (k, &t_ms) in grid.iter().enumerate() {
            let values: Vec<f64> = curves
                .iter()
                .flat_map(|by_level| by_level.iter().map(move |c| c[k]))
                .collect();
            for (l, cell) in describe(&values)?.into_iter().enumerate() {
                points[l].push(GridPoint {
                    t_ms,
                    mean: cell.mean,
                    se_within: cell.se_within,
                    ci_lower: cell.ci_lower,
                    ci_upper: cell.ci_upper,
                });
            }
        }
        let averages: Vec<f64> = curves
            .iter()
            .flat_map(|by_level| {
                by_level
                    .iter()
                    .map(|c| c.iter().sum::<f64>() / c.len() as f64)
            })
            .collect();
        let overall = describe(&averages)?;
        let mut by_level = Named::default();
        for (l, (level, grid_points)) in levels.iter().zip(points).enumerate() {
            let mean_curve: Vec<f64> = grid_points.iter().map(|p| p.mean).collect();
            let peak = stats::peak(&grid, &mean_curve).map_err(stats_err(what.clone()))?;
            let (lag_ms, lag_correlation) = match inputs.curves.get(level) {
                Some(path) => {
                    let designed = read_curve(path, item)?;
                    let designed = stats::resample_linear(&designed.0, &designed.1, &grid)
                        .map_err(stats_err(format!("the curve {}", path.display())))?;
                    match stats::best_lag(&mean_curve, &designed, max_lag) {
                        Ok(fit) => (Some(fit.lag as f64 * spec.grid_ms), Some(fit.correlation)),
                        Err(stats::StatsError::Degenerate(_)) => {
                            let what = if designed.iter().all(|v| *v == designed[0]) {
                                format!("the designed curve ({}) is", path.display())
                            } else {
                                "the mean rating is".to_string()
                            };
                            notes.push(format!(
                                "continuous {item}, {level}: {what} constant over the clip, so no lag can be estimated"
                            ));
                            (None, None)
                        }
                        Err(e) => return Err(stats_err(what.clone())(e)),
                    }
                }
                None => (None, None),
            };
            let o = &overall[l];
            by_level.push(
                level.clone(),
                ConditionCourse {
                    n,
                    mean: o.mean,
                    se_within: o.se_within,
                    ci_lower: o.ci_lower,
                    ci_upper: o.ci_upper,
                    peak_ms: peak.time,
                    peak_value: peak.value,
                    lag_ms,
                    lag_correlation,
                    grid: grid_points,
                },
            );
        }
        items.push(item.clone(), by_level);
    }
    let n_trials = {
        let mut trials: Vec<(&str, &str)> = series
            .iter()
            .map(|s| (s.subject.as_str(), s.trial.as_str()))
            .collect();
        trials.sort_unstable();
        trials.dedup();
        trials.len()
    };
    Ok((
        ContinuousResult {
            condition: spec.condition.clone(),
            step: spec.step.clone(),
            grid_ms: spec.grid_ms,
            max_lag_ms: spec.max_lag(),
            levels,
            n_trials,
            n_subjects: n,
            incomplete_subjects: incomplete,
            conf_level: inputs.conf_level,
            items,
        },
        notes,
    ))
}

const S: &str = "__s";
const SESSION: &str = "__session";
const TRIAL: &str = "__trial";
const COND: &str = "__condition";
const ITEM: &str = "__item";
const T: &str = "__t";
const V: &str = "__v";

/// One lazy query: the continuous table's samples of the wanted items, joined to the analysed
/// trials for the condition, sorted by item, subject, session, trial and time; cut into one
/// series per trial and item.
fn read_series(
    spec: &ContinuousSpec,
    prepared: &Prepared,
    inputs: &Inputs<'_>,
) -> Result<Vec<TrialSeries>, AnalysisError> {
    let subject = inputs.subject;
    let mut types: BTreeMap<String, ColumnType> = [
        (subject.to_string(), ColumnType::Str),
        (schema::SESSION.to_string(), ColumnType::Str),
        (schema::TRIAL_INDEX.to_string(), ColumnType::Str),
        (schema::ITEM.to_string(), ColumnType::Str),
        (schema::T_MS.to_string(), ColumnType::F64),
        (schema::VALUE.to_string(), ColumnType::F64),
    ]
    .into_iter()
    .collect();
    if spec.step.is_some() {
        types.insert(schema::STEP.to_string(), ColumnType::Str);
    }
    let (samples, table, _) = data::scan(inputs.table, &types)?;
    let pl = |e| crate::error::polars(&table, e);
    let text = |name: &str| col(name).cast(DataType::String);
    let trials = prepared
        .trials
        .clone()
        .lazy()
        .select([
            text(subject).alias(S),
            text(schema::SESSION).alias(SESSION),
            text(schema::TRIAL_INDEX).alias(TRIAL),
            text(spec.condition.as_str()).alias(COND),
        ])
        .filter(col(COND).is_not_null().and(col(COND).neq(lit(""))));
    let wanted = spec
        .items
        .iter()
        .map(|i| col(schema::ITEM).eq(lit(i.as_str())))
        .reduce(Expr::or)
        .unwrap_or_else(|| lit(false));
    let wanted = match &spec.step {
        Some(step) => wanted.and(col(schema::STEP).eq(lit(step.as_str()))),
        None => wanted,
    };
    let keys = [col(S), col(SESSION), col(TRIAL)];
    let joined = samples
        .filter(wanted)
        .select([
            text(subject).alias(S),
            text(schema::SESSION).alias(SESSION),
            text(schema::TRIAL_INDEX).alias(TRIAL),
            text(schema::ITEM).alias(ITEM),
            col(schema::T_MS).cast(DataType::Float64).alias(T),
            col(schema::VALUE).cast(DataType::Float64).alias(V),
        ])
        .drop_nulls(None)
        .join(trials, keys.clone(), keys, JoinArgs::new(JoinType::Inner))
        .sort([ITEM, S, SESSION, TRIAL, T], SortMultipleOptions::default())
        .collect()
        .map_err(pl)?;
    let items = data::text_column(&joined, ITEM)?;
    let subjects = data::text_column(&joined, S)?;
    let sessions = data::text_column(&joined, SESSION)?;
    let trial_ids = data::text_column(&joined, TRIAL)?;
    let conds = data::text_column(&joined, COND)?;
    let times = data::f64_column(&joined, T)?;
    let values = data::f64_column(&joined, V)?;
    let mut out: Vec<TrialSeries> = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    for i in 0..joined.height() {
        let same = current.is_some_and(|(start, _)| {
            items[i] == items[start]
                && subjects[i] == subjects[start]
                && sessions[i] == sessions[start]
                && trial_ids[i] == trial_ids[start]
        });
        if !same {
            out.push(TrialSeries {
                item: items[i].clone(),
                subject: subjects[i].clone(),
                trial: format!("{}/{}", sessions[i], trial_ids[i]),
                level: conds[i].clone(),
                t: Vec::new(),
                v: Vec::new(),
            });
            current = Some((i, out.len() - 1));
        }
        let series = out.last_mut().expect("a series was pushed above");
        if series.t.last().is_some_and(|&last| last >= times[i]) {
            return Err(AnalysisError::Data(format!(
                "{}: {} has two {} samples at {} ms in session {}, trial {}; each time may occur once per trial",
                table.display(),
                subjects[i],
                items[i],
                times[i],
                sessions[i],
                trial_ids[i]
            )));
        }
        series.t.push(times[i]);
        series.v.push(values[i]);
    }
    Ok(out)
}

/// A designed affect curve: `t_s` and the `item` column of a CSV, as (times in ms, values).
fn read_curve(path: &Path, item: &str) -> Result<(Vec<f64>, Vec<f64>), AnalysisError> {
    let at = |line: Option<u64>, message: String| AnalysisError::Table {
        path: path.to_path_buf(),
        line,
        col: None,
        message,
    };
    let file = std::fs::File::open(path).map_err(|source| AnalysisError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut reader = csv::Reader::from_reader(file);
    let header = reader
        .headers()
        .map_err(|e| at(Some(1), e.to_string()))?
        .clone();
    let column = |name: &str| {
        header.iter().position(|h| h == name).ok_or_else(|| {
            at(
                Some(1),
                format!(
                    "a designed curve needs the columns `t_s` and `{item}`; there is no `{name}`"
                ),
            )
        })
    };
    let (ti, vi) = (column("t_s")?, column(item)?);
    let (mut t, mut v) = (Vec::new(), Vec::new());
    for (row, record) in reader.records().enumerate() {
        let line = row as u64 + 2;
        let record = record.map_err(|e| at(Some(line), e.to_string()))?;
        let number = |i: usize, name: &str| -> Result<f64, AnalysisError> {
            let text = record.get(i).unwrap_or("").trim();
            text.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && x.abs() <= crate::input::MAX_ABS)
                .ok_or_else(|| {
                    at(
                        Some(line),
                        format!("column `{name}`: `{text}` is not a finite number"),
                    )
                })
        };
        t.push(number(ti, "t_s")? * 1000.0);
        v.push(number(vi, item)?);
    }
    if t.is_empty() {
        return Err(at(None, "a designed curve has no rows".to_string()));
    }
    if let Some(i) = t.windows(2).position(|w| w[1] <= w[0]) {
        return Err(at(
            Some(i as u64 + 3),
            "`t_s` must increase from row to row".to_string(),
        ));
    }
    Ok((t, v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Formats, Plan, run_plan};

    /// A folder with a trials table, a continuous table and a curve: two subjects, two
    /// conditions, one trial each.
    fn fixture(tag: &str, continuous: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("cuelab-cont-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("trials.csv"),
            "participant,session,trial_index,music,y\np1,1,1,a,1\np1,1,2,b,2\np2,1,1,b,3\np2,1,2,a,5\n",
        )
        .unwrap();
        std::fs::write(dir.join("continuous.csv"), continuous).unwrap();
        std::fs::write(
            dir.join("a.curve.csv"),
            "t_s,valence\n0,1\n1,1\n2,5\n3,5\n4,5\n",
        )
        .unwrap();
        dir
    }

    const PLAN: &str = "[data]\npath = \"trials.csv\"\n[design]\ndv = \"y\"\nsubject = \"participant\"\n\
                        [continuous]\npath = \"continuous.csv\"\ncondition = \"music\"\nitems = [\"valence\"]\n\
                        grid_ms = 500\nmax_lag_ms = 500\n[continuous.curves]\na = \"a.curve.csv\"\n";

    fn samples(rows: &[(&str, u32, f64, f64)]) -> String {
        let mut out = String::from("participant,session,trial_index,step,item,t_ms,value\n");
        for (p, trial, t, v) in rows {
            out.push_str(&format!("{p},1,{trial},trace,valence,{t},{v}\n"));
        }
        out
    }

    fn run(dir: &Path, plan: &str) -> Result<crate::Outcome, AnalysisError> {
        let plan_path = dir.join("p.toml");
        let plan = Plan::parse(plan, &plan_path).unwrap();
        run_plan(&plan, &plan_path, None, None, &Formats::none())
    }

    #[test]
    fn trials_are_resampled_averaged_and_joined_to_their_condition() {
        // Each trial rises linearly; p1's trial 1 (a) ends at 2000 ms, the others at 2500 ms,
        // so the grid is 0..=2000 ms. Trial 2 of p2 is condition a although its index is 2.
        let mut rows = Vec::new();
        for (p, trial, slope) in [
            ("p1", 1, 1.0),
            ("p1", 2, 2.0),
            ("p2", 1, 3.0),
            ("p2", 2, 4.0),
        ] {
            let end = if (p, trial) == ("p1", 1) {
                2000.0
            } else {
                2500.0
            };
            let mut t = 0.0;
            while t <= end {
                rows.push((p, trial, t, slope * t / 1000.0));
                t += 250.0;
            }
        }
        let dir = fixture("ok", &samples(&rows));
        let o = run(&dir, PLAN).unwrap();
        let c = o.results.continuous.as_ref().unwrap();
        let a = c.items.get("valence").unwrap().get("a").unwrap();
        // Condition a: p1 slope 1, p2 slope 4 → mean slope 2.5; at 2000 ms the mean is 5.
        assert_eq!(a.grid.len(), 5);
        assert_eq!((a.grid[4].t_ms, a.grid[4].mean), (2000.0, 5.0));
        // The mean over the grid (0, 0.5, ..., 2 s) of 2.5 t is 2.5; the peak is at the end.
        assert!((a.mean - 2.5).abs() < 1e-12);
        assert_eq!((a.peak_ms, a.peak_value), (2000.0, 5.0));
        // A rising line against a step curve: some lag in 0..=500 ms is found.
        assert!(a.lag_ms.is_some_and(|l| l == 0.0 || l == 500.0));
        // Condition b has no curve: no lag, and no note about it.
        assert!(
            c.items
                .get("valence")
                .unwrap()
                .get("b")
                .unwrap()
                .lag_ms
                .is_none()
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_repeated_time_or_too_long_a_lag_is_a_data_error() {
        let rows = [
            ("p1", 1, 0.0, 1.0),
            ("p1", 1, 0.0, 2.0),
            ("p1", 2, 0.0, 1.0),
            ("p2", 1, 0.0, 1.0),
            ("p2", 2, 0.0, 1.0),
        ];
        let dir = fixture("dup", &samples(&rows));
        let err = run(&dir, PLAN).unwrap_err();
        assert!(err.is_invalid_input(), "{err}");
        assert!(
            err.to_string().contains("two valence samples at 0 ms"),
            "{err}"
        );
        std::fs::remove_dir_all(dir).unwrap();

        let mut rows = Vec::new();
        for (p, trial) in [("p1", 1), ("p1", 2), ("p2", 1), ("p2", 2)] {
            for k in 0..5 {
                rows.push((p, trial, f64::from(k) * 500.0, f64::from(k)));
            }
        }
        let dir = fixture("lag", &samples(&rows));
        // Five grid points span 2000 ms: a 1000-ms lag is more than a quarter of it.
        let err = run(&dir, &PLAN.replace("max_lag_ms = 500", "max_lag_ms = 1000")).unwrap_err();
        assert!(err.to_string().contains("more than a quarter"), "{err}");
        let err = run(&dir, &PLAN.replace("grid_ms = 500", "grid_ms = 1e-9")).unwrap_err();
        assert!(
            err.is_invalid_input() && err.to_string().contains("wider `grid_ms`"),
            "{err}"
        );
        let err = run(
            &dir,
            &PLAN.replace("a = \"a.curve.csv\"", "c = \"a.curve.csv\""),
        )
        .unwrap_err();
        assert!(err.to_string().contains("names `c`"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
