//! Helpers shared by the fixture tests: load R fixtures and data, compare numbers.
#![allow(dead_code)]

use serde_json::Value;

/// Relative tolerance of every comparison with R: 6 significant digits and a margin.
pub const REL: f64 = 1e-7;

/// Relative tolerance of mixed-model comparisons: 6 significant digits. lme4's optimiser stops
/// within about 1e-7 of the optimum (relative, in θ) even with tight settings, and p-values
/// and Satterthwaite df amplify that a little.
pub const LMM_REL: f64 = 1e-6;

pub fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

pub fn num(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("no number {key} in {v}"))
}

/// Asserts `got` equals `want` to relative tolerance `rel` (absolute `rel` near zero).
#[track_caller]
pub fn close(what: &str, got: f64, want: f64, rel: f64) {
    let scale = want.abs().max(1e-300);
    let ok = (got - want).abs() <= rel * scale || (got - want).abs() <= rel * 1e-3;
    assert!(
        ok,
        "{what}: got {got:.12e}, R {want:.12e} (rel err {:.2e})",
        (got - want).abs() / scale
    );
}

/// Reads a CSV into rows of string fields keyed by header.
pub fn read_csv(path: &str) -> Vec<std::collections::HashMap<String, String>> {
    let mut rdr = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let headers = rdr.headers().unwrap().clone();
    rdr.records()
        .map(|r| {
            let r = r.unwrap();
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// Codes of `values` against `levels`.
pub fn codes(values: &[&str], levels: &[String]) -> Vec<u32> {
    values
        .iter()
        .map(|v| {
            levels
                .iter()
                .position(|l| l == v)
                .unwrap_or_else(|| panic!("unknown level {v}")) as u32
        })
        .collect()
}

/// Distinct values in order of first appearance.
pub fn distinct(values: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        if !out.iter().any(|o| o == v) {
            out.push(v.to_string());
        }
    }
    out
}

/// Compares an F test with a row of lmerTest's `anova()` table.
#[track_caller]
pub fn check_f(got: &cuelab_stats::FTest, want: &Value, rel: f64) {
    let term = want["term"].as_str().unwrap_or("?");
    for (name, v) in [
        ("num_df", got.num_df),
        ("den_df", got.den_df),
        ("f", got.f),
        ("p", got.p),
        ("sum_sq", got.sum_sq),
        ("mean_sq", got.mean_sq),
    ] {
        close(&format!("{term} {name}"), v, num(want, name), rel);
    }
}

/// Compares a contrast (or any single fixed-effect test) with lmerTest's `contest()` row.
#[track_caller]
pub fn check_contrast(got: &cuelab_stats::FixedTest, want: &Value, rel: f64) {
    for (name, v) in [
        ("estimate", got.estimate),
        ("se", got.se),
        ("df", got.df),
        ("t", got.t),
        ("p", got.p),
    ] {
        close(name, v, num(want, name), rel);
    }
}
