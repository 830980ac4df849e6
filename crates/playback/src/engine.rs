//! The audio engine: a control handle ([`Engine`]) and a real-time render core ([`Renderer`]).
//!
//! The renderer is plain code over `&mut [f32]`: a device (cpal, or the virtual device) calls
//! [`Renderer::render`] with the output buffer and the session time at which the buffer's first
//! frame will be played. Commands go in and events come out through wait-free `rtrb` ring
//! buffers allocated once in [`engine`]; finished sounds are handed back to the control side
//! through a third ring so the render thread never frees memory. The render path allocates
//! nothing, takes no lock and does no I/O (the `no_alloc` test pins this).
//!
//! Timing: the renderer counts device frames since the stream started and keeps a mapping from
//! device frames to session time, refreshed from every callback's timestamp by a
//! delay-locked loop (exact on the virtual device, smoothed on a real one). A start requested
//! at session instant `t` is placed on the first device frame whose playback time is at or after
//! `t`; the start event reports that frame's playback time measured from the callback's own
//! timestamp (the device timestamp of the voice's first sample), not the requested time.
//!
//! ```
//! use std::sync::Arc;
//! use cuelab_core::SessionTime;
//! use cuelab_playback::engine::{engine, EngineConfig, Event};
//! use cuelab_playback::sound::Sound;
//!
//! let config = EngineConfig::new(48_000, 2);
//! let (mut control, mut renderer) = engine(&config);
//! let click = Arc::new(Sound::from_interleaved(48_000, 1, vec![1.0; 48]).unwrap());
//! let voice = control.start(&click, SessionTime::from_millis(1), 0.0).unwrap();
//!
//! let mut out = vec![0.0f32; 128 * 2];
//! renderer.render(&mut out, SessionTime::ZERO, SessionTime::ZERO); // frames 0..128 play at t = 0
//! // 1 ms at 48 kHz is frame 48: the click starts exactly there, on both channels.
//! assert_eq!(out[47 * 2], 0.0);
//! assert_eq!(out[48 * 2], 1.0);
//! assert_eq!(out[48 * 2 + 1], 1.0);
//! match control.next_event() {
//!     Some(Event::Started { voice: v, frame, .. }) => {
//!         assert_eq!(v, voice);
//!         assert_eq!(frame.0, 48);
//!     }
//!     other => panic!("unexpected {other:?}"),
//! }
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use cuelab_core::{Frames, SessionTime};

use crate::sound::Sound;

/// Engine settings. Build with [`EngineConfig::new`] and adjust the public fields.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    /// Device sample rate in Hz; every sound played must have this rate.
    pub sample_rate: u32,
    /// Output channels (interleaved).
    pub channels: u16,
    /// Requested frames per callback. Low latency by default (128 frames, 2.7 ms at 48 kHz).
    pub buffer_frames: u32,
    /// Voices that may be scheduled or playing at once.
    pub max_voices: usize,
    /// Capacity of the command ring.
    pub command_capacity: usize,
    /// Capacity of the event ring (events beyond it are counted and dropped).
    pub event_capacity: usize,
    /// Capacity of the callback-timing ring used for callback statistics.
    pub timing_capacity: usize,
    /// A jump of the device timestamp larger than this, against the frame count, is counted as
    /// an xrun and re-anchors the frame-to-session mapping.
    pub discontinuity: SessionTime,
}

impl EngineConfig {
    /// Defaults: 128-frame buffers, 32 voices.
    pub fn new(sample_rate: u32, channels: u16) -> Self {
        Self {
            sample_rate,
            channels,
            buffer_frames: 128,
            max_voices: 32,
            command_capacity: 256,
            event_capacity: 1024,
            timing_capacity: 8192,
            discontinuity: SessionTime::from_millis(20),
        }
    }
}

/// Identifies one scheduled playback of a sound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VoiceId(pub u64);

/// What the engine reports.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A voice's first sample was rendered.
    Started {
        /// The voice.
        voice: VoiceId,
        /// Device frame (since the stream started) of the voice's first sample.
        frame: Frames,
        /// Measured onset: the device timestamp of that frame, on the session clock.
        onset: SessionTime,
        /// The instant the start was requested for.
        scheduled: SessionTime,
        /// Frames the start came too late by (0 when it was on time).
        late_frames: i64,
    },
    /// A voice finished (end of sound, or end of its stop fade).
    Ended {
        /// The voice.
        voice: VoiceId,
        /// Device frame just after the voice's last sample.
        frame: Frames,
        /// Device timestamp of that frame on the session clock.
        at: SessionTime,
        /// True if it ended because it was stopped.
        stopped: bool,
    },
    /// The device skipped (underrun/overrun), or its timestamps jumped.
    Xrun {
        /// Device frame of the buffer where it was noticed.
        frame: Frames,
        /// Device timestamp of that buffer on the session clock.
        at: SessionTime,
    },
}

/// One callback's timing, for callback-period statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallbackTiming {
    /// Session time when the callback ran.
    pub callback: SessionTime,
    /// Session time when its first frame will be played.
    pub playback: SessionTime,
    /// Frames rendered in the callback.
    pub frames: u32,
}

/// Why a command was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum EngineError {
    /// The sound's sample rate differs from the engine's; decode it at the device rate.
    #[error("sound is at {sound} Hz but the engine runs at {engine} Hz")]
    RateMismatch {
        /// The sound's rate.
        sound: u32,
        /// The engine's rate.
        engine: u32,
    },
    /// All voices are in use.
    #[error("all {0} voices are in use")]
    NoFreeVoice(usize),
    /// The command ring is full: the device is not running or not keeping up.
    #[error("command queue is full (is the device running?)")]
    QueueFull,
}

/// Counters shared between the render thread and the control side.
#[derive(Debug, Default)]
pub struct EngineStats {
    callbacks: AtomicU64,
    frames: AtomicU64,
    xruns: AtomicU64,
    late_starts: AtomicU64,
    events_dropped: AtomicU64,
    device_errors: AtomicU64,
}

impl EngineStats {
    /// Callbacks rendered so far.
    pub fn callbacks(&self) -> u64 {
        self.callbacks.load(Ordering::Relaxed)
    }
    /// Frames rendered so far.
    pub fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }
    /// Underruns/overruns reported by the device plus timestamp discontinuities.
    pub fn xruns(&self) -> u64 {
        self.xruns.load(Ordering::Relaxed)
    }
    /// Starts that could not be placed on their requested frame because it had passed.
    pub fn late_starts(&self) -> u64 {
        self.late_starts.load(Ordering::Relaxed)
    }
    /// Events dropped because the event ring was full.
    pub fn events_dropped(&self) -> u64 {
        self.events_dropped.load(Ordering::Relaxed)
    }
    /// Errors other than xruns reported by the device's error callback.
    pub fn device_errors(&self) -> u64 {
        self.device_errors.load(Ordering::Relaxed)
    }
    /// Counts a non-xrun error reported by the device's error callback.
    pub fn add_device_error(&self) {
        self.device_errors.fetch_add(1, Ordering::Relaxed);
    }
    /// Counts an xrun reported by the device's error callback (not the render path).
    pub fn add_device_xrun(&self) {
        self.xruns.fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(Debug)]
enum Command {
    Start {
        voice: VoiceId,
        sound: Arc<Sound>,
        at: SessionTime,
        gain: f32,
    },
    Stop {
        voice: VoiceId,
        at: Option<SessionTime>,
        fade_frames: u32,
    },
}

/// Creates a connected control handle and render core. All rings are allocated here, once.
pub fn engine(config: &EngineConfig) -> (Engine, Renderer) {
    let (cmd_tx, cmd_rx) = rtrb::RingBuffer::new(config.command_capacity);
    let (event_tx, event_rx) = rtrb::RingBuffer::new(config.event_capacity);
    let (garbage_tx, garbage_rx) =
        rtrb::RingBuffer::new(config.max_voices + config.command_capacity);
    let (timing_tx, timing_rx) = rtrb::RingBuffer::new(config.timing_capacity);
    let stats = Arc::new(EngineStats::default());
    let control = Engine {
        config: config.clone(),
        cmd_tx,
        event_rx,
        garbage_rx,
        timing_rx,
        stats: Arc::clone(&stats),
        next_voice: 0,
        active: 0,
    };
    let mut voices = Vec::with_capacity(config.max_voices);
    voices.resize_with(config.max_voices, || None);
    let renderer = Renderer {
        rate: config.sample_rate,
        channels: usize::from(config.channels),
        discontinuity_ns: config.discontinuity.as_nanos(),
        cmd_rx,
        event_tx,
        garbage_tx,
        timing_tx,
        stats,
        voices,
        frame: 0,
        mapping: FrameClock::default(),
    };
    (control, renderer)
}

/// The control side: schedules voices, receives events. Lives on a normal thread.
#[derive(Debug)]
pub struct Engine {
    config: EngineConfig,
    cmd_tx: rtrb::Producer<Command>,
    event_rx: rtrb::Consumer<Event>,
    garbage_rx: rtrb::Consumer<Arc<Sound>>,
    timing_rx: rtrb::Consumer<CallbackTiming>,
    stats: Arc<EngineStats>,
    next_voice: u64,
    // Voices sent to the renderer whose `Ended` event has not been received yet. Keeping this
    // at or below `max_voices` guarantees the renderer always has a free slot.
    active: usize,
}

impl Engine {
    /// The configuration the engine was built with.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Shared counters.
    pub fn stats(&self) -> &Arc<EngineStats> {
        &self.stats
    }

    /// Schedules `sound` to start at session instant `at`, scaled by `gain_db`. The engine
    /// places it on the first device frame played at or after `at`; the `Started` event says
    /// which frame and when it was really played.
    pub fn start(
        &mut self,
        sound: &Arc<Sound>,
        at: SessionTime,
        gain_db: f32,
    ) -> Result<VoiceId, EngineError> {
        self.collect();
        if sound.rate() != self.config.sample_rate {
            return Err(EngineError::RateMismatch {
                sound: sound.rate(),
                engine: self.config.sample_rate,
            });
        }
        if self.active >= self.config.max_voices {
            return Err(EngineError::NoFreeVoice(self.config.max_voices));
        }
        let voice = VoiceId(self.next_voice);
        let gain = 10f32.powf(gain_db / 20.0);
        let cmd = Command::Start {
            voice,
            sound: Arc::clone(sound),
            at,
            gain,
        };
        self.cmd_tx.push(cmd).map_err(|_| EngineError::QueueFull)?;
        self.next_voice += 1;
        self.active += 1;
        Ok(voice)
    }

    /// Stops a voice with a linear fade of `fade` length, starting at session instant `at`
    /// (or at the next rendered buffer if `at` is `None`). A voice that has not started yet is
    /// dropped silently and reports `Ended` with `stopped = true`.
    pub fn stop(
        &mut self,
        voice: VoiceId,
        at: Option<SessionTime>,
        fade: SessionTime,
    ) -> Result<(), EngineError> {
        self.collect();
        let fade_frames =
            u32::try_from(fade.to_frames(self.config.sample_rate).0.max(0)).unwrap_or(u32::MAX);
        self.cmd_tx
            .push(Command::Stop {
                voice,
                at,
                fade_frames,
            })
            .map_err(|_| EngineError::QueueFull)
    }

    /// The next event, if any.
    pub fn next_event(&mut self) -> Option<Event> {
        self.collect();
        let event = self.event_rx.pop().ok()?;
        if matches!(event, Event::Ended { .. }) {
            self.active = self.active.saturating_sub(1);
        }
        Some(event)
    }

    /// Moves callback timings recorded since the last call into `out`.
    pub fn drain_timings(&mut self, out: &mut Vec<CallbackTiming>) {
        while let Ok(t) = self.timing_rx.pop() {
            out.push(t);
        }
    }

    /// Frees sounds the renderer has finished with (they are dropped here, off the audio
    /// thread).
    fn collect(&mut self) {
        while let Ok(sound) = self.garbage_rx.pop() {
            drop(sound);
        }
    }
}

/// Maps device frames to session time. Exact integer arithmetic while the device's timestamps
/// agree with the nominal rate (the virtual device); a delay-locked loop that corrects phase and
/// rate when they do not (real devices).
#[derive(Debug, Default, Clone, Copy)]
struct FrameClock {
    initialized: bool,
    anchor_frame: i64,
    anchor_ns: i64,
    // Deviation from the nominal frame period in ns per frame (0 on an exact device).
    drift: f64,
    // Updates since the last (re-)anchoring: the loop starts wide and narrows.
    updates: u32,
    // Consecutive timestamps off by more than the discontinuity threshold.
    outliers: u32,
}

/// Bandwidth of the delay-locked loop once settled, in Hz. Device timestamps through a sound
/// server jitter by milliseconds and wander for seconds, while a sound card's true rate is
/// steady (within ~100 ppm of nominal): so the loop averages over tens of seconds. It starts as
/// a running average (phase gain 1/n) and narrows to this; critically damped (rate gain
/// = phase gain² / 2).
const DLL_BANDWIDTH_HZ: f64 = 0.05;
/// A timestamp jump must persist for this many callbacks to count as a discontinuity; single
/// outliers (a late callback, a server hiccup) are ignored.
const DISCONTINUITY_CALLBACKS: u32 = 3;

impl FrameClock {
    fn time_of(&self, frame: i64, rate: u32) -> i64 {
        let df = frame - self.anchor_frame;
        self.anchor_ns
            + Frames(df).to_session_time(rate).as_nanos()
            + (df as f64 * self.drift).round() as i64
    }

    /// Nanoseconds from frame `a` to frame `b` on the mapping (exact on an exact device, where
    /// both are whole-nanosecond floors of the true times relative to the anchor).
    fn span(&self, a: i64, b: i64, rate: u32) -> i64 {
        self.time_of(b, rate) - self.time_of(a, rate)
    }

    /// The first frame played at or after `t`.
    fn frame_at(&self, t: i64, rate: u32) -> i64 {
        let rel = t - self.anchor_ns;
        if self.drift == 0.0 {
            return self.anchor_frame + SessionTime(rel).to_frames(rate).0;
        }
        let period = 1e9 / f64::from(rate) + self.drift;
        // A start within 1 ns after a frame's time counts as on that frame: timestamps are
        // whole nanoseconds, so float rounding cannot move a start that lies on a frame.
        self.anchor_frame + ((rel - 1) as f64 / period).ceil() as i64
    }

    /// Takes the measured playback time of `frame`; returns true on a discontinuity.
    fn update(&mut self, frame: i64, measured_ns: i64, rate: u32, discontinuity_ns: i64) -> bool {
        if !self.initialized {
            *self = FrameClock {
                initialized: true,
                anchor_frame: frame,
                anchor_ns: measured_ns,
                ..FrameClock::default()
            };
            return false;
        }
        let predicted = self.time_of(frame, rate);
        let err = measured_ns - predicted;
        // Timestamps are whole nanoseconds, so a 1 ns disagreement is rounding, not drift.
        if err.abs() <= 1 {
            self.outliers = 0;
            return false;
        }
        if err.abs() > discontinuity_ns {
            self.outliers += 1;
            if self.outliers < DISCONTINUITY_CALLBACKS {
                return false;
            }
            *self = FrameClock {
                initialized: true,
                anchor_frame: frame,
                anchor_ns: measured_ns,
                ..FrameClock::default()
            };
            return true;
        }
        self.outliers = 0;
        self.updates = self.updates.saturating_add(1);
        let df = (frame - self.anchor_frame).max(1) as f64;
        let omega = 2.0 * std::f64::consts::PI * DLL_BANDWIDTH_HZ * df / f64::from(rate);
        let phase_gain = (1.0 / f64::from(self.updates + 1)).max(std::f64::consts::SQRT_2 * omega);
        let rate_gain = phase_gain * phase_gain / 2.0;
        let nominal = 1e9 / f64::from(rate);
        self.drift =
            (self.drift + rate_gain * err as f64 / df).clamp(-nominal * 0.01, nominal * 0.01);
        self.anchor_ns = predicted + (phase_gain * err as f64).round() as i64;
        self.anchor_frame = frame;
        false
    }
}

#[derive(Debug)]
struct Voice {
    id: VoiceId,
    sound: Arc<Sound>,
    gain: f32,
    scheduled: SessionTime,
    // Device frame of the first sample; `None` until the command has been placed.
    start: i64,
    late_frames: i64,
    reported: bool,
    stop_at: i64,
    fade_frames: i64,
    // Set when the voice finished but its sound could not be handed back yet.
    finished: bool,
}

/// The real-time render core. Owned by the device's audio thread.
#[derive(Debug)]
pub struct Renderer {
    rate: u32,
    channels: usize,
    discontinuity_ns: i64,
    cmd_rx: rtrb::Consumer<Command>,
    event_tx: rtrb::Producer<Event>,
    garbage_tx: rtrb::Producer<Arc<Sound>>,
    timing_tx: rtrb::Producer<CallbackTiming>,
    stats: Arc<EngineStats>,
    voices: Vec<Option<Voice>>,
    frame: i64,
    mapping: FrameClock,
}

impl Renderer {
    /// Device frames rendered so far (the device frame of the next buffer's first sample).
    pub fn frame(&self) -> Frames {
        Frames(self.frame)
    }

    /// Output channels.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Shared counters.
    pub fn stats(&self) -> &Arc<EngineStats> {
        &self.stats
    }

    /// Records an xrun reported by the device (e.g. from its error callback). Real-time safe.
    pub fn note_xrun(&mut self) {
        self.stats.xruns.fetch_add(1, Ordering::Relaxed);
        let at = SessionTime(self.mapping.time_of(self.frame, self.rate));
        self.emit(Event::Xrun {
            frame: Frames(self.frame),
            at,
        });
    }

    /// Renders the next buffer. `out` is interleaved (`channels` samples per frame) and is
    /// overwritten; `playback` is the session time at which its first frame will be played;
    /// `callback` is the session time now (for callback statistics).
    ///
    /// Real-time safe: no allocation, no lock, no I/O.
    pub fn render(&mut self, out: &mut [f32], playback: SessionTime, callback: SessionTime) {
        out.fill(0.0);
        let n_frames = out.len() / self.channels;
        let buf_start = self.frame;
        let p = playback.as_nanos();
        if self
            .mapping
            .update(buf_start, p, self.rate, self.discontinuity_ns)
        {
            self.stats.xruns.fetch_add(1, Ordering::Relaxed);
            self.emit(Event::Xrun {
                frame: Frames(buf_start),
                at: playback,
            });
        }
        let _ = self.timing_tx.push(CallbackTiming {
            callback,
            playback,
            frames: n_frames as u32,
        });
        self.drain_commands(buf_start);

        let buf_end = buf_start + n_frames as i64;
        for slot_idx in 0..self.voices.len() {
            let Some(voice) = self.voices[slot_idx].as_mut() else {
                continue;
            };
            if voice.finished {
                self.retire(slot_idx);
                continue;
            }
            if voice.start >= buf_end {
                continue;
            }
            if !voice.reported {
                voice.reported = true;
                let onset = p + self.mapping.span(buf_start, voice.start, self.rate);
                let ev = Event::Started {
                    voice: voice.id,
                    frame: Frames(voice.start),
                    onset: SessionTime(onset),
                    scheduled: voice.scheduled,
                    late_frames: voice.late_frames,
                };
                Self::emit_to(&mut self.event_tx, &self.stats, ev);
            }
            let end = mix_voice(voice, out, self.channels, buf_start);
            if let Some((end_frame, stopped)) = end {
                let at = p + self.mapping.span(buf_start, end_frame, self.rate);
                let ev = Event::Ended {
                    voice: voice.id,
                    frame: Frames(end_frame),
                    at: SessionTime(at),
                    stopped,
                };
                Self::emit_to(&mut self.event_tx, &self.stats, ev);
                voice.finished = true;
                self.retire(slot_idx);
            }
        }
        self.frame = buf_end;
        self.stats.callbacks.fetch_add(1, Ordering::Relaxed);
        self.stats
            .frames
            .fetch_add(n_frames as u64, Ordering::Relaxed);
    }

    fn drain_commands(&mut self, buf_start: i64) {
        while let Ok(cmd) = self.cmd_rx.pop() {
            match cmd {
                Command::Start {
                    voice,
                    sound,
                    at,
                    gain,
                } => {
                    let target = self.mapping.frame_at(at.as_nanos(), self.rate);
                    let (start, late_frames) = if target < buf_start {
                        (buf_start, buf_start - target)
                    } else {
                        (target, 0)
                    };
                    if late_frames > 0 {
                        self.stats.late_starts.fetch_add(1, Ordering::Relaxed);
                    }
                    let new = Voice {
                        id: voice,
                        sound,
                        gain,
                        scheduled: at,
                        start,
                        late_frames,
                        reported: false,
                        stop_at: i64::MAX,
                        fade_frames: 0,
                        finished: false,
                    };
                    // The control side never has more than `max_voices` outstanding, so a free
                    // slot exists; if it somehow does not, the sound goes back unplayed.
                    match self.voices.iter_mut().find(|v| v.is_none()) {
                        Some(slot) => *slot = Some(new),
                        None => {
                            let id = new.id;
                            let _ = self.garbage_tx.push(new.sound);
                            let at = SessionTime(self.mapping.time_of(buf_start, self.rate));
                            self.emit(Event::Ended {
                                voice: id,
                                frame: Frames(buf_start),
                                at,
                                stopped: true,
                            });
                        }
                    }
                }
                Command::Stop {
                    voice,
                    at,
                    fade_frames,
                } => {
                    let stop_at = match at {
                        Some(t) => self
                            .mapping
                            .frame_at(t.as_nanos(), self.rate)
                            .max(buf_start),
                        None => buf_start,
                    };
                    if let Some(v) = self.voices.iter_mut().flatten().find(|v| v.id == voice) {
                        if v.start >= stop_at {
                            // Never started: end it without playing anything.
                            v.start = stop_at;
                            v.reported = true;
                            v.stop_at = stop_at;
                            v.fade_frames = 0;
                        } else if stop_at < v.stop_at {
                            v.stop_at = stop_at;
                            v.fade_frames = i64::from(fade_frames);
                        }
                    }
                }
            }
        }
    }

    /// Hands a finished voice's sound back to the control side; keeps it if the ring is full.
    fn retire(&mut self, slot_idx: usize) {
        if self.garbage_tx.is_full() {
            return;
        }
        if let Some(voice) = self.voices[slot_idx].take() {
            // Cannot fail: checked for room above, and this is the only producer.
            let _ = self.garbage_tx.push(voice.sound);
        }
    }

    fn emit(&mut self, event: Event) {
        Self::emit_to(&mut self.event_tx, &self.stats, event);
    }

    fn emit_to(tx: &mut rtrb::Producer<Event>, stats: &EngineStats, event: Event) {
        if tx.push(event).is_err() {
            stats.events_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Mixes one voice into `out`. Returns `Some((end_frame, stopped))` when the voice finished in
/// this buffer.
fn mix_voice(
    voice: &Voice,
    out: &mut [f32],
    channels: usize,
    buf_start: i64,
) -> Option<(i64, bool)> {
    let n_frames = (out.len() / channels) as i64;
    let samples = voice.sound.samples();
    let src_channels = usize::from(voice.sound.channels());
    let len = voice.sound.frames().0;
    let first = (voice.start - buf_start).max(0);
    let stop_end = voice.stop_at.saturating_add(voice.fade_frames);
    // The frames of this buffer the voice plays (relative to the buffer): from `first` to the
    // sound's end, the fade's end or the buffer's end, whichever comes first.
    let end_abs = (buf_start + n_frames)
        .min(voice.start.saturating_add(len))
        .min(stop_end);
    let last = (end_abs - buf_start).max(first);
    // Before `stop_at` the gain is constant: mix that span in one pass; the fade frame by frame.
    let fade_from = voice.stop_at.saturating_sub(buf_start).clamp(first, last);
    let src0 = (buf_start + first - voice.start) as usize;
    let span = (fade_from - first) as usize;
    let out_span = &mut out[first as usize * channels..fade_from as usize * channels];
    let g = voice.gain;
    if src_channels == channels {
        let src = &samples[src0 * channels..(src0 + span) * channels];
        for (o, s) in out_span.iter_mut().zip(src) {
            *o += s * g;
        }
    } else if src_channels == 1 {
        let src = &samples[src0..src0 + span];
        for (frame_out, s) in out_span.chunks_exact_mut(channels).zip(src) {
            let v = s * g;
            for o in frame_out {
                *o += v;
            }
        }
    } else {
        for (k, frame_out) in out_span.chunks_exact_mut(channels).enumerate() {
            let base = (src0 + k) * src_channels;
            for (c, o) in frame_out.iter_mut().enumerate() {
                *o += samples[base + c % src_channels] * g;
            }
        }
    }
    for j in fade_from..last {
        let abs = buf_start + j;
        let src = (abs - voice.start) as usize;
        let k = abs - voice.stop_at;
        let g = voice.gain * (1.0 - (k as f32 + 1.0) / (voice.fade_frames as f32 + 1.0));
        let frame_out = &mut out[j as usize * channels..(j as usize + 1) * channels];
        let base = src * src_channels;
        for (c, o) in frame_out.iter_mut().enumerate() {
            *o += samples[base + c % src_channels] * g;
        }
    }
    if last < n_frames {
        // The voice ended inside this buffer: stopped (its fade is over) or played out.
        let abs = buf_start + last;
        return Some((abs, abs >= stop_end));
    }
    let end_in_buffer = buf_start + n_frames;
    if end_in_buffer >= stop_end {
        return Some((end_in_buffer, true));
    }
    if end_in_buffer - voice.start >= len {
        return Some((end_in_buffer, false));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(len: usize) -> Arc<Sound> {
        Arc::new(Sound::from_interleaved(48_000, 1, (1..=len).map(|i| i as f32).collect()).unwrap())
    }

    #[test]
    fn voice_spanning_buffers_is_continuous_and_ends_once() {
        let (mut control, mut r) = engine(&EngineConfig::new(48_000, 1));
        let voice = control
            .start(&ramp(100), Frames(60).to_session_time(48_000), 0.0)
            .unwrap();
        let mut rendered = Vec::new();
        let mut buf = [0f32; 64];
        for k in 0..4 {
            let t = Frames(k * 64).to_session_time(48_000);
            r.render(&mut buf, t, t);
            rendered.extend_from_slice(&buf);
        }
        assert!(rendered[..60].iter().all(|&s| s == 0.0));
        let expected: Vec<f32> = (1..=100).map(|i| i as f32).collect();
        assert_eq!(&rendered[60..160], &expected[..]);
        assert!(rendered[160..].iter().all(|&s| s == 0.0));
        let events: Vec<Event> = std::iter::from_fn(|| control.next_event()).collect();
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(
            matches!(events[0], Event::Started { voice: v, frame: Frames(60), late_frames: 0, .. } if v == voice)
        );
        assert!(
            matches!(events[1], Event::Ended { voice: v, frame: Frames(160), stopped: false, .. } if v == voice)
        );
    }

    #[test]
    fn stop_fades_linearly_to_silence() {
        let (mut control, mut r) = engine(&EngineConfig::new(48_000, 1));
        let dc = Arc::new(Sound::from_interleaved(48_000, 1, vec![1.0; 1000]).unwrap());
        let voice = control.start(&dc, SessionTime::ZERO, 0.0).unwrap();
        let mut buf = [0f32; 64];
        r.render(&mut buf, SessionTime::ZERO, SessionTime::ZERO);
        control
            .stop(voice, None, Frames(3).to_session_time(48_000))
            .unwrap();
        let t = Frames(64).to_session_time(48_000);
        r.render(&mut buf, t, t);
        assert_eq!(&buf[..4], &[0.75, 0.5, 0.25, 0.0]);
        assert!(buf[4..].iter().all(|&s| s == 0.0));
    }

    #[test]
    fn late_start_begins_at_the_buffer_and_says_how_late() {
        let (mut control, mut r) = engine(&EngineConfig::new(48_000, 1));
        let mut buf = [0f32; 64];
        r.render(&mut buf, SessionTime::ZERO, SessionTime::ZERO);
        control
            .start(&ramp(10), Frames(10).to_session_time(48_000), 0.0)
            .unwrap();
        let t = Frames(64).to_session_time(48_000);
        r.render(&mut buf, t, t);
        assert_eq!(buf[0], 1.0);
        assert!(matches!(
            control.next_event(),
            Some(Event::Started {
                frame: Frames(64),
                late_frames: 54,
                ..
            })
        ));
        assert_eq!(r.stats().late_starts(), 1);
    }

    #[test]
    fn timestamp_jump_counts_an_xrun() {
        let (mut control, mut r) = engine(&EngineConfig::new(48_000, 1));
        let mut buf = [0f32; 64];
        r.render(&mut buf, SessionTime::ZERO, SessionTime::ZERO);
        // One late timestamp is an outlier, ignored...
        let jump = SessionTime::from_millis(100);
        r.render(
            &mut buf,
            Frames(64).to_session_time(48_000) + jump,
            SessionTime::ZERO,
        );
        r.render(
            &mut buf,
            Frames(128).to_session_time(48_000),
            SessionTime::ZERO,
        );
        assert_eq!(r.stats().xruns(), 0);
        // ...a jump that persists for three callbacks is a discontinuity.
        for k in 3..6 {
            let t = Frames(k * 64).to_session_time(48_000) + jump;
            r.render(&mut buf, t, t);
        }
        assert_eq!(r.stats().xruns(), 1);
        assert!(matches!(
            control.next_event(),
            Some(Event::Xrun {
                frame: Frames(320),
                ..
            })
        ));
    }

    #[test]
    fn dll_tracks_a_device_running_fast() {
        // A device that plays 48,008 frames per second of session time.
        let mut clock = FrameClock::default();
        let true_period = 1e9 / 48_008.0;
        for k in 0..2000i64 {
            let frame = k * 341;
            clock.update(
                frame,
                (frame as f64 * true_period) as i64,
                48_000,
                20_000_000,
            );
        }
        let frame = 2000 * 341;
        let predicted = clock.time_of(frame, 48_000);
        let truth = (frame as f64 * true_period) as i64;
        assert!(
            (predicted - truth).abs() < 2_000,
            "error {} ns",
            predicted - truth
        );
    }
}
