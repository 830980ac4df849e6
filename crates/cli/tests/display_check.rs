//! `cuelab check --display --json` under Xvfb: at least 300 flips measured, every figure with a
//! verdict, and vsync reported as not enforced (Xvfb has no vertical blank) instead of a refresh
//! rate it does not have. Figures are not asserted: they are measurements, not test results.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

#[test]
fn check_display_under_xvfb_reports_every_figure_with_a_verdict_and_no_vsync() {
    if which("Xvfb").is_none() {
        eprintln!("skipped: Xvfb is not installed (scripts/setup --test installs it)");
        assert!(which("Xvfb").is_none());
        return;
    }
    let n = 1000 + std::process::id() % 800;
    let display = format!(":{n}");
    let mut xvfb = Command::new("Xvfb")
        .args([&display, "-screen", "0", "1280x720x24", "-nolisten", "tcp"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb starts");
    let socket = PathBuf::from(format!("/tmp/.X11-unix/X{n}"));
    let start = Instant::now();
    while !socket.exists() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let clip = common::root().join("crates/cli/tests/data/window/c1.mp4");
    let out = Command::new(env!("CARGO_BIN_EXE_cuelab"))
        .args(["check", "--display", "--json", "--clip"])
        .arg(&clip)
        .env("DISPLAY", &display)
        .output()
        .expect("cuelab runs");
    let _ = xvfb.kill();
    let _ = xvfb.wait();
    assert!(out.status.success(), "{}", common::text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let d = &json["display"];
    assert_eq!(d["n"], 300);
    assert_eq!(d["vsync"], false);
    assert!(d["refresh_hz"].is_null(), "{d}");
    for k in ["mean", "sd", "max"] {
        assert!(d["interval_ms"][k].as_f64().unwrap() > 0.0, "{k}");
    }
    assert!(d["missed_flips"].as_u64().is_some());
    for figure in ["refresh_hz", "interval_ms", "missed_flips", "vsync"] {
        let v = &d["verdicts"][figure];
        assert!(
            ["ok", "marginal", "not_ok"].contains(&v["level"].as_str().unwrap()),
            "{figure}: {v}"
        );
        assert!(!v["why"].as_str().unwrap().is_empty());
    }
    assert_eq!(d["verdicts"]["vsync"]["level"], "not_ok");
    assert!(
        d["verdicts"]["refresh_hz"]["why"]
            .as_str()
            .unwrap()
            .contains("vsync is not enforced")
    );
}
