//! Explanations of workbook schemes: every rule tried is shown as the workbook wrote it,
//! atom by atom, with whether each atom held and the case's codes or values that decide
//! it (`ZYSS in OP_BB2 ✓ 01.2401`). The decisions themselves come from the compiled run
//! ([`crate::Grouper::explain`]); this only annotates the rules it tried.

use super::lang::{self, Atom, AtomKind, Var};
use crate::group::{Case, Step};
use crate::{CodeId, Grouper, Status};

impl Grouper {
    /// The slot of a list id, if a rule reads it.
    fn slot_of(&self, list: &str) -> Option<u32> {
        self.slots
            .iter()
            .position(|s| s.list == list && s.group.is_none())
            .map(|i| i as u32)
    }

    /// Is `code` in the set named `set` (a 集合 id, `MCC` or `CC`) for this case?
    fn in_set(&self, set: &str, code: CodeId, case: &Case) -> bool {
        match set {
            lang::MCC | lang::CC => {
                let t = self.exclusion_tables(code)[usize::from(set == lang::CC)];
                t != 0 && !case.dx.first().is_some_and(|&p| self.excluded(p, t))
            }
            _ => self.slot_of(set).is_some_and(|s| self.has(code, s)),
        }
    }

    /// One atom: its text, ✓ or ✗, and the codes or values that decide it.
    fn atom_trace(&self, a: &Atom, case: &Case) -> String {
        let mark = |b: bool| if b { "✓" } else { "✗" };
        match &a.kind {
            AtomKind::In {
                vars,
                sets,
                negated,
            } => {
                let mut hits: Vec<&str> = Vec::new();
                for &v in vars {
                    for &c in v.codes(&case.dx[..], &case.px[..]) {
                        if sets.iter().any(|s| self.in_set(&s.name, c, case)) {
                            let code = self.code(c);
                            if !hits.contains(&code) {
                                hits.push(code);
                            }
                        }
                    }
                }
                let held = hits.is_empty() == *negated;
                let detail = if hits.is_empty() {
                    // None of the case's codes is in the set: say which codes were read.
                    let read: Vec<String> = vars
                        .iter()
                        .map(|&v| {
                            let codes: Vec<&str> = v
                                .codes(&case.dx[..], &case.px[..])
                                .iter()
                                .map(|&c| self.code(c))
                                .collect();
                            if codes.is_empty() {
                                format!("no {}", v.name())
                            } else {
                                format!("{} {}", v.name(), codes.join(" "))
                            }
                        })
                        .collect();
                    format!(" ({})", read.join("; "))
                } else {
                    format!(" {}", hits.join(" "))
                };
                format!("{} {}{detail}", a.text, mark(held))
            }
            AtomKind::Length {
                set,
                vars,
                cmp,
                value,
            } => {
                let mut hits: Vec<&str> = Vec::new();
                for &v in vars {
                    for &c in v.codes(&case.dx[..], &case.px[..]) {
                        let code = self.code(c);
                        if self.in_set(&set.name, c, case) && !hits.contains(&code) {
                            hits.push(code);
                        }
                    }
                }
                let held = cmp.apply(hits.len() as i64, *value);
                if hits.is_empty() {
                    format!("{} {} 0", a.text, mark(held))
                } else {
                    format!(
                        "{} {} {}: {}",
                        a.text,
                        mark(held),
                        hits.len(),
                        hits.join(" ")
                    )
                }
            }
            AtomKind::Compare { var, cmp, value } => {
                let x = match var {
                    Var::Nl => case.age,
                    Var::Xsrtl => case.age_days,
                    Var::Xsrtz => case.weight,
                    Var::Xb => case.sex.map(i64::from),
                    _ => None,
                };
                match x {
                    Some(x) => format!(
                        "{} {} {}={x}",
                        a.text,
                        mark(cmp.apply(x, *value)),
                        var.name()
                    ),
                    None => format!("{} ✗ {} missing", a.text, var.name()),
                }
            }
        }
    }

    /// Every atom of a workbook rule text with its verdict; an empty rule is always true.
    pub(crate) fn workbook_atoms(&self, text: &str, case: &Case) -> Vec<String> {
        match lang::parse(text) {
            Ok(expr) => {
                let mut out = Vec::new();
                expr.atoms(&mut |a| out.push(self.atom_trace(a, case)));
                if out.is_empty() {
                    out.push(if text.is_empty() {
                        "empty rule: always true".into()
                    } else {
                        format!("{text}: constant")
                    });
                }
                out
            }
            Err(e) => vec![format!("rule text does not parse: {e}")],
        }
    }

    /// Rewrites the steps of a workbook explanation: each rule's atoms with their verdicts
    /// (for rules that failed as well as rules that held); returns why the case ended in
    /// an ambiguity or fallback group.
    pub(crate) fn annotate_workbook(&self, steps: &mut [Step], case: &Case) -> Option<String> {
        let mut entry: Option<&crate::compile::CEntry> = None;
        for step in steps.iter_mut() {
            match step {
                Step::MdcEntered { mdc, source, .. } => {
                    if let Some(m) = self.mdcs.iter().find(|m| &m.code == mdc) {
                        source.clone_from(&m.label);
                    }
                }
                Step::MdcSkipped {
                    mdc,
                    source,
                    rule,
                    failed,
                    ..
                } => {
                    if let Some(m) = self.mdcs.iter().find(|m| &m.code == mdc) {
                        source.clone_from(&m.label);
                    }
                    // The atoms that failed (all of them, should none be marked so).
                    let atoms = self.workbook_atoms(rule, case);
                    let crossed: Vec<String> =
                        atoms.iter().filter(|a| a.contains(" ✗")).cloned().collect();
                    *failed = if crossed.is_empty() { atoms } else { crossed };
                }
                Step::Adrg {
                    entry: id, source, ..
                } => {
                    entry = self.entries.iter().find(|e| &e.id == id);
                    if let Some(e) = entry {
                        source.clone_from(&e.label);
                    }
                }
                Step::Split { drg, source, .. } => {
                    let test = entry.and_then(|e| {
                        e.tests
                            .iter()
                            .find(|t| &self.results[t.result as usize].code == drg)
                    });
                    if let Some(t) = test {
                        source.clone_from(&t.label);
                    }
                }
                _ => {}
            }
            match step {
                Step::MdcEntered { rule, because, .. }
                | Step::QyCheck { rule, because, .. }
                | Step::Adrg { rule, because, .. }
                | Step::Split {
                    condition: rule,
                    because,
                    ..
                } => *because = self.workbook_atoms(rule, case),
                _ => {}
            }
        }
        let last_adrg = steps.iter().rev().find_map(|s| match s {
            Step::Adrg {
                adrg,
                matched: true,
                ..
            } => Some(adrg.clone()),
            _ => None,
        });
        let entered: Vec<&str> = steps
            .iter()
            .filter_map(|s| match s {
                Step::MdcEntered { mdc, .. } => Some(mdc.as_str()),
                _ => None,
            })
            .collect();
        let result = steps.iter().rev().find_map(|s| match s {
            Step::Split {
                drg, matched: true, ..
            } => Some(drg.clone()),
            _ => None,
        })?;
        let status = super::workbook_status(&result);
        let adrg = last_adrg.unwrap_or_default();
        match status {
            Status::Ambiguous => Some(format!(
                "ambiguous (歧义组): the case entered {}, none of its ADRG rows before {adrg} \
                 held and {adrg}'s rule did: the workbook's ambiguity row for a case whose \
                 procedure belongs to no ADRG of the MDC its principal diagnosis chose",
                entered.last().copied().unwrap_or("")
            )),
            Status::Ungroupable if result.chars().all(|c| c == '0') => Some(format!(
                "ungroupable (未入组): {}; the global row {result} applies",
                if entered.len() <= 1 {
                    "no MDC rule held".to_string()
                } else {
                    format!(
                        "MDCs entered ({}) but none of their ADRG rules held",
                        entered[..entered.len() - 1].join(", ")
                    )
                }
            )),
            Status::Ungroupable => Some(format!(
                "ungroupable in its MDC: the case entered {} but none of its ADRG rules held, \
                 so it ended in the MDC's fallback row {adrg} → {result}",
                entered.last().copied().unwrap_or("")
            )),
            _ => None,
        }
    }
}
