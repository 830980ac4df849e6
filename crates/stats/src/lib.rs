//! cuelab-stats (being written).
