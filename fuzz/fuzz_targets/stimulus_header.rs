//! Arbitrary bytes as a stimulus file → `cuelab_playback::decode::decode_bytes_measured`, once
//! with each format hint. Must never panic (a panic inside symphonia is caught at the decode
//! boundary and becomes `DecodeError::DecoderPanicked`), abort or allocate from a header's
//! claim. Inputs start from tiny WAV/FLAC headers (see README.md).
#![no_main]

use cuelab_playback::decode::{DecodeError, DecodeOptions, decode_bytes_measured};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    quiet_caught_panics();
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let hint = ["wav", "flac", "mp3", "ogg", "m4a"][usize::from(selector) % 5];
    let options = DecodeOptions::at_rate(8_000);
    match decode_bytes_measured(bytes.to_vec(), Some(hint), &options, &mut |_| {}) {
        Ok((sound, measured)) => {
            assert!(sound.samples().iter().all(|s| s.is_finite()));
            assert!(measured.decoded_frames > 0);
        }
        Err(DecodeError::DecoderPanicked { file, message }) => {
            // Caught, as designed; reported so a finding is visible in the fuzzer's log.
            eprintln!("caught decoder panic in {file}: {message}");
        }
        Err(_) => {}
    }
});

/// libfuzzer-sys's panic hook aborts on every panic, even one that cuelab catches on purpose
/// (the decode boundary). This hook only prints; a panic that escapes the target still fails
/// the run, because libfuzzer-sys aborts when the closure unwinds.
fn quiet_caught_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| eprintln!("panic: {info}")));
    });
}
