//! Building a catalogue from historical cases (本地目录测算).
//!
//! 1. Each case's combination is its principal diagnosis at the 亚目 (4-character) level
//!    with its principal grouping procedure (none = conservative), after the exclusions
//!    of the supplied tables. Combinations with at least the threshold of cases become
//!    core types; the threshold is given, or the largest one at which core combinations
//!    still cover the target share of cases.
//! 2. Within a core combination, the cases with the same set of related (secondary)
//!    procedures form their own core type when they reach the threshold too and their
//!    trimmed mean cost is at least `related_gain_percent` above that of the cases with
//!    no related procedure (or of the whole combination when there are none).
//! 3. Every other case folds into a composite type: its 3-character category × its
//!    procedure attribute (`I63-1` surgery or interventional, `-2` therapeutic, `-3`
//!    diagnostic, `-4` conservative).
//! 4. The catalogue is compiled and the history grouped with it; the statistics are taken
//!    over the cases each type actually receives, so that scores describe what the
//!    grouper does: year-weighted means after trimming, score = mean / overall mean ×
//!    scale, CV, and primary-care candidates (CV ≤ limit and a primary-care share ≥
//!    limit). Types that receive no case are dropped.

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::compile::{Catalog, Excl};
use super::error::BuildError;
use super::group::{DipCase, DipOutcome, DipStatus};
use super::source::{CatalogSource, Manifest, TypeRow};
use super::spec::{Attribute, dx_key, px_key};
use super::stats::{self, GroupStats, Obs, Trim};

/// One historical case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryCase {
    /// Index into [`History::dx_codes`] of the principal diagnosis.
    pub dx: u32,
    /// Start of its secondary diagnoses in [`History::dx2`].
    pub dx2_start: u32,
    /// Number of secondary diagnoses.
    pub dx2_len: u16,
    /// Start of its procedures in [`History::px`].
    pub px_start: u32,
    /// Number of procedures.
    pub px_len: u16,
    /// Discharge year.
    pub year: u16,
    /// Total cost in fen.
    pub cost: i64,
    /// Treated in a primary-care (基层) hospital.
    pub primary: bool,
    /// Age in days (天龄), if given.
    pub age_days: Option<u32>,
    /// Birth weight in grams, if given.
    pub weight: Option<u32>,
}

/// Historical cases with their codes interned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// Distinct diagnoses (principal and secondary; trimmed, upper-case), sorted.
    pub dx_codes: Vec<String>,
    /// Distinct procedures (trimmed, upper-case), sorted.
    pub px_codes: Vec<String>,
    /// Secondary diagnosis ids of all cases, in order, concatenated.
    pub dx2: Vec<u32>,
    /// Procedure ids of all cases, principal first, concatenated.
    pub px: Vec<u32>,
    /// The cases, in input order.
    pub cases: Vec<HistoryCase>,
}

/// One case to add to a [`HistoryBuilder`]: the codes as written and the facts.
#[derive(Debug, Clone, Copy, Default)]
pub struct HistoryInput<'a> {
    /// Diagnoses, principal first.
    pub diagnoses: &'a [&'a str],
    /// Procedures, principal first.
    pub procedures: &'a [&'a str],
    /// Discharge year.
    pub year: u16,
    /// Total cost in fen.
    pub cost: i64,
    /// Treated in a primary-care (基层) hospital.
    pub primary: bool,
    /// Age in days.
    pub age_days: Option<u32>,
    /// Birth weight in grams.
    pub weight: Option<u32>,
}

/// Collects historical cases (e.g. one per reading thread); [`History::merge`] joins them.
#[derive(Debug, Default)]
pub struct HistoryBuilder {
    dx: FxHashMap<Box<str>, u32>,
    px: FxHashMap<Box<str>, u32>,
    dx2_ids: Vec<u32>,
    px_ids: Vec<u32>,
    cases: Vec<(u64, HistoryCase)>,
}

/// Interns a code (trimmed, upper-case) into a part-local map.
fn intern(map: &mut FxHashMap<Box<str>, u32>, code: &str) -> u32 {
    let code = code.trim();
    let upper;
    let key = if code.bytes().any(|b| b.is_ascii_lowercase()) {
        upper = code.to_ascii_uppercase();
        upper.as_str()
    } else {
        code
    };
    if let Some(&id) = map.get(key) {
        return id;
    }
    let id = map.len() as u32;
    map.insert(key.into(), id);
    id
}

impl HistoryBuilder {
    /// Adds a case with its principal diagnosis only; `order` (e.g. its line) decides
    /// its place after merging.
    pub fn push<'a>(
        &mut self,
        order: u64,
        dx: &str,
        procedures: impl IntoIterator<Item = &'a str>,
        year: u16,
        cost: i64,
        primary: bool,
    ) {
        let px: Vec<&str> = procedures.into_iter().collect();
        self.push_case(
            order,
            &HistoryInput {
                diagnoses: &[dx],
                procedures: &px,
                year,
                cost,
                primary,
                ..HistoryInput::default()
            },
        );
    }

    /// Adds a case (at least one diagnosis); `order` (e.g. its line) decides its place
    /// after merging. A case without a diagnosis is not added.
    pub fn push_case(&mut self, order: u64, case: &HistoryInput<'_>) {
        let Some((principal, secondary)) = case.diagnoses.split_first() else {
            return;
        };
        let d = intern(&mut self.dx, principal);
        let dx2_start = self.dx2_ids.len() as u32;
        for &c in secondary.iter().take(u16::MAX as usize) {
            let id = intern(&mut self.dx, c);
            self.dx2_ids.push(id);
        }
        let start = self.px_ids.len() as u32;
        for &p in case.procedures.iter().take(u16::MAX as usize) {
            let id = intern(&mut self.px, p);
            self.px_ids.push(id);
        }
        self.cases.push((
            order,
            HistoryCase {
                dx: d,
                dx2_start,
                dx2_len: (self.dx2_ids.len() as u32 - dx2_start) as u16,
                px_start: start,
                px_len: (self.px_ids.len() as u32 - start) as u16,
                year: case.year,
                cost: case.cost,
                primary: case.primary,
                age_days: case.age_days,
                weight: case.weight,
            },
        ));
    }

    /// Number of cases collected.
    pub fn len(&self) -> usize {
        self.cases.len()
    }

    /// Whether no case was collected.
    pub fn is_empty(&self) -> bool {
        self.cases.is_empty()
    }
}

impl History {
    /// Joins collected parts: codes sorted, cases ordered by their `order`.
    pub fn merge(parts: Vec<HistoryBuilder>) -> History {
        let dx_all: BTreeSet<&str> = parts
            .iter()
            .flat_map(|p| p.dx.keys().map(|k| &**k))
            .collect();
        let px_all: BTreeSet<&str> = parts
            .iter()
            .flat_map(|p| p.px.keys().map(|k| &**k))
            .collect();
        let dx_codes: Vec<String> = dx_all.into_iter().map(String::from).collect();
        let px_codes: Vec<String> = px_all.into_iter().map(String::from).collect();
        // Each part's local ids → global ids through one hash map per dictionary (a
        // binary search over strings per code and part was most of the merge).
        fn ids(codes: &[String]) -> FxHashMap<&str, u32> {
            codes
                .iter()
                .enumerate()
                .map(|(i, c)| (c.as_str(), i as u32))
                .collect()
        }
        let (dx_ids, px_ids) = (ids(&dx_codes), ids(&px_codes));
        let global = |ids: &FxHashMap<&str, u32>, map: &FxHashMap<Box<str>, u32>| {
            let mut out = vec![0u32; map.len()];
            for (code, &v) in map {
                out[v as usize] = ids[&**code];
            }
            out
        };
        // (order, part, case with global diagnosis id, lists still part-local).
        let mut all: Vec<(u64, usize, HistoryCase)> =
            Vec::with_capacity(parts.iter().map(|p| p.cases.len()).sum());
        let mut maps = Vec::with_capacity(parts.len());
        for (k, p) in parts.iter().enumerate() {
            let dx_map = global(&dx_ids, &p.dx);
            all.extend(p.cases.iter().map(|&(order, mut c)| {
                c.dx = dx_map[c.dx as usize];
                (order, k, c)
            }));
            maps.push((dx_map, global(&px_ids, &p.px)));
        }
        // Orders are distinct (input lines): an unstable sort gives the one order.
        all.sort_unstable_by_key(|x| x.0);
        // Lay the lists out in case order, so that the result does not depend on how the
        // cases were split into parts.
        let mut px = Vec::with_capacity(parts.iter().map(|p| p.px_ids.len()).sum());
        let mut dx2 = Vec::with_capacity(parts.iter().map(|p| p.dx2_ids.len()).sum());
        let cases = all
            .into_iter()
            .map(|(_, k, mut c)| {
                let (dx_map, px_map) = &maps[k];
                let start = c.px_start as usize;
                let local = &parts[k].px_ids[start..start + c.px_len as usize];
                c.px_start = px.len() as u32;
                px.extend(local.iter().map(|&i| px_map[i as usize]));
                let start = c.dx2_start as usize;
                let local = &parts[k].dx2_ids[start..start + c.dx2_len as usize];
                c.dx2_start = dx2.len() as u32;
                dx2.extend(local.iter().map(|&i| dx_map[i as usize]));
                c
            })
            .collect();
        History {
            dx_codes,
            px_codes,
            dx2,
            px,
            cases,
        }
    }

    /// The procedures of a case.
    pub fn procedures(&self, c: &HistoryCase) -> &[u32] {
        &self.px[c.px_start as usize..c.px_start as usize + c.px_len as usize]
    }

    /// The secondary diagnoses of a case.
    pub fn secondary(&self, c: &HistoryCase) -> &[u32] {
        &self.dx2[c.dx2_start as usize..c.dx2_start as usize + c.dx2_len as usize]
    }
}

/// How the core-type threshold is chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    /// Combinations with at least this many cases are core types.
    Cases(u64),
    /// The largest case count at which core combinations still cover this share of cases.
    Coverage(f64),
}

/// Settings of [`build`].
#[derive(Debug, Clone)]
pub struct BuildConfig {
    /// Name, version, region, score scale and options of the catalogue built.
    pub manifest: Manifest,
    /// Core-type threshold.
    pub threshold: Threshold,
    /// Year weights, oldest first (default 1:2:7); the newest year takes the last one.
    pub year_weights: Vec<u32>,
    /// Trimming before means.
    pub trim: Trim,
    /// A related-procedure set becomes its own type when it raises the mean cost by at
    /// least this many percent.
    pub related_gain_percent: u32,
    /// Primary-care candidates: CV at most this…
    pub primary_cv_max: f64,
    /// …and at least this share of cases treated in primary care.
    pub primary_share_min: f64,
    /// Decimal places of the scores.
    pub score_decimals: u32,
}

impl Default for BuildConfig {
    fn default() -> Self {
        BuildConfig {
            manifest: Manifest {
                name: "built-dip".into(),
                version: "1".into(),
                region: String::new(),
                score_scale: 1000,
                description: String::new(),
                options: Default::default(),
            },
            threshold: Threshold::Cases(15),
            year_weights: vec![1, 2, 7],
            trim: Trim::default(),
            related_gain_percent: 10,
            primary_cv_max: 0.7,
            primary_share_min: 0.3,
            score_decimals: 2,
        }
    }
}

/// A type of the build report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportType {
    /// Type code.
    pub code: String,
    /// Layer.
    pub layer: String,
    /// Cases.
    pub cases: u64,
    /// Score.
    pub score: String,
    /// Mean cost (yuan).
    pub mean_cost: String,
    /// CV.
    pub cv: String,
}

/// What a build did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildReport {
    /// Cases read.
    pub cases: u64,
    /// Cases whose principal diagnosis is excluded (not in any type).
    pub excluded: u64,
    /// Cases with a principal diagnosis shorter than a category (not in any type).
    pub malformed: u64,
    /// Cases the built catalogue did not place (always 0 unless the tables conflict).
    pub ungrouped: u64,
    /// Years and their weights.
    pub years: Vec<(u16, u32)>,
    /// The core threshold used.
    pub threshold: u64,
    /// Core types (diagnosis + principal procedure or conservative).
    pub core_types: usize,
    /// Of which related-procedure types.
    pub related_types: usize,
    /// Composite types.
    pub composite_types: usize,
    /// Cases in core types.
    pub core_cases: u64,
    /// Share of the grouped cases in core types.
    pub coverage: f64,
    /// Overall trimmed, weighted mean cost (yuan).
    pub overall_mean_cost: String,
    /// Types per CV band: `< 0.5`, `0.5–0.7`, `0.7–1`, `>= 1`.
    pub cv_bands: Vec<(String, usize)>,
    /// Primary-care candidates flagged.
    pub primary_care_types: usize,
    /// The largest types by cases (up to 10).
    pub largest: Vec<ReportType>,
}

/// A built catalogue and its report.
#[derive(Debug, Clone)]
pub struct Built {
    /// The catalogue, ready to write with [`CatalogSource::write_dir`].
    pub source: CatalogSource,
    /// What the build did.
    pub report: BuildReport,
}

/// Per distinct principal diagnosis.
struct DxInfo {
    /// Index into the 亚目 keys (or `u32::MAX` when malformed).
    sub: u32,
    cat: u32,
    excluded: bool,
}

/// Per case, after exclusions.
#[derive(Clone, Copy)]
struct Combo {
    sub: u32,
    cat: u32,
    /// Principal grouping procedure, `u32::MAX` = none.
    principal: u32,
    /// Related procedures in `related` arena.
    rel_start: u32,
    rel_len: u16,
    attr: Attribute,
    usable: bool,
}

const NONE: u32 = u32::MAX;

/// Builds a catalogue from history. `tables` supplies the procedure attributes,
/// exclusions, auxiliary sub-types, CCI and diagnosis lists (its types are ignored).
pub fn build(
    history: &History,
    tables: Option<&CatalogSource>,
    config: &BuildConfig,
) -> Result<Built, BuildError> {
    check_settings(&config.year_weights, config.trim, config.threshold)?;
    // The tables alone, compiled: procedure attributes and exclusions.
    let mut base = CatalogSource::new(config.manifest.clone());
    if let Some(t) = tables {
        base.attributes = t.attributes.clone();
        base.exclusions = t.exclusions.clone();
        base.aux = t
            .aux
            .iter()
            .filter(|a| a.types.is_empty())
            .cloned()
            .collect();
        base.cci = t.cci.clone();
        base.dx_lists = t.dx_lists.clone();
    }
    let skeleton = Catalog::compile(&base)?;

    let (years, weights) = years_and_weights(history, &config.year_weights)?;
    let weight_of = |y: u16| weights[years.binary_search(&y).expect("listed")];

    // Diagnoses: 亚目 and category keys.
    let mut subs: BTreeMap<String, String> = BTreeMap::new(); // key → spec text
    let mut cats: BTreeSet<String> = BTreeSet::new();
    let keys: Vec<String> = history.dx_codes.iter().map(|c| dx_key(c)).collect();
    for (code, key) in history.dx_codes.iter().zip(&keys) {
        let Some(sub_len) = type_key_len(key) else {
            continue;
        };
        let sub = &key[..sub_len];
        subs.entry(sub.to_string()).or_insert_with(|| {
            let t = code.trim();
            if sub.len() == 4 && t.as_bytes().get(3) == Some(&b'.') {
                format!("{}.{}", &sub[..3], &sub[3..])
            } else {
                sub.to_string()
            }
        });
        cats.insert(key[..3].to_string());
    }
    let sub_keys: Vec<&String> = subs.keys().collect();
    let cat_keys: Vec<&String> = cats.iter().collect();
    let dx_info: Vec<DxInfo> = history
        .dx_codes
        .iter()
        .zip(&keys)
        .map(|(code, key)| {
            let Some(sub_len) = type_key_len(key) else {
                return DxInfo {
                    sub: NONE,
                    cat: NONE,
                    excluded: false,
                };
            };
            let sub = &key[..sub_len];
            DxInfo {
                sub: sub_keys
                    .binary_search_by(|k| k.as_str().cmp(sub))
                    .expect("listed") as u32,
                cat: cat_keys
                    .binary_search_by(|k| k.as_str().cmp(&key[..3]))
                    .expect("listed") as u32,
                excluded: skeleton.class_excluded[skeleton.dx(code).id as usize],
            }
        })
        .collect();
    // Procedures: exclusion and attribute.
    let px_props: Vec<(Excl, Attribute)> = history
        .px_codes
        .iter()
        .map(|c| {
            let id = skeleton.px(c).id as usize;
            (skeleton.px.excl[id], skeleton.px.attr[id])
        })
        .collect();

    // Stage 1: combinations.
    let highest = skeleton.options.attribute_source == super::source::AttributeSource::Highest;
    let mut related: Vec<u32> = Vec::new();
    let mut combos: Vec<Combo> = Vec::with_capacity(history.cases.len());
    let mut eff: Vec<u32> = Vec::new();
    for c in &history.cases {
        let d = &dx_info[c.dx as usize];
        eff.clear();
        for &p in history.procedures(c) {
            match px_props[p as usize].0 {
                Excl::None => eff.push(p),
                Excl::Ignore => {}
                Excl::Conservative if eff.is_empty() => break,
                Excl::Conservative => {}
            }
        }
        let attr = if highest {
            eff.iter().map(|&p| px_props[p as usize].1).max()
        } else {
            eff.first().map(|&p| px_props[p as usize].1)
        }
        .unwrap_or(Attribute::Conservative)
        .composite();
        let principal = eff.first().copied().unwrap_or(NONE);
        let rel_start = related.len() as u32;
        if eff.len() > 1 {
            let r = &mut eff[1..];
            r.sort_unstable();
            let mut last = NONE;
            for &p in r.iter() {
                if p != last && p != principal {
                    related.push(p);
                }
                last = p;
            }
        }
        combos.push(Combo {
            sub: d.sub,
            cat: d.cat,
            principal,
            rel_start,
            rel_len: (related.len() as u32 - rel_start) as u16,
            attr,
            usable: d.sub != NONE && !d.excluded,
        });
    }
    let rel = |c: &Combo| &related[c.rel_start as usize..c.rel_start as usize + c.rel_len as usize];
    let usable: Vec<u32> = (0..combos.len() as u32)
        .filter(|&i| combos[i as usize].usable)
        .collect();
    if usable.is_empty() {
        return Err(BuildError::Empty);
    }
    let mut order = usable.clone();
    let base_key = |i: u32| {
        let c = &combos[i as usize];
        (c.sub, c.principal)
    };
    order.par_sort_unstable_by_key(|&i| (base_key(i), i));
    let runs: Vec<&[u32]> = order
        .chunk_by(|&a, &b| base_key(a) == base_key(b))
        .collect();
    let threshold = threshold_of(
        config.threshold,
        runs.iter().map(|r| r.len() as u64).collect(),
    );

    // Core and related types; composite combinations.
    let mut rows: Vec<TypeRow> = Vec::new();
    let mut composite: BTreeSet<(u32, Attribute)> = BTreeSet::new();
    let mut related_sets: BTreeSet<(u32, Vec<u32>)> = BTreeSet::new();
    let px_code = |p: u32| history.px_codes[p as usize].as_str();
    for run in &runs {
        let first = &combos[run[0] as usize];
        if (run.len() as u64) < threshold {
            for &i in *run {
                let c = &combos[i as usize];
                composite.insert((c.cat, c.attr));
            }
            continue;
        }
        let dx_spec = &subs[sub_keys[first.sub as usize].as_str()];
        let (code, name, procs) = if first.principal == NONE {
            (
                format!("{dx_spec}:-"),
                format!("{dx_spec} 保守治疗"),
                String::new(),
            )
        } else {
            let p = px_code(first.principal);
            (
                format!("{dx_spec}:{p}"),
                format!("{dx_spec} + {p}"),
                p.to_string(),
            )
        };
        rows.push(type_row(code, name, "core", dx_spec, procs.clone()));
        // Related-procedure sets.
        if first.principal == NONE {
            continue;
        }
        let mut by_rel: Vec<u32> = run.to_vec();
        by_rel.sort_by(|&a, &b| {
            rel(&combos[a as usize])
                .cmp(rel(&combos[b as usize]))
                .then(a.cmp(&b))
        });
        let groups: Vec<&[u32]> = by_rel
            .chunk_by(|&a, &b| rel(&combos[a as usize]) == rel(&combos[b as usize]))
            .collect();
        let plain: Vec<u32> = groups
            .iter()
            .find(|g| rel(&combos[g[0] as usize]).is_empty())
            .map(|g| g.to_vec())
            .unwrap_or_else(|| run.to_vec());
        let candidates: Vec<&&[u32]> = groups
            .iter()
            .filter(|g| !rel(&combos[g[0] as usize]).is_empty() && g.len() as u64 >= threshold)
            .collect();
        if candidates.is_empty() {
            continue;
        }
        let mut obs: Vec<Obs> = Vec::new();
        let obs_of = |g: u32, idx: &[u32], obs: &mut Vec<Obs>| {
            obs.extend(idx.iter().map(|&i| {
                let h = &history.cases[i as usize];
                Obs {
                    group: g,
                    weight: weight_of(h.year),
                    cost: h.cost,
                    los: 0,
                    primary: h.primary,
                }
            }))
        };
        obs_of(0, &plain, &mut obs);
        for (k, g) in candidates.iter().enumerate() {
            obs_of(k as u32 + 1, g, &mut obs);
        }
        let (st, _) = stats::compute(&obs, candidates.len() + 1, config.trim);
        for (k, g) in candidates.iter().enumerate() {
            let (s, p) = (&st[k + 1], &st[0]);
            // mean_s ≥ (1 + gain) × mean_p  ⇔  100·S_s·W_p ≥ (100 + gain)·S_p·W_s
            if 100 * s.cost * p.weight
                >= (100 + config.related_gain_percent as i128) * p.cost * s.weight
            {
                let ids: Vec<u32> = std::iter::once(first.principal)
                    .chain(rel(&combos[g[0] as usize]).iter().copied())
                    .collect();
                // The same set of procedures reached from another principal procedure
                // would be the same type to the grouper: keep the first.
                let mut key = ids.clone();
                key.sort_unstable();
                if !related_sets.insert((first.sub, key)) {
                    continue;
                }
                let set: Vec<&str> = ids.into_iter().map(px_code).collect();
                let joined = set.join("+");
                rows.push(type_row(
                    format!("{dx_spec}:{joined}"),
                    format!("{dx_spec} + {}", set.join(" + ")),
                    "core",
                    dx_spec,
                    joined,
                ));
            }
        }
    }
    for &(cat, attr) in &composite {
        let c = cat_keys[cat as usize];
        rows.push(TypeRow {
            attribute: attr.as_str().into(),
            ..type_row(
                format!("{c}-{}", attr.composite_suffix()),
                format!("{c} 综合病种 {}", attr.as_str()),
                "composite",
                c,
                String::new(),
            )
        });
    }
    // Core types first, then composite types, each sorted by code.
    rows.sort_by(|a, b| (a.layer != "core", &a.code).cmp(&(b.layer != "core", &b.code)));
    for (i, r) in rows.iter_mut().enumerate() {
        r.line = i as u64 + 2;
    }
    let mut source = base.clone();
    if let Some(t) = tables {
        source.aux = t.aux.clone();
    }
    source.types = rows;
    let catalog = Catalog::compile(&source)?;

    // Stage 2: group the history with the catalogue.
    let assigned: Vec<u32> = group_history(&catalog, history)
        .iter()
        .map(|o| match o.status {
            DipStatus::Grouped | DipStatus::Composite => o.type_id.unwrap_or(NONE),
            _ => NONE,
        })
        .collect();
    let mut excluded = 0u64;
    let mut malformed = 0u64;
    let mut ungrouped = 0u64;
    let mut obs = Vec::with_capacity(history.cases.len());
    for ((h, &t), c) in history.cases.iter().zip(&assigned).zip(&combos) {
        if t == NONE {
            if dx_info[h.dx as usize].sub == NONE {
                malformed += 1;
            } else if !c.usable {
                excluded += 1;
            } else {
                ungrouped += 1;
            }
            continue;
        }
        obs.push(Obs {
            group: t,
            weight: weight_of(h.year),
            cost: h.cost,
            los: 0,
            primary: h.primary,
        });
    }
    let ntypes = source.types.len();
    let (st, overall) = stats::compute(&obs, ntypes, config.trim);

    // Fill the scores, drop empty types.
    let scale = config.manifest.score_scale;
    let mut kept_rows = Vec::with_capacity(ntypes);
    let mut primary_types = 0;
    let mut bands = [0usize; 4];
    let mut core_cases = 0u64;
    let mut grouped_cases = 0u64;
    let (mut core_n, mut related_n, mut composite_n) = (0, 0, 0);
    let mut largest: Vec<ReportType> = Vec::new();
    for (mut row, s) in source.types.drain(..).zip(&st) {
        if s.cases == 0 {
            continue;
        }
        let cv = fill_stats(&mut row, s, &overall, scale, config.score_decimals);
        if cv <= config.primary_cv_max && s.primary_share() >= config.primary_share_min {
            row.primary_care = "1".into();
            row.primary_care_coef = "1".into();
            primary_types += 1;
        } else {
            row.primary_care = "0".into();
        }
        bands[cv_band(cv)] += 1;
        grouped_cases += s.cases;
        if row.layer == "core" {
            core_cases += s.cases;
            if row.procedures.contains('+') {
                related_n += 1;
            } else {
                core_n += 1;
            }
        } else {
            composite_n += 1;
        }
        largest.push(ReportType {
            code: row.code.clone(),
            layer: row.layer.clone(),
            cases: s.cases,
            score: row.score.clone(),
            mean_cost: row.mean_cost.clone(),
            cv: row.cv.clone(),
        });
        kept_rows.push(row);
    }
    source.types = kept_rows;
    largest.sort_by(|a, b| b.cases.cmp(&a.cases).then(a.code.cmp(&b.code)));
    largest.truncate(10);
    let report = BuildReport {
        cases: history.cases.len() as u64,
        excluded,
        malformed,
        ungrouped,
        years: years.iter().copied().zip(weights.iter().copied()).collect(),
        threshold,
        core_types: core_n + related_n,
        related_types: related_n,
        composite_types: composite_n,
        core_cases,
        coverage: if grouped_cases == 0 {
            0.0
        } else {
            core_cases as f64 / grouped_cases as f64
        },
        overall_mean_cost: overall.mean_cost_yuan().to_string(),
        cv_bands: cv_bands(bands),
        primary_care_types: primary_types,
        largest,
    };
    Ok(Built { source, report })
}

/// The length of the key prefix a built type names for a diagnosis key (see
/// [`dx_key`]): 4, its 亚目, when the fourth character is a letter or digit, else 3, its
/// category; `None` when the first three are not ASCII letters or digits (no spec can
/// cover the code). This is how [`Catalog::dx`] looks a code up (exact key, its first 4,
/// its first 3 characters), so a dagger/asterisk pair such as `A17.801+G07*` lands in
/// `A17.8`, and `B99+G94.0*` in `B99`.
pub fn type_key_len(key: &str) -> Option<usize> {
    let b = key.as_bytes();
    if b.len() < 3 || !b[..3].iter().all(u8::is_ascii_alphanumeric) {
        return None;
    }
    Some(if b.len() >= 4 && b[3].is_ascii_alphanumeric() {
        4
    } else {
        3
    })
}

/// Checks the settings shared by [`build`] and calibration.
pub(crate) fn check_settings(
    year_weights: &[u32],
    trim: Trim,
    threshold: Threshold,
) -> Result<(), BuildError> {
    if year_weights.is_empty() || year_weights.contains(&0) {
        return Err(BuildError::Config(
            "year weights must be whole numbers above 0, e.g. 1:2:7".into(),
        ));
    }
    if trim.low_permille >= trim.high_permille || trim.high_permille > 1000 {
        return Err(BuildError::Config(
            "the trimming quantiles must satisfy 0 <= low < high <= 100%".into(),
        ));
    }
    if let Threshold::Coverage(c) = threshold
        && !(c > 0.0 && c <= 1.0)
    {
        return Err(BuildError::Config(format!("coverage {c} is not in (0, 1]")));
    }
    Ok(())
}

/// The distinct years of a history (ascending) and their weights (the newest year takes
/// the last weight).
pub(crate) fn years_and_weights(
    history: &History,
    year_weights: &[u32],
) -> Result<(Vec<u16>, Vec<u32>), BuildError> {
    let years: Vec<u16> = history
        .cases
        .iter()
        .map(|c| c.year)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if years.is_empty() {
        return Err(BuildError::Empty);
    }
    let weights = stats::year_weights(&years, year_weights).ok_or(BuildError::Years {
        years: years.len(),
        first: years[0],
        last: *years.last().expect("non-empty"),
        weights: year_weights.len(),
    })?;
    Ok((years, weights))
}

/// The threshold: given, or the largest case count at which the largest `counts`
/// still cover `share` of their total.
pub(crate) fn threshold_of(threshold: Threshold, mut counts: Vec<u64>) -> u64 {
    match threshold {
        Threshold::Cases(t) => t.max(1),
        Threshold::Coverage(share) => {
            counts.sort_unstable_by(|a, b| b.cmp(a));
            let total: u64 = counts.iter().sum();
            let mut cum = 0u64;
            let mut t = 1;
            for c in counts {
                cum += c;
                t = c;
                if cum as f64 >= share * total as f64 {
                    break;
                }
            }
            t
        }
    }
}

/// Groups every case of a history with a catalogue (in parallel; the result is in case
/// order and does not depend on the thread count).
pub(crate) fn group_history(catalog: &Catalog, history: &History) -> Vec<DipOutcome> {
    let dx_class: Vec<u32> = history.dx_codes.iter().map(|c| catalog.dx(c).id).collect();
    let px_id: Vec<u32> = history
        .px_codes
        .iter()
        .map(|c| catalog.px(&px_key(c)).id)
        .collect();
    history
        .cases
        .par_chunks(4096)
        .map_init(
            || (DipCase::default(), catalog.scratch()),
            |(case, scratch), chunk| {
                chunk
                    .iter()
                    .map(|h| {
                        case.clear();
                        case.age_days = h.age_days.map(i64::from);
                        case.weight = h.weight.map(i64::from);
                        case.dx.push(dx_class[h.dx as usize]);
                        case.dx
                            .extend(history.secondary(h).iter().map(|&d| dx_class[d as usize]));
                        case.px
                            .extend(history.procedures(h).iter().map(|&p| px_id[p as usize]));
                        catalog.group(case, scratch)
                    })
                    .collect::<Vec<DipOutcome>>()
            },
        )
        .flatten()
        .collect()
}

/// Writes a type's statistics into its row (score, mean cost, cases, CV); returns the CV.
pub(crate) fn fill_stats(
    row: &mut TypeRow,
    s: &GroupStats,
    overall: &GroupStats,
    scale: u32,
    decimals: u32,
) -> f64 {
    let cv = s.cv();
    row.score = s.relative(overall, scale, decimals).to_string();
    row.mean_cost = s.mean_cost_yuan().to_string();
    row.cases = s.cases.to_string();
    row.cv = format!("{cv:.4}");
    cv
}

/// The CV band of the reports: `< 0.5`, `0.5-0.7`, `0.7-1.0`, `>= 1.0`.
pub(crate) fn cv_band(cv: f64) -> usize {
    match cv {
        x if x < 0.5 => 0,
        x if x < 0.7 => 1,
        x if x < 1.0 => 2,
        _ => 3,
    }
}

/// The CV bands with their counts, as the reports list them.
pub(crate) fn cv_bands(counts: [usize; 4]) -> Vec<(String, usize)> {
    ["< 0.5", "0.5-0.7", "0.7-1.0", ">= 1.0"]
        .iter()
        .map(|s| s.to_string())
        .zip(counts)
        .collect()
}

fn type_row(code: String, name: String, layer: &str, dx: &str, procedures: String) -> TypeRow {
    TypeRow {
        code,
        name,
        layer: layer.into(),
        principal_dx: dx.into(),
        procedures,
        score: "0".into(),
        ..TypeRow::default()
    }
}
