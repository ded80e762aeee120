//! Who may read or act for which court: the court tree's rules, in one place. A court's staff
//! read what their court and the courts below it booked (the SPC's everything, a coordinator its
//! own court's); an administrator manages its court and the courts below it. The tree itself is
//! one query (`Store::court_within`, over `store/tree.rs`), asked only here (`within`); the
//! architecture test keeps it so.
//!
//! What one member of staff may see or act for is one type, [`Scope`]: a route or use case
//! builds it from the caller (`Scope::of(store, staff)`) and asks it. What depends on the tree
//! alone (`within`, `above`, `courts_above`) and on a reader's reach (`check_court`,
//! `may_read`) stays a plain function.

use crate::auth::Staff;
use crate::domain::{CaseId, CourtLevel, Role, SessionId, SlotId};
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

/// The courts above `court`, nearest first, with their levels (for the rules that ask which
/// court above: eligibility asks for the high court of a line).
pub async fn courts_above(store: &Store, court: i64) -> Result<Vec<CourtRow>, ApiError> {
    Ok(store.court_ancestors(court).await?)
}

/// What one member of staff may see and act for: the rules of scope that ask who the caller is.
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    store: &'a Store,
    staff: &'a Staff,
}

impl<'a> Scope<'a> {
    pub fn of(store: &'a Store, staff: &'a Staff) -> Scope<'a> {
        Scope { store, staff }
    }

    /// Whether `court` is in the caller's branch: their own court or one below it.
    pub async fn in_branch(&self, court: i64) -> Result<bool, ApiError> {
        within(self.store, court, self.staff.court_id).await
    }

    /// Whose session records `staff` reads: administrators none (403), coordinators their own
    /// court's, officers and supervisors their court's and every court's below it, the SPC's all.
    pub async fn reach(&self) -> Result<Reach, ApiError> {
        let (store, staff) = (self.store, self.staff);
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
                if court.parent_id.is_none() && court.level == CourtLevel::Supreme {
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

    /// The record of `session_id` if `staff` may read it: 404 when there is none, 403 when it is
    /// outside the reader's reach. What `GET /records/sessions/{id}` and the recordings answer to.
    pub async fn readable_record(&self, session_id: SessionId) -> Result<RecordRow, ApiError> {
        let store = self.store;
        let reach = self.reach().await?;
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
        &self,
        court_id: i64,
        missing: ApiError,
    ) -> Result<CourtRow, ApiError> {
        let Some(court) = self.store.find_court(court_id).await? else {
            return Err(missing);
        };
        if self.in_branch(court.id).await? {
            Ok(court)
        } else {
            Err(ApiError::Forbidden(
                "that court is outside your court and the courts below it",
            ))
        }
    }

    /// A case the caller may read: its court or a court above it. 404 if there is none, 403 if it
    /// lies outside the caller's branch (a sibling court, a court below a sibling).
    pub async fn readable_case(&self, id: CaseId) -> Result<CaseRow, ApiError> {
        self.staff.require(CASE_READERS)?;
        let case = case(self.store, id).await?;
        if !self.in_branch(case.court_id).await? {
            return Err(ApiError::Forbidden(
                "this case belongs to a court outside your branch",
            ));
        }
        Ok(case)
    }

    /// A case the caller may write: only the case's own court, and only its coordinators. The
    /// courts above read it but do not keep its ledger.
    pub async fn writable_case(&self, id: CaseId) -> Result<CaseRow, ApiError> {
        self.staff.require(&[Role::Coordinator])?;
        let case = case(self.store, id).await?;
        if case.court_id != self.staff.court_id {
            return Err(ApiError::Forbidden(
                "this case belongs to another court: only its own court changes it",
            ));
        }
        Ok(case)
    }

    /// Whose bookings the caller works with: a coordinator its local court's, an officer or admin
    /// its host court's. Nobody else sees bookings (a supervisor reads the records instead).
    pub fn booking_side_of(&self) -> Result<BookingSide, ApiError> {
        let staff = self.staff;
        match staff.role {
            Role::Coordinator => Ok(BookingSide::Local(staff.court_id)),
            Role::Officer | Role::Admin => Ok(BookingSide::Host(staff.court_id)),
            _ => Err(ApiError::Forbidden("this booking is not your court's")),
        }
    }

    /// Whether the caller may see and change a booking: it is on the caller's side
    /// (`booking_side_of`). Returns whether the caller is on the host side.
    pub fn booking_side(&self, b: &BookingDetail) -> Result<bool, ApiError> {
        self.booking_side_between(b.local_court_id, b.host_court_id)
    }

    /// `booking_side` for a booking known by its two courts.
    pub fn booking_side_between(&self, local: i64, host: i64) -> Result<bool, ApiError> {
        match self.booking_side_of()? {
            BookingSide::Local(c) if c == local => Ok(false),
            BookingSide::Host(c) if c == host => Ok(true),
            _ => Err(ApiError::Forbidden("this booking is not your court's")),
        }
    }

    /// Whether the caller may see an application between `local` and `host`: the local court's
    /// coordinators, and the host court's officers, supervisors (who decide under manual approval)
    /// and admins. Returns whether the caller is on the host side.
    pub fn application_side(&self, local: i64, host: i64) -> Result<bool, ApiError> {
        let staff = self.staff;
        match staff.role {
            Role::Coordinator if staff.court_id == local => Ok(false),
            Role::Officer | Role::Supervisor | Role::Admin if staff.court_id == host => Ok(true),
            _ => Err(ApiError::Forbidden("this application is not your court's")),
        }
    }

    /// A slot of a court above the caller's: 422 if there is none, 403 if its court is not above.
    pub async fn slot_above(&self, slot_id: SlotId) -> Result<SlotRow, ApiError> {
        let (store, staff) = (self.store, self.staff);
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
    pub fn sees_session(&self, session: &SessionRow) -> bool {
        let staff = self.staff;
        match staff.role {
            Role::Officer | Role::Supervisor => self.hosts(session),
            Role::Coordinator => session.local_court_id == staff.court_id,
            Role::Admin => false,
        }
    }

    /// Whether the caller's court hosts `session` or co-hosts it (a joint reception).
    pub fn hosts(&self, session: &SessionRow) -> bool {
        let court = self.staff.court_id;
        session.host_court_id == court || session.joint_court_id == Some(court)
    }

    /// Whether `staff` may read a test of a room of `room_court`: the room's own court and the
    /// courts above it.
    pub async fn may_read_room_test(&self, room_court: i64) -> Result<bool, ApiError> {
        self.in_branch(room_court).await
    }
}

/// Who may read a case: the staff of its own court and of every court above it.
const CASE_READERS: &[Role] = &[Role::Coordinator, Role::Officer, Role::Supervisor];

async fn case(store: &Store, id: CaseId) -> Result<CaseRow, ApiError> {
    match store.case(id).await {
        Ok(c) => Ok(c),
        Err(StoreError::NotFound) => Err(ApiError::NotFound("case")),
        Err(e) => Err(e.into()),
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
