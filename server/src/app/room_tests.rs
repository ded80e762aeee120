//! Which room a member of staff may run the connectivity test (联通测试) from, in one place
//! (issue 18, item 5): a local court's video room, or a host court's own reception room
//! (接谈室), so that the officer tests the room they will receive from and not only the rooms
//! that will call them. Either way only the room's own court tests it; the courts above read
//! the results (docs/connectivity.md).

use crate::auth::Staff;
use crate::error::ApiError;
use crate::store::{Store, StoreError};

/// The room under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomUnderTest {
    Local(i64),
    Host(i64),
}

/// The room a staff member names for a test: exactly one of a local room (`room_id`) and a host
/// room (`host_room_id`) of their own court. 422 `invalid_input` for neither or both, 404 for a
/// room that does not exist, 403 for another court's room.
pub async fn room_under_test(
    store: &Store,
    staff: &Staff,
    room_id: Option<i64>,
    host_room_id: Option<i64>,
) -> Result<RoomUnderTest, ApiError> {
    let not_found = |what: &'static str| {
        move |e: StoreError| match e {
            StoreError::NotFound => ApiError::NotFound(what),
            e => e.into(),
        }
    };
    let (room, court) = match (room_id, host_room_id) {
        (Some(id), None) => {
            let room = store
                .local_room(id)
                .await
                .map_err(not_found("local room"))?;
            (RoomUnderTest::Local(room.id), room.court_id)
        }
        (None, Some(id)) => {
            let court = store
                .host_room_court(id)
                .await
                .map_err(not_found("host room"))?;
            (RoomUnderTest::Host(id), court)
        }
        (None, None) => {
            return Err(ApiError::invalid(
                "room_id or host_room_id: name the room under test",
            ));
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "room_id or host_room_id: one room per test, not both",
            ));
        }
    };
    if court != staff.court_id {
        return Err(ApiError::Forbidden(
            "only the room's own court tests its rooms",
        ));
    }
    Ok(room)
}
