//! The DRG grouping job: case rows in, `case_id,status,mdc,adrg,drg,…` rows out.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use drgdip_grouper::{Case, CodeKind, Grouper, Principals, Scratch, Status};

use crate::fields::{self, FieldError};
use crate::stream::{Column, Job, Out, Row};

/// Input columns of a case file (see `docs/input-format.md`).
pub const CASE_COLUMNS: [Column; 10] = [
    Column {
        name: "case_id",
        required: true,
    },
    Column {
        name: "sex",
        required: true,
    },
    Column {
        name: "age",
        required: true,
    },
    Column {
        name: "age_days",
        required: false,
    },
    Column {
        name: "weight",
        required: false,
    },
    Column {
        name: "dept",
        required: false,
    },
    Column {
        name: "los",
        required: false,
    },
    Column {
        name: "discharge_way",
        required: false,
    },
    Column {
        name: "diagnoses",
        required: true,
    },
    Column {
        name: "procedures",
        required: false,
    },
];

/// The output header of `drgdip group`.
pub const GROUP_HEADER: [&str; 9] = [
    "case_id", "status", "mdc", "adrg", "drg", "drg_name", "scheme", "warnings", "message",
];

/// Fills a [`Case`] from a row of [`CASE_COLUMNS`]; unknown codes are reported in
/// `warnings` (`; `-separated), bad fields as an error naming line and field.
pub fn parse_case(
    grouper: &Grouper,
    map_codes: bool,
    row: &Row<'_>,
    case: &mut Case,
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
    case.sex = fields::sex(line, row.get(1))?;
    case.age = fields::count(line, "age", row.get(2))?;
    case.age_days = fields::count(line, "age_days", row.get(3))?;
    case.weight = fields::count(line, "weight", row.get(4))?;
    case.dept.push_str(fields::text(line, "dept", row.get(5))?);
    case.los = fields::count(line, "los", row.get(6))?;
    case.discharge_way
        .push_str(fields::text(line, "discharge_way", row.get(7))?.trim());
    for (field, idx, kind) in [
        ("diagnoses", 8, CodeKind::Diagnosis),
        ("procedures", 9, CodeKind::Procedure),
    ] {
        let list = match kind {
            CodeKind::Diagnosis => &mut case.dx,
            CodeKind::Procedure => &mut case.px,
        };
        fields::codes(line, field, row.get(idx), |code| {
            let found = grouper.lookup(code, kind, map_codes);
            if !found.known {
                if !warnings.is_empty() {
                    warnings.push_str("; ");
                }
                let what = match kind {
                    CodeKind::Diagnosis => "diagnosis",
                    CodeKind::Procedure => "procedure",
                };
                let _ = write!(
                    warnings,
                    "{what} `{code}` is not in the scheme's dictionaries"
                );
            }
            list.push(found.id);
        })?;
    }
    if case.dx.is_empty() {
        return Err(FieldError(format!(
            "line {line}, field `diagnoses`: empty (the principal diagnosis is required)"
        )));
    }
    Ok(())
}

/// Groups every row with a compiled scheme.
pub struct GroupJob<'g> {
    /// The compiled scheme.
    pub grouper: &'g Grouper,
    /// Map clinical codes to insurance codes first (`dx_code_map.csv`, `proc_code_map.csv`).
    pub map_codes: bool,
    label: String,
    principals: Principals,
    unknown_principal: AtomicU64,
    /// Per result of the grouper: its `mdc,adrg,drg,drg_name` fields as CSV, written
    /// once here rather than escaped again on every row.
    result_fields: ResultFields,
}

/// The CSV fields of each result in one buffer, one line each (one allocation per job).
struct ResultFields {
    text: Vec<u8>,
    /// Per result: the position of the end of its line.
    ends: Vec<usize>,
}

impl ResultFields {
    fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] + 1 };
        &self.text[start..self.ends[i]]
    }
}

fn result_fields(grouper: &Grouper) -> ResultFields {
    let mut out = Out::default();
    let mut ends = Vec::with_capacity(grouper.results().len());
    for r in grouper.results() {
        for f in [&r.mdc, &r.adrg, &r.drg, &r.name] {
            out.write_field(f);
        }
        ends.push(out.len());
        out.end_record();
    }
    ResultFields {
        text: out.into_inner(),
        ends,
    }
}

impl<'g> GroupJob<'g> {
    /// A job grouping with `grouper`.
    pub fn new(grouper: &'g Grouper, map_codes: bool) -> Self {
        Self::with_principals(grouper, map_codes, grouper.principals())
    }

    /// A job grouping with `grouper`, given its [`Grouper::principals`] computed once
    /// beforehand (a service groups a few cases per job and keeps them).
    pub fn with_principals(grouper: &'g Grouper, map_codes: bool, principals: Principals) -> Self {
        GroupJob {
            grouper,
            map_codes,
            label: grouper.info().label(),
            principals,
            unknown_principal: AtomicU64::new(0),
            result_fields: result_fields(grouper),
        }
    }

    /// Rows so far whose principal diagnosis the scheme does not know.
    pub fn unknown_principals(&self) -> u64 {
        self.unknown_principal.load(Ordering::Relaxed)
    }
}

/// The share of rows above which a run is told that the file and the scheme do not fit.
pub const FIT_LIMIT: f64 = 0.20;

/// A loud warning when the cases and the scheme do not fit: more than 20% of the rows
/// that reached the grouper ungroupable, or more than 20% of them with a principal
/// diagnosis the scheme does not know. `grouped_rows` excludes invalid rows.
pub fn fit_warning(
    grouped_rows: u64,
    ungroupable: u64,
    unknown_principal: u64,
    map_codes: bool,
) -> Option<String> {
    if grouped_rows == 0 {
        return None;
    }
    let share = |n: u64| n as f64 / grouped_rows as f64;
    let mut parts = Vec::new();
    if share(ungroupable) > FIT_LIMIT {
        parts.push(format!(
            "{:.1}% of the cases are ungroupable",
            100.0 * share(ungroupable)
        ));
    }
    if share(unknown_principal) > FIT_LIMIT {
        parts.push(format!(
            "{:.1}% of the principal diagnoses are not codes of the scheme",
            100.0 * share(unknown_principal)
        ));
    }
    if parts.is_empty() {
        return None;
    }
    let hint = if map_codes {
        "wrong scheme or code version?"
    } else {
        "wrong scheme or code version? 国临版 (clinical) codes need `--map-codes`"
    };
    Some(format!(
        "WARNING: the cases do not fit the scheme: {} ({hint}; the message column of each ungroupable row says why)",
        parts.join(" and ")
    ))
}

/// The first code of a `|`-separated list, trimmed (for messages).
fn first_code(field: &[u8]) -> &str {
    let text = std::str::from_utf8(field).unwrap_or("");
    text.split('|')
        .map(str::trim)
        .find(|c| !c.is_empty())
        .unwrap_or("")
}

/// Per-thread state of [`GroupJob`].
pub struct GroupState {
    case: Case,
    scratch: Scratch,
    warnings: String,
    message: String,
}

/// Category index of a status in [`GroupJob`]'s summary.
pub fn category(status: Status) -> usize {
    match status {
        Status::Grouped => 0,
        Status::Ungroupable => 1,
        Status::Ambiguous => 2,
        Status::Invalid => 3,
    }
}

impl Job for GroupJob<'_> {
    type State = GroupState;

    fn columns(&self) -> &[Column] {
        &CASE_COLUMNS
    }

    fn header(&self) -> Vec<String> {
        GROUP_HEADER.iter().map(|s| s.to_string()).collect()
    }

    fn categories(&self) -> &[&'static str] {
        &["grouped", "ungroupable", "ambiguous", "invalid"]
    }

    fn state(&self) -> GroupState {
        GroupState {
            case: Case::default(),
            scratch: self.grouper.scratch(),
            warnings: String::new(),
            message: String::new(),
        }
    }

    fn row(&self, st: &mut GroupState, row: &Row<'_>, out: &mut Out) -> usize {
        let g = self.grouper;
        out.write_field(String::from_utf8_lossy(row.get(0)).as_bytes());
        st.message.clear();
        let status = match parse_case(g, self.map_codes, row, &mut st.case, &mut st.warnings) {
            Err(FieldError(msg)) => {
                for f in ["invalid", "0000", "00", "0000", ""] {
                    out.write_field(f);
                }
                st.message = msg;
                Status::Invalid
            }
            Ok(()) => {
                if st.case.dx[0] == g.unknown_code() {
                    self.unknown_principal.fetch_add(1, Ordering::Relaxed);
                }
                let outcome = g.group(&st.case, &mut st.scratch);
                out.write_field(outcome.status.as_str());
                if !out.write_csv_fields(self.result_fields.get(outcome.result_index()), 4) {
                    let r = g.result(&outcome);
                    for f in [&r.mdc, &r.adrg, &r.drg, &r.name] {
                        out.write_field(f);
                    }
                }
                if let Some(reason) = outcome.invalid {
                    let _ = write!(
                        st.message,
                        "line {}, field `{}`: {}",
                        row.line,
                        reason.field(),
                        reason.message()
                    );
                } else if outcome.status == Status::Ungroupable {
                    // Built only for ungroupable rows: the hot path stays allocation-free.
                    st.message = g.ungroupable_reason(
                        &st.case,
                        first_code(row.get(8)),
                        self.map_codes,
                        &self.principals,
                    );
                } else if let Some(i) = outcome.retry_procedure {
                    let _ = write!(
                        st.message,
                        "grouped on retry with secondary procedure #{i} `{}` alone",
                        g.code(st.case.px[i as usize])
                    );
                }
                outcome.status
            }
        };
        out.write_field(&self.label);
        out.write_field(&st.warnings);
        out.write_field(&st.message);
        category(status)
    }
}
