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
        let (status, v) = self.try_cmd(method, path, body);
        assert_eq!(status, 200, "{method} /session/{}{path}: {v}", self.session);
        v["value"].clone()
    }
    /// A command's status and reply, without judging them.
    fn try_cmd(&mut self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let path = format!("/session/{}{path}", self.session);
        let body = if body.is_null() {
            Vec::new()
        } else {
            serde_json::to_vec(&body).unwrap()
        };
        let r = self.http.send(method, &path, "application/json", &body);
        (r.status, r.json())
    }
    /// Runs an element command on the element `css` finds. The page re-renders parts
    /// of itself as results arrive, so an element found a moment ago may be replaced
    /// before the command reaches it ("stale element reference", seen on a loaded
    /// machine): then it is found again and the command retried, for up to 5 s.
    fn on_element(&mut self, css: &str, method: &str, command: &str, body: Value) {
        let started = Instant::now();
        loop {
            let id = self.find(css);
            let path = format!("/element/{id}/{command}");
            let (status, v) = self.try_cmd(method, &path, body.clone());
            let stale = v["value"]["error"] == "stale element reference";
            if status == 200 || !stale || started.elapsed() > Duration::from_secs(5) {
                assert_eq!(status, 200, "{method} {path} on {css}: {v}");
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
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
        self.on_element(css, "POST", "click", json!({}));
    }
    fn type_into(&mut self, css: &str, text: &str) {
        self.on_element(css, "POST", "clear", json!({}));
        self.on_element(css, "POST", "value", json!({ "text": text }));
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
    // The DIP detail of the principal: the types that take J18.900 as principal, as
    // the catalogue look-up gives them.
    let dip = c0_dip_types(&server);
    d.wait_for(
        "the DIP badge",
        "return document.querySelector('#dx-codes li .badge.dip') !== null;",
    );
    let title = d.script("return document.querySelector('#dx-codes li .badge.dip').title;");
    let title = title.as_str().unwrap();
    assert!(!dip.is_empty());
    for code in &dip {
        assert!(title.contains(code.as_str()), "{code} not in {title}");
    }
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

    // What-if badges are the what-if case's own: promote R57.000 to principal in a
    // fresh copy; the badges must be those the library gives that case (not the
    // original's, which differ: J96.000 is excluded only under J18.900).
    let mut c = Client::new(server.addr());
    let badges_of = |c: &mut Client, dx: &[&str]| -> Vec<String> {
        let ex = c.post_json(
            "/v1/explain",
            &json!({"method": "drg", "case": {"sex": 1, "age": 50, "los": 6, "dx": dx}}),
        );
        let mut out: Vec<String> = ex.json()["drg"]["explanation"]["complications"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["code"] != dx[0])
            .map(|x| {
                format!(
                    "{}:{}:{}",
                    x["code"].as_str().unwrap(),
                    x["kind"].as_str().unwrap(),
                    x["excluded"]
                )
            })
            .collect();
        out.sort();
        out
    };
    let original = badges_of(&mut c, &["J18.900", "J96.000", "R57.000"]);
    let promoted = badges_of(&mut c, &["R57.000", "J18.900", "J96.000"]);
    let shared_codes = |v: &[String]| -> Vec<String> {
        v.iter()
            .filter(|b| b.starts_with("J96.000"))
            .cloned()
            .collect()
    };
    assert_ne!(
        shared_codes(&original),
        shared_codes(&promoted),
        "the case must tell stale badges from fresh ones"
    );
    d.click("#whatif-start");
    d.wait_for(
        "a fresh what-if copy",
        "return document.querySelectorAll('#wi-dx li').length === 3;",
    );
    d.click("#wi-dx li:nth-child(3) button.promote");
    let page_badges = "return [...document.querySelectorAll('#wi-dx li')].slice(1).flatMap(li => \
         [...li.querySelectorAll('.badge.mcc, .badge.cc')].map(b => li.querySelector('.code').innerText + ':' + \
         b.innerText + ':' + b.classList.contains('excluded'))).sort().join(',');";
    let want = promoted.join(",");
    d.wait_for(
        "the what-if badges",
        &format!(
            "return document.querySelector('#wi-dx li .code').innerText === 'R57.000' && (() => {{ {page_badges} }})() === {};",
            serde_json::to_string(&want).unwrap()
        ),
    );
    let shown = d.script(page_badges);
    assert_eq!(shown, json!(want), "what-if badges");
    d.screenshot(&shots, "workbench-whatif-badges.png");

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

/// The DIP types the API's code look-up gives J18.900 as principal diagnosis.
fn c0_dip_types(server: &drgdip_serve::Running) -> Vec<String> {
    let mut c = Client::new(server.addr());
    let r = c.get("/v1/codes?q=J18.900&kind=dx&limit=1").json();
    assert_eq!(r["codes"][0]["code"], "J18.900");
    r["codes"][0]["dip"]["principal_of"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["code"].as_str().unwrap().to_string())
        .collect()
}
