//! The design engine: a pure function from (protocol, participant, session) to a trial plan.
//!
//! Counterbalancing uses the participant's number `k`: with `n` rotations (the number of within
//! conditions under Latin-square pairing, else 1), `w` Williams rows (n for an even number of
//! levels, 2n for odd, else 1), `L = lcm(n, w)` and `B` between-subject groups, participant k
//! gets rotation `k mod n`, Williams row `k mod w` and group `((k - 1) div L) mod B`, so
//! participants 1..L·B cover every rotation and row in every group. Everything random comes from
//! one seeded [`Stream`]; the arithmetic on `k` cannot overflow (any `u64` is a valid number).

use std::collections::BTreeMap;

use cuelab_core::ParticipantId;
use serde::Serialize;

use crate::model::*;
use crate::order::{self, Constraint, OrderError, Rule};
use crate::rng::{Stream, seed_from_hash, session_seed};

/// One participant's session: the exact, reproducible list of trials.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrialPlan {
    pub participant: String,
    pub session: u32,
    /// The seed this plan was drawn with (recorded with the session).
    pub seed: u64,
    pub experiment: String,
    pub protocol_sha256: String,
    /// The participant's Latin-square rotation (0 when there is none).
    pub rotation: u64,
    /// The participant's row of the Williams square (block or trial order), if one is used.
    pub williams_row: Option<u64>,
    /// Between-subject factor levels assigned to this participant.
    pub between: BTreeMap<String, String>,
    /// Ids of the `[[before]]` steps that run (their `when` holds for this participant).
    pub before_steps: Vec<String>,
    /// Ids of the `[[after]]` steps that run.
    pub after_steps: Vec<String>,
    /// Drawn durations of the timed `before`/`after` steps that run: step id → ms.
    pub durations_ms: BTreeMap<String, u32>,
    /// Item order of shuffled `before`/`after` steps: step id → items as presented.
    pub item_order: BTreeMap<String, Vec<String>>,
    pub trials: Vec<PlannedTrial>,
}

/// One trial of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct PlannedTrial {
    /// Position in the session, from 1, practice trials included.
    pub index: u32,
    /// 0 for practice; blocks count from 1.
    pub block: u32,
    pub practice: bool,
    pub clip: Option<String>,
    pub soundtrack: Option<String>,
    /// Factor → level, within and between factors alike.
    pub conditions: BTreeMap<String, String>,
    /// A rest break comes before this trial.
    pub break_before: bool,
    /// Ids of the procedure steps that run in this trial, in order (their `when` holds).
    pub steps: Vec<String>,
    /// Every timed step that runs (fixation, blank) → its duration in ms, drawn when jittered.
    pub durations_ms: BTreeMap<String, u32>,
    /// The inter-trial interval before this trial, ms (0: none; always 0 for the first trial).
    pub iti_ms: u32,
    /// Shuffled steps (`shuffle_items`) → their items in the order presented.
    pub item_order: BTreeMap<String, Vec<String>>,
}

/// Why no plan could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// Counting proves that no order satisfies a constraint.
    #[error(
        "no order can satisfy {rule} for {key}: `{value}` occurs in {count} of {total} trials{block}"
    )]
    Infeasible {
        rule: String,
        key: String,
        value: String,
        count: usize,
        total: usize,
        block: String,
    },
    /// The solver gave up after its step budget.
    #[error(
        "no order found that satisfies {rules} after {steps} search steps{block}; the constraints are too tight for this design"
    )]
    NotFound {
        rules: String,
        steps: u64,
        block: String,
    },
    /// The design yields no test trials.
    #[error("the design yields no trials")]
    Empty,
    /// Checking every counterbalancing assignment would plan too many trials.
    #[error(
        "checking every counterbalancing assignment would plan {participants} participants × {trials} trials; the limit is {limit} planned trials"
    )]
    TooLarge {
        participants: u64,
        trials: u64,
        limit: u64,
    },
}

/// The most trials [`check_orderable`] plans (one participant per within-subject assignment).
pub const MAX_CHECKED_TRIALS: u64 = 1_000_000;

/// A trial before ordering.
#[derive(Debug, Clone)]
struct Item {
    clip: Option<String>,
    soundtrack: Option<String>,
    conditions: BTreeMap<String, String>,
}

/// The protocol's seed: fixed in the protocol, or derived from its content hash.
pub fn protocol_seed(p: &Protocol) -> u64 {
    p.design()
        .seed
        .unwrap_or_else(|| seed_from_hash(p.sha256()))
}

/// Number of Latin-square rotations (1 when the pairing does not rotate).
pub fn n_rotations(p: &Protocol) -> u64 {
    match p.design().pairing {
        Pairing::LatinSquare => within_conditions(p).len() as u64,
        _ => 1,
    }
}

/// Number of between-subject groups.
pub fn n_groups(p: &Protocol) -> u64 {
    p.factors()
        .iter()
        .filter(|f| !f.within)
        .map(|f| f.levels.len() as u64)
        .product()
}

/// The factor whose levels a Williams square orders, if any (block or trial order).
fn williams_factor(p: &Protocol) -> Option<&Factor> {
    let name = match &p.design().blocks {
        Blocks::ByFactor {
            factor,
            order: BlockOrder::Williams,
        } => Some(factor),
        _ => p.design().order.williams.as_ref(),
    }?;
    p.factors().iter().find(|f| f.name == *name)
}

/// Number of Williams rows (1 when no Williams order is used).
pub fn n_williams_rows(p: &Protocol) -> u64 {
    williams_factor(p).map_or(1, |f| williams(f.levels.len()).len() as u64)
}

/// A balanced Latin square (Williams 1949) for `n` conditions: n rows for even n, 2n for odd.
/// Row 0 is 0, 1, n−1, 2, n−2, …; row r adds r mod n; for odd n, rows n..2n−1 are rows
/// 0..n−1 reversed. Across the rows each condition immediately precedes every other equally
/// often (once for even n, twice for odd n).
pub fn williams(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return Vec::new();
    }
    let mut first = Vec::with_capacity(n);
    let (mut lo, mut hi) = (1, n - 1);
    first.push(0);
    while first.len() < n {
        first.push(lo);
        lo += 1;
        if first.len() < n {
            first.push(hi);
            hi -= 1;
        }
    }
    let mut rows: Vec<Vec<usize>> = (0..n)
        .map(|r| first.iter().map(|&c| (c + r) % n).collect())
        .collect();
    if n % 2 == 1 {
        let reversed: Vec<Vec<usize>> = rows
            .iter()
            .map(|r| r.iter().rev().copied().collect())
            .collect();
        rows.extend(reversed);
    }
    rows
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Participants per cycle of the within-subject counterbalancing (rotations and Williams rows).
fn within_cycle(p: &Protocol) -> u64 {
    let (n, w) = (n_rotations(p), n_williams_rows(p));
    n / gcd(n, w) * w
}

/// How many participants make one full counterbalancing cycle (saturating: validation keeps
/// designs far below `u64::MAX`).
pub fn cycle_length(p: &Protocol) -> u64 {
    within_cycle(p).saturating_mul(n_groups(p))
}

/// Every within-subject condition: the crossing of within factors (last factor fastest).
fn within_conditions(p: &Protocol) -> Vec<Vec<(String, String)>> {
    let mut out: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for f in p.factors().iter().filter(|f| f.within) {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                f.levels.iter().map(move |l| {
                    let mut c = prefix.clone();
                    c.push((f.name.clone(), l.clone()));
                    c
                })
            })
            .collect();
    }
    out
}

fn between_levels(p: &Protocol, group: u64) -> Vec<(String, String)> {
    let between: Vec<&Factor> = p.factors().iter().filter(|f| !f.within).collect();
    let mut rest = group;
    let mut out = Vec::new();
    for f in between.iter().rev() {
        let n = f.levels.len() as u64;
        out.push((f.name.clone(), f.levels[(rest % n) as usize].clone()));
        rest /= n;
    }
    out.reverse();
    out
}

fn soundtrack_of(p: &Protocol, conditions: &BTreeMap<String, String>) -> Option<String> {
    let f = p.factors().iter().find(|f| f.soundtrack)?;
    conditions.get(&f.name).filter(|l| *l != SILENCE).cloned()
}

/// Participant k's rotation, Williams row and group.
fn assignment(p: &Protocol, k: u64) -> (u64, u64, u64) {
    let b = n_groups(p);
    let rotation = k % n_rotations(p);
    let row = k % n_williams_rows(p);
    let group = match k.checked_sub(1) {
        Some(k1) => (k1 / within_cycle(p)) % b,
        None => b - 1,
    };
    (rotation, row, group)
}

/// The test trials of one participant, before ordering (repetitions included).
fn items(p: &Protocol, rotation: u64, group: u64) -> Vec<Item> {
    let between = between_levels(p, group);
    let conds = within_conditions(p);
    let make = |clip: Option<&str>, within: &[(String, String)]| {
        let conditions: BTreeMap<String, String> = within.iter().chain(&between).cloned().collect();
        Item {
            clip: clip.map(str::to_string),
            soundtrack: soundtrack_of(p, &conditions),
            conditions,
        }
    };
    let clips: Vec<&Stimulus> = p.clips().iter().filter(|c| !c.practice).collect();
    let mut one: Vec<Item> = Vec::new();
    match &p.design().pairing {
        Pairing::ConditionsFile(rows) => {
            for row in rows {
                let mut item = make(row.clip.as_deref(), &row.levels);
                if row.soundtrack.is_some() {
                    item.soundtrack = row.soundtrack.clone();
                }
                one.push(item);
            }
        }
        _ if clips.is_empty() => one.extend(conds.iter().map(|c| make(None, c))),
        Pairing::Crossed => {
            for clip in &clips {
                one.extend(conds.iter().map(|c| make(Some(&clip.id), c)));
            }
        }
        Pairing::LatinSquare => {
            let n = conds.len() as u64;
            for (i, clip) in clips.iter().enumerate() {
                let c = &conds[((i as u64 + rotation) % n) as usize];
                one.push(make(Some(&clip.id), c));
            }
        }
        Pairing::Fixed(pairs) => {
            let st = p
                .factors()
                .iter()
                .find(|f| f.soundtrack)
                .map(|f| f.name.clone());
            for (clip, level) in pairs {
                for c in conds
                    .iter()
                    .filter(|c| c.iter().all(|(f, l)| Some(f) != st.as_ref() || l == level))
                {
                    let mut item = make(Some(clip), c);
                    if let Some(st) = &st {
                        item.conditions.insert(st.clone(), level.clone());
                        item.soundtrack = soundtrack_of(p, &item.conditions);
                    }
                    one.push(item);
                }
            }
        }
    }
    let reps = p.design().repetitions as usize;
    let mut all = Vec::with_capacity(one.len() * reps);
    for _ in 0..reps {
        all.extend(one.iter().cloned());
    }
    all
}

fn key_value<'i>(item: &'i Item, key: &Key) -> Option<&'i str> {
    match key {
        Key::Clip => item.clip.as_deref(),
        Key::Soundtrack => item.soundtrack.as_deref(),
        Key::Factor(f) => item.conditions.get(f).map(String::as_str),
    }
}

/// Orders one block's items under the protocol's constraints.
fn order_block(
    p: &Protocol,
    mut items: Vec<Item>,
    rng: &mut Stream,
    block_label: &str,
) -> Result<Vec<Item>, PlanError> {
    let ord = &p.design().order;
    if !ord.shuffle {
        return Ok(items);
    }
    let rules: Vec<(Rule, &Key)> = ord
        .max_run
        .iter()
        .map(|(k, n)| (Rule::MaxRun(*n), k))
        .chain(
            ord.min_distance
                .iter()
                .map(|(k, n)| (Rule::MinDistance(*n), k)),
        )
        .collect();
    // Per rule: the distinct values and each item's code.
    let mut value_names: Vec<Vec<String>> = Vec::new();
    let mut codes: Vec<Vec<u32>> = Vec::new();
    for (_, key) in &rules {
        let mut names: Vec<String> = Vec::new();
        let mut c = Vec::with_capacity(items.len());
        for item in &items {
            let v = key_value(item, key).unwrap_or("(none)");
            let code = match names.iter().position(|n| n == v) {
                Some(i) => i,
                None => {
                    names.push(v.to_string());
                    names.len() - 1
                }
            };
            c.push(code as u32);
        }
        value_names.push(names);
        codes.push(c);
    }
    let constraints: Vec<Constraint<'_>> = rules
        .iter()
        .zip(&codes)
        .map(|((rule, _), c)| Constraint {
            rule: *rule,
            codes: c,
        })
        .collect();
    let describe = |rule: &Rule| match rule {
        Rule::MaxRun(n) => format!("max_run = {n}"),
        Rule::MinDistance(n) => format!("min_distance = {n}"),
    };
    match order::solve(items.len(), &constraints, rng) {
        Ok(perm) => {
            let mut slots: Vec<Option<Item>> = items.drain(..).map(Some).collect();
            Ok(perm
                .into_iter()
                .map(|i| slots[i].take().expect("a permutation"))
                .collect())
        }
        Err(OrderError::Infeasible {
            constraint,
            value,
            count,
            total,
        }) => Err(PlanError::Infeasible {
            rule: describe(&rules[constraint].0),
            key: rules[constraint].1.to_string(),
            value: value_names[constraint][value as usize].clone(),
            count,
            total,
            block: block_label.to_string(),
        }),
        Err(OrderError::BudgetExhausted { steps }) => Err(PlanError::NotFound {
            rules: rules
                .iter()
                .map(|(r, k)| format!("{} for {k}", describe(r)))
                .collect::<Vec<_>>()
                .join(", "),
            steps,
            block: block_label.to_string(),
        }),
    }
}

/// The trial plan of one participant's session. Pure: the same inputs give the same plan on
/// every machine.
pub fn plan(
    p: &Protocol,
    participant: &ParticipantId,
    session: u32,
) -> Result<TrialPlan, PlanError> {
    let k = participant.number();
    let (rotation, row, group) = assignment(p, k);
    let williams_row = williams_factor(p).map(|_| row);
    let seed = session_seed(protocol_seed(p), participant.label(), session);
    let mut rng = Stream::new(seed);
    let test_items = items(p, rotation, group);
    if test_items.is_empty() {
        return Err(PlanError::Empty);
    }

    // Blocks: groups of items in block order, each ordered under the constraints.
    let mut blocks: Vec<Vec<Item>> = Vec::new();
    match &p.design().blocks {
        Blocks::None if p.design().order.williams.is_some() => {
            blocks.push(williams_trials(p, &test_items, row));
        }
        Blocks::None => blocks.push(order_block(p, test_items.clone(), &mut rng, "")?),
        Blocks::Count(n) => {
            let ordered = order_block(p, test_items.clone(), &mut rng, "")?;
            let n = (*n as usize).min(ordered.len()).max(1);
            let size = ordered.len().div_ceil(n);
            blocks.extend(ordered.chunks(size).map(<[Item]>::to_vec));
        }
        Blocks::ByFactor { factor, order } => {
            let f = p
                .factors()
                .iter()
                .find(|f| f.name == *factor)
                .expect("validated");
            let mut levels: Vec<String> = f.levels.clone();
            match order {
                BlockOrder::Fixed => {}
                BlockOrder::Shuffle => rng.shuffle(&mut levels),
                BlockOrder::Rotate => {
                    let n = levels.len();
                    levels.rotate_left((k % n as u64) as usize);
                }
                BlockOrder::Williams => {
                    let square = williams(levels.len());
                    levels = square[row as usize % square.len()]
                        .iter()
                        .map(|&i| f.levels[i].clone())
                        .collect();
                }
            }
            for level in levels {
                let in_block: Vec<Item> = test_items
                    .iter()
                    .filter(|i| i.conditions.get(factor) == Some(&level))
                    .cloned()
                    .collect();
                if in_block.is_empty() {
                    continue;
                }
                let label = format!(" (in the block of {factor} = {level})");
                blocks.push(order_block(p, in_block, &mut rng, &label)?);
            }
        }
    }

    let mut trials = Vec::new();
    let practice: Vec<Item> = match &p.design().practice {
        Practice::None => Vec::new(),
        Practice::Random(n) if has_practice_material(p) => {
            (0..*n).map(|_| practice_item(p, group, &mut rng)).collect()
        }
        Practice::Random(n) => (0..*n)
            .map(|_| test_items[rng.below(test_items.len() as u64) as usize].clone())
            .collect(),
        Practice::Trials(list) => list
            .iter()
            .map(|(clip, soundtrack)| {
                let mut conditions: BTreeMap<String, String> =
                    between_levels(p, group).into_iter().collect();
                // A practice trial carries its soundtrack's id as the soundtrack factor's value.
                if let Some(f) = p.factors().iter().find(|f| f.soundtrack) {
                    conditions.insert(
                        f.name.clone(),
                        soundtrack.clone().unwrap_or_else(|| SILENCE.to_string()),
                    );
                }
                Item {
                    clip: clip.clone(),
                    soundtrack: soundtrack.clone(),
                    conditions,
                }
            })
            .collect(),
    };
    for item in practice {
        trials.push(PlannedTrial {
            index: trials.len() as u32 + 1,
            block: 0,
            practice: true,
            clip: item.clip,
            soundtrack: item.soundtrack,
            conditions: item.conditions,
            break_before: false,
            ..PlannedTrial::default()
        });
    }
    let n_practice = trials.len();
    let break_every = p.design().break_every as usize;
    let mut test_pos = 0usize;
    for (b, block) in blocks.into_iter().enumerate() {
        for (j, item) in block.into_iter().enumerate() {
            let new_block = j == 0 && b > 0;
            let periodic = break_every > 0 && test_pos > 0 && test_pos.is_multiple_of(break_every);
            let after_practice = test_pos == 0 && n_practice > 0;
            trials.push(PlannedTrial {
                index: trials.len() as u32 + 1,
                block: b as u32 + 1,
                practice: false,
                clip: item.clip,
                soundtrack: item.soundtrack,
                conditions: item.conditions,
                break_before: new_block || periodic || after_practice,
                ..PlannedTrial::default()
            });
            test_pos += 1;
        }
    }
    // Drawn after the order, so a protocol without jitter or shuffled items keeps its plans.
    for t in &mut trials {
        fill_trial(p, t, &mut rng);
    }
    let between: BTreeMap<String, String> = between_levels(p, group).into_iter().collect();
    let mut durations_ms = BTreeMap::new();
    let mut item_order = BTreeMap::new();
    let mut session_steps = |steps: &[Step], rng: &mut Stream| -> Vec<String> {
        let lookup = |var: &str| between.get(var).cloned();
        let mut ids = Vec::new();
        for step in steps {
            let drawn = draw_step(step, rng);
            if step.when.as_ref().is_none_or(|c| c.eval(&lookup)) {
                ids.push(step.id.clone());
                if let Some(ms) = drawn.0 {
                    durations_ms.insert(step.id.clone(), ms);
                }
                if let Some(order) = drawn.1 {
                    item_order.insert(step.id.clone(), order);
                }
            }
        }
        ids
    };
    let before_steps = session_steps(p.before(), &mut rng);
    let after_steps = session_steps(p.after(), &mut rng);
    Ok(TrialPlan {
        before_steps,
        after_steps,
        durations_ms,
        item_order,
        participant: participant.label().to_string(),
        session,
        seed,
        experiment: p.experiment().id.clone(),
        protocol_sha256: p.sha256().to_string(),
        rotation,
        williams_row,
        between,
        trials,
    })
}

/// A trial-level Williams order: each repetition's trials in the order of the participant's row
/// (validation guarantees one trial per level per repetition).
fn williams_trials(p: &Protocol, items: &[Item], row: u64) -> Vec<Item> {
    let f = williams_factor(p).expect("validated");
    let square = williams(f.levels.len());
    let order = &square[row as usize % square.len()];
    let n = f.levels.len();
    let mut out = Vec::with_capacity(items.len());
    for rep in items.chunks(n) {
        for &level in order {
            if let Some(item) = rep
                .iter()
                .find(|i| i.conditions.get(&f.name) == Some(&f.levels[level]))
            {
                out.push(item.clone());
            }
        }
    }
    out
}

/// Is any clip or soundtrack declared `practice = true`?
fn has_practice_material(p: &Protocol) -> bool {
    p.stimuli().any(|s| s.practice)
}

/// One practice trial drawn from the practice material: a practice clip (or a test clip when no
/// clip is practice-only) with a practice soundtrack (or silence when no soundtrack is).
fn practice_item(p: &Protocol, group: u64, rng: &mut Stream) -> Item {
    let pick = |pool: Vec<&Stimulus>, rng: &mut Stream| -> Option<String> {
        (!pool.is_empty()).then(|| pool[rng.below(pool.len() as u64) as usize].id.clone())
    };
    let practice_clips: Vec<&Stimulus> = p.clips().iter().filter(|c| c.practice).collect();
    let clip = if practice_clips.is_empty() {
        pick(p.clips().iter().collect(), rng)
    } else {
        pick(practice_clips, rng)
    };
    let soundtrack = pick(p.soundtracks().iter().filter(|s| s.practice).collect(), rng);
    let mut conditions: BTreeMap<String, String> = between_levels(p, group).into_iter().collect();
    if let Some(f) = p.factors().iter().find(|f| f.soundtrack) {
        conditions.insert(
            f.name.clone(),
            soundtrack.clone().unwrap_or_else(|| SILENCE.to_string()),
        );
    }
    Item {
        clip,
        soundtrack,
        conditions,
    }
}

/// Draws a trial's inter-trial interval, step durations and item orders, and lists the steps
/// whose `when` holds. Every step draws whether or not it runs, so a condition never shifts the
/// draws of later steps.
fn fill_trial(p: &Protocol, t: &mut PlannedTrial, rng: &mut Stream) {
    t.iti_ms = match p.design().iti_ms {
        _ if t.index == 1 => 0,
        Duration::Fixed(ms) => ms,
        Duration::Uniform { min, max } => draw_uniform(min, max, rng),
    };
    let lookup = |var: &str| -> Option<String> {
        match var {
            "clip" => t.clip.clone(),
            "soundtrack" => Some(t.soundtrack.clone().unwrap_or_else(|| SILENCE.to_string())),
            factor => t.conditions.get(factor).cloned(),
        }
    };
    let mut steps = Vec::new();
    let mut durations_ms = BTreeMap::new();
    let mut item_order = BTreeMap::new();
    for step in p.procedure() {
        let (ms, order) = draw_step(step, rng);
        if step.when.as_ref().is_none_or(|c| c.eval(&lookup)) {
            steps.push(step.id.clone());
            if let Some(ms) = ms {
                durations_ms.insert(step.id.clone(), ms);
            }
            if let Some(order) = order {
                item_order.insert(step.id.clone(), order);
            }
        }
    }
    t.steps = steps;
    t.durations_ms = durations_ms;
    t.item_order = item_order;
}

/// A step's duration (timed steps) and item order (shuffled steps), drawn from the stream only
/// when jittered or shuffled.
fn draw_step(step: &Step, rng: &mut Stream) -> (Option<u32>, Option<Vec<String>>) {
    let ms = step.duration().map(|d| match *d {
        Duration::Fixed(ms) => ms,
        Duration::Uniform { min, max } => draw_uniform(min, max, rng),
    });
    let items: Option<Vec<String>> = match &step.kind {
        StepKind::Rating(r) if r.shuffle_items => Some(r.items.clone()),
        StepKind::Questionnaire(q) if q.shuffle_items => {
            Some(q.items.iter().map(|i| i.key.clone()).collect())
        }
        _ => None,
    };
    let order = items.map(|mut items| {
        rng.shuffle(&mut items);
        items
    });
    (ms, order)
}

/// A whole number of ms, uniform on `min..=max`.
fn draw_uniform(min: u32, max: u32, rng: &mut Stream) -> u32 {
    let span = u64::from(max - min) + 1;
    min + rng.below(span) as u32
}

/// One cell of a counterbalancing table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cell {
    pub clip: Option<String>,
    pub conditions: BTreeMap<String, String>,
    pub count: u64,
}

/// How often each clip × condition cell occurs (test trials only) over participants 1..=n, who
/// gets which assignment, and how often each condition immediately follows another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Counterbalance {
    pub participants: u64,
    /// Participants per full counterbalancing cycle.
    pub cycle: u64,
    pub cells: Vec<Cell>,
    /// The assignment sheet: one row per participant.
    pub assignments: Vec<Assignment>,
    /// Ordered pairs of consecutive conditions (of blocks, when blocks are by a factor; else of
    /// test trials) and how often they occur.
    pub carryover: Vec<Carryover>,
}

/// What one participant is assigned (what a research assistant prints).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assignment {
    pub participant: String,
    /// The Latin-square rotation (0 when there is none).
    pub rotation: u64,
    /// The between-subject group: its levels joined with `|` (empty without between factors).
    pub group: String,
    /// The order of the block levels (blocks by a factor) or of the Williams-ordered levels;
    /// `None` when trials are shuffled without blocks.
    pub order: Option<Vec<String>>,
    /// The Williams row, if a Williams order is used.
    pub williams_row: Option<u64>,
}

/// `then` immediately followed `first` this many times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Carryover {
    pub first: String,
    pub then: String,
    pub count: u64,
}

/// The counterbalancing table for participants `1..=n`. Every cell the design can produce is
/// listed, including those that no participant saw (count 0).
pub fn counterbalance(p: &Protocol, n: u64) -> Result<Counterbalance, PlanError> {
    let mut counts: BTreeMap<(Option<String>, BTreeMap<String, String>), u64> = BTreeMap::new();
    // The possible cells: every rotation's and group's items.
    for rotation in 0..n_rotations(p) {
        for group in 0..n_groups(p) {
            for item in items(p, rotation, group) {
                counts.entry((item.clip, item.conditions)).or_insert(0);
            }
        }
    }
    let within: Vec<&str> = p
        .factors()
        .iter()
        .filter(|f| f.within)
        .map(|f| f.name.as_str())
        .collect();
    let block_factor = match &p.design().blocks {
        Blocks::ByFactor { factor, .. } => Some(factor.clone()),
        _ => None,
    };
    let label = |t: &PlannedTrial| -> String {
        match &block_factor {
            Some(f) => t.conditions.get(f).cloned().unwrap_or_default(),
            None => within
                .iter()
                .map(|f| t.conditions.get(*f).map_or("", String::as_str))
                .collect::<Vec<_>>()
                .join("|"),
        }
    };
    let mut assignments = Vec::new();
    let mut pairs: BTreeMap<(String, String), u64> = BTreeMap::new();
    for k in 1..=n {
        let id = ParticipantId::parse(&k.to_string()).expect("a number is a valid id");
        let plan = plan(p, &id, 1)?;
        let test: Vec<&PlannedTrial> = plan.trials.iter().filter(|t| !t.practice).collect();
        // The sequence whose carryover matters: blocks (one label per block) or trials.
        let mut seq: Vec<String> = Vec::new();
        let mut last_block = None;
        for t in &test {
            if block_factor.is_none() || last_block != Some(t.block) {
                seq.push(label(t));
                last_block = Some(t.block);
            }
        }
        for w in seq.windows(2) {
            *pairs.entry((w[0].clone(), w[1].clone())).or_insert(0) += 1;
        }
        let order = if block_factor.is_some() || plan.williams_row.is_some() {
            let mut o: Vec<String> = Vec::new();
            for s in &seq {
                if !o.contains(s) {
                    o.push(s.clone());
                }
            }
            Some(o)
        } else {
            None
        };
        assignments.push(Assignment {
            participant: plan.participant.clone(),
            rotation: plan.rotation,
            group: plan.between.values().cloned().collect::<Vec<_>>().join("|"),
            order,
            williams_row: plan.williams_row,
        });
        for t in plan.trials.into_iter().filter(|t| !t.practice) {
            *counts.entry((t.clip, t.conditions)).or_insert(0) += 1;
        }
    }
    Ok(Counterbalance {
        participants: n,
        cycle: cycle_length(p),
        assignments,
        carryover: pairs
            .into_iter()
            .map(|((first, then), count)| Carryover { first, then, count })
            .collect(),
        cells: counts
            .into_iter()
            .map(|((clip, conditions), count)| Cell {
                clip,
                conditions,
                count,
            })
            .collect(),
    })
}

/// Checks that every distinct within-subject assignment (rotation × Williams row) can be
/// ordered, so that an impossible design is found before any participant sits down. Groups are
/// not checked separately: between-subject levels are never keys of an ordering constraint, so
/// they do not change what can be ordered. Bounded by [`MAX_CHECKED_TRIALS`].
pub fn check_orderable(p: &Protocol) -> Result<(), PlanError> {
    let participants = within_cycle(p);
    let first = plan(p, &ParticipantId::parse("1").expect("a valid id"), 1)?;
    let trials = first.trials.len() as u64;
    if participants.saturating_mul(trials) > MAX_CHECKED_TRIALS {
        return Err(PlanError::TooLarge {
            participants,
            trials,
            limit: MAX_CHECKED_TRIALS,
        });
    }
    for k in 2..=participants {
        let id = ParticipantId::parse(&k.to_string()).expect("a number is a valid id");
        plan(p, &id, 1)?;
    }
    Ok(())
}
