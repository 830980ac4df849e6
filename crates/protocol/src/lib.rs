//! cuelab-protocol (being written).
