//! Calibrating a catalogue on a city's own history (本地目录测算 against a given catalogue,
//! typically NHSA's national DIP 3.0 catalogue, which has no scores and no composite types).
//!
//! 1. The history is grouped with the given catalogue as it is (its composite rows, if
//!    any, set aside), with the city's procedure-attribute table in place of its own
//!    when one is supplied. Each type's cases are counted.
//! 2. Types with at least the threshold of cases are kept as they are ("符合成组条件的病种，
//!    应直接采用国家病种库包含的病种"). Types below it are **folded**: they leave the local
//!    catalogue. Types with no case leave it too and are listed in the report.
//! 3. Composite types (综合病种, "国家病种库不设定综合病种，地方病种库设综合病种"): for every case
//!    no kept type takes (no type matched, or its type was folded), its principal
//!    diagnosis's 3-character category × the attribute of its principal procedure
//!    (`K35-1` surgery or interventional, `-2` therapeutic, `-3` diagnostic, `-4`
//!    conservative). The attributes come from the city's table; without any attribute
//!    table no composite type is made and those cases stay `ungrouped` (the report
//!    counts them).
//! 4. The local catalogue (kept types + composite types) is compiled and the history
//!    grouped with it again; each type's statistics come from the cases it actually
//!    receives. A folded type's cases go where the local catalogue then puts them: a
//!    later row that takes them (e.g. the merge row without related procedures, or the
//!    basic-rule row of the same diagnosis and procedure), else their composite type.
//!    Removing a type never takes a case away from another, so every kept type still
//!    has at least the threshold of cases; composite types that receive no case are
//!    dropped. Grouping the same history with the result therefore puts every case
//!    that is neither excluded nor invalid in a type of the local catalogue.
//! 5. Statistics as in [`build`](super::build::build): trimmed, year-weighted means,
//!    score = type mean ÷ overall mean × scale, CV. The primary-care table of the given
//!    catalogue (for the national workbook `六、基层病种`, `primary_care.csv`) is kept, so
//!    the grouper still decides primary care per case; a type's `primary_care` flag is
//!    set when the given catalogue sets it or when it receives primary-care cases.
//!    Composite types are never primary care.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::build::{
    History, ReportType, Threshold, check_settings, cv_band, cv_bands, fill_stats, group_history,
    threshold_of, type_key_len, years_and_weights,
};
use super::compile::{Catalog, Layer};
use super::error::{BuildError, CatalogError};
use super::group::{DipReason, DipStatus};
use super::source::{AttributeRow, CatalogSource, TypeRow};
use super::spec::{Attribute, dx_key};
use super::stats::{self, Obs, Trim};

/// Settings of [`calibrate`].
#[derive(Debug, Clone)]
pub struct CalibrateConfig {
    /// Name of the local catalogue.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its region (free text).
    pub region: String,
    /// The score of a type whose mean cost equals the overall mean (default 1000).
    pub score_scale: u32,
    /// A type is kept when it has at least this many cases (or the threshold at which
    /// the kept types cover this share of the cases the given catalogue places).
    pub threshold: Threshold,
    /// Year weights, oldest first (default 1:2:7); the newest year takes the last one.
    pub year_weights: Vec<u32>,
    /// Trimming before means.
    pub trim: Trim,
    /// Decimal places of the scores.
    pub score_decimals: u32,
}

impl Default for CalibrateConfig {
    fn default() -> Self {
        CalibrateConfig {
            name: "local-dip".into(),
            version: "1".into(),
            region: String::new(),
            score_scale: 1000,
            threshold: Threshold::Cases(15),
            year_weights: vec![1, 2, 7],
            trim: Trim::default(),
            score_decimals: 2,
        }
    }
}

/// Types and cases of one layer of the local catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerCount {
    /// Layer name (as in `types.csv`).
    pub layer: String,
    /// Types of the local catalogue in this layer.
    pub types: usize,
    /// History cases they receive.
    pub cases: u64,
}

/// What a calibration did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationReport {
    /// Cases of the history.
    pub cases: u64,
    /// Cases whose principal diagnosis the catalogue excludes (in no type).
    pub excluded: u64,
    /// Cases the catalogue finds invalid (in no type).
    pub invalid: u64,
    /// Cases in no type of the local catalogue (neither excluded nor invalid): without
    /// an attribute table, the cases no kept type takes.
    pub ungrouped: u64,
    /// Whether a procedure-attribute table was available (composite types need one).
    pub attribute_table: bool,
    /// Years and their weights.
    pub years: Vec<(u16, u32)>,
    /// The threshold used.
    pub threshold: u64,
    /// Types of the given catalogue (composite rows aside).
    pub given_types: usize,
    /// Of which with cases in the history.
    pub with_cases: usize,
    /// Kept: at least the threshold of cases.
    pub kept: usize,
    /// Folded: fewer cases than the threshold.
    pub folded: usize,
    /// Cases the given catalogue put in folded types.
    pub folded_cases: u64,
    /// Cases no type of the given catalogue took (neither excluded nor invalid).
    pub unmatched_cases: u64,
    /// Codes of the given catalogue's types without any case, in catalogue order.
    pub types_without_cases: Vec<String>,
    /// Of the types without cases: how many per layer.
    pub without_cases_by_layer: Vec<(String, usize)>,
    /// Composite types made.
    pub composite_types: usize,
    /// Cases in composite types.
    pub composite_cases: u64,
    /// Cases in kept (given) types.
    pub kept_cases: u64,
    /// Share of the placed cases in kept types.
    pub coverage: f64,
    /// Overall trimmed, weighted mean cost (yuan).
    pub overall_mean_cost: String,
    /// Types per CV band: `< 0.5`, `0.5-0.7`, `0.7-1.0`, `>= 1.0`.
    pub cv_bands: Vec<(String, usize)>,
    /// Types and cases per layer of the local catalogue.
    pub layers: Vec<LayerCount>,
    /// Primary-care types in the local catalogue: flagged in the given catalogue, or
    /// receiving primary-care cases (national rules: `六、基层病种`, decided per case).
    pub primary_care_types: usize,
    /// History cases grouped as primary care (基层病种).
    pub primary_care_cases: u64,
    /// The largest types by cases (up to 10).
    pub largest: Vec<ReportType>,
}

/// A calibrated local catalogue and its report.
#[derive(Debug, Clone)]
pub struct Calibrated {
    /// The local catalogue, ready to write with [`CatalogSource::write_dir`].
    pub source: CatalogSource,
    /// What the calibration did.
    pub report: CalibrationReport,
}

/// Where a case landed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Type(u32),
    Excluded,
    Invalid,
    Nowhere,
}

fn place(o: &super::group::DipOutcome) -> Place {
    match (o.status, o.type_id) {
        (DipStatus::Grouped | DipStatus::Composite, Some(t)) => Place::Type(t),
        _ => match o.reason {
            Some(DipReason::ExcludedPrincipal) => Place::Excluded,
            Some(DipReason::NoDiagnosis) => Place::Invalid,
            _ if o.status == DipStatus::Invalid => Place::Invalid,
            _ => Place::Nowhere,
        },
    }
}

/// Calibrates `given` (e.g. the national catalogue) on `history`. `attributes` is the
/// city's procedure-attribute table; `None` keeps the catalogue's own (if any).
pub fn calibrate(
    given: &CatalogSource,
    attributes: Option<&[AttributeRow]>,
    history: &History,
    config: &CalibrateConfig,
) -> Result<Calibrated, BuildError> {
    check_settings(&config.year_weights, config.trim, config.threshold)?;
    let (years, weights) = years_and_weights(history, &config.year_weights)?;
    let weight_of = |y: u16| weights[years.binary_search(&y).expect("listed")];

    // Stage 1: the given catalogue as it is, composite rows aside.
    let mut base = given.clone();
    base.content_hash = String::new();
    base.manifest.name = config.name.clone();
    base.manifest.version = config.version.clone();
    base.manifest.region = config.region.clone();
    base.manifest.score_scale = config.score_scale;
    base.manifest.description = format!(
        "local catalogue calibrated from {}@{} on {} history cases ({}–{})",
        given.manifest.name,
        given.manifest.version,
        history.cases.len(),
        years[0],
        years[years.len() - 1]
    );
    base.types.retain(|t| !is_composite(t));
    if let Some(a) = attributes {
        base.attributes = a.to_vec();
    }
    // Auxiliary rows restricted to types may name types that are folded: keep only the
    // unrestricted ones (as `build` does).
    base.aux.retain(|a| a.types.trim().is_empty());
    let has_attributes = !base.attributes.is_empty();
    let first = Catalog::compile(&base)?;
    let outcomes = group_history(&first, history);
    let given_types = base.types.len();
    let mut counts = vec![0u64; given_types];
    for o in &outcomes {
        if let Place::Type(t) = place(o) {
            counts[t as usize] += 1;
        }
    }
    let threshold = threshold_of(
        config.threshold,
        counts.iter().copied().filter(|&c| c > 0).collect(),
    );
    let kept: Vec<bool> = counts.iter().map(|&c| c >= threshold).collect();

    // Composite types for the cases no kept type takes.
    let cat_of: Vec<Option<String>> = history
        .dx_codes
        .iter()
        .map(|c| {
            let k = dx_key(c);
            type_key_len(&k).map(|_| k[..3].to_string())
        })
        .collect();
    // (category, code suffix, attribute): in the order of the codes.
    let mut composite: BTreeSet<(String, u8, Attribute)> = BTreeSet::new();
    let (mut folded_cases, mut unmatched_cases) = (0u64, 0u64);
    for (h, o) in history.cases.iter().zip(&outcomes) {
        match place(o) {
            Place::Type(t) if kept[t as usize] => continue,
            Place::Type(_) => folded_cases += 1,
            Place::Nowhere => unmatched_cases += 1,
            Place::Excluded | Place::Invalid => continue,
        }
        if has_attributes && let Some(cat) = &cat_of[h.dx as usize] {
            let a = o.attribute.composite();
            composite.insert((cat.clone(), a.composite_suffix(), a));
        }
    }

    // Stage 2: the local catalogue.
    let mut local = base.clone();
    let mut without_cases = Vec::new();
    let mut without_by_layer: BTreeMap<String, usize> = BTreeMap::new();
    local.types = Vec::with_capacity(given_types + composite.len());
    for (t, row) in base.types.iter().enumerate() {
        if counts[t] == 0 {
            without_cases.push(row.code.clone());
            *without_by_layer.entry(layer_name(row)).or_default() += 1;
        }
        if kept[t] {
            local.types.push(row.clone());
        }
    }
    for (cat, suffix, attr) in &composite {
        local.types.push(TypeRow {
            code: format!("{cat}-{suffix}"),
            name: format!("{cat} 综合病种 {}", attr.as_str()),
            layer: "composite".into(),
            principal_dx: cat.clone(),
            attribute: attr.as_str().into(),
            score: "0".into(),
            ..TypeRow::default()
        });
    }
    for (i, r) in local.types.iter_mut().enumerate() {
        r.line = i as u64 + 2;
    }
    let second = Catalog::compile(&local)?;
    let outcomes = group_history(&second, history);
    let (mut excluded, mut invalid, mut ungrouped) = (0u64, 0u64, 0u64);
    let mut obs = Vec::with_capacity(history.cases.len());
    let mut pc_cases = vec![0u64; local.types.len()];
    for (h, o) in history.cases.iter().zip(&outcomes) {
        match place(o) {
            Place::Type(t) => obs.push(Obs {
                group: t,
                weight: weight_of(h.year),
                cost: h.cost,
                los: 0,
                primary: h.primary,
            }),
            Place::Excluded => excluded += 1,
            Place::Invalid => invalid += 1,
            Place::Nowhere => ungrouped += 1,
        }
        if let (Place::Type(t), true) = (place(o), o.primary_care) {
            pc_cases[t as usize] += 1;
        }
    }
    let primary_care_cases: u64 = pc_cases.iter().sum();
    let ntypes = local.types.len();
    let (st, overall) = stats::compute(&obs, ntypes, config.trim);

    // Scores; types without a case (composite only) are dropped.
    let mut rows = Vec::with_capacity(ntypes);
    let mut bands = [0usize; 4];
    let mut layers: BTreeMap<(u8, String), (usize, u64)> = BTreeMap::new();
    let (mut kept_cases, mut composite_cases, mut composite_types) = (0u64, 0u64, 0usize);
    let mut primary_care_types = 0;
    let mut largest = Vec::new();
    for ((mut row, s), &pc) in local.types.drain(..).zip(&st).zip(&pc_cases) {
        if s.cases == 0 {
            continue;
        }
        let cv = fill_stats(
            &mut row,
            s,
            &overall,
            config.score_scale,
            config.score_decimals,
        );
        bands[cv_band(cv)] += 1;
        let composite_row = is_composite(&row);
        if composite_row {
            composite_cases += s.cases;
            composite_types += 1;
            row.primary_care = "0".into();
        } else {
            kept_cases += s.cases;
            if pc > 0 {
                // Under national rules the grouper decides per case (primary_care.csv);
                // the type's flag records that it takes primary-care cases.
                row.primary_care = "1".into();
            }
        }
        if is_flag(&row.primary_care) {
            primary_care_types += 1;
        }
        let name = layer_name(&row);
        let e = layers.entry((layer_rank(&name), name)).or_insert((0, 0));
        e.0 += 1;
        e.1 += s.cases;
        largest.push(ReportType {
            code: row.code.clone(),
            layer: row.layer.clone(),
            cases: s.cases,
            score: row.score.clone(),
            mean_cost: row.mean_cost.clone(),
            cv: row.cv.clone(),
        });
        rows.push(row);
    }
    for (i, r) in rows.iter_mut().enumerate() {
        r.line = i as u64 + 2;
    }
    local.types = rows;
    largest.sort_by(|a, b| b.cases.cmp(&a.cases).then(a.code.cmp(&b.code)));
    largest.truncate(10);
    let placed = kept_cases + composite_cases;
    let report = CalibrationReport {
        cases: history.cases.len() as u64,
        excluded,
        invalid,
        ungrouped,
        attribute_table: has_attributes,
        years: years.iter().copied().zip(weights.iter().copied()).collect(),
        threshold,
        given_types,
        with_cases: counts.iter().filter(|&&c| c > 0).count(),
        kept: kept.iter().filter(|&&k| k).count(),
        folded: counts.iter().filter(|&&c| c > 0 && c < threshold).count(),
        folded_cases,
        unmatched_cases,
        types_without_cases: without_cases,
        without_cases_by_layer: without_by_layer.into_iter().collect(),
        composite_types,
        composite_cases,
        kept_cases,
        coverage: if placed == 0 {
            0.0
        } else {
            kept_cases as f64 / placed as f64
        },
        overall_mean_cost: overall.mean_cost_yuan().to_string(),
        cv_bands: cv_bands(bands),
        layers: layers
            .into_iter()
            .map(|((_, layer), (types, cases))| LayerCount {
                layer,
                types,
                cases,
            })
            .collect(),
        primary_care_types,
        primary_care_cases,
        largest,
    };
    Ok(Calibrated {
        source: local,
        report,
    })
}

/// A catalogue's own types scored on history (see [`rescore`]).
#[derive(Debug, Clone)]
pub struct Rescored {
    /// Every type of the catalogue, in catalogue order: the ones with history cases with
    /// their new score, mean cost, cases and CV; the others with 0 cases and, when the
    /// catalogue gives their mean cost, the score of that cost on the history's scale
    /// (mean cost ÷ the history's overall mean × scale), else their given score.
    pub types: Vec<TypeRow>,
    /// Overall trimmed, weighted mean cost (yuan): the cost of score `score_scale`.
    pub overall_mean_cost: String,
    /// History cases placed in a type.
    pub placed: u64,
    /// History cases in no type (excluded, invalid or ungrouped).
    pub unplaced: u64,
}

/// Scores a catalogue's types from history without changing the catalogue: the history
/// is grouped with it as it is (composite types included) and each type's statistics
/// come from the cases it receives (trimmed, year-weighted means as in
/// [`build`](super::build::build); score = type mean ÷ overall mean × `score_scale`).
/// A type without any history case is scored from the catalogue's own mean cost for it
/// (else keeps its given score) and gets `cases` 0. Only
/// `score_scale`, `year_weights`, `trim` and `score_decimals` of `config` are used.
/// This is how the demo's scores file is made from the same history as its DRG weights.
pub fn rescore(
    given: &CatalogSource,
    history: &History,
    config: &CalibrateConfig,
) -> Result<Rescored, BuildError> {
    check_settings(&config.year_weights, config.trim, Threshold::Cases(1))?;
    let (years, weights) = years_and_weights(history, &config.year_weights)?;
    let weight_of = |y: u16| weights[years.binary_search(&y).expect("listed")];
    let catalog = Catalog::compile(given)?;
    let outcomes = group_history(&catalog, history);
    let mut obs = Vec::with_capacity(history.cases.len());
    for (h, o) in history.cases.iter().zip(&outcomes) {
        if let Place::Type(t) = place(o) {
            obs.push(Obs {
                group: t,
                weight: weight_of(h.year),
                cost: h.cost,
                los: 0,
                primary: h.primary,
            });
        }
    }
    let placed = obs.len() as u64;
    let (st, overall) = stats::compute(&obs, given.types.len(), config.trim);
    let types = given
        .types
        .iter()
        .zip(&st)
        .map(|(row, s)| {
            let mut row = row.clone();
            if s.cases == 0 {
                // The catalogue's own mean cost on the history's scale, if it has one.
                let overall_mean = overall.mean_cost_yuan();
                if let Ok(mean) = row.mean_cost.trim().parse::<rust_decimal::Decimal>()
                    && mean > rust_decimal::Decimal::ZERO
                    && overall_mean > rust_decimal::Decimal::ZERO
                {
                    let score =
                        mean / overall_mean * rust_decimal::Decimal::from(config.score_scale);
                    row.score = score
                        .round_dp_with_strategy(
                            config.score_decimals,
                            rust_decimal::RoundingStrategy::MidpointAwayFromZero,
                        )
                        .to_string();
                }
                row.cases = "0".into();
                row.cv = String::new();
            } else {
                fill_stats(
                    &mut row,
                    s,
                    &overall,
                    config.score_scale,
                    config.score_decimals,
                );
            }
            row
        })
        .collect();
    Ok(Rescored {
        types,
        overall_mean_cost: overall.mean_cost_yuan().to_string(),
        placed,
        unplaced: history.cases.len() as u64 - placed,
    })
}

fn is_composite(row: &TypeRow) -> bool {
    Layer::parse(&row.layer) == Ok(Layer::Composite)
}

fn is_flag(text: &str) -> bool {
    matches!(text.trim(), "1" | "true" | "是")
}

/// The layer as the report names it (the canonical name when the text parses).
fn layer_name(row: &TypeRow) -> String {
    Layer::parse(&row.layer)
        .map(|l| l.as_str().to_string())
        .unwrap_or_else(|_| row.layer.trim().to_string())
}

/// Report order of the layers: the order of the grouping chain.
fn layer_rank(name: &str) -> u8 {
    match name {
        "pre" => 0,
        "merge" => 1,
        "refine" | "burn" => 2,
        "tumor" => 3,
        "tb" => 4,
        "core" => 5,
        "composite" => 7,
        _ => 6,
    }
}

/// Reads a city's procedure-attribute table: `procedure_attributes.csv` of the catalogue
/// format (`code,attribute[,name]`; a code or `prefix*`; `surgery`, `interventional`,
/// `therapeutic` or `diagnostic`). Faults name the line and field (as
/// `procedure_attributes.csv`); the attribute values are checked when the catalogue
/// compiles.
pub fn read_attribute_table(bytes: &[u8]) -> Result<Vec<AttributeRow>, CatalogError> {
    const MANIFEST: &[u8] = br#"{"name": "attributes", "version": "0"}"#;
    const TYPES: &[u8] = b"code,layer,principal_dx,procedures,score\n";
    let file = |name: &str| -> Option<&[u8]> {
        match name {
            super::source::MANIFEST => Some(MANIFEST),
            super::source::TYPES => Some(TYPES),
            super::source::ATTRIBUTES => Some(bytes),
            _ => None,
        }
    };
    Ok(CatalogSource::from_files(&file)?.attributes)
}
