//! `cuelab stimuli make DIR`: the bundled soundtracks, animations and features table, made by
//! `cuelab-stimuli` (byte-identical on every run with the same FFmpeg).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::error::invalid;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Synthesize the soundtracks (FLAC, −23 LUFS) with their affect curves, draw and encode the
    /// Heider–Simmel animations (H.264 MP4, needs the `ffmpeg` program), and write stimuli.csv.
    Make(MakeArgs),
}

#[derive(Debug, clap::Args)]
pub struct MakeArgs {
    /// The output folder (created if needed; files of the same names are replaced).
    dir: PathBuf,
    /// Cut every stimulus to at most this many whole seconds (a quick preview; at least 1).
    #[arg(long, value_name = "SECONDS")]
    preview: Option<u32>,
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    let Command::Make(args) = command;
    let config = match args.preview {
        None => cuelab_stimuli::Config::full(),
        Some(s) => cuelab_stimuli::Config::preview(s).map_err(|e| invalid(e.to_string()))?,
    };
    let rows = cuelab_stimuli::make(&args.dir, &config)
        .with_context(|| format!("making stimuli in {}", args.dir.display()))?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<16} {:<10} {:>6} {:>9} {:>5} {:>5} {:>9}",
        "id", "kind", "secs", "LUFS", "V", "A", "bytes"
    )?;
    for r in &rows {
        let lufs = r
            .loudness_lufs
            .map_or("-".to_owned(), |l| format!("{l:.2}"));
        writeln!(
            out,
            "{:<16} {:<10} {:>6.1} {:>9} {:>5.2} {:>5.2} {:>9}",
            r.id,
            r.kind.as_str(),
            r.duration_s,
            lufs,
            r.valence,
            r.arousal,
            r.bytes
        )?;
    }
    writeln!(
        out,
        "wrote {} stimuli and {} to {}",
        rows.len(),
        cuelab_stimuli::TABLE,
        args.dir.display()
    )?;
    Ok(ExitCode::SUCCESS)
}
