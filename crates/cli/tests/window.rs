//! The participant window end to end: `cuelab run --display window --audio virtual` of a
//! protocol with every step type (tests/data/window/protocol.toml) under Xvfb, driven by
//! xdotool — keys, clicks, a continuous-rating drag during the clip, an Esc that is cancelled,
//! a timeout — then exported; the exported responses are exactly what the script gave, with
//! response times. Screenshots of each screen type go to target/ui-screenshots/.
//!
//! The script waits on the journal where it can (steps before and after the trials, and each
//! trial's end, are committed to it as they finish); within a trial it paces itself with
//! pauses longer than the screens it waits for.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::Csv;

/// Finds `tool` on the PATH.
fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// A process killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Driver {
    display: String,
    journal: PathBuf,
    shots: PathBuf,
}

impl Driver {
    fn x(&self, args: &[&str]) {
        let st = Command::new("xdotool")
            .args(args)
            .env("DISPLAY", &self.display)
            .status()
            .expect("xdotool runs");
        assert!(st.success(), "xdotool {args:?} failed");
    }

    fn key(&self, keys: &[&str]) {
        for k in keys {
            self.x(&["key", k]);
            std::thread::sleep(Duration::from_millis(80));
        }
    }

    fn pause(&self, ms: u64) {
        std::thread::sleep(Duration::from_millis(ms));
    }

    /// Saves the screen as `name`.png and checks it is not one flat colour.
    fn shot(&self, name: &str) {
        let path = self.shots.join(format!("{name}.png"));
        let st = Command::new("ffmpeg")
            .args([
                "-v",
                "error",
                "-y",
                "-f",
                "x11grab",
                "-video_size",
                "1280x720",
                "-i",
            ])
            .arg(&self.display)
            .args(["-frames:v", "1"])
            .arg(&path)
            .status()
            .expect("ffmpeg runs");
        assert!(st.success(), "screenshot {name}");
        // A PNG of a single flat colour compresses to a few hundred bytes; text and widgets do
        // not.
        let len = std::fs::metadata(&path).unwrap().len();
        assert!(len > 4_000, "{name}.png is {len} bytes: a blank screen?");
    }

    /// Waits until the journal has at least `n` lines containing `needle`.
    fn wait_journal(&self, needle: &str, n: usize) {
        let start = Instant::now();
        loop {
            let count = std::fs::read_to_string(&self.journal)
                .map(|t| t.lines().filter(|l| l.contains(needle)).count())
                .unwrap_or(0);
            if count >= n {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the journal never got {n} line(s) with {needle}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/window")
}

#[test]
fn a_window_session_driven_by_xdotool_exports_exactly_the_answers_given() {
    let missing: Vec<&str> = ["Xvfb", "xdotool", "ffmpeg"]
        .into_iter()
        .filter(|t| which(t).is_none())
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "skipped: {} not installed (scripts/setup --test installs them)",
            missing.join(", ")
        );
        assert!(missing.iter().all(|t| which(t).is_none()));
        return;
    }
    let n = 100 + std::process::id() % 800;
    let display = format!(":{n}");
    let _xvfb = Killed(
        Command::new("Xvfb")
            .args([&display, "-screen", "0", "1280x720x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb starts"),
    );
    let socket = PathBuf::from(format!("/tmp/.X11-unix/X{n}"));
    wait_for("Xvfb", || socket.exists());

    let tmp = common::temp_dir("window");
    std::fs::create_dir_all(&tmp).unwrap();
    let data_dir = tmp.join("data");
    let shots = common::root().join("target/ui-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let stderr = std::fs::File::create(tmp.join("stderr.txt")).unwrap();
    let mut run = Killed(
        Command::new(env!("CARGO_BIN_EXE_cuelab"))
            .arg("run")
            .arg(data().join("protocol.toml"))
            .args([
                "--participant",
                "1",
                "--display",
                "window",
                "--audio",
                "virtual",
            ])
            .arg("--data-dir")
            .arg(&data_dir)
            .env("DISPLAY", &display)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("cuelab starts"),
    );
    let d = Driver {
        display: display.clone(),
        journal: data_dir.join("window-e2e/sub-1/ses-1/journal.jsonl"),
        shots,
    };
    wait_for("the window", || {
        Command::new("xdotool")
            .args(["search", "--onlyvisible", "--name", "cuelab"])
            .env("DISPLAY", &display)
            .output()
            .is_ok_and(|o| o.status.success())
    });
    // No window manager runs under Xvfb: give the window the keyboard focus.
    d.x(&["search", "--onlyvisible", "--name", "cuelab", "windowfocus"]);
    d.wait_journal("session_start", 1);
    // The window measures 60 flips before the first page.
    d.pause(2000);

    // Before the trials: consent, instructions (with an Esc that is cancelled), questionnaire.
    d.shot("consent");
    d.key(&["y"]);
    d.wait_journal("\"consent\"", 1);
    d.pause(500);
    d.shot("instructions");
    d.key(&["Escape"]);
    d.pause(400);
    d.shot("abort-dialog");
    d.key(&["n"]);
    d.pause(300);
    d.key(&["space"]);
    d.wait_journal("\"step\":\"intro\"", 1);
    d.pause(500);
    d.key(&["4", "2"]);
    d.pause(300);
    d.shot("questionnaire");
    d.key(&["Return"]);
    d.wait_journal("\"step_done\",\"t_ns\"", 3);

    // Trial 1 (practice, c2): a drag across the 2-D pad while the clip plays (the fixation
    // lasts 300 ms, the clip starts 150 ms after it and lasts 2 s).
    d.pause(700);
    d.x(&["mousemove", "900", "520", "mousedown", "1"]);
    for k in 1..=10 {
        let (x, y) = (900 + 30 * k, 520 - 32 * k);
        d.x(&["mousemove", &x.to_string(), &y.to_string()]);
        d.pause(40);
        if k == 8 {
            d.shot("clip-continuous");
        }
    }
    d.x(&["mouseup", "1"]);
    d.pause(2600);
    d.key(&["1"]);
    d.pause(300);
    d.shot("feedback");
    d.pause(1200);
    d.shot("reproduction-toggle");
    d.key(&["space"]);
    d.pause(500);
    d.key(&["space"]);
    d.wait_journal("\"trial_end\"", 1);
    d.pause(500);
    d.shot("practice-end");
    d.key(&["space"]);

    // Trial 2 (c1): every rating widget, a timeout, a verbal estimate, a held reproduction.
    d.pause(3300);
    d.key(&["1"]);
    d.pause(600);
    d.key(&["7", "3", "5"]);
    d.pause(200);
    d.shot("sam");
    d.key(&["Return"]);
    d.pause(600);
    // The VAS line runs from x = 242 to 962 at y = 151 in a 1280x720 window: 40% along.
    d.x(&["mousemove", "530", "151", "click", "1"]);
    d.pause(300);
    d.shot("vas");
    d.key(&["Return"]);
    d.pause(600);
    d.key(&["2", "6"]);
    d.pause(200);
    d.shot("bipolar");
    d.key(&["Return"]);
    d.pause(500);
    d.shot("likert");
    // Nothing pressed: the 2.5 s timeout passes, and its message stays up for 1 s.
    d.pause(1900);
    d.shot("timeout");
    d.pause(1500);
    d.x(&["type", "abc"]);
    d.key(&["Return"]);
    d.pause(300);
    d.shot("numeric-invalid");
    d.key(&["ctrl+a", "BackSpace"]);
    d.x(&["type", "12.5"]);
    d.pause(200);
    d.shot("numeric");
    d.key(&["Return"]);
    d.pause(600);
    d.x(&["keydown", "space"]);
    d.pause(400);
    d.shot("reproduction-hold");
    d.pause(400);
    d.x(&["keyup", "space"]);
    d.wait_journal("\"trial_end\"", 2);
    d.pause(500);
    d.shot("break");
    d.key(&["space"]);

    // Trial 3 (c2).
    d.pause(3300);
    d.key(&["1"]);
    d.pause(600);
    d.key(&["space"]);
    d.pause(600);
    d.key(&["space"]);
    d.wait_journal("\"trial_end\"", 3);

    // After: free text, then the end page.
    d.pause(500);
    d.x(&["type", "nice clips"]);
    d.pause(200);
    d.shot("free-text");
    d.key(&["Return"]);
    d.wait_journal("\"step\":\"comments\"", 1);
    d.pause(500);
    d.shot("end");
    d.key(&["space"]);
    let start = Instant::now();
    let status = loop {
        if let Some(st) = run.0.try_wait().unwrap() {
            break st;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "cuelab did not end"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let log = std::fs::read_to_string(tmp.join("stderr.txt")).unwrap();
    assert!(status.success(), "{status}: {log}");
    assert!(log.contains("trial   3/3"), "{log}");

    // A second participant quits at the consent page: Esc, then Y. The session ends `aborted`
    // (exit 3) with its data kept.
    let stderr2 = std::fs::File::create(tmp.join("stderr2.txt")).unwrap();
    let mut quit = Killed(
        Command::new(env!("CARGO_BIN_EXE_cuelab"))
            .arg("run")
            .arg(data().join("protocol.toml"))
            .args([
                "--participant",
                "2",
                "--display",
                "window",
                "--audio",
                "virtual",
            ])
            .arg("--data-dir")
            .arg(&data_dir)
            .env("DISPLAY", &display)
            .stdout(Stdio::null())
            .stderr(stderr2)
            .spawn()
            .expect("cuelab starts"),
    );
    wait_for("the second window", || {
        Command::new("xdotool")
            .args(["search", "--onlyvisible", "--name", "cuelab"])
            .env("DISPLAY", &display)
            .output()
            .is_ok_and(|o| o.status.success())
    });
    d.x(&["search", "--onlyvisible", "--name", "cuelab", "windowfocus"]);
    d.pause(2000);
    d.key(&["Escape"]);
    d.pause(400);
    d.key(&["y"]);
    let start = Instant::now();
    let quit_status = loop {
        if let Some(st) = quit.0.try_wait().unwrap() {
            break st;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "cuelab did not quit"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(quit_status.code(), Some(3), "{quit_status}");
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(data_dir.join("window-e2e/sub-2/ses-1/session.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(meta["status"], "aborted", "{meta}");

    // A third participant's window is destroyed under it (as if by another X client): the
    // session ends `aborted` too.
    let mut closed = Killed(
        Command::new(env!("CARGO_BIN_EXE_cuelab"))
            .arg("run")
            .arg(data().join("protocol.toml"))
            .args([
                "--participant",
                "3",
                "--display",
                "window",
                "--audio",
                "virtual",
            ])
            .arg("--data-dir")
            .arg(&data_dir)
            .env("DISPLAY", &display)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cuelab starts"),
    );
    wait_for("the third window", || {
        Command::new("xdotool")
            .args(["search", "--onlyvisible", "--name", "cuelab"])
            .env("DISPLAY", &display)
            .output()
            .is_ok_and(|o| o.status.success())
    });
    d.pause(2000);
    d.x(&["search", "--onlyvisible", "--name", "cuelab", "windowclose"]);
    let start = Instant::now();
    let closed_status = loop {
        if let Some(st) = closed.0.try_wait().unwrap() {
            break st;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "cuelab did not stop"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(closed_status.code(), Some(3), "{closed_status}");
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(data_dir.join("window-e2e/sub-3/ses-1/session.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(meta["status"], "aborted", "{meta}");

    // Export and compare with what the script did.
    let out = tmp.join("export");
    let exported = common::cuelab(&[
        "export",
        data_dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(exported.status.success(), "{}", common::text(&exported));
    let table = |name: &str| {
        Csv::read(&out.join(format!("data/experiment-windowe2e_table-{name}_data.csv")))
    };
    let responses = table("responses");
    let row = |trial: &str, step: &str, item: &str| {
        responses
            .rows
            .iter()
            .find(|r| r["trial_index"] == trial && r["step"] == step && r["item"] == item)
            .unwrap_or_else(|| panic!("no response {trial}/{step}/{item}"))
    };
    // (trial, step, item, value, text) exactly as given.
    let exact: &[(&str, &str, &str, &str, &str)] = &[
        ("", "consent1", "consent1", "1", "accepted"),
        ("", "about", "like", "4", ""),
        ("", "about", "films", "2", "monthly"),
        ("1", "moved", "moved", "1", "yes"),
        ("2", "moved", "moved", "1", "yes"),
        ("3", "moved", "moved", "1", "yes"),
        ("2", "sam", "valence", "7", ""),
        ("2", "sam", "arousal", "3", ""),
        ("2", "sam", "dominance", "5", ""),
        ("2", "sd", "calm_tense", "2", ""),
        ("2", "sd", "sad_happy", "6", ""),
        ("2", "verbal", "verbal", "12.5", ""),
        ("", "comments", "comments", "", "nice clips"),
    ];
    for &(trial, step, item, value, text) in exact {
        let r = row(trial, step, item);
        assert_eq!(r["value"], value, "{step}/{item}");
        assert_eq!(r["text"], text, "{step}/{item}");
        assert_eq!(r["timed_out"], "FALSE", "{step}/{item}");
        let rt = responses.f64(r, "rt_ms").expect("a response time");
        assert!(rt > 0.0 && rt < 30_000.0, "{step}/{item}: rt {rt}");
    }
    assert_eq!(row("1", "moved", "moved")["correct"], "TRUE");
    // The VAS: 40% along its line (to within the pixel rounding).
    let fit = responses.f64(row("2", "fit", "fit"), "value").unwrap();
    assert!((fit - 40.0).abs() <= 1.0, "fit {fit}");
    // The timed-out Likert row: no value, no response time.
    let liked = row("2", "liked", "liked");
    assert_eq!(
        (
            liked["timed_out"].as_str(),
            liked["value"].as_str(),
            liked["rt_ms"].as_str()
        ),
        ("TRUE", "", "")
    );
    // Reproductions in seconds: held about 0.8 s (plus the screenshot taken during it),
    // toggled about 0.5 and 0.6 s; each as long as xdotool's pauses, within a few passes.
    let held = responses.f64(row("2", "held", "held"), "value").unwrap();
    assert!((0.75..2.0).contains(&held), "held {held}");
    for trial in ["1", "3"] {
        let v = responses
            .f64(row(trial, "toggled", "toggled"), "value")
            .unwrap();
        assert!((0.45..1.5).contains(&v), "toggled {v}");
    }
    assert_eq!(
        responses.rows.len(),
        exact.len() + 5,
        "{:?}",
        responses.rows
    );

    // The continuous rating: 20 Hz from the video onset; the drag moved both dimensions from
    // the neutral 5 to the pad's corners; an untouched pad stays at 5.
    let continuous = table("continuous");
    for (trial, moved) in [("1", true), ("2", false)] {
        for dim in ["valence", "arousal"] {
            let samples: Vec<(f64, f64)> = continuous
                .rows
                .iter()
                .filter(|r| r["trial_index"] == trial && r["item"] == dim)
                .map(|r| {
                    (
                        continuous.f64(r, "t_ms").unwrap(),
                        continuous.f64(r, "value").unwrap(),
                    )
                })
                .collect();
            assert!((35..=45).contains(&samples.len()), "{}", samples.len());
            assert!(
                samples
                    .windows(2)
                    .all(|w| (w[1].0 - w[0].0 - 50.0).abs() < 1e-6)
            );
            let (lo, hi) = samples
                .iter()
                .fold((9.0f64, 1.0f64), |(lo, hi), s| (lo.min(s.1), hi.max(s.1)));
            if moved {
                assert!(lo < 3.0 && hi > 7.5, "{dim}: {lo}..{hi}");
            } else {
                assert_eq!((lo, hi), (5.0, 5.0), "{dim}");
            }
        }
    }
    // Every clip was presented through the window with measured flips.
    let trials = table("trials");
    assert_eq!(trials.rows.len(), 3);
    for t in &trials.rows {
        let shown = trials.f64(t, "frames_shown").unwrap();
        assert!(shown >= 40.0, "frames shown {shown}");
        assert!(!t["video_onset_ns"].is_empty());
        assert!(!t["av_offset_ms"].is_empty());
    }
}
