//! Reading historical cases for `drgdip dip build` and `drgdip drg weights`.
//!
//! Both read through the streaming pipeline (so CSV, JSON Lines, BOM and CRLF behave as
//! in grouping) and write one line per input row to a rejects stream
//! (`case_id,status,message`, status `ok` or `rejected`). Each worker thread collects
//! its rows; the parts are merged in input-line order, so the result does not depend on
//! the thread count.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::Mutex;

use drgdip_grouper::dip::build::{History, HistoryBuilder, HistoryInput};
use drgdip_grouper::dip::stats::{self, GroupStats, Obs, Trim};
use drgdip_grouper::{Case, Grouper, Scratch, Status};
use rust_decimal::Decimal;

use crate::dip::fen;
use crate::drg::{CASE_COLUMNS, parse_case};
use crate::fields::{self, FieldError};
use crate::stream::{self, Column, Job, Options, Out, Row, StreamError, Summary};

const fn col(name: &'static str, required: bool) -> Column {
    Column { name, required }
}

/// Columns of a DIP history file.
pub const DIP_HISTORY_COLUMNS: [Column; 9] = [
    col("case_id", true),
    col("diagnoses", true),
    col("procedures", false),
    col("total_cost", true),
    col("year", false),
    col("discharge_date", false),
    col("hospital_level", false),
    col("age_days", false),
    col("weight", false),
];

/// The header of the rejects stream.
const REJECTS_HEADER: [&str; 3] = ["case_id", "status", "message"];

/// The discharge year: the `year` column, else the first 4 characters of
/// `discharge_date` (`YYYY-MM-DD`).
fn year(line: u64, year: &[u8], date: &[u8]) -> Result<u16, FieldError> {
    let y = fields::text(line, "year", year)?.trim();
    let (field, text) = if y.is_empty() {
        let d = fields::text(line, "discharge_date", date)?.trim();
        if d.is_empty() {
            return Err(FieldError(format!(
                "line {line}, field `year`: no year (give a `year` column or a `discharge_date` YYYY-MM-DD)"
            )));
        }
        ("discharge_date", d.get(..4).unwrap_or(d))
    } else {
        ("year", y)
    };
    match text.parse::<u16>() {
        Ok(v) if (1900..=2200).contains(&v) => Ok(v),
        _ => Err(FieldError(format!(
            "line {line}, field `{field}`: `{text}` does not give a year"
        ))),
    }
}

/// Primary care: hospital level `0` or `基层`.
fn primary(line: u64, bytes: &[u8]) -> Result<bool, FieldError> {
    let s = fields::text(line, "hospital_level", bytes)?.trim();
    Ok(matches!(s, "0" | "基层"))
}

fn total_cost(line: u64, bytes: &[u8]) -> Result<i64, FieldError> {
    fen(line, "total_cost", bytes)?.ok_or_else(|| {
        FieldError(format!(
            "line {line}, field `total_cost`: empty (the cost is required)"
        ))
    })
}

fn write_status(out: &mut Out, error: Option<&str>) -> usize {
    match error {
        None => {
            out.write_field("ok");
            out.write_field("");
            0
        }
        Some(m) => {
            out.write_field("rejected");
            out.write_field(m);
            1
        }
    }
}

/// Collects DIP history rows.
struct DipHistoryJob<'s> {
    sink: &'s Mutex<Vec<HistoryBuilder>>,
}

/// One thread's rows; handed to the sink when the thread's work is done.
struct DipHistoryState<'s> {
    part: HistoryBuilder,
    sink: &'s Mutex<Vec<HistoryBuilder>>,
    /// Storage of a row's code lists, kept empty between rows (see [`reuse`]).
    dx: Vec<&'static str>,
    px: Vec<&'static str>,
}

/// An empty vector of borrowed strings on the storage of `v` (emptied): collecting the
/// (empty) iterator back into a vector of the same layout reuses the allocation, so a
/// row's code lists allocate nothing.
fn reuse<'a>(v: Vec<&str>) -> Vec<&'a str> {
    let mut v = v;
    v.clear();
    v.into_iter().map(|_| "").collect()
}

impl Drop for DipHistoryState<'_> {
    fn drop(&mut self) {
        if !self.part.is_empty() {
            let part = std::mem::take(&mut self.part);
            self.sink
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(part);
        }
    }
}

impl DipHistoryJob<'_> {
    fn parse(&self, st: &mut DipHistoryState<'_>, row: &Row<'_>) -> Result<(), FieldError> {
        if let Some(p) = &row.problem {
            return Err(FieldError(p.clone()));
        }
        let line = row.line;
        let id = fields::text(line, "case_id", row.get(0))?;
        if id.trim().is_empty() {
            return Err(FieldError(format!("line {line}, field `case_id`: empty")));
        }
        let mut diagnoses = reuse(std::mem::take(&mut st.dx));
        let mut procedures = reuse(std::mem::take(&mut st.px));
        let r = self.parse_lists(st, row, &mut diagnoses, &mut procedures);
        st.dx = reuse(diagnoses);
        st.px = reuse(procedures);
        r
    }

    fn parse_lists<'r>(
        &self,
        st: &mut DipHistoryState<'_>,
        row: &'r Row<'_>,
        diagnoses: &mut Vec<&'r str>,
        procedures: &mut Vec<&'r str>,
    ) -> Result<(), FieldError> {
        let line = row.line;
        fields::codes(line, "diagnoses", row.get(1), |c| diagnoses.push(c))?;
        let principal = diagnoses.first().copied().ok_or_else(|| {
            FieldError(format!(
                "line {line}, field `diagnoses`: empty (the principal diagnosis is required)"
            ))
        })?;
        if principal.chars().filter(|&c| c != '.').count() < 3 {
            return Err(FieldError(format!(
                "line {line}, field `diagnoses`: `{principal}` is shorter than an ICD-10 category"
            )));
        }
        if !principal
            .chars()
            .filter(|&c| c != '.')
            .take(3)
            .all(|c| c.is_ascii_alphanumeric())
        {
            return Err(FieldError(format!(
                "line {line}, field `diagnoses`: `{principal}` does not start with an ICD-10 category (three letters or digits); no disease type can take it"
            )));
        }
        fields::codes(line, "procedures", row.get(2), |c| procedures.push(c))?;
        let cost = total_cost(line, row.get(3))?;
        let y = year(line, row.get(4), row.get(5))?;
        let p = primary(line, row.get(6))?;
        let whole = |field: &str, bytes: &[u8]| -> Result<Option<u32>, FieldError> {
            match fields::count(line, field, bytes)? {
                None => Ok(None),
                Some(v) => u32::try_from(v).map(Some).map_err(|_| {
                    FieldError(format!("line {line}, field `{field}`: `{v}` is too large"))
                }),
            }
        };
        let age_days = whole("age_days", row.get(7))?;
        let weight = whole("weight", row.get(8))?;
        st.part.push_case(
            line,
            &HistoryInput {
                diagnoses,
                procedures,
                year: y,
                cost,
                primary: p,
                age_days,
                weight,
            },
        );
        Ok(())
    }
}

impl<'s> Job for DipHistoryJob<'s> {
    type State = DipHistoryState<'s>;

    fn columns(&self) -> &[Column] {
        &DIP_HISTORY_COLUMNS
    }

    fn header(&self) -> Vec<String> {
        REJECTS_HEADER.iter().map(|s| s.to_string()).collect()
    }

    fn categories(&self) -> &[&'static str] {
        &["accepted", "rejected"]
    }

    fn state(&self) -> DipHistoryState<'s> {
        DipHistoryState {
            part: HistoryBuilder::default(),
            sink: self.sink,
            dx: Vec::new(),
            px: Vec::new(),
        }
    }

    fn row(&self, st: &mut DipHistoryState<'s>, row: &Row<'_>, out: &mut Out) -> usize {
        out.write_field(row.get(0));
        let r = self.parse(st, row);
        write_status(out, r.err().as_ref().map(|e| e.0.as_str()))
    }
}

/// Reads a DIP history file. Rejected rows (with their reason) go to `rejects`.
pub fn read_dip_history<R: Read + Send, W: Write>(
    input: R,
    rejects: W,
    options: &Options,
) -> Result<(History, Summary), StreamError> {
    let sink = Mutex::new(Vec::new());
    let summary = {
        let job = DipHistoryJob { sink: &sink };
        stream::run(&job, input, rejects, options, &|_, _| {})?
    };
    let parts = sink.into_inner().unwrap_or_else(|e| e.into_inner());
    Ok((History::merge(parts), summary))
}

/// Columns of a DRG history file: the case columns plus cost, year and level.
pub fn drg_history_columns() -> Vec<Column> {
    let mut c = CASE_COLUMNS.to_vec();
    c.extend([
        col("total_cost", true),
        col("year", false),
        col("discharge_date", false),
        col("hospital_level", false),
    ]);
    c
}

/// One grouped DRG history case.
#[derive(Debug, Clone, Copy)]
struct DrgRecord {
    line: u64,
    result: u32,
    grouped: bool,
    year: u16,
    cost: i64,
    los: i64,
    primary: bool,
}

struct DrgHistoryJob<'g, 's> {
    grouper: &'g Grouper,
    columns: Vec<Column>,
    result_ids: HashMap<&'g str, u32>,
    sink: &'s Mutex<Vec<Vec<DrgRecord>>>,
}

struct DrgHistoryState<'s> {
    case: Case,
    scratch: Scratch,
    warnings: String,
    part: Vec<DrgRecord>,
    sink: &'s Mutex<Vec<Vec<DrgRecord>>>,
}

impl Drop for DrgHistoryState<'_> {
    fn drop(&mut self) {
        if !self.part.is_empty() {
            let part = std::mem::take(&mut self.part);
            self.sink
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(part);
        }
    }
}

impl<'g, 's> Job for DrgHistoryJob<'g, 's> {
    type State = DrgHistoryState<'s>;

    fn columns(&self) -> &[Column] {
        &self.columns
    }

    fn header(&self) -> Vec<String> {
        REJECTS_HEADER.iter().map(|s| s.to_string()).collect()
    }

    fn categories(&self) -> &[&'static str] {
        &["accepted", "rejected"]
    }

    fn state(&self) -> DrgHistoryState<'s> {
        DrgHistoryState {
            case: Case::default(),
            scratch: self.grouper.scratch(),
            warnings: String::new(),
            part: Vec::new(),
            sink: self.sink,
        }
    }

    fn row(&self, st: &mut DrgHistoryState<'s>, row: &Row<'_>, out: &mut Out) -> usize {
        out.write_field(row.get(0));
        let line = row.line;
        let n = CASE_COLUMNS.len();
        let parsed =
            parse_case(self.grouper, false, row, &mut st.case, &mut st.warnings).and_then(|()| {
                Ok((
                    total_cost(line, row.get(n))?,
                    year(line, row.get(n + 1), row.get(n + 2))?,
                    primary(line, row.get(n + 3))?,
                ))
            });
        let (cost, y, p) = match parsed {
            Ok(v) => v,
            Err(FieldError(m)) => return write_status(out, Some(&m)),
        };
        let o = self.grouper.group(&st.case, &mut st.scratch);
        if o.status == Status::Invalid {
            let reason = o.invalid.map_or("invalid case", |r| r.message());
            return write_status(out, Some(&format!("line {line}: {reason}")));
        }
        let r = self.grouper.result(&o);
        st.part.push(DrgRecord {
            line,
            result: self
                .result_ids
                .get(r.drg.as_str())
                .copied()
                .unwrap_or(u32::MAX),
            grouped: o.status == Status::Grouped,
            year: y,
            cost,
            los: st.case.los.unwrap_or(0),
            primary: p,
        });
        write_status(out, None)
    }
}

/// One row of a DRG weights table.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightRow {
    /// DRG code.
    pub group: String,
    /// Relative weight: trimmed, year-weighted DRG mean cost / overall mean cost.
    pub weight: Decimal,
    /// Mean cost in yuan.
    pub mean_cost: Decimal,
    /// Mean length of stay.
    pub mean_los: Decimal,
    /// Cases of the DRG (before trimming).
    pub cases: u64,
    /// Coefficient of variation of the cost.
    pub cv: f64,
}

/// Counts of a weights computation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WeightsSummary {
    /// Rows read and rows rejected.
    pub read: Summary,
    /// Cases grouped into a DRG.
    pub grouped: u64,
    /// Cases not grouped (ungroupable, ambiguous): not in any weight.
    pub not_grouped: u64,
    /// The years and their weights.
    pub years: Vec<(u16, u32)>,
}

/// Why weights could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    /// Reading the history failed.
    #[error(transparent)]
    Stream(#[from] StreamError),
    /// The history spans more years than there are year weights.
    #[error(
        "the history spans {0} years but the year weights have {1} entries: give one weight per year, oldest first"
    )]
    Years(usize, usize),
    /// No case could be grouped.
    #[error("no history case was grouped into a DRG")]
    Empty,
}

/// Groups a DRG history with `grouper` and computes the weights of every DRG that has
/// cases: trimmed, year-weighted mean cost / overall mean cost (4 decimals).
pub fn drg_weights<R: Read + Send, W: Write>(
    grouper: &Grouper,
    input: R,
    rejects: W,
    options: &Options,
    year_weights: &[u32],
    trim: Trim,
) -> Result<(Vec<WeightRow>, WeightsSummary), WeightsError> {
    let sink = Mutex::new(Vec::new());
    let result_ids: HashMap<&str, u32> = grouper
        .results()
        .iter()
        .enumerate()
        .map(|(i, r)| (r.drg.as_str(), i as u32))
        .collect();
    let read = {
        let job = DrgHistoryJob {
            grouper,
            columns: drg_history_columns(),
            result_ids,
            sink: &sink,
        };
        stream::run(&job, input, rejects, options, &|_, _| {})?
    };
    let mut records: Vec<DrgRecord> = sink
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .flatten()
        .collect();
    records.sort_by_key(|r| r.line);
    let years: Vec<u16> = records
        .iter()
        .map(|r| r.year)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let weights = stats::year_weights(&years, year_weights)
        .ok_or(WeightsError::Years(years.len(), year_weights.len()))?;
    let mut summary = WeightsSummary {
        read,
        years: years.iter().copied().zip(weights.iter().copied()).collect(),
        ..WeightsSummary::default()
    };
    let results = grouper.results();
    let obs: Vec<Obs> = records
        .iter()
        .filter(|r| {
            let ok = r.grouped && r.result != u32::MAX;
            if ok {
                summary.grouped += 1;
            } else {
                summary.not_grouped += 1;
            }
            ok
        })
        .map(|r| Obs {
            group: r.result,
            weight: weights[years.binary_search(&r.year).expect("listed")],
            cost: r.cost,
            los: r.los,
            primary: r.primary,
        })
        .collect();
    if obs.is_empty() {
        return Err(WeightsError::Empty);
    }
    let (st, overall): (Vec<GroupStats>, GroupStats) = stats::compute(&obs, results.len(), trim);
    let mut rows: Vec<WeightRow> = st
        .iter()
        .zip(results)
        .filter(|(s, _)| s.cases > 0)
        .map(|(s, r)| WeightRow {
            group: r.drg.clone(),
            weight: s.relative(&overall, 1, 4),
            mean_cost: s.mean_cost_yuan(),
            mean_los: s.mean_los(),
            cases: s.cases,
            cv: s.cv(),
        })
        .collect();
    rows.sort_by(|a, b| a.group.cmp(&b.group));
    Ok((rows, summary))
}

/// Writes a weights table: `group,weight,mean_cost,mean_los,cases,cv`.
pub fn write_weights<W: Write>(rows: &[WeightRow], out: W) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    let io = |e: csv::Error| std::io::Error::other(e.to_string());
    w.write_record(["group", "weight", "mean_cost", "mean_los", "cases", "cv"])
        .map_err(io)?;
    for r in rows {
        w.write_record([
            r.group.clone(),
            r.weight.to_string(),
            r.mean_cost.to_string(),
            r.mean_los.to_string(),
            r.cases.to_string(),
            format!("{:.4}", r.cv),
        ])
        .map_err(io)?;
    }
    w.flush()
}
