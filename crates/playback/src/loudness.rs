//! Integrated loudness (EBU R128 / ITU-R BS.1770, in LUFS) of decoded sounds, the gain that
//! normalizes a soundtrack to a target loudness, and a WAV writer for the gain-applied audio so
//! any meter can check it.
//!
//! The meter is the `ebur128` crate (a Rust port of libebur128, the meter FFmpeg's `ebur128`
//! filter also implements): K-weighting, 400 ms blocks with 75 % overlap, the absolute gate at
//! −70 LUFS and the relative gate at −10 LU. Loudness scales with gain: a sound measured at
//! L LUFS plays at L + g after a gain of g dB, so one measurement gives the gain for any target.

use std::path::Path;

use crate::sound::Sound;

/// Why loudness could not be measured or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoudnessError {
    /// The meter refused the sound's format (e.g. too many channels or an unsupported rate).
    #[error("cannot measure loudness: {0}")]
    Meter(String),
    /// Writing the WAV file failed.
    #[error("cannot write `{path}`: {source}")]
    Write {
        path: String,
        #[source]
        source: hound::Error,
    },
}

/// The integrated loudness of a sound in LUFS, or `None` when it is silent (below the absolute
/// gate of −70 LUFS throughout).
pub fn integrated_lufs(sound: &Sound) -> Result<Option<f64>, LoudnessError> {
    let meter_err = |e: ebur128::Error| LoudnessError::Meter(format!("{e:?}"));
    let mut meter =
        ebur128::EbuR128::new(u32::from(sound.channels()), sound.rate(), ebur128::Mode::I)
            .map_err(meter_err)?;
    // Feed in chunks of one second so the meter's internal buffers stay small.
    let chunk = sound.rate() as usize * usize::from(sound.channels());
    for block in sound.samples().chunks(chunk.max(1)) {
        meter.add_frames_f32(block).map_err(meter_err)?;
    }
    let lufs = meter.loudness_global().map_err(meter_err)?;
    Ok(lufs.is_finite().then_some(lufs))
}

/// The gain in dB that brings a sound measured at `measured_lufs` to `target_lufs`.
pub fn gain_to_target_db(measured_lufs: f64, target_lufs: f64) -> f64 {
    target_lufs - measured_lufs
}

/// The gain in dB to apply to a soundtrack decoded *with* its `gain_db` and measured there at
/// `measured_lufs`, so that it plays at `target_lufs + gain_db`: the file is normalized to the
/// target and `gain_db` adds a deliberate difference on top (what `[stimuli] normalize_lufs`
/// means). The total gain relative to the file is this plus `gain_db`.
pub fn normalization_db(measured_lufs: f64, gain_db: f64, target_lufs: f64) -> f64 {
    gain_to_target_db(measured_lufs - gain_db, target_lufs)
}

/// Writes a sound as a 32-bit float WAV file with `gain_db` applied (samples are not clipped:
/// float WAV keeps levels above full scale, so a meter sees exactly the gain-applied signal).
pub fn write_wav(path: &Path, sound: &Sound, gain_db: f64) -> Result<(), LoudnessError> {
    let write_err = |source| LoudnessError::Write {
        path: path.display().to_string(),
        source,
    };
    let spec = hound::WavSpec {
        channels: sound.channels(),
        sample_rate: sound.rate(),
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let gain = 10f64.powf(gain_db / 20.0) as f32;
    let mut writer = hound::WavWriter::create(path, spec).map_err(write_err)?;
    for &s in sound.samples() {
        writer.write_sample(s * gain).map_err(write_err)?;
    }
    writer.finalize().map_err(write_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, channels: u16, seconds: f64, amplitude: f32, hz: f64) -> Sound {
        let n = (f64::from(rate) * seconds) as usize;
        let mut samples = Vec::with_capacity(n * usize::from(channels));
        for i in 0..n {
            let v = amplitude
                * (2.0 * std::f64::consts::PI * hz * i as f64 / f64::from(rate)).sin() as f32;
            for _ in 0..channels {
                samples.push(v);
            }
        }
        Sound::from_interleaved(rate, channels, samples).unwrap()
    }

    /// EBU Tech 3341 test 1: a stereo 1 kHz sine at −23 dBFS (per channel, peak) measures
    /// −23.0 LUFS ± 0.1.
    #[test]
    fn ebu_tech_3341_case_1() {
        let amplitude = 10f32.powf(-23.0 / 20.0);
        let s = sine(48_000, 2, 20.0, amplitude, 1000.0);
        let lufs = integrated_lufs(&s).unwrap().unwrap();
        assert!((lufs + 23.0).abs() < 0.1, "{lufs}");
    }

    #[test]
    fn loudness_follows_gain_and_silence_has_none() {
        let a = sine(48_000, 1, 5.0, 0.5, 440.0);
        let b = sine(48_000, 1, 5.0, 0.25, 440.0);
        let (la, lb) = (
            integrated_lufs(&a).unwrap().unwrap(),
            integrated_lufs(&b).unwrap().unwrap(),
        );
        assert!((la - lb - 20.0 * 2f64.log10()).abs() < 0.05, "{la} {lb}");
        assert!((gain_to_target_db(la, -23.0) - (-23.0 - la)).abs() < 1e-12);
        // Decoded with gain_db = -6 and measured at -20: the file is at -14, normalized to
        // -23 by -9 dB, and plays at -29 = -23 + gain_db, i.e. 9 dB below the measured -20.
        assert!((normalization_db(-20.0, -6.0, -23.0) - (-9.0)).abs() < 1e-12);
        let silent = Sound::from_interleaved(48_000, 1, vec![0.0; 48_000]).unwrap();
        assert_eq!(integrated_lufs(&silent).unwrap(), None);
    }
}
