use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::views::CourtView;
use crate::auth::{Staff, hash_password, password_work, verify_password};
use crate::domain::{JoinCode, Role, SessionStatus};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::store::audit::AuditEntry;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

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

/// Staff login.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    request_body = LoginRequest,
    responses(
        (status = 200, body = LoginResponse),
        (status = 401, description = "bad_credentials", body = ErrorBody),
        (status = 422, description = "invalid_input", body = ErrorBody),
        (status = 429, description = "too_many_attempts from this address, or account_locked", body = ErrorBody)
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
    let auth = &state.settings.auth;
    // Behind the proxy, the client's address is the one nginx sets (see docs/deploy.md).
    let address = req.connection_info().realip_remote_addr().and_then(|a| {
        a.parse::<std::net::SocketAddr>()
            .map(|s| s.ip())
            .or_else(|_| a.parse())
            .ok()
    });
    if let Some(address) = address {
        if !state
            .login_attempts
            .allow(address, auth.login_attempts_per_minute)
        {
            return Err(ApiError::TooMany {
                code: "too_many_attempts",
                message: "too many login attempts from this address; wait a minute".into(),
            });
        }
    }
    if username.is_empty()
        || username.len() > 64
        || username.chars().any(char::is_control)
        || password.is_empty()
        || password.len() > 256
    {
        return Err(ApiError::invalid(
            "username (1–64) and password (1–256) are required",
        ));
    }
    let user = state.store.user_by_username(&username).await?;
    if let Some(until) = user
        .as_ref()
        .and_then(|u| u.locked_until)
        .filter(|t| *t > chrono::Utc::now())
    {
        let entry = AuditEntry::new(
            "anonymous",
            "auth.login_locked",
            format!("username:{username}"),
            serde_json::json!({}),
        );
        state.store.audit(&entry).await?;
        return Err(ApiError::TooMany {
            code: "account_locked",
            message: format!(
                "this account is locked after repeated failed logins until {} (UTC); an administrator can unlock it",
                until.format("%H:%M")
            ),
        });
    }
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| DUMMY_HASH.clone());
    let ok = password_work(move || verify_password(&password, &hash)).await?;
    let user = match user {
        Some(u) if ok && !u.disabled => u,
        _ => {
            tracing::info!("login refused");
            let entry = AuditEntry::new(
                "anonymous",
                "auth.login_failed",
                format!("username:{username}"),
                serde_json::json!({}),
            );
            state.store.audit(&entry).await?;
            if let Some(u) = &user {
                let until = chrono::Utc::now() + Duration::minutes(auth.lockout_minutes);
                state
                    .store
                    .record_login_failure(u.id, auth.max_failed_logins, until)
                    .await?;
            }
            return Err(ApiError::BadCredentials);
        }
    };
    state.store.reset_login_failures(user.id).await?;
    let entry = AuditEntry::new(
        format!("user-{}", user.id),
        "auth.login",
        format!("user:{}", user.id),
        serde_json::json!({}),
    );
    state.store.audit(&entry).await?;
    let role: Role = user
        .role
        .parse()
        .map_err(|e: String| ApiError::Internal(anyhow::anyhow!(e)))?;
    let ver = state
        .store
        .token_version(user.id)
        .await?
        .ok_or(ApiError::Unauthenticated("log in again"))?;
    let (token, expires_at) =
        state
            .tokens
            .issue_staff_at(user.id, role, user.court_id, &user.display_name, ver)?;
    tracing::info!(user_id = user.id, "logged in");
    Ok(HttpResponse::Ok().json(LoginResponse {
        token,
        expires_at,
        user: UserView {
            id: user.id,
            username: user.username,
            display_name: user.display_name,
            role,
            court: CourtView::new(user.court_id, &user.court_name, &user.court_level)?,
        },
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    /// 12 digits; spaces and dashes are ignored.
    pub code: String,
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
#[utoipa::path(
    post,
    path = "/api/v1/auth/join",
    request_body = JoinRequest,
    responses(
        (status = 200, body = JoinResponse),
        (status = 401, description = "bad_join_code", body = ErrorBody),
        (status = 403, description = "outside_join_window: too early or too late", body = ErrorBody),
        (status = 409, description = "session_ended", body = ErrorBody),
        (status = 422, description = "invalid_input", body = ErrorBody)
    ),
    tag = "auth"
)]
#[post("/auth/join")]
pub async fn join(
    state: web::Data<AppState>,
    body: web::Json<JoinRequest>,
) -> Result<HttpResponse, ApiError> {
    let code = JoinCode::parse(&body.code).map_err(ApiError::invalid)?;
    let session = state
        .store
        .session_by_code_hash(&code.hash())
        .await?
        .ok_or(ApiError::BadJoinCode)?;
    if session.status == SessionStatus::Ended.as_str() {
        return Err(ApiError::conflict(
            "session_ended",
            "this reception has ended",
        ));
    }
    if session.booking_status == "cancelled" {
        return Err(ApiError::conflict(
            "booking_cancelled",
            "this reception was cancelled or moved; ask the court for the new notice",
        ));
    }
    let now = Utc::now();
    let opens = session.starts_at - Duration::minutes(state.settings.auth.join_early_minutes);
    let closes = session.ends_at + Duration::minutes(state.settings.auth.join_late_minutes);
    if now < opens || now >= closes {
        return Err(ApiError::Denied {
            code: "outside_join_window",
            message: format!(
                "this join code works from {} until {} (UTC)",
                opens.format("%Y-%m-%d %H:%M"),
                closes.format("%H:%M")
            ),
        });
    }
    let token = state.tokens.issue_join(session.id, closes)?;
    tracing::info!(session = session.id, "petitioner joined by code");
    Ok(HttpResponse::Ok().json(JoinResponse {
        token,
        expires_at: closes,
        session_id: session.id,
        case_number: session.case_number,
        host_court: CourtView::new(
            session.host_court_id,
            &session.host_court_name,
            &session.host_court_level,
        )?,
        starts_at: session.starts_at,
        ends_at: session.ends_at,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct RefreshResponse {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// A fresh staff token for a still-valid one, so that a long session's page need not log in again.
/// The account is read again: a disabled user gets no new token.
#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    responses((status = 200, body = RefreshResponse), (status = 401, body = ErrorBody)),
    security(("bearer" = [])),
    tag = "auth"
)]
#[post("/auth/refresh")]
pub async fn refresh(state: web::Data<AppState>, staff: Staff) -> Result<HttpResponse, ApiError> {
    let user = match state.store.user_by_id(staff.user_id).await {
        Ok(u) if !u.disabled => u,
        Ok(_) | Err(crate::store::StoreError::NotFound) => {
            return Err(ApiError::Unauthenticated("log in again"));
        }
        Err(e) => return Err(e.into()),
    };
    let role: Role = user
        .role
        .parse()
        .map_err(|e: String| ApiError::Internal(anyhow::anyhow!(e)))?;
    let ver = state
        .store
        .token_version(user.id)
        .await?
        .ok_or(ApiError::Unauthenticated("log in again"))?;
    let (token, expires_at) =
        state
            .tokens
            .issue_staff_at(user.id, role, user.court_id, &user.display_name, ver)?;
    Ok(HttpResponse::Ok().json(RefreshResponse { token, expires_at }))
}

/// Logs out: every token of the caller stops working, here at once and on every instance within
/// `auth.revocation_seconds`; open signalling sockets are closed by the hub's revocation sweep.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    responses((status = 204), (status = 401, body = ErrorBody)),
    security(("bearer" = [])),
    tag = "auth"
)]
#[post("/auth/logout")]
pub async fn logout(state: web::Data<AppState>, staff: Staff) -> Result<HttpResponse, ApiError> {
    state
        .store
        .revoke_tokens(staff.user_id, &format!("user-{}", staff.user_id))
        .await?;
    state.token_versions.forget(staff.user_id);
    tracing::info!(user_id = staff.user_id, "logged out");
    Ok(HttpResponse::NoContent().finish())
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
        id: user.id,
        username: user.username,
        display_name: user.display_name,
        role: staff.role,
        court: CourtView::new(user.court_id, &user.court_name, &user.court_level)?,
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
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    staff.require(&[Role::Admin])?;
    let user = match state.store.user_by_id(*id).await {
        Ok(u) => u,
        Err(crate::store::StoreError::NotFound) => return Err(ApiError::NotFound("user")),
        Err(e) => return Err(e.into()),
    };
    let above = state.store.court_ancestors(user.court_id).await?;
    if user.court_id != staff.court_id && !above.iter().any(|c| c.id == staff.court_id) {
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
