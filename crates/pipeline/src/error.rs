//! The pipeline's typed errors: what stops a whole run (a row's problem is never one of
//! these: it becomes that row's `rejected` output or is counted as unreadable).

use thiserror::Error;

/// Why a pipeline run stopped.
#[derive(Debug, Error)]
pub enum PipelineError {
    /// Reading or writing a stream failed; `what` says which.
    #[error("{what}: {source}")]
    Io {
        /// What was being read or written (`reading the input`, …).
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The CSV reader failed (not a row problem: an I/O error under the CSV layer).
    #[error("{what}: {source}")]
    Csv {
        /// What was being read.
        what: &'static str,
        /// The underlying error.
        source: csv::Error,
    },
    /// A column the pipeline needs is missing from the input's header.
    #[error("the input has no `{name}` column ({why}); columns found: {found}")]
    MissingColumn {
        /// The column's name.
        name: String,
        /// What the column is.
        why: &'static str,
        /// The columns of the header, comma-separated.
        found: String,
    },
    /// The input as a whole does not fit (e.g. both DRG and DIP results in one file).
    #[error("{0}")]
    Input(String),
    /// A limit of the in-memory records was passed (more than 4 billion rows, …).
    #[error("{0}")]
    TooLarge(&'static str),
    /// Reading the input in blocks of whole records failed (no header, a record
    /// longer than the block reader takes, an I/O error).
    #[error("reading the input: {0}")]
    Stream(#[from] drgdip_io::StreamError),
    /// The settlement itself failed (e.g. a community's minimum shares cannot be met).
    #[error("settling the year: {0}")]
    Settle(#[from] drgdip_payment::settle::SettleError),
    /// The run was stopped through its [`drgdip_io::Cancel`] flag.
    #[error("the run was cancelled")]
    Cancelled,
    /// The worker threads could not be started.
    #[error("starting the thread pool: {0}")]
    ThreadPool(#[from] rayon::ThreadPoolBuildError),
}

impl PipelineError {
    /// An I/O error with what was being done.
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| Self::Io { what, source }
    }

    /// A CSV error with what was being read.
    pub(crate) fn csv(what: &'static str) -> impl FnOnce(csv::Error) -> Self {
        move |source| Self::Csv { what, source }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = PipelineError> = std::result::Result<T, E>;
