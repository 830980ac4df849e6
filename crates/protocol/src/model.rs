//! The validated protocol: what the rest of cuelab sees. Every id here exists, every level is
//! declared, every path is inside the protocol's folder. Built only by [`crate::load`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

/// A validated protocol. Fields are read-only; construct one with [`crate::load`].
#[derive(Debug, Clone, Serialize)]
pub struct Protocol {
    pub(crate) experiment: Experiment,
    pub(crate) clips: Vec<Stimulus>,
    pub(crate) soundtracks: Vec<Stimulus>,
    pub(crate) factors: Vec<Factor>,
    pub(crate) design: Design,
    pub(crate) before: Vec<Step>,
    pub(crate) procedure: Vec<Step>,
    pub(crate) after: Vec<Step>,
    /// `[text]` overrides of participant-visible labels.
    pub(crate) texts: BTreeMap<String, String>,
    /// `[stimuli] normalize_lufs`: the integrated loudness every soundtrack is brought to.
    pub(crate) normalize_lufs: Option<f64>,
    /// `[triggers]`: the byte code sent to a trigger port per event.
    pub(crate) triggers: Triggers,
    /// SHA-256 (hex) of the protocol text and every file it read (conditions, pages, items).
    pub(crate) sha256: String,
}

impl Protocol {
    pub fn experiment(&self) -> &Experiment {
        &self.experiment
    }
    pub fn clips(&self) -> &[Stimulus] {
        &self.clips
    }
    pub fn soundtracks(&self) -> &[Stimulus] {
        &self.soundtracks
    }
    pub fn factors(&self) -> &[Factor] {
        &self.factors
    }
    pub fn design(&self) -> &Design {
        &self.design
    }
    /// Steps run once before the first trial (instructions, questionnaires).
    pub fn before(&self) -> &[Step] {
        &self.before
    }
    /// Steps of every trial, in order.
    pub fn procedure(&self) -> &[Step] {
        &self.procedure
    }
    /// Steps run once after the last trial (questionnaires, debrief).
    pub fn after(&self) -> &[Step] {
        &self.after
    }
    pub fn sha256(&self) -> &str {
        &self.sha256
    }
    /// The `[triggers]` table (empty when the protocol has none).
    pub fn triggers(&self) -> &Triggers {
        &self.triggers
    }
    pub fn clip(&self, id: &str) -> Option<&Stimulus> {
        self.clips.iter().find(|c| c.id == id)
    }
    pub fn soundtrack(&self, id: &str) -> Option<&Stimulus> {
        self.soundtracks.iter().find(|c| c.id == id)
    }
    /// Every step: before, procedure, after.
    pub fn all_steps(&self) -> impl Iterator<Item = &Step> {
        self.before.iter().chain(&self.procedure).chain(&self.after)
    }
    /// The step with this id.
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.all_steps().find(|s| s.id == id)
    }
    /// A participant-visible label: the protocol's `[text]` override, else the built-in
    /// English default (see [`TEXT_DEFAULTS`]). An unknown key is returned as it is.
    pub fn text<'a>(&'a self, key: &'a str) -> &'a str {
        if let Some(t) = self.texts.get(key) {
            return t;
        }
        TEXT_DEFAULTS
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(key, |(_, v)| v)
    }
    /// The integrated loudness (LUFS) soundtracks are normalized to when loaded, if any.
    pub fn normalize_lufs(&self) -> Option<f64> {
        self.normalize_lufs
    }
    /// Every stimulus file (clips then soundtracks), for checks and hashing.
    pub fn stimuli(&self) -> impl Iterator<Item = &Stimulus> {
        self.clips.iter().chain(&self.soundtracks)
    }
}

/// Every label the participant sees, with its English default; `[text]` overrides any of them.
pub const TEXT_DEFAULTS: &[(&str, &str)] = &[
    ("continue", "Press the space bar to continue."),
    ("next", "Next"),
    ("submit", "Submit"),
    ("accept", "I agree to take part"),
    ("decline", "I do not agree"),
    (
        "declined",
        "You chose not to take part. Thank you for your time.",
    ),
    ("timeout", "Time is up. The study goes on."),
    ("correct", "Correct"),
    ("incorrect", "Incorrect"),
    ("yes", "Yes"),
    ("no", "No"),
    ("confidence", "How sure are you?"),
    ("confidence_low", "guessing"),
    ("confidence_high", "sure"),
    (
        "break",
        "Take a short break. Press the space bar when you are ready to go on.",
    ),
    (
        "practice_end",
        "The practice is over. The experiment starts now.",
    ),
    ("end", "Thank you! The session is over."),
    (
        "quit_confirm",
        "Quit the session? Your answers so far are kept.",
    ),
    ("verbal_prompt", "How long did the clip last?"),
    ("seconds", "seconds"),
    ("milliseconds", "milliseconds"),
    (
        "reproduction_hold",
        "Hold the space bar for as long as the clip lasted.",
    ),
    (
        "reproduction_toggle",
        "Press the space bar to start and again to stop when as much time has passed as the clip lasted.",
    ),
    ("recognition_prompt", "Was this in the clip?"),
    ("free_text_placeholder", "Type your answer here"),
    ("fixation", "+"),
];

#[derive(Debug, Clone, Serialize)]
pub struct Experiment {
    pub id: String,
    pub title: String,
    pub version: String,
    pub description: Option<String>,
    pub authors: Vec<String>,
    /// The language participants see (a BCP 47 tag such as `en` or `de`), recorded with the data.
    pub language: String,
}

/// What kind of stimulus file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StimulusKind {
    Clip,
    Soundtrack,
}

#[derive(Debug, Clone, Serialize)]
pub struct Stimulus {
    pub id: String,
    pub kind: StimulusKind,
    /// Relative to the protocol's folder, normalised, never escaping it.
    pub path: PathBuf,
    pub gain_db: f64,
    pub fade_in_ms: u32,
    pub fade_out_ms: u32,
    /// Practice-only material: never in test trials.
    pub practice: bool,
    /// Valence on the 1–9 SAM scale (soundtracks and clips).
    pub valence: Option<f64>,
    /// Arousal on the 1–9 SAM scale (soundtracks and clips).
    pub arousal: Option<f64>,
    /// A label of the scene (clips), e.g. `chase`, `neutral`.
    pub scene: Option<String>,
    /// A per-second affect curve (soundtracks), from a CSV `t_s,valence,arousal`.
    pub curve: Option<Vec<AffectPoint>>,
    /// Where the stimulus is declared (for diagnostics from later checks, e.g. decoding).
    pub declared_at: Location,
}

/// One point of a soundtrack's affect curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AffectPoint {
    pub t_s: f64,
    pub valence: f64,
    pub arousal: f64,
}

/// A place in a protocol's source, for diagnostics produced after loading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub col: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Factor {
    pub name: String,
    pub levels: Vec<String>,
    pub within: bool,
    /// Levels name soundtrack ids (or `silence`).
    pub soundtrack: bool,
}

/// The reserved level of a soundtrack factor that plays no music.
pub const SILENCE: &str = "silence";

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pairing {
    /// Every clip with every within condition.
    Crossed,
    /// Clip i gets within condition (i + k) mod n for participant k.
    LatinSquare,
    /// Each clip with one fixed level of the soundtrack factor.
    Fixed(Vec<(String, String)>),
    /// Trials are the rows of a conditions file.
    ConditionsFile(Vec<ConditionRow>),
}

/// One row of a conditions file.
#[derive(Debug, Clone, Serialize)]
pub struct ConditionRow {
    pub clip: Option<String>,
    pub soundtrack: Option<String>,
    /// Factor name → level, in factor order.
    pub levels: Vec<(String, String)>,
}

/// What an ordering constraint is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Key {
    Clip,
    Soundtrack,
    Factor(String),
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Clip => f.write_str("clip"),
            Key::Soundtrack => f.write_str("soundtrack"),
            Key::Factor(name) => write!(f, "factor `{name}`"),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Order {
    pub shuffle: bool,
    /// No more than n consecutive trials share a value of the key.
    pub max_run: Vec<(Key, u32)>,
    /// Two trials with the same value of the key are at least d positions apart.
    pub min_distance: Vec<(Key, u32)>,
    /// `order = "williams"`: this within factor's levels follow participant k's row of a
    /// balanced Latin square, one trial per level per repetition.
    pub williams: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockOrder {
    Shuffle,
    Fixed,
    Rotate,
    /// A balanced Latin square (Williams 1949): participant k takes row k mod n (n even) or
    /// k mod 2n (n odd).
    Williams,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Blocks {
    /// One block.
    None,
    /// One block per level of a within factor.
    ByFactor { factor: String, order: BlockOrder },
    /// The ordered list split into this many nearly equal blocks.
    Count(u32),
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Practice {
    None,
    /// This many trials drawn (seeded) from the design, shown first and marked practice.
    Random(u32),
    /// These clip/soundtrack pairs, shown first.
    Trials(Vec<(Option<String>, Option<String>)>),
}

#[derive(Debug, Clone, Serialize)]
pub struct Design {
    pub pairing: Pairing,
    pub repetitions: u32,
    pub order: Order,
    pub blocks: Blocks,
    pub practice: Practice,
    /// A break before every n-th test trial (0: none).
    pub break_every: u32,
    /// The interval before each trial after the first (`Fixed(0)`: none).
    pub iti_ms: Duration,
    /// A seed fixed by the protocol; otherwise derived from its content hash.
    pub seed: Option<u64>,
    /// Where `order` is written (byte range), for diagnostics about impossible orders.
    #[serde(skip)]
    pub(crate) order_span: Option<std::ops::Range<usize>>,
}

/// One step of a procedure: its id, when it runs, how long it may wait, and what it does.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// Unique across `before`, `procedure` and `after`: given as `id = "..."`, or derived as the
    /// kind plus a count of the steps of that kind (`rating1`, `rating2`, ...). It names the
    /// step's responses in the data.
    pub id: String,
    /// The step runs only on trials where this is true (`when = '...'`).
    pub when: Option<Condition>,
    /// After this long without an answer the response is recorded as missing (`timed_out`).
    pub timeout_ms: Option<u32>,
    pub kind: StepKind,
    /// Where the step is declared.
    pub declared_at: Location,
}

impl Step {
    /// The name of the step's kind as written in the protocol (`rating`, `time_estimate`, ...).
    pub fn kind_name(&self) -> &'static str {
        self.kind.name()
    }

    /// The wide trials/participants column names this step produces: `<id>` for single-valued
    /// steps, `<id>_<item>` for multi-item ones, and `<id>_<subscale>` for questionnaire scores.
    /// Steps that record no answer (instructions, fixation, blank, the clip) produce none.
    pub fn output_names(&self) -> Vec<String> {
        let id = &self.id;
        match &self.kind {
            StepKind::Instructions { .. }
            | StepKind::Fixation { .. }
            | StepKind::Blank { .. }
            | StepKind::Clip { .. } => Vec::new(),
            StepKind::Recognition { .. } => std::iter::once(id.clone())
                .chain(self.confidence_step())
                .collect(),
            StepKind::Consent { .. }
            | StepKind::TimeEstimate { .. }
            | StepKind::Choice { .. }
            | StepKind::FreeText { .. } => vec![id.clone()],
            StepKind::Rating(r) if r.is_single() => vec![id.clone()],
            StepKind::Rating(r) => r.items.iter().map(|i| format!("{id}_{i}")).collect(),
            StepKind::Questionnaire(q) => q
                .items
                .iter()
                .map(|i| format!("{id}_{}", i.key))
                .chain(q.scales.iter().map(|s| format!("{id}_{s}")))
                .collect(),
        }
    }

    /// The step id under which a recognition step with `confidence = N` records each answer's
    /// confidence (`<id>_confidence`, kind `recognition_confidence`), so the old/new answers stay
    /// alone under the step's own id; `None` for other steps.
    pub fn confidence_step(&self) -> Option<String> {
        match &self.kind {
            StepKind::Recognition {
                confidence_points: Some(_),
                ..
            } => Some(format!("{}_confidence", self.id)),
            _ => None,
        }
    }

    /// The step's fixed or jittered duration (fixation and blank steps).
    pub fn duration(&self) -> Option<&Duration> {
        match &self.kind {
            StepKind::Fixation { ms } | StepKind::Blank { ms } => Some(ms),
            _ => None,
        }
    }
}

/// What a step does.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
#[non_exhaustive]
pub enum StepKind {
    /// A consent page (Markdown) with accept and decline; declining ends the session.
    Consent {
        markdown: String,
    },
    /// A page of Markdown, continued with a key press.
    Instructions {
        markdown: String,
    },
    Fixation {
        ms: Duration,
    },
    Blank {
        ms: Duration,
    },
    /// The trial's clip (and soundtrack), with an optional continuous rating.
    Clip {
        continuous: Option<Continuous>,
        offset_ms: f64,
    },
    Rating(Rating),
    TimeEstimate {
        method: EstimateMethod,
        unit: TimeUnit,
        prompt: String,
        /// How a reproduction is entered (verbal estimates ignore it).
        input: ReproductionInput,
    },
    Choice {
        prompt: String,
        options: Vec<String>,
        correct: Option<String>,
        /// A wrong answer marks the participant for exclusion (needs `correct`).
        attention_check: bool,
        /// Show correct/incorrect after the answer (practice trials only).
        feedback: bool,
    },
    /// Old/new questions about the trial's clip.
    Recognition {
        prompt: String,
        items: Vec<RecognitionItem>,
        confidence_points: Option<u32>,
        /// Show correct/incorrect after each answer (practice trials only).
        feedback: bool,
    },
    FreeText {
        prompt: String,
        max_chars: u32,
    },
    Questionnaire(Questionnaire),
}

impl StepKind {
    /// The kind's name as written in the protocol.
    pub fn name(&self) -> &'static str {
        match self {
            StepKind::Consent { .. } => "consent",
            StepKind::Instructions { .. } => "instructions",
            StepKind::Fixation { .. } => "fixation",
            StepKind::Blank { .. } => "blank",
            StepKind::Clip { .. } => "clip",
            StepKind::Rating(_) => "rating",
            StepKind::TimeEstimate { .. } => "time_estimate",
            StepKind::Choice { .. } => "choice",
            StepKind::Recognition { .. } => "recognition",
            StepKind::FreeText { .. } => "free_text",
            StepKind::Questionnaire(_) => "questionnaire",
        }
    }

    /// Does the step wait for the participant (so that a timeout applies)?
    pub fn waits(&self) -> bool {
        !matches!(
            self,
            StepKind::Fixation { .. } | StepKind::Blank { .. } | StepKind::Clip { .. }
        )
    }
}

/// A step's duration in milliseconds: fixed, or drawn per trial (whole ms, both ends inclusive)
/// from the participant's seeded stream and written into the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Duration {
    Fixed(u32),
    Uniform { min: u32, max: u32 },
}

impl Duration {
    /// The expected duration, ms.
    pub fn mean_ms(&self) -> f64 {
        match *self {
            Duration::Fixed(ms) => f64::from(ms),
            Duration::Uniform { min, max } => (f64::from(min) + f64::from(max)) / 2.0,
        }
    }
}

/// How a duration reproduction is entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReproductionInput {
    /// Hold the space bar for the duration.
    #[default]
    Hold,
    /// Press space to start and again to stop.
    Toggle,
}

/// The `[triggers]` table: which byte a hardware trigger port sends for each marker event
/// (`cuelab_core::marker::MarkerEvent::name()`), with condition-specific codes for trial events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Triggers {
    /// Event name → code (1–255). An event not named sends no trigger.
    pub codes: BTreeMap<String, u8>,
    /// `[[triggers.when]]` rules in the order written; the first that matches wins.
    pub rules: Vec<TriggerRule>,
}

/// `[[triggers.when]]`: on trials where `when` holds, `event` sends `code`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TriggerRule {
    pub when: Condition,
    pub event: String,
    pub code: u8,
}

impl Triggers {
    /// Whether the protocol declares no trigger codes at all (no `[triggers]` table, or an
    /// empty one): the trigger port then uses its defaults.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty() && self.rules.is_empty()
    }

    /// The code for `event` on a trial whose variables `conditions` gives (factor names, `clip`,
    /// `soundtrack`; for session events, nothing): the first rule for `event` whose `when`
    /// holds, else the event's code, else `None` (no trigger).
    pub fn code(&self, event: &str, conditions: &dyn Fn(&str) -> Option<String>) -> Option<u8> {
        self.rules
            .iter()
            .find(|r| r.event == event && r.when.eval(conditions))
            .map(|r| r.code)
            .or_else(|| self.codes.get(event).copied())
    }
}

/// A boolean expression over a trial's condition values (`when = '...'`). Variables are factor
/// names, `clip` and `soundtrack` (`"silence"` on a trial without music).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// `var == "value"`.
    Eq(String, String),
    /// `var != "value"`.
    Ne(String, String),
    /// `var in ["a", "b"]`.
    In(String, Vec<String>),
    /// `var not in ["a", "b"]`.
    NotIn(String, Vec<String>),
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
    Not(Box<Condition>),
}

impl Condition {
    /// Evaluates the expression; `lookup` gives a variable's value (`None`: no value, which
    /// equals nothing).
    pub fn eval(&self, lookup: &dyn Fn(&str) -> Option<String>) -> bool {
        match self {
            Condition::Eq(var, v) => lookup(var).is_some_and(|x| x == *v),
            Condition::Ne(var, v) => lookup(var).is_none_or(|x| x != *v),
            Condition::In(var, vs) => lookup(var).is_some_and(|x| vs.contains(&x)),
            Condition::NotIn(var, vs) => lookup(var).is_none_or(|x| !vs.contains(&x)),
            Condition::And(a, b) => a.eval(lookup) && b.eval(lookup),
            Condition::Or(a, b) => a.eval(lookup) || b.eval(lookup),
            Condition::Not(a) => !a.eval(lookup),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Continuous {
    pub dims: Vec<String>,
    pub hz: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// Self-Assessment Manikin, 9 points.
    Sam,
    /// Visual analogue scale, 0–100.
    Vas,
    Likert,
    /// Several discrete emotions, each rated.
    Emotions,
    /// A semantic differential: each item a pair of opposite labels, coded 1..points from left
    /// to right.
    Bipolar,
}

#[derive(Debug, Clone, Serialize)]
pub struct Rating {
    pub scale: Scale,
    /// The dimensions or items rated (e.g. valence, arousal; or happy, sad, ...). For a bipolar
    /// scale, `left_right` names derived from [`Rating::pairs`].
    pub items: Vec<String>,
    /// The label pairs of a bipolar scale (left, right), in the order of `items`.
    pub pairs: Vec<(String, String)>,
    pub prompt: Option<String>,
    pub anchors: Option<(String, String)>,
    pub points: u32,
    /// Present the items in a new seeded order on every trial (recorded in the plan).
    pub shuffle_items: bool,
}

impl Rating {
    /// A rating that gives one value (a VAS with no named items): its column is the step id.
    pub fn is_single(&self) -> bool {
        self.scale == Scale::Vas && self.items.len() == 1
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EstimateMethod {
    /// Type the duration as a number.
    Verbal,
    /// Hold a key for as long as the clip seemed to last.
    Reproduction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnit {
    S,
    Ms,
}

#[derive(Debug, Clone, Serialize)]
pub struct RecognitionItem {
    pub clip: String,
    pub item: String,
    /// Was the detail in the clip (an "old" item)?
    pub old: bool,
    /// Is the detail congruent with the music's mood (optional `congruent` column)?
    pub congruent: Option<bool>,
}

/// A questionnaire: built in (with its published items and scoring key) or custom.
#[derive(Debug, Clone, Serialize)]
pub struct Questionnaire {
    /// The step id (a questionnaire's own `id` is an alias of it).
    pub id: String,
    /// `gold-msi` or `demographics` for a built-in instrument.
    pub builtin: Option<String>,
    /// Where the items and scoring come from (built-in instruments).
    pub source: Option<String>,
    pub items: Vec<QuestionnaireItem>,
    /// Points of the agree/disagree items (custom `points`, 7 for the Gold-MSI).
    pub points: u32,
    /// Scale (subscale) names in order; each is scored as the sum of its items with reverse
    /// items recoded (`points + 1 - answer`), in the column `<id>_<scale>`.
    pub scales: Vec<String>,
    /// Present the items in a new seeded order (recorded in the plan).
    pub shuffle_items: bool,
}

/// One questionnaire item.
#[derive(Debug, Clone, Serialize)]
pub struct QuestionnaireItem {
    /// Names the item's column (`<step>_<key>`) and response item.
    pub key: String,
    pub text: String,
    pub response: ItemResponse,
    /// Scored `points + 1 - answer` (agree/disagree items) or `n + 1 - answer` (options).
    pub reverse: bool,
    /// The scales this item counts toward.
    pub scales: Vec<String>,
}

/// How a questionnaire item is answered.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum ItemResponse {
    /// An agree/disagree scale coded 1..=points.
    Points { points: u32, labels: Vec<String> },
    /// One of these options, coded 1..=n in the order given (scorable when the options are
    /// ordered, as for Gold-MSI items 32–38).
    Options { options: Vec<String> },
    /// A whole number in a range (e.g. age in years).
    Number { min: u32, max: u32 },
    /// Free text.
    Text { max_chars: u32 },
}

impl ItemResponse {
    /// The number of coded answers, for ordinal items.
    pub fn n_codes(&self) -> Option<u32> {
        match self {
            ItemResponse::Points { points, .. } => Some(*points),
            ItemResponse::Options { options } => u32::try_from(options.len()).ok(),
            _ => None,
        }
    }
}

impl Questionnaire {
    /// Scale scores from coded answers (`(item key, 1-based code)`): each scale is the sum of
    /// its items, reverse items recoded as `n + 1 - code`. A scale with an unanswered item
    /// (missing or NaN) is left out. In the order of [`Questionnaire::scales`].
    pub fn score(&self, answers: &[(String, f64)]) -> Vec<(String, f64)> {
        let mut out = Vec::new();
        'scale: for scale in &self.scales {
            let mut sum = 0.0;
            for item in self.items.iter().filter(|i| i.scales.contains(scale)) {
                let Some(v) = answers
                    .iter()
                    .find(|(k, _)| *k == item.key)
                    .map(|(_, v)| *v)
                    .filter(|v| v.is_finite())
                else {
                    continue 'scale;
                };
                let n = f64::from(item.response.n_codes().unwrap_or(0));
                sum += if item.reverse { n + 1.0 - v } else { v };
            }
            out.push((scale.clone(), sum));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_codes_omit_unnamed_events_and_rules_apply_in_order() {
        let eq = |v: &str, x: &str| Condition::Eq(v.into(), x.into());
        let t = Triggers {
            codes: BTreeMap::from([("audio_onset".to_string(), 3), ("trial_end".to_string(), 6)]),
            rules: vec![
                TriggerRule {
                    when: eq("music", "arousing"),
                    event: "audio_onset".into(),
                    code: 31,
                },
                TriggerRule {
                    when: Condition::Not(Box::new(eq("music", "arousing"))),
                    event: "trial_start".into(),
                    code: 40,
                },
                TriggerRule {
                    when: eq("clip", "street"),
                    event: "audio_onset".into(),
                    code: 32,
                },
            ],
        };
        let vars = |music: &'static str, clip: &'static str| {
            move |v: &str| match v {
                "music" => Some(music.to_string()),
                "clip" => Some(clip.to_string()),
                _ => None,
            }
        };
        assert_eq!(t.code("audio_onset", &vars("arousing", "street")), Some(31));
        assert_eq!(t.code("audio_onset", &vars("calm", "street")), Some(32));
        assert_eq!(t.code("audio_onset", &vars("calm", "beach")), Some(3));
        assert_eq!(t.code("trial_start", &vars("calm", "beach")), Some(40));
        // trial_start has no code of its own: no trigger where its rule does not hold.
        assert_eq!(t.code("trial_start", &vars("arousing", "beach")), None);
        assert_eq!(t.code("trial_end", &|_| None), Some(6));
        assert_eq!(t.code("session_start", &|_| None), None);
        assert!(!t.is_empty());
        assert!(Triggers::default().is_empty());
    }
}
