//! Where sessions live on disk: `DATA_DIR/<experiment>/sub-<label>/ses-<n>/` with
//! `session.json` (what the session is: participant, protocol and stimulus hashes, seed,
//! devices, wall-clock times, status) and `journal.jsonl` (what happened).
//!
//! The rules this module enforces:
//! - an existing session is never overwritten: opening one without `resume` is an error naming
//!   the folder, and nothing is written;
//! - one process per session: the journal file carries an advisory lock (`flock`) for as long
//!   as the session runs; the kernel releases it when the process dies, so a killed session
//!   can be resumed at once and a second process is refused while the first runs;
//! - a resumed session must be the same study: the protocol's and every stimulus's SHA-256 in
//!   `session.json` must match;
//! - the data folder is checked before anything is shown: its parent exists, it can be made,
//!   written and synced, and it has room for the session (a probe file of the session's
//!   expected size is written and removed).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::durable::{IoError, sync_dir, write_durably};
use crate::journal::{
    self, Durability, Entry, FileJournal, JournalError, Progress, Status, replay,
};

/// The journal's file name in a session folder.
pub const JOURNAL: &str = "journal.jsonl";
/// The metadata's file name in a session folder.
pub const SESSION_JSON: &str = "session.json";
/// The withdrawal log's file name in a data folder.
pub const WITHDRAWALS: &str = "withdrawals.jsonl";

/// Why a session could not be opened, written or found.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The session exists and resuming was not asked for.
    #[error(
        "a session already exists in {}; nothing was changed (use --resume to continue it, or another --participant/--session)",
        dir.display()
    )]
    Exists { dir: PathBuf },
    /// Another process has the session open.
    #[error("the session in {} is open in another cuelab process (its journal is locked)", dir.display())]
    Locked { dir: PathBuf },
    /// The protocol or a stimulus changed since the session started.
    #[error("cannot resume the session in {}: {what} changed since it started (recorded {recorded}, now {now})", dir.display())]
    Changed {
        dir: PathBuf,
        what: String,
        recorded: String,
        now: String,
    },
    /// The data folder is unusable.
    #[error("data folder {}: {why}", dir.display())]
    DataDir { dir: PathBuf, why: String },
    /// `session.json` is not what cuelab writes.
    #[error("{}: not a cuelab session file: {message}", path.display())]
    BadMeta { path: PathBuf, message: String },
    #[error(transparent)]
    Io(#[from] IoError),
    #[error(transparent)]
    Journal(#[from] JournalError),
}

impl StoreError {
    /// Is this the user's doing (an invalid request) rather than the machine's?
    pub fn is_invalid_input(&self) -> bool {
        matches!(self, StoreError::Exists { .. } | StoreError::Changed { .. })
    }
}

/// The audio device a session used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct AudioInfo {
    pub device: String,
    pub sample_rate: u32,
    pub buffer_frames: Option<u32>,
    /// Output latency the device reports, ms.
    pub reported_latency_ms: Option<f64>,
    /// The calibration profile and its bias, when one applied.
    pub calibration_profile: Option<String>,
    pub calibration_bias_ms: Option<f64>,
}

/// The display a session used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct DisplayInfo {
    /// `fullscreen`, `window` or `headless`.
    pub kind: String,
    pub refresh_hz: f64,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

/// `session.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionMeta {
    pub experiment: String,
    pub participant: String,
    pub session: u32,
    pub protocol_file: String,
    pub protocol_sha256: String,
    /// Stimulus id → SHA-256 of its file.
    pub stimuli_sha256: BTreeMap<String, String>,
    /// The plan's seed.
    pub seed: u64,
    /// The simulated participants' seed, when simulated.
    pub simulation_seed: Option<u64>,
    pub simulated: bool,
    pub software: String,
    pub host: String,
    /// `monotonic` or `virtual`.
    pub clock: String,
    pub audio: Option<AudioInfo>,
    pub display: Option<DisplayInfo>,
    /// Soundtrack id → gain applied by loudness normalization, dB.
    pub loudness_gain_db: BTreeMap<String, f64>,
    pub language: String,
    /// Wall-clock start with UTC offset (RFC 3339).
    pub started: String,
    /// Wall-clock end with UTC offset, once ended.
    pub ended: Option<String>,
    /// Wall-clock times the session was resumed.
    pub resumed: Vec<String>,
    pub status: Status,
}

/// The folder of one session.
pub fn session_dir(data_dir: &Path, experiment: &str, participant: &str, session: u32) -> PathBuf {
    data_dir
        .join(experiment)
        .join(format!("sub-{participant}"))
        .join(format!("ses-{session}"))
}

/// The wall clock now, RFC 3339 with the local UTC offset.
pub fn wall_clock_now() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
}

/// Wall-clock nanoseconds since the Unix epoch.
pub fn wall_unix_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
}

/// Checks that `data_dir` can hold a session of about `bytes` before anything is shown: the
/// folder's parent exists, the folder can be made and written, and `bytes` fit.
pub fn preflight(data_dir: &Path, bytes: u64) -> Result<(), StoreError> {
    let fail = |why: String| StoreError::DataDir {
        dir: data_dir.to_path_buf(),
        why,
    };
    if !data_dir.is_dir() {
        let parent = data_dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !parent.is_dir() {
            return Err(fail(format!(
                "its parent folder {} does not exist",
                parent.display()
            )));
        }
        std::fs::create_dir(data_dir).map_err(|e| fail(format!("cannot be created: {e}")))?;
    }
    let probe = data_dir.join(format!(".cuelab-space-check-{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = File::create(&probe)?;
        let chunk = vec![0u8; 64 * 1024];
        let mut left = bytes;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            f.write_all(&chunk[..n])?;
            left -= n as u64;
        }
        f.sync_all()
    })();
    let _ = std::fs::remove_file(&probe);
    result.map_err(|e| match e.raw_os_error() {
        Some(28) => fail(format!(
            "not enough free space (needs about {} KiB)",
            bytes.div_ceil(1024)
        )),
        Some(30) => fail("is on a read-only file system".into()),
        _ => fail(format!("cannot be written: {e}")),
    })
}

/// An open session: its folder, its locked journal, its metadata and what is done.
#[derive(Debug)]
pub struct OpenSession {
    dir: PathBuf,
    pub journal: FileJournal,
    pub meta: SessionMeta,
    /// What the journal says is done (empty for a new session).
    pub progress: Progress,
    /// The session was resumed (it existed).
    pub resumed: bool,
    durability: Durability,
}

/// What opening a session found.
#[derive(Debug)]
pub enum Opened {
    /// A session ready to run (new, or resumed).
    Ready(Box<OpenSession>),
    /// The session had already ended (completed or declined); nothing was changed.
    AlreadyEnded { dir: PathBuf, status: Status },
}

/// Opens the session described by `meta` in `data_dir`: creates it, or with `resume` continues
/// the one there (a missing session is created). The journal is locked until the returned
/// session is dropped. The first entry written is `session_start` or `resume` (committed).
pub fn open(
    data_dir: &Path,
    meta: SessionMeta,
    resume: bool,
    durability: Durability,
    monotonic_ns: Option<u64>,
) -> Result<Opened, StoreError> {
    let dir = session_dir(data_dir, &meta.experiment, &meta.participant, meta.session);
    let journal_path = dir.join(JOURNAL);
    let meta_path = dir.join(SESSION_JSON);
    if dir.exists() {
        if !resume {
            return Err(StoreError::Exists { dir });
        }
        if !journal_path.exists() {
            // Made but never started: nothing to resume, nothing to lose.
            return create(&dir, meta, durability, monotonic_ns);
        }
        let probe = File::options()
            .read(true)
            .write(true)
            .open(&journal_path)
            .map_err(IoError::at(&journal_path))?;
        lock(&probe, &dir)?;
        let old = match read_meta(&meta_path) {
            Ok(m) => Some(m),
            Err(StoreError::Io(e)) if e.source.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        if let Some(old) = &old {
            check_same(&dir, old, &meta)?;
            if matches!(old.status, Status::Completed | Status::Declined) {
                return Ok(Opened::AlreadyEnded {
                    dir,
                    status: old.status,
                });
            }
        }
        let (mut journal, kept) = FileJournal::reopen(&journal_path, durability)?;
        drop(probe);
        lock(journal.file(), &dir)?;
        let progress = replay(&kept);
        let mut meta = old.unwrap_or(meta);
        meta.status = Status::Running;
        meta.ended = None;
        meta.resumed.push(wall_clock_now());
        write_meta(&meta_path, &meta, durability)?;
        use crate::journal::Journal as _;
        journal.append(&Entry::Resume {
            t_ns: 0,
            monotonic_ns,
            wall_unix_ns: wall_unix_ns(),
            next_trial: None,
        })?;
        journal.commit()?;
        return Ok(Opened::Ready(Box::new(OpenSession {
            dir,
            journal,
            meta,
            progress,
            resumed: true,
            durability,
        })));
    }
    create(&dir, meta, durability, monotonic_ns)
}

fn create(
    dir: &Path,
    mut meta: SessionMeta,
    durability: Durability,
    monotonic_ns: Option<u64>,
) -> Result<Opened, StoreError> {
    std::fs::create_dir_all(dir).map_err(IoError::at(dir))?;
    if durability == Durability::Sync
        && let Some(parent) = dir.parent()
    {
        sync_dir(parent)?;
    }
    let mut journal = FileJournal::create(&dir.join(JOURNAL), durability)?;
    lock(journal.file(), dir)?;
    meta.status = Status::Running;
    meta.started = wall_clock_now();
    write_meta(&dir.join(SESSION_JSON), &meta, durability)?;
    use crate::journal::Journal as _;
    journal.append(&Entry::SessionStart {
        t_ns: 0,
        monotonic_ns,
        wall_unix_ns: wall_unix_ns(),
    })?;
    journal.commit()?;
    Ok(Opened::Ready(Box::new(OpenSession {
        dir: dir.to_path_buf(),
        journal,
        meta,
        progress: Progress::default(),
        resumed: false,
        durability,
    })))
}

fn lock(file: &File, dir: &Path) -> Result<(), StoreError> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Locked {
            dir: dir.to_path_buf(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(IoError::at(dir)(e).into()),
    }
}

fn check_same(dir: &Path, old: &SessionMeta, now: &SessionMeta) -> Result<(), StoreError> {
    let changed = |what: String, recorded: &str, now: &str| StoreError::Changed {
        dir: dir.to_path_buf(),
        what,
        recorded: short(recorded),
        now: short(now),
    };
    if old.protocol_sha256 != now.protocol_sha256 {
        return Err(changed(
            "the protocol".into(),
            &old.protocol_sha256,
            &now.protocol_sha256,
        ));
    }
    for (id, sha) in &now.stimuli_sha256 {
        let before = old
            .stimuli_sha256
            .get(id)
            .map_or("(absent)", String::as_str);
        if before != sha {
            return Err(changed(format!("stimulus `{id}`"), before, sha));
        }
    }
    if old.seed != now.seed {
        return Err(changed(
            "the seed".into(),
            &old.seed.to_string(),
            &now.seed.to_string(),
        ));
    }
    Ok(())
}

fn short(sha: &str) -> String {
    sha.chars().take(12).collect()
}

impl OpenSession {
    /// The session's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Records how the session ended in `session.json` and syncs the journal.
    pub fn finish(&mut self, status: Status) -> Result<(), StoreError> {
        if self.durability == Durability::Sync {
            self.journal.sync()?;
        } else {
            use crate::journal::Journal as _;
            self.journal.commit()?;
        }
        self.meta.status = status;
        self.meta.ended = Some(wall_clock_now());
        write_meta(&self.dir.join(SESSION_JSON), &self.meta, self.durability)
    }
}

/// Reads a `session.json`.
pub fn read_meta(path: &Path) -> Result<SessionMeta, StoreError> {
    let bytes = std::fs::read(path).map_err(IoError::at(path))?;
    serde_json::from_slice(&bytes).map_err(|e| StoreError::BadMeta {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

fn write_meta(path: &Path, meta: &SessionMeta, durability: Durability) -> Result<(), StoreError> {
    let mut text = serde_json::to_string_pretty(meta).map_err(|e| StoreError::BadMeta {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    text.push('\n');
    match durability {
        Durability::Sync => write_durably(path, text.as_bytes())?,
        Durability::Flush => write_replacing(path, text.as_bytes())?,
    }
    Ok(())
}

/// Writes through a temporary file and a rename (whole or old file, never torn), without
/// fsync: for simulations, whose files can be made again from their seed.
fn write_replacing(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, bytes).map_err(IoError::at(&tmp))?;
    std::fs::rename(&tmp, path).map_err(IoError::at(path))
}

/// Is a session's journal locked by a running process?
pub fn is_running(dir: &Path) -> bool {
    let Ok(f) = File::options()
        .read(true)
        .write(true)
        .open(dir.join(JOURNAL))
    else {
        return false;
    };
    matches!(f.try_lock(), Err(std::fs::TryLockError::WouldBlock))
}

/// One session found in a data folder.
#[derive(Debug, Clone)]
pub struct FoundSession {
    pub dir: PathBuf,
    pub meta: SessionMeta,
    /// The status to report: `running` sessions whose lock is free are `incomplete`.
    pub status: String,
    pub entries: Vec<Entry>,
}

/// Every session under a data folder (`<experiment>/sub-*/ses-*`), sorted by folder.
pub fn find_sessions(data_dir: &Path) -> Result<Vec<FoundSession>, StoreError> {
    let mut out = Vec::new();
    if !data_dir.is_dir() {
        return Err(StoreError::DataDir {
            dir: data_dir.to_path_buf(),
            why: "is not a folder".into(),
        });
    }
    let mut dirs = Vec::new();
    for exp in sorted_dirs(data_dir)? {
        for sub in sorted_dirs(&exp)? {
            if !sub
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("sub-"))
            {
                continue;
            }
            for ses in sorted_dirs(&sub)? {
                if ses.join(SESSION_JSON).is_file() && ses.join(JOURNAL).is_file() {
                    dirs.push(ses);
                }
            }
        }
    }
    for dir in dirs {
        let meta = read_meta(&dir.join(SESSION_JSON))?;
        let read = journal::read(&dir.join(JOURNAL))?;
        let status = match meta.status {
            Status::Running if is_running(&dir) => "running".to_string(),
            Status::Running => "incomplete".to_string(),
            s => s.name().to_string(),
        };
        out.push(FoundSession {
            dir,
            meta,
            status,
            entries: read.entries,
        });
    }
    Ok(out)
}

fn sorted_dirs(dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(IoError::at(dir))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    Ok(v)
}

/// Removes every session of `participant` under `data_dir` and records only that a withdrawal
/// happened, when, and how many sessions, in `withdrawals.jsonl`. Returns the number of
/// sessions removed.
pub fn withdraw(data_dir: &Path, participant: &str) -> Result<usize, StoreError> {
    if !data_dir.is_dir() {
        return Err(StoreError::DataDir {
            dir: data_dir.to_path_buf(),
            why: "is not a folder".into(),
        });
    }
    let name = format!("sub-{participant}");
    let mut removed = 0;
    for exp in sorted_dirs(data_dir)? {
        let sub = exp.join(&name);
        if sub.is_dir() {
            for ses in sorted_dirs(&sub)? {
                if is_running(&ses) {
                    return Err(StoreError::Locked { dir: ses });
                }
                removed += 1;
            }
            std::fs::remove_dir_all(&sub).map_err(IoError::at(&sub))?;
            sync_dir(&exp)?;
        }
    }
    let log = data_dir.join(WITHDRAWALS);
    let line = serde_json::json!({ "withdrawn": wall_clock_now(), "sessions": removed });
    let mut f = File::options()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(IoError::at(&log))?;
    writeln!(f, "{line}").map_err(IoError::at(&log))?;
    f.sync_all().map_err(IoError::at(&log))?;
    sync_dir(data_dir)?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn meta() -> SessionMeta {
        SessionMeta {
            experiment: "exp".into(),
            participant: "P01".into(),
            session: 1,
            protocol_file: "p.toml".into(),
            protocol_sha256: "aa".repeat(32),
            stimuli_sha256: BTreeMap::from([("lake".into(), "bb".repeat(32))]),
            seed: 7,
            simulation_seed: None,
            simulated: false,
            software: "cuelab test".into(),
            host: "test".into(),
            clock: "virtual".into(),
            audio: None,
            display: None,
            loudness_gain_db: BTreeMap::new(),
            language: "en".into(),
            started: String::new(),
            ended: None,
            resumed: Vec::new(),
            status: Status::Running,
        }
    }

    fn ready(o: Opened) -> OpenSession {
        match o {
            Opened::Ready(s) => *s,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_existing_session_is_refused_and_left_alone() {
        let data = tempfile::tempdir().unwrap();
        let s = ready(open(data.path(), meta(), false, Durability::Sync, None).unwrap());
        let dir = s.dir().to_path_buf();
        drop(s);
        let before = std::fs::read(dir.join(JOURNAL)).unwrap();
        let err = open(data.path(), meta(), false, Durability::Sync, None).unwrap_err();
        assert!(matches!(err, StoreError::Exists { .. }), "{err}");
        assert!(err.is_invalid_input());
        assert_eq!(std::fs::read(dir.join(JOURNAL)).unwrap(), before);
    }

    #[test]
    fn a_second_open_is_refused_while_the_first_holds_the_lock() {
        let data = tempfile::tempdir().unwrap();
        let s = ready(open(data.path(), meta(), false, Durability::Sync, None).unwrap());
        assert!(is_running(s.dir()));
        let err = open(data.path(), meta(), true, Durability::Sync, None).unwrap_err();
        assert!(matches!(err, StoreError::Locked { .. }), "{err}");
        drop(s);
        let s = ready(open(data.path(), meta(), true, Durability::Sync, None).unwrap());
        assert!(s.resumed);
    }

    #[test]
    fn a_resume_after_the_protocol_changed_is_refused() {
        let data = tempfile::tempdir().unwrap();
        drop(open(data.path(), meta(), false, Durability::Sync, None).unwrap());
        let mut changed = meta();
        changed.protocol_sha256 = "cc".repeat(32);
        let err = open(data.path(), changed, true, Durability::Sync, None).unwrap_err();
        assert!(matches!(err, StoreError::Changed { .. }), "{err}");
        let mut stim = meta();
        stim.stimuli_sha256.insert("lake".into(), "dd".repeat(32));
        let err = open(data.path(), stim, true, Durability::Sync, None).unwrap_err();
        assert!(err.to_string().contains("stimulus `lake`"), "{err}");
    }

    #[test]
    fn a_completed_session_resumes_to_nothing() {
        let data = tempfile::tempdir().unwrap();
        let mut s = ready(open(data.path(), meta(), false, Durability::Sync, None).unwrap());
        s.finish(Status::Completed).unwrap();
        drop(s);
        match open(data.path(), meta(), true, Durability::Sync, None).unwrap() {
            Opened::AlreadyEnded { status, .. } => assert_eq!(status, Status::Completed),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn preflight_refuses_a_missing_parent() {
        let data = tempfile::tempdir().unwrap();
        let err = preflight(&data.path().join("no/such"), 1024).unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
        preflight(&data.path().join("fresh"), 1024).unwrap();
        assert!(data.path().join("fresh").is_dir());
    }

    #[test]
    fn withdraw_removes_every_session_and_keeps_only_a_count() {
        let data = tempfile::tempdir().unwrap();
        drop(open(data.path(), meta(), false, Durability::Sync, None).unwrap());
        let mut two = meta();
        two.session = 2;
        drop(open(data.path(), two, false, Durability::Sync, None).unwrap());
        assert_eq!(withdraw(data.path(), "P01").unwrap(), 2);
        assert!(!data.path().join("exp/sub-P01").exists());
        let log = std::fs::read_to_string(data.path().join(WITHDRAWALS)).unwrap();
        assert!(
            log.contains("\"sessions\":2") && !log.contains("P01"),
            "{log}"
        );
    }
}
