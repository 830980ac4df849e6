//! The fixture corpus: every file in `protocols/tests/good/` loads and plans; every file in
//! `protocols/tests/bad/` fails with the error written inside it (`# expect: LINE:COL: text`,
//! optionally `# expect-help: text`), or in a `NAME.expect` file beside it when the fixture
//! cannot hold a comment (empty and binary files). The example protocols in `protocols/` load.

use std::path::{Path, PathBuf};

use cuelab_core::ParticipantId;
use cuelab_protocol::{Files, load, plan};

/// Real files under a folder (the CLI has its own; the library reads no files).
struct Dir(PathBuf);

impl Files for Dir {
    fn read(&self, rel: &Path) -> std::io::Result<Vec<u8>> {
        std::fs::read(self.0.join(rel))
    }
    fn size(&self, rel: &Path) -> std::io::Result<u64> {
        std::fs::metadata(self.0.join(rel)).map(|m| m.len())
    }
}

fn protocols_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../protocols")
}

fn tomls(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    v
}

fn load_file(path: &Path) -> Result<cuelab_protocol::Protocol, cuelab_protocol::Diagnostics> {
    let bytes = std::fs::read(path).unwrap();
    let name = path.file_name().unwrap().to_str().unwrap();
    load(name, &bytes, &Dir(path.parent().unwrap().to_path_buf()))
}

fn check_plans(path: &Path, protocol: &cuelab_protocol::Protocol) {
    for k in 1..=2 * cuelab_protocol::cycle_length(protocol) {
        let id = ParticipantId::parse(&k.to_string()).unwrap();
        let p = plan(protocol, &id, 1)
            .unwrap_or_else(|e| panic!("{}: participant {k}: {e}", path.display()));
        assert!(!p.trials.is_empty(), "{}", path.display());
    }
}

#[test]
fn good_fixtures_load_and_plan() {
    let files = tomls(&protocols_dir().join("tests/good"));
    assert!(files.len() >= 4);
    for path in files {
        let protocol = load_file(&path).unwrap_or_else(|d| panic!("{}:\n{d}", path.display()));
        check_plans(&path, &protocol);
    }
}

#[test]
fn example_protocols_load_and_plan() {
    let files = tomls(&protocols_dir());
    assert!(files.len() >= 4, "the four paradigms");
    for path in files {
        let protocol = load_file(&path).unwrap_or_else(|d| panic!("{}:\n{d}", path.display()));
        check_plans(&path, &protocol);
    }
}

struct Expect {
    location_and_text: String,
    help: Option<String>,
}

fn expectations(path: &Path) -> Vec<Expect> {
    let sidecar = PathBuf::from(format!("{}.expect", path.display()));
    let text = if sidecar.exists() {
        format!("# expect: {}", std::fs::read_to_string(&sidecar).unwrap())
    } else {
        String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned()
    };
    let mut out: Vec<Expect> = Vec::new();
    for line in text.lines() {
        if let Some(e) = line.strip_prefix("# expect: ") {
            out.push(Expect {
                location_and_text: e.trim().to_string(),
                help: None,
            });
        } else if let Some(h) = line.strip_prefix("# expect-help: ") {
            out.last_mut().expect("expect-help after expect").help = Some(h.trim().to_string());
        }
    }
    out
}

#[test]
fn bad_fixtures_fail_where_they_say() {
    let files = tomls(&protocols_dir().join("tests/bad"));
    assert!(files.len() >= 15);
    let mut failures = Vec::new();
    for path in files {
        if std::fs::read_to_string(&path).is_ok_and(|t| t.contains("# expect-cli: ")) {
            // Valid for this crate; the CLI's stimulus decoding rejects it (see the CLI tests).
            assert!(load_file(&path).is_ok(), "{}", path.display());
            continue;
        }
        let expects = expectations(&path);
        assert!(
            !expects.is_empty(),
            "{} has no `# expect:` line",
            path.display()
        );
        let diags = match load_file(&path) {
            Ok(_) => panic!("{} loaded, but it is a bad fixture", path.display()),
            Err(d) => d,
        };
        let name = path.file_name().unwrap().to_str().unwrap();
        for e in expects {
            // A location without a file name refers to the fixture itself.
            let want = if e
                .location_and_text
                .starts_with(|c: char| c.is_ascii_digit())
            {
                format!("{name}:{}", e.location_and_text)
            } else {
                e.location_and_text.clone()
            };
            let mut parts = want.splitn(4, ':');
            let (file, line, col, text) = (
                parts.next().unwrap(),
                parts.next().unwrap().parse::<usize>().unwrap(),
                parts.next().unwrap().parse::<usize>().unwrap(),
                parts.next().unwrap().trim(),
            );
            let found = diags.0.iter().find(|d| {
                d.file.ends_with(file) && d.line == line && d.col == col && d.message.contains(text)
            });
            match found {
                None => failures.push(format!("expected `{want}`, got:\n{diags}")),
                Some(d) if e.help.is_some() && d.help != e.help => failures.push(format!(
                    "{want}: expected help {:?}, got {:?}",
                    e.help, d.help
                )),
                Some(_) => {}
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_triggers_table_gives_the_first_matching_rule_else_the_event_code() {
    let path = protocols_dir().join("tests/good/triggers.toml");
    let protocol = load_file(&path).unwrap_or_else(|d| panic!("{d}"));
    let t = protocol.triggers();
    assert!(!t.is_empty());
    let trial = |music: &'static str, soundtrack: Option<&'static str>| {
        move |var: &str| match var {
            "music" => Some(music.to_string()),
            "soundtrack" => Some(soundtrack.unwrap_or("silence").to_string()),
            _ => None,
        }
    };
    // The first rule matches `music == "tone"` before the second (`soundtrack in [...]`) can.
    assert_eq!(
        t.code("audio_onset", &trial("tone", Some("tone"))),
        Some(31)
    );
    assert_eq!(
        t.code("audio_onset", &trial("tone2", Some("tone2"))),
        Some(32)
    );
    // No rule matches: the event's own code.
    assert_eq!(t.code("audio_onset", &trial("silence", None)), Some(3));
    // Rules are for their event only.
    assert_eq!(t.code("trial_start", &trial("tone", Some("tone"))), Some(2));
    // Session events have no conditions.
    assert_eq!(t.code("session_start", &|_| None), Some(1));
    assert_eq!(t.code("abort", &|_| None), Some(8));
    assert_eq!(t.code("no_such_event", &|_| None), None);
    // A protocol without [triggers] declares none.
    let minimal = load_file(&protocols_dir().join("tests/good/minimal.toml")).unwrap();
    assert!(minimal.triggers().is_empty());
    assert_eq!(minimal.triggers().code("trial_start", &|_| None), None);
}
