//! Crossed random intercepts (participants and clips) on unbalanced data with missing trials
//! (tests/fixtures/crossed.csv, simulated with a fixed seed by tests/r/crossed.R), against
//! lme4/lmerTest.

mod common;

use common::{LMM_REL, close, codes, distinct, fixture, num, read_csv};
use cuelab_stats::{DesignMatrix, FixedFactor, GroupingFactor, LmmFit, LmmOptions, fit_lmm};
use serde_json::Value;

fn fit(options: &LmmOptions) -> LmmFit {
    fit_file("crossed.csv", options)
}

/// `log_ratio ~ music (ref silence) + (1|participant) + (1|clip)` on a fixture CSV.
fn fit_file(name: &str, options: &LmmOptions) -> LmmFit {
    let rows = read_csv(&format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ));
    let y: Vec<f64> = rows
        .iter()
        .map(|r| r["log_ratio"].parse().unwrap())
        .collect();
    let col = |k: &str| rows.iter().map(|r| r[k].as_str()).collect::<Vec<&str>>();
    let (participant, clip, music) = (col("participant"), col("clip"), col("music"));
    let p_levels = distinct(&participant);
    let c_levels = distinct(&clip);
    let (p_codes, c_codes) = (codes(&participant, &p_levels), codes(&clip, &c_levels));
    // R: relevel(factor(music), ref = "silence"), so columns arousing, relaxing.
    let levels: Vec<String> = ["arousing", "relaxing", "silence"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let m_codes = codes(&music, &levels);
    let x = DesignMatrix::treatment(
        y.len(),
        &[FixedFactor {
            name: "music",
            levels: &levels,
            codes: &m_codes,
            reference: 2,
        }],
        &[],
    )
    .unwrap();
    let groups = [
        GroupingFactor {
            name: "participant",
            n_levels: p_levels.len(),
            codes: &p_codes,
        },
        GroupingFactor {
            name: "clip",
            n_levels: c_levels.len(),
            codes: &c_codes,
        },
    ];
    fit_lmm(&y, &x, &groups, options).unwrap()
}

fn check(fit: &LmmFit, want: &Value, rel: f64) {
    let names: Vec<&str> = fit.fixed.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["(Intercept)", "musicarousing", "musicrelaxing"]);
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
    for (g, w) in fit.random.iter().zip(want["random"].as_array().unwrap()) {
        assert_eq!(g.group, w["group"].as_str().unwrap());
        close(&format!("SD {}", g.group), g.sd, num(w, "sd"), rel);
    }
    close(
        "residual SD",
        fit.residual_sd,
        num(want, "residual_sd"),
        rel,
    );
    for (t, w) in fit.theta.iter().zip(want["theta"].as_array().unwrap()) {
        close("theta", *t, w.as_f64().unwrap(), rel);
    }
    close(
        "criterion",
        fit.criterion,
        num(want, "reml_criterion"),
        1e-10,
    );
    assert_eq!(fit.n_obs as f64, num(want, "n_obs"));
}

#[test]
fn reml_matches_lmer() {
    let fx = fixture("crossed");
    let fit = fit(&LmmOptions::default());
    assert!(fit.convergence.converged, "{:?}", fit.convergence);
    assert_eq!((fit.random[0].n_levels, fit.random[1].n_levels), (36, 18));
    check(&fit, &fx["lmm_tight"], LMM_REL);
    // lme4's default optimiser stops about 5e-6 (relative) short of the optimum here.
    check(&fit, &fx["lmm"], 5e-5);
    common::check_f(
        &fit.f_test_columns(&[1, 2]).unwrap(),
        &fx["lmm_anova"][0],
        LMM_REL,
    );
    let c = fit.contrast(&[0.0, 1.0, -1.0]).unwrap();
    common::check_contrast(&c, &fx["contrast_arousing_minus_relaxing"], LMM_REL);
}

#[test]
fn ml_matches_lmer() {
    let fx = fixture("crossed");
    let fit = fit(&LmmOptions::ml());
    let want = &fx["ml"];
    // For ML fits lme4's REMLcrit slot holds the deviance.
    close("deviance", fit.criterion, num(want, "deviance"), 1e-10);
    for (f, w) in fit.fixed.iter().zip(want["fixed"].as_array().unwrap()) {
        for (name, v) in [
            ("estimate", f.estimate),
            ("se", f.se),
            ("df", f.df),
            ("t", f.t),
        ] {
            close(&format!("ML {} {name}", f.name), v, num(w, name), LMM_REL);
        }
    }
    close(
        "ML residual SD",
        fit.residual_sd,
        num(want, "residual_sd"),
        LMM_REL,
    );
}

#[test]
fn boundary_fit_matches_lmer() {
    // No clip variance in the generating model: lme4 stops at θ_clip ≈ 3e-8, we at |θ| ≈ 0
    // (the deviance is even in θ, so the boundary is an interior stationary point for us).
    let fx = fixture("crossed");
    let want = &fx["singular"];
    let fit = fit_file("crossed_singular.csv", &LmmOptions::default());
    for (f, w) in fit.fixed.iter().zip(want["fixed"].as_array().unwrap()) {
        for (name, v) in [
            ("estimate", f.estimate),
            ("se", f.se),
            ("df", f.df),
            ("t", f.t),
            ("p", f.p),
        ] {
            close(&format!("{} {name}", f.name), v, num(w, name), LMM_REL);
        }
    }
    close(
        "SD participant",
        fit.random[0].sd,
        num(&want["random"][0], "sd"),
        LMM_REL,
    );
    assert!(
        fit.random[1].sd < 1e-6 * fit.residual_sd,
        "clip SD {} is not ~0",
        fit.random[1].sd
    );
    close(
        "residual SD",
        fit.residual_sd,
        num(want, "residual_sd"),
        LMM_REL,
    );
    close(
        "criterion",
        fit.criterion,
        num(want, "reml_criterion"),
        1e-10,
    );
}

#[test]
fn vierordt_and_cv_match_lm() {
    let fx = fixture("crossed");
    let rows = read_csv(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/crossed.csv"
    ));
    for want in fx["vierordt"].as_array().unwrap() {
        let p = want["participant"].as_str().unwrap();
        let mine: Vec<_> = rows.iter().filter(|r| r["participant"] == p).collect();
        let actual: Vec<f64> = mine.iter().map(|r| r["actual"].parse().unwrap()).collect();
        let estimate: Vec<f64> = mine
            .iter()
            .zip(&actual)
            .map(|(r, a)| a * r["log_ratio"].parse::<f64>().unwrap().exp())
            .collect();
        let fit = cuelab_stats::vierordt(&actual, &estimate).unwrap();
        close("slope", fit.slope, num(want, "slope"), 1e-9);
        close("intercept", fit.intercept, num(want, "intercept"), 1e-9);
        close("r2", fit.r_squared, num(want, "r_squared"), 1e-9);
        let e16: Vec<f64> = estimate
            .iter()
            .zip(&actual)
            .filter(|(_, a)| **a == 16.0)
            .map(|(e, _)| *e)
            .collect();
        close(
            "cv",
            cuelab_stats::coefficient_of_variation(&e16).unwrap(),
            num(want, "cv16"),
            1e-9,
        );
    }
}

#[test]
fn interaction_type3_table_matches_lmertest() {
    // music (3 levels, reference silence) × duration (8/16/32 s, reference 8): type III
    // hypotheses average over 3 levels, and the interaction F has 4 df.
    let fx = fixture("crossed");
    let rows = read_csv(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/crossed.csv"
    ));
    let y: Vec<f64> = rows
        .iter()
        .map(|r| r["log_ratio"].parse().unwrap())
        .collect();
    let col = |k: &str| rows.iter().map(|r| r[k].as_str()).collect::<Vec<&str>>();
    let (participant, clip, music, actual) =
        (col("participant"), col("clip"), col("music"), col("actual"));
    let (p_levels, c_levels) = (distinct(&participant), distinct(&clip));
    let (p_codes, c_codes) = (codes(&participant, &p_levels), codes(&clip, &c_levels));
    let m_levels: Vec<String> = ["arousing", "relaxing", "silence"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let d_levels: Vec<String> = ["8", "16", "32"].iter().map(|s| s.to_string()).collect();
    let (m_codes, d_codes) = (codes(&music, &m_levels), codes(&actual, &d_levels));
    let x = DesignMatrix::treatment(
        y.len(),
        &[
            FixedFactor {
                name: "music",
                levels: &m_levels,
                codes: &m_codes,
                reference: 2,
            },
            FixedFactor {
                name: "dur",
                levels: &d_levels,
                codes: &d_codes,
                reference: 0,
            },
        ],
        &[vec![0, 1]],
    )
    .unwrap();
    let groups = [
        GroupingFactor {
            name: "participant",
            n_levels: p_levels.len(),
            codes: &p_codes,
        },
        GroupingFactor {
            name: "clip",
            n_levels: c_levels.len(),
            codes: &c_codes,
        },
    ];
    let fit = fit_lmm(&y, &x, &groups, &LmmOptions::default()).unwrap();
    let want = &fx["interaction"];
    for (f, w) in fit.fixed.iter().zip(want["fixed"].as_array().unwrap()) {
        assert_eq!(f.name, w["name"].as_str().unwrap());
        for (name, v) in [
            ("estimate", f.estimate),
            ("se", f.se),
            ("df", f.df),
            ("t", f.t),
            ("p", f.p),
        ] {
            close(&format!("{} {name}", f.name), v, num(w, name), LMM_REL);
        }
    }
    let hyp = x.type3_hypotheses();
    let table = fx["interaction_anova"].as_array().unwrap();
    assert_eq!(hyp.len(), table.len());
    for (h, w) in hyp.iter().zip(table) {
        assert_eq!(h.term, w["term"].as_str().unwrap());
        common::check_f(&fit.f_test(&h.rows).unwrap(), w, LMM_REL);
    }
}
