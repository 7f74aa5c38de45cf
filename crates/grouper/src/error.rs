//! Errors of reading, compiling, saving and loading schemes.
//!
//! Grouping a case never fails: an ungroupable or invalid case is an outcome
//! ([`crate::Status`]), not an error.

use std::path::PathBuf;

/// Why a scheme could not be read or compiled. Every variant names where the fault is.
#[derive(Debug, thiserror::Error)]
pub enum SchemeError {
    /// A scheme file could not be read. Check the path and permissions.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// `scheme.json` is not valid JSON or does not have the documented shape.
    #[error("{path}: at `{at}`: {message}")]
    Json {
        /// The file.
        path: PathBuf,
        /// JSON path of the fault, e.g. `adrgs[3].rule.args[0]`.
        at: String,
        /// What is wrong.
        message: String,
    },
    /// A CSV table of the scheme has a malformed row or header.
    #[error("{path}: line {line}, field `{field}`: {message}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// The column.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A workbook (`.xlsx`) could not be opened as a workbook or a sheet of it read.
    #[error("{path}: {message}")]
    Workbook {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The scheme is readable but inconsistent: each problem names file, item and field.
    #[error("the scheme has {} problem(s):\n  {}", .0.len(), .0.join("\n  "))]
    Invalid(Vec<String>),
}

/// Why a compiled file (DRG scheme or DIP catalogue) could not be saved or loaded.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The bytes are not a drgdip compiled file of the expected kind (wrong label).
    #[error(
        "not a drgdip compiled file of the expected kind (the file does not start with its label: a scheme where a catalogue is expected, or not a drgdip file at all)"
    )]
    NotAnArtifact,
    /// Written by another format version; recompile it with this drgdip.
    #[error(
        "compiled file format version {found}, this drgdip reads version {expected}: recompile it with `drgdip scheme compile` or `drgdip dip compile`"
    )]
    Version {
        /// In the file.
        found: u32,
        /// What this build reads.
        expected: u32,
    },
    /// The file is shorter or longer than its header says: it was truncated or appended to.
    #[error(
        "compiled file is truncated or has trailing bytes: header says {expected} payload bytes, file has {found}"
    )]
    Length {
        /// From the header.
        expected: u64,
        /// In the file.
        found: u64,
    },
    /// The payload does not match its checksum: the file is corrupted.
    #[error("compiled file is corrupted: checksum mismatch")]
    Checksum,
    /// The payload could not be decoded.
    #[error("compiled file cannot be decoded: {0}")]
    Decode(String),
    /// The payload decodes but its tables contradict each other (an index out of range,
    /// a cycle in the rules): the file was crafted or written by a faulty build.
    #[error("compiled file is inconsistent: {0}; recompile it from its source")]
    Invalid(String),
    /// The payload could not be encoded.
    #[error("compiled file cannot be encoded: {0}")]
    Encode(String),
}
