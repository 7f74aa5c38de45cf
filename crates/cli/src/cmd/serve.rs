//! `drgdip serve`: the HTTP API and the web workbench. The server is
//! [`drgdip_serve::run`]; this is its command-line shell.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use drgdip_serve::{Config, Limits, Sources};

use crate::Outcome;

/// Arguments of `drgdip serve`.
#[derive(clap::Args)]
pub struct Args {
    /// DRG scheme (folder, workbook or compiled file); repeat for several, the first is
    /// the default.
    #[arg(long)]
    pub scheme: Vec<PathBuf>,
    /// DIP catalogue (folder, national workbook or compiled file).
    #[arg(long)]
    pub catalog: Option<PathBuf>,
    /// Policy file (TOML) for pricing.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Address to listen on (localhost unless told otherwise).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// A file holding the bearer token every API request must carry.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Largest batch upload, MiB.
    #[arg(long, default_value_t = 1024)]
    pub max_upload_mb: usize,
    /// Most data rows in one batch.
    #[arg(long, default_value_t = 5_000_000)]
    pub max_batch_rows: u64,
    /// Batches running at once.
    #[arg(long, default_value_t = 2)]
    pub max_batches: usize,
    /// Seconds a JSON request may take.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
    /// Worker threads of the server (0 = one per core).
    #[arg(long, default_value_t = 0)]
    pub workers: usize,
    /// Folder for batch results, workbook uploads and price spills (default: the
    /// system's temporary folder).
    #[arg(long)]
    pub spool_dir: Option<PathBuf>,
}

/// Runs `drgdip serve` until interrupted.
pub fn run(args: Args) -> Result<Outcome> {
    let token = args
        .token_file
        .as_deref()
        .map(drgdip_serve::read_token)
        .transpose()?;
    let config = Config {
        sources: Sources {
            schemes: args.scheme,
            catalog: args.catalog,
            policy: args.policy,
        },
        listen: args.listen,
        token,
        limits: Limits {
            batch_body: args.max_upload_mb << 20,
            batch_rows: args.max_batch_rows,
            concurrent_batches: args.max_batches,
            request_timeout: Duration::from_secs(args.timeout),
            ..Limits::default()
        },
        workers: args.workers,
        log: |line| eprintln!("{line}"),
        spool_dir: args.spool_dir,
    };
    drgdip_serve::run(config).context("drgdip serve")?;
    Ok(Outcome::Clean)
}
