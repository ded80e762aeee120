//! Rows as the store returns them. A column with a closed set of values (a CHECK constraint in
//! the schema) reads as its type: a court's level, a user's role, a booking's and a session's
//! status, a case's class and status. Columns whose sets the schema does not close (a timeline
//! entry's kind, written by every version since the first) stay text.

use chrono::{DateTime, Utc};

use crate::domain::{
    BookingId, BookingStatus, CaseClass, CaseId, CaseStatus, CourtLevel, Role, SessionId,
    SessionStatus, SlotId, UserId,
};

/// A case's status as read (`CaseStatus`), for a query whose `cases` row is `k`: the stored
/// status (registered or accepted), unless a standing ledger entry of the case has the outcome
/// `concluded` (终结). Read from the ledger, not stored, so that an outcome corrected away
/// takes the conclusion with it. Every read of a case's status selects this.
pub const CASE_STATUS: &str = "CASE WHEN EXISTS (SELECT 1 FROM ledger_entries e \
     WHERE e.case_id = k.id AND NOT e.replaced AND e.outcome = 'concluded') \
     THEN 'concluded' ELSE k.status END AS status";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CourtRow {
    pub id: i64,
    pub name: String,
    pub level: CourtLevel,
    pub parent_id: Option<i64>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: UserId,
    pub court_id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
    pub disabled: bool,
    pub court_name: String,
    pub court_level: CourtLevel,
    pub failed_logins: i32,
    pub locked_until: Option<DateTime<Utc>>,
    /// An administrator set the password: its owner replaces it before anything else.
    pub must_change_password: bool,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RoomRow {
    pub id: i64,
    pub court_id: i64,
    pub name: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CaseRow {
    pub id: CaseId,
    pub court_id: i64,
    pub case_number: String,
    pub petitioner_name: String,
    pub petitioner_id_number: String,
    pub subject: String,
    pub status: CaseStatus,
    pub tier: i32,
    pub lead: Option<String>,
    pub deadline: Option<String>,
    pub escalation_risk: bool,
    pub petitioner_phone: String,
    pub measures: Option<String>,
    pub goal: Option<String>,
    pub received_on: Option<String>,
    pub accepted_on: Option<String>,
    pub extension_days: i32,
    pub extension_reason: Option<String>,
    pub answered_on: Option<String>,
    pub review_requested_on: Option<String>,
    pub review_decided_on: Option<String>,
    pub rereview_requested_on: Option<String>,
    pub rereview_decided_on: Option<String>,
    pub category: crate::schedule::Category,
    /// litigation (涉诉) or petition (信访).
    pub case_class: CaseClass,
    pub petitioner_count: i32,
    /// Derived: five or more petitioners (集体访).
    pub collective: bool,
    pub representative: Option<String>,
    pub original_case_number: Option<String>,
    pub original_court: Option<String>,
    pub original_case_kind: Option<String>,
    pub matter: String,
    pub intake_channel: Option<String>,
    pub opened_by: Option<String>,
    pub opened_at: Option<DateTime<Utc>>,
    /// The keyed hash of the petitioner's identity number that finds their other cases; `None`
    /// on a case written before sealing, until `seal_legacy_cases` fills it.
    pub petitioner_id_hash: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LedgerRow {
    pub id: i64,
    pub case_id: CaseId,
    pub at: DateTime<Utc>,
    pub channel: String,
    pub counted_as: String,
    pub session_id: Option<SessionId>,
    pub note: String,
    /// The contact's outcome (for a video reception, the session's).
    pub outcome: Option<String>,
    /// For a video reception: the officer's note.
    pub outcome_note: Option<String>,
    pub received_by: Option<String>,
    pub receiving_court_id: Option<i64>,
    pub receiving_court_name: Option<String>,
    pub receiving_organ: String,
    pub court_initiated: bool,
    pub corrects_id: Option<i64>,
    pub correction_reason: Option<String>,
    /// The id of a later entry that corrects this one, if any.
    pub corrected_by: Option<i64>,
    pub recorded_by: Option<String>,
    pub recorded_at: Option<DateTime<Utc>>,
    pub connected_minutes: Option<i64>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SlotRow {
    pub id: SlotId,
    pub host_room_id: i64,
    pub host_room_name: String,
    pub court_id: i64,
    pub court_name: String,
    pub court_level: CourtLevel,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// Only cases of this category may book it.
    pub theme: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BookingRow {
    pub id: BookingId,
    pub session_id: SessionId,
    pub slot_id: SlotId,
    pub case_id: CaseId,
    pub local_room_id: i64,
    pub status: BookingStatus,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub id: SessionId,
    pub status: SessionStatus,
    pub booking_id: BookingId,
    pub case_id: CaseId,
    pub case_number: String,
    pub host_court_id: i64,
    pub host_court_name: String,
    pub host_court_level: CourtLevel,
    pub host_room_name: String,
    pub local_court_id: i64,
    pub local_court_name: String,
    pub local_room_name: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
    pub outcome_note: Option<String>,
    pub joint_court_id: Option<i64>,
    pub transcript: String,
    pub transcript_decision: Option<String>,
    pub transcript_sha256: Option<String>,
    pub transcript_decided_at: Option<DateTime<Utc>>,
    pub follow_up_deadline: Option<String>,
    pub follow_up_person: Option<String>,
    pub satisfaction: Option<String>,
    pub rated_at: Option<DateTime<Utc>>,
    pub interrupted_seconds: i32,
    /// Seconds connected with media, set when the session ends (null before, and on sessions
    /// ended before this was kept).
    pub connected_seconds: Option<i64>,
    /// `cancelled`: the booking was cancelled or moved, and nobody may join.
    pub booking_status: BookingStatus,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub id: i64,
    pub session_id: SessionId,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub actor: String,
    pub data: String,
}
