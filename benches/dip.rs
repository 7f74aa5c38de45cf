//! DIP benchmarks on the demo scheme's generated cases and the demo catalogue:
//! grouping a million pre-parsed cases on one thread, CSV → CSV on all cores, and
//! building a catalogue from a million-case, three-year history (read + build).
//!
//! `DIP_BENCH_CASES` overrides the number of cases (default 1,000,000).

use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use drgdip::grouper::dip::build::{self, BuildConfig, Threshold};
use drgdip::grouper::dip::{Catalog, CatalogSource, DipCase};
use drgdip::grouper::{Grouper, Scheme};
use drgdip::io::history::read_dip_history;
use drgdip::io::synth::{GEN_HEADER, GenConfig, Generator};
use drgdip::io::{DipGroupJob, Options};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn cases() -> u64 {
    std::env::var("DIP_BENCH_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// `n` generated cases of `year` as CSV (header included when `header`).
fn generate(scheme: &Scheme, g: &Grouper, n: u64, seed: u64, year: i32, header: bool) -> Vec<u8> {
    let generator = Generator::new(
        scheme,
        g,
        GenConfig {
            seed,
            year,
            ..GenConfig::default()
        },
    );
    let mut out = Vec::with_capacity(n as usize * 170);
    if header {
        out.extend_from_slice(GEN_HEADER.as_bytes());
        out.push(b'\n');
    }
    generator
        .generate(n, |t| {
            out.extend_from_slice(t.as_bytes());
            Ok(())
        })
        .expect("in memory");
    out
}

fn parse(c: &Catalog, csv_bytes: &[u8]) -> Vec<DipCase> {
    let mut rdr = csv::Reader::from_reader(csv_bytes);
    let num = |s: &str| (!s.is_empty()).then(|| s.parse::<i64>().expect("number"));
    rdr.records()
        .map(|r| {
            let r = r.expect("generated csv");
            let mut k = DipCase {
                age: num(&r[2]),
                age_days: num(&r[3]),
                weight: num(&r[4]),
                los: num(&r[6]),
                discharge_way: r[7].parse().ok(),
                icu_days: num(&r[21]),
                vent_hours: num(&r[22]),
                ..DipCase::default()
            };
            k.dx.extend(
                r[8].split('|')
                    .filter(|x| !x.is_empty())
                    .map(|x| c.dx(x).id),
            );
            k.px.extend(
                r[9].split('|')
                    .filter(|x| !x.is_empty())
                    .map(|x| c.px(x).id),
            );
            k
        })
        .collect()
}

fn benches(cr: &mut Criterion) {
    let n = cases();
    let scheme = Scheme::from_dir(root().join("data/demo-scheme")).expect("demo scheme");
    let g = Grouper::compile(&scheme).expect("compiles");
    let tables = CatalogSource::from_dir(root().join("data/demo-catalog")).expect("demo catalogue");
    let catalog = Catalog::compile(&tables).expect("compiles");
    let text = generate(&scheme, &g, n, 7, 2025, true);
    let parsed = parse(&catalog, &text);

    let mut grp = cr.benchmark_group("dip");
    grp.sample_size(10);
    grp.measurement_time(Duration::from_secs(10));
    grp.throughput(Throughput::Elements(n));
    grp.bench_function("group_preparsed_1_thread", |b| {
        let mut s = catalog.scratch();
        b.iter(|| {
            let mut grouped = 0u64;
            for k in &parsed {
                grouped += u64::from(catalog.group(k, &mut s).type_id.is_some());
            }
            grouped
        })
    });
    grp.bench_function("csv_to_csv_all_cores", |b| {
        let job = DipGroupJob::new(&catalog);
        b.iter(|| {
            drgdip::io::run(
                &job,
                &text[..],
                std::io::sink(),
                &Options::default(),
                &|_, _| {},
            )
            .expect("runs")
        })
    });
    // Three years of history, n cases in all.
    let mut history = generate(&scheme, &g, n / 10, 1, 2023, true);
    history.extend(generate(&scheme, &g, n * 2 / 10, 2, 2024, false));
    history.extend(generate(
        &scheme,
        &g,
        n - n / 10 - n * 2 / 10,
        3,
        2025,
        false,
    ));
    let config = BuildConfig {
        threshold: Threshold::Cases(15),
        ..BuildConfig::default()
    };
    grp.bench_function("build_from_history_read_and_build", |b| {
        b.iter(|| {
            let (h, _) = read_dip_history(&history[..], std::io::sink(), &Options::default())
                .expect("reads");
            build::build(&h, Some(&tables), &config).expect("builds")
        })
    });
    let (h, _) =
        read_dip_history(&history[..], std::io::sink(), &Options::default()).expect("reads");
    grp.bench_function("build_from_history_build_only", |b| {
        b.iter(|| build::build(&h, Some(&tables), &config).expect("builds"))
    });
    grp.finish();
}

criterion_group!(dip, benches);
criterion_main!(dip);
