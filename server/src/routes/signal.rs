use actix_web::{HttpRequest, HttpResponse, get, web};

use super::sessions::may_see;
use crate::auth::Staff;
use crate::domain::{Role, SessionStatus};
use crate::error::ApiError;
use crate::signalling::protocol::{AUTH_PREFIX, Participant, ParticipantRole, SUBPROTOCOL};
use crate::signalling::socket::{self, Connection};
use crate::startup::AppState;
use crate::store::StoreError;

/// The WebSocket of one participant in one session (see `docs/signalling.md`). The token rides in
/// `Sec-WebSocket-Protocol` as `auth.<JWT>`, never in the URL, and is checked with the session
/// before the upgrade.
#[utoipa::path(
    get,
    path = "/api/v1/sessions/{id}/signal",
    params(("id" = i64, Path, description = "session id")),
    responses(
        (status = 101, description = "switching to the signalling protocol courtlink.v1"),
        (status = 400, description = "bad_subprotocol"),
        (status = 401, description = "unauthenticated"),
        (status = 403, description = "forbidden: the token does not admit to this session"),
        (status = 404, description = "not_found"),
        (status = 409, description = "session_ended")
    ),
    tag = "signalling"
)]
#[get("/sessions/{id}/signal")]
pub async fn signal(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let offered: Vec<&str> = req
        .headers()
        .get_all(actix_web::http::header::SEC_WEBSOCKET_PROTOCOL)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    if !offered.contains(&SUBPROTOCOL) {
        return Err(ApiError::BadRequest {
            code: "bad_subprotocol",
            message: format!("offer the subprotocol {SUBPROTOCOL}"),
        });
    }
    let token = offered
        .iter()
        .find_map(|p| p.strip_prefix(AUTH_PREFIX))
        .ok_or(ApiError::Unauthenticated(
            "send the token as the subprotocol auth.<token>",
        ))?;

    let session = match state.store.session(*id).await {
        Ok(s) => s,
        Err(StoreError::NotFound) => return Err(ApiError::NotFound("session")),
        Err(e) => return Err(e.into()),
    };
    let participant = admit(&state, token, &session)?;
    if session.status == SessionStatus::Ended.as_str() {
        return Err(ApiError::conflict(
            "session_ended",
            "this session has ended",
        ));
    }

    let (response, ws, stream) = actix_ws::handle_with_protocols(&req, body, &[SUBPROTOCOL])
        .map_err(|e| ApiError::BadRequest {
            code: "bad_request",
            message: e.to_string(),
        })?;
    let conn = Connection {
        session_id: session.id,
        participant,
    };
    actix_web::rt::spawn(socket::run(state, conn, ws, stream));
    Ok(response)
}

/// Who this token admits to `session` as, if anyone.
fn admit(
    state: &AppState,
    token: &str,
    session: &crate::store::SessionRow,
) -> Result<Participant, ApiError> {
    if let Ok(claims) = state.tokens.verify_join(token) {
        if claims.sid != session.id {
            return Err(ApiError::Forbidden("this join code is for another session"));
        }
        return Ok(Participant {
            id: "petitioner".into(),
            role: ParticipantRole::Petitioner,
            name: "上访人".into(),
        });
    }
    let claims = state.tokens.verify_staff(token)?;
    let user_id: i64 = claims
        .sub
        .parse()
        .map_err(|_| ApiError::Unauthenticated("the token names no user"))?;
    let staff = Staff {
        user_id,
        role: claims.role,
        court_id: claims.court,
        name: claims.name,
    };
    let role = match staff.role {
        Role::Officer if may_see(&staff, session) => ParticipantRole::Host,
        Role::Coordinator if may_see(&staff, session) => ParticipantRole::LocalStaff,
        _ => {
            return Err(ApiError::Forbidden(
                "you are not a participant of this session",
            ));
        }
    };
    Ok(Participant {
        id: format!("user-{user_id}"),
        role,
        name: staff.name,
    })
}
