//! The test harness: the real application on port 0 with its own database — a fresh SQLite file,
//! or a fresh PostgreSQL database per test — talked to over HTTP and WebSocket.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod netns;
pub mod peer;
pub mod s3;
pub mod turn;

use std::path::PathBuf;
use std::time::Duration;

use courtlink::config::Settings;
use courtlink::startup::Application;
use secrecy::SecretString;
use serde_json::{Value, json};

pub const DEMO_PASSWORD: &str = "courtlink-demo";
/// Set (as CI does) to make tests that need PostgreSQL or Redis fail instead of skip.
pub const REQUIRE_SERVICES: &str = "COURTLINK_REQUIRE_SERVICES";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub port: u16,
    pub shutdown: courtlink::startup::Shutdown,
    /// The application's state, for a test that drives a part of it directly.
    pub state: actix_web::web::Data<courtlink::state::AppState>,
    pub address: String,
    pub client: reqwest::Client,
    pub backend: Backend,
    pub settings: Settings,
    _dir: tempfile::TempDir,
    pg_database: Option<(String, String)>,
}

pub struct DemoSession {
    pub session_id: i64,
    pub booking_id: i64,
    pub case_id: i64,
    pub join_code: String,
    pub officer_token: String,
    pub petitioner_token: String,
    pub coordinator_token: String,
}

fn repo_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

pub fn test_settings(database_url: String) -> Settings {
    let mut s = Settings::load(&repo_path("config"), "default").expect("config/default.toml loads");
    s.server.port = 0;
    s.server.workers = 2;
    s.server.web_dir = repo_path("web");
    s.database.url = SecretString::from(database_url);
    s.database.max_connections = 10;
    s.log.filter = "warn".into();
    // Any time with media on both sides makes a reception held (the product's minimum is 60 s);
    // tests/server/lifecycle.rs sets its own minimum to test the rule.
    s.records.min_reception_seconds = 0;
    // Each app records into folders of its own under the system's temporary directory, never into
    // the repository's data/, where apps running side by side would write the same file names.
    static APPS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = APPS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("courtlink-test-{}-{n}", std::process::id()));
    s.recording.spool_dir = dir.join("spool");
    s.recording.store_dir = dir.join("store");
    s
}

/// Runs `courtlink <args>` (e.g. `check-config`) on `config/default.toml` with `overrides`
/// layered over it as a profile of their own, and `env` set: (exit code, stdout + stderr).
pub fn courtlink_with(overrides: &str, args: &[&str], env: &[(&str, String)]) -> (i32, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy(
        repo_path("config/default.toml"),
        dir.path().join("default.toml"),
    )
    .expect("copy default.toml");
    std::fs::write(dir.path().join("probe.toml"), overrides).expect("write probe.toml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_courtlink"))
        .arg("--config-dir")
        .arg(dir.path())
        .args(["--profile", "probe"])
        .args(args)
        .env_remove("COURTLINK_PROFILE")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("courtlink runs");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn pg_admin_url() -> String {
    std::env::var("COURTLINK_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh PostgreSQL database, or None (after saying so loudly) when PostgreSQL is absent and
/// the environment does not require it.
async fn fresh_pg_database() -> Option<(String, String)> {
    use sqlx::Connection;
    let admin = pg_admin_url();
    match sqlx::PgConnection::connect(&admin).await {
        Ok(mut conn) => {
            let name = format!("courtlink_test_{}", uuid_like());
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .await
                .expect("create a test database");
            let base = admin
                .rsplit_once('/')
                .map(|(b, _)| b.to_owned())
                .unwrap_or(admin.clone());
            Some((format!("{base}/{name}"), name))
        }
        Err(e) => {
            if std::env::var(REQUIRE_SERVICES).is_ok() {
                panic!(
                    "PostgreSQL is required ({REQUIRE_SERVICES} is set) but {admin} does not answer: {e}"
                );
            }
            eprintln!(
                "\n*** SKIPPED: PostgreSQL at {admin} does not answer ({e}); set {REQUIRE_SERVICES}=1 to fail instead ***\n"
            );
            None
        }
    }
}

fn uuid_like() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..16)
        .map(|_| char::from(b'a' + rng.gen_range(0..26u8)))
        .collect()
}

impl TestApp {
    /// The application on SQLite, with demo data.
    pub async fn spawn() -> TestApp {
        Self::spawn_on(Backend::Sqlite)
            .await
            .expect("SQLite is always there")
    }

    /// The application on `backend`, with demo data; None when PostgreSQL is absent (and allowed to be).
    pub async fn spawn_on(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(
        backend: Backend,
        tweak: impl FnOnce(&mut Settings),
    ) -> Option<TestApp> {
        Self::spawn_on_clock(backend, tweak, courtlink::app::clock::Clock::system()).await
    }

    /// The application on a clock that reads `at` when it starts (docs/clocks.md): for tests
    /// whose answer depends on the date (holidays, horizons, overdue clocks).
    pub async fn spawn_on_date(
        backend: Backend,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Option<TestApp> {
        Self::spawn_on_clock(
            backend,
            |_| {},
            courtlink::app::clock::Clock::starting_at(at),
        )
        .await
    }

    async fn spawn_on_clock(
        backend: Backend,
        tweak: impl FnOnce(&mut Settings),
        clock: courtlink::app::clock::Clock,
    ) -> Option<TestApp> {
        let dir = tempfile::tempdir().expect("temp dir");
        let (url, pg_database) = match backend {
            Backend::Sqlite => (
                format!("sqlite://{}/courtlink.db", dir.path().display()),
                None,
            ),
            Backend::Postgres => {
                let (url, name) = fresh_pg_database().await?;
                (url, Some((pg_admin_url(), name)))
            }
        };
        let mut settings = test_settings(url);
        tweak(&mut settings);
        let app = Application::build_with_clock(settings.clone(), clock)
            .await
            .expect("application builds");
        let port = app.port();
        let shutdown = app.shutdown();
        let state = app.state();
        tokio::spawn(app.run_until_stopped());
        Some(TestApp {
            port,
            shutdown,
            state,
            address: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("http client"),
            backend,
            settings,
            _dir: dir,
            pg_database,
        })
    }

    /// A second instance on the same database (and Redis, if configured): another port, same data.
    pub async fn spawn_peer(&self) -> TestApp {
        self.spawn_peer_with(|_| {}).await
    }

    /// A second instance on the same database, its settings changed by `tweak` (its own
    /// recording spool, say).
    pub async fn spawn_peer_with(&self, tweak: impl FnOnce(&mut Settings)) -> TestApp {
        let mut settings = self.settings.clone();
        tweak(&mut settings);
        let app = Application::build(settings.clone())
            .await
            .expect("peer builds");
        let port = app.port();
        let shutdown = app.shutdown();
        let state = app.state();
        tokio::spawn(app.run_until_stopped());
        TestApp {
            port,
            shutdown,
            state,
            address: format!("http://127.0.0.1:{port}"),
            client: self.client.clone(),
            backend: self.backend,
            settings,
            _dir: tempfile::tempdir().expect("temp dir"),
            pg_database: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://127.0.0.1:{}{path}", self.port)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("GET sent")
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> reqwest::Response {
        let mut req = self.client.post(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("POST sent")
    }

    pub async fn post_raw(&self, path: &str, token: Option<&str>, body: &str) -> reqwest::Response {
        let mut req = self
            .client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("POST sent")
    }

    pub async fn login(&self, username: &str) -> String {
        self.login_with(username, DEMO_PASSWORD).await
    }

    /// Logs in with `password`. An account an administrator made (or reset) must set its own
    /// password first (403 `password_change_required`): the owner does, through
    /// `POST /auth/password`, and then sets `password` back the same way, so that a test can
    /// keep logging in with the password it gave.
    pub async fn login_with(&self, username: &str, password: &str) -> String {
        let login = json!({"username": username, "password": password});
        let res = self.post("/api/v1/auth/login", None, &login).await;
        let status = res.status();
        let body: Value = res.json().await.expect("login JSON");
        if status == 403 && body["code"] == "password_change_required" {
            let interim = "owner interim passphrase 7";
            for (from, to) in [(password, interim), (interim, password)] {
                let res = self
                    .post(
                        "/api/v1/auth/password",
                        None,
                        &json!({"username": username, "password": from, "new_password": to}),
                    )
                    .await;
                assert_eq!(res.status(), 200, "own password of {username}");
            }
            return Box::pin(self.login_with(username, password)).await;
        }
        assert_eq!(status, 200, "login of {username}: {body}");
        body["token"].as_str().expect("token").to_owned()
    }

    /// GET that must answer 200 with JSON.
    pub async fn get_ok(&self, path: &str, token: &str) -> Value {
        let res = self.get(path, Some(token)).await;
        let status = res.status();
        let body = res.text().await.expect("body");
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).expect("JSON body")
    }

    /// An open SPC slot that is joinable now and lasts at least another five minutes.
    pub async fn joinable_spc_slot(&self, coordinator_token: &str) -> Value {
        self.spc_slot(coordinator_token, "ends_at", chrono::Duration::minutes(5))
            .await
    }

    /// The first open SPC slot whose `field` (`starts_at` or `ends_at`) is more than `lead` from now.
    async fn spc_slot(
        &self,
        coordinator_token: &str,
        field: &str,
        lead: chrono::Duration,
    ) -> Value {
        let slots = self.get_ok("/api/v1/slots", coordinator_token).await;
        let after = chrono::Utc::now() + lead;
        slots
            .as_array()
            .expect("slot list")
            .iter()
            .find(|s| {
                s["court"]["level"] == "supreme"
                    && s[field]
                        .as_str()
                        .and_then(|t| t.parse::<chrono::DateTime<chrono::Utc>>().ok())
                        > Some(after)
            })
            .cloned()
            .expect("an SPC slot")
    }

    /// The coordinator of 西湖 books an SPC slot for its first case; the petitioner joins by code.
    /// The slot may be under way already (its start may be a moment away, or past).
    pub async fn book_demo_session(&self) -> DemoSession {
        let token = self.login("xihu.coord").await;
        let slot = self.joinable_spc_slot(&token).await;
        self.book_demo_slot(token, slot, true).await
    }

    /// As `book_demo_session`, on a slot that starts at least ten minutes from now: for a test
    /// that must act before the start (a cancel is refused once the start has come), however close
    /// to a slot's start it runs. Nobody has joined (the window may not be open yet): the
    /// petitioner's token is empty.
    pub async fn book_demo_session_ahead(&self) -> DemoSession {
        let token = self.login("xihu.coord").await;
        let slot = self
            .spc_slot(&token, "starts_at", chrono::Duration::minutes(10))
            .await;
        self.book_demo_slot(token, slot, false).await
    }

    async fn book_demo_slot(
        &self,
        coordinator_token: String,
        slot: Value,
        join: bool,
    ) -> DemoSession {
        let case_id = self.get_ok("/api/v1/cases", &coordinator_token).await[0]["id"]
            .as_i64()
            .expect("case");
        let room_id = self.get_ok("/api/v1/local-rooms", &coordinator_token).await[0]["id"]
            .as_i64()
            .expect("room");
        let res = self
            .post(
                "/api/v1/bookings",
                Some(&coordinator_token),
                &json!({"slot_id": slot["id"], "case_id": case_id, "local_room_id": room_id}),
            )
            .await;
        assert_eq!(res.status(), 201);
        let booking: Value = res.json().await.expect("booking JSON");
        let join_code = booking["join_code"].as_str().expect("join code").to_owned();
        let mut petitioner_token = String::new();
        if join {
            let res = self
                .post("/api/v1/auth/join", None, &json!({"code": join_code}))
                .await;
            assert_eq!(res.status(), 200);
            let joined: Value = res.json().await.expect("join JSON");
            petitioner_token = joined["token"].as_str().expect("token").to_owned();
        }
        DemoSession {
            session_id: booking["session_id"].as_i64().expect("session id"),
            booking_id: booking["id"].as_i64().expect("booking id"),
            case_id,
            join_code,
            officer_token: self.login("spc.officer").await,
            petitioner_token,
            coordinator_token,
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Each PostgreSQL test has its own database; drop it (forcing out the pool's connections).
        if let Some((admin, name)) = self.pg_database.take() {
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async {
                    use sqlx::Connection;
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                        let _ =
                            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                                .execute(&mut conn)
                                .await;
                    }
                });
            })
            .join();
        }
    }
}

/// Expects an error answer with this status and code.
pub async fn assert_error(res: reqwest::Response, status: u16, code: &str) -> Value {
    let got = res.status().as_u16();
    let body = res.text().await.expect("body");
    assert_eq!(got, status, "status for {code}: {body}");
    let v: Value =
        serde_json::from_str(&body).unwrap_or_else(|_| panic!("error body is JSON: {body}"));
    assert_eq!(v["code"], code, "{body}");
    assert!(
        v["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    v
}

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a signalling socket with the token in the subprotocol header, as a browser does.
pub async fn ws_connect(
    app: &TestApp,
    session_id: i64,
    protocols: &str,
) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = app
        .ws_url(&format!("/api/v1/sessions/{session_id}/signal"))
        .into_client_request()
        .expect("request");
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        protocols.parse().expect("header value"),
    );
    let (ws, response) = tokio_tungstenite::connect_async(req).await?;
    assert_eq!(
        response
            .headers()
            .get("Sec-WebSocket-Protocol")
            .and_then(|v| v.to_str().ok()),
        Some("courtlink.v1")
    );
    Ok(ws)
}

pub async fn ws_join(app: &TestApp, session_id: i64, token: &str) -> Ws {
    ws_connect(app, session_id, &format!("courtlink.v1, auth.{token}"))
        .await
        .expect("signalling socket opens")
}

/// The next text message as JSON, skipping pings; panics after 10 s.
pub async fn next_json(ws: &mut Ws) -> Value {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a message within 10 s")
            .expect("socket open")
            .expect("valid frame");
        match msg {
            Message::Text(t) => {
                return serde_json::from_str(t.as_str()).expect("server sends JSON");
            }
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

/// The next message of type `kind`, skipping others.
pub async fn next_of(ws: &mut Ws, kind: &str) -> Value {
    loop {
        let v = next_json(ws).await;
        if v["type"] == kind {
            return v;
        }
    }
}

pub async fn ws_send(ws: &mut Ws, v: &Value) {
    use futures_util::SinkExt;
    ws.send(tokio_tungstenite::tungstenite::Message::text(v.to_string()))
        .await
        .expect("send");
}

/// Runs a test body against both backends: SQLite always, PostgreSQL when present (required in CI).
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, $body:path) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $body(
                    common::TestApp::spawn_on(common::Backend::Sqlite)
                        .await
                        .expect("sqlite"),
                )
                .await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = common::TestApp::spawn_on(common::Backend::Postgres).await {
                    $body(app).await;
                }
            }
        }
    };
}

/// The host lets the petitioner in from the waiting room; both sides see it happen.
pub async fn admit_petitioner(host: &mut Ws, petitioner: &mut Ws) {
    next_of(host, "waiting").await;
    let_in(host, petitioner).await;
}

/// The host admits the petitioner, whose `waiting` it has already read.
pub async fn let_in(host: &mut Ws, petitioner: &mut Ws) {
    ws_send(host, &json!({"type": "admit", "participant": "petitioner"})).await;
    next_of(petitioner, "admitted").await;
    next_of(host, "joined").await;
}

/// Media flows both ways: the petitioner and the host report an inbound bitrate (`quality`),
/// as the web client does every 10 s, and this returns once both reports are on the session's
/// timeline (read with `officer_token`). A session counts as held only with such evidence; the
/// reports come a second after the call: that second is the media they vouch for.
pub async fn media_flows(
    app: &TestApp,
    session_id: i64,
    officer_token: &str,
    host: &mut Ws,
    petitioner: &mut Ws,
) {
    // A bitrate of its own marks this round's reports among any others on the timeline.
    let kbps = 850.0
        + f64::from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .subsec_micros()
                % 1000,
        ) / 1000.0;
    let recorded = || async {
        let detail = app
            .get_ok(&format!("/api/v1/sessions/{session_id}"), officer_token)
            .await;
        let mine: Vec<bool> = detail["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter(|e| e["kind"] == "quality" && e["data"]["bitrate_kbps"].as_f64() == Some(kbps))
            .map(|e| e["actor"] == "petitioner")
            .collect();
        mine.contains(&true) && mine.contains(&false)
    };
    // The timeline keeps whole seconds: a report in the same second as the admission would
    // vouch for no time at all, so let the clock pass into the next second first.
    tokio::time::sleep(Duration::from_millis(1050)).await;
    let report =
        json!({"type": "quality", "rtt_ms": 30.0, "packet_loss": 0.0, "bitrate_kbps": kbps});
    ws_send(petitioner, &report).await;
    ws_send(host, &report).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !recorded().await {
        assert!(
            std::time::Instant::now() < deadline,
            "the quality reports reach the timeline within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The machine's Redis, or None (after saying so loudly) when it is absent and not required.
pub fn shared_redis() -> Option<String> {
    match std::net::TcpStream::connect("127.0.0.1:6379") {
        Ok(_) => Some("redis://127.0.0.1:6379/".into()),
        Err(e) => {
            if std::env::var(REQUIRE_SERVICES).is_ok() {
                panic!(
                    "Redis is required ({REQUIRE_SERVICES} is set) but 127.0.0.1:6379 does not answer: {e}"
                );
            }
            eprintln!(
                "\n*** SKIPPED: Redis at 127.0.0.1:6379 does not answer ({e}); set {REQUIRE_SERVICES}=1 to fail instead ***\n"
            );
            None
        }
    }
}

/// Settings for an instance on Redis `url` with a key prefix of its own.
pub fn with_redis(url: String) -> impl FnOnce(&mut Settings) {
    move |s: &mut Settings| {
        s.redis.url = url;
        s.redis.key_prefix = format!("courtlink-test-{}:", uuid_like());
    }
}

/// A Redis server of the test's own, on a free port, that the test may stop and start.
pub struct PrivateRedis {
    pub port: u16,
    child: Option<std::process::Child>,
}

impl PrivateRedis {
    pub fn start() -> Option<PrivateRedis> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let mut r = PrivateRedis { port, child: None };
        if !r.run() {
            if std::env::var(REQUIRE_SERVICES).is_ok() {
                panic!(
                    "redis-server is required ({REQUIRE_SERVICES} is set) but could not be started"
                );
            }
            eprintln!("\n*** SKIPPED: redis-server could not be started ***\n");
            return None;
        }
        Some(r)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn run(&mut self) -> bool {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn();
        let Ok(child) = child else { return false };
        self.child = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        assert!(self.run(), "redis-server restarts");
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The host and the petitioner in a live call: both joined, the petitioner admitted.
pub async fn live_call(
    app: &TestApp,
    session_id: i64,
    host_token: &str,
    petitioner_token: &str,
) -> (Ws, Ws) {
    let mut host = ws_join(app, session_id, host_token).await;
    next_json(&mut host).await;
    let mut petitioner = ws_join(app, session_id, petitioner_token).await;
    next_json(&mut petitioner).await;
    admit_petitioner(&mut host, &mut petitioner).await;
    (host, petitioner)
}

/// A fresh PostgreSQL database of the test's own (on the machine's PostgreSQL), dropped with it;
/// None (after saying so loudly) when PostgreSQL is absent and the environment allows that.
pub struct ScratchPg {
    pub url: String,
    name: String,
}

impl ScratchPg {
    pub async fn create() -> Option<ScratchPg> {
        let (url, name) = fresh_pg_database().await?;
        Some(ScratchPg { url, name })
    }
}

impl Drop for ScratchPg {
    fn drop(&mut self) {
        let (admin, name) = (pg_admin_url(), std::mem::take(&mut self.name));
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                use sqlx::Connection;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

impl TestApp {
    /// The application, with demo data, on a database the caller provides (and cleans up).
    pub async fn spawn_at(
        backend: Backend,
        database_url: String,
        tweak: impl FnOnce(&mut Settings),
    ) -> TestApp {
        let mut settings = test_settings(database_url);
        tweak(&mut settings);
        let app = Application::build(settings.clone())
            .await
            .expect("application builds");
        let port = app.port();
        let shutdown = app.shutdown();
        let state = app.state();
        tokio::spawn(app.run_until_stopped());
        TestApp {
            port,
            shutdown,
            state,
            address: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("http client"),
            backend,
            settings,
            _dir: tempfile::tempdir().expect("temp dir"),
            pg_database: None,
        }
    }
}

/// A PostgreSQL cluster of the test's own (initdb into a temp dir, trust auth, a free port), that
/// the test may stop and start without disturbing the machine's PostgreSQL. When the process runs
/// as root, the cluster runs as the `postgres` user (PostgreSQL refuses to run as root).
pub struct PrivatePostgres {
    pub port: u16,
    bin: PathBuf,
    as_postgres: bool,
    dir: tempfile::TempDir,
}

impl PrivatePostgres {
    /// Starts a new cluster; None (after saying so loudly) when that is impossible here and the
    /// environment does not require it.
    pub fn start() -> Option<PrivatePostgres> {
        match Self::try_start() {
            Ok(pg) => Some(pg),
            Err(e) => {
                if std::env::var(REQUIRE_SERVICES).is_ok() {
                    panic!(
                        "a private PostgreSQL cluster is required ({REQUIRE_SERVICES} is set) but could not be started: {e}"
                    );
                }
                eprintln!(
                    "\n*** SKIPPED: a private PostgreSQL cluster could not be started ({e}); set {REQUIRE_SERVICES}=1 to fail instead ***\n"
                );
                None
            }
        }
    }

    fn try_start() -> Result<PrivatePostgres, String> {
        let bin = Self::bin_dir().ok_or("no initdb under /usr/lib/postgresql/*/bin or on PATH")?;
        let as_postgres = std::process::Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false);
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        if as_postgres {
            let ok = std::process::Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if !ok {
                return Err("cannot hand the cluster's directory to the postgres user".into());
            }
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let pg = PrivatePostgres {
            port,
            bin,
            as_postgres,
            dir,
        };
        let data = pg.dir.path().join("data");
        let out = pg
            .command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
            .output()
            .map_err(|e| format!("initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        pg.run()?;
        Ok(pg)
    }

    fn bin_dir() -> Option<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join("bin"))
            .filter(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
            .collect();
        // Highest version last (numeric order: 9.6 < 10 < 15).
        found.sort_by_key(|p| {
            p.parent()
                .and_then(|v| v.file_name())
                .and_then(|v| v.to_str())
                .and_then(|v| v.split('.').next())
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or(0)
        });
        found.pop().or_else(|| {
            let out = std::process::Command::new("pg_config")
                .arg("--bindir")
                .output()
                .ok()?;
            let b = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            b.join("initdb").exists().then_some(b)
        })
    }

    fn command(&self, tool: &str) -> std::process::Command {
        let exe = self.bin.join(tool);
        if self.as_postgres {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            std::process::Command::new(exe)
        }
    }

    fn run(&self) -> Result<(), String> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60",
            self.port,
            self.dir.path().display()
        );
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-o", &options, "-l"])
            .arg(self.dir.path().join("log"))
            .args(["-w", "-t", "30", "start"])
            .output()
            .map_err(|e| format!("pg_ctl start: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "pg_ctl start failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(())
    }

    /// The cluster's `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the cluster at once (`pg_ctl stop -m immediate`: no checkpoint, connections cut).
    pub fn stop(&self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }

    /// Starts the stopped cluster again (crash recovery included), on the same port.
    pub fn restart(&self) {
        if let Err(e) = self.run() {
            panic!("the private PostgreSQL cluster restarts: {e}");
        }
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Asserts that `/api/openapi.json` documents each `(path, method)`.
pub async fn assert_documented(app: &TestApp, operations: &[(&str, &str)]) {
    let doc: Value = app
        .get("/api/openapi.json", None)
        .await
        .json()
        .await
        .expect("the OpenAPI document is JSON");
    let paths = doc["paths"].as_object().expect("paths");
    for (path, method) in operations {
        assert!(
            paths.get(*path).and_then(|p| p.get(*method)).is_some(),
            "{method} {path} is documented"
        );
    }
}
