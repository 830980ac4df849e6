//! Pairwise comparisons of within-subject levels in mixed designs against emmeans on afex
//! models (tests/r/emmeans.R): an unbalanced design (groups of 5, 7 and 9 subjects, A × B
//! within) and MusicTime (Music within, MusicBg between).

mod common;

use common::{REL, close, fixture, num, read_csv};
use cuelab_stats::{CellMatrix, Groups, PAdjust, WithinFactor, WithinPairwise, within_pairwise};
use serde_json::Value;

fn check(got: &WithinPairwise, want: &Value, labels: &[&str]) {
    let means = want["means"].as_array().unwrap();
    assert_eq!(got.means.len(), means.len());
    for (g, w) in got.means.iter().zip(means) {
        assert_eq!(labels[g.level], w["level"].as_str().unwrap());
        for (name, v) in [
            ("mean", g.mean),
            ("se", g.se),
            ("df", g.df),
            ("ci_lower", g.ci_lower),
            ("ci_upper", g.ci_upper),
        ] {
            close(&format!("{} {name}", labels[g.level]), v, num(w, name), REL);
        }
    }
    let contrasts = want["contrasts"].as_array().unwrap();
    assert_eq!(got.contrasts.len(), contrasts.len());
    for (g, w) in got.contrasts.iter().zip(contrasts) {
        let label = format!("{} - {}", labels[g.a], labels[g.b]);
        assert_eq!(label, w["contrast"].as_str().unwrap());
        for (name, v) in [
            ("estimate", g.estimate),
            ("se", g.se),
            ("df", g.df),
            ("t", g.t),
            ("p", g.p),
            ("p_holm", g.p_adjusted),
            ("ci_lower", g.ci_lower),
            ("ci_upper", g.ci_upper),
        ] {
            close(&format!("{label} {name}"), v, num(w, name), REL);
        }
    }
}

#[test]
fn unbalanced_groups_match_emmeans() {
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
    let cells = CellMatrix::new(&values, n, 6).unwrap();
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
    let groups = Groups {
        n_groups: 3,
        codes: &group,
    };
    let fx = fixture("emmeans");
    assert_eq!(fx["model"], "multivariate");
    let a = within_pairwise(&cells, &within, 0, &groups, PAdjust::Holm, 0.95).unwrap();
    check(&a, &fx["unbalanced_A"], &["a1", "a2", "a3"]);
    let b = within_pairwise(&cells, &within, 1, &groups, PAdjust::Holm, 0.95).unwrap();
    check(&b, &fx["unbalanced_B"], &["b1", "b2"]);
}

#[test]
fn musictime_matches_emmeans() {
    let rows = read_csv(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../datasets/musictime/musictime.csv"
    ));
    let levels = ["control", "upbeat", "calm"];
    let mut values = vec![f64::NAN; 60];
    let mut bg = vec![usize::MAX; 20];
    for r in &rows {
        let s: usize = r["Subject"][4..].parse::<usize>().unwrap() - 1;
        let c = levels.iter().position(|l| *l == r["Music"]).unwrap();
        values[s * 3 + c] = r["TimeGuess"].parse().unwrap();
        bg[s] = usize::from(r["MusicBg"] == "yes");
    }
    let cells = CellMatrix::new(&values, 20, 3).unwrap();
    let within = [WithinFactor {
        name: "Music",
        n_levels: 3,
    }];
    let groups = Groups {
        n_groups: 2,
        codes: &bg,
    };
    let got = within_pairwise(&cells, &within, 0, &groups, PAdjust::Holm, 0.95).unwrap();
    check(&got, &fixture("emmeans")["musictime_music"], &levels);
}

#[test]
fn one_group_is_the_paired_t_test() {
    let values = [1.0, 2.5, 2.0, 4.0, 3.0, 3.5, 5.0, 7.5, 4.0, 4.2];
    let cells = CellMatrix::new(&values, 5, 2).unwrap();
    let within = [WithinFactor {
        name: "A",
        n_levels: 2,
    }];
    let groups = Groups {
        n_groups: 1,
        codes: &[0; 5],
    };
    let got = within_pairwise(&cells, &within, 0, &groups, PAdjust::Holm, 0.95).unwrap();
    let t = cuelab_stats::paired_t(&cells.column(0), &cells.column(1), 0.95).unwrap();
    close("t", got.contrasts[0].t, t.t, 1e-12);
    close("p", got.contrasts[0].p, t.p, 1e-12);
}
