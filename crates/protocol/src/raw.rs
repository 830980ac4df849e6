//! The protocol file as written: serde structs that mirror the TOML, with spans kept for every
//! value that validation may complain about. Unknown keys are errors (`deny_unknown_fields`).
//! Only this module knows TOML syntax; [`crate::model`] is what the rest of cuelab sees.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use toml::Spanned;

pub type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProtocol {
    pub experiment: S<RawExperiment>,
    #[serde(default)]
    pub stimuli: Option<RawStimuli>,
    #[serde(default)]
    pub factors: Option<BTreeMap<S<String>, S<RawFactor>>>,
    #[serde(default)]
    pub conditions: Option<S<RawConditions>>,
    #[serde(default)]
    pub design: Option<S<RawDesign>>,
    #[serde(default)]
    pub before: Vec<S<RawStep>>,
    pub procedure: S<Vec<S<RawStep>>>,
    #[serde(default)]
    pub after: Vec<S<RawStep>>,
    /// Overrides of participant-visible labels.
    #[serde(default)]
    pub text: Option<BTreeMap<S<String>, S<String>>>,
    /// Trigger codes: `event = code`, and `[[triggers.when]]` rules for trial events.
    #[serde(default)]
    pub triggers: Option<BTreeMap<S<String>, S<RawTriggerEntry>>>,
}

/// A key of `[triggers]`: an event's code, or (key `when`) the list of condition rules.
#[derive(Debug)]
pub enum RawTriggerEntry {
    Code(i64),
    Rules(Vec<S<RawTriggerRule>>),
}

/// `[[triggers.when]]`: on trials where `when` holds, `event` sends `code`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTriggerRule {
    pub when: S<String>,
    pub event: S<String>,
    pub code: S<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExperiment {
    pub id: S<String>,
    pub title: S<String>,
    pub version: S<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub authors: Vec<String>,
    #[serde(default)]
    pub language: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStimuli {
    #[serde(default)]
    pub clips: BTreeMap<S<String>, S<RawStimulus>>,
    #[serde(default)]
    pub soundtracks: BTreeMap<S<String>, S<RawStimulus>>,
    /// Bring every soundtrack to this integrated loudness (LUFS) when it is loaded.
    #[serde(default)]
    pub normalize_lufs: Option<S<f64>>,
}

/// A stimulus is a path, or a table with the path and options. (Not `#[serde(untagged)]`:
/// untagged enums buffer their input and lose the spans of everything inside.)
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // Parsed once per stimulus; boxing would only add noise.
pub enum RawStimulus {
    Path(String),
    Table(RawStimulusTable),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStimulusTable {
    pub file: S<String>,
    #[serde(default)]
    pub gain_db: Option<S<f64>>,
    #[serde(default)]
    pub fade_in_ms: Option<S<u32>>,
    #[serde(default)]
    pub fade_out_ms: Option<S<u32>>,
    #[serde(default)]
    pub practice: Option<S<bool>>,
    #[serde(default)]
    pub valence: Option<S<f64>>,
    #[serde(default)]
    pub arousal: Option<S<f64>>,
    #[serde(default)]
    pub scene: Option<S<String>>,
    /// CSV `t_s,valence,arousal`: the soundtrack's affect per second.
    #[serde(default)]
    pub curve: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFactor {
    pub levels: S<Vec<S<String>>>,
    #[serde(default = "yes")]
    pub within: bool,
    /// The levels name soundtracks (or `silence`): this factor chooses what is heard.
    #[serde(default)]
    pub soundtrack: Option<S<bool>>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConditions {
    /// A CSV file, one row per trial: optional `clip` and `soundtrack` columns, and one column
    /// per factor.
    pub file: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDesign {
    #[serde(default)]
    pub pairing: Option<S<String>>,
    /// For `pairing = "fixed"`: clip id → level of the soundtrack factor.
    #[serde(default)]
    pub pairs: Option<BTreeMap<S<String>, S<String>>>,
    #[serde(default)]
    pub repetitions: Option<S<u32>>,
    #[serde(default)]
    pub order: Option<S<RawOrderSpec>>,
    #[serde(default)]
    pub blocks: Option<S<RawBlocks>>,
    #[serde(default)]
    pub practice: Option<S<RawPractice>>,
    #[serde(default)]
    pub break_every: Option<S<u32>>,
    #[serde(default)]
    pub iti_ms: Option<S<RawMs>>,
    #[serde(default)]
    pub seed: Option<S<u64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOrder {
    #[serde(default = "yes")]
    pub shuffle: bool,
    #[serde(default)]
    pub max_run: Option<S<RawPerKey>>,
    #[serde(default)]
    pub min_distance: Option<S<RawPerKey>>,
}

/// A trial order: a keyword (`"williams"`, `"shuffle"`, `"fixed"`) or a table.
#[derive(Debug)]
pub enum RawOrderSpec {
    Keyword(String),
    Table(RawOrder),
}

/// A number for the default key(s), or a table of key → number.
#[derive(Debug)]
pub enum RawPerKey {
    All(u32),
    PerKey(BTreeMap<S<String>, S<u32>>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBlocks {
    /// Group trials into one block per level of this within factor.
    #[serde(default)]
    pub by: Option<S<String>>,
    /// Or split the trial list into this many equal blocks.
    #[serde(default)]
    pub count: Option<S<u32>>,
    /// `shuffle` (default), `fixed` (declared level order) or `rotate` (Latin rotation).
    #[serde(default)]
    pub order: Option<S<String>>,
}

#[derive(Debug)]
pub enum RawPractice {
    Count(u32),
    Trials(Vec<S<RawPracticeTrial>>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPracticeTrial {
    #[serde(default)]
    pub clip: Option<S<String>>,
    #[serde(default)]
    pub soundtrack: Option<S<String>>,
}

/// One step of a procedure: exactly one of the kind keys, and the step-level keys.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    #[serde(default)]
    pub id: Option<S<String>>,
    #[serde(default)]
    pub when: Option<S<String>>,
    #[serde(default)]
    pub timeout_ms: Option<S<i64>>,
    #[serde(default)]
    pub consent: Option<S<RawInstructions>>,
    #[serde(default)]
    pub instructions: Option<S<RawInstructions>>,
    #[serde(default)]
    pub fixation: Option<S<RawDuration>>,
    #[serde(default)]
    pub blank: Option<S<RawDuration>>,
    #[serde(default)]
    pub clip: Option<S<RawClipStep>>,
    #[serde(default)]
    pub rating: Option<S<RawRating>>,
    #[serde(default)]
    pub time_estimate: Option<S<RawTimeEstimate>>,
    #[serde(default)]
    pub choice: Option<S<RawChoice>>,
    #[serde(default)]
    pub recognition: Option<S<RawRecognition>>,
    #[serde(default)]
    pub free_text: Option<S<RawFreeText>>,
    #[serde(default)]
    pub questionnaire: Option<S<RawQuestionnaire>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInstructions {
    #[serde(default)]
    pub text: Option<S<String>>,
    #[serde(default)]
    pub file: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDuration {
    pub ms: S<RawMs>,
}

/// Milliseconds: a number, or `{ uniform = [min, max] }`.
#[derive(Debug)]
pub enum RawMs {
    Fixed(i64),
    Uniform(RawUniform),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUniform {
    pub uniform: S<Vec<S<i64>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClipStep {
    #[serde(default)]
    pub continuous: Option<S<RawContinuous>>,
    /// Audio onset relative to the first video frame, in ms (negative: audio first).
    #[serde(default)]
    pub offset_ms: Option<S<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawContinuous {
    pub dims: S<Vec<S<String>>>,
    #[serde(default)]
    pub hz: Option<S<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRating {
    pub scale: S<String>,
    #[serde(default)]
    pub dims: Option<S<Vec<S<String>>>>,
    #[serde(default)]
    pub items: Option<S<Vec<S<RawRatingItem>>>>,
    #[serde(default)]
    pub prompt: Option<String>,
    #[serde(default)]
    pub anchors: Option<S<Vec<String>>>,
    #[serde(default)]
    pub points: Option<S<u32>>,
    #[serde(default)]
    pub shuffle_items: bool,
}

/// A rating item: a name, or (bipolar scales) a pair of labels.
#[derive(Debug)]
pub enum RawRatingItem {
    Name(String),
    Pair(Vec<S<String>>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTimeEstimate {
    pub method: S<String>,
    #[serde(default)]
    pub unit: Option<S<String>>,
    #[serde(default)]
    pub prompt: Option<String>,
    /// `hold` (default) or `toggle`, for reproductions.
    #[serde(default)]
    pub input: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChoice {
    pub prompt: S<String>,
    pub options: S<Vec<S<String>>>,
    #[serde(default)]
    pub correct: Option<S<String>>,
    #[serde(default)]
    pub attention_check: Option<S<bool>>,
    #[serde(default)]
    pub feedback: Option<S<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRecognition {
    /// CSV with columns `clip`, `item`, `old` (true/false): the questions asked after each clip.
    pub items: S<String>,
    #[serde(default)]
    pub prompt: Option<String>,
    #[serde(default)]
    pub confidence: Option<S<u32>>,
    #[serde(default)]
    pub feedback: Option<S<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFreeText {
    pub prompt: S<String>,
    #[serde(default)]
    pub max_chars: Option<S<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawQuestionnaire {
    /// A built-in questionnaire: `demographics` or `gold-msi`.
    #[serde(default)]
    pub builtin: Option<S<String>>,
    /// Or custom items: texts, or tables with `text`, `reverse`, `scale`, `options`, `key`.
    #[serde(default)]
    pub items: Option<S<Vec<S<RawQuestionItem>>>>,
    #[serde(default)]
    pub points: Option<S<u32>>,
    #[serde(default)]
    pub id: Option<S<String>>,
    #[serde(default)]
    pub shuffle_items: bool,
}

/// A custom questionnaire item: its text, or a table.
#[derive(Debug)]
pub enum RawQuestionItem {
    Text(String),
    Table(RawQuestionTable),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawQuestionTable {
    pub text: S<String>,
    #[serde(default)]
    pub key: Option<S<String>>,
    #[serde(default)]
    pub reverse: Option<S<bool>>,
    #[serde(default)]
    pub scale: Option<S<String>>,
    #[serde(default)]
    pub options: Option<S<Vec<S<String>>>>,
}

/// `Deserialize` for a two-shape value (a scalar or a table/array) that keeps the spans of the
/// table's fields: the visitor hands the toml deserializer's own map/seq access to the inner type.
macro_rules! either_shape {
    ($ty:ident, $expecting:literal, scalar: $sfn:ident($sarg:ty) => $sbody:expr, $kind:ident: $inner:ty => $wrap:expr) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str($expecting)
                    }
                    fn $sfn<E: de::Error>(self, v: $sarg) -> Result<$ty, E> {
                        #[allow(clippy::redundant_closure_call)]
                        ($sbody)(v)
                    }
                    either_shape!(@compound $kind, $inner, $wrap, $ty);
                }
                d.deserialize_any(V)
            }
        }
    };
    (@compound map, $inner:ty, $wrap:expr, $ty:ident) => {
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<$ty, A::Error> {
            <$inner>::deserialize(MapAccessDeserializer::new(map)).map($wrap)
        }
    };
    (@compound seq, $inner:ty, $wrap:expr, $ty:ident) => {
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<$ty, A::Error> {
            <$inner>::deserialize(SeqAccessDeserializer::new(seq)).map($wrap)
        }
    };
}

fn to_u32<E: de::Error>(v: i64) -> Result<u32, E> {
    u32::try_from(v).map_err(|_| E::custom(format!("{v} is out of range (0..=4294967295)")))
}

either_shape!(RawStimulus, "a file path, or a table with `file`",
    scalar: visit_str(&str) => |v: &str| Ok(RawStimulus::Path(v.to_string())),
    map: RawStimulusTable => RawStimulus::Table);
either_shape!(RawPerKey, "a number, or a table of key = number",
    scalar: visit_i64(i64) => |v| to_u32(v).map(RawPerKey::All),
    map: BTreeMap<S<String>, S<u32>> => RawPerKey::PerKey);
either_shape!(RawPractice, "a number of trials, or a list of { clip, soundtrack }",
    scalar: visit_i64(i64) => |v| to_u32(v).map(RawPractice::Count),
    seq: Vec<S<RawPracticeTrial>> => RawPractice::Trials);
either_shape!(RawMs, "a number of milliseconds, or { uniform = [min, max] }",
    scalar: visit_i64(i64) => |v| Ok(RawMs::Fixed(v)),
    map: RawUniform => RawMs::Uniform);
either_shape!(RawRatingItem, "an item name, or a pair of labels [\"left\", \"right\"]",
    scalar: visit_str(&str) => |v: &str| Ok(RawRatingItem::Name(v.to_string())),
    seq: Vec<S<String>> => RawRatingItem::Pair);
either_shape!(RawQuestionItem, "an item's text, or a table with `text`",
    scalar: visit_str(&str) => |v: &str| Ok(RawQuestionItem::Text(v.to_string())),
    map: RawQuestionTable => RawQuestionItem::Table);
either_shape!(RawOrderSpec, "\"williams\", \"shuffle\", \"fixed\", or a table such as { shuffle = true, max_run = 2 }",
    scalar: visit_str(&str) => |v: &str| Ok(RawOrderSpec::Keyword(v.to_string())),
    map: RawOrder => RawOrderSpec::Table);
either_shape!(RawTriggerEntry, "a code 1 to 255, or (key `when`) a list of { when, event, code }",
    scalar: visit_i64(i64) => |v| Ok(RawTriggerEntry::Code(v)),
    seq: Vec<S<RawTriggerRule>> => RawTriggerEntry::Rules);
