//! `cuelab simulate --participants 100` for each bundled protocol: the exported tables show each
//! paradigm's simulated effect in the direction the simulated participants' model gives it
//! (`cuelab_session::simulate`'s module doc).

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use common::{Csv, cuelab, temp_dir, text};

const N: &str = "100";

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

/// Mean of `value(row)` per level of `factor`, over test trials.
fn means(
    t: &Csv,
    factor: &str,
    value: impl Fn(&BTreeMap<String, String>) -> Option<f64>,
) -> BTreeMap<String, f64> {
    let mut sums: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for r in t.rows.iter().filter(|r| r["practice"] == "FALSE") {
        if let Some(v) = value(r) {
            let e = sums.entry(r[factor].clone()).or_default();
            e.0 += v;
            e.1 += 1.0;
        }
    }
    sums.into_iter().map(|(k, (s, n))| (k, s / n)).collect()
}

#[test]
fn time_perception_arousing_music_lengthens_estimates() {
    let (dir, data) = simulate("time-perception", "timeperception");
    let t = Csv::read(&data.join("experiment-timeperception_table-trials_data.csv"));
    assert_eq!(
        t.rows.iter().filter(|r| r["practice"] == "FALSE").count(),
        100 * 12
    );
    let m = means(&t, "music", |r| {
        Some((t.f64(r, "time_estimate1")? / t.f64(r, "clip_duration_s")?).ln())
    });
    assert!(
        m["arousing"] > m["silence"] && m["silence"] > m["relaxing"] && m["relaxing"] > m["sad"],
        "{m:?}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn congruence_fit_follows_the_match_of_music_and_scene() {
    let (dir, data) = simulate("congruence", "congruence");
    let t = Csv::read(&data.join("experiment-congruence_table-trials_data.csv"));
    // The bundled clips carry no scene affect (neutral: valence 5, arousal 4), so the calm
    // relaxing music fits them better than the arousing music.
    let fit = means(&t, "music", |r| t.f64(r, "rating2"));
    assert!(fit["relaxing"] > fit["arousing"] + 5.0, "{fit:?}");
    // The music's character transfers to the shapes' activity rating.
    let activity = means(&t, "music", |r| t.f64(r, "rating1_activity"));
    assert!(activity["arousing"] > activity["relaxing"], "{activity:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn emotion_attribution_follows_the_music_in_ratings_and_continuous_traces() {
    let (dir, data) = simulate("emotion-attribution", "emotionattribution");
    let t = Csv::read(&data.join("experiment-emotionattribution_table-trials_data.csv"));
    let valence = means(&t, "music", |r| t.f64(r, "rating1_valence"));
    assert!(valence["happy"] > valence["sad"] + 1.0, "{valence:?}");
    let happy = means(&t, "music", |r| t.f64(r, "rating2_happy"));
    assert!(happy["happy"] > happy["sad"], "{happy:?}");
    // Continuous valence, by the trial's music.
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
    let mut sums: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for r in c.rows.iter().filter(|r| r["item"] == "valence") {
        let m = &music[&(r["participant"].clone(), r["trial_index"].clone())];
        let e = sums.entry(m.clone()).or_default();
        e.0 += c.f64(r, "value").unwrap();
        e.1 += 1.0;
    }
    let mean = |k: &str| sums[k].0 / sums[k].1;
    assert!(mean("happy") > mean("sad") + 0.5, "{sums:?}");
    // The achieved sampling rate is the protocol's 20 Hz.
    for r in t.rows.iter().take(20) {
        let hz = t.f64(r, "continuous_hz").unwrap();
        assert!((hz - 20.0).abs() < 1e-6, "{hz}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn memory_bias_old_items_are_recognised_more_often_than_new_ones() {
    let (dir, data) = simulate("memory-bias", "memorybias");
    let r = Csv::read(&data.join("experiment-memorybias_table-responses_data.csv"));
    let recognition: Vec<_> = r
        .rows
        .iter()
        .filter(|x| x["kind"] == "recognition")
        .collect();
    assert!(!recognition.is_empty());
    // `correct` is whether the old/new answer was right; `value` 1 = "old".
    let said_old = |correct: &str, value: &str| {
        recognition
            .iter()
            .filter(|x| x["correct"] == correct && x["value"] == value)
            .count() as f64
    };
    let hits = said_old("TRUE", "1");
    let misses = said_old("FALSE", "0");
    let false_alarms = said_old("FALSE", "1");
    let correct_rejections = said_old("TRUE", "0");
    let hit_rate = hits / (hits + misses);
    let fa_rate = false_alarms / (false_alarms + correct_rejections);
    assert!(
        hit_rate > fa_rate + 0.2,
        "hit rate {hit_rate}, false-alarm rate {fa_rate}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
