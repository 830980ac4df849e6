//! The design engine: a pure function from (protocol, participant, session) to a trial plan.
//!
//! Counterbalancing uses the participant's number `k`: with `n` rotations (the number of within
//! conditions under Latin-square pairing, else 1) and `B` between-subject groups, participant k
//! gets rotation `k mod n` and group `((k - 1) div n) mod B`, so participants 1..n·B cover every
//! rotation in every group. Everything random comes from one seeded [`Stream`].

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
    /// Between-subject factor levels assigned to this participant.
    pub between: BTreeMap<String, String>,
    pub trials: Vec<PlannedTrial>,
}

/// One trial of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
}

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

/// How many participants make one full counterbalancing cycle.
pub fn cycle_length(p: &Protocol) -> u64 {
    n_rotations(p) * n_groups(p)
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

/// Participant k's rotation and group.
fn assignment(p: &Protocol, k: u64) -> (u64, u64) {
    let n = n_rotations(p);
    let b = n_groups(p);
    let rotation = k % n;
    let group = ((k + n * b - 1) / n) % b;
    (rotation, group)
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
        _ if p.clips().is_empty() => one.extend(conds.iter().map(|c| make(None, c))),
        Pairing::Crossed => {
            for clip in p.clips() {
                one.extend(conds.iter().map(|c| make(Some(&clip.id), c)));
            }
        }
        Pairing::LatinSquare => {
            let n = conds.len() as u64;
            for (i, clip) in p.clips().iter().enumerate() {
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
    let (rotation, group) = assignment(p, k);
    let seed = session_seed(protocol_seed(p), participant.label(), session);
    let mut rng = Stream::new(seed);
    let test_items = items(p, rotation, group);
    if test_items.is_empty() {
        return Err(PlanError::Empty);
    }

    // Blocks: groups of items in block order, each ordered under the constraints.
    let mut blocks: Vec<Vec<Item>> = Vec::new();
    match &p.design().blocks {
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
        Practice::Random(n) => (0..*n)
            .map(|_| test_items[rng.below(test_items.len() as u64) as usize].clone())
            .collect(),
        Practice::Trials(list) => list
            .iter()
            .map(|(clip, soundtrack)| Item {
                clip: clip.clone(),
                soundtrack: soundtrack.clone(),
                conditions: between_levels(p, group).into_iter().collect(),
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
            });
            test_pos += 1;
        }
    }
    Ok(TrialPlan {
        participant: participant.label().to_string(),
        session,
        seed,
        experiment: p.experiment().id.clone(),
        protocol_sha256: p.sha256().to_string(),
        rotation,
        between: between_levels(p, group).into_iter().collect(),
        trials,
    })
}

/// One cell of a counterbalancing table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cell {
    pub clip: Option<String>,
    pub conditions: BTreeMap<String, String>,
    pub count: u64,
}

/// How often each clip × condition cell occurs (test trials only) over participants 1..=n.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Counterbalance {
    pub participants: u64,
    pub cells: Vec<Cell>,
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
    for k in 1..=n {
        let id = ParticipantId::parse(&k.to_string()).expect("a number is a valid id");
        for t in plan(p, &id, 1)?.trials.into_iter().filter(|t| !t.practice) {
            *counts.entry((t.clip, t.conditions)).or_insert(0) += 1;
        }
    }
    Ok(Counterbalance {
        participants: n,
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

/// Checks that every distinct assignment (rotation × group) can be ordered, so that an
/// impossible design is found before any participant sits down.
pub fn check_orderable(p: &Protocol) -> Result<(), PlanError> {
    for k in 1..=cycle_length(p) {
        let id = ParticipantId::parse(&k.to_string()).expect("a number is a valid id");
        plan(p, &id, 1)?;
    }
    Ok(())
}
