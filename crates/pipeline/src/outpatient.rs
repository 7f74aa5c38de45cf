//! Outpatient claims priced with the policy's `[benefits.outpatient]` schemes (the
//! hypertension/diabetes 两病 drugs, resident ordinary outpatient care …): a CSV of
//! claims in, one CSV row out per claim, in input order.
//!
//! Input columns (found by name, header required, UTF-8 BOM accepted, extra columns
//! ignored): `claim_id, person_id, scheme, hospital_level, insurance_type,
//! visit_date, total_cost, covered_cost`. `scheme` names a table of
//! `[benefits.outpatient]`. Claims are worked per person in date order (then claim id)
//! with the annual deductible and cap of each scheme, per insurance type, restarting
//! each calendar year — the accumulators of [`drgdip_payment::benefits`].
//!
//! Output: [`OUTPATIENT_HEADER`]. A claim that cannot be read or priced gets a row with
//! `status = rejected`, empty money columns and `row N: field `x`: why`; it does not
//! enter the accumulators.

use std::io::{Read, Write};

use drgdip_payment::Policy;
use drgdip_payment::benefits::{Claim, ClaimError, ClaimKind, Referral, apply_benefits};
use drgdip_pricing::{HospitalLevel, InsuranceType};
use rust_decimal::Decimal;

use crate::columns::{Header, MAX_FIELD, date, field, money, overlong_field, yuan};
use crate::error::{PipelineError, Result};
use drgdip_io::{CsvBlocks, Fields, split_block};

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

/// The input columns, in the order of [`Cols`]' positions.
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

/// Counts and totals of an [`price_outpatient`] run.
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

fn parse_row(rec: &Fields<'_>, idx: &[usize; 8]) -> Result<Claim, String> {
    if let Some(i) = overlong_field(rec) {
        return Err(format!("field {i} is longer than {MAX_FIELD} bytes"));
    }
    let get = |i: usize| field(rec, idx[i], COLUMNS[i]);
    let id = get(0)?;
    let person = get(1)?;
    if person.is_empty() {
        return Err("field `person_id` is empty".into());
    }
    let scheme = get(2)?;
    if scheme.is_empty() {
        return Err("field `scheme` is empty".into());
    }
    let lv = get(3)?;
    let level = HospitalLevel::parse(lv).ok_or_else(|| {
        format!("field `hospital_level`: `{lv}` is not 3/2/1/0 or 三级/二级/一级/基层")
    })?;
    let it = get(4)?;
    let insurance = InsuranceType::parse(it).ok_or_else(|| {
        format!("field `insurance_type`: `{it}` is not employee/resident or 职工/居民")
    })?;
    let day = date(get(5)?, "visit_date")?;
    let total_cost = money(get(6)?, "total_cost")?;
    let covered_cost = money(get(7)?, "covered_cost")?;
    if covered_cost > total_cost {
        return Err(format!(
            "field `covered_cost`: {covered_cost} is more than total_cost {total_cost}"
        ));
    }
    Ok(Claim {
        id: id.to_owned(),
        person: person.to_owned(),
        admit: day,
        discharge: day,
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

/// Prices the outpatient claims of `input` under `policy`'s benefit rules and writes
/// one row per claim to `output` ([`OUTPATIENT_HEADER`]), in input order. The claims
/// are held in memory (the benefit rules need each person's claims in date order);
/// a claim that cannot be read or priced is a `rejected` row naming the row and the
/// field. The run stops only on a missing column or an I/O error.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use drgdip_pipeline::outpatient::price_outpatient;
/// let policy = drgdip_payment::Policy::load("../../data/demo-policy.toml".as_ref())?;
/// let input = "claim_id,person_id,scheme,hospital_level,insurance_type,visit_date,\
/// total_cost,covered_cost\nO1,p1,two_diseases,1,resident,2025-01-05,100.00,100.00\n";
/// let mut out = Vec::new();
/// let s = price_outpatient(&policy, input.as_bytes(), &mut out)?;
/// // 30 yuan deductible a year, then 70 %: the fund pays round(70 × 0.7) = 49.
/// assert_eq!(s.fund, rust_decimal::Decimal::new(4900, 2));
/// # Ok(())
/// # }
/// ```
pub fn price_outpatient<R: Read, W: Write>(
    policy: &Policy,
    input: R,
    output: W,
) -> Result<OutpatientSummary> {
    let mut src = CsvBlocks::open(input)?;
    let header = Header::from_names(src.header());
    let mut idx = [0usize; 8];
    for (i, name) in COLUMNS.iter().enumerate() {
        idx[i] = header.require(name, "a column of the outpatient claims")?;
    }
    // Per row: its line, the fields echoed in the output, the claim's index or why not.
    let mut rows: Vec<(u64, [String; 7], Result<usize, String>)> = Vec::new();
    let mut claims = Vec::new();
    // Blocks of whole records; `line` is the physical line a record starts on.
    while let Some((bytes, first_line)) = src.next_block(1 << 20)? {
        split_block(&bytes, first_line, |line, rec| {
            let echo = |i: usize| {
                let raw = String::from_utf8_lossy(rec.get(idx[i]).unwrap_or(b""));
                let s = raw.trim();
                if s.len() > MAX_FIELD {
                    format!("{}…", &s[..s.floor_char_boundary(64)])
                } else {
                    s.to_owned()
                }
            };
            let shown = [
                echo(0),
                echo(1),
                echo(2),
                echo(4),
                echo(5),
                echo(6),
                echo(7),
            ];
            let parsed = parse_row(rec, &idx).map(|c| {
                claims.push(c);
                claims.len() - 1
            });
            rows.push((line, shown, parsed));
        });
    }
    let shares = apply_benefits(&policy.payment.benefits, &claims);
    let mut w = csv::Writer::from_writer(output);
    let werr = PipelineError::csv("writing the outpatient output");
    w.write_record(OUTPATIENT_HEADER).map_err(werr)?;
    let mut summary = OutpatientSummary::default();
    for (line, shown, parsed) in rows {
        summary.claims += 1;
        let mut out: Vec<String> = shown.into();
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
                    out.push(yuan(m));
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
        w.write_record(&out)
            .map_err(PipelineError::csv("writing the outpatient output"))?;
    }
    w.flush()
        .map_err(PipelineError::io("writing the outpatient output"))?;
    Ok(summary)
}
