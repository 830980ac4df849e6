//! The one place that names the columns and types of the tables cuelab writes.
//!
//! The session journal's export and the analysis crate both read these constants, so a column
//! renamed here is renamed everywhere. Condition columns are dynamic: each factor of the
//! protocol becomes a column named after the factor.

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
    /// Boolean.
    Bool,
}

/// A named, typed column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub dtype: DType,
    /// May the column hold nulls?
    pub nullable: bool,
}

const fn col(name: &'static str, dtype: DType, nullable: bool) -> Column {
    Column {
        name,
        dtype,
        nullable,
    }
}

pub const PARTICIPANT: &str = "participant";
pub const SESSION: &str = "session";
pub const TRIAL_INDEX: &str = "trial_index";
pub const BLOCK: &str = "block";
pub const PRACTICE: &str = "practice";
pub const CLIP: &str = "clip";
pub const SOUNDTRACK: &str = "soundtrack";
pub const SCHEDULED_ONSET_NS: &str = "scheduled_onset_ns";
pub const AUDIO_ONSET_NS: &str = "audio_onset_ns";
pub const VIDEO_ONSET_NS: &str = "video_onset_ns";
pub const AV_OFFSET_MS: &str = "av_offset_ms";
pub const FRAMES_SHOWN: &str = "frames_shown";
pub const FRAMES_DROPPED: &str = "frames_dropped";
pub const XRUNS: &str = "xruns";
pub const FLAGGED: &str = "flagged";
pub const STEP: &str = "step";
pub const KIND: &str = "kind";
pub const ITEM: &str = "item";
pub const VALUE: &str = "value";
pub const TEXT: &str = "text";
pub const RT_MS: &str = "rt_ms";
pub const CORRECT: &str = "correct";
pub const T_MS: &str = "t_ms";

/// One row per trial. Factor columns (one per protocol factor, text) follow these.
pub const TRIALS: &[Column] = &[
    col(PARTICIPANT, DType::Str, false),
    col(SESSION, DType::Int, false),
    col(TRIAL_INDEX, DType::Int, false),
    col(BLOCK, DType::Int, false),
    col(PRACTICE, DType::Bool, false),
    col(CLIP, DType::Str, true),
    col(SOUNDTRACK, DType::Str, true),
    col(SCHEDULED_ONSET_NS, DType::Int, true),
    col(AUDIO_ONSET_NS, DType::Int, true),
    col(VIDEO_ONSET_NS, DType::Int, true),
    col(AV_OFFSET_MS, DType::Float, true),
    col(FRAMES_SHOWN, DType::Int, true),
    col(FRAMES_DROPPED, DType::Int, true),
    col(XRUNS, DType::Int, true),
    col(FLAGGED, DType::Bool, false),
];

/// One row per response (a rating dimension, a time estimate, a choice, a text answer).
pub const RESPONSES: &[Column] = &[
    col(PARTICIPANT, DType::Str, false),
    col(SESSION, DType::Int, false),
    col(TRIAL_INDEX, DType::Int, false),
    col(STEP, DType::Int, false),
    col(KIND, DType::Str, false),
    col(ITEM, DType::Str, false),
    col(VALUE, DType::Float, true),
    col(TEXT, DType::Str, true),
    col(RT_MS, DType::Float, true),
    col(CORRECT, DType::Bool, true),
];

/// One row per continuous-rating sample.
pub const CONTINUOUS: &[Column] = &[
    col(PARTICIPANT, DType::Str, false),
    col(SESSION, DType::Int, false),
    col(TRIAL_INDEX, DType::Int, false),
    col(ITEM, DType::Str, false),
    col(T_MS, DType::Float, false),
    col(VALUE, DType::Float, false),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_names_are_unique_per_table() {
        for table in [TRIALS, RESPONSES, CONTINUOUS] {
            let mut names: Vec<_> = table.iter().map(|c| c.name).collect();
            names.sort_unstable();
            let n = names.len();
            names.dedup();
            assert_eq!(names.len(), n);
        }
    }
}
