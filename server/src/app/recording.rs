//! The rules of recording a reception (issue 20, docs/recording.md), in one place:
//!
//! - **Who sends to the recorder**: a participant of the session, by the same rule as the
//!   signalling upgrade ([`session::staff_participant`]; the petitioner with a join token for
//!   this session).
//! - **When**: from the moment the host admits the petitioner (the session has started) until
//!   the session ends; before, or after, 409 `not_recording`.
//! - **The state everyone is told** ([`state_of`]): `on` while the session runs, `interrupted`
//!   while the recorder has lost some participant's stream (an open gap), `off` before the
//!   petitioner was admitted, after the end, and when recording is disabled.
//! - **Retention**: a file is kept `recording.retention_days` after its part closed.
//!
//! Who may play a recording is who may read the session's record (`routes::records`).

use chrono::{DateTime, Duration, Utc};

use crate::app::session;
use crate::auth::Caller;
use crate::domain::{BookingStatus, SessionStatus};
use crate::error::{ApiError, ErrorCode};
use crate::signalling::protocol::Participant;
use crate::store::{SessionRow, Store, StoreError};

/// What the signalling's `recording` message says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordingState {
    On,
    Interrupted,
    Off,
}

impl RecordingState {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordingState::On => "on",
            RecordingState::Interrupted => "interrupted",
            RecordingState::Off => "off",
        }
    }
}

/// Whether the session is being recorded: it has started (the petitioner was admitted) and
/// not ended.
pub fn runs(session: &SessionRow) -> bool {
    session.started_at.is_some()
        && session.status != SessionStatus::Ended
        && session.booking_status != BookingStatus::Cancelled
}

/// The recording state of `session` now (read from SQL, so every instance says the same).
pub async fn state_of(
    store: &Store,
    enabled: bool,
    session: &SessionRow,
) -> Result<RecordingState, StoreError> {
    if !enabled || !runs(session) {
        return Ok(RecordingState::Off);
    }
    Ok(if store.has_open_gap(session.id).await? {
        RecordingState::Interrupted
    } else {
        RecordingState::On
    })
}

/// Who `caller` sends to the recorder as, if it may now: 403 for someone who takes no part in
/// the session, 409 `not_recording` before the petitioner was admitted or after the end.
pub async fn sender(
    store: &Store,
    caller: Caller,
    session: &SessionRow,
) -> Result<Participant, ApiError> {
    let participant = match caller {
        Caller::Staff(staff) => session::staff_participant(store, staff, session).await?,
        Caller::Petitioner(p) if p.session_id == session.id => session::petitioner(),
        Caller::Petitioner(_) => {
            return Err(ApiError::Forbidden("this join code is for another session"));
        }
    };
    if session.status == SessionStatus::Ended || session.booking_status == BookingStatus::Cancelled
    {
        return Err(ApiError::conflict(
            ErrorCode::NotRecording,
            "this session has ended: it is no longer recorded",
        ));
    }
    if !runs(session) {
        return Err(ApiError::conflict(
            ErrorCode::NotRecording,
            "recording starts when the host admits the petitioner",
        ));
    }
    Ok(participant)
}

/// Parts that closed before this instant have outlived their retention.
pub fn purge_before(now: DateTime<Utc>, retention_days: u32) -> DateTime<Utc> {
    now - Duration::days(i64::from(retention_days))
}
