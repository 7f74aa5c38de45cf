//! The declarative DIP catalogue: what a catalogue folder says, before any checking.
//!
//! A folder holds `catalog.json` (the manifest) and CSV tables: `types.csv` (required),
//! `procedure_attributes.csv`, `exclusions.csv`, `aux.csv`, `cci.csv` and `dx_lists.csv`
//! (optional). Rows are kept as text with their line numbers; [`super::Catalog::compile`]
//! checks them and reports every fault with file, row and field. The format is documented
//! in `docs/dip-catalog.md`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::{CatalogError, Problem};
use super::spec::Attribute;

/// The manifest file.
pub const MANIFEST: &str = "catalog.json";
/// The disease types.
pub const TYPES: &str = "types.csv";
/// Procedure attributes.
pub const ATTRIBUTES: &str = "procedure_attributes.csv";
/// Exclusion lists.
pub const EXCLUSIONS: &str = "exclusions.csv";
/// Auxiliary sub-types.
pub const AUX: &str = "aux.csv";
/// Charlson comorbidity categories.
pub const CCI: &str = "cci.csv";
/// Named diagnosis lists referenced as `@name`.
pub const DX_LISTS: &str = "dx_lists.csv";
/// Primary-care combinations (基层病种) decided per case (national rules).
pub const PRIMARY_CARE: &str = "primary_care.csv";
/// The `dx_lists.csv` list of drug-resistant TB principal diagnoses (national rules).
pub const TB_RESISTANT_LIST: &str = "tb_resistant";

/// Which grouping rules a catalogue follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rules {
    /// drgdip's own rules (the default): procedure specs match anywhere among the
    /// grouping procedures, core types by specificity and tie rule.
    #[default]
    Drgdip,
    /// The rules of NHSA's national DIP 3.0 catalogue: `procedures` names the principal
    /// procedure, `related` and `all_px` the others, the burn/tumor/tb layers, excluded
    /// principal diagnoses get the status `excluded`, primary care per case. See
    /// `docs/dip-catalog.md`, "The national workbook".
    National,
}

/// How remaining ties among core types are broken (after most matched procedures and
/// then the type containing the principal procedure).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TieRule {
    /// The type with the higher score (取高).
    #[default]
    HighestScore,
    /// The type with the lower score.
    LowestScore,
    /// The type listed first in `types.csv`.
    FirstListed,
}

/// Which procedures give a case its attribute for composite types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttributeSource {
    /// The principal (first grouping) procedure.
    #[default]
    Principal,
    /// The highest attribute over all grouping procedures.
    Highest,
}

/// Regional choices of a catalogue (`catalog.json → options`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogOptions {
    /// Core-type tie rule.
    #[serde(default)]
    pub tie_rule: TieRule,
    /// Where a case's procedure attribute comes from.
    #[serde(default)]
    pub attribute_source: AttributeSource,
    /// The attribute of a procedure the attribute table does not cover.
    #[serde(default = "default_unknown")]
    pub unknown_procedure_attribute: Attribute,
    /// The grouping rules (`drgdip` or `national`).
    #[serde(default)]
    pub rules: Rules,
}

fn default_unknown() -> Attribute {
    Attribute::Diagnostic
}

impl Default for CatalogOptions {
    fn default() -> Self {
        CatalogOptions {
            tie_rule: TieRule::default(),
            attribute_source: AttributeSource::default(),
            unknown_procedure_attribute: default_unknown(),
            rules: Rules::default(),
        }
    }
}

fn default_scale() -> u32 {
    1000
}

/// `catalog.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Catalogue name, e.g. `demo-dip`.
    pub name: String,
    /// Catalogue version, e.g. `2025.1`.
    pub version: String,
    /// Region (统筹区) the catalogue belongs to.
    #[serde(default)]
    pub region: String,
    /// The score of a type whose mean cost equals the overall mean (RW × scale).
    #[serde(default = "default_scale")]
    pub score_scale: u32,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Regional options.
    #[serde(default)]
    pub options: CatalogOptions,
}

/// A row of `types.csv` (text, unchecked).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeRow {
    /// 1-based line (0 when made in code).
    pub line: u64,
    /// Type code, unique.
    pub code: String,
    /// Name.
    pub name: String,
    /// `pre`, `merge`, `refine`, `core` or `composite`.
    pub layer: String,
    /// Principal-diagnosis specs, `|`-separated (empty = any, not for core/composite).
    pub principal_dx: String,
    /// Procedure spec: `a+b|c`, empty = conservative, `*` = any.
    pub procedures: String,
    /// Composite types: the procedure attribute.
    pub attribute: String,
    /// Condition: some diagnosis (principal or secondary) matches these specs.
    pub any_dx: String,
    /// Condition: age in years range.
    pub age: String,
    /// Condition: age in days range.
    pub age_days: String,
    /// Condition: birth weight (g) range.
    pub weight: String,
    /// Condition: ventilation hours range.
    pub vent_hours: String,
    /// Condition: length of stay range.
    pub los: String,
    /// Score (分值).
    pub score: String,
    /// Mean cost in yuan.
    pub mean_cost: String,
    /// Cases behind the score (informational).
    pub cases: String,
    /// Coefficient of variation (informational).
    pub cv: String,
    /// `1` for a primary-care type (基层病种).
    pub primary_care: String,
    /// The primary-care coefficient, if any.
    pub primary_care_coef: String,
    /// National rules: related procedures `a|b+c|d` (`+` binds loosest: every group needs
    /// one of its codes among the procedures after the principal).
    pub related: String,
    /// National rules: groups `a|b+c|d` each met by some procedure anywhere in the list
    /// (pre-grouping notes, tumour treatment codes).
    pub all_px: String,
    /// National rules: some secondary diagnosis matches these specs (the earliest listed
    /// one ranks the row).
    pub secondary_dx: String,
    /// National rules: TB drug resistance `KIND:MARKER`, KIND one of `listed_or_marker`,
    /// `neither_listed_nor_marker`, `marker`, `no_marker` (listed = the principal
    /// diagnosis is in the `tb_resistant` list of `dx_lists.csv`; marker = the code
    /// among the secondary diagnoses).
    pub resistance: String,
}

/// A row of `procedure_attributes.csv`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeRow {
    /// 1-based line.
    pub line: u64,
    /// A procedure code, or a prefix ending in `*`.
    pub code: String,
    /// surgery / interventional / therapeutic / diagnostic.
    pub attribute: String,
    /// Name (informational).
    pub name: String,
}

/// A row of `exclusions.csv`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExclusionRow {
    /// 1-based line.
    pub line: u64,
    /// `principal_dx`, `procedure_ignore` or `procedure_conservative`.
    pub kind: String,
    /// A diagnosis spec, or a procedure code / prefix ending in `*`.
    pub code: String,
    /// Free text.
    pub note: String,
    /// National rules, procedure kinds: the procedure stays principal when the principal
    /// diagnosis matches these specs (the endoscopy note).
    pub unless_dx: String,
}

/// A row of `primary_care.csv` (national rules): a case grouped by a merge or core
/// type without related procedures is of a primary-care type when its principal
/// diagnosis and principal procedure are those of a row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrimaryCareRow {
    /// 1-based line.
    pub line: u64,
    /// The row's number (序号).
    pub code: String,
    /// Principal-diagnosis specs.
    pub principal_dx: String,
    /// Principal procedure `a|b` (empty = none: conservative).
    pub procedures: String,
    /// Name (informational).
    pub name: String,
}

/// A row of `aux.csv`: one auxiliary sub-type with its conditions (all must hold).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuxRow {
    /// 1-based line.
    pub line: u64,
    /// Sub-type code, unique.
    pub code: String,
    /// Name.
    pub name: String,
    /// `severity`, `tumour`, `age`, `icu`, `cci` or `other`.
    pub kind: String,
    /// The coefficient (m_j / M).
    pub coefficient: String,
    /// Type codes it applies to, `|`-separated; empty = all types.
    pub types: String,
    /// Condition on the principal diagnosis (specs).
    pub principal_dx: String,
    /// Condition: some secondary diagnosis matches (specs).
    pub secondary_dx: String,
    /// Condition: discharge way is one of these (`5`, `4|5`).
    pub discharge_way: String,
    /// Condition: length of stay range.
    pub los: String,
    /// Condition: age range (years).
    pub age: String,
    /// Condition: age in days range.
    pub age_days: String,
    /// Condition: ICU days range.
    pub icu_days: String,
    /// Condition: Charlson index range.
    pub cci: String,
    /// Condition: total cost ≥ this multiple of the type's mean cost.
    pub cost_ratio: String,
}

/// A row of `cci.csv`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CciRow {
    /// 1-based line.
    pub line: u64,
    /// Diagnosis spec.
    pub code: String,
    /// Comorbidity category (counted once per case).
    pub category: String,
    /// Its weight.
    pub weight: String,
}

/// A row of `dx_lists.csv`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DxListRow {
    /// 1-based line.
    pub line: u64,
    /// List name, referenced as `@name`.
    pub list: String,
    /// Diagnosis spec.
    pub code: String,
}

/// A whole catalogue as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogSource {
    /// `catalog.json`.
    pub manifest: Manifest,
    /// SHA-256 (hex) over the files read, in a fixed order (empty when made in code).
    pub content_hash: String,
    /// `types.csv`.
    pub types: Vec<TypeRow>,
    /// `procedure_attributes.csv`.
    pub attributes: Vec<AttributeRow>,
    /// `exclusions.csv`.
    pub exclusions: Vec<ExclusionRow>,
    /// `aux.csv`.
    pub aux: Vec<AuxRow>,
    /// `cci.csv`.
    pub cci: Vec<CciRow>,
    /// `dx_lists.csv`.
    pub dx_lists: Vec<DxListRow>,
    /// `primary_care.csv`.
    pub primary_care: Vec<PrimaryCareRow>,
}

/// The files of a catalogue folder in hashing order, and whether each is required.
const FILES: &[(&str, bool)] = &[
    (MANIFEST, true),
    (TYPES, true),
    (ATTRIBUTES, false),
    (EXCLUSIONS, false),
    (AUX, false),
    (CCI, false),
    (DX_LISTS, false),
    (PRIMARY_CARE, false),
];

/// The columns of each table: (name, required).
const TYPE_COLS: &[(&str, bool)] = &[
    ("code", true),
    ("name", false),
    ("layer", true),
    ("principal_dx", true),
    ("procedures", true),
    ("attribute", false),
    ("any_dx", false),
    ("age", false),
    ("age_days", false),
    ("weight", false),
    ("vent_hours", false),
    ("los", false),
    ("score", true),
    ("mean_cost", false),
    ("cases", false),
    ("cv", false),
    ("primary_care", false),
    ("primary_care_coef", false),
    ("related", false),
    ("all_px", false),
    ("secondary_dx", false),
    ("resistance", false),
];
const ATTR_COLS: &[(&str, bool)] = &[("code", true), ("attribute", true), ("name", false)];
const EXCL_COLS: &[(&str, bool)] = &[
    ("kind", true),
    ("code", true),
    ("note", false),
    ("unless_dx", false),
];
const PC_COLS: &[(&str, bool)] = &[
    ("code", true),
    ("principal_dx", true),
    ("procedures", true),
    ("name", false),
];
const AUX_COLS: &[(&str, bool)] = &[
    ("code", true),
    ("name", false),
    ("kind", true),
    ("coefficient", true),
    ("types", false),
    ("principal_dx", false),
    ("secondary_dx", false),
    ("discharge_way", false),
    ("los", false),
    ("age", false),
    ("age_days", false),
    ("icu_days", false),
    ("cci", false),
    ("cost_ratio", false),
];
const CCI_COLS: &[(&str, bool)] = &[("code", true), ("category", true), ("weight", true)];
const LIST_COLS: &[(&str, bool)] = &[("list", true), ("code", true)];

impl CatalogSource {
    /// An empty catalogue with this manifest (for building in code).
    pub fn new(manifest: Manifest) -> CatalogSource {
        CatalogSource {
            manifest,
            content_hash: String::new(),
            types: Vec::new(),
            attributes: Vec::new(),
            exclusions: Vec::new(),
            aux: Vec::new(),
            cci: Vec::new(),
            dx_lists: Vec::new(),
            primary_care: Vec::new(),
        }
    }

    /// Reads a catalogue folder. Missing required files, unreadable JSON, missing
    /// columns and malformed CSV records are reported with file, row and field.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<CatalogSource, CatalogError> {
        let dir = dir.as_ref();
        let folder = crate::folder::Folder::read(dir, FILES)
            .map_err(|(path, source)| CatalogError::Io { path, source })?;
        let hash = folder.hash.clone();
        let mut source = Self::from_files(&|name| folder.get(name))?;
        source.content_hash = hash;
        Ok(source)
    }

    /// Parses catalogue files given by name (`catalog.json`, `types.csv`…); a missing
    /// optional file is an empty table.
    pub fn from_files<'a>(
        file: &dyn Fn(&str) -> Option<&'a [u8]>,
    ) -> Result<CatalogSource, CatalogError> {
        let mut problems = Vec::new();
        let manifest_bytes = file(MANIFEST).unwrap_or_default();
        let de = &mut serde_json::Deserializer::from_slice(manifest_bytes);
        let manifest: Option<Manifest> = match serde_path_to_error::deserialize(de) {
            Ok(m) => Some(m),
            Err(e) => {
                problems.push(Problem {
                    file: MANIFEST.into(),
                    line: e.inner().line() as u64,
                    field: e.path().to_string(),
                    message: e.inner().to_string(),
                });
                None
            }
        };
        let mut table = |name: &str, cols: &[(&str, bool)]| -> Vec<(u64, Vec<String>)> {
            match file(name) {
                None if name == TYPES => {
                    problems.push(Problem {
                        file: name.into(),
                        line: 0,
                        field: String::new(),
                        message: "the file is required".into(),
                    });
                    Vec::new()
                }
                None => Vec::new(),
                Some(bytes) => match read_csv(name, bytes, cols) {
                    Ok(rows) => rows,
                    Err(p) => {
                        problems.push(p);
                        Vec::new()
                    }
                },
            }
        };
        let types = table(TYPES, TYPE_COLS)
            .into_iter()
            .map(|(line, v)| {
                let mut v = v.into_iter();
                let mut n = || v.next().unwrap_or_default();
                TypeRow {
                    line,
                    code: n(),
                    name: n(),
                    layer: n(),
                    principal_dx: n(),
                    procedures: n(),
                    attribute: n(),
                    any_dx: n(),
                    age: n(),
                    age_days: n(),
                    weight: n(),
                    vent_hours: n(),
                    los: n(),
                    score: n(),
                    mean_cost: n(),
                    cases: n(),
                    cv: n(),
                    primary_care: n(),
                    primary_care_coef: n(),
                    related: n(),
                    all_px: n(),
                    secondary_dx: n(),
                    resistance: n(),
                }
            })
            .collect();
        let attributes = table(ATTRIBUTES, ATTR_COLS)
            .into_iter()
            .map(|(line, v)| {
                let mut v = v.into_iter();
                let mut n = || v.next().unwrap_or_default();
                AttributeRow {
                    line,
                    code: n(),
                    attribute: n(),
                    name: n(),
                }
            })
            .collect();
        let exclusions = table(EXCLUSIONS, EXCL_COLS)
            .into_iter()
            .map(|(line, v)| {
                let mut v = v.into_iter();
                let mut n = || v.next().unwrap_or_default();
                ExclusionRow {
                    line,
                    kind: n(),
                    code: n(),
                    note: n(),
                    unless_dx: n(),
                }
            })
            .collect();
        let aux = table(AUX, AUX_COLS)
            .into_iter()
            .map(|(line, v)| {
                let mut v = v.into_iter();
                let mut n = || v.next().unwrap_or_default();
                AuxRow {
                    line,
                    code: n(),
                    name: n(),
                    kind: n(),
                    coefficient: n(),
                    types: n(),
                    principal_dx: n(),
                    secondary_dx: n(),
                    discharge_way: n(),
                    los: n(),
                    age: n(),
                    age_days: n(),
                    icu_days: n(),
                    cci: n(),
                    cost_ratio: n(),
                }
            })
            .collect();
        let cci = table(CCI, CCI_COLS)
            .into_iter()
            .map(|(line, v)| {
                let mut v = v.into_iter();
                let mut n = || v.next().unwrap_or_default();
                CciRow {
                    line,
                    code: n(),
                    category: n(),
                    weight: n(),
                }
            })
            .collect();
        let dx_lists = table(DX_LISTS, LIST_COLS)
            .into_iter()
            .map(|(line, v)| {
                let mut v = v.into_iter();
                let mut n = || v.next().unwrap_or_default();
                DxListRow {
                    line,
                    list: n(),
                    code: n(),
                }
            })
            .collect();
        let primary_care = table(PRIMARY_CARE, PC_COLS)
            .into_iter()
            .map(|(line, v)| {
                let mut v = v.into_iter();
                let mut n = || v.next().unwrap_or_default();
                PrimaryCareRow {
                    line,
                    code: n(),
                    principal_dx: n(),
                    procedures: n(),
                    name: n(),
                }
            })
            .collect();
        match manifest {
            Some(manifest) if problems.is_empty() => Ok(CatalogSource {
                manifest,
                content_hash: String::new(),
                types,
                attributes,
                exclusions,
                aux,
                cci,
                dx_lists,
                primary_care,
            }),
            _ => Err(CatalogError::Invalid(problems)),
        }
    }

    /// Writes the catalogue as a folder (manifest and every non-empty table).
    pub fn write_dir(&self, dir: impl AsRef<Path>) -> Result<(), CatalogError> {
        let dir = dir.as_ref();
        let io = |path: &Path, source: std::io::Error| CatalogError::Io {
            path: path.into(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let json = serde_json::to_string_pretty(&self.manifest).expect("a manifest serialises");
        let path = dir.join(MANIFEST);
        std::fs::write(&path, json + "\n").map_err(|e| io(&path, e))?;
        let mut tables: Vec<Table<'_>> = vec![(
            TYPES,
            TYPE_COLS,
            self.types
                .iter()
                .map(|r| {
                    vec![
                        &*r.code,
                        &r.name,
                        &r.layer,
                        &r.principal_dx,
                        &r.procedures,
                        &r.attribute,
                        &r.any_dx,
                        &r.age,
                        &r.age_days,
                        &r.weight,
                        &r.vent_hours,
                        &r.los,
                        &r.score,
                        &r.mean_cost,
                        &r.cases,
                        &r.cv,
                        &r.primary_care,
                        &r.primary_care_coef,
                        &r.related,
                        &r.all_px,
                        &r.secondary_dx,
                        &r.resistance,
                    ]
                })
                .collect(),
        )];
        if !self.attributes.is_empty() {
            tables.push((
                ATTRIBUTES,
                ATTR_COLS,
                self.attributes
                    .iter()
                    .map(|r| vec![&*r.code, &r.attribute, &r.name])
                    .collect(),
            ));
        }
        if !self.exclusions.is_empty() {
            tables.push((
                EXCLUSIONS,
                EXCL_COLS,
                self.exclusions
                    .iter()
                    .map(|r| vec![&*r.kind, &r.code, &r.note, &r.unless_dx])
                    .collect(),
            ));
        }
        if !self.aux.is_empty() {
            tables.push((
                AUX,
                AUX_COLS,
                self.aux
                    .iter()
                    .map(|r| {
                        vec![
                            &*r.code,
                            &r.name,
                            &r.kind,
                            &r.coefficient,
                            &r.types,
                            &r.principal_dx,
                            &r.secondary_dx,
                            &r.discharge_way,
                            &r.los,
                            &r.age,
                            &r.age_days,
                            &r.icu_days,
                            &r.cci,
                            &r.cost_ratio,
                        ]
                    })
                    .collect(),
            ));
        }
        if !self.cci.is_empty() {
            tables.push((
                CCI,
                CCI_COLS,
                self.cci
                    .iter()
                    .map(|r| vec![&*r.code, &r.category, &r.weight])
                    .collect(),
            ));
        }
        if !self.dx_lists.is_empty() {
            tables.push((
                DX_LISTS,
                LIST_COLS,
                self.dx_lists
                    .iter()
                    .map(|r| vec![&*r.list, &r.code])
                    .collect(),
            ));
        }
        if !self.primary_care.is_empty() {
            tables.push((
                PRIMARY_CARE,
                PC_COLS,
                self.primary_care
                    .iter()
                    .map(|r| vec![&*r.code, &r.principal_dx, &r.procedures, &r.name])
                    .collect(),
            ));
        }
        for (name, cols, rows) in tables {
            let path = dir.join(name);
            let mut w = csv::Writer::from_writer(Vec::new());
            let csv_err = |e: csv::Error| io(&path, std::io::Error::other(e.to_string()));
            w.write_record(cols.iter().map(|c| c.0)).map_err(csv_err)?;
            for r in rows {
                w.write_record(r).map_err(csv_err)?;
            }
            let bytes = w.into_inner().map_err(|e| io(&path, e.into_error()))?;
            std::fs::write(&path, bytes).map_err(|e| io(&path, e))?;
        }
        Ok(())
    }
}

/// A table to write: file name, columns, rows.
type Table<'a> = (&'a str, &'a [(&'a str, bool)], Vec<Vec<&'a str>>);

/// Reads the named columns of a CSV table; returns (line, values) per data row.
fn read_csv(
    file: &str,
    bytes: &[u8],
    columns: &[(&str, bool)],
) -> Result<Vec<(u64, Vec<String>)>, Problem> {
    let err = |line: u64, field: &str, message: String| Problem {
        file: file.into(),
        line,
        field: field.into(),
        message,
    };
    let mut reader = csv::ReaderBuilder::new().from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|e| err(1, "", e.to_string()))?
        .clone();
    let index: Vec<Option<usize>> = columns
        .iter()
        .map(|&(c, required)| {
            let i = headers
                .iter()
                .position(|h| h.trim_start_matches('\u{feff}').trim() == c);
            if i.is_none() && required {
                Err(err(1, c, format!("missing column `{c}` in the header")))
            } else {
                Ok(i)
            }
        })
        .collect::<Result<_, _>>()?;
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            err(line, "", format!("malformed CSV record: {e}"))
        })?;
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let values = index
            .iter()
            .map(|i| {
                i.and_then(|i| record.get(i))
                    .unwrap_or("")
                    .trim()
                    .to_string()
            })
            .collect();
        rows.push((line, values));
    }
    Ok(rows)
}
