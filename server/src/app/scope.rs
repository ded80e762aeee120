//! Who may read or act for which court: the court tree's rules, in one place. A court's staff
//! read what their court and the courts below it booked (the SPC's everything, a coordinator its
//! own court's); an administrator manages its court and the courts below it. The tree itself is
//! one query (`Store::court_within`, over `store/tree.rs`), asked only here (`within`); the
//! architecture test keeps it so.

use crate::auth::Staff;
use crate::domain::Role;
use crate::error::ApiError;
use crate::store::booking::{BookingDetail, BookingSide};
use crate::store::records::{Reach, RecordRow, Under};
use crate::store::{CaseRow, CourtRow, SessionRow, SlotRow, Store, StoreError};

/// Whether `court` is `top` or lies below it: the one test of the court tree that every rule
/// of scope asks (a branch is a court and the courts below it; a line, a court and those above).
pub async fn within(store: &Store, court: i64, top: i64) -> Result<bool, ApiError> {
    Ok(store.court_within(court, top).await?)
}

/// Whether `upper` lies strictly above `court`.
pub async fn above(store: &Store, upper: i64, court: i64) -> Result<bool, ApiError> {
    Ok(upper != court && within(store, court, upper).await?)
}

/// Whether `court` is in `staff`'s branch: their own court or one below it.
pub async fn in_branch(store: &Store, staff: &Staff, court: i64) -> Result<bool, ApiError> {
    within(store, court, staff.court_id).await
}

/// The courts above `court`, nearest first, with their levels (for the rules that ask which
/// court above: eligibility asks for the high court of a line).
pub async fn courts_above(store: &Store, court: i64) -> Result<Vec<CourtRow>, ApiError> {
    Ok(store.court_ancestors(court).await?)
}

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
        } => within(store, court, *court_id).await?,
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
                || within(store, r.local_court_id, *court_id).await?
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
    if in_branch(store, staff, court.id).await? {
        Ok(court)
    } else {
        Err(ApiError::Forbidden(
            "that court is outside your court and the courts below it",
        ))
    }
}

/// Who may read a case: the staff of its own court and of every court above it.
const CASE_READERS: &[Role] = &[Role::Coordinator, Role::Officer, Role::Supervisor];

/// A case the caller may read: its court or a court above it. 404 if there is none, 403 if it
/// lies outside the caller's branch (a sibling court, a court below a sibling).
pub async fn readable_case(store: &Store, staff: &Staff, id: i64) -> Result<CaseRow, ApiError> {
    staff.require(CASE_READERS)?;
    let case = case(store, id).await?;
    if !in_branch(store, staff, case.court_id).await? {
        return Err(ApiError::Forbidden(
            "this case belongs to a court outside your branch",
        ));
    }
    Ok(case)
}

/// A case the caller may write: only the case's own court, and only its coordinators. The
/// courts above read it but do not keep its ledger.
pub async fn writable_case(store: &Store, staff: &Staff, id: i64) -> Result<CaseRow, ApiError> {
    staff.require(&[Role::Coordinator])?;
    let case = case(store, id).await?;
    if case.court_id != staff.court_id {
        return Err(ApiError::Forbidden(
            "this case belongs to another court: only its own court changes it",
        ));
    }
    Ok(case)
}

async fn case(store: &Store, id: i64) -> Result<CaseRow, ApiError> {
    match store.case(id).await {
        Ok(c) => Ok(c),
        Err(StoreError::NotFound) => Err(ApiError::NotFound("case")),
        Err(e) => Err(e.into()),
    }
}

/// Whose bookings the caller works with: a coordinator its local court's, an officer or admin
/// its host court's. Nobody else sees bookings (a supervisor reads the records instead).
pub fn booking_side_of(staff: &Staff) -> Result<BookingSide, ApiError> {
    match staff.role {
        Role::Coordinator => Ok(BookingSide::Local(staff.court_id)),
        Role::Officer | Role::Admin => Ok(BookingSide::Host(staff.court_id)),
        _ => Err(ApiError::Forbidden("this booking is not your court's")),
    }
}

/// Whether the caller may see and change a booking: it is on the caller's side
/// (`booking_side_of`). Returns whether the caller is on the host side.
pub fn booking_side(staff: &Staff, b: &BookingDetail) -> Result<bool, ApiError> {
    booking_side_between(staff, b.local_court_id, b.host_court_id)
}

/// `booking_side` for a booking known by its two courts.
pub fn booking_side_between(staff: &Staff, local: i64, host: i64) -> Result<bool, ApiError> {
    match booking_side_of(staff)? {
        BookingSide::Local(c) if c == local => Ok(false),
        BookingSide::Host(c) if c == host => Ok(true),
        _ => Err(ApiError::Forbidden("this booking is not your court's")),
    }
}

/// Whether the caller may see an application between `local` and `host`: the local court's
/// coordinators, and the host court's officers, supervisors (who decide under manual approval)
/// and admins. Returns whether the caller is on the host side.
pub fn application_side(staff: &Staff, local: i64, host: i64) -> Result<bool, ApiError> {
    match staff.role {
        Role::Coordinator if staff.court_id == local => Ok(false),
        Role::Officer | Role::Supervisor | Role::Admin if staff.court_id == host => Ok(true),
        _ => Err(ApiError::Forbidden("this application is not your court's")),
    }
}

/// A slot of a court above the caller's: 422 if there is none, 403 if its court is not above.
pub async fn slot_above(store: &Store, staff: &Staff, slot_id: i64) -> Result<SlotRow, ApiError> {
    let slot = match store.slot(slot_id).await {
        Ok(slot) => slot,
        Err(StoreError::NotFound) => return Err(ApiError::invalid("slot_id does not exist")),
        Err(e) => return Err(e.into()),
    };
    if !above(store, slot.court_id, staff.court_id).await? {
        return Err(ApiError::Forbidden(
            "this slot belongs to a court that is not above yours",
        ));
    }
    Ok(slot)
}

/// Whose sessions a staff member sees as theirs: officers and supervisors those their court
/// hosts or co-hosts, coordinators those their court booked.
pub fn sees_session(staff: &Staff, session: &SessionRow) -> bool {
    match staff.role {
        Role::Officer | Role::Supervisor => hosts(staff, session),
        Role::Coordinator => session.local_court_id == staff.court_id,
        Role::Admin => false,
    }
}

/// Whether the caller's court hosts `session` or co-hosts it (a joint reception).
pub fn hosts(staff: &Staff, session: &SessionRow) -> bool {
    session.host_court_id == staff.court_id || session.joint_court_id == Some(staff.court_id)
}

/// Whether `staff` may read a test of a room of `room_court`: the room's own court and the
/// courts above it.
pub async fn may_read_room_test(
    store: &Store,
    staff: &Staff,
    room_court: i64,
) -> Result<bool, ApiError> {
    in_branch(store, staff, room_court).await
}
