//! Rigs: the audio engine, a display and the session's stimuli put together as one
//! [`Presenter`] — what the session runner calls to show a clip with its soundtrack.
//!
//! - [`VirtualRig`]: a virtual audio device and a virtual display on one [`VirtualClock`]
//!   (simulations, tests, `cuelab demo`): every onset is measured by the production code,
//!   headless, faster than real time and deterministic.
//! - [`Rig`]: an engine driven by a running device — a sound card through cpal, or the virtual
//!   device paced in real time — and any [`Display`] (the participant window, or a virtual
//!   display paced on the monotonic clock for `--display headless`).
//!
//! Stimuli are loaded once ([`Stimuli::load`]): soundtracks decoded at the device rate with
//! their gain and fades, and — for virtual displays, which show no pixels — each clip's frame
//! timestamps, read once by decoding it, so a simulated trial costs no video decoding at all
//! (a virtual display needs when frames are due, not what they look like). A rig never runs
//! fixations or other steps: it presents clips.
//!
//! A trial with music and no clip shows a blank screen for the music's duration (its "video
//! onset" is the first blank flip), so the audio onset is still scheduled on a flip and
//! measured. The soundtrack stops with a short fade when the clip ends.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use cuelab_core::{
    ClipRequest, Clock, Onset, PresentError, Presenter, SessionTime, TrialTiming, VirtualClock,
};

use crate::decode::{DecodeError, DecodeOptions, decode_file};
use crate::engine::{Engine, EngineConfig};
use crate::sound::Sound;
use crate::video::frame_clock::FrameQueue;
use crate::video::{
    ClipDecoder, DecodeConfig, Display, EngineSoundtrack, PresentConfig, VideoError, VideoFrame,
    VirtualDisplay, present_with,
};
use crate::virtual_device::VirtualDevice;

/// A soundtrack to load.
#[derive(Debug, Clone, PartialEq)]
pub struct SoundSpec {
    pub id: String,
    pub path: PathBuf,
    /// Gain in dB (the protocol's `gain_db` plus any loudness normalization).
    pub gain_db: f64,
    pub fade_in_ms: u32,
    pub fade_out_ms: u32,
}

/// A clip to load.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipSpec {
    pub id: String,
    pub path: PathBuf,
}

/// What a session presents, as plain paths and numbers (the caller turns a protocol into it).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StimulusSet {
    pub clips: Vec<ClipSpec>,
    pub soundtracks: Vec<SoundSpec>,
}

/// Why stimuli could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RigError {
    /// A soundtrack did not decode.
    #[error("soundtrack `{id}`: {source}")]
    Sound {
        id: String,
        #[source]
        source: DecodeError,
    },
    /// A clip could not be read.
    #[error("clip `{id}`: {source}")]
    Clip {
        id: String,
        #[source]
        source: VideoError,
    },
}

/// A clip's frame timestamps (clip time, duration), in presentation order.
type Timestamps = Arc<Vec<(SessionTime, SessionTime)>>;

/// Stimuli loaded for a session (shared by every rig of a simulation run).
#[derive(Debug, Clone)]
pub struct Stimuli {
    rate: u32,
    sounds: BTreeMap<String, Arc<Sound>>,
    clips: BTreeMap<String, PathBuf>,
    timestamps: BTreeMap<String, Timestamps>,
}

impl Stimuli {
    /// Decodes every soundtrack at `rate`; with `timestamps`, reads every clip's frame
    /// timestamps (for virtual displays).
    pub fn load(set: &StimulusSet, rate: u32, timestamps: bool) -> Result<Self, RigError> {
        let mut sounds = BTreeMap::new();
        for s in &set.soundtracks {
            let options = DecodeOptions {
                target_rate: rate,
                gain_db: s.gain_db as f32,
                fade_in: SessionTime::from_millis(i64::from(s.fade_in_ms)),
                fade_out: SessionTime::from_millis(i64::from(s.fade_out_ms)),
            };
            let sound =
                decode_file(&s.path, &options, &mut |_| {}).map_err(|source| RigError::Sound {
                    id: s.id.clone(),
                    source,
                })?;
            sounds.insert(s.id.clone(), Arc::new(sound));
        }
        let mut ts = BTreeMap::new();
        if timestamps {
            for c in &set.clips {
                let list = read_timestamps(&c.path).map_err(|source| RigError::Clip {
                    id: c.id.clone(),
                    source,
                })?;
                ts.insert(c.id.clone(), Arc::new(list));
            }
        }
        Ok(Self {
            rate,
            sounds,
            clips: set
                .clips
                .iter()
                .map(|c| (c.id.clone(), c.path.clone()))
                .collect(),
            timestamps: ts,
        })
    }

    /// The device rate the sounds were decoded at.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// A loaded soundtrack.
    pub fn sound(&self, id: &str) -> Option<&Arc<Sound>> {
        self.sounds.get(id)
    }

    /// A clip's measured duration (its frames' span), when its timestamps were read.
    pub fn clip_duration(&self, id: &str) -> Option<SessionTime> {
        let ts = self.timestamps.get(id)?;
        ts.last().map(|(pts, d)| *pts + *d)
    }
}

/// Every frame's timestamp and duration, by decoding the clip once.
fn read_timestamps(path: &std::path::Path) -> Result<Vec<(SessionTime, SessionTime)>, VideoError> {
    let mut decoder = ClipDecoder::open(path, &DecodeConfig::default())?;
    let mut out = Vec::new();
    while let Some(frame) = decoder.next_frame()? {
        out.push((frame.pts(), frame.duration()));
        decoder.recycle(frame);
    }
    Ok(out)
}

/// A frame queue of timestamps only: frames with no pixels, for virtual displays.
#[derive(Debug)]
struct TimestampQueue {
    frames: Timestamps,
    next: usize,
}

impl FrameQueue for TimestampQueue {
    type Frame = VideoFrame;
    type Error = VideoError;

    fn peek_timing(&mut self) -> Result<Option<(SessionTime, SessionTime)>, VideoError> {
        Ok(self.frames.get(self.next).copied())
    }

    fn pop(&mut self) -> Result<Option<VideoFrame>, VideoError> {
        let Some(&(pts, duration)) = self.frames.get(self.next) else {
            return Ok(None);
        };
        let frame = VideoFrame::timing_only(self.next as u64, pts, duration);
        self.next += 1;
        Ok(Some(frame))
    }
}

/// How clips reach the display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frames {
    /// Decode every frame (a real screen).
    Decode,
    /// Timestamps only (a virtual display). Needs [`Stimuli::load`] with timestamps.
    Timestamps,
}

fn config_for(req: &ClipRequest, lead: SessionTime) -> PresentConfig {
    PresentConfig {
        av_offset: SessionTime::from_nanos((req.av_offset_ms * 1e6).round() as i64),
        lead: lead.max(SessionTime::from_nanos(
            (-req.av_offset_ms * 1e6).round() as i64 + 50_000_000,
        )),
        ..PresentConfig::default()
    }
}

fn video_err(e: VideoError) -> PresentError {
    match e {
        // A clip that cannot be read spoils this trial only.
        VideoError::Open { .. }
        | VideoError::NoVideoStream { .. }
        | VideoError::Decoder { .. }
        | VideoError::Decode { .. }
        | VideoError::Convert { .. } => PresentError::flag(e.to_string()),
        other => PresentError::stop(other.to_string()),
    }
}

/// Picks the queue for a request: the clip's frames, or one blank "frame" spanning the sound
/// for a music-only trial.
fn queue_for(
    stimuli: &Stimuli,
    frames: Frames,
    req: &ClipRequest,
) -> Result<Box<dyn FrameQueue<Frame = VideoFrame, Error = VideoError>>, PresentError> {
    match (&req.clip, frames) {
        (Some(clip), Frames::Timestamps) => {
            let ts = stimuli
                .timestamps
                .get(clip)
                .ok_or_else(|| PresentError::stop(format!("clip `{clip}` was not loaded")))?;
            Ok(Box::new(TimestampQueue {
                frames: Arc::clone(ts),
                next: 0,
            }))
        }
        (Some(clip), Frames::Decode) => {
            let path = stimuli
                .clips
                .get(clip)
                .ok_or_else(|| PresentError::stop(format!("clip `{clip}` was not loaded")))?;
            let decoder = ClipDecoder::open(path, &DecodeConfig::default()).map_err(video_err)?;
            Ok(Box::new(decoder))
        }
        (None, _) => {
            let duration = req
                .soundtrack
                .as_deref()
                .and_then(|s| stimuli.sound(s))
                .map_or(SessionTime::ZERO, |s| s.duration());
            Ok(Box::new(TimestampQueue {
                frames: Arc::new(vec![(SessionTime::ZERO, duration)]),
                next: 0,
            }))
        }
    }
}

impl<Q: FrameQueue<Frame = VideoFrame, Error = VideoError> + ?Sized> FrameQueue for Box<Q> {
    type Frame = VideoFrame;
    type Error = VideoError;
    fn peek_timing(&mut self) -> Result<Option<(SessionTime, SessionTime)>, VideoError> {
        (**self).peek_timing()
    }
    fn pop(&mut self) -> Result<Option<VideoFrame>, VideoError> {
        (**self).pop()
    }
    fn discard(&mut self, frame: VideoFrame) {
        (**self).discard(frame)
    }
}

/// The request's soundtrack, loaded (`None`: a silent trial).
fn sound_for(stimuli: &Stimuli, req: &ClipRequest) -> Result<Option<Arc<Sound>>, PresentError> {
    req.soundtrack
        .as_deref()
        .map(|id| {
            stimuli
                .sound(id)
                .map(Arc::clone)
                .ok_or_else(|| PresentError::stop(format!("soundtrack `{id}` was not loaded")))
        })
        .transpose()
}

/// Presents a clip with its soundtrack (if any), which stops with a short fade at the clip's
/// end; both rigs go through it.
fn present_clip<D: Display + ?Sized>(
    queue: &mut Box<dyn FrameQueue<Frame = VideoFrame, Error = VideoError>>,
    display: &mut D,
    soundtrack: Option<EngineSoundtrack<'_>>,
    config: &PresentConfig,
    onsets: &mut dyn FnMut(Onset),
) -> Result<TrialTiming, PresentError> {
    match soundtrack {
        Some(mut out) => {
            let timing =
                present_with(queue, display, Some(&mut out), config, onsets).map_err(video_err)?;
            out.stop(STOP_FADE).map_err(video_err)?;
            Ok(timing)
        }
        None => present_with(queue, display, None, config, onsets).map_err(video_err),
    }
}

/// The fade applied when a clip's end stops its soundtrack.
const STOP_FADE: SessionTime = SessionTime::from_millis(50);

/// A virtual audio device and a virtual display on one virtual clock.
#[derive(Debug)]
pub struct VirtualRig {
    clock: VirtualClock,
    device: VirtualDevice,
    engine: Engine,
    display: VirtualDisplay,
    stimuli: Arc<Stimuli>,
    lead: SessionTime,
}

/// Settings of a virtual rig.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VirtualRigConfig {
    /// Audio buffer size, frames.
    pub buffer_frames: u32,
    /// Display refresh rate, Hz.
    pub refresh_hz: u32,
    /// How far ahead of now a clip's first frame is planned.
    pub lead: SessionTime,
}

impl Default for VirtualRigConfig {
    /// 1024-frame buffers: onsets are sample-exact at any buffer size (the engine places a
    /// start inside a buffer), and a virtual device gains nothing from small ones but renders
    /// four times as many.
    fn default() -> Self {
        Self {
            buffer_frames: 1024,
            refresh_hz: 60,
            lead: SessionTime::from_millis(100),
        }
    }
}

impl VirtualRig {
    /// A rig on `clock` presenting `stimuli` (loaded with timestamps).
    pub fn new(stimuli: Arc<Stimuli>, clock: VirtualClock, config: VirtualRigConfig) -> Self {
        let mut engine_config = EngineConfig::new(stimuli.rate(), 2);
        engine_config.buffer_frames = config.buffer_frames;
        let (device, engine) = VirtualDevice::new(&engine_config, clock.clone());
        let display = VirtualDisplay::new(clock.clone(), config.refresh_hz);
        Self {
            clock,
            device,
            engine,
            display,
            stimuli,
            lead: config.lead,
        }
    }
}

impl Presenter for VirtualRig {
    fn present(
        &mut self,
        req: &ClipRequest,
        onsets: &mut dyn FnMut(Onset),
    ) -> Result<TrialTiming, PresentError> {
        // The device has been playing silence while the participant answered.
        self.device.render_until(self.clock.now());
        let mut queue = queue_for(&self.stimuli, Frames::Timestamps, req)?;
        let config = config_for(req, self.lead);
        let out = sound_for(&self.stimuli, req)?.map(|sound| {
            EngineSoundtrack::on_virtual_device(
                &mut self.engine,
                &mut self.device,
                self.clock.clone(),
                sound,
                0.0,
            )
        });
        present_clip(&mut queue, &mut self.display, out, &config, onsets)
    }
}

/// An engine driven by a running device (its callbacks run on their own) and a display.
pub struct Rig<D> {
    engine: Engine,
    display: D,
    stimuli: Arc<Stimuli>,
    frames: Frames,
    lead: SessionTime,
    /// Keeps the device running (a cpal stream, a paced virtual device).
    _device: Box<dyn std::any::Any>,
    /// Added to every measured audio onset: the machine's calibrated output bias, ns.
    bias: SessionTime,
}

impl<D> std::fmt::Debug for Rig<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rig")
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

impl<D: Display> Rig<D> {
    /// A rig over a running `engine` (kept alive by `device`), showing frames on `display`.
    pub fn new(
        engine: Engine,
        device: Box<dyn std::any::Any>,
        display: D,
        stimuli: Arc<Stimuli>,
        frames: Frames,
        lead: SessionTime,
    ) -> Self {
        Self {
            engine,
            display,
            stimuli,
            frames,
            lead,
            _device: device,
            bias: SessionTime::ZERO,
        }
    }

    /// Corrects every measured audio onset by `bias` and schedules soundtracks that much
    /// earlier (a calibration: the device's first sample
    /// leaves this much later than its timestamp says).
    pub fn with_bias(mut self, bias: SessionTime) -> Self {
        self.bias = bias;
        self
    }

    /// The display.
    pub fn display(&mut self) -> &mut D {
        &mut self.display
    }
}

impl<D: Display> Presenter for Rig<D> {
    fn present(
        &mut self,
        req: &ClipRequest,
        onsets: &mut dyn FnMut(Onset),
    ) -> Result<TrialTiming, PresentError> {
        let mut queue = queue_for(&self.stimuli, self.frames, req)?;
        let config = PresentConfig {
            audio_bias: self.bias,
            ..config_for(req, self.lead)
        };
        let out = sound_for(&self.stimuli, req)?
            .map(|sound| EngineSoundtrack::new(&mut self.engine, sound, 0.0));
        present_clip(&mut queue, &mut self.display, out, &config, onsets)
    }
}
