//! Mixed ANOVA with an unbalanced between factor (5/7/9 subjects) and two within factors
//! (3 × 2), type III, against afex (tests/fixtures/anova_unbalanced.*, tests/r/anova_unbalanced.R),
//! with and without `observed` for the generalized eta squared.

mod common;

use common::{REL, close, fixture, num, read_csv};
use cuelab_stats::{AnovaInput, BetweenFactor, WithinFactor, anova};
use serde_json::Value;

fn check(observed: &[&str], want: &Value) {
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
    let t = anova(&AnovaInput {
        n_subjects: n,
        between: &between,
        within: &within,
        values: &values,
        observed,
    })
    .unwrap();
    let effects: Vec<&str> = t.rows.iter().map(|r| r.effect.as_str()).collect();
    assert_eq!(
        effects,
        ["G", "A", "G:A", "B", "G:B", "A:B", "G:A:B"],
        "car's row order"
    );
    let want = want.as_array().unwrap();
    assert_eq!(want.len(), t.rows.len() + 1);
    for r in want {
        let eff = r["effect"].as_str().unwrap();
        let got = if eff == "(Intercept)" {
            &t.intercept
        } else {
            t.row(eff).unwrap()
        };
        for (name, v) in [
            ("df1", got.df1),
            ("df2", got.df2),
            ("ss", got.ss),
            ("ss_error", got.ss_error),
            ("f", got.f),
            ("p", got.p),
            ("ges", got.ges),
            ("pes", got.pes),
        ] {
            close(&format!("{eff} {name}"), v, num(r, name), REL);
        }
        match (got.sphericity, r.get("gg_eps")) {
            (Some(s), Some(_)) => {
                for (name, v) in [
                    ("mauchly_w", s.mauchly_w),
                    ("mauchly_p", s.mauchly_p),
                    ("gg_eps", s.gg.epsilon),
                    ("gg_p", s.gg.p),
                    ("hf_eps", s.hf.epsilon),
                    ("hf_p", s.hf.p),
                ] {
                    close(&format!("{eff} {name}"), v, num(r, name), REL);
                }
            }
            (None, None) => {}
            (g, w) => panic!("{eff}: sphericity {g:?} vs R {w:?}"),
        }
    }
}

#[test]
fn unbalanced_mixed_anova_matches_afex() {
    check(&[], &fixture("anova_unbalanced")["anova"]);
}

#[test]
fn observed_factor_changes_only_ges() {
    check(&["G"], &fixture("anova_unbalanced")["anova_observed_G"]);
}

#[test]
fn between_only_and_within_only_designs() {
    let rows = read_csv(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/anova_unbalanced.csv"
    ));
    let fx = fixture("anova_unbalanced");
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

    // Between only, on subject means.
    let means: Vec<f64> = values
        .chunks(6)
        .map(|c| c.iter().sum::<f64>() / 6.0)
        .collect();
    let between = [BetweenFactor {
        name: "G",
        n_levels: 3,
        codes: &group,
    }];
    let t = anova(&AnovaInput {
        n_subjects: n,
        between: &between,
        within: &[],
        values: &means,
        observed: &[],
    })
    .unwrap();
    for want in fx["between_only"].as_array().unwrap() {
        let eff = want["_row"].as_str().unwrap();
        let got = if eff == "(Intercept)" {
            &t.intercept
        } else {
            t.row(eff).unwrap()
        };
        for (name, v) in [
            ("num Df", got.df1),
            ("den Df", got.df2),
            ("MSE", got.mse),
            ("F", got.f),
            ("Pr(>F)", got.p),
            ("ges", got.ges),
            ("pes", got.pes),
        ] {
            close(&format!("{eff} {name}"), v, num(want, name), REL);
        }
        assert!(got.sphericity.is_none());
    }

    // Within only.
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
    let t = anova(&AnovaInput {
        n_subjects: n,
        between: &[],
        within: &within,
        values: &values,
        observed: &[],
    })
    .unwrap();
    for want in fx["within_only"].as_array().unwrap() {
        let eff = want["effect"].as_str().unwrap();
        let got = if eff == "(Intercept)" {
            &t.intercept
        } else {
            t.row(eff).unwrap()
        };
        for (name, v) in [
            ("df1", got.df1),
            ("df2", got.df2),
            ("ss", got.ss),
            ("ss_error", got.ss_error),
            ("f", got.f),
            ("p", got.p),
            ("ges", got.ges),
            ("pes", got.pes),
        ] {
            close(&format!("{eff} {name}"), v, num(want, name), REL);
        }
        if let Some(s) = got.sphericity {
            for (name, v) in [
                ("mauchly_w", s.mauchly_w),
                ("mauchly_p", s.mauchly_p),
                ("gg_eps", s.gg.epsilon),
                ("gg_p", s.gg.p),
                ("hf_eps", s.hf.epsilon),
                ("hf_p", s.hf.p),
            ] {
                close(&format!("{eff} {name}"), v, num(want, name), REL);
            }
        }
    }
}

#[test]
fn huynh_feldt_above_one_is_capped_for_df_and_p() {
    let rows = read_csv(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/anova_hf_above_one.csv"
    ));
    let values: Vec<f64> = rows.iter().map(|r| r["y"].parse().unwrap()).collect();
    // Rows are subject-major with C fastest (R's expand.grid order).
    assert_eq!(rows[1]["C"], "c2");
    let within = [WithinFactor {
        name: "C",
        n_levels: 4,
    }];
    let t = anova(&AnovaInput {
        n_subjects: 12,
        between: &[],
        within: &within,
        values: &values,
        observed: &[],
    })
    .unwrap();
    let want = &fixture("anova_unbalanced")["hf_above_one"][1];
    let s = t.row("C").unwrap().sphericity.unwrap();
    close("HF eps", s.hf.epsilon, num(want, "hf_eps"), REL);
    assert!(s.hf.epsilon > 1.0);
    assert_eq!((s.hf.df1, s.hf.df2), (3.0, 33.0));
    close("HF p", s.hf.p, num(want, "hf_p"), REL);
    close("p", t.row("C").unwrap().p, num(want, "p"), REL);
}
