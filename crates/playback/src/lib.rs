//! cuelab-playback: the audio engine, stimulus decoding, video decoding and the audio-mastered
//! frame clock, virtual devices.
//!
//! Key design decision: the audio render core ([`engine::Renderer`]) is plain code over
//! `&mut [f32]` that knows nothing about devices. A real device ([`cpal_device`]) and the
//! [`virtual_device`] both call the same `render`, passing the session time at which the
//! buffer's first frame will be played; so scheduled starts, measured onsets and xrun counting
//! are tested to the sample on the virtual device and are the same code on a sound card. Time
//! comes from a [`clock::Clock`], real or virtual, never from `Instant::now()` directly.
//!
//! The usual flow: decode stimuli ahead of the session ([`decode`]) into `Arc<sound::Sound>`s
//! at the device rate; open a device to get an [`engine::Engine`]; `start` sounds at session
//! instants; read `Started`/`Ended`/`Xrun` events for the measured onsets. [`audio_check`]
//! (behind `cuelab check`) measures a device by loopback ([`loopback`]); [`bench`] holds the
//! figures behind `cuelab bench`.
//!
//! Learned the hard way (PulseAudio null sink, ALSA pulse plugin, cpal 0.18): the plugin's
//! playback timestamps jitter by milliseconds and wander for seconds, so the engine's
//! frame-to-session mapping is a slow (0.05 Hz) delay-locked loop; and the plugin's capture
//! stream wanders ~1 ms/s against the server, while `parec` of the sink's monitor runs at
//! exactly the nominal rate, so loopback recordings are timed by counting frames.

pub mod audio_check;
pub mod bench;
pub mod clock;
pub mod cpal_device;
pub mod decode;
pub mod engine;
pub mod loopback;
pub mod loudness;
pub mod rig;
pub mod sound;
pub mod video;
pub mod virtual_device;
