//! `drgdip group`: group a case file into DRGs.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use drgdip_io::GroupJob;

use super::{JobFiles, load_grouper, run_job_summary};
use crate::Outcome;

/// Arguments of `drgdip group`.
#[derive(clap::Args)]
pub struct Args {
    /// Scheme folder, workbook (`.xlsx`) or compiled scheme file.
    #[arg(long)]
    pub scheme: PathBuf,
    /// Errata for a workbook scheme (`errata.json`: exclusion-table members the workbook lacks).
    #[arg(long)]
    pub errata: Option<PathBuf>,
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
    pub input_args: super::InputArgs,
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

/// Runs `drgdip group`.
pub fn run(args: Args) -> Result<Outcome> {
    let started = Instant::now();
    let grouper = load_grouper(&args.scheme, args.errata.as_deref())?;
    let job = GroupJob::new(&grouper, args.map_codes);
    let files = JobFiles {
        input: &args.input,
        output: &args.output,
        threads: args.threads,
        format: args.format.as_deref(),
        carry: args.carry,
        input_args: &args.input_args,
        bom: args.bom,
    };
    let (outcome, summary) = run_job_summary("group", &job, files, started)?;
    let [_, ungroupable, _, invalid] = summary.counts[..] else {
        return Ok(outcome);
    };
    if let Some(w) = drgdip_io::drg::fit_warning(
        summary.rows - invalid,
        ungroupable,
        job.unknown_principals(),
        args.map_codes,
    ) {
        eprintln!("{w}");
    }
    Ok(outcome)
}
