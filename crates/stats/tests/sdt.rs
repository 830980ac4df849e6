//! Signal detection with the log-linear correction against R (tests/r/sdt.R): 24 participant ×
//! condition cells of simulated old/new counts, including perfect hit rates, no false alarms and
//! unequal numbers of trials.

mod common;

use common::{REL, close, fixture, num};
use cuelab_stats::{SdtCounts, signal_detection_all};

#[test]
fn dprime_and_criterion_match_r() {
    let fx = fixture("sdt");
    let want = fx["cells"].as_array().unwrap();
    let count = |w: &serde_json::Value, k: &str| u32::try_from(w[k].as_u64().unwrap()).unwrap();
    let counts: Vec<SdtCounts> = want
        .iter()
        .map(|w| SdtCounts {
            hits: count(w, "hits"),
            misses: count(w, "misses"),
            false_alarms: count(w, "false_alarms"),
            correct_rejections: count(w, "correct_rejections"),
        })
        .collect();
    assert!(counts.iter().any(|c| c.misses == 0) && counts.iter().any(|c| c.false_alarms == 0));
    let got = signal_detection_all(&counts).unwrap();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        let cell = format!("{} {}", w["participant"], w["condition"]);
        for (name, v) in [
            ("hit_rate", g.hit_rate),
            ("false_alarm_rate", g.false_alarm_rate),
            ("hit_rate_corrected", g.hit_rate_corrected),
            ("false_alarm_rate_corrected", g.false_alarm_rate_corrected),
            ("d_prime", g.d_prime),
            ("criterion", g.criterion),
        ] {
            close(&format!("{cell} {name}"), v, num(w, name), REL);
        }
    }
}
