//! `cuelab simulate --participants 100` for each bundled protocol: the exported tables show each
//! paradigm's simulated effect in the direction the simulated participants' model gives it
//! (`cuelab_session::simulate`'s module doc), read through the protocols' step ids.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use common::{Csv, cuelab, root, temp_dir, text};

const N: &str = "100";

type Row = BTreeMap<String, String>;

fn simulate(protocol: &str, keyword: &str) -> (PathBuf, PathBuf) {
    let dir = temp_dir(&format!("paradigm-{keyword}"));
    let out = cuelab(&[
        "simulate",
        &format!("protocols/{protocol}.toml"),
        "--participants",
        N,
        "--seed",
        "7",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let data = dir.join("export/data");
    (dir, data)
}

/// Mean of `value(row)` per `key(row)`, over test trials.
fn means_by<K: Ord>(
    t: &Csv,
    key: impl Fn(&Row) -> K,
    value: impl Fn(&Row) -> Option<f64>,
) -> BTreeMap<K, f64> {
    let mut sums: BTreeMap<K, (f64, f64)> = BTreeMap::new();
    for r in t.rows.iter().filter(|r| r["practice"] == "FALSE") {
        if let Some(v) = value(r) {
            let e = sums.entry(key(r)).or_default();
            e.0 += v;
            e.1 += 1.0;
        }
    }
    sums.into_iter().map(|(k, (s, n))| (k, s / n)).collect()
}

fn means(t: &Csv, factor: &str, value: impl Fn(&Row) -> Option<f64>) -> BTreeMap<String, f64> {
    means_by(t, |r| r[factor].clone(), value)
}

#[test]
fn time_perception_arousing_music_lengthens_estimates() {
    let (dir, data) = simulate("time-perception", "timeperception");
    let t = Csv::read(&data.join("experiment-timeperception_table-trials_data.csv"));
    assert_eq!(
        t.rows.iter().filter(|r| r["practice"] == "FALSE").count(),
        100 * 12
    );
    // Verbal estimates: arousing > no music > relaxing, sad (Ansani et al. 2021's direction).
    let m = means(&t, "music", |r| {
        Some((t.f64(r, "verbal")? / t.f64(r, "clip_duration_s")?).ln())
    });
    assert!(
        m["arousing"] > m["silence"] && m["silence"] > m["relaxing"] && m["silence"] > m["sad"],
        "{m:?}"
    );
    // Reproductions go the same way.
    let m = means(&t, "music", |r| {
        Some(t.f64(r, "reproduction")? / t.f64(r, "clip_duration_s")?)
    });
    assert!(
        m["arousing"] > m["silence"] && m["silence"] > m["relaxing"],
        "{m:?}"
    );
    // The jittered fixation stays within its declared range.
    for r in &t.rows {
        let ms = t.f64(r, "fixation_ms").unwrap();
        assert!((500.0..=1500.0).contains(&ms), "{ms}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn congruence_fit_follows_the_match_of_music_and_scene() {
    let (dir, data) = simulate("congruence", "congruence");
    let t = Csv::read(&data.join("experiment-congruence_table-trials_data.csv"));
    assert_eq!(
        t.rows.iter().filter(|r| r["practice"] == "FALSE").count(),
        100 * 12
    );
    // Fit is a crossover: the calm, pleasant approach fits relaxing music, the chase scary music.
    let fit = means_by(
        &t,
        |r| (r["clip"].clone(), r["music"].clone()),
        |r| t.f64(r, "fit"),
    );
    let at = |clip: &str, music: &str| fit[&(clip.to_string(), music.to_string())];
    assert!(
        at("approach", "relaxing") > at("approach", "scary") + 20.0,
        "{fit:?}"
    );
    assert!(
        at("chase", "scary") > at("chase", "relaxing") + 20.0,
        "{fit:?}"
    );
    // The music's character transfers to the shapes (semantic differential, 1-7).
    let excited = means(&t, "music", |r| t.f64(r, "sd_calm_excited"));
    assert!(
        excited["arousing"] > excited["relaxing"] + 1.0,
        "{excited:?}"
    );
    assert!(excited["scary"] > excited["sad"] + 1.0, "{excited:?}");
    let happy = means(&t, "music", |r| t.f64(r, "sd_sad_happy"));
    assert!(happy["relaxing"] > happy["sad"] + 1.0, "{happy:?}");
    assert!(happy["arousing"] > happy["scary"] + 1.0, "{happy:?}");
    // Blocks by music: each participant hears each music in one run of 3 trials.
    for p in 1..=100 {
        let label = format!("S{p:03}");
        let music: Vec<&str> = t
            .rows
            .iter()
            .filter(|r| r["participant"] == label && r["practice"] == "FALSE")
            .map(|r| r["music"].as_str())
            .collect();
        let runs = music.windows(2).filter(|w| w[0] != w[1]).count() + 1;
        assert_eq!(runs, 4, "{label}: {music:?}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn emotion_attribution_follows_the_music_in_ratings_and_continuous_traces() {
    let (dir, data) = simulate("emotion-attribution", "emotionattribution");
    let t = Csv::read(&data.join("experiment-emotionattribution_table-trials_data.csv"));
    let valence = means(&t, "music", |r| t.f64(r, "sam_valence"));
    assert!(valence["happy"] > valence["sad"] + 1.0, "{valence:?}");
    let happy = means(&t, "music", |r| t.f64(r, "emotions_happy"));
    assert!(happy["happy"] > happy["sad"], "{happy:?}");
    let sad = means(&t, "music", |r| t.f64(r, "emotions_sad"));
    assert!(sad["sad"] > sad["happy"], "{sad:?}");
    // Continuous ratings follow the changing soundtracks' curves: early (2-10 s) against late
    // (16-24 s) in the clip.
    let music: BTreeMap<(String, String), String> = t
        .rows
        .iter()
        .map(|r| {
            (
                (r["participant"].clone(), r["trial_index"].clone()),
                r["music"].clone(),
            )
        })
        .collect();
    let c = Csv::read(&data.join("experiment-emotionattribution_table-continuous_data.csv"));
    let mut sums: BTreeMap<(String, String, bool), (f64, f64)> = BTreeMap::new();
    for r in &c.rows {
        let t_s = c.f64(r, "t_ms").unwrap() / 1000.0;
        let late = match t_s {
            x if (2.0..10.0).contains(&x) => false,
            x if (16.0..24.0).contains(&x) => true,
            _ => continue,
        };
        let m = &music[&(r["participant"].clone(), r["trial_index"].clone())];
        let e = sums
            .entry((m.clone(), r["item"].clone(), late))
            .or_default();
        e.0 += c.f64(r, "value").unwrap();
        e.1 += 1.0;
    }
    let mean = |m: &str, dim: &str, late: bool| {
        let (s, n) = sums[&(m.to_string(), dim.to_string(), late)];
        s / n
    };
    assert!(
        mean("sad_to_happy", "valence", true) > mean("sad_to_happy", "valence", false) + 1.0,
        "{sums:?}"
    );
    assert!(
        mean("calm_to_tense", "valence", true) < mean("calm_to_tense", "valence", false) - 1.0,
        "{sums:?}"
    );
    assert!(
        mean("calm_to_tense", "arousal", true) > mean("calm_to_tense", "arousal", false) + 1.0,
        "{sums:?}"
    );
    // Constant music gives no such change.
    assert!(
        (mean("happy", "valence", true) - mean("happy", "valence", false)).abs() < 0.5,
        "{sums:?}"
    );
    // The achieved sampling rate is the protocol's 20 Hz.
    for r in t.rows.iter().take(20) {
        let hz = t.f64(r, "continuous_hz").unwrap();
        assert!((hz - 20.0).abs() < 1e-6, "{hz}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn memory_bias_music_congruent_details_are_falsely_recognised_more_often() {
    let (dir, data) = simulate("memory-bias", "memorybias");
    let r = Csv::read(&data.join("experiment-memorybias_table-responses_data.csv"));
    // The recognition file says which details are old and which are congruent with the music.
    let items = Csv::read(&root().join("protocols/conditions/recognition.csv"));
    let design: BTreeMap<&str, (&str, &str)> = items
        .rows
        .iter()
        .map(|x| {
            (
                x["item"].as_str(),
                (x["old"].as_str(), x["congruent"].as_str()),
            )
        })
        .collect();
    let recognition: Vec<_> = r
        .rows
        .iter()
        .filter(|x| x["kind"] == "recognition")
        .collect();
    assert!(!recognition.is_empty());
    // Rate of "old" answers (`value` 1) per (old, congruent) cell.
    let mut cells: BTreeMap<(&str, &str), (f64, f64)> = BTreeMap::new();
    for x in &recognition {
        let key = design[x["item"].as_str()];
        let e = cells.entry(key).or_default();
        e.0 += r.f64(x, "value").unwrap();
        e.1 += 1.0;
    }
    let rate = |old: &str, congruent: &str| {
        let (s, n) = cells[&(old, congruent)];
        s / n
    };
    // Old details are recognised more often than new ones are falsely recognised.
    assert!(
        rate("true", "false") > rate("false", "false") + 0.2,
        "{cells:?}"
    );
    // New details that fit the music's mood are falsely recognised more often (Boltz 2001).
    assert!(
        rate("false", "true") > rate("false", "false") + 0.03,
        "{cells:?}"
    );

    // `confidence = 4`: one confidence row per answer, under `recognition_confidence`, on the
    // 1-4 scale, given after its answer — and higher for correct answers than for errors.
    let confidence: BTreeMap<(&str, &str, &str), f64> = r
        .rows
        .iter()
        .filter(|x| x["kind"] == "recognition_confidence")
        .map(|x| {
            assert_eq!(x["step"], "recognition_confidence");
            let v = r.f64(x, "value").unwrap();
            assert!([1.0, 2.0, 3.0, 4.0].contains(&v), "{x:?}");
            (
                (
                    x["participant"].as_str(),
                    x["trial_index"].as_str(),
                    x["item"].as_str(),
                ),
                v,
            )
        })
        .collect();
    assert_eq!(confidence.len(), recognition.len());
    let (mut right, mut wrong) = ((0.0, 0.0), (0.0, 0.0));
    for x in &recognition {
        let key = (
            x["participant"].as_str(),
            x["trial_index"].as_str(),
            x["item"].as_str(),
        );
        let c = confidence[&key];
        let cell = if x["correct"] == "TRUE" {
            &mut right
        } else {
            &mut wrong
        };
        cell.0 += c;
        cell.1 += 1.0;
    }
    let (right, wrong) = (right.0 / right.1, wrong.0 / wrong.1);
    assert!(
        right > wrong + 0.3,
        "confidence: correct {right}, errors {wrong}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn every_bundled_protocol_completes_a_simulated_run_on_the_virtual_clock() {
    let dir = temp_dir("paradigm-run");
    for protocol in [
        "time-perception",
        "congruence",
        "emotion-attribution",
        "memory-bias",
    ] {
        let out = cuelab(&[
            "run",
            &format!("protocols/{protocol}.toml"),
            "--participant",
            "1",
            "--simulate",
            "--audio",
            "virtual",
            "--display",
            "headless",
            "--clock",
            "virtual",
            "--data-dir",
            dir.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{protocol}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("session completed"),
            "{protocol}: {}",
            text(&out)
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}
