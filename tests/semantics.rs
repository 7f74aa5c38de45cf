//! Engine semantics that neither the demo scheme nor the real schemes exercise, each on a
//! tiny hand-written scheme: QY after the last entry, QY before the first, MDC entry rule
//! `true`, empty lists, `?00` results, fallbacks with and without a result, and the
//! numeric comparisons. Every case runs through the compiled grouper and the reference
//! interpreter.

mod common;

use drgdip::grouper::reference::{Reference, TextCase};
use drgdip::grouper::{Case, CodeKind, Grouper, Scheme};
use serde_json::{Value, json};

/// A scheme folder from a `scheme.json` value and fixed small tables.
fn scheme(rules: Value) -> Scheme {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(p.join("scheme.json"), rules.to_string()).unwrap();
    std::fs::write(p.join("mcc.csv"), "code,exclusion_table\nM1,1\n").unwrap();
    std::fs::write(p.join("cc.csv"), "code,exclusion_table\nC1,2\n").unwrap();
    std::fs::write(
        p.join("pdx_exclusion_table.csv"),
        "principal_dx,exclusion_table\nD1,1\n",
    )
    .unwrap();
    std::fs::write(
        p.join("or_procedures.csv"),
        "code,name,alt_names\nP1,op,\nP2,op,\n",
    )
    .unwrap();
    Scheme::from_dir(p).unwrap()
}

fn base(mdcs: Value, adrgs: Value, drgs: Value, lists: Value) -> Value {
    json!({
        "scheme": "semantics", "version": "t",
        "dispatch": {"mdc_order": mdcs.as_array().unwrap().iter().map(|m| m["mdc"].clone()).collect::<Vec<_>>(),
                     "no_match_result": "0000", "retry_on_no_match": null},
        "validation": {"variant": "standard"},
        "mdcs": mdcs, "adrgs": adrgs, "drgs": drgs, "lists": lists
    })
}

fn adult(dx: &[&str], px: &[&str]) -> TextCase {
    TextCase {
        sex: Some(1),
        age: Some(40),
        los: Some(5),
        discharge_way: "1".into(),
        dx: dx.iter().map(|s| s.to_string()).collect(),
        px: px.iter().map(|s| s.to_string()).collect(),
        ..TextCase::default()
    }
}

/// Groups with both engines, checks they agree, returns (status, mdc, adrg, drg).
fn group(s: &Scheme, case: &TextCase) -> [String; 4] {
    let g = Grouper::compile(s).unwrap();
    let mut c = Case {
        sex: case.sex,
        age: case.age,
        age_days: case.age_days,
        weight: case.weight,
        los: case.los,
        dept: case.dept.clone(),
        discharge_way: case.discharge_way.clone(),
        ..Case::default()
    };
    c.dx.extend(
        case.dx
            .iter()
            .map(|x| g.lookup(x, CodeKind::Diagnosis, false).id),
    );
    c.px.extend(
        case.px
            .iter()
            .map(|x| g.lookup(x, CodeKind::Procedure, false).id),
    );
    let fast = g.group(&c, &mut g.scratch());
    let fast = g.result(&fast).clone();
    let slow = Reference::new(s).group(case);
    assert_eq!(fast, slow, "engines disagree on {case:?}");
    let explained = g.explain(&c);
    assert_eq!(explained.result, fast, "explain agrees with group");
    [fast.status.as_str().into(), fast.mdc, fast.adrg, fast.drg]
}

fn mdc(code: &str, entry: Value, adrgs: &[&str], qy: Value) -> Value {
    json!({"mdc": code, "entry_rule": entry, "qy_check": qy, "adrgs": adrgs})
}

fn entry(id: &str, mdc: &str, rule: Value, drgs: &[&str], fallback: &str) -> Value {
    json!({"adrg": id, "mdc": mdc, "rule": rule, "drgs": drgs, "fallback_result": fallback})
}

fn drg(code: &str, cond: Value) -> Value {
    json!({"drg": code, "name": code, "condition": cond})
}

fn in_list(op: &str, list: &str) -> Value {
    json!({"op": op, "list": list})
}

#[test]
fn qy_check_after_the_last_entry_and_before_the_first() {
    let lists = json!({"A:pdx": {"codes": ["D1", "D2"]}, "AA1:dx": {"codes": ["D2"]}});
    let qy = |after: u32| json!({"enabled": true, "rule": in_list("principal_proc_in", "OR_PROCEDURES"), "result": "AQY", "after_adrg_count": after});
    let mk = |after| {
        scheme(base(
            json!([mdc(
                "MDCA",
                in_list("principal_dx_in", "A:pdx"),
                &["AA1"],
                qy(after)
            )]),
            json!([entry(
                "AA1",
                "MDCA",
                in_list("principal_dx_in", "AA1:dx"),
                &["AA19"],
                ""
            )]),
            json!([drg("AA19", json!({"op": "true"}))]),
            lists.clone(),
        ))
    };
    // After the last entry: the entry wins when it matches, QY only when it does not.
    let s = mk(5);
    assert_eq!(
        group(&s, &adult(&["D2"], &["P1"])),
        ["grouped", "MDCA", "AA1", "AA19"]
    );
    assert_eq!(
        group(&s, &adult(&["D1"], &["P1"])),
        ["ambiguous", "MDCA", "QY", "AQY"]
    );
    assert_eq!(
        group(&s, &adult(&["D1"], &[])),
        ["ungroupable", "0000", "00", "0000"]
    );
    // Before the first entry: QY wins over the entry.
    let s = mk(0);
    assert_eq!(
        group(&s, &adult(&["D2"], &["P1"])),
        ["ambiguous", "MDCA", "QY", "AQY"]
    );
    // A disabled check is never evaluated.
    let mut v = base(
        json!([mdc(
            "MDCA",
            in_list("principal_dx_in", "A:pdx"),
            &["AA1"],
            json!({"enabled": false, "rule": {"op": "true"}, "result": "AQY", "after_adrg_count": 0})
        )]),
        json!([entry(
            "AA1",
            "MDCA",
            in_list("principal_dx_in", "AA1:dx"),
            &["AA19"],
            ""
        )]),
        json!([drg("AA19", json!({"op": "true"}))]),
        lists,
    );
    let s = scheme(v.take());
    assert_eq!(
        group(&s, &adult(&["D1"], &["P1"])),
        ["ungroupable", "0000", "00", "0000"]
    );
}

#[test]
fn entry_rule_true_empty_lists_fallbacks_and_mdc_less_results() {
    let s = scheme(base(
        json!([
            mdc(
                "MDCB",
                in_list("principal_dx_in", "EMPTY"),
                &["BB1"],
                Value::Null
            ),
            mdc(
                "MDCS",
                json!({"op": "true"}),
                &["SA1", "SB1", "SC1"],
                Value::Null
            ),
        ]),
        json!([
            entry("BB1", "MDCB", json!({"op": "true"}), &["BB19"], ""),
            // Rule true, no split true, no fallback: the next entry is tried.
            entry(
                "SA1",
                "MDCS",
                in_list("principal_dx_in", "S:dx"),
                &["SA11"],
                ""
            ),
            // Rule true, no split true, a fallback result: the fallback is the result.
            entry(
                "SB1",
                "MDCS",
                in_list("any_dx_in", "S:dx"),
                &["SB11"],
                "SB1"
            ),
            // A `?00` result: ungroupable inside an MDC.
            entry("SC1", "MDCS", json!({"op": "true"}), &[], "S00"),
        ]),
        json!([
            drg("BB19", json!({"op": "true"})),
            drg("SA11", json!({"op": "has_mcc"})),
            drg("SB11", json!({"op": "has_cc"}))
        ]),
        json!({"EMPTY": {"codes": []}, "S:dx": {"codes": ["D1", "D3"]}}),
    ));
    // The empty list is false for every case, so MDCB is never entered.
    assert_eq!(
        group(&s, &adult(&["D1", "M9"], &[])),
        ["grouped", "MDCS", "SB1", "SB1"]
    );
    assert_eq!(
        group(&s, &adult(&["D3", "M1"], &[])),
        ["grouped", "MDCS", "SA1", "SA11"]
    );
    // D1's exclusion table 1 excludes M1 (table 1).
    assert_eq!(
        group(&s, &adult(&["D1", "M1"], &[])),
        ["grouped", "MDCS", "SB1", "SB1"]
    );
    assert_eq!(
        group(&s, &adult(&["D1", "C1"], &[])),
        ["grouped", "MDCS", "SB1", "SB11"]
    );
    assert_eq!(
        group(&s, &adult(&["X9"], &[])),
        ["ungroupable", "MDCS", "00", "0000"]
    );
}

#[test]
fn numeric_comparisons_and_counts() {
    let cmp = |op: &str, v: i64| json!({"op": op, "value": v});
    let tests = [
        ("AA11", cmp("dx_count_ge", 3)),
        ("AA12", cmp("proc_count_eq", 2)),
        (
            "AA13",
            json!({"op": "and", "args": [cmp("los_ge", 10), cmp("los_le", 20)]}),
        ),
        ("AA14", cmp("age_years_lt", 18)),
        (
            "AA15",
            json!({"op": "and", "args": [{"op": "age_days_present"}, cmp("age_days_gt", 100)]}),
        ),
        ("AA16", json!({"op": "not", "arg": {"op": "has_procedure"}})),
        ("AA19", json!({"op": "true"})),
    ];
    let s = scheme(base(
        json!([mdc("MDCA", json!({"op": "true"}), &["AA1"], Value::Null)]),
        json!([entry(
            "AA1",
            "MDCA",
            json!({"op": "true"}),
            &tests.iter().map(|t| t.0).collect::<Vec<_>>(),
            ""
        )]),
        Value::Array(tests.iter().map(|(c, r)| drg(c, r.clone())).collect()),
        json!({}),
    ));
    let drg_of = |c: &TextCase| group(&s, c)[3].clone();
    assert_eq!(drg_of(&adult(&["D1", "D2", "D3"], &["P1"])), "AA11");
    assert_eq!(drg_of(&adult(&["D1"], &["P1", "P2"])), "AA12");
    assert_eq!(
        drg_of(&TextCase {
            los: Some(10),
            ..adult(&["D1"], &["P1"])
        }),
        "AA13"
    );
    assert_eq!(
        drg_of(&TextCase {
            los: Some(21),
            ..adult(&["D1"], &["P1"])
        }),
        "AA19"
    );
    assert_eq!(
        drg_of(&TextCase {
            age: Some(17),
            ..adult(&["D1"], &["P1"])
        }),
        "AA14"
    );
    assert_eq!(
        drg_of(&TextCase {
            age_days: Some(14_600),
            ..adult(&["D1"], &["P1"])
        }),
        "AA15"
    );
    assert_eq!(drg_of(&adult(&["D1"], &[])), "AA16");
    // LOS is required because the scheme compares it.
    assert_eq!(
        group(
            &s,
            &TextCase {
                los: None,
                ..adult(&["D1"], &[])
            }
        )[0],
        "invalid"
    );
}
