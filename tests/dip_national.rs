//! The national DIP 3.0 workbook: reading it, grouping the 20,000 reference cases with it
//! (through the workbook and through a compiled artifact), agreement with the workbook
//! reference interpreter, hand-worked cases for each decision of the README, and
//! workbook errors.

mod common;

use drgdip::grouper::dip::national_reference::{NationalCase, NationalReference};
use drgdip::grouper::dip::workbook::{NationalLayer, ProcedureNote};
use drgdip::grouper::dip::{Catalog, CatalogSource, NationalWorkbook};
use drgdip::io::{DipGroupJob, Options};

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

/// Groups case CSV bytes with a DIP catalogue through the streaming pipeline.
fn dip_csv(catalog: &Catalog, input: &[u8], threads: usize) -> Vec<u8> {
    let job = DipGroupJob::new(catalog);
    let mut out = Vec::new();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let options = Options {
        block_size: 64 << 10,
        batch_blocks: 4,
        ..Options::default()
    };
    pool.install(|| drgdip::io::run(&job, input, &mut out, &options, &|_, _| {}))
        .expect("pipeline runs");
    out
}

/// Checks a pipeline output against the expected answers; returns the differences.
fn check_output(out: &[u8], cases: &[RefCase]) -> Vec<String> {
    let mut rdr = csv::Reader::from_reader(out);
    let h = rdr.headers().unwrap().clone();
    assert_eq!(
        &h.iter().take(5).collect::<Vec<_>>(),
        &["case_id", "status", "dip_code", "layer", "score"]
    );
    let pc = h
        .iter()
        .position(|x| x == "primary_care")
        .expect("primary_care column");
    let mut bad = Vec::new();
    let mut n = 0;
    for (r, c) in rdr.records().zip(cases) {
        let r = r.unwrap();
        n += 1;
        assert_eq!(&r[0], c.id);
        assert_eq!(&r[4], "", "the national catalogue has no scores");
        let got = [
            r[1].to_string(),
            r[2].to_string(),
            r[3].to_string(),
            r[pc].to_string(),
        ];
        if got != c.expected {
            bad.push(format!("{}: got {got:?}, expected {:?}", c.id, c.expected));
        }
    }
    assert_eq!(n, cases.len(), "one output row per input row");
    bad
}

#[test]
fn reference_cases_through_the_workbook_a_compiled_artifact_and_a_folder() {
    let Some(wb) = workbook() else { return };
    let Some(cases) = reference_cases() else {
        return;
    };
    let input = std::fs::read(common::shared("reference/dip-3.0/cases-20k.csv").unwrap()).unwrap();
    let catalog = Catalog::compile(&wb.to_source()).expect("the workbook compiles");
    assert!(catalog.is_national());
    let artifact = Catalog::from_bytes(&catalog.to_bytes().unwrap()).expect("the artifact loads");
    let dir = tempfile::tempdir().unwrap();
    wb.to_source().write_dir(dir.path()).unwrap();
    let folder = Catalog::compile(&CatalogSource::from_dir(dir.path()).unwrap())
        .expect("the folder compiles");
    let two = dip_csv(&catalog, &input, 2);
    for (what, c) in [
        ("workbook", &catalog),
        ("artifact", &artifact),
        ("folder", &folder),
    ] {
        let out = dip_csv(c, &input, 2);
        let bad = check_output(&out, &cases);
        assert!(
            bad.is_empty(),
            "{what}: {} of 20000 differ:\n{}",
            bad.len(),
            bad[..bad.len().min(10)].join("\n")
        );
        if what != "folder" {
            assert_eq!(out, two, "{what}: identical bytes");
        }
    }
    assert_eq!(
        dip_csv(&catalog, &input, 1),
        two,
        "identical output for any thread count"
    );
}
