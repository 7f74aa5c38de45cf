//! Excel workbooks: `.xlsx` case files in (calamine), result workbooks out
//! (rust_xlsxwriter).
//!
//! A sheet is read whole and turned into CSV text (one line per sheet row, header first)
//! that the ordinary pipeline then reads, so every rule of `docs/input-format.md` holds
//! for workbooks too and "line N" is row N of the sheet. Writing goes the other way: the
//! CSV a command produced becomes a one-sheet workbook.

use std::io::Read;
use std::path::Path;

use calamine::{Data, Reader, open_workbook_auto};
use rust_xlsxwriter::{Format, Workbook, XlsxError};

use crate::stream::Out;

/// The most rows an Excel sheet holds (header included).
pub const MAX_ROWS: usize = 1_048_576;

/// Why a workbook could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ExcelError {
    /// The file cannot be opened as a workbook.
    #[error("{path}: cannot read the workbook: {message}")]
    Open {
        /// The file.
        path: String,
        /// The reader's message.
        message: String,
    },
    /// The sheet asked for does not exist.
    #[error("{path}: no sheet named `{sheet}` (its sheets: {sheets})")]
    NoSheet {
        /// The file.
        path: String,
        /// The sheet asked for.
        sheet: String,
        /// The sheets it has.
        sheets: String,
    },
    /// The workbook has no sheet at all, or the sheet is empty.
    #[error("{path}, sheet `{sheet}`: the sheet is empty")]
    Empty {
        /// The file.
        path: String,
        /// The sheet.
        sheet: String,
    },
    /// A cell holds an Excel error value (`#N/A`, `#VALUE!`…).
    #[error(
        "{path}, sheet `{sheet}`, row {row}, column {column}: the cell holds the Excel error {value}"
    )]
    Cell {
        /// The file.
        path: String,
        /// The sheet.
        sheet: String,
        /// 1-based sheet row.
        row: usize,
        /// Column letter(s).
        column: String,
        /// The error value.
        value: String,
    },
    /// The results do not fit in one sheet.
    #[error(
        "{path}: {rows} rows do not fit in one Excel sheet (at most {MAX_ROWS}); write CSV instead"
    )]
    TooManyRows {
        /// The file.
        path: String,
        /// Rows to write.
        rows: usize,
    },
    /// The CSV to convert could not be read.
    #[error("{path}: {message}")]
    Csv {
        /// The file being written.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The writer failed.
    #[error("{path}: cannot write the workbook: {source}")]
    Write {
        /// The file.
        path: String,
        /// The writer's error.
        source: XlsxError,
    },
}

/// True when a path names a workbook (`.xlsx`, `.xlsm`, `.xls`, `.ods`; case-insensitive).
pub fn is_workbook(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    [".xlsx", ".xlsm", ".xls", ".ods"]
        .iter()
        .any(|ext| lower.ends_with(ext))
}

/// The column letters of a 0-based column index (`0` → `A`, `27` → `AB`).
pub use drgdip_grouper::workbook::column_letters;

/// Reads one sheet (`sheet`, or the first) of a workbook as CSV text: one line per sheet
/// row from the first row of the used range. Returns the CSV and the sheet's name.
/// Whole-number cells are written without `.0`; dates as `YYYY-MM-DD` (with
/// ` HH:MM:SS` when they have a time); line breaks inside a cell become spaces so that
/// line N stays sheet row N.
pub fn read_sheet(path: &Path, sheet: Option<&str>) -> Result<(Vec<u8>, String), ExcelError> {
    let p = path.display().to_string();
    let mut book = open_workbook_auto(path).map_err(|e| ExcelError::Open {
        path: p.clone(),
        message: e.to_string(),
    })?;
    let names = book.sheet_names();
    let name = match sheet {
        Some(s) => names
            .iter()
            .find(|n| n.as_str() == s)
            .cloned()
            .ok_or_else(|| ExcelError::NoSheet {
                path: p.clone(),
                sheet: s.into(),
                sheets: names.join(", "),
            })?,
        None => names.first().cloned().ok_or_else(|| ExcelError::Empty {
            path: p.clone(),
            sheet: String::new(),
        })?,
    };
    let range = book.worksheet_range(&name).map_err(|e| ExcelError::Open {
        path: p.clone(),
        message: e.to_string(),
    })?;
    if range.is_empty() {
        return Err(ExcelError::Empty {
            path: p,
            sheet: name,
        });
    }
    let (first_row, first_col) = range.start().unwrap_or((0, 0));
    let mut out = Out::with_capacity(range.get_size().0 * 64);
    let mut cell = String::new();
    for (r, row) in range.rows().enumerate() {
        for (c, value) in row.iter().enumerate() {
            cell.clear();
            match value {
                Data::Empty => {}
                Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => {
                    cell.push_str(s);
                }
                Data::Int(i) => cell.push_str(&i.to_string()),
                Data::Float(f) => cell.push_str(&number(*f)),
                Data::Bool(b) => cell.push_str(if *b { "1" } else { "0" }),
                Data::DateTime(d) => {
                    let (y, m, day, h, min, s, _) = d.to_ymd_hms_milli();
                    cell.push_str(&format!("{y:04}-{m:02}-{day:02}"));
                    if (h, min, s) != (0, 0, 0) {
                        cell.push_str(&format!(" {h:02}:{min:02}:{s:02}"));
                    }
                }
                Data::Error(e) => {
                    return Err(ExcelError::Cell {
                        path: p,
                        sheet: name,
                        row: first_row as usize + r + 1,
                        column: column_letters(first_col as usize + c),
                        value: e.to_string(),
                    });
                }
            }
            if cell.contains(['\n', '\r']) {
                cell = cell.replace("\r\n", " ").replace(['\n', '\r'], " ");
            }
            out.write_field(cell.as_bytes());
        }
        out.end_record();
    }
    Ok((out.into_inner(), name))
}

/// A float cell as text: whole numbers without a fraction, others in the shortest form
/// that reads back the same.
fn number(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// Writes CSV text (with a header row) as a one-sheet workbook at `path`. A field becomes
/// a number only where reading the sheet back gives the same value: its text comes back
/// unchanged (`12.5`, `3`), or it is an amount to the fen (`12.50`, shown as `0.00`).
/// Codes and ids stay text: fields of code columns (by header: `dx`, `px`, `drg`,
/// `case_id`, `编码`, …) and fields a number would change (`0012`, `54.5100`).
pub fn write_csv_as_workbook(
    csv: impl Read,
    path: &Path,
    sheet: &str,
) -> Result<usize, ExcelError> {
    let p = path.display().to_string();
    let mut book = Workbook::new();
    let ws = book
        .add_worksheet_with_constant_memory()
        .and_then(|ws| ws.set_name(sheet))
        .map_err(|source| ExcelError::Write {
            path: p.clone(),
            source,
        })?;
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(csv);
    let mut rec = csv::StringRecord::new();
    let mut rows = 0usize;
    let mut code_columns: Vec<bool> = Vec::new();
    let fen = Format::new().set_num_format("0.00");
    let write_err = |source| ExcelError::Write {
        path: p.clone(),
        source,
    };
    loop {
        match rdr.read_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                return Err(ExcelError::Csv {
                    path: p.clone(),
                    message: e.to_string(),
                });
            }
        }
        if rows >= MAX_ROWS {
            // Count the rest for the message.
            let rest = rdr.records().count();
            return Err(ExcelError::TooManyRows {
                path: p.clone(),
                rows: rows + 1 + rest,
            });
        }
        if rows == 0 {
            code_columns = rec.iter().map(code_like).collect();
        }
        for (c, field) in rec.iter().enumerate() {
            let code = code_columns.get(c).copied().unwrap_or(false);
            let (r, c) = (rows as u32, c as u16);
            match numeric(field).filter(|_| rows > 0) {
                Some(Cell::Exact(v)) if !code => ws.write_number(r, c, v).map_err(write_err)?,
                Some(Cell::Fen(v)) if !code => ws
                    .write_number_with_format(r, c, v, &fen)
                    .map_err(write_err)?,
                _ => ws.write_string(r, c, field).map_err(write_err)?,
            };
        }
        rows += 1;
    }
    book.save(path).map_err(|source| ExcelError::Write {
        path: p.clone(),
        source,
    })?;
    Ok(rows)
}

/// How a field that looks like a number goes into a cell.
#[derive(Debug, PartialEq)]
enum Cell {
    /// Read back, the number gives the very same text (`12.5`, `3`, `54.5101`).
    Exact(f64),
    /// An amount to the fen whose text a number would shorten (`12.50`, `3.00`): a number
    /// shown with two decimals, except in a code column.
    Fen(f64),
}

/// A field Excel can hold as a number without losing anything on the way back: its text
/// must come back unchanged, or it is an amount with exactly two decimals. Anything else
/// (`0012`, `54.5100`, ids of 16 digits and more) stays text.
fn numeric(field: &str) -> Option<Cell> {
    let digits = field.strip_prefix('-').unwrap_or(field);
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let plain = !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && (whole == "0" || !whole.starts_with('0'))
        && (digits.len() - usize::from(!frac.is_empty())) <= 15
        && !(digits.contains('.') && frac.is_empty());
    let v: f64 = plain.then(|| field.parse().ok()).flatten()?;
    if number(v) == field {
        Some(Cell::Exact(v))
    } else if frac.len() == 2 {
        Some(Cell::Fen(v))
    } else {
        None
    }
}

/// Whether a column holds codes or ids by its header (`dx`, `px`, `drg`, `case_id`,
/// `手术操作编码1`, …): its fields are never shortened into numbers.
fn code_like(header: &str) -> bool {
    let h = header.trim().to_ascii_lowercase();
    [
        "code", "dx", "px", "drg", "mdc", "dip", "id", "编码", "诊断", "手术", "操作",
    ]
    .iter()
    .any(|k| h.contains(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_text() {
        assert_eq!(numeric("12.50"), Some(Cell::Fen(12.5)));
        assert_eq!(numeric("-3"), Some(Cell::Exact(-3.0)));
        assert_eq!(numeric("0.25"), Some(Cell::Exact(0.25)));
        assert_eq!(numeric("54.5101"), Some(Cell::Exact(54.5101)));
        // A procedure code would lose its zeros: text.
        assert_eq!(numeric("54.5100"), None);
        assert_eq!(numeric("3.0"), None);
        assert_eq!(numeric("0012"), None);
        assert_eq!(numeric("0000"), None);
        assert_eq!(numeric("110101199001011234"), None);
        assert_eq!(numeric("1."), None);
        assert_eq!(numeric("K35.800"), None);
        assert_eq!(numeric(""), None);
        assert_eq!(number(3.0), "3");
        assert_eq!(number(1234.56), "1234.56");
    }

    #[test]
    fn codes_and_amounts_come_back_from_a_written_workbook() {
        let dir = std::env::temp_dir().join(format!("drgdip-excel-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("round.xlsx");
        let csv = "case_id,px,手术操作编码1,total_cost,score,note\n\
                   0012,54.5100,54.5100,12.50,0.25,54.5100\n\
                   7,54.5101|45.1300,5451,3,1.5,\n";
        let rows = write_csv_as_workbook(csv.as_bytes(), &path, "cases").unwrap();
        assert_eq!(rows, 3);
        let (back, sheet) = read_sheet(&path, None).unwrap();
        assert_eq!(sheet, "cases");
        // Codes and ids come back as written; the amount 12.50 was a number (12.5) and
        // reads back as that value; a field a number would change stays text.
        assert_eq!(
            String::from_utf8(back).unwrap(),
            "case_id,px,手术操作编码1,total_cost,score,note\n\
             0012,54.5100,54.5100,12.5,0.25,54.5100\n\
             7,54.5101|45.1300,5451,3,1.5,\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
