//! Loudness normalization (EBU R128 through `ebur128`) and 16-bit FLAC encoding (`flacenc`,
//! single-threaded: its parallel encoder is compiled out, so frame order cannot vary).
//!
//! Learned the hard way: symphonia 0.6.1 (our decoder) stops with `UnexpectedEof` on a
//! flacenc 0.5.1 stream whose last frame is shorter than the others (FFmpeg decodes the same
//! file). So blocks are 4800 samples (100 ms) and every track is a whole number of seconds:
//! all frames have the same length.

use flacenc::component::BitRepr;
use flacenc::error::Verify;

use crate::{Error, SAMPLE_RATE};

/// The integrated loudness every soundtrack is normalized to, LUFS.
pub const TARGET_LUFS: f64 = -23.0;

/// Integrated loudness (EBU R128, gated) of mono samples at [`SAMPLE_RATE`], in LUFS;
/// `None` for silence (below the absolute gate).
pub fn integrated_lufs(samples: &[f32]) -> Result<Option<f64>, Error> {
    let mut meter = ebur128::EbuR128::new(1, SAMPLE_RATE, ebur128::Mode::I)
        .map_err(|e| Error::Loudness(e.to_string()))?;
    meter
        .add_frames_f32(samples)
        .map_err(|e| Error::Loudness(e.to_string()))?;
    let l = meter
        .loudness_global()
        .map_err(|e| Error::Loudness(e.to_string()))?;
    Ok(l.is_finite().then_some(l))
}

/// Scales `samples` to [`TARGET_LUFS`] and quantizes them to 16 bits (rounding, no dither, so
/// the result is a pure function of the input). Silence stays silence.
pub(crate) fn normalize_to_i16(id: &str, samples: &[f32]) -> Result<Vec<i16>, Error> {
    let Some(lufs) = integrated_lufs(samples)? else {
        return Ok(vec![0; samples.len()]);
    };
    let gain = 10f64.powf((TARGET_LUFS - lufs) / 20.0);
    let peak = samples
        .iter()
        .fold(0.0f64, |m, s| m.max(f64::from(s.abs())))
        * gain;
    if peak >= 1.0 {
        return Err(Error::Clipping {
            id: id.to_owned(),
            peak_dbfs: 20.0 * peak.log10(),
        });
    }
    Ok(samples
        .iter()
        .map(|s| (f64::from(*s) * gain * 32767.0).round() as i16)
        .collect())
}

/// 16-bit mono samples as f32 in [-1, 1).
pub(crate) fn to_f32(samples: &[i16]) -> Vec<f32> {
    samples.iter().map(|s| f32::from(*s) / 32768.0).collect()
}

/// Samples per FLAC frame: 100 ms, so whole seconds fill whole frames.
const FLAC_BLOCK: usize = 4800;

/// A complete FLAC file (16-bit mono at [`SAMPLE_RATE`]) holding `samples`, whose length must
/// be a whole number of [`FLAC_BLOCK`]s.
pub(crate) fn flac_bytes(samples: &[i16]) -> Result<Vec<u8>, Error> {
    if samples.is_empty() || !samples.len().is_multiple_of(FLAC_BLOCK) {
        return Err(Error::Flac(format!(
            "{} samples are not a whole number of {FLAC_BLOCK}-sample blocks",
            samples.len()
        )));
    }
    let wide: Vec<i32> = samples.iter().map(|s| i32::from(*s)).collect();
    let config = flacenc::config::Encoder::default()
        .into_verified()
        .map_err(|(_, e)| Error::Flac(format!("{e:?}")))?;
    let source = flacenc::source::MemSource::from_samples(&wide, 1, 16, SAMPLE_RATE as usize);
    let stream = flacenc::encode_with_fixed_block_size(&config, source, FLAC_BLOCK)
        .map_err(|e| Error::Flac(format!("{e:?}")))?;
    let mut sink = flacenc::bitsink::ByteSink::new();
    stream
        .write(&mut sink)
        .map_err(|e| Error::Flac(format!("{e:?}")))?;
    Ok(sink.as_slice().to_vec())
}
