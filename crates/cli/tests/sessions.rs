//! End-to-end: sessions that never lose a trial. The real binary runs real-time headless
//! sessions with a simulated participant (`cuelab run --simulate --display headless`), is
//! killed with SIGKILL at many instants and resumed, refuses what it must refuse, checks the
//! data folder before the first trial, and withdraws participants without a trace.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Csv, cuelab, snapshot, temp_dir, text};
use cuelab_session::journal::{self, Entry};

/// A study of 12 short trials (0.4 s clips), with a page before and after, written into `dir`.
fn short_study(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let ffmpeg = |args: &[&str]| {
        let out = Command::new("ffmpeg")
            .args(["-y", "-loglevel", "error"])
            .args(args)
            .current_dir(dir)
            .output()
            .expect("ffmpeg (scripts/setup --test installs it)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=64x48:rate=25:duration=0.4",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "a.mp4",
    ]);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=64x48:rate=25:duration=0.4",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "b.mp4",
    ]);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=0.6",
        "-ar",
        "48000",
        "tone.wav",
    ]);
    let protocol = r#"
[experiment]
id = "short"
title = "Short"
version = "1"

[stimuli.clips]
a = "a.mp4"
b = "b.mp4"

[stimuli.soundtracks]
tone = "tone.wav"

[factors]
music = { levels = ["tone", "silence"] }

[design]
repetitions = 3
order = { shuffle = true }

[[before]]
instructions = { text = "Welcome." }

[[procedure]]
fixation = { ms = { uniform = [50, 120] } }

[[procedure]]
clip = {}

[[procedure]]
id = "fit"
rating = { scale = "vas", prompt = "Fit?", anchors = ["no", "yes"] }

[[after]]
instructions = { text = "Thank you." }
"#;
    std::fs::write(dir.join("short.toml"), protocol).unwrap();
    // A quick simulated participant: short response times.
    std::fs::write(
        dir.join("fast.toml"),
        "[rt]\nmu_ms = 60.0\nsigma_ms = 10.0\ntau_ms = 30.0\npage_ms = 20.0\n",
    )
    .unwrap();
    dir.join("short.toml")
}

fn run_args<'a>(study: &'a str, model: &'a str, data: &'a str) -> Vec<&'a str> {
    vec![
        "run",
        study,
        "--participant",
        "P7",
        "--simulate",
        "--display",
        "headless",
        "--data-dir",
        data,
        "--model",
        model,
    ]
}

fn journal_of(data: &Path) -> PathBuf {
    data.join("short/sub-P7/ses-1/journal.jsonl")
}

/// Trial indices of the `trial_end` entries, in journal order.
fn trial_ends(entries: &[Entry]) -> Vec<u32> {
    entries
        .iter()
        .filter_map(|e| match e {
            Entry::TrialEnd { trial, .. } => Some(*trial),
            _ => None,
        })
        .collect()
}

#[test]
fn a_session_killed_at_random_instants_resumes_to_the_uninterrupted_order() {
    let dir = temp_dir("kill");
    let study = short_study(&dir);
    let data = dir.join("data");
    let (study_s, model_s, data_s) = (
        study.to_str().unwrap().to_string(),
        dir.join("fast.toml").to_str().unwrap().to_string(),
        data.to_str().unwrap().to_string(),
    );
    // The uninterrupted plan's order.
    let plan = cuelab(&["plan", &study_s, "--participant", "P7", "--format", "json"]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan));
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    let planned: Vec<u32> = plan["trials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["index"].as_u64().unwrap() as u32)
        .collect();
    assert_eq!(planned.len(), 12);

    // A fixed pseudo-random sequence of kill instants (reproducible).
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next_ms = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        150 + state % 900
    };
    let mut kills = 0;
    let mut finished = false;
    for attempt in 0..60 {
        let mut args = run_args(&study_s, &model_s, &data_s);
        if attempt > 0 {
            args.push("--resume");
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_cuelab"))
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_millis(next_ms());
        let mut exited = None;
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait().unwrap() {
                exited = Some(status);
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        match exited {
            Some(status) => {
                assert_eq!(status.code(), Some(0), "attempt {attempt}");
                finished = true;
                if kills >= 20 {
                    break;
                }
                // Finished before 20 kills: start over in a fresh data folder.
                let _ = std::fs::remove_dir_all(&data);
                finished = false;
            }
            None => {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                kills += 1;
                // After every kill the journal (if any) parses and holds each trial at most
                // once, in plan order.
                if journal_of(&data).exists() {
                    let read = journal::read(&journal_of(&data)).unwrap();
                    let ends = trial_ends(&read.entries);
                    assert_eq!(ends[..], planned[..ends.len()], "after kill {kills}");
                }
            }
        }
    }
    assert!(kills >= 20, "only {kills} kills");
    if !finished {
        let args = {
            let mut a = run_args(&study_s, &model_s, &data_s);
            a.push("--resume");
            a
        };
        let out = cuelab(&args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    let read = journal::read(&journal_of(&data)).unwrap();
    assert!(!read.torn_tail);
    assert_eq!(
        trial_ends(&read.entries),
        planned,
        "every trial exactly once, in plan order"
    );
    let meta: serde_json::Value = serde_json::from_slice(
        &std::fs::read(data.join("short/sub-P7/ses-1/session.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(meta["status"], "completed");

    // The export has every trial once, with its response.
    let out_dir = dir.join("export");
    let out = cuelab(&["export", &data_s, "--out", out_dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let trials = Csv::read(&out_dir.join("data/experiment-short_table-trials_data.csv"));
    let idx: Vec<u32> = trials
        .rows
        .iter()
        .map(|r| r["trial_index"].parse().unwrap())
        .collect();
    assert_eq!(idx, planned);
    assert!(
        trials
            .rows
            .iter()
            .all(|r| !r["fit"].is_empty() && !r["video_onset_ns"].is_empty())
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn existing_changed_and_concurrent_sessions_are_refused() {
    let dir = temp_dir("refuse");
    let study = short_study(&dir);
    let data = dir.join("data");
    let (study_s, model_s, data_s) = (
        study.to_str().unwrap().to_string(),
        dir.join("fast.toml").to_str().unwrap().to_string(),
        data.to_str().unwrap().to_string(),
    );
    let done = cuelab(&run_args(&study_s, &model_s, &data_s));
    assert_eq!(done.status.code(), Some(0), "{}", text(&done));
    let before = snapshot(&data);

    // A second run of the same participant and session: refused, nothing changed.
    let again = cuelab(&run_args(&study_s, &model_s, &data_s));
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        err.contains("already exists") && err.contains("--resume"),
        "{err}"
    );
    assert!(snapshot(&data) == before, "a refused run changed the data");

    // Resuming a completed session changes nothing and succeeds.
    let mut resume = run_args(&study_s, &model_s, &data_s);
    resume.push("--resume");
    let out = cuelab(&resume);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("already ended"));
    assert!(snapshot(&data) == before);

    // A second process while the first runs: refused by the lock.
    let mut other = run_args(&study_s, &model_s, &data_s);
    other[3] = "P8";
    let mut first = Command::new(env!("CARGO_BIN_EXE_cuelab"))
        .args(&other)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let journal = data.join("short/sub-P8/ses-1/journal.jsonl");
    let t0 = Instant::now();
    while !journal.exists() && t0.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(50));
    let mut second = other.clone();
    second.push("--resume");
    let out = cuelab(&second);
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("another cuelab process"),
        "{}",
        text(&out)
    );

    // A resume after the protocol changed: refused.
    let mut p = std::fs::read_to_string(&study).unwrap();
    p.push_str("\n# edited\n");
    std::fs::write(&study, p).unwrap();
    let out = cuelab(&second);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("the protocol changed"),
        "{}",
        text(&out)
    );

    // Headless without --simulate is refused with the reason.
    let out = cuelab(&[
        "run",
        &study_s,
        "--participant",
        "P9",
        "--display",
        "headless",
        "--data-dir",
        &data_s,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--simulate"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Mounts a small tmpfs at `at` (as root; the tests run as root, which ignores permission bits,
/// so read-only and full folders are made with mounts, not chmod).
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(at: &Path, options: &str) -> Mount {
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs", at.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mount: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Mount(at.to_path_buf())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn an_unusable_data_folder_fails_before_the_first_trial() {
    let dir = temp_dir("datadir");
    let study = short_study(&dir);
    let (study_s, model_s) = (
        study.to_str().unwrap().to_string(),
        dir.join("fast.toml").to_str().unwrap().to_string(),
    );
    let check = |data: &Path, expect: &str| {
        let data_s = data.to_str().unwrap();
        let out = cuelab(&run_args(&study_s, &model_s, data_s));
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(data_s) && err.contains(expect), "{err}");
        assert!(
            !data.join("short").exists(),
            "a session was started in {data_s}"
        );
    };
    check(&dir.join("missing/parent/data"), "does not exist");
    let ro = Mount::tmpfs(&dir.join("ro"), "ro,size=1m");
    check(&ro.0.join("data"), "cannot be created");
    let full = Mount::tmpfs(&dir.join("full"), "size=64k");
    check(&full.0.join("data"), "not enough free space");
    drop((ro, full));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn withdraw_leaves_no_trace_in_the_data_or_a_later_export() {
    let dir = temp_dir("withdraw");
    let study = short_study(&dir);
    let out_dir = dir.join("sim");
    let out = cuelab(&[
        "simulate",
        study.to_str().unwrap(),
        "--participants",
        "3",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let data = out_dir.join("data");
    let out = cuelab(&["withdraw", data.to_str().unwrap(), "--participant", "S002"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let export = dir.join("export");
    let out = cuelab(&[
        "export",
        data.to_str().unwrap(),
        "--out",
        export.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for (path, bytes, _) in snapshot(&data).into_iter().chain(snapshot(&export)) {
        let path_s = path.to_string_lossy();
        assert!(!path_s.contains("S002"), "{path_s}");
        if !path_s.ends_with(".parquet") {
            assert!(
                !String::from_utf8_lossy(&bytes).contains("S002"),
                "S002 in {path_s}"
            );
        }
    }
    let log = std::fs::read_to_string(data.join("withdrawals.jsonl")).unwrap();
    assert!(log.contains("\"sessions\":1"), "{log}");
    let sessions = Csv::read(&export.join("data/experiment-short_table-sessions_data.csv"));
    let labels: Vec<&str> = sessions
        .rows
        .iter()
        .map(|r| r["participant"].as_str())
        .collect();
    assert_eq!(labels, ["S001", "S003"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn simulate_gives_the_plans_cuelab_plan_gives_and_exports_typed_tables() {
    let dir = temp_dir("simulate");
    let study = short_study(&dir);
    let out_dir = dir.join("sim");
    let out = cuelab(&[
        "simulate",
        study.to_str().unwrap(),
        "--participants",
        "2",
        "--seed",
        "5",
        "--out",
        out_dir.to_str().unwrap(),
        "--jobs",
        "2",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let trials = Csv::read(&out_dir.join("export/data/experiment-short_table-trials_data.csv"));
    for label in ["S001", "S002"] {
        let plan = cuelab(&[
            "plan",
            study.to_str().unwrap(),
            "--participant",
            label,
            "--format",
            "json",
        ]);
        let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
        let planned: Vec<(String, String)> = plan["trials"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["clip"].as_str().unwrap().to_string(),
                    t["conditions"]["music"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let got: Vec<(String, String)> = trials
            .rows
            .iter()
            .filter(|r| r["participant"] == label)
            .map(|r| (r["clip"].clone(), r["music"].clone()))
            .collect();
        assert_eq!(got, planned, "{label}");
    }
    // Booleans are TRUE/FALSE, the codebook describes every column of every table.
    assert!(
        trials
            .rows
            .iter()
            .all(|r| r["practice"] == "FALSE" && r["simulated"] == "TRUE")
    );
    let codebook = Csv::read(&out_dir.join("export/codebook.csv"));
    let described: BTreeMap<(String, String), String> = codebook
        .rows
        .iter()
        .map(|r| {
            (
                (r["table"].clone(), r["column"].clone()),
                r["description"].clone(),
            )
        })
        .collect();
    for h in &trials.header {
        let d = &described[&("trials".to_string(), h.clone())];
        assert!(!d.is_empty(), "{h}");
    }
    let desc: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out_dir.join("export/dataset_description.json")).unwrap(),
    )
    .unwrap();
    for key in [
        "@context",
        "@type",
        "name",
        "description",
        "variableMeasured",
    ] {
        assert!(desc.get(key).is_some(), "psych-DS description lacks {key}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sigterm_aborts_the_session_keeps_its_trials_and_exits_3() {
    let dir = temp_dir("sigterm");
    let study = short_study(&dir);
    let data = dir.join("data");
    let (study_s, model_s, data_s) = (
        study.to_str().unwrap().to_string(),
        dir.join("fast.toml").to_str().unwrap().to_string(),
        data.to_str().unwrap().to_string(),
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_cuelab"))
        .args(run_args(&study_s, &model_s, &data_s))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for two trials to be on disk, then ask it to stop.
    let t0 = Instant::now();
    loop {
        let n = journal::read(&journal_of(&data))
            .map(|r| trial_ends(&r.entries).len())
            .unwrap_or(0);
        if n >= 2 {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "no trials after 60 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let code = child.wait().unwrap().code();
    assert_eq!(code, Some(3));
    let read = journal::read(&journal_of(&data)).unwrap();
    assert!(trial_ends(&read.entries).len() >= 2);
    assert!(matches!(
        read.entries.last(),
        Some(Entry::SessionEnd {
            status: cuelab_session::Status::Aborted,
            ..
        })
    ));
    let meta: serde_json::Value = serde_json::from_slice(
        &std::fs::read(data.join("short/sub-P7/ses-1/session.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(meta["status"], "aborted");
    // An aborted session can be resumed to the end.
    let mut resume = run_args(&study_s, &model_s, &data_s);
    resume.push("--resume");
    let out = cuelab(&resume);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let read = journal::read(&journal_of(&data)).unwrap();
    assert_eq!(trial_ends(&read.entries).len(), 12);

    // The partitioned Parquet layout: one file per experiment and participant.
    let export = dir.join("export");
    let out = cuelab(&[
        "export",
        &data_s,
        "--out",
        export.to_str().unwrap(),
        "--partitioned",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for table in ["trials", "responses", "sessions"] {
        let part = export.join(format!(
            "parquet/{table}/experiment=short/participant=P7/part-0.parquet"
        ));
        assert!(part.is_file(), "missing {}", part.display());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
