//! Effect sizes with CIs against the R package effectsize (tests/r/effsize.R): partial,
//! generalized and plain eta squared with one-sided 95% CIs on afex models (a mixed design with
//! unequal groups, MusicTime within and mixed), Cohen's d_z with two-sided CIs.

mod common;

use common::{REL, close, fixture, num, read_csv};
use cuelab_stats::{
    AnovaInput, AnovaTable, BetweenFactor, EffectSizeCi, WithinFactor, anova, dz_ci, paired_t,
};
use serde_json::Value;

/// The mixed design of tests/fixtures/anova_unbalanced.csv: G (5/7/9 subjects) × A (3) × B (2).
fn unbalanced(observed: &[&str]) -> AnovaTable {
    let rows = read_csv(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/anova_unbalanced.csv"
    ));
    let n = 21;
    let mut values = vec![f64::NAN; n * 6];
    let mut group = vec![usize::MAX; n];
    for r in &rows {
        let s: usize = r["id"][1..].parse::<usize>().unwrap() - 1;
        let a: usize = r["A"][1..].parse::<usize>().unwrap() - 1;
        let b: usize = r["B"][1..].parse::<usize>().unwrap() - 1;
        values[s * 6 + a * 2 + b] = r["y"].parse().unwrap();
        group[s] = r["G"][1..].parse::<usize>().unwrap() - 1;
    }
    let between = [BetweenFactor {
        name: "G",
        n_levels: 3,
        codes: &group,
    }];
    let within = [
        WithinFactor {
            name: "A",
            n_levels: 3,
        },
        WithinFactor {
            name: "B",
            n_levels: 2,
        },
    ];
    anova(&AnovaInput {
        n_subjects: n,
        between: &between,
        within: &within,
        values: &values,
        observed,
    })
    .unwrap()
}

const LEVELS: [&str; 3] = ["control", "upbeat", "calm"];

/// MusicTime cell means (20 subjects × control, upbeat, calm) and MusicBg (no = 0, yes = 1).
fn musictime() -> (Vec<f64>, Vec<usize>) {
    let rows = read_csv(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../datasets/musictime/musictime.csv"
    ));
    let mut cells = vec![f64::NAN; 60];
    let mut bg = vec![usize::MAX; 20];
    for r in &rows {
        let s: usize = r["Subject"][4..].parse::<usize>().unwrap() - 1;
        let c = LEVELS.iter().position(|l| *l == r["Music"]).unwrap();
        cells[s * 3 + c] = r["TimeGuess"].parse().unwrap();
        bg[s] = usize::from(r["MusicBg"] == "yes");
    }
    (cells, bg)
}

fn musictime_anova(with_bg: bool) -> AnovaTable {
    let (cells, bg) = musictime();
    let within = [WithinFactor {
        name: "Music",
        n_levels: 3,
    }];
    let between = [BetweenFactor {
        name: "Background",
        n_levels: 2,
        codes: &bg,
    }];
    anova(&AnovaInput {
        n_subjects: 20,
        between: if with_bg { &between } else { &[] },
        within: &within,
        values: &cells,
        observed: &[],
    })
    .unwrap()
}

/// effectsize's own limits: it stops `optim` once the summed CDF error is below 1e-9, which
/// leaves them up to a few 1e-6 (relative) off the root; the roots R finds with `uniroot` are
/// compared at [`REL`].
const EFFECTSIZE_REL: f64 = 5e-6;

#[track_caller]
fn check_ci(what: &str, got: &EffectSizeCi, want: &Value) {
    close(
        &format!("{what} estimate"),
        got.estimate,
        num(want, "estimate"),
        REL,
    );
    close(
        &format!("{what} lower"),
        got.ci_lower,
        num(want, "ci_low_root"),
        REL,
    );
    close(
        &format!("{what} lower (effectsize)"),
        got.ci_lower,
        num(want, "ci_low"),
        EFFECTSIZE_REL,
    );
    assert_eq!(got.ci_upper, num(want, "ci_high"), "{what} upper");
    assert!(got.one_sided && got.conf_level == num(want, "ci"));
}

/// Compares every kind of eta squared of every effect with effectsize's tables.
fn check_table(t: &AnovaTable, want: &Value, kinds: &[&str]) {
    for kind in kinds {
        let rows = want[*kind].as_array().unwrap();
        assert_eq!(rows.len(), t.rows.len(), "{kind}: one row per effect");
        for w in rows {
            let effect = w["effect"].as_str().unwrap();
            let r = t
                .row(effect)
                .unwrap_or_else(|| panic!("no effect {effect}"));
            let got = match *kind {
                "partial" => &r.pes_ci,
                "generalized" => &r.ges_ci,
                _ => &r.eta2_ci,
            };
            check_ci(&format!("{kind} {effect}"), got, w);
        }
    }
}

const KINDS: [&str; 3] = ["partial", "generalized", "plain"];

#[test]
fn eta_squared_cis_match_effectsize_on_an_unbalanced_mixed_design() {
    let fx = fixture("effsize");
    check_table(&unbalanced(&[]), &fx["mixed"], &KINDS);
    check_table(
        &unbalanced(&["G"]),
        &fx["mixed_observed_G"],
        &["generalized"],
    );
}

#[test]
fn eta_squared_cis_match_effectsize_on_musictime() {
    let fx = fixture("effsize");
    check_table(&musictime_anova(false), &fx["musictime_rm"], &KINDS);
    check_table(&musictime_anova(true), &fx["musictime_mixed"], &KINDS);
}

#[test]
fn some_interval_has_a_positive_lower_limit() {
    // Guards against a fixture where every lower limit is 0, which would test nothing.
    let fx = fixture("effsize");
    let positive = ["mixed", "musictime_rm", "musictime_mixed"]
        .iter()
        .flat_map(|t| KINDS.iter().map(move |k| (t, k)))
        .flat_map(|(t, k)| fx[*t][*k].as_array().unwrap().clone())
        .filter(|w| num(w, "ci_low") > 0.0)
        .count();
    assert!(positive >= 5, "{positive}");
}

#[test]
fn dz_cis_match_effectsize_cohens_d_paired() {
    let fx = fixture("effsize");
    let (cells, _) = musictime();
    let col = |c: usize| (0..20).map(|s| cells[s * 3 + c]).collect::<Vec<f64>>();
    for w in fx["musictime_dz"].as_array().unwrap() {
        let a = LEVELS.iter().position(|l| *l == w["a"]).unwrap();
        let b = LEVELS.iter().position(|l| *l == w["b"]).unwrap();
        let t = paired_t(&col(a), &col(b), 0.95).unwrap();
        let what = format!("dz {a}-{b}");
        close(&what, t.dz, num(w, "dz"), REL);
        for (name, got) in [("low", t.dz_ci.ci_lower), ("high", t.dz_ci.ci_upper)] {
            close(&what, got, num(w, &format!("ci_{name}_root")), REL);
            close(&what, got, num(w, &format!("ci_{name}")), EFFECTSIZE_REL);
        }
        assert!(!t.dz_ci.one_sided);
    }
    let s = &fx["small_dz"];
    let xs: Vec<f64> = s["x"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let ys: Vec<f64> = s["y"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let t = paired_t(&xs, &ys, 0.9).unwrap();
    close("small dz", t.dz, num(s, "dz"), REL);
    let ci = dz_ci(t.dz, xs.len(), 0.9).unwrap();
    for (name, got) in [("low", ci.ci_lower), ("high", ci.ci_upper)] {
        close("small", got, num(s, &format!("ci_{name}_root")), REL);
        close("small", got, num(s, &format!("ci_{name}")), EFFECTSIZE_REL);
    }
}
