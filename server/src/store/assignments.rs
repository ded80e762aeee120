//! Queries for follow-up tasks (交办 → 办结报告, 督办; docs/follow-ups.md). The rules are in
//! `app::assignments`; these only write what they are given, each change with its step on the
//! task's timeline, its audit entry and its notification in one transaction.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{Store, StoreError, audit};
use crate::domain::{CaseId, SessionId};

/// A task to hand down, checked by `app::assignments`.
pub struct NewAssignment<'a> {
    pub case_id: CaseId,
    pub assigning_court_id: i64,
    pub court_id: i64,
    pub instruction: &'a str,
    pub working_days: i32,
    /// `YYYY-MM-DD`, Beijing.
    pub assigned_on: &'a str,
    pub due_on: &'a str,
    /// The contact that handed it down, or the session whose end did.
    pub ledger_entry_id: Option<i64>,
    pub session_id: Option<SessionId>,
    /// `user-<id>`.
    pub actor: &'a str,
    pub at: DateTime<Utc>,
}

/// A task with the names a reader needs.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AssignmentRow {
    pub id: i64,
    pub case_id: CaseId,
    pub case_number: String,
    pub assigning_court_id: i64,
    pub assigning_court_name: String,
    pub court_id: i64,
    pub court_name: String,
    pub instruction: String,
    pub working_days: i32,
    pub assigned_on: String,
    pub due_on: String,
    pub ledger_entry_id: Option<i64>,
    pub session_id: Option<i64>,
    pub assigned_by: String,
    pub assigned_at: DateTime<Utc>,
    pub report: Option<String>,
    pub reported_on: Option<String>,
    pub reported_by: Option<String>,
    pub reported_at: Option<DateTime<Utc>>,
}

/// One step on a task's timeline.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StepRow {
    pub id: i64,
    pub assignment_id: i64,
    pub at: DateTime<Utc>,
    /// `assigned`, `reminded`, `overdue`, `supervised`, `reported`.
    pub kind: String,
    pub actor: String,
    pub note: Option<String>,
    pub ledger_entry_id: Option<i64>,
}

/// Which tasks a list shows, on top of its branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    All,
    /// Not yet reported.
    Open,
    /// Open and due on or before `soon`, not yet overdue.
    Due,
    /// Open and past its due day.
    Overdue,
    Closed,
}

impl Filter {
    fn as_str(self) -> &'static str {
        match self {
            Filter::All => "all",
            Filter::Open => "open",
            Filter::Due => "due",
            Filter::Overdue => "overdue",
            Filter::Closed => "closed",
        }
    }
}

/// The reminders the sweep queues, each once per task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reminder {
    /// The due day is near (`follow_ups.remind_working_days`).
    DueSoon,
    /// The due day has passed without a report.
    Overdue,
}

const SELECT: &str = "SELECT a.id, a.case_id, k.case_number, a.assigning_court_id, \
     ac.name AS assigning_court_name, a.court_id, tc.name AS court_name, a.instruction, \
     a.working_days, a.assigned_on, a.due_on, a.ledger_entry_id, a.session_id, a.assigned_by, \
     a.assigned_at, a.report, a.reported_on, a.reported_by, a.reported_at \
     FROM assignments a JOIN cases k ON k.id = a.case_id \
     JOIN courts ac ON ac.id = a.assigning_court_id JOIN courts tc ON tc.id = a.court_id";

/// The court `$1` and every court below it, as `down(id, depth)`.
use super::tree::BRANCH;

/// The list's conditions: `$1` the branch's court, `$2` one court (or NULL), `$3` today, `$4`
/// the last day that counts as due soon, `$5` the filter.
const LIST_WHERE: &str = "WHERE a.court_id IN (SELECT id FROM down) \
     AND ($2 IS NULL OR a.court_id = $2) \
     AND CASE $5 \
       WHEN 'open' THEN a.report IS NULL \
       WHEN 'due' THEN (a.report IS NULL AND a.due_on >= $3 AND a.due_on <= $4) \
       WHEN 'overdue' THEN (a.report IS NULL AND a.due_on < $3) \
       WHEN 'closed' THEN a.report IS NOT NULL \
       ELSE TRUE END";

fn payload(a: &AssignmentRow) -> serde_json::Value {
    // `host_court_id` / `local_court_id` are what the fan-out reads: the assigning court's
    // officers and the assigned court's coordinators are told.
    json!({
        "assignment_id": a.id, "case_id": a.case_id, "case_number": a.case_number,
        "host_court_id": a.assigning_court_id, "local_court_id": a.court_id,
        "assigning_court_name": a.assigning_court_name, "court_name": a.court_name,
        "due_on": a.due_on,
    })
}

impl Store {
    /// Hands a task down: the task, its `assigned` step, the audit entry and the
    /// `assignment.created` notification, in one transaction. Returns its id.
    pub async fn create_assignment(&self, n: &NewAssignment<'_>) -> Result<i64, StoreError> {
        let id = in_write_tx!(self, |tx, chain| {
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO assignments (case_id, assigning_court_id, court_id, instruction, \
                 working_days, assigned_on, due_on, ledger_entry_id, session_id, assigned_by, \
                 assigned_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
            )
            .bind(n.case_id)
            .bind(n.assigning_court_id)
            .bind(n.court_id)
            .bind(n.instruction)
            .bind(n.working_days)
            .bind(n.assigned_on)
            .bind(n.due_on)
            .bind(n.ledger_entry_id)
            .bind(n.session_id)
            .bind(n.actor)
            .bind(n.at)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO assignment_steps (assignment_id, at, kind, actor, note, ledger_entry_id) \
                 VALUES ($1, $2, 'assigned', $3, $4, $5)",
            )
            .bind(id)
            .bind(n.at)
            .bind(n.actor)
            .bind(n.instruction)
            .bind(n.ledger_entry_id)
            .execute(&mut *tx)
            .await?;
            let row: AssignmentRow = sqlx::query_as(&format!("{SELECT} WHERE a.id = $1"))
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
            enqueue!(self, tx, "assignment.created", payload(&row));
            let entry = audit::AuditEntry::new(
                n.actor,
                "assignment.created",
                format!("case:{}", n.case_id),
                json!({
                    "assignment": id, "court_id": n.court_id,
                    "assigning_court_id": n.assigning_court_id,
                    "working_days": n.working_days, "due_on": n.due_on,
                    "ledger_entry": n.ledger_entry_id, "session": n.session_id,
                }),
            );
            chain.push(self.now(), &entry);
            id
        });
        Ok(id)
    }

    pub async fn assignment(&self, id: i64) -> Result<AssignmentRow, StoreError> {
        let sql = format!("{SELECT} WHERE a.id = $1");
        Ok(on_pool!(self, |p| sqlx::query_as(&sql)
            .bind(id)
            .fetch_one(p)
            .await)?)
    }

    /// The tasks handed down on a case, oldest first.
    pub async fn assignments_of_case(
        &self,
        case_id: CaseId,
    ) -> Result<Vec<AssignmentRow>, StoreError> {
        let sql = format!("{SELECT} WHERE a.case_id = $1 ORDER BY a.id");
        Ok(on_pool!(self, |p| sqlx::query_as(&sql)
            .bind(case_id)
            .fetch_all(p)
            .await)?)
    }

    /// A task's steps, oldest first.
    pub async fn assignment_steps(&self, id: i64) -> Result<Vec<StepRow>, StoreError> {
        let sql = "SELECT id, assignment_id, at, kind, actor, note, ledger_entry_id \
                   FROM assignment_steps WHERE assignment_id = $1 ORDER BY id";
        Ok(on_pool!(self, |p| sqlx::query_as(sql)
            .bind(id)
            .fetch_all(p)
            .await)?)
    }

    /// One page of the tasks assigned to `branch` or a court below it (optionally to `court`
    /// only), earliest due first, and how many there are in all. `today` and `soon` are
    /// `YYYY-MM-DD`.
    #[allow(clippy::too_many_arguments)]
    pub async fn list_assignments(
        &self,
        branch: i64,
        court: Option<i64>,
        filter: Filter,
        today: &str,
        soon: &str,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<AssignmentRow>, i64), StoreError> {
        let page =
            format!("{BRANCH}{SELECT} {LIST_WHERE} ORDER BY a.due_on, a.id LIMIT $6 OFFSET $7");
        let count = format!("{BRANCH}SELECT COUNT(*) FROM assignments a {LIST_WHERE}");
        let rows: Vec<AssignmentRow> = on_pool!(self, |p| sqlx::query_as(&page)
            .bind(branch)
            .bind(court)
            .bind(today)
            .bind(soon)
            .bind(filter.as_str())
            .bind(limit)
            .bind(offset)
            .fetch_all(p)
            .await)?;
        let (total,): (i64,) = on_pool!(self, |p| sqlx::query_as(&count)
            .bind(branch)
            .bind(court)
            .bind(today)
            .bind(soon)
            .bind(filter.as_str())
            .fetch_one(p)
            .await)?;
        Ok((rows, total))
    }

    /// Closes a task with its completion report (办结报告): the report, the attachments it names
    /// (already checked to be its case's), the `reported` step, the audit entry and the
    /// `assignment.reported` notification. `AlreadyDone` when it was closed already.
    pub async fn report_assignment(
        &self,
        id: i64,
        report: &str,
        reported_on: &str,
        attachments: &[i64],
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        in_write_tx!(self, |tx, chain| {
            let done = sqlx::query(
                "UPDATE assignments SET report = $2, reported_on = $3, reported_by = $4, \
                 reported_at = $5 WHERE id = $1 AND report IS NULL",
            )
            .bind(id)
            .bind(report)
            .bind(reported_on)
            .bind(actor)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() != 1 {
                return Err(StoreError::AlreadyDone);
            }
            for attachment in attachments {
                sqlx::query(
                    "INSERT INTO assignment_report_attachments (assignment_id, attachment_id) \
                     VALUES ($1, $2)",
                )
                .bind(id)
                .bind(attachment)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query(
                "INSERT INTO assignment_steps (assignment_id, at, kind, actor, note) \
                 VALUES ($1, $2, 'reported', $3, $4)",
            )
            .bind(id)
            .bind(at)
            .bind(actor)
            .bind(report)
            .execute(&mut *tx)
            .await?;
            let row: AssignmentRow = sqlx::query_as(&format!("{SELECT} WHERE a.id = $1"))
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
            enqueue!(self, tx, "assignment.reported", payload(&row));
            let entry = audit::AuditEntry::new(
                actor,
                "assignment.reported",
                format!("case:{}", row.case_id),
                json!({"assignment": id, "reported_on": reported_on, "attachments": attachments}),
            );
            chain.push(self.now(), &entry);
        });
        Ok(())
    }

    /// Records a 督办 on an open task: the `supervised` step pointing at the contact it wrote on
    /// the case's ledger, the audit entry and the `assignment.supervised` notification.
    /// `AlreadyDone` when the task was closed meanwhile.
    pub async fn supervise_assignment(
        &self,
        id: i64,
        note: &str,
        ledger_entry_id: i64,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        in_write_tx!(self, |tx, chain| {
            let row: AssignmentRow = sqlx::query_as(&format!("{SELECT} WHERE a.id = $1"))
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
            if row.report.is_some() {
                return Err(StoreError::AlreadyDone);
            }
            sqlx::query(
                "INSERT INTO assignment_steps (assignment_id, at, kind, actor, note, ledger_entry_id) \
                 VALUES ($1, $2, 'supervised', $3, $4, $5)",
            )
            .bind(id)
            .bind(at)
            .bind(actor)
            .bind(note)
            .bind(ledger_entry_id)
            .execute(&mut *tx)
            .await?;
            enqueue!(self, tx, "assignment.supervised", payload(&row));
            let entry = audit::AuditEntry::new(
                actor,
                "assignment.supervised",
                format!("case:{}", row.case_id),
                json!({"assignment": id, "ledger_entry": ledger_entry_id}),
            );
            chain.push(self.now(), &entry);
        });
        Ok(())
    }

    /// Queues `reminder` for the open tasks that need it and have not had it: due soon (due on
    /// `today`..=`soon`) or overdue (due before `today`). The marker column, the step and the
    /// outbox row are written in one transaction, so each task is reminded once, however many
    /// instances sweep. Returns how many.
    pub async fn remind_assignments(
        &self,
        reminder: Reminder,
        today: &str,
        soon: &str,
        at: DateTime<Utc>,
        batch: i64,
    ) -> Result<usize, StoreError> {
        let (marker, due, kind, topic) = match reminder {
            Reminder::DueSoon => (
                "reminded_at",
                "a.due_on >= $1 AND a.due_on <= $2",
                "reminded",
                "assignment.due_soon",
            ),
            Reminder::Overdue => (
                "overdue_noticed_at",
                "a.due_on < $1 AND $2 = $2",
                "overdue",
                "assignment.overdue",
            ),
        };
        let n = in_write_tx!(self, |tx| {
            let sql = format!(
                "{SELECT} WHERE a.report IS NULL AND a.{marker} IS NULL AND {due} \
                 ORDER BY a.due_on, a.id LIMIT $3"
            );
            let due: Vec<AssignmentRow> = sqlx::query_as(&sql)
                .bind(today)
                .bind(soon)
                .bind(batch)
                .fetch_all(&mut *tx)
                .await?;
            let mut n = 0;
            for a in &due {
                // Conditional: of two instances sweeping at once, one marks the task.
                let done = sqlx::query(&format!(
                    "UPDATE assignments SET {marker} = $2 WHERE id = $1 AND {marker} IS NULL"
                ))
                .bind(a.id)
                .bind(at)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    continue;
                }
                sqlx::query(
                    "INSERT INTO assignment_steps (assignment_id, at, kind, actor, note) \
                     VALUES ($1, $2, $3, 'system', $4)",
                )
                .bind(a.id)
                .bind(at)
                .bind(kind)
                .bind(format!("due {}", a.due_on))
                .execute(&mut *tx)
                .await?;
                enqueue!(self, tx, topic, payload(a));
                n += 1;
            }
            n
        });
        Ok(n)
    }

    /// The tasks assigned to `court` (and, with `subtree`, to the courts below it) that the
    /// period `from..=to` saw: handed down by its end, and open or reported on or after its
    /// start. For the monthly report.
    pub async fn assignments_of_period(
        &self,
        court: i64,
        subtree: bool,
        from: &str,
        to: &str,
    ) -> Result<Vec<AssignmentRow>, StoreError> {
        let sql = format!(
            "{BRANCH}{SELECT} WHERE a.court_id IN (SELECT id FROM down WHERE $4 OR depth = 0) \
             AND a.assigned_on <= $3 AND (a.report IS NULL OR a.reported_on >= $2) \
             ORDER BY tc.name, a.due_on, a.id"
        );
        Ok(on_pool!(self, |p| sqlx::query_as(&sql)
            .bind(court)
            .bind(from)
            .bind(to)
            .bind(subtree)
            .fetch_all(p)
            .await)?)
    }
}
