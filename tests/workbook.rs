//! CHS-DRG 3.0 straight from NHSA's workbook (`../shared/schemes/chs-drg-3.0`): every one
//! of the 20,000 reference cases gets exactly the expected status, MDC, ADRG and DRG —
//! through the workbook, through a compiled artifact, from the reference interpreter
//! of the workbook language and from the folder format's reference interpreter.

mod common;

use std::collections::HashMap;
use std::path::PathBuf;

use drgdip::grouper::reference::Reference;
use drgdip::grouper::workbook::reference::WorkbookReference;
use drgdip::grouper::{Grouper, Scheme};

struct Data {
    workbook: PathBuf,
    errata: PathBuf,
    cases: PathBuf,
    want: HashMap<String, [String; 4]>,
}

fn data() -> Option<Data> {
    let workbook = common::shared("schemes/chs-drg-3.0/chs-drg-3.0-workbook.xlsx")?;
    let errata = common::shared("schemes/chs-drg-3.0/errata.json")?;
    let cases = common::shared("reference/chs-drg-3.0/cases-20k.csv")?;
    let expected = common::shared("reference/chs-drg-3.0/expected-20k.csv")?;
    let mut rdr = csv::Reader::from_path(expected).unwrap();
    let want = rdr
        .records()
        .map(|r| {
            let r = r.unwrap();
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
        .collect();
    Some(Data {
        workbook,
        errata,
        cases,
        want,
    })
}

fn check(grouper: &Grouper, d: &Data, threads: usize) {
    let rows = common::group_csv(grouper, &std::fs::read(&d.cases).unwrap(), threads);
    assert_eq!(rows.len(), 20_000);
    let mut diffs = Vec::new();
    for r in &rows {
        let got = [
            r[1].to_string(),
            r[2].to_string(),
            r[3].to_string(),
            r[4].to_string(),
        ];
        if d.want[&r[0]] != got {
            diffs.push(format!(
                "{}: expected {:?}, got {:?}",
                &r[0], d.want[&r[0]], got
            ));
        }
    }
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs[..diffs.len().min(20)].join("\n")
    );
}

#[test]
fn every_reference_case_through_the_workbook_and_an_artifact() {
    let Some(d) = data() else { return };
    let scheme = Scheme::from_workbook(&d.workbook, Some(&d.errata)).unwrap();
    let r = &scheme.rules;
    assert_eq!((r.mdcs.len(), r.adrgs.len(), r.drgs.len()), (27, 538, 871));
    assert_eq!((scheme.mcc.len(), scheme.cc.len()), (1_581, 6_337));
    assert_eq!(scheme.exclusion_members.len(), 21_036 + 7);
    let rows: usize = r.lists.values().map(|l| l.codes.len()).sum();
    assert_eq!(rows, 106_950);
    let grouper = Grouper::compile(&scheme).unwrap();
    assert!(grouper.info().label().starts_with("chs_drg@3.0#"));
    check(&grouper, &d, 2);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("chs-drg-3.0.drgc");
    grouper.save(&file).unwrap();
    let loaded = Grouper::load(&file).unwrap();
    assert_eq!(loaded.info(), grouper.info());
    check(&loaded, &d, 1);
}

#[test]
fn both_reference_interpreters_agree_with_the_expected_answers() {
    let Some(d) = data() else { return };
    let scheme = Scheme::from_workbook(&d.workbook, Some(&d.errata)).unwrap();
    let workbook = WorkbookReference::new(&scheme);
    let folder = Reference::new(&scheme);
    let (mut a, mut b) = (0, 0);
    for (id, case, _) in common::text_cases(&d.cases) {
        let cols =
            |r: drgdip::grouper::ResultInfo| [r.status.as_str().to_string(), r.mdc, r.adrg, r.drg];
        a += usize::from(cols(workbook.group(&case)) != d.want[&id]);
        b += usize::from(cols(folder.group(&case)) != d.want[&id]);
    }
    assert_eq!(
        (a, b),
        (0, 0),
        "workbook reference, folder reference: differences"
    );
}

#[test]
fn without_the_errata_the_seven_members_are_missing() {
    let Some(d) = data() else { return };
    let with = Scheme::from_workbook(&d.workbook, Some(&d.errata)).unwrap();
    let without = Scheme::from_workbook(&d.workbook, None).unwrap();
    assert_eq!(
        with.exclusion_members.len() - without.exclusion_members.len(),
        7
    );
    // The identity covers the errata.
    assert_ne!(with.info.content_hash, without.info.content_hash);
    assert_eq!(with.info.version, without.info.version);
}

/// Generated 3.0 cases (`drgdip gen --scheme WORKBOOK.xlsx`), as CSV text.
fn generated(scheme: &Scheme, grouper: &Grouper, n: u64, seed: u64) -> String {
    use drgdip::io::synth::{GEN_HEADER, GenConfig, Generator};
    let generator = Generator::new(
        scheme,
        grouper,
        GenConfig {
            seed,
            ..GenConfig::default()
        },
    );
    let mut text = String::from(GEN_HEADER);
    text.push('\n');
    generator
        .generate(n, |chunk| {
            text.push_str(chunk);
            Ok(())
        })
        .unwrap();
    text
}

#[test]
fn the_compiled_engine_agrees_with_the_reference_interpreter_on_generated_cases() {
    let Some(d) = data() else { return };
    let scheme = Scheme::from_workbook(&d.workbook, Some(&d.errata)).unwrap();
    let grouper = Grouper::compile(&scheme).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cases.csv");
    std::fs::write(&path, generated(&scheme, &grouper, 20_000, 7)).unwrap();
    let reference = WorkbookReference::new(&scheme);
    let mut scratch = grouper.scratch();
    let mut case = drgdip::grouper::Case::default();
    let mut diffs = Vec::new();
    let mut statuses = std::collections::BTreeMap::new();
    for (id, tc, _) in common::text_cases(&path) {
        case.clear();
        case.sex = tc.sex;
        case.age = tc.age;
        case.age_days = tc.age_days;
        case.weight = tc.weight;
        case.los = tc.los;
        use drgdip::grouper::CodeKind;
        case.dx.extend(
            tc.dx
                .iter()
                .map(|c| grouper.lookup(c, CodeKind::Diagnosis, false).id),
        );
        case.px.extend(
            tc.px
                .iter()
                .map(|c| grouper.lookup(c, CodeKind::Procedure, false).id),
        );
        let fast = grouper.result(&grouper.group(&case, &mut scratch)).clone();
        let slow = reference.group(&tc);
        *statuses.entry(slow.status).or_insert(0) += 1;
        if fast != slow {
            diffs.push(format!("{id}: compiled {fast:?} reference {slow:?}"));
        }
    }
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs[..diffs.len().min(10)].join("\n")
    );
    // The generated cases reach grouped, ambiguous and ungroupable outcomes.
    assert!(statuses.len() >= 3, "{statuses:?}");
}

#[test]
fn results_are_identical_for_any_thread_count() {
    let Some(d) = data() else { return };
    let scheme = Scheme::from_workbook(&d.workbook, Some(&d.errata)).unwrap();
    let grouper = Grouper::compile(&scheme).unwrap();
    let input = std::fs::read(&d.cases).unwrap();
    let one = common::group_csv_bytes(&grouper, &input, 1);
    assert!(one.len() > 20_000 * 10);
    for threads in [2, 3, 8] {
        assert!(
            common::group_csv_bytes(&grouper, &input, threads) == one,
            "{threads} threads"
        );
    }
}
