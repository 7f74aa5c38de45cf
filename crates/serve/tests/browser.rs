//! The workbench in a real browser: headless Chromium driven through chromedriver
//! (WebDriver over HTTP, with the tests' own small client). It enters a case, checks
//! the DRG and the explanation shown, runs a what-if and a small batch, and saves
//! screenshots to `target/screenshots/`. Needs Debian's `chromium` and
//! `chromium-driver` (`.ci/run` installs them); without them it says SKIPPED, and
//! fails under `CI=true`.

mod common;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use common::*;
use serde_json::{Value, json};

struct Driver {
    child: Child,
    http: Client,
    session: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let path = format!("/session/{}", self.session);
        let _ = self.http.send("DELETE", &path, "", b"");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    fn cmd(&mut self, method: &str, path: &str, body: Value) -> Value {
        let path = format!("/session/{}{path}", self.session);
        let body = if body.is_null() {
            Vec::new()
        } else {
            serde_json::to_vec(&body).unwrap()
        };
        let r = self.http.send(method, &path, "application/json", &body);
        let v = r.json();
        assert_eq!(r.status, 200, "{method} {path}: {v}");
        v["value"].clone()
    }
    fn find(&mut self, css: &str) -> String {
        let v = self.cmd(
            "POST",
            "/element",
            json!({"using": "css selector", "value": css}),
        );
        v.as_object()
            .and_then(|m| m.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}"))
            .to_string()
    }
    fn click(&mut self, css: &str) {
        let id = self.find(css);
        self.cmd("POST", &format!("/element/{id}/click"), json!({}));
    }
    fn type_into(&mut self, css: &str, text: &str) {
        let id = self.find(css);
        self.cmd("POST", &format!("/element/{id}/clear"), json!({}));
        self.cmd(
            "POST",
            &format!("/element/{id}/value"),
            json!({ "text": text }),
        );
    }
    fn script(&mut self, js: &str) -> Value {
        self.cmd("POST", "/execute/sync", json!({"script": js, "args": []}))
    }
    fn text(&mut self, css: &str) -> String {
        let js =
            format!("const e = document.querySelector({css:?}); return e ? e.innerText : null;");
        self.script(&js).as_str().unwrap_or_default().to_string()
    }
    /// Waits until the script returns true.
    fn wait_for(&mut self, what: &str, js: &str) {
        let started = Instant::now();
        while self.script(js) != json!(true) {
            if started.elapsed() > Duration::from_secs(20) {
                let err = self.text("#case-error") + &self.text("#batch-error");
                panic!("timed out waiting for {what} (page error: {err})");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    fn screenshot(&mut self, dir: &Path, name: &str) {
        let b64 = self.cmd("GET", "/screenshot", Value::Null);
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        std::fs::write(dir.join(name), png).unwrap();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn tools() -> Option<(PathBuf, PathBuf)> {
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())?;
    let driver = PathBuf::from("/usr/bin/chromedriver");
    driver.exists().then_some((chromium, driver))
}

fn start_driver(chromium: &Path, driver: &Path) -> Driver {
    let port = free_port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let mut http = Client::new(SocketAddr::from(([127, 0, 0, 1], port)));
    let started = Instant::now();
    loop {
        let ready = std::net::TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port))).is_ok()
            && http.get("/status").json()["value"]["ready"] == json!(true);
        if ready {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "chromedriver is not ready"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let caps = json!({"capabilities": {"alwaysMatch": {
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium.display().to_string(),
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1700", "--lang=zh-CN"]
        }
    }}});
    let r = http.post_json("/session", &caps);
    assert_eq!(r.status, 200, "new session: {}", r.text());
    let session = r.json()["value"]["sessionId"].as_str().unwrap().to_string();
    Driver {
        child,
        http,
        session,
    }
}

#[test]
fn workbench_in_chromium() {
    let Some((chromium, driver)) = tools() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "chromium and chromedriver are required under CI=true (apt-get install chromium chromium-driver)"
            );
        }
        eprintln!(
            "SKIPPED: workbench_in_chromium needs /usr/bin/chromium and /usr/bin/chromedriver"
        );
        return;
    };
    let shots = root().join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let server = start(demo_config());
    let mut d = start_driver(&chromium, &driver);
    d.cmd(
        "POST",
        "/url",
        json!({"url": format!("http://{}/", server.addr())}),
    );
    d.wait_for(
        "the loaded set",
        "return document.getElementById('loaded').innerText.includes('drgdip_demo');",
    );

    // Enter a case: 50-year-old man, pneumonia with acute respiratory failure and shock.
    d.type_into("#age", "50");
    d.type_into("#los", "6");
    for code in ["J18.900", "J96.000", "R57.000"] {
        d.type_into("#dx-input", code);
        d.click("#dx-add");
    }
    d.click("#run");
    d.wait_for("the DRG", "return document.getElementById('drg-code').innerText.length > 0 && document.querySelector('#changes table') !== null;");
    assert_eq!(d.text("#drg-code"), "ES31");
    assert!(d.text("#drg-name").contains("呼吸系统感染"));
    let tree = d.text("#explain-tree");
    assert!(
        tree.contains("MDCE") && tree.contains("ES3") && tree.contains("ES31"),
        "{tree}"
    );
    // MCC/CC badges: R57.000 counts as an MCC, J96.000 is excluded by the principal.
    let badges = d.script("return [...document.querySelectorAll('#dx-codes .badge')].map(b => b.className + ':' + b.innerText);");
    let badges = badges.to_string();
    assert!(badges.contains("badge mcc:MCC"), "{badges}");
    assert!(badges.contains("excluded"), "{badges}");
    assert!(
        d.text("#drg-pay").contains("payment ¥"),
        "{}",
        d.text("#drg-pay")
    );
    assert!(d.text("#dip-code").contains("J18.9"));
    let changes = d.text("#changes");
    assert!(
        changes.contains("ES35") && changes.contains("R57.000"),
        "{changes}"
    );
    d.screenshot(&shots, "workbench-case.png");

    // What-if: drop the shock diagnosis from a copy; ES35 beside the original ES31.
    d.click("#whatif-start");
    d.wait_for(
        "the what-if",
        "return document.querySelectorAll('#wi-dx li').length === 3;",
    );
    d.click("#wi-dx li:nth-child(3) button.drop");
    d.wait_for("the what-if result", "const t = document.getElementById('compare').innerText; return t.includes('ES35') && t.includes('ES31');");
    d.script("document.getElementById('whatif').scrollIntoView(); return true;");
    d.screenshot(&shots, "workbench-whatif.png");

    // A small batch: upload, progress, summary, chart, download link.
    let dir = std::env::temp_dir().join(format!("drgdip-browser-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("cases.csv");
    std::fs::write(&file, generated_cases(500, 5)).unwrap();
    d.click("#tab-batch");
    let input = d.find("#batch-file");
    d.cmd(
        "POST",
        &format!("/element/{input}/value"),
        json!({"text": file.display().to_string()}),
    );
    d.click("#batch-run");
    d.wait_for(
        "the batch",
        "return !document.getElementById('batch-done').hidden;",
    );
    let summary = d.text("#batch-summary");
    assert!(
        summary.starts_with("500 rows") && summary.contains("grouping rate"),
        "{summary}"
    );
    let bars = d.script("return document.querySelectorAll('#batch-chart svg rect').length;");
    assert_eq!(bars, json!(20));
    let href = d.script("return document.getElementById('batch-download').href;");
    assert!(href.as_str().unwrap().starts_with("blob:"));
    d.screenshot(&shots, "workbench-batch.png");
    let _ = std::fs::remove_dir_all(&dir);
}
