//! One module per command, plus what they share: opening files, thread pools,
//! progress and the one-line summary.

pub mod calibrate;
pub mod demo;
pub mod dip;
pub mod drg;
pub mod explain;
pub mod gen_cases;
pub mod group;
pub mod outpatient;
pub mod pay_io;
pub mod price;
pub mod report;
pub mod scheme;
pub mod serve;
pub mod settle;

use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use drgdip_grouper::{Grouper, Scheme};
use drgdip_io::mapping::ColumnMap;
use drgdip_io::{Format, Job, Options};
use indicatif::{ProgressBar, ProgressStyle};

/// Loads a scheme: a compiled file (`drgdip scheme compile`), a scheme folder, or an
/// official workbook (`.xlsx`) with its optional errata file.
pub fn load_grouper(path: &Path, errata: Option<&Path>) -> Result<Grouper> {
    Ok(drgdip_grouper::open_scheme(path, errata)?)
}

/// Reads a scheme folder or workbook (`.xlsx`, with its optional errata file).
pub fn read_scheme(path: &Path, errata: Option<&Path>) -> Result<Scheme> {
    let what = if drgdip_grouper::workbook::is_workbook(path) {
        "workbook"
    } else {
        "folder"
    };
    Scheme::read(path, errata)
        .with_context(|| format!("reading the scheme {what} {}", path.display()))
}

/// Opens an input file, `-` meaning stdin.
pub fn open_input(path: &str) -> Result<(Box<dyn Read + Send>, Option<u64>)> {
    if path == "-" {
        Ok((Box::new(io::stdin()), None))
    } else {
        let f = File::open(path).with_context(|| format!("opening the input {path}"))?;
        let meta = f.metadata().ok();
        if meta.as_ref().is_some_and(|m| m.is_dir()) {
            anyhow::bail!("the input {path} is a folder, not a file");
        }
        let len = meta.map(|m| m.len());
        if len == Some(0) {
            anyhow::bail!("the input {path} is empty (no header, no rows)");
        }
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
#[allow(dead_code)] // kept for commands whose input has nothing to note
pub fn summary_line(label: &str, rows: u64, parts: &[(&str, u64)], started: Instant) {
    summary_line_with(label, rows, parts, started, &[]);
}

/// [`summary_line`] followed by notes on the input (`input GB18030 (detected…)`).
pub fn summary_line_with(
    label: &str,
    rows: u64,
    parts: &[(&str, u64)],
    started: Instant,
    notes: &[String],
) {
    let secs = started.elapsed().as_secs_f64();
    let rate = if secs > 0.0 { rows as f64 / secs } else { 0.0 };
    let parts: Vec<String> = parts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    let notes: String = notes.iter().map(|n| format!("; {n}")).collect();
    eprintln!(
        "{label}: {rows} cases: {}; {secs:.2} s, {rate:.0} cases/s{notes}",
        parts.join(", ")
    );
}

/// How case files are read (flattened into every command that reads cases).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct InputArgs {
    /// Text encoding of the input: utf-8, gb18030, gbk, utf-16le, … (default: detected:
    /// a byte order mark, else UTF-8 when the text is valid UTF-8, else GB18030).
    #[arg(long)]
    pub encoding: Option<String>,
    /// The sheet of an .xlsx input (default: the first).
    #[arg(long)]
    pub sheet: Option<String>,
    /// Column mapping: a built-in layout (`homepage` = 病案首页, `settlement-list` =
    /// 医保结算清单) or a mapping .toml file (see docs/input-format.md).
    #[arg(long)]
    pub columns: Option<String>,
}

/// A case file opened for the pipeline.
pub struct CaseInput {
    /// UTF-8 CSV or JSON Lines.
    pub reader: Box<dyn Read + Send>,
    /// The input's size in bytes, when known (for the progress bar).
    pub len: Option<u64>,
    /// The format to read it as.
    pub format: Format,
    /// The column mapping given with `--columns`.
    pub columns: Option<ColumnMap>,
    /// What the summary line says about the input (`input GB18030 (…)`, `sheet …`).
    pub note: String,
}

/// Opens a case file: a workbook's sheet, or text decoded to UTF-8 (`--encoding` or
/// detected), with the column mapping of `--columns`.
pub fn open_cases(path: &str, args: &InputArgs, format: Option<&str>) -> Result<CaseInput> {
    let columns = match args.columns.as_deref() {
        None => None,
        Some(c) if c.ends_with(".toml") => {
            let text = std::fs::read_to_string(c)
                .with_context(|| format!("reading the column mapping {c}"))?;
            Some(ColumnMap::from_toml(&text, c)?)
        }
        Some(c) => Some(ColumnMap::builtin(c)?),
    };
    if path != "-" && drgdip_io::excel::is_workbook(path) {
        if args.encoding.is_some() {
            anyhow::bail!("--encoding applies to text files; {path} is a workbook");
        }
        let (csv, sheet) = drgdip_io::excel::read_sheet(Path::new(path), args.sheet.as_deref())?;
        let len = csv.len() as u64;
        return Ok(CaseInput {
            reader: Box::new(io::Cursor::new(csv)),
            len: Some(len),
            format: Format::Csv,
            columns,
            note: format!("input sheet `{sheet}`"),
        });
    }
    if let Some(sheet) = &args.sheet {
        anyhow::bail!("--sheet {sheet} applies to .xlsx inputs; {path} is not a workbook");
    }
    let given = args
        .encoding
        .as_deref()
        .map(drgdip_io::decode::encoding_for_label)
        .transpose()?;
    let (raw, len) = open_input(path)?;
    let decoded = drgdip_io::decode::decode(raw, given)
        .with_context(|| format!("reading the input {path}"))?;
    let note = format!("input {}", decoded.detected().describe());
    Ok(CaseInput {
        reader: Box::new(decoded),
        len,
        format: format_of(format, path),
        columns,
        note,
    })
}

/// The files and settings of a streaming job (`group`, `dip group`), as given on the
/// command line (flattened into both commands' arguments).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct JobFiles {
    /// Case file (CSV with header, JSON Lines, .xlsx or .parquet); `-` = stdin.
    #[arg(long)]
    pub input: String,
    /// Output CSV, or an Excel workbook (`.xlsx`) or Parquet file (`.parquet`) by its name; `-` = stdout.
    #[arg(long, default_value = "-")]
    pub output: String,
    /// Start the CSV output with a UTF-8 byte order mark (so that Excel shows Chinese).
    #[arg(long)]
    pub bom: bool,
    #[command(flatten)]
    pub input_args: InputArgs,
    /// Worker threads (0 = all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Input format (default: from the file name, `.jsonl` → JSON Lines, else CSV).
    #[arg(long, value_parser = ["csv", "jsonl"])]
    pub format: Option<String>,
    /// Append the input's columns after the result columns (for `drgdip price`).
    #[arg(long)]
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
    files: &JobFiles,
    started: Instant,
) -> Result<crate::Outcome> {
    Ok(run_job_summary(label, job, files, started)?.0)
}

/// [`run_job`], also returning the run's counts.
pub fn run_job_summary<J: Job>(
    label: &str,
    job: &J,
    files: &JobFiles,
    started: Instant,
) -> Result<(crate::Outcome, drgdip_io::Summary)> {
    if drgdip_arrow::parquet::is_parquet(&files.input) {
        return run_parquet_job(label, job, files, started);
    }
    let cases = open_cases(&files.input, &files.input_args, files.format.as_deref())?;
    let parquet_out = drgdip_arrow::parquet::is_parquet(&files.output);
    if parquet_out && files.bom {
        anyhow::bail!("--bom applies to CSV output; {} is Parquet", files.output);
    }
    let workbook = files.output != "-" && drgdip_io::excel::is_workbook(&files.output);
    if workbook && files.bom {
        anyhow::bail!(
            "--bom applies to CSV output; {} is a workbook",
            files.output
        );
    }
    let pool = pool(files.threads)?;
    let options = Options {
        format: cases.format,
        carry: files.carry,
        batch_blocks: 4 * pool.current_num_threads().max(2),
        columns: cases.columns,
        ..Options::default()
    };
    let bar = progress(cases.len);
    let tick = |bytes, _| bar.set_position(bytes);
    let input = cases.reader;
    let summary = if parquet_out {
        let file = File::create(&files.output)
            .with_context(|| format!("creating the output {}", files.output))?;
        let out = io::BufWriter::with_capacity(1 << 20, file);
        drgdip_arrow::parquet::csv_into_parquet(out, |w| -> Result<_> {
            Ok(pool.install(|| drgdip_io::run(job, input, w, &options, &tick))?)
        })
        .with_context(|| format!("writing {}", files.output))?
    } else if workbook {
        let mut csv = Vec::new();
        let summary = pool.install(|| drgdip_io::run(job, input, &mut csv, &options, &tick))?;
        drgdip_io::excel::write_csv_as_workbook(&csv[..], Path::new(&files.output), label)?;
        summary
    } else {
        let mut output = open_output(&files.output)?;
        if files.bom {
            output
                .write_all(b"\xEF\xBB\xBF")
                .with_context(|| format!("writing {}", files.output))?;
        }
        pool.install(|| drgdip_io::run(job, input, output, &options, &tick))?
    };
    bar.finish_and_clear();
    Ok(finish_job(label, job, &summary, started, vec![cases.note]))
}

/// The summary line of a finished job and its outcome.
fn finish_job<J: Job>(
    label: &str,
    job: &J,
    summary: &drgdip_io::Summary,
    started: Instant,
    mut notes: Vec<String>,
) -> (crate::Outcome, drgdip_io::Summary) {
    let parts: Vec<(&str, u64)> = job
        .categories()
        .iter()
        .copied()
        .zip(summary.counts.iter().copied())
        .collect();
    if let Some(layout) = &summary.layout {
        notes.push(format!("columns {layout}"));
    }
    summary_line_with(label, summary.rows, &parts, started, &notes);
    let outcome = if summary.counts.last().copied().unwrap_or(0) > 0 {
        crate::Outcome::RowsRejected
    } else {
        crate::Outcome::Clean
    };
    (outcome, summary.clone())
}

/// A job over a Parquet input (`.parquet`), streamed batch by batch into Parquet or
/// CSV. The table's columns are the case file's, by name; no column mapping.
fn run_parquet_job<J: Job>(
    label: &str,
    job: &J,
    files: &JobFiles,
    started: Instant,
) -> Result<(crate::Outcome, drgdip_io::Summary)> {
    let args = &files.input_args;
    for (given, what) in [
        (args.columns.is_some(), "--columns"),
        (args.encoding.is_some(), "--encoding"),
        (args.sheet.is_some(), "--sheet"),
        (files.format.is_some(), "--format"),
    ] {
        if given {
            anyhow::bail!("{what} applies to CSV inputs; {} is Parquet", files.input);
        }
    }
    let input =
        File::open(&files.input).with_context(|| format!("opening the input {}", files.input))?;
    let parquet_out = drgdip_arrow::parquet::is_parquet(&files.output);
    if files.output != "-" && drgdip_io::excel::is_workbook(&files.output) {
        anyhow::bail!("a Parquet input is written as Parquet or CSV, not as a workbook");
    }
    let mut output = if parquet_out {
        Box::new(io::BufWriter::with_capacity(
            1 << 20,
            File::create(&files.output)
                .with_context(|| format!("creating the output {}", files.output))?,
        )) as Box<dyn Write + Send>
    } else {
        open_output(&files.output)?
    };
    if files.bom {
        if parquet_out {
            anyhow::bail!("--bom applies to CSV output; {} is Parquet", files.output);
        }
        output
            .write_all(b"\xEF\xBB\xBF")
            .with_context(|| format!("writing {}", files.output))?;
    }
    let options = drgdip_arrow::BatchOptions {
        carry: files.carry,
        ..Default::default()
    };
    let sink = if parquet_out {
        drgdip_arrow::parquet::Output::Parquet(output)
    } else {
        drgdip_arrow::parquet::Output::Csv(output)
    };
    let summary = pool(files.threads)?
        .install(|| drgdip_arrow::parquet::run_parquet(job, input, sink, &options))
        .with_context(|| format!("{label}: {} → {}", files.input, files.output))?;
    Ok(finish_job(
        label,
        job,
        &summary,
        started,
        vec!["input Parquet".to_owned()],
    ))
}
