//! What `price`, `settle` and `report` share on the command line: opening files
//! (`-` = stdin/stdout) and naming the side files of an output.

use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Result;

/// Opens an input file, `-` meaning stdin.
pub fn open_input(path: &str) -> Result<Box<dyn Read + Send>> {
    Ok(super::open_input(path)?.0)
}

/// Creates a buffered output file, `-` meaning stdout.
pub fn open_output(path: &str) -> Result<Box<dyn Write + Send>> {
    Ok(Box::new(BufWriter::with_capacity(
        1 << 16,
        super::open_output(path)?,
    )))
}

/// `out.csv` + `summary` → `out.summary.csv`; None for stdout.
pub fn sibling(output: &str, tag: &str) -> Option<PathBuf> {
    if output == "-" {
        return None;
    }
    let p = Path::new(output);
    let stem = p.file_stem()?.to_string_lossy().into_owned();
    let ext = p
        .extension()
        .map_or_else(|| "csv".to_owned(), |e| e.to_string_lossy().into_owned());
    Some(p.with_file_name(format!("{stem}.{tag}.{ext}")))
}
