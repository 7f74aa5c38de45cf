//! NHSA's national DIP 3.0 catalogue (`../shared/schemes/dip-3.0`) on a million cases
//! generated from the codes of CHS-DRG 1.1 (`benches/common.rs`): grouping CSV → CSV
//! with the compiled national catalogue and with a catalogue calibrated from it, on all
//! cores; reading and compiling the workbook; calibrating it on a million-case,
//! three-year history (reading the history and the calibration, and the calibration
//! alone).
//!
//! Targets (issue 8): CSV → CSV ≥ 1 M cases/s on 2 cores, workbook read + compile ≤ 2 s,
//! calibration from a million-case history ≤ 2 s. `DIP_BENCH_CASES` overrides the number
//! of cases (default 1,000,000).

mod common;

use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use drgdip::grouper::dip::calibrate::{CalibrateConfig, calibrate};
use drgdip::grouper::dip::{Catalog, NationalWorkbook};
use drgdip::grouper::{Grouper, Scheme};
use drgdip::io::history::read_dip_history;
use drgdip::io::synth::{GEN_HEADER, GenConfig, Generator, attribute_table};
use drgdip::io::{DipGroupJob, Options};

fn cases() -> u64 {
    std::env::var("DIP_BENCH_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

fn workbook() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/schemes/dip-3.0/dip-3.0-catalogue.xlsx");
    if p.exists() {
        Some(p)
    } else {
        eprintln!("SKIPPED: {} not found", p.display());
        None
    }
}

/// A three-year history of `n` cases (1:2:7 over 2023–2025) as CSV with a header.
fn history(scheme: &Scheme, g: &Grouper, n: u64) -> Vec<u8> {
    let mut out = GEN_HEADER.as_bytes().to_vec();
    out.push(b'\n');
    let sizes = [n / 10, n * 2 / 10, n - n / 10 - n * 2 / 10];
    for ((seed, year), size) in [(1, 2023), (2, 2024), (3, 2025)].into_iter().zip(sizes) {
        let generator = Generator::new(
            scheme,
            g,
            GenConfig {
                seed,
                year,
                ..GenConfig::default()
            },
        );
        generator
            .generate(size, |t| {
                out.extend_from_slice(t.as_bytes());
                Ok(())
            })
            .expect("in memory");
    }
    out
}

fn benches(cr: &mut Criterion) {
    let Some(xlsx) = workbook() else { return };
    let n = cases();
    let dir = common::scheme_dir();
    let scheme = Scheme::from_dir(&dir).expect("scheme reads");
    let g = Grouper::compile(&scheme).expect("compiles");
    let text = common::csv_cases(&scheme, &g, n, 42);
    let wb = NationalWorkbook::read(&xlsx).expect("workbook");
    let national = Catalog::compile(&wb.to_source()).expect("compiles");
    let threads = rayon::current_num_threads();
    let options = Options {
        batch_blocks: 4 * threads.max(2),
        ..Options::default()
    };

    let hist = history(&scheme, &g, n);
    let (h, _) = read_dip_history(&hist[..], std::io::sink(), &options).expect("reads");
    let source = wb.to_source();
    let attrs = attribute_table(&scheme);
    let config = CalibrateConfig::default();
    let local = calibrate(&source, Some(&attrs), &h, &config).expect("calibrates");
    let local = Catalog::compile(&local.source).expect("compiles");

    let mut grp = cr.benchmark_group("dip national group");
    grp.sample_size(10);
    grp.measurement_time(Duration::from_secs(10));
    grp.throughput(Throughput::Elements(n));
    for (what, catalog) in [("national", &national), ("calibrated", &local)] {
        let job = DipGroupJob::new(catalog);
        grp.bench_function(format!("csv to csv, {what}, {threads} threads"), |b| {
            b.iter(|| {
                drgdip::io::run(&job, &text[..], std::io::sink(), &options, &|_, _| {})
                    .expect("runs")
            })
        });
    }
    grp.finish();

    let mut grp = cr.benchmark_group("dip national catalogue");
    grp.sample_size(10);
    grp.measurement_time(Duration::from_secs(10));
    grp.bench_function("read workbook + compile", |b| {
        b.iter(|| {
            let wb = NationalWorkbook::read(&xlsx).expect("workbook");
            Catalog::compile(&wb.to_source()).expect("compiles")
        })
    });
    let bytes = national.to_bytes().expect("encodes");
    grp.bench_function("load compiled", |b| {
        b.iter(|| Catalog::from_bytes(&bytes).expect("loads"))
    });
    grp.finish();

    let mut grp = cr.benchmark_group("dip national calibrate");
    grp.sample_size(10);
    grp.measurement_time(Duration::from_secs(10));
    grp.throughput(Throughput::Elements(n));
    grp.bench_function("read history + calibrate", |b| {
        b.iter(|| {
            let (h, _) = read_dip_history(&hist[..], std::io::sink(), &options).expect("reads");
            calibrate(&source, Some(&attrs), &h, &config).expect("calibrates")
        })
    });
    grp.bench_function("calibrate", |b| {
        b.iter(|| calibrate(&source, Some(&attrs), &h, &config).expect("calibrates"))
    });
    grp.finish();
}

criterion_group!(dip_national, benches);
criterion_main!(dip_national);
