//! `drgdip group`: group a case file into DRGs.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use drgdip_io::{Format, GroupJob, Job, Options};

use super::{load_grouper, open_input, open_output, pool, progress, summary_line};
use crate::Outcome;

/// Arguments of `drgdip group`.
#[derive(clap::Args)]
pub struct Args {
    /// Scheme folder or compiled scheme file.
    #[arg(long)]
    pub scheme: PathBuf,
    /// Case file (CSV with header, or JSON Lines); `-` = stdin.
    #[arg(long)]
    pub input: String,
    /// Output CSV; `-` = stdout.
    #[arg(long, default_value = "-")]
    pub output: String,
    /// Worker threads (0 = all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Input format (default: from the file name, `.jsonl` → JSON Lines, else CSV).
    #[arg(long, value_parser = ["csv", "jsonl"])]
    pub format: Option<String>,
    /// Append the input's columns after the result columns (for `drgdip price`).
    #[arg(long)]
    pub carry: bool,
    /// Map clinical (国临版) codes to insurance (医保版) codes with the scheme's code maps.
    #[arg(long)]
    pub map_codes: bool,
}

/// Parses `--format` or guesses it from the path.
pub fn format_of(format: Option<&str>, input: &str) -> Format {
    match format {
        Some("jsonl") => Format::JsonLines,
        Some(_) => Format::Csv,
        None => Format::from_path(input),
    }
}

/// Runs `drgdip group`.
pub fn run(args: Args) -> Result<Outcome> {
    let started = Instant::now();
    let grouper = load_grouper(&args.scheme)?;
    let job = GroupJob::new(&grouper, args.map_codes);
    let (input, len) = open_input(&args.input)?;
    let output = open_output(&args.output)?;
    let pool = pool(args.threads)?;
    let options = Options {
        format: format_of(args.format.as_deref(), &args.input),
        carry: args.carry,
        batch_blocks: 4 * pool.current_num_threads().max(2),
        ..Options::default()
    };
    let bar = progress(len);
    let summary = pool.install(|| {
        drgdip_io::run(&job, input, output, &options, &|bytes, _| {
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
    summary_line("group", summary.rows, &parts, started);
    Ok(if summary.counts[3] > 0 {
        Outcome::RowsRejected
    } else {
        Outcome::Clean
    })
}
