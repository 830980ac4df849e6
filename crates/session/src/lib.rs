//! cuelab sessions: the one runner every session goes through (lab, headless, simulated), the
//! durable journal with resume, the session store on disk, and simulated participants.
//!
//! Key design decision: **this crate never touches a device.** Clips are shown through
//! `cuelab_core::Presenter` (the playback crate's rigs), the participant is reached through
//! [`respond::Respondent`] (the window, or a [`simulate::SimulatedParticipant`]), events are
//! written through [`journal::Journal`], and time comes from a `cuelab_core::WaitClock` — so the
//! runner, the journal and resume build and test without cpal, FFmpeg, a window or polars, and
//! a simulated session goes through exactly the code a lab session does.
//!
//! The second decision: **a trial is on disk before the next begins.** The runner commits the
//! journal at every trial boundary ([`journal::FileJournal`] fsyncs file and folder); a killed
//! session resumes ([`store::open`] with `resume`) at the first incomplete trial of the same
//! plan, and an existing session is never overwritten.
//!
//! ```
//! use cuelab_core::{ClipRequest, Onset, PresentError, Presenter, SessionTime, TrialTiming, VirtualClock};
//! use cuelab_core::marker::NoMarkers;
//! use cuelab_protocol::{MemFiles, load, plan};
//! use cuelab_core::ParticipantId;
//! use cuelab_session::journal::{MemJournal, Progress};
//! use cuelab_session::runner::{Controls, Quiet, Rig, run};
//! use cuelab_session::simulate::{Model, Simulator};
//!
//! /// A presenter whose clips last 5 s on the virtual clock.
//! struct FiveSeconds(VirtualClock);
//! impl Presenter for FiveSeconds {
//!     fn present(&mut self, _: &ClipRequest, onsets: &mut dyn FnMut(Onset)) -> Result<TrialTiming, PresentError> {
//!         let onset = self.0.advance(SessionTime::from_millis(100));
//!         onsets(Onset::Video(onset));
//!         let end = self.0.advance(SessionTime::from_millis(5000));
//!         Ok(TrialTiming { video_onset: Some(onset), video_offset: Some(end), ..TrialTiming::default() })
//!     }
//! }
//!
//! let text = r#"
//! [experiment]
//! id = "demo"
//! title = "Demo"
//! version = "1"
//! [stimuli.clips]
//! lake = "lake.mp4"
//! [factors]
//! music = { levels = ["fast", "slow"] }
//! [[procedure]]
//! clip = {}
//! [[procedure]]
//! time_estimate = { method = "verbal", unit = "s" }
//! "#;
//! let files = MemFiles::default().with("lake.mp4", vec![0u8; 16]);
//! let protocol = load("demo.toml", text.as_bytes(), &files).unwrap();
//! let p = plan(&protocol, &ParticipantId::parse("1").unwrap(), 1).unwrap();
//! let clock = VirtualClock::new();
//! let sim = Simulator::new(&protocol, Model::default(), 42);
//! let mut participant = sim.participant(p.seed, clock.clone());
//! let mut journal = MemJournal::default();
//! let rig = Rig {
//!     presenter: &mut FiveSeconds(clock.clone()),
//!     respondent: &mut participant,
//!     journal: &mut journal,
//!     clock: &clock,
//!     markers: &mut NoMarkers,
//!     observer: &mut Quiet,
//! };
//! let outcome = run(&protocol, &p, &Progress::default(), rig, &Controls::default()).unwrap();
//! assert_eq!(outcome.trials_run, 2);
//! assert_eq!(journal.commits, 3); // two trials and the end
//! ```

pub mod durable;
pub mod journal;
pub mod respond;
pub mod runner;
pub mod simulate;
pub mod store;

pub use journal::{Entry, Journal, Status};
pub use respond::Respondent;
pub use runner::{Controls, Outcome, Rig, RunError, run, schedule};
pub use simulate::{Model, SimulatedParticipant, Simulator};
