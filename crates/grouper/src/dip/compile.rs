//! [`CatalogSource`] → [`Catalog`]: every check happens here, once.
//!
//! Diagnosis codes are reduced to *classes*: every exact code, 亚目 and category a spec
//! mentions, plus all 2,600 categories `A00`…`Z99` (so that ranges cover codes no row
//! names). A case's principal diagnosis is looked up once (exact → 亚目 → category) and
//! its class carries the precomputed list of candidate rows, sorted by layer and
//! specificity, and a bit row saying which diagnosis conditions it satisfies. Procedure
//! codes are interned into dense ids with their attribute and exclusion precomputed, so
//! grouping compares integers only.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::error::{CatalogError, Problem};
use super::source::{
    self, AttributeSource, CatalogOptions, CatalogSource, Rules, TieRule, TypeRow,
};
use super::spec::{Attribute, DxSpec, ProcSpec, Range, is_category, px_key};
use super::workbook::ProcCell;
use crate::compile::CodeIndex;

/// The layer of a disease type, in matching order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// 先期分组: transplants, ECMO, long ventilation, low birth weight…
    Pre,
    /// 并项: diagnosis category with procedure combinations.
    Merge,
    /// 诊断辅助细分: burns, re-treated tumours, drug-resistant TB…
    Refine,
    /// 诊断辅助细分, national rules: burns (degree × area).
    Burn,
    /// 诊断辅助细分, national rules: tumour treatment (Z51.1/Z51.8 × tumour × treatment).
    Tumor,
    /// 诊断辅助细分, national rules: tuberculosis (× drug resistance).
    Tb,
    /// 核心病种: diagnosis (亚目) + procedures.
    Core,
    /// 综合病种: category × procedure attribute.
    Composite,
}

impl Layer {
    /// The name written in `types.csv` and in the output.
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Pre => "pre",
            Layer::Merge => "merge",
            Layer::Refine => "refine",
            Layer::Burn => "burn",
            Layer::Tumor => "tumor",
            Layer::Tb => "tb",
            Layer::Core => "core",
            Layer::Composite => "composite",
        }
    }

    /// Parses a layer name (English, or 先期分组/并项/辅助细分/核心/综合).
    pub fn parse(text: &str) -> Result<Layer, String> {
        Ok(match text.trim() {
            "pre" | "pre_grouping" | "先期分组" => Layer::Pre,
            "merge" | "并项" => Layer::Merge,
            "refine" | "refinement" | "辅助细分" | "诊断辅助细分" => Layer::Refine,
            "burn" | "烧伤" => Layer::Burn,
            "tumor" | "tumour" | "肿瘤" => Layer::Tumor,
            "tb" | "结核" => Layer::Tb,
            "core" | "核心" | "核心病种" => Layer::Core,
            "composite" | "综合" | "综合病种" => Layer::Composite,
            other => {
                return Err(format!(
                    "`{other}` is not a layer (pre, merge, refine, burn, tumor, tb, core, composite)"
                ));
            }
        })
    }
}

/// What a row asks of the procedures, compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Procs {
    Any,
    Conservative,
    /// `alts[start..start+len]`, each a range of `alt_codes`.
    Alts(u32, u32),
}

/// A TB drug-resistance condition (national rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum ResKind {
    /// Principal diagnosis listed, or the marker among the secondary diagnoses.
    ListedOrMarker,
    /// Neither.
    NeitherListedNorMarker,
    /// The marker among the secondary diagnoses.
    Marker,
    /// Not.
    NoMarker,
}

impl ResKind {
    fn parse(kind: &str) -> Option<ResKind> {
        Some(match kind {
            "listed_or_marker" => ResKind::ListedOrMarker,
            "neither_listed_nor_marker" => ResKind::NeitherListedNorMarker,
            "marker" => ResKind::Marker,
            "no_marker" => ResKind::NoMarker,
            _ => return None,
        })
    }
}

/// The parts of a row under national rules (ranges into `alts`; each alternative there
/// is a group of which one code is needed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct NationalParts {
    /// Related-procedure groups (met by the procedures after the principal).
    pub related: (u32, u32),
    /// Groups met anywhere in the procedure list.
    pub all_px: (u32, u32),
    /// Slot of the secondary-diagnosis condition.
    pub secondary: Option<u32>,
    /// Drug resistance: kind and the slot of the marker code.
    pub resistance: Option<(ResKind, u32)>,
}

/// The optional conditions of a type row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Conditions {
    pub any_dx: Option<u32>,
    pub age: Option<Range>,
    pub age_days: Option<Range>,
    pub weight: Option<Range>,
    pub vent_hours: Option<Range>,
    pub los: Option<Range>,
}

impl Conditions {
    fn is_empty(&self) -> bool {
        *self == Conditions::default()
    }
}

/// One disease type of a compiled catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DipType {
    /// Type code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Layer.
    pub layer: Layer,
    /// The principal-diagnosis spec as written.
    pub principal_dx: String,
    /// The procedure spec as written.
    pub procedures: String,
    /// Composite types: the attribute (interventional already folded into surgery).
    pub attribute: Option<Attribute>,
    /// Score.
    #[serde(with = "rust_decimal::serde::str")]
    pub score: Decimal,
    /// Score as written in `types.csv` (trimmed), and so in the output.
    pub score_text: String,
    /// Mean cost in yuan, if given.
    #[serde(with = "rust_decimal::serde::str_option")]
    pub mean_cost: Option<Decimal>,
    /// Primary-care type (基层病种).
    pub primary_care: bool,
    /// Primary-care coefficient, if given.
    #[serde(with = "rust_decimal::serde::str_option")]
    pub primary_care_coef: Option<Decimal>,
    /// Line in `types.csv`.
    pub line: u64,
    /// National rules: related procedures as written.
    pub related: String,
    /// National rules: procedures needed anywhere, as written.
    pub all_px: String,
    /// National rules: secondary-diagnosis specs as written.
    pub secondary_dx: String,
    /// National rules: drug resistance as written.
    pub resistance: String,
    pub(crate) procs: Procs,
    pub(crate) nat: NationalParts,
    pub(crate) cond: Conditions,
    pub(crate) has_cond: bool,
}

/// One auxiliary sub-type of a compiled catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuxType {
    /// Sub-type code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Kind (severity, tumour, age, icu, cci, other).
    pub kind: String,
    /// Coefficient.
    #[serde(with = "rust_decimal::serde::str")]
    pub coefficient: Decimal,
    /// Coefficient as written in the output.
    pub coefficient_text: String,
    /// Line in `aux.csv`.
    pub line: u64,
    /// Type ids it applies to (sorted); `None` = all.
    pub(crate) types: Option<Vec<u32>>,
    pub(crate) principal_dx: Option<u32>,
    pub(crate) secondary_dx: Option<u32>,
    /// Bit `d` set: discharge way `d` (1–9) allowed; 0 = no condition.
    pub(crate) discharge_ways: u16,
    pub(crate) los: Option<Range>,
    pub(crate) age: Option<Range>,
    pub(crate) age_days: Option<Range>,
    pub(crate) icu_days: Option<Range>,
    pub(crate) cci: Option<Range>,
    /// Total cost ≥ this × type mean cost (compared exactly).
    #[serde(with = "rust_decimal::serde::str_option")]
    pub(crate) cost_ratio: Option<Decimal>,
}

/// A candidate row of a diagnosis class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Cand {
    pub row: u32,
    /// Specificity of the spec that matched the class (3 exact … 0 range, 4 = any).
    pub level: u8,
}

/// What the grouping loop knows of a candidate row without reading the row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CandMeta {
    pub layer: Layer,
    /// What the row's principal-procedure cell asks.
    pub procs: ProcsKind,
}

/// The kind of a [`Procs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProcsKind {
    /// No condition.
    Any,
    /// No principal procedure.
    Conservative,
    /// One of the listed principal procedures.
    Listed,
}

/// The parts of a type that grouping reads, in one small record.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HotType {
    pub procs: Procs,
    pub nat: NationalParts,
    pub has_cond: bool,
}

/// How a procedure counts for grouping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) enum Excl {
    None,
    Ignore,
    Conservative,
}

const EXCLS: [Excl; 3] = [Excl::None, Excl::Ignore, Excl::Conservative];

/// Who a catalogue is: every result carries this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogInfo {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Region.
    pub region: String,
    /// Score scale.
    pub score_scale: u32,
    /// SHA-256 of the source files (empty when built in code).
    pub content_hash: String,
}

impl CatalogInfo {
    /// `name@version#hash8`.
    pub fn label(&self) -> String {
        format!(
            "{}@{}#{}",
            self.name,
            self.version,
            &self.content_hash[..8.min(self.content_hash.len())]
        )
    }
}

/// The diagnosis class dictionary.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct DxDict {
    /// Class keys (dot-free, upper-case), sorted; the id is the index.
    pub keys: Vec<Box<str>>,
    #[serde(skip)]
    pub index: CodeIndex,
    /// The longest key (longer codes are looked up by their 亚目 and category only).
    #[serde(skip)]
    pub longest: usize,
    /// Per ICD-10 category `A00`…`Z99` ([`icd_category`]): its class and its block of
    /// 亚目 in `subs`, so that an ICD-shaped code is placed by two small tables and
    /// probes the hash index only when a longer key shares its 亚目.
    #[serde(skip)]
    pub cats: Vec<CatEntry>,
    /// Blocks of 36 entries (fourth character `0`–`9`, `A`–`Z`), one per category
    /// having some key longer than itself.
    #[serde(skip)]
    pub subs: Vec<SubEntry>,
}

/// No class.
const NO_CLASS: u32 = u32::MAX;

/// A category's entry in [`DxDict::cats`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct CatEntry {
    /// The category's class ([`NO_CLASS`] = none).
    class: u32,
    /// Its block in [`DxDict::subs`] ([`NO_CLASS`] = no key is longer than the category).
    block: u32,
}

/// A 亚目's entry in [`DxDict::subs`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct SubEntry {
    /// The class of the four-character key ([`NO_CLASS`] = none).
    class: u32,
    /// Some key longer than four characters starts with it.
    longer: bool,
}

/// The index of an ICD-10 category (`A00`…`Z99`: an upper-case letter, two digits) that
/// `key` starts with.
#[inline]
fn icd_category(key: &[u8]) -> Option<usize> {
    match *key {
        [l @ b'A'..=b'Z', d1 @ b'0'..=b'9', d2 @ b'0'..=b'9', ..] => {
            Some(usize::from(l - b'A') * 100 + usize::from(d1 - b'0') * 10 + usize::from(d2 - b'0'))
        }
        _ => None,
    }
}

/// The place of a 亚目's fourth character (`0`–`9`, `A`–`Z`) in its block.
#[inline]
fn icd_sub(b: u8) -> Option<usize> {
    match b {
        b'0'..=b'9' => Some(usize::from(b - b'0')),
        b'A'..=b'Z' => Some(usize::from(b - b'A') + 10),
        _ => None,
    }
}

impl DxDict {
    /// The id of a class key.
    #[inline]
    pub fn find(&self, key: &[u8]) -> Option<u32> {
        self.index.get(key, |id| self.keys[id as usize].as_bytes())
    }

    /// Rebuilds the look-up structures (the hash index and the category tables).
    fn rebuild(&mut self) {
        let keys = &self.keys;
        self.index = CodeIndex::build(keys.len(), keys.iter().map(|k| k.as_bytes()));
        self.longest = keys.iter().map(|k| k.len()).max().unwrap_or(0);
        let none = CatEntry {
            class: NO_CLASS,
            block: NO_CLASS,
        };
        let mut cats = vec![none; 2600];
        let mut subs: Vec<SubEntry> = Vec::new();
        for (id, key) in keys.iter().enumerate() {
            let key = key.as_bytes();
            let Some(c) = icd_category(key) else { continue };
            if key.len() == 3 {
                cats[c].class = id as u32;
                continue;
            }
            if cats[c].block == NO_CLASS {
                cats[c].block = (subs.len() / 36) as u32;
                subs.resize(
                    subs.len() + 36,
                    SubEntry {
                        class: NO_CLASS,
                        longer: false,
                    },
                );
            }
            // A fourth character outside `0-9A-Z`: only the hash index finds such a key.
            let Some(s) = icd_sub(key[3]) else { continue };
            let e = &mut subs[cats[c].block as usize * 36 + s];
            if key.len() == 4 {
                e.class = id as u32;
            } else {
                e.longer = true;
            }
        }
        self.cats = cats;
        self.subs = subs;
    }

    /// The class of a normalised code (upper-case, dot-free): the code itself, else its
    /// first four characters (亚目), else its first three (category), the first the
    /// dictionary has.
    #[inline]
    pub fn place(&self, key: &[u8]) -> Option<u32> {
        let n = key.len();
        let some = |class: u32| (class != NO_CLASS).then_some(class);
        if let Some(c) = icd_category(key)
            && let Some(&cat) = self.cats.get(c)
        {
            // No key longer than the category starts with it: only the category can match.
            if n == 3 || cat.block == NO_CLASS {
                return some(cat.class);
            }
            if let Some(s) = icd_sub(key[3]) {
                let sub = self.subs[cat.block as usize * 36 + s];
                let exact = if n > 4 && sub.longer && n <= self.longest {
                    self.find(key)
                } else {
                    None
                };
                return exact.or(some(sub.class)).or(some(cat.class));
            }
        }
        // Other shapes: probe the hash index for each of the three.
        (n <= self.longest)
            .then(|| self.find(key))
            .flatten()
            .or_else(|| (n > 4).then(|| self.find(&key[..4])).flatten())
            .or_else(|| (n > 3).then(|| self.find(&key[..3])).flatten())
    }
}

/// The procedure dictionary.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct PxDict {
    /// Codes (upper-case), sorted; the id is the index. Ids `codes.len()..+15` stand for
    /// unknown codes by (attribute, exclusion).
    pub codes: Vec<Box<str>>,
    /// Per id: attribute.
    pub attr: Vec<Attribute>,
    /// Per id: exclusion.
    pub excl: Vec<Excl>,
    /// Per listed code: the attribute table covers it (exactly or by prefix).
    pub covered: Vec<bool>,
    /// Attribute prefixes (`prefix`, attribute), longest first.
    pub attr_prefix: Vec<(Box<str>, Attribute)>,
    /// Exclusion prefixes, longest first.
    pub excl_prefix: Vec<(Box<str>, Excl)>,
    #[serde(skip)]
    pub index: CodeIndex,
}

impl PxDict {
    /// The id of a listed code (upper-case).
    #[inline]
    pub fn find(&self, code: &[u8]) -> Option<u32> {
        self.index
            .get(code, |id| self.codes[id as usize].as_bytes())
    }

    /// The id standing for an unknown code with these properties.
    pub fn special(&self, attr: Attribute, excl: Excl) -> u32 {
        self.codes.len() as u32 + attr as u32 * 3 + excl as u32
    }
}

/// A compiled, immutable DIP catalogue (`Send + Sync`). Build it with
/// [`Catalog::compile`] or load it with [`Catalog::load`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Catalog {
    pub(crate) info: CatalogInfo,
    pub(crate) options: CatalogOptions,
    pub(crate) dx: DxDict,
    pub(crate) px: PxDict,
    /// u64 words per class row of condition bits.
    pub(crate) words: usize,
    /// `(classes + 1) × words`; the last row (unknown class) is empty.
    pub(crate) class_bits: Vec<u64>,
    /// Per class (+1): principal diagnosis excluded.
    pub(crate) class_excluded: Vec<bool>,
    /// Per class (+1): CCI categories.
    pub(crate) class_cci: Vec<u32>,
    /// `cand[cand_start[c]..cand_start[c+1]]`; `classes + 2` entries.
    pub(crate) cand_start: Vec<u32>,
    pub(crate) cand: Vec<Cand>,
    /// Per entry of `cand` (derived on load): the row's layer and what it asks of the
    /// principal procedure, so that grouping passes over rows without reading them.
    #[serde(skip)]
    pub(crate) cand_meta: Vec<CandMeta>,
    pub(crate) types: Vec<DipType>,
    /// Per type (derived on load): the parts grouping reads, packed together.
    #[serde(skip)]
    pub(crate) hot: Vec<HotType>,
    pub(crate) alts: Vec<(u32, u32)>,
    pub(crate) alt_codes: Vec<u32>,
    /// Sorted by coefficient, highest first, then by line.
    pub(crate) aux: Vec<AuxType>,
    pub(crate) cci_weights: Vec<u32>,
    pub(crate) cci_names: Vec<String>,
    /// Text of each diagnosis condition slot.
    pub(crate) slots: Vec<String>,
    /// National rules.
    pub(crate) national: bool,
    /// The procedure attribute table is not empty.
    pub(crate) has_attributes: bool,
    /// National rules, per procedure id: the slot of the principal-diagnosis condition
    /// under which an excluded procedure stays principal ([`NO_SLOT`] = none).
    pub(crate) px_unless: Vec<u32>,
    /// National rules: the slot of the `tb_resistant` list ([`NO_SLOT`] = none).
    pub(crate) listed_slot: u32,
    /// Primary-care rows: (code, name, principal procedure).
    pub(crate) pc_rows: Vec<(String, String, Procs)>,
    /// `pc_list[pc_start[c]..pc_start[c+1]]`: the primary-care rows of class `c`.
    pub(crate) pc_start: Vec<u32>,
    pub(crate) pc_list: Vec<u32>,
    pub(crate) warnings: Vec<String>,
}

/// No condition slot.
pub(crate) const NO_SLOT: u32 = u32::MAX;

impl Catalog {
    /// Whether the catalogue has a procedure attribute table (`procedure_attributes.csv`).
    pub fn has_attributes(&self) -> bool {
        self.has_attributes
    }

    /// The number of primary-care rows (`primary_care.csv`, national rules).
    pub fn primary_care_rows(&self) -> usize {
        self.pc_rows.len()
    }

    /// Whether the catalogue follows the national DIP 3.0 rules
    /// ([`Rules::National`](super::source::Rules::National)).
    pub fn is_national(&self) -> bool {
        self.national
    }

    /// Name, version, region and content hash.
    pub fn info(&self) -> &CatalogInfo {
        &self.info
    }

    /// Regional options.
    pub fn options(&self) -> &CatalogOptions {
        &self.options
    }

    /// All disease types, in `types.csv` order (the type id is the index).
    pub fn types(&self) -> &[DipType] {
        &self.types
    }

    /// Auxiliary sub-types, highest coefficient first.
    pub fn aux_types(&self) -> &[AuxType] {
        &self.aux
    }

    /// Non-fatal findings of the compiler.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Number of diagnosis classes and of interned procedure codes.
    pub fn dictionary_sizes(&self) -> (usize, usize) {
        (self.dx.keys.len(), self.px.codes.len())
    }

    pub(crate) fn rebuild_index(&mut self) {
        self.dx.rebuild();
        self.hot = self
            .types
            .iter()
            .map(|t| HotType {
                procs: t.procs,
                nat: t.nat,
                has_cond: t.has_cond,
            })
            .collect();
        self.cand_meta = self
            .cand
            .iter()
            .map(|c| {
                let t = &self.types[c.row as usize];
                CandMeta {
                    layer: t.layer,
                    procs: match t.procs {
                        Procs::Any => ProcsKind::Any,
                        Procs::Conservative => ProcsKind::Conservative,
                        Procs::Alts(..) => ProcsKind::Listed,
                    },
                }
            })
            .collect();
        let codes = &self.px.codes;
        self.px.index = CodeIndex::build(codes.len(), codes.iter().map(|k| k.as_bytes()));
    }

    /// Checks and compiles a catalogue; every problem found is reported together, each
    /// naming file, row and field.
    pub fn compile(source: &CatalogSource) -> Result<Catalog, CatalogError> {
        let mut c = Compiler {
            src: source,
            problems: Vec::new(),
            warnings: Vec::new(),
            lists: BTreeMap::new(),
            slots: BTreeMap::new(),
        };
        let catalog = c.build();
        if c.problems.is_empty() {
            let mut catalog = catalog;
            catalog.rebuild_index();
            Ok(catalog)
        } else {
            Err(CatalogError::Invalid(c.problems))
        }
    }
}

struct Compiler<'s> {
    src: &'s CatalogSource,
    problems: Vec<Problem>,
    warnings: Vec<String>,
    lists: BTreeMap<String, Vec<DxSpec>>,
    slots: BTreeMap<Vec<DxSpec>, u32>,
}

/// A parsed type row, before interning.
struct TypeParts {
    layer: Layer,
    pdx: Vec<DxSpec>,
    procs: ProcSpec,
    attribute: Option<Attribute>,
    any_dx: Vec<DxSpec>,
    cond: Conditions,
}

/// A number written plainly (`12`, `-0.5`): `rust_decimal` alone would also read `1_000`,
/// which catalogues, like policies and case files, do not take; nor `1e5`, `.5` or `5.`.
fn decimal(text: &str) -> Result<Decimal, String> {
    let t = text.trim();
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    let plain = body.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && body.matches('.').count() <= 1
        && !body.starts_with('.')
        && !body.ends_with('.')
        && !body.is_empty();
    plain
        .then(|| Decimal::from_str(t).ok())
        .flatten()
        .ok_or_else(|| format!("`{t}` is not a number"))
}

impl Compiler<'_> {
    /// Files `value` under a procedure pattern (`at` = file, line, the pattern as written
    /// and the value's field) in `maps` = [exact codes, prefixes (`…*`)]. A pattern that
    /// does not parse is a problem of the `code` field; one listed again with another
    /// value is a problem of the value's field, worded by `conflict(key, earlier value,
    /// earlier line)`; a repeat with the same value is ignored.
    fn file_pattern<T: Copy + PartialEq>(
        &mut self,
        at: (&str, u64, &str, &str),
        value: T,
        maps: [&mut BTreeMap<String, (T, u64)>; 2],
        conflict: impl FnOnce(&str, T, u64) -> String,
    ) {
        let (file, line, code, field) = at;
        let [exact, prefix] = maps;
        let (map, key) = match proc_pattern(code) {
            Ok((true, k)) => (prefix, k),
            Ok((false, k)) => (exact, k),
            Err(msg) => return self.problem(file, line, "code", msg),
        };
        match map.get(&key) {
            Some(&(prev, _)) if prev == value => {}
            Some(&(prev, first)) => self.problem(file, line, field, conflict(&key, prev, first)),
            None => {
                map.insert(key, (value, line));
            }
        }
    }

    fn problem(&mut self, file: &str, line: u64, field: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            file: file.into(),
            line,
            field: field.into(),
            message: message.into(),
        });
    }

    /// Parses `|`-separated diagnosis specs with `@list` references.
    fn dx_specs(&mut self, file: &str, line: u64, field: &str, text: &str) -> Option<Vec<DxSpec>> {
        let mut out = Vec::new();
        let mut ok = true;
        for part in text.split('|') {
            let part = part.trim();
            if let Some(name) = part.strip_prefix('@') {
                match self.lists.get(name) {
                    Some(specs) => out.extend(specs.iter().cloned()),
                    None => {
                        self.problem(
                            file,
                            line,
                            field,
                            format!("unknown diagnosis list `@{name}` (define it in dx_lists.csv)"),
                        );
                        ok = false;
                    }
                }
                continue;
            }
            match DxSpec::parse(part) {
                Ok(s) => out.push(s),
                Err(m) => {
                    self.problem(file, line, field, m);
                    ok = false;
                }
            }
        }
        out.sort();
        out.dedup();
        ok.then_some(out)
    }

    fn national(&self) -> bool {
        self.src.manifest.options.rules == Rules::National
    }

    fn range(&mut self, file: &str, line: u64, field: &str, text: &str) -> Option<Range> {
        match Range::parse(text) {
            Ok(r) => r,
            Err(m) => {
                self.problem(file, line, field, m);
                None
            }
        }
    }

    fn slot(&mut self, specs: Vec<DxSpec>) -> u32 {
        let n = self.slots.len() as u32;
        *self.slots.entry(specs).or_insert(n)
    }

    fn parse_type(&mut self, r: &TypeRow) -> Option<TypeParts> {
        let f = source::TYPES;
        let before = self.problems.len();
        let layer = match Layer::parse(&r.layer) {
            Ok(l) => Some(l),
            Err(m) => {
                self.problem(f, r.line, "layer", m);
                None
            }
        };
        let pdx = if r.principal_dx.trim().is_empty() {
            if let Some(l) = layer
                && !matches!(l, Layer::Pre | Layer::Refine)
            {
                self.problem(
                    f,
                    r.line,
                    "principal_dx",
                    format!(
                        "a {} type needs a principal-diagnosis spec (only pre and refine rows may leave it empty)",
                        l.as_str()
                    ),
                );
            }
            Vec::new()
        } else {
            self.dx_specs(f, r.line, "principal_dx", &r.principal_dx)
                .unwrap_or_default()
        };
        let procs = match ProcSpec::parse(&r.procedures) {
            Ok(ProcSpec::Alternatives(a))
                if self.national() && a.iter().any(|alt| alt.len() > 1) =>
            {
                self.problem(
                    f,
                    r.line,
                    "procedures",
                    "under national rules `procedures` names the principal procedure (`a|b|c`); codes needed together go to `all_px`",
                );
                ProcSpec::Any
            }
            Ok(p) => p,
            Err(m) => {
                self.problem(f, r.line, "procedures", m);
                ProcSpec::Any
            }
        };
        let national_cols = [
            ("related", &r.related),
            ("all_px", &r.all_px),
            ("secondary_dx", &r.secondary_dx),
            ("resistance", &r.resistance),
        ];
        if !self.national() {
            for (name, v) in national_cols {
                if !v.trim().is_empty() {
                    self.problem(
                        f,
                        r.line,
                        name,
                        "this column is read under national rules only (catalog.json options.rules = national)",
                    );
                }
            }
        }
        let attribute = if r.attribute.trim().is_empty() {
            if layer == Some(Layer::Composite) {
                self.problem(
                    f,
                    r.line,
                    "attribute",
                    "a composite type needs a procedure attribute (surgery, therapeutic, diagnostic, conservative)",
                );
            }
            None
        } else {
            match Attribute::parse(&r.attribute) {
                Ok(a) if layer == Some(Layer::Composite) => Some(a.composite()),
                Ok(_) => {
                    self.problem(
                        f,
                        r.line,
                        "attribute",
                        "only composite types take an attribute; other layers match procedures by `procedures`",
                    );
                    None
                }
                Err(m) => {
                    self.problem(f, r.line, "attribute", m);
                    None
                }
            }
        };
        if layer == Some(Layer::Composite) && procs != ProcSpec::Conservative {
            self.problem(
                f,
                r.line,
                "procedures",
                "a composite type matches by attribute: leave `procedures` empty",
            );
        }
        let any_dx = if r.any_dx.trim().is_empty() {
            Vec::new()
        } else {
            self.dx_specs(f, r.line, "any_dx", &r.any_dx)
                .unwrap_or_default()
        };
        let cond = Conditions {
            any_dx: None,
            age: self.range(f, r.line, "age", &r.age),
            age_days: self.range(f, r.line, "age_days", &r.age_days),
            weight: self.range(f, r.line, "weight", &r.weight),
            vent_hours: self.range(f, r.line, "vent_hours", &r.vent_hours),
            los: self.range(f, r.line, "los", &r.los),
        };
        if self.problems.len() != before {
            return None;
        }
        Some(TypeParts {
            layer: layer?,
            pdx,
            procs,
            attribute,
            any_dx,
            cond,
        })
    }

    fn build(&mut self) -> Catalog {
        let src = self.src;
        let m = &src.manifest;
        if m.score_scale == 0 {
            self.problem(source::MANIFEST, 0, "score_scale", "must be above 0");
        }
        if m.name.trim().is_empty() {
            self.problem(source::MANIFEST, 0, "name", "empty catalogue name");
        }

        // Named diagnosis lists.
        let mut lists: BTreeMap<String, Vec<DxSpec>> = BTreeMap::new();
        for r in &src.dx_lists {
            if r.list.is_empty() || r.list.contains(['|', '@']) {
                self.problem(
                    source::DX_LISTS,
                    r.line,
                    "list",
                    "a list name may not be empty or contain `|` or `@`",
                );
                continue;
            }
            match DxSpec::parse(&r.code) {
                Ok(s) => lists.entry(r.list.clone()).or_default().push(s),
                Err(msg) => self.problem(source::DX_LISTS, r.line, "code", msg),
            }
        }
        for v in lists.values_mut() {
            v.sort();
            v.dedup();
        }
        self.lists = lists;

        // Types.
        let mut parts: Vec<Option<TypeParts>> = Vec::with_capacity(src.types.len());
        let mut codes: BTreeMap<&str, u64> = BTreeMap::new();
        for r in &src.types {
            if r.code.is_empty() {
                self.problem(source::TYPES, r.line, "code", "empty type code");
            } else if r.code.contains(',') {
                self.problem(
                    source::TYPES,
                    r.line,
                    "code",
                    "a type code may not contain a comma",
                );
            } else if let Some(first) = codes.insert(&r.code, r.line) {
                self.problem(
                    source::TYPES,
                    r.line,
                    "code",
                    format!("type `{}` is already defined on line {first}", r.code),
                );
            }
            parts.push(self.parse_type(r));
        }
        let mut types = Vec::with_capacity(src.types.len());
        for (r, p) in src.types.iter().zip(&parts) {
            let f = source::TYPES;
            let score = match decimal(&r.score) {
                // The national catalogue has no scores until a region calibrates it.
                _ if self.national() && r.score.trim().is_empty() => Decimal::ZERO,
                Ok(s) if s.is_sign_negative() => {
                    self.problem(f, r.line, "score", "a score may not be negative");
                    Decimal::ZERO
                }
                Ok(s) => s,
                Err(msg) => {
                    self.problem(f, r.line, "score", msg);
                    Decimal::ZERO
                }
            };
            let mean_cost = if r.mean_cost.is_empty() {
                None
            } else {
                match decimal(&r.mean_cost) {
                    Ok(v) if !v.is_sign_negative() => Some(v),
                    Ok(_) => {
                        self.problem(f, r.line, "mean_cost", "a cost may not be negative");
                        None
                    }
                    Err(msg) => {
                        self.problem(f, r.line, "mean_cost", msg);
                        None
                    }
                }
            };
            if !r.cases.is_empty() && r.cases.parse::<u64>().is_err() {
                self.problem(
                    f,
                    r.line,
                    "cases",
                    format!("`{}` is not a whole number", r.cases),
                );
            }
            if !r.cv.is_empty()
                && let Err(msg) = decimal(&r.cv)
            {
                self.problem(f, r.line, "cv", msg);
            }
            let primary_care = match r.primary_care.as_str() {
                "" | "0" | "false" | "否" => false,
                "1" | "true" | "是" => true,
                other => {
                    self.problem(
                        f,
                        r.line,
                        "primary_care",
                        format!("`{other}` is not 0 or 1"),
                    );
                    false
                }
            };
            let primary_care_coef = if r.primary_care_coef.is_empty() {
                None
            } else {
                match decimal(&r.primary_care_coef) {
                    Ok(v) if v > Decimal::ZERO => Some(v),
                    Ok(_) => {
                        self.problem(f, r.line, "primary_care_coef", "must be above 0");
                        None
                    }
                    Err(msg) => {
                        self.problem(f, r.line, "primary_care_coef", msg);
                        None
                    }
                }
            };
            let (layer, attribute, cond, pdx_text) = match p {
                Some(p) => (p.layer, p.attribute, p.cond.clone(), r.principal_dx.clone()),
                None => (
                    Layer::Core,
                    None,
                    Conditions::default(),
                    r.principal_dx.clone(),
                ),
            };
            types.push(DipType {
                code: r.code.clone(),
                name: r.name.clone(),
                layer,
                principal_dx: pdx_text,
                procedures: r.procedures.clone(),
                attribute,
                score,
                // Written to the output as given (`--decimals` of a built catalogue).
                score_text: r.score.trim().to_string(),
                mean_cost,
                primary_care,
                primary_care_coef,
                line: r.line,
                related: r.related.trim().to_string(),
                all_px: r.all_px.trim().to_string(),
                secondary_dx: r.secondary_dx.trim().to_string(),
                resistance: r.resistance.trim().to_string(),
                procs: Procs::Any,
                nat: NationalParts::default(),
                cond,
                has_cond: false,
            });
        }
        self.ambiguity(&parts);

        // National rules: related and anywhere groups, primary-care rows.
        let mut groups_of: Vec<(ProcCell, ProcCell)> = Vec::new();
        let mut pc_parsed: Vec<Option<(Vec<DxSpec>, ProcSpec)>> = Vec::new();
        let mut px_codes: BTreeSet<String> = BTreeSet::new();
        if self.national() {
            for r in &src.types {
                let cell = |c: &mut Self, field: &str, text: &str| -> ProcCell {
                    match ProcCell::parse(text) {
                        Ok(p) => p,
                        Err(m) => {
                            c.problem(source::TYPES, r.line, field, m);
                            ProcCell::default()
                        }
                    }
                };
                let related = cell(self, "related", &r.related);
                let all_px = cell(self, "all_px", &r.all_px);
                for g in related.groups.iter().chain(&all_px.groups) {
                    px_codes.extend(g.iter().cloned());
                }
                groups_of.push((related, all_px));
            }
            for r in &src.primary_care {
                let f = source::PRIMARY_CARE;
                let dx = if r.principal_dx.trim().is_empty() {
                    self.problem(f, r.line, "principal_dx", "empty principal-diagnosis spec");
                    None
                } else {
                    self.dx_specs(f, r.line, "principal_dx", &r.principal_dx)
                };
                let px = match ProcSpec::parse(&r.procedures) {
                    Ok(ProcSpec::Any) => {
                        self.problem(f, r.line, "procedures", "`*` is not a principal procedure");
                        None
                    }
                    Ok(ProcSpec::Alternatives(a)) if a.iter().any(|alt| alt.len() > 1) => {
                        self.problem(
                            f,
                            r.line,
                            "procedures",
                            "a principal procedure is one code: `a|b`, no `+`",
                        );
                        None
                    }
                    Ok(p) => Some(p),
                    Err(m) => {
                        self.problem(f, r.line, "procedures", m);
                        None
                    }
                };
                if let Some(ProcSpec::Alternatives(a)) = &px {
                    for alt in a {
                        px_codes.extend(alt.iter().cloned());
                    }
                }
                pc_parsed.push(dx.zip(px));
            }
        } else if let Some(r) = src.primary_care.first() {
            self.problem(
                source::PRIMARY_CARE,
                r.line,
                "",
                "primary_care.csv is read under national rules only (catalog.json options.rules = national)",
            );
        }

        // Procedure dictionary.
        for p in parts.iter().flatten() {
            if let ProcSpec::Alternatives(alts) = &p.procs {
                for a in alts {
                    px_codes.extend(a.iter().cloned());
                }
            }
        }
        let mut attr_exact: BTreeMap<String, (Attribute, u64)> = BTreeMap::new();
        let mut attr_prefix: BTreeMap<String, (Attribute, u64)> = BTreeMap::new();
        for r in &src.attributes {
            let f = source::ATTRIBUTES;
            let attr = match Attribute::parse(&r.attribute) {
                Ok(Attribute::Conservative) => {
                    self.problem(f, r.line, "attribute", "a procedure cannot be `conservative`; list it in exclusions.csv as procedure_conservative instead");
                    continue;
                }
                Ok(a) => a,
                Err(msg) => {
                    self.problem(f, r.line, "attribute", msg);
                    continue;
                }
            };
            self.file_pattern(
                (f, r.line, &r.code, "attribute"),
                attr,
                [&mut attr_exact, &mut attr_prefix],
                |key, prev, line| format!("`{key}` is already `{}` on line {line}", prev.as_str()),
            );
        }
        let mut excl_exact: BTreeMap<String, (Excl, u64)> = BTreeMap::new();
        let mut excl_prefix: BTreeMap<String, (Excl, u64)> = BTreeMap::new();
        let mut excluded_pdx: Vec<DxSpec> = Vec::new();
        let mut unless: BTreeMap<String, Vec<DxSpec>> = BTreeMap::new();
        for r in &src.exclusions {
            let f = source::EXCLUSIONS;
            if !r.unless_dx.trim().is_empty() {
                let whole = !r.code.trim().ends_with('*');
                if !self.national() || r.kind == "principal_dx" || !whole {
                    self.problem(
                        f,
                        r.line,
                        "unless_dx",
                        "unless_dx applies to a whole procedure code under national rules only",
                    );
                } else if let Some(specs) = self.dx_specs(f, r.line, "unless_dx", &r.unless_dx) {
                    unless.insert(px_key(&r.code), specs);
                }
            }
            let excl = match r.kind.as_str() {
                "principal_dx" => {
                    if let Some(specs) = self.dx_specs(f, r.line, "code", &r.code) {
                        excluded_pdx.extend(specs);
                    }
                    continue;
                }
                "procedure_ignore" => Excl::Ignore,
                "procedure_conservative" => Excl::Conservative,
                other => {
                    self.problem(f, r.line, "kind", format!("`{other}` is not an exclusion kind (principal_dx, procedure_ignore, procedure_conservative)"));
                    continue;
                }
            };
            self.file_pattern(
                (f, r.line, &r.code, "kind"),
                excl,
                [&mut excl_exact, &mut excl_prefix],
                |key, _, line| {
                    format!("`{key}` is already listed with another kind on line {line}")
                },
            );
        }
        px_codes.extend(attr_exact.keys().cloned());
        px_codes.extend(excl_exact.keys().cloned());
        let unknown_attr = m.options.unknown_procedure_attribute;
        let mut attr_prefix: Vec<(Box<str>, Attribute)> = attr_prefix
            .into_iter()
            .map(|(k, (a, _))| (k.into_boxed_str(), a))
            .collect();
        attr_prefix.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        let mut excl_prefix: Vec<(Box<str>, Excl)> = excl_prefix
            .into_iter()
            .map(|(k, (e, _))| (k.into_boxed_str(), e))
            .collect();
        excl_prefix.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        let codes: Vec<Box<str>> = px_codes.into_iter().map(String::into_boxed_str).collect();
        let mut attr = Vec::with_capacity(codes.len() + 15);
        let mut excl = Vec::with_capacity(codes.len() + 15);
        let mut covered = Vec::with_capacity(codes.len());
        for c in &codes {
            covered.push(
                attr_exact.contains_key(&**c)
                    || prefix_lookup(&attr_prefix, c).is_some()
                    || excl_exact.contains_key(&**c)
                    || prefix_lookup(&excl_prefix, c).is_some(),
            );
            attr.push(
                attr_exact
                    .get(&**c)
                    .map(|x| x.0)
                    .or_else(|| prefix_lookup(&attr_prefix, c))
                    .unwrap_or(unknown_attr),
            );
            excl.push(
                excl_exact
                    .get(&**c)
                    .map(|x| x.0)
                    .or_else(|| prefix_lookup(&excl_prefix, c))
                    .unwrap_or(Excl::None),
            );
        }
        for a in Attribute::ALL {
            for e in EXCLS {
                attr.push(a);
                excl.push(e);
            }
        }
        let mut px_unless = vec![NO_SLOT; codes.len() + 15];
        for (code, specs) in unless {
            if let Ok(i) = codes.binary_search_by(|c| (**c).cmp(code.as_str())) {
                px_unless[i] = self.slot(specs);
            }
        }
        let px = PxDict {
            codes,
            attr,
            excl,
            covered,
            attr_prefix,
            excl_prefix,
            index: CodeIndex::default(),
        };
        let px_id = |code: &str| -> u32 {
            px.codes
                .binary_search_by(|c| (**c).cmp(code))
                .expect("interned") as u32
        };

        // Procedures and conditions of the types.
        let mut alts: Vec<(u32, u32)> = Vec::new();
        let mut alt_codes: Vec<u32> = Vec::new();
        for (t, p) in types.iter_mut().zip(&parts) {
            let Some(p) = p else { continue };
            t.procs = match &p.procs {
                ProcSpec::Any => Procs::Any,
                ProcSpec::Conservative => Procs::Conservative,
                ProcSpec::Alternatives(list) => {
                    let start = alts.len() as u32;
                    for a in list {
                        let s = alt_codes.len() as u32;
                        alt_codes.extend(a.iter().map(|c| px_id(c)));
                        alts.push((s, a.len() as u32));
                    }
                    Procs::Alts(start, list.len() as u32)
                }
            };
            if !p.any_dx.is_empty() {
                t.cond.any_dx = Some(self.slot(p.any_dx.clone()));
            }
            t.has_cond = !t.cond.is_empty();
        }
        let mut listed_slot = NO_SLOT;
        if self.national() {
            let mut push_groups = |cell: &ProcCell, alts: &mut Vec<(u32, u32)>| -> (u32, u32) {
                let start = alts.len() as u32;
                for g in &cell.groups {
                    let s = alt_codes.len() as u32;
                    alt_codes.extend(g.iter().map(|c| px_id(c)));
                    alts.push((s, g.len() as u32));
                }
                (start, cell.groups.len() as u32)
            };
            let mut nat = Vec::with_capacity(types.len());
            for (related, all_px) in &groups_of {
                nat.push(NationalParts {
                    related: push_groups(related, &mut alts),
                    all_px: push_groups(all_px, &mut alts),
                    secondary: None,
                    resistance: None,
                });
            }
            for ((t, r), mut n) in types.iter_mut().zip(&src.types).zip(nat) {
                let f = source::TYPES;
                if !r.secondary_dx.trim().is_empty()
                    && let Some(specs) = self.dx_specs(f, r.line, "secondary_dx", &r.secondary_dx)
                {
                    n.secondary = Some(self.slot(specs));
                }
                let res = r.resistance.trim();
                if !res.is_empty() {
                    let parsed = res.split_once(':').and_then(|(k, m)| {
                        let kind = ResKind::parse(k.trim())?;
                        let marker = DxSpec::parse(m).ok()?;
                        Some((kind, marker))
                    });
                    match parsed {
                        Some((kind, marker)) => {
                            n.resistance = Some((kind, self.slot(vec![marker])));
                        }
                        None => self.problem(
                            f,
                            r.line,
                            "resistance",
                            format!("`{res}` is not KIND:CODE with KIND listed_or_marker, neither_listed_nor_marker, marker or no_marker (e.g. `marker:U84.300`)"),
                        ),
                    }
                }
                t.nat = n;
            }
            let uses_list = types.iter().any(|t| {
                matches!(
                    t.nat.resistance,
                    Some((ResKind::ListedOrMarker | ResKind::NeitherListedNorMarker, _))
                )
            });
            if uses_list {
                match self.lists.get(source::TB_RESISTANT_LIST).cloned() {
                    Some(specs) => listed_slot = self.slot(specs),
                    None => self.problem(
                        source::DX_LISTS,
                        0,
                        "list",
                        format!(
                            "drug-resistance rules name the list `{}`, which dx_lists.csv does not define",
                            source::TB_RESISTANT_LIST
                        ),
                    ),
                }
            }
        }
        let mut pc_rows: Vec<(String, String, Procs)> = Vec::new();
        let mut pc_specs: Vec<(DxSpec, u32)> = Vec::new();
        for (r, parsed) in src.primary_care.iter().zip(&pc_parsed) {
            let Some((specs, procs)) = parsed else {
                continue;
            };
            let procs = match procs {
                ProcSpec::Alternatives(list) => {
                    let start = alts.len() as u32;
                    for a in list {
                        let s = alt_codes.len() as u32;
                        alt_codes.extend(a.iter().map(|c| px_id(c)));
                        alts.push((s, a.len() as u32));
                    }
                    Procs::Alts(start, list.len() as u32)
                }
                _ => Procs::Conservative,
            };
            let id = pc_rows.len() as u32;
            pc_specs.extend(specs.iter().map(|s| (s.clone(), id)));
            pc_rows.push((r.code.clone(), r.name.clone(), procs));
        }

        // Auxiliary sub-types.
        let type_ids: BTreeMap<&str, u32> = types
            .iter()
            .enumerate()
            .map(|(i, t)| (t.code.as_str(), i as u32))
            .collect();
        let mut aux = Vec::new();
        let mut aux_codes: BTreeMap<&str, u64> = BTreeMap::new();
        for r in &src.aux {
            let f = source::AUX;
            let before = self.problems.len();
            if r.code.is_empty() {
                self.problem(f, r.line, "code", "empty sub-type code");
            } else if let Some(first) = aux_codes.insert(&r.code, r.line) {
                self.problem(
                    f,
                    r.line,
                    "code",
                    format!("sub-type `{}` is already defined on line {first}", r.code),
                );
            }
            if !matches!(
                r.kind.as_str(),
                "severity" | "tumour" | "age" | "icu" | "cci" | "other"
            ) {
                self.problem(
                    f,
                    r.line,
                    "kind",
                    format!(
                        "`{}` is not a sub-type kind (severity, tumour, age, icu, cci, other)",
                        r.kind
                    ),
                );
            }
            let coefficient = match decimal(&r.coefficient) {
                Ok(c) if c > Decimal::ZERO => c,
                Ok(_) => {
                    self.problem(f, r.line, "coefficient", "must be above 0");
                    Decimal::ONE
                }
                Err(msg) => {
                    self.problem(f, r.line, "coefficient", msg);
                    Decimal::ONE
                }
            };
            let types_filter = if r.types.trim().is_empty() {
                None
            } else {
                let mut ids = Vec::new();
                for code in r.types.split('|').map(str::trim) {
                    match type_ids.get(code) {
                        Some(&i) => ids.push(i),
                        None => {
                            self.problem(f, r.line, "types", format!("unknown type code `{code}`"))
                        }
                    }
                }
                ids.sort_unstable();
                ids.dedup();
                Some(ids)
            };
            let dx_slot = |c: &mut Self, field: &str, text: &str| -> Option<u32> {
                if text.trim().is_empty() {
                    return None;
                }
                c.dx_specs(f, r.line, field, text).map(|s| c.slot(s))
            };
            let principal_dx = dx_slot(self, "principal_dx", &r.principal_dx);
            let secondary_dx = dx_slot(self, "secondary_dx", &r.secondary_dx);
            let mut discharge_ways = 0u16;
            if !r.discharge_way.trim().is_empty() {
                for w in r.discharge_way.split('|').map(str::trim) {
                    match w.parse::<u8>() {
                        Ok(d @ 1..=9) => discharge_ways |= 1 << d,
                        _ => self.problem(
                            f,
                            r.line,
                            "discharge_way",
                            format!("`{w}` is not a discharge way 1-9"),
                        ),
                    }
                }
            }
            let cost_ratio = if r.cost_ratio.trim().is_empty() {
                None
            } else {
                match decimal(&r.cost_ratio) {
                    Ok(v) if v > Decimal::ZERO => Some(v),
                    Ok(_) => {
                        self.problem(f, r.line, "cost_ratio", "must be above 0");
                        None
                    }
                    Err(msg) => {
                        self.problem(f, r.line, "cost_ratio", msg);
                        None
                    }
                }
            };
            let a = AuxType {
                code: r.code.clone(),
                name: r.name.clone(),
                kind: r.kind.clone(),
                coefficient,
                coefficient_text: coefficient.normalize().to_string(),
                line: r.line,
                types: types_filter,
                principal_dx,
                secondary_dx,
                discharge_ways,
                los: self.range(f, r.line, "los", &r.los),
                age: self.range(f, r.line, "age", &r.age),
                age_days: self.range(f, r.line, "age_days", &r.age_days),
                icu_days: self.range(f, r.line, "icu_days", &r.icu_days),
                cci: self.range(f, r.line, "cci", &r.cci),
                cost_ratio,
            };
            if self.problems.len() == before {
                aux.push(a);
            }
        }
        aux.sort_by(|a, b| b.coefficient.cmp(&a.coefficient).then(a.line.cmp(&b.line)));

        // CCI.
        let mut cci_names: Vec<String> = Vec::new();
        let mut cci_weights: Vec<u32> = Vec::new();
        let mut cci_specs: Vec<(DxSpec, u32)> = Vec::new();
        for r in &src.cci {
            let f = source::CCI;
            let weight = match r.weight.trim().parse::<u32>() {
                Ok(w) => w,
                Err(_) => {
                    self.problem(
                        f,
                        r.line,
                        "weight",
                        format!("`{}` is not a whole number", r.weight),
                    );
                    continue;
                }
            };
            let idx = match cci_names.iter().position(|n| *n == r.category) {
                Some(i) => {
                    if cci_weights[i] != weight {
                        self.problem(
                            f,
                            r.line,
                            "weight",
                            format!(
                                "category `{}` already has weight {}",
                                r.category, cci_weights[i]
                            ),
                        );
                    }
                    i
                }
                None if cci_names.len() >= 32 => {
                    self.problem(f, r.line, "category", "at most 32 CCI categories");
                    continue;
                }
                None => {
                    cci_names.push(r.category.clone());
                    cci_weights.push(weight);
                    cci_names.len() - 1
                }
            };
            if let Some(specs) = self.dx_specs(f, r.line, "code", &r.code) {
                cci_specs.extend(specs.into_iter().map(|s| (s, idx as u32)));
            }
        }

        // Diagnosis classes.
        let mut keys: BTreeSet<String> = BTreeSet::new();
        let mut add_key = |k: &str| {
            keys.insert(k.to_string());
            if k.len() > 4 {
                keys.insert(k[..4].to_string());
            }
            if k.len() > 3 {
                keys.insert(k[..3].to_string());
            }
        };
        let mut spec_sets: Vec<&DxSpec> = Vec::new();
        for p in parts.iter().flatten() {
            spec_sets.extend(&p.pdx);
        }
        for s in self.slots.keys() {
            spec_sets.extend(s);
        }
        spec_sets.extend(&excluded_pdx);
        spec_sets.extend(pc_specs.iter().map(|x| &x.0));
        spec_sets.extend(cci_specs.iter().map(|x| &x.0));
        for s in spec_sets {
            if let Some(k) = s.key() {
                add_key(k);
            }
        }
        for letter in b'A'..=b'Z' {
            for n in 0..100 {
                keys.insert(format!("{}{n:02}", letter as char));
            }
        }
        let keys: Vec<Box<str>> = keys.into_iter().map(String::into_boxed_str).collect();
        let classes = keys.len();

        // Candidate rows per class.
        let mut pdx_index = SpecIndex::default();
        let mut any_rows: Vec<u32> = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            let Some(p) = p else { continue };
            if p.pdx.is_empty() {
                any_rows.push(i as u32);
            }
            for s in &p.pdx {
                pdx_index.add(s, i as u32);
            }
        }
        let national = self.national();
        let mut cand_start = Vec::with_capacity(classes + 2);
        let mut cand: Vec<Cand> = Vec::new();
        let mut hits: Vec<(u32, u8)> = Vec::new();
        for k in &keys {
            cand_start.push(cand.len() as u32);
            hits.clear();
            pdx_index.query(k, &mut hits);
            hits.extend(any_rows.iter().map(|&r| (r, 4)));
            // Keep the most specific level per row.
            hits.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
            hits.dedup_by_key(|h| h.0);
            let start = cand.len();
            cand.extend(hits.iter().map(|&(row, level)| Cand { row, level }));
            cand[start..].sort_by_key(|c| {
                let t = &types[c.row as usize];
                let level = match t.layer {
                    // National rules: rows in sheet order within a layer.
                    Layer::Core | Layer::Composite if !national => 4 - c.level.min(4),
                    _ => 0,
                };
                (t.layer, level, c.row)
            });
        }
        // The unknown class (a code no spec can cover): only the rows that take any
        // principal diagnosis.
        cand_start.push(cand.len() as u32);
        cand.extend(any_rows.iter().map(|&row| Cand { row, level: 4 }));
        cand_start.push(cand.len() as u32);

        // Condition bits, exclusions and CCI per class.
        let nslots = self.slots.len();
        let words = nslots.div_ceil(64).max(1);
        let mut class_bits = vec![0u64; (classes + 1) * words];
        let mut slot_index = SpecIndex::default();
        for (specs, &slot) in &self.slots {
            for s in specs {
                slot_index.add(s, slot);
            }
        }
        let mut excl_index = SpecIndex::default();
        for s in &excluded_pdx {
            excl_index.add(s, 0);
        }
        let mut cci_index = SpecIndex::default();
        for (s, cat) in &cci_specs {
            cci_index.add(s, *cat);
        }
        let mut pc_index = SpecIndex::default();
        for (s, row) in &pc_specs {
            pc_index.add(s, *row);
        }
        let mut pc_start = Vec::with_capacity(classes + 2);
        let mut pc_list: Vec<u32> = Vec::new();
        let mut class_excluded = vec![false; classes + 1];
        let mut class_cci = vec![0u32; classes + 1];
        for (c, k) in keys.iter().enumerate() {
            hits.clear();
            slot_index.query(k, &mut hits);
            for &(slot, _) in &hits {
                class_bits[c * words + slot as usize / 64] |= 1 << (slot % 64);
            }
            hits.clear();
            excl_index.query(k, &mut hits);
            class_excluded[c] = !hits.is_empty();
            hits.clear();
            cci_index.query(k, &mut hits);
            for &(cat, _) in &hits {
                class_cci[c] |= 1 << cat;
            }
            hits.clear();
            pc_index.query(k, &mut hits);
            hits.sort_unstable();
            hits.dedup_by_key(|h| h.0);
            pc_start.push(pc_list.len() as u32);
            pc_list.extend(hits.iter().map(|h| h.0));
        }
        // The unknown class has no primary-care row.
        pc_start.push(pc_list.len() as u32);
        pc_start.push(pc_list.len() as u32);
        let mut slot_text = vec![String::new(); nslots];
        for (specs, &slot) in &self.slots {
            slot_text[slot as usize] = specs
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("|");
        }

        // Warnings: types that no class reaches cannot happen (every spec interns its
        // key); report composite attributes never produced and cost ratios without cost.
        for a in &aux {
            if a.cost_ratio.is_some() {
                let missing = types
                    .iter()
                    .enumerate()
                    .filter(|(i, t)| {
                        a.types
                            .as_ref()
                            .is_none_or(|ts| ts.binary_search(&(*i as u32)).is_ok())
                            && t.mean_cost.is_none()
                    })
                    .count();
                if missing > 0 {
                    self.warnings.push(format!(
                        "aux.csv line {}: sub-type {} compares cost with the type's mean cost, but {missing} type(s) it applies to have no mean_cost (the condition is false for them)",
                        a.line, a.code
                    ));
                }
            }
        }

        Catalog {
            info: CatalogInfo {
                name: m.name.clone(),
                version: m.version.clone(),
                region: m.region.clone(),
                score_scale: m.score_scale,
                content_hash: src.content_hash.clone(),
            },
            options: m.options.clone(),
            dx: DxDict {
                keys,
                index: CodeIndex::default(),
                longest: 0,
                cats: Vec::new(),
                subs: Vec::new(),
            },
            px,
            words,
            class_bits,
            class_excluded,
            class_cci,
            cand_start,
            cand,
            cand_meta: Vec::new(),
            types,
            hot: Vec::new(),
            alts,
            alt_codes,
            aux,
            cci_weights,
            cci_names,
            slots: slot_text,
            national,
            has_attributes: !src.attributes.is_empty(),
            px_unless,
            listed_slot,
            pc_rows,
            pc_start,
            pc_list,
            warnings: std::mem::take(&mut self.warnings),
        }
    }

    /// Rejects core and composite rows that a case could match equally: same layer,
    /// overlapping principal-diagnosis specs of the same specificity, the same procedure
    /// alternative (or attribute) and the same conditions.
    fn ambiguity(&mut self, parts: &[Option<TypeParts>]) {
        // (layer, rest key) → specs with their row.
        let mut groups: BTreeMap<(Layer, String), Vec<(&DxSpec, usize)>> = BTreeMap::new();
        for (i, p) in parts.iter().enumerate() {
            let Some(p) = p else { continue };
            if !matches!(p.layer, Layer::Core | Layer::Composite) {
                continue;
            }
            let cond = format!(
                "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
                p.any_dx, p.cond.age, p.cond.age_days, p.cond.weight, p.cond.vent_hours, p.cond.los
            );
            let mut rests: Vec<String> = match (&p.procs, p.attribute) {
                (_, Some(a)) => vec![format!("attr:{}", a.as_str())],
                (ProcSpec::Alternatives(alts), _) => alts
                    .iter()
                    .map(|a| {
                        let mut a = a.clone();
                        a.sort();
                        format!("procs:{}", a.join("+"))
                    })
                    .collect(),
                (ProcSpec::Any, _) => vec!["procs:*".into()],
                (ProcSpec::Conservative, _) => vec!["procs:".into()],
            };
            rests.sort();
            rests.dedup();
            for rest in rests {
                for s in &p.pdx {
                    groups
                        .entry((p.layer, format!("{rest}#{cond}")))
                        .or_default()
                        .push((s, i));
                }
            }
        }
        let mut seen: BTreeSet<(usize, usize)> = BTreeSet::new();
        for ((_, rest), mut specs) in groups {
            specs.sort_by(|a, b| {
                a.0.level()
                    .cmp(&b.0.level())
                    .then(a.0.cmp(b.0))
                    .then(a.1.cmp(&b.1))
            });
            for (x, &(sa, ra)) in specs.iter().enumerate() {
                for &(sb, rb) in &specs[x + 1..] {
                    if sb.level() != sa.level() {
                        break;
                    }
                    if !matches!(sa, DxSpec::Range(..)) && sa != sb {
                        break;
                    }
                    if ra == rb || !sa.overlaps(sb) {
                        continue;
                    }
                    let (first, second) = (ra.min(rb), ra.max(rb));
                    if !seen.insert((first, second)) {
                        continue;
                    }
                    let t1 = &self.src.types[first];
                    let t2 = &self.src.types[second];
                    let what = rest.split('#').next().unwrap_or_default().to_string();
                    let (s1, s2) = if ra == first { (sa, sb) } else { (sb, sa) };
                    self.problem(
                        source::TYPES,
                        t2.line,
                        "principal_dx",
                        format!(
                            "`{s2}` overlaps `{s1}` of type {} (line {}) with the same {what} and conditions: a case could match both; make the specs disjoint",
                            t1.code, t1.line
                        ),
                    );
                }
            }
        }
    }
}

/// `code` or `prefix*` → (is prefix, key).
fn proc_pattern(text: &str) -> Result<(bool, String), String> {
    let t = text.trim();
    let (prefix, body) = match t.strip_suffix('*') {
        Some(b) => (true, b),
        None => (false, t),
    };
    let k = px_key(body);
    if k.is_empty() {
        return Err("empty procedure code".into());
    }
    if let Some(bad) = k
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '.'))
    {
        return Err(format!(
            "`{t}`: character `{bad}` is not allowed in a procedure code (a prefix ends with `*`)"
        ));
    }
    Ok((prefix, k))
}

fn prefix_lookup<T: Copy>(table: &[(Box<str>, T)], code: &str) -> Option<T> {
    table
        .iter()
        .find(|(p, _)| code.starts_with(&**p))
        .map(|x| x.1)
}

/// Diagnosis specs indexed for lookup by a class key.
#[derive(Default)]
struct SpecIndex {
    exact: BTreeMap<String, Vec<u32>>,
    sub: BTreeMap<String, Vec<u32>>,
    cat: BTreeMap<String, Vec<u32>>,
    ranges: Vec<(String, String, u32)>,
}

impl SpecIndex {
    fn add(&mut self, s: &DxSpec, payload: u32) {
        match s {
            DxSpec::Exact(k) => self.exact.entry(k.clone()).or_default().push(payload),
            DxSpec::Sub(k) => self.sub.entry(k.clone()).or_default().push(payload),
            DxSpec::Cat(k) => self.cat.entry(k.clone()).or_default().push(payload),
            DxSpec::Range(a, b) => self.ranges.push((a.clone(), b.clone(), payload)),
        }
    }

    /// Pushes (payload, level) for every spec covering the class key.
    fn query(&self, key: &str, out: &mut Vec<(u32, u8)>) {
        if let Some(v) = self.exact.get(key) {
            out.extend(v.iter().map(|&p| (p, 3)));
        }
        if key.len() >= 4
            && key.is_char_boundary(4)
            && let Some(v) = self.sub.get(&key[..4])
        {
            out.extend(v.iter().map(|&p| (p, 2)));
        }
        if key.len() >= 3 && key.is_char_boundary(3) {
            let c = &key[..3];
            if let Some(v) = self.cat.get(c) {
                out.extend(v.iter().map(|&p| (p, 1)));
            }
            for (a, b, p) in &self.ranges {
                if is_category(c) && a.as_str() <= c && c <= b.as_str() {
                    out.push((*p, 0));
                }
            }
        }
    }
}

impl TieRule {
    /// The name in `catalog.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            TieRule::HighestScore => "highest_score",
            TieRule::LowestScore => "lowest_score",
            TieRule::FirstListed => "first_listed",
        }
    }
}

impl AttributeSource {
    /// The name in `catalog.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            AttributeSource::Principal => "principal",
            AttributeSource::Highest => "highest",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The class of a code found by comparing strings: the code, its first four
    /// characters, its first three, the first that is a key.
    fn by_scanning(keys: &[&str], code: &str) -> Option<u32> {
        let at = |k: &str| keys.iter().position(|&x| x == k).map(|i| i as u32);
        let n = code.len();
        at(code)
            .or_else(|| code.get(..4).filter(|_| n > 4).and_then(at))
            .or_else(|| code.get(..3).filter(|_| n > 3).and_then(at))
    }

    #[test]
    fn category_tables_place_codes_as_the_three_probes_do() {
        let mut keys = vec![
            "A15",
            "A150",
            "A17",
            "A17801+G07*",
            "A178",
            "C34",
            "C341",
            "C3410X001",
            "K35",
            "K358",
            "K3580",
            "P07",
            "U07",
            "U071",
            "Z51",
            "Z511",
            "Z51100X001",
            "B20+",
            "B2",
            "XYZ",
            "A00",
            "Q99",
        ];
        keys.sort_unstable();
        let mut dict = DxDict {
            keys: keys.iter().map(|k| Box::from(*k)).collect(),
            ..DxDict::default()
        };
        dict.rebuild();
        let mut codes: Vec<String> = Vec::new();
        for k in &keys {
            codes.push(k.to_string());
            for tail in ["0", "9", "X", "X001", "+", "*"] {
                codes.push(format!("{k}{tail}"));
            }
            for n in 1..k.len() {
                codes.push(k[..n].to_string());
            }
        }
        codes.extend(
            [
                "",
                "A",
                "A1",
                "A16",
                "A160",
                "A1780",
                "A17801",
                "A17802+G07*",
                "C349",
                "C3410X002",
                "K3581",
                "K35899",
                "Z99",
                "Z990",
                "Z51100X",
                "B200",
                "B20+1",
                "A17+",
                "a17",
                "Ü071",
            ]
            .map(String::from),
        );
        for code in &codes {
            assert_eq!(
                dict.place(code.as_bytes()),
                by_scanning(&keys, code),
                "{code:?}"
            );
        }
    }
}
