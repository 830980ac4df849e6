//! The ordering solver: a seeded random order of trials that satisfies `max_run` and
//! `min_distance` constraints, or a reason why none exists. Never hangs: the search has a fixed
//! budget of steps, and infeasible requests are mostly caught by counting before any search.
//!
//! Trials that agree on every constrained key are interchangeable for the search, so it orders
//! *types* (distinct key tuples) and deals out the concrete trials of each type afterwards.

use crate::rng::Stream;

/// One ordering constraint over a key (a column of per-trial codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// No more than this many consecutive trials share a value.
    MaxRun(u32),
    /// Trials sharing a value are at least this many positions apart (1: no constraint).
    MinDistance(u32),
}

/// A constraint over one key: `codes[i]` is trial i's value of the key.
#[derive(Debug, Clone)]
pub struct Constraint<'a> {
    pub rule: Rule,
    pub codes: &'a [u32],
}

/// Why no order was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderError {
    /// Counting proves no order exists: value code `value` of constraint `constraint` occurs
    /// `count` times among `total` trials.
    Infeasible {
        constraint: usize,
        value: u32,
        count: usize,
        total: usize,
    },
    /// The search used its whole budget without finding an order.
    BudgetExhausted { steps: u64 },
}

/// Steps per attempt and the number of attempts: 50 × 20,000 node expansions at most.
const STEPS_PER_ATTEMPT: u64 = 20_000;
const ATTEMPTS: u64 = 50;

/// A random order of `n` trials (a permutation of `0..n`) satisfying every constraint.
pub fn solve(
    n: usize,
    constraints: &[Constraint<'_>],
    rng: &mut Stream,
) -> Result<Vec<usize>, OrderError> {
    let active: Vec<&Constraint<'_>> = constraints
        .iter()
        .filter(|c| !matches!(c.rule, Rule::MinDistance(d) if d <= 1))
        .collect();
    if active.is_empty() {
        let mut order: Vec<usize> = (0..n).collect();
        rng.shuffle(&mut order);
        return Ok(order);
    }
    precheck(n, constraints)?;

    // Group trials into types by their tuple of constrained codes (first-seen order).
    let mut type_keys: Vec<Vec<u32>> = Vec::new();
    let mut type_items: Vec<Vec<usize>> = Vec::new();
    for i in 0..n {
        let key: Vec<u32> = active.iter().map(|c| c.codes[i]).collect();
        match type_keys.iter().position(|k| *k == key) {
            Some(t) => type_items[t].push(i),
            None => {
                type_keys.push(key);
                type_items.push(vec![i]);
            }
        }
    }
    for items in &mut type_items {
        rng.shuffle(items);
    }
    let n_values: Vec<usize> = active
        .iter()
        .map(|c| c.codes.iter().copied().max().map_or(0, |m| m as usize + 1))
        .collect();

    let mut total_steps = 0;
    for _ in 0..ATTEMPTS {
        let mut search = Search::new(&active, &type_keys, &type_items, &n_values, n);
        if let Some(types) = search.run(rng, STEPS_PER_ATTEMPT) {
            let mut next = vec![0usize; type_items.len()];
            return Ok(types
                .into_iter()
                .map(|t| {
                    let item = type_items[t][next[t]];
                    next[t] += 1;
                    item
                })
                .collect());
        }
        total_steps += search.steps;
    }
    Err(OrderError::BudgetExhausted { steps: total_steps })
}

/// Necessary conditions, by counting: a value that occurs too often cannot be spread out.
fn precheck(n: usize, constraints: &[Constraint<'_>]) -> Result<(), OrderError> {
    for (ci, c) in constraints.iter().enumerate() {
        let mut counts: Vec<usize> = Vec::new();
        for &v in c.codes {
            let v = v as usize;
            if counts.len() <= v {
                counts.resize(v + 1, 0);
            }
            counts[v] += 1;
        }
        for (v, &count) in counts.iter().enumerate() {
            let ok = match c.rule {
                Rule::MaxRun(r) => count <= r as usize * (n - count + 1),
                Rule::MinDistance(d) => count == 0 || (count - 1) * (d as usize) < n,
            };
            if !ok {
                return Err(OrderError::Infeasible {
                    constraint: ci,
                    value: v as u32,
                    count,
                    total: n,
                });
            }
        }
    }
    Ok(())
}

struct Search<'s, 'a> {
    constraints: &'s [&'s Constraint<'a>],
    type_keys: &'s [Vec<u32>],
    remaining: Vec<usize>,
    /// Per constraint, per value: how many trials with that value are still to place.
    value_remaining: Vec<Vec<usize>>,
    /// Per constraint, per value: position of the last placement (or None).
    last_pos: Vec<Vec<Option<usize>>>,
    seq: Vec<usize>,
    n: usize,
    steps: u64,
}

impl<'s, 'a> Search<'s, 'a> {
    fn new(
        constraints: &'s [&'s Constraint<'a>],
        type_keys: &'s [Vec<u32>],
        type_items: &[Vec<usize>],
        n_values: &[usize],
        n: usize,
    ) -> Self {
        let remaining: Vec<usize> = type_items.iter().map(Vec::len).collect();
        let mut value_remaining: Vec<Vec<usize>> = n_values.iter().map(|&m| vec![0; m]).collect();
        for (t, key) in type_keys.iter().enumerate() {
            for (ci, &v) in key.iter().enumerate() {
                value_remaining[ci][v as usize] += remaining[t];
            }
        }
        Search {
            constraints,
            type_keys,
            remaining,
            value_remaining,
            last_pos: n_values.iter().map(|&m| vec![None; m]).collect(),
            seq: Vec::with_capacity(n),
            n,
            steps: 0,
        }
    }

    /// Length of the run of value `v` of constraint `ci` at the end of the sequence.
    fn tail_run(&self, ci: usize, v: u32) -> usize {
        self.seq
            .iter()
            .rev()
            .take_while(|&&t| self.type_keys[t][ci] == v)
            .count()
    }

    fn allowed(&self, t: usize) -> bool {
        let pos = self.seq.len();
        self.constraints.iter().enumerate().all(|(ci, c)| {
            let v = self.type_keys[t][ci];
            match c.rule {
                Rule::MaxRun(r) => self.tail_run(ci, v) < r as usize,
                Rule::MinDistance(d) => {
                    self.last_pos[ci][v as usize].is_none_or(|p| pos - p >= d as usize)
                }
            }
        })
    }

    /// After a placement: can the remaining trials still respect every `max_run`?
    fn still_feasible(&self) -> bool {
        let left = self.n - self.seq.len();
        self.constraints.iter().enumerate().all(|(ci, c)| {
            let Rule::MaxRun(r) = c.rule else { return true };
            let r = r as usize;
            self.value_remaining[ci]
                .iter()
                .enumerate()
                .all(|(v, &count)| {
                    let others = left - count;
                    let run = self.tail_run(ci, v as u32);
                    count + run <= r * (others + 1)
                })
        })
    }

    fn place(&mut self, t: usize) -> Vec<Option<usize>> {
        let pos = self.seq.len();
        let mut saved = Vec::with_capacity(self.constraints.len());
        for ci in 0..self.constraints.len() {
            let v = self.type_keys[t][ci] as usize;
            saved.push(self.last_pos[ci][v]);
            self.last_pos[ci][v] = Some(pos);
            self.value_remaining[ci][v] -= 1;
        }
        self.remaining[t] -= 1;
        self.seq.push(t);
        saved
    }

    fn unplace(&mut self, saved: &[Option<usize>]) {
        let t = self.seq.pop().expect("unplace after place");
        self.remaining[t] += 1;
        for (ci, prev) in saved.iter().enumerate() {
            let v = self.type_keys[t][ci] as usize;
            self.last_pos[ci][v] = *prev;
            self.value_remaining[ci][v] += 1;
        }
    }

    /// Candidate types for the next position, in a random order weighted by how many of each
    /// remain (so the result is close to a uniform shuffle among valid orders).
    fn candidates(&self, rng: &mut Stream) -> Vec<usize> {
        let mut pool: Vec<usize> = (0..self.remaining.len())
            .filter(|&t| self.remaining[t] > 0 && self.allowed(t))
            .collect();
        let mut out = Vec::with_capacity(pool.len());
        while !pool.is_empty() {
            let total: u64 = pool.iter().map(|&t| self.remaining[t] as u64).sum();
            let mut x = rng.below(total);
            let k = pool
                .iter()
                .position(|&t| {
                    let w = self.remaining[t] as u64;
                    if x < w {
                        true
                    } else {
                        x -= w;
                        false
                    }
                })
                .expect("weights sum to total");
            out.push(pool.swap_remove(k));
        }
        out
    }

    /// Depth-first search with an explicit stack; `None` when the budget runs out.
    fn run(&mut self, rng: &mut Stream, budget: u64) -> Option<Vec<usize>> {
        struct Frame {
            candidates: Vec<usize>,
            next: usize,
            saved: Option<Vec<Option<usize>>>,
        }
        let mut stack = vec![Frame {
            candidates: self.candidates(rng),
            next: 0,
            saved: None,
        }];
        while let Some(frame) = stack.last_mut() {
            if self.seq.len() == self.n {
                return Some(self.seq.clone());
            }
            if let Some(saved) = frame.saved.take() {
                self.unplace(&saved);
            }
            if frame.next == frame.candidates.len() {
                stack.pop();
                continue;
            }
            self.steps += 1;
            if self.steps > budget {
                return None;
            }
            let t = frame.candidates[frame.next];
            frame.next += 1;
            let saved = self.place(t);
            if self.still_feasible() {
                frame.saved = Some(saved);
                let candidates = self.candidates(rng);
                stack.push(Frame {
                    candidates,
                    next: 0,
                    saved: None,
                });
            } else {
                self.unplace(&saved);
            }
        }
        None
    }
}

/// Does `order` satisfy every constraint? Used by tests and by callers that want to verify.
pub fn satisfies(order: &[usize], constraints: &[Constraint<'_>]) -> bool {
    constraints.iter().all(|c| match c.rule {
        Rule::MaxRun(r) => {
            let mut run = 0;
            let mut prev = None;
            for &i in order {
                let v = c.codes[i];
                run = if prev == Some(v) { run + 1 } else { 1 };
                prev = Some(v);
                if run > r {
                    return false;
                }
            }
            true
        }
        Rule::MinDistance(d) => order.iter().enumerate().all(|(p, &i)| {
            order[p + 1..]
                .iter()
                .take(d.saturating_sub(1) as usize)
                .all(|&j| c.codes[j] != c.codes[i])
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(levels: u32, reps: u32) -> Vec<u32> {
        (0..levels * reps).map(|i| i % levels).collect()
    }

    #[test]
    fn finds_orders_with_max_run_one() {
        let music = codes(4, 6);
        let c = [Constraint {
            rule: Rule::MaxRun(1),
            codes: &music,
        }];
        for seed in 0..50 {
            let order = solve(music.len(), &c, &mut Stream::new(seed)).unwrap();
            assert!(satisfies(&order, &c));
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..music.len()).collect::<Vec<_>>());
        }
    }

    #[test]
    fn combines_max_run_and_min_distance() {
        // 6 clips × 4 conditions, each clip 4 times: same clip at least 3 apart, music runs ≤ 2.
        let clip: Vec<u32> = (0..24).map(|i| i / 4).collect();
        let music: Vec<u32> = (0..24).map(|i| i % 4).collect();
        let c = [
            Constraint {
                rule: Rule::MaxRun(2),
                codes: &music,
            },
            Constraint {
                rule: Rule::MinDistance(3),
                codes: &clip,
            },
        ];
        for seed in 0..20 {
            let order = solve(24, &c, &mut Stream::new(seed)).unwrap();
            assert!(satisfies(&order, &c), "seed {seed}: {order:?}");
        }
    }

    #[test]
    fn counting_proves_infeasible() {
        // Five of one level among seven trials cannot avoid runs of two.
        let music = vec![0, 0, 0, 0, 0, 1, 1];
        let c = [Constraint {
            rule: Rule::MaxRun(1),
            codes: &music,
        }];
        assert_eq!(
            solve(7, &c, &mut Stream::new(1)),
            Err(OrderError::Infeasible {
                constraint: 0,
                value: 0,
                count: 5,
                total: 7
            })
        );
    }

    #[test]
    fn impossible_combination_ends_within_budget() {
        // Each constraint alone is satisfiable; together they are not (the clip and the music
        // are the same key, and min_distance 3 over 2 values of 4 trials each is impossible, but
        // not by the single-constraint count). The search must give up, not hang.
        let a: Vec<u32> = vec![0, 0, 0, 1, 1, 1];
        let b: Vec<u32> = vec![0, 1, 2, 0, 1, 2];
        let c = [
            Constraint {
                rule: Rule::MaxRun(1),
                codes: &a,
            },
            Constraint {
                rule: Rule::MinDistance(4),
                codes: &b,
            },
        ];
        assert!(matches!(
            solve(6, &c, &mut Stream::new(3)),
            Err(OrderError::BudgetExhausted { .. })
        ));
    }

    #[test]
    fn satisfies_checks_min_distance() {
        let clip = vec![0, 1, 0];
        let c = [Constraint {
            rule: Rule::MinDistance(2),
            codes: &clip,
        }];
        assert!(satisfies(&[0, 1, 2], &c));
        let c3 = [Constraint {
            rule: Rule::MinDistance(3),
            codes: &clip,
        }];
        assert!(!satisfies(&[0, 1, 2], &c3));
    }
}
