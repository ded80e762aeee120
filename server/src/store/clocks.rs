//! The events that start and stop a case's clocks, extensions and their approval, and the
//! records that show a high court reviewed a case. Queries only: the rules are in
//! `app/clocks.rs`.

use crate::domain::{CaseId, UserId};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Store, StoreError, audit};

/// An event on a case that starts or stops a clock (docs/clocks.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseEvent {
    /// The petition accepted (受理): stops the acceptance clock, starts the handling clock.
    Accepted,
    Answered,
    ReviewRequested,
    ReviewDecided,
    RereviewRequested,
    RereviewDecided,
}

impl CaseEvent {
    pub fn parse(s: &str) -> Option<CaseEvent> {
        Some(match s {
            "accepted" => CaseEvent::Accepted,
            "answered" => CaseEvent::Answered,
            "review_requested" => CaseEvent::ReviewRequested,
            "review_decided" => CaseEvent::ReviewDecided,
            "rereview_requested" => CaseEvent::RereviewRequested,
            "rereview_decided" => CaseEvent::RereviewDecided,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CaseEvent::Accepted => "accepted",
            CaseEvent::Answered => "answered",
            CaseEvent::ReviewRequested => "review_requested",
            CaseEvent::ReviewDecided => "review_decided",
            CaseEvent::RereviewRequested => "rereview_requested",
            CaseEvent::RereviewDecided => "rereview_decided",
        }
    }

    /// The column that holds the event's day; a fixed set, never text from a request.
    fn column(self) -> &'static str {
        match self {
            CaseEvent::Accepted => "accepted_on",
            CaseEvent::Answered => "answered_on",
            CaseEvent::ReviewRequested => "review_requested_on",
            CaseEvent::ReviewDecided => "review_decided_on",
            CaseEvent::RereviewRequested => "rereview_requested_on",
            CaseEvent::RereviewDecided => "rereview_decided_on",
        }
    }

    /// The event that must have happened before this one.
    pub fn after(self) -> Option<CaseEvent> {
        match self {
            CaseEvent::Accepted => None,
            CaseEvent::Answered => None,
            CaseEvent::ReviewRequested => Some(CaseEvent::Answered),
            CaseEvent::ReviewDecided => Some(CaseEvent::ReviewRequested),
            CaseEvent::RereviewRequested => Some(CaseEvent::ReviewDecided),
            CaseEvent::RereviewDecided => Some(CaseEvent::RereviewRequested),
        }
    }
}

/// A request to extend a case's handling period, and its decision.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct ExtensionRow {
    pub id: i64,
    #[schema(value_type = i64)]
    pub case_id: CaseId,
    pub days: i32,
    pub reason: String,
    /// Null for an extension recorded before approvals existed (migration 0017).
    #[schema(value_type = Option<i64>)]
    pub requested_by: Option<UserId>,
    pub requested_at: DateTime<Utc>,
    /// `pending`, `approved` or `refused`.
    pub status: String,
    pub decided_by: Option<i64>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_note: Option<String>,
}

/// An extension request of a case, its decision, and the names of who asked and who decided.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct ExtensionRecord {
    pub id: i64,
    #[schema(value_type = i64)]
    pub case_id: CaseId,
    pub days: i32,
    pub reason: String,
    /// Null for an extension recorded before approvals existed (migration 0017).
    #[schema(value_type = Option<i64>)]
    pub requested_by: Option<UserId>,
    pub requested_by_name: Option<String>,
    pub requested_at: DateTime<Utc>,
    /// `pending`, `approved` or `refused`.
    pub status: String,
    pub decided_by: Option<i64>,
    pub decided_by_name: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    /// The person in charge's note (审批意见).
    pub decision_note: Option<String>,
}

/// A pending extension request with its case, court and requester (a person in charge's list).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PendingExtensionRow {
    pub id: i64,
    pub case_id: CaseId,
    pub days: i32,
    pub reason: String,
    pub requested_by: Option<UserId>,
    pub requested_by_name: Option<String>,
    pub requested_at: DateTime<Utc>,
    pub case_number: String,
    pub court_id: i64,
    pub court_name: String,
    pub accepted_on: Option<String>,
    pub answered_on: Option<String>,
}

/// The days that start and stop a case's clocks, with its court: all the overdue list reads
/// (no petitioner's data, nothing sealed).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CaseClockRow {
    pub id: CaseId,
    pub court_id: i64,
    pub court_name: String,
    pub case_number: String,
    pub received_on: Option<String>,
    pub accepted_on: Option<String>,
    pub extension_days: i32,
    pub answered_on: Option<String>,
    pub review_requested_on: Option<String>,
    pub review_decided_on: Option<String>,
    pub rereview_requested_on: Option<String>,
    pub rereview_decided_on: Option<String>,
}

/// The courts `down` of `$1`: the court and every court below it.
use super::tree::BRANCH as DOWN;

const EXTENSION_COLUMNS: &str = "id, case_id, days, reason, requested_by, requested_at, status, \
                                 decided_by, decided_at, decision_note";

impl Store {
    /// Records the day of a clock event on a case (first time only), audited.
    pub async fn record_case_event(
        &self,
        case_id: CaseId,
        event: CaseEvent,
        day: &str,
        decided_by_court: Option<i64>,
        actor: &str,
    ) -> Result<(), StoreError> {
        let column = event.column();
        // A case opened as registered (已登记) is accepted (已受理) once its acceptance is recorded;
        // any other status is the ledger's and stays.
        let status = if event == CaseEvent::Accepted {
            ", status = CASE WHEN status = 'registered' THEN 'accepted' ELSE status END"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE cases SET {column} = $2, \
             review_decided_by_court_id = CASE WHEN $3 THEN $4 ELSE review_decided_by_court_id END{status} \
             WHERE id = $1 AND {column} IS NULL"
        );
        in_write_tx!(self, |tx, chain| {
            let done = sqlx::query(&sql)
                .bind(case_id)
                .bind(day)
                .bind(event == CaseEvent::ReviewDecided)
                .bind(decided_by_court)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::AlreadyDone);
            }
            let entry = audit::AuditEntry::new(
                actor,
                "case.clock_event",
                format!("case:{case_id}"),
                serde_json::json!({"event": event.as_str(), "on": day, "decided_by_court": decided_by_court}),
            );
            chain.push(self.now(), &entry);
        });
        Ok(())
    }

    /// The extension requests of a case with who asked and who decided, newest first.
    pub async fn extensions(&self, case_id: CaseId) -> Result<Vec<ExtensionRecord>, StoreError> {
        let sql = "SELECT e.id, e.case_id, e.days, e.reason, e.requested_by, r.display_name AS requested_by_name, \
                   e.requested_at, e.status, e.decided_by, d.display_name AS decided_by_name, e.decided_at, \
                   e.decision_note FROM case_extensions e LEFT JOIN users r ON r.id = e.requested_by \
                   LEFT JOIN users d ON d.id = e.decided_by WHERE e.case_id = $1 ORDER BY e.id DESC";
        Ok(on_pool!(self, |p| sqlx::query_as(sql)
            .bind(case_id)
            .fetch_all(p)
            .await)?)
    }

    pub async fn extension(&self, id: i64) -> Result<ExtensionRow, StoreError> {
        let sql = format!("SELECT {EXTENSION_COLUMNS} FROM case_extensions WHERE id = $1");
        Ok(on_pool!(self, |p| sqlx::query_as(&sql)
            .bind(id)
            .fetch_one(p)
            .await)?)
    }

    /// Asks for an extension; it applies only once approved. `AlreadyDone` when the case
    /// already has a pending or approved one.
    pub async fn request_extension(
        &self,
        case_id: CaseId,
        days: i32,
        reason: &str,
        user_id: UserId,
        at: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let id = in_write_tx!(self, |tx, chain| {
            let open: Option<(i64,)> = sqlx::query_as(
                "SELECT id FROM case_extensions WHERE case_id = $1 AND status IN ('pending', 'approved')",
            )
            .bind(case_id)
            .fetch_optional(&mut *tx)
            .await?;
            if open.is_some() {
                return Err(StoreError::AlreadyDone);
            }
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO case_extensions (case_id, days, reason, requested_by, requested_at, status) \
                 VALUES ($1, $2, $3, $4, $5, 'pending') RETURNING id",
            )
            .bind(case_id)
            .bind(days)
            .bind(reason)
            .bind(user_id)
            .bind(at)
            .fetch_one(&mut *tx)
            .await?;
            let entry = audit::AuditEntry::new(
                format!("user-{user_id}"),
                "case.extension_requested",
                format!("case:{case_id}"),
                serde_json::json!({"extension": id, "days": days, "reason": reason}),
            );
            chain.push(self.now(), &entry);
            id
        });
        Ok(id)
    }

    /// Approves or refuses a pending extension; an approval sets the case's extension in the
    /// same transaction. `Stale` when it is no longer pending.
    pub async fn decide_extension(
        &self,
        id: i64,
        approve: bool,
        note: &str,
        user_id: UserId,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        in_write_tx!(self, |tx, chain| {
            let row: Option<(i64, i32, String)> = sqlx::query_as(
                "UPDATE case_extensions SET status = $2, decided_by = $3, decided_at = $4, decision_note = $5 \
                 WHERE id = $1 AND status = 'pending' RETURNING case_id, days, reason",
            )
            .bind(id)
            .bind(if approve { "approved" } else { "refused" })
            .bind(user_id)
            .bind(at)
            .bind(note)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((case_id, days, reason)) = row else {
                return Err(StoreError::Stale);
            };
            if approve {
                sqlx::query(
                    "UPDATE cases SET extension_days = $2, extension_reason = $3 WHERE id = $1",
                )
                .bind(case_id)
                .bind(days)
                .bind(&reason)
                .execute(&mut *tx)
                .await?;
            }
            let entry = audit::AuditEntry::new(
                format!("user-{user_id}"),
                if approve {
                    "case.extension_approved"
                } else {
                    "case.extension_refused"
                },
                format!("case:{case_id}"),
                serde_json::json!({"extension": id, "days": days, "note": note}),
            );
            chain.push(self.now(), &entry);
        });
        Ok(())
    }

    /// Pending extension requests of the cases of a court and every court below it, with what
    /// the person in charge needs to decide: the case, its court, who asked, and the days that
    /// start its handling clock.
    pub async fn pending_extensions_under(
        &self,
        court_id: i64,
    ) -> Result<Vec<PendingExtensionRow>, StoreError> {
        let sql = format!(
            "{DOWN}SELECT e.id, e.case_id, e.days, e.reason, e.requested_by, \
             u.display_name AS requested_by_name, e.requested_at, k.case_number, k.court_id, \
             c.name AS court_name, k.accepted_on, k.answered_on \
             FROM case_extensions e JOIN cases k ON k.id = e.case_id \
             JOIN courts c ON c.id = k.court_id LEFT JOIN users u ON u.id = e.requested_by \
             WHERE e.status = 'pending' AND k.court_id IN (SELECT id FROM down) ORDER BY e.id"
        );
        Ok(on_pool!(self, |p| sqlx::query_as(&sql)
            .bind(court_id)
            .fetch_all(p)
            .await)?)
    }

    /// The clock days of the cases of a court, and of every court below it with `subtree`.
    pub async fn case_clocks_under(
        &self,
        court_id: i64,
        subtree: bool,
    ) -> Result<Vec<CaseClockRow>, StoreError> {
        let courts = if subtree {
            "k.court_id IN (SELECT id FROM down)"
        } else {
            "k.court_id = $1"
        };
        let sql = format!(
            "{} SELECT k.id, k.court_id, c.name AS court_name, k.case_number, k.received_on, \
             k.accepted_on, k.extension_days, k.answered_on, k.review_requested_on, \
             k.review_decided_on, k.rereview_requested_on, k.rereview_decided_on \
             FROM cases k JOIN courts c ON c.id = k.court_id WHERE {courts} ORDER BY k.id",
            if subtree { DOWN } else { "" }
        );
        Ok(on_pool!(self, |p| sqlx::query_as(&sql)
            .bind(court_id)
            .fetch_all(p)
            .await)?)
    }

    /// What the records show of a high court's review of a case: a session hosted by a high
    /// court on the case whose outcome is 立案复查 (`review_filed`); a contact on the case's
    /// ledger received by a high court with that outcome (not replaced by a correction); or the
    /// case's review (复查) decision recorded as a high court's. `None` when none is there.
    pub async fn high_court_review(&self, case_id: CaseId) -> Result<Option<String>, StoreError> {
        let sql = "SELECT 'session' FROM sessions s JOIN bookings b ON b.id = s.booking_id \
                   JOIN courts c ON c.id = b.host_court_id \
                   WHERE b.case_id = $1 AND s.outcome = 'review_filed' AND c.level = 'high' \
                   UNION ALL \
                   SELECT 'ledger' FROM ledger_entries l JOIN courts c ON c.id = l.receiving_court_id \
                   WHERE l.case_id = $1 AND l.outcome = 'review_filed' AND c.level = 'high' \
                   AND NOT EXISTS (SELECT 1 FROM ledger_entries x WHERE x.corrects_id = l.id) \
                   UNION ALL \
                   SELECT 'review_decision' FROM cases k JOIN courts c ON c.id = k.review_decided_by_court_id \
                   WHERE k.id = $1 AND k.review_decided_on IS NOT NULL AND c.level = 'high'";
        let found: Option<(String,)> = on_pool!(self, |p| sqlx::query_as(sql)
            .bind(case_id)
            .fetch_optional(p)
            .await)?;
        Ok(found.map(|(how,)| how))
    }
}
