//! DRG grouper.
