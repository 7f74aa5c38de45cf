//! Corpora for the benchmarks: the national CHS-DRG 1.1 scheme from `../shared` when
//! present (the benchmark target), else the demo scheme (with a visible note), and the
//! CHS-DRG 3.0 workbook; the grouping benchmarks and the million-case agreement run that
//! both schemes share.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Instant;

use criterion::{Criterion, Throughput};
use drgdip::grouper::reference::TextCase;
use drgdip::grouper::{Case, CodeKind, Grouper, ResultInfo, Scheme, Status};
use drgdip::io::synth::{GEN_HEADER, GenConfig, Generator};
use drgdip::io::{GroupJob, Options};
use rayon::prelude::*;

/// The scheme folder to benchmark.
pub fn scheme_dir() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let national = root.join("../shared/schemes/chs-drg-1.1");
    if national.exists() {
        national
    } else {
        eprintln!("note: ../shared/schemes/chs-drg-1.1 not found; benchmarking the demo scheme");
        root.join("data/demo-scheme")
    }
}

/// `n` generated cases as CSV text (with header).
pub fn csv_cases(scheme: &Scheme, grouper: &Grouper, n: u64, seed: u64) -> Vec<u8> {
    let generator = Generator::new(
        scheme,
        grouper,
        GenConfig {
            seed,
            ..GenConfig::default()
        },
    );
    let mut out = Vec::with_capacity(n as usize * 160);
    out.extend_from_slice(GEN_HEADER.as_bytes());
    out.push(b'\n');
    generator
        .generate(n, |chunk| {
            out.extend_from_slice(chunk.as_bytes());
            Ok(())
        })
        .expect("in-memory generation");
    out
}

/// Parses generated CSV into interned cases (contiguous, as a grouping loop reads them)
/// and their text form (for the reference interpreter).
pub fn parse_cases(grouper: &Grouper, csv_bytes: &[u8]) -> (Vec<Case>, Vec<TextCase>) {
    let mut rdr = csv::Reader::from_reader(csv_bytes);
    let num = |s: &str| (!s.is_empty()).then(|| s.parse::<i64>().expect("number"));
    let codes = |s: &str| -> Vec<String> {
        s.split('|')
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect()
    };
    rdr.records()
        .map(|r| {
            let r = r.expect("generated csv");
            let text = TextCase {
                sex: num(&r[1]).map(|v| v as u8),
                age: num(&r[2]),
                age_days: num(&r[3]),
                weight: num(&r[4]),
                dept: r[5].to_string(),
                los: num(&r[6]),
                discharge_way: r[7].to_string(),
                dx: codes(&r[8]),
                px: codes(&r[9]),
            };
            let case = Case {
                sex: text.sex,
                age: text.age,
                age_days: text.age_days,
                weight: text.weight,
                los: text.los,
                dept: text.dept.clone(),
                discharge_way: text.discharge_way.clone(),
                dx: text
                    .dx
                    .iter()
                    .map(|c| grouper.lookup(c, CodeKind::Diagnosis, false).id)
                    .collect(),
                px: text
                    .px
                    .iter()
                    .map(|c| grouper.lookup(c, CodeKind::Procedure, false).id)
                    .collect(),
            };
            (case, text)
        })
        .unzip()
}

/// The CHS-DRG 3.0 workbook and its errata from `../shared`, or `None` (with a note).
pub fn workbook() -> Option<(PathBuf, PathBuf)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/schemes/chs-drg-3.0");
    let book = root.join("chs-drg-3.0-workbook.xlsx");
    if book.exists() {
        Some((book, root.join("errata.json")))
    } else {
        eprintln!("note: ../shared/schemes/chs-drg-3.0 not found; nothing to benchmark");
        None
    }
}

/// How many generated cases the grouping benchmarks read.
pub const CASES: u64 = 1_000_000;

/// What [`bench_scheme`] measures of one scheme.
pub struct Bench<'a> {
    /// Prefix of the benchmark groups (`""` for 1.1, `"workbook "` for 3.0).
    pub prefix: &'a str,
    /// The scheme as read.
    pub scheme: &'a Scheme,
    /// Its compiled grouper.
    pub grouper: &'a Grouper,
    /// Name of the compile benchmark and what it runs (reading the source included or not).
    pub compile: (&'a str, &'a dyn Fn() -> Grouper),
    /// The reference interpreter, the baseline.
    pub reference: &'a dyn Fn(&TextCase) -> ResultInfo,
}

/// The criterion benchmarks of a scheme on [`CASES`] generated cases: grouping
/// pre-parsed cases on one thread and on all cores, CSV → CSV on 1 and all threads,
/// compiling, loading the compiled artifact, and the reference interpreter on 20,000.
pub fn bench_scheme(c: &mut Criterion, b: Bench<'_>) {
    let grouper = b.grouper;
    let csv_bytes = csv_cases(b.scheme, grouper, CASES, 42);
    let (parsed, texts) = parse_cases(grouper, &csv_bytes);
    // A fresh copy lays each case's buffers out one after the other, as a reading loop
    // that reuses one buffer would have them: the benchmark measures grouping, not the
    // allocator's scatter.
    let cases = parsed.clone();
    drop(parsed);
    let threads = rayon::current_num_threads();

    let mut g = c.benchmark_group(format!("{}group", b.prefix));
    g.sample_size(10);
    g.throughput(Throughput::Elements(CASES));
    g.bench_function("pre-parsed, 1 thread", |bench| {
        let mut scratch = grouper.scratch();
        bench.iter(|| {
            cases
                .iter()
                .filter(|case| grouper.group(case, &mut scratch).status == Status::Grouped)
                .count()
        })
    });
    g.bench_function(format!("pre-parsed, {threads} threads"), |bench| {
        bench.iter(|| {
            cases
                .par_iter()
                .map_init(
                    || grouper.scratch(),
                    |s, case| grouper.group(case, s).status as u64,
                )
                .sum::<u64>()
        })
    });
    let job = GroupJob::new(grouper, false);
    for t in [1, threads] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .unwrap();
        let options = Options {
            batch_blocks: 4 * t.max(2),
            ..Options::default()
        };
        g.bench_function(format!("csv to csv, {t} threads"), |bench| {
            bench.iter(|| {
                pool.install(|| {
                    drgdip::io::run(&job, &csv_bytes[..], std::io::sink(), &options, &|_, _| {})
                })
                .unwrap()
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group(format!("{}scheme", b.prefix));
    g.sample_size(10);
    let (name, compile) = b.compile;
    g.bench_function(name, |bench| bench.iter(compile));
    let bytes = grouper.to_bytes().unwrap();
    g.bench_function("load compiled", |bench| {
        bench.iter(|| Grouper::from_bytes(&bytes).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group(format!("{}baseline", b.prefix));
    g.sample_size(10);
    let sample = &texts[..20_000];
    g.throughput(Throughput::Elements(sample.len() as u64));
    g.bench_function("reference interpreter, 1 thread", |bench| {
        bench.iter(|| {
            sample
                .iter()
                .filter(|t| (b.reference)(t).drg != "0000")
                .count()
        })
    });
    g.finish();
}

/// Generated cases (`AGREEMENT_CASES`, default a million, from `seed`) through the
/// compiled grouper and a reference interpreter: they must agree on every one.
pub fn agreement(
    scheme: &Scheme,
    grouper: &Grouper,
    seed: u64,
    interpreter: &str,
    reference: &(dyn Fn(&TextCase) -> ResultInfo + Sync),
) {
    let n: u64 = std::env::var("AGREEMENT_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let (cases, texts) = parse_cases(grouper, &csv_cases(scheme, grouper, n, seed));
    let started = Instant::now();
    let differences: Vec<usize> = cases
        .par_iter()
        .zip(&texts)
        .enumerate()
        .map_init(
            || grouper.scratch(),
            |scratch, (i, (case, text))| {
                let fast = grouper.group(case, scratch);
                (grouper.result(&fast) != &reference(text)).then_some(i)
            },
        )
        .flatten()
        .collect();
    println!(
        "{}: {} cases, {} differences between the compiled grouper and the {interpreter} ({:.1} s)",
        grouper.info().label(),
        cases.len(),
        differences.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        differences.is_empty(),
        "first differing cases: {:?}",
        &differences[..differences.len().min(10)]
    );
}
