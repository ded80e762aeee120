//! Queries for the petition ledger (台账): opening a case, logging a contact, changing a case's
//! class, and finding the same matter again. The rules are in `app::ledger`; these only write
//! what they are given, each change with its audit entry in one transaction.

use chrono::{DateTime, Utc};

use super::{CASE_STATUS, Store, StoreError, audit};
use crate::domain::{
    CaseClass, CaseId, CaseStatus, Channel, EventKind, Outcome, ReceivingOrgan, SessionId,
};
use courtlink_parsers::error::ErrorCode;

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
    pub case_id: CaseId,
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

/// A correction of an ended session's outcome, checked by `app::session::correct_outcome`.
pub struct OutcomeCorrection<'a> {
    pub session_id: SessionId,
    /// The outcome the session has now (what the check was made against).
    pub from: Outcome,
    pub to: Outcome,
    pub reason: &'a str,
    /// The correction entry's note on the ledger (the host court, the room, the outcome).
    pub ledger_note: &'a str,
    /// `user-<id>`.
    pub actor: &'a str,
    pub actor_name: &'a str,
}

/// An existing case that may be the same matter: never with the identity number.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CaseMatchRow {
    pub id: CaseId,
    pub case_number: String,
    pub court_id: i64,
    pub court_name: String,
    pub status: CaseStatus,
    pub case_class: CaseClass,
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
                code: ErrorCode::CaseNumberTaken,
                message: "this court already has a case with that number".into(),
            };
        }
    }
    e.into()
}

/// Keys or numbers per query when many are asked at once (SQLite binds at most 32,766
/// parameters, PostgreSQL 65,535).
const CHUNK: usize = 500;

/// `$from, $from+1, …` for `n` parameters.
fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The candidates for `hashes` keyed hashes (bound first) and `originals` original case
/// numbers (bound after them).
fn candidates_sql(hashes: usize, originals: usize) -> String {
    let mut sql = format!(
        "SELECT k.id, k.case_number, k.court_id, c.name AS court_name, {CASE_STATUS}, k.case_class, \
         k.petitioner_id_hash, k.original_case_number \
         FROM cases k JOIN courts c ON c.id = k.court_id \
         WHERE k.petitioner_id_hash IN ({})",
        placeholders(1, hashes)
    );
    if originals > 0 {
        sql.push_str(&format!(
            " OR k.original_case_number IN ({})",
            placeholders(hashes + 1, originals)
        ));
    }
    sql
}

/// Inserts a case (`OpenCase`), its intake contact and its `case.opened` audit entry inside the
/// current write transaction; `$extra` (JSON, or null) is merged into the audit detail.
/// Evaluates to the case's id. One copy for `open_case` and `import_cases`.
macro_rules! insert_case {
    ($tx:ident, $chain:ident, $sealer:expr, $at:expr, $c:expr, $extra:expr) => {{
        let c: &OpenCase<'_> = $c;
        let id_sealed = $sealer.seal(c.petitioner_id_number);
        let id_hash = $sealer.lookup(c.petitioner_id_number);
        let received_on = c
            .received_at
            .with_timezone(&crate::app::clock::beijing())
            .date_naive()
            .to_string();
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
        .bind($at)
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
        .fetch_one(&mut *$tx)
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
        .bind($at)
        .execute(&mut *$tx)
        .await?;
        let mut detail = serde_json::json!({
            "court_id": c.court_id,
            "case_number": c.case_number,
            "class": c.case_class.as_str(),
            "petitioner_count": c.petitioner_count,
            "channel": c.intake_channel.as_str(),
        });
        if let (Some(d), serde_json::Value::Object(extra)) = (detail.as_object_mut(), $extra) {
            d.extend(extra);
        }
        let entry = audit::AuditEntry::new(c.actor, "case.opened", format!("case:{id}"), detail);
        $chain.push($at, &entry);
        id
    }};
}

/// A case that may be the same matter as one asked about: never with the identity number
/// (only its keyed hash, to tell which key it matched).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MatchCandidate {
    pub id: CaseId,
    pub case_number: String,
    pub court_id: i64,
    pub court_name: String,
    pub status: CaseStatus,
    pub case_class: CaseClass,
    /// None for a row written before sealing, until the background pass seals it.
    pub petitioner_id_hash: Option<String>,
    pub original_case_number: Option<String>,
}

impl Store {
    /// The cases anywhere whose petitioner's keyed hash or original case number is one of
    /// `keys`' (`app::ledger::same_matter` decides which of them match which key). Asked in
    /// chunks, so that an imported ledger of thousands of rows stays under the backends' limits
    /// on bound parameters.
    pub async fn match_candidates(
        &self,
        keys: &[(&str, Option<&str>)],
    ) -> Result<Vec<MatchCandidate>, StoreError> {
        let mut out = Vec::new();
        for chunk in keys.chunks(CHUNK) {
            let hashes: Vec<&str> = chunk.iter().map(|(h, _)| *h).collect();
            let originals: Vec<&str> = chunk.iter().filter_map(|(_, o)| *o).collect();
            let sql = candidates_sql(hashes.len(), originals.len());
            let rows: Vec<MatchCandidate> = on_pool!(self, |p| {
                let mut q = sqlx::query_as(&sql);
                for v in hashes.iter().chain(originals.iter()) {
                    q = q.bind(*v);
                }
                q.fetch_all(p).await
            })?;
            out.extend(rows);
        }
        out.sort_by_key(|c| std::cmp::Reverse(c.id));
        out.dedup_by_key(|c| c.id);
        Ok(out)
    }

    /// Which of `numbers` the court's cases already carry (case numbers are unique in a court).
    pub async fn taken_case_numbers(
        &self,
        court_id: i64,
        numbers: &[&str],
    ) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for chunk in numbers.chunks(CHUNK) {
            let sql = format!(
                "SELECT case_number FROM cases WHERE court_id = $1 AND case_number IN ({})",
                placeholders(2, chunk.len())
            );
            let rows: Vec<(String,)> = on_pool!(self, |p| {
                let mut q = sqlx::query_as(&sql).bind(court_id);
                for n in chunk {
                    q = q.bind(*n);
                }
                q.fetch_all(p).await
            })?;
            out.extend(rows.into_iter().map(|(n,)| n));
        }
        Ok(out)
    }

    /// Opens a case and logs the contact that brought it in, with the audit entry, in one
    /// transaction. Returns the case id.
    pub async fn open_case(&self, c: &OpenCase<'_>) -> Result<CaseId, StoreError> {
        let sealer = crate::crypto::sealer().map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let at = self.now();
        let id = in_write_tx!(self, |tx, chain| {
            insert_case!(tx, chain, sealer, at, c, serde_json::Value::Null)
        });
        Ok(CaseId(id))
    }

    /// Opens every case of an imported ledger in one transaction: all of them or none. Each
    /// case is written and audited as `open_case` writes it (its intake contact, `case.opened`
    /// naming the import), and the import itself is audited once (`ledger.imported`, with
    /// `summary`). Before writing, it looks again, inside the transaction, for cases that the
    /// new ones would now match (`keys`, as `match_candidates` takes them) or whose numbers
    /// are now taken: if the ledger changed since the import was planned, nothing is written
    /// and the answer is `Conflict { code: ErrorCode::ImportChanged }`. Returns the new ids in order.
    pub async fn import_cases(
        &self,
        court_id: i64,
        cases: &[OpenCase<'_>],
        keys: &[(&str, Option<&str>)],
        actor: &str,
        summary: serde_json::Value,
    ) -> Result<Vec<CaseId>, StoreError> {
        let sealer = crate::crypto::sealer().map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let at = self.now();
        let changed = || StoreError::Conflict {
            code: ErrorCode::ImportChanged,
            message: "the ledger changed since this import was planned: preview it again".into(),
        };
        let import = serde_json::json!({"import": true});
        let ids = in_write_tx!(self, |tx, chain| {
            for chunk in keys.chunks(CHUNK) {
                let hashes: Vec<&str> = chunk.iter().map(|(h, _)| *h).collect();
                let originals: Vec<&str> = chunk.iter().filter_map(|(_, o)| *o).collect();
                let sql = format!(
                    "SELECT COUNT(*) FROM ({}) m",
                    candidates_sql(hashes.len(), originals.len())
                );
                let mut q = sqlx::query_as::<_, (i64,)>(&sql);
                for v in hashes.iter().chain(originals.iter()) {
                    q = q.bind(*v);
                }
                if q.fetch_one(&mut *tx).await?.0 > 0 {
                    return Err(changed());
                }
            }
            let numbers: Vec<&str> = cases.iter().map(|c| c.case_number).collect();
            for chunk in numbers.chunks(CHUNK) {
                let sql = format!(
                    "SELECT COUNT(*) FROM cases WHERE court_id = $1 AND case_number IN ({})",
                    placeholders(2, chunk.len())
                );
                let mut q = sqlx::query_as::<_, (i64,)>(&sql).bind(court_id);
                for n in chunk {
                    q = q.bind(*n);
                }
                if q.fetch_one(&mut *tx).await?.0 > 0 {
                    return Err(changed());
                }
            }
            let mut ids = Vec::with_capacity(cases.len());
            for c in cases {
                if c.court_id != court_id {
                    return Err(StoreError::Corrupt(
                        "an import writes into one court".into(),
                    ));
                }
                let id = insert_case!(tx, chain, sealer, at, c, import.clone());
                ids.push(CaseId(id));
            }
            let entry = audit::AuditEntry::new(
                actor,
                "ledger.imported",
                format!("court:{court_id}"),
                summary,
            );
            chain.push(self.now(), &entry);
            ids
        });
        Ok(ids)
    }

    /// The case an entry belongs to, if there is such an entry.
    pub async fn ledger_entry_case(&self, entry_id: i64) -> Result<Option<CaseId>, StoreError> {
        let row: Option<(i64,)> = on_pool!(self, |p| sqlx::query_as(
            "SELECT case_id FROM ledger_entries WHERE id = $1"
        )
        .bind(entry_id)
        .fetch_optional(p)
        .await)?;
        Ok(row.map(|(c,)| CaseId(c)))
    }

    /// Appends a contact (or a correction of one) to a case's ledger, audited. Returns its id.
    pub async fn log_contact(&self, c: &NewContact<'_>) -> Result<i64, StoreError> {
        let at = self.now();
        let id = in_write_tx!(self, |tx, chain| {
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
            chain.push(self.now(), &entry);
            id
        });
        Ok(id)
    }

    /// Corrects an ended session's outcome, keeping the history, in one transaction: the
    /// session's standing ledger entry (the one it wrote, or the last correction of it) gets a
    /// correction entry with the new outcome, the same time, channel and receiving court and the
    /// reason (the original stays, marked replaced by the database's trigger); the session
    /// carries the new outcome; its timeline gets an `outcome_corrected` event (from, to,
    /// reason); the audit chain records who. `Stale` when the session's outcome is no longer
    /// `from` (someone corrected it meanwhile); `NotYet` when it has not ended. Returns the
    /// correction entry's id.
    pub async fn correct_session_outcome(
        &self,
        c: &OutcomeCorrection<'_>,
    ) -> Result<i64, StoreError> {
        let at = self.now();
        let id = in_write_tx!(self, |tx, chain| {
            let changed = sqlx::query(
                "UPDATE sessions SET outcome = $2 WHERE id = $1 AND status = 'ended' AND outcome = $3",
            )
            .bind(c.session_id)
            .bind(c.to.as_str())
            .bind(c.from.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed == 0 {
                let status: Option<(String,)> =
                    sqlx::query_as("SELECT status FROM sessions WHERE id = $1")
                        .bind(c.session_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                return Err(match status {
                    Some((s,)) if s == "ended" => StoreError::Stale,
                    Some(_) => StoreError::NotYet,
                    None => StoreError::NotFound,
                });
            }
            // The standing entry: the session's own, or the last correction in its chain.
            let (mut standing,): (i64,) =
                sqlx::query_as("SELECT id FROM ledger_entries WHERE session_id = $1")
                    .bind(c.session_id)
                    .fetch_one(&mut *tx)
                    .await?;
            loop {
                let next: Option<(i64,)> = sqlx::query_as(
                    "SELECT id FROM ledger_entries WHERE corrects_id = $1 ORDER BY id DESC LIMIT 1",
                )
                .bind(standing)
                .fetch_optional(&mut *tx)
                .await?;
                match next {
                    Some((n,)) => standing = n,
                    None => break,
                }
            }
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO ledger_entries (case_id, at, channel, counted_as, note, connected_minutes, \
                 court_initiated, receiving_organ, receiving_court_id, outcome, received_by, corrects_id, \
                 correction_reason, recorded_by, recorded_at) \
                 SELECT case_id, at, channel, counted_as, $2, connected_minutes, court_initiated, \
                 receiving_organ, receiving_court_id, $3, received_by, id, $4, $5, $6 \
                 FROM ledger_entries WHERE id = $1 RETURNING id",
            )
            .bind(standing)
            .bind(c.ledger_note)
            .bind(c.to.as_str())
            .bind(c.reason)
            .bind(c.actor)
            .bind(at)
            .fetch_one(&mut *tx)
            .await?;
            let data = serde_json::json!({
                "from": c.from.as_str(),
                "to": c.to.as_str(),
                "reason": c.reason,
                "name": c.actor_name,
                "entry": id,
            });
            sqlx::query(
                "INSERT INTO session_events (session_id, at, kind, actor, data) \
                 VALUES ($1, $2, $5, $3, $4)",
            )
            .bind(c.session_id)
            .bind(at)
            .bind(c.actor)
            .bind(data.to_string())
            .bind(EventKind::OutcomeCorrected.as_str())
            .execute(&mut *tx)
            .await?;
            let entry = audit::AuditEntry::new(
                c.actor,
                "session.outcome_corrected",
                format!("session:{}", c.session_id),
                serde_json::json!({
                    "from": c.from.as_str(),
                    "to": c.to.as_str(),
                    "reason": c.reason,
                    "entry": id,
                    "corrects": standing,
                }),
            );
            chain.push(self.now(), &entry);
            id
        });
        Ok(id)
    }

    /// Changes a case's class (诉访分离), audited with the reason. `AlreadyDone` when the case
    /// already has that class.
    pub async fn change_case_class(
        &self,
        case_id: CaseId,
        to: CaseClass,
        reason: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        in_write_tx!(self, |tx, chain| {
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
            chain.push(self.now(), &entry);
        });
        Ok(())
    }

    /// The class changes of a case, oldest first, from the audit chain (the case's timeline).
    pub async fn class_changes(&self, case_id: CaseId) -> Result<Vec<ClassChangeRow>, StoreError> {
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
