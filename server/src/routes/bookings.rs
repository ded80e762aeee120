//! Slots, holds and bookings: what a local court's coordinator books, and what the host court
//! cancels or moves.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::preconditions::{self, Keeper, if_match, with_etag};
use super::views::SlotView;
use crate::app::booking;
pub use crate::app::booking::{BookingCreated, not_found};
use crate::app::scope::Scope;
use crate::auth::Staff;
use crate::domain::{BookingId, BookingStatus, CaseId, JoinCode, Role, SlotId, UserId};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::holds::{Caps, Placed};
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::booking::{BookingDetail, BookingFilter};
pub use courtlink_parsers::bodies::{
    BookingRequest, CancelRequest, HoldRequest, RescheduleRequest,
};
use courtlink_parsers::fields::{parse_day, require_reason};

/// How far ahead the slot list reaches when the caller does not say.
const DEFAULT_SLOT_DAYS: i64 = 14;
/// How many free slots a cancelled booking is offered instead.
const ALTERNATIVES: i64 = 5;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SlotQuery {
    /// Only this host court's slots.
    pub host_court_id: Option<i64>,
    /// From this instant (default: now).
    pub from: Option<DateTime<Utc>>,
    /// Until this instant (default: two weeks on, at most 180 days).
    pub to: Option<DateTime<Utc>>,
}

/// Open slots of the courts above the coordinator's court that it could book now: not taken,
/// not withdrawn, within each host court's notice and horizon.
#[utoipa::path(
    get,
    path = "/api/v1/slots",
    params(SlotQuery),
    responses((status = 200, body = [SlotView]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])),
    tag = "bookings"
)]
#[get("/slots")]
pub async fn open_slots(
    state: web::Data<AppState>,
    staff: Staff,
    query: web::Query<SlotQuery>,
) -> Result<HttpResponse, ApiError> {
    staff.require(&[Role::Coordinator])?;
    let at = state.clock.now();
    let from = query.from.unwrap_or(at).max(at);
    let to = query.to.unwrap_or(from + Duration::days(DEFAULT_SLOT_DAYS));
    if to <= from || to - from > Duration::days(180) {
        return Err(ApiError::invalid(
            "`to` must come after `from`, at most 180 days later",
        ));
    }
    let mut settings = std::collections::HashMap::new();
    let mut out = Vec::new();
    for slot in state
        .store
        .open_slots_above(staff.court_id, from, to)
        .await?
    {
        if query.host_court_id.is_some_and(|c| c != slot.court_id) {
            continue;
        }
        let s = match settings.get(&slot.court_id) {
            Some(s) => s,
            None => {
                let loaded = state.store.host_settings(slot.court_id).await?;
                settings.entry(slot.court_id).or_insert(loaded)
            }
        };
        let notice = Duration::hours(i64::from(s.min_notice_hours));
        let horizon = Duration::days(i64::from(s.horizon_days));
        if slot.starts_at >= at + notice && slot.starts_at <= at + horizon {
            out.push(SlotView::try_from(slot)?);
        }
    }
    Ok(HttpResponse::Ok().json(out))
}

#[derive(Serialize, ToSchema)]
pub struct HoldView {
    #[schema(value_type = i64)]
    pub slot_id: SlotId,
    pub expires_at: DateTime<Utc>,
}

/// Holds a slot for a few minutes while the coordinator completes the booking. Advisory: the
/// database still decides, and when Redis is away the hold is skipped, not refused.
#[utoipa::path(
    post,
    path = "/api/v1/holds",
    request_body = HoldRequest,
    responses(
        (status = 201, body = HoldView),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 409, description = "slot_held (by someone else), slot_taken, or hold_cap_reached (the per-user or per-court cap on holds; the message names it)", body = ErrorBody),
        (status = 422, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "bookings"
)]
#[post("/holds")]
pub async fn place_hold(
    state: web::Data<AppState>,
    staff: Staff,
    body: web::Json<HoldRequest>,
) -> Result<HttpResponse, ApiError> {
    staff.require(&[Role::Coordinator])?;
    let slot = Scope::of(&state.store, &staff)
        .slot_above(SlotId(body.slot_id))
        .await?;
    if state.store.slot_is_booked(slot.id).await? {
        return Err(ApiError::from(StoreError::SlotTaken));
    }
    let ttl = std::time::Duration::from_secs(state.settings.scheduling.hold_seconds);
    let scheduling = &state.settings.scheduling;
    let caps = Caps {
        per_user: scheduling.hold_cap_per_user,
        per_court: scheduling.hold_cap_per_court,
    };
    match state
        .holds
        .place(slot.id, slot.court_id, staff.user_id, ttl, caps)
        .await
    {
        Placed::HeldByOther => Err(ApiError::conflict(
            ErrorCode::SlotHeld,
            "another coordinator is booking this slot right now; choose another or try again in a few minutes",
        )),
        Placed::UserCapReached(cap) => Err(ApiError::conflict(
            ErrorCode::HoldCapReached,
            format!(
                "you already hold {cap} slots, the most one user may hold at once; book or release one first"
            ),
        )),
        Placed::CourtCapReached(cap) => Err(ApiError::conflict(
            ErrorCode::HoldCapReached,
            format!(
                "this court's slots already carry {cap} holds, the most at once; try again in a few minutes"
            ),
        )),
        Placed::Held | Placed::Unavailable => Ok(HttpResponse::Created().json(HoldView {
            slot_id: slot.id,
            expires_at: state.clock.now()
                + Duration::seconds(i64::try_from(ttl.as_secs()).unwrap_or(300)),
        })),
    }
}

/// Lets go of the caller's hold on a slot.
#[utoipa::path(
    delete,
    path = "/api/v1/holds/{slot_id}",
    params(("slot_id" = i64, Path, description = "slot id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])),
    tag = "bookings"
)]
#[delete("/holds/{slot_id}")]
pub async fn release_hold(
    state: web::Data<AppState>,
    staff: Staff,
    slot_id: web::Path<SlotId>,
) -> Result<HttpResponse, ApiError> {
    staff.require(&[Role::Coordinator])?;
    state.holds.release(*slot_id, staff.user_id).await;
    Ok(HttpResponse::NoContent().finish())
}

/// Books a slot directly. Only host courts that approve automatically take direct bookings;
/// the others take applications (`POST /api/v1/applications`). `Idempotency-Key` makes a retry safe.
#[utoipa::path(
    post,
    path = "/api/v1/bookings",
    request_body = BookingRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "same key and body: the same answer and one booking")),
    responses(
        (status = 201, body = BookingCreated),
        (status = 400, description = "bad_idempotency_key", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "the case, room or slot is outside the caller's scope", body = ErrorBody),
        (status = 409, description = "slot_taken, slot_held, slot_withdrawn, local_room_busy, host_room_busy, local_officer_busy, slot_past, weekly_limit_reached, petitioner_limit_reached, idempotency_in_flight", body = ErrorBody),
        (status = 422, description = "invalid_input, application_required, too_soon, beyond_horizon, theme_mismatch, ineligible, idempotency_key_reused", body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "bookings"
)]
#[post("/bookings")]
pub async fn create_booking(
    state: web::Data<AppState>,
    staff: Staff,
    req: HttpRequest,
    body: web::Json<BookingRequest>,
) -> Result<HttpResponse, ApiError> {
    staff.require(&[Role::Coordinator])?;
    let body = body.into_inner();
    // The work below moves references in, and its key by value.
    let (state, staff, body) = (&**state, &staff, &body);
    preconditions::once(
        state,
        &req,
        staff.user_id,
        body,
        Keeper::Work,
        |key| async move {
            let direct = booking::Direct {
                slot_id: SlotId(body.slot_id),
                case_id: CaseId(body.case_id),
                local_room_id: body.local_room_id,
                local_officer_id: body.local_officer_id.map(UserId),
                joint_court_id: body.joint_court_id,
            };
            let booked = booking::direct(state, staff, &direct, key.as_deref()).await?;
            Ok((StatusCode::CREATED, booked))
        },
    )
    .await
}

/// Rows per page of `GET /bookings` unless `limit` says otherwise, and the most a page may have.
const DEFAULT_BOOKINGS: i64 = 50;
const MAX_BOOKINGS: i64 = 200;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BookingListQuery {
    /// `booked`, `cancelled` or `completed`.
    pub status: Option<String>,
    /// First day, `YYYY-MM-DD` in Asia/Shanghai (by scheduled start).
    pub from: Option<String>,
    /// Last day, inclusive, `YYYY-MM-DD` in Asia/Shanghai.
    pub to: Option<String>,
    /// One case's bookings.
    pub case_id: Option<i64>,
    /// Rows per page: 1 to 200, 50 by default.
    pub limit: Option<i64>,
    /// Rows to skip: `next_offset` of the previous page.
    pub offset: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct BookingPage {
    pub items: Vec<BookingDetail>,
    /// The `offset` of the next page, or null on the last one.
    pub next_offset: Option<i64>,
}

/// A court's bookings in the order they take place: a coordinator's local court's, an officer's
/// or admin's host court's, by the same rule as one booking (`GET /bookings/{id}`).
#[utoipa::path(
    get,
    path = "/api/v1/bookings",
    params(BookingListQuery),
    responses(
        (status = 200, body = BookingPage),
        (status = 401, body = ErrorBody),
        (status = 403, description = "forbidden: not a coordinator, officer or admin", body = ErrorBody),
        (status = 422, description = "invalid_input: the filter named", body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "bookings"
)]
#[get("/bookings")]
pub async fn list_bookings(
    state: web::Data<AppState>,
    staff: Staff,
    q: web::Query<BookingListQuery>,
) -> Result<HttpResponse, ApiError> {
    let side = Scope::of(&state.store, &staff).booking_side_of()?;
    let limit = q.limit.unwrap_or(DEFAULT_BOOKINGS);
    if !(1..=MAX_BOOKINGS).contains(&limit) {
        return Err(ApiError::invalid(format!(
            "limit: between 1 and {MAX_BOOKINGS}"
        )));
    }
    let offset = q.offset.unwrap_or(0);
    if !(0..=1_000_000).contains(&offset) {
        return Err(ApiError::invalid("offset: between 0 and 1000000"));
    }
    let from = q
        .from
        .as_deref()
        .map(|t| parse_day("from", t))
        .transpose()?;
    let to = q.to.as_deref().map(|t| parse_day("to", t)).transpose()?;
    if let (Some(f), Some(t)) = (from, to) {
        if t < f {
            return Err(ApiError::invalid("to: must not be before from"));
        }
    }
    if let Some(s) = q.status.as_deref() {
        if !["booked", "cancelled", "completed"].contains(&s) {
            return Err(ApiError::invalid(
                "status: one of booked, cancelled, completed",
            ));
        }
    }
    let filter = BookingFilter {
        side,
        from: from.map(crate::app::clock::day_start),
        to: to.map(|d| crate::app::clock::day_start(d) + Duration::days(1)),
        case_id: q.case_id.map(CaseId),
        status: q.status.clone(),
        limit: limit + 1,
        offset,
    };
    let mut items = state.store.bookings_page(&filter).await?;
    let next_offset = (items.len() as i64 > limit).then_some(offset + limit);
    items.truncate(usize::try_from(limit).unwrap_or(0));
    Ok(HttpResponse::Ok().json(BookingPage { items, next_offset }))
}

async fn load_booking(state: &AppState, id: BookingId) -> Result<BookingDetail, ApiError> {
    match state.store.booking_detail(id).await {
        Ok(b) => Ok(b),
        Err(StoreError::NotFound) => Err(ApiError::NotFound("booking")),
        Err(e) => Err(e.into()),
    }
}

/// A booking as its two sides read it: with the directories of the courts in it.
#[derive(Serialize, ToSchema)]
pub struct BookingView {
    #[serde(flatten)]
    pub booking: BookingDetail,
    /// The contact person and the technical-support person (联系人, 技术保障人员) of the local
    /// court, the host court and any joint court: phones whole while the booking is live,
    /// masked afterwards (docs/ledger.md, "Directories").
    pub contacts: Vec<crate::app::directory::CourtDirectory>,
}

/// A booking, with its ETag for updates, and whom to call about it.
#[utoipa::path(
    get,
    path = "/api/v1/bookings/{id}",
    params(("id" = i64, Path, description = "booking id")),
    responses((status = 200, body = BookingView, headers(("ETag" = String))), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])),
    tag = "bookings"
)]
#[get("/bookings/{id}")]
pub async fn get_booking(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<BookingId>,
) -> Result<HttpResponse, ApiError> {
    let b = load_booking(&state, *id).await?;
    Scope::of(&state.store, &staff).booking_side(&b)?;
    let session = state.store.session(b.session_id).await?;
    let contacts =
        crate::app::directory::of_session(&state.store, staff.court_id, &session).await?;
    let view = BookingView {
        booking: b,
        contacts,
    };
    Ok(with_etag(StatusCode::OK, view.booking.version, &view))
}

#[derive(Serialize, ToSchema)]
pub struct Cancelled {
    pub booking: BookingDetail,
    /// The host court's next free slots that this case could take instead.
    pub alternatives: Vec<SlotView>,
}

/// Cancels a booking with a reason (`If-Match` required). A host-court cancellation answers with
/// the next free slots to offer the coordinator; both sides are notified.
#[utoipa::path(
    post,
    path = "/api/v1/bookings/{id}/cancel",
    params(("id" = i64, Path, description = "booking id"), ("If-Match" = String, Header, description = "the booking's ETag")),
    request_body = CancelRequest,
    responses(
        (status = 200, body = Cancelled),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "booking_not_live or session_started", body = ErrorBody),
        (status = 412, description = "precondition_failed: stale If-Match", body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 428, description = "precondition_required: no If-Match", body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "bookings"
)]
#[post("/bookings/{id}/cancel")]
pub async fn cancel_booking(
    state: web::Data<AppState>,
    staff: Staff,
    req: HttpRequest,
    id: web::Path<BookingId>,
    body: web::Json<CancelRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = load_booking(&state, *id).await?;
    let by_host = Scope::of(&state.store, &staff).booking_side(&b)?;
    let version = if_match(&req)?;
    let reason = require_reason(&body.reason)?;
    state
        .store
        .cancel_booking(
            b.id,
            version,
            reason,
            staff.user_id,
            by_host,
            state.clock.now(),
        )
        .await?;
    let booking = load_booking(&state, b.id).await?;
    let case = state.store.case(b.case_id).await?;
    let alternatives = state
        .store
        .next_free_slots(
            b.host_court_id,
            case.category,
            state.clock.now(),
            state.clock.now(),
            ALTERNATIVES,
        )
        .await?
        .into_iter()
        .map(SlotView::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(with_etag(
        StatusCode::OK,
        booking.version,
        &Cancelled {
            booking,
            alternatives,
        },
    ))
}

/// Moves a booking to another slot of the same host court (`If-Match` required): the old
/// booking is cancelled with the reason and the new one points back at it, in one
/// transaction, so the case keeps its history. A new join code is issued. The coordinator
/// reschedules; the host court's officer moves a booking that a schedule change flagged.
#[utoipa::path(
    post,
    path = "/api/v1/bookings/{id}/reschedule",
    params(("id" = i64, Path, description = "booking id"), ("If-Match" = String, Header, description = "the booking's ETag"), ("Idempotency-Key" = Option<String>, Header, description = "same key and body: the same answer")),
    request_body = RescheduleRequest,
    responses(
        (status = 201, body = BookingCreated),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "slot_taken, slot_held, booking_not_live, local_room_busy, …", body = ErrorBody),
        (status = 412, body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 428, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "bookings"
)]
#[post("/bookings/{id}/reschedule")]
pub async fn reschedule_booking(
    state: web::Data<AppState>,
    staff: Staff,
    req: HttpRequest,
    id: web::Path<BookingId>,
    body: web::Json<RescheduleRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = load_booking(&state, *id).await?;
    Scope::of(&state.store, &staff).booking_side(&b)?;
    let version = if_match(&req)?;
    let body = body.into_inner();
    let (state, staff, body, b) = (&**state, &staff, &body, &b);
    preconditions::once(
        state,
        &req,
        staff.user_id,
        body,
        Keeper::Work,
        |key| async move {
            let reason = require_reason(&body.reason)?;
            let booked = booking::reschedule(
                state,
                staff,
                b,
                SlotId(body.slot_id),
                reason,
                version,
                key.as_deref(),
            )
            .await?;
            Ok((StatusCode::CREATED, booked))
        },
    )
    .await
}

#[derive(Serialize, ToSchema)]
pub struct JoinCodeIssued {
    pub session_id: i64,
    pub join_code: String,
    pub join_path: String,
}

/// Issues a new join code for a booking (the old one stops working), e.g. when the notice was
/// lost, or to print the appointment notice of a booking the host court approved.
#[utoipa::path(
    post,
    path = "/api/v1/bookings/{id}/join-code",
    params(("id" = i64, Path, description = "booking id")),
    responses(
        (status = 200, body = JoinCodeIssued),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "session_ended or booking_not_live", body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "bookings"
)]
#[post("/bookings/{id}/join-code")]
pub async fn reissue_join_code(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<BookingId>,
) -> Result<HttpResponse, ApiError> {
    staff.require(&[Role::Coordinator])?;
    let booking = load_booking(&state, *id).await?;
    if booking.local_court_id != staff.court_id {
        return Err(ApiError::Forbidden("this booking belongs to another court"));
    }
    if booking.status == BookingStatus::Cancelled {
        return Err(ApiError::conflict(
            ErrorCode::BookingNotLive,
            "this booking was cancelled",
        ));
    }
    let code = JoinCode::generate();
    state
        .store
        .set_join_code(
            booking.session_id,
            &code,
            &format!("user-{}", staff.user_id),
        )
        .await?;
    Ok(HttpResponse::Ok().json(JoinCodeIssued {
        session_id: booking.session_id.get(),
        join_path: format!("/join.html#code={}", code.display()),
        join_code: code.display(),
    }))
}
