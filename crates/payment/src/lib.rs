//! drgdip payment (to be built: issue 4).
