//! `cuelab plan`: a participant's exact trial list, or the counterbalancing table with the
//! assignment sheet (who gets which rotation, group and order) and the carryover counts.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use cuelab_core::ParticipantId;
use cuelab_protocol::{Counterbalance, TrialPlan};

use crate::error::invalid;
use crate::protocol_files::load_or_invalid;

/// The most participants `--participants` lists (each is planned in full).
const MAX_PARTICIPANTS: u64 = 10_000;
/// The most trials `--participants` plans in all (participants × trials per participant).
const MAX_TABULATED_TRIALS: u64 = 2_000_000;
/// The largest participant number (the digits a label ends in).
const MAX_PARTICIPANT_NUMBER: u64 = 999_999_999;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    Table,
    Csv,
    Json,
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("who").required(true).args(["participant", "participants"])))]
pub struct Args {
    /// The protocol file.
    protocol: PathBuf,
    /// Participant label (letters and digits ending in a number, e.g. 7 or P07).
    #[arg(long)]
    participant: Option<String>,
    /// Session number.
    #[arg(long, default_value_t = 1)]
    session: u32,
    /// Counterbalancing table and assignment sheet over participants 1..=N instead of one plan
    /// (at most 10000).
    #[arg(long)]
    participants: Option<u64>,
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let protocol = load_or_invalid(&args.protocol)?;
    let mut out = std::io::stdout().lock();
    if let Some(n) = args.participants {
        if n == 0 {
            return Err(invalid("--participants must be at least 1"));
        }
        if n > MAX_PARTICIPANTS {
            return Err(invalid(format!(
                "--participants {n} is above the limit of {MAX_PARTICIPANTS}"
            )));
        }
        let first = cuelab_protocol::plan(&protocol, &ParticipantId::parse("1")?, 1)
            .context("planning trials")?;
        let work = n.saturating_mul(first.trials.len() as u64);
        if work > MAX_TABULATED_TRIALS {
            return Err(invalid(format!(
                "--participants {n} would plan {work} trials ({} per participant); the limit is {MAX_TABULATED_TRIALS}",
                first.trials.len()
            )));
        }
        let table = cuelab_protocol::counterbalance(&protocol, n).context("counterbalancing")?;
        if !n.is_multiple_of(table.cycle) {
            let whole = n / table.cycle * table.cycle;
            let next = whole + table.cycle;
            eprintln!(
                "warning: {n} participants are not a whole number of counterbalancing cycles ({} per cycle), so the design is unbalanced; use {}{next}",
                table.cycle,
                if whole > 0 {
                    format!("{whole} or ")
                } else {
                    String::new()
                }
            );
        }
        write_counterbalance(&mut out, &table, args.format)?;
        return Ok(ExitCode::SUCCESS);
    }
    let label = args.participant.expect("clap requires one of the two");
    let id = ParticipantId::parse(&label).map_err(|e| invalid(e.to_string()))?;
    if id.number() > MAX_PARTICIPANT_NUMBER {
        return Err(invalid(format!(
            "--participant {label}: the participant number {} is above the limit of {MAX_PARTICIPANT_NUMBER}",
            id.number()
        )));
    }
    if args.session == 0 {
        return Err(invalid("--session counts from 1"));
    }
    let plan = cuelab_protocol::plan(&protocol, &id, args.session).context("planning trials")?;
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &plan)?;
            writeln!(out)?;
        }
        Format::Csv => write_rows(&mut out, &plan, ",")?,
        Format::Table => {
            writeln!(
                out,
                "# {} — participant {}, session {}, seed {}, rotation {}",
                plan.experiment, plan.participant, plan.session, plan.seed, plan.rotation
            )?;
            write_rows(&mut out, &plan, "table")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn factor_names(plan: &TrialPlan) -> Vec<String> {
    let names: BTreeSet<&String> = plan
        .trials
        .iter()
        .flat_map(|t| t.conditions.keys())
        .collect();
    names.into_iter().cloned().collect()
}

fn write_rows(out: &mut impl Write, plan: &TrialPlan, sep: &str) -> anyhow::Result<()> {
    let factors = factor_names(plan);
    let mut header = vec![
        "index",
        "block",
        "practice",
        "break_before",
        "clip",
        "soundtrack",
    ]
    .into_iter()
    .map(String::from)
    .collect::<Vec<_>>();
    header.extend(factors.iter().cloned());
    let rows: Vec<Vec<String>> = plan
        .trials
        .iter()
        .map(|t| {
            let mut r = vec![
                t.index.to_string(),
                t.block.to_string(),
                t.practice.to_string(),
                t.break_before.to_string(),
                t.clip.clone().unwrap_or_default(),
                t.soundtrack.clone().unwrap_or_default(),
            ];
            r.extend(
                factors
                    .iter()
                    .map(|f| t.conditions.get(f).cloned().unwrap_or_default()),
            );
            r
        })
        .collect();
    if sep == "table" {
        write_table(out, &header, &rows)
    } else {
        let mut w = csv_line(out, &header)?;
        for r in &rows {
            w = csv_line(w, r)?;
        }
        Ok(())
    }
}

fn csv_line<'w, W: Write>(out: &'w mut W, fields: &[String]) -> anyhow::Result<&'w mut W> {
    let escaped: Vec<String> = fields
        .iter()
        .map(|f| {
            if f.contains([',', '"', '\n']) {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f.clone()
            }
        })
        .collect();
    writeln!(out, "{}", escaped.join(","))?;
    Ok(out)
}

fn write_table(
    out: &mut impl Write,
    header: &[String],
    rows: &[Vec<String>],
) -> anyhow::Result<()> {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| -> String {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    writeln!(out, "{}", line(header))?;
    for r in rows {
        writeln!(out, "{}", line(r))?;
    }
    Ok(())
}

fn write_counterbalance(
    out: &mut impl Write,
    table: &Counterbalance,
    format: Format,
) -> anyhow::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, table)?;
            writeln!(out)?;
        }
        Format::Csv | Format::Table => {
            let factors: BTreeSet<&String> = table
                .cells
                .iter()
                .flat_map(|c| c.conditions.keys())
                .collect();
            let mut header = vec!["clip".to_string()];
            header.extend(factors.iter().map(|f| f.to_string()));
            header.push("count".into());
            let rows: Vec<Vec<String>> = table
                .cells
                .iter()
                .map(|c| {
                    let mut r = vec![c.clip.clone().unwrap_or_default()];
                    r.extend(
                        factors
                            .iter()
                            .map(|f| c.conditions.get(*f).cloned().unwrap_or_default()),
                    );
                    r.push(c.count.to_string());
                    r
                })
                .collect();
            if matches!(format, Format::Table) {
                writeln!(
                    out,
                    "# counterbalancing over participants 1..={} ({} per cycle)",
                    table.participants, table.cycle
                )?;
                write_table(out, &header, &rows)?;
                writeln!(out, "\n# assignment sheet")?;
                let header: Vec<String> = ["participant", "rotation", "group", "order"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                let rows: Vec<Vec<String>> = table
                    .assignments
                    .iter()
                    .map(|a| {
                        vec![
                            a.participant.clone(),
                            a.rotation.to_string(),
                            a.group.clone(),
                            a.order
                                .as_ref()
                                .map_or("shuffled".to_string(), |o| o.join(" → ")),
                        ]
                    })
                    .collect();
                write_table(out, &header, &rows)?;
            } else {
                let mut w = csv_line(out, &header)?;
                for r in &rows {
                    w = csv_line(w, r)?;
                }
            }
        }
    }
    Ok(())
}
