//! A decoded, ready-to-play sound: interleaved `f32` samples at the engine's rate.
//!
//! A [`Sound`] is immutable once built and shared through `Arc<Sound>`: the session keeps one
//! handle, every voice that plays it holds another, and the samples are never copied. Gain and
//! fades are applied when the sound is built (see [`crate::decode`]), so the render path only
//! reads and mixes.

use cuelab_core::{Frames, SessionTime};

/// Why a sound could not be built from samples.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum SoundError {
    /// The sample rate was zero.
    #[error("sample rate must be positive")]
    ZeroRate,
    /// The channel count was zero.
    #[error("channel count must be positive")]
    ZeroChannels,
    /// The sample count is not a whole number of frames.
    #[error("{samples} samples do not make whole frames of {channels} channels")]
    PartialFrame {
        /// Number of samples given.
        samples: usize,
        /// Number of channels declared.
        channels: u16,
    },
}

/// Peak and RMS level of a sound, over all channels, as linear amplitudes (full scale = 1.0).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Levels {
    /// Largest absolute sample value.
    pub peak: f32,
    /// Root mean square over all samples.
    pub rms: f32,
}

impl Levels {
    /// Measures the levels of interleaved samples.
    pub fn measure(samples: &[f32]) -> Levels {
        if samples.is_empty() {
            return Levels::default();
        }
        let mut peak = 0f32;
        let mut sum_sq = 0f64;
        for &s in samples {
            peak = peak.max(s.abs());
            sum_sq += f64::from(s) * f64::from(s);
        }
        Levels {
            peak,
            rms: (sum_sq / samples.len() as f64).sqrt() as f32,
        }
    }

    /// Peak level in dB relative to full scale (`-inf` for silence).
    pub fn peak_dbfs(&self) -> f32 {
        20.0 * self.peak.log10()
    }

    /// RMS level in dB relative to full scale (`-inf` for silence).
    pub fn rms_dbfs(&self) -> f32 {
        20.0 * self.rms.log10()
    }
}

/// An immutable block of interleaved `f32` samples at a known rate, with its measured levels.
#[derive(Debug, Clone, PartialEq)]
pub struct Sound {
    rate: u32,
    channels: u16,
    samples: Vec<f32>,
    levels: Levels,
}

impl Sound {
    /// Builds a sound from interleaved samples; measures its levels.
    pub fn from_interleaved(
        rate: u32,
        channels: u16,
        samples: Vec<f32>,
    ) -> Result<Sound, SoundError> {
        if rate == 0 {
            return Err(SoundError::ZeroRate);
        }
        if channels == 0 {
            return Err(SoundError::ZeroChannels);
        }
        if !samples.len().is_multiple_of(usize::from(channels)) {
            return Err(SoundError::PartialFrame {
                samples: samples.len(),
                channels,
            });
        }
        let levels = Levels::measure(&samples);
        Ok(Sound {
            rate,
            channels,
            samples,
            levels,
        })
    }

    /// Sample rate in Hz.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Number of interleaved channels.
    pub fn channels(&self) -> u16 {
        self.channels
    }

    /// Length in frames.
    pub fn frames(&self) -> Frames {
        Frames((self.samples.len() / usize::from(self.channels)) as i64)
    }

    /// Length in session time (rounded down to the nanosecond).
    pub fn duration(&self) -> SessionTime {
        self.frames().to_session_time(self.rate)
    }

    /// The interleaved samples.
    pub fn samples(&self) -> &[f32] {
        &self.samples
    }

    /// Peak and RMS level, measured after gain and fades were applied.
    pub fn levels(&self) -> Levels {
        self.levels
    }

    /// Heap bytes held by the samples (for memory reports).
    pub fn heap_bytes(&self) -> usize {
        self.samples.capacity() * std::mem::size_of::<f32>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_of_a_full_scale_square_wave() {
        let samples: Vec<f32> = (0..100)
            .map(|i| if i % 2 == 0 { 0.5 } else { -0.5 })
            .collect();
        let sound = Sound::from_interleaved(48_000, 2, samples).unwrap();
        assert_eq!(sound.frames(), Frames(50));
        assert_eq!(sound.levels().peak, 0.5);
        assert!((sound.levels().rms - 0.5).abs() < 1e-6);
        assert!((sound.levels().peak_dbfs() + 6.0206).abs() < 1e-3);
    }

    #[test]
    fn rejects_partial_frames_and_zero_rate() {
        assert_eq!(
            Sound::from_interleaved(48_000, 2, vec![0.0; 3]),
            Err(SoundError::PartialFrame {
                samples: 3,
                channels: 2
            })
        );
        assert_eq!(
            Sound::from_interleaved(0, 1, vec![]),
            Err(SoundError::ZeroRate)
        );
    }
}
