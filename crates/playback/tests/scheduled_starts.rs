//! On the virtual device, scheduled starts land on the exact sample: for 1000 random start
//! instants (over two rates, channel counts and buffer sizes) the first non-silent sample of
//! the rendered output is the first device frame played at or after the requested instant, and
//! the `Started` event reports that same frame and its exact playback time.

use std::sync::Arc;

use cuelab_core::{Frames, SessionTime};
use cuelab_playback::clock::{Clock, VirtualClock};
use cuelab_playback::engine::{EngineConfig, Event, VoiceId};
use cuelab_playback::sound::Sound;
use cuelab_playback::virtual_device::VirtualDevice;

/// SplitMix64: a tiny deterministic generator, enough for test inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Outcome {
    starts: usize,
    max_abs_frame_error: i64,
}

/// Schedules `n` clicks at random instants (never overlapping), renders, and checks each one.
fn check(rate: u32, channels: u16, buffer_frames: u32, n: usize, seed: u64) -> Outcome {
    let clock = VirtualClock::starting_at(SessionTime::from_millis(7));
    let mut config = EngineConfig::new(rate, channels);
    config.buffer_frames = buffer_frames;
    let (mut device, mut engine) = VirtualDevice::new(&config, clock.clone());
    device.record(true);
    let origin = clock.now();
    let latency = device.latency();
    // A click: 8 non-zero frames, first sample 1.0.
    let click: Vec<f32> = (0..8).map(|i| 1.0 - i as f32 / 16.0).collect();
    let click = Arc::new(Sound::from_interleaved(rate, 1, click).unwrap());

    let mut rng = Rng(seed);
    let mut scheduled: Vec<(VoiceId, SessionTime)> = Vec::with_capacity(n);
    let mut started: Vec<(VoiceId, Frames, SessionTime)> = Vec::with_capacity(n);
    let mut next_at = origin + SessionTime::from_millis(30);
    while scheduled.len() < n || started.len() < n {
        // Keep up to 16 starts queued, each 12 frames to 6 ms after the previous one.
        let horizon = clock.now() + SessionTime::from_millis(40);
        while scheduled.len() < n && next_at < horizon && scheduled.len() - started.len() < 16 {
            let voice = engine.start(&click, next_at, 0.0).unwrap();
            scheduled.push((voice, next_at));
            let min_gap = Frames(12).to_session_time(rate).as_nanos() as u64;
            next_at = next_at + SessionTime((min_gap + rng.below(6_000_000)) as i64);
        }
        device.render_until(clock.now() + SessionTime::from_millis(5));
        while let Some(event) = engine.next_event() {
            if let Event::Started {
                voice,
                frame,
                onset,
                late_frames,
                ..
            } = event
            {
                assert_eq!(late_frames, 0);
                started.push((voice, frame, onset));
            }
        }
    }
    // Events within one buffer come in voice-slot order; pair them with starts by voice.
    started.sort_by_key(|(voice, _, _)| *voice);
    let rec = device.recorded();
    let ch = usize::from(channels);
    let mut max_abs_frame_error = 0;
    for ((voice, at), (started_voice, frame, onset)) in scheduled.iter().zip(&started) {
        assert_eq!(voice, started_voice);
        // Device frame f is played at origin + latency + f/rate; the first one at or after `at`:
        let expected = (*at - origin - latency).to_frames(rate).0;
        let f = expected as usize;
        // Checked against the rendered samples: silence before, the click's first sample at f.
        assert_eq!(
            rec[(f - 1) * ch],
            0.0,
            "sample before the onset of start at {at:?}"
        );
        for c in 0..ch {
            assert_eq!(
                rec[f * ch + c],
                1.0,
                "onset sample of start at {at:?}, channel {c}"
            );
        }
        // The first non-silent frame found by scanning back from inside the click.
        let mut first = f + 4;
        while rec[(first - 1) * ch] != 0.0 {
            first -= 1;
        }
        max_abs_frame_error = max_abs_frame_error.max((first as i64 - expected).abs());
        assert_eq!(frame.0, expected);
        assert_eq!(
            *onset,
            origin + latency + Frames(expected).to_session_time(rate)
        );
        assert!(*onset >= *at && *onset - *at < Frames(1).to_session_time(rate) + SessionTime(1));
    }
    Outcome {
        starts: started.len(),
        max_abs_frame_error,
    }
}

#[test]
fn thousand_random_starts_land_on_the_exact_sample() {
    let a = check(48_000, 2, 128, 400, 1);
    let b = check(44_100, 1, 441, 300, 2);
    let c = check(48_000, 2, 64, 300, 3);
    assert_eq!(a.starts + b.starts + c.starts, 1000);
    assert_eq!(a.max_abs_frame_error, 0);
    assert_eq!(b.max_abs_frame_error, 0);
    assert_eq!(c.max_abs_frame_error, 0);
}
