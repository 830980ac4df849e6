//! Built-in questionnaires with their published items, response formats and scoring keys.
//!
//! The Gold-MSI self-report inventory (Müllensiefen, Gingras, Musil & Stewart 2014, "The
//! musicality of non-musicians: an index for assessing musical sophistication in the general
//! population", PLoS ONE 9(2): e89642) is taken from the psyquest R package (Höger & Frieler,
//! MIT licence, <https://github.com/klausfrieler/psyquest>): item texts and answer categories from
//! `data_raw/dicts/GMS_dict.csv` (English column), reverse keying (`function(x) (8-(x+0))+0`) and
//! subscales from `data_raw/item_banks/GMS_item_bank.csv`, as `R/GMS.R` and `R/main_test.R` use
//! them. We keep psyquest's item numbering (`q1`..`q39`; its q32, q40 and q41 — instrument, start
//! age, absolute pitch — are not part of the 38-item inventory and are left out). Seven items
//! (psyquest's q2, q12, q17, q18, q21, q22, q31; items 32–38 of the paper's numbering) answer on
//! their own ordered categories, coded 1–7 like the agree/disagree items.
//!
//! Scores are sums as the authors publish them (General Musical Sophistication 18–126, Active
//! Engagement 9–63, Perceptual Abilities 9–63, Musical Training 7–49, Singing Abilities 7–49,
//! Emotions 6–42); psyquest reports the same scores as means (sum ÷ number of items).

use crate::model::{ItemResponse, Questionnaire, QuestionnaireItem};

/// The names of the built-in questionnaires.
pub const NAMES: &[&str] = &["demographics", "gold-msi"];

/// Where the Gold-MSI items and scoring come from.
pub const GOLD_MSI_SOURCE: &str = "Müllensiefen et al. (2014), Gold-MSI v1.0 self-report inventory; items and scoring from the psyquest R package (MIT), data_raw/dicts/GMS_dict.csv and data_raw/item_banks/GMS_item_bank.csv";

/// The Gold-MSI scales in the order they are reported (`<step>_<scale>` columns).
pub const GOLD_MSI_SCALES: &[&str] = &[
    "active_engagement",
    "perceptual_abilities",
    "musical_training",
    "singing_abilities",
    "emotions",
    "general",
];

/// A built-in questionnaire by name (its `id` is set by the caller).
pub fn builtin(name: &str) -> Option<Questionnaire> {
    match name {
        "demographics" => Some(demographics()),
        "gold-msi" => Some(gold_msi()),
        _ => None,
    }
}

struct GoldMsiItem {
    n: u32,
    text: &'static str,
    reverse: bool,
    scales: &'static [&'static str],
    categories: Option<&'static [&'static str]>,
}

/// The Gold-MSI self-report items as psyquest numbers them (`q<n>` = `TGMS_00<n>`): text,
/// reverse-keyed, scales, and the item's own ordered categories when it does not answer on the
/// agree/disagree scale.
const GOLD_MSI_ITEMS: &[GoldMsiItem] = &[
    GoldMsiItem {
        n: 1,
        text: "I spend a lot of my free time doing music-related activities.",
        reverse: false,
        scales: &["active_engagement", "general"],
        categories: None,
    },
    GoldMsiItem {
        n: 2,
        text: "I engaged in regular, daily practice of a musical instrument (including voice) for the following number of years:",
        reverse: false,
        scales: &["musical_training", "general"],
        categories: Some(&["0", "1", "2", "3", "4-5", "6-9", "10 or more"]),
    },
    GoldMsiItem {
        n: 3,
        text: "I sometimes choose music that can trigger shivers down my spine.",
        reverse: false,
        scales: &["emotions"],
        categories: None,
    },
    GoldMsiItem {
        n: 4,
        text: "I enjoy writing about music, for example on blogs and forums.",
        reverse: false,
        scales: &["active_engagement", "general"],
        categories: None,
    },
    GoldMsiItem {
        n: 5,
        text: "If somebody starts singing a song I don't know, I can usually join in.",
        reverse: false,
        scales: &["singing_abilities", "general"],
        categories: None,
    },
    GoldMsiItem {
        n: 6,
        text: "I am able to judge whether someone is a good singer or not.",
        reverse: false,
        scales: &["perceptual_abilities"],
        categories: None,
    },
    GoldMsiItem {
        n: 7,
        text: "I usually know when I'm hearing a song for the first time.",
        reverse: false,
        scales: &["perceptual_abilities"],
        categories: None,
    },
    GoldMsiItem {
        n: 8,
        text: "I can sing or play music from memory.",
        reverse: false,
        scales: &["singing_abilities", "general"],
        categories: None,
    },
    GoldMsiItem {
        n: 9,
        text: "I'm intrigued by musical styles I'm not familiar with and want to find out more.",
        reverse: false,
        scales: &["active_engagement"],
        categories: None,
    },
    GoldMsiItem {
        n: 10,
        text: "Pieces of music rarely evoke emotions for me.",
        reverse: true,
        scales: &["emotions"],
        categories: None,
    },
    GoldMsiItem {
        n: 11,
        text: "I am able to hit the right notes when I sing along with a recording.",
        reverse: false,
        scales: &["singing_abilities", "general"],
        categories: None,
    },
    GoldMsiItem {
        n: 12,
        text: "At the peak of my interest, I practised my primary instrument (including voice) for the following number of hours per day:",
        reverse: false,
        scales: &["musical_training", "general"],
        categories: Some(&["0", "0.5", "1", "1.5", "2", "3-4", "5 or more"]),
    },
    GoldMsiItem {
        n: 13,
        text: "I find it difficult to spot mistakes in a performance of a song even if I know the tune.",
        reverse: true,
        scales: &["perceptual_abilities"],
        categories: None,
    },
    GoldMsiItem {
        n: 14,
        text: "I can compare and discuss differences between two performances or versions of the same piece of music.",
        reverse: false,
        scales: &["perceptual_abilities", "general"],
        categories: None,
    },
    GoldMsiItem {
        n: 15,
        text: "I have trouble recognizing a familiar song when played in a different way or by a different performer.",
        reverse: true,
        scales: &["perceptual_abilities"],
        categories: None,
    },
    GoldMsiItem {
        n: 16,
        text: "I have never been complimented for my talents as a musical performer.",
        reverse: true,
        scales: &["musical_training", "general"],
        categories: None,
    },
    GoldMsiItem {
        n: 17,
        text: "I have attended the following number of live music events as an audience member in the past twelve months:",
        reverse: false,
        scales: &["active_engagement"],
        categories: Some(&["0", "1", "2", "3", "4-6", "7-10", "11 or more"]),
    },
    GoldMsiItem {
        n: 18,
        text: "I have had formal training in music theory for the following number of years",
        reverse: false,
        scales: &["musical_training"],
        categories: Some(&["0", "0.5", "1", "2", "3", "4-6", "7 or more"]),
    },
    GoldMsiItem {
        n: 19,
        text: "I often read or search the internet for things related to music.",
        reverse: false,
        scales: &["active_engagement", "general"],
        categories: None,
    },
    GoldMsiItem {
        n: 20,
        text: "I often pick certain music to motivate or excite me.",
        reverse: false,
        scales: &["emotions"],
        categories: None,
    },
    GoldMsiItem {
        n: 21,
        text: "I have had formal training on a musical instrument (including voice) during my lifetime for the following number of years:",
        reverse: false,
        scales: &["musical_training"],
        categories: Some(&["0", "1", "2", "3", "4-5", "6-9", "10 or more"]),
    },
    GoldMsiItem {
        n: 22,
        text: "I can play the following number of musical instruments (including voice):",
        reverse: false,
        scales: &["musical_training", "general"],
        categories: Some(&["0", "1", "2", "3", "4", "5", "6 or more"]),
    },
    GoldMsiItem {
        n: 23,
        text: "I am able to sing in harmony when somebody is singing a familiar tune.",
        reverse: false,
        scales: &["singing_abilities", "general"],
        categories: None,
    },
    GoldMsiItem {
        n: 24,
        text: "I can tell when people sing or play out of time with the beat.",
        reverse: false,
        scales: &["perceptual_abilities"],
        categories: None,
    },
    GoldMsiItem {
        n: 25,
        text: "I am able to identify what is special about a given musical piece.",
        reverse: false,
        scales: &["emotions", "general"],
        categories: None,
    },
    GoldMsiItem {
        n: 26,
        text: "I am able to talk about the emotions that a piece of music evokes for me.",
        reverse: false,
        scales: &["emotions"],
        categories: None,
    },
    GoldMsiItem {
        n: 27,
        text: "I don't spend much of my disposable income on music.",
        reverse: true,
        scales: &["active_engagement"],
        categories: None,
    },
    GoldMsiItem {
        n: 28,
        text: "I can tell when people sing or play out of tune.",
        reverse: false,
        scales: &["perceptual_abilities"],
        categories: None,
    },
    GoldMsiItem {
        n: 29,
        text: "When I sing, I have no idea whether I'm in tune or not.",
        reverse: true,
        scales: &["perceptual_abilities", "general"],
        categories: None,
    },
    GoldMsiItem {
        n: 30,
        text: "Music is kind of an addiction for me &ndash; I couldn't live without it.",
        reverse: false,
        scales: &["active_engagement", "general"],
        categories: None,
    },
    GoldMsiItem {
        n: 31,
        text: "I listen attentively to music for the following amount of time per day:",
        reverse: false,
        scales: &["active_engagement"],
        categories: Some(&[
            "0-15 min",
            "15-30 min",
            "30-60 min",
            "60-90 min",
            "2 h",
            "2-3 h",
            "4 h or more",
        ]),
    },
    GoldMsiItem {
        n: 33,
        text: "I don't like singing in public because I'm afraid that I would sing wrong notes.",
        reverse: true,
        scales: &["singing_abilities", "general"],
        categories: None,
    },
    GoldMsiItem {
        n: 34,
        text: "When I hear a piece of music I can usually identify its genre.",
        reverse: false,
        scales: &["perceptual_abilities"],
        categories: None,
    },
    GoldMsiItem {
        n: 35,
        text: "I would not consider myself a musician.",
        reverse: true,
        scales: &["musical_training", "general"],
        categories: None,
    },
    GoldMsiItem {
        n: 36,
        text: "I keep track of new music that I come across (e.g. new artists or recordings).",
        reverse: false,
        scales: &["active_engagement"],
        categories: None,
    },
    GoldMsiItem {
        n: 37,
        text: "After hearing a new song two or three times, I can usually sing it by myself.",
        reverse: false,
        scales: &["singing_abilities", "general"],
        categories: None,
    },
    GoldMsiItem {
        n: 38,
        text: "I only need to hear a new tune once and I can sing it back hours later.",
        reverse: false,
        scales: &["singing_abilities"],
        categories: None,
    },
    GoldMsiItem {
        n: 39,
        text: "Music can evoke my memories of past people and places.",
        reverse: false,
        scales: &["emotions"],
        categories: None,
    },
];
const AGREE_LABELS: [&str; 7] = [
    "Completely disagree",
    "Strongly disagree",
    "Disagree",
    "Neither agree nor disagree",
    "Agree",
    "Strongly agree",
    "Completely agree",
];

fn gold_msi() -> Questionnaire {
    let items = GOLD_MSI_ITEMS
        .iter()
        .map(|i| QuestionnaireItem {
            key: format!("q{}", i.n),
            text: i.text.to_string(),
            response: match i.categories {
                Some(c) => ItemResponse::Options {
                    options: c.iter().map(|s| s.to_string()).collect(),
                },
                None => ItemResponse::Points {
                    points: 7,
                    labels: AGREE_LABELS.iter().map(|s| s.to_string()).collect(),
                },
            },
            reverse: i.reverse,
            scales: i.scales.iter().map(|s| s.to_string()).collect(),
        })
        .collect();
    Questionnaire {
        id: String::new(),
        builtin: Some("gold-msi".into()),
        source: Some(GOLD_MSI_SOURCE.into()),
        items,
        points: 7,
        scales: GOLD_MSI_SCALES.iter().map(|s| s.to_string()).collect(),
        shuffle_items: false,
    }
}

/// The demographics form: age and years of musical training as whole numbers, gender and
/// handedness as options (with a way not to answer). Not scored.
fn demographics() -> Questionnaire {
    let item = |key: &str, text: &str, response: ItemResponse| QuestionnaireItem {
        key: key.into(),
        text: text.into(),
        response,
        reverse: false,
        scales: Vec::new(),
    };
    let options = |o: &[&str]| ItemResponse::Options {
        options: o.iter().map(|s| s.to_string()).collect(),
    };
    Questionnaire {
        id: String::new(),
        builtin: Some("demographics".into()),
        source: None,
        items: vec![
            item(
                "age",
                "How old are you (in years)?",
                ItemResponse::Number { min: 16, max: 120 },
            ),
            item(
                "gender",
                "What is your gender?",
                options(&["female", "male", "non-binary", "prefer not to say"]),
            ),
            item(
                "years_of_musical_training",
                "For how many years have you had formal training on a musical instrument (including voice)?",
                ItemResponse::Number { min: 0, max: 100 },
            ),
            item(
                "handedness",
                "Which hand do you write with?",
                options(&["right", "left", "both", "prefer not to say"]),
            ),
        ],
        points: 0,
        scales: Vec::new(),
        shuffle_items: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Codes 1..=7 in turn (q1 = 1, q2 = 2, ..., q8 = 1, ...), as psyquest's own test
    /// `tests/testthat/test-GMS_DE.R` answers (button k is code k); the expected means there,
    /// times the number of items, are these sums.
    #[test]
    fn scores_psyquest_worked_example() {
        let q = gold_msi();
        let answers: Vec<(String, f64)> = q
            .items
            .iter()
            .map(|i| {
                let n: u32 = i.key[1..].parse().unwrap();
                (i.key.clone(), f64::from((n - 1) % 7 + 1))
            })
            .collect();
        let scores = q.score(&answers);
        let get = |s: &str| scores.iter().find(|(k, _)| k == s).unwrap().1;
        // psyquest: AE 2.555555556 (9 items), General 3.444444444 (18), MT 3.714285714 (7),
        // EM 4.5 (6), SA 2.857142857 (7), PA 5.7777778 (9).
        assert_eq!(get("active_engagement"), 23.0);
        assert_eq!(get("general"), 62.0);
        assert_eq!(get("musical_training"), 26.0);
        assert_eq!(get("emotions"), 27.0);
        assert_eq!(get("singing_abilities"), 20.0);
        assert_eq!(get("perceptual_abilities"), 52.0);
    }

    /// psyquest's `test-GMS_DE_maximum.R`: 7 on every item except the reverse-keyed ones,
    /// answered 1, gives every scale its maximum (mean 7).
    #[test]
    fn maximum_scores_are_the_published_ranges() {
        let q = gold_msi();
        let answers: Vec<(String, f64)> = q
            .items
            .iter()
            .map(|i| (i.key.clone(), if i.reverse { 1.0 } else { 7.0 }))
            .collect();
        let scores = q.score(&answers);
        assert_eq!(
            scores,
            vec![
                ("active_engagement".to_string(), 63.0),
                ("perceptual_abilities".to_string(), 63.0),
                ("musical_training".to_string(), 49.0),
                ("singing_abilities".to_string(), 49.0),
                ("emotions".to_string(), 42.0),
                ("general".to_string(), 126.0),
            ]
        );
        let reversed: Vec<&str> = q
            .items
            .iter()
            .filter(|i| i.reverse)
            .map(|i| i.key.as_str())
            .collect();
        assert_eq!(
            reversed,
            ["q10", "q13", "q15", "q16", "q27", "q29", "q33", "q35"]
        );
    }

    #[test]
    fn the_inventory_has_38_distinct_items() {
        let q = gold_msi();
        assert_eq!(q.items.len(), 38);
        let mut texts: Vec<&str> = q.items.iter().map(|i| i.text.as_str()).collect();
        texts.sort_unstable();
        texts.dedup();
        assert_eq!(texts.len(), 38, "no duplicated item");
        let n_own = q
            .items
            .iter()
            .filter(|i| matches!(i.response, ItemResponse::Options { .. }))
            .count();
        assert_eq!(n_own, 7);
    }

    #[test]
    fn a_scale_with_a_missing_answer_is_left_out() {
        let q = gold_msi();
        let answers: Vec<(String, f64)> = q
            .items
            .iter()
            .filter(|i| i.key != "q3")
            .map(|i| (i.key.clone(), 4.0))
            .collect();
        let scores = q.score(&answers);
        assert!(!scores.iter().any(|(k, _)| k == "emotions"));
        assert!(scores.iter().any(|(k, _)| k == "general"));
    }
}
