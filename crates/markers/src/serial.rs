//! Hardware triggers for EEG rigs without LSL: one byte per event written to a serial port.
//!
//! The port is a character device (`/dev/ttyUSB0`, a USB trigger box, or one end of a `socat`
//! pseudo-terminal pair in tests) set to raw mode at the requested speed through `rustix`'s
//! termios calls (safe wrappers of `tcgetattr`/`tcsetattr`/`tcdrain`, no serial crate needed).
//! Each write is drained (`tcdrain`: returns when the byte has left the port) and its time is
//! recorded on the session clock next to the event's measured time, in the session's
//! `triggers.jsonl`, so the lag from event to trigger can be corrected offline.
//!
//! Codes come from a [`TriggerMap`], which sees the whole marker (event, clip, soundtrack, the
//! trial's conditions): the protocol's `[triggers]` table (mapped by the caller, so this crate
//! does not depend on the protocol language), or [`TriggerCodes`] — by default 1–8 in the order
//! of `MarkerEvent::ALL` (`session_start` = 1 … `abort` = 8), or a codes file of `event = code`
//! lines.

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use cuelab_core::marker::{Marker, MarkerError, MarkerEvent, MarkerSink};
use rustix::termios::{OptionalActions, tcdrain, tcgetattr, tcsetattr};

use crate::align::monotonic_now_ns;

/// The default speed when `serial:PORT` gives none.
pub const DEFAULT_BAUD: u32 = 115_200;

/// Why a trigger port or codes file cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TriggerError {
    /// `--trigger` is not `serial:PORT[:BAUD]`.
    #[error("--trigger must be serial:PORT[:BAUD] (e.g. serial:/dev/ttyUSB0:115200), not `{0}`")]
    Spec(String),
    /// A line of the codes file is wrong (`file:line:col: message`).
    #[error("{file}:{line}:{col}: {message}")]
    Codes {
        file: String,
        line: usize,
        col: usize,
        message: String,
    },
    /// The port cannot be opened or configured.
    #[error("serial port {port}: {why}")]
    Port { port: PathBuf, why: String },
    /// The trigger log cannot be written.
    #[error("trigger log {path}: {why}")]
    Log { path: PathBuf, why: String },
}

impl TriggerError {
    /// Whether the user's input is at fault (exit 2) rather than the machine (exit 1).
    pub fn is_invalid_input(&self) -> bool {
        matches!(self, TriggerError::Spec(_) | TriggerError::Codes { .. })
    }
}

/// `serial:PORT[:BAUD]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerPort {
    pub port: PathBuf,
    pub baud: u32,
}

impl TriggerPort {
    /// Parses `serial:PORT[:BAUD]`.
    pub fn parse(spec: &str) -> Result<TriggerPort, TriggerError> {
        let bad = || TriggerError::Spec(spec.to_string());
        let rest = spec.strip_prefix("serial:").ok_or_else(bad)?;
        let (port, baud) = match rest.rsplit_once(':') {
            Some((port, baud)) if !baud.is_empty() && baud.bytes().all(|b| b.is_ascii_digit()) => {
                (port, baud.parse::<u32>().map_err(|_| bad())?)
            }
            _ => (rest, DEFAULT_BAUD),
        };
        if port.is_empty() || baud == 0 {
            return Err(bad());
        }
        Ok(TriggerPort {
            port: PathBuf::from(port),
            baud,
        })
    }
}

/// The byte sent for each event (`None`: no trigger for it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerCodes {
    codes: [Option<u8>; MarkerEvent::ALL.len()],
}

impl Default for TriggerCodes {
    /// 1 to 8 in the order of `MarkerEvent::ALL`.
    fn default() -> Self {
        let mut codes = [None; MarkerEvent::ALL.len()];
        for (i, c) in codes.iter_mut().enumerate() {
            *c = u8::try_from(i + 1).ok();
        }
        TriggerCodes { codes }
    }
}

impl TriggerCodes {
    /// Parses a codes file: `event = code` lines (code 1–255, or `none`), `#` comments; events
    /// not named keep no trigger.
    pub fn parse(file: &str, text: &str) -> Result<TriggerCodes, TriggerError> {
        let mut codes = [None; MarkerEvent::ALL.len()];
        for (n, raw) in text.lines().enumerate() {
            let err = |col: usize, message: String| TriggerError::Codes {
                file: file.to_string(),
                line: n + 1,
                col: col + 1,
                message,
            };
            let line = raw.split('#').next().unwrap_or("");
            if line.trim().is_empty() {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                let col = line.len() - line.trim_start().len();
                return Err(err(col, "expected `event = code`".into()));
            };
            let name = key.trim();
            let key_col = key.len() - key.trim_start().len();
            let Some(i) = MarkerEvent::ALL.iter().position(|e| e.name() == name) else {
                let names: Vec<&str> = MarkerEvent::ALL.iter().map(|e| e.name()).collect();
                return Err(err(
                    key_col,
                    format!("unknown event `{name}` (events: {})", names.join(", ")),
                ));
            };
            let v = value.trim();
            let v_col = key.len() + 1 + (value.len() - value.trim_start().len());
            codes[i] = match v {
                "none" => None,
                _ => match v.parse::<u8>() {
                    Ok(c) if c > 0 => Some(c),
                    _ => {
                        return Err(err(
                            v_col,
                            format!("a code is 1 to 255 or `none`, not `{v}`"),
                        ));
                    }
                },
            };
        }
        Ok(TriggerCodes { codes })
    }

    /// The code for `event`.
    pub fn code(&self, event: MarkerEvent) -> Option<u8> {
        let i = MarkerEvent::ALL.iter().position(|e| *e == event)?;
        self.codes[i]
    }
}

/// Which byte a marker sends (`None`: no trigger for it).
pub trait TriggerMap: std::fmt::Debug + Send {
    /// The code for this marker.
    fn code(&self, marker: &Marker<'_>) -> Option<u8>;
}

impl TriggerMap for TriggerCodes {
    fn code(&self, marker: &Marker<'_>) -> Option<u8> {
        TriggerCodes::code(self, marker.event)
    }
}

/// A variable of a trial as a protocol's `when` names it: a factor (its level), `clip`, or
/// `soundtrack` (`"silence"` on a trial without music); `None` outside trials or when unknown.
pub fn trial_variable(marker: &Marker<'_>, var: &str) -> Option<String> {
    marker.trial?;
    match var {
        "clip" => marker.clip.map(str::to_string),
        "soundtrack" => Some(marker.soundtrack.unwrap_or("silence").to_string()),
        factor => marker
            .conditions
            .iter()
            .find(|(k, _)| *k == factor)
            .map(|(_, v)| v.to_string()),
    }
}

/// A serial port that writes one byte per event and logs each write.
#[derive(Debug)]
pub struct SerialTrigger {
    port: File,
    path: PathBuf,
    codes: Box<dyn TriggerMap>,
    /// `CLOCK_MONOTONIC` ns of session time zero: write times are put on the session clock.
    origin_ns: u64,
    log: Option<(PathBuf, File)>,
    /// Per write: write time − event time, seconds.
    lags: Vec<f64>,
}

impl SerialTrigger {
    /// Opens and configures the port (raw, `baud`). `origin_ns` is the session clock's
    /// `CLOCK_MONOTONIC` origin ([`crate::monotonic_origin_ns`]).
    pub fn open(
        port: &TriggerPort,
        codes: Box<dyn TriggerMap>,
        origin_ns: u64,
    ) -> Result<SerialTrigger, TriggerError> {
        let fail = |why: String| TriggerError::Port {
            port: port.port.clone(),
            why,
        };
        let file = File::options()
            .write(true)
            .open(&port.port)
            .map_err(|e| fail(e.to_string()))?;
        let mut tio = tcgetattr(&file).map_err(|e| fail(format!("not a serial port ({e})")))?;
        tio.make_raw();
        tio.set_speed(port.baud)
            .map_err(|e| fail(format!("{} baud: {e}", port.baud)))?;
        tcsetattr(&file, OptionalActions::Now, &tio).map_err(|e| fail(e.to_string()))?;
        Ok(SerialTrigger {
            port: file,
            path: port.port.clone(),
            codes,
            origin_ns,
            log: None,
            lags: Vec::new(),
        })
    }

    /// Appends every write to `path` (JSON lines) from now on.
    pub fn log_to(&mut self, path: &Path) -> Result<(), TriggerError> {
        let file = File::options()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| TriggerError::Log {
                path: path.to_path_buf(),
                why: e.to_string(),
            })?;
        self.log = Some((path.to_path_buf(), file));
        Ok(())
    }

    /// Write time − event time of every trigger so far, seconds.
    pub fn lags(&self) -> &[f64] {
        &self.lags
    }
}

impl MarkerSink for SerialTrigger {
    fn mark(&mut self, m: &Marker<'_>) -> Result<(), MarkerError> {
        let Some(code) = self.codes.code(m) else {
            return Ok(());
        };
        let port = self.path.display();
        self.port
            .write_all(&[code])
            .map_err(|e| MarkerError(format!("trigger on {port}: {e}")))?;
        tcdrain(&self.port).map_err(|e| MarkerError(format!("trigger on {port}: {e}")))?;
        let written_ns = monotonic_now_ns() as i64 - self.origin_ns as i64;
        self.lags.push((written_ns - m.at.as_nanos()) as f64 / 1e9);
        if let Some((path, log)) = &mut self.log {
            let trial = m.trial.map_or("null".to_string(), |t| t.to_string());
            let line = format!(
                "{{\"event\":\"{}\",\"trial\":{trial},\"code\":{code},\"at_ns\":{},\"written_ns\":{written_ns}}}\n",
                m.event.name(),
                m.at.as_nanos()
            );
            log.write_all(line.as_bytes())
                .map_err(|e| MarkerError(format!("trigger log {}: {e}", path.display())))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_parse_with_and_without_a_speed() {
        let p = |s: &str| TriggerPort::parse(s);
        assert_eq!(
            p("serial:/dev/ttyUSB0:9600").unwrap(),
            TriggerPort {
                port: "/dev/ttyUSB0".into(),
                baud: 9600
            }
        );
        assert_eq!(p("serial:/dev/pts/3").unwrap().baud, DEFAULT_BAUD);
        for bad in [
            "/dev/ttyUSB0",
            "serial:",
            "serial:/dev/x:0",
            "parallel:/dev/lp0",
        ] {
            assert!(p(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn codes_default_to_one_to_eight_and_a_file_overrides_them() {
        let d = TriggerCodes::default();
        assert_eq!(d.code(MarkerEvent::SessionStart), Some(1));
        assert_eq!(d.code(MarkerEvent::Abort), Some(8));
        let c = TriggerCodes::parse(
            "codes.txt",
            "# EEG codes\naudio_onset = 10\nvideo_onset=11  # the picture\ntrial_start = none\n",
        )
        .unwrap();
        assert_eq!(c.code(MarkerEvent::AudioOnset), Some(10));
        assert_eq!(c.code(MarkerEvent::VideoOnset), Some(11));
        assert_eq!(c.code(MarkerEvent::TrialStart), None);
        assert_eq!(c.code(MarkerEvent::Response), None);
    }

    #[test]
    fn trial_variables_are_factors_clip_and_soundtrack_with_silence() {
        use cuelab_core::SessionTime;
        let at = SessionTime::from_millis(5);
        let conditions = [("music", "arousing"), ("focus", "music")];
        let m = Marker {
            trial: Some(3),
            clip: Some("street"),
            conditions: &conditions,
            ..Marker::new(MarkerEvent::AudioOnset, at)
        };
        assert_eq!(trial_variable(&m, "music").as_deref(), Some("arousing"));
        assert_eq!(trial_variable(&m, "focus").as_deref(), Some("music"));
        assert_eq!(trial_variable(&m, "clip").as_deref(), Some("street"));
        assert_eq!(trial_variable(&m, "soundtrack").as_deref(), Some("silence"));
        assert_eq!(trial_variable(&m, "nothing"), None);
        // Outside a trial there is nothing to name.
        let s = Marker::new(MarkerEvent::SessionStart, at);
        assert_eq!(trial_variable(&s, "soundtrack"), None);
        // The default codes ignore everything but the event.
        let d: &dyn TriggerMap = &TriggerCodes::default();
        assert_eq!(d.code(&m), Some(3));
    }

    #[test]
    fn codes_file_errors_point_at_the_line_and_column() {
        let check = |text: &str, want: &str| {
            let e = TriggerCodes::parse("codes.txt", text).unwrap_err();
            assert_eq!(e.to_string(), want);
            assert!(e.is_invalid_input());
        };
        check(
            "audio_onset = 10\n  onset = 3\n",
            "codes.txt:2:3: unknown event `onset` (events: session_start, trial_start, audio_onset, video_onset, response, trial_end, session_end, abort)",
        );
        check(
            "audio_onset = 300\n",
            "codes.txt:1:15: a code is 1 to 255 or `none`, not `300`",
        );
        check("audio_onset 3\n", "codes.txt:1:1: expected `event = code`");
    }
}
