//! The data-driven corpus `tests/corpus/demo.csv`: hand-written cases on the demo scheme,
//! one or more per op and engine semantic, with their expected results. Every engine
//! runs it: the compiled grouper through the streaming pipeline, the same grouper after
//! a save/load round trip, and the reference interpreter.

mod common;

use std::collections::BTreeSet;

use drgdip::grouper::Grouper;
use drgdip::grouper::reference::Reference;
use drgdip::grouper::rule::Rule;

fn corpus() -> std::path::PathBuf {
    common::root().join("tests/corpus/demo.csv")
}

fn expected() -> Vec<(String, [String; 4])> {
    common::text_cases(&corpus())
        .into_iter()
        .map(|(id, _, r)| {
            (
                id,
                [
                    r[10].to_string(),
                    r[11].to_string(),
                    r[12].to_string(),
                    r[13].to_string(),
                ],
            )
        })
        .collect()
}

fn check(engine: &str, got: Vec<(String, [String; 4])>) {
    let want = expected();
    assert_eq!(
        got.len(),
        want.len(),
        "{engine}: one output row per input row"
    );
    let mut bad = Vec::new();
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.0, w.0, "{engine}: output in input order");
        if g.1 != w.1 {
            bad.push(format!("{}: expected {:?}, got {:?}", w.0, w.1, g.1));
        }
    }
    assert!(
        bad.is_empty(),
        "{engine} disagrees with the corpus:\n{}",
        bad.join("\n")
    );
}

fn run_compiled(grouper: &Grouper) -> Vec<(String, [String; 4])> {
    let input = std::fs::read(corpus()).unwrap();
    common::group_csv(grouper, &input, 2)
        .into_iter()
        .map(|r| {
            (
                r[0].to_string(),
                [
                    r[1].to_string(),
                    r[2].to_string(),
                    r[3].to_string(),
                    r[4].to_string(),
                ],
            )
        })
        .collect()
}

#[test]
fn compiled_grouper_matches_the_corpus() {
    let (_, grouper) = common::demo();
    check("compiled", run_compiled(&grouper));
}

#[test]
fn loaded_artifact_matches_the_corpus() {
    let (_, grouper) = common::demo();
    let loaded = Grouper::from_bytes(&grouper.to_bytes().unwrap()).unwrap();
    check("loaded artifact", run_compiled(&loaded));
}

#[test]
fn reference_interpreter_matches_the_corpus() {
    let (scheme, _) = common::demo();
    let reference = Reference::new(&scheme);
    let got = common::text_cases(&corpus())
        .into_iter()
        .map(|(id, case, _)| {
            let r = reference.group(&case);
            (id, [r.status.as_str().to_string(), r.mdc, r.adrg, r.drg])
        })
        .collect();
    check("reference", got);
}

/// Every op the format defines that the demo scheme uses, and every validation rule,
/// is named in the `covers` column of some corpus row.
#[test]
fn corpus_covers_every_op_of_the_demo_scheme() {
    let (scheme, _) = common::demo();
    let mut ops = BTreeSet::new();
    let mut see = |r: &Rule| {
        r.visit(&mut |x| {
            let json = serde_json::to_value(x).unwrap();
            ops.insert(json["op"].as_str().unwrap().to_string());
        })
    };
    for m in &scheme.rules.mdcs {
        see(&m.entry_rule);
    }
    scheme.rules.adrgs.iter().for_each(|e| see(&e.rule));
    scheme.rules.drgs.iter().for_each(|d| see(&d.condition));
    let covers: String = common::text_cases(&corpus())
        .iter()
        .map(|(_, _, r)| format!("{} ", &r[14]))
        .collect();
    for op in ops
        .iter()
        .filter(|o| *o != "and" && *o != "or" && *o != "not" && *o != "true")
    {
        assert!(
            covers.contains(op.as_str()),
            "no corpus row covers op `{op}`"
        );
    }
    for v in [
        "validation sex",
        "validation age",
        "validation age_days",
        "validation weight",
        "fallback",
        "retry",
        "QY",
        "exclusion",
    ] {
        assert!(covers.contains(v), "no corpus row covers `{v}`");
    }
    assert!(
        ops.len() >= 25,
        "the demo scheme should use most ops, uses {}",
        ops.len()
    );
}
