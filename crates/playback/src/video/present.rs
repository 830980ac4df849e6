//! Presenting one clip with its soundtrack, and the trial timing record that proves the sync.

pub use cuelab_core::timing::{IntervalStats, TimingFlag, TrialTiming};
use cuelab_core::{Onset, SessionTime};

use super::frame_clock::{Choice, FrameClock, FrameQueue};
use super::{ClipDecoder, Display, VideoError, VideoFrame};

/// The soundtrack side of a clip presentation, as the presentation loop sees it: start at an
/// instant, then report the measured onset and the xruns. An adapter over the audio engine implements it; a trial with no music (a "silence" condition) passes `None`.
pub trait SoundtrackOutput {
    /// Schedules the soundtrack's first sample to play at `at` on the session clock.
    fn start_at(&mut self, at: SessionTime) -> Result<(), VideoError>;

    /// What is known now. Called once per refresh (after each flip) and once at the end; a
    /// virtual device renders up to the session clock's now here.
    fn poll(&mut self) -> Result<AudioStatus, VideoError>;
}

/// The soundtrack's state as reported by the audio engine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AudioStatus {
    /// The measured onset: the device timestamp of the first sample, on the session clock,
    /// once the engine has reported it.
    pub onset: Option<SessionTime>,
    /// Output underruns since [`SoundtrackOutput::start_at`].
    pub xruns: u64,
}

/// How to present a clip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresentConfig {
    /// The protocol's audio − video offset: positive = the music starts after the first frame.
    pub av_offset: SessionTime,
    /// How far ahead of now the first frame is planned, so the audio engine has time to place
    /// the soundtrack's first sample (at least the device's output latency plus one buffer, and
    /// more than a negative `av_offset`).
    pub lead: SessionTime,
    /// See [`FrameClock::tolerance`].
    pub tolerance: SessionTime,
    /// A trial whose measured audio − video offset differs from `av_offset` by more than this
    /// is flagged.
    pub max_av_error: SessionTime,
    /// The audio path's calibrated bias: the first sample is heard this much later than the
    /// device's timestamp says (`cuelab check --calibrate`). The soundtrack is scheduled this
    /// much earlier, and every measured onset is corrected by it before the frame clock, the
    /// audio − video offset and the flags use it.
    pub audio_bias: SessionTime,
}

impl Default for PresentConfig {
    fn default() -> Self {
        Self {
            av_offset: SessionTime::ZERO,
            lead: SessionTime::from_millis(100),
            tolerance: super::frame_clock::DEFAULT_TOLERANCE,
            max_av_error: SessionTime::from_millis(1),
            audio_bias: SessionTime::ZERO,
        }
    }
}

impl FrameQueue for ClipDecoder {
    type Frame = VideoFrame;
    type Error = VideoError;

    fn peek_timing(&mut self) -> Result<Option<(SessionTime, SessionTime)>, VideoError> {
        Ok(self.peek()?.map(|f| (f.pts(), f.duration())))
    }

    fn pop(&mut self) -> Result<Option<VideoFrame>, VideoError> {
        self.next_frame()
    }

    fn discard(&mut self, frame: VideoFrame) {
        self.recycle(frame);
    }
}

fn ms(t: SessionTime) -> f64 {
    t.as_millis_f64()
}

/// Presents one clip: plans the first frame on a refresh at least `config.lead` from now, asks
/// `soundtrack` to start at that flip + `config.av_offset`, then runs the refresh loop with the
/// frame clock slaved to the soundtrack's measured onset (the planned onset until the engine
/// reports it) until the clip's last frame has had its time. Returns the trial timing record.
///
/// `queue` is usually a [`ClipDecoder`] opened (and so decoding ahead) before the trial.
pub fn present<Q, D>(
    queue: &mut Q,
    display: &mut D,
    soundtrack: Option<&mut dyn SoundtrackOutput>,
    config: &PresentConfig,
) -> Result<TrialTiming, VideoError>
where
    Q: FrameQueue<Frame = VideoFrame, Error = VideoError>,
    D: Display + ?Sized,
{
    present_with(queue, display, soundtrack, config, &mut |_| {})
}

/// How long after a flip the presentation loop waits for an audio onset to tell of it.
const MAX_ONSET_WAIT: SessionTime = SessionTime::from_millis(2);

/// Onsets measured but not yet told.
#[derive(Debug, Default)]
struct Pending {
    audio_told: bool,
    video_told: bool,
}

impl Pending {
    /// Tells `on_onset` every onset at or before `now` (all of them with `now = None`), earlier
    /// first; an audio onset at the same instant as the video onset goes first.
    fn tell(
        &mut self,
        audio: Option<SessionTime>,
        video: Option<SessionTime>,
        now: Option<SessionTime>,
        on_onset: &mut dyn FnMut(Onset),
    ) {
        let due = |t: SessionTime| now.is_none_or(|now| t <= now);
        let audio = audio.filter(|&t| !self.audio_told && due(t));
        let video = video.filter(|&t| !self.video_told && due(t));
        let mut onsets = [audio.map(Onset::Audio), video.map(Onset::Video)];
        if let [Some(a), Some(v)] = onsets
            && v.at() < a.at()
        {
            onsets.swap(0, 1);
        }
        for onset in onsets.into_iter().flatten() {
            match onset {
                Onset::Audio(_) => self.audio_told = true,
                Onset::Video(_) => self.video_told = true,
            }
            on_onset(onset);
        }
    }
}

/// [`present`], telling `on_onset` of each onset as soon as the clock has passed it: the video
/// onset right after the flip that showed the first frame (as PsychoPy's `callOnFlip`), the
/// audio onset after the first flip at or after it (the engine reports it when it renders the
/// buffer, ahead of time), waiting up to 2 ms for one due just after a flip — so at the onset
/// or within one refresh of it, and at the latest when the presentation ends. The told onsets equal the returned record's.
pub fn present_with<Q, D>(
    queue: &mut Q,
    display: &mut D,
    mut soundtrack: Option<&mut dyn SoundtrackOutput>,
    config: &PresentConfig,
    on_onset: &mut dyn FnMut(Onset),
) -> Result<TrialTiming, VideoError>
where
    Q: FrameQueue<Frame = VideoFrame, Error = VideoError>,
    D: Display + ?Sized,
{
    let mut pending = Pending::default();
    let planned_flip = display.refresh_at_or_after(display.now() + config.lead);
    let scheduled_audio_onset = planned_flip + config.av_offset;
    if let Some(out) = soundtrack.as_deref_mut() {
        out.start_at(scheduled_audio_onset - config.audio_bias)?;
    }
    let mut clock = FrameClock::new(planned_flip, config.tolerance);
    let mut audio = AudioStatus::default();
    let mut video_onset = None;
    let mut late_flips = 0u64;
    let mut intervals = IntervalStats::default();
    let half_period = SessionTime(display.refresh_period().as_nanos() / 2);

    let video_offset = loop {
        if let Some(out) = soundtrack.as_deref_mut() {
            audio = out.poll()?;
            audio.onset = audio.onset.map(|o| o + config.audio_bias);
            if let Some(onset) = audio.onset {
                clock.set_origin(onset - config.av_offset);
            }
        }
        // Right after the last flip (and a fresh poll of the soundtrack). An audio onset due
        // shortly after the flip (with the picture, give or take a sample) is waited for, so
        // its marker goes out at the onset, not a refresh later.
        if let Some(onset) = audio.onset
            && !pending.audio_told
        {
            let now = display.now();
            if onset > now && onset - now <= MAX_ONSET_WAIT && onset < display.next_flip() {
                display.wait_until(onset);
            }
        }
        pending.tell(audio.onset, video_onset, Some(display.now()), on_onset);
        let predicted = display.next_flip();
        let choice = clock.choose(predicted, queue)?;
        if choice == Choice::Finished {
            // The refresh that takes the last frame off screen; the caller draws what follows.
            break predicted;
        }
        let frame = match choice {
            Choice::New(_) | Choice::Repeat(_) => clock.current(),
            Choice::BeforeStart | Choice::Finished => None,
        };
        let flip = display.present(frame)?;
        if !matches!(choice, Choice::BeforeStart) {
            intervals.flip(flip);
        }
        // A real display's flip timestamps jitter around the prediction; a flip is late when it
        // landed on a later refresh than predicted.
        if flip - predicted > half_period {
            late_flips += 1;
        }
        if video_onset.is_none() && matches!(choice, Choice::New(_)) {
            video_onset = Some(flip);
        }
    };
    if let Some(out) = soundtrack.as_deref_mut() {
        audio = out.poll()?;
        audio.onset = audio.onset.map(|o| o + config.audio_bias);
    }
    pending.tell(audio.onset, video_onset, None, on_onset);

    let counts = clock.counts();
    let wanted_av_offset_ms = ms(config.av_offset);
    let av_offset = match (audio.onset, video_onset) {
        (Some(a), Some(v)) => Some(a - v),
        _ => None,
    };
    let mut flags = Vec::new();
    if let Some(d) = av_offset
        && (d - config.av_offset).as_nanos().abs() > config.max_av_error.as_nanos()
    {
        flags.push(TimingFlag::AvOffset {
            measured_ms: ms(d),
            wanted_ms: wanted_av_offset_ms,
        });
    }
    if soundtrack.is_some() && audio.onset.is_none() {
        flags.push(TimingFlag::NoAudioOnset);
    }
    match video_onset {
        None => flags.push(TimingFlag::NoVideo),
        Some(v) if (v - planned_flip).as_nanos().abs() > half_period.as_nanos() => {
            flags.push(TimingFlag::FirstFlipMissed {
                late_by_ms: ms(v - planned_flip),
            })
        }
        Some(_) => {}
    }
    if counts.dropped > 0 {
        flags.push(TimingFlag::DroppedFrames(counts.dropped));
    }
    if audio.xruns > 0 {
        flags.push(TimingFlag::Xruns(audio.xruns));
    }
    if late_flips > 0 {
        flags.push(TimingFlag::LateFlips(late_flips));
    }
    Ok(TrialTiming {
        scheduled_onset: planned_flip,
        scheduled_audio_onset: soundtrack.is_some().then_some(scheduled_audio_onset),
        audio_onset: audio.onset,
        video_onset,
        wanted_av_offset_ms,
        av_offset_ms: av_offset.map(ms),
        frames_shown: counts.shown,
        frames_dropped: counts.dropped,
        frames_repeated: counts.repeated,
        late_flips,
        xruns: audio.xruns,
        video_offset: Some(video_offset),
        frame_interval_sd_ms: intervals.sd_ms(),
        frame_interval_max_ms: intervals.max_ms(),
        flagged: !flags.is_empty(),
        flags,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::clock::{Clock, VirtualClock};
    use crate::video::{DecodeConfig, VirtualDisplay};

    /// An audio output that plays exactly `late` after the asked instant and reports the onset
    /// `report_ahead` before it is heard (as an engine does when it renders the buffer).
    struct FakeAudio {
        clock: VirtualClock,
        late: SessionTime,
        report_ahead: SessionTime,
        xruns: u64,
        asked: Option<SessionTime>,
    }

    impl FakeAudio {
        fn new(clock: &VirtualClock) -> Self {
            Self {
                clock: clock.clone(),
                late: SessionTime::ZERO,
                report_ahead: SessionTime::from_millis(5),
                xruns: 0,
                asked: None,
            }
        }
    }

    impl SoundtrackOutput for FakeAudio {
        fn start_at(&mut self, at: SessionTime) -> Result<(), VideoError> {
            self.asked = Some(at);
            Ok(())
        }
        fn poll(&mut self) -> Result<AudioStatus, VideoError> {
            let onset = self
                .asked
                .map(|at| at + self.late)
                .filter(|&onset| self.clock.now() >= onset - self.report_ahead);
            Ok(AudioStatus {
                onset,
                xruns: self.xruns,
            })
        }
    }

    fn clip_30fps() -> ClipDecoder {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/video/testsrc_160x120_30fps_2s.mp4");
        ClipDecoder::open(&path, &DecodeConfig::default()).unwrap()
    }

    fn run(
        hz: u32,
        audio: Option<&mut FakeAudio>,
        av_offset_ms: i64,
    ) -> (TrialTiming, VirtualDisplay) {
        let clock = match &audio {
            Some(a) => a.clock.clone(),
            None => VirtualClock::new(),
        };
        clock.advance(SessionTime::from_millis(1234));
        let mut display = VirtualDisplay::new(clock, hz);
        let config = PresentConfig {
            av_offset: SessionTime::from_millis(av_offset_ms),
            ..PresentConfig::default()
        };
        let mut clip = clip_30fps();
        let timing = present(
            &mut clip,
            &mut display,
            audio.map(|a| a as &mut dyn SoundtrackOutput),
            &config,
        )
        .unwrap();
        (timing, display)
    }

    #[test]
    fn in_sync_trials_are_clean_and_show_every_frame() {
        for offset in [0i64, 20, -20] {
            let clock = VirtualClock::new();
            let mut audio = FakeAudio::new(&clock);
            let (t, display) = run(60, Some(&mut audio), offset);
            assert_eq!(t.flags, vec![], "offset {offset}");
            assert!(!t.flagged);
            assert_eq!(t.av_offset_ms, Some(offset as f64));
            assert_eq!(t.video_onset, Some(t.scheduled_onset));
            // Planned at least 100 ms after now (1234 ms), on a 60 Hz refresh: 1350 ms.
            assert_eq!(t.scheduled_onset, SessionTime::from_millis(1350));
            assert_eq!(
                t.scheduled_audio_onset,
                Some(t.scheduled_onset + SessionTime::from_millis(offset))
            );
            assert_eq!(
                (t.frames_shown, t.frames_dropped, t.frames_repeated),
                (60, 0, 60)
            );
            assert_eq!(
                t.video_offset,
                Some(t.scheduled_onset + SessionTime::from_millis(2000))
            );
            assert_eq!(display.last_frame(), Some(59));
        }
    }

    #[test]
    fn a_calibrated_bias_schedules_earlier_and_corrects_the_measured_onset() {
        // A device whose first sample is heard 7.8 ms after its timestamps say: with the bias
        // calibrated, the soundtrack is asked for 7.8 ms early, the corrected onset lands on the
        // planned instant and the trial is clean.
        let bias = SessionTime::from_micros(7800);
        for offset in [0i64, 20] {
            let clock = VirtualClock::new();
            clock.advance(SessionTime::from_millis(1234));
            let mut audio = FakeAudio::new(&clock);
            let mut display = VirtualDisplay::new(clock.clone(), 60);
            let config = PresentConfig {
                av_offset: SessionTime::from_millis(offset),
                audio_bias: bias,
                ..PresentConfig::default()
            };
            let t = present(&mut clip_30fps(), &mut display, Some(&mut audio), &config).unwrap();
            let wanted = t.scheduled_onset + SessionTime::from_millis(offset);
            assert_eq!(audio.asked, Some(wanted - bias), "offset {offset}");
            assert_eq!(t.audio_onset, Some(wanted));
            assert_eq!(t.av_offset_ms, Some(offset as f64));
            assert!(!t.flagged, "{:?}", t.flags);
        }
    }

    #[test]
    fn onsets_are_told_in_order_within_a_refresh_of_happening_and_equal_the_record() {
        // Music 50 ms and 1 ms after the picture, with it, and 30 ms before it (the engine
        // reports the onset 5 ms ahead of it being heard). Each onset is told once, after the
        // clock has passed it and before the next refresh, earlier first.
        let period = SessionTime(16_666_666);
        for offset in [50i64, 1, 0, -30] {
            let clock = VirtualClock::new();
            clock.advance(SessionTime::from_millis(1234));
            let mut audio = FakeAudio::new(&clock);
            let mut display = VirtualDisplay::new(clock.clone(), 60);
            let config = PresentConfig {
                av_offset: SessionTime::from_millis(offset),
                lead: SessionTime::from_millis(100),
                ..PresentConfig::default()
            };
            let mut told = Vec::new();
            let t = present_with(
                &mut clip_30fps(),
                &mut display,
                Some(&mut audio),
                &config,
                &mut |onset| told.push((onset, clock.now())),
            )
            .unwrap();
            let (a, v) = (t.audio_onset.unwrap(), t.video_onset.unwrap());
            let mut wanted = vec![Onset::Audio(a), Onset::Video(v)];
            if v < a {
                wanted.reverse();
            }
            let onsets: Vec<Onset> = told.iter().map(|(o, _)| *o).collect();
            assert_eq!(onsets, wanted, "offset {offset}");
            for (onset, when) in &told {
                assert!(
                    *when >= onset.at(),
                    "offset {offset}: {onset:?} told at {when:?}"
                );
                assert!(
                    *when - onset.at() < period,
                    "offset {offset}: {onset:?} told at {when:?}, over a refresh late"
                );
            }
            if offset == 1 {
                // Due 1 ms after the first flip: waited for, told at the onset itself.
                assert_eq!(told[1], (Onset::Audio(a), a));
            }
            // Long before the clip's 2 s end, where the record is returned.
            assert!(
                told.iter()
                    .all(|(_, when)| *when < v + SessionTime::from_millis(100))
            );
        }
    }

    #[test]
    fn a_silent_trial_tells_only_its_video_onset() {
        let clock = VirtualClock::new();
        let mut display = VirtualDisplay::new(clock.clone(), 60);
        let mut told = Vec::new();
        let t = present_with(
            &mut clip_30fps(),
            &mut display,
            None,
            &PresentConfig::default(),
            &mut |onset| told.push(onset),
        )
        .unwrap();
        assert_eq!(told, vec![Onset::Video(t.video_onset.unwrap())]);
    }

    #[test]
    fn audio_late_by_more_than_a_millisecond_is_flagged() {
        let clock = VirtualClock::new();
        let mut audio = FakeAudio::new(&clock);
        audio.late = SessionTime::from_millis(5);
        let (t, _) = run(60, Some(&mut audio), 0);
        assert!(t.flagged);
        assert_eq!(
            t.flags,
            vec![TimingFlag::AvOffset {
                measured_ms: 5.0,
                wanted_ms: 0.0
            }]
        );
    }

    #[test]
    fn audio_known_late_before_the_first_flip_moves_the_picture_and_is_flagged() {
        // The engine reports the 5 ms late onset before the planned flip: the frame clock, slaved
        // to it, holds the first frame to the next refresh. The record says so.
        let clock = VirtualClock::new();
        let mut audio = FakeAudio::new(&clock);
        audio.late = SessionTime::from_millis(5);
        audio.report_ahead = SessionTime::from_millis(50);
        let (t, _) = run(60, Some(&mut audio), 0);
        assert!(t.flagged);
        // The refresh after 1350 ms at 60 Hz: refresh 82, at 82/60 s rounded down.
        assert_eq!(t.video_onset, Some(SessionTime(1_366_666_666)));
        assert!(matches!(t.flags[0], TimingFlag::AvOffset { .. }));
        assert!(matches!(t.flags[1], TimingFlag::FirstFlipMissed { .. }));
        let av = t.av_offset_ms.unwrap();
        // Audio at 1355 ms, picture at 1366.666666 ms.
        assert_eq!(av, -11.666666);
    }

    #[test]
    fn xruns_flag_the_trial() {
        let clock = VirtualClock::new();
        let mut audio = FakeAudio::new(&clock);
        audio.xruns = 2;
        let (t, _) = run(60, Some(&mut audio), 0);
        assert_eq!(t.xruns, 2);
        assert_eq!(t.flags, vec![TimingFlag::Xruns(2)]);
    }

    #[test]
    fn a_silent_trial_has_no_audio_and_no_offset_and_is_clean() {
        let (t, _) = run(60, None, 0);
        assert_eq!(t.audio_onset, None);
        assert_eq!(t.scheduled_audio_onset, None);
        assert_eq!(t.av_offset_ms, None);
        assert!(!t.flagged, "{:?}", t.flags);
        assert_eq!(t.frames_shown, 60);
    }

    #[test]
    fn a_slow_display_drops_frames_and_flags_them() {
        let clock = VirtualClock::new();
        let mut audio = FakeAudio::new(&clock);
        let (t, _) = run(20, Some(&mut audio), 0);
        // 60 frames at 30 fps on a 20 Hz display: 40 shown, 20 dropped.
        assert_eq!((t.frames_shown, t.frames_dropped), (40, 20));
        assert!(t.flags.contains(&TimingFlag::DroppedFrames(20)));
        assert!(t.flagged);
    }

    #[test]
    fn missed_vsyncs_are_counted_and_flag_the_trial() {
        let clock = VirtualClock::new();
        let mut audio = FakeAudio::new(&clock);
        let mut display = VirtualDisplay::new(clock.clone(), 60);
        display.miss_every(Some(25));
        let mut clip = clip_30fps();
        let t = present(
            &mut clip,
            &mut display,
            Some(&mut audio),
            &PresentConfig::default(),
        )
        .unwrap();
        // 120 refreshes in 2 s at 60 Hz, a few of them late; the offset stays exact because the
        // first flip was on time.
        assert!(t.late_flips >= 4, "{t:?}");
        assert!(t.flags.contains(&TimingFlag::LateFlips(t.late_flips)));
        assert_eq!(t.av_offset_ms, Some(0.0));
        assert!(t.flagged);
        assert_eq!(t.frames_shown + t.frames_dropped, 60);
    }

    #[test]
    fn flags_read_as_sentences() {
        let flag = TimingFlag::AvOffset {
            measured_ms: 3.25,
            wanted_ms: 0.0,
        };
        assert_eq!(
            flag.to_string(),
            "audio-video offset 3.250 ms, protocol asks 0.000 ms"
        );
    }
}
