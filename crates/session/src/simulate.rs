//! Simulated participants for every paradigm, each a [`Respondent`].
//!
//! A [`SimulatedParticipant`] answers whatever the runner asks — pages, time estimates, ratings
//! (SAM, VAS, Likert, bipolar, discrete emotions), continuous ratings during a clip, choices,
//! recognition, questionnaires — from a [`Model`] whose parameters live in a documented TOML
//! file (`cuelab simulate --model FILE`; every key optional, defaults below). It takes time as
//! a person would: response times are ex-Gaussian and the participant waits them out on the
//! session clock (instantly on a virtual clock, really on the monotonic clock).
//!
//! # The models
//!
//! **Affect of the stimuli.** A soundtrack's valence and arousal (1–9) come from the protocol
//! (`valence`, `arousal` on the soundtrack), else from its id: ids containing `happy`,
//! `arousing`, `upbeat` → (7.89, 8.14); `tender`, `relax`, `calm` → (7.23, 3.63); `sad` →
//! (4.51, 3.69); `scary`, `fear`, `tense` → (2.76, 6.90); anything else (5.0, 5.0); silence
//! (5.0, 3.0). These are the mean valence and energy ratings of the high-strength Happy,
//! Tender, Sad and Fear excerpts of the soundtrack norms (Eerola & Vuoskoski 2011,
//! `../shared/datasets/soundtrack-norms`, five excerpts each). A clip's affect comes from its
//! `valence`/`arousal`, else its `scene` (`chase`, `flee` → (3, 7); `hide` → (3.5, 6);
//! `approach`, `play` → (6.5, 5.5); anything else (5, 4)).
//!
//! **Time perception** (verbal estimates and reproductions). The perceived log duration of a
//! clip of measured duration `D` under music level `m` is
//! `P = ln R + λ (ln D − ln R) + β[m] + u_p + w_c + ε`, Vierordt's law with indifference point
//! `R` and slope `λ`, music shift `β[m]`, participant bias `u_p ~ N(0, participant_sd²)`, clip
//! effect `w_c ~ N(0, clip_sd²)` shared by all participants, trial noise
//! `ε ~ N(0, perception_sd²)`; the answer adds response noise. Calibration: the participant
//! and residual SDs are MusicTime's (`../shared/datasets/musictime`: SD participant 11.93 s and
//! residual 9.04 s around a mean of 51 s, i.e. 0.23 and 0.18 on the log scale, split here into
//! perception and response noise). The music shifts (+0.08 arousing, −0.05 relaxing, −0.07
//! sad) follow the direction of Droit-Volet et al. (2013) and Ansani et al. (2021); MusicTime's
//! production task gives larger shifts (ln(52.85/37.05) = 0.36 for upbeat music), so these are
//! conservative.
//!
//! *A known effect size.* With `vierordt_slope = 1` (or clips of one duration) and
//! `clip_sd = 0`, a verbal estimate's log ratio ln(estimate / duration) is
//! `β[m] + u_p + ε`, `ε ~ N(0, perception_sd² + verbal_sd²)` independently per trial (the
//! answer's rounding to 1 ms is negligible). A participant's difference of cell means between
//! levels a and b seen on k trials each is then normal with mean `β[a] − β[b]` and SD
//! `√(2 (perception_sd² + verbal_sd²) / k)` — the participant bias cancels — so the paired
//! t-test has `d_z = (β[a] − β[b]) / √(2 (perception_sd² + verbal_sd²) / k)` (reproductions:
//! `reproduction_sd` for `verbal_sd`). `crates/cli/tests/power/` uses this to check `cuelab
//! power` against R's `power.t.test`.
//!
//! **Emotion ratings** (SAM, emotions, continuous). A rating of valence or arousal is a blend
//! of the music's and the scene's affect, `w·music + (1 − w)·scene` with `w = music_weight`
//! (0.6; Tan et al. 2007 found music moves attributed emotion strongly), plus a participant
//! offset (`participant_sd`) and noise (`noise_sd`), rounded to the scale. Discrete emotions
//! are intensities from valence and arousal (happy: high/high, tender: high/low, sad: low/low,
//! fear and anger: low/high). Continuous ratings follow the soundtrack's declared affect curve
//! (else its constant affect) delayed by `lag_s` (2.0 s: continuous ratings lag the music by
//! 1–3 s, Schubert 2004) and smoothed, with AR(1) noise.
//!
//! **Congruence** (fit and semantic differentials). The match between music and scene is
//! `1 − (|Δvalence| + |Δarousal|) / 16`. A fit rating (a VAS or an item named `fit`/`match`)
//! is `match` on the scale plus noise; bipolar and Likert items whose labels name an affect
//! (`sad`/`happy` → valence, `calm`/`tense`/`relaxed`/`excited` → arousal, `weak`/`strong` →
//! arousal) are the blended affect as above (Marshall & Cohen 1988: the music's character
//! transfers to the scene).
//!
//! **Memory** (recognition). Old/new judgements follow equal-variance signal detection with
//! `d′ = dprime` and criterion `c = criterion`; under music, items whose recognition row is
//! `congruent = true` get `c − congruent_bias` (more "old" answers: music-congruent details
//! are falsely remembered, Boltz 2001) and `d′ + congruent_dprime`. Confidence grows with the
//! distance of the evidence from the criterion: with `confidence = N`, an
//! answer whose evidence lies within `confidence_step` (0.5) of `c` gets 1, the next band 2, and
//! so on up to N, given 400 ms after the old/new answer (no random draw, so adding confidence to a
//! protocol leaves its old/new answers as they were).
//!
//! **Response times** are ex-Gaussian (`mu_ms`, `sigma_ms`, `tau_ms`; defaults 650/100/350 ms,
//! in the range reported for rating responses), per item; pages take `page_ms` longer.
//!
//! # Determinism
//!
//! Everything is drawn from the protocol crate's portable ChaCha20 [`Stream`]: clip effects
//! from (study seed, clip id), a participant's traits and answers from (study seed, plan seed),
//! in the order the runner asks. The same protocol, participant and `--seed` give the same
//! answers on every machine (up to the last ulp of `ln`/`exp`/`cos`).

use std::collections::BTreeMap;

use cuelab_core::{ContinuousTrace, Response, SessionTime, TrialTiming, WaitClock};
use cuelab_protocol::model::{
    EstimateMethod, ItemResponse, SILENCE, Scale, StepKind, Stimulus, TimeUnit,
};
use cuelab_protocol::rng::Stream;
use cuelab_protocol::{PlannedTrial, Protocol};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::respond::{Ask, ContinuousSpec, Page, PageResult, RespondError, Respondent, Screen};

/// Why a model file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The TOML is malformed or has an unknown key.
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    /// A value is out of its range.
    #[error("{file}: `{key}` = {value}: {why}")]
    Range {
        file: String,
        key: String,
        value: f64,
        why: String,
    },
}

/// Response times.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RtModel {
    /// Ex-Gaussian mean of the normal part, ms.
    pub mu_ms: f64,
    /// Ex-Gaussian SD of the normal part, ms.
    pub sigma_ms: f64,
    /// Ex-Gaussian mean of the exponential part, ms.
    pub tau_ms: f64,
    /// Extra time to read a page, ms.
    pub page_ms: f64,
}

impl Default for RtModel {
    fn default() -> Self {
        Self {
            mu_ms: 650.0,
            sigma_ms: 100.0,
            tau_ms: 350.0,
            page_ms: 1500.0,
        }
    }
}

/// Time perception (see the module docs).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TimeModel {
    /// The factor whose level selects the music effect (`music`).
    pub factor: String,
    /// Shift of the log duration per music level (unknown levels: 0).
    pub music_effects: BTreeMap<String, f64>,
    /// Vierordt's indifference point `R`, seconds.
    pub indifference_s: f64,
    /// Vierordt slope `λ` on the log scale.
    pub vierordt_slope: f64,
    pub participant_sd: f64,
    pub clip_sd: f64,
    pub perception_sd: f64,
    pub verbal_sd: f64,
    pub reproduction_sd: f64,
}

impl Default for TimeModel {
    fn default() -> Self {
        Self {
            factor: "music".into(),
            music_effects: [
                ("arousing", 0.08),
                ("happy", 0.08),
                ("relaxing", -0.05),
                ("tender", -0.05),
                ("sad", -0.07),
                ("silence", 0.0),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
            indifference_s: 10.0,
            vierordt_slope: 0.8,
            participant_sd: 0.23,
            clip_sd: 0.04,
            perception_sd: 0.12,
            verbal_sd: 0.12,
            reproduction_sd: 0.10,
        }
    }
}

/// Emotion ratings (see the module docs).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmotionModel {
    /// Weight of the music's affect against the scene's.
    pub music_weight: f64,
    pub participant_sd: f64,
    pub noise_sd: f64,
    /// Continuous ratings follow the music this late, seconds.
    pub lag_s: f64,
    /// SD of the continuous rating's AR(1) noise.
    pub continuous_sd: f64,
    /// AR(1) coefficient of the continuous rating's noise per sample.
    pub continuous_ar: f64,
}

impl Default for EmotionModel {
    fn default() -> Self {
        Self {
            music_weight: 0.6,
            participant_sd: 0.6,
            noise_sd: 0.9,
            lag_s: 2.0,
            continuous_sd: 0.25,
            continuous_ar: 0.95,
        }
    }
}

/// Congruence (see the module docs).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CongruenceModel {
    /// SD of fit ratings, as a share of the scale.
    pub fit_sd: f64,
    /// SD of a participant's fit offset, as a share of the scale.
    pub participant_sd: f64,
}

impl Default for CongruenceModel {
    fn default() -> Self {
        Self {
            fit_sd: 0.12,
            participant_sd: 0.06,
        }
    }
}

/// Recognition memory (see the module docs).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MemoryModel {
    pub dprime: f64,
    pub criterion: f64,
    pub congruent_bias: f64,
    pub congruent_dprime: f64,
    pub participant_sd: f64,
    /// Width of each confidence band in evidence units: an answer whose evidence lies within
    /// `confidence_step` of the criterion gets confidence 1, the next band 2, up to the scale's
    /// top (equally spaced confidence criteria on both sides of `c`).
    pub confidence_step: f64,
}

impl Default for MemoryModel {
    fn default() -> Self {
        Self {
            dprime: 1.2,
            criterion: 0.2,
            congruent_bias: 0.4,
            congruent_dprime: 0.2,
            participant_sd: 0.3,
            confidence_step: 0.5,
        }
    }
}

/// Everything else.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtherModel {
    /// Probability of answering an attention check correctly.
    pub attention_p: f64,
    /// Probability of accepting a consent page.
    pub consent_p: f64,
}

impl Default for OtherModel {
    fn default() -> Self {
        Self {
            attention_p: 0.97,
            consent_p: 1.0,
        }
    }
}

/// All parameters of simulated participants; the TOML file has one table per field.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Model {
    pub rt: RtModel,
    pub time: TimeModel,
    pub emotion: EmotionModel,
    pub congruence: CongruenceModel,
    pub memory: MemoryModel,
    pub other: OtherModel,
}

impl Model {
    /// Reads a model file's text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Model, ModelError> {
        let model: Model = toml::from_str(text).map_err(|e| ModelError::Parse {
            file: file.to_string(),
            message: e.to_string(),
        })?;
        model.check(file)?;
        Ok(model)
    }

    fn check(&self, file: &str) -> Result<(), ModelError> {
        let nonneg = [
            ("rt.mu_ms", self.rt.mu_ms),
            ("rt.sigma_ms", self.rt.sigma_ms),
            ("rt.tau_ms", self.rt.tau_ms),
            ("rt.page_ms", self.rt.page_ms),
            ("time.participant_sd", self.time.participant_sd),
            ("time.clip_sd", self.time.clip_sd),
            ("time.perception_sd", self.time.perception_sd),
            ("time.verbal_sd", self.time.verbal_sd),
            ("time.reproduction_sd", self.time.reproduction_sd),
            ("emotion.participant_sd", self.emotion.participant_sd),
            ("emotion.noise_sd", self.emotion.noise_sd),
            ("emotion.lag_s", self.emotion.lag_s),
            ("emotion.continuous_sd", self.emotion.continuous_sd),
            ("congruence.fit_sd", self.congruence.fit_sd),
            ("congruence.participant_sd", self.congruence.participant_sd),
            ("memory.participant_sd", self.memory.participant_sd),
            ("memory.confidence_step", self.memory.confidence_step),
        ];
        for (key, value) in nonneg {
            if !(0.0..=1e6).contains(&value) {
                return Err(ModelError::Range {
                    file: file.into(),
                    key: key.into(),
                    value,
                    why: "must be a finite number from 0 to 1e6".into(),
                });
            }
        }
        let unit = [
            ("emotion.music_weight", self.emotion.music_weight),
            ("emotion.continuous_ar", self.emotion.continuous_ar),
            ("other.attention_p", self.other.attention_p),
            ("other.consent_p", self.other.consent_p),
        ];
        for (key, value) in unit {
            if !(0.0..=1.0).contains(&value) {
                return Err(ModelError::Range {
                    file: file.into(),
                    key: key.into(),
                    value,
                    why: "must be between 0 and 1".into(),
                });
            }
        }
        let pos = [
            ("time.indifference_s", self.time.indifference_s),
            ("time.vierordt_slope", self.time.vierordt_slope),
        ];
        for (key, value) in pos {
            if !(value.is_finite() && value > 0.0 && value <= 1e4) {
                return Err(ModelError::Range {
                    file: file.into(),
                    key: key.into(),
                    value,
                    why: "must be positive and finite".into(),
                });
            }
        }
        Ok(())
    }
}

/// A stimulus's affect on the 1–9 SAM scales.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affect {
    pub valence: f64,
    pub arousal: f64,
}

/// The affect of a soundtrack (`None`: silence); see the module docs.
pub fn music_affect(s: Option<&Stimulus>) -> Affect {
    let Some(s) = s else {
        return Affect {
            valence: 5.0,
            arousal: 3.0,
        };
    };
    let by_name = {
        let id = s.id.to_ascii_lowercase();
        let has = |keys: &[&str]| keys.iter().any(|k| id.contains(k));
        if has(&["happy", "arousing", "upbeat", "joy"]) {
            (7.89, 8.14)
        } else if has(&["tender", "relax", "calm", "peace"]) {
            (7.23, 3.63)
        } else if has(&["sad", "melanch"]) {
            (4.51, 3.69)
        } else if has(&["scary", "fear", "tense", "horror", "threat"]) {
            (2.76, 6.90)
        } else {
            (5.0, 5.0)
        }
    };
    Affect {
        valence: s.valence.unwrap_or(by_name.0),
        arousal: s.arousal.unwrap_or(by_name.1),
    }
}

/// The affect of a clip (`None`: no clip); see the module docs.
pub fn scene_affect(s: Option<&Stimulus>) -> Affect {
    let by_scene = match s.and_then(|s| s.scene.as_deref()) {
        Some("chase" | "flee" | "fleeing" | "chasing" | "fight") => (3.0, 7.0),
        Some("hide" | "hiding") => (3.5, 6.0),
        Some("approach" | "approaching" | "play" | "dance") => (6.5, 5.5),
        _ => (5.0, 4.0),
    };
    Affect {
        valence: s.and_then(|s| s.valence).unwrap_or(by_scene.0),
        arousal: s.and_then(|s| s.arousal).unwrap_or(by_scene.1),
    }
}

/// A study's simulated participants: the protocol, the model and the study seed.
#[derive(Debug, Clone)]
pub struct Simulator<'p> {
    protocol: &'p Protocol,
    model: Model,
    study_seed: u64,
}

impl<'p> Simulator<'p> {
    /// Simulated participants of `protocol`, answering by `model`, seeded by `study_seed`
    /// (`cuelab simulate --seed`).
    pub fn new(protocol: &'p Protocol, model: Model, study_seed: u64) -> Self {
        Self {
            protocol,
            model,
            study_seed,
        }
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The participant whose plan was drawn with `plan_seed`, waiting on `clock`.
    pub fn participant<C: WaitClock>(
        &self,
        plan_seed: u64,
        clock: C,
    ) -> SimulatedParticipant<'p, C> {
        let mut rng = Stream::new(sub_seed(
            b"participant",
            self.study_seed,
            &plan_seed.to_string(),
        ));
        let m = &self.model;
        let time_bias = m.time.participant_sd * normal(&mut rng);
        let valence_offset = m.emotion.participant_sd * normal(&mut rng);
        let arousal_offset = m.emotion.participant_sd * normal(&mut rng);
        let fit_offset = m.congruence.participant_sd * normal(&mut rng);
        let dprime_offset = m.memory.participant_sd * normal(&mut rng);
        let sophistication = normal(&mut rng);
        SimulatedParticipant {
            protocol: self.protocol,
            model: self.model.clone(),
            study_seed: self.study_seed,
            clock,
            rng,
            time_bias,
            valence_offset,
            arousal_offset,
            fit_offset,
            dprime_offset,
            sophistication,
            continuous: None,
            recognition_margin: None,
        }
    }
}

/// How long a simulated participant takes to give a recognition answer's confidence.
const CONFIDENCE_MS: f64 = 400.0;

/// One simulated participant in one session.
#[derive(Debug)]
pub struct SimulatedParticipant<'p, C> {
    protocol: &'p Protocol,
    model: Model,
    study_seed: u64,
    clock: C,
    rng: Stream,
    time_bias: f64,
    valence_offset: f64,
    arousal_offset: f64,
    fit_offset: f64,
    dprime_offset: f64,
    /// A trait for questionnaires (standard normal).
    sophistication: f64,
    continuous: Option<Armed>,
    /// The last recognition answer's |evidence − criterion|, for its confidence.
    recognition_margin: Option<f64>,
}

#[derive(Debug, Clone)]
struct Armed {
    dims: Vec<String>,
    hz: u32,
    soundtrack: Option<String>,
    clip: Option<String>,
}

impl<C: WaitClock> SimulatedParticipant<'_, C> {
    fn rt_ms(&mut self) -> f64 {
        let m = &self.model.rt;
        let exp = -m.tau_ms * unit(&mut self.rng).ln();
        (m.mu_ms + m.sigma_ms * normal(&mut self.rng) + exp).max(150.0)
    }

    /// Waits `rt_ms` after `onset` (or until the timeout) and returns the response time, or
    /// `None` when the timeout passed first.
    fn wait_rt(
        &mut self,
        onset: SessionTime,
        rt_ms: f64,
        timeout: Option<SessionTime>,
    ) -> Option<f64> {
        let rt = SessionTime((rt_ms * 1e6).round() as i64);
        match timeout {
            Some(limit) if rt > limit => {
                self.clock.wait_until(onset + limit);
                None
            }
            _ => {
                self.clock.wait_until(onset + rt);
                Some(round_to_us(rt_ms))
            }
        }
    }

    fn soundtrack(&self, trial: Option<&PlannedTrial>) -> Option<&Stimulus> {
        trial
            .and_then(|t| t.soundtrack.as_deref())
            .filter(|s| *s != SILENCE)
            .and_then(|s| self.protocol.soundtrack(s))
    }

    fn clip(&self, trial: Option<&PlannedTrial>) -> Option<&Stimulus> {
        trial
            .and_then(|t| t.clip.as_deref())
            .and_then(|c| self.protocol.clip(c))
    }

    /// The blended affect of the trial (music and scene), with the participant's offsets.
    fn felt(&self, trial: Option<&PlannedTrial>) -> Affect {
        let w = self.model.emotion.music_weight;
        let music = music_affect(self.soundtrack(trial));
        let scene = scene_affect(self.clip(trial));
        let has_clip = trial.is_some_and(|t| t.clip.is_some());
        let w = if has_clip { w } else { 1.0 };
        Affect {
            valence: w * music.valence + (1.0 - w) * scene.valence + self.valence_offset,
            arousal: w * music.arousal + (1.0 - w) * scene.arousal + self.arousal_offset,
        }
    }

    /// A 1–9 affect value mapped onto a scale of `points` and rounded, with noise.
    fn on_scale(&mut self, x9: f64, points: u32) -> f64 {
        let noisy = x9 + self.model.emotion.noise_sd * normal(&mut self.rng);
        let share = ((noisy - 1.0) / 8.0).clamp(0.0, 1.0);
        if points <= 1 {
            return 1.0;
        }
        (1.0 + share * f64::from(points - 1)).round()
    }

    fn fit_share(&mut self, trial: Option<&PlannedTrial>) -> f64 {
        let music = music_affect(self.soundtrack(trial));
        let scene = scene_affect(self.clip(trial));
        let m = 1.0
            - ((music.valence - scene.valence).abs() + (music.arousal - scene.arousal).abs())
                / 16.0;
        (m + self.fit_offset + self.model.congruence.fit_sd * normal(&mut self.rng)).clamp(0.0, 1.0)
    }

    fn time_estimate_s(
        &mut self,
        trial: Option<&PlannedTrial>,
        timing: Option<&TrialTiming>,
        method: EstimateMethod,
    ) -> f64 {
        let actual_s = timing
            .and_then(|t| t.measured_duration())
            .map(|d| d.as_millis_f64() / 1000.0)
            .filter(|s| *s > 0.0)
            .unwrap_or(self.model.time.indifference_s);
        let m = &self.model.time;
        let level = trial
            .and_then(|t| t.conditions.get(&m.factor))
            .map(String::as_str);
        let beta = level
            .and_then(|l| m.music_effects.get(l))
            .copied()
            .unwrap_or(0.0);
        let clip_effect = trial
            .and_then(|t| t.clip.as_deref())
            .map_or(0.0, |c| clip_effect(self.study_seed, c, m.clip_sd));
        let ln_r = m.indifference_s.ln();
        let (perception_sd, response_sd) = (
            m.perception_sd,
            match method {
                EstimateMethod::Verbal => m.verbal_sd,
                EstimateMethod::Reproduction => m.reproduction_sd,
            },
        );
        let percept = ln_r
            + m.vierordt_slope * (actual_s.ln() - ln_r)
            + beta
            + self.time_bias
            + clip_effect
            + perception_sd * normal(&mut self.rng)
            + response_sd * normal(&mut self.rng);
        percept.exp()
    }

    fn item_value(
        &mut self,
        ask: &Ask<'_>,
        item: &str,
    ) -> (Option<f64>, Option<String>, Option<bool>) {
        let trial = ask.trial;
        match &ask.step.kind {
            StepKind::Rating(r) => {
                let points = if r.scale == Scale::Vas {
                    101
                } else {
                    r.points.max(2)
                };
                let felt = self.felt(trial);
                let lower = item.to_ascii_lowercase();
                let value = if lower.contains("fit") || lower.contains("match") || r.is_single() {
                    let share = self.fit_share(trial);
                    (1.0 + share * f64::from(points - 1)).round()
                } else if let Some(x9) = emotion_of(&lower, felt) {
                    self.on_scale(x9, points)
                } else {
                    let mid = 5.0;
                    self.on_scale(mid, points)
                };
                let value = if r.scale == Scale::Vas {
                    value - 1.0
                } else {
                    value
                };
                (Some(value), None, None)
            }
            StepKind::TimeEstimate { method, unit, .. } => {
                let s = self.time_estimate_s(trial, ask.clip_timing, *method);
                let v = match unit {
                    TimeUnit::S => (s * 1000.0).round() / 1000.0,
                    TimeUnit::Ms => s.mul_add(1000.0, 0.0).round(),
                };
                (Some(v), None, None)
            }
            StepKind::Choice {
                options,
                correct,
                attention_check,
                ..
            } => {
                let pick = match correct {
                    Some(c) if *attention_check => {
                        if unit(&mut self.rng) <= self.model.other.attention_p {
                            c.clone()
                        } else {
                            let others: Vec<&String> = options.iter().filter(|o| *o != c).collect();
                            if others.is_empty() {
                                c.clone()
                            } else {
                                others[self.rng.below(others.len() as u64) as usize].clone()
                            }
                        }
                    }
                    _ => options[self.rng.below(options.len().max(1) as u64) as usize
                        % options.len().max(1)]
                    .clone(),
                };
                let pos = options
                    .iter()
                    .position(|o| *o == pick)
                    .map(|i| i as f64 + 1.0);
                let right = correct.as_ref().map(|c| *c == pick);
                (pos, Some(pick), right)
            }
            StepKind::Recognition { items, .. } => {
                let clip = trial.and_then(|t| t.clip.as_deref()).unwrap_or("");
                let Some(row) = items.iter().find(|i| i.clip == clip && i.item == item) else {
                    return (None, None, None);
                };
                let mm = &self.model.memory;
                let music = self.soundtrack(trial).is_some();
                let congruent = music && row.congruent == Some(true);
                let d = mm.dprime
                    + self.dprime_offset
                    + if congruent { mm.congruent_dprime } else { 0.0 };
                let c = mm.criterion - if congruent { mm.congruent_bias } else { 0.0 };
                let evidence = if row.old { d / 2.0 } else { -d / 2.0 } + normal(&mut self.rng);
                let says_old = evidence > c;
                self.recognition_margin = Some((evidence - c).abs());
                (
                    Some(if says_old { 1.0 } else { 0.0 }),
                    Some(if says_old { "old" } else { "new" }.to_string()),
                    Some(says_old == row.old),
                )
            }
            StepKind::FreeText { .. } => (None, Some("simulated answer".into()), None),
            StepKind::Questionnaire(q) => {
                let Some(qi) = q.items.iter().find(|i| i.key == item) else {
                    return (None, None, None);
                };
                match &qi.response {
                    ItemResponse::Points { points, .. } => {
                        let trait_ = if qi.reverse {
                            -self.sophistication
                        } else {
                            self.sophistication
                        };
                        let x = 0.5 + 0.18 * trait_ + 0.15 * normal(&mut self.rng);
                        let v =
                            (1.0 + x.clamp(0.0, 1.0) * f64::from(points.saturating_sub(1))).round();
                        (Some(v), None, None)
                    }
                    ItemResponse::Options { options } => {
                        let n = options.len().max(1) as u64;
                        let k = self.rng.below(n) as usize;
                        (Some(k as f64 + 1.0), options.get(k).cloned(), None)
                    }
                    ItemResponse::Number { min, max } => {
                        let span = u64::from(max.saturating_sub(*min)) + 1;
                        let v = f64::from(*min) + self.rng.below(span.min(40)) as f64;
                        (Some(v), None, None)
                    }
                    ItemResponse::Text { .. } => (None, Some("simulated answer".into()), None),
                }
            }
            _ => (None, None, None),
        }
    }

    /// The continuous rating value of dimension `dim` at `t_s` seconds into the clip.
    fn continuous_target(&self, armed: &Armed, dim: &str, t_s: f64) -> f64 {
        let lag = self.model.emotion.lag_s;
        let st = armed
            .soundtrack
            .as_deref()
            .and_then(|s| self.protocol.soundtrack(s));
        let base = music_affect(st);
        let scene = scene_affect(armed.clip.as_deref().and_then(|c| self.protocol.clip(c)));
        let w = self.model.emotion.music_weight;
        let tt = (t_s - lag).max(0.0);
        let music = match st.and_then(|s| s.curve.as_ref()) {
            Some(curve) if !curve.is_empty() => {
                let at = |f: &dyn Fn(&cuelab_protocol::model::AffectPoint) -> f64| {
                    interpolate(curve, tt, f)
                };
                Affect {
                    valence: at(&|p| p.valence),
                    arousal: at(&|p| p.arousal),
                }
            }
            _ => base,
        };
        // Before the lag has passed the rating starts from neutral.
        let ramp = (t_s / lag.max(1e-9)).min(1.0);
        let blend =
            |m: f64, s: f64, offset: f64| 5.0 + ramp * (w * m + (1.0 - w) * s + offset - 5.0);
        if dim.contains("arous") || dim.contains("energy") || dim.contains("tension") {
            blend(music.arousal, scene.arousal, self.arousal_offset)
        } else {
            blend(music.valence, scene.valence, self.valence_offset)
        }
    }
}

/// Linear interpolation in an affect curve (held at both ends).
fn interpolate(
    curve: &[cuelab_protocol::model::AffectPoint],
    t: f64,
    f: &dyn Fn(&cuelab_protocol::model::AffectPoint) -> f64,
) -> f64 {
    let first = &curve[0];
    if t <= first.t_s {
        return f(first);
    }
    for w in curve.windows(2) {
        if t <= w[1].t_s {
            let span = w[1].t_s - w[0].t_s;
            let a = if span > 0.0 {
                (t - w[0].t_s) / span
            } else {
                1.0
            };
            return f(&w[0]) + a * (f(&w[1]) - f(&w[0]));
        }
    }
    f(&curve[curve.len() - 1])
}

/// The 1–9 intensity of an emotion word or dimension given felt affect; `None` for words
/// that name no affect.
fn emotion_of(word: &str, a: Affect) -> Option<f64> {
    let (v, ar) = (a.valence, a.arousal);
    let mix = |x: f64, y: f64| (x + y) / 2.0;
    let has = |keys: &[&str]| keys.iter().any(|k| word.contains(k));
    Some(if has(&["valence", "pleasant"]) {
        v
    } else if has(&["arousal", "energy", "excite"]) {
        ar
    } else if has(&["dominance", "control"]) {
        mix(v, 5.0)
    } else if has(&["sad_happy", "sad-happy", "unhappy"]) || word == "happy_sad" {
        if word.starts_with("happy") {
            10.0 - v
        } else {
            v
        }
    } else if has(&[
        "calm_tense",
        "relaxed_tense",
        "calm_excited",
        "weak_strong",
        "relaxed_excited",
    ]) {
        ar
    } else if has(&["tense_calm", "strong_weak", "excited_calm"]) {
        10.0 - ar
    } else if has(&["happy", "joy"]) {
        mix(v, ar)
    } else if has(&["tender", "peace", "calm"]) {
        mix(v, 10.0 - ar)
    } else if has(&["sad"]) {
        mix(10.0 - v, 10.0 - ar)
    } else if has(&["fear", "scar", "anger", "tens", "anx"]) {
        mix(10.0 - v, ar)
    } else if has(&["empath", "sympath", "compassion"]) {
        mix(10.0 - v, ar).max(5.0)
    } else {
        return None;
    })
}

fn clip_effect(study_seed: u64, clip: &str, sd: f64) -> f64 {
    let mut rng = Stream::new(sub_seed(b"clip", study_seed, clip));
    sd * normal(&mut rng)
}

impl<C: WaitClock> Respondent for SimulatedParticipant<'_, C> {
    fn show(
        &mut self,
        _screen: Screen,
        duration: SessionTime,
    ) -> Result<SessionTime, RespondError> {
        let onset = self.clock.now();
        self.clock.wait_until(onset + duration);
        Ok(onset)
    }

    fn page(&mut self, page: &Page<'_>) -> Result<PageResult, RespondError> {
        let onset = self.clock.now();
        let rt = self.rt_ms() + self.model.rt.page_ms;
        let rt_ms = self.wait_rt(onset, rt, None).unwrap_or(rt);
        let accepted = match page {
            Page::Consent { .. } => unit(&mut self.rng) <= self.model.other.consent_p,
            _ => true,
        };
        Ok(PageResult {
            onset,
            rt_ms,
            accepted,
        })
    }

    fn ask(&mut self, ask: &Ask<'_>) -> Result<Vec<Response>, RespondError> {
        let onset = self.clock.now();
        let kind = ask.step.kind_name().to_string();
        let (attention_check, single) = match &ask.step.kind {
            StepKind::Choice {
                attention_check, ..
            } => (*attention_check, true),
            StepKind::TimeEstimate { .. } | StepKind::FreeText { .. } => (false, true),
            StepKind::Rating(r) => (false, r.is_single()),
            _ => (false, false),
        };
        let mut out = Vec::with_capacity(ask.items.len());
        let mut elapsed = 0.0;
        let mut timed_out = false;
        // With `confidence = N`, how sure after each old/new answer (as the window asks it).
        let confidence = match (&ask.step.kind, ask.step.confidence_step()) {
            (
                StepKind::Recognition {
                    confidence_points: Some(n),
                    ..
                },
                Some(step),
            ) => Some((*n, step)),
            _ => None,
        };
        let mut confidences = Vec::new();
        for item in ask.items {
            self.recognition_margin = None;
            let (value, text, correct) = self.item_value(ask, item);
            let mut rt = self.rt_ms();
            if let StepKind::TimeEstimate {
                method: EstimateMethod::Reproduction,
                ..
            } = &ask.step.kind
            {
                // The reproduction itself takes as long as the reproduced duration.
                let s = match value {
                    Some(v)
                        if matches!(
                            ask.step.kind,
                            StepKind::TimeEstimate {
                                unit: TimeUnit::Ms,
                                ..
                            }
                        ) =>
                    {
                        v / 1000.0
                    }
                    Some(v) => v,
                    None => 0.0,
                };
                rt += s * 1000.0;
            }
            elapsed += rt;
            let answered = if timed_out {
                None
            } else {
                self.wait_rt(onset, elapsed, ask.timeout)
            };
            timed_out = answered.is_none();
            let item_name = if single {
                ask.step.id.clone()
            } else {
                item.clone()
            };
            out.push(Response {
                step: ask.step.id.clone(),
                kind: kind.clone(),
                item: item_name,
                value: answered.and(value),
                text: answered.and(text),
                rt_ms: answered,
                correct: answered.and(correct),
                attention_check,
                onset,
                timed_out,
            });
            if let Some((points, step)) = &confidence {
                // The confidence key follows the answer after a fixed 400 ms (no draw, so the
                // old/new answers are those of a protocol without confidence).
                let conf = self.recognition_margin.map(|m| {
                    let band = (m / self.model.memory.confidence_step.max(1e-9)).floor();
                    (band + 1.0).min(f64::from(*points))
                });
                let at = if timed_out {
                    None
                } else {
                    elapsed += CONFIDENCE_MS;
                    self.wait_rt(onset, elapsed, ask.timeout)
                };
                timed_out = at.is_none();
                confidences.push(Response {
                    step: step.clone(),
                    kind: "recognition_confidence".to_string(),
                    item: item.clone(),
                    value: at.and(conf),
                    text: None,
                    rt_ms: at,
                    correct: None,
                    attention_check: false,
                    onset,
                    timed_out,
                });
            }
        }
        out.extend(confidences);
        Ok(out)
    }

    fn arm_continuous(&mut self, spec: &ContinuousSpec<'_>) -> Result<(), RespondError> {
        self.continuous = Some(Armed {
            dims: spec.dims.to_vec(),
            hz: spec.hz.max(1),
            soundtrack: spec.trial.soundtrack.clone(),
            clip: spec.trial.clip.clone(),
        });
        Ok(())
    }

    fn collect_continuous(
        &mut self,
        timing: &TrialTiming,
    ) -> Result<Vec<ContinuousTrace>, RespondError> {
        let Some(armed) = self.continuous.take() else {
            return Ok(Vec::new());
        };
        let duration_ms = timing
            .measured_duration()
            .map_or(0.0, |d| d.as_millis_f64());
        let period_ms = 1000.0 / f64::from(armed.hz);
        let n = (duration_ms / period_ms).floor() as usize + usize::from(duration_ms > 0.0);
        let (sd, ar) = (
            self.model.emotion.continuous_sd,
            self.model.emotion.continuous_ar,
        );
        let mut traces = Vec::with_capacity(armed.dims.len());
        for dim in &armed.dims {
            let mut noise = 0.0;
            let innovation = sd * (1.0 - ar * ar).sqrt();
            let mut samples = Vec::with_capacity(n);
            for k in 0..n {
                let t_ms = round_to_us(k as f64 * period_ms);
                noise = ar * noise + innovation * normal(&mut self.rng);
                let v =
                    (self.continuous_target(&armed, dim, t_ms / 1000.0) + noise).clamp(1.0, 9.0);
                samples.push((t_ms, round_to_us(v)));
            }
            traces.push(ContinuousTrace {
                item: dim.clone(),
                samples,
            });
        }
        Ok(traces)
    }

    fn feedback(&mut self, _correct: bool) -> Result<(), RespondError> {
        let onset = self.clock.now();
        self.clock
            .wait_until(onset + SessionTime::from_millis(1000));
        Ok(())
    }
}

fn sub_seed(tag: &[u8], seed: u64, name: &str) -> u64 {
    let mut h = Sha256::new();
    h.update(b"cuelab/simulate/v2\0");
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

/// Rounds to the microsecond-scale third decimal place of a millisecond figure.
fn round_to_us(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_model_round_trips_through_an_empty_file_and_rejects_bad_values() {
        assert_eq!(Model::parse("m.toml", "").unwrap(), Model::default());
        let m = Model::parse("m.toml", "[emotion]\nlag_s = 3.5\n").unwrap();
        assert_eq!(m.emotion.lag_s, 3.5);
        assert!(matches!(
            Model::parse("m.toml", "[emotion]\nmusic_weight = 2\n"),
            Err(ModelError::Range { .. })
        ));
        assert!(matches!(
            Model::parse("m.toml", "[emotion]\nlagg = 1\n"),
            Err(ModelError::Parse { .. })
        ));
    }

    #[test]
    fn emotion_words_follow_valence_and_arousal() {
        let happy = Affect {
            valence: 8.0,
            arousal: 8.0,
        };
        let sad = Affect {
            valence: 3.0,
            arousal: 3.0,
        };
        assert!(emotion_of("happy", happy).unwrap() > emotion_of("happy", sad).unwrap());
        assert!(emotion_of("sad", sad).unwrap() > emotion_of("sad", happy).unwrap());
        assert!(emotion_of("calm_tense", happy).unwrap() > emotion_of("calm_tense", sad).unwrap());
        assert_eq!(emotion_of("colour", happy), None);
    }
}
