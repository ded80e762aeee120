use actix_web::{HttpRequest, HttpResponse, get, web};

use crate::app::session::Window;
use crate::auth::Staff;
use crate::domain::{BookingStatus, SessionId, SessionStatus, UserId};
use crate::error::{ApiError, ErrorCode};
use crate::signalling::ice;
use crate::signalling::protocol::{AUTH_PREFIX, Participant, RESUME_PREFIX, SUBPROTOCOL};
use crate::signalling::socket::{self, Connection, Introduction, Revocable};
use crate::signalling::wire;
use crate::state::AppState;
use crate::store::{SessionRow, StoreError};

/// The WebSocket of one participant in one session (see `docs/signalling.md`). The token rides in
/// `Sec-WebSocket-Protocol` as `auth.<JWT>`, never in the URL, and is checked with the session and
/// the Origin before the upgrade, so no socket is ever open unauthenticated.
#[utoipa::path(
    get,
    path = "/api/v1/sessions/{id}/signal",
    params(("id" = i64, Path, description = "session id")),
    responses(
        (status = 101, description = "switching to the signalling protocol courtlink.v1"),
        (status = 400, description = "bad_subprotocol"),
        (status = 401, description = "unauthenticated"),
        (status = 403, description = "forbidden (the token does not admit to this session) or origin_not_allowed"),
        (status = 404, description = "not_found"),
        (status = 409, description = "session_ended, booking_cancelled, session_full, or outside_window (before `auth.join_early_minutes` ahead of the slot or after `auth.join_late_minutes` past it)")
    ),
    tag = "signalling"
)]
#[get("/sessions/{id}/signal")]
pub async fn signal(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    id: web::Path<SessionId>,
) -> Result<HttpResponse, ApiError> {
    check_origin(&req, &state)?;
    let offered: Vec<&str> = req
        .headers()
        .get_all(actix_web::http::header::SEC_WEBSOCKET_PROTOCOL)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    if !offered.contains(&SUBPROTOCOL) {
        return Err(ApiError::BadRequest {
            code: ErrorCode::BadSubprotocol,
            message: format!("offer the subprotocol {SUBPROTOCOL}"),
        });
    }
    let token = offered
        .iter()
        .find_map(|p| p.strip_prefix(AUTH_PREFIX))
        .ok_or(ApiError::Unauthenticated(
            "send the token as the subprotocol auth.<token>",
        ))?;
    let resume = match offered.iter().find_map(|p| p.strip_prefix(RESUME_PREFIX)) {
        Some(n) => Some(n.parse::<u64>().map_err(|_| ApiError::BadRequest {
            code: ErrorCode::BadSubprotocol,
            message: "resume.<seq> needs a whole number".into(),
        })?),
        None => None,
    };

    let session = match state.store.session(*id).await {
        Ok(s) => s,
        Err(StoreError::NotFound) => return Err(ApiError::NotFound("session")),
        Err(e) => return Err(e.into()),
    };
    let (participant, seat, revocable) = admit(&state, token, &session).await?;
    if session.status == SessionStatus::Ended {
        return Err(ApiError::conflict(
            ErrorCode::SessionEnded,
            "this session has ended",
        ));
    }
    if session.booking_status == BookingStatus::Cancelled {
        return Err(ApiError::conflict(
            ErrorCode::BookingCancelled,
            "this session was cancelled or moved",
        ));
    }
    // Nobody joins outside the session's window, staff included: a session is a reception at
    // its time, and what happens in its room counts toward it (docs/lifecycle.md).
    if !Window::of(&session, &state.settings).contains(state.clock.now()) {
        return Err(ApiError::conflict(
            ErrorCode::OutsideWindow,
            format!(
                "this session can be joined from {} minutes before its slot until {} minutes after it",
                state.settings.auth.join_early_minutes, state.settings.auth.join_late_minutes
            ),
        ));
    }
    if !state.hub.has_room_for(session.id, &participant.id).await {
        return Err(ApiError::conflict(
            ErrorCode::SessionFull,
            "this session has as many participants as it may",
        ));
    }

    let max_message = state.settings.signalling.max_frame_bytes;
    let (response, ws, stream) =
        wire::accept(&req, body, SUBPROTOCOL, max_message).map_err(|e| ApiError::BadRequest {
            code: ErrorCode::BadRequest,
            message: e.to_string(),
        })?;
    let window_closes =
        session.ends_at + chrono::Duration::minutes(state.settings.auth.join_late_minutes);
    let ice_servers = ice::servers_for(
        &state.settings.ice,
        &participant.id,
        chrono::Utc::now().timestamp(),
        window_closes.timestamp(),
    );
    let conn = Connection {
        session_id: session.id,
        participant,
        intro: Some(Box::new(Introduction {
            seat,
            resume,
            ice_servers,
        })),
        revocable,
    };
    actix_web::rt::spawn(socket::run(state, conn, ws, stream));
    Ok(response)
}

/// A browser's Origin must be this server's own or one the settings allow; clients that are not
/// browsers send none and are judged by their token alone.
fn check_origin(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    let Some(origin) = req.headers().get(actix_web::http::header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or_default();
    let info = req.connection_info();
    let own = format!("{}://{}", info.scheme(), info.host());
    if origin == own
        || state
            .settings
            .signalling
            .allowed_origins
            .iter()
            .any(|o| o == origin)
    {
        Ok(())
    } else {
        Err(ApiError::Denied {
            code: ErrorCode::OriginNotAllowed,
            message: "this page's origin may not open the signalling socket".into(),
        })
    }
}

/// Who this token admits to `session` as, if anyone: the participant, the petitioner's seat,
/// and what the socket checks at each heartbeat to notice that the token was revoked.
async fn admit(
    state: &AppState,
    token: &str,
    session: &SessionRow,
) -> Result<(Participant, Option<String>, Revocable), ApiError> {
    if state.tokens.verify_join(token).is_ok() {
        let claims =
            crate::auth::Petitioner::from_token(&state.tokens, &state.store, token).await?;
        if claims.session_id != session.id {
            return Err(ApiError::Forbidden("this join code is for another session"));
        }
        let petitioner = crate::app::session::petitioner();
        let revocable = Revocable::JoinCode {
            session_id: session.id,
            join_version: claims.join_version,
        };
        return Ok((petitioner, Some(claims.seat), revocable));
    }
    let claims = state.tokens.verify_staff(token)?;
    let user_id: UserId = claims
        .sub
        .parse()
        .map_err(|_| ApiError::Unauthenticated("the token names no user"))?;
    if !state
        .token_versions
        .accepts(&state.store, user_id, claims.ver)
        .await?
    {
        return Err(ApiError::Unauthenticated(
            "you have been logged out (or the account changed); log in again",
        ));
    }
    let staff = Staff {
        user_id,
        role: claims.role,
        court_id: claims.court,
        name: claims.name,
        token_version: claims.ver,
    };
    let participant = crate::app::session::staff_participant(&state.store, staff, session).await?;
    Ok((
        participant,
        None,
        Revocable::Staff {
            user_id,
            version: claims.ver,
        },
    ))
}
