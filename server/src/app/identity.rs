//! Who was really there (issue 16): a session counts as a reception of this petitioner only if
//! someone confirmed the petitioner's identity. Two people can: the local court's staff in the
//! video room (`in_room`: the petitioner sits in front of them with the identity card), and the
//! host court's officer (`on_camera`: the card is shown to the camera, for a petitioner who
//! joined from their own device). The first confirmation stands; a held session without one is
//! shown as such and counted apart in the statistics (`docs/statistics.md`).

use crate::auth::Staff;
use crate::domain::{BookingStatus, IdentityCheck, Role, SessionStatus};
use crate::error::{ApiError, ErrorCode};
use crate::store::identity::IdentityConfirmation;
use crate::store::{EventRow, SessionRow, Store, StoreError};

/// Records who confirmed the petitioner's identity in `session`, and how.
///
/// - `in_room`: a coordinator or officer of the court whose video room the session uses, while
///   the session is on (waiting, live or interrupted): the petitioner is in their room;
/// - `on_camera`: an officer of the host court (or of a joint reception's second court), while
///   the session is live: the petitioner has been let in and can show the card;
/// - 409 `session_ended` once the session is over or a no-show, `session_not_started` before
///   anyone is in (or, on camera, before the petitioner is let in), and
///   `identity_already_confirmed` when someone confirmed it before.
pub async fn confirm(
    store: &Store,
    staff: &Staff,
    session: &SessionRow,
    how: IdentityCheck,
) -> Result<EventRow, ApiError> {
    match how {
        IdentityCheck::InRoom => {
            staff.require(&[Role::Coordinator, Role::Officer])?;
            if staff.court_id != session.local_court_id {
                return Err(ApiError::Forbidden(
                    "only the staff of the court whose video room this is confirm in the room",
                ));
            }
        }
        IdentityCheck::OnCamera => {
            staff.require(&[Role::Officer])?;
            if staff.court_id != session.host_court_id
                && session.joint_court_id != Some(staff.court_id)
            {
                return Err(ApiError::Forbidden(
                    "only the host court's officers confirm on camera",
                ));
            }
        }
    }
    if session.booking_status == BookingStatus::Cancelled
        || matches!(session.status, SessionStatus::Ended | SessionStatus::NoShow)
    {
        return Err(ApiError::conflict(
            ErrorCode::SessionEnded,
            "this session is over: its identity check can no longer be recorded",
        ));
    }
    let on = match how {
        IdentityCheck::InRoom => matches!(
            session.status,
            SessionStatus::Waiting | SessionStatus::Live | SessionStatus::Interrupted
        ),
        IdentityCheck::OnCamera => session.status == SessionStatus::Live,
    };
    if !on {
        return Err(ApiError::conflict(
            ErrorCode::SessionNotStarted,
            match how {
                IdentityCheck::InRoom => "nobody is in this session yet",
                IdentityCheck::OnCamera => {
                    "the petitioner has not been let in: the card cannot be seen on camera yet"
                }
            },
        ));
    }
    let actor = format!("user-{}", staff.user_id);
    store
        .confirm_identity(&IdentityConfirmation {
            session_id: session.id,
            how: how.as_str(),
            actor: &actor,
            actor_name: &staff.name,
        })
        .await
        .map_err(|e| match e {
            StoreError::AlreadyDone => ApiError::conflict(
                ErrorCode::IdentityAlreadyConfirmed,
                "the petitioner's identity was confirmed before; the first confirmation stands",
            ),
            other => other.into(),
        })
}
