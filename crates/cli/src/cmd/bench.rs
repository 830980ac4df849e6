//! `cuelab bench`: prints benchmark figures for the audio path — render cost per callback as a
//! share of the callback period, decode + resample of a 3-minute soundtrack, and the memory of a
//! preloaded session. Build with `--release` for figures worth quoting.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use cuelab_playback::bench::{
    decode_cost, peak_rss_bytes, render_cost, rss_bytes, test_signal, write_test_wav,
};
use cuelab_playback::sound::Sound;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Voices mixed in the render benchmark.
    #[arg(long, default_value_t = 8)]
    voices: usize,
    /// Soundtracks in the preloaded-session memory figure.
    #[arg(long, default_value_t = 8)]
    soundtracks: usize,
    /// Length of each generated soundtrack, seconds.
    #[arg(long, default_value_t = 180.0)]
    seconds: f64,
}

const MIB: f64 = 1024.0 * 1024.0;

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.voices == 0 || args.soundtracks == 0 || args.seconds.is_nan() || args.seconds <= 0.0 {
        return Err(crate::error::invalid(
            "--voices, --soundtracks and --seconds must be positive",
        ));
    }
    if cfg!(debug_assertions) {
        println!(
            "note: debug build; run `cargo run --release -p cuelab -- bench` for real figures"
        );
    }
    // Memory first, while the process is fresh, so the peak is the session's.
    let dir = std::env::temp_dir().join(format!("cuelab-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let result = run_in(&args, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn run_in(args: &Args, dir: &std::path::Path) -> anyhow::Result<ExitCode> {
    let wav = write_test_wav(dir, 44_100, args.seconds).context("writing the test soundtrack")?;
    let rss_before = rss_bytes();
    let mut session = Vec::with_capacity(args.soundtracks);
    let mut decode_times = Vec::with_capacity(args.soundtracks);
    for _ in 0..args.soundtracks {
        let (sound, took) = decode_cost(&wav, 48_000).context("decoding the test soundtrack")?;
        decode_times.push(took);
        session.push(Arc::new(sound));
    }
    let held: usize = session.iter().map(|s| s.heap_bytes()).sum();
    println!(
        "decode + resample: {:.0} s stereo 16-bit WAV at 44.1 kHz -> f32 at 48 kHz: best {:.3} s, mean {:.3} s over {}",
        args.seconds,
        decode_times.iter().min().map_or(0.0, |d| d.as_secs_f64()),
        decode_times.iter().map(|d| d.as_secs_f64()).sum::<f64>() / decode_times.len() as f64,
        decode_times.len()
    );
    println!(
        "preloaded session: {} soundtracks of {:.0} s hold {:.1} MiB of samples; process RSS {:.1} -> {:.1} MiB, peak {:.1} MiB",
        args.soundtracks,
        args.seconds,
        held as f64 / MIB,
        rss_before.unwrap_or(0) as f64 / MIB,
        rss_bytes().unwrap_or(0) as f64 / MIB,
        peak_rss_bytes().unwrap_or(0) as f64 / MIB,
    );
    drop(session);

    let sound = Arc::new(
        Sound::from_interleaved(48_000, 2, test_signal(48_000, 20.0))
            .context("building the render test sound")?,
    );
    for buffer in [64u32, 128, 256] {
        // Warm up once, then measure.
        let _ = render_cost(&sound, args.voices, buffer, 500);
        let cost = render_cost(&sound, args.voices, buffer, 100_000);
        println!(
            "render: {} voices, 48 kHz stereo, {:>3}-frame buffer: {:>8.2} us per callback = {:.3} % of the {:.3} ms period",
            args.voices,
            buffer,
            cost.per_callback.as_secs_f64() * 1e6,
            cost.share() * 100.0,
            cost.period.as_secs_f64() * 1e3,
        );
    }
    Ok(ExitCode::SUCCESS)
}
