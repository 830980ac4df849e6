//! The validated protocol: what the rest of cuelab sees. Every id here exists, every level is
//! declared, every path is inside the protocol's folder. Built only by [`crate::load`].

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
    pub fn clip(&self, id: &str) -> Option<&Stimulus> {
        self.clips.iter().find(|c| c.id == id)
    }
    pub fn soundtrack(&self, id: &str) -> Option<&Stimulus> {
        self.soundtracks.iter().find(|c| c.id == id)
    }
    /// Every stimulus file (clips then soundtracks), for checks and hashing.
    pub fn stimuli(&self) -> impl Iterator<Item = &Stimulus> {
        self.clips.iter().chain(&self.soundtracks)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Experiment {
    pub id: String,
    pub title: String,
    pub version: String,
    pub description: Option<String>,
    pub authors: Vec<String>,
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
    /// Where the stimulus is declared (for diagnostics from later checks, e.g. decoding).
    pub declared_at: Location,
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockOrder {
    Shuffle,
    Fixed,
    Rotate,
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
    /// A seed fixed by the protocol; otherwise derived from its content hash.
    pub seed: Option<u64>,
    /// Where `order` is written (byte range), for diagnostics about impossible orders.
    #[serde(skip)]
    pub(crate) order_span: Option<std::ops::Range<usize>>,
}

/// One step of a procedure.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
#[non_exhaustive]
pub enum Step {
    /// A page of Markdown, continued with a key press.
    Instructions {
        markdown: String,
    },
    Fixation {
        ms: u32,
    },
    Blank {
        ms: u32,
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
    },
    Choice {
        prompt: String,
        options: Vec<String>,
        correct: Option<String>,
    },
    /// Old/new questions about the trial's clip.
    Recognition {
        prompt: String,
        items: Vec<RecognitionItem>,
        confidence_points: Option<u32>,
    },
    FreeText {
        prompt: String,
        max_chars: u32,
    },
    Questionnaire(Questionnaire),
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
}

#[derive(Debug, Clone, Serialize)]
pub struct Rating {
    pub scale: Scale,
    /// The dimensions or items rated (e.g. valence, arousal; or happy, sad, ...).
    pub items: Vec<String>,
    pub prompt: Option<String>,
    pub anchors: Option<(String, String)>,
    pub points: u32,
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
}

#[derive(Debug, Clone, Serialize)]
pub struct Questionnaire {
    pub id: String,
    pub builtin: Option<String>,
    pub items: Vec<String>,
    pub points: u32,
}
