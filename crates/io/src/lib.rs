//! # drgdip-io
//!
//! Case files in and result files out: a streaming pipeline ([`stream::run`]) that cuts
//! CSV or JSON Lines input into blocks at record boundaries, runs a [`stream::Job`] on
//! the blocks in parallel and writes results in input order, with memory bounded by one
//! batch. Every input row gives exactly one output row; bad rows get status `invalid`
//! and a message naming the line and the field.

pub mod decode;
pub mod dip;
pub mod drg;
pub mod excel;
pub mod fields;
pub mod history;
pub mod mapping;
pub mod stream;
pub mod synth;

pub use dip::{DipGroupJob, parse_dip_case};
pub use drg::{GroupJob, parse_case};
pub use stream::{
    Cancel, Column, CsvBlocks, Fields, Format, Job, Options, Out, Row, StreamError, Summary,
    block_records, block_records_into, csv_records, run, run_cancellable, split_block,
    split_block_text,
};
