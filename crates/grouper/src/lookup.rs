//! Code look-up for people: codes by prefix or by a part of their Chinese name, each
//! with its names, its MCC/CC exclusion tables and the scheme lists that hold it; and
//! what a DIP catalogue makes of a code: the types that take a diagnosis as principal,
//! the types that list a procedure.
//! Off the hot path (a service's autocomplete, a coder's reference).

use serde::{Deserialize, Serialize};

use crate::CodeId;
use crate::compile::{EXCLUSION_SLOT, Grouper, KNOWN_DX, KNOWN_PROC};
use crate::dip::Catalog;
use crate::dip::compile::Procs;
use crate::group::CodeKind;

/// What a scheme knows of one code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeInfo {
    /// The scheme's spelling of the code.
    pub code: String,
    /// `diagnosis`, `procedure`, or `diagnosis+procedure` when both dictionaries hold it.
    pub kind: String,
    /// Its diagnosis name (empty when none).
    pub dx_name: String,
    /// Its procedure name (empty when none).
    pub proc_name: String,
    /// The exclusion table of the code as an MCC, when it is one.
    pub mcc: Option<String>,
    /// The exclusion table of the code as a CC, when it is one.
    pub cc: Option<String>,
    /// The exclusion table the code belongs to as a principal diagnosis, if any.
    pub principal_table: Option<String>,
    /// The scheme's lists (rule slots) that hold the code, in slot order, each once;
    /// `list/group` for a list read per group.
    pub lists: Vec<String>,
}

impl Grouper {
    /// Everything the scheme knows of `code` (`None` when it is in no dictionary).
    pub fn code_info(&self, code: &str) -> Option<CodeInfo> {
        let dx = self.lookup(code, CodeKind::Diagnosis, false);
        let px = self.lookup(code, CodeKind::Procedure, false);
        let id = if dx.known {
            dx.id
        } else if px.known {
            px.id
        } else {
            return None;
        };
        Some(self.info_of(id))
    }

    /// Codes whose normalised spelling starts with `query` (trimmed, upper-cased), then,
    /// when fewer than `limit` were found, codes whose diagnosis or procedure name
    /// contains `query`; at most `limit`, in code order within each part, each once.
    /// `kind` keeps only codes of that dictionary. An empty query finds nothing.
    pub fn search_codes(&self, query: &str, kind: Option<CodeKind>, limit: usize) -> Vec<CodeInfo> {
        let query = query.trim();
        if query.is_empty() || limit == 0 {
            return Vec::new();
        }
        let wanted = |id: CodeId| {
            let flags = self.codes.flags[id as usize];
            match kind {
                None => flags & (KNOWN_DX | KNOWN_PROC) != 0,
                Some(CodeKind::Diagnosis) => flags & KNOWN_DX != 0,
                Some(CodeKind::Procedure) => flags & KNOWN_PROC != 0,
            }
        };
        let mut ids: Vec<CodeId> = Vec::new();
        let upper = query.to_uppercase();
        let codes = &self.codes.normalized;
        // The dictionary is sorted: the codes with a prefix are one run.
        let (mut lo, mut hi) = (0usize, codes.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if codes.get(mid) < upper.as_str() {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let mut i = lo;
        while i < codes.len() && ids.len() < limit && codes.get(i).starts_with(upper.as_str()) {
            if wanted(i as CodeId) {
                ids.push(i as CodeId);
            }
            i += 1;
        }
        if ids.len() < limit {
            for i in 0..codes.len() {
                if ids.len() >= limit {
                    break;
                }
                let id = i as CodeId;
                if !wanted(id) || ids.contains(&id) {
                    continue;
                }
                let dx =
                    kind != Some(CodeKind::Procedure) && self.codes.dx_name.get(i).contains(query);
                let px = kind != Some(CodeKind::Diagnosis)
                    && self.codes.proc_name.get(i).contains(query);
                if dx || px {
                    ids.push(id);
                }
            }
        }
        ids.into_iter().map(|id| self.info_of(id)).collect()
    }

    fn info_of(&self, id: CodeId) -> CodeInfo {
        let flags = self.codes.flags[id as usize];
        let kind = match (flags & KNOWN_DX != 0, flags & KNOWN_PROC != 0) {
            (true, true) => "diagnosis+procedure",
            (false, true) => "procedure",
            _ => "diagnosis",
        };
        let [m, c, p] = self.exclusion_tables(id);
        let table = |t: u16| (t != 0).then(|| self.tables[t as usize - 1].clone());
        let mut lists: Vec<String> = Vec::new();
        for (s, slot) in self.slots.iter().enumerate() {
            if slot.list.starts_with(EXCLUSION_SLOT) || !self.has(id, s as u32) {
                continue;
            }
            let name = match &slot.group {
                Some(g) => format!("{}/{g}", slot.list),
                None => slot.list.clone(),
            };
            if !lists.contains(&name) {
                lists.push(name);
            }
        }
        CodeInfo {
            code: self.code(id).to_string(),
            kind: kind.to_string(),
            dx_name: self.code_name(id, CodeKind::Diagnosis).to_string(),
            proc_name: self.code_name(id, CodeKind::Procedure).to_string(),
            mcc: table(m),
            cc: table(c),
            principal_table: table(p),
            lists,
        }
    }
}

/// A DIP type as the code look-up shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DipTypeRef {
    /// Type code.
    pub code: String,
    /// Type name.
    pub name: String,
    /// Its layer (`core`, `composite`, …).
    pub layer: String,
    /// A primary-care type (基层病种).
    pub primary_care: bool,
    /// How the type takes the code: as principal diagnosis by `code` (exactly), by
    /// `subcategory` (亚目), by `category` or by a category `range`; as procedure in its
    /// `procedures`, its `related` procedures or the procedures it needs `anywhere`.
    pub by: String,
}

/// What a DIP catalogue knows of one code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DipCodeInfo {
    /// The code as asked (trimmed, upper-case).
    pub code: String,
    /// `diagnosis` or `procedure`.
    pub kind: String,
    /// Diagnoses: the catalogue's class the code falls in (the code, its 亚目 or its
    /// category, dot-free); procedures: the listed code. Empty when the catalogue does
    /// not know it.
    pub class: String,
    /// Procedures: the attribute the catalogue gives it (listed or by prefix).
    pub attribute: Option<String>,
    /// Diagnoses: the types that take it as principal diagnosis, in the order the
    /// grouper tries them (types open to any principal diagnosis are not listed).
    pub principal_of: Vec<DipTypeRef>,
    /// Procedures: the types whose procedure lists hold it, in catalogue order.
    pub procedure_of: Vec<DipTypeRef>,
}

impl Catalog {
    fn type_ref(&self, row: u32, by: &str) -> DipTypeRef {
        let t = &self.types[row as usize];
        DipTypeRef {
            code: t.code.clone(),
            name: t.name.clone(),
            layer: t.layer.as_str().to_string(),
            primary_care: t.primary_care,
            by: by.to_string(),
        }
    }

    /// Whether a group range `alts[start..start+len]` holds procedure `id`.
    fn alts_hold(&self, (start, len): (u32, u32), id: u32) -> bool {
        self.alts
            .get(start as usize..(start + len) as usize)
            .unwrap_or_default()
            .iter()
            .any(|&(cs, cl)| {
                self.alt_codes
                    .get(cs as usize..(cs + cl) as usize)
                    .unwrap_or_default()
                    .contains(&id)
            })
    }

    /// What the catalogue knows of a diagnosis or procedure code: for a diagnosis,
    /// the types that take it as principal diagnosis; for a procedure, the types that
    /// list it. Off the hot path (a look-up for people).
    pub fn dip_code_info(&self, code: &str, kind: CodeKind) -> DipCodeInfo {
        let upper = code.trim().to_uppercase();
        match kind {
            CodeKind::Diagnosis => {
                let found = self.dx(&upper);
                let mut principal_of = Vec::new();
                if found.known {
                    for c in self.cands(found.id) {
                        let by = match c.level {
                            3 => "code",
                            2 => "subcategory",
                            1 => "category",
                            0 => "range",
                            _ => continue,
                        };
                        principal_of.push(self.type_ref(c.row, by));
                    }
                }
                DipCodeInfo {
                    code: upper,
                    kind: "diagnosis".into(),
                    class: if found.known {
                        self.class_key(found.id).to_string()
                    } else {
                        String::new()
                    },
                    attribute: None,
                    principal_of,
                    procedure_of: Vec::new(),
                }
            }
            CodeKind::Procedure => {
                let found = self.px(&upper);
                let listed = (found.id as usize) < self.px.codes.len();
                let mut procedure_of = Vec::new();
                if listed {
                    for (row, t) in self.types.iter().enumerate() {
                        let by = if matches!(t.procs, Procs::Alts(s, l) if self.alts_hold((s, l), found.id))
                        {
                            "procedures"
                        } else if self.alts_hold(t.nat.related, found.id) {
                            "related"
                        } else if self.alts_hold(t.nat.all_px, found.id) {
                            "anywhere"
                        } else {
                            continue;
                        };
                        procedure_of.push(self.type_ref(row as u32, by));
                    }
                }
                DipCodeInfo {
                    code: upper,
                    kind: "procedure".into(),
                    class: if listed {
                        self.px_code(found.id)
                    } else {
                        String::new()
                    },
                    attribute: (listed || found.known)
                        .then(|| self.px_attribute(found.id).as_str().to_string()),
                    principal_of: Vec::new(),
                    procedure_of,
                }
            }
        }
    }

    /// The catalogue's diagnosis classes (dot-free) and listed procedure codes that
    /// start with `query` (trimmed, upper-cased, dots ignored for diagnoses), each with
    /// [`Catalog::dip_code_info`]; at most `limit`, diagnoses first, in code order.
    pub fn search_dip_codes(
        &self,
        query: &str,
        kind: Option<CodeKind>,
        limit: usize,
    ) -> Vec<DipCodeInfo> {
        let upper = query.trim().to_uppercase();
        if upper.is_empty() || limit == 0 {
            return Vec::new();
        }
        let mut out = Vec::new();
        if kind != Some(CodeKind::Procedure) {
            let key: String = upper.chars().filter(|&c| c != '.').collect();
            let keys = &self.dx.keys;
            let from = keys.partition_point(|k| **k < *key);
            for k in keys[from..].iter().take_while(|k| k.starts_with(&key)) {
                if out.len() >= limit {
                    return out;
                }
                out.push(self.dip_code_info(k, CodeKind::Diagnosis));
            }
        }
        if kind != Some(CodeKind::Diagnosis) {
            let codes = &self.px.codes;
            let from = codes.partition_point(|c| **c < *upper);
            for c in codes[from..].iter().take_while(|c| c.starts_with(&upper)) {
                if out.len() >= limit {
                    return out;
                }
                out.push(self.dip_code_info(c, CodeKind::Procedure));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_data::demo;

    #[test]
    fn codes_by_prefix_then_by_name() {
        let g = demo();
        let found = g.search_codes("j18", Some(CodeKind::Diagnosis), 10);
        let codes: Vec<&str> = found.iter().map(|c| c.code.as_str()).collect();
        assert!(codes.contains(&"J18.900"));
        assert!(codes.iter().all(|c| c.starts_with("J18")));
        let mut sorted = codes.clone();
        sorted.sort();
        assert_eq!(codes, sorted);
        let by_name = g.search_codes("肺炎", None, 50);
        assert!(
            by_name
                .iter()
                .any(|c| c.code == "J18.900" && c.dx_name == "肺炎")
        );
        assert!(
            by_name
                .iter()
                .all(|c| c.dx_name.contains("肺炎") || c.proc_name.contains("肺炎"))
        );
        assert_eq!(g.search_codes("J", None, 2).len(), 2);
        assert!(g.search_codes("  ", None, 5).is_empty());
        assert!(
            g.search_codes("J18", Some(CodeKind::Procedure), 5)
                .is_empty()
        );
        // R57.000 is an MCC of the demo scheme, and the lists hold J18.900.
        assert!(g.code_info("R57.000").unwrap().mcc.is_some());
        let j = g.code_info("j18.900").unwrap();
        assert!(j.lists.iter().any(|l| l.contains("pdx")), "{:?}", j.lists);
        assert!(g.code_info("NOPE").is_none());
    }

    #[test]
    fn dip_codes_name_the_types_that_take_them() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/demo-catalog");
        let cat = crate::open_catalog(std::path::Path::new(dir)).unwrap();
        let text = std::fs::read_to_string(format!("{dir}/types.csv")).unwrap();
        let rows: Vec<Vec<&str>> = text
            .lines()
            .skip(1)
            .map(|l| l.split(',').collect())
            .collect();
        let row = |code: &str| rows.iter().find(|r| r[0] == code).unwrap();
        // J18.900 falls in class J18.9: the rows whose principal spec is J18.9, J18 or a
        // category range around J18 take it.
        let covers = |spec: &str| {
            spec == "J18.9"
                || spec == "J18"
                || spec
                    .split_once('-')
                    .is_some_and(|(a, b)| a <= "J18" && "J18" <= b)
        };
        let mut want: Vec<&str> = rows.iter().filter(|r| covers(r[3])).map(|r| r[0]).collect();
        want.sort();
        assert!(want.len() >= 3, "{want:?}");
        let info = cat.dip_code_info(" j18.900", CodeKind::Diagnosis);
        assert_eq!(
            (info.code.as_str(), info.kind.as_str()),
            ("J18.900", "diagnosis")
        );
        assert_eq!(info.class, "J189");
        let mut got: Vec<&str> = info.principal_of.iter().map(|t| t.code.as_str()).collect();
        got.sort();
        assert_eq!(got, want);
        for t in &info.principal_of {
            let r = row(&t.code);
            assert_eq!((t.name.as_str(), t.layer.as_str()), (r[1], r[2]));
            assert_eq!(t.primary_care, r[16] == "1", "{}", t.code);
            assert_eq!(
                t.by,
                if r[3].contains('-') {
                    "range"
                } else {
                    "subcategory"
                }
            );
        }
        // The type the grouper gives a J18.900 case is among them, tried first.
        let mut case = crate::dip::DipCase::default();
        case.dx.push(cat.dx("J18.900").id);
        let mut scratch = cat.scratch();
        let grouped = cat.group(&case, &mut scratch);
        let code = &cat.type_of(&grouped).unwrap().code;
        assert_eq!(&info.principal_of[0].code, code);
        // 96.7201: the rows whose procedures list it.
        let lists = |cell: &str| cell.split(['+', '|']).any(|c| c == "96.7201");
        let mut want: Vec<&str> = rows.iter().filter(|r| lists(r[4])).map(|r| r[0]).collect();
        want.sort();
        assert!(want.len() >= 2, "{want:?}");
        let info = cat.dip_code_info("96.7201", CodeKind::Procedure);
        let mut got: Vec<&str> = info.procedure_of.iter().map(|t| t.code.as_str()).collect();
        got.sort();
        assert_eq!(got, want);
        assert!(info.procedure_of.iter().all(|t| t.by == "procedures"));
        assert!(info.principal_of.is_empty());
        // Unknown codes: nothing.
        let none = cat.dip_code_info("ZZ9.999", CodeKind::Diagnosis);
        assert!(none.class.is_empty() && none.principal_of.is_empty());
        assert!(
            cat.dip_code_info("00.0000", CodeKind::Procedure)
                .procedure_of
                .is_empty()
        );
        // Search by prefix: classes then procedure codes, each with its types.
        let found = cat.search_dip_codes("j18", None, 50);
        assert!(!found.is_empty());
        assert!(
            found
                .iter()
                .all(|c| c.code.starts_with("J18") && c.kind == "diagnosis")
        );
        assert!(
            found
                .iter()
                .any(|c| c.code == "J189" && !c.principal_of.is_empty())
        );
        let px = cat.search_dip_codes("96.72", Some(CodeKind::Procedure), 5);
        assert!(px.iter().any(|c| c.code == "96.7201"));
        assert_eq!(cat.search_dip_codes("J", None, 2).len(), 2);
    }
}
