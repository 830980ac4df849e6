//! cuelab-analysis: analysis plans → polars pipelines → `cuelab-stats` → tables, figures and a
//! self-contained HTML report.
//!
//! Key design decision: **dataframes stop at the edge of this crate.** Polars does all data
//! handling in one lazy query per plan (scan with declared types → exclusion masks, including
//! SD trimming with `.over(subject)` → derived columns → `collect()`), and the small
//! group-by aggregations that make per-subject cell means. What crosses into the statistics is
//! plain `&[f64]` / level codes, so `cuelab-stats` never sees polars and can be tested against
//! R on literal vectors. Polars appears in no other crate than this one and the binary.
//!
//! The second decision: **results have one serializable shape** ([`Results`], written as
//! `results.json`, versioned by [`compute::SCHEMA`]). Markdown, CSV and HTML are renderings of
//! it, and reference values (`analysis/<name>.expected.json`) are JSON pointers into it, so a
//! number can be checked against R without any table parsing ([`expected`]).
//!
//! The third: **the data is user input, checked before any query runs** ([`input`]). A CSV is
//! read once with the `csv` crate before polars sees it, so a fault is reported at its
//! `file:line:col` in the project's words ([`AnalysisError::Table`], exit 2 in the CLI) rather
//! than as a polars message with advice for Python users. The limits enforced:
//! - every column name once in the header; every row as many fields as the header; UTF-8;
//! - a number the plan reads (dv, bounds and SD columns, ratio inputs, time-course time and
//!   value) is empty (missing) or finite within ±[`input::MAX_ABS`] = 1e100 (so sums of squares
//!   cannot overflow); a `bool` column holds `true`/`false`; a Parquet file is checked by row;
//! - a header with no rows, an empty file, an analysed row without its subject, item or factor
//!   level, and a derived ratio that is not finite (an actual duration of 0) are errors at the
//!   row's line;
//! - the design's roles (dv, subject, item, within, between) name distinct, non-empty columns,
//!   each once; plan numbers (`min`, `max`, constant durations, `bin`) are finite, `bin`
//!   positive and no finer than 1e-15 of the largest time ([`timecourse::MAX_BINS_PER_TIME`]);
//! - the output folder is not an existing file, nor the data or the plan; nothing is written
//!   until every result is computed;
//! - figure axes are always finite and non-empty: plotters never ends with a non-finite range.
//!
//! ```no_run
//! use std::path::Path;
//! use cuelab_analysis::{Formats, run_plan_file};
//! let outcome = run_plan_file(Path::new("analysis/musictime.toml"), Path::new("out"), &Formats::all())?;
//! println!("F = {}", outcome.results.anova.get("rm").unwrap().effects.get("Music").unwrap().f);
//! # Ok::<(), cuelab_analysis::AnalysisError>(())
//! ```
//!
//! `results.json` shape (every statistic has a field; keys are level / effect / term names):
//!
//! ```text
//! { schema, plan, title, data, dv, subject, item, n_rows_read, n_rows, n_subjects,
//!   counts: { read, after_incorrect, after_flagged, after_bounds, after_sd, analysed },
//!   levels: { factor: [level, ...] },
//!   descriptives: { within, between, conf_level,
//!                   cells: { "lvl[:lvl]": { levels, n, mean, sd, se, se_within, ci_lower, ci_upper } } },
//!   anova: { name: { within, between, n_subjects, incomplete_subjects,
//!                    effects: { "A x B": { df_num, df_den, ss, ss_error, mse, F, p, ges, pes,
//!                                          ges_ci, pes_ci: { lower, upper, conf_level, one_sided },
//!                                          gg: { epsilon, df_num, df_den, p } | null, hf: ... } },
//!                    sphericity: { "A": { mauchly_w, mauchly_p, gg_epsilon, hf_epsilon } } } },
//!   pairwise: { factor: { factor, n_subjects, method: "paired t" | "emmeans", conf_level,
//!               comparisons: { "a - b": { estimate, se, t, df, p, p_holm, p_bonferroni, dz, dz_ci, ci_lower, ci_upper } } } },
//!   lmm: { name: { formula, n_obs, n_groups: { g: n }, reml_criterion,
//!                  singular, fixed: { "(Intercept)" | "<factor><level>": { estimate, se, df, t, p } },
//!                  anova: { term: { df_num, df_den, F, p } },   (lmerTest type III)
//!                  random: { g | "g: <slope>" | "Residual": { variance, sd } },
//!                  correlations: { "g: a, b": { covariance, correlation } } } },
//!   congruence: { column: { n, effect, sd, t, df, p, dz, dz_ci: {...}, ci_lower, ci_upper,
//!                           per_subject: { subject: effect } } },
//!   ratings: { dv: { ...as descriptives } },   (with anova.<dv>: its rm-ANOVA)
//!   continuous: { condition, step, grid_ms, max_lag_ms, levels, n_trials, n_subjects,
//!                 incomplete_subjects, conf_level,
//!                 items: { item: { level: { n, mean, se_within, ci_lower, ci_upper, peak_ms,
//!                          peak_value, lag_ms, lag_correlation,
//!                          grid: [ { t_ms, mean, se_within, ci_lower, ci_upper } ] } } } } | null,
//!   timing: { column: { column, cells: {...as descriptives}, vierordt: { subject: { n, slope, intercept, r_squared, cv } },
//!                       mean_vierordt_slope, mean_cv } },
//!   time_course: { value, time, conditions: { level: [ { t, n, mean, ci_lower, ci_upper } ] } } | null,
//!   sdt: { step, condition, levels: [..], cells: { "subject:level": { hits, misses, false_alarms,
//!          correct_rejections, hit_rate, false_alarm_rate, d_prime, c } } } | null,
//!          (with anova.d_prime and anova.criterion: rm-ANOVAs of d′ and c over the condition)
//!   timing_quality: { n_trials, av_offset_mean, av_offset_sd, av_offset_min, av_offset_max,
//!                     av_offset_abs_p95, frames_dropped, flagged,
//!                     participants: { id: { n_trials, av_offset_mean, av_offset_abs_max, frames_dropped, flagged } } } | null,
//!   provenance: { cuelab_version, command, data_file, data_sha256, date },
//!   figures: [ name ], notes: [ text ] }
//! ```

pub mod compute;
pub mod continuous;
pub mod data;
pub mod error;
pub mod expected;
pub mod figures;
pub mod input;
pub mod lmm;
pub mod named;
pub mod plan;
pub mod power;
pub mod quality;
mod report;
mod results;
pub mod sdt;
pub mod tables;
pub mod timecourse;
mod timecourse_fig;

use std::path::{Path, PathBuf};

pub use compute::Results;
pub use error::AnalysisError;
pub use expected::{Check, Comparison, compare_file};
pub use plan::Plan;

/// Which outputs to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Formats {
    /// `results.json`.
    pub json: bool,
    /// `results.md`.
    pub markdown: bool,
    /// One CSV per table.
    pub csv: bool,
    /// `report.html` (self-contained).
    pub html: bool,
    /// Figures as SVG and PNG files.
    pub figures: bool,
}

impl Formats {
    /// Every output.
    pub fn all() -> Self {
        Self {
            json: true,
            markdown: true,
            csv: true,
            html: true,
            figures: true,
        }
    }

    /// Nothing written (results in memory only).
    pub fn none() -> Self {
        Self {
            json: false,
            markdown: false,
            csv: false,
            html: false,
            figures: false,
        }
    }

    /// Parses a comma-separated list of `json`, `md`, `csv`, `html`, `svg`/`png`/`figures`.
    pub fn parse(list: &str) -> Result<Self, AnalysisError> {
        let mut f = Self::none();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match item {
                "json" => f.json = true,
                "md" | "markdown" => f.markdown = true,
                "csv" => f.csv = true,
                "html" => f.html = true,
                "svg" | "png" | "figures" => f.figures = true,
                other => {
                    return Err(AnalysisError::Options(format!(
                        "unknown format `{other}` (expected json, md, csv, html, figures)"
                    )));
                }
            }
        }
        Ok(f)
    }
}

/// Everything one analysis produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The results.
    pub results: Results,
    /// The results as JSON (what `results.json` holds), for pointer look-ups.
    pub json: serde_json::Value,
    /// Files written.
    pub files: Vec<PathBuf>,
}

/// Runs the plan file at `plan` on its data and writes `formats` into `out_dir`.
pub fn run_plan_file(
    plan: &Path,
    out_dir: &Path,
    formats: &Formats,
) -> Result<Outcome, AnalysisError> {
    let parsed = Plan::from_file(plan)?;
    run_plan(&parsed, plan, None, Some(out_dir), formats)
}

/// Runs a parsed plan. `plan_path` anchors the plan's relative paths; `data` replaces the plan's
/// data path (CLI `--data`); without `out_dir` nothing is written.
pub fn run_plan(
    plan: &Plan,
    plan_path: &Path,
    data: Option<&Path>,
    out_dir: Option<&Path>,
    formats: &Formats,
) -> Result<Outcome, AnalysisError> {
    run_plan_for_command(plan, plan_path, data, out_dir, formats, "")
}

/// [`run_plan`] for a command line, which the provenance of the results records (empty: none).
pub fn run_plan_for_command(
    plan: &Plan,
    plan_path: &Path,
    data: Option<&Path>,
    out_dir: Option<&Path>,
    formats: &Formats,
    command: &str,
) -> Result<Outcome, AnalysisError> {
    let name = plan.name.clone().unwrap_or_else(|| {
        plan_path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "analysis".to_string())
    });
    let data_path = data.map_or_else(|| plan.resolve_data_path(plan_path), Path::to_path_buf);
    // Everything about the inputs that can be checked without reading the data is checked
    // before any query runs, and nothing is written until every result is computed.
    for spec in &plan.results.lmm {
        if let (Some(formula), Some(Err(e))) = (&spec.formula, spec.model()) {
            return Err(lmm::formula_err(formula, &e));
        }
    }
    if let Some((_, message)) = plan.design.conflict() {
        return Err(AnalysisError::Options(message));
    }
    if let Some(dir) = out_dir.filter(|_| formats != &Formats::none()) {
        check_out_dir(dir, &data_path, plan_path)?;
    }
    let prepared = data::prepare(plan, &data_path)?;
    let mut results = compute::compute(plan, &name, &data_path.display().to_string(), &prepared)?;
    results.timing_quality = quality::timing_quality(&prepared.table, &plan.design.subject)?;
    if let Some(spec) = &plan.sdt {
        let (cells, d_prime, c) = sdt::compute(
            spec,
            &plan::resolve(plan_path, &spec.responses),
            &prepared.table,
            &plan.design.subject,
        )?;
        results.sdt = Some(cells);
        results.anova.push("d_prime", d_prime);
        results.anova.push("criterion", c);
    }
    if let Some(spec) = &plan.continuous {
        let curves = spec
            .curves
            .iter()
            .map(|(level, path)| (level.clone(), plan::resolve(plan_path, path)))
            .collect();
        let inputs = continuous::Inputs {
            table: &plan::resolve(plan_path, &spec.path),
            curves: &curves,
            subject: &plan.design.subject,
            level_order: plan.design.levels.get(&spec.condition).map(Vec::as_slice),
            conf_level: plan.results.conf_level.unwrap_or(0.95),
        };
        let (result, notes) = continuous::compute(spec, &prepared, &inputs)?;
        results.continuous = Some(result);
        results.notes.extend(notes);
    }
    results.provenance = compute::Provenance {
        cuelab_version: env!("CARGO_PKG_VERSION").to_string(),
        command: (!command.is_empty()).then(|| command.to_string()),
        data_file: prepared.table.display().to_string(),
        data_sha256: sha256_file(&prepared.table)?,
        date: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    let time_course = match &plan.time_course {
        Some(spec) => Some(timecourse::compute(
            spec,
            &plan::resolve(plan_path, &spec.path),
        )?),
        None => None,
    };

    let write_dir = out_dir.filter(|_| formats != &Formats::none());
    if let Some(dir) = write_dir {
        std::fs::create_dir_all(dir).map_err(|source| AnalysisError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let figure_dir = write_dir.filter(|_| formats.figures);
    let figures = if formats.figures || formats.html {
        report::figures(plan, &results, &prepared, time_course.as_ref(), figure_dir)?
    } else {
        Vec::new()
    };
    results.notes.extend(
        time_course.as_ref().map(|_| {
            "The time-course figure shows the [time_course] table of the plan.".to_string()
        }),
    );
    let mut json =
        serde_json::to_value(&results).map_err(|e| AnalysisError::Data(e.to_string()))?;
    if let Some(obj) = json.as_object_mut() {
        obj.insert(
            "time_course".into(),
            serde_json::to_value(&time_course).map_err(|e| AnalysisError::Data(e.to_string()))?,
        );
        obj.insert(
            "figures".into(),
            figures
                .iter()
                .map(|f| serde_json::Value::from(f.name.clone()))
                .collect(),
        );
    }

    let mut files = Vec::new();
    if let Some(dir) = write_dir {
        let tables = tables::tables(&results);
        let mut write = |file: &str, content: &[u8]| -> Result<(), AnalysisError> {
            let path = dir.join(file);
            std::fs::write(&path, content).map_err(|source| AnalysisError::Io {
                path: path.clone(),
                source,
            })?;
            files.push(path);
            Ok(())
        };
        if formats.json {
            let text = serde_json::to_string_pretty(&json)
                .map_err(|e| AnalysisError::Data(e.to_string()))?;
            write("results.json", text.as_bytes())?;
        }
        if formats.markdown {
            write("results.md", report::markdown(&results, &tables).as_bytes())?;
        }
        if formats.csv {
            for t in &tables {
                write(&format!("{}.csv", sanitize(&t.name)), t.to_csv().as_bytes())?;
            }
        }
        if formats.html {
            write(
                "report.html",
                report::html(&results, &tables, &figures).as_bytes(),
            )?;
        }
        if formats.figures {
            for f in &figures {
                files.push(dir.join(format!("{}.svg", f.name)));
                files.push(dir.join(format!("{}.png", f.name)));
            }
        }
    }
    Ok(Outcome {
        results,
        json,
        files,
    })
}

/// SHA-256 of a file, in hex.
fn sha256_file(path: &Path) -> Result<String, AnalysisError> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let io = |source| AnalysisError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The output folder must be a folder (existing or not), and neither the data nor the plan.
fn check_out_dir(dir: &Path, data: &Path, plan: &Path) -> Result<(), AnalysisError> {
    if dir.exists() && !dir.is_dir() {
        return Err(AnalysisError::Options(format!(
            "the output folder {} is an existing file; give a folder",
            dir.display()
        )));
    }
    let same = |other: &Path| match (dir.canonicalize(), other.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same(data) {
        return Err(AnalysisError::Options(format!(
            "the output folder {} is the data itself; give another folder",
            dir.display()
        )));
    }
    if same(plan) {
        return Err(AnalysisError::Options(format!(
            "the output folder {} is the plan file; give another folder",
            dir.display()
        )));
    }
    Ok(())
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A design given as options (the CLI without a plan): every result that applies is computed.
#[derive(Debug, Clone, Default)]
pub struct AdHocDesign {
    /// Dependent variable.
    pub dv: String,
    /// Subject column.
    pub subject: String,
    /// Item column.
    pub item: Option<String>,
    /// Within factors.
    pub within: Vec<String>,
    /// Between factors.
    pub between: Vec<String>,
    /// Mixed models as lme4 formulas (`RT ~ a + (1 + a | participant) + (1 | item)`).
    pub lmm: Vec<String>,
    /// A derived within factor `congruence` (congruent / incongruent) from two factor columns
    /// and the stated congruent pairs (none stated: congruent when the levels are equal). It is
    /// analysed as a within factor unless the design already names it.
    pub congruence: Option<plan::Congruence>,
    /// Continuous ratings as time courses, joined to the analysed trials.
    pub continuous: Option<plan::ContinuousSpec>,
}

impl AdHocDesign {
    /// The response and the first grouping factor of an lme4 formula — what `--dv` and
    /// `--subject` default to when a formula is given.
    ///
    /// # Errors
    /// The formula does not parse (an [`AnalysisError::Options`] pointing at the term).
    pub fn roles_from_formula(formula: &str) -> Result<(String, Option<String>), AnalysisError> {
        let m = cuelab_stats::parse_formula(formula).map_err(|e| lmm::formula_err(formula, &e))?;
        Ok((
            m.response.name.clone(),
            m.random.first().map(|r| r.group.name.clone()),
        ))
    }

    /// The equivalent plan (data path as given, results left to "everything that applies";
    /// with formulas, those models plus the ANOVA and pairwise comparisons of the factors).
    ///
    /// On a cuelab export directory, practice and flagged trials are left out, as every bundled
    /// plan does (the exclusions table of the results says how many).
    pub fn to_plan(&self, data: &Path) -> Plan {
        let mut within = self.within.clone();
        let mut derive = Vec::new();
        if let Some(c) = &self.congruence {
            derive.push(plan::Derived {
                name: CONGRUENCE.to_string(),
                ratio: None,
                log_ratio: None,
                congruence: Some(c.clone()),
            });
            if !within.iter().chain(&self.between).any(|f| f == CONGRUENCE) {
                within.push(CONGRUENCE.to_string());
            }
        }
        let (columns, exclude) = if data.is_dir() {
            use cuelab_core::schema::{FLAGGED, PRACTICE};
            let columns = [PRACTICE, FLAGGED]
                .into_iter()
                .map(|c| (c.to_string(), plan::ColumnType::Bool))
                .collect();
            let exclude = plan::Exclusions {
                incorrect: Some(plan::KeepIf {
                    column: PRACTICE.to_string(),
                    value: Some("false".to_string()),
                }),
                flagged: Some(FLAGGED.to_string()),
                ..Default::default()
            };
            (columns, exclude)
        } else {
            Default::default()
        };
        let mut results = plan::Results::default();
        if !self.lmm.is_empty() {
            results.lmm = self
                .lmm
                .iter()
                .enumerate()
                .map(|(i, f)| plan::LmmSpec {
                    name: if i == 0 {
                        "lmm".to_string()
                    } else {
                        format!("lmm{}", i + 1)
                    },
                    formula: Some(f.clone()),
                    fixed: Vec::new(),
                    random: None,
                })
                .collect();
            if !within.is_empty() || !self.between.is_empty() {
                results.anova.push(plan::AnovaSpec {
                    name: "anova".to_string(),
                    within: None,
                    between: None,
                });
            }
            results.pairwise = within
                .iter()
                .map(|f| plan::PairwiseSpec { factor: f.clone() })
                .collect();
        }
        Plan {
            name: data.file_stem().map(|s| s.to_string_lossy().into_owned()),
            title: None,
            data: plan::DataSpec {
                path: data.to_path_buf(),
                columns,
            },
            exclude,
            derive,
            design: plan::Design {
                dv: self.dv.clone(),
                subject: self.subject.clone(),
                item: self.item.clone(),
                within,
                between: self.between.clone(),
                levels: Default::default(),
                reference: Default::default(),
            },
            results,
            time_course: None,
            sdt: None,
            continuous: self.continuous.clone(),
        }
    }
}

/// The derived factor of [`AdHocDesign::congruence`].
const CONGRUENCE: &str = "congruence";

/// One plan of [`reproduce`]: its outcome and the comparison with its expected file.
#[derive(Debug)]
pub struct Reproduced {
    /// The plan file.
    pub plan: PathBuf,
    /// The comparison, or why the plan could not be run / compared:
    /// [`AnalysisError::DataAbsent`] when a file it reads does not exist (the plan was not run).
    pub comparison: Result<Comparison, AnalysisError>,
}

impl Reproduced {
    /// The missing file when the plan was skipped because its data is absent.
    pub fn absent_data(&self) -> Option<&Path> {
        match &self.comparison {
            Err(AnalysisError::DataAbsent { path }) => Some(path),
            _ => None,
        }
    }
}

/// The first file `plan` reads that does not exist: its data, then its `[sdt]` responses, its
/// `[time_course]` table and its `[continuous]` table and curves (all resolved against the plan
/// file's folder).
fn first_absent_input(plan: &Plan, plan_path: &Path) -> Option<PathBuf> {
    let mut inputs = vec![plan.resolve_data_path(plan_path)];
    if let Some(sdt) = &plan.sdt {
        inputs.push(plan::resolve(plan_path, &sdt.responses));
    }
    if let Some(tc) = &plan.time_course {
        inputs.push(plan::resolve(plan_path, &tc.path));
    }
    if let Some(c) = &plan.continuous {
        inputs.push(plan::resolve(plan_path, &c.path));
        inputs.extend(c.curves.values().map(|p| plan::resolve(plan_path, p)));
    }
    inputs.into_iter().find(|p| !p.exists())
}

/// Runs every `*.toml` plan in `dir` (sorted) and compares it with `<name>.expected.json`
/// beside it. With `out_dir`, each plan's outputs go to `out_dir/<name>/`. A plan whose input
/// file does not exist is not run: its comparison is [`AnalysisError::DataAbsent`] (see
/// [`Reproduced::absent_data`]), so a clone without `../shared` can still check the rest.
pub fn reproduce(
    dir: &Path,
    out_dir: Option<&Path>,
    formats: &Formats,
) -> Result<Vec<Reproduced>, AnalysisError> {
    let entries = std::fs::read_dir(dir).map_err(|source| AnalysisError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut plans: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    plans.sort();
    let mut out = Vec::new();
    for plan_path in plans {
        let stem = plan_path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let comparison = (|| {
            let plan = Plan::from_file(&plan_path)?;
            if let Some(path) = first_absent_input(&plan, &plan_path) {
                return Err(AnalysisError::DataAbsent { path });
            }
            let sub = out_dir.map(|d| d.join(&stem));
            let outcome = run_plan(&plan, &plan_path, None, sub.as_deref(), formats)?;
            compare_file(&outcome.json, &dir.join(format!("{stem}.expected.json")))
        })();
        out.push(Reproduced {
            plan: plan_path,
            comparison,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analysis_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../analysis")
    }

    /// Runs a bundled plan and checks every recorded R value.
    fn check_plan(name: &str) -> Outcome {
        let plan_path = analysis_dir().join(format!("{name}.toml"));
        let plan = Plan::from_file(&plan_path).unwrap();
        let outcome = run_plan(&plan, &plan_path, None, None, &Formats::none()).unwrap();
        let cmp = compare_file(
            &outcome.json,
            &analysis_dir().join(format!("{name}.expected.json")),
        )
        .unwrap();
        let failures: Vec<String> = cmp
            .failures()
            .map(|c| format!("{}: expected {}, got {:?}", c.key, c.expected, c.actual))
            .collect();
        assert!(failures.is_empty(), "{name}: {}", failures.join("\n"));
        assert!(cmp.checks.len() > 30, "{name}: too few reference values");
        outcome
    }

    #[test]
    fn musictime_reproduces_every_readme_number() {
        let o = check_plan("musictime");
        // Spot-check against the README's rounded values as well.
        let rm = o.results.anova.get("rm").unwrap();
        assert_eq!(
            format!("{:.4}", rm.effects.get("Music").unwrap().f),
            "42.1309"
        );
        let lmm = o.results.lmm.get("music").unwrap();
        assert_eq!(
            format!("{:.5}", lmm.random.get("Subject").unwrap().sd),
            "11.93355"
        );
    }

    #[test]
    fn priming_lmm_and_anova_match_r() {
        let o = check_plan("priming");
        assert_eq!(o.results.counts.read, 2496);
        assert_eq!(o.results.counts.after_incorrect, 2245);
        // The derived congruence equals the data's own Congruence column: the effect is there.
        assert!(o.results.congruence.get("congruence").unwrap().effect > 0.0);
    }

    #[test]
    fn crossed_random_intercepts_on_unbalanced_simulated_data_match_lme4() {
        let o = check_plan("timing_sim");
        let m = o.results.lmm.get("crossed").unwrap();
        assert_eq!(m.n_groups.get("clip"), Some(&8));
        assert_eq!(m.n_groups.get("participant"), Some(&24));
        assert!(o.results.counts.after_flagged < o.results.counts.read);
        assert!(o.results.counts.after_sd < o.results.counts.after_flagged);
    }

    #[test]
    fn memory_bias_signal_detection_and_anovas_match_r() {
        let o = check_plan("memory_bias");
        let sdt = o.results.sdt.as_ref().unwrap();
        assert_eq!(sdt.levels, ["negative", "none", "positive"]);
        assert_eq!(sdt.cells.iter().count(), 72);
        assert!(o.results.anova.get("d_prime").is_some());
    }

    #[test]
    fn emotion_sam_on_exported_sessions_matches_afex_and_emmeans() {
        let o = check_plan("emotion_sam");
        assert_eq!(o.results.pairwise.get("music").unwrap().method, "emmeans");
        // An export has cuelab's timing columns, so the report has its timing section.
        assert!(o.results.timing_quality.is_some());
    }

    #[test]
    fn congruence_paradigm_matches_afex_lmer_test_and_effectsize() {
        let o = check_plan("congruence");
        let c = o.results.congruence.get("congruence").unwrap();
        // Every participant contributes an effect; incongruent music fits worse.
        assert_eq!((c.n, c.per_subject.iter().count()), (24, 24));
        assert!(c.effect < 0.0 && c.dz_ci.upper < 0.0);
        assert!(o.results.lmm.get("congruence").unwrap().n_groups["clip"] == 3);
        for item in [
            "sd_calm_excited",
            "sd_weak_strong",
            "sd_sad_happy",
            "sd_calm_tense",
        ] {
            assert_eq!(
                o.results.ratings.get(item).unwrap().cells.iter().count(),
                12
            );
            assert!(o.results.anova.get(item).is_some(), "{item}");
        }
    }

    #[test]
    fn continuous_time_courses_match_base_r() {
        let o = check_plan("emotion_timecourse");
        let c = o.results.continuous.as_ref().unwrap();
        assert_eq!((c.n_subjects, c.n_trials), (24, 192));
        let valence = c.items.get("valence").unwrap();
        // 0 to 24 s every 500 ms; the changing soundtracks have a lag, the constant ones none.
        assert_eq!(valence.get("sad").unwrap().grid.len(), 49);
        assert!(valence.get("sad_to_happy").unwrap().lag_ms.is_some());
        assert!(valence.get("happy").unwrap().lag_ms.is_none());
        assert!(o.results.notes.iter().any(|n| n.contains("is constant")));
    }

    #[test]
    fn congruence_on_an_unbalanced_fixture_matches_r() {
        let o = check_plan("congruence_unbalanced");
        // Eight participants lack a music x clip cell: out of that ANOVA, in the effect.
        let a = o.results.anova.get("music_by_clip").unwrap();
        assert_eq!((a.n_subjects, a.incomplete_subjects.len()), (16, 8));
        assert_eq!(o.results.congruence.get("congruence").unwrap().n, 24);
        assert!(o.results.counts.analysed < 288);
    }

    #[test]
    fn a_congruent_pair_naming_an_absent_level_is_a_data_error() {
        let path = write_csv(
            "pairs",
            "s,scene,music,y\na,x,m1,1\na,z,m2,2\nb,x,m2,3\nb,z,m1,4\n",
        );
        let text = "[data]\npath = \"d.csv\"\n[[derive]]\nname = \"cg\"\n\
                    congruence = { a = \"scene\", b = \"music\", congruent = { x = [\"m1\"], z = [\"m3\"] } }\n\
                    [design]\ndv = \"y\"\nsubject = \"s\"\nwithin = [\"cg\"]\n";
        let plan_path = path.with_file_name("p.toml");
        let plan = Plan::parse(text, &plan_path).unwrap();
        let err = run_plan(&plan, &plan_path, None, None, &Formats::none()).unwrap_err();
        assert!(err.is_invalid_input(), "{err}");
        assert!(err.to_string().contains("no level `m3`"), "{err}");
        // With the pairs as the data has them, (x, m1) and (z, m2) are the congruent rows.
        let text = text.replace("m3", "m2");
        let plan = Plan::parse(&text, &plan_path).unwrap();
        let prepared = data::prepare(&plan, &path).unwrap();
        let cg = data::text_column(&prepared.trials, "cg").unwrap();
        assert_eq!(cg, ["congruent", "congruent", "incongruent", "incongruent"]);
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn slopes_and_mixed_pairwise_plans_match_r() {
        let o = check_plan("musictime_mixed");
        assert_eq!(o.results.pairwise.get("Music").unwrap().method, "emmeans");
        let o = check_plan("timing_sim");
        assert!(o.results.lmm.get("slopes").unwrap().singular);
    }

    fn write_csv(tag: &str, text: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("cuelab-analysis-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("d.csv");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn exclusions_are_counted_step_by_step() {
        // s1: rt 100..=104 plus an outlier 1000 (beyond 1.5 SD of s1), one incorrect, one flagged,
        // one below the absolute bound.
        let mut csv = String::from("s,c,ok,fl,rt\n");
        for rt in [100, 101, 102, 103, 104, 1000] {
            csv.push_str(&format!("s1,a,yes,false,{rt}\n"));
        }
        csv.push_str("s1,a,no,false,100\ns1,a,yes,true,100\ns1,a,yes,false,5\n");
        for rt in [200, 201, 202] {
            csv.push_str(&format!("s2,a,yes,false,{rt}\n"));
        }
        let path = write_csv("excl", &csv);
        let text = "[data]\npath = \"d.csv\"\n[exclude]\nincorrect = { column = \"ok\", value = \"yes\" }\nflagged = \"fl\"\n\
                    bounds = { column = \"rt\", min = 50 }\nsd = { column = \"rt\", max_sd = 1.5 }\n\
                    [design]\ndv = \"rt\"\nsubject = \"s\"\n";
        let plan_path = path.with_file_name("p.toml");
        let plan = Plan::parse(text, &plan_path).unwrap();
        let prepared = data::prepare(&plan, &path).unwrap();
        let c = prepared.counts;
        assert_eq!(
            (
                c.read,
                c.after_incorrect,
                c.after_flagged,
                c.after_bounds,
                c.after_sd
            ),
            (12, 11, 10, 9, 8)
        );
        let kept = data::f64_column(&prepared.trials, "rt").unwrap();
        assert!(!kept.contains(&1000.0) && !kept.contains(&5.0));
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_level_missing_from_the_plan_is_a_data_error() {
        let path = write_csv("levels", "s,m,y\na,x,1\na,z,2\nb,x,3\nb,z,4\n");
        let text = "[data]\npath = \"d.csv\"\n[design]\ndv = \"y\"\nsubject = \"s\"\nwithin = [\"m\"]\n[design.levels]\nm = [\"x\", \"y\"]\n";
        let plan_path = path.with_file_name("p.toml");
        let plan = Plan::parse(text, &plan_path).unwrap();
        let err = run_plan(&plan, &plan_path, None, None, &Formats::none()).unwrap_err();
        assert!(
            matches!(err, AnalysisError::Data(_)) && err.is_invalid_input(),
            "{err}"
        );
        assert!(err.to_string().contains("`z`"), "{err}");
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn export_dir_and_parquet_give_the_same_results_as_csv() {
        use polars::prelude::*;
        let csv =
            std::fs::read_to_string(analysis_dir().join("../datasets/musictime/musictime.csv"))
                .unwrap();
        let path = write_csv("export", &csv);
        let dir = path.parent().unwrap().to_path_buf();
        // A cuelab export directory holds trials.csv (or trials.parquet).
        let export = dir.join("export");
        std::fs::create_dir_all(&export).unwrap();
        std::fs::copy(&path, export.join("trials.csv")).unwrap();
        let mut df = CsvReadOptions::default()
            .try_into_reader_with_file_path(Some(path.clone()))
            .unwrap()
            .finish()
            .unwrap();
        let parquet = dir.join("d.parquet");
        ParquetWriter::new(std::fs::File::create(&parquet).unwrap())
            .finish(&mut df)
            .unwrap();
        let plan = AdHocDesign {
            dv: "TimeGuess".into(),
            subject: "Subject".into(),
            within: vec!["Music".into()],
            ..Default::default()
        }
        .to_plan(&path);
        let f_of = |data: &Path| {
            let o = run_plan(
                &plan,
                &dir.join("p.toml"),
                Some(data),
                None,
                &Formats::none(),
            )
            .unwrap();
            o.results
                .anova
                .get("anova")
                .unwrap()
                .effects
                .get("Music")
                .unwrap()
                .f
        };
        let from_csv = f_of(&path);
        assert!((from_csv - 42.1309134218179).abs() < 1e-9);
        assert_eq!(f_of(&export), from_csv);
        assert_eq!(f_of(&parquet), from_csv);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn hostile_inputs_are_invalid_input_before_any_query() {
        let path = write_csv("hostile", "s,m,y\na,x,1\na,z,2\nb,x,3\nb,z,4\n");
        let dir = path.parent().unwrap().to_path_buf();
        let run = |design: AdHocDesign, out: Option<&Path>| {
            let plan = design.to_plan(&path);
            run_plan(&plan, &dir.join("p.toml"), None, out, &Formats::all()).unwrap_err()
        };
        let base = AdHocDesign {
            dv: "y".into(),
            subject: "s".into(),
            ..Default::default()
        };
        let overlap = run(
            AdHocDesign {
                within: vec!["m".into()],
                between: vec!["m".into()],
                ..base.clone()
            },
            None,
        );
        assert!(
            matches!(overlap, AnalysisError::Options(_)) && overlap.is_invalid_input(),
            "{overlap}"
        );
        let twice = run(
            AdHocDesign {
                within: vec!["m".into(), "m".into()],
                ..base.clone()
            },
            None,
        );
        assert!(twice.to_string().contains("listed twice"), "{twice}");
        // An output folder that is an existing file, or the data file itself.
        let file_out = run(base.clone(), Some(&path));
        assert!(file_out.is_invalid_input(), "{file_out}");
        let data_dir_out = {
            let plan = base.to_plan(&dir);
            std::fs::copy(&path, dir.join("trials.csv")).unwrap();
            run_plan(
                &plan,
                &dir.join("p.toml"),
                None,
                Some(&dir),
                &Formats::all(),
            )
            .unwrap_err()
        };
        assert!(
            data_dir_out.to_string().contains("is the data itself"),
            "{data_dir_out}"
        );
        assert!(!dir.join("results.json").exists(), "nothing written");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_derived_ratio_that_is_infinite_names_its_line() {
        let path = write_csv("ratio", "s,m,est,act\na,x,1,2\na,z,2,2\nb,x,3,0\nb,z,4,2\n");
        let text = "[data]\npath = \"d.csv\"\n[[derive]]\nname = \"r\"\n\
                    ratio = { estimate = \"est\", actual = \"act\" }\n\
                    [design]\ndv = \"r\"\nsubject = \"s\"\nwithin = [\"m\"]\n";
        let plan_path = path.with_file_name("p.toml");
        let plan = Plan::parse(text, &plan_path).unwrap();
        let err = run_plan(&plan, &plan_path, None, None, &Formats::none()).unwrap_err();
        let msg = err.to_string();
        assert!(err.is_invalid_input(), "{msg}");
        assert!(msg.contains("d.csv:4:") && msg.contains("`r`"), "{msg}");
        assert!(msg.contains("`act` = 0"), "{msg}");
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn timing_quality_and_provenance_come_from_the_table_read() {
        // Offsets 0, 2, -4, 6 (s1: 0, 2; s2: -4, 6, one flagged, 3 frames dropped) and a trial
        // without an offset.
        let text = "participant,m,y,av_offset_ms,frames_dropped,flagged\n\
                    s1,a,1,0,0,FALSE\ns1,b,2,2,0,FALSE\ns2,a,3,-4,1,TRUE\ns2,b,4,6,2,FALSE\n\
                    s2,b,5,,0,FALSE\n";
        let path = write_csv("quality", text);
        let plan = AdHocDesign {
            dv: "y".into(),
            subject: "participant".into(),
            within: vec!["m".into()],
            ..Default::default()
        }
        .to_plan(&path);
        let o = run_plan_for_command(
            &plan,
            &path.with_file_name("p.toml"),
            None,
            None,
            &Formats::none(),
            "cuelab analyze x",
        )
        .unwrap();
        let q = o.results.timing_quality.as_ref().unwrap();
        assert_eq!(q.n_trials, 4);
        assert_eq!(q.av_offset_mean, 1.0);
        assert_eq!((q.av_offset_min, q.av_offset_max), (-4.0, 6.0));
        // |offsets| sorted 0, 2, 4, 6: the type-7 95th percentile is 4 + 0.85 * 2.
        assert!((q.av_offset_abs_p95 - 5.7).abs() < 1e-12);
        assert_eq!((q.frames_dropped, q.flagged), (Some(3.0), Some(1)));
        let s2 = q.participants.get("s2").unwrap();
        assert_eq!((s2.n_trials, s2.av_offset_abs_max), (3, 6.0));
        let p = &o.results.provenance;
        assert_eq!(p.command.as_deref(), Some("cuelab analyze x"));
        // sha256 of the file as written above, computed independently by `sha256sum`.
        let expected = std::process::Command::new("sha256sum")
            .arg(&path)
            .output()
            .map(|out| String::from_utf8_lossy(&out.stdout)[..64].to_string());
        if let Ok(hex) = expected {
            assert_eq!(p.data_sha256, hex);
        }
        assert_eq!(p.data_sha256.len(), 64);
        assert!(p.date.ends_with('Z'), "{}", p.date);
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn formats_parse() {
        let f = Formats::parse("json, md").unwrap();
        assert!(f.json && f.markdown && !f.csv && !f.html && !f.figures);
        assert!(matches!(
            Formats::parse("pdf"),
            Err(AnalysisError::Options(_))
        ));
    }
}
