//! `drgdip scheme compile|info|check|graph`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use drgdip_grouper::graph::SchemeGraph;
use drgdip_grouper::{Grouper, Status};

use super::load_grouper;
use crate::Outcome;

/// Scheme subcommands.
#[derive(clap::Subcommand)]
pub enum SchemeCommand {
    /// Compile a scheme folder or workbook (`.xlsx`) into one file that loads in milliseconds.
    Compile {
        /// Scheme folder or workbook.
        scheme: PathBuf,
        /// Errata for a workbook scheme (`errata.json`: exclusion-table members the workbook lacks).
        #[arg(long)]
        errata: Option<PathBuf>,
        /// Output file (e.g. `chs-drg-1.1.drgc`).
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Print name, version, content hash and sizes of a scheme (folder or compiled).
    Info {
        /// Scheme folder, workbook or compiled file.
        scheme: PathBuf,
        /// Errata for a workbook scheme (`errata.json`: exclusion-table members the workbook lacks).
        #[arg(long)]
        errata: Option<PathBuf>,
    },
    /// Check a scheme and print every warning; exit 2 on errors.
    Check {
        /// Scheme folder, workbook or compiled file.
        scheme: PathBuf,
        /// Errata for a workbook scheme (`errata.json`: exclusion-table members the workbook lacks).
        #[arg(long)]
        errata: Option<PathBuf>,
    },
    /// Write the scheme's MDC → ADRG → DRG tree as Graphviz DOT.
    Graph {
        /// Scheme folder or workbook.
        scheme: PathBuf,
        /// Errata for a workbook scheme (`errata.json`: exclusion-table members the workbook lacks).
        #[arg(long)]
        errata: Option<PathBuf>,
        /// Include code lists as nodes.
        #[arg(long)]
        lists: bool,
        /// Output file (`-` = stdout).
        #[arg(long, short, default_value = "-")]
        output: String,
    },
}

/// Runs a scheme subcommand.
pub fn run(cmd: SchemeCommand) -> Result<Outcome> {
    match cmd {
        SchemeCommand::Compile {
            scheme,
            errata,
            output,
        } => {
            let started = Instant::now();
            let g = load_grouper(&scheme, errata.as_deref())?;
            g.save(&output)?;
            let size = std::fs::metadata(&output).map(|m| m.len()).unwrap_or(0);
            eprintln!(
                "compiled {} into {} ({} bytes) in {:.2} s",
                g.info().label(),
                output.display(),
                size,
                started.elapsed().as_secs_f64()
            );
            Ok(Outcome::Clean)
        }
        SchemeCommand::Info { scheme, errata } => {
            let started = Instant::now();
            let g = load_grouper(&scheme, errata.as_deref())?;
            print_info(&g, started);
            Ok(Outcome::Clean)
        }
        SchemeCommand::Check { scheme, errata } => {
            let g = load_grouper(&scheme, errata.as_deref())?;
            for w in g.warnings() {
                println!("warning: {w}");
            }
            println!("ok: {} ({} warnings)", g.info().label(), g.warnings().len());
            Ok(Outcome::Clean)
        }
        SchemeCommand::Graph {
            scheme,
            errata,
            lists,
            output,
        } => {
            if !scheme.is_dir() && !drgdip_grouper::workbook::is_workbook(&scheme) {
                bail!("`scheme graph` needs a scheme folder or workbook, not a compiled file");
            }
            let s = super::read_scheme(&scheme, errata.as_deref())?;
            let dot = SchemeGraph::build(&s).to_dot(lists);
            let mut out = super::open_output(&output)?;
            out.write_all(dot.as_bytes()).context("writing the graph")?;
            Ok(Outcome::Clean)
        }
    }
}

use std::io::Write as _;

fn print_info(g: &Grouper, started: Instant) {
    let info = g.info();
    let count = |s: Status| g.results().iter().filter(|r| r.status == s).count();
    println!("name:         {}", info.name);
    println!("version:      {}", info.version);
    println!("content hash: {}", info.content_hash);
    println!("codes:        {}", g.code_count());
    println!(
        "results:      {} grouped, {} QY, {} no-match",
        count(Status::Grouped),
        count(Status::Ambiguous),
        count(Status::Ungroupable)
    );
    println!("warnings:     {}", g.warnings().len());
    println!(
        "loaded in:    {:.1} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
}
