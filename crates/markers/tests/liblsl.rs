//! Against a real liblsl (the `pylsl` wheel's, installed by `scripts/setup --test`, or whatever
//! `CUELAB_LIBLSL` names).

use cuelab_core::SessionTime;
use cuelab_core::clock::VirtualClock;
use cuelab_core::marker::{Marker, MarkerEvent, MarkerSink};
use cuelab_markers::{
    ClockMapping, LslOutlet, MIN_VERSION, Search, StreamIdentity, monotonic_now_s,
};

fn lsl() -> std::sync::Arc<cuelab_markers::Lsl> {
    Search::from_env(None)
        .load()
        .unwrap_or_else(|e| panic!("{e}\n(run `scripts/setup --test`, which installs pylsl)"))
}

#[test]
fn lsl_local_clock_is_clock_monotonic_in_seconds() {
    let lsl = lsl();
    assert!(lsl.version() >= MIN_VERSION, "{}", lsl.version());
    // The mapping of CLOCK_MONOTONIC onto lsl_local_clock: an offset of zero, to within the
    // bracket's half-width plus a few microseconds for the calls themselves.
    let mut best = f64::INFINITY;
    let mut offset = 0.0;
    for _ in 0..64 {
        let m0 = monotonic_now_s();
        let l = lsl.local_clock();
        let m1 = monotonic_now_s();
        if m1 - m0 < best {
            best = m1 - m0;
            offset = l - (m0 + m1) / 2.0;
        }
    }
    assert!(
        offset.abs() < 20e-6 + best,
        "offset {offset} s, bracket {best} s"
    );
}

#[test]
fn an_outlet_stamps_markers_with_the_mapped_event_time() {
    let lsl = lsl();
    let clock = VirtualClock::new();
    let id = StreamIdentity {
        experiment: "unit",
        protocol_version: "1",
        protocol_sha256: "00",
        participant: "1",
        session: 1,
    };
    let mut outlet = LslOutlet::open(&lsl, &id, &clock).unwrap();
    let ClockMapping { offset_s, .. } = outlet.mapping();
    // A virtual clock stands still at zero: the offset is lsl_local_clock at opening.
    assert!((offset_s - lsl.local_clock()).abs() < 1.0);
    outlet
        .mark(&Marker::new(MarkerEvent::SessionStart, SessionTime::ZERO))
        .unwrap();
    outlet
        .mark(&Marker::new(MarkerEvent::SessionEnd, SessionTime::ZERO))
        .unwrap();
    let stats = outlet.stats();
    assert_eq!(stats.markers, 2);
    assert!(stats.latency_max_s >= stats.latency_median_s && stats.latency_median_s >= 0.0);
}
