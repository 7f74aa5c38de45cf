//! The compiled grouper and the reference interpreter agree on generated cases of every
//! scheme (the demo scheme always; the three real schemes when `../shared` is present).

mod common;

use drgdip::grouper::reference::{Reference, TextCase};
use drgdip::grouper::{Case, CodeKind, Grouper, Scheme};
use drgdip::io::synth::{GEN_HEADER, GenConfig, Generator};

fn agree(scheme: &Scheme, n: u64, seed: u64) {
    let grouper = Grouper::compile(scheme).unwrap();
    let generator = Generator::new(
        scheme,
        &grouper,
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
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cases.csv");
    std::fs::write(&path, &text).unwrap();
    let reference = Reference::new(scheme);
    let mut scratch = grouper.scratch();
    let mut case = Case::default();
    let mut diffs = Vec::new();
    let mut statuses = std::collections::BTreeSet::new();
    let mut drgs = std::collections::BTreeSet::new();
    for (id, tc, _) in common::text_cases(&path) {
        fill(&grouper, &tc, &mut case);
        let fast = grouper.group(&case, &mut scratch);
        let fast = grouper.result(&fast);
        let slow = reference.group(&tc);
        statuses.insert(slow.status);
        drgs.insert(slow.drg.clone());
        if *fast != slow {
            diffs.push(format!("{id}: compiled {fast:?} reference {slow:?}"));
        }
    }
    assert!(
        diffs.is_empty(),
        "{}: {} differences:\n{}",
        scheme.info.name,
        diffs.len(),
        diffs[..diffs.len().min(10)].join("\n")
    );
    // Generated cases nearly all group (as in a city): they must reach many DRGs.
    assert!(
        statuses.contains(&drgdip::grouper::Status::Grouped) && drgs.len() >= 10,
        "generated cases should reach many DRGs: {statuses:?}, {} DRGs",
        drgs.len()
    );
}

fn fill(g: &Grouper, tc: &TextCase, case: &mut Case) {
    case.clear();
    case.sex = tc.sex;
    case.age = tc.age;
    case.age_days = tc.age_days;
    case.weight = tc.weight;
    case.los = tc.los;
    case.dept.push_str(&tc.dept);
    case.discharge_way.push_str(&tc.discharge_way);
    case.dx.extend(
        tc.dx
            .iter()
            .map(|c| g.lookup(c, CodeKind::Diagnosis, false).id),
    );
    case.px.extend(
        tc.px
            .iter()
            .map(|c| g.lookup(c, CodeKind::Procedure, false).id),
    );
}

#[test]
fn demo_scheme_engines_agree() {
    let (scheme, _) = common::demo();
    agree(&scheme, 30_000, 11);
}

#[test]
#[cfg_attr(
    drgdip_no_shared,
    ignore = "needs ../shared (the real national schemes), which is not beside this checkout"
)]
fn real_schemes_engines_agree() {
    for name in ["chs-drg-1.1", "chs-drg-1.0", "changzhou-2022"] {
        let Some(dir) = common::shared(&format!("schemes/{name}")) else {
            return;
        };
        agree(&Scheme::from_dir(dir).unwrap(), 20_000, 5);
    }
}
