//! Criterion benches of the audio path: render cost per callback (8 voices, 48 kHz stereo,
//! 64/128/256-frame buffers) and decode + resample of a 3-minute soundtrack generated at bench
//! time. `cuelab bench` prints the same figures as shares of the callback period.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use cuelab_core::{Frames, SessionTime};
use cuelab_playback::bench::{renderer_with_voices, test_signal, write_test_wav};
use cuelab_playback::decode::{DecodeOptions, decode_file};
use cuelab_playback::sound::Sound;

fn render(c: &mut Criterion) {
    let sound = Arc::new(Sound::from_interleaved(48_000, 2, test_signal(48_000, 20.0)).unwrap());
    let mut group = c.benchmark_group("render_8_voices_48k");
    for buffer in [64u32, 128, 256] {
        group.bench_with_input(
            BenchmarkId::from_parameter(buffer),
            &buffer,
            |b, &buffer| {
                // Fresh voices per batch (setup not timed), so a batch never outlives the sound.
                let per_batch = (sound.frames().0 as u64 / u64::from(buffer)).saturating_sub(2);
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    let mut left = iters;
                    while left > 0 {
                        let n = left.min(per_batch);
                        let mut renderer = renderer_with_voices(&sound, 8, buffer);
                        let mut out = vec![0f32; buffer as usize * 2];
                        let mut frame = i64::from(buffer);
                        let start = Instant::now();
                        for _ in 0..n {
                            let t: SessionTime = Frames(frame).to_session_time(48_000);
                            renderer.render(&mut out, t, t);
                            frame += i64::from(buffer);
                        }
                        total += start.elapsed();
                        std::hint::black_box(&out);
                        left -= n;
                    }
                    total
                });
            },
        );
    }
    group.finish();
}

fn decode(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("cuelab-bench-audio-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wav = write_test_wav(&dir, 44_100, 180.0).unwrap();
    let mut group = c.benchmark_group("decode_resample_3min");
    group.sample_size(10);
    group.bench_function("wav_44k1_to_48k", |b| {
        b.iter(|| decode_file(&wav, &DecodeOptions::at_rate(48_000), &mut |_| {}).unwrap())
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, render, decode);
criterion_main!(benches);
