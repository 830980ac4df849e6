//! The machine check behind `cuelab check`: open an output device, let it settle, play
//! scheduled clicks, and measure callback timing, reported latency and onset error.
//!
//! Onset error is measured, in order of preference:
//! - [`OnsetMethod::Loopback`]: the output is recorded through an input device (on PulseAudio,
//!   the ALSA `pulse` input with the null sink's `.monitor` as default source), each click is
//!   found in the recording and timed on the capture clock (see [`crate::loopback`]). This is
//!   independent of the engine's own bookkeeping.
//! - [`OnsetMethod::DeviceTimestamps`]: the engine's reported onsets (the device timestamp of
//!   each click's first sample) against the scheduled instants. This checks sample placement and
//!   the clock mapping but trusts the device's timestamps.
//! - [`OnsetMethod::VirtualDevice`]: on the virtual device, where timestamps are exact.
//!
//! With a loopback, [`AudioCheckReport::loopback_bias`] pairs every heard click with the
//! engine's device-timestamp onset of the same click: the bias of the audio path, which
//! `cuelab check --calibrate` stores and `cuelab run` adds to every measured onset.

use std::time::Duration;

use cuelab_core::SessionTime;

use crate::clock::{Clock, MonotonicClock, VirtualClock};
use crate::cpal_device::{CaptureBlock, CpalInput, DeviceError, open_input, open_output};
use crate::engine::{CallbackTiming, Engine, EngineConfig, Event};
use crate::loopback::{
    CaptureTimeline, ErrorSummary, click, find_onsets, match_onsets_indexed, summarize,
};
use crate::virtual_device::VirtualDevice;

/// Which device to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioTarget {
    /// The virtual device on a virtual clock.
    Virtual,
    /// A real device by name; `None` for the host's default.
    Device(Option<String>),
}

/// Settings of the check.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioCheckOptions {
    /// Device to check.
    pub target: AudioTarget,
    /// Sample rate to open the device at.
    pub sample_rate: u32,
    /// Buffer size to ask for.
    pub buffer_frames: u32,
    /// Number of clicks to schedule (at least 50 for a meaningful SD).
    pub clicks: usize,
    /// Time to let the stream settle before measuring (PulseAudio stalls 0.6–2 s at start).
    pub warmup: Duration,
    /// How to record the output for the loopback measurement; `None` to skip loopback.
    pub loopback: Option<Loopback>,
}

impl Default for AudioCheckOptions {
    fn default() -> Self {
        Self {
            target: AudioTarget::Device(None),
            sample_rate: 48_000,
            buffer_frames: 128,
            clicks: 60,
            warmup: Duration::from_millis(2500),
            loopback: Some(Loopback::Parec("@DEFAULT_MONITOR@".to_string())),
        }
    }
}

/// Where the loopback recording comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loopback {
    /// PulseAudio's `parec` recording this source (e.g. `cuelab_null.monitor`, or
    /// `@DEFAULT_MONITOR@`). Recording frames are timed by counting at the nominal rate from
    /// the earliest arrival: the monitor of a null sink runs at exactly the nominal rate of
    /// the monotonic clock (47,999.98 frames/s measured over 25 s), while the ALSA pulse
    /// plugin's capture stream through cpal wanders against it by up to ~1 ms/s. The default.
    Parec(String),
    /// A cpal input device (e.g. ALSA `pulse` with the monitor as default source), timed by its
    /// capture timestamps (local straight-line fits).
    CpalInput(String),
}

/// How the onset error was measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnsetMethod {
    /// Clicks found in a recording of the output.
    Loopback,
    /// The engine's device-timestamp onsets against the schedule.
    DeviceTimestamps,
    /// The virtual device (exact timestamps).
    VirtualDevice,
}

impl OnsetMethod {
    /// The name used in reports: `loopback`, `device-timestamps`, `virtual-device`.
    pub fn as_str(self) -> &'static str {
        match self {
            OnsetMethod::Loopback => "loopback",
            OnsetMethod::DeviceTimestamps => "device-timestamps",
            OnsetMethod::VirtualDevice => "virtual-device",
        }
    }
}

/// Mean, SD and maximum of the interval between callbacks.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PeriodStats {
    /// Mean, ms.
    pub mean_ms: f64,
    /// Standard deviation, ms.
    pub sd_ms: f64,
    /// Maximum, ms.
    pub max_ms: f64,
    /// Intervals measured.
    pub n: usize,
}

/// What the check found.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioCheckReport {
    /// Device name.
    pub device: String,
    /// Sample rate of the stream.
    pub sample_rate: u32,
    /// Frames per callback actually delivered (median).
    pub buffer_frames: u32,
    /// Interval between callbacks.
    pub callback_period: PeriodStats,
    /// Mean of (playback − callback) timestamps: the output latency the device reports (with
    /// callback-phase timestamps, the modelled latency: the buffer's length).
    pub reported_latency_ms: f64,
    /// Where playback times came from: `device-delay`, `callback-phase` (see
    /// [`crate::cpal_device::TimestampSource`]), or `virtual`.
    pub timestamps: &'static str,
    /// Onset error (measured − scheduled); median = constant latency, SD and max_abs around it.
    pub onset_error: ErrorSummary,
    /// How the onset error was measured.
    pub method: OnsetMethod,
    /// Onset error from the device timestamps, whatever `method` is.
    pub device_timestamp_error: Option<ErrorSummary>,
    /// The audio path's bias: loopback onset − device-timestamp onset, paired click by click
    /// (so a click the engine placed late, or an underrun that moved a stretch of clicks, moves
    /// both and cancels). What `cuelab check --calibrate` stores; `None` without loopback.
    pub loopback_bias: Option<ErrorSummary>,
    /// Xruns during the measurement (after warm-up).
    pub xruns: u64,
    /// Why loopback was not used, if it was not.
    pub loopback_note: Option<String>,
}

/// Why the check could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AudioCheckError {
    /// The output device could not be opened.
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// The engine refused to schedule a click.
    #[error("scheduling a click: {0}")]
    Engine(#[from] crate::engine::EngineError),
    /// No click produced a start event (the device is not calling back).
    #[error("no scheduled click was played; the device is not calling back")]
    NothingPlayed,
}

/// What the parec reader thread collects: samples, and (arrival time, samples so far) per chunk.
type ParecData = (Vec<f32>, Vec<(SessionTime, u64)>);

/// A loopback recording in progress.
enum Recorder {
    Parec {
        child: std::process::Child,
        reader: std::thread::JoinHandle<ParecData>,
        rate: u32,
    },
    Cpal {
        input: CpalInput,
        samples: Vec<f32>,
        blocks: Vec<CaptureBlock>,
    },
}

/// A finished loopback recording and how to time its frames.
struct Recording {
    samples: Vec<f32>,
    timing: RecordingTiming,
}

enum RecordingTiming {
    /// Frame `f` was captured at `origin + f / rate`.
    Counted { origin_ns: f64, ns_per_frame: f64 },
    /// Capture timestamps per block.
    Blocks(CaptureTimeline),
}

impl Recording {
    fn time_of(&self, frame: u64) -> Option<f64> {
        match &self.timing {
            RecordingTiming::Counted {
                origin_ns,
                ns_per_frame,
            } => Some(origin_ns + frame as f64 * ns_per_frame),
            RecordingTiming::Blocks(timeline) => timeline.time_of(frame),
        }
    }
}

impl Recorder {
    fn start(source: &Loopback, rate: u32, clock: MonotonicClock) -> Result<Recorder, String> {
        match source {
            Loopback::CpalInput(name) => open_input(Some(name), rate, 1, 60, clock)
                .map(|input| Recorder::Cpal {
                    input,
                    samples: Vec::new(),
                    blocks: Vec::new(),
                })
                .map_err(|e| e.to_string()),
            Loopback::Parec(source) => {
                use std::io::Read;
                let mut child = std::process::Command::new("parec")
                    .args([
                        "-d",
                        source,
                        "--channels=1",
                        "--format=float32le",
                        "--latency-msec=10",
                    ])
                    .arg(format!("--rate={rate}"))
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .map_err(|e| format!("cannot run parec: {e}"))?;
                let mut out = child.stdout.take().ok_or("parec has no stdout")?;
                // A reader thread notes when each chunk arrives, for the time of frame 0.
                let reader = std::thread::spawn(move || {
                    let mut samples = Vec::new();
                    let mut arrivals = Vec::new();
                    let mut buf = vec![0u8; 16_384];
                    let mut pending: Vec<u8> = Vec::new();
                    while let Ok(n) = out.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        let now = clock.now();
                        pending.extend_from_slice(&buf[..n]);
                        let whole = pending.len() / 4 * 4;
                        samples.extend(
                            pending[..whole]
                                .chunks_exact(4)
                                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                        );
                        pending.drain(..whole);
                        arrivals.push((now, samples.len() as u64));
                    }
                    (samples, arrivals)
                });
                Ok(Recorder::Parec {
                    child,
                    reader,
                    rate,
                })
            }
        }
    }

    /// Moves recorded data out of the cpal input's rings (parec's thread needs nothing).
    fn poll(&mut self) {
        if let Recorder::Cpal {
            input,
            samples,
            blocks,
        } = self
        {
            input.drain(samples, blocks);
        }
    }

    fn finish(self) -> Recording {
        match self {
            Recorder::Cpal {
                mut input,
                mut samples,
                mut blocks,
            } => {
                input.drain(&mut samples, &mut blocks);
                input.stop();
                Recording {
                    samples,
                    timing: RecordingTiming::Blocks(CaptureTimeline::new(&blocks, 64)),
                }
            }
            Recorder::Parec {
                mut child,
                reader,
                rate,
            } => {
                let _ = child.kill();
                let _ = child.wait();
                let (samples, arrivals) = reader.join().unwrap_or_default();
                let ns_per_frame = 1e9 / f64::from(rate);
                // The last frame of a chunk was captured no later than the chunk arrived, so
                // each arrival bounds the time of frame 0 from above; the tightest bound is the
                // one with the shortest delivery delay.
                let origin_ns = arrivals
                    .iter()
                    .map(|(t, n)| t.as_nanos() as f64 - (*n as f64 - 1.0) * ns_per_frame)
                    .fold(f64::INFINITY, f64::min);
                Recording {
                    samples,
                    timing: RecordingTiming::Counted {
                        origin_ns,
                        ns_per_frame,
                    },
                }
            }
        }
    }
}

/// Scheduled instants of the clicks, from `t0`: 100–140 ms apart, with pseudo-random offsets
/// that spread them over buffer positions and sub-frame phases.
fn click_schedule(t0: SessionTime, n: usize) -> Vec<SessionTime> {
    (0..n as u64)
        .map(|i| {
            // A hash of the index, so that no shift of the click train lines up with itself
            // (which would let the loopback matching pair clicks with the wrong onsets).
            let mut h = i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            h ^= h >> 31;
            h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
            h ^= h >> 29;
            let jitter_us = (h % 40_000) as i64; // 0–40 ms
            let phase_ns = ((h >> 20) % 20_833) as i64; // within one frame at 48 kHz
            t0 + SessionTime::from_millis(100 * i as i64)
                + SessionTime::from_micros(jitter_us)
                + SessionTime(phase_ns)
        })
        .collect()
}

fn period_stats(timings: &[CallbackTiming]) -> PeriodStats {
    let periods: Vec<f64> = timings
        .windows(2)
        .map(|w| (w[1].callback - w[0].callback).as_millis_f64())
        .collect();
    if periods.is_empty() {
        return PeriodStats::default();
    }
    let n = periods.len() as f64;
    let mean = periods.iter().sum::<f64>() / n;
    let sd = if periods.len() > 1 {
        (periods.iter().map(|p| (p - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    PeriodStats {
        mean_ms: mean,
        sd_ms: sd,
        max_ms: periods.iter().copied().fold(0.0, f64::max),
        n: periods.len(),
    }
}

fn median_frames(timings: &[CallbackTiming]) -> u32 {
    let mut frames: Vec<u32> = timings.iter().map(|t| t.frames).collect();
    frames.sort_unstable();
    frames.get(frames.len() / 2).copied().unwrap_or(0)
}

fn reported_latency_ms(timings: &[CallbackTiming]) -> f64 {
    if timings.is_empty() {
        return 0.0;
    }
    timings
        .iter()
        .map(|t| (t.playback - t.callback).as_millis_f64())
        .sum::<f64>()
        / timings.len() as f64
}

/// Collects start events into `(scheduled, onset)` pairs.
fn collect_starts(engine: &mut Engine, starts: &mut Vec<(SessionTime, SessionTime)>) {
    while let Some(event) = engine.next_event() {
        if let Event::Started {
            scheduled, onset, ..
        } = event
        {
            starts.push((scheduled, onset));
        }
    }
}

fn timestamp_errors(starts: &[(SessionTime, SessionTime)]) -> Vec<f64> {
    starts
        .iter()
        .map(|(s, o)| (*o - *s).as_nanos() as f64)
        .collect()
}

/// Runs the check. `status` receives short progress messages.
pub fn run(
    options: &AudioCheckOptions,
    status: &mut dyn FnMut(&str),
) -> Result<AudioCheckReport, AudioCheckError> {
    match &options.target {
        AudioTarget::Virtual => run_virtual(options),
        AudioTarget::Device(name) => run_device(name.as_deref(), options, status),
    }
}

fn run_virtual(options: &AudioCheckOptions) -> Result<AudioCheckReport, AudioCheckError> {
    let clock = VirtualClock::new();
    let mut config = EngineConfig::new(options.sample_rate, 2);
    config.buffer_frames = options.buffer_frames;
    let (mut device, mut engine) = VirtualDevice::new(&config, clock.clone());
    let sound = std::sync::Arc::new(click(options.sample_rate));
    let schedule = click_schedule(SessionTime::from_millis(200), options.clicks);
    let mut starts = Vec::new();
    let mut timings = Vec::new();
    for at in &schedule {
        engine.start(&sound, *at, 0.0)?;
        device.render_until(*at + SessionTime::from_millis(50));
        collect_starts(&mut engine, &mut starts);
        engine.drain_timings(&mut timings);
    }
    device.render_until(clock.now() + SessionTime::from_millis(100));
    collect_starts(&mut engine, &mut starts);
    engine.drain_timings(&mut timings);
    let errors = timestamp_errors(&starts);
    let summary = summarize(&errors).ok_or(AudioCheckError::NothingPlayed)?;
    Ok(AudioCheckReport {
        device: "virtual".to_string(),
        sample_rate: options.sample_rate,
        buffer_frames: median_frames(&timings),
        callback_period: period_stats(&timings),
        reported_latency_ms: reported_latency_ms(&timings),
        timestamps: "virtual",
        onset_error: summary,
        method: OnsetMethod::VirtualDevice,
        device_timestamp_error: Some(summary),
        loopback_bias: None,
        xruns: engine.stats().xruns(),
        loopback_note: Some("virtual device: no loopback".to_string()),
    })
}

fn run_device(
    name: Option<&str>,
    options: &AudioCheckOptions,
    status: &mut dyn FnMut(&str),
) -> Result<AudioCheckReport, AudioCheckError> {
    let clock = MonotonicClock::start_now();
    let mut config = EngineConfig::new(options.sample_rate, 2);
    config.buffer_frames = options.buffer_frames;
    let (output, mut engine) = open_output(name, &config, clock)?;
    status(&format!("opened output {}", output.name()));

    let mut loopback_note = None;
    let mut recorder = match &options.loopback {
        Some(source) => match Recorder::start(source, options.sample_rate, clock) {
            Ok(r) => {
                status(&format!("recording loopback from {source:?}"));
                Some(r)
            }
            Err(e) => {
                loopback_note = Some(format!("loopback recording unavailable: {e}"));
                None
            }
        },
        None => {
            loopback_note = Some("loopback not requested".to_string());
            None
        }
    };

    // Warm-up: let the stream settle, then forget what happened during it.
    status("letting the stream settle");
    std::thread::sleep(options.warmup);
    let mut discard_timings = Vec::new();
    engine.drain_timings(&mut discard_timings);
    let mut ignore = Vec::new();
    collect_starts(&mut engine, &mut ignore);
    let xruns_before = output.stats().xruns();

    // Play the clicks, scheduling each 200–300 ms ahead.
    status(&format!("playing {} scheduled clicks", options.clicks));
    let sound = std::sync::Arc::new(click(options.sample_rate));
    let schedule = click_schedule(clock.now() + SessionTime::from_millis(300), options.clicks);
    let mut starts = Vec::new();
    let mut timings = Vec::new();
    let mut next = 0;
    let end = *schedule.last().expect("at least one click") + SessionTime::from_millis(500);
    while clock.now() < end {
        while next < schedule.len() && schedule[next] < clock.now() + SessionTime::from_millis(300)
        {
            engine.start(&sound, schedule[next], 0.0)?;
            next += 1;
        }
        collect_starts(&mut engine, &mut starts);
        engine.drain_timings(&mut timings);
        if let Some(r) = recorder.as_mut() {
            r.poll();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    collect_starts(&mut engine, &mut starts);
    engine.drain_timings(&mut timings);
    let xruns = output.stats().xruns() - xruns_before;
    if starts.is_empty() {
        return Err(AudioCheckError::NothingPlayed);
    }
    let device_summary = summarize(&timestamp_errors(&starts));

    let mut loopback_summary = None;
    let mut loopback_bias = None;
    if let Some(r) = recorder.take() {
        let recording = r.finish();
        let min_gap = (options.sample_rate / 20) as usize; // 50 ms of quiet
        let onsets = find_onsets(&recording.samples, 0.4, min_gap);
        let measured: Vec<f64> = onsets
            .iter()
            .filter_map(|&f| recording.time_of(f as u64))
            .collect();
        let matched = match_onsets_indexed(
            &schedule,
            &measured,
            (
                SessionTime::from_millis(-150),
                SessionTime::from_millis(500),
            ),
            SessionTime::from_millis(10),
        );
        let errors: Vec<f64> = matched.iter().map(|(_, e)| *e).collect();
        // The bias pairs each heard click with the engine's device-timestamp onset of a
        // click rather than with its scheduled instant: an underrun that shifts a stretch of
        // clicks (and the engine's clock mapping with them) shifts both and cancels, where a
        // single latency against the schedule would lose the clicks after the shift.
        let device_onsets: Vec<SessionTime> = starts.iter().map(|(_, onset)| *onset).collect();
        let paired = match_onsets_indexed(
            &device_onsets,
            &measured,
            (
                SessionTime::from_millis(-150),
                SessionTime::from_millis(150),
            ),
            SessionTime::from_millis(5),
        );
        if paired.len() * 2 >= schedule.len() {
            let biases: Vec<f64> = paired.iter().map(|(_, b)| *b).collect();
            loopback_bias = summarize(&biases);
        }
        if errors.len() * 2 >= schedule.len() {
            loopback_summary = summarize(&errors);
        } else {
            loopback_note = Some(format!(
                "loopback found {} of {} clicks ({} onsets in {} recorded frames)",
                errors.len(),
                schedule.len(),
                onsets.len(),
                recording.samples.len(),
            ));
        }
    }

    let (onset_error, method) = match (loopback_summary, device_summary) {
        (Some(l), _) => (l, OnsetMethod::Loopback),
        (None, Some(d)) => (d, OnsetMethod::DeviceTimestamps),
        (None, None) => return Err(AudioCheckError::NothingPlayed),
    };
    Ok(AudioCheckReport {
        device: output.name().to_string(),
        sample_rate: output.sample_rate(),
        buffer_frames: median_frames(&timings),
        callback_period: period_stats(&timings),
        reported_latency_ms: reported_latency_ms(&timings),
        timestamps: output.timestamps().as_str(),
        onset_error,
        method,
        device_timestamp_error: device_summary,
        loopback_bias,
        xruns,
        loopback_note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_check_reports_exact_timing() {
        let options = AudioCheckOptions {
            target: AudioTarget::Virtual,
            clicks: 50,
            ..AudioCheckOptions::default()
        };
        let report = run(&options, &mut |_| {}).unwrap();
        assert_eq!(report.method, OnsetMethod::VirtualDevice);
        assert_eq!(report.onset_error.n, 50);
        assert_eq!(report.buffer_frames, 128);
        assert!((report.callback_period.mean_ms - 128.0 / 48.0).abs() < 1e-6);
        assert!(report.callback_period.sd_ms < 1e-3);
        // Starts land on the first frame at or after the scheduled instant: error in [0, 1 frame).
        assert!(report.onset_error.median_ms >= 0.0 && report.onset_error.median_ms < 1.0 / 48.0);
        assert!(report.onset_error.max_abs_ms < 1.0 / 48.0);
        assert_eq!(report.xruns, 0);
    }
}
