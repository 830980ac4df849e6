//! Wiring shared by `run`, `simulate` and `demo`: a protocol's stimuli as the playback crate's
//! [`StimulusSet`], their SHA-256s, and a session's metadata. No loop lives here.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use std::sync::Arc;

use anyhow::Context;
use cuelab_core::{SessionTime, VirtualClock};
use cuelab_playback::clock::MonotonicClock;
use cuelab_playback::decode::{DecodeOptions, decode_file};
use cuelab_playback::engine::EngineConfig;
use cuelab_playback::loudness::{gain_to_target_db, integrated_lufs};
use cuelab_playback::rig::{ClipSpec, SoundSpec, StimulusSet};
use cuelab_playback::rig::{Frames, Rig, Stimuli};
use cuelab_playback::virtual_device::VirtualDevice;
use cuelab_protocol::{Protocol, TrialPlan};
use cuelab_session::Status;
use cuelab_session::store::SessionMeta;
use sha2::{Digest, Sha256};

use crate::error::Invalid;

/// Virtual and headless rigs run at this rate and refresh.
pub const RATE: u32 = 48_000;
pub const REFRESH_HZ: u32 = 60;

/// A rig over `display` for a real-time session: the virtual audio device paced by the
/// monotonic clock, or a real sound card through cpal.
pub fn device_rig<D: cuelab_playback::video::Display>(
    audio: &str,
    stimuli: Arc<Stimuli>,
    clock: MonotonicClock,
    display: D,
    frames: Frames,
) -> anyhow::Result<Rig<D>> {
    let lead = SessionTime::from_millis(150);
    if audio == "virtual" {
        let mut config = EngineConfig::new(RATE, 2);
        config.buffer_frames = 256;
        let (device, engine) = VirtualDevice::new(&config, VirtualClock::new());
        let paced = device.spawn_paced(clock);
        return Ok(Rig::new(
            engine,
            Box::new(paced),
            display,
            stimuli,
            frames,
            lead,
        ));
    }
    let name = (audio != "default").then_some(audio);
    let mut config = EngineConfig::new(RATE, 2);
    config.buffer_frames = 512;
    let (device, engine) = cuelab_playback::cpal_device::open_output(name, &config, clock)
        .map_err(|e| match e {
            // A name that is no device is the user's mistake; a device that fails is the machine's.
            cuelab_playback::cpal_device::DeviceError::NotFound { .. } => {
                anyhow::Error::new(Invalid(e.to_string()))
            }
            other => anyhow::Error::new(other).context(format!("opening audio device `{audio}`")),
        })?;
    Ok(Rig::new(
        engine,
        Box::new(device),
        display,
        stimuli,
        frames,
        lead,
    ))
}

/// The protocol's clips and soundtracks as paths under `dir` (the protocol's folder). With
/// `[stimuli] normalize_lufs`, each soundtrack's gain includes the gain that brings it to that
/// loudness (measured here by decoding it once), so it plays as `cuelab validate` reports.
pub fn stimulus_set(protocol: &Protocol, dir: &Path) -> anyhow::Result<StimulusSet> {
    let mut set = plain_stimulus_set(protocol, dir);
    if let Some(target) = protocol.normalize_lufs() {
        for s in &mut set.soundtracks {
            let mut options = DecodeOptions::at_rate(48_000);
            options.gain_db = s.gain_db as f32;
            let sound = decode_file(&s.path, &options, &mut |_| {})
                .with_context(|| format!("decoding soundtrack `{}`", s.id))?;
            if let Some(lufs) = integrated_lufs(&sound)
                .with_context(|| format!("measuring the loudness of soundtrack `{}`", s.id))?
            {
                s.gain_db += gain_to_target_db(lufs - s.gain_db, target);
            }
        }
    }
    Ok(set)
}

/// The gain loudness normalization adds to each soundtrack's `gain_db`, dB (empty without
/// `normalize_lufs`): what `session.json` records.
pub fn normalization_gains(protocol: &Protocol, set: &StimulusSet) -> BTreeMap<String, f64> {
    if protocol.normalize_lufs().is_none() {
        return BTreeMap::new();
    }
    set.soundtracks
        .iter()
        .filter_map(|s| {
            let declared = protocol.soundtrack(&s.id)?.gain_db;
            Some((s.id.clone(), s.gain_db - declared))
        })
        .collect()
}

fn plain_stimulus_set(protocol: &Protocol, dir: &Path) -> StimulusSet {
    StimulusSet {
        clips: protocol
            .clips()
            .iter()
            .map(|c| ClipSpec {
                id: c.id.clone(),
                path: dir.join(&c.path),
            })
            .collect(),
        soundtracks: protocol
            .soundtracks()
            .iter()
            .map(|s| SoundSpec {
                id: s.id.clone(),
                path: dir.join(&s.path),
                gain_db: s.gain_db,
                fade_in_ms: s.fade_in_ms,
                fade_out_ms: s.fade_out_ms,
            })
            .collect(),
    }
}

/// SHA-256 (hex) of every stimulus file, by id.
pub fn stimulus_hashes(
    protocol: &Protocol,
    dir: &Path,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for s in protocol.stimuli() {
        let path = dir.join(&s.path);
        let mut f = std::fs::File::open(&path)
            .with_context(|| format!("reading stimulus `{}` ({})", s.id, path.display()))?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = f
                .read(&mut buf)
                .with_context(|| format!("reading {}", path.display()))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        out.insert(s.id.clone(), hex);
    }
    Ok(out)
}

/// The machine's host name.
pub fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// Metadata of a new session of `plan` (status and times are filled in by the store).
pub fn meta(
    protocol: &Protocol,
    protocol_file: &Path,
    plan: &TrialPlan,
    stimuli_sha256: BTreeMap<String, String>,
) -> SessionMeta {
    SessionMeta {
        experiment: plan.experiment.clone(),
        participant: plan.participant.clone(),
        session: plan.session,
        protocol_file: protocol_file.display().to_string(),
        protocol_sha256: protocol.sha256().to_string(),
        stimuli_sha256,
        seed: plan.seed,
        simulation_seed: None,
        simulated: false,
        software: format!("cuelab {}", env!("CARGO_PKG_VERSION")),
        host: host(),
        clock: "monotonic".into(),
        audio: None,
        display: None,
        loudness_gain_db: BTreeMap::new(),
        language: protocol.experiment().language.clone(),
        started: String::new(),
        ended: None,
        resumed: Vec::new(),
        status: Status::Running,
    }
}

/// A rough size of one session's journal, for the data folder's space check.
pub fn expected_bytes(plan: &TrialPlan) -> u64 {
    1 << 20 | (plan.trials.len() as u64 * 64 * 1024)
}
