//! The streaming pipeline: input is cut into blocks at record boundaries; as many
//! threads as the current rayon pool has each take the next block, process it and hand
//! its output back, and the calling thread writes the outputs in input order between
//! blocks of its own. Reading, processing and writing overlap; memory is bounded by the
//! blocks allowed ahead of the writing, whatever the file size, and block storage is
//! reused from block to block.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::mapping::{ColumnMap, MapBuf, Resolved};

/// Input file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// CSV with a header row (BOM and CRLF accepted).
    Csv,
    /// One JSON object per line.
    JsonLines,
}

impl Format {
    /// Guesses the format from a file name (`.jsonl`/`.ndjson` → JSON Lines).
    pub fn from_path(path: &str) -> Format {
        if path.ends_with(".jsonl") || path.ends_with(".ndjson") || path.ends_with(".json") {
            Format::JsonLines
        } else {
            Format::Csv
        }
    }
}

/// A column a job reads.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Header name.
    pub name: &'static str,
    /// A file without it is rejected as a whole (exit 2).
    pub required: bool,
}

/// One input row as a job sees it.
pub struct Row<'a> {
    /// 1-based line of the row in the input file (the header is line 1 in CSV).
    pub line: u64,
    /// The job's columns, in the order of [`Job::columns`]; `None` when absent.
    pub fields: &'a [Option<&'a [u8]>],
    /// A problem with the row as a whole (wrong field count, bad JSON), if any.
    pub problem: Option<String>,
}

impl Row<'_> {
    /// The bytes of column `i` (empty when absent).
    pub fn get(&self, i: usize) -> &[u8] {
        self.fields.get(i).copied().flatten().unwrap_or(b"")
    }
}

/// A per-row computation run by the pipeline: one output record per input row.
pub trait Job: Sync {
    /// Per-thread working memory.
    type State: Send;
    /// The columns read from the input.
    fn columns(&self) -> &[Column];
    /// The output header.
    fn header(&self) -> Vec<String>;
    /// Names of the outcome categories counted in the summary.
    fn categories(&self) -> &[&'static str];
    /// Fresh working memory.
    fn state(&self) -> Self::State;
    /// Processes one row, writing exactly one record's fields (not the terminator) and
    /// returning its category.
    fn row(&self, state: &mut Self::State, row: &Row<'_>, out: &mut Out) -> usize;
}

/// Pipeline options.
#[derive(Debug, Clone)]
pub struct Options {
    /// Input format.
    pub format: Format,
    /// Append the input's own columns after the job's (CSV input only; columns whose
    /// name the job already writes are not repeated).
    pub carry: bool,
    /// Bytes per block.
    pub block_size: usize,
    /// Blocks that may be read ahead of the writing (at least twice the threads).
    pub batch_blocks: usize,
    /// A column mapping for CSV input (`--columns`); `None` uses the file's headers as
    /// they are, or a built-in mapping when the header lacks a required column and a
    /// built-in layout has them all.
    pub columns: Option<ColumnMap>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            format: Format::Csv,
            carry: false,
            block_size: 1 << 20,
            batch_blocks: 4 * rayon::current_num_threads().max(2),
            columns: None,
        }
    }
}

/// Counts of a finished run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Data rows read (= rows written).
    pub rows: u64,
    /// Rows per category of [`Job::categories`].
    pub counts: Vec<u64>,
    /// Input bytes read.
    pub bytes: u64,
    /// The column mapping used, if any (its name; `(detected)` when picked by header).
    pub layout: Option<String>,
}

/// Why a whole file was rejected.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// Reading or writing failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// A required column is missing from the header.
    #[error("the input has no `{0}` column (required); its header is: {1}")]
    MissingColumn(String, String),
    /// A required field is missing from the header read through a column mapping.
    #[error(
        "the input has no column for `{field}` (required), which the column mapping `{mapping}` reads from {sources}; its header is: {header}"
    )]
    MissingMapped {
        /// The field.
        field: String,
        /// The mapping's name.
        mapping: String,
        /// The headers the mapping looks for.
        sources: String,
        /// The file's header.
        header: String,
    },
    /// The CSV header cannot be read.
    #[error("cannot read the CSV header: {0}")]
    Header(String),
    /// One record is larger than the limit: the file is probably not what it should be.
    #[error("line {0}: a single record is longer than {1} bytes (unbalanced quotes?)")]
    RecordTooLong(u64, usize),
    /// The run was stopped through its [`Cancel`] flag.
    #[error("the run was cancelled")]
    Cancelled,
}

/// A flag that stops a run between blocks: set it (from any thread) and the run
/// returns [`StreamError::Cancelled`] before it takes the next block. Clones share
/// the flag.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// A flag not set.
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Sets the flag: runs watching it stop at their next block.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Is the flag set?
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// The most columns a job may read.
pub const MAX_COLUMNS: usize = 48;

/// The longest record accepted (an unbalanced quote would otherwise swallow the file).
pub const MAX_RECORD: usize = 64 << 20;

struct Block {
    /// Storage; the block is `bytes[..len]` (the rest is spare room kept for reuse).
    bytes: Vec<u8>,
    len: usize,
    first_line: u64,
}

impl Block {
    fn data(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Cuts a byte stream into blocks ending at record boundaries.
struct Blocks<R> {
    input: R,
    /// Storage: `buf[..filled]` is input not handed out yet; the rest is initialised
    /// spare room, so that reading into it needs no zeroing.
    buf: Vec<u8>,
    filled: usize,
    eof: bool,
    line: u64,
    quotes: bool,
    read: u64,
}

impl<R: Read> Blocks<R> {
    /// Starts reading `input`, dropping a UTF-8 byte order mark; `quotes` makes record
    /// boundaries quote-aware (CSV).
    fn open(input: R, quotes: bool) -> io::Result<Self> {
        let mut blocks = Blocks {
            input,
            buf: Vec::new(),
            filled: 0,
            eof: false,
            line: 1,
            quotes,
            read: 0,
        };
        blocks.fill(3)?;
        if blocks.data().starts_with(b"\xEF\xBB\xBF") {
            blocks.consume(3);
        }
        Ok(blocks)
    }

    /// The input read and not handed out yet.
    fn data(&self) -> &[u8] {
        &self.buf[..self.filled]
    }

    /// Drops the first `n` bytes of [`Self::data`].
    fn consume(&mut self, n: usize) {
        self.buf.copy_within(n..self.filled, 0);
        self.filled -= n;
    }

    fn fill(&mut self, want: usize) -> io::Result<()> {
        while !self.eof && self.filled < want {
            let need = self.filled + (want - self.filled).max(64 << 10);
            if self.buf.len() < need {
                self.buf.resize(need, 0);
            }
            let n = loop {
                match self.input.read(&mut self.buf[self.filled..]) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    r => break r?,
                }
            };
            self.filled += n;
            self.read += n as u64;
            if n == 0 {
                self.eof = true;
            }
        }
        Ok(())
    }

    /// The end of the last complete record in `bytes` (just after its terminator).
    fn boundary(&self, bytes: &[u8]) -> Option<usize> {
        if self.quotes {
            csv_boundary(bytes)
        } else {
            memchr::memrchr(b'\n', bytes).map(|i| i + 1)
        }
    }

    /// The next block of about `size` bytes of whole records; `spare` (a block's storage
    /// handed back, or an empty vector) becomes the storage of the input after it.
    fn next(&mut self, size: usize, spare: Vec<u8>) -> Result<Option<Block>, StreamError> {
        let mut want = size;
        loop {
            self.fill(want)?;
            if self.filled == 0 {
                return Ok(None);
            }
            let cut = if self.eof && self.filled <= want {
                Some(self.filled)
            } else {
                self.boundary(&self.buf[..want.min(self.filled)])
            };
            match cut {
                Some(cut) => {
                    let tail = self.filled - cut;
                    let mut rest = spare;
                    if rest.len() < tail {
                        rest.resize(tail, 0);
                    }
                    rest[..tail].copy_from_slice(&self.buf[cut..self.filled]);
                    let bytes = std::mem::replace(&mut self.buf, rest);
                    self.filled = tail;
                    let first_line = self.line;
                    self.line += if self.quotes {
                        count_lines(&bytes[..cut])
                    } else {
                        memchr::memchr_iter(b'\n', &bytes[..cut]).count() as u64
                    };
                    return Ok(Some(Block {
                        bytes,
                        len: cut,
                        first_line,
                    }));
                }
                None if want >= MAX_RECORD => {
                    return Err(StreamError::RecordTooLong(self.line, MAX_RECORD));
                }
                None => want *= 2,
            }
        }
    }
}

/// Runs a job over an input stream, writing the output CSV. `progress` is called after
/// every batch with (input bytes read, rows done).
pub fn run<J: Job, R: Read + Send, W: Write>(
    job: &J,
    input: R,
    output: W,
    options: &Options,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Summary, StreamError> {
    run_cancellable(job, input, output, options, progress, &Cancel::new())
}

/// [`run`] watching a [`Cancel`] flag: every thread checks it before it takes the next
/// block (not per row), and once it is set the run stops and returns
/// [`StreamError::Cancelled`]; what was written so far is a prefix of the output.
pub fn run_cancellable<J: Job, R: Read + Send, W: Write>(
    job: &J,
    input: R,
    output: W,
    options: &Options,
    progress: &(dyn Fn(u64, u64) + Sync),
    cancel: &Cancel,
) -> Result<Summary, StreamError> {
    let mut out = io::BufWriter::with_capacity(1 << 20, output);
    let mut blocks = Blocks::open(input, options.format == Format::Csv)?;
    let mut header = job.header();
    let mut layout = None;
    let mut resolved = None;
    let mut json_keys = Vec::new();
    let (mapping, carry) = match options.format {
        Format::Csv => {
            let raw = header_names(&mut blocks)?;
            let (names, mapped) = apply_mapping(raw, options.columns.as_ref(), job.columns());
            let mapping = column_indices(&names, job.columns(), mapped.as_ref(), options)?;
            if let Some(r) = &mapped {
                layout = Some(match options.columns {
                    Some(_) => r.label.clone(),
                    None => format!("{} (detected)", r.label),
                });
            }
            resolved = mapped;
            let carry: Vec<usize> = if options.carry {
                (0..names.len())
                    .filter(|&i| !header.contains(&names[i]))
                    .collect()
            } else {
                Vec::new()
            };
            header.extend(carry.iter().map(|&i| names[i].clone()));
            (mapping, carry)
        }
        Format::JsonLines => {
            if options.carry {
                json_keys = first_json_keys(&mut blocks)?
                    .into_iter()
                    .filter(|k| !header.contains(k))
                    .collect();
                header.extend(json_keys.iter().cloned());
            }
            (Vec::new(), Vec::new())
        }
    };
    {
        let mut w = Out::default();
        header.iter().for_each(|h| w.write_field(h));
        w.end_record();
        out.write_all(&w.into_inner())?;
    }
    let expected = mapping
        .iter()
        .flatten()
        .map(|&m| resolved.as_ref().map_or(m, |r| r.max_source(m)))
        .max()
        .map_or(0, |m| m + 1);
    let ctx = BlockCtx {
        job,
        format: options.format,
        mapping: &mapping,
        carry: &carry,
        resolved: resolved.as_ref(),
        json_keys: &json_keys,
        expected,
    };
    let mut summary = Summary {
        counts: vec![0; job.categories().len()],
        layout,
        ..Summary::default()
    };
    let threads = rayon::current_num_threads().max(1);
    let shared = Shared {
        reader: Mutex::new(blocks),
        block_size: options.block_size.max(1),
        window: options.batch_blocks.max(2 * threads) as u64,
        taken: AtomicU64::new(0),
        done: AtomicBool::new(false),
        read: AtomicU64::new(0),
        order: Mutex::new(Order::default()),
        changed: Condvar::new(),
        cancel,
    };
    std::thread::scope(|scope| {
        for _ in 1..threads {
            scope.spawn(|| shared.help(&ctx));
        }
        shared.lead(&ctx, &mut out, &mut summary, progress)
    })?;
    out.flush()?;
    summary.bytes = lock(&shared.reader).read;
    Ok(summary)
}

/// Locks a mutex; a worker that panicked while holding it is reported by the thread
/// scope, so its data is taken as it is.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One processed block waiting for its turn to be written.
struct Done {
    bytes: Vec<u8>,
    counts: Vec<u64>,
}

/// The ordering state of a run: which block is written next, the blocks processed
/// ahead of it, and storage handed back for reuse.
#[derive(Default)]
struct Order {
    /// Blocks written so far (= the number of the next block to write).
    written: u64,
    ready: BTreeMap<u64, Done>,
    spare_in: Vec<Vec<u8>>,
    spare_out: Vec<Vec<u8>>,
    /// The first reading error.
    error: Option<StreamError>,
    /// The run is over (finished, failed or a worker panicked): workers stop.
    stop: bool,
}

/// What the threads of a run share. Blocks are numbered in input order as they are
/// read; any thread reads the next block (under `reader`), processes it and hands the
/// result to `order`; the calling thread also writes the results in block order. At
/// most `window` blocks are read ahead of the writing, which bounds memory.
struct Shared<'c, R> {
    reader: Mutex<Blocks<R>>,
    /// Checked before every block is taken.
    cancel: &'c Cancel,
    block_size: usize,
    window: u64,
    /// Blocks read so far.
    taken: AtomicU64,
    /// The input is exhausted (or failed): `taken` is final.
    done: AtomicBool,
    /// Input bytes read so far (for progress).
    read: AtomicU64,
    order: Mutex<Order>,
    changed: Condvar,
}

/// Stops the other threads of a run when its holder leaves: always (the writing
/// thread), or only by a panic (a helper, which leaves normally when the input ends).
struct StopOnExit<'a> {
    order: &'a Mutex<Order>,
    changed: &'a Condvar,
    always: bool,
}

impl Drop for StopOnExit<'_> {
    fn drop(&mut self) {
        if self.always || std::thread::panicking() {
            lock(self.order).stop = true;
            self.changed.notify_all();
        }
    }
}

impl<R: Read + Send> Shared<'_, R> {
    /// Reads the next block into recycled storage; `None` at the end of the input or
    /// after an error (kept in `order`), or once the run is cancelled.
    fn take(&self, spare: Vec<u8>) -> Option<(u64, Block)> {
        let mut r = lock(&self.reader);
        if self.done.load(Ordering::SeqCst) {
            return None;
        }
        if self.cancel.is_cancelled() {
            self.done.store(true, Ordering::SeqCst);
            drop(r);
            lock(&self.order)
                .error
                .get_or_insert(StreamError::Cancelled);
            self.changed.notify_all();
            return None;
        }
        let next = r.next(self.block_size, spare);
        self.read.store(r.read, Ordering::Relaxed);
        match next {
            Ok(Some(block)) => Some((self.taken.fetch_add(1, Ordering::SeqCst), block)),
            Ok(None) => {
                self.done.store(true, Ordering::SeqCst);
                None
            }
            Err(e) => {
                self.done.store(true, Ordering::SeqCst);
                drop(r);
                lock(&self.order).error.get_or_insert(e);
                self.changed.notify_all();
                None
            }
        }
    }

    /// Hands a processed block to the writer.
    fn finish(&self, seq: u64, input: Vec<u8>, done: Done) {
        let mut o = lock(&self.order);
        o.spare_in.push(input);
        o.ready.insert(seq, done);
        drop(o);
        self.changed.notify_all();
    }

    /// A helper thread: processes blocks until the input ends or the run stops.
    fn help<J: Job>(&self, ctx: &BlockCtx<'_, J>) {
        let _stop = StopOnExit {
            order: &self.order,
            changed: &self.changed,
            always: false,
        };
        let mut state = ctx.job.state();
        loop {
            let (spare_in, spare_out) = {
                let mut o = lock(&self.order);
                loop {
                    if o.stop || o.error.is_some() || self.done.load(Ordering::SeqCst) {
                        return;
                    }
                    if self.taken.load(Ordering::SeqCst) < o.written + self.window {
                        break;
                    }
                    o = self.changed.wait(o).unwrap_or_else(|e| e.into_inner());
                }
                let spare = (o.spare_in.pop(), o.spare_out.pop());
                (spare.0.unwrap_or_default(), spare.1.unwrap_or_default())
            };
            let Some((seq, block)) = self.take(spare_in) else {
                return;
            };
            let done = ctx.process(&mut state, &block, spare_out);
            self.finish(seq, block.bytes, done);
        }
    }

    /// The calling thread: processes blocks too, and writes the results in order.
    fn lead<J: Job, W: Write>(
        &self,
        ctx: &BlockCtx<'_, J>,
        out: &mut W,
        summary: &mut Summary,
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<(), StreamError> {
        let _stop = StopOnExit {
            order: &self.order,
            changed: &self.changed,
            always: true,
        };
        let mut state = ctx.job.state();
        loop {
            // Write every result whose turn has come.
            loop {
                let next = {
                    let mut o = lock(&self.order);
                    if let Some(e) = o.error.take() {
                        return Err(e);
                    }
                    if o.stop {
                        return Err(StreamError::Io(io::Error::other("a worker thread stopped")));
                    }
                    let written = o.written;
                    o.ready.remove(&written)
                };
                let Some(done) = next else { break };
                out.write_all(&done.bytes)?;
                for (total, c) in summary.counts.iter_mut().zip(&done.counts) {
                    *total += c;
                }
                summary.rows = summary.counts.iter().sum();
                progress(self.read.load(Ordering::Relaxed), summary.rows);
                let mut o = lock(&self.order);
                o.written += 1;
                o.spare_out.push(done.bytes);
                drop(o);
                self.changed.notify_all();
            }
            // Then process a block, or wait for one to be ready.
            let mut o = lock(&self.order);
            let finished = self.done.load(Ordering::SeqCst);
            let taken = self.taken.load(Ordering::SeqCst);
            if finished && o.written == taken && o.error.is_none() {
                return Ok(());
            }
            if !finished && taken < o.written + self.window {
                let spare = (o.spare_in.pop(), o.spare_out.pop());
                drop(o);
                if let Some((seq, block)) = self.take(spare.0.unwrap_or_default()) {
                    let done = ctx.process(&mut state, &block, spare.1.unwrap_or_default());
                    self.finish(seq, block.bytes, done);
                }
            } else if !o.ready.contains_key(&o.written) && o.error.is_none() && !o.stop {
                drop(self.changed.wait(o).unwrap_or_else(|e| e.into_inner()));
            }
        }
    }
}

/// Applies `--columns`, or picks a built-in mapping when the header lacks a required
/// column that the built-in layout finds; returns the names the job sees.
fn apply_mapping(
    raw: Vec<String>,
    given: Option<&ColumnMap>,
    columns: &[Column],
) -> (Vec<String>, Option<Resolved>) {
    if let Some(map) = given {
        let r = map.resolve(&raw);
        return (r.names.clone(), Some(r));
    }
    let required: Vec<&str> = columns
        .iter()
        .filter(|c| c.required)
        .map(|c| c.name)
        .collect();
    if required.iter().all(|r| raw.iter().any(|n| n == r)) {
        return (raw, None);
    }
    let best = crate::mapping::builtins()
        .into_iter()
        .map(|m| (m.coverage(&raw, &required), m))
        .filter(|(n, _)| *n == required.len())
        .max_by_key(|(n, _)| *n);
    match best {
        Some((_, map)) => {
            let r = map.resolve(&raw);
            (r.names.clone(), Some(r))
        }
        None => (raw, None),
    }
}

/// Per job column, its index among `names`; a missing required column is an error.
fn column_indices(
    names: &[String],
    columns: &[Column],
    mapped: Option<&Resolved>,
    options: &Options,
) -> Result<Vec<Option<usize>>, StreamError> {
    let mut mapping = Vec::with_capacity(columns.len());
    for c in columns {
        let idx = names.iter().position(|n| n == c.name);
        if idx.is_none() && c.required {
            let sources = options.columns.as_ref().and_then(|m| m.sources(c.name));
            return Err(match (mapped, sources) {
                (Some(r), Some(sources)) => StreamError::MissingMapped {
                    field: c.name.into(),
                    mapping: r.label.clone(),
                    sources: sources
                        .iter()
                        .map(|s| format!("`{s}`"))
                        .collect::<Vec<_>>()
                        .join(" or "),
                    header: names.join(","),
                },
                _ => StreamError::MissingColumn(c.name.into(), names.join(",")),
            });
        }
        mapping.push(idx);
    }
    Ok(mapping)
}

/// The keys of the first JSON object of the input, in the order written (JSON Lines
/// `--carry`: these columns follow the job's own).
fn first_json_keys<R: Read>(blocks: &mut Blocks<R>) -> Result<Vec<String>, StreamError> {
    let mut want = 64 << 10;
    loop {
        blocks.fill(want)?;
        let complete = memchr::memchr(b'\n', blocks.data()).is_some() || blocks.eof;
        if complete {
            let first = blocks
                .data()
                .split(|&b| b == b'\n')
                .find(|l| !l.iter().all(u8::is_ascii_whitespace));
            return Ok(first.map(object_keys).unwrap_or_default());
        }
        if want >= MAX_RECORD {
            return Err(StreamError::RecordTooLong(1, MAX_RECORD));
        }
        want *= 2;
    }
}

/// The keys of a JSON object in file order (empty when the text is not an object).
fn object_keys(text: &[u8]) -> Vec<String> {
    struct Keys(Vec<String>);
    impl<'de> serde::Deserialize<'de> for Keys {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Keys, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Keys;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<Keys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some(k) = map.next_key::<String>()? {
                        map.next_value::<serde::de::IgnoredAny>()?;
                        if !keys.contains(&k) {
                            keys.push(k);
                        }
                    }
                    Ok(Keys(keys))
                }
            }
            d.deserialize_map(V)
        }
    }
    serde_json::from_slice::<Keys>(text).map_or_else(|_| Vec::new(), |k| k.0)
}

struct BlockCtx<'a, J> {
    job: &'a J,
    format: Format,
    mapping: &'a [Option<usize>],
    carry: &'a [usize],
    /// The column mapping applied to this file, if any.
    resolved: Option<&'a Resolved>,
    /// JSON Lines `--carry`: the keys carried.
    json_keys: &'a [String],
    /// Fields a row needs to have all the job's columns.
    expected: usize,
}

/// Reads and consumes the header record.
fn header_names<R: Read>(blocks: &mut Blocks<R>) -> Result<Vec<String>, StreamError> {
    let mut want = 64 << 10;
    let (names, used) = loop {
        blocks.fill(want)?;
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(blocks.data());
        let mut rec = csv::ByteRecord::new();
        let complete = blocks.boundary(blocks.data()).is_some() || blocks.eof;
        if complete
            && rdr
                .read_byte_record(&mut rec)
                .map_err(|e| StreamError::Header(e.to_string()))?
        {
            let names: Vec<String> = rec
                .iter()
                .map(|f| String::from_utf8_lossy(f).trim().to_string())
                .collect();
            let mut used = rdr.position().byte() as usize;
            // After a CRLF header the position is at its `\n`: consume it with the
            // header so that data lines are numbered from 2.
            if blocks.data().get(used) == Some(&b'\n') {
                used += 1;
            }
            break (names, used);
        }
        if blocks.eof {
            return Err(StreamError::Header(
                "the input is empty (no header, no rows)".into(),
            ));
        }
        if want >= MAX_RECORD {
            return Err(StreamError::RecordTooLong(1, MAX_RECORD));
        }
        want *= 2;
    };
    blocks.line += count_lines(&blocks.data()[..used]);
    blocks.consume(used);
    Ok(names)
}

/// A CSV stream cut into blocks of whole records, for callers that parse the blocks in
/// parallel themselves with a header-less reader (`drgdip settle`).
pub struct CsvBlocks<R> {
    blocks: Blocks<R>,
    names: Vec<String>,
}

impl<R: Read> CsvBlocks<R> {
    /// Reads the header (a UTF-8 BOM is dropped).
    pub fn open(input: R) -> Result<Self, StreamError> {
        let mut blocks = Blocks::open(input, true)?;
        let names = header_names(&mut blocks)?;
        Ok(CsvBlocks { blocks, names })
    }

    /// The header's column names, trimmed.
    pub fn header(&self) -> &[String] {
        &self.names
    }

    /// The next block of about `size` bytes of whole records and the line number of its
    /// first record, or `None` at the end of the input.
    pub fn next_block(&mut self, size: usize) -> Result<Option<(Vec<u8>, u64)>, StreamError> {
        Ok(self.blocks.next(size, Vec::new())?.map(|mut b| {
            b.bytes.truncate(b.len);
            (b.bytes, b.first_line)
        }))
    }
}

impl<J: Job> BlockCtx<'_, J> {
    /// Hands one record to the job (through the column mapping, if any) and appends the
    /// carried columns.
    fn emit(
        &self,
        state: &mut J::State,
        line: u64,
        record: &Fields<'_>,
        out: &mut Out,
        counts: &mut [u64],
        buf: &mut MapBuf,
    ) {
        let len = record.len();
        let get = |i: usize| record.get(i);
        match self.resolved {
            None => self.emit_row(state, line, len, get, out, counts),
            Some(r) => {
                r.fill(&get, buf);
                let buf = &*buf;
                let mapped = |i: usize| r.field(i, &get, buf);
                self.emit_row(state, line, len, mapped, out, counts);
            }
        }
    }

    /// Hands one record's fields to the job and appends the carried columns.
    fn emit_row<'r>(
        &self,
        state: &mut J::State,
        line: u64,
        len: usize,
        get: impl Fn(usize) -> Option<&'r [u8]>,
        out: &mut Out,
        counts: &mut [u64],
    ) {
        let expected = self.expected;
        let mut fields: [Option<&[u8]>; MAX_COLUMNS] = [None; MAX_COLUMNS];
        for (f, m) in fields.iter_mut().zip(self.mapping) {
            *f = m.and_then(&get);
        }
        let problem = (len < expected)
            .then(|| format!("line {line}: the row has {len} fields, fewer than the header"));
        let n = self.job.columns().len().min(MAX_COLUMNS);
        let row = Row {
            line,
            fields: &fields[..n],
            problem,
        };
        counts[self.job.row(state, &row, out)] += 1;
        for &i in self.carry {
            out.write_field(get(i).unwrap_or(b""));
        }
        out.end_record();
    }

    fn process(&self, state: &mut J::State, block: &Block, spare: Vec<u8>) -> Done {
        let mut counts = vec![0u64; self.job.categories().len()];
        let mut out = Out::reuse(spare, block.len);
        let mut buf = MapBuf::default();
        let bytes = block.data();
        match self.format {
            Format::Csv => split_block(bytes, block.first_line, |line, record| {
                self.emit(state, line, record, &mut out, &mut counts, &mut buf)
            }),
            Format::JsonLines => {
                for (this, text) in (block.first_line..).zip(bytes.split(|&b| b == b'\n')) {
                    if text.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    let (values, carried, problem) =
                        json_values(text, self.job.columns(), self.json_keys, this);
                    let mut fields: [Option<&[u8]>; MAX_COLUMNS] = [None; MAX_COLUMNS];
                    for (f, v) in fields.iter_mut().zip(&values) {
                        *f = v.as_deref();
                    }
                    let n = self.job.columns().len().min(MAX_COLUMNS);
                    let row = Row {
                        line: this,
                        fields: &fields[..n],
                        problem,
                    };
                    counts[self.job.row(state, &row, &mut out)] += 1;
                    for v in &carried {
                        out.write_field(v.as_deref().unwrap_or(b""));
                    }
                    out.end_record();
                }
            }
        }
        Done {
            bytes: out.into_inner(),
            counts,
        }
    }
}

/// The end of the last complete CSV record in `bytes` (just after its terminator), which
/// must start at a record boundary; `None` when no record is complete.
///
/// Records are recognised as the `csv` crate reads them, so that a block cut here holds
/// exactly the records the crate would read from the whole file: a quote opens a quoted
/// field only as the first byte of a field (elsewhere it is a literal character); inside a
/// quoted field `""` is a literal quote and a lone `"` closes the field, after which the
/// field goes on unquoted; outside quotes `\n`, `\r` and `\r\n` each end a record. A `\r`
/// that is the last byte of `bytes` is not taken as an end: a `\n` may follow it.
fn csv_boundary(bytes: &[u8]) -> Option<usize> {
    let mut quoted = false;
    // Position just after the quote that closed the last quoted field.
    let mut closed_at = usize::MAX;
    let mut last = None;
    for i in memchr::memchr3_iter(b'"', b'\n', b'\r', bytes) {
        match bytes[i] {
            b'"' if quoted => {
                quoted = false;
                closed_at = i + 1;
            }
            b'"' => {
                // `""` right after a closing quote is an escaped quote; otherwise a quote
                // opens a field only where a field starts.
                quoted = closed_at == i || i == 0 || matches!(bytes[i - 1], b',' | b'\n' | b'\r');
            }
            _ if quoted => {}
            b'\r' if i + 1 == bytes.len() => {}
            _ => last = Some(i + 1),
        }
    }
    last
}

/// The number of line ends in `bytes`: `\n`, `\r\n` and a lone `\r` count one each (a
/// `\r` at the very end counts as a lone one).
fn count_lines(bytes: &[u8]) -> u64 {
    memchr::memchr2_iter(b'\n', b'\r', bytes)
        .filter(|&i| !(bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n')))
        .count() as u64
}

/// The fields of one CSV record, from either splitter of [`split_block`].
pub enum Fields<'a> {
    /// A line of a block without quotes and the field ranges within it.
    Plain(&'a [u8], &'a [(usize, usize)]),
    /// A line of a block without quotes that is valid UTF-8 as a whole (checked once
    /// per block), and the field ranges within it: [`Fields::text`] needs no check.
    Text(&'a str, &'a [(usize, usize)]),
    /// A record read by the `csv` crate.
    Csv(&'a csv::ByteRecord),
}

impl<'a> Fields<'a> {
    /// The number of fields.
    pub fn len(&self) -> usize {
        match self {
            Fields::Plain(_, ranges) | Fields::Text(_, ranges) => ranges.len(),
            Fields::Csv(rec) => rec.len(),
        }
    }

    /// Whether the record has no field (never the case for a record read from a block).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes of field `i`, if the record has that many fields.
    pub fn get(&self, i: usize) -> Option<&'a [u8]> {
        match *self {
            Fields::Plain(raw, ranges) => ranges.get(i).map(|&(a, b)| &raw[a..b]),
            Fields::Text(raw, ranges) => ranges.get(i).map(|&(a, b)| &raw.as_bytes()[a..b]),
            Fields::Csv(rec) => rec.get(i),
        }
    }

    /// Field `i` as text, if the record has that many fields: an error when it is not
    /// valid UTF-8. Fields of a [`Fields::Text`] line are not checked again.
    pub fn text(&self, i: usize) -> Option<Result<&'a str, std::str::Utf8Error>> {
        if let Fields::Text(raw, ranges) = *self {
            // Fields end at commas and line ends (ASCII), so the ranges always fall on
            // character boundaries; `get` keeps that a checked fact.
            if let Some(s) = ranges.get(i).and_then(|&(a, b)| raw.get(a..b)) {
                return Some(Ok(s));
            }
        }
        self.get(i).map(std::str::from_utf8)
    }

    /// The whole line of a record split without the `csv` crate (`None` for one read by it).
    pub fn line(&self) -> Option<&'a [u8]> {
        match *self {
            Fields::Plain(raw, _) => Some(raw),
            Fields::Text(raw, _) => Some(raw.as_bytes()),
            Fields::Csv(_) => None,
        }
    }
}

/// Calls `each` with the line number and fields of every record of a block of whole CSV
/// records (cut as [`CsvBlocks`] cuts them) whose first line is `first_line`. Blank lines are
/// skipped, as the `csv` crate skips them; line numbers count `\n`, `\r\n` and a lone `\r`.
/// A block without quotes is split at commas and line ends without the `csv` crate (the
/// same records [`block_records`] reads, faster); other blocks go through it.
pub fn split_block(bytes: &[u8], first_line: u64, each: impl FnMut(u64, &Fields<'_>)) {
    split(bytes, first_line, false, each);
}

/// [`split_block`] for readers that read most fields of a record as text: a block
/// without quotes that is valid UTF-8 as a whole (checked once) gives its records as
/// [`Fields::Text`], whose fields [`Fields::text`] does not check again. (Where only a
/// few fields of wide records are read, checking each of them costs less than the
/// whole block: use [`split_block`].)
pub fn split_block_text(bytes: &[u8], first_line: u64, each: impl FnMut(u64, &Fields<'_>)) {
    split(bytes, first_line, true, each);
}

fn split(bytes: &[u8], first_line: u64, as_text: bool, mut each: impl FnMut(u64, &Fields<'_>)) {
    if memchr::memchr(b'"', bytes).is_none() {
        // Fast path: without quotes, records end at `\n`, `\r\n` or `\r`, and fields at `,`.
        // UTF-8 is checked once for the whole block; a block that is not valid UTF-8
        // leaves the check to each field read as text.
        let text = as_text.then(|| std::str::from_utf8(bytes).ok()).flatten();
        let mut ranges: Vec<(usize, usize)> = Vec::with_capacity(64);
        let mut record = |line: u64, start: usize, end: usize| {
            let raw = &bytes[start..end];
            split_commas(raw, &mut ranges);
            match text.and_then(|t| t.get(start..end)) {
                Some(t) => each(line, &Fields::Text(t, &ranges)),
                None => each(line, &Fields::Plain(raw, &ranges)),
            }
        };
        let (mut start, mut line) = (0, first_line);
        for end in memchr::memchr2_iter(b'\n', b'\r', bytes) {
            if end < start {
                continue; // the `\n` of a `\r\n`
            }
            if end > start {
                record(line, start, end);
            }
            line += 1;
            start = end + 1;
            if bytes[end] == b'\r' && bytes.get(start) == Some(&b'\n') {
                start += 1;
            }
        }
        if start < bytes.len() {
            record(line, start, bytes.len());
        }
        return;
    }
    block_records(bytes, first_line, |line, rec| each(line, &Fields::Csv(rec)));
}

/// The fields of a line without quotes: `ranges` receives each field's start and end.
/// Commas are found eight bytes at a time (fields are short: one call of `memchr` per
/// field costs more than the search).
fn split_commas(raw: &[u8], ranges: &mut Vec<(usize, usize)>) {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const COMMAS: u64 = 0x2c2c_2c2c_2c2c_2c2c;
    ranges.clear();
    let mut from = 0;
    let mut words = raw.chunks_exact(8);
    let mut at = 0;
    for w in &mut words {
        let t = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]) ^ COMMAS;
        // The high bit of each byte of `t` that is zero, i.e. of each comma (exact: no
        // carry crosses a byte).
        let mut m = !(((t & LOW7) + LOW7) | t | LOW7);
        while m != 0 {
            let comma = at + (m.trailing_zeros() / 8) as usize;
            ranges.push((from, comma));
            from = comma + 1;
            m &= m - 1;
        }
        at += 8;
    }
    for (i, &b) in words.remainder().iter().enumerate() {
        if b == b',' {
            ranges.push((from, at + i));
            from = at + i + 1;
        }
    }
    ranges.push((from, raw.len()));
}

/// Calls `each` with the physical line number and the fields of every record of a block
/// of whole CSV records (as [`CsvBlocks::next_block`] gives them) whose first line is
/// `first_line`, read by the `csv` crate. Line numbers count `\n`, `\r\n` and a lone
/// `\r` as one line end each, and skip blank lines and the lines of quoted multi-line
/// fields, so a message names the line a record starts on in the file (the `csv`
/// crate's own positions count `\n` only and may lie before skipped blank lines).
pub fn block_records(bytes: &[u8], first_line: u64, mut each: impl FnMut(u64, &csv::ByteRecord)) {
    let mut lines = BlockLines::new(bytes, first_line);
    let mut rec = csv::ByteRecord::new();
    while lines.read(&mut rec) {
        each(lines.line, &rec);
    }
}

/// [`block_records`] into reused records: `out[..n]` receives the `n` records of the
/// block with their line numbers (`out` grows as needed; records beyond `n` are left
/// as they were). Returns `n`.
pub fn block_records_into(
    bytes: &[u8],
    first_line: u64,
    out: &mut Vec<(u64, csv::ByteRecord)>,
) -> usize {
    let mut lines = BlockLines::new(bytes, first_line);
    let mut n = 0;
    loop {
        if n == out.len() {
            out.push((0, csv::ByteRecord::new()));
        }
        if !lines.read(&mut out[n].1) {
            return n;
        }
        out[n].0 = lines.line;
        n += 1;
    }
}

/// A `csv` reader over a block and the physical line of the record it read last.
struct BlockLines<'a> {
    bytes: &'a [u8],
    rdr: csv::Reader<io::Chain<&'static [u8], &'a [u8]>>,
    /// Bytes of the block whose line ends are counted in `line`.
    counted: usize,
    line: u64,
}

impl<'a> BlockLines<'a> {
    fn new(bytes: &'a [u8], first_line: u64) -> Self {
        // The reader drops a byte order mark at the start of its input; a block is not
        // the start of the file, so a blank line is put first: it reads as nothing, and
        // keeps the bytes of a record that starts with `EF BB BF` (positions are shifted
        // by one).
        let rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(io::Read::chain(&b"\n"[..], bytes));
        BlockLines {
            bytes,
            rdr,
            counted: 0,
            line: first_line,
        }
    }

    /// Reads the next record into `rec` and sets `line` to the line it starts on;
    /// `false` at the end of the block.
    fn read(&mut self, rec: &mut csv::ByteRecord) -> bool {
        // Reading a byte slice cannot fail (no I/O, no UTF-8 check).
        if !self.rdr.read_byte_record(rec).unwrap_or(false) {
            return false;
        }
        // Lines are counted from the bytes: the reader counts `\n` only, and a record's
        // position may lie before the blank lines and the `\n` of a `\r\n` it skipped.
        let bytes = self.bytes;
        let at = rec
            .position()
            .map_or(self.counted + 1, |p| p.byte() as usize);
        let mut start = at.saturating_sub(1).max(self.counted);
        while matches!(bytes.get(start), Some(b'\n' | b'\r')) {
            start += 1;
        }
        if start > self.counted {
            self.line += count_lines(&bytes[self.counted..start]);
            self.counted = start;
        }
        true
    }
}

/// Records as [`csv_records`] returns them: (line number, fields).
pub type LineRecords = Vec<(u64, Vec<Vec<u8>>)>;

/// The header names and the records (line number, fields) of a CSV input as the
/// pipeline reads them: the same block cutting (blocks of about `block_size` bytes) and
/// the same splitters as [`run`]. For tests and fuzzing, which compare it with the `csv`
/// crate reading the whole input.
#[allow(clippy::type_complexity)]
pub fn csv_records<R: Read>(
    input: R,
    block_size: usize,
) -> Result<(Vec<String>, LineRecords), StreamError> {
    let mut blocks = Blocks::open(input, true)?;
    let names = header_names(&mut blocks)?;
    let mut records = Vec::new();
    while let Some(block) = blocks.next(block_size.max(1), Vec::new())? {
        split_block(block.data(), block.first_line, |line, fields| {
            let all = (0..fields.len())
                .filter_map(|i| fields.get(i))
                .map(<[u8]>::to_vec);
            records.push((line, all.collect()));
        });
    }
    Ok((names, records))
}

/// A CSV record writer over a byte buffer: fields are quoted only when they must be.
///
/// [`Out::raw`] makes a writer that keeps the fields as they are, end to end, with the
/// end of each (for callers that want a job's fields rather than CSV: Arrow columns).
#[derive(Debug, Default)]
pub struct Out {
    buf: Vec<u8>,
    fields: usize,
    raw_ends: Option<Vec<usize>>,
}

impl Out {
    /// An empty writer.
    pub fn with_capacity(n: usize) -> Out {
        Out {
            buf: Vec::with_capacity(n),
            fields: 0,
            raw_ends: None,
        }
    }

    /// An empty writer of raw fields: no quoting, no separators; read them back with
    /// [`Out::raw_fields`] and start again with [`Out::clear`].
    pub fn raw() -> Out {
        Out {
            buf: Vec::with_capacity(256),
            fields: 0,
            raw_ends: Some(Vec::with_capacity(16)),
        }
    }

    /// The fields written to a [`Out::raw`] writer since it was last cleared (none for
    /// a CSV writer).
    pub fn raw_fields(&self) -> impl Iterator<Item = &[u8]> {
        let ends = self.raw_ends.as_deref().unwrap_or(&[]);
        let starts = std::iter::once(0).chain(ends.iter().copied());
        starts.zip(ends).map(|(s, &e)| &self.buf[s..e])
    }

    /// Forgets what was written (the buffers are kept).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.fields = 0;
        if let Some(ends) = &mut self.raw_ends {
            ends.clear();
        }
    }

    /// Appends one field to the current record.
    pub fn write_field(&mut self, field: impl AsRef<[u8]>) {
        let f = field.as_ref();
        if let Some(ends) = &mut self.raw_ends {
            self.buf.extend_from_slice(f);
            ends.push(self.buf.len());
            return;
        }
        if self.fields > 0 {
            self.buf.push(b',');
        }
        self.fields += 1;
        push_csv_field(&mut self.buf, f);
    }

    /// Appends one field that `fill` appends to the buffer it is given: written
    /// straight into the output (and quoted afterwards, in the rare case it must be).
    pub fn write_field_with(&mut self, fill: impl FnOnce(&mut Vec<u8>)) {
        let raw = self.raw_ends.is_some();
        if !raw {
            if self.fields > 0 {
                self.buf.push(b',');
            }
            self.fields += 1;
        }
        let start = self.buf.len();
        fill(&mut self.buf);
        if let Some(ends) = &mut self.raw_ends {
            ends.push(self.buf.len());
        } else if needs_quotes(&self.buf[start..]) {
            let field = self.buf.split_off(start);
            push_quoted(&mut self.buf, &field);
        }
    }

    /// Appends `n` fields already written as CSV (quoted where needed, joined by
    /// commas), e.g. by another `Out`, and returns `true`; a writer of raw fields
    /// ([`Out::raw`]) writes nothing and returns `false` (write the fields one by one).
    pub fn write_csv_fields(&mut self, csv: &[u8], n: usize) -> bool {
        if self.raw_ends.is_some() {
            return false;
        }
        if self.fields > 0 {
            self.buf.push(b',');
        }
        self.fields += n;
        self.buf.extend_from_slice(csv);
        true
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Ends the current record.
    pub fn end_record(&mut self) {
        self.buf.push(b'\n');
        self.fields = 0;
    }

    /// A writer appending to `buf` after emptying it (its storage is reused), with
    /// room for `n` bytes.
    fn reuse(mut buf: Vec<u8>, n: usize) -> Out {
        buf.clear();
        buf.reserve(n);
        Out {
            buf,
            fields: 0,
            raw_ends: None,
        }
    }

    /// The bytes written.
    pub fn into_inner(self) -> Vec<u8> {
        self.buf
    }
}

/// Appends the decimal digits of `n`.
pub fn push_decimal(buf: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[i..]);
}

/// Whether a CSV field must be quoted.
fn needs_quotes(f: &[u8]) -> bool {
    f.iter().any(|&b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
}

/// Appends `f` as one CSV field: as is, or quoted (its quotes doubled) when it holds
/// a comma, quote or line break.
pub fn push_csv_field(buf: &mut Vec<u8>, f: &[u8]) {
    if needs_quotes(f) {
        push_quoted(buf, f);
    } else {
        buf.extend_from_slice(f);
    }
}

/// Appends `f` quoted, its quotes doubled.
fn push_quoted(buf: &mut Vec<u8>, f: &[u8]) {
    buf.push(b'"');
    for &b in f {
        if b == b'"' {
            buf.push(b'"');
        }
        buf.push(b);
    }
    buf.push(b'"');
}

/// The job's columns of one JSON object line (arrays of codes are joined with `|`).
#[allow(clippy::type_complexity)]
fn json_values(
    text: &[u8],
    columns: &[Column],
    carry: &[String],
    line: u64,
) -> (Vec<Option<Vec<u8>>>, Vec<Option<Vec<u8>>>, Option<String>) {
    use serde_json::Value;
    let object: serde_json::Map<String, Value> = match serde_json::from_slice(text) {
        Ok(m) => m,
        Err(e) => {
            // Still try to recover the case id for the output row.
            let values = columns.iter().map(|_| None).collect();
            let carried = carry.iter().map(|_| None).collect();
            return (
                values,
                carried,
                Some(format!("line {line}: not a JSON object: {e}")),
            );
        }
    };
    let scalar = |v: &Value| -> Option<Vec<u8>> {
        match v {
            Value::Null => None,
            Value::String(s) => Some(s.as_bytes().to_vec()),
            Value::Number(n) => Some(n.to_string().into_bytes()),
            Value::Bool(b) => Some(if *b { b"1".to_vec() } else { b"0".to_vec() }),
            other => Some(other.to_string().into_bytes()),
        }
    };
    let value = |name: &str| match object.get(name)? {
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(scalar)
                .collect::<Vec<_>>()
                .join(&b'|'),
        ),
        v => scalar(v),
    };
    let values = columns.iter().map(|c| value(c.name)).collect();
    let carried = carry.iter().map(|k| value(k)).collect();
    (values, carried, None)
}

#[cfg(test)]
mod split_commas_tests {
    #[test]
    fn split_commas_finds_every_comma() {
        let mut ranges = Vec::new();
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for len in 0..200 {
            let raw: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    // Commas, bytes differing from a comma in one bit, high bytes.
                    [b',', b'-', b'l', 0xac, b'a', 0x2c ^ 0x80, 0xe4, b'1'][(x % 8) as usize]
                })
                .collect();
            super::split_commas(&raw, &mut ranges);
            let fields: Vec<&[u8]> = ranges.iter().map(|&(a, b)| &raw[a..b]).collect();
            let expected: Vec<&[u8]> = raw.split(|&b| b == b',').collect();
            assert_eq!(fields, expected, "{raw:?}");
        }
    }
}

#[cfg(test)]
mod fields_text_tests {
    use super::{Fields, split_block, split_block_text};

    /// A record's line, whether it came as [`Fields::Text`], and its fields as text.
    type TextRecord = (u64, bool, Vec<Result<String, ()>>);

    /// Every record of `bytes` as `split_block_text` reads it.
    fn texts(bytes: &[u8]) -> Vec<TextRecord> {
        let mut out = Vec::new();
        split_block_text(bytes, 2, |line, f| {
            let all = (0..f.len())
                .map(|i| f.text(i).unwrap().map(str::to_owned).map_err(|_| ()))
                .collect();
            out.push((line, matches!(f, Fields::Text(..)), all));
        });
        out
    }

    #[test]
    fn a_valid_block_is_read_as_text_without_field_checks() {
        let got = texts("甲,b\r\n\nc,乙丙\n".as_bytes());
        let s = |v: &str| Ok(v.to_owned());
        assert_eq!(
            got,
            [
                (2, true, vec![s("甲"), s("b")]),
                (4, true, vec![s("c"), s("乙丙")]),
            ]
        );
    }

    #[test]
    fn split_block_leaves_the_check_to_each_field() {
        let mut got = Vec::new();
        split_block("甲,\n".as_bytes(), 2, |_, f| {
            got.push((
                matches!(f, Fields::Plain(..)),
                f.text(0).unwrap().unwrap().to_owned(),
            ))
        });
        assert_eq!(got, [(true, "甲".to_owned())]);
    }

    #[test]
    fn an_invalid_byte_fails_only_its_own_field() {
        // The block is not valid UTF-8: every field is checked on its own.
        let got = texts(b"a,\xff\xfe\nb,\xe4\xb8\xad\n");
        assert_eq!(
            got,
            [
                (2, false, vec![Ok("a".to_owned()), Err(())]),
                (3, false, vec![Ok("b".to_owned()), Ok("中".to_owned())]),
            ]
        );
    }
}

#[cfg(test)]
mod out_tests {
    use super::{Out, push_decimal};

    #[test]
    fn fields_written_in_place_are_quoted_when_they_must_be() {
        let mut out = Out::with_capacity(64);
        out.write_field("a");
        out.write_field_with(|b| {
            b.extend_from_slice(b"line ");
            push_decimal(b, 1_234_567);
        });
        out.write_field_with(|b| b.extend_from_slice(b"x, \"y\""));
        out.write_field_with(|_| {});
        out.end_record();
        out.write_field_with(|b| push_decimal(b, 0));
        out.end_record();
        assert_eq!(out.into_inner(), b"a,line 1234567,\"x, \"\"y\"\"\",\n0\n");
        let mut raw = Out::raw();
        raw.write_field_with(|b| push_decimal(b, u64::MAX));
        raw.write_field_with(|b| b.extend_from_slice(b"p,q"));
        let fields: Vec<&[u8]> = raw.raw_fields().collect();
        assert_eq!(fields, [&b"18446744073709551615"[..], b"p,q"]);
    }
}
