//! From the raw TOML structs to a validated [`Protocol`], collecting every problem found with
//! its location and a fix where we know one.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};
use toml::Spanned;

use crate::Files;
use crate::diag::{Diagnostic, SourceMap, did_you_mean};
use crate::model::*;
use crate::raw::*;

mod meta;
mod steps;
use steps::{Seen, StepEnv, StepPlace, WhenVars};

const CLIP_EXTENSIONS: &[&str] = &["mp4", "m4v", "mov", "mkv", "webm", "avi"];
/// The most practice trials drawn by count.
pub(crate) const MAX_PRACTICE: u32 = 100;
/// The most repetitions of the design.
pub(crate) const MAX_REPETITIONS: u32 = 1000;
/// The most test trials in one session (conditions × clips × repetitions).
pub(crate) const MAX_TRIALS: u64 = 10_000;
/// The most levels of one factor, and the most within-subject conditions (their crossing).
pub(crate) const MAX_LEVELS: usize = 100;
pub(crate) const MAX_CONDITIONS: u64 = 1000;
/// The most blocks by count, and the longest interval between breaks.
pub(crate) const MAX_BLOCKS: u32 = 1000;
/// The longest id (experiment, stimulus, factor, level): ids name folders and columns.
pub(crate) const MAX_NAME_LEN: usize = 64;
/// The longest fade, ms.
pub(crate) const MAX_FADE_MS: u32 = 60_000;
const AUDIO_EXTENSIONS: &[&str] = &["wav", "flac", "mp3", "ogg", "oga", "m4a", "aac"];
/// Columns of `cuelab plan`'s CSV and table output that are not exported columns.
const PLAN_COLUMNS: &[&str] = &["index", "break_before"];

/// Is `name` a column of any exported table (from `cuelab_core::schema`, never a copy) or of the
/// plan's output?
fn is_reserved(name: &str) -> bool {
    cuelab_core::schema::reserved_names().contains(&name) || PLAN_COLUMNS.contains(&name)
}
pub(crate) struct Ctx<'a> {
    pub map: SourceMap<'a>,
    pub diags: Vec<Diagnostic>,
    pub files: &'a dyn Files,
    pub hasher: Sha256,
}

impl<'a> Ctx<'a> {
    fn err(&mut self, span: Range<usize>, msg: impl Into<String>) {
        let d = self.map.diag(span, msg);
        self.diags.push(d);
    }

    fn err_help(&mut self, span: Range<usize>, msg: impl Into<String>, help: Option<String>) {
        let mut d = self.map.diag(span, msg);
        d.help = help;
        self.diags.push(d);
    }

    /// A diagnostic at a location recorded earlier (e.g. a stimulus declaration).
    fn diag_at(&self, at: &Location) -> Diagnostic {
        Diagnostic {
            file: at.file.clone(),
            line: at.line,
            col: at.col,
            message: String::new(),
            help: None,
            source_line: self
                .map
                .text
                .lines()
                .nth(at.line.saturating_sub(1))
                .map(str::to_string),
        }
    }

    fn location(&self, span: &Range<usize>) -> Location {
        let (line, col) = self.map.line_col(span.start);
        Location {
            file: self.map.name.to_string(),
            line,
            col,
        }
    }

    /// Reads an auxiliary file named in the protocol; reports a diagnostic at `span` on failure.
    /// How diagnostics name an auxiliary file: its path beside the protocol's.
    fn aux_name(&self, path: &Path) -> String {
        Path::new(self.map.name)
            .parent()
            .unwrap_or(Path::new(""))
            .join(path)
            .display()
            .to_string()
    }

    fn read_aux(&mut self, raw: &Spanned<String>, what: &str) -> Option<(PathBuf, String)> {
        let path = self.confined(raw)?;
        match self.files.read(&path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => {
                    self.hasher.update(path.to_string_lossy().as_bytes());
                    self.hasher.update([0]);
                    self.hasher.update(text.as_bytes());
                    Some((path, text))
                }
                Err(_) => {
                    self.err(
                        raw.span(),
                        format!("{what} `{}` is not UTF-8 text", raw.get_ref()),
                    );
                    None
                }
            },
            Err(e) => {
                self.err_help(
                    raw.span(),
                    format!("cannot read {what} `{}`: {}", raw.get_ref(), io_reason(&e)),
                    Some("paths are relative to the protocol's folder".into()),
                );
                None
            }
        }
    }

    /// A path relative to the protocol's folder, normalised; an error if it escapes the folder.
    fn confined(&mut self, raw: &Spanned<String>) -> Option<PathBuf> {
        match confine(raw.get_ref()) {
            Ok(p) => Some(p),
            Err(why) => {
                self.err_help(
                    raw.span(),
                    format!("path `{}` {why}", raw.get_ref()),
                    Some("put the file inside the protocol's folder and name it relative to that folder".into()),
                );
                None
            }
        }
    }
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Normalises a relative path lexically; refuses absolute paths and `..` that leave the folder.
pub(crate) fn confine(raw: &str) -> Result<PathBuf, &'static str> {
    if raw.trim().is_empty() {
        return Err("is empty");
    }
    if raw.contains('\\') {
        return Err("uses `\\`; write paths with `/`");
    }
    let p = Path::new(raw);
    let mut out = PathBuf::new();
    for comp in p.components() {
        match comp {
            Component::Normal(c) => out.push(c),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return Err("escapes the protocol's folder");
                }
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err("is absolute; stimuli must be inside the protocol's folder");
            }
        }
    }
    if out.as_os_str().is_empty() {
        return Err("names the protocol's folder, not a file");
    }
    Ok(out)
}

/// An error when a name is longer than [`MAX_NAME_LEN`] (names become folders and columns).
fn too_long(cx: &mut Ctx<'_>, name: &Spanned<String>, what: &str) -> bool {
    let n = name.get_ref().chars().count();
    if n > MAX_NAME_LEN {
        cx.err(
            name.span(),
            format!("{what} is {n} characters long; the limit is {MAX_NAME_LEN}"),
        );
        return true;
    }
    false
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

pub(crate) fn build(raw: RawProtocol, cx: &mut Ctx<'_>) -> Option<Protocol> {
    let experiment = experiment(&raw.experiment, cx);
    let (clips, soundtracks) = stimuli(raw.stimuli.as_ref(), cx);
    let mut factors = factors(raw.factors.as_ref(), &soundtracks, cx);
    let conditions = raw
        .conditions
        .as_ref()
        .and_then(|c| conditions_file(c, &clips, &soundtracks, &mut factors, cx));
    let design = design(
        raw.design.as_ref(),
        conditions,
        &clips,
        &soundtracks,
        &factors,
        cx,
    );
    let has_clip_step_needed = !clips.is_empty() || !soundtracks.is_empty();
    let mut seen = Seen::default();
    for f in &factors {
        seen.taken
            .insert(f.name.clone(), format!("factor `{}` has this name", f.name));
    }
    for name in cuelab_core::schema::reserved_names()
        .into_iter()
        .chain(PLAN_COLUMNS.iter().copied())
    {
        seen.taken.insert(
            name.to_string(),
            "it is a column of the exported data".to_string(),
        );
    }
    let session_vars = WhenVars::session(&factors);
    let trial_vars = WhenVars::trial(&factors, &clips, &soundtracks);
    let session_env = StepEnv {
        place: StepPlace::Session,
        clips: &clips,
        vars: &session_vars,
    };
    let trial_env = StepEnv {
        place: StepPlace::Trial,
        clips: &clips,
        vars: &trial_vars,
    };
    let before = steps::steps_list(&raw.before, &session_env, &mut seen, cx);
    let procedure = steps::steps_list(raw.procedure.get_ref(), &trial_env, &mut seen, cx);
    let after = steps::steps_list(&raw.after, &session_env, &mut seen, cx);
    let clip_steps: Vec<_> = raw
        .procedure
        .get_ref()
        .iter()
        .filter(|s| s.get_ref().clip.is_some())
        .collect();
    if clip_steps.len() > 1 {
        cx.err(
            clip_steps[1].span(),
            "a trial has one `clip` step; this is the second",
        );
    }
    if raw.procedure.get_ref().is_empty() {
        cx.err(raw.procedure.span(), "the procedure has no steps");
    }
    let n_clip_steps = procedure
        .iter()
        .filter(|s| matches!(s.kind, StepKind::Clip { .. }))
        .count();
    if has_clip_step_needed && n_clip_steps == 0 {
        cx.err_help(
            raw.procedure.span(),
            "the protocol has stimuli but its procedure has no `clip` step, so they would never play",
            Some("add `[[procedure]]` with `clip = {}`".into()),
        );
    }
    let texts = texts(raw.text.as_ref(), cx);
    let triggers = triggers(raw.triggers.as_ref(), &trial_vars, cx);
    let normalize_lufs = raw
        .stimuli
        .as_ref()
        .and_then(|s| s.normalize_lufs.as_ref())
        .and_then(|l| {
            let v = *l.get_ref();
            if v.is_finite() && (-70.0..=0.0).contains(&v) {
                Some(v)
            } else {
                cx.err(
                    l.span(),
                    format!("normalize_lufs = {v}: use a loudness in -70..=0 LUFS (EBU R128 broadcast is -23)"),
                );
                None
            }
        });
    let (experiment, design) = (experiment?, design?);
    if !cx.diags.is_empty() {
        return None;
    }
    Some(Protocol {
        experiment,
        clips,
        soundtracks,
        factors,
        design,
        before,
        procedure,
        after,
        texts,
        normalize_lufs,
        triggers,
        sha256: String::new(),
    })
}

fn experiment(raw: &Spanned<RawExperiment>, cx: &mut Ctx<'_>) -> Option<Experiment> {
    let e = raw.get_ref();
    let id = e.id.get_ref();
    if !is_identifier(id) {
        cx.err_help(
            e.id.span(),
            format!("experiment id `{id}` is not a valid id"),
            Some("use lowercase letters, digits, `-` and `_`, starting with a letter (it names the data folder)".into()),
        );
        return None;
    }
    too_long(cx, &e.id, "experiment id");
    for (field, v) in [("title", &e.title), ("version", &e.version)] {
        if v.get_ref().trim().is_empty() {
            cx.err(v.span(), format!("experiment {field} is empty"));
        }
    }
    let language = match &e.language {
        None => "en".to_string(),
        Some(l) => {
            let ok = !l.get_ref().is_empty()
                && l.get_ref().len() <= 35
                && l.get_ref().split('-').all(|p| {
                    !p.is_empty() && p.len() <= 8 && p.chars().all(|c| c.is_ascii_alphanumeric())
                });
            if !ok {
                cx.err_help(
                    l.span(),
                    format!("language `{}` is not a language tag", l.get_ref()),
                    Some("use a BCP 47 tag such as \"en\", \"de\" or \"pt-BR\"".into()),
                );
            }
            l.get_ref().clone()
        }
    };
    Some(Experiment {
        id: id.clone(),
        title: e.title.get_ref().clone(),
        version: e.version.get_ref().clone(),
        description: e.description.clone(),
        authors: e.authors.clone(),
        language,
    })
}

fn stimuli(raw: Option<&RawStimuli>, cx: &mut Ctx<'_>) -> (Vec<Stimulus>, Vec<Stimulus>) {
    let Some(raw) = raw else {
        return (Vec::new(), Vec::new());
    };
    let clips = stimulus_table(&raw.clips, StimulusKind::Clip, cx);
    let soundtracks = stimulus_table(&raw.soundtracks, StimulusKind::Soundtrack, cx);
    for s in &soundtracks {
        if clips.iter().any(|c| c.id == s.id) {
            let key = raw
                .soundtracks
                .keys()
                .find(|k| *k.get_ref() == s.id)
                .expect("declared");
            cx.err_help(
                key.span(),
                format!("duplicate id `{}`: a clip already has this id", s.id),
                Some("give every clip and soundtrack its own id".into()),
            );
        }
    }
    if soundtracks.iter().any(|s| s.id == SILENCE) {
        let key = raw
            .soundtracks
            .keys()
            .find(|k| k.get_ref() == SILENCE)
            .expect("declared");
        cx.err(
            key.span(),
            "`silence` is reserved for trials without music; rename this soundtrack",
        );
    }
    (clips, soundtracks)
}

fn stimulus_table(
    table: &BTreeMap<Spanned<String>, Spanned<RawStimulus>>,
    kind: StimulusKind,
    cx: &mut Ctx<'_>,
) -> Vec<Stimulus> {
    let mut out = Vec::new();
    let mut seen_paths: BTreeMap<PathBuf, String> = BTreeMap::new();
    for (id, value) in table {
        if too_long(cx, id, "stimulus id") {
            continue;
        }
        if !is_identifier(id.get_ref()) {
            cx.err_help(
                id.span(),
                format!("stimulus id `{}` is not a valid id", id.get_ref()),
                Some("use lowercase letters, digits, `-` and `_`, starting with a letter".into()),
            );
            continue;
        }
        let bare;
        let mut info = meta::Meta::default();
        let (file, gain_db, fade_in, fade_out) = match value.get_ref() {
            RawStimulus::Path(p) => {
                bare = Spanned::new(value.span(), p.clone());
                (&bare, 0.0, 0, 0)
            }
            RawStimulus::Table(t) => {
                if kind == StimulusKind::Clip
                    && (t.gain_db.is_some() || t.fade_in_ms.is_some() || t.fade_out_ms.is_some())
                {
                    cx.err(value.span(), "clips play no sound of their own: `gain_db` and fades belong to soundtracks");
                }
                info = meta::meta(t, kind, cx);
                for f in [&t.fade_in_ms, &t.fade_out_ms].into_iter().flatten() {
                    if *f.get_ref() > MAX_FADE_MS {
                        cx.err(
                            f.span(),
                            format!(
                                "a fade of {} ms is above the limit of {MAX_FADE_MS} ms",
                                f.get_ref()
                            ),
                        );
                    }
                }
                let gain = t.gain_db.as_ref().map_or(0.0, |g| *g.get_ref());
                if let Some(g) = &t.gain_db
                    && !(-60.0..=12.0).contains(g.get_ref())
                {
                    cx.err(
                        g.span(),
                        format!("gain_db {} is outside -60..=12 dB", g.get_ref()),
                    );
                }
                (
                    &t.file,
                    gain,
                    t.fade_in_ms.as_ref().map_or(0, |f| *f.get_ref()),
                    t.fade_out_ms.as_ref().map_or(0, |f| *f.get_ref()),
                )
            }
        };
        let Some(path) = cx.confined(file) else {
            continue;
        };
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        let allowed = match kind {
            StimulusKind::Clip => CLIP_EXTENSIONS,
            StimulusKind::Soundtrack => AUDIO_EXTENSIONS,
        };
        if !allowed.contains(&ext.as_str()) {
            cx.err_help(
                file.span(),
                format!(
                    "`{}` does not look like a {} file",
                    file.get_ref(),
                    kind_name(kind)
                ),
                Some(format!("use one of: {}", allowed.join(", "))),
            );
            continue;
        }
        match cx.files.size(&path) {
            Ok(0) => cx.err(
                file.span(),
                format!("stimulus file `{}` is empty", file.get_ref()),
            ),
            Ok(_) => {}
            Err(e) => cx.err_help(
                file.span(),
                format!(
                    "cannot read stimulus `{}`: {}",
                    file.get_ref(),
                    io_reason(&e)
                ),
                Some("paths are relative to the protocol's folder".into()),
            ),
        }
        if let Some(other) = seen_paths.insert(path.clone(), id.get_ref().clone()) {
            cx.err(
                file.span(),
                format!("`{}` is also used by `{other}`", file.get_ref()),
            );
        }
        out.push(Stimulus {
            id: id.get_ref().clone(),
            kind,
            path,
            gain_db,
            fade_in_ms: fade_in,
            fade_out_ms: fade_out,
            practice: info.practice,
            valence: info.valence,
            arousal: info.arousal,
            scene: info.scene,
            curve: info.curve,
            declared_at: cx.location(&id.span()),
        });
    }
    out
}

fn kind_name(kind: StimulusKind) -> &'static str {
    match kind {
        StimulusKind::Clip => "video",
        StimulusKind::Soundtrack => "audio",
    }
}

fn factors(
    raw: Option<&BTreeMap<Spanned<String>, Spanned<RawFactor>>>,
    soundtracks: &[Stimulus],
    cx: &mut Ctx<'_>,
) -> Vec<Factor> {
    let Some(raw) = raw else { return Vec::new() };
    // Declaration order matters for conditions; TOML tables keep it only through spans.
    let mut entries: Vec<_> = raw.iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    let mut out = Vec::new();
    for (name, f) in entries {
        let name_s = name.get_ref();
        if too_long(cx, name, "factor name") {
            continue;
        }
        if !is_identifier(name_s) {
            cx.err(
                name.span(),
                format!("factor name `{name_s}` is not a valid id"),
            );
            continue;
        }
        if is_reserved(name_s) {
            cx.err_help(
                name.span(),
                format!("`{name_s}` is reserved (it is a column of the exported data)"),
                Some("rename the factor, e.g. `music` or `condition`".into()),
            );
            continue;
        }
        let f_ref = f.get_ref();
        let levels = f_ref.levels.get_ref();
        if levels.is_empty() {
            cx.err(
                f_ref.levels.span(),
                format!("factor `{name_s}` has no levels"),
            );
            continue;
        }
        if levels.len() > MAX_LEVELS {
            cx.err(
                f_ref.levels.span(),
                format!(
                    "factor `{name_s}` has {} levels; the limit is {MAX_LEVELS}",
                    levels.len()
                ),
            );
            continue;
        }
        let mut seen = BTreeSet::new();
        for l in levels {
            if too_long(cx, l, "level name") {
                continue;
            }
            if l.get_ref().trim().is_empty() {
                cx.err(l.span(), "empty level name");
            } else if !seen.insert(l.get_ref().as_str()) {
                cx.err(
                    l.span(),
                    format!("duplicate level `{}` in factor `{name_s}`", l.get_ref()),
                );
            }
        }
        let matching = levels
            .iter()
            .filter(|l| l.get_ref() == SILENCE || soundtracks.iter().any(|s| s.id == *l.get_ref()))
            .count();
        let is_soundtrack = match &f_ref.soundtrack {
            Some(flag) => *flag.get_ref(),
            None => !soundtracks.is_empty() && matching * 2 >= levels.len() && matching > 0,
        };
        if is_soundtrack {
            for l in levels {
                let l_s = l.get_ref();
                if soundtracks.iter().any(|s| s.id == *l_s && s.practice) {
                    cx.err_help(
                        l.span(),
                        format!("soundtrack `{l_s}` is practice-only (`practice = true`); it cannot be a level of `{name_s}`"),
                        Some("remove `practice = true` from the soundtrack, or the level from the factor".into()),
                    );
                }
                if l_s != SILENCE && !soundtracks.iter().any(|s| s.id == *l_s) {
                    cx.err_help(
                        l.span(),
                        format!(
                            "unknown level `{l_s}` in factor `{name_s}`: no soundtrack has this id"
                        ),
                        did_you_mean(
                            l_s,
                            soundtracks.iter().map(|s| s.id.as_str()).chain([SILENCE]),
                        )
                        .or_else(|| {
                            Some("declare it under [stimuli.soundtracks], or use `silence`".into())
                        }),
                    );
                }
            }
        }
        out.push(Factor {
            name: name_s.clone(),
            levels: levels.iter().map(|l| l.get_ref().clone()).collect(),
            within: f_ref.within,
            soundtrack: is_soundtrack,
        });
    }
    for within in [true, false] {
        let n = out
            .iter()
            .filter(|f| f.within == within)
            .fold(1u64, |n, f| n.saturating_mul(f.levels.len() as u64));
        if n > MAX_CONDITIONS {
            let last = out
                .iter()
                .rfind(|f| f.within == within)
                .expect("some factor");
            let key = raw
                .keys()
                .find(|k| *k.get_ref() == last.name)
                .expect("declared");
            cx.err_help(
                key.span(),
                format!(
                    "the {} factors cross into {n} {}; the limit is {MAX_CONDITIONS}",
                    if within {
                        "within-subject"
                    } else {
                        "between-subject"
                    },
                    if within { "conditions" } else { "groups" }
                ),
                Some("use fewer factors or levels, or a conditions file listing the trials".into()),
            );
        }
    }
    let soundtrack_factors: Vec<_> = out
        .iter()
        .filter(|f| f.soundtrack)
        .map(|f| f.name.clone())
        .collect();
    if soundtrack_factors.len() > 1 {
        let second = raw
            .keys()
            .find(|k| *k.get_ref() == soundtrack_factors[1])
            .expect("declared");
        cx.err_help(
            second.span(),
            format!(
                "factors `{}` and `{}` both choose the soundtrack",
                soundtrack_factors[0], soundtrack_factors[1]
            ),
            Some("set `soundtrack = false` on one of them".into()),
        );
    }
    out
}

fn conditions_file(
    raw: &Spanned<RawConditions>,
    clips: &[Stimulus],
    soundtracks: &[Stimulus],
    factors: &mut Vec<Factor>,
    cx: &mut Ctx<'_>,
) -> Option<Vec<ConditionRow>> {
    let file = &raw.get_ref().file;
    let (path, text) = cx.read_aux(file, "conditions file")?;
    let name = cx.aux_name(&path);
    let csv_map = SourceMap::new(&name, &text);
    if let Some(at) = unterminated_quote(&text) {
        cx.diags.push(csv_map.diag(
            at..at,
            "conditions file: this quote is never closed (a field that starts with `\"` ends with `\"`)",
        ));
        return None;
    }
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = match rdr.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            cx.diags
                .push(csv_map.diag(0..0, format!("conditions file is not valid CSV: {e}")));
            return None;
        }
    };
    if headers.is_empty() || headers.iter().all(str::is_empty) {
        cx.diags
            .push(csv_map.diag(0..0, "conditions file has no header row"));
        return None;
    }
    let mut header_seen = BTreeSet::new();
    for (i, h) in headers.iter().enumerate() {
        if !header_seen.insert(h) {
            let offset = header_offset(&text, i);
            cx.diags.push(csv_map.diag(
                offset..offset,
                format!("duplicate column `{h}` in the conditions file"),
            ));
            return None;
        }
    }
    let has = |c: &str| headers.iter().any(|h| h == c);
    if clips.iter().any(|c| !c.practice) && !has("clip") {
        cx.diags.push(csv_map.diag(
            0..0,
            "the protocol declares clips, but the conditions file has no `clip` column, so no trial would show one",
        ));
    }
    let chooses_soundtrack = has("soundtrack")
        || factors
            .iter()
            .any(|f| f.soundtrack && headers.iter().any(|h| h == f.name));
    if soundtracks.iter().any(|s| !s.practice) && !chooses_soundtrack {
        cx.diags.push(csv_map.diag(
            0..0,
            "the protocol declares soundtracks, but the conditions file has no `soundtrack` column (or soundtrack factor), so no trial would play one",
        ));
    }
    let declared_factors = !factors.is_empty();
    let mut columns: Vec<String> = Vec::new();
    for (i, h) in headers.iter().enumerate() {
        let offset = header_offset(&text, i);
        if h == "clip" || h == "soundtrack" {
            columns.push(h.to_string());
        } else if let Some(f) = factors.iter().find(|f| f.name == h) {
            if !f.within {
                cx.diags.push(csv_map.diag(
                    offset..offset,
                    format!("factor `{h}` is between subjects; a conditions file lists within-subject trials"),
                ));
            }
            columns.push(h.to_string());
        } else if declared_factors {
            let mut d = csv_map.diag(
                offset..offset,
                format!("unknown column `{h}`: no factor has this name"),
            );
            d.help = did_you_mean(
                h,
                factors
                    .iter()
                    .map(|f| f.name.as_str())
                    .chain(["clip", "soundtrack"]),
            );
            cx.diags.push(d);
            columns.push(String::new());
        } else if !is_identifier(h) || is_reserved(h) {
            cx.diags.push(csv_map.diag(
                offset..offset,
                format!("column `{h}` is not a valid factor name"),
            ));
            columns.push(String::new());
        } else {
            columns.push(h.to_string());
        }
    }
    let mut rows = Vec::new();
    let mut inferred: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for rec in rdr.records() {
        if rows.len() as u64 >= MAX_TRIALS {
            let at = rec
                .as_ref()
                .ok()
                .and_then(|r| r.position())
                .map_or(0, |p| p.byte() as usize);
            cx.diags.push(csv_map.diag(
                at..at,
                format!("a conditions file has at most {MAX_TRIALS} rows"),
            ));
            return None;
        }
        let rec = match rec {
            Err(e) => {
                let offset = e.position().map_or(0, |p| p.byte() as usize);
                cx.diags
                    .push(csv_map.diag(offset..offset, format!("conditions file: {e}")));
                return None;
            }
            Ok(r) => r,
        };
        let start = rec.position().map_or(0, |p| p.byte() as usize);
        let mut row = ConditionRow {
            clip: None,
            soundtrack: None,
            levels: Vec::new(),
        };
        for (i, value) in rec.iter().enumerate() {
            let col = &columns[i];
            let at = start + field_offset(&text[start..], i);
            if col.is_empty() {
                continue;
            }
            match col.as_str() {
                "clip" => {
                    if value.is_empty() {
                        continue;
                    }
                    if !clips.iter().any(|c| c.id == value) {
                        let mut d = csv_map.diag(at..at, format!("unknown clip `{value}`"));
                        d.help = did_you_mean(value, clips.iter().map(|c| c.id.as_str()));
                        cx.diags.push(d);
                    } else if clips.iter().any(|c| c.id == value && c.practice) {
                        cx.diags.push(csv_map.diag(
                            at..at,
                            format!("clip `{value}` is practice-only (`practice = true`); test trials cannot use it"),
                        ));
                    }
                    row.clip = Some(value.to_string());
                }
                "soundtrack" => {
                    if value.is_empty() || value == SILENCE {
                        continue;
                    }
                    if !soundtracks.iter().any(|c| c.id == value) {
                        let mut d = csv_map.diag(at..at, format!("unknown soundtrack `{value}`"));
                        d.help = did_you_mean(
                            value,
                            soundtracks.iter().map(|c| c.id.as_str()).chain([SILENCE]),
                        );
                        cx.diags.push(d);
                    } else if soundtracks.iter().any(|c| c.id == value && c.practice) {
                        cx.diags.push(csv_map.diag(
                            at..at,
                            format!("soundtrack `{value}` is practice-only (`practice = true`); test trials cannot use it"),
                        ));
                    }
                    row.soundtrack = Some(value.to_string());
                }
                factor => {
                    if let Some(f) = factors.iter().find(|f| f.name == factor) {
                        if !f.levels.iter().any(|l| l == value) {
                            let mut d = csv_map.diag(
                                at..at,
                                format!("unknown level `{value}` in factor `{factor}`"),
                            );
                            d.help = did_you_mean(value, f.levels.iter().map(String::as_str));
                            cx.diags.push(d);
                        }
                    } else {
                        let levels = inferred.entry(factor.to_string()).or_default();
                        if !levels.iter().any(|l| l == value) {
                            levels.push(value.to_string());
                        }
                    }
                    row.levels.push((factor.to_string(), value.to_string()));
                }
            }
        }
        rows.push(row);
    }
    if rows.is_empty() {
        cx.err(
            file.span(),
            format!("conditions file `{}` has no rows", file.get_ref()),
        );
        return None;
    }
    for col in columns
        .iter()
        .filter(|c| !c.is_empty() && *c != "clip" && *c != "soundtrack")
    {
        if let Some(levels) = inferred.remove(col) {
            factors.push(Factor {
                name: col.clone(),
                levels,
                within: true,
                soundtrack: false,
            });
        }
    }
    Some(rows)
}

/// Where a quoted field opens that never closes (CSV: quotes inside are doubled).
fn unterminated_quote(text: &str) -> Option<usize> {
    let mut open: Option<usize> = None;
    let mut at_field_start = true;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match (open, c) {
            (None, '"') if at_field_start => open = Some(i),
            (Some(_), '"') => {
                if chars.peek().is_some_and(|&(_, d)| d == '"') {
                    chars.next();
                } else {
                    open = None;
                }
            }
            _ => {}
        }
        if open.is_none() {
            at_field_start = c == ',' || c == '\n' || (at_field_start && c == ' ');
        }
    }
    open
}

/// Byte offset of header field `i` in the first line (simple CSV; quotes are rare in headers).
fn header_offset(text: &str, i: usize) -> usize {
    field_offset(text, i)
}

/// Byte offset of field `i` in the line starting at `line` (counts commas outside quotes).
fn field_offset(line: &str, i: usize) -> usize {
    let mut field = 0;
    let mut in_quotes = false;
    for (pos, c) in line.char_indices() {
        if field == i {
            return pos;
        }
        match c {
            '"' => in_quotes = !in_quotes,
            ',' if !in_quotes => field += 1,
            '\n' => break,
            _ => {}
        }
    }
    0
}

fn design(
    raw: Option<&Spanned<RawDesign>>,
    conditions: Option<Vec<ConditionRow>>,
    clips: &[Stimulus],
    soundtracks: &[Stimulus],
    factors: &[Factor],
    cx: &mut Ctx<'_>,
) -> Option<Design> {
    let empty = RawDesign {
        pairing: None,
        pairs: None,
        repetitions: None,
        order: None,
        blocks: None,
        practice: None,
        break_every: None,
        iti_ms: None,
        seed: None,
    };
    let (d, design_span) = match raw {
        Some(r) => (r.get_ref(), r.span()),
        None => (&empty, 0..0),
    };
    let all_clips = clips;
    let test_clips: Vec<Stimulus> = clips.iter().filter(|c| !c.practice).cloned().collect();
    let clips: &[Stimulus] = &test_clips;
    let within: Vec<&Factor> = factors.iter().filter(|f| f.within).collect();
    let n_within: usize = within
        .iter()
        .fold(1usize, |n, f| n.saturating_mul(f.levels.len()));
    let soundtrack_factor = factors.iter().find(|f| f.soundtrack);

    let pairing = if let Some(rows) = conditions {
        if let Some(p) = &d.pairing {
            cx.err_help(
                p.span(),
                "`pairing` cannot be used with a conditions file: the file's rows are the trials",
                Some("remove `pairing`, or remove [conditions]".into()),
            );
        }
        Pairing::ConditionsFile(rows)
    } else {
        match d.pairing.as_ref().map(|p| (p.get_ref().as_str(), p.span())) {
            None | Some(("crossed", _)) => Pairing::Crossed,
            Some(("latin-square", span)) => {
                if clips.is_empty() {
                    cx.err(span.clone(), "latin-square pairing rotates clips over conditions, but there are no clips");
                } else if n_within < 2 {
                    cx.err(
                        span.clone(),
                        "latin-square pairing needs a within-subject factor with at least 2 levels",
                    );
                } else if !clips.len().is_multiple_of(n_within) {
                    cx.err_help(
                        span.clone(),
                        format!(
                            "latin-square pairing needs the number of clips ({}) to be a multiple of the number of within conditions ({n_within})",
                            clips.len()
                        ),
                        Some("add or remove clips, or use pairing = \"crossed\"".into()),
                    );
                }
                Pairing::LatinSquare
            }
            Some(("fixed", span)) => {
                fixed_pairs(d.pairs.as_ref(), span, clips, soundtrack_factor, cx)
            }
            Some((other, span)) => {
                cx.err_help(
                    span,
                    format!("unknown pairing `{other}`"),
                    did_you_mean(other, ["crossed", "latin-square", "fixed"])
                        .or_else(|| Some("use \"crossed\", \"latin-square\" or \"fixed\"".into())),
                );
                Pairing::Crossed
            }
        }
    };
    if let (Some(pairs), false) = (&d.pairs, matches!(pairing, Pairing::Fixed(_)))
        && let Some((k, _)) = pairs.iter().next()
    {
        cx.err(k.span(), "`pairs` is only used with pairing = \"fixed\"");
    }
    if !soundtracks.is_empty()
        && soundtrack_factor.is_none()
        && !matches!(pairing, Pairing::ConditionsFile(_))
    {
        cx.err_help(
            design_span.clone(),
            "soundtracks are declared but no factor chooses them",
            Some("add a factor whose levels are soundtrack ids (and `silence`), or a conditions file with a `soundtrack` column".into()),
        );
    }

    let repetitions = match &d.repetitions {
        Some(r) if *r.get_ref() == 0 => {
            cx.err(r.span(), "repetitions must be at least 1");
            1
        }
        Some(r) if *r.get_ref() > MAX_REPETITIONS => {
            cx.err_help(
                r.span(),
                format!(
                    "repetitions = {} is above the limit of {MAX_REPETITIONS}",
                    r.get_ref()
                ),
                Some(format!("a session has at most {MAX_TRIALS} test trials")),
            );
            1
        }
        Some(r) => *r.get_ref(),
        None => 1,
    };
    let per_rep: u64 = match &pairing {
        Pairing::ConditionsFile(rows) => rows.len() as u64,
        _ if clips.is_empty() => n_within as u64,
        Pairing::Crossed => clips.len() as u64 * n_within as u64,
        Pairing::LatinSquare => clips.len() as u64,
        Pairing::Fixed(pairs) => pairs.len() as u64 * n_within as u64,
    };
    let n_trials = per_rep.saturating_mul(u64::from(repetitions));
    if n_trials > MAX_TRIALS {
        let span = d
            .repetitions
            .as_ref()
            .map_or(design_span.clone(), |r| r.span());
        cx.err_help(
            span,
            format!("the design has {n_trials} test trials per session ({per_rep} per repetition × {repetitions}); the limit is {MAX_TRIALS}"),
            Some("use fewer repetitions, clips or levels, or split the study into sessions".into()),
        );
    }

    let key_names = |cx: &mut Ctx<'_>, name: &Spanned<String>| -> Option<Key> {
        match name.get_ref().as_str() {
            "clip" => Some(Key::Clip),
            "soundtrack" => Some(Key::Soundtrack),
            n if factors.iter().any(|f| f.name == n && f.within) => {
                Some(Key::Factor(n.to_string()))
            }
            n => {
                cx.err_help(
                    name.span(),
                    format!("`{n}` is not `clip`, `soundtrack` or a within-subject factor"),
                    did_you_mean(
                        n,
                        within
                            .iter()
                            .map(|f| f.name.as_str())
                            .chain(["clip", "soundtrack"]),
                    ),
                );
                None
            }
        }
    };
    let mut order = Order {
        shuffle: true,
        max_run: Vec::new(),
        min_distance: Vec::new(),
        williams: None,
    };
    let order_table = match d.order.as_ref().map(|o| (o.get_ref(), o.span())) {
        None => None,
        Some((RawOrderSpec::Table(t), span)) => Some((t, span)),
        Some((RawOrderSpec::Keyword(k), span)) => {
            match k.as_str() {
                "shuffle" => {}
                "fixed" => order.shuffle = false,
                "williams" => {
                    order.shuffle = false;
                    order.williams =
                        williams_factor(&pairing, clips, &within, d.blocks.is_some(), span, cx);
                }
                other => cx.err_help(
                    span,
                    format!("unknown order `{other}`"),
                    did_you_mean(other, ["williams", "shuffle", "fixed"]).or_else(|| {
                        Some("use \"williams\", \"shuffle\", \"fixed\" or a table such as { max_run = 2 }".into())
                    }),
                ),
            }
            None
        }
    };
    if let Some((o_ref, o_span)) = order_table {
        let o = Spanned::new(o_span, ());
        order.shuffle = o_ref.shuffle;
        if !o_ref.shuffle && (o_ref.max_run.is_some() || o_ref.min_distance.is_some()) {
            cx.err(
                o.span(),
                "`max_run` and `min_distance` need `shuffle = true`",
            );
        }
        if let Some(mr) = &o_ref.max_run {
            match mr.get_ref() {
                RawPerKey::All(n) => {
                    check_positive(&Spanned::new(mr.span(), *n), "max_run", cx);
                    for f in &within {
                        order.max_run.push((Key::Factor(f.name.clone()), *n));
                    }
                    if within.is_empty() {
                        order.max_run.push((Key::Clip, *n));
                    }
                }
                RawPerKey::PerKey(map) => {
                    for (k, n) in map {
                        check_positive(n, "max_run", cx);
                        if let Some(key) = key_names(cx, k) {
                            order.max_run.push((key, *n.get_ref()));
                        }
                    }
                }
            }
        }
        if let Some(md) = &o_ref.min_distance {
            match md.get_ref() {
                RawPerKey::All(n) => {
                    check_positive(&Spanned::new(md.span(), *n), "min_distance", cx);
                    order.min_distance.push((Key::Clip, *n));
                }
                RawPerKey::PerKey(map) => {
                    for (k, n) in map {
                        check_positive(n, "min_distance", cx);
                        if let Some(key) = key_names(cx, k) {
                            order.min_distance.push((key, *n.get_ref()));
                        }
                    }
                }
            }
        }
    }

    let blocks = match &d.blocks {
        None => Blocks::None,
        Some(b) => {
            let b_ref = b.get_ref();
            let block_order = keyword(
                cx,
                b_ref.order.as_ref(),
                "block order",
                BlockOrder::Shuffle,
                &[
                    ("shuffle", BlockOrder::Shuffle),
                    ("fixed", BlockOrder::Fixed),
                    ("rotate", BlockOrder::Rotate),
                    ("williams", BlockOrder::Williams),
                ],
            );
            match (&b_ref.by, &b_ref.count) {
                (Some(by), None) => {
                    if within.iter().any(|f| f.name == *by.get_ref()) {
                        Blocks::ByFactor {
                            factor: by.get_ref().clone(),
                            order: block_order,
                        }
                    } else {
                        cx.err_help(
                            by.span(),
                            format!(
                                "blocks by `{}`: no within-subject factor has this name",
                                by.get_ref()
                            ),
                            did_you_mean(by.get_ref(), within.iter().map(|f| f.name.as_str())),
                        );
                        Blocks::None
                    }
                }
                (None, Some(n)) => {
                    check_positive(n, "blocks.count", cx);
                    if *n.get_ref() > MAX_BLOCKS {
                        cx.err(
                            n.span(),
                            format!("{} blocks is above the limit of {MAX_BLOCKS}", n.get_ref()),
                        );
                    }
                    if b_ref.order.is_some() {
                        cx.err(
                            b.span(),
                            "`order` applies to blocks `by` a factor, not to a block `count`",
                        );
                    }
                    Blocks::Count(*n.get_ref())
                }
                _ => {
                    cx.err(
                        b.span(),
                        "blocks need exactly one of `by` (a factor) or `count`",
                    );
                    Blocks::None
                }
            }
        }
    };

    let practice = match &d.practice {
        None => Practice::None,
        Some(p) => {
            match p.get_ref() {
                RawPractice::Count(n) => {
                    if *n > MAX_PRACTICE {
                        cx.err(
                        p.span(),
                        format!("practice = {n} is above the limit of {MAX_PRACTICE} practice trials"),
                    );
                    }
                    Practice::Random(*n)
                }
                RawPractice::Trials(list) => {
                    let mut out = Vec::new();
                    for t in list {
                        let t_ref = t.get_ref();
                        if let Some(c) = &t_ref.clip {
                            check_id(c, all_clips, "clip", cx);
                        }
                        if let Some(s) = &t_ref.soundtrack
                            && s.get_ref() != SILENCE
                        {
                            check_id(s, soundtracks, "soundtrack", cx);
                        }
                        out.push((
                            t_ref.clip.as_ref().map(|c| c.get_ref().clone()),
                            t_ref
                                .soundtrack
                                .as_ref()
                                .map(|s| s.get_ref().clone())
                                .filter(|s| s != SILENCE),
                        ));
                    }
                    Practice::Trials(out)
                }
            }
        }
    };
    let has_practice_material = all_clips.iter().chain(soundtracks).any(|s| s.practice);
    if has_practice_material && matches!(practice, Practice::None | Practice::Random(0)) {
        let s = all_clips
            .iter()
            .chain(soundtracks)
            .find(|s| s.practice)
            .expect("some practice material");
        let span = d.practice.as_ref().map(|p| p.span());
        let mut diag = match span {
            Some(span) => cx.map.diag(span, String::new()),
            None => cx.diag_at(&s.declared_at),
        };
        diag.message = format!(
            "`{}` is practice-only material (`practice = true`), but the design has no practice trials, so it is never shown",
            s.id
        );
        diag.help = Some("add `practice = 2` (a number of practice trials) under [design]".into());
        cx.diags.push(diag);
    }
    if let Some(b) = &d.blocks
        && let Blocks::ByFactor {
            factor,
            order: BlockOrder::Williams,
        } = &blocks
        && within
            .iter()
            .find(|f| f.name == *factor)
            .is_some_and(|f| f.levels.len() < 2)
    {
        cx.err(
            b.span(),
            format!("a Williams order needs a factor with at least 2 levels; `{factor}` has one"),
        );
    }
    let break_every = d.break_every.as_ref().map_or(0, |b| *b.get_ref());
    if let Some(b) = &d.break_every
        && u64::from(*b.get_ref()) > MAX_TRIALS
    {
        cx.err(
            b.span(),
            format!(
                "break_every = {} is above the limit of {MAX_TRIALS} trials",
                b.get_ref()
            ),
        );
    }
    let iti_ms = match &d.iti_ms {
        None => Duration::Fixed(0),
        Some(i) => steps::duration(i, "iti_ms", cx).unwrap_or(Duration::Fixed(0)),
    };
    Some(Design {
        pairing,
        repetitions,
        order,
        blocks,
        practice,
        break_every,
        iti_ms,
        seed: d.seed.as_ref().map(|s| *s.get_ref()),
        order_span: d.order.as_ref().map(|o| o.span()),
    })
}

/// The factor a trial-level `order = "williams"` applies to, or an error at `span` saying why it
/// cannot: it needs exactly one within factor (of 2 or more levels) and one trial per level per
/// repetition, and no blocks.
fn williams_factor(
    pairing: &Pairing,
    clips: &[Stimulus],
    within: &[&Factor],
    has_blocks: bool,
    span: Range<usize>,
    cx: &mut Ctx<'_>,
) -> Option<String> {
    let varying: Vec<&&Factor> = within.iter().filter(|f| f.levels.len() > 1).collect();
    let why = if has_blocks {
        Some("blocks are declared; use `blocks = { by = \"<factor>\", order = \"williams\" }` to order blocks".to_string())
    } else if varying.len() != 1 {
        Some(format!(
            "it needs exactly one within-subject factor with 2 or more levels, and this design has {}",
            varying.len()
        ))
    } else {
        let n = varying[0].levels.len();
        let per_rep = match pairing {
            Pairing::ConditionsFile(rows) => {
                let f = &varying[0].name;
                let mut seen: Vec<&str> = rows
                    .iter()
                    .filter_map(|r| {
                        r.levels
                            .iter()
                            .find(|(k, _)| k == f)
                            .map(|(_, v)| v.as_str())
                    })
                    .collect();
                seen.sort_unstable();
                seen.dedup();
                if seen.len() == rows.len() {
                    rows.len()
                } else {
                    0
                }
            }
            _ if clips.is_empty() => n,
            Pairing::Crossed => clips.len() * n,
            Pairing::LatinSquare => clips.len(),
            Pairing::Fixed(pairs) => pairs.len(),
        };
        (per_rep != n).then(|| {
            format!(
                "it needs one trial per level of `{}` per repetition ({n}), and this design has {per_rep}",
                varying[0].name
            )
        })
    };
    match why {
        None => Some(varying[0].name.clone()),
        Some(why) => {
            cx.err_help(
                span,
                format!("`order = \"williams\"` cannot apply here: {why}"),
                Some("a Williams square orders the levels of one factor; with several trials per level, order blocks instead: blocks = { by = \"<factor>\", order = \"williams\" }".into()),
            );
            None
        }
    }
}

/// An optional keyword: `default` when absent, the matching choice when given, else an error at
/// the value listing the choices (and `default`, so validation can go on).
fn keyword<T: Copy>(
    cx: &mut Ctx<'_>,
    value: Option<&Spanned<String>>,
    what: &str,
    default: T,
    choices: &[(&str, T)],
) -> T {
    let Some(v) = value else { return default };
    if let Some((_, t)) = choices.iter().find(|(name, _)| *name == v.get_ref()) {
        return *t;
    }
    let quoted: Vec<String> = choices.iter().map(|(n, _)| format!("\"{n}\"")).collect();
    let (last, rest) = quoted.split_last().expect("at least one choice");
    let list = if rest.is_empty() {
        last.clone()
    } else {
        format!("{} or {last}", rest.join(", "))
    };
    cx.err_help(
        v.span(),
        format!("unknown {what} `{}`", v.get_ref()),
        Some(format!("use {list}")),
    );
    default
}

fn check_positive(n: &Spanned<u32>, what: &str, cx: &mut Ctx<'_>) {
    if *n.get_ref() == 0 {
        cx.err(n.span(), format!("{what} must be at least 1"));
    }
}

fn check_id(id: &Spanned<String>, stimuli: &[Stimulus], what: &str, cx: &mut Ctx<'_>) -> bool {
    if stimuli.iter().any(|s| s.id == *id.get_ref()) {
        return true;
    }
    cx.err_help(
        id.span(),
        format!("unknown {what} `{}`", id.get_ref()),
        did_you_mean(id.get_ref(), stimuli.iter().map(|s| s.id.as_str())),
    );
    false
}

fn fixed_pairs(
    pairs: Option<&BTreeMap<Spanned<String>, Spanned<String>>>,
    span: Range<usize>,
    clips: &[Stimulus],
    soundtrack_factor: Option<&Factor>,
    cx: &mut Ctx<'_>,
) -> Pairing {
    let Some(pairs) = pairs else {
        cx.err_help(
            span,
            "pairing = \"fixed\" needs a `pairs` table",
            Some("add `pairs = { <clip> = \"<level>\", ... }` under [design]".into()),
        );
        return Pairing::Fixed(Vec::new());
    };
    let Some(factor) = soundtrack_factor else {
        cx.err(span, "pairing = \"fixed\" pairs clips with levels of the soundtrack factor, but no factor chooses soundtracks");
        return Pairing::Fixed(Vec::new());
    };
    let mut out = Vec::new();
    for (clip, level) in pairs {
        check_id(clip, clips, "clip", cx);

        if !factor.levels.iter().any(|l| l == level.get_ref()) {
            cx.err_help(
                level.span(),
                format!(
                    "unknown level `{}` in factor `{}`",
                    level.get_ref(),
                    factor.name
                ),
                did_you_mean(level.get_ref(), factor.levels.iter().map(String::as_str)),
            );
        }
        out.push((clip.get_ref().clone(), level.get_ref().clone()));
    }
    for c in clips {
        if !out.iter().any(|(id, _)| *id == c.id) {
            cx.err_help(
                span.clone(),
                format!("clip `{}` has no pair in `pairs`", c.id),
                Some("pair every clip, or remove the clip".into()),
            );
        }
    }
    Pairing::Fixed(out)
}

/// The `[text]` table: overrides of participant-visible labels, by known key.
fn texts(
    raw: Option<&BTreeMap<Spanned<String>, Spanned<String>>>,
    cx: &mut Ctx<'_>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (k, v) in raw.into_iter().flatten() {
        if !TEXT_DEFAULTS.iter().any(|(key, _)| key == k.get_ref()) {
            cx.err_help(
                k.span(),
                format!("unknown label `{}` in [text]", k.get_ref()),
                did_you_mean(k.get_ref(), TEXT_DEFAULTS.iter().map(|(key, _)| *key)).or_else(
                    || Some("the labels are listed in protocols/README.md under [text]".into()),
                ),
            );
            continue;
        }
        out.insert(k.get_ref().clone(), v.get_ref().clone());
    }
    out
}

/// The marker events a trigger code can be given for (`MarkerEvent::name()`).
fn trigger_events() -> impl Iterator<Item = &'static str> {
    cuelab_core::marker::MarkerEvent::ALL
        .iter()
        .map(|e| e.name())
}

/// The events that belong to a trial, so that a `[[triggers.when]]` rule can see its conditions.
const TRIAL_EVENTS: [&str; 5] = [
    "trial_start",
    "audio_onset",
    "video_onset",
    "response",
    "trial_end",
];

/// A trigger code: 1 to 255 (0 is the idle level of a parallel/serial trigger line).
fn trigger_code(v: i64, span: Range<usize>, cx: &mut Ctx<'_>) -> Option<u8> {
    match u8::try_from(v) {
        Ok(c) if c > 0 => Some(c),
        _ => {
            cx.err_help(
                span,
                format!("trigger code {v} is outside 1..=255"),
                Some("a trigger is one byte; 0 is the line at rest".into()),
            );
            None
        }
    }
}

/// The `[triggers]` table: `event = code` for known events, and `when` rules for trial events.
fn triggers(
    raw: Option<&BTreeMap<Spanned<String>, Spanned<RawTriggerEntry>>>,
    vars: &WhenVars,
    cx: &mut Ctx<'_>,
) -> Triggers {
    let mut out = Triggers::default();
    for (k, v) in raw.into_iter().flatten() {
        match (k.get_ref().as_str(), v.get_ref()) {
            ("when", RawTriggerEntry::Rules(rules)) => {
                for r in rules {
                    let r = r.get_ref();
                    let event = r.event.get_ref();
                    let event_ok = if !trigger_events().any(|e| e == event) {
                        cx.err_help(
                            r.event.span(),
                            format!("unknown event `{event}` in [[triggers.when]]"),
                            did_you_mean(event, trigger_events()).or_else(|| {
                                Some(format!(
                                    "the events are: {}",
                                    trigger_events().collect::<Vec<_>>().join(", ")
                                ))
                            }),
                        );
                        false
                    } else if !TRIAL_EVENTS.contains(&event.as_str()) {
                        cx.err_help(
                            r.event.span(),
                            format!("`{event}` is not a trial event, so it has no conditions"),
                            Some(format!(
                                "a [[triggers.when]] rule is for {}; give `{event}` its code as `{event} = N`",
                                TRIAL_EVENTS.join(", ")
                            )),
                        );
                        false
                    } else {
                        true
                    };
                    let code = trigger_code(*r.code.get_ref(), r.code.span(), cx);
                    let when = steps::when(&r.when, vars, cx);
                    if let (true, Some(code), Some(when)) = (event_ok, code, when) {
                        out.rules.push(TriggerRule {
                            when,
                            event: event.clone(),
                            code,
                        });
                    }
                }
            }
            ("when", RawTriggerEntry::Code(_)) => cx.err_help(
                v.span(),
                "`when` in [triggers] is a list of rules",
                Some("write `[[triggers.when]]` with `when = '...'`, `event` and `code`".into()),
            ),
            (name, entry) => {
                if !trigger_events().any(|e| e == name) {
                    cx.err_help(
                        k.span(),
                        format!("unknown event `{name}` in [triggers]"),
                        did_you_mean(name, trigger_events()).or_else(|| {
                            Some(format!(
                                "the events are: {}",
                                trigger_events().collect::<Vec<_>>().join(", ")
                            ))
                        }),
                    );
                    continue;
                }
                match entry {
                    RawTriggerEntry::Code(c) => {
                        if let Some(code) = trigger_code(*c, v.span(), cx) {
                            out.codes.insert(name.to_string(), code);
                        }
                    }
                    RawTriggerEntry::Rules(_) => cx.err(
                        v.span(),
                        format!("`{name}` in [triggers] is a code 1 to 255, not a list"),
                    ),
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::confine;
    use std::path::PathBuf;

    #[test]
    fn confines_paths() {
        assert_eq!(confine("a/./b/../c.wav"), Ok(PathBuf::from("a/c.wav")));
        assert!(confine("../x.wav").is_err());
        assert!(confine("a/../../x.wav").is_err());
        assert!(confine("/etc/passwd").is_err());
        assert!(confine("").is_err());
        assert!(confine("a\\b.wav").is_err());
    }
}
