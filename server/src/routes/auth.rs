use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError, get, post, web};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::views::CourtView;
use crate::app::scope::Scope;
use crate::auth::{Staff, client_address, hash_password, slow_down, verify_password};
use crate::domain::{BookingStatus, JoinCode, Role, SessionStatus, UserId};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::state::AppState;
use crate::store::audit::AuditEntry;
pub use courtlink_parsers::bodies::{JoinRequest, LoginRequest};

#[derive(Serialize, ToSchema)]
pub struct UserView {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub court: CourtView,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: UserView,
}

/// A hash that no password matches, checked when the username is unknown so that a wrong
/// username costs as much time as a wrong password.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash_password("no user has this password").unwrap_or_default());

/// The refresh token's cookie (docs/security.md): HttpOnly (no script, and so no injected
/// script, reads it), SameSite=Strict (no other site's page sends it), sent only to the
/// authentication endpoints, and Secure when the request came over HTTPS.
const REFRESH_COOKIE: &str = "courtlink_refresh";
const REFRESH_PATH: &str = "/api/v1/auth";

fn refresh_cookie(req: &HttpRequest, value: &str, max_age_seconds: i64) -> String {
    let secure = if req.connection_info().scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{REFRESH_COOKIE}={value}; Path={REFRESH_PATH}; Max-Age={}; HttpOnly; SameSite=Strict{secure}",
        max_age_seconds.max(0)
    )
}

/// The refresh token the request carries in its cookie, if any.
fn presented_refresh(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == REFRESH_COOKIE && !value.is_empty()).then(|| value.to_owned())
        })
}

fn user_view(user: &crate::store::UserRow, role: Role) -> Result<UserView, ApiError> {
    Ok(UserView {
        id: user.id.get(),
        username: user.username.clone(),
        display_name: user.display_name.clone(),
        role,
        court: CourtView::new(user.court_id, &user.court_name, user.court_level),
    })
}

/// Why a password check did not let someone in.
enum Refused {
    /// Slowed down: a 429 with `Retry-After`, answered as it is.
    Slow(HttpResponse),
    Error(ApiError),
}

impl From<ApiError> for Refused {
    fn from(e: ApiError) -> Refused {
        Refused::Error(e)
    }
}

/// Checks a username and password: the one place that does, for the login and for a password
/// change (which must not become a second, unthrottled way to guess). Slows guessing per address
/// and per account, counts failures and audits them. On success the user, not yet logged in.
async fn authenticate(
    req: &actix_web::HttpRequest,
    state: &AppState,
    username: &str,
    password: String,
) -> Result<(crate::store::UserRow, Option<std::net::IpAddr>), Refused> {
    let auth = &state.settings.auth;
    let address = client_address(req, &auth.trusted_proxies);
    if let Some(address) = address {
        if let Err(wait) = state
            .login_attempts
            .allow(address, auth.login_attempts_per_minute)
        {
            return Err(Refused::Slow(slow_down(
                ErrorCode::TooManyAttempts,
                "too many login attempts from this address; wait a minute".into(),
                wait,
            )));
        }
        if let Err(wait) = state.guards.login_by_address.check(&address) {
            return Err(Refused::Slow(slow_down(
                ErrorCode::LoginSlowed,
                format!(
                    "too many wrong passwords from this address; try again in {} s",
                    wait.as_secs().max(1)
                ),
                wait,
            )));
        }
    }
    if password.is_empty() || password.len() > 256 {
        return Err(ApiError::invalid("username (1–64) and password (1–256) are required").into());
    }
    let username = crate::auth::normalize_username(username).map_err(ApiError::invalid)?;
    let user = state
        .store
        .user_by_login_name(&username)
        .await
        .map_err(ApiError::from)?;
    let address_text = address.map(|a| a.to_string()).unwrap_or_default();
    if let Some((user_id, until)) = user.as_ref().and_then(|u| {
        u.locked_until
            .filter(|t| *t > chrono::Utc::now())
            .map(|t| (u.id, t))
    }) {
        if !state
            .store
            .login_address_known(user_id, &address_text)
            .await
            .map_err(ApiError::from)?
        {
            let entry = AuditEntry::new(
                "anonymous",
                "auth.login_slowed",
                format!("username:{username}"),
                serde_json::json!({}),
            );
            state.store.audit(&entry).await.map_err(ApiError::from)?;
            let wait = (until - chrono::Utc::now()).to_std().unwrap_or_default();
            return Err(Refused::Slow(slow_down(
                ErrorCode::LoginSlowed,
                format!(
                    "too many wrong passwords for this account; try again in {} s",
                    wait.as_secs().max(1)
                ),
                wait,
            )));
        }
    }
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| DUMMY_HASH.clone());
    let ok = state
        .guards
        .passwords
        .run(move || verify_password(&password, &hash))
        .await?;
    match user {
        Some(u) if ok && !u.disabled => {
            if let Some(address) = address {
                state.guards.login_by_address.succeeded(&address);
            }
            Ok((u, address))
        }
        _ => {
            tracing::info!("login refused");
            let entry = AuditEntry::new(
                "anonymous",
                "auth.login_failed",
                format!("username:{username}"),
                serde_json::json!({}),
            );
            state.store.audit(&entry).await.map_err(ApiError::from)?;
            if let Some(address) = address {
                state.guards.login_by_address.failed(&address);
            }
            if let Some(u) = &user {
                let cap = std::time::Duration::from_secs(
                    u64::try_from(auth.lockout_minutes).unwrap_or(15) * 60,
                );
                state
                    .store
                    .login_failed(u.id, auth.max_failed_logins, |over| {
                        Duration::from_std(crate::auth::doubling(
                            u32::try_from(over).unwrap_or(0),
                            cap,
                        ))
                        .unwrap_or_else(|_| Duration::minutes(1))
                    })
                    .await
                    .map_err(ApiError::from)?;
            }
            Err(ApiError::BadCredentials.into())
        }
    }
}

/// The user is in: the address remembered, the login audited, a token issued, and a sign-in
/// started whose refresh token rides in a cookie.
async fn logged_in(
    req: &HttpRequest,
    state: &AppState,
    user: crate::store::UserRow,
    address: Option<std::net::IpAddr>,
) -> Result<HttpResponse, ApiError> {
    let address_text = address.map(|a| a.to_string()).unwrap_or_default();
    state.store.login_succeeded(user.id, &address_text).await?;
    let entry = AuditEntry::new(
        format!("user-{}", user.id),
        "auth.login",
        format!("user:{}", user.id),
        serde_json::json!({}),
    );
    state.store.audit(&entry).await?;
    let role = user.role;
    let ver = state
        .store
        .token_version(user.id)
        .await?
        .ok_or(ApiError::Unauthenticated("log in again"))?;
    let (token, expires_at) =
        state
            .tokens
            .issue_staff_at(user.id.get(), role, user.court_id, &user.display_name, ver)?;
    let now = state.clock.now();
    let sign_in = crate::app::signin::start(
        &state.store,
        user.id,
        ver,
        state.settings.auth.refresh_token_hours,
        now,
    )
    .await?;
    tracing::info!(user_id = user.id.get(), "logged in");
    Ok(HttpResponse::Ok()
        .insert_header((
            header::SET_COOKIE,
            refresh_cookie(
                req,
                &sign_in.token,
                (sign_in.expires_at - now).num_seconds(),
            ),
        ))
        .json(LoginResponse {
            token,
            expires_at,
            user: user_view(&user, role)?,
        }))
}

/// Staff login. Guessing is slowed, never locked out: an address that keeps failing waits
/// longer and longer between attempts (`login_slowed`), and so does an account, except from an
/// address it has logged in from before, where the right password always works. A password an
/// administrator set is not enough to get in: 403 `password_change_required`, and the owner
/// sets their own with `POST /auth/password`.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    request_body = LoginRequest,
    responses(
        (status = 200, body = LoginResponse),
        (status = 400, description = "malformed_json or bad_request", body = ErrorBody),
        (status = 401, description = "bad_credentials", body = ErrorBody),
        (status = 403, description = "password_change_required: the password is right, but an administrator set it; set your own with POST /auth/password", body = ErrorBody),
        (status = 422, description = "invalid_input", body = ErrorBody),
        (status = 429, description = "too_many_attempts from this address, or login_slowed (this address or this account must wait; see Retry-After)", body = ErrorBody),
        (status = 503, description = "busy: this instance's password work is at its bound (`auth.password_workers` running, `auth.password_queue` waiting); not a wrong password; try again after Retry-After seconds", body = ErrorBody, headers(("Retry-After" = u64, description = "seconds")))
    ),
    tag = "auth"
)]
#[post("/auth/login")]
pub async fn login(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let LoginRequest { username, password } = body.into_inner();
    let (user, address) = match authenticate(&req, &state, &username, password).await {
        Ok(found) => found,
        Err(Refused::Slow(answer)) => return Ok(answer),
        Err(Refused::Error(e)) => return Err(e),
    };
    if user.must_change_password {
        return Err(ApiError::Denied {
            code: ErrorCode::PasswordChangeRequired,
            message: "an administrator set this password: set your own first (POST /auth/password)"
                .into(),
        });
    }
    logged_in(&req, &state, user, address).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub username: String,
    /// The password now (the one an administrator gave, or the owner's own).
    pub password: String,
    pub new_password: String,
}

/// The owner sets their own password, proving the current one: the way in after an
/// administrator created the account or reset its password, and a change at any time. Checked
/// and slowed exactly as a login is; the new password must pass the strength rule and differ
/// from the old. Answers as a login does: the user is logged in with the new password, and
/// every older token stops working.
#[utoipa::path(
    post,
    path = "/api/v1/auth/password",
    request_body = PasswordChange,
    responses(
        (status = 200, body = LoginResponse),
        (status = 400, description = "malformed_json or bad_request", body = ErrorBody),
        (status = 401, description = "bad_credentials", body = ErrorBody),
        (status = 422, description = "invalid_input (too short or too long), weak_password, or password_unchanged", body = ErrorBody),
        (status = 429, description = "too_many_attempts or login_slowed, as for a login", body = ErrorBody),
        (status = 503, description = "busy: as for a login (the current password is checked and the new one hashed on the bounded pool); try again after Retry-After seconds", body = ErrorBody, headers(("Retry-After" = u64, description = "seconds")))
    ),
    tag = "auth"
)]
#[post("/auth/password")]
pub async fn change_password(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<PasswordChange>,
) -> Result<HttpResponse, ApiError> {
    let PasswordChange {
        username,
        password,
        new_password,
    } = body.into_inner();
    let unchanged = password == new_password;
    let (user, address) = match authenticate(&req, &state, &username, password).await {
        Ok(found) => found,
        Err(Refused::Slow(answer)) => return Ok(answer),
        Err(Refused::Error(e)) => return Err(e),
    };
    if unchanged {
        return Err(ApiError::Unprocessable {
            code: ErrorCode::PasswordUnchanged,
            message: "the new password is the same as the old one".into(),
        });
    }
    crate::auth::new_password(&new_password, &[&user.username, &user.display_name])?;
    let password_hash = state
        .guards
        .passwords
        .run(move || hash_password(&new_password))
        .await?
        .map_err(ApiError::Internal)?;
    state
        .store
        .change_own_password(user.id, &password_hash)
        .await?;
    tracing::info!(user_id = user.id.get(), "password changed by its owner");
    let user = crate::store::UserRow {
        must_change_password: false,
        ..user
    };
    logged_in(&req, &state, user, address).await
}

#[derive(Serialize, ToSchema)]
pub struct JoinResponse {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub session_id: i64,
    pub case_number: String,
    pub host_court: CourtView,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

/// A petitioner exchanges a join code for a token that admits to that one session, from
/// `auth.join_early_minutes` before its slot until `auth.join_late_minutes` after its end.
/// A code that is wrong, not yet or no longer usable gets one answer (`bad_join_code`), so that
/// a guesser learns nothing from it; guesses are slowed per address and capped per instance.
#[utoipa::path(
    post,
    path = "/api/v1/auth/join",
    request_body = JoinRequest,
    responses(
        (status = 200, body = JoinResponse),
        (status = 400, description = "malformed_json or bad_request", body = ErrorBody),
        (status = 401, description = "bad_join_code: wrong, or not usable now (too early, too late, ended or cancelled)", body = ErrorBody),
        (status = 422, description = "invalid_input", body = ErrorBody),
        (status = 429, description = "too_many_join_attempts (see Retry-After)", body = ErrorBody)
    ),
    tag = "auth"
)]
#[post("/auth/join")]
pub async fn join(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<JoinRequest>,
) -> Result<HttpResponse, ApiError> {
    let auth = &state.settings.auth;
    let address = client_address(&req, &auth.trusted_proxies);
    let guards = &state.guards;
    let waiting = guards
        .join_total
        .check()
        .and_then(|()| address.map_or(Ok(()), |a| guards.join_by_address.check(&a)));
    if let Err(wait) = waiting {
        return Ok(slow_down(
            ErrorCode::TooManyJoinAttempts,
            format!(
                "too many join attempts; try again in {} s",
                wait.as_secs().max(1)
            ),
            wait,
        ));
    }
    let code = JoinCode::parse(&body.code).map_err(ApiError::invalid)?;
    let mut found = state.store.session_by_code_hash(&code.hash()).await?;
    if found.is_none() {
        found = state
            .store
            .session_by_code_hash(&code.legacy_hash())
            .await?;
    }
    let now = state.clock.now();
    let window = |s: &crate::store::SessionRow| {
        (
            s.starts_at - Duration::minutes(auth.join_early_minutes),
            s.ends_at + Duration::minutes(auth.join_late_minutes),
        )
    };
    let usable = found.filter(|s| {
        let (opens, closes) = window(s);
        s.status != SessionStatus::Ended
            && s.booking_status != BookingStatus::Cancelled
            && opens <= now
            && now < closes
    });
    let Some(session) = usable else {
        guards.join_total.failed();
        if let Some(a) = address {
            guards.join_by_address.failed(&a);
        }
        return Err(ApiError::BadJoinCode);
    };
    if let Some(a) = address {
        guards.join_by_address.succeeded(&a);
    }
    let (_, closes) = window(&session);
    let join_version = state
        .store
        .join_version(session.id)
        .await?
        .ok_or(ApiError::BadJoinCode)?;
    let token = state
        .tokens
        .issue_join_at(session.id, closes, join_version)?;
    tracing::info!(session = session.id.get(), "petitioner joined by code");
    Ok(HttpResponse::Ok().json(JoinResponse {
        token,
        expires_at: closes,
        session_id: session.id.get(),
        case_number: session.case_number,
        host_court: CourtView::new(
            session.host_court_id,
            &session.host_court_name,
            session.host_court_level,
        ),
        starts_at: session.starts_at,
        ends_at: session.ends_at,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct RefreshResponse {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    /// Who the token is for: given when it was renewed with the refresh cookie (a new tab of
    /// the web app learns who is signed in from it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<UserView>,
}

/// A fresh staff token. With the refresh cookie that a login set (`courtlink_refresh`, HttpOnly,
/// sent only to `/api/v1/auth`): no bearer token needed, the cookie is rotated (a new one in
/// `Set-Cookie`; the one presented is used up), and the answer names the user; 401
/// `signed_out` when the sign-in is unknown, over (`auth.refresh_token_hours` after the
/// login) or revoked (a logout, a disabled account, a new password, role or court), 401
/// `refresh_reused` when the cookie presented was used before (the sign-in is ended; someone
/// else has a copy); either clears the cookie. Without the cookie: a fresh token for a still
/// valid bearer token, the account read again (a disabled user gets none).
#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    responses(
        (status = 200, body = RefreshResponse, headers(("Set-Cookie" = String, description = "the next refresh token, when one was presented"))),
        (status = 401, description = "unauthenticated (no cookie and no valid bearer token), signed_out, refresh_reused", body = ErrorBody)
    ),
    security((), ("bearer" = [])),
    tag = "auth"
)]
#[post("/auth/refresh")]
pub async fn refresh(
    req: HttpRequest,
    state: web::Data<AppState>,
    staff: Option<Staff>,
) -> Result<HttpResponse, ApiError> {
    if let Some(presented) = presented_refresh(&req) {
        let now = state.clock.now();
        let renewed = match crate::app::signin::renew(&state.store, &presented, now).await {
            Ok(r) => r,
            Err(e) => {
                let mut answer = e.error_response();
                if let Ok(v) = header::HeaderValue::from_str(&refresh_cookie(&req, "", 0)) {
                    answer.headers_mut().insert(header::SET_COOKIE, v);
                }
                return Ok(answer);
            }
        };
        let user = renewed.user;
        let role = user.role;
        let (token, expires_at) = state.tokens.issue_staff_at(
            user.id.get(),
            role,
            user.court_id,
            &user.display_name,
            renewed.ver,
        )?;
        return Ok(HttpResponse::Ok()
            .insert_header((
                header::SET_COOKIE,
                refresh_cookie(
                    &req,
                    &renewed.refresh.token,
                    (renewed.refresh.expires_at - now).num_seconds(),
                ),
            ))
            .json(RefreshResponse {
                token,
                expires_at,
                user: Some(user_view(&user, role)?),
            }));
    }
    let staff = staff.ok_or(ApiError::Unauthenticated("log in first"))?;
    let user = match state.store.user_by_id(staff.user_id).await {
        Ok(u) if !u.disabled => u,
        Ok(_) | Err(crate::store::StoreError::NotFound) => {
            return Err(ApiError::Unauthenticated("log in again"));
        }
        Err(e) => return Err(e.into()),
    };
    let role = user.role;
    let ver = state
        .store
        .token_version(user.id)
        .await?
        .ok_or(ApiError::Unauthenticated("log in again"))?;
    let (token, expires_at) =
        state
            .tokens
            .issue_staff_at(user.id.get(), role, user.court_id, &user.display_name, ver)?;
    Ok(HttpResponse::Ok().json(RefreshResponse {
        token,
        expires_at,
        user: None,
    }))
}

/// Logs out: every token of the caller stops working at once, on every instance, and with them
/// every sign-in's refresh token (the refresh cookie is cleared); open signalling sockets are
/// closed by the hub's revocation sweep.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    responses((status = 204), (status = 401, body = ErrorBody)),
    security(("bearer" = [])),
    tag = "auth"
)]
#[post("/auth/logout")]
pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<HttpResponse, ApiError> {
    state
        .store
        .revoke_tokens(staff.user_id, &format!("user-{}", staff.user_id))
        .await?;
    if let Some(presented) = presented_refresh(&req) {
        crate::app::signin::end(&state.store, &presented).await?;
    }
    tracing::info!(user_id = staff.user_id.get(), "logged out");
    Ok(HttpResponse::NoContent()
        .insert_header((header::SET_COOKIE, refresh_cookie(&req, "", 0)))
        .finish())
}

/// The logged-in staff member.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    responses((status = 200, body = UserView), (status = 401, body = ErrorBody)),
    security(("bearer" = [])),
    tag = "auth"
)]
#[get("/me")]
pub async fn me(state: web::Data<AppState>, staff: Staff) -> Result<HttpResponse, ApiError> {
    let user = state.store.user_by_id(staff.user_id).await?;
    Ok(HttpResponse::Ok().json(UserView {
        id: user.id.get(),
        username: user.username,
        display_name: user.display_name,
        role: staff.role,
        court: CourtView::new(user.court_id, &user.court_name, user.court_level),
    }))
}

/// An administrator lifts a lockout of a user in its court or a court below it.
#[utoipa::path(
    post,
    path = "/api/v1/admin/users/{id}/unlock",
    params(("id" = i64, Path, description = "user id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])),
    tag = "admin"
)]
#[post("/admin/users/{id}/unlock")]
pub async fn unlock(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    staff.require(&[Role::Admin])?;
    let user = match state.store.user_by_id(*id).await {
        Ok(u) => u,
        Err(crate::store::StoreError::NotFound) => return Err(ApiError::NotFound("user")),
        Err(e) => return Err(e.into()),
    };
    if !Scope::of(&state.store, &staff)
        .in_branch(user.court_id)
        .await?
    {
        return Err(ApiError::Forbidden(
            "this user belongs to a court outside yours",
        ));
    }
    state
        .store
        .unlock_user(user.id, &format!("user-{}", staff.user_id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
