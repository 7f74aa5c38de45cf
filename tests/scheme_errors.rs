//! Every validation of the scheme compiler, one test each: the demo scheme is copied,
//! broken in one place, and the error must name the file, the item and the field.

mod common;

use std::path::Path;

use drgdip::grouper::{Grouper, Scheme};
use serde_json::{Value, json};

/// Copies the demo scheme into a temporary folder, lets `edit` change it, and compiles.
fn broken(edit: impl FnOnce(&Path, &mut Value)) -> String {
    let dir = tempfile::tempdir().unwrap();
    let src = common::root().join("data/demo-scheme");
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    let path = dir.path().join("scheme.json");
    let mut json: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(dir.path(), &mut json);
    std::fs::write(&path, serde_json::to_string(&json).unwrap()).unwrap();
    match Scheme::from_dir(dir.path()).and_then(|s| Grouper::compile(&s).map(|_| ())) {
        Ok(()) => panic!("the broken scheme compiled"),
        Err(e) => e.to_string(),
    }
}

fn adrg<'a>(json: &'a mut Value, id: &str) -> &'a mut Value {
    json["adrgs"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|a| a["adrg"] == id)
        .unwrap()
}

#[test]
fn unknown_list_id() {
    let e =
        broken(|_, j| adrg(j, "BR2")["rule"] = json!({"op": "principal_dx_in", "list": "BR2:dxx"}));
    assert!(
        e.contains("adrgs[") && e.contains("(BR2).rule") && e.contains("unknown list id `BR2:dxx`"),
        "{e}"
    );
}

#[test]
fn malformed_rule_names_the_json_path() {
    let e =
        broken(|_, j| adrg(j, "BR2")["rule"] = json!({"op": "principal_dx_inn", "list": "BR2:dx"}));
    assert!(
        e.contains("scheme.json") && e.contains("rule") && e.contains("principal_dx_inn"),
        "{e}"
    );
    let e = broken(|_, j| adrg(j, "BR2")["rule"] = json!({"op": "los_lt", "value": "five"}));
    assert!(e.contains("rule") && e.contains("invalid type"), "{e}");
}

#[test]
fn drg_never_reached() {
    let e = broken(|_, j| {
        adrg(j, "BR2")["drgs"] = json!(["BR21", "BR23", "BR24", "BR25"]);
    });
    assert!(
        e.contains("drgs (BR22)") && e.contains("can never be reached"),
        "{e}"
    );
}

#[test]
fn orphan_entry_and_undispatched_mdc() {
    let e = broken(|_, j| {
        let m = j["mdcs"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|m| m["mdc"] == "MDCB")
            .unwrap();
        m["adrgs"] = json!(["BR2"]);
    });
    assert!(
        e.contains("adrgs (BM1)") && e.contains("orphan rule entry"),
        "{e}"
    );
    assert!(
        e.contains("drgs (BM11)"),
        "its DRGs are unreachable too: {e}"
    );
    let e = broken(|_, j| {
        j["dispatch"]["mdc_order"]
            .as_array_mut()
            .unwrap()
            .retain(|m| m != "MDCO");
    });
    assert!(
        e.contains("mdcs (MDCO)") && e.contains("never dispatched"),
        "{e}"
    );
}

#[test]
fn unknown_references() {
    let e = broken(|_, j| {
        j["dispatch"]["mdc_order"]
            .as_array_mut()
            .unwrap()
            .push(json!("MDCQ"))
    });
    assert!(
        e.contains("dispatch.mdc_order[8]: MDC `MDCQ` is not defined"),
        "{e}"
    );
    let e = broken(|_, j| {
        adrg(j, "BR2")["drgs"]
            .as_array_mut()
            .unwrap()
            .push(json!("BR29"))
    });
    assert!(
        e.contains("(BR2).drgs[5]: DRG `BR29` is not defined"),
        "{e}"
    );
    let e = broken(|_, j| {
        let m = j["mdcs"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|m| m["mdc"] == "MDCB")
            .unwrap();
        m["adrgs"].as_array_mut().unwrap().push(json!("ES3"));
    });
    assert!(e.contains("rule entry `ES3` belongs to `MDCE`"), "{e}");
}

#[test]
fn duplicates() {
    let e = broken(|_, j| {
        let d = j["drgs"][0].clone();
        j["drgs"].as_array_mut().unwrap().push(d);
    });
    assert!(e.contains("duplicate DRG `AH11`"), "{e}");
    let e = broken(|_, j| {
        let a = j["adrgs"][1].clone();
        j["adrgs"].as_array_mut().unwrap().push(a);
    });
    assert!(e.contains("duplicate rule entry id"), "{e}");
}

#[test]
fn conflicting_code_attributes() {
    let e = broken(|dir, _| {
        let mut mcc = std::fs::read_to_string(dir.join("mcc.csv")).unwrap();
        mcc.push_str("J96.000,99\n");
        std::fs::write(dir.join("mcc.csv"), mcc).unwrap();
    });
    assert!(e.contains("mcc.csv: line 7, field `exclusion_table`: MCC `J96.000` is listed with two exclusion tables (10 and 99)"), "{e}");
    let e = broken(|_, j| {
        j["lists"]["BR2:dx"]["codes"]
            .as_array_mut()
            .unwrap()
            .push(json!("i63.900"))
    });
    assert!(e.contains("differ only in case"), "{e}");
}

#[test]
fn grouped_and_trauma_lists_must_carry_their_columns() {
    let e = broken(|_, j| {
        adrg(j, "BR2")["rule"] = json!({"op": "proc_group_present", "list": "BR2:dx", "group": "1"})
    });
    assert!(
        e.contains("proc_group_present on list `BR2:dx`, which has no proc_group labels"),
        "{e}"
    );
    let e = broken(|_, j| {
        j["lists"]["GE1:proc"]["proc_group"]
            .as_array_mut()
            .unwrap()
            .pop();
    });
    assert!(
        e.contains("lists.GE1:proc.proc_group: 4 labels for 5 codes"),
        "{e}"
    );
    let e = broken(|_, j| {
        adrg(j, "ZZ1")["rule"] = json!({"op": "trauma_sites_min", "table": "BR2:dx", "min": 2})
    });
    assert!(
        e.contains("trauma_sites_min on list `BR2:dx`, which has no trauma_site column"),
        "{e}"
    );
}

#[test]
fn bad_values() {
    let e = broken(|_, j| adrg(j, "BR2")["rule"] = json!({"op": "sex_eq", "value": 3}));
    assert!(e.contains("sex_eq value 3"), "{e}");
    let e = broken(|_, j| j["validation"]["variant"] = json!("lenient"));
    assert!(
        e.contains("validation.variant: unknown variant `lenient`"),
        "{e}"
    );
    let e = broken(|_, j| j["dispatch"]["retry_on_no_match"]["kind"] = json!("every_procedure"));
    assert!(
        e.contains("retry_on_no_match.kind: unknown kind `every_procedure`"),
        "{e}"
    );
}

#[test]
fn broken_csv_tables_name_file_line_and_field() {
    let e =
        broken(|dir, _| std::fs::write(dir.join("cc.csv"), "code,table\nE11.900,50\n").unwrap());
    assert!(
        e.contains("cc.csv: line 1, field `exclusion_table`: missing column"),
        "{e}"
    );
    let e = broken(|dir, _| {
        std::fs::write(
            dir.join("cc.csv"),
            "code,exclusion_table\nE11.900,50\n,60\n",
        )
        .unwrap()
    });
    assert!(
        e.contains("cc.csv: line 3, field `code`: empty code"),
        "{e}"
    );
    let e = broken(|dir, _| std::fs::remove_file(dir.join("or_procedures.csv")).unwrap());
    assert!(e.contains("or_procedures.csv"), "{e}");
}

#[test]
fn all_problems_are_reported_together() {
    let e = broken(|_, j| {
        adrg(j, "BR2")["rule"] = json!({"op": "principal_dx_in", "list": "nope1"});
        adrg(j, "ES3")["rule"] = json!({"op": "principal_dx_in", "list": "nope2"});
    });
    assert!(e.contains("nope1") && e.contains("nope2"), "{e}");
    assert!(e.starts_with("the scheme has "), "{e}");
}

#[test]
fn shadowed_drgs_and_orphan_lists_are_warnings() {
    let (scheme, grouper) = common::demo();
    assert!(grouper.warnings().is_empty(), "{:?}", grouper.warnings());
    let mut s: Scheme = scheme.clone();
    s.rules.lists.insert("UNUSED".into(), Default::default());
    let e = s.rules.adrgs.iter_mut().find(|a| a.adrg == "BR2").unwrap();
    e.drgs.swap(0, 4); // BR25 (always true) first: the others are shadowed
    let g = Grouper::compile(&s).unwrap();
    let w = g.warnings().join("\n");
    assert!(w.contains("lists.UNUSED: orphan list"), "{w}");
    assert!(w.contains("DRG `BR21` can never be chosen"), "{w}");
}
