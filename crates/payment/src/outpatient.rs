//! Outpatient claims priced with the policy's `[benefits.outpatient]` schemes (the
//! hypertension/diabetes 两病 drugs, resident ordinary outpatient care …): a CSV of
//! claims in, one CSV row out per claim, in input order.
//!
//! Input columns (found by name, header required, UTF-8 BOM accepted, extra columns
//! ignored): `claim_id, person_id, scheme, hospital_level, insurance_type,
//! visit_date, total_cost, covered_cost`. `scheme` names a table of
//! `[benefits.outpatient]`. Claims are worked per person in date order (then claim id)
//! with the annual deductible and cap of each scheme, per insurance type, restarting
//! each calendar year — the same accumulators as [`crate::benefits`].
//!
//! Output: [`OUTPATIENT_HEADER`]. A claim that cannot be read or priced gets a row with
//! `status = rejected`, empty money columns and `row N: field `x`: why`; it does not
//! enter the accumulators.

use std::io::{Read, Write};

use drgdip_pricing::money::round_yuan;
use drgdip_pricing::{Date, HospitalLevel, InsuranceType};
use rust_decimal::Decimal;

use crate::benefits::{Claim, ClaimError, ClaimKind, Referral, apply_benefits};
use crate::policy::BenefitPolicy;

/// Columns of the output.
pub const OUTPATIENT_HEADER: [&str; 15] = [
    "claim_id",
    "person_id",
    "scheme",
    "insurance_type",
    "visit_date",
    "total_cost",
    "covered_cost",
    "uncovered",
    "deductible",
    "coinsurance",
    "over_cap",
    "patient_share",
    "fund_share",
    "status",
    "message",
];

const COLUMNS: [&str; 8] = [
    "claim_id",
    "person_id",
    "scheme",
    "hospital_level",
    "insurance_type",
    "visit_date",
    "total_cost",
    "covered_cost",
];

/// Counts and totals of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutpatientSummary {
    /// Claims read (= rows written).
    pub claims: u64,
    /// Claims rejected.
    pub rejected: u64,
    /// Σ patient shares of the accepted claims.
    pub patient: Decimal,
    /// Σ fund shares of the accepted claims.
    pub fund: Decimal,
}

/// Why the file could not be processed (row problems are rejected rows instead).
#[derive(Debug, thiserror::Error)]
pub enum OutpatientError {
    /// The header lacks a required column.
    #[error("the outpatient claims file has no `{0}` column (needs {cols})", cols = COLUMNS.join(", "))]
    MissingColumn(&'static str),
    /// The CSV could not be read or written.
    #[error("outpatient claims, line {line}: {source}")]
    Csv {
        /// 1-based line (1 = header; 0 when writing).
        line: u64,
        /// The CSV error.
        #[source]
        source: csv::Error,
    },
}

/// The largest amount of a claim field: 10¹⁰ yuan (as for the case files of
/// `price`), so that a person's yearly sums stay far inside `Decimal`'s range.
const MAX_CLAIM: Decimal = Decimal::from_parts(1_410_065_408, 2, 0, false, 0);

fn money(s: &str, name: &str) -> Result<Decimal, String> {
    if s.is_empty() {
        return Err(format!("field `{name}` is empty"));
    }
    if s.len() > 30 {
        return Err(format!("field `{name}` is too long to be an amount"));
    }
    // Written plainly, as in every file drgdip reads: `1_000` and `1e5` are not numbers.
    let d = drgdip_pricing::money::plain_decimal(s)
        .ok_or_else(|| format!("field `{name}`: `{s}` is not a number"))?;
    if d < Decimal::ZERO {
        return Err(format!("field `{name}`: {s} is negative"));
    }
    if d > MAX_CLAIM {
        return Err(format!(
            "field `{name}`: {s} is more than 10000000000 yuan (the most a claim field may hold)"
        ));
    }
    if d.normalize().scale() > 2 {
        return Err(format!(
            "field `{name}`: {s} has more than two decimals (fen)"
        ));
    }
    Ok(round_yuan(d))
}

fn parse_row(rec: &csv::StringRecord, idx: &[usize; 8]) -> Result<Claim, String> {
    let get = |i: usize| rec.get(idx[i]).unwrap_or("").trim();
    let id = get(0);
    let person = get(1);
    if person.is_empty() {
        return Err("field `person_id` is empty".into());
    }
    let scheme = get(2);
    if scheme.is_empty() {
        return Err("field `scheme` is empty".into());
    }
    let lv = get(3);
    let level = HospitalLevel::parse(lv)
        .ok_or_else(|| format!("field `hospital_level`: `{lv}` is not 3, 2, 1 or 0"))?;
    let it = get(4);
    let insurance = InsuranceType::parse(it)
        .ok_or_else(|| format!("field `insurance_type`: `{it}` is not employee or resident"))?;
    let d = get(5);
    let date = Date::parse(d)
        .ok_or_else(|| format!("field `visit_date`: `{d}` is not a date YYYY-MM-DD"))?;
    let total_cost = money(get(6), "total_cost")?;
    let covered_cost = money(get(7), "covered_cost")?;
    if covered_cost > total_cost {
        return Err(format!(
            "field `covered_cost`: {covered_cost} is more than total_cost {total_cost}"
        ));
    }
    Ok(Claim {
        id: id.to_owned(),
        person: person.to_owned(),
        admit: date,
        discharge: date,
        kind: ClaimKind::Outpatient(scheme.to_owned()),
        level,
        insurance,
        total_cost,
        covered_cost,
        day_surgery: false,
        referral: Referral::None,
    })
}

fn claim_field(e: &ClaimError) -> &'static str {
    match e {
        ClaimError::Costs { .. } => "covered_cost",
        ClaimError::UnknownScheme(_) => "scheme",
        ClaimError::NotCovered { .. } => "insurance_type",
    }
}

/// Prices the outpatient claims of `input` under `policy` and writes one row per claim
/// to `output`, in input order. The whole file is read first (the benefit rules need
/// each person's claims in date order).
pub fn price_outpatient<R: Read, W: Write>(
    policy: &BenefitPolicy,
    input: R,
    output: W,
) -> Result<OutpatientSummary, OutpatientError> {
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(input);
    let headers = rdr
        .headers()
        .map_err(|source| OutpatientError::Csv { line: 1, source })?
        .clone();
    let mut idx = [0usize; 8];
    for (i, name) in COLUMNS.iter().enumerate() {
        idx[i] = headers
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}').trim() == *name)
            .ok_or(OutpatientError::MissingColumn(name))?;
    }
    // (line, raw fields kept for the output, parsed claim or error)
    let mut rows: Vec<(u64, csv::StringRecord, Result<usize, String>)> = Vec::new();
    let mut claims = Vec::new();
    let mut rec = csv::StringRecord::new();
    let mut line = 1u64;
    loop {
        match rdr.read_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(source) => {
                return Err(OutpatientError::Csv {
                    line: line + 1,
                    source,
                });
            }
        }
        line = rec.position().map_or(line + 1, csv::Position::line);
        let parsed = parse_row(&rec, &idx).map(|c| {
            claims.push(c);
            claims.len() - 1
        });
        rows.push((line, rec.clone(), parsed));
    }
    let shares = apply_benefits(policy, &claims);
    let mut w = csv::Writer::from_writer(output);
    let werr = |source| OutpatientError::Csv { line: 0, source };
    w.write_record(OUTPATIENT_HEADER).map_err(werr)?;
    let mut summary = OutpatientSummary::default();
    for (line, rec, parsed) in rows {
        summary.claims += 1;
        let get = |i: usize| rec.get(idx[i]).unwrap_or("").trim().to_owned();
        let mut out = vec![get(0), get(1), get(2), get(4), get(5), get(6), get(7)];
        let result = parsed.and_then(|i| {
            shares[i]
                .clone()
                .map_err(|e| format!("field `{}`: {e}", claim_field(&e)))
        });
        match result {
            Ok(s) => {
                summary.patient += s.patient;
                summary.fund += s.fund;
                for m in [
                    s.uncovered,
                    s.deductible,
                    s.coinsurance,
                    s.over_cap,
                    s.patient,
                    s.fund,
                ] {
                    out.push(round_yuan(m).to_string());
                }
                out.push("ok".into());
                out.push(String::new());
            }
            Err(message) => {
                summary.rejected += 1;
                out.extend(std::iter::repeat_n(String::new(), 6));
                out.push("rejected".into());
                out.push(format!("row {line}: {message}"));
            }
        }
        w.write_record(&out).map_err(werr)?;
    }
    w.flush().map_err(|e| werr(csv::Error::from(e)))?;
    Ok(summary)
}
