//! What the pipelines share on input: a CSV reader that accepts what spreadsheets
//! write, columns found by name, and fields parsed with messages naming the field.

use std::io::Read;
use std::str::FromStr;

use rust_decimal::Decimal;

use crate::error::{PipelineError, Result};

/// A CSV reader that accepts a BOM, CRLF and rows of varying length.
pub(crate) fn csv_reader<R: Read>(r: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .buffer_capacity(1 << 16)
        .from_reader(r)
}

/// Column positions found in a header: the first column of each name wins (so the
/// grouping columns before `group --carry`'s copies of the input are used).
pub(crate) struct Header {
    names: Vec<String>,
}

impl Header {
    /// Reads the header of `rdr`, dropping a UTF-8 BOM.
    pub(crate) fn read<R: Read>(rdr: &mut csv::Reader<R>) -> Result<Self> {
        let h = rdr
            .byte_headers()
            .map_err(PipelineError::csv("reading the CSV header"))?;
        let names = h
            .iter()
            .map(|f| {
                String::from_utf8_lossy(f)
                    .trim_start_matches('\u{feff}')
                    .trim()
                    .to_ascii_lowercase()
            })
            .collect();
        Ok(Self { names })
    }

    /// A header from column names already read (compared trimmed, in lower case).
    pub(crate) fn from_names(names: &[String]) -> Self {
        Self {
            names: names
                .iter()
                .map(|n| n.trim().to_ascii_lowercase())
                .collect(),
        }
    }

    /// Position of `name`, if present.
    pub(crate) fn find(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// Position of a required column, or an error naming it.
    pub(crate) fn require(&self, name: &str, why: &'static str) -> Result<usize> {
        self.find(name).ok_or_else(|| PipelineError::MissingColumn {
            name: name.to_owned(),
            why,
            found: self.names.join(","),
        })
    }
}

/// Field `idx` of a record as trimmed UTF-8, or an error naming the field.
pub(crate) fn field<'r>(
    rec: &'r csv::ByteRecord,
    idx: usize,
    name: &str,
) -> Result<&'r str, String> {
    let raw = rec.get(idx).unwrap_or(b"");
    let s = std::str::from_utf8(raw).map_err(|_| format!("field `{name}`: invalid UTF-8"))?;
    Ok(s.trim())
}

/// Optional field: empty string when the column is absent.
pub(crate) fn opt_field<'r>(
    rec: &'r csv::ByteRecord,
    idx: Option<usize>,
    name: &str,
) -> Result<&'r str, String> {
    match idx {
        Some(i) => field(rec, i, name),
        None => Ok(""),
    }
}

/// Longest field accepted; longer ones are rejected rather than carried.
pub const MAX_FIELD: usize = 4096;

/// Parses a decimal amount, naming the field on failure.
pub(crate) fn decimal(s: &str, name: &str) -> Result<Decimal, String> {
    if s.is_empty() {
        return Err(format!("field `{name}` is empty"));
    }
    if s.len() > 40 {
        return Err(format!("field `{name}` is too long to be a number"));
    }
    Decimal::from_str(s).map_err(|_| format!("field `{name}`: `{s}` is not a number"))
}

/// Parses a non-negative amount of money (at most 2 decimals are kept by rounding).
pub(crate) fn money(s: &str, name: &str) -> Result<Decimal, String> {
    let d = decimal(s, name)?;
    if d < Decimal::ZERO {
        return Err(format!("field `{name}`: {s} is negative"));
    }
    Ok(drgdip_pricing::money::round_yuan(d))
}

/// Writes a decimal with its own scale (no float formatting anywhere).
pub(crate) fn dec(d: Decimal) -> String {
    d.normalize().to_string()
}
