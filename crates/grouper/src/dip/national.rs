//! The national workbook as a declarative catalogue: [`NationalWorkbook::to_source`]
//! writes every rule of the workbook into the rows of a [`CatalogSource`] under
//! [`Rules::National`], so the national catalogue and a local catalogue calibrated from
//! it (a folder in drgdip's format) share one compiler and one hot path.
//!
//! | workbook | catalogue folder |
//! |-|-|
//! | rule rows | `types.csv`: `code` = `分类-序号`, `layer` pre/merge/burn/tumor/tb/core, `score` empty |
//! | `所有诊断` | empty `principal_dx` (any) |
//! | P07 note (`不限定为主要诊断`) | `any_dx` = the cell, `principal_dx` empty |
//! | principal-procedure cell | `procedures` (`a\|b\|c`; empty = conservative) |
//! | `不限定为主要手术操作` note, tumour treatment | `all_px` (groups met anywhere), `procedures` = `*` |
//! | related cell | `related` (`+` binds loosest) |
//! | burn area, tumour range | `secondary_dx` |
//! | 天龄, 出生体重 | `age_days`, `weight` |
//! | 是否耐药 / 耐药判断规则 | `resistance` `KIND:MARKER` (an empty rule: 是 → `listed_or_marker`, 否 → `neither_listed_nor_marker`) |
//! | 附表 | `dx_lists.csv` list `tb_resistant` |
//! | 不纳入分组的主要诊断 | `exclusions.csv` `principal_dx` (whole codes) |
//! | 不纳入分组的主要手术操作 | `exclusions.csv` `procedure_conservative`, the endoscopy note as `unless_dx` |
//! | 六、基层病种 | `primary_care.csv` |

use super::source::{
    self, CatalogOptions, CatalogSource, DxListRow, ExclusionRow, Manifest, PrimaryCareRow, Rules,
    TypeRow,
};
use super::spec::DxSpec;
use super::workbook::{
    DxCell, NationalLayer, NationalWorkbook, ProcCell, ProcedureNote, Resistance,
};

/// The marker code assumed when no TB row states one.
const DEFAULT_MARKER: &str = "U84.300";

fn specs_text(specs: &[DxSpec]) -> String {
    specs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("|")
}

fn dx_text(cell: &DxCell) -> String {
    match cell {
        DxCell::All => String::new(),
        DxCell::Specs(s) => specs_text(s),
    }
}

fn principal_text(cell: &ProcCell) -> String {
    cell.groups.first().map(|g| g.join("|")).unwrap_or_default()
}

impl NationalWorkbook {
    /// The workbook as a catalogue source under national rules (see the module
    /// documentation for the mapping). Compile it with
    /// [`Catalog::compile`](super::Catalog::compile).
    pub fn to_source(&self) -> CatalogSource {
        let manifest = Manifest {
            name: "nhsa-dip".into(),
            version: "3.0".into(),
            region: "national".into(),
            score_scale: 1000,
            description:
                "NHSA national DIP 3.0 catalogue (国家病种库): no scores, no composite types".into(),
            options: CatalogOptions {
                rules: Rules::National,
                ..CatalogOptions::default()
            },
        };
        let mut src = CatalogSource::new(manifest);
        src.content_hash = self.content_hash.clone();
        let marker = self.tb_marker().unwrap_or(DEFAULT_MARKER).to_string();
        for (i, t) in self.types.iter().enumerate() {
            let mut row = TypeRow {
                line: i as u64 + 2,
                code: t.code(),
                name: t.name.clone(),
                layer: t.layer.as_str().into(),
                related: t.related.to_string(),
                secondary_dx: specs_text(&t.secondary_dx),
                ..TypeRow::default()
            };
            if t.dx_anywhere {
                row.any_dx = dx_text(&t.principal_dx);
            } else {
                row.principal_dx = dx_text(&t.principal_dx);
            }
            match t.layer {
                NationalLayer::Pre if t.principal_px.is_empty() => row.procedures = "*".into(),
                NationalLayer::Pre if t.px_anywhere => {
                    row.procedures = "*".into();
                    row.all_px = t.principal_px.to_string();
                }
                NationalLayer::Tumor => {
                    row.procedures = "*".into();
                    row.all_px = t.treatment.to_string();
                }
                _ => row.procedures = principal_text(&t.principal_px),
            }
            let range = |r: Option<super::Range>| {
                r.map(|r| format!("{}-{}", r.min, r.max))
                    .unwrap_or_default()
            };
            row.age_days = range(t.age_days);
            row.weight = range(t.birth_weight);
            let resistance = t.resistance.clone().or_else(|| {
                t.resistant.map(|yes| {
                    if yes {
                        Resistance::ListedOrMarker(marker.clone())
                    } else {
                        Resistance::NeitherListedNorMarker(marker.clone())
                    }
                })
            });
            if let Some(r) = resistance {
                row.resistance = format!("{}:{}", r.keyword(), r.marker());
            }
            src.types.push(row);
        }
        for (i, c) in self.tb_resistant.iter().enumerate() {
            src.dx_lists.push(DxListRow {
                line: i as u64 + 2,
                list: source::TB_RESISTANT_LIST.into(),
                code: c.code.clone(),
            });
        }
        let mut line = 2;
        for c in &self.excluded_dx {
            src.exclusions.push(ExclusionRow {
                line,
                kind: "principal_dx".into(),
                code: c.code.clone(),
                note: c.name.clone(),
                unless_dx: String::new(),
            });
            line += 1;
        }
        for c in &self.excluded_px {
            src.exclusions.push(ExclusionRow {
                line,
                kind: "procedure_conservative".into(),
                code: c.code.clone(),
                note: c.note_text.replace(['\n', '\r'], ""),
                unless_dx: match &c.note {
                    ProcedureNote::PrincipalWhenDx(specs) => specs_text(specs),
                    ProcedureNote::Conservative | ProcedureNote::NotPrincipal => String::new(),
                },
            });
            line += 1;
        }
        for (i, p) in self.primary_care.iter().enumerate() {
            src.primary_care.push(PrimaryCareRow {
                line: i as u64 + 2,
                code: p.seq.to_string(),
                principal_dx: dx_text(&p.principal_dx),
                procedures: principal_text(&p.principal_px),
                name: p.name.clone(),
            });
        }
        src
    }
}
