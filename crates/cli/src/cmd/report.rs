//! `drgdip report`: the indicators a bureau reads, per hospital and city-wide, from
//! priced cases (and optionally the settlement). The pipeline is
//! [`drgdip_pipeline::report()`]; this is its command-line shell.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use drgdip_pipeline::{ReportConfig, report};
use rust_decimal::Decimal;

use super::pay_io::{open_input, open_output};
use crate::Outcome;

/// Arguments of `drgdip report`.
#[derive(clap::Args)]
pub struct Args {
    /// Priced cases (output of `drgdip price`); `-` = stdin.
    #[arg(long)]
    pub input: String,
    /// Indicators per hospital and city-wide (CSV); `-` = stdout.
    #[arg(long, default_value = "-")]
    pub output: String,
    /// Settlement per hospital (output of `drgdip settle`) to add surplus/deficit.
    #[arg(long)]
    pub settlement: Option<PathBuf>,
    /// Per-group indicators (CSV): cases, mean cost, CV and its flag, margin.
    #[arg(long)]
    pub groups: Option<String>,
    /// Readable table; default stdout when `--output` is a file.
    #[arg(long)]
    pub table: Option<String>,
    /// SVG chart of payment vs cost by hospital.
    #[arg(long)]
    pub svg: Option<PathBuf>,
    /// Groups with a CV below this are flagged `low`.
    #[arg(long, default_value = "0.5")]
    pub cv_low: Decimal,
    /// Groups with a CV above this are flagged `high`.
    #[arg(long, default_value = "1")]
    pub cv_high: Decimal,
}

/// Runs `drgdip report`.
pub fn run(args: Args) -> Result<Outcome> {
    let settlement = match &args.settlement {
        Some(p) => {
            Some(std::fs::File::open(p).with_context(|| format!("opening {}", p.display()))?)
        }
        None => None,
    };
    let config = ReportConfig {
        cv_low: args.cv_low,
        cv_high: args.cv_high,
    };
    let r = report(
        open_input(&args.input)?,
        settlement,
        &config,
        &drgdip_pipeline::no_progress,
    )?;
    for e in &r.errors {
        eprintln!("report: line {}: {}", e.line, e.message);
    }
    {
        let mut out = open_output(&args.output)?;
        r.write_csv(&mut out)?;
        out.flush()?;
    }
    if let Some(path) = &args.groups {
        let mut out = open_output(path)?;
        r.write_groups(&mut out)?;
        out.flush()?;
    }
    let table_to = match (&args.table, args.output.as_str()) {
        (Some(t), _) => Some(t.clone()),
        (None, "-") => None,
        (None, _) => Some("-".to_owned()),
    };
    if let Some(t) = table_to {
        let mut out = open_output(&t)?;
        out.write_all(r.table().as_bytes())?;
        out.flush()?;
    }
    if let Some(p) = &args.svg {
        std::fs::write(p, r.svg()).with_context(|| format!("writing {}", p.display()))?;
    }
    if r.unreadable > 0 {
        eprintln!("report: {} unreadable rows skipped", r.unreadable);
    }
    for w in r.warnings() {
        eprintln!("report: {w}");
    }
    Ok(if r.unreadable > 0 {
        Outcome::RowsRejected
    } else {
        Outcome::Clean
    })
}
