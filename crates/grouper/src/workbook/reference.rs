//! A slow, obviously correct interpreter of a workbook scheme, over strings and hash
//! sets: it reads the rule texts as the workbook wrote them (parsed, never translated
//! into the engine's rules) and applies the workbook's semantics directly. It exists to
//! check the compiled [`crate::Grouper`] on workbook schemes.

use std::collections::{HashMap, HashSet};

use super::lang::{self, AtomKind, Expr, Var};
use super::workbook_status;
use crate::reference::TextCase;
use crate::scheme::Scheme;
use crate::{ResultInfo, Status, normalize_code};

/// The reference interpreter of a workbook scheme.
pub struct WorkbookReference<'a> {
    scheme: &'a Scheme,
    sets: HashMap<&'a str, HashSet<String>>,
    /// Complication code → (is MCC, exclusion table).
    complications: HashMap<String, (bool, &'a str)>,
    exclusions: HashMap<&'a str, HashSet<String>>,
    mdcs: Vec<Expr>,
    adrgs: HashMap<&'a str, Expr>,
    drgs: HashMap<&'a str, Expr>,
}

fn parsed(text: &Option<String>) -> Expr {
    lang::parse(text.as_deref().unwrap_or("")).expect("the workbook scheme's rules parse")
}

impl<'a> WorkbookReference<'a> {
    /// Prepares a scheme read by [`Scheme::from_workbook`].
    pub fn new(scheme: &'a Scheme) -> Self {
        let r = &scheme.rules;
        let mut sets: HashMap<&str, HashSet<String>> = HashMap::new();
        for (id, l) in &r.lists {
            sets.insert(id, l.codes.iter().map(|c| normalize_code(c)).collect());
        }
        let mut complications = HashMap::new();
        for (is_mcc, rows) in [(true, &scheme.mcc), (false, &scheme.cc)] {
            for t in rows {
                complications.insert(normalize_code(&t.code), (is_mcc, t.table.as_str()));
            }
        }
        let mut exclusions: HashMap<&str, HashSet<String>> = HashMap::new();
        for t in &scheme.exclusion_members {
            exclusions
                .entry(&t.table)
                .or_default()
                .insert(normalize_code(&t.code));
        }
        WorkbookReference {
            scheme,
            sets,
            complications,
            exclusions,
            mdcs: r.mdcs.iter().map(|m| parsed(&m.source_text)).collect(),
            adrgs: r
                .adrgs
                .iter()
                .map(|a| (a.adrg.as_str(), parsed(&a.source_text)))
                .collect(),
            drgs: r
                .drgs
                .iter()
                .map(|d| (d.drg.as_str(), parsed(&d.source_text)))
                .collect(),
        }
    }

    /// Groups a case; returns the result columns.
    pub fn group(&self, case: &TextCase) -> ResultInfo {
        let invalid = ResultInfo {
            code: "0000".into(),
            status: Status::Invalid,
            mdc: "0000".into(),
            adrg: "000".into(),
            drg: "0000".into(),
            name: String::new(),
        };
        let ok = matches!(case.sex, Some(1 | 2))
            && case.age.is_some()
            && !case.dx.is_empty()
            && !(case.age == Some(0) && case.age_days.is_none())
            && !(case.age == Some(0)
                && case.age_days.is_some_and(|d| d <= 28)
                && case.weight.unwrap_or(0) == 0);
        if !ok {
            return invalid;
        }
        let case = TextCase {
            dx: case.dx.iter().map(|c| normalize_code(c)).collect(),
            px: case.px.iter().map(|c| normalize_code(c)).collect(),
            ..case.clone()
        };
        let r = &self.scheme.rules;
        for (m, rule) in r.mdcs.iter().zip(&self.mdcs) {
            if !self.eval(rule, &case) {
                continue;
            }
            for id in &m.adrgs {
                if !self.eval(&self.adrgs[id.as_str()], &case) {
                    continue;
                }
                let a = r.adrgs.iter().find(|a| &a.adrg == id).expect("ADRG");
                for drg in &a.drgs {
                    if self.eval(&self.drgs[drg.as_str()], &case) {
                        let d = r.drgs.iter().find(|d| &d.drg == drg).expect("DRG");
                        return ResultInfo {
                            code: d.drg.clone(),
                            status: workbook_status(&d.drg),
                            mdc: d.mdc.clone(),
                            adrg: d.adrg.clone(),
                            drg: d.drg.clone(),
                            name: d.name.clone(),
                        };
                    }
                }
            }
        }
        ResultInfo {
            code: "0000".into(),
            status: Status::Ungroupable,
            mdc: "0000".into(),
            adrg: "000".into(),
            drg: "0000".into(),
            name: "未入组".into(),
        }
    }

    fn member(&self, set: &str, code: &str, case: &TextCase) -> bool {
        match set {
            lang::MCC | lang::CC => match self.complications.get(code) {
                Some(&(is_mcc, table)) => {
                    is_mcc == (set == lang::MCC)
                        && !self
                            .exclusions
                            .get(table)
                            .is_some_and(|t| t.contains(&case.dx[0]))
                }
                None => false,
            },
            _ => self.sets[set].contains(code),
        }
    }

    fn eval(&self, e: &Expr, case: &TextCase) -> bool {
        match e {
            Expr::Const(b) => *b,
            Expr::And(v) => v.iter().all(|x| self.eval(x, case)),
            Expr::Or(v) => v.iter().any(|x| self.eval(x, case)),
            Expr::Not(x) => !self.eval(x, case),
            Expr::Atom(a) => match &a.kind {
                AtomKind::In {
                    vars,
                    sets,
                    negated,
                } => {
                    let found = vars.iter().any(|&v| {
                        v.codes(&case.dx[..], &case.px[..])
                            .iter()
                            .any(|c| sets.iter().any(|s| self.member(&s.name, c, case)))
                    });
                    found != *negated
                }
                AtomKind::Length {
                    set,
                    vars,
                    cmp,
                    value,
                } => {
                    let distinct: HashSet<&String> = vars
                        .iter()
                        .flat_map(|&v| v.codes(&case.dx[..], &case.px[..]))
                        .filter(|c| self.member(&set.name, c, case))
                        .collect();
                    cmp.apply(distinct.len() as i64, *value)
                }
                AtomKind::Compare { var, cmp, value } => {
                    let x = match var {
                        Var::Nl => case.age,
                        Var::Xsrtl => case.age_days,
                        Var::Xsrtz => case.weight,
                        Var::Xb => case.sex.map(i64::from),
                        _ => None,
                    };
                    x.is_some_and(|x| cmp.apply(x, *value))
                }
            },
        }
    }
}
