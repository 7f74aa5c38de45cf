//! A [`Job`] (DRG grouping, DIP grouping) over an Arrow [`RecordBatch`]: the rows are
//! read as the CSV path reads them, the job writes its fields, and the fields become
//! Utf8 columns, in parallel blocks of rows (rayon) and in input order.

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use drgdip_io::stream::MAX_COLUMNS;
use drgdip_io::{Job, Out, Row};
use rayon::prelude::*;

use crate::Error;
use crate::text::TextRow;

/// Rows per parallel block.
const BLOCK_ROWS: usize = 4096;

/// How a batch is run.
#[derive(Debug, Clone)]
pub struct BatchOptions {
    /// The line number given to the first row in messages (`line N, field …`). The
    /// default, 2, numbers rows as the lines of the same table written as a CSV file
    /// with a header, so that messages are those of the CSV path.
    pub first_line: u64,
    /// Append the input's columns after the job's (columns whose name the job already
    /// writes are not repeated), as `--carry` does for CSV.
    pub carry: bool,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            first_line: 2,
            carry: false,
        }
    }
}

/// The output schema of `job` for an input `schema`: the job's header as Utf8 columns,
/// then (with `carry`) the input's other columns.
pub fn output_schema<J: Job>(job: &J, input: &Schema, carry: bool) -> SchemaRef {
    let header = job.header();
    let mut fields: Vec<Field> = header
        .iter()
        .map(|h| Field::new(h, DataType::Utf8, false))
        .collect();
    if carry {
        for f in input.fields() {
            if !header.iter().any(|h| h == f.name()) {
                fields.push(f.as_ref().clone());
            }
        }
    }
    Arc::new(Schema::new(fields))
}

/// Where each of the job's columns is in `schema`; a missing required column is an
/// error naming it and the table's columns.
pub fn job_columns<J: Job>(job: &J, schema: &Schema) -> Result<Vec<Option<usize>>, Error> {
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let mut picks = Vec::with_capacity(job.columns().len());
    for c in job.columns().iter().take(MAX_COLUMNS) {
        let at = names.iter().position(|n| *n == c.name);
        if at.is_none() && c.required {
            return Err(Error::MissingColumn {
                column: c.name.to_owned(),
                columns: names.join(","),
            });
        }
        picks.push(at);
    }
    Ok(picks)
}

/// One block's output: per output column, its bytes end to end and their lengths.
struct BlockOut {
    values: Vec<Vec<u8>>,
    lens: Vec<Vec<u32>>,
    counts: Vec<u64>,
}

/// Runs `job` on every row of `batch`: one output row per input row, in order, with
/// the job's columns (Utf8, the text the CSV path writes) and, with `carry`, the
/// input's. Returns the output and the count of rows per category of
/// [`Job::categories`].
pub fn run_batch<J: Job>(
    job: &J,
    batch: &RecordBatch,
    options: &BatchOptions,
) -> Result<(RecordBatch, Vec<u64>), Error> {
    let schema = batch.schema();
    let picks = job_columns(job, &schema)?;
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    // Typed once here, so that a bad type is an error before any row is run.
    TextRow::new(batch.columns(), &names, &picks)?;
    let width = job.header().len();
    let categories = job.categories().len();
    let rows = batch.num_rows();
    let starts: Vec<usize> = (0..rows).step_by(BLOCK_ROWS).collect();
    let blocks: Vec<Result<BlockOut, Error>> = starts
        .par_iter()
        .map_init(
            || (job.state(), Out::raw(), Vec::new()),
            |(state, out, scratch), &start| {
                let end = (start + BLOCK_ROWS).min(rows);
                let mut text = TextRow::new(batch.columns(), &names, &picks)?;
                let mut block = BlockOut {
                    values: vec![Vec::new(); width],
                    lens: vec![Vec::with_capacity(end - start); width],
                    counts: vec![0; categories],
                };
                for i in start..end {
                    text.read(i, scratch);
                    let mut fields: [Option<&[u8]>; MAX_COLUMNS] = [None; MAX_COLUMNS];
                    for (k, f) in fields.iter_mut().enumerate().take(text.len()) {
                        *f = text.field(k, scratch);
                    }
                    let row = Row {
                        line: options.first_line + i as u64,
                        fields: &fields[..text.len()],
                        problem: None,
                    };
                    out.clear();
                    let category = job.row(state, &row, out);
                    if let Some(c) = block.counts.get_mut(category) {
                        *c += 1;
                    }
                    let mut n = 0;
                    for (k, f) in out.raw_fields().enumerate().take(width) {
                        block.values[k].extend_from_slice(f);
                        block.lens[k].push(f.len() as u32);
                        n += 1;
                    }
                    // A job writes exactly its header's fields; pad defensively.
                    for k in n..width {
                        block.lens[k].push(0);
                    }
                }
                Ok(block)
            },
        )
        .collect();
    let blocks = blocks.into_iter().collect::<Result<Vec<_>, _>>()?;
    let mut counts = vec![0u64; categories];
    for b in &blocks {
        for (c, n) in counts.iter_mut().zip(&b.counts) {
            *c += n;
        }
    }
    let out_schema = output_schema(job, &schema, options.carry);
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(out_schema.fields().len());
    for k in 0..width {
        columns.push(Arc::new(concat_strings(&blocks, k, &out_schema, k)?));
    }
    if options.carry {
        let header = job.header();
        for (f, a) in schema.fields().iter().zip(batch.columns()) {
            if !header.iter().any(|h| h == f.name()) {
                columns.push(a.clone());
            }
        }
    }
    let out = RecordBatch::try_new(out_schema, columns)?;
    Ok((out, counts))
}

/// Column `k` of every block as one Utf8 array.
fn concat_strings(
    blocks: &[BlockOut],
    k: usize,
    schema: &Schema,
    field: usize,
) -> Result<StringArray, Error> {
    let total: usize = blocks.iter().map(|b| b.values[k].len()).sum();
    if total > i32::MAX as usize {
        return Err(Error::TooLarge {
            column: schema.field(field).name().clone(),
        });
    }
    let rows: usize = blocks.iter().map(|b| b.lens[k].len()).sum();
    let mut values = Vec::with_capacity(total);
    let mut offsets = Vec::with_capacity(rows + 1);
    offsets.push(0i32);
    for b in blocks {
        values.extend_from_slice(&b.values[k]);
        let mut at = *offsets.last().unwrap_or(&0);
        for &len in &b.lens[k] {
            at += len as i32;
            offsets.push(at);
        }
    }
    let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
    Ok(StringArray::try_new(
        offsets,
        Buffer::from_vec(values),
        None,
    )?)
}
