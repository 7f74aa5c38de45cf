//! Errors of the pricing crate: loading a policy, and pricing one case.

use std::path::PathBuf;

/// A policy file (or a file it names) could not be read or is not valid.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file could not be read. Check the path and permissions.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML. The message gives line and column.
    #[error("{path} is not valid TOML: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A key holds a value of the wrong type or out of range. Fix the value as the
    /// reason says (see docs/policy.md for every key).
    #[error("policy key `{key}` has invalid value {value}: {reason}")]
    Invalid {
        /// Dotted key, e.g. `benefits.inpatient.employee.ratio.3`.
        key: String,
        /// The value as written.
        value: String,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// A required key is absent. Add it (see docs/policy.md).
    #[error("policy key `{key}` is missing: {what}")]
    Missing {
        /// Dotted key.
        key: String,
        /// What the key should hold.
        what: String,
    },
    /// A key the policy format does not define (often a typo). Remove or correct it.
    #[error("policy key `{key}` is not part of the policy format (typo?)")]
    UnknownKey {
        /// Dotted key.
        key: String,
    },
    /// A row of a weights or scores CSV file is malformed. Fix the row.
    #[error("{path}, line {line}, field `{field}`: {message}")]
    Table {
        /// The CSV file.
        path: PathBuf,
        /// 1-based line number (the header is line 1).
        line: u64,
        /// Column name.
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// Why one case could not be priced. The CLI writes the message on the case's row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PriceError {
    /// The case's DRG or DIP code is not in the policy's weights or scores. Either the
    /// case was grouped with another scheme/catalogue than the policy's, or the
    /// weights file lacks the group.
    #[error("{method} group `{group}` is not in the policy ({table})")]
    UnknownGroup {
        /// `drg` or `dip`.
        method: &'static str,
        /// The code.
        group: String,
        /// Where the policy looked (weights file, scores file).
        table: &'static str,
    },
    /// The policy has no `[drg]` or `[dip]` section for this case's method.
    #[error("the policy has no [{0}] section, so {0} cases cannot be priced")]
    MethodNotInPolicy(&'static str),
    /// The grouper rejected the case (status `invalid`); fix the case data and regroup.
    #[error("case was not grouped (status {0}); fix the case and group it again")]
    NotGrouped(String),
    /// The policy says ungrouped/ambiguous cases are rejected rather than paid.
    #[error("{0} case rejected by policy rule `outliers.{0}.rule = \"reject\"`")]
    RejectedByPolicy(&'static str),
    /// A DIP case has neither a score from the catalogue nor a usable `score` value.
    #[error("DIP case has no usable score (need a positive `score`)")]
    NoScore,
    /// A DIP auxiliary coefficient (`aux_coef`) of zero or below: it multiplies the
    /// score, so it must be positive (leave the field empty for 1).
    #[error("auxiliary coefficient {0} must be positive (leave it empty for 1)")]
    AuxCoef(String),
    /// The separately paid negotiated drug cost is negative or above the total cost.
    #[error("negotiated drug cost {negotiated} must be between 0 and the total cost {total}")]
    Negotiated {
        /// The negotiated drug cost.
        negotiated: String,
        /// The case's total cost.
        total: String,
    },
    /// The payment standard came out zero or negative (e.g. a zero weight); the case
    /// is rejected rather than paid nothing.
    #[error("payment standard is {0}, not positive; check the group's weight/score")]
    NonPositive(String),
}
