//! Measurements behind `cuelab bench` and the criterion benches: the render path's cost per
//! callback, decode + resample time of a long soundtrack, and the memory a preloaded session
//! holds. These are benchmarks, not tests: they return figures and assert nothing.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cuelab_core::{Frames, SessionTime};

use crate::decode::{DecodeError, DecodeOptions, decode_file};
use crate::engine::{EngineConfig, Renderer, engine};
use crate::sound::Sound;

/// A deterministic stereo test signal (two detuned tones plus low-level noise) of `seconds`.
pub fn test_signal(rate: u32, seconds: f64) -> Vec<f32> {
    let frames = (f64::from(rate) * seconds) as usize;
    let mut state = 0x1234_5678u32;
    let mut out = Vec::with_capacity(frames * 2);
    for i in 0..frames {
        let t = i as f64 / f64::from(rate);
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let noise = (state as f64 / u32::MAX as f64 - 0.5) * 0.02;
        let l = 0.3 * (2.0 * std::f64::consts::PI * 220.0 * t).sin() + noise;
        let r = 0.3 * (2.0 * std::f64::consts::PI * 277.2 * t).sin() + noise;
        out.push(l as f32);
        out.push(r as f32);
    }
    out
}

/// A render core with `voices` voices of `sound` all playing from the first buffer.
pub fn renderer_with_voices(sound: &Arc<Sound>, voices: usize, buffer_frames: u32) -> Renderer {
    let mut config = EngineConfig::new(sound.rate(), 2);
    config.buffer_frames = buffer_frames;
    config.max_voices = voices.max(1);
    let (mut control, mut renderer) = engine(&config);
    for v in 0..voices {
        // Staggered by a few frames so voices are not sample-aligned copies.
        let at = Frames(v as i64 * 7).to_session_time(sound.rate());
        control
            .start(sound, at, -12.0)
            .expect("voice slots were sized for this");
    }
    // The renderer keeps the queued commands; the control handle may go.
    drop(control);
    let mut out = vec![0f32; buffer_frames as usize * 2];
    renderer.render(&mut out, SessionTime::ZERO, SessionTime::ZERO);
    renderer
}

/// Cost of one render callback.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RenderCost {
    /// Frames per callback.
    pub buffer_frames: u32,
    /// Mean time per callback.
    pub per_callback: Duration,
    /// Callback period at the sound's rate.
    pub period: Duration,
}

impl RenderCost {
    /// Render time as a share of the period (0.01 = 1 %).
    pub fn share(&self) -> f64 {
        self.per_callback.as_secs_f64() / self.period.as_secs_f64()
    }
}

/// Times `callbacks` render calls of `voices` voices of `sound` (at most as many as the sound
/// lasts) and returns the mean cost per callback.
pub fn render_cost(
    sound: &Arc<Sound>,
    voices: usize,
    buffer_frames: u32,
    callbacks: usize,
) -> RenderCost {
    let rate = sound.rate();
    let max_callbacks = (sound.frames().0 as usize / buffer_frames as usize).saturating_sub(2);
    let callbacks = callbacks.min(max_callbacks).max(1);
    let mut renderer = renderer_with_voices(sound, voices, buffer_frames);
    let mut out = vec![0f32; buffer_frames as usize * 2];
    let mut frame = i64::from(buffer_frames);
    let start = Instant::now();
    for _ in 0..callbacks {
        let t = Frames(frame).to_session_time(rate);
        renderer.render(&mut out, t, t);
        frame += i64::from(buffer_frames);
    }
    let elapsed = start.elapsed();
    std::hint::black_box(&out);
    RenderCost {
        buffer_frames,
        per_callback: elapsed / callbacks as u32,
        period: Duration::from_nanos(
            Frames(i64::from(buffer_frames))
                .to_session_time(rate)
                .as_nanos() as u64,
        ),
    }
}

/// Writes a `seconds`-long stereo 16-bit WAV of [`test_signal`] at `rate` into `dir`.
pub fn write_test_wav(dir: &Path, rate: u32, seconds: f64) -> Result<PathBuf, hound::Error> {
    let path = dir.join(format!("soundtrack_{rate}hz_{seconds}s.wav"));
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(&path, spec)?;
    for s in test_signal(rate, seconds) {
        writer.write_sample((s * 32767.0) as i16)?;
    }
    writer.finalize()?;
    Ok(path)
}

/// Decodes (and resamples to `target_rate`) one file, returning the sound and the time taken.
pub fn decode_cost(path: &Path, target_rate: u32) -> Result<(Sound, Duration), DecodeError> {
    let start = Instant::now();
    let sound = decode_file(path, &DecodeOptions::at_rate(target_rate), &mut |_| {})?;
    Ok((sound, start.elapsed()))
}

/// Peak resident memory of this process so far (Linux `VmHWM`), in bytes.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Current resident memory (Linux `VmRSS`), in bytes.
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
