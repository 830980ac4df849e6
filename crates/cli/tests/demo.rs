//! End-to-end: `cuelab demo` as a new user runs it, on a machine with no sound card and no
//! display (the presentation path runs on the virtual audio device and virtual display).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cuelab_core::schema;
use cuelab_session::export::{read_responses, read_trials};

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

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cuelab-demo-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Every file under a folder with its content, to prove a refused run changed nothing.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>, std::time::SystemTime)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(snapshot(&p));
        } else {
            let meta = std::fs::metadata(&p).unwrap();
            out.push((
                p.clone(),
                std::fs::read(&p).unwrap(),
                meta.modified().unwrap(),
            ));
        }
    }
    out.sort();
    out
}

#[test]
fn demo_simulates_exports_and_analyses_and_refuses_to_overwrite() {
    let dir = temp_dir("e2e");
    let dir_s = dir.to_str().unwrap();
    // 8 participants: two Latin-square cycles, 13 trials each (1 practice + 4 clips x 3).
    let out = cuelab(&["demo", "--out", dir_s, "--participants", "8"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("balanced"), "{stdout}");
    assert!(stdout.contains("report.html"), "{stdout}");

    for f in [
        "trials.csv",
        "responses.csv",
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

    // The trials table: the schema's columns, the factor, the duration and the responses.
    let text = std::fs::read_to_string(dir.join("trials.csv")).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let mut expected: Vec<&str> = schema::TRIALS.iter().map(|c| c.name).collect();
    expected.extend([
        "music",
        "clip_duration_s",
        "verbal_s",
        "reproduction_s",
        "valence",
        "arousal",
        "presented",
        "simulated",
    ]);
    assert_eq!(header, expected);

    let trials = read_trials(&dir.join("trials.csv"), &["music"]).unwrap();
    assert_eq!(trials.len(), 8 * 13);
    for p in 1..=8 {
        let label = format!("P{p:02}");
        let mine: Vec<_> = trials.iter().filter(|t| t.participant == label).collect();
        assert_eq!(mine.len(), 13, "{label}");
        assert_eq!(mine.iter().filter(|t| t.practice).count(), 1, "{label}");
    }
    for t in &trials {
        let at = format!("{} trial {}", t.participant, t.trial_index);
        assert!(t.simulated && t.presented, "{at}");
        assert!(!t.flagged, "{at}");
        // The bundled clips last 5, 7, 9 and 11 s at 25 fps: every frame shown, none dropped,
        // no audio underruns.
        let duration = t
            .clip_duration_s
            .unwrap_or_else(|| panic!("{at}: no duration"));
        assert!(
            [5.0, 7.0, 9.0, 11.0].contains(&duration),
            "{at}: {duration}"
        );
        assert_eq!(t.frames_shown, Some((duration * 25.0) as u64), "{at}");
        assert_eq!(t.frames_dropped, Some(0), "{at}");
        assert_eq!(t.xruns, Some(0), "{at}");
        assert_eq!(t.video_onset_ns, t.scheduled_onset_ns, "{at}");
        match &t.soundtrack {
            Some(_) => {
                let av = t
                    .av_offset_ms
                    .unwrap_or_else(|| panic!("{at}: no av_offset"));
                assert!(av.abs() <= 1.0, "{at}: av_offset_ms {av}");
                assert!(t.audio_onset_ns.is_some(), "{at}");
            }
            None => assert_eq!(t.av_offset_ms, None, "{at}"),
        }
        for item in ["verbal_s", "reproduction_s", "valence", "arousal"] {
            let v = t.responses.iter().find(|(k, _)| k == item).map(|(_, v)| *v);
            assert!(v.is_some_and(|v| v > 0.0), "{at}: {item} = {v:?}");
        }
    }
    let responses = read_responses(&dir.join("responses.csv")).unwrap();
    assert_eq!(responses.len(), 8 * 13 * 4);
    assert!(responses.iter().all(|r| r.simulated));

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
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--force"), "{stderr}");
    assert!(
        snapshot(&dir) == before,
        "a refused run changed the output folder"
    );

    // With --force it replaces the demo's files; --present 1 sends only P01 through playback.
    let forced = cuelab(&[
        "demo",
        "--out",
        dir_s,
        "--participants",
        "4",
        "--present",
        "1",
        "--force",
    ]);
    assert_eq!(
        forced.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
    let trials = read_trials(&dir.join("trials.csv"), &["music"]).unwrap();
    assert_eq!(trials.len(), 4 * 13);
    for t in &trials {
        let first = t.participant == "P01";
        assert_eq!(
            t.presented, first,
            "{} trial {}",
            t.participant, t.trial_index
        );
        assert_eq!(t.scheduled_onset_ns.is_some(), first);
        assert_eq!(t.frames_shown.is_some(), first);
    }

    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn demo_refuses_zero_participants() {
    let dir = temp_dir("zero");
    let out = cuelab(&[
        "demo",
        "--out",
        dir.to_str().unwrap(),
        "--participants",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!dir.exists(), "nothing is written for invalid input");
}
