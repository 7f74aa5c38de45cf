//! Batches streamed in and out: the upload is grouped as it arrives and the result
//! spooled or streamed back; results equal the library's for CSV and `.xlsx` inputs in
//! both modes; the limits stop an upload while it is being sent; a client that goes
//! away leaves no job, thread or spool file behind.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// A metric's value from `/metrics`.
fn metric(c: &mut Client, name: &str) -> u64 {
    let text = c.get("/metrics").text();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no metric {name}"))
}

/// Waits until no work runs on the server's blocking threads.
fn wait_idle(c: &mut Client) {
    let started = Instant::now();
    while metric(c, "drgdip_work_running") != 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "work still running"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn spool_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("drgdip-serve-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn files_in(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

#[test]
fn streamed_and_spooled_results_equal_the_library() {
    let spool = spool_dir("equal");
    let mut config = demo_config();
    config.spool_dir = Some(spool.clone());
    config.limits.kept_batches = 2;
    let server = start(config);
    let addr = server.addr();
    let mut c = Client::new(addr);
    // 30,000 rows (about 4 MB): many blocks, so grouping runs while the upload goes on.
    let file = generated_cases(30_000, 5);
    let drg = library_grouped(&file, false);
    let dip = library_grouped(&file, true);
    let priced = library_priced(&file);
    for (query, want) in [
        ("method=drg", &drg),
        ("method=dip", &dip),
        ("output=priced", &priced),
    ] {
        for chunked in [false, true] {
            // Streamed: the response body is the result.
            let (r, _) = duplex(
                addr,
                &format!("/v1/batch?stream=1&{query}"),
                file.clone(),
                chunked,
            );
            let r = r.unwrap();
            assert_eq!(r.status, 200, "{query}: {}", r.text());
            assert!(
                r.body == *want,
                "{query} streamed (chunked upload {chunked})"
            );
            let id: u64 = r.header("x-batch-id").unwrap().parse().unwrap();
            let s = wait_done(&mut c, Duration::from_secs(120), id);
            assert_eq!(s["state"], "done", "{s}");
            assert_eq!(s["rows"], 30_000);
            assert_eq!(s["streamed"], true);
            assert_eq!(s["bytes_read"], file.len() as u64);
            // Nothing is kept of a streamed result.
            assert_eq!(c.get(&format!("/v1/batch/{id}/result")).status, 410);
        }
        // Spooled: 202, then the result from the spool file.
        let (r, _) = duplex(addr, &format!("/v1/batch?{query}"), file.clone(), true);
        let r = r.unwrap();
        assert_eq!(r.status, 202, "{}", r.text());
        let id = r.json()["id"].as_u64().unwrap();
        let s = wait_done(&mut c, Duration::from_secs(120), id);
        assert_eq!(s["state"], "done", "{s}");
        assert_eq!(s["bytes_total"], file.len() as u64);
        let out = c.get(&format!("/v1/batch/{id}/result"));
        assert!(out.body == *want, "{query} spooled");
        assert_eq!(
            out.header("content-length"),
            Some(want.len().to_string().as_str())
        );
    }
    // An .xlsx upload (spooled, then read): what the library groups from its sheet.
    let book = spool_dir("equal-book").join("cases.xlsx");
    let small = generated_cases(2_000, 6);
    drgdip_io::excel::write_csv_as_workbook(&small[..], &book, "cases").unwrap();
    let bytes = std::fs::read(&book).unwrap();
    let (sheet, _) = drgdip_io::excel::read_sheet(&book, None).unwrap();
    let want = library_grouped(&sheet, false);
    let (r, _) = duplex(addr, "/v1/batch?stream=1", bytes.clone(), false);
    let r = r.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.body == want, "xlsx streamed");
    let r = c.post("/v1/batch", "application/octet-stream", &bytes);
    assert_eq!(r.status, 202, "{}", r.text());
    let id = r.json()["id"].as_u64().unwrap();
    assert_eq!(
        wait_done(&mut c, Duration::from_secs(120), id)["state"],
        "done"
    );
    assert!(
        c.get(&format!("/v1/batch/{id}/result")).body == want,
        "xlsx spooled"
    );
    // An .xlsx result streamed: a workbook holding the library's rows.
    let (r, _) = duplex(addr, "/v1/batch?stream=1&format=xlsx", small.clone(), false);
    let r = r.unwrap();
    assert!(r.body.starts_with(b"PK\x03\x04"));
    let back = spool_dir("equal-back").join("out.xlsx");
    std::fs::write(&back, &r.body).unwrap();
    let (got, _) = drgdip_io::excel::read_sheet(&back, None).unwrap();
    assert_eq!(
        csv_objects(&got).len(),
        csv_objects(&library_grouped(&small, false)).len()
    );
    // Retention: of the finished jobs two are kept, so at most their spool files
    // (one CSV each) are left; the rest went with their jobs.
    wait_idle(&mut c);
    assert!(files_in(&spool) <= 2, "{} spool files", files_in(&spool));
    drop(server);
    let _ = std::fs::remove_dir_all(&spool);
}

#[test]
fn limits_stop_an_upload_while_it_is_sent() {
    let mut config = demo_config();
    config.limits.batch_rows = 1000;
    let server = start(config);
    let addr = server.addr();
    let mut c = Client::new(addr);
    // 200,000 rows (about 28 MB): far more than the socket buffers hold, so an
    // answer before the writer is done was given while the upload was going on.
    let big = generated_cases(200_000, 3);
    for (query, chunked, what) in [
        ("", true, "rows"),
        ("?stream=1", true, "rows"),
        ("", false, "rows"),
    ] {
        let (r, sent) = duplex(addr, &format!("/v1/batch{query}"), big.clone(), chunked);
        let r = r.unwrap_or_else(|e| panic!("{query} chunked={chunked}: {e}"));
        assert_eq!(r.status, 413, "{query}: {}", r.text());
        assert!(!sent, "{query}: answered only after the whole upload");
        assert!(
            r.json()["error"].as_str().unwrap().contains("1000 rows"),
            "{what}: {}",
            r.text()
        );
    }
    // The byte limit, on an upload without a length: 413 once 2 MiB have come.
    let mut config = demo_config();
    config.limits.batch_body = 2 << 20;
    let server2 = start(config);
    let (r, sent) = duplex(server2.addr(), "/v1/batch", big.clone(), true);
    let r = r.unwrap();
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(!sent);
    assert!(r.json()["error"].as_str().unwrap().contains("limit"));
    // With a declared length over the limit, before any byte is read.
    let (r, _) = duplex(server2.addr(), "/v1/batch", big.clone(), false);
    assert_eq!(r.unwrap().status, 413);
    // Nothing is left running or kept.
    let mut c2 = Client::new(server2.addr());
    wait_idle(&mut c);
    wait_idle(&mut c2);
    assert!(server.state().0.jobs.is_empty());
    assert!(server2.state().0.jobs.is_empty());
    // The exact limit passes.
    let r = c.post("/v1/batch", "text/csv", &generated_cases(1000, 1));
    assert_eq!(r.status, 202, "{}", r.text());
}

#[test]
fn a_client_gone_leaves_no_job_nor_thread() {
    use std::io::{Read, Write};
    let spool = spool_dir("gone");
    let mut config = demo_config();
    config.limits.concurrent_batches = 1;
    config.spool_dir = Some(spool.clone());
    let server = start(config);
    let addr = server.addr();
    let mut c = Client::new(addr);
    let file = generated_cases(50_000, 4);
    for stream in [false, true] {
        // Half the upload, then the connection closes.
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        let q = if stream { "?stream=1" } else { "" };
        write!(
            s,
            "POST /v1/batch{q} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            file.len()
        )
        .unwrap();
        s.write_all(&file[..file.len() / 2]).unwrap();
        let started = Instant::now();
        while metric(&mut c, "drgdip_work_running") == 0 {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no job started"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(s);
        wait_idle(&mut c);
        // A job whose id was never given is forgotten; a streamed one whose id went
        // out with the first bytes is kept, failed.
        match server.state().0.jobs.get(if stream { 2 } else { 1 }) {
            None => {}
            Some(job) => {
                assert!(stream, "the job of an interrupted upload is kept");
                let s = job.status(None);
                let why = s.error.unwrap();
                assert!(
                    why.contains("interrupted") || why.contains("went away"),
                    "{why}"
                );
            }
        }
        assert_eq!(files_in(&spool), 0, "stream={stream}: spool files left");
    }
    // A streamed batch whose client stops reading the result: the job is cancelled.
    let big = generated_cases(200_000, 8);
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = write!(
            w,
            "POST /v1/batch?stream=1 HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            big.len()
        );
        let _ = w.write_all(&big);
    });
    let mut some = vec![0u8; 64 << 10];
    s.read_exact(&mut some).unwrap();
    assert!(some.starts_with(b"HTTP/1.1 200"));
    let cancelled = metric(&mut c, "drgdip_work_cancelled_total");
    drop(s);
    let _ = writer.join();
    wait_idle(&mut c);
    assert_eq!(metric(&mut c, "drgdip_work_cancelled_total"), cancelled + 1);
    // The permit came back: another batch runs.
    let r = c.post("/v1/batch", "text/csv", &generated_cases(10, 1));
    assert_eq!(r.status, 202, "{}", r.text());
    drop(server);
    let _ = std::fs::remove_dir_all(&spool);
}
