//! `drgdip`: group, price and settle hospital discharges from the command line.
//!
//! Data goes to stdout or the `--output` file, logs and progress to stderr.
//! Exit codes: 0 all rows accepted, 1 some rows rejected, 2 error.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;

/// What a command reports back to `main` when it did not fail outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every input row was accepted.
    Clean,
    /// The run finished but some rows were rejected (exit code 1).
    RowsRejected,
}

#[derive(Parser)]
#[command(
    name = "drgdip",
    version,
    about = "DRG/DIP grouping, pricing and payment engine"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Price grouped cases: payment standard, patient share and fund outlay per case.
    Price(cmd::price::Args),
    /// Settle the year per hospital from priced cases.
    Settle(cmd::settle::Args),
    /// Indicators per hospital and city-wide from priced cases.
    Report(cmd::report::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Price(a) => cmd::price::run(a),
        Command::Settle(a) => cmd::settle::run(a),
        Command::Report(a) => cmd::report::run(a),
    };
    match result {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::RowsRejected) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
