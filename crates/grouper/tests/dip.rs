//! DIP: hand-worked cases for every layer, tie rule and sub-type on the demo catalogue;
//! catalogue faults; compiled-file round trip; a hand-computed build from history.

use std::path::PathBuf;

use drgdip_grouper::dip::build::{self, BuildConfig, History, HistoryBuilder, Threshold};
use drgdip_grouper::dip::reference::{DipReference, DipResult, TextDipCase};
use drgdip_grouper::dip::stats::Trim;
use drgdip_grouper::dip::{
    AttributeSource, Catalog, CatalogError, CatalogSource, DipCase, DipReason, DipStatus, DipStep,
    TieRule,
};

fn demo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/demo-catalog")
}

fn demo_source() -> CatalogSource {
    CatalogSource::from_dir(demo_dir()).expect("demo catalogue reads")
}

fn demo() -> Checked {
    checked(&demo_source())
}

/// A compiled catalogue together with the reference interpreter of its source
/// (`dip::reference`): every hand-worked case below is grouped by both, which must agree.
struct Checked {
    catalog: Catalog,
    reference: DipReference,
}

impl std::ops::Deref for Checked {
    type Target = Catalog;
    fn deref(&self) -> &Catalog {
        &self.catalog
    }
}

fn checked(src: &CatalogSource) -> Checked {
    Checked {
        catalog: Catalog::compile(src).expect("catalogue compiles"),
        reference: DipReference::new(src).expect("the reference reads the catalogue"),
    }
}

/// A case: diagnoses, procedures, and facts given as `(name, value)`. The compiled
/// catalogue and the reference interpreter must give it the same result.
fn case(c: &Checked, dx: &[&str], px: &[&str], facts: &[(&str, i64)]) -> DipCase {
    let mut t = TextDipCase {
        dx: dx.iter().map(|d| d.to_string()).collect(),
        px: px.iter().map(|p| p.to_string()).collect(),
        ..TextDipCase::default()
    };
    for &(name, v) in facts {
        match name {
            "age" => t.age = Some(v),
            "age_days" => t.age_days = Some(v),
            "weight" => t.weight = Some(v),
            "los" => t.los = Some(v),
            "icu_days" => t.icu_days = Some(v),
            "vent_hours" => t.vent_hours = Some(v),
            "discharge_way" => t.discharge_way = Some(v as u8),
            "total_cost" => t.total_cost = Some(v),
            other => panic!("unknown fact {other}"),
        }
    }
    let k = t.to_case(c);
    let fast = DipResult::of(c, &c.group(&k, &mut c.scratch()));
    assert_eq!(fast, c.reference.group(&t), "compiled vs reference: {t:?}");
    k
}

/// (status, type code, aux code) — checked against the explanation, which must agree.
fn group(c: &Checked, k: &DipCase) -> (DipStatus, String, String) {
    let o = c.group(k, &mut c.scratch());
    let code = c.type_of(&o).map(|t| t.code.clone()).unwrap_or_default();
    let aux = c.aux_of(&o).map(|a| a.code.clone()).unwrap_or_default();
    let e = c.explain(k);
    assert_eq!(
        (e.status, &e.dip_code, &e.aux_type),
        (o.status, &code, &aux)
    );
    (o.status, code, aux)
}

fn code(c: &Checked, dx: &[&str], px: &[&str], facts: &[(&str, i64)]) -> String {
    group(c, &case(c, dx, px, facts)).1
}

#[test]
fn exclusions() {
    let c = demo();
    let k = case(&c, &["Z00.000"], &[], &[]);
    let o = c.group(&k, &mut c.scratch());
    assert_eq!(o.status, DipStatus::Ungrouped);
    assert_eq!(o.reason, Some(DipReason::ExcludedPrincipal));
    assert_eq!(
        group(&c, &case(&c, &["R99"], &[], &[])).0,
        DipStatus::Ungrouped
    );
    // 93.9600 (oxygen) is ignored: 88.4101 becomes the principal procedure.
    assert_eq!(
        code(&c, &["I63.900"], &["93.9600", "88.4101"], &[]),
        "I63.9:88.4101"
    );
    // 57.9400 as principal procedure: the case is conservative.
    assert_eq!(
        code(&c, &["I63.900"], &["57.9400", "88.4101"], &[]),
        "I63.9:-"
    );
    // …as a secondary procedure it is only dropped.
    assert_eq!(
        code(&c, &["I63.900"], &["88.4101", "57.9400"], &[]),
        "I63.9:88.4101"
    );
    let e = c.explain(&case(&c, &["I63.900"], &["57.9400", "88.4101"], &[]));
    assert!(e.steps.contains(&DipStep::ConservativePrincipal {
        code: "57.9400".into()
    }));
    assert!(e.grouping_procedures.is_empty());
}

#[test]
fn pre_grouping() {
    let c = demo();
    assert_eq!(
        code(&c, &["J18.900"], &["96.7201", "31.1x00x005"], &[]),
        "PRE01"
    );
    assert_eq!(code(&c, &["J18.900"], &["96.7201"], &[]), "PRE02");
    assert_eq!(code(&c, &["J18.900"], &[], &[("vent_hours", 120)]), "PRE03");
    assert_eq!(
        code(&c, &["J18.900"], &[], &[("vent_hours", 95)]),
        "J18.9:-"
    );
    let nb = |w: i64| vec![("age", 0), ("age_days", 3), ("weight", w)];
    assert_eq!(code(&c, &["P07.100"], &[], &nb(800)), "PRE11");
    assert_eq!(code(&c, &["P07.100"], &[], &nb(1000)), "PRE12");
    assert_eq!(code(&c, &["P07.100"], &[], &nb(1499)), "PRE12");
    assert_eq!(code(&c, &["P07.100"], &[], &nb(1800)), "PRE13");
    assert_eq!(code(&c, &["P07.100"], &[], &nb(2499)), "PRE14");
    // P07 anywhere: a secondary diagnosis is enough.
    assert_eq!(code(&c, &["P22.000", "P07.300"], &[], &nb(1700)), "PRE13");
    // Too heavy for low birth weight: no P07.1 core type → composite (conservative).
    assert_eq!(code(&c, &["P07.100"], &[], &nb(2600)), "P00-P96-4");
    // Too old for the newborn rule: the core type of P07.3.
    assert_eq!(
        code(
            &c,
            &["P07.300"],
            &[],
            &[("age", 0), ("age_days", 40), ("weight", 1200)]
        ),
        "P07.3:-"
    );
}

#[test]
fn merge_and_refinement() {
    let c = demo();
    // Procedures done together (a+b) come first in file order…
    assert_eq!(
        code(&c, &["K40.900"], &["53.0002", "54.2100"], &[]),
        "MRG01"
    );
    assert_eq!(
        code(&c, &["K40.901"], &["54.2100", "53.0002"], &[]),
        "MRG01"
    );
    // …then interchangeable procedures (a|b|c).
    assert_eq!(code(&c, &["K40.900"], &["53.0201"], &[]), "MRG02");
    assert_eq!(code(&c, &["K40.901"], &["53.0001"], &[]), "MRG02");
    // Laparoscopy alone: no merge rule, no K40 core type → composite, diagnostic.
    assert_eq!(code(&c, &["K40.900"], &["54.2100"], &[]), "K00-K93-3");
    // Diagnosis-assisted refinement beats the core types of J44.1.
    assert_eq!(code(&c, &["J44.100", "J96.000"], &[], &[]), "REF03");
    assert_eq!(code(&c, &["J44.100"], &[], &[]), "J44.1:-");
    assert_eq!(code(&c, &["T22.200", "T31.300"], &[], &[]), "REF01");
    assert_eq!(code(&c, &["T22.200", "T31.100"], &[], &[]), "REF02");
    assert_eq!(code(&c, &["T22.200"], &[], &[]), "S00-T98-4");
}

#[test]
fn core_types() {
    let c = demo();
    assert_eq!(code(&c, &["I63.900"], &[], &[]), "I63.9:-");
    assert_eq!(code(&c, &["I63.900"], &["88.4101"], &[]), "I63.9:88.4101");
    // I63.3 has only a conservative type at the 亚目 level: the category level matches.
    assert_eq!(code(&c, &["I63.300"], &["88.4103"], &[]), "I63:angio");
    assert_eq!(code(&c, &["I63.300"], &[], &[]), "I63.3:-");
    // Most matched related procedures wins.
    assert_eq!(
        code(&c, &["I25.103"], &["36.0601", "36.0602"], &[]),
        "I25.1:36.0601+36.0602"
    );
    assert_eq!(
        code(&c, &["I25.103"], &["36.0602", "36.0601"], &[]),
        "I25.1:36.0601+36.0602"
    );
    assert_eq!(
        code(&c, &["I25.103"], &["36.0601", "88.4101"], &[]),
        "I25.1:36.0601"
    );
    // Then the type with the principal procedure, though 47.0100's scores more.
    assert_eq!(
        code(&c, &["K35.300"], &["47.0901", "47.0100"], &[]),
        "K35.3:47.0901"
    );
    let e = c.explain(&case(&c, &["K35.300"], &["47.0901", "47.0100"], &[]));
    assert!(e.steps.iter().any(|s| matches!(s,
        DipStep::Preferred { winner, loser, rule }
            if winner == "K35.3:47.0901" && loser == "K35.3:47.0100" && rule.contains("principal"))));
    // Primary-care types are flagged.
    let o = c.group(&case(&c, &["I10.x00"], &[], &[]), &mut c.scratch());
    let t = c.type_of(&o).unwrap();
    assert_eq!(
        (t.code.as_str(), t.primary_care, t.score_text.as_str()),
        ("I10.x:-", true, "450")
    );
}

#[test]
fn tie_rules() {
    // Neither type holds the principal procedure (54.2100): the tie rule decides.
    let px = ["54.2100", "47.0100", "47.0901"];
    let c = demo();
    assert_eq!(c.options().tie_rule, TieRule::HighestScore);
    assert_eq!(code(&c, &["K35.300"], &px, &[]), "K35.3:47.0100");
    let mut src = demo_source();
    src.manifest.options.tie_rule = TieRule::LowestScore;
    let c = checked(&src);
    assert_eq!(code(&c, &["K35.300"], &px, &[]), "K35.3:47.0901");
    // first_listed: swap the two rows so that 47.0901 comes first.
    src.manifest.options.tie_rule = TieRule::FirstListed;
    let i = src
        .types
        .iter()
        .position(|t| t.code == "K35.3:47.0100")
        .unwrap();
    src.types.swap(i, i + 1);
    assert_eq!(src.types[i].code, "K35.3:47.0901");
    let c = checked(&src);
    assert_eq!(code(&c, &["K35.300"], &px, &[]), "K35.3:47.0901");
    let e = c.explain(&case(&c, &["K35.300"], &px, &[]));
    assert!(e.steps.iter().any(|s| matches!(s,
        DipStep::Preferred { rule, .. } if rule == "tie rule first_listed: listed first")));
}

#[test]
fn composite_types_and_attributes() {
    let c = demo();
    // Principal procedure diagnostic (88.4101), surgery (32.2001) second.
    assert_eq!(
        code(&c, &["J18.900"], &["88.4101", "32.2001"], &[]),
        "J00-J99-3"
    );
    let mut src = demo_source();
    src.manifest.options.attribute_source = AttributeSource::Highest;
    let h = checked(&src);
    assert_eq!(
        code(&h, &["J18.900"], &["88.4101", "32.2001"], &[]),
        "J00-J99-1"
    );
    // Interventional counts as surgery.
    assert_eq!(code(&c, &["I10.x00"], &["36.0601"], &[]), "I00-I99-1");
    // Therapeutic.
    assert_eq!(code(&c, &["I10.x00"], &["99.2500"], &[]), "I00-I99-2");
    // An unlisted procedure takes the default attribute (diagnostic); the category row
    // I63 is preferred over the chapter range I00-I99.
    let k = case(&c, &["I63.900"], &["12.3456"], &[]);
    assert!(!c.px("12.3456").known);
    assert_eq!(
        group(&c, &k),
        (DipStatus::Composite, "I63-3".into(), String::new())
    );
    assert_eq!(code(&c, &["I10.x00"], &["12.3456"], &[]), "I00-I99-3");
    // Ungrouped: a category no type covers, and a code with no category.
    let u = case(&c, &["U07.100"], &[], &[]);
    let o = c.group(&u, &mut c.scratch());
    assert_eq!(
        (o.status, o.reason),
        (DipStatus::Ungrouped, Some(DipReason::NoType))
    );
    assert!(!c.dx("12").known);
    assert_eq!(
        group(&c, &case(&c, &["12"], &[], &[])).0,
        DipStatus::Ungrouped
    );
    // Rows with an empty principal-diagnosis spec take any principal diagnosis, even one
    // the catalogue cannot place.
    assert_eq!(code(&c, &["12"], &[], &[("vent_hours", 120)]), "PRE03");
    assert_eq!(code(&c, &["12"], &["96.7201"], &[]), "PRE02");
    // A code whose first three characters are no category is in no range…
    assert!(!c.dx("A0X.100").known);
    assert_eq!(
        group(&c, &case(&c, &["A0X.100"], &[], &[])).0,
        DipStatus::Ungrouped
    );
    // …while case and dots do not matter, and a very long code still has its category.
    assert_eq!(code(&c, &["i63.900"], &[], &[]), "I63.9:-");
    let long = format!("I63.9{}", "0".repeat(80));
    assert!(c.dx(&long).known);
    assert_eq!(code(&c, &[&long], &[], &[]), "I63.9:-");
    assert_eq!(code(&c, &["I10.x00"], &[" 36.0601 "], &[]), "I00-I99-1");
    // Invalid: no diagnosis.
    let o = c.group(&DipCase::default(), &mut c.scratch());
    assert_eq!(
        (o.status, o.reason),
        (DipStatus::Invalid, Some(DipReason::NoDiagnosis))
    );
}

#[test]
fn auxiliary_sub_types_highest_wins() {
    let c = demo();
    let base = [("age", 70), ("icu_days", 3), ("los", 6)];
    // Death 1.5, severe 1.3, ICU 2-7 1.2, age ≥ 65 1.05 all match: death wins.
    let mut f = base.to_vec();
    f.push(("discharge_way", 5));
    assert_eq!(
        group(&c, &case(&c, &["I63.900", "J96.000"], &[], &f)).2,
        "S-DEATH"
    );
    // Without death: severe (J96.0 and LOS > 3).
    assert_eq!(
        group(&c, &case(&c, &["I63.900", "J96.000"], &[], &base)).2,
        "S-SEVERE"
    );
    // LOS 2: not severe; ICU 2-7 (1.2) beats age (1.05).
    let f = [("age", 70), ("icu_days", 3), ("los", 2)];
    assert_eq!(
        group(&c, &case(&c, &["I63.900", "J96.000"], &[], &f)).2,
        "ICU-2-7"
    );
    assert_eq!(
        group(&c, &case(&c, &["I63.900"], &[], &[("age", 70)])).2,
        "AGE-65"
    );
    assert_eq!(
        group(&c, &case(&c, &["I63.900"], &[], &[("age", 40)])).2,
        ""
    );
    // CCI: I50 + J44 + E11 = 3 → 1.15 beats the moderate severity of E11.9 (1.1).
    let k = case(
        &c,
        &["I63.900", "I50.900", "J44.900", "E11.900"],
        &[],
        &[("los", 2)],
    );
    assert_eq!(group(&c, &k).2, "CCI-3");
    let k = case(&c, &["I63.900", "J44.900", "E11.900"], &[], &[("los", 2)]);
    assert_eq!(group(&c, &k).2, "S-MODERATE");
    // Tumours: metastasis 1.25; death 1.6 beats the general death 1.5; cost ≥ 3×.
    assert_eq!(code(&c, &["C34.900"], &[], &[]), "C00-D48-4");
    assert_eq!(
        group(&c, &case(&c, &["C34.900", "C78.000"], &[], &[])).2,
        "T-META"
    );
    let f = [("discharge_way", 5)];
    assert_eq!(
        group(&c, &case(&c, &["C34.900", "C78.000"], &[], &f)).2,
        "T-DEATH"
    );
    // C00-D48-4 scores 1800, mean cost 18000.00 yuan: 3× = 54000.00 yuan.
    let f = [("total_cost", 5_400_000)];
    assert_eq!(group(&c, &case(&c, &["C34.900"], &[], &f)).2, "T-COST");
    let f = [("total_cost", 5_399_999)];
    assert_eq!(group(&c, &case(&c, &["C34.900"], &[], &f)).2, "");
    let o = c.group(
        &case(&c, &["C34.900", "C78.000"], &[], &[]),
        &mut c.scratch(),
    );
    assert_eq!(c.aux_of(&o).unwrap().coefficient_text, "1.25");

    // The cost ratio is exact: 2.9995 × 100.005 yuan = 299.96500 yuan, so 299.97 yuan
    // qualifies (rounding the ratio to 3.000 or the mean to 100.01 yuan would not).
    let mut src = demo_source();
    let t = src.types.iter_mut().find(|t| t.code == "I63.9:-").unwrap();
    t.mean_cost = "100.005".into();
    let cost = src.aux.iter_mut().find(|a| a.code == "T-COST").unwrap();
    cost.principal_dx.clear();
    cost.cost_ratio = "2.9995".into();
    let c = checked(&src);
    let f = [("total_cost", 29_997)];
    assert_eq!(group(&c, &case(&c, &["I63.900"], &[], &f)).2, "T-COST");
    let f = [("total_cost", 29_996)];
    assert_eq!(group(&c, &case(&c, &["I63.900"], &[], &f)).2, "");
}

#[test]
fn compiled_round_trip_and_damage() {
    let c = demo();
    let bytes = c.to_bytes().unwrap();
    let l = Checked {
        catalog: Catalog::from_bytes(&bytes).unwrap(),
        reference: DipReference::new(&demo_source()).unwrap(),
    };
    assert_eq!(l.info(), c.info());
    for (dx, px) in [
        (&["I63.900"][..], &["88.4101"][..]),
        (&["K35.300"], &["54.2100", "47.0100", "47.0901"]),
        (&["C34.900", "C78.000"], &[]),
    ] {
        assert_eq!(
            group(&l, &case(&l, dx, px, &[])),
            group(&c, &case(&c, dx, px, &[]))
        );
    }
    let mut bad = bytes.clone();
    let n = bad.len();
    bad[n - 3] ^= 1;
    assert!(
        Catalog::from_bytes(&bad)
            .unwrap_err()
            .to_string()
            .contains("checksum")
    );
    assert!(
        Catalog::from_bytes(&bytes[..n - 10])
            .unwrap_err()
            .to_string()
            .contains("truncated")
    );
    // A DRG scheme artifact is not a catalogue.
    let mut other = bytes.clone();
    other[..16].copy_from_slice(b"drgdip-scheme\0\0\0");
    assert!(
        Catalog::from_bytes(&other)
            .unwrap_err()
            .to_string()
            .contains("label")
    );
}

/// Compiles the demo catalogue with `types.csv` replaced.
fn with_types(types: &str) -> Result<Catalog, CatalogError> {
    with_file("types.csv", types)
}

/// Compiles the demo catalogue with one file replaced.
fn with_file(name: &str, text: &str) -> Result<Catalog, CatalogError> {
    let replaced = name;
    let dir = demo_dir();
    let files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    let text = text.as_bytes().to_vec();
    let src = CatalogSource::from_files(&|name| {
        if name == replaced {
            Some(text.as_slice())
        } else {
            files.iter().find(|f| f.0 == name).map(|f| f.1.as_slice())
        }
    })?;
    Catalog::compile(&src)
}

fn fault(types: &str) -> (String, u64, String, String) {
    let e = with_types(types).expect_err("rejected");
    let p = &e.problems()[0];
    (p.file.clone(), p.line, p.field.clone(), p.message.clone())
}

const HEAD: &str = "code,name,layer,principal_dx,procedures,attribute,score\n";

#[test]
fn bad_catalogue_rows() {
    let ok = format!("{HEAD}A:-,a,core,A01.0,,,100\n");
    assert!(with_types(&ok).is_ok());
    // Malformed record (too many fields).
    let (f, l, _, m) = fault(&format!(
        "{HEAD}A:-,a,core,A01.0,,,100\nB,b,core,A02,,,1,extra\n"
    ));
    assert_eq!((f.as_str(), l), ("types.csv", 3));
    assert!(m.contains("malformed"), "{m}");
    // Non-numeric score.
    let (f, l, fld, m) = fault(&format!("{HEAD}A:-,a,core,A01.0,,,abc\n"));
    assert_eq!((f.as_str(), l, fld.as_str()), ("types.csv", 2, "score"));
    assert_eq!(m, "`abc` is not a number");
    // Unparsable procedure spec.
    let (_, l, fld, _) = fault(&format!(
        "{HEAD}A:-,a,core,A01.0,,,1\nA:p,a,core,A01.0,47.0100++54.51,,1\n"
    ));
    assert_eq!((l, fld.as_str()), (3, "procedures"));
    // Overlapping ranges with the same attribute: ambiguous.
    let (_, l, fld, m) = fault(&format!(
        "{HEAD}X-1,x,composite,A00-A50,,surgery,1\nY-1,y,composite,A40-B10,,surgery,1\nZ-1,z,composite,A51-B10,,therapeutic,1\n"
    ));
    assert_eq!((l, fld.as_str()), (3, "principal_dx"));
    assert!(m.contains("overlaps `A00-A50` of type X-1 (line 2)"), "{m}");
    // The same spec and procedure set twice: ambiguous too.
    let (_, l, _, m) = fault(&format!(
        "{HEAD}A,a,core,I63.9,88.4101,,1\nB,b,core,I63.9,88.4101|88.4103,,2\n"
    ));
    assert_eq!(l, 3);
    assert!(m.contains("a case could match both"), "{m}");
    // Disjoint ranges and different levels are fine.
    assert!(with_types(&format!("{HEAD}X-1,x,composite,A00-A50,,surgery,1\nY-1,y,composite,A51-B10,,surgery,1\nZ-1,z,composite,A40,,surgery,1\n")).is_ok());
    // Other faults: bad layer, bad spec, missing attribute, unknown list, duplicate code.
    for (row, field) in [
        ("A,a,kore,A01,,,1", "layer"),
        ("A,a,core,A1,,,1", "principal_dx"),
        ("A,a,core,B00-A00,,,1", "principal_dx"),
        ("A,a,composite,A01,,,1", "attribute"),
        ("A,a,composite,A01,47.0100,surgery,1", "procedures"),
        ("A,a,core,@nolist,,,1", "principal_dx"),
        ("A,a,core,,,,1", "principal_dx"),
        ("A,a,core,A01,,,-5", "score"),
    ] {
        let (_, l, fld, _) = fault(&format!("{HEAD}{row}\n"));
        assert_eq!((l, fld.as_str()), (2, field), "{row}");
    }
    let (_, l, fld, m) = fault(&format!("{HEAD}A,a,core,A01,,,1\nA,b,core,A02,,,1\n"));
    assert_eq!((l, fld.as_str()), (3, "code"));
    assert!(m.contains("already defined on line 2"));
    // Missing required column.
    let (_, l, fld, _) = fault("code,layer,principal_dx,procedures\nA,core,A01,\n");
    assert_eq!((l, fld.as_str()), (1, "score"));
}

#[test]
fn procedure_patterns_listed_twice() {
    let problems = |file: &str, text: &str| -> Vec<(u64, String, String)> {
        match with_file(file, text) {
            Ok(_) => Vec::new(),
            Err(e) => e
                .problems()
                .iter()
                .map(|p| (p.line, p.field.clone(), p.message.clone()))
                .collect(),
        }
    };
    let attrs = "code,attribute,name\n";
    // The same code (or prefix) again with the same attribute is harmless.
    assert!(
        problems(
            "procedure_attributes.csv",
            &format!(
                "{attrs}32.2001,surgery,a\n32.2001,surgery,b\n32.*,surgery,c\n32.*,surgery,d\n"
            )
        )
        .is_empty()
    );
    // With another attribute: the later line is the problem, naming the first.
    assert_eq!(
        problems(
            "procedure_attributes.csv",
            &format!("{attrs}32.2001,surgery,a\n32.2001,diagnostic,b\n")
        ),
        [(
            3,
            "attribute".to_string(),
            "`32.2001` is already `surgery` on line 2".to_string()
        )]
    );
    // An exact code and a prefix of the same text are different patterns.
    assert!(
        problems(
            "procedure_attributes.csv",
            &format!("{attrs}32.2001,surgery,a\n32.2001*,diagnostic,b\n")
        )
        .is_empty()
    );
    // A pattern that does not parse is a problem of the code.
    let p = problems("procedure_attributes.csv", &format!("{attrs}*,surgery,a\n"));
    assert_eq!((p[0].0, p[0].1.as_str()), (2, "code"), "{p:?}");
    let excl = "kind,code,note\n";
    assert!(
        problems(
            "exclusions.csv",
            &format!("{excl}procedure_ignore,93.9600,a\nprocedure_ignore,93.9600,b\n")
        )
        .is_empty()
    );
    assert_eq!(
        problems(
            "exclusions.csv",
            &format!("{excl}procedure_ignore,93.9600,a\nprocedure_conservative,93.9600,b\n")
        ),
        [(
            3,
            "kind".to_string(),
            "`93.9600` is already listed with another kind on line 2".to_string()
        )]
    );
}

/// code, layer, procedures, score, mean cost, cases, cv, primary care.
type Row8<'a> = (
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    &'a str,
);

/// The hand-computed history of docs/dip-catalog.md's worked example.
fn small_history() -> History {
    let mut h = HistoryBuilder::default();
    let mut n = 0;
    let mut add = |dx: &str, px: &[&str], year: u16, yuan: i64, primary: bool| {
        n += 1;
        h.push(n, dx, px.iter().copied(), year, yuan * 100, primary);
    };
    // I63.9 conservative: 4 cases.
    add("I63.900", &[], 2024, 1000, true);
    add("I63.900", &[], 2024, 1200, true);
    add("I63.900", &[], 2023, 800, false);
    add("I63.900", &[], 2022, 1000, true);
    // I63.9 + 88.4101: 3 plain, 3 with 99.0400 (+33%), 3 with 88.4103 (+0%).
    for y in [3000, 3000, 3300] {
        add("I63.900", &["88.4101"], 2024, y, false);
    }
    for y in [4000, 4000, 4400] {
        add("I63.900", &["88.4101", "99.0400"], 2024, y, false);
    }
    for _ in 0..3 {
        add("I63.900", &["88.4101", "88.4103"], 2024, 3100, false);
    }
    // J18.9: 2 conservative, 1 ventilated: below the threshold → composite.
    add("J18.900", &[], 2024, 500, false);
    add("J18.900", &[], 2023, 700, false);
    add("J18.900", &["96.7101"], 2024, 2000, false);
    // Excluded principal diagnosis.
    add("Z00.000", &[], 2024, 300, false);
    History::merge(vec![h])
}

#[test]
fn build_from_a_hand_computed_history() {
    let history = small_history();
    let tables = demo_source();
    let config = BuildConfig {
        threshold: Threshold::Cases(3),
        ..BuildConfig::default()
    };
    let built = build::build(&history, Some(&tables), &config).unwrap();
    let rows: Vec<Row8<'_>> = built
        .source
        .types
        .iter()
        .map(|t| {
            (
                t.code.as_str(),
                t.layer.as_str(),
                t.procedures.as_str(),
                t.score.as_str(),
                t.mean_cost.as_str(),
                t.cases.as_str(),
                t.cv.as_str(),
                t.primary_care.as_str(),
            )
        })
        .collect();
    // Overall: Σwc / Σw = 2,539,000 / 96 → 26,447.92 yuan… in fen 264479.
    assert_eq!(
        rows,
        vec![
            (
                "I63.9:-", "core", "", "400.34", "1058.82", "4", "0.1257", "1"
            ),
            (
                "I63.9:88.4101",
                "core",
                "88.4101",
                "1172.12",
                "3100.00",
                "6",
                "0.0323",
                "0"
            ),
            (
                "I63.9:88.4101+99.0400",
                "core",
                "88.4101+99.0400",
                "1562.82",
                "4133.33",
                "3",
                "0.0456",
                "0"
            ),
            (
                "J18-2",
                "composite",
                "",
                "756.20",
                "2000.00",
                "1",
                "0.0000",
                "0"
            ),
            (
                "J18-4",
                "composite",
                "",
                "205.86",
                "544.44",
                "2",
                "0.1527",
                "0"
            ),
        ]
    );
    assert_eq!(built.source.types[3].attribute, "therapeutic");
    let r = &built.report;
    assert_eq!(
        (r.cases, r.excluded, r.malformed, r.ungrouped),
        (17, 1, 0, 0)
    );
    assert_eq!(
        (r.core_types, r.related_types, r.composite_types),
        (3, 1, 2)
    );
    assert_eq!((r.threshold, r.core_cases), (3, 13));
    assert_eq!(r.coverage, 13.0 / 16.0);
    assert_eq!(r.overall_mean_cost, "2644.79");
    assert_eq!(r.years, vec![(2022, 1), (2023, 2), (2024, 7)]);
    assert_eq!(r.primary_care_types, 1);
    assert_eq!(r.largest[0].code, "I63.9:88.4101");

    // Round trip: every non-excluded case of the history lands in a type of the catalogue.
    // The reference interpreter agrees on each of them.
    let c = checked(&built.source);
    for h in &history.cases {
        let px: Vec<&str> = history
            .procedures(h)
            .iter()
            .map(|&p| &*history.px_codes[p as usize])
            .collect();
        let k = case(&c, &[&history.dx_codes[h.dx as usize]], &px, &[]);
        let o = c.group(&k, &mut c.scratch());
        if history.dx_codes[h.dx as usize] == "Z00.000" {
            assert_eq!(o.reason, Some(DipReason::ExcludedPrincipal));
        } else {
            assert!(o.type_id.is_some(), "{:?}", history.dx_codes[h.dx as usize]);
        }
    }
}

#[test]
fn build_by_coverage_and_settings() {
    let history = small_history();
    let tables = demo_source();
    // Combinations: I63.9+88.4101 9, I63.9 conservative 4, J18.9 2, J18.9+96.7101 1:
    // 9 + 4 = 13 of 16 ≥ 80% → threshold 4; the related sets (3 cases) fall below it.
    let config = BuildConfig {
        threshold: Threshold::Coverage(0.8),
        ..BuildConfig::default()
    };
    let built = build::build(&history, Some(&tables), &config).unwrap();
    assert_eq!(built.report.threshold, 4);
    let codes: Vec<&str> = built.source.types.iter().map(|t| t.code.as_str()).collect();
    assert_eq!(codes, ["I63.9:-", "I63.9:88.4101", "J18-2", "J18-4"]);
    assert_eq!(built.source.types[1].cases, "9");
    // Too many years for the weights.
    let config = BuildConfig {
        year_weights: vec![3, 7],
        ..BuildConfig::default()
    };
    let e = build::build(&history, Some(&tables), &config).unwrap_err();
    assert!(e.to_string().contains("spans 3 years"), "{e}");
    // Trimming applies per type once it has 40 cases: 40 equal costs and two outliers.
    let mut h = HistoryBuilder::default();
    for i in 0..40u64 {
        let cost = match i {
            0 => 1,
            1 => 1_000_000,
            _ => 1000,
        };
        h.push(i, "K29.700", [], 2024, cost * 100, false);
    }
    let config = BuildConfig {
        trim: Trim::default(),
        ..BuildConfig::default()
    };
    let built = build::build(&History::merge(vec![h]), None, &config).unwrap();
    let t = &built.source.types[0];
    assert_eq!(
        (
            t.code.as_str(),
            t.mean_cost.as_str(),
            t.score.as_str(),
            t.cv.as_str()
        ),
        ("K29.7:-", "1000.00", "1000.00", "0.0000")
    );
}

/// A dagger/asterisk pair (`A17.801+G07*`) is one principal diagnosis: the builder puts it
/// in the types of its dagger code's 亚目 and category, as the grouper looks it up, so the
/// round trip leaves no case outside the catalogue (it used to call such codes malformed).
#[test]
fn build_places_dagger_asterisk_principals() {
    let mut h = HistoryBuilder::default();
    let cases: [(&str, &[&str], i64); 6] = [
        ("A17.801+G07*", &[], 3000),
        ("A17.806+G07*", &[], 5000),
        ("A17.100+G07*", &["01.2413"], 9000),
        ("B30.800+H13.1*", &[], 800),
        // A code whose fourth character is no 亚目 character: its category only.
        ("B99+G94.0*", &[], 1200),
        ("A17.800", &[], 4000),
    ];
    for (i, (dx, px, yuan)) in cases.iter().enumerate() {
        h.push(i as u64, dx, px.iter().copied(), 2024, yuan * 100, false);
    }
    let history = History::merge(vec![h]);
    let config = BuildConfig {
        threshold: Threshold::Cases(3),
        trim: Trim::NONE,
        ..BuildConfig::default()
    };
    let built = build::build(&history, None, &config).unwrap();
    let r = &built.report;
    assert_eq!((r.cases, r.malformed, r.ungrouped), (6, 0, 0));
    let codes: Vec<(&str, &str, &str)> = built
        .source
        .types
        .iter()
        .map(|t| (t.code.as_str(), t.principal_dx.as_str(), t.cases.as_str()))
        .collect();
    // A17.8 conservative: A17.801+G07*, A17.806+G07*, A17.800 (mean 4000).
    assert_eq!(
        codes,
        [
            ("A17.8:-", "A17.8", "3"),
            ("A17-3", "A17", "1"),
            ("B30-4", "B30", "1"),
            ("B99-4", "B99", "1"),
        ]
    );
    assert_eq!(built.source.types[0].mean_cost, "4000.00");
    let c = checked(&built.source);
    for h in &history.cases {
        let px: Vec<&str> = history
            .procedures(h)
            .iter()
            .map(|&p| &*history.px_codes[p as usize])
            .collect();
        let dx = &history.dx_codes[h.dx as usize];
        let k = case(&c, &[dx], &px, &[]);
        let o = c.group(&k, &mut c.scratch());
        assert!(o.type_id.is_some(), "{dx} is outside the built catalogue");
    }
}
