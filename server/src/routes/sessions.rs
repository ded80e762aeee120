use crate::app::clock;
use crate::app::session::{self, EndCommand};
use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::views::{EventView, SessionDetail, SessionView};
use crate::auth::Staff;
use crate::domain::{BookingStatus, Outcome, Role, SessionId, UserId};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::store::{SessionRow, SessionScope, StoreError};
pub use courtlink_parsers::bodies::EndRequest;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DayQuery {
    /// `YYYY-MM-DD` in Asia/Shanghai; today when absent.
    pub day: Option<String>,
}

/// Whose sessions a staff member sees: officers and supervisors those their court hosts,
/// coordinators those their court booked.
fn scope_of(staff: &Staff) -> Result<SessionScope, ApiError> {
    match staff.role {
        Role::Officer | Role::Supervisor => Ok(SessionScope::HostedBy(staff.court_id)),
        Role::Coordinator => Ok(SessionScope::BookedBy(staff.court_id)),
        Role::Admin => Err(ApiError::Forbidden(
            "administrators do not read session records",
        )),
    }
}

/// Moved to `app::session` with the rest of who takes part in a session.
use crate::app::scope::Scope;

pub async fn load_session(state: &AppState, id: SessionId) -> Result<SessionRow, ApiError> {
    match state.store.session(id).await {
        Ok(s) => Ok(s),
        Err(StoreError::NotFound) => Err(ApiError::NotFound("session")),
        Err(e) => Err(e.into()),
    }
}

/// The sessions of one day that the caller may see; today's list also holds a session whose
/// join window is already open (one at 00:00, from 23:30: `app::session::day_list`).
#[utoipa::path(
    get,
    path = "/api/v1/sessions",
    params(DayQuery),
    responses(
        (status = 200, body = [SessionView]),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "sessions"
)]
#[get("/sessions")]
pub async fn list_sessions(
    state: web::Data<AppState>,
    staff: Staff,
    query: web::Query<DayQuery>,
) -> Result<HttpResponse, ApiError> {
    let scope = scope_of(&staff)?;
    let now = state.clock.now();
    let day = match &query.day {
        Some(text) => courtlink_parsers::fields::parse_day("day", text)?,
        None => clock::local_day(now),
    };
    let (start, end) =
        crate::app::session::day_list(day, now, state.settings.auth.join_early_minutes)
            .ok_or_else(|| ApiError::invalid("day is out of range"))?;
    let mut rows = state.store.sessions_in(scope, start, end).await?;
    // A supervisor named as a leader on another court's session (领导包案) takes part in it too.
    if staff.role == Role::Supervisor {
        for id in state.store.sessions_led_by(staff.user_id).await? {
            if rows.iter().any(|r| r.id == id) {
                continue;
            }
            let row = state.store.session(id).await?;
            if row.starts_at >= start
                && row.starts_at < end
                && row.booking_status != BookingStatus::Cancelled
            {
                rows.push(row);
            }
        }
        rows.sort_by_key(|r| (r.starts_at, r.id));
    }
    let mut sessions = Vec::with_capacity(rows.len());
    for row in rows {
        let contacts =
            crate::app::directory::of_session(&state.store, staff.court_id, &row).await?;
        let leaders = crate::app::leaders::of_session(&state.store, row.id).await?;
        let mut view = SessionView::try_from(row)?;
        view.contacts = contacts;
        view.leaders = leaders;
        sessions.push(view);
    }
    Ok(HttpResponse::Ok().json(sessions))
}

/// One session with its timeline.
#[utoipa::path(
    get,
    path = "/api/v1/sessions/{id}",
    params(("id" = i64, Path, description = "session id")),
    responses(
        (status = 200, body = SessionDetail),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "sessions"
)]
#[get("/sessions/{id}")]
pub async fn get_session(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<SessionId>,
) -> Result<HttpResponse, ApiError> {
    let session = load_session(&state, *id).await?;
    if !Scope::of(&state.store, &staff).sees_session(&session) {
        return Err(ApiError::Forbidden(
            "this session is outside your court's scope",
        ));
    }
    let events = state
        .store
        .events(session.id)
        .await?
        .into_iter()
        .map(EventView::from)
        .collect();
    let transcript = super::views::TranscriptView::of(&session)?;
    let contacts =
        crate::app::directory::of_session(&state.store, staff.court_id, &session).await?;
    let leaders = crate::app::leaders::of_session(&state.store, session.id).await?;
    let mut view = SessionView::try_from(session)?;
    view.contacts = contacts;
    view.leaders = leaders;
    Ok(HttpResponse::Ok().json(SessionDetail {
        session: view,
        transcript,
        events,
    }))
}

/// The host ends a held session with its outcome; the case's ledger gets its entry, with the
/// minutes the petitioner and the host were connected with media. A session that was not held
/// (docs/lifecycle.md) is refused and keeps no entry.
#[utoipa::path(
    post,
    path = "/api/v1/sessions/{id}/end",
    params(("id" = i64, Path, description = "session id")),
    request_body = EndRequest,
    responses(
        (status = 200, body = SessionView),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "session_ended: it has ended already; session_not_held: the petitioner was never let in; reception_not_held: the petitioner and the host were not connected with media for `records.min_reception_seconds` inside the session's window (docs/lifecycle.md)", body = ErrorBody),
        (status = 422, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "sessions"
)]
#[post("/sessions/{id}/end")]
pub async fn end_session(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<SessionId>,
    body: web::Json<EndRequest>,
) -> Result<HttpResponse, ApiError> {
    staff.require(&[Role::Officer])?;
    let session = load_session(&state, *id).await?;
    let command = EndCommand {
        outcome: body.outcome,
        note: &body.note,
        follow_up_deadline: body.follow_up_deadline.as_deref(),
        follow_up_person: body.follow_up_person.as_deref(),
    };
    session::end(
        &state.store,
        &state.settings,
        &staff,
        &session,
        command,
        state.clock,
    )
    .await?;
    state.hub.end(session.id, body.outcome.as_str()).await;
    tracing::info!(session = session.id.get(), outcome = %body.outcome, "session ended");
    let ended = load_session(&state, session.id).await?;
    Ok(HttpResponse::Ok().json(SessionView::try_from(ended)?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutcomeCorrectionRequest {
    /// The corrected outcome: one that fits the case's class, not 交办 (`assign`).
    pub outcome: Outcome,
    /// Why: required, 1 to 500 characters.
    #[serde(default)]
    pub reason: String,
}

/// Corrects an ended session's outcome, keeping the history (docs/outcomes.md): the ledger
/// gets a correction beside the original entry, the session carries the corrected outcome, and
/// the timeline shows both. The officer who recorded the outcome, or a supervisor of the host
/// court.
#[utoipa::path(
    post,
    path = "/api/v1/sessions/{id}/outcome-corrections",
    params(("id" = i64, Path, description = "session id")),
    request_body = OutcomeCorrectionRequest,
    responses(
        (status = 201, body = SessionView),
        (status = 401, body = ErrorBody),
        (status = 403, description = "forbidden: not the officer who recorded the outcome nor a supervisor of the host court", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "session_not_ended: no outcome yet; outcome_changed: corrected meanwhile", body = ErrorBody),
        (status = 422, description = "correction_reason_required, invalid_input, outcome_unchanged, outcome_not_for_class, outcome_correction_assign", body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "sessions"
)]
#[post("/sessions/{id}/outcome-corrections")]
pub async fn correct_outcome(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<SessionId>,
    body: web::Json<OutcomeCorrectionRequest>,
) -> Result<HttpResponse, ApiError> {
    let session = load_session(&state, *id).await?;
    let command = session::OutcomeCorrectionCommand {
        outcome: body.outcome,
        reason: &body.reason,
    };
    session::correct_outcome(&state.store, &staff, &session, command).await?;
    let corrected = load_session(&state, session.id).await?;
    Ok(HttpResponse::Created().json(SessionView::try_from(corrected)?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeaderRequest {
    /// The user to name: an active supervisor (院领导) of the booking court.
    #[schema(value_type = i64)]
    pub user_id: UserId,
}

/// The booking court's leaders on a session (领导包案), and whom its coordinator may still name.
#[derive(Serialize, ToSchema)]
pub struct LeadersView {
    pub leaders: Vec<crate::store::leaders::LeaderRow>,
    /// The booking court's active supervisors.
    pub candidates: Vec<crate::store::leaders::CandidateRow>,
}

/// The session's leaders and the candidates, for the booking court's coordinator.
#[utoipa::path(
    get,
    path = "/api/v1/sessions/{id}/leaders",
    params(("id" = i64, Path, description = "session id")),
    responses(
        (status = 200, body = LeadersView),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "sessions"
)]
#[get("/sessions/{id}/leaders")]
pub async fn list_leaders(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<SessionId>,
) -> Result<HttpResponse, ApiError> {
    let session = load_session(&state, *id).await?;
    let candidates = crate::app::leaders::candidates(&state.store, &staff, &session).await?;
    let leaders = crate::app::leaders::of_session(&state.store, session.id).await?;
    Ok(HttpResponse::Ok().json(LeadersView {
        leaders,
        candidates,
    }))
}

/// Names a leader of the booking court on the session (领导包案): they join from officer.html,
/// wait to be admitted like the petitioner, and are on the timeline (`leader_added`).
#[utoipa::path(
    post,
    path = "/api/v1/sessions/{id}/leaders",
    params(("id" = i64, Path, description = "session id")),
    request_body = LeaderRequest,
    responses(
        (status = 201, body = EventView),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "session_ended; leader_already_added", body = ErrorBody),
        (status = 422, description = "leader_not_eligible; too_many_leaders", body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "sessions"
)]
#[post("/sessions/{id}/leaders")]
pub async fn add_leader(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<SessionId>,
    body: web::Json<LeaderRequest>,
) -> Result<HttpResponse, ApiError> {
    let session = load_session(&state, *id).await?;
    let event = crate::app::leaders::add(&state.store, &staff, &session, body.user_id).await?;
    Ok(HttpResponse::Created().json(super::views::EventView::from(event)))
}
