//! End-to-end: `cuelab validate` and `cuelab plan` as a user runs them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn cuelab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cuelab"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run cuelab")
}

fn tomls(dir: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| format!("{dir}/{}", p.file_name().unwrap().to_str().unwrap()))
        .collect();
    v.sort();
    v
}

#[test]
fn example_and_good_protocols_validate() {
    let mut files = tomls("protocols");
    files.extend(tomls("protocols/tests/good"));
    let args: Vec<&str> = std::iter::once("validate")
        .chain(files.iter().map(String::as_str))
        .collect();
    let out = cuelab(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Everything under a folder, for checking that validation writes nothing.
fn listing(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(listing(&p));
        } else {
            out.push((p.clone(), std::fs::metadata(&p).unwrap().len()));
        }
    }
    out.sort();
    out
}

#[test]
fn every_bad_protocol_exits_2_with_its_location_and_writes_nothing() {
    let before = listing(&root().join("protocols"));
    for file in tomls("protocols/tests/bad") {
        let out = cuelab(&["validate", &file]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{file}: {stderr}");
        assert!(
            out.stdout.is_empty(),
            "{file}: validation prints diagnostics on stderr only"
        );
        // `file:LINE:COL: error:` names this file or a file it reads (conditions CSV).
        let located = stderr.lines().any(|l| {
            let mut parts = l.splitn(4, ':');
            let (f, line, col) = (parts.next(), parts.next(), parts.next());
            f.is_some_and(|f| f.starts_with("protocols/tests/bad/"))
                && line.is_some_and(|x| x.parse::<usize>().is_ok())
                && col.is_some_and(|x| x.parse::<usize>().is_ok())
                && parts.next().is_some_and(|rest| rest.starts_with(" error:"))
        });
        assert!(located, "{file}: no file:line:col diagnostic in\n{stderr}");
        let text = std::fs::read_to_string(root().join(&file)).unwrap_or_default();
        for want in text
            .lines()
            .filter_map(|l| l.strip_prefix("# expect-cli: "))
        {
            let (loc, msg) = want.split_at(want.find(": ").unwrap());
            let expected = format!("{file}:{loc}: error: {}", &msg[2..]);
            assert!(
                stderr.contains(&expected),
                "{file}: expected `{expected}` in\n{stderr}"
            );
        }
    }
    assert_eq!(
        before,
        listing(&root().join("protocols")),
        "validate must write nothing"
    );
}

#[test]
fn plan_json_is_byte_identical_across_runs() {
    let args = [
        "plan",
        "protocols/time-perception.toml",
        "--participant",
        "P07",
        "--format",
        "json",
    ];
    let a = cuelab(&args);
    let b = cuelab(&args);
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert_eq!(a.stdout, b.stdout);
    let v: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    assert_eq!(v["participant"], "P07");
    assert_eq!(v["session"], 1);
    assert!(v["seed"].is_u64());
    let trials = v["trials"].as_array().unwrap();
    assert_eq!(
        trials.len(),
        1 + 4 * 3,
        "one practice trial, 4 clips × 3 repetitions"
    );
    for (i, t) in trials.iter().enumerate() {
        assert_eq!(t["index"], i as u64 + 1);
        for key in ["block", "practice", "clip", "soundtrack", "conditions"] {
            assert!(t.get(key).is_some(), "trial {i} lacks `{key}`");
        }
    }
}

#[test]
fn counterbalancing_table_is_balanced_over_k_cycles() {
    for k in 1..=3 {
        let n = (3 * k).to_string();
        let out = cuelab(&[
            "plan",
            "protocols/tests/good/latin-square.toml",
            "--participants",
            &n,
            "--format",
            "json",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["participants"], 3 * k);
        let cells = v["cells"].as_array().unwrap();
        assert_eq!(cells.len(), 9, "3 clips × 3 conditions");
        assert!(cells.iter().all(|c| c["count"] == k), "k = {k}: {cells:?}");
    }
}

#[test]
fn plan_formats_and_bad_participant() {
    let csv = cuelab(&[
        "plan",
        "protocols/congruence.toml",
        "--participant",
        "3",
        "--format",
        "csv",
    ]);
    assert!(csv.status.success());
    let text = String::from_utf8(csv.stdout).unwrap();
    assert!(
        text.starts_with("index,block,practice,break_before,clip,soundtrack,music\n"),
        "{text}"
    );
    // A header, one practice trial, then 3 clips x 4 soundtracks.
    assert_eq!(text.lines().count(), 1 + 1 + 3 * 4);

    let bad = cuelab(&["plan", "protocols/congruence.toml", "--participant", "anna"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("must end in a number"));

    let missing = cuelab(&["plan", "protocols/nope.toml", "--participant", "1"]);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn plan_json_carries_steps_durations_and_iti() {
    let out = cuelab(&[
        "plan",
        "protocols/tests/good/steps.toml",
        "--participant",
        "3",
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let trials = v["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 4);
    for (i, t) in trials.iter().enumerate() {
        let steps: Vec<&str> = t["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        // A trial whose music is `silence` lists no `fit` step.
        let silent = t["conditions"]["music"] == "silence";
        assert_eq!(steps.contains(&"fit"), !silent, "trial {i}: {steps:?}");
        assert!(steps.starts_with(&["fixation1", "clip1", "blank1"]));
        let fixation = t["durations_ms"]["fixation1"].as_u64().unwrap();
        assert!((400..=800).contains(&fixation), "{fixation}");
        assert_eq!(t["durations_ms"]["blank1"], 250);
        let iti = t["iti_ms"].as_u64().unwrap();
        if i == 0 {
            assert_eq!(iti, 0);
        } else {
            assert!((800..=1200).contains(&iti), "{iti}");
        }
    }
    assert_eq!(v["after_steps"], serde_json::json!(["goldmsi"]));
}

#[test]
fn assignment_sheet_and_carryover_with_a_partial_cycle_warning() {
    let run = |n: &str| {
        cuelab(&[
            "plan",
            "protocols/tests/good/williams-blocks.toml",
            "--participants",
            n,
            "--format",
            "json",
        ])
    };
    let whole = run("6");
    assert!(whole.status.success());
    assert!(
        whole.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&whole.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&whole.stdout).unwrap();
    assert_eq!(v["cycle"], 6);
    let sheet = v["assignments"].as_array().unwrap();
    assert_eq!(sheet.len(), 6);
    for (k, a) in sheet.iter().enumerate() {
        assert_eq!(a["participant"], (k + 1).to_string());
        for key in ["rotation", "group", "order"] {
            assert!(a.get(key).is_some(), "{a}");
        }
        assert_eq!(a["order"].as_array().unwrap().len(), 3);
    }
    let carryover = v["carryover"].as_array().unwrap();
    assert_eq!(carryover.len(), 6, "3 × 2 ordered pairs of block levels");
    assert!(carryover.iter().all(|c| c["count"] == 2), "{carryover:?}");

    let partial = run("5");
    assert_eq!(partial.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&partial.stderr);
    assert!(
        stderr.contains("warning: 5 participants are not a whole number of counterbalancing cycles (6 per cycle)"),
        "{stderr}"
    );

    let table = cuelab(&[
        "plan",
        "protocols/tests/good/williams-blocks.toml",
        "--participants",
        "6",
    ]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("# assignment sheet"), "{text}");
    assert!(text.contains("tone → tone2 → silence") || text.contains("tone → silence → tone2"));

    let too_many = run("100000");
    assert_eq!(too_many.status.code(), Some(2));
}

#[test]
fn validate_warns_when_levels_of_a_factor_differ_in_loudness() {
    let out = cuelab(&["validate", "protocols/tests/good/loudness-mismatch.toml"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    // At the declaration of the loudest soundtrack (line 8, `loud = ...`).
    assert!(
        stderr.contains(
            "protocols/tests/good/loudness-mismatch.toml:8:1: warning: the soundtracks of factor `music` differ in loudness by 6.0 LU"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("LUFS after gain_db"), "{stderr}");
    assert!(stderr.contains("estimated session length: "), "{stderr}");

    let normalized = cuelab(&["validate", "protocols/tests/good/normalized.toml"]);
    let stderr = String::from_utf8_lossy(&normalized.stderr);
    assert_eq!(normalized.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("normalized to -23.0 LUFS then gain_db -2.0 dB (plays at -25.0 LUFS)"),
        "{stderr}"
    );
    // The remaining 6 LU difference is the gain_db's, reported as deliberate.
    assert!(stderr.contains("because of their gain_db"), "{stderr}");
}

/// Integrated loudness of a file by FFmpeg's own `ebur128` filter (an independent meter).
fn ffmpeg_lufs(path: &Path) -> f64 {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostats", "-i"])
        .arg(path)
        .args(["-af", "ebur128", "-f", "null", "-"])
        .output()
        .expect("run ffmpeg");
    let log = String::from_utf8_lossy(&out.stderr);
    // The summary ends the log: "Integrated loudness:\n    I: -23.0 LUFS".
    let summary = &log[log.rfind("Integrated loudness:").expect("a summary")..];
    let line = summary
        .lines()
        .find_map(|l| l.trim().strip_prefix("I:"))
        .expect("an I: line");
    line.trim().trim_end_matches("LUFS").trim().parse().unwrap()
}

#[test]
fn write_normalized_files_measure_at_the_target_by_ffmpeg() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("normalized");
    let out = cuelab(&[
        "validate",
        "protocols/tests/good/normalized.toml",
        "--write-normalized",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // normalize_lufs = -23, and each soundtrack's gain_db adds to it.
    for (id, want) in [("loud", -23.0 + 4.0), ("quiet", -23.0 - 2.0)] {
        let lufs = ffmpeg_lufs(&out_dir.join(format!("{id}.wav")));
        assert!(
            (lufs - want).abs() <= 0.5,
            "{id}: FFmpeg measures {lufs} LUFS, want {want}"
        );
    }
    let two = cuelab(&[
        "validate",
        "protocols/congruence.toml",
        "protocols/time-perception.toml",
        "--write-normalized",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(two.status.code(), Some(2));
}

#[test]
fn a_counterbalancing_table_too_large_to_plan_is_refused_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let levels: Vec<String> = (0..100).map(|i| format!("\"l{i}\"")).collect();
    let path = dir.path().join("big.toml");
    std::fs::write(
        &path,
        format!(
            "[experiment]\nid = \"big\"\ntitle = \"Big\"\nversion = \"1\"\n[factors]\na = {{ levels = [{}] }}\n[design]\nrepetitions = 100\n[[procedure]]\nfixation = {{ ms = 1 }}\n",
            levels.join(", ")
        ),
    )
    .unwrap();
    let out = cuelab(&["plan", path.to_str().unwrap(), "--participants", "1000"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--participants 1000 would plan 10000000 trials (10000 per participant); the limit is 2000000"),
        "{stderr}"
    );
}

#[test]
fn validate_warns_about_truncated_stimuli_and_uses_their_measured_length() {
    let dir = std::env::temp_dir().join(format!("cuelab-truncated-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let fixtures = root().join("crates/playback/tests/fixtures");
    for f in [
        "truncated_mp4_header_says_2s.mp4",
        "truncated_flac_header_says_1s.flac",
    ] {
        std::fs::copy(fixtures.join(f), dir.join(f)).unwrap();
    }
    let protocol = dir.join("truncated.toml");
    std::fs::write(
        &protocol,
        r#"[experiment]
id = "truncated"
title = "Truncated stimuli"
version = "1"

[stimuli.clips]
cut = "truncated_mp4_header_says_2s.mp4"

[stimuli.soundtracks]
short = "truncated_flac_header_says_1s.flac"

[factors]
music = { levels = ["short"] }

[[procedure]]
clip = {}
"#,
    )
    .unwrap();
    let out = cuelab(&["validate", protocol.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Still valid (the files play at their measured length), but both are named.
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("clip `cut`: the header states 2.000 s but the video packets"),
        "{stderr}"
    );
    assert!(
        stderr.contains("soundtrack `short`: the header states") && stderr.contains("truncated"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
