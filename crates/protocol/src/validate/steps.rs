//! Steps of `[[before]]`, `[[procedure]]` and `[[after]]`: their kinds, ids, `when` conditions
//! and timeouts, and the output names they give the data.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use toml::Spanned;

use super::{Ctx, keyword};
use crate::cond;
use crate::diag::{SourceMap, did_you_mean};
use crate::instruments;
use crate::model::*;
use crate::raw::*;

/// The longest step id (it names data columns).
pub(crate) const MAX_ID_LEN: usize = 64;
/// The longest fixed or jittered step duration or inter-trial interval: 10 minutes.
pub(crate) const MAX_STEP_MS: i64 = 600_000;
/// The longest timeout: one hour.
pub(crate) const MAX_TIMEOUT_MS: i64 = 3_600_000;
/// The most items of one rating or questionnaire, options of one choice, and rows of a
/// recognition file.
pub(crate) const MAX_ITEMS: usize = 500;
pub(crate) const MAX_RECOGNITION_ROWS: usize = 10_000;
/// The most characters a free-text answer may be asked to hold.
pub(crate) const MAX_CHARS: u32 = 100_000;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum StepPlace {
    /// `[[before]]` and `[[after]]`: once per session.
    Session,
    /// `[[procedure]]`: every trial.
    Trial,
}

/// The variables a `when` may name and the values each may take.
pub(crate) struct WhenVars {
    /// Variable → allowed values.
    pub vars: Vec<(String, Vec<String>)>,
    /// Variables known but not visible here (within factors, clip, soundtrack in before/after).
    pub hidden: Vec<String>,
}

impl WhenVars {
    /// The variables of a trial's steps: every factor, `clip` and `soundtrack`.
    pub fn trial(factors: &[Factor], clips: &[Stimulus], soundtracks: &[Stimulus]) -> Self {
        let st_ids: Vec<String> = soundtracks
            .iter()
            .map(|s| s.id.clone())
            .chain([SILENCE.to_string()])
            .collect();
        let mut vars: Vec<(String, Vec<String>)> = factors
            .iter()
            .map(|f| {
                let mut levels = f.levels.clone();
                if f.soundtrack {
                    // A practice trial carries its soundtrack's id as the factor's value.
                    for s in &st_ids {
                        if !levels.contains(s) {
                            levels.push(s.clone());
                        }
                    }
                }
                (f.name.clone(), levels)
            })
            .collect();
        vars.push(("clip".into(), clips.iter().map(|c| c.id.clone()).collect()));
        vars.push(("soundtrack".into(), st_ids));
        WhenVars {
            vars,
            hidden: Vec::new(),
        }
    }

    /// The variables of a session's steps: between-subject factors only.
    pub fn session(factors: &[Factor]) -> Self {
        WhenVars {
            vars: factors
                .iter()
                .filter(|f| !f.within)
                .map(|f| (f.name.clone(), f.levels.clone()))
                .collect(),
            hidden: factors
                .iter()
                .filter(|f| f.within)
                .map(|f| f.name.clone())
                .chain(["clip".to_string(), "soundtrack".to_string()])
                .collect(),
        }
    }
}

/// Ids and output names seen so far, across before, procedure and after.
#[derive(Default)]
pub(crate) struct Seen {
    kind_counts: BTreeMap<&'static str, u32>,
    ids: BTreeMap<String, usize>,
    /// Output name → the id of the step that produces it.
    outputs: BTreeMap<String, String>,
    /// Names taken by factors and exported columns: output name → what takes it.
    pub taken: BTreeMap<String, String>,
}

pub(crate) struct StepEnv<'e> {
    pub place: StepPlace,
    pub clips: &'e [Stimulus],
    pub vars: &'e WhenVars,
}

pub(crate) fn steps_list(
    raw: &[Spanned<RawStep>],
    env: &StepEnv<'_>,
    seen: &mut Seen,
    cx: &mut Ctx<'_>,
) -> Vec<Step> {
    raw.iter().filter_map(|s| step(s, env, seen, cx)).collect()
}

fn is_step_id(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn step(
    raw: &Spanned<RawStep>,
    env: &StepEnv<'_>,
    seen: &mut Seen,
    cx: &mut Ctx<'_>,
) -> Option<Step> {
    let r = raw.get_ref();
    let (mut kind, inner_id) = step_kind(raw, env, cx)?;
    let name = kind.name();
    let count = seen.kind_counts.entry(name).or_insert(0);
    *count += 1;
    let derived = format!("{name}{count}");

    // The id: given, the questionnaire's own `id` (an alias), or derived.
    let given = match (&r.id, inner_id) {
        (Some(_), Some(inner)) => {
            cx.err_help(
                inner.span(),
                "this questionnaire has both a step `id` and its own `id`",
                Some("a questionnaire's `id` is the step's id: give it once".into()),
            );
            None
        }
        (Some(id), None) => Some(id.clone()),
        (None, inner) => inner,
    };
    let (id, id_span) = match &given {
        Some(g) => {
            let s = g.get_ref();
            if !is_step_id(s) {
                cx.err_help(
                    g.span(),
                    format!("step id `{s}` is not a valid id"),
                    Some("use lowercase letters, digits and `_`, starting with a letter (it names data columns)".into()),
                );
            } else if s.len() > MAX_ID_LEN {
                cx.err(
                    g.span(),
                    format!(
                        "step id is {} characters long; the limit is {MAX_ID_LEN}",
                        s.len()
                    ),
                );
            }
            (s.clone(), g.span())
        }
        None => (derived, raw.span()),
    };
    if let Some(&first) = seen.ids.get(&id) {
        let (line, _) = cx.map.line_col(first);
        cx.err_help(
            id_span.clone(),
            format!("duplicate step id `{id}` (the step at line {line} has it)"),
            Some("give every step its own `id`".into()),
        );
    } else {
        seen.ids.insert(id.clone(), id_span.start);
    }
    if let StepKind::Questionnaire(q) = &mut kind {
        q.id = id.clone();
    }
    if let Some(what) = seen.taken.get(&id) {
        cx.err_help(
            id_span.clone(),
            format!("step id `{id}` is reserved: {what}"),
            Some("rename the step with `id = \"...\"`".into()),
        );
    }

    let when = r.when.as_ref().and_then(|w| when(w, env.vars, cx));

    let timeout_ms = match &r.timeout_ms {
        None => None,
        Some(t) => {
            let v = *t.get_ref();
            if !kind.waits() {
                cx.err(
                    t.span(),
                    format!(
                        "a `{name}` step does not wait for the participant, so it has no timeout"
                    ),
                );
                None
            } else if v <= 0 {
                cx.err_help(
                    t.span(),
                    format!("timeout_ms = {v}: a timeout must be at least 1 ms"),
                    Some("remove `timeout_ms` to wait as long as the participant needs".into()),
                );
                None
            } else if v > MAX_TIMEOUT_MS {
                cx.err(
                    t.span(),
                    format!(
                        "timeout_ms = {v} is above the limit of {MAX_TIMEOUT_MS} ms (one hour)"
                    ),
                );
                None
            } else {
                u32::try_from(v).ok()
            }
        }
    };

    let step = Step {
        id,
        when,
        timeout_ms,
        kind,
        declared_at: cx.location(&raw.span()),
    };
    // A timed step also writes its drawn duration as `<id>_ms` in the trials table.
    let mut outputs = step.output_names();
    if step.duration().is_some() {
        outputs.push(format!("{}_ms", step.id));
    }
    for out in outputs {
        if let Some(other) = seen.outputs.get(&out) {
            cx.err_help(
                id_span.clone(),
                format!(
                    "step `{}` would write the column `{out}`, which step `{other}` already writes",
                    step.id
                ),
                Some("give one of the steps another `id`".into()),
            );
        } else if out != step.id
            && let Some(what) = seen.taken.get(&out)
        {
            cx.err_help(
                id_span.clone(),
                format!(
                    "step `{}` would write the column `{out}`, which is reserved: {what}",
                    step.id
                ),
                Some("rename the step or the item".into()),
            );
        } else {
            seen.outputs.insert(out, step.id.clone());
        }
    }
    Some(step)
}

/// Where an offset inside a TOML string value is in the file: exact for strings written without
/// escapes on one line, else the start of the value.
fn inner_span(cx: &Ctx<'_>, value: &Spanned<String>, inner: Range<usize>) -> Range<usize> {
    let span = value.span();
    let src = cx.map.text.get(span.clone()).unwrap_or("");
    let quote = src.chars().next();
    let body = src.get(1..src.len().saturating_sub(1));
    if matches!(quote, Some('"' | '\'')) && body == Some(value.get_ref().as_str()) {
        span.start + 1 + inner.start..span.start + 1 + inner.end
    } else {
        span
    }
}

pub(crate) fn when(raw: &Spanned<String>, vars: &WhenVars, cx: &mut Ctx<'_>) -> Option<Condition> {
    let (cond, atoms) = match cond::parse(raw.get_ref()) {
        Ok(c) => c,
        Err(e) => {
            let at = inner_span(cx, raw, e.at..e.at);
            cx.err_help(
                at,
                format!("in `when`: {}", e.message),
                Some("write e.g. `when = 'music != \"silence\"'`: `==`, `!=`, `in [..]`, `not in [..]`, `and`, `or`, `not`, parentheses".into()),
            );
            return None;
        }
    };
    let mut ok = true;
    for atom in atoms {
        let var = &atom.var.text;
        let Some((_, values)) = vars.vars.iter().find(|(n, _)| n == var) else {
            let at = inner_span(cx, raw, atom.var.at.clone());
            let help = if vars.hidden.contains(var) {
                Some(format!(
                    "`{var}` changes from trial to trial; a [[before]] or [[after]] step sees only between-subject factors"
                ))
            } else {
                did_you_mean(var, vars.vars.iter().map(|(n, _)| n.as_str())).or_else(|| {
                    Some(format!(
                        "a condition can name: {}",
                        vars.vars
                            .iter()
                            .map(|(n, _)| format!("`{n}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })
            };
            cx.err_help(at, format!("in `when`: unknown name `{var}`"), help);
            ok = false;
            continue;
        };
        for v in &atom.values {
            if !values.contains(&v.text) {
                let at = inner_span(cx, raw, v.at.clone());
                cx.err_help(
                    at,
                    format!("in `when`: `{var}` has no value `{}`", v.text),
                    did_you_mean(&v.text, values.iter().map(String::as_str))
                        .or_else(|| Some(format!("`{var}` is one of: {}", values.join(", ")))),
                );
                ok = false;
            }
        }
    }
    ok.then_some(cond)
}

/// A step's duration in ms: a number or `{ uniform = [min, max] }`, within the limits.
pub(crate) fn duration(raw: &Spanned<RawMs>, what: &str, cx: &mut Ctx<'_>) -> Option<Duration> {
    let in_range = |cx: &mut Ctx<'_>, v: i64, span: Range<usize>| -> Option<u32> {
        if !(0..=MAX_STEP_MS).contains(&v) {
            cx.err(
                span,
                format!("{what} {v} ms is outside 0..={MAX_STEP_MS} ms"),
            );
            return None;
        }
        u32::try_from(v).ok()
    };
    match raw.get_ref() {
        RawMs::Fixed(v) => in_range(cx, *v, raw.span()).map(Duration::Fixed),
        RawMs::Uniform(u) => {
            let list = u.uniform.get_ref();
            if list.len() != 2 {
                cx.err_help(
                    u.uniform.span(),
                    format!(
                        "`uniform` takes two numbers, [min, max]; this has {}",
                        list.len()
                    ),
                    Some("write e.g. `{ uniform = [400, 800] }`".into()),
                );
                return None;
            }
            let min = in_range(cx, *list[0].get_ref(), list[0].span())?;
            let max = in_range(cx, *list[1].get_ref(), list[1].span())?;
            if min > max {
                cx.err_help(
                    u.uniform.span(),
                    format!("`uniform = [{min}, {max}]`: the minimum is above the maximum"),
                    Some(format!("write `[{max}, {min}]`")),
                );
                return None;
            }
            Some(Duration::Uniform { min, max })
        }
    }
}

fn flag(v: &Option<Spanned<bool>>) -> bool {
    v.as_ref().is_some_and(|b| *b.get_ref())
}

/// The step's kind, and a questionnaire's own `id` (an alias of the step id).
fn step_kind(
    raw: &Spanned<RawStep>,
    env: &StepEnv<'_>,
    cx: &mut Ctx<'_>,
) -> Option<(StepKind, Option<Spanned<String>>)> {
    let r = raw.get_ref();
    let place = env.place;
    let present = [
        r.consent.is_some(),
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
            Some("split it: one `[[procedure]]` per step (consent, instructions, fixation, blank, clip, rating, time_estimate, choice, recognition, free_text, questionnaire)".into()),
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
    let page = |cx: &mut Ctx<'_>, i: &Spanned<RawInstructions>, what: &str| -> Option<String> {
        let i_ref = i.get_ref();
        let markdown = match (&i_ref.text, &i_ref.file) {
            (Some(t), None) => t.get_ref().clone(),
            (None, Some(f)) => cx.read_aux(f, &format!("{what} file"))?.1,
            _ => {
                cx.err(
                    i.span(),
                    format!("{what} need exactly one of `text` or `file` (Markdown)"),
                );
                return None;
            }
        };
        if markdown.trim().is_empty() {
            cx.err(i.span(), format!("{what} page is empty"));
        }
        Some(markdown)
    };
    if let Some(c) = &r.consent {
        if place == StepPlace::Trial {
            cx.err_help(
                c.span(),
                "`consent` is asked once, before the study",
                Some("move it to [[before]]".into()),
            );
        }
        return Some((
            StepKind::Consent {
                markdown: page(cx, c, "consent")?,
            },
            None,
        ));
    }
    if let Some(i) = &r.instructions {
        return Some((
            StepKind::Instructions {
                markdown: page(cx, i, "instructions")?,
            },
            None,
        ));
    }
    if let Some(f) = &r.fixation {
        let ms = duration(&f.get_ref().ms, "fixation", cx)?;
        return Some((StepKind::Fixation { ms }, None));
    }
    if let Some(f) = &r.blank {
        let ms = duration(&f.get_ref().ms, "blank", cx)?;
        return Some((StepKind::Blank { ms }, None));
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
        if !offset_ms.is_finite() || offset_ms.abs() > 5000.0 {
            cx.err(
                c_ref.offset_ms.as_ref().expect("set").span(),
                "offset_ms beyond ±5000 ms",
            );
        }
        return Some((
            StepKind::Clip {
                continuous,
                offset_ms,
            },
            None,
        ));
    }
    if let Some(rt) = &r.rating {
        return rating(rt, cx).map(|r| (StepKind::Rating(r), None));
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
        let input = keyword(
            cx,
            t_ref.input.as_ref(),
            "reproduction input",
            ReproductionInput::Hold,
            &[
                ("hold", ReproductionInput::Hold),
                ("toggle", ReproductionInput::Toggle),
            ],
        );
        if method == EstimateMethod::Verbal
            && let Some(i) = &t_ref.input
        {
            cx.err(
                i.span(),
                "`input` applies to reproductions; a verbal estimate is typed",
            );
        }
        let prompt = t_ref.prompt.clone().unwrap_or_else(|| match (method, input) {
            (EstimateMethod::Verbal, _) => "How long did the clip last?".into(),
            (EstimateMethod::Reproduction, ReproductionInput::Hold) => {
                "Hold the space bar for as long as the clip lasted.".into()
            }
            (EstimateMethod::Reproduction, ReproductionInput::Toggle) => {
                "Press the space bar to start and again to stop when as much time has passed as the clip lasted.".into()
            }
        });
        return Some((
            StepKind::TimeEstimate {
                method,
                unit,
                prompt,
                input,
            },
            None,
        ));
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
        } else if options.len() > MAX_ITEMS {
            cx.err(
                c.options.span(),
                format!("a choice has at most {MAX_ITEMS} options"),
            );
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
        for (key, v) in [
            ("attention_check", &c.attention_check),
            ("feedback", &c.feedback),
        ] {
            if let Some(v) = v
                && *v.get_ref()
                && c.correct.is_none()
            {
                cx.err_help(
                    v.span(),
                    format!("`{key}` needs a `correct` answer"),
                    Some("add `correct = \"...\"` (one of the options)".into()),
                );
            }
        }
        if let Some(f) = &c.feedback
            && *f.get_ref()
        {
            trial_only(cx, f.span(), "feedback");
        }
        return Some((
            StepKind::Choice {
                prompt: c.prompt.get_ref().clone(),
                options,
                correct: c.correct.as_ref().map(|c| c.get_ref().clone()),
                attention_check: flag(&c.attention_check),
                feedback: flag(&c.feedback),
            },
            None,
        ));
    }
    if let Some(rec) = &r.recognition {
        trial_only(cx, rec.span(), "recognition");
        let rr = rec.get_ref();
        let items = recognition_items(&rr.items, env.clips, cx)?;
        if let Some(p) = &rr.confidence
            && !(2..=10).contains(p.get_ref())
        {
            cx.err(p.span(), "confidence scale needs 2..=10 points");
        }
        return Some((
            StepKind::Recognition {
                prompt: rr
                    .prompt
                    .clone()
                    .unwrap_or_else(|| "Was this in the clip?".into()),
                items,
                confidence_points: rr.confidence.as_ref().map(|c| *c.get_ref()),
                feedback: flag(&rr.feedback),
            },
            None,
        ));
    }
    if let Some(ft) = &r.free_text {
        let f = ft.get_ref();
        if let Some(m) = &f.max_chars
            && !(1..=MAX_CHARS).contains(m.get_ref())
        {
            cx.err(
                m.span(),
                format!("max_chars = {}: use 1..={MAX_CHARS}", m.get_ref()),
            );
        }
        return Some((
            StepKind::FreeText {
                prompt: f.prompt.get_ref().clone(),
                max_chars: f.max_chars.as_ref().map_or(1000, |m| *m.get_ref()),
            },
            None,
        ));
    }
    if let Some(q) = &r.questionnaire {
        let inner = q.get_ref().id.clone();
        return questionnaire(q, cx).map(|q| (StepKind::Questionnaire(q), inner));
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
        "bipolar" => Scale::Bipolar,
        other => {
            cx.err_help(
                r.scale.span(),
                format!("unknown rating scale `{other}`"),
                did_you_mean(other, ["sam", "vas", "likert", "emotions", "bipolar"]).or_else(
                    || Some("use \"sam\", \"vas\", \"likert\", \"emotions\" or \"bipolar\"".into()),
                ),
            );
            return None;
        }
    };
    let dims: Option<Vec<String>> = r
        .dims
        .as_ref()
        .map(|v| v.get_ref().iter().map(|s| s.get_ref().clone()).collect());
    if r.dims.is_some() && r.items.is_some() {
        cx.err(raw.span(), "give `dims` or `items`, not both");
    }
    let mut pairs = Vec::new();
    let mut names: Option<Vec<String>> = None;
    if let Some(items) = &r.items {
        let mut v = Vec::new();
        for it in items.get_ref() {
            match (it.get_ref(), scale) {
                (RawRatingItem::Pair(p), Scale::Bipolar) => {
                    if p.len() != 2 {
                        cx.err_help(
                            it.span(),
                            format!("a bipolar item is a pair of labels; this has {}", p.len()),
                            Some("write e.g. [\"calm\", \"tense\"]".into()),
                        );
                        continue;
                    }
                    let (left, right) = (p[0].get_ref().clone(), p[1].get_ref().clone());
                    let name = format!("{}_{}", item_name(&left), item_name(&right));
                    pairs.push((left, right));
                    v.push(name);
                }
                (RawRatingItem::Name(n), Scale::Bipolar) => {
                    cx.err_help(
                        it.span(),
                        format!("a bipolar item is a pair of labels, not `{n}`"),
                        Some(format!("write [\"{n}\", \"<opposite>\"]")),
                    );
                }
                (RawRatingItem::Name(n), _) => v.push(n.clone()),
                (RawRatingItem::Pair(_), _) => {
                    cx.err_help(
                        it.span(),
                        "pairs of labels are items of a bipolar scale",
                        Some("use scale = \"bipolar\", or name the item".into()),
                    );
                }
            }
        }
        names = Some(v);
    }
    let given = dims.or(names);
    if given.as_ref().is_some_and(|g| g.len() > MAX_ITEMS) {
        cx.err(
            raw.span(),
            format!("a rating has at most {MAX_ITEMS} items"),
        );
        return None;
    }
    let items = match scale {
        Scale::Sam => {
            let dims = given.unwrap_or_else(|| vec!["valence".into(), "arousal".into()]);
            for (i, d) in dims.iter().enumerate() {
                if !["valence", "arousal", "dominance"].contains(&d.as_str()) {
                    let span = r
                        .dims
                        .as_ref()
                        .and_then(|v| v.get_ref().get(i).map(Spanned::span))
                        .unwrap_or_else(|| raw.span());
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
        Scale::Likert | Scale::Emotions | Scale::Bipolar => match given {
            Some(v) if !v.is_empty() => v,
            _ => {
                if r.items.as_ref().is_none_or(|i| i.get_ref().is_empty()) {
                    cx.err(raw.span(), "this scale needs `items` (what is rated)");
                }
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
                "a VAS is continuous (0–100); `points` applies to SAM, Likert and bipolar scales",
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
        pairs,
        prompt: r.prompt.clone(),
        anchors,
        points,
        shuffle_items: r.shuffle_items,
    })
}

/// A label as part of a column name: lowercase, runs of other characters as `_`.
fn item_name(label: &str) -> String {
    let mut out = String::new();
    for c in label.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_string()
}

fn recognition_items(
    file: &Spanned<String>,
    clips: &[Stimulus],
    cx: &mut Ctx<'_>,
) -> Option<Vec<RecognitionItem>> {
    let (path, text) = cx.read_aux(file, "recognition items file")?;
    let name = cx.aux_name(&path);
    let map = SourceMap::new(&name, &text);
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = match rdr.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            cx.diags
                .push(map.diag(0..0, format!("recognition items: not valid CSV: {e}")));
            return None;
        }
    };
    let want = ["clip", "item", "old", "congruent"];
    let idx: Vec<Option<usize>> = want
        .iter()
        .map(|w| headers.iter().position(|h| h == *w))
        .collect();
    if idx[..3].iter().any(Option::is_none) {
        cx.diags.push(map.diag(
            0..0,
            "recognition items need the columns `clip`, `item` and `old` (and optionally `congruent`)",
        ));
        return None;
    }
    let boolean = |s: &str| match s {
        "true" | "yes" | "1" | "old" => Some(true),
        "false" | "no" | "0" | "new" => Some(false),
        _ => None,
    };
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
        if out.len() >= MAX_RECOGNITION_ROWS {
            let at = rec.position().map_or(0, |p| p.byte() as usize);
            cx.diags.push(map.diag(
                at..at,
                format!("a recognition items file has at most {MAX_RECOGNITION_ROWS} rows"),
            ));
            return None;
        }
        let start = rec.position().map_or(0, |p| p.byte() as usize);
        let get = |k: usize| idx[k].and_then(|i| rec.get(i)).unwrap_or("");
        let at = |k: usize| start + super::field_offset(&text[start..], idx[k].expect("checked"));
        let clip = get(0);
        if !clips.iter().any(|c| c.id == clip) {
            let a = at(0);
            let mut d = map.diag(a..a, format!("unknown clip `{clip}`"));
            d.help = did_you_mean(clip, clips.iter().map(|c| c.id.as_str()));
            cx.diags.push(d);
        }
        let old = boolean(get(2)).unwrap_or_else(|| {
            let a = at(2);
            cx.diags.push(map.diag(
                a..a,
                format!("`old` must be true or false, not `{}`", get(2)),
            ));
            false
        });
        let congruent = match idx[3].map(|_| get(3)) {
            None | Some("") => None,
            Some(v) => match boolean(v) {
                Some(b) => Some(b),
                None => {
                    let a = at(3);
                    cx.diags.push(map.diag(
                        a..a,
                        format!("`congruent` must be true, false or empty, not `{v}`"),
                    ));
                    None
                }
            },
        };
        out.push(RecognitionItem {
            clip: clip.into(),
            item: get(1).into(),
            old,
            congruent,
        });
    }
    if out.is_empty() {
        cx.err(file.span(), "recognition items file has no rows");
    }
    Some(out)
}

fn questionnaire(raw: &Spanned<RawQuestionnaire>, cx: &mut Ctx<'_>) -> Option<Questionnaire> {
    let q = raw.get_ref();
    if let Some(id) = &q.id
        && !is_step_id(id.get_ref())
    {
        cx.err(
            id.span(),
            format!("questionnaire id `{}` is not a valid id", id.get_ref()),
        );
    }
    match (&q.builtin, &q.items) {
        (Some(b), None) => {
            let Some(mut inst) = instruments::builtin(b.get_ref()) else {
                cx.err_help(
                    b.span(),
                    format!("unknown built-in questionnaire `{}`", b.get_ref()),
                    did_you_mean(b.get_ref(), instruments::NAMES.iter().copied()).or_else(|| {
                        Some(format!(
                            "built-ins: {}",
                            instruments::NAMES
                                .iter()
                                .map(|n| format!("\"{n}\""))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    }),
                );
                return None;
            };
            if let Some(p) = &q.points {
                cx.err(
                    p.span(),
                    "a built-in questionnaire has its published response format; `points` applies to custom items",
                );
            }
            inst.id =
                q.id.as_ref()
                    .map(|i| i.get_ref().clone())
                    .unwrap_or_default();
            inst.shuffle_items = q.shuffle_items;
            Some(inst)
        }
        (None, Some(items)) => custom_questionnaire(q, items, cx),
        _ => {
            cx.err(
                raw.span(),
                "a questionnaire needs exactly one of `builtin` or `items`",
            );
            None
        }
    }
}

fn custom_questionnaire(
    q: &RawQuestionnaire,
    items: &Spanned<Vec<Spanned<RawQuestionItem>>>,
    cx: &mut Ctx<'_>,
) -> Option<Questionnaire> {
    if items.get_ref().is_empty() {
        cx.err(items.span(), "questionnaire has no items");
        return None;
    }
    if items.get_ref().len() > MAX_ITEMS {
        cx.err(
            items.span(),
            format!("a questionnaire has at most {MAX_ITEMS} items"),
        );
        return None;
    }
    let points = match &q.points {
        Some(p) if !(2..=11).contains(p.get_ref()) => {
            cx.err(p.span(), format!("{} points: use 2..=11", p.get_ref()));
            7
        }
        Some(p) => *p.get_ref(),
        None => 7,
    };
    let mut out = Vec::new();
    let mut scales: Vec<String> = Vec::new();
    let mut keys = BTreeSet::new();
    for (i, it) in items.get_ref().iter().enumerate() {
        let default_key = format!("item{}", i + 1);
        let item = match it.get_ref() {
            RawQuestionItem::Text(t) => QuestionnaireItem {
                key: default_key,
                text: t.clone(),
                response: ItemResponse::Points {
                    points,
                    labels: Vec::new(),
                },
                reverse: false,
                scales: Vec::new(),
            },
            RawQuestionItem::Table(t) => {
                let key = match &t.key {
                    Some(k) if !is_step_id(k.get_ref()) => {
                        cx.err(
                            k.span(),
                            format!("item key `{}` is not a valid id", k.get_ref()),
                        );
                        default_key
                    }
                    Some(k) => k.get_ref().clone(),
                    None => default_key,
                };
                let response = match &t.options {
                    Some(o) => {
                        let options: Vec<String> =
                            o.get_ref().iter().map(|s| s.get_ref().clone()).collect();
                        if options.len() < 2 {
                            cx.err(o.span(), "an item with `options` needs at least 2");
                        }
                        let mut seen = BTreeSet::new();
                        for s in o.get_ref() {
                            if !seen.insert(s.get_ref()) {
                                cx.err(s.span(), format!("duplicate option `{}`", s.get_ref()));
                            }
                        }
                        ItemResponse::Options { options }
                    }
                    None => ItemResponse::Points {
                        points,
                        labels: Vec::new(),
                    },
                };
                let reverse = flag(&t.reverse);
                let scale = t.scale.as_ref().map(|s| s.get_ref().clone());
                if let Some(s) = &t.scale
                    && !is_step_id(s.get_ref())
                {
                    cx.err(
                        s.span(),
                        format!(
                            "scale name `{}` is not a valid id (it names a data column)",
                            s.get_ref()
                        ),
                    );
                }
                if reverse && scale.is_none() {
                    cx.err_help(
                        t.reverse.as_ref().expect("set").span(),
                        "this item is reverse-keyed but belongs to no `scale`, so it is never scored",
                        Some("add `scale = \"<name>\"` to the item, or remove `reverse`".into()),
                    );
                }
                if let Some(s) = &scale
                    && !scales.contains(s)
                {
                    scales.push(s.clone());
                }
                QuestionnaireItem {
                    key,
                    text: t.text.get_ref().clone(),
                    response,
                    reverse,
                    scales: scale.into_iter().collect(),
                }
            }
        };
        if !keys.insert(item.key.clone()) {
            cx.err(it.span(), format!("duplicate item key `{}`", item.key));
        }
        out.push(item);
    }
    for s in &scales {
        if keys.contains(s) {
            cx.err(
                items.span(),
                format!("scale `{s}` has the same name as an item; its score column would collide"),
            );
        }
    }
    Some(Questionnaire {
        id: q
            .id
            .as_ref()
            .map(|i| i.get_ref().clone())
            .unwrap_or_default(),
        builtin: None,
        source: None,
        items: out,
        points,
        scales,
        shuffle_items: q.shuffle_items,
    })
}
