//! The national DIP 3.0 workbook: reading it, grouping the 20,000 reference cases with it
//! (through the workbook and through a compiled artifact), agreement with the workbook
//! reference interpreter, hand-worked cases for each decision of the README, and
//! workbook errors.

mod common;

use drgdip::grouper::dip::DxSpec;
use drgdip::grouper::dip::national_reference::{NationalCase, NationalReference};
use drgdip::grouper::dip::workbook::{DxCell, NationalLayer, ProcedureNote};
use drgdip::grouper::dip::{Catalog, CatalogSource, DipCase, NationalWorkbook};
use drgdip::io::{DipGroupJob, Options};

fn workbook() -> Option<NationalWorkbook> {
    let path = common::shared("schemes/dip-3.0/dip-3.0-catalogue.xlsx")?;
    Some(NationalWorkbook::read(path).expect("the national workbook reads"))
}

#[test]
#[cfg_attr(
    drgdip_no_shared,
    ignore = "needs ../shared (the real national schemes), which is not beside this checkout"
)]
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
#[cfg_attr(
    drgdip_no_shared,
    ignore = "needs ../shared (the real national schemes), which is not beside this checkout"
)]
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
#[cfg_attr(
    drgdip_no_shared,
    ignore = "needs ../shared (the real national schemes), which is not beside this checkout"
)]
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

/// Both engines on one case: (status, dip_code, layer, primary_care); asserts they agree.
fn both(
    wb: &NationalWorkbook,
    catalog: &Catalog,
    dx: &str,
    px: &str,
    days: Option<i64>,
    weight: Option<i64>,
) -> (String, String, String, bool) {
    let split = |s: &str| s.split('|').map(str::to_string).collect::<Vec<_>>();
    let case = NationalCase {
        dx: split(dx),
        px: split(px),
        age_days: days,
        weight,
    };
    let r = NationalReference::new(wb).group(&case);
    let mut k = DipCase {
        age_days: days,
        weight,
        ..DipCase::default()
    };
    k.dx.extend(
        case.dx
            .iter()
            .filter(|c| !c.trim().is_empty())
            .map(|c| catalog.dx(c).id),
    );
    k.px.extend(
        case.px
            .iter()
            .filter(|c| !c.trim().is_empty())
            .map(|c| catalog.px(c).id),
    );
    let o = catalog.group(&k, &mut catalog.scratch());
    let t = catalog.type_of(&o);
    let layer = t.map_or(o.status.as_str(), |t| t.layer.as_str());
    let got = (
        o.status.as_str().to_string(),
        t.map(|t| t.code.clone()).unwrap_or_default(),
        layer.to_string(),
        o.primary_care,
    );
    assert_eq!(
        got,
        (
            r.status.to_string(),
            r.dip_code.clone(),
            r.layer.to_string(),
            r.primary_care
        ),
        "{dx} / {px}: compiled vs reference"
    );
    got
}

fn code(r: (String, String, String, bool)) -> String {
    r.1
}

#[test]
#[cfg_attr(
    drgdip_no_shared,
    ignore = "needs ../shared (the real national schemes), which is not beside this checkout"
)]
fn hand_worked_cases_for_each_decision() {
    let Some(wb) = workbook() else { return };
    let c = Catalog::compile(&wb.to_source()).unwrap();
    let g = |dx: &str, px: &str| both(&wb, &c, dx, px, None, None);
    // Exclusion by whole code: A09.000 is listed, A09.000x001 is not (it groups by A09.0).
    assert_eq!(
        g("A09.000", ""),
        ("excluded".into(), String::new(), "excluded".into(), false)
    );
    assert_eq!(code(g("A09.000x001", "")), "JC-1867");
    assert_eq!(
        code(g(" a09.000X001 ", "")),
        "JC-1867",
        "trimmed, upper-cased"
    );
    assert_eq!(g("", "").0, "invalid");
    // The endoscopy note: gastroscopy stays principal with A09.0 (A00-A09) → BX-20;
    // with G45.0 it is dropped: G45 conservative (JC-2822), primary care (row 10).
    assert_eq!(code(g("A09.001", "44.1300x001")), "BX-20");
    assert_eq!(
        g("G45.001", "44.1300x001"),
        ("grouped".into(), "JC-2822".into(), "core".into(), true)
    );
    // 六、基层病种 is finer than the type: G45.1 conservative is in JC-2822 but not primary care.
    assert_eq!(
        g("G45.100", ""),
        ("grouped".into(), "JC-2822".into(), "core".into(), false)
    );
    // 按保守治疗入组 as principal: conservative, the next procedure is not promoted.
    assert_eq!(code(g("G45.001", "00.0100|88.4101")), "JC-2822");
    // Empty cell = conservative only: a principal procedure no G45 row names is not
    // put into the conservative type.
    assert_eq!(g("G45.001", "99.9999").0, "ungrouped");
    // `+` binds loosest: BX-51 needs 25.5905 and one of the neck dissections.
    assert_eq!(code(g("C02.100", "25.2x00|25.5905|40.5901")), "BX-51");
    assert_ne!(code(g("C02.100", "25.2x00|40.5901")), "BX-51");
    assert_ne!(code(g("C02.100", "25.2x00|25.5905")), "BX-51");
    // Related procedures count only after the principal.
    assert_ne!(code(g("C02.100", "25.5905|25.2x00|40.5901")), "BX-51");
    // Most related procedures: BX-108 (related 39.7903) over BX-109 (none).
    assert_eq!(code(g("C22.700", "50.2402|81.8100|39.7903")), "BX-108");
    assert_eq!(code(g("C22.700", "50.2402|81.8100")), "BX-109");
    // Ties go to the first row of the sheet.
    assert_eq!(code(g("C22.000", "50.3x05")), "BX-107");
    assert_eq!(code(g("K40.001", "53.1200x001")), "BX-923");
    // P07 anywhere, age in days < 29, weight bands with both ends included.
    let lbw = |w: Option<i64>, d: Option<i64>| both(&wb, &c, "J18.900|P07.100", "", d, w);
    assert_eq!(code(lbw(Some(999), Some(3))), "XQ-16");
    assert_eq!(code(lbw(Some(1000), Some(3))), "XQ-17");
    assert_eq!(code(lbw(Some(1499), Some(28))), "XQ-17");
    assert_eq!(code(lbw(Some(1500), Some(0))), "XQ-18");
    assert_eq!(code(lbw(Some(2499), Some(3))), "XQ-19");
    assert_ne!(lbw(Some(2500), Some(3)).2, "pre");
    assert_ne!(lbw(Some(1200), Some(29)).2, "pre");
    assert_ne!(
        lbw(None, Some(3)).2,
        "pre",
        "a missing weight never matches"
    );
    // ECMO and ventilation anywhere; XQ-13 needs both codes.
    assert_eq!(code(g("J18.900", "33.2400x001|39.6500")), "XQ-11");
    assert_eq!(
        code(g("J18.900", "33.2400x001|39.9500x007|96.7201")),
        "XQ-13"
    );
    assert_eq!(code(g("J18.900", "96.7201")), "XQ-14");
    // Transplants only as principal.
    assert_eq!(code(g("K74.600", "50.5100x002")), "XQ-4");
    assert_ne!(code(g("K74.600", "88.4101|50.5100x002")), "XQ-4");
    // Tumour treatment: the most treatment codes, among all procedures; the earliest
    // tumour diagnosis decides the range.
    assert_eq!(code(g("Z51.104|C34.100", "99.2503")), "FZ-1770");
    assert_eq!(code(g("Z51.104|C34.100", "99.2800x006|99.2503")), "FZ-1772");
    assert_eq!(
        code(g("Z51.104|C34.100", "99.2800x005|99.2503|99.2800x006")),
        "FZ-1773"
    );
    assert_eq!(code(g("Z51.104|C81.000|C34.100", "99.2503")), "FZ-1778");
    // Burns: the earliest area diagnosis, then the procedures.
    assert_eq!(code(g("T20.200|T31.100|T31.000", "")), "FZ-1748");
    assert_eq!(code(g("T20.200|T31.000|T31.100", "")), "FZ-1745");
    assert_eq!(code(g("T20.200|T31.000", "86.2201")), "FZ-1746");
    // TB drug resistance: the 附表 (exact codes) or U84.300 among the others.
    assert_eq!(code(g("A15.000x010", "")), "FZ-1836");
    assert_eq!(code(g("A15.000x001", "")), "FZ-1837");
    assert_eq!(code(g("A15.000x001|U84.300", "")), "FZ-1836");
    assert_eq!(code(g("A17.000|U84.300", "03.3101")), "FZ-1838");
    assert_eq!(code(g("A17.000", "03.3101")), "FZ-1839");
    // A primary-care combination no national type takes (row 71, K60.2 + 49.3903).
    assert!(!g("K60.200", "49.3903").3);
}

/// A small deterministic generator (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

/// A diagnosis code covered by a spec (with a random tail).
fn code_of(spec: &DxSpec, rng: &mut Rng) -> String {
    let tails = ["", "00", "01", "900", "x001", ".0"];
    match spec {
        DxSpec::Exact(k) => k.clone(),
        DxSpec::Sub(k) => format!("{}.{}{}", &k[..3], &k[3..], rng.pick(&tails[1..])),
        DxSpec::Cat(k) => format!("{k}.{}{}", rng.below(10), rng.pick(&tails)),
        DxSpec::Range(a, b) => {
            let (lo, hi): (usize, usize) = (a[1..].parse().unwrap(), b[1..].parse().unwrap());
            let n = lo + rng.below(hi - lo + 1);
            format!("{}{n:02}.{}00", &a[..1], rng.below(10))
        }
    }
}

#[test]
#[cfg_attr(
    drgdip_no_shared,
    ignore = "needs ../shared (the real national schemes), which is not beside this checkout"
)]
fn generated_cases_agree_with_the_reference_interpreter() {
    let Some(wb) = workbook() else { return };
    let c = Catalog::compile(&wb.to_source()).unwrap();
    let mut rng = Rng(8);
    let mut px_pool: Vec<String> = vec!["99.9999".into(), " 44.1300x001 ".into(), "45.2302".into()];
    for t in &wb.types {
        for cell in [&t.principal_px, &t.related, &t.treatment] {
            px_pool.extend(cell.groups.iter().flatten().cloned());
        }
    }
    px_pool.extend(wb.excluded_px.iter().map(|e| e.code.clone()));
    let mut dx_extra: Vec<String> = vec![
        "U84.300".into(),
        "P07.100".into(),
        "P07.300".into(),
        "u84.300".into(),
    ];
    dx_extra.extend(wb.tb_resistant.iter().map(|c| c.code.clone()));
    dx_extra.extend(wb.excluded_dx.iter().take(200).map(|c| c.code.clone()));
    let mut seen: std::collections::BTreeMap<String, usize> = Default::default();
    let n = 30_000;
    for i in 0..n {
        let t = rng.pick(&wb.types).clone();
        let mut dx = Vec::new();
        match &t.principal_dx {
            DxCell::Specs(s) if !s.is_empty() => dx.push(code_of(rng.pick(s), &mut rng)),
            _ => dx.push(code_of(
                &DxSpec::Range("A00".into(), "Z99".into()),
                &mut rng,
            )),
        }
        if !t.secondary_dx.is_empty() {
            for _ in 0..1 + rng.below(2) {
                let pos = rng.below(dx.len()) + 1;
                let s = code_of(rng.pick(&t.secondary_dx), &mut rng);
                dx.insert(pos.min(dx.len()), s);
            }
        }
        for _ in 0..rng.below(3) {
            dx.push(rng.pick(&dx_extra).clone());
        }
        if t.dx_anywhere && rng.below(2) == 0 {
            let last = dx.len() - 1;
            dx.swap(0, last);
        }
        if i % 17 == 0 {
            dx.insert(0, rng.pick(&dx_extra).clone());
        }
        let mut px: Vec<String> = Vec::new();
        if let Some(g) = t.principal_px.groups.first() {
            px.push(rng.pick(g).clone());
        }
        for g in t
            .principal_px
            .groups
            .iter()
            .skip(1)
            .chain(&t.related.groups)
            .chain(&t.treatment.groups)
        {
            if rng.below(5) != 0 {
                px.push(rng.pick(g).clone());
            }
        }
        for _ in 0..rng.below(3) {
            let p = rng.pick(&px_pool).clone();
            let at = rng.below(px.len() + 1);
            px.insert(at, p);
        }
        if px.len() > 1 && rng.below(4) == 0 {
            let a = rng.below(px.len());
            px.swap(0, a);
        }
        let days = [None, Some(0), Some(28), Some(29), Some(400)][rng.below(5)];
        let weight = [
            None,
            Some(999),
            Some(1000),
            Some(1499),
            Some(1999),
            Some(2499),
            Some(2500),
        ][rng.below(7)];
        let r = both(&wb, &c, &dx.join("|"), &px.join("|"), days, weight);
        *seen.entry(format!("{} {}", r.0, r.2)).or_default() += 1;
        if r.3 {
            *seen.entry("primary care".into()).or_default() += 1;
        }
    }
    for want in [
        "grouped pre",
        "grouped merge",
        "grouped burn",
        "grouped tumor",
        "grouped tb",
        "grouped core",
        "excluded excluded",
        "ungrouped ungrouped",
        "primary care",
    ] {
        assert!(
            seen.get(want).copied().unwrap_or(0) >= 20,
            "{want} reached too rarely: {seen:?}"
        );
    }
}
