//! `drgdip demo`: the whole job on the demo data in `data/`, in one command.
//!
//! Generates a year of synthetic discharges for the demo scheme, groups them into DRGs
//! and into DIP types, prices each grouping with the demo policy, settles the year per
//! hospital and writes the indicator reports — the same year paid under DRG and under
//! DIP, side by side. Every step is an ordinary command; the files are left in `--out`
//! so each can be rerun or inspected.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};

use crate::Outcome;

/// Arguments of `drgdip demo`.
#[derive(clap::Args)]
pub struct Args {
    /// The folder with the demo data (`demo-scheme/`, …).
    #[arg(long, default_value = "data")]
    pub data: PathBuf,
    /// Where to write the files of each step.
    #[arg(long, default_value = "out/demo")]
    pub out: PathBuf,
    /// Number of synthetic cases.
    #[arg(long, default_value_t = 100_000)]
    pub cases: u64,
    /// Random seed.
    #[arg(long, default_value_t = 2025)]
    pub seed: u64,
}

/// Runs `drgdip demo`.
pub fn run(args: Args) -> Result<Outcome> {
    let started = Instant::now();
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let scheme = args.data.join("demo-scheme");
    let path = |name: &str| args.out.join(name).display().to_string();
    eprintln!(
        "== 1. generate {} cases for {}",
        args.cases,
        scheme.display()
    );
    super::gen_cases::run(super::gen_cases::Args {
        scheme: scheme.clone(),
        errata: None,
        cases: args.cases,
        seed: args.seed,
        hospitals: 40,
        year: 2025,
        output: path("cases.csv"),
        threads: 0,
    })?;
    eprintln!("== 2. group them into DRGs");
    let mut outcome = super::group::run(super::group::Args {
        scheme,
        errata: None,
        files: super::JobFiles {
            input: path("cases.csv"),
            output: path("drg-grouped.csv"),
            carry: true,
            ..Default::default()
        },
        map_codes: false,
    })?;
    print_drg_summary(&path("drg-grouped.csv"))?;
    eprintln!("== 3. group them into DIP types");
    let dip = super::dip::run(super::dip::DipCommand::Group(super::dip::GroupArgs {
        catalog: args.data.join("demo-catalog"),
        files: super::JobFiles {
            input: path("cases.csv"),
            output: path("dip-grouped.csv"),
            carry: true,
            ..Default::default()
        },
    }))?;
    outcome = worse(outcome, dip);
    let policy = args.data.join("demo-policy.toml");
    for (step, method, title) in [(4, "drg", "DRG"), (5, "dip", "DIP")] {
        eprintln!("== {step}. {title}: price, settle, report");
        let priced = path(&format!("{method}-priced.csv"));
        let settled = path(&format!("{method}-settlement.csv"));
        let step = super::price::run(super::price::Args {
            policy: policy.clone(),
            input: path(&format!("{method}-grouped.csv")),
            output: priced.clone(),
            threads: 0,
        })?;
        outcome = worse(outcome, step);
        super::settle::run(super::settle::Args {
            policy: policy.clone(),
            input: priced.clone(),
            output: settled.clone(),
            summary: None,
            community: None,
            threads: 0,
        })?;
        super::report::run(super::report::Args {
            input: priced,
            output: path(&format!("{method}-report.csv")),
            settlement: Some(PathBuf::from(&settled)),
            groups: Some(path(&format!("{method}-groups.csv"))),
            table: Some(path(&format!("{method}-report.txt"))),
            svg: Some(args.out.join(format!("{method}-payment-vs-cost.svg"))),
            cv_low: rust_decimal::Decimal::new(5, 1),
            cv_high: rust_decimal::Decimal::ONE,
        })?;
        println!("\n{title} payment by hospital (from {method}-report.txt):");
        print_file(&path(&format!("{method}-report.txt")))?;
    }
    eprintln!(
        "demo done in {:.2} s; files in {}",
        started.elapsed().as_secs_f64(),
        args.out.display()
    );
    Ok(outcome)
}

fn worse(a: Outcome, b: Outcome) -> Outcome {
    if a == Outcome::Clean { b } else { a }
}

/// Prints a whole text report, the city total included.
fn print_file(path: &str) -> Result<()> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    print!("{text}");
    Ok(())
}

/// Prints the status counts and the most frequent DRGs of a `group` output.
fn print_drg_summary(grouped: &str) -> Result<()> {
    let mut rdr = csv::Reader::from_path(grouped).with_context(|| format!("reading {grouped}"))?;
    let mut status: BTreeMap<String, u64> = BTreeMap::new();
    let mut drgs: BTreeMap<(String, String), u64> = BTreeMap::new();
    for r in rdr.records() {
        let r = r?;
        *status.entry(r[1].to_string()).or_default() += 1;
        if &r[1] == "grouped" {
            *drgs
                .entry((r[4].to_string(), r[5].to_string()))
                .or_default() += 1;
        }
    }
    println!("DRG grouping by status:");
    for (s, n) in &status {
        println!("  {s:<12} {n:>9}");
    }
    let mut top: Vec<_> = drgs.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    println!("most frequent DRGs:");
    for ((code, name), n) in top.iter().take(10) {
        println!("  {code:<6} {n:>9}  {name}");
    }
    Ok(())
}
