//! Williams squares, the assignment sheet, practice-only material and shuffled item orders.

use std::collections::BTreeMap;

use cuelab_core::ParticipantId;
use cuelab_protocol::{MemFiles, Protocol, counterbalance, cycle_length, load, plan, williams};

fn protocol(body: &str) -> Protocol {
    let text = format!(
        r#"
[experiment]
id = "t"
title = "T"
version = "1"
{body}
"#
    );
    let files = [
        "c1.mp4", "c2.mp4", "c3.mp4", "p.mp4", "a.flac", "b.flac", "w.flac",
    ]
    .iter()
    .fold(MemFiles::default(), |f, name| f.with(name, vec![1u8; 16]));
    load("t.toml", text.as_bytes(), &files).unwrap_or_else(|d| panic!("{d}"))
}

fn levels(n: usize) -> String {
    (0..n)
        .map(|i| format!("\"l{i}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

fn id(k: u64) -> ParticipantId {
    ParticipantId::parse(&k.to_string()).unwrap()
}

/// Every ordered pair of distinct conditions immediately follows equally often over the rows.
fn assert_balanced(rows: &[Vec<usize>], n: usize) {
    let mut counts = vec![vec![0u32; n]; n];
    for row in rows {
        let mut sorted = row.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..n).collect::<Vec<_>>(), "a row is a permutation");
        for w in row.windows(2) {
            counts[w[0]][w[1]] += 1;
        }
    }
    let want = if n.is_multiple_of(2) { 1 } else { 2 };
    for (a, row) in counts.iter().enumerate() {
        for (b, &c) in row.iter().enumerate() {
            assert_eq!(c, if a == b { 0 } else { want }, "n = {n}: {a} -> {b}");
        }
    }
}

#[test]
fn williams_squares_balance_first_order_carryover_for_3_to_6_conditions() {
    for n in 3..=6 {
        let rows = williams(n);
        assert_eq!(rows.len(), if n.is_multiple_of(2) { n } else { 2 * n });
        assert_balanced(&rows, n);
    }
    // The documented construction: row 0 = 0, 1, n−1, 2, n−2, ...
    assert_eq!(williams(4)[0], [0, 1, 3, 2]);
    assert_eq!(williams(5)[0], [0, 1, 4, 2, 3]);
    assert_eq!(williams(5)[5], [3, 2, 4, 1, 0]);
}

#[test]
fn williams_blocks_in_plans_balance_carryover_over_the_square() {
    for n in 3..=6 {
        let p = protocol(&format!(
            "[factors]\ncond = {{ levels = [{}] }}\n[design]\nrepetitions = 2\nblocks = {{ by = \"cond\", order = \"williams\" }}\n[[procedure]]\nfixation = {{ ms = 1 }}",
            levels(n)
        ));
        let w = if n.is_multiple_of(2) { n } else { 2 * n } as u64;
        assert_eq!(cycle_length(&p), w);
        let table = counterbalance(&p, w).unwrap();
        let want = if n.is_multiple_of(2) { 1 } else { 2 };
        assert_eq!(table.carryover.len(), n * (n - 1), "n = {n}");
        assert!(
            table
                .carryover
                .iter()
                .all(|c| c.count == want && c.first != c.then),
            "n = {n}: {:?}",
            table.carryover
        );
        // The plan's block sequence is participant k's row (k mod w).
        for k in 1..=w {
            let plan = plan(&p, &id(k), 1).unwrap();
            assert_eq!(plan.williams_row, Some(k % w));
            let mut seq: Vec<String> = Vec::new();
            for t in &plan.trials {
                let l = &t.conditions["cond"];
                if seq.last() != Some(l) {
                    seq.push(l.clone());
                }
            }
            let want: Vec<String> = williams(n)[(k % w) as usize]
                .iter()
                .map(|i| format!("l{i}"))
                .collect();
            assert_eq!(seq, want);
            assert_eq!(
                table.assignments[(k - 1) as usize].order.as_ref(),
                Some(&want)
            );
        }
    }
}

#[test]
fn williams_trial_order_balances_carryover_within_each_repetition() {
    for n in 3..=6 {
        let p = protocol(&format!(
            "[factors]\ncond = {{ levels = [{}] }}\n[design]\norder = \"williams\"\n[[procedure]]\nfixation = {{ ms = 1 }}",
            levels(n)
        ));
        let w = cycle_length(&p);
        let table = counterbalance(&p, w).unwrap();
        let want = if n.is_multiple_of(2) { 1 } else { 2 };
        assert_eq!(table.carryover.len(), n * (n - 1));
        assert!(table.carryover.iter().all(|c| c.count == want));
    }
}

#[test]
fn williams_with_a_latin_square_and_groups_cycles_over_the_lcm() {
    // Latin square over 2 conditions: 2 rotations; Williams over 2 levels: 2 rows; the cycle is
    // lcm(2, 2) = 2 participants per group, times 2 groups.
    let p = protocol(
        r#"
[stimuli.clips]
c1 = "c1.mp4"
c2 = "c2.mp4"
[stimuli.soundtracks]
a = "a.flac"
[factors]
music = { levels = ["a", "silence"] }
g = { levels = ["x", "y"], within = false }
[design]
pairing = "latin-square"
order = "williams"
[[procedure]]
clip = {}
"#,
    );
    assert_eq!(cycle_length(&p), 4);
    let table = counterbalance(&p, 4).unwrap();
    let groups: Vec<&str> = table.assignments.iter().map(|a| a.group.as_str()).collect();
    assert_eq!(groups, ["x", "x", "y", "y"]);
    // Every clip × condition cell once per group.
    assert_eq!(table.cells.len(), 8);
    assert!(
        table.cells.iter().all(|c| c.count == 1),
        "{:?}",
        table.cells
    );
}

#[test]
fn huge_participant_numbers_do_not_overflow() {
    let p = protocol(
        "[factors]\ncond = { levels = [\"a\", \"b\", \"c\"] }\ng = { levels = [\"x\", \"y\"], within = false }\n[design]\nblocks = { by = \"cond\", order = \"williams\" }\n[[procedure]]\nfixation = { ms = 1 }",
    );
    for k in [0, u64::MAX, u64::MAX - 1] {
        let plan = plan(&p, &id(k), 1).unwrap();
        assert_eq!(plan.williams_row, Some(k % 6));
    }
}

#[test]
fn practice_material_stays_out_of_test_trials() {
    let p = protocol(
        r#"
[stimuli.clips]
c1 = "c1.mp4"
c2 = "c2.mp4"
demo = { file = "p.mp4", practice = true }
[stimuli.soundtracks]
a = "a.flac"
warm = { file = "w.flac", practice = true }
[factors]
music = { levels = ["a", "silence"] }
[design]
practice = 3
[[procedure]]
clip = {}
[[procedure]]
id = "fit"
when = 'music == "warm"'
rating = { scale = "vas" }
"#,
    );
    let mut practice_seen = BTreeMap::new();
    for k in 1..=50 {
        let plan = plan(&p, &id(k), 1).unwrap();
        assert_eq!(plan.trials.len(), 3 + 4);
        for t in &plan.trials {
            if t.practice {
                assert_eq!(t.clip.as_deref(), Some("demo"));
                assert_eq!(t.soundtrack.as_deref(), Some("warm"));
                // A practice trial carries its soundtrack's id as the soundtrack factor's value.
                assert_eq!(t.conditions["music"], "warm");
                assert!(t.steps.contains(&"fit".to_string()));
                *practice_seen.entry(t.clip.clone()).or_insert(0) += 1;
            } else {
                assert_ne!(t.clip.as_deref(), Some("demo"));
                assert_ne!(t.soundtrack.as_deref(), Some("warm"));
                assert!(!t.steps.contains(&"fit".to_string()));
            }
        }
    }
    assert_eq!(practice_seen.len(), 1);
}

#[test]
fn shuffled_items_are_recorded_per_trial_and_per_session() {
    let p = protocol(
        r#"
[factors]
cond = { levels = ["a", "b"] }
[design]
repetitions = 10
[[before]]
id = "q"
questionnaire = { shuffle_items = true, items = ["one", "two", "three", "four"] }
[[procedure]]
id = "sd"
rating = { scale = "bipolar", shuffle_items = true, items = [["calm", "tense"], ["sad", "happy"], ["Weak!", "strong"]] }
[[procedure]]
rating = { scale = "sam" }
"#,
    );
    let sd = p.step("sd").unwrap();
    assert_eq!(
        sd.output_names(),
        ["sd_calm_tense", "sd_sad_happy", "sd_weak_strong"]
    );
    let plan = plan(&p, &id(1), 1).unwrap();
    let mut orders = std::collections::BTreeSet::new();
    for t in &plan.trials {
        let order = &t.item_order["sd"];
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(sorted, ["calm_tense", "sad_happy", "weak_strong"]);
        assert!(!t.item_order.contains_key("rating1"), "SAM is not shuffled");
        orders.insert(order.clone());
    }
    assert!(orders.len() > 1, "orders vary over 20 trials");
    let mut q = plan.item_order["q"].clone();
    q.sort();
    assert_eq!(q, ["item1", "item2", "item3", "item4"]);
}
