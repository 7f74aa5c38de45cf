//! # drgdip-pipeline
//!
//! The payment pipelines of drgdip as library functions over readers and writers, so
//! that a service, a payment system or a Python/Java/.NET wrapper calls the same code
//! as the `drgdip` command line (which is a thin shell over this crate):
//!
//! - [`price::price`]: grouped cases (CSV) → one priced row per case: the payment
//!   standard, then the benefits applied per person in date order → patient share
//!   and fund outlay;
//! - [`settle::settle_csv`]: priced cases (CSV) → the year-end settlement per
//!   hospital, the budget's reserves, point values and the community allocation,
//!   written by [`settle::write_hospitals`], [`settle::write_summary`] and
//!   [`settle::write_community`];
//! - [`report::report`]: priced cases (and optionally the settlement) → the
//!   indicators a bureau reads, per hospital, per group and city-wide, as CSV, a
//!   text table and an SVG chart;
//! - [`outpatient::price_outpatient`]: outpatient claims (CSV) → one row per claim
//!   with the patient's and the fund's shares under the policy's outpatient schemes.
//!
//! - [`warnings`]: what the pipelines warn about (a low grouping rate, a settlement
//!   over a small part of its budget), returned by each summary's `warnings()`.
//!
//! Inputs are any [`std::io::Read`] (a file, stdin, a byte slice), outputs any
//! [`std::io::Write`]. Each run takes a config struct (threads, where to spill), a
//! progress callback, and returns a summary or a typed [`PipelineError`]. A bad row
//! never stops a run: it becomes a `rejected` output row (price) or is counted and
//! named (settle, report).

mod blocks;
mod columns;
pub mod error;
pub mod outpatient;
pub mod price;
pub mod report;
pub mod settle;
pub mod warnings;

pub use columns::{MAX_AMOUNT, MAX_FIELD, MAX_QUANTITY};
pub use error::PipelineError;
pub use outpatient::{OUTPATIENT_HEADER, OutpatientSummary, price_outpatient};
pub use price::{PRICED_HEADER, PriceConfig, PriceSummary, SpillTo, price, price_cancellable};
pub use report::{Report, ReportConfig, report};
pub use settle::{SettleConfig, SettleSummary, settle_csv};

/// The part of a run a [`Progress`] report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading (and pricing) input rows.
    Reading,
    /// Applying benefits per person (price only).
    Benefits,
    /// Writing output rows (price only).
    Writing,
}

/// A progress report: `rows` rows are done in `stage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// What is being done.
    pub stage: Stage,
    /// Rows done so far in this stage.
    pub rows: u64,
}

/// A progress callback that ignores every report.
pub fn no_progress(_: Progress) {}

/// Runs `f` in the caller's rayon pool (`threads = None`) or in a new pool of that many
/// threads (`Some(0)` = one per core).
pub(crate) fn with_pool<T: Send>(
    threads: Option<usize>,
    f: impl FnOnce() -> error::Result<T> + Send,
) -> error::Result<T> {
    match threads {
        None => f(),
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()?
            .install(f),
    }
}
