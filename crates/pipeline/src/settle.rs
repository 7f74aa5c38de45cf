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

use drgdip_io::{CsvBlocks, Fields, split_block_text};
use drgdip_payment::Policy;
use drgdip_payment::settle::{Ledger, PricedCase, Settlement, settle};
use drgdip_pricing::{HospitalLevel, InsuranceType, Method, Outlier};
use rust_decimal::Decimal;

use crate::blocks::par_blocks;
use crate::columns::{
    Header, date, dec, field, money, money_at, negotiated_drug_cost, quantity, ratio, yuan,
};
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
    /// Rows discharged in another year than the policy's `[policy] year`, left out
    /// of the settlement (none when the policy gives no year).
    pub other_year: u64,
    /// Rows that could not be read, skipped and counted.
    pub unreadable: u64,
    /// Settled rows whose grouping status was not `grouped` or `composite`
    /// (ungroupable, ungrouped, ambiguous, invalid).
    pub not_grouped: u64,
    /// The first [`SettleSummary::MAX_ERRORS`] unreadable rows, by line.
    pub errors: Vec<RowError>,
}

impl SettleSummary {
    /// How many unreadable rows are named in [`SettleSummary::errors`].
    pub const MAX_ERRORS: usize = 5;

    /// Rows settled.
    pub fn settled(&self) -> u64 {
        self.rows - self.skipped - self.other_year - self.unreadable
    }

    /// Warnings for this run: a low grouping rate among the settled rows
    /// ([`crate::warnings::grouping_warning`]) and, given the settlement, a budget the
    /// cases cover only a small part of ([`budget_coverage_warning`]).
    pub fn warnings(&self, settlement: &Settlement) -> Vec<String> {
        crate::warnings::grouping_warning(self.settled(), self.not_grouped)
            .into_iter()
            .chain(budget_coverage_warning(settlement))
            .collect()
    }
}

/// The warning when the settled cases' fund outlay covers less than
/// [`BUDGET_COVER_LIMIT`](crate::warnings::BUDGET_COVER_LIMIT) of the budget the
/// settlement divides: the `[budget]` remainder, else the DIP fund budget (one pool, or
/// the sum of the per-insurance budgets). None without a budget.
pub fn budget_coverage_warning(s: &Settlement) -> Option<String> {
    let (budget, what) = match (&s.budget, s.city.dip_budget) {
        (Some(b), _) => (b.remainder, "the [budget] remainder"),
        (None, Some([a, b])) if a == b => (a, "the DIP fund budget"),
        (None, Some([a, b])) => (a + b, "the DIP fund budgets"),
        (None, None) => return None,
    };
    crate::warnings::budget_warning(s.city.totals.fund, budget, what)
}

/// The columns of the per-hospital file.
pub const HOSPITAL_HEADER: [&str; 39] = [
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
    "negotiated_cost",
    "negotiated_fund",
    "surplus_or_deficit",
    "retained",
    "carried",
    "fund_deficit_share",
    "hospital_deficit_share",
    "high_outliers",
    "low_outliers",
    "ungrouped",
    "settled_margin",
    "settled_margin_rate",
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
    grouping_status: Option<usize>,
    hospital_level: usize,
    insurance_type: usize,
    discharge_date: usize,
    total_cost: usize,
    points: usize,
    cost_ratio: Option<usize>,
    negotiated_cost: Option<usize>,
    negotiated_fund: Option<usize>,
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
            grouping_status: h.find("grouping_status"),
            hospital_level: h.require("hospital_level", why)?,
            insurance_type: h.require("insurance_type", why)?,
            discharge_date: h.require("discharge_date", why)?,
            total_cost: h.require("total_cost", why)?,
            points: h.require("points", why)?,
            cost_ratio: h.find("cost_ratio"),
            negotiated_cost: h.find("negotiated_drug_cost"),
            negotiated_fund: h.find("negotiated_fund"),
        })
    }
}

enum RowKind<'r> {
    /// A case to settle, and whether it was grouped (grouped or composite).
    Case(PricedCase<'r>, bool),
    Skipped,
    OtherYear,
}

fn parse<'r>(rec: &Fields<'r>, c: &Cols, year: Option<u64>) -> Result<RowKind<'r>, String> {
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
    let date = date(
        field(rec, c.discharge_date, "discharge_date")?,
        "discharge_date",
    )?;
    if year.is_some_and(|y| u64::from(date.year) != y) {
        return Ok(RowKind::OtherYear);
    }
    let o = field(rec, c.outlier, "outlier")?;
    let outlier = Outlier::parse(o).ok_or_else(|| format!("field `outlier`: `{o}`"))?;
    let hospital_id = field(rec, c.hospital_id, "hospital_id")?;
    if hospital_id.is_empty() {
        return Err("field `hospital_id` is empty".into());
    }
    let case_id = field(rec, c.case_id, "case_id")?;
    let points = quantity(field(rec, c.points, "points")?, "points")?;
    let payment_standard = money_at(rec, c.payment_standard, "payment_standard")?;
    let patient_share = money_at(rec, c.patient_share, "patient_share")?;
    let fund_outlay = money_at(rec, c.fund_outlay, "fund_outlay")?;
    let total_cost = money_at(rec, c.total_cost, "total_cost")?;
    let opt_money = |idx: Option<usize>, name: &str| -> Result<Decimal, String> {
        match idx {
            Some(i) => match field(rec, i, name)? {
                "" => Ok(Decimal::ZERO),
                s => money(s, name),
            },
            None => Ok(Decimal::ZERO),
        }
    };
    let negotiated_cost = negotiated_drug_cost(rec, c.negotiated_cost, total_cost)?;
    let negotiated_fund = opt_money(c.negotiated_fund, "negotiated_fund")?;
    if !negotiated_fund.is_zero() && negotiated_fund > fund_outlay {
        return Err(format!(
            "field `negotiated_fund`: {negotiated_fund} is more than fund_outlay {fund_outlay}"
        ));
    }
    let grouped = match c.grouping_status {
        Some(i) => matches!(field(rec, i, "grouping_status")?, "grouped" | "composite"),
        None => true,
    };
    Ok(RowKind::Case(
        PricedCase {
            case_id,
            hospital_id,
            level,
            method,
            insurance,
            year: date.year,
            month: date.month,
            points,
            payment_standard,
            patient_share,
            fund_outlay,
            total_cost,
            outlier,
            cost_ratio: match c.cost_ratio {
                Some(i) => match field(rec, i, "cost_ratio")? {
                    "" => Decimal::ZERO,
                    s => quantity(s, "cost_ratio")?,
                },
                None => Decimal::ZERO,
            },
            negotiated_cost,
            negotiated_fund,
        },
        grouped,
    ))
}

/// Reads a priced file into a ledger, in the caller's rayon pool.
///
/// The input is cut into blocks of whole records on a reader thread; blocks are parsed
/// and summed in parallel into one ledger each, merged in input order (the ledger holds
/// exact decimal sums, so the result does not depend on how the blocks fall).
pub fn read_ledger<R: Read + Send>(
    input: R,
    year: Option<u64>,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<(Ledger, SettleSummary)> {
    let src = CsvBlocks::open(input)?;
    let header = Header::from_names(src.header());
    let cols = Cols::new(&header)?;
    let mut ledger = Ledger::new();
    let mut summary = SettleSummary::default();
    let work = |bytes: &[u8], first_line: u64| -> Result<BlockSums> {
        let mut part = BlockSums {
            ledger: Ledger::new(),
            counts: [0; 5],
            errors: Vec::new(),
        };
        let k = &mut part.counts;
        // Lines are the file's physical lines (bare `\r`, CRLF, blank lines and quoted
        // multi-line fields counted as in the file).
        split_block_text(bytes, first_line, |line, rec| {
            k[0] += 1;
            match parse(rec, &cols, year) {
                Ok(RowKind::Case(c, grouped)) => {
                    part.ledger.add(&c);
                    k[4] += u64::from(!grouped);
                }
                Ok(RowKind::Skipped) => k[1] += 1,
                Ok(RowKind::OtherYear) => k[2] += 1,
                Err(message) => {
                    k[3] += 1;
                    if part.errors.len() < SettleSummary::MAX_ERRORS {
                        part.errors.push(RowError { line, message });
                    }
                }
            }
        });
        Ok(part)
    };
    par_blocks(src, work, |part| {
        ledger.merge(part.ledger);
        let [n, s, o, b, ng] = part.counts;
        summary.rows += n;
        summary.skipped += s;
        summary.other_year += o;
        summary.unreadable += b;
        summary.not_grouped += ng;
        // Blocks come in input order, each block's errors in line order.
        let room = SettleSummary::MAX_ERRORS - summary.errors.len();
        summary.errors.extend(part.errors.into_iter().take(room));
        progress(Progress {
            stage: Stage::Reading,
            rows: summary.rows,
        });
        Ok(())
    })?;
    Ok((ledger, summary))
}

/// One block of the priced file read: its ledger, the counts of rows, skipped,
/// other-year, unreadable and not-grouped rows, and its first unreadable rows.
struct BlockSums {
    ledger: Ledger,
    counts: [u64; 5],
    errors: Vec<RowError>,
}

/// Reads a priced file (the output of [`crate::price()`]) and settles the year with
/// `policy`: only cases discharged in the policy's year count when the policy names
/// one (`[policy] year`); the others are counted in [`SettleSummary::other_year`].
/// Unreadable rows are counted and the first ones named in the summary; they
/// do not stop the run.
pub fn settle_csv<R: Read + Send>(
    policy: &Policy,
    input: R,
    config: &SettleConfig,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<(Settlement, SettleSummary)> {
    let year = policy.pricing.meta.year;
    let (ledger, summary) = with_pool(config.threads, || read_ledger(input, year, progress))?;
    let settlement = settle(policy, ledger)?;
    Ok((settlement, summary))
}

fn opt_money(d: Option<Decimal>) -> String {
    d.map(yuan).unwrap_or_default()
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
            dec(ratio(margin, h.totals.cost, 4))
        };
        w.write_record([
            h.hospital_id.clone(),
            h.totals.cases.to_string(),
            dec(h.totals.points),
            yuan(h.totals.payment),
            yuan(h.totals.patient),
            yuan(h.totals.fund),
            h.level.map(|l| l.code().to_owned()).unwrap_or_default(),
            h.community.clone().unwrap_or_default(),
            h.drg_cases.to_string(),
            h.dip_cases.to_string(),
            dec(h.drg_points),
            dec(h.dip_points),
            yuan(h.totals.cost),
            yuan(h.item_fund),
            yuan(h.repriced_payment),
            h.special_cases.to_string(),
            yuan(h.special_adjustment),
            yuan(h.fund_due),
            dec(h.assessment_coef),
            yuan(h.assessed),
            yuan(h.audit_deduction),
            yuan(h.annual_amount),
            yuan(h.outside_community),
            yuan(h.advance_paid),
            yuan(h.deposit_held),
            yuan(h.final_payment),
            yuan(h.totals.negotiated_cost),
            yuan(h.totals.negotiated_fund),
            opt_money(u.map(|u| u.surplus_or_deficit)),
            opt_money(u.map(|u| u.retained)),
            opt_money(u.map(|u| u.carried)),
            opt_money(u.map(|u| u.fund_share)),
            opt_money(u.map(|u| u.unit_share)),
            h.outliers[0].to_string(),
            h.outliers[1].to_string(),
            h.outliers[2].to_string(),
            yuan(margin),
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
        row("budget", "total", yuan(b.total))?;
        row("budget", "risk_reserve", yuan(b.risk_reserve))?;
        row("budget", "city_reserve", yuan(b.city_reserve))?;
        for a in &b.allocations {
            row("budget", &format!("allocation:{}", a.id), yuan(a.amount))?;
        }
        row("budget", "remainder", yuan(b.remainder))?;
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
            row("dip", &format!("budget:{t}"), yuan(b[t.index()]))?;
        }
    }
    if let Some(r) = s.city.dip_point_value {
        for t in types {
            row("dip", &format!("point_value:{t}"), dec(r[t.index()]))?;
        }
    }
    if let Some(d) = s.city.dip_distributed {
        for t in types {
            row("dip", &format!("distributed:{t}"), yuan(d[t.index()]))?;
        }
    }
    if let Some(r) = s.city.dip_rounding {
        row("dip", "rounding_difference", yuan(r))?;
    }
    let t = &s.city.totals;
    row("totals", "hospitals", s.hospitals.len().to_string())?;
    row("totals", "cases", t.cases.to_string())?;
    row("totals", "points", dec(t.points))?;
    row("totals", "payment_total", yuan(t.payment))?;
    row("totals", "patient_total", yuan(t.patient))?;
    row("totals", "fund_total", yuan(t.fund))?;
    row("totals", "total_cost", yuan(t.cost))?;
    row("totals", "negotiated_cost", yuan(t.negotiated_cost))?;
    row("totals", "negotiated_fund", yuan(t.negotiated_fund))?;
    row("totals", "annual_amount", yuan(s.city.annual_total))?;
    for c in &s.communities {
        let p = format!("community:{}", c.id);
        row(&p, "budget", yuan(c.budget))?;
        row(&p, "spent", yuan(c.spent))?;
        row(&p, "surplus_or_deficit", yuan(c.result.surplus_or_deficit))?;
        row(&p, "retained", yuan(c.result.retained))?;
        row(&p, "carried", yuan(c.result.carried))?;
        row(&p, "fund_deficit_share", yuan(c.result.fund_share))?;
        row(&p, "community_deficit_share", yuan(c.result.unit_share))?;
        row(&p, "paid", yuan(c.result.paid))?;
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
                dec(ratio(m.allocation, c.result.paid, 4))
            };
            w.write_record([
                c.id.as_str(),
                &m.hospital,
                &m.parent,
                m.kind.key(),
                &yuan(m.spent),
                &yuan(m.allocation),
                &share,
            ])?;
        }
    }
    w.flush()?;
    Ok(())
}
