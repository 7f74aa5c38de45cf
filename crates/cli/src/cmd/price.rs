//! `drgdip price`: grouped cases → payment standard, patient share and fund outlay.
//! The pipeline is [`drgdip_pipeline::price()`]; this is its command-line shell.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use drgdip_arrow::parquet::{csv_into_parquet, is_parquet, parquet_as_csv};
use drgdip_payment::Policy;
use drgdip_pipeline::{PriceConfig, SpillTo, price};

use super::pay_io::{open_input, open_output};
use crate::Outcome;

/// Arguments of `drgdip price`.
#[derive(clap::Args)]
pub struct Args {
    /// Policy file (TOML, see docs/policy.md).
    #[arg(long)]
    pub policy: PathBuf,
    /// Grouped cases: output of `drgdip group --carry` / `drgdip dip group --carry`
    /// (CSV with header, or Parquet when the name ends in `.parquet`); `-` = stdin.
    #[arg(long)]
    pub input: String,
    /// Priced cases (CSV, or Parquet when the name ends in `.parquet`); `-` = stdout.
    #[arg(long, default_value = "-")]
    pub output: String,
    /// Worker threads (0 = all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

/// Runs `drgdip price`.
pub fn run(args: Args) -> Result<Outcome> {
    let started = Instant::now();
    let policy = Policy::load(&args.policy)
        .with_context(|| format!("loading the policy {}", args.policy.display()))?;
    let input = if is_parquet(&args.input) {
        let file = std::fs::File::open(&args.input)
            .with_context(|| format!("opening the input {}", args.input))?;
        Box::new(parquet_as_csv(file)?)
    } else {
        open_input(&args.input)?
    };
    let config = PriceConfig {
        threads: Some(args.threads),
        spill: SpillTo::TempFile(std::env::temp_dir()),
    };
    let run = |out: &mut (dyn Write + Send)| {
        price(&policy, input, out, &config, &drgdip_pipeline::no_progress)
            .map_err(anyhow::Error::from)
    };
    let s = if is_parquet(&args.output) {
        let file = std::fs::File::create(&args.output)
            .with_context(|| format!("creating the output {}", args.output))?;
        csv_into_parquet(std::io::BufWriter::with_capacity(1 << 20, file), run)
            .with_context(|| format!("writing {}", args.output))?
    } else {
        let mut out = open_output(&args.output)?;
        let s = run(&mut out)?;
        out.flush().context("writing the output")?;
        s
    };
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "price: {} cases: {} priced, {} rejected; {secs:.2} s, {:.0} cases/s \
         (read+price {:.2} s, benefits {:.2} s, write {:.2} s)",
        s.rows,
        s.priced(),
        s.rejected,
        s.rows as f64 / secs.max(1e-9),
        s.stages[0].as_secs_f64(),
        s.stages[1].as_secs_f64(),
        s.stages[2].as_secs_f64(),
    );
    for w in s.warnings() {
        eprintln!("price: {w}");
    }
    Ok(if s.rejected > 0 {
        Outcome::RowsRejected
    } else {
        Outcome::Clean
    })
}
