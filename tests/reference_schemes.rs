//! The three real schemes of `../shared/schemes`: every one of the 20,000 reference
//! cases of each must get exactly OpenDRG's status, MDC, ADRG and DRG — from the compiled
//! grouper and from the reference interpreter.

mod common;

use std::collections::HashMap;

use drgdip::grouper::reference::Reference;
use drgdip::grouper::{Grouper, Scheme, Status};

fn expected(name: &str) -> Option<HashMap<String, [String; 4]>> {
    let path = common::shared(&format!("reference/{name}/expected-20k.csv"))?;
    let mut rdr = csv::Reader::from_path(path).unwrap();
    Some(
        rdr.records()
            .map(|r| {
                let r = r.unwrap();
                let status = Status::from_reference(&r[1])
                    .expect("known status")
                    .as_str()
                    .to_string();
                (
                    r[0].to_string(),
                    [status, r[2].to_string(), r[3].to_string(), r[4].to_string()],
                )
            })
            .collect(),
    )
}

fn check_scheme(name: &str) {
    let (Some(dir), Some(cases), Some(want)) = (
        common::shared(&format!("schemes/{name}")),
        common::shared(&format!("reference/{name}/cases-20k.csv")),
        expected(name),
    ) else {
        return;
    };
    let scheme = Scheme::from_dir(&dir).unwrap();
    let grouper = Grouper::compile(&scheme).unwrap();
    let rows = common::group_csv(&grouper, &std::fs::read(&cases).unwrap(), 2);
    assert_eq!(rows.len(), 20_000);
    let mut diffs = Vec::new();
    for r in &rows {
        let got = [
            r[1].to_string(),
            r[2].to_string(),
            r[3].to_string(),
            r[4].to_string(),
        ];
        if want[&r[0]] != got {
            diffs.push(format!(
                "{}: expected {:?}, got {:?}",
                &r[0], want[&r[0]], got
            ));
        }
    }
    assert!(
        diffs.is_empty(),
        "{name}: {} differences:\n{}",
        diffs.len(),
        diffs[..diffs.len().min(20)].join("\n")
    );

    let reference = Reference::new(&scheme);
    let mut ref_diffs = 0;
    for (id, case, _) in common::text_cases(&cases) {
        let r = reference.group(&case);
        if want[&id] != [r.status.as_str().to_string(), r.mdc, r.adrg, r.drg] {
            ref_diffs += 1;
        }
    }
    assert_eq!(
        ref_diffs, 0,
        "{name}: the reference interpreter disagrees with OpenDRG"
    );
}

#[test]
#[cfg_attr(
    drgdip_no_shared,
    ignore = "needs ../shared (the real national schemes), which is not beside this checkout"
)]
fn chs_drg_11_matches_every_reference_case() {
    check_scheme("chs-drg-1.1");
}

#[test]
#[cfg_attr(
    drgdip_no_shared,
    ignore = "needs ../shared (the real national schemes), which is not beside this checkout"
)]
fn chs_drg_10_matches_every_reference_case() {
    check_scheme("chs-drg-1.0");
}

#[test]
#[cfg_attr(
    drgdip_no_shared,
    ignore = "needs ../shared (the real national schemes), which is not beside this checkout"
)]
fn changzhou_2022_matches_every_reference_case() {
    check_scheme("changzhou-2022");
}
