//! Pricing a file: grouped cases → payment standard, patient share and fund outlay.
//!
//! One streaming pass over the input and one over a spill (a temporary file, or memory):
//!
//! 1. the input is read once, in blocks of whole records (a reader thread); the blocks
//!    are parsed and priced in parallel and written to the spill as their rows' finished
//!    output text with a gap for the benefit columns. Accepted rows also leave a compact
//!    benefit record (person hash, dates, level, costs in fen: 48 bytes) in memory.
//! 2. the benefit records are sorted per person by discharge date, admission date and
//!    case id and the benefit rules applied in that order (persons in parallel), so
//!    the result does not depend on the input order.
//! 3. the spill is read back block by block; the blocks' benefit columns are filled in
//!    in parallel and written in input order.
//!
//! Memory is bounded by the benefit records, not by the rows; output order and content
//! do not depend on the thread count.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use drgdip_io::stream::push_csv_field;
use drgdip_io::{Cancel, CsvBlocks, Fields, split_block};
use drgdip_payment::Policy;
use drgdip_payment::benefits::{ClaimFacts, ClaimKind, PersonYear, Referral};
use drgdip_payment::policy::BenefitPolicy;
use drgdip_pricing::money::round_yuan;
use drgdip_pricing::{
    CaseInput, Date, GroupStatus, HospitalLevel, InsuranceType, Method, PriceError, Priced, Pricer,
};
use rayon::prelude::*;
use rust_decimal::Decimal;

use crate::blocks::{BLOCKS_PER_THREAD, par_blocks};
use crate::columns::{
    Header, MAX_FIELD, date, field, money_at, negotiated_drug_cost, opt_field, overlong_field,
    quantity,
};
use crate::error::{PipelineError, Result};
use crate::{Progress, Stage, with_pool};

/// Where `price` keeps the finished rows between its first and last pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpillTo {
    /// A temporary file in this folder (removed however the run ends).
    TempFile(PathBuf),
    /// Memory: no file system needed, but the rows' text is held until the end.
    Memory,
}

impl Default for SpillTo {
    fn default() -> Self {
        SpillTo::TempFile(std::env::temp_dir())
    }
}

/// Settings of a [`price`] run.
#[derive(Debug, Clone, Default)]
pub struct PriceConfig {
    /// Worker threads: `None` runs in the caller's rayon pool, `Some(0)` starts a pool
    /// with one thread per core, `Some(n)` a pool of `n` threads. The output does not
    /// depend on it.
    pub threads: Option<usize>,
    /// Where finished rows wait for the benefit columns.
    pub spill: SpillTo,
}

/// What a [`price`] run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriceSummary {
    /// Input rows (= output rows).
    pub rows: u64,
    /// Rows written with status `rejected`.
    pub rejected: u64,
    /// Priced rows whose grouping status was not `grouped` or `composite` (ungroupable,
    /// ungrouped, ambiguous, invalid): paid by the ungrouped rule.
    pub not_grouped: u64,
    /// Time spent reading and pricing, applying benefits, and writing.
    pub stages: [Duration; 3],
}

impl PriceSummary {
    /// Rows priced (status `ok`).
    pub fn priced(&self) -> u64 {
        self.rows - self.rejected
    }

    /// Warnings for this run: a low grouping rate ([`crate::warnings::grouping_warning`]).
    pub fn warnings(&self) -> Vec<String> {
        crate::warnings::grouping_warning(self.rows, self.not_grouped)
            .into_iter()
            .collect()
    }
}

/// The columns [`price`] writes, in order.
pub const PRICED_HEADER: [&str; 34] = [
    "case_id",
    "method",
    "group",
    "hospital_id",
    "payment_standard",
    "patient_share",
    "fund_outlay",
    "primary_care",
    "outlier",
    "status",
    "message",
    "hospital_level",
    "insurance_type",
    "person_id",
    "discharge_date",
    "los",
    "total_cost",
    "covered_cost",
    "grouping_status",
    "weight",
    "score",
    "aux_coef",
    "coefficient",
    "rate",
    "standard",
    "outlier_factor",
    "cost_ratio",
    "points",
    "deductible",
    "coinsurance",
    "over_cap",
    "uncovered",
    "negotiated_drug_cost",
    "negotiated_fund",
];

/// Column positions of the input.
struct Cols {
    method: Method,
    case_id: usize,
    status: usize,
    group: usize,
    score: Option<usize>,
    aux_coef: Option<usize>,
    primary_care: Option<usize>,
    hospital_id: usize,
    hospital_level: usize,
    insurance_type: usize,
    person_id: usize,
    admit_date: usize,
    discharge_date: usize,
    total_cost: usize,
    covered_cost: usize,
    day_surgery: Option<usize>,
    referral: Option<usize>,
    los: Option<usize>,
    negotiated: Option<usize>,
}

impl Cols {
    fn new(h: &Header) -> Result<Self> {
        let method = match (h.find("drg"), h.find("dip_code")) {
            (Some(_), None) => Method::Drg,
            (None, Some(_)) => Method::Dip,
            (Some(_), Some(_)) => {
                return Err(PipelineError::Input(
                    "the input has both `drg` and `dip_code` columns; price DRG and DIP results separately".into(),
                ));
            }
            (None, None) => {
                return Err(PipelineError::Input(
                    "the input has no `drg` column (DRG grouping result) nor `dip_code` column (DIP grouping result)".into(),
                ));
            }
        };
        let case = "from the grouping output";
        let data = "a case column; group with --carry to keep the case's columns";
        Ok(Self {
            method,
            case_id: h.require("case_id", case)?,
            status: h.require("status", case)?,
            group: match method {
                Method::Drg => h.require("drg", case)?,
                Method::Dip => h.require("dip_code", case)?,
            },
            score: h.find("score"),
            aux_coef: h.find("aux_coef"),
            primary_care: match method {
                Method::Dip => h.find("primary_care"),
                Method::Drg => None,
            },
            hospital_id: h.require("hospital_id", data)?,
            hospital_level: h.require("hospital_level", data)?,
            insurance_type: h.require("insurance_type", data)?,
            person_id: h.require("person_id", data)?,
            admit_date: h.require("admit_date", data)?,
            discharge_date: h.require("discharge_date", data)?,
            total_cost: h.require("total_cost", data)?,
            covered_cost: h.require("covered_cost", data)?,
            day_surgery: h.find("day_surgery"),
            referral: h.find("referral"),
            los: h.find("los"),
            negotiated: h.find("negotiated_drug_cost"),
        })
    }
}

/// One parsed row, borrowing from its record.
struct Row<'r> {
    case_id: &'r str,
    status: GroupStatus,
    group: Cow<'r, str>,
    hospital_id: &'r str,
    level: HospitalLevel,
    insurance: InsuranceType,
    person: &'r str,
    admit: Date,
    discharge: Date,
    total: Decimal,
    covered: Decimal,
    day_surgery: bool,
    referral: Referral,
    los: &'r str,
    score: Option<Decimal>,
    aux: Option<Decimal>,
    primary_care: bool,
    negotiated: Decimal,
}

fn parse_row<'r>(rec: &Fields<'r>, c: &Cols) -> Result<Row<'r>, String> {
    if let Some(i) = overlong_field(rec) {
        return Err(format!("field {i} is longer than {MAX_FIELD} bytes"));
    }
    let case_id = field(rec, c.case_id, "case_id")?;
    if case_id.is_empty() {
        return Err("field `case_id` is empty".into());
    }
    let status_s = field(rec, c.status, "status")?;
    let status = GroupStatus::parse(status_s)
        .ok_or_else(|| format!("field `status`: `{status_s}` is not a grouping status"))?;
    let group_name = match c.method {
        Method::Drg => "drg",
        Method::Dip => "dip_code",
    };
    let group_raw = field(rec, c.group, group_name)?;
    let group = match c.method {
        Method::Drg if group_raw.bytes().any(|b| b.is_ascii_lowercase()) => {
            Cow::Owned(group_raw.to_ascii_uppercase())
        }
        _ => Cow::Borrowed(group_raw),
    };
    if group.is_empty() && matches!(status, GroupStatus::Grouped | GroupStatus::Composite) {
        return Err(format!("field `{group_name}` is empty for a grouped case"));
    }
    let hospital_id = field(rec, c.hospital_id, "hospital_id")?;
    if hospital_id.is_empty() {
        return Err("field `hospital_id` is empty".into());
    }
    let lv = field(rec, c.hospital_level, "hospital_level")?;
    let level = HospitalLevel::parse(lv).ok_or_else(|| {
        format!("field `hospital_level`: `{lv}` is not 3/2/1/0 or 三级/二级/一级/基层")
    })?;
    let it = field(rec, c.insurance_type, "insurance_type")?;
    let insurance = InsuranceType::parse(it).ok_or_else(|| {
        format!("field `insurance_type`: `{it}` is not employee/resident or 职工/居民")
    })?;
    let person = field(rec, c.person_id, "person_id")?;
    if person.is_empty() {
        return Err("field `person_id` is empty".into());
    }
    let date =
        |idx: usize, name: &str| -> Result<Date, String> { date(field(rec, idx, name)?, name) };
    let admit = date(c.admit_date, "admit_date")?;
    let discharge = date(c.discharge_date, "discharge_date")?;
    if discharge < admit {
        return Err(format!(
            "field `discharge_date`: {discharge} is before admit_date {admit}"
        ));
    }
    let total = money_at(rec, c.total_cost, "total_cost")?;
    let covered = money_at(rec, c.covered_cost, "covered_cost")?;
    if covered > total {
        return Err(format!(
            "field `covered_cost`: {covered} is more than total_cost {total}"
        ));
    }
    let negotiated = negotiated_drug_cost(rec, c.negotiated, total)?;
    let ds = opt_field(rec, c.day_surgery, "day_surgery")?;
    let day_surgery = match ds {
        "" | "0" => false,
        "1" => true,
        other => return Err(format!("field `day_surgery`: `{other}` is not 0 or 1")),
    };
    let rf = opt_field(rec, c.referral, "referral")?;
    let referral = Referral::parse(rf)
        .ok_or_else(|| format!("field `referral`: `{rf}` is not empty, up, down or nonstandard"))?;
    let los = opt_field(rec, c.los, "los")?;
    let score = match opt_field(rec, c.score, "score")? {
        "" => None,
        s => Some(quantity(s, "score")?),
    };
    let aux = match opt_field(rec, c.aux_coef, "aux_coef")? {
        "" => None,
        s => Some(quantity(s, "aux_coef")?),
    };
    let primary_care = match opt_field(rec, c.primary_care, "primary_care")? {
        "" | "0" => false,
        "1" => true,
        other => return Err(format!("field `primary_care`: `{other}` is not 0 or 1")),
    };
    Ok(Row {
        case_id,
        status,
        group,
        hospital_id,
        level,
        insurance,
        person,
        admit,
        discharge,
        total,
        covered,
        day_surgery,
        referral,
        los,
        score,
        aux,
        primary_care,
        negotiated,
    })
}

fn price_row(pricer: &Pricer, c: &Cols, row: &Row<'_>) -> Result<Priced, String> {
    pricer
        .price_with_negotiated(
            &CaseInput {
                method: c.method,
                status: row.status,
                group: &row.group,
                score: row.score,
                aux_coef: row.aux,
                primary_care: row.primary_care,
                hospital_id: row.hospital_id,
                level: row.level,
                insurance: row.insurance,
                total_cost: row.total,
            },
            row.negotiated,
        )
        .map_err(|e| {
            let group_col = match c.method {
                Method::Drg => "drg",
                Method::Dip => "dip_code",
            };
            let field = match e {
                PriceError::UnknownGroup { .. }
                | PriceError::NonPositive(_)
                | PriceError::MethodNotInPolicy(_) => group_col,
                PriceError::NoScore => "score",
                PriceError::AuxCoef(_) => "aux_coef",
                PriceError::Negotiated { .. } => "negotiated_drug_cost",
                PriceError::NotGrouped(_) | PriceError::RejectedByPolicy(_) => "status",
            };
            format!("field `{field}`: {e}")
        })
}

/// A compact benefit record (48 bytes): money in fen; the person id and the case id as
/// one span of the run's id text.
#[derive(Clone, Copy)]
struct BenefitRec {
    /// [`person_hash`] of the person id.
    person_hash: u64,
    discharge: Date,
    admit: Date,
    /// Where the person id starts in the id text; the case id follows it.
    id_start: u32,
    /// Lengths of the person and case ids (fields are at most `MAX_FIELD` bytes).
    person_len: u16,
    id_len: u16,
    /// The row's number in the input (0 = the first row after the header).
    row: u32,
    level: HospitalLevel,
    insurance: InsuranceType,
    day_surgery: bool,
    referral: Referral,
    total: i64,
    covered: i64,
}

const _: () = assert!(std::mem::size_of::<BenefitRec>() == 48);

impl BenefitRec {
    fn person<'a>(&self, ids: &'a str) -> &'a str {
        let s = self.id_start as usize;
        &ids[s..s + self.person_len as usize]
    }

    fn case_id<'a>(&self, ids: &'a str) -> &'a str {
        let s = self.id_start as usize + self.person_len as usize;
        &ids[s..s + self.id_len as usize]
    }
}

/// The hash that groups a person's records; persons whose hashes collide are told apart
/// by their ids when the records are ordered.
fn person_hash(name: &str) -> u64 {
    use std::hash::Hasher;
    let mut h = rustc_hash::FxHasher::default();
    h.write(name.as_bytes());
    h.finish()
}

/// An amount of money to the fen as a whole number of fen. Case amounts are at most
/// [`crate::MAX_AMOUNT`] (10¹² fen), far inside `i64`.
fn to_fen(d: Decimal) -> i64 {
    if d.scale() == 2
        && let Ok(fen) = i64::try_from(d.mantissa())
        && fen != i64::MIN
    {
        return fen;
    }
    let mut r = round_yuan(d);
    r.rescale(2);
    i64::try_from(r.mantissa()).unwrap_or(if r.is_sign_negative() {
        i64::MIN + 1
    } else {
        i64::MAX
    })
}

fn from_fen(fen: i64) -> Decimal {
    Decimal::new(fen, 2)
}

/// No share: the row was rejected.
const NO_SHARE: [i64; 3] = [i64::MIN; 3];

/// One block of the input, parsed and priced.
struct BlockOut {
    /// Records in the block.
    records: u64,
    /// Rows rejected.
    rejected: u64,
    /// Accepted rows not grouped (ungroupable, ungrouped, ambiguous, invalid).
    not_grouped: u64,
    /// The block's rows as spilled ([`spill_ok`], [`spill_rejected`]), in order.
    spill: Vec<u8>,
    /// Benefit records of the accepted rows by bucket; rows and id spans counted within
    /// the block.
    recs: BlockRecs,
    /// Person and case ids of the accepted rows, end to end.
    ids: String,
}

/// Patient share, deductible, over-cap per row in fen ([`NO_SHARE`]: row rejected).
type Shares = Vec<[i64; 3]>;

/// "00" to "99": two digits at a time.
const PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Appends `v` in decimal, with leading zeros to at least `width` digits (≤ 20).
fn push_u64_width(buf: &mut Vec<u8>, mut v: u64, width: usize) {
    let n = (v.checked_ilog10().unwrap_or(0) as usize + 1).max(width.min(20));
    // Room made with a copy of fixed size (no call), then the digits written in place,
    // two at a time from the right (not through a buffer on the stack: copying bytes
    // just written costs a stall).
    let start = buf.len();
    buf.extend_from_slice(&[b'0'; 20]);
    buf.truncate(start + n);
    let out = &mut buf[start..];
    let mut i = n;
    while v >= 100 {
        let d = (v % 100) as usize * 2;
        v /= 100;
        i -= 2;
        out[i] = PAIRS[d];
        out[i + 1] = PAIRS[d + 1];
    }
    if v >= 10 {
        let d = v as usize * 2;
        out[i - 2] = PAIRS[d];
        out[i - 1] = PAIRS[d + 1];
    } else {
        out[i - 1] = b'0' + v as u8;
    }
}

/// Appends `v` in decimal.
fn push_u64(buf: &mut Vec<u8>, v: u64) {
    push_u64_width(buf, v, 1);
}

/// Appends an amount of whole fen as yuan with two decimals (`-12.05`, `0.00`).
fn push_fen(buf: &mut Vec<u8>, fen: i64) {
    if fen < 0 {
        buf.push(b'-');
    }
    let f = fen.unsigned_abs();
    push_u64(buf, f / 100);
    let d = (f % 100) as usize * 2;
    buf.extend_from_slice(&[b'.', PAIRS[d], PAIRS[d + 1]]);
}

/// Appends an amount of money rounded to the fen, always with two decimals.
fn push_money(buf: &mut Vec<u8>, d: Decimal) {
    let m = match d.scale() {
        2 => d.mantissa(),
        1 => d.mantissa() * 10,
        0 => d.mantissa() * 100,
        _ => round_yuan(d).mantissa(),
    };
    match i64::try_from(m) {
        Ok(fen) if fen != i64::MIN => push_fen(buf, fen),
        _ => {
            let _ = write!(buf, "{}", round_yuan(d));
        }
    }
}

/// Appends a non-money decimal in its shortest form (`1.10` → `1.1`, `2.0` → `2`).
fn push_dec(buf: &mut Vec<u8>, d: Decimal) {
    let m = d.mantissa();
    let Ok(mut v) = u64::try_from(m.unsigned_abs()) else {
        let _ = write!(buf, "{}", d.normalize());
        return;
    };
    let mut scale = d.scale();
    while scale > 0 && v % 10 == 0 {
        v /= 10;
        scale -= 1;
    }
    if m < 0 && v != 0 {
        buf.push(b'-');
    }
    if scale == 0 {
        push_u64(buf, v);
        return;
    }
    // At most 19 decimals fit a u64 power of ten; more (28 at most) go digit by digit.
    if scale <= 19 {
        let p = 10u64.pow(scale);
        push_u64(buf, v / p);
        buf.push(b'.');
        push_u64_width(buf, v % p, scale as usize);
    } else {
        let text = d.normalize().to_string();
        buf.extend_from_slice(text.trim_start_matches('-').as_bytes());
    }
}

/// Appends a date as `YYYY-MM-DD`.
fn push_date(buf: &mut Vec<u8>, d: Date) {
    let y = d.year;
    buf.extend_from_slice(&[
        b'0' + (y / 1000 % 10) as u8,
        b'0' + (y / 100 % 10) as u8,
        b'0' + (y / 10 % 10) as u8,
        b'0' + (y % 10) as u8,
        b'-',
        b'0' + d.month / 10,
        b'0' + d.month % 10,
        b'-',
        b'0' + d.day / 10,
        b'0' + d.day % 10,
    ]);
}

fn push_u32(buf: &mut Vec<u8>, n: usize) {
    buf.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

/// Encodes one accepted row into the spill: the output text before the benefit
/// columns (A, ending after `payment_standard,`), the text between `fund_outlay` and
/// `deductible` (B, starting with `,` and ending with `,`), the payment standard and
/// the uncovered cost.
fn spill_ok(spill: &mut Vec<u8>, row: &Row<'_>, p: &Priced, c: &Cols) {
    // Each part is written in place behind a 4-byte length filled in after it.
    fn open(spill: &mut Vec<u8>) -> usize {
        spill.extend_from_slice(&[0; 4]);
        spill.len()
    }
    fn close(spill: &mut [u8], at: usize) {
        let len = u32::try_from(spill.len() - at).unwrap_or(u32::MAX);
        spill[at - 4..at].copy_from_slice(&len.to_le_bytes());
    }
    spill.push(1);
    let at_a = open(spill);
    let a = &mut *spill;
    push_csv_field(a, row.case_id.as_bytes());
    a.push(b',');
    a.extend_from_slice(c.method.key().as_bytes());
    a.push(b',');
    push_csv_field(a, row.group.as_bytes());
    a.push(b',');
    push_csv_field(a, row.hospital_id.as_bytes());
    a.push(b',');
    push_money(a, p.payment_standard);
    a.push(b',');
    close(spill, at_a);
    let at_b = open(spill);
    let b = &mut *spill;
    b.push(b',');
    b.extend_from_slice(if p.primary_care { b"1," } else { b"0," });
    b.extend_from_slice(p.outlier.key().as_bytes());
    b.extend_from_slice(b",ok,,");
    b.extend_from_slice(row.level.code().as_bytes());
    b.push(b',');
    b.extend_from_slice(row.insurance.key().as_bytes());
    b.push(b',');
    push_csv_field(b, row.person.as_bytes());
    b.push(b',');
    push_date(b, row.discharge);
    b.push(b',');
    push_csv_field(b, row.los.as_bytes());
    b.push(b',');
    push_money(b, row.total);
    b.push(b',');
    push_money(b, row.covered);
    b.push(b',');
    b.extend_from_slice(row.status.key().as_bytes());
    b.push(b',');
    if !p.base.is_zero() {
        match c.method {
            Method::Drg => {
                push_dec(b, p.base);
                b.push(b',');
            }
            Method::Dip => {
                b.push(b',');
                push_dec(b, p.base / p.aux_coef);
            }
        }
    } else {
        b.push(b',');
    }
    b.push(b',');
    push_dec(b, p.aux_coef);
    b.push(b',');
    push_dec(b, p.coefficient);
    b.push(b',');
    push_dec(b, p.rate);
    b.push(b',');
    if !p.standard.is_zero() {
        push_money(b, p.standard);
    }
    b.push(b',');
    push_dec(b, p.outlier_factor);
    b.push(b',');
    // A case with a standard always shows its cost ratio, `0` included.
    if !p.standard.is_zero() {
        push_dec(b, p.cost_ratio);
    }
    b.push(b',');
    push_dec(b, p.points);
    b.push(b',');
    close(spill, at_b);
    // Whole fen: the payment standard and the negotiated amount are rounded to the fen
    // by the pricer, the costs are read to the fen.
    for m in [p.payment_standard, row.total - row.covered, p.negotiated] {
        debug_assert!(m.scale() <= 2, "{m} is not to the fen");
        spill.extend_from_slice(&to_fen(m).to_le_bytes());
    }
}

/// Encodes one rejected row: its output line before the message, and the message,
/// which starts with the physical line the record starts on in the input.
fn spill_rejected(spill: &mut Vec<u8>, rec: &Fields<'_>, c: &Cols, line_no: u64, msg: &str) {
    let clip = |i: usize| -> Vec<u8> {
        let f = rec.get(i).unwrap_or(b"");
        let f = String::from_utf8_lossy(f);
        let f = f.trim();
        if f.len() > MAX_FIELD {
            let mut s = f[..f.floor_char_boundary(64)].to_owned();
            s.push('…');
            s.into_bytes()
        } else {
            f.as_bytes().to_vec()
        }
    };
    let mut line = Vec::with_capacity(160);
    push_csv_field(&mut line, &clip(c.case_id));
    line.push(b',');
    line.extend_from_slice(c.method.key().as_bytes());
    line.push(b',');
    push_csv_field(&mut line, &clip(c.group));
    line.push(b',');
    push_csv_field(&mut line, &clip(c.hospital_id));
    line.extend_from_slice(b",,,,,,rejected,");
    spill.push(0);
    push_u32(spill, line.len());
    spill.extend_from_slice(&line);
    let msg = format!("line {line_no}: {msg}");
    push_u32(spill, msg.len());
    spill.extend_from_slice(msg.as_bytes());
}

/// Parses, prices and spills the records of one block, whose first line is line
/// `first_line` of the input.
fn price_block(pricer: &Pricer, cols: &Cols, bytes: &[u8], first_line: u64) -> Result<BlockOut> {
    let mut out = BlockOut {
        records: 0,
        rejected: 0,
        not_grouped: 0,
        spill: Vec::with_capacity(bytes.len() + bytes.len() / 2),
        recs: BlockRecs::new(&[]),
        ids: String::with_capacity(bytes.len() / 8),
    };
    let mut recs = Vec::with_capacity(bytes.len() / 100);
    let mut failed: Option<PipelineError> = None;
    split_block(bytes, first_line, |line, rec| {
        if failed.is_none()
            && let Err(e) = price_record(pricer, cols, &mut out, &mut recs, line, rec)
        {
            failed = Some(e);
        }
    });
    match failed {
        Some(e) => Err(e),
        None => {
            out.recs = BlockRecs::new(&recs);
            Ok(out)
        }
    }
}

/// Parses, prices and spills one record (starting on physical line `line`) into `out`.
fn price_record(
    pricer: &Pricer,
    cols: &Cols,
    out: &mut BlockOut,
    recs: &mut Vec<BenefitRec>,
    line: u64,
    rec: &Fields<'_>,
) -> Result<()> {
    let too_large = || PipelineError::TooLarge("a block of more than 4 billion rows");
    let row = u32::try_from(out.records).map_err(|_| too_large())?;
    out.records += 1;
    let res = parse_row(rec, cols).and_then(|r| {
        let p = price_row(pricer, cols, &r)?;
        Ok((r, p))
    });
    match res {
        Ok((r, p)) => {
            if !matches!(r.status, GroupStatus::Grouped | GroupStatus::Composite) {
                out.not_grouped += 1;
            }
            spill_ok(&mut out.spill, &r, &p, cols);
            let id_start = u32::try_from(out.ids.len()).map_err(|_| too_large())?;
            out.ids.push_str(r.person);
            out.ids.push_str(r.case_id);
            recs.push(BenefitRec {
                person_hash: person_hash(r.person),
                discharge: r.discharge,
                admit: r.admit,
                id_start,
                // Fields are at most MAX_FIELD (4096) bytes long.
                person_len: r.person.len() as u16,
                id_len: r.case_id.len() as u16,
                row,
                level: r.level,
                insurance: r.insurance,
                day_surgery: r.day_surgery,
                referral: r.referral,
                total: to_fen(r.total),
                covered: to_fen(r.covered),
            });
        }
        Err(msg) => {
            out.rejected += 1;
            spill_rejected(&mut out.spill, rec, cols, line, &msg);
        }
    }
    Ok(())
}

/// Removes the spill file however the run ends.
struct Spill(PathBuf);

impl Drop for Spill {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// What stage 1 returns: each block's benefit records ([`BlockRecs`]), the ids they
/// point into, the rows read, and (rows rejected, rows not grouped).
type StageOne = (Vec<BlockRecs>, String, u64, (u64, u64));

/// Benefit records are kept in 2¹⁰ buckets by the top bits of the person hash: a
/// person's records fall in one bucket, and the buckets (about a thousand records each
/// per million rows) are sorted and worked on one by one, in parallel, each in cache.
const BUCKET_BITS: u32 = 10;
const BUCKETS: usize = 1 << BUCKET_BITS;

/// The bucket of a benefit record.
fn bucket(r: &BenefitRec) -> usize {
    (r.person_hash >> (64 - BUCKET_BITS)) as usize
}

/// The benefit records of one block, ordered by [`bucket`] (bucket `b` is
/// `recs[starts[b]..starts[b + 1]]`), with ids and rows counted within the block:
/// `id_base` and `row_base` place them in the run.
struct BlockRecs {
    recs: Vec<BenefitRec>,
    starts: Vec<u32>,
    id_base: u32,
    row_base: u32,
}

impl BlockRecs {
    /// Orders a block's records by bucket (a counting sort: two passes, no comparison).
    fn new(recs: &[BenefitRec]) -> Self {
        let mut starts = vec![0u32; BUCKETS + 1];
        for r in recs {
            starts[bucket(r) + 1] += 1;
        }
        for b in 0..BUCKETS {
            starts[b + 1] += starts[b];
        }
        let mut at = starts.clone();
        let mut sorted = match recs.first() {
            Some(r) => vec![*r; recs.len()],
            None => Vec::new(),
        };
        for r in recs {
            let b = bucket(r);
            sorted[at[b] as usize] = *r;
            at[b] += 1;
        }
        Self {
            recs: sorted,
            starts,
            id_base: 0,
            row_base: 0,
        }
    }

    /// The records of bucket `b`, placed in the run.
    fn bucket(&self, b: usize) -> impl Iterator<Item = BenefitRec> + '_ {
        let (s, e) = (self.starts[b] as usize, self.starts[b + 1] as usize);
        self.recs[s..e].iter().map(|r| BenefitRec {
            id_start: r.id_start + self.id_base,
            row: r.row + self.row_base,
            ..*r
        })
    }

    fn bucket_len(&self, b: usize) -> usize {
        (self.starts[b + 1] - self.starts[b]) as usize
    }
}

/// Stage 1: read, parse, price, spill; collect benefit records. Blocks of whole
/// records are parsed and priced in parallel ([`par_blocks`]); each block's spill
/// (behind its row count and length) and records are appended in input order.
fn stage_one<R: Read + Send>(
    pricer: &Pricer,
    src: CsvBlocks<R>,
    cols: &Cols,
    spill: &mut (dyn Write + Send),
    progress: &(dyn Fn(Progress) + Sync),
    cancel: &Cancel,
) -> Result<StageOne> {
    let mut ids = String::new();
    let mut recs: Vec<BlockRecs> = Vec::new();
    let (mut rows, mut rejected, mut not_grouped) = (0u64, 0u64, 0u64);
    let work = |bytes: &[u8], first_line: u64| {
        if cancel.is_cancelled() {
            return Err(PipelineError::Cancelled);
        }
        price_block(pricer, cols, bytes, first_line)
    };
    par_blocks(src, work, |part: BlockOut| {
        let werr = PipelineError::io("writing the spill file");
        spill
            .write_all(&part.records.to_le_bytes())
            .and_then(|()| spill.write_all(&(part.spill.len() as u64).to_le_bytes()))
            .and_then(|()| spill.write_all(&part.spill))
            .map_err(werr)?;
        let id_base = u32::try_from(ids.len())
            .map_err(|_| PipelineError::TooLarge("case ids exceed 4 GB"))?;
        ids.push_str(&part.ids);
        if u32::try_from(ids.len()).is_err() {
            return Err(PipelineError::TooLarge("case ids exceed 4 GB"));
        }
        // Row numbers are u32: the rows before this block and its own must fit.
        if rows + part.records > u64::from(u32::MAX) {
            return Err(PipelineError::TooLarge("more than 4 billion rows"));
        }
        let mut block = part.recs;
        block.id_base = id_base;
        block.row_base = rows as u32;
        recs.push(block);
        rows += part.records;
        rejected += part.rejected;
        not_grouped += part.not_grouped;
        progress(Progress {
            stage: Stage::Reading,
            rows,
        });
        Ok(())
    })?;
    Ok((recs, ids, rows, (rejected, not_grouped)))
}

/// The key a benefit record is sorted by: 54 bits of the person's hash, the discharge
/// and admission dates (21 bits each), the row (32 bits, input order).
fn sort_key(r: &BenefitRec) -> u128 {
    (u128::from(r.person_hash >> 10) << 74)
        | (u128::from(r.discharge.key()) << 53)
        | (u128::from(r.admit.key()) << 32)
        | u128::from(r.row)
}

/// Whether two records fall in the same hash run of [`sort_key`] (one person, or
/// persons whose hashes collide).
fn same_hash_run(a: &BenefitRec, b: &BenefitRec) -> bool {
    a.person_hash >> 10 == b.person_hash >> 10
}

/// Stage 2: benefits in date order per person, persons in parallel (a bucket of
/// persons at a time: [`BUCKETS`]).
fn stage_two(policy: &Policy, blocks: Vec<BlockRecs>, ids: &str, rows: u64) -> Result<Shares> {
    let rows = usize::try_from(rows).map_err(|_| PipelineError::TooLarge("too many rows"))?;
    let benefits = &policy.payment.benefits;
    // A bucket's records are gathered from every block and sorted themselves (48 bytes
    // each): the benefit rules then read them in memory order, which costs less than
    // sorting keys and chasing each record. A bucket holds whole hash runs (the key's
    // hash bits include the bucket's).
    let done: Vec<Vec<(u32, [i64; 3])>> = (0..BUCKETS)
        .into_par_iter()
        .map(|b| {
            let mut piece = Vec::with_capacity(blocks.iter().map(|k| k.bucket_len(b)).sum());
            for k in &blocks {
                piece.extend(k.bucket(b));
            }
            piece.sort_unstable_by_key(sort_key);
            order_persons(&mut piece, ids);
            apply_benefits(&piece, ids, benefits)
        })
        .collect();
    // The records are no longer needed: free them before the per-row table.
    drop(blocks);
    let mut shares: Shares = vec![NO_SHARE; rows];
    for piece in done {
        for (row, s) in piece {
            shares[row as usize] = s;
        }
    }
    Ok(shares)
}

/// Finishes the order of records sorted by [`sort_key`]: a person's records by
/// discharge date, admission date, case id, row. The key already orders by hash, dates
/// and row; here records with the same dates are ordered by case id and, where
/// persons' hashes collide, by person id first.
fn order_persons(piece: &mut [BenefitRec], ids: &str) {
    let cmp = |a: &BenefitRec, b: &BenefitRec| {
        a.person(ids)
            .cmp(b.person(ids))
            .then((sort_key(a) >> 32).cmp(&(sort_key(b) >> 32)))
            .then(a.case_id(ids).cmp(b.case_id(ids)))
            .then(a.row.cmp(&b.row))
    };
    let mut s = 0;
    while s < piece.len() {
        let mut e = s + 1;
        while e < piece.len() && same_hash_run(&piece[e], &piece[s]) {
            e += 1;
        }
        if e - s > 1 {
            let first = piece[s].person(ids);
            if piece[s + 1..e].iter().any(|r| r.person(ids) != first) {
                piece[s..e].sort_unstable_by(cmp);
            } else {
                // One person: only records with the same dates need ordering by case id.
                let dates = |r: &BenefitRec| (r.discharge, r.admit);
                let mut t = s;
                while t < e {
                    let mut u = t + 1;
                    while u < e && dates(&piece[u]) == dates(&piece[t]) {
                        u += 1;
                    }
                    if u - t > 1 {
                        piece[t..u].sort_unstable_by(cmp);
                    }
                    t = u;
                }
            }
        }
        s = e;
    }
}

/// Applies the benefit rules to the ordered records of `piece` (whole persons): each
/// person's year starts with empty accumulators. Returns (row, shares in fen).
fn apply_benefits(
    piece: &[BenefitRec],
    ids: &str,
    benefits: &BenefitPolicy,
) -> Vec<(u32, [i64; 3])> {
    let inpatient = ClaimKind::Inpatient;
    let mut out = Vec::with_capacity(piece.len());
    let mut acc = PersonYear::default();
    let mut prev: Option<&BenefitRec> = None;
    for r in piece {
        let same_person =
            prev.is_some_and(|p| p.person_hash == r.person_hash && p.person(ids) == r.person(ids));
        if !same_person || acc.year() != r.discharge.year {
            acc = PersonYear::new(r.discharge.year);
        }
        prev = Some(r);
        let facts = ClaimFacts {
            kind: &inpatient,
            level: r.level,
            insurance: r.insurance,
            total_cost: from_fen(r.total),
            covered_cost: from_fen(r.covered),
            day_surgery: r.day_surgery,
            referral: r.referral,
        };
        if let Ok(s) = acc.apply(benefits, &facts) {
            out.push((
                r.row,
                [to_fen(s.patient), to_fen(s.deductible), to_fen(s.over_cap)],
            ));
        }
    }
    out
}

/// Takes `n` bytes off the front of `b`.
fn take<'a>(b: &mut &'a [u8], n: usize) -> Result<&'a [u8]> {
    if b.len() < n {
        return Err(PipelineError::Io {
            what: "reading the spill file".into(),
            source: std::io::ErrorKind::UnexpectedEof.into(),
        });
    }
    let (head, tail) = b.split_at(n);
    *b = tail;
    Ok(head)
}

/// Takes a part written behind its 4-byte length.
fn take_part<'a>(b: &mut &'a [u8]) -> Result<&'a [u8]> {
    let len = take(b, 4)?;
    let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
    take(b, len)
}

fn take_fen(b: &mut &[u8]) -> Result<i64> {
    let mut d = [0u8; 8];
    d.copy_from_slice(take(b, 8)?);
    Ok(i64::from_le_bytes(d))
}

/// The output text of one spilled block, its benefit columns filled in from `shares`
/// (the shares of its rows onwards).
fn format_block(mut spill: &[u8], shares: &[[i64; 3]]) -> Result<Vec<u8>> {
    let mut o = Vec::with_capacity(spill.len() + spill.len() / 4);
    let mut i = 0;
    while !spill.is_empty() {
        if take(&mut spill, 1)?[0] == 0 {
            let line = take_part(&mut spill)?;
            let msg = take_part(&mut spill)?;
            o.extend_from_slice(line);
            push_csv_field(&mut o, msg);
            o.extend_from_slice(&[b','; PRICED_HEADER.len() - 11]);
            o.push(b'\n');
        } else {
            let a = take_part(&mut spill)?;
            let b = take_part(&mut spill)?;
            // All in whole fen (amounts of at most 10¹² fen: no overflow).
            let payment = take_fen(&mut spill)?;
            let uncovered = take_fen(&mut spill)?;
            let negotiated = take_fen(&mut spill)?;
            let [patient, deductible, over_cap] = shares[i];
            debug_assert!(patient != i64::MIN, "accepted rows have shares");
            let coinsurance = patient - uncovered - deductible - over_cap;
            // The patient's share goes against the group payment first; the fund pays
            // the rest of it and of the negotiated drugs (paid as is, outside the total).
            let group_fund = (payment - patient).max(0);
            let fund = (payment + negotiated - patient).max(0);
            o.extend_from_slice(a);
            push_fen(&mut o, patient);
            o.push(b',');
            push_fen(&mut o, fund);
            o.extend_from_slice(b);
            for m in [deductible, coinsurance, over_cap, uncovered, negotiated] {
                push_fen(&mut o, m);
                o.push(b',');
            }
            push_fen(&mut o, fund - group_fund);
            o.push(b'\n');
        }
        i += 1;
    }
    Ok(o)
}

/// Reads the next spilled block: its row count and bytes; `None` at the end.
fn read_block(r: &mut dyn Read) -> Result<Option<(usize, Vec<u8>)>> {
    let rerr = || PipelineError::io("reading the spill file");
    let mut head = [0u8; 16];
    let mut got = 0;
    while got < head.len() {
        match r.read(&mut head[got..]).map_err(rerr())? {
            0 if got == 0 => return Ok(None),
            0 => return Err(rerr()(std::io::ErrorKind::UnexpectedEof.into())),
            n => got += n,
        }
    }
    let word = |i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&head[i..i + 8]);
        u64::from_le_bytes(w)
    };
    let too_large = || PipelineError::TooLarge("a spilled block larger than memory");
    let rows = usize::try_from(word(0)).map_err(|_| too_large())?;
    let len = usize::try_from(word(8)).map_err(|_| too_large())?;
    let mut bytes = vec![0u8; len];
    r.read_exact(&mut bytes).map_err(rerr())?;
    Ok(Some((rows, bytes)))
}

/// Stage 3: fill in the benefit columns and write the output in input order. A batch
/// of spilled blocks is formatted in parallel while the previous batch is written.
fn stage_three(
    spill: &mut dyn Read,
    shares: &Shares,
    out: &mut (dyn Write + Send),
    progress: &(dyn Fn(Progress) + Sync),
    cancel: &Cancel,
) -> Result<()> {
    let per_batch = BLOCKS_PER_THREAD * rayon::current_num_threads().max(2);
    let mut row = 0usize;
    let mut written = 0usize;
    let mut pending: Vec<Vec<u8>> = Vec::new();
    loop {
        if cancel.is_cancelled() {
            return Err(PipelineError::Cancelled);
        }
        let mut batch: Vec<(usize, Vec<u8>)> = Vec::with_capacity(per_batch);
        while batch.len() < per_batch {
            let Some((n, bytes)) = read_block(spill)? else {
                break;
            };
            if row + n > shares.len() {
                return Err(PipelineError::Io {
                    what: "reading the spill file".into(),
                    source: std::io::ErrorKind::InvalidData.into(),
                });
            }
            batch.push((row, bytes));
            row += n;
        }
        let last = batch.is_empty();
        let (wrote, texts) = rayon::join(
            || -> Result<()> {
                for t in &pending {
                    out.write_all(t)
                        .map_err(PipelineError::io("writing the output"))?;
                }
                Ok(())
            },
            || {
                batch
                    .par_iter()
                    .map(|(base, bytes)| format_block(bytes, &shares[*base..]))
                    .collect::<Result<Vec<_>>>()
            },
        );
        wrote?;
        if !pending.is_empty() {
            progress(Progress {
                stage: Stage::Writing,
                rows: written as u64,
            });
        }
        pending = texts?;
        written = row;
        if last {
            return Ok(());
        }
    }
}

/// A unique spill file name in `dir`.
fn spill_path(dir: &std::path::Path) -> PathBuf {
    static RUN: AtomicU64 = AtomicU64::new(0);
    dir.join(format!(
        "drgdip-price-{}-{}-{}.spill",
        std::process::id(),
        RUN.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ))
}

/// Prices a CSV of grouped cases (the output of `group --carry` / `dip group --carry`)
/// and writes one output row per input row, in input order, with the columns of
/// [`PRICED_HEADER`]: the payment standard of each case, then the benefits applied
/// per person in date order (deductible, coinsurance, caps), so the patient share
/// and the fund outlay.
///
/// Rows that cannot be priced are written with status `rejected` and a message
/// naming the row and the field; they never stop the run. The run stops with an error
/// only when the input as a whole is unusable (a missing column, an I/O error).
/// The output does not depend on the thread count nor on the order of the input rows
/// of one person.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use drgdip_pipeline::price::{PriceConfig, SpillTo, price};
/// let policy = drgdip_payment::Policy::load("../../data/demo-policy.toml".as_ref())?;
/// let input = "case_id,status,drg,hospital_id,hospital_level,insurance_type,person_id,\
/// admit_date,discharge_date,total_cost,covered_cost\n\
/// c1,grouped,XX99,H1,3,employee,P1,2025-01-01,2025-01-05,100,100\n";
/// let mut out = Vec::new();
/// let config = PriceConfig { spill: SpillTo::Memory, ..PriceConfig::default() };
/// let summary = price(&policy, input.as_bytes(), &mut out, &config, &|_| {})?;
/// assert_eq!((summary.rows, summary.rejected), (1, 1)); // XX99 is no DRG of the policy
/// assert!(String::from_utf8(out)?.contains("line 2: field `drg`"));
/// # Ok(())
/// # }
/// ```
pub fn price<R: Read + Send, W: Write + Send>(
    policy: &Policy,
    input: R,
    output: W,
    config: &PriceConfig,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<PriceSummary> {
    price_cancellable(policy, input, output, config, progress, &Cancel::new())
}

/// [`price`] watching a [`Cancel`] flag: the reading and the writing passes check it
/// per block of rows (not per row); once it is set the run stops, removes its spill
/// and returns [`PipelineError::Cancelled`].
pub fn price_cancellable<R: Read + Send, W: Write + Send>(
    policy: &Policy,
    input: R,
    mut output: W,
    config: &PriceConfig,
    progress: &(dyn Fn(Progress) + Sync),
    cancel: &Cancel,
) -> Result<PriceSummary> {
    let started = Instant::now();
    let pricer = Pricer::new(policy.pricing.clone());
    let src = CsvBlocks::open(input)?;
    let header = Header::from_names(src.header());
    let cols = Cols::new(&header)?;
    with_pool(config.threads, move || {
        // Stage 1 into the spill.
        let (recs, ids, rows, (rejected, not_grouped), spill_file, spilled) = match &config.spill {
            SpillTo::TempFile(dir) => {
                let spill = Spill(spill_path(dir));
                let file = File::create(&spill.0).map_err(PipelineError::io(format!(
                    "creating the spill file {}",
                    spill.0.display()
                )))?;
                let mut w = BufWriter::with_capacity(1 << 20, file);
                let (recs, ids, rows, rejected) =
                    stage_one(&pricer, src, &cols, &mut w, progress, cancel)?;
                w.flush()
                    .map_err(PipelineError::io("writing the spill file"))?;
                drop(w);
                (recs, ids, rows, rejected, Some(spill), Vec::new())
            }
            SpillTo::Memory => {
                let mut v = Vec::new();
                let (recs, ids, rows, rejected) =
                    stage_one(&pricer, src, &cols, &mut v, progress, cancel)?;
                (recs, ids, rows, rejected, None, v)
            }
        };
        let t1 = started.elapsed();
        let shares = stage_two(policy, recs, &ids, rows)?;
        drop(ids);
        let t2 = started.elapsed();
        progress(Progress {
            stage: Stage::Benefits,
            rows,
        });
        let write_header = |out: &mut W| -> std::io::Result<()> {
            out.write_all(PRICED_HEADER.join(",").as_bytes())?;
            out.write_all(b"\n")
        };
        write_header(&mut output).map_err(PipelineError::io("writing the output"))?;
        match &spill_file {
            Some(spill) => {
                let mut f = File::open(&spill.0).map_err(PipelineError::io(format!(
                    "reading the spill file {}",
                    spill.0.display()
                )))?;
                stage_three(&mut f, &shares, &mut output, progress, cancel)?;
            }
            None => stage_three(&mut &spilled[..], &shares, &mut output, progress, cancel)?,
        }
        output
            .flush()
            .map_err(PipelineError::io("writing the output"))?;
        drop(spill_file);
        let t3 = started.elapsed();
        Ok(PriceSummary {
            rows,
            rejected,
            not_grouped,
            stages: [t1, t2 - t1, t3 - t2],
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec_str(s: &str) -> String {
        let mut b = Vec::new();
        push_dec(&mut b, s.parse().unwrap());
        String::from_utf8(b).unwrap()
    }

    fn money_str(s: &str) -> String {
        let mut b = Vec::new();
        push_money(&mut b, s.parse().unwrap());
        String::from_utf8(b).unwrap()
    }

    /// A resident's stay at a level-3 hospital, `yuan` all covered.
    fn stay(
        ids: &mut String,
        person: &str,
        case: &str,
        date: &str,
        row: u32,
        yuan: i64,
    ) -> BenefitRec {
        let id_start = ids.len() as u32;
        ids.push_str(person);
        ids.push_str(case);
        let d = Date::parse(date).unwrap();
        BenefitRec {
            person_hash: person_hash(person),
            discharge: d,
            admit: d,
            id_start,
            person_len: person.len() as u16,
            id_len: case.len() as u16,
            row,
            level: HospitalLevel::parse("3").unwrap(),
            insurance: InsuranceType::Resident,
            day_surgery: false,
            referral: Referral::None,
            total: yuan * 100,
            covered: yuan * 100,
        }
    }

    /// Two persons whose hashes collide (and their stays interleaved in the input) get
    /// the same shares as with distinct hashes; stays on the same day go by case id.
    /// Late years too: every date of the accepted range has its own bits in the sort key.
    #[test]
    fn benefit_order_survives_hash_collisions() {
        let policy = Policy::load("../../data/demo-policy.toml".as_ref()).unwrap();
        for (year, next) in [("2025", "2026"), ("2100", "2101"), ("2998", "2999")] {
            let mut ids = String::new();
            let mut recs = Vec::new();
            let stays = [
                ("c3", format!("{year}-03-03")),
                ("c2b", format!("{year}-03-02")),
                ("c1", format!("{year}-03-01")),
                ("c2a", format!("{year}-03-02")),
                // Another year: the accumulators start again.
                ("c0", format!("{next}-01-05")),
            ];
            let mut row = 0;
            for (case, date) in &stays {
                for person in ["B", "A"] {
                    recs.push(stay(&mut ids, person, case, date, row, 200_000));
                    row += 1;
                }
            }
            let rows = u64::from(row);
            let collided: Vec<BenefitRec> = recs
                .iter()
                .map(|r| BenefitRec {
                    person_hash: 42,
                    ..*r
                })
                .collect();
            // In two blocks, the second's rows and ids counted from its start.
            let blocks = |recs: &[BenefitRec]| {
                let (a, b) = recs.split_at(3);
                let id_base = b[0].id_start;
                let b: Vec<BenefitRec> = b
                    .iter()
                    .map(|r| BenefitRec {
                        id_start: r.id_start - id_base,
                        row: r.row - 3,
                        ..*r
                    })
                    .collect();
                let mut second = BlockRecs::new(&b);
                (second.id_base, second.row_base) = (id_base, 3);
                vec![BlockRecs::new(a), second]
            };
            let distinct = stage_two(&policy, blocks(&recs), &ids, rows).unwrap();
            let same = stage_two(&policy, blocks(&collided), &ids, rows).unwrap();
            assert_eq!(distinct, same, "{year}");
            // Per person (rows 2k = B, 2k+1 = A): c1 under the cap, c2a partly over it
            // (resident cap 200,000 of fund: 119,280 + 80,720), c2b and c3 wholly over.
            for p in 0..2 {
                let over = |stay: usize| distinct[2 * stay + p][2];
                assert_eq!(over(2), 0, "{year} c1");
                assert_eq!(
                    over(3),
                    3_856_000,
                    "{year} c2a: 119,280 − 80,720 yuan over the cap"
                );
                assert_eq!(over(1), 11_928_000, "{year} c2b after c2a");
                assert_eq!(over(0), 11_928_000, "{year} c3");
                assert_eq!(over(4), 0, "{year}: a new year");
            }
        }
    }

    #[test]
    fn decimals_format_like_display_normalized() {
        for s in [
            "1.10", "2.0", "0", "0.0001", "-0.5", "12000", "1.3978", "100", "0.000", "-12.340",
        ] {
            let d: Decimal = s.parse().unwrap();
            assert_eq!(dec_str(s), d.normalize().to_string(), "{s}");
        }
        for s in [
            "1.05",
            "-0.05",
            "123456789.000123",
            "18446744073709551615",
            "0.00000000000000000005",
            "1844674407370955.1615",
            "79228162514264337593543950335",
            "-7.9228162514264337593543950335",
        ] {
            let d: Decimal = s.parse().unwrap();
            assert_eq!(dec_str(s), d.normalize().to_string(), "{s}");
        }
        let fen = |f: i64| {
            let mut b = Vec::new();
            push_fen(&mut b, f);
            String::from_utf8(b).unwrap()
        };
        for f in [
            0,
            5,
            -1,
            100,
            -12_345,
            99,
            1_000_000_000_000,
            i64::MAX,
            i64::MIN + 1,
        ] {
            assert_eq!(fen(f), Decimal::new(f, 2).to_string(), "{f}");
        }
        assert_eq!(money_str("12"), "12.00");
        assert_eq!(money_str("-0.005"), "-0.01");
        assert_eq!(money_str("1234567.891"), "1234567.89");
        assert_eq!(money_str("0.1"), "0.10");
        let mut b = Vec::new();
        push_date(&mut b, Date::parse("2025-03-09").unwrap());
        assert_eq!(b, b"2025-03-09");
        let mut f = Vec::new();
        push_csv_field(&mut f, b"a,\"b\"");
        assert_eq!(f, b"\"a,\"\"b\"\"\"");
    }
}
