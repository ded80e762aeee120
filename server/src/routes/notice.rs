//! What the appointment notice (预约通知书) prints: names, the time in Asia/Shanghai, the place,
//! and for the booking court's coordinator the join code the petitioner already holds, opened
//! from its sealed copy (each read audited), so that printing again never changes it. A new code
//! is a separate, deliberate step: `POST /bookings/{id}/join-code`.

use actix_web::{HttpResponse, get, web};
use chrono::Datelike;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::scope::Scope;
use crate::auth::Staff;
use crate::domain::{BookingId, BookingStatus, Role};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::notify as queries;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(booking_notice);
}

#[derive(Serialize, ToSchema)]
pub struct NoticeView {
    pub booking_id: i64,
    /// `booked`, `completed` or `cancelled`.
    pub status: String,
    pub case_number: String,
    pub petitioner_name: String,
    pub starts_at: chrono::DateTime<chrono::Utc>,
    pub ends_at: chrono::DateTime<chrono::Utc>,
    /// Asia/Shanghai calendar day, `YYYY-MM-DD`.
    pub local_date: String,
    /// ISO weekday of that day, 1 (Monday) to 7.
    pub local_weekday: u32,
    /// Asia/Shanghai start and end, `HH:MM`.
    pub local_start: String,
    pub local_end: String,
    /// The court receiving the petitioner by video, and its room.
    pub host_court_name: String,
    pub host_room_name: String,
    /// Where the petitioner goes: the local court and its video room.
    pub local_court_name: String,
    pub local_room_name: String,
    /// The current join code, `1234-5678-9012`: only for the coordinator of the booking's local
    /// court, only while the booking is live, and only if the code was kept sealed (codes
    /// issued before that was done have to be issued again to be printed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_code: Option<String>,
    /// `/join.html#code=…`, for the QR code; with `join_code`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_path: Option<String>,
    /// The local court's directory (联系人, 技术保障人员), printed on the notice so that the
    /// petitioner knows whom to call (docs/ledger.md, "Directories"): phones whole while the
    /// booking is live, masked for the host court once it is not.
    pub local_contacts: crate::app::directory::CourtDirectory,
}

/// The names and Asia/Shanghai times the appointment notice prints: for the local court's
/// coordinator (and the host court's officers and admin).
#[utoipa::path(
    get,
    path = "/api/v1/bookings/{id}/notice",
    params(("id" = i64, Path, description = "booking id")),
    responses((status = 200, body = NoticeView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])),
    tag = "bookings"
)]
#[get("/bookings/{id}/notice")]
pub async fn booking_notice(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<BookingId>,
) -> Result<HttpResponse, ApiError> {
    let b = match queries::calendar_booking(&state.store, *id).await {
        Ok(b) => b,
        Err(StoreError::NotFound) => return Err(ApiError::NotFound("booking")),
        Err(e) => return Err(e.into()),
    };
    Scope::of(&state.store, &staff).booking_side_between(b.local_court_id, b.host_court_id)?;
    let code = if staff.role == Role::Coordinator && b.status == BookingStatus::Booked {
        state
            .store
            .read_join_code_audited(b.id, &format!("user-{}", staff.user_id))
            .await?
    } else {
        None
    };
    let local_contacts = crate::app::directory::of_booking(
        &state.store,
        staff.court_id,
        &[b.local_court_id],
        b.status == BookingStatus::Booked,
    )
    .await?
    .into_iter()
    .next()
    .ok_or(ApiError::NotFound("court"))?;
    let local = crate::app::clock::local;
    let (start, end) = (local(b.starts_at), local(b.ends_at));
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "private, no-store"))
        .json(NoticeView {
            booking_id: b.id.get(),
            status: b.status.to_string(),
            case_number: b.case_number,
            petitioner_name: b.petitioner_name,
            starts_at: b.starts_at,
            ends_at: b.ends_at,
            local_date: start.format("%Y-%m-%d").to_string(),
            local_weekday: start.weekday().number_from_monday(),
            local_start: start.format("%H:%M").to_string(),
            local_end: end.format("%H:%M").to_string(),
            host_court_name: b.host_court_name,
            host_room_name: b.host_room_name,
            local_court_name: b.local_court_name,
            local_room_name: b.local_room_name,
            join_path: code
                .as_ref()
                .map(|c| format!("/join.html#code={}", c.display())),
            join_code: code.map(|c| c.display()),
            local_contacts,
        }))
}
