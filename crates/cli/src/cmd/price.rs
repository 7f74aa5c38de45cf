//! `drgdip price`: grouped cases → payment standard, patient share and fund outlay.
//!
//! Two streaming passes over the input (stdin is first spooled to a temporary file):
//!
//! 1. every row is parsed and priced; accepted rows leave a compact benefit record
//!    (person, dates, level, costs: about 80 bytes). The records are sorted per person
//!    by discharge date, admission date and case id, and the benefit rules are applied
//!    in that order, so the result does not depend on the input order.
//! 2. every row is parsed and priced again and written with its shares, in input order.
//!
//! Rows are parsed and priced in parallel in batches; output order and content do not
//! depend on the thread count.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use drgdip_payment::Policy;
use drgdip_payment::benefits::{ClaimFacts, ClaimKind, PersonYear, Referral};
use drgdip_pricing::money::round_yuan;
use drgdip_pricing::{
    CaseInput, Date, GroupStatus, HospitalLevel, InsuranceType, Method, Priced, Pricer,
};
use rayon::prelude::*;
use rust_decimal::Decimal;

use super::pay_io::{
    Header, MAX_FIELD, csv_reader, dec, decimal, field, money, open_input, open_output, opt_field,
};
use crate::Outcome;

/// Arguments of `drgdip price`.
#[derive(clap::Args)]
pub struct Args {
    /// Policy file (TOML, see docs/policy.md).
    #[arg(long)]
    pub policy: PathBuf,
    /// Grouped cases: output of `drgdip group --carry` / `drgdip dip group --carry`
    /// (CSV with header); `-` = stdin.
    #[arg(long)]
    pub input: String,
    /// Priced cases (CSV); `-` = stdout.
    #[arg(long, default_value = "-")]
    pub output: String,
    /// Worker threads (0 = all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

/// The columns `drgdip price` writes, in order.
pub const PRICED_HEADER: [&str; 32] = [
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
];

/// Column positions of the input.
struct Cols {
    method: Method,
    case_id: usize,
    status: usize,
    group: usize,
    score: Option<usize>,
    aux_coef: Option<usize>,
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
}

impl Cols {
    fn new(h: &Header) -> Result<Self> {
        let method = match (h.find("drg"), h.find("dip_code")) {
            (Some(_), None) => Method::Drg,
            (None, Some(_)) => Method::Dip,
            (Some(_), Some(_)) => bail!(
                "the input has both `drg` and `dip_code` columns; price DRG and DIP results separately"
            ),
            (None, None) => bail!(
                "the input has no `drg` column (DRG grouping result) nor `dip_code` column (DIP grouping result)"
            ),
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
        })
    }
}

/// One parsed row, borrowing from its record.
struct Row<'r> {
    case_id: &'r str,
    status: GroupStatus,
    group: String,
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
}

fn parse_row<'r>(rec: &'r csv::ByteRecord, c: &Cols) -> Result<Row<'r>, String> {
    if let Some((i, _)) = rec.iter().enumerate().find(|(_, f)| f.len() > MAX_FIELD) {
        return Err(format!("field {} is longer than {MAX_FIELD} bytes", i + 1));
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
        Method::Drg => group_raw.to_ascii_uppercase(),
        Method::Dip => group_raw.to_owned(),
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
    let date = |idx: usize, name: &str| -> Result<Date, String> {
        let s = field(rec, idx, name)?;
        Date::parse(s).ok_or_else(|| format!("field `{name}`: `{s}` is not a date YYYY-MM-DD"))
    };
    let admit = date(c.admit_date, "admit_date")?;
    let discharge = date(c.discharge_date, "discharge_date")?;
    if discharge < admit {
        return Err(format!(
            "field `discharge_date`: {discharge} is before admit_date {admit}"
        ));
    }
    let total = money(field(rec, c.total_cost, "total_cost")?, "total_cost")?;
    let covered = money(field(rec, c.covered_cost, "covered_cost")?, "covered_cost")?;
    if covered > total {
        return Err(format!(
            "field `covered_cost`: {covered} is more than total_cost {total}"
        ));
    }
    let ds = opt_field(rec, c.day_surgery, "day_surgery")?;
    let day_surgery = match ds {
        "" | "0" => false,
        "1" => true,
        other => return Err(format!("field `day_surgery`: `{other}` is not 0 or 1")),
    };
    let rf = opt_field(rec, c.referral, "referral")?;
    let referral = Referral::parse(rf)
        .ok_or_else(|| format!("field `referral`: `{rf}` is not empty, up or down"))?;
    let los = opt_field(rec, c.los, "los")?;
    let score = match opt_field(rec, c.score, "score")? {
        "" => None,
        s => Some(decimal(s, "score")?),
    };
    let aux = match opt_field(rec, c.aux_coef, "aux_coef")? {
        "" => None,
        s => Some(decimal(s, "aux_coef")?),
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
    })
}

fn price_row(pricer: &Pricer, c: &Cols, row: &Row<'_>) -> Result<Priced, String> {
    pricer
        .price(&CaseInput {
            method: c.method,
            status: row.status,
            group: &row.group,
            score: row.score,
            aux_coef: row.aux,
            hospital_id: row.hospital_id,
            level: row.level,
            insurance: row.insurance,
            total_cost: row.total,
        })
        .map_err(|e| e.to_string())
}

/// A compact benefit record of pass 1.
struct BenefitRec {
    person: u32,
    discharge: Date,
    admit: Date,
    id_start: u32,
    id_len: u32,
    row: u32,
    level: HospitalLevel,
    insurance: InsuranceType,
    day_surgery: bool,
    referral: Referral,
    total: Decimal,
    covered: Decimal,
}

/// Patient share, deductible, over-cap per row (None: row rejected).
type Shares = Vec<Option<[Decimal; 3]>>;

const BATCH: usize = 1 << 14;

fn read_batch<R: Read>(
    rdr: &mut csv::Reader<R>,
    batch: &mut Vec<csv::ByteRecord>,
) -> Result<usize> {
    let mut n = 0;
    while n < BATCH {
        if n == batch.len() {
            batch.push(csv::ByteRecord::new());
        }
        if !rdr
            .read_byte_record(&mut batch[n])
            .context("reading the input")?
        {
            break;
        }
        n += 1;
    }
    Ok(n)
}

/// Pass 1: benefit records of accepted rows, then the shares per row.
fn pass_one(pricer: &Pricer, policy: &Policy, input: &str) -> Result<(Shares, u64)> {
    let mut rdr = csv_reader(open_input(input)?);
    let header = Header::read(&mut rdr)?;
    let cols = Cols::new(&header)?;
    let mut persons: HashMap<Box<str>, u32> = HashMap::new();
    let mut ids = String::new();
    let mut recs: Vec<BenefitRec> = Vec::new();
    let mut batch = Vec::new();
    let mut rows: u64 = 0;
    loop {
        let n = read_batch(&mut rdr, &mut batch)?;
        if n == 0 {
            break;
        }
        let parsed: Vec<Option<Row<'_>>> = batch[..n]
            .par_iter()
            .map(|rec| {
                let row = parse_row(rec, &cols).ok()?;
                price_row(pricer, &cols, &row).ok()?;
                Some(row)
            })
            .collect();
        for (i, p) in parsed.into_iter().enumerate() {
            let Some(row) = p else { continue };
            let next = u32::try_from(persons.len()).context("too many persons")?;
            let person = match persons.get(row.person) {
                Some(&id) => id,
                None => {
                    persons.insert(row.person.into(), next);
                    next
                }
            };
            let id_start = u32::try_from(ids.len()).context("case ids exceed 4 GB")?;
            ids.push_str(row.case_id);
            recs.push(BenefitRec {
                person,
                discharge: row.discharge,
                admit: row.admit,
                id_start,
                id_len: row.case_id.len() as u32,
                row: u32::try_from(rows + i as u64).context("more than 4 billion rows")?,
                level: row.level,
                insurance: row.insurance,
                day_surgery: row.day_surgery,
                referral: row.referral,
                total: row.total,
                covered: row.covered,
            });
        }
        rows += n as u64;
        if n < BATCH {
            break;
        }
    }
    drop(persons);
    let id_of = |r: &BenefitRec| &ids[r.id_start as usize..(r.id_start + r.id_len) as usize];
    recs.par_sort_unstable_by(|a, b| {
        a.person
            .cmp(&b.person)
            .then(a.discharge.cmp(&b.discharge))
            .then(a.admit.cmp(&b.admit))
            .then_with(|| id_of(a).cmp(id_of(b)))
            .then(a.row.cmp(&b.row))
    });
    let mut shares: Shares = vec![None; usize::try_from(rows).context("too many rows")?];
    let benefits = &policy.payment.benefits;
    let inpatient = ClaimKind::Inpatient;
    // Persons are independent: split the sorted records at person boundaries and work
    // on the pieces in parallel.
    let mut starts = vec![0usize];
    let step = (recs.len() / (4 * rayon::current_num_threads().max(1))).max(1);
    let mut at = step;
    while at < recs.len() {
        while at < recs.len() && recs[at].person == recs[at - 1].person {
            at += 1;
        }
        if at < recs.len() {
            starts.push(at);
        }
        at += step;
    }
    starts.push(recs.len());
    let pieces: Vec<Vec<(u32, [Decimal; 3])>> = starts
        .par_windows(2)
        .map(|w| {
            let mut out = Vec::with_capacity(w[1] - w[0]);
            let mut acc = PersonYear::default();
            let mut current = u32::MAX;
            for r in &recs[w[0]..w[1]] {
                if r.person != current || acc.year() != r.discharge.year {
                    acc = PersonYear::new(r.discharge.year);
                    current = r.person;
                }
                let facts = ClaimFacts {
                    kind: &inpatient,
                    level: r.level,
                    insurance: r.insurance,
                    total_cost: r.total,
                    covered_cost: r.covered,
                    day_surgery: r.day_surgery,
                    referral: r.referral,
                };
                if let Ok(s) = acc.apply(benefits, &facts) {
                    out.push((r.row, [s.patient, s.deductible, s.over_cap]));
                }
            }
            out
        })
        .collect();
    for piece in pieces {
        for (row, s) in piece {
            shares[row as usize] = Some(s);
        }
    }
    Ok((shares, rows))
}

fn bool01(b: bool) -> &'static str {
    if b { "1" } else { "0" }
}

/// Formats one output row into `w`.
fn write_row(
    w: &mut csv::Writer<Vec<u8>>,
    rec: &csv::ByteRecord,
    row_no: u64,
    cols: &Cols,
    pricer: &Pricer,
    share: Option<&[Decimal; 3]>,
) -> Result<bool> {
    let res = parse_row(rec, cols).and_then(|row| {
        let priced = price_row(pricer, cols, &row)?;
        Ok((row, priced))
    });
    let ok = match (res, share) {
        (Ok((row, p)), Some(s)) => {
            let [patient, deductible, over_cap] = *s;
            let uncovered = row.total - row.covered;
            let coinsurance = patient - uncovered - deductible - over_cap;
            let fund = round_yuan((p.payment_standard - patient).max(Decimal::ZERO));
            let (weight, score) = match cols.method {
                Method::Drg if !p.base.is_zero() => (dec(p.base), String::new()),
                Method::Dip if !p.base.is_zero() => (String::new(), dec(p.base / p.aux_coef)),
                _ => (String::new(), String::new()),
            };
            w.write_record([
                row.case_id,
                cols.method.key(),
                &row.group,
                row.hospital_id,
                &p.payment_standard.to_string(),
                &patient.to_string(),
                &fund.to_string(),
                bool01(p.primary_care),
                p.outlier.key(),
                "ok",
                "",
                row.level.code(),
                row.insurance.key(),
                row.person,
                &row.discharge.to_string(),
                row.los,
                &row.total.to_string(),
                &row.covered.to_string(),
                row.status.key(),
                &weight,
                &score,
                &dec(p.aux_coef),
                &dec(p.coefficient),
                &dec(p.rate),
                &if p.standard.is_zero() {
                    String::new()
                } else {
                    p.standard.to_string()
                },
                &dec(p.outlier_factor),
                &if p.cost_ratio.is_zero() {
                    String::new()
                } else {
                    dec(p.cost_ratio)
                },
                &dec(p.points),
                &deductible.to_string(),
                &coinsurance.to_string(),
                &over_cap.to_string(),
                &uncovered.to_string(),
            ])?;
            true
        }
        (res, _) => {
            let msg = match res {
                Err(m) => m,
                Ok(_) => "benefit rules could not be applied".to_owned(),
            };
            let lossy = |i: usize| {
                String::from_utf8_lossy(rec.get(i).unwrap_or(b""))
                    .trim()
                    .to_owned()
            };
            let mut out: Vec<String> = vec![String::new(); PRICED_HEADER.len()];
            out[0] = lossy(cols.case_id);
            out[1] = cols.method.key().to_owned();
            out[2] = lossy(cols.group);
            out[3] = lossy(cols.hospital_id);
            out[9] = "rejected".to_owned();
            out[10] = format!("row {row_no}: {msg}");
            for s in &mut out {
                if s.len() > MAX_FIELD {
                    s.truncate(s.floor_char_boundary(64));
                    s.push('…');
                }
            }
            w.write_record(&out)?;
            false
        }
    };
    Ok(ok)
}

/// Runs `drgdip price`.
pub fn run(args: Args) -> Result<Outcome> {
    let started = Instant::now();
    let policy = Policy::load(&args.policy)
        .with_context(|| format!("loading the policy {}", args.policy.display()))?;
    let pricer = Pricer::new(policy.pricing.clone());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()
        .context("starting the thread pool")?;
    // stdin can only be read once: spool it.
    let spooled = if args.input == "-" {
        let path = std::env::temp_dir().join(format!(
            "drgdip-price-{}-{}.csv",
            std::process::id(),
            started.elapsed().as_nanos()
        ));
        let mut f = std::fs::File::create(&path)
            .with_context(|| format!("creating the spool file {}", path.display()))?;
        std::io::copy(&mut std::io::stdin().lock(), &mut f).context("spooling stdin")?;
        Some(path)
    } else {
        None
    };
    let input = spooled
        .as_ref()
        .map_or(args.input.clone(), |p| p.display().to_string());
    let result = pool.install(|| price_file(&pricer, &policy, &input, &args.output));
    if let Some(p) = spooled {
        let _ = std::fs::remove_file(p);
    }
    let (rows, rejected) = result?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "price: {rows} cases: {} priced, {rejected} rejected; {secs:.2} s, {:.0} cases/s",
        rows - rejected,
        rows as f64 / secs.max(1e-9)
    );
    Ok(if rejected > 0 {
        Outcome::RowsRejected
    } else {
        Outcome::Clean
    })
}

fn price_file(pricer: &Pricer, policy: &Policy, input: &str, output: &str) -> Result<(u64, u64)> {
    let (shares, _) = pass_one(pricer, policy, input)?;
    let mut rdr = csv_reader(open_input(input)?);
    let header = Header::read(&mut rdr)?;
    let cols = Cols::new(&header)?;
    let mut out = open_output(output)?;
    {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(PRICED_HEADER)?;
        out.write_all(&w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?)?;
    }
    let mut batch = Vec::new();
    let mut rows: u64 = 0;
    let mut rejected: u64 = 0;
    loop {
        let n = read_batch(&mut rdr, &mut batch)?;
        if n == 0 {
            break;
        }
        let base = rows;
        let chunks: Vec<Result<(Vec<u8>, u64)>> = batch[..n]
            .par_chunks(512)
            .enumerate()
            .map(|(ci, chunk)| {
                let mut w = csv::WriterBuilder::new()
                    .has_headers(false)
                    .from_writer(Vec::with_capacity(chunk.len() * 256));
                let mut bad = 0u64;
                for (j, rec) in chunk.iter().enumerate() {
                    let idx = base + (ci * 512 + j) as u64;
                    let share = shares.get(idx as usize).and_then(Option::as_ref);
                    if !write_row(&mut w, rec, idx + 1, &cols, pricer, share)? {
                        bad += 1;
                    }
                }
                let buf = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
                Ok((buf, bad))
            })
            .collect();
        for c in chunks {
            let (buf, bad) = c?;
            out.write_all(&buf).context("writing the output")?;
            rejected += bad;
        }
        rows += n as u64;
        if n < BATCH {
            break;
        }
    }
    out.flush().context("writing the output")?;
    if rows as usize != shares.len() {
        bail!(
            "the input changed between the two passes ({} rows, then {rows})",
            shares.len()
        );
    }
    Ok((rows, rejected))
}
