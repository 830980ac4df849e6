//! The virtual device in real time (paced by the monotonic clock) places a scheduled start on
//! the same exact sample as in virtual time, and what it played can be written to a WAV file
//! and read back unchanged.

use std::sync::Arc;

use cuelab_core::{Frames, SessionTime};
use cuelab_playback::clock::{Clock, MonotonicClock, VirtualClock};
use cuelab_playback::engine::{EngineConfig, Event};
use cuelab_playback::sound::Sound;
use cuelab_playback::virtual_device::VirtualDevice;

#[test]
fn paced_device_starts_on_the_scheduled_sample() {
    let clock = MonotonicClock::start_now();
    let config = EngineConfig::new(48_000, 1);
    let (mut device, mut engine) = VirtualDevice::new(&config, VirtualClock::new());
    device.record(true);
    let click = Arc::new(Sound::from_interleaved(48_000, 1, vec![1.0; 4]).unwrap());
    let paced = device.spawn_paced(clock);
    // The device's session origin is the clock's time at spawn (about now).
    let at = clock.now() + SessionTime::from_millis(150);
    let voice = engine.start(&click, at, 0.0).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let device = paced.stop();
    let started = std::iter::from_fn(|| engine.next_event()).find_map(|e| match e {
        Event::Started {
            voice: v,
            frame,
            onset,
            ..
        } if v == voice => Some((frame, onset)),
        _ => None,
    });
    let (frame, onset) = started.expect("the click was played");
    // It is the first frame whose playback time is at or after `at`...
    assert!(onset >= at && onset - at < Frames(1).to_session_time(48_000) + SessionTime(1));
    // ...and the recording has the click there and silence before it.
    let rec = device.recorded();
    assert_eq!(rec[frame.0 as usize], 1.0);
    assert_eq!(rec[frame.0 as usize - 1], 0.0);
}

#[test]
fn recording_round_trips_through_a_wav_file() {
    let mut config = EngineConfig::new(44_100, 2);
    config.buffer_frames = 64;
    let (mut device, mut engine) = VirtualDevice::new(&config, VirtualClock::new());
    device.record(true);
    let ramp: Vec<f32> = (0..200).map(|i| i as f32 / 400.0).collect();
    let sound = Arc::new(Sound::from_interleaved(44_100, 2, ramp).unwrap());
    engine
        .start(&sound, SessionTime::from_millis(3), -6.0)
        .unwrap();
    device.render_buffers(10);
    let dir = std::env::temp_dir().join(format!("cuelab-vdev-wav-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("played.wav");
    device.write_wav(&path).unwrap();
    let mut reader = hound::WavReader::open(&path).unwrap();
    let spec = reader.spec();
    let back: Vec<f32> = reader.samples::<f32>().map(Result::unwrap).collect();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!((spec.channels, spec.sample_rate), (2, 44_100));
    assert_eq!(back, device.recorded());
    assert_eq!(back.len(), 10 * 64 * 2);
    assert!(back.iter().any(|&s| s > 0.0));
}
