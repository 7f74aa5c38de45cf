//! Trimmed, year-weighted statistics.
