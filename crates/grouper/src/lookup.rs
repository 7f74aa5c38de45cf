//! Code look-up for people: codes by prefix or by a part of their Chinese name, each
//! with its names, its MCC/CC exclusion tables and the scheme lists that hold it.
//! Off the hot path (a service's autocomplete, a coder's reference).

use serde::{Deserialize, Serialize};

use crate::CodeId;
use crate::compile::{EXCLUSION_SLOT, Grouper, KNOWN_DX, KNOWN_PROC};
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scheme;

    fn demo() -> Grouper {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/demo-scheme");
        Grouper::compile(&Scheme::from_dir(dir).unwrap()).unwrap()
    }

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
}
