//! cuelab-playback (being written): audio engine, stimulus decoding, video decoding and the
//! audio-mastered frame clock, virtual devices.

pub mod clock;
pub mod video;
