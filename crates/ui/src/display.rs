//! [`WindowDisplay`]: the participant window as a [`Display`] for the rig, usable from the
//! worker thread.

use std::sync::mpsc::{SyncSender, sync_channel};

use cuelab_core::{Clock, SessionTime, WaitClock};
use cuelab_playback::clock::MonotonicClock;
use cuelab_playback::video::{Display, VideoError, VideoFrame};

use crate::wire::{FrameImage, Request};
use crate::{Link, UiError};

/// How flips are paced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Refresh {
    /// The refresh period used to predict flips.
    pub period: SessionTime,
    /// The swap waited for the vertical blank (measured: flips came a whole period apart).
    /// When it did not (Xvfb, a driver that ignores the swap interval), the display paces
    /// flips itself on a grid of `period` on the session clock.
    pub vsync: bool,
}

/// Frame intervals measured by flipping back to back.
#[derive(Debug, Clone, PartialEq)]
pub struct FlipStats {
    /// Intervals between consecutive flips, ms.
    pub intervals_ms: Vec<f64>,
}

impl FlipStats {
    pub fn mean_ms(&self) -> f64 {
        let n = self.intervals_ms.len().max(1) as f64;
        self.intervals_ms.iter().sum::<f64>() / n
    }

    pub fn median_ms(&self) -> f64 {
        let mut v = self.intervals_ms.clone();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    }

    /// Sample SD (n − 1).
    pub fn sd_ms(&self) -> f64 {
        let n = self.intervals_ms.len();
        if n < 2 {
            return 0.0;
        }
        let m = self.mean_ms();
        let ss: f64 = self.intervals_ms.iter().map(|x| (x - m) * (x - m)).sum();
        (ss / (n - 1) as f64).sqrt()
    }

    pub fn max_ms(&self) -> f64 {
        self.intervals_ms.iter().copied().fold(0.0, f64::max)
    }

    /// Intervals longer than 1.5 periods: a refresh went by without a new picture.
    pub fn missed(&self, period_ms: f64) -> usize {
        self.intervals_ms
            .iter()
            .filter(|&&x| x > 1.5 * period_ms)
            .count()
    }
}

/// The window's screen, driven from the worker thread: each [`Display::present`] sends the
/// frame to the UI thread, which draws it, swaps, calls `glFinish` and replies with the session
/// time read right after — the flip time.
#[derive(Debug)]
pub struct WindowDisplay {
    link: Link,
    clock: MonotonicClock,
    refresh: Refresh,
    /// The grid of refreshes: the last flip (vsync) or the last planned flip (paced).
    anchor: Option<SessionTime>,
    last_flip: Option<SessionTime>,
    /// How long the UI thread takes from a request to its flip: a pass, measured by the
    /// back-to-back flips of [`WindowDisplay::calibrate`]. A paced display sends each frame at
    /// least this early (and at least a period early); the UI thread holds it until its instant.
    latency: SessionTime,
}

impl WindowDisplay {
    pub(crate) fn new(link: Link, clock: MonotonicClock, refresh: Refresh) -> Self {
        Self {
            link,
            clock,
            refresh,
            anchor: None,
            last_flip: None,
            latency: SessionTime::from_millis(2),
        }
    }

    /// How flips are paced.
    pub fn refresh(&self) -> Refresh {
        self.refresh
    }

    /// Flips `n` times back to back (no pacing), each with `frame` (or the current picture), and
    /// returns the measured intervals. This is how the refresh rate and vsync are measured.
    pub fn flip_back_to_back(
        &mut self,
        n: usize,
        frame: &mut dyn FnMut(usize) -> Option<VideoFrame>,
    ) -> Result<FlipStats, UiError> {
        let mut flips = Vec::with_capacity(n);
        for k in 0..n {
            let image = frame(k).as_ref().and_then(image_of);
            flips.push(self.flip_now(image)?);
        }
        Ok(FlipStats {
            intervals_ms: flips
                .windows(2)
                .map(|w| (w[1] - w[0]).as_millis_f64())
                .collect(),
        })
    }

    /// Measures the swap for `n` flips and sets the refresh: vsync when the median interval is a
    /// plausible refresh (5–50 ms) and the intervals are regular (SD under 10% of it),
    /// otherwise paced at `nominal_hz`.
    pub fn calibrate(&mut self, n: usize, nominal_hz: u32) -> Result<FlipStats, UiError> {
        let stats = self.flip_back_to_back(n, &mut |_| None)?;
        let median = stats.median_ms();
        let vsync = (5.0..=50.0).contains(&median) && stats.sd_ms() < 0.1 * median;
        self.refresh = if vsync {
            Refresh {
                period: SessionTime::from_nanos((median * 1e6).round() as i64),
                vsync: true,
            }
        } else {
            self.latency = SessionTime::from_nanos((median * 1e6).round() as i64)
                .max(SessionTime::from_millis(2));
            Refresh {
                period: SessionTime::from_nanos(1_000_000_000 / i64::from(nominal_hz.max(1))),
                vsync: false,
            }
        };
        self.anchor = None;
        Ok(stats)
    }

    /// Sends one frame and waits for its flip.
    fn flip_now(&mut self, frame: Option<FrameImage>) -> Result<SessionTime, UiError> {
        let (tx, rx) = sync_channel(1);
        self.link.send(Request::Flip {
            frame,
            not_before: None,
            reply: tx,
        })?;
        let flip = rx.recv().map_err(|_| UiError::Closed)?;
        self.last_flip = Some(flip);
        Ok(flip)
    }

    fn sender(&self) -> &SyncSender<Request> {
        &self.link.tx
    }
}

/// Copies a decoded frame's pixels for the UI thread.
pub(crate) fn image_of(frame: &VideoFrame) -> Option<FrameImage> {
    let (width, height) = (frame.width(), frame.height());
    if width == 0 || height == 0 || frame.rgba().is_empty() {
        return None;
    }
    Some(FrameImage {
        width,
        height,
        stride: frame.stride(),
        rgba: frame.rgba().to_vec(),
    })
}

impl Display for WindowDisplay {
    fn refresh_period(&self) -> SessionTime {
        self.refresh.period
    }

    fn now(&self) -> SessionTime {
        self.clock.now()
    }

    fn refresh_at_or_after(&self, t: SessionTime) -> SessionTime {
        let Some(anchor) = self.anchor else {
            return t;
        };
        let period = self.refresh.period.as_nanos().max(1);
        let k = (t - anchor).as_nanos().div_euclid(period);
        let mut at = anchor + SessionTime::from_nanos(k * period);
        if at < t {
            at = at + SessionTime::from_nanos(period);
        }
        at
    }

    fn next_flip(&self) -> SessionTime {
        let now = self.clock.now();
        let earliest = match self.last_flip {
            // One flip per refresh: never the same refresh twice.
            Some(last) => now.max(last + SessionTime::from_nanos(self.refresh.period.0 / 2)),
            None => now,
        };
        match self.anchor {
            Some(_) => self.refresh_at_or_after(earliest),
            None => earliest + self.latency,
        }
    }

    fn present(&mut self, frame: Option<&VideoFrame>) -> Result<SessionTime, VideoError> {
        let image = frame.and_then(image_of);
        let predicted = self.next_flip();
        let not_before = if self.refresh.vsync {
            None
        } else {
            // Nothing waits for a vertical blank: pace the flips on our own grid. The frame goes
            // to the UI thread up to a period early (it uploads and draws it meanwhile), and the
            // UI thread holds the swap until the planned instant, less its measured swap time.
            self.clock
                .wait_until(predicted - self.refresh.period.max(self.latency));
            Some(predicted)
        };
        let (tx, rx) = sync_channel(1);
        self.sender()
            .send(Request::Flip {
                frame: image,
                not_before,
                reply: tx,
            })
            .map_err(|_| VideoError::Display(Box::new(UiError::Closed)))?;
        self.link.wake();
        let flip = rx
            .recv()
            .map_err(|_| VideoError::Display(Box::new(UiError::Closed)))?;
        self.anchor = Some(if self.refresh.vsync || self.anchor.is_none() {
            flip
        } else {
            predicted
        });
        self.last_flip = Some(flip);
        Ok(flip)
    }
}
