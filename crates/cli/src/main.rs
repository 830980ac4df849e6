//! `cuelab`: the command line. Argument parsing and wiring only; every algorithm lives in a
//! library crate. Errors are reported with their context chain; invalid input exits 2, any other
//! failure exits 1.

mod calibration;
mod cmd;
mod error;
mod protocol_files;
mod sessions;
mod stimuli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Run and analyse film-music psychology experiments.
#[derive(Debug, Parser)]
#[command(name = "cuelab", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check protocols: exit 0 if valid, 2 with file:line:col diagnostics if not.
    Validate(cmd::validate::Args),
    /// Show a participant's trial plan, or the counterbalancing table for N participants.
    Plan(cmd::plan::Args),
    /// Run a participant's session: trials journaled one by one; --resume continues.
    Run(cmd::run::Args),
    /// Simulate N participants through the real runner on virtual devices, then export.
    Simulate(cmd::simulate::Args),
    /// Export session journals as tidy tables (CSV, Parquet), psych-DS and BIDS.
    Export(cmd::export::Args),
    /// Remove a participant's sessions (withdrawal of consent), keeping only a count.
    Withdraw(cmd::withdraw::Args),
    /// Check this machine: audio device, timing, video decoding.
    Check(cmd::check::Args),
    /// Print benchmark figures for the real-time and decoding paths.
    Bench(cmd::bench::Args),
    /// Analyse data with a plan or with options given here.
    Analyze(cmd::analyze::Args),
    /// Run every plan in analysis/ on its dataset and compare with the recorded results.
    Reproduce(cmd::reproduce::Args),
    /// Power by simulation: simulated studies per sample size, analysed in process.
    Power(cmd::power::Args),
    /// First contact: a bundled study planned and analysed, report written. No sound card or
    /// display needed.
    Demo(cmd::demo::Args),
    /// Make the bundled stimuli: soundtracks, animations and their features table.
    #[command(subcommand)]
    Stimuli(cmd::stimuli_make::Command),
}

fn main() -> ExitCode {
    // A panic anywhere becomes one `error:` line and exit 1, never Rust's exit code 101.
    error::guard(run)
}

fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(a) => cmd::validate::run(a),
        Command::Plan(a) => cmd::plan::run(a),
        Command::Run(a) => cmd::run::run(a),
        Command::Simulate(a) => cmd::simulate::run(a),
        Command::Export(a) => cmd::export::run(a),
        Command::Withdraw(a) => cmd::withdraw::run(a),
        Command::Check(a) => cmd::check::run(a),
        Command::Bench(a) => cmd::bench::run(a),
        Command::Analyze(a) => cmd::analyze::run(a),
        Command::Reproduce(a) => cmd::reproduce::run(a),
        Command::Power(a) => cmd::power::run(a),
        Command::Demo(a) => cmd::demo::run(a),
        Command::Stimuli(c) => cmd::stimuli_make::run(c),
    };
    match result {
        Ok(code) => code,
        Err(err) => error::report(&err),
    }
}
