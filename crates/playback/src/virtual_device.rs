//! A virtual audio device that runs the same [`Renderer`] as a real one, with no sound card.
//!
//! Buffer `k` is "called back" at `origin + k·buffer_frames/rate` and its first frame is
//! "played" `latency` later (about one buffer by default). The latency is a whole number of
//! frames whose duration is a whole number of nanoseconds (a multiple of 6 frames at 48 kHz),
//! so every device timestamp is exact and a test can check onsets to the sample. Two ways to
//! drive it:
//!
//! - **Virtual time** ([`VirtualDevice::render_until`], [`VirtualDevice::render_buffers`]): the
//!   caller decides when time passes; the device moves the shared [`VirtualClock`] forward to each
//!   callback instant (never back), so a session, the audio device and a virtual display agree
//!   on "now" and run faster than real time, deterministically.
//! - **Real time** ([`VirtualDevice::spawn_paced`]): a thread renders each buffer when the
//!   monotonic clock reaches its callback instant, like a sound card would.
//!
//! What was played can be kept ([`VirtualDevice::record`]) and written to a WAV file.
//!
//! ```
//! use std::sync::Arc;
//! use cuelab_core::SessionTime;
//! use cuelab_playback::clock::VirtualClock;
//! use cuelab_playback::engine::{EngineConfig, Event};
//! use cuelab_playback::sound::Sound;
//! use cuelab_playback::virtual_device::VirtualDevice;
//!
//! let clock = VirtualClock::new();
//! let mut config = EngineConfig::new(48_000, 2);
//! config.buffer_frames = 256;
//! let (mut device, mut engine) = VirtualDevice::new(&config, clock.clone());
//! device.record(true);
//!
//! // Preload (decode) a sound, then schedule it at t = 100 ms at -6 dB.
//! let tone = Arc::new(Sound::from_interleaved(48_000, 1, vec![0.5; 4800]).unwrap());
//! let voice = engine.start(&tone, SessionTime::from_millis(100), -6.0).unwrap();
//!
//! // Advance virtual time by 300 ms: every buffer due by then is rendered.
//! device.render_until(SessionTime::from_millis(300));
//! assert!(clock.now() >= SessionTime::from_millis(290));
//!
//! while let Some(event) = engine.next_event() {
//!     if let Event::Started { voice: v, onset, frame, .. } = event {
//!         assert_eq!(v, voice);
//!         assert_eq!(onset, SessionTime::from_millis(100)); // measured, exact on this device
//!         // Device frame: playback lags callbacks by the latency, 258 frames here.
//!         assert_eq!(frame.0, 4800 - 258);
//!     }
//! }
//! # use cuelab_playback::clock::Clock;
//! ```

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use cuelab_core::{Frames, SessionTime};

use crate::clock::{Clock, MonotonicClock, VirtualClock};
use crate::engine::{Engine, EngineConfig, Renderer, engine};

/// Why the virtual device could not write what it played.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VirtualDeviceError {
    /// Writing the WAV file failed.
    #[error("writing {path}: {source}")]
    Wav {
        /// The file.
        path: String,
        /// What went wrong.
        source: hound::Error,
    },
}

/// A virtual output device. See the module docs.
#[derive(Debug)]
pub struct VirtualDevice {
    renderer: Renderer,
    clock: VirtualClock,
    rate: u32,
    channels: usize,
    buffer: Vec<f32>,
    buffers_done: i64,
    origin: SessionTime,
    latency: SessionTime,
    recording: Option<Vec<f32>>,
}

impl VirtualDevice {
    /// A device whose buffer 0 is called back at the clock's current time, with about one
    /// buffer of output latency (see [`Self::set_latency`]).
    pub fn new(config: &EngineConfig, clock: VirtualClock) -> (VirtualDevice, Engine) {
        let (control, renderer) = engine(config);
        let frames = config.buffer_frames.max(1) as usize;
        let channels = usize::from(config.channels);
        let device = VirtualDevice {
            renderer,
            origin: clock.now(),
            clock,
            rate: config.sample_rate,
            channels,
            buffer: vec![0.0; frames * channels],
            buffers_done: 0,
            latency: exact_latency(Frames(frames as i64), config.sample_rate),
            recording: None,
        };
        (device, control)
    }

    /// Sets the output latency (time from a buffer's callback to its first frame being played)
    /// to `frames`, rounded up to the next frame count with an exact duration in nanoseconds.
    pub fn set_latency(&mut self, frames: Frames) {
        self.latency = exact_latency(frames, self.rate);
    }

    /// The output latency.
    pub fn latency(&self) -> SessionTime {
        self.latency
    }

    /// Frames per buffer.
    pub fn buffer_frames(&self) -> usize {
        self.buffer.len() / self.channels
    }

    /// Keeps (or stops keeping) every rendered sample in memory, for [`Self::recorded`] and
    /// [`Self::write_wav`].
    pub fn record(&mut self, on: bool) {
        match (on, self.recording.is_some()) {
            (true, false) => self.recording = Some(Vec::new()),
            (false, true) => self.recording = None,
            _ => {}
        }
    }

    /// Everything rendered since recording was switched on (interleaved); device frame
    /// `recording_start + i` is sample frame `i`.
    pub fn recorded(&self) -> &[f32] {
        self.recording.as_deref().unwrap_or(&[])
    }

    /// The last rendered buffer.
    pub fn last_buffer(&self) -> &[f32] {
        &self.buffer
    }

    /// Session time of the callback for the next buffer.
    pub fn next_callback(&self) -> SessionTime {
        let frames = Frames(self.buffers_done * self.buffer_frames() as i64);
        self.origin + frames.to_session_time(self.rate)
    }

    /// Renders `n` buffers, moving the clock to each one's callback instant.
    pub fn render_buffers(&mut self, n: usize) {
        for _ in 0..n {
            let callback = self.clock.advance_to(self.next_callback());
            let _ = callback;
            self.render_next();
        }
    }

    /// Renders every buffer whose callback instant is at or before `t`; the clock ends at `t`
    /// (or later, if it already was).
    pub fn render_until(&mut self, t: SessionTime) {
        while self.next_callback() <= t {
            self.clock.advance_to(self.next_callback());
            self.render_next();
        }
        self.clock.advance_to(t);
    }

    fn render_next(&mut self) {
        let callback = self.next_callback();
        let playback = callback + self.latency;
        self.renderer.render(&mut self.buffer, playback, callback);
        self.buffers_done += 1;
        if let Some(rec) = self.recording.as_mut() {
            rec.extend_from_slice(&self.buffer);
        }
    }

    /// Writes what was recorded to a 32-bit float WAV file.
    pub fn write_wav(&self, path: &Path) -> Result<(), VirtualDeviceError> {
        let err = |source| VirtualDeviceError::Wav {
            path: path.display().to_string(),
            source,
        };
        let spec = hound::WavSpec {
            channels: self.channels as u16,
            sample_rate: self.rate,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let mut writer = hound::WavWriter::create(path, spec).map_err(err)?;
        for &s in self.recorded() {
            writer.write_sample(s).map_err(err)?;
        }
        writer.finalize().map_err(err)
    }

    /// Runs the device in real time on its own thread: buffer `k` is rendered when `clock`
    /// reaches its callback instant (counted from the clock's current time). Stop it with
    /// [`PacedDevice::stop`], which gives the device back (with its recording).
    pub fn spawn_paced(mut self, clock: MonotonicClock) -> PacedDevice {
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = Arc::clone(&stop);
        self.origin = clock.now();
        self.buffers_done = 0;
        let thread = std::thread::spawn(move || {
            while !stop_flag.load(Ordering::Acquire) {
                let due = self.next_callback();
                let now = clock.now();
                if due > now {
                    std::thread::sleep(std::time::Duration::from_nanos(
                        (due - now).as_nanos() as u64
                    ));
                }
                let callback = self.next_callback();
                let playback = callback + self.latency;
                self.renderer
                    .render(&mut self.buffer, playback, clock.now());
                self.buffers_done += 1;
                if let Some(rec) = self.recording.as_mut() {
                    rec.extend_from_slice(&self.buffer);
                }
            }
            self
        });
        PacedDevice {
            stop,
            thread: Some(thread),
        }
    }
}

/// The smallest frame count at or above `frames` whose duration is a whole number of
/// nanoseconds, as a session time.
fn exact_latency(frames: Frames, rate: u32) -> SessionTime {
    let step = i64::from(rate) / gcd(i64::from(rate), 1_000_000_000);
    let n = (frames.0.max(0) + step - 1) / step * step;
    Frames(n).to_session_time(rate)
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// A virtual device running in real time on its own thread.
#[derive(Debug)]
pub struct PacedDevice {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<VirtualDevice>>,
}

impl PacedDevice {
    /// Stops the thread and returns the device.
    pub fn stop(mut self) -> VirtualDevice {
        self.stop.store(true, Ordering::Release);
        let thread = self.thread.take().expect("thread joined only here");
        match thread.join() {
            Ok(device) => device,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl Drop for PacedDevice {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}
