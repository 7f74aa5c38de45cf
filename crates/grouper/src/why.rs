//! Why a case is ungroupable, and which conditions of a false rule fail.
//!
//! None of this runs on the grouping hot path: [`Principals`] is built once per run, and
//! a reason is put into words only for the rows that came out ungroupable.

use std::fmt::Write as _;

use crate::compile::{NO_SLOT, Node, NodeId};
use crate::group::{Env, Step};
use crate::{Case, CodeId, Grouper, Status, normalize_code};

/// The codes that are the principal diagnosis of some MDC of a scheme (in some MDC's
/// principal-diagnosis list), for naming near codes of an unusable principal diagnosis.
#[derive(Debug, Clone)]
pub struct Principals {
    /// Per code id: is it in some MDC's principal-diagnosis list?
    flags: Vec<bool>,
}

/// How many near codes a reason names.
const NEAR: usize = 3;

impl Principals {
    /// Is `id` the principal diagnosis of some MDC?
    pub fn contains(&self, id: CodeId) -> bool {
        self.flags.get(id as usize).copied().unwrap_or(false)
    }
}

impl Grouper {
    /// Precomputes, per code, whether it is the principal diagnosis of some MDC.
    pub fn principals(&self) -> Principals {
        let slots: Vec<u32> = self
            .mdcs
            .iter()
            .map(|m| m.filter.pdx)
            .filter(|&s| s != NO_SLOT)
            .collect();
        let flags = (0..self.codes.normalized.len() as CodeId)
            .map(|id| slots.iter().any(|&s| self.has(id, s)))
            .collect();
        Principals { flags }
    }

    /// Up to three codes of the scheme that are the principal diagnosis of some MDC and
    /// share the longest prefix with `written` (at least its first three characters).
    pub fn near_principals(&self, written: &str, principals: &Principals) -> Vec<&str> {
        let norm = normalize_code(written);
        let all = &self.codes.normalized;
        let mut len = norm.len();
        while len >= 3 {
            let Some(prefix) = norm.get(..len) else {
                len -= 1;
                continue;
            };
            // The first code not below the prefix (the dictionary is sorted).
            let (mut start, mut end) = (0, all.len());
            while start < end {
                let mid = (start + end) / 2;
                if all.get(mid) < prefix {
                    start = mid + 1;
                } else {
                    end = mid;
                }
            }
            let near: Vec<&str> = (start..all.len())
                .take_while(|&i| all.get(i).starts_with(prefix))
                .map(|i| i as CodeId)
                .filter(|&id| principals.contains(id))
                .filter(|&id| all.get(id as usize) != norm)
                .take(NEAR)
                .map(|id| self.code(id))
                .collect();
            if !near.is_empty() {
                return near;
            }
            len -= 1;
        }
        Vec::new()
    }

    /// The conditions of a rule that the case fails (empty when the rule holds).
    pub(crate) fn failed(&self, id: NodeId, env: &Env<'_>) -> Vec<String> {
        if self.eval(id, env) {
            return Vec::new();
        }
        match self.nodes[id as usize] {
            Node::And(start, len) => self
                .kids(start, len)
                .iter()
                .flat_map(|&c| self.failed(c, env))
                .collect(),
            Node::Or(start, len) => {
                let kids = self.kids(start, len);
                if kids.len() == 1 {
                    return self.failed(kids[0], env);
                }
                let each: Vec<String> = kids
                    .iter()
                    .map(|&c| self.failed(c, env).join(" and "))
                    .collect();
                vec![format!(
                    "none of the alternatives holds: {}",
                    each.join("; ")
                )]
            }
            _ => vec![self.describe(id, env)],
        }
    }

    /// Why an ungroupable case is ungroupable, in one sentence for the `message` column.
    /// `written` is the principal diagnosis as the input wrote it; `mapped` says whether
    /// clinical codes were mapped (`--map-codes`).
    pub fn ungroupable_reason(
        &self,
        case: &Case,
        written: &str,
        mapped: bool,
        principals: &Principals,
    ) -> String {
        let (outcome, entered) = self.group_entered(case);
        if outcome.status != Status::Ungroupable {
            return String::new();
        }
        let name = &self.info.name;
        let Some(&pdx) = case.dx.first() else {
            return "no principal diagnosis".into();
        };
        let entered: Vec<&str> = entered
            .iter()
            .map(|&i| self.mdcs[i].code.as_str())
            .collect();
        let mut s = String::new();
        if !entered.is_empty() {
            let px = case.px.first().map_or("no procedure".to_string(), |&p| {
                format!("principal procedure {}", self.code(p))
            });
            let _ = write!(
                s,
                "entered {} but no ADRG of it accepts the case ({px}, principal diagnosis {written})",
                entered.join(", ")
            );
            return s;
        }
        // No MDC entered (rarer): the conditions that failed, from an explanation.
        let e = self.explain_steps(case);
        let skipped: Vec<(&str, &Vec<String>)> = e
            .steps
            .iter()
            .filter_map(|step| match step {
                Step::MdcSkipped { mdc, failed, .. } => Some((mdc.as_str(), failed)),
                _ => None,
            })
            .collect();
        if principals.contains(pdx) {
            // The diagnosis opens some MDC, whose other conditions fail.
            let opened: Vec<(&str, String)> = self
                .mdcs
                .iter()
                .filter(|m| m.filter.pdx != NO_SLOT && self.has(pdx, m.filter.pdx))
                .map(|m| {
                    let failed = skipped
                        .iter()
                        .find(|(c, _)| *c == m.code)
                        .map(|(_, f)| f.join(" and "))
                        .unwrap_or_default();
                    (m.code.as_str(), failed)
                })
                .collect();
            if let [(mdc, failed)] = &opened[..] {
                let _ = write!(
                    s,
                    "principal diagnosis {written} belongs to {mdc} of {name}, but the case fails its entry rule: {failed}"
                );
            } else {
                let codes: Vec<&str> = opened.iter().map(|(c, _)| *c).collect();
                let each: Vec<String> = opened.iter().map(|(c, f)| format!("{c}: {f}")).collect();
                let _ = write!(
                    s,
                    "principal diagnosis {written} belongs to {} of {name}, but the case fails their entry rules: {}",
                    codes.join(", "),
                    each.join("; ")
                );
            }
            return s;
        }
        let known = self
            .lookup(written, crate::CodeKind::Diagnosis, false)
            .known;
        if known {
            let _ = write!(
                s,
                "principal diagnosis {written} is the principal diagnosis of no MDC in {name}"
            );
        } else {
            let _ = write!(
                s,
                "principal diagnosis {written} is not a code of {name}, so the principal diagnosis of no MDC"
            );
        }
        let near = self.near_principals(written, principals);
        if !near.is_empty() {
            let _ = write!(s, " (the scheme knows {})", near.join(", "));
        }
        if !mapped {
            let to = self.lookup(written, crate::CodeKind::Diagnosis, true);
            let direct = self.lookup(written, crate::CodeKind::Diagnosis, false);
            if to.known && to.id != direct.id {
                let _ = write!(
                    s,
                    "; it is a clinical (国临版) code that --map-codes maps to {}",
                    self.code(to.id)
                );
            }
        }
        s
    }
}
