//! Regressions of the compiler findings of issue 10 (finding 6): limits that used to
//! wrap or panic, and input that used to be accepted silently.

mod common;

use std::path::Path;

use drgdip::grouper::dip::{Catalog, CatalogSource};
use drgdip::grouper::{Grouper, Scheme};
use serde_json::{Value, json};

/// Copies a data folder into a temporary folder and lets `edit` change it.
fn copy_of(name: &str, edit: impl FnOnce(&Path)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = common::root().join("data").join(name);
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    edit(dir.path());
    dir
}

fn compile_scheme(dir: &Path) -> Result<Grouper, String> {
    Scheme::from_dir(dir)
        .and_then(|s| Grouper::compile(&s))
        .map_err(|e| e.to_string())
}

fn edit_json(dir: &Path, edit: impl FnOnce(&mut Value) -> String) {
    let path = dir.join("scheme.json");
    let mut json: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let text = edit(&mut json);
    std::fs::write(&path, text).unwrap();
}

#[test]
fn more_exclusion_tables_than_16_bit_ids_is_a_problem_not_a_panic() {
    let dir = copy_of("demo-scheme", |d| {
        let mut csv = String::from("code,exclusion_table\n");
        for i in 0..70_000 {
            csv.push_str(&format!("Z{i:05}.000,T{i}\n"));
        }
        std::fs::write(d.join("mcc.csv"), csv).unwrap();
    });
    let e = compile_scheme(dir.path()).unwrap_err();
    assert!(
        e.contains("mcc.csv: line 65537, field `exclusion_table`")
            && e.contains("at most 65535 distinct tables"),
        "{e}"
    );
}

#[test]
fn an_empty_no_match_result_is_rejected() {
    let dir = copy_of("demo-scheme", |d| {
        edit_json(d, |j| {
            j["dispatch"]["no_match_result"] = json!("");
            j.to_string()
        })
    });
    let e = compile_scheme(dir.path()).unwrap_err();
    assert!(
        e.contains("scheme.json: dispatch.no_match_result: empty"),
        "{e}"
    );
}

#[test]
fn a_list_id_defined_twice_is_rejected() {
    let dir = copy_of("demo-scheme", |d| {
        edit_json(d, |j| {
            let lists = j["lists"].as_object().unwrap();
            let (id, list) = lists.iter().next().unwrap();
            let dup = format!("\"lists\":{{{}:{},", json!(id), list);
            let text = j.to_string();
            assert!(text.contains("\"lists\":{"));
            text.replacen("\"lists\":{", &dup, 1)
        })
    });
    let e = compile_scheme(dir.path()).unwrap_err();
    assert!(
        e.contains("scheme.json") && e.contains("lists") && e.contains("is defined twice"),
        "{e}"
    );
}

#[test]
fn separators_and_exponents_are_not_numbers_in_catalogues() {
    for bad in ["1_000", "1e5", ".5"] {
        let dir = copy_of("demo-catalog", |d| {
            let path = d.join("types.csv");
            let text = std::fs::read_to_string(&path).unwrap();
            // The score of the first type (line 2).
            let text = text.replacen(",12000,120000.00,", &format!(",{bad},120000.00,"), 1);
            std::fs::write(&path, text).unwrap();
        });
        let e = CatalogSource::from_dir(dir.path())
            .and_then(|s| Catalog::compile(&s))
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("types.csv") && e.contains("line 2") && e.contains("score"),
            "{bad}: {e}"
        );
        assert!(
            e.contains(&format!("`{bad}` is not a number")),
            "{bad}: {e}"
        );
    }
}

#[test]
fn separators_and_exponents_are_not_numbers_in_policies() {
    let demo = std::fs::read_to_string(common::root().join("data/demo-policy.toml")).unwrap();
    let base = common::root().join("data");
    let from = "base_rate = { employee = 13600, resident = 13600 }";
    assert!(demo.contains(from));
    for (to, shown) in [
        (
            "base_rate = { employee = 13_600, resident = 13600 }",
            "13_600",
        ),
        (
            "base_rate = { employee = 1.36e4, resident = 13600 }",
            "1.36e4",
        ),
        (
            "base_rate = { employee = \"13_600\", resident = 13600 }",
            "13_600",
        ),
    ] {
        let text = demo.replacen(from, to, 1);
        let e = drgdip::pricing::policy::pricing_from_str(&text, &base)
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("drg.base_rate.employee") && e.contains(shown),
            "{to}: {e}"
        );
    }
    // The demo policy itself loads.
    drgdip::pricing::policy::pricing_from_str(&demo, &base).unwrap();
}

/// `scheme.json` numbers are JSON integers: `1e0` (a JSON float) and `1_000` (no JSON
/// number at all) are refused, naming the file, as the CSV files, catalogues and
/// policies refuse them.
#[test]
fn separators_and_exponents_are_not_numbers_in_schemes() {
    let from = "\"eval_order\": 1,";
    let demo = std::fs::read_to_string(common::root().join("data/demo-scheme/scheme.json"));
    assert_eq!(demo.unwrap().matches(from).count(), 1);
    for bad in ["1e0", "1_000", "1.0"] {
        let dir = copy_of("demo-scheme", |d| {
            let path = d.join("scheme.json");
            let text = std::fs::read_to_string(&path).unwrap();
            let to = format!("\"eval_order\": {bad},");
            std::fs::write(&path, text.replacen(from, &to, 1)).unwrap();
        });
        let e = compile_scheme(dir.path()).map(|_| ()).unwrap_err();
        assert!(e.contains("scheme.json"), "{bad}: {e}");
    }
}
