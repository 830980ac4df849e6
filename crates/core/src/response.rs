//! Response values: what a participant answered to one item of one step.

use crate::SessionTime;

/// One answer: a rating dimension, a time estimate, a choice, a text, a questionnaire item.
///
/// `onset` is when the screen that asked for it became visible; `rt_ms` is measured from that
/// onset. A step that timed out gives responses with `timed_out = true` and no value.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Response {
    /// The step id (`fit`, `rating1`, ...).
    pub step: String,
    /// The step's kind (`rating`, `time_estimate`, `choice`, ...).
    pub kind: String,
    /// What was answered: a rating dimension (`valence`), an estimate (`seconds`), a question
    /// item; the step id for single-valued steps.
    pub item: String,
    /// A numeric answer (a rating point, seconds, an option's position from 1).
    pub value: Option<f64>,
    /// A text answer (a choice's label, free text).
    pub text: Option<String>,
    /// Response time from `onset`, ms.
    pub rt_ms: Option<f64>,
    /// Whether the answer was correct, where the step defines one.
    pub correct: Option<bool>,
    /// The step is an attention check (its `correct` is what exclusions read).
    pub attention_check: bool,
    /// When the screen that asked became visible, session clock.
    pub onset: SessionTime,
    /// The step's timeout passed with no answer.
    pub timed_out: bool,
}

/// A continuous rating recorded during a clip: one dimension's samples.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ContinuousTrace {
    /// The dimension (`valence`, `arousal`).
    pub item: String,
    /// (ms from the clip's video onset, value) pairs, in time order.
    pub samples: Vec<(f64, f64)>,
}

impl ContinuousTrace {
    /// The achieved sampling rate, Hz: samples over the span they cover.
    pub fn achieved_hz(&self) -> Option<f64> {
        let (first, last) = (self.samples.first()?, self.samples.last()?);
        let span_s = (last.0 - first.0) / 1000.0;
        (self.samples.len() >= 2 && span_s > 0.0).then(|| (self.samples.len() - 1) as f64 / span_s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn achieved_rate_counts_intervals_over_the_span() {
        let t = ContinuousTrace {
            item: "valence".into(),
            samples: (0..21).map(|i| (i as f64 * 50.0, 5.0)).collect(),
        };
        assert!((t.achieved_hz().unwrap() - 20.0).abs() < 1e-12);
        assert_eq!(ContinuousTrace::default().achieved_hz(), None);
    }
}
