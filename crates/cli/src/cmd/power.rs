//! `cuelab power`: power by simulation. Each replication runs simulated participants through the
//! session runner on virtual devices (`simulate::simulate_with`), exports them, and analyses
//! the first n participants for every requested n in process (`cuelab_analysis::power`); the
//! power per n is the share of replications with p < α, with a Clopper–Pearson 95% interval.
//!
//! One simulation of the largest n per replication serves every smaller n (its first n
//! participants), so the sample sizes share their simulated participants within a replication
//! (as a study that stops early would) and replications are independent (seed = replication).
//! The stimuli are decoded once for all replications, and `--jobs` replications run at once
//! (each simulates its sessions on one thread), so the export and the analysis run in parallel
//! too; a replication's result depends only on its seed, never on the number of jobs.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::Context;
use cuelab_analysis::plan::{KeepIf, Plan};
use cuelab_analysis::power::{self, Test};
use cuelab_analysis::{AdHocDesign, AnalysisError};

use crate::cmd::analyze::lift;
use crate::cmd::run::load_model;
use crate::cmd::simulate::{
    MAX_JOBS, MAX_PARTICIPANTS, SharedStimuli, default_jobs, simulate_with,
};
use crate::error::invalid;
use crate::protocol_files::load_or_invalid;

/// The most replications one command runs.
const MAX_REPS: usize = 100_000;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The protocol file.
    protocol: PathBuf,
    /// Sample sizes, comma-separated (participants per simulated study).
    #[arg(long, value_delimiter = ',', required = true)]
    participants: Vec<u64>,
    /// Replications per sample size.
    #[arg(long, default_value_t = 100)]
    reps: usize,
    /// Simulated participants' model (TOML).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Analysis plan run on every simulated study (default: an rm-ANOVA of --dv by the
    /// protocol's first within factor, practice trials left out).
    #[arg(long)]
    plan: Option<PathBuf>,
    /// Dependent variable (a trials column) without --plan.
    #[arg(long)]
    dv: Option<String>,
    /// The test: anova:<effect>, lmm:<term>, or pairwise:<a>,<b> (the paired t-test of two
    /// levels of the plan's first pairwise factor; default: anova of the first within factor).
    #[arg(long)]
    test: Option<String>,
    /// Significance level.
    #[arg(long, default_value_t = 0.05)]
    alpha: f64,
    /// Replications run at once (default: the number of CPUs).
    #[arg(long)]
    jobs: Option<usize>,
    /// Output folder: power.csv, power.json, power.svg, power.png.
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args
        .participants
        .iter()
        .any(|n| !(2..=MAX_PARTICIPANTS).contains(n))
    {
        return Err(invalid(format!(
            "--participants: every sample size must be from 2 to {MAX_PARTICIPANTS}"
        )));
    }
    if args.reps == 0 || args.reps > MAX_REPS {
        return Err(invalid(format!("--reps must be from 1 to {MAX_REPS}")));
    }
    if !(args.alpha > 0.0 && args.alpha < 1.0) {
        return Err(invalid("--alpha must lie in (0, 1)"));
    }
    if let Some(j) = args.jobs
        && (j == 0 || j > MAX_JOBS)
    {
        return Err(invalid(format!("--jobs must be from 1 to {MAX_JOBS}")));
    }
    let protocol = load_or_invalid(&args.protocol)?;
    let model = load_model(args.model.as_deref())?;
    let first_within = protocol
        .factors()
        .iter()
        .find(|f| f.within)
        .map(|f| f.name.clone());
    let (plan, plan_path) = match (&args.plan, &args.dv) {
        (Some(p), None) => (Plan::from_file(p).map_err(lift)?, p.clone()),
        (None, Some(dv)) => {
            let Some(factor) = first_within.clone() else {
                return Err(invalid(
                    "the protocol has no within factor; give --plan with the design to test",
                ));
            };
            let mut plan = AdHocDesign {
                dv: dv.clone(),
                subject: "participant".into(),
                within: vec![factor.clone()],
                ..Default::default()
            }
            .to_plan(&args.out);
            plan.exclude.incorrect = Some(KeepIf {
                column: "practice".into(),
                value: Some("FALSE".into()),
            });
            plan.results.anova.push(cuelab_analysis::plan::AnovaSpec {
                name: "anova".into(),
                within: None,
                between: None,
            });
            if args
                .test
                .as_deref()
                .is_some_and(|t| t.starts_with("pairwise:"))
            {
                plan.results
                    .pairwise
                    .push(cuelab_analysis::plan::PairwiseSpec { factor });
            }
            (plan, args.out.join("power-plan.toml"))
        }
        _ => return Err(invalid("give either --plan or --dv (not both)")),
    };
    let test = match &args.test {
        Some(t) => Test::parse(t).map_err(lift)?,
        None => match plan.design.within.first().or(first_within.as_ref()) {
            Some(f) => Test::Anova(f.clone()),
            None => return Err(invalid("give --test: the design has no within factor")),
        },
    };
    if matches!(test, Test::Pairwise(..)) && plan.results.pairwise.is_empty() {
        return Err(invalid(
            "--test pairwise:<a>,<b> needs a plan with [[results.pairwise]]",
        ));
    }
    let mut sizes: Vec<usize> = args.participants.iter().map(|&n| n as usize).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let largest = *sizes.last().expect("at least one size (clap requires it)");
    let work = args.out.join("replications");
    if work.exists() {
        return Err(invalid(format!(
            "{} exists; choose another --out (nothing is overwritten)",
            work.display()
        )));
    }
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let jobs = args.jobs.unwrap_or_else(default_jobs);
    let shared = SharedStimuli::load(&protocol, &args.protocol)?;
    let started = Instant::now();
    // The first failure keeps its anyhow error (invalid input stays exit 2); the analysis
    // crate only carries its message.
    let failure: Mutex<Option<(usize, anyhow::Error)>> = Mutex::new(None);
    // Replications on stderr (hidden when stderr is not a terminal); each replication's own
    // sessions are not shown.
    let bar = indicatif::ProgressBar::new(args.reps as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("replications {pos}/{len} {wide_bar} {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let quiet = indicatif::ProgressBar::hidden();
    let rows = power::estimate(&sizes, args.reps, args.alpha, jobs, |rep| {
        let dir = work.join(format!("rep-{rep}"));
        let data = dir.join("data");
        let result = (|| -> anyhow::Result<Vec<f64>> {
            simulate_with(
                &shared,
                &protocol,
                &args.protocol,
                largest as u64,
                rep as u64 + 1,
                &model,
                &data,
                1,
                &quiet,
            )?;
            let export = dir.join("export");
            let options = cuelab_export::Options {
                parquet: false,
                ..cuelab_export::Options::default()
            };
            cuelab_export::export(std::slice::from_ref(&data), &export, &options)
                .context("exporting the simulated sessions")?;
            let mut ps = Vec::with_capacity(sizes.len());
            for &n in &sizes {
                let table = dir.join(format!("first-{n}.csv"));
                power::first_participants(&export, &plan.design.subject, n, &table)?;
                ps.push(power::p_value(&plan, &plan_path, &table, &test)?);
            }
            Ok(ps)
        })();
        // Only this replication's own folder is removed.
        let _ = std::fs::remove_dir_all(&dir);
        bar.inc(1);
        result.map_err(|e| {
            let message = format!("replication {rep}: {e:#}");
            let mut slot = failure.lock().unwrap_or_else(|p| p.into_inner());
            // The lowest failed replication, as `estimate` reports it.
            if slot.as_ref().is_none_or(|(r, _)| rep < *r) {
                *slot = Some((rep, e));
            }
            AnalysisError::Data(message)
        })
    });
    bar.finish_and_clear();
    let failure = failure.into_inner().unwrap_or_else(|p| p.into_inner());
    let rows = match (rows, failure) {
        (Ok(rows), _) => rows,
        (Err(_), Some((_, e))) => return Err(e),
        (Err(e), None) => return Err(lift(e)),
    };
    let seconds = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir(&work);
    let title = format!(
        "Simulated power of {} ({})",
        test.describe(),
        protocol.experiment().id
    );
    let settings = serde_json::json!({
        "protocol": args.protocol.display().to_string(),
        "test": test.spec(),
        "jobs": jobs,
        "alpha": args.alpha,
        "reps": args.reps,
        "seeds": format!("1..={}", args.reps),
        "seconds": seconds,
        "replications_per_second": args.reps as f64 / seconds.max(1e-9),
        "cuelab_version": env!("CARGO_PKG_VERSION"),
        "simulated": true,
    });
    let files = power::write(&rows, &title, settings, &args.out).map_err(lift)?;
    for r in &rows {
        println!(
            "n = {:>4}: power {:.3} [{:.3}, {:.3}] ({} of {} replications with p < {})",
            r.n, r.power, r.ci_low, r.ci_high, r.significant, r.reps, args.alpha
        );
    }
    println!(
        "{} replications in {:.1} s ({:.2} replications/s); wrote {} files to {} — SIMULATED data",
        args.reps,
        seconds,
        args.reps as f64 / seconds.max(1e-9),
        files.len(),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
