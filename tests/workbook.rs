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
#[cfg_attr(
    drgdip_no_shared,
    ignore = "needs ../shared (the real national schemes), which is not beside this checkout"
)]
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
#[cfg_attr(
    drgdip_no_shared,
    ignore = "needs ../shared (the real national schemes), which is not beside this checkout"
)]
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
#[cfg_attr(
    drgdip_no_shared,
    ignore = "needs ../shared (the real national schemes), which is not beside this checkout"
)]
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
#[cfg_attr(
    drgdip_no_shared,
    ignore = "needs ../shared (the real national schemes), which is not beside this checkout"
)]
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
    // The generator redraws a case until it groups (the demo's realism), so generated
    // cases are grouped; the ambiguous (…QY) and ungroupable outcomes are compared
    // between engine and interpreter on the 20,000 reference cases instead.
    assert_eq!(
        statuses.get(&drgdip::grouper::Status::Grouped),
        Some(&20_000),
        "{statuses:?}"
    );
}

/// Generated 3.0 cases all group (the generator redraws until one does), so the engine
/// is also compared with the workbook interpreter on generated cases pushed away from
/// their group, where the ambiguous (`…QY`) and ungroupable (`…000`, `0000`) results
/// come from: an unrelated procedure in place of the principal procedure, the
/// procedures dropped, the procedures of another case (mostly of another MDC) instead
/// of or after the case's own, a secondary diagnosis as the principal, and a principal
/// no MDC takes. Status, MDC, ADRG, DRG and name must agree on every case, and each of
/// the three outcomes must occur often. In 3.0 the `…000` buckets are reached through
/// MDCP (`P000`), so one mutation also makes the patient a newborn (age 0, at most 28
/// days old, with a birth weight) with the case's own diagnoses.
#[test]
#[cfg_attr(
    drgdip_no_shared,
    ignore = "needs ../shared (the real national schemes), which is not beside this checkout"
)]
fn the_compiled_engine_agrees_with_the_reference_interpreter_on_mutated_cases() {
    use drgdip::grouper::Status;
    use std::collections::BTreeSet;

    let Some(d) = data() else { return };
    let scheme = Scheme::from_workbook(&d.workbook, Some(&d.errata)).unwrap();
    let grouper = Grouper::compile(&scheme).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cases.csv");
    std::fs::write(&path, generated(&scheme, &grouper, 20_000, 13)).unwrap();
    let cases: Vec<_> = common::text_cases(&path)
        .into_iter()
        .map(|(_, tc, _)| tc)
        .collect();
    // The codes the generator drew: secondary diagnoses and procedures.
    let secondary: Vec<&String> = cases
        .iter()
        .flat_map(|c| c.dx.iter().skip(1))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let procedures: Vec<&String> = cases
        .iter()
        .flat_map(|c| &c.px)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(secondary.len() > 1000 && procedures.len() > 1000);
    // splitmix64: a fixed sequence, so the test is the same on every run.
    let mut state = 0x5EED_u64;
    let mut next = |n: usize| {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % n as u64) as usize
    };
    let reference = WorkbookReference::new(&scheme);
    let mut scratch = grouper.scratch();
    let mut diffs = Vec::new();
    let mut outcomes = [0usize; 4];
    for (i, tc) in cases.iter().enumerate() {
        let mut m = tc.clone();
        let other = &cases[next(cases.len())];
        match i % 7 {
            0 => {
                let p = procedures[next(procedures.len())].clone();
                match m.px.first_mut() {
                    Some(first) => *first = p,
                    None => m.px.push(p),
                }
            }
            1 => m.px.clear(),
            2 => m.px = other.px.clone(),
            3 => m.px.extend(other.px.iter().cloned()),
            4 => m.dx[0] = secondary[next(secondary.len())].clone(),
            5 => m.dx[0] = procedures[next(procedures.len())].clone(),
            _ => {
                m.age = Some(0);
                m.age_days = Some(next(29) as i64);
                m.weight = Some(500 + next(4000) as i64);
            }
        }
        let fast = grouper
            .result(&grouper.group(&interned(&grouper, &m), &mut scratch))
            .clone();
        let slow = reference.group(&m);
        let k = match (slow.status, slow.mdc.as_str()) {
            (Status::Grouped, _) => 0,
            (Status::Ambiguous, _) => 1,
            (Status::Ungroupable, "0000") => 3,
            (Status::Ungroupable, _) => 2,
            (Status::Invalid, _) => panic!("case {i}: generated cases are valid: {slow:?}"),
        };
        outcomes[k] += 1;
        if fast != slow {
            diffs.push(format!(
                "case {i} {m:?}: compiled {fast:?} reference {slow:?}"
            ));
        }
    }
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs[..diffs.len().min(5)].join("\n")
    );
    // grouped, …QY, …000, 0000: each at least 2% of the 20,000.
    println!("grouped, …QY, …000, 0000: {outcomes:?}");
    assert!(outcomes.iter().all(|&n| n >= 400), "{outcomes:?}");
}

#[test]
#[cfg_attr(
    drgdip_no_shared,
    ignore = "needs ../shared (the real national schemes), which is not beside this checkout"
)]
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

/// CHS-DRG 3.0's 31 基层病组 (`primary-groups.csv`, read by the policy's
/// `[primary_care] drg_file`) are priced with one city price: a reference case grouped
/// into one of them pays the same at every hospital level and at a hospital with a
/// coefficient of its own, while a case of any other DRG pays its hospital's coefficient.
/// The weights are the test's own (every 3.0 DRG of the workbook, 0.50 to 2.40): NHSA
/// publishes no national weights, each city sets them.
#[test]
fn a_primary_care_group_of_chs_drg_30_is_priced_without_a_hospital_coefficient() {
    use drgdip::pricing::policy::pricing_from_str;
    use drgdip::pricing::{
        CaseInput, GroupStatus, HospitalLevel, InsuranceType, Method, Outlier, Pricer,
    };
    use rust_decimal::Decimal;

    let Some(d) = data() else { return };
    let Some(primary_file) = common::shared("schemes/chs-drg-3.0/primary-groups.csv") else {
        return;
    };
    let scheme = Scheme::from_workbook(&d.workbook, Some(&d.errata)).unwrap();
    let grouper = Grouper::compile(&scheme).unwrap();

    // Weights for every grouped DRG of the workbook, one decimal step apart.
    let mut weights = std::collections::BTreeMap::new();
    let mut csv_text = String::from("group,weight\n");
    for (i, r) in grouper
        .results()
        .iter()
        .filter(|r| r.status == drgdip::grouper::Status::Grouped)
        .enumerate()
    {
        let w = Decimal::new(50 + (i as i64 % 20) * 10, 2);
        csv_text.push_str(&format!("{},{w}\n", r.drg));
        weights.insert(r.drg.clone(), w);
    }
    assert!(weights.len() > 800, "{} grouped DRGs", weights.len());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("weights.csv"), csv_text).unwrap();
    let policy = format!(
        r#"
[policy]
name = "3.0 city"
region = "T"

[drg]
weights = "weights.csv"
rate_method = "fixed"
base_rate = 10000

[coefficients]
levels = {{ "3" = 1.2, "2" = 1.0, "1" = 0.9, "0" = 0.8 }}
[coefficients.hospitals]
H-OWN = 1.35

[primary_care]
drg_file = {:?}
"#,
        primary_file.display().to_string()
    );
    let pricer = Pricer::new(pricing_from_str(&policy, dir.path()).unwrap());

    // The file's 31 DRGs, all of them DRGs of the workbook, became primary-care groups.
    let mut rdr = csv::Reader::from_path(&primary_file).unwrap();
    let listed: Vec<String> = rdr.records().map(|r| r.unwrap()[0].to_string()).collect();
    assert_eq!(listed.len(), 31);
    for drg in &listed {
        assert!(weights.contains_key(drg), "{drg} is no DRG of the workbook");
        assert!(pricer.is_primary_care(Method::Drg, drg), "{drg}");
    }

    let price = |drg: &str, hospital: &str, level: HospitalLevel| {
        let p = pricer
            .price(&CaseInput {
                method: Method::Drg,
                status: GroupStatus::Grouped,
                group: drg,
                score: None,
                aux_coef: None,
                hospital_id: hospital,
                level,
                insurance: InsuranceType::Employee,
                total_cost: weights[drg] * Decimal::from(10_000),
                primary_care: false,
            })
            .unwrap();
        assert_eq!(p.outlier, Outlier::None);
        (p.primary_care, p.coefficient, p.payment_standard)
    };
    let hospitals = [
        ("H3", HospitalLevel::Third),
        ("H0", HospitalLevel::PrimaryCare),
        ("H-OWN", HospitalLevel::Second),
    ];
    // The reference cases, grouped from the workbook, that land in a primary-care DRG.
    let rows = common::group_csv(&grouper, &std::fs::read(&d.cases).unwrap(), 2);
    let mut primary_cases = 0;
    let mut other_case = None;
    for r in &rows {
        let drg = &r[4];
        if !listed.iter().any(|p| p == drg) {
            if r[1] == *"grouped" && other_case.is_none() {
                other_case = Some(drg.to_string());
            }
            continue;
        }
        primary_cases += 1;
        // weight × base rate × 1 (the default primary-care coefficient), whatever the hospital.
        let want = weights[drg] * Decimal::from(10_000);
        for (h, level) in hospitals {
            assert_eq!(
                price(drg, h, level),
                (true, Decimal::ONE, want),
                "{drg} at {h}"
            );
        }
    }
    let expected_primary = d.want.values().filter(|w| listed.contains(&w[3])).count();
    assert!(primary_cases > 0);
    assert_eq!(primary_cases, expected_primary);

    // Any other DRG pays its hospital's coefficient.
    let other = other_case.expect("a grouped case outside the primary-care groups");
    let base = weights[&other] * Decimal::from(10_000);
    let coefficients = ["1.2", "0.8", "1.35"].map(|c| c.parse::<Decimal>().unwrap());
    for ((h, level), k) in hospitals.into_iter().zip(coefficients) {
        assert_eq!(
            price(&other, h, level),
            (false, k, base * k),
            "{other} at {h}"
        );
    }
}

/// A reference case as the grouper's interned case.
fn interned(grouper: &Grouper, t: &drgdip::grouper::reference::TextCase) -> drgdip::grouper::Case {
    use drgdip::grouper::CodeKind;
    drgdip::grouper::Case {
        sex: t.sex,
        age: t.age,
        age_days: t.age_days,
        weight: t.weight,
        los: t.los,
        dept: t.dept.clone(),
        discharge_way: t.discharge_way.clone(),
        dx: t
            .dx
            .iter()
            .map(|c| grouper.lookup(c, CodeKind::Diagnosis, false).id)
            .collect(),
        px: t
            .px
            .iter()
            .map(|c| grouper.lookup(c, CodeKind::Procedure, false).id)
            .collect(),
    }
}

/// `explain` on the real workbook, for reference cases ending in `…QY`, `…000`, `0000`
/// and a DRG: every MDC tried (those skipped name their sheet row and the atoms that
/// failed), each ADRG and DRG with its Chinese name, sheet row and atoms marked ✓/✗,
/// why the case ended where it did, and the MCC/CC found or excluded — checked against
/// the workbook's own exclusion tables.
#[test]
fn explanations_of_workbook_cases_show_each_rule_and_why() {
    use drgdip::grouper::Step;

    let Some(d) = data() else { return };
    let scheme = Scheme::from_workbook(&d.workbook, Some(&d.errata)).unwrap();
    let grouper = Grouper::compile(&scheme).unwrap();
    let cases: HashMap<String, _> = common::text_cases(&d.cases)
        .into_iter()
        .map(|(id, t, _)| (id, t))
        .collect();
    let explain = |id: &str| grouper.explain(&interned(&grouper, &cases[id]));

    // P0000005: principal S43.400x001 (MDCI), procedures of no MDCI ADRG → IQY.
    let e = explain("P0000005");
    assert_eq!(e.result.drg, "IQY");
    let mut skipped = 0;
    for step in &e.steps {
        match step {
            Step::MdcSkipped {
                name,
                source,
                failed,
                ..
            } => {
                skipped += 1;
                assert!(source.starts_with("MDC sheet, row "), "{step:?}");
                assert!(!name.is_empty(), "{step:?}");
                assert!(
                    !failed.is_empty() && failed.iter().all(|f| f.contains('✗')),
                    "{step:?}"
                );
            }
            Step::MdcEntered { mdc, name, .. } if mdc == "MDCI" => {
                assert_eq!(name, "骨骼、肌肉疾病及功能障碍");
            }
            Step::Adrg {
                adrg,
                name,
                source,
                because,
                matched,
                ..
            } => {
                assert!(source.starts_with("ADRG sheet, row "), "{step:?}");
                // The workbook names every ADRG but its ambiguity rows.
                assert!(!name.is_empty() || adrg.ends_with("QY"), "{step:?}");
                let mark = if *matched { '✓' } else { '✗' };
                assert!(because.iter().any(|b| b.contains(mark)), "{step:?}");
            }
            _ => {}
        }
    }
    // MDCA, MDCP and MDCZ come before MDCI and do not take the case.
    assert!(skipped >= 3, "{:?}", e.steps);
    let why = e.why.as_deref().unwrap();
    assert!(why.contains("歧义") && why.contains("MDCI"), "{why}");
    // The S43.400x001 atom names the code that decided it.
    let text = serde_json::to_string(&e).unwrap();
    assert!(text.contains("S43.400x001"), "{text}");

    // P0000041: no MDC takes it → the global row.
    let e = explain("P0000041");
    assert_eq!(e.result.drg, "0000");
    assert!(e.why.as_deref().unwrap().contains("未入组"), "{:?}", e.why);

    // P0000057: a newborn entering MDCP whose ADRG rules all fail → P000.
    let e = explain("P0000057");
    assert_eq!(
        (e.result.adrg.as_str(), e.result.drg.as_str()),
        ("P00", "P000")
    );
    let why = e.why.as_deref().unwrap();
    assert!(why.contains("MDCP") && why.contains("P000"), "{why}");

    // P0000001: grouped, with the DRG row's name.
    let e = explain("P0000001");
    assert_eq!(e.result.drg, "SB15");
    assert!(e.why.is_none());
    assert!(e.steps.iter().any(|s| matches!(s,
        Step::Split { drg, name, matched: true, .. }
            if drg == "SB15" && name == "全身性感染疾病的手术，不伴合并症或并发症")));

    // MCC/CC: each complication is excluded exactly when the workbook's 排除表 (with
    // the errata) lists the principal diagnosis in the complication's table.
    let members: std::collections::BTreeSet<(String, String)> = scheme
        .exclusion_members
        .iter()
        .map(|m| (m.table.clone(), m.code.trim().to_ascii_uppercase()))
        .collect();
    let (mut excluded, mut counted) = (0, 0);
    let mut ids: Vec<&String> = cases.keys().collect();
    ids.sort();
    for id in ids.into_iter().take(3000) {
        let t = &cases[id];
        let e = grouper.explain(&interned(&grouper, t));
        let pdx = t.dx.first().map(|c| c.trim().to_ascii_uppercase());
        for c in &e.complications {
            let listed = pdx
                .as_ref()
                .is_some_and(|p| members.contains(&(c.table.clone(), p.clone())));
            assert_eq!(c.excluded, listed, "{id}: {c:?}");
            if c.excluded {
                excluded += 1;
            } else {
                counted += 1;
            }
        }
    }
    assert!(
        excluded > 0 && counted > 0,
        "{excluded} excluded, {counted} counted"
    );
}
