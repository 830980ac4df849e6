//! The participant window end to end: `cuelab run --display window` of a protocol with every
//! step type (tests/data/window/protocol.toml) under Xvfb, driven by xdotool — keys, clicks, a
//! continuous-rating drag during the clip, an Esc that is cancelled, a timeout — then exported;
//! the exported responses are exactly what the script gave, with response times. Once with
//! `--audio virtual` (and two participants who quit: Esc + Y, and a window destroyed under the
//! session), once with `--audio pulse` through the PulseAudio null sink
//! (`scripts/pulse-null-sink`), where every clip's audio–video offset is measured from the
//! device's timestamps and printed. Screenshots of each screen type go to
//! target/ui-screenshots/ (`pulse-*.png` for the second run).
//!
//! The script never pauses for a screen: the window runs with `CUELAB_WINDOW_STATUS=1`, which
//! puts what is on screen and live into its title (`[SCREEN STATE]`, see `crates/ui/src/
//! status.rs`), and the script waits for the state it needs — a new screen of a kind, or an
//! answer counted on the current one — with a generous time-out. The only pauses left are the
//! participant's own behaviour: how long a key is held for a reproduction and the pace of the
//! drag. The two sessions run one after the other (a lock), so they do not compete for the CPU.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

mod common;

use common::Csv;

/// One window session at a time: both tests drive an X server and want the CPU.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// How long a state may take to come (PulseAudio can stall for seconds at start-up).
const STATE_TIMEOUT: Duration = Duration::from_secs(60);

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

/// Tools missing for these tests, or none.
fn missing(tools: &[&'static str]) -> Vec<&'static str> {
    tools
        .iter()
        .copied()
        .filter(|t| which(t).is_none())
        .collect()
}

/// An Xvfb server on a display of its own.
fn xvfb(base: u32) -> (Killed, String) {
    let n = base + std::process::id() % 800;
    let display = format!(":{n}");
    let server = Killed(
        Command::new("Xvfb")
            .args([&display, "-screen", "0", "1280x720x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb starts"),
    );
    let socket = PathBuf::from(format!("/tmp/.X11-unix/X{n}"));
    let start = Instant::now();
    while !socket.exists() {
        assert!(start.elapsed() < STATE_TIMEOUT, "Xvfb did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (server, display)
}

/// Drives one participant window through xdotool, waiting on the state in its title.
struct Driver {
    display: String,
    window: String,
    shots: PathBuf,
    /// Prefix of the screenshots' names.
    tag: &'static str,
    /// The screen number last waited for.
    screen: u64,
    /// The last title read (for failure messages).
    last: String,
    /// cuelab's stderr, for failure messages.
    log: PathBuf,
}

impl Driver {
    /// Waits for the window of a `cuelab run` started with `CUELAB_WINDOW_STATUS=1`.
    fn attach(display: &str, shots: &Path, tag: &'static str, log: &Path) -> Driver {
        let start = Instant::now();
        let window = loop {
            let out = Command::new("xdotool")
                .args(["search", "--onlyvisible", "--name", "cuelab"])
                .env("DISPLAY", display)
                .output()
                .expect("xdotool runs");
            let ids = String::from_utf8_lossy(&out.stdout);
            if let Some(id) = ids.split_whitespace().next() {
                break id.to_string();
            }
            assert!(
                start.elapsed() < STATE_TIMEOUT,
                "no window appeared: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        let d = Driver {
            display: display.to_string(),
            window,
            shots: shots.to_path_buf(),
            tag,
            screen: 0,
            last: String::new(),
            log: log.to_path_buf(),
        };
        // No window manager runs under Xvfb: give the window the keyboard focus.
        d.x(&["windowfocus", &d.window]);
        d
    }

    fn x(&self, args: &[&str]) {
        let st = Command::new("xdotool")
            .args(args)
            .env("DISPLAY", &self.display)
            .status()
            .expect("xdotool runs");
        assert!(st.success(), "xdotool {args:?} failed");
    }

    fn key(&self, key: &str) {
        self.x(&["key", key]);
    }

    /// The window's `(screen, state)` from its title, if it has one yet.
    fn status(&mut self) -> Option<(u64, String)> {
        let out = Command::new("xdotool")
            .args(["getwindowname", &self.window])
            .env("DISPLAY", &self.display)
            .output()
            .ok()?;
        let title = String::from_utf8_lossy(&out.stdout).trim().to_string();
        self.last.clone_from(&title);
        let inner = title.rsplit_once('[')?.1.strip_suffix(']')?;
        let (screen, state) = inner.split_once(' ')?;
        Some((screen.parse().ok()?, state.to_string()))
    }

    fn wait(&mut self, what: &str, mut ok: impl FnMut(u64, &str) -> bool) -> u64 {
        let start = Instant::now();
        loop {
            if let Some((screen, state)) = self.status()
                && ok(screen, &state)
            {
                return screen;
            }
            assert!(
                start.elapsed() < STATE_TIMEOUT,
                "waited {STATE_TIMEOUT:?} for {what}; the title is {:?}; cuelab said:\n{}",
                self.last,
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for a new screen whose state starts with `prefix` (screens in between, such as a
    /// fixation nobody needs, are skipped).
    fn next(&mut self, prefix: &str) {
        let after = self.screen;
        self.screen = self.wait(&format!("a screen `{prefix}`"), |screen, state| {
            screen > after && state.starts_with(prefix)
        });
    }

    /// Waits until the current screen's state contains `part` (an answer counted, a
    /// reproduction started, the quit dialog open or closed).
    fn until(&mut self, part: &str) {
        let now = self.screen;
        self.wait(&format!("`{part}` on screen {now}"), |screen, state| {
            screen == now && state.contains(part)
        });
    }

    /// Presses `keys` one by one, each once the answer before it has been counted.
    fn answer_keys(&mut self, keys: &[&str]) {
        for (k, key) in keys.iter().enumerate() {
            self.key(key);
            self.until(&format!("answered={}/", k + 1));
        }
    }

    /// Saves the screen as `<tag><name>.png` and checks it is not one flat colour.
    fn shot(&self, name: &str) {
        let path = self.shots.join(format!("{}{name}.png", self.tag));
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
}

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/window")
}

/// Starts `cuelab run` of the window protocol for `participant` on `display`.
fn start_run(
    display: &str,
    audio: &str,
    participant: &str,
    data_dir: &Path,
    tmp: &Path,
    log: &Path,
) -> Killed {
    let stderr = std::fs::File::create(log).unwrap();
    Killed(
        Command::new(env!("CARGO_BIN_EXE_cuelab"))
            .arg("run")
            .arg(data().join("protocol.toml"))
            .args([
                "--participant",
                participant,
                "--display",
                "window",
                "--audio",
                audio,
            ])
            .arg("--data-dir")
            .arg(data_dir)
            .env("DISPLAY", display)
            .env("CUELAB_WINDOW_STATUS", "1")
            .env("PULSE_RUNTIME_PATH", "/tmp/cuelab-pulse")
            // No calibration profile of this machine leaks in.
            .env("XDG_CONFIG_HOME", tmp.join("config"))
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("cuelab starts"),
    )
}

/// Waits for `run` to exit.
fn exit_status(run: &mut Killed, log: &Path) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(st) = run.0.try_wait().unwrap() {
            return st;
        }
        assert!(
            start.elapsed() < STATE_TIMEOUT,
            "cuelab did not end: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The whole protocol, answered as the export checks expect.
fn drive_the_protocol(d: &mut Driver) {
    // Before the trials: consent, instructions (with an Esc that is cancelled), questionnaire.
    d.next("consent");
    d.shot("consent");
    d.key("y");
    d.next("page");
    d.shot("instructions");
    d.key("Escape");
    d.until("quit");
    d.shot("abort-dialog");
    d.key("n");
    d.until("page");
    d.key("space");
    d.next("ask:about");
    d.answer_keys(&["4", "2"]);
    d.shot("questionnaire");
    d.key("Return");

    // Trial 1 (practice, c2): a drag across the 2-D pad while the clip plays (2 s).
    d.next("clip");
    d.x(&["mousemove", "900", "520", "mousedown", "1"]);
    for k in 1..=10 {
        let (x, y) = (900 + 30 * k, 520 - 32 * k);
        d.x(&["mousemove", &x.to_string(), &y.to_string()]);
        // The drag's pace is the participant's, not a wait for a screen.
        std::thread::sleep(Duration::from_millis(40));
        if k == 8 {
            d.shot("clip-continuous");
        }
    }
    d.x(&["mouseup", "1"]);
    d.next("ask:moved");
    d.key("1");
    d.next("feedback");
    d.shot("feedback");
    d.next("ask:toggled");
    d.shot("reproduction-toggle");
    d.key("space");
    d.until("repro=1");
    // The reproduced duration: about half a second.
    std::thread::sleep(Duration::from_millis(500));
    d.key("space");
    d.next("page");
    d.shot("practice-end");
    d.key("space");

    // Trial 2 (c1): every rating widget, a timeout, a verbal estimate, a held reproduction.
    d.next("ask:moved");
    d.key("1");
    d.next("ask:sam");
    d.answer_keys(&["7", "3", "5"]);
    d.shot("sam");
    d.key("Return");
    d.next("ask:fit");
    // The VAS line runs from x = 242 to 962 at y = 151 in a 1280x720 window: 40% along.
    d.x(&["mousemove", "530", "151", "click", "1"]);
    d.until("answered=1/1");
    d.shot("vas");
    d.key("Return");
    d.next("ask:sd");
    d.answer_keys(&["2", "6"]);
    d.shot("bipolar");
    d.key("Return");
    d.next("ask:liked");
    d.shot("likert");
    // Nothing pressed: the 2.5 s timeout passes, and its message stays up for 1 s.
    d.next("timeout");
    d.shot("timeout");
    d.next("ask:verbal");
    d.x(&["type", "abc"]);
    d.until("typed=3");
    d.key("Return");
    d.until("error=1");
    d.shot("numeric-invalid");
    d.key("ctrl+a");
    d.key("BackSpace");
    d.until("typed=0");
    d.x(&["type", "12.5"]);
    d.until("typed=4");
    d.shot("numeric");
    d.key("Return");
    d.next("ask:held");
    d.x(&["keydown", "space"]);
    d.until("repro=1");
    // Held about 0.8 s, with a screenshot taken meanwhile.
    std::thread::sleep(Duration::from_millis(400));
    d.shot("reproduction-hold");
    std::thread::sleep(Duration::from_millis(400));
    d.x(&["keyup", "space"]);
    // Recognition with confidence: "yes" to the old item, sure 3 of 4; "no" to the new one,
    // sure 2.
    d.next("ask:recog");
    d.shot("recognition");
    d.key("y");
    d.until("answered=1/2");
    d.shot("recognition-confidence");
    d.key("3");
    d.until("sure=1");
    d.key("n");
    d.until("answered=2/2");
    d.key("2");
    d.next("page");
    d.shot("break");
    d.key("space");

    // Trial 3 (c2).
    d.next("ask:moved");
    d.key("1");
    d.next("ask:toggled");
    d.key("space");
    d.until("repro=1");
    std::thread::sleep(Duration::from_millis(600));
    d.key("space");

    // After: free text, then the end page.
    d.next("ask:comments");
    d.x(&["type", "nice clips"]);
    d.until("typed=10");
    d.shot("free-text");
    d.key("Return");
    d.next("page");
    d.shot("end");
    d.key("space");
}

/// Exports `data_dir` and checks participant 1's answers against what the script did; returns
/// the trials table. With `underruns_possible` (a real audio device on a shared machine), a
/// clip whose soundtrack came late (an underrun) lasts longer on the audio-mastered clock, and
/// its continuous rating has more samples.
fn check_export(data_dir: &Path, out: &Path, underruns_possible: bool) -> Csv {
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
    let mine: Vec<_> = responses
        .rows
        .iter()
        .filter(|r| r["participant"] == "1")
        .collect();
    let row = |trial: &str, step: &str, item: &str| {
        mine.iter()
            .find(|r| r["trial_index"] == trial && r["step"] == step && r["item"] == item)
            .copied()
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
        ("2", "recog", "a test pattern", "1", "old"),
        ("2", "recog", "a red square", "0", "new"),
        ("2", "recog_confidence", "a test pattern", "3", ""),
        ("2", "recog_confidence", "a red square", "2", ""),
        ("", "comments", "comments", "", "nice clips"),
    ];
    for &(trial, step, item, value, text) in exact {
        let r = row(trial, step, item);
        assert_eq!(r["value"], value, "{step}/{item}");
        assert_eq!(r["text"], text, "{step}/{item}");
        assert_eq!(r["timed_out"], "FALSE", "{step}/{item}");
        let rt = responses.f64(r, "rt_ms").expect("a response time");
        assert!(rt > 0.0 && rt < 60_000.0, "{step}/{item}: rt {rt}");
    }
    assert_eq!(row("1", "moved", "moved")["correct"], "TRUE");
    for item in ["a test pattern", "a red square"] {
        assert_eq!(row("2", "recog", item)["correct"], "TRUE", "{item}");
        assert_eq!(
            row("2", "recog_confidence", item)["kind"],
            "recognition_confidence"
        );
    }
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
    // toggled about 0.5 and 0.6 s (plus xdotool's own start-up); each within a few passes.
    let held = responses.f64(row("2", "held", "held"), "value").unwrap();
    assert!((0.75..2.5).contains(&held), "held {held}");
    for trial in ["1", "3"] {
        let v = responses
            .f64(row(trial, "toggled", "toggled"), "value")
            .unwrap();
        assert!((0.45..2.0).contains(&v), "toggled {v}");
    }
    assert_eq!(mine.len(), exact.len() + 5, "{mine:?}");

    // The continuous rating: 20 Hz from the video onset; the drag moved both dimensions from
    // the neutral 5 to the pad's corners; an untouched pad stays at 5.
    let continuous = table("continuous");
    for (trial, moved) in [("1", true), ("2", false)] {
        for dim in ["valence", "arousal"] {
            let samples: Vec<(f64, f64)> = continuous
                .rows
                .iter()
                .filter(|r| r["participant"] == "1" && r["trial_index"] == trial)
                .filter(|r| r["item"] == dim)
                .map(|r| {
                    (
                        continuous.f64(r, "t_ms").unwrap(),
                        continuous.f64(r, "value").unwrap(),
                    )
                })
                .collect();
            let n = samples.len();
            assert!(
                (35..=45).contains(&n) || (underruns_possible && n > 45),
                "{n} samples"
            );
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
    // Every clip was presented through the window with measured flips and a measured audio–
    // video offset.
    let trials = table("trials");
    let mine: Vec<_> = trials
        .rows
        .iter()
        .filter(|r| r["participant"] == "1")
        .collect();
    assert_eq!(mine.len(), 3);
    for t in mine {
        let shown = trials.f64(t, "frames_shown").unwrap();
        assert!(shown >= 40.0, "frames shown {shown}");
        assert!(!t["video_onset_ns"].is_empty());
        assert!(trials.f64(t, "av_offset_ms").is_some(), "{t:?}");
    }
    trials
}

/// Prints each trial's timing figures (a measurement, not a test result).
fn print_timing(label: &str, trials: &Csv) {
    for t in &trials.rows {
        eprintln!(
            "{label}: participant {} trial {} clip {}: av_offset {} ms, frames shown {}, dropped {}, interval SD {} ms, flags: {}",
            t["participant"],
            t["trial_index"],
            t["clip"],
            t["av_offset_ms"],
            t["frames_shown"],
            t["frames_dropped"],
            t["frame_interval_sd_ms"],
            t["flags"],
        );
    }
}

/// Skips a test (saying so) when a tool it drives is missing; `true` when it may run.
fn have(tools: &[&'static str]) -> bool {
    let missing = missing(tools);
    if !missing.is_empty() {
        eprintln!(
            "skipped: {} not installed (scripts/setup --test installs them)",
            missing.join(", ")
        );
    }
    missing.is_empty()
}

/// A fresh X server and test folder, with participant 1 driven through the whole protocol.
struct Session {
    _xvfb: Killed,
    display: String,
    tmp: PathBuf,
    data_dir: PathBuf,
    shots: PathBuf,
    /// What cuelab printed.
    said: String,
}

/// Runs participant 1 with `--audio audio` on a new Xvfb (display number from `base`) in the
/// test folder `tag`, screenshots prefixed `shot_prefix`; the run completed all three trials.
fn scripted_session(base: u32, tag: &str, audio: &str, shot_prefix: &'static str) -> Session {
    let (xvfb, display) = xvfb(base);
    let tmp = common::temp_dir(tag);
    std::fs::create_dir_all(&tmp).unwrap();
    let data_dir = tmp.join("data");
    let shots = common::root().join("target/ui-screenshots");
    std::fs::create_dir_all(&shots).unwrap();

    let log = tmp.join("stderr.txt");
    let mut run = start_run(&display, audio, "1", &data_dir, &tmp, &log);
    let mut d = Driver::attach(&display, &shots, shot_prefix, &log);
    drive_the_protocol(&mut d);
    let status = exit_status(&mut run, &log);
    let said = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{status}: {said}");
    assert!(said.contains("trial   3/3"), "{said}");
    Session {
        _xvfb: xvfb,
        display,
        tmp,
        data_dir,
        shots,
        said,
    }
}

/// The status `session.json` records for `participant`'s first session.
fn session_status(data_dir: &Path, participant: &str) -> String {
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            data_dir.join(format!("window-e2e/sub-{participant}/ses-1/session.json")),
        )
        .unwrap(),
    )
    .unwrap();
    meta["status"].as_str().unwrap_or_default().to_string()
}

/// `participant` quits at the consent page by `quit`: the session ends `aborted` (exit 3)
/// with its data kept.
fn quit_at_consent(s: &Session, participant: &str, quit: impl Fn(&mut Driver)) {
    let log = s.tmp.join(format!("stderr{participant}.txt"));
    let mut run = start_run(
        &s.display,
        "virtual",
        participant,
        &s.data_dir,
        &s.tmp,
        &log,
    );
    let mut d = Driver::attach(&s.display, &s.shots, "", &log);
    d.next("consent");
    quit(&mut d);
    let status = exit_status(&mut run, &log);
    assert_eq!(status.code(), Some(3), "{status}");
    assert_eq!(session_status(&s.data_dir, participant), "aborted");
}

#[test]
fn a_window_session_driven_by_xdotool_exports_exactly_the_answers_given() {
    if !have(&["Xvfb", "xdotool", "ffmpeg"]) {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let s = scripted_session(100, "window", "virtual", "");

    // A second participant quits at the consent page: Esc, then Y.
    quit_at_consent(&s, "2", |d| {
        d.key("Escape");
        d.until("quit");
        d.key("y");
    });
    // A third participant's window is destroyed under it (as if by another X client).
    quit_at_consent(&s, "3", |d| d.x(&["windowclose", &d.window]));

    let trials = check_export(&s.data_dir, &s.tmp.join("export"), false);
    print_timing("virtual", &trials);
}

#[test]
fn the_same_session_through_the_pulseaudio_null_sink_measures_every_clips_av_offset() {
    if !have(&["Xvfb", "xdotool", "ffmpeg", "pulseaudio", "pactl"]) {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // Starts the null sink (does nothing when a server already answers).
    let sink = Command::new(common::root().join("scripts/pulse-null-sink"))
        .env("PULSE_RUNTIME_PATH", "/tmp/cuelab-pulse")
        .output()
        .expect("scripts/pulse-null-sink runs");
    assert!(sink.status.success(), "{}", common::text(&sink));

    let s = scripted_session(1900, "window-pulse", "pulse", "pulse-");
    // No profile for the null sink in this test's config folder: the run says so.
    assert!(
        s.said.contains("calibration: no profile for `pulse`"),
        "{}",
        s.said
    );

    let trials = check_export(&s.data_dir, &s.tmp.join("export"), true);
    print_timing("pulse", &trials);
    assert_eq!(session_status(&s.data_dir, "1"), "completed");
}
