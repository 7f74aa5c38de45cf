//! The HTTP API against a server on a loopback port: every route, every error, the
//! token, the limits, reload under load. Results are checked against the library
//! (what the CLI writes for the same cases).

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

#[test]
fn group_many_equals_the_library_for_drg_and_dip() {
    let server = start(demo_config());
    let mut c = Client::new(server.addr());
    let file = generated_cases(300, 7);
    let rows = csv_objects(&file);
    let cases: Vec<Value> = rows.iter().map(row_to_case).collect();
    let r = c.post_json("/v1/group", &json!({ "cases": cases }));
    assert_eq!(r.status, 200, "{}", r.text());
    let results = r.json()["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 300);
    let drg = csv_objects(&library_grouped(&file, false));
    let dip = csv_objects(&library_grouped(&file, true));
    let mut grouped = 0;
    for (i, res) in results.iter().enumerate() {
        assert_eq!(res["drg"], Value::Object(drg[i].clone()), "case {i}");
        // The library names the line of a DIP message; a JSON case has none.
        let mut want = dip[i].clone();
        want.insert("message".into(), res["dip"]["message"].clone());
        assert_eq!(res["dip"], Value::Object(want), "case {i}");
        grouped += usize::from(res["drg"]["status"] == "grouped");
    }
    assert!(grouped > 250, "only {grouped} of 300 grouped");
}

#[test]
fn one_case_group_explain_price_changes() {
    let server = start(demo_config());
    let mut c = Client::new(server.addr());
    let r = c.post_json("/v1/group", &json!({ "case": pneumonia() }));
    assert_eq!(r.status, 200);
    let g = r.json();
    // J18.900 with the MCC R57.000 (J96.000 shares the principal's exclusion table).
    assert_eq!(g["drg"]["drg"], "ES31");
    assert_eq!(g["drg"]["case_id"], "c1");
    assert_eq!(g["dip"]["dip_code"], "J18.9:-");

    let e = c.post_json(
        "/v1/explain",
        &json!({ "method": "drg", "case": pneumonia() }),
    );
    assert_eq!(e.status, 200);
    let e = e.json();
    assert!(e.get("dip").is_none());
    let x = &e["drg"]["explanation"];
    assert_eq!(x["result"]["drg"], "ES31");
    let cx = x["complications"].as_array().unwrap();
    assert!(
        cx.iter()
            .any(|c| c["code"] == "R57.000" && c["kind"] == "MCC" && c["excluded"] == false)
    );
    assert!(
        cx.iter()
            .any(|c| c["code"] == "J96.000" && c["excluded"] == true)
    );
    assert!(
        x["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["step"] == "mdc_entered" && s["mdc"] == "MDCE")
    );
    assert_eq!(e["drg"]["dx"][0]["name"], "肺炎");

    let p = c.post_json("/v1/price", &json!({ "case": pneumonia() }));
    assert_eq!(p.status, 200, "{}", p.text());
    let p = p.json();
    assert_eq!(p["drg"]["group"]["drg"], "ES31");
    assert_eq!(p["drg"]["price"]["status"], "ok");
    assert_eq!(p["drg"]["price"]["person_id"], "c1");
    let pay: rust_decimal::Decimal = p["drg"]["price"]["payment_standard"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(pay > rust_decimal::Decimal::ZERO);
    assert_eq!(p["dip"]["price"]["method"], "dip");

    let ch = c.post_json("/v1/changes", &json!({ "case": pneumonia() }));
    assert_eq!(ch.status, 200);
    let ch = ch.json();
    assert_eq!(ch["original"]["drg"], "ES31");
    assert_eq!(
        ch["original_payment"],
        p["drg"]["price"]["payment_standard"]
    );
    let list = ch["changes"].as_array().unwrap();
    // Dropping the MCC moves the case to ES35, whose payment is lower.
    let drop = list
        .iter()
        .find(|c| c["change"] == "drop_diagnosis" && c["code"] == "R57.000")
        .unwrap();
    assert_eq!(drop["result"]["drg"], "ES35");
    let diff: rust_decimal::Decimal = drop["difference"].as_str().unwrap().parse().unwrap();
    assert!(diff < rust_decimal::Decimal::ZERO);
    // Every change listed moves the DRG, and regrouping the changed case agrees.
    for change in list {
        assert_ne!(change["result"]["drg"], "ES31");
    }
    let mut dropped = pneumonia();
    dropped["dx"] = json!(["J18.900", "J96.000"]);
    let again = c
        .post_json("/v1/group", &json!({ "method": "drg", "case": dropped }))
        .json();
    assert_eq!(again["drg"]["drg"], "ES35");
}

#[test]
fn codes_schemes_health_metrics() {
    let server = start(demo_config());
    let mut c = Client::new(server.addr());
    let r = c.get("/v1/codes?q=J18&kind=dx&limit=5").json();
    let codes = r["codes"].as_array().unwrap();
    assert!(
        codes
            .iter()
            .any(|x| x["code"] == "J18.900" && x["dx_name"] == "肺炎")
    );
    assert!(
        codes
            .iter()
            .all(|x| x["code"].as_str().unwrap().starts_with("J18"))
    );
    let j189 = codes.iter().find(|x| x["code"] == "J18.900").unwrap();
    assert!(!j189["lists"].as_array().unwrap().is_empty());
    let by_name = c
        .get(&format!("/v1/codes?q={}", "%E8%82%BA%E7%82%8E"))
        .json(); // 肺炎
    assert!(
        by_name["codes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["code"] == "J18.900")
    );
    let mcc = c.get("/v1/codes?q=R57.000").json();
    assert!(mcc["codes"][0]["mcc"].is_string());
    // The DIP catalogue's view of each code: the library's look-up.
    let catalog = drgdip_grouper::open_catalog(&root().join("data/demo-catalog")).unwrap();
    let want = |code: &str, kind| serde_json::to_value(catalog.dip_code_info(code, kind)).unwrap();
    assert_eq!(
        j189["dip"],
        want("J18.900", drgdip_grouper::CodeKind::Diagnosis)
    );
    assert!(!j189["dip"]["principal_of"].as_array().unwrap().is_empty());
    let px = c.get("/v1/codes?q=96.7201&kind=px&limit=1").json();
    assert_eq!(px["codes"][0]["code"], "96.7201");
    assert_eq!(
        px["codes"][0]["dip"],
        want("96.7201", drgdip_grouper::CodeKind::Procedure)
    );
    assert!(
        !px["codes"][0]["dip"]["procedure_of"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Without a scheme, the catalogue's own codes.
    let mut only_dip = demo_config();
    only_dip.sources.schemes.clear();
    let dip_server = start(only_dip);
    let r = Client::new(dip_server.addr())
        .get("/v1/codes?q=J18&kind=dx")
        .json();
    assert!(r["scheme"].is_null());
    let found = r["codes"].as_array().unwrap();
    assert!(found.iter().any(|x| x["code"] == "J189"), "{r}");
    assert!(
        found
            .iter()
            .all(|x| x["dip"]["class"].as_str().unwrap().starts_with("J18"))
    );

    let s = c.get("/v1/schemes").json();
    assert_eq!(s["generation"], 1);
    assert_eq!(s["schemes"][0]["name"], "drgdip_demo");
    assert_eq!(s["schemes"][0]["content_hash"].as_str().unwrap().len(), 64);
    assert_eq!(s["catalog"]["name"], "demo-dip");
    assert_eq!(s["policy"]["sha256"].as_str().unwrap().len(), 64);

    let h = c.get("/healthz");
    assert_eq!((h.status, h.json()["status"].clone()), (200, json!("ok")));
    c.post_json("/v1/group", &json!({ "case": pneumonia() }));
    let m = c.get("/metrics");
    assert_eq!(m.status, 200);
    let text = m.text();
    assert!(
        text.contains("drgdip_requests_total{route=\"/v1/group\",status=\"200\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("drgdip_request_duration_seconds_bucket{route=\"/v1/group\",le=\"+Inf\"} 1")
    );
    assert!(text.contains("drgdip_cases_grouped_total{method=\"drg\"} 1"));
    // The page and its assets are served, embedded.
    let page = c.get("/");
    assert!(page.text().contains("drgdip"));
    assert!(c.get("/app.js").text().contains("/v1/explain"));
    assert!(
        c.get("/app.css")
            .header("content-type")
            .unwrap()
            .starts_with("text/css")
    );
}

#[test]
fn every_error_is_json_naming_the_field() {
    let server = start(demo_config());
    let mut c = Client::new(server.addr());
    let check = |r: Resp, status: u16, field: Option<&str>| {
        assert_eq!(r.status, status, "{}", r.text());
        let v = r.json();
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()));
        assert_eq!(v["field"].as_str(), field, "{v}");
    };
    check(
        c.post("/v1/group", "application/json", b"{not json"),
        400,
        None,
    );
    check(c.post_json("/v1/group", &json!({})), 400, Some("case"));
    check(
        c.post_json(
            "/v1/group",
            &json!({"case": {"sex": 1, "agee": 3, "dx": ["J18.900"]}}),
        ),
        400,
        Some("case.agee"),
    );
    check(
        c.post_json(
            "/v1/group",
            &json!({"case": {"sex": 1, "age": "x", "dx": ["J18.900"]}}),
        ),
        400,
        Some("case.age"),
    );
    check(
        c.post_json(
            "/v1/group",
            &json!({"case": {"sex": 1, "age": -4, "dx": ["J18.900"]}}),
        ),
        400,
        Some("case.age"),
    );
    check(
        c.post_json(
            "/v1/group",
            &json!({"case": {"sex": 1, "age": 3, "dx": []}}),
        ),
        400,
        Some("case.dx"),
    );
    check(
        c.post_json(
            "/v1/group",
            &json!({"case": {"sex": 1, "age": 3, "dx": [5]}}),
        ),
        400,
        Some("case.dx[0]"),
    );
    check(
        c.post_json(
            "/v1/group",
            &json!({"case": {"sex": 1, "age": 3, "dx": ["A|B"]}}),
        ),
        400,
        Some("case.dx[0]"),
    );
    check(
        c.post_json(
            "/v1/group",
            &json!({"case": {"sex": true, "age": 3, "dx": ["J18.900"]}}),
        ),
        400,
        Some("case.sex"),
    );
    check(
        c.post_json(
            "/v1/group",
            &json!({"case": {"sex": 7, "age": 3, "dx": ["J18.900"]}}),
        ),
        400,
        Some("case.sex"),
    );
    let long = "9".repeat(5000);
    check(
        c.post_json(
            "/v1/group",
            &json!({"case": {"sex": 1, "age": long, "dx": ["J18.900"]}}),
        ),
        400,
        Some("case.age"),
    );
    check(
        c.post_json("/v1/group", &json!({"method": "xyz", "case": pneumonia()})),
        400,
        Some("method"),
    );
    check(
        c.post_json("/v1/group", &json!({"scheme": "nope", "case": pneumonia()})),
        400,
        Some("scheme"),
    );
    check(
        c.post_json("/v1/group", &json!({"case": pneumonia(), "cases": []})),
        400,
        Some("cases"),
    );
    let mut no_level = pneumonia();
    no_level["hospital_level"] = json!("9");
    check(
        c.post_json("/v1/price", &json!({"method": "drg", "case": no_level})),
        400,
        Some("case.hospital_level"),
    );
    check(c.get("/v1/codes"), 400, Some("q"));
    check(c.get("/v1/codes?q=J&kind=zz"), 400, Some("kind"));
    check(c.get("/v1/codes?q=J&limit=0"), 400, Some("limit"));
    check(c.get("/v1/codes?q=J&foo=1"), 400, Some("foo"));
    check(c.get("/v1/batch/99"), 404, Some("id"));
    check(c.get("/v1/batch/abc/result"), 404, Some("id"));
    check(c.get("/v1/nothing"), 404, None);
    check(c.post("/v1/batch", "text/csv", b""), 400, Some("body"));
    check(
        c.post("/v1/batch?method=x", "text/csv", b"a\n"),
        400,
        Some("method"),
    );
    check(
        c.post("/v1/batch?output=x", "text/csv", b"a\n"),
        400,
        Some("output"),
    );
    check(
        c.post("/v1/batch?columns=nope", "text/csv", b"a\n"),
        400,
        Some("columns"),
    );
    check(
        c.post("/v1/batch?encoding=nope", "text/csv", b"a\n"),
        400,
        Some("encoding"),
    );
    // A file without the required columns fails as a job, with the message.
    let r = c.post("/v1/batch", "text/csv", b"x,y\n1,2\n").json();
    let s = wait_done(&mut c, Duration::from_secs(60), r["id"].as_u64().unwrap());
    assert_eq!(s["state"], "failed");
    assert!(s["error"].as_str().unwrap().contains("case_id"), "{s}");
    check(c.get(&format!("/v1/batch/{}/result", r["id"])), 409, None);
    // Many cases: a bad one gets its own error, the others their results.
    let mut bad = pneumonia();
    bad["age"] = json!("old");
    let r = c
        .post_json("/v1/group", &json!({"cases": [pneumonia(), bad]}))
        .json();
    assert_eq!(r["results"][0]["drg"]["drg"], "ES31");
    assert_eq!(r["results"][1]["field"], "cases[1].age");
    // A case the grouper rejects (no sex) is an outcome, not an error.
    let r = c.post_json(
        "/v1/group",
        &json!({"method": "drg", "case": {"age": 3, "dx": ["J18.900"]}}),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["drg"]["status"], "invalid");
}

#[test]
fn missing_parts_are_503() {
    let mut config = demo_config();
    config.sources.catalog = None;
    config.sources.policy = None;
    let server = start(config);
    let mut c = Client::new(server.addr());
    for (path, body) in [
        ("/v1/price", json!({"case": pneumonia()})),
        ("/v1/group", json!({"method": "dip", "case": pneumonia()})),
    ] {
        let r = c.post_json(path, &body);
        assert_eq!(r.status, 503, "{path}");
        assert!(r.json()["error"].as_str().unwrap().contains("loaded"));
    }
    let r = c.post("/v1/batch?output=priced", "text/csv", b"case_id\n1\n");
    assert_eq!(r.status, 503);
    // Changes without a policy: the changes, no payments, and why.
    let ch = c
        .post_json("/v1/changes", &json!({"case": pneumonia()}))
        .json();
    assert!(!ch["changes"].as_array().unwrap().is_empty());
    assert_eq!(ch["payment_error"], "no policy is loaded");
}

#[test]
fn bearer_token() {
    let mut config = demo_config();
    config.token = Some("s3cret-token".into());
    let server = start(config);
    let mut c = Client::new(server.addr());
    for path in ["/v1/schemes", "/metrics", "/v1/codes?q=J"] {
        let r = c.get(path);
        assert_eq!(r.status, 401, "{path}");
        assert_eq!(r.json()["field"], "authorization");
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    }
    c.token = Some("s3cret-tokeX".into());
    assert_eq!(c.get("/v1/schemes").status, 401);
    c.token = Some("s3cret".into());
    assert_eq!(
        c.post_json("/v1/group", &json!({"case": pneumonia()}))
            .status,
        401
    );
    c.token = Some("s3cret-token".into());
    assert_eq!(c.get("/v1/schemes").status, 200);
    assert_eq!(
        c.post_json("/v1/group", &json!({"case": pneumonia()}))
            .status,
        200
    );
    // The page, its assets and the health check need no token.
    c.token = None;
    assert_eq!(c.get("/").status, 200);
    assert_eq!(c.get("/healthz").status, 200);
}

#[test]
fn batch_grouped_priced_xlsx_equal_the_library() {
    let server = start(demo_config());
    let mut c = Client::new(server.addr());
    let file = generated_cases(1500, 11);
    for dip in [false, true] {
        let q = if dip { "method=dip" } else { "method=drg" };
        let r = c.post(&format!("/v1/batch?{q}"), "text/csv", &file);
        assert_eq!(r.status, 202, "{}", r.text());
        let id = r.json()["id"].as_u64().unwrap();
        let s = wait_done(&mut c, Duration::from_secs(60), id);
        assert_eq!(s["state"], "done", "{s}");
        assert_eq!(s["rows"], 1500);
        assert_eq!(s["bytes_read"], file.len() as u64);
        let rate = s["grouping_rate"].as_f64().unwrap();
        assert!(rate > 0.8 && rate <= 1.0, "{rate}");
        let top = s["groups"].as_array().unwrap();
        assert_eq!(top.len(), 5);
        assert!(top[0][1].as_u64().unwrap() >= top[4][1].as_u64().unwrap());
        let out = c.get(&format!("/v1/batch/{id}/result"));
        assert_eq!(out.status, 200);
        assert_eq!(out.body, library_grouped(&file, dip), "dip={dip}");
    }
    // Priced: the same as group --carry then price.
    let r = c.post("/v1/batch?output=priced", "text/csv", &file).json();
    let s = wait_done(&mut c, Duration::from_secs(60), r["id"].as_u64().unwrap());
    assert_eq!(s["counts"]["priced"], 1500, "{s}");
    let priced = c.get(&format!("/v1/batch/{}/result", r["id"]));
    let rows = csv_objects(&priced.body);
    assert_eq!(rows.len(), 1500);
    assert!(rows.iter().all(|r| r["status"] == "ok"));
    assert_eq!(priced.body, library_priced(&file));
    // An .xlsx upload, an .xlsx result.
    let dir = std::env::temp_dir().join(format!("drgdip-serve-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let book = dir.join("cases.xlsx");
    drgdip_io::excel::write_csv_as_workbook(&file[..], &book, "cases").unwrap();
    let bytes = std::fs::read(&book).unwrap();
    let r = c
        .post("/v1/batch?format=xlsx", "application/octet-stream", &bytes)
        .json();
    let s = wait_done(&mut c, Duration::from_secs(60), r["id"].as_u64().unwrap());
    assert_eq!(s["state"], "done", "{s}");
    let out = c.get(&format!("/v1/batch/{}/result", r["id"]));
    assert!(out.body.starts_with(b"PK\x03\x04"));
    let back = dir.join("out.xlsx");
    std::fs::write(&back, &out.body).unwrap();
    let (csv, _) = drgdip_io::excel::read_sheet(&back, None).unwrap();
    let got = csv_objects(&csv);
    // The workbook writer makes number-like cells numbers (a code `54.5100` reads back
    // as `54.51`): the server must group what the sheet holds, as the CLI would.
    let (sheet, _) = drgdip_io::excel::read_sheet(&book, None).unwrap();
    let want = csv_objects(&library_grouped(&sheet, false));
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(
            (&g["case_id"], &g["drg"], &g["status"]),
            (&w["case_id"], &w["drg"], &w["status"])
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn limits() {
    let server = start(small_limits(1000));
    let mut c = Client::new(server.addr());
    let big = json!({"case": {"sex": 1, "age": 3, "dept": "x".repeat(5000), "dx": ["J18.900"]}});
    let r = c.post_json("/v1/group", &big);
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["field"], "body");
    let r = c.post_json(
        "/v1/group",
        &json!({"cases": [pneumonia(), pneumonia(), pneumonia(), pneumonia()]}),
    );
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["field"], "cases");
    let r = c.post("/v1/batch", "text/csv", &generated_cases(1001, 1));
    assert_eq!(r.status, 413);
    assert!(r.json()["error"].as_str().unwrap().contains("1000 rows"));
    // The job stopped at the limit frees the only batch permit when its thread ends,
    // which may be just after the 413.
    wait_running(&mut c, 0);
    assert_eq!(
        c.post("/v1/batch", "text/csv", &generated_cases(1000, 1))
            .status,
        202
    );

    // Concurrent batches: one at a time; a second while one runs is refused with 429.
    let mut config = demo_config();
    config.limits.concurrent_batches = 1;
    let server = start(config);
    let mut c = Client::new(server.addr());
    let file = generated_cases(200_000, 2);
    let first = c.post("/v1/batch", "text/csv", &file);
    assert_eq!(first.status, 202);
    let second = c.post(
        "/v1/batch",
        "text/csv",
        b"case_id,sex,age,diagnoses\n1,1,3,J18.900\n",
    );
    let first_state = c.get(&format!("/v1/batch/{}", first.json()["id"])).json();
    if first_state["state"] == "running" || first_state["state"] == "queued" {
        assert_eq!(second.status, 429, "{}", second.text());
    }
    wait_done(
        &mut c,
        Duration::from_secs(60),
        first.json()["id"].as_u64().unwrap(),
    );
    // Done is said before the job's thread ends and frees the permit.
    wait_running(&mut c, 0);
    assert_eq!(
        c.post(
            "/v1/batch",
            "text/csv",
            b"case_id,sex,age,diagnoses\n1,1,3,J18.900\n"
        )
        .status,
        202
    );

    // Per-request time: a limit no request meets.
    let mut config = demo_config();
    config.limits.request_timeout = Duration::from_nanos(1);
    let server = start(config);
    let mut c = Client::new(server.addr());
    let cases: Vec<Value> = (0..200).map(|_| pneumonia()).collect();
    let r = c.post_json("/v1/group", &json!({"cases": cases}));
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.json()["error"].as_str().unwrap().contains("longer than"));
}

#[test]
fn reload_under_load_is_atomic() {
    let server = start(demo_config());
    let addr = server.addr();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..4 {
        let stop = stop.clone();
        clients.push(std::thread::spawn(move || {
            let mut c = Client::new(addr);
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let r = c.post_json("/v1/group", &json!({"case": pneumonia()}));
                assert_eq!(r.status, 200, "{}", r.text());
                let v = r.json();
                assert_eq!(v["drg"]["drg"], "ES31");
                assert_eq!(v["dip"]["dip_code"], "J18.9:-");
                n += 1;
            }
            n
        }));
    }
    let mut c = Client::new(addr);
    for g in 2..=6u64 {
        let r = c.post("/v1/admin/reload", "", b"");
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["generation"], g);
        std::thread::sleep(Duration::from_millis(30));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let total: u64 = clients.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(total > 10, "{total} requests during the reloads");
    assert_eq!(c.get("/healthz").json()["generation"], 6);
    assert!(c.get("/metrics").text().contains("drgdip_reloads_total 5"));
}

#[test]
fn a_failed_reload_keeps_the_loaded_set() {
    let dir = std::env::temp_dir().join(format!("drgdip-serve-reload-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let policy = policy_copy(&dir);
    let mut config = demo_config();
    config.sources.policy = Some(policy.clone());
    let server = start(config);
    let mut c = Client::new(server.addr());
    let before = c.get("/v1/schemes").json()["policy"]["sha256"].clone();
    std::fs::write(&policy, "this is not toml [").unwrap();
    let r = c.post("/v1/admin/reload", "", b"");
    assert_eq!(r.status, 422);
    assert!(r.json()["error"].as_str().unwrap().contains("policy"));
    let after = c.get("/v1/schemes").json();
    assert_eq!(after["policy"]["sha256"], before);
    assert_eq!(after["generation"], 1);
    assert_eq!(
        c.post_json("/v1/price", &json!({"case": pneumonia()}))
            .status,
        200
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn work_past_its_time_is_cancelled() {
    // A `cases` request whose time runs out while its cases are grouped: 503, and the
    // blocking work stops at its next block instead of running on (the cancelled
    // counter moves, the running gauge goes back to 0, the cases are not counted).
    let mut config = demo_config();
    config.limits.request_timeout = Duration::from_millis(10);
    config.limits.many_cases = 20_000;
    config.limits.json_body = 64 << 20;
    let server = start(config);
    let mut c = Client::new(server.addr());
    let file = generated_cases(20_000, 9);
    let cases: Vec<Value> = csv_objects(&file).iter().map(row_to_case).collect();
    let body = serde_json::to_vec(&json!({"method": "drg", "cases": cases})).unwrap();
    let metric = |c: &mut Client, name: &str| -> u64 {
        c.get("/metrics")
            .text()
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap()
    };
    let mut cancelled = 0;
    for _ in 0..5 {
        let r = c.post("/v1/group", "application/json", &body);
        assert_eq!(r.status, 503, "{}", r.text());
        let started = Instant::now();
        while metric(&mut c, "drgdip_work_running") != 0 {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "work left running"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        cancelled = metric(&mut c, "drgdip_work_cancelled_total");
        if cancelled > 0 {
            break;
        }
    }
    assert!(cancelled > 0, "no work was cancelled");
    let grouped = c.get("/metrics").text();
    assert!(
        grouped.contains("drgdip_cases_grouped_total{method=\"drg\"} 0"),
        "{grouped}"
    );
}
