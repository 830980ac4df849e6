//! priming (MusicScienceData; Armitage & Eerola 2020), correct trials only: the mixed model
//! RT ~ Congruence + (1 | Participant), the Prime × Target repeated-measures ANOVA on cell
//! means, descriptives, pairwise tests and the congruence effect, against
//! tests/fixtures/priming.json (recorded by tests/r/priming.R).

mod common;

use common::{LMM_REL, REL, close, codes, fixture, num, read_csv};
use cuelab_stats::{
    AnovaInput, CellMatrix, DesignMatrix, FixedFactor, GroupingFactor, LmmFit, LmmOptions, PAdjust,
    WithinFactor, anova, congruence_effect, describe, fit_lmm, pairwise_paired,
};
use serde_json::Value;

const PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/datasets/priming/priming.csv"
);
const VALENCE: [&str; 2] = ["Negative", "Positive"];

struct Trial {
    participant: u32,
    prime: usize,
    target: usize,
    congruent: bool,
    rt: f64,
}

fn load() -> (usize, Vec<Trial>) {
    let rows = read_csv(PATH);
    let n_all = rows.len();
    let trials = rows
        .iter()
        .filter(|r| r["Correct"] == "Correct")
        .map(|r| Trial {
            participant: r["Participant"].parse::<u32>().unwrap() - 1,
            prime: VALENCE.iter().position(|v| *v == r["Prime_V"]).unwrap(),
            target: VALENCE.iter().position(|v| *v == r["Target_V"]).unwrap(),
            congruent: r["Congruence"] == "Congruent",
            rt: r["RT"].parse().unwrap(),
        })
        .collect();
    (n_all, trials)
}

/// Per-participant means over `key` cells (subject-major).
fn cell_means(trials: &[Trial], n_cells: usize, key: impl Fn(&Trial) -> usize) -> Vec<f64> {
    let n = 39;
    let mut sum = vec![0.0; n * n_cells];
    let mut count = vec![0.0; n * n_cells];
    for t in trials {
        let i = t.participant as usize * n_cells + key(t);
        sum[i] += t.rt;
        count[i] += 1.0;
    }
    assert!(
        count.iter().all(|&c| c > 0.0),
        "every participant has every cell"
    );
    sum.iter().zip(&count).map(|(s, c)| s / c).collect()
}

fn check_lmm(fit: &LmmFit, want: &Value, rel: f64) {
    for (f, w) in fit.fixed.iter().zip(want["fixed"].as_array().unwrap()) {
        assert_eq!(f.name, w["name"].as_str().unwrap());
        for (name, v) in [
            ("estimate", f.estimate),
            ("se", f.se),
            ("df", f.df),
            ("t", f.t),
            ("p", f.p),
        ] {
            close(&format!("{} {name}", f.name), v, num(w, name), rel);
        }
    }
    assert_eq!(fit.fixed.len(), want["fixed"].as_array().unwrap().len());
    close(
        "SD participant",
        fit.random[0].sd,
        num(&want["random"][0], "sd"),
        rel,
    );
    close(
        "residual SD",
        fit.residual_sd,
        num(want, "residual_sd"),
        rel,
    );
    close(
        "REML criterion",
        fit.criterion,
        num(want, "reml_criterion"),
        1e-10,
    );
    assert_eq!(fit.n_obs as f64, num(want, "n_obs"));
}

#[test]
fn counts_match_readme() {
    let (n_all, trials) = load();
    assert_eq!((n_all, trials.len()), (2496, 2245));
}

#[test]
fn anova_describe_pairwise_congruence() {
    let (_, trials) = load();
    let fx = fixture("priming");
    let values = cell_means(&trials, 4, |t| t.prime * 2 + t.target);
    let within = [
        WithinFactor {
            name: "Prime_V",
            n_levels: 2,
        },
        WithinFactor {
            name: "Target_V",
            n_levels: 2,
        },
    ];
    let table = anova(&AnovaInput {
        n_subjects: 39,
        between: &[],
        within: &within,
        values: &values,
        observed: &[],
    })
    .unwrap();
    let effects: Vec<&str> = table.rows.iter().map(|r| r.effect.as_str()).collect();
    assert_eq!(effects, ["Prime_V", "Target_V", "Prime_V:Target_V"]);
    for r in fx["rm_anova"].as_array().unwrap() {
        let eff = r["effect"].as_str().unwrap();
        let got = if eff == "(Intercept)" {
            &table.intercept
        } else {
            table.row(eff).unwrap()
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
        // Two-level factors have one df per subject: no sphericity test.
        assert!(got.sphericity.is_none());
    }

    let cells = CellMatrix::new(&values, 39, 4).unwrap();
    for (got, want) in describe(&cells, 0.95)
        .unwrap()
        .iter()
        .zip(fx["describe"].as_array().unwrap())
    {
        for (name, v) in [
            ("mean", got.mean),
            ("sd", got.sd),
            ("se_within", got.se_within),
            ("ci_lower", got.ci_lower),
            ("ci_upper", got.ci_upper),
        ] {
            close(name, v, num(want, name), REL);
        }
    }
    let pairs = pairwise_paired(&cells, PAdjust::Holm, 0.95).unwrap();
    let bonf = pairwise_paired(&cells, PAdjust::Bonferroni, 0.95).unwrap();
    assert_eq!(pairs.len(), 6);
    for ((h, b), want) in pairs
        .iter()
        .zip(&bonf)
        .zip(fx["pairwise"].as_array().unwrap())
    {
        for (name, v) in [
            ("mean_diff", h.test.mean_diff),
            ("t", h.test.t),
            ("p", h.test.p),
            ("dz", h.test.dz),
            ("ci_lower", h.test.ci_lower),
            ("p_holm", h.p_adjusted),
            ("p_bonferroni", b.p_adjusted),
        ] {
            close(name, v, num(want, name), REL);
        }
    }

    let by_congruence = cell_means(&trials, 2, |t| usize::from(!t.congruent));
    let congruent: Vec<f64> = by_congruence.iter().step_by(2).copied().collect();
    let incongruent: Vec<f64> = by_congruence.iter().skip(1).step_by(2).copied().collect();
    let e = congruence_effect(&congruent, &incongruent, 0.95).unwrap();
    let want = &fx["congruence"];
    for (name, v) in [
        ("mean_diff", e.test.mean_diff),
        ("t", e.test.t),
        ("df", e.test.df),
        ("p", e.test.p),
        ("ci_lower", e.test.ci_lower),
        ("ci_upper", e.test.ci_upper),
    ] {
        close(name, v, num(want, name), REL);
    }
}

#[test]
fn mixed_models() {
    let (_, trials) = load();
    let fx = fixture("priming");
    let y: Vec<f64> = trials.iter().map(|t| t.rt).collect();
    let participant: Vec<u32> = trials.iter().map(|t| t.participant).collect();
    let g = [GroupingFactor {
        name: "Participant",
        n_levels: 39,
        codes: &participant,
    }];

    let levels: Vec<String> = ["Congruent", "Incongruent"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let cong: Vec<&str> = trials
        .iter()
        .map(|t| {
            if t.congruent {
                "Congruent"
            } else {
                "Incongruent"
            }
        })
        .collect();
    let cong = codes(&cong, &levels);
    let x = DesignMatrix::treatment(
        y.len(),
        &[FixedFactor {
            name: "Congruence",
            levels: &levels,
            codes: &cong,
            reference: 0,
        }],
        &[],
    )
    .unwrap();
    let fit = fit_lmm(&y, &x, &g, &LmmOptions::default()).unwrap();
    assert!(fit.convergence.converged);
    check_lmm(&fit, &fx["lmm_tight"], LMM_REL);
    check_lmm(&fit, &fx["lmm"], LMM_REL);

    // Prime_V * Target_V: the interaction column as R names it.
    let valence: Vec<String> = VALENCE.iter().map(|s| s.to_string()).collect();
    let prime: Vec<u32> = trials.iter().map(|t| t.prime as u32).collect();
    let target: Vec<u32> = trials.iter().map(|t| t.target as u32).collect();
    let x = DesignMatrix::treatment(
        y.len(),
        &[
            FixedFactor {
                name: "Prime_V",
                levels: &valence,
                codes: &prime,
                reference: 0,
            },
            FixedFactor {
                name: "Target_V",
                levels: &valence,
                codes: &target,
                reference: 0,
            },
        ],
        &[vec![0, 1]],
    )
    .unwrap();
    let fit = fit_lmm(&y, &x, &g, &LmmOptions::default()).unwrap();
    check_lmm(&fit, &fx["lmm_interaction"], LMM_REL);
    // lmerTest's type III table: the interaction is its column; a main effect under
    // treatment coding is its column plus half the interaction (averaged over the other
    // factor's two levels).
    let anova = fx["lmm_anova"].as_array().unwrap();
    common::check_f(
        &fit.f_test(&[vec![0.0, 1.0, 0.0, 0.5]]).unwrap(),
        &anova[0],
        LMM_REL,
    );
    common::check_f(
        &fit.f_test(&[vec![0.0, 0.0, 1.0, 0.5]]).unwrap(),
        &anova[1],
        LMM_REL,
    );
    common::check_f(&fit.f_test_columns(&[3]).unwrap(), &anova[2], LMM_REL);
    // The same table from the design's own type III hypotheses.
    let hyp = x.type3_hypotheses();
    assert_eq!(hyp.len(), 3);
    for (h, want) in hyp.iter().zip(anova) {
        assert_eq!(h.term, want["term"].as_str().unwrap());
        common::check_f(&fit.f_test(&h.rows).unwrap(), want, LMM_REL);
    }
}
