//! The frame clock: which frame each display refresh shows, slaved to the audio clock.
//!
//! The audio device is the master. Once the soundtrack's first sample has a measured onset `A`
//! on the session clock, and the protocol asks for the sound to lead the picture by `offset`
//! (audio − video), the clip's time zero sits at `origin = A − offset`. A refresh that becomes
//! visible at flip instant `F` then shows the frame that is current at clip time `F − origin`:
//! the last frame whose timestamp is at or before it (within [`FrameClock::tolerance`], which
//! absorbs nanosecond rounding and sub-millisecond audio-onset quantisation so that a sound that
//! starts exactly on its sample does not push the picture a whole refresh later).

use cuelab_core::SessionTime;

/// Where frames come from: a queue in presentation order that can be looked into.
/// [`super::ClipDecoder`] is one; tests use a plain list of timestamps.
pub trait FrameQueue {
    /// A frame.
    type Frame;
    /// The error reading the queue can give.
    type Error;
    /// Timestamp (clip time) and duration of the next frame, or `None` at the end.
    fn peek_timing(&mut self) -> Result<Option<(SessionTime, SessionTime)>, Self::Error>;
    /// Takes the next frame.
    fn pop(&mut self) -> Result<Option<Self::Frame>, Self::Error>;
    /// Gives back a frame that will not be shown again (lets a decoder reuse its buffer).
    fn discard(&mut self, frame: Self::Frame) {
        drop(frame);
    }
}

/// What to do at one refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// The clip has not started at this refresh (its first frame is due later): leave the screen
    /// as it is.
    BeforeStart,
    /// Show a frame that was not shown before (its index in presentation order).
    New(u64),
    /// Show the same frame as the previous refresh again.
    Repeat(u64),
    /// The clip's last frame has had its time: the clip is over at this refresh.
    Finished,
}

/// Counts over a clip's presentation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameCounts {
    /// Refreshes that showed a frame of the clip.
    pub flips: u64,
    /// Distinct frames shown.
    pub shown: u64,
    /// Frames never shown because a later frame was already due (late refreshes, a display
    /// slower than the clip, or a clip started late against its audio).
    pub dropped: u64,
    /// Refreshes that showed the same frame as the refresh before. Expected whenever the clip's
    /// frame rate is below the refresh rate (a 30 fps clip on 60 Hz repeats every frame once);
    /// not a fault by itself.
    pub repeated: u64,
}

/// Decides, refresh by refresh, which frame is on screen. See the module doc.
#[derive(Debug, Clone)]
pub struct FrameClock<F> {
    origin: SessionTime,
    tolerance: SessionTime,
    current: Option<(u64, SessionTime, F)>,
    finished: bool,
    counts: FrameCounts,
}

/// The default [`FrameClock::tolerance`]: 1 ms, the same bound as the audio-video offset a
/// trial may have before it is flagged.
pub const DEFAULT_TOLERANCE: SessionTime = SessionTime::from_millis(1);

impl<F> FrameClock<F> {
    /// A frame clock whose clip time zero is at `origin` on the session clock.
    pub fn new(origin: SessionTime, tolerance: SessionTime) -> Self {
        Self {
            origin,
            tolerance,
            current: None,
            finished: false,
            counts: FrameCounts::default(),
        }
    }

    /// A frame clock slaved to a soundtrack: its first sample played at `audio_onset`, and the
    /// protocol wants audio − video = `av_offset`, so the clip starts at `audio_onset − av_offset`.
    pub fn slaved_to_audio(
        audio_onset: SessionTime,
        av_offset: SessionTime,
        tolerance: SessionTime,
    ) -> Self {
        Self::new(audio_onset - av_offset, tolerance)
    }

    /// The session instant of clip time zero.
    pub fn origin(&self) -> SessionTime {
        self.origin
    }

    /// How far before its timestamp a frame may already be shown.
    pub fn tolerance(&self) -> SessionTime {
        self.tolerance
    }

    /// Re-slaves the clock (e.g. when the measured audio onset arrives after the clock was set
    /// up from the planned one).
    pub fn set_origin(&mut self, origin: SessionTime) {
        self.origin = origin;
    }

    /// Counts so far.
    pub fn counts(&self) -> FrameCounts {
        self.counts
    }

    /// The frame on screen since the last [`FrameClock::choose`], if any.
    pub fn current(&self) -> Option<&F> {
        self.current.as_ref().map(|(_, _, f)| f)
    }

    /// Decides what the refresh that becomes visible at `flip` shows, taking frames from `queue`
    /// as they fall due. Frames passed over are counted as dropped and given back to the queue.
    pub fn choose<Q>(&mut self, flip: SessionTime, queue: &mut Q) -> Result<Choice, Q::Error>
    where
        Q: FrameQueue<Frame = F>,
    {
        if self.finished {
            return Ok(Choice::Finished);
        }
        let due = flip - self.origin + self.tolerance;
        let mut fresh: Option<(u64, SessionTime, F)> = None;
        while let Some((pts, duration)) = queue.peek_timing()? {
            if pts > due {
                break;
            }
            let Some(frame) = queue.pop()? else { break };
            let index = self.counts.shown + self.counts.dropped + u64::from(fresh.is_some());
            if let Some((_, _, passed_over)) = fresh.replace((index, pts + duration, frame)) {
                self.counts.dropped += 1;
                queue.discard(passed_over);
            }
        }
        if let Some(new) = fresh {
            // The clip's last frame arriving only after its own end (a late or slow refresh)
            // would lengthen the clip: it is dropped and the clip ends here.
            if new.1 <= due && queue.peek_timing()?.is_none() {
                self.counts.dropped += 1;
                queue.discard(new.2);
                return Ok(self.finish(queue));
            }
            let index = new.0;
            if let Some((_, _, old)) = self.current.replace(new) {
                queue.discard(old);
            }
            self.counts.shown += 1;
            self.counts.flips += 1;
            return Ok(Choice::New(index));
        }
        match &self.current {
            // A clip with no (more) frames never starts.
            None if queue.peek_timing()?.is_none() => Ok(self.finish(queue)),
            None => Ok(Choice::BeforeStart),
            Some((index, end, _)) => {
                let queue_empty = queue.peek_timing()?.is_none();
                if queue_empty && *end <= due {
                    Ok(self.finish(queue))
                } else {
                    self.counts.flips += 1;
                    self.counts.repeated += 1;
                    Ok(Choice::Repeat(*index))
                }
            }
        }
    }
}

impl<F> FrameClock<F> {
    fn finish<Q: FrameQueue<Frame = F>>(&mut self, queue: &mut Q) -> Choice {
        self.finished = true;
        if let Some((_, _, old)) = self.current.take() {
            queue.discard(old);
        }
        Choice::Finished
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A queue of frame timestamps at a constant rate (frames are their own indices).
    struct Timestamps {
        fps: i64,
        next: i64,
        n: i64,
    }

    impl Timestamps {
        fn at(k: i64, fps: i64) -> SessionTime {
            SessionTime((k * 2_000_000_000 + fps) / (2 * fps))
        }
    }

    impl FrameQueue for Timestamps {
        type Frame = i64;
        type Error = std::convert::Infallible;
        fn peek_timing(&mut self) -> Result<Option<(SessionTime, SessionTime)>, Self::Error> {
            Ok((self.next < self.n).then(|| {
                let pts = Self::at(self.next, self.fps);
                (pts, Self::at(self.next + 1, self.fps) - pts)
            }))
        }
        fn pop(&mut self) -> Result<Option<i64>, Self::Error> {
            if self.next >= self.n {
                return Ok(None);
            }
            self.next += 1;
            Ok(Some(self.next - 1))
        }
    }

    /// Flip instants of a display at `hz`, first refresh at `first`, rounded down to the ns.
    fn flips(hz: i64, first: SessionTime) -> impl Iterator<Item = SessionTime> {
        (0..).map(move |k| first + SessionTime(k * 1_000_000_000 / hz))
    }

    /// Runs a `n`-frame clip at `fps` on a display at `hz` whose first refresh is the clip's
    /// origin; returns the per-refresh choices (up to and including `Finished`) and the counts.
    fn run(fps: i64, n: i64, hz: i64) -> (Vec<Choice>, FrameCounts) {
        let origin = SessionTime::from_millis(1000);
        let mut clock = FrameClock::new(origin, DEFAULT_TOLERANCE);
        let mut queue = Timestamps { fps, next: 0, n };
        let mut choices = Vec::new();
        for flip in flips(hz, origin) {
            let c = clock.choose(flip, &mut queue).unwrap();
            choices.push(c);
            if c == Choice::Finished {
                break;
            }
        }
        (choices, clock.counts())
    }

    /// How many refreshes each frame stays on screen, in order.
    fn cadence(choices: &[Choice]) -> Vec<u32> {
        let mut out: Vec<u32> = Vec::new();
        for c in choices {
            match c {
                Choice::New(_) => out.push(1),
                Choice::Repeat(_) => *out.last_mut().unwrap() += 1,
                _ => {}
            }
        }
        out
    }

    fn check(fps: i64, hz: i64, n: i64, expect_cadence: &[u32], expect: FrameCounts) {
        let (choices, counts) = run(fps, n, hz);
        let got = cadence(&choices);
        assert_eq!(
            &got[..expect_cadence.len()],
            expect_cadence,
            "{fps} fps on {hz} Hz: cadence"
        );
        assert_eq!(counts, expect, "{fps} fps on {hz} Hz: counts");
        assert_eq!(choices.first(), Some(&Choice::New(0)));
        assert_eq!(choices.last(), Some(&Choice::Finished));
    }

    #[test]
    fn frame_choices_on_a_grid_of_frame_and_refresh_rates() {
        // 30 fps on 60 Hz: every frame twice. 1 s = 30 frames, 60 refreshes.
        check(
            30,
            60,
            30,
            &[2; 30],
            FrameCounts {
                flips: 60,
                shown: 30,
                dropped: 0,
                repeated: 30,
            },
        );
        // 24 fps on 60 Hz: 3:2 pulldown. 24 frames, 60 refreshes.
        check(
            24,
            60,
            24,
            &[3, 2, 3, 2, 3, 2],
            FrameCounts {
                flips: 60,
                shown: 24,
                dropped: 0,
                repeated: 36,
            },
        );
        // 25 fps on 60 Hz: 40 ms frames on 16.7 ms refreshes: 3,2,3,2,2 (12 refreshes / 5 frames).
        check(
            25,
            60,
            25,
            &[3, 2, 3, 2, 2, 3, 2, 3, 2, 2],
            FrameCounts {
                flips: 60,
                shown: 25,
                dropped: 0,
                repeated: 35,
            },
        );
        // 60 fps on 60 Hz: one refresh per frame, nothing repeated or dropped.
        check(
            60,
            60,
            60,
            &[1; 60],
            FrameCounts {
                flips: 60,
                shown: 60,
                dropped: 0,
                repeated: 0,
            },
        );
        // 30 fps on 144 Hz: 4.8 refreshes per frame: 5,5,5,5,4 pattern.
        check(
            30,
            144,
            30,
            &[5, 5, 5, 5, 4],
            FrameCounts {
                flips: 144,
                shown: 30,
                dropped: 0,
                repeated: 114,
            },
        );
    }

    #[test]
    fn a_display_slower_than_the_clip_drops_frames() {
        // 30 fps on a 20 Hz display: 3 frames per 2 refreshes, so every third frame is dropped.
        let (choices, counts) = run(30, 30, 20);
        assert_eq!(
            counts,
            FrameCounts {
                flips: 20,
                shown: 20,
                dropped: 10,
                repeated: 0
            }
        );
        assert_eq!(
            &choices[..4],
            &[
                Choice::New(0),
                Choice::New(1),
                Choice::New(3),
                Choice::New(4)
            ]
        );
        // 60 fps on 24 Hz: 2.5 frames per refresh.
        let (_, counts) = run(60, 60, 24);
        assert_eq!(counts.shown + counts.dropped, 60);
        assert_eq!(counts.shown, 24);
        assert_eq!(counts.repeated, 0);
    }

    #[test]
    fn a_missed_refresh_drops_the_frame_it_should_have_shown() {
        // 60 fps on 60 Hz but refresh 10 never happens (the flip came one period late).
        let origin = SessionTime::ZERO;
        let mut clock = FrameClock::new(origin, DEFAULT_TOLERANCE);
        let mut queue = Timestamps {
            fps: 60,
            next: 0,
            n: 60,
        };
        let mut choices = Vec::new();
        for (k, flip) in flips(60, origin).enumerate().take(61) {
            if k == 10 {
                continue;
            }
            choices.push(clock.choose(flip, &mut queue).unwrap());
        }
        assert_eq!(choices[9], Choice::New(9));
        assert_eq!(choices[10], Choice::New(11));
        assert_eq!(
            clock.counts(),
            FrameCounts {
                flips: 59,
                shown: 59,
                dropped: 1,
                repeated: 0
            }
        );
        assert_eq!(choices.last(), Some(&Choice::Finished));
    }

    #[test]
    fn refreshes_before_the_origin_show_nothing_and_an_onset_within_tolerance_keeps_the_flip() {
        // Audio measured 20 us after the planned flip (one 48 kHz sample of rounding): the first
        // frame still goes on the planned flip.
        let planned_flip = SessionTime::from_millis(500);
        let audio = planned_flip + SessionTime::from_micros(20);
        let mut clock = FrameClock::slaved_to_audio(audio, SessionTime::ZERO, DEFAULT_TOLERANCE);
        let mut queue = Timestamps {
            fps: 30,
            next: 0,
            n: 3,
        };
        let before = planned_flip - SessionTime(16_666_666);
        assert_eq!(
            clock.choose(before, &mut queue).unwrap(),
            Choice::BeforeStart
        );
        assert_eq!(
            clock.choose(planned_flip, &mut queue).unwrap(),
            Choice::New(0)
        );
        assert_eq!(clock.counts().flips, 1);
    }

    #[test]
    fn a_clip_without_frames_is_finished_at_once() {
        let mut clock = FrameClock::new(SessionTime::from_millis(100), DEFAULT_TOLERANCE);
        let mut queue = Timestamps {
            fps: 30,
            next: 0,
            n: 0,
        };
        assert_eq!(
            clock.choose(SessionTime::ZERO, &mut queue).unwrap(),
            Choice::Finished
        );
        assert_eq!(clock.counts(), FrameCounts::default());
    }

    #[test]
    fn audio_more_than_a_frame_early_drops_the_first_frames() {
        // The sound started 50 ms before the planned flip with no offset asked for: slaved to
        // it, the first refresh already shows frame 1 of a 30 fps clip (33.3 ms <= 50 ms).
        let flip = SessionTime::from_millis(500);
        let mut clock = FrameClock::slaved_to_audio(
            flip - SessionTime::from_millis(50),
            SessionTime::ZERO,
            DEFAULT_TOLERANCE,
        );
        let mut queue = Timestamps {
            fps: 30,
            next: 0,
            n: 30,
        };
        assert_eq!(clock.choose(flip, &mut queue).unwrap(), Choice::New(1));
        assert_eq!(clock.counts().dropped, 1);
    }
}
