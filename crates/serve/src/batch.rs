//! Batch jobs: a case file (CSV in any encoding the CLI reads, or `.xlsx`) in, the
//! grouped or priced file out, run by the same pipeline as `drgdip group` /
//! `drgdip dip group` / `drgdip price`, with progress readable while it runs.
//!
//! Nothing is held whole in memory. The upload reaches the job as it arrives: the
//! request body is pumped ([`pump`]) into a bounded channel that the job reads as a
//! [`std::io::Read`] ([`Upload`]), so grouping starts with the first block and the
//! limits (bytes, rows) stop the job as soon as they are passed. The result goes to a
//! spool file in the spool folder (removed with the job), or, for a streamed batch,
//! straight into the response ([`ChannelWriter`] → [`ChannelBody`]). An `.xlsx` upload
//! is the exception on the way in: a workbook cannot be read before its end (the zip
//! directory is at the end), so it is spooled to a file first, then read.

use std::collections::BTreeMap;
use std::io::{self, BufWriter, Read, Write};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes, HttpBody};
use drgdip_io::mapping::ColumnMap;
use drgdip_io::{Cancel, DipGroupJob, Format, GroupJob, Job, Options};
use drgdip_pipeline::{PriceConfig, SpillTo};
use serde::Serialize;
use tempfile::NamedTempFile;

use crate::state::Loaded;

/// What a batch does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// DRG grouping with a scheme.
    Drg,
    /// DIP grouping with the catalogue.
    Dip,
}

/// What a batch writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Output {
    /// The grouping output (`drgdip group`).
    Grouped,
    /// Grouped with the case columns carried, then priced (`drgdip price`).
    Priced,
}

/// A batch request.
#[derive(Debug, Clone)]
pub struct BatchSpec {
    /// DRG or DIP.
    pub method: Method,
    /// Grouped or priced.
    pub output: Output,
    /// The scheme (DRG), `None` = the default.
    pub scheme: Option<String>,
    /// A built-in column mapping (`homepage`, `settlement-list`).
    pub columns: Option<ColumnMap>,
    /// A text encoding label, else detected.
    pub encoding: Option<&'static encoding_rs::Encoding>,
    /// The sheet of an `.xlsx` input.
    pub sheet: Option<String>,
    /// Write the result as `.xlsx`.
    pub xlsx: bool,
    /// Most data rows accepted.
    pub max_rows: u64,
    /// The result goes into the response as it is produced (nothing is kept).
    pub stream: bool,
    /// Where spool files (results, a workbook upload, the price spill) are written.
    pub spool: PathBuf,
}

/// The state of a job.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Waiting to start.
    Queued,
    /// Reading and grouping.
    Running,
    /// Finished: the result can be downloaded.
    Done,
    /// Failed: `error` says why.
    Failed,
}

/// A job's result: counts, and the spool files it left (none for a streamed batch).
pub struct Finished {
    /// The result as CSV.
    csv: Option<NamedTempFile>,
    /// The result as a workbook, when asked for.
    xlsx: Option<NamedTempFile>,
    /// Rows per outcome category.
    pub counts: BTreeMap<String, u64>,
    /// Data rows.
    pub rows: u64,
    /// Share of rows grouped (DRG `grouped`; DIP `grouped` + `composite`).
    pub grouping_rate: f64,
    /// Warnings of the run (a low grouping rate).
    pub warnings: Vec<String>,
    /// Cases per group, computed on first request.
    pub groups: Mutex<Option<Vec<(String, u64)>>>,
}

/// Why a job stopped at a limit of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// The upload passed the largest body.
    Bytes,
    /// The file passed the most rows.
    Rows,
}

/// One batch job.
pub struct BatchJob {
    /// Its id.
    pub id: u64,
    /// What it does.
    pub spec: BatchSpec,
    /// Input bytes (the upload's `Content-Length`, else known at its end; 0 = unknown).
    pub bytes_total: AtomicU64,
    /// Input bytes received so far.
    pub bytes_read: AtomicU64,
    /// Rows done so far (in the current stage).
    pub rows_done: AtomicU64,
    /// Stops the job's pipeline at its next block.
    pub cancel: Cancel,
    limit: Mutex<Option<Limit>>,
    started: Instant,
    phase: Mutex<(Phase, Option<String>, Option<Duration>)>,
    /// The result, once done.
    pub finished: Mutex<Option<Arc<Finished>>>,
}

/// `GET /v1/batch/{id}`.
#[derive(Debug, Serialize)]
pub struct Status {
    /// Job id.
    pub id: u64,
    /// `drg` or `dip`.
    pub method: Method,
    /// `grouped` or `priced`.
    pub output: Output,
    /// The result was streamed in the response of the upload (none is kept).
    pub streamed: bool,
    /// Its phase.
    pub state: Phase,
    /// Input bytes received so far.
    pub bytes_read: u64,
    /// Input bytes (0 while unknown: a chunked upload not finished).
    pub bytes_total: u64,
    /// Rows done so far.
    pub rows_done: u64,
    /// Seconds since it started (or that it took).
    pub seconds: f64,
    /// Why it failed.
    pub error: Option<String>,
    /// Data rows (when done).
    pub rows: Option<u64>,
    /// Rows per outcome (when done).
    pub counts: Option<BTreeMap<String, u64>>,
    /// Share of rows grouped (when done).
    pub grouping_rate: Option<f64>,
    /// Warnings of the run.
    pub warnings: Vec<String>,
    /// Cases per group, most first (when done and asked for with `?groups=N`).
    pub groups: Option<Vec<(String, u64)>>,
    /// Where to download the result.
    pub result: String,
}

impl BatchJob {
    /// The job's status; `groups` asks for the top groups.
    pub fn status(&self, groups: Option<usize>) -> Status {
        let (phase, error, took) = self.phase.lock().map(|p| p.clone()).unwrap_or((
            Phase::Failed,
            Some("poisoned".into()),
            None,
        ));
        let finished = self.finished.lock().ok().and_then(|f| f.clone());
        let top = match (&finished, groups) {
            (Some(f), Some(n)) => Some(f.top_groups(self.spec.method, n)),
            _ => None,
        };
        Status {
            id: self.id,
            method: self.spec.method,
            output: self.spec.output,
            streamed: self.spec.stream,
            state: phase,
            bytes_read: self.bytes_read.load(Ordering::Relaxed),
            bytes_total: self.bytes_total.load(Ordering::Relaxed),
            rows_done: self.rows_done.load(Ordering::Relaxed),
            seconds: took.unwrap_or_else(|| self.started.elapsed()).as_secs_f64(),
            error,
            rows: finished.as_ref().map(|f| f.rows),
            counts: finished.as_ref().map(|f| f.counts.clone()),
            grouping_rate: finished.as_ref().map(|f| f.grouping_rate),
            warnings: finished
                .as_ref()
                .map(|f| f.warnings.clone())
                .unwrap_or_default(),
            groups: top,
            result: format!("/v1/batch/{}/result", self.id),
        }
    }

    fn set(&self, phase: Phase, error: Option<String>) {
        let took = matches!(phase, Phase::Done | Phase::Failed).then(|| self.started.elapsed());
        if let Ok(mut p) = self.phase.lock() {
            *p = (phase, error, took);
        }
    }

    /// Is it finished (done or failed)?
    pub fn is_over(&self) -> bool {
        self.phase
            .lock()
            .map(|p| matches!(p.0, Phase::Done | Phase::Failed))
            .unwrap_or(true)
    }

    /// The limit the job stopped at, if one.
    pub fn limit(&self) -> Option<Limit> {
        self.limit.lock().ok().and_then(|l| *l)
    }

    fn hit(&self, limit: Limit) {
        if let Ok(mut l) = self.limit.lock() {
            l.get_or_insert(limit);
        }
        self.cancel.cancel();
    }

    /// Why it failed, if it did.
    pub fn error(&self) -> Option<String> {
        self.phase.lock().ok().and_then(|p| p.1.clone())
    }
}

impl Finished {
    /// The result file to download: an open handle, its length and whether it is a
    /// workbook; `None` for a streamed batch.
    pub fn result_file(&self) -> io::Result<Option<(std::fs::File, u64, bool)>> {
        let (spool, xlsx) = match (&self.xlsx, &self.csv) {
            (Some(x), _) => (x, true),
            (None, Some(c)) => (c, false),
            (None, None) => return Ok(None),
        };
        let file = spool.reopen()?;
        let len = file.metadata()?.len();
        Ok(Some((file, len, xlsx)))
    }

    /// Cases per group (DRG code or DIP type; priced files: `group`), most first, ties
    /// by code; at most `n`. Rows without a group are not counted.
    fn top_groups(&self, method: Method, n: usize) -> Vec<(String, u64)> {
        let mut cached = match self.groups.lock() {
            Ok(g) => g,
            Err(_) => return Vec::new(),
        };
        if cached.is_none() {
            let mut counts: BTreeMap<String, u64> = BTreeMap::new();
            if let Some(file) = self.csv.as_ref().and_then(|c| c.reopen().ok()) {
                let mut rdr = csv::Reader::from_reader(io::BufReader::with_capacity(1 << 20, file));
                let header = rdr.headers().cloned().unwrap_or_default();
                let column = [
                    "group",
                    if method == Method::Drg {
                        "drg"
                    } else {
                        "dip_code"
                    },
                ]
                .iter()
                .find_map(|c| header.iter().position(|h| h == *c));
                if let Some(col) = column {
                    let mut rec = csv::ByteRecord::new();
                    while rdr.read_byte_record(&mut rec).unwrap_or(false) {
                        let g = rec.get(col).unwrap_or_default();
                        if g.is_empty() || g == b"0000" {
                            continue;
                        }
                        let key = String::from_utf8_lossy(g);
                        match counts.get_mut(key.as_ref()) {
                            Some(c) => *c += 1,
                            None => {
                                counts.insert(key.into_owned(), 1);
                            }
                        }
                    }
                }
            }
            let mut all: Vec<(String, u64)> = counts.into_iter().collect();
            all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            *cached = Some(all);
        }
        cached
            .as_ref()
            .map(|all| all.iter().take(n).cloned().collect())
            .unwrap_or_default()
    }
}

/// The jobs of a server.
#[derive(Default)]
pub struct Jobs {
    map: Mutex<BTreeMap<u64, Arc<BatchJob>>>,
    next: AtomicU64,
}

impl Jobs {
    /// Registers a new job; keeps at most `keep` finished jobs (the oldest go, and
    /// their spool files with them).
    pub fn create(&self, spec: BatchSpec, bytes_total: u64, keep: usize) -> Arc<BatchJob> {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let job = Arc::new(BatchJob {
            id,
            spec,
            bytes_total: AtomicU64::new(bytes_total),
            bytes_read: AtomicU64::new(0),
            rows_done: AtomicU64::new(0),
            cancel: Cancel::new(),
            limit: Mutex::new(None),
            started: Instant::now(),
            phase: Mutex::new((Phase::Queued, None, None)),
            finished: Mutex::new(None),
        });
        if let Ok(mut m) = self.map.lock() {
            let over: Vec<u64> = m
                .iter()
                .filter(|(_, j)| j.is_over())
                .map(|(id, _)| *id)
                .collect();
            let drop = over.len().saturating_sub(keep.saturating_sub(1));
            for id in over.into_iter().take(drop) {
                m.remove(&id);
            }
            m.insert(id, job.clone());
        }
        job
    }

    /// A job by id.
    pub fn get(&self, id: u64) -> Option<Arc<BatchJob>> {
        self.map.lock().ok().and_then(|m| m.get(&id).cloned())
    }

    /// Forgets a job (its spool files go when the last handle on it does).
    pub fn remove(&self, id: u64) {
        if let Ok(mut m) = self.map.lock() {
            m.remove(&id);
        }
    }

    /// Jobs known (running or kept).
    pub fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// No job is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Is this body a workbook (a zip file)?
pub fn is_xlsx(body: &[u8]) -> bool {
    body.starts_with(b"PK\x03\x04")
}

/// A piece of an upload on its way from the request to the job.
pub enum Chunk {
    /// Bytes of the body.
    Data(Bytes),
    /// The body is complete.
    End,
    /// The body could not be read to its end (why).
    Failed(String),
}

/// The upload as the job reads it: chunks from a bounded channel fed by [`pump`]. A
/// channel closed without [`Chunk::End`] (the request went away) is an error, never a
/// short file.
pub struct Upload {
    rx: tokio::sync::mpsc::Receiver<Chunk>,
    current: Bytes,
    ended: bool,
}

impl Upload {
    /// A reader over the receiving end of the upload's channel.
    pub fn new(rx: tokio::sync::mpsc::Receiver<Chunk>) -> Upload {
        Upload {
            rx,
            current: Bytes::new(),
            ended: false,
        }
    }
}

impl Read for Upload {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if !self.current.is_empty() {
                let n = buf.len().min(self.current.len());
                buf[..n].copy_from_slice(&self.current.split_to(n));
                return Ok(n);
            }
            if self.ended || buf.is_empty() {
                return Ok(0);
            }
            match self.rx.blocking_recv() {
                Some(Chunk::Data(b)) => self.current = b,
                Some(Chunk::End) => self.ended = true,
                Some(Chunk::Failed(why)) => return Err(io::Error::other(why)),
                None => {
                    return Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "the upload was interrupted",
                    ));
                }
            }
        }
    }
}

/// How pumping an upload ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pumped {
    /// The whole body went to the job (`bytes` of it).
    Complete(u64),
    /// The body passed the server's limit; the job was told.
    TooLarge,
    /// The body could not be read (the client went away).
    Interrupted(String),
    /// The job stopped reading (it failed, or hit the row limit).
    Stopped,
}

/// Feeds a request body into the job's channel as it arrives, counting bytes into
/// the job's progress; at most `limit` bytes are passed on. When the job stops
/// reading early (a limit, a failure), the rest of the body is handed back to be
/// drained ([`drain`]).
pub async fn pump(
    mut body: Body,
    tx: tokio::sync::mpsc::Sender<Chunk>,
    job: &BatchJob,
    limit: u64,
) -> (Pumped, Option<Body>) {
    let mut total = 0u64;
    loop {
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        let data = match frame {
            None => break,
            Some(Err(e)) => {
                let why = format!("the upload was interrupted: {e}");
                let _ = tx.send(Chunk::Failed(why.clone())).await;
                job.cancel.cancel();
                return (Pumped::Interrupted(why), None);
            }
            Some(Ok(frame)) => match frame.into_data() {
                Ok(d) => d,
                Err(_) => continue, // trailers
            },
        };
        total += data.len() as u64;
        job.bytes_read.store(total, Ordering::Relaxed);
        if total > limit {
            job.hit(Limit::Bytes);
            let _ = tx
                .send(Chunk::Failed(too_large_message(limit as usize)))
                .await;
            return (Pumped::TooLarge, Some(body));
        }
        if tx.send(Chunk::Data(data)).await.is_err() {
            return (Pumped::Stopped, Some(body));
        }
    }
    job.bytes_total.store(total, Ordering::Relaxed);
    match tx.send(Chunk::End).await {
        Ok(()) => (Pumped::Complete(total), None),
        Err(_) => (Pumped::Stopped, None),
    }
}

/// Reads and discards the rest of a body the job no longer reads, for at most `within`
/// (a lingering close): the answer sent meanwhile (a 413) reaches a client that is
/// still sending, where closing a connection with unread data would reset it first.
pub async fn drain(mut body: Body, within: Duration) {
    let _ = tokio::time::timeout(within, async move {
        while let Some(Ok(_)) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
        }
    })
    .await;
}

/// The message of an upload over the body limit.
pub fn too_large_message(limit: usize) -> String {
    format!("the body is larger than the server's limit ({limit} bytes)")
}

/// The message of a file over the row limit.
pub fn too_many_rows_message(max_rows: u64) -> String {
    format!("the file has more than {max_rows} rows (the server's batch limit)")
}

/// Fires once the job has consumed its input (to its end, or stopped reading it):
/// dropping the sender wakes the receiver.
pub struct Consumed(Option<tokio::sync::oneshot::Sender<()>>);

impl Consumed {
    /// A signal and its receiver.
    pub fn new() -> (Consumed, tokio::sync::oneshot::Receiver<()>) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        (Consumed(Some(tx)), rx)
    }

    fn fire(&mut self) {
        self.0 = None;
    }
}

/// Counts the line ends of the (decoded) input as it passes and fails the read once
/// there are more data rows than allowed (a quoted line break counts as a row too, so
/// the count is an upper bound); fires [`Consumed`] at the end of the input.
struct RowCap<'j, R> {
    inner: R,
    job: &'j BatchJob,
    lines: u64,
    last: Option<u8>,
    consumed: Consumed,
}

impl<R: Read> Read for RowCap<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let max = self.job.spec.max_rows;
        let n = match self.inner.read(buf) {
            Ok(n) => n,
            Err(e) => {
                self.consumed.fire();
                return Err(e);
            }
        };
        if n == 0 {
            // An unterminated last line is a row too.
            let rows =
                (self.lines + u64::from(self.last.is_some_and(|b| b != b'\n'))).saturating_sub(1);
            // The limit is recorded before the signal: whoever wakes on it sees it.
            if rows > max {
                self.job.hit(Limit::Rows);
                self.consumed.fire();
                return Err(io::Error::other(too_many_rows_message(max)));
            }
            self.consumed.fire();
            return Ok(0);
        }
        self.lines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
        self.last = Some(buf[n - 1]);
        if self.lines.saturating_sub(1) > max {
            self.job.hit(Limit::Rows);
            self.consumed.fire();
            return Err(io::Error::other(too_many_rows_message(max)));
        }
        Ok(n)
    }
}

/// The response body of a streamed result or a download: chunks from a bounded
/// channel; an error chunk aborts the response (a chunked body then ends without
/// its last chunk, so the client sees it incomplete).
pub struct ChannelBody {
    first: Option<Bytes>,
    rx: tokio::sync::mpsc::Receiver<io::Result<Bytes>>,
    len: Option<u64>,
}

impl ChannelBody {
    /// A body over `rx`, starting with `first`; `len` when the length is known.
    pub fn new(
        first: Option<Bytes>,
        rx: tokio::sync::mpsc::Receiver<io::Result<Bytes>>,
        len: Option<u64>,
    ) -> ChannelBody {
        ChannelBody { first, rx, len }
    }
}

impl HttpBody for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        if let Some(b) = this.first.take() {
            return Poll::Ready(Some(Ok(http_body::Frame::data(b))));
        }
        this.rx
            .poll_recv(cx)
            .map(|next| next.map(|r| r.map(http_body::Frame::data)))
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match self.len {
            Some(n) => http_body::SizeHint::with_exact(n),
            None => http_body::SizeHint::default(),
        }
    }
}

/// The writing end of a [`ChannelBody`] (on a blocking thread): every write becomes a
/// chunk, sent once the next write comes or the run [`finish`](Self::finish)es, so
/// the last piece of a failed run (the pipeline's buffer flushed as it unwinds) never
/// goes out: a run that fails before its second chunk is answered with an error
/// status instead. Sending waits while the client is slower than the job; a client
/// gone makes the write fail and cancels the job.
pub struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<io::Result<Bytes>>,
    cancel: Cancel,
    pending: Option<Bytes>,
}

impl ChannelWriter {
    /// A writer into `tx`; `cancel` is set when the reading end is gone.
    pub fn new(tx: tokio::sync::mpsc::Sender<io::Result<Bytes>>, cancel: Cancel) -> ChannelWriter {
        ChannelWriter {
            tx,
            cancel,
            pending: None,
        }
    }

    fn send(&self, chunk: Bytes) -> io::Result<()> {
        self.tx.blocking_send(Ok(chunk)).map_err(|_| {
            self.cancel.cancel();
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the client stopped reading the result",
            )
        })
    }

    /// Sends the last chunk: the result is complete.
    pub fn finish(&mut self) -> io::Result<()> {
        match self.pending.take() {
            Some(last) => self.send(last),
            None => Ok(()),
        }
    }

    /// Drops the unsent chunk and aborts the response with `why`.
    pub fn fail(&mut self, why: String) {
        self.pending = None;
        let _ = self.tx.blocking_send(Err(io::Error::other(why)));
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if let Some(before) = self.pending.replace(Bytes::copy_from_slice(buf)) {
            self.send(before)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Streams a file into a body channel in chunks (on a blocking thread).
pub fn send_file(mut file: std::fs::File, tx: tokio::sync::mpsc::Sender<io::Result<Bytes>>) {
    let mut buf = vec![0u8; 256 << 10];
    loop {
        match file.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if tx
                    .blocking_send(Ok(Bytes::copy_from_slice(&buf[..n])))
                    .is_err()
                {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        }
    }
}

/// A pipe between two threads of one job (grouping → pricing): bounded, and a writer
/// dropped before [`PipeWriter::finish`] is an error at the reader, never a short file.
fn pipe() -> (PipeWriter, PipeReader) {
    let (tx, rx) = std::sync::mpsc::sync_channel(4);
    (
        PipeWriter(tx),
        PipeReader {
            rx,
            current: Vec::new(),
            at: 0,
            ended: false,
        },
    )
}

struct PipeWriter(std::sync::mpsc::SyncSender<Option<Vec<u8>>>);

impl PipeWriter {
    fn finish(self) {
        let _ = self.0.send(None);
    }
}

impl Write for PipeWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .send(Some(buf.to_vec()))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "pricing stopped"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct PipeReader {
    rx: std::sync::mpsc::Receiver<Option<Vec<u8>>>,
    current: Vec<u8>,
    at: usize,
    ended: bool,
}

impl Read for PipeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.at < self.current.len() {
                let n = buf.len().min(self.current.len() - self.at);
                buf[..n].copy_from_slice(&self.current[self.at..self.at + n]);
                self.at += n;
                return Ok(n);
            }
            if self.ended || buf.is_empty() {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Some(v)) => {
                    self.current = v;
                    self.at = 0;
                }
                Ok(None) => self.ended = true,
                Err(_) => return Err(io::Error::other("grouping stopped")),
            }
        }
    }
}

/// Where a job's CSV output goes.
enum Sink<'a> {
    Spool(BufWriter<std::fs::File>),
    Stream(&'a mut ChannelWriter),
}

impl Write for Sink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Spool(w) => w.write(buf),
            Sink::Stream(w) => w.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Sink::Spool(w) => w.write_all(buf),
            Sink::Stream(w) => w.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Spool(w) => w.flush(),
            Sink::Stream(w) => w.flush(),
        }
    }
}

fn spool_file(spec: &BatchSpec, what: &str) -> Result<NamedTempFile, String> {
    tempfile::Builder::new()
        .prefix("drgdip-serve-")
        .suffix(what)
        .tempfile_in(&spec.spool)
        .map_err(|e| format!("creating a spool file in {}: {e}", spec.spool.display()))
}

/// Runs a job to its end (on a blocking thread) over its upload; the outcome is in
/// the job. `stream` is the response of a streamed batch; `consumed` fires when the
/// input has been read to its end or no more will be read.
pub fn run(
    loaded: &Loaded,
    job: &BatchJob,
    upload: Upload,
    consumed: Consumed,
    mut stream: Option<ChannelWriter>,
) -> crate::metrics::Counted {
    job.set(Phase::Running, None);
    let outcome = execute(loaded, job, upload, consumed, stream.as_mut()).and_then(|done| {
        match stream.as_mut() {
            Some(w) => w
                .finish()
                .map(|()| done)
                .map_err(|e| format!("writing the result: {e}")),
            None => Ok(done),
        }
    });
    match outcome {
        Ok((finished, counted)) => {
            if let Ok(mut f) = job.finished.lock() {
                *f = Some(Arc::new(finished));
            }
            job.set(Phase::Done, None);
            counted
        }
        Err(e) => {
            let e = match job.limit() {
                Some(Limit::Rows) => too_many_rows_message(job.spec.max_rows),
                Some(Limit::Bytes) => e,
                None if job.cancel.is_cancelled() => {
                    "the batch was cancelled (its client went away)".into()
                }
                None => e,
            };
            if let Some(w) = stream.as_mut() {
                w.fail(e.clone());
            }
            job.set(Phase::Failed, Some(e));
            crate::metrics::Counted::default()
        }
    }
}

fn execute(
    loaded: &Loaded,
    job: &BatchJob,
    mut upload: Upload,
    mut consumed: Consumed,
    mut stream: Option<&mut ChannelWriter>,
) -> Result<(Finished, crate::metrics::Counted), String> {
    let spec = &job.spec;
    // The first bytes tell a workbook from a text file.
    let mut head = Vec::with_capacity(4);
    while head.len() < 4 {
        let mut b = [0u8; 4];
        let n = upload
            .read(&mut b[..4 - head.len()])
            .map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&b[..n]);
    }
    if head.is_empty() {
        consumed.fire();
        return Err("the body is empty: send the case file (CSV or .xlsx)".into());
    }
    let sheet_csv;
    let input: Box<dyn Read + Send + '_> = if is_xlsx(&head) {
        if spec.encoding.is_some() {
            consumed.fire();
            return Err("`encoding` applies to text files; the body is a workbook".into());
        }
        // A workbook is read from its end: spool the upload, then read it.
        let book = spool_file(spec, ".xlsx")?;
        {
            let mut w = BufWriter::with_capacity(1 << 20, book.as_file());
            w.write_all(&head)
                .and_then(|()| io::copy(&mut upload, &mut w).map(|_| ()))
                .and_then(|()| w.flush())
                .map_err(|e| format!("storing the workbook: {e}"))?;
        }
        consumed.fire();
        let (csv, _) =
            drgdip_io::excel::read_sheet(book.path(), spec.sheet.as_deref()).map_err(|e| {
                e.to_string()
                    .replace(&book.path().display().to_string(), "the upload")
            })?;
        drop(book);
        sheet_csv = csv;
        let lines = memchr::memchr_iter(b'\n', &sheet_csv).count() as u64;
        let unterminated = u64::from(!sheet_csv.is_empty() && !sheet_csv.ends_with(b"\n"));
        if (lines + unterminated).saturating_sub(1) > spec.max_rows {
            job.hit(Limit::Rows);
            return Err(too_many_rows_message(spec.max_rows));
        }
        Box::new(&sheet_csv[..])
    } else {
        if spec.sheet.is_some() {
            consumed.fire();
            return Err("`sheet` applies to .xlsx inputs; the body is not a workbook".into());
        }
        let decoded = drgdip_io::decode::decode(io::Cursor::new(head).chain(upload), spec.encoding)
            .map_err(|e| format!("reading the input: {e}"))?;
        Box::new(RowCap {
            inner: decoded,
            job,
            lines: 0,
            last: None,
            consumed,
        })
    };
    // The CSV result: into a spool file, or straight into the response (unless it is
    // to become a workbook first).
    let keep_csv = stream.is_none() || spec.xlsx;
    let csv_spool = if keep_csv {
        Some(spool_file(spec, ".csv")?)
    } else {
        None
    };
    let (summary, categories, price) = {
        let mut sink = match (&csv_spool, stream.as_deref_mut()) {
            (Some(f), _) => Sink::Spool(BufWriter::with_capacity(
                1 << 20,
                f.reopen()
                    .map_err(|e| format!("opening the spool file: {e}"))?,
            )),
            (None, Some(w)) => Sink::Stream(w),
            (None, None) => unreachable!("a stream or a spool"),
        };
        let r = group_and_price(loaded, job, input, &mut sink)?;
        sink.flush()
            .map_err(|e| format!("writing the result: {e}"))?;
        r
    };
    let mut counts: BTreeMap<String, u64> = categories
        .iter()
        .zip(&summary.counts)
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    let grouped_rows =
        counts.get("grouped").copied().unwrap_or(0) + counts.get("composite").copied().unwrap_or(0);
    let mut warnings = Vec::new();
    if let Some(s) = price {
        counts.insert("priced".into(), s.priced());
        counts.insert("rejected".into(), s.rejected);
        warnings.extend(s.warnings());
    }
    let counted = match spec.method {
        Method::Drg => crate::metrics::Counted {
            drg: summary.rows,
            dip: 0,
        },
        Method::Dip => crate::metrics::Counted {
            drg: 0,
            dip: summary.rows,
        },
    };
    let rate = if summary.rows == 0 {
        0.0
    } else {
        grouped_rows as f64 / summary.rows as f64
    };
    let mut xlsx = None;
    if spec.xlsx
        && let Some(csv) = &csv_spool
    {
        let book = spool_file(spec, ".xlsx")?;
        let sheet = match spec.output {
            Output::Grouped => "grouped",
            Output::Priced => "priced",
        };
        let text = csv
            .reopen()
            .map_err(|e| format!("opening the spool file: {e}"))?;
        drgdip_io::excel::write_csv_as_workbook(
            io::BufReader::with_capacity(1 << 20, text),
            book.path(),
            sheet,
        )
        .map_err(|e| e.to_string())?;
        xlsx = Some(book);
    }
    let streamed = stream.is_some();
    if let (Some(w), Some(book)) = (stream, &xlsx) {
        // A workbook is only complete at its end: it goes out once written.
        let mut f = book
            .reopen()
            .map_err(|e| format!("opening the workbook: {e}"))?;
        io::copy(&mut f, w).map_err(|e| e.to_string())?;
    }
    Ok((
        Finished {
            csv: if streamed { None } else { csv_spool },
            xlsx: if streamed { None } else { xlsx },
            counts,
            rows: summary.rows,
            grouping_rate: rate,
            warnings,
            groups: Mutex::new(None),
        },
        counted,
    ))
}

/// Groups the input (and prices it, for a priced batch) into `out`.
#[allow(clippy::type_complexity)]
fn group_and_price(
    loaded: &Loaded,
    job: &BatchJob,
    input: Box<dyn Read + Send + '_>,
    out: &mut (dyn Write + Send),
) -> Result<
    (
        drgdip_io::Summary,
        Vec<&'static str>,
        Option<drgdip_pipeline::PriceSummary>,
    ),
    String,
> {
    let spec = &job.spec;
    let options = Options {
        format: Format::Csv,
        carry: spec.output == Output::Priced,
        batch_blocks: 4 * rayon_threads(),
        columns: spec.columns.clone(),
        ..Options::default()
    };
    let priced = spec.output == Output::Priced;
    let tick = |_bytes: u64, rows: u64| {
        if !priced {
            job.rows_done.store(rows, Ordering::Relaxed);
        }
    };
    let group = |w: &mut dyn Write| -> Result<(drgdip_io::Summary, Vec<&'static str>), String> {
        let err = |e: drgdip_io::StreamError| e.to_string();
        match spec.method {
            Method::Drg => {
                let entry = loaded.scheme(spec.scheme.as_deref()).map_err(|e| e.error)?;
                let g = GroupJob::with_principals(&entry.grouper, false, entry.principals.clone());
                let s = drgdip_io::run_cancellable(&g, input, w, &options, &tick, &job.cancel)
                    .map_err(err)?;
                Ok((s, g.categories().to_vec()))
            }
            Method::Dip => {
                let entry = loaded.catalog().map_err(|e| e.error)?;
                let g = DipGroupJob::new(&entry.catalog);
                let s = drgdip_io::run_cancellable(&g, input, w, &options, &tick, &job.cancel)
                    .map_err(err)?;
                Ok((s, g.categories().to_vec()))
            }
        }
    };
    if !priced {
        let (s, c) = group(out)?;
        return Ok((s, c, None));
    }
    let policy = loaded.policy().map_err(|e| e.error)?;
    let (mut pw, pr) = pipe();
    let progress = |p: drgdip_pipeline::Progress| {
        job.rows_done.store(p.rows, Ordering::Relaxed);
    };
    let config = PriceConfig {
        threads: None,
        spill: SpillTo::TempFile(spec.spool.clone()),
    };
    std::thread::scope(|scope| {
        let grouping = scope.spawn(move || {
            let r = group(&mut pw);
            if r.is_ok() {
                pw.finish();
            }
            r
        });
        let priced = drgdip_pipeline::price_cancellable(
            &policy.policy,
            pr,
            out,
            &config,
            &progress,
            &job.cancel,
        );
        let grouped = grouping
            .join()
            .map_err(|_| "the grouping thread failed".to_string())?;
        // A grouping error is the cause of a pricing one ("grouping stopped").
        let (s, c) = grouped?;
        let p = priced.map_err(|e| e.to_string())?;
        Ok((s, c, Some(p)))
    })
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .max(2)
}
