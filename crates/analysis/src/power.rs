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
use crate::figures::{self, MeanPoint};
use crate::plan::Plan;
use crate::{Formats, run_plan};

/// The test whose power is estimated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Test {
    /// The effect of the plan's first ANOVA (`anova:<effect>`; factors joined by ` x `).
    Anova(String),
    /// A term of the plan's first mixed model's type III table (`lmm:<term>`).
    Lmm(String),
}

impl Test {
    /// Parses `anova:<effect>` or `lmm:<term>`.
    pub fn parse(text: &str) -> Result<Self, AnalysisError> {
        match text.split_once(':') {
            Some(("anova", e)) if !e.is_empty() => Ok(Self::Anova(e.to_string())),
            Some(("lmm", t)) if !t.is_empty() => Ok(Self::Lmm(t.to_string())),
            _ => Err(AnalysisError::Options(format!(
                "--test `{text}`: expected anova:<effect> or lmm:<term>"
            ))),
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

/// Runs `reps` replications (`replicate(rep)` gives the p-value at each of `sizes`, in order)
/// and counts those below `alpha`.
pub fn estimate(
    sizes: &[usize],
    reps: usize,
    alpha: f64,
    mut replicate: impl FnMut(usize) -> Result<Vec<f64>, AnalysisError>,
) -> Result<Vec<PowerRow>, AnalysisError> {
    let mut significant = vec![0usize; sizes.len()];
    for rep in 0..reps {
        let ps = replicate(rep)?;
        if ps.len() != sizes.len() {
            return Err(AnalysisError::Data(format!(
                "replication {rep} gave {} p-values for {} sample sizes",
                ps.len(),
                sizes.len()
            )));
        }
        for (s, p) in significant.iter_mut().zip(ps) {
            // A test that cannot be computed (NaN) counts as not significant.
            if p < alpha {
                *s += 1;
            }
        }
    }
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
    let points: Vec<MeanPoint> = rows
        .iter()
        .map(|r| MeanPoint {
            label: format!("n = {}", r.n),
            mean: r.power,
            lower: r.ci_low,
            upper: r.ci_high,
        })
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
            let mut rng = Normal(n as u64);
            let rows = estimate(&[n], 2000, 0.05, |_| {
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
    fn tests_parse_and_a_bad_one_is_invalid_input() {
        assert_eq!(
            Test::parse("anova:music").unwrap(),
            Test::Anova("music".into())
        );
        assert_eq!(Test::parse("lmm:a:b").unwrap(), Test::Lmm("a:b".into()));
        assert!(Test::parse("t:music").unwrap_err().is_invalid_input());
    }
}
