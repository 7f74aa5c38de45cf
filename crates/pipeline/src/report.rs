//! Indicators a bureau reads (DOMAIN.md §9), per hospital and city-wide, from priced
//! cases (and optionally the settlement):
//!
//! - grouping rate = grouped (incl. DIP composite) / cases;
//! - CMI = Σ weight / DRG cases (DRG) and Σ score / DIP cases (DIP), grouped cases only;
//! - time-consumption index = Σ(LOS / city mean LOS of the group) / cases with a LOS;
//! - cost-consumption index = Σ(cost / city mean cost of the group) / grouped cases;
//! - shares of high and low outliers;
//! - margin = payment − cost per hospital and per group; with a settlement, the
//!   settlement's surplus or deficit, retained and carried amounts;
//! - per group: cases, mean cost, CV (population SD / mean) and a flag for
//!   CV < `cv_low` or > `cv_high`.
//!
//! Group means are the city's own, computed from the same file.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read, Write};

use rust_decimal::{Decimal, MathematicalOps};

use drgdip_io::{CsvBlocks, split_block};

use crate::columns::{
    Header, dec, decimal, field, money_at, negotiated_drug_cost, opt_field, quantity, yuan,
};
use crate::error::{PipelineError, Result};
use crate::settle::RowError;
use crate::{Progress, Stage};

/// Settings of a [`report`].
#[derive(Debug, Clone)]
pub struct ReportConfig {
    /// Groups with a CV below this are flagged `low`.
    pub cv_low: Decimal,
    /// Groups with a CV above this are flagged `high`.
    pub cv_high: Decimal,
}

impl Default for ReportConfig {
    fn default() -> Self {
        Self {
            cv_low: Decimal::new(5, 1),
            cv_high: Decimal::ONE,
        }
    }
}

/// The columns of the indicator file ([`Report::write_csv`]).
pub const REPORT_HEADER: [&str; 24] = [
    "scope",
    "hospital_id",
    "cases",
    "rejected",
    "grouped",
    "grouping_rate",
    "drg_grouped",
    "cmi_drg",
    "dip_grouped",
    "cmi_dip",
    "time_index",
    "cost_index",
    "high_outliers",
    "high_outlier_share",
    "low_outliers",
    "low_outlier_share",
    "payment_total",
    "total_cost",
    "payment_margin",
    "payment_margin_rate",
    "annual_amount",
    "surplus_or_deficit",
    "retained",
    "carried",
];

/// Every figure of a report, ready to be written.
pub struct Report {
    /// One row per hospital then the city (`ALL`), as text in [`REPORT_HEADER`] order.
    records: Vec<Vec<String>>,
    /// The hospitals' accumulators then the city's (`ALL`), for the chart.
    hospitals: Vec<Indicators>,
    /// Whether a settlement was given.
    settled: bool,
    /// City-wide per-group statistics.
    city_groups: BTreeMap<(String, String), GroupAcc>,
    config: ReportConfig,
    /// Rows that could not be read.
    pub unreadable: u64,
    /// The first unreadable rows, by line.
    pub errors: Vec<RowError>,
}

#[derive(Default, Clone)]
struct GroupAcc {
    cases: u64,
    cost: Decimal,
    cost_sq: Decimal,
    /// The sum of squares left `Decimal`'s range: no SD or CV for this group.
    sq_overflow: bool,
    los: Decimal,
    los_cases: u64,
    payment: Decimal,
}

#[derive(Default, Clone)]
struct HospAcc {
    cases: u64,
    grouped: u64,
    drg_cases: u64,
    drg_weight: Decimal,
    dip_cases: u64,
    dip_score: Decimal,
    high: u64,
    low: u64,
    payment: Decimal,
    cost: Decimal,
    rejected: u64,
    /// Per (method, group): cost and LOS sums of this hospital's grouped cases.
    groups: BTreeMap<(String, String), GroupAcc>,
}

struct Indicators {
    id: String,
    h: HospAcc,
    time_index: Option<Decimal>,
    cost_index: Option<Decimal>,
    /// The settlement's surplus (+) or deficit (−), when the settlement has one for it.
    surplus: Option<Decimal>,
}

fn ratio(a: Decimal, b: Decimal, dp: u32) -> Option<Decimal> {
    if b.is_zero() {
        None
    } else {
        Some(crate::columns::ratio(a, b, dp))
    }
}

fn show(d: Option<Decimal>) -> String {
    d.map(dec).unwrap_or_default()
}

/// Reads a priced file (the output of [`crate::price()`]) and, when given, the
/// per-hospital settlement (the output of [`crate::settle::write_hospitals`]), and
/// computes the indicators. Unreadable rows are counted and the first ones named;
/// they do not stop the run.
pub fn report<R: Read, S: Read>(
    input: R,
    settlement: Option<S>,
    config: &ReportConfig,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Report> {
    let mut src = CsvBlocks::open(input)?;
    let header = Header::from_names(src.header());
    let why = "a column of `drgdip price` output";
    let c_method = header.require("method", why)?;
    let c_group = header.require("group", why)?;
    let c_hosp = header.require("hospital_id", why)?;
    let c_pay = header.require("payment_standard", why)?;
    let c_outlier = header.require("outlier", why)?;
    let c_status = header.require("status", why)?;
    let c_gstatus = header.require("grouping_status", why)?;
    let c_weight = header.require("weight", why)?;
    let c_score = header.require("score", why)?;
    let c_los = header.require("los", why)?;
    let c_cost = header.require("total_cost", why)?;
    // Negotiated drugs paid separately are outside the comparison with the payment.
    let c_negotiated = header.find("negotiated_drug_cost");
    let mut hospitals: BTreeMap<String, HospAcc> = BTreeMap::new();
    let mut row = 0u64;
    let mut bad = 0u64;
    let mut errors = Vec::new();
    // Blocks of whole records; lines are the file's physical lines (bare `\r`, CRLF,
    // blank lines and quoted multi-line fields counted as in the file).
    while let Some((bytes, first_line)) = src.next_block(1 << 20)? {
        split_block(&bytes, first_line, |line, rec| {
            row += 1;
            if row.is_multiple_of(1 << 16) {
                progress(Progress {
                    stage: Stage::Reading,
                    rows: row,
                });
            }
            let parsed = (|| -> Result<(), String> {
                let hosp = field(rec, c_hosp, "hospital_id")?;
                if field(rec, c_status, "status")? == "rejected" {
                    hospitals.entry(hosp.to_owned()).or_default().rejected += 1;
                    return Ok(());
                }
                // Every field is read before anything is added: a row that cannot be
                // read is counted as unreadable only, never half in the sums.
                let total = money_at(rec, c_cost, "total_cost")?;
                let cost = total - negotiated_drug_cost(rec, c_negotiated, total)?;
                let pay = money_at(rec, c_pay, "payment_standard")?;
                let method = match field(rec, c_method, "method")? {
                    m @ ("drg" | "dip") => m.to_owned(),
                    m => return Err(format!("field `method`: `{m}` is not drg or dip")),
                };
                let group = field(rec, c_group, "group")?.to_owned();
                let gstatus = field(rec, c_gstatus, "grouping_status")?;
                let grouped = gstatus == "grouped" || gstatus == "composite";
                let outlier = field(rec, c_outlier, "outlier")?;
                let los = match field(rec, c_los, "los")? {
                    "" => None,
                    s => Some(quantity(s, "los")?),
                };
                let (weight, score) = match (grouped, method.as_str()) {
                    (false, _) => (Decimal::ZERO, Decimal::ZERO),
                    (true, "drg") => (
                        quantity(field(rec, c_weight, "weight")?, "weight")?,
                        Decimal::ZERO,
                    ),
                    (true, _) => (
                        Decimal::ZERO,
                        quantity(field(rec, c_score, "score")?, "score")?,
                    ),
                };
                let h = hospitals.entry(hosp.to_owned()).or_default();
                h.cases += 1;
                h.payment += pay;
                h.cost += cost;
                match outlier {
                    "high" | "review" => h.high += 1,
                    "low" => h.low += 1,
                    _ => {}
                }
                if grouped {
                    h.grouped += 1;
                    if method == "drg" {
                        h.drg_cases += 1;
                        h.drg_weight += weight;
                    } else {
                        h.dip_cases += 1;
                        h.dip_score += score;
                    }
                    let g = h.groups.entry((method, group)).or_default();
                    g.cases += 1;
                    g.cost += cost;
                    match g.cost_sq.checked_add(cost * cost) {
                        Some(v) => g.cost_sq = v,
                        None => g.sq_overflow = true,
                    }
                    g.payment += pay;
                    if let Some(l) = los {
                        g.los += l;
                        g.los_cases += 1;
                    }
                }
                Ok(())
            })();
            if let Err(message) = parsed {
                bad += 1;
                if errors.len() < crate::settle::SettleSummary::MAX_ERRORS {
                    errors.push(RowError { line, message });
                }
            }
        });
    }
    // City-wide group statistics.
    let mut city_groups: BTreeMap<(String, String), GroupAcc> = BTreeMap::new();
    for h in hospitals.values() {
        for (k, g) in &h.groups {
            let c = city_groups.entry(k.clone()).or_default();
            c.cases += g.cases;
            c.cost += g.cost;
            match c.cost_sq.checked_add(g.cost_sq) {
                Some(v) if !g.sq_overflow => c.cost_sq = v,
                _ => c.sq_overflow = true,
            }
            c.los += g.los;
            c.los_cases += g.los_cases;
            c.payment += g.payment;
        }
    }
    let indices = |h: &HospAcc| -> (Option<Decimal>, Option<Decimal>) {
        let (mut t, mut tn, mut c, mut cn) = (Decimal::ZERO, 0u64, Decimal::ZERO, 0u64);
        for (k, g) in &h.groups {
            let city = &city_groups[k];
            if city.los_cases > 0 && !city.los.is_zero() {
                let mean_los = city.los / Decimal::from(city.los_cases);
                t += g.los / mean_los;
                tn += g.los_cases;
            }
            if city.cases > 0 && !city.cost.is_zero() {
                let mean_cost = city.cost / Decimal::from(city.cases);
                c += g.cost / mean_cost;
                cn += g.cases;
            }
        }
        (
            ratio(t, Decimal::from(tn), 4),
            ratio(c, Decimal::from(cn), 4),
        )
    };
    let mut rows: Vec<Indicators> = Vec::new();
    let mut all = HospAcc::default();
    for (id, h) in &hospitals {
        let (time_index, cost_index) = indices(h);
        all.cases += h.cases;
        all.grouped += h.grouped;
        all.drg_cases += h.drg_cases;
        all.drg_weight += h.drg_weight;
        all.dip_cases += h.dip_cases;
        all.dip_score += h.dip_score;
        all.high += h.high;
        all.low += h.low;
        all.payment += h.payment;
        all.cost += h.cost;
        all.rejected += h.rejected;
        rows.push(Indicators {
            id: id.clone(),
            h: h.clone(),
            time_index,
            cost_index,
            surplus: None,
        });
    }
    all.groups = city_groups.clone();
    let (ti, ci) = indices(&all);
    rows.push(Indicators {
        id: "ALL".into(),
        h: all,
        time_index: ti,
        cost_index: ci,
        surplus: None,
    });
    let settled = match settlement {
        Some(r) => read_settlement(r)?,
        None => BTreeMap::new(),
    };
    for r in &mut rows {
        r.surplus = settled
            .get(&r.id)
            .and_then(|m| m.get("surplus_or_deficit"))
            .and_then(|v| v.parse::<Decimal>().ok());
    }
    let mut records: Vec<Vec<String>> = Vec::new();
    for r in &rows {
        let h = &r.h;
        let n = Decimal::from(h.cases);
        let margin = h.payment - h.cost;
        let s = settled.get(&r.id);
        let get = |k: &str| s.and_then(|m| m.get(k)).cloned().unwrap_or_default();
        records.push(vec![
            if r.id == "ALL" { "city" } else { "hospital" }.to_owned(),
            r.id.clone(),
            h.cases.to_string(),
            h.rejected.to_string(),
            h.grouped.to_string(),
            show(ratio(Decimal::from(h.grouped), n, 4)),
            h.drg_cases.to_string(),
            show(ratio(h.drg_weight, Decimal::from(h.drg_cases), 4)),
            h.dip_cases.to_string(),
            show(ratio(h.dip_score, Decimal::from(h.dip_cases), 2)),
            show(r.time_index),
            show(r.cost_index),
            h.high.to_string(),
            show(ratio(Decimal::from(h.high), n, 4)),
            h.low.to_string(),
            show(ratio(Decimal::from(h.low), n, 4)),
            yuan(h.payment),
            yuan(h.cost),
            yuan(margin),
            show(ratio(margin, h.cost, 4)),
            get("annual_amount"),
            get("surplus_or_deficit"),
            get("retained"),
            get("carried"),
        ]);
    }
    Ok(Report {
        settled: !settled.is_empty(),
        records,
        hospitals: rows,
        city_groups,
        config: config.clone(),
        unreadable: bad,
        errors,
    })
}

impl Report {
    /// Writes the indicators per hospital and city-wide (columns in [`REPORT_HEADER`]).
    pub fn write_csv(&self, out: impl Write) -> Result<()> {
        let write = || -> csv::Result<()> {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(REPORT_HEADER)?;
            for r in &self.records {
                w.write_record(r)?;
            }
            w.flush()?;
            Ok(())
        };
        write().map_err(PipelineError::csv("writing the report"))
    }

    /// Writes the per-group indicators: cases, mean cost, CV and its flag, margin.
    pub fn write_groups(&self, out: impl Write) -> Result<()> {
        write_groups(
            out,
            &self.city_groups,
            self.config.cv_low,
            self.config.cv_high,
        )
        .map_err(PipelineError::csv("writing the group report"))
    }

    /// The readable table (a subset of the columns).
    pub fn table(&self) -> String {
        render_table(&REPORT_HEADER, &self.records)
    }

    /// The SVG chart of payment vs cost by hospital.
    pub fn svg(&self) -> String {
        render_svg(&self.hospitals, self.settled)
    }

    /// Warnings for this report: a low grouping rate over all hospitals
    /// ([`crate::warnings::grouping_warning`]; rejected rows are not counted).
    pub fn warnings(&self) -> Vec<String> {
        // The city's row is the last.
        self.hospitals
            .last()
            .and_then(|c| crate::warnings::grouping_warning(c.h.cases, c.h.cases - c.h.grouped))
            .into_iter()
            .collect()
    }
}

/// The largest amount accepted in a settlement file (`drgdip settle` output): 10¹⁵
/// yuan in size, so that sums over any number of hospitals stay in `Decimal`'s range.
const MAX_SETTLED: Decimal = Decimal::from_parts(2_764_472_320, 232_830, 0, false, 0);

/// Reads the settlement per hospital; a value that is not a plain number within
/// [`MAX_SETTLED`] stops the run with the file's line and the column.
fn read_settlement(r: impl Read) -> Result<BTreeMap<String, BTreeMap<String, String>>> {
    let mut src = CsvBlocks::open(r)?;
    let header = Header::from_names(src.header());
    let id = header.require("hospital_id", "a column of `drgdip settle` output")?;
    let keys = ["annual_amount", "surplus_or_deficit", "retained", "carried"];
    let idx: Vec<(&str, Option<usize>)> = keys.iter().map(|&k| (k, header.find(k))).collect();
    let mut out = BTreeMap::new();
    let mut total: BTreeMap<String, Decimal> = BTreeMap::new();
    let mut failed: Option<String> = None;
    while let Some((bytes, first_line)) = src.next_block(1 << 20)? {
        split_block(&bytes, first_line, |line, rec| {
            if failed.is_some() {
                return;
            }
            let row = (|| -> Result<(), String> {
                let mut m = BTreeMap::new();
                for &(k, i) in &idx {
                    let v = opt_field(rec, i, k)?;
                    if !v.is_empty() {
                        let d = decimal(v, k)?;
                        if d.abs() > MAX_SETTLED {
                            return Err(format!(
                                "field `{k}`: {v} is out of range (at most 10^15 yuan in size)"
                            ));
                        }
                        *total.entry(k.to_owned()).or_default() += d;
                    }
                    m.insert(k.to_owned(), v.to_owned());
                }
                out.insert(field(rec, id, "hospital_id")?.to_owned(), m);
                Ok(())
            })();
            if let Err(e) = row {
                failed = Some(format!("the settlement file, line {line}: {e}"));
            }
        });
        if let Some(e) = failed {
            return Err(PipelineError::Input(e));
        }
    }
    out.insert(
        "ALL".to_owned(),
        total.into_iter().map(|(k, v)| (k, v.to_string())).collect(),
    );
    Ok(out)
}

fn write_groups(
    out: impl Write,
    groups: &BTreeMap<(String, String), GroupAcc>,
    cv_low: Decimal,
    cv_high: Decimal,
) -> csv::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "method",
        "group",
        "cases",
        "mean_cost",
        "sd_cost",
        "cv",
        "cv_flag",
        "mean_los",
        "payment_total",
        "total_cost",
        "payment_margin",
    ])?;
    for ((method, group), g) in groups {
        let n = Decimal::from(g.cases);
        let mean = g.cost / n;
        let sd = if g.sq_overflow {
            None
        } else {
            let var = (g.cost_sq / n - mean * mean).max(Decimal::ZERO);
            var.sqrt()
        };
        let cv = sd.and_then(|sd| ratio(sd, mean, 4));
        let flag = match cv {
            Some(c) if c < cv_low => "low",
            Some(c) if c > cv_high => "high",
            Some(_) => "ok",
            None => "",
        };
        w.write_record([
            method.as_str(),
            group,
            &g.cases.to_string(),
            &yuan(mean),
            &sd.map(yuan).unwrap_or_default(),
            &show(cv),
            flag,
            &show(ratio(g.los, Decimal::from(g.los_cases), 2)),
            &yuan(g.payment),
            &yuan(g.cost),
            &yuan(g.payment - g.cost),
        ])?;
    }
    w.flush()?;
    Ok(())
}

fn render_table(columns: &[&str], rows: &[Vec<String>]) -> String {
    // A readable subset; the CSV has everything.
    let pick = [
        "hospital_id",
        "cases",
        "grouping_rate",
        "cmi_drg",
        "cmi_dip",
        "time_index",
        "cost_index",
        "high_outlier_share",
        "low_outlier_share",
        "payment_total",
        "total_cost",
        "payment_margin",
        "surplus_or_deficit",
    ];
    let idx: Vec<usize> = pick
        .iter()
        .filter_map(|p| columns.iter().position(|c| c == p))
        .collect();
    let mut width: Vec<usize> = idx.iter().map(|&i| columns[i].chars().count()).collect();
    for r in rows {
        for (k, &i) in idx.iter().enumerate() {
            width[k] = width[k].max(r[i].chars().count());
        }
    }
    let mut s = String::new();
    let line = |s: &mut String, cells: Vec<&str>| {
        for (k, c) in cells.iter().enumerate() {
            if k == 0 {
                let _ = write!(s, "{c:<w$}", w = width[k]);
            } else {
                let _ = write!(s, "  {c:>w$}", w = width[k]);
            }
        }
        s.push('\n');
    };
    line(&mut s, idx.iter().map(|&i| columns[i]).collect());
    let total: usize = width.iter().sum::<usize>() + 2 * (width.len() - 1);
    s.push_str(&"-".repeat(total));
    s.push('\n');
    for r in rows {
        if r[1] == "ALL" {
            s.push_str(&"-".repeat(total));
            s.push('\n');
        }
        line(&mut s, idx.iter().map(|&i| r[i].as_str()).collect());
    }
    s
}

/// A "nice" axis step (1, 2 or 5 × 10^k) so that `max` spans about 4–6 steps.
fn nice_step(max: Decimal) -> Decimal {
    let mut step = Decimal::new(1, 2);
    loop {
        for m in [1, 2, 5] {
            let s = step * Decimal::from(m);
            if max / s <= Decimal::from(6) {
                return s;
            }
        }
        step *= Decimal::TEN;
        if step > Decimal::from(1_000_000_000_000i64) {
            return step;
        }
    }
}

/// An amount in units of 10,000 yuan (万元), for the chart.
fn wan(v: Decimal) -> Decimal {
    v / Decimal::from(10_000)
}

/// Geometry only (pixels), never money.
fn f(v: Decimal) -> f64 {
    use rust_decimal::prelude::ToPrimitive;
    v.to_f64().unwrap_or(0.0)
}

/// A tick label: whole numbers with thousands separators, else up to 2 decimals.
fn tick_label(v: Decimal) -> String {
    let v = v.round_dp(2).normalize();
    if v.scale() > 0 {
        return v.to_string();
    }
    let digits = v.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if v.is_sign_negative() && !v.is_zero() {
        out.insert(0, '−');
    }
    out
}

/// One vertical axis with ticks, labels and grid lines from `lo` to `hi` (multiples of
/// `step`), mapped onto pixels `bottom..top`.
struct Axis {
    lo: Decimal,
    hi: Decimal,
    step: Decimal,
    top: f64,
    bottom: f64,
}

impl Axis {
    fn y(&self, v: Decimal) -> f64 {
        let span = f(self.hi - self.lo).max(1e-9);
        self.bottom - (f(v - self.lo) / span) * (self.bottom - self.top)
    }

    fn draw(&self, s: &mut String, left: f64, right: f64, title: &str) {
        let mut v = self.lo;
        while v <= self.hi {
            let y = self.y(v);
            let (stroke, w) = if v.is_zero() {
                ("#333", 1.2)
            } else {
                ("#ddd", 0.8)
            };
            let _ = writeln!(
                s,
                r#"<line x1="{left:.1}" y1="{y:.1}" x2="{right:.1}" y2="{y:.1}" stroke="{stroke}" stroke-width="{w}"/>"#
            );
            let _ = writeln!(
                s,
                r##"<line x1="{:.1}" y1="{y:.1}" x2="{left:.1}" y2="{y:.1}" stroke="#333"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                left - 5.0,
                left - 8.0,
                y + 4.0,
                tick_label(v)
            );
            v += self.step;
        }
        let _ = writeln!(
            s,
            r##"<line x1="{left:.1}" y1="{:.1}" x2="{left:.1}" y2="{:.1}" stroke="#333"/>"##,
            self.top, self.bottom
        );
        let mid = (self.top + self.bottom) / 2.0;
        let _ = writeln!(
            s,
            r#"<text x="16" y="{mid:.1}" text-anchor="middle" transform="rotate(-90 16 {mid:.1})">{title}</text>"#
        );
    }
}

/// The chart: per hospital, the payment standard and the total cost (top panel), and
/// the settlement's surplus or deficit (bottom panel; without a settlement, payment −
/// cost, and the panel says so). `rows` are the hospitals then the city (last; not
/// drawn but summarised in the subtitle).
fn render_svg(rows: &[Indicators], settled: bool) -> String {
    let (city, hospitals) = match rows.split_last() {
        Some((c, h)) => (Some(c), h),
        None => (None, rows),
    };
    let method = match city.map(|c| (c.h.drg_cases > 0, c.h.dip_cases > 0)) {
        Some((true, false)) => "DRG",
        Some((false, true)) => "DIP",
        Some((true, true)) => "DRG and DIP",
        _ => "DRG/DIP",
    };
    let slot = 26.0;
    let bar = 10.0;
    let left = 90.0;
    let n = hospitals.len() as f64;
    let plot_right = left + n * slot + 10.0;
    let width = (plot_right + 20.0).max(760.0);
    let top1 = 96.0;
    let bottom1 = top1 + 260.0;
    let top2 = bottom1 + 46.0;
    let bottom2 = top2 + 170.0;
    let height = bottom2 + 70.0;

    let max = hospitals
        .iter()
        .map(|r| wan(r.h.payment.max(r.h.cost)))
        .max()
        .unwrap_or(Decimal::ONE)
        .max(Decimal::new(1, 2));
    let step = nice_step(max);
    let hi = (max / step).ceil() * step;
    let a1 = Axis {
        lo: Decimal::ZERO,
        hi,
        step,
        top: top1,
        bottom: bottom1,
    };
    // Bottom panel: the settlement result, or payment − cost.
    let result = |r: &Indicators| -> Option<Decimal> {
        if settled {
            r.surplus.map(wan)
        } else {
            Some(wan(r.h.payment - r.h.cost))
        }
    };
    let amax = hospitals
        .iter()
        .filter_map(result)
        .map(|v| v.abs())
        .max()
        .unwrap_or(Decimal::ONE)
        .max(Decimal::new(1, 2));
    let step2 = nice_step(amax * Decimal::TWO);
    let hi2 = (amax / step2).ceil() * step2;
    let a2 = Axis {
        lo: -hi2,
        hi: hi2,
        step: step2,
        top: top2,
        bottom: bottom2,
    };

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(
        s,
        r#"<rect width="{width:.0}" height="{height:.0}" fill="white"/>"#
    );
    let _ = writeln!(
        s,
        r#"<text x="{left}" y="22" font-size="15" font-weight="bold">{method}: payment vs cost by hospital</text>"#
    );
    if let Some(c) = city {
        let margin = c.h.payment - c.h.cost;
        let rate = ratio(margin, c.h.cost, 4).map(|r| (r * Decimal::ONE_HUNDRED).round_dp(1));
        let settled_total: Option<Decimal> =
            settled.then(|| hospitals.iter().filter_map(|r| r.surplus).sum());
        let mut sub = format!(
            "City: {} cases, payment {} and cost {} (10,000 yuan), payment − cost {} ({}%)",
            c.h.cases,
            tick_label(wan(c.h.payment).round_dp(0)),
            tick_label(wan(c.h.cost).round_dp(0)),
            tick_label(wan(margin).round_dp(0)),
            rate.map(|r| r.to_string()).unwrap_or_default()
        );
        if let Some(t) = settled_total {
            let _ = write!(
                sub,
                "; settlement surplus/deficit {}",
                tick_label(wan(t).round_dp(0))
            );
        }
        let _ = writeln!(s, r#"<text x="{left}" y="40">{sub}</text>"#);
    }
    // Legend.
    let lower = if settled {
        "settlement surplus"
    } else {
        "payment above cost"
    };
    let legend: [(&str, &str); 4] = [
        ("#3b6fb6", "payment standard (Σ per case)"),
        ("#e08a2c", "total cost"),
        ("#2e9d57", lower),
        (
            "#c8423b",
            if settled {
                "settlement deficit"
            } else {
                "payment below cost"
            },
        ),
    ];
    let mut lx = left;
    for (color, label) in legend {
        let _ = writeln!(
            s,
            r#"<rect x="{lx:.1}" y="52" width="12" height="12" fill="{color}"/><text x="{:.1}" y="62">{label}</text>"#,
            lx + 16.0
        );
        lx += 24.0 + 6.2 * label.chars().count() as f64;
    }
    let _ = writeln!(
        s,
        r#"<text x="{left}" y="{:.1}" font-weight="bold">Payment standard and total cost</text>"#,
        top1 - 12.0
    );
    a1.draw(&mut s, left, plot_right, "10,000 yuan");
    let lower_title = if settled {
        "Year-end settlement: surplus or deficit (from the settlement file); no bar: settled in its medical community"
    } else {
        "Payment − cost (no settlement given: run `report --settlement` to show the settlement result)"
    };
    let _ = writeln!(
        s,
        r#"<text x="{left}" y="{:.1}" font-weight="bold">{lower_title}</text>"#,
        top2 - 12.0
    );
    a2.draw(&mut s, left, plot_right, "10,000 yuan");

    for (i, r) in hospitals.iter().enumerate() {
        let x = left + 4.0 + i as f64 * slot;
        let yp = a1.y(wan(r.h.payment));
        let yc = a1.y(wan(r.h.cost));
        let _ = writeln!(
            s,
            r##"<rect x="{x:.1}" y="{yp:.1}" width="{bar}" height="{:.1}" fill="#3b6fb6"><title>{} payment {} yuan</title></rect>"##,
            bottom1 - yp,
            r.id,
            yuan(r.h.payment)
        );
        let _ = writeln!(
            s,
            r##"<rect x="{:.1}" y="{yc:.1}" width="{bar}" height="{:.1}" fill="#e08a2c"><title>{} cost {} yuan</title></rect>"##,
            x + bar,
            bottom1 - yc,
            r.id,
            yuan(r.h.cost)
        );
        if let Some(v) = result(r) {
            let y0 = a2.y(Decimal::ZERO);
            let y = a2.y(v);
            let color = if v.is_sign_negative() {
                "#c8423b"
            } else {
                "#2e9d57"
            };
            let _ = writeln!(
                s,
                r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{color}"><title>{} {} 10,000 yuan</title></rect>"##,
                x + 2.0,
                y.min(y0),
                2.0 * bar - 4.0,
                (y - y0).abs(),
                r.id,
                v.round_dp(2)
            );
        }
        let lx = x + bar;
        let ly = bottom2 + 10.0;
        let _ = writeln!(
            s,
            r#"<text x="{lx:.1}" y="{ly:.1}" text-anchor="end" transform="rotate(-60 {lx:.1} {ly:.1})">{}</text>"#,
            r.id
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">hospital</text>"#,
        (left + plot_right) / 2.0,
        height - 8.0
    );
    s.push_str("</svg>\n");
    s
}
