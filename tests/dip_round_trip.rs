//! Build → group round trips on large generated histories: grouping a history with the
//! catalogue built (`dip build`) or calibrated from the national workbook
//! (`dip build --national`) on it puts every accepted case that is not excluded in a type
//! of that catalogue. The history is generated from the codes of CHS-DRG 1.1
//! (`../shared`), which include dagger/asterisk pairs such as `A17.801+G07*`.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use drgdip::grouper::dip::build::{self, BuildConfig, Threshold};
use drgdip::grouper::dip::calibrate::{CalibrateConfig, calibrate};
use drgdip::grouper::dip::{Catalog, CatalogSource, NationalWorkbook};
use drgdip::grouper::{Grouper, Scheme};
use drgdip::io::history::read_dip_history;
use drgdip::io::synth::{GEN_HEADER, GenConfig, Generator, attribute_table};
use drgdip::io::{DipGroupJob, Job, Options};

/// `per_year` generated cases for each of 2023–2025 (seeds 1–3), one CSV with a header.
fn history(scheme: &Scheme, grouper: &Grouper, per_year: u64) -> Vec<u8> {
    let mut out = GEN_HEADER.as_bytes().to_vec();
    out.push(b'\n');
    for (seed, year) in [(1, 2023), (2, 2024), (3, 2025)] {
        let generator = Generator::new(
            scheme,
            grouper,
            GenConfig {
                seed,
                year,
                ..GenConfig::default()
            },
        );
        generator
            .generate(per_year, |t| {
                out.extend_from_slice(t.as_bytes());
                Ok(())
            })
            .expect("in memory");
    }
    out
}

/// Rows per summary category, by the category's name.
type Counts = BTreeMap<&'static str, u64>;

/// Groups `input` with `catalog`; returns the output and the rows per summary category,
/// keyed by the names the job gives them (`grouped`, `composite`, `ungrouped`,
/// `invalid`, and `excluded` for national rules). Keyed by name, not position: the
/// order of the categories is the job's business (rejected rows come last).
fn group(catalog: &Catalog, input: &[u8]) -> (String, Counts) {
    let job = DipGroupJob::new(catalog);
    let mut out = Vec::new();
    let s =
        drgdip::io::run(&job, input, &mut out, &Options::default(), &|_, _| {}).expect("groups");
    let counts = job.categories().iter().copied().zip(s.counts).collect();
    (String::from_utf8(out).expect("utf-8"), counts)
}

/// The expected counts, by category name.
fn counts_of(pairs: &[(&'static str, u64)]) -> Counts {
    pairs.iter().copied().collect()
}

/// Asserts that every output row names a type of `source`; returns the distinct codes.
fn all_in_catalogue(out: &str, source: &CatalogSource) -> BTreeSet<String> {
    let codes: BTreeSet<&str> = source.types.iter().map(|t| t.code.as_str()).collect();
    let mut seen = BTreeSet::new();
    for line in out.lines().skip(1) {
        let code = line.split(',').nth(2).expect("dip_code column");
        assert!(codes.contains(code), "outside the catalogue: {line}");
        seen.insert(code.to_string());
    }
    seen
}

#[test]
fn dip_build_round_trip_on_chs_drg_codes() {
    let Some(dir) = common::shared("schemes/chs-drg-1.1") else {
        return;
    };
    let scheme = Scheme::from_dir(&dir).expect("CHS-DRG 1.1 reads");
    let grouper = Grouper::compile(&scheme).expect("compiles");
    let text = history(&scheme, &grouper, 70_000);
    let (h, summary) =
        read_dip_history(&text[..], std::io::sink(), &Options::default()).expect("reads");
    assert_eq!((summary.rows, summary.counts[1]), (210_000, 0));
    // The codes that used to fall outside: dagger/asterisk principals.
    let daggers = h
        .cases
        .iter()
        .filter(|c| h.dx_codes[c.dx as usize].contains('+'))
        .count();
    assert!(daggers > 100, "only {daggers} dagger/asterisk principals");
    for threshold in [Threshold::Cases(15), Threshold::Coverage(0.8)] {
        let config = BuildConfig {
            threshold,
            ..BuildConfig::default()
        };
        let built = build::build(&h, None, &config).expect("builds");
        let r = &built.report;
        assert_eq!((r.malformed, r.ungrouped, r.excluded), (0, 0, 0), "{r:?}");
        let catalog = Catalog::compile(&built.source).expect("compiles");
        let (out, counts) = group(&catalog, &text);
        assert_eq!(
            counts,
            counts_of(&[
                ("grouped", r.core_cases),
                ("composite", 210_000 - r.core_cases),
                ("ungrouped", 0),
                ("invalid", 0),
            ]),
            "{threshold:?}"
        );
        let seen = all_in_catalogue(&out, &built.source);
        // Types that receive no case were dropped: every type is used.
        assert_eq!(seen.len(), built.source.types.len());
    }
}

#[test]
fn history_rejects_a_principal_no_type_can_take() {
    let text = "case_id,diagnoses,procedures,total_cost,year\n\
                1,A17.801+G07*,,100.00,2024\n\
                2,中风病,,100.00,2024\n\
                3,I6,,100.00,2024\n";
    let mut rejects = Vec::new();
    let (h, s) =
        read_dip_history(text.as_bytes(), &mut rejects, &Options::default()).expect("reads");
    assert_eq!((s.rows, s.counts[1], h.cases.len()), (3, 2, 1));
    let rejects = String::from_utf8(rejects).unwrap();
    assert!(
        rejects.contains("2,rejected,\"line 3, field `diagnoses`: `中风病` does not start with an ICD-10 category"),
        "{rejects}"
    );
    assert!(rejects.contains("3,rejected,\"line 4, field `diagnoses`: `I6` is shorter"));
}

#[test]
fn national_calibration_round_trip() {
    let (Some(dir), Some(xlsx)) = (
        common::shared("schemes/chs-drg-1.1"),
        common::shared("schemes/dip-3.0/dip-3.0-catalogue.xlsx"),
    ) else {
        return;
    };
    let scheme = Scheme::from_dir(&dir).expect("CHS-DRG 1.1 reads");
    let grouper = Grouper::compile(&scheme).expect("compiles");
    let text = history(&scheme, &grouper, 70_000);
    let (h, _) = read_dip_history(&text[..], std::io::sink(), &Options::default()).expect("reads");
    let national = NationalWorkbook::read(&xlsx).expect("workbook").to_source();
    // The city's attribute table: CHS-DRG 1.1's operating-room procedures surgery,
    // 99* therapeutic, 87*/88* diagnostic.
    let attributes = attribute_table(&scheme);
    let config = CalibrateConfig::default();
    let c = calibrate(&national, Some(&attributes), &h, &config).expect("calibrates");
    let r = &c.report;
    assert_eq!(r.given_types, 5125);
    assert_eq!((r.ungrouped, r.invalid), (0, 0), "{r:?}");
    assert!(
        r.kept > 500 && r.folded > 100 && r.composite_types > 1000,
        "{r:?}"
    );
    assert!(r.excluded > 0 && r.primary_care_cases > 0, "{r:?}");
    assert_eq!(r.with_cases + r.types_without_cases.len(), 5125);
    assert_eq!(r.kept_cases + r.composite_cases + r.excluded, 210_000);
    // Every kept national type has at least the threshold of cases and a score.
    for t in &c.source.types {
        assert!(!t.score.is_empty() && t.score != "0.00", "{t:?}");
        if t.layer != "composite" {
            assert!(t.cases.parse::<u64>().unwrap() >= 15, "{t:?}");
        }
    }
    // Through the folder format, as `dip build --national` writes it.
    let out = tempfile::tempdir().expect("temp dir");
    c.source.write_dir(out.path()).expect("writes");
    let local = CatalogSource::from_dir(out.path()).expect("the local catalogue reads");
    let catalog = Catalog::compile(&local).expect("the local catalogue compiles");
    let (out, counts) = group(&catalog, &text);
    assert_eq!(
        counts,
        counts_of(&[
            ("grouped", r.kept_cases),
            ("composite", r.composite_cases),
            ("ungrouped", 0),
            ("excluded", r.excluded),
            ("invalid", 0),
        ]),
        "{r:?}"
    );
    let seen = all_in_catalogue_or_excluded(&out, &local);
    assert_eq!(seen.len(), local.types.len(), "every type receives cases");

    // Without an attribute table: no composite type; the cases no kept type takes stay
    // ungrouped, and the report says how many.
    let c = calibrate(&national, None, &h, &config).expect("calibrates");
    let r2 = &c.report;
    assert_eq!((r2.composite_types, r2.composite_cases), (0, 0));
    assert_eq!(r2.ungrouped, r.composite_cases);
    let catalog = Catalog::compile(&c.source).expect("compiles");
    let (_, counts) = group(&catalog, &text);
    assert_eq!(
        counts,
        counts_of(&[
            ("grouped", r.kept_cases),
            ("composite", 0),
            ("ungrouped", r2.ungrouped),
            ("excluded", r.excluded),
            ("invalid", 0),
        ])
    );
}

/// Like [`all_in_catalogue`], but excluded rows (no code) are allowed.
fn all_in_catalogue_or_excluded(out: &str, source: &CatalogSource) -> BTreeSet<String> {
    let codes: BTreeSet<&str> = source.types.iter().map(|t| t.code.as_str()).collect();
    let mut seen = BTreeSet::new();
    for line in out.lines().skip(1) {
        let mut f = line.split(',');
        let status = f.nth(1).expect("status");
        let code = f.next().expect("dip_code");
        if status == "excluded" {
            assert!(code.is_empty(), "{line}");
            continue;
        }
        assert!(codes.contains(code), "outside the catalogue: {line}");
        seen.insert(code.to_string());
    }
    seen
}
