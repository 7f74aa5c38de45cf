//! A slow, obviously correct interpreter of the DIP catalogue format, written straight
//! from `docs/dip-catalog.md` over the declarative [`CatalogSource`]: codes stay strings,
//! tables stay `Vec`s and `HashMap`s, and every rule is evaluated afresh for every case
//! (no interning, no diagnosis classes, no candidate lists, no condition bits). It exists
//! to check the compiled [`Catalog`]: both must give the same [`DipResult`] for every
//! case.
//!
//! ```no_run
//! use drgdip_grouper::dip::reference::{DipReference, DipResult, TextDipCase};
//! use drgdip_grouper::dip::{Catalog, CatalogSource, DipCase};
//!
//! let source = CatalogSource::from_dir("data/demo-catalog")?;
//! let catalog = Catalog::compile(&source)?;
//! let reference = DipReference::new(&source)?;
//! let text = TextDipCase { dx: vec!["I63.900".into()], ..TextDipCase::default() };
//! let fast = catalog.group(&text.to_case(&catalog), &mut catalog.scratch());
//! assert_eq!(DipResult::of(&catalog, &fast), reference.group(&text));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::str::FromStr;

use rust_decimal::Decimal;

use super::compile::{Catalog, Layer};
use super::group::{DipCase, DipOutcome, DipReason, DipStatus};
use super::source::{AttributeSource, CatalogOptions, CatalogSource, TieRule};
use super::spec::{Attribute, DxSpec, ProcSpec, Range, dx_key, px_key};

/// A case with its codes as strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextDipCase {
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
    /// Discharge way 1–9.
    pub discharge_way: Option<u8>,
    /// Total cost in fen.
    pub total_cost: Option<i64>,
    /// Diagnosis codes, principal first.
    pub dx: Vec<String>,
    /// Procedure codes, principal first.
    pub px: Vec<String>,
}

impl TextDipCase {
    /// The same case for the compiled catalogue (codes looked up with
    /// [`Catalog::dx`] and [`Catalog::px`]).
    pub fn to_case(&self, catalog: &Catalog) -> DipCase {
        let mut case = DipCase::default();
        self.fill(catalog, &mut case);
        case
    }

    /// Fills `case` (cleared first) with this case for the compiled catalogue.
    pub fn fill(&self, catalog: &Catalog, case: &mut DipCase) {
        case.clear();
        case.age = self.age;
        case.age_days = self.age_days;
        case.weight = self.weight;
        case.los = self.los;
        case.icu_days = self.icu_days;
        case.vent_hours = self.vent_hours;
        case.discharge_way = self.discharge_way;
        case.total_cost = self.total_cost;
        case.dx.extend(self.dx.iter().map(|c| catalog.dx(c).id));
        case.px.extend(self.px.iter().map(|c| catalog.px(c).id));
    }
}

/// What grouping a case observably gives: the columns of `drgdip dip group` (minus the
/// case id, name, catalogue label and warnings) and the reason of an ungrouped or invalid
/// case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DipResult {
    /// Outcome class.
    pub status: DipStatus,
    /// Why the case is ungrouped or invalid.
    pub reason: Option<DipReason>,
    /// Type code (empty when none).
    pub dip_code: String,
    /// Layer name (empty when none).
    pub layer: String,
    /// Score as written in the output (empty when none).
    pub score: String,
    /// Auxiliary sub-type code (empty when none).
    pub aux_type: String,
    /// Auxiliary coefficient as written (`1` when none).
    pub aux_coef: String,
    /// A primary-care type.
    pub primary_care: bool,
}

impl DipResult {
    /// The observable result of a compiled outcome.
    pub fn of(catalog: &Catalog, outcome: &DipOutcome) -> DipResult {
        let t = catalog.type_of(outcome);
        let a = catalog.aux_of(outcome);
        DipResult {
            status: outcome.status,
            reason: outcome.reason,
            dip_code: t.map(|t| t.code.clone()).unwrap_or_default(),
            layer: t.map(|t| t.layer.as_str().to_string()).unwrap_or_default(),
            score: t.map(|t| t.score_text.clone()).unwrap_or_default(),
            aux_type: a.map(|a| a.code.clone()).unwrap_or_default(),
            aux_coef: a.map_or_else(|| "1".to_string(), |a| a.coefficient_text.clone()),
            primary_care: t.is_some_and(|t| t.primary_care),
        }
    }

    fn ungrouped(status: DipStatus, reason: DipReason) -> DipResult {
        DipResult {
            status,
            reason: Some(reason),
            dip_code: String::new(),
            layer: String::new(),
            score: String::new(),
            aux_type: String::new(),
            aux_coef: "1".into(),
            primary_care: false,
        }
    }
}

/// One row of `types.csv`, parsed.
#[derive(Debug)]
struct RefType {
    code: String,
    layer: Layer,
    /// Empty = any principal diagnosis.
    principal_dx: Vec<DxSpec>,
    procedures: ProcSpec,
    attribute: Option<Attribute>,
    /// Empty = no condition.
    any_dx: Vec<DxSpec>,
    age: Option<Range>,
    age_days: Option<Range>,
    weight: Option<Range>,
    vent_hours: Option<Range>,
    los: Option<Range>,
    score: Decimal,
    score_text: String,
    mean_cost: Option<Decimal>,
    primary_care: bool,
}

/// One row of `aux.csv`, parsed.
#[derive(Debug)]
struct RefAux {
    code: String,
    coefficient: Decimal,
    coefficient_text: String,
    /// Empty = every type.
    types: Vec<String>,
    principal_dx: Vec<DxSpec>,
    secondary_dx: Vec<DxSpec>,
    discharge_ways: Vec<u8>,
    los: Option<Range>,
    age: Option<Range>,
    age_days: Option<Range>,
    icu_days: Option<Range>,
    cci: Option<Range>,
    cost_ratio: Option<Decimal>,
}

/// How a procedure is treated by `exclusions.csv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProcExclusion {
    Ignore,
    Conservative,
}

/// The reference interpreter of one catalogue.
#[derive(Debug)]
pub struct DipReference {
    options: CatalogOptions,
    types: Vec<RefType>,
    /// `procedure_attributes.csv`: exact codes, and prefixes (without the `*`).
    attributes: HashMap<String, Attribute>,
    attribute_prefixes: Vec<(String, Attribute)>,
    /// `exclusions.csv`.
    excluded_principal: Vec<DxSpec>,
    procedure_exclusions: HashMap<String, ProcExclusion>,
    procedure_exclusion_prefixes: Vec<(String, ProcExclusion)>,
    aux: Vec<RefAux>,
    /// `cci.csv`: (specs, category).
    cci: Vec<(Vec<DxSpec>, String)>,
    cci_weights: HashMap<String, i64>,
}

/// Prefixes a message with its file and line.
fn at(file: &'static str, line: u64) -> impl Fn(String) -> String + Copy {
    move |m| format!("{file} line {line}: {m}")
}

/// Parses `|`-separated diagnosis specs, expanding `@list` references.
fn dx_specs(text: &str, lists: &HashMap<String, Vec<DxSpec>>) -> Result<Vec<DxSpec>, String> {
    let mut out = Vec::new();
    if text.trim().is_empty() {
        return Ok(out);
    }
    for part in text.split('|') {
        let part = part.trim();
        match part.strip_prefix('@') {
            Some(name) => out.extend(
                lists
                    .get(name)
                    .ok_or_else(|| format!("unknown list @{name}"))?
                    .iter()
                    .cloned(),
            ),
            None => out.push(DxSpec::parse(part)?),
        }
    }
    Ok(out)
}

fn range(text: &str) -> Result<Option<Range>, String> {
    Range::parse(text)
}

fn decimal(text: &str) -> Result<Decimal, String> {
    Decimal::from_str(text.trim()).map_err(|_| format!("`{text}` is not a number"))
}

fn optional_decimal(text: &str) -> Result<Option<Decimal>, String> {
    if text.trim().is_empty() {
        Ok(None)
    } else {
        decimal(text).map(Some)
    }
}

/// Whether a diagnosis key is covered by a spec (the documented rules: exact code,
/// 亚目 and category by prefix, a range by the code's category).
fn covers(spec: &DxSpec, key: &str) -> bool {
    spec.matches(key)
}

fn covers_any(specs: &[DxSpec], key: &str) -> bool {
    specs.iter().any(|s| covers(s, key))
}

/// The most specific level (exact 3 … range 0) at which `specs` cover `key`.
fn level(specs: &[DxSpec], key: &str) -> Option<u8> {
    specs
        .iter()
        .filter(|s| covers(s, key))
        .map(DxSpec::level)
        .max()
}

/// The value of a `code` or `prefix*` table for a procedure code: the exact code first,
/// else the longest prefix.
fn by_code_or_prefix<T: Copy>(
    exact: &HashMap<String, T>,
    prefixes: &[(String, T)],
    code: &str,
) -> Option<T> {
    if let Some(&v) = exact.get(code) {
        return Some(v);
    }
    prefixes
        .iter()
        .filter(|(p, _)| code.starts_with(p.as_str()))
        .max_by_key(|(p, _)| p.len())
        .map(|&(_, v)| v)
}

/// `code` or `prefix*` → (is prefix, key).
fn pattern(text: &str) -> (bool, String) {
    match text.trim().strip_suffix('*') {
        Some(p) => (true, px_key(p)),
        None => (false, px_key(text)),
    }
}

impl DipReference {
    /// Reads a catalogue source. It must be one that [`Catalog::compile`] accepts; the
    /// reference checks only what it needs to interpret it and says what it cannot read.
    pub fn new(source: &CatalogSource) -> Result<DipReference, String> {
        let mut lists: HashMap<String, Vec<DxSpec>> = HashMap::new();
        for r in &source.dx_lists {
            lists
                .entry(r.list.clone())
                .or_default()
                .push(DxSpec::parse(&r.code)?);
        }

        let mut types = Vec::new();
        for r in &source.types {
            let e = at("types.csv", r.line);
            let layer = Layer::parse(&r.layer).map_err(e)?;
            let attribute = if r.attribute.trim().is_empty() {
                None
            } else {
                Some(Attribute::parse(&r.attribute).map_err(e)?)
            };
            let score = decimal(&r.score).map_err(e)?;
            types.push(RefType {
                code: r.code.clone(),
                layer,
                principal_dx: dx_specs(&r.principal_dx, &lists).map_err(e)?,
                procedures: ProcSpec::parse(&r.procedures).map_err(e)?,
                attribute,
                any_dx: dx_specs(&r.any_dx, &lists).map_err(e)?,
                age: range(&r.age).map_err(e)?,
                age_days: range(&r.age_days).map_err(e)?,
                weight: range(&r.weight).map_err(e)?,
                vent_hours: range(&r.vent_hours).map_err(e)?,
                los: range(&r.los).map_err(e)?,
                score,
                // Written to the output as given.
                score_text: r.score.trim().to_string(),
                mean_cost: optional_decimal(&r.mean_cost).map_err(e)?,
                primary_care: matches!(r.primary_care.trim(), "1" | "true" | "是"),
            });
        }

        let mut attributes = HashMap::new();
        let mut attribute_prefixes = Vec::new();
        for r in &source.attributes {
            let a =
                Attribute::parse(&r.attribute).map_err(at("procedure_attributes.csv", r.line))?;
            match pattern(&r.code) {
                (true, p) => attribute_prefixes.push((p, a)),
                (false, c) => {
                    attributes.insert(c, a);
                }
            }
        }

        let mut excluded_principal = Vec::new();
        let mut procedure_exclusions = HashMap::new();
        let mut procedure_exclusion_prefixes = Vec::new();
        for r in &source.exclusions {
            let e = at("exclusions.csv", r.line);
            let kind = match r.kind.trim() {
                "principal_dx" => {
                    excluded_principal.extend(dx_specs(&r.code, &lists).map_err(e)?);
                    continue;
                }
                "procedure_ignore" => ProcExclusion::Ignore,
                "procedure_conservative" => ProcExclusion::Conservative,
                other => return Err(e(format!("unknown kind `{other}`"))),
            };
            match pattern(&r.code) {
                (true, p) => procedure_exclusion_prefixes.push((p, kind)),
                (false, c) => {
                    procedure_exclusions.insert(c, kind);
                }
            }
        }

        let mut aux = Vec::new();
        for r in &source.aux {
            let e = at("aux.csv", r.line);
            let coefficient = decimal(&r.coefficient).map_err(e)?;
            let mut discharge_ways = Vec::new();
            for w in r.discharge_way.split('|').map(str::trim) {
                if !w.is_empty() {
                    discharge_ways.push(w.parse::<u8>().map_err(|_| e(format!("bad way {w}")))?);
                }
            }
            aux.push(RefAux {
                code: r.code.clone(),
                coefficient,
                coefficient_text: coefficient.normalize().to_string(),
                types: r
                    .types
                    .split('|')
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty())
                    .collect(),
                principal_dx: dx_specs(&r.principal_dx, &lists).map_err(e)?,
                secondary_dx: dx_specs(&r.secondary_dx, &lists).map_err(e)?,
                discharge_ways,
                los: range(&r.los).map_err(e)?,
                age: range(&r.age).map_err(e)?,
                age_days: range(&r.age_days).map_err(e)?,
                icu_days: range(&r.icu_days).map_err(e)?,
                cci: range(&r.cci).map_err(e)?,
                cost_ratio: optional_decimal(&r.cost_ratio).map_err(e)?,
            });
        }

        let mut cci = Vec::new();
        let mut cci_weights = HashMap::new();
        for r in &source.cci {
            let e = at("cci.csv", r.line);
            let w: i64 = r
                .weight
                .trim()
                .parse()
                .map_err(|_| e(format!("bad weight {}", r.weight)))?;
            cci_weights.insert(r.category.clone(), w);
            cci.push((dx_specs(&r.code, &lists).map_err(e)?, r.category.clone()));
        }

        Ok(DipReference {
            options: source.manifest.options.clone(),
            types,
            attributes,
            attribute_prefixes,
            excluded_principal,
            procedure_exclusions,
            procedure_exclusion_prefixes,
            aux,
            cci,
            cci_weights,
        })
    }

    /// The attribute of a procedure code (already a key).
    fn attribute(&self, code: &str) -> Attribute {
        by_code_or_prefix(&self.attributes, &self.attribute_prefixes, code)
            .unwrap_or(self.options.unknown_procedure_attribute)
    }

    /// Groups one case.
    pub fn group(&self, case: &TextDipCase) -> DipResult {
        // 1. Validation.
        if case.dx.is_empty() {
            return DipResult::ungrouped(DipStatus::Invalid, DipReason::NoDiagnosis);
        }
        let keys: Vec<String> = case.dx.iter().map(|c| dx_key(c)).collect();
        let principal = keys[0].as_str();
        let secondary = &keys[1..];

        // 2. Exclusions.
        if covers_any(&self.excluded_principal, principal) {
            return DipResult::ungrouped(DipStatus::Ungrouped, DipReason::ExcludedPrincipal);
        }
        let mut procedures: Vec<String> = Vec::new();
        for code in &case.px {
            let code = px_key(code);
            match by_code_or_prefix(
                &self.procedure_exclusions,
                &self.procedure_exclusion_prefixes,
                &code,
            ) {
                None => procedures.push(code),
                Some(ProcExclusion::Ignore) => {}
                Some(ProcExclusion::Conservative) => {
                    if procedures.is_empty() {
                        // The principal grouping procedure: the case is conservative,
                        // every procedure set aside.
                        procedures.clear();
                        break;
                    }
                }
            }
        }
        let attribute = match self.options.attribute_source {
            AttributeSource::Principal => procedures
                .first()
                .map_or(Attribute::Conservative, |p| self.attribute(p)),
            AttributeSource::Highest => procedures
                .iter()
                .map(|p| self.attribute(p))
                .max()
                .unwrap_or(Attribute::Conservative),
        };

        let conditions = |t: &RefType| -> bool {
            (t.any_dx.is_empty() || keys.iter().any(|k| covers_any(&t.any_dx, k)))
                && t.age.is_none_or(|r| r.holds(case.age))
                && t.age_days.is_none_or(|r| r.holds(case.age_days))
                && t.weight.is_none_or(|r| r.holds(case.weight))
                && t.vent_hours.is_none_or(|r| r.holds(case.vent_hours))
                && t.los.is_none_or(|r| r.holds(case.los))
        };
        // How well a row's procedures match: (codes of the best alternative, whether it
        // holds the principal grouping procedure); `None` = no match.
        let procedure_rank = |t: &RefType| -> Option<(usize, bool)> {
            match &t.procedures {
                ProcSpec::Any => Some((0, false)),
                ProcSpec::Conservative => procedures.is_empty().then_some((0, false)),
                ProcSpec::Alternatives(alts) => alts
                    .iter()
                    .filter(|alt| alt.iter().all(|c| procedures.contains(c)))
                    .map(|alt| {
                        (
                            alt.len(),
                            procedures.first().is_some_and(|p| alt.contains(p)),
                        )
                    })
                    .max(),
            }
        };

        // 3–5. Pre-grouping, merge, refinement: the first matching row in file order.
        for layer in [Layer::Pre, Layer::Merge, Layer::Refine] {
            for t in self.types.iter().filter(|t| t.layer == layer) {
                let pdx_ok = t.principal_dx.is_empty() || covers_any(&t.principal_dx, principal);
                if pdx_ok && conditions(t) && procedure_rank(t).is_some() {
                    return self.found(t, case, principal, secondary);
                }
            }
        }

        // 6. Core types: most specific level first; within a level the most procedures
        // matched, then the alternative with the principal procedure, then the tie rule.
        for lvl in [3, 2, 1, 0] {
            let mut best: Option<(&RefType, (usize, bool))> = None;
            for t in &self.types {
                if t.layer != Layer::Core || level(&t.principal_dx, principal) != Some(lvl) {
                    continue;
                }
                if !conditions(t) {
                    continue;
                }
                let Some(rank) = procedure_rank(t) else {
                    continue;
                };
                let better = match best {
                    None => true,
                    Some((_, brank)) if rank != brank => rank > brank,
                    Some((b, _)) => match self.options.tie_rule {
                        TieRule::HighestScore => t.score > b.score,
                        TieRule::LowestScore => t.score < b.score,
                        TieRule::FirstListed => false,
                    },
                };
                if better {
                    best = Some((t, rank));
                }
            }
            if let Some((t, _)) = best {
                return self.found(t, case, principal, secondary);
            }
        }

        // 7. Composite types: most specific level first, then file order; the attribute
        // must equal the case's, interventional counting as surgery.
        for lvl in [3, 2, 1, 0] {
            for t in &self.types {
                if t.layer == Layer::Composite
                    && level(&t.principal_dx, principal) == Some(lvl)
                    && t.attribute.map(Attribute::composite) == Some(attribute.composite())
                    && conditions(t)
                {
                    return self.found(t, case, principal, secondary);
                }
            }
        }

        // 8. Ungrouped.
        DipResult::ungrouped(DipStatus::Ungrouped, DipReason::NoType)
    }

    /// The result for type `t`, with its auxiliary sub-type: among the matching rows the
    /// highest coefficient wins, ties to the row listed first.
    fn found(
        &self,
        t: &RefType,
        case: &TextDipCase,
        principal: &str,
        secondary: &[String],
    ) -> DipResult {
        // The Charlson index of the secondary diagnoses: each category present once.
        let mut present: Vec<&str> = Vec::new();
        for (specs, category) in &self.cci {
            if secondary.iter().any(|k| covers_any(specs, k)) && !present.contains(&&**category) {
                present.push(category);
            }
        }
        let cci: i64 = present.iter().map(|c| self.cci_weights[*c]).sum();

        let mut best: Option<&RefAux> = None;
        for a in &self.aux {
            let applies = a.types.is_empty() || a.types.contains(&t.code);
            let holds = applies
                && (a.principal_dx.is_empty() || covers_any(&a.principal_dx, principal))
                && (a.secondary_dx.is_empty()
                    || secondary.iter().any(|k| covers_any(&a.secondary_dx, k)))
                && (a.discharge_ways.is_empty()
                    || case
                        .discharge_way
                        .is_some_and(|d| a.discharge_ways.contains(&d)))
                && a.los.is_none_or(|r| r.holds(case.los))
                && a.age.is_none_or(|r| r.holds(case.age))
                && a.age_days.is_none_or(|r| r.holds(case.age_days))
                && a.icu_days.is_none_or(|r| r.holds(case.icu_days))
                && a.cci.is_none_or(|r| r.holds(Some(cci)))
                && a.cost_ratio.is_none_or(|ratio| {
                    match (case.total_cost, t.mean_cost) {
                        // total cost (fen / 100 yuan) ≥ ratio × mean cost (yuan); a
                        // product beyond any amount is never reached.
                        (Some(fen), Some(mean)) => ratio
                            .checked_mul(mean)
                            .is_some_and(|need| Decimal::new(fen, 2) >= need),
                        _ => false,
                    }
                });
            if holds && best.is_none_or(|b| a.coefficient > b.coefficient) {
                best = Some(a);
            }
        }
        DipResult {
            status: if t.layer == Layer::Composite {
                DipStatus::Composite
            } else {
                DipStatus::Grouped
            },
            reason: None,
            dip_code: t.code.clone(),
            layer: t.layer.as_str().to_string(),
            score: t.score_text.clone(),
            aux_type: best.map(|a| a.code.clone()).unwrap_or_default(),
            aux_coef: best.map_or_else(|| "1".to_string(), |a| a.coefficient_text.clone()),
            primary_care: t.primary_care,
        }
    }
}
