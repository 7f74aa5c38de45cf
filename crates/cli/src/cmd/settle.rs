//! `drgdip settle`: priced cases → per-hospital year-end settlement, the budget's
//! reserves, the settlement point value and the community allocation.
//!
//! Outputs:
//! - `--output`: one row per hospital (columns in [`HOSPITAL_HEADER`]);
//! - `--summary` (default `<output>.summary.csv`): `section,item,value` rows with the
//!   budget split, final DRG rates, DIP fund payment ratio / point value / budget,
//!   city totals and each community's result;
//! - `--community` (default `<output>.community.csv`, only when the policy defines
//!   communities): one row per community member with its allocation.
//!
//! Rows of the priced file with status `rejected` are skipped (they were reported by
//! `price`); a row that cannot be read here is counted and makes the exit code 1.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use drgdip_io::CsvBlocks;
use drgdip_payment::Policy;
use drgdip_payment::settle::{Ledger, PricedCase, Settlement, settle};
use drgdip_pricing::{Date, HospitalLevel, InsuranceType, Method, Outlier};
use rayon::prelude::*;
use rust_decimal::Decimal;

use super::pay_io::{Header, dec, decimal, field, money, open_input, open_output, sibling};
use crate::Outcome;

/// Arguments of `drgdip settle`.
#[derive(clap::Args)]
pub struct Args {
    /// Policy file (TOML, see docs/policy.md).
    #[arg(long)]
    pub policy: PathBuf,
    /// Priced cases (output of `drgdip price`); `-` = stdin.
    #[arg(long)]
    pub input: String,
    /// Per-hospital settlement (CSV); `-` = stdout.
    #[arg(long, default_value = "-")]
    pub output: String,
    /// Budget, rates, point values and totals (CSV `section,item,value`); default
    /// `<output>.summary.csv` (none when the output is stdout).
    #[arg(long)]
    pub summary: Option<String>,
    /// Community allocation (CSV); default `<output>.community.csv` when the policy
    /// defines communities.
    #[arg(long)]
    pub community: Option<String>,
    /// Worker threads (0 = all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

/// The columns of the per-hospital file.
pub const HOSPITAL_HEADER: [&str; 37] = [
    "hospital_id",
    "cases",
    "points",
    "payment_total",
    "patient_total",
    "fund_total",
    "hospital_level",
    "community",
    "drg_cases",
    "dip_cases",
    "drg_points",
    "dip_points",
    "total_cost",
    "item_fund",
    "repriced_payment",
    "special_cases",
    "special_adjustment",
    "fund_due",
    "assessment_coef",
    "assessed",
    "audit_deduction",
    "annual_amount",
    "outside_community",
    "advance_paid",
    "deposit_held",
    "final_payment",
    "surplus_or_deficit",
    "retained",
    "carried",
    "fund_deficit_share",
    "hospital_deficit_share",
    "high_outliers",
    "low_outliers",
    "ungrouped",
    "margin",
    "margin_rate",
    "status",
];

struct Cols {
    case_id: usize,
    method: usize,
    hospital_id: usize,
    payment_standard: usize,
    patient_share: usize,
    fund_outlay: usize,
    outlier: usize,
    status: Option<usize>,
    hospital_level: usize,
    insurance_type: usize,
    discharge_date: usize,
    total_cost: usize,
    points: usize,
    cost_ratio: Option<usize>,
}

impl Cols {
    fn new(h: &Header) -> Result<Self> {
        let why = "a column of `drgdip price` output";
        Ok(Self {
            case_id: h.require("case_id", why)?,
            method: h.require("method", why)?,
            hospital_id: h.require("hospital_id", why)?,
            payment_standard: h.require("payment_standard", why)?,
            patient_share: h.require("patient_share", why)?,
            fund_outlay: h.require("fund_outlay", why)?,
            outlier: h.require("outlier", why)?,
            status: h.find("status"),
            hospital_level: h.require("hospital_level", why)?,
            insurance_type: h.require("insurance_type", why)?,
            discharge_date: h.require("discharge_date", why)?,
            total_cost: h.require("total_cost", why)?,
            points: h.require("points", why)?,
            cost_ratio: h.find("cost_ratio"),
        })
    }
}

enum RowKind<'r> {
    Case(PricedCase<'r>),
    Skipped,
}

fn parse<'r>(rec: &'r csv::ByteRecord, c: &Cols) -> Result<RowKind<'r>, String> {
    if let Some(i) = c.status
        && field(rec, i, "status")? == "rejected"
    {
        return Ok(RowKind::Skipped);
    }
    let m = field(rec, c.method, "method")?;
    let method = Method::parse(m).ok_or_else(|| format!("field `method`: `{m}`"))?;
    let lv = field(rec, c.hospital_level, "hospital_level")?;
    let level =
        HospitalLevel::parse(lv).ok_or_else(|| format!("field `hospital_level`: `{lv}`"))?;
    let it = field(rec, c.insurance_type, "insurance_type")?;
    let insurance =
        InsuranceType::parse(it).ok_or_else(|| format!("field `insurance_type`: `{it}`"))?;
    let d = field(rec, c.discharge_date, "discharge_date")?;
    let date = Date::parse(d).ok_or_else(|| format!("field `discharge_date`: `{d}`"))?;
    let o = field(rec, c.outlier, "outlier")?;
    let outlier = Outlier::parse(o).ok_or_else(|| format!("field `outlier`: `{o}`"))?;
    let hospital_id = field(rec, c.hospital_id, "hospital_id")?;
    if hospital_id.is_empty() {
        return Err("field `hospital_id` is empty".into());
    }
    Ok(RowKind::Case(PricedCase {
        case_id: field(rec, c.case_id, "case_id")?,
        hospital_id,
        level,
        method,
        insurance,
        year: date.year,
        month: date.month,
        points: decimal(field(rec, c.points, "points")?, "points")?,
        payment_standard: money(
            field(rec, c.payment_standard, "payment_standard")?,
            "payment_standard",
        )?,
        patient_share: money(
            field(rec, c.patient_share, "patient_share")?,
            "patient_share",
        )?,
        fund_outlay: money(field(rec, c.fund_outlay, "fund_outlay")?, "fund_outlay")?,
        total_cost: money(field(rec, c.total_cost, "total_cost")?, "total_cost")?,
        outlier,
        cost_ratio: match c.cost_ratio {
            Some(i) => match field(rec, i, "cost_ratio")? {
                "" => Decimal::ZERO,
                s => decimal(s, "cost_ratio")?,
            },
            None => Decimal::ZERO,
        },
    }))
}

/// Reads a priced file into a ledger. Returns (ledger, rows, skipped, bad).
///
/// The input is cut into blocks of whole records; blocks are parsed and summed in
/// parallel (the ledger is exact decimal sums, so the result does not depend on how the
/// blocks are combined).
pub fn read_ledger(input: &str) -> Result<(Ledger, u64, u64, u64)> {
    let mut src = CsvBlocks::open(open_input(input)?).context("reading the priced input")?;
    let header = Header::from_names(src.header());
    let cols = Cols::new(&header)?;
    let mut ledger = Ledger::new();
    let (mut rows, mut skipped, mut bad) = (0u64, 0u64, 0u64);
    let mut reported = 0;
    loop {
        let mut blocks = Vec::new();
        while blocks.len() < 4 * rayon::current_num_threads().max(2) {
            match src
                .next_block(1 << 20)
                .context("reading the priced input")?
            {
                Some(b) => blocks.push(b),
                None => break,
            }
        }
        if blocks.is_empty() {
            break;
        }
        let (part, n, s, b, errs) = blocks
            .par_iter()
            .map(|(bytes, first_line)| {
                let mut rdr = csv::ReaderBuilder::new()
                    .has_headers(false)
                    .flexible(true)
                    .from_reader(&bytes[..]);
                let mut rec = csv::ByteRecord::new();
                let mut l = Ledger::new();
                let (mut n, mut s, mut b) = (0u64, 0u64, 0u64);
                let mut errs = Vec::new();
                while rdr.read_byte_record(&mut rec).unwrap_or(false) {
                    n += 1;
                    match parse(&rec, &cols) {
                        Ok(RowKind::Case(c)) => l.add(&c),
                        Ok(RowKind::Skipped) => s += 1,
                        Err(e) => {
                            b += 1;
                            if errs.len() < 5 {
                                let line = first_line + rec.position().map_or(1, |p| p.line()) - 1;
                                errs.push((line, e));
                            }
                        }
                    }
                }
                (l, n, s, b, errs)
            })
            .reduce(
                || (Ledger::new(), 0, 0, 0, Vec::new()),
                |mut a, mut b| {
                    a.0.merge(b.0);
                    a.4.append(&mut b.4);
                    (a.0, a.1 + b.1, a.2 + b.2, a.3 + b.3, a.4)
                },
            );
        let mut errs = errs;
        errs.sort();
        for (line, e) in errs {
            if reported < 5 {
                eprintln!("settle: line {line}: {e}");
                reported += 1;
            }
        }
        ledger.merge(part);
        rows += n;
        skipped += s;
        bad += b;
    }
    Ok((ledger, rows, skipped, bad))
}

fn opt_money(d: Option<Decimal>) -> String {
    d.map(|x| x.to_string()).unwrap_or_default()
}

fn write_hospitals(out: &mut dyn Write, s: &Settlement) -> Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(HOSPITAL_HEADER)?;
    for h in &s.hospitals {
        let u = h.unit.as_ref();
        let margin = h.annual_amount + h.totals.patient - h.totals.cost;
        let margin_rate = if h.totals.cost.is_zero() {
            String::new()
        } else {
            dec((margin / h.totals.cost).round_dp(4))
        };
        w.write_record([
            h.hospital_id.clone(),
            h.totals.cases.to_string(),
            dec(h.totals.points),
            h.totals.payment.to_string(),
            h.totals.patient.to_string(),
            h.totals.fund.to_string(),
            h.level.map(|l| l.code().to_owned()).unwrap_or_default(),
            h.community.clone().unwrap_or_default(),
            h.drg_cases.to_string(),
            h.dip_cases.to_string(),
            dec(h.drg_points),
            dec(h.dip_points),
            h.totals.cost.to_string(),
            h.item_fund.to_string(),
            h.repriced_payment.to_string(),
            h.special_cases.to_string(),
            h.special_adjustment.to_string(),
            h.fund_due.to_string(),
            dec(h.assessment_coef),
            h.assessed.to_string(),
            h.audit_deduction.to_string(),
            h.annual_amount.to_string(),
            h.outside_community.to_string(),
            h.advance_paid.to_string(),
            h.deposit_held.to_string(),
            h.final_payment.to_string(),
            opt_money(u.map(|u| u.surplus_or_deficit)),
            opt_money(u.map(|u| u.retained)),
            opt_money(u.map(|u| u.carried)),
            opt_money(u.map(|u| u.fund_share)),
            opt_money(u.map(|u| u.unit_share)),
            h.outliers[0].to_string(),
            h.outliers[1].to_string(),
            h.outliers[2].to_string(),
            margin.to_string(),
            margin_rate,
            "ok".to_owned(),
        ])?;
    }
    w.flush()?;
    Ok(())
}

fn write_summary(out: &mut dyn Write, policy: &Policy, s: &Settlement) -> Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(["section", "item", "value"])?;
    let mut row = |a: &str, b: &str, c: String| w.write_record([a, b, c.as_str()]);
    row("policy", "name", policy.pricing.meta.name.clone())?;
    row("policy", "region", policy.pricing.meta.region.clone())?;
    if let Some(b) = &s.budget {
        row("budget", "total", b.total.to_string())?;
        row("budget", "risk_reserve", b.risk_reserve.to_string())?;
        row("budget", "city_reserve", b.city_reserve.to_string())?;
        for a in &b.allocations {
            row(
                "budget",
                &format!("allocation:{}", a.id),
                a.amount.to_string(),
            )?;
        }
        row("budget", "remainder", b.remainder.to_string())?;
    }
    let types = InsuranceType::ALL;
    if let Some(r) = s.city.drg_rate {
        for t in types {
            row("drg", &format!("final_rate:{t}"), dec(r[t.index()]))?;
        }
    }
    if let Some(r) = s.city.dip_fund_ratio {
        for t in types {
            row("dip", &format!("fund_payment_ratio:{t}"), dec(r[t.index()]))?;
        }
    }
    if let Some(b) = s.city.dip_budget {
        for t in types {
            row("dip", &format!("budget:{t}"), b[t.index()].to_string())?;
        }
    }
    if let Some(r) = s.city.dip_point_value {
        for t in types {
            row("dip", &format!("point_value:{t}"), dec(r[t.index()]))?;
        }
    }
    let t = &s.city.totals;
    row("totals", "hospitals", s.hospitals.len().to_string())?;
    row("totals", "cases", t.cases.to_string())?;
    row("totals", "points", dec(t.points))?;
    row("totals", "payment_total", t.payment.to_string())?;
    row("totals", "patient_total", t.patient.to_string())?;
    row("totals", "fund_total", t.fund.to_string())?;
    row("totals", "total_cost", t.cost.to_string())?;
    row("totals", "annual_amount", s.city.annual_total.to_string())?;
    for c in &s.communities {
        let p = format!("community:{}", c.id);
        row(&p, "budget", c.budget.to_string())?;
        row(&p, "spent", c.spent.to_string())?;
        row(
            &p,
            "surplus_or_deficit",
            c.result.surplus_or_deficit.to_string(),
        )?;
        row(&p, "retained", c.result.retained.to_string())?;
        row(&p, "carried", c.result.carried.to_string())?;
        row(&p, "fund_deficit_share", c.result.fund_share.to_string())?;
        row(
            &p,
            "community_deficit_share",
            c.result.unit_share.to_string(),
        )?;
        row(&p, "paid", c.result.paid.to_string())?;
    }
    w.flush()?;
    Ok(())
}

fn write_community(out: &mut dyn Write, s: &Settlement) -> Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "community",
        "hospital_id",
        "parent",
        "kind",
        "spent",
        "allocation",
        "share",
    ])?;
    for c in &s.communities {
        for m in &c.members {
            let share = if c.result.paid.is_zero() {
                String::new()
            } else {
                dec((m.allocation / c.result.paid).round_dp(4))
            };
            w.write_record([
                c.id.as_str(),
                &m.hospital,
                &m.parent,
                m.kind.key(),
                &m.spent.to_string(),
                &m.allocation.to_string(),
                &share,
            ])?;
        }
    }
    w.flush()?;
    Ok(())
}

/// Runs `drgdip settle`.
pub fn run(args: Args) -> Result<Outcome> {
    let started = Instant::now();
    let policy = Policy::load(&args.policy)
        .with_context(|| format!("loading the policy {}", args.policy.display()))?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()
        .context("starting the thread pool")?;
    let (ledger, rows, skipped, bad) = pool.install(|| read_ledger(&args.input))?;
    let settlement = settle(&policy, ledger).context("settling the year")?;
    let mut out = open_output(&args.output)?;
    write_hospitals(&mut out, &settlement)?;
    out.flush()?;
    let summary = args
        .summary
        .clone()
        .or_else(|| sibling(&args.output, "summary").map(|p| p.display().to_string()));
    if let Some(path) = summary {
        let mut f = open_output(&path)?;
        write_summary(&mut f, &policy, &settlement)?;
        f.flush()?;
    }
    if !settlement.communities.is_empty() {
        let path = args
            .community
            .clone()
            .or_else(|| sibling(&args.output, "community").map(|p| p.display().to_string()));
        if let Some(path) = path {
            let mut f = open_output(&path)?;
            write_community(&mut f, &settlement)?;
            f.flush()?;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "settle: {rows} rows: {} settled, {skipped} rejected by price, {bad} unreadable; {} hospitals; {secs:.2} s",
        rows - skipped - bad,
        settlement.hospitals.len()
    );
    Ok(if bad > 0 {
        Outcome::RowsRejected
    } else {
        Outcome::Clean
    })
}
