//! Stimulus decoding: a file (or bytes) to a [`Sound`] at the device rate, ahead of the session.
//!
//! Symphonia demuxes and decodes (WAV, FLAC, MP3, Ogg Vorbis, AAC/M4A, raw PCM in WAV) to
//! interleaved `f32`; rubato's FFT resampler converts the whole clip to the device rate in one
//! pass (its start-up delay trimmed, so sample 0 stays sample 0); then `gain_db` and linear fades
//! are applied and the levels measured. Everything happens once, before the participant arrives,
//! so the render path only mixes. A packet the decoder rejects as malformed is skipped and
//! counted; any other error stops decoding.
//!
//! AAC is not gapless in Symphonia (about 29 ms of encoder padding stays in); prefer WAV or
//! FLAC stimuli when the exact length matters.
//!
//! ```
//! use cuelab_playback::decode::{decode_bytes, DecodeOptions};
//!
//! // A tiny 8 kHz mono 16-bit WAV built in memory: 80 samples of a square wave.
//! let mut wav = Vec::new();
//! let data: Vec<u8> = (0..80).flat_map(|i| if i % 2 == 0 { 8192i16 } else { -8192 }.to_le_bytes()).collect();
//! wav.extend_from_slice(b"RIFF");
//! wav.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
//! wav.extend_from_slice(b"WAVEfmt ");
//! wav.extend_from_slice(&[16, 0, 0, 0, 1, 0, 1, 0]);
//! wav.extend_from_slice(&8000u32.to_le_bytes());
//! wav.extend_from_slice(&16000u32.to_le_bytes());
//! wav.extend_from_slice(&[2, 0, 16, 0]);
//! wav.extend_from_slice(b"data");
//! wav.extend_from_slice(&(data.len() as u32).to_le_bytes());
//! wav.extend_from_slice(&data);
//!
//! let sound = decode_bytes(wav, Some("wav"), &DecodeOptions::at_rate(8000), &mut |_| {}).unwrap();
//! assert_eq!(sound.frames().0, 80);
//! assert_eq!(sound.levels().peak, 0.25);
//! ```

use std::path::Path;

use cuelab_core::SessionTime;
use rubato::Resampler;
use rubato::audioadapter_buffers::direct::InterleavedSlice;
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;

use crate::sound::{Sound, SoundError};

/// How to turn a file into a playable sound.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeOptions {
    /// Output sample rate (the device's).
    pub target_rate: u32,
    /// Gain applied to every sample, in dB.
    pub gain_db: f32,
    /// Linear fade-in from silence at the start.
    pub fade_in: SessionTime,
    /// Linear fade-out to silence at the end.
    pub fade_out: SessionTime,
}

impl DecodeOptions {
    /// No gain, no fades, output at `target_rate`.
    pub fn at_rate(target_rate: u32) -> Self {
        Self {
            target_rate,
            gain_db: 0.0,
            fade_in: SessionTime::ZERO,
            fade_out: SessionTime::ZERO,
        }
    }
}

/// How far decoding has got, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Source frames decoded so far.
    pub decoded_frames: u64,
    /// Source frames in the file, if the container says.
    pub total_frames: Option<u64>,
    /// Fraction done, 0 to 1 (decoding counts for 90 %, resampling and fades for the rest).
    pub fraction: f32,
}

/// Why a file could not be decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The file could not be opened.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The container or codec is not one we decode, or the stream is broken beyond a packet.
    #[error("cannot decode audio: {0}")]
    Format(#[source] SymphoniaError),
    /// The file has no audio track.
    #[error("no audio track")]
    NoAudioTrack,
    /// The file decoded to zero frames.
    #[error("no audio frames decoded")]
    Empty,
    /// The resampler could not be built or failed.
    #[error("resampling {from} Hz to {to} Hz failed: {message}")]
    Resample {
        /// Source rate.
        from: u32,
        /// Target rate.
        to: u32,
        /// The resampler's message.
        message: String,
    },
    /// The decoded samples did not make a valid sound.
    #[error(transparent)]
    Sound(#[from] SoundError),
}

/// Decodes a file; the extension is used as a format hint.
pub fn decode_file(
    path: &Path,
    options: &DecodeOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Sound, DecodeError> {
    let file = std::fs::File::open(path).map_err(|source| DecodeError::Open {
        path: path.display().to_string(),
        source,
    })?;
    let ext = path.extension().and_then(|e| e.to_str());
    decode_source(Box::new(file), ext, options, progress)
}

/// Decodes a file held in memory (`extension` such as `"flac"` helps pick the format).
pub fn decode_bytes(
    bytes: Vec<u8>,
    extension: Option<&str>,
    options: &DecodeOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Sound, DecodeError> {
    decode_source(
        Box::new(std::io::Cursor::new(bytes)),
        extension,
        options,
        progress,
    )
}

/// Source audio as decoded, before resampling.
struct Decoded {
    rate: u32,
    channels: usize,
    samples: Vec<f32>,
}

fn decode_source(
    source: Box<dyn MediaSource>,
    extension: Option<&str>,
    options: &DecodeOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Sound, DecodeError> {
    let decoded = decode_all(source, extension, progress)?;
    let total = (decoded.samples.len() / decoded.channels) as u64;
    let mut samples = resample(
        decoded.samples,
        decoded.channels,
        decoded.rate,
        options.target_rate,
    )?;
    apply_gain_and_fades(&mut samples, decoded.channels, options);
    progress(Progress {
        decoded_frames: total,
        total_frames: Some(total),
        fraction: 1.0,
    });
    Ok(Sound::from_interleaved(
        options.target_rate,
        decoded.channels as u16,
        samples,
    )?)
}

fn decode_all(
    source: Box<dyn MediaSource>,
    extension: Option<&str>,
    progress: &mut dyn FnMut(Progress),
) -> Result<Decoded, DecodeError> {
    let mss = MediaSourceStream::new(source, Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = extension {
        hint.with_extension(ext);
    }
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(DecodeError::Format)?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or(DecodeError::NoAudioTrack)?;
    let track_id = track.id;
    let total_frames = track.num_frames;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or(DecodeError::NoAudioTrack)?;
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(params, &AudioDecoderOptions::default())
        .map_err(DecodeError::Format)?;

    let mut samples: Vec<f32> = match total_frames {
        Some(n) => Vec::with_capacity(n as usize * 2),
        None => Vec::new(),
    };
    let mut chunk: Vec<f32> = Vec::new();
    let mut rate = 0u32;
    let mut channels = 0usize;
    let mut decoded_frames = 0u64;
    let mut last_report = 0u64;
    loop {
        let packet = match format.next_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) | Err(SymphoniaError::ResetRequired) => break,
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break;
            }
            Err(e) => return Err(DecodeError::Format(e)),
        };
        if packet.track_id != track_id {
            continue;
        }
        let buf = match decoder.decode(&packet) {
            Ok(buf) => buf,
            // A malformed packet is skipped; the rest of the stream may be fine.
            Err(SymphoniaError::DecodeError(_)) => continue,
            Err(e) => return Err(DecodeError::Format(e)),
        };
        if buf.frames() == 0 {
            continue;
        }
        rate = buf.spec().rate();
        channels = buf.spec().channels().count();
        buf.copy_to_vec_interleaved(&mut chunk);
        samples.extend_from_slice(&chunk);
        decoded_frames += buf.frames() as u64;
        if decoded_frames - last_report >= 16_384 {
            last_report = decoded_frames;
            let fraction = total_frames
                .map(|t| 0.9 * (decoded_frames as f32 / t.max(1) as f32).min(1.0))
                .unwrap_or(0.0);
            progress(Progress {
                decoded_frames,
                total_frames,
                fraction,
            });
        }
    }
    if decoded_frames == 0 || channels == 0 {
        return Err(DecodeError::Empty);
    }
    Ok(Decoded {
        rate,
        channels,
        samples,
    })
}

/// Resamples interleaved audio with rubato's FFT resampler (fixed ratio, whole clip).
pub fn resample(
    samples: Vec<f32>,
    channels: usize,
    from: u32,
    to: u32,
) -> Result<Vec<f32>, DecodeError> {
    if from == to {
        return Ok(samples);
    }
    let err = |message: String| DecodeError::Resample { from, to, message };
    let frames = samples.len() / channels;
    let mut resampler = rubato::Fft::<f32>::new(
        from as usize,
        to as usize,
        1024,
        channels,
        rubato::FixedSync::Both,
    )
    .map_err(|e| err(e.to_string()))?;
    let input =
        InterleavedSlice::new(&samples, channels, frames).map_err(|e| err(e.to_string()))?;
    let output = resampler
        .process_all(&input, frames, None)
        .map_err(|e| err(e.to_string()))?;
    // rubato sizes the output with a float ceiling, which can add one frame; the exact length
    // is the source length scaled by the integer ratio, rounded to the nearest frame.
    let exact = (frames as u64 * u64::from(to) + u64::from(from) / 2) / u64::from(from);
    let mut data = output.take_data();
    data.truncate(exact as usize * channels);
    Ok(data)
}

fn apply_gain_and_fades(samples: &mut [f32], channels: usize, options: &DecodeOptions) {
    let gain = 10f32.powf(options.gain_db / 20.0);
    let frames = samples.len() / channels;
    let fade_in = options.fade_in.to_frames(options.target_rate).0.max(0) as usize;
    let fade_out = options.fade_out.to_frames(options.target_rate).0.max(0) as usize;
    for (i, frame) in samples.chunks_exact_mut(channels).enumerate() {
        let mut g = gain;
        if i < fade_in {
            g *= i as f32 / fade_in as f32;
        }
        let from_end = frames - 1 - i;
        if from_end < fade_out {
            g *= from_end as f32 / fade_out as f32;
        }
        for s in frame {
            *s *= g;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gain_and_fades_shape_the_envelope() {
        let mut samples = vec![1.0f32; 20];
        let options = DecodeOptions {
            target_rate: 1000,
            gain_db: -6.0206,
            fade_in: SessionTime::from_millis(4),
            fade_out: SessionTime::from_millis(4),
        };
        apply_gain_and_fades(&mut samples, 1, &options);
        let expect = [0.0, 0.125, 0.25, 0.375, 0.5];
        for (got, want) in samples.iter().zip(expect) {
            assert!((got - want).abs() < 1e-4, "{samples:?}");
        }
        assert!((samples[10] - 0.5).abs() < 1e-4);
        assert_eq!(samples[19], 0.0);
        assert!((samples[16] - 0.375).abs() < 1e-4);
    }

    #[test]
    fn resampling_keeps_length_and_frequency() {
        // 1 s of a 1 kHz sine at 44.1 kHz, to 48 kHz.
        let input: Vec<f32> = (0..44_100)
            .map(|i| {
                ((2.0 * std::f64::consts::PI * 1000.0 * i as f64 / 44_100.0).sin() * 0.5) as f32
            })
            .collect();
        let out = resample(input, 1, 44_100, 48_000).unwrap();
        assert_eq!(out.len(), 48_000);
        // Away from the edges it matches the ideal 1 kHz sine at 48 kHz, up to a sub-sample
        // shift: rubato trims its start-up delay in whole frames.
        let max_err_at = |lag: f64| {
            (1000..47_000)
                .map(|i| {
                    let t = (i as f64 + lag) / 48_000.0;
                    let ideal = (2.0 * std::f64::consts::PI * 1000.0 * t).sin() * 0.5;
                    (f64::from(out[i]) - ideal).abs()
                })
                .fold(0f64, f64::max)
        };
        let (best_lag, best_err) = (-20..=20)
            .map(|k| {
                let lag = f64::from(k) * 0.05;
                (lag, max_err_at(lag))
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        assert!(best_err < 5e-3, "error {best_err} at lag {best_lag}");
        assert!(best_lag.abs() <= 0.55, "shift of {best_lag} frames");
    }
}
