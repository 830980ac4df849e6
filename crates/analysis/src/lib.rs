//! cuelab-analysis (being written).
