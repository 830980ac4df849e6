//! cuelab sessions: what happened in each trial (timing and responses), simulated participants,
//! and the durable export of sessions as tidy tables.
//!
//! Key design decision: **this crate never touches a device.** Presentation comes in through
//! the [`Presenter`] trait (present one planned trial → its measured [`Timing`]), implemented
//! by the binary over the playback crate's engine (a sound card, or the virtual audio device
//! and virtual display). So the session logic, the simulated participants and the export build
//! and test without cpal, FFmpeg or polars, and a simulated session's timing columns are still
//! measured by the same presentation code a lab session uses.
//!
//! The second decision: **simulated data is deterministic and says so.** A
//! [`simulate::Simulator`] draws everything from the protocol crate's portable ChaCha
//! [`cuelab_protocol::rng::Stream`], seeded from the study seed (clip effects, shared by all
//! participants) and the plan's session seed (the participant's own effects and noise); every
//! exported row of a simulated session carries `simulated = true`.
//!
//! ```
//! use std::collections::BTreeMap;
//! use cuelab_protocol::PlannedTrial;
//! use cuelab_session::simulate::{Simulator, TimeModel};
//!
//! let sim = Simulator::new(TimeModel::default(), 42);
//! let trial = PlannedTrial {
//!     index: 1,
//!     block: 1,
//!     practice: false,
//!     clip: Some("lake".into()),
//!     soundtrack: Some("arousing".into()),
//!     conditions: BTreeMap::from([("music".into(), "arousing".into())]),
//!     break_before: false,
//! };
//! let mut p = sim.participant(7);
//! let r = p.respond(&trial, 8.0).unwrap();
//! assert!(r.verbal_s > 0.0 && r.reproduction_s > 0.0);
//! assert!((1.0..=9.0).contains(&r.valence));
//! // The same seeds give the same participant.
//! assert_eq!(sim.participant(7).respond(&trial, 8.0).unwrap(), r);
//! ```

pub mod export;
pub mod record;
pub mod simulate;

pub use export::{ExportError, ResponseRow, TrialRow};
pub use record::{Presenter, Response, Timing, TrialRecord};
pub use simulate::{SimError, Simulator, TimeModel};

#[cfg(test)]
mod tests {
    /// Invariant (DESIGN.md): session talks to devices through traits and never links cpal,
    /// FFmpeg, symphonia, polars or the playback crate.
    #[test]
    fn the_session_crate_depends_on_no_device_or_dataframe_crate() {
        let manifest = include_str!("../Cargo.toml");
        let deps = manifest
            .split("[dependencies]")
            .nth(1)
            .and_then(|rest| rest.split("\n[").next())
            .expect("a [dependencies] table");
        let names: Vec<&str> = deps
            .lines()
            .filter_map(|l| l.split(['.', '=', ' ']).next())
            .filter(|n| !n.is_empty())
            .collect();
        assert!(names.contains(&"cuelab-protocol"), "{names:?}");
        for banned in [
            "cpal",
            "ffmpeg-next",
            "symphonia",
            "polars",
            "cuelab-playback",
            "cuelab-analysis",
        ] {
            assert!(!names.contains(&banned), "session depends on {banned}");
        }
    }
}
