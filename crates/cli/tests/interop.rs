//! The export as other tools read it: pandas and polars (CSV and Parquet), base R's
//! `read.csv`, and the official BIDS validator. `scripts/setup --test` installs all of them;
//! a missing tool fails the test with the command that installs it.

mod common;

use std::path::Path;
use std::process::Command;

use common::{cuelab, root, temp_dir, text};

/// A simulated study of the bundled emotion-attribution protocol (continuous ratings, a
/// between factor, before/after steps), exported.
fn export(tag: &str) -> std::path::PathBuf {
    let dir = temp_dir(tag);
    let out = cuelab(&[
        "simulate",
        "protocols/emotion-attribution.toml",
        "--participants",
        "4",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    dir.join("export")
}

fn run(cmd: &mut Command, install: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (install with `{install}`)"));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{all}");
    all
}

#[test]
fn pandas_polars_and_r_read_the_tables_with_booleans_as_logical() {
    let export = export("interop");
    let script = root().join("crates/cli/tests/interop/read_export.py");
    let said = run(
        Command::new("python3")
            .arg(&script)
            .arg(&export)
            .arg("emotionattribution"),
        "scripts/setup --test",
    );
    assert!(said.contains("practice is boolean"), "{said}");
    let trials = export.join("data/experiment-emotionattribution_table-trials_data.csv");
    let said = run(
        Command::new("Rscript")
            .arg(root().join("crates/cli/tests/interop/read_export.R"))
            .arg(&trials),
        "apt-get install r-base-core",
    );
    assert!(said.contains("logical"), "{said}");
    std::fs::remove_dir_all(export.parent().unwrap()).unwrap();
}

#[test]
fn the_bids_export_passes_the_bids_validator_with_every_column_described() {
    let export = export("bids");
    let validator = root().join(".tools/node_modules/.bin/bids-validator");
    assert!(
        Path::new(&validator).exists(),
        "no {} (scripts/setup --test installs it)",
        validator.display()
    );
    let out = Command::new(&validator)
        .arg(export.join("bids"))
        .arg("--json")
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "validator output is not JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let errors = report["issues"]["errors"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(errors.is_empty(), "BIDS errors: {errors:#?}");
    let warnings = report["issues"]["warnings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    // Code 82: a column of a tabular file has no description in its sidecar.
    let undescribed: Vec<_> = warnings.iter().filter(|w| w["code"] == 82).collect();
    assert!(
        undescribed.is_empty(),
        "undescribed columns: {undescribed:#?}"
    );
    std::fs::remove_dir_all(export.parent().unwrap()).unwrap();
}
