//! Queries for the petition ledger (台账): opening a case, logging a contact, changing a case's
//! class, and finding the same matter again. The rules are in `app::ledger`; these only write
//! what they are given, each change with its audit entry in one transaction.

use chrono::{DateTime, Utc};

use super::{Store, StoreError, audit, now};
use crate::domain::{CaseClass, Channel, Outcome, ReceivingOrgan};

/// A case to open, checked by `app::ledger::open_case`.
pub struct OpenCase<'a> {
    pub court_id: i64,
    pub case_number: &'a str,
    pub petitioner_name: &'a str,
    /// Plain; sealed here, and kept as a keyed hash for matching.
    pub petitioner_id_number: &'a str,
    pub petitioner_count: i32,
    pub collective: bool,
    pub representative: Option<&'a str>,
    pub original_case_number: Option<&'a str>,
    pub original_court: Option<&'a str>,
    pub original_case_kind: Option<&'a str>,
    pub matter: &'a str,
    pub subject: &'a str,
    pub intake_channel: Channel,
    pub case_class: CaseClass,
    pub received_at: DateTime<Utc>,
    /// `user-<id>`.
    pub actor: &'a str,
    /// The person who received the petitioner, for the intake contact.
    pub actor_name: &'a str,
}

/// A contact to log, checked by `app::ledger::log_contact`.
pub struct NewContact<'a> {
    pub case_id: i64,
    pub at: DateTime<Utc>,
    pub channel: Channel,
    pub received_by: &'a str,
    pub receiving_organ: ReceivingOrgan,
    pub receiving_court_id: Option<i64>,
    pub note: &'a str,
    pub outcome: Option<Outcome>,
    pub court_initiated: bool,
    pub corrects_id: Option<i64>,
    pub correction_reason: Option<&'a str>,
    pub actor: &'a str,
}

/// An existing case that may be the same matter: never with the identity number.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CaseMatchRow {
    pub id: i64,
    pub case_number: String,
    pub court_id: i64,
    pub court_name: String,
    pub status: String,
    pub case_class: String,
    /// `petitioner` (same keyed hash) or `original_case` (same 原审案号).
    pub matched_on: String,
}

/// A change of class, as the case's timeline shows it (read back from the audit chain).
#[derive(Debug, Clone)]
pub struct ClassChangeRow {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub from: String,
    pub to: String,
    pub reason: String,
}

fn number_taken(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        let message = db.message();
        if db.constraint() == Some("cases_court_id_case_number_key")
            || message.contains("cases.court_id, cases.case_number")
        {
            return StoreError::Conflict {
                code: "case_number_taken",
                message: "this court already has a case with that number".into(),
            };
        }
    }
    e.into()
}

impl Store {
    /// Cases anywhere with the same petitioner (keyed hash of the identity number) or the same
    /// original case number, most recent first.
    pub async fn matching_cases(
        &self,
        id_hash: &str,
        original_case_number: Option<&str>,
    ) -> Result<Vec<CaseMatchRow>, StoreError> {
        let sql = "SELECT k.id, k.case_number, k.court_id, c.name AS court_name, k.status, k.case_class, \
                   CASE WHEN k.petitioner_id_hash = $1 THEN 'petitioner' ELSE 'original_case' END AS matched_on \
                   FROM cases k JOIN courts c ON c.id = k.court_id \
                   WHERE k.petitioner_id_hash = $1 OR ($2 IS NOT NULL AND k.original_case_number = $2) \
                   ORDER BY k.id DESC LIMIT 20";
        Ok(on_pool!(self, |p| sqlx::query_as(sql)
            .bind(id_hash)
            .bind(original_case_number)
            .fetch_all(p)
            .await)?)
    }

    /// Opens a case and logs the contact that brought it in, with the audit entry, in one
    /// transaction. Returns the case id.
    pub async fn open_case(&self, c: &OpenCase<'_>) -> Result<i64, StoreError> {
        let sealer = crate::crypto::sealer().map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let id_sealed = sealer.seal(c.petitioner_id_number);
        let id_hash = sealer.lookup(c.petitioner_id_number);
        let at = now();
        let received_on = c
            .received_at
            .with_timezone(&crate::app::clock::beijing())
            .date_naive()
            .to_string();
        let id = in_write_tx!(self, |tx, lock| {
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO cases (court_id, case_number, petitioner_name, petitioner_id_number, \
                 petitioner_id_hash, subject, status, tier, escalation_risk, created_at, petitioner_phone, \
                 received_on, case_class, petitioner_count, collective, representative, \
                 original_case_number, original_court, original_case_kind, matter, intake_channel, \
                 opened_by, opened_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'registered', 1, FALSE, $7, '', $8, $9, $10, $11, $12, \
                 $13, $14, $15, $16, $17, $18, $7) RETURNING id",
            )
            .bind(c.court_id)
            .bind(c.case_number)
            .bind(c.petitioner_name)
            .bind(&id_sealed)
            .bind(&id_hash)
            .bind(c.subject)
            .bind(at)
            .bind(&received_on)
            .bind(c.case_class.as_str())
            .bind(c.petitioner_count)
            .bind(c.collective)
            .bind(c.representative)
            .bind(c.original_case_number)
            .bind(c.original_court)
            .bind(c.original_case_kind)
            .bind(c.matter)
            .bind(c.intake_channel.as_str())
            .bind(c.actor)
            .fetch_one(&mut *tx)
            .await
            .map_err(number_taken)?;
            sqlx::query(
                "INSERT INTO ledger_entries (case_id, at, channel, counted_as, note, received_by, \
                 receiving_court_id, receiving_organ, court_initiated, recorded_by, recorded_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'court', FALSE, $8, $9)",
            )
            .bind(id)
            .bind(c.received_at)
            .bind(c.intake_channel.as_str())
            .bind(c.intake_channel.counted_as().as_str())
            .bind(c.subject)
            .bind(c.actor_name)
            .bind(c.court_id)
            .bind(c.actor)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            let entry = audit::AuditEntry::new(
                c.actor,
                "case.opened",
                format!("case:{id}"),
                serde_json::json!({
                    "court_id": c.court_id,
                    "case_number": c.case_number,
                    "class": c.case_class.as_str(),
                    "petitioner_count": c.petitioner_count,
                    "channel": c.intake_channel.as_str(),
                }),
            );
            append_audit!(tx, lock, &entry);
            id
        });
        Ok(id)
    }

    /// The case an entry belongs to, if there is such an entry.
    pub async fn ledger_entry_case(&self, entry_id: i64) -> Result<Option<i64>, StoreError> {
        let row: Option<(i64,)> = on_pool!(self, |p| sqlx::query_as(
            "SELECT case_id FROM ledger_entries WHERE id = $1"
        )
        .bind(entry_id)
        .fetch_optional(p)
        .await)?;
        Ok(row.map(|(c,)| c))
    }

    /// Appends a contact (or a correction of one) to a case's ledger, audited. Returns its id.
    pub async fn log_contact(&self, c: &NewContact<'_>) -> Result<i64, StoreError> {
        let at = now();
        let id = in_write_tx!(self, |tx, lock| {
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO ledger_entries (case_id, at, channel, counted_as, note, received_by, \
                 receiving_court_id, receiving_organ, court_initiated, outcome, corrects_id, \
                 correction_reason, recorded_by, recorded_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
            )
            .bind(c.case_id)
            .bind(c.at)
            .bind(c.channel.as_str())
            .bind(c.channel.counted_as().as_str())
            .bind(c.note)
            .bind(c.received_by)
            .bind(c.receiving_court_id)
            .bind(c.receiving_organ.as_str())
            .bind(c.court_initiated)
            .bind(c.outcome.map(Outcome::as_str))
            .bind(c.corrects_id)
            .bind(c.correction_reason)
            .bind(c.actor)
            .bind(at)
            .fetch_one(&mut *tx)
            .await?;
            let entry = audit::AuditEntry::new(
                c.actor,
                if c.corrects_id.is_some() {
                    "case.contact_corrected"
                } else {
                    "case.contact_logged"
                },
                format!("case:{}", c.case_id),
                serde_json::json!({
                    "entry": id,
                    "channel": c.channel.as_str(),
                    "corrects": c.corrects_id,
                    "reason": c.correction_reason,
                }),
            );
            append_audit!(tx, lock, &entry);
            id
        });
        Ok(id)
    }

    /// Changes a case's class (诉访分离), audited with the reason. `AlreadyDone` when the case
    /// already has that class.
    pub async fn change_case_class(
        &self,
        case_id: i64,
        to: CaseClass,
        reason: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        in_write_tx!(self, |tx, lock| {
            let (from,): (String,) = sqlx::query_as("SELECT case_class FROM cases WHERE id = $1")
                .bind(case_id)
                .fetch_one(&mut *tx)
                .await?;
            if from == to.as_str() {
                return Err(StoreError::AlreadyDone);
            }
            sqlx::query("UPDATE cases SET case_class = $2 WHERE id = $1")
                .bind(case_id)
                .bind(to.as_str())
                .execute(&mut *tx)
                .await?;
            let entry = audit::AuditEntry::new(
                actor,
                "case.class_changed",
                format!("case:{case_id}"),
                serde_json::json!({"from": from, "to": to.as_str(), "reason": reason}),
            );
            append_audit!(tx, lock, &entry);
        });
        Ok(())
    }

    /// The class changes of a case, oldest first, from the audit chain (the case's timeline).
    pub async fn class_changes(&self, case_id: i64) -> Result<Vec<ClassChangeRow>, StoreError> {
        let rows: Vec<(DateTime<Utc>, String, String)> = on_pool!(self, |p| sqlx::query_as(
            "SELECT at, actor, detail FROM audit_entries \
             WHERE subject = $1 AND action = 'case.class_changed' ORDER BY id"
        )
        .bind(format!("case:{case_id}"))
        .fetch_all(p)
        .await)?;
        rows.into_iter()
            .map(|(at, actor, detail)| {
                let d: serde_json::Value = serde_json::from_str(&detail)
                    .map_err(|e| StoreError::Corrupt(format!("audit detail: {e}")))?;
                let text = |k: &str| d[k].as_str().unwrap_or_default().to_owned();
                Ok(ClassChangeRow {
                    at,
                    actor,
                    from: text("from"),
                    to: text("to"),
                    reason: text("reason"),
                })
            })
            .collect()
    }
}
