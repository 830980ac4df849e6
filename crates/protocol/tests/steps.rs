//! Step ids, `when`, jittered durations and the inter-trial interval, as the plan carries them.

use cuelab_core::ParticipantId;
use cuelab_protocol::{MemFiles, Protocol, load, plan};

fn protocol(design: &str, procedure: &str) -> Protocol {
    let text = format!(
        r#"
[experiment]
id = "t"
title = "T"
version = "1"

[stimuli.clips]
c1 = "c1.mp4"
c2 = "c2.mp4"

[stimuli.soundtracks]
tone = "a.flac"

[factors]
music = {{ levels = ["tone", "silence"] }}

[design]
{design}

{procedure}
"#
    );
    let files = ["c1.mp4", "c2.mp4", "a.flac"]
        .iter()
        .fold(MemFiles::default(), |f, name| f.with(name, vec![1u8; 16]));
    load("t.toml", text.as_bytes(), &files).unwrap_or_else(|d| panic!("{d}"))
}

fn id(k: u64) -> ParticipantId {
    ParticipantId::parse(&format!("P{k:02}")).unwrap()
}

const FIT: &str = r#"
[[procedure]]
fixation = { ms = { uniform = [400, 799] } }

[[procedure]]
clip = {}

[[procedure]]
id = "fit"
when = 'music != "silence"'
timeout_ms = 10000
rating = { scale = "vas", prompt = "How well does the music fit the scene?" }

[[procedure]]
rating = { scale = "sam" }
"#;

#[test]
fn a_silent_trial_has_no_fit_step() {
    let p = protocol("", FIT);
    let plan = plan(&p, &id(1), 1).unwrap();
    assert_eq!(plan.trials.len(), 4);
    for t in &plan.trials {
        let want: Vec<&str> = if t.conditions["music"] == "silence" {
            vec!["fixation1", "clip1", "rating2"]
        } else {
            vec!["fixation1", "clip1", "fit", "rating2"]
        };
        assert_eq!(t.steps, want, "{t:?}");
    }
    let fit = p.step("fit").unwrap();
    assert_eq!(fit.timeout_ms, Some(10000));
    assert_eq!(fit.output_names(), ["fit"]);
    assert_eq!(
        p.step("rating2").unwrap().output_names(),
        ["rating2_valence", "rating2_arousal"]
    );
}

/// Pearson's chi-square over 10 equal bins of the 400 whole-ms values 400..=799, from every
/// trial of 1000 participants (4000 draws): below the 0.1% critical value of chi-square with
/// 9 degrees of freedom (27.877), and both ends of the range are drawn.
#[test]
fn jittered_durations_are_uniform_over_1000_participants() {
    let p = protocol("", FIT);
    let mut bins = [0u32; 10];
    let (mut lo, mut hi) = (u32::MAX, 0);
    for k in 1..=1000 {
        for t in plan(&p, &id(k), 1).unwrap().trials {
            let ms = t.durations_ms["fixation1"];
            assert!((400..=799).contains(&ms), "{ms}");
            bins[((ms - 400) / 40) as usize] += 1;
            lo = lo.min(ms);
            hi = hi.max(ms);
        }
    }
    let n: u32 = bins.iter().sum();
    assert_eq!(n, 4000);
    let expected = f64::from(n) / 10.0;
    let chi2: f64 = bins
        .iter()
        .map(|&o| (f64::from(o) - expected).powi(2) / expected)
        .sum();
    assert!(chi2 < 27.877, "chi-square {chi2} for {bins:?}");
    assert_eq!((lo, hi), (400, 799));
}

#[test]
fn plans_with_jitter_are_byte_identical_across_runs() {
    let p = protocol("iti_ms = { uniform = [800, 1200] }", FIT);
    for k in [1, 2, 77] {
        let a = serde_json::to_string(&plan(&p, &id(k), 1).unwrap()).unwrap();
        let b = serde_json::to_string(&plan(&p, &id(k), 1).unwrap()).unwrap();
        assert_eq!(a, b);
        assert!(a.contains("\"durations_ms\":{\"fixation1\":"), "{a}");
        assert!(a.contains("\"iti_ms\":0,"), "{a}");
    }
}

#[test]
fn the_iti_comes_before_every_trial_but_the_first() {
    let p = protocol("iti_ms = { uniform = [800, 1200] }\npractice = 1", FIT);
    let plan = plan(&p, &id(3), 1).unwrap();
    assert_eq!(plan.trials[0].iti_ms, 0);
    assert!(
        plan.trials[1..]
            .iter()
            .all(|t| (800..=1200).contains(&t.iti_ms))
    );
    let fixed = protocol("iti_ms = 1000", FIT);
    let plan = cuelab_protocol::plan(&fixed, &id(3), 1).unwrap();
    assert!(plan.trials[1..].iter().all(|t| t.iti_ms == 1000));
}

#[test]
fn a_fixed_fixation_is_in_durations_and_jitter_does_not_change_the_order() {
    let jittered = protocol("seed = 5", FIT);
    let fixed = protocol("seed = 5", &FIT.replace("{ uniform = [400, 799] }", "500"));
    for k in 1..=20 {
        let a = plan(&jittered, &id(k), 1).unwrap();
        let b = plan(&fixed, &id(k), 1).unwrap();
        assert!(b.trials.iter().all(|t| t.durations_ms["fixation1"] == 500));
        // Durations are drawn after the order, so the same seed gives the same order.
        let order = |p: &cuelab_protocol::TrialPlan| {
            p.trials
                .iter()
                .map(|t| (t.clip.clone(), t.conditions.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(order(&a), order(&b));
    }
}

#[test]
fn derived_ids_count_each_kind_through_before_procedure_and_after() {
    let p = protocol(
        "",
        r#"
[[before]]
instructions = { text = "hi" }
[[before]]
rating = { scale = "vas" }
[[procedure]]
clip = {}
[[procedure]]
rating = { scale = "vas" }
[[procedure]]
id = "named"
rating = { scale = "vas" }
[[after]]
rating = { scale = "vas" }
[[after]]
instructions = { text = "bye" }
"#,
    );
    let ids: Vec<&str> = p.all_steps().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "instructions1",
            "rating1",
            "clip1",
            "rating2",
            "named",
            "rating4",
            "instructions2"
        ]
    );
    let plan = plan(&p, &id(1), 1).unwrap();
    assert_eq!(plan.before_steps, ["instructions1", "rating1"]);
    assert_eq!(plan.after_steps, ["rating4", "instructions2"]);
}
