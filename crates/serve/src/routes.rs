//! The routes: each a thin shell over [`crate::engine`], [`crate::batch`] and the
//! loaded set.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Query, Request, State};
use axum::handler::Handler;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::batch::{self, BatchSpec, Method, Output};
use crate::case::{CaseJson, CaseText};
use crate::engine;
use crate::{ApiError, AppState};
use drgdip_io::Cancel;

const INDEX_HTML: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const APP_CSS: &str = include_str!("../assets/app.css");
/// The OpenAPI 3.1 description of these routes (`docs/openapi.json`).
const OPENAPI: &str = include_str!("../../../docs/openapi.json");

/// The HTTP methods the routes use.
#[derive(Debug, Clone, Copy)]
enum Verb {
    Get,
    Post,
}

impl Verb {
    fn name(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
        }
    }

    fn filter(self) -> MethodFilter {
        match self {
            Verb::Get => MethodFilter::GET,
            Verb::Post => MethodFilter::POST,
        }
    }
}

/// The limits a route runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    /// JSON requests (and the small fixed answers): the JSON body limit and the
    /// per-request time limit.
    Json,
    /// Uploads, downloads and reloads: their own limits, no time limit.
    Slow,
}

/// One route: its method and path, its lane and its handler.
struct Entry {
    verb: Verb,
    path: &'static str,
    lane: Lane,
    handler: MethodRouter<AppState>,
}

fn entry<H, T>(verb: Verb, path: &'static str, lane: Lane, handler: H) -> Entry
where
    H: Handler<T, AppState>,
    T: 'static,
{
    Entry {
        verb,
        path,
        lane,
        handler: on(verb.filter(), handler),
    }
}

/// The route table [`router`] is built from (and [`routes`] lists).
fn table() -> Vec<Entry> {
    use Lane::{Json, Slow};
    use Verb::{Get, Post};
    vec![
        entry(Post, "/v1/group", Json, group),
        entry(Post, "/v1/explain", Json, explain),
        entry(Post, "/v1/price", Json, price),
        entry(Post, "/v1/changes", Json, changes),
        entry(Get, "/v1/codes", Json, codes),
        entry(Get, "/v1/schemes", Json, schemes),
        entry(Get, "/v1/openapi.json", Json, openapi),
        entry(Post, "/v1/batch", Slow, batch_start),
        entry(Get, "/v1/batch/{id}", Json, batch_status),
        entry(Get, "/v1/batch/{id}/result", Slow, batch_result),
        entry(Post, "/v1/admin/reload", Slow, reload),
        entry(Get, "/healthz", Json, healthz),
        entry(Get, "/metrics", Json, metrics),
        entry(Get, "/", Json, || async {
            page(INDEX_HTML, "text/html; charset=utf-8")
        }),
        entry(Get, "/app.js", Json, || async {
            page(APP_JS, "text/javascript; charset=utf-8")
        }),
        entry(Get, "/app.css", Json, || async {
            page(APP_CSS, "text/css; charset=utf-8")
        }),
    ]
}

/// Every route [`router`] serves, as `(method, path)` in the router's path syntax
/// (`/v1/batch/{id}`): the table the router is built from, for checking a
/// description of the API (`docs/openapi.json`) against it.
pub fn routes() -> Vec<(&'static str, &'static str)> {
    table().iter().map(|e| (e.verb.name(), e.path)).collect()
}

/// The whole application: API, workbench, health and metrics, with the token check,
/// the limits and the counters.
pub fn router(state: AppState) -> Router {
    let limits = state.0.limits.clone();
    let mut json = Router::new();
    let mut slow = Router::new();
    for e in table() {
        match e.lane {
            Lane::Json => json = json.route(e.path, e.handler),
            Lane::Slow => slow = slow.route(e.path, e.handler),
        }
    }
    let json = json
        .layer(DefaultBodyLimit::max(limits.json_body))
        .route_layer(middleware::from_fn_with_state(state.clone(), timeout));
    json.merge(slow)
        .fallback(|| async { ApiError::with(StatusCode::NOT_FOUND, "no such route", None) })
        .method_not_allowed_fallback(|req: Request| async move {
            ApiError::with(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{} is not a method of {}", req.method(), req.uri().path()),
                None,
            )
        })
        .route_layer(middleware::from_fn_with_state(state.clone(), auth))
        .layer(middleware::from_fn_with_state(state.clone(), count))
        .with_state(state)
}

fn page(text: &'static str, kind: &'static str) -> Response {
    ([(header::CONTENT_TYPE, kind)], text).into_response()
}

/// `GET /v1/openapi.json`: the API's OpenAPI description, embedded.
async fn openapi() -> Response {
    page(OPENAPI, "application/json")
}

/// Counts every request by route and status, with its latency.
async fn count(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let response = next.run(req).await;
    state
        .0
        .metrics
        .record(&route, response.status().as_u16(), started.elapsed());
    response
}

/// `/v1/…` and `/metrics` need the bearer token when the server has one; the page, its
/// assets and `/healthz` do not (they hold no data; the page asks for the token).
async fn auth(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(token) = &state.0.token else {
        return next.run(req).await;
    };
    let path = req.uri().path();
    if !(path.starts_with("/v1/") || path == "/metrics") {
        return next.run(req).await;
    }
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or("");
    if constant_time_eq(given.as_bytes(), token) {
        next.run(req).await
    } else {
        let mut r = ApiError::with(
            StatusCode::UNAUTHORIZED,
            "a valid bearer token is required (Authorization: Bearer …)",
            Some("authorization"),
        )
        .into_response();
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        r
    }
}

/// Compares in time independent of where the inputs differ (only the length leaks).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Bounds the time of a JSON request.
async fn timeout(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = state.0.limits.request_timeout;
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ApiError::with(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the request took longer than {} s", limit.as_secs_f64()),
            None,
        )
        .into_response(),
    }
}

/// The body, or its rejection (too large, unreadable) as a JSON error.
fn take(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|r| {
        let status = r.status();
        let text = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "the body is larger than the server's limit".to_string()
        } else {
            r.body_text()
        };
        ApiError::with(status, text, Some("body"))
    })
}

/// Parses a JSON body; errors name the field (`case.age`, `cases[2].dx`).
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let msg = inner.to_string();
        let mut field = (path != "." && path != "?").then_some(path);
        if let Some(rest) = msg.strip_prefix("unknown field `")
            && let Some((name, _)) = rest.split_once('`')
        {
            field = Some(match field {
                Some(p) if p == name || p.ends_with(&format!(".{name}")) => p,
                Some(p) => format!("{p}.{name}"),
                None => name.to_string(),
            });
        }
        let what = if inner.is_syntax() || inner.is_eof() {
            format!("the body is not valid JSON: {msg}")
        } else {
            msg
        };
        ApiError::bad(what, field)
    })
}

/// The body of the case routes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseRequest {
    scheme: Option<String>,
    method: Option<String>,
    case: Option<CaseJson>,
    cases: Option<Vec<CaseJson>>,
}

impl CaseRequest {
    fn one(&self) -> Result<CaseText, ApiError> {
        match &self.case {
            Some(c) => c.to_text("1", "case."),
            None => Err(ApiError::bad("the body has no `case`", Some("case".into()))),
        }
    }
}

/// Which groupings a request asks for: `drg`, `dip`, `both`; by default every one the
/// server has loaded.
fn methods(state: &crate::Loaded, method: Option<&str>) -> Result<(bool, bool), ApiError> {
    let (drg, dip) = match method {
        None | Some("") => (!state.schemes.is_empty(), state.catalog.is_some()),
        Some("drg") => (true, false),
        Some("dip") => (false, true),
        Some("both") => (true, true),
        Some(other) => {
            return Err(ApiError::bad(
                format!("`method` is `{other}`; expected drg, dip or both"),
                Some("method".into()),
            ));
        }
    };
    if drg && state.schemes.is_empty() {
        return Err(ApiError::unavailable(
            "no DRG scheme is loaded (start with --scheme)",
        ));
    }
    if dip && state.catalog.is_none() {
        return Err(ApiError::unavailable(
            "no DIP catalogue is loaded (start with --catalog)",
        ));
    }
    Ok((drg, dip))
}

fn json_response(value: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => ([(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(e) => ApiError::internal(e.to_string()).into_response(),
    }
}

/// `POST /v1/group`: one case (`case`) or many (`cases`).
async fn group(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let req: CaseRequest = parse(&take(body)?)?;
    let loaded = state.0.loaded.load_full();
    let (drg, dip) = methods(&loaded, req.method.as_deref())?;
    if drg {
        loaded.scheme(req.scheme.as_deref())?;
    }
    match (&req.case, &req.cases) {
        (Some(_), Some(_)) => Err(ApiError::bad(
            "give `case` or `cases`, not both",
            Some("cases".into()),
        )),
        (Some(_), None) => {
            let text = req.one()?;
            let mut answer = serde_json::Map::new();
            if drg {
                let entry = loaded.scheme(req.scheme.as_deref())?;
                engine::parse_drg(entry, &text, "case.")?;
                let r = engine::group_drg(entry, std::slice::from_ref(&text));
                answer.insert(
                    "drg".into(),
                    Value::Object(r.into_iter().next().unwrap_or_default()),
                );
            }
            if dip {
                let entry = loaded.catalog()?;
                engine::parse_dip(entry, &text, "case.")?;
                let r = engine::group_dip(entry, std::slice::from_ref(&text));
                answer.insert(
                    "dip".into(),
                    Value::Object(r.into_iter().next().unwrap_or_default()),
                );
            }
            state.0.metrics.grouped(u64::from(drg), u64::from(dip));
            Ok(json_response(&answer))
        }
        (None, Some(cases)) => {
            let limit = state.0.limits.many_cases;
            if cases.len() > limit {
                return Err(ApiError::with(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "{} cases; at most {limit} in one request (use /v1/batch)",
                        cases.len()
                    ),
                    Some("cases"),
                ));
            }
            let n = cases.len() as u64;
            let req = Arc::new(req);
            let st = state.clone();
            // Past the time limit this future is dropped, and the guard stops the work.
            let cancel = Cancel::new();
            let _guard = CancelOnDrop(cancel.clone());
            let work = state.clone();
            let answer = tokio::task::spawn_blocking(move || {
                let _working = work.0.metrics.working();
                let r = many(&loaded, &req, drg, dip, &cancel);
                if r.is_err() && cancel.is_cancelled() {
                    work.0
                        .metrics
                        .cancelled
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                r
            })
            .await
            .map_err(|e| ApiError::internal(e.to_string()))??;
            st.0.metrics
                .grouped(if drg { n } else { 0 }, if dip { n } else { 0 });
            Ok(json_response(&answer))
        }
        (None, None) => Err(ApiError::bad(
            "the body has no `case` nor `cases`",
            Some("case".into()),
        )),
    }
}

/// Many cases: one result per case, in order; a case with a bad field gets
/// `{case_id, error, field}` instead of a result.
/// Sets its flag when dropped: the work of a request whose future is dropped (past its
/// time, or its client gone) stops at its next block.
struct CancelOnDrop(Cancel);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

fn many(
    loaded: &crate::Loaded,
    req: &CaseRequest,
    drg: bool,
    dip: bool,
    cancel: &Cancel,
) -> Result<Value, ApiError> {
    let stopped = |_| ApiError::unavailable("the request was cancelled (past its time)");
    let cases = req.cases.as_deref().unwrap_or_default();
    let scheme = if drg {
        Some(loaded.scheme(req.scheme.as_deref())?)
    } else {
        None
    };
    let catalog = if dip { Some(loaded.catalog()?) } else { None };
    let mut results: Vec<Value> = Vec::with_capacity(cases.len());
    let mut good: Vec<(usize, CaseText)> = Vec::with_capacity(cases.len());
    for (i, c) in cases.iter().enumerate() {
        if i % engine::CANCEL_BLOCK == 0 && cancel.is_cancelled() {
            return Err(stopped(engine::Cancelled));
        }
        let prefix = format!("cases[{i}].");
        let checked = c.to_text(&(i + 1).to_string(), &prefix).and_then(|text| {
            if let Some(s) = scheme {
                engine::parse_drg(s, &text, &prefix)?;
            }
            if let Some(c) = catalog {
                engine::parse_dip(c, &text, &prefix)?;
            }
            Ok(text)
        });
        match checked {
            Ok(text) => {
                results.push(Value::Null);
                good.push((i, text));
            }
            Err(e) => results.push(json!({
                "case_id": c.case_id.clone().unwrap_or(Value::String((i + 1).to_string())),
                "error": e.error,
                "field": e.field,
            })),
        }
    }
    let texts: Vec<CaseText> = good.iter().map(|(_, t)| t.clone()).collect();
    let drg_rows = scheme
        .map(|s| engine::group_drg_cancellable(s, &texts, cancel))
        .transpose()
        .map_err(stopped)?;
    let dip_rows = catalog
        .map(|c| engine::group_dip_cancellable(c, &texts, cancel))
        .transpose()
        .map_err(stopped)?;
    for (k, (i, _)) in good.iter().enumerate() {
        let mut m = serde_json::Map::new();
        if let Some(rows) = &drg_rows {
            m.insert("drg".into(), Value::Object(rows[k].clone()));
        }
        if let Some(rows) = &dip_rows {
            m.insert("dip".into(), Value::Object(rows[k].clone()));
        }
        results[*i] = Value::Object(m);
    }
    Ok(json!({ "results": results }))
}

/// `POST /v1/explain`: the explanation(s) of one case.
async fn explain(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let req: CaseRequest = parse(&take(body)?)?;
    let loaded = state.0.loaded.load();
    let (drg, dip) = methods(&loaded, req.method.as_deref())?;
    let text = req.one()?;
    let mut answer = serde_json::Map::new();
    if drg {
        let entry = loaded.scheme(req.scheme.as_deref())?;
        answer.insert("drg".into(), engine::explain_drg(entry, &text)?);
    }
    if dip {
        answer.insert("dip".into(), engine::explain_dip(loaded.catalog()?, &text)?);
    }
    state.0.metrics.grouped(u64::from(drg), u64::from(dip));
    Ok(json_response(&answer))
}

/// `POST /v1/price`: one case grouped and priced under the policy, per method the
/// policy pays by.
async fn price(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let req: CaseRequest = parse(&take(body)?)?;
    let loaded = state.0.loaded.load();
    let policy = loaded.policy()?;
    let (mut drg, mut dip) = methods(&loaded, req.method.as_deref())?;
    if req.method.is_none() {
        drg &= policy.policy.pricing.drg.is_some();
        dip &= policy.policy.pricing.dip.is_some();
    }
    let text = req.one()?;
    let mut answer = serde_json::Map::new();
    if drg {
        let entry = loaded.scheme(req.scheme.as_deref())?;
        engine::parse_drg(entry, &text, "case.")?;
        let group = engine::group_drg(entry, std::slice::from_ref(&text));
        let priced = engine::price(policy, &group, &[&text])?;
        if let Some(e) = engine::rejection(&priced[0], "case.") {
            return Err(e);
        }
        answer.insert("drg".into(), json!({"group": group[0], "price": priced[0]}));
    }
    if dip {
        let entry = loaded.catalog()?;
        engine::parse_dip(entry, &text, "case.")?;
        let group = engine::group_dip(entry, std::slice::from_ref(&text));
        let priced = engine::price(policy, &group, &[&text])?;
        if let Some(e) = engine::rejection(&priced[0], "case.") {
            return Err(e);
        }
        answer.insert("dip".into(), json!({"group": group[0], "price": priced[0]}));
    }
    if !drg && !dip {
        return Err(ApiError::unavailable(
            "the policy pays by neither of the loaded groupings",
        ));
    }
    state.0.metrics.grouped(u64::from(drg), u64::from(dip));
    Ok(json_response(&answer))
}

/// `POST /v1/changes`: every single drop/promotion that moves the case to another DRG.
async fn changes(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let req: CaseRequest = parse(&take(body)?)?;
    let loaded = state.0.loaded.load();
    let entry = loaded.scheme(req.scheme.as_deref())?;
    let text = req.one()?;
    let answer = engine::changes(entry, loaded.policy.as_ref(), &text)?;
    Ok(json_response(&answer))
}

/// `GET /v1/codes?q=…&kind=dx|px&limit=N&scheme=…`.
async fn codes(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    for k in q.keys() {
        if !["q", "kind", "limit", "scheme"].contains(&k.as_str()) {
            return Err(ApiError::bad(
                format!("unknown parameter `{k}`"),
                Some(k.clone()),
            ));
        }
    }
    let loaded = state.0.loaded.load();
    // Without a DRG scheme, the catalogue's own codes are searched.
    let scheme = if loaded.schemes.is_empty() && loaded.catalog.is_some() {
        None
    } else {
        Some(loaded.scheme(q.get("scheme").map(String::as_str))?)
    };
    let catalog = loaded.catalog.as_ref().map(|c| &c.catalog);
    let query = q.get("q").map(String::as_str).unwrap_or("").trim();
    if query.is_empty() {
        return Err(ApiError::bad(
            "`q` (a code prefix or part of a name) is required",
            Some("q".into()),
        ));
    }
    let kind = match q.get("kind").map(String::as_str) {
        None | Some("") | Some("any") => None,
        Some("dx") => Some(drgdip_grouper::CodeKind::Diagnosis),
        Some("px") => Some(drgdip_grouper::CodeKind::Procedure),
        Some(other) => {
            return Err(ApiError::bad(
                format!("`kind` is `{other}`; expected dx, px or any"),
                Some("kind".into()),
            ));
        }
    };
    let limit = match q.get("limit") {
        None => 20,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=200).contains(&n) => n,
            _ => {
                return Err(ApiError::bad(
                    format!("`limit` is `{l}`; expected 1 to 200"),
                    Some("limit".into()),
                ));
            }
        },
    };
    let dip_kind = |k: &str| match (kind, k) {
        (Some(k), _) => k,
        (None, "procedure") => drgdip_grouper::CodeKind::Procedure,
        (None, _) => drgdip_grouper::CodeKind::Diagnosis,
    };
    let codes: Vec<Value> = match scheme {
        Some(entry) => entry
            .grouper
            .search_codes(query, kind, limit)
            .into_iter()
            .map(|c| {
                let dip = catalog.map(|cat| cat.dip_code_info(&c.code, dip_kind(&c.kind)));
                let mut v = serde_json::to_value(&c).unwrap_or_default();
                v["dip"] = serde_json::to_value(dip).unwrap_or_default();
                v
            })
            .collect(),
        None => catalog
            .map(|cat| cat.search_dip_codes(query, kind, limit))
            .unwrap_or_default()
            .into_iter()
            .map(|d| json!({"code": d.code, "kind": d.kind, "dip": d}))
            .collect(),
    };
    Ok(json_response(&json!({
        "scheme": scheme.map(|e| e.grouper.info().label()),
        "catalog": catalog.map(|c| c.info().label()),
        "codes": codes,
    })))
}

/// `GET /v1/schemes`.
async fn schemes(State(state): State<AppState>) -> Response {
    json_response(&state.0.loaded.load().describe())
}

/// `GET /healthz`.
async fn healthz(State(state): State<AppState>) -> Response {
    json_response(&json!({"status": "ok", "generation": state.0.loaded.load().generation}))
}

/// `GET /metrics`.
async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.0.metrics.render(),
    )
        .into_response()
}

/// `POST /v1/admin/reload`.
async fn reload(State(state): State<AppState>) -> Result<Response, ApiError> {
    let s = state.clone();
    let generation = tokio::task::spawn_blocking(move || s.reload())
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| {
            ApiError::with(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("reload failed, the loaded set is kept: {e}"),
                None,
            )
        })?;
    Ok(json_response(&json!({"generation": generation})))
}

/// Forgets a job unless disarmed: the job of a request that ends without handing its
/// id to the client (an error, a client gone mid-upload) is not kept.
struct Forget {
    state: AppState,
    id: u64,
    armed: bool,
}

impl Drop for Forget {
    fn drop(&mut self) {
        if self.armed {
            self.state.0.jobs.remove(self.id);
        }
    }
}

/// The error answer of a job that stopped before its result: 413 at a limit, else
/// 422 with the job's message.
fn job_error(job: &batch::BatchJob, limits: &crate::Limits) -> ApiError {
    match job.limit() {
        Some(batch::Limit::Bytes) => ApiError::with(
            StatusCode::PAYLOAD_TOO_LARGE,
            batch::too_large_message(limits.batch_body),
            Some("body"),
        ),
        Some(batch::Limit::Rows) => ApiError::with(
            StatusCode::PAYLOAD_TOO_LARGE,
            batch::too_many_rows_message(limits.batch_rows),
            Some("body"),
        ),
        None => ApiError::with(
            StatusCode::UNPROCESSABLE_ENTITY,
            job.error()
                .unwrap_or_else(|| "the batch stopped without a result".into()),
            Some("body"),
        ),
    }
}

/// `POST /v1/batch?method=drg|dip&output=grouped|priced&stream=1&…`: starts a job on
/// the upload as it arrives. Without `stream`, answers 202 with the job's id once the
/// upload is read (the job may still be running); with `stream=1`, the response body
/// is the result, written as it is produced, with the id in `X-Batch-Id`.
async fn batch_start(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
    headers: header::HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    for k in q.keys() {
        if ![
            "method", "output", "scheme", "columns", "encoding", "sheet", "format", "stream",
        ]
        .contains(&k.as_str())
        {
            return Err(ApiError::bad(
                format!("unknown parameter `{k}`"),
                Some(k.clone()),
            ));
        }
    }
    let loaded = state.0.loaded.load_full();
    let method = match q.get("method").map(String::as_str) {
        None | Some("") if !loaded.schemes.is_empty() => Method::Drg,
        None | Some("") => Method::Dip,
        Some("drg") => Method::Drg,
        Some("dip") => Method::Dip,
        Some(o) => {
            return Err(ApiError::bad(
                format!("`method` is `{o}`; expected drg or dip"),
                Some("method".into()),
            ));
        }
    };
    match method {
        Method::Drg => {
            loaded.scheme(q.get("scheme").map(String::as_str))?;
        }
        Method::Dip => {
            loaded.catalog()?;
        }
    }
    let output = match q.get("output").map(String::as_str) {
        None | Some("") | Some("grouped") => Output::Grouped,
        Some("priced") => {
            loaded.policy()?;
            Output::Priced
        }
        Some(o) => {
            return Err(ApiError::bad(
                format!("`output` is `{o}`; expected grouped or priced"),
                Some("output".into()),
            ));
        }
    };
    let xlsx = match q.get("format").map(String::as_str) {
        None | Some("") | Some("csv") => false,
        Some("xlsx") => true,
        Some(o) => {
            return Err(ApiError::bad(
                format!("`format` is `{o}`; expected csv or xlsx"),
                Some("format".into()),
            ));
        }
    };
    let stream = match q.get("stream").map(String::as_str) {
        None | Some("") | Some("0") | Some("false") => false,
        Some("1") | Some("true") => true,
        Some(o) => {
            return Err(ApiError::bad(
                format!("`stream` is `{o}`; expected 1 or 0"),
                Some("stream".into()),
            ));
        }
    };
    let columns = match q.get("columns") {
        None => None,
        Some(c) => Some(
            drgdip_io::mapping::ColumnMap::builtin(c)
                .map_err(|e| ApiError::bad(e.to_string(), Some("columns".into())))?,
        ),
    };
    let encoding = match q.get("encoding") {
        None => None,
        Some(e) => Some(
            drgdip_io::decode::encoding_for_label(e)
                .map_err(|err| ApiError::bad(err.to_string(), Some("encoding".into())))?,
        ),
    };
    let limits = &state.0.limits;
    let declared: Option<u64> = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    match declared {
        Some(0) => {
            return Err(ApiError::bad(
                "the body is empty: send the case file (CSV or .xlsx)",
                Some("body".into()),
            ));
        }
        Some(n) if n > limits.batch_body as u64 => {
            return Err(ApiError::with(
                StatusCode::PAYLOAD_TOO_LARGE,
                batch::too_large_message(limits.batch_body),
                Some("body"),
            ));
        }
        _ => {}
    }
    let permit = state.0.batches.clone().try_acquire_owned().map_err(|_| {
        ApiError::with(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "{} batches are running (the server's limit); try again later",
                limits.concurrent_batches
            ),
            None,
        )
    })?;
    let spec = BatchSpec {
        method,
        output,
        scheme: q.get("scheme").cloned(),
        columns,
        encoding,
        sheet: q.get("sheet").cloned(),
        xlsx,
        max_rows: limits.batch_rows,
        stream,
        spool: state.0.spool.clone(),
    };
    let job = state
        .0
        .jobs
        .create(spec, declared.unwrap_or(0), limits.kept_batches);
    let mut forget = Forget {
        state: state.clone(),
        id: job.id,
        armed: true,
    };
    state
        .0
        .metrics
        .batches
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (tx, rx) = tokio::sync::mpsc::channel::<batch::Chunk>(UPLOAD_CHUNKS);
    let (consumed, consumed_rx) = batch::Consumed::new();
    let (out_tx, mut out_rx) = tokio::sync::mpsc::channel(RESULT_CHUNKS);
    let writer = stream.then(|| batch::ChannelWriter::new(out_tx, job.cancel.clone()));
    let j = job.clone();
    let st = state.clone();
    tokio::task::spawn_blocking(move || {
        let _working = st.0.metrics.working();
        let counted = batch::run(&loaded, &j, batch::Upload::new(rx), consumed, writer);
        st.0.metrics.grouped(counted.drg, counted.dip);
        if j.cancel.is_cancelled() && j.limit().is_none() {
            st.0.metrics
                .cancelled
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        drop(permit);
    });
    let limit = limits.batch_body as u64;
    if stream {
        // The upload goes on while the response is written.
        let j = job.clone();
        tokio::spawn(async move {
            if let (_, Some(rest)) = batch::pump(body, tx, &j, limit).await {
                batch::drain(rest, DRAIN_TIME).await;
            }
        });
        // Answer with the first bytes of the result, or the error that came first.
        let Some(Ok(first)) = out_rx.recv().await else {
            // Let the job record its end before reading why.
            let started = Instant::now();
            while !job.is_over() && started.elapsed() < std::time::Duration::from_secs(5) {
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
            return Err(job_error(&job, limits));
        };
        let (kind, ext) = result_kind(xlsx);
        forget.armed = false;
        let body = Body::new(batch::ChannelBody::new(Some(first), out_rx, None));
        return Ok((
            [
                (header::CONTENT_TYPE, kind.to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"batch-{}.{ext}\"", job.id),
                ),
                (
                    header::HeaderName::from_static("x-batch-id"),
                    job.id.to_string(),
                ),
            ],
            body,
        )
            .into_response());
    }
    drop(out_rx);
    let (pumped, rest) = batch::pump(body, tx, &job, limit).await;
    if let Some(rest) = rest {
        // Answer now; the rest of the upload is read and dropped meanwhile.
        tokio::spawn(batch::drain(rest, DRAIN_TIME));
    }
    match pumped {
        batch::Pumped::TooLarge => return Err(job_error(&job, limits)),
        batch::Pumped::Interrupted(why) => {
            return Err(ApiError::bad(why, Some("body".into())));
        }
        batch::Pumped::Complete(_) | batch::Pumped::Stopped => {}
    }
    // The job has read the whole upload (or stopped reading it): limits are known.
    let _ = consumed_rx.await;
    if job.limit().is_some() {
        return Err(job_error(&job, limits));
    }
    if job.bytes_read.load(std::sync::atomic::Ordering::Relaxed) == 0 {
        return Err(ApiError::bad(
            "the body is empty: send the case file (CSV or .xlsx)",
            Some("body".into()),
        ));
    }
    forget.armed = false;
    let mut r = json_response(&json!({
        "id": job.id,
        "status": format!("/v1/batch/{}", job.id),
        "result": format!("/v1/batch/{}/result", job.id),
    }));
    *r.status_mut() = StatusCode::ACCEPTED;
    Ok(r)
}

/// How long the rest of an upload no longer read is drained after the answer.
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(10);

/// Chunks of an upload in flight between the request and its job.
const UPLOAD_CHUNKS: usize = 16;
/// Chunks of a result in flight between its job and the response.
const RESULT_CHUNKS: usize = 8;

/// The content type and file extension of a result.
fn result_kind(xlsx: bool) -> (&'static str, &'static str) {
    if xlsx {
        (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        )
    } else {
        ("text/csv; charset=utf-8", "csv")
    }
}

fn job_of(state: &AppState, id: &str) -> Result<Arc<batch::BatchJob>, ApiError> {
    id.parse::<u64>()
        .ok()
        .and_then(|n| state.0.jobs.get(n))
        .ok_or_else(|| {
            ApiError::with(
                StatusCode::NOT_FOUND,
                format!("no batch job `{id}`"),
                Some("id"),
            )
        })
}

/// `GET /v1/batch/{id}?groups=N`.
async fn batch_status(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let job = job_of(&state, &id)?;
    let groups = match q.get("groups") {
        None => None,
        Some(n) => Some(n.parse::<usize>().map_err(|_| {
            ApiError::bad(
                format!("`groups` is `{n}`; expected a number"),
                Some("groups".into()),
            )
        })?),
    };
    Ok(json_response(
        &tokio::task::spawn_blocking(move || job.status(groups))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?,
    ))
}

/// `GET /v1/batch/{id}/result`: the spool file, streamed in chunks.
async fn batch_result(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let job = job_of(&state, &id)?;
    let finished = job.finished.lock().ok().and_then(|f| f.clone());
    let Some(f) = finished else {
        let status = job.status(None);
        return Err(ApiError::with(
            StatusCode::CONFLICT,
            match status.error {
                Some(e) => format!("batch {id} failed: {e}"),
                None => format!("batch {id} is not finished yet"),
            },
            None,
        ));
    };
    let Some((file, len, xlsx)) = f
        .result_file()
        .map_err(|e| ApiError::internal(format!("opening the result: {e}")))?
    else {
        return Err(ApiError::with(
            StatusCode::GONE,
            format!("batch {id} was streamed in the response of its upload; no result is kept"),
            None,
        ));
    };
    let (kind, ext) = result_kind(xlsx);
    let (tx, rx) = tokio::sync::mpsc::channel(RESULT_CHUNKS);
    tokio::task::spawn_blocking(move || batch::send_file(file, tx));
    let body = Body::new(batch::ChannelBody::new(None, rx, Some(len)));
    Ok((
        [
            (header::CONTENT_TYPE, kind.to_string()),
            (header::CONTENT_LENGTH, len.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"batch-{id}.{ext}\""),
            ),
        ],
        body,
    )
        .into_response())
}
