//! Parquet files, streamed: a grouping job over a Parquet file batch by batch (the
//! next batch is decoded while the current one is grouped), and the adapters between
//! Arrow and CSV text that let every CSV pipeline read and write Parquet.

use std::fs::File;
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use arrow_array::{ArrayRef, RecordBatch, RecordBatchReader, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use drgdip_io::{Job, Out, Summary};
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::text::TextRow;
use crate::{BatchOptions, Error, job_columns, output_schema, run_batch};

/// Rows per batch read from a Parquet file (and per row written to a CSV-to-Parquet
/// conversion).
pub const BATCH_ROWS: usize = 65_536;

/// Rows per row group of the Parquet files written.
pub const ROW_GROUP_ROWS: usize = 131_072;

/// Whether a path names a Parquet file (by its extension).
pub fn is_parquet(path: &str) -> bool {
    std::path::Path::new(path)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
}

/// The properties of the Parquet files drgdip writes: Snappy (what Spark and pyarrow
/// write and read by default), row groups of [`ROW_GROUP_ROWS`].
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build()
}

/// Where a job's output goes.
pub enum Output<W: Write + Send> {
    /// A Parquet file.
    Parquet(W),
    /// CSV text with a header, as the CSV path writes it.
    Csv(W),
}

/// The batches of an output, as Parquet or as CSV text.
enum Sink<W: Write + Send> {
    Parquet(W),
    ParquetOpen(Box<ArrowWriter<W>>),
    Csv(W, Out, Vec<u8>),
}

impl<W: Write + Send> Sink<W> {
    fn new(output: Output<W>) -> Sink<W> {
        match output {
            Output::Parquet(w) => Sink::Parquet(w),
            Output::Csv(w) => Sink::Csv(w, Out::with_capacity(1 << 16), Vec::new()),
        }
    }

    fn write(self, batch: &RecordBatch) -> Result<Sink<W>, Error> {
        Ok(match self {
            Sink::Parquet(w) => {
                let mut writer =
                    ArrowWriter::try_new(w, batch.schema(), Some(writer_properties()))?;
                writer.write(batch)?;
                Sink::ParquetOpen(Box::new(writer))
            }
            Sink::ParquetOpen(mut writer) => {
                writer.write(batch)?;
                Sink::ParquetOpen(writer)
            }
            Sink::Csv(mut w, mut out, mut scratch) => {
                write_csv(batch, &mut w, &mut out, &mut scratch, false)?;
                Sink::Csv(w, out, scratch)
            }
        })
    }

    /// Writes the header (CSV) or an empty file (Parquet) when no batch came.
    fn start(self, schema: &SchemaRef) -> Result<Sink<W>, Error> {
        Ok(match self {
            Sink::Csv(mut w, mut out, s) => {
                for f in schema.fields() {
                    out.write_field(f.name());
                }
                out.end_record();
                w.write_all(&std::mem::take(&mut out).into_inner())?;
                Sink::Csv(w, Out::with_capacity(1 << 16), s)
            }
            other => other,
        })
    }

    fn finish(self, schema: &SchemaRef) -> Result<(), Error> {
        match self {
            Sink::Parquet(w) => {
                ArrowWriter::try_new(w, schema.clone(), Some(writer_properties()))?.close()?;
            }
            Sink::ParquetOpen(writer) => {
                writer.close()?;
            }
            Sink::Csv(mut w, _, _) => w.flush()?,
        }
        Ok(())
    }
}

/// Appends the rows of `batch` to `w` as CSV text (all columns, read as text).
fn write_csv<W: Write>(
    batch: &RecordBatch,
    w: &mut W,
    out: &mut Out,
    scratch: &mut Vec<u8>,
    header: bool,
) -> Result<(), Error> {
    let schema = batch.schema();
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    if header {
        for n in &names {
            out.write_field(n);
        }
        out.end_record();
    }
    let picks: Vec<Option<usize>> = (0..names.len()).map(Some).collect();
    let mut text = TextRow::new(batch.columns(), &names, &picks)?;
    for i in 0..batch.num_rows() {
        text.read(i, scratch);
        for k in 0..text.len() {
            out.write_field(text.field(k, scratch).unwrap_or(b""));
        }
        out.end_record();
        if i % 4096 == 4095 {
            w.write_all(&std::mem::take(out).into_inner())?;
        }
    }
    w.write_all(&std::mem::take(out).into_inner())?;
    Ok(())
}

/// Runs `job` over a Parquet file, batch by batch, into Parquet or CSV. Only the
/// columns the job reads are decoded (all of them with `carry`). Rows are numbered
/// across batches from `options.first_line`. The caller's rayon pool groups each batch
/// while the previous batch's output is written and the next batch decoded.
pub fn run_parquet<J: Job, W: Write + Send>(
    job: &J,
    input: File,
    output: Output<W>,
    options: &BatchOptions,
) -> Result<Summary, Error> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(input)?;
    let schema = builder.schema().clone();
    let picks = job_columns(job, &schema)?;
    let builder = if options.carry {
        builder
    } else {
        let roots: Vec<usize> = picks.iter().flatten().copied().collect();
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
        builder.with_projection(mask)
    };
    let mut reader = builder.with_batch_size(BATCH_ROWS).build()?;
    let read_schema = reader_schema(&schema, &picks, options.carry);
    let out_schema = output_schema(job, &read_schema, options.carry);
    let mut sink = Sink::new(output).start(&out_schema)?;
    let mut summary = Summary {
        counts: vec![0; job.categories().len()],
        bytes: 0,
        layout: None,
        rows: 0,
    };
    let mut next = reader.next().transpose()?;
    let mut pending: Option<RecordBatch> = None;
    while let Some(batch) = next {
        let opts = BatchOptions {
            first_line: options.first_line + summary.rows,
            carry: options.carry,
        };
        // Write the previous batch's output and decode the next batch while this one
        // is grouped.
        let previous = pending.take();
        let ((read, written), done) = rayon::join(
            || {
                let written = match &previous {
                    Some(p) => sink.write(p),
                    None => Ok(sink),
                };
                (reader.next().transpose(), written)
            },
            || run_batch(job, &batch, &opts),
        );
        sink = written?;
        let (out, counts) = done?;
        next = read?;
        summary.rows += batch.num_rows() as u64;
        for (c, n) in summary.counts.iter_mut().zip(counts) {
            *c += n;
        }
        pending = Some(out);
    }
    if let Some(p) = pending {
        sink = sink.write(&p)?;
    }
    sink.finish(&out_schema)?;
    Ok(summary)
}

/// The schema of the batches a projected reader gives.
fn reader_schema(schema: &Schema, picks: &[Option<usize>], carry: bool) -> Schema {
    if carry {
        return schema.clone();
    }
    let mut roots: Vec<usize> = picks.iter().flatten().copied().collect();
    roots.sort_unstable();
    Schema::new(
        roots
            .into_iter()
            .map(|i| schema.field(i).clone())
            .collect::<Vec<_>>(),
    )
}

/// A table's batches read as CSV text with a header (for the pipelines that read CSV:
/// `price`). Values are written as [`run_batch`] reads them.
pub struct CsvText<I> {
    batches: I,
    schema: SchemaRef,
    header_done: bool,
    buf: Vec<u8>,
    at: usize,
    out: Out,
    scratch: Vec<u8>,
}

impl<I: Iterator<Item = Result<RecordBatch, Error>>> CsvText<I> {
    /// CSV text over `batches` of `schema`.
    pub fn new(schema: SchemaRef, batches: I) -> Self {
        CsvText {
            batches,
            schema,
            header_done: false,
            buf: Vec::new(),
            at: 0,
            out: Out::with_capacity(1 << 16),
            scratch: Vec::new(),
        }
    }

    fn fill(&mut self) -> io::Result<bool> {
        self.buf.clear();
        self.at = 0;
        if !self.header_done {
            self.header_done = true;
            for f in self.schema.fields() {
                self.out.write_field(f.name());
            }
            self.out.end_record();
            self.buf = std::mem::take(&mut self.out).into_inner();
            return Ok(true);
        }
        match self.batches.next() {
            None => Ok(false),
            Some(Err(e)) => Err(io::Error::other(e)),
            Some(Ok(batch)) => {
                write_csv(
                    &batch,
                    &mut self.buf,
                    &mut self.out,
                    &mut self.scratch,
                    false,
                )
                .map_err(io::Error::other)?;
                Ok(true)
            }
        }
    }
}

impl<I: Iterator<Item = Result<RecordBatch, Error>>> Read for CsvText<I> {
    fn read(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        while self.at >= self.buf.len() {
            if !self.fill()? {
                return Ok(0);
            }
        }
        let n = dst.len().min(self.buf.len() - self.at);
        dst[..n].copy_from_slice(&self.buf[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// The batches of a Parquet file as CSV text (see [`CsvText`]).
pub fn parquet_as_csv(input: File) -> Result<impl Read + Send, Error> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(input)?
        .with_batch_size(BATCH_ROWS)
        .build()?;
    let schema = reader.schema();
    Ok(CsvText::new(schema, reader.map(|b| b.map_err(Error::from))))
}

/// Reads CSV text with a header into batches of at most `rows` rows, every column
/// Utf8 (the text as it is; a short record is padded with empty fields), handing each
/// to `each`. Returns the schema (for an output with no rows).
pub fn csv_batches(
    input: impl Read,
    rows: usize,
    mut each: impl FnMut(RecordBatch) -> Result<(), Error>,
) -> Result<SchemaRef, Error> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(input);
    let header: Vec<String> = rdr
        .byte_headers()?
        .iter()
        .map(|h| String::from_utf8_lossy(h).into_owned())
        .collect();
    let schema: SchemaRef = Arc::new(Schema::new(
        header
            .iter()
            .map(|h| Field::new(h, DataType::Utf8, false))
            .collect::<Vec<_>>(),
    ));
    let width = header.len();
    let mut cols: Vec<Vec<String>> = vec![Vec::new(); width];
    let mut rec = csv::StringRecord::new();
    let mut flush = |cols: &mut Vec<Vec<String>>| -> Result<(), Error> {
        if cols.first().is_none_or(|c| c.is_empty()) {
            return Ok(());
        }
        let arrays: Vec<ArrayRef> = cols
            .iter_mut()
            .map(|c| Arc::new(StringArray::from(std::mem::take(c))) as ArrayRef)
            .collect();
        each(RecordBatch::try_new(schema.clone(), arrays)?)
    };
    while rdr.read_record(&mut rec)? {
        for (k, col) in cols.iter_mut().enumerate() {
            col.push(rec.get(k).unwrap_or("").to_owned());
        }
        if cols[0].len() >= rows {
            flush(&mut cols)?;
        }
    }
    flush(&mut cols)?;
    Ok(schema)
}

/// A [`Write`] whose bytes go to a reader on another thread.
struct ChannelWriter {
    tx: SyncSender<Vec<u8>>,
    buf: Vec<u8>,
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= 1 << 20 {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(1 << 20));
            self.tx.send(chunk).map_err(|_| {
                io::Error::new(io::ErrorKind::BrokenPipe, "the Parquet writer stopped")
            })?;
        }
        Ok(())
    }
}

/// The reading end of a [`ChannelWriter`].
struct ChannelReader {
    rx: Receiver<Vec<u8>>,
    buf: Vec<u8>,
    at: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        while self.at >= self.buf.len() {
            match self.rx.recv() {
                Ok(chunk) => {
                    self.buf = chunk;
                    self.at = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = dst.len().min(self.buf.len() - self.at);
        dst[..n].copy_from_slice(&self.buf[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Runs `produce`, which writes CSV text with a header, and writes that text to `out`
/// as a Parquet file of Utf8 columns, converted on another thread as it comes.
pub fn csv_into_parquet<W, T, E>(
    out: W,
    produce: impl FnOnce(&mut (dyn Write + Send)) -> Result<T, E>,
) -> Result<T, E>
where
    W: Write + Send,
    E: From<Error>,
{
    let (tx, rx) = sync_channel::<Vec<u8>>(4);
    std::thread::scope(|scope| {
        let consumer = scope.spawn(move || -> Result<(), Error> {
            let reader = ChannelReader {
                rx,
                buf: Vec::new(),
                at: 0,
            };
            let mut writer: Option<ArrowWriter<W>> = None;
            let mut out = Some(out);
            let schema = csv_batches(reader, BATCH_ROWS, |batch| {
                if writer.is_none() {
                    let w = out.take().ok_or_else(|| io::Error::other("writer gone"))?;
                    writer = Some(ArrowWriter::try_new(
                        w,
                        batch.schema(),
                        Some(writer_properties()),
                    )?);
                }
                if let Some(w) = writer.as_mut() {
                    w.write(&batch)?;
                }
                Ok(())
            })?;
            match (writer, out) {
                (Some(w), _) => {
                    w.close()?;
                }
                (None, Some(o)) => {
                    ArrowWriter::try_new(o, schema, Some(writer_properties()))?.close()?;
                }
                (None, None) => {}
            }
            Ok(())
        });
        let mut w = ChannelWriter {
            tx,
            buf: Vec::with_capacity(1 << 20),
        };
        let produced = produce(&mut w);
        let flushed = w.flush();
        drop(w);
        let converted = consumer
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the Parquet writer panicked").into()));
        converted?;
        let value = produced?;
        flushed.map_err(Error::from)?;
        Ok(value)
    })
}
