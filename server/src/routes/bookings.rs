use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::views::SlotView;
use crate::auth::Staff;
use crate::domain::{JoinCode, Role};
use crate::error::{ApiError, ErrorBody};
use crate::startup::AppState;
use crate::store::{NewBooking, StoreError, now};

/// How far ahead the coordinator's slot list reaches.
const SLOT_HORIZON_DAYS: i64 = 7;

/// Open slots of the courts above the coordinator's court, for the next week.
#[utoipa::path(
    get,
    path = "/api/v1/slots",
    responses((status = 200, body = [SlotView]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])),
    tag = "bookings"
)]
#[get("/slots")]
pub async fn open_slots(
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<HttpResponse, ApiError> {
    staff.require(&[Role::Coordinator])?;
    let from = now();
    let slots = state
        .store
        .open_slots_above(
            staff.court_id,
            from,
            from + Duration::days(SLOT_HORIZON_DAYS),
        )
        .await?
        .into_iter()
        .map(SlotView::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(slots))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingRequest {
    pub slot_id: i64,
    pub case_id: i64,
    pub local_room_id: i64,
    /// A joint reception (联合接访): a second court above yours that joins as co-host.
    #[serde(default)]
    pub joint_court_id: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct BookingCreated {
    pub id: i64,
    pub session_id: i64,
    pub slot_id: i64,
    pub case_id: i64,
    pub local_room_id: i64,
    pub status: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// The petitioner's code, `1234-5678-9012`. Shown only in this answer.
    pub join_code: String,
    /// `/join.html#code=…`: the code rides after `#`, which browsers never send to a server.
    pub join_path: String,
}

fn not_found(what: &'static str) -> impl FnOnce(StoreError) -> ApiError {
    move |e| match e {
        StoreError::NotFound => ApiError::invalid(format!("{what} does not exist")),
        other => other.into(),
    }
}

/// Books a slot of a higher court for one of the court's cases and one of its video rooms.
#[utoipa::path(
    post,
    path = "/api/v1/bookings",
    request_body = BookingRequest,
    responses(
        (status = 201, body = BookingCreated),
        (status = 401, body = ErrorBody),
        (status = 403, description = "the case, room or slot is outside the caller's scope", body = ErrorBody),
        (status = 409, description = "slot_taken, local_room_busy or slot_past", body = ErrorBody),
        (status = 422, description = "invalid_input: an id names nothing", body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "bookings"
)]
#[post("/bookings")]
pub async fn create_booking(
    state: web::Data<AppState>,
    staff: Staff,
    body: web::Json<BookingRequest>,
) -> Result<HttpResponse, ApiError> {
    staff.require(&[Role::Coordinator])?;
    let store = &state.store;
    let case = store
        .case(body.case_id)
        .await
        .map_err(not_found("case_id"))?;
    if case.court_id != staff.court_id {
        return Err(ApiError::Forbidden("this case belongs to another court"));
    }
    let room = store
        .local_room(body.local_room_id)
        .await
        .map_err(not_found("local_room_id"))?;
    if room.court_id != staff.court_id {
        return Err(ApiError::Forbidden(
            "this video room belongs to another court",
        ));
    }
    let slot = store
        .slot(body.slot_id)
        .await
        .map_err(not_found("slot_id"))?;
    let above = store.court_ancestors(staff.court_id).await?;
    if !above.iter().any(|c| c.id == slot.court_id) {
        return Err(ApiError::Forbidden(
            "this slot belongs to a court that is not above yours",
        ));
    }
    if let Some(joint) = body.joint_court_id {
        if joint == slot.court_id || !above.iter().any(|c| c.id == joint) {
            return Err(ApiError::invalid(
                "joint_court_id must be another court above yours",
            ));
        }
    }
    if slot.ends_at <= now() {
        return Err(ApiError::conflict("slot_past", "this slot is already over"));
    }
    let code = JoinCode::generate();
    let booking = store
        .create_booking(&NewBooking {
            slot: &slot,
            case_id: case.id,
            local_room_id: room.id,
            created_by: staff.user_id,
            join_code_hash: &code.hash(),
            joint_court_id: body.joint_court_id,
        })
        .await?;
    tracing::info!(booking = booking.id, session = booking.session_id, "booked");
    Ok(HttpResponse::Created().json(BookingCreated {
        id: booking.id,
        session_id: booking.session_id,
        slot_id: booking.slot_id,
        case_id: booking.case_id,
        local_room_id: booking.local_room_id,
        status: booking.status,
        starts_at: booking.starts_at,
        ends_at: booking.ends_at,
        join_path: format!("/join.html#code={}", code.display()),
        join_code: code.display(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct JoinCodeIssued {
    pub session_id: i64,
    pub join_code: String,
    pub join_path: String,
}

/// Issues a new join code for a booking (the old one stops working), e.g. when the notice was lost.
#[utoipa::path(
    post,
    path = "/api/v1/bookings/{id}/join-code",
    params(("id" = i64, Path, description = "booking id")),
    responses(
        (status = 200, body = JoinCodeIssued),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "session_ended", body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "bookings"
)]
#[post("/bookings/{id}/join-code")]
pub async fn reissue_join_code(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    staff.require(&[Role::Coordinator])?;
    let booking = match state.store.booking(*id).await {
        Ok(b) => b,
        Err(StoreError::NotFound) => return Err(ApiError::NotFound("booking")),
        Err(e) => return Err(e.into()),
    };
    let room = state.store.local_room(booking.local_room_id).await?;
    if room.court_id != staff.court_id {
        return Err(ApiError::Forbidden("this booking belongs to another court"));
    }
    let code = JoinCode::generate();
    state
        .store
        .set_join_code_hash(
            booking.session_id,
            &code.hash(),
            &format!("user-{}", staff.user_id),
        )
        .await?;
    Ok(HttpResponse::Ok().json(JoinCodeIssued {
        session_id: booking.session_id,
        join_path: format!("/join.html#code={}", code.display()),
        join_code: code.display(),
    }))
}
