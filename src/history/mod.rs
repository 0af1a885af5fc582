//! Call history (being written).
