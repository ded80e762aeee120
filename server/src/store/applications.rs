//! Applications (申请): a local court asks a host court for a session for one case; the host
//! court approves it into a slot (see `booking.rs`, which approves and books in one
//! transaction), proposes another slot, asks for more material, or rejects it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Store, StoreError, audit};
use crate::domain::{BookingId, CaseId, SlotId, UserId};
pub use courtlink_parsers::bodies::{EligibilityFacts, TimeRange};
use courtlink_parsers::domain::ApplicationStatus;
use courtlink_parsers::error::ErrorCode;

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct ApplicationRow {
    pub id: i64,
    #[schema(value_type = i64)]
    pub case_id: CaseId,
    pub case_number: String,
    pub local_court_id: i64,
    pub local_court_name: String,
    pub host_court_id: i64,
    pub host_court_name: String,
    pub local_room_id: i64,
    #[schema(value_type = Option<i64>)]
    pub local_officer_id: Option<UserId>,
    pub joint_court_id: Option<i64>,
    /// JSON list of `{from, to}`.
    #[schema(value_type = Vec<TimeRange>)]
    #[serde(serialize_with = "raw_json")]
    pub preferred: String,
    pub reason: String,
    #[schema(value_type = EligibilityFacts)]
    #[serde(serialize_with = "raw_json")]
    pub facts: String,
    /// pending, proposed, more_info, approved, rejected, withdrawn.
    pub status: String,
    #[schema(value_type = Option<i64>)]
    pub proposed_slot_id: Option<SlotId>,
    /// The proposed slot in words a coordinator reads (the room of the host court, the time),
    /// so that the proposal shows more than an id wherever the slot's week is not on screen.
    pub proposed_starts_at: Option<DateTime<Utc>>,
    pub proposed_ends_at: Option<DateTime<Utc>>,
    pub proposed_room_name: Option<String>,
    pub decision_note: Option<String>,
    pub booking_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

fn raw_json<S: serde::Serializer>(text: &str, s: S) -> Result<S::Ok, S::Error> {
    let value: serde_json::Value = serde_json::from_str(text).unwrap_or(serde_json::Value::Null);
    value.serialize(s)
}

pub struct NewApplication<'a> {
    pub case_id: CaseId,
    pub local_court_id: i64,
    pub host_court_id: i64,
    pub local_room_id: i64,
    pub local_officer_id: Option<UserId>,
    pub joint_court_id: Option<i64>,
    pub preferred: &'a [TimeRange],
    pub reason: &'a str,
    pub facts: &'a EligibilityFacts,
    pub created_by: UserId,
    pub at: DateTime<Utc>,
}

/// A host court's decision short of approval, or the coordinator's own change.
pub enum Decision<'a> {
    Propose {
        slot_id: SlotId,
        note: &'a str,
    },
    MoreInfo {
        note: &'a str,
    },
    Reject {
        reason: &'a str,
    },
    Withdraw,
    /// The coordinator answers a request for more material: back to pending.
    Amend {
        reason: &'a str,
        facts: &'a EligibilityFacts,
        preferred: &'a [TimeRange],
    },
}

const SELECT: &str = "SELECT a.id, a.case_id, c.case_number, a.local_court_id, lc.name AS local_court_name, \
    a.host_court_id, hc.name AS host_court_name, a.local_room_id, a.local_officer_id, a.joint_court_id, \
    a.preferred, a.reason, a.facts, a.status, a.proposed_slot_id, \
    ps.starts_at AS proposed_starts_at, ps.ends_at AS proposed_ends_at, pr.name AS proposed_room_name, \
    a.decision_note, a.booking_id, a.created_at, a.updated_at, a.version \
    FROM applications a JOIN cases c ON c.id = a.case_id JOIN courts lc ON lc.id = a.local_court_id \
    JOIN courts hc ON hc.id = a.host_court_id \
    LEFT JOIN slots ps ON ps.id = a.proposed_slot_id LEFT JOIN host_rooms pr ON pr.id = ps.host_room_id";

impl Store {
    pub async fn insert_application(&self, new: &NewApplication<'_>) -> Result<i64, StoreError> {
        let preferred = serde_json::to_string(new.preferred).unwrap_or_else(|_| "[]".into());
        let facts = serde_json::to_string(new.facts).unwrap_or_else(|_| "{}".into());
        let id = in_write_tx!(self, |tx, chain| {
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO applications (case_id, local_court_id, host_court_id, local_room_id, \
                 local_officer_id, joint_court_id, preferred, reason, facts, status, created_by, \
                 created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10, $11, $11) RETURNING id",
            )
            .bind(new.case_id)
            .bind(new.local_court_id)
            .bind(new.host_court_id)
            .bind(new.local_room_id)
            .bind(new.local_officer_id)
            .bind(new.joint_court_id)
            .bind(&preferred)
            .bind(new.reason)
            .bind(&facts)
            .bind(new.created_by)
            .bind(new.at)
            .fetch_one(&mut *tx)
            .await?;
            let entry = audit::AuditEntry::new(
                format!("user-{}", new.created_by),
                "application.create",
                format!("application:{id}"),
                serde_json::json!({ "case_id": new.case_id, "host_court_id": new.host_court_id }),
            );
            chain.push(self.now(), &entry);
            enqueue!(
                self,
                tx,
                "application.created",
                serde_json::json!({
                    "application_id": id, "host_court_id": new.host_court_id,
                    "local_court_id": new.local_court_id,
                })
            );
            id
        });
        Ok(id)
    }

    pub async fn application(&self, id: i64) -> Result<ApplicationRow, StoreError> {
        let sql = format!("{SELECT} WHERE a.id = $1");
        Ok(on_pool!(self, |p| sqlx::query_as(&sql)
            .bind(id)
            .fetch_one(p)
            .await)?)
    }

    /// Applications made by a local court, or addressed to a host court, newest first.
    pub async fn applications(
        &self,
        local_court_id: Option<i64>,
        host_court_id: Option<i64>,
        status: Option<ApplicationStatus>,
    ) -> Result<Vec<ApplicationRow>, StoreError> {
        let sql = format!(
            "{SELECT} WHERE ($1 IS NULL OR a.local_court_id = $1) AND ($2 IS NULL OR a.host_court_id = $2) \
             AND ($3 IS NULL OR a.status = $3) ORDER BY a.created_at DESC, a.id DESC LIMIT 500"
        );
        Ok(on_pool!(self, |p| sqlx::query_as(&sql)
            .bind(local_court_id)
            .bind(host_court_id)
            .bind(status.map(ApplicationStatus::as_str))
            .fetch_all(p)
            .await)?)
    }

    /// Open applications (and live future bookings) of a case: a second one is refused.
    pub async fn case_has_open_application(&self, case_id: CaseId) -> Result<bool, StoreError> {
        let (n,): (i64,) = on_pool!(self, |p| sqlx::query_as(
            "SELECT COUNT(*) FROM applications WHERE case_id = $1 \
             AND status IN ('pending', 'proposed', 'more_info')"
        )
        .bind(case_id)
        .fetch_one(p)
        .await)?;
        Ok(n > 0)
    }

    pub async fn case_has_live_booking_with(
        &self,
        case_id: CaseId,
        host_court_id: i64,
        at: DateTime<Utc>,
        except: Option<BookingId>,
    ) -> Result<bool, StoreError> {
        let (n,): (i64,) = on_pool!(self, |p| sqlx::query_as(
            "SELECT COUNT(*) FROM bookings WHERE case_id = $1 AND host_court_id = $2 \
             AND status = 'booked' AND ends_at > $3 AND id <> COALESCE($4, 0)"
        )
        .bind(case_id)
        .bind(host_court_id)
        .bind(at)
        .bind(except)
        .fetch_one(p)
        .await)?;
        Ok(n > 0)
    }

    /// Applies a decision if the application is still at `expected_version` and in a state the
    /// decision applies to.
    pub async fn decide_application(
        &self,
        id: i64,
        expected_version: i32,
        decision: &Decision<'_>,
        user_id: UserId,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let current = self.application(id).await?;
        use ApplicationStatus::{MoreInfo, Pending, Proposed, Rejected, Withdrawn};
        // Which decision applies from which status, and where it leaves the application.
        let (status, from, note, slot, topic): (
            ApplicationStatus,
            &[ApplicationStatus],
            Option<&str>,
            Option<SlotId>,
            &str,
        ) = match decision {
            Decision::Propose { slot_id, note } => (
                Proposed,
                ApplicationStatus::OPEN,
                Some(note),
                Some(*slot_id),
                "application.proposed",
            ),
            Decision::MoreInfo { note } => (
                MoreInfo,
                &[Pending, Proposed],
                Some(note),
                None,
                "application.more_info",
            ),
            Decision::Reject { reason } => (
                Rejected,
                ApplicationStatus::OPEN,
                Some(reason),
                None,
                "application.rejected",
            ),
            Decision::Withdraw => (
                Withdrawn,
                ApplicationStatus::OPEN,
                None,
                None,
                "application.withdrawn",
            ),
            Decision::Amend { .. } => (Pending, &[MoreInfo], None, None, "application.amended"),
        };
        if !current
            .status
            .parse::<ApplicationStatus>()
            .is_ok_and(|s| from.contains(&s))
        {
            return Err(StoreError::Conflict {
                code: ErrorCode::ApplicationNotOpen,
                message: format!(
                    "this application is {} and cannot be changed so",
                    current.status
                ),
            });
        }
        let (reason, facts, preferred) = match decision {
            Decision::Amend {
                reason,
                facts,
                preferred,
            } => (
                reason.to_string(),
                serde_json::to_string(facts).unwrap_or_default(),
                serde_json::to_string(preferred).unwrap_or_default(),
            ),
            _ => (
                current.reason.clone(),
                current.facts.clone(),
                current.preferred.clone(),
            ),
        };
        in_write_tx!(self, |tx, chain| {
            let done = sqlx::query(
                "UPDATE applications SET status = $2, decision_note = COALESCE($3, decision_note), \
                 proposed_slot_id = $4, reason = $5, facts = $6, preferred = $7, updated_at = $8, \
                 version = version + 1 WHERE id = $1 AND version = $9 AND status = $10",
            )
            .bind(id)
            .bind(status.as_str())
            .bind(note)
            .bind(slot)
            .bind(&reason)
            .bind(&facts)
            .bind(&preferred)
            .bind(at)
            .bind(expected_version)
            .bind(&current.status)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Stale);
            }
            let entry = audit::AuditEntry::new(
                format!("user-{user_id}"),
                "application.decide",
                format!("application:{id}"),
                serde_json::json!({ "status": status.as_str(), "note": note, "slot_id": slot }),
            );
            chain.push(self.now(), &entry);
            enqueue!(
                self,
                tx,
                topic,
                serde_json::json!({
                    "application_id": id, "host_court_id": current.host_court_id,
                    "local_court_id": current.local_court_id, "note": note, "slot_id": slot,
                })
            );
        });
        Ok(())
    }
}
