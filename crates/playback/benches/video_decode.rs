//! Video decode speed at 720p and 1080p, to RGBA, frames per second of wall time.
//!
//! Run: `cargo bench -p cuelab-playback --bench video_decode`. The clips are generated at bench
//! time in a temp dir with the `ffmpeg` program (H.264, 30 fps, 4 s = 120 frames, x264 preset
//! `medium`, a detailed moving test pattern), so nothing big is committed.
//!
//! Three ways are compared:
//! - `libav/1-thread`: [`ClipDecoder`] as a session uses it (decode on the worker thread only);
//! - `libav/auto-threads`: the same with FFmpeg's frame threading on every core;
//! - `ffmpeg-pipe`: the `ffmpeg` program decoding to raw RGBA on a pipe (the alternative that
//!   was not chosen: it gives no timestamps).
//!
//! Criterion's "thrpt" line is the decode rate in frames (elements) per second; a summary line
//! per clip is printed too.

use std::hint::black_box;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use cuelab_playback::video::{ClipDecoder, DecodeConfig, measure_decode};

const FRAMES: u64 = 120;

fn make_clip(dir: &Path, width: u32, height: u32) -> PathBuf {
    let path = dir.join(format!("bench_{height}p.mp4"));
    let status = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
        ])
        .arg(format!("testsrc2=size={width}x{height}:rate=30"))
        .args(["-frames:v", &FRAMES.to_string()])
        .args([
            "-c:v", "libx264", "-preset", "medium", "-crf", "20", "-pix_fmt", "yuv420p",
        ])
        .arg(&path)
        .status()
        .expect("the ffmpeg program (Debian package ffmpeg) is needed to make bench clips");
    assert!(status.success(), "ffmpeg failed to make {}", path.display());
    path
}

fn decode_all(path: &Path, config: &DecodeConfig) -> u64 {
    let mut decoder = ClipDecoder::open(path, config).unwrap();
    let mut n = 0;
    while let Some(frame) = decoder.next_frame().unwrap() {
        black_box(frame.rgba()[0]);
        decoder.recycle(frame);
        n += 1;
    }
    n
}

fn decode_by_pipe(path: &Path, width: u32, height: u32) -> u64 {
    let mut child = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-i"])
        .arg(path)
        .args(["-an", "-f", "rawvideo", "-pix_fmt", "rgba", "-"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut frame = vec![0u8; (width * height * 4) as usize];
    let mut n = 0;
    while stdout.read_exact(&mut frame).is_ok() {
        black_box(frame[0]);
        n += 1;
    }
    child.wait().unwrap();
    n
}

/// User + system CPU time of this process (all threads) from `/proc/self/stat`, in seconds.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rfind(')').map_or("", |i| &stat[i + 1..]);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 (utime) and 15 (stime) of proc(5), counted from field 3 (state) here.
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<f64>().ok()))
        .sum();
    // USER_HZ is 100 on Linux.
    ticks / 100.0
}

fn bench(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("cuelab-video-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let one_thread = DecodeConfig::default();
    let auto_threads = DecodeConfig {
        threads: 0,
        ..DecodeConfig::default()
    };
    for (width, height) in [(1280u32, 720u32), (1920, 1080)] {
        let path = make_clip(&dir, width, height);
        assert_eq!(decode_all(&path, &one_thread), FRAMES);

        let mut group = c.benchmark_group(format!("video_decode_{height}p"));
        group.throughput(Throughput::Elements(FRAMES));
        group.sample_size(10);
        group.bench_function(BenchmarkId::new("libav", "1-thread"), |b| {
            b.iter(|| decode_all(&path, &one_thread))
        });
        group.bench_function(BenchmarkId::new("libav", "auto-threads"), |b| {
            b.iter(|| decode_all(&path, &auto_threads))
        });
        group.bench_function(BenchmarkId::new("ffmpeg-pipe", "rgba"), |b| {
            b.iter(|| decode_by_pipe(&path, width, height))
        });
        group.finish();

        // What `cuelab check` reports for this clip, the time to the first frame, and the
        // decode rate per second of CPU time (independent of how busy the machine is).
        let report = measure_decode(&path, FRAMES as usize).unwrap();
        for (name, config) in [("1-thread", &one_thread), ("auto-threads", &auto_threads)] {
            let (wall0, cpu0) = (Instant::now(), cpu_seconds());
            let n: u64 = (0..3).map(|_| decode_all(&path, config)).sum();
            let (wall, cpu) = (wall0.elapsed().as_secs_f64(), cpu_seconds() - cpu0);
            println!(
                "SUMMARY {width}x{height} libav/{name}: {:.1} fps wall, {:.1} fps per CPU-second",
                n as f64 / wall,
                n as f64 / cpu
            );
        }
        let start = Instant::now();
        let mut decoder = ClipDecoder::open(&path, &one_thread).unwrap();
        decoder.next_frame().unwrap().unwrap();
        let first_frame_ms = start.elapsed().as_secs_f64() * 1e3;
        println!(
            "SUMMARY {width}x{height}: measure_decode {:.1} fps over {} frames; first frame after {first_frame_ms:.1} ms",
            report.decode_fps, report.frames
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
