//! End-to-end: `cuelab stimuli make` as a user runs it (a 1-second preview, to stay quick).

use std::path::PathBuf;
use std::process::{Command, Output};

fn cuelab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cuelab"))
        .args(args)
        .output()
        .expect("run cuelab")
}

/// A fresh folder under the system's temporary folder, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("cuelab-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn stimuli_make_writes_every_stimulus_its_curve_and_the_table() {
    let dir = TempDir::new("stimuli-make");
    let out = cuelab(&[
        "stimuli",
        "make",
        dir.0.to_str().expect("utf-8"),
        "--preview",
        "1",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = std::fs::read_to_string(dir.0.join("stimuli.csv")).expect("the table");
    let rows: Vec<&str> = table.lines().skip(1).collect();
    let designed = cuelab_stimuli::tracks().len() + cuelab_stimuli::scenes().len();
    assert_eq!(rows.len(), designed);
    assert!(
        stdout.contains(&format!("wrote {designed} stimuli")),
        "{stdout}"
    );
    for row in rows {
        let fields: Vec<&str> = row.split(',').collect();
        assert!(dir.0.join(fields[2]).is_file(), "{row}");
        if !fields[14].is_empty() {
            assert!(dir.0.join(fields[14]).is_file(), "{row}");
        }
    }
}

#[test]
fn stimuli_make_refuses_a_zero_second_preview_with_exit_2() {
    let dir = TempDir::new("stimuli-zero");
    let out = cuelab(&[
        "stimuli",
        "make",
        dir.0.to_str().expect("utf-8"),
        "--preview",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 1 s"));
    assert!(!dir.0.join("stimuli.csv").exists());
}
