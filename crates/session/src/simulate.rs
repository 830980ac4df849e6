//! Simulated participants for the time-perception paradigm.
//!
//! # The model
//!
//! Every trial shows a clip of actual duration `D` seconds under a music level `m` (the level of
//! the [`TimeModel::factor`] condition). A participant's perceived log duration is
//!
//! ```text
//! P = ln R + λ·(ln D − ln R) + β[m] + u_p + w_c + ε_t
//! ```
//!
//! - `R` ([`TimeModel::indifference_s`]) and `λ` ([`TimeModel::vierordt_slope`], below 1):
//!   Vierordt's law, short clips are over- and long ones underestimated, regressing to `R`.
//! - `β[m]` ([`TimeModel::music_effects`]): the music's shift of the log duration ratio.
//!   Arousing music lengthens perceived duration, relaxing and sad music shorten it
//!   (Droit-Volet et al. 2013; Ansani et al. 2021). The default sizes (+0.08, −0.05, −0.07 on
//!   the log scale, i.e. about +8 %, −5 %, −7 %) are illustrative, of the order those studies
//!   report, not fitted to their data.
//! - `u_p ~ N(0, participant_sd²)`: the participant's own bias, fixed over the session.
//! - `w_c ~ N(0, clip_sd²)`: the clip's own effect, the same for every participant of a study.
//! - `ε_t ~ N(0, perception_sd²)`: trial-to-trial noise of the percept.
//!
//! The verbal estimate is `exp(P + e_v)` and the reproduction `exp(P + e_r)`, with their own
//! response noise `e_v ~ N(0, verbal_sd²)`, `e_r ~ N(0, reproduction_sd²)`; both are rounded
//! to the millisecond. SAM valence and arousal (1–9) are the music level's means
//! ([`TimeModel::emotion`], 5 for unknown levels) plus participant offsets
//! (`emotion_participant_sd`) plus noise (`emotion_sd`), rounded and clamped to 1..=9.
//!
//! # Determinism
//!
//! All draws come from [`cuelab_protocol::rng::Stream`] (ChaCha20). Clip effects are drawn
//! from a stream seeded by (study seed, clip id), so every participant sees the same clip
//! effect; a participant's offsets and trial noise come from a stream seeded by the plan's
//! session seed (which the protocol crate derives from the study seed and the participant
//! label), drawn in trial order. Normal deviates use Box–Muller on 53-bit uniforms; `ln`, `cos`
//! and `exp` are the platform's, so values are reproducible bit for bit on one platform and to
//! the last few ulps across platforms.

use std::collections::BTreeMap;

use cuelab_protocol::model::{EstimateMethod, Scale, Step};
use cuelab_protocol::rng::Stream;
use cuelab_protocol::{PlannedTrial, TrialPlan};
use sha2::{Digest, Sha256};

use crate::record::{Presenter, Response, TrialRecord};

/// Why a simulated session could not be produced.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// A clip's actual duration is not a positive, finite number of seconds.
    #[error("trial {trial}: clip duration {seconds} s is not positive")]
    BadDuration {
        /// The trial's index in its plan.
        trial: u32,
        /// The duration given.
        seconds: f64,
    },
    /// A trial's clip has no known duration.
    #[error("trial {trial}: no duration known for clip `{clip}`")]
    UnknownClip {
        /// The trial's index in its plan.
        trial: u32,
        /// The clip id.
        clip: String,
    },
    /// The presenter failed to present a trial.
    #[error("presenting trial {trial} of participant {participant}: {source}")]
    Present {
        /// Participant label.
        participant: String,
        /// The trial's index in its plan.
        trial: u32,
        /// The presenter's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The parameters of the simulated time-perception participant (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct TimeModel {
    /// The factor whose level selects the music effect (`music`).
    pub factor: String,
    /// Shift of the log duration ratio per music level (unknown levels: 0).
    pub music_effects: BTreeMap<String, f64>,
    /// Vierordt's indifference point `R`, seconds.
    pub indifference_s: f64,
    /// Vierordt slope `λ` on the log scale (1 = no regression to the mean).
    pub vierordt_slope: f64,
    /// SD of the participant's log-scale bias.
    pub participant_sd: f64,
    /// SD of the clip's log-scale effect.
    pub clip_sd: f64,
    /// SD of the trial's perceptual noise (log scale).
    pub perception_sd: f64,
    /// SD of the verbal estimate's response noise (log scale).
    pub verbal_sd: f64,
    /// SD of the reproduction's motor noise (log scale).
    pub reproduction_sd: f64,
    /// Mean SAM (valence, arousal) per music level.
    pub emotion: BTreeMap<String, (f64, f64)>,
    /// SD of a participant's SAM offsets.
    pub emotion_participant_sd: f64,
    /// SD of the SAM rating noise.
    pub emotion_sd: f64,
}

impl Default for TimeModel {
    fn default() -> Self {
        let levels = |v: &[(&str, f64)]| v.iter().map(|(k, x)| (k.to_string(), *x)).collect();
        Self {
            factor: "music".into(),
            music_effects: levels(&[
                ("arousing", 0.08),
                ("relaxing", -0.05),
                ("sad", -0.07),
                ("silence", 0.0),
            ]),
            indifference_s: 10.0,
            vierordt_slope: 0.8,
            participant_sd: 0.12,
            clip_sd: 0.04,
            perception_sd: 0.10,
            verbal_sd: 0.08,
            reproduction_sd: 0.06,
            emotion: [
                ("arousing", (6.0, 7.0)),
                ("relaxing", (6.5, 3.0)),
                ("sad", (3.0, 3.5)),
                ("silence", (5.0, 4.0)),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
            emotion_participant_sd: 0.7,
            emotion_sd: 1.0,
        }
    }
}

/// A study's simulated participants: the model and the study seed.
#[derive(Debug, Clone)]
pub struct Simulator {
    model: TimeModel,
    study_seed: u64,
}

/// What a simulated participant answered in one trial.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimulatedResponse {
    /// Verbal estimate, seconds.
    pub verbal_s: f64,
    /// Reproduced duration, seconds.
    pub reproduction_s: f64,
    /// SAM valence, 1–9.
    pub valence: f64,
    /// SAM arousal, 1–9.
    pub arousal: f64,
}

/// One simulated participant in one session.
#[derive(Debug)]
pub struct SimulatedParticipant<'a> {
    sim: &'a Simulator,
    rng: Stream,
    bias: f64,
    valence_offset: f64,
    arousal_offset: f64,
}

impl Simulator {
    /// A simulator for the study whose seed is `study_seed` (the protocol's seed).
    pub fn new(model: TimeModel, study_seed: u64) -> Self {
        Self { model, study_seed }
    }

    /// The model.
    pub fn model(&self) -> &TimeModel {
        &self.model
    }

    /// The participant whose session seed (`TrialPlan::seed`) is `session_seed`.
    pub fn participant(&self, session_seed: u64) -> SimulatedParticipant<'_> {
        let mut rng = Stream::new(sub_seed(b"participant", session_seed, ""));
        let m = &self.model;
        let bias = m.participant_sd * normal(&mut rng);
        let valence_offset = m.emotion_participant_sd * normal(&mut rng);
        let arousal_offset = m.emotion_participant_sd * normal(&mut rng);
        SimulatedParticipant {
            sim: self,
            rng,
            bias,
            valence_offset,
            arousal_offset,
        }
    }

    /// The clip's effect on the log duration ratio: the same for every participant.
    pub fn clip_effect(&self, clip: &str) -> f64 {
        let mut rng = Stream::new(sub_seed(b"clip", self.study_seed, clip));
        self.model.clip_sd * normal(&mut rng)
    }
}

impl SimulatedParticipant<'_> {
    /// The participant's answers to `trial`, whose clip lasted `actual_s` seconds.
    pub fn respond(
        &mut self,
        trial: &PlannedTrial,
        actual_s: f64,
    ) -> Result<SimulatedResponse, SimError> {
        if !(actual_s.is_finite() && actual_s > 0.0) {
            return Err(SimError::BadDuration {
                trial: trial.index,
                seconds: actual_s,
            });
        }
        let m = &self.sim.model;
        let level = trial.conditions.get(&m.factor).map(String::as_str);
        let beta = level
            .and_then(|l| m.music_effects.get(l))
            .copied()
            .unwrap_or(0.0);
        let clip = trial
            .clip
            .as_deref()
            .map_or(0.0, |c| self.sim.clip_effect(c));
        let ln_r = m.indifference_s.ln();
        let percept = ln_r
            + m.vierordt_slope * (actual_s.ln() - ln_r)
            + beta
            + self.bias
            + clip
            + m.perception_sd * normal(&mut self.rng);
        let verbal_s = round_to_ms((percept + m.verbal_sd * normal(&mut self.rng)).exp());
        let reproduction_s =
            round_to_ms((percept + m.reproduction_sd * normal(&mut self.rng)).exp());
        let (v_mean, a_mean) = level
            .and_then(|l| m.emotion.get(l))
            .copied()
            .unwrap_or((5.0, 5.0));
        let sam = |mean: f64, offset: f64, rng: &mut Stream| {
            (mean + offset + m.emotion_sd * normal(rng))
                .round()
                .clamp(1.0, 9.0)
        };
        let valence = sam(v_mean, self.valence_offset, &mut self.rng);
        let arousal = sam(a_mean, self.arousal_offset, &mut self.rng);
        Ok(SimulatedResponse {
            verbal_s,
            reproduction_s,
            valence,
            arousal,
        })
    }
}

impl SimulatedResponse {
    /// The answers as the procedure asked for them: one [`Response`] per time-estimate step and
    /// per SAM valence/arousal item, in procedure order. Steps the model does not simulate
    /// (other scales, choices, free text) give no response.
    pub fn responses(&self, procedure: &[Step]) -> Vec<Response> {
        let mut out = Vec::new();
        for (i, step) in procedure.iter().enumerate() {
            let step_idx = i as u32;
            match step {
                Step::TimeEstimate { method, .. } => {
                    let (item, value) = match method {
                        EstimateMethod::Verbal => ("verbal_s", self.verbal_s),
                        EstimateMethod::Reproduction => ("reproduction_s", self.reproduction_s),
                    };
                    out.push(Response {
                        step: step_idx,
                        kind: "time_estimate".into(),
                        item: item.into(),
                        value,
                    });
                }
                Step::Rating(r) if r.scale == Scale::Sam => {
                    for item in &r.items {
                        let value = match item.as_str() {
                            "valence" => self.valence,
                            "arousal" => self.arousal,
                            _ => continue,
                        };
                        out.push(Response {
                            step: step_idx,
                            kind: "rating".into(),
                            item: item.clone(),
                            value,
                        });
                    }
                }
                _ => {}
            }
        }
        out
    }
}

/// Runs one simulated session: each trial of `plan` in order is presented by `presenter` (when
/// given; trials without a clip are not presented) and answered by the simulated participant.
/// `clip_duration_s` gives each clip's actual duration.
pub fn run_session(
    sim: &Simulator,
    plan: &TrialPlan,
    procedure: &[Step],
    mut presenter: Option<&mut dyn Presenter>,
    clip_duration_s: &dyn Fn(&str) -> Option<f64>,
) -> Result<Vec<TrialRecord>, SimError> {
    let mut participant = sim.participant(plan.seed);
    let mut records = Vec::with_capacity(plan.trials.len());
    for trial in &plan.trials {
        let timing = match presenter.as_deref_mut() {
            Some(p) => p.present(trial).map_err(|source| SimError::Present {
                participant: plan.participant.clone(),
                trial: trial.index,
                source,
            })?,
            None => None,
        };
        let (clip_duration, responses) = match &trial.clip {
            Some(clip) => {
                let d = clip_duration_s(clip).ok_or_else(|| SimError::UnknownClip {
                    trial: trial.index,
                    clip: clip.clone(),
                })?;
                (Some(d), participant.respond(trial, d)?.responses(procedure))
            }
            None => (None, Vec::new()),
        };
        records.push(TrialRecord {
            participant: plan.participant.clone(),
            session: plan.session,
            trial: trial.clone(),
            clip_duration_s: clip_duration,
            timing,
            responses,
            simulated: true,
        });
    }
    Ok(records)
}

fn sub_seed(tag: &[u8], seed: u64, name: &str) -> u64 {
    let mut h = Sha256::new();
    h.update(b"cuelab/simulate/v1\0");
    h.update(tag);
    h.update([0]);
    h.update(seed.to_le_bytes());
    h.update(name.as_bytes());
    let digest = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(b)
}

/// A uniform in (0, 1] from the top 53 bits of a draw.
fn unit(rng: &mut Stream) -> f64 {
    ((rng.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
}

/// A standard normal deviate (Box–Muller, cosine branch).
fn normal(rng: &mut Stream) -> f64 {
    let u1 = unit(rng);
    let u2 = unit(rng);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Rounds to the millisecond (dividing by 1000 gives the double nearest the decimal).
fn round_to_ms(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(index: u32, clip: &str, music: &str) -> PlannedTrial {
        PlannedTrial {
            index,
            block: 1,
            practice: false,
            clip: Some(clip.into()),
            soundtrack: (music != "silence").then(|| music.to_string()),
            conditions: BTreeMap::from([("music".to_string(), music.to_string())]),
            break_before: false,
        }
    }

    fn answers(sim: &Simulator, seed: u64) -> Vec<SimulatedResponse> {
        let mut p = sim.participant(seed);
        ["arousing", "relaxing", "sad", "silence"]
            .iter()
            .enumerate()
            .map(|(i, m)| p.respond(&trial(i as u32 + 1, "lake", m), 8.0).unwrap())
            .collect()
    }

    #[test]
    fn same_seeds_give_the_same_numbers() {
        let a = Simulator::new(TimeModel::default(), 11);
        let b = Simulator::new(TimeModel::default(), 11);
        assert_eq!(answers(&a, 5), answers(&b, 5));
    }

    #[test]
    fn other_participants_and_studies_give_other_numbers() {
        let a = Simulator::new(TimeModel::default(), 11);
        let b = Simulator::new(TimeModel::default(), 12);
        assert_ne!(answers(&a, 5), answers(&a, 6));
        // Another study changes the clip effects, so the estimates.
        assert_ne!(answers(&a, 5)[0].verbal_s, answers(&b, 5)[0].verbal_s);
    }

    #[test]
    fn clip_effects_are_shared_by_participants_and_differ_between_clips() {
        let sim = Simulator::new(TimeModel::default(), 3);
        assert_eq!(sim.clip_effect("lake"), sim.clip_effect("lake"));
        assert_ne!(sim.clip_effect("lake"), sim.clip_effect("chase"));
    }

    /// Mean log ratio of verbal estimates per music level over many simulated participants.
    fn mean_log_ratios(model: TimeModel, n: u64) -> BTreeMap<String, f64> {
        let sim = Simulator::new(model, 2026);
        let levels = ["arousing", "relaxing", "sad", "silence"];
        let clips = ["chase", "dance", "lake", "street"];
        let mut sums: BTreeMap<String, f64> = BTreeMap::new();
        for seed in 0..n {
            let mut p = sim.participant(seed);
            for (i, level) in levels.iter().enumerate() {
                let t = trial(i as u32 + 1, clips[(i + seed as usize) % 4], level);
                let r = p.respond(&t, 8.0).unwrap();
                *sums.entry(level.to_string()).or_default() += (r.verbal_s / 8.0).ln();
            }
        }
        sums.into_iter().map(|(k, s)| (k, s / n as f64)).collect()
    }

    #[test]
    fn arousing_music_lengthens_and_relaxing_and_sad_music_shorten_on_average() {
        let means = mean_log_ratios(TimeModel::default(), 2000);
        assert!(means["arousing"] > means["silence"], "{means:?}");
        assert!(means["arousing"] > means["relaxing"], "{means:?}");
        assert!(means["relaxing"] < means["silence"], "{means:?}");
        assert!(means["sad"] < means["silence"], "{means:?}");
        // The difference recovers the model's effects (0.08 − (−0.05) = 0.13) within noise:
        // SE of a difference of means over 2000 participants is about 0.005.
        let diff = means["arousing"] - means["relaxing"];
        assert!((diff - 0.13).abs() < 0.025, "{diff}");
    }

    #[test]
    fn without_music_effects_the_conditions_do_not_differ() {
        let mut model = TimeModel::default();
        model.music_effects.values_mut().for_each(|b| *b = 0.0);
        let means = mean_log_ratios(model, 2000);
        let diff = means["arousing"] - means["relaxing"];
        assert!(diff.abs() < 0.025, "{diff}");
    }

    #[test]
    fn vierordt_regression_short_clips_overestimated_long_underestimated() {
        let mut model = TimeModel::default();
        model.music_effects.clear();
        let sim = Simulator::new(model, 1);
        let (mut short, mut long) = (0.0, 0.0);
        let n = 500;
        for seed in 0..n {
            let mut p = sim.participant(seed);
            short += (p
                .respond(&trial(1, "lake", "silence"), 4.0)
                .unwrap()
                .verbal_s
                / 4.0)
                .ln();
            long += (p
                .respond(&trial(2, "lake", "silence"), 30.0)
                .unwrap()
                .verbal_s
                / 30.0)
                .ln();
        }
        let (short, long) = (short / n as f64, long / n as f64);
        assert!(short > 0.05, "{short}");
        assert!(long < -0.05, "{long}");
    }

    #[test]
    fn sam_ratings_stay_on_the_scale_and_follow_the_music() {
        let sim = Simulator::new(TimeModel::default(), 9);
        let (mut sad_valence, mut arousing_arousal, mut relaxing_arousal) = (0.0, 0.0, 0.0);
        for seed in 0..300 {
            let mut p = sim.participant(seed);
            for (i, m) in ["arousing", "relaxing", "sad"].iter().enumerate() {
                let r = p.respond(&trial(i as u32, "lake", m), 8.0).unwrap();
                for v in [r.valence, r.arousal] {
                    assert!((1.0..=9.0).contains(&v) && v.fract() == 0.0, "{v}");
                }
                match *m {
                    "arousing" => arousing_arousal += r.arousal,
                    "relaxing" => relaxing_arousal += r.arousal,
                    _ => sad_valence += r.valence,
                }
            }
        }
        assert!(arousing_arousal > relaxing_arousal + 300.0 * 2.0);
        assert!(sad_valence / 300.0 < 4.0);
    }

    const PROTOCOL: &str = r#"
[experiment]
id = "t"
title = "T"
version = "1"

[stimuli.clips]
lake = "lake.mp4"
street = "street.mp4"

[stimuli.soundtracks]
arousing = "arousing.flac"

[factors]
music = { levels = ["arousing", "silence"], within = true }

[design]
pairing = "latin-square"

[[procedure]]
clip = {}

[[procedure]]
time_estimate = { method = "verbal", unit = "s" }

[[procedure]]
rating = { scale = "sam", dims = ["valence", "arousal"] }
"#;

    fn protocol() -> cuelab_protocol::Protocol {
        let files = cuelab_protocol::MemFiles::default()
            .with("lake.mp4", vec![0u8; 16])
            .with("street.mp4", vec![0u8; 16])
            .with("arousing.flac", vec![0u8; 16]);
        cuelab_protocol::load("t.toml", PROTOCOL.as_bytes(), &files).unwrap()
    }

    fn plan_of(p: &cuelab_protocol::Protocol, label: &str) -> TrialPlan {
        let id = cuelab_core::ParticipantId::parse(label).unwrap();
        cuelab_protocol::plan(p, &id, 1).unwrap()
    }

    /// A presenter that reports a made-up timing and remembers what it was asked to show.
    #[derive(Default)]
    struct FakePresenter {
        shown: Vec<(u32, Option<String>)>,
        fail_at: Option<u32>,
    }

    impl Presenter for FakePresenter {
        fn present(
            &mut self,
            trial: &PlannedTrial,
        ) -> Result<Option<crate::record::Timing>, Box<dyn std::error::Error + Send + Sync>>
        {
            if self.fail_at == Some(trial.index) {
                return Err("the display went away".into());
            }
            self.shown.push((trial.index, trial.clip.clone()));
            let onset = cuelab_core::SessionTime::from_millis(i64::from(trial.index) * 10_000);
            Ok(Some(crate::record::Timing {
                scheduled_onset: onset,
                audio_onset: trial.soundtrack.as_ref().map(|_| onset),
                video_onset: Some(onset),
                wanted_av_offset_ms: 0.0,
                av_offset_ms: trial.soundtrack.as_ref().map(|_| 0.0),
                frames_shown: 200,
                frames_dropped: 0,
                xruns: 0,
                flagged: false,
                flags: Vec::new(),
            }))
        }
    }

    #[test]
    fn a_session_presents_every_trial_in_order_and_answers_each_step() {
        let p = protocol();
        let plan = plan_of(&p, "P3");
        let sim = Simulator::new(TimeModel::default(), 77);
        let mut presenter = FakePresenter::default();
        let records = run_session(&sim, &plan, p.procedure(), Some(&mut presenter), &|_| {
            Some(8.0)
        })
        .unwrap();
        assert_eq!(records.len(), plan.trials.len());
        let asked: Vec<(u32, Option<String>)> = plan
            .trials
            .iter()
            .map(|t| (t.index, t.clip.clone()))
            .collect();
        assert_eq!(presenter.shown, asked);
        for r in &records {
            assert!(r.simulated && r.timing.is_some());
            let items: Vec<(u32, &str)> = r
                .responses
                .iter()
                .map(|x| (x.step, x.item.as_str()))
                .collect();
            assert_eq!(items, [(1, "verbal_s"), (2, "valence"), (2, "arousal")]);
        }
        // Presenting does not change the answers: they depend on the seeds only.
        let unpresented = run_session(&sim, &plan, p.procedure(), None, &|_| Some(8.0)).unwrap();
        for (a, b) in records.iter().zip(&unpresented) {
            assert_eq!(a.responses, b.responses);
            assert_eq!(b.timing, None);
        }
    }

    #[test]
    fn a_presentation_failure_names_the_participant_and_trial() {
        let p = protocol();
        let plan = plan_of(&p, "P1");
        let sim = Simulator::new(TimeModel::default(), 77);
        let mut presenter = FakePresenter {
            fail_at: Some(2),
            ..FakePresenter::default()
        };
        let err = run_session(&sim, &plan, p.procedure(), Some(&mut presenter), &|_| {
            Some(8.0)
        })
        .unwrap_err();
        assert!(
            matches!(&err, SimError::Present { participant, trial: 2, .. } if participant == "P1"),
            "{err}"
        );
        assert_eq!(presenter.shown.len(), 1);
    }

    #[test]
    fn a_clip_of_unknown_duration_is_an_error() {
        let p = protocol();
        let plan = plan_of(&p, "P1");
        let sim = Simulator::new(TimeModel::default(), 77);
        let err = run_session(&sim, &plan, p.procedure(), None, &|c| {
            (c == "lake").then_some(8.0)
        })
        .unwrap_err();
        assert!(
            matches!(&err, SimError::UnknownClip { clip, .. } if clip == "street"),
            "{err}"
        );
    }

    #[test]
    fn a_clip_without_positive_duration_is_an_error() {
        let sim = Simulator::new(TimeModel::default(), 1);
        let err = sim
            .participant(1)
            .respond(&trial(3, "lake", "sad"), 0.0)
            .unwrap_err();
        assert!(
            matches!(err, SimError::BadDuration { trial: 3, .. }),
            "{err}"
        );
    }
}
