//! The DIP grouping job: case rows in, `case_id,status,dip_code,layer,score,…` rows out.

use std::fmt::Write as _;

use drgdip_grouper::dip::{Catalog, DipCase, DipScratch, DipStatus};

use crate::fields::{self, FieldError};
use crate::stream::{Column, Job, Out, Row, push_decimal};

const fn col(name: &'static str, required: bool) -> Column {
    Column { name, required }
}

/// Input columns of DIP grouping: the case columns of DRG grouping plus the optional
/// `icu_days`, `vent_hours` and `total_cost` (auxiliary sub-types, pre-grouping).
pub const DIP_COLUMNS: [Column; 13] = [
    col("case_id", true),
    col("sex", false),
    col("age", false),
    col("age_days", false),
    col("weight", false),
    col("dept", false),
    col("los", false),
    col("discharge_way", false),
    col("diagnoses", true),
    col("procedures", false),
    col("icu_days", false),
    col("vent_hours", false),
    col("total_cost", false),
];

/// The output header of `drgdip dip group`.
pub const DIP_HEADER: [&str; 12] = [
    "case_id",
    "status",
    "dip_code",
    "layer",
    "score",
    "name",
    "aux_type",
    "aux_coef",
    "primary_care",
    "catalog",
    "warnings",
    "message",
];

/// Parses an amount of money (`1234.56`, `1234.5`, `1234`) into fen; more than two
/// decimals, a sign or anything else is an error naming line and field.
pub fn fen(line: u64, field: &str, bytes: &[u8]) -> Result<Option<i64>, FieldError> {
    // The usual field: ASCII digits with at most 2 decimals, perhaps between ASCII
    // spaces, read from the bytes.
    let t = bytes.trim_ascii();
    if bytes.len() <= fields::MAX_FIELD {
        let (whole, frac) = match memchr::memchr(b'.', t) {
            Some(dot) => (&t[..dot], &t[dot + 1..]),
            None => (t, &[][..]),
        };
        if !whole.is_empty()
            && whole.len() <= 15
            && whole.iter().all(u8::is_ascii_digit)
            && frac.len() <= 2
            && frac.iter().all(u8::is_ascii_digit)
        {
            let digits = |d: &[u8]| d.iter().fold(0i64, |v, &b| v * 10 + i64::from(b - b'0'));
            let cents = match frac.len() {
                0 => 0,
                1 => 10 * digits(frac),
                _ => digits(frac),
            };
            return Ok(Some(digits(whole) * 100 + cents));
        }
    }
    let s = fields::text(line, field, bytes)?.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let bad = || {
        FieldError(format!(
            "line {line}, field `{field}`: `{s}` is not an amount in yuan with at most 2 decimals"
        ))
    };
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty()
        || whole.len() > 15
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 2
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let mut v: i64 = whole.parse().map_err(|_| bad())?;
    v *= 100;
    match frac.len() {
        1 => v += 10 * (frac.as_bytes()[0] - b'0') as i64,
        2 => v += frac.parse::<i64>().map_err(|_| bad())?,
        _ => {}
    }
    Ok(Some(v))
}

/// Discharge way 1–9 (empty = `None`).
fn discharge_way(line: u64, bytes: &[u8]) -> Result<Option<u8>, FieldError> {
    // The usual field, from the bytes.
    match *bytes {
        [] => return Ok(None),
        [d @ b'1'..=b'9'] => return Ok(Some(d - b'0')),
        _ => {}
    }
    let s = fields::text(line, "discharge_way", bytes)?.trim();
    match s.as_bytes() {
        [] => Ok(None),
        [d @ b'1'..=b'9'] => Ok(Some(d - b'0')),
        _ => Err(FieldError(format!(
            "line {line}, field `discharge_way`: `{s}` is not a discharge way 1-9"
        ))),
    }
}

/// Appends a warning (`; `-separated).
fn warn(warnings: &mut String, w: std::fmt::Arguments<'_>) {
    if !warnings.is_empty() {
        warnings.push_str("; ");
    }
    let _ = warnings.write_fmt(w);
}

/// Fills a [`DipCase`] from a row of [`DIP_COLUMNS`]; codes the catalogue cannot place
/// are reported in `warnings`, bad fields as an error naming line and field.
pub fn parse_dip_case(
    catalog: &Catalog,
    row: &Row<'_>,
    case: &mut DipCase,
    warnings: &mut String,
) -> Result<(), FieldError> {
    case.clear();
    warnings.clear();
    if let Some(p) = &row.problem {
        return Err(FieldError(p.clone()));
    }
    let line = row.line;
    let id = fields::text(line, "case_id", row.get(0))?;
    if id.trim().is_empty() {
        return Err(FieldError(format!("line {line}, field `case_id`: empty")));
    }
    // The usual values need no check as text.
    if !matches!(row.get(1), b"" | b"1" | b"2") {
        fields::sex(line, row.get(1))?;
    }
    case.age = fields::count(line, "age", row.get(2))?;
    case.age_days = fields::count(line, "age_days", row.get(3))?;
    case.weight = fields::count(line, "weight", row.get(4))?;
    fields::text(line, "dept", row.get(5))?;
    case.los = fields::count(line, "los", row.get(6))?;
    case.discharge_way = discharge_way(line, row.get(7))?;
    case.icu_days = fields::count(line, "icu_days", row.get(10))?;
    case.vent_hours = fields::count(line, "vent_hours", row.get(11))?;
    case.total_cost = fen(line, "total_cost", row.get(12))?;
    let diagnoses = row.get(8);
    let mut on_dx = |code: &'_ str| {
        let found = catalog.dx(code);
        if !found.known {
            warn(
                warnings,
                format_args!("diagnosis `{code}` has no ICD-10 category the catalogue knows"),
            );
        }
        case.dx.push(found.id);
    };
    if catalog.is_national() {
        // National rules: empty items are skipped, even before the principal code.
        for code in fields::bar_parts(fields::text(line, "diagnoses", diagnoses)?) {
            let code = code.trim_ascii();
            if !code.is_empty() {
                on_dx(code);
            }
        }
    } else {
        fields::codes(line, "diagnoses", diagnoses, on_dx)?;
    }
    fields::codes(line, "procedures", row.get(9), |code| {
        let found = catalog.px(code);
        // The national catalogue has no attribute table: nothing to warn about.
        if !found.known && (catalog.has_attributes() || !catalog.is_national()) {
            warn(
                warnings,
                format_args!(
                    "procedure `{code}` has no attribute in the catalogue (taken as {})",
                    catalog.px_attribute(found.id).as_str()
                ),
            );
        }
        case.px.push(found.id);
    })?;
    if case.dx.is_empty() {
        return Err(FieldError(format!(
            "line {line}, field `diagnoses`: empty (the principal diagnosis is required)"
        )));
    }
    Ok(())
}

/// Groups every row with a compiled DIP catalogue.
pub struct DipGroupJob<'c> {
    /// The compiled catalogue.
    pub catalog: &'c Catalog,
    label: String,
    /// The output fields that depend only on the type or on the status, as CSV,
    /// escaped once here rather than on every row.
    fields: TypeFields,
}

/// Per type: its `dip_code,layer,score,name` fields; per auxiliary sub-type: its
/// `aux_type,aux_coef`; per status (its [`dip_category`] under national rules): the
/// seven fields `dip_code…primary_care` of a row without a type; the label. All as CSV
/// in one buffer.
struct TypeFields {
    text: Vec<u8>,
    /// `text[ranges[i].0..ranges[i].1]`: types, then aux sub-types, then `no_aux`, then
    /// statuses, then the label.
    ranges: Vec<(usize, usize)>,
    aux_start: usize,
    status_start: usize,
}

impl TypeFields {
    fn new(catalog: &Catalog, label: &str) -> TypeFields {
        let mut out = Out::with_capacity(64 * catalog.types().len());
        let mut ranges = Vec::new();
        let mut start = 0;
        let mut record = |out: &mut Out, fields: &[&str]| {
            for f in fields {
                out.write_field(f);
            }
            ranges.push((start, out.len()));
            out.end_record();
            start = out.len();
        };
        for t in catalog.types() {
            record(
                &mut out,
                &[&t.code, t.layer.as_str(), &t.score_text, &t.name],
            );
        }
        let aux_start = catalog.types().len();
        for a in catalog.aux_types() {
            record(&mut out, &[&a.code, &a.coefficient_text]);
        }
        record(&mut out, &["", "1"]);
        let status_start = aux_start + catalog.aux_types().len() + 1;
        for status in [
            DipStatus::Grouped,
            DipStatus::Composite,
            DipStatus::Ungrouped,
            DipStatus::Excluded,
            DipStatus::Invalid,
        ] {
            // National rules name the outcome in the layer column too.
            let layer = if catalog.is_national() {
                status.as_str()
            } else {
                ""
            };
            record(&mut out, &["", layer, "", "", "", "", "0"]);
        }
        record(&mut out, &[label]);
        TypeFields {
            text: out.into_inner(),
            ranges,
            aux_start,
            status_start,
        }
    }

    fn get(&self, i: usize) -> &[u8] {
        let (a, b) = self.ranges[i];
        &self.text[a..b]
    }

    fn label(&self) -> &[u8] {
        self.get(self.ranges.len() - 1)
    }

    /// `aux_type,aux_coef` of a sub-type (`None` = none).
    fn aux(&self, aux: Option<u32>) -> &[u8] {
        self.get(match aux {
            Some(a) => self.aux_start + a as usize,
            None => self.status_start - 1,
        })
    }

    /// The seven fields `dip_code…primary_care` of a row without a type.
    fn untyped(&self, status: DipStatus) -> &[u8] {
        self.get(self.status_start + dip_category(status, true))
    }
}

impl<'c> DipGroupJob<'c> {
    /// A job grouping with `catalog`.
    pub fn new(catalog: &'c Catalog) -> Self {
        let label = catalog.info().label();
        DipGroupJob {
            catalog,
            fields: TypeFields::new(catalog, &label),
            label,
        }
    }
}

/// Per-thread state of [`DipGroupJob`].
pub struct DipGroupState {
    case: DipCase,
    scratch: DipScratch,
    warnings: String,
}

/// Category index of a status in [`DipGroupJob`]'s summary; `national` catalogues
/// count `excluded` cases apart (drgdip catalogues never produce them).
pub fn dip_category(status: DipStatus, national: bool) -> usize {
    match status {
        DipStatus::Grouped => 0,
        DipStatus::Composite => 1,
        DipStatus::Ungrouped => 2,
        DipStatus::Excluded => 3,
        DipStatus::Invalid if national => 4,
        DipStatus::Invalid => 3,
    }
}

impl Job for DipGroupJob<'_> {
    type State = DipGroupState;

    fn columns(&self) -> &[Column] {
        &DIP_COLUMNS
    }

    fn header(&self) -> Vec<String> {
        DIP_HEADER.iter().map(|s| s.to_string()).collect()
    }

    fn categories(&self) -> &[&'static str] {
        // Rejected rows (invalid) come last.
        if self.catalog.is_national() {
            &["grouped", "composite", "ungrouped", "excluded", "invalid"]
        } else {
            &["grouped", "composite", "ungrouped", "invalid"]
        }
    }

    fn state(&self) -> DipGroupState {
        DipGroupState {
            case: DipCase::default(),
            scratch: self.catalog.scratch(),
            warnings: String::new(),
        }
    }

    fn row(&self, st: &mut DipGroupState, row: &Row<'_>, out: &mut Out) -> usize {
        let c = self.catalog;
        out.write_field(row.get(0));
        let status = match parse_dip_case(c, row, &mut st.case, &mut st.warnings) {
            Err(FieldError(msg)) => {
                let layer = if c.is_national() { "invalid" } else { "" };
                for f in ["invalid", "", layer, "", "", "", "", "0"] {
                    out.write_field(f);
                }
                out.write_field(&self.label);
                out.write_field(&st.warnings);
                out.write_field(&msg);
                return dip_category(DipStatus::Invalid, c.is_national());
            }
            Ok(()) => {
                let o = c.group(&st.case, &mut st.scratch);
                out.write_field(o.status.as_str());
                let tf = &self.fields;
                match o.type_id {
                    Some(t) => {
                        if !(out.write_csv_fields(tf.get(t as usize), 4)
                            && out.write_csv_fields(tf.aux(o.aux), 2))
                        {
                            // A writer of raw fields: one by one.
                            let t = &c.types()[t as usize];
                            let aux = c.aux_of(&o);
                            for f in [
                                t.code.as_str(),
                                t.layer.as_str(),
                                &t.score_text,
                                &t.name,
                                aux.map_or("", |a| &a.code),
                                aux.map_or("1", |a| &a.coefficient_text),
                            ] {
                                out.write_field(f);
                            }
                        }
                        out.write_field(if o.primary_care { "1" } else { "0" });
                    }
                    None => {
                        if !out.write_csv_fields(tf.untyped(o.status), 7) {
                            // National rules name the outcome in the layer column too.
                            let layer = if c.is_national() {
                                o.status.as_str()
                            } else {
                                ""
                            };
                            for f in ["", layer, "", "", "", "", "0"] {
                                out.write_field(f);
                            }
                        }
                    }
                }
                if !out.write_csv_fields(tf.label(), 1) {
                    out.write_field(&self.label);
                }
                out.write_field(&st.warnings);
                match o.reason {
                    Some(r) => out.write_field_with(|buf| {
                        buf.extend_from_slice(b"line ");
                        push_decimal(buf, row.line);
                        buf.extend_from_slice(b": ");
                        buf.extend_from_slice(r.message().as_bytes());
                    }),
                    None => out.write_field(""),
                }
                o.status
            }
        };
        dip_category(status, c.is_national())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_in_fen() {
        assert_eq!(fen(2, "total_cost", b"1234.56"), Ok(Some(123_456)));
        assert_eq!(fen(2, "total_cost", b"1234.5"), Ok(Some(123_450)));
        assert_eq!(fen(2, "total_cost", b" 7 "), Ok(Some(700)));
        assert_eq!(fen(2, "total_cost", b"0.05"), Ok(Some(5)));
        assert_eq!(fen(2, "total_cost", b""), Ok(None));
        assert_eq!(fen(2, "total_cost", b"  "), Ok(None));
        assert_eq!(fen(2, "total_cost", b"12."), Ok(Some(1_200)));
        assert_eq!(
            fen(2, "total_cost", " 3.07\u{3000}".as_bytes()),
            Ok(Some(307))
        );
        for bad in ["-1", "1.234", "abc", "1e3", ".5", "1,000", "1.2.3", "1 2"] {
            let e = fen(9, "total_cost", bad.as_bytes()).unwrap_err();
            assert!(
                e.0.starts_with("line 9, field `total_cost`"),
                "{bad}: {}",
                e.0
            );
        }
    }
}
