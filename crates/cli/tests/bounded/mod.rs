//! Runs the real `cuelab` bounded, for the hardening tests: the child gets a data-segment
//! limit of 1 GiB (`prlimit --data`: an allocation past it fails; an address-space limit
//! would trip thread pools spuriously), its peak resident memory is read from
//! `/proc/<pid>/status` (`VmHWM`) while it runs, and it is killed after a time-out. The
//! time-out only guards against a hang (the bug being pinned); no test measures speed.

// Each test file uses a different part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const GIB: u64 = 1 << 30;
/// Generous for a debug build on a busy two-core machine; the hangs this pins never ended.
pub const TIME_OUT: Duration = Duration::from_secs(180);

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// What a bounded run of `cuelab` gave.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub peak_rss_bytes: u64,
}

/// Runs `cuelab args` in `cwd` under a 1 GiB data limit and the time-out; fails the test on a
/// time-out, a signal, exit 101 or a peak RSS above 1 GiB.
pub fn cuelab_in(cwd: &Path, args: &[&str]) -> Run {
    let out_dir = tempdir("run-output");
    let (out_path, err_path) = (out_dir.join("stdout"), out_dir.join("stderr"));
    let mut child = Command::new("prlimit")
        .arg(format!("--data={GIB}"))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_cuelab"))
        .args(args)
        .current_dir(cwd)
        // Rust's own panic report is printed only when asked for; the tests see what a user
        // sees by default.
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("prlimit (util-linux) runs cuelab");
    // prlimit execs cuelab in place: the child's pid is cuelab's.
    let status_file = format!("/proc/{}/status", child.id());
    let started = Instant::now();
    let mut peak_kib = 0u64;
    let status = loop {
        if let Ok(status) = std::fs::read_to_string(&status_file) {
            let hwm = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
            peak_kib = peak_kib.max(hwm.unwrap_or(0));
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > TIME_OUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("cuelab {args:?} did not finish within {TIME_OUT:?} (a hang)");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let run = Run {
        code: status.code(),
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
        peak_rss_bytes: peak_kib * 1024,
    };
    std::fs::remove_dir_all(out_dir).unwrap();
    assert!(
        run.code.is_some(),
        "cuelab {args:?} was killed by a signal (an abort?): {run:?}"
    );
    assert_ne!(run.code, Some(101), "cuelab {args:?} panicked: {run:?}");
    assert!(
        run.peak_rss_bytes <= GIB,
        "cuelab {args:?} peaked at {} MiB resident",
        run.peak_rss_bytes >> 20
    );
    run
}

pub fn cuelab(args: &[&str]) -> Run {
    cuelab_in(&repo(), args)
}

pub fn tempdir(tag: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir =
        std::env::temp_dir().join(format!("cuelab-hardening-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
