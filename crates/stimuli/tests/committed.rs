//! The committed set in protocols/stimuli/generated/: what protocols will use. These tests read
//! the files as a protocol's user would — through the project's decoders, and FFmpeg's loudness
//! meter when `ffmpeg` is installed — against the features table beside them.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use cuelab_stimuli::{FPS, HEIGHT, TABLE, TABLE_COLUMNS, TARGET_LUFS, WIDTH};

type Row = BTreeMap<String, String>;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../protocols/stimuli/generated")
}

fn table() -> Vec<Row> {
    common::read_csv(&dir().join(TABLE))
}

fn rows_of(kind: &str) -> Vec<Row> {
    table().into_iter().filter(|r| r["kind"] == kind).collect()
}

fn num(row: &Row, col: &str) -> f64 {
    row[col]
        .parse()
        .unwrap_or_else(|e| panic!("{} {col}={}: {e}", row["id"], row[col]))
}

#[test]
fn the_table_lists_every_designed_stimulus_with_its_file() {
    let text = std::fs::read_to_string(dir().join(TABLE)).expect("table");
    assert_eq!(text.lines().next(), Some(TABLE_COLUMNS.join(",").as_str()));
    let ids: Vec<String> = table().iter().map(|r| r["id"].clone()).collect();
    let designed: Vec<String> = cuelab_stimuli::tracks()
        .iter()
        .map(|t| t.id.to_owned())
        .chain(cuelab_stimuli::scenes().iter().map(|s| s.id.to_owned()))
        .collect();
    assert_eq!(ids, designed);
    for row in table() {
        assert!(dir().join(&row["file"]).is_file(), "{}", row["file"]);
        for col in ["valence", "arousal"] {
            let v = num(&row, col);
            assert!((1.0..=9.0).contains(&v), "{} {col} {v}", row["id"]);
        }
    }
}

#[test]
fn soundtracks_are_at_minus_23_lufs_when_decoded() {
    let music = rows_of("soundtrack");
    assert!(music.len() >= 4);
    for row in music {
        let samples = common::decode(&dir().join(&row["file"]));
        let lufs = cuelab_stimuli::integrated_lufs(&samples)
            .expect("meter")
            .expect("not silent");
        assert!((lufs - TARGET_LUFS).abs() < 0.5, "{}: {lufs}", row["id"]);
        assert!(
            (lufs - num(&row, "loudness_lufs")).abs() < 0.01,
            "{}: table",
            row["id"]
        );
        let seconds = samples.len() as f64 / 48_000.0;
        assert!(
            (seconds - num(&row, "duration_s")).abs() < 1e-6,
            "{}: {seconds}",
            row["id"]
        );
    }
}

#[test]
fn ffmpeg_ebur128_measures_every_soundtrack_at_minus_23_lufs() {
    assert!(
        common::have_ffmpeg(),
        "ffmpeg is not on PATH; scripts/setup installs it for the tests"
    );
    for row in rows_of("soundtrack") {
        let lufs = common::ffmpeg_integrated_lufs(&dir().join(&row["file"]));
        assert!(
            (lufs - TARGET_LUFS).abs() <= 0.5,
            "{}: {lufs} LUFS by FFmpeg",
            row["id"]
        );
    }
}

#[test]
fn every_music_track_has_a_per_second_curve_and_two_long_ones_change() {
    let mut changing = 0;
    for row in rows_of("soundtrack") {
        let curve = common::read_csv(&dir().join(&row["curve"]));
        let duration = num(&row, "duration_s");
        assert_eq!(curve.len() as f64, duration.floor() + 1.0, "{}", row["id"]);
        for (i, point) in curve.iter().enumerate() {
            assert_eq!(num(point, "t_s"), i as f64, "{}", row["id"]);
            for col in ["valence", "arousal"] {
                assert!(
                    (1.0..=9.0).contains(&num(point, col)),
                    "{} at {i} s",
                    row["id"]
                );
            }
        }
        let spread = |col: &str| {
            let v: Vec<f64> = curve.iter().map(|p| num(p, col)).collect();
            v.iter().cloned().fold(f64::MIN, f64::max) - v.iter().cloned().fold(f64::MAX, f64::min)
        };
        if duration >= 20.0 && (spread("valence") >= 2.0 || spread("arousal") >= 2.0) {
            changing += 1;
        }
    }
    assert!(changing >= 2, "{changing} long tracks change affect");
}

#[test]
fn clips_decode_at_their_designed_length() {
    let clips = rows_of("clip");
    assert!(
        clips
            .iter()
            .filter(|r| num(r, "duration_s") >= 20.0)
            .count()
            >= 2
    );
    for row in clips {
        let info = cuelab_playback::video::probe(&dir().join(&row["file"])).expect("probe");
        let frames = (num(&row, "duration_s") * f64::from(FPS)).round() as u64;
        assert_eq!(info.stated_frames, Some(frames), "{}", row["id"]);
        assert_eq!((info.width, info.height), (WIDTH, HEIGHT), "{}", row["id"]);
        assert_eq!(info.frame_rate, Some(f64::from(FPS)), "{}", row["id"]);
        assert_eq!(info.codec, "h264");
        assert!(!info.has_audio, "{}", row["id"]);
        let seconds = info.duration.as_millis_f64() / 1000.0;
        assert!(
            (seconds - num(&row, "duration_s")).abs() < 1.0 / f64::from(FPS),
            "{}: {seconds}",
            row["id"]
        );
    }
}
