//! Invariants of a decoded [`Grouper`]: the checksum of a compiled file catches damage,
//! not a crafted file, so every index the grouper follows is checked on load, and the
//! rule graph must be acyclic and shallow enough for the recursive evaluator.

use crate::Grouper;
use crate::compile::{Filter, MAX_SLOTS, NO_SLOT, Node, NodeId};

/// The deepest rule nesting accepted in a compiled file (the evaluator recurses once a
/// level; scheme files cannot nest deeper than their JSON reader's limit of 128).
pub(crate) const MAX_RULE_DEPTH: usize = 512;

/// Checks that `i < len`, naming what is out of range.
pub(crate) fn index(what: &str, i: u64, len: usize) -> Result<(), String> {
    if i < len as u64 {
        Ok(())
    } else {
        Err(format!("{what} {i} is out of range (there are {len})"))
    }
}

/// Checks that `[start, start + len)` lies within `0..total`.
pub(crate) fn range(what: &str, start: u32, len: u32, total: usize) -> Result<(), String> {
    if start as u64 + len as u64 <= total as u64 {
        Ok(())
    } else {
        Err(format!(
            "{what} {start}..{} is out of range (there are {total})",
            start as u64 + len as u64
        ))
    }
}

/// Checks that a per-id table has `want` entries.
pub(crate) fn length(what: &str, found: usize, want: usize) -> Result<(), String> {
    if found == want {
        Ok(())
    } else {
        Err(format!("{what} has {found} entries, expected {want}"))
    }
}

/// Checks that the directed graph `0..n → kids(i)` is acyclic and that no path is deeper
/// than `max_depth` nodes; iterative, so a crafted graph cannot overflow the stack.
pub(crate) fn acyclic(
    what: &str,
    n: usize,
    kids: impl Fn(usize) -> Vec<usize>,
    max_depth: usize,
) -> Result<(), String> {
    // 0 = not seen, 1 = on the current path, 2 = done; depth of finished nodes.
    let mut state = vec![0u8; n];
    let mut depth = vec![0usize; n];
    for root in 0..n {
        if state[root] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, Vec<usize>, usize)> = vec![(root, kids(root), 0)];
        state[root] = 1;
        while let Some((node, children, next)) = stack.last_mut() {
            if let Some(&c) = children.get(*next) {
                *next += 1;
                match state[c] {
                    1 => return Err(format!("{what}: node {c} is its own descendant (a cycle)")),
                    0 => {
                        state[c] = 1;
                        stack.push((c, kids(c), 0));
                    }
                    _ => {}
                }
                continue;
            }
            let d = 1 + children.iter().map(|&c| depth[c]).max().unwrap_or(0);
            if d > max_depth {
                return Err(format!("{what}: nested deeper than {max_depth} levels"));
            }
            depth[*node] = d;
            state[*node] = 2;
            stack.pop();
        }
    }
    Ok(())
}

impl Grouper {
    /// Checks every index a decoded grouper follows (see the module documentation).
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        let c = &self.codes;
        let n = c.normalized.len();
        index("the number of codes", n as u64, u32::MAX as usize)?;
        length("code spellings", c.spelling.len(), n)?;
        length("code flags", c.flags.len(), n)?;
        length("diagnosis names", c.dx_name.len(), n)?;
        length("procedure names", c.proc_name.len(), n)?;
        for (what, t) in [
            ("the code dictionary", &c.normalized),
            ("code spellings", &c.spelling),
            ("diagnosis names", &c.dx_name),
            ("procedure names", &c.proc_name),
        ] {
            t.check(what)?;
        }
        if (1..n).any(|i| c.normalized.get(i - 1) >= c.normalized.get(i)) {
            return Err("the code dictionary is not sorted".into());
        }
        for map in [&c.dx_map, &c.proc_map] {
            if map.windows(2).any(|w| w[0].0 > w[1].0) {
                return Err("a code map is not sorted".into());
            }
            for &(_, id) in map.iter() {
                index("code map target", id as u64, n)?;
            }
        }
        // Membership rows: slot bits, then the packed exclusion-table word.
        if self.words == 0 {
            return Err("membership rows have no words".into());
        }
        let row_words = (n + 1)
            .checked_mul(self.words)
            .ok_or("membership size overflows")?;
        length("the membership matrix", self.membership.len(), row_words)?;
        let slot_bits = (self.words - 1) as u64 * 64;
        if self.slots.len() as u64 > slot_bits {
            return Err(format!(
                "{} list slots do not fit in {} membership words",
                self.slots.len(),
                self.words - 1
            ));
        }
        // Each code's slots are listed on load as 16-bit ids, at 32-bit offsets.
        index(
            "the number of membership words",
            self.words as u64 - 1,
            MAX_SLOTS / 64 + 1,
        )?;
        let members: u64 = self
            .membership
            .chunks(self.words)
            .map(|row| {
                row[..self.words - 1]
                    .iter()
                    .map(|w| u64::from(w.count_ones()))
                    .sum::<u64>()
            })
            .sum();
        index("the number of list memberships", members, u32::MAX as usize)?;
        for row in self.membership.chunks(self.words) {
            let packed = row[self.words - 1];
            for k in 0..3 {
                let table = (packed >> (16 * k)) as u16;
                index("exclusion table", table as u64, self.tables.len() + 1)?;
            }
        }
        // Workbook schemes: one member slot per exclusion table.
        if !self.exclusion_slots.is_empty() {
            length(
                "the exclusion tables' member slots",
                self.exclusion_slots.len(),
                self.tables.len(),
            )?;
            for &slot in &self.exclusion_slots {
                index("exclusion member slot", slot as u64, self.slots.len())?;
            }
        }
        for t in &self.trauma {
            length("a trauma table's sites", t.site_of.len(), n + 1)?;
            index("the number of trauma sites", t.sites.len() as u64, 65)?;
            for &s in &t.site_of {
                index("trauma site", s as u64, t.sites.len() + 1)?;
            }
        }
        // Rules.
        let nodes = self.nodes.len();
        let node = |what: &str, id: NodeId| index(what, id as u64, nodes);
        let slot = |id: u32| index("list slot", id as u64, self.slots.len());
        let filter = |f: Filter| -> Result<(), String> {
            for s in [f.pdx, f.ppx] {
                if s != NO_SLOT {
                    slot(s)?;
                }
            }
            Ok(())
        };
        for (i, &id) in self.children.iter().enumerate() {
            node(&format!("child {i}: rule node"), id)?;
        }
        for (i, n) in self.nodes.iter().enumerate() {
            let at = |e: String| format!("rule node {i}: {e}");
            match *n {
                Node::And(start, len) | Node::Or(start, len) => {
                    range("children", start, len, self.children.len()).map_err(at)?
                }
                Node::Not(a) => node("operand", a).map_err(at)?,
                Node::InList(_, s) | Node::DistinctMin(_, s, _) => slot(s).map_err(at)?,
                Node::DeptIn(set) => {
                    index("value set", set as u64, self.value_sets.len()).map_err(at)?;
                    let pool = self.depts.len();
                    if self.value_sets[set as usize]
                        .iter()
                        .any(|&d| d as usize >= pool)
                    {
                        return Err(at("a department id is out of range".into()));
                    }
                }
                Node::DischargeWayIn(set) => {
                    index("value set", set as u64, self.value_sets.len()).map_err(at)?;
                    let pool = self.discharge_ways.len();
                    if self.value_sets[set as usize]
                        .iter()
                        .any(|&d| d as usize >= pool)
                    {
                        return Err(at("a discharge-way id is out of range".into()));
                    }
                }
                Node::TraumaSitesMin(t, _) => {
                    index("trauma table", t as u64, self.trauma.len()).map_err(at)?
                }
                Node::Const(_)
                | Node::HasProcedure
                | Node::SexEq(_)
                | Node::Present(_)
                | Node::Compare(..)
                | Node::HasMcc
                | Node::HasCc => {}
            }
        }
        let kids = |i: usize| -> Vec<usize> {
            match self.nodes[i] {
                Node::And(start, len) | Node::Or(start, len) => self.children
                    [start as usize..(start + len) as usize]
                    .iter()
                    .map(|&c| c as usize)
                    .collect(),
                Node::Not(a) => vec![a as usize],
                _ => Vec::new(),
            }
        };
        acyclic("the rule graph", nodes, kids, MAX_RULE_DEPTH)?;
        // Results, MDCs and entries.
        let result = |what: &str, r: u32| index(what, r as u64, self.results.len());
        result("the no-match result", self.no_match)?;
        result("the invalid result", self.invalid)?;
        if let Some(r) = &self.retry {
            result("the retry result", r.when)?;
        }
        length("entry rules", self.entry_hot.len(), self.entries.len())?;
        for (i, &(f, rule)) in self.entry_hot.iter().enumerate() {
            let at = |e: String| format!("entry {i}: {e}");
            filter(f).map_err(at)?;
            node("rule", rule).map_err(at)?;
        }
        for e in &self.entries {
            let at = |err: String| format!("entry `{}`: {err}", e.id);
            node("rule", e.rule).map_err(at)?;
            for t in &e.tests {
                result("split result", t.result).map_err(at)?;
                node("split condition", t.cond).map_err(at)?;
            }
            if let Some(f) = e.fallback {
                result("fallback result", f).map_err(at)?;
            }
        }
        for m in &self.mdcs {
            let at = |err: String| format!("MDC `{}`: {err}", m.code);
            node("entry rule", m.entry).map_err(at)?;
            filter(m.filter).map_err(at)?;
            for &e in &m.entries {
                index("entry", e as u64, self.entries.len()).map_err(at)?;
            }
            if let Some(q) = &m.qy {
                node("QY rule", q.rule).map_err(at)?;
                result("QY result", q.result).map_err(at)?;
            }
        }
        let masks = [
            ("MDC masks by principal diagnosis", &self.mdc_by_pdx),
            ("MDC masks by principal procedure", &self.mdc_by_ppx),
            (
                "runnable-MDC masks by principal diagnosis",
                &self.runnable_by_pdx,
            ),
            (
                "runnable-MDC masks by principal procedure",
                &self.runnable_by_ppx,
            ),
        ];
        if masks.iter().any(|(_, m)| !m.is_empty()) {
            for (what, m) in masks {
                length(what, m.len(), n + 1)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use crate::artifact;
    use crate::compile::Node;
    use crate::dip::{Catalog, CatalogSource};
    use crate::{ArtifactError, Grouper};

    use crate::test_data::demo;

    fn demo_catalog() -> Catalog {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/demo-catalog");
        Catalog::compile(&CatalogSource::from_dir(dir).unwrap()).unwrap()
    }

    /// A compiled file around `payload`, with a correct header and checksum.
    fn framed(label: &[u8; 16], version: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = label.to_vec();
        out.extend_from_slice(&version.to_le_bytes());
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(&Sha256::digest(payload));
        out.extend_from_slice(payload);
        out
    }

    fn invalid(g: &Grouper) -> String {
        match Grouper::from_bytes(&g.to_bytes().unwrap()) {
            Err(ArtifactError::Invalid(m)) => m,
            other => panic!("expected an inconsistent-file error, got {other:?}"),
        }
    }

    #[test]
    fn genuine_files_pass() {
        let g = demo();
        g.check_invariants().unwrap();
        Grouper::from_bytes(&g.to_bytes().unwrap()).unwrap();
        let c = demo_catalog();
        c.check_invariants().unwrap();
        Catalog::from_bytes(&c.to_bytes().unwrap()).unwrap();
    }

    #[test]
    fn a_69_byte_file_declaring_a_huge_string_is_rejected_without_allocating() {
        // The first field of both payloads is a string; its varint length is 2^58.
        let payload = [0xFD, 0, 0, 0, 0, 0, 0, 0, 0x04];
        let scheme = framed(artifact::SCHEME.label, artifact::SCHEME.version, &payload);
        assert_eq!(scheme.len(), 69);
        let e = Grouper::from_bytes(&scheme).unwrap_err();
        assert!(matches!(e, ArtifactError::Decode(_)), "{e}");
        let catalog = framed(
            crate::dip::artifact::CATALOG.label,
            crate::dip::artifact::CATALOG.version,
            &payload,
        );
        let e = Catalog::from_bytes(&catalog).unwrap_err();
        assert!(matches!(e, ArtifactError::Decode(_)), "{e}");
    }

    #[test]
    fn out_of_range_ids_are_rejected() {
        let g = demo();
        let mut bad = g.clone();
        bad.entry_hot[0].1 = bad.nodes.len() as u32;
        assert!(invalid(&bad).contains("out of range"));
        let mut bad = g.clone();
        bad.membership.pop();
        assert!(invalid(&bad).contains("membership"));
        let mut bad = g.clone();
        bad.no_match = bad.results.len() as u32 + 7;
        assert!(invalid(&bad).contains("no-match"));
        let mut bad = g.clone();
        let last = bad.membership.len() - 1;
        bad.membership[last] = 0xFFFF;
        assert!(invalid(&bad).contains("exclusion table"));
        let mut bad = g.clone();
        let i = bad
            .nodes
            .iter()
            .position(|n| matches!(n, Node::And(..)))
            .unwrap();
        bad.nodes[i] = Node::And(u32::MAX, 2);
        assert!(invalid(&bad).contains("rule node"));
        let mut bad = g.clone();
        bad.exclusion_slots = vec![0];
        assert!(invalid(&bad).contains("member slots"));
        let mut bad = g.clone();
        bad.exclusion_slots = vec![bad.slots.len() as u32; bad.tables.len()];
        assert!(invalid(&bad).contains("exclusion member slot"));
        let mut bad = g;
        bad.codes.flags.pop();
        assert!(invalid(&bad).contains("code flags"));
    }

    #[test]
    fn rows_too_wide_for_16_bit_slot_ids_are_rejected() {
        // Slot ids are 16-bit in the records derived on load: 1,025 slot words per row
        // would give ids up to 65,599.
        let mut bad = demo();
        let n = bad.code_count() + 1;
        bad.words = 1026;
        bad.membership = vec![0; n * bad.words];
        assert!(invalid(&bad).contains("membership words"));
    }

    #[test]
    fn a_rule_that_is_its_own_child_is_rejected() {
        let mut g = demo();
        let i = g
            .nodes
            .iter()
            .position(|n| matches!(n, Node::Or(..)))
            .unwrap();
        let Node::Or(start, _) = g.nodes[i] else {
            unreachable!()
        };
        g.children[start as usize] = i as u32;
        assert!(invalid(&g).contains("cycle"));
        let mut g = demo();
        let n = g.nodes.len() as u32;
        g.nodes.push(Node::Not(n));
        g.entry_hot[0].1 = n;
        assert!(invalid(&g).contains("cycle"));
    }

    #[test]
    fn a_rule_nested_too_deep_is_rejected() {
        let mut g = demo();
        let base = g.nodes.len() as u32;
        g.nodes.push(Node::HasCc);
        for k in 0..super::MAX_RULE_DEPTH as u32 {
            g.nodes.push(Node::Not(base + k));
        }
        assert!(invalid(&g).contains("deeper"));
    }

    #[test]
    fn inconsistent_catalogues_are_rejected() {
        let c = demo_catalog();
        let check = |c: &Catalog| match Catalog::from_bytes(&c.to_bytes().unwrap()) {
            Err(ArtifactError::Invalid(m)) => m,
            other => panic!("expected an inconsistent-file error, got {other:?}"),
        };
        let mut bad = c.clone();
        bad.cand[0].row = bad.types.len() as u32;
        assert!(check(&bad).contains("type row"));
        let mut bad = c.clone();
        bad.class_excluded.pop();
        assert!(check(&bad).contains("class exclusions"));
        let mut bad = c.clone();
        *bad.cand_start.last_mut().unwrap() += 1;
        assert!(check(&bad).contains("candidates"));
        let mut bad = c;
        bad.px.attr.truncate(1);
        assert!(check(&bad).contains("procedure attributes"));
    }
}
