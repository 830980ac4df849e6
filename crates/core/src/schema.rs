//! The one place that names the columns and types of the tables cuelab writes.
//!
//! The export writes rows by these names and the analysis crate reads them by these names, so a
//! column renamed here is renamed everywhere. Some columns are dynamic: each protocol factor
//! becomes a text column named after the factor, each timed step a `<step>_ms` column, and each
//! response a wide column named after its step (`<step>` or `<step>_<item>`); they follow the
//! fixed columns of [`TRIALS`] and [`PARTICIPANTS`]. A protocol may not use a name that any
//! table already has ([`reserved_names`]).

/// The logical type of a column, independent of any dataframe library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DType {
    /// UTF-8 text.
    Str,
    /// Signed 64-bit integer.
    Int,
    /// 64-bit float.
    Float,
    /// Boolean (written `TRUE`/`FALSE` in CSV).
    Bool,
}

impl DType {
    /// The type's name in codebooks (`string`, `integer`, `number`, `boolean`).
    pub fn name(self) -> &'static str {
        match self {
            DType::Str => "string",
            DType::Int => "integer",
            DType::Float => "number",
            DType::Bool => "boolean",
        }
    }
}

/// A named, typed column with its meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub dtype: DType,
    /// May the column hold nulls?
    pub nullable: bool,
    /// The unit (`ns`, `ms`, `Hz`, ...), empty when none.
    pub unit: &'static str,
    /// What the column means, for codebooks and sidecars.
    pub description: &'static str,
}

const fn col(
    name: &'static str,
    dtype: DType,
    nullable: bool,
    unit: &'static str,
    description: &'static str,
) -> Column {
    Column {
        name,
        dtype,
        nullable,
        unit,
        description,
    }
}

pub const EXPERIMENT: &str = "experiment";
pub const PARTICIPANT: &str = "participant";
pub const SESSION: &str = "session";
pub const TRIAL_INDEX: &str = "trial_index";
pub const BLOCK: &str = "block";
pub const PRACTICE: &str = "practice";
pub const CLIP: &str = "clip";
pub const SOUNDTRACK: &str = "soundtrack";
pub const ITI_MS: &str = "iti_ms";
pub const SCHEDULED_ONSET_NS: &str = "scheduled_onset_ns";
pub const AUDIO_ONSET_NS: &str = "audio_onset_ns";
pub const VIDEO_ONSET_NS: &str = "video_onset_ns";
pub const AV_OFFSET_MS: &str = "av_offset_ms";
pub const FRAMES_SHOWN: &str = "frames_shown";
pub const FRAMES_DROPPED: &str = "frames_dropped";
pub const FRAME_INTERVAL_SD_MS: &str = "frame_interval_sd_ms";
pub const XRUNS: &str = "xruns";
pub const FLAGGED: &str = "flagged";
pub const FLAGS: &str = "flags";
pub const CLIP_DURATION_S: &str = "clip_duration_s";
pub const CONTINUOUS_HZ: &str = "continuous_hz";
pub const SIMULATED: &str = "simulated";
pub const STEP: &str = "step";
pub const KIND: &str = "kind";
pub const ITEM: &str = "item";
pub const VALUE: &str = "value";
pub const TEXT: &str = "text";
pub const RT_MS: &str = "rt_ms";
pub const ONSET_NS: &str = "onset_ns";
pub const TIMED_OUT: &str = "timed_out";
pub const CORRECT: &str = "correct";
pub const ATTENTION_CHECK: &str = "attention_check";
pub const T_MS: &str = "t_ms";
pub const STATUS: &str = "status";
pub const STARTED: &str = "started";
pub const ENDED: &str = "ended";
pub const PROTOCOL_SHA256: &str = "protocol_sha256";
pub const SEED: &str = "seed";
pub const SOFTWARE: &str = "software";
pub const HOST: &str = "host";
pub const CLOCK: &str = "clock";
pub const AUDIO_DEVICE: &str = "audio_device";
pub const SAMPLE_RATE: &str = "sample_rate";
pub const DISPLAY: &str = "display";
pub const REFRESH_HZ: &str = "refresh_hz";
pub const TRIALS_DONE: &str = "trials_done";
pub const TRIALS_PLANNED: &str = "trials_planned";
pub const LANGUAGE: &str = "language";
pub const ATTENTION_FAILED: &str = "attention_failed";
pub const CONSENT: &str = "consent";

use DType::{Bool, Float, Int, Str};

/// One row per trial. Factor columns (text), `<step>_ms` duration columns and wide response
/// columns follow these, then [`SIMULATED`].
pub const TRIALS: &[Column] = &[
    col(
        EXPERIMENT,
        Str,
        false,
        "",
        "Experiment id from the protocol.",
    ),
    col(PARTICIPANT, Str, false, "", "Participant label."),
    col(SESSION, Int, false, "", "Session number, from 1."),
    col(
        TRIAL_INDEX,
        Int,
        false,
        "",
        "Position of the trial in the session's plan, from 1 (practice included).",
    ),
    col(
        BLOCK,
        Int,
        false,
        "",
        "Block number; 0 for practice trials.",
    ),
    col(PRACTICE, Bool, false, "", "The trial is a practice trial."),
    col(CLIP, Str, true, "", "Clip id (empty: no clip)."),
    col(SOUNDTRACK, Str, true, "", "Soundtrack id (empty: silence)."),
    col(
        ITI_MS,
        Int,
        false,
        "ms",
        "Inter-trial interval before this trial.",
    ),
    col(
        SCHEDULED_ONSET_NS,
        Int,
        true,
        "ns",
        "Planned flip of the clip's first frame, session clock.",
    ),
    col(
        AUDIO_ONSET_NS,
        Int,
        true,
        "ns",
        "Measured audio onset (device time of the soundtrack's first sample), session clock.",
    ),
    col(
        VIDEO_ONSET_NS,
        Int,
        true,
        "ns",
        "Measured video onset (flip of the clip's first frame), session clock.",
    ),
    col(
        AV_OFFSET_MS,
        Float,
        true,
        "ms",
        "Measured audio minus video onset; negative = audio first.",
    ),
    col(FRAMES_SHOWN, Int, true, "", "Distinct video frames shown."),
    col(FRAMES_DROPPED, Int, true, "", "Video frames skipped."),
    col(
        FRAME_INTERVAL_SD_MS,
        Float,
        true,
        "ms",
        "Standard deviation of the intervals between the clip's flips.",
    ),
    col(
        XRUNS,
        Int,
        true,
        "",
        "Audio underruns while the clip played.",
    ),
    col(
        FLAGGED,
        Bool,
        false,
        "",
        "Something about the presentation was off (see flags), or the experimenter marked the trial bad.",
    ),
    col(
        FLAGS,
        Str,
        true,
        "",
        "Why the trial is flagged, separated by '; '.",
    ),
    col(
        CLIP_DURATION_S,
        Float,
        true,
        "s",
        "Measured duration of the presentation (first onset to the clip's end), what time estimates are compared with.",
    ),
    col(
        CONTINUOUS_HZ,
        Float,
        true,
        "Hz",
        "Achieved sampling rate of the continuous rating during the clip.",
    ),
];

/// One row per response (a rating dimension, a time estimate, a choice, a text answer).
pub const RESPONSES: &[Column] = &[
    col(
        EXPERIMENT,
        Str,
        false,
        "",
        "Experiment id from the protocol.",
    ),
    col(PARTICIPANT, Str, false, "", "Participant label."),
    col(SESSION, Int, false, "", "Session number, from 1."),
    col(
        TRIAL_INDEX,
        Int,
        true,
        "",
        "The trial (empty for steps before or after the trials).",
    ),
    col(STEP, Str, false, "", "Id of the step that asked."),
    col(
        KIND,
        Str,
        false,
        "",
        "The step's kind (rating, time_estimate, choice, ...).",
    ),
    col(
        ITEM,
        Str,
        false,
        "",
        "What was answered: a rating item, or the step id for single-valued steps.",
    ),
    col(
        VALUE,
        Float,
        true,
        "",
        "Numeric answer (scale point, seconds or ms as the step's unit, option position from 1).",
    ),
    col(
        TEXT,
        Str,
        true,
        "",
        "Text answer (a choice's label, free text).",
    ),
    col(
        RT_MS,
        Float,
        true,
        "ms",
        "Response time from the onset of the asking screen.",
    ),
    col(
        ONSET_NS,
        Int,
        false,
        "ns",
        "Onset of the asking screen, session clock.",
    ),
    col(
        TIMED_OUT,
        Bool,
        false,
        "",
        "The step's timeout passed without an answer.",
    ),
    col(
        CORRECT,
        Bool,
        true,
        "",
        "The answer was correct, where the step defines one.",
    ),
    col(
        ATTENTION_CHECK,
        Bool,
        false,
        "",
        "The step is an attention check.",
    ),
    col(
        SIMULATED,
        Bool,
        false,
        "",
        "The answer came from a simulated participant.",
    ),
];

/// One row per continuous-rating sample.
pub const CONTINUOUS: &[Column] = &[
    col(
        EXPERIMENT,
        Str,
        false,
        "",
        "Experiment id from the protocol.",
    ),
    col(PARTICIPANT, Str, false, "", "Participant label."),
    col(SESSION, Int, false, "", "Session number, from 1."),
    col(TRIAL_INDEX, Int, false, "", "The trial."),
    col(STEP, Str, false, "", "Id of the clip step."),
    col(ITEM, Str, false, "", "The rated dimension."),
    col(
        T_MS,
        Float,
        false,
        "ms",
        "Time from the clip's video onset.",
    ),
    col(VALUE, Float, false, "", "The rating at that time."),
    col(
        SIMULATED,
        Bool,
        false,
        "",
        "The rating came from a simulated participant.",
    ),
];

/// One row per session.
pub const SESSIONS: &[Column] = &[
    col(
        EXPERIMENT,
        Str,
        false,
        "",
        "Experiment id from the protocol.",
    ),
    col(PARTICIPANT, Str, false, "", "Participant label."),
    col(SESSION, Int, false, "", "Session number, from 1."),
    col(
        STATUS,
        Str,
        false,
        "",
        "completed, aborted, declined, running, or incomplete (stopped without ending).",
    ),
    col(
        STARTED,
        Str,
        false,
        "",
        "Wall-clock start with UTC offset (RFC 3339).",
    ),
    col(
        ENDED,
        Str,
        true,
        "",
        "Wall-clock end with UTC offset (RFC 3339).",
    ),
    col(TRIALS_DONE, Int, false, "", "Trials completed."),
    col(
        PROTOCOL_SHA256,
        Str,
        false,
        "",
        "SHA-256 of the protocol and the files it reads.",
    ),
    col(SEED, Int, false, "", "Seed of the participant's plan."),
    col(
        SIMULATED,
        Bool,
        false,
        "",
        "The session was run by a simulated participant.",
    ),
    col(SOFTWARE, Str, false, "", "cuelab version."),
    col(HOST, Str, false, "", "Machine the session ran on."),
    col(
        CLOCK,
        Str,
        false,
        "",
        "monotonic (real time) or virtual (simulation).",
    ),
    col(AUDIO_DEVICE, Str, true, "", "Audio output device."),
    col(SAMPLE_RATE, Int, true, "Hz", "Audio device rate."),
    col(DISPLAY, Str, true, "", "fullscreen, window or headless."),
    col(REFRESH_HZ, Float, true, "Hz", "Display refresh rate."),
    col(
        LANGUAGE,
        Str,
        false,
        "",
        "Language of the participant-visible texts.",
    ),
];

/// One row per participant and session: answers of the steps before and after the trials and
/// questionnaire scores, as wide `<step>` / `<step>_<item>` / `<step>_<scale>` columns after
/// these.
pub const PARTICIPANTS: &[Column] = &[
    col(
        EXPERIMENT,
        Str,
        false,
        "",
        "Experiment id from the protocol.",
    ),
    col(PARTICIPANT, Str, false, "", "Participant label."),
    col(SESSION, Int, false, "", "Session number, from 1."),
    col(
        CONSENT,
        Bool,
        true,
        "",
        "Consent given (empty when the protocol asks none).",
    ),
    col(
        ATTENTION_FAILED,
        Int,
        false,
        "",
        "Attention checks answered wrongly (an exclusion criterion).",
    ),
    col(SIMULATED, Bool, false, "", "The participant is simulated."),
];

/// Every table, by name.
pub const TABLES: &[(&str, &[Column])] = &[
    ("trials", TRIALS),
    ("responses", RESPONSES),
    ("continuous", CONTINUOUS),
    ("sessions", SESSIONS),
    ("participants", PARTICIPANTS),
];

/// Every fixed column name of every table (sorted, unique), plus the names the export adds
/// (`simulated`): a factor, step id or item may not produce any of these.
pub fn reserved_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = TABLES
        .iter()
        .flat_map(|(_, cols)| cols.iter().map(|c| c.name))
        .chain([SIMULATED])
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// The fixed column `name` of any table, for codebooks.
pub fn column(name: &str) -> Option<&'static Column> {
    TABLES
        .iter()
        .flat_map(|(_, cols)| cols.iter())
        .find(|c| c.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_names_are_unique_per_table() {
        for (_, table) in TABLES {
            let mut names: Vec<_> = table.iter().map(|c| c.name).collect();
            names.sort_unstable();
            let n = names.len();
            names.dedup();
            assert_eq!(names.len(), n);
        }
    }

    #[test]
    fn every_column_is_described() {
        for (_, table) in TABLES {
            for c in *table {
                assert!(c.description.ends_with('.'), "{}", c.name);
            }
        }
    }

    #[test]
    fn reserved_names_cover_every_table_and_the_export_flags() {
        let r = reserved_names();
        for name in [FLAGGED, SIMULATED, PARTICIPANT, T_MS, STATUS, CONSENT] {
            assert!(r.contains(&name), "{name}");
        }
    }
}
