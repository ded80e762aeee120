//! iCalendar feeds (RFC 5545) of bookings: per host room, per local room, per accompanying
//! local officer. Bearer token only, like every other endpoint: a token never goes in a URL.

use actix_web::{HttpResponse, get, web};

use crate::app::scope::Scope;
use crate::auth::Staff;
use crate::error::{ApiError, ErrorBody};
use crate::notify::ics;
use crate::state::AppState;
use crate::store::notify::{self as queries, Feed};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(host_room_feed)
        .service(local_room_feed)
        .service(officer_feed);
}

/// Bookings from this many days back...
const PAST_DAYS: i64 = 30;
/// ...to this many days ahead.
const FUTURE_DAYS: i64 = 180;

/// Whether the caller may read a feed whose subject belongs to `court_id`: a host room only by
/// its own court's staff; a local room or officer also by the courts above.
async fn check_scope(state: &AppState, staff: &Staff, feed: Feed) -> Result<(), ApiError> {
    let court = queries::court_of(&state.store, feed)
        .await?
        .ok_or(ApiError::NotFound(match feed {
            Feed::HostRoom(_) => "host room",
            Feed::LocalRoom(_) => "local room",
            Feed::Officer(_) => "officer",
        }))?;
    if court == staff.court_id {
        return Ok(());
    }
    if let Feed::LocalRoom(_) | Feed::Officer(_) = feed {
        if Scope::of(&state.store, staff).in_branch(court).await? {
            return Ok(());
        }
    }
    Err(ApiError::Forbidden(
        "this calendar belongs to another court",
    ))
}

async fn feed(state: &AppState, staff: &Staff, feed: Feed) -> Result<HttpResponse, ApiError> {
    check_scope(state, staff, feed).await?;
    let now = state.clock.now();
    let bookings = queries::calendar(
        &state.store,
        feed,
        now - chrono::Duration::days(PAST_DAYS),
        now + chrono::Duration::days(FUTURE_DAYS),
    )
    .await?;
    let (name, file) = match feed {
        Feed::HostRoom(id) => ("CourtLink 接谈室", format!("host-room-{id}.ics")),
        Feed::LocalRoom(id) => ("CourtLink 接访室", format!("local-room-{id}.ics")),
        Feed::Officer(id) => ("CourtLink 陪同接访", format!("officer-{id}.ics")),
    };
    Ok(HttpResponse::Ok()
        .content_type("text/calendar; charset=utf-8")
        .insert_header(("Cache-Control", "private, no-store"))
        .insert_header((
            "Content-Disposition",
            format!("inline; filename=\"{file}\""),
        ))
        .body(ics::calendar(name, &bookings, now)))
}

/// The bookings of a host court's reception room (its own court's staff).
#[utoipa::path(
    get,
    path = "/api/v1/ics/host-rooms/{id}",
    params(("id" = i64, Path, description = "host room id")),
    responses((status = 200, content_type = "text/calendar", body = String), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])),
    tag = "calendar"
)]
#[get("/ics/host-rooms/{id}")]
pub async fn host_room_feed(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    feed(&state, &staff, Feed::HostRoom(*id)).await
}

/// The bookings of a local court's video room (its court's staff, or a court above).
#[utoipa::path(
    get,
    path = "/api/v1/ics/local-rooms/{id}",
    params(("id" = i64, Path, description = "local room id")),
    responses((status = 200, content_type = "text/calendar", body = String), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])),
    tag = "calendar"
)]
#[get("/ics/local-rooms/{id}")]
pub async fn local_room_feed(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    feed(&state, &staff, Feed::LocalRoom(*id)).await
}

/// The bookings a local officer accompanies (their court's staff, or a court above).
#[utoipa::path(
    get,
    path = "/api/v1/ics/officers/{id}",
    params(("id" = i64, Path, description = "user id of the accompanying officer")),
    responses((status = 200, content_type = "text/calendar", body = String), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])),
    tag = "calendar"
)]
#[get("/ics/officers/{id}")]
pub async fn officer_feed(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    feed(&state, &staff, Feed::Officer(*id)).await
}
