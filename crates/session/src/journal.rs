//! The session journal: an append-only file of events, durable at every trial boundary.
//!
//! `journal.jsonl` holds one JSON object per line, each an [`Entry`] — the one serializable
//! counterpart of the session's records (the domain types in `cuelab_core` carry no `Serialize`).
//! The runner appends entries as they happen and calls [`Journal::commit`] at every *boundary*:
//! the end of a trial, the end of a `before`/`after` step, a break, the session's start and end.
//! [`FileJournal`] flushes and fsyncs the file (and its folder) there, so a killed session loses
//! at most the trial in progress.
//!
//! Reading ([`read`]) tolerates a torn last line (a kill in the middle of a write); [`replay`]
//! folds the entries into what a resumed session needs (which trials and steps are complete),
//! and [`FileJournal::reopen`] truncates the file after the last boundary, so the responses of a
//! trial that never ended are dropped and the trial runs again whole.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use cuelab_core::{ContinuousTrace, Response, SessionTime, TimingFlag, TrialTiming};
use serde::{Deserialize, Serialize};

use crate::durable::{IoError, sync_dir};

/// Which part of the session a once-only step belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Before,
    After,
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Entry {
    /// The session started (first line of a journal). Times of later entries are on the clock
    /// that starts here; `monotonic_ns` and `wall_unix_ns` map it to `CLOCK_MONOTONIC` and the
    /// wall clock for offline alignment.
    SessionStart {
        t_ns: i64,
        monotonic_ns: Option<u64>,
        wall_unix_ns: i64,
    },
    /// The session was resumed by a new process; its clock starts again at zero, mapped as
    /// above.
    Resume {
        t_ns: i64,
        monotonic_ns: Option<u64>,
        wall_unix_ns: i64,
        /// The first trial the resumed run will present.
        next_trial: Option<u32>,
    },
    /// A trial began (its first step). Carries what the plan says of the trial, so a journal
    /// is readable without its protocol.
    TrialStart {
        t_ns: i64,
        trial: u32,
        block: u32,
        practice: bool,
        clip: Option<String>,
        soundtrack: Option<String>,
        conditions: BTreeMap<String, String>,
        /// Drawn durations of the trial's timed steps, ms.
        durations_ms: BTreeMap<String, u32>,
        iti_ms: u32,
    },
    /// One answer.
    Response(ResponseEntry),
    /// A continuous rating recorded during a clip.
    Continuous {
        t_ns: i64,
        trial: u32,
        step: String,
        item: String,
        /// Samples per second actually recorded.
        hz: Option<f64>,
        /// `[t_ms from video onset, value]` pairs.
        samples: Vec<[f64; 2]>,
    },
    /// A questionnaire's scale score (sum with reverse items recoded).
    Score {
        t_ns: i64,
        trial: Option<u32>,
        step: String,
        scale: String,
        value: f64,
    },
    /// The clip of a trial was presented.
    Clip(ClipEntry),
    /// A trial ended: the durable boundary. A trial is complete iff this line exists.
    TrialEnd {
        t_ns: i64,
        trial: u32,
        /// The trial's drawn inter-trial interval follows.
        iti_ms: u32,
    },
    /// A once-only step (`before`/`after`) ended: a durable boundary.
    StepDone {
        t_ns: i64,
        phase: Phase,
        step: String,
    },
    /// A rest break before a trial.
    Break {
        t_ns: i64,
        before_trial: u32,
        duration_ms: f64,
    },
    /// The experimenter paused or resumed the session.
    Pause { t_ns: i64, paused: bool },
    /// The experimenter marked a completed trial bad.
    MarkBad { t_ns: i64, trial: u32, note: String },
    /// The participant's consent.
    Consent {
        t_ns: i64,
        step: String,
        accepted: bool,
    },
    /// The session ended.
    SessionEnd { t_ns: i64, status: Status },
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Running,
    Completed,
    Aborted,
    Declined,
}

impl Status {
    /// The status's name in session.json and the exported tables.
    pub fn name(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Completed => "completed",
            Status::Aborted => "aborted",
            Status::Declined => "declined",
        }
    }
}

/// One answer, as journaled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseEntry {
    pub t_ns: i64,
    /// The trial (`None` for `before`/`after` steps).
    pub trial: Option<u32>,
    pub step: String,
    pub kind: String,
    pub item: String,
    pub value: Option<f64>,
    pub text: Option<String>,
    pub rt_ms: Option<f64>,
    pub correct: Option<bool>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub attention_check: bool,
    /// When the asking screen became visible.
    pub onset_ns: i64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub timed_out: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl ResponseEntry {
    /// The journal form of a response.
    pub fn new(t: SessionTime, trial: Option<u32>, r: &Response) -> Self {
        Self {
            t_ns: t.as_nanos(),
            trial,
            step: r.step.clone(),
            kind: r.kind.clone(),
            item: r.item.clone(),
            value: r.value,
            text: r.text.clone(),
            rt_ms: r.rt_ms,
            correct: r.correct,
            attention_check: r.attention_check,
            onset_ns: r.onset.as_nanos(),
            timed_out: r.timed_out,
        }
    }

    /// Back to the domain type.
    pub fn to_response(&self) -> Response {
        Response {
            step: self.step.clone(),
            kind: self.kind.clone(),
            item: self.item.clone(),
            value: self.value,
            text: self.text.clone(),
            rt_ms: self.rt_ms,
            correct: self.correct,
            attention_check: self.attention_check,
            onset: SessionTime(self.onset_ns),
            timed_out: self.timed_out,
        }
    }
}

/// A clip's measured timing, as journaled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClipEntry {
    pub t_ns: i64,
    pub trial: u32,
    pub step: String,
    pub clip: Option<String>,
    pub soundtrack: Option<String>,
    pub scheduled_onset_ns: i64,
    pub scheduled_audio_onset_ns: Option<i64>,
    pub audio_onset_ns: Option<i64>,
    pub video_onset_ns: Option<i64>,
    pub video_offset_ns: Option<i64>,
    pub wanted_av_offset_ms: f64,
    pub av_offset_ms: Option<f64>,
    pub frames_shown: u64,
    pub frames_dropped: u64,
    pub frames_repeated: u64,
    pub late_flips: u64,
    pub xruns: u64,
    pub frame_interval_sd_ms: Option<f64>,
    pub frame_interval_max_ms: Option<f64>,
    pub flagged: bool,
    pub flags: Vec<String>,
}

impl ClipEntry {
    /// The journal form of a clip's timing.
    pub fn new(
        t: SessionTime,
        trial: u32,
        step: &str,
        clip: Option<&str>,
        soundtrack: Option<&str>,
        timing: &TrialTiming,
    ) -> Self {
        let ns = |t: Option<SessionTime>| t.map(SessionTime::as_nanos);
        Self {
            t_ns: t.as_nanos(),
            trial,
            step: step.to_string(),
            clip: clip.map(str::to_string),
            soundtrack: soundtrack.map(str::to_string),
            scheduled_onset_ns: timing.scheduled_onset.as_nanos(),
            scheduled_audio_onset_ns: ns(timing.scheduled_audio_onset),
            audio_onset_ns: ns(timing.audio_onset),
            video_onset_ns: ns(timing.video_onset),
            video_offset_ns: ns(timing.video_offset),
            wanted_av_offset_ms: timing.wanted_av_offset_ms,
            av_offset_ms: timing.av_offset_ms,
            frames_shown: timing.frames_shown,
            frames_dropped: timing.frames_dropped,
            frames_repeated: timing.frames_repeated,
            late_flips: timing.late_flips,
            xruns: timing.xruns,
            frame_interval_sd_ms: timing.frame_interval_sd_ms,
            frame_interval_max_ms: timing.frame_interval_max_ms,
            flagged: timing.flagged,
            flags: timing.flags.iter().map(TimingFlag::to_string).collect(),
        }
    }

    /// The measured presentation duration, ms (first onset to the end).
    pub fn measured_duration_ms(&self) -> Option<f64> {
        let start = self.video_onset_ns.or(self.audio_onset_ns)?;
        self.video_offset_ns.map(|end| (end - start) as f64 / 1e6)
    }
}

impl Entry {
    /// Is this entry a durable boundary (what a resumed session keeps)?
    pub fn is_boundary(&self) -> bool {
        matches!(
            self,
            Entry::SessionStart { .. }
                | Entry::Resume { .. }
                | Entry::TrialEnd { .. }
                | Entry::StepDone { .. }
                | Entry::Break { .. }
                | Entry::Pause { .. }
                | Entry::MarkBad { .. }
                | Entry::Consent { .. }
                | Entry::SessionEnd { .. }
        )
    }

    /// A continuous-rating entry from a trace.
    pub fn continuous(t: SessionTime, trial: u32, step: &str, trace: &ContinuousTrace) -> Self {
        Entry::Continuous {
            t_ns: t.as_nanos(),
            trial,
            step: step.to_string(),
            item: trace.item.clone(),
            hz: trace.achieved_hz(),
            samples: trace.samples.iter().map(|&(t, v)| [t, v]).collect(),
        }
    }
}

/// Why the journal could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// The file system refused.
    #[error(transparent)]
    Io(#[from] IoError),
    /// A line in the middle of the journal is not an entry (the file was edited or damaged).
    #[error("{}:{line}: not a journal entry: {message}", path.display())]
    Corrupt {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// Where the runner writes its entries.
pub trait Journal {
    /// Appends one entry (buffered; not yet durable).
    fn append(&mut self, entry: &Entry) -> Result<(), JournalError>;
    /// Makes everything appended so far durable. Called at every boundary.
    fn commit(&mut self) -> Result<(), JournalError>;
}

/// How hard [`FileJournal::commit`] pushes data to the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Flush and fsync the file and its folder at every boundary (lab sessions).
    #[default]
    Sync,
    /// Flush to the OS at every boundary, fsync only when the session ends (simulations, whose
    /// journals can be made again from their seed; survives a killed process, not a power cut).
    Flush,
}

/// A journal in a file, appended to and fsynced at every boundary.
#[derive(Debug)]
pub struct FileJournal {
    path: PathBuf,
    out: std::io::BufWriter<File>,
    durability: Durability,
    line: Vec<u8>,
}

impl FileJournal {
    /// Creates a new journal; fails if the file exists (a session is never overwritten).
    pub fn create(path: &Path, durability: Durability) -> Result<Self, JournalError> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(IoError::at(path))?;
        if durability == Durability::Sync
            && let Some(dir) = path.parent()
        {
            sync_dir(dir)?;
        }
        Ok(Self::with_file(path, file, durability))
    }

    /// Opens an existing journal for appending after truncating it just past its last
    /// boundary (dropping a trial in progress and any torn line). Returns the journal and the
    /// entries it keeps.
    pub fn reopen(path: &Path, durability: Durability) -> Result<(Self, Vec<Entry>), JournalError> {
        let read = read(path)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(IoError::at(path))?;
        file.set_len(read.boundary_len).map_err(IoError::at(path))?;
        file.sync_all().map_err(IoError::at(path))?;
        let mut file = file;
        std::io::Seek::seek(&mut file, std::io::SeekFrom::End(0)).map_err(IoError::at(path))?;
        let kept = read.entries[..read.boundary_entries].to_vec();
        Ok((Self::with_file(path, file, durability), kept))
    }

    fn with_file(path: &Path, file: File, durability: Durability) -> Self {
        Self {
            path: path.to_path_buf(),
            out: std::io::BufWriter::with_capacity(64 * 1024, file),
            durability,
            line: Vec::with_capacity(512),
        }
    }

    /// The journal's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open file (for the session lock).
    pub fn file(&self) -> &File {
        self.out.get_ref()
    }

    /// Flushes and fsyncs whatever the durability setting (the session's end).
    pub fn sync(&mut self) -> Result<(), JournalError> {
        self.out.flush().map_err(IoError::at(&self.path))?;
        self.out
            .get_ref()
            .sync_all()
            .map_err(IoError::at(&self.path))?;
        Ok(())
    }
}

impl Journal for FileJournal {
    fn append(&mut self, entry: &Entry) -> Result<(), JournalError> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, entry).map_err(|e| {
            IoError::at(&self.path)(std::io::Error::new(std::io::ErrorKind::InvalidData, e))
        })?;
        self.line.push(b'\n');
        self.out
            .write_all(&self.line)
            .map_err(IoError::at(&self.path))?;
        Ok(())
    }

    fn commit(&mut self) -> Result<(), JournalError> {
        self.out.flush().map_err(IoError::at(&self.path))?;
        if self.durability == Durability::Sync {
            self.out
                .get_ref()
                .sync_data()
                .map_err(IoError::at(&self.path))?;
            if let Some(dir) = self.path.parent() {
                sync_dir(dir)?;
            }
        }
        Ok(())
    }
}

/// A journal in memory, for tests.
#[derive(Debug, Default, Clone)]
pub struct MemJournal {
    /// Every entry appended.
    pub entries: Vec<Entry>,
    /// How many entries were committed.
    pub committed: usize,
    /// How many commits were made.
    pub commits: usize,
}

impl Journal for MemJournal {
    fn append(&mut self, entry: &Entry) -> Result<(), JournalError> {
        self.entries.push(entry.clone());
        Ok(())
    }
    fn commit(&mut self) -> Result<(), JournalError> {
        self.committed = self.entries.len();
        self.commits += 1;
        Ok(())
    }
}

impl<J: Journal + ?Sized> Journal for &mut J {
    fn append(&mut self, entry: &Entry) -> Result<(), JournalError> {
        (**self).append(entry)
    }
    fn commit(&mut self) -> Result<(), JournalError> {
        (**self).commit()
    }
}

/// A journal as read from disk.
#[derive(Debug, Clone)]
pub struct ReadJournal {
    /// Every whole entry, in order.
    pub entries: Vec<Entry>,
    /// How many of `entries` end at or before the last boundary.
    pub boundary_entries: usize,
    /// The byte length of the file up to and including the last boundary line.
    pub boundary_len: u64,
    /// The last line was torn (no newline, or not a whole entry) and was ignored.
    pub torn_tail: bool,
}

/// Reads a journal. A torn last line is ignored; any other unreadable line is an error.
pub fn read(path: &Path) -> Result<ReadJournal, JournalError> {
    let file = File::open(path).map_err(IoError::at(path))?;
    let mut reader = BufReader::new(file);
    let mut entries = Vec::new();
    let mut boundary_entries = 0;
    let mut boundary_len = 0u64;
    let mut offset = 0u64;
    let mut torn_tail = false;
    let mut buf = Vec::new();
    let mut line_no = 0;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(IoError::at(path))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        offset += n as u64;
        let whole = buf.last() == Some(&b'\n');
        match serde_json::from_slice::<Entry>(&buf) {
            Ok(entry) if whole => {
                if entry.is_boundary() {
                    boundary_entries = entries.len() + 1;
                    boundary_len = offset;
                }
                entries.push(entry);
            }
            result => {
                // Only the last line may be torn.
                let mut rest = Vec::new();
                std::io::Read::read_to_end(&mut reader, &mut rest).map_err(IoError::at(path))?;
                if rest.is_empty() {
                    torn_tail = true;
                    break;
                }
                let message = match result {
                    Err(e) => e.to_string(),
                    Ok(_) => "line is not terminated".into(),
                };
                return Err(JournalError::Corrupt {
                    path: path.to_path_buf(),
                    line: line_no,
                    message,
                });
            }
        }
    }
    Ok(ReadJournal {
        entries,
        boundary_entries,
        boundary_len,
        torn_tail,
    })
}

/// What a journal says has been done: what a resumed session skips.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    /// Trials with a `trial_end`.
    pub trials_done: BTreeSet<u32>,
    /// `before`/`after` steps with a `step_done`.
    pub steps_done: BTreeSet<(Phase, String)>,
    /// Breaks already taken (the trial each came before).
    pub breaks_done: BTreeSet<u32>,
    /// How the session ended, if it did.
    pub ended: Option<Status>,
    /// Consent given or refused, by step.
    pub consent: BTreeMap<String, bool>,
    /// The latest session-clock time in the journal.
    pub last_t: SessionTime,
}

/// Folds committed entries into the session's progress.
pub fn replay(entries: &[Entry]) -> Progress {
    let mut p = Progress::default();
    for e in entries {
        match e {
            Entry::TrialEnd { trial, t_ns, .. } => {
                p.trials_done.insert(*trial);
                p.last_t = SessionTime(*t_ns);
            }
            Entry::StepDone { phase, step, t_ns } => {
                p.steps_done.insert((*phase, step.clone()));
                p.last_t = SessionTime(*t_ns);
            }
            Entry::Break { before_trial, .. } => {
                p.breaks_done.insert(*before_trial);
            }
            Entry::Consent { step, accepted, .. } => {
                p.consent.insert(step.clone(), *accepted);
            }
            Entry::SessionEnd { status, .. } => p.ended = Some(*status),
            Entry::Resume { .. } => p.ended = None,
            _ => {}
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial_end(trial: u32) -> Entry {
        Entry::TrialEnd {
            t_ns: trial as i64 * 1000,
            trial,
            iti_ms: 0,
        }
    }

    fn response(trial: u32) -> Entry {
        Entry::Response(ResponseEntry::new(
            SessionTime(5),
            Some(trial),
            &Response {
                step: "fit".into(),
                kind: "rating".into(),
                item: "fit".into(),
                value: Some(3.0),
                ..Response::default()
            },
        ))
    }

    #[test]
    fn a_torn_last_line_is_ignored_and_truncated_on_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut j = FileJournal::create(&path, Durability::Sync).unwrap();
        for e in [response(1), trial_end(1), response(2)] {
            j.append(&e).unwrap();
        }
        j.commit().unwrap();
        drop(j);
        // A kill in the middle of a line.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"event":"trial_end","t_ns":3"#).unwrap();
        drop(f);

        let r = read(&path).unwrap();
        assert!(r.torn_tail);
        assert_eq!(r.entries.len(), 3);
        assert_eq!(r.boundary_entries, 2);

        let (mut j, kept) = FileJournal::reopen(&path, Durability::Sync).unwrap();
        assert_eq!(kept, vec![response(1), trial_end(1)]);
        j.append(&trial_end(2)).unwrap();
        j.commit().unwrap();
        let r = read(&path).unwrap();
        assert!(!r.torn_tail);
        assert_eq!(r.entries, vec![response(1), trial_end(1), trial_end(2)]);
        assert_eq!(replay(&r.entries).trials_done, BTreeSet::from([1u32, 2]));
    }

    #[test]
    fn a_damaged_line_in_the_middle_is_an_error_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        std::fs::write(&path, "{\"event\":\"trial_end\",\"t_ns\":1,\"trial\":1,\"iti_ms\":0}\nnot json\n{\"event\":\"trial_end\",\"t_ns\":1,\"trial\":2,\"iti_ms\":0}\n").unwrap();
        match read(&path) {
            Err(JournalError::Corrupt { line, .. }) => assert_eq!(line, 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn create_refuses_an_existing_journal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        std::fs::write(&path, "x").unwrap();
        assert!(FileJournal::create(&path, Durability::Sync).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"x");
    }

    #[test]
    fn entries_round_trip_through_json() {
        let e = Entry::Continuous {
            t_ns: 9,
            trial: 3,
            step: "clip1".into(),
            item: "valence".into(),
            hz: Some(20.0),
            samples: vec![[0.0, 5.0], [50.0, 5.5]],
        };
        let s = serde_json::to_string(&e).unwrap();
        assert!(s.starts_with(r#"{"event":"continuous""#), "{s}");
        assert_eq!(serde_json::from_str::<Entry>(&s).unwrap(), e);
    }
}
