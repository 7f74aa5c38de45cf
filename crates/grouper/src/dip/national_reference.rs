//! A slow reference interpreter of the national DIP 3.0 workbook, written straight from
//! the grouping rules of `docs/dip-catalog.md` ("The national workbook") over the
//! [`NationalWorkbook`] data model and plain strings.
//!
//! It shares nothing with the compiled engine but the cell parsing of the reader
//! (codes are compared as trimmed, upper-case strings; diagnosis specs by
//! [`DxSpec::matches`](super::DxSpec::matches)). The tests hold the compiled catalogue
//! to it on the reference cases and on generated cases aimed at every layer and note.

use super::spec::{dx_key, px_key};
use super::workbook::{
    DxCell, NationalLayer, NationalType, NationalWorkbook, ProcCell, ProcedureNote, Resistance,
};

/// A case as text: diagnoses and procedures (principal first), age in days, birth
/// weight in grams.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NationalCase {
    /// Diagnosis codes, principal first (empty items are skipped).
    pub dx: Vec<String>,
    /// Procedure codes, principal first (empty items are skipped).
    pub px: Vec<String>,
    /// Age in days (天龄).
    pub age_days: Option<i64>,
    /// Birth weight in grams.
    pub weight: Option<i64>,
}

/// What the interpreter decides for a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NationalResult {
    /// `grouped`, `ungrouped`, `excluded` or `invalid`.
    pub status: &'static str,
    /// `分类-序号` of the type (empty when none).
    pub dip_code: String,
    /// `pre`, `merge`, `burn`, `tumor`, `tb`, `core`, `ungrouped`, `excluded`, `invalid`.
    pub layer: &'static str,
    /// The case is of a primary-care type.
    pub primary_care: bool,
}

impl NationalResult {
    fn none(status: &'static str) -> NationalResult {
        NationalResult {
            status,
            dip_code: String::new(),
            layer: status,
            primary_care: false,
        }
    }
}

/// The interpreter: the workbook and nothing precomputed.
#[derive(Debug, Clone, Copy)]
pub struct NationalReference<'w> {
    wb: &'w NationalWorkbook,
}

/// Whether every group of the cell has a code among `codes`.
fn groups_met(cell: &ProcCell, codes: &[String]) -> bool {
    cell.groups
        .iter()
        .all(|g| g.iter().any(|c| codes.iter().any(|x| x == c)))
}

/// Whether the principal procedure cell holds: empty = no principal procedure.
fn principal_ok(cell: &ProcCell, principal: Option<&str>) -> bool {
    match (cell.groups.first(), principal) {
        (None, None) => true,
        (None, Some(_)) | (Some(_), None) => false,
        (Some(g), Some(p)) => g.iter().any(|c| c == p),
    }
}

impl<'w> NationalReference<'w> {
    /// An interpreter of this workbook.
    pub fn new(wb: &'w NationalWorkbook) -> Self {
        NationalReference { wb }
    }

    /// Groups one case.
    pub fn group(&self, case: &NationalCase) -> NationalResult {
        let dx: Vec<String> = case
            .dx
            .iter()
            .map(|c| dx_key(c))
            .filter(|c| !c.is_empty())
            .collect();
        let px: Vec<String> = case
            .px
            .iter()
            .map(|c| px_key(c))
            .filter(|c| !c.is_empty())
            .collect();
        let Some(principal) = dx.first() else {
            return NationalResult::none("invalid");
        };
        // 1. Exclusions: the principal diagnosis by whole code.
        if self
            .wb
            .excluded_dx
            .iter()
            .any(|c| dx_key(&c.code) == *principal)
        {
            return NationalResult::none("excluded");
        }
        // The principal procedure, after its note.
        let mut principal_px = px.first().map(String::as_str);
        if let Some(p) = principal_px
            && let Some(e) = self.wb.excluded_px.iter().find(|e| e.code == p)
        {
            let keep = match &e.note {
                ProcedureNote::Conservative | ProcedureNote::NotPrincipal => false,
                ProcedureNote::PrincipalWhenDx(specs) => specs.iter().any(|s| s.matches(principal)),
            };
            if !keep {
                principal_px = None;
            }
        }
        let others: &[String] = px.get(1..).unwrap_or_default();
        let secondary = &dx[1..];
        let marker_in_secondary = |marker: &str| {
            let m = dx_key(marker);
            secondary.contains(&m)
        };
        let listed = self
            .wb
            .tb_resistant
            .iter()
            .any(|c| dx_key(&c.code) == *principal);
        let marker = self.wb.tb_marker().unwrap_or("U84.300").to_string();

        // Each layer: the matching rows ranked by (earliest secondary diagnosis, most
        // related groups / treatment codes), ties to the first row of the sheet.
        for layer in [
            NationalLayer::Pre,
            NationalLayer::Merge,
            NationalLayer::Burn,
            NationalLayer::Tumor,
            NationalLayer::Tb,
            NationalLayer::Core,
        ] {
            let mut best: Option<(&NationalType, (usize, std::cmp::Reverse<usize>))> = None;
            for t in self.wb.types.iter().filter(|t| t.layer == layer) {
                let dx_ok = if t.dx_anywhere {
                    dx.iter().any(|d| t.principal_dx.matches(d))
                } else {
                    t.principal_dx.matches(principal)
                };
                if !dx_ok {
                    continue;
                }
                if !t.age_days.is_none_or(|r| r.holds(case.age_days))
                    || !t.birth_weight.is_none_or(|r| r.holds(case.weight))
                {
                    continue;
                }
                let px_ok = match layer {
                    NationalLayer::Pre if t.principal_px.is_empty() => true,
                    NationalLayer::Pre if t.px_anywhere => groups_met(&t.principal_px, &px),
                    NationalLayer::Tumor => true,
                    _ => principal_ok(&t.principal_px, principal_px),
                };
                if !px_ok || !groups_met(&t.related, others) || !groups_met(&t.treatment, &px) {
                    continue;
                }
                let sec_pos = if t.secondary_dx.is_empty() {
                    0
                } else {
                    let cell = DxCell::Specs(t.secondary_dx.clone());
                    match secondary.iter().position(|d| cell.matches(d)) {
                        Some(i) => i,
                        None => continue,
                    }
                };
                if let Some(r) = &t.resistance.clone().or_else(|| {
                    t.resistant.map(|yes| {
                        if yes {
                            Resistance::ListedOrMarker(marker.clone())
                        } else {
                            Resistance::NeitherListedNorMarker(marker.clone())
                        }
                    })
                }) {
                    let ok = match r {
                        Resistance::ListedOrMarker(m) => listed || marker_in_secondary(m),
                        Resistance::NeitherListedNorMarker(m) => !listed && !marker_in_secondary(m),
                        Resistance::Marker(m) => marker_in_secondary(m),
                        Resistance::NoMarker(m) => !marker_in_secondary(m),
                    };
                    if !ok {
                        continue;
                    }
                }
                let count = t.related.groups.len() + t.treatment.groups.len();
                let rank = (sec_pos, std::cmp::Reverse(count));
                if best.as_ref().is_none_or(|(_, b)| rank < *b) {
                    best = Some((t, rank));
                }
            }
            if let Some((t, _)) = best {
                let primary_care = matches!(layer, NationalLayer::Merge | NationalLayer::Core)
                    && t.related.is_empty()
                    && self.wb.primary_care.iter().any(|p| {
                        p.principal_dx.matches(principal)
                            && principal_ok(&p.principal_px, principal_px)
                    });
                return NationalResult {
                    status: "grouped",
                    dip_code: t.code(),
                    layer: layer.as_str(),
                    primary_care,
                };
            }
        }
        NationalResult::none("ungrouped")
    }
}
