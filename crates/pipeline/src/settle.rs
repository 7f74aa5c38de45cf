//! Settling a year: priced cases → per-hospital year-end settlement, the budget's
//! reserves, the settlement point value and the community allocation.
//!
//! [`settle_csv`] reads the priced file (the output of [`crate::price()`]) into a
//! [`Ledger`] and settles it; the result is written by
//! - [`write_hospitals`]: one row per hospital (columns in [`HOSPITAL_HEADER`]);
//! - [`write_summary`]: `section,item,value` rows with the budget split, final DRG
//!   rates, DIP fund payment ratio / point value / budget, city totals and each
//!   community's result;
//! - [`write_community`]: one row per community member with its allocation.
//!
//! Rows of the priced file with status `rejected` are skipped (they were reported by
//! `price`); a row that cannot be read here is counted and named (line and field) in
//! the [`SettleSummary`].

use std::io::{Read, Write};

use drgdip_io::CsvBlocks;
use drgdip_payment::Policy;
use drgdip_payment::settle::{Ledger, PricedCase, Settlement, settle};
use drgdip_pricing::{Date, HospitalLevel, InsuranceType, Method, Outlier};
use rayon::prelude::*;
use rust_decimal::Decimal;

use crate::columns::{Header, dec, decimal, field, money};
use crate::error::{PipelineError, Result};
use crate::{Progress, Stage, with_pool};

/// Settings of a [`settle_csv`] run.
#[derive(Debug, Clone, Default)]
pub struct SettleConfig {
    /// Worker threads: `None` runs in the caller's rayon pool, `Some(0)` starts a pool
    /// with one thread per core, `Some(n)` a pool of `n` threads. The result does not
    /// depend on it.
    pub threads: Option<usize>,
}

/// A row of the input that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RowError {
    /// Line of the file (the header is line 1).
    pub line: u64,
    /// What is wrong, naming the field.
    pub message: String,
}

/// What a [`settle_csv`] run read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettleSummary {
    /// Rows of the priced file.
    pub rows: u64,
    /// Rows with status `rejected` (reported by `price`), skipped.
    pub skipped: u64,
    /// Rows that could not be read, skipped and counted.
    pub unreadable: u64,
    /// The first [`SettleSummary::MAX_ERRORS`] unreadable rows, by line.
    pub errors: Vec<RowError>,
}

impl SettleSummary {
    /// How many unreadable rows are named in [`SettleSummary::errors`].
    pub const MAX_ERRORS: usize = 5;

    /// Rows settled.
    pub fn settled(&self) -> u64 {
        self.rows - self.skipped - self.unreadable
    }
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

/// Reads a priced file into a ledger, in the caller's rayon pool.
///
/// The input is cut into blocks of whole records; blocks are parsed and summed in
/// parallel (the ledger is exact decimal sums, so the result does not depend on how the
/// blocks are combined).
pub fn read_ledger<R: Read>(
    input: R,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<(Ledger, SettleSummary)> {
    let mut src = CsvBlocks::open(input)?;
    let header = Header::from_names(src.header());
    let cols = Cols::new(&header)?;
    let mut ledger = Ledger::new();
    let mut summary = SettleSummary::default();
    loop {
        let mut blocks = Vec::new();
        while blocks.len() < 4 * rayon::current_num_threads().max(2) {
            match src.next_block(1 << 20)? {
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
                            if errs.len() < SettleSummary::MAX_ERRORS {
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
        for (line, message) in errs {
            if summary.errors.len() < SettleSummary::MAX_ERRORS {
                summary.errors.push(RowError { line, message });
            }
        }
        ledger.merge(part);
        summary.rows += n;
        summary.skipped += s;
        summary.unreadable += b;
        progress(Progress {
            stage: Stage::Reading,
            rows: summary.rows,
        });
    }
    Ok((ledger, summary))
}

/// Reads a priced file (the output of [`crate::price()`]) and settles the year with
/// `policy`. Unreadable rows are counted and the first ones named in the summary; they
/// do not stop the run.
pub fn settle_csv<R: Read + Send>(
    policy: &Policy,
    input: R,
    config: &SettleConfig,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<(Settlement, SettleSummary)> {
    let (ledger, summary) = with_pool(config.threads, || read_ledger(input, progress))?;
    let settlement = settle(policy, ledger)?;
    Ok((settlement, summary))
}

fn opt_money(d: Option<Decimal>) -> String {
    d.map(|x| x.to_string()).unwrap_or_default()
}

/// Writes one row per hospital (columns in [`HOSPITAL_HEADER`]).
pub fn write_hospitals(out: impl Write, s: &Settlement) -> Result<()> {
    write_hospitals_csv(out, s).map_err(PipelineError::csv("writing the settlement"))
}

fn write_hospitals_csv(out: impl Write, s: &Settlement) -> csv::Result<()> {
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

/// Writes the `section,item,value` summary: budget, rates, point values, city totals
/// and each community's result.
pub fn write_summary(out: impl Write, policy: &Policy, s: &Settlement) -> Result<()> {
    write_summary_csv(out, policy, s).map_err(PipelineError::csv("writing the summary"))
}

fn write_summary_csv(out: impl Write, policy: &Policy, s: &Settlement) -> csv::Result<()> {
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

/// Writes one row per community member with its allocation (nothing but the header
/// when the policy defines no community).
pub fn write_community(out: impl Write, s: &Settlement) -> Result<()> {
    write_community_csv(out, s).map_err(PipelineError::csv("writing the community file"))
}

fn write_community_csv(out: impl Write, s: &Settlement) -> csv::Result<()> {
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
