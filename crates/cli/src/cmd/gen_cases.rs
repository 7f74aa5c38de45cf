//! `drgdip gen`: deterministic synthetic cases.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use drgdip_grouper::Grouper;
use drgdip_io::synth::{GEN_HEADER, GenConfig, Generator};

use super::{open_output, pool};
use crate::Outcome;

/// Arguments of `drgdip gen`.
#[derive(clap::Args)]
pub struct Args {
    /// Scheme folder or workbook (`.xlsx`): its code lists are the source of the codes.
    #[arg(long)]
    pub scheme: PathBuf,
    /// Errata for a workbook scheme (`errata.json`: exclusion-table members the workbook lacks).
    #[arg(long)]
    pub errata: Option<PathBuf>,
    /// Number of cases.
    #[arg(long, default_value_t = 10_000)]
    pub cases: u64,
    /// Random seed: the same seed gives the same file.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Number of hospitals.
    #[arg(long, default_value_t = 40)]
    pub hospitals: usize,
    /// Year of the discharge dates.
    #[arg(long, default_value_t = 2025)]
    pub year: i32,
    /// Output CSV (`-` = stdout).
    #[arg(long, default_value = "-")]
    pub output: String,
    /// Worker threads (0 = all cores); the output does not depend on it.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

/// Runs `drgdip gen`.
pub fn run(args: Args) -> Result<Outcome> {
    let started = Instant::now();
    let scheme = super::read_scheme(&args.scheme, args.errata.as_deref())?;
    let grouper = Grouper::compile(&scheme)?;
    let config = GenConfig {
        seed: args.seed,
        hospitals: args.hospitals.max(1),
        year: args.year,
    };
    let generator = Generator::new(&scheme, &grouper, config);
    let mut out = std::io::BufWriter::new(open_output(&args.output)?);
    use std::io::Write;
    writeln!(out, "{GEN_HEADER}")?;
    pool(args.threads)?
        .install(|| generator.generate(args.cases, |text| out.write_all(text.as_bytes())))?;
    out.flush()?;
    eprintln!(
        "gen: {} cases for {} in {:.2} s",
        args.cases,
        grouper.info().label(),
        started.elapsed().as_secs_f64()
    );
    Ok(Outcome::Clean)
}
