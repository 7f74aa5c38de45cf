//! A case as JSON, read into the text fields of the case-file columns, so that the
//! library's own field parsers (`drgdip_io::parse_case`, `parse_dip_case`, the price
//! pipeline) check it exactly as they check a CSV row.

use serde::Deserialize;
use serde_json::Value;

use crate::ApiError;

/// The case columns, in the order of `drgdip_io::dip::DIP_COLUMNS` (the DRG columns
/// are the first ten), then the columns pricing reads.
pub const CASE_FIELDS: [&str; 13] = [
    "case_id",
    "sex",
    "age",
    "age_days",
    "weight",
    "dept",
    "los",
    "discharge_way",
    "dx",
    "px",
    "icu_days",
    "vent_hours",
    "total_cost",
];

/// The columns pricing reads beyond the case columns, as the price pipeline names them.
pub const PRICE_FIELDS: [&str; 10] = [
    "hospital_id",
    "hospital_level",
    "insurance_type",
    "person_id",
    "admit_date",
    "discharge_date",
    "covered_cost",
    "day_surgery",
    "referral",
    "negotiated_drug_cost",
];

/// One case as a request gives it. Numbers may be JSON numbers or strings; codes a
/// list of strings (principal first) or one `|`/`,`-separated string. Unknown keys are
/// refused (a misspelt key would otherwise be silently dropped).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct CaseJson {
    pub case_id: Option<Value>,
    pub sex: Option<Value>,
    pub age: Option<Value>,
    pub age_days: Option<Value>,
    pub weight: Option<Value>,
    pub dept: Option<Value>,
    pub los: Option<Value>,
    pub discharge_way: Option<Value>,
    pub dx: Option<Value>,
    pub px: Option<Value>,
    pub icu_days: Option<Value>,
    pub vent_hours: Option<Value>,
    pub total_cost: Option<Value>,
    pub hospital_id: Option<Value>,
    pub hospital_level: Option<Value>,
    pub insurance_type: Option<Value>,
    pub person_id: Option<Value>,
    pub admit_date: Option<Value>,
    pub discharge_date: Option<Value>,
    pub covered_cost: Option<Value>,
    pub day_surgery: Option<Value>,
    pub referral: Option<Value>,
    pub negotiated_drug_cost: Option<Value>,
}

/// A case as the text of its columns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseText {
    /// [`CASE_FIELDS`], codes joined with `|`.
    pub case: [String; 13],
    /// [`PRICE_FIELDS`].
    pub price: [String; 10],
    /// The diagnoses as written (for naming codes the scheme does not know).
    pub dx: Vec<String>,
    /// The procedures as written.
    pub px: Vec<String>,
}

/// Longest text accepted in one field (as the CSV reader's `MAX_FIELD`).
const MAX_FIELD: usize = drgdip_io::fields::MAX_FIELD;

fn scalar(v: &Option<Value>, field: &str, prefix: &str) -> Result<String, ApiError> {
    let text = match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => {
            return Err(ApiError::bad(
                format!("`{prefix}{field}` must be a string or a number"),
                format!("{prefix}{field}"),
            ));
        }
    };
    if text.len() > MAX_FIELD {
        return Err(ApiError::bad(
            format!("`{prefix}{field}` is longer than {MAX_FIELD} bytes"),
            format!("{prefix}{field}"),
        ));
    }
    Ok(text)
}

fn codes(v: &Option<Value>, field: &str, prefix: &str) -> Result<Vec<String>, ApiError> {
    let name = format!("{prefix}{field}");
    let list: Vec<String> = match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => s
            .split(['|', ','])
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect(),
        Some(Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let Value::String(s) = item else {
                    return Err(ApiError::bad(
                        format!("`{name}[{i}]` must be a code (a string)"),
                        format!("{name}[{i}]"),
                    ));
                };
                if s.contains(['|', ',', '"', '\n', '\r']) {
                    return Err(ApiError::bad(
                        format!("`{name}[{i}]` is not one code: it holds a separator"),
                        format!("{name}[{i}]"),
                    ));
                }
                out.push(s.trim().to_string());
            }
            out
        }
        Some(_) => {
            return Err(ApiError::bad(
                format!("`{name}` must be a list of codes or a `|`-separated string"),
                name,
            ));
        }
    };
    if list.len() > drgdip_io::fields::MAX_CODES {
        return Err(ApiError::bad(
            format!(
                "`{name}` has {} codes; at most {} are accepted",
                list.len(),
                drgdip_io::fields::MAX_CODES
            ),
            name,
        ));
    }
    Ok(list)
}

impl CaseJson {
    /// The case as column text; `default_id` when it has no `case_id`. `prefix` (e.g.
    /// `cases[3].`) starts every field name in errors.
    pub fn to_text(&self, default_id: &str, prefix: &str) -> Result<CaseText, ApiError> {
        let s = |v: &Option<Value>, f: &str| scalar(v, f, prefix);
        let dx = codes(&self.dx, "dx", prefix)?;
        let px = codes(&self.px, "px", prefix)?;
        let mut id = s(&self.case_id, "case_id")?;
        if id.is_empty() {
            id = default_id.to_string();
        }
        let case = [
            id.clone(),
            s(&self.sex, "sex")?,
            s(&self.age, "age")?,
            s(&self.age_days, "age_days")?,
            s(&self.weight, "weight")?,
            s(&self.dept, "dept")?,
            s(&self.los, "los")?,
            s(&self.discharge_way, "discharge_way")?,
            dx.join("|"),
            px.join("|"),
            s(&self.icu_days, "icu_days")?,
            s(&self.vent_hours, "vent_hours")?,
            s(&self.total_cost, "total_cost")?,
        ];
        let mut person = s(&self.person_id, "person_id")?;
        if person.is_empty() {
            person = id;
        }
        let mut covered = s(&self.covered_cost, "covered_cost")?;
        if covered.is_empty() {
            covered = case[12].clone();
        }
        let price = [
            s(&self.hospital_id, "hospital_id")?,
            s(&self.hospital_level, "hospital_level")?,
            s(&self.insurance_type, "insurance_type")?,
            person,
            s(&self.admit_date, "admit_date")?,
            s(&self.discharge_date, "discharge_date")?,
            covered,
            s(&self.day_surgery, "day_surgery")?,
            s(&self.referral, "referral")?,
            s(&self.negotiated_drug_cost, "negotiated_drug_cost")?,
        ];
        Ok(CaseText {
            case,
            price,
            dx,
            px,
        })
    }
}

/// The JSON name of a case-file column named in a library message.
pub fn json_field(column: &str) -> &str {
    match column {
        "diagnoses" => "dx",
        "procedures" => "px",
        other => other,
    }
}

/// Splits a library field message (`line 0, field `age`: …`) into its text without the
/// line and the field it names (as the JSON calls it, after `prefix`).
pub fn field_error(message: &str, prefix: &str) -> ApiError {
    let text = strip_line(message);
    let field = message
        .split_once("field `")
        .and_then(|(_, rest)| rest.split_once('`'))
        .map(|(f, _)| format!("{prefix}{}", json_field(f)));
    ApiError {
        status: axum::http::StatusCode::BAD_REQUEST,
        error: text.to_string(),
        field,
    }
}

/// A message without its leading `line N, ` / `line N: `: a JSON case has no line (the
/// grouping jobs see it as line 0, the price pipeline as a row of the file it is given).
pub fn strip_line(message: &str) -> &str {
    let Some(rest) = message.strip_prefix("line ") else {
        return message;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return message;
    }
    let after = &rest[digits..];
    after
        .strip_prefix(", ")
        .or_else(|| after.strip_prefix(": "))
        .unwrap_or(message)
}
