//! cuelab-playback (being written).
