//! The declarative DRG scheme: what a scheme folder says, before any checking.
//!
//! A scheme folder holds `scheme.json` (dispatch, validation, MDCs, ADRG rule entries,
//! DRGs and code lists) and CSV tables (`mcc.csv`, `cc.csv`, `pdx_exclusion_table.csv`,
//! `or_procedures.csv`, optional names and code maps). [`Scheme::from_dir`] reads them;
//! [`crate::Grouper::compile`] checks and compiles the result.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::compile::ResultInfo;
use crate::error::SchemeError;
use crate::folder::Folder;
use crate::rule::Rule;

/// The id of the built-in list of operating-room procedures (`or_procedures.csv`).
pub const OR_PROCEDURES: &str = "OR_PROCEDURES";

/// A whole DRG scheme as data.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Scheme {
    /// Name, version and content hash.
    pub info: SchemeInfo,
    /// The rule set of `scheme.json`.
    pub rules: SchemeJson,
    /// `mcc.csv`: MCC secondary diagnoses and their exclusion table.
    pub mcc: Vec<CodeTable>,
    /// `cc.csv`: CC secondary diagnoses and their exclusion table.
    pub cc: Vec<CodeTable>,
    /// `pdx_exclusion_table.csv`: principal diagnosis → exclusion table.
    pub pdx_exclusion: Vec<CodeTable>,
    /// `or_procedures.csv`: the list `OR_PROCEDURES`.
    pub or_procedures: Vec<String>,
    /// `dx_names.csv` (optional).
    pub dx_names: Vec<(String, String)>,
    /// `proc_names.csv` (optional).
    pub proc_names: Vec<(String, String)>,
    /// `dx_code_map.csv` (optional): clinical → insurance diagnosis codes.
    pub dx_code_map: Vec<(String, String)>,
    /// `proc_code_map.csv` (optional): clinical → insurance procedure codes.
    pub proc_code_map: Vec<(String, String)>,
    /// Where the scheme was read from; decides the MCC/CC exclusion model.
    #[serde(default)]
    pub format: SchemeFormat,
    /// Workbook schemes: the members (principal diagnoses) of each exclusion table
    /// (`排除表` sheet plus errata); `code` is the member, `table` the table id.
    #[serde(default)]
    pub exclusion_members: Vec<CodeTable>,
    /// Result codes whose output columns the scheme states itself (workbook schemes:
    /// each DRG row's MDC and ADRG), instead of the folder format's result mapping.
    #[serde(default)]
    pub result_columns: Vec<ResultInfo>,
    /// The output columns of an invalid case, when not the folder format's
    /// `invalid,0000,00,0000`.
    #[serde(default)]
    pub invalid_result: Option<ResultInfo>,
}

/// The source format of a scheme.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SchemeFormat {
    /// A scheme folder (`docs/scheme-format.md`): a complication is excluded when its
    /// exclusion table is the principal diagnosis' table.
    #[default]
    Folder,
    /// NHSA's official workbook (`.xlsx`): a complication is excluded when the principal
    /// diagnosis is a member of the complication's exclusion table.
    Workbook,
}

/// Who a scheme is: every result carries this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemeInfo {
    /// `scheme.json → scheme`, e.g. `chs_drg_11`.
    pub name: String,
    /// `scheme.json → version`, else the first 12 characters of `source.commit`,
    /// else `unversioned`.
    pub version: String,
    /// SHA-256 (hex) over the files the scheme was read from, in a fixed order.
    pub content_hash: String,
}

impl SchemeInfo {
    /// A short label `name@version#hash8` written beside every result.
    pub fn label(&self) -> String {
        format!(
            "{}@{}#{}",
            self.name,
            self.version,
            &self.content_hash[..8.min(self.content_hash.len())]
        )
    }
}

/// A row of `mcc.csv`, `cc.csv` or `pdx_exclusion_table.csv`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeTable {
    /// The diagnosis code.
    pub code: String,
    /// The exclusion table id.
    pub table: String,
    /// 1-based line in the source file (0 when built in code).
    pub line: u64,
}

/// The contents of `scheme.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SchemeJson {
    /// Scheme name.
    pub scheme: String,
    /// Optional version string.
    #[serde(default)]
    pub version: Option<String>,
    /// Where the scheme came from (free form).
    #[serde(default)]
    pub source: Option<serde_json::Value>,
    /// MDC order, no-match result and retry.
    pub dispatch: Dispatch,
    /// Input validation variant.
    pub validation: Validation,
    /// MDCs (any order; `dispatch.mdc_order` decides).
    pub mdcs: Vec<Mdc>,
    /// ADRG rule entries.
    pub adrgs: Vec<AdrgEntry>,
    /// DRGs with their split conditions.
    pub drgs: Vec<Drg>,
    /// Code lists by id (an id defined twice is an error, not "the last wins").
    #[serde(deserialize_with = "unique_lists")]
    pub lists: BTreeMap<String, CodeList>,
}

/// Reads `lists`, rejecting an id that appears twice (serde's maps keep the last).
fn unique_lists<'de, D>(de: D) -> Result<BTreeMap<String, CodeList>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct Lists;
    impl<'de> serde::de::Visitor<'de> for Lists {
        type Value = BTreeMap<String, CodeList>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object of code lists by id")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut lists = BTreeMap::new();
            while let Some(id) = map.next_key::<String>()? {
                if lists.contains_key(&id) {
                    return Err(serde::de::Error::custom(format!(
                        "list id `{id}` is defined twice"
                    )));
                }
                let list = map.next_value()?;
                lists.insert(id, list);
            }
            Ok(lists)
        }
    }
    de.deserialize_map(Lists)
}

/// `scheme.json → dispatch`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Dispatch {
    /// MDC codes in evaluation order.
    pub mdc_order: Vec<String>,
    /// The result when no MDC gives one (`0000`).
    pub no_match_result: String,
    /// Optional second pass when nothing matched.
    #[serde(default)]
    pub retry_on_no_match: Option<Retry>,
}

/// `dispatch.retry_on_no_match`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Retry {
    /// Only `each_secondary_procedure_alone` is defined.
    pub kind: String,
    /// The result that triggers the retry (default `0000`).
    #[serde(default = "default_when_result")]
    pub when_result: String,
    /// Minimum number of procedures for a retry (default 2).
    #[serde(default = "default_min_procedures")]
    pub min_procedures: u32,
}

fn default_when_result() -> String {
    "0000".into()
}

fn default_min_procedures() -> u32 {
    2
}

/// `scheme.json → validation`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Validation {
    /// Only `standard` is defined.
    pub variant: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
}

/// `scheme.json → mdcs[]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Mdc {
    /// MDC code, e.g. `MDCB`.
    pub mdc: String,
    /// Its name (informational, for explanations; workbook schemes: `MDC名称`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Informational; `dispatch.mdc_order` is authoritative.
    #[serde(default)]
    pub eval_order: Option<u32>,
    /// Entry rule.
    pub entry_rule: Rule,
    /// Optional QY (歧义) check.
    #[serde(default)]
    pub qy_check: Option<QyCheck>,
    /// Rule entries in order.
    pub adrgs: Vec<String>,
    /// Informational: entries tried after the QY check.
    #[serde(default)]
    pub adrgs_after_qy_check: Vec<String>,
    /// Trace text.
    #[serde(default)]
    pub source_label: String,
    /// The entry rule as its source wrote it (workbook schemes), for explanations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_text: Option<String>,
}

/// `mdcs[].qy_check`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QyCheck {
    /// A disabled check is never evaluated.
    pub enabled: bool,
    /// Rule that makes the case ambiguous.
    pub rule: Rule,
    /// The result code, e.g. `BQY`.
    pub result: String,
    /// Number of entries tried before the check.
    pub after_adrg_count: u32,
}

/// `scheme.json → adrgs[]`: one ADRG rule entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdrgEntry {
    /// Rule-entry id (e.g. `AH1_1`).
    pub adrg: String,
    /// The ADRG's name (informational, for explanations; workbook schemes: `ADRG名称`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// ADRG code (e.g. `AH1`); defaults to the entry id.
    #[serde(default)]
    pub adrg_code: Option<String>,
    /// The MDC the entry belongs to.
    pub mdc: String,
    /// Informational order.
    #[serde(default)]
    pub order_in_mdc: Option<u32>,
    /// Informational.
    #[serde(default)]
    pub after_qy_check: bool,
    /// Entry rule.
    pub rule: Rule,
    /// DRG codes tested, in order.
    pub drgs: Vec<String>,
    /// Result when the rule holds but no DRG test does; empty = entry does not match.
    #[serde(default)]
    pub fallback_result: String,
    /// Informational.
    #[serde(default)]
    pub fallback_reachable: Option<bool>,
    /// Trace text.
    #[serde(default)]
    pub source_label: String,
    /// The rule as its source wrote it (workbook schemes), for explanations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_text: Option<String>,
}

impl AdrgEntry {
    /// The ADRG code.
    pub fn code(&self) -> &str {
        self.adrg_code.as_deref().unwrap_or(&self.adrg)
    }
}

/// `scheme.json → drgs[]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Drg {
    /// DRG code.
    pub drg: String,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// ADRG code.
    #[serde(default)]
    pub adrg: String,
    /// MDC code.
    #[serde(default)]
    pub mdc: String,
    /// Informational.
    #[serde(default)]
    pub severity_digit: Option<String>,
    /// Informational.
    #[serde(default)]
    pub split_kind: Option<String>,
    /// The split condition.
    pub condition: Rule,
    /// Entries testing this DRG (informational).
    #[serde(default)]
    pub adrg_entries: Vec<String>,
    /// Informational: false when an earlier test of the entry shadows this one.
    #[serde(default)]
    pub statically_reachable: Option<bool>,
    /// Where the condition comes from (workbook schemes: sheet and row).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source_label: String,
    /// The condition as its source wrote it (workbook schemes), for explanations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_text: Option<String>,
}

/// `scheme.json → lists[id]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CodeList {
    /// The codes, in source order (duplicates allowed).
    pub codes: Vec<String>,
    /// Group labels parallel to `codes` (grouped procedure lists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proc_group: Option<Vec<String>>,
    /// Trauma sites parallel to `codes` (the MDCZ table).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trauma_site: Option<Vec<String>>,
}

/// The files a scheme folder is read from, in hashing order, and whether each is required.
const FILES: &[(&str, bool)] = &[
    ("scheme.json", true),
    ("mcc.csv", true),
    ("cc.csv", true),
    ("pdx_exclusion_table.csv", true),
    ("or_procedures.csv", true),
    ("dx_names.csv", false),
    ("proc_names.csv", false),
    ("dx_code_map.csv", false),
    ("proc_code_map.csv", false),
];

impl Scheme {
    /// Reads a scheme folder. Errors name the file, line and field at fault.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Scheme, SchemeError> {
        let dir = dir.as_ref();
        let folder =
            Folder::read(dir, FILES).map_err(|(path, source)| SchemeError::Io { path, source })?;
        let content_hash = folder.hash.clone();
        let file = |name: &str| folder.get(name);
        let path = |name: &str| dir.join(name);

        let json = file("scheme.json").unwrap_or_default();
        let de = &mut serde_json::Deserializer::from_slice(json);
        let rules: SchemeJson =
            serde_path_to_error::deserialize(de).map_err(|e| SchemeError::Json {
                path: path("scheme.json"),
                at: e.path().to_string(),
                message: e.inner().to_string(),
            })?;

        let table = |name: &str, cols: [&str; 2]| -> Result<Vec<CodeTable>, SchemeError> {
            read_csv(&path(name), file(name).unwrap_or_default(), &cols)?
                .into_iter()
                .map(|(line, mut r)| {
                    let table = std::mem::take(&mut r[1]);
                    let code = std::mem::take(&mut r[0]);
                    Ok(CodeTable { code, table, line })
                })
                .collect()
        };
        let pairs = |name: &str, cols: [&str; 2]| -> Result<Vec<(String, String)>, SchemeError> {
            match file(name) {
                None => Ok(Vec::new()),
                Some(bytes) => Ok(read_csv(&path(name), bytes, &cols)?
                    .into_iter()
                    .map(|(_, mut r)| (std::mem::take(&mut r[0]), std::mem::take(&mut r[1])))
                    .collect()),
            }
        };
        let or_procedures = read_csv(
            &path("or_procedures.csv"),
            file("or_procedures.csv").unwrap_or_default(),
            &["code"],
        )?
        .into_iter()
        .map(|(_, mut r)| std::mem::take(&mut r[0]))
        .collect();

        let version = rules
            .version
            .clone()
            .or_else(|| {
                rules
                    .source
                    .as_ref()
                    .and_then(|s| s.get("commit"))
                    .and_then(|c| c.as_str())
                    .map(|c| c.chars().take(12).collect())
            })
            .unwrap_or_else(|| "unversioned".into());
        Ok(Scheme {
            info: SchemeInfo {
                name: rules.scheme.clone(),
                version,
                content_hash,
            },
            mcc: table("mcc.csv", ["code", "exclusion_table"])?,
            cc: table("cc.csv", ["code", "exclusion_table"])?,
            pdx_exclusion: table(
                "pdx_exclusion_table.csv",
                ["principal_dx", "exclusion_table"],
            )?,
            or_procedures,
            dx_names: pairs("dx_names.csv", ["code", "name"])?,
            proc_names: pairs("proc_names.csv", ["code", "name"])?,
            dx_code_map: pairs("dx_code_map.csv", ["from_code", "to_code"])?,
            proc_code_map: pairs("proc_code_map.csv", ["from_code", "to_code"])?,
            rules,
            format: SchemeFormat::Folder,
            exclusion_members: Vec::new(),
            result_columns: Vec::new(),
            invalid_result: None,
        })
    }
}

/// Reads the named columns of a CSV file; returns (line, values) per data row.
fn read_csv(
    path: &Path,
    bytes: &[u8],
    columns: &[&str],
) -> Result<Vec<(u64, Vec<String>)>, SchemeError> {
    let err = |line: u64, field: &str, message: String| SchemeError::Csv {
        path: PathBuf::from(path),
        line,
        field: field.to_string(),
        message,
    };
    let mut reader = csv::ReaderBuilder::new().from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|e| err(1, "", e.to_string()))?
        .clone();
    let index: Vec<usize> = columns
        .iter()
        .map(|c| {
            headers
                .iter()
                .position(|h| h.trim_start_matches('\u{feff}') == *c)
                .ok_or_else(|| err(1, c, format!("missing column `{c}` in the header")))
        })
        .collect::<Result<_, _>>()?;
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            err(line, "", e.to_string())
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let mut values = Vec::with_capacity(columns.len());
        for (&i, c) in index.iter().zip(columns) {
            let v = record.get(i).unwrap_or("").trim();
            if v.is_empty() && (c.ends_with("code") || *c == "principal_dx") {
                return Err(err(line, c, "empty code".into()));
            }
            values.push(v.to_string());
        }
        rows.push((line, values));
    }
    Ok(rows)
}
