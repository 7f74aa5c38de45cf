//! Pricing Arrow batches: the batches are read as CSV text into
//! [`drgdip_pipeline::price()`] itself and its CSV output read back as Utf8 columns, so
//! that the money, the benefits (per person in date order, across all the batches) and
//! the messages are exactly those of `drgdip price`.

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use drgdip_payment::Policy;
use drgdip_pipeline::{PriceConfig, PriceSummary, SpillTo, price};

use crate::Error;
use crate::parquet::{BATCH_ROWS, CsvText, csv_batches};

/// Prices grouped rows (the output of grouping with `carry`, with the columns
/// `drgdip price` reads) given as `batches` of `schema`. Returns the priced rows (the
/// columns of [`drgdip_pipeline::PRICED_HEADER`], Utf8), their schema, and the summary.
/// Rows are numbered as the lines of a CSV file with a header (the first row is line 2).
pub fn price_batches(
    policy: &Policy,
    schema: SchemaRef,
    batches: impl Iterator<Item = RecordBatch> + Send,
    threads: Option<usize>,
) -> Result<(SchemaRef, Vec<RecordBatch>, PriceSummary), Error> {
    let input = CsvText::new(schema, batches.map(Ok));
    let mut text = Vec::new();
    let config = PriceConfig {
        threads,
        spill: SpillTo::Memory,
    };
    let summary = price(
        policy,
        input,
        &mut text,
        &config,
        &drgdip_pipeline::no_progress,
    )?;
    let mut out = Vec::new();
    let schema = csv_batches(&text[..], BATCH_ROWS, |b| {
        out.push(b);
        Ok(())
    })?;
    Ok((schema, out, summary))
}
