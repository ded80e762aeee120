//! Tokens and passwords.
//!
//! Tokens are signed and checked by `Tokens`, defined in the parsers crate
//! (parsers/src/tokens.rs, which says how) so that the fuzz targets build it without the server;
//! here, the request extractors that check them on every request, against the current token and
//! join versions in the store.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{FromRequest, HttpRequest, HttpResponse, dev::Payload, web};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::config::AuthSettings;
use crate::domain::{Role, SessionId, UserId};
use crate::error::{ApiError, ErrorCode};

pub use courtlink_parsers::names::{
    NameError, is_hidden_char, name_input, normalize_name, normalize_username, username_input,
};
pub use courtlink_parsers::passwords::{MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS, new_password};
pub use courtlink_parsers::tokens::{
    JOIN_AUDIENCE, JoinClaims, STAFF_AUDIENCE, StaffClaims, TokenKeys, Tokens,
};

/// The server builds `Tokens` from its `auth` settings.
impl<'a> From<&'a AuthSettings> for TokenKeys<'a> {
    fn from(settings: &'a AuthSettings) -> TokenKeys<'a> {
        TokenKeys {
            issuer: &settings.issuer,
            signing_key: &settings.signing_key,
            signing_kid: &settings.signing_kid,
            previous_keys: settings
                .previous_keys
                .iter()
                .map(|k| (k.kid.as_str(), &k.key))
                .collect(),
            staff_token_minutes: settings.staff_token_minutes,
            leeway_seconds: settings.leeway_seconds,
        }
    }
}

/// The argon2id hash of a password, in PHC string form.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash a password: {e}"))
}

/// Password work (`hash_password`, `verify_password`): argon2id fills 19 MiB and keeps a core
/// busy for each run. It runs on a fixed pool of `auth.password_workers` places, fewer than the
/// cores (half of them, at least one, by default), so that a storm of logins never takes every
/// core from bookings and signalling: in the province day, 528 logins in the first minute took
/// both cores and `POST /bookings` waited ~1 s at p95 (issue 21). At most `auth.password_queue`
/// more requests wait for a place; past that a request is refused at once with 503 `busy` and a
/// `Retry-After` (the time the queue takes to drain), instead of queueing without bound while
/// its memory and its client's patience run out. The pool's threads also run below the rest of
/// the server (`auth.password_nice`), so that the core they use still answers a booking first. One
/// pool per instance, built at start-up.
pub struct PasswordPool {
    /// Work for the pool's threads (`password-0`, …), which run below the rest of the server
    /// (`auth.password_nice`). None if the system refused every thread: the work then runs on the
    /// runtime's blocking threads, at the server's own priority.
    jobs: Option<std::sync::mpsc::Sender<Job>>,
    /// One permit per place that runs or waits: `workers + queue`.
    admitted: tokio::sync::Semaphore,
    workers: u64,
    places: u64,
    /// A moving average of one piece of work, in microseconds (for `Retry-After`).
    mean_micros: Arc<std::sync::atomic::AtomicU64>,
}

type Job = Box<dyn FnOnce() + Send>;

impl PasswordPool {
    /// `workers` threads (at least one), `queue` more waiting, the threads `nice` below the
    /// caller (`auth.password_nice`). A fixed pool leaves the other cores free, but the one it
    /// runs on is shared too: 10 below, the scheduler gives an argon2 run about a tenth of a
    /// core that a booking or the signalling also wants, and the whole core when nothing else
    /// does. Lowering a thread's own priority needs no privilege.
    pub fn new(workers: usize, queue: usize, nice: i32) -> PasswordPool {
        let workers = workers.max(1);
        let (jobs, queued) = std::sync::mpsc::channel::<Job>();
        let queued = Arc::new(Mutex::new(queued));
        let mut started = 0;
        for i in 0..workers {
            let queued = Arc::clone(&queued);
            let spawned = std::thread::Builder::new()
                .name(format!("password-{i}"))
                .spawn(move || {
                    if let Err(e) = lower_this_threads_priority(nice) {
                        tracing::warn!(error = %e, "password work runs at the server's priority");
                    }
                    loop {
                        // The lock is held only while waiting for the next piece of work.
                        let next = match queued.lock() {
                            Ok(q) => q.recv(),
                            Err(_) => return,
                        };
                        // None left: the pool is gone.
                        let Ok(job) = next else { return };
                        // A panic in one piece of work ends that piece (its caller gets a 500),
                        // not the thread.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    }
                });
            match spawned {
                Ok(_) => started += 1,
                Err(e) => tracing::error!(error = %e, "cannot start a password thread"),
            }
        }
        PasswordPool {
            jobs: (started > 0).then_some(jobs),
            admitted: tokio::sync::Semaphore::new(workers + queue),
            workers: started.max(1) as u64,
            places: (workers + queue) as u64,
            // Until measured: argon2id with the default parameters takes ~50 ms on a core.
            mean_micros: Arc::new(std::sync::atomic::AtomicU64::new(50_000)),
        }
    }

    pub fn from_settings(settings: &AuthSettings) -> PasswordPool {
        PasswordPool::new(
            settings.password_workers(),
            settings.password_queue,
            settings.password_nice,
        )
    }

    /// Runs `work` on one of the pool's threads once one is free; 503 `busy` at once if the
    /// queue is full.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let Ok(_admitted) = self.admitted.try_acquire() else {
            return Err(ApiError::Busy { wait: self.drain() });
        };
        let mean = Arc::clone(&self.mean_micros);
        let timed = move || {
            let began = Instant::now();
            let out = work();
            let took = u64::try_from(began.elapsed().as_micros()).unwrap_or(u64::MAX);
            let m = mean.load(std::sync::atomic::Ordering::Relaxed);
            mean.store(m - m / 8 + took / 8, std::sync::atomic::Ordering::Relaxed);
            out
        };
        let Some(jobs) = &self.jobs else {
            return web::block(timed)
                .await
                .map_err(|e| ApiError::Internal(e.into()));
        };
        let (done, answer) = tokio::sync::oneshot::channel();
        jobs.send(Box::new(move || {
            let _ = done.send(timed());
        }))
        .map_err(|_| ApiError::Internal(anyhow::anyhow!("the password threads have stopped")))?;
        answer
            .await
            .map_err(|_| ApiError::Internal(anyhow::anyhow!("a piece of password work failed")))
    }

    /// How long a full queue takes to drain: every place's work, shared by the workers.
    fn drain(&self) -> Duration {
        let mean = self.mean_micros.load(std::sync::atomic::Ordering::Relaxed);
        Duration::from_micros(mean.saturating_mul(self.places) / self.workers)
            .max(Duration::from_secs(1))
    }
}

/// The calling thread's nice value (Linux keeps one per thread).
#[cfg(target_os = "linux")]
pub fn this_threads_nice() -> std::io::Result<i32> {
    // SAFETY: gettid reads this thread's id; errno is this thread's own, cleared first because
    // getpriority may return -1 as a value.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        *libc::__errno_location() = 0;
        let nice = libc::getpriority(libc::PRIO_PROCESS, tid);
        if nice == -1 && *libc::__errno_location() != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(nice)
    }
}

/// Adds `by` to the calling thread's nice value (at most 19).
#[cfg(target_os = "linux")]
fn lower_this_threads_priority(by: i32) -> std::io::Result<()> {
    let target = (this_threads_nice()? + by).min(19);
    // SAFETY: setpriority on this thread's own id changes only its scheduling weight.
    let rc = unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, target)
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_this_threads_priority(_by: i32) -> std::io::Result<()> {
    Ok(())
}

/// Checks a password against a stored hash. CPU-heavy: call it through `password_work`.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// An authenticated staff member, from `Authorization: Bearer <token>`.
#[derive(Debug, Clone)]
pub struct Staff {
    pub user_id: UserId,
    pub role: Role,
    pub court_id: i64,
    pub name: String,
    pub token_version: i64,
}

impl Staff {
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::Forbidden("your role may not do this"))
        }
    }
}

pub fn bearer(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// Users' current token versions. Read from the store on every check, not cached: a
/// revocation (logout, disabled account, new password or role) then takes effect at once on
/// every instance, with no bus message to lose. The read is one primary-key look-up, next to
/// the handler's own queries.
#[derive(Default)]
pub struct TokenVersions;

impl TokenVersions {
    /// Whether a token at `ver` is still good for the user.
    pub async fn accepts(
        &self,
        store: &crate::store::Store,
        user_id: UserId,
        ver: i64,
    ) -> Result<bool, ApiError> {
        Ok(store.token_version(user_id).await? == Some(ver))
    }
}

/// What the request extractors check callers with, registered by start-up as its own
/// `web::Data`: the extractors need nothing else of the application.
pub struct Verifier {
    pub tokens: Arc<Tokens>,
    pub token_versions: Arc<TokenVersions>,
    pub store: crate::store::Store,
}

impl FromRequest for Staff {
    type Error = ApiError;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Staff, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let checked = (|| {
            let state = req
                .app_data::<web::Data<Verifier>>()
                .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no token verifier")))?
                .clone();
            let token = bearer(req).ok_or(ApiError::Unauthenticated("log in first"))?;
            let claims = state.tokens.verify_staff(token)?;
            let user_id: UserId = claims
                .sub
                .parse()
                .map_err(|_| ApiError::Unauthenticated("the token names no user"))?;
            Ok::<_, ApiError>((state, claims, user_id))
        })();
        Box::pin(async move {
            let (state, claims, user_id) = checked?;
            if !state
                .token_versions
                .accepts(&state.store, user_id, claims.ver)
                .await?
            {
                return Err(ApiError::Unauthenticated(
                    "you have been logged out (or the account changed); log in again",
                ));
            }
            Ok(Staff {
                user_id,
                role: claims.role,
                court_id: claims.court,
                name: claims.name,
                token_version: claims.ver,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Password work runs below the rest of the server: its thread's nice value is
    /// `nice` above the caller's (`auth.password_nice`).
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn password_work_runs_below_the_rest_of_the_server() {
        let ours = this_threads_nice().unwrap();
        for nice in [10, 0] {
            let pool = PasswordPool::new(1, 4, nice);
            let theirs = pool.run(this_threads_nice).await.unwrap().unwrap();
            assert_eq!(theirs, (ours + nice).min(19), "nice {nice}");
        }
        let pool = PasswordPool::new(1, 4, 10);
        assert_eq!(pool.run(|| 6 * 7).await.unwrap(), 42);
    }

    /// A piece of work that panics is answered 500, and the pool goes on with the next one.
    #[tokio::test]
    async fn a_panic_in_password_work_ends_that_work_only() {
        let pool = PasswordPool::new(1, 4, 10);
        let failed = pool.run(|| -> u8 { panic!("boom") }).await;
        assert!(matches!(failed, Err(ApiError::Internal(_))));
        assert_eq!(pool.run(|| 1).await.unwrap(), 1);
    }

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correct horse").unwrap();
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a hash"));
    }
}

/// A petitioner, from `Authorization: Bearer <join token>`: admitted to one session only,
/// while the join code the token was minted from is still the session's code.
#[derive(Debug, Clone)]
pub struct Petitioner {
    pub session_id: SessionId,
    /// The seat this token holds (see `JoinClaims::seat`).
    pub seat: String,
    /// The session's join version the token was minted under (see `JoinClaims::jv`).
    pub join_version: i64,
}

impl Petitioner {
    /// Checks a join token: its signature and times, then its join version against the
    /// session's current one (a replaced code revokes every token minted from the old one).
    pub async fn from_token(
        tokens: &Tokens,
        store: &crate::store::Store,
        token: &str,
    ) -> Result<Petitioner, ApiError> {
        let claims = tokens.verify_join(token)?;
        if store.join_version(claims.sid).await? != Some(claims.jv) {
            return Err(ApiError::Unauthenticated(
                "this join code was replaced; join with the code on your newest notice",
            ));
        }
        Ok(Petitioner {
            session_id: claims.sid,
            seat: claims.seat,
            join_version: claims.jv,
        })
    }
}

impl FromRequest for Petitioner {
    type Error = ApiError;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Petitioner, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let checked = (|| {
            let state = req
                .app_data::<web::Data<Verifier>>()
                .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no token verifier")))?
                .clone();
            let token = bearer(req)
                .ok_or(ApiError::Unauthenticated("join with your code first"))?
                .to_owned();
            Ok::<_, ApiError>((state, token))
        })();
        Box::pin(async move {
            let (state, token) = checked?;
            Petitioner::from_token(&state.tokens, &state.store, &token).await
        })
    }
}

/// Either kind of caller, for what both staff and the petitioner may read.
#[derive(Debug, Clone)]
pub enum Caller {
    Staff(Staff),
    Petitioner(Petitioner),
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Caller, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        // A staff token is checked against the user's current version (a store read), so the
        // staff extractor is awaited, not polled once; a join token is checked by itself.
        let staff = Staff::from_request(req, payload);
        let petitioner = Petitioner::from_request(req, payload);
        Box::pin(async move {
            match staff.await {
                Ok(s) => return Ok(Caller::Staff(s)),
                // The token may be good; the store could not say.
                Err(e @ ApiError::StoreUnavailable(_)) => return Err(e),
                Err(_) => {}
            }
            match petitioner.await {
                Ok(p) => Ok(Caller::Petitioner(p)),
                Err(e @ ApiError::StoreUnavailable(_)) => Err(e),
                Err(_) => Err(ApiError::Unauthenticated(
                    "the token is missing, invalid or expired",
                )),
            }
        })
    }
}

/// The client's address: the peer's, or, when the peer is one of `trusted_proxies`, the
/// nearest untrusted address in its `X-Forwarded-For` (nginx appends the address it saw). A
/// header from anyone else is ignored: it would let a client pick the address it is counted as.
pub fn client_address(req: &HttpRequest, trusted_proxies: &[IpAddr]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    if !trusted_proxies.contains(&peer) {
        return Some(peer);
    }
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in forwarded.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) if trusted_proxies.contains(&ip) => continue,
            Ok(ip) => return Some(ip),
            // A hop we cannot read: stop at the last address we can vouch for.
            Err(_) => break,
        }
    }
    Some(peer)
}

/// A brake on guessing, per key (an address) on this instance: `free` failures cost nothing;
/// after them each failure doubles the wait before the next attempt (1 s, 2 s, 4 s … up to
/// `cap`). A key with no failure for `forget_after` starts afresh; a success clears it.
pub struct Backoff<K> {
    free: u32,
    cap: Duration,
    forget_after: Duration,
    map: Mutex<HashMap<K, Failures>>,
}

struct Failures {
    count: u32,
    last: Instant,
    next_allowed: Instant,
}

/// The wait after `over` failures beyond the free ones: 1 s doubling, at most `cap`.
pub fn doubling(over: u32, cap: Duration) -> Duration {
    Duration::from_secs(1u64 << over.min(20)).min(cap)
}

impl<K: std::hash::Hash + Eq + Clone> Backoff<K> {
    pub fn new(free: u32, cap: Duration) -> Backoff<K> {
        Backoff {
            free,
            cap,
            forget_after: (cap * 4).max(Duration::from_secs(600)),
            map: Mutex::default(),
        }
    }

    /// `Err(wait)` while the key must wait before its next attempt.
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        let now = Instant::now();
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(key) {
            Some(f) if f.next_allowed > now => Err(f.next_allowed - now),
            _ => Ok(()),
        }
    }

    /// Counts a failure; the wait it imposes, if any.
    pub fn failed(&self, key: &K) -> Option<Duration> {
        let now = Instant::now();
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 100_000 {
            let forget = self.forget_after;
            map.retain(|_, f| now.duration_since(f.last) < forget);
        }
        let f = map.entry(key.clone()).or_insert(Failures {
            count: 0,
            last: now,
            next_allowed: now,
        });
        if now.duration_since(f.last) >= self.forget_after {
            f.count = 0;
        }
        f.count += 1;
        f.last = now;
        let wait = f
            .count
            .checked_sub(self.free + 1)
            .map(|over| doubling(over, self.cap));
        f.next_allowed = now + wait.unwrap_or_default();
        wait
    }

    pub fn succeeded(&self, key: &K) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

/// Failures in the current minute across every address, on this instance: the ceiling on
/// guessing from many addresses at once.
pub struct FailureBudget {
    per_minute: u32,
    window: Mutex<(Instant, u32)>,
}

impl FailureBudget {
    pub fn new(per_minute: u32) -> FailureBudget {
        FailureBudget {
            per_minute,
            window: Mutex::new((Instant::now(), 0)),
        }
    }

    /// `Err(wait)` while this minute's failures are used up.
    pub fn check(&self) -> Result<(), Duration> {
        let now = Instant::now();
        let w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        let minute = Duration::from_secs(60);
        if now.duration_since(w.0) < minute && w.1 >= self.per_minute {
            Err(minute - now.duration_since(w.0))
        } else {
            Ok(())
        }
    }

    pub fn failed(&self) {
        let now = Instant::now();
        let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        if now.duration_since(w.0) >= Duration::from_secs(60) {
            *w = (now, 0);
        }
        w.1 += 1;
    }
}

/// The brakes on guessing passwords and join codes, built once at start-up.
pub struct Guards {
    /// Wrong passwords per address (the per-account brake lives in the store: it must hold
    /// across instances).
    pub login_by_address: Backoff<IpAddr>,
    /// Wrong (or not-now) join codes per address.
    pub join_by_address: Backoff<IpAddr>,
    /// Wrong join codes on this instance in total.
    pub join_total: FailureBudget,
    /// The bounded pool that password work runs on (a storm of logins must not starve the
    /// rest of the server).
    pub passwords: PasswordPool,
}

impl Guards {
    pub fn new(settings: &AuthSettings) -> Guards {
        Guards {
            login_by_address: Backoff::new(
                settings.login_free_failures_per_address,
                Duration::from_secs(60),
            ),
            join_by_address: Backoff::new(
                settings.join_free_failures_per_address,
                Duration::from_secs(settings.join_max_delay_seconds),
            ),
            join_total: FailureBudget::new(settings.join_failures_per_minute),
            passwords: PasswordPool::from_settings(settings),
        }
    }
}

/// A 429 with `Retry-After` (whole seconds, rounded up), for a brake that says how long to wait.
pub fn slow_down(code: ErrorCode, message: String, wait: Duration) -> HttpResponse {
    use actix_web::ResponseError;
    let mut res = ApiError::TooMany { code, message }.error_response();
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&secs.max(1).to_string()) {
        res.headers_mut()
            .insert(actix_web::http::header::RETRY_AFTER, v);
    }
    res
}

/// Login attempts per address in the current minute, whatever their outcome (per instance: a
/// coarse brake; `Guards` slows failures down, and the store slows an account down across
/// instances).
#[derive(Default)]
pub struct AttemptsByAddress(Mutex<HashMap<IpAddr, (Instant, u32)>>);

impl AttemptsByAddress {
    /// Counts an attempt; `Err(wait)` when the address has used up its minute.
    pub fn allow(&self, address: IpAddr, per_minute: u32) -> Result<(), Duration> {
        let now = Instant::now();
        let minute = Duration::from_secs(60);
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 10_000 {
            map.retain(|_, (start, _)| now.duration_since(*start) < minute);
        }
        let entry = map.entry(address).or_insert((now, 0));
        if now.duration_since(entry.0) >= minute {
            *entry = (now, 0);
        }
        entry.1 += 1;
        if entry.1 <= per_minute {
            Ok(())
        } else {
            Err(minute - now.duration_since(entry.0))
        }
    }
}
