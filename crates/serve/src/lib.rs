//! # drgdip-serve
//!
//! `drgdip serve`: the drgdip libraries behind an HTTP API (`/v1/…`, JSON; batch files
//! in and out) and a web workbench page, on axum/tokio. Every route is a thin shell
//! over library functions ([`engine`], [`batch`]): a case sent as JSON goes through
//! the same field parsers, grouping job and price pipeline as a row of a case file, so
//! results are those of the CLI.
//!
//! The loaded set (schemes, catalogue, policy) sits in an atomic holder
//! ([`arc_swap::ArcSwap`]): a reload (SIGHUP or `POST /v1/admin/reload`) reads the whole
//! set first and swaps it in at once; a request works with the set it started with.
//!
//! ```no_run
//! use drgdip_serve::{Config, Sources};
//!
//! let config = Config {
//!     sources: Sources { schemes: vec!["data/demo-scheme".into()], ..Sources::default() },
//!     ..Config::default()
//! };
//! let server = drgdip_serve::spawn(config)?; // a background server on 127.0.0.1:8080
//! println!("listening on {}", server.addr());
//! server.stop();
//! # Ok::<(), drgdip_serve::ServeError>(())
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub mod batch;
pub mod case;
pub mod engine;
pub mod metrics;
mod routes;
pub mod state;

pub use routes::{router, routes};
pub use state::{Loaded, Sources};

/// Why the server could not start or reload.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A bad setting.
    #[error("{0}")]
    Config(String),
    /// A scheme or catalogue could not be opened.
    #[error(transparent)]
    Open(#[from] drgdip_grouper::OpenError),
    /// Another load failure (the policy, the token file).
    #[error("{0}")]
    Load(String),
    /// Binding or serving failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// The server's limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest JSON body, bytes.
    pub json_body: usize,
    /// Largest batch upload, bytes.
    pub batch_body: usize,
    /// Most data rows in a batch.
    pub batch_rows: u64,
    /// Most cases in one `cases` request.
    pub many_cases: usize,
    /// Time a JSON request may take.
    pub request_timeout: Duration,
    /// Batches running at once; more are refused with 429.
    pub concurrent_batches: usize,
    /// Finished batch jobs kept for download.
    pub kept_batches: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            json_body: 8 << 20,
            batch_body: 1 << 30,
            batch_rows: 5_000_000,
            many_cases: 10_000,
            request_timeout: Duration::from_secs(30),
            concurrent_batches: 2,
            kept_batches: 8,
        }
    }
}

/// How to run a server.
#[derive(Clone)]
pub struct Config {
    /// What to load.
    pub sources: Sources,
    /// Where to listen (localhost unless told otherwise).
    pub listen: SocketAddr,
    /// The bearer token every `/v1/…` and `/metrics` request must carry, if any.
    pub token: Option<String>,
    /// Limits.
    pub limits: Limits,
    /// Worker threads of the async runtime (0 = one per core).
    pub workers: usize,
    /// Where the server reports its start, reloads and stop (never a request's data).
    pub log: fn(&str),
    /// Where batch results, workbook uploads and price spills are spooled (`None` =
    /// the system's temporary folder). Files go when their job is no longer kept.
    pub spool_dir: Option<std::path::PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sources: Sources::default(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            token: None,
            limits: Limits::default(),
            workers: 0,
            log: |_| {},
            spool_dir: None,
        }
    }
}

/// Reads a token file: its content without surrounding white space; an empty file is
/// an error.
pub fn read_token(path: &std::path::Path) -> Result<String, ServeError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ServeError::Load(format!("reading the token file {}: {e}", path.display())))?;
    let token = text.trim().to_string();
    if token.is_empty() {
        return Err(ServeError::Load(format!(
            "the token file {} is empty",
            path.display()
        )));
    }
    Ok(token)
}

/// The shared state of a server.
pub struct Inner {
    /// The loaded set, swapped whole on reload.
    pub loaded: ArcSwap<Loaded>,
    /// Where it was loaded from.
    pub sources: Sources,
    /// Limits.
    pub limits: Limits,
    /// The bearer token, if any.
    pub token: Option<Vec<u8>>,
    /// Counters.
    pub metrics: metrics::Metrics,
    /// Batch jobs.
    pub jobs: batch::Jobs,
    /// Permits for running batches.
    pub batches: Arc<tokio::sync::Semaphore>,
    /// The spool folder.
    pub spool: std::path::PathBuf,
    reloading: std::sync::Mutex<()>,
    log: fn(&str),
}

/// A handle on the shared state (cheap to clone).
#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

impl AppState {
    /// State over an already loaded set.
    pub fn new(loaded: Loaded, config: &Config) -> AppState {
        AppState(Arc::new(Inner {
            loaded: ArcSwap::from_pointee(loaded),
            sources: config.sources.clone(),
            limits: config.limits.clone(),
            token: config.token.as_ref().map(|t| t.as_bytes().to_vec()),
            metrics: metrics::Metrics::default(),
            jobs: batch::Jobs::default(),
            batches: Arc::new(tokio::sync::Semaphore::new(
                config.limits.concurrent_batches.max(1),
            )),
            reloading: std::sync::Mutex::new(()),
            log: config.log,
            spool: config.spool_dir.clone().unwrap_or_else(std::env::temp_dir),
        }))
    }

    /// Loads the set of `config` and makes the state.
    pub fn load(config: &Config) -> Result<AppState, ServeError> {
        Ok(AppState::new(Loaded::load(&config.sources, 1)?, config))
    }

    /// Reloads every source and swaps the new set in at once (blocking: it reads and
    /// compiles). On failure the old set stays. Returns the new generation.
    pub fn reload(&self) -> Result<u64, ServeError> {
        let _one = self.0.reloading.lock().unwrap_or_else(|p| p.into_inner());
        let generation = self.0.loaded.load().generation + 1;
        match Loaded::load(&self.0.sources, generation) {
            Ok(new) => {
                self.0.loaded.store(Arc::new(new));
                self.0
                    .metrics
                    .reloads
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                (self.0.log)(&format!("drgdip serve: reloaded (generation {generation})"));
                Ok(generation)
            }
            Err(e) => {
                (self.0.log)(&format!(
                    "drgdip serve: reload failed, keeping the loaded set: {e}"
                ));
                Err(e)
            }
        }
    }
}

/// An error answer: a status and `{error, field}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// What is wrong.
    pub error: String,
    /// The request field at fault, if one is.
    pub field: Option<String>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    field: Option<&'a str>,
}

impl ApiError {
    /// A 400 naming `field`.
    pub fn bad(error: impl Into<String>, field: impl Into<Option<String>>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            error: error.into(),
            field: field.into(),
        }
    }

    /// A 503: the server lacks what the request needs.
    pub fn unavailable(error: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            error: error.into(),
            field: None,
        }
    }

    /// A 500.
    pub fn internal(error: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error: error.into(),
            field: None,
        }
    }

    /// Any status.
    pub fn with(status: StatusCode, error: impl Into<String>, field: Option<&str>) -> ApiError {
        ApiError {
            status,
            error: error.into(),
            field: field.map(str::to_string),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&ErrorBody {
            error: &self.error,
            field: self.field.as_deref(),
        })
        .unwrap_or_default();
        (
            self.status,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    }
}

/// A server started on a background thread (its own runtime): for tests, benches and
/// embedding.
pub struct Running {
    addr: SocketAddr,
    state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its state (reload, metrics).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Stops it and waits for its thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn runtime(workers: usize) -> Result<tokio::runtime::Runtime, ServeError> {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    if workers > 0 {
        b.worker_threads(workers);
    }
    b.enable_all().build().map_err(|source| ServeError::Io {
        what: "starting the async runtime".into(),
        source,
    })
}

/// Binds the listening socket (in `rt`) and tells the address it got.
fn bind(
    rt: &tokio::runtime::Runtime,
    listen: SocketAddr,
) -> Result<(tokio::net::TcpListener, SocketAddr), ServeError> {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(listen))
        .map_err(|source| ServeError::Io {
            what: format!("listening on {listen}"),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServeError::Io {
        what: "reading the listening address".into(),
        source,
    })?;
    Ok((listener, addr))
}

/// Loads, binds and serves on a background thread; returns once it listens. Port 0
/// picks a free port ([`Running::addr`] tells which).
pub fn spawn(config: Config) -> Result<Running, ServeError> {
    let state = AppState::load(&config)?;
    let rt = runtime(config.workers)?;
    let (listener, addr) = bind(&rt, config.listen)?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let app = router(state.clone());
    let thread = std::thread::spawn(move || {
        rt.block_on(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
        });
    });
    Ok(Running {
        addr,
        state,
        stop: Some(tx),
        thread: Some(thread),
    })
}

/// Runs a server until SIGINT/SIGTERM (blocking): loads, binds, reloads on SIGHUP.
pub fn run(config: Config) -> Result<(), ServeError> {
    let state = AppState::load(&config)?;
    let rt = runtime(config.workers)?;
    let (listener, addr) = bind(&rt, config.listen)?;
    rt.block_on(async move {
        let described = state.0.loaded.load().describe();
        let names: Vec<String> = described
            .schemes
            .iter()
            .map(|s| s.label.clone())
            .chain(described.catalog.iter().map(|c| c.label.clone()))
            .chain(
                described
                    .policy
                    .iter()
                    .map(|p| format!("policy {}", p.name)),
            )
            .collect();
        (config.log)(&format!(
            "drgdip serve: listening on http://{addr} ({}){}",
            names.join(", "),
            if config.token.is_some() {
                "; bearer token required"
            } else {
                ""
            }
        ));
        spawn_sighup(state.clone());
        axum::serve(listener, router(state))
            .with_graceful_shutdown(shutdown_signal())
            .await
            .map_err(|source| ServeError::Io {
                what: "serving".into(),
                source,
            })?;
        (config.log)("drgdip serve: stopped");
        Ok(())
    })
}

#[cfg(unix)]
fn spawn_sighup(state: AppState) {
    use tokio::signal::unix::{SignalKind, signal};
    if let Ok(mut hup) = signal(SignalKind::hangup()) {
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                let s = state.clone();
                let _ = tokio::task::spawn_blocking(move || s.reload()).await;
            }
        });
    }
}

#[cfg(not(unix))]
fn spawn_sighup(_state: AppState) {}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = async {
            match signal(SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
