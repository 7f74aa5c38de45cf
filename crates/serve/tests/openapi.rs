//! `docs/openapi.json` against a server on a loopback port: it is served at
//! `/v1/openapi.json` as written, it is OpenAPI 3.1, its paths and methods are exactly
//! the router's routes (`drgdip_serve::routes`, the table the router is built from),
//! and real answers of every route, for every status the document gives it, have
//! every property the document requires, with the documented JSON types.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

fn doc_text() -> String {
    std::fs::read_to_string(root().join("docs/openapi.json")).expect("docs/openapi.json")
}

fn doc() -> Value {
    serde_json::from_str(&doc_text()).expect("docs/openapi.json is JSON")
}

/// The operation keys of an OpenAPI path item.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// `(METHOD, path)` of every operation the document describes.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (key, _) in item.as_object().expect("a path item") {
            if METHODS.contains(&key.as_str()) {
                out.insert((key.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

/// `v`, or what its `$ref` (into the document) points at.
fn deref<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v["$ref"].as_str() {
        Some(r) => {
            let pointer = r.strip_prefix('#').expect("a reference into the document");
            doc.pointer(pointer)
                .unwrap_or_else(|| panic!("`{r}` points at nothing"))
        }
        None => v,
    }
}

/// `(METHOD, path, status)` of every response the document describes.
fn documented_statuses(doc: &Value) -> BTreeSet<(String, String, u16)> {
    let mut out = BTreeSet::new();
    for (method, path) in operations(doc) {
        let op = &doc["paths"][&path][method.to_lowercase()];
        for status in op["responses"].as_object().expect("responses").keys() {
            let code = status
                .parse()
                .unwrap_or_else(|_| panic!("{method} {path}: response `{status}` is not a status"));
            out.insert((method.clone(), path.clone(), code));
        }
    }
    out
}

/// A JSON Schema checker for the subset the document uses: `type` (one or a list),
/// `required`, `properties`, `additionalProperties`, `items`, `prefixItems`, `anyOf`,
/// `enum`, `$ref` to the document's own parts. A keyword outside the subset (that
/// would otherwise be ignored) fails the check of the document itself ([`keywords`]).
struct Checker<'a> {
    doc: &'a Value,
}

/// Keywords that only describe (nothing to check).
const ANNOTATIONS: [&str; 11] = [
    "description",
    "title",
    "examples",
    "example",
    "format",
    "minimum",
    "maximum",
    "default",
    "contentMediaType",
    "minItems",
    "maxItems",
];

const CHECKED: [&str; 9] = [
    "$ref",
    "type",
    "required",
    "properties",
    "additionalProperties",
    "items",
    "prefixItems",
    "anyOf",
    "enum",
];

/// Fails on a schema keyword, anywhere in `schema`, that the checker does not know.
fn keywords(schema: &Value, at: &str) {
    let Some(s) = schema.as_object() else {
        panic!("{at}: a schema must be an object, not {schema}");
    };
    for key in s.keys() {
        assert!(
            CHECKED.contains(&key.as_str()) || ANNOTATIONS.contains(&key.as_str()),
            "{at}: schema keyword `{key}` is outside what the checker knows"
        );
    }
    for (k, p) in s
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        keywords(p, &format!("{at}.{k}"));
    }
    if let Some(extra) = s.get("additionalProperties").filter(|v| v.is_object()) {
        keywords(extra, &format!("{at}.*"));
    }
    if let Some(items) = s.get("items") {
        keywords(items, &format!("{at}[]"));
    }
    for key in ["prefixItems", "anyOf"] {
        for (i, sub) in s
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            keywords(sub, &format!("{at}.{key}[{i}]"));
        }
    }
}

impl Checker<'_> {
    fn has_type(v: &Value, t: &str) -> bool {
        match t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "number" => v.is_number(),
            "integer" => v.is_i64() || v.is_u64(),
            "boolean" => v.is_boolean(),
            "null" => v.is_null(),
            other => panic!("unknown JSON type `{other}`"),
        }
    }

    /// Every way `v` (at `at`) breaks `schema`.
    fn check(&self, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
        let Some(s) = schema.as_object() else {
            panic!("{at}: a schema must be an object, not {schema}");
        };
        if s.contains_key("$ref") {
            self.check(deref(self.doc, schema), v, at, errors);
        }
        if let Some(t) = s.get("type") {
            let types: Vec<&str> = match t {
                Value::String(one) => vec![one.as_str()],
                Value::Array(many) => many.iter().map(|x| x.as_str().unwrap()).collect(),
                _ => panic!("{at}: bad `type` {t}"),
            };
            if !types.iter().any(|t| Self::has_type(v, t)) {
                errors.push(format!("{at}: {v} is not of type {t}"));
                return;
            }
        }
        if let Some(values) = s.get("enum")
            && !values.as_array().unwrap().contains(v)
        {
            errors.push(format!("{at}: {v} is not one of {values}"));
        }
        if let Some(branches) = s.get("anyOf") {
            let mut why = Vec::new();
            let fits = branches.as_array().unwrap().iter().any(|b| {
                let mut e = Vec::new();
                self.check(b, v, at, &mut e);
                why.extend(e.iter().take(2).cloned());
                e.is_empty()
            });
            if !fits {
                errors.push(format!(
                    "{at}: fits no branch of anyOf ({})",
                    why.join("; ")
                ));
            }
        }
        if let Value::Object(map) = v {
            for name in s
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let name = name.as_str().unwrap();
                if !map.contains_key(name) {
                    errors.push(format!("{at}: required `{name}` is missing"));
                }
            }
            let props = s.get("properties").and_then(Value::as_object);
            for (k, item) in map {
                let at = format!("{at}.{k}");
                match (props.and_then(|p| p.get(k)), s.get("additionalProperties")) {
                    (Some(p), _) => self.check(p, item, &at, errors),
                    (None, Some(Value::Bool(false))) => {
                        errors.push(format!("{at}: not a documented property"));
                    }
                    (None, Some(extra)) if extra.is_object() => {
                        self.check(extra, item, &at, errors);
                    }
                    (None, _) => {}
                }
            }
        }
        if let Value::Array(list) = v {
            let prefix = s.get("prefixItems").and_then(Value::as_array);
            for (i, item) in list.iter().enumerate() {
                let at = format!("{at}[{i}]");
                match (prefix.and_then(|p| p.get(i)), s.get("items")) {
                    (Some(p), _) => self.check(p, item, &at, errors),
                    (None, Some(items)) => self.check(items, item, &at, errors),
                    (None, None) => {}
                }
            }
        }
    }
}

/// What a test sends.
enum Body<'a> {
    None,
    Json(Value),
    Raw(&'a str, &'a [u8]),
}

/// Sends requests and checks each answer against the document; remembers which
/// documented statuses were seen.
struct Probe {
    doc: Value,
    seen: BTreeSet<(String, String, u16)>,
    failures: Vec<String>,
}

impl Probe {
    fn new() -> Probe {
        Probe {
            doc: doc(),
            seen: BTreeSet::new(),
            failures: Vec::new(),
        }
    }

    /// The document's path that `path` (with its query) is an instance of.
    fn template(&self, path: &str) -> String {
        let path = path.split('?').next().unwrap_or_default();
        let parts: Vec<&str> = path.split('/').collect();
        let fits = |t: &str| {
            let ts: Vec<&str> = t.split('/').collect();
            ts.len() == parts.len()
                && ts
                    .iter()
                    .zip(&parts)
                    .all(|(t, p)| t == p || (t.starts_with('{') && t.ends_with('}')))
        };
        let found: Vec<&String> = self.doc["paths"]
            .as_object()
            .unwrap()
            .keys()
            .filter(|t| fits(t))
            .collect();
        assert_eq!(found.len(), 1, "{path} is an instance of {found:?}");
        found[0].clone()
    }

    /// Sends `method path`, expects status `want` and checks the answer (and a JSON
    /// body sent with a 2xx answer) against the document's operation for the path.
    fn call(
        &mut self,
        c: &mut Client,
        method: &str,
        path: &str,
        body: Body<'_>,
        want: u16,
    ) -> Resp {
        let template = &self.template(path);
        let resp = match &body {
            Body::None => c.send(method, path, "", b""),
            Body::Json(v) => c.post_json(path, v),
            Body::Raw(kind, bytes) => c.send(method, path, kind, bytes),
        };
        assert_eq!(
            resp.status,
            want,
            "{method} {path}: {}",
            String::from_utf8_lossy(&resp.body[..resp.body.len().min(400)])
        );
        if let (Body::Json(sent), 200..=299) = (&body, resp.status) {
            self.check_request(method, template, sent);
        }
        self.check_answer(method, template, &resp);
        resp
    }

    /// Posts a batch to `path` (expecting 202, checked like any call), waits for it
    /// and checks the state it ended in: its id.
    fn batch(&mut self, c: &mut Client, path: &str, body: Body<'_>, state: &str) -> u64 {
        let r = self.call(c, "POST", path, body, 202);
        let id = r.json()["id"].as_u64().unwrap();
        assert_eq!(wait_done(c, Duration::from_secs(60), id)["state"], state);
        id
    }

    fn op(&self, method: &str, template: &str) -> &Value {
        let op = &self.doc["paths"][template][method.to_lowercase()];
        assert!(op.is_object(), "{method} {template} is not in the document");
        op
    }

    fn check_request(&mut self, method: &str, template: &str, sent: &Value) {
        let schema =
            &self.op(method, template)["requestBody"]["content"]["application/json"]["schema"];
        let mut errors = Vec::new();
        if schema.is_null() {
            errors.push("no application/json request body is documented".to_string());
        } else {
            Checker { doc: &self.doc }.check(schema, sent, "request", &mut errors);
        }
        for e in errors {
            self.failures.push(format!("{method} {template}: {e}"));
        }
    }

    fn check_answer(&mut self, method: &str, template: &str, resp: &Resp) {
        let mut errors = Vec::new();
        let response = deref(
            &self.doc,
            &self.op(method, template)["responses"][resp.status.to_string()],
        );
        if !response.is_object() {
            errors.push(format!("status {} is not documented", resp.status));
        }
        for (name, header) in response["headers"].as_object().into_iter().flatten() {
            if header["required"] == true && resp.header(name).is_none() {
                errors.push(format!("status {}: no `{name}` header", resp.status));
            }
        }
        if let Some(content) = response["content"].as_object() {
            let kind = resp.header("content-type").unwrap_or("");
            let media = kind.split(';').next().unwrap_or("").trim().to_lowercase();
            match content.get(&media) {
                None => errors.push(format!(
                    "status {}: content type `{kind}` is not documented",
                    resp.status
                )),
                Some(m) if media == "application/json" => {
                    match serde_json::from_slice::<Value>(&resp.body) {
                        Ok(v) => Checker { doc: &self.doc }.check(
                            &m["schema"],
                            &v,
                            &format!("{}", resp.status),
                            &mut errors,
                        ),
                        Err(e) => errors.push(format!("status {}: not JSON: {e}", resp.status)),
                    }
                }
                Some(m) => {
                    let text = std::str::from_utf8(&resp.body);
                    if m["schema"]["format"] != "binary" && text.is_err() {
                        errors.push(format!("status {}: the body is not text", resp.status));
                    }
                    if resp.body.is_empty() {
                        errors.push(format!("status {}: empty body", resp.status));
                    }
                }
            }
        } else if !resp.body.is_empty() {
            errors.push(format!(
                "status {}: a body where none is documented",
                resp.status
            ));
        }
        for e in &errors {
            self.failures.push(format!("{method} {template}: {e}"));
        }
        self.seen
            .insert((method.to_string(), template.to_string(), resp.status));
    }
}

#[test]
fn the_document_is_openapi_3_1_served_as_written() {
    let server = start(demo_config());
    let mut c = Client::new(server.addr());
    let r = c.get("/v1/openapi.json");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.text(), doc_text(), "the binary serves docs/openapi.json");
    let d = doc();
    assert!(
        d["openapi"].as_str().is_some_and(|v| v.starts_with("3.1.")),
        "{}",
        d["openapi"]
    );
    assert!(d["info"]["title"].is_string() && d["info"]["version"].is_string());
    let bearer = &d["components"]["securitySchemes"]["bearer"];
    assert_eq!(
        (&bearer["type"], &bearer["scheme"]),
        (&json!("http"), &json!("bearer"))
    );
    assert_eq!(d["security"], json!([{"bearer": []}]));

    // Every example of a JSON body (answers and requests) fits its own schema, and every
    // schema of the document uses only what the checker knows.
    let checker = Checker { doc: &d };
    let mut errors = Vec::new();
    let mut examples = 0;
    for (method, path) in operations(&d) {
        let op = &d["paths"][&path][method.to_lowercase()];
        let mut media = vec![(
            "request".to_string(),
            &op["requestBody"]["content"]["application/json"],
        )];
        for (status, response) in op["responses"].as_object().unwrap() {
            let response = deref(&d, response);
            media.push((status.clone(), &response["content"]["application/json"]));
        }
        for (what, m) in media {
            if m.is_null() {
                continue;
            }
            for (name, example) in m["examples"].as_object().into_iter().flatten() {
                examples += 1;
                let at = format!("{method} {path} {what} example `{name}`");
                checker.check(&m["schema"], &example["value"], &at, &mut errors);
            }
        }
    }
    for (name, schema) in d["components"]["schemas"].as_object().unwrap() {
        keywords(schema, name);
    }
    for (method, path) in operations(&d) {
        let op = &d["paths"][&path][method.to_lowercase()];
        for (i, parameter) in op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let schema = &deref(&d, parameter)["schema"];
            keywords(schema, &format!("{method} {path} parameter {i}"));
        }
        let bodies = op["responses"]
            .as_object()
            .unwrap()
            .values()
            .chain([&op["requestBody"]]);
        for body in bodies {
            for (media, m) in deref(&d, body)["content"].as_object().into_iter().flatten() {
                keywords(&m["schema"], &format!("{method} {path} {media}"));
            }
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    assert!(examples >= 15, "only {examples} examples");
}

#[test]
fn its_paths_and_methods_are_the_routers_routes() {
    let d = doc();
    let documented = operations(&d);
    let served: BTreeSet<(String, String)> = drgdip_serve::routes()
        .into_iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(
        documented.difference(&served).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "documented but not routed"
    );
    assert_eq!(
        served.difference(&documented).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "routed but not documented"
    );
    // The table is what the router serves: each route answers its method, and the
    // other method gets a JSON 405 (not the 404 of an unknown path).
    let server = start(demo_config());
    let mut c = Client::new(server.addr());
    for (method, path) in &served {
        let path = path.replace("{id}", "1");
        let r = c.send(method, &path, "", b"");
        assert_ne!(r.status, 405, "{method} {path}");
        if r.status == 404 {
            assert_eq!(r.json()["field"], "id", "{method} {path}: {}", r.text());
        }
        let other = if method == "GET" { "POST" } else { "GET" };
        let r = c.send(other, &path, "", b"");
        assert_eq!(r.status, 405, "{other} {path}: {}", r.text());
        assert!(r.json()["error"].as_str().unwrap().contains(other));
    }
}

/// A JSON body over a 4 KiB limit.
fn oversized() -> Value {
    json!({"case": {"sex": 1, "age": 3, "dept": "x".repeat(5000), "dx": ["J18.900"]}})
}

#[test]
fn every_documented_status_of_every_route_is_a_real_answer() {
    let mut p = Probe::new();
    let small = generated_cases(40, 3);
    let broken = b"x,y\n1,2\n".as_slice();
    let one = json!({"case": pneumonia()});

    {
        // The demo scheme, catalogue and policy: the answers that work and the bad inputs.
        let server = start(demo_config());
        let mut c = Client::new(server.addr());
        p.call(&mut c, "POST", "/v1/group", Body::Json(one.clone()), 200);
        let mut bad = pneumonia();
        bad["age"] = json!("old");
        let many =
            json!({"method": "both", "cases": [pneumonia(), bad, {"age": 3, "dx": "J18.900"}]});
        let r = p.call(&mut c, "POST", "/v1/group", Body::Json(many), 200);
        assert_eq!(r.json()["results"][1]["field"], "cases[1].age");
        assert_eq!(r.json()["results"][2]["drg"]["status"], "invalid");
        p.call(
            &mut c,
            "POST",
            "/v1/group",
            Body::Raw("application/json", b"{"),
            400,
        );
        let typo = json!({"case": {"sex": 1, "agee": 3, "dx": ["J18.900"]}});
        p.call(&mut c, "POST", "/v1/group", Body::Json(typo), 400);
        p.call(&mut c, "POST", "/v1/explain", Body::Json(one.clone()), 200);
        let bad_age = json!({"case": {"sex": 1, "age": "x", "dx": ["J18.900"]}});
        p.call(&mut c, "POST", "/v1/explain", Body::Json(bad_age), 400);
        p.call(&mut c, "POST", "/v1/price", Body::Json(one.clone()), 200);
        let mut level = pneumonia();
        level["hospital_level"] = json!("9");
        let r = p.call(
            &mut c,
            "POST",
            "/v1/price",
            Body::Json(json!({"case": level})),
            400,
        );
        assert_eq!(r.json()["field"], "case.hospital_level");
        // A JSON case has no line for the message to name.
        assert!(
            r.json()["error"]
                .as_str()
                .unwrap()
                .starts_with("field `hospital_level`")
        );
        p.call(&mut c, "POST", "/v1/changes", Body::Json(one.clone()), 200);
        p.call(&mut c, "POST", "/v1/changes", Body::Json(json!({})), 400);
        for q in [
            "q=J18&kind=dx&limit=5",
            "q=96.7201&kind=px&limit=1",
            "q=%E8%82%BA%E7%82%8E",
        ] {
            p.call(&mut c, "GET", &format!("/v1/codes?{q}"), Body::None, 200);
        }
        p.call(&mut c, "GET", "/v1/codes?q=J&kind=zz", Body::None, 400);
        p.call(&mut c, "GET", "/v1/schemes", Body::None, 200);
        p.call(&mut c, "GET", "/v1/openapi.json", Body::None, 200);
        p.call(&mut c, "GET", "/healthz", Body::None, 200);
        p.call(&mut c, "GET", "/metrics", Body::None, 200);
        for page in ["/", "/app.js", "/app.css"] {
            p.call(&mut c, "GET", page, Body::None, 200);
        }
        p.call(&mut c, "POST", "/v1/admin/reload", Body::None, 200);

        // Batches: accepted, status, result (CSV and workbook), streamed, and the errors.
        let csv = Body::Raw("text/csv", &small);
        let id = p.batch(&mut c, "/v1/batch?method=drg", csv, "done");
        let status = format!("/v1/batch/{id}?groups=5");
        p.call(&mut c, "GET", &status, Body::None, 200);
        let result = format!("/v1/batch/{id}/result");
        let r = p.call(&mut c, "GET", &result, Body::None, 200);
        assert_eq!(r.body, library_grouped(&small, false));
        let xlsx = "/v1/batch?output=priced&format=xlsx";
        let id = p.batch(&mut c, xlsx, Body::Raw("text/csv", &small), "done");
        let result = format!("/v1/batch/{id}/result");
        let r = p.call(&mut c, "GET", &result, Body::None, 200);
        assert!(r.body.starts_with(b"PK\x03\x04"));
        let streamed = "/v1/batch?stream=1&method=dip";
        let r = p.call(&mut c, "POST", streamed, Body::Raw("text/csv", &small), 200);
        assert_eq!(r.body, library_grouped(&small, true));
        let id: u64 = r.header("x-batch-id").unwrap().parse().unwrap();
        wait_done(&mut c, Duration::from_secs(60), id);
        let result = format!("/v1/batch/{id}/result");
        p.call(&mut c, "GET", &result, Body::None, 410);
        let id = p.batch(&mut c, "/v1/batch", Body::Raw("text/csv", broken), "failed");
        let result = format!("/v1/batch/{id}/result");
        p.call(&mut c, "GET", &result, Body::None, 409);
        let groups = format!("/v1/batch/{id}?groups=many");
        p.call(&mut c, "GET", &groups, Body::None, 400);
        let streamed_broken = Body::Raw("text/csv", broken);
        let r = p.call(&mut c, "POST", "/v1/batch?stream=1", streamed_broken, 422);
        assert!(r.json()["error"].as_str().unwrap().contains("case_id"));
        p.call(
            &mut c,
            "POST",
            "/v1/batch?method=x",
            Body::Raw("text/csv", &small),
            400,
        );
        p.call(&mut c, "GET", "/v1/batch/999", Body::None, 404);
        p.call(&mut c, "GET", "/v1/batch/999/result", Body::None, 404);
    }

    {
        // Small limits: 413 on every JSON case route and on a batch, 429 on a second batch.
        let server = start(small_limits(30));
        let mut c = Client::new(server.addr());
        for route in ["/v1/group", "/v1/explain", "/v1/price", "/v1/changes"] {
            let r = p.call(&mut c, "POST", route, Body::Json(oversized()), 413);
            assert_eq!(r.json()["field"], "body");
        }
        let four = json!({"cases": [pneumonia(), pneumonia(), pneumonia(), pneumonia()]});
        p.call(&mut c, "POST", "/v1/group", Body::Json(four), 413);
        p.call(
            &mut c,
            "POST",
            "/v1/batch",
            Body::Raw("text/csv", &small),
            413,
        );
        // An upload that never ends holds the only batch permit once its job runs
        // (and nothing else does: the jobs before it are over).
        wait_running(&mut c, 0);
        let mut hold = TcpStream::connect(server.addr()).unwrap();
        let head = format!(
            "POST /v1/batch HTTP/1.1\r\nHost: {}\r\nContent-Type: text/csv\r\nContent-Length: 1000000\r\n\r\ncase_id,sex,age,diagnoses\n",
            server.addr()
        );
        hold.write_all(head.as_bytes()).unwrap();
        wait_running(&mut c, 1);
        let one_row = b"case_id,sex,age,diagnoses\n1,1,3,J18.900\n".as_slice();
        p.call(
            &mut c,
            "POST",
            "/v1/batch",
            Body::Raw("text/csv", one_row),
            429,
        );
        drop(hold);
    }

    {
        // Parts missing: 503 where a route needs them.
        let mut config = demo_config();
        config.sources.catalog = None;
        config.sources.policy = None;
        let server = start(config);
        let mut c = Client::new(server.addr());
        let dip = json!({"method": "dip", "case": pneumonia()});
        p.call(&mut c, "POST", "/v1/group", Body::Json(dip.clone()), 503);
        p.call(&mut c, "POST", "/v1/explain", Body::Json(dip), 503);
        p.call(&mut c, "POST", "/v1/price", Body::Json(one.clone()), 503);
        let priced = "/v1/batch?output=priced";
        p.call(&mut c, "POST", priced, Body::Raw("text/csv", &small), 503);
        // Changes without a policy: the changes, and why there are no payments.
        let r = p.call(&mut c, "POST", "/v1/changes", Body::Json(one.clone()), 200);
        assert_eq!(r.json()["payment_error"], "no policy is loaded");
    }
    {
        let mut config = demo_config();
        config.sources.schemes.clear();
        let server = start(config);
        let mut c = Client::new(server.addr());
        p.call(&mut c, "POST", "/v1/changes", Body::Json(one.clone()), 503);
        // The catalogue's own codes (no scheme to name them).
        let r = p.call(&mut c, "GET", "/v1/codes?q=J18", Body::None, 200);
        assert!(r.json()["scheme"].is_null());
    }

    {
        // The token: every operation the document secures answers 401 without it; the
        // others answer without it.
        let mut config = demo_config();
        config.token = Some("t0ken".into());
        let server = start(config);
        let mut c = Client::new(server.addr());
        let d = doc();
        for (method, path) in operations(&d) {
            let op = &d["paths"][&path][method.to_lowercase()];
            let open = op["security"] == json!([]);
            let want = if open { 200 } else { 401 };
            let r = p.call(
                &mut c,
                &method,
                &path.replace("{id}", "1"),
                Body::None,
                want,
            );
            if !open {
                assert_eq!(r.header("www-authenticate"), Some("Bearer"));
            }
        }
    }

    // A reload that fails (the policy file broken) keeps the loaded set: 422.
    let dir = std::env::temp_dir().join(format!("drgdip-openapi-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    {
        let mut config = demo_config();
        let policy = policy_copy(&dir);
        config.sources.policy = Some(policy.clone());
        let server = start(config);
        let mut c = Client::new(server.addr());
        std::fs::write(&policy, "not toml [").unwrap();
        p.call(&mut c, "POST", "/v1/admin/reload", Body::None, 422);
    }
    let _ = std::fs::remove_dir_all(&dir);

    let documented = documented_statuses(&p.doc);
    for unseen in documented.difference(&p.seen) {
        p.failures
            .push(format!("{unseen:?} is documented but was never answered"));
    }
    assert!(p.failures.is_empty(), "{}", p.failures.join("\n"));
}
