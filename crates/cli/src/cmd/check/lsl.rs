//! `cuelab check --lsl`: loads liblsl, opens a marker outlet, sends test markers and reports how
//! well the session clock maps onto LSL's clock.
//!
//! The clock mapping error has three parts, each measured: the mapping's own uncertainty (half
//! the narrowest session/LSL/session bracket), the difference between `lsl_local_clock` and
//! `CLOCK_MONOTONIC` (zero on Linux; the journal's offline alignment relies on it), and the
//! drift of the mapping between the start and the end of the check.

use std::process::ExitCode;

use anyhow::Context;
use cuelab_core::clock::Clock;
use cuelab_markers::{LslOutlet, Search, StreamSpec, monotonic_origin_ns};
use cuelab_playback::clock::MonotonicClock;
use serde_json::json;

/// Test markers sent.
const MARKERS: usize = 200;

pub fn run(lsl_lib: Option<&std::path::Path>, as_json: bool) -> anyhow::Result<ExitCode> {
    let clock = MonotonicClock::start_now();
    let lsl = Search::from_env(lsl_lib)
        .load()
        .context("--lsl: loading liblsl")?;
    let source_id = format!("cuelab:check:{}", std::process::id());
    let desc = [("purpose", "cuelab check --lsl test markers")];
    let spec = StreamSpec {
        name: "cuelab-check",
        kind: "Markers",
        source_id: &source_id,
        desc: &desc,
    };
    let mut outlet =
        LslOutlet::open_spec(&lsl, &spec, &clock).context("--lsl: opening the marker outlet")?;
    let start = outlet.mapping();
    let monotonic_origin_s = monotonic_origin_ns(&clock) as f64 / 1e9;
    for n in 0..MARKERS {
        let at = clock.now();
        outlet
            .push_json(format!("{{\"event\":\"check\",\"n\":{n}}}"), at)
            .context("sending a test marker")?;
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let end = cuelab_markers::ClockMapping::measure(&clock, &|| lsl.local_clock());
    let stats = outlet.stats();
    let lsl_minus_monotonic_s = start.offset_s - monotonic_origin_s;
    let drift_s = end.offset_s - start.offset_s;
    let error_s = start.uncertainty_s + drift_s.abs();
    if as_json {
        let report = json!({
            "lsl": {
                "library": lsl.path().display().to_string(),
                "version": lsl.version(),
                "stream": {"name": "cuelab-check", "type": "Markers", "source_id": source_id},
                "consumers": outlet.have_consumers(),
                "markers_sent": stats.markers,
                "span_s": stats.span_s,
                "mapping_uncertainty_us": start.uncertainty_s * 1e6,
                "lsl_minus_clock_monotonic_us": lsl_minus_monotonic_s * 1e6,
                "mapping_drift_us": drift_s * 1e6,
                "mapping_error_us": error_s * 1e6,
                "push_latency_ms": {
                    "median": stats.latency_median_s * 1e3,
                    "p95": stats.latency_p95_s * 1e3,
                    "max": stats.latency_max_s * 1e3,
                },
            }
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("liblsl {} from {}", lsl.version(), lsl.path().display());
        println!(
            "outlet cuelab-check ({source_id}): {} test markers in {:.2} s, consumers connected: {}",
            stats.markers,
            stats.span_s,
            if outlet.have_consumers() { "yes" } else { "no" }
        );
        println!(
            "session clock -> lsl_local_clock: uncertainty {:.2} us, drift {:+.2} us over the check; mapping error {:.2} us",
            start.uncertainty_s * 1e6,
            drift_s * 1e6,
            error_s * 1e6
        );
        println!(
            "lsl_local_clock - CLOCK_MONOTONIC: {:+.2} us (the journal's monotonic_ns aligns offline through it)",
            lsl_minus_monotonic_s * 1e6
        );
        println!(
            "event to push: median {:.3} ms, 95% {:.3} ms, max {:.3} ms",
            stats.latency_median_s * 1e3,
            stats.latency_p95_s * 1e3,
            stats.latency_max_s * 1e3
        );
    }
    Ok(ExitCode::SUCCESS)
}
