//! What the server tests share: a server on a loopback port with the demo data, and a
//! small blocking HTTP/1.1 client (keep-alive, Content-Length bodies).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use drgdip_serve::{Config, Running, Sources};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A config over the demo scheme, catalogue and policy, on a free loopback port.
pub fn demo_config() -> Config {
    let r = root();
    Config {
        sources: Sources {
            schemes: vec![r.join("data/demo-scheme")],
            catalog: Some(r.join("data/demo-catalog")),
            policy: Some(r.join("data/demo-policy.toml")),
        },
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        workers: 2,
        ..Config::default()
    }
}

/// [`demo_config`] with small limits: a 4 KiB JSON body, 3 `cases`, `batch_rows` rows
/// per batch, one batch at a time.
pub fn small_limits(batch_rows: u64) -> Config {
    let mut config = demo_config();
    config.limits.json_body = 4096;
    config.limits.many_cases = 3;
    config.limits.batch_rows = batch_rows;
    config.limits.concurrent_batches = 1;
    config
}

/// A pneumonia case with MCCs and everything pricing needs.
pub fn pneumonia() -> serde_json::Value {
    serde_json::json!({
        "case_id": "c1", "sex": 1, "age": 50, "los": 6,
        "dx": ["J18.900", "J96.000", "R57.000"],
        "total_cost": "12000.00", "hospital_id": "H001", "hospital_level": "3",
        "insurance_type": "employee", "admit_date": "2025-03-01", "discharge_date": "2025-03-07"
    })
}

/// Starts a server.
pub fn start(config: Config) -> Running {
    drgdip_serve::spawn(config).expect("the server starts")
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body[..self.body.len().min(500)])
            )
        })
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A keep-alive connection to one server.
pub struct Client {
    addr: SocketAddr,
    conn: Option<BufReader<TcpStream>>,
    /// Sent as `Authorization: Bearer …` when set.
    pub token: Option<String>,
}

impl Client {
    pub fn new(addr: SocketAddr) -> Client {
        Client {
            addr,
            conn: None,
            token: None,
        }
    }

    pub fn get(&mut self, path: &str) -> Resp {
        self.send("GET", path, "", b"")
    }

    pub fn post_json(&mut self, path: &str, body: &serde_json::Value) -> Resp {
        self.send(
            "POST",
            path,
            "application/json",
            serde_json::to_vec(body).unwrap().as_slice(),
        )
    }

    pub fn post(&mut self, path: &str, kind: &str, body: &[u8]) -> Resp {
        self.send("POST", path, kind, body)
    }

    /// Sends a request, reconnecting once when a kept-alive connection was closed.
    pub fn send(&mut self, method: &str, path: &str, kind: &str, body: &[u8]) -> Resp {
        for attempt in 0..2 {
            match self.try_send(method, path, kind, body) {
                Ok(r) => return r,
                Err(e) => {
                    self.conn = None;
                    if attempt == 1 {
                        panic!("{method} {path}: {e}");
                    }
                }
            }
        }
        unreachable!()
    }

    fn try_send(
        &mut self,
        method: &str,
        path: &str,
        kind: &str,
        body: &[u8],
    ) -> std::io::Result<Resp> {
        if self.conn.is_none() {
            let s = TcpStream::connect(self.addr)?;
            s.set_nodelay(true)?;
            s.set_read_timeout(Some(Duration::from_secs(120)))?;
            self.conn = Some(BufReader::new(s));
        }
        let conn = self.conn.as_mut().unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        if !kind.is_empty() {
            head.push_str(&format!("Content-Type: {kind}\r\n"));
        }
        if let Some(t) = &self.token {
            head.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        head.push_str("\r\n");
        let s = conn.get_mut();
        s.write_all(head.as_bytes())?;
        s.write_all(body)?;
        let resp = read_response(conn)?;
        if resp
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
        {
            self.conn = None;
        }
        Ok(resp)
    }
}

/// Reads one HTTP/1.1 answer (a `Content-Length` or chunked body, else to the end).
pub fn read_response(conn: &mut BufReader<TcpStream>) -> std::io::Result<Resp> {
    let mut line = String::new();
    if conn.read_line(&mut line)? == 0 {
        return Err(std::io::Error::other("connection closed"));
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        conn.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let find = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if let Some(len) = find("content-length") {
        let len: usize = len.parse().map_err(std::io::Error::other)?;
        body.resize(len, 0);
        conn.read_exact(&mut body)?;
    } else if find("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        loop {
            line.clear();
            conn.read_line(&mut line)?;
            let n = usize::from_str_radix(line.trim(), 16).map_err(std::io::Error::other)?;
            let mut chunk = vec![0; n + 2];
            conn.read_exact(&mut chunk)?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    }
    Ok(Resp {
        status,
        headers,
        body,
    })
}

/// A request whose body another thread writes (in 64 KiB pieces, chunked when
/// `chunked`, else with its `Content-Length`) while this one reads the answer: for
/// answers that come before the upload ends (a limit passed) and results streamed
/// while the upload goes on. Also tells whether the writer had sent the whole body
/// when the answer's status line came.
pub fn duplex(
    addr: SocketAddr,
    path: &str,
    body: Vec<u8>,
    chunked: bool,
) -> (std::io::Result<Resp>, bool) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let mut w = s.try_clone().unwrap();
    let sent = Arc::new(AtomicBool::new(false));
    let flag = sent.clone();
    let framing = if chunked {
        "Transfer-Encoding: chunked".to_string()
    } else {
        format!("Content-Length: {}", body.len())
    };
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/csv\r\n{framing}\r\nConnection: close\r\n\r\n"
    );
    let writer = std::thread::spawn(move || {
        let result = (|| -> std::io::Result<()> {
            w.write_all(head.as_bytes())?;
            for piece in body.chunks(64 << 10) {
                if chunked {
                    w.write_all(format!("{:x}\r\n", piece.len()).as_bytes())?;
                    w.write_all(piece)?;
                    w.write_all(b"\r\n")?;
                } else {
                    w.write_all(piece)?;
                }
            }
            if chunked {
                w.write_all(b"0\r\n\r\n")?;
            }
            Ok(())
        })();
        if result.is_ok() {
            flag.store(true, Ordering::SeqCst);
        }
    });
    let mut conn = BufReader::new(s);
    let mut first = [0u8; 1];
    let peeked = conn.get_mut().peek(&mut first);
    let sent_before = sent.load(Ordering::SeqCst);
    let resp = peeked.and_then(|_| read_response(&mut conn));
    drop(conn);
    let _ = writer.join();
    (resp, sent_before)
}

/// Generated cases of the demo scheme (as `drgdip gen` writes them).
pub fn generated_cases(n: u64, seed: u64) -> Vec<u8> {
    use drgdip_io::synth::{GEN_HEADER, GenConfig, Generator};
    let scheme = drgdip_grouper::Scheme::from_dir(root().join("data/demo-scheme")).unwrap();
    let grouper = drgdip_grouper::Grouper::compile(&scheme).unwrap();
    let config = GenConfig {
        seed,
        ..GenConfig::default()
    };
    let generator = Generator::new(&scheme, &grouper, config);
    let mut out = format!("{GEN_HEADER}\n").into_bytes();
    generator
        .generate(n, |t| {
            out.extend_from_slice(t.as_bytes());
            Ok(())
        })
        .unwrap();
    out
}

/// What the library (the CLI's `group` / `dip group`) writes for a case file.
pub fn library_grouped(cases: &[u8], dip: bool) -> Vec<u8> {
    let r = root();
    let mut out = Vec::new();
    let options = drgdip_io::Options::default();
    if dip {
        let catalog = drgdip_grouper::open_catalog(&r.join("data/demo-catalog")).unwrap();
        let job = drgdip_io::DipGroupJob::new(&catalog);
        drgdip_io::run(&job, cases, &mut out, &options, &|_, _| {}).unwrap();
    } else {
        let grouper = drgdip_grouper::open_scheme(&r.join("data/demo-scheme"), None).unwrap();
        let job = drgdip_io::GroupJob::new(&grouper, false);
        drgdip_io::run(&job, cases, &mut out, &options, &|_, _| {}).unwrap();
    }
    out
}

/// The CSV rows of a file as objects keyed by header.
pub fn csv_objects(bytes: &[u8]) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let mut rdr = csv::Reader::from_reader(bytes);
    let header: Vec<String> = rdr.headers().unwrap().iter().map(str::to_string).collect();
    rdr.records()
        .map(|r| {
            let r = r.unwrap();
            header
                .iter()
                .zip(r.iter())
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.to_string())))
                .collect()
        })
        .collect()
}

/// A generated row as a JSON case (the columns the API reads).
pub fn row_to_case(row: &serde_json::Map<String, serde_json::Value>) -> serde_json::Value {
    let mut case = serde_json::Map::new();
    for (k, v) in row {
        let key = match k.as_str() {
            "diagnoses" => "dx",
            "procedures" => "px",
            "self_paid" => continue,
            other => other,
        };
        case.insert(key.to_string(), v.clone());
    }
    serde_json::Value::Object(case)
}

/// The library's `group --carry` then `price` for a case file.
pub fn library_priced(file: &[u8]) -> Vec<u8> {
    let policy = drgdip_payment::Policy::load(&root().join("data/demo-policy.toml")).unwrap();
    let grouper = drgdip_grouper::open_scheme(&root().join("data/demo-scheme"), None).unwrap();
    let mut grouped = Vec::new();
    let options = drgdip_io::Options {
        carry: true,
        ..drgdip_io::Options::default()
    };
    drgdip_io::run(
        &drgdip_io::GroupJob::new(&grouper, false),
        file,
        &mut grouped,
        &options,
        &|_, _| {},
    )
    .unwrap();
    let mut want = Vec::new();
    drgdip_pipeline::price(
        &policy,
        &grouped[..],
        &mut want,
        &drgdip_pipeline::PriceConfig::default(),
        &drgdip_pipeline::no_progress,
    )
    .unwrap();
    want
}

/// Polls batch job `id` (with its top 5 groups) until it is done or failed; a job still
/// running after `limit` fails the test.
pub fn wait_done(c: &mut Client, limit: Duration, id: u64) -> serde_json::Value {
    let started = std::time::Instant::now();
    loop {
        let s = c.get(&format!("/v1/batch/{id}?groups=5")).json();
        if s["state"] == "done" || s["state"] == "failed" {
            return s;
        }
        assert!(started.elapsed() < limit, "batch {id} hangs");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A copy of the demo policy in `dir` (its tables pointed back at `data/`), for tests
/// that break the policy file under a running server.
pub fn policy_copy(dir: &std::path::Path) -> PathBuf {
    let policy = dir.join("policy.toml");
    let text = std::fs::read_to_string(root().join("data/demo-policy.toml")).unwrap();
    // The policy names its tables relative to itself.
    let data = root().join("data");
    let text = text.replace("\"demo-", &format!("\"{}/demo-", data.display()));
    std::fs::write(&policy, &text).unwrap();
    policy
}

/// Waits until `n` batches or `cases` requests are at work (`drgdip_work_running`).
pub fn wait_running(c: &mut Client, n: u64) {
    let started = std::time::Instant::now();
    loop {
        let metrics = c.get("/metrics").text();
        let running = metrics
            .lines()
            .find_map(|l| l.strip_prefix("drgdip_work_running ")?.parse::<u64>().ok());
        if running == Some(n) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{running:?} at work, not {n}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
