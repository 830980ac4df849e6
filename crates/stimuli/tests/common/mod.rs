//! Helpers shared by the stimuli tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use cuelab_playback::decode::{DecodeOptions, decode_file};

/// The mono samples of a soundtrack file, decoded by the project's own decoder at 48 kHz.
pub fn decode(path: &Path) -> Vec<f32> {
    let sound = decode_file(
        path,
        &DecodeOptions::at_rate(cuelab_stimuli::SAMPLE_RATE),
        &mut |_| {},
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(sound.channels(), 1, "{}: mono", path.display());
    sound.samples().to_vec()
}

/// Whether the `ffmpeg` program can be run.
pub fn have_ffmpeg() -> bool {
    Command::new("ffmpeg")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Integrated loudness of a file as FFmpeg's `ebur128` filter reports it (the `I:` line of its
/// summary), LUFS.
pub fn ffmpeg_integrated_lufs(path: &Path) -> f64 {
    let out = Command::new("ffmpeg")
        .args(["-nostats", "-hide_banner", "-i"])
        .arg(path)
        .args(["-filter_complex", "ebur128", "-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(out.status.success(), "ffmpeg failed on {}", path.display());
    let log = String::from_utf8_lossy(&out.stderr);
    let summary = log.rsplit("Summary:").next().expect("a summary");
    let line = summary
        .lines()
        .find(|l| l.trim_start().starts_with("I:"))
        .unwrap_or_else(|| panic!("no integrated loudness in: {summary}"));
    line.trim_start()
        .trim_start_matches("I:")
        .trim()
        .trim_end_matches("LUFS")
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{line}: {e}"))
}

/// Every file under `dir`, relative to it, sorted.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("readable folder") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).expect("inside").to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The rows of a CSV file with a header, as maps from column name to value.
pub fn read_csv(path: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    lines
        .map(|l| {
            let fields: Vec<&str> = l.split(',').collect();
            assert_eq!(fields.len(), header.len(), "{}: {l}", path.display());
            header
                .iter()
                .map(|h| (*h).to_owned())
                .zip(fields.iter().map(|f| (*f).to_owned()))
                .collect()
        })
        .collect()
}
