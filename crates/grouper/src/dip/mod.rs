//! # DIP (按病种分值付费): disease-type catalogues, grouping, and building from history
//!
//! A catalogue ([`CatalogSource`], a folder of CSV tables and a manifest, documented in
//! `docs/dip-catalog.md`) is checked and compiled once into an immutable [`Catalog`],
//! which maps each case to a disease type through the layers exclusions → pre-grouping →
//! merge → refinement → core → composite → ungrouped, picks the auxiliary sub-type, and
//! explains any result on request. [`build`] derives a catalogue (types, scores, CVs,
//! primary-care candidates) from historical cases; [`stats`] holds the trimmed, year-
//! weighted statistics it shares with DRG weight computation. [`calibrate`](mod@calibrate)
//! scores a given catalogue (e.g. the national one) on a city's history and adds its
//! composite types.
//! [`reference`](mod@reference) is a slow interpreter of the catalogue source, written
//! straight from the format's documentation, that the tests hold the compiled catalogue
//! to.
//!
//! ```no_run
//! use drgdip_grouper::dip::{Catalog, CatalogSource, DipCase};
//!
//! let catalog = Catalog::compile(&CatalogSource::from_dir("data/demo-catalog")?)?;
//! let mut case = DipCase { age: Some(67), los: Some(9), ..DipCase::default() };
//! case.dx.push(catalog.dx("I63.900").id);
//! case.px.push(catalog.px("88.4101").id);
//! let outcome = catalog.group(&case, &mut catalog.scratch());
//! let ty = catalog.type_of(&outcome).expect("grouped");
//! println!("{} {} {}", outcome.status.as_str(), ty.code, ty.score_text);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub(crate) mod artifact;
pub mod build;
pub mod calibrate;
pub(crate) mod compile;
pub mod error;
mod group;
mod invariants;
mod national;
pub mod national_reference;
pub mod reference;
pub mod source;
pub mod spec;
pub mod stats;
pub mod workbook;

pub use compile::{AuxType, Catalog, CatalogInfo, DipType, Layer};
pub use error::{BuildError, CatalogError, Problem};
pub use group::{
    CodeLookup, DipCase, DipExplanation, DipOutcome, DipReason, DipScratch, DipStatus, DipStep,
};
pub use source::{AttributeSource, CatalogOptions, CatalogSource, Manifest, Rules, TieRule};
pub use spec::{Attribute, DxSpec, ProcSpec, Range};
pub use workbook::{NationalWorkbook, WorkbookError, WorkbookProblem};
