//! `drgdip serve` on loopback: one case grouped and explained per request (one
//! keep-alive client), and single-case requests from 8 clients at once (the time per
//! request of the whole server: 1 / requests per second). The clients share the
//! machine's cores with the server. Figures: `docs/performance.md`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;

fn bodies(method: &str) -> Vec<Vec<u8>> {
    let file = generated_cases(2000, 21);
    csv_objects(&file)
        .iter()
        .map(|row| {
            serde_json::to_vec(&json!({"method": method, "case": row_to_case(row)})).unwrap()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let server = start(demo_config());
    let addr = server.addr();
    let drg = Arc::new(bodies("drg"));
    let mut g = c.benchmark_group("serve");
    g.throughput(Throughput::Elements(1));
    let mut client = Client::new(addr);
    let mut i = 0usize;
    g.bench_function("explain one case (DRG), 1 client", |b| {
        b.iter(|| {
            i += 1;
            let r = client.post("/v1/explain", "application/json", &drg[i % drg.len()]);
            assert_eq!(r.status, 200);
        })
    });
    g.bench_function("group one case (DRG), 1 client", |b| {
        b.iter(|| {
            i += 1;
            let r = client.post("/v1/group", "application/json", &drg[i % drg.len()]);
            assert_eq!(r.status, 200);
        })
    });
    g.bench_function("group one case (DRG), 8 clients", |b| {
        b.iter_custom(|iters| {
            let per = iters.div_ceil(8);
            let started = Instant::now();
            let threads: Vec<_> = (0..8)
                .map(|t| {
                    let drg = drg.clone();
                    std::thread::spawn(move || {
                        let mut c = Client::new(addr);
                        for k in 0..per as usize {
                            let r = c.post(
                                "/v1/group",
                                "application/json",
                                &drg[(k + t * 251) % drg.len()],
                            );
                            assert_eq!(r.status, 200);
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            started.elapsed().mul_f64(iters as f64 / (per * 8) as f64)
        })
    });
    g.finish();
    drop(server);
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(10));
    targets = bench
}
criterion_main!(benches);
