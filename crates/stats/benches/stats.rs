//! Benchmarks: the crossed random-intercepts mixed model on a simulated 1,000,000-row dataset
//! (1,000 participants × 50 clips, a 4-level fixed factor), the random-slope model
//! `RT ~ congruence + (1 + congruence | participant) + (1 | item)` on 1,000,000 rows (1,000
//! participants × 50 items), and the repeated-measures ANOVA, descriptives and pairwise tests on
//! 1,000 subjects' cell means. The R side of the mixed models: `benches/r/lmm_1m.R` and
//! `benches/r/lmm_slopes_1m.R`.
//!
//! Run: `cargo bench -p cuelab-stats --bench stats`.

use criterion::{Criterion, criterion_group, criterion_main};
use cuelab_stats::{
    AnovaInput, BetweenFactor, CellMatrix, DesignMatrix, FixedFactor, GroupingFactor, LmmOptions,
    PAdjust, RandomTerm, WithinFactor, anova, describe, fit_lmm, fit_mixed, pairwise_paired,
};
use std::hint::black_box;

/// A small deterministic generator (SplitMix64) with Box-Muller normals; benches need no
/// statistical quality, only the same data every run.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        (-2.0 * self.uniform().ln()).sqrt() * (std::f64::consts::TAU * self.uniform()).cos()
    }
    fn below(&mut self, n: u32) -> u32 {
        (self.next_u64() % u64::from(n)) as u32
    }
}

struct Trials {
    y: Vec<f64>,
    music: Vec<u32>,
    participant: Vec<u32>,
    clip: Vec<u32>,
}

fn simulate_trials(n_participants: u32, n_clips: u32, per_participant: u32) -> Trials {
    let mut rng = Rng(42);
    let u_p: Vec<f64> = (0..n_participants).map(|_| 0.3 * rng.normal()).collect();
    let u_c: Vec<f64> = (0..n_clips).map(|_| 0.15 * rng.normal()).collect();
    let effect = [0.0, 0.12, -0.08, 0.05];
    let n = (n_participants * per_participant) as usize;
    let mut t = Trials {
        y: Vec::with_capacity(n),
        music: Vec::with_capacity(n),
        participant: Vec::with_capacity(n),
        clip: Vec::with_capacity(n),
    };
    for p in 0..n_participants {
        for _ in 0..per_participant {
            let c = rng.below(n_clips);
            let m = rng.below(4);
            t.y.push(effect[m as usize] + u_p[p as usize] + u_c[c as usize] + 0.25 * rng.normal());
            t.music.push(m);
            t.participant.push(p);
            t.clip.push(c);
        }
    }
    t
}

fn bench_lmm(c: &mut Criterion) {
    let t = simulate_trials(1_000, 50, 1_000);
    let levels: Vec<String> = ["silence", "arousing", "relaxing", "sad"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let factor = FixedFactor {
        name: "music",
        levels: &levels,
        codes: &t.music,
        reference: 0,
    };
    let mut group = c.benchmark_group("lmm_crossed_1m_rows");
    group.sample_size(10);
    group.bench_function("design_matrix", |b| {
        b.iter(|| DesignMatrix::treatment(t.y.len(), black_box(&[factor]), &[]).unwrap())
    });
    let x = DesignMatrix::treatment(t.y.len(), &[factor], &[]).unwrap();
    let groups = [
        GroupingFactor {
            name: "participant",
            n_levels: 1_000,
            codes: &t.participant,
        },
        GroupingFactor {
            name: "clip",
            n_levels: 50,
            codes: &t.clip,
        },
    ];
    group.bench_function("fit_reml_satterthwaite", |b| {
        b.iter(|| fit_lmm(black_box(&t.y), &x, &groups, &LmmOptions::default()).unwrap())
    });
    group.finish();
}

/// 1,000 participants × 1,000 trials over 50 items; congruence (2 levels) varies within
/// participants and items; participant intercepts (SD 60) and congruence slopes (SD 25,
/// correlation 0.4), item intercepts (SD 30), residual SD 70 (ms): `benches/r/lmm_slopes_1m.R`
/// simulates the same model.
fn bench_slopes(c: &mut Criterion) {
    let (n_p, n_items, per) = (1_000u32, 50u32, 1_000u32);
    let mut rng = Rng(1995);
    let slopes: Vec<(f64, f64)> = (0..n_p)
        .map(|_| {
            let (z1, z2) = (rng.normal(), rng.normal());
            (60.0 * z1, 25.0 * (0.4 * z1 + (1.0f64 - 0.16).sqrt() * z2))
        })
        .collect();
    let u_i: Vec<f64> = (0..n_items).map(|_| 30.0 * rng.normal()).collect();
    let n = (n_p * per) as usize;
    let (mut y, mut cong, mut part, mut item) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for p in 0..n_p {
        for _ in 0..per {
            let i = rng.below(n_items);
            let k = rng.below(2);
            let (a, b) = slopes[p as usize];
            y.push(
                600.0
                    + 35.0 * f64::from(k)
                    + a
                    + b * f64::from(k)
                    + u_i[i as usize]
                    + 70.0 * rng.normal(),
            );
            cong.push(k);
            part.push(p);
            item.push(i);
        }
    }
    let levels: Vec<String> = ["congruent", "incongruent"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let factor = FixedFactor {
        name: "congruence",
        levels: &levels,
        codes: &cong,
        reference: 0,
    };
    let x = DesignMatrix::treatment(n, &[factor], &[]).unwrap();
    let ones = vec![1.0; n];
    let slope_names = [
        "(Intercept)".to_string(),
        "congruenceincongruent".to_string(),
    ];
    let slope_cols = [&ones[..], x.column(1)];
    let intercept_names = ["(Intercept)".to_string()];
    let intercept_cols = [&ones[..]];
    let terms = [
        RandomTerm {
            group: "participant",
            n_levels: n_p as usize,
            codes: &part,
            names: &slope_names,
            columns: &slope_cols,
        },
        RandomTerm {
            group: "item",
            n_levels: n_items as usize,
            codes: &item,
            names: &intercept_names,
            columns: &intercept_cols,
        },
    ];
    let mut group = c.benchmark_group("lmm_slopes_1m_rows");
    group.sample_size(10);
    group.bench_function("fit_reml_satterthwaite", |b| {
        b.iter(|| fit_mixed(black_box(&y), &x, &terms, &LmmOptions::default()).unwrap())
    });
    let mut no_df = LmmOptions::default();
    no_df.satterthwaite = false;
    group.bench_function("fit_reml_only", |b| {
        b.iter(|| fit_mixed(black_box(&y), &x, &terms, &no_df).unwrap())
    });
    group.finish();
    let fit = fit_mixed(&y, &x, &terms, &LmmOptions::default()).unwrap();
    eprintln!(
        "slopes 1M: beta {:?}, sd {:?}, cor {:?}, evaluations {}, singular {}",
        fit.fixed
            .iter()
            .map(|f| (f.estimate, f.df))
            .collect::<Vec<_>>(),
        fit.random.iter().map(|r| r.sd).collect::<Vec<_>>(),
        fit.correlations
            .iter()
            .map(|r| r.correlation)
            .collect::<Vec<_>>(),
        fit.convergence.evaluations,
        fit.singular
    );
}

fn bench_anova(c: &mut Criterion) {
    // 1,000 subjects in 2 unequal groups, 2 × 2 within: cell means of the 1M trials' design.
    let mut rng = Rng(7);
    let n = 1_000;
    let values: Vec<f64> = (0..n)
        .flat_map(|_| {
            let s = rng.normal();
            (0..4)
                .map(|c| s + 0.1 * c as f64 + 0.5 * rng.normal())
                .collect::<Vec<f64>>()
        })
        .collect();
    let group_codes: Vec<usize> = (0..n).map(|s| usize::from(s % 3 == 0)).collect();
    let within = [
        WithinFactor {
            name: "Prime",
            n_levels: 2,
        },
        WithinFactor {
            name: "Target",
            n_levels: 2,
        },
    ];
    let between = [BetweenFactor {
        name: "Group",
        n_levels: 2,
        codes: &group_codes,
    }];
    let input = AnovaInput {
        n_subjects: n,
        between: &between,
        within: &within,
        values: &values,
        observed: &[],
    };
    c.bench_function("rm_anova_mixed_1000_subjects_2x2", |b| {
        b.iter(|| anova(black_box(&input)).unwrap())
    });
    let within3 = [WithinFactor {
        name: "Music",
        n_levels: 4,
    }];
    let input3 = AnovaInput {
        n_subjects: n,
        between: &[],
        within: &within3,
        values: &values,
        observed: &[],
    };
    c.bench_function("rm_anova_1000_subjects_4_levels", |b| {
        b.iter(|| anova(black_box(&input3)).unwrap())
    });
    let cells = CellMatrix::new(&values, n, 4).unwrap();
    c.bench_function("describe_and_pairwise_holm_1000x4", |b| {
        b.iter(|| {
            let d = describe(black_box(&cells), 0.95).unwrap();
            let p = pairwise_paired(&cells, PAdjust::Holm, 0.95).unwrap();
            (d, p)
        })
    });
}

criterion_group!(benches, bench_lmm, bench_slopes, bench_anova);
criterion_main!(benches);
