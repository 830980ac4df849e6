//! End-to-end: `cuelab demo` as a new user runs it, on a machine with no sound card and no
//! display: the four bundled studies' simulated participants through the session runner on
//! virtual devices, exported, analysed, and one index linking the reports.

mod common;

use common::{Csv, cuelab, snapshot, temp_dir, text};
use cuelab_core::schema;

#[test]
fn demo_simulates_exports_and_analyses_and_refuses_to_overwrite() {
    let dir = temp_dir("demo");
    let dir_s = dir.to_str().unwrap();
    // 4 participants: one counterbalancing cycle of every study.
    let out = cuelab(&["demo", "--out", dir_s, "--participants", "4"]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(stdout.contains("balanced"), "{stdout}");
    assert!(stdout.contains("index.html"), "{stdout}");

    let studies = [
        ("time-perception", "timeperception"),
        ("congruence", "congruence"),
        ("emotion-attribution", "emotionattribution"),
        ("memory-bias", "memorybias"),
    ];
    let index = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(index.contains("SIMULATED"), "{index}");
    assert!(index.contains("href=\"musictime/report.html\""), "{index}");
    for (key, kw) in studies {
        for f in [
            format!("{key}/export/data/experiment-{kw}_table-trials_data.csv"),
            format!("{key}/export/data/experiment-{kw}_table-responses_data.csv"),
            format!("{key}/export/dataset_description.json"),
            format!("{key}/export/codebook.csv"),
            format!("{key}/export/parquet/trials.parquet"),
            format!("{key}/export/bids/dataset_description.json"),
            format!("{key}/analysis.toml"),
            format!("{key}/report/report.html"),
            format!("{key}/report/results.json"),
        ] {
            assert!(dir.join(&f).is_file(), "missing {f}");
        }
        assert!(
            index.contains(&format!("href=\"{key}/report/report.html\"")),
            "{index}"
        );
        let report =
            std::fs::read_to_string(dir.join(format!("{key}/report/report.html"))).unwrap();
        assert!(
            report.contains("ANOVA"),
            "{key}: the report does not mention the ANOVA"
        );
    }
    for f in [
        "time-perception/export/bids/sub-S001/ses-1/beh/sub-S001_ses-1_task-timeperception_events.tsv",
        "emotion-attribution/export/parquet/continuous.parquet",
        "memory-bias/recognition.csv",
        "emotion-attribution/curves/calm_to_tense.curve.csv",
        "README.md",
        "musictime/report.html",
        "musictime/results.json",
    ] {
        assert!(dir.join(f).is_file(), "missing {f}");
    }
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    assert!(readme.starts_with("# SIMULATED DATA"), "{readme}");

    // The time-perception trials table starts with the schema's columns, by name, then the
    // protocol's factor and step ids.
    let trials_csv = "time-perception/export/data/experiment-timeperception_table-trials_data.csv";
    let trials = Csv::read(&dir.join(trials_csv));
    let fixed: Vec<&str> = schema::TRIALS.iter().map(|c| c.name).collect();
    assert_eq!(&trials.header[..fixed.len()], &fixed[..]);
    for extra in [
        "music",
        "fixation_ms",
        "verbal",
        "reproduction",
        "sam_valence",
        "sam_arousal",
        "simulated",
    ] {
        assert!(
            trials.header.iter().any(|h| h == extra),
            "no `{extra}` in {:?}",
            trials.header
        );
    }
    // 13 trials each: 1 practice + 4 clips x 3.
    assert_eq!(trials.rows.len(), 4 * 13);
    for p in 1..=4 {
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
        // The generated clips last 10 s (the practice clip 6 s) at 25 fps: every frame shown.
        let duration = trials.f64(r, "clip_duration_s").unwrap();
        let want = if r["practice"] == "TRUE" { 6.0 } else { 10.0 };
        assert!((duration - want).abs() < 0.05, "{at}: {duration}");
        assert_eq!(trials.f64(r, "frames_shown"), Some(want * 25.0), "{at}");
        assert_eq!(trials.f64(r, "frames_dropped"), Some(0.0), "{at}");
        assert_eq!(trials.f64(r, "xruns"), Some(0.0), "{at}");
        assert_eq!(r["video_onset_ns"], r["scheduled_onset_ns"], "{at}");
        if r["soundtrack"].is_empty() {
            assert_eq!(r["av_offset_ms"], "", "{at}");
        } else {
            let av = trials.f64(r, "av_offset_ms").unwrap();
            assert!(av.abs() <= 1.0, "{at}: av_offset_ms {av}");
        }
        for item in ["verbal", "reproduction", "sam_valence", "sam_arousal"] {
            let v = trials.f64(r, item);
            assert!(v.is_some_and(|v| v > 0.0), "{at}: {item} = {v:?}");
        }
        // The jittered fixation is within its declared range.
        let fixation = trials.f64(r, "fixation_ms").unwrap();
        assert!((500.0..=1500.0).contains(&fixation), "{at}: {fixation}");
    }
    let responses = Csv::read(
        &dir.join("time-perception/export/data/experiment-timeperception_table-responses_data.csv"),
    );
    // Per trial: two estimates and two SAM items.
    let in_trials = responses
        .rows
        .iter()
        .filter(|r| !r["trial_index"].is_empty())
        .count();
    assert_eq!(in_trials, 4 * 13 * 4);
    assert!(responses.rows.iter().all(|r| r["simulated"] == "TRUE"));

    let results: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("time-perception/report/results.json")).unwrap(),
    )
    .unwrap();
    // Practice trials are not analysed: 4 x 12 test trials.
    assert_eq!(results["n_rows"], 48, "{}", results["counts"]);
    assert_eq!(results["n_subjects"], 4);

    // The emotion study's continuous valence and arousal, as time courses per music, each
    // changing soundtrack followed with a lag (the simulated participants lag 2 s).
    let emotion: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("emotion-attribution/report/results.json")).unwrap(),
    )
    .unwrap();
    let items = &emotion["continuous"]["items"];
    for item in ["valence", "arousal"] {
        let levels = items[item].as_object().unwrap();
        let mut names: Vec<&str> = levels.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["calm_to_tense", "happy", "sad", "sad_to_happy"]);
        for changing in ["calm_to_tense", "sad_to_happy"] {
            let lag = levels[changing]["lag_ms"].as_f64().unwrap();
            assert!((1000.0..=3000.0).contains(&lag), "{item} {changing}: {lag}");
        }
        assert!(
            dir.join(format!("emotion-attribution/report/continuous_{item}.svg"))
                .is_file()
        );
    }

    // The memory-bias recognition table has one row per old/new answer in a test trial:
    // 4 clips with music x 6 details + 2 clips without x 4 details per participant.
    let recognition = Csv::read(&dir.join("memory-bias/recognition.csv"));
    assert_eq!(recognition.rows.len(), 4 * (4 * 6 + 2 * 4));
    for detail in ["congruent", "incongruent", "none"] {
        assert!(
            recognition.rows.iter().any(|r| r["detail"] == detail),
            "no {detail}"
        );
    }

    // A second run into the same folder without --force is refused and changes nothing.
    let before = snapshot(&dir);
    let again = cuelab(&["demo", "--out", dir_s, "--participants", "4"]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    assert!(
        snapshot(&dir) == before,
        "a refused run changed the output folder"
    );

    // With --force it replaces the demo's files.
    let forced = cuelab(&["demo", "--out", dir_s, "--participants", "5", "--force"]);
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced));
    let trials = Csv::read(&dir.join(trials_csv));
    assert_eq!(trials.rows.len(), 5 * 13);

    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn demo_refuses_zero_or_too_many_participants() {
    for n in ["0", "3", "100000"] {
        let dir = temp_dir(&format!("demo-n{n}"));
        let out = cuelab(&["demo", "--out", dir.to_str().unwrap(), "--participants", n]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(!dir.exists(), "nothing is written for invalid input");
    }
}
