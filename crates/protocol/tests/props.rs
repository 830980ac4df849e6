//! Property tests (proptest) over the parser and the design engine.
//!
//! - The parser: `load` on arbitrary bytes, and on the good and bad fixtures mutated (bytes
//!   replaced, ranges deleted or duplicated, text inserted), never panics and returns either a
//!   protocol or diagnostics whose every `line:col` in the protocol lies inside its text.
//! - The design engine: over generated small valid protocols (1–2 within factors of 2–4
//!   levels, an optional between factor, 1–3 repetitions, 0–2 practice trials, fixed, shuffled
//!   or run-limited orders, an optional fixed seed), `plan` is deterministic, every trial's
//!   conditions are declared levels of every factor (the between levels those of the
//!   participant), and the counts are as designed: each within cell `repetitions` times, plus
//!   the practice trials, indices 1..n.
//!
//! The case counts keep the file under a few seconds in a debug build.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cuelab_core::ParticipantId;
use cuelab_protocol::{Diagnostics, MemFiles, load, plan};
use proptest::prelude::*;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../protocols/tests")
}

/// Every `.toml` of the good and bad fixtures, as text.
fn fixture_texts() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for sub in ["good", "bad"] {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(fixtures_dir().join(sub))
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        paths.sort();
        for p in paths {
            let name = format!("{sub}/{}", p.file_name().unwrap().to_string_lossy());
            out.push((name, std::fs::read(&p).unwrap()));
        }
    }
    out
}

/// The good fixtures' auxiliary files (stimuli, conditions), keyed as the protocols name them.
fn fixture_files() -> MemFiles {
    fn walk(dir: &Path, root: &Path, files: &mut MemFiles) {
        for entry in std::fs::read_dir(dir).unwrap().filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, root, files);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_path_buf();
                files.0.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut files = MemFiles::default();
    let root = fixtures_dir().join("good");
    walk(&root.join("stimuli"), &root, &mut files);
    files
}

/// Every diagnostic about `name` points at a line of `text` and a column within that line
/// (one past its end allowed, for "expected more here").
fn check_locations(name: &str, text: &[u8], diags: &Diagnostics) -> Result<(), TestCaseError> {
    prop_assert!(!diags.0.is_empty(), "an error without a diagnostic");
    let text = String::from_utf8_lossy(text);
    let lines: Vec<&str> = text.split('\n').collect();
    for d in diags.0.iter().filter(|d| d.file == name) {
        prop_assert!(d.line >= 1 && d.col >= 1, "{d}");
        prop_assert!(d.line <= lines.len(), "line past the end: {d}");
        let width = lines[d.line - 1].chars().count();
        prop_assert!(
            d.col <= width + 1,
            "column past the end of line {} ({width} characters): {d}\nin {:?}",
            d.line,
            lines[d.line - 1]
        );
    }
    Ok(())
}

/// One edit of a byte string.
#[derive(Debug, Clone)]
enum Mutation {
    Replace(usize, u8),
    Delete(usize, usize),
    Duplicate(usize, usize),
    Insert(usize, String),
}

fn apply(text: &[u8], mutation: &Mutation) -> Vec<u8> {
    let mut out = text.to_vec();
    let at = |i: usize| {
        if out.is_empty() {
            0
        } else {
            i % (out.len() + 1)
        }
    };
    match mutation {
        Mutation::Replace(i, b) => {
            if !out.is_empty() {
                let i = i % out.len();
                out[i] = *b;
            }
        }
        Mutation::Delete(i, n) => {
            let start = at(*i);
            let end = (start + n).min(out.len());
            out.drain(start..end);
        }
        Mutation::Duplicate(i, n) => {
            let start = at(*i);
            let end = (start + n).min(out.len());
            let copy = out[start..end].to_vec();
            out.splice(end..end, copy);
        }
        Mutation::Insert(i, s) => {
            let start = at(*i);
            out.splice(start..start, s.bytes());
        }
    }
    out
}

fn mutation() -> impl Strategy<Value = Mutation> {
    // Inserted text leans on what TOML and protocols are made of.
    let pieces = prop::sample::select(vec![
        "[",
        "]",
        "{",
        "}",
        "\"",
        "=",
        ",",
        "\n",
        "#",
        "'",
        "[[procedure]]\n",
        "[design]\n",
        "4294967295",
        "18446744073709551615",
        "-1",
        "1e308",
        "nan",
        "inf",
        "true",
        "levels",
        "within = false",
        "repetitions = ",
        "practice = ",
        "max_run = ",
        "\u{0}",
        "é",
        "\r\n",
    ]);
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Replace(i, b)),
        (any::<usize>(), 1usize..40).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<usize>(), 1usize..80).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
        (any::<usize>(), prop::collection::vec(pieces, 1..4))
            .prop_map(|(i, p)| Mutation::Insert(i, p.concat())),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_load_or_point_inside_the_text(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        if let Err(diags) = load("p.toml", &bytes, &MemFiles::default()) {
            check_locations("p.toml", &bytes, &diags)?;
        }
    }

    #[test]
    fn mutated_fixtures_load_or_point_inside_the_text(
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec(mutation(), 1..4),
    ) {
        thread_local! {
            static FIXTURES: (Vec<(String, Vec<u8>)>, MemFiles) = (fixture_texts(), fixture_files());
        }
        FIXTURES.with(|(texts, files)| {
            let (name, text) = &texts[pick.index(texts.len())];
            let mut mutated = text.clone();
            for e in &edits {
                mutated = apply(&mutated, e);
            }
            match load(name, &mutated, files) {
                Ok(protocol) => {
                    // A protocol that loads can be planned (validation orders every
                    // counterbalancing assignment).
                    let id = ParticipantId::parse("1").unwrap();
                    prop_assert!(plan(&protocol, &id, 1).is_ok(), "{name} mutated by {edits:?}");
                    Ok(())
                }
                Err(diags) => check_locations(name, &mutated, &diags),
            }
        })?;
    }
}

/// A small valid protocol, described.
#[derive(Debug, Clone)]
struct Design {
    within: Vec<usize>,
    between: Option<usize>,
    repetitions: usize,
    practice: usize,
    order: &'static str,
    seed: Option<u32>,
}

impl Design {
    fn toml(&self) -> String {
        let mut t = String::from(
            "[experiment]\nid = \"prop\"\ntitle = \"Property\"\nversion = \"1\"\n\n[factors]\n",
        );
        for (f, &n) in self.within.iter().enumerate() {
            t.push_str(&format!("f{f} = {{ levels = [{}] }}\n", levels(f, n)));
        }
        if let Some(n) = self.between {
            t.push_str(&format!(
                "g = {{ levels = [{}], within = false }}\n",
                levels(9, n)
            ));
        }
        t.push_str(&format!("\n[design]\nrepetitions = {}\n", self.repetitions));
        if self.practice > 0 {
            t.push_str(&format!("practice = {}\n", self.practice));
        }
        if !self.order.is_empty() {
            t.push_str(&format!("order = {}\n", self.order));
        }
        if let Some(seed) = self.seed {
            t.push_str(&format!("seed = {seed}\n"));
        }
        t.push_str("\n[[procedure]]\nfixation = { ms = 200 }\n");
        t
    }

    fn level_names(&self) -> BTreeMap<String, Vec<String>> {
        let mut out = BTreeMap::new();
        for (f, &n) in self.within.iter().enumerate() {
            out.insert(
                format!("f{f}"),
                (0..n).map(|l| format!("l{f}_{l}")).collect(),
            );
        }
        if let Some(n) = self.between {
            out.insert("g".to_string(), (0..n).map(|l| format!("l9_{l}")).collect());
        }
        out
    }
}

fn levels(f: usize, n: usize) -> String {
    (0..n)
        .map(|l| format!("\"l{f}_{l}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

fn design() -> impl Strategy<Value = Design> {
    (
        prop::collection::vec(2usize..=4, 1..=2),
        prop::option::of(2usize..=3),
        1usize..=3,
        0usize..=2,
        prop::sample::select(vec![
            "",
            "\"fixed\"",
            "\"shuffle\"",
            "{ shuffle = true, max_run = 2 }",
            "{ shuffle = true, max_run = 3 }",
        ]),
        prop::option::of(any::<u32>()),
    )
        .prop_map(
            |(within, between, repetitions, practice, order, seed)| Design {
                within,
                between,
                repetitions,
                practice,
                order,
                seed,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn plans_are_deterministic_declared_and_counted_as_designed(
        d in design(),
        participant in 1u32..=60,
    ) {
        let text = d.toml();
        let protocol = load("prop.toml", text.as_bytes(), &MemFiles::default())
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let id = ParticipantId::parse(&participant.to_string()).unwrap();
        let first = plan(&protocol, &id, 1).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let again = plan(&protocol, &id, 1).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&first, &again, "plan is not a function of its inputs");

        let declared = d.level_names();
        let n_cells: usize = d.within.iter().product();
        let tests: Vec<_> = first.trials.iter().filter(|t| !t.practice).collect();
        let practice = first.trials.len() - tests.len();
        prop_assert_eq!(tests.len(), n_cells * d.repetitions, "{}", text);
        prop_assert_eq!(practice, d.practice, "{}", text);
        for (i, t) in first.trials.iter().enumerate() {
            prop_assert_eq!(t.index as usize, i + 1);
            prop_assert_eq!(t.conditions.len(), declared.len(), "{:?}", t.conditions);
            for (factor, level) in &t.conditions {
                let levels = declared.get(factor);
                prop_assert!(
                    levels.is_some_and(|l| l.contains(level)),
                    "trial {} has `{factor}` = `{level}`, not declared", t.index
                );
            }
            if d.between.is_some() {
                prop_assert_eq!(t.conditions.get("g"), first.between.get("g"));
            }
        }
        // Each within cell exactly `repetitions` times among the test trials.
        let mut cells: BTreeMap<Vec<&str>, usize> = BTreeMap::new();
        for t in &tests {
            let key: Vec<&str> = (0..d.within.len())
                .map(|f| t.conditions[&format!("f{f}")].as_str())
                .collect();
            *cells.entry(key).or_default() += 1;
        }
        prop_assert_eq!(cells.len(), n_cells);
        prop_assert!(cells.values().all(|&c| c == d.repetitions), "{cells:?}");
    }
}
