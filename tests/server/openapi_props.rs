//! A property test that drives the whole API from its own description, `/api/openapi.json`, on
//! SQLite and on PostgreSQL (with the demo data), and finds no 5xx and no answer outside the
//! documented schema.
//!
//! For every operation (path × method) it builds requests from the operation's schema with a small
//! seeded generator (`rand::StdRng`; the seed is printed, set `OPENAPI_PROPS_SEED` to replay it and
//! `OPENAPI_PROPS_ITERS` for more random cases per operation):
//!
//! - a valid-looking request as each caller: no token, a garbage token, and each demo role
//!   (coordinator, officer, supervisor, admin) plus a petitioner's join token;
//! - mutations: each required field missing (every one once, then at random), a field of the
//!   wrong JSON type, a field set to null, an unknown extra field, unicode (CJK, emoji, RTL, NUL,
//!   an escaped lone surrogate), a NUL in every free-text field, strings just below the 64 KiB
//!   body limit and at 100 KB, a top-level value of the wrong type, bodies that are not JSON or
//!   not `application/json`, path ids that are zero, negative, huge, overflowing or not numbers,
//!   garbage query parameters, required headers left out; a generated `If-Match` is often
//!   swapped for the resource's current ETag so that conditional writes get through too.
//!
//! Ids are drawn mostly from those the demo roles can list, so that many requests reach real
//! records. About 12,000 requests per backend with the defaults (~15 s on SQLite, ~30 s on
//! PostgreSQL).
//!
//! The WebSocket upgrade `/sessions/{id}/signal` is driven only as a plain GET (no upgrade
//! headers). Reads run first, then writes, with the operations that revoke the callers' own
//! tokens (logout, admin user changes) last, so that one mutation does not blind the rest.
//!
//! The rule every answer must keep:
//!
//! 1. the status is below 500 (503 would be allowed only with the database down; it is not here);
//! 2. the status is one the operation documents, with no exception: the answers every
//!    operation can earn before its handler runs are in the description too (400 for a body that
//!    is not JSON, not `application/json` or over the 64 KiB limit; 401 where `security` is
//!    declared; 404 for a path parameter that does not parse; 422 for a query parameter that does
//!    not parse), and the document check below requires them; valid JSON with a wrong type in an
//!    enum field is a 422 like any other field (the enums read through a string);
//! 3. an error (4xx) body is JSON with a non-empty string `code` and `message`, valid against the
//!    documented error schema;
//! 4. a 2xx body matches the documented content: JSON validated against the schema (`$ref`,
//!    `type` including `["x","null"]`, `required`, `properties`, `additionalProperties: false`
//!    outside `allOf`, `items`, `enum`, `minimum`, `date-time`/`date` formats; `oneOf`/`anyOf`
//!    pass when at least one branch does, as utoipa emits overlapping branches for `Option`s),
//!    another media type only when documented, and no body where none is documented.
//!
//! The document itself must also be sound: 3.1, every `in: path` parameter named in the path
//! template and every template parameter documented, every operation with responses, and the
//! generic answers above described wherever they can be earned.
//!
//! A second test sends every method the description does not list at each documented path: the
//! answer is 405 `method_not_allowed` with an `Allow` header naming exactly the listed methods.
//!
//! A request that gets no answer at all is sent once more on a fresh connection (a kept-alive
//! connection the server closed after refusing an oversized body can fail on the client's side);
//! only a second failure counts.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly by panicking"
)]

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::TestApp;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};

const DEFAULT_SEED: u64 = 0x0C04_7112_2026;
const DEFAULT_ITERS: usize = 120;
const BODY_LIMIT: usize = 64 * 1024;
const LONE_SURROGATE: &str = "__LONE_SURROGATE__";

const UNICODE: &[&str] = &[
    "浙江省杭州市西湖区人民法院",
    "😀👩‍⚖️🏛️",
    "مرحبا بالعالم",
    "עברית\u{202E}txt.exe",
    "nul\u{0}byte",
    "\u{FEFF}bom",
    "e\u{301}\u{301}\u{301}",
    "𠜎𠜱𠝹",
    "'; DROP TABLE users; --",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "%00%ff",
    "   ",
    "",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Caller {
    None,
    Garbage,
    Coordinator,
    Officer,
    Supervisor,
    Admin,
    Petitioner,
}

const CALLERS: [Caller; 7] = [
    Caller::None,
    Caller::Garbage,
    Caller::Coordinator,
    Caller::Officer,
    Caller::Supervisor,
    Caller::Admin,
    Caller::Petitioner,
];

struct Tokens {
    coordinator: String,
    officer: String,
    supervisor: String,
    admin: String,
    petitioner: String,
}

impl Tokens {
    fn of(&self, c: Caller) -> Option<String> {
        match c {
            Caller::None => None,
            Caller::Garbage => Some("eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.garbage".into()),
            Caller::Coordinator => Some(self.coordinator.clone()),
            Caller::Officer => Some(self.officer.clone()),
            Caller::Supervisor => Some(self.supervisor.clone()),
            Caller::Admin => Some(self.admin.clone()),
            Caller::Petitioner => Some(self.petitioner.clone()),
        }
    }
}

struct Op {
    method: String,
    path: String,
    op: Value,
}

impl Op {
    fn key(&self) -> String {
        format!("{} {}", self.method.to_uppercase(), self.path)
    }
    fn params(&self, location: &str) -> Vec<Value> {
        self.op["parameters"]
            .as_array()
            .map(|ps| ps.iter().filter(|p| p["in"] == location).cloned().collect())
            .unwrap_or_default()
    }
    fn body_schema(&self) -> Option<&Value> {
        self.op["requestBody"]["content"]["application/json"].get("schema")
    }
    fn secured(&self) -> bool {
        self.op["security"]
            .as_array()
            .is_some_and(|s| !s.is_empty())
    }
    fn documents(&self, status: u16) -> bool {
        self.op["responses"].get(status.to_string()).is_some()
    }
    /// Operations that revoke or change the callers' own accounts run last.
    fn rank(&self) -> u8 {
        match (self.method.as_str(), self.path.as_str()) {
            ("get", _) => 0,
            (_, p) if p.starts_with("/api/v1/auth/logout") => 4,
            (_, p) if p.starts_with("/api/v1/admin/users") => 3,
            ("delete", _) => 2,
            _ => 1,
        }
    }
}

/// What a generated request is, so that the generic statuses it may earn are known.
#[derive(Default, Clone)]
struct Request {
    caller: Option<Caller>,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Option<String>,
    content_type: Option<&'static str>,
    label: String,
}

struct Fuzzer<'a> {
    doc: &'a Value,
    rng: StdRng,
    ids: Vec<i64>,
    /// Listed ids by kind (see `id_kinds`).
    pools: BTreeMap<String, Vec<i64>>,
    /// The path template of the operation being built.
    path: String,
    /// While set, free-text strings carry a NUL (which PostgreSQL's `text` cannot hold).
    nul: bool,
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    let mut s = schema;
    for _ in 0..16 {
        match s.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r.trim_start_matches("#/components/schemas/");
                s = &doc["components"]["schemas"][name];
            }
            None => break,
        }
    }
    s
}

fn types_of(schema: &Value) -> Vec<String> {
    match &schema["type"] {
        Value::String(t) => vec![t.clone()],
        Value::Array(ts) => ts
            .iter()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect(),
        _ => vec![],
    }
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl Fuzzer<'_> {
    fn chance(&mut self, p: f64) -> bool {
        self.rng.gen_bool(p)
    }

    fn pick<T: Clone>(&mut self, xs: &[T]) -> T {
        xs[self.rng.gen_range(0..xs.len())].clone()
    }

    /// An id for a field or path parameter: mostly one of the listed records of its kind.
    fn id(&mut self, name: &str) -> i64 {
        let kinds = id_kinds(&self.path, name);
        let known: Vec<i64> = kinds
            .iter()
            .filter_map(|k| self.pools.get(*k))
            .flatten()
            .copied()
            .collect();
        if !known.is_empty() && self.chance(0.85) {
            self.pick(&known)
        } else if !self.ids.is_empty() && self.chance(0.7) {
            let ids = self.ids.clone();
            self.pick(&ids)
        } else {
            self.rng.gen_range(1..40)
        }
    }

    fn string_for(&mut self, schema: &Value, name: &str) -> Value {
        let now = chrono::Utc::now();
        match schema["format"].as_str() {
            Some("date-time") => {
                let t = now + chrono::Duration::hours(self.rng.gen_range(-48..24 * 30));
                return json!(t.to_rfc3339());
            }
            Some("date") => {
                let t = now + chrono::Duration::days(self.rng.gen_range(-10..60));
                return json!(t.format("%Y-%m-%d").to_string());
            }
            _ => {}
        }
        let plausible: Vec<String> = match name {
            n if n.contains("url") => vec!["http://127.0.0.1:9/hook".into()],
            n if n.contains("phone") => vec!["13800138000".into()],
            n if n.contains("id_number") => vec!["330106199001011234".into()],
            n if n.contains("time")
                || n == "opens"
                || n == "closes"
                || n.ends_with("_start")
                || n.ends_with("_end") =>
            {
                vec!["09:00".into(), "17:30".into()]
            }
            n if n == "from" || n == "to" || n == "day" => {
                vec![now.format("%Y-%m-%d").to_string()]
            }
            n if n.contains("password") || n == "secret" => vec!["a-long-new-secret".into()],
            _ if self.nul => vec!["nul\u{0}byte".into(), "接访\u{0}".into()],
            _ => vec![
                "test".into(),
                "接访测试".into(),
                format!("fuzz-{}", self.rng.gen_range(0..100_000)),
            ],
        };
        json!(self.pick(&plausible))
    }

    /// A valid-looking value for `schema`.
    fn generate(&mut self, schema: &Value, name: &str, depth: usize) -> Value {
        let s = resolve(self.doc, schema);
        if let Some(all) = s["allOf"].as_array() {
            let mut out = Map::new();
            for part in all.clone() {
                if let Value::Object(m) = self.generate(&part, name, depth + 1) {
                    out.extend(m);
                }
            }
            return Value::Object(out);
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(branches) = s[key].as_array() {
                let non_null: Vec<Value> = branches
                    .iter()
                    .filter(|b| b["type"] != "null")
                    .cloned()
                    .collect();
                if non_null.is_empty() {
                    return Value::Null;
                }
                let b = self.pick(&non_null);
                return self.generate(&b, name, depth + 1);
            }
        }
        if let Some(values) = s["enum"].as_array() {
            if !values.is_empty() {
                return self.pick(values);
            }
        }
        let types = types_of(s);
        let non_null: Vec<String> = types.iter().filter(|t| *t != "null").cloned().collect();
        if types.iter().any(|t| t == "null") && (non_null.is_empty() || self.chance(0.25)) {
            return Value::Null;
        }
        let t = if non_null.is_empty() {
            if s.get("properties").is_some() {
                "object".to_owned()
            } else {
                "string".to_owned()
            }
        } else {
            self.pick(&non_null)
        };
        match t.as_str() {
            "integer" => {
                let min = s["minimum"].as_i64();
                let mut v = if name == "year" {
                    self.rng.gen_range(2025..2028)
                } else if name == "id" || name.ends_with("_id") || name.ends_with("_ids") {
                    self.id(name)
                } else {
                    self.rng.gen_range(0..10)
                };
                if let Some(m) = min {
                    v = v.max(m);
                }
                json!(v)
            }
            "number" => json!(self.rng.gen_range(0.0..100.0)),
            "boolean" => json!(self.chance(0.5)),
            "string" => self.string_for(s, name),
            "array" => {
                if depth > 4 {
                    return json!([]);
                }
                let n = self.rng.gen_range(0..3);
                let items = s["items"].clone();
                Value::Array(
                    (0..n)
                        .map(|_| self.generate(&items, name, depth + 1))
                        .collect(),
                )
            }
            _ => {
                let mut out = Map::new();
                if depth > 5 {
                    return Value::Object(out);
                }
                let required: BTreeSet<String> = s["required"]
                    .as_array()
                    .map(|r| {
                        r.iter()
                            .filter_map(|x| x.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                if let Some(props) = s["properties"].as_object() {
                    for (k, v) in props.clone() {
                        if required.contains(&k) || self.chance(0.6) {
                            let value = self.generate(&v, &k, depth + 1);
                            out.insert(k, value);
                        }
                    }
                }
                Value::Object(out)
            }
        }
    }

    fn wrong_type(&mut self, v: &Value) -> Value {
        let options: Vec<Value> = match v {
            Value::String(_) => vec![json!(42), json!(true), json!(["x"]), json!({"a": 1})],
            Value::Number(_) => vec![
                json!("12"),
                json!(1.5),
                json!(true),
                json!([1]),
                json!(1e300),
            ],
            Value::Bool(_) => vec![json!("true"), json!(1), json!({})],
            Value::Array(_) => vec![json!({}), json!("[]"), json!(3)],
            Value::Object(_) => vec![json!([]), json!("{}"), json!(0)],
            Value::Null => vec![json!(0), json!(""), json!([])],
        };
        self.pick(&options)
    }

    fn huge_string(&mut self, near_limit_of: usize) -> String {
        let unit = self.pick(&["x", "界", "😀"]);
        let n = near_limit_of / unit.len();
        unit.repeat(n.max(1))
    }
}

/// All string-valued leaves of `v`, as JSON pointers.
fn leaves(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                out.push(format!("{at}/{k}"));
                leaves(x, format!("{at}/{k}"), out);
            }
        }
        Value::Array(xs) => {
            for (i, x) in xs.iter().enumerate() {
                out.push(format!("{at}/{i}"));
                leaves(x, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Checks `v` against `schema`; the first mismatch, as a pointer and a reason.
fn validate(
    doc: &Value,
    schema: &Value,
    v: &Value,
    at: &str,
    in_all_of: bool,
) -> Result<(), String> {
    let s = resolve(doc, schema);
    if let Some(all) = s["allOf"].as_array() {
        for part in all {
            validate(doc, part, v, at, true)?;
        }
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(branches) = s[key].as_array() {
            let errs: Vec<String> = branches
                .iter()
                .filter_map(|b| validate(doc, b, v, at, in_all_of).err())
                .collect();
            if errs.len() == branches.len() {
                return Err(format!(
                    "{at}: matches no branch of {key}: {}",
                    errs.join(" | ")
                ));
            }
        }
    }
    if let Some(values) = s["enum"].as_array() {
        if !values.contains(v) {
            return Err(format!(
                "{at}: {v} is not one of {}",
                Value::Array(values.clone())
            ));
        }
    }
    let types = types_of(s);
    if !types.is_empty() {
        let ok = types.iter().any(|t| match t.as_str() {
            "null" => v.is_null(),
            "string" => v.is_string(),
            "boolean" => v.is_boolean(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "array" => v.is_array(),
            "object" => v.is_object(),
            _ => true,
        });
        if !ok {
            return Err(format!("{at}: {v} is not of type {types:?}"));
        }
    }
    if let (Some(min), Some(x)) = (s["minimum"].as_f64(), v.as_f64()) {
        if x < min {
            return Err(format!("{at}: {x} is below the minimum {min}"));
        }
    }
    if let (Some(fmt), Some(x)) = (s["format"].as_str(), v.as_str()) {
        let ok = match fmt {
            "date-time" => chrono::DateTime::parse_from_rfc3339(x).is_ok(),
            "date" => chrono::NaiveDate::parse_from_str(x, "%Y-%m-%d").is_ok(),
            _ => true,
        };
        if !ok {
            return Err(format!("{at}: {x:?} is not a {fmt}"));
        }
    }
    if let Value::Object(m) = v {
        if let Some(req) = s["required"].as_array() {
            for r in req.iter().filter_map(Value::as_str) {
                if !m.contains_key(r) {
                    return Err(format!("{at}: required field {r:?} is missing"));
                }
            }
        }
        let props = s["properties"].as_object();
        for (k, x) in m {
            match props.and_then(|p| p.get(k)) {
                Some(ps) => validate(doc, ps, x, &format!("{at}/{k}"), false)?,
                None => {
                    if !in_all_of && s["additionalProperties"] == json!(false) {
                        return Err(format!("{at}: undocumented field {k:?}"));
                    }
                    if let Some(ap) = s["additionalProperties"].as_object() {
                        validate(
                            doc,
                            &Value::Object(ap.clone()),
                            x,
                            &format!("{at}/{k}"),
                            false,
                        )?;
                    }
                }
            }
        }
    }
    if let (Value::Array(xs), Some(items)) = (v, s.get("items")) {
        for (i, x) in xs.iter().enumerate() {
            validate(doc, items, x, &format!("{at}/{i}"), false)?;
        }
    }
    Ok(())
}

struct Run<'a> {
    app: &'a TestApp,
    doc: &'a Value,
    tokens: &'a Tokens,
    failures: BTreeMap<String, (usize, String)>,
    requests: usize,
    statuses: BTreeMap<u16, usize>,
    /// Operations that answered 2xx at least once (so their success schema was checked).
    succeeded: BTreeSet<String>,
}

impl Run<'_> {
    fn fail(&mut self, op: &Op, req: &Request, status: u16, what: String) {
        let key = format!(
            "{} -> {status}: {}",
            op.key(),
            what.chars().take(160).collect::<String>()
        );
        let body = req.body.as_deref().unwrap_or("");
        let shown: String = body.chars().take(200).collect();
        let detail = format!(
            "{} {}{}{} as {:?} [{}] body {:?}{}",
            op.method.to_uppercase(),
            req.path,
            if req.query.is_empty() { "" } else { "?" },
            req.query
                .iter()
                .map(|(k, v)| format!("{k}={}", v.chars().take(40).collect::<String>()))
                .collect::<Vec<_>>()
                .join("&"),
            req.caller,
            req.label,
            shown,
            if body.len() > 200 {
                format!("… ({} bytes)", body.len())
            } else {
                String::new()
            },
        );
        self.failures
            .entry(key)
            .and_modify(|e| e.0 += 1)
            .or_insert((1, detail));
    }

    /// Swaps a generated If-Match for the resource's current ETag (read at the path, or the one
    /// above it), so that conditional writes get past the precondition too.
    async fn use_current_etag(&mut self, req: &mut Request) {
        let Some(slot) = req
            .headers
            .iter()
            .position(|(k, _)| k.eq_ignore_ascii_case("if-match"))
        else {
            return;
        };
        let parent = req.path.rsplit_once('/').map(|(p, _)| p.to_owned());
        for path in std::iter::once(req.path.clone()).chain(parent) {
            let token = req.caller.and_then(|c| self.tokens.of(c));
            let res = self.app.get(&path, token.as_deref()).await;
            self.requests += 1;
            if let Some(etag) = res.headers().get("etag").and_then(|v| v.to_str().ok()) {
                req.headers[slot].1 = etag.to_owned();
                return;
            }
        }
    }

    async fn send(&mut self, op: &Op, req: Request) {
        let url = self.app.url(&req.path);
        let method = reqwest::Method::from_bytes(op.method.to_uppercase().as_bytes()).unwrap();
        let mut rb = self.app.client.request(method, &url);
        if !req.query.is_empty() {
            rb = rb.query(&req.query);
        }
        if let Some(t) = req.caller.and_then(|c| self.tokens.of(c)) {
            rb = rb.bearer_auth(t);
        }
        for (k, v) in &req.headers {
            rb = rb.header(k.as_str(), v.as_str());
        }
        if let Some(b) = &req.body {
            rb = rb
                .header(
                    "content-type",
                    req.content_type.unwrap_or("application/json"),
                )
                .body(b.clone());
        }
        // A kept-alive connection the server closed after refusing an oversized body may fail
        // once on the client's side; the same request is then sent again on a fresh one.
        let retry = rb.try_clone();
        let res = match rb.send().await {
            Ok(r) => r,
            Err(first) => match retry {
                Some(rb) => match rb.send().await {
                    Ok(r) => r,
                    Err(e) => {
                        self.fail(op, &req, 0, format!("no answer: {first}; again: {e}"));
                        return;
                    }
                },
                None => {
                    self.fail(op, &req, 0, format!("no answer: {first}"));
                    return;
                }
            },
        };
        self.requests += 1;
        let status = res.status().as_u16();
        *self.statuses.entry(status).or_default() += 1;
        if (200..300).contains(&status) {
            self.succeeded.insert(op.key());
        }
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let bytes = res.bytes().await.unwrap_or_default();
        self.check(op, &req, status, &content_type, &bytes);
    }

    fn check(&mut self, op: &Op, req: &Request, status: u16, content_type: &str, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        let shown: String = text.chars().take(200).collect();
        if status >= 500 {
            self.fail(op, req, status, format!("server error: {shown}"));
            return;
        }
        // No status is allowed for being generic: the ones every operation can earn (400 for a
        // malformed body, 401, 404 for a path parameter of the wrong type, 422 for a query
        // parameter of the wrong type) are in the description too (`GenericAnswers`).
        if !op.documents(status) {
            self.fail(op, req, status, format!("undocumented status: {shown}"));
            return;
        }
        let documented = &op.op["responses"][status.to_string()];
        if status >= 400 {
            let v: Value = match serde_json::from_slice(bytes) {
                Ok(v) => v,
                Err(_) => {
                    self.fail(op, req, status, format!("error body is not JSON: {shown}"));
                    return;
                }
            };
            let ok = v["code"].as_str().is_some_and(|c| !c.is_empty())
                && v["message"].as_str().is_some_and(|m| !m.is_empty());
            if !ok {
                self.fail(
                    op,
                    req,
                    status,
                    format!("error body lacks code/message: {shown}"),
                );
                return;
            }
            if let Some(schema) = documented["content"]["application/json"].get("schema") {
                if let Err(e) = validate(self.doc, schema, &v, "", false) {
                    self.fail(op, req, status, format!("error body off schema: {e}"));
                }
            }
            return;
        }
        if !(200..300).contains(&status) {
            return; // 101 is not reached without upgrade headers; 3xx are not expected.
        }
        let content = documented["content"].as_object();
        match content {
            None => {
                if !bytes.is_empty() {
                    self.fail(
                        op,
                        req,
                        status,
                        format!("body where none is documented: {shown}"),
                    );
                }
            }
            Some(c) => {
                let media = content_type.split(';').next().unwrap_or("").trim();
                match c.get(media) {
                    None => self.fail(
                        op,
                        req,
                        status,
                        format!(
                            "content-type {media:?} not among {:?}",
                            c.keys().collect::<Vec<_>>()
                        ),
                    ),
                    Some(m) if media == "application/json" => {
                        let v: Value = match serde_json::from_slice(bytes) {
                            Ok(v) => v,
                            Err(_) => {
                                self.fail(
                                    op,
                                    req,
                                    status,
                                    format!("2xx body is not JSON: {shown}"),
                                );
                                return;
                            }
                        };
                        if let Some(schema) = m.get("schema") {
                            if let Err(e) = validate(self.doc, schema, &v, "", false) {
                                self.fail(op, req, status, format!("body off schema: {e}"));
                            }
                        }
                    }
                    Some(_) => {}
                }
            }
        }
    }
}

/// Mutation numbers from here on drop the n-th required field of the body.
const MISSING_FIELD: usize = 100;

fn required_fields(doc: &Value, schema: &Value) -> Vec<String> {
    resolve(doc, schema)["required"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Builds the request for `op`: valid-looking, then with `mutation` applied.
fn build(f: &mut Fuzzer<'_>, op: &Op, caller: Caller, mutation: usize) -> Request {
    let mut req = Request {
        caller: Some(caller),
        ..Request::default()
    };
    // Path parameters.
    let mut path = op.path.clone();
    let path_params = op.params("path");
    let bad_path = mutation == 1 && !path_params.is_empty();
    for p in &path_params {
        let name = p["name"].as_str().unwrap_or("");
        let value = if bad_path && f.chance(0.7) {
            f.pick(&[
                "0".to_owned(),
                "-1".to_owned(),
                i64::MAX.to_string(),
                i64::MIN.to_string(),
                "99999999999999999999".to_owned(),
                "abc".to_owned(),
                "1.5".to_owned(),
                "😀".to_owned(),
                "%00".to_owned(),
                "1e3".to_owned(),
            ])
        } else {
            match f.generate(&p["schema"], name, 0) {
                Value::String(s) => s,
                Value::Null => "1".to_owned(),
                other => other.to_string(),
            }
        };
        path = path.replace(&format!("{{{name}}}"), &percent_encode(&value));
    }
    req.path = path;
    // Query parameters.
    for p in op.params("query") {
        let name = p["name"].as_str().unwrap_or("").to_owned();
        if p["required"] == json!(true) || f.chance(0.5) {
            match f.generate(&p["schema"], &name, 0) {
                Value::Null => {}
                Value::String(s) => req.query.push((name, s)),
                other => req.query.push((name, other.to_string())),
            }
        }
    }
    if mutation == 2 {
        let garbage = [
            "abc".to_owned(),
            "-1".to_owned(),
            "99999999999999999999".to_owned(),
            f.pick(UNICODE).to_owned(),
            "x".repeat(5000),
            "".to_owned(),
        ];
        let names: Vec<String> = op
            .params("query")
            .iter()
            .filter_map(|p| p["name"].as_str().map(str::to_owned))
            .chain(["limit", "cursor", "from", "to", "zzz"].map(str::to_owned))
            .collect();
        for _ in 0..f.rng.gen_range(1..4) {
            let n = f.pick(&names);
            let g = f.pick(&garbage);
            req.query.push((n, g));
        }
    }
    // Header parameters.
    for p in op.params("header") {
        let name = p["name"].as_str().unwrap_or("").to_owned();
        if mutation == 3 || !(p["required"] == json!(true) || f.chance(0.5)) {
            continue;
        }
        let v = match name.to_ascii_lowercase().as_str() {
            "if-match" => f
                .pick(&["\"1\"", "W/\"2\"", "*", "\"garbage\"", "\"0\""])
                .to_owned(),
            _ => format!("fuzz-{}", f.rng.gen_range(0..1_000_000_u32)),
        };
        req.headers.push((name, v));
    }
    // Body.
    let Some(schema) = op.body_schema().cloned() else {
        if mutation >= 4 && op.method != "get" && f.chance(0.3) {
            // A body where none is expected must not matter.
            req.body = Some("{\"unexpected\":true}".to_owned());
        }
        req.label = format!("mutation {mutation}");
        return req;
    };
    f.nul = mutation == 13;
    let mut body = f.generate(&schema, "", 0);
    f.nul = false;
    let mut raw: Option<String> = None;
    let label = match mutation {
        0..=3 => "valid-looking".to_owned(),
        m if m == 4 || m >= MISSING_FIELD => {
            let required = required_fields(f.doc, &schema);
            if required.is_empty() {
                "no required field".to_owned()
            } else {
                let r = if m >= MISSING_FIELD {
                    required[(m - MISSING_FIELD) % required.len()].clone()
                } else {
                    f.pick(&required)
                };
                if let Value::Object(m) = &mut body {
                    m.remove(&r);
                }
                format!("missing {r}")
            }
        }
        5 | 6 => {
            let mut ptrs = vec![];
            leaves(&body, String::new(), &mut ptrs);
            if ptrs.is_empty() {
                body = f.wrong_type(&body);
                "top-level wrong type".to_owned()
            } else {
                let p = f.pick(&ptrs);
                let target = body.pointer_mut(&p).unwrap();
                *target = if mutation == 5 {
                    f.wrong_type(&target.clone())
                } else {
                    Value::Null
                };
                format!(
                    "{} at {p}",
                    if mutation == 5 { "wrong type" } else { "null" }
                )
            }
        }
        7 => {
            let mut ptrs = vec![];
            leaves(&body, String::new(), &mut ptrs);
            let u = if f.chance(0.25) {
                // serde_json refuses an unpaired surrogate escape as invalid JSON: 400 is fair.
                LONE_SURROGATE.to_owned()
            } else {
                f.pick(UNICODE).to_owned()
            };
            match ptrs.is_empty() {
                true => body = json!(u),
                false => {
                    let p = f.pick(&ptrs);
                    *body.pointer_mut(&p).unwrap() = json!(u);
                }
            }
            "unicode".to_owned()
        }
        8 | 9 => {
            let mut ptrs = vec![];
            leaves(&body, String::new(), &mut ptrs);
            let base = body.to_string().len();
            let huge = if mutation == 8 {
                f.huge_string(100_000)
            } else {
                f.huge_string(BODY_LIMIT.saturating_sub(base + 200))
            };
            match ptrs.is_empty() {
                true => body = json!(huge),
                false => {
                    let p = f.pick(&ptrs);
                    *body.pointer_mut(&p).unwrap() = json!(huge);
                }
            }
            if mutation == 8 {
                "huge string (100 KB)"
            } else {
                "string just below the limit"
            }
            .to_owned()
        }
        10 => {
            if let Value::Object(m) = &mut body {
                m.insert("unexpected_field".into(), json!("x"));
            }
            "extra field".to_owned()
        }
        13 => "NUL in every free-text field".to_owned(),
        11 => {
            body = f.pick(&[json!([]), json!(42), json!("s"), Value::Null, json!([{}])]);
            "top-level wrong type".to_owned()
        }
        _ => {
            let choice = f.rng.gen_range(0..5);
            raw = Some(match choice {
                0 => "{\"a\":".to_owned(),
                1 => String::new(),
                2 => "not json at all".to_owned(),
                3 => "\u{FEFF}{}".to_owned(),
                _ => {
                    req.content_type = Some("text/plain");
                    body.to_string()
                }
            });
            format!("malformed body #{choice}")
        }
    };
    let text = raw.unwrap_or_else(|| {
        body.to_string()
            .replace(&format!("\"{LONE_SURROGATE}\""), "\"\\ud800x\\udfff\"")
    });
    req.body = Some(text);
    req.label = label;
    req
}

/// Integer ids found in the lists the demo roles can read, so that generated ids often exist.
/// `id` fields are filed under `kind` (the list they came from), `x_id` fields under `x_id`;
/// only top-level and first-nesting-level records' own ids are taken as `kind`.
fn collect_ids(v: &Value, key: &str, kind: &str, out: &mut BTreeMap<String, BTreeSet<i64>>) {
    match v {
        Value::Object(m) => m.iter().for_each(|(k, x)| {
            let inner = if x.is_object() { k.as_str() } else { kind };
            collect_ids(x, k, inner, out)
        }),
        Value::Array(xs) => xs.iter().for_each(|x| collect_ids(x, key, kind, out)),
        Value::Number(n) if key == "id" || key.ends_with("_id") => {
            if let Some(i) = n.as_i64() {
                let pool = if key == "id" { kind } else { key };
                out.entry(pool.to_owned()).or_default().insert(i);
            }
        }
        _ => {}
    }
}

/// Which pools of listed ids fit a parameter or field `name` of the operation at `path`.
fn id_kinds(path: &str, name: &str) -> Vec<&'static str> {
    if name != "id" {
        return match name {
            "case_id" => vec!["case_id", "cases"],
            "session_id" => vec!["session_id", "sessions"],
            "booking_id" => vec!["booking_id"],
            "slot_id" | "proposed_slot_id" => vec!["slot_id", "slots"],
            "local_room_id" => vec!["local_room_id", "local-rooms"],
            "host_room_id" => vec!["host_room_id"],
            "court_id" | "joint_court_id" | "host_court_id" | "parent_id"
            | "receiving_court_id" => {
                vec!["courts", "court_id", "host_court_id"]
            }
            "application_id" => vec!["applications", "application_id"],
            "room_id" => vec!["local_room_id", "host_room_id", "room_id"],
            "override_id" => vec!["override_id"],
            // A contact's correction names a ledger entry (POST /cases/{id}/contacts).
            "corrects" => vec!["ledger"],
            _ => vec![],
        };
    }
    let rest = path.trim_start_matches("/api/v1/");
    let table: &[(&str, &[&'static str])] = &[
        ("sessions", &["sessions", "session_id"]),
        ("records/sessions", &["sessions", "session_id"]),
        ("bookings", &["booking_id"]),
        ("cases", &["cases", "case_id"]),
        ("applications", &["applications", "application_id"]),
        ("admin/courts", &["courts", "court_id"]),
        ("admin/users", &["users"]),
        ("admin/rooms", &["local_room_id", "host_room_id"]),
        ("host-rooms", &["host_room_id"]),
        ("host-courts", &["host_court_id"]),
        ("ics/host-rooms", &["host_room_id"]),
        ("ics/local-rooms", &["local_room_id", "local-rooms"]),
        ("ics/officers", &["users"]),
        ("webhooks", &["webhooks"]),
        ("connectivity/campaigns", &["campaigns"]),
        ("connectivity/tests", &["test_id"]),
        ("notifications", &["notifications"]),
    ];
    table
        .iter()
        .filter(|(prefix, _)| rest.starts_with(&format!("{prefix}/")))
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, kinds)| kinds.to_vec())
        .unwrap_or_default()
}

fn check_document(doc: &Value, ops: &[Op]) -> Vec<String> {
    let mut problems = vec![];
    if !doc["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.1"))
    {
        problems.push(format!("openapi version is {}", doc["openapi"]));
    }
    for op in ops {
        for p in op.params("path") {
            let name = p["name"].as_str().unwrap_or("");
            if !op.path.contains(&format!("{{{name}}}")) {
                problems.push(format!(
                    "{}: parameter {name:?} is documented `in: path` but is not in the path",
                    op.key()
                ));
            }
        }
        let mut rest = op.path.as_str();
        while let Some(i) = rest.find('{') {
            let j = rest[i..].find('}').map(|j| i + j).unwrap_or(rest.len());
            let name = &rest[i + 1..j];
            if !op.params("path").iter().any(|p| p["name"] == name) {
                problems.push(format!(
                    "{}: path parameter {name:?} is not documented",
                    op.key()
                ));
            }
            rest = &rest[j.min(rest.len())..];
            if rest.starts_with('}') {
                rest = &rest[1..];
            }
        }
        if op.op["responses"].as_object().is_none_or(|r| r.is_empty()) {
            problems.push(format!("{}: no responses", op.key()));
        }
        // The answers any request can earn before the handler runs are described too.
        let generic = [
            (op.op.get("requestBody").is_some(), 400, "a body"),
            (op.secured(), 401, "security"),
            (!op.params("path").is_empty(), 404, "path parameters"),
            (!op.params("query").is_empty(), 422, "query parameters"),
        ];
        for (applies, status, why) in generic {
            if applies && !op.documents(status) {
                problems.push(format!(
                    "{}: has {why} but does not describe {status}",
                    op.key()
                ));
            }
        }
    }
    problems
}

async fn drive(app: TestApp) {
    let started = Instant::now();
    let seed = std::env::var("OPENAPI_PROPS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    let iters: usize = std::env::var("OPENAPI_PROPS_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_ITERS);
    eprintln!(
        "openapi_props on {:?}: seed {seed} (OPENAPI_PROPS_SEED={seed} to replay), {iters} random cases per operation",
        app.backend
    );

    let demo = app.book_demo_session().await;
    let tokens = Tokens {
        coordinator: demo.coordinator_token.clone(),
        officer: demo.officer_token.clone(),
        supervisor: app.login("zj.supervisor").await,
        admin: app.login("admin").await,
        petitioner: demo.petitioner_token.clone(),
    };

    let res = app.get("/api/openapi.json", None).await;
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.unwrap();

    let mut ops: Vec<Op> = vec![];
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                ops.push(Op {
                    method: method.clone(),
                    path: path.clone(),
                    op: op.clone(),
                });
            }
        }
    }
    assert!(ops.len() > 50, "the document lists every operation");
    ops.sort_by(|a, b| (a.rank(), &a.path, &a.method).cmp(&(b.rank(), &b.path, &b.method)));
    let doc_problems = check_document(&doc, &ops);

    let mut pools: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    pools
        .entry("sessions".into())
        .or_default()
        .insert(demo.session_id);
    pools
        .entry("booking_id".into())
        .or_default()
        .insert(demo.booking_id);
    pools
        .entry("cases".into())
        .or_default()
        .insert(demo.case_id);
    let lists = [
        ("/api/v1/cases", "cases"),
        ("/api/v1/local-rooms", "local-rooms"),
        ("/api/v1/slots", "slots"),
        ("/api/v1/sessions", "sessions"),
        ("/api/v1/applications", "applications"),
        ("/api/v1/connectivity/rooms", "rooms"),
        ("/api/v1/connectivity/campaigns", "campaigns"),
        ("/api/v1/notifications", "notifications"),
        ("/api/v1/admin/courts", "courts"),
        ("/api/v1/admin/users", "users"),
        ("/api/v1/webhooks", "webhooks"),
    ];
    for (list, kind) in lists {
        for t in [
            &tokens.coordinator,
            &tokens.officer,
            &tokens.supervisor,
            &tokens.admin,
        ] {
            let res = app.get(list, Some(t)).await;
            if res.status() == 200 {
                let v = res.json().await.unwrap_or(Value::Null);
                collect_ids(&v, "", kind, &mut pools);
            }
        }
    }
    // Ledger entries, for corrections: those of the demo case, as its coordinator reads them.
    let res = app
        .get(
            &format!("/api/v1/cases/{}", demo.case_id),
            Some(&tokens.coordinator),
        )
        .await;
    if res.status() == 200 {
        let v: Value = res.json().await.unwrap_or(Value::Null);
        for e in v["ledger"].as_array().into_iter().flatten() {
            if let Some(id) = e["id"].as_i64() {
                pools.entry("ledger".into()).or_default().insert(id);
            }
        }
    }
    let mut ids: Vec<i64> = pools
        .values()
        .flatten()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    ids.truncate(300);
    let pools: BTreeMap<String, Vec<i64>> = pools
        .into_iter()
        .map(|(k, v)| (k, v.into_iter().collect()))
        .collect();

    let mut fuzzer = Fuzzer {
        doc: &doc,
        rng: StdRng::seed_from_u64(seed),
        ids,
        pools,
        path: String::new(),
        nul: false,
    };
    let mut run = Run {
        app: &app,
        doc: &doc,
        tokens: &tokens,
        failures: BTreeMap::new(),
        requests: 0,
        statuses: BTreeMap::new(),
        succeeded: BTreeSet::new(),
    };
    for op in &ops {
        fuzzer.path = op.path.clone();
        let mut cases: Vec<(Caller, usize)> = CALLERS.iter().map(|c| (*c, 0)).collect();
        // Each mutation once as a staff role, then random ones.
        let staff = [
            Caller::Coordinator,
            Caller::Officer,
            Caller::Supervisor,
            Caller::Admin,
        ];
        for m in 1..=13 {
            let c = fuzzer.pick(&staff);
            cases.push((c, m));
        }
        // Each required field of the body missing, once.
        if let Some(schema) = op.body_schema() {
            for i in 0..required_fields(&doc, schema).len() {
                let c = fuzzer.pick(&staff);
                cases.push((c, MISSING_FIELD + i));
            }
        }
        for _ in 0..iters {
            // Mostly staff with valid-looking requests, so that the 2xx answers are exercised too.
            let c = if fuzzer.chance(0.25) {
                fuzzer.pick(&CALLERS)
            } else {
                fuzzer.pick(&staff)
            };
            let m = if fuzzer.chance(0.35) {
                0
            } else {
                fuzzer.rng.gen_range(1..=13)
            };
            cases.push((c, m));
        }
        for (caller, mutation) in cases {
            let mut req = build(&mut fuzzer, op, caller, mutation);
            if fuzzer.chance(0.6) {
                run.use_current_etag(&mut req).await;
            }
            run.send(op, req).await;
        }
    }

    let elapsed = started.elapsed();
    eprintln!(
        "openapi_props on {:?}: {} operations, {} requests in {:.1}s; statuses {:?}",
        app.backend,
        ops.len(),
        run.requests,
        elapsed.as_secs_f64(),
        run.statuses
    );
    let never: Vec<String> = ops
        .iter()
        .map(Op::key)
        .filter(|k| !run.succeeded.contains(k))
        .collect();
    eprintln!(
        "openapi_props: {} of {} operations answered 2xx (schema checked); never: {never:?}",
        run.succeeded.len(),
        ops.len()
    );
    let mut report = String::new();
    for p in &doc_problems {
        report.push_str(&format!("\n  document: {p}"));
    }
    for (key, (n, example)) in &run.failures {
        report.push_str(&format!("\n  {key} (×{n})\n      e.g. {example}"));
    }
    assert!(
        report.is_empty(),
        "seed {seed}: {} document problems, {} kinds of bad answer:{report}",
        doc_problems.len(),
        run.failures.len()
    );
    assert!(elapsed < Duration::from_secs(240), "the run stays bounded");
}

on_both_backends!(props, drive);

/// Every method the description does not list, at every documented path under `/api/v1`: 405
/// `method_not_allowed` with `Allow` naming exactly the methods it lists (before this, such a
/// request was a 404 as if the path did not exist).
async fn wrong_method_is_405(app: TestApp) {
    let doc: Value = app
        .get("/api/openapi.json", None)
        .await
        .json()
        .await
        .unwrap();
    let admin = app.login("admin").await;
    let mut checked = 0;
    for (template, item) in doc["paths"].as_object().expect("paths") {
        if !template.starts_with("/api/v1/") {
            continue;
        }
        let path = template
            .split('/')
            .map(|seg| if seg.starts_with('{') { "1" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        let listed: BTreeSet<String> = item
            .as_object()
            .unwrap()
            .keys()
            .filter(|m| ["get", "put", "post", "delete", "patch"].contains(&m.as_str()))
            .map(|m| m.to_uppercase())
            .collect();
        for method in ["GET", "PUT", "POST", "DELETE", "PATCH"] {
            if listed.contains(method) {
                continue;
            }
            let res = app
                .client
                .request(
                    reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                    app.url(&path),
                )
                .bearer_auth(&admin)
                .send()
                .await
                .unwrap();
            let allow: BTreeSet<String> = res
                .headers()
                .get("allow")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .split(',')
                .map(|m| m.trim().to_owned())
                .filter(|m| !m.is_empty())
                .collect();
            let status = res.status().as_u16();
            let body: Value = res.json().await.unwrap_or(Value::Null);
            assert_eq!(status, 405, "{method} {path}: {body}");
            assert_eq!(body["code"], "method_not_allowed", "{method} {path}");
            assert_eq!(allow, listed, "Allow of {method} {path}");
            checked += 1;
        }
    }
    eprintln!(
        "wrong_method on {:?}: {checked} wrong methods, each 405",
        app.backend
    );
    assert!(checked > 50, "only {checked} wrong methods tried");
    // A path the API does not serve stays a 404.
    let res = app.get("/api/v1/no-such-thing", Some(&admin)).await;
    assert_eq!(res.status(), 404);
}

on_both_backends!(wrong_method, wrong_method_is_405);
