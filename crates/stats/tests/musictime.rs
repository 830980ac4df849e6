//! MusicTime (Stat2Data): every number of datasets/musictime/README.md, and the R fixture
//! recorded by tests/r/musictime.R to 7 significant digits.

mod common;

use common::{LMM_REL, REL, close, codes, fixture, num, read_csv};
use cuelab_stats::{
    AnovaInput, AnovaTable, BetweenFactor, CellMatrix, DesignMatrix, FixedFactor, GroupingFactor,
    LmmOptions, PAdjust, WithinFactor, anova, describe, fit_lmm, pairwise_paired,
};
use serde_json::Value;

const LEVELS: [&str; 3] = ["control", "upbeat", "calm"];

struct MusicTime {
    /// Subject-major, cells in LEVELS order.
    cells: Vec<f64>,
    /// 0 = no, 1 = yes musical background, per subject.
    music_bg: Vec<usize>,
    rows: Vec<std::collections::HashMap<String, String>>,
}

fn load() -> MusicTime {
    let rows = read_csv(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../datasets/musictime/musictime.csv"
    ));
    let n = 20;
    let mut cells = vec![f64::NAN; n * 3];
    let mut music_bg = vec![usize::MAX; n];
    for r in &rows {
        let s: usize = r["Subject"]
            .trim_start_matches("subj")
            .parse::<usize>()
            .unwrap()
            - 1;
        let c = LEVELS.iter().position(|l| *l == r["Music"]).unwrap();
        cells[s * 3 + c] = r["TimeGuess"].parse().unwrap();
        music_bg[s] = usize::from(r["MusicBg"] == "yes");
    }
    assert!(cells.iter().all(|v| v.is_finite()));
    MusicTime {
        cells,
        music_bg,
        rows,
    }
}

fn rm_anova(d: &MusicTime) -> AnovaTable {
    let within = [WithinFactor {
        name: "Music",
        n_levels: 3,
    }];
    anova(&AnovaInput {
        n_subjects: 20,
        between: &[],
        within: &within,
        values: &d.cells,
        observed: &[],
    })
    .unwrap()
}

fn mixed_anova(d: &MusicTime) -> AnovaTable {
    let within = [WithinFactor {
        name: "Music",
        n_levels: 3,
    }];
    let between = [BetweenFactor {
        name: "MusicBg",
        n_levels: 2,
        codes: &d.music_bg,
    }];
    anova(&AnovaInput {
        n_subjects: 20,
        between: &between,
        within: &within,
        values: &d.cells,
        observed: &[],
    })
    .unwrap()
}

fn lmm(d: &MusicTime) -> cuelab_stats::LmmFit {
    // R's factor order is alphabetical; calm is the reference.
    let levels: Vec<String> = ["calm", "control", "upbeat"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let music: Vec<&str> = d.rows.iter().map(|r| r["Music"].as_str()).collect();
    let music = codes(&music, &levels);
    let subjects: Vec<u32> = d
        .rows
        .iter()
        .map(|r| {
            r["Subject"]
                .trim_start_matches("subj")
                .parse::<u32>()
                .unwrap()
                - 1
        })
        .collect();
    let y: Vec<f64> = d
        .rows
        .iter()
        .map(|r| r["TimeGuess"].parse().unwrap())
        .collect();
    let x = DesignMatrix::treatment(
        y.len(),
        &[FixedFactor {
            name: "Music",
            levels: &levels,
            codes: &music,
            reference: 0,
        }],
        &[],
    )
    .unwrap();
    let g = [GroupingFactor {
        name: "Subject",
        n_levels: 20,
        codes: &subjects,
    }];
    fit_lmm(&y, &x, &g, &LmmOptions::default()).unwrap()
}

#[test]
fn readme_values() {
    let d = load();
    let cells = CellMatrix::new(&d.cells, 20, 3).unwrap();
    let desc = describe(&cells, 0.95).unwrap();
    for (c, (m, sd)) in [(37.05, 12.1112), (52.85, 12.9788), (63.10, 18.9039)]
        .iter()
        .enumerate()
    {
        close("mean", desc[c].mean, *m, 1e-12);
        close("sd", desc[c].sd, *sd, 5e-6);
    }

    let t = rm_anova(&d);
    let music = t.row("Music").unwrap();
    assert_eq!((music.df1, music.df2), (2.0, 38.0));
    close("F", music.f, 42.1309, 5e-6);
    close("p", music.p, 2.277e-10, 5e-4);
    close("ges", music.ges, 0.350285, 5e-6);
    close("pes", music.pes, 0.689192, 5e-6);
    let sph = music.sphericity.unwrap();
    close("Mauchly W", sph.mauchly_w, 0.535551, 5e-6);
    close("Mauchly p", sph.mauchly_p, 0.0036242, 5e-5);
    close("GG eps", sph.gg.epsilon, 0.682851, 5e-6);
    close("GG p", sph.gg.p, 9.6229e-08, 5e-5);
    close("HF eps", sph.hf.epsilon, 0.717750, 5e-6);
    close("HF p", sph.hf.p, 4.9363e-08, 5e-5);

    let pairs = pairwise_paired(&cells, PAdjust::Holm, 0.95).unwrap();
    let want = [
        (-15.80, -5.91300, 2.1611e-05, 1.32219),
        (-26.05, -7.10729, 2.7817e-06, 1.58924),
        (-10.25, -5.15605, 5.6173e-05, 1.15293),
    ];
    for (pr, (diff, tv, ph, dz)) in pairs.iter().zip(want) {
        close("diff", pr.test.mean_diff, diff, 1e-12);
        close("t", pr.test.t, tv, 5e-6);
        assert_eq!(pr.test.df, 19.0);
        close("p holm", pr.p_adjusted, ph, 5e-5);
        // README gives |dz| for "later vs earlier" level: the sign flips with the order.
        close("dz", -pr.test.dz, dz, 5e-6);
    }

    let m = mixed_anova(&d);
    let bg = m.row("MusicBg").unwrap();
    assert_eq!((bg.df1, bg.df2), (1.0, 18.0));
    close("MusicBg F", bg.f, 1.68924, 5e-6);
    close("MusicBg ges", bg.ges, 0.065065, 5e-6);
    close("MusicBg p", bg.p, 0.21010, 5e-5);
    for (eff, f, ges, p) in [
        ("Music", 40.0959, 0.365358, 2.3099e-07),
        ("MusicBg:Music", 0.148745, 0.0021311, 0.77807),
    ] {
        let r = m.row(eff).unwrap();
        let gg = r.sphericity.unwrap().gg;
        close("GG df1", gg.df1, 1.35458, 5e-6);
        close("GG df2", gg.df2, 24.3824, 5e-6);
        close("F", r.f, f, 5e-6);
        close("ges", r.ges, ges, 5e-5);
        close("GG p", gg.p, p, 5e-5);
    }

    let fit = lmm(&d);
    let names: Vec<&str> = fit.fixed.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["(Intercept)", "Musiccontrol", "Musicupbeat"]);
    close("intercept", fit.fixed[0].estimate, 63.10, 1e-12);
    close("intercept SE", fit.fixed[0].se, 3.34786, 5e-6);
    close("intercept df", fit.fixed[0].df, 31.5405, 5e-6);
    for (f, est, t) in [
        (&fit.fixed[1], -26.05, -9.11076),
        (&fit.fixed[2], -10.25, -3.58485),
    ] {
        close("estimate", f.estimate, est, 1e-12);
        close("SE", f.se, 2.85926, 5e-6);
        close("df", f.df, 38.000, 5e-6);
        close("t", f.t, t, 5e-6);
    }
    close("SD subject", fit.random[0].sd, 11.93355, 5e-7);
    close("SD residual", fit.residual_sd, 9.04176, 5e-6);
    assert!(fit.convergence.converged);
}

fn check_rows(t: &AnovaTable, rows: &Value) {
    for r in rows.as_array().unwrap() {
        let eff = r["effect"].as_str().unwrap();
        let got = if eff == "(Intercept)" {
            &t.intercept
        } else {
            t.row(eff).unwrap_or_else(|| panic!("no row {eff}"))
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
        match got.sphericity {
            Some(s) => {
                close(&format!("{eff} W"), s.mauchly_w, num(r, "mauchly_w"), REL);
                close(&format!("{eff} W p"), s.mauchly_p, num(r, "mauchly_p"), REL);
                close(&format!("{eff} GG"), s.gg.epsilon, num(r, "gg_eps"), REL);
                close(&format!("{eff} GG p"), s.gg.p, num(r, "gg_p"), REL);
                close(&format!("{eff} HF"), s.hf.epsilon, num(r, "hf_eps"), REL);
                close(&format!("{eff} HF p"), s.hf.p, num(r, "hf_p"), REL);
            }
            None => assert!(
                r.get("gg_eps").is_none(),
                "{eff}: R has sphericity, we do not"
            ),
        }
    }
    // Every effect we report is one R reports.
    assert_eq!(t.rows.len() + 1, rows.as_array().unwrap().len());
}

#[test]
fn matches_r_fixture() {
    let d = load();
    let fx = fixture("musictime");
    let cells = CellMatrix::new(&d.cells, 20, 3).unwrap();
    for (got, want) in describe(&cells, 0.95)
        .unwrap()
        .iter()
        .zip(fx["describe"].as_array().unwrap())
    {
        for (name, v) in [
            ("mean", got.mean),
            ("sd", got.sd),
            ("se", got.se),
            ("se_within", got.se_within),
            ("ci_lower", got.ci_lower),
            ("ci_upper", got.ci_upper),
        ] {
            close(name, v, num(want, name), REL);
        }
    }
    check_rows(&rm_anova(&d), &fx["rm_anova"]);
    let mixed = mixed_anova(&d);
    check_rows(&mixed, &fx["mixed_anova"]);
    for r in fx["mixed_anova_gg"].as_array().unwrap() {
        let got = mixed.row(r["effect"].as_str().unwrap()).unwrap();
        let (df1, df2, p) = match got.sphericity {
            Some(s) => (s.gg.df1, s.gg.df2, s.gg.p),
            None => (got.df1, got.df2, got.p),
        };
        close("GG df1", df1, num(r, "df1"), REL);
        close("GG df2", df2, num(r, "df2"), REL);
        close("GG p", p, num(r, "p"), REL);
    }

    let holm = pairwise_paired(&cells, PAdjust::Holm, 0.95).unwrap();
    let bonf = pairwise_paired(&cells, PAdjust::Bonferroni, 0.95).unwrap();
    for ((h, b), want) in holm
        .iter()
        .zip(&bonf)
        .zip(fx["pairwise"].as_array().unwrap())
    {
        assert_eq!(LEVELS[h.a], want["a"].as_str().unwrap());
        assert_eq!(LEVELS[h.b], want["b"].as_str().unwrap());
        let t = &h.test;
        for (name, v) in [
            ("mean_diff", t.mean_diff),
            ("t", t.t),
            ("df", t.df),
            ("p", t.p),
            ("ci_lower", t.ci_lower),
            ("ci_upper", t.ci_upper),
            ("se", t.se),
            ("dz", t.dz),
            ("p_holm", h.p_adjusted),
            ("p_bonferroni", b.p_adjusted),
        ] {
            close(name, v, num(want, name), REL);
        }
    }

    let fit = lmm(&d);
    for key in ["lmm_tight", "lmm"] {
        // The default lme4 optimiser stops ~1e-7 short of the optimum; the tight refit is the
        // optimum itself. Both agree with us to 6 significant digits.
        let rel = LMM_REL;
        let want = &fx[key];
        for (f, w) in fit.fixed.iter().zip(want["fixed"].as_array().unwrap()) {
            assert_eq!(f.name, w["name"].as_str().unwrap());
            for (name, v) in [
                ("estimate", f.estimate),
                ("se", f.se),
                ("df", f.df),
                ("t", f.t),
                ("p", f.p),
            ] {
                close(&format!("{key} {} {name}", f.name), v, num(w, name), rel);
            }
        }
        close(
            "SD subject",
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
        close("theta", fit.theta[0], want["theta"].as_f64().unwrap(), rel);
    }
    common::check_f(
        &fit.f_test_columns(&[1, 2]).unwrap(),
        &fx["lmm_anova"][0],
        LMM_REL,
    );
    let c = fit.contrast(&[0.0, 1.0, -1.0]).unwrap();
    common::check_contrast(&c, &fx["lmm_contrast_control_minus_upbeat"], LMM_REL);
}
