//! End-to-end: `cuelab demo` as a new user runs it, on a machine with no sound card and no
//! display: simulated participants through the session runner on virtual devices, exported,
//! analysed.

mod common;

use common::{Csv, cuelab, snapshot, temp_dir, text};
use cuelab_core::schema;

#[test]
fn demo_simulates_exports_and_analyses_and_refuses_to_overwrite() {
    let dir = temp_dir("demo");
    let dir_s = dir.to_str().unwrap();
    // 8 participants: two Latin-square cycles, 13 trials each (1 practice + 4 clips x 3).
    let out = cuelab(&["demo", "--out", dir_s, "--participants", "8"]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(stdout.contains("balanced"), "{stdout}");
    assert!(stdout.contains("report.html"), "{stdout}");

    let trials_csv = "export/data/experiment-timeperception_table-trials_data.csv";
    for f in [
        trials_csv,
        "export/data/experiment-timeperception_table-responses_data.csv",
        "export/dataset_description.json",
        "export/codebook.csv",
        "export/parquet/trials.parquet",
        "export/bids/dataset_description.json",
        "export/bids/sub-S001/ses-1/beh/sub-S001_ses-1_task-timeperception_events.tsv",
        "README.md",
        "analysis.toml",
        "time-perception/report.html",
        "time-perception/results.json",
        "musictime/report.html",
        "musictime/results.json",
    ] {
        assert!(dir.join(f).is_file(), "missing {f}");
    }
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    assert!(readme.starts_with("# SIMULATED DATA"), "{readme}");

    // The trials table starts with the schema's columns, by name.
    let trials = Csv::read(&dir.join(trials_csv));
    let fixed: Vec<&str> = schema::TRIALS.iter().map(|c| c.name).collect();
    assert_eq!(&trials.header[..fixed.len()], &fixed[..]);
    for extra in [
        "music",
        "fixation1_ms",
        "time_estimate1",
        "time_estimate2",
        "rating1_valence",
        "rating1_arousal",
        "simulated",
    ] {
        assert!(
            trials.header.iter().any(|h| h == extra),
            "no `{extra}` in {:?}",
            trials.header
        );
    }
    assert_eq!(trials.rows.len(), 8 * 13);
    for p in 1..=8 {
        let label = format!("S{p:03}");
        let mine: Vec<_> = trials
            .rows
            .iter()
            .filter(|r| r["participant"] == label)
            .collect();
        assert_eq!(mine.len(), 13, "{label}");
        assert_eq!(
            mine.iter().filter(|r| r["practice"] == "TRUE").count(),
            1,
            "{label}"
        );
    }
    for r in &trials.rows {
        let at = format!("{} trial {}", r["participant"], r["trial_index"]);
        assert_eq!(r["simulated"], "TRUE", "{at}");
        assert_eq!(r["flagged"], "FALSE", "{at}");
        // The bundled clips last 5, 7, 9 and 11 s at 25 fps: every frame shown, none dropped.
        let duration = trials.f64(r, "clip_duration_s").unwrap();
        let whole = duration.round();
        assert!([5.0, 7.0, 9.0, 11.0].contains(&whole), "{at}: {duration}");
        assert_eq!(trials.f64(r, "frames_shown"), Some(whole * 25.0), "{at}");
        assert_eq!(trials.f64(r, "frames_dropped"), Some(0.0), "{at}");
        assert_eq!(trials.f64(r, "xruns"), Some(0.0), "{at}");
        assert_eq!(r["video_onset_ns"], r["scheduled_onset_ns"], "{at}");
        if r["soundtrack"].is_empty() {
            assert_eq!(r["av_offset_ms"], "", "{at}");
        } else {
            let av = trials.f64(r, "av_offset_ms").unwrap();
            assert!(av.abs() <= 1.0, "{at}: av_offset_ms {av}");
        }
        for item in [
            "time_estimate1",
            "time_estimate2",
            "rating1_valence",
            "rating1_arousal",
        ] {
            let v = trials.f64(r, item);
            assert!(v.is_some_and(|v| v > 0.0), "{at}: {item} = {v:?}");
        }
    }
    let responses =
        Csv::read(&dir.join("export/data/experiment-timeperception_table-responses_data.csv"));
    // Per trial: two estimates and two SAM items.
    let in_trials = responses
        .rows
        .iter()
        .filter(|r| !r["trial_index"].is_empty())
        .count();
    assert_eq!(in_trials, 8 * 13 * 4);
    assert!(responses.rows.iter().all(|r| r["simulated"] == "TRUE"));

    let report = std::fs::read_to_string(dir.join("time-perception/report.html")).unwrap();
    assert!(
        report.contains("ANOVA"),
        "the report does not mention the ANOVA"
    );
    let results: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("time-perception/results.json")).unwrap())
            .unwrap();
    // Practice trials are not analysed: 8 x 12 test trials.
    assert_eq!(results["n_rows"], 96, "{}", results["counts"]);
    assert_eq!(results["n_subjects"], 8);

    // A second run into the same folder without --force is refused and changes nothing.
    let before = snapshot(&dir);
    let again = cuelab(&["demo", "--out", dir_s, "--participants", "8"]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    assert!(
        snapshot(&dir) == before,
        "a refused run changed the output folder"
    );

    // With --force it replaces the demo's files.
    let forced = cuelab(&["demo", "--out", dir_s, "--participants", "4", "--force"]);
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced));
    let trials = Csv::read(&dir.join(trials_csv));
    assert_eq!(trials.rows.len(), 4 * 13);

    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn demo_refuses_zero_or_too_many_participants() {
    for n in ["0", "100000"] {
        let dir = temp_dir(&format!("demo-n{n}"));
        let out = cuelab(&["demo", "--out", dir.to_str().unwrap(), "--participants", n]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(!dir.exists(), "nothing is written for invalid input");
    }
}
