//! Power by simulation: the share of simulated studies whose test comes out below α, per sample
//! size, with a Clopper–Pearson interval.
//!
//! Key design decision: this module never simulates. The caller (the binary, which may use the
//! session runner) hands [`estimate`] a function that produces, for one replication, the
//! p-value of the test at every sample size; this crate stays free of sessions and devices, and
//! the aggregation is testable with any p-value source. [`p_value`] runs an analysis plan in
//! process on the first `n` participants of a table and picks the tested effect's p.

use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::Serialize;
use statrs::distribution::{Beta, ContinuousCDF};

use crate::error::AnalysisError;
use crate::figures;
use crate::plan::Plan;
use crate::{Formats, run_plan};

/// The test whose power is estimated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Test {
    /// The effect of the plan's first ANOVA (`anova:<effect>`; factors joined by ` x `).
    Anova(String),
    /// A term of the plan's first mixed model's type III table (`lmm:<term>`).
    Lmm(String),
    /// The paired t-test (uncorrected p) between two levels of the plan's first pairwise
    /// factor (`pairwise:<a>,<b>`, in either order): the test whose power `power.t.test(type =
    /// "paired")` gives analytically.
    Pairwise(String, String),
}

impl Test {
    /// Parses `anova:<effect>`, `lmm:<term>` or `pairwise:<a>,<b>`.
    pub fn parse(text: &str) -> Result<Self, AnalysisError> {
        match text.split_once(':') {
            Some(("anova", e)) if !e.is_empty() => Ok(Self::Anova(e.to_string())),
            Some(("lmm", t)) if !t.is_empty() => Ok(Self::Lmm(t.to_string())),
            Some(("pairwise", pair)) => match pair.split_once(',') {
                Some((a, b)) if !a.is_empty() && !b.is_empty() && a != b => {
                    Ok(Self::Pairwise(a.to_string(), b.to_string()))
                }
                _ => Err(AnalysisError::Options(format!(
                    "--test `{text}`: expected pairwise:<level>,<other level>"
                ))),
            },
            _ => Err(AnalysisError::Options(format!(
                "--test `{text}`: expected anova:<effect>, lmm:<term> or pairwise:<a>,<b>"
            ))),
        }
    }

    /// The test as `parse` reads it.
    pub fn spec(&self) -> String {
        match self {
            Self::Anova(e) => format!("anova:{e}"),
            Self::Lmm(t) => format!("lmm:{t}"),
            Self::Pairwise(a, b) => format!("pairwise:{a},{b}"),
        }
    }

    /// The test in words, for titles.
    pub fn describe(&self) -> String {
        match self {
            Self::Anova(e) => format!("the ANOVA effect {e}"),
            Self::Lmm(t) => format!("the mixed-model term {t}"),
            Self::Pairwise(a, b) => format!("the paired t-test {a} vs {b}"),
        }
    }
}

/// Power at one sample size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PowerRow {
    /// Participants per simulated study.
    pub n: usize,
    /// Replications.
    pub reps: usize,
    /// Replications with p < α.
    pub significant: usize,
    /// `significant / reps`.
    pub power: f64,
    /// Clopper–Pearson 95% lower bound.
    pub ci_low: f64,
    /// Clopper–Pearson 95% upper bound.
    pub ci_high: f64,
}

/// The exact (Clopper–Pearson) two-sided interval of a binomial proportion `k / n`, as R's
/// `binom.test(k, n, conf.level = conf)$conf.int`.
pub fn clopper_pearson(k: usize, n: usize, conf: f64) -> (f64, f64) {
    let a = (1.0 - conf) / 2.0;
    let (kf, nf) = (k as f64, n as f64);
    let low = if k == 0 {
        0.0
    } else {
        Beta::new(kf, nf - kf + 1.0).map_or(f64::NAN, |b| b.inverse_cdf(a))
    };
    let high = if k == n {
        1.0
    } else {
        Beta::new(kf + 1.0, nf - kf).map_or(f64::NAN, |b| b.inverse_cdf(1.0 - a))
    };
    (low, high)
}

/// Runs `reps` replications on `jobs` threads (`replicate(rep)` gives the p-value at each of
/// `sizes`, in order) and counts those below `alpha`. A replication's p-values depend only on
/// its number, so the counts do not depend on `jobs` or on the order the threads finish in.
/// The first error stops the remaining replications and is returned.
pub fn estimate(
    sizes: &[usize],
    reps: usize,
    alpha: f64,
    jobs: usize,
    replicate: impl Fn(usize) -> Result<Vec<f64>, AnalysisError> + Sync,
) -> Result<Vec<PowerRow>, AnalysisError> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let significant = Mutex::new(vec![0usize; sizes.len()]);
    let failure: Mutex<Option<(usize, AnalysisError)>> = Mutex::new(None);
    let work = || {
        while !stop.load(Ordering::SeqCst) {
            let rep = next.fetch_add(1, Ordering::SeqCst);
            if rep >= reps {
                return;
            }
            let outcome = replicate(rep).and_then(|ps| {
                if ps.len() == sizes.len() {
                    Ok(ps)
                } else {
                    Err(AnalysisError::Data(format!(
                        "replication {rep} gave {} p-values for {} sample sizes",
                        ps.len(),
                        sizes.len()
                    )))
                }
            });
            match outcome {
                Ok(ps) => {
                    let mut counts = significant.lock().unwrap_or_else(|e| e.into_inner());
                    for (s, p) in counts.iter_mut().zip(ps) {
                        // A test that cannot be computed (NaN) counts as not significant.
                        if p < alpha {
                            *s += 1;
                        }
                    }
                }
                Err(e) => {
                    stop.store(true, Ordering::SeqCst);
                    let mut slot = failure.lock().unwrap_or_else(|e| e.into_inner());
                    // Keep the error of the lowest replication, so which one is reported does
                    // not depend on thread timing when several fail.
                    if slot.as_ref().is_none_or(|(r, _)| rep < *r) {
                        *slot = Some((rep, e));
                    }
                }
            }
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..jobs.max(1) {
            scope.spawn(work);
        }
        work();
    });
    if let Some((_, e)) = failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e);
    }
    let significant = significant.into_inner().unwrap_or_else(|e| e.into_inner());
    Ok(sizes
        .iter()
        .zip(significant)
        .map(|(&n, k)| {
            let (ci_low, ci_high) = clopper_pearson(k, reps, 0.95);
            PowerRow {
                n,
                reps,
                significant: k,
                power: k as f64 / reps as f64,
                ci_low,
                ci_high,
            }
        })
        .collect())
}

/// Writes `power.csv`, `power.json` and the power curve (`power.svg`, `power.png`) into `dir`.
pub fn write(
    rows: &[PowerRow],
    title: &str,
    extra: serde_json::Value,
    dir: &Path,
) -> Result<Vec<PathBuf>, AnalysisError> {
    std::fs::create_dir_all(dir).map_err(|source| AnalysisError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut csv = String::from("n,reps,power,ci_low,ci_high\n");
    for r in rows {
        csv.push_str(&format!(
            "{},{},{},{},{}\n",
            r.n, r.reps, r.power, r.ci_low, r.ci_high
        ));
    }
    let json = serde_json::json!({ "title": title, "rows": rows, "settings": extra });
    let mut files = Vec::new();
    for (name, text) in [
        ("power.csv", csv),
        (
            "power.json",
            serde_json::to_string_pretty(&json).map_err(|e| AnalysisError::Data(e.to_string()))?,
        ),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|source| AnalysisError::Io {
            path: path.clone(),
            source,
        })?;
        files.push(path);
    }
    let points: Vec<figures::PowerPoint> = rows
        .iter()
        .map(|r| (r.n, r.power, r.ci_low, r.ci_high))
        .collect();
    figures::power_curve(&points, title, Some(dir))?;
    files.push(dir.join("power.svg"));
    files.push(dir.join("power.png"));
    Ok(files)
}

/// Writes the rows of the first `n` participants (in sorted order of `subject`) of `table` as
/// CSV to `out`.
pub fn first_participants(
    table: &Path,
    subject: &str,
    n: usize,
    out: &Path,
) -> Result<(), AnalysisError> {
    let pl = |e| crate::error::polars(table, e);
    let table = crate::data::resolve_table(table)?;
    let path = PlRefPath::try_from_path(&table).map_err(pl)?;
    let lf = if table
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
    {
        LazyFrame::scan_parquet(path, ScanArgsParquet::default()).map_err(pl)?
    } else {
        LazyCsvReader::new(path)
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .finish()
            .map_err(pl)?
    };
    let mut df = lf.collect().map_err(pl)?;
    let mut ids = crate::data::text_column(&df, subject)?;
    ids.sort();
    ids.dedup();
    ids.truncate(n);
    let keep: std::collections::HashSet<String> = ids.into_iter().collect();
    let texts = df.column(subject)?.cast(&DataType::String)?;
    let mask: BooleanChunked = texts
        .str()?
        .iter()
        .map(|v| Some(v.is_some_and(|v| keep.contains(v))))
        .collect();
    df = df.filter(&mask)?;
    let mut f = std::fs::File::create(out).map_err(|source| AnalysisError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    CsvWriter::new(&mut f).finish(&mut df).map_err(pl)?;
    Ok(())
}

/// Runs `plan` in memory on `data` and returns the p-value of `test` (NaN when the result
/// cannot be computed on these data, e.g. too few participants).
pub fn p_value(
    plan: &Plan,
    plan_path: &Path,
    data: &Path,
    test: &Test,
) -> Result<f64, AnalysisError> {
    let outcome = match run_plan(plan, plan_path, Some(data), None, &Formats::none()) {
        Ok(o) => o,
        Err(AnalysisError::Stats { .. }) => return Ok(f64::NAN),
        Err(e) => return Err(e),
    };
    let r = &outcome.results;
    let missing = |what: &str| AnalysisError::Options(format!("--test: the plan has no {what}"));
    match test {
        Test::Anova(effect) => {
            let (_, a) = r.anova.iter().next().ok_or_else(|| missing("ANOVA"))?;
            a.effects
                .get(effect)
                .map(|e| e.p)
                .ok_or_else(|| missing(&format!("ANOVA effect `{effect}`")))
        }
        Test::Lmm(term) => {
            let (_, m) = r.lmm.iter().next().ok_or_else(|| missing("mixed model"))?;
            m.anova
                .get(term)
                .map(|t| t.p)
                .ok_or_else(|| missing(&format!("mixed-model term `{term}`")))
        }
        Test::Pairwise(a, b) => {
            let (_, pw) = r
                .pairwise
                .iter()
                .next()
                .ok_or_else(|| missing("pairwise comparisons"))?;
            pw.comparisons
                .get(&format!("{a} - {b}"))
                .or_else(|| pw.comparisons.get(&format!("{b} - {a}")))
                .map(|c| c.p)
                .ok_or_else(|| missing(&format!("comparison of `{a}` with `{b}`")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Recorded by crates/analysis/tests/r/power.R (R 4.2.2).
    const R_0_40: f64 = 0.08809730287880235;
    const R_7_40: (f64, f64) = (0.0733827293520852, 0.3277901333615859);
    const R_40_40: f64 = 0.9119026971211977;
    const R_13_50: (f64, f64) = (0.14630058439655447, 0.40344767872806564);
    const R_POWER_12_08: f64 = 0.7136569728381609;
    const R_POWER_24_05: f64 = 0.6503837848539582;

    #[test]
    fn clopper_pearson_matches_binom_test() {
        let check = |k, n, lo: f64, hi: f64| {
            let (l, h) = clopper_pearson(k, n, 0.95);
            assert!(
                (l - lo).abs() <= 1e-9 * lo.max(1e-300),
                "{k}/{n}: {l} vs {lo}"
            );
            assert!((h - hi).abs() <= 1e-9 * hi, "{k}/{n}: {h} vs {hi}");
        };
        check(0, 40, 0.0, R_0_40);
        check(7, 40, R_7_40.0, R_7_40.1);
        check(40, 40, R_40_40, 1.0);
        check(13, 50, R_13_50.0, R_13_50.1);
    }

    /// SplitMix64 and Box–Muller: a seeded standard normal stream for the simulation below.
    struct Normal(u64);
    impl Normal {
        fn uniform(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }
        fn next(&mut self) -> f64 {
            let (u, v) = (self.uniform(), self.uniform());
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        }
    }

    /// Paired differences with a known d_z (0.8 at n = 12, 0.5 at n = 24), tested by
    /// `cuelab_stats::paired_t` in each of 2000 replications: the simulated power lies inside
    /// its own Clopper–Pearson interval around R's analytic `power.t.test`.
    #[test]
    fn simulated_power_of_a_known_effect_agrees_with_the_analytic_paired_t_power() {
        for (n, dz, analytic) in [(12, 0.8, R_POWER_12_08), (24, 0.5, R_POWER_24_05)] {
            let rows = estimate(&[n], 2000, 0.05, 2, |rep| {
                // Each replication has its own stream, so the result does not depend on which
                // thread ran it.
                let mut rng = Normal(((n as u64) << 32) + rep as u64);
                let d: Vec<f64> = (0..n).map(|_| dz + rng.next()).collect();
                let zero = vec![0.0; n];
                Ok(vec![
                    cuelab_stats::paired_t(&d, &zero, 0.95)
                        .map_err(|e| AnalysisError::Data(e.to_string()))?
                        .p,
                ])
            })
            .unwrap();
            let r = rows[0];
            assert_eq!((r.n, r.reps), (n, 2000));
            assert!(
                r.ci_low <= analytic && analytic <= r.ci_high,
                "n = {n}: simulated {} [{}, {}], analytic {analytic}",
                r.power,
                r.ci_low,
                r.ci_high
            );
        }
    }

    #[test]
    fn counts_do_not_depend_on_the_number_of_threads_and_the_first_failure_is_returned() {
        // Replication r gives p = r / 100 at n = 4 and 0.5 + r / 1000 at n = 8.
        let p = |rep: usize| Ok(vec![rep as f64 / 100.0, 0.5 + rep as f64 / 1000.0]);
        let one = estimate(&[4, 8], 100, 0.05, 1, p).unwrap();
        let four = estimate(&[4, 8], 100, 0.05, 4, p).unwrap();
        assert_eq!(one, four);
        // p = 0.00 .. 0.04 are below 0.05 at n = 4; none is at n = 8.
        assert_eq!((one[0].significant, one[1].significant), (5, 0));
        let failing = |rep: usize| {
            if rep >= 7 {
                Err(AnalysisError::Data(format!("replication {rep} failed")))
            } else {
                Ok(vec![0.5])
            }
        };
        for jobs in [1, 3] {
            let e = estimate(&[4], 20, 0.05, jobs, failing).unwrap_err();
            assert!(e.to_string().contains("failed"), "{e}");
        }
        let short = estimate(&[4, 8], 3, 0.05, 2, |_| Ok(vec![0.5])).unwrap_err();
        assert!(
            short.to_string().contains("gave 1 p-values for 2"),
            "{short}"
        );
    }

    #[test]
    fn tests_parse_and_a_bad_one_is_invalid_input() {
        assert_eq!(
            Test::parse("anova:music").unwrap(),
            Test::Anova("music".into())
        );
        assert_eq!(Test::parse("lmm:a:b").unwrap(), Test::Lmm("a:b".into()));
        assert_eq!(
            Test::parse("pairwise:arousing,silence").unwrap(),
            Test::Pairwise("arousing".into(), "silence".into())
        );
        assert_eq!(Test::parse("pairwise:a,b").unwrap().spec(), "pairwise:a,b");
        for bad in [
            "t:music",
            "pairwise:a",
            "pairwise:a,a",
            "pairwise:,b",
            "anova:",
        ] {
            assert!(Test::parse(bad).unwrap_err().is_invalid_input(), "{bad}");
        }
    }
}
