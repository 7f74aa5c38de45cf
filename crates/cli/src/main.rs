//! `drgdip`: group, price and settle hospital discharges from the command line.
//!
//! Data goes to stdout or the `--output` file, logs and progress to stderr.
//! Exit codes: 0 all rows accepted, 1 some rows rejected (status `invalid`), 2 error.

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
    /// Compile, inspect and check DRG schemes.
    #[command(subcommand)]
    Scheme(cmd::scheme::SchemeCommand),
    /// Group a file of cases into DRGs.
    Group(cmd::group::Args),
    /// Explain how one case is grouped, step by step.
    Explain(Box<cmd::explain::Args>),
    /// Generate deterministic synthetic cases for a scheme.
    Gen(cmd::gen_cases::Args),
    /// DIP: group cases into disease types, build and inspect catalogues.
    #[command(subcommand)]
    Dip(cmd::dip::DipCommand),
    /// DRG weights from history.
    #[command(subcommand)]
    Drg(cmd::drg::DrgCommand),
    /// Price grouped cases: payment standard, patient share and fund outlay per case.
    Price(cmd::price::Args),
    /// Price outpatient claims with the policy's outpatient schemes (两病, ordinary).
    Outpatient(cmd::outpatient::Args),
    /// Settle the year per hospital from priced cases.
    Settle(cmd::settle::Args),
    /// Indicators per hospital and city-wide from priced cases.
    Report(cmd::report::Args),
    /// Run the whole job on the demo data in `data/`.
    Demo(cmd::demo::Args),
    /// Serve the HTTP API and the web workbench (localhost by default).
    Serve(Box<cmd::serve::Args>),
}

/// An error and its causes joined by `: `, leaving out a cause whose text the link
/// before it already says (library errors often include their source's message, so
/// `{:#}` would print "(os error 2)" twice).
fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    let mut previous = String::new();
    for cause in e.chain() {
        let this = cause.to_string();
        if !previous.contains(&this) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&this);
        }
        previous = this;
    }
    text
}

fn main() -> ExitCode {
    // A reader that stops early (`drgdip … | head`) closes stdout: say so in one line
    // instead of a panic message.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if text.contains("Broken pipe") {
            eprintln!("drgdip: the output was closed early (broken pipe)");
            std::process::exit(2);
        }
        default_hook(info);
    }));
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scheme(c) => cmd::scheme::run(c),
        Command::Group(a) => cmd::group::run(a),
        Command::Explain(a) => cmd::explain::run(*a),
        Command::Gen(a) => cmd::gen_cases::run(a),
        Command::Dip(c) => cmd::dip::run(c),
        Command::Drg(c) => cmd::drg::run(c),
        Command::Price(a) => cmd::price::run(a),
        Command::Outpatient(a) => cmd::outpatient::run(a),
        Command::Settle(a) => cmd::settle::run(a),
        Command::Report(a) => cmd::report::run(a),
        Command::Demo(a) => cmd::demo::run(a),
        Command::Serve(a) => cmd::serve::run(*a),
    };
    match result {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::RowsRejected) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {}", error_text(&e));
            ExitCode::from(2)
        }
    }
}
