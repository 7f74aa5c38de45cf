//! A load test on loopback, bounded in time: 32 concurrent clients for 30 s
//! (`DRGDIP_LOAD_SECS` to change it) mixing single cases, small `cases` requests and
//! small batch files; every answer must be 200 and identical to what the library (the
//! CLI's `group` / `dip group`) writes for the same cases. Part of `cargo test`, so it
//! runs in `.ci/run` (30 s of its budget).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

#[test]
fn thirty_two_clients_for_thirty_seconds() {
    let secs: u64 = std::env::var("DRGDIP_LOAD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let mut config = demo_config();
    config.limits.concurrent_batches = 64;
    config.limits.kept_batches = 1024;
    let server = start(config);
    let addr = server.addr();
    let file = generated_cases(2000, 21);
    let rows = csv_objects(&file);
    let cases: Arc<Vec<Value>> = Arc::new(rows.iter().map(row_to_case).collect());
    let drg: Arc<Vec<Value>> = Arc::new(
        csv_objects(&library_grouped(&file, false))
            .into_iter()
            .map(Value::Object)
            .collect(),
    );
    let dip: Arc<Vec<Value>> = Arc::new(
        csv_objects(&library_grouped(&file, true))
            .into_iter()
            .map(Value::Object)
            .collect(),
    );
    // Small batch files (50 rows each) with the library's output for each.
    let lines: Vec<&[u8]> = file.split_inclusive(|&b| b == b'\n').collect();
    let batches: Arc<Vec<(Vec<u8>, Vec<u8>)>> = Arc::new(
        (0..8)
            .map(|k| {
                let mut f = lines[0].to_vec();
                for l in &lines[1 + k * 50..1 + (k + 1) * 50] {
                    f.extend_from_slice(l);
                }
                let want = library_grouped(&f, false);
                (f, want)
            })
            .collect(),
    );
    let deadline = Instant::now() + Duration::from_secs(secs);
    let threads: Vec<_> = (0..32)
        .map(|t| {
            let (cases, drg, dip, batches) =
                (cases.clone(), drg.clone(), dip.clone(), batches.clone());
            std::thread::spawn(move || {
                let mut c = Client::new(addr);
                let mut latencies = Vec::new();
                let mut i = t * 61;
                let mut n = 0u64;
                while Instant::now() < deadline {
                    n += 1;
                    if n.is_multiple_of(10) {
                        // A small `cases` request.
                        let k = i % (cases.len() - 20);
                        let body = json!({"cases": cases[k..k + 20].to_vec()});
                        let r = c.post_json("/v1/group", &body);
                        assert_eq!(r.status, 200, "{}", r.text());
                        let v = r.json();
                        for (j, res) in v["results"].as_array().unwrap().iter().enumerate() {
                            assert_eq!(res["drg"], drg[k + j], "case {}", k + j);
                        }
                    } else if n.is_multiple_of(97) {
                        // A small batch file.
                        let (f, want) = &batches[i % batches.len()];
                        let r = c.post("/v1/batch", "text/csv", f);
                        assert_eq!(r.status, 202, "{}", r.text());
                        let id = r.json()["id"].as_u64().unwrap();
                        loop {
                            let s = c.get(&format!("/v1/batch/{id}")).json();
                            if s["state"] == "done" {
                                break;
                            }
                            assert_ne!(s["state"], "failed", "{s}");
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        let out = c.get(&format!("/v1/batch/{id}/result"));
                        assert!(out.body == *want, "batch {id}: {}", out.text());
                    } else {
                        let k = i % cases.len();
                        let started = Instant::now();
                        let r = c.post_json("/v1/group", &json!({"case": cases[k]}));
                        latencies.push(started.elapsed());
                        assert_eq!(r.status, 200, "{}", r.text());
                        let v = r.json();
                        assert_eq!(v["drg"], drg[k], "case {k}");
                        let mut want = dip[k].clone();
                        want["message"] = v["dip"]["message"].clone();
                        assert_eq!(v["dip"], want, "case {k}");
                    }
                    i += 1;
                }
                (n, latencies)
            })
        })
        .collect();
    let mut total = 0;
    let mut all = Vec::new();
    for t in threads {
        let (n, l) = t.join().expect("a client failed");
        total += n;
        all.extend(l);
    }
    all.sort();
    let p = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
    eprintln!(
        "load: 32 clients, {secs} s: {total} requests ({:.0}/s), single-case p50 {:?}, p99 {:?} \
         (clients and server share the machine)",
        total as f64 / secs as f64,
        p(0.5),
        p(0.99)
    );
    assert!(total > 32 * secs, "only {total} requests in {secs} s");
}

/// Figures for `docs/performance.md` (not a check: run it by name under the build
/// lock, `--ignored --nocapture`): single-case explain latency with one client,
/// single-case group requests/s with 8 clients, and a 1M-row batch through HTTP.
#[test]
#[ignore]
fn measure() {
    let server = start(demo_config());
    let addr = server.addr();
    let file = generated_cases(2000, 21);
    let cases: Arc<Vec<Value>> = Arc::new(csv_objects(&file).iter().map(row_to_case).collect());
    let mut c = Client::new(addr);
    let mut lat = Vec::new();
    for i in 0..20_000 {
        let body =
            serde_json::to_vec(&json!({"method": "drg", "case": cases[i % cases.len()]})).unwrap();
        let t = Instant::now();
        let r = c.post("/v1/explain", "application/json", &body);
        lat.push(t.elapsed());
        assert_eq!(r.status, 200);
    }
    lat.sort();
    eprintln!(
        "explain (DRG), 1 client, 20000 requests: p50 {:?} p99 {:?} max {:?}",
        lat[lat.len() / 2],
        lat[lat.len() * 99 / 100],
        lat[lat.len() - 1]
    );
    let secs = 10;
    let deadline = Instant::now() + Duration::from_secs(secs);
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let cases = cases.clone();
            std::thread::spawn(move || {
                let mut c = Client::new(addr);
                let bodies: Vec<Vec<u8>> = cases
                    .iter()
                    .map(|k| serde_json::to_vec(&json!({"method": "drg", "case": k})).unwrap())
                    .collect();
                let mut n = 0usize;
                while Instant::now() < deadline {
                    let r = c.post(
                        "/v1/group",
                        "application/json",
                        &bodies[(n + t * 97) % bodies.len()],
                    );
                    assert_eq!(r.status, 200);
                    n += 1;
                }
                n
            })
        })
        .collect();
    let total: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    eprintln!(
        "group (DRG), 8 clients, {secs} s: {total} requests, {:.0}/s",
        total as f64 / secs as f64
    );
    if let Ok(path) = std::env::var("DRGDIP_MEASURE_FILE") {
        let body = std::fs::read(&path).unwrap();
        let t = Instant::now();
        let r = c.post("/v1/batch", "text/csv", &body);
        let id = r.json()["id"].as_u64().unwrap();
        loop {
            if c.get(&format!("/v1/batch/{id}")).json()["state"] == "done" {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let out = c.get(&format!("/v1/batch/{id}/result"));
        eprintln!(
            "batch {path} through HTTP (upload, group, download {} bytes): {:.2} s",
            out.body.len(),
            t.elapsed().as_secs_f64()
        );
        // Streamed: the result comes back while the upload goes on.
        let t = Instant::now();
        let (r, _) = duplex(addr, "/v1/batch?stream=1", body, false);
        let r = r.unwrap();
        assert_eq!(r.status, 200);
        assert!(r.body == out.body, "streamed result differs");
        eprintln!(
            "batch {path} streamed through HTTP (?stream=1, {} bytes back): {:.2} s",
            r.body.len(),
            t.elapsed().as_secs_f64()
        );
    }
}
