//! The crate table of ARCHITECTURE.md ("Dependency rules") held against the real dependency
//! graph from `cargo metadata`: every workspace crate may use only the workspace crates its row
//! names, and none of the external crates its row forbids.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

mod common;

/// (may use, must not use) per crate, parsed from the table in ARCHITECTURE.md.
fn rules() -> BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> {
    let text = std::fs::read_to_string(common::root().join("ARCHITECTURE.md")).unwrap();
    let section = text
        .split("## Dependency rules")
        .nth(1)
        .expect("ARCHITECTURE.md has a `## Dependency rules` section");
    let names = |cell: &str| -> BTreeSet<String> {
        cell.split(',')
            .map(|s| s.trim().trim_matches('`').to_string())
            .filter(|s| !s.is_empty() && s != "—" && s != "-")
            .collect()
    };
    let mut out = BTreeMap::new();
    for line in section.lines().skip_while(|l| !l.starts_with('|')) {
        if !line.starts_with('|') {
            break;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        if cells.len() < 3 || cells[0].starts_with("crate") || cells[0].starts_with("---") {
            continue;
        }
        out.insert(
            cells[0].trim_matches('`').to_string(),
            (names(cells[1]), names(cells[2])),
        );
    }
    out
}

#[test]
fn every_crate_depends_only_on_what_architecture_md_allows() {
    let rules = rules();
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(common::root())
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages = meta["packages"].as_array().unwrap();
    let workspace: BTreeSet<String> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    assert!(workspace.len() >= 8, "{workspace:?}");
    for p in packages {
        let name = p["name"].as_str().unwrap();
        let (may, must_not) = rules.get(name).unwrap_or_else(|| {
            panic!("ARCHITECTURE.md's dependency rules have no row for `{name}`")
        });
        for d in p["dependencies"].as_array().unwrap() {
            // Normal dependencies only: tests and benches may use more.
            if !d["kind"].is_null() {
                continue;
            }
            let dep = d["name"].as_str().unwrap().to_string();
            if workspace.contains(&dep) {
                assert!(
                    may.contains(&dep),
                    "`{name}` depends on `{dep}`, which ARCHITECTURE.md does not allow"
                );
            }
            assert!(
                !must_not.contains(&dep),
                "`{name}` depends on `{dep}`, which ARCHITECTURE.md forbids"
            );
        }
    }
    // Nothing depends on the binary.
    for p in packages {
        for d in p["dependencies"].as_array().unwrap() {
            assert_ne!(d["name"], "cuelab", "{} depends on the binary", p["name"]);
        }
    }
}
