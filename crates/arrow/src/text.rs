//! Arrow columns read as the text a CSV file would hold, so that the CSV path's row
//! parsers (`drgdip_io::parse_case`, …) see the same bytes whichever way a table came.
//!
//! Strings are borrowed from the Arrow buffers; integers, decimals and dates are
//! written into a per-row scratch buffer; a list of strings is joined with `|`; null
//! (and a float NaN, pandas' missing value) is an empty field.

use std::fmt::Write as _;
use std::io::Write as _;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Decimal128Type, Float32Type, Float64Type, Int8Type, Int16Type,
    Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;

use crate::Error;

/// One column, typed once, read row by row as text.
pub(crate) enum TextColumn<'a> {
    /// A column absent from the table: every field empty.
    Absent,
    /// Utf8.
    Str(&'a arrow_array::StringArray),
    /// LargeUtf8.
    LargeStr(&'a arrow_array::LargeStringArray),
    /// Utf8View.
    View(&'a arrow_array::StringViewArray),
    /// Any signed integer, widened.
    Int(Box<dyn Fn(usize) -> i64 + Send + Sync + 'a>),
    /// Any unsigned integer, widened.
    UInt(Box<dyn Fn(usize) -> u64 + Send + Sync + 'a>),
    /// Float32/Float64, widened.
    Float(Box<dyn Fn(usize) -> f64 + Send + Sync + 'a>),
    /// Boolean: `1`/`0`.
    Bool(&'a arrow_array::BooleanArray),
    /// Decimal128 with its scale.
    Decimal(&'a arrow_array::Decimal128Array, i8),
    /// Days since 1970-01-01 (Date32, or Date64 divided).
    Date(Box<dyn Fn(usize) -> i64 + Send + Sync + 'a>),
    /// A list of strings, joined with `|`.
    List(&'a ArrayRef, ListKind),
    /// A list of strings (large offsets), joined with `|`.
    LargeList(&'a ArrayRef, ListKind),
    /// The Null type (an all-null column).
    Null,
}

/// The string type of a list's items.
#[derive(Clone, Copy)]
pub(crate) enum ListKind {
    Str,
    LargeStr,
    View,
}

/// Where one row's field is: borrowed from the column, or in the scratch buffer.
#[derive(Clone, Copy)]
pub(crate) enum Cell<'a> {
    /// Null or absent.
    Empty,
    /// Borrowed from the Arrow buffer.
    Slice(&'a [u8]),
    /// `scratch[start..end]`.
    Scratch(usize, usize),
}

fn list_kind(name: &str, item: &DataType, whole: &DataType) -> Result<ListKind, Error> {
    match item {
        DataType::Utf8 => Ok(ListKind::Str),
        DataType::LargeUtf8 => Ok(ListKind::LargeStr),
        DataType::Utf8View => Ok(ListKind::View),
        _ => Err(Error::UnsupportedType {
            column: name.to_owned(),
            data_type: whole.to_string(),
        }),
    }
}

impl<'a> TextColumn<'a> {
    /// Types the column `name`, or says why its type cannot be read as text.
    pub(crate) fn new(name: &str, array: &'a ArrayRef) -> Result<TextColumn<'a>, Error> {
        macro_rules! int {
            ($t:ty, $v:ident) => {{
                let a = array.as_primitive::<$t>();
                TextColumn::$v(Box::new(move |i| a.value(i).into()))
            }};
        }
        Ok(match array.data_type() {
            DataType::Utf8 => TextColumn::Str(array.as_string::<i32>()),
            DataType::LargeUtf8 => TextColumn::LargeStr(array.as_string::<i64>()),
            DataType::Utf8View => TextColumn::View(array.as_string_view()),
            DataType::Int8 => int!(Int8Type, Int),
            DataType::Int16 => int!(Int16Type, Int),
            DataType::Int32 => int!(Int32Type, Int),
            DataType::Int64 => int!(Int64Type, Int),
            DataType::UInt8 => int!(UInt8Type, UInt),
            DataType::UInt16 => int!(UInt16Type, UInt),
            DataType::UInt32 => int!(UInt32Type, UInt),
            DataType::UInt64 => int!(UInt64Type, UInt),
            DataType::Float32 => int!(Float32Type, Float),
            DataType::Float64 => int!(Float64Type, Float),
            DataType::Boolean => TextColumn::Bool(array.as_boolean()),
            DataType::Decimal128(_, scale) => {
                TextColumn::Decimal(array.as_primitive::<Decimal128Type>(), *scale)
            }
            DataType::Date32 => int!(Date32Type, Date),
            DataType::Date64 => {
                let a = array.as_primitive::<Date64Type>();
                TextColumn::Date(Box::new(move |i| a.value(i).div_euclid(86_400_000)))
            }
            t @ DataType::List(item) => {
                TextColumn::List(array, list_kind(name, item.data_type(), t)?)
            }
            t @ DataType::LargeList(item) => {
                TextColumn::LargeList(array, list_kind(name, item.data_type(), t)?)
            }
            DataType::Null => TextColumn::Null,
            other => {
                return Err(Error::UnsupportedType {
                    column: name.to_owned(),
                    data_type: other.to_string(),
                });
            }
        })
    }

    /// Row `i` as text: borrowed, or appended to `scratch`.
    pub(crate) fn cell(
        &self,
        nulls: Option<&'a arrow_buffer::NullBuffer>,
        i: usize,
        scratch: &mut Vec<u8>,
    ) -> Cell<'a> {
        if nulls.is_some_and(|n| n.is_null(i)) {
            return Cell::Empty;
        }
        let start = scratch.len();
        match self {
            TextColumn::Absent | TextColumn::Null => return Cell::Empty,
            TextColumn::Str(a) => return Cell::Slice(a.value(i).as_bytes()),
            TextColumn::LargeStr(a) => return Cell::Slice(a.value(i).as_bytes()),
            TextColumn::View(a) => return Cell::Slice(a.value(i).as_bytes()),
            TextColumn::Int(f) => {
                let _ = write!(scratch, "{}", f(i));
            }
            TextColumn::UInt(f) => {
                let _ = write!(scratch, "{}", f(i));
            }
            TextColumn::Float(f) => {
                let v = f(i);
                if v.is_nan() {
                    return Cell::Empty;
                }
                // A whole number (pandas turns an integer column with gaps into floats)
                // is written as an integer; anything else as it is, for the parser to
                // reject with the field's name.
                if v.fract() == 0.0 && v.abs() < 1e15 {
                    let _ = write!(scratch, "{}", v as i64);
                } else {
                    let _ = write!(scratch, "{v}");
                }
            }
            TextColumn::Bool(a) => scratch.push(if a.value(i) { b'1' } else { b'0' }),
            TextColumn::Decimal(a, scale) => decimal(a.value(i), *scale, scratch),
            TextColumn::Date(f) => date(f(i), scratch),
            TextColumn::List(a, kind) => {
                let list = a.as_list::<i32>();
                join(&list.value(i), *kind, scratch);
            }
            TextColumn::LargeList(a, kind) => {
                let list = a.as_list::<i64>();
                join(&list.value(i), *kind, scratch);
            }
        }
        Cell::Scratch(start, scratch.len())
    }
}

/// The items of a list of strings joined with `|` (null items skipped).
fn join(items: &ArrayRef, kind: ListKind, scratch: &mut Vec<u8>) {
    let mut first = true;
    let mut push = |s: &str| {
        if !first {
            scratch.push(b'|');
        }
        first = false;
        scratch.extend_from_slice(s.as_bytes());
    };
    match kind {
        ListKind::Str => items
            .as_string::<i32>()
            .iter()
            .flatten()
            .for_each(&mut push),
        ListKind::LargeStr => items
            .as_string::<i64>()
            .iter()
            .flatten()
            .for_each(&mut push),
        ListKind::View => items.as_string_view().iter().flatten().for_each(&mut push),
    }
}

/// A Decimal128 as plain text: `12345` at scale 2 → `123.45`.
fn decimal(v: i128, scale: i8, out: &mut Vec<u8>) {
    let mut s = String::new();
    if scale <= 0 {
        let _ = write!(s, "{v}");
        for _ in 0..(-scale) {
            s.push('0');
        }
    } else {
        let p = 10i128.pow(scale as u32);
        let sign = if v < 0 { "-" } else { "" };
        let a = v.unsigned_abs();
        let p = p as u128;
        let _ = write!(s, "{sign}{}.{:0w$}", a / p, a % p, w = scale as usize);
    }
    out.extend_from_slice(s.as_bytes());
}

/// Days since 1970-01-01 as `YYYY-MM-DD` (proleptic Gregorian).
fn date(days: i64, out: &mut Vec<u8>) {
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let _ = write!(out, "{y:04}-{m:02}-{d:02}");
}

/// The columns `names` of a batch read as text (an absent name reads as empty).
pub(crate) struct TextRow<'a> {
    columns: Vec<(TextColumn<'a>, Option<&'a arrow_buffer::NullBuffer>)>,
    cells: Vec<Cell<'a>>,
}

impl<'a> TextRow<'a> {
    /// Columns by index into `arrays` (`None` = absent).
    pub(crate) fn new(
        arrays: &'a [ArrayRef],
        names: &[String],
        picks: &[Option<usize>],
    ) -> Result<TextRow<'a>, Error> {
        let mut columns = Vec::with_capacity(picks.len());
        for pick in picks {
            columns.push(match pick {
                None => (TextColumn::Absent, None),
                Some(i) => (
                    TextColumn::new(&names[*i], &arrays[*i])?,
                    arrays[*i].nulls(),
                ),
            });
        }
        Ok(TextRow {
            cells: Vec::with_capacity(columns.len()),
            columns,
        })
    }

    /// Reads row `i` into `scratch`; then [`TextRow::field`] gives each column's bytes.
    pub(crate) fn read(&mut self, i: usize, scratch: &mut Vec<u8>) {
        scratch.clear();
        self.cells.clear();
        for (c, nulls) in &self.columns {
            self.cells.push(c.cell(*nulls, i, scratch));
        }
    }

    /// Column `k` of the row last read (`None` when null or absent).
    pub(crate) fn field<'s>(&self, k: usize, scratch: &'s [u8]) -> Option<&'s [u8]>
    where
        'a: 's,
    {
        match self.cells[k] {
            Cell::Empty => None,
            Cell::Slice(s) => Some(s),
            Cell::Scratch(a, b) => Some(&scratch[a..b]),
        }
    }

    /// How many columns.
    pub(crate) fn len(&self) -> usize {
        self.columns.len()
    }
}
