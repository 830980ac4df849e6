//! Voices: one fundsp graph per note, shaped by an envelope computed here.
//!
//! fundsp supplies the oscillators, filters and noise; the envelope (attack, decay towards a
//! sustain level, release after the gate) is plain arithmetic on the sample index, so a note's
//! samples depend only on its own parameters — never on what else is playing or on time.

use fundsp::prelude32::{
    AudioUnit, brown, envelope, highpass_hz, lowpass_hz, moog_hz, noise, saw_hz, sine, sine_hz,
    soft_saw_hz, square_hz, triangle_hz,
};

use crate::SAMPLE_RATE;

/// The timbre of one note. Each names the fundsp graph and the envelope it is played with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Voice {
    /// Bright, plucked lead: saw plus an octave square through an open low-pass; fast decay.
    BrightLead,
    /// Bouncy bass: square and sine, low-passed; short.
    BouncyBass,
    /// Offbeat chord stab: saw through a mid low-pass; very short.
    Stab,
    /// Soft pad: two detuned soft saws through a closed low-pass; slow attack and release.
    Pad,
    /// Soft melody: triangle with a quiet sine octave; gentle attack, long release.
    Soft,
    /// Dark tone: triangle and a little saw through a low low-pass; slow attack.
    Dark,
    /// Low drone: two beating saws through a resonant Moog low-pass.
    Drone,
    /// Dissonant cluster tone with tremolo: saw through a Moog low-pass, amplitude at 7.5 Hz.
    Tremolo,
    /// Eerie high tone with a fast tremolo: sine.
    Whine,
    /// Low irregular hit: square with noise, low-passed; percussive.
    Hit,
    /// Kick drum: a sine whose pitch falls from 150 Hz to 50 Hz.
    Kick,
    /// Closed hi-hat: high-passed noise, 40 ms.
    Hat,
    /// Sub rumble: brown noise below 120 Hz (pitch ignored).
    Rumble,
}

/// Attack, decay time constant, sustain level and release, in seconds (sustain 0–1).
struct Envelope {
    attack: f64,
    decay: f64,
    sustain: f64,
    release: f64,
}

impl Voice {
    fn envelope(self) -> Envelope {
        let (attack, decay, sustain, release) = match self {
            Voice::BrightLead => (0.004, 0.18, 0.25, 0.05),
            Voice::BouncyBass => (0.004, 0.25, 0.4, 0.05),
            Voice::Stab => (0.003, 0.08, 0.1, 0.04),
            Voice::Pad => (0.9, 2.0, 0.85, 1.6),
            Voice::Soft => (0.18, 1.5, 0.7, 1.0),
            Voice::Dark => (0.35, 2.5, 0.75, 1.3),
            Voice::Drone => (2.0, 10.0, 1.0, 2.5),
            Voice::Tremolo => (1.2, 10.0, 1.0, 0.9),
            Voice::Whine => (1.5, 10.0, 1.0, 1.5),
            Voice::Hit => (0.002, 0.22, 0.0, 0.1),
            Voice::Kick => (0.001, 0.12, 0.0, 0.05),
            Voice::Hat => (0.001, 0.03, 0.0, 0.02),
            Voice::Rumble => (1.5, 10.0, 1.0, 2.0),
        };
        Envelope {
            attack,
            decay,
            sustain,
            release,
        }
    }

    /// The fundsp graph for a note of frequency `hz` (Hz).
    fn graph(self, hz: f32) -> Box<dyn AudioUnit> {
        match self {
            Voice::BrightLead => {
                Box::new((saw_hz(hz) * 0.6 + square_hz(hz * 2.0) * 0.15) >> lowpass_hz(4500.0, 0.8))
            }
            Voice::BouncyBass => {
                Box::new((square_hz(hz) * 0.35 + sine_hz(hz) * 0.8) >> lowpass_hz(1100.0, 0.8))
            }
            Voice::Stab => Box::new((saw_hz(hz) * 0.5) >> lowpass_hz(2800.0, 0.9)),
            Voice::Pad => Box::new(
                (soft_saw_hz(hz * 0.997) * 0.5 + soft_saw_hz(hz * 1.003) * 0.5)
                    >> lowpass_hz(1300.0, 0.6),
            ),
            Voice::Soft => Box::new(triangle_hz(hz) * 0.8 + sine_hz(hz * 2.0) * 0.12),
            Voice::Dark => {
                Box::new((triangle_hz(hz) * 0.8 + saw_hz(hz) * 0.25) >> lowpass_hz(650.0, 0.5))
            }
            Voice::Drone => {
                Box::new((saw_hz(hz) * 0.5 + saw_hz(hz * 1.012) * 0.5) >> moog_hz(320.0, 0.45))
            }
            Voice::Tremolo => {
                Box::new((saw_hz(hz) >> moog_hz(1600.0, 0.35)) * (sine_hz(7.5) * 0.45 + 0.55))
            }
            Voice::Whine => Box::new(sine_hz(hz) * (sine_hz(11.0) * 0.5 + 0.5) * 0.35),
            Voice::Hit => {
                Box::new((square_hz(hz) * 0.6 + noise() * 0.35) >> lowpass_hz(1800.0, 1.2))
            }
            Voice::Kick => Box::new(envelope(|t: f32| 50.0 + 100.0 * (-t * 25.0).exp()) >> sine()),
            Voice::Hat => Box::new((noise() * 0.5) >> highpass_hz(7500.0, 0.7)),
            Voice::Rumble => Box::new((brown() * 0.8) >> lowpass_hz(120.0, 0.7)),
        }
    }
}

/// One note of a score.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Note {
    pub(crate) start_s: f64,
    /// How long the gate is open; the release follows.
    pub(crate) gate_s: f64,
    /// MIDI pitch (69 = A4 = 440 Hz); fractional values are allowed.
    pub(crate) midi: f64,
    /// Linear gain.
    pub(crate) velocity: f32,
    pub(crate) voice: Voice,
}

pub(crate) fn midi_hz(midi: f64) -> f32 {
    (440.0 * 2f64.powf((midi - 69.0) / 12.0)) as f32
}

/// Adds `note` into `out` (mono, [`SAMPLE_RATE`]); samples past the end of `out` are dropped.
pub(crate) fn render_note(note: &Note, out: &mut [f32]) {
    let sr = f64::from(SAMPLE_RATE);
    let env = note.voice.envelope();
    let start = (note.start_s * sr).round() as usize;
    if start >= out.len() {
        return;
    }
    let gate = (note.gate_s * sr).round().max(1.0) as usize;
    let release = (env.release * sr).round().max(1.0) as usize;
    let len = (gate + release).min(out.len() - start);
    let mut graph = note.voice.graph(midi_hz(note.midi));
    graph.set_sample_rate(sr);
    graph.reset();
    let attack = (env.attack * sr).max(1.0);
    let mut level_at_gate = 0.0f64;
    for i in 0..len {
        let t = i as f64;
        let level = if i < gate {
            let rise = (t / attack).min(1.0);
            let held = (t - attack).max(0.0) / sr;
            let decayed = env.sustain + (1.0 - env.sustain) * (-held / env.decay).exp();
            let l = rise * decayed;
            level_at_gate = l;
            l
        } else {
            let after = (t - gate as f64) / release as f64;
            // A raised-cosine release ends exactly at zero: no click.
            level_at_gate * 0.5 * (1.0 + (std::f64::consts::PI * after).cos())
        };
        out[start + i] += graph.get_mono() * note.velocity * level as f32;
    }
}
