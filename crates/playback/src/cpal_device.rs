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
//! # Where the playback time comes from
//!
//! cpal's playback instant is the callback instant plus the delay ALSA reports. On a sound
//! card's own PCM that delay is the hardware's. Through the ALSA PulseAudio plugin it is
//! PulseAudio's latency estimate, and that estimate carries an offset of its own that changes
//! from one stream to the next: on the null sink, over runs of `cuelab check`, the reported
//! latency (mean playback − callback) came out 13.8, 13.9, 14.1, 15.5, 18.9 and 8.1 ms while
//! the loopback recording showed the sound at the same place relative to the callbacks every
//! time (loopback − callback, the bias plus the reported latency: 6.43–6.55 ms in four runs of
//! six) — so one calibration could not hold for the next stream. For such devices
//! ([`TimestampSource::for_device`]: `pulse`, `pipewire`, `default`) the playback time is
//! instead the *callback phase*: the low envelope of the callbacks' instants against the frames
//! rendered so far (a callback is never early, only woken late; the envelope follows an
//! earlier one at once and rises slowly), plus the configured buffer's length. It follows the
//! stream's steady pace (frames played at the rate, callbacks woken by the server's requests)
//! and ignores the plugin's estimate; what stays constant from one stream to the next is the
//! machine's bias, which `cuelab check --calibrate` measures. An underrun (or a persistent
//! jump) re-anchors it.
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
    #[error(
        "no default {0} device (no sound card? `--audio virtual` plays on a virtual device; scripts/pulse-null-sink starts a PulseAudio null sink for `--audio pulse`)"
    )]
    NoDefault(&'static str),
    /// The device refused the stream configuration or failed to start.
    #[error(
        "cannot open {device}: {source} (no sound card or sound server here? `--audio virtual` plays on a virtual device; scripts/pulse-null-sink starts a PulseAudio null sink for `--audio pulse`)"
    )]
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

/// Runs `f` with the process's standard error pointed at `/dev/null`, unless
/// `CUELAB_AUDIO_DEBUG` is set. Listing and opening ALSA devices makes alsa-lib and the plugins
/// it loads (JACK's, OSS's, PulseAudio's) print their own complaints straight to file
/// descriptor 2 — a dozen lines of noise on a machine with no sound card — while what went
/// wrong comes back to us as an error anyway. Other threads' standard error is silenced
/// meanwhile too, which is why this wraps only device listing and opening.
fn quietly<T>(f: impl FnOnce() -> T) -> T {
    use std::os::fd::AsFd;
    if std::env::var_os("CUELAB_AUDIO_DEBUG").is_some() {
        return f();
    }
    let (Ok(saved), Ok(null)) = (
        rustix::io::dup(std::io::stderr().as_fd()),
        std::fs::OpenOptions::new().write(true).open("/dev/null"),
    ) else {
        return f();
    };
    if rustix::stdio::dup2_stderr(null.as_fd()).is_err() {
        return f();
    }
    let out = f();
    let _ = rustix::stdio::dup2_stderr(saved.as_fd());
    out
}

fn device_name(device: &cpal::Device) -> String {
    device
        .id()
        .map(|id| id.id().to_string())
        .unwrap_or_else(|_| device.to_string())
}

/// Lists the host's output devices.
pub fn list_output_devices() -> Result<Vec<DeviceInfo>, DeviceError> {
    quietly(list_output_devices_noisily)
}

fn list_output_devices_noisily() -> Result<Vec<DeviceInfo>, DeviceError> {
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
    quietly(|| find_device_noisily(name, output))
}

fn find_device_noisily(name: Option<&str>, output: bool) -> Result<cpal::Device, DeviceError> {
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

/// How the playback time of a buffer is estimated (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampSource {
    /// The callback instant plus the delay the device reports (a sound card's own PCM).
    DeviceDelay,
    /// The low envelope of the callback instants against the frames rendered, plus the
    /// buffer's length (sound servers reached through an ALSA plugin).
    CallbackPhase,
}

impl TimestampSource {
    /// The name used in reports: `device-delay`, `callback-phase`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DeviceDelay => "device-delay",
            Self::CallbackPhase => "callback-phase",
        }
    }

    /// `CallbackPhase` for the ALSA devices that route to a sound server (`pulse`, `pipewire`,
    /// and `default`, which does on a desktop), `DeviceDelay` for the rest (`hw:…`,
    /// `plughw:…`, `sysdefault:…`).
    pub fn for_device(name: &str) -> Self {
        match name {
            "pulse" | "pipewire" | "default" => Self::CallbackPhase,
            _ => Self::DeviceDelay,
        }
    }
}

/// The callback-phase playback clock (see [`TimestampSource::CallbackPhase`]). Plain
/// arithmetic: it runs in the audio callback.
#[derive(Debug, Clone, Copy)]
struct CallbackClock {
    ns_per_frame: f64,
    /// Added to the line: the configured buffer's length.
    latency_ns: f64,
    /// Frames rendered before the current callback.
    frames: i64,
    /// The envelope: the earliest callback instant of frame 0 lately seen, ns (`None` until
    /// the first callback).
    phase: Option<f64>,
    /// Consecutive callbacks far later than the envelope.
    off_line: u32,
    /// Frames since the envelope was (re)anchored.
    since_anchor: i64,
}

/// The envelope rises by this fraction of the gap to a later callback (it follows a device
/// slower than nominal, and forgets an early outlier, within a few hundred callbacks).
const RISE: f64 = 1.0 / 256.0;
/// A stream's first callbacks come late (its start) and then back to back (its buffer
/// filling): for this long the envelope is only watched, and the renderer is not called (the
/// callback plays silence), so the engine's clock mapping never sees the start-up transient — a
/// step of ~12 ms in its first updates pushes its rate estimate to the limit, and it takes tens
/// of seconds to come back.
const SETTLE_NS: f64 = 300e6;
/// A callback this much later than the envelope, three times running, is a jump (an underrun
/// the error callback did not report): the envelope is anchored again.
const JUMP_NS: f64 = 20e6;

impl CallbackClock {
    fn new(rate: u32, buffer_frames: u32) -> Self {
        let ns_per_frame = 1e9 / f64::from(rate.max(1));
        Self {
            ns_per_frame,
            latency_ns: f64::from(buffer_frames) * ns_per_frame,
            frames: 0,
            phase: None,
            off_line: 0,
            since_anchor: 0,
        }
    }

    /// The envelope has settled since it was (re)anchored.
    fn settled(&self) -> bool {
        self.since_anchor as f64 * self.ns_per_frame >= SETTLE_NS
    }

    /// Forgets the line (after an underrun).
    fn reanchor(&mut self) {
        self.phase = None;
        self.off_line = 0;
        self.since_anchor = 0;
    }

    /// A callback at session time `callback_ns` for `n_frames` frames: returns the playback
    /// time of its first frame, ns.
    fn update(&mut self, callback_ns: i64, n_frames: usize) -> i64 {
        let at = self.frames as f64 * self.ns_per_frame;
        let sample = callback_ns as f64 - at;
        let phase = match self.phase {
            None => sample,
            Some(p) if sample <= p => {
                self.off_line = 0;
                sample
            }
            Some(p) if sample - p > JUMP_NS => {
                self.off_line += 1;
                if self.off_line >= 3 {
                    self.off_line = 0;
                    self.since_anchor = 0;
                    sample
                } else {
                    p
                }
            }
            Some(p) => {
                self.off_line = 0;
                p + (sample - p) * RISE
            }
        };
        self.phase = Some(phase);
        self.frames += n_frames as i64;
        self.since_anchor += n_frames as i64;
        (phase + at + self.latency_ns).round() as i64
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
    timestamps: TimestampSource,
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
    /// Where the stream's playback times come from.
    pub fn timestamps(&self) -> TimestampSource {
        self.timestamps
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
    let source = TimestampSource::for_device(&name);
    let mut line = CallbackClock::new(config.sample_rate, config.buffer_frames);
    let channels = usize::from(config.channels.max(1));
    // Underruns reported by the error callback, seen by the data callback (which re-anchors
    // the callback-phase line).
    let underruns = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let underruns_seen = Arc::clone(&underruns);
    let mut underruns_handled = 0u64;
    let data_callback = move |data: &mut [f32], info: &cpal::OutputCallbackInfo| {
        let now = clock.now();
        let ts = info.timestamp();
        let off = offset.update(now, instant_ns(ts.callback));
        let callback = SessionTime(instant_ns(ts.callback) + off);
        let playback = match source {
            TimestampSource::DeviceDelay => SessionTime(instant_ns(ts.playback) + off),
            TimestampSource::CallbackPhase => {
                let n = underruns_seen.load(std::sync::atomic::Ordering::Relaxed);
                if n != underruns_handled {
                    underruns_handled = n;
                    line.reanchor();
                }
                let p = SessionTime(line.update(callback.as_nanos(), data.len() / channels));
                if !line.settled() {
                    data.fill(0.0);
                    return;
                }
                p
            }
        };
        renderer.render(data, playback, callback);
    };
    let error_callback = move |err: cpal::Error| {
        if err.kind() == cpal::ErrorKind::Xrun {
            err_stats.add_device_xrun();
            underruns.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        } else {
            err_stats.add_device_error();
        }
    };
    let open_err = |source| DeviceError::Open {
        device: name.clone(),
        source,
    };
    let stream = quietly(|| {
        let _priority = RaisedPriority::new();
        let stream = device
            .build_output_stream::<f32, _, _>(stream_config, data_callback, error_callback, None)
            .map_err(open_err)?;
        stream.play().map_err(open_err)?;
        Ok(stream)
    })?;
    Ok((
        CpalOutput {
            stream,
            name: name.clone(),
            sample_rate: config.sample_rate,
            channels: config.channels,
            stats,
            timestamps: source,
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
    let stream = quietly(|| {
        let _priority = RaisedPriority::new();
        let stream = device
            .build_input_stream::<f32, _, _>(stream_config, data_callback, |_err| {}, None)
            .map_err(open_err)?;
        stream.play().map_err(open_err)?;
        Ok(stream)
    })?;
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
    fn the_callback_phase_ignores_jitter_and_reanchors_after_a_jump() {
        // 48 kHz, 480-frame callbacks every 10 ms, woken 0-3 ms late in a repeating pattern.
        let mut line = CallbackClock::new(48_000, 512);
        let latency = 512.0 * 1e9 / 48_000.0;
        let late = [0.0, 3e6, 1e6, 2e6];
        let mut out = Vec::new();
        for k in 0..1000 {
            let callback = 5e9 + k as f64 * 10e6 + late[k % 4];
            out.push(line.update(callback as i64, 480));
        }
        // Buffer k plays at 5 s + 10 ms·k (the callbacks that were not late) + the buffer's
        // length, within a few tens of microseconds: the lateness is ignored.
        for (k, &p) in out.iter().enumerate().skip(4) {
            let want = 5e9 + k as f64 * 10e6 + latency;
            assert!((p as f64 - want).abs() < 50e3, "buffer {k}: {p} vs {want}");
        }
        // The first callbacks of a stream come late (its start) and then back to back (its
        // buffer filling): the envelope takes the steady pace as soon as it shows.
        // (As measured through the PulseAudio plugin: 341-frame callbacks at 5.53, 5.63 and
        // 7.78 ms, then every 7.1 ms.)
        let mut start = CallbackClock::new(48_000, 512);
        start.update(5_526_000, 341);
        start.update(5_633_000, 341);
        let steady = start.update(7_777_000, 341);
        assert!((steady as f64 - (7.777e6 + latency)).abs() < 1.0);
        let next = start.update(7_777_000 + 7_104_167, 341);
        assert!((next as f64 - (7.777e6 + 7.104167e6 + latency)).abs() < 10.0);
        // A 200 ms hole (an underrun nobody reported): three callbacks later the line jumps.
        for k in 1000..1400 {
            let callback = 5e9 + k as f64 * 10e6 + 200e6 + late[k % 4];
            out.push(line.update(callback as i64, 480));
        }
        let k = 1399;
        let want = 5e9 + k as f64 * 10e6 + 200e6 + latency;
        assert!((out[k] as f64 - want).abs() < 50e3, "{} vs {want}", out[k]);
    }

    #[test]
    fn sound_servers_are_timed_by_the_callback_phase() {
        assert_eq!(
            TimestampSource::for_device("pulse"),
            TimestampSource::CallbackPhase
        );
        assert_eq!(
            TimestampSource::for_device("hw:CARD=PCH,DEV=0"),
            TimestampSource::DeviceDelay
        );
    }

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
