//! # drgdip-grouper
//!
//! The hot path of drgdip: a CHS-DRG scheme (data) is checked and compiled once into an
//! immutable [`Grouper`] (tables, bit sets, interned code ids), which then groups cases
//! MDC → ADRG → DRG without allocating, and explains any result on request.
//!
//! ```no_run
//! use drgdip_grouper::{Case, CodeKind, Grouper, Scheme};
//!
//! let scheme = Scheme::from_dir("data/demo-scheme")?;
//! let grouper = Grouper::compile(&scheme)?;
//! let mut case = Case { sex: Some(1), age: Some(67), los: Some(9), ..Case::default() };
//! case.dx.push(grouper.lookup("I63.900", CodeKind::Diagnosis, false).id);
//! let outcome = grouper.group(&case, &mut grouper.scratch());
//! println!("{} {}", outcome.status.as_str(), grouper.result(&outcome).drg);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Architecture invariant: this crate opens no files except in [`Scheme::from_dir`],
//! [`Scheme::from_workbook`] and
//! the compiled-scheme [`Grouper::save`]/[`Grouper::load`]; grouping is pure and
//! deterministic.

mod artifact;
mod compile;
pub mod dip;
pub mod error;
mod folder;
pub mod graph;
mod group;
mod invariants;
mod lookup;
mod open;
mod program;
pub mod reference;
pub mod rule;
pub mod scheme;
mod whatif;
mod why;
pub mod workbook;

pub use compile::{Grouper, ResultInfo, normalize_code};
pub use error::{ArtifactError, SchemeError};
pub use group::{
    Case, CodeKind, Complication, Explanation, InvalidReason, Lookup, Outcome, Scratch, Status,
    Step,
};
pub use lookup::{CodeInfo, DipCodeInfo, DipTypeRef};
pub use open::{OpenError, open_catalog, open_scheme};
pub use scheme::{Scheme, SchemeFormat, SchemeInfo};
pub use whatif::{Change, Edit};
pub use why::Principals;

/// A code interned by a [`Grouper`]: an index into its sorted code dictionary.
pub type CodeId = u32;

/// The demo data of `data/`, compiled, for the unit tests.
#[cfg(test)]
mod test_data {
    /// The demo scheme (`data/demo-scheme`) compiled.
    pub(crate) fn demo() -> crate::Grouper {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/demo-scheme");
        crate::Grouper::compile(&crate::Scheme::from_dir(dir).unwrap()).unwrap()
    }
}
