//! The service's work, as library functions over loaded data: group, explain, price a
//! case, and the single changes that move a case to another DRG with the payment
//! difference. Each case goes through the same library code as a row of a case file
//! (`GroupJob`/`DipGroupJob` rows, the price pipeline), so results are those of the CLI.

use drgdip_grouper::dip::DipCase;
use drgdip_grouper::{Case, CodeKind, Edit};
use drgdip_io::stream::{Out, Row};
use drgdip_io::{Cancel, DipGroupJob, GroupJob, Job, parse_case, parse_dip_case};
use drgdip_pipeline::{PriceConfig, SpillTo};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use crate::ApiError;
use crate::case::{CaseText, PRICE_FIELDS, field_error, strip_line};
use crate::state::{CatalogEntry, PolicyEntry, SchemeEntry};

/// One output row as a JSON object (column name → text).
pub type Record = Map<String, Value>;

/// The row of a case: DIP columns (the DRG job reads the first ten).
fn with_row<T>(text: &CaseText, n: usize, f: impl FnOnce(&Row<'_>) -> T) -> T {
    let mut fields: [Option<&[u8]>; 13] = [None; 13];
    for (slot, value) in fields.iter_mut().zip(&text.case) {
        *slot = Some(value.as_bytes());
    }
    let row = Row {
        line: 0,
        fields: &fields[..n],
        problem: None,
    };
    f(&row)
}

/// Reads the one record `out` holds as an object under `header`, messages without
/// their line (a JSON case has none).
fn record(header: &[String], out: Out) -> Record {
    let bytes = out.into_inner();
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(&bytes[..]);
    let mut rec = csv::StringRecord::new();
    let _ = rdr.read_record(&mut rec);
    header
        .iter()
        .zip(rec.iter())
        .map(|(k, v)| {
            let v = if k == "message" { strip_line(v) } else { v };
            (k.clone(), Value::String(v.to_string()))
        })
        .collect()
}

/// Checks a case's fields for DRG grouping; a bad field is a 400 naming it.
pub fn parse_drg(
    entry: &SchemeEntry,
    text: &CaseText,
    prefix: &str,
) -> Result<(Case, String), ApiError> {
    let mut case = Case::default();
    let mut warnings = String::new();
    with_row(text, 10, |row| {
        parse_case(&entry.grouper, false, row, &mut case, &mut warnings)
    })
    .map_err(|e| field_error(&e.0, prefix))?;
    Ok((case, warnings))
}

/// Checks a case's fields for DIP grouping; a bad field is a 400 naming it.
pub fn parse_dip(
    entry: &CatalogEntry,
    text: &CaseText,
    prefix: &str,
) -> Result<(DipCase, String), ApiError> {
    let mut case = DipCase::default();
    let mut warnings = String::new();
    with_row(text, 13, |row| {
        parse_dip_case(&entry.catalog, row, &mut case, &mut warnings)
    })
    .map_err(|e| field_error(&e.0, prefix))?;
    Ok((case, warnings))
}

/// Groups cases with a DRG scheme: per case the columns of `drgdip group`.
pub fn group_drg(entry: &SchemeEntry, texts: &[CaseText]) -> Vec<Record> {
    group_drg_cancellable(entry, texts, &Cancel::new()).unwrap_or_default()
}

/// Groups cases with the DIP catalogue: per case the columns of `drgdip dip group`.
pub fn group_dip(entry: &CatalogEntry, texts: &[CaseText]) -> Vec<Record> {
    group_dip_cancellable(entry, texts, &Cancel::new()).unwrap_or_default()
}

/// [`group_drg`] watching a cancel flag (checked per block of cases).
pub fn group_drg_cancellable(
    entry: &SchemeEntry,
    texts: &[CaseText],
    cancel: &Cancel,
) -> Result<Vec<Record>, Cancelled> {
    let job = GroupJob::with_principals(&entry.grouper, false, entry.principals.clone());
    run_job(&job, 10, texts, cancel)
}

/// [`group_dip`] watching a cancel flag (checked per block of cases).
pub fn group_dip_cancellable(
    entry: &CatalogEntry,
    texts: &[CaseText],
    cancel: &Cancel,
) -> Result<Vec<Record>, Cancelled> {
    run_job(&DipGroupJob::new(&entry.catalog), 13, texts, cancel)
}

/// Work stopped by its cancel flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled;

/// Cases between two looks at a cancel flag.
pub const CANCEL_BLOCK: usize = 256;

/// Runs a file job on cases of `fields` input fields: one record per case, the job's
/// columns by name. The cancel flag is checked before every block of
/// [`CANCEL_BLOCK`] cases.
fn run_job<J: Job>(
    job: &J,
    fields: usize,
    texts: &[CaseText],
    cancel: &Cancel,
) -> Result<Vec<Record>, Cancelled> {
    let header = job.header();
    let mut state = job.state();
    let mut records = Vec::with_capacity(texts.len());
    for block in texts.chunks(CANCEL_BLOCK) {
        if cancel.is_cancelled() {
            return Err(Cancelled);
        }
        records.extend(block.iter().map(|text| {
            let mut out = Out::with_capacity(256);
            with_row(text, fields, |row| job.row(&mut state, row, &mut out));
            record(&header, out)
        }));
    }
    Ok(records)
}

/// A code as the scheme knows it, for showing a case.
fn code_facts(entry: &SchemeEntry, written: &[String], kind: CodeKind) -> Vec<Value> {
    let g = &entry.grouper;
    written
        .iter()
        .map(|code| {
            let found = g.lookup(code, kind, false);
            json!({
                "code": code,
                "name": g.code_name(found.id, kind),
                "known": found.known,
            })
        })
        .collect()
}

/// The DRG explanation (exactly `drgdip explain --json`'s) with the case's warnings
/// and its codes with names.
pub fn explain_drg(entry: &SchemeEntry, text: &CaseText) -> Result<Value, ApiError> {
    let (case, warnings) = parse_drg(entry, text, "case.")?;
    let explanation = entry.grouper.explain(&case);
    Ok(json!({
        "explanation": explanation,
        "warnings": warnings,
        "dx": code_facts(entry, &text.dx, CodeKind::Diagnosis),
        "px": code_facts(entry, &text.px, CodeKind::Procedure),
    }))
}

/// The DIP explanation (exactly `drgdip explain --json`'s) with the case's warnings.
pub fn explain_dip(entry: &CatalogEntry, text: &CaseText) -> Result<Value, ApiError> {
    let (case, warnings) = parse_dip(entry, text, "case.")?;
    Ok(json!({
        "explanation": entry.catalog.explain(&case),
        "warnings": warnings,
    }))
}

/// Prices grouped cases (`groups[i]` is the grouping record of `texts[i]`, all of one
/// method) through the price pipeline: per case the columns of `drgdip price`. Each
/// case is priced as its own person (benefits do not accumulate across the request).
pub fn price(
    policy: &PolicyEntry,
    groups: &[Record],
    texts: &[&CaseText],
) -> Result<Vec<Record>, ApiError> {
    let Some(first) = groups.first() else {
        return Ok(Vec::new());
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<&str> = first.keys().map(String::as_str).collect();
    header.extend(PRICE_FIELDS);
    header.extend(["los", "total_cost"]);
    let csv_err = |e: csv::Error| ApiError::internal(format!("writing the price input: {e}"));
    w.write_record(&header).map_err(csv_err)?;
    for (i, (group, text)) in groups.iter().zip(texts).enumerate() {
        let mut row: Vec<String> = group
            .values()
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .collect();
        row.extend(text.price.iter().cloned());
        // One person per case: the benefit year of one case is not another's.
        row[first.len() + 3] = format!("{}#{i}", text.price[3]);
        row.push(text.case[6].clone());
        row.push(text.case[12].clone());
        w.write_record(&row).map_err(csv_err)?;
    }
    let input = w
        .into_inner()
        .map_err(|e| ApiError::internal(format!("writing the price input: {e}")))?;
    let mut output = Vec::new();
    let config = PriceConfig {
        threads: None,
        spill: SpillTo::Memory,
    };
    drgdip_pipeline::price(
        &policy.policy,
        &input[..],
        &mut output,
        &config,
        &drgdip_pipeline::no_progress,
    )
    .map_err(|e| ApiError::bad(e.to_string(), None::<String>))?;
    let mut rdr = csv::Reader::from_reader(&output[..]);
    let names: Vec<String> = rdr
        .headers()
        .map_err(|e| ApiError::internal(format!("reading the priced rows: {e}")))?
        .iter()
        .map(str::to_string)
        .collect();
    let mut out = Vec::with_capacity(groups.len());
    for (rec, text) in rdr.records().zip(texts) {
        let rec = rec.map_err(|e| ApiError::internal(format!("reading the priced rows: {e}")))?;
        let mut r: Record = names
            .iter()
            .zip(rec.iter())
            .map(|(k, v)| {
                let v = if k == "message" { strip_line(v) } else { v };
                (k.clone(), Value::String(v.to_string()))
            })
            .collect();
        // Back to the caller's own person id.
        r.insert("person_id".into(), Value::String(text.price[3].clone()));
        out.push(r);
    }
    Ok(out)
}

/// A priced row's rejection as a 400 naming the field (`None` when it was priced).
pub fn rejection(priced: &Record, prefix: &str) -> Option<ApiError> {
    (priced.get("status").and_then(Value::as_str) == Some("rejected")).then(|| {
        field_error(
            priced
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("rejected"),
            prefix,
        )
    })
}

/// Every single drop or promotion of a code that moves the case to another DRG, with
/// the payment before and after under the policy when one is loaded and the case has
/// what pricing needs (else `payment_error` says what is missing).
pub fn changes(
    entry: &SchemeEntry,
    policy: Option<&PolicyEntry>,
    text: &CaseText,
) -> Result<Value, ApiError> {
    let (case, _) = parse_drg(entry, text, "case.")?;
    let g = &entry.grouper;
    let original = group_drg(entry, std::slice::from_ref(text))
        .pop()
        .unwrap_or_default();
    let found = g.single_changes(&case);
    let mut list: Vec<Value> = Vec::with_capacity(found.len());
    let mut groups = vec![original.clone()];
    for (k, c) in found.iter().enumerate() {
        let (index, written) = match c.edit {
            Edit::DropDiagnosis { index } | Edit::PromoteDiagnosis { index } => {
                (index, text.dx.get(index))
            }
            Edit::DropProcedure { index } | Edit::PromoteProcedure { index } => {
                (index, text.px.get(index))
            }
        };
        let code = if c.code.is_empty() {
            written.cloned().unwrap_or_default()
        } else {
            c.code.clone()
        };
        let mut v = serde_json::to_value(c).unwrap_or_default();
        if let Value::Object(m) = &mut v {
            m.insert("index".into(), json!(index));
            m.insert("code".into(), json!(code));
        }
        list.push(v);
        let mut r = original.clone();
        r.insert(
            "case_id".into(),
            json!(format!("{}~{}", text.case[0], k + 1)),
        );
        r.insert("status".into(), json!(c.status.as_str()));
        r.insert("mdc".into(), json!(c.result.mdc));
        r.insert("adrg".into(), json!(c.result.adrg));
        r.insert("drg".into(), json!(c.result.drg));
        r.insert("drg_name".into(), json!(c.result.name));
        groups.push(r);
    }
    let mut answer = json!({ "original": original, "changes": [] });
    let priced = match policy {
        None => Err("no policy is loaded".to_string()),
        Some(p) => {
            let texts: Vec<&CaseText> = groups.iter().map(|_| text).collect();
            match price(p, &groups, &texts) {
                Err(e) => Err(e.error),
                Ok(rows) => match rejection(&rows[0], "case.") {
                    Some(e) => Err(e.error),
                    None => Ok(rows),
                },
            }
        }
    };
    let money = |r: &Record| {
        r.get("payment_standard")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<Decimal>().ok())
    };
    match priced {
        Ok(rows) => {
            let base = money(&rows[0]);
            answer["original_payment"] = json!(base.map(|d| d.to_string()));
            for (v, row) in list.iter_mut().zip(&rows[1..]) {
                let pay = money(row);
                v["payment"] = json!(pay.map(|d| d.to_string()));
                v["difference"] = json!(match (pay, base) {
                    (Some(a), Some(b)) => Some((a - b).to_string()),
                    _ => None,
                });
            }
        }
        Err(e) => answer["payment_error"] = json!(e),
    }
    answer["changes"] = Value::Array(list);
    Ok(answer)
}
