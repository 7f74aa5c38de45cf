//! drgdip pricing (to be built: issue 4).
