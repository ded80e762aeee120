//! The host court's own reception rooms, for its staff: which rooms the officer's calendar and
//! template editor offer. (The administration API lists rooms too, but only to administrators.)

use actix_web::{HttpResponse, get, web};

use super::views::RoomView;
use crate::auth::Staff;
use crate::domain::Role;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// The reception rooms of the caller's court (officers, supervisors and admins of a host court;
/// a court without host rooms answers an empty list).
#[utoipa::path(
    get,
    path = "/api/v1/host-rooms",
    responses((status = 200, body = [RoomView]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])),
    tag = "schedule"
)]
#[get("/host-rooms")]
pub async fn host_rooms(
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<HttpResponse, ApiError> {
    staff.require(&[Role::Officer, Role::Supervisor, Role::Admin])?;
    // `rooms_under` covers the courts below too: keep the caller's own court's host rooms.
    let rooms: Vec<RoomView> = state
        .store
        .rooms_under(staff.court_id)
        .await?
        .into_iter()
        .filter(|r| r.kind == "host" && r.court_id == staff.court_id)
        .map(|r| RoomView {
            id: r.id,
            name: r.name,
        })
        .collect();
    Ok(HttpResponse::Ok().json(rooms))
}
