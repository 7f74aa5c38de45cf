//! Criterion benchmarks of the DRG hot path on a million generated cases of CHS-DRG 1.1:
//! grouping pre-parsed cases on one thread and on all cores, CSV → CSV end to end,
//! compiling the scheme, loading the compiled scheme, and the reference interpreter as
//! the baseline beside the optimised path.

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use drgdip::grouper::reference::Reference;
use drgdip::grouper::{Grouper, Scheme, Status};
use drgdip::io::{GroupJob, Options};
use rayon::prelude::*;

const CASES: u64 = 1_000_000;

fn benches(c: &mut Criterion) {
    let dir = common::scheme_dir();
    let scheme = Scheme::from_dir(&dir).unwrap();
    let grouper = Grouper::compile(&scheme).unwrap();
    let csv_bytes = common::csv_cases(&scheme, &grouper, CASES, 42);
    let (parsed, texts) = common::parse_cases(&grouper, &csv_bytes);
    // A fresh copy lays each case's buffers out one after the other, as a reading loop
    // that reuses one buffer would have them: the benchmark measures grouping, not the
    // allocator's scatter.
    let cases = parsed.clone();
    drop(parsed);
    let threads = rayon::current_num_threads();

    let mut g = c.benchmark_group("group");
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

    let mut g = c.benchmark_group("scheme");
    g.sample_size(10);
    g.bench_function("compile", |b| b.iter(|| Grouper::compile(&scheme).unwrap()));
    let bytes = grouper.to_bytes().unwrap();
    g.bench_function("load compiled", |b| {
        b.iter(|| Grouper::from_bytes(&bytes).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("baseline");
    g.sample_size(10);
    let sample = &texts[..20_000];
    g.throughput(Throughput::Elements(sample.len() as u64));
    let reference = Reference::new(&scheme);
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

criterion_group!(grouping, benches);
criterion_main!(grouping);
