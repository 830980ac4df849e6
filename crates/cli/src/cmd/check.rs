//! `cuelab check`: lists output devices, opens one, measures callback timing, reported latency
//! and scheduled-onset error (by loopback where possible), and measures video decode speed; every
//! figure gets a verdict against a stated threshold (`{"level": "ok"|"marginal"|"not_ok", "why"}`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use cuelab_playback::audio_check::{
    self, AudioCheckOptions, AudioCheckReport, AudioTarget, Loopback,
};
use cuelab_playback::cpal_device::list_output_devices;
use serde_json::json;

mod lsl;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output device to check: an ALSA name from the list (e.g. `pulse`), or `virtual`.
    /// Default: the host's default output device.
    #[arg(long, value_name = "DEVICE|virtual")]
    audio: Option<String>,
    /// Print one JSON object on stdout (the device list goes to stderr).
    #[arg(long)]
    json: bool,
    /// Sample rate to open the device at.
    #[arg(long, default_value_t = 48_000)]
    rate: u32,
    /// Frames per buffer to ask for. The default suits PulseAudio through its ALSA plugin
    /// (341-frame periods, ~14 ms reported latency); at 128 it underruns on a busy machine.
    #[arg(long, default_value_t = 512)]
    buffer: u32,
    /// Number of scheduled clicks (at least 50).
    #[arg(long, default_value_t = 60)]
    clicks: usize,
    /// What records the output for the loopback measurement: a PulseAudio source for `parec`
    /// (default: the default sink's monitor), or `cpal:DEVICE` for a cpal input device.
    #[arg(long, default_value = "@DEFAULT_MONITOR@")]
    loopback: String,
    /// Seconds to let the stream and the engine's clock mapping settle before measuring.
    #[arg(long, default_value_t = 5.0)]
    warmup: f64,
    /// Skip the loopback measurement (use device timestamps).
    #[arg(long)]
    no_loopback: bool,
    /// Video clip to decode for the decode-speed figure. Default: the bundled
    /// protocols/stimuli/clips/street.mp4.
    #[arg(long)]
    clip: Option<PathBuf>,
    /// Check the Lab Streaming Layer instead: load liblsl, open an outlet, send test markers and
    /// report the clock mapping error.
    #[arg(long)]
    lsl: bool,
    /// liblsl to load for --lsl (default: CUELAB_LIBLSL, the library folders, pylsl's wheel).
    #[arg(long, value_name = "PATH", requires = "lsl")]
    lsl_lib: Option<PathBuf>,
    /// Check the display instead: open the participant window, flip at least 300 frames (of
    /// --clip when given) and report the refresh rate, frame intervals, missed flips and vsync.
    #[arg(long)]
    display: bool,
    /// With --display: the number of frames to flip.
    #[arg(long, default_value_t = 300, requires = "display")]
    flips: usize,
    /// With --display: open the window fullscreen (as `cuelab run` does by default).
    #[arg(long, requires = "display")]
    fullscreen: bool,
    /// Measure the audio path's bias by loopback (loopback onset − device-timestamp onset,
    /// median) and store it in the calibration profile for this device, rate and buffer size.
    #[arg(long, conflicts_with_all = ["no_loopback", "display", "lsl"])]
    calibrate: bool,
    /// With --calibrate: how many separate measurements (each on a freshly opened stream) the
    /// stored bias is the median of. A stream's start phase against the server's timer moves
    /// the bias by a few tenths of a millisecond from one stream to the next.
    #[arg(long, default_value_t = 3, requires = "calibrate")]
    rounds: usize,
    /// The calibration profile file. Default: $XDG_CONFIG_HOME/cuelab/calibration.toml.
    #[arg(long, value_name = "FILE")]
    calibration: Option<PathBuf>,
}

fn default_clip() -> Option<PathBuf> {
    let candidates = [
        PathBuf::from("protocols/stimuli/clips/street.mp4"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../protocols/stimuli/clips/street.mp4"),
    ];
    candidates.into_iter().find(|p| p.is_file())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.lsl {
        return lsl::run(args.lsl_lib.as_deref(), args.json);
    }
    if args.display {
        return display(&args);
    }
    if args.clicks < 50 {
        return Err(crate::error::invalid("--clicks must be at least 50"));
    }
    if !(0.0..=600.0).contains(&args.warmup) {
        return Err(crate::error::invalid(
            "--warmup must be between 0 and 600 seconds",
        ));
    }
    if args.buffer == 0 || args.rate == 0 {
        return Err(crate::error::invalid(
            "--rate and --buffer must be positive",
        ));
    }
    let target = match args.audio.as_deref() {
        Some("virtual") => AudioTarget::Virtual,
        other => AudioTarget::Device(other.map(str::to_string)),
    };

    let say = |line: &str| {
        if args.json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    };
    if target != AudioTarget::Virtual {
        let devices = list_output_devices().context("listing output devices")?;
        say("output devices:");
        for d in &devices {
            say(&format!(
                "  {}{}  {}  ({} Hz, {} ch)",
                if d.is_default { "* " } else { "  " },
                d.name,
                d.description,
                d.default_rate.map_or("?".to_string(), |r| r.to_string()),
                d.default_channels
                    .map_or("?".to_string(), |c| c.to_string()),
            ));
        }
    }

    let options = AudioCheckOptions {
        target,
        sample_rate: args.rate,
        buffer_frames: args.buffer,
        clicks: args.clicks,
        warmup: Duration::from_secs_f64(args.warmup),
        loopback: (!args.no_loopback).then(|| match args.loopback.strip_prefix("cpal:") {
            Some(device) => Loopback::CpalInput(device.to_string()),
            None => Loopback::Parec(args.loopback.clone()),
        }),
    };
    if args.calibrate && !(1..=20).contains(&args.rounds) {
        return Err(crate::error::invalid("--rounds must be between 1 and 20"));
    }
    let json_mode = args.json;
    let mut status = |msg: &str| {
        if json_mode {
            eprintln!("check: {msg}");
        } else {
            println!("check: {msg}");
        }
    };
    // A calibration round with an underrun is measured again (up to as many times as there are
    // rounds): an underrun makes the ALSA pulse plugin reconnect its stream mid-measurement.
    let rounds = if args.calibrate { args.rounds } else { 1 };
    let mut reports: Vec<AudioCheckReport> = Vec::with_capacity(rounds);
    let mut attempts = 0;
    while reports.iter().filter(|r| r.xruns == 0).count() < rounds
        && attempts < if args.calibrate { 2 * rounds } else { 1 }
    {
        attempts += 1;
        if args.calibrate {
            status(&format!(
                "calibration measurement {attempts} ({rounds} without underruns wanted)"
            ));
        }
        reports.push(audio_check::run(&options, &mut status).context("checking the audio device")?);
    }
    if args.calibrate && reports.iter().any(|r| r.xruns == 0) {
        reports.retain(|r| r.xruns == 0);
    }
    let audio = reports.last().expect("at least one round").clone();

    let clip = args.clip.clone().or_else(default_clip);
    let video = match &clip {
        Some(path) => Some(
            cuelab_playback::video::measure_decode(path, 300)
                .with_context(|| format!("decoding {}", path.display()))?,
        ),
        None => {
            eprintln!("check: no clip found for the video decode figure (use --clip)");
            None
        }
    };

    let calibration = calibrate(&args, &reports)?;
    let verdicts = audio_verdicts(&audio, calibration.as_ref().map(|(_, b)| *b));
    let video_verdict = video.as_ref().map(decode_verdict);
    if args.json {
        let mut value = report_json(&audio, video.as_ref());
        value["audio"]["verdicts"] = verdicts;
        value["video"]["verdict"] = video_verdict.unwrap_or(serde_json::Value::Null);
        if args.calibrate {
            value["calibration_rounds"] = reports.iter().map(audio_json).collect();
        }
        // The bias corrects loopback-measured onsets only: device-timestamp onsets are what
        // the bias was measured against.
        let loopback = matches!(audio.method, audio_check::OnsetMethod::Loopback);
        value["calibration"] = match &calibration {
            Some((path, bias_ms)) => json!({
                "profile": path.display().to_string(),
                "bias_ms": bias_ms,
                "onset_error_ms": loopback.then(|| audio.onset_error.median_ms - bias_ms),
            }),
            None => json!({"profile": null, "bias_ms": null, "onset_error_ms": null}),
        };
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        match &calibration {
            Some((path, bias_ms)) if matches!(audio.method, audio_check::OnsetMethod::Loopback) => {
                println!(
                    "calibration: {} bias {bias_ms:+.3} ms; corrected onset error median {:+.3} ms",
                    path.display(),
                    audio.onset_error.median_ms - bias_ms
                )
            }
            Some((path, bias_ms)) => println!(
                "calibration: {} bias {bias_ms:+.3} ms (no loopback this time: nothing to correct)",
                path.display()
            ),
            None => println!(
                "calibration: no profile for {} at {} Hz, {} frames (`cuelab check --calibrate` makes one)",
                audio.device, audio.sample_rate, args.buffer
            ),
        }
        print_human(&audio);
        if let Some(map) = verdicts.as_object() {
            println!("  verdicts:");
            for (figure, v) in map {
                print_verdict(figure, v);
            }
        }
        if let (Some(v), Some(path)) = (&video, &clip) {
            println!(
                "video: {} ({}x{}): {:.0} frames/s decoded",
                path.display(),
                v.width,
                v.height,
                v.decode_fps
            );
        }
        if let Some(v) = &video_verdict {
            print_verdict("decode_fps", v);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_verdict(figure: &str, v: &serde_json::Value) {
    println!(
        "    {figure:<20} [{}] {}",
        v["level"].as_str().unwrap_or(""),
        v["why"].as_str().unwrap_or("")
    );
}

/// A verdict by thresholds: `ok` up to `ok`, `marginal` up to `marginal`, else `not_ok`.
fn graded(value: f64, ok: f64, marginal: f64, what: &str) -> serde_json::Value {
    if value <= ok {
        verdict("ok", format!("{what} {value:.3} ms <= {ok} ms"))
    } else if value <= marginal {
        verdict(
            "marginal",
            format!("{what} {value:.3} ms is over {ok} ms (within {marginal} ms)"),
        )
    } else {
        verdict("not_ok", format!("{what} {value:.3} ms > {marginal} ms"))
    }
}

/// A verdict on each audio figure: the onset error's median (corrected by the calibration's
/// bias when there is one), SD and largest deviation, underruns and the callbacks' regularity.
fn audio_verdicts(a: &AudioCheckReport, bias_ms: Option<f64>) -> serde_json::Value {
    use audio_check::OnsetMethod;
    let e = &a.onset_error;
    let median = match (a.method, bias_ms) {
        (OnsetMethod::VirtualDevice, _) => verdict(
            "ok",
            format!(
                "the virtual device places onsets exactly (median {:.3} ms: at most a frame)",
                e.median_ms
            ),
        ),
        (OnsetMethod::DeviceTimestamps, _) => verdict(
            "marginal",
            format!(
                "median {:.3} ms against the device's own timestamps only (no loopback recording, so not measured independently)",
                e.median_ms
            ),
        ),
        (OnsetMethod::Loopback, Some(bias)) => {
            let corrected = e.median_ms - bias;
            let mut v = graded(corrected.abs(), 0.5, 1.0, "|corrected median|");
            v["why"] = json!(format!(
                "{} (loopback median {:.3} ms less the calibrated bias {bias:.3} ms)",
                v["why"].as_str().unwrap_or(""),
                e.median_ms
            ));
            v
        }
        (OnsetMethod::Loopback, None) => verdict(
            "marginal",
            format!(
                "median {:.3} ms is the path's constant latency, uncorrected: `cuelab check --calibrate` measures it and `cuelab run` then corrects every onset",
                e.median_ms
            ),
        ),
    };
    json!({
        "onset_error_median": median,
        "onset_error_sd": graded(e.sd_ms, 0.5, 1.0, "onset SD"),
        "onset_error_max_abs": graded(e.max_abs_ms, 1.0, 2.0, "largest deviation from the median"),
        "xruns": if a.xruns == 0 {
            verdict("ok", "no underrun while measuring".into())
        } else {
            verdict(
                "not_ok",
                format!(
                    "{} underrun(s) while measuring: a trial with one is flagged; a larger --buffer, or a quieter machine",
                    a.xruns
                ),
            )
        },
        "callback_period_sd": graded(a.callback_period.sd_ms, 1.0, 2.0, "callback period SD"),
    })
}

/// A verdict on the decode speed: at least twice real time for a 60 frames/s clip.
fn decode_verdict(v: &cuelab_playback::video::DecodeReport) -> serde_json::Value {
    let fps = v.decode_fps;
    if fps >= 120.0 {
        verdict(
            "ok",
            format!("{fps:.0} frames/s decoded: at least twice a 60 frames/s clip's rate"),
        )
    } else if fps >= 60.0 {
        verdict(
            "marginal",
            format!(
                "{fps:.0} frames/s decoded keeps up with 60 frames/s, with less than 2x headroom"
            ),
        )
    } else {
        verdict(
            "not_ok",
            format!(
                "{fps:.0} frames/s decoded is below 60 frames/s: clips at that size will drop frames"
            ),
        )
    }
}

/// The `--json` document: `{"audio": {...}, "video": {...}}` with the documented keys.
fn report_json(
    audio: &AudioCheckReport,
    video: Option<&cuelab_playback::video::DecodeReport>,
) -> serde_json::Value {
    json!({
        "audio": audio_json(audio),
        "video": match video {
            Some(v) => json!({"decode_fps": v.decode_fps, "width": v.width, "height": v.height}),
            None => json!({"decode_fps": null, "width": null, "height": null}),
        },
    })
}

fn audio_json(a: &AudioCheckReport) -> serde_json::Value {
    json!({
        "device": a.device,
        "sample_rate": a.sample_rate,
        "buffer_frames": a.buffer_frames,
        "callback_period_ms": {
            "mean": a.callback_period.mean_ms,
            "sd": a.callback_period.sd_ms,
            "max": a.callback_period.max_ms,
        },
        "reported_latency_ms": a.reported_latency_ms,
        "timestamps": a.timestamps,
        "onset_error_ms": {
            "median": a.onset_error.median_ms,
            "sd": a.onset_error.sd_ms,
            "max_abs": a.onset_error.max_abs_ms,
            "n": a.onset_error.n,
            "method": a.method.as_str(),
        },
        "device_timestamp_error_ms": summary_json(a.device_timestamp_error.as_ref()),
        "loopback_bias_ms": summary_json(a.loopback_bias.as_ref()),
        "xruns": a.xruns,
    })
}

fn summary_json(s: Option<&cuelab_playback::loopback::ErrorSummary>) -> serde_json::Value {
    match s {
        Some(s) => json!({"median": s.median_ms, "sd": s.sd_ms, "max_abs": s.max_abs_ms, "n": s.n}),
        None => serde_json::Value::Null,
    }
}

fn print_human(a: &AudioCheckReport) {
    println!("audio device: {}", a.device);
    println!(
        "  {} Hz, {} frames per callback; callback period mean {:.3} ms, SD {:.3} ms, max {:.3} ms",
        a.sample_rate,
        a.buffer_frames,
        a.callback_period.mean_ms,
        a.callback_period.sd_ms,
        a.callback_period.max_ms
    );
    println!(
        "  output latency {:.2} ms (playback − callback; timestamps: {})",
        a.reported_latency_ms, a.timestamps
    );
    println!(
        "  onset error ({}, n = {}): median {:.3} ms (constant latency), SD {:.3} ms, max |dev from median| {:.3} ms",
        a.method.as_str(),
        a.onset_error.n,
        a.onset_error.median_ms,
        a.onset_error.sd_ms,
        a.onset_error.max_abs_ms
    );
    if let Some(d) = &a.device_timestamp_error {
        println!(
            "  device-timestamp onsets: median {:.3} ms, SD {:.3} ms, max |dev| {:.3} ms",
            d.median_ms, d.sd_ms, d.max_abs_ms
        );
    }
    if let Some(b) = &a.loopback_bias {
        println!(
            "  bias (loopback − device timestamp, per click): median {:.3} ms, SD {:.3} ms, n = {}",
            b.median_ms, b.sd_ms, b.n
        );
    }
    if let Some(note) = &a.loopback_note {
        println!("  note: {note}");
    }
    println!("  xruns during measurement: {}", a.xruns);
}

/// With --calibrate, stores the median of the rounds' biases; otherwise finds the stored one.
/// Returns the profile file and the bias that applies, if any.
fn calibrate(args: &Args, reports: &[AudioCheckReport]) -> anyhow::Result<Option<(PathBuf, f64)>> {
    let audio = reports.last().expect("at least one round");
    let path = match args
        .calibration
        .clone()
        .or_else(crate::calibration::default_path)
    {
        Some(p) => p,
        None => return Ok(None),
    };
    if args.calibrate {
        let rounds: Vec<f64> = reports
            .iter()
            .filter_map(|r| r.loopback_bias.map(|b| b.median_ms))
            .collect();
        if rounds.len() * 2 <= reports.len() {
            return Err(crate::error::invalid(format!(
                "--calibrate needs a loopback recording of the output; {} of {} rounds found too few clicks in it ({}); on the PulseAudio null sink run scripts/pulse-null-sink first",
                reports.len() - rounds.len(),
                reports.len(),
                reports
                    .iter()
                    .filter_map(|r| r.loopback_note.as_deref())
                    .collect::<Vec<_>>()
                    .join("; ")
            )));
        }
        let bias_ms = median(&rounds);
        crate::calibration::store(
            &path,
            crate::calibration::Profile {
                device: audio.device.clone(),
                sample_rate: audio.sample_rate,
                buffer_frames: args.buffer,
                bias_ms,
                measured: cuelab_session::store::wall_clock_now(),
                clicks: reports
                    .iter()
                    .filter_map(|r| r.loopback_bias.map(|b| b.n))
                    .sum(),
                rounds: rounds.clone(),
                timestamps: audio.timestamps.to_string(),
            },
        )?;
        eprintln!(
            "check: stored a bias of {bias_ms:+.3} ms (median of rounds {}) for {} at {} Hz, {} frames in {}",
            rounds
                .iter()
                .map(|b| format!("{b:+.3}"))
                .collect::<Vec<_>>()
                .join(", "),
            audio.device,
            audio.sample_rate,
            args.buffer,
            path.display()
        );
        return Ok(Some((path, bias_ms)));
    }
    let profiles = crate::calibration::read(&path)?;
    Ok(
        crate::calibration::lookup(&profiles, &audio.device, audio.sample_rate, args.buffer)
            .map(|p| (path.clone(), p.bias_ms)),
    )
}

/// The median of `v` (not empty).
fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// A verdict on one figure against a stated threshold.
fn verdict(level: &str, why: String) -> serde_json::Value {
    json!({ "level": level, "why": why })
}

/// `cuelab check --display`: the window's flips, with a verdict on each figure.
fn display(args: &Args) -> anyhow::Result<ExitCode> {
    if args.flips < 300 {
        return Err(crate::error::invalid("--flips must be at least 300"));
    }
    if let Some(clip) = &args.clip
        && !clip.is_file()
    {
        return Err(crate::error::invalid(format!(
            "--clip {}: no such file",
            clip.display()
        )));
    }
    let report = super::window::check_display(args.fullscreen, args.flips, args.clip.as_deref())
        .context("checking the display")?;
    let f = &report.flips;
    let period_ms = report.refresh.period.as_millis_f64();
    let missed = f.missed(period_ms);
    let n = f.intervals_ms.len() + 1;
    let (mean, sd, max) = (f.mean_ms(), f.sd_ms(), f.max_ms());
    let vsync = report.refresh.vsync;
    let refresh_hz = vsync.then(|| 1000.0 / period_ms);
    let refresh_verdict = if vsync {
        verdict(
            "ok",
            format!(
                "the swap waited for the vertical blank: {:.3} Hz from {} back-to-back flips",
                1000.0 / period_ms,
                report.calibration.intervals_ms.len() + 1
            ),
        )
    } else {
        verdict(
            "not_ok",
            format!(
                "vsync is not enforced by this display (Xvfb, or a driver that ignores the swap interval): back-to-back flips came {:.2} ms apart (median; SD {:.2} ms), so there is no refresh rate to report; cuelab paces flips at {} Hz on the session clock instead",
                report.calibration.median_ms(),
                report.calibration.sd_ms(),
                crate::sessions::REFRESH_HZ
            ),
        )
    };
    let interval_verdict = if sd <= 1.0 && max <= 1.5 * period_ms {
        verdict(
            "ok",
            format!(
                "SD {sd:.3} ms <= 1 ms and no interval over 1.5 refreshes ({:.2} ms)",
                1.5 * period_ms
            ),
        )
    } else if sd <= 2.0 {
        verdict(
            "marginal",
            format!(
                "SD {sd:.3} ms is within 2 ms, but the longest interval is {max:.2} ms (a refresh is {period_ms:.2} ms)"
            ),
        )
    } else {
        verdict(
            "not_ok",
            format!("SD {sd:.3} ms > 2 ms: frames do not come one per refresh"),
        )
    };
    let missed_share = missed as f64 / n as f64;
    let missed_verdict = if missed == 0 {
        verdict("ok", "no interval longer than 1.5 refreshes".into())
    } else if missed_share <= 0.01 {
        verdict(
            "marginal",
            format!(
                "{missed} of {n} flips ({:.2}%) came a refresh or more late (at most 1% tolerated)",
                100.0 * missed_share
            ),
        )
    } else {
        verdict(
            "not_ok",
            format!(
                "{missed} of {n} flips ({:.2}%) came a refresh or more late (more than 1%)",
                100.0 * missed_share
            ),
        )
    };
    let vsync_verdict = if vsync {
        verdict(
            "ok",
            "flips wait for the vertical blank: no tearing, flip times on the screen's refresh"
                .into(),
        )
    } else {
        verdict(
            "not_ok",
            "vsync is not enforced (as under Xvfb): pictures may tear and flip times are the session clock's pacing, not the screen's; fine for tests, not for a lab".into(),
        )
    };
    if args.json {
        let out = json!({
            "display": {
                "refresh_hz": refresh_hz,
                "interval_ms": { "mean": mean, "sd": sd, "max": max },
                "missed_flips": missed,
                "n": n,
                "vsync": vsync,
                "clip": report.clip.as_ref().map(|p| p.display().to_string()),
                "verdicts": {
                    "refresh_hz": refresh_verdict,
                    "interval_ms": interval_verdict,
                    "missed_flips": missed_verdict,
                    "vsync": vsync_verdict,
                },
            }
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        let line = |name: &str, value: String, v: &serde_json::Value| {
            println!(
                "  {name:<13} {value:<34} [{}] {}",
                v["level"].as_str().unwrap_or(""),
                v["why"].as_str().unwrap_or("")
            );
        };
        println!(
            "display ({n} flips{}):",
            report
                .clip
                .as_ref()
                .map_or(String::new(), |p| format!(" of {}", p.display()))
        );
        line(
            "refresh",
            refresh_hz.map_or("-".into(), |hz| format!("{hz:.3} Hz")),
            &refresh_verdict,
        );
        line(
            "intervals",
            format!("mean {mean:.3}, SD {sd:.3}, max {max:.3} ms"),
            &interval_verdict,
        );
        line("missed flips", missed.to_string(), &missed_verdict);
        line("vsync", vsync.to_string(), &vsync_verdict);
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(v: &serde_json::Value) -> Vec<&str> {
        let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        k.sort_unstable();
        k
    }

    #[test]
    fn the_calibrated_median_is_judged_against_half_a_millisecond() {
        let options = AudioCheckOptions {
            target: AudioTarget::Virtual,
            clicks: 50,
            ..AudioCheckOptions::default()
        };
        let mut audio = audio_check::run(&options, &mut |_| {}).unwrap();
        audio.method = audio_check::OnsetMethod::Loopback;
        let level = |median: f64, bias: Option<f64>| {
            let mut a = audio.clone();
            a.onset_error.median_ms = median;
            audio_verdicts(&a, bias)["onset_error_median"]["level"]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(level(-4.2, Some(-4.0)), "ok");
        assert_eq!(level(-4.8, Some(-4.0)), "marginal");
        assert_eq!(level(-2.5, Some(-4.0)), "not_ok");
        // Without a profile the constant latency is reported, not judged as accurate.
        assert_eq!(level(-4.2, None), "marginal");
    }

    #[test]
    fn json_has_the_documented_keys_on_the_virtual_device() {
        let options = AudioCheckOptions {
            target: AudioTarget::Virtual,
            clicks: 50,
            ..AudioCheckOptions::default()
        };
        let audio = audio_check::run(&options, &mut |_| {}).unwrap();
        let v = report_json(&audio, None);
        // Every audio figure gets a verdict with a reason.
        let verdicts = audio_verdicts(&audio, None);
        assert_eq!(
            keys(&verdicts),
            [
                "callback_period_sd",
                "onset_error_max_abs",
                "onset_error_median",
                "onset_error_sd",
                "xruns"
            ]
        );
        for (_, v) in verdicts.as_object().unwrap() {
            assert_eq!(v["level"], "ok", "{v}");
            assert!(!v["why"].as_str().unwrap().is_empty());
        }
        assert_eq!(keys(&v), ["audio", "video"]);
        assert_eq!(
            keys(&v["audio"]),
            [
                "buffer_frames",
                "callback_period_ms",
                "device",
                "device_timestamp_error_ms",
                "loopback_bias_ms",
                "onset_error_ms",
                "reported_latency_ms",
                "sample_rate",
                "timestamps",
                "xruns"
            ]
        );
        assert_eq!(
            keys(&v["audio"]["callback_period_ms"]),
            ["max", "mean", "sd"]
        );
        assert_eq!(
            keys(&v["audio"]["onset_error_ms"]),
            ["max_abs", "median", "method", "n", "sd"]
        );
        assert_eq!(keys(&v["video"]), ["decode_fps", "height", "width"]);
        assert_eq!(v["audio"]["device"], "virtual");
        assert_eq!(v["audio"]["onset_error_ms"]["method"], "virtual-device");
        assert_eq!(v["audio"]["onset_error_ms"]["n"], 50);
        assert_eq!(v["audio"]["buffer_frames"], 128);
        // No loopback on the virtual device: no bias to measure.
        assert!(v["audio"]["loopback_bias_ms"].is_null());
        assert_eq!(
            keys(&v["audio"]["device_timestamp_error_ms"]),
            ["max_abs", "median", "n", "sd"]
        );
    }
}
