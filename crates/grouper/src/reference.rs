//! A slow, obviously correct interpreter of the scheme format, written straight from
//! the format's semantics over strings and hash sets. It exists to check the compiled
//! [`crate::Grouper`]: both must agree on every case.

use std::collections::{HashMap, HashSet};

use crate::rule::{Cmp, CodeSet, Field, Rule, Shape};
use crate::scheme::{OR_PROCEDURES, Scheme, SchemeFormat};
use crate::{ResultInfo, Status, normalize_code};

/// A case with its codes as strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextCase {
    /// 1 male, 2 female.
    pub sex: Option<u8>,
    /// Age in years.
    pub age: Option<i64>,
    /// Age in days.
    pub age_days: Option<i64>,
    /// Birth weight in grams.
    pub weight: Option<i64>,
    /// Length of stay.
    pub los: Option<i64>,
    /// Department.
    pub dept: String,
    /// Discharge way.
    pub discharge_way: String,
    /// Diagnoses, principal first.
    pub dx: Vec<String>,
    /// Procedures, principal first.
    pub px: Vec<String>,
}

/// The reference interpreter.
pub struct Reference<'a> {
    scheme: &'a Scheme,
    lists: HashMap<&'a str, HashSet<String>>,
    mcc: HashMap<String, &'a str>,
    cc: HashMap<String, &'a str>,
    pdx: HashMap<String, &'a str>,
    /// Workbook schemes: the principal diagnoses each exclusion table excludes.
    members: HashMap<&'a str, HashSet<String>>,
    uses_los: bool,
}

impl<'a> Reference<'a> {
    /// Prepares the lookup sets of a scheme.
    pub fn new(scheme: &'a Scheme) -> Self {
        let mut lists: HashMap<&str, HashSet<String>> = scheme
            .rules
            .lists
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str(),
                    v.codes.iter().map(|c| normalize_code(c)).collect(),
                )
            })
            .collect();
        lists.insert(
            OR_PROCEDURES,
            scheme
                .or_procedures
                .iter()
                .map(|c| normalize_code(c))
                .collect(),
        );
        let table = |rows: &'a [crate::scheme::CodeTable]| {
            rows.iter()
                .map(|t| (normalize_code(&t.code), t.table.as_str()))
                .collect()
        };
        let mut uses_los = false;
        let mut see = |r: &Rule| {
            r.visit(&mut |x| {
                if let Shape::Compare(Field::Los, _, _) = x.shape() {
                    uses_los = true;
                }
            })
        };
        scheme.rules.mdcs.iter().for_each(|m| {
            see(&m.entry_rule);
            if let Some(q) = &m.qy_check {
                see(&q.rule);
            }
        });
        scheme.rules.adrgs.iter().for_each(|e| see(&e.rule));
        scheme.rules.drgs.iter().for_each(|d| see(&d.condition));
        let mut members: HashMap<&str, HashSet<String>> = HashMap::new();
        for t in &scheme.exclusion_members {
            members
                .entry(t.table.as_str())
                .or_default()
                .insert(normalize_code(&t.code));
        }
        Reference {
            scheme,
            members,
            lists,
            mcc: table(&scheme.mcc),
            cc: table(&scheme.cc),
            pdx: table(&scheme.pdx_exclusion),
            uses_los,
        }
    }

    /// Groups a case; returns the result columns.
    pub fn group(&self, case: &TextCase) -> ResultInfo {
        let invalid = self.scheme.invalid_result.clone().unwrap_or(ResultInfo {
            code: "0000".into(),
            status: Status::Invalid,
            mdc: "0000".into(),
            adrg: "00".into(),
            drg: "0000".into(),
            name: String::new(),
        });
        let newborn_without_weight = case.age == Some(0)
            && case.age_days.is_some_and(|d| d <= 28)
            && case.weight.unwrap_or(0) == 0;
        if !matches!(case.sex, Some(1) | Some(2))
            || case.age.is_none()
            || (case.age == Some(0) && case.age_days.is_none())
            || newborn_without_weight
            || (self.uses_los && case.los.is_none())
            || case.dx.is_empty()
        {
            return invalid;
        }
        let case = TextCase {
            dx: case.dx.iter().map(|c| normalize_code(c)).collect(),
            px: case.px.iter().map(|c| normalize_code(c)).collect(),
            ..case.clone()
        };
        let d = &self.scheme.rules.dispatch;
        let mut code = self.dispatch(&case);
        if let Some(retry) = &d.retry_on_no_match
            && code == retry.when_result
            && case.px.len() >= retry.min_procedures as usize
        {
            for p in &case.px[1..] {
                let alone = TextCase {
                    px: vec![p.clone()],
                    ..case.clone()
                };
                let c = self.dispatch(&alone);
                if c != retry.when_result {
                    code = c;
                    break;
                }
            }
        }
        if let Some(stated) = self.scheme.result_columns.iter().find(|r| r.code == code) {
            return stated.clone();
        }
        let name = self
            .scheme
            .rules
            .drgs
            .iter()
            .find(|x| x.drg == code)
            .map_or("", |x| x.name.as_str());
        ResultInfo::classify(&code, name)
    }

    fn dispatch(&self, case: &TextCase) -> String {
        let r = &self.scheme.rules;
        for code in &r.dispatch.mdc_order {
            let m = r
                .mdcs
                .iter()
                .find(|m| &m.mdc == code)
                .expect("dispatched MDC");
            if !self.eval(&m.entry_rule, case) {
                continue;
            }
            let qy = m.qy_check.as_ref().filter(|q| q.enabled);
            for (k, id) in m.adrgs.iter().enumerate() {
                if let Some(q) = qy
                    && q.after_adrg_count as usize == k
                    && self.eval(&q.rule, case)
                {
                    return q.result.clone();
                }
                let e = r.adrgs.iter().find(|e| &e.adrg == id).expect("entry");
                if !self.eval(&e.rule, case) {
                    continue;
                }
                for drg in &e.drgs {
                    let d = r.drgs.iter().find(|d| &d.drg == drg).expect("drg");
                    if self.eval(&d.condition, case) {
                        return drg.clone();
                    }
                }
                if !e.fallback_result.is_empty() {
                    return e.fallback_result.clone();
                }
            }
            if let Some(q) = qy
                && q.after_adrg_count as usize >= m.adrgs.len()
                && self.eval(&q.rule, case)
            {
                return q.result.clone();
            }
        }
        r.dispatch.no_match_result.clone()
    }

    fn complication(&self, table: &HashMap<String, &str>, case: &TextCase) -> bool {
        let principal = self.pdx.get(&case.dx[0]);
        let excluded = |t: &str| match self.scheme.format {
            SchemeFormat::Folder => principal == Some(&t),
            SchemeFormat::Workbook => self.members.get(t).is_some_and(|m| m.contains(&case.dx[0])),
        };
        case.dx.len() > 1
            && case.dx[1..]
                .iter()
                .any(|x| table.get(x).is_some_and(|t| !excluded(t)))
    }

    fn eval(&self, rule: &Rule, case: &TextCase) -> bool {
        let in_list = |list: &str, codes: &[String]| {
            let set = &self.lists[list];
            codes.iter().any(|c| set.contains(c))
        };
        let field = |f: Field| match f {
            Field::Age => case.age,
            Field::AgeDays => case.age_days,
            Field::Weight => case.weight,
            Field::Los => case.los,
            Field::DxCount => Some(case.dx.len() as i64),
            Field::ProcCount => Some(case.px.len() as i64),
        };
        match rule.shape() {
            Shape::Const(b) => b,
            Shape::And(args) => args.iter().all(|a| self.eval(a, case)),
            Shape::Or(args) => args.iter().any(|a| self.eval(a, case)),
            Shape::Not(a) => !self.eval(a, case),
            Shape::InList(set, list) => {
                let codes: &[String] = match set {
                    CodeSet::PrincipalDx => &case.dx[..1],
                    CodeSet::AnyDx => &case.dx,
                    CodeSet::SecondaryDx => &case.dx[1..],
                    CodeSet::PrincipalProc => &case.px[..case.px.len().min(1)],
                    CodeSet::AnyProc => &case.px,
                    CodeSet::SecondaryProc => case.px.get(1..).unwrap_or(&[]),
                };
                in_list(list, codes)
            }
            Shape::HasProcedure => !case.px.is_empty(),
            Shape::ProcGroup(list, group) => {
                let l = &self.scheme.rules.lists[list];
                let labels = l.proc_group.as_ref().expect("grouped list");
                case.px.iter().any(|p| {
                    l.codes
                        .iter()
                        .position(|c| &normalize_code(c) == p)
                        .is_some_and(|i| labels[i] == group)
                })
            }
            Shape::SexEq(v) => case.sex == Some(v),
            Shape::Present(Field::Weight) => case.weight.is_some_and(|w| w != 0),
            Shape::Present(f) => field(f).is_some(),
            Shape::Compare(f, cmp, v) => field(f).is_some_and(|x| match cmp {
                Cmp::Lt => x < v,
                Cmp::Le => x <= v,
                Cmp::Gt => x > v,
                Cmp::Ge => x >= v,
                Cmp::Eq => x == v,
            }),
            Shape::DeptIn(values) => !case.dept.is_empty() && values.contains(&case.dept),
            Shape::DischargeWayIn(values) => {
                !case.discharge_way.is_empty() && values.contains(&case.discharge_way)
            }
            Shape::TraumaSitesMin(table, min) => {
                let l = &self.scheme.rules.lists[table];
                let sites = l.trauma_site.as_ref().expect("trauma list");
                let mut site_of: HashMap<String, &str> = HashMap::new();
                for (c, s) in l.codes.iter().zip(sites) {
                    site_of.insert(normalize_code(c), s); // the later listing wins
                }
                let found: HashSet<&str> = case
                    .dx
                    .iter()
                    .filter_map(|d| site_of.get(d).copied())
                    .collect();
                found.len() >= min as usize
            }
            Shape::DistinctMin(set, list, min) => {
                let codes = if set.is_dx() { &case.dx } else { &case.px };
                let found: HashSet<&String> = codes
                    .iter()
                    .filter(|c| self.lists[list].contains(*c))
                    .collect();
                found.len() >= min as usize
            }
            Shape::HasMcc => self.complication(&self.mcc, case),
            Shape::HasCc => self.complication(&self.cc, case),
        }
    }
}
