//! Batch jobs: a case file (CSV in any encoding the CLI reads, or `.xlsx`) in, the
//! grouped or priced file out, run by the same pipeline as `drgdip group` /
//! `drgdip dip group` / `drgdip price`, with progress readable while it runs.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use drgdip_io::mapping::ColumnMap;
use drgdip_io::{DipGroupJob, Format, GroupJob, Job, Options};
use drgdip_pipeline::{PriceConfig, SpillTo};
use serde::Serialize;

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

/// A job's result.
pub struct Finished {
    /// The result as CSV.
    pub csv: axum::body::Bytes,
    /// The result as a workbook, when asked for.
    pub xlsx: Option<axum::body::Bytes>,
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

/// One batch job.
pub struct BatchJob {
    /// Its id.
    pub id: u64,
    /// What it does.
    pub spec: BatchSpec,
    /// Input bytes.
    pub bytes_total: u64,
    /// Input bytes read so far.
    pub bytes_read: AtomicU64,
    /// Rows done so far (in the current stage).
    pub rows_done: AtomicU64,
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
    /// Its phase.
    pub state: Phase,
    /// Input bytes read so far.
    pub bytes_read: u64,
    /// Input bytes.
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
            state: phase,
            bytes_read: self.bytes_read.load(Ordering::Relaxed),
            bytes_total: self.bytes_total,
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
}

impl Finished {
    /// Cases per group (DRG code or DIP type; priced files: `group`), most first, ties
    /// by code; at most `n`. Rows without a group are not counted.
    fn top_groups(&self, method: Method, n: usize) -> Vec<(String, u64)> {
        let mut cached = match self.groups.lock() {
            Ok(g) => g,
            Err(_) => return Vec::new(),
        };
        if cached.is_none() {
            let mut rdr = csv::Reader::from_reader(&self.csv[..]);
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
            let mut counts: BTreeMap<String, u64> = BTreeMap::new();
            if let Some(col) = column {
                let mut rec = csv::ByteRecord::new();
                while rdr.read_byte_record(&mut rec).unwrap_or(false) {
                    let g = rec.get(col).unwrap_or_default();
                    if g.is_empty() || g == b"0000" {
                        continue;
                    }
                    *counts
                        .entry(String::from_utf8_lossy(g).into_owned())
                        .or_default() += 1;
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
    /// Registers a new job; keeps at most `keep` finished jobs (the oldest go).
    pub fn create(&self, spec: BatchSpec, bytes_total: u64, keep: usize) -> Arc<BatchJob> {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let job = Arc::new(BatchJob {
            id,
            spec,
            bytes_total,
            bytes_read: AtomicU64::new(0),
            rows_done: AtomicU64::new(0),
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
}

/// A file name in the temporary folder, unique to this process and call.
fn temp_path(ext: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    std::env::temp_dir().join(format!(
        "drgdip-serve-{}-{}.{ext}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Removes a temporary file when dropped.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Is this body a workbook (a zip file)?
pub fn is_xlsx(body: &[u8]) -> bool {
    body.starts_with(b"PK\x03\x04")
}

/// Data rows of a CSV body, at most: its line ends (a quoted line break counts too).
pub fn max_rows(body: &[u8]) -> u64 {
    let lines = memchr::memchr_iter(b'\n', body).count() as u64;
    let unterminated = u64::from(!body.is_empty() && !body.ends_with(b"\n"));
    (lines + unterminated).saturating_sub(1)
}

/// Runs a job to its end (on a blocking thread); the outcome is in the job.
pub fn run(loaded: &Loaded, job: &BatchJob, body: &[u8]) -> crate::metrics::Counted {
    job.set(Phase::Running, None);
    match execute(loaded, job, body) {
        Ok((finished, counted)) => {
            if let Ok(mut f) = job.finished.lock() {
                *f = Some(Arc::new(finished));
            }
            job.set(Phase::Done, None);
            counted
        }
        Err(e) => {
            job.set(Phase::Failed, Some(e));
            crate::metrics::Counted::default()
        }
    }
}

fn execute(
    loaded: &Loaded,
    job: &BatchJob,
    body: &[u8],
) -> Result<(Finished, crate::metrics::Counted), String> {
    let spec = &job.spec;
    // The input as UTF-8 CSV.
    let sheet_csv;
    let input: Box<dyn std::io::Read + Send + '_> = if is_xlsx(body) {
        if spec.encoding.is_some() {
            return Err("`encoding` applies to text files; the body is a workbook".into());
        }
        let tmp = TempFile(temp_path("xlsx"));
        std::fs::write(&tmp.0, body).map_err(|e| format!("storing the workbook: {e}"))?;
        let (csv, _) =
            drgdip_io::excel::read_sheet(&tmp.0, spec.sheet.as_deref()).map_err(|e| {
                e.to_string()
                    .replace(&tmp.0.display().to_string(), "the upload")
            })?;
        sheet_csv = csv;
        if max_rows(&sheet_csv) > spec.max_rows {
            return Err(format!(
                "the workbook has more than {} rows (the server's batch limit)",
                spec.max_rows
            ));
        }
        Box::new(Cursor::new(&sheet_csv[..]))
    } else {
        if spec.sheet.is_some() {
            return Err("`sheet` applies to .xlsx inputs; the body is not a workbook".into());
        }
        Box::new(
            drgdip_io::decode::decode(Cursor::new(body), spec.encoding)
                .map_err(|e| format!("reading the input: {e}"))?,
        )
    };
    let options = Options {
        format: Format::Csv,
        carry: spec.output == Output::Priced,
        batch_blocks: 4 * rayon_threads(),
        columns: spec.columns.clone(),
        ..Options::default()
    };
    let tick = |bytes: u64, rows: u64| {
        job.bytes_read.store(bytes, Ordering::Relaxed);
        job.rows_done.store(rows, Ordering::Relaxed);
    };
    let mut grouped = Vec::with_capacity(body.len());
    let (summary, categories): (drgdip_io::Summary, Vec<&'static str>) = match spec.method {
        Method::Drg => {
            let entry = loaded.scheme(spec.scheme.as_deref()).map_err(|e| e.error)?;
            let g = GroupJob::with_principals(&entry.grouper, false, entry.principals.clone());
            let s = drgdip_io::run(&g, input, &mut grouped, &options, &tick)
                .map_err(|e| e.to_string())?;
            (s, g.categories().to_vec())
        }
        Method::Dip => {
            let entry = loaded.catalog().map_err(|e| e.error)?;
            let g = DipGroupJob::new(&entry.catalog);
            let s = drgdip_io::run(&g, input, &mut grouped, &options, &tick)
                .map_err(|e| e.to_string())?;
            (s, g.categories().to_vec())
        }
    };
    let mut counts: BTreeMap<String, u64> = categories
        .iter()
        .zip(&summary.counts)
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    let grouped_rows =
        counts.get("grouped").copied().unwrap_or(0) + counts.get("composite").copied().unwrap_or(0);
    let mut warnings = Vec::new();
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
    let csv = match spec.output {
        Output::Grouped => grouped,
        Output::Priced => {
            let policy = loaded.policy().map_err(|e| e.error)?;
            let mut priced = Vec::with_capacity(grouped.len() * 2);
            let progress = |p: drgdip_pipeline::Progress| {
                job.rows_done.store(p.rows, Ordering::Relaxed);
            };
            let config = PriceConfig {
                threads: None,
                spill: SpillTo::Memory,
            };
            let s = drgdip_pipeline::price(
                &policy.policy,
                &grouped[..],
                &mut priced,
                &config,
                &progress,
            )
            .map_err(|e| e.to_string())?;
            counts.insert("priced".into(), s.priced());
            counts.insert("rejected".into(), s.rejected);
            warnings.extend(s.warnings());
            priced
        }
    };
    let rate = if summary.rows == 0 {
        0.0
    } else {
        grouped_rows as f64 / summary.rows as f64
    };
    let xlsx = if spec.xlsx {
        let tmp = TempFile(temp_path("xlsx"));
        let sheet = match spec.output {
            Output::Grouped => "grouped",
            Output::Priced => "priced",
        };
        drgdip_io::excel::write_csv_as_workbook(&csv[..], &tmp.0, sheet)
            .map_err(|e| e.to_string())?;
        Some(axum::body::Bytes::from(
            std::fs::read(&tmp.0).map_err(|e| format!("reading the workbook back: {e}"))?,
        ))
    } else {
        None
    };
    Ok((
        Finished {
            csv: axum::body::Bytes::from(csv),
            xlsx,
            counts,
            rows: summary.rows,
            grouping_rate: rate,
            warnings,
            groups: Mutex::new(None),
        },
        counted,
    ))
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .max(2)
}
