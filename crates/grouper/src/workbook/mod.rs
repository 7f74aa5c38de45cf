//! NHSA's official CHS-DRG workbook (`.xlsx`, e.g. 《按病组（DRG）付费3.0版分组方案配置信息》)
//! read as a [`Scheme`].
//!
//! Sheets are found by name and columns by their header text (the header row is searched
//! among the first rows, so a title row or an extra column does not matter). Cells are
//! cleaned (`_x000D_` escapes, line breaks, runs of spaces, full-width and non-breaking
//! spaces fold to one space; trimmed). Each rule cell is parsed ([`lang`]) and translated
//! into the engine's declarative [`Rule`]s, so that [`crate::Grouper::compile`] builds
//! the same tables and hot path as for a scheme folder. Rows are ordered as the workbook
//! says, fallback rows last in their scope; see `docs/scheme-format.md`.

mod explain;
pub mod lang;
pub mod reference;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::path::Path;

use calamine::{Data, Reader, Xlsx};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::Status;
use crate::compile::ResultInfo;
use crate::error::SchemeError;
use crate::rule::Rule;
use crate::scheme::{
    AdrgEntry, CodeList, CodeTable, Dispatch, Drg, Mdc, Scheme, SchemeFormat, SchemeInfo,
    SchemeJson, Validation,
};

/// The name every workbook scheme carries (`chs_drg@3.0#hash8`).
pub const WORKBOOK_SCHEME_NAME: &str = "chs_drg";

/// The code of the global fallback row (MDC `0000`, ADRG `000`, DRG `0000`).
pub const NO_GROUP: &str = "0000";

/// How many leading rows of a sheet are searched for its header row.
const HEADER_SEARCH_ROWS: usize = 10;

/// `errata.json`: members the workbook's `排除表` sheet lacks.
#[derive(Debug, Clone, Deserialize)]
pub struct Errata {
    /// Members to add to exclusion tables.
    #[serde(default)]
    pub exclusion_additions: Vec<ErrataAddition>,
}

/// One member added to an exclusion table.
#[derive(Debug, Clone, Deserialize)]
pub struct ErrataAddition {
    /// The table id, e.g. `EX_103`.
    pub table: String,
    /// The diagnosis code.
    pub code: String,
    /// Its name (informational).
    #[serde(default)]
    pub name: String,
}

/// A cell as text, cleaned: see [`clean`].
fn cell_text(d: &Data) -> String {
    let raw = match d {
        Data::Empty => return String::new(),
        Data::String(s) => s.clone(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => b.to_string(),
        other => other.to_string(),
    };
    clean(&raw)
}

/// Cleans a cell: Excel's `_xHHHH_` escapes of control characters (`_x000D_`) become
/// spaces; every run of white space (line breaks, tabs, full-width U+3000 and
/// non-breaking spaces included) folds to one space; the result is trimmed.
pub fn clean(raw: &str) -> String {
    let mut unescaped = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find("_x") {
        unescaped.push_str(&rest[..i]);
        let tail = &rest[i..];
        let hex = tail.get(2..6);
        let is_control = tail.len() >= 7
            && tail.as_bytes()[6] == b'_'
            && hex.is_some_and(|h| u32::from_str_radix(h, 16).is_ok_and(|c| c < 0x20 || c == 0x7f));
        if is_control {
            unescaped.push(' ');
            rest = &tail[7..];
        } else {
            unescaped.push_str("_x");
            rest = &tail[2..];
        }
    }
    unescaped.push_str(rest);
    let mut out = String::with_capacity(unescaped.len());
    for word in unescaped.split(|c: char| c.is_whitespace() || c == '\u{feff}') {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// The column letters of a 0-based column index (`0` → `A`, `27` → `AB`), as Excel
/// names columns in messages (the DRG and DIP workbooks here, case workbooks in `drgdip-io`).
pub fn column_letters(mut col: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (col % 26) as u8);
        if col < 26 {
            break;
        }
        col = col / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).expect("ASCII")
}

/// A sheet's cleaned cells with absolute (1-based) row numbers.
struct Sheet {
    name: String,
    /// (Excel row number, cells by absolute 0-based column).
    rows: Vec<(u32, Vec<String>)>,
}

/// The data rows of a sheet, with the wanted columns picked by header text.
struct Table<'a> {
    sheet: &'a str,
    /// Per wanted column: absolute column index (`None` when an optional column is absent).
    cols: Vec<Option<usize>>,
    headers: Vec<&'static str>,
    /// Rows before the header row (titles).
    titles: Vec<String>,
    rows: Vec<(u32, Vec<String>)>,
}

impl Table<'_> {
    /// Where a cell is, for messages: `ADRG sheet, row 12, column C (ADRG规则)`.
    fn at(&self, row: u32, k: usize) -> String {
        match self.cols[k] {
            Some(c) => format!(
                "{} sheet, row {row}, column {} ({})",
                self.sheet,
                column_letters(c),
                self.headers[k]
            ),
            None => format!("{} sheet, row {row}", self.sheet),
        }
    }
}

fn read_sheets(bytes: &[u8], path: &Path) -> Result<BTreeMap<String, Sheet>, SchemeError> {
    let bad = |message: String| SchemeError::Workbook {
        path: path.to_path_buf(),
        message,
    };
    let mut wb: Xlsx<_> = Xlsx::new(Cursor::new(bytes))
        .map_err(|e| bad(format!("not a readable .xlsx workbook: {e}")))?;
    let mut sheets = BTreeMap::new();
    for name in wb.sheet_names() {
        let range = wb
            .worksheet_range(&name)
            .map_err(|e| bad(format!("sheet `{name}` cannot be read: {e}")))?;
        let (r0, c0) = range.start().unwrap_or((0, 0));
        let rows = range
            .rows()
            .enumerate()
            .map(|(i, cells)| {
                let mut v = vec![String::new(); c0 as usize];
                v.extend(cells.iter().map(cell_text));
                (r0 + i as u32 + 1, v)
            })
            .collect();
        sheets.insert(
            clean(&name),
            Sheet {
                name: clean(&name),
                rows,
            },
        );
    }
    Ok(sheets)
}

/// Finds a sheet's header row among its first rows and picks the columns by header
/// text. Problems (missing sheet or columns) are pushed; `None` when the table is unusable.
fn table<'a>(
    sheets: &'a BTreeMap<String, Sheet>,
    name: &'a str,
    required: &[&'static str],
    optional: &[&'static str],
    problems: &mut Vec<String>,
) -> Option<Table<'a>> {
    let Some(sheet) = sheets.get(name) else {
        problems.push(format!(
            "missing sheet `{name}` (the workbook has: {})",
            sheets.keys().cloned().collect::<Vec<_>>().join(", ")
        ));
        return None;
    };
    let found = |cells: &[String], h: &str| cells.iter().position(|c| c == h);
    let mut best: Option<(usize, usize)> = None; // (matches, row index)
    for (i, (_, cells)) in sheet.rows.iter().take(HEADER_SEARCH_ROWS).enumerate() {
        let n = required
            .iter()
            .filter(|h| found(cells, h).is_some())
            .count();
        if n > 0 && best.is_none_or(|(m, _)| n > m) {
            best = Some((n, i));
        }
    }
    let Some((matches, hi)) = best else {
        problems.push(format!(
            "{name} sheet: no header row with the columns {} among its first {HEADER_SEARCH_ROWS} rows",
            required
                .iter()
                .map(|h| format!("`{h}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        return None;
    };
    let (header_row, cells) = &sheet.rows[hi];
    if matches < required.len() {
        for h in required.iter().filter(|h| found(cells, h).is_none()) {
            problems.push(format!(
                "{name} sheet, row {header_row}: missing column `{h}` (the header row has: {})",
                cells
                    .iter()
                    .filter(|c| !c.is_empty())
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        return None;
    }
    let headers: Vec<&'static str> = required.iter().chain(optional).copied().collect();
    let cols: Vec<Option<usize>> = headers.iter().map(|h| found(cells, h)).collect();
    let titles = sheet.rows[..hi]
        .iter()
        .flat_map(|(_, c)| c.iter().filter(|x| !x.is_empty()).cloned())
        .collect();
    let rows = sheet.rows[hi + 1..]
        .iter()
        .map(|(r, c)| {
            let picked: Vec<String> = cols
                .iter()
                .map(|k| k.and_then(|k| c.get(k)).cloned().unwrap_or_default())
                .collect();
            (*r, picked)
        })
        .filter(|(_, c)| c.iter().any(|x| !x.is_empty()))
        .collect();
    Some(Table {
        sheet: &sheet.name,
        cols,
        headers,
        titles,
        rows,
    })
}

/// `3.0` from a title such as `按病组（DRG）付费3.0版分组方案配置信息`.
fn version_from_titles(titles: &[String]) -> Option<String> {
    for t in titles {
        let chars: Vec<char> = t.chars().collect();
        for (i, &c) in chars.iter().enumerate() {
            if c != '版' {
                continue;
            }
            let mut j = i;
            while j > 0 && (chars[j - 1].is_ascii_digit() || chars[j - 1] == '.') {
                j -= 1;
            }
            let v: String = chars[j..i].iter().collect();
            let v = v.trim_matches('.');
            if v.chars().any(|c| c.is_ascii_digit()) {
                return Some(v.to_string());
            }
        }
    }
    None
}

/// A rule row of the MDC, ADRG or DRG sheet, parsed.
struct RuleRow {
    row: u32,
    code: String,
    name: String,
    text: String,
    rule: Rule,
    order: i64,
    /// ADRG / DRG: the owning MDC; DRG: the owning ADRG in `parent2`.
    parent: String,
    parent2: String,
    label: String,
}

impl RuleRow {
    fn empty_rule(&self) -> bool {
        self.text.is_empty()
    }
}

/// The status a DRG code of the workbook gives: `…QY` ambiguous, `…000` and `0000`
/// ungroupable, anything else grouped.
pub fn workbook_status(drg: &str) -> Status {
    if drg.ends_with("QY") {
        Status::Ambiguous
    } else if drg.ends_with("000") || (!drg.is_empty() && drg.chars().all(|c| c == '0')) {
        Status::Ungroupable
    } else {
        Status::Grouped
    }
}

struct Build<'a> {
    problems: Vec<String>,
    sets: &'a BTreeSet<String>,
}

impl Build<'_> {
    /// Parses and translates the rule cells of a table (column index `rk`).
    #[allow(clippy::too_many_arguments)]
    fn rules(
        &mut self,
        t: &Table<'_>,
        code_k: usize,
        name_k: usize,
        rule_k: usize,
        order_k: usize,
        parent_k: Option<usize>,
        parent2_k: Option<usize>,
    ) -> Vec<RuleRow> {
        let mut out = Vec::new();
        for (row, c) in &t.rows {
            let code = c[code_k].clone();
            if code.is_empty() {
                self.problems
                    .push(format!("{}: empty code", t.at(*row, code_k)));
                continue;
            }
            let order = match c[order_k].parse::<i64>() {
                Ok(n) => n,
                Err(_) => {
                    self.problems.push(format!(
                        "{}: `{}` is not a whole number",
                        t.at(*row, order_k),
                        c[order_k]
                    ));
                    0
                }
            };
            let text = c[rule_k].clone();
            let rule = match lang::parse(&text) {
                Ok(expr) => {
                    let mut errors = Vec::new();
                    let rule = lang::translate(&expr, self.sets, &mut errors);
                    for e in errors {
                        self.problems.push(format!(
                            "{}, character {}: {} (rule `{text}`)",
                            t.at(*row, rule_k),
                            e.pos,
                            e.message
                        ));
                    }
                    rule
                }
                Err(e) => {
                    self.problems.push(format!(
                        "{}, character {}: {} (rule `{text}`)",
                        t.at(*row, rule_k),
                        e.pos,
                        e.message
                    ));
                    Rule::False {}
                }
            };
            let parent = parent_k.map(|k| c[k].clone()).unwrap_or_default();
            let parent2 = parent2_k.map(|k| c[k].clone()).unwrap_or_default();
            out.push(RuleRow {
                row: *row,
                code,
                name: c[name_k].clone(),
                text,
                rule,
                order,
                parent,
                parent2,
                label: format!("{} sheet, row {row}", t.sheet),
            });
        }
        out
    }
}

/// True when `path` names a workbook (`.xlsx`, any letter case).
pub fn is_workbook(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"))
}

impl Scheme {
    /// Reads a scheme from a path: an official workbook when it ends in `.xlsx` (with an
    /// optional errata file), else a scheme folder (no errata).
    pub fn read(path: impl AsRef<Path>, errata: Option<&Path>) -> Result<Scheme, SchemeError> {
        let path = path.as_ref();
        if is_workbook(path) {
            return Scheme::from_workbook(path, errata);
        }
        if let Some(e) = errata {
            return Err(SchemeError::Workbook {
                path: e.to_path_buf(),
                message: format!(
                    "an errata file applies to a workbook scheme (.xlsx) only, and {} is not one",
                    path.display()
                ),
            });
        }
        Scheme::from_dir(path)
    }

    /// Reads an official CHS-DRG workbook (`.xlsx`), with an optional errata file
    /// (`errata.json`: exclusion-table members the workbook lacks). The scheme's identity
    /// `chs_drg@<version>#hash8` covers the bytes of both files.
    pub fn from_workbook(
        path: impl AsRef<Path>,
        errata: Option<&Path>,
    ) -> Result<Scheme, SchemeError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| SchemeError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let errata_bytes = match errata {
            None => None,
            Some(p) => Some((
                p,
                std::fs::read(p).map_err(|source| SchemeError::Io {
                    path: p.to_path_buf(),
                    source,
                })?,
            )),
        };
        Scheme::from_workbook_bytes(
            path,
            &bytes,
            errata_bytes.as_ref().map(|(p, b)| (*p, b.as_slice())),
        )
    }

    /// [`Scheme::from_workbook`] on bytes already read; `path` names the workbook in
    /// messages, `errata` is (its path, its bytes).
    pub fn from_workbook_bytes(
        path: &Path,
        bytes: &[u8],
        errata: Option<(&Path, &[u8])>,
    ) -> Result<Scheme, SchemeError> {
        let mut hasher = Sha256::new();
        for (name, b) in [("workbook", Some(bytes)), ("errata", errata.map(|e| e.1))] {
            if let Some(b) = b {
                hasher.update(name.as_bytes());
                hasher.update((b.len() as u64).to_le_bytes());
                hasher.update(b);
            }
        }
        let content_hash: String = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let errata: Option<Errata> = match errata {
            None => None,
            Some((p, b)) => {
                let de = &mut serde_json::Deserializer::from_slice(b);
                Some(
                    serde_path_to_error::deserialize(de).map_err(|e| SchemeError::Json {
                        path: p.to_path_buf(),
                        at: e.path().to_string(),
                        message: e.inner().to_string(),
                    })?,
                )
            }
        };
        let sheets = read_sheets(bytes, path)?;
        let mut problems = Vec::new();
        let p = &mut problems;
        let mdc_t = table(
            &sheets,
            "MDC",
            &["MDC编码", "MDC名称", "MDC规则", "排序"],
            &[],
            p,
        );
        let adrg_t = table(
            &sheets,
            "ADRG",
            &[
                "ADRG编码",
                "ADRG名称",
                "ADRG规则",
                "所属MDC编码",
                "MDC内排序",
            ],
            &[],
            p,
        );
        let drg_t = table(
            &sheets,
            "DRG",
            &[
                "DRG编码",
                "DRG名称",
                "DRG规则",
                "所属ADRG编码",
                "所属MDC编码",
                "排序",
            ],
            &[],
            p,
        );
        let set_t = table(&sheets, "集合", &["集合编号", "ICD编码"], &["ICD名称"], p);
        let cc_t = table(
            &sheets,
            "CC",
            &["疾病编码", "排除表", "类型"],
            &["疾病名称"],
            p,
        );
        let ex_t = table(&sheets, "排除表", &["集合编号", "ICD编码"], &["ICD名称"], p);

        // Code sets.
        let mut lists: BTreeMap<String, CodeList> = BTreeMap::new();
        let mut dx_names: Vec<(String, String)> = Vec::new();
        let mut proc_names: Vec<(String, String)> = Vec::new();
        if let Some(t) = &set_t {
            for (row, c) in &t.rows {
                if c[0].is_empty() {
                    problems.push(format!("{}: empty set id", t.at(*row, 0)));
                    continue;
                }
                if c[1].is_empty() {
                    problems.push(format!("{}: empty code in set `{}`", t.at(*row, 1), c[0]));
                    continue;
                }
                lists
                    .entry(c[0].clone())
                    .or_default()
                    .codes
                    .push(c[1].clone());
                if !c[2].is_empty() {
                    let names = if c[0].starts_with("OP") {
                        &mut proc_names
                    } else {
                        &mut dx_names
                    };
                    names.push((c[1].clone(), c[2].clone()));
                }
            }
        }
        let set_ids: BTreeSet<String> = lists.keys().cloned().collect();

        // Complications and exclusion tables.
        let mut mcc = Vec::new();
        let mut cc = Vec::new();
        let mut members = Vec::new();
        let mut tables: BTreeSet<String> = BTreeSet::new();
        if let Some(t) = &ex_t {
            for (row, c) in &t.rows {
                if c[0].is_empty() || c[1].is_empty() {
                    let k = if c[0].is_empty() { 0 } else { 1 };
                    problems.push(format!("{}: empty cell", t.at(*row, k)));
                    continue;
                }
                tables.insert(c[0].clone());
                if !c[2].is_empty() {
                    dx_names.push((c[1].clone(), c[2].clone()));
                }
                members.push(CodeTable {
                    code: c[1].clone(),
                    table: c[0].clone(),
                    line: u64::from(*row),
                });
            }
        }
        if let (Some(e), Some(t)) = (&errata, &ex_t) {
            for (i, a) in e.exclusion_additions.iter().enumerate() {
                let (table, code) = (clean(&a.table), clean(&a.code));
                if !tables.contains(&table) {
                    problems.push(format!(
                        "errata: exclusion_additions[{i}]: table `{table}` is not in the {} sheet",
                        t.sheet
                    ));
                    continue;
                }
                if code.is_empty() {
                    problems.push(format!("errata: exclusion_additions[{i}]: empty code"));
                    continue;
                }
                if !a.name.is_empty() {
                    dx_names.push((code.clone(), clean(&a.name)));
                }
                members.push(CodeTable {
                    code,
                    table,
                    line: 0,
                });
            }
        }
        if let Some(t) = &cc_t {
            for (row, c) in &t.rows {
                if c[0].is_empty() {
                    problems.push(format!("{}: empty code", t.at(*row, 0)));
                    continue;
                }
                let table = c[1].clone();
                if table.is_empty() {
                    problems.push(format!(
                        "{}: empty exclusion table (write `无` for none)",
                        t.at(*row, 1)
                    ));
                    continue;
                }
                if table != "无" && ex_t.is_some() && !tables.contains(&table) {
                    problems.push(format!(
                        "{}: exclusion table `{table}` is not in the 排除表 sheet",
                        t.at(*row, 1)
                    ));
                }
                if !c[3].is_empty() {
                    dx_names.push((c[0].clone(), c[3].clone()));
                }
                let row_entry = CodeTable {
                    code: c[0].clone(),
                    table,
                    line: u64::from(*row),
                };
                match c[2].to_ascii_uppercase().as_str() {
                    "MCC" => mcc.push(row_entry),
                    "CC" => cc.push(row_entry),
                    other => problems.push(format!(
                        "{}: type `{other}` is neither MCC nor CC",
                        t.at(*row, 2)
                    )),
                }
            }
        }

        // Rules.
        let mut b = Build {
            problems: Vec::new(),
            sets: &set_ids,
        };
        let mdc_rows = mdc_t
            .as_ref()
            .map(|t| b.rules(t, 0, 1, 2, 3, None, None))
            .unwrap_or_default();
        let adrg_rows = adrg_t
            .as_ref()
            .map(|t| b.rules(t, 0, 1, 2, 4, Some(3), None))
            .unwrap_or_default();
        let drg_rows = drg_t
            .as_ref()
            .map(|t| b.rules(t, 0, 1, 2, 5, Some(4), Some(3)))
            .unwrap_or_default();
        problems.extend(b.problems);

        let version = mdc_t
            .as_ref()
            .and_then(|t| version_from_titles(&t.titles))
            .unwrap_or_else(|| "unversioned".into());
        let scheme = assemble(
            mdc_rows,
            adrg_rows,
            drg_rows,
            lists,
            &mut problems,
            SchemeInfo {
                name: WORKBOOK_SCHEME_NAME.into(),
                version,
                content_hash,
            },
        );
        if !problems.is_empty() {
            return Err(SchemeError::Invalid(problems));
        }
        let dedup = |v: &mut Vec<(String, String)>| {
            let mut seen = BTreeSet::new();
            v.retain(|(c, _)| seen.insert(crate::normalize_code(c)));
        };
        dedup(&mut dx_names);
        dedup(&mut proc_names);
        Ok(Scheme {
            mcc,
            cc,
            pdx_exclusion: Vec::new(),
            or_procedures: Vec::new(),
            dx_names,
            proc_names,
            dx_code_map: Vec::new(),
            proc_code_map: Vec::new(),
            format: SchemeFormat::Workbook,
            exclusion_members: members,
            ..scheme
        })
    }
}

/// Orders the rows (fallbacks last in their scope) and builds the scheme's rule set.
fn assemble(
    mut mdcs: Vec<RuleRow>,
    mut adrgs: Vec<RuleRow>,
    mut drgs: Vec<RuleRow>,
    lists: BTreeMap<String, CodeList>,
    problems: &mut Vec<String>,
    info: SchemeInfo,
) -> Scheme {
    let all_zero = |c: &str| !c.is_empty() && c.chars().all(|x| x == '0');
    // MDC: only the global row is a fallback (MDCA's empty rule is not).
    mdcs.sort_by_key(|r| (all_zero(&r.code), r.order, r.row));
    adrgs.sort_by_key(|r| {
        let fallback = r.empty_rule() || (r.code.chars().count() == 3 && r.code.ends_with("00"));
        (fallback, r.order, r.row)
    });
    drgs.sort_by_key(|r| (r.empty_rule() || r.code.ends_with("000"), r.order, r.row));

    let mut dup = |kind: &str, rows: &[RuleRow]| {
        let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
        for r in rows {
            if let Some(first) = seen.insert(&r.code, &r.label) {
                problems.push(format!(
                    "{}: duplicate {kind} code `{}` (also at {first})",
                    r.label, r.code
                ));
            }
        }
    };
    dup("MDC", &mdcs);
    dup("ADRG", &adrgs);
    dup("DRG", &drgs);

    let mdc_codes: BTreeSet<&str> = mdcs.iter().map(|m| m.code.as_str()).collect();
    let adrg_mdc: BTreeMap<&str, &str> = adrgs
        .iter()
        .map(|a| (a.code.as_str(), a.parent.as_str()))
        .collect();
    let mut entries_of: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for a in &adrgs {
        if !mdc_codes.contains(a.parent.as_str()) {
            problems.push(format!(
                "{}: 所属MDC编码 `{}` is not an MDC of the MDC sheet",
                a.label, a.parent
            ));
        }
        entries_of
            .entry(&a.parent)
            .or_default()
            .push(a.code.clone());
    }
    let mut drgs_of: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for d in &drgs {
        match adrg_mdc.get(d.parent2.as_str()) {
            None => problems.push(format!(
                "{}: 所属ADRG编码 `{}` is not an ADRG of the ADRG sheet",
                d.label, d.parent2
            )),
            Some(&m) if m != d.parent => problems.push(format!(
                "{}: 所属MDC编码 `{}` differs from its ADRG `{}`'s MDC `{m}`",
                d.label, d.parent, d.parent2
            )),
            Some(_) => {}
        }
        drgs_of.entry(&d.parent2).or_default().push(d.code.clone());
    }
    for a in &adrgs {
        if !drgs_of.contains_key(a.code.as_str()) {
            problems.push(format!(
                "{}: ADRG `{}` has no row in the DRG sheet",
                a.label, a.code
            ));
        }
    }
    for m in &mdcs {
        if !entries_of.contains_key(m.code.as_str()) {
            problems.push(format!(
                "{}: MDC `{}` has no row in the ADRG sheet",
                m.label, m.code
            ));
        }
    }

    let mut result_columns: Vec<ResultInfo> = drgs
        .iter()
        .map(|d| ResultInfo {
            code: d.code.clone(),
            status: workbook_status(&d.code),
            mdc: d.parent.clone(),
            adrg: d.parent2.clone(),
            drg: d.code.clone(),
            name: d.name.clone(),
        })
        .collect();
    if !drgs.iter().any(|d| d.code == NO_GROUP) {
        result_columns.push(ResultInfo {
            code: NO_GROUP.into(),
            status: Status::Ungroupable,
            mdc: NO_GROUP.into(),
            adrg: "000".into(),
            drg: NO_GROUP.into(),
            name: "未入组".into(),
        });
    }
    let rules = SchemeJson {
        scheme: info.name.clone(),
        version: Some(info.version.clone()),
        source: None,
        dispatch: Dispatch {
            mdc_order: mdcs.iter().map(|m| m.code.clone()).collect(),
            no_match_result: NO_GROUP.into(),
            retry_on_no_match: None,
        },
        validation: Validation {
            variant: "standard".into(),
            description: None,
        },
        adrgs: adrgs
            .iter()
            .map(|a| AdrgEntry {
                adrg: a.code.clone(),
                name: a.name.clone(),
                adrg_code: Some(a.code.clone()),
                mdc: a.parent.clone(),
                order_in_mdc: u32::try_from(a.order).ok(),
                after_qy_check: false,
                rule: a.rule.clone(),
                drgs: drgs_of.get(a.code.as_str()).cloned().unwrap_or_default(),
                fallback_result: String::new(),
                fallback_reachable: None,
                source_label: a.label.clone(),
                source_text: Some(a.text.clone()),
            })
            .collect(),
        mdcs: mdcs
            .iter()
            .map(|m| Mdc {
                mdc: m.code.clone(),
                name: m.name.clone(),
                eval_order: u32::try_from(m.order).ok(),
                entry_rule: m.rule.clone(),
                qy_check: None,
                adrgs: entries_of.get(m.code.as_str()).cloned().unwrap_or_default(),
                adrgs_after_qy_check: Vec::new(),
                source_label: m.label.clone(),
                source_text: Some(m.text.clone()),
            })
            .collect(),
        drgs: drgs
            .iter()
            .map(|d| Drg {
                drg: d.code.clone(),
                name: d.name.clone(),
                adrg: d.parent2.clone(),
                mdc: d.parent.clone(),
                severity_digit: None,
                split_kind: None,
                condition: d.rule.clone(),
                adrg_entries: vec![d.parent2.clone()],
                statically_reachable: None,
                source_label: d.label.clone(),
                source_text: Some(d.text.clone()),
            })
            .collect(),
        lists,
    };
    Scheme {
        info,
        rules,
        mcc: Vec::new(),
        cc: Vec::new(),
        pdx_exclusion: Vec::new(),
        or_procedures: Vec::new(),
        dx_names: Vec::new(),
        proc_names: Vec::new(),
        dx_code_map: Vec::new(),
        proc_code_map: Vec::new(),
        format: SchemeFormat::Workbook,
        exclusion_members: Vec::new(),
        result_columns,
        invalid_result: Some(ResultInfo {
            code: NO_GROUP.into(),
            status: Status::Invalid,
            mdc: NO_GROUP.into(),
            adrg: "000".into(),
            drg: NO_GROUP.into(),
            name: String::new(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning_folds_every_kind_of_space() {
        assert_eq!(clean("  ZYSS in_x000D_\nOP_A  "), "ZYSS in OP_A");
        assert_eq!(clean("a\u{3000}\u{a0}\r\n\t b"), "a b");
        assert_eq!(clean("OP_x1"), "OP_x1");
        assert_eq!(clean("_x000d_x"), "x");
    }

    #[test]
    fn column_letters_as_excel_names_them() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(27), "AB");
        assert_eq!(column_letters(701), "ZZ");
        assert_eq!(column_letters(702), "AAA");
    }

    #[test]
    fn version_from_the_title() {
        let t = vec!["按病组（DRG）付费3.0版分组方案配置信息".to_string()];
        assert_eq!(version_from_titles(&t).as_deref(), Some("3.0"));
        assert_eq!(version_from_titles(&["配置信息".to_string()]), None);
    }

    #[test]
    fn statuses() {
        assert_eq!(workbook_status("IQY"), Status::Ambiguous);
        assert_eq!(workbook_status("P000"), Status::Ungroupable);
        assert_eq!(workbook_status("0000"), Status::Ungroupable);
        assert_eq!(workbook_status("BR29"), Status::Grouped);
        assert_eq!(workbook_status("AA19"), Status::Grouped);
    }
}
