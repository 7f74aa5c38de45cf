//! # drgdip-arrow
//!
//! drgdip where the data already is: Arrow record batches (pyarrow, pandas, Spark's
//! `mapInArrow`) and Parquet files.
//!
//! - [`run_batch`] runs a grouping [`Job`](drgdip_io::Job) — DRG
//!   ([`drgdip_io::GroupJob`]) or DIP ([`drgdip_io::DipGroupJob`]) — on a
//!   [`RecordBatch`](arrow_array::RecordBatch): each row is read as the text the CSV
//!   path reads (strings as they are, integers and decimals written out, a list of
//!   strings joined with `|`, null as an empty field), parsed and grouped by the same
//!   code, and the output columns are the CSV path's, as Utf8, with the same text. So a
//!   table and the same table written as CSV give the same results and statuses, bad
//!   rows included (`invalid` with the message naming the line and the field: the first
//!   row is line 2, as in a CSV file with a header, see [`BatchOptions::first_line`]).
//! - [`price_batches`] prices grouped batches with a policy through
//!   [`drgdip_pipeline::price()`] itself.
//! - [`parquet`]: the same on Parquet files, streamed batch by batch (by row groups),
//!   and the adapters between Arrow and CSV text the command line uses to read and
//!   write `.parquet` wherever it reads and writes CSV.
//!
//! ```
//! use std::sync::Arc;
//! use arrow_array::{ArrayRef, RecordBatch, StringArray, Int64Array};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let grouper = drgdip_grouper_for_docs()?;
//! let batch = RecordBatch::try_from_iter([
//!     ("case_id", Arc::new(StringArray::from(vec!["c1", "c2"])) as ArrayRef),
//!     ("sex", Arc::new(Int64Array::from(vec![1, 9])) as ArrayRef),
//!     ("age", Arc::new(Int64Array::from(vec![40, 40])) as ArrayRef),
//!     ("los", Arc::new(Int64Array::from(vec![9, 9])) as ArrayRef),
//!     ("diagnoses", Arc::new(StringArray::from(vec!["I21.0", "I21.0"])) as ArrayRef),
//! ])?;
//! let job = drgdip_io::GroupJob::new(&grouper, false);
//! let (out, counts) = drgdip_arrow::run_batch(&job, &batch, &Default::default())?;
//! assert_eq!(out.num_rows(), 2);
//! assert_eq!(counts[3], 1); // sex 9 is invalid
//! # Ok(())
//! # }
//! # fn drgdip_grouper_for_docs() -> Result<drgdip_grouper::Grouper, Box<dyn std::error::Error>> {
//! #     let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/demo-scheme");
//! #     Ok(drgdip_grouper::Grouper::compile(&drgdip_grouper::Scheme::from_dir(dir)?)?)
//! # }
//! ```

mod batch;
pub mod parquet;
mod price;
mod text;

pub use batch::{BatchOptions, job_columns, output_schema, run_batch};
pub use price::price_batches;

/// Why a table or file could not be run (a bad row is never an error: it is an
/// `invalid` output row).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The table lacks a column the job requires.
    #[error("the input has no `{column}` column (required); its columns are: {columns}")]
    MissingColumn {
        /// The missing column.
        column: String,
        /// The table's columns, comma-separated.
        columns: String,
    },
    /// A column's Arrow type cannot be read as text.
    #[error(
        "column `{column}` has type {data_type}, which drgdip does not read (give strings, integers, decimals, dates or lists of strings)"
    )]
    UnsupportedType {
        /// The column.
        column: String,
        /// Its Arrow type.
        data_type: String,
    },
    /// An output column would exceed 2 GiB of text in one batch.
    #[error("output column `{column}` exceeds 2 GiB in one batch: give smaller batches")]
    TooLarge {
        /// The column.
        column: String,
    },
    /// Arrow rejected a batch.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// Reading or writing Parquet failed.
    #[error("parquet: {0}")]
    Parquet(#[from] ::parquet::errors::ParquetError),
    /// Reading or writing failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The CSV pipeline failed.
    #[error("{0}")]
    Stream(#[from] drgdip_io::StreamError),
    /// The pricing pipeline failed.
    #[error("{0}")]
    Pipeline(#[from] drgdip_pipeline::PipelineError),
    /// CSV text could not be turned into a table.
    #[error("reading CSV: {0}")]
    Csv(#[from] csv::Error),
}
