//! The render path allocates and frees nothing: every `Renderer::render` call below, including
//! ones that start voices, mix them, stop them with a fade, end them, hand their sounds back and
//! report a late start and an xrun, runs inside `assert_no_alloc`, with a global allocator that
//! counts any allocation or deallocation made inside it.

use std::sync::Arc;

use assert_no_alloc::{AllocDisabler, assert_no_alloc, reset_violation_count, violation_count};
use cuelab_core::{Frames, SessionTime};
use cuelab_playback::engine::{EngineConfig, Event, engine};
use cuelab_playback::sound::Sound;

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

fn t(frame: i64) -> SessionTime {
    Frames(frame).to_session_time(48_000)
}

#[test]
fn the_counting_allocator_sees_an_allocation() {
    // Guards the test below against passing vacuously: an allocation inside the closure counts.
    reset_violation_count();
    let v = assert_no_alloc(|| std::hint::black_box(vec![1u8; 64]));
    assert!(violation_count() >= 1);
    drop(v);
}

#[test]
fn render_with_starts_stops_ends_and_xruns_does_not_allocate() {
    let mut config = EngineConfig::new(48_000, 2);
    config.max_voices = 16;
    let (mut control, mut renderer) = engine(&config);
    let stereo = Arc::new(
        Sound::from_interleaved(
            48_000,
            2,
            (0..4000).map(|i| (i as f32 * 0.01).sin()).collect(),
        )
        .unwrap(),
    );
    let mono = Arc::new(Sound::from_interleaved(48_000, 1, vec![0.25; 300]).unwrap());
    let mut out = vec![0f32; 128 * 2];
    let mut frame = 0i64;
    let mut events = Vec::with_capacity(256);
    let mut nonzero_buffers = 0;

    reset_violation_count();
    // 40 rounds with traffic, then 10 more so every scheduled voice has played out.
    for round in 0..50i64 {
        // Control side (may allocate): schedule voices ahead, stop some, drain events.
        if round % 4 == 0 && round < 40 {
            let a = control.start(&stereo, t(frame + 100), -3.0).unwrap();
            control.start(&mono, t(frame + 700), 0.0).unwrap();
            control.stop(a, Some(t(frame + 300)), t(64)).unwrap();
        }
        if round == 10 {
            // Already in the past when rendered: a late start.
            control.start(&mono, t(frame - 50), 0.0).unwrap();
        }
        while let Some(e) = control.next_event() {
            events.push(e);
        }
        // Render side, checked.
        // From round 30 on, the device's timestamps jump by 50 ms: a discontinuity.
        let playback = if round >= 30 {
            t(frame) + SessionTime::from_millis(50)
        } else {
            t(frame)
        };
        assert_no_alloc(|| {
            if round == 20 {
                renderer.note_xrun();
            }
            renderer.render(&mut out, playback, playback);
        });
        if out.iter().any(|&s| s != 0.0) {
            nonzero_buffers += 1;
        }
        frame += 128;
    }
    assert_eq!(
        violation_count(),
        0,
        "the render path allocated or freed memory"
    );
    while let Some(e) = control.next_event() {
        events.push(e);
    }
    let started = events
        .iter()
        .filter(|e| matches!(e, Event::Started { .. }))
        .count();
    let stopped = events
        .iter()
        .filter(|e| matches!(e, Event::Ended { stopped: true, .. }))
        .count();
    let ended = events
        .iter()
        .filter(|e| matches!(e, Event::Ended { stopped: false, .. }))
        .count();
    let xruns = events
        .iter()
        .filter(|e| matches!(e, Event::Xrun { .. }))
        .count();
    // Every kind of render work happened inside the checked calls (exact counts depend on how
    // the timestamp jump moves the schedule, which other tests pin).
    assert!(started >= 15, "{events:?}");
    assert!(stopped >= 5, "{events:?}");
    assert!(ended >= 5, "{events:?}");
    assert_eq!(xruns, 2, "one reported by the device, one timestamp jump");
    assert!(renderer.stats().late_starts() >= 1);
    assert!(nonzero_buffers > 10);
}
