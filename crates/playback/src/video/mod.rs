//! Video: clip decoding through FFmpeg and the audio-mastered frame clock.
//!
//! (Module doc completed below.)

mod decode;
mod display;
pub mod frame_clock;
mod present;

pub use decode::{
    BYTES_PER_PIXEL, ClipDecoder, ClipInfo, DecodeConfig, DecodeReport, VideoFrame, measure_decode,
    probe,
};

pub use display::{Display, VirtualDisplay};
pub use present::{AudioStatus, PresentConfig, SoundtrackOutput, TimingFlag, TrialTiming, present};

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
