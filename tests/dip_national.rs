//! The national DIP 3.0 workbook: reading it, grouping the 20,000 reference cases with it
//! (through the workbook and through a compiled artifact), agreement with the workbook
//! reference interpreter, hand-worked cases for each decision of the README, and
//! workbook errors.

mod common;

use drgdip::grouper::dip::NationalWorkbook;
use drgdip::grouper::dip::national_reference::{NationalCase, NationalReference};
use drgdip::grouper::dip::workbook::{NationalLayer, ProcedureNote};

fn workbook() -> Option<NationalWorkbook> {
    let path = common::shared("schemes/dip-3.0/dip-3.0-catalogue.xlsx")?;
    Some(NationalWorkbook::read(path).expect("the national workbook reads"))
}

#[test]
fn the_workbook_reads_with_the_published_counts() {
    let Some(wb) = workbook() else { return };
    let count = |l: NationalLayer| wb.types.iter().filter(|t| t.layer == l).count();
    assert_eq!(wb.types.len(), 5125);
    assert_eq!(count(NationalLayer::Pre), 19);
    assert_eq!(count(NationalLayer::Merge), 1725);
    assert_eq!(count(NationalLayer::Burn), 25);
    assert_eq!(count(NationalLayer::Tumor), 42);
    assert_eq!(count(NationalLayer::Tb), 46);
    assert_eq!(count(NationalLayer::Core), 3268);
    assert_eq!(wb.tb_resistant.len(), 48);
    assert_eq!(wb.excluded_dx.len(), 4742);
    assert_eq!(wb.excluded_px.len(), 4111);
    assert_eq!(wb.primary_care.len(), 127);
    let notes =
        |f: fn(&ProcedureNote) -> bool| wb.excluded_px.iter().filter(|p| f(&p.note)).count();
    assert_eq!(notes(|n| matches!(n, ProcedureNote::Conservative)), 4017);
    assert_eq!(notes(|n| matches!(n, ProcedureNote::NotPrincipal)), 87);
    assert_eq!(notes(|n| matches!(n, ProcedureNote::PrincipalWhenDx(_))), 7);
    // 序号 runs 1…5,125 over the five rule sheets.
    let mut seqs: Vec<u32> = wb.types.iter().map(|t| t.seq).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=5125).collect::<Vec<_>>());
    // The low-birth-weight rows below the sub-header.
    let xq17 = wb.types.iter().find(|t| t.code() == "XQ-17").unwrap();
    assert!(xq17.dx_anywhere && xq17.principal_px.is_empty());
    assert_eq!(
        xq17.birth_weight.map(|r| (r.min, r.max)),
        Some((1000, 1499))
    );
    assert_eq!(xq17.age_days.map(|r| (r.min, r.max)), Some((0, 28)));
    let xq13 = wb.types.iter().find(|t| t.code() == "XQ-13").unwrap();
    assert!(xq13.px_anywhere);
    assert_eq!(xq13.principal_px.groups.len(), 2);
    assert_eq!(wb.tb_marker(), Some("U84.300"));
}

/// A reference case: its id, the case, and the expected `status, dip_code, layer,
/// primary_care`.
struct RefCase {
    id: String,
    case: NationalCase,
    expected: [String; 4],
}

fn reference_cases() -> Option<Vec<RefCase>> {
    let cases = common::shared("reference/dip-3.0/cases-20k.csv")?;
    let expected = common::shared("reference/dip-3.0/expected-20k.csv")?;
    let mut exp = csv::Reader::from_path(expected).unwrap();
    let mut out = Vec::new();
    let mut rdr = csv::Reader::from_path(cases).unwrap();
    let h = rdr.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    let (id, dx, px, ad, w) = (
        col("case_id"),
        col("diagnoses"),
        col("procedures"),
        col("age_days"),
        col("weight"),
    );
    for (r, e) in rdr.records().zip(exp.records()) {
        let (r, e) = (r.unwrap(), e.unwrap());
        assert_eq!(&r[id], &e[0]);
        let split = |s: &str| s.split('|').map(str::to_string).collect::<Vec<_>>();
        let num = |s: &str| s.trim().parse::<i64>().ok();
        out.push(RefCase {
            id: r[id].to_string(),
            case: NationalCase {
                dx: split(&r[dx]),
                px: split(&r[px]),
                age_days: num(&r[ad]),
                weight: num(&r[w]),
            },
            expected: [
                e[1].to_string(),
                e[2].to_string(),
                e[3].to_string(),
                e[5].to_string(),
            ],
        });
    }
    assert_eq!(out.len(), 20_000);
    Some(out)
}

#[test]
fn the_reference_interpreter_gives_the_expected_answers() {
    let Some(wb) = workbook() else { return };
    let Some(cases) = reference_cases() else {
        return;
    };
    let interp = NationalReference::new(&wb);
    let mut bad = Vec::new();
    for c in &cases {
        let r = interp.group(&c.case);
        let got = [
            r.status.to_string(),
            r.dip_code.clone(),
            r.layer.to_string(),
            u8::from(r.primary_care).to_string(),
        ];
        if got != c.expected {
            bad.push(format!(
                "{}: got {got:?}, expected {:?} ({:?})",
                c.id, c.expected, c.case
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "{} of 20000 differ:\n{}",
        bad.len(),
        bad[..bad.len().min(15)].join("\n")
    );
}
