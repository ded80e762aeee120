//! Follow-up tasks (交办 → 办结报告, 督办): the list of a court's branch, one task with its
//! timeline, the completion report and the 督办. Each route reads the request and calls one use
//! case in `app::assignments`; docs/follow-ups.md says who may do what.

use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::app::assignments::{
    self, AssignmentDetail, AssignmentPage, AssignmentState, FollowUps, ListQuery,
};
use crate::auth::Staff;
use crate::domain::Channel;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list_assignments)
        .service(get_assignment)
        .service(report_assignment)
        .service(supervise_assignment);
}

fn follow_ups(state: &AppState) -> FollowUps<'_> {
    FollowUps {
        settings: &state.settings.follow_ups,
        clock: state.clock,
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// `open` (not reported), `due` (due within `follow_ups.remind_working_days` working days),
    /// `overdue`, `closed`; every task when absent.
    pub status: Option<AssignmentState>,
    /// Only the tasks that went to this court: your court or one below it.
    pub court_id: Option<i64>,
    /// From 1 (default 1).
    pub page: Option<i64>,
    /// 1 to 100 (default 20).
    pub per_page: Option<i64>,
}

/// The follow-up tasks that went to your court or a court below it, earliest due first: for
/// the court that handed them down and the courts above it, and for the court that reports.
#[utoipa::path(
    get,
    path = "/api/v1/assignments",
    params(ListParams),
    responses(
        (status = 200, body = AssignmentPage),
        (status = 401, body = ErrorBody),
        (status = 403, description = "a role that reads no tasks, or a court outside your branch", body = ErrorBody),
        (status = 422, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "follow-ups"
)]
#[get("/assignments")]
pub async fn list_assignments(
    state: web::Data<AppState>,
    staff: Staff,
    query: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let page = assignments::list(
        &state.store,
        follow_ups(&state),
        &staff,
        ListQuery {
            state: q.status,
            court_id: q.court_id,
            page: q.page,
            per_page: q.per_page,
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// One follow-up task with its timeline (assigned, reminded, overdue, supervised, reported).
#[utoipa::path(
    get,
    path = "/api/v1/assignments/{id}",
    params(("id" = i64, Path, description = "assignment id")),
    responses(
        (status = 200, body = AssignmentDetail),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "follow-ups"
)]
#[get("/assignments/{id}")]
pub async fn get_assignment(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let detail = assignments::get(&state.store, follow_ups(&state), &staff, *id).await?;
    Ok(HttpResponse::Ok().json(detail))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    /// The completion report (办结报告): what the court did and what came of it, 1 to 4000
    /// characters.
    pub report: String,
    /// The day of the report, `YYYY-MM-DD` (default today; not in the future, not before the
    /// task was handed down).
    pub reported_on: Option<String>,
    /// The papers the report names (0 to 20): ids of attachments already in the case's file
    /// (`POST /cases/{id}/attachments`), each once.
    #[serde(default)]
    pub attachments: Vec<i64>,
}

/// The court the task went to closes it with its completion report (办结报告): a coordinator
/// or an officer of that court, once.
#[utoipa::path(
    post,
    path = "/api/v1/assignments/{id}/report",
    params(("id" = i64, Path, description = "assignment id")),
    request_body = ReportRequest,
    responses(
        (status = 200, body = AssignmentDetail),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "forbidden (role or branch), assignment_other_court", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "assignment_closed: the report is on record already", body = ErrorBody),
        (status = 422, description = "invalid_input: an empty report, a bad day, over 20 attachments or one twice; attachment_not_on_case", body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "follow-ups"
)]
#[post("/assignments/{id}/report")]
pub async fn report_assignment(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
    body: web::Json<ReportRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let detail = assignments::report(
        &state.store,
        follow_ups(&state),
        &staff,
        *id,
        &b.report,
        b.reported_on.as_deref(),
        &b.attachments,
    )
    .await?;
    Ok(HttpResponse::Ok().json(detail))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuperviseRequest {
    /// What the court below is pressed on (督办意见), 1 to 2000 characters.
    pub note: String,
    /// How it was sent, for the case's ledger: letter (督办函, the default), phone, online or
    /// local_visit.
    pub channel: Option<Channel>,
}

/// The court that handed the task down, or a court above it, presses the court below (督办):
/// a step on the task and a contact with outcome `supervise` on the case's ledger.
#[utoipa::path(
    post,
    path = "/api/v1/assignments/{id}/supervise",
    params(("id" = i64, Path, description = "assignment id")),
    request_body = SuperviseRequest,
    responses(
        (status = 200, body = AssignmentDetail),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "forbidden (role or branch), not_supervising_court", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "assignment_closed", body = ErrorBody),
        (status = 422, description = "invalid_input, video_by_session_only", body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "follow-ups"
)]
#[post("/assignments/{id}/supervise")]
pub async fn supervise_assignment(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
    body: web::Json<SuperviseRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let detail = assignments::supervise(
        &state.store,
        follow_ups(&state),
        &staff,
        *id,
        &b.note,
        b.channel,
    )
    .await?;
    Ok(HttpResponse::Ok().json(detail))
}
