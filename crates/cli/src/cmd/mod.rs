//! One module per command, plus what they share: opening files, thread pools,
//! progress and the one-line summary.

pub mod calibrate;
pub mod demo;
pub mod dip;
pub mod drg;
pub mod explain;
pub mod gen_cases;
pub mod group;
pub mod pay_io;
pub mod price;
pub mod report;
pub mod scheme;
pub mod settle;

use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use drgdip_grouper::{Grouper, Scheme};
use drgdip_io::{Format, Job, Options};
use indicatif::{ProgressBar, ProgressStyle};

/// Loads a scheme: a compiled file (`drgdip scheme compile`) or a scheme folder.
pub fn load_grouper(path: &Path) -> Result<Grouper> {
    if path.is_dir() {
        let scheme = Scheme::from_dir(path)
            .with_context(|| format!("reading the scheme folder {}", path.display()))?;
        Grouper::compile(&scheme)
            .with_context(|| format!("compiling the scheme {}", path.display()))
    } else {
        Grouper::load(path)
            .with_context(|| format!("loading the compiled scheme {}", path.display()))
    }
}

/// Opens an input file, `-` meaning stdin.
pub fn open_input(path: &str) -> Result<(Box<dyn Read + Send>, Option<u64>)> {
    if path == "-" {
        Ok((Box::new(io::stdin()), None))
    } else {
        let f = File::open(path).with_context(|| format!("opening the input {path}"))?;
        let len = f.metadata().ok().map(|m| m.len());
        Ok((Box::new(f), len))
    }
}

/// Creates an output file, `-` meaning stdout.
pub fn open_output(path: &str) -> Result<Box<dyn Write + Send>> {
    if path == "-" {
        Ok(Box::new(io::stdout()))
    } else {
        let f = File::create(path).with_context(|| format!("creating the output {path}"))?;
        Ok(Box::new(f))
    }
}

/// A rayon pool with `threads` threads (0 = all cores).
pub fn pool(threads: usize) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .context("starting the thread pool")
}

/// A byte-based progress bar on stderr, only when stderr is a terminal.
pub fn progress(total: Option<u64>) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    match total {
        Some(len) => ProgressBar::new(len).with_style(
            ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg} ({eta})")
                .expect("valid template"),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {bytes} {msg}").expect("valid template"),
        ),
    }
}

/// Prints `label: N cases: a x, b y, …; elapsed, cases/s` on stderr.
pub fn summary_line(label: &str, rows: u64, parts: &[(&str, u64)], started: Instant) {
    let secs = started.elapsed().as_secs_f64();
    let rate = if secs > 0.0 { rows as f64 / secs } else { 0.0 };
    let parts: Vec<String> = parts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    eprintln!(
        "{label}: {rows} cases: {}; {secs:.2} s, {rate:.0} cases/s",
        parts.join(", ")
    );
}

/// The files and settings of a streaming job, as given on the command line.
pub struct JobFiles<'a> {
    /// Input path (`-` = stdin).
    pub input: &'a str,
    /// Output path (`-` = stdout).
    pub output: &'a str,
    /// Worker threads (0 = all cores).
    pub threads: usize,
    /// `--format`, if given.
    pub format: Option<&'a str>,
    /// `--carry`.
    pub carry: bool,
}

/// Parses `--format` or guesses it from the path.
pub fn format_of(format: Option<&str>, input: &str) -> Format {
    match format {
        Some("jsonl") => Format::JsonLines,
        Some(_) => Format::Csv,
        None => Format::from_path(input),
    }
}

/// Runs a job over files with a progress bar and the one-line summary. The outcome is
/// `RowsRejected` when the job's last category (its `invalid`) counted any row.
pub fn run_job<J: Job>(
    label: &str,
    job: &J,
    files: JobFiles<'_>,
    started: Instant,
) -> Result<crate::Outcome> {
    let (input, len) = open_input(files.input)?;
    let output = open_output(files.output)?;
    let pool = pool(files.threads)?;
    let options = Options {
        format: format_of(files.format, files.input),
        carry: files.carry,
        batch_blocks: 4 * pool.current_num_threads().max(2),
        ..Options::default()
    };
    let bar = progress(len);
    let summary = pool.install(|| {
        drgdip_io::run(job, input, output, &options, &|bytes, _| {
            bar.set_position(bytes)
        })
    })?;
    bar.finish_and_clear();
    let parts: Vec<(&str, u64)> = job
        .categories()
        .iter()
        .copied()
        .zip(summary.counts.iter().copied())
        .collect();
    summary_line(label, summary.rows, &parts, started);
    Ok(if summary.counts.last().copied().unwrap_or(0) > 0 {
        crate::Outcome::RowsRejected
    } else {
        crate::Outcome::Clean
    })
}
