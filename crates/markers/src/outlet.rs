//! The LSL marker stream: a [`MarkerSink`] that pushes each marker as a compact JSON string
//! stamped with the event's measured time on LSL's clock.

use std::fmt::Write as _;
use std::sync::Arc;

use cuelab_core::SessionTime;
use cuelab_core::clock::Clock;
use cuelab_core::marker::{Marker, MarkerError, MarkerEvent, MarkerSink};

use crate::LslError;
use crate::align::ClockMapping;
use crate::ffi::{Lsl, Outlet, StreamSpec, payload};

/// What names a session's stream.
#[derive(Debug, Clone, Copy)]
pub struct StreamIdentity<'a> {
    /// The protocol's experiment id.
    pub experiment: &'a str,
    /// The protocol's version.
    pub protocol_version: &'a str,
    /// SHA-256 of the protocol file, hex.
    pub protocol_sha256: &'a str,
    /// The participant's label.
    pub participant: &'a str,
    pub session: u32,
}

impl StreamIdentity<'_> {
    /// `cuelab-<experiment>`.
    pub fn name(&self) -> String {
        format!("cuelab-{}", self.experiment)
    }

    /// `cuelab:<experiment>:<label>:<session>`: the same for a resumed session, so recorders
    /// (LabRecorder) reconnect to it.
    pub fn source_id(&self) -> String {
        format!(
            "cuelab:{}:{}:{}",
            self.experiment, self.participant, self.session
        )
    }
}

/// Marker rate and latency over an outlet's life.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MarkerStats {
    pub markers: usize,
    /// Seconds between the first and the last push.
    pub span_s: f64,
    /// Event time to push, seconds: median, 95th percentile, maximum.
    pub latency_median_s: f64,
    pub latency_p95_s: f64,
    pub latency_max_s: f64,
}

/// An open marker stream.
#[derive(Debug)]
pub struct LslOutlet {
    outlet: Outlet,
    mapping: ClockMapping,
    /// Per push: the event (`None` for a raw payload), push time on LSL's clock, push time −
    /// event time.
    pushes: Vec<(Option<MarkerEvent>, f64, f64)>,
}

impl LslOutlet {
    /// Opens the stream for a session whose clock is `session` (measured against
    /// `lsl_local_clock` now; both run on `CLOCK_MONOTONIC`, so the offset does not drift).
    pub fn open(
        lsl: &Arc<Lsl>,
        id: &StreamIdentity<'_>,
        session: &dyn Clock,
    ) -> Result<LslOutlet, LslError> {
        let session_no = id.session.to_string();
        let desc = [
            ("experiment", id.experiment),
            ("protocol_version", id.protocol_version),
            ("protocol_sha256", id.protocol_sha256),
            ("participant", id.participant),
            ("session", session_no.as_str()),
            ("software", concat!("cuelab ", env!("CARGO_PKG_VERSION"))),
            (
                "timestamps",
                "measured event times (session clock mapped to lsl_local_clock), not send times",
            ),
        ];
        Self::open_spec(
            lsl,
            &StreamSpec {
                name: &id.name(),
                kind: "Markers",
                source_id: &id.source_id(),
                desc: &desc,
            },
            session,
        )
    }

    /// Opens a stream described by `spec` (`cuelab check` uses its own).
    pub fn open_spec(
        lsl: &Arc<Lsl>,
        spec: &StreamSpec<'_>,
        session: &dyn Clock,
    ) -> Result<LslOutlet, LslError> {
        let outlet = Outlet::open(lsl, spec)?;
        let mapping = ClockMapping::measure(session, &|| lsl.local_clock());
        Ok(LslOutlet {
            outlet,
            mapping,
            pushes: Vec::new(),
        })
    }

    /// The session clock → `lsl_local_clock` mapping measured when the outlet opened.
    pub fn mapping(&self) -> ClockMapping {
        self.mapping
    }

    /// The library in use.
    pub fn lsl(&self) -> &Lsl {
        self.outlet.lsl()
    }

    /// Waits up to `timeout_s` for an inlet (a recorder) to connect; true if one did. Samples
    /// pushed before an inlet connects are not delivered to it.
    pub fn wait_for_consumers(&self, timeout_s: f64) -> bool {
        self.outlet.wait_for_consumers(timeout_s)
    }

    /// Whether an inlet is connected.
    pub fn have_consumers(&self) -> bool {
        self.outlet.have_consumers()
    }

    /// Pushes a JSON payload for an event measured at session time `at`.
    pub fn push_json(&mut self, json: String, at: SessionTime) -> Result<(), LslError> {
        self.push(None, json, at)
    }

    fn push(
        &mut self,
        event: Option<MarkerEvent>,
        json: String,
        at: SessionTime,
    ) -> Result<(), LslError> {
        let stamp = self.mapping.map(at);
        let sample = payload(json)?;
        self.outlet.push(&sample, stamp)?;
        let pushed = self.outlet.lsl().local_clock();
        self.pushes.push((event, pushed, pushed - stamp));
        Ok(())
    }

    /// Marker rate and latency so far, over every marker.
    pub fn stats(&self) -> MarkerStats {
        Self::summarise(self.pushes.iter().map(|p| (p.1, p.2)).collect())
    }

    /// Marker rate and latency of one event's markers (onsets are pushed from inside the
    /// presentation, within a refresh of the onset).
    pub fn stats_of(&self, event: MarkerEvent) -> MarkerStats {
        Self::summarise(
            self.pushes
                .iter()
                .filter(|p| p.0 == Some(event))
                .map(|p| (p.1, p.2))
                .collect(),
        )
    }

    fn summarise(pushes: Vec<(f64, f64)>) -> MarkerStats {
        let Some(first) = pushes.first() else {
            return MarkerStats::default();
        };
        let last = pushes[pushes.len() - 1];
        let mut lat: Vec<f64> = pushes.iter().map(|p| p.1).collect();
        lat.sort_by(f64::total_cmp);
        let at = |q: f64| lat[((lat.len() - 1) as f64 * q).round() as usize];
        MarkerStats {
            markers: lat.len(),
            span_s: last.0 - first.0,
            latency_median_s: at(0.5),
            latency_p95_s: at(0.95),
            latency_max_s: lat[lat.len() - 1],
        }
    }
}

impl MarkerSink for LslOutlet {
    fn mark(&mut self, marker: &Marker<'_>) -> Result<(), MarkerError> {
        self.push(Some(marker.event), to_json(marker), marker.at)
            .map_err(|e| MarkerError(format!("LSL: {e}")))
    }
}

/// A marker's payload: `{"event":"audio_onset","trial":7,"clip":"street","soundtrack":"sad"}`,
/// with `step` and `item` for responses and `conditions` for trial events; absent fields are
/// left out. Keys keep this order.
pub fn to_json(m: &Marker<'_>) -> String {
    let q = |s: &str| serde_json::Value::from(s).to_string();
    let mut out = format!("{{\"event\":{}", q(m.event.name()));
    if let Some(t) = m.trial {
        let _ = write!(out, ",\"trial\":{t}");
    }
    for (key, value) in [
        ("clip", m.clip),
        ("soundtrack", m.soundtrack),
        ("step", m.step),
        ("item", m.item),
    ] {
        if let Some(v) = value {
            let _ = write!(out, ",{}:{}", q(key), q(v));
        }
    }
    if !m.conditions.is_empty() {
        out.push_str(",\"conditions\":{");
        for (i, (k, v)) in m.conditions.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{}:{}", q(k), q(v));
        }
        out.push('}');
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use cuelab_core::marker::MarkerEvent;

    #[test]
    fn payloads_are_compact_json_in_a_fixed_key_order() {
        let check = |m: Marker<'_>, want: &str| {
            let got = to_json(&m);
            assert_eq!(got, want);
            serde_json::from_str::<serde_json::Value>(&got).unwrap();
        };
        let at = SessionTime::from_millis(5);
        check(
            Marker::new(MarkerEvent::SessionStart, at),
            r#"{"event":"session_start"}"#,
        );
        check(
            Marker {
                trial: Some(7),
                clip: Some("street"),
                soundtrack: Some("sad \"slow\""),
                ..Marker::new(MarkerEvent::AudioOnset, at)
            },
            r#"{"event":"audio_onset","trial":7,"clip":"street","soundtrack":"sad \"slow\""}"#,
        );
        check(
            Marker {
                trial: Some(2),
                conditions: &[("music", "sad"), ("fit", "low")],
                ..Marker::new(MarkerEvent::TrialStart, at)
            },
            r#"{"event":"trial_start","trial":2,"conditions":{"music":"sad","fit":"low"}}"#,
        );
        check(
            Marker {
                step: Some("sam"),
                item: Some("valence"),
                ..Marker::new(MarkerEvent::Response, at)
            },
            r#"{"event":"response","step":"sam","item":"valence"}"#,
        );
    }

    #[test]
    fn names_and_source_ids_follow_the_issue() {
        let id = StreamIdentity {
            experiment: "music-and-duration",
            protocol_version: "1.0",
            protocol_sha256: "ab",
            participant: "P3",
            session: 2,
        };
        assert_eq!(id.name(), "cuelab-music-and-duration");
        assert_eq!(id.source_id(), "cuelab:music-and-duration:P3:2");
    }
}
