//! # drgdip
//!
//! Groups hospital discharges into CHS-DRG groups and DIP disease types and turns them
//! into money. This façade re-exports the workspace's library crates:
//!
//! - [`grouper`]: scheme → compiled tables → DRG group, with explanations.
