//! End-to-end tests of `cuelab analyze` and `cuelab reproduce`: the real binary on the bundled
//! plans and data.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn cuelab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cuelab"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("cuelab runs")
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cuelab-e2e-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn analyze_plan_writes_tables_figures_and_a_self_contained_report() {
    let out = temp_dir("plan");
    let o = cuelab(&[
        "analyze",
        "analysis/musictime.toml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "stderr: {}", text(&o.stderr));
    for f in [
        "results.json",
        "results.md",
        "report.html",
        "descriptives.csv",
        "anova_rm.csv",
        "anova_mixed.csv",
        "pairwise_Music.csv",
        "lmm_music_fixed.csv",
        "cell_means.svg",
        "cell_means.png",
        "estimate_vs_actual.png",
    ] {
        assert!(out.join(f).is_file(), "missing {f}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let f = json
        .pointer("/anova/rm/effects/Music/F")
        .and_then(|v| v.as_f64())
        .unwrap();
    assert!((f - 42.1309134218179).abs() < 1e-6 * 42.13, "F = {f}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("<table>"));
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "report must be self-contained"
    );
    let md = std::fs::read_to_string(out.join("results.md")).unwrap();
    assert!(
        md.contains("| Music | F(2, 38) = 42.13, p < .001, η²G = .35, 95% CI [.14, 1] (one-sided) | 2 | 38 |"),
        "{md}"
    );
    std::fs::remove_dir_all(out).unwrap();
}

#[test]
fn analyze_with_options_computes_every_result_that_applies() {
    let o = cuelab(&[
        "analyze",
        "--data",
        "datasets/musictime/musictime.csv",
        "--dv",
        "TimeGuess",
        "--subject",
        "Subject",
        "--within",
        "Music",
        "--between",
        "MusicBg",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "stderr: {}", text(&o.stderr));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let get = |p: &str| {
        json.pointer(p)
            .and_then(|v| v.as_f64())
            .unwrap_or_else(|| panic!("{p}"))
    };
    // README: mixed ANOVA, MusicBg F(1, 18) = 1.68924; Music GG df 1.35458.
    assert!((get("/anova/anova/effects/MusicBg/F") - 1.68924).abs() < 1e-5);
    assert!((get("/anova/anova/effects/Music/gg/df_num") - 1.35458).abs() < 1e-5);
    // Pairwise on the within factor as emmeans on the afex model (averaged over MusicBg,
    // df = 20 - 2): R gives t = 6.90639532905 for calm - control, p = 5.57844999877e-06 (Holm).
    let t = get("/pairwise/Music/comparisons/calm - control/t");
    assert!((t - 6.90639532905).abs() < 1e-9 * 6.9, "t = {t}");
    let p = get("/pairwise/Music/comparisons/calm - control/p_holm");
    assert!((p - 5.57844999877e-06).abs() < 1e-6 * p, "p = {p}");
    assert_eq!(get("/pairwise/Music/comparisons/calm - control/df"), 18.0);
    assert_eq!(json["pairwise"]["Music"]["method"], "emmeans");
    // With a within factor the random-intercept model is fitted too (lmerTest y ~ Music +
    // MusicBg + (1 | Subject)).
    assert!(json["lmm"]["lmm"]["fixed"]["(Intercept)"].is_object());
}

#[test]
fn reproduce_check_passes_on_the_bundled_plans() {
    // CI and the tests require every plan's data, `../shared/datasets` included.
    let o = cuelab(&["reproduce", "--check", "--require-all"]);
    let stdout = text(&o.stdout);
    assert!(
        o.status.success(),
        "stdout: {stdout}\nstderr: {}",
        text(&o.stderr)
    );
    assert!(
        stdout.contains("musictime.toml") && stdout.contains("priming.toml"),
        "{stdout}"
    );
    for plan in [
        "congruence.toml",
        "congruence_unbalanced.toml",
        "emotion_timecourse.toml",
    ] {
        assert!(stdout.contains(plan), "{plan}: {stdout}");
    }
    assert!(stdout.contains("all 11 plan(s) reproduce"), "{stdout}");
}

/// Runs `cuelab analyze` on a bundled plan and compares every value its R-written
/// `<plan>.expected.json` records with the written `results.json` (each within its tolerance);
/// returns the results.
fn analyze_matches_r(plan: &str) -> serde_json::Value {
    let out = temp_dir(plan);
    let o = cuelab(&[
        "analyze",
        &format!("analysis/{plan}.toml"),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "stderr: {}", text(&o.stderr));
    let results = read_json(&out.join("results.json"));
    let compared = compare_with_r(plan, &results, &|p| Some(p.to_string()));
    assert!(compared > 100, "{plan}: {compared} values");
    std::fs::remove_dir_all(out).unwrap();
    results
}

fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// Compares the values `analysis/<plan>.expected.json` records (R's) with `results`, each
/// within its tolerance: every recorded pointer that `select` maps to a pointer of `results`
/// (`None`: not compared). Returns how many were compared.
fn compare_with_r(
    plan: &str,
    results: &serde_json::Value,
    select: &dyn Fn(&str) -> Option<String>,
) -> usize {
    let expected = read_json(&repo().join(format!("analysis/{plan}.expected.json")));
    let default_rel = expected["tolerance"]["relative"].as_f64().unwrap();
    let values = expected["values"].as_object().unwrap();
    let mut compared = 0;
    for (pointer, want) in values {
        let Some(at) = select(pointer) else { continue };
        let (want, rel, abs) = match want {
            serde_json::Value::Object(o) => (
                o["value"].as_f64().unwrap(),
                o.get("relative")
                    .and_then(|v| v.as_f64())
                    .unwrap_or(default_rel),
                o.get("absolute").and_then(|v| v.as_f64()).unwrap_or(0.0),
            ),
            v => (v.as_f64().unwrap(), default_rel, 0.0),
        };
        let got = match results.pointer(&at) {
            Some(serde_json::Value::Bool(b)) => f64::from(u8::from(*b)),
            Some(v) => v.as_f64().unwrap_or_else(|| panic!("{plan}{at}: {v}")),
            None => panic!("{plan}: no {at} in the results"),
        };
        assert!(
            (got - want).abs() <= abs.max(rel * want.abs()),
            "{plan}{pointer}: R {want}, cuelab {got} (at {at})"
        );
        compared += 1;
    }
    compared
}

#[test]
fn analyze_quick_mode_on_an_export_gives_the_congruence_paradigm_as_r() {
    // No plan: the congruence of clip and music from the pairs on the command line, practice
    // and flagged trials left out because the data is a cuelab export.
    let o = cuelab(&[
        "analyze",
        "--data",
        "datasets/congruence/export",
        "--dv",
        "fit",
        "--subject",
        "participant",
        "--item",
        "clip",
        "--congruence",
        "clip,music",
        "--congruent",
        "approach:relaxing,chase:scary,hide:sad,hide:scary",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "stderr: {}", text(&o.stderr));
    let results: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // The plan names its congruence ANOVA `congruence`; the quick mode's is `anova`.
    let compared = compare_with_r("congruence", &results, &|p| {
        if p.starts_with("/congruence/") {
            Some(p.to_string())
        } else {
            p.strip_prefix("/anova/congruence/")
                .map(|rest| format!("/anova/anova/{rest}"))
        }
    });
    assert!(compared >= 20, "{compared} values compared");
    assert_eq!(results["counts"]["read"], 312);
    assert_eq!(
        results["counts"]["analysed"], 288,
        "practice trials left out"
    );

    // A pair naming no level of the data is an error, as in a plan; so is a malformed pair.
    for (pairs, says) in [
        ("approach:relaxing,nowhere:sad", "nowhere"),
        ("approach-relaxing", "give a pair as"),
    ] {
        let o = cuelab(&[
            "analyze",
            "--data",
            "datasets/congruence/export",
            "--dv",
            "fit",
            "--subject",
            "participant",
            "--congruence",
            "clip,music",
            "--congruent",
            pairs,
        ]);
        assert_eq!(o.status.code(), Some(2), "{pairs}: {}", text(&o.stderr));
        assert!(
            text(&o.stderr).contains(says),
            "{pairs}: {}",
            text(&o.stderr)
        );
    }
}

#[test]
fn analyze_quick_mode_gives_continuous_time_courses_as_r() {
    let music = "protocols/stimuli/generated/music";
    let curves = [
        format!("happy={music}/arousing.curve.csv"),
        format!("sad={music}/sad.curve.csv"),
        format!("calm_to_tense={music}/calm_to_tense.curve.csv"),
        format!("sad_to_happy={music}/sad_to_happy.curve.csv"),
    ];
    let mut args = vec![
        "analyze",
        "--data",
        "datasets/emotion-attribution/export",
        "--dv",
        "sam_arousal",
        "--subject",
        "participant",
        "--within",
        "music",
        "--continuous",
        "datasets/emotion-attribution/export/parquet/continuous.parquet",
        "--condition",
        "music",
        "--items",
        "valence,arousal",
        "--format",
        "json",
    ];
    for c in &curves {
        args.extend(["--curve", c.as_str()]);
    }
    let o = cuelab(&args);
    assert!(o.status.success(), "stderr: {}", text(&o.stderr));
    let results: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let compared = compare_with_r("emotion_timecourse", &results, &|p| {
        p.starts_with("/continuous/").then(|| p.to_string())
    });
    assert!(compared > 1000, "{compared} values compared");

    let o = cuelab(&[
        "analyze",
        "--data",
        "datasets/emotion-attribution/export",
        "--dv",
        "sam_arousal",
        "--subject",
        "participant",
        "--continuous",
        "datasets/emotion-attribution/export/parquet/continuous.parquet",
        "--items",
        "valence",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("--condition"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn analyze_congruence_on_an_unbalanced_design_equals_r() {
    let r = analyze_matches_r("congruence_unbalanced");
    // Eight participants lack a music x scene cell and leave that ANOVA (afex does the same).
    assert_eq!(r["anova"]["music_by_clip"]["n_subjects"], 16);
    assert_eq!(r["congruence"]["congruence"]["n"], 24);
}

#[test]
fn analyze_continuous_time_courses_equal_r_and_draw_ribbons() {
    let out = temp_dir("timecourse-files");
    let o = cuelab(&[
        "analyze",
        "analysis/emotion_timecourse.toml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "stderr: {}", text(&o.stderr));
    for f in [
        "continuous_valence.svg",
        "continuous_valence.png",
        "continuous_arousal.svg",
        "continuous_valence.csv",
    ] {
        assert!(out.join(f).is_file(), "missing {f}");
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("id=\"continuous_valence\""),
        "figure in the report"
    );
    std::fs::remove_dir_all(out).unwrap();
    let r = analyze_matches_r("emotion_timecourse");
    assert_eq!(
        r["continuous"]["items"]["valence"]["sad"]["grid"]
            .as_array()
            .map(Vec::len),
        Some(49)
    );
}

/// A plan folder whose plan points at the bundled MusicTime by absolute path.
fn plan_dir(tag: &str, expected_f: f64) -> PathBuf {
    let dir = temp_dir(tag);
    let data = repo().join("datasets/musictime/musictime.csv");
    std::fs::write(
        dir.join("mt.toml"),
        format!(
            "[data]\npath = {:?}\n[design]\ndv = \"TimeGuess\"\nsubject = \"Subject\"\nwithin = [\"Music\"]\n[[results.anova]]\nname = \"rm\"\n",
            data.to_str().unwrap()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("mt.expected.json"),
        format!("{{\"values\": {{\"/anova/rm/effects/Music/F\": {expected_f}}}}}"),
    )
    .unwrap();
    dir
}

#[test]
fn reproduce_check_exits_1_on_a_difference_beyond_tolerance() {
    let good = plan_dir("good", 42.1309134218179);
    let o = cuelab(&["reproduce", "--check", "--dir", good.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stdout));
    let bad = plan_dir("bad", 42.1312);
    let o = cuelab(&["reproduce", "--check", "--dir", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stdout));
    assert!(text(&o.stdout).contains("DIFF /anova/rm/effects/Music/F"));
    // Without --check the difference is reported but not fatal.
    let o = cuelab(&["reproduce", "--dir", bad.to_str().unwrap()]);
    assert!(o.status.success());
    std::fs::remove_dir_all(good).unwrap();
    std::fs::remove_dir_all(bad).unwrap();
}

#[test]
fn reproduce_skips_a_plan_whose_data_is_absent_unless_require_all() {
    let dir = plan_dir("absent", 42.1309134218179);
    let missing = dir.join("shared/absent.csv");
    std::fs::write(
        dir.join("absent.toml"),
        "[data]\npath = \"shared/absent.csv\"\n[design]\ndv = \"rt\"\nsubject = \"s\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("absent.expected.json"),
        "{\"values\": {\"/n_rows\": 1}}",
    )
    .unwrap();
    let o = cuelab(&["reproduce", "--check", "--dir", dir.to_str().unwrap()]);
    let stdout = text(&o.stdout);
    assert!(o.status.success(), "{stdout}\n{}", text(&o.stderr));
    assert!(
        stdout.contains(&format!(
            "absent.toml: skipped (data absent: {})",
            missing.display()
        )),
        "{stdout}"
    );
    // The plan whose data is present is still run and compared.
    assert!(stdout.contains("mt.toml: 1/1 values match"), "{stdout}");
    assert!(stdout.contains("all 1 plan(s) reproduce"), "{stdout}");
    assert!(stdout.contains("1 skipped (data absent"), "{stdout}");
    let o = cuelab(&[
        "reproduce",
        "--check",
        "--require-all",
        "--dir",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stdout));
    let err = text(&o.stderr);
    assert!(
        err.contains("absent.toml") && err.contains(&missing.display().to_string()),
        "{err}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn invalid_plan_exits_2_with_file_line_col() {
    let dir = temp_dir("invalid");
    let plan = dir.join("bad.toml");
    std::fs::write(
        &plan,
        "[data]\npath = \"x.csv\"\n[design]\ndv = \"rt\"\nsubject = \"s\"\nwithinn = [\"a\"]\n",
    )
    .unwrap();
    let o = cuelab(&["analyze", plan.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.contains("bad.toml:6:1") && err.contains("withinn"),
        "{err}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn missing_data_and_unknown_column_exit_2() {
    let o = cuelab(&[
        "analyze",
        "--data",
        "no/such.csv",
        "--dv",
        "rt",
        "--subject",
        "s",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let o = cuelab(&[
        "analyze",
        "--data",
        "datasets/musictime/musictime.csv",
        "--dv",
        "NoSuchColumn",
        "--subject",
        "Subject",
        "--within",
        "Music",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("NoSuchColumn"));
}

#[test]
fn lmm_formula_on_the_command_line_fits_random_slopes_as_lme4() {
    let o = cuelab(&[
        "analyze",
        "--data",
        "analysis/data/timing_sim_trials.csv",
        "--lmm",
        "estimate_s ~ music + (1 + music | participant) + (1 | clip)",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "stderr: {}", text(&o.stderr));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let m = &json["lmm"]["lmm"];
    // lme4 1.1 / lmerTest (R 4.2.2) report this fit singular; at the boundary the estimates and
    // the REML criterion are compared at 1e-4 (cuelab's criterion is as low or lower).
    assert_eq!(m["singular"], true);
    let close = |got: &serde_json::Value, want: f64| {
        let got = got.as_f64().unwrap();
        assert!((got - want).abs() <= 1e-4 * want.abs(), "{got} vs {want}");
    };
    close(&m["fixed"]["(Intercept)"]["estimate"], 25.0965779124);
    close(&m["fixed"]["musicrelaxing"]["estimate"], -3.72460604248);
    close(&m["fixed"]["musicsilence"]["estimate"], -2.65063588882);
    close(&m["reml_criterion"], 2820.32687327);
    assert!(m["reml_criterion"].as_f64().unwrap() <= 2820.32687327 + 1e-6);
    assert!(m["correlations"]["participant: (Intercept), musicrelaxing"].is_object());
    assert!(m["anova"]["music"]["F"].is_number());
}

#[test]
fn an_unsupported_lmm_formula_exits_2_pointing_at_the_term() {
    let o = cuelab(&[
        "analyze",
        "--data",
        "analysis/data/timing_sim_trials.csv",
        "--lmm",
        "estimate_s ~ music + (1 | participant/clip)",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("column 27") && err.contains("nested"), "{err}");
    // The caret sits under the grouping `participant/clip`.
    let lines: Vec<&str> = err.lines().collect();
    let caret = lines.iter().position(|l| l.trim() == "^").unwrap();
    let formula = lines[caret - 1];
    let at = lines[caret].find('^').unwrap();
    assert!(formula[at..].starts_with("participant/clip"), "{err}");
}

#[test]
fn the_same_data_gives_the_same_numbers_to_the_last_bit_on_every_run() {
    // A polars group-by summed a group's rows in an order that changed from run to run, so
    // cell means (and everything after them) differed in the last bit. Separate processes,
    // as a user reruns a command; only the provenance (date, command) may differ.
    for plan in ["analysis/time_perception.toml", "analysis/timing_sim.toml"] {
        let runs: Vec<serde_json::Value> = (0..2)
            .map(|_| {
                let o = cuelab(&["analyze", plan, "--format", "json"]);
                assert!(o.status.success(), "{plan}: {}", text(&o.stderr));
                let mut v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
                v.as_object_mut().unwrap().remove("provenance");
                v
            })
            .collect();
        assert!(runs[0]["anova"].is_object(), "{plan}");
        assert_eq!(runs[0], runs[1], "{plan}");
    }
}
