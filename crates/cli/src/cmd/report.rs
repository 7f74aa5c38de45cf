//! `drgdip report`: the indicators a bureau reads (DOMAIN.md §9), per hospital and
//! city-wide, from priced cases (and optionally the settlement).
//!
//! - grouping rate = grouped (incl. DIP composite) / cases;
//! - CMI = Σ weight / DRG cases (DRG) and Σ score / DIP cases (DIP), grouped cases only;
//! - time-consumption index = Σ(LOS / city mean LOS of the group) / cases with a LOS;
//! - cost-consumption index = Σ(cost / city mean cost of the group) / grouped cases;
//! - shares of high and low outliers;
//! - margin = payment − cost per hospital and per group; with `--settlement`, the
//!   settlement's surplus or deficit, retained and carried amounts;
//! - per group (`--groups`): cases, mean cost, CV (population SD / mean) and a flag for
//!   CV < `--cv-low` or > `--cv-high`.
//!
//! Group means are the city's own, computed from the same file.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use rust_decimal::{Decimal, MathematicalOps};

use super::pay_io::{Header, csv_reader, dec, decimal, field, open_input, open_output};
use crate::Outcome;

/// Arguments of `drgdip report`.
#[derive(clap::Args)]
pub struct Args {
    /// Priced cases (output of `drgdip price`); `-` = stdin.
    #[arg(long)]
    pub input: String,
    /// Indicators per hospital and city-wide (CSV); `-` = stdout.
    #[arg(long, default_value = "-")]
    pub output: String,
    /// Settlement per hospital (output of `drgdip settle`) to add surplus/deficit.
    #[arg(long)]
    pub settlement: Option<PathBuf>,
    /// Per-group indicators (CSV): cases, mean cost, CV and its flag, margin.
    #[arg(long)]
    pub groups: Option<String>,
    /// Readable table; default stdout when `--output` is a file.
    #[arg(long)]
    pub table: Option<String>,
    /// SVG chart of payment vs cost by hospital.
    #[arg(long)]
    pub svg: Option<PathBuf>,
    /// Groups with a CV below this are flagged `low`.
    #[arg(long, default_value = "0.5")]
    pub cv_low: Decimal,
    /// Groups with a CV above this are flagged `high`.
    #[arg(long, default_value = "1")]
    pub cv_high: Decimal,
}

#[derive(Default, Clone)]
struct GroupAcc {
    cases: u64,
    cost: Decimal,
    cost_sq: Decimal,
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
}

fn ratio(a: Decimal, b: Decimal, dp: u32) -> Option<Decimal> {
    if b.is_zero() {
        None
    } else {
        Some((a / b).round_dp(dp))
    }
}

fn show(d: Option<Decimal>) -> String {
    d.map(dec).unwrap_or_default()
}

/// Runs `drgdip report`.
pub fn run(args: Args) -> Result<Outcome> {
    let mut rdr = csv_reader(open_input(&args.input)?);
    let header = Header::read(&mut rdr)?;
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
    let mut hospitals: BTreeMap<String, HospAcc> = BTreeMap::new();
    let mut rec = csv::ByteRecord::new();
    let mut row = 0u64;
    let mut bad = 0u64;
    while rdr
        .read_byte_record(&mut rec)
        .context("reading the priced input")?
    {
        row += 1;
        let parsed = (|| -> Result<(), String> {
            let hosp = field(&rec, c_hosp, "hospital_id")?;
            let h = hospitals.entry(hosp.to_owned()).or_default();
            if field(&rec, c_status, "status")? == "rejected" {
                h.rejected += 1;
                return Ok(());
            }
            let cost = decimal(field(&rec, c_cost, "total_cost")?, "total_cost")?;
            let pay = decimal(field(&rec, c_pay, "payment_standard")?, "payment_standard")?;
            let method = field(&rec, c_method, "method")?.to_owned();
            let group = field(&rec, c_group, "group")?.to_owned();
            let gstatus = field(&rec, c_gstatus, "grouping_status")?;
            let outlier = field(&rec, c_outlier, "outlier")?;
            let los = match field(&rec, c_los, "los")? {
                "" => None,
                s => Some(decimal(s, "los")?),
            };
            h.cases += 1;
            h.payment += pay;
            h.cost += cost;
            match outlier {
                "high" | "review" => h.high += 1,
                "low" => h.low += 1,
                _ => {}
            }
            if gstatus == "grouped" || gstatus == "composite" {
                h.grouped += 1;
                if method == "drg" {
                    h.drg_cases += 1;
                    h.drg_weight += decimal(field(&rec, c_weight, "weight")?, "weight")?;
                } else {
                    h.dip_cases += 1;
                    h.dip_score += decimal(field(&rec, c_score, "score")?, "score")?;
                }
                let g = h.groups.entry((method, group)).or_default();
                g.cases += 1;
                g.cost += cost;
                g.cost_sq += cost * cost;
                g.payment += pay;
                if let Some(l) = los {
                    g.los += l;
                    g.los_cases += 1;
                }
            }
            Ok(())
        })();
        if let Err(e) = parsed {
            bad += 1;
            if bad <= 5 {
                eprintln!("report: row {row}: {e}");
            }
        }
    }
    // City-wide group statistics.
    let mut city_groups: BTreeMap<(String, String), GroupAcc> = BTreeMap::new();
    for h in hospitals.values() {
        for (k, g) in &h.groups {
            let c = city_groups.entry(k.clone()).or_default();
            c.cases += g.cases;
            c.cost += g.cost;
            c.cost_sq += g.cost_sq;
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
        });
    }
    all.groups = city_groups.clone();
    let (ti, ci) = indices(&all);
    rows.push(Indicators {
        id: "ALL".into(),
        h: all,
        time_index: ti,
        cost_index: ci,
    });
    let settled = match &args.settlement {
        Some(p) => read_settlement(p)?,
        None => BTreeMap::new(),
    };
    // CSV.
    let columns = [
        "scope",
        "hospital_id",
        "cases",
        "rejected",
        "grouped",
        "grouping_rate",
        "drg_cases",
        "cmi_drg",
        "dip_cases",
        "cmi_dip",
        "time_index",
        "cost_index",
        "high_outliers",
        "high_outlier_share",
        "low_outliers",
        "low_outlier_share",
        "payment_total",
        "total_cost",
        "margin",
        "margin_rate",
        "annual_amount",
        "surplus_or_deficit",
        "retained",
        "carried",
    ];
    let mut table_rows: Vec<Vec<String>> = Vec::new();
    {
        let mut out = open_output(&args.output)?;
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(columns)?;
        for r in &rows {
            let h = &r.h;
            let n = Decimal::from(h.cases);
            let margin = h.payment - h.cost;
            let s = settled.get(&r.id);
            let get = |k: &str| s.and_then(|m| m.get(k)).cloned().unwrap_or_default();
            let rec = vec![
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
                h.payment.to_string(),
                h.cost.to_string(),
                margin.to_string(),
                show(ratio(margin, h.cost, 4)),
                get("annual_amount"),
                get("surplus_or_deficit"),
                get("retained"),
                get("carried"),
            ];
            w.write_record(&rec)?;
            table_rows.push(rec);
        }
        w.flush()?;
        drop(w);
        out.flush()?;
    }
    if let Some(path) = &args.groups {
        let mut out = open_output(path)?;
        write_groups(&mut out, &city_groups, args.cv_low, args.cv_high)?;
        out.flush()?;
    }
    let table_to = match (&args.table, args.output.as_str()) {
        (Some(t), _) => Some(t.clone()),
        (None, "-") => None,
        (None, _) => Some("-".to_owned()),
    };
    if let Some(t) = table_to {
        let mut out = open_output(&t)?;
        out.write_all(render_table(&columns, &table_rows).as_bytes())?;
        out.flush()?;
    }
    if let Some(p) = &args.svg {
        let svg = render_svg(&rows[..rows.len() - 1]);
        std::fs::write(p, svg).with_context(|| format!("writing {}", p.display()))?;
    }
    if bad > 0 {
        eprintln!("report: {bad} unreadable rows skipped");
    }
    Ok(if bad > 0 {
        Outcome::RowsRejected
    } else {
        Outcome::Clean
    })
}

fn read_settlement(path: &PathBuf) -> Result<BTreeMap<String, BTreeMap<String, String>>> {
    let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut rdr = csv_reader(f);
    let header = Header::read(&mut rdr)?;
    let id = header.require("hospital_id", "a column of `drgdip settle` output")?;
    let keys = ["annual_amount", "surplus_or_deficit", "retained", "carried"];
    let idx: Vec<(String, Option<usize>)> = keys
        .iter()
        .map(|k| ((*k).to_owned(), header.find(k)))
        .collect();
    let mut out = BTreeMap::new();
    let mut rec = csv::StringRecord::new();
    let mut total: BTreeMap<String, Decimal> = BTreeMap::new();
    while rdr.read_record(&mut rec)? {
        let mut m = BTreeMap::new();
        for (k, i) in &idx {
            let v = i.and_then(|i| rec.get(i)).unwrap_or("").trim().to_owned();
            if let Ok(d) = v.parse::<Decimal>() {
                *total.entry(k.clone()).or_default() += d;
            }
            m.insert(k.clone(), v);
        }
        out.insert(rec.get(id).unwrap_or("").trim().to_owned(), m);
    }
    out.insert(
        "ALL".to_owned(),
        total.into_iter().map(|(k, v)| (k, v.to_string())).collect(),
    );
    Ok(out)
}

fn write_groups(
    out: &mut dyn Write,
    groups: &BTreeMap<(String, String), GroupAcc>,
    cv_low: Decimal,
    cv_high: Decimal,
) -> Result<()> {
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
        "margin",
    ])?;
    for ((method, group), g) in groups {
        let n = Decimal::from(g.cases);
        let mean = g.cost / n;
        let var = (g.cost_sq / n - mean * mean).max(Decimal::ZERO);
        let sd = var.sqrt().unwrap_or_default();
        let cv = ratio(sd, mean, 4);
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
            &mean.round_dp(2).to_string(),
            &sd.round_dp(2).to_string(),
            &show(cv),
            flag,
            &show(ratio(g.los, Decimal::from(g.los_cases), 2)),
            &g.payment.to_string(),
            &g.cost.to_string(),
            &(g.payment - g.cost).to_string(),
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
        "margin",
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

fn render_svg(rows: &[Indicators]) -> String {
    let bar_w: i64 = 12;
    let gap: i64 = 10;
    let left: i64 = 90;
    let top: i64 = 40;
    let height: i64 = 300;
    let n = i64::try_from(rows.len()).unwrap_or(0);
    let width = left + n * (2 * bar_w + gap) + 40;
    let max = rows
        .iter()
        .map(|r| r.h.payment.max(r.h.cost))
        .max()
        .unwrap_or(Decimal::ONE)
        .max(Decimal::ONE);
    let px = |v: Decimal| -> i64 {
        let p = (v * Decimal::from(height) / max).round();
        i64::try_from(p.mantissa() / 10i128.pow(p.scale())).unwrap_or(0)
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{}" font-family="sans-serif" font-size="11">"#,
        top + height + 90
    );
    let _ = writeln!(
        s,
        r#"<text x="{left}" y="20" font-size="14">Payment (blue) vs cost (orange) by hospital, yuan; max {}</text>"#,
        max.round_dp(0)
    );
    let _ = writeln!(
        s,
        r##"<line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="#333"/>"##,
        top + height,
        width - 20,
        top + height
    );
    for (i, r) in rows.iter().enumerate() {
        let x = left + i64::try_from(i).unwrap_or(0) * (2 * bar_w + gap);
        let hp = px(r.h.payment);
        let hc = px(r.h.cost);
        let _ = writeln!(
            s,
            r##"<rect x="{x}" y="{}" width="{bar_w}" height="{hp}" fill="#3b6fb6"><title>{} payment {}</title></rect>"##,
            top + height - hp,
            r.id,
            r.h.payment
        );
        let _ = writeln!(
            s,
            r##"<rect x="{}" y="{}" width="{bar_w}" height="{hc}" fill="#e08a2c"><title>{} cost {}</title></rect>"##,
            x + bar_w,
            top + height - hc,
            r.id,
            r.h.cost
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" transform="rotate(60 {} {})">{}</text>"#,
            x + 2,
            top + height + 12,
            x + 2,
            top + height + 12,
            r.id
        );
    }
    s.push_str("</svg>\n");
    s
}
