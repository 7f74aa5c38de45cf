//! Build → group round trips on large generated histories: grouping a history with the
//! catalogue built from it puts every accepted case in a type of that catalogue. The
//! history is generated from the codes of CHS-DRG 1.1 (`../shared`), which include
//! dagger/asterisk pairs such as `A17.801+G07*`.

mod common;

use std::collections::BTreeSet;

use drgdip::grouper::dip::build::{self, BuildConfig, Threshold};
use drgdip::grouper::dip::{Catalog, CatalogSource};
use drgdip::grouper::{Grouper, Scheme};
use drgdip::io::history::read_dip_history;
use drgdip::io::synth::{GEN_HEADER, GenConfig, Generator};
use drgdip::io::{DipGroupJob, Options};

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

/// Groups `input` with `catalog`; returns the output and the counts per status
/// (grouped, composite, ungrouped, invalid).
fn group(catalog: &Catalog, input: &[u8]) -> (String, Vec<u64>) {
    let job = DipGroupJob::new(catalog);
    let mut out = Vec::new();
    let s =
        drgdip::io::run(&job, input, &mut out, &Options::default(), &|_, _| {}).expect("groups");
    (String::from_utf8(out).expect("utf-8"), s.counts)
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
        assert_eq!(counts[2] + counts[3], 0, "{threshold:?}: {counts:?}");
        assert_eq!(counts[0], r.core_cases);
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
