//! `drgdip explain`: how one case is grouped, as text or JSON.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use drgdip_grouper::{Case, Explanation, Step};
use drgdip_io::dip::DIP_COLUMNS;
use drgdip_io::drg::{CASE_COLUMNS, parse_case};
use drgdip_io::fields::FieldError;
use drgdip_io::stream::{MAX_COLUMNS, Row};

use super::load_grouper;
use crate::Outcome;

/// Arguments of `drgdip explain`.
#[derive(clap::Args)]
pub struct Args {
    /// Scheme folder, workbook (`.xlsx`) or compiled scheme file (DRG explanation).
    #[arg(long, required_unless_present = "catalog")]
    pub scheme: Option<PathBuf>,
    /// Errata for a workbook scheme (`errata.json`: exclusion-table members the workbook lacks).
    #[arg(long)]
    pub errata: Option<PathBuf>,
    /// DIP catalogue folder or compiled file (DIP explanation; with `--scheme`, both).
    #[arg(long)]
    pub catalog: Option<PathBuf>,
    /// Take the case from this CSV file (with `--case-id`).
    #[arg(long, requires = "case_id")]
    pub input: Option<PathBuf>,
    /// The case to explain in `--input`.
    #[arg(long)]
    pub case_id: Option<String>,
    /// Sex (1/2), when the case is given by arguments.
    #[arg(long)]
    pub sex: Option<String>,
    /// Age in years.
    #[arg(long)]
    pub age: Option<String>,
    /// Age in days.
    #[arg(long)]
    pub age_days: Option<String>,
    /// Birth weight in grams.
    #[arg(long)]
    pub weight: Option<String>,
    /// Department.
    #[arg(long)]
    pub dept: Option<String>,
    /// Length of stay in days.
    #[arg(long)]
    pub los: Option<String>,
    /// Discharge way.
    #[arg(long)]
    pub discharge_way: Option<String>,
    /// Diagnoses, principal first, `|`- or `,`-separated.
    #[arg(long)]
    pub dx: Option<String>,
    /// Procedures, principal first, `|`- or `,`-separated.
    #[arg(long)]
    pub px: Option<String>,
    /// ICU days (DIP auxiliary sub-types).
    #[arg(long)]
    pub icu_days: Option<String>,
    /// Hours of invasive ventilation (DIP pre-grouping).
    #[arg(long)]
    pub vent_hours: Option<String>,
    /// Total cost in yuan (DIP cost-ratio sub-types).
    #[arg(long)]
    pub total_cost: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Map clinical codes to insurance codes first.
    #[arg(long)]
    pub map_codes: bool,
}

/// Runs `drgdip explain`.
pub fn run(args: Args) -> Result<Outcome> {
    let (line, values) = match &args.input {
        Some(path) => find_row(path, args.case_id.as_deref().unwrap_or_default())?,
        None => {
            let v = |o: &Option<String>| o.clone().unwrap_or_default().into_bytes();
            let codes =
                |o: &Option<String>| o.clone().unwrap_or_default().replace(',', "|").into_bytes();
            (
                0,
                vec![
                    b"(arguments)".to_vec(),
                    v(&args.sex),
                    v(&args.age),
                    v(&args.age_days),
                    v(&args.weight),
                    v(&args.dept),
                    v(&args.los),
                    v(&args.discharge_way),
                    codes(&args.dx),
                    codes(&args.px),
                    v(&args.icu_days),
                    v(&args.vent_hours),
                    v(&args.total_cost),
                ],
            )
        }
    };
    let mut json = serde_json::Map::new();
    if let Some(scheme) = &args.scheme {
        let grouper = load_grouper(scheme, args.errata.as_deref())?;
        let mut fields: [Option<&[u8]>; MAX_COLUMNS] = [None; MAX_COLUMNS];
        for (f, v) in fields.iter_mut().zip(&values) {
            *f = Some(v.as_slice());
        }
        let row = Row {
            line,
            fields: &fields[..CASE_COLUMNS.len()],
            problem: None,
        };
        let mut case = Case::default();
        let mut warnings = String::new();
        if let Err(FieldError(msg)) =
            parse_case(&grouper, args.map_codes, &row, &mut case, &mut warnings)
        {
            bail!("the case is not valid input: {msg}");
        }
        let explanation = grouper.explain(&case);
        if args.json {
            json.insert("drg".into(), serde_json::to_value(&explanation)?);
        } else {
            print!("{}", render(&explanation, &warnings));
        }
    }
    if let Some(path) = &args.catalog {
        let catalog = super::dip::load_catalog(path)?;
        let (explanation, warnings) = super::dip::explain(&catalog, line, &values)?;
        if args.json {
            json.insert("dip".into(), serde_json::to_value(&explanation)?);
        } else {
            if args.scheme.is_some() {
                println!();
            }
            print!("{}", super::dip::render(&explanation, &warnings));
        }
    }
    if args.json {
        // One explanation alone is printed as is, as before; both side by side.
        let value = if json.len() == 1 {
            json.into_iter().next().map(|x| x.1).unwrap_or_default()
        } else {
            serde_json::Value::Object(json)
        };
        println!("{}", serde_json::to_string_pretty(&value)?);
    }
    Ok(Outcome::Clean)
}

/// Reads the row of `case_id` from a CSV file.
fn find_row(path: &PathBuf, case_id: &str) -> Result<(u64, Vec<Vec<u8>>)> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("opening {}", path.display()))?;
    let header = rdr.byte_headers()?.clone();
    let index: Vec<Option<usize>> = DIP_COLUMNS
        .iter()
        .map(|c| {
            header
                .iter()
                .position(|h| String::from_utf8_lossy(h).trim_start_matches('\u{feff}') == c.name)
        })
        .collect();
    let id_col = index[0].context("the input has no case_id column")?;
    let mut rec = csv::ByteRecord::new();
    while rdr.read_byte_record(&mut rec)? {
        if rec.get(id_col) == Some(case_id.as_bytes()) {
            let line = rec.position().map_or(0, |p| p.line());
            let values = index
                .iter()
                .map(|i| i.and_then(|i| rec.get(i)).unwrap_or_default().to_vec())
                .collect();
            return Ok((line, values));
        }
    }
    bail!("no case `{case_id}` in {}", path.display())
}

/// The explanation as readable text.
pub fn render(e: &Explanation, warnings: &str) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let r = &e.result;
    let _ = writeln!(s, "scheme   {}", e.scheme);
    let _ = writeln!(
        s,
        "result   {} {} {} {} {}",
        e.status.as_str(),
        r.mdc,
        r.adrg,
        r.drg,
        r.name
    );
    if !warnings.is_empty() {
        let _ = writeln!(s, "warnings {warnings}");
    }
    if let Some(t) = &e.principal_exclusion_table {
        let _ = writeln!(s, "principal diagnosis exclusion table {t}");
    }
    for c in &e.complications {
        let verdict = match (c.excluded, e.principal_exclusion_table.is_some()) {
            (false, _) => "counts".to_string(),
            (true, true) => "excluded by the principal's table".to_string(),
            (true, false) => format!("excluded: the principal diagnosis is in {}", c.table),
        };
        let _ = writeln!(
            s,
            "{:<4} {} {} (table {}): {verdict}",
            c.kind, c.code, c.name, c.table
        );
    }
    let _ = writeln!(s, "steps");
    // Workbook steps (they name their sheet and row) list every atom with ✓/✗.
    let workbook = e.steps.iter().any(|s| match s {
        Step::MdcEntered { source, .. } | Step::MdcSkipped { source, .. } => !source.is_empty(),
        _ => false,
    });
    let mut skipped: Vec<&Step> = Vec::new();
    let flush = |s: &mut String, skipped: &mut Vec<&Step>| {
        for step in skipped.drain(..) {
            let Step::MdcSkipped {
                mdc,
                name,
                source,
                failed,
                ..
            } = step
            else {
                continue;
            };
            // Workbook schemes list the atoms that failed, whatever joins them.
            let why = if failed.is_empty() {
                "its entry rule is false".to_string()
            } else if workbook {
                failed.join(" · ")
            } else {
                failed.join(" and ")
            };
            let _ = writeln!(s, "  not {mdc}{}{}: {why}", named(name), at(source));
        }
    };
    let because = |b: &[String]| {
        if b.is_empty() {
            String::new()
        } else if workbook {
            format!("\n        · {}", b.join("\n        · "))
        } else {
            format!("\n      because {}", b.join("\n      and "))
        }
    };
    for step in &e.steps {
        if let Step::MdcSkipped { .. } = step {
            skipped.push(step);
            continue;
        }
        flush(&mut s, &mut skipped);
        let _ = match step {
            Step::Invalid { field, message } => {
                writeln!(s, "  invalid: field `{field}`: {message}")
            }
            Step::MdcEntered {
                mdc,
                name,
                source,
                rule,
                because: b,
            } => writeln!(
                s,
                "  enter {mdc}{}{}: {}{}",
                named(name),
                at(source),
                shown(rule),
                because(b)
            ),
            Step::QyCheck {
                mdc,
                rule,
                matched,
                because: b,
            } => {
                writeln!(
                    s,
                    "    QY check of {mdc} {rule}: {}{}",
                    yes(*matched),
                    because(b)
                )
            }
            Step::Adrg {
                entry,
                adrg,
                name,
                source,
                rule,
                matched,
                because: b,
            } => {
                let id = if entry == adrg {
                    String::new()
                } else {
                    format!(" ({entry})")
                };
                writeln!(
                    s,
                    "    ADRG {adrg}{id}{}{} {}: {}{}",
                    named(name),
                    at(source),
                    shown(rule),
                    yes(*matched),
                    because(b)
                )
            }
            Step::Split {
                drg,
                name,
                source,
                condition,
                matched,
                because: b,
            } => {
                writeln!(
                    s,
                    "      DRG {drg}{}{} if {}: {}{}",
                    named(name),
                    at(source),
                    shown(condition),
                    yes(*matched),
                    because(b)
                )
            }
            Step::Fallback { entry, result } => {
                writeln!(s, "      no split holds: {entry} falls back to {result}")
            }
            Step::NoSplit { entry } => writeln!(
                s,
                "      no split holds and {entry} has no fallback: next ADRG"
            ),
            Step::FallThrough { mdc } => writeln!(s, "  no ADRG of {mdc} matched: next MDC"),
            Step::NoMatch { result } => writeln!(s, "  no MDC gave a result: {result}"),
            Step::Retry { index, procedure } => {
                writeln!(
                    s,
                    "  retry with secondary procedure #{index} {procedure} alone"
                )
            }
            Step::MdcSkipped { .. } => Ok(()),
        };
    }
    flush(&mut s, &mut skipped);
    if let Some(why) = &e.why {
        let _ = writeln!(s, "why      {why}");
    }
    s
}

/// A rule text for display: an empty (always true) rule says so.
fn shown(rule: &str) -> &str {
    if rule.is_empty() {
        "(empty rule)"
    } else {
        rule
    }
}

/// ` 颅内出血性疾患手术` for a step with a name, else nothing.
fn named(name: &str) -> String {
    if name.is_empty() {
        String::new()
    } else {
        format!(" {name}")
    }
}

/// ` [ADRG sheet, row 12]` for a step with a source location, else nothing.
fn at(source: &str) -> String {
    if source.is_empty() {
        String::new()
    } else {
        format!(" [{source}]")
    }
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}
