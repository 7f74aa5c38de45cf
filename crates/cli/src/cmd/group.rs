//! `drgdip group`: group a case file into DRGs.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use drgdip_io::GroupJob;

use super::{load_grouper, run_job_summary};
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
    #[command(flatten)]
    pub files: super::JobFiles,
    /// Map clinical (国临版) codes to insurance (医保版) codes with the scheme's code maps.
    #[arg(long)]
    pub map_codes: bool,
}

/// Runs `drgdip group`.
pub fn run(args: Args) -> Result<Outcome> {
    let started = Instant::now();
    let grouper = load_grouper(&args.scheme, args.errata.as_deref())?;
    let job = GroupJob::new(&grouper, args.map_codes);
    let (outcome, summary) = run_job_summary("group", &job, &args.files, started)?;
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
