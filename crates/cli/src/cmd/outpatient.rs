//! `drgdip outpatient`: outpatient claims priced with the policy's outpatient schemes
//! (a thin shell over `drgdip_pipeline::outpatient::price_outpatient`).

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use drgdip_payment::Policy;
use drgdip_pipeline::outpatient::price_outpatient;

use super::{open_input, open_output};
use crate::Outcome;

#[derive(clap::Args)]
pub struct Args {
    /// Policy file (TOML, see docs/policy.md); its `[benefits.outpatient]` schemes apply.
    #[arg(long)]
    pub policy: PathBuf,
    /// Outpatient claims (CSV: claim_id, person_id, scheme, hospital_level,
    /// insurance_type, visit_date, total_cost, covered_cost); `-` = stdin.
    #[arg(long)]
    pub input: String,
    /// One row per claim (CSV); `-` = stdout.
    #[arg(long, default_value = "-")]
    pub output: String,
}

pub fn run(args: Args) -> Result<Outcome> {
    let started = Instant::now();
    let policy = Policy::load(&args.policy)
        .with_context(|| format!("loading the policy {}", args.policy.display()))?;
    let (input, _) = open_input(&args.input)?;
    let mut output = open_output(&args.output)?;
    let s = price_outpatient(&policy, input, &mut output)
        .with_context(|| format!("pricing the outpatient claims {}", args.input))?;
    output.flush()?;
    eprintln!(
        "outpatient: {} claims: {} ok, {} rejected; patient {}, fund {}; {:.2} s",
        s.claims,
        s.claims - s.rejected,
        s.rejected,
        s.patient,
        s.fund,
        started.elapsed().as_secs_f64()
    );
    Ok(if s.rejected > 0 {
        Outcome::RowsRejected
    } else {
        Outcome::Clean
    })
}
