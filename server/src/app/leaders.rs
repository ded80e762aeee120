//! A local court's leader in a session (领导包案, issue 16, "directories and leaders"). The
//! booking court's coordinator names one of that court's leaders — a user with the supervisor
//! role — on a session that is still to be held or on; the leader joins from their own device
//! (officer.html lists the sessions they are named on), waits in the waiting room and is admitted
//! by the host like the petitioner, and the timeline shows `leader_added`, then their joining
//! and admission. A leader is not the petitioner: whether the reception was held still depends
//! on the petitioner and the host (docs/lifecycle.md).

use crate::auth::Staff;
use crate::domain::{BookingStatus, Role, SessionId, SessionStatus, UserId};
use crate::error::{ApiError, ErrorCode};
use crate::store::leaders::{CandidateRow, LeaderRow};
use crate::store::{EventRow, SessionRow, Store, StoreError};

/// Most leaders on one session.
pub const MAX_LEADERS: usize = 3;

/// Only the booking court's coordinator names its leaders.
fn the_booking_coordinator(staff: &Staff, session: &SessionRow) -> Result<(), ApiError> {
    staff.require(&[Role::Coordinator])?;
    if staff.court_id != session.local_court_id {
        return Err(ApiError::Forbidden(
            "only the booking court's coordinator names its leaders on a session",
        ));
    }
    Ok(())
}

/// Names `user_id` as a leader on `session`.
///
/// 403 for anyone but the booking court's coordinator; 409 `session_ended` once the session is
/// over (ended, no-show or cancelled), `leader_already_added` for a leader named already;
/// 422 `leader_not_eligible` for a user who is not an active supervisor of the booking court,
/// `too_many_leaders` past [`MAX_LEADERS`].
pub async fn add(
    store: &Store,
    staff: &Staff,
    session: &SessionRow,
    user_id: UserId,
) -> Result<EventRow, ApiError> {
    the_booking_coordinator(staff, session)?;
    if session.booking_status == BookingStatus::Cancelled
        || matches!(session.status, SessionStatus::Ended | SessionStatus::NoShow)
    {
        return Err(ApiError::conflict(
            ErrorCode::SessionEnded,
            "this session is over: no leader can be added to it",
        ));
    }
    let user = match store.user_by_id(user_id).await {
        Ok(u)
            if u.court_id == session.local_court_id
                && u.role == Role::Supervisor
                && !u.disabled =>
        {
            u
        }
        Ok(_) | Err(StoreError::NotFound) => {
            return Err(ApiError::Unprocessable {
                code: ErrorCode::LeaderNotEligible,
                message: "a session's leader is an active supervisor (院领导) of the booking court"
                    .into(),
            });
        }
        Err(e) => return Err(e.into()),
    };
    let named = store.leaders(session.id).await?;
    if named.iter().any(|l| l.user_id == user_id) {
        return Err(already_added());
    }
    if named.len() >= MAX_LEADERS {
        return Err(ApiError::Unprocessable {
            code: ErrorCode::TooManyLeaders,
            message: format!("a session takes at most {MAX_LEADERS} leaders"),
        });
    }
    match store
        .add_leader(
            session.id,
            user_id,
            &user.display_name,
            &format!("user-{}", staff.user_id),
        )
        .await
    {
        Ok(event) => Ok(event),
        Err(StoreError::AlreadyDone) => Err(already_added()),
        Err(e) => Err(e.into()),
    }
}

fn already_added() -> ApiError {
    ApiError::conflict(
        ErrorCode::LeaderAlreadyAdded,
        "this leader is named on the session already",
    )
}

/// Whom the booking court's coordinator may name: the court's active supervisors.
pub async fn candidates(
    store: &Store,
    staff: &Staff,
    session: &SessionRow,
) -> Result<Vec<CandidateRow>, ApiError> {
    the_booking_coordinator(staff, session)?;
    Ok(store.leader_candidates(session.local_court_id).await?)
}

/// The leaders named on a session.
pub async fn of_session(store: &Store, session_id: SessionId) -> Result<Vec<LeaderRow>, ApiError> {
    Ok(store.leaders(session_id).await?)
}

/// Whether `staff` takes part in `session` as one of its leaders (a supervisor of the booking
/// court named on it): the signalling socket admits them as `leader`, to the waiting room.
pub async fn leads(store: &Store, staff: &Staff, session: &SessionRow) -> Result<bool, ApiError> {
    Ok(staff.role == Role::Supervisor
        && staff.court_id == session.local_court_id
        && store.is_leader(session.id, staff.user_id).await?)
}
