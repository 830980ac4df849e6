//! `cuelab power` end to end: simulated sessions through the runner, analysed in process.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn cuelab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cuelab"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("cuelab runs")
}

#[test]
fn power_writes_one_row_per_sample_size_with_an_exact_interval_and_the_figure() {
    let out = std::env::temp_dir().join(format!("cuelab-power-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let o = cuelab(&[
        "power",
        "protocols/time-perception.toml",
        "--participants",
        "6,4",
        "--reps",
        "2",
        "--dv",
        "verbal",
        "--jobs",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let csv = std::fs::read_to_string(out.join("power.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "n,reps,power,ci_low,ci_high");
    // Sizes sorted; each row's power is k / 2 and lies inside its interval.
    assert!(
        lines[1].starts_with("4,2,") && lines[2].starts_with("6,2,"),
        "{csv}"
    );
    for line in &lines[1..] {
        let v: Vec<f64> = line.split(',').map(|x| x.parse().unwrap()).collect();
        assert!([0.0, 0.5, 1.0].contains(&v[2]), "{line}");
        assert!(v[3] <= v[2] && v[2] <= v[4], "{line}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("power.json")).unwrap()).unwrap();
    assert_eq!(json["settings"]["test"], "anova:music");
    assert!(
        json["settings"]["replications_per_second"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert!(out.join("power.svg").is_file() && out.join("power.png").is_file());
    assert!(
        !out.join("replications").exists(),
        "working folders removed"
    );
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn power_with_a_bad_test_or_sizes_exits_2() {
    let out = std::env::temp_dir().join(format!("cuelab-power-bad-{}", std::process::id()));
    for args in [
        vec!["--participants", "6", "--dv", "verbal", "--test", "t:music"],
        vec!["--participants", "1", "--dv", "verbal"],
        vec!["--participants", "6"],
    ] {
        let mut all = vec!["power", "protocols/time-perception.toml", "--out"];
        all.push(out.to_str().unwrap());
        all.extend(args.iter().copied());
        let o = cuelab(&all);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    assert!(!out.join("power.csv").exists());
}
