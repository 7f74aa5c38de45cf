//! Criterion benchmarks of CHS-DRG 3.0 read from NHSA's workbook, on a million generated
//! 3.0 cases: grouping pre-parsed cases on one thread and on all cores, CSV → CSV end to
//! end, importing and compiling the workbook, loading the compiled artifact, and the
//! workbook reference interpreter as the baseline.

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use drgdip::grouper::workbook::reference::WorkbookReference;
use drgdip::grouper::{Grouper, Scheme, Status};
use drgdip::io::{GroupJob, Options};
use rayon::prelude::*;

const CASES: u64 = 1_000_000;

fn benches(c: &mut Criterion) {
    let Some((book, errata)) = common::workbook() else {
        return;
    };
    let scheme = Scheme::from_workbook(&book, Some(&errata)).unwrap();
    let grouper = Grouper::compile(&scheme).unwrap();
    let csv_bytes = common::csv_cases(&scheme, &grouper, CASES, 42);
    let (parsed, texts) = common::parse_cases(&grouper, &csv_bytes);
    let cases = parsed.clone();
    drop(parsed);
    let threads = rayon::current_num_threads();

    let mut g = c.benchmark_group("workbook group");
    g.sample_size(10);
    g.throughput(Throughput::Elements(CASES));
    g.bench_function("pre-parsed, 1 thread", |b| {
        let mut scratch = grouper.scratch();
        b.iter(|| {
            cases
                .iter()
                .filter(|case| grouper.group(case, &mut scratch).status == Status::Grouped)
                .count()
        })
    });
    g.bench_function(format!("pre-parsed, {threads} threads"), |b| {
        b.iter(|| {
            cases
                .par_iter()
                .map_init(
                    || grouper.scratch(),
                    |s, case| grouper.group(case, s).status as u64,
                )
                .sum::<u64>()
        })
    });
    let job = GroupJob::new(&grouper, false);
    for t in [1, threads] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .unwrap();
        let options = Options {
            batch_blocks: 4 * t.max(2),
            ..Options::default()
        };
        g.bench_function(format!("csv to csv, {t} threads"), |b| {
            b.iter(|| {
                pool.install(|| {
                    drgdip::io::run(&job, &csv_bytes[..], std::io::sink(), &options, &|_, _| {})
                })
                .unwrap()
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("workbook scheme");
    g.sample_size(10);
    g.bench_function("import workbook + compile", |b| {
        b.iter(|| Grouper::compile(&Scheme::from_workbook(&book, Some(&errata)).unwrap()).unwrap())
    });
    let bytes = grouper.to_bytes().unwrap();
    g.bench_function("load compiled", |b| {
        b.iter(|| Grouper::from_bytes(&bytes).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("workbook baseline");
    g.sample_size(10);
    let sample = &texts[..20_000];
    g.throughput(Throughput::Elements(sample.len() as u64));
    let reference = WorkbookReference::new(&scheme);
    g.bench_function("reference interpreter, 1 thread", |b| {
        b.iter(|| {
            sample
                .iter()
                .filter(|t| reference.group(t).drg != "0000")
                .count()
        })
    });
    g.finish();
}

criterion_group!(workbook, benches);
criterion_main!(workbook);
