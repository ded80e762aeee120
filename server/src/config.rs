//! Layered settings: `config/default.toml` → `config/<profile>.toml` → `COURTLINK__SECTION__KEY`.
//!
//! Every field is documented here, where it is declared. Unknown keys are rejected, so a typo in a
//! file or an environment variable stops start-up with the key's name instead of being ignored.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The signing key shipped in `config/default.toml` for the demo. The production profile refuses it.
pub const DEMO_SIGNING_KEY: &str = "courtlink-demo-signing-key-not-for-production-use";
pub const DEMO_DATA_KEY: &str = "courtlink-demo-data-key-not-for-production-use!";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Name of the profile these settings were loaded for (`default`, `production`, …); set by the loader.
    #[serde(default)]
    pub profile: String,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub signalling: SignallingSettings,
    pub demo: DemoSettings,
    pub log: LogSettings,
    pub redis: RedisSettings,
    pub ice: IceSettings,
    pub records: RecordsSettings,
    /// Connectivity tests with the server's own WebRTC peer; the keys are documented in
    /// `server/src/connectivity/settings.rs`.
    pub connectivity: crate::connectivity::ConnectivitySettings,
    pub scheduling: SchedulingSettings,
    /// Delivery of the outbox: in-app notifications, webhooks, reminders; the keys are
    /// documented in `server/src/notify/mod.rs`.
    pub notifications: crate::notify::NotifySettings,
    pub privacy: PrivacySettings,
    /// Follow-up tasks (交办 → 办结报告, docs/follow-ups.md): deadlines and reminders.
    pub follow_ups: FollowUpSettings,
    pub ledger: LedgerSettings,
    /// Attachments to a case (the case file, docs/ledger.md).
    pub attachments: AttachmentSettings,
    /// Recording of each reception (docs/recording.md); the keys are documented in
    /// `server/src/recording/settings.rs`.
    pub recording: crate::recording::settings::RecordingSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentSettings {
    /// The largest attachment, in bytes (1 KiB to 64 MiB); a larger one is refused 413
    /// `attachment_too_large`, by its declared length before anything is stored (the rest of
    /// the file, up to twice the limit, is read and dropped, so that the client reads the answer).
    pub max_bytes: usize,
    /// The kinds of file accepted, as read from the content (magic bytes), never from the name:
    /// any of application/pdf, image/jpeg, image/png, image/gif, image/webp, image/tiff; at
    /// least one. Anything else: 415 `attachment_type_not_allowed`.
    pub allowed_types: Vec<crate::domain::MediaType>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerSettings {
    /// The largest ledger file (CSV or XLSX) an import reads, in bytes (1 KiB to 64 MiB); a
    /// larger one is refused 413 `import_too_large` before it is parsed. An XLSX may unpack to
    /// at most 16 times this. docs/ledger.md.
    pub import_max_bytes: usize,
    /// The most data rows one import takes (1 to 100000); more: 413 `import_too_many_rows`.
    pub import_max_rows: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacySettings {
    /// Seals petitioners' identity and phone numbers at rest and keys their look-up hashes; at
    /// least 32 bytes. Never the demo key in production; changing it makes sealed data unreadable.
    pub data_key: SecretString,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordsSettings {
    /// A live session with everyone gone for this long (after the resume grace) is interrupted.
    pub interrupt_after_seconds: i64,
    /// A session whose petitioner has not come by this many minutes after its slot's end is a
    /// no-show (a late petitioner may still come within the slot).
    pub no_show_after_minutes: i64,
    /// How often each instance looks for interrupted sessions and no-shows, in seconds.
    pub sweep_seconds: u64,
    /// The least time, in seconds, that the petitioner and the host must have been connected
    /// with media flowing both ways, inside the session's window, for the session to count as a
    /// held reception (接访成立) and take an outcome (0–1800; 0 asks only for some such time,
    /// which is for tests). `docs/lifecycle.md` says why the default is 60.
    pub min_reception_seconds: i64,
}

/// The `[follow_ups]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowUpSettings {
    /// The deadline of a 交办 when the assigning court names none, in working days.
    pub default_working_days: i64,
    /// The shortest and the longest deadline a court may set, in working days (1–250).
    pub min_working_days: i64,
    pub max_working_days: i64,
    /// The due-soon reminder goes out when the due day is this many working days away or
    /// fewer (0: on the due day itself).
    pub remind_working_days: i64,
    /// How often each instance looks for tasks to remind, in seconds.
    pub sweep_seconds: u64,
}

impl FollowUpSettings {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| {
            Err(ConfigError::Invalid {
                key,
                message: message.to_owned(),
            })
        };
        if !(1..=250).contains(&self.min_working_days)
            || !(self.min_working_days..=250).contains(&self.max_working_days)
        {
            return invalid(
                "follow_ups.max_working_days",
                "need 1 <= min_working_days <= max_working_days <= 250",
            );
        }
        if !(self.min_working_days..=self.max_working_days).contains(&self.default_working_days) {
            return invalid(
                "follow_ups.default_working_days",
                "must lie between min_working_days and max_working_days",
            );
        }
        if !(0..=30).contains(&self.remind_working_days) {
            return invalid("follow_ups.remind_working_days", "must be between 0 and 30");
        }
        if !(1..=3600).contains(&self.sweep_seconds) {
            return invalid("follow_ups.sweep_seconds", "must be between 1 and 3600");
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulingSettings {
    /// How long a coordinator's hold on a chosen slot lasts, in seconds.
    pub hold_seconds: u64,
    /// How many slots one user may hold at once; a further hold is refused 409
    /// `hold_cap_reached` (renewing one's own hold never is).
    pub hold_cap_per_user: u32,
    /// How many holds one host court's slots may carry at once, from all users together.
    pub hold_cap_per_court: u32,
    /// How long a booking POST's `Idempotency-Key` and its answer are kept, in hours.
    pub idempotency_hours: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    /// `redis://host:6379/0` to share sessions between instances; empty for the in-process bus.
    pub url: String,
    /// Prefix of every key and channel, so that deployments (and test runs) can share a Redis.
    pub key_prefix: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IceSettings {
    /// STUN URLs handed to clients, e.g. `stun:stun.court.example:3478`.
    pub stun_urls: Vec<String>,
    /// TURN URLs handed to clients with per-participant credentials.
    pub turn_urls: Vec<String>,
    /// coturn's `static-auth-secret`; required when `turn_urls` is set.
    pub turn_secret: SecretString,
    /// Longest life of minted TURN credentials, in seconds. They end when the session's joining
    /// window closes (`auth.join_late_minutes` after its end), and never later than this; keep it
    /// above the longest session plus `auth.join_late_minutes` (coturn refuses an allocation's
    /// refresh once its credentials expire, which would cut the relay mid-call).
    pub turn_ttl_seconds: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Address to listen on.
    pub host: String,
    /// TCP port; 0 picks a free one (tests).
    pub port: u16,
    /// Folder holding the browser app, served at `/`.
    pub web_dir: PathBuf,
    /// HTTP worker threads; 0 means one per core.
    #[serde(default)]
    pub workers: usize,
    /// On SIGTERM, how long to wait for sockets and requests to finish before exiting, in seconds;
    /// then as long again, at most, for the background loops to finish their rounds (`tasks.rs`).
    pub drain_seconds: u64,
    /// A request's head (request line and headers) must arrive within this many seconds, or
    /// the connection is answered 408 and closed (1–60).
    #[serde(default = "default_header_read_seconds")]
    pub header_read_seconds: u64,
    /// A request's body must arrive within this many seconds of its head, or the request is
    /// refused with `body_too_slow` (1–600).
    #[serde(default = "default_body_read_seconds")]
    pub body_read_seconds: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://path/to/file.db` (embedded default) or `postgres://user@host/db`.
    pub url: SecretString,
    /// Upper bound of pooled connections.
    pub max_connections: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// `iss` claim of every token this service issues and accepts.
    pub issuer: String,
    /// HMAC-SHA256 key for tokens; at least 32 bytes. Never the demo key in production.
    pub signing_key: SecretString,
    /// The id (`kid`) of `signing_key`, written into every token it signs.
    #[serde(default = "default_kid")]
    pub signing_kid: String,
    /// Keys rotated out: they verify the tokens they signed until those expire, and sign
    /// nothing. Drop one after `staff_token_minutes` (and the longest join window) have passed.
    #[serde(default)]
    pub previous_keys: Vec<PreviousKey>,
    /// Lifetime of a staff token, in minutes (5–720).
    pub staff_token_minutes: i64,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds (0–30).
    pub leeway_seconds: u64,
    /// A join code works from this many minutes before its slot starts.
    pub join_early_minutes: i64,
    /// Wrong passwords in a row an account may have before it is slowed down (3–20): after
    /// them, each attempt must wait 1 s, then 2 s, 4 s … (up to `lockout_minutes`), except from
    /// an address the account has logged in from before. Nobody is locked out.
    pub max_failed_logins: i32,
    /// The longest wait a slowed-down account imposes between attempts, in minutes (1–1440).
    pub lockout_minutes: i64,
    /// Login attempts one address may make per minute, whatever their outcome.
    pub login_attempts_per_minute: u32,
    /// Wrong passwords one address may make (on one instance) before each further attempt
    /// from it must wait 1 s, 2 s, 4 s … up to a minute.
    #[serde(default = "default_login_free_failures")]
    pub login_free_failures_per_address: u32,
    /// Wrong or not-now join codes one address may send (on one instance) before each further
    /// attempt from it must wait 1 s, 2 s, 4 s … up to `join_max_delay_seconds`.
    #[serde(default = "default_join_free_failures")]
    pub join_free_failures_per_address: u32,
    /// The longest wait between join attempts of one guessing address, in seconds (10–3600).
    #[serde(default = "default_join_max_delay")]
    pub join_max_delay_seconds: u64,
    /// Wrong join codes per minute that one instance answers in total; past it every join is
    /// answered 429 until the minute ends (the ceiling on guessing from many addresses).
    #[serde(default = "default_join_failures_per_minute")]
    pub join_failures_per_minute: u32,
    /// Addresses of the reverse proxies whose `X-Forwarded-For` names the client. Empty: the
    /// header is ignored and the peer's address counts (a client could otherwise choose the
    /// address its attempts are counted against).
    #[serde(default)]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// ...and until this many minutes after the slot's end (a reception may run over), unless
    /// the session has ended.
    pub join_late_minutes: i64,
    // --- issue 21: password work ---
    /// Places that hash or check passwords (argon2id) at once on this instance; 0: half the
    /// cores, at least one. Keep it below the core count, so that a storm of logins cannot take
    /// every core from bookings and signalling (`auth::PasswordPool`).
    #[serde(default)]
    pub password_workers: usize,
    /// Password checks that may wait for a place (0–10000); past them a login, a password
    /// change or an administrator's password reset is refused at once with 503 `busy` and
    /// `Retry-After`.
    #[serde(default = "default_password_queue")]
    pub password_queue: usize,
    /// How far below the rest of the server password work runs, added to its threads' nice
    /// value (0–19; 0: the same priority). See `auth::PasswordPool`.
    #[serde(default = "default_password_nice")]
    pub password_nice: i32,
    /// How long a sign-in lasts, in hours (1–168): its refresh token renews the short staff
    /// token (`staff_token_minutes`) until then, rotating at each use (`app::signin`).
    #[serde(default = "default_refresh_token_hours")]
    pub refresh_token_hours: i64,
}

fn default_refresh_token_hours() -> i64 {
    12
}

fn default_password_queue() -> usize {
    64
}

fn default_password_nice() -> i32 {
    10
}

impl AuthSettings {
    /// `password_workers`, with 0 read as half the cores (at least one).
    pub fn password_workers(&self) -> usize {
        match self.password_workers {
            0 => std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1)),
            n => n,
        }
    }
}

fn default_header_read_seconds() -> u64 {
    5
}

fn default_body_read_seconds() -> u64 {
    30
}

fn default_login_free_failures() -> u32 {
    10
}

fn default_join_free_failures() -> u32 {
    5
}

fn default_join_max_delay() -> u64 {
    300
}

fn default_join_failures_per_minute() -> u32 {
    120
}

fn default_kid() -> String {
    "k1".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviousKey {
    pub kid: String,
    pub key: SecretString,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignallingSettings {
    /// Largest WebSocket frame accepted, in bytes; larger ones close the socket with 1009.
    pub max_frame_bytes: usize,
    /// Messages queued for one connection before it is dropped as too slow.
    pub outbound_queue: usize,
    /// Seconds between server pings.
    pub heartbeat_seconds: u64,
    /// A connection silent (no pong, no message) for this many seconds is closed.
    pub client_timeout_seconds: u64,
    /// Most participants in one session (2–16).
    pub max_participants: usize,
    /// A dropped participant keeps its place this long, so that a reconnect resumes unseen.
    pub resume_grace_seconds: u64,
    /// Messages a connection may send per second, on average.
    pub rate_limit_per_second: u32,
    /// Burst allowance; a connection refused more than this many times within one
    /// `rate_limit_window_seconds` is closed (a flood), while one that bursts now and then
    /// is only refused.
    pub rate_limit_burst: u32,
    /// The window over which refusals are counted (1–3600 s).
    pub rate_limit_window_seconds: u64,
    /// Origins allowed to open the socket besides the server's own (e.g. `https://courtlink.court.example`).
    pub allowed_origins: Vec<String>,
    /// Petitioners wait until the host admits them.
    pub waiting_room: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoSettings {
    /// Seed demo courts, users and cases on first start, and keep two days of demo slots open.
    pub seed: bool,
    /// Password of every demo user (printed at start-up).
    pub password: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// tracing filter, e.g. `info,sqlx=warn`; `RUST_LOG` wins when set.
    pub filter: String,
    /// `pretty` for people, `json` for log collectors.
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Pretty,
    Json,
}

/// How a relay is reached, from a TURN URL's `?transport=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        })
    }
}

/// A STUN or TURN URL in the form browsers accept (RFC 7064, RFC 7065):
/// `stun:host[:port]`, `turn:host[:port][?transport=udp|tcp]`, and the `stuns:`/`turns:` (TLS)
/// forms. Read here, at start-up, so that a URL a browser would reject never reaches one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceUrl {
    /// `turn:`/`turns:` rather than `stun:`/`stuns:`.
    pub turn: bool,
    /// Over TLS (`stuns:`/`turns:`).
    pub secure: bool,
    pub host: String,
    pub port: u16,
    pub transport: Transport,
}

impl IceUrl {
    pub fn parse(raw: &str) -> Result<IceUrl, String> {
        let bad = |why: &str| Err(format!("{raw:?} is not a STUN or TURN URL: {why}"));
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return bad("it contains white space");
        }
        let Some((scheme, rest)) = raw.split_once(':') else {
            return bad("it has no scheme (turn:, turns:, stun: or stuns:)");
        };
        let (turn, secure) = match scheme {
            "stun" => (false, false),
            "stuns" => (false, true),
            "turn" => (true, false),
            "turns" => (true, true),
            _ => return bad("the scheme must be turn:, turns:, stun: or stuns:"),
        };
        if rest.starts_with("//") {
            return bad("write turn:host:port, without //");
        }
        let (authority, query) = match rest.split_once('?') {
            Some((a, q)) => (a, Some(q)),
            None => (rest, None),
        };
        if authority.contains('@') || authority.contains('/') {
            return bad("credentials and paths do not belong in the URL");
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let Some((host, after)) = v6.split_once(']') else {
                return bad("an IPv6 address needs its closing ]");
            };
            (host, after.strip_prefix(':'))
        } else {
            match authority.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return bad("the host is missing");
        }
        let port = match port {
            None => {
                if secure {
                    5349
                } else {
                    3478
                }
            }
            Some(p) => match p.parse::<u16>() {
                Ok(p) if p > 0 => p,
                _ => return bad("the port must be a number from 1 to 65535"),
            },
        };
        let transport = match query {
            None if secure => Transport::Tcp,
            None => Transport::Udp,
            Some(_) if !turn => return bad("a STUN URL takes no ?transport="),
            Some("transport=udp") => Transport::Udp,
            Some("transport=tcp") => Transport::Tcp,
            Some(_) => return bad("the only parameter is ?transport=udp or ?transport=tcp"),
        };
        Ok(IceUrl {
            turn,
            secure,
            host: host.to_owned(),
            port,
            transport,
        })
    }
}

pub use crate::config_error::ConfigError;

impl Settings {
    /// Loads `default.toml`, then `<profile>.toml` unless the profile is `default`, then the
    /// environment, from `config_dir`.
    pub fn load(config_dir: &Path, profile: &str) -> Result<Settings, ConfigError> {
        Self::load_with_env(
            config_dir,
            profile,
            Env::prefixed("COURTLINK__").split("__"),
        )
    }

    fn load_with_env(config_dir: &Path, profile: &str, env: Env) -> Result<Settings, ConfigError> {
        let valid_profile = !profile.is_empty()
            && profile
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid_profile {
            return Err(ConfigError::Invalid {
                key: "profile",
                message: format!("'{profile}' is not a profile name (letters, digits, - and _)"),
            });
        }
        let base = config_dir.join("default.toml");
        if !base.is_file() {
            return Err(ConfigError::Load(format!("{} not found", base.display())));
        }
        let mut figment = Figment::from(Toml::file(&base));
        if profile != "default" {
            let layer = config_dir.join(format!("{profile}.toml"));
            if !layer.is_file() {
                return Err(ConfigError::Load(format!(
                    "profile '{profile}': {} not found",
                    layer.display()
                )));
            }
            figment = figment.merge(Toml::file(layer));
        }
        let mut settings: Settings = figment
            .merge(env)
            .extract()
            .map_err(|e| ConfigError::Load(describe_figment_error(e)))?;
        settings.profile = profile.to_owned();
        settings.validate()?;
        Ok(settings)
    }

    /// Rules that serde cannot express. Each failure names its key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| {
            Err(ConfigError::Invalid {
                key,
                message: message.to_owned(),
            })
        };
        let key = self.auth.signing_key.expose_secret();
        if key.len() < 32 {
            return invalid("auth.signing_key", "must be at least 32 bytes");
        }
        if self.profile == "production" && key == DEMO_SIGNING_KEY {
            return invalid(
                "auth.signing_key",
                "the demo signing key is refused in production; set COURTLINK__AUTH__SIGNING_KEY",
            );
        }
        let data_key = self.privacy.data_key.expose_secret();
        if data_key.len() < 32 {
            return invalid("privacy.data_key", "must be at least 32 bytes");
        }
        if self.profile == "production" && data_key == DEMO_DATA_KEY {
            return invalid(
                "privacy.data_key",
                "the demo data key is refused in production; set COURTLINK__PRIVACY__DATA_KEY",
            );
        }
        if !(1024..=64 << 20).contains(&self.ledger.import_max_bytes) {
            return invalid("ledger.import_max_bytes", "must be 1024 to 67108864");
        }
        if !(1..=100_000).contains(&self.ledger.import_max_rows) {
            return invalid("ledger.import_max_rows", "must be 1 to 100000");
        }
        if !(1024..=64 << 20).contains(&self.attachments.max_bytes) {
            return invalid("attachments.max_bytes", "must be 1024 to 67108864");
        }
        if self.attachments.allowed_types.is_empty() {
            return invalid(
                "attachments.allowed_types",
                "name at least one type (application/pdf, image/jpeg, image/png, …)",
            );
        }
        if self.profile == "production" && self.demo.seed {
            return invalid("demo.seed", "demo data is refused in production");
        }
        let kid_ok = |kid: &str| {
            !kid.is_empty()
                && kid.len() <= 32
                && kid
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if !kid_ok(&self.auth.signing_kid) {
            return invalid(
                "auth.signing_kid",
                "must be 1 to 32 letters, digits, - or _",
            );
        }
        let mut kids = std::collections::HashSet::from([self.auth.signing_kid.as_str()]);
        for previous in &self.auth.previous_keys {
            if !kid_ok(&previous.kid) || !kids.insert(previous.kid.as_str()) {
                return invalid(
                    "auth.previous_keys",
                    "each kid must be 1 to 32 letters, digits, - or _, and differ from every other",
                );
            }
            if previous.key.expose_secret().len() < 32 {
                return invalid("auth.previous_keys", "each key must be at least 32 bytes");
            }
        }
        if !(1..=60).contains(&self.server.header_read_seconds) {
            return invalid("server.header_read_seconds", "must be between 1 and 60");
        }
        if !(1..=600).contains(&self.server.body_read_seconds) {
            return invalid("server.body_read_seconds", "must be between 1 and 600");
        }
        if !(10..=3600).contains(&self.auth.join_max_delay_seconds) {
            return invalid("auth.join_max_delay_seconds", "must be between 10 and 3600");
        }
        if !(1..=100_000).contains(&self.auth.join_failures_per_minute) {
            return invalid(
                "auth.join_failures_per_minute",
                "must be between 1 and 100000",
            );
        }
        if !(5..=720).contains(&self.auth.staff_token_minutes) {
            return invalid("auth.staff_token_minutes", "must be between 5 and 720");
        }
        if self.auth.leeway_seconds > 30 {
            return invalid("auth.leeway_seconds", "must be at most 30");
        }
        if !(0..=120).contains(&self.auth.join_early_minutes) {
            return invalid("auth.join_early_minutes", "must be between 0 and 120");
        }
        if !(3..=20).contains(&self.auth.max_failed_logins) {
            return invalid("auth.max_failed_logins", "must be between 3 and 20");
        }
        if !(1..=1440).contains(&self.auth.lockout_minutes) {
            return invalid("auth.lockout_minutes", "must be between 1 and 1440");
        }
        if !(1..=1000).contains(&self.auth.login_attempts_per_minute) {
            return invalid(
                "auth.login_attempts_per_minute",
                "must be between 1 and 1000",
            );
        }
        if self.auth.password_workers > 256 {
            return invalid(
                "auth.password_workers",
                "must be between 0 (half the cores) and 256",
            );
        }
        if self.auth.password_queue > 10_000 {
            return invalid("auth.password_queue", "must be between 0 and 10000");
        }
        if !(0..=19).contains(&self.auth.password_nice) {
            return invalid("auth.password_nice", "must be between 0 and 19");
        }
        if !(1..=168).contains(&self.auth.refresh_token_hours) {
            return invalid("auth.refresh_token_hours", "must be between 1 and 168");
        }
        if !(0..=240).contains(&self.auth.join_late_minutes) {
            return invalid("auth.join_late_minutes", "must be between 0 and 240");
        }
        if self.auth.issuer.is_empty() {
            return invalid("auth.issuer", "must not be empty");
        }
        let url = self.database.url.expose_secret();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return invalid("database.url", "must start with sqlite: or postgres://");
        }
        if self.database.max_connections == 0 {
            return invalid("database.max_connections", "must be at least 1");
        }
        if !(1024..=1024 * 1024).contains(&self.signalling.max_frame_bytes) {
            return invalid(
                "signalling.max_frame_bytes",
                "must be between 1024 and 1048576",
            );
        }
        if self.signalling.outbound_queue == 0 {
            return invalid("signalling.outbound_queue", "must be at least 1");
        }
        if self.signalling.heartbeat_seconds == 0
            || self.signalling.client_timeout_seconds <= self.signalling.heartbeat_seconds
        {
            return invalid(
                "signalling.client_timeout_seconds",
                "must be longer than signalling.heartbeat_seconds, which must be at least 1",
            );
        }
        if !(2..=16).contains(&self.signalling.max_participants) {
            return invalid("signalling.max_participants", "must be between 2 and 16");
        }
        if self.signalling.resume_grace_seconds > 600 {
            return invalid("signalling.resume_grace_seconds", "must be at most 600");
        }
        if self.signalling.rate_limit_per_second == 0 || self.signalling.rate_limit_burst == 0 {
            return invalid(
                "signalling.rate_limit_per_second",
                "rate and burst must be at least 1",
            );
        }
        if !(1..=3600).contains(&self.signalling.rate_limit_window_seconds) {
            return invalid(
                "signalling.rate_limit_window_seconds",
                "must be between 1 and 3600",
            );
        }
        let redis = &self.redis.url;
        if !(redis.is_empty() || redis.starts_with("redis://") || redis.starts_with("rediss://")) {
            return invalid(
                "redis.url",
                "must be empty or start with redis:// or rediss://",
            );
        }
        for url in &self.ice.stun_urls {
            match IceUrl::parse(url) {
                Ok(u) if !u.turn => {}
                Ok(_) => return invalid("ice.stun_urls", &format!("{url} is a TURN URL")),
                Err(e) => return invalid("ice.stun_urls", &e),
            }
        }
        for url in &self.ice.turn_urls {
            match IceUrl::parse(url) {
                Ok(u) if u.turn => {}
                Ok(_) => return invalid("ice.turn_urls", &format!("{url} is a STUN URL")),
                Err(e) => return invalid("ice.turn_urls", &e),
            }
        }
        if !self.ice.turn_urls.is_empty() && self.ice.turn_secret.expose_secret().len() < 16 {
            return invalid(
                "ice.turn_secret",
                "must be at least 16 bytes when ice.turn_urls is set",
            );
        }
        if !(60..=86_400).contains(&self.ice.turn_ttl_seconds) {
            return invalid("ice.turn_ttl_seconds", "must be between 60 and 86400");
        }
        if !(0..=3600).contains(&self.records.interrupt_after_seconds) {
            return invalid(
                "records.interrupt_after_seconds",
                "must be between 0 and 3600",
            );
        }
        if !(0..=1800).contains(&self.records.min_reception_seconds) {
            return invalid(
                "records.min_reception_seconds",
                "must be between 0 and 1800",
            );
        }
        if !(1..=240).contains(&self.records.no_show_after_minutes) {
            return invalid("records.no_show_after_minutes", "must be between 1 and 240");
        }
        if !(1..=600).contains(&self.records.sweep_seconds) {
            return invalid("records.sweep_seconds", "must be between 1 and 600");
        }
        if !(30..=3600).contains(&self.scheduling.hold_seconds) {
            return invalid("scheduling.hold_seconds", "must be between 30 and 3600");
        }
        if self.scheduling.hold_cap_per_user == 0 || self.scheduling.hold_cap_per_court == 0 {
            return invalid(
                "scheduling.hold_cap_per_user",
                "the hold caps must be at least 1",
            );
        }
        if !(1..=168).contains(&self.scheduling.idempotency_hours) {
            return invalid("scheduling.idempotency_hours", "must be between 1 and 168");
        }
        if self.server.drain_seconds > 300 {
            return invalid("server.drain_seconds", "must be at most 300");
        }
        if self.demo.seed && self.demo.password.len() < 8 {
            return invalid("demo.password", "must be at least 8 characters");
        }
        self.connectivity.validate()?;
        self.follow_ups.validate()?;
        self.notifications.validate()?;
        self.recording.validate()?;
        Ok(())
    }
}

/// figment's messages already name the key (`for key "default.server.prot"`); make them read as one line.
fn describe_figment_error(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| {
            let key = e.path.join(".");
            let mut kind = e.kind.to_string();
            if kind.starts_with("unknown field") {
                kind = kind.replace("unknown field", "unknown key");
            }
            if key.is_empty() {
                kind
            } else {
                format!("{key}: {kind}")
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    fn repo_config() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config")
    }

    fn empty_env() -> Env {
        Env::prefixed("COURTLINK_TEST_NOTHING_SET__").split("__")
    }

    #[test]
    fn default_profile_loads() {
        let s = Settings::load_with_env(&repo_config(), "default", empty_env()).unwrap();
        assert_eq!(s.server.port, 8080);
        assert!(s.demo.seed);
    }

    #[test]
    fn production_refuses_demo_key() {
        let err = Settings::load_with_env(&repo_config(), "production", empty_env()).unwrap_err();
        assert!(err.to_string().contains("auth.signing_key"), "{err}");
    }

    #[test]
    fn unknown_key_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let text = std::fs::read_to_string(repo_config().join("default.toml")).unwrap();
        write(
            dir.path(),
            "default.toml",
            &text.replace("[server]", "[server]\nprot = 1"),
        );
        let err = Settings::load_with_env(dir.path(), "default", empty_env()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("server") && msg.contains("prot"), "{msg}");
    }

    #[test]
    fn bad_value_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let text = std::fs::read_to_string(repo_config().join("default.toml")).unwrap();
        write(
            dir.path(),
            "default.toml",
            &text.replace("port = 8080", "port = \"eighty\""),
        );
        let err = Settings::load_with_env(dir.path(), "default", empty_env()).unwrap_err();
        assert!(err.to_string().contains("server.port"), "{err}");
    }

    #[test]
    fn missing_profile_and_bad_profile_name() {
        let err = Settings::load_with_env(&repo_config(), "staging", empty_env()).unwrap_err();
        assert!(err.to_string().contains("staging"), "{err}");
        let err = Settings::load_with_env(&repo_config(), "../etc", empty_env()).unwrap_err();
        assert!(err.to_string().contains("profile"), "{err}");
    }

    #[test]
    fn rule_violations_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let text = std::fs::read_to_string(repo_config().join("default.toml")).unwrap();
        write(
            dir.path(),
            "default.toml",
            &text.replace("leeway_seconds = 30", "leeway_seconds = 300"),
        );
        let err = Settings::load_with_env(dir.path(), "default", empty_env()).unwrap_err();
        assert!(err.to_string().contains("auth.leeway_seconds"), "{err}");
    }

    #[test]
    fn bad_scheduling_and_key_settings_are_named() {
        let text = std::fs::read_to_string(repo_config().join("default.toml")).unwrap();
        for (from, to, key) in [
            (
                "hold_seconds = 300",
                "hold_seconds = 5",
                "scheduling.hold_seconds",
            ),
            (
                "idempotency_hours = 24",
                "idempotency_hours = 0",
                "scheduling.idempotency_hours",
            ),
            (
                "data_key = \"courtlink-demo-data-key-not-for-production-use!\"",
                "data_key = \"short\"",
                "privacy.data_key",
            ),
            (
                "[auth]",
                "[auth]\nsigning_kid = \"bad kid!\"",
                "auth.signing_kid",
            ),
            (
                "[auth]",
                "[auth]\nprevious_keys = [{ kid = \"k0\", key = \"short\" }]",
                "auth.previous_keys",
            ),
            (
                "[auth]",
                "[auth]\nprevious_keys = [{ kid = \"k1\", key = \"0123456789abcdef0123456789abcdef\" }]",
                "auth.previous_keys",
            ),
        ] {
            let dir = tempfile::tempdir().unwrap();
            assert!(text.contains(from), "{from}");
            write(dir.path(), "default.toml", &text.replacen(from, to, 1));
            let err = Settings::load_with_env(dir.path(), "default", empty_env()).unwrap_err();
            assert!(err.to_string().contains(key), "{key}: {err}");
        }
    }
}
