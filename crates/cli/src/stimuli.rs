//! The stimulus check behind `cuelab validate`: every soundtrack decodes and every clip's video
//! stream opens, before any participant sits down. A failure is reported at the line where the
//! stimulus is declared. Soundtracks are measured for integrated loudness (EBU R128, after
//! `gain_db`), and soundtracks that are levels of one factor are compared.

use std::collections::BTreeMap;
use std::path::Path;

use cuelab_playback::decode::{DecodeOptions, decode_file_measured};
use cuelab_playback::loudness::{integrated_lufs, normalization_db};
use cuelab_playback::sound::Sound;
use cuelab_protocol::model::{Pairing, Stimulus, StimulusKind};
use cuelab_protocol::{Diagnostic, Protocol};

/// The device rate stimuli are checked at (decoding includes resampling to it).
const CHECK_RATE: u32 = 48_000;

/// Soundtracks that are levels of one factor may differ by this much loudness (LU).
pub const MAX_LOUDNESS_DIFFERENCE_LU: f64 = 1.0;

/// What the check found out about one stimulus.
#[derive(Debug)]
pub struct StimulusReport {
    pub id: String,
    pub summary: String,
    /// Things worth knowing that do not stop a session.
    pub warnings: Vec<String>,
}

/// A warning located at a declaration (`FILE:LINE:COL: warning: ...`).
#[derive(Debug)]
pub struct Located {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl std::fmt::Display for Located {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: warning: {}",
            self.file, self.line, self.col, self.message
        )
    }
}

/// One decoded soundtrack and its loudness.
#[derive(Debug)]
pub struct Soundtrack {
    pub id: String,
    /// Decoded at the check rate, with `gain_db` and fades applied.
    pub sound: Sound,
    /// The gain cuelab applies on loading, relative to the file: the normalization (when
    /// `normalize_lufs` is set) plus `gain_db`.
    pub applied_gain_db: f64,
    /// The part of it beyond `gain_db` (0 without `normalize_lufs`): what `sound` still needs.
    pub normalization_db: f64,
    /// The loudness the soundtrack plays at (after normalization, if any).
    pub playing_lufs: Option<f64>,
}

/// Everything the check found.
#[derive(Debug, Default)]
pub struct Checked {
    pub reports: Vec<StimulusReport>,
    pub warnings: Vec<Located>,
    /// Clip id → duration, ms.
    pub clip_ms: BTreeMap<String, f64>,
    pub soundtracks: Vec<Soundtrack>,
}

impl Checked {
    /// How long a trial's `clip` step lasts: the clip, or the soundtrack when there is no clip.
    pub fn presentation_ms(&self, clip: Option<&str>, soundtrack: Option<&str>) -> f64 {
        if let Some(c) = clip {
            return self.clip_ms.get(c).copied().unwrap_or(0.0);
        }
        soundtrack
            .and_then(|s| self.soundtracks.iter().find(|t| t.id == s))
            .map_or(0.0, |t| t.sound.duration().as_millis_f64())
    }
}

/// Decodes (soundtracks) or probes (clips) every stimulus of a protocol in `dir`.
pub fn check(protocol: &Protocol, dir: &Path) -> Result<Checked, Vec<Diagnostic>> {
    let mut out = Checked::default();
    let mut errors = Vec::new();
    // The longest test clip and the longest practice clip: a soundtrack should last as long as
    // the clips it can be paired with (practice soundtracks go with practice clips when any).
    let (mut longest_test_ms, mut longest_practice_ms) = (0.0f64, 0.0f64);
    for s in protocol.clips() {
        match check_clip(s, dir) {
            Ok((r, ms)) => {
                if s.practice {
                    longest_practice_ms = longest_practice_ms.max(ms);
                } else {
                    longest_test_ms = longest_test_ms.max(ms);
                }
                out.clip_ms.insert(s.id.clone(), ms);
                out.reports.push(r);
            }
            Err(msg) => errors.push(diag(s, msg)),
        }
    }
    for s in protocol.soundtracks() {
        let longest_clip_ms = if s.practice && longest_practice_ms > 0.0 {
            longest_practice_ms
        } else if s.practice {
            longest_test_ms.max(longest_practice_ms)
        } else {
            longest_test_ms
        };
        match check_soundtrack(s, dir, longest_clip_ms, protocol.normalize_lufs()) {
            Ok((r, t)) => {
                out.reports.push(r);
                out.soundtracks.push(t);
            }
            Err(msg) => errors.push(diag(s, msg)),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    out.warnings = loudness_warnings(protocol, &out.soundtracks);
    Ok(out)
}

fn diag(s: &Stimulus, message: String) -> Diagnostic {
    Diagnostic {
        file: s.declared_at.file.clone(),
        line: s.declared_at.line,
        col: s.declared_at.col,
        message,
        help: Some("re-encode the file (WAV or FLAC for soundtracks, H.264 MP4 for clips)".into()),
        source_line: None,
    }
}

fn check_clip(s: &Stimulus, dir: &Path) -> Result<(StimulusReport, f64), String> {
    debug_assert_eq!(s.kind, StimulusKind::Clip);
    let info = cuelab_playback::video::probe(&dir.join(&s.path)).map_err(|e| {
        format!(
            "clip `{}` ({}) does not open as video: {e}",
            s.id,
            s.path.display()
        )
    })?;
    let ms = info.duration.as_millis_f64();
    let mut warnings = Vec::new();
    if let Some(w) = info.length_warning() {
        warnings.push(format!("clip `{}`: {w}", s.id));
    }
    if info.has_audio {
        warnings.push(format!(
            "clip `{}` has an audio track; cuelab never plays it (the soundtrack comes from the protocol)",
            s.id
        ));
    }
    let fps = info
        .frame_rate
        .map_or("unknown fps".to_string(), |f| format!("{f:.3} fps"));
    Ok((
        StimulusReport {
            id: s.id.clone(),
            summary: format!(
                "clip {}x{} {} {fps}, {:.3} s",
                info.width,
                info.height,
                info.codec,
                ms / 1000.0
            ),
            warnings,
        },
        ms,
    ))
}

fn check_soundtrack(
    s: &Stimulus,
    dir: &Path,
    longest_clip_ms: f64,
    normalize_lufs: Option<f64>,
) -> Result<(StimulusReport, Soundtrack), String> {
    let mut options = DecodeOptions::at_rate(CHECK_RATE);
    options.gain_db = s.gain_db as f32;
    let (sound, measured) = decode_file_measured(&dir.join(&s.path), &options, &mut |_| {})
        .map_err(|e| {
            format!(
                "soundtrack `{}` ({}) does not decode: {e}",
                s.id,
                s.path.display()
            )
        })?;
    let lufs = integrated_lufs(&sound).map_err(|e| format!("soundtrack `{}`: {e}", s.id))?;
    let ms = sound.duration().as_millis_f64();
    let levels = sound.levels();
    // A truncated file still plays (at its decoded length), but the researcher should know.
    let mut warnings: Vec<String> = measured
        .warnings
        .iter()
        .map(|w| format!("soundtrack `{}`: {w}", s.id))
        .collect();
    if longest_clip_ms > 0.0 && ms + 1.0 < longest_clip_ms {
        warnings.push(format!(
            "soundtrack `{}` lasts {:.3} s, less than the longest clip ({:.3} s): the end of that clip would be silent",
            s.id,
            ms / 1000.0,
            longest_clip_ms / 1000.0
        ));
    }
    // The loudness the soundtrack plays at, and the gain (beyond `gain_db`) that gets it there.
    let norm_db = match (normalize_lufs, lufs) {
        // Measured after `gain_db`: the file itself is at `l - gain_db`, normalized to the
        // target, and `gain_db` adds to that (so it plays at `target + gain_db`).
        (Some(target), Some(l)) => normalization_db(l, s.gain_db, target),
        _ => 0.0,
    };
    let playing_lufs = lufs.map(|l| l + norm_db);
    let peak_db = 20.0 * f64::from(levels.peak).log10() + norm_db;
    if peak_db > 0.0 {
        warnings.push(format!(
            "soundtrack `{}` clips: peak {peak_db:+.1} dBFS after {}",
            s.id,
            if normalize_lufs.is_some() {
                "normalization and gain_db"
            } else {
                "gain_db"
            }
        ));
    }
    if normalize_lufs.is_some() && lufs.is_none() {
        warnings.push(format!(
            "soundtrack `{}` is silent (below -70 LUFS), so `normalize_lufs` cannot normalize it",
            s.id
        ));
    }
    let lufs_text = lufs.map_or("silent".to_string(), |l| format!("{l:.1} LUFS"));
    let mut summary = format!(
        "soundtrack {} ch, {:.3} s, peak {:.1} dBFS, RMS {:.1} dBFS, {lufs_text} after gain_db",
        sound.channels(),
        ms / 1000.0,
        20.0 * f64::from(levels.peak).log10(),
        20.0 * f64::from(levels.rms).log10()
    );
    let applied_gain_db = norm_db + s.gain_db;
    if let (Some(target), Some(_)) = (normalize_lufs, lufs) {
        summary.push_str(&format!(
            "; normalized to {target:.1} LUFS{}: applied gain {applied_gain_db:+.2} dB",
            if s.gain_db == 0.0 {
                String::new()
            } else {
                format!(
                    " then gain_db {:+.1} dB (plays at {:.1} LUFS)",
                    s.gain_db,
                    target + s.gain_db
                )
            }
        ));
    }
    Ok((
        StimulusReport {
            id: s.id.clone(),
            summary,
            warnings,
        },
        Soundtrack {
            id: s.id.clone(),
            sound,
            applied_gain_db,
            normalization_db: norm_db,
            playing_lufs,
        },
    ))
}

/// Soundtracks that are levels of one factor (or, with a conditions file, every test
/// soundtrack) and differ in loudness by more than 1 LU confound the music effect: one warning
/// per group, at the declaration of its loudest soundtrack.
fn loudness_warnings(protocol: &Protocol, tracks: &[Soundtrack]) -> Vec<Located> {
    let mut groups: Vec<(String, Vec<&str>)> = protocol
        .factors()
        .iter()
        .filter(|f| f.soundtrack)
        .map(|f| {
            (
                format!("factor `{}`", f.name),
                f.levels.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    if matches!(protocol.design().pairing, Pairing::ConditionsFile(_)) {
        groups.push((
            "the conditions file".to_string(),
            protocol
                .soundtracks()
                .iter()
                .filter(|s| !s.practice)
                .map(|s| s.id.as_str())
                .collect(),
        ));
    }
    let mut out = Vec::new();
    for (what, levels) in groups {
        let measured: Vec<(&Soundtrack, f64)> = levels
            .iter()
            .filter_map(|l| tracks.iter().find(|t| t.id == *l))
            .filter_map(|t| t.playing_lufs.map(|l| (t, l)))
            .collect();
        let (Some(loud), Some(quiet)) = (
            measured.iter().max_by(|a, b| a.1.total_cmp(&b.1)),
            measured.iter().min_by(|a, b| a.1.total_cmp(&b.1)),
        ) else {
            continue;
        };
        let diff = loud.1 - quiet.1;
        if diff <= MAX_LOUDNESS_DIFFERENCE_LU {
            continue;
        }
        let list = measured
            .iter()
            .map(|(t, l)| format!("`{}` {l:.1}", t.id))
            .collect::<Vec<_>>()
            .join(", ");
        let why = if protocol.normalize_lufs().is_some() {
            "after normalization, because of their gain_db (a deliberate difference?)"
        } else {
            "any music effect is confounded with loudness; set `[stimuli] normalize_lufs = -23`"
        };
        let at = &protocol
            .soundtrack(&loud.0.id)
            .expect("a declared soundtrack")
            .declared_at;
        out.push(Located {
            file: at.file.clone(),
            line: at.line,
            col: at.col,
            message: format!(
                "the soundtracks of {what} differ in loudness by {diff:.1} LU (more than {MAX_LOUDNESS_DIFFERENCE_LU} LU): {list} LUFS; {why}"
            ),
        });
    }
    out
}
