//! Hostile inputs through the real binary (issue 13), each run bounded by [`bounded`] (1 GiB
//! data limit, peak RSS checked, time-out). None may panic (exit 101), abort, hang or grow past
//! 1 GiB; each exits 2 with a message naming the file and, where one exists, the line — and
//! writes nothing.

mod bounded;

use std::path::{Path, PathBuf};

use bounded::{Run, cuelab, repo, tempdir};

/// A folder with the given files.
fn folder(tag: &str, files: &[(&str, &[u8])]) -> PathBuf {
    let dir = tempdir(tag);
    for (name, content) in files {
        std::fs::write(dir.join(name), content).unwrap();
    }
    dir
}

/// Asserts exit 2 with every one of `want` in stderr, and that `out` was not created.
fn assert_invalid(run: &Run, want: &[&str], out: &Path) {
    assert_eq!(run.code, Some(2), "{run:?}");
    for w in want {
        assert!(run.stderr.contains(w), "missing `{w}` in:\n{}", run.stderr);
    }
    assert!(!out.exists(), "{} was written", out.display());
    assert!(run.stdout.is_empty(), "output on stdout: {}", run.stdout);
}

const GOOD: &str = "s,m,y\na,x,1\na,z,2\nb,x,3\nb,z,5\nc,x,2\nc,z,2.5\n";

/// `cuelab analyze --data d.csv --dv y --subject s --within m --out OUT` on hostile `data`.
fn analyze_csv(tag: &str, data: &[u8], extra: &[&str], want: &[&str]) {
    let dir = folder(tag, &[("d.csv", data)]);
    let out = dir.join("out");
    let data_path = dir.join("d.csv");
    let mut args = vec![
        "analyze",
        "--data",
        data_path.to_str().unwrap(),
        "--dv",
        "y",
        "--subject",
        "s",
        "--out",
        out.to_str().unwrap(),
    ];
    if !extra.iter().any(|a| a.starts_with("--within")) {
        args.extend(["--within", "m"]);
    }
    args.extend(extra);
    let run = cuelab(&args);
    let want: Vec<String> = want
        .iter()
        .map(|w| w.replace("DATA", data_path.to_str().unwrap()))
        .collect();
    let want: Vec<&str> = want.iter().map(String::as_str).collect();
    assert_invalid(&run, &want, &out);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_good_table_analyses_so_the_hostile_variants_below_test_one_fault_each() {
    let dir = folder("good", &[("d.csv", GOOD.as_bytes())]);
    let out = dir.join("out");
    let data = dir.join("d.csv");
    let run = cuelab(&[
        "analyze",
        "--data",
        data.to_str().unwrap(),
        "--dv",
        "y",
        "--subject",
        "s",
        "--within",
        "m",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(out.join("results.json").is_file());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn analyze_non_finite_and_huge_values_name_the_csv_line_and_column() {
    for (i, (bad, want)) in [
        ("inf", "is not a finite number"),
        ("-inf", "is not a finite number"),
        ("NaN", "is not a finite number"),
        ("1e308", "is beyond"),
        ("abc", "is not a number"),
    ]
    .iter()
    .enumerate()
    {
        let data = GOOD.replace("b,x,3", &format!("b,x,{bad}"));
        analyze_csv(
            &format!("value{i}"),
            data.as_bytes(),
            &[],
            &["DATA:4:3: column `y`", want],
        );
    }
}

#[test]
fn analyze_malformed_tables_name_the_line() {
    analyze_csv(
        "dup",
        b"s,m,y,m\na,x,1,x\n",
        &[],
        &["DATA:1:4: column name `m` appears twice"],
    );
    analyze_csv(
        "ragged",
        GOOD.replace("b,z,5", "b,z").as_bytes(),
        &[],
        &["DATA:5: this row has 2 fields but the header has 3"],
    );
    analyze_csv(
        "extra-field",
        GOOD.replace("b,z,5", "b,z,5,9").as_bytes(),
        &[],
        &["DATA:5: this row has 4 fields"],
    );
    analyze_csv(
        "header-only",
        b"s,m,y\n",
        &[],
        &["DATA:1: the file has a header but no rows"],
    );
    analyze_csv("empty", b"", &[], &["DATA:1: the file is empty"]);
    analyze_csv(
        "not-utf8",
        b"s,m,y\na,x,1\n\xff\xfe,z,2\n",
        &[],
        &["DATA:3"],
    );
    analyze_csv(
        "missing-column",
        b"s,m,rt\na,x,1\n",
        &[],
        &["DATA: no column `y`"],
    );
    analyze_csv(
        "empty-subject",
        GOOD.replace("c,z,2.5", ",z,2.5").as_bytes(),
        &[],
        &["DATA:7: column `s` is empty"],
    );
}

#[test]
fn analyze_overlapping_or_duplicate_roles_are_refused_before_reading() {
    for (i, (extra, want)) in [
        (
            &["--within", "m,m"][..],
            "`m` is listed twice as a within factor",
        ),
        (
            &["--within", "m", "--between", "m"][..],
            "`m` is both the within and a between column",
        ),
        (
            &["--within", "s"][..],
            "`s` is both the subject and a within column",
        ),
        (
            &["--within", "y"][..],
            "`y` is both the dv and a within column",
        ),
        (&["--within", "m,"][..], "column name is empty"),
    ]
    .iter()
    .enumerate()
    {
        analyze_csv(&format!("roles{i}"), GOOD.as_bytes(), extra, &[want]);
    }
}

#[test]
fn analyze_output_that_is_a_file_or_the_data_is_refused() {
    let dir = folder(
        "out-file",
        &[("d.csv", GOOD.as_bytes()), ("taken", b"keep me")],
    );
    let data = dir.join("d.csv");
    for out in [dir.join("taken"), data.clone()] {
        let run = cuelab(&[
            "analyze",
            "--data",
            data.to_str().unwrap(),
            "--dv",
            "y",
            "--subject",
            "s",
            "--within",
            "m",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(run.code, Some(2), "{run:?}");
        assert!(run.stderr.contains(out.to_str().unwrap()), "{}", run.stderr);
    }
    assert_eq!(std::fs::read(dir.join("taken")).unwrap(), b"keep me");
    assert_eq!(std::fs::read(&data).unwrap(), GOOD.as_bytes());
    std::fs::remove_dir_all(dir).unwrap();
}

/// A plan beside its data; `plan` refers to `d.csv` (and `c.csv` for a time course).
fn analyze_plan(tag: &str, plan: &str, files: &[(&str, &[u8])], want: &[&str]) {
    let mut all: Vec<(&str, &[u8])> = vec![("p.toml", plan.as_bytes())];
    all.extend_from_slice(files);
    let dir = folder(tag, &all);
    let out = dir.join("out");
    let run = cuelab(&[
        "analyze",
        dir.join("p.toml").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let dir_text = format!("{}/", dir.display());
    let want: Vec<String> = want.iter().map(|w| w.replace("DIR/", &dir_text)).collect();
    let want: Vec<&str> = want.iter().map(String::as_str).collect();
    assert_invalid(&run, &want, &out);
    std::fs::remove_dir_all(dir).unwrap();
}

const PLAN: &str =
    "[data]\npath = \"d.csv\"\n[design]\ndv = \"y\"\nsubject = \"s\"\nwithin = [\"m\"]\n";

#[test]
fn analyze_plan_faults_name_the_plan_line() {
    analyze_plan(
        "plan-syntax",
        &format!("{PLAN}[results\n"),
        &[("d.csv", GOOD.as_bytes())],
        &["DIR/p.toml:7:"],
    );
    analyze_plan(
        "plan-bounds",
        &format!("{PLAN}[exclude]\nbounds = {{ column = \"y\", min = nan }}\n"),
        &[("d.csv", GOOD.as_bytes())],
        &["DIR/p.toml:8:", "`min` must be a finite number"],
    );
    analyze_plan(
        "plan-level",
        &format!("{PLAN}[design.levels]\nm = [\"x\", \"w\"]\n"),
        &[("d.csv", GOOD.as_bytes())],
        &["DIR/d.csv:3: factor `m` has level `z`"],
    );
    analyze_plan(
        "plan-ratio",
        "[data]\npath = \"d.csv\"\n[[derive]]\nname = \"r\"\nratio = { estimate = \"y\", actual = \"a\" }\n\
         [design]\ndv = \"r\"\nsubject = \"s\"\nwithin = [\"m\"]\n",
        &[("d.csv", b"s,m,y,a\na,x,1,1\na,z,2,1\nb,x,3,0\nb,z,4,1\n")],
        &["DIR/d.csv:4: derived column `r`"],
    );
    analyze_plan("missing-data", PLAN, &[], &["DIR/d.csv"]);
}

const TIME_COURSE: &str = "[time_course]\npath = \"c.csv\"\nsubject = \"s\"\ntime = \"t\"\nvalue = \"v\"\ncondition = \"m\"\n";

#[test]
fn analyze_time_course_with_an_infinite_sample_or_bin_is_refused_not_a_hang() {
    // Each of these hung inside plotters: the axis range was not finite.
    let good_course: &[u8] = b"s,m,t,v\na,x,0,1\na,x,1,2\nb,x,0,1\nb,z,1,3\n";
    analyze_plan(
        "tc-sample",
        &format!("{PLAN}{TIME_COURSE}"),
        &[
            ("d.csv", GOOD.as_bytes()),
            ("c.csv", b"s,m,t,v\na,x,0,1\na,x,inf,2\n"),
        ],
        &["DIR/c.csv:3:3: column `t`", "not a finite number"],
    );
    analyze_plan(
        "tc-value",
        &format!("{PLAN}{TIME_COURSE}"),
        &[
            ("d.csv", GOOD.as_bytes()),
            ("c.csv", b"s,m,t,v\na,x,0,1\na,x,1,-inf\n"),
        ],
        &["DIR/c.csv:3:4: column `v`"],
    );
    analyze_plan(
        "tc-bin",
        &format!("{PLAN}{TIME_COURSE}bin = inf\n"),
        &[("d.csv", GOOD.as_bytes()), ("c.csv", good_course)],
        &["DIR/p.toml:13:", "`bin` must be a positive, finite width"],
    );
}

#[test]
fn analyze_values_at_the_magnitude_limit_draw_their_figures() {
    // 1e100 is the largest magnitude accepted; figures of such values must still finish.
    let data = "s,m,y\na,x,1e100\na,z,-1e100\nb,x,9e99\nb,z,-1e100\nc,x,1e100\nc,z,1\n";
    let dir = folder("huge", &[("d.csv", data.as_bytes())]);
    let out = dir.join("out");
    let run = cuelab(&[
        "analyze",
        "--data",
        dir.join("d.csv").to_str().unwrap(),
        "--dv",
        "y",
        "--subject",
        "s",
        "--within",
        "m",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(out.join("cell_means.svg").is_file(), "{run:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

// ---- Stimuli that lie in their headers, through `cuelab validate` ----

/// A canonical WAV with the given header fields.
fn wav(format: u16, channels: u16, rate: u32, bits: u16, data: &[u8]) -> Vec<u8> {
    let block_align = channels.wrapping_mul(bits / 8);
    let mut w = Vec::new();
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&format.to_le_bytes());
    w.extend_from_slice(&channels.to_le_bytes());
    w.extend_from_slice(&rate.to_le_bytes());
    w.extend_from_slice(&rate.wrapping_mul(u32::from(block_align)).to_le_bytes());
    w.extend_from_slice(&block_align.to_le_bytes());
    w.extend_from_slice(&bits.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&(data.len() as u32).to_le_bytes());
    w.extend_from_slice(data);
    w
}

/// `protocols/tests/good/audio-only.toml` in a folder whose `stimuli/tone.flac` is `bytes`.
fn validate_with_soundtrack(tag: &str, bytes: &[u8]) -> Run {
    let dir = tempdir(tag);
    std::fs::copy(
        repo().join("protocols/tests/good/audio-only.toml"),
        dir.join("audio-only.toml"),
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("stimuli")).unwrap();
    std::fs::write(dir.join("stimuli/tone.flac"), bytes).unwrap();
    let run = cuelab(&["validate", dir.join("audio-only.toml").to_str().unwrap()]);
    std::fs::remove_dir_all(dir).unwrap();
    run
}

fn tone_flac() -> Vec<u8> {
    std::fs::read(repo().join("crates/playback/tests/data/tone.flac")).unwrap()
}

#[test]
fn validate_flac_claiming_2_pow_36_minus_1_samples_stays_small() {
    let mut flac = tone_flac();
    flac[8 + 13] |= 0x0F;
    for b in &mut flac[8 + 14..8 + 18] {
        *b = 0xFF;
    }
    let run = validate_with_soundtrack("flac-claim", &flac);
    // The real stream decodes (0.25 s), whatever STREAMINFO claims.
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stderr.contains("0.250 s"), "{run:?}");
}

#[test]
fn validate_wav_at_4294967295_hz_or_1_hz_is_invalid_input() {
    let samples: Vec<u8> = (0..200u16).flat_map(|i| (i * 100).to_le_bytes()).collect();
    for rate in [u32::MAX, 1] {
        let run = validate_with_soundtrack(&format!("rate{rate}"), &wav(1, 1, rate, 16, &samples));
        assert_eq!(run.code, Some(2), "{run:?}");
        assert!(
            run.stderr
                .contains(&format!("sample rate {rate} Hz is outside")),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains("audio-only.toml:"), "{}", run.stderr);
    }
}

#[test]
fn validate_60_byte_wav_claiming_65535_channels_is_invalid_input_not_a_panic() {
    let file = wav(1, 65535, 48_000, 16, &[0u8; 16]);
    assert_eq!(file.len(), 60);
    let run = validate_with_soundtrack("channels", &file);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("tone.flac"), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked at"), "{}", run.stderr);
}
