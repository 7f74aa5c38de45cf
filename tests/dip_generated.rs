//! The compiled DIP catalogue and the reference interpreter (`dip::reference`) agree on
//! generated cases: the demo catalogue on the demo scheme's synthetic cases as generated
//! and perturbed with the catalogue's own codes, under every tie rule and attribute
//! source; and a catalogue built by `dip build` from generated history.

mod dip_common;

use dip_common::{Agreement, Pools, compare, demo, generate, text_cases};
use drgdip::grouper::dip::build::{self, BuildConfig, Threshold};
use drgdip::grouper::dip::reference::{DipReference, TextDipCase};
use drgdip::grouper::dip::{Attribute, AttributeSource, Catalog, CatalogSource, TieRule};
use drgdip::io::Options;
use drgdip::io::history::read_dip_history;

fn agree(what: &str, source: &CatalogSource, cases: &[(String, TextDipCase)]) -> Agreement {
    let catalog = Catalog::compile(source).expect("compiles");
    let reference = DipReference::new(source).expect("the reference reads it");
    let a = compare(&catalog, &reference, cases);
    assert!(
        a.differences.is_empty(),
        "{what}: {} of {} cases differ between the compiled catalogue and the reference; first:\n{}",
        a.differences.len(),
        a.cases,
        a.first(10)
    );
    a
}

/// Asserts that a comparison was not vacuous: it reached the statuses and layers named,
/// and some auxiliary sub-types.
fn reached(what: &str, a: &Agreement, statuses: &[&str], layers: &[&str]) {
    for s in statuses {
        assert!(
            a.statuses.get(*s).copied().unwrap_or(0) > 0,
            "{what}: no case {s} ({:?})",
            a.statuses
        );
    }
    for l in layers {
        assert!(
            a.layers.get(*l).copied().unwrap_or(0) > 0,
            "{what}: no case in layer {l} ({:?})",
            a.layers
        );
    }
    assert!(a.with_aux > 0, "{what}: no auxiliary sub-type reached");
}

#[test]
fn demo_catalogue_agrees_on_generated_cases() {
    let (scheme, grouper, source) = demo();
    let plain = text_cases(&generate(&scheme, &grouper, 30_000, 11, 2025));
    let a = agree("demo, generated", &source, &plain);
    reached(
        "demo, generated",
        &a,
        &["grouped", "composite"],
        &["pre", "core", "composite"],
    );

    // The same cases perturbed with the catalogue's own codes and facts: every layer,
    // exclusions, unknown codes, the tie rules and the sub-types get exercised.
    let pools = Pools::new(&source);
    let mut perturbed = plain;
    for (i, (_, case)) in perturbed.iter_mut().enumerate() {
        pools.perturb(i as u64, case);
    }
    let a = agree("demo, perturbed", &source, &perturbed);
    reached(
        "demo, perturbed",
        &a,
        &["grouped", "composite", "ungrouped"],
        &["pre", "merge", "refine", "core", "composite"],
    );
    eprintln!(
        "demo, perturbed: {:?} {:?}, {} with a sub-type",
        a.statuses, a.layers, a.with_aux
    );

    // Every regional option.
    for tie_rule in [TieRule::LowestScore, TieRule::FirstListed] {
        let mut s = source.clone();
        s.manifest.options.tie_rule = tie_rule;
        agree(&format!("demo, {tie_rule:?}"), &s, &perturbed[..10_000]);
    }
    let mut s = source.clone();
    s.manifest.options.attribute_source = AttributeSource::Highest;
    s.manifest.options.unknown_procedure_attribute = Attribute::Therapeutic;
    agree("demo, highest attribute", &s, &perturbed[..10_000]);
}

#[test]
fn built_catalogue_agrees_on_generated_cases() {
    let (scheme, grouper, source) = demo();
    // Three years of history, then a catalogue built from it with the demo's tables.
    let mut history = generate(&scheme, &grouper, 6_000, 1, 2023);
    for (seed, year) in [(2, 2024), (3, 2025)] {
        let more = generate(&scheme, &grouper, 12_000, seed, year);
        let body = more.iter().position(|&b| b == b'\n').unwrap() + 1;
        history.extend_from_slice(&more[body..]);
    }
    let (h, _) = read_dip_history(&history[..], std::io::sink(), &Options::default())
        .expect("history reads");
    let config = BuildConfig {
        threshold: Threshold::Cases(15),
        ..BuildConfig::default()
    };
    let built = build::build(&h, Some(&source), &config).expect("builds");
    assert!(built.report.core_types > 10 && built.report.composite_types > 5);

    let cases = text_cases(&generate(&scheme, &grouper, 30_000, 12, 2025));
    let a = agree("built, generated", &built.source, &cases);
    reached(
        "built, generated",
        &a,
        &["grouped", "composite"],
        &["core", "composite"],
    );
    let pools = Pools::new(&built.source);
    let mut perturbed = cases;
    for (i, (_, case)) in perturbed.iter_mut().enumerate() {
        pools.perturb(i as u64, case);
    }
    agree("built, perturbed", &built.source, &perturbed);
}
