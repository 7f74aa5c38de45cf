//! Grouping one case into a DIP type: exclusions → pre-grouping → merge → refinement →
//! core types → composite types → ungrouped, then the auxiliary sub-type.
//!
//! [`Catalog::group`] and [`Catalog::explain`] run the same code ([`Catalog::run`]), the
//! first with a zero-sized tracer whose calls compile away, the second recording every
//! layer tried, so an explanation can never disagree with the result.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::compile::{Cand, CandMeta, Catalog, DipType, Excl, Layer, Procs};
use super::source::{AttributeSource, TieRule};
use super::spec::{Attribute, Range};

mod national;

/// One case, ready to group: codes already looked up with [`Catalog::dx`] and
/// [`Catalog::px`]. Reuse it from case to case (`clear`, then fill).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DipCase {
    /// Age in years.
    pub age: Option<i64>,
    /// Age in days.
    pub age_days: Option<i64>,
    /// Birth weight in grams.
    pub weight: Option<i64>,
    /// Length of stay in days.
    pub los: Option<i64>,
    /// ICU days.
    pub icu_days: Option<i64>,
    /// Hours of invasive ventilation.
    pub vent_hours: Option<i64>,
    /// Discharge way (离院方式) 1–9.
    pub discharge_way: Option<u8>,
    /// Total cost in fen (for cost-ratio sub-types).
    pub total_cost: Option<i64>,
    /// Diagnosis classes, principal first.
    pub dx: Vec<u32>,
    /// Procedure ids, principal first.
    pub px: Vec<u32>,
}

impl DipCase {
    /// Empties the case, keeping its buffers.
    pub fn clear(&mut self) {
        self.age = None;
        self.age_days = None;
        self.weight = None;
        self.los = None;
        self.icu_days = None;
        self.vent_hours = None;
        self.discharge_way = None;
        self.total_cost = None;
        self.dx.clear();
        self.px.clear();
    }
}

/// Result of looking up a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeLookup {
    /// The id to push into the case.
    pub id: u32,
    /// Diagnosis: the code has a class (it looks like an ICD-10 code of a known
    /// category). Procedure: the code or one of its prefixes has an attribute in the
    /// catalogue.
    pub known: bool,
}

/// The outcome class of a case (the `status` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DipStatus {
    /// A pre-grouping, merge, refinement or core type matched.
    Grouped,
    /// A composite type (综合病种) matched.
    Composite,
    /// No type matched (or, under drgdip rules, the principal diagnosis is excluded).
    Ungrouped,
    /// National rules: the principal diagnosis is not admitted to grouping
    /// (不纳入分组的主要诊断).
    Excluded,
    /// The case failed validation.
    Invalid,
}

impl DipStatus {
    /// The value written in the `status` column.
    pub fn as_str(self) -> &'static str {
        match self {
            DipStatus::Grouped => "grouped",
            DipStatus::Composite => "composite",
            DipStatus::Ungrouped => "ungrouped",
            DipStatus::Excluded => "excluded",
            DipStatus::Invalid => "invalid",
        }
    }
}

/// Why a case is ungrouped or invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DipReason {
    /// No diagnosis at all.
    NoDiagnosis,
    /// The principal diagnosis is on the exclusion list.
    ExcludedPrincipal,
    /// No type of any layer matched.
    NoType,
}

impl DipReason {
    /// A sentence for the message column.
    pub fn message(self) -> &'static str {
        match self {
            DipReason::NoDiagnosis => "at least one diagnosis (the principal) is required",
            DipReason::ExcludedPrincipal => {
                "the principal diagnosis is excluded from DIP grouping (exclusions.csv)"
            }
            DipReason::NoType => "no disease type of the catalogue matches the case",
        }
    }
}

/// The result of grouping one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DipOutcome {
    /// Outcome class.
    pub status: DipStatus,
    /// The type id (index into [`Catalog::types`]).
    pub type_id: Option<u32>,
    /// The auxiliary sub-type (index into [`Catalog::aux_types`]).
    pub aux: Option<u32>,
    /// The case's procedure attribute (after exclusions).
    pub attribute: Attribute,
    /// Set for ungrouped, excluded and invalid cases.
    pub reason: Option<DipReason>,
    /// The case is of a primary-care type (基层病种): the type's flag, or under national
    /// rules the per-case decision of `primary_care.csv`.
    pub primary_care: bool,
}

/// Per-thread working memory for [`Catalog::group`]; create it with [`Catalog::scratch`].
#[derive(Debug, Clone, Default)]
pub struct DipScratch {
    px: Vec<u32>,
    /// National rules: the principal procedure after its exclusion note.
    principal: Option<u32>,
    /// Condition bits: principal, then secondary.
    bits: Vec<u64>,
    cci: u32,
}

/// One step of an explanation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum DipStep {
    /// The case failed validation.
    Invalid {
        /// Why.
        message: String,
    },
    /// The principal diagnosis is on the exclusion list.
    ExcludedPrincipal {
        /// Its class key.
        code: String,
    },
    /// A procedure does not count for grouping.
    ProcedureDropped {
        /// The code.
        code: String,
        /// `ignore`, or `conservative` (only its role as principal makes a case
        /// conservative).
        list: String,
    },
    /// The principal procedure is on the conservative list: the case is conservative.
    ConservativePrincipal {
        /// The code.
        code: String,
    },
    /// The case's procedure attribute.
    Attribute {
        /// The attribute.
        attribute: Attribute,
        /// `principal` or `highest`.
        source: String,
    },
    /// No type of this layer covers the principal diagnosis.
    LayerEmpty {
        /// The layer.
        layer: Layer,
    },
    /// A type was tried.
    Type {
        /// Layer.
        layer: Layer,
        /// Type code.
        code: String,
        /// Its principal-diagnosis spec.
        principal_dx: String,
        /// Its procedure spec (or attribute for composite types).
        procedures: String,
        /// Whether it matched.
        matched: bool,
        /// The facts that decided it.
        detail: String,
    },
    /// A core type was preferred over another that also matched.
    Preferred {
        /// The type kept.
        winner: String,
        /// The type set aside.
        loser: String,
        /// The rule that decided.
        rule: String,
    },
    /// The layer's result.
    Chosen {
        /// Layer.
        layer: Layer,
        /// Type code.
        code: String,
    },
    /// National rules: the principal procedure is on the list of procedures not
    /// admitted as principal.
    PrincipalProcedure {
        /// The code.
        code: String,
        /// Whether it stays the principal procedure (the note's diagnosis condition holds).
        kept: bool,
        /// The note applied.
        note: String,
    },
    /// National rules: the primary-care decision for the case.
    PrimaryCare {
        /// The verdict.
        primary_care: bool,
        /// Why.
        detail: String,
    },
    /// Nothing matched.
    Ungrouped {
        /// Why.
        message: String,
    },
    /// An auxiliary sub-type was tried.
    Aux {
        /// Sub-type code.
        code: String,
        /// Coefficient.
        coefficient: String,
        /// Whether it matched.
        matched: bool,
        /// The facts that decided it.
        detail: String,
    },
}

/// How a case was grouped, step by step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DipExplanation {
    /// `name@version#hash` of the catalogue.
    pub catalog: String,
    /// Outcome class.
    pub status: DipStatus,
    /// Type code (empty when none).
    pub dip_code: String,
    /// Type name.
    pub name: String,
    /// Layer (empty when none).
    pub layer: String,
    /// Score (empty when none).
    pub score: String,
    /// Auxiliary sub-type code (empty when none).
    pub aux_type: String,
    /// Auxiliary coefficient (`1` when none).
    pub aux_coef: String,
    /// Primary-care type.
    pub primary_care: bool,
    /// The principal diagnosis' class key.
    pub principal_class: String,
    /// The procedures that count for grouping, principal first.
    pub grouping_procedures: Vec<String>,
    /// The steps, in evaluation order.
    pub steps: Vec<DipStep>,
}

trait Tracer {
    const ON: bool;
    fn step(&mut self, step: DipStep);
}

/// The hot path's tracer: does nothing, costs nothing.
struct NoTrace;

impl Tracer for NoTrace {
    const ON: bool = false;
    #[inline(always)]
    fn step(&mut self, _: DipStep) {}
}

impl Tracer for Vec<DipStep> {
    const ON: bool = true;
    fn step(&mut self, step: DipStep) {
        self.push(step);
    }
}

/// How well a type's procedures match: (codes matched, contains the principal).
type Rank = (u32, bool);

impl Catalog {
    /// Fresh working memory for [`Catalog::group`].
    pub fn scratch(&self) -> DipScratch {
        DipScratch {
            px: Vec::with_capacity(16),
            principal: None,
            bits: vec![0; 2 * self.words],
            cci: 0,
        }
    }

    /// The class given to diagnosis codes the catalogue cannot place.
    pub fn unknown_class(&self) -> u32 {
        self.dx.keys.len() as u32
    }

    /// Looks a diagnosis code up: trimmed, upper-cased, dots removed, then the exact
    /// code, its 亚目 and its category are tried in that order.
    pub fn dx(&self, code: &str) -> CodeLookup {
        let mut buf = [0u8; 64];
        let mut long = Vec::new();
        let mut n = 0;
        for &b in code.trim().as_bytes() {
            if b == b'.' {
                continue;
            }
            if n < buf.len() {
                buf[n] = b.to_ascii_uppercase();
            } else {
                // A very long code: the slow way (its category still counts).
                if long.is_empty() {
                    long.extend_from_slice(&buf);
                }
                long.push(b.to_ascii_uppercase());
            }
            n += 1;
        }
        let key = if long.is_empty() {
            &buf[..n]
        } else {
            &long[..]
        };
        // The exact code, its 亚目, its category: the first the catalogue has.
        match self.dx.place(key) {
            Some(id) => CodeLookup { id, known: true },
            None => CodeLookup {
                id: self.unknown_class(),
                known: false,
            },
        }
    }

    /// Looks a procedure code up (trimmed, upper-cased). A code the catalogue does not
    /// list gets an id standing for its attribute and exclusion (by prefix rules).
    pub fn px(&self, code: &str) -> CodeLookup {
        let mut buf = [0u8; 64];
        let code = code.trim();
        let bytes = code.as_bytes();
        let long;
        // Upper-cased on the stack (a very long code on the heap).
        let upper: &[u8] = if bytes.len() <= buf.len() {
            let b = &mut buf[..bytes.len()];
            b.copy_from_slice(bytes);
            b.make_ascii_uppercase();
            b
        } else {
            long = code.to_ascii_uppercase();
            long.as_bytes()
        };
        if let Some(id) = self.px.find(upper) {
            return CodeLookup {
                id,
                known: self.px.covered[id as usize],
            };
        }
        let attr = self
            .px
            .attr_prefix
            .iter()
            .find(|(p, _)| upper.starts_with(p.as_bytes()))
            .map(|x| x.1);
        let excl = self
            .px
            .excl_prefix
            .iter()
            .find(|(p, _)| upper.starts_with(p.as_bytes()))
            .map_or(Excl::None, |x| x.1);
        CodeLookup {
            id: self.px.special(
                attr.unwrap_or(self.options.unknown_procedure_attribute),
                excl,
            ),
            known: attr.is_some() || excl != Excl::None,
        }
    }

    /// The spelling of a diagnosis class (dot-free key), empty for the unknown class.
    pub fn class_key(&self, class: u32) -> &str {
        self.dx.keys.get(class as usize).map_or("", |k| k)
    }

    /// The spelling of a procedure id (`?attribute` for codes the catalogue does not list).
    pub fn px_code(&self, id: u32) -> String {
        match self.px.codes.get(id as usize) {
            Some(c) => c.to_string(),
            None => format!("(unlisted {})", self.px.attr[id as usize].as_str()),
        }
    }

    /// The attribute of a procedure id.
    pub fn px_attribute(&self, id: u32) -> Attribute {
        self.px.attr[id as usize]
    }

    /// The type of an outcome, if any.
    pub fn type_of(&self, outcome: &DipOutcome) -> Option<&DipType> {
        outcome.type_id.map(|t| &self.types[t as usize])
    }

    /// The auxiliary sub-type of an outcome, if any.
    pub fn aux_of(&self, outcome: &DipOutcome) -> Option<&super::compile::AuxType> {
        outcome.aux.map(|a| &self.aux[a as usize])
    }

    /// Groups one case. Never fails: bad or ungrouped cases are outcomes.
    pub fn group(&self, case: &DipCase, scratch: &mut DipScratch) -> DipOutcome {
        self.run(case, scratch, &mut NoTrace)
    }

    /// Groups one case and records every step taken.
    pub fn explain(&self, case: &DipCase) -> DipExplanation {
        let mut steps = Vec::new();
        let mut s = self.scratch();
        let o = self.run(case, &mut s, &mut steps);
        let t = self.type_of(&o);
        let a = self.aux_of(&o);
        DipExplanation {
            catalog: self.info.label(),
            status: o.status,
            dip_code: t.map(|t| t.code.clone()).unwrap_or_default(),
            name: t.map(|t| t.name.clone()).unwrap_or_default(),
            layer: t.map(|t| t.layer.as_str().to_string()).unwrap_or_default(),
            score: t.map(|t| t.score_text.clone()).unwrap_or_default(),
            aux_type: a.map(|a| a.code.clone()).unwrap_or_default(),
            aux_coef: a.map_or("1".into(), |a| a.coefficient_text.clone()),
            primary_care: o.primary_care,
            principal_class: case
                .dx
                .first()
                .map(|&c| self.class_key(c).to_string())
                .unwrap_or_default(),
            grouping_procedures: s.px.iter().map(|&p| self.px_code(p)).collect(),
            steps,
        }
    }

    #[inline]
    fn class_row(&self, class: u32) -> &[u64] {
        let start = class as usize * self.words;
        &self.class_bits[start..start + self.words]
    }

    #[inline]
    pub(crate) fn cands(&self, class: u32) -> &[Cand] {
        let c = class as usize;
        &self.cand[self.cand_start[c] as usize..self.cand_start[c + 1] as usize]
    }

    /// The [`CandMeta`] of each of [`Catalog::cands`].
    #[inline]
    fn cand_metas(&self, class: u32) -> &[CandMeta] {
        let c = class as usize;
        &self.cand_meta[self.cand_start[c] as usize..self.cand_start[c + 1] as usize]
    }

    #[inline]
    fn bit(bits: &[u64], slot: u32) -> bool {
        bits[slot as usize / 64] >> (slot % 64) & 1 != 0
    }

    fn run<T: Tracer>(&self, case: &DipCase, s: &mut DipScratch, t: &mut T) -> DipOutcome {
        let mut out = DipOutcome {
            status: DipStatus::Ungrouped,
            type_id: None,
            aux: None,
            attribute: Attribute::Conservative,
            reason: None,
            primary_care: false,
        };
        if self.national {
            return self.run_national(case, s, t, out);
        }
        s.px.clear();
        // 1. Exclusions: an excluded principal diagnosis is ungrouped under drgdip rules.
        let pdx = match self.principal_dx(case, t, out, DipStatus::Ungrouped) {
            Ok(pdx) => pdx,
            Err(out) => return out,
        };
        for &p in &case.px {
            match self.px.excl[p as usize] {
                Excl::None => s.px.push(p),
                Excl::Ignore => {
                    if T::ON {
                        t.step(DipStep::ProcedureDropped {
                            code: self.px_code(p),
                            list: "ignore".into(),
                        });
                    }
                }
                Excl::Conservative if s.px.is_empty() => {
                    if T::ON {
                        t.step(DipStep::ConservativePrincipal {
                            code: self.px_code(p),
                        });
                    }
                    break;
                }
                Excl::Conservative => {
                    if T::ON {
                        t.step(DipStep::ProcedureDropped {
                            code: self.px_code(p),
                            list: "conservative".into(),
                        });
                    }
                }
            }
        }
        out.attribute = match self.options.attribute_source {
            AttributeSource::Principal => {
                s.px.first()
                    .map_or(Attribute::Conservative, |&p| self.px.attr[p as usize])
            }
            AttributeSource::Highest => {
                s.px.iter()
                    .map(|&p| self.px.attr[p as usize])
                    .max()
                    .unwrap_or(Attribute::Conservative)
            }
        };
        if T::ON {
            t.step(DipStep::Attribute {
                attribute: out.attribute,
                source: self.options.attribute_source.as_str().into(),
            });
        }
        self.diagnosis_bits(case, s);

        let cands = self.cands(pdx);
        let mut i = 0;
        // 2–4. Pre-grouping, merge, refinement: the first matching row in file order.
        for layer in [Layer::Pre, Layer::Merge, Layer::Refine] {
            let start = i;
            while i < cands.len() && self.types[cands[i].row as usize].layer == layer {
                let row = cands[i].row;
                i += 1;
                let ok = self.matches(row, case, s).is_some();
                if T::ON {
                    self.trace_type(row, ok, case, s, t);
                }
                if ok {
                    return self.found(out, row, case, s, t);
                }
            }
            if T::ON && start == i {
                t.step(DipStep::LayerEmpty { layer });
            }
        }
        // 5. Core types, most specific principal-diagnosis level first.
        if T::ON
            && cands
                .get(i)
                .is_none_or(|c| self.types[c.row as usize].layer != Layer::Core)
        {
            t.step(DipStep::LayerEmpty { layer: Layer::Core });
        }
        while i < cands.len() && self.types[cands[i].row as usize].layer == Layer::Core {
            let level = cands[i].level;
            let mut best: Option<(u32, Rank)> = None;
            while i < cands.len()
                && self.types[cands[i].row as usize].layer == Layer::Core
                && cands[i].level == level
            {
                let row = cands[i].row;
                i += 1;
                let rank = self.matches(row, case, s);
                if T::ON {
                    self.trace_type(row, rank.is_some(), case, s, t);
                }
                let Some(rank) = rank else { continue };
                best = match best {
                    None => Some((row, rank)),
                    Some((b, brank)) => {
                        if self.better(row, rank, b, brank) {
                            if T::ON {
                                self.trace_preference(row, rank, b, brank, t);
                            }
                            Some((row, rank))
                        } else {
                            if T::ON {
                                self.trace_preference(b, brank, row, rank, t);
                            }
                            Some((b, brank))
                        }
                    }
                };
            }
            if let Some((row, _)) = best {
                return self.found(out, row, case, s, t);
            }
        }
        // 6. Composite types: category × attribute.
        let start = i;
        if let Some(row) = self.composite(cands, &mut i, out.attribute, case, s, t) {
            return self.found(out, row, case, s, t);
        }
        if T::ON && start == i {
            t.step(DipStep::LayerEmpty {
                layer: Layer::Composite,
            });
        }
        // 7. Ungrouped.
        if T::ON {
            t.step(DipStep::Ungrouped {
                message: DipReason::NoType.message().into(),
            });
        }
        out.reason = Some(DipReason::NoType);
        out
    }

    /// The principal diagnosis, or the finished outcome: `invalid` without a diagnosis,
    /// `excluded` (with the reason [`DipReason::ExcludedPrincipal`]) when the exclusion
    /// list names it.
    #[inline]
    fn principal_dx<T: Tracer>(
        &self,
        case: &DipCase,
        t: &mut T,
        mut out: DipOutcome,
        excluded: DipStatus,
    ) -> Result<u32, DipOutcome> {
        let Some(&pdx) = case.dx.first() else {
            if T::ON {
                t.step(DipStep::Invalid {
                    message: DipReason::NoDiagnosis.message().into(),
                });
            }
            out.status = DipStatus::Invalid;
            out.reason = Some(DipReason::NoDiagnosis);
            return Err(out);
        };
        if self.class_excluded[pdx as usize] {
            if T::ON {
                t.step(DipStep::ExcludedPrincipal {
                    code: self.class_key(pdx).into(),
                });
            }
            out.status = excluded;
            out.reason = Some(DipReason::ExcludedPrincipal);
            return Err(out);
        }
        Ok(pdx)
    }

    /// Fills the condition bits of the principal diagnosis and of the secondary ones
    /// (their union), and the CCI categories of the secondary diagnoses.
    #[inline]
    fn diagnosis_bits(&self, case: &DipCase, s: &mut DipScratch) {
        let w = self.words;
        s.bits.clear();
        s.bits.resize(2 * w, 0);
        s.bits[..w].copy_from_slice(self.class_row(case.dx[0]));
        s.cci = 0;
        for &x in &case.dx[1..] {
            let row = self.class_row(x);
            for (a, b) in s.bits[w..].iter_mut().zip(row) {
                *a |= b;
            }
            s.cci |= self.class_cci[x as usize];
        }
    }

    /// The first composite row from `cands[*i..]` whose attribute is the case's
    /// (interventional counting as surgery) and whose conditions hold.
    #[inline]
    fn composite<T: Tracer>(
        &self,
        cands: &[Cand],
        i: &mut usize,
        attribute: Attribute,
        case: &DipCase,
        s: &DipScratch,
        t: &mut T,
    ) -> Option<u32> {
        let want = attribute.composite();
        while *i < cands.len() && self.types[cands[*i].row as usize].layer == Layer::Composite {
            let row = cands[*i].row;
            *i += 1;
            let ty = &self.types[row as usize];
            let ok = ty.attribute == Some(want) && (!ty.has_cond || self.conditions(ty, case, s));
            if T::ON {
                self.trace_type(row, ok, case, s, t);
            }
            if ok {
                return Some(row);
            }
        }
        None
    }

    /// Records the type and picks the auxiliary sub-type.
    fn found<T: Tracer>(
        &self,
        mut out: DipOutcome,
        row: u32,
        case: &DipCase,
        s: &DipScratch,
        t: &mut T,
    ) -> DipOutcome {
        let ty = &self.types[row as usize];
        if T::ON {
            t.step(DipStep::Chosen {
                layer: ty.layer,
                code: ty.code.clone(),
            });
        }
        out.status = if ty.layer == Layer::Composite {
            DipStatus::Composite
        } else {
            DipStatus::Grouped
        };
        out.type_id = Some(row);
        out.primary_care = ty.primary_care;
        for (k, a) in self.aux.iter().enumerate() {
            if a.types
                .as_ref()
                .is_some_and(|ts| ts.binary_search(&row).is_err())
            {
                continue;
            }
            let ok = self.aux_holds(a, ty, case, s);
            if T::ON {
                t.step(DipStep::Aux {
                    code: a.code.clone(),
                    coefficient: a.coefficient_text.clone(),
                    matched: ok,
                    detail: self.describe_aux(a, ty, case, s),
                });
            }
            if ok {
                out.aux = Some(k as u32);
                break;
            }
        }
        out
    }

    fn cci_score(&self, s: &DipScratch) -> i64 {
        let mut total = 0i64;
        let mut m = s.cci;
        while m != 0 {
            let k = m.trailing_zeros();
            total += self.cci_weights[k as usize] as i64;
            m &= m - 1;
        }
        total
    }

    fn aux_holds(
        &self,
        a: &super::compile::AuxType,
        ty: &DipType,
        case: &DipCase,
        s: &DipScratch,
    ) -> bool {
        let w = self.words;
        a.principal_dx.is_none_or(|k| Self::bit(&s.bits[..w], k))
            && a.secondary_dx.is_none_or(|k| Self::bit(&s.bits[w..], k))
            && (a.discharge_ways == 0
                || case
                    .discharge_way
                    .is_some_and(|d| d < 16 && a.discharge_ways >> d & 1 != 0))
            && a.los.is_none_or(|r| r.holds(case.los))
            && a.age.is_none_or(|r| r.holds(case.age))
            && a.age_days.is_none_or(|r| r.holds(case.age_days))
            && a.icu_days.is_none_or(|r| r.holds(case.icu_days))
            && a.cci.is_none_or(|r| r.holds(Some(self.cci_score(s))))
            && a.cost_ratio
                .is_none_or(|ratio| Self::cost_at_least(case, ty, ratio))
    }

    /// Total cost ≥ `ratio` × the type's mean cost, exactly; false when either is missing
    /// (or the product is beyond any amount).
    fn cost_at_least(case: &DipCase, ty: &DipType, ratio: Decimal) -> bool {
        match (case.total_cost, ty.mean_cost) {
            (Some(fen), Some(mean)) => ratio
                .checked_mul(mean)
                .is_some_and(|need| Decimal::new(fen, 2) >= need),
            _ => false,
        }
    }

    fn conditions(&self, ty: &DipType, case: &DipCase, s: &DipScratch) -> bool {
        let c = &ty.cond;
        let w = self.words;
        c.any_dx
            .is_none_or(|k| Self::bit(&s.bits[..w], k) || Self::bit(&s.bits[w..], k))
            && c.age.is_none_or(|r| r.holds(case.age))
            && c.age_days.is_none_or(|r| r.holds(case.age_days))
            && c.weight.is_none_or(|r| r.holds(case.weight))
            && c.vent_hours.is_none_or(|r| r.holds(case.vent_hours))
            && c.los.is_none_or(|r| r.holds(case.los))
    }

    /// Whether a row matches, and how well its procedures do.
    #[inline]
    fn matches(&self, row: u32, case: &DipCase, s: &DipScratch) -> Option<Rank> {
        let ty = &self.types[row as usize];
        if ty.has_cond && !self.conditions(ty, case, s) {
            return None;
        }
        match ty.procs {
            Procs::Any => Some((0, false)),
            Procs::Conservative => s.px.is_empty().then_some((0, false)),
            Procs::Alts(start, len) => {
                let principal = s.px.first().copied();
                let mut best: Option<Rank> = None;
                for &(cs, cl) in &self.alts[start as usize..(start + len) as usize] {
                    let codes = &self.alt_codes[cs as usize..(cs + cl) as usize];
                    if codes.iter().all(|c| s.px.contains(c)) {
                        let rank = (cl, principal.is_some_and(|p| codes.contains(&p)));
                        if best.is_none_or(|b| rank > b) {
                            best = Some(rank);
                        }
                    }
                }
                best
            }
        }
    }

    /// Whether core row `a` beats row `b` (listed earlier).
    fn better(&self, a: u32, ra: Rank, b: u32, rb: Rank) -> bool {
        if ra != rb {
            return ra > rb;
        }
        let (sa, sb) = (self.types[a as usize].score, self.types[b as usize].score);
        match self.options.tie_rule {
            TieRule::HighestScore => sa > sb,
            TieRule::LowestScore => sa < sb,
            TieRule::FirstListed => false,
        }
    }

    fn trace_preference<T: Tracer>(&self, w: u32, rw: Rank, l: u32, rl: Rank, t: &mut T) {
        let rule = if rw.0 != rl.0 {
            format!("more procedures matched ({} > {})", rw.0, rl.0)
        } else if rw.1 != rl.1 {
            "it contains the principal procedure".to_string()
        } else {
            let (sw, sl) = (&self.types[w as usize], &self.types[l as usize]);
            match self.options.tie_rule {
                TieRule::HighestScore if sw.score != sl.score => {
                    format!(
                        "tie rule highest_score ({} > {})",
                        sw.score_text, sl.score_text
                    )
                }
                TieRule::LowestScore if sw.score != sl.score => {
                    format!(
                        "tie rule lowest_score ({} < {})",
                        sw.score_text, sl.score_text
                    )
                }
                _ => format!("tie rule {}: listed first", self.options.tie_rule.as_str()),
            }
        };
        t.step(DipStep::Preferred {
            winner: self.types[w as usize].code.clone(),
            loser: self.types[l as usize].code.clone(),
            rule,
        });
    }

    fn trace_type<T: Tracer>(&self, row: u32, ok: bool, case: &DipCase, s: &DipScratch, t: &mut T) {
        let ty = &self.types[row as usize];
        t.step(DipStep::Type {
            layer: ty.layer,
            code: ty.code.clone(),
            principal_dx: if ty.principal_dx.is_empty() {
                "(any)".into()
            } else {
                ty.principal_dx.clone()
            },
            procedures: match ty.attribute {
                Some(a) => format!("attribute {}", a.as_str()),
                None if ty.procedures.is_empty() => "(conservative)".into(),
                None => ty.procedures.clone(),
            },
            matched: ok,
            detail: if self.national {
                self.describe_national(ty, case, s)
            } else {
                self.describe_type(ty, case, s)
            },
        });
    }

    /// The facts behind a row's verdict (explanations only).
    fn describe_type(&self, ty: &DipType, case: &DipCase, s: &DipScratch) -> String {
        let mut parts = Vec::new();
        let w = self.words;
        let c = &ty.cond;
        if let Some(k) = c.any_dx {
            let yes = Self::bit(&s.bits[..w], k) || Self::bit(&s.bits[w..], k);
            parts.push(format!(
                "some diagnosis in {}: {}",
                self.slots[k as usize], yes
            ));
        }
        for (name, r, v) in [
            ("age", c.age, case.age),
            ("age_days", c.age_days, case.age_days),
            ("weight", c.weight, case.weight),
            ("vent_hours", c.vent_hours, case.vent_hours),
            ("los", c.los, case.los),
        ] {
            if let Some(r) = r {
                parts.push(describe_range(name, r, v));
            }
        }
        match (ty.attribute, ty.procs) {
            (Some(a), _) => {
                let want = a.as_str();
                let have = self.attribute_of(s).composite();
                parts.push(format!(
                    "case attribute {} (interventional counts as surgery) {} {want}",
                    have.as_str(),
                    if have == a { "=" } else { "!=" }
                ));
            }
            (None, Procs::Any) => parts.push("any procedures".into()),
            (None, Procs::Conservative) => parts.push(if s.px.is_empty() {
                "no grouping procedure: conservative".into()
            } else {
                format!(
                    "the case has {} grouping procedure(s), not conservative",
                    s.px.len()
                )
            }),
            (None, Procs::Alts(start, len)) => {
                for &(cs, cl) in &self.alts[start as usize..(start + len) as usize] {
                    let codes = &self.alt_codes[cs as usize..(cs + cl) as usize];
                    let list: Vec<String> = codes
                        .iter()
                        .map(|&p| {
                            let mark = if s.px.contains(&p) {
                                if s.px.first() == Some(&p) {
                                    "principal"
                                } else {
                                    "present"
                                }
                            } else {
                                "missing"
                            };
                            format!("{} {mark}", self.px_code(p))
                        })
                        .collect();
                    parts.push(format!("[{}]", list.join(", ")));
                }
            }
        }
        parts.join("; ")
    }

    fn attribute_of(&self, s: &DipScratch) -> Attribute {
        match self.options.attribute_source {
            AttributeSource::Principal => {
                s.px.first()
                    .map_or(Attribute::Conservative, |&p| self.px.attr[p as usize])
            }
            AttributeSource::Highest => {
                s.px.iter()
                    .map(|&p| self.px.attr[p as usize])
                    .max()
                    .unwrap_or(Attribute::Conservative)
            }
        }
    }

    fn describe_aux(
        &self,
        a: &super::compile::AuxType,
        ty: &DipType,
        case: &DipCase,
        s: &DipScratch,
    ) -> String {
        let w = self.words;
        let mut parts = Vec::new();
        if let Some(k) = a.principal_dx {
            parts.push(format!(
                "principal diagnosis in {}: {}",
                self.slots[k as usize],
                Self::bit(&s.bits[..w], k)
            ));
        }
        if let Some(k) = a.secondary_dx {
            parts.push(format!(
                "some secondary diagnosis in {}: {}",
                self.slots[k as usize],
                Self::bit(&s.bits[w..], k)
            ));
        }
        if a.discharge_ways != 0 {
            let ways: Vec<String> = (1..10)
                .filter(|d| a.discharge_ways >> d & 1 != 0)
                .map(|d| d.to_string())
                .collect();
            parts.push(match case.discharge_way {
                Some(d) => format!("discharge way {d} in [{}]", ways.join(",")),
                None => format!("discharge way missing, so not in [{}]", ways.join(",")),
            });
        }
        for (name, r, v) in [
            ("los", a.los, case.los),
            ("age", a.age, case.age),
            ("age_days", a.age_days, case.age_days),
            ("icu_days", a.icu_days, case.icu_days),
            ("cci", a.cci, Some(self.cci_score(s))),
        ] {
            if let Some(r) = r {
                parts.push(describe_range(name, r, v));
            }
        }
        if let Some(ratio) = a.cost_ratio {
            let yuan = |v: Option<String>| v.unwrap_or_else(|| "missing".into());
            parts.push(format!(
                "total cost {} yuan >= {ratio} × type mean cost {} yuan: {}",
                yuan(case.total_cost.map(|c| Decimal::new(c, 2).to_string())),
                yuan(ty.mean_cost.map(|m| m.to_string())),
                Self::cost_at_least(case, ty, ratio)
            ));
        }
        if parts.is_empty() {
            "no condition".into()
        } else {
            parts.join("; ")
        }
    }
}

fn describe_range(name: &str, r: Range, v: Option<i64>) -> String {
    match v {
        Some(x) => format!("{name} {x} {r}: {}", r.holds(v)),
        None => format!("{name} missing ({r}): false"),
    }
}
