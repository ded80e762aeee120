//! Who may read or act for which court: the court tree's rules, in one place. A court's staff
//! read what their court and the courts below it booked (the SPC's everything, a coordinator its
//! own court's); an administrator manages its court and the courts below it. The tree itself is
//! one query (`Store::court_within`, over `store/tree.rs`).

use crate::auth::Staff;
use crate::domain::Role;
use crate::error::ApiError;
use crate::store::records::{Reach, RecordRow, Under};
use crate::store::{CourtRow, Store};

/// Whose session records `staff` reads: administrators none (403), coordinators their own
/// court's, officers and supervisors their court's and every court's below it, the SPC's all.
pub async fn reach_of(store: &Store, staff: &Staff) -> Result<Reach, ApiError> {
    match staff.role {
        Role::Admin => Err(ApiError::Forbidden(
            "administrators do not read session records",
        )),
        Role::Coordinator => Ok(Reach::Court {
            court_id: staff.court_id,
            subtree: false,
        }),
        Role::Officer | Role::Supervisor => {
            let court = store.court(staff.court_id).await?;
            if court.parent_id.is_none() && court.level == "supreme" {
                Ok(Reach::All)
            } else {
                Ok(Reach::Court {
                    court_id: staff.court_id,
                    subtree: true,
                })
            }
        }
    }
}

/// Checks that `court` exists (422) and lies within `reach` (403); returns the sessions under it
/// that the reader may read.
pub async fn check_court(store: &Store, reach: &Reach, court: i64) -> Result<Under, ApiError> {
    let Some(row) = store.find_court(court).await? else {
        return Err(ApiError::invalid(format!("court: no court has id {court}")));
    };
    let within = match reach {
        Reach::All => true,
        Reach::Court {
            court_id,
            subtree: false,
        } => court == *court_id,
        Reach::Court {
            court_id,
            subtree: true,
        } => store.court_within(court, *court_id).await?,
    };
    let subtree = !matches!(reach, Reach::Court { subtree: false, .. });
    if within {
        Ok(Under::of(&row, subtree))
    } else {
        Err(ApiError::Forbidden(
            "that court is outside your court's scope",
        ))
    }
}

/// Whether a reader with `reach` may read the record `r` (and its recordings): the booking court
/// within the reach, or, for a court's officers and supervisors, the session hosted or co-hosted
/// by their court.
pub async fn may_read(store: &Store, reach: &Reach, r: &RecordRow) -> Result<bool, ApiError> {
    Ok(match reach {
        Reach::All => true,
        Reach::Court {
            court_id,
            subtree: false,
        } => r.local_court_id == *court_id,
        Reach::Court {
            court_id,
            subtree: true,
        } => {
            r.host_court_id == *court_id
                || r.joint_court_id == Some(*court_id)
                || store.court_within(r.local_court_id, *court_id).await?
        }
    })
}

/// The record of `session_id` if `staff` may read it: 404 when there is none, 403 when it is
/// outside the reader's reach. What `GET /records/sessions/{id}` and the recordings answer to.
pub async fn readable_record(
    store: &Store,
    staff: &Staff,
    session_id: i64,
) -> Result<RecordRow, ApiError> {
    let reach = reach_of(store, staff).await?;
    let record = store
        .record(session_id)
        .await?
        .ok_or(ApiError::NotFound("session"))?;
    if may_read(store, &reach, &record).await? {
        Ok(record)
    } else {
        Err(ApiError::Forbidden(
            "this session is outside your court's scope",
        ))
    }
}

/// A court an administrator manages: its own or one below it (403 otherwise). A court that does
/// not exist is `missing` (a 404 for a path, a 422 for a field of the body).
pub async fn managed_court(
    store: &Store,
    staff: &Staff,
    court_id: i64,
    missing: ApiError,
) -> Result<CourtRow, ApiError> {
    let Some(court) = store.find_court(court_id).await? else {
        return Err(missing);
    };
    if store.court_within(court.id, staff.court_id).await? {
        Ok(court)
    } else {
        Err(ApiError::Forbidden(
            "that court is outside your court and the courts below it",
        ))
    }
}
