//! Errors of reading, compiling and building DIP catalogues.

use std::fmt;
use std::path::PathBuf;

/// One fault in a catalogue: which file, which 1-based line (0 = the file as a whole),
/// which field, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file name inside the catalogue folder (`types.csv`, `catalog.json`…).
    pub file: String,
    /// 1-based line of the row (the header is line 1); 0 when the fault is not one row's.
    pub line: u64,
    /// The column (or JSON path) at fault.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: line {}, field `{}`: {}",
            self.file, self.line, self.field, self.message
        )
    }
}

/// Why a catalogue could not be read, compiled or written.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A catalogue file could not be read or written. Check the path and permissions.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The catalogue has faults; each names file, row and field. Fix the rows and retry.
    #[error("the catalogue has {} problem(s):\n  {}", .0.len(), display_all(.0))]
    Invalid(Vec<Problem>),
}

fn display_all(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("\n  ")
}

impl CatalogError {
    /// The problems of an [`CatalogError::Invalid`] error (empty for I/O errors).
    pub fn problems(&self) -> &[Problem] {
        match self {
            CatalogError::Invalid(p) => p,
            CatalogError::Io { .. } => &[],
        }
    }
}

/// Why a catalogue could not be built from history.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The history has no usable case (all rejected or excluded): check the input file.
    #[error("the history has no usable case")]
    Empty,
    /// The history spans more years than `year_weights` has weights: give one weight per
    /// year (oldest first), e.g. `1:2:7` for three years.
    #[error(
        "the history spans {years} years ({first}..{last}) but the year weights have {weights} entries: give one weight per year, oldest first"
    )]
    Years {
        /// Distinct years in the history.
        years: usize,
        /// Oldest year.
        first: u16,
        /// Newest year.
        last: u16,
        /// Entries of the weights.
        weights: usize,
    },
    /// A build setting is out of range (named in the message).
    #[error("invalid build setting: {0}")]
    Config(String),
    /// The catalogue built from the history does not compile: the supplied tables
    /// (attributes, exclusions, auxiliary rows) conflict with the built types.
    #[error("the built catalogue does not compile: {0}")]
    Catalog(#[from] CatalogError),
}
