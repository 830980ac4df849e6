//! The shared vocabulary of cuelab: identifiers, time units, clocks, the trial-timing record,
//! response values, the seams that cross crates ([`present::Presenter`],
//! [`marker::MarkerSink`]) and the column names and types of the data cuelab writes.
//!
//! Key design decision: this crate does no I/O and depends on no other workspace crate, so
//! every other crate can agree on units, records and names without agreeing on anything else.
//! Time is always an integer: nanoseconds on the session clock ([`SessionTime`]) or sample
//! frames ([`Frames`]); floating-point milliseconds appear only at the edges (reports, exports).
//! Nothing here is `Serialize`: the journal owns the one serializable counterpart of these
//! records.
//!
//! ```
//! use cuelab_core::{Frames, SessionTime};
//! let t = SessionTime::from_millis(1500);
//! assert_eq!(t.to_frames(48_000), Frames(72_000));
//! assert_eq!(Frames(72_000).to_session_time(48_000), t);
//! ```

pub mod clock;
pub mod ids;
pub mod marker;
pub mod present;
pub mod response;
pub mod schema;
pub mod time;
pub mod timing;

pub use clock::{Clock, VirtualClock, WaitClock};
pub use ids::{IdError, ParticipantId};
pub use present::{ClipRequest, Onset, PresentError, PresentErrorKind, Presenter};
pub use response::{ContinuousTrace, Response};
pub use time::{Frames, SessionTime};
pub use timing::{IntervalStats, TimingFlag, TrialTiming};
