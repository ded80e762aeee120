//! The session record beyond the call: the transcript (笔录) the host writes and the petitioner
//! confirms or refuses, the petitioner's rating, the host's notes during the session, and
//! corrections after it (the timeline is append-only: a correction points at what it corrects).

use actix_web::{HttpResponse, get, post, put, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::sessions::load_session;
use super::views::{EventView, TranscriptView};
use crate::app::identity;
use crate::app::scope::Scope;
use crate::app::session::{self, transition};
use crate::auth::{Caller, Petitioner, Staff};
use crate::domain::{EventKind, IdentityCheck, Role, SessionId, SessionStatus};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::state::AppState;
use crate::store::{SessionRow, StoreError};
pub use courtlink_parsers::bodies::{
    CorrectionRequest, DecisionRequest, NoteRequest, RatingRequest, TranscriptText,
};
use courtlink_parsers::fields::bounded;

const MAX_TRANSCRIPT_CHARS: usize = 50_000;
const MAX_NOTE_CHARS: usize = 2_000;

/// Officers of the court that hosts the session (or of the joint reception's second court).
fn require_host(state: &AppState, staff: &Staff, session: &SessionRow) -> Result<(), ApiError> {
    staff.require(&[Role::Officer])?;
    if Scope::of(&state.store, staff).hosts(session) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "only the host court's officers write this session's record",
        ))
    }
}

fn require_own_session(p: &Petitioner, session_id: SessionId) -> Result<(), ApiError> {
    if p.session_id == session_id {
        Ok(())
    } else {
        Err(ApiError::Forbidden("this join code is for another session"))
    }
}

/// The host writes (and rewrites) the transcript once the petitioner has been let in and until
/// the session ends.
#[utoipa::path(
    put,
    path = "/api/v1/sessions/{id}/transcript",
    params(("id" = i64, Path, description = "session id")),
    request_body = TranscriptText,
    responses(
        (status = 200, body = TranscriptView),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "session_ended: the text is frozen; session_not_started: the petitioner has not been let in yet, so there is no reception to write down", body = ErrorBody),
        (status = 422, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "sessions"
)]
#[put("/sessions/{id}/transcript")]
pub async fn put_transcript(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<SessionId>,
    body: web::Json<TranscriptText>,
) -> Result<HttpResponse, ApiError> {
    let session = load_session(&state, *id).await?;
    require_host(&state, &staff, &session)?;
    let text = bounded(&body.text, MAX_TRANSCRIPT_CHARS, "text")?;
    session::write_transcript(
        &state.store,
        &session,
        &text,
        &format!("user-{}", staff.user_id),
    )
    .await?;
    let session = load_session(&state, session.id).await?;
    Ok(HttpResponse::Ok().json(TranscriptView::of(&session)?))
}

/// The transcript, for the petitioner on the local terminal and for staff who may see the session.
#[utoipa::path(
    get,
    path = "/api/v1/sessions/{id}/transcript",
    params(("id" = i64, Path, description = "session id")),
    responses(
        (status = 200, body = TranscriptView),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "sessions"
)]
#[get("/sessions/{id}/transcript")]
pub async fn get_transcript(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<SessionId>,
) -> Result<HttpResponse, ApiError> {
    let session = load_session(&state, *id).await?;
    match &caller {
        Caller::Petitioner(p) => require_own_session(p, session.id)?,
        Caller::Staff(s)
            if Scope::of(&state.store, s).sees_session(&session)
                || session.joint_court_id == Some(s.court_id) => {}
        Caller::Staff(_) => {
            return Err(ApiError::Forbidden(
                "this session is outside your court's scope",
            ));
        }
    }
    Ok(HttpResponse::Ok().json(TranscriptView::of(&session)?))
}

/// After the session, the petitioner confirms the transcript or refuses to sign it. Once.
#[utoipa::path(
    post,
    path = "/api/v1/sessions/{id}/transcript/decision",
    params(("id" = i64, Path, description = "session id")),
    request_body = DecisionRequest,
    responses(
        (status = 200, body = TranscriptView),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 409, description = "already_done, or session_not_ended", body = ErrorBody),
        (status = 422, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "sessions"
)]
#[post("/sessions/{id}/transcript/decision")]
pub async fn decide_transcript(
    state: web::Data<AppState>,
    petitioner: Petitioner,
    id: web::Path<SessionId>,
    body: web::Json<DecisionRequest>,
) -> Result<HttpResponse, ApiError> {
    require_own_session(&petitioner, *id)?;
    state.store.decide_transcript(*id, body.decision).await?;
    let session = load_session(&state, *id).await?;
    Ok(HttpResponse::Ok().json(TranscriptView::of(&session)?))
}

/// The petitioner rates the reception (满意 / 基本满意 / 不满意) after it ended. Once.
#[utoipa::path(
    post,
    path = "/api/v1/sessions/{id}/rating",
    params(("id" = i64, Path, description = "session id")),
    request_body = RatingRequest,
    responses(
        (status = 204),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 409, description = "already_done, or session_not_ended", body = ErrorBody),
        (status = 422, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "sessions"
)]
#[post("/sessions/{id}/rating")]
pub async fn rate(
    state: web::Data<AppState>,
    petitioner: Petitioner,
    id: web::Path<SessionId>,
    body: web::Json<RatingRequest>,
) -> Result<HttpResponse, ApiError> {
    require_own_session(&petitioner, *id)?;
    state.store.rate(*id, body.satisfaction).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A host's note on the timeline, while the session is on.
#[utoipa::path(
    post,
    path = "/api/v1/sessions/{id}/notes",
    params(("id" = i64, Path, description = "session id")),
    request_body = NoteRequest,
    responses(
        (status = 201, body = EventView),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "session_ended: add a correction instead", body = ErrorBody),
        (status = 422, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "sessions"
)]
#[post("/sessions/{id}/notes")]
pub async fn add_note(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<SessionId>,
    body: web::Json<NoteRequest>,
) -> Result<HttpResponse, ApiError> {
    let session = load_session(&state, *id).await?;
    require_host(&state, &staff, &session)?;
    if matches!(session.status, SessionStatus::Ended | SessionStatus::NoShow) {
        return Err(ApiError::conflict(
            ErrorCode::SessionEnded,
            "the session is closed: add a correction instead",
        ));
    }
    let text = bounded(&body.text, MAX_NOTE_CHARS, "text")?;
    let event = state
        .store
        .add_event(
            session.id,
            EventKind::Note,
            &format!("user-{}", staff.user_id),
            &serde_json::json!({"text": text, "name": staff.name}),
            transition,
        )
        .await?;
    Ok(HttpResponse::Created().json(EventView::from(event)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentityRequest {
    /// `in_room`: the local court's staff saw the identity card in the video room;
    /// `on_camera`: the host court's officer saw it on camera.
    pub how: IdentityCheck,
}

/// Records who confirmed the petitioner's identity, and how (身份核验), once per session. A held
/// session without it is shown as unconfirmed and counted apart in the statistics.
#[utoipa::path(
    post,
    path = "/api/v1/sessions/{id}/identity",
    params(("id" = i64, Path, description = "session id")),
    request_body = IdentityRequest,
    responses(
        (status = 201, body = EventView),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "identity_already_confirmed; session_ended; session_not_started", body = ErrorBody),
        (status = 422, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "sessions"
)]
#[post("/sessions/{id}/identity")]
pub async fn confirm_identity(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<SessionId>,
    body: web::Json<IdentityRequest>,
) -> Result<HttpResponse, ApiError> {
    let session = load_session(&state, *id).await?;
    let event = identity::confirm(&state.store, &staff, &session, body.how).await?;
    Ok(HttpResponse::Created().json(EventView::from(event)))
}

/// After the session, the record is append-only: a correction is a new event pointing at the
/// event it corrects.
#[utoipa::path(
    post,
    path = "/api/v1/sessions/{id}/corrections",
    params(("id" = i64, Path, description = "session id")),
    request_body = CorrectionRequest,
    responses(
        (status = 201, body = EventView),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "session_not_ended: write a note instead", body = ErrorBody),
        (status = 422, description = "corrects names no event of this session", body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "sessions"
)]
#[post("/sessions/{id}/corrections")]
pub async fn add_correction(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<SessionId>,
    body: web::Json<CorrectionRequest>,
) -> Result<HttpResponse, ApiError> {
    let session = load_session(&state, *id).await?;
    require_host(&state, &staff, &session)?;
    if session.status != SessionStatus::Ended {
        return Err(ApiError::conflict(
            ErrorCode::SessionNotEnded,
            "the session is on: write a note instead",
        ));
    }
    let text = bounded(&body.text, MAX_NOTE_CHARS, "text")?;
    match state.store.event(session.id, body.corrects).await {
        Ok(_) => {}
        Err(StoreError::NotFound) => {
            return Err(ApiError::invalid("corrects: no such event in this session"));
        }
        Err(e) => return Err(e.into()),
    }
    let data = serde_json::json!({"corrects": body.corrects, "text": text, "name": staff.name});
    let event = state
        .store
        .add_event(
            session.id,
            EventKind::Correction,
            &format!("user-{}", staff.user_id),
            &data,
            transition,
        )
        .await?;
    Ok(HttpResponse::Created().json(EventView::from(event)))
}
