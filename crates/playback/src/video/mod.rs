//! Video decoding and the audio-mastered frame clock (being written).
