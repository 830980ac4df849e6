//! The reproductions of issue 13 that live in protocol code, through the real binary: huge
//! participant numbers and counts, huge repetition and practice counts. Each must exit 2 with
//! the limit named at the argument or at the protocol's `line:col` — no panic (101), no abort,
//! no hang, at most 1 GiB resident ([`bounded`]).

mod bounded;

use bounded::{Run, cuelab, repo, tempdir};

const PROTOCOL: &str = "protocols/time-perception.toml";

#[test]
fn plan_participant_18446744073709551615_is_refused_at_its_limit_not_an_overflow() {
    // The overflow in the counterbalancing index used to panic (debug) or pick a wrong
    // between-subject group (release).
    let run = cuelab(&["plan", PROTOCOL, "--participant", "18446744073709551615"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(
        run.stderr.contains("--participant") && run.stderr.contains("limit"),
        "{}",
        run.stderr
    );
}

#[test]
fn plan_participants_18446744073709551615_is_refused_not_a_hang() {
    let run = cuelab(&["plan", PROTOCOL, "--participants", "18446744073709551615"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("participants"), "{}", run.stderr);
}

/// `protocols/tests/good/audio-only.toml` (with its stimuli) with `[design]` edited.
fn validate_design(tag: &str, edit: impl Fn(&str) -> String) -> Run {
    let good = repo().join("protocols/tests/good");
    let dir = tempdir(tag);
    let text = std::fs::read_to_string(good.join("audio-only.toml")).unwrap();
    let edited = edit(&text);
    assert_ne!(edited, text, "the edit applies");
    std::fs::write(dir.join("audio-only.toml"), edited).unwrap();
    std::fs::create_dir_all(dir.join("stimuli")).unwrap();
    std::fs::copy(
        good.join("stimuli/tone.flac"),
        dir.join("stimuli/tone.flac"),
    )
    .unwrap();
    let run = cuelab(&["validate", dir.join("audio-only.toml").to_str().unwrap()]);
    std::fs::remove_dir_all(dir).unwrap();
    run
}

#[test]
fn repetitions_4294967295_is_refused_at_its_line_not_an_abort() {
    let run = validate_design("repetitions", |t| {
        t.replace("repetitions = 4", "repetitions = 4294967295")
    });
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(
        run.stderr
            .contains("audio-only.toml:14:15: error: repetitions = 4294967295 is above the limit"),
        "{}",
        run.stderr
    );
}

#[test]
fn practice_4294967295_is_refused_at_its_line_not_an_abort() {
    let run = validate_design("practice", |t| {
        t.replace("repetitions = 4", "repetitions = 4\npractice = 4294967295")
    });
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(
        run.stderr
            .contains("audio-only.toml:15:12: error: practice = 4294967295 is above the limit"),
        "{}",
        run.stderr
    );
}
