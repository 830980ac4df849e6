//! Questionnaires as the protocol declares them, scored; labels and language.

use cuelab_protocol::model::{ItemResponse, StepKind};
use cuelab_protocol::{MemFiles, Protocol, load};

fn protocol(body: &str) -> Protocol {
    let text = format!(
        "[experiment]\nid = \"t\"\ntitle = \"T\"\nversion = \"1\"\n{body}\n[[procedure]]\nfixation = {{ ms = 1 }}\n"
    );
    load("t.toml", text.as_bytes(), &MemFiles::default()).unwrap_or_else(|d| panic!("{d}"))
}

fn questionnaire(p: &Protocol, id: &str) -> cuelab_protocol::model::Questionnaire {
    match &p.step(id).unwrap().kind {
        StepKind::Questionnaire(q) => q.clone(),
        other => panic!("{other:?}"),
    }
}

/// A worked example: 4-point items, `calm` reverse-keyed; anxiety = (5 − calm) + tense + worry.
#[test]
fn custom_scales_are_sums_with_reverse_items_recoded() {
    let p = protocol(
        r#"
[[after]]
id = "stai"
questionnaire = { points = 4, items = [
  { text = "I feel calm.", key = "calm", reverse = true, scale = "anxiety" },
  { text = "I feel tense.", key = "tense", scale = "anxiety" },
  { text = "I worry.", key = "worry", scale = "anxiety" },
  { text = "I sleep well.", key = "sleep", scale = "rest" },
  { text = "How often?", key = "often", options = ["never", "sometimes", "often"], reverse = true, scale = "rest" },
  "Unscored text item.",
] }
"#,
    );
    let step = p.step("stai").unwrap();
    assert_eq!(
        step.output_names(),
        [
            "stai_calm",
            "stai_tense",
            "stai_worry",
            "stai_sleep",
            "stai_often",
            "stai_item6",
            "stai_anxiety",
            "stai_rest"
        ]
    );
    let q = questionnaire(&p, "stai");
    assert_eq!(q.id, "stai");
    let answers: Vec<(String, f64)> = [
        ("calm", 1.0),
        ("tense", 3.0),
        ("worry", 4.0),
        ("sleep", 2.0),
        ("often", 1.0),
        ("item6", 2.0),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), *v))
    .collect();
    // anxiety = (5 − 1) + 3 + 4 = 11; rest = 2 + (3 + 1 − 1) = 5.
    assert_eq!(
        q.score(&answers),
        vec![("anxiety".to_string(), 11.0), ("rest".to_string(), 5.0)]
    );
    assert_eq!(
        q.items[4].response,
        ItemResponse::Options {
            options: vec!["never".into(), "sometimes".into(), "often".into()]
        }
    );
}

#[test]
fn the_gold_msi_is_scored_under_its_step_id() {
    let p = protocol("[[after]]\nquestionnaire = { builtin = \"gold-msi\", id = \"msi\" }");
    let names = p.step("msi").unwrap().output_names();
    assert_eq!(names.len(), 38 + 6);
    assert!(names.contains(&"msi_q1".to_string()));
    assert!(names.contains(&"msi_general".to_string()));
    let q = questionnaire(&p, "msi");
    assert!(q.source.as_deref().unwrap().contains("psyquest"));
}

#[test]
fn labels_default_to_english_and_text_overrides_them() {
    let p = protocol("[text]\ncontinue = \"Weiter.\"");
    assert_eq!(p.text("continue"), "Weiter.");
    assert_eq!(p.text("timeout"), "Time is up. The study goes on.");
    assert_eq!(p.experiment().language, "en");
    let de = protocol("").experiment().language.clone();
    assert_eq!(de, "en");
    let p = load(
        "t.toml",
        b"[experiment]\nid = \"t\"\ntitle = \"T\"\nversion = \"1\"\nlanguage = \"pt-BR\"\n[[procedure]]\nfixation = { ms = 1 }\n",
        &MemFiles::default(),
    )
    .unwrap();
    assert_eq!(p.experiment().language, "pt-BR");
}
