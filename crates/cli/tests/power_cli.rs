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

/// The must-show of issue 10: `cuelab power` on the bundled time-perception protocol, through
/// the session runner on the virtual clock, recovers the power of a known simulated effect.
///
/// `tests/power/model.toml` gives arousing music a shift of 0.12 on the perceived log duration
/// and no other effect, veridical timing (Vierordt slope 1) and no clip effects; the plan
/// (`tests/power/plan.toml`) analyses ln(verbal / clip duration) and `--test
/// pairwise:arousing,silence` takes the uncorrected paired t-test of the two levels' cell
/// means. A participant's difference of cell means is then normal with mean
/// delta = 0.12 and SD sqrt(2 (perception_sd² + verbal_sd²) / 3) — three trials per level,
/// participant bias cancelling — so d_z = delta / SD = √3 / 2 (derivation in
/// `tests/power/analytic.R`, which recorded R's `power.t.test(type = "paired")` for it in
/// `analytic.json`). The simulated power's Clopper–Pearson 95% interval over 200 replications
/// of n = 8 must contain that analytic power (0.5594); its half-width is about 0.07, so a
/// d_z off by a fifth (power 0.41 or 0.70) would fall outside it. Replications are seeded
/// 1..=200, so the outcome is the same on every run.
#[test]
fn power_of_a_known_effect_through_the_runner_matches_the_analytic_paired_t_power() {
    let data = repo().join("crates/cli/tests/power");
    let analytic: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("analytic.json")).unwrap())
            .unwrap();
    let num = |key: &str| analytic[key].as_f64().unwrap_or_else(|| panic!("{key}"));

    // d_z from the model file, as the derivation above gives it, is the d_z R was given.
    let model: toml::Value =
        toml::from_str(&std::fs::read_to_string(data.join("model.toml")).unwrap()).unwrap();
    let time = &model["time"];
    let f = |v: &toml::Value| v.as_float().unwrap();
    let delta = f(&time["music_effects"]["arousing"]) - f(&time["music_effects"]["silence"]);
    let (perception, verbal) = (f(&time["perception_sd"]), f(&time["verbal_sd"]));
    assert_eq!(f(&time["vierordt_slope"]), 1.0);
    assert_eq!(f(&time["clip_sd"]), 0.0);
    let trials_per_level = num("trials_per_level");
    let dz = delta / (2.0 * (perception.powi(2) + verbal.powi(2)) / trials_per_level).sqrt();
    assert!((dz - num("dz")).abs() < 1e-12, "{dz} vs R's {}", num("dz"));
    assert!((delta - num("delta")).abs() < 1e-12);

    // Three test trials per music level for every participant simulated.
    let n = num("n") as usize;
    for k in 1..=n {
        let plan = cuelab(&[
            "plan",
            "protocols/time-perception.toml",
            "--participant",
            &format!("S{k:03}"),
            "--format",
            "csv",
        ]);
        assert!(plan.status.success());
        let text = String::from_utf8(plan.stdout).unwrap();
        for level in ["arousing", "silence"] {
            let count = text
                .lines()
                .filter(|l| l.contains(",false,") && l.ends_with(&format!(",{level}")))
                .count();
            assert_eq!(count as f64, trials_per_level, "S{k:03} {level}:\n{text}");
        }
    }

    let out = std::env::temp_dir().join(format!("cuelab-power-known-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let o = cuelab(&[
        "power",
        "protocols/time-perception.toml",
        "--participants",
        &n.to_string(),
        "--reps",
        "200",
        "--model",
        data.join("model.toml").to_str().unwrap(),
        "--plan",
        data.join("plan.toml").to_str().unwrap(),
        "--test",
        "pairwise:arousing,silence",
        "--alpha",
        &num("alpha").to_string(),
        "--jobs",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("power.json")).unwrap()).unwrap();
    let row = &json["rows"][0];
    let (power, low, high) = (
        row["power"].as_f64().unwrap(),
        row["ci_low"].as_f64().unwrap(),
        row["ci_high"].as_f64().unwrap(),
    );
    assert_eq!(row["n"].as_u64(), Some(n as u64));
    assert_eq!(row["reps"].as_u64(), Some(200));
    let expected = num("power");
    eprintln!(
        "simulated power {power:.4} [{low:.4}, {high:.4}] over 200 replications; analytic {expected:.4}; {}",
        String::from_utf8_lossy(&o.stdout).trim()
    );
    assert!(
        low <= expected && expected <= high,
        "analytic power {expected} outside the simulated {power} [{low}, {high}]"
    );
    assert!(out.join("power.svg").is_file() && out.join("power.png").is_file());
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn power_with_a_bad_test_or_sizes_exits_2() {
    let out = std::env::temp_dir().join(format!("cuelab-power-bad-{}", std::process::id()));
    for args in [
        vec!["--participants", "6", "--dv", "verbal", "--test", "t:music"],
        vec![
            "--participants",
            "6",
            "--dv",
            "verbal",
            "--test",
            "pairwise:arousing",
        ],
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
