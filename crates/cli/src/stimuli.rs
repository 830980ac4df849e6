//! The stimulus check behind `cuelab validate`: every soundtrack decodes and every clip's video
//! stream opens, before any participant sits down. A failure is reported at the line where the
//! stimulus is declared.

use std::path::Path;

use cuelab_playback::decode::{DecodeOptions, decode_file};
use cuelab_protocol::model::{Stimulus, StimulusKind};
use cuelab_protocol::{Diagnostic, Protocol};

/// The device rate stimuli are checked at (decoding includes resampling to it).
const CHECK_RATE: u32 = 48_000;

/// What the check found out about one stimulus.
#[derive(Debug)]
pub struct StimulusReport {
    pub id: String,
    pub summary: String,
    /// Things worth knowing that do not stop a session.
    pub warnings: Vec<String>,
}

/// Decodes (soundtracks) or probes (clips) every stimulus of a protocol in `dir`.
pub fn check(protocol: &Protocol, dir: &Path) -> Result<Vec<StimulusReport>, Vec<Diagnostic>> {
    let mut reports = Vec::new();
    let mut errors = Vec::new();
    let mut longest_clip_ms = 0.0f64;
    for s in protocol.clips() {
        match check_clip(s, dir) {
            Ok((r, ms)) => {
                longest_clip_ms = longest_clip_ms.max(ms);
                reports.push(r);
            }
            Err(msg) => errors.push(diag(s, msg)),
        }
    }
    for s in protocol.soundtracks() {
        match check_soundtrack(s, dir, longest_clip_ms) {
            Ok(r) => reports.push(r),
            Err(msg) => errors.push(diag(s, msg)),
        }
    }
    if errors.is_empty() {
        Ok(reports)
    } else {
        Err(errors)
    }
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
) -> Result<StimulusReport, String> {
    let options = DecodeOptions::at_rate(CHECK_RATE);
    let sound = decode_file(&dir.join(&s.path), &options, &mut |_| {}).map_err(|e| {
        format!(
            "soundtrack `{}` ({}) does not decode: {e}",
            s.id,
            s.path.display()
        )
    })?;
    let ms = sound.duration().as_millis_f64();
    let levels = sound.levels();
    let mut warnings = Vec::new();
    if longest_clip_ms > 0.0 && ms + 1.0 < longest_clip_ms {
        warnings.push(format!(
            "soundtrack `{}` lasts {:.3} s, less than the longest clip ({:.3} s): the end of that clip would be silent",
            s.id,
            ms / 1000.0,
            longest_clip_ms / 1000.0
        ));
    }
    let peak_db = 20.0 * f64::from(levels.peak).log10() + s.gain_db;
    if peak_db > 0.0 {
        warnings.push(format!(
            "soundtrack `{}` clips: peak {peak_db:+.1} dBFS after gain_db",
            s.id
        ));
    }
    Ok(StimulusReport {
        id: s.id.clone(),
        summary: format!(
            "soundtrack {} ch, {:.3} s, peak {:.1} dBFS, RMS {:.1} dBFS",
            sound.channels(),
            ms / 1000.0,
            20.0 * f64::from(levels.peak).log10(),
            20.0 * f64::from(levels.rms).log10()
        ),
        warnings,
    })
}
