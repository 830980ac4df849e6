//! Video: clip decoding through FFmpeg, and a frame clock slaved to the audio clock.
//!
//! Key design decisions:
//!
//! - **FFmpeg's libraries, not the `ffmpeg` program.** Clips are decoded with `ffmpeg-next`
//!   9.0.0 (bindings to Debian 12's libavformat/libavcodec/libswscale 5.1; default features off,
//!   only `codec`, `format`, `software-scaling`). Each frame comes with its presentation
//!   timestamp, exact to the stream's time base (tests check every frame of H.264 clips with
//!   B-frames to the nanosecond). Piping raw RGBA out of the `ffmpeg` program gives no
//!   timestamps at all (a variable-frame-rate clip or a dropped frame would silently shift every
//!   later frame), costs a process per clip, and measured slower. `benches/video_decode.rs`
//!   (H.264 x264 `medium` CRF 20, 30 fps `testsrc2`, to RGBA; 2 cores shared with other builds,
//!   load average 6-9, November 2026) measured, in frames per second of wall time:
//!
//!   | clip  | libav, 1 thread | libav, FFmpeg threads | `ffmpeg` pipe |
//!   |-------|-----------------|-----------------------|---------------|
//!   | 720p  | 154             | 229                   | 79            |
//!   | 1080p | 61              | 68                    | 44            |
//!
//!   Per second of CPU time (independent of the load) one thread decodes 310 fps at 720p and
//!   159 fps at 1080p: an idle core keeps ahead of a 1080p60 clip. The default is one decoder
//!   thread, so decoding never competes with the audio callback for more than one core. The
//!   clip's own audio track is never decoded: its packets are skipped after demuxing, so two
//!   audio clients never compete for the device.
//! - **Decode ahead, bounded.** A [`ClipDecoder`] opens the clip on a worker thread that decodes
//!   and converts to RGBA into a bounded queue ([`DecodeConfig::queue_frames`], 8 by default:
//!   66 MB of 1080p RGBA; the worker holds at most two more frames, tested, and the display one
//!   more, so about 91 MB per 1080p clip in all). Frame pixels are recycled back to the worker,
//!   so steady-state decoding does not allocate.
//! - **Audio is the master clock.** The engine reports the measured onset `A` of the
//!   soundtrack's first sample; with the protocol's audio − video offset `o`, the clip's time
//!   zero is `A − o`, and each refresh shows the frame current at its flip instant
//!   ([`frame_clock::FrameClock`]), counting dropped and repeated frames. The flip time of the
//!   first frame is the video onset; `av_offset_ms` = audio onset − video onset (negative =
//!   audio first).
//! - **One presentation routine for the lab and for tests.** [`present`] runs against two
//!   seams: a [`Display`] (the participant window in the lab, [`VirtualDisplay`] headless) and a
//!   [`SoundtrackOutput`] ([`EngineSoundtrack`] over the audio engine, on a sound card or the
//!   virtual device). It plans the first frame on a refresh, asks the engine to start the
//!   soundtrack at that flip + offset, runs the refresh loop, and returns a [`TrialTiming`] that
//!   is flagged whenever anything is off (offset error > 1 ms, drops, xruns, a missed flip).
//!
//! ```
//! use std::path::Path;
//! use std::sync::Arc;
//! use cuelab_core::SessionTime;
//! use cuelab_playback::clock::VirtualClock;
//! use cuelab_playback::engine::EngineConfig;
//! use cuelab_playback::sound::Sound;
//! use cuelab_playback::video::{
//!     ClipDecoder, DecodeConfig, EngineSoundtrack, PresentConfig, VirtualDisplay, present,
//! };
//! use cuelab_playback::virtual_device::VirtualDevice;
//!
//! // One clock shared by a virtual 60 Hz display and a virtual audio device.
//! let clock = VirtualClock::new();
//! let (mut device, mut engine) = VirtualDevice::new(&EngineConfig::new(48_000, 2), clock.clone());
//! let mut display = VirtualDisplay::new(clock.clone(), 60);
//! let music = Arc::new(Sound::from_interleaved(48_000, 1, vec![0.1; 48_000]).unwrap());
//!
//! let clip = Path::new(env!("CARGO_MANIFEST_DIR"))
//!     .join("tests/data/video/testsrc_64x48_24fps_1s.mp4");
//! let mut frames = ClipDecoder::open(&clip, &DecodeConfig::default()).unwrap();
//! let mut soundtrack =
//!     EngineSoundtrack::on_virtual_device(&mut engine, &mut device, clock.clone(), music, 0.0);
//! // The music starts 20 ms after the first frame.
//! let config = PresentConfig { av_offset: SessionTime::from_millis(20), ..Default::default() };
//! let timing = present(&mut frames, &mut display, Some(&mut soundtrack), &config).unwrap();
//!
//! assert!(!timing.flagged, "{:?}", timing.flags);
//! assert_eq!(timing.frames_shown, 24);
//! assert!((timing.av_offset_ms.unwrap() - 20.0).abs() < 1.0);
//! ```

mod decode;
mod display;
pub mod frame_clock;
mod present;
mod soundtrack;

pub use decode::{
    BYTES_PER_PIXEL, ClipDecoder, ClipInfo, DecodeConfig, DecodeReport, MAX_FRAME_PIXELS,
    VideoFrame, measure_decode, probe,
};

pub use crate::clock::WaitClock;
pub use display::{Display, VirtualDisplay};
pub use present::{
    AudioStatus, PresentConfig, SoundtrackOutput, TimingFlag, TrialTiming, present, present_with,
};
pub use soundtrack::EngineSoundtrack;

use std::path::PathBuf;

/// What can go wrong decoding or presenting a clip. Errors opening a clip come from
/// [`ClipDecoder::open`] / [`probe`]; errors later in the file end that clip's decoding.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VideoError {
    /// FFmpeg's libraries could not be initialised.
    #[error("FFmpeg could not be initialised: {0}")]
    Init(#[source] ffmpeg_next::Error),
    /// The file could not be opened, or its container was not recognised.
    #[error("cannot open video {}: {source}", path.display())]
    Open {
        /// The clip.
        path: PathBuf,
        /// FFmpeg's reason.
        #[source]
        source: ffmpeg_next::Error,
    },
    /// The file opened but holds no video stream.
    #[error("{} has no video stream", path.display())]
    NoVideoStream {
        /// The clip.
        path: PathBuf,
    },
    /// No decoder for the clip's codec, or it refused the stream's parameters.
    #[error("cannot set up a decoder for {}: {source}", path.display())]
    Decoder {
        /// The clip.
        path: PathBuf,
        /// FFmpeg's reason.
        #[source]
        source: ffmpeg_next::Error,
    },
    /// Reading or decoding failed part-way through the clip; decoding of this clip stops.
    #[error("decoding {} failed: {source}", path.display())]
    Decode {
        /// The clip.
        path: PathBuf,
        /// FFmpeg's reason.
        #[source]
        source: ffmpeg_next::Error,
    },
    /// Converting a decoded picture to RGBA failed.
    #[error("converting a frame of {} to RGBA failed: {source}", path.display())]
    Convert {
        /// The clip.
        path: PathBuf,
        /// FFmpeg's reason.
        #[source]
        source: ffmpeg_next::Error,
    },
    /// The clip's picture size is beyond [`MAX_FRAME_PIXELS`] (a header claiming
    /// 65535 × 65535 would ask for 17 GB per RGBA frame, times the decode-ahead queue).
    #[error(
        "{}: a {width}x{height} picture is outside the supported size (at most {MAX_FRAME_PIXELS} pixels, 8K UHD)",
        path.display()
    )]
    FrameSize {
        /// The clip.
        path: PathBuf,
        /// Stated width.
        width: u32,
        /// Stated height.
        height: u32,
    },
    /// The decode worker thread could not be started.
    #[error("cannot start the video decode thread: {0}")]
    Worker(#[source] std::io::Error),
    /// The decode worker thread ended without reporting (it panicked).
    #[error("the video decode thread died")]
    WorkerDied,
    /// The display failed to present a frame.
    #[error("display: {0}")]
    Display(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The audio engine failed to start or report the soundtrack.
    #[error("soundtrack: {0}")]
    Audio(#[source] Box<dyn std::error::Error + Send + Sync>),
}
