//! Real audio devices through cpal (ALSA on Linux, so PulseAudio and PipeWire through their ALSA
//! plugins too).
//!
//! The cpal callback does three things, none of which allocates, locks or logs: it reads the
//! session clock, maps the callback's stream timestamps onto it, and calls
//! [`Renderer::render`]. cpal's stream instants have their own origin (the stream's creation), so
//! the offset between the two clocks is estimated from every callback: the session time read in
//! the callback minus the stream's callback instant. Scheduling delay can only make that
//! difference larger, so the estimate follows new minima at once and rises only slowly (to
//! follow clock drift): a low-envelope filter, refreshed every callback.
//!
//! A device that cannot be found or opened is an error; there is no silent fallback to another
//! device or to the virtual one.
//!
//! Streams are opened from a thread whose nice value is raised to [`AUDIO_NICE`] for the
//! duration (where the process may: root, or `CAP_SYS_NICE`, or an `RLIMIT_NICE` that allows
//! it): the threads the stream starts — cpal's worker that runs the callback, and the ALSA
//! PulseAudio plugin's main loop that ships the buffers to the server — inherit it. Through the
//! plugin a 512-frame stream has about 10 ms of slack; on a busy two-core machine (the
//! participant window's software renderer keeps both cores busy during a clip) threads of
//! ordinary priority missed it, and each underrun makes the plugin reconnect its stream, which
//! silences the output for up to 2 s. Real-time scheduling is not used: cpal itself refuses it
//! for plugin devices (a spinning plugin thread would take the machine).

use std::sync::Arc;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cuelab_core::SessionTime;

use crate::clock::{Clock, MonotonicClock};
use crate::engine::{Engine, EngineConfig, EngineStats, Renderer, engine};

/// Why a real device could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeviceError {
    /// The audio host (ALSA) could not list devices.
    #[error("cannot list audio devices: {0}")]
    Host(#[source] cpal::Error),
    /// No device has this name.
    #[error("no {direction} device named {name:?}; available: {available}")]
    NotFound {
        /// "output" or "input".
        direction: &'static str,
        /// The name asked for.
        name: String,
        /// Names that exist, comma-separated.
        available: String,
    },
    /// There is no default device.
    #[error("no default {0} device")]
    NoDefault(&'static str),
    /// The device refused the stream configuration or failed to start.
    #[error("cannot open {device}: {source}")]
    Open {
        /// The device.
        device: String,
        /// cpal's error.
        source: cpal::Error,
    },
}

/// One output device as listed by the host.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceInfo {
    /// The name to pass to [`open_output`] (the ALSA PCM name, e.g. `pulse`, `default`).
    pub name: String,
    /// Human-readable description.
    pub description: String,
    /// True for the host's default output device.
    pub is_default: bool,
    /// The device's default sample rate, if it reports one.
    pub default_rate: Option<u32>,
    /// The device's default channel count, if it reports one.
    pub default_channels: Option<u16>,
}

fn device_name(device: &cpal::Device) -> String {
    device
        .id()
        .map(|id| id.id().to_string())
        .unwrap_or_else(|_| device.to_string())
}

/// Lists the host's output devices.
pub fn list_output_devices() -> Result<Vec<DeviceInfo>, DeviceError> {
    let host = cpal::default_host();
    let default = host.default_output_device().map(|d| device_name(&d));
    let devices = host.output_devices().map_err(DeviceError::Host)?;
    Ok(devices
        .map(|d| {
            let name = device_name(&d);
            let config = d.default_output_config().ok();
            DeviceInfo {
                is_default: default.as_deref() == Some(name.as_str()),
                description: d
                    .description()
                    .map(|x| x.name().to_string())
                    .unwrap_or_default(),
                default_rate: config.as_ref().map(|c| c.sample_rate()),
                default_channels: config.as_ref().map(|c| c.channels()),
                name,
            }
        })
        .collect())
}

fn find_device(name: Option<&str>, output: bool) -> Result<cpal::Device, DeviceError> {
    let host = cpal::default_host();
    let direction = if output { "output" } else { "input" };
    let Some(name) = name else {
        let device = if output {
            host.default_output_device()
        } else {
            host.default_input_device()
        };
        return device.ok_or(DeviceError::NoDefault(direction));
    };
    let devices: Vec<cpal::Device> = if output {
        host.output_devices().map_err(DeviceError::Host)?.collect()
    } else {
        host.input_devices().map_err(DeviceError::Host)?.collect()
    };
    let names: Vec<String> = devices.iter().map(device_name).collect();
    match names.iter().position(|n| n == name) {
        Some(i) => Ok(devices
            .into_iter()
            .nth(i)
            .expect("index from the same list")),
        None => Err(DeviceError::NotFound {
            direction,
            name: name.to_string(),
            available: names.join(", "),
        }),
    }
}

/// Maps a stream's instants onto the session clock (see the module docs).
#[derive(Debug, Clone, Copy, Default)]
struct OffsetEstimator {
    offset: Option<i64>,
}

impl OffsetEstimator {
    /// `now` is the session time read in the callback, `stream_ns` the stream instant of the
    /// callback; returns the current estimate of `session - stream`.
    fn update(&mut self, now: SessionTime, stream_ns: i64) -> i64 {
        let sample = now.as_nanos() - stream_ns;
        let offset = match self.offset {
            None => sample,
            Some(prev) if sample < prev => sample,
            // Rise by 1/1024 of the difference per callback: follows drift, ignores delays.
            Some(prev) => prev + (sample - prev) / 1024,
        };
        self.offset = Some(offset);
        offset
    }
}

/// The nice value of the threads a stream starts (PulseAudio's own `--high-priority` value).
pub const AUDIO_NICE: i32 = -11;

/// Raises the calling thread's priority to [`AUDIO_NICE`] while it lives (threads created
/// meanwhile inherit it), and puts the old value back when dropped.
struct RaisedPriority {
    old: Option<i32>,
}

impl RaisedPriority {
    fn new() -> Self {
        let old = rustix::process::getpriority_process(None).ok();
        let raised = old.is_some_and(|o| {
            o <= AUDIO_NICE || rustix::process::setpriority_process(None, AUDIO_NICE).is_ok()
        });
        Self {
            old: old.filter(|_| raised),
        }
    }
}

impl Drop for RaisedPriority {
    fn drop(&mut self) {
        // Lowering a thread's priority is always allowed.
        if let Some(old) = self.old {
            let _ = rustix::process::setpriority_process(None, old);
        }
    }
}

fn instant_ns(i: cpal::StreamInstant) -> i64 {
    i64::try_from(i.as_nanos()).unwrap_or(i64::MAX)
}

/// A running output stream on a real device. Dropping it stops the stream.
pub struct CpalOutput {
    stream: cpal::Stream,
    name: String,
    sample_rate: u32,
    channels: u16,
    stats: Arc<EngineStats>,
}

impl std::fmt::Debug for CpalOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CpalOutput")
            .field("name", &self.name)
            .field("sample_rate", &self.sample_rate)
            .field("channels", &self.channels)
            .finish_non_exhaustive()
    }
}

impl CpalOutput {
    /// The device's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The stream's sample rate.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }
    /// The stream's channel count.
    pub fn channels(&self) -> u16 {
        self.channels
    }
    /// The buffer size the host reports for the stream, in frames (may differ from what was
    /// asked for: the PulseAudio plugin rounds).
    pub fn buffer_frames(&self) -> Option<u32> {
        self.stream.buffer_size().ok()
    }
    /// The engine's counters.
    pub fn stats(&self) -> &Arc<EngineStats> {
        &self.stats
    }
}

/// Opens an output device (`None` = the host's default) with the engine's rate, channels and
/// buffer size, starts it, and returns it with the engine's control handle. The session clock
/// is `clock`.
pub fn open_output(
    name: Option<&str>,
    config: &EngineConfig,
    clock: MonotonicClock,
) -> Result<(CpalOutput, Engine), DeviceError> {
    let device = find_device(name, true)?;
    let name = device_name(&device);
    let stream_config = cpal::StreamConfig {
        channels: config.channels,
        sample_rate: config.sample_rate,
        buffer_size: cpal::BufferSize::Fixed(config.buffer_frames),
    };
    let (control, renderer) = engine(config);
    let stats = Arc::clone(control.stats());
    let err_stats = Arc::clone(&stats);
    let mut renderer: Renderer = renderer;
    let mut offset = OffsetEstimator::default();
    let data_callback = move |data: &mut [f32], info: &cpal::OutputCallbackInfo| {
        let now = clock.now();
        let ts = info.timestamp();
        let off = offset.update(now, instant_ns(ts.callback));
        let playback = SessionTime(instant_ns(ts.playback) + off);
        let callback = SessionTime(instant_ns(ts.callback) + off);
        renderer.render(data, playback, callback);
    };
    let error_callback = move |err: cpal::Error| {
        if err.kind() == cpal::ErrorKind::Xrun {
            err_stats.add_device_xrun();
        } else {
            err_stats.add_device_error();
        }
    };
    let open_err = |source| DeviceError::Open {
        device: name.clone(),
        source,
    };
    let stream = {
        let _priority = RaisedPriority::new();
        let stream = device
            .build_output_stream::<f32, _, _>(stream_config, data_callback, error_callback, None)
            .map_err(open_err)?;
        stream.play().map_err(open_err)?;
        stream
    };
    Ok((
        CpalOutput {
            stream,
            name: name.clone(),
            sample_rate: config.sample_rate,
            channels: config.channels,
            stats,
        },
        control,
    ))
}

/// One block of recorded input: where it starts on the session clock and how long it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptureBlock {
    /// Session time at which the block's first frame was captured (from the device timestamp).
    pub capture: SessionTime,
    /// Frames in the block.
    pub frames: u32,
}

/// Recording from an input device into rings (first channel only), for loopback measurements.
pub struct CpalInput {
    stream: cpal::Stream,
    name: String,
    samples: rtrb::Consumer<f32>,
    blocks: rtrb::Consumer<CaptureBlock>,
    overflow: Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for CpalInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CpalInput")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl CpalInput {
    /// The device's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Moves what was recorded since the last call into `samples` and `blocks`. Whole blocks
    /// only: a block's samples are pushed before its marker, so taking markers first and then
    /// exactly their samples keeps `samples` and `blocks` in step.
    pub fn drain(&mut self, samples: &mut Vec<f32>, blocks: &mut Vec<CaptureBlock>) {
        while let Ok(block) = self.blocks.pop() {
            for _ in 0..block.frames {
                match self.samples.pop() {
                    Ok(s) => samples.push(s),
                    Err(_) => break,
                }
            }
            blocks.push(block);
        }
    }

    /// Samples lost because the ring was full (drain more often if this is not 0).
    pub fn overflowed(&self) -> u64 {
        self.overflow.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Stops recording.
    pub fn stop(self) {
        let _ = self.stream.pause();
    }
}

/// Opens an input device (`None` = default) at `rate` with `channels`, recording its first
/// channel with capture timestamps on the session clock; `seconds` sizes the ring.
pub fn open_input(
    name: Option<&str>,
    rate: u32,
    channels: u16,
    seconds: u32,
    clock: MonotonicClock,
) -> Result<CpalInput, DeviceError> {
    let device = find_device(name, false)?;
    let name = device_name(&device);
    let stream_config = cpal::StreamConfig {
        channels,
        sample_rate: rate,
        buffer_size: cpal::BufferSize::Default,
    };
    let (mut sample_tx, samples) = rtrb::RingBuffer::new(rate as usize * seconds as usize);
    let (mut block_tx, blocks) = rtrb::RingBuffer::new(65_536);
    let overflow = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let overflow_cb = Arc::clone(&overflow);
    let ch = usize::from(channels);
    let mut offset = OffsetEstimator::default();
    let data_callback = move |data: &[f32], info: &cpal::InputCallbackInfo| {
        let now = clock.now();
        let ts = info.timestamp();
        let off = offset.update(now, instant_ns(ts.callback));
        let frames = data.len() / ch;
        let block = CaptureBlock {
            capture: SessionTime(instant_ns(ts.capture) + off),
            frames: frames as u32,
        };
        if sample_tx.slots() < frames || block_tx.is_full() {
            overflow_cb.fetch_add(frames as u64, std::sync::atomic::Ordering::Relaxed);
            return;
        }
        for frame in data.chunks_exact(ch) {
            let _ = sample_tx.push(frame[0]);
        }
        let _ = block_tx.push(block);
    };
    let open_err = |source| DeviceError::Open {
        device: name.clone(),
        source,
    };
    let stream = {
        let _priority = RaisedPriority::new();
        let stream = device
            .build_input_stream::<f32, _, _>(stream_config, data_callback, |_err| {}, None)
            .map_err(open_err)?;
        stream.play().map_err(open_err)?;
        stream
    };
    Ok(CpalInput {
        stream,
        name: name.clone(),
        samples,
        blocks,
        overflow,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raised_priority_is_put_back() {
        let before = rustix::process::getpriority_process(None).unwrap();
        let seen = std::thread::spawn(|| {
            let raised = RaisedPriority::new();
            let during = rustix::process::getpriority_process(None).unwrap();
            // A thread started meanwhile inherits the raised value.
            let child = std::thread::spawn(|| rustix::process::getpriority_process(None).unwrap())
                .join()
                .unwrap();
            let allowed = raised.old.is_some();
            drop(raised);
            let after = rustix::process::getpriority_process(None).unwrap();
            (allowed, during, child, after)
        })
        .join()
        .unwrap();
        let (allowed, during, child, after) = seen;
        if allowed {
            assert_eq!((during, child), (AUDIO_NICE, AUDIO_NICE));
        } else {
            assert_eq!((during, child), (before, before));
        }
        assert_eq!(after, before);
    }

    #[test]
    fn offset_follows_minima_at_once_and_rises_slowly() {
        let mut est = OffsetEstimator::default();
        assert_eq!(est.update(SessionTime(1_000), 0), 1_000);
        // A callback read late (larger difference) barely moves the estimate...
        assert_eq!(est.update(SessionTime(2_000 + 1_024 * 50), 1_000), 1_050);
        // ...an earlier one (smaller difference) is taken at once.
        assert_eq!(est.update(SessionTime(3_500), 3_000), 500);
    }
}
