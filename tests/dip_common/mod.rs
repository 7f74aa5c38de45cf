//! Generated cases for the DIP agreement checks (`tests/dip_generated.rs`,
//! `benches/dip_agreement.rs`): the demo scheme's synthetic cases as text, optionally
//! perturbed with codes and facts taken from the catalogue itself, and the comparison
//! of the compiled catalogue with the reference interpreter.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use drgdip::grouper::dip::reference::{DipReference, DipResult, TextDipCase};
use drgdip::grouper::dip::spec::{DxSpec, ProcSpec};
use drgdip::grouper::dip::{Catalog, CatalogSource, DipCase};
use drgdip::grouper::{Grouper, Scheme};
use drgdip::io::synth::{GEN_HEADER, GenConfig, Generator, Rng};
use rayon::prelude::*;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The demo scheme (which drives the generator) and the demo catalogue's source.
pub fn demo() -> (Scheme, Grouper, CatalogSource) {
    let scheme = Scheme::from_dir(root().join("data/demo-scheme")).expect("demo scheme");
    let grouper = Grouper::compile(&scheme).expect("demo scheme compiles");
    let source = CatalogSource::from_dir(root().join("data/demo-catalog")).expect("catalogue");
    (scheme, grouper, source)
}

/// `n` generated cases of `year` as CSV, with the header.
pub fn generate(scheme: &Scheme, grouper: &Grouper, n: u64, seed: u64, year: i32) -> Vec<u8> {
    let generator = Generator::new(
        scheme,
        grouper,
        GenConfig {
            seed,
            year,
            ..GenConfig::default()
        },
    );
    let mut out = Vec::with_capacity(n as usize * 170);
    out.extend_from_slice(GEN_HEADER.as_bytes());
    out.push(b'\n');
    generator
        .generate(n, |t| {
            out.extend_from_slice(t.as_bytes());
            Ok(())
        })
        .expect("in memory");
    out
}

/// Generated CSV (columns of `GEN_HEADER`) → (case id, text case).
pub fn text_cases(csv_bytes: &[u8]) -> Vec<(String, TextDipCase)> {
    let mut rdr = csv::Reader::from_reader(csv_bytes);
    let headers = rdr.headers().expect("header").clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("column {name}"))
    };
    let [id, age, age_days, weight, los, way, dx, px, cost, icu, vent] = [
        "case_id",
        "age",
        "age_days",
        "weight",
        "los",
        "discharge_way",
        "diagnoses",
        "procedures",
        "total_cost",
        "icu_days",
        "vent_hours",
    ]
    .map(col);
    let num = |s: &str| (!s.is_empty()).then(|| s.parse::<i64>().expect("number"));
    let codes = |s: &str| -> Vec<String> {
        s.split('|')
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect()
    };
    rdr.records()
        .enumerate()
        .map(|(i, r)| {
            let r = r.expect("generated csv");
            let case = TextDipCase {
                age: num(&r[age]),
                age_days: num(&r[age_days]),
                weight: num(&r[weight]),
                los: num(&r[los]),
                icu_days: num(&r[icu]),
                vent_hours: num(&r[vent]),
                discharge_way: r[way].parse().ok(),
                total_cost: drgdip::io::dip::fen(i as u64 + 2, "total_cost", r[cost].as_bytes())
                    .expect("a generated cost"),
                dx: codes(&r[dx]),
                px: codes(&r[px]),
            };
            (r[id].to_string(), case)
        })
        .collect()
}

/// Codes a catalogue mentions, to perturb cases with: diagnoses built from every spec
/// (exact codes, 亚目 and categories with a tail, range ends, list entries) and every
/// procedure of a spec, an attribute or an exclusion (prefixes with a tail), plus codes
/// no catalogue places and spellings the lookup must normalise.
pub struct Pools {
    dx: Vec<String>,
    px: Vec<String>,
}

impl Pools {
    /// The pools of one catalogue source.
    pub fn new(src: &CatalogSource) -> Pools {
        let mut dx: Vec<String> = vec![
            "12".into(),
            "A0X.100".into(),
            "U07.100".into(),
            "i63.900".into(),
            " J18.900 ".into(),
        ];
        let mut add_dx = |text: &str| {
            for part in text.split('|') {
                let Ok(spec) = DxSpec::parse(part) else {
                    continue;
                };
                match spec {
                    DxSpec::Exact(k) => dx.push(k),
                    DxSpec::Sub(k) => {
                        dx.push(format!("{}.{}00", &k[..3], &k[3..]));
                        dx.push(k);
                    }
                    DxSpec::Cat(k) => {
                        dx.push(format!("{k}.900"));
                        dx.push(k);
                    }
                    DxSpec::Range(a, b) => {
                        dx.push(format!("{a}.000"));
                        dx.push(format!("{b}.900"));
                    }
                }
            }
        };
        for t in &src.types {
            add_dx(&t.principal_dx);
            add_dx(&t.any_dx);
        }
        for r in &src.dx_lists {
            add_dx(&r.code);
        }
        for r in &src.cci {
            add_dx(&r.code);
        }
        for r in &src.aux {
            add_dx(&r.principal_dx);
            add_dx(&r.secondary_dx);
        }
        for r in &src.exclusions {
            if r.kind == "principal_dx" {
                add_dx(&r.code);
            }
        }
        let mut px: Vec<String> = vec!["12.3456".into(), "xx.9999".into()];
        for t in &src.types {
            if let Ok(ProcSpec::Alternatives(alts)) = ProcSpec::parse(&t.procedures) {
                px.extend(alts.into_iter().flatten());
            }
        }
        for code in src.attributes.iter().map(|r| &r.code).chain(
            src.exclusions
                .iter()
                .filter(|r| r.kind != "principal_dx")
                .map(|r| &r.code),
        ) {
            match code.strip_suffix('*') {
                Some(p) => {
                    px.push(format!("{p}01"));
                    px.push(format!("{p}9900").to_lowercase());
                }
                None => px.push(code.clone()),
            }
        }
        dx.sort();
        dx.dedup();
        px.sort();
        px.dedup();
        Pools { dx, px }
    }

    /// Perturbs case `i` (deterministically): replaces or adds diagnoses and procedures
    /// from the pools, reorders procedures, and draws the facts the conditions test.
    pub fn perturb(&self, i: u64, case: &mut TextDipCase) {
        let mut rng = Rng::new(0x05ee_dd1b, i);
        if rng.chance(0.5) {
            case.dx[0] = rng.pick(&self.dx).clone();
        }
        for _ in 0..rng.below(3) {
            let at = 1 + rng.below(case.dx.len());
            case.dx.insert(at, rng.pick(&self.dx).clone());
        }
        for _ in 0..rng.below(4) {
            let at = rng.below(case.px.len() + 1);
            case.px.insert(at, rng.pick(&self.px).clone());
        }
        if case.px.len() > 1 && rng.chance(0.2) {
            case.px.swap(0, 1);
        }
        if rng.chance(0.2) {
            case.vent_hours = Some(rng.below(200) as i64);
        }
        if rng.chance(0.1) {
            case.age = Some(0);
            case.age_days = Some(rng.below(40) as i64);
            case.weight = Some(500 + rng.below(2500) as i64);
        }
        if rng.chance(0.1) {
            case.weight = None;
        }
        if rng.chance(0.2) {
            case.icu_days = Some(rng.below(40) as i64);
        }
        if rng.chance(0.05) {
            case.los = None;
        }
        if rng.chance(0.1) {
            case.discharge_way = Some(5);
        }
        if rng.chance(0.2) {
            case.total_cost = Some(rng.below(30_000_000) as i64);
        }
    }
}

/// The outcome of comparing the two engines on a set of cases.
#[derive(Debug, Default)]
pub struct Agreement {
    /// Cases compared.
    pub cases: usize,
    /// The differing cases: (id, compiled, reference), in case order.
    pub differences: Vec<(String, DipResult, DipResult)>,
    /// How many cases reached each status / layer / auxiliary sub-type (reference side).
    pub statuses: BTreeMap<String, usize>,
    /// Cases per layer.
    pub layers: BTreeMap<String, usize>,
    /// Cases with an auxiliary sub-type.
    pub with_aux: usize,
}

impl Agreement {
    /// The first differences, one per line.
    pub fn first(&self, n: usize) -> String {
        self.differences
            .iter()
            .take(n)
            .map(|(id, fast, slow)| format!("{id}:\n  compiled  {fast:?}\n  reference {slow:?}"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Groups every case with the compiled catalogue and with the reference interpreter (in
/// parallel) and collects the differences and what was reached.
pub fn compare(
    catalog: &Catalog,
    reference: &DipReference,
    cases: &[(String, TextDipCase)],
) -> Agreement {
    let results: Vec<(DipResult, DipResult)> = cases
        .par_iter()
        .map_init(
            || (catalog.scratch(), DipCase::default()),
            |(scratch, case), (_, text)| {
                text.fill(catalog, case);
                let fast = DipResult::of(catalog, &catalog.group(case, scratch));
                (fast, reference.group(text))
            },
        )
        .collect();
    let mut a = Agreement {
        cases: cases.len(),
        ..Agreement::default()
    };
    for ((id, _), (fast, slow)) in cases.iter().zip(results) {
        *a.statuses.entry(slow.status.as_str().into()).or_default() += 1;
        if !slow.layer.is_empty() {
            *a.layers.entry(slow.layer.clone()).or_default() += 1;
        }
        a.with_aux += usize::from(!slow.aux_type.is_empty());
        if fast != slow {
            a.differences.push((id.clone(), fast, slow));
        }
    }
    a
}
