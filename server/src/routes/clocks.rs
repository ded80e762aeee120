//! A case's clocks: the events that start and stop them, approving extensions (负责人批准), the
//! overdue list; and the national calendar's years (loaded, allowed, warned about). The rules
//! are in `app/clocks.rs` and `app/calendar.rs`; docs/clocks.md.

use actix_web::{HttpRequest, HttpResponse, get, post, put, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::calendar::{self, CalendarWarning, RowError};
use crate::app::clocks::{self, OverdueClock, PendingExtension};
use crate::app::scope::Scope;
use crate::auth::Staff;
use crate::domain::{CaseId, Role};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::state::AppState;
use crate::store::clocks::{CaseEvent, ExtensionRecord, ExtensionRow};
use crate::store::schedule::{CalendarEntry, CalendarYear, PublishReport};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockEventRequest {
    /// `accepted` (受理), `answered` (the written answer, 书面答复), `review_requested`, `review_decided`,
    /// `rereview_requested` or `rereview_decided`.
    pub event: String,
    /// `YYYY-MM-DD` (Beijing), the day it happened: not in the future, not before the event it
    /// follows.
    pub on: String,
    /// For `review_decided`: the court above that decided the review (复查). A high court's
    /// review is what makes a case eligible for an SPC reception.
    #[serde(default)]
    pub decided_by_court_id: Option<i64>,
}

/// Records an event that starts or stops a case's clocks, once; audited.
#[utoipa::path(
    post,
    path = "/api/v1/cases/{id}/clock-events",
    params(("id" = i64, Path, description = "case id")),
    request_body = ClockEventRequest,
    responses(
        (status = 200, body = crate::routes::views::CaseView),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "already_done", body = ErrorBody),
        (status = 422, description = "invalid_input, clock_event_in_future, clock_event_out_of_order", body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "cases"
)]
#[post("/cases/{id}/clock-events")]
pub async fn record_clock_event(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<CaseId>,
    body: web::Json<ClockEventRequest>,
) -> Result<HttpResponse, ApiError> {
    let case = Scope::of(&state.store, &staff).writable_case(*id).await?;
    let event = CaseEvent::parse(&body.event).ok_or_else(|| {
        ApiError::invalid(
            "event: accepted, answered, review_requested, review_decided, rereview_requested or rereview_decided",
        )
    })?;
    clocks::record_event(
        &state,
        &case,
        event,
        &body.on,
        body.decided_by_court_id,
        &format!("user-{}", staff.user_id),
    )
    .await?;
    let calendar = clocks::calendar(&state).await?;
    Ok(HttpResponse::Ok().json(crate::routes::views::CaseView::new(
        state.store.case(case.id).await?,
        &calendar,
        state.clock.today(),
    )))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OverdueQuery {
    /// The court whose clocks are listed (default the caller's): a coordinator's own court; a
    /// supervisor's court or one below it, always with the courts below it.
    pub court_id: Option<i64>,
}

/// The open clocks whose due day has passed: a coordinator's court's, or a supervisor's court
/// and its branch (the courts below). A stopped clock (a decided review, an answered case) is
/// never listed.
#[utoipa::path(
    get,
    path = "/api/v1/clocks/overdue",
    params(OverdueQuery),
    responses((status = 200, body = [OverdueClock]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])),
    tag = "cases"
)]
#[get("/clocks/overdue")]
pub async fn overdue_clocks(
    state: web::Data<AppState>,
    staff: Staff,
    q: web::Query<OverdueQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(clocks::overdue_for(&state, &staff, q.court_id).await?))
}

/// A case's extension requests and their decisions, newest first: who asked, who decided, when
/// and why (审批意见). For whoever may read the case.
#[utoipa::path(
    get,
    path = "/api/v1/cases/{id}/extensions",
    params(("id" = i64, Path, description = "case id")),
    responses((status = 200, body = [ExtensionRecord]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])),
    tag = "cases"
)]
#[get("/cases/{id}/extensions")]
pub async fn case_extensions(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<CaseId>,
) -> Result<HttpResponse, ApiError> {
    let case = Scope::of(&state.store, &staff).readable_case(*id).await?;
    Ok(HttpResponse::Ok().json(state.store.extensions(case.id).await?))
}

/// Extension requests waiting for the caller's decision: those of its court's cases and of the
/// courts below it.
#[utoipa::path(
    get,
    path = "/api/v1/extensions",
    responses((status = 200, body = [PendingExtension]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])),
    tag = "cases"
)]
#[get("/extensions")]
pub async fn pending_extensions(
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(clocks::pending_extensions(&state, &staff).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionDecision {
    pub approve: bool,
    /// The approver's opinion (审批意见), required either way: 1 to 500 characters.
    pub note: String,
}

/// A person in charge (负责人) approves or refuses an extension: a supervisor of the case's court
/// or a court above it, never the requester. Only an approval moves the handling clock; both
/// are audited with who, when and why.
#[utoipa::path(
    post,
    path = "/api/v1/extensions/{id}/decision",
    params(("id" = i64, Path, description = "extension id")),
    request_body = ExtensionDecision,
    responses(
        (status = 200, body = ExtensionRow),
        (status = 401, body = ErrorBody),
        (status = 403, description = "forbidden, not_in_charge, extension_self_approval", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "extension_decided", body = ErrorBody),
        (status = 422, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "cases"
)]
#[post("/extensions/{id}/decision")]
pub async fn decide_extension(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
    body: web::Json<ExtensionDecision>,
) -> Result<HttpResponse, ApiError> {
    let decided = clocks::decide_extension(&state, &staff, *id, body.approve, &body.note).await?;
    Ok(HttpResponse::Ok().json(decided))
}

// --- the calendar's years ------------------------------------------------------------------------

#[derive(Serialize, ToSchema)]
pub struct CalendarStatus {
    /// Years loaded, or allowed to take slots while not loaded.
    pub years: Vec<CalendarYear>,
    /// This year and, from 60 days before it starts, next year, when not loaded.
    pub warnings: Vec<CalendarWarning>,
}

/// Which years of the national calendar are loaded, and what the admin must see to.
#[utoipa::path(
    get,
    path = "/api/v1/calendar",
    responses((status = 200, body = CalendarStatus), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])),
    tag = "schedule"
)]
#[get("/calendar")]
pub async fn calendar_status(
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<HttpResponse, ApiError> {
    staff.require(&[Role::Admin, Role::Officer, Role::Supervisor])?;
    Ok(HttpResponse::Ok().json(CalendarStatus {
        years: state.store.calendar_years().await?,
        warnings: calendar::warnings(&state.store, state.clock.today()).await?,
    }))
}

/// The example calendar file shipped with CourtLink (`config/calendar/2027.example.csv`): the
/// format to copy the State Council's days into. An example, not a year's real calendar: its
/// header comment says so, and loading it as it is would publish made-up holidays.
const CALENDAR_EXAMPLE: &str = include_str!("../../../config/calendar/2027.example.csv");

/// The example calendar file, to download beside the upload form (docs/clocks.md).
#[utoipa::path(
    get,
    path = "/api/v1/calendar/files/example",
    responses(
        (status = 200, description = "the example CSV (UTF-8)", content_type = "text/csv", body = String),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "schedule"
)]
#[get("/calendar/files/example")]
pub async fn calendar_example(staff: Staff) -> Result<HttpResponse, ApiError> {
    staff.require(&[Role::Admin, Role::Officer, Role::Supervisor])?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            "attachment; filename=\"calendar.example.csv\"",
        ))
        .body(CALENDAR_EXAMPLE))
}

/// A refused calendar: every bad row, with its number and a stable code.
#[derive(Serialize, ToSchema)]
pub struct CalendarRefusal {
    /// `calendar_invalid`.
    pub code: ErrorCode,
    pub message: String,
    /// Every bad row (always there for `calendar_invalid`; a 422 `invalid_input` for the year
    /// or the body's shape has none).
    pub errors: Option<Vec<RowError>>,
}

fn refusal(errors: Vec<RowError>) -> HttpResponse {
    HttpResponse::UnprocessableEntity().json(CalendarRefusal {
        code: ErrorCode::CalendarInvalid,
        message: format!(
            "the calendar was not loaded: {} problem(s), first on row {}",
            errors.len(),
            errors.first().map(|e| e.row).unwrap_or(0)
        ),
        errors: Some(errors),
    })
}

async fn national_admin(state: &AppState, staff: &Staff) -> Result<(), ApiError> {
    staff.require(&[Role::Admin])?;
    if state.store.court(staff.court_id).await?.parent_id.is_some() {
        return Err(ApiError::Forbidden(
            "the national calendar is kept by the top court's admin",
        ));
    }
    Ok(())
}

fn check_year(year: i32) -> Result<(), ApiError> {
    if !(2000..=2100).contains(&year) {
        return Err(ApiError::invalid("year must be 2000 to 2100"));
    }
    Ok(())
}

/// Loads entries already read (JSON or CSV): checked as a whole first; a bad one changes nothing.
pub async fn load_year(
    state: &AppState,
    staff: &Staff,
    year: i32,
    rows: Vec<(usize, CalendarEntry)>,
) -> Result<HttpResponse, ApiError> {
    if let Err(errors) = calendar::check_year(year, &rows) {
        return Ok(refusal(errors));
    }
    let entries: Vec<CalendarEntry> = rows.into_iter().map(|(_, e)| e).collect();
    let report: PublishReport = state
        .store
        .put_calendar_year(
            year,
            &entries,
            &format!("user-{}", staff.user_id),
            state.clock.now(),
        )
        .await?;
    Ok(HttpResponse::Ok().json(report))
}

/// Loads one year's calendar from the small CSV file of docs/clocks.md (`text/csv`, UTF-8):
/// the same checks and effect as `PUT /api/v1/calendar/{year}`.
#[utoipa::path(
    put,
    path = "/api/v1/calendar/{year}/file",
    params(("year" = i32, Path, description = "year")),
    request_body(content = String, content_type = "text/csv", description = "the file; `application/octet-stream` is read the same way"),
    responses(
        (status = 200, body = PublishReport),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 422, description = "calendar_invalid, with every bad row", body = CalendarRefusal)
    ),
    security(("bearer" = [])),
    tag = "schedule"
)]
#[put("/calendar/{year}/file")]
pub async fn put_calendar_file(
    state: web::Data<AppState>,
    staff: Staff,
    year: web::Path<i32>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    national_admin(&state, &staff).await?;
    check_year(*year)?;
    let is_csv = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/csv") || v.starts_with("application/octet-stream"));
    if !is_csv {
        return Err(ApiError::invalid(
            "send the file as text/csv (or application/octet-stream, as a browser sends a file)",
        ));
    }
    let Ok(text) = std::str::from_utf8(&body) else {
        return Ok(refusal(vec![RowError {
            row: 1,
            code: ErrorCode::CalendarBadRow,
            message: "the file is not UTF-8".into(),
        }]));
    };
    match calendar::parse_csv(text) {
        Ok(rows) => load_year(&state, &staff, *year, rows).await,
        Err(errors) => Ok(refusal(errors)),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllowUnloaded {
    /// True: publish slots on this year's days on the Monday–Friday pattern although its
    /// holidays are not loaded. False: take that leave back.
    pub allow: bool,
}

/// The top court's admin explicitly allows (or stops allowing) slots on a year whose calendar is
/// not loaded; audited; every templated room is republished.
#[utoipa::path(
    put,
    path = "/api/v1/calendar/{year}/allow-unloaded",
    params(("year" = i32, Path, description = "year")),
    request_body = AllowUnloaded,
    responses(
        (status = 200, body = PublishReport),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 409, description = "calendar_loaded: the year is loaded, nothing to allow", body = ErrorBody),
        (status = 422, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "schedule"
)]
#[put("/calendar/{year}/allow-unloaded")]
pub async fn allow_unloaded(
    state: web::Data<AppState>,
    staff: Staff,
    year: web::Path<i32>,
    body: web::Json<AllowUnloaded>,
) -> Result<HttpResponse, ApiError> {
    national_admin(&state, &staff).await?;
    check_year(*year)?;
    if state
        .store
        .calendar_years()
        .await?
        .iter()
        .any(|y| y.year == *year && y.loaded)
    {
        return Err(ApiError::conflict(
            ErrorCode::CalendarLoaded,
            "this year's calendar is loaded: its days are known",
        ));
    }
    let report = state
        .store
        .allow_unloaded_year(
            *year,
            body.allow,
            &format!("user-{}", staff.user_id),
            state.clock.now(),
        )
        .await?;
    Ok(HttpResponse::Ok().json(report))
}
