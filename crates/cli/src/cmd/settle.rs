//! `drgdip settle`: priced cases → per-hospital year-end settlement, the budget's
//! reserves, the settlement point value and the community allocation. The pipeline is
//! [`drgdip_pipeline::settle`]; this is its command-line shell.
//!
//! Outputs:
//! - `--output`: one row per hospital;
//! - `--summary` (default `<output>.summary.csv`): `section,item,value` rows;
//! - `--community` (default `<output>.community.csv`, only when the policy defines
//!   communities): one row per community member with its allocation.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use drgdip_payment::Policy;
use drgdip_pipeline::settle::{
    SettleConfig, settle_csv, write_community, write_hospitals, write_summary,
};

use super::pay_io::{open_input, open_output, sibling};
use crate::Outcome;

/// Arguments of `drgdip settle`.
#[derive(clap::Args)]
pub struct Args {
    /// Policy file (TOML, see docs/policy.md).
    #[arg(long)]
    pub policy: PathBuf,
    /// Priced cases (output of `drgdip price`); `-` = stdin.
    #[arg(long)]
    pub input: String,
    /// Per-hospital settlement (CSV); `-` = stdout.
    #[arg(long, default_value = "-")]
    pub output: String,
    /// Budget, rates, point values and totals (CSV `section,item,value`); default
    /// `<output>.summary.csv` (none when the output is stdout).
    #[arg(long)]
    pub summary: Option<String>,
    /// Community allocation (CSV); default `<output>.community.csv` when the policy
    /// defines communities.
    #[arg(long)]
    pub community: Option<String>,
    /// Worker threads (0 = all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

/// Runs `drgdip settle`.
pub fn run(args: Args) -> Result<Outcome> {
    let started = Instant::now();
    let policy = Policy::load(&args.policy)
        .with_context(|| format!("loading the policy {}", args.policy.display()))?;
    let config = SettleConfig {
        threads: Some(args.threads),
    };
    let (settlement, read) = settle_csv(
        &policy,
        open_input(&args.input)?,
        &config,
        &drgdip_pipeline::no_progress,
    )?;
    for e in &read.errors {
        eprintln!("settle: line {}: {}", e.line, e.message);
    }
    let mut out = open_output(&args.output)?;
    write_hospitals(&mut out, &settlement)?;
    out.flush()?;
    let summary = args
        .summary
        .clone()
        .or_else(|| sibling(&args.output, "summary").map(|p| p.display().to_string()));
    if let Some(path) = summary {
        let mut f = open_output(&path)?;
        write_summary(&mut f, &policy, &settlement)?;
        f.flush()?;
    }
    if !settlement.communities.is_empty() {
        let path = args
            .community
            .clone()
            .or_else(|| sibling(&args.output, "community").map(|p| p.display().to_string()));
        if let Some(path) = path {
            let mut f = open_output(&path)?;
            write_community(&mut f, &settlement)?;
            f.flush()?;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "settle: {} rows: {} settled, {} rejected by price, {} discharged outside the policy year, {} unreadable; {} hospitals; {secs:.2} s",
        read.rows,
        read.settled(),
        read.skipped,
        read.other_year,
        read.unreadable,
        settlement.hospitals.len()
    );
    for w in read.warnings(&settlement) {
        eprintln!("settle: {w}");
    }
    Ok(if read.unreadable > 0 {
        Outcome::RowsRejected
    } else {
        Outcome::Clean
    })
}
