//! `cuelab-stimuli`: the bundled stimuli, made by code — synthesized soundtracks whose tempo,
//! mode, register, articulation and timbre are controlled, and Heider–Simmel animations — with
//! the table of their designed features, byte-identical on every run.
//!
//! # The key decision: a stimulus is a pure function of its design
//!
//! Film-music studies compare conditions that must differ only in what was manipulated, and a
//! reproducible study must be able to rebuild its material. So every stimulus here is computed
//! from a small design (`music::tracks`, `scene::scenes`) and nothing else: randomness comes
//! from a SplitMix64 stream of our own seeded by the stimulus's name (no thread, time or
//! process state), notes are rendered one at a time into a buffer (fundsp graphs, no real-time
//! scheduling), the mix is normalized to −23 LUFS integrated (EBU R128, `ebur128`) and rounded
//! to 16 bits without dither, and FLAC is written by `flacenc` with its thread pool compiled
//! out. Animations are a fixed-step simulation drawn by tiny-skia and encoded by the `ffmpeg`
//! program with libx264 on one thread and `+bitexact`; that is reproducible on one machine with
//! one FFmpeg build (another x264 version may choose other bits for the same frames).
//!
//! Soundtracks are mono, 48 kHz, 16-bit FLAC (a 24 s track takes 0.4–1 MB). Each music track has
//! a per-second affect curve (`t_s,valence,arousal`, 1–9) beside it: the valence and arousal of
//! its characters weighted as they are heard, so a track that turns from calm to tense carries
//! a curve that turns with it.
//!
//! ```no_run
//! let rows = cuelab_stimuli::make(std::path::Path::new("stimuli"), &cuelab_stimuli::Config::full())?;
//! for row in &rows {
//!     println!("{} {:?}", row.id, row.loudness_lufs);
//! }
//! # Ok::<(), cuelab_stimuli::Error>(())
//! ```

mod audio;
mod music;
mod rng;
mod scene;
mod synth;
mod video;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

pub use audio::{TARGET_LUFS, integrated_lufs};
pub use music::{Character, Features, Part, TrackDesign, tracks};
pub use scene::{FPS, HEIGHT, SceneDesign, WIDTH, scenes};

/// The sample rate of every soundtrack, Hz.
pub const SAMPLE_RATE: u32 = 48_000;

/// Where the files go inside the output folder.
pub const MUSIC_DIR: &str = "music";
/// Where the clips go inside the output folder.
pub const CLIPS_DIR: &str = "clips";
/// The features table's file name.
pub const TABLE: &str = "stimuli.csv";

/// What to make.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    max_seconds: Option<f64>,
}

impl Config {
    /// Every stimulus at its designed length.
    pub fn full() -> Self {
        Self { max_seconds: None }
    }

    /// Every stimulus cut to at most `seconds` (for quick checks; the first `seconds` are the
    /// same samples and frames as in the full set, before loudness normalization). Whole
    /// seconds only: every track must fill whole FLAC frames.
    pub fn preview(seconds: u32) -> Result<Self, Error> {
        if seconds == 0 {
            return Err(Error::InvalidConfig(
                "a preview must be at least 1 s long".to_owned(),
            ));
        }
        Ok(Self {
            max_seconds: Some(f64::from(seconds)),
        })
    }

    fn length(&self, designed: f64) -> f64 {
        self.max_seconds.map_or(designed, |m| designed.min(m))
    }
}

/// Why making stimuli failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or folder could not be written.
    #[error("cannot write {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The `ffmpeg` program could not be started (it encodes the clips).
    #[error("cannot run ffmpeg (needed to encode the clips; install FFmpeg)")]
    FfmpegMissing(#[source] std::io::Error),
    /// FFmpeg failed while encoding a clip.
    #[error("ffmpeg failed to encode clip {id} ({status}): {stderr}")]
    Ffmpeg {
        id: String,
        status: String,
        stderr: String,
    },
    /// The loudness meter refused the samples.
    #[error("loudness measurement failed: {0}")]
    Loudness(String),
    /// Normalizing a track to the target loudness would clip it.
    #[error("soundtrack {id} would clip at {peak_dbfs:.1} dBFS after loudness normalization")]
    Clipping { id: String, peak_dbfs: f64 },
    /// The FLAC encoder failed.
    #[error("FLAC encoding failed: {0}")]
    Flac(String),
    /// A picture could not be drawn (a degenerate shape or size).
    #[error("cannot draw the {0}")]
    Draw(&'static str),
    /// The configuration is invalid (user input).
    #[error("{0}")]
    InvalidConfig(String),
}

/// What a stimulus is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Music (FLAC).
    Soundtrack,
    /// Digital silence (FLAC), for no-music conditions.
    Silence,
    /// An animation (H.264 MP4, no audio).
    Clip,
}

impl Kind {
    /// The name used in the features table.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Soundtrack => "soundtrack",
            Kind::Silence => "silence",
            Kind::Clip => "clip",
        }
    }
}

/// One row of the features table: a stimulus as designed and as measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Stimulus {
    pub id: String,
    pub kind: Kind,
    /// Relative to the output folder, with `/`.
    pub file: String,
    pub duration_s: f64,
    /// Beats per minute; parts joined by `>` (a part without metre is `none`); empty if none.
    pub tempo_bpm: String,
    pub mode: String,
    pub register: String,
    pub articulation: String,
    pub timbre: String,
    pub rhythm: String,
    /// Integrated loudness of the written samples (EBU R128), LUFS; `None` for silence and clips.
    pub loudness_lufs: Option<f64>,
    /// Designed valence, 1–9 (a track's mean over its curve).
    pub valence: f64,
    /// Designed arousal, 1–9 (a track's mean over its curve).
    pub arousal: f64,
    /// What the scene shows (clips).
    pub action: String,
    /// The affect curve beside a music track, relative to the output folder.
    pub curve: Option<String>,
    pub practice: bool,
    /// Size of the written file.
    pub bytes: u64,
}

/// Makes every stimulus in `dir` (created if needed): `music/*.flac` with `music/*.curve.csv`,
/// `clips/*.mp4`, and the features table `stimuli.csv`. Existing files of the same names are
/// replaced, each only once its new version is complete. Returns the table's rows.
pub fn make(dir: &Path, config: &Config) -> Result<Vec<Stimulus>, Error> {
    for sub in [MUSIC_DIR, CLIPS_DIR] {
        let path = dir.join(sub);
        std::fs::create_dir_all(&path).map_err(|source| Error::Io { path, source })?;
    }
    let mut rows = Vec::new();
    for track in tracks() {
        rows.push(make_track(dir, &track, config)?);
    }
    for scene in scenes() {
        rows.push(make_clip(dir, &scene, config)?);
    }
    write_file(&dir.join(TABLE), table_csv(&rows).as_bytes())?;
    Ok(rows)
}

fn make_track(dir: &Path, track: &TrackDesign, config: &Config) -> Result<Stimulus, Error> {
    let seconds = config.length(track.seconds);
    let samples = audio::normalize_to_i16(track.id, &track.render(seconds))?;
    let loudness = audio::integrated_lufs(&audio::to_f32(&samples))?;
    let file = format!("{MUSIC_DIR}/{}.flac", track.id);
    let bytes = audio::flac_bytes(&samples)?;
    write_file(&dir.join(&file), &bytes)?;
    let curve_points = track.curve(seconds);
    let curve = if curve_points.is_empty() {
        None
    } else {
        let name = format!("{MUSIC_DIR}/{}.curve.csv", track.id);
        let mut text = String::from("t_s,valence,arousal\n");
        for (t, v, a) in &curve_points {
            let _ = writeln!(text, "{t},{v:.2},{a:.2}");
        }
        write_file(&dir.join(&name), text.as_bytes())?;
        Some(name)
    };
    let n = curve_points.len().max(1) as f64;
    let mean = |f: fn(&(f64, f64, f64)) -> f64| curve_points.iter().map(f).sum::<f64>() / n;
    let (valence, arousal) = if track.parts.is_empty() {
        (5.0, 1.0)
    } else {
        (mean(|p| p.1), mean(|p| p.2))
    };
    let join = |f: fn(&Features) -> String| {
        track
            .parts
            .iter()
            .map(|p| f(&p.character.features()))
            .collect::<Vec<_>>()
            .join(">")
    };
    let tempo = if track.parts.len() == 1 {
        track.parts[0]
            .character
            .features()
            .tempo_bpm
            .map_or(String::new(), |t| t.to_string())
    } else {
        join(|f| f.tempo_bpm.map_or("none".to_owned(), |t| t.to_string()))
    };
    Ok(Stimulus {
        id: track.id.to_owned(),
        kind: if track.parts.is_empty() {
            Kind::Silence
        } else {
            Kind::Soundtrack
        },
        file,
        duration_s: samples.len() as f64 / f64::from(SAMPLE_RATE),
        tempo_bpm: tempo,
        mode: join(|f| f.mode.to_owned()),
        register: join(|f| f.register.to_owned()),
        articulation: join(|f| f.articulation.to_owned()),
        timbre: join(|f| f.timbre.to_owned()),
        rhythm: join(|f| f.rhythm.to_owned()),
        loudness_lufs: loudness,
        valence,
        arousal,
        action: String::new(),
        curve,
        practice: track.practice,
        bytes: bytes.len() as u64,
    })
}

fn make_clip(dir: &Path, scene: &SceneDesign, config: &Config) -> Result<Stimulus, Error> {
    let seconds = config.length(scene.seconds);
    let file = format!("{CLIPS_DIR}/{}.mp4", scene.id);
    let path = dir.join(&file);
    let tmp = dir.join(format!("{CLIPS_DIR}/.{}.mp4.tmp", scene.id));
    let encoded = video::encode(scene, seconds, &tmp);
    if let Err(e) = encoded {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, &path).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    let bytes = std::fs::metadata(&path)
        .map_err(|source| Error::Io { path, source })?
        .len();
    let frames = (seconds * f64::from(FPS)).round();
    Ok(Stimulus {
        id: scene.id.to_owned(),
        kind: Kind::Clip,
        file,
        duration_s: frames / f64::from(FPS),
        tempo_bpm: String::new(),
        mode: String::new(),
        register: String::new(),
        articulation: String::new(),
        timbre: String::new(),
        rhythm: String::new(),
        loudness_lufs: None,
        valence: scene.valence,
        arousal: scene.arousal,
        action: scene.action.to_owned(),
        curve: None,
        practice: scene.practice,
        bytes,
    })
}

/// The columns of the features table, in order.
pub const TABLE_COLUMNS: [&str; 16] = [
    "id",
    "kind",
    "file",
    "duration_s",
    "tempo_bpm",
    "mode",
    "register",
    "articulation",
    "timbre",
    "rhythm",
    "loudness_lufs",
    "valence",
    "arousal",
    "action",
    "curve",
    "practice",
];

/// The features table as CSV (no field holds a comma or quote).
pub fn table_csv(rows: &[Stimulus]) -> String {
    let mut out = TABLE_COLUMNS.join(",");
    out.push('\n');
    for r in rows {
        let lufs = r.loudness_lufs.map_or(String::new(), |l| format!("{l:.2}"));
        let fields = [
            r.id.clone(),
            r.kind.as_str().to_owned(),
            r.file.clone(),
            format!("{:.3}", r.duration_s),
            r.tempo_bpm.clone(),
            r.mode.clone(),
            r.register.clone(),
            r.articulation.clone(),
            r.timbre.clone(),
            r.rhythm.clone(),
            lufs,
            format!("{:.2}", r.valence),
            format!("{:.2}", r.arousal),
            r.action.clone(),
            r.curve.clone().unwrap_or_default(),
            r.practice.to_string(),
        ];
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over `path`.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    })
}
