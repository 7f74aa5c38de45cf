//! The Arrow/Parquet path gives what the CSV path gives: the same input as a Parquet
//! file (string columns) grouped batch by batch — into CSV, and into Parquet read back —
//! must give byte for byte the CSV path's output, on the demo corpus and on the 20,000
//! reference cases of every shared scheme (DRG and DIP), with and without `--carry`;
//! pricing through Arrow gives `drgdip price`'s output.

mod common;

use std::fs::File;
use std::io::Read;

use drgdip::arrow::parquet::{Output, csv_into_parquet, parquet_as_csv, run_parquet};
use drgdip::arrow::{BatchOptions, Error};
use drgdip::grouper::dip::{Catalog, CatalogSource, NationalWorkbook};
use drgdip::grouper::{Grouper, Scheme};
use drgdip::io::{DipGroupJob, GroupJob, Job, Options};

/// Writes CSV text as a Parquet file of string columns.
fn to_parquet(csv: &[u8], path: &std::path::Path) {
    let file = File::create(path).unwrap();
    csv_into_parquet(file, |w| -> Result<(), Error> {
        w.write_all(csv)?;
        Ok(())
    })
    .unwrap();
}

fn pool() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap()
}

/// The CSV path's output of `job` on `input`.
fn csv_path(job: &impl Job, input: &[u8], carry: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let options = Options {
        carry,
        block_size: 64 << 10,
        batch_blocks: 4,
        ..Options::default()
    };
    pool()
        .install(|| drgdip::io::run(job, input, &mut out, &options, &|_, _| {}))
        .expect("the CSV pipeline runs");
    out
}

/// Checks that the Parquet path gives the CSV path's bytes; returns the row count.
fn same_as_csv(job: &impl Job, input: &[u8], carry: bool) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let input_pq = dir.path().join("in.parquet");
    to_parquet(input, &input_pq);
    let want = csv_path(job, input, carry);
    let options = BatchOptions {
        carry,
        ..BatchOptions::default()
    };
    // Parquet → CSV.
    let mut got = Vec::new();
    let summary = pool()
        .install(|| {
            run_parquet(
                job,
                File::open(&input_pq).unwrap(),
                Output::Csv(&mut got),
                &options,
            )
        })
        .unwrap();
    let rows = bytecount_lines(&want) - 1;
    assert_eq!(summary.rows as usize, rows);
    assert_eq!(summary.counts.iter().sum::<u64>(), summary.rows);
    first_difference(&want, &got, "Parquet → CSV");
    // Parquet → Parquet, read back as CSV text.
    let output_pq = dir.path().join("out.parquet");
    pool()
        .install(|| {
            run_parquet(
                job,
                File::open(&input_pq).unwrap(),
                Output::Parquet(File::create(&output_pq).unwrap()),
                &options,
            )
        })
        .unwrap();
    let mut back = Vec::new();
    parquet_as_csv(File::open(&output_pq).unwrap())
        .unwrap()
        .read_to_end(&mut back)
        .unwrap();
    first_difference(&want, &back, "Parquet → Parquet");
    rows
}

fn bytecount_lines(b: &[u8]) -> usize {
    b.iter().filter(|&&c| c == b'\n').count()
}

/// Fails naming the first line that differs.
fn first_difference(want: &[u8], got: &[u8], what: &str) {
    if want == got {
        return;
    }
    let w = String::from_utf8_lossy(want);
    let g = String::from_utf8_lossy(got);
    for (i, (a, b)) in w.lines().zip(g.lines()).enumerate() {
        assert_eq!(a, b, "{what}: line {} differs", i + 1);
    }
    assert_eq!(
        w.lines().count(),
        g.lines().count(),
        "{what}: line counts differ"
    );
    panic!("{what}: outputs differ in line endings");
}

#[test]
fn demo_corpus_drg_and_dip() {
    let (_, grouper) = common::demo();
    let input = std::fs::read(common::root().join("tests/corpus/demo.csv")).unwrap();
    let job = GroupJob::new(&grouper, false);
    for carry in [false, true] {
        assert!(same_as_csv(&job, &input, carry) > 10);
    }
    let source = CatalogSource::from_dir(common::root().join("data/demo-catalog")).unwrap();
    let catalog = Catalog::compile(&source).unwrap();
    let job = DipGroupJob::new(&catalog);
    for carry in [false, true] {
        assert!(same_as_csv(&job, &input, carry) > 10);
    }
}

#[test]
fn bad_rows_are_invalid_rows_with_the_csv_message() {
    let (_, grouper) = common::demo();
    let input = b"case_id,sex,age,los,diagnoses\n\
        ok,1,67,9,I63.900\n\
        badsex,7,67,9,I63.900\n\
        noage,1,,9,I63.900\n\
        nodx,1,67,9,\n\
        ,1,67,9,I63.900\n";
    let job = GroupJob::new(&grouper, false);
    assert_eq!(same_as_csv(&job, input, true), 5);
    let text = String::from_utf8(csv_path(&job, input, false)).unwrap();
    assert_eq!(text.matches(",invalid,").count(), 4, "{text}");
    assert!(text.contains("line 3, field `sex`"), "{text}");
}

fn drg_reference(name: &str, scheme: Option<Scheme>) {
    let (Some(scheme), Some(cases)) = (
        scheme,
        common::shared(&format!("reference/{name}/cases-20k.csv")),
    ) else {
        return;
    };
    let grouper = Grouper::compile(&scheme).unwrap();
    let input = std::fs::read(cases).unwrap();
    let job = GroupJob::new(&grouper, false);
    assert_eq!(same_as_csv(&job, &input, false), 20_000);
}

fn folder(name: &str) -> Option<Scheme> {
    let dir = common::shared(&format!("schemes/{name}"))?;
    Some(Scheme::from_dir(dir).unwrap())
}

#[test]
#[cfg_attr(drgdip_no_shared, ignore = "needs ../shared (the real schemes)")]
fn reference_cases_chs_drg_1_1() {
    drg_reference("chs-drg-1.1", folder("chs-drg-1.1"));
}

#[test]
#[cfg_attr(drgdip_no_shared, ignore = "needs ../shared (the real schemes)")]
fn reference_cases_chs_drg_1_0() {
    drg_reference("chs-drg-1.0", folder("chs-drg-1.0"));
}

#[test]
#[cfg_attr(drgdip_no_shared, ignore = "needs ../shared (the real schemes)")]
fn reference_cases_changzhou_2022() {
    drg_reference("changzhou-2022", folder("changzhou-2022"));
}

#[test]
#[cfg_attr(drgdip_no_shared, ignore = "needs ../shared (the real schemes)")]
fn reference_cases_chs_drg_3_0_workbook() {
    let scheme = common::shared("schemes/chs-drg-3.0/chs-drg-3.0-workbook.xlsx").map(|wb| {
        let errata = wb.with_file_name("errata.json");
        Scheme::read(&wb, Some(&errata)).unwrap()
    });
    drg_reference("chs-drg-3.0", scheme);
}

#[test]
#[cfg_attr(drgdip_no_shared, ignore = "needs ../shared (the real schemes)")]
fn reference_cases_dip_3_0_national() {
    let (Some(wb), Some(cases)) = (
        common::shared("schemes/dip-3.0/dip-3.0-catalogue.xlsx"),
        common::shared("reference/dip-3.0/cases-20k.csv"),
    ) else {
        return;
    };
    let catalog = Catalog::compile(&NationalWorkbook::read(wb).unwrap().to_source()).unwrap();
    let input = std::fs::read(cases).unwrap();
    let job = DipGroupJob::new(&catalog);
    assert_eq!(same_as_csv(&job, &input, false), 20_000);
}

#[test]
fn pricing_through_arrow_is_drgdip_price() {
    use drgdip::io::synth::{GenConfig, Generator};
    use drgdip::pipeline::{PriceConfig, SpillTo, price};
    let (scheme, grouper) = common::demo();
    let generator = Generator::new(&scheme, &grouper, GenConfig::default());
    let mut cases = String::from(drgdip::io::synth::GEN_HEADER);
    cases.push('\n');
    generator
        .generate(3000, |t| {
            cases.push_str(t);
            Ok(())
        })
        .unwrap();
    let job = GroupJob::new(&grouper, false);
    let grouped = csv_path(&job, cases.as_bytes(), true);
    let policy = drgdip::payment::Policy::load(&common::root().join("data/demo-policy.toml"))
        .expect("the demo policy loads");
    let config = PriceConfig {
        threads: Some(2),
        spill: SpillTo::Memory,
    };
    let mut want = Vec::new();
    price(&policy, &grouped[..], &mut want, &config, &|_| {}).unwrap();
    // Grouped rows as a Parquet file, priced through Arrow batches.
    let dir = tempfile::tempdir().unwrap();
    let pq = dir.path().join("grouped.parquet");
    to_parquet(&grouped, &pq);
    let input = parquet_as_csv(File::open(&pq).unwrap()).unwrap();
    let mut got = Vec::new();
    price(&policy, input, &mut got, &config, &|_| {}).unwrap();
    first_difference(&want, &got, "price from Parquet");
    assert_eq!(bytecount_lines(&want), 3001);
}
