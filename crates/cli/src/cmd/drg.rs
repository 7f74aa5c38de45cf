//! `drgdip drg weights`: DRG relative weights from history.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use drgdip_io::history::{drg_weights, write_weights};

use super::dip::{parse_trim, parse_year_weights};
use super::{load_grouper, open_output};
use crate::Outcome;

/// DRG subcommands.
#[derive(clap::Subcommand)]
pub enum DrgCommand {
    /// Compute DRG weights (DRG mean cost / overall mean cost) from history.
    Weights(WeightsArgs),
}

/// Arguments of `drgdip drg weights`.
#[derive(clap::Args)]
pub struct WeightsArgs {
    /// Scheme folder, workbook (`.xlsx`) or compiled scheme file.
    #[arg(long)]
    pub scheme: PathBuf,
    /// Errata for a workbook scheme (`errata.json`: exclusion-table members the workbook lacks).
    #[arg(long)]
    pub errata: Option<PathBuf>,
    /// History: the case columns of `drgdip group` plus `total_cost` and `year` or
    /// `discharge_date` (optionally `hospital_level`).
    #[arg(long)]
    pub history: String,
    /// Output CSV `group,weight,mean_cost,mean_los,cases,cv`; `-` = stdout.
    #[arg(long, default_value = "-")]
    pub output: String,
    /// Year weights, oldest first; the newest year takes the last.
    #[arg(long, default_value = "1:2:7")]
    pub year_weights: String,
    /// Lower trimming quantile in percent.
    #[arg(long, default_value_t = 2.5)]
    pub trim_low: f64,
    /// Upper trimming quantile in percent.
    #[arg(long, default_value_t = 97.5)]
    pub trim_high: f64,
    /// Write each history row's acceptance (`case_id,status,message`) here.
    #[arg(long)]
    pub rejects: Option<String>,
    /// Worker threads (0 = all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Input format (default: from the file name).
    #[arg(long, value_parser = ["csv", "jsonl"])]
    pub format: Option<String>,
}

/// Runs a DRG subcommand.
pub fn run(cmd: DrgCommand) -> Result<Outcome> {
    let DrgCommand::Weights(a) = cmd;
    let started = Instant::now();
    let grouper = load_grouper(&a.scheme, a.errata.as_deref())?;
    let year_weights = parse_year_weights(&a.year_weights)?;
    let trim = parse_trim(a.trim_low, a.trim_high)?;
    let (input, rejects, pool, options) = super::dip::open_history(
        &a.history,
        a.rejects.as_deref(),
        a.threads,
        a.format.as_deref(),
    )?;
    let (rows, summary) = pool
        .install(|| drg_weights(&grouper, input, rejects, &options, &year_weights, trim))
        .with_context(|| format!("computing weights from {}", a.history))?;
    write_weights(&rows, open_output(&a.output)?).context("writing the weights")?;
    let years: Vec<String> = summary
        .years
        .iter()
        .map(|(y, w)| format!("{y}×{w}"))
        .collect();
    eprintln!(
        "drg weights: {} rows ({} rejected), {} grouped, {} not grouped; years {}; {} DRGs; {:.2} s",
        summary.read.rows,
        summary.read.counts[1],
        summary.grouped,
        summary.not_grouped,
        years.join(" "),
        rows.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(if summary.read.counts[1] > 0 {
        Outcome::RowsRejected
    } else {
        Outcome::Clean
    })
}
