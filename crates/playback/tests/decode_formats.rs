//! Every supported format decodes to the same signal at the device rate: the fixtures in
//! `tests/data/` (made by `tests/data/make-fixtures`) are 0.25 s of a 1 kHz sine at half full
//! scale, at 22.05 kHz, and must come out at 48 kHz with the right length, level and pitch.

use std::path::{Path, PathBuf};

use cuelab_core::SessionTime;
use cuelab_playback::decode::{DecodeError, DecodeOptions, Progress, decode_bytes, decode_file};
use cuelab_playback::sound::Sound;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Frequency from upward zero crossings over the middle of channel 0.
fn frequency(sound: &Sound) -> f64 {
    let ch = usize::from(sound.channels());
    let left: Vec<f32> = sound.samples().iter().step_by(ch).copied().collect();
    let (a, b) = (left.len() / 5, left.len() * 4 / 5);
    let ups: Vec<usize> = (a..b)
        .filter(|&i| left[i - 1] < 0.0 && left[i] >= 0.0)
        .collect();
    let periods = (ups.len() - 1) as f64;
    periods * f64::from(sound.rate()) / (ups[ups.len() - 1] - ups[0]) as f64
}

/// Decodes `name` and checks it; `extra_ms` is how much longer the codec may make it;
/// `peak_tol` allows for resampling overshoot at the tone's abrupt end and for lossy coding.
fn check(name: &str, channels: u16, extra_ms: f64, peak_tol: f32) {
    let mut reports: Vec<Progress> = Vec::new();
    let sound = decode_file(&fixture(name), &DecodeOptions::at_rate(48_000), &mut |p| {
        reports.push(p)
    })
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(sound.rate(), 48_000, "{name}");
    assert_eq!(sound.channels(), channels, "{name}");
    let ms = sound.duration().as_millis_f64();
    assert!(
        (250.0 - 0.1..=250.1 + extra_ms).contains(&ms),
        "{name}: {ms} ms"
    );
    let levels = sound.levels();
    assert!(
        (levels.peak - 0.5).abs() < peak_tol,
        "{name}: peak {}",
        levels.peak
    );
    let f = frequency(&sound);
    assert!((f - 1000.0).abs() < 1.0, "{name}: {f} Hz");
    assert_eq!(reports.last().map(|p| p.fraction), Some(1.0), "{name}");
}

#[test]
fn wav_decodes_exactly() {
    check("tone.wav", 2, 0.0, 0.005);
    let sound = decode_file(
        &fixture("tone.wav"),
        &DecodeOptions::at_rate(48_000),
        &mut |_| {},
    )
    .unwrap();
    // 5513 source frames at 22.05 kHz are 12,001 frames at 48 kHz.
    assert_eq!(sound.frames().0, 12_001);
    let rms = sound.levels().rms;
    assert!((rms - 0.5 / 2f32.sqrt()).abs() < 0.005, "rms {rms}");
}

#[test]
fn flac_decodes_exactly() {
    check("tone.flac", 1, 0.0, 0.005);
}

#[test]
fn mp3_decodes_gapless() {
    check("tone.mp3", 1, 1.0, 0.05);
}

#[test]
fn ogg_vorbis_decodes_gapless() {
    check("tone.ogg", 1, 1.0, 0.05);
}

#[test]
fn m4a_aac_decodes_with_its_padding() {
    // Symphonia's AAC is not gapless: up to ~2 AAC frames (2 x 1024 frames at 22.05 kHz) more.
    check("tone.m4a", 1, 95.0, 0.08);
}

#[test]
fn bytes_decode_like_files_and_options_apply() {
    let bytes = std::fs::read(fixture("tone.flac")).unwrap();
    let options = DecodeOptions {
        target_rate: 44_100,
        gain_db: -6.0206,
        fade_in: SessionTime::from_millis(50),
        fade_out: SessionTime::from_millis(50),
    };
    let sound = decode_bytes(bytes, Some("flac"), &options, &mut |_| {}).unwrap();
    assert_eq!(sound.rate(), 44_100);
    assert!(
        (sound.levels().peak - 0.25).abs() < 0.002,
        "{}",
        sound.levels().peak
    );
    assert_eq!(sound.samples()[0], 0.0);
    assert_eq!(*sound.samples().last().unwrap(), 0.0);
    // 200 frames into the 50 ms (2205-frame) fade-in the envelope is below 0.25 * 200/2205.
    let early_peak = sound.samples()[..200]
        .iter()
        .fold(0f32, |m, s| m.max(s.abs()));
    assert!(early_peak < 0.025, "{early_peak}");
}

#[test]
fn missing_and_garbage_inputs_are_typed_errors() {
    let missing = decode_file(
        &fixture("nope.wav"),
        &DecodeOptions::at_rate(48_000),
        &mut |_| {},
    );
    assert!(
        matches!(missing, Err(DecodeError::Open { .. })),
        "{missing:?}"
    );
    let garbage = decode_bytes(
        vec![7u8; 4096],
        None,
        &DecodeOptions::at_rate(48_000),
        &mut |_| {},
    );
    assert!(
        matches!(garbage, Err(DecodeError::Format(_))),
        "{garbage:?}"
    );
}
