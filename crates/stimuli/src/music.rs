//! Soundtracks: four characters composed from controlled features, tracks made of one or more
//! characters in sequence, and the affect curve each track was designed to carry.
//!
//! A character fixes the features film-music studies manipulate — tempo, mode, register,
//! articulation, timbre, rhythm — and the valence and arousal (1–9, SAM) they are meant to
//! evoke. The notes inside those constraints are drawn from a seeded [`Rng`], so the melodies are
//! varied but every run writes the same samples.

use crate::SAMPLE_RATE;
use crate::rng::Rng;
use crate::synth::{Note, Voice, render_note};

/// The musical character of a stretch of a soundtrack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Character {
    /// Arousing and happy: fast, major, high and bright, staccato, with drums.
    Happy,
    /// Relaxing and tender: slow, major, soft pads and a legato melody, no drums.
    Tender,
    /// Sad: slow, minor, low register, dark legato timbre.
    Sad,
    /// Scary and tense: dissonant clusters with tremolo, low drones, irregular hits.
    Scary,
}

/// The designed features of a character (what the features table reports).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Features {
    /// Beats per minute; `None` for irregular, unmetred rhythm.
    pub tempo_bpm: Option<f64>,
    /// `major`, `minor` or `atonal`.
    pub mode: &'static str,
    /// `high`, `middle` or `low`: where the melody and harmony sit.
    pub register: &'static str,
    /// `staccato`, `legato` or `mixed`.
    pub articulation: &'static str,
    /// A word for the timbre.
    pub timbre: &'static str,
    /// `regular` or `irregular`.
    pub rhythm: &'static str,
    /// Designed valence on the 1–9 SAM scale.
    pub valence: f64,
    /// Designed arousal on the 1–9 SAM scale.
    pub arousal: f64,
}

impl Character {
    /// The features this character is composed with.
    pub fn features(self) -> Features {
        match self {
            Character::Happy => Features {
                tempo_bpm: Some(144.0),
                mode: "major",
                register: "high",
                articulation: "staccato",
                timbre: "bright",
                rhythm: "regular",
                valence: 7.5,
                arousal: 7.5,
            },
            Character::Tender => Features {
                tempo_bpm: Some(66.0),
                mode: "major",
                register: "middle",
                articulation: "legato",
                timbre: "soft",
                rhythm: "regular",
                valence: 7.0,
                arousal: 2.5,
            },
            Character::Sad => Features {
                tempo_bpm: Some(56.0),
                mode: "minor",
                register: "low",
                articulation: "legato",
                timbre: "dark",
                rhythm: "regular",
                valence: 2.5,
                arousal: 3.0,
            },
            Character::Scary => Features {
                tempo_bpm: None,
                mode: "atonal",
                register: "low",
                articulation: "mixed",
                timbre: "harsh",
                rhythm: "irregular",
                valence: 2.0,
                arousal: 7.5,
            },
        }
    }

    /// The notes of this character starting in `[t0, t1)` seconds.
    fn compose(self, t0: f64, t1: f64, rng: &mut Rng) -> Vec<Note> {
        match self {
            Character::Happy => compose_happy(t0, t1, rng),
            Character::Tender => compose_tender(t0, t1, rng),
            Character::Sad => compose_sad(t0, t1, rng),
            Character::Scary => compose_scary(t0, t1, rng),
        }
    }
}

/// How long two characters overlap where a track changes from one to the next, in seconds.
pub const CROSSFADE_S: f64 = 4.0;
const FADE_IN_S: f64 = 0.5;
const FADE_OUT_S: f64 = 1.5;

/// One stretch of a track: a character from `from_s` until the next part begins.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Part {
    /// What the music is like in this part.
    pub character: Character,
    /// When the part begins, seconds from the start of the track (the crossfade is centred here).
    pub from_s: f64,
}

/// A soundtrack's design: its name, length, parts and seed.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackDesign {
    /// The file stem and the table's `id`.
    pub id: &'static str,
    /// Designed length; whole seconds (every FLAC frame is 100 ms).
    pub seconds: f64,
    /// In time order; the first starts at 0. Empty for silence.
    pub parts: Vec<Part>,
    /// Only for practice trials.
    pub practice: bool,
}

impl TrackDesign {
    /// A track of one character.
    fn steady(id: &'static str, seconds: f64, character: Character) -> Self {
        Self {
            id,
            seconds,
            parts: vec![Part {
                character,
                from_s: 0.0,
            }],
            practice: false,
        }
    }

    /// The weight of part `i` at `t` seconds: 1 inside it, a raised-cosine ramp across each
    /// crossfade, so that the weights of all parts sum to 1 at every instant.
    fn weight(&self, i: usize, t: f64) -> f64 {
        let fade_in = if i == 0 {
            1.0
        } else {
            ramp((t - (self.parts[i].from_s - CROSSFADE_S / 2.0)) / CROSSFADE_S)
        };
        let fade_out = match self.parts.get(i + 1) {
            None => 1.0,
            Some(next) => 1.0 - ramp((t - (next.from_s - CROSSFADE_S / 2.0)) / CROSSFADE_S),
        };
        fade_in * fade_out
    }

    /// The designed affect at `t` seconds: the parts' valence and arousal weighted as they are
    /// heard. `None` for silence.
    pub fn affect_at(&self, t: f64) -> Option<(f64, f64)> {
        if self.parts.is_empty() {
            return None;
        }
        let (mut v, mut a, mut total) = (0.0, 0.0, 0.0);
        for (i, part) in self.parts.iter().enumerate() {
            let w = self.weight(i, t);
            let f = part.character.features();
            v += w * f.valence;
            a += w * f.arousal;
            total += w;
        }
        Some((v / total, a / total))
    }

    /// The per-second curve `(t_s, valence, arousal)` for `t_s = 0, 1, …` up to `seconds`.
    pub fn curve(&self, seconds: f64) -> Vec<(f64, f64, f64)> {
        let last = seconds.floor() as u32;
        (0..=last)
            .filter_map(|s| {
                let t = f64::from(s);
                self.affect_at(t).map(|(v, a)| (t, v, a))
            })
            .collect()
    }

    /// The mono samples of the first `seconds` of the track at [`SAMPLE_RATE`], before loudness
    /// normalization.
    pub(crate) fn render(&self, seconds: f64) -> Vec<f32> {
        let sr = f64::from(SAMPLE_RATE);
        let len = (seconds * sr).round() as usize;
        let mut mix = vec![0.0f32; len];
        let n = self.parts.len();
        for (i, part) in self.parts.iter().enumerate() {
            let from = if i == 0 {
                0.0
            } else {
                part.from_s - CROSSFADE_S / 2.0
            };
            let to = if i + 1 == n {
                seconds
            } else {
                self.parts[i + 1].from_s + CROSSFADE_S / 2.0
            };
            let to = to.min(seconds);
            if from >= to {
                continue;
            }
            let mut rng = Rng::for_name(self.id, i as u64);
            let mut buf = vec![0.0f32; len];
            for note in part.character.compose(from, to, &mut rng) {
                render_note(&note, &mut buf);
            }
            for (k, (m, b)) in mix.iter_mut().zip(&buf).enumerate() {
                // An equal-power crossfade for the sound; the affect curve averages with the
                // weight itself.
                let w = self.weight(i, k as f64 / sr);
                *m += b * (w * std::f64::consts::FRAC_PI_2).sin() as f32;
            }
        }
        let fade_in = (FADE_IN_S * sr) as usize;
        let fade_out = (FADE_OUT_S * sr) as usize;
        for (k, m) in mix.iter_mut().enumerate() {
            let g_in = ramp(k as f64 / fade_in as f64);
            let g_out = ramp((len - k) as f64 / fade_out as f64);
            *m *= (g_in * g_out) as f32;
        }
        mix
    }
}

/// A raised-cosine step from 0 (x ≤ 0) to 1 (x ≥ 1).
fn ramp(x: f64) -> f64 {
    let x = x.clamp(0.0, 1.0);
    0.5 - 0.5 * (std::f64::consts::PI * x).cos()
}

/// The designed soundtracks. Every track is 24 s except the practice track.
pub fn tracks() -> Vec<TrackDesign> {
    use Character::*;
    vec![
        TrackDesign::steady("arousing", 24.0, Happy),
        TrackDesign::steady("relaxing", 24.0, Tender),
        TrackDesign::steady("sad", 24.0, Sad),
        TrackDesign::steady("scary", 24.0, Scary),
        TrackDesign {
            id: "calm_to_tense",
            seconds: 24.0,
            parts: vec![
                Part {
                    character: Tender,
                    from_s: 0.0,
                },
                Part {
                    character: Scary,
                    from_s: 12.0,
                },
            ],
            practice: false,
        },
        TrackDesign {
            id: "sad_to_happy",
            seconds: 24.0,
            parts: vec![
                Part {
                    character: Sad,
                    from_s: 0.0,
                },
                Part {
                    character: Happy,
                    from_s: 12.0,
                },
            ],
            practice: false,
        },
        TrackDesign {
            id: "practice",
            seconds: 8.0,
            parts: vec![Part {
                character: Tender,
                from_s: 0.0,
            }],
            practice: true,
        },
        TrackDesign {
            id: "silence",
            seconds: 24.0,
            parts: vec![],
            practice: false,
        },
    ]
}

const MAJOR: [i32; 7] = [0, 2, 4, 5, 7, 9, 11];
const MINOR: [i32; 7] = [0, 2, 3, 5, 7, 8, 10];

/// The MIDI pitches of `scale` on `tonic` within `[lo, hi]`.
fn pitches(tonic: i32, scale: &[i32], lo: i32, hi: i32) -> Vec<i32> {
    (lo..=hi)
        .filter(|p| scale.contains(&(p - tonic).rem_euclid(12)))
        .collect()
}

/// Index of the pitch in `set` nearest to `p`.
fn nearest(set: &[i32], p: i32) -> usize {
    let mut best = 0;
    for (i, q) in set.iter().enumerate() {
        if (q - p).abs() < (set[best] - p).abs() {
            best = i;
        }
    }
    best
}

/// A melody walking `scale_set` by small steps; on each bar's first note it lands on a chord tone.
struct Walker {
    set: Vec<i32>,
    idx: usize,
}

impl Walker {
    fn new(set: Vec<i32>) -> Self {
        let idx = set.len() / 2;
        Self { set, idx }
    }

    fn step(&mut self, rng: &mut Rng, steps: &[(i32, f64)]) -> i32 {
        let mut u = rng.unit();
        let mut step = steps[steps.len() - 1].0;
        for &(s, p) in steps {
            if u < p {
                step = s;
                break;
            }
            u -= p;
        }
        let next = self.idx as i32 + step;
        // Bounce off the ends of the range instead of sticking to them.
        let next = if next < 0 || next >= self.set.len() as i32 {
            self.idx as i32 - step
        } else {
            next
        };
        self.idx = next.clamp(0, self.set.len() as i32 - 1) as usize;
        self.set[self.idx]
    }

    /// Moves to the chord tone nearest to the current pitch.
    fn land_on(&mut self, chord: &[i32]) -> i32 {
        let here = self.set[self.idx];
        let tones: Vec<i32> = self
            .set
            .iter()
            .copied()
            .filter(|p| chord.iter().any(|c| (p - c).rem_euclid(12) == 0))
            .collect();
        if let Some(&p) = tones.get(nearest(&tones, here)) {
            self.idx = nearest(&self.set, p);
        }
        self.set[self.idx]
    }
}

fn note(start_s: f64, gate_s: f64, midi: i32, velocity: f32, voice: Voice) -> Note {
    Note {
        start_s,
        gate_s,
        midi: f64::from(midi),
        velocity,
        voice,
    }
}

/// C major, 144 bpm, I–V–vi–IV; staccato eighth-note melody in C5–E6, bouncing bass, offbeat
/// stabs, kick and hi-hat.
fn compose_happy(t0: f64, t1: f64, rng: &mut Rng) -> Vec<Note> {
    let tonic = 60;
    let beat = 60.0 / 144.0;
    let eighth = beat / 2.0;
    let prog: [[i32; 3]; 4] = [[0, 4, 7], [7, 11, 14], [9, 12, 16], [5, 9, 12]];
    let mut melody = Walker::new(pitches(tonic, &MAJOR, 72, 88));
    let mut notes = Vec::new();
    let mut bar = 0usize;
    loop {
        let bar_t = t0 + bar as f64 * 4.0 * beat;
        if bar_t >= t1 {
            break;
        }
        let chord: Vec<i32> = prog[bar % 4].iter().map(|c| tonic + c).collect();
        for e in 0..8 {
            let t = bar_t + e as f64 * eighth;
            if t >= t1 {
                break;
            }
            let on_beat = e % 2 == 0;
            // Drums: kick on beats 1 and 3, hi-hat on every eighth (louder offbeats).
            if e == 0 || e == 4 {
                notes.push(note(t, 0.15, 36, 0.9, Voice::Kick));
            }
            notes.push(note(
                t,
                0.03,
                100,
                if on_beat { 0.25 } else { 0.4 },
                Voice::Hat,
            ));
            if on_beat {
                let b = e / 2;
                let root = chord[0] - 24;
                let p = if b % 2 == 0 { root } else { root + 7 };
                notes.push(note(t, beat * 0.45, p, 0.5, Voice::BouncyBass));
            } else {
                for c in &chord {
                    notes.push(note(t, 0.07, *c, 0.07, Voice::Stab));
                }
            }
            if e > 0 && rng.chance(0.12) {
                continue;
            }
            let p = if e == 0 {
                melody.land_on(&chord)
            } else {
                melody.step(rng, &[(1, 0.35), (-1, 0.35), (2, 0.15), (-2, 0.15)])
            };
            let accent = if on_beat { 0.34 } else { 0.26 };
            notes.push(note(t, eighth * 0.45, p, accent, Voice::BrightLead));
        }
        bar += 1;
    }
    notes
}

/// F major, 66 bpm, I–IV–vi–V; a legato soft melody of half and quarter notes in C5–C6 over a
/// pad in the middle register and a soft bass; no drums.
fn compose_tender(t0: f64, t1: f64, rng: &mut Rng) -> Vec<Note> {
    let tonic = 65;
    let beat = 60.0 / 66.0;
    let bar_len = 4.0 * beat;
    let prog: [[i32; 3]; 4] = [[0, 4, 7], [5, 9, 12], [9, 12, 16], [7, 11, 14]];
    let mut melody = Walker::new(pitches(tonic, &MAJOR, 72, 84));
    let mut notes = Vec::new();
    let mut bar = 0usize;
    loop {
        let bar_t = t0 + bar as f64 * bar_len;
        if bar_t >= t1 {
            break;
        }
        let chord: Vec<i32> = prog[bar % 4].iter().map(|c| tonic - 12 + c).collect();
        for c in &chord {
            notes.push(note(bar_t, bar_len + 0.3, *c, 0.16, Voice::Pad));
        }
        notes.push(note(bar_t, bar_len, chord[0] - 12, 0.22, Voice::Soft));
        let mut beat_in_bar = 0usize;
        while beat_in_bar < 4 {
            let t = bar_t + beat_in_bar as f64 * beat;
            if t >= t1 {
                break;
            }
            let len = if rng.chance(0.5) && beat_in_bar < 3 {
                2
            } else {
                1
            };
            let p = if beat_in_bar == 0 {
                melody.land_on(&chord)
            } else {
                melody.step(rng, &[(1, 0.4), (-1, 0.45), (2, 0.15)])
            };
            let ioi = len as f64 * beat;
            notes.push(note(t, ioi * 1.05, p, 0.3, Voice::Soft));
            beat_in_bar += len;
        }
        bar += 1;
    }
    notes
}

/// A minor, 56 bpm, i–iv–VI–V; a legato melody drifting downwards in E3–E4 over a dark low
/// harmony and a bass at A1.
fn compose_sad(t0: f64, t1: f64, rng: &mut Rng) -> Vec<Note> {
    let tonic = 45;
    let beat = 60.0 / 56.0;
    let bar_len = 4.0 * beat;
    let prog: [[i32; 3]; 4] = [[0, 3, 7], [5, 8, 12], [8, 12, 15], [7, 11, 14]];
    let mut melody = Walker::new(pitches(tonic, &MINOR, 52, 64));
    let mut notes = Vec::new();
    let mut bar = 0usize;
    loop {
        let bar_t = t0 + bar as f64 * bar_len;
        if bar_t >= t1 {
            break;
        }
        let chord: Vec<i32> = prog[bar % 4].iter().map(|c| tonic + c).collect();
        for c in &chord {
            notes.push(note(bar_t, bar_len + 0.3, *c, 0.15, Voice::Dark));
        }
        notes.push(note(bar_t, bar_len + 0.2, chord[0] - 12, 0.3, Voice::Dark));
        let mut beat_in_bar = 0usize;
        while beat_in_bar < 4 {
            let t = bar_t + beat_in_bar as f64 * beat;
            if t >= t1 {
                break;
            }
            let len = if rng.chance(0.6) && beat_in_bar < 3 {
                2
            } else {
                1
            };
            let p = if beat_in_bar == 0 {
                melody.land_on(&chord)
            } else {
                melody.step(rng, &[(-1, 0.55), (1, 0.3), (-2, 0.15)])
            };
            let ioi = len as f64 * beat;
            notes.push(note(t, ioi * 1.05, p, 0.32, Voice::Dark));
            beat_in_bar += len;
        }
        bar += 1;
    }
    notes
}

/// No key and no metre: a G1 drone with a C♯2 a tritone above, sub rumble, swelling semitone
/// clusters with tremolo, an eerie high minor second, and low hits at irregular intervals.
fn compose_scary(t0: f64, t1: f64, rng: &mut Rng) -> Vec<Note> {
    let span = t1 - t0;
    let mut notes = vec![
        note(t0, span, 31, 0.5, Voice::Drone),
        note(t0, span, 37, 0.3, Voice::Drone),
        note(t0, span, 0, 0.6, Voice::Rumble),
    ];
    // Clusters: three or four adjacent semitones, entering at irregular times.
    let mut t = t0 + rng.range(0.5, 1.5);
    while t < t1 {
        let base = 54 + rng.below(12) as i32;
        let size = 3 + rng.below(2) as i32;
        let gate = rng.range(2.0, 4.0);
        for k in 0..size {
            notes.push(note(t, gate, base + k, 0.09, Voice::Tremolo));
        }
        t += rng.range(2.0, 4.5);
    }
    // An eerie high minor second, twice.
    let mut t = t0 + rng.range(3.0, 6.0);
    while t < t1 {
        notes.push(note(t, 4.0, 83, 0.12, Voice::Whine));
        notes.push(note(t, 4.0, 84, 0.12, Voice::Whine));
        t += rng.range(8.0, 12.0);
    }
    // Low hits at irregular inter-onset intervals, sometimes doubled.
    let iois = [0.3, 0.45, 0.7, 1.1, 1.6, 2.3];
    let mut t = t0 + rng.range(0.2, 1.0);
    while t < t1 {
        let p = 36 + rng.below(6) as i32;
        let v = rng.range(0.45, 0.85) as f32;
        notes.push(note(t, 0.12, p, v, Voice::Hit));
        if rng.chance(0.3) {
            notes.push(note(t + 0.16, 0.1, p + 1, v * 0.7, Voice::Hit));
        }
        t += iois[rng.below(iois.len())];
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_of_character_moves_the_curve_across_the_crossfade_only() {
        let track = tracks()
            .into_iter()
            .find(|t| t.id == "calm_to_tense")
            .expect("designed");
        let tender = Character::Tender.features();
        let scary = Character::Scary.features();
        assert_eq!(track.affect_at(5.0), Some((tender.valence, tender.arousal)));
        assert_eq!(track.affect_at(20.0), Some((scary.valence, scary.arousal)));
        let (v, a) = track.affect_at(12.0).expect("music");
        assert!((v - (tender.valence + scary.valence) / 2.0).abs() < 1e-12);
        assert!((a - (tender.arousal + scary.arousal) / 2.0).abs() < 1e-12);
    }

    #[test]
    fn the_curve_has_one_point_per_second_including_the_end() {
        let track = &tracks()[0];
        let curve = track.curve(24.0);
        assert_eq!(curve.len(), 25);
        assert_eq!(curve[24].0, 24.0);
    }

    #[test]
    fn pitches_stay_in_the_scale_and_range() {
        let p = pitches(60, &MAJOR, 60, 72);
        assert_eq!(p, [60, 62, 64, 65, 67, 69, 71, 72]);
        assert_eq!(nearest(&p, 66), 3);
    }
}
