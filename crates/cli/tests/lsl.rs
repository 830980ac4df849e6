//! End-to-end: Lab Streaming Layer markers. A real-time headless session with a simulated
//! participant (`cuelab run --simulate --display headless --lsl`) publishes its marker stream;
//! a pylsl inlet (`tests/lsl/inlet.py`, pylsl installed by `scripts/setup --test`) resolves it
//! and must receive every marker the journal records, in order, each stamped within 1 ms of the
//! journal's measured time mapped onto LSL's clock through the journal's own `monotonic_ns`.
//!
//! LSL finds streams by multicast, which a sandbox may block: both sides read an `lsl_api.cfg`
//! (named by `LSLAPICFG`) that points discovery at 127.0.0.1.
//!
//! Serial triggers (`--trigger serial:PORT`) are tested through a `socat` pseudo-terminal pair:
//! the bytes read at the other end are the codes of the journaled events, in order.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cuelab-lsl-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A study of 4 short trials (0.5 s clips, a 0.6 s tone or silence, a rating), a page before
/// and after, a fast simulated participant, and an `lsl_api.cfg` for loopback discovery.
fn short_study(dir: &Path) -> PathBuf {
    let ffmpeg = |args: &str| {
        let out = Command::new("ffmpeg")
            .args(["-y", "-loglevel", "error"])
            .args(args.split_whitespace())
            .current_dir(dir)
            .output()
            .expect("ffmpeg (scripts/setup --test installs it)");
        let why = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{why}");
    };
    let video = "-c:v libx264 -pix_fmt yuv420p";
    ffmpeg(&format!(
        "-f lavfi -i testsrc=size=64x48:rate=25:duration=0.5 {video} a.mp4"
    ));
    ffmpeg(&format!(
        "-f lavfi -i testsrc2=size=64x48:rate=25:duration=0.5 {video} b.mp4"
    ));
    ffmpeg("-f lavfi -i sine=frequency=440:duration=0.6 -ar 48000 tone.wav");
    let protocol = r#"
[experiment]
id = "markers"
title = "Markers"
version = "1"

[stimuli.clips]
a = "a.mp4"
b = "b.mp4"

[stimuli.soundtracks]
tone = "tone.wav"

[factors]
music = { levels = ["tone", "silence"] }

[[before]]
instructions = { text = "Welcome." }

[[procedure]]
fixation = { ms = 100 }

[[procedure]]
clip = {}

[[procedure]]
id = "fit"
rating = { scale = "vas", prompt = "Fit?", anchors = ["no", "yes"] }

[[after]]
instructions = { text = "Thank you." }
"#;
    std::fs::write(dir.join("markers.toml"), protocol).unwrap();
    std::fs::write(
        dir.join("fast.toml"),
        "[rt]\nmu_ms = 60.0\nsigma_ms = 10.0\ntau_ms = 30.0\npage_ms = 20.0\n",
    )
    .unwrap();
    std::fs::write(dir.join("lsl_api.cfg"), "[lab]\nKnownPeers = {127.0.0.1}\n").unwrap();
    dir.join("markers.toml")
}

fn cuelab(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cuelab"));
    c.args(args)
        .current_dir(dir)
        .env("LSLAPICFG", dir.join("lsl_api.cfg"));
    c
}

const RUN: [&str; 10] = [
    "run",
    "markers.toml",
    "--participant",
    "P1",
    "--simulate",
    "--display",
    "headless",
    "--model",
    "fast.toml",
    "--data-dir",
];

/// The markers a journal implies, in its order: (event, trial, session ns), and the journal's
/// `monotonic_ns`.
fn expected_markers(journal: &Path) -> (Vec<(String, Option<u64>, i64)>, u64) {
    let text = std::fs::read_to_string(journal).unwrap();
    let mut out = Vec::new();
    let mut monotonic_ns = None;
    for line in text.lines() {
        let e: Value = serde_json::from_str(line).unwrap();
        let t = |k: &str| e[k].as_i64().unwrap_or_else(|| panic!("{k} in {line}"));
        let trial = e["trial"].as_u64();
        let mut push = |event: &str, at: i64| out.push((event.to_string(), trial, at));
        match e["event"].as_str().unwrap() {
            "session_start" => {
                monotonic_ns = Some(e["monotonic_ns"].as_u64().expect("monotonic_ns recorded"));
                push("session_start", t("t_ns"));
            }
            "trial_start" => push("trial_start", t("t_ns")),
            "clip" => {
                // Sent as they happen: the earlier first (audio first at the same instant).
                let mut onsets: Vec<(i64, &str)> = [
                    ("audio_onset_ns", "audio_onset"),
                    ("video_onset_ns", "video_onset"),
                ]
                .into_iter()
                .filter_map(|(key, event)| e[key].as_i64().map(|at| (at, event)))
                .collect();
                onsets.sort_by_key(|&(at, event)| (at, event != "audio_onset"));
                for (at, event) in onsets {
                    push(event, at);
                }
            }
            "response" => {
                // The runner stamps a response when it was given: the asking screen's onset
                // plus the response time.
                let at = match e["rt_ms"].as_f64() {
                    Some(rt) => t("onset_ns") + (rt * 1e6).round() as i64,
                    None => t("t_ns"),
                };
                push("response", at);
            }
            "trial_end" => push("trial_end", t("t_ns")),
            "session_end" => {
                if e["status"] == "aborted" {
                    push("abort", t("t_ns"));
                }
                push("session_end", t("t_ns"));
            }
            _ => {}
        }
    }
    (out, monotonic_ns.expect("a session_start line"))
}

#[test]
fn a_pylsl_inlet_receives_every_journaled_marker_in_order_stamped_with_the_measured_time() {
    let dir = temp_dir("session");
    short_study(&dir);
    let mut run = cuelab(&dir, &RUN)
        .args(["data", "--lsl", "--lsl-wait", "60"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run cuelab");
    let inlet = Command::new("python3")
        .arg(root().join("crates/cli/tests/lsl/inlet.py"))
        .args(["cuelab:markers:P1:1", "60"])
        .env("LSLAPICFG", dir.join("lsl_api.cfg"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 (scripts/setup --test installs pylsl)");
    let inlet = inlet.wait_with_output().unwrap();
    if !inlet.status.success() {
        let _ = run.kill();
    }
    let run = run.wait_with_output().unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert!(
        inlet.status.success(),
        "inlet: {}\ncuelab: {}",
        text(&inlet),
        text(&run)
    );

    let mut lines = BufReader::new(&inlet.stdout[..])
        .lines()
        .map(Result::unwrap);
    let ready: Value = serde_json::from_str(&lines.next().unwrap()).unwrap();
    let meta = &ready["ready"];
    assert_eq!(meta["name"], "cuelab-markers");
    assert_eq!(meta["type"], "Markers");
    assert_eq!(meta["nominal_srate"], 0.0);
    assert_eq!(meta["experiment"], "markers");
    let session_json: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("data/markers/sub-P1/ses-1/session.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(meta["protocol_sha256"], session_json["protocol_sha256"]);

    let received: Vec<Value> = lines.map(|l| serde_json::from_str(&l).unwrap()).collect();
    let (expected, monotonic_ns) =
        expected_markers(&dir.join("data/markers/sub-P1/ses-1/journal.jsonl"));
    // 1 session start, 4 trials of (start, audio onset for the tone trials, video onset,
    // response, end), 1 session end.
    assert!(expected.len() >= 2 + 4 * 4, "{expected:?}");
    assert_eq!(
        received.len(),
        expected.len(),
        "received {received:#?}\nexpected {expected:?}"
    );
    for (k, (got, (event, trial, at_ns))) in received.iter().zip(&expected).enumerate() {
        let marker = &got["marker"];
        assert_eq!(marker["event"], event.as_str(), "marker {k}: {got}");
        assert_eq!(marker["trial"].as_u64(), *trial, "marker {k}: {got}");
        // The journal's session time on CLOCK_MONOTONIC, which is lsl_local_clock on Linux.
        let want = (monotonic_ns as f64 + *at_ns as f64) / 1e9;
        let ts = got["ts"].as_f64().unwrap();
        assert!(
            (ts - want).abs() < 1e-3,
            "marker {k} ({event}): LSL {ts:.6} s, journal {want:.6} s"
        );
    }
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains(&format!("lsl: {} markers in ", expected.len())),
        "{stderr}"
    );
}

#[test]
fn lsl_without_liblsl_fails_before_the_first_trial_saying_where_it_looked() {
    let dir = temp_dir("missing");
    short_study(&dir);
    let out = cuelab(&dir, &RUN)
        .args(["data", "--lsl"])
        .env("CUELAB_LIBLSL", "/nonexistent/liblsl.so")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("liblsl could not be loaded"), "{stderr}");
    assert!(
        stderr.contains("tried:\n  /nonexistent/liblsl.so ("),
        "{stderr}"
    );
    // Nothing was written: the session never opened.
    assert!(!dir.join("data/markers").exists(), "{stderr}");

    // The same named library without --lsl: nothing of LSL is loaded, the session runs.
    let out = cuelab(&dir, &RUN)
        .args(["data"])
        .env("CUELAB_LIBLSL", "/nonexistent/liblsl.so")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("lsl"),
        "{}",
        text(&out)
    );
}

#[test]
fn lsl_on_the_virtual_clock_is_refused() {
    let dir = temp_dir("virtual");
    short_study(&dir);
    let out = cuelab(&dir, &RUN)
        .args(["data", "--clock", "virtual", "--lsl"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--lsl needs the real clock"),
        "{}",
        text(&out)
    );
}

#[test]
fn check_lsl_sends_test_markers_and_reports_the_clock_mapping_error() {
    let dir = temp_dir("check");
    short_study(&dir);
    let out = cuelab(&dir, &["check", "--lsl", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let lsl = &report["lsl"];
    assert_eq!(lsl["markers_sent"], 200);
    assert_eq!(lsl["stream"]["type"], "Markers");
    // Both clocks are CLOCK_MONOTONIC: the mapping is exact to well under a millisecond.
    let error_us = lsl["mapping_error_us"].as_f64().unwrap();
    assert!((0.0..1000.0).contains(&error_us), "{report}");
    let vs_monotonic = lsl["lsl_minus_clock_monotonic_us"].as_f64().unwrap();
    assert!(vs_monotonic.abs() < 1000.0, "{report}");
}

/// A `socat` pseudo-terminal pair under `dir`: cuelab writes to `ttyA`, the test reads `ttyB`.
struct PtyPair {
    socat: std::process::Child,
    a: PathBuf,
    b: PathBuf,
}

impl PtyPair {
    fn new(dir: &Path) -> PtyPair {
        let (a, b) = (dir.join("ttyA"), dir.join("ttyB"));
        let mut socat = Command::new("socat")
            .arg(format!("pty,raw,echo=0,link={}", a.display()))
            .arg(format!("pty,raw,echo=0,link={}", b.display()))
            .stderr(Stdio::piped())
            .spawn()
            .expect("socat (scripts/setup --test installs it)");
        // socat makes both links before it serves; wait for them (bounded) as a readiness check.
        for _ in 0..500 {
            if a.exists() && b.exists() {
                return PtyPair { socat, a, b };
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let _ = socat.kill();
        panic!(
            "socat made no pty pair: {:?}",
            socat.wait_with_output().unwrap()
        );
    }
}

impl Drop for PtyPair {
    fn drop(&mut self) {
        let _ = self.socat.kill();
        let _ = self.socat.wait();
    }
}

#[test]
fn serial_triggers_write_each_event_s_code_and_journal_each_write() {
    use std::io::Read;
    let dir = temp_dir("trigger");
    short_study(&dir);
    std::fs::write(
        dir.join("codes.txt"),
        "# the EEG rig's codes\ntrial_start = 10\naudio_onset = 20\nvideo_onset = 21\nresponse = 30\ntrial_end = none\n",
    )
    .unwrap();
    let pty = PtyPair::new(&dir);
    // The reader keeps the other end open and forwards every byte.
    let (tx, rx) = std::sync::mpsc::channel::<u8>();
    let mut reader = std::fs::File::open(&pty.b).unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || buf[..n].iter().any(|b| tx.send(*b).is_err()) {
                break;
            }
        }
    });
    let port = format!("serial:{}:115200", pty.a.display());
    let out = cuelab(&dir, &RUN)
        .args(["data", "--trigger", &port, "--trigger-codes", "codes.txt"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let (expected, _) = expected_markers(&dir.join("data/markers/sub-P1/ses-1/journal.jsonl"));
    let code = |event: &str| match event {
        "trial_start" => Some(10u8),
        "audio_onset" => Some(20),
        "video_onset" => Some(21),
        "response" => Some(30),
        _ => None,
    };
    let wanted: Vec<(&str, Option<u64>, i64, u8)> = expected
        .iter()
        .filter_map(|(e, t, at)| code(e).map(|c| (e.as_str(), *t, *at, c)))
        .collect();
    assert!(wanted.len() >= 4 * 3, "{wanted:?}");
    // Every byte arrived, in order (the wait only guards against a hang).
    let got: Vec<u8> = (0..wanted.len())
        .map(|k| {
            rx.recv_timeout(std::time::Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("byte {k} of {} never arrived", wanted.len()))
        })
        .collect();
    assert_eq!(got, wanted.iter().map(|w| w.3).collect::<Vec<_>>());
    // Each write is logged with its event's measured time and the time it left the port.
    let log =
        std::fs::read_to_string(dir.join("data/markers/sub-P1/ses-1/triggers.jsonl")).unwrap();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), wanted.len(), "{log}");
    for (line, (event, trial, at, code)) in lines.iter().zip(&wanted) {
        assert_eq!(line["event"], *event, "{line}");
        assert_eq!(line["trial"].as_u64(), *trial, "{line}");
        assert_eq!(line["code"], *code, "{line}");
        assert_eq!(line["at_ns"], *at, "{line}");
        assert!(line["written_ns"].as_i64().unwrap() >= *at, "{line}");
    }
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("trigger: {} writes", wanted.len()))
    );
}

#[test]
fn the_protocol_s_triggers_table_with_condition_rules_drives_the_bytes_written() {
    use std::io::Read;
    let dir = temp_dir("trigger-table");
    let protocol = short_study(&dir);
    // Events not named send nothing; a rule gives a trial event a code by the trial's conditions.
    let table = r#"
[triggers]
trial_start = 10
audio_onset = 20
video_onset = 21
response = 30

[[triggers.when]]
when = 'music == "silence"'
event = "video_onset"
code = 41

[[triggers.when]]
when = 'clip == "b" and music != "silence"'
event = "trial_start"
code = 12

[[triggers.when]]
when = 'clip == "b"'
event = "trial_start"
code = 11
"#;
    let mut toml = std::fs::read_to_string(&protocol).unwrap();
    toml.push_str(table);
    std::fs::write(&protocol, toml).unwrap();
    let pty = PtyPair::new(&dir);
    let (tx, rx) = std::sync::mpsc::channel::<u8>();
    let mut reader = std::fs::File::open(&pty.b).unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || buf[..n].iter().any(|b| tx.send(*b).is_err()) {
                break;
            }
        }
    });
    let port = format!("serial:{}", pty.a.display());
    let out = cuelab(&dir, &RUN)
        .args(["data", "--trigger", &port])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // Each trial's clip and music level, from the journal.
    let journal = dir.join("data/markers/sub-P1/ses-1/journal.jsonl");
    let mut trials = std::collections::BTreeMap::new();
    for line in std::fs::read_to_string(&journal).unwrap().lines() {
        let e: Value = serde_json::from_str(line).unwrap();
        if e["event"] == "trial_start" {
            let clip = e["clip"].as_str().unwrap().to_string();
            let music = e["conditions"]["music"].as_str().unwrap().to_string();
            trials.insert(e["trial"].as_u64().unwrap(), (clip, music));
        }
    }
    let code = |event: &str, trial: Option<u64>| -> Option<u8> {
        let (clip, music) = trial.map(|t| trials[&t].clone()).unwrap_or_default();
        match event {
            "trial_start" if clip == "b" && music != "silence" => Some(12),
            "trial_start" if clip == "b" => Some(11),
            "trial_start" => Some(10),
            "audio_onset" => Some(20),
            "video_onset" if music == "silence" => Some(41),
            "video_onset" => Some(21),
            "response" => Some(30),
            _ => None,
        }
    };
    let (expected, _) = expected_markers(&journal);
    let wanted: Vec<u8> = expected
        .iter()
        .filter_map(|(e, t, _)| code(e, *t))
        .collect();
    // The design crosses both clips with both music levels, so every rule and every plain code
    // is exercised.
    assert_eq!(trials.len(), 4, "{trials:?}");
    for c in [10, 11, 12, 20, 21, 30, 41] {
        assert!(
            wanted.contains(&c),
            "code {c} in {wanted:?} for trials {trials:?}"
        );
    }
    let got: Vec<u8> = (0..wanted.len())
        .map(|k| {
            rx.recv_timeout(std::time::Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("byte {k} of {} never arrived", wanted.len()))
        })
        .collect();
    assert_eq!(got, wanted, "trials {trials:?}");
    let log =
        std::fs::read_to_string(dir.join("data/markers/sub-P1/ses-1/triggers.jsonl")).unwrap();
    let logged: Vec<u8> = log
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["code"].as_u64().unwrap() as u8
        })
        .collect();
    assert_eq!(logged, wanted, "{log}");
    // Onset triggers go out from inside the presentation, as soon as the onset has passed: well
    // before the 0.5 s clip has ended (they used to be written when it had).
    let mut onset_lags_ms = Vec::new();
    for l in log.lines() {
        let v: Value = serde_json::from_str(l).unwrap();
        if matches!(v["event"].as_str(), Some("audio_onset" | "video_onset")) {
            let lag = v["written_ns"].as_i64().unwrap() - v["at_ns"].as_i64().unwrap();
            onset_lags_ms.push(lag as f64 / 1e6);
        }
    }
    eprintln!("onset trigger write − onset, ms: {onset_lags_ms:?}");
    assert!(onset_lags_ms.len() >= 6, "{log}");
    for lag in &onset_lags_ms {
        assert!((0.0..250.0).contains(lag), "{onset_lags_ms:?}\n{log}");
    }
}

#[test]
fn a_trigger_port_that_cannot_be_opened_stops_the_session_before_it_starts() {
    let dir = temp_dir("noport");
    short_study(&dir);
    let out = cuelab(&dir, &RUN)
        .args(["data", "--trigger", "serial:/nonexistent/ttyUSB9"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("serial port /nonexistent/ttyUSB9"),
        "{}",
        text(&out)
    );
    assert!(!dir.join("data/markers").exists());
    std::fs::write(dir.join("codes.txt"), "audio_onset = 256\n").unwrap();
    let out = cuelab(&dir, &RUN)
        .args([
            "data",
            "--trigger",
            "serial:/dev/null",
            "--trigger-codes",
            "codes.txt",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("codes.txt:1:15: a code is 1 to 255"),
        "{}",
        text(&out)
    );
}
