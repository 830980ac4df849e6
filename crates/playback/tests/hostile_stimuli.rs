//! Stimulus files that lie in their headers: each test is named after the bug it pins, and
//! builds its file in memory (from the tone fixtures in `tests/data/` where a real stream is
//! needed). None may panic, abort or reserve memory from a header's claim; each is either a
//! typed error or a sound of its measured length with a warning.

use std::path::{Path, PathBuf};

use cuelab_playback::decode::{
    DecodeError, DecodeOptions, DecodeWarning, MAX_SAMPLE_RATE, decode_bytes,
    decode_bytes_measured, decode_file_measured,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// A canonical WAV: `format` 1 (integer PCM) or 3 (float), the given header fields and data.
fn wav(format: u16, channels: u16, rate: u32, bits: u16, data: &[u8]) -> Vec<u8> {
    let block_align = channels.wrapping_mul(bits / 8);
    let byte_rate = rate.wrapping_mul(u32::from(block_align));
    let mut w = Vec::new();
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&format.to_le_bytes());
    w.extend_from_slice(&channels.to_le_bytes());
    w.extend_from_slice(&rate.to_le_bytes());
    w.extend_from_slice(&byte_rate.to_le_bytes());
    w.extend_from_slice(&block_align.to_le_bytes());
    w.extend_from_slice(&bits.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&(data.len() as u32).to_le_bytes());
    w.extend_from_slice(data);
    w
}

fn pcm16(n: usize) -> Vec<u8> {
    (0..n)
        .flat_map(|i| (((i % 50) as i16 - 25) * 500).to_le_bytes())
        .collect()
}

fn decode(bytes: Vec<u8>, ext: &str) -> Result<cuelab_playback::sound::Sound, DecodeError> {
    decode_bytes(
        bytes,
        Some(ext),
        &DecodeOptions::at_rate(48_000),
        &mut |_| {},
    )
}

#[test]
fn flac_streaminfo_claiming_2_pow_36_minus_1_samples_decodes_at_its_measured_length() {
    let mut flac = std::fs::read(fixture("tone.flac")).unwrap();
    assert_eq!(&flac[..4], b"fLaC");
    // STREAMINFO follows the 4-byte block header; its 36-bit total-samples field is the low
    // nibble of byte 13 and bytes 14..18.
    let info = 8;
    flac[info + 13] |= 0x0F;
    for b in &mut flac[info + 14..info + 18] {
        *b = 0xFF;
    }
    let (sound, measured) = decode_bytes_measured(
        flac,
        Some("flac"),
        &DecodeOptions::at_rate(48_000),
        &mut |_| {},
    )
    .expect("the real stream decodes");
    assert_eq!(measured.stated_frames, Some((1 << 36) - 1));
    assert_eq!(measured.decoded_frames, 5513);
    assert_eq!(sound.frames().0, 12_001, "the measured length, resampled");
    assert!(
        matches!(
            measured.warnings[..],
            [DecodeWarning::LengthMismatch {
                stated: 68_719_476_735,
                decoded: 5513,
                ..
            }]
        ),
        "{:?}",
        measured.warnings
    );
}

#[test]
fn truncated_flac_reports_its_measured_length_not_its_header_length() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/truncated_flac_header_says_1s.flac");
    let (sound, measured) =
        decode_file_measured(&path, &DecodeOptions::at_rate(8_000), &mut |_| {}).unwrap();
    assert_eq!(measured.stated_frames, Some(8000));
    assert!(
        (1000..8000).contains(&measured.decoded_frames),
        "{measured:?}"
    );
    assert_eq!(sound.frames().0 as u64, measured.decoded_frames);
    let warning = measured.warnings[0].to_string();
    assert!(
        warning.contains("8000") && warning.contains("truncated"),
        "{warning}"
    );
}

#[test]
fn wav_at_4294967295_hz_is_refused_before_resampling() {
    let err = decode(wav(1, 1, u32::MAX, 16, &pcm16(100)), "wav").unwrap_err();
    assert!(
        matches!(err, DecodeError::SampleRate { rate: u32::MAX }),
        "{err:?}"
    );
    assert!(err.to_string().contains("8000..=384000 Hz"), "{err}");
}

#[test]
fn wav_at_1_hz_is_refused_before_resampling() {
    let err = decode(wav(1, 1, 1, 16, &pcm16(100)), "wav").unwrap_err();
    assert!(
        matches!(err, DecodeError::SampleRate { rate: 1 }),
        "{err:?}"
    );
}

#[test]
fn wav_of_60_bytes_claiming_65535_channels_is_an_error_not_a_panic() {
    let file = wav(1, 65535, 48_000, 16, &pcm16(8));
    assert_eq!(file.len(), 60);
    let err = decode(file, "wav").unwrap_err();
    // symphonia's WAV reader multiplies the channel count with overflow: in a build with
    // overflow checks (debug, as `scripts/demo` runs) that panics, and the panic is caught at
    // the decode boundary. Without overflow checks symphonia refuses the header itself.
    if cfg!(debug_assertions) {
        assert!(
            matches!(&err, DecodeError::DecoderPanicked { file, message }
                if file == "<memory>" && message.contains("overflow")),
            "{err:?}"
        );
    }
    assert!(
        matches!(
            err,
            DecodeError::Channels { .. }
                | DecodeError::DecoderPanicked { .. }
                | DecodeError::Format(_)
        ),
        "{err:?}"
    );
}

#[test]
fn float_wav_with_nan_and_infinity_is_refused_with_the_sample_named() {
    for (bad, name) in [(f32::NAN, "NaN"), (f32::INFINITY, "inf")] {
        let samples = [0.0f32, 0.5, -0.5, 0.25, bad, 0.0];
        let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        let err = decode(wav(3, 2, 48_000, 32, &data), "wav").unwrap_err();
        assert!(
            matches!(
                err,
                DecodeError::NonFinite {
                    frame: 2,
                    channel: 0,
                    ..
                }
            ),
            "{name}: {err:?}"
        );
        assert!(err.to_string().contains(name), "{err}");
    }
}

#[test]
fn wav_whose_data_chunk_claims_4_gib_decodes_what_is_there() {
    let mut file = wav(1, 1, 48_000, 16, &pcm16(480));
    let len = file.len();
    file[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    file[len - 960 - 4..len - 960].copy_from_slice(&(u32::MAX - 64).to_le_bytes());
    let (sound, measured) = decode_bytes_measured(
        file,
        Some("wav"),
        &DecodeOptions::at_rate(48_000),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(sound.frames().0, 480);
    assert_eq!(measured.decoded_frames, 480);
}

#[test]
fn output_rates_outside_the_limits_are_refused() {
    for rate in [0, 7_999, MAX_SAMPLE_RATE + 1, u32::MAX] {
        let err = decode_bytes(
            wav(1, 1, 48_000, 16, &pcm16(100)),
            Some("wav"),
            &DecodeOptions::at_rate(rate),
            &mut |_| {},
        )
        .unwrap_err();
        assert!(matches!(err, DecodeError::TargetRate { .. }), "{err:?}");
    }
}

#[test]
fn every_prefix_of_a_wav_header_is_an_error_or_a_sound() {
    let file = wav(1, 2, 44_100, 16, &pcm16(200));
    for cut in 0..file.len() {
        match decode(file[..cut].to_vec(), "wav") {
            Ok(sound) => assert!(sound.frames().0 > 0),
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
}

/// Inputs the `stimulus_header` fuzz target found (fuzz/README.md): each makes symphonia
/// 0.6.1's WAV reader overflow, a panic in builds with overflow checks. Both must come back
/// as errors naming the file.
#[test]
fn fuzz_findings_in_the_wav_reader_are_errors_naming_the_file() {
    for name in [
        "fuzz_wav_extensible_fmt_shift_left_overflow.wav",
        "fuzz_wav_channel_count_multiply_overflow.wav",
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        let err = decode_file_measured(&path, &DecodeOptions::at_rate(48_000), &mut |_| {})
            .map(|_| ())
            .unwrap_err();
        if cfg!(debug_assertions) {
            assert!(
                matches!(&err, DecodeError::DecoderPanicked { file, .. } if file.ends_with(name)),
                "{name}: {err:?}"
            );
            assert!(err.to_string().contains(name), "{err}");
        }
    }
}

/// Found by the `stimulus_header` fuzz target: a float WAV whose samples are finite but huge
/// (around 1e38) came out of the resampler as infinities. Such samples are refused as decoded.
#[test]
fn fuzz_float_wav_with_huge_samples_is_refused_before_resampling() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz_float_wav_huge_samples_resampled_to_inf.wav");
    let err = decode_file_measured(&path, &DecodeOptions::at_rate(8_000), &mut |_| {})
        .map(|_| ())
        .unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::TooLoud { .. } | DecodeError::NonFinite { .. }
        ),
        "{err:?}"
    );
}

#[test]
fn a_gain_that_overflows_is_an_error_not_an_infinite_sound() {
    let options = DecodeOptions {
        gain_db: 1000.0,
        ..DecodeOptions::at_rate(48_000)
    };
    let err = decode_bytes(
        wav(1, 1, 48_000, 16, &pcm16(100)),
        Some("wav"),
        &options,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(matches!(err, DecodeError::GainOverflow { .. }), "{err:?}");
}
