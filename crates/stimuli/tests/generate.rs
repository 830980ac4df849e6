//! The generator itself: the same bytes twice, loudness on target. Runs a 2-second preview of
//! every stimulus (the full set is made by `cuelab stimuli make`; see
//! protocols/stimuli/generated/README.md). Needs the `ffmpeg` program, as making clips does.

mod common;

use cuelab_stimuli::{Config, Kind, TARGET_LUFS, make};

#[test]
fn making_the_stimuli_twice_gives_byte_identical_files() {
    let config = Config::preview(2).expect("valid");
    let a = tempfile::tempdir().expect("temp dir");
    let b = tempfile::tempdir().expect("temp dir");
    let rows_a = make(a.path(), &config).expect("first run");
    let rows_b = make(b.path(), &config).expect("second run");
    assert_eq!(rows_a, rows_b);
    let files = common::files(a.path());
    assert_eq!(files, common::files(b.path()));
    // Every stimulus, its curve if it has one, and the table; no temporary file left behind.
    let curves = rows_a.iter().filter(|r| r.curve.is_some()).count();
    assert_eq!(files.len(), rows_a.len() + curves + 1, "{files:?}");
    for f in &files {
        let x = std::fs::read(a.path().join(f)).expect("readable");
        let y = std::fs::read(b.path().join(f)).expect("readable");
        assert!(x == y, "{} differs between two runs", f.display());
    }

    // Loudness: as measured in-process when written, and again from the decoded file.
    for row in rows_a.iter().filter(|r| r.kind == Kind::Soundtrack) {
        let lufs = row.loudness_lufs.expect("music has a loudness");
        assert!((lufs - TARGET_LUFS).abs() < 0.5, "{}: {lufs}", row.id);
        let samples = common::decode(&a.path().join(&row.file));
        let decoded = cuelab_stimuli::integrated_lufs(&samples)
            .expect("meter")
            .expect("not silent");
        assert!(
            (decoded - TARGET_LUFS).abs() < 0.5,
            "{}: decoded {decoded}",
            row.id
        );
        assert_eq!(samples.len(), 2 * 48_000, "{}", row.id);
    }
    let silence = rows_a
        .iter()
        .find(|r| r.kind == Kind::Silence)
        .expect("a silence track");
    assert_eq!(silence.loudness_lufs, None);
    assert!(
        common::decode(&a.path().join(&silence.file))
            .iter()
            .all(|s| *s == 0.0)
    );

    // Clips open with the project's decoder at the preview's length.
    for row in rows_a.iter().filter(|r| r.kind == Kind::Clip) {
        let info = cuelab_playback::video::probe(&a.path().join(&row.file)).expect("probe");
        assert_eq!(info.stated_frames, Some(50), "{}", row.id);
    }
}

#[test]
fn a_preview_of_zero_seconds_is_refused() {
    let err = Config::preview(0).expect_err("too short");
    assert!(err.to_string().contains("at least 1 s"), "{err}");
}
