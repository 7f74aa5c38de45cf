//! Reading NHSA's national DIP 3.0 workbook (《按病种分值（DIP）付费3.0版分组方案》).
//!
//! [`NationalWorkbook::read`] opens the `.xlsx` as published and turns its ten sheets
//! into a plain data model: the 5,125 national types with their category (分类), number
//! (序号), layer and parsed cells, the 附表 of drug-resistant TB codes, the exclusion lists
//! with their notes, and the primary-care rows (基层病种). Nothing is converted by hand.
//!
//! Sheets are found by name; in every sheet data start at a fixed row, columns are fixed
//! by position and a row is data when column A is not empty (the title and header rows
//! are never read, so their wording does not matter). `一、先期分组` has a sub-header at
//! row 19 after which columns F and G hold the age-in-days and birth-weight conditions.
//!
//! Cells are parsed here, once, in the cell language of the workbook (see
//! `docs/dip-catalog.md`, "The national workbook"): diagnosis cells ([`DxCell`]:
//! `所有诊断`, categories, 亚目, ranges, `|` lists, a dagger `+`), procedure cells
//! ([`ProcCell`]: `a|b|c`, `a+b`, `a|b+c|d` with `+` binding loosest, empty =
//! conservative), the notes and the TB drug-resistance texts. Every fault of the workbook
//! is reported together, each naming sheet, row and column ([`WorkbookError`]); reading
//! never panics.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use calamine::{Data, Reader, Xlsx};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::spec::{DxSpec, Range, dx_key, px_key};

/// `一、先期分组` (pre-grouping).
pub const SHEET_PRE: &str = "一、先期分组";
/// `二、并项规则下的核心病种` (merge rules).
pub const SHEET_MERGE: &str = "二、并项规则下的核心病种";
/// `三、诊断辅助细分-烧伤类病种` (burns).
pub const SHEET_BURN: &str = "三、诊断辅助细分-烧伤类病种";
/// `三、诊断辅助细分-肿瘤类病种` (tumours).
pub const SHEET_TUMOR: &str = "三、诊断辅助细分-肿瘤类病种";
/// `三、诊断辅助细分-结核类病种` (tuberculosis).
pub const SHEET_TB: &str = "三、诊断辅助细分-结核类病种";
/// `附表—结核耐药诊断` (drug-resistant TB diagnoses).
pub const SHEET_TB_LIST: &str = "附表—结核耐药诊断";
/// `四、基础规则下的核心病种` (basic rule).
pub const SHEET_CORE: &str = "四、基础规则下的核心病种";
/// `五、不纳入分组的主要诊断` (principal diagnoses not admitted).
pub const SHEET_EXCL_DX: &str = "五、不纳入分组的主要诊断";
/// `五、不纳入分组的主要手术操作` (principal procedures not admitted).
pub const SHEET_EXCL_PX: &str = "五、不纳入分组的主要手术操作";
/// `六、基层病种` (primary-care types).
pub const SHEET_PRIMARY: &str = "六、基层病种";

/// The row of `一、先期分组` that holds the sub-header of the low-birth-weight rows.
pub const PRE_SUBHEADER_ROW: u32 = 19;

/// The sheets, with their first data row (1-based), in reading order.
pub const SHEETS: [(&str, u32); 10] = [
    (SHEET_PRE, 4),
    (SHEET_MERGE, 3),
    (SHEET_BURN, 4),
    (SHEET_TUMOR, 3),
    (SHEET_TB, 3),
    (SHEET_TB_LIST, 3),
    (SHEET_CORE, 3),
    (SHEET_EXCL_DX, 4),
    (SHEET_EXCL_PX, 3),
    (SHEET_PRIMARY, 3),
];

/// One fault of the workbook: sheet, 1-based row, column letter, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkbookProblem {
    /// Sheet name (empty when the fault is the file's).
    pub sheet: String,
    /// 1-based row (0 = the sheet as a whole).
    pub row: u32,
    /// Column letter (`A`…), empty when not one cell's.
    pub column: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for WorkbookProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.row, self.column.is_empty()) {
            (0, _) => write!(f, "sheet `{}`: {}", self.sheet, self.message),
            (r, true) => write!(f, "sheet `{}`, row {r}: {}", self.sheet, self.message),
            (r, false) => write!(
                f,
                "sheet `{}`, row {r}, column {}: {}",
                self.sheet, self.column, self.message
            ),
        }
    }
}

/// Why a workbook could not be read.
#[derive(Debug, thiserror::Error)]
pub enum WorkbookError {
    /// The file could not be read. Check the path and permissions.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not an `.xlsx` workbook calamine can open.
    #[error("{path}: not a readable .xlsx workbook: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// The reader's message.
        message: String,
    },
    /// The workbook has faults; each names sheet, row and column.
    #[error("{path}: the workbook has {} problem(s):\n  {}", .problems.len(), .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  "))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every fault found.
        problems: Vec<WorkbookProblem>,
    },
}

impl WorkbookError {
    /// The problems of an [`WorkbookError::Invalid`] error (empty otherwise).
    pub fn problems(&self) -> &[WorkbookProblem] {
        match self {
            WorkbookError::Invalid { problems, .. } => problems,
            _ => &[],
        }
    }
}

/// 分类: the part of the scheme a type belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Category {
    /// `XQ` 先期分组.
    Xq,
    /// `BX` 并项规则.
    Bx,
    /// `FZ` 诊断辅助细分.
    Fz,
    /// `JC` 基础规则.
    Jc,
}

impl Category {
    /// `XQ`, `BX`, `FZ` or `JC`.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Xq => "XQ",
            Category::Bx => "BX",
            Category::Fz => "FZ",
            Category::Jc => "JC",
        }
    }
}

/// The layer of a national type (the order of the specification).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NationalLayer {
    /// 先期分组.
    Pre,
    /// 并项规则.
    Merge,
    /// 诊断辅助细分: burns.
    Burn,
    /// 诊断辅助细分: tumours.
    Tumor,
    /// 诊断辅助细分: tuberculosis.
    Tb,
    /// 基础规则.
    Core,
}

impl NationalLayer {
    /// The output name: `pre`, `merge`, `burn`, `tumor`, `tb`, `core`.
    pub fn as_str(self) -> &'static str {
        match self {
            NationalLayer::Pre => "pre",
            NationalLayer::Merge => "merge",
            NationalLayer::Burn => "burn",
            NationalLayer::Tumor => "tumor",
            NationalLayer::Tb => "tb",
            NationalLayer::Core => "core",
        }
    }
}

/// A diagnosis cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DxCell {
    /// `所有诊断`: any diagnosis.
    All,
    /// Any of these specs (categories, 亚目, ranges; exact codes compare whole).
    Specs(Vec<DxSpec>),
}

impl DxCell {
    /// Whether a diagnosis key (see [`dx_key`]) is covered.
    pub fn matches(&self, key: &str) -> bool {
        match self {
            DxCell::All => true,
            DxCell::Specs(s) => s.iter().any(|s| s.matches(key)),
        }
    }
}

impl fmt::Display for DxCell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DxCell::All => f.write_str("所有诊断"),
            DxCell::Specs(s) => {
                let parts: Vec<String> = s.iter().map(ToString::to_string).collect();
                f.write_str(&parts.join("|"))
            }
        }
    }
}

/// A procedure cell: `+`-joined groups (all needed), each a `|` list of whole codes
/// (one needed). `+` binds loosest: `a|b+c|d` = (a or b) and (c or d). No group = the
/// cell is empty (for a principal-procedure cell: conservative treatment).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcCell {
    /// The groups; codes trimmed and upper-cased, duplicates inside a group removed.
    pub groups: Vec<Vec<String>>,
}

impl ProcCell {
    /// Parses a cell; empty text = no group.
    pub fn parse(text: &str) -> Result<ProcCell, String> {
        let t = text.trim();
        if t.is_empty() {
            return Ok(ProcCell::default());
        }
        let mut groups = Vec::new();
        for g in t.split('+') {
            let mut codes: Vec<String> = Vec::new();
            for c in g.split('|') {
                let c = px_key(c);
                if c.is_empty() {
                    return Err(format!(
                        "`{t}`: empty procedure code (write `a|b` for alternatives, `a+b` for codes needed together)"
                    ));
                }
                if let Some(bad) = c
                    .chars()
                    .find(|ch| !(ch.is_ascii_alphanumeric() || *ch == '.'))
                {
                    return Err(format!(
                        "`{t}`: character `{bad}` is not allowed in a procedure code"
                    ));
                }
                if !codes.contains(&c) {
                    codes.push(c);
                }
            }
            groups.push(codes);
        }
        Ok(ProcCell { groups })
    }

    /// No group: the empty cell.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
}

impl fmt::Display for ProcCell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.groups.iter().map(|g| g.join("|")).collect();
        f.write_str(&parts.join("+"))
    }
}

/// A TB drug-resistance rule (结核类病种, column H), with the marker code it names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Resistance {
    /// `主要诊断含耐药拓展码（附表）或其他诊断包含<marker>`.
    ListedOrMarker(String),
    /// `主要诊断无耐药拓展码，且其他诊断不含<marker>`.
    NeitherListedNorMarker(String),
    /// `其他诊断包含<marker>`.
    Marker(String),
    /// `其他诊断不含<marker>`.
    NoMarker(String),
}

impl Resistance {
    /// Parses one of the four texts; the marker is the code the text names.
    pub fn parse(text: &str) -> Result<Resistance, String> {
        let t = text.trim();
        let marker = |after: &str| -> Option<String> {
            let i = t.find(after)? + after.len();
            let code: String = t[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '.')
                .collect();
            (!code.is_empty()).then(|| px_key(&code))
        };
        let listed = t.contains("耐药拓展码");
        let r = if listed && t.contains("主要诊断含") {
            marker("包含").map(Resistance::ListedOrMarker)
        } else if listed && t.contains("主要诊断无") {
            marker("不含").map(Resistance::NeitherListedNorMarker)
        } else if t.contains("不含") {
            marker("不含").map(Resistance::NoMarker)
        } else if t.contains("包含") {
            marker("包含").map(Resistance::Marker)
        } else {
            None
        };
        r.ok_or_else(|| {
            format!(
                "`{t}` is not a drug-resistance rule (主要诊断含耐药拓展码…或其他诊断包含CODE, 主要诊断无耐药拓展码，且其他诊断不含CODE, 其他诊断包含CODE, 其他诊断不含CODE)"
            )
        })
    }

    /// The marker diagnosis code (e.g. `U84.300`).
    pub fn marker(&self) -> &str {
        match self {
            Resistance::ListedOrMarker(m)
            | Resistance::NeitherListedNorMarker(m)
            | Resistance::Marker(m)
            | Resistance::NoMarker(m) => m,
        }
    }

    /// The keyword used in a catalogue folder: `listed_or_marker`,
    /// `neither_listed_nor_marker`, `marker`, `no_marker`.
    pub fn keyword(&self) -> &'static str {
        match self {
            Resistance::ListedOrMarker(_) => "listed_or_marker",
            Resistance::NeitherListedNorMarker(_) => "neither_listed_nor_marker",
            Resistance::Marker(_) => "marker",
            Resistance::NoMarker(_) => "no_marker",
        }
    }
}

/// One national disease type (a data row of a rule sheet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NationalType {
    /// The sheet it is on.
    pub sheet: String,
    /// Its 1-based row.
    pub row: u32,
    /// 分类.
    pub category: Category,
    /// 序号 (unique over the five rule sheets).
    pub seq: u32,
    /// Layer (from the sheet).
    pub layer: NationalLayer,
    /// A readable label made from the row's name cells, joined with ` / `.
    pub name: String,
    /// The principal-diagnosis cell (burns: the degree codes).
    pub principal_dx: DxCell,
    /// Pre-grouping note `诊断中包含…，不限定为主要诊断`: the diagnosis cell may match
    /// any diagnosis, not only the principal.
    pub dx_anywhere: bool,
    /// The principal-procedure cell (pre-grouping: column F; tumours: none).
    pub principal_px: ProcCell,
    /// Pre-grouping note `不限定为主要手术操作`: every group of `principal_px` may be met
    /// anywhere in the procedure list.
    pub px_anywhere: bool,
    /// Related procedures (merge and burn rows), met by the other procedures.
    pub related: ProcCell,
    /// A secondary diagnosis must match (burn area, tumour range); empty = no condition.
    pub secondary_dx: Vec<DxSpec>,
    /// Tumour treatment codes: all present among all procedures.
    pub treatment: ProcCell,
    /// TB: 是否耐药 (`是` = true).
    pub resistant: Option<bool>,
    /// TB: the row's drug-resistance rule (`None` when the cell is empty).
    pub resistance: Option<Resistance>,
    /// Low birth weight: age in days (column F after the sub-header, e.g. `<29天`).
    pub age_days: Option<Range>,
    /// Low birth weight: birth weight in grams (column G, e.g. `出生体重1000-1499克`).
    pub birth_weight: Option<Range>,
    /// 备注 as written (pre-grouping).
    pub note: String,
}

impl NationalType {
    /// `分类-序号`, e.g. `BX-20`: the type's code.
    pub fn code(&self) -> String {
        format!("{}-{}", self.category.as_str(), self.seq)
    }
}

/// A code of a list sheet (附表, 不纳入分组的主要诊断).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedCode {
    /// 1-based row.
    pub row: u32,
    /// The whole code, trimmed and upper-cased.
    pub code: String,
    /// Its name.
    pub name: String,
}

/// What the note of `五、不纳入分组的主要手术操作` says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProcedureNote {
    /// `按保守治疗入组`: as principal, the case groups as conservative treatment.
    Conservative,
    /// `不可作为主要手术操作`: as principal, the same (no principal procedure).
    NotPrincipal,
    /// `<specs>作为主要诊断，可作为主要手术操作`: stays principal when the principal
    /// diagnosis matches the specs; otherwise conservative.
    PrincipalWhenDx(Vec<DxSpec>),
}

/// A row of `五、不纳入分组的主要手术操作`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExcludedProcedure {
    /// 1-based row.
    pub row: u32,
    /// The whole code, trimmed and upper-cased.
    pub code: String,
    /// Its name.
    pub name: String,
    /// The note.
    pub note: ProcedureNote,
    /// The note as written.
    pub note_text: String,
}

/// A row of `六、基层病种`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrimaryCareRow {
    /// 1-based row.
    pub row: u32,
    /// 序号.
    pub seq: u32,
    /// The principal diagnosis (a dagger `M47.0+` is read as the 亚目 `M47.0`).
    pub principal_dx: DxCell,
    /// The principal procedure; empty = conservative.
    pub principal_px: ProcCell,
    /// The names, joined with ` / `.
    pub name: String,
}

/// The national catalogue as the workbook states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NationalWorkbook {
    /// SHA-256 (hex) of the file's bytes.
    pub content_hash: String,
    /// The national types in sheet order: pre, merge, burns, tumours, TB, basic rule.
    pub types: Vec<NationalType>,
    /// `附表—结核耐药诊断`: drug-resistant TB codes (exact).
    pub tb_resistant: Vec<ListedCode>,
    /// `五、不纳入分组的主要诊断` (exact codes).
    pub excluded_dx: Vec<ListedCode>,
    /// `五、不纳入分组的主要手术操作`.
    pub excluded_px: Vec<ExcludedProcedure>,
    /// `六、基层病种`.
    pub primary_care: Vec<PrimaryCareRow>,
}

/// One sheet's cells, read as text.
struct Sheet<'p> {
    name: &'static str,
    range: calamine::Range<Data>,
    problems: &'p mut Vec<WorkbookProblem>,
}

impl Sheet<'_> {
    fn problem(&mut self, row: u32, col: usize, message: impl Into<String>) {
        self.problems.push(WorkbookProblem {
            sheet: self.name.into(),
            row,
            column: crate::workbook::column_letters(col),
            message: message.into(),
        });
    }

    fn last_row(&self) -> u32 {
        self.range.end().map_or(0, |(r, _)| r + 1)
    }

    /// The text of a cell (trimmed); numbers are an error in code cells.
    fn text(&mut self, row: u32, col: usize) -> String {
        match self.range.get_value((row - 1, col as u32)) {
            None | Some(Data::Empty) => String::new(),
            Some(Data::String(s)) => s.trim().to_string(),
            Some(Data::Int(i)) => i.to_string(),
            Some(Data::Float(f)) => {
                // A code typed as a number loses its trailing zeros: refuse it.
                let f = *f;
                self.problem(
                    row,
                    col,
                    format!("the number {f} stands where text is expected (format the cell as text so codes keep their zeros)"),
                );
                String::new()
            }
            Some(Data::Bool(b)) => {
                let b = *b;
                self.problem(
                    row,
                    col,
                    format!("the boolean {b} stands where text is expected"),
                );
                String::new()
            }
            Some(Data::Error(e)) => {
                let e = e.to_string();
                self.problem(row, col, format!("the cell holds the error {e}"));
                String::new()
            }
            Some(other) => {
                let o = other.to_string();
                self.problem(
                    row,
                    col,
                    format!("a date or duration ({o}) stands where text is expected"),
                );
                String::new()
            }
        }
    }

    /// Column A is not empty.
    fn is_data(&self, row: u32) -> bool {
        match self.range.get_value((row - 1, 0)) {
            None | Some(Data::Empty) => false,
            Some(Data::String(s)) => !s.trim().is_empty(),
            Some(_) => true,
        }
    }

    /// A whole-number cell (序号).
    fn number(&mut self, row: u32, col: usize) -> Option<u32> {
        let v = match self.range.get_value((row - 1, col as u32)) {
            Some(Data::Int(i)) => u32::try_from(*i).ok(),
            Some(Data::Float(f)) if f.fract() == 0.0 && *f >= 1.0 && *f <= u32::MAX as f64 => {
                Some(*f as u32)
            }
            Some(Data::String(s)) => s.trim().parse::<u32>().ok(),
            _ => None,
        };
        match v {
            Some(n) if n > 0 => Some(n),
            _ => {
                let shown = self
                    .range
                    .get_value((row - 1, col as u32))
                    .map_or(String::new(), |d| d.to_string());
                self.problem(
                    row,
                    col,
                    format!("序号 `{shown}` is not a whole number above 0"),
                );
                None
            }
        }
    }

    fn dx_cell(&mut self, row: u32, col: usize, required: bool) -> Option<DxCell> {
        let t = self.text(row, col);
        if t.is_empty() {
            if required {
                self.problem(row, col, "the diagnosis cell is empty");
                return None;
            }
            return Some(DxCell::Specs(Vec::new()));
        }
        match parse_dx_cell(&t) {
            Ok(c) => Some(c),
            Err(m) => {
                self.problem(row, col, m);
                None
            }
        }
    }

    fn proc_cell(&mut self, row: u32, col: usize) -> Option<ProcCell> {
        let t = self.text(row, col);
        match ProcCell::parse(&t) {
            Ok(c) => Some(c),
            Err(m) => {
                self.problem(row, col, m);
                None
            }
        }
    }

    /// A principal-procedure cell: one `|` group (or empty).
    fn principal_cell(&mut self, row: u32, col: usize) -> Option<ProcCell> {
        let c = self.proc_cell(row, col)?;
        if c.groups.len() > 1 {
            self.problem(
                row,
                col,
                format!(
                    "`{c}`: a principal-procedure cell lists alternatives `a|b|c`; `+` is only allowed with a `不限定为主要手术操作` note"
                ),
            );
            return None;
        }
        Some(c)
    }
}

/// Parses a diagnosis cell of a rule sheet: `所有诊断`, or `|`-joined categories,
/// 亚目, ranges of categories or whole codes (a trailing dagger `+` is dropped).
pub fn parse_dx_cell(text: &str) -> Result<DxCell, String> {
    let t = text.trim();
    if t == "所有诊断" {
        return Ok(DxCell::All);
    }
    let mut specs = Vec::new();
    for part in t.split('|') {
        let p = part.trim();
        let p = p.strip_suffix('+').unwrap_or(p);
        specs.push(parse_dx_spec(p)?);
    }
    specs.dedup();
    Ok(DxCell::Specs(specs))
}

/// One diagnosis spec: a range, a category, a 亚目, or a whole code (which may be a
/// dagger/asterisk pair such as `M47.001+G99.2*`).
fn parse_dx_spec(p: &str) -> Result<DxSpec, String> {
    let key = dx_key(p);
    if key.len() > 4 && !key.contains('-') {
        if key
            .chars()
            .any(|c| !(c.is_ascii_alphanumeric() || c == '+' || c == '*'))
        {
            return Err(format!("`{p}` is not a diagnosis code"));
        }
        return Ok(DxSpec::Exact(key));
    }
    DxSpec::parse(p)
}

/// A whole diagnosis code of a list sheet, checked.
fn whole_dx(text: &str) -> Result<String, String> {
    let key = dx_key(text);
    let ok = key.len() >= 3
        && key.as_bytes()[0].is_ascii_uppercase()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '*');
    if ok {
        Ok(text.trim().to_ascii_uppercase())
    } else {
        Err(format!("`{}` is not a diagnosis code", text.trim()))
    }
}

/// `<29天`, `≤28天`, `<=28天`.
fn parse_age_days(text: &str) -> Result<Range, String> {
    let t = text.trim();
    let body = t.strip_suffix('天').unwrap_or(t).trim();
    let num = |s: &str| s.trim().parse::<i64>().ok();
    let r = if let Some(n) = body.strip_prefix("<=").or(body.strip_prefix('≤')) {
        num(n).map(|n| Range { min: 0, max: n })
    } else if let Some(n) = body.strip_prefix('<').or(body.strip_prefix('＜')) {
        num(n).map(|n| Range { min: 0, max: n - 1 })
    } else {
        Range::parse(body).ok().flatten()
    };
    r.ok_or_else(|| format!("`{t}` is not an age in days such as `<29天`"))
}

/// `出生体重1000-1499克`, `1000-1499`, `<1000克`.
fn parse_weight(text: &str) -> Result<Range, String> {
    let t = text.trim();
    let body = t.strip_prefix("出生体重").unwrap_or(t);
    let body = body.strip_suffix('克').unwrap_or(body).trim();
    let r = if let Some(n) = body.strip_prefix('<').or(body.strip_prefix('＜')) {
        n.trim()
            .parse::<i64>()
            .ok()
            .map(|n| Range { min: 0, max: n - 1 })
    } else {
        Range::parse(body).ok().flatten()
    };
    r.ok_or_else(|| format!("`{t}` is not a birth-weight band such as `出生体重1000-1499克`"))
}

/// Parses the note of `五、不纳入分组的主要手术操作`.
pub fn parse_procedure_note(text: &str) -> Result<ProcedureNote, String> {
    let t = text.trim();
    if t == "按保守治疗入组" {
        return Ok(ProcedureNote::Conservative);
    }
    if t == "不可作为主要手术操作" {
        return Ok(ProcedureNote::NotPrincipal);
    }
    if let Some(i) = t.find("作为主要诊断") {
        let mut specs = Vec::new();
        for part in t[..i].split('|') {
            // The cell has a line break inside and a space after `I85`: trim each part.
            let p: String = part.chars().filter(|c| !c.is_whitespace()).collect();
            specs.push(DxSpec::parse(&p).map_err(|m| format!("in the note `{t}`: {m}"))?);
        }
        if t[i..].contains("可作为主要手术操作") && !specs.is_empty() {
            return Ok(ProcedureNote::PrincipalWhenDx(specs));
        }
    }
    Err(format!(
        "`{t}` is not a known note (按保守治疗入组, 不可作为主要手术操作, or `RANGES作为主要诊断，可作为主要手术操作`)"
    ))
}

fn join_names(parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" / ")
}

impl NationalWorkbook {
    /// Reads the workbook file.
    pub fn read(path: impl AsRef<Path>) -> Result<NationalWorkbook, WorkbookError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| WorkbookError::Io {
            path: path.into(),
            source,
        })?;
        Self::from_bytes(&bytes, path)
    }

    /// Reads a workbook from its bytes; `path` names it in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<NationalWorkbook, WorkbookError> {
        let mut book: Xlsx<_> =
            Xlsx::new(Cursor::new(bytes)).map_err(|e| WorkbookError::Format {
                path: path.into(),
                message: e.to_string(),
            })?;
        let mut problems = Vec::new();
        let names = book.sheet_names();
        let mut ranges: BTreeMap<&'static str, calamine::Range<Data>> = BTreeMap::new();
        for (name, _) in SHEETS {
            if !names.iter().any(|n| n == name) {
                problems.push(WorkbookProblem {
                    sheet: name.into(),
                    row: 0,
                    column: String::new(),
                    message: "the sheet is missing (sheets are found by name)".into(),
                });
                continue;
            }
            match book.worksheet_range(name) {
                Ok(r) => {
                    ranges.insert(name, r);
                }
                Err(e) => problems.push(WorkbookProblem {
                    sheet: name.into(),
                    row: 0,
                    column: String::new(),
                    message: format!("cannot read the sheet: {e}"),
                }),
            }
        }
        let mut wb = NationalWorkbook {
            content_hash: Sha256::digest(bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            types: Vec::new(),
            tb_resistant: Vec::new(),
            excluded_dx: Vec::new(),
            excluded_px: Vec::new(),
            primary_care: Vec::new(),
        };
        for (name, first) in SHEETS {
            let Some(range) = ranges.remove(name) else {
                continue;
            };
            let mut sheet = Sheet {
                name,
                range,
                problems: &mut problems,
            };
            let last = sheet.last_row();
            for row in first..=last {
                if !sheet.is_data(row) {
                    continue;
                }
                match name {
                    SHEET_TB_LIST => {
                        if let Some(c) = listed(&mut sheet, row) {
                            wb.tb_resistant.push(c);
                        }
                    }
                    SHEET_EXCL_DX => {
                        if let Some(c) = listed(&mut sheet, row) {
                            wb.excluded_dx.push(c);
                        }
                    }
                    SHEET_EXCL_PX => {
                        if let Some(c) = excluded_px(&mut sheet, row) {
                            wb.excluded_px.push(c);
                        }
                    }
                    SHEET_PRIMARY => {
                        if let Some(c) = primary(&mut sheet, row) {
                            wb.primary_care.push(c);
                        }
                    }
                    SHEET_PRE if row == PRE_SUBHEADER_ROW => {}
                    _ => {
                        if let Some(t) = rule_row(&mut sheet, row) {
                            wb.types.push(t);
                        }
                    }
                }
            }
        }
        // Uniqueness: 序号 over the rule sheets; codes of the lists.
        let mut seqs: BTreeMap<u32, (String, u32)> = BTreeMap::new();
        for t in &wb.types {
            if let Some((sheet, row)) = seqs.insert(t.seq, (t.sheet.clone(), t.row)) {
                problems.push(WorkbookProblem {
                    sheet: t.sheet.clone(),
                    row: t.row,
                    column: "B".into(),
                    message: format!(
                        "序号 {} is already used in sheet `{sheet}`, row {row}",
                        t.seq
                    ),
                });
            }
        }
        let mut seen: BTreeMap<u32, u32> = BTreeMap::new();
        for p in &wb.primary_care {
            if let Some(first) = seen.insert(p.seq, p.row) {
                problems.push(WorkbookProblem {
                    sheet: SHEET_PRIMARY.into(),
                    row: p.row,
                    column: "A".into(),
                    message: format!("序号 {} is already used on row {first}", p.seq),
                });
            }
        }
        for (sheet, list) in [
            (SHEET_TB_LIST, &wb.tb_resistant),
            (SHEET_EXCL_DX, &wb.excluded_dx),
        ] {
            let mut seen: BTreeMap<String, u32> = BTreeMap::new();
            for c in list {
                if let Some(first) = seen.insert(dx_key(&c.code), c.row) {
                    problems.push(WorkbookProblem {
                        sheet: sheet.into(),
                        row: c.row,
                        column: "A".into(),
                        message: format!("`{}` is already listed on row {first}", c.code),
                    });
                }
            }
        }
        let mut seen: BTreeMap<&str, (u32, &ProcedureNote)> = BTreeMap::new();
        for c in &wb.excluded_px {
            if let Some(&(first, note)) = seen.get(c.code.as_str()) {
                if *note != c.note {
                    problems.push(WorkbookProblem {
                        sheet: SHEET_EXCL_PX.into(),
                        row: c.row,
                        column: "A".into(),
                        message: format!(
                            "`{}` is already listed on row {first} with another note",
                            c.code
                        ),
                    });
                }
            } else {
                seen.insert(&c.code, (c.row, &c.note));
            }
        }
        if problems.is_empty() {
            Ok(wb)
        } else {
            Err(WorkbookError::Invalid {
                path: path.into(),
                problems,
            })
        }
    }

    /// The marker code of the TB drug-resistance rules (`U84.300` in DIP 3.0), if any
    /// row states one.
    pub fn tb_marker(&self) -> Option<&str> {
        self.types
            .iter()
            .find_map(|t| t.resistance.as_ref().map(Resistance::marker))
    }
}

fn listed(sheet: &mut Sheet<'_>, row: u32) -> Option<ListedCode> {
    let before = sheet.problems.len();
    let code = sheet.text(row, 0);
    let name = sheet.text(row, 1);
    if sheet.problems.len() != before {
        return None;
    }
    match whole_dx(&code) {
        Ok(code) => Some(ListedCode { row, code, name }),
        Err(m) => {
            sheet.problem(row, 0, m);
            None
        }
    }
}

fn excluded_px(sheet: &mut Sheet<'_>, row: u32) -> Option<ExcludedProcedure> {
    let code_text = sheet.text(row, 0);
    let name = sheet.text(row, 1);
    let note_text = sheet.text(row, 2);
    let code = match ProcCell::parse(&code_text) {
        Ok(c) if c.groups.len() == 1 && c.groups[0].len() == 1 => Some(c.groups[0][0].clone()),
        Ok(_) => {
            sheet.problem(
                row,
                0,
                format!("`{code_text}` is not one whole procedure code"),
            );
            None
        }
        Err(m) => {
            sheet.problem(row, 0, m);
            None
        }
    };
    let note = match parse_procedure_note(&note_text) {
        Ok(n) => Some(n),
        Err(m) => {
            sheet.problem(row, 2, m);
            None
        }
    };
    Some(ExcludedProcedure {
        row,
        code: code?,
        name,
        note: note?,
        note_text,
    })
}

fn primary(sheet: &mut Sheet<'_>, row: u32) -> Option<PrimaryCareRow> {
    let seq = sheet.number(row, 0);
    let dx = sheet.dx_cell(row, 1, true);
    let dx_name = sheet.text(row, 2);
    let px = sheet.principal_cell(row, 3);
    let px_name = sheet.text(row, 4);
    let px_label = if px.as_ref().is_some_and(ProcCell::is_empty) {
        "保守治疗"
    } else {
        &px_name
    };
    let name = join_names(&[&dx_name, px_label]);
    Some(PrimaryCareRow {
        row,
        seq: seq?,
        principal_dx: dx?,
        principal_px: px?,
        name,
    })
}

/// A data row of one of the five rule sheets.
fn rule_row(sheet: &mut Sheet<'_>, row: u32) -> Option<NationalType> {
    let name = sheet.name;
    let (layer, want) = match name {
        SHEET_PRE => (NationalLayer::Pre, Category::Xq),
        SHEET_MERGE => (NationalLayer::Merge, Category::Bx),
        SHEET_BURN => (NationalLayer::Burn, Category::Fz),
        SHEET_TUMOR => (NationalLayer::Tumor, Category::Fz),
        SHEET_TB => (NationalLayer::Tb, Category::Fz),
        _ => (NationalLayer::Core, Category::Jc),
    };
    let cat_text = sheet.text(row, 0);
    let category = match cat_text.as_str() {
        "XQ" => Some(Category::Xq),
        "BX" => Some(Category::Bx),
        "FZ" => Some(Category::Fz),
        "JC" => Some(Category::Jc),
        _ => None,
    };
    let category = match category {
        Some(c) if c == want => Some(c),
        _ => {
            sheet.problem(
                row,
                0,
                format!(
                    "分类 `{cat_text}` does not belong on this sheet (expected `{}`)",
                    want.as_str()
                ),
            );
            None
        }
    };
    let seq = sheet.number(row, 1);
    let mut t = NationalType {
        sheet: name.into(),
        row,
        category: want,
        seq: 0,
        layer,
        name: String::new(),
        principal_dx: DxCell::All,
        dx_anywhere: false,
        principal_px: ProcCell::default(),
        px_anywhere: false,
        related: ProcCell::default(),
        secondary_dx: Vec::new(),
        treatment: ProcCell::default(),
        resistant: None,
        resistance: None,
        age_days: None,
        birth_weight: None,
        note: String::new(),
    };
    let before = sheet.problems.len();
    let conservative = |c: &ProcCell, n: &str| -> String {
        if c.is_empty() {
            "保守治疗".into()
        } else {
            n.to_string()
        }
    };
    match layer {
        NationalLayer::Pre => {
            let group = sheet.text(row, 2);
            let dx = sheet.dx_cell(row, 3, true);
            t.note = sheet.text(row, 7);
            t.dx_anywhere = t.note.contains("不限定为主要诊断");
            t.px_anywhere = t.note.contains("不限定为主要手术操作");
            if row > PRE_SUBHEADER_ROW {
                let age = sheet.text(row, 5);
                let weight = sheet.text(row, 6);
                match parse_age_days(&age) {
                    Ok(r) => t.age_days = Some(r),
                    Err(m) => sheet.problem(row, 5, m),
                }
                match parse_weight(&weight) {
                    Ok(r) => t.birth_weight = Some(r),
                    Err(m) => sheet.problem(row, 6, m),
                }
            } else {
                let px = if t.px_anywhere {
                    sheet.proc_cell(row, 5)
                } else {
                    sheet.principal_cell(row, 5)
                };
                if let Some(px) = px {
                    if px.is_empty() {
                        sheet.problem(row, 5, "a pre-grouping row needs procedure codes");
                    }
                    t.principal_px = px;
                }
            }
            if t.dx_anywhere && dx == Some(DxCell::All) {
                sheet.problem(
                    row,
                    7,
                    "the note frees the diagnosis cell, but the cell is 所有诊断",
                );
            }
            t.principal_dx = dx.unwrap_or(DxCell::All);
            t.name = group;
        }
        NationalLayer::Merge => {
            t.principal_dx = sheet.dx_cell(row, 2, true).unwrap_or(DxCell::All);
            t.principal_px = sheet.principal_cell(row, 4).unwrap_or_default();
            t.related = sheet.proc_cell(row, 6).unwrap_or_default();
            let (d, p, r) = (sheet.text(row, 3), sheet.text(row, 5), sheet.text(row, 7));
            t.name = join_names(&[&d, &conservative(&t.principal_px, &p), &r]);
        }
        NationalLayer::Burn => {
            t.principal_dx = sheet.dx_cell(row, 2, true).unwrap_or(DxCell::All);
            if let Some(DxCell::Specs(s)) = sheet.dx_cell(row, 4, true) {
                t.secondary_dx = s;
            }
            t.principal_px = sheet.principal_cell(row, 6).unwrap_or_default();
            t.related = sheet.proc_cell(row, 8).unwrap_or_default();
            let (d, a, p, r) = (
                sheet.text(row, 3),
                sheet.text(row, 5),
                sheet.text(row, 7),
                sheet.text(row, 9),
            );
            t.name = join_names(&[&d, &a, &conservative(&t.principal_px, &p), &r]);
        }
        NationalLayer::Tumor => {
            t.principal_dx = sheet.dx_cell(row, 2, true).unwrap_or(DxCell::All);
            if let Some(DxCell::Specs(s)) = sheet.dx_cell(row, 4, true) {
                t.secondary_dx = s;
            }
            t.treatment = sheet.proc_cell(row, 6).unwrap_or_default();
            if t.treatment.is_empty() {
                sheet.problem(row, 6, "a tumour row needs treatment codes");
            } else if t.treatment.groups.iter().any(|g| g.len() > 1) {
                sheet.problem(
                    row,
                    6,
                    format!(
                        "`{}`: treatment codes are joined with `+` (all needed)",
                        t.treatment
                    ),
                );
            }
            let (d, s, n) = (sheet.text(row, 3), sheet.text(row, 5), sheet.text(row, 7));
            t.name = join_names(&[&d, &s, &n]);
        }
        NationalLayer::Tb => {
            t.principal_dx = sheet.dx_cell(row, 2, true).unwrap_or(DxCell::All);
            t.principal_px = sheet.principal_cell(row, 4).unwrap_or_default();
            let flag = sheet.text(row, 6);
            t.resistant = match flag.as_str() {
                "是" => Some(true),
                "否" => Some(false),
                _ => {
                    sheet.problem(row, 6, format!("是否耐药 `{flag}` is not 是 or 否"));
                    None
                }
            };
            let rule = sheet.text(row, 7);
            if !rule.is_empty() {
                match Resistance::parse(&rule) {
                    Ok(r) => {
                        let positive =
                            matches!(r, Resistance::ListedOrMarker(_) | Resistance::Marker(_));
                        if t.resistant.is_some_and(|f| f != positive) {
                            sheet.problem(
                                row,
                                7,
                                format!("the rule contradicts 是否耐药 `{flag}`"),
                            );
                        }
                        t.resistance = Some(r);
                    }
                    Err(m) => sheet.problem(row, 7, m),
                }
            }
            let (d, p) = (sheet.text(row, 3), sheet.text(row, 5));
            let label = match t.resistant {
                Some(true) => "耐药",
                Some(false) => "非耐药",
                None => "",
            };
            t.name = join_names(&[&d, &conservative(&t.principal_px, &p), label]);
        }
        NationalLayer::Core => {
            t.principal_dx = sheet.dx_cell(row, 2, true).unwrap_or(DxCell::All);
            t.principal_px = sheet.principal_cell(row, 4).unwrap_or_default();
            let (d, p) = (sheet.text(row, 3), sheet.text(row, 5));
            t.name = join_names(&[&d, &conservative(&t.principal_px, &p)]);
        }
    }
    if sheet.problems.len() != before {
        return None;
    }
    t.category = category?;
    t.seq = seq?;
    Some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells() {
        assert_eq!(
            ProcCell::parse("a|b+c|d").unwrap().groups,
            vec![
                vec!["A".to_string(), "B".into()],
                vec!["C".into(), "D".into()]
            ]
        );
        assert!(ProcCell::parse("").unwrap().is_empty());
        assert!(ProcCell::parse("a||b").is_err());
        assert_eq!(
            parse_dx_cell("M47.0+").unwrap(),
            DxCell::Specs(vec![DxSpec::Sub("M470".into())])
        );
        assert_eq!(parse_dx_cell(" 所有诊断 ").unwrap(), DxCell::All);
        assert_eq!(parse_age_days("<29天").unwrap(), Range { min: 0, max: 28 });
        assert_eq!(
            parse_weight("出生体重1000-1499克").unwrap(),
            Range {
                min: 1000,
                max: 1499
            }
        );
        let n = parse_procedure_note(
            "A00-A09|C15-C26|D01|\nD12|D13|D37|I85 |K20-K93作为主要诊断，可作为主要手术操作",
        )
        .unwrap();
        let ProcedureNote::PrincipalWhenDx(specs) = n else {
            panic!("not parsed as the endoscopy note")
        };
        assert_eq!(specs.len(), 8);
        assert_eq!(specs[6], DxSpec::Cat("I85".into()));
        assert_eq!(
            Resistance::parse("其他诊断不含U84.300（耐抗结核药物）").unwrap(),
            Resistance::NoMarker("U84.300".into())
        );
        assert_eq!(
            Resistance::parse(
                "主要诊断含耐药拓展码（附表—结核耐药诊断列表）或其他诊断包含U84.300（耐抗结核药物）"
            )
            .unwrap(),
            Resistance::ListedOrMarker("U84.300".into())
        );
    }
}
