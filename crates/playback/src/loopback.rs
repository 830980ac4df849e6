//! Onset-error measurement: play scheduled clicks, find them again in a recording of the output,
//! and compare where they really were with where they were asked to be.
//!
//! The recording comes with capture timestamps per block ([`CaptureBlock`]). One straight line
//! `time = a + b·frame` is fitted to all of them (least squares), so per-callback timestamp
//! jitter averages out and a sound card running slightly fast or slow is followed; a click found
//! at recording frame `r` was captured at `a + b·r`. Each click's error is that time minus the
//! scheduled time. The median error is the constant latency of the path (output buffer, server,
//! monitor, input buffer); the spread around it is what an experiment cares about, so the SD and
//! the largest absolute deviation are reported around the median.

use cuelab_core::SessionTime;

use crate::cpal_device::CaptureBlock;
use crate::sound::Sound;

/// The test click: a 4-frame rectangular pulse at 0.8 of full scale, easy to find by threshold.
pub fn click(rate: u32) -> Sound {
    Sound::from_interleaved(rate, 1, vec![0.8; 4]).expect("valid click")
}

/// Frames where the signal first rises above `threshold` after at least `min_gap` frames below
/// it.
pub fn find_onsets(samples: &[f32], threshold: f32, min_gap: usize) -> Vec<usize> {
    let mut onsets = Vec::new();
    let mut quiet = min_gap;
    for (i, s) in samples.iter().enumerate() {
        if s.abs() >= threshold {
            if quiet >= min_gap {
                onsets.push(i);
            }
            quiet = 0;
        } else {
            quiet += 1;
        }
    }
    onsets
}

/// A straight-line map from recording frame to session time, fitted to capture blocks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CaptureClock {
    /// Session time (ns) of frame 0.
    pub intercept_ns: f64,
    /// Nanoseconds per frame.
    pub ns_per_frame: f64,
}

impl CaptureClock {
    /// Least-squares fit of block start times against their first frame index. Returns `None`
    /// with fewer than two blocks.
    pub fn fit(blocks: &[CaptureBlock]) -> Option<CaptureClock> {
        if blocks.len() < 2 {
            return None;
        }
        let mut frame = 0f64;
        let points: Vec<(f64, f64)> = blocks
            .iter()
            .map(|b| {
                let p = (frame, b.capture.as_nanos() as f64);
                frame += f64::from(b.frames);
                p
            })
            .collect();
        let n = points.len() as f64;
        let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
        let my = points.iter().map(|p| p.1).sum::<f64>() / n;
        let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
        let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        if sxx == 0.0 {
            return None;
        }
        let slope = sxy / sxx;
        Some(CaptureClock {
            intercept_ns: my - slope * mx,
            ns_per_frame: slope,
        })
    }

    /// Session time of recording frame `frame`.
    pub fn time_of(&self, frame: f64) -> f64 {
        self.intercept_ns + self.ns_per_frame * frame
    }
}

/// Recording frame to session time, fitted locally: a straight line through the blocks within
/// `half_window` blocks of the frame's own. Local fits follow slow drift and are not thrown off by a
/// hiccup of the stream elsewhere in the recording, which one global line is.
#[derive(Debug, Clone)]
pub struct CaptureTimeline {
    blocks: Vec<CaptureBlock>,
    // First recording frame of each block.
    starts: Vec<u64>,
    half_window: usize,
}

impl CaptureTimeline {
    /// A timeline over `blocks` (in recording order).
    pub fn new(blocks: &[CaptureBlock], half_window: usize) -> Self {
        let mut starts = Vec::with_capacity(blocks.len());
        let mut frame = 0u64;
        for b in blocks {
            starts.push(frame);
            frame += u64::from(b.frames);
        }
        Self {
            blocks: blocks.to_vec(),
            starts,
            half_window,
        }
    }

    /// Session time (ns) of recording frame `frame`, or `None` if there are too few blocks.
    pub fn time_of(&self, frame: u64) -> Option<f64> {
        let idx = self
            .starts
            .partition_point(|&s| s <= frame)
            .checked_sub(1)?;
        let lo = idx.saturating_sub(self.half_window);
        let hi = (idx + self.half_window + 1).min(self.blocks.len());
        let fit = CaptureClock::fit(&self.blocks[lo..hi])?;
        Some(fit.time_of((frame - self.starts[lo]) as f64))
    }
}

/// Summary of onset errors in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErrorSummary {
    /// Median error (measured − scheduled): the constant latency.
    pub median_ms: f64,
    /// Standard deviation of the errors (n − 1).
    pub sd_ms: f64,
    /// Largest absolute deviation from the median.
    pub max_abs_ms: f64,
    /// Number of clicks measured.
    pub n: usize,
}

/// Summarizes errors given in nanoseconds. `None` if there are none.
pub fn summarize(errors_ns: &[f64]) -> Option<ErrorSummary> {
    if errors_ns.is_empty() {
        return None;
    }
    let mut sorted = errors_ns.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    let mean = sorted.iter().sum::<f64>() / n as f64;
    let var = if n > 1 {
        sorted.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (n - 1) as f64
    } else {
        0.0
    };
    let max_abs = sorted
        .iter()
        .map(|e| (e - median).abs())
        .fold(0f64, f64::max);
    Some(ErrorSummary {
        median_ms: median / 1e6,
        sd_ms: var.sqrt() / 1e6,
        max_abs_ms: max_abs / 1e6,
        n,
    })
}

/// Pairs scheduled instants with measured onsets (both ns) and returns measured − scheduled for
/// each pair found. The path latency is unknown beforehand: it is taken as the most common
/// difference (1 ms bins over `latency_range`), then each scheduled click takes the measured
/// onset nearest to `scheduled + latency` within `window`. The latency may be negative: a
/// monitor source hears what the server mixes, before the sink's reported playback time.
pub fn match_onsets(
    scheduled: &[SessionTime],
    measured_ns: &[f64],
    latency_range: (SessionTime, SessionTime),
    window: SessionTime,
) -> Vec<f64> {
    match_onsets_indexed(scheduled, measured_ns, latency_range, window)
        .into_iter()
        .map(|(_, e)| e)
        .collect()
}

/// [`match_onsets`], keeping which scheduled click each error belongs to: `(index into
/// scheduled, measured − scheduled)`.
pub fn match_onsets_indexed(
    scheduled: &[SessionTime],
    measured_ns: &[f64],
    latency_range: (SessionTime, SessionTime),
    window: SessionTime,
) -> Vec<(usize, f64)> {
    let lo_ms = latency_range.0.as_millis_f64().floor();
    let n_bins = (latency_range.1.as_millis_f64() - lo_ms).max(1.0) as usize + 1;
    let mut bins = vec![0usize; n_bins];
    for s in scheduled {
        for m in measured_ns {
            let d = (m - s.as_nanos() as f64) / 1e6 - lo_ms;
            if d >= 0.0 && (d as usize) < n_bins {
                bins[d as usize] += 1;
            }
        }
    }
    let Some((best, _)) = bins.iter().enumerate().max_by_key(|(_, c)| **c) else {
        return Vec::new();
    };
    let latency_ns = (lo_ms + best as f64 + 0.5) * 1e6;
    let window_ns = window.as_nanos() as f64;
    scheduled
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let target = s.as_nanos() as f64 + latency_ns;
            measured_ns
                .iter()
                .filter(|m| (*m - target).abs() <= window_ns)
                .min_by(|a, b| (*a - target).abs().total_cmp(&(*b - target).abs()))
                .map(|m| (i, m - s.as_nanos() as f64))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn onsets_need_a_quiet_gap_before_them() {
        let mut x = vec![0.0f32; 100];
        x[10] = 0.9;
        x[11] = 0.9;
        x[14] = 0.5; // within the gap: same click
        x[60] = -0.7;
        assert_eq!(find_onsets(&x, 0.3, 20), vec![10, 60]);
    }

    #[test]
    fn capture_fit_recovers_line_through_jittered_blocks() {
        // 48,010 frames per second, blocks of 441 frames, +-200 us alternating jitter.
        let ns_per_frame = 1e9 / 48_010.0;
        let blocks: Vec<CaptureBlock> = (0..400)
            .map(|k| {
                let jitter = if k % 2 == 0 { 200_000.0 } else { -200_000.0 };
                CaptureBlock {
                    capture: SessionTime((5e6 + k as f64 * 441.0 * ns_per_frame + jitter) as i64),
                    frames: 441,
                }
            })
            .collect();
        let fit = CaptureClock::fit(&blocks).unwrap();
        let truth = 5e6 + 100_000.0 * ns_per_frame;
        assert!((fit.time_of(100_000.0) - truth).abs() < 20_000.0);
    }

    #[test]
    fn local_timeline_ignores_a_jump_elsewhere() {
        // 441-frame blocks at exactly 48 kHz, with a 90 ms jump in the timestamps at block 50.
        let ns_per_frame = 1e9 / 48_000.0;
        let blocks: Vec<CaptureBlock> = (0..100)
            .map(|k| {
                let jump = if k >= 50 { 90e6 } else { 0.0 };
                CaptureBlock {
                    capture: SessionTime((k as f64 * 441.0 * ns_per_frame + jump) as i64),
                    frames: 441,
                }
            })
            .collect();
        let timeline = CaptureTimeline::new(&blocks, 8);
        let early = 10 * 441 + 100;
        let late = 80 * 441 + 100;
        assert!((timeline.time_of(early).unwrap() - early as f64 * ns_per_frame).abs() < 10.0);
        assert!(
            (timeline.time_of(late).unwrap() - (late as f64 * ns_per_frame + 90e6)).abs() < 10.0
        );
    }

    #[test]
    fn summary_reports_spread_around_the_median() {
        let errors = [10e6, 11e6, 12e6, 10e6, 30e6];
        let s = summarize(&errors).unwrap();
        assert_eq!(s.median_ms, 11.0);
        assert_eq!(s.max_abs_ms, 19.0);
        assert_eq!(s.n, 5);
        // SD of 10, 11, 12, 10, 30 (mean 14.6).
        let sd =
            ((4.6f64.powi(2) + 3.6f64.powi(2) + 2.6f64.powi(2) + 4.6f64.powi(2) + 15.4f64.powi(2))
                / 4.0)
                .sqrt();
        assert!((s.sd_ms - sd).abs() < 1e-9);
    }

    #[test]
    fn matching_finds_the_common_latency_and_skips_strays() {
        let scheduled: Vec<SessionTime> =
            (0..10).map(|i| SessionTime::from_millis(100 * i)).collect();
        let mut measured: Vec<f64> = scheduled
            .iter()
            .map(|s| s.as_nanos() as f64 - 23.2e6)
            .collect();
        measured.remove(4);
        measured.push(457e6); // a stray onset
        let indexed = match_onsets_indexed(
            &scheduled,
            &measured,
            (
                SessionTime::from_millis(-100),
                SessionTime::from_millis(200),
            ),
            SessionTime::from_millis(5),
        );
        // The click whose onset is missing is the one left out.
        assert_eq!(
            indexed.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            [0, 1, 2, 3, 5, 6, 7, 8, 9]
        );
        // A monitor hears the mix before the sink reports it played: a negative latency.
        let errors = match_onsets(
            &scheduled,
            &measured,
            (
                SessionTime::from_millis(-100),
                SessionTime::from_millis(200),
            ),
            SessionTime::from_millis(5),
        );
        assert_eq!(errors.len(), 9);
        assert!(
            errors.iter().all(|e| (e + 23.2e6).abs() < 1.0),
            "{errors:?}"
        );
    }
}
