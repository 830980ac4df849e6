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

const CLIP_EXTENSIONS: &[&str] = &["mp4", "m4v", "mov", "mkv", "webm", "avi"];
const AUDIO_EXTENSIONS: &[&str] = &["wav", "flac", "mp3", "ogg", "oga", "m4a", "aac"];
/// Names that would collide with columns of the exported tables.
const RESERVED_FACTOR_NAMES: &[&str] = &[
    "clip",
    "soundtrack",
    "participant",
    "session",
    "trial_index",
    "block",
    "practice",
    "index",
];
const DEMOGRAPHICS: &[&str] = &["age", "gender", "years_of_musical_training", "handedness"];
const GOLD_MSI_GENERAL: &[&str] = &[
    "I spend a lot of my free time doing music-related activities.",
    "I enjoy writing about music, for example on blogs and forums.",
    "If somebody starts singing a song I don't know, I can usually join in.",
    "I can sing or play music from memory.",
    "I am able to hit the right notes when I sing along with a recording.",
    "I can compare and discuss differences between two performances or versions of the same piece of music.",
    "I have never been complimented for my talents as a musical performer.",
    "I often read or search the internet for things related to music.",
    "I am not able to sing in harmony when somebody is singing a familiar tune.",
    "I am able to identify what is special about a given musical piece.",
    "When I sing, I have no idea whether I'm in tune or not.",
    "Music is kind of an addiction for me - I couldn't live without it.",
    "I don't like singing in public because I'm afraid that I would sing wrong notes.",
    "I would not consider myself a musician.",
    "After hearing a new song two or three times, I can usually sing it by myself.",
    "I can tell when people sing or play out of tune.",
    "When I hear a piece of music I can usually identify its genre.",
    "I would not consider myself a musician.",
];

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

    fn location(&self, span: &Range<usize>) -> Location {
        let (line, col) = self.map.line_col(span.start);
        Location {
            file: self.map.name.to_string(),
            line,
            col,
        }
    }

    /// Reads an auxiliary file named in the protocol; reports a diagnostic at `span` on failure.
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
    let procedure = steps(&raw.procedure, StepPlace::Trial, &clips, cx);
    if raw.procedure.get_ref().is_empty() {
        cx.err(raw.procedure.span(), "the procedure has no steps");
    }
    let n_clip_steps = procedure
        .iter()
        .filter(|s| matches!(s, Step::Clip { .. }))
        .count();
    if has_clip_step_needed && n_clip_steps == 0 {
        cx.err_help(
            raw.procedure.span(),
            "the protocol has stimuli but its procedure has no `clip` step, so they would never play",
            Some("add `[[procedure]]` with `clip = {}`".into()),
        );
    }
    let before = steps_list(&raw.before, StepPlace::Session, &clips, cx);
    let after = steps_list(&raw.after, StepPlace::Session, &clips, cx);
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
    for (field, v) in [("title", &e.title), ("version", &e.version)] {
        if v.get_ref().trim().is_empty() {
            cx.err(v.span(), format!("experiment {field} is empty"));
        }
    }
    Some(Experiment {
        id: id.clone(),
        title: e.title.get_ref().clone(),
        version: e.version.get_ref().clone(),
        description: e.description.clone(),
        authors: e.authors.clone(),
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
        if !is_identifier(id.get_ref()) {
            cx.err_help(
                id.span(),
                format!("stimulus id `{}` is not a valid id", id.get_ref()),
                Some("use lowercase letters, digits, `-` and `_`, starting with a letter".into()),
            );
            continue;
        }
        let bare;
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
        if !is_identifier(name_s) {
            cx.err(
                name.span(),
                format!("factor name `{name_s}` is not a valid id"),
            );
            continue;
        }
        if RESERVED_FACTOR_NAMES.contains(&name_s.as_str()) {
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
        let mut seen = BTreeSet::new();
        for l in levels {
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
    let name = format!(
        "{}",
        Path::new(cx.map.name)
            .parent()
            .unwrap_or(Path::new(""))
            .join(&path)
            .display()
    );
    let csv_map = SourceMap::new(&name, &text);
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
        } else if !is_identifier(h) || RESERVED_FACTOR_NAMES.contains(&h) {
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
        seed: None,
    };
    let (d, design_span) = match raw {
        Some(r) => (r.get_ref(), r.span()),
        None => (&empty, 0..0),
    };
    let within: Vec<&Factor> = factors.iter().filter(|f| f.within).collect();
    let n_within: usize = within.iter().map(|f| f.levels.len()).product();
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
        Some(r) => *r.get_ref(),
        None => 1,
    };

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
    };
    if let Some(o) = &d.order {
        let o_ref = o.get_ref();
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
        Some(p) => match p.get_ref() {
            RawPractice::Count(n) => Practice::Random(*n),
            RawPractice::Trials(list) => {
                let mut out = Vec::new();
                for t in list {
                    let t_ref = t.get_ref();
                    if let Some(c) = &t_ref.clip {
                        check_id(c, clips, "clip", cx);
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
        },
    };
    let break_every = d.break_every.as_ref().map_or(0, |b| *b.get_ref());
    Some(Design {
        pairing,
        repetitions,
        order,
        blocks,
        practice,
        break_every,
        seed: d.seed.as_ref().map(|s| *s.get_ref()),
        order_span: d.order.as_ref().map(|o| o.span()),
    })
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

#[derive(Clone, Copy, PartialEq, Eq)]
enum StepPlace {
    Trial,
    Session,
}

fn steps_list(
    raw: &[Spanned<RawStep>],
    place: StepPlace,
    clips: &[Stimulus],
    cx: &mut Ctx<'_>,
) -> Vec<Step> {
    raw.iter()
        .filter_map(|s| step(s, place, clips, cx))
        .collect()
}

fn steps(
    raw: &Spanned<Vec<Spanned<RawStep>>>,
    place: StepPlace,
    clips: &[Stimulus],
    cx: &mut Ctx<'_>,
) -> Vec<Step> {
    let out = steps_list(raw.get_ref(), place, clips, cx);
    let clip_steps: Vec<_> = raw
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
    out
}

fn step(
    raw: &Spanned<RawStep>,
    place: StepPlace,
    clips: &[Stimulus],
    cx: &mut Ctx<'_>,
) -> Option<Step> {
    let r = raw.get_ref();
    let present = [
        r.instructions.is_some(),
        r.fixation.is_some(),
        r.blank.is_some(),
        r.clip.is_some(),
        r.rating.is_some(),
        r.time_estimate.is_some(),
        r.choice.is_some(),
        r.recognition.is_some(),
        r.free_text.is_some(),
        r.questionnaire.is_some(),
    ]
    .iter()
    .filter(|&&b| b)
    .count();
    if present != 1 {
        cx.err_help(
            raw.span(),
            if present == 0 { "empty step".to_string() } else { format!("a step has exactly one kind; this one has {present}") },
            Some("split it: one `[[procedure]]` per step (instructions, fixation, blank, clip, rating, time_estimate, choice, recognition, free_text, questionnaire)".into()),
        );
        return None;
    }
    let trial_only = |cx: &mut Ctx<'_>, span: Range<usize>, what: &str| {
        if place == StepPlace::Session {
            cx.err(
                span,
                format!("`{what}` needs a trial; it can only be in [[procedure]]"),
            );
        }
    };
    if let Some(i) = &r.instructions {
        let i_ref = i.get_ref();
        let markdown = match (&i_ref.text, &i_ref.file) {
            (Some(t), None) => t.get_ref().clone(),
            (None, Some(f)) => cx.read_aux(f, "instructions file")?.1,
            _ => {
                cx.err(
                    i.span(),
                    "instructions need exactly one of `text` or `file` (Markdown)",
                );
                return None;
            }
        };
        if markdown.trim().is_empty() {
            cx.err(i.span(), "instructions page is empty");
        }
        return Some(Step::Instructions { markdown });
    }
    if let Some(f) = &r.fixation {
        return Some(Step::Fixation {
            ms: *f.get_ref().ms.get_ref(),
        });
    }
    if let Some(f) = &r.blank {
        return Some(Step::Blank {
            ms: *f.get_ref().ms.get_ref(),
        });
    }
    if let Some(c) = &r.clip {
        trial_only(cx, c.span(), "clip");
        let c_ref = c.get_ref();
        let continuous = c_ref.continuous.as_ref().map(|cont| {
            let dims: Vec<String> = cont
                .get_ref()
                .dims
                .get_ref()
                .iter()
                .map(|d| d.get_ref().clone())
                .collect();
            if dims.is_empty() {
                cx.err(
                    cont.get_ref().dims.span(),
                    "continuous rating needs at least one dimension",
                );
            }
            let hz = cont.get_ref().hz.as_ref().map_or(20, |h| *h.get_ref());
            if !(1..=120).contains(&hz) {
                cx.err(
                    cont.span(),
                    format!("continuous rating at {hz} Hz: use 1..=120 Hz"),
                );
            }
            Continuous { dims, hz }
        });
        let offset_ms = c_ref.offset_ms.as_ref().map_or(0.0, |o| *o.get_ref());
        if offset_ms.abs() > 5000.0 {
            cx.err(
                c_ref.offset_ms.as_ref().expect("set").span(),
                "offset_ms beyond ±5000 ms",
            );
        }
        return Some(Step::Clip {
            continuous,
            offset_ms,
        });
    }
    if let Some(rt) = &r.rating {
        return rating(rt, cx).map(Step::Rating);
    }
    if let Some(t) = &r.time_estimate {
        trial_only(cx, t.span(), "time_estimate");
        let t_ref = t.get_ref();
        let method = match t_ref.method.get_ref().as_str() {
            "verbal" => EstimateMethod::Verbal,
            "reproduction" => EstimateMethod::Reproduction,
            other => {
                cx.err_help(
                    t_ref.method.span(),
                    format!("unknown time estimate method `{other}`"),
                    Some(
                        "use \"verbal\" (type the duration) or \"reproduction\" (hold a key)"
                            .into(),
                    ),
                );
                return None;
            }
        };
        let unit = keyword(
            cx,
            t_ref.unit.as_ref(),
            "unit",
            TimeUnit::S,
            &[("s", TimeUnit::S), ("ms", TimeUnit::Ms)],
        );
        if method == EstimateMethod::Reproduction && t_ref.unit.is_some() {
            cx.err(
                t.span(),
                "a reproduction is measured in time; `unit` applies to verbal estimates",
            );
        }
        let prompt = t_ref.prompt.clone().unwrap_or_else(|| match method {
            EstimateMethod::Verbal => "How long did the clip last?".into(),
            EstimateMethod::Reproduction => {
                "Hold the space bar for as long as the clip lasted.".into()
            }
        });
        return Some(Step::TimeEstimate {
            method,
            unit,
            prompt,
        });
    }
    if let Some(ch) = &r.choice {
        let c = ch.get_ref();
        let options: Vec<String> = c
            .options
            .get_ref()
            .iter()
            .map(|o| o.get_ref().clone())
            .collect();
        if options.len() < 2 {
            cx.err(c.options.span(), "a choice needs at least 2 options");
        }
        let mut seen = BTreeSet::new();
        for o in c.options.get_ref() {
            if !seen.insert(o.get_ref()) {
                cx.err(o.span(), format!("duplicate option `{}`", o.get_ref()));
            }
        }
        if let Some(correct) = &c.correct
            && !options.contains(correct.get_ref())
        {
            cx.err_help(
                correct.span(),
                format!(
                    "correct answer `{}` is not one of the options",
                    correct.get_ref()
                ),
                did_you_mean(correct.get_ref(), options.iter().map(String::as_str)),
            );
        }
        return Some(Step::Choice {
            prompt: c.prompt.get_ref().clone(),
            options,
            correct: c.correct.as_ref().map(|c| c.get_ref().clone()),
        });
    }
    if let Some(rec) = &r.recognition {
        trial_only(cx, rec.span(), "recognition");
        let rr = rec.get_ref();
        let items = recognition_items(&rr.items, clips, cx)?;
        if let Some(p) = &rr.confidence
            && !(2..=10).contains(p.get_ref())
        {
            cx.err(p.span(), "confidence scale needs 2..=10 points");
        }
        return Some(Step::Recognition {
            prompt: rr
                .prompt
                .clone()
                .unwrap_or_else(|| "Was this in the clip?".into()),
            items,
            confidence_points: rr.confidence.as_ref().map(|c| *c.get_ref()),
        });
    }
    if let Some(ft) = &r.free_text {
        let f = ft.get_ref();
        return Some(Step::FreeText {
            prompt: f.prompt.get_ref().clone(),
            max_chars: f.max_chars.as_ref().map_or(1000, |m| *m.get_ref()),
        });
    }
    if let Some(q) = &r.questionnaire {
        return questionnaire(q, cx).map(Step::Questionnaire);
    }
    None
}

fn rating(raw: &Spanned<RawRating>, cx: &mut Ctx<'_>) -> Option<Rating> {
    let r = raw.get_ref();
    let scale = match r.scale.get_ref().as_str() {
        "sam" => Scale::Sam,
        "vas" => Scale::Vas,
        "likert" => Scale::Likert,
        "emotions" => Scale::Emotions,
        other => {
            cx.err_help(
                r.scale.span(),
                format!("unknown rating scale `{other}`"),
                did_you_mean(other, ["sam", "vas", "likert", "emotions"])
                    .or_else(|| Some("use \"sam\", \"vas\", \"likert\" or \"emotions\"".into())),
            );
            return None;
        }
    };
    let list = |v: &Option<Spanned<Vec<Spanned<String>>>>| -> Option<Vec<String>> {
        v.as_ref()
            .map(|v| v.get_ref().iter().map(|s| s.get_ref().clone()).collect())
    };
    let (dims, items) = (list(&r.dims), list(&r.items));
    if dims.is_some() && items.is_some() {
        cx.err(raw.span(), "give `dims` or `items`, not both");
    }
    let given = dims.or(items);
    let items = match scale {
        Scale::Sam => {
            let dims = given.unwrap_or_else(|| vec!["valence".into(), "arousal".into()]);
            for (i, d) in dims.iter().enumerate() {
                if !["valence", "arousal", "dominance"].contains(&d.as_str()) {
                    let span = r
                        .dims
                        .as_ref()
                        .map_or(raw.span(), |v| v.get_ref()[i].span());
                    cx.err_help(
                        span,
                        format!("SAM has no dimension `{d}`"),
                        did_you_mean(d, ["valence", "arousal", "dominance"])
                            .or_else(|| Some("SAM rates valence, arousal and dominance".into())),
                    );
                }
            }
            dims
        }
        Scale::Vas => given.unwrap_or_else(|| vec!["rating".into()]),
        Scale::Likert | Scale::Emotions => match given {
            Some(v) if !v.is_empty() => v,
            _ => {
                cx.err(raw.span(), "this scale needs `items` (what is rated)");
                return None;
            }
        },
    };
    let mut seen = BTreeSet::new();
    for i in &items {
        if !seen.insert(i) {
            cx.err(raw.span(), format!("duplicate item `{i}`"));
        }
    }
    let points = match (scale, &r.points) {
        (Scale::Sam, None) => 9,
        (Scale::Vas, None) => 101,
        (_, None) => 7,
        (Scale::Vas, Some(p)) => {
            cx.err(
                p.span(),
                "a VAS is continuous (0–100); `points` applies to SAM and Likert scales",
            );
            101
        }
        (_, Some(p)) => {
            if !(2..=11).contains(p.get_ref()) {
                cx.err(p.span(), format!("{} points: use 2..=11", p.get_ref()));
            }
            *p.get_ref()
        }
    };
    let anchors = match &r.anchors {
        None => None,
        Some(a) if a.get_ref().len() == 2 => Some((a.get_ref()[0].clone(), a.get_ref()[1].clone())),
        Some(a) => {
            cx.err(a.span(), "anchors are two labels: [low end, high end]");
            None
        }
    };
    Some(Rating {
        scale,
        items,
        prompt: r.prompt.clone(),
        anchors,
        points,
    })
}

fn recognition_items(
    file: &Spanned<String>,
    clips: &[Stimulus],
    cx: &mut Ctx<'_>,
) -> Option<Vec<RecognitionItem>> {
    let (path, text) = cx.read_aux(file, "recognition items file")?;
    let name = format!(
        "{}",
        Path::new(cx.map.name)
            .parent()
            .unwrap_or(Path::new(""))
            .join(&path)
            .display()
    );
    let map = SourceMap::new(&name, &text);
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = rdr.headers().ok()?.clone();
    let want = ["clip", "item", "old"];
    let idx: Vec<Option<usize>> = want
        .iter()
        .map(|w| headers.iter().position(|h| h == *w))
        .collect();
    if idx.iter().any(Option::is_none) {
        cx.diags.push(map.diag(
            0..0,
            "recognition items need the columns `clip`, `item` and `old`",
        ));
        return None;
    }
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let at = e.position().map_or(0, |p| p.byte() as usize);
                cx.diags
                    .push(map.diag(at..at, format!("recognition items: {e}")));
                return None;
            }
        };
        let start = rec.position().map_or(0, |p| p.byte() as usize);
        let get = |k: usize| rec.get(idx[k].expect("checked")).unwrap_or("");
        let at = |k: usize| start + field_offset(&text[start..], idx[k].expect("checked"));
        let clip = get(0);
        if !clips.iter().any(|c| c.id == clip) {
            let a = at(0);
            let mut d = map.diag(a..a, format!("unknown clip `{clip}`"));
            d.help = did_you_mean(clip, clips.iter().map(|c| c.id.as_str()));
            cx.diags.push(d);
        }
        let old = match get(2) {
            "true" | "yes" | "1" | "old" => true,
            "false" | "no" | "0" | "new" => false,
            other => {
                let a = at(2);
                cx.diags
                    .push(map.diag(a..a, format!("`old` must be true or false, not `{other}`")));
                false
            }
        };
        out.push(RecognitionItem {
            clip: clip.into(),
            item: get(1).into(),
            old,
        });
    }
    if out.is_empty() {
        cx.err(file.span(), "recognition items file has no rows");
    }
    Some(out)
}

fn questionnaire(raw: &Spanned<RawQuestionnaire>, cx: &mut Ctx<'_>) -> Option<Questionnaire> {
    let q = raw.get_ref();
    let (builtin, items, default_points) = match (&q.builtin, &q.items) {
        (Some(b), None) => match b.get_ref().as_str() {
            "demographics" => (
                Some("demographics"),
                DEMOGRAPHICS.iter().map(|s| s.to_string()).collect(),
                0,
            ),
            "gold-msi" => (
                Some("gold-msi"),
                GOLD_MSI_GENERAL.iter().map(|s| s.to_string()).collect(),
                7,
            ),
            other => {
                cx.err_help(
                    b.span(),
                    format!("unknown built-in questionnaire `{other}`"),
                    did_you_mean(other, ["demographics", "gold-msi"])
                        .or_else(|| Some("built-ins: \"demographics\", \"gold-msi\"".into())),
                );
                return None;
            }
        },
        (None, Some(items)) => {
            let v: Vec<String> = items
                .get_ref()
                .iter()
                .map(|s| s.get_ref().clone())
                .collect();
            if v.is_empty() {
                cx.err(items.span(), "questionnaire has no items");
            }
            (None, v, 7)
        }
        _ => {
            cx.err(
                raw.span(),
                "a questionnaire needs exactly one of `builtin` or `items`",
            );
            return None;
        }
    };
    let id = match &q.id {
        Some(id) => {
            if !is_identifier(id.get_ref()) {
                cx.err(
                    id.span(),
                    format!("questionnaire id `{}` is not a valid id", id.get_ref()),
                );
            }
            id.get_ref().clone()
        }
        None => builtin.unwrap_or("questionnaire").to_string(),
    };
    Some(Questionnaire {
        id,
        builtin: builtin.map(str::to_string),
        items,
        points: q.points.as_ref().map_or(default_points, |p| *p.get_ref()),
    })
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
