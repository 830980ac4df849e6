//! The audio engine as a [`SoundtrackOutput`]: how a clip presentation starts its soundtrack
//! and learns the measured onset.

use std::sync::Arc;

use cuelab_core::SessionTime;

use super::{AudioStatus, SoundtrackOutput, VideoError};
use crate::clock::{Clock, VirtualClock};
use crate::engine::{Engine, Event, VoiceId};
use crate::sound::Sound;
use crate::virtual_device::VirtualDevice;

/// One soundtrack played through the audio [`Engine`] for one clip presentation.
///
/// While the clip plays, this adapter reads the engine's event stream: the `Started` event of
/// its own voice gives the measured onset; events of other voices are kept for the caller
/// ([`EngineSoundtrack::other_events`]). Xruns are the engine's xrun counter since
/// [`SoundtrackOutput::start_at`].
///
/// On a [`VirtualDevice`] ([`EngineSoundtrack::on_virtual_device`]) each poll renders every
/// buffer due by the shared virtual clock's now, so the virtual display (which moves that clock
/// to each flip) and the virtual audio device advance together, headless and deterministic.
#[derive(Debug)]
pub struct EngineSoundtrack<'a> {
    engine: &'a mut Engine,
    device: Option<&'a mut VirtualDevice>,
    clock: Option<VirtualClock>,
    sound: Arc<Sound>,
    gain_db: f32,
    voice: Option<VoiceId>,
    onset: Option<SessionTime>,
    late_frames: i64,
    xruns_at_start: u64,
    others: Vec<Event>,
}

impl<'a> EngineSoundtrack<'a> {
    /// `sound` at `gain_db` on an engine driven by a real device (its callbacks run on their
    /// own).
    pub fn new(engine: &'a mut Engine, sound: Arc<Sound>, gain_db: f32) -> Self {
        Self {
            engine,
            device: None,
            clock: None,
            sound,
            gain_db,
            voice: None,
            onset: None,
            late_frames: 0,
            xruns_at_start: 0,
            others: Vec::new(),
        }
    }

    /// `sound` at `gain_db` on a virtual device sharing `clock` with the display: each poll
    /// renders the device's buffers due by the clock's now.
    pub fn on_virtual_device(
        engine: &'a mut Engine,
        device: &'a mut VirtualDevice,
        clock: VirtualClock,
        sound: Arc<Sound>,
        gain_db: f32,
    ) -> Self {
        let mut this = Self::new(engine, sound, gain_db);
        this.device = Some(device);
        this.clock = Some(clock);
        this
    }

    /// The voice, once started.
    pub fn voice(&self) -> Option<VoiceId> {
        self.voice
    }

    /// Frames the engine placed the first sample too late by (0 when on time).
    pub fn late_frames(&self) -> i64 {
        self.late_frames
    }

    /// Stops the soundtrack with a linear fade of `fade` from the next rendered buffer (the
    /// clip ended, or the trial was aborted). [`super::present`] does not stop it: the
    /// protocol decides whether music outlasts the picture.
    pub fn stop(&mut self, fade: SessionTime) -> Result<(), VideoError> {
        match self.voice {
            Some(voice) => self
                .engine
                .stop(voice, None, fade)
                .map_err(|e| VideoError::Audio(Box::new(e))),
            None => Ok(()),
        }
    }

    /// Events of other voices read while this soundtrack was polled.
    pub fn other_events(&self) -> &[Event] {
        &self.others
    }

    fn pump(&mut self) {
        if let (Some(device), Some(clock)) = (self.device.as_deref_mut(), self.clock.as_ref()) {
            device.render_until(clock.now());
        }
    }
}

impl SoundtrackOutput for EngineSoundtrack<'_> {
    fn start_at(&mut self, at: SessionTime) -> Result<(), VideoError> {
        self.xruns_at_start = self.engine.stats().xruns();
        let voice = self
            .engine
            .start(&self.sound, at, self.gain_db)
            .map_err(|e| VideoError::Audio(Box::new(e)))?;
        self.voice = Some(voice);
        Ok(())
    }

    fn poll(&mut self) -> Result<AudioStatus, VideoError> {
        self.pump();
        while let Some(event) = self.engine.next_event() {
            match event {
                Event::Started {
                    voice,
                    onset,
                    late_frames,
                    ..
                } if Some(voice) == self.voice => {
                    self.onset = Some(onset);
                    self.late_frames = late_frames;
                }
                other => self.others.push(other),
            }
        }
        Ok(AudioStatus {
            onset: self.onset,
            xruns: self.engine.stats().xruns() - self.xruns_at_start,
        })
    }
}
