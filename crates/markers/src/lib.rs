//! Event markers for other recordings: a Lab Streaming Layer outlet, and the clock alignment
//! that lets an eye tracker's or an EEG amplifier's recording be joined with a session.
//!
//! # The key decision: liblsl is loaded at run time, not linked
//!
//! Labs join recordings through LSL: each device publishes a stream, LabRecorder writes them to
//! one XDF file with clock offsets. The only Rust binding (`lsl` 0.1.1) builds a bundled liblsl
//! that fails on Debian 12, and liblsl is not a Debian package; labs have it from their LSL
//! install or from the `pylsl` wheel (`pylsl/lib/liblsl.so`). So this crate opens liblsl with
//! `libloading` when `--lsl` asks for it ([`Search`]: `--lsl-lib PATH`, else `CUELAB_LIBLSL`,
//! else `LD_LIBRARY_PATH`, the usual library folders and `python3`'s site-packages) and uses
//! nine functions of its C API. Nothing is loaded otherwise, the build needs no cmake and no
//! liblsl, and the `unsafe` code of the workspace is confined to `ffi`, with its safety
//! argument written there.
//!
//! # The stream
//!
//! One irregular-rate, one-channel string stream per session: name `cuelab-<experiment>`, type
//! `Markers`, source id `cuelab:<experiment>:<label>:<session>` (a resumed session gets the same
//! id, so recorders pick it up again), description `<cuelab>` with the experiment id, protocol
//! version and SHA-256, participant and session. Each sample is a compact JSON event
//! ([`to_json`]): `{"event":"audio_onset","trial":7,"clip":"street","soundtrack":"sad"}` — events
//! `session_start`, `trial_start`, `audio_onset`, `video_onset`, `response`, `trial_end`,
//! `session_end`, `abort`; `trial` is the plan's index. Its timestamp is the event's *measured*
//! session time mapped onto `lsl_local_clock()`, not the time it was pushed: an audio onset is
//! known only after the clip played, so the marker is pushed late but stamped right.
//!
//! The mapping ([`ClockMapping`]) is measured when the outlet opens: session clock,
//! `lsl_local_clock`, session clock again, narrowest of 64 brackets (typically under 1 µs). On
//! Linux `lsl_local_clock` is `CLOCK_MONOTONIC` in seconds (liblsl uses
//! `std::chrono::steady_clock`; checked against `clock_gettime` to a few µs) and the session clock
//! is Rust's `Instant`, also `CLOCK_MONOTONIC`, so the offset does not drift during a session.
//! Samples pushed before an inlet connects are not delivered to it: `cuelab run --lsl-wait S`
//! waits for the recorder before the first marker.
//!
//! # Serial triggers
//!
//! For EEG rigs without LSL, [`SerialTrigger`] writes one byte per event (codes from a
//! [`TriggerMap`]: the protocol's `[triggers]` table, or [`TriggerCodes`]) to a serial port and
//! logs when each byte left the port. A byte cannot carry a timestamp, so an onset trigger — sent
//! when the clip's presentation returns — lags its onset by about the clip's length; the log (`written_ns − at_ns`) is what corrects it offline.
//!
//! # Offline alignment without LSL
//!
//! The journal's first line (`session_start`, and `resume` for each resumed run) holds
//! `monotonic_ns`, the `CLOCK_MONOTONIC` nanoseconds of that run's session time zero
//! ([`monotonic_origin_ns`]), and `wall_unix_ns`, the wall clock when it was written. Every
//! later journal time `t_ns` (and every onset in `events.tsv`, which is in session seconds) is
//! therefore at `CLOCK_MONOTONIC = monotonic_ns + t_ns` — the clock that `lsl_local_clock`,
//! Python's `time.monotonic()`, PsychoPy's `core.monotonicClock` base and most Linux recording
//! programs read. A recording made by another program on the same machine aligns by adding
//! `monotonic_ns / 1e9` to the session times; across machines, the wall-clock pair gives an
//! alignment as good as their NTP sync.
//!
//! ```no_run
//! use cuelab_markers::{LslOutlet, Search, StreamIdentity};
//! # fn session_clock() -> cuelab_core::clock::VirtualClock { cuelab_core::clock::VirtualClock::new() }
//! let lsl = Search::from_env(None).load()?;
//! let id = StreamIdentity {
//!     experiment: "music-and-duration",
//!     protocol_version: "1.0.0",
//!     protocol_sha256: "…",
//!     participant: "3",
//!     session: 1,
//! };
//! let outlet = LslOutlet::open(&lsl, &id, &session_clock())?;
//! // `outlet` is a `cuelab_core::marker::MarkerSink`: give it to the runner's rig.
//! # Ok::<(), cuelab_markers::LslError>(())
//! ```

use std::path::PathBuf;

pub mod align;
mod ffi;
mod find;
mod outlet;
pub mod serial;

pub use align::{ClockMapping, monotonic_now_ns, monotonic_now_s, monotonic_origin_ns};
pub use ffi::{Lsl, MIN_VERSION, StreamSpec};
pub use find::{ENV_LIBLSL, Search};
pub use outlet::{LslOutlet, MarkerStats, StreamIdentity, to_json};
pub use serial::{
    SerialTrigger, TriggerCodes, TriggerError, TriggerMap, TriggerPort, trial_variable,
};

/// What went wrong with liblsl.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LslError {
    /// No liblsl could be loaded; `tried` lists every place looked and why each failed.
    #[error("liblsl could not be loaded (give its path with --lsl-lib or CUELAB_LIBLSL, or install pylsl: `pip install pylsl==1.18.6`); tried:\n  {}", tried.join("\n  "))]
    NotFound { tried: Vec<String> },
    /// The dynamic loader refused the file.
    #[error("cannot load it: {why}")]
    Load { path: PathBuf, why: String },
    /// The file is a library but lacks a function of liblsl's C API.
    #[error("not liblsl: no `{symbol}` ({why})")]
    Symbol {
        path: PathBuf,
        symbol: String,
        why: String,
    },
    /// liblsl older than 1.13, whose C API differs.
    #[error("liblsl version {version} is older than 1.13")]
    TooOld { path: PathBuf, version: i32 },
    /// A string given to liblsl contains a NUL byte.
    #[error("{what} contains a NUL byte")]
    Nul { what: String },
    /// liblsl could not make the stream or outlet.
    #[error("cannot open the LSL outlet: {0}")]
    Outlet(String),
    /// `lsl_push_sample_strt` returned an error code.
    #[error("liblsl refused a marker (error code {0})")]
    Push(i32),
}

/// A session's marker sinks — an LSL outlet and a serial trigger port, each optional — as one
/// [`MarkerSink`](cuelab_core::marker::MarkerSink). The trigger goes first: its timing is the
/// tighter. Both are tried even if one fails; the first error is returned.
#[derive(Debug, Default)]
pub struct Sinks<'a> {
    pub lsl: Option<&'a mut LslOutlet>,
    pub trigger: Option<&'a mut SerialTrigger>,
}

impl cuelab_core::marker::MarkerSink for Sinks<'_> {
    fn mark(
        &mut self,
        marker: &cuelab_core::marker::Marker<'_>,
    ) -> Result<(), cuelab_core::marker::MarkerError> {
        let trigger = self.trigger.as_mut().map_or(Ok(()), |t| t.mark(marker));
        let lsl = self.lsl.as_mut().map_or(Ok(()), |l| l.mark(marker));
        trigger.and(lsl)
    }
}
