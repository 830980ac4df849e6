//! Stimulus decoding: a file (or bytes) to a [`Sound`] at the device rate, ahead of the session.
//!
//! Symphonia demuxes and decodes (WAV, FLAC, MP3, Ogg Vorbis, AAC/M4A, raw PCM in WAV) to
//! interleaved `f32`; rubato's FFT resampler converts the whole clip to the device rate in one
//! pass (its start-up delay trimmed, so sample 0 stays sample 0); then `gain_db` and linear fades
//! are applied and the levels measured. Everything happens once, before the participant arrives,
//! so the render path only mixes. A packet the decoder rejects as malformed is skipped and
//! counted; any other error stops decoding.
//!
//! **No header is trusted.** A stimulus file is user input, and its header may lie (a FLAC
//! whose STREAMINFO claims 2^36 − 1 samples, a WAV at 4,294,967,295 Hz or with 65535
//! channels). So:
//! - memory is allocated from what decodes, never reserved from a header's length;
//! - rates are bounded to [`MIN_SAMPLE_RATE`]..=[`MAX_SAMPLE_RATE`] (8 kHz to 384 kHz, source
//!   and output), channels to [`MAX_CHANNELS`] (32), length to [`MAX_DURATION`] (60 min) and
//!   [`MAX_SAMPLES`] (an hour of stereo at 48 kHz, before and after resampling) — checked on
//!   the header before a decoder is built and again on every decoded packet, so decoding
//!   stops at the limit;
//! - the decoded length is the sound's length; when the header states another,
//!   [`Measured::warnings`] says so ([`DecodeWarning::LengthMismatch`]: a truncated file);
//! - a NaN or infinite sample is an error ([`DecodeError::NonFinite`]), and so is one beyond
//!   ±[`MAX_SAMPLE_MAGNITUDE`] (1000 × full scale, [`DecodeError::TooLoud`]), which would
//!   overflow the resampler; a gain that makes the output infinite is
//!   [`DecodeError::GainOverflow`];
//! - a panic inside symphonia or rubato is caught at this module's boundary and returned as
//!   [`DecodeError::DecoderPanicked`] naming the file (symphonia 0.6.1's WAV reader overflows
//!   on 65535 channels, a panic in builds with overflow checks).
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

use std::panic::{AssertUnwindSafe, catch_unwind};
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

/// The lowest sample rate accepted, of a file or of the output (telephone quality).
pub const MIN_SAMPLE_RATE: u32 = 8_000;
/// The highest sample rate accepted, of a file or of the output (the fastest rate sound cards
/// offer). Resampling cost and memory grow with the ratio of rates, so a header claiming
/// 4,294,967,295 Hz (or 1 Hz) is refused before anything is resampled.
pub const MAX_SAMPLE_RATE: u32 = 384_000;
/// The most channels a stimulus may have (third-order ambisonics needs 16).
pub const MAX_CHANNELS: usize = 32;
/// The longest stimulus decoded: one hour. Film-music stimuli last seconds to minutes.
pub const MAX_DURATION: SessionTime = SessionTime::from_millis(3_600_000);
/// The most samples (frames × channels) a decoded sound may hold, before or after resampling:
/// an hour of stereo at 48 kHz, 1.38 GB of `f32`. Decoding stops with an error when a file
/// decodes to more, so memory is bounded by what is decoded, never by what a header claims.
pub const MAX_SAMPLES: u64 = 3600 * 48_000 * 2;

/// The largest sample magnitude accepted from a file: 1000 times full scale (60 dB over). A
/// floating-point file may go a little over 1.0; a sample far beyond is not audio, and would
/// overflow the resampler's sums to infinity.
pub const MAX_SAMPLE_MAGNITUDE: f32 = 1000.0;

/// How to turn a file into a playable sound.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeOptions {
    /// Output sample rate (the device's), within [`MIN_SAMPLE_RATE`]..=[`MAX_SAMPLE_RATE`].
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
    /// Source frames in the file, if the container says (a claim, not a measurement).
    pub total_frames: Option<u64>,
    /// Fraction done, 0 to 1 (decoding counts for 90 %, resampling and fades for the rest).
    pub fraction: f32,
}

/// What decoding measured about the source, beside the sound itself.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Measured {
    /// The source's sample rate.
    pub source_rate: u32,
    /// The source's channel count.
    pub source_channels: u16,
    /// Source frames actually decoded: the measured length.
    pub decoded_frames: u64,
    /// Source frames the container's header claims, if it claims any.
    pub stated_frames: Option<u64>,
    /// Malformed packets skipped.
    pub skipped_packets: u64,
    /// Things worth telling the user that do not stop the sound from being played.
    pub warnings: Vec<DecodeWarning>,
}

/// Something odd about a file that still decoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeWarning {
    /// The header states a length that differs from what decoded (a truncated file, or a
    /// header written before the encoder finished). The sound has the decoded length.
    #[error(
        "the header states {stated} frames but {decoded} decoded ({}): the file may be truncated; its measured length is used",
        describe_shortfall(*stated, *decoded, *rate)
    )]
    LengthMismatch {
        /// Frames the header states.
        stated: u64,
        /// Frames decoded.
        decoded: u64,
        /// The source rate, to express the difference in seconds.
        rate: u32,
    },
    /// Malformed packets were skipped; the sound has gaps where they were.
    #[error("{count} malformed packet(s) skipped")]
    SkippedPackets {
        /// How many.
        count: u64,
    },
}

fn describe_shortfall(stated: u64, decoded: u64, rate: u32) -> String {
    let secs = |frames: u64| frames as f64 / f64::from(rate.max(1));
    if decoded < stated {
        format!("{:.3} s missing", secs(stated - decoded))
    } else {
        format!("{:.3} s more", secs(decoded - stated))
    }
}

/// Why a file could not be decoded. Every variant that concerns the file's content (all but
/// [`DecodeError::Open`]) is the file's fault, not the machine's.
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
    /// The file's sample rate is outside [`MIN_SAMPLE_RATE`]..=[`MAX_SAMPLE_RATE`].
    #[error(
        "sample rate {rate} Hz is outside the supported {MIN_SAMPLE_RATE}..={MAX_SAMPLE_RATE} Hz"
    )]
    SampleRate {
        /// The rate the file states or decodes at.
        rate: u32,
    },
    /// The requested output rate is outside [`MIN_SAMPLE_RATE`]..=[`MAX_SAMPLE_RATE`].
    #[error(
        "output rate {rate} Hz is outside the supported {MIN_SAMPLE_RATE}..={MAX_SAMPLE_RATE} Hz"
    )]
    TargetRate {
        /// The rate asked for.
        rate: u32,
    },
    /// The file has no channels or more than [`MAX_CHANNELS`].
    #[error("{channels} channels: a stimulus has 1 to {MAX_CHANNELS}")]
    Channels {
        /// The channel count the file states or decodes with.
        channels: usize,
    },
    /// The rate or channel count changed part-way through the stream.
    #[error(
        "the stream changes from {from_rate} Hz, {from_channels} channels to {to_rate} Hz, {to_channels} channels part-way"
    )]
    SpecChanged {
        /// Rate before.
        from_rate: u32,
        /// Channels before.
        from_channels: usize,
        /// Rate after.
        to_rate: u32,
        /// Channels after.
        to_channels: usize,
    },
    /// The file decodes to more than [`MAX_DURATION`] or [`MAX_SAMPLES`] (checked as it
    /// decodes, and for the resampled length before resampling).
    #[error(
        "longer than the limit for a stimulus ({} min, {MAX_SAMPLES} samples): decoding stopped at {frames} frames of {channels} channels at {rate} Hz",
        MAX_DURATION.as_millis_f64() / 60_000.0
    )]
    TooLong {
        /// Frames decoded (or to be produced by resampling) when the limit was hit.
        frames: u64,
        /// Channels.
        channels: usize,
        /// Rate of those frames.
        rate: u32,
    },
    /// A decoded sample is NaN or infinite (possible in floating-point WAV files).
    #[error("sample {frame} of channel {channel} is {value}, not a finite number")]
    NonFinite {
        /// Source frame index, from 0.
        frame: u64,
        /// Channel index, from 0.
        channel: usize,
        /// The value.
        value: f32,
    },
    /// A decoded sample is beyond ±[`MAX_SAMPLE_MAGNITUDE`]: not audio.
    #[error(
        "sample {frame} of channel {channel} is {value}, more than {MAX_SAMPLE_MAGNITUDE} times full scale: not audio"
    )]
    TooLoud {
        /// Source frame index, from 0.
        frame: u64,
        /// Channel index, from 0.
        channel: usize,
        /// The value.
        value: f32,
    },
    /// Resampling and the gain made a sample infinite (a gain of hundreds of dB).
    #[error("a gain of {gain_db} dB makes the sound infinite")]
    GainOverflow {
        /// The gain asked for.
        gain_db: f32,
    },
    /// The decoding library panicked on this input (a bug it has with malformed files); the
    /// panic was caught at the decode boundary.
    #[error("the decoder failed on malformed data in {file}: {message}")]
    DecoderPanicked {
        /// The file (or `<memory>` for bytes).
        file: String,
        /// The panic's message.
        message: String,
    },
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
    decode_file_measured(path, options, progress).map(|(sound, _)| sound)
}

/// Decodes a file and says what was measured (the decoded length against the header's claim).
pub fn decode_file_measured(
    path: &Path,
    options: &DecodeOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<(Sound, Measured), DecodeError> {
    let file = std::fs::File::open(path).map_err(|source| DecodeError::Open {
        path: path.display().to_string(),
        source,
    })?;
    let ext = path.extension().and_then(|e| e.to_str());
    decode_guarded(
        Box::new(file),
        &path.display().to_string(),
        ext,
        options,
        progress,
    )
}

/// Decodes a file held in memory (`extension` such as `"flac"` helps pick the format).
pub fn decode_bytes(
    bytes: Vec<u8>,
    extension: Option<&str>,
    options: &DecodeOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Sound, DecodeError> {
    decode_bytes_measured(bytes, extension, options, progress).map(|(sound, _)| sound)
}

/// Decodes bytes held in memory and says what was measured.
pub fn decode_bytes_measured(
    bytes: Vec<u8>,
    extension: Option<&str>,
    options: &DecodeOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<(Sound, Measured), DecodeError> {
    decode_guarded(
        Box::new(std::io::Cursor::new(bytes)),
        "<memory>",
        extension,
        options,
        progress,
    )
}

/// The decode boundary: a panic inside symphonia or rubato (they have panicked on malformed
/// headers, e.g. a WAV claiming 65535 channels in a debug build) becomes a typed error naming
/// the file. Nothing that outlives the call is shared with the decoder, so no broken state can
/// be observed after a caught panic.
fn decode_guarded(
    source: Box<dyn MediaSource>,
    name: &str,
    extension: Option<&str>,
    options: &DecodeOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<(Sound, Measured), DecodeError> {
    catch_unwind(AssertUnwindSafe(|| {
        decode_source(source, extension, options, progress)
    }))
    .unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_string());
        Err(DecodeError::DecoderPanicked {
            file: name.to_string(),
            message,
        })
    })
}

/// Source audio as decoded, before resampling.
struct Decoded {
    rate: u32,
    channels: usize,
    samples: Vec<f32>,
    measured: Measured,
}

fn check_rate(rate: u32) -> Result<(), DecodeError> {
    if (MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&rate) {
        Ok(())
    } else {
        Err(DecodeError::SampleRate { rate })
    }
}

fn check_channels(channels: usize) -> Result<(), DecodeError> {
    if (1..=MAX_CHANNELS).contains(&channels) {
        Ok(())
    } else {
        Err(DecodeError::Channels { channels })
    }
}

/// Checks that `frames` of `channels` at `rate` are within [`MAX_DURATION`] and [`MAX_SAMPLES`].
fn check_length(frames: u64, channels: usize, rate: u32) -> Result<(), DecodeError> {
    let max_frames = MAX_DURATION.as_nanos() as u128 * u128::from(rate) / 1_000_000_000;
    let samples = u128::from(frames) * channels as u128;
    if u128::from(frames) > max_frames || samples > u128::from(MAX_SAMPLES) {
        return Err(DecodeError::TooLong {
            frames,
            channels,
            rate,
        });
    }
    Ok(())
}

fn decode_source(
    source: Box<dyn MediaSource>,
    extension: Option<&str>,
    options: &DecodeOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<(Sound, Measured), DecodeError> {
    let target = options.target_rate;
    if !(MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&target) {
        return Err(DecodeError::TargetRate { rate: target });
    }
    let decoded = decode_all(source, extension, progress)?;
    let total = (decoded.samples.len() / decoded.channels) as u64;
    // The resampled length, checked before the resampler allocates for it.
    let out_frames = (u128::from(total) * u128::from(target)).div_ceil(u128::from(decoded.rate));
    check_length(
        u64::try_from(out_frames).unwrap_or(u64::MAX),
        decoded.channels,
        target,
    )?;
    let mut samples = resample(decoded.samples, decoded.channels, decoded.rate, target)?;
    apply_gain_and_fades(&mut samples, decoded.channels, options);
    if samples.iter().any(|s| !s.is_finite()) {
        return Err(DecodeError::GainOverflow {
            gain_db: options.gain_db,
        });
    }
    progress(Progress {
        decoded_frames: total,
        total_frames: Some(total),
        fraction: 1.0,
    });
    let sound = Sound::from_interleaved(target, decoded.channels as u16, samples)?;
    Ok((sound, decoded.measured))
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
    // The header's length is a claim: it feeds the progress bar and the length check at the
    // end, and never sizes an allocation.
    let stated_frames = track.num_frames;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or(DecodeError::NoAudioTrack)?;
    // What the header states is checked before a decoder is built for it.
    if let Some(rate) = params.sample_rate {
        check_rate(rate)?;
    }
    if let Some(layout) = &params.channels {
        check_channels(layout.count())?;
    }
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(params, &AudioDecoderOptions::default())
        .map_err(DecodeError::Format)?;

    let mut samples: Vec<f32> = Vec::new();
    let mut chunk: Vec<f32> = Vec::new();
    let mut spec: Option<(u32, usize)> = None;
    let mut decoded_frames = 0u64;
    let mut skipped_packets = 0u64;
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
            Err(SymphoniaError::DecodeError(_)) => {
                skipped_packets += 1;
                continue;
            }
            Err(e) => return Err(DecodeError::Format(e)),
        };
        if buf.frames() == 0 {
            continue;
        }
        let this = (buf.spec().rate(), buf.spec().channels().count());
        match spec {
            None => {
                check_rate(this.0)?;
                check_channels(this.1)?;
                spec = Some(this);
            }
            Some(first) if first != this => {
                return Err(DecodeError::SpecChanged {
                    from_rate: first.0,
                    from_channels: first.1,
                    to_rate: this.0,
                    to_channels: this.1,
                });
            }
            Some(_) => {}
        }
        decoded_frames += buf.frames() as u64;
        // Checked before the samples are kept: memory grows only with what decodes, and
        // stops at the limit.
        check_length(decoded_frames, this.1, this.0)?;
        buf.copy_to_vec_interleaved(&mut chunk);
        if let Some(at) = chunk
            .iter()
            .position(|s| !s.is_finite() || s.abs() > MAX_SAMPLE_MAGNITUDE)
        {
            let (frame, channel, value) = (
                decoded_frames - buf.frames() as u64 + (at / this.1) as u64,
                at % this.1,
                chunk[at],
            );
            return Err(if value.is_finite() {
                DecodeError::TooLoud {
                    frame,
                    channel,
                    value,
                }
            } else {
                DecodeError::NonFinite {
                    frame,
                    channel,
                    value,
                }
            });
        }
        samples.extend_from_slice(&chunk);
        if decoded_frames - last_report >= 16_384 {
            last_report = decoded_frames;
            let fraction = stated_frames
                .map(|t| 0.9 * (decoded_frames as f32 / t.max(1) as f32).min(1.0))
                .unwrap_or(0.0);
            progress(Progress {
                decoded_frames,
                total_frames: stated_frames,
                fraction,
            });
        }
    }
    let Some((rate, channels)) = spec.filter(|_| decoded_frames > 0) else {
        return Err(DecodeError::Empty);
    };
    let mut warnings = Vec::new();
    if let Some(stated) = stated_frames
        && stated != decoded_frames
    {
        warnings.push(DecodeWarning::LengthMismatch {
            stated,
            decoded: decoded_frames,
            rate,
        });
    }
    if skipped_packets > 0 {
        warnings.push(DecodeWarning::SkippedPackets {
            count: skipped_packets,
        });
    }
    Ok(Decoded {
        rate,
        channels,
        samples,
        measured: Measured {
            source_rate: rate,
            source_channels: channels as u16,
            decoded_frames,
            stated_frames,
            skipped_packets,
            warnings,
        },
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
    fn channel_and_rate_limits() {
        assert!(check_channels(1).is_ok() && check_channels(MAX_CHANNELS).is_ok());
        for n in [0, MAX_CHANNELS + 1, 65_535] {
            assert!(matches!(
                check_channels(n),
                Err(DecodeError::Channels { .. })
            ));
        }
        assert!(check_rate(MIN_SAMPLE_RATE).is_ok() && check_rate(MAX_SAMPLE_RATE).is_ok());
        for r in [0, 1, MIN_SAMPLE_RATE - 1, MAX_SAMPLE_RATE + 1, u32::MAX] {
            assert!(matches!(check_rate(r), Err(DecodeError::SampleRate { .. })));
        }
    }

    #[test]
    fn length_limit_is_an_hour_and_max_samples() {
        assert!(check_length(3600 * 48_000, 2, 48_000).is_ok());
        let over = [
            (3600 * 48_000 + 1, 1, 48_000),
            (3600 * 48_000, 3, 48_000),
            (3600 * 8_000 + 1, 1, 8_000),
            (u64::MAX, MAX_CHANNELS, MAX_SAMPLE_RATE),
        ];
        for (frames, channels, rate) in over {
            assert!(
                matches!(
                    check_length(frames, channels, rate),
                    Err(DecodeError::TooLong { .. })
                ),
                "{frames} x {channels} at {rate}"
            );
        }
    }

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
