//! The library's CSV pipelines on a million generated grouped rows (the demo policy):
//! `price` (CSV → priced CSV, spill in a temporary file) and `settle_csv` (priced CSV
//! → settlement), each alone and chained, in memory, on all cores.
//!
//! `cargo bench -p drgdip-pipeline --bench pipeline -- --measurement-time 10`

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use drgdip_payment::Policy;
use drgdip_pipeline::settle::{SettleConfig, settle_csv};
use drgdip_pipeline::{PriceConfig, SpillTo, no_progress, price};

const N: usize = 1_000_000;

/// `n` grouped DRG rows over the demo policy's groups and hospitals (about 110 bytes
/// a row): levels, both insurance types, 300,000 persons, day surgery and referrals.
fn grouped(n: usize) -> Vec<u8> {
    let groups = [
        "BM11", "BM15", "BR21", "BR25", "EB11", "EB19", "AH11", "ES35", "FT35", "GW15",
    ];
    let mut s = String::with_capacity(n * 120);
    s.push_str("case_id,status,drg,hospital_id,hospital_level,insurance_type,person_id,admit_date,discharge_date,total_cost,covered_cost,day_surgery,referral,los\n");
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let month = 1 + x / 97 % 12;
        let day = 1 + x / 13 % 20;
        let cost_fen = 100_000 + x / 31 % 8_000_000;
        let covered = cost_fen * 9 / 10;
        s.push_str(&format!(
            "C{i:07},grouped,{},H{:03},{},{},P{:06},2025-{month:02}-{day:02},2025-{month:02}-{:02},{}.{:02},{}.{:02},{},{},{}\n",
            groups[(x % 10) as usize],
            x / 7 % 60,
            x / 7 % 4,
            if x.is_multiple_of(3) { "resident" } else { "employee" },
            x / 11 % 300_000,
            day + 5,
            cost_fen / 100,
            cost_fen % 100,
            covered / 100,
            covered % 100,
            u8::from(x.is_multiple_of(17)),
            ["", "", "up", "down"][(x / 5 % 4) as usize],
            5,
        ));
    }
    s.into_bytes()
}

fn run_price(policy: &Policy, input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() * 2);
    let config = PriceConfig {
        threads: None,
        spill: SpillTo::TempFile(std::env::temp_dir()),
    };
    price(policy, input, &mut out, &config, &no_progress).unwrap();
    out
}

fn bench(c: &mut Criterion) {
    let policy = Policy::load("../../data/demo-policy.toml".as_ref()).unwrap();
    let input = grouped(N);
    let priced = run_price(&policy, &input);
    let settle_config = SettleConfig { threads: None };
    let mut g = c.benchmark_group("pipeline");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function(BenchmarkId::new("price", N), |b| {
        b.iter(|| black_box(run_price(&policy, &input)))
    });
    g.bench_function(BenchmarkId::new("settle", N), |b| {
        b.iter(|| {
            black_box(settle_csv(&policy, &priced[..], &settle_config, &no_progress).unwrap())
        })
    });
    g.bench_function(BenchmarkId::new("price+settle", N), |b| {
        b.iter(|| {
            let priced = run_price(&policy, &input);
            black_box(settle_csv(&policy, &priced[..], &settle_config, &no_progress).unwrap())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
