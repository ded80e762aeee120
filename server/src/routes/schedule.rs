//! Availability, kept by the host court: settings, weekly templates per room, date overrides,
//! the room's calendar of slots and bookings, and the national working-day calendar.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::preconditions::{if_match, with_etag};
use crate::auth::Staff;
use crate::domain::{CaseId, Role};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::schedule::{Template, TemplateDay};
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::schedule::{CalendarEntry, HostSettings, OverrideRow, PublishReport};
pub use courtlink_parsers::bodies::{CategoryRequest, OverrideRequest, TemplateBody};
use courtlink_parsers::fields::parse_day;

fn refused(e: crate::schedule::ScheduleError) -> ApiError {
    ApiError::Unprocessable {
        code: e.code,
        message: e.message,
    }
}

/// The host room's court, if the caller keeps its availability (its officers and admins).
async fn own_room(
    state: &AppState,
    staff: &Staff,
    room: i64,
    write: bool,
) -> Result<i64, ApiError> {
    let court = match state.store.host_room_court(room).await {
        Ok(c) => c,
        Err(StoreError::NotFound) => return Err(ApiError::NotFound("host room")),
        Err(e) => return Err(e.into()),
    };
    let roles: &[Role] = if write {
        &[Role::Officer, Role::Admin]
    } else {
        &[Role::Officer, Role::Admin, Role::Supervisor]
    };
    staff.require(roles)?;
    if court != staff.court_id {
        return Err(ApiError::Forbidden("this room belongs to another court"));
    }
    Ok(court)
}

/// A host court's booking rules; readable by its staff and by courts below it.
#[utoipa::path(
    get,
    path = "/api/v1/host-courts/{id}/settings",
    params(("id" = i64, Path, description = "court id")),
    responses((status = 200, body = HostSettings, headers(("ETag" = String))), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])),
    tag = "schedule"
)]
#[get("/host-courts/{id}/settings")]
pub async fn get_settings(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let court = *id;
    if !crate::app::scope::within(&state.store, staff.court_id, court).await? {
        return Err(ApiError::Forbidden(
            "this court is neither yours nor above yours",
        ));
    }
    let s = state.store.host_settings(court).await?;
    Ok(with_etag(StatusCode::OK, s.version, &s))
}

/// Replaces a host court's booking rules (its officers and admins; `If-Match` required — `"v0"`
/// for a court that never set them).
#[utoipa::path(
    put,
    path = "/api/v1/host-courts/{id}/settings",
    params(("id" = i64, Path, description = "court id"), ("If-Match" = String, Header, description = "the settings' ETag")),
    request_body = HostSettings,
    responses((status = 200, body = HostSettings), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 412, body = ErrorBody), (status = 422, body = ErrorBody), (status = 428, body = ErrorBody)),
    security(("bearer" = [])),
    tag = "schedule"
)]
#[put("/host-courts/{id}/settings")]
pub async fn put_settings(
    state: web::Data<AppState>,
    staff: Staff,
    req: HttpRequest,
    id: web::Path<i64>,
    body: web::Json<HostSettings>,
) -> Result<HttpResponse, ApiError> {
    staff.require(&[Role::Officer, Role::Admin])?;
    if *id != staff.court_id {
        return Err(ApiError::Forbidden("you set your own court's rules only"));
    }
    let version = if_match(&req)?;
    let mut s = body.into_inner();
    s.court_id = *id;
    s.validate().map_err(ApiError::invalid)?;
    let saved = state
        .store
        .put_host_settings(&s, version, &format!("user-{}", staff.user_id))
        .await?;
    // The horizon may have grown or shrunk: this court's rooms, not every court's.
    state
        .store
        .publish_rooms(Some(*id), state.clock.now())
        .await?;
    Ok(with_etag(StatusCode::OK, saved.version, &saved))
}

#[derive(Serialize, ToSchema)]
pub struct TemplateSaved {
    pub days: Vec<TemplateDay>,
    pub published: PublishReport,
}

/// A room's weekly template (version 0: none yet; the room keeps hand-made slots).
#[utoipa::path(
    get,
    path = "/api/v1/host-rooms/{id}/template",
    params(("id" = i64, Path, description = "host room id")),
    responses((status = 200, body = TemplateBody, headers(("ETag" = String))), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])),
    tag = "schedule"
)]
#[get("/host-rooms/{id}/template")]
pub async fn get_template(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    own_room(&state, &staff, *id, false).await?;
    let (days, version) = state.store.template(*id).await?;
    Ok(with_etag(StatusCode::OK, version, &TemplateBody { days }))
}

/// Replaces a room's weekly template and publishes its slots (`If-Match` required). Bookings
/// whose slot the change removes are flagged for moving, never dropped.
#[utoipa::path(
    put,
    path = "/api/v1/host-rooms/{id}/template",
    params(("id" = i64, Path, description = "host room id"), ("If-Match" = String, Header, description = "the template's ETag")),
    request_body = TemplateBody,
    responses(
        (status = 200, body = TemplateSaved),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 412, body = ErrorBody),
        (status = 422, description = "template_overlap, slot_length_out_of_range, buffer_out_of_range, bad_window, bad_time, bad_weekday", body = ErrorBody),
        (status = 428, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "schedule"
)]
#[put("/host-rooms/{id}/template")]
pub async fn put_template(
    state: web::Data<AppState>,
    staff: Staff,
    req: HttpRequest,
    id: web::Path<i64>,
    body: web::Json<TemplateBody>,
) -> Result<HttpResponse, ApiError> {
    own_room(&state, &staff, *id, true).await?;
    let version = if_match(&req)?;
    Template::parse(&body.days).map_err(refused)?;
    let published = state
        .store
        .put_template(
            *id,
            &body.days,
            version,
            &format!("user-{}", staff.user_id),
            state.clock.now(),
        )
        .await?;
    let (days, version) = state.store.template(*id).await?;
    Ok(with_etag(
        StatusCode::OK,
        version,
        &TemplateSaved { days, published },
    ))
}

#[derive(Serialize, ToSchema)]
pub struct OverrideSaved {
    pub id: i64,
    pub published: PublishReport,
}

/// A room's date overrides.
#[utoipa::path(
    get,
    path = "/api/v1/host-rooms/{id}/overrides",
    params(("id" = i64, Path, description = "host room id")),
    responses((status = 200, body = [OverrideRow]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])),
    tag = "schedule"
)]
#[get("/host-rooms/{id}/overrides")]
pub async fn list_overrides(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    own_room(&state, &staff, *id, false).await?;
    Ok(HttpResponse::Ok().json(state.store.overrides(*id).await?))
}

/// Closes a room for a day, or opens an extra window (also on a weekend or holiday).
#[utoipa::path(
    post,
    path = "/api/v1/host-rooms/{id}/overrides",
    params(("id" = i64, Path, description = "host room id")),
    request_body = OverrideRequest,
    responses((status = 201, body = OverrideSaved), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])),
    tag = "schedule"
)]
#[post("/host-rooms/{id}/overrides")]
pub async fn add_override(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
    body: web::Json<OverrideRequest>,
) -> Result<HttpResponse, ApiError> {
    own_room(&state, &staff, *id, true).await?;
    let day = parse_day("day", &body.day)?;
    if day < crate::schedule::local_day(state.clock.now()) {
        return Err(ApiError::Unprocessable {
            code: ErrorCode::DayPast,
            message: "that day is over".into(),
        });
    }
    if let Some(w) = &body.window {
        w.parse().map_err(refused)?;
    } else if body.theme.is_some() {
        return Err(ApiError::invalid("a theme belongs to an opening window"));
    }
    if body.note.chars().count() > 500 {
        return Err(ApiError::invalid("note must be at most 500 characters"));
    }
    let (oid, published) = state
        .store
        .add_override(
            *id,
            day,
            body.window.as_ref(),
            body.theme,
            &body.note,
            staff.user_id,
            state.clock.now(),
        )
        .await?;
    Ok(HttpResponse::Created().json(OverrideSaved { id: oid, published }))
}

/// Removes a date override and republishes.
#[utoipa::path(
    delete,
    path = "/api/v1/host-rooms/{id}/overrides/{override_id}",
    params(("id" = i64, Path, description = "host room id"), ("override_id" = i64, Path, description = "override id")),
    responses((status = 200, body = PublishReport), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])),
    tag = "schedule"
)]
#[delete("/host-rooms/{id}/overrides/{override_id}")]
pub async fn delete_override(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (room, oid) = path.into_inner();
    own_room(&state, &staff, room, true).await?;
    match state
        .store
        .delete_override(room, oid, staff.user_id, state.clock.now())
        .await
    {
        Ok(r) => Ok(HttpResponse::Ok().json(r)),
        Err(StoreError::NotFound) => Err(ApiError::NotFound("override")),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// A room's slots with their bookings, for the host court's calendar (default: the next two
/// weeks; at most 62 days).
#[utoipa::path(
    get,
    path = "/api/v1/host-rooms/{id}/calendar",
    params(("id" = i64, Path, description = "host room id"), RangeQuery),
    responses((status = 200, body = [crate::store::schedule::RoomSlot]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])),
    tag = "schedule"
)]
#[get("/host-rooms/{id}/calendar")]
pub async fn room_calendar(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
    query: web::Query<RangeQuery>,
) -> Result<HttpResponse, ApiError> {
    own_room(&state, &staff, *id, false).await?;
    let from = query.from.unwrap_or_else(|| state.clock.now());
    let to = query.to.unwrap_or(from + Duration::days(14));
    if to <= from || to - from > Duration::days(62) {
        return Err(ApiError::invalid(
            "`to` must come after `from`, at most 62 days later",
        ));
    }
    Ok(HttpResponse::Ok().json(state.store.room_slots(*id, from, to).await?))
}

/// One year's statutory holidays and make-up working days.
#[utoipa::path(
    get,
    path = "/api/v1/calendar/{year}",
    params(("year" = i32, Path, description = "year")),
    responses((status = 200, body = [CalendarEntry]), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])),
    tag = "schedule"
)]
#[get("/calendar/{year}")]
pub async fn get_calendar(
    state: web::Data<AppState>,
    _staff: Staff,
    year: web::Path<i32>,
) -> Result<HttpResponse, ApiError> {
    check_year(*year)?;
    Ok(HttpResponse::Ok().json(state.store.calendar_year(*year).await?))
}

fn check_year(year: i32) -> Result<(), ApiError> {
    if !(2000..=2100).contains(&year) {
        return Err(ApiError::invalid("year must be 2000 to 2100"));
    }
    Ok(())
}

/// Replaces one year's calendar (the State Council's notice, 国务院办公厅部分节假日安排) and marks
/// the year loaded. Only an admin of the top court: the calendar is national. Checked as a
/// whole (each day once, make-up days on weekends, holidays named); a bad one changes nothing
/// and is refused 422 `calendar_invalid` with every bad row (`row` = array element from 1).
/// Every templated room is republished.
#[utoipa::path(
    put,
    path = "/api/v1/calendar/{year}",
    params(("year" = i32, Path, description = "year")),
    request_body = [CalendarEntry],
    responses((status = 200, body = PublishReport), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, description = "invalid_input (year), calendar_invalid (rows)", body = super::clocks::CalendarRefusal)),
    security(("bearer" = [])),
    tag = "schedule"
)]
#[put("/calendar/{year}")]
pub async fn put_calendar(
    state: web::Data<AppState>,
    staff: Staff,
    year: web::Path<i32>,
    body: web::Json<Vec<CalendarEntry>>,
) -> Result<HttpResponse, ApiError> {
    staff.require(&[Role::Admin])?;
    if state.store.court(staff.court_id).await?.parent_id.is_some() {
        return Err(ApiError::Forbidden(
            "the national calendar is kept by the top court's admin",
        ));
    }
    let year = *year;
    check_year(year)?;
    let rows = body
        .into_inner()
        .into_iter()
        .enumerate()
        .map(|(i, e)| (i + 1, e))
        .collect();
    super::clocks::load_year(&state, &staff, year, rows).await
}

/// Sets what kind of matter a case is (a themed day admits only its kind).
#[utoipa::path(
    put,
    path = "/api/v1/cases/{id}/category",
    params(("id" = i64, Path, description = "case id")),
    request_body = CategoryRequest,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])),
    tag = "cases"
)]
#[put("/cases/{id}/category")]
pub async fn set_category(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<CaseId>,
    body: web::Json<CategoryRequest>,
) -> Result<HttpResponse, ApiError> {
    staff.require(&[Role::Coordinator])?;
    let case = match state.store.case(*id).await {
        Ok(c) => c,
        Err(StoreError::NotFound) => return Err(ApiError::NotFound("case")),
        Err(e) => return Err(e.into()),
    };
    if case.court_id != staff.court_id {
        return Err(ApiError::Forbidden("this case belongs to another court"));
    }
    state
        .store
        .set_case_category(case.id, body.category, &format!("user-{}", staff.user_id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
