//! cuelab protocol files: the TOML schema, parsing with spans, validation, and the design engine
//! that turns a protocol into a participant's trial plan.
//!
//! Key design decision: this crate reads no files. [`load`] takes the protocol's text and a
//! [`Files`] implementation through which it asks for the few files the protocol names
//! (conditions CSVs, Markdown pages, stimulus sizes), always by a path already confined to the
//! protocol's folder. So the whole crate is tested on in-memory files, and every problem comes
//! back as a [`Diagnostic`] pointing at `file:line:col`.
//!
//! ```
//! use std::path::Path;
//! use cuelab_protocol::{load, plan, MemFiles};
//! use cuelab_core::ParticipantId;
//!
//! let text = r#"
//! [experiment]
//! id = "demo"
//! title = "Demo"
//! version = "1"
//!
//! [factors]
//! music = { levels = ["fast", "slow"] }
//!
//! [[procedure]]
//! fixation = { ms = 500 }
//! "#;
//! let protocol = load("demo.toml", text.as_bytes(), &MemFiles::default()).unwrap();
//! let p1 = plan(&protocol, &ParticipantId::parse("1").unwrap(), 1).unwrap();
//! assert_eq!(p1.trials.len(), 2);
//! ```

mod cond;
mod design;
mod diag;
pub mod instruments;
pub mod model;
pub mod order;
mod raw;
pub mod rng;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use design::{
    Assignment, Carryover, Cell, Counterbalance, MAX_CHECKED_TRIALS, PlanError, PlannedTrial,
    TrialPlan, check_orderable, counterbalance, cycle_length, n_groups, n_rotations,
    n_williams_rows, plan, protocol_seed, williams,
};
pub use diag::{Diagnostic, Diagnostics};
pub use model::Protocol;

/// The most participants in one counterbalancing cycle (every assignment is planned once at
/// validation).
pub const MAX_CYCLE: u64 = 10_000;

/// Where the protocol's auxiliary files come from. Paths are relative to the protocol's folder
/// and already confined to it (no `..` escapes, not absolute).
pub trait Files {
    /// The whole content of a file.
    fn read(&self, rel: &Path) -> std::io::Result<Vec<u8>>;
    /// The size of a file in bytes (used for stimuli, which are not read here).
    fn size(&self, rel: &Path) -> std::io::Result<u64>;
}

/// Files held in memory, for tests and examples.
#[derive(Debug, Default, Clone)]
pub struct MemFiles(pub BTreeMap<PathBuf, Vec<u8>>);

impl MemFiles {
    pub fn with(mut self, path: &str, content: impl Into<Vec<u8>>) -> Self {
        self.0.insert(PathBuf::from(path), content.into());
        self
    }
}

impl Files for MemFiles {
    fn read(&self, rel: &Path) -> std::io::Result<Vec<u8>> {
        self.0
            .get(rel)
            .cloned()
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
    }
    fn size(&self, rel: &Path) -> std::io::Result<u64> {
        self.read(rel).map(|b| b.len() as u64)
    }
}

/// Parses and validates a protocol. `name` is how diagnostics name the file (e.g. the path the
/// user gave). On success the protocol is complete and every plan of it can be ordered.
pub fn load(name: &str, bytes: &[u8], files: &dyn Files) -> Result<Protocol, Diagnostics> {
    let one = |line: usize, col: usize, message: String, help: &str| {
        Diagnostics(vec![Diagnostic {
            file: name.to_string(),
            line,
            col,
            message,
            help: Some(help.to_string()),
            source_line: None,
        }])
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(one(
            1,
            1,
            "protocol file is empty".into(),
            "a protocol needs at least [experiment] (id, title, version) and one [[procedure]] step",
        ));
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) if !t.contains('\0') => t,
        other => {
            let bad = match other {
                Ok(t) => t.find('\0').expect("contains NUL"),
                Err(e) => e.valid_up_to(),
            };
            let valid = std::str::from_utf8(&bytes[..bad]).expect("valid prefix");
            let (line, col) = diag::SourceMap::new(name, valid).line_col(bad);
            return Err(one(
                line,
                col,
                format!(
                    "not a text file: byte 0x{:02x} is not UTF-8 text",
                    bytes[bad]
                ),
                "a protocol is a UTF-8 TOML text file",
            ));
        }
    };
    let map = diag::SourceMap::new(name, text);
    let raw: raw::RawProtocol = match toml::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let mut d = map.diag(span, toml_message(e.message()));
            d.help = toml_help(e.message());
            return Err(Diagnostics(vec![d]));
        }
    };
    let mut hasher = Sha256::new();
    hasher.update(text.as_bytes());
    let mut cx = validate::Ctx {
        map,
        diags: Vec::new(),
        files,
        hasher,
    };
    let built = validate::build(raw, &mut cx);
    let mut protocol = match built {
        Some(p) if cx.diags.is_empty() => p,
        _ => {
            let mut diags = cx.diags;
            if diags.is_empty() {
                diags.push(cx.map.diag(0..0, "invalid protocol"));
            }
            return Err(Diagnostics(diags));
        }
    };
    protocol.sha256 = hex(&cx.hasher.finalize());
    let cycle = cycle_length(&protocol);
    if cycle > MAX_CYCLE {
        let mut d = cx.map.diag(
            design_span(text),
            format!("one counterbalancing cycle takes {cycle} participants (rotations × Williams rows × groups); the limit is {MAX_CYCLE}"),
        );
        d.help = Some("use fewer within conditions, levels or between-subject groups".into());
        return Err(Diagnostics(vec![d]));
    }
    if let Err(e) = check_orderable(&protocol) {
        let span = protocol
            .design()
            .order_span
            .clone()
            .unwrap_or_else(|| design_span(text));
        let mut d = cx.map.diag(span, e.to_string());
        d.help = Some(match e {
            PlanError::TooLarge { .. } => {
                "use fewer trials, or fewer rotations or Williams rows per cycle".into()
            }
            _ => "relax `max_run`/`min_distance`, add trials or repetitions, or change the blocks"
                .into(),
        });
        return Err(Diagnostics(vec![d]));
    }
    Ok(protocol)
}

/// Where `[design]` starts (for design-level errors found after validation).
fn design_span(text: &str) -> std::ops::Range<usize> {
    text.find("[design]").map_or(0..0, |i| i..i + 8)
}

fn toml_message(m: &str) -> String {
    m.trim().trim_end_matches('.').to_string()
}

fn toml_help(m: &str) -> Option<String> {
    if m.contains("unknown field") {
        Some("remove or correct the key; the expected keys are listed above".into())
    } else if m.contains("missing field") {
        Some("add the key".into())
    } else if m.contains("invalid type") {
        Some("check the value's type (text in quotes, numbers without)".into())
    } else {
        None
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
