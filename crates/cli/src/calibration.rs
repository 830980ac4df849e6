//! The machine's audio calibration profile: the measured bias between the onset cuelab computes
//! from device timestamps and the onset a loopback recording shows, per device, rate and buffer
//! size (`cuelab check --calibrate` writes it; `cuelab run` applies it to every audio onset, as
//! Psychtoolbox's `LatencyBias`).
//!
//! The file is `$XDG_CONFIG_HOME/cuelab/calibration.toml` (`~/.config/...` when that variable
//! is unset), or the one named by `--calibration FILE`:
//!
//! ```toml
//! [[profile]]
//! device = "pulse"
//! sample_rate = 48000
//! buffer_frames = 512
//! bias_ms = -7.8
//! measured = "2026-11-29T22:55:00+00:00"
//! clicks = 180
//! rounds = [-7.9, -7.8, -7.6]
//! timestamps = "callback-phase"
//! ```
//!
//! `timestamps` records where the device's playback times came from when the bias was measured
//! (`cuelab_playback::cpal_device::TimestampSource`): a bias measured against the other source
//! does not apply, so a profile without it, or with another one, is not used (made before the
//! PulseAudio plugin's devices were timed by their callback phase, it would be ~3.7 ms off).

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

use crate::error::Invalid;

/// One calibrated device setting.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub device: String,
    pub sample_rate: u32,
    pub buffer_frames: u32,
    /// Added to every device-timestamp onset: loopback onset − device-timestamp onset (median).
    pub bias_ms: f64,
    /// When it was measured (RFC 3339, with the UTC offset).
    pub measured: String,
    /// Clicks the median is taken over.
    pub clicks: usize,
    /// The bias of each measurement (`--rounds`, each on a freshly opened stream), ms; the
    /// stored bias is their median.
    #[serde(default)]
    pub rounds: Vec<f64>,
    /// Where the device's playback times came from (`device-delay`, `callback-phase`).
    #[serde(default)]
    pub timestamps: String,
}

/// The timestamp source `cuelab` uses for `device` today.
pub fn timestamps_of(device: &str) -> &'static str {
    cuelab_playback::cpal_device::TimestampSource::for_device(device).as_str()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    #[serde(default)]
    profile: Vec<Profile>,
}

/// The per-machine profile file.
pub fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("cuelab").join("calibration.toml"))
}

/// Every profile in `path` (none when the file does not exist). A file that is not a profile
/// file is invalid input.
pub fn read(path: &Path) -> anyhow::Result<Vec<Profile>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    parse(&text).map_err(|e| anyhow::Error::new(Invalid(format!("{}: {e}", path.display()))))
}

fn parse(text: &str) -> Result<Vec<Profile>, String> {
    let file: ProfileFile = toml::from_str(text).map_err(|e| e.to_string())?;
    for p in &file.profile {
        if !p.bias_ms.is_finite() || p.bias_ms.abs() > 1000.0 {
            return Err(format!(
                "profile for `{}`: bias_ms = {} is not a plausible bias (|bias| <= 1000 ms)",
                p.device, p.bias_ms
            ));
        }
    }
    Ok(file.profile)
}

/// The profile for this device setting, if one was measured.
pub fn lookup<'a>(
    profiles: &'a [Profile],
    device: &str,
    sample_rate: u32,
    buffer_frames: u32,
) -> Option<&'a Profile> {
    profiles.iter().find(|p| {
        p.device == device
            && p.sample_rate == sample_rate
            && p.buffer_frames == buffer_frames
            && p.timestamps == timestamps_of(device)
    })
}

/// Stores `profile` in `path`, replacing the one for the same setting (written to a temporary
/// file, synced, then renamed).
pub fn store(path: &Path, profile: Profile) -> anyhow::Result<()> {
    let mut profiles = read(path)?;
    profiles.retain(|p| {
        !(p.device == profile.device
            && p.sample_rate == profile.sample_rate
            && p.buffer_frames == profile.buffer_frames)
    });
    profiles.push(profile);
    let text = render(&profiles);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = path.with_extension("toml.tmp");
    {
        use std::io::Write;
        let mut f =
            std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// The file's text. Written by hand (the workspace's `toml` parses only); strings are quoted
/// as JSON strings, which are valid TOML basic strings.
fn render(profiles: &[Profile]) -> String {
    let q = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    let mut out = String::from("# cuelab audio calibration (cuelab check --calibrate)\n");
    for p in profiles {
        out.push_str(&format!(
            "\n[[profile]]\ndevice = {}\nsample_rate = {}\nbuffer_frames = {}\nbias_ms = {:?}\nmeasured = {}\nclicks = {}\nrounds = [{}]\ntimestamps = {}\n",
            q(&p.device),
            p.sample_rate,
            p.buffer_frames,
            p.bias_ms,
            q(&p.measured),
            p.clicks,
            p.rounds
                .iter()
                .map(|b| format!("{b:?}"))
                .collect::<Vec<_>>()
                .join(", "),
            q(&p.timestamps)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(device: &str, bias_ms: f64) -> Profile {
        Profile {
            device: device.into(),
            sample_rate: 48_000,
            buffer_frames: 512,
            bias_ms,
            measured: "2026-11-29T22:55:00+00:00".into(),
            clicks: 60,
            rounds: vec![bias_ms - 0.1, bias_ms, bias_ms + 0.2],
            timestamps: timestamps_of(device).into(),
        }
    }

    #[test]
    fn profiles_are_stored_per_setting_and_found_again() {
        let dir = std::env::temp_dir().join(format!("cuelab-calibration-{}", std::process::id()));
        let path = dir.join("cuelab/calibration.toml");
        assert!(read(&path).unwrap().is_empty());
        store(&path, profile("pulse", -7.8)).unwrap();
        store(&path, profile("hw:1", 1.5)).unwrap();
        // A new measurement of the same setting replaces the old one.
        store(&path, profile("pulse", -7.6)).unwrap();
        let all = read(&path).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(lookup(&all, "pulse", 48_000, 512).unwrap().bias_ms, -7.6);
        // The rounds survive the round trip exactly.
        assert_eq!(
            lookup(&all, "pulse", 48_000, 512).unwrap().rounds,
            vec![-7.6 - 0.1, -7.6, -7.6 + 0.2]
        );
        assert!(lookup(&all, "pulse", 44_100, 512).is_none());
        // A profile measured against the other timestamp source (or before they were
        // recorded) does not apply.
        let old = "[[profile]]\ndevice = \"pulse\"\nsample_rate = 48000\nbuffer_frames = 512\nbias_ms = -7.8\nmeasured = \"t\"\nclicks = 60\n";
        assert!(lookup(&parse(old).unwrap(), "pulse", 48_000, 512).is_none());
        assert!(lookup(&all, "pulse", 48_000, 256).is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn implausible_or_unknown_entries_are_refused() {
        assert!(parse("[[profile]]\ndevice = \"x\"\nsample_rate = 48000\nbuffer_frames = 512\nbias_ms = 5000.0\nmeasured = \"t\"\nclicks = 60\n").unwrap_err().contains("plausible"));
        assert!(parse("[[profile]]\ndevic = \"x\"\n").is_err());
        assert!(parse("").unwrap().is_empty());
    }
}
