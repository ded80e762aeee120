//! Recordings and their gaps (migrations/*/0027_recordings.sql). The rules — who may record,
//! who may play, what the state is — are in `app::recording`; these are the queries, each
//! change in one transaction with its timeline event or audit entry.

use chrono::{DateTime, Utc};

use super::{Store, StoreError, audit};
use crate::domain::{EventKind, SessionId};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RecordingRow {
    pub id: i64,
    pub session_id: SessionId,
    pub participant_id: String,
    pub role: String,
    pub name: String,
    pub part: i64,
    pub media_type: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub bytes: Option<i64>,
    pub sha256: Option<String>,
    pub state: String,
    pub object_key: String,
    /// Closed by a salvage after a crash: the file holds what its full chunks held.
    pub salvaged: bool,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GapRow {
    pub id: i64,
    pub recording_id: i64,
    pub participant_id: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, session_id, participant_id, role, name, part, media_type, started_at, \
                       ended_at, duration_ms, bytes, sha256, state, object_key, salvaged";

/// A new part, as the recorder starts it.
pub struct NewPart<'a> {
    pub session_id: SessionId,
    pub participant_id: &'a str,
    pub role: &'a str,
    pub name: &'a str,
    pub at: DateTime<Utc>,
}

/// A part's file, closed and sealed.
pub struct ClosedPart<'a> {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub media_type: &'a str,
    pub duration_ms: i64,
    pub bytes: i64,
    pub sha256: &'a str,
    /// Salvaged after a crash (`recording::Recorder::salvage`), not closed by its part.
    pub salvaged: bool,
}

impl Store {
    /// Starts the participant's next part (1, 2, …) and names its file.
    pub async fn start_part(&self, p: &NewPart<'_>) -> Result<RecordingRow, StoreError> {
        let id = in_write_tx!(self, |tx| {
            let (next,): (i64,) = sqlx::query_as(
                "SELECT COALESCE(MAX(part), 0) + 1 FROM recordings \
                 WHERE session_id = $1 AND participant_id = $2",
            )
            .bind(p.session_id)
            .bind(p.participant_id)
            .fetch_one(&mut *tx)
            .await?;
            let key = format!(
                "session-{}/{}-part{next}.clrec",
                p.session_id, p.participant_id
            );
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO recordings (session_id, participant_id, role, name, part, media_type, \
                 started_at, state, object_key) \
                 VALUES ($1, $2, $3, $4, $5, 'video/webm', $6, 'recording', $7) RETURNING id",
            )
            .bind(p.session_id)
            .bind(p.participant_id)
            .bind(p.role)
            .bind(p.name)
            .bind(next)
            .bind(p.at)
            .bind(&key)
            .fetch_one(&mut *tx)
            .await?;
            id
        });
        self.recording(id).await
    }

    pub async fn recording(&self, id: i64) -> Result<RecordingRow, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM recordings WHERE id = $1");
        on_pool!(self, |p| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(p)
            .await)?
        .ok_or(StoreError::NotFound)
    }

    pub async fn recordings_of(
        &self,
        session_id: SessionId,
    ) -> Result<Vec<RecordingRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM recordings WHERE session_id = $1 ORDER BY id");
        Ok(on_pool!(self, |p| sqlx::query_as(&sql)
            .bind(session_id)
            .fetch_all(p)
            .await)?)
    }

    /// Rows in `states`, oldest first (the uploader, `audit verify`).
    pub async fn recordings_in(&self, states: &[&str]) -> Result<Vec<RecordingRow>, StoreError> {
        let mut all = Vec::new();
        for state in states {
            let sql = format!("SELECT {COLUMNS} FROM recordings WHERE state = $1 ORDER BY id");
            let rows: Vec<RecordingRow> = on_pool!(self, |p| sqlx::query_as(&sql)
                .bind(*state)
                .fetch_all(p)
                .await)?;
            all.extend(rows);
        }
        all.sort_by_key(|r| r.id);
        Ok(all)
    }

    /// A closed part: its figures, and the sealed file's hash in the row and in the audit chain,
    /// in one transaction.
    pub async fn close_part(&self, c: &ClosedPart<'_>) -> Result<(), StoreError> {
        let row = self.recording(c.id).await?;
        in_write_tx!(self, |tx, chain| {
            sqlx::query(
                "UPDATE recordings SET state = 'closed', ended_at = $2, media_type = $3, \
                 duration_ms = $4, bytes = $5, sha256 = $6, salvaged = $7 \
                 WHERE id = $1 AND state = 'recording'",
            )
            .bind(c.id)
            .bind(c.at)
            .bind(c.media_type)
            .bind(c.duration_ms)
            .bind(c.bytes)
            .bind(c.sha256)
            .bind(c.salvaged)
            .execute(&mut *tx)
            .await?;
            // The session has a recording (the statistics count held sessions without one).
            sqlx::query("UPDATE sessions SET recorded = TRUE WHERE id = $1")
                .bind(row.session_id)
                .execute(&mut *tx)
                .await?;
            let entry = audit::AuditEntry::new(
                "system",
                "recording.close",
                format!("recording:{}", c.id),
                serde_json::json!({
                    "session_id": row.session_id,
                    "participant": row.participant_id,
                    "part": row.part,
                    "sha256": c.sha256,
                    "bytes": c.bytes,
                    "duration_ms": c.duration_ms,
                    "salvaged": c.salvaged,
                }),
            );
            chain.push(self.now(), &entry);
        });
        Ok(())
    }

    /// A part whose file could not be written (nothing came, or the disk failed).
    pub async fn fail_part(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        on_pool!(self, |p| {
            sqlx::query(
            "UPDATE recordings SET state = 'failed', ended_at = $2 WHERE id = $1 AND state = 'recording'"
        )
        .bind(id)
        .bind(at)
        .execute(p)
        .await
        .map(|_| ())
        })?;
        Ok(())
    }

    /// The closed file is in the store now.
    pub async fn mark_stored(&self, id: i64) -> Result<(), StoreError> {
        on_pool!(self, |p| sqlx::query(
            "UPDATE recordings SET state = 'stored' WHERE id = $1 AND state = 'closed'"
        )
        .bind(id)
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// Parts left `recording` by an instance that stopped without closing them (a crash).
    pub async fn abandoned_parts(
        &self,
        before: DateTime<Utc>,
    ) -> Result<Vec<RecordingRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM recordings WHERE state = 'recording' AND started_at < $1 ORDER BY id"
        );
        Ok(on_pool!(self, |p| sqlx::query_as(&sql)
            .bind(before)
            .fetch_all(p)
            .await)?)
    }

    /// Closed or stored parts that ended before `before`: the purge's work.
    pub async fn expired_recordings(
        &self,
        before: DateTime<Utc>,
    ) -> Result<Vec<RecordingRow>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM recordings WHERE state IN ('closed', 'stored', 'failed') \
             AND ended_at < $1 ORDER BY id"
        );
        Ok(on_pool!(self, |p| sqlx::query_as(&sql)
            .bind(before)
            .fetch_all(p)
            .await)?)
    }

    /// The purge deleted the file: the row stays (with its hash), marked, and audited.
    pub async fn mark_purged(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        let row = self.recording(id).await?;
        in_write_tx!(self, |tx, chain| {
            sqlx::query("UPDATE recordings SET state = 'purged', purged_at = $2 WHERE id = $1")
                .bind(id)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            let entry = audit::AuditEntry::new(
                "system",
                "recording.purge",
                format!("recording:{id}"),
                serde_json::json!({
                    "session_id": row.session_id,
                    "sha256": row.sha256,
                    "ended_at": row.ended_at,
                }),
            );
            chain.push(self.now(), &entry);
        });
        Ok(())
    }

    // --- gaps ------------------------------------------------------------------------------

    /// A participant's stream is lost: the gap, its timeline event and the session's mark, in
    /// one transaction. Nothing if that participant already has an open gap.
    pub async fn open_gap(
        &self,
        session_id: SessionId,
        recording_id: i64,
        participant_id: &str,
        at: DateTime<Utc>,
        why: &str,
    ) -> Result<bool, StoreError> {
        let opened = in_write_tx!(self, |tx| {
            let open: Option<(i64,)> = sqlx::query_as(
                "SELECT id FROM recording_gaps WHERE session_id = $1 AND participant_id = $2 \
                 AND ended_at IS NULL",
            )
            .bind(session_id)
            .bind(participant_id)
            .fetch_optional(&mut *tx)
            .await?;
            if open.is_some() {
                false
            } else {
                sqlx::query(
                    "INSERT INTO recording_gaps (session_id, recording_id, participant_id, started_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(session_id)
                .bind(recording_id)
                .bind(participant_id)
                .bind(at)
                .execute(&mut *tx)
                .await?;
                sqlx::query("UPDATE sessions SET recording_gap = TRUE WHERE id = $1")
                    .bind(session_id)
                    .execute(&mut *tx)
                    .await?;
                let data = serde_json::json!({
                    "participant": participant_id,
                    "recording_id": recording_id,
                    "why": why,
                });
                sqlx::query(
                    "INSERT INTO session_events (session_id, at, kind, actor, data) \
                     VALUES ($1, $2, $4, 'recorder', $3)",
                )
                .bind(session_id)
                .bind(at)
                .bind(data.to_string())
                .bind(EventKind::RecordingGapStarted.as_str())
                .execute(&mut *tx)
                .await?;
                true
            }
        });
        Ok(opened)
    }

    /// Ends the open gaps of one participant (`Some`) or of everyone (`None`, the session's
    /// end), each with its timeline event. Returns how many ended.
    pub async fn close_gaps(
        &self,
        session_id: SessionId,
        participant_id: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let closed = in_write_tx!(self, |tx| {
            let open: Vec<(i64, i64, String, DateTime<Utc>)> = sqlx::query_as(
                "SELECT id, recording_id, participant_id, started_at FROM recording_gaps \
                 WHERE session_id = $1 AND ended_at IS NULL ORDER BY id",
            )
            .bind(session_id)
            .fetch_all(&mut *tx)
            .await?;
            let mut n = 0;
            for (id, recording_id, pid, started) in open {
                if participant_id.is_some_and(|p| p != pid) {
                    continue;
                }
                let end = at.max(started);
                sqlx::query("UPDATE recording_gaps SET ended_at = $2 WHERE id = $1")
                    .bind(id)
                    .bind(end)
                    .execute(&mut *tx)
                    .await?;
                let data = serde_json::json!({
                    "participant": pid,
                    "recording_id": recording_id,
                    "started_at": started,
                    "seconds": (end - started).num_milliseconds() as f64 / 1000.0,
                });
                sqlx::query(
                    "INSERT INTO session_events (session_id, at, kind, actor, data) \
                     VALUES ($1, $2, $4, 'recorder', $3)",
                )
                .bind(session_id)
                .bind(end)
                .bind(data.to_string())
                .bind(EventKind::RecordingGapEnded.as_str())
                .execute(&mut *tx)
                .await?;
                n += 1;
            }
            n
        });
        Ok(closed)
    }

    pub async fn gaps_of(&self, session_id: SessionId) -> Result<Vec<GapRow>, StoreError> {
        Ok(on_pool!(self, |p| sqlx::query_as(
            "SELECT id, recording_id, participant_id, started_at, ended_at FROM recording_gaps \
             WHERE session_id = $1 ORDER BY id"
        )
        .bind(session_id)
        .fetch_all(p)
        .await)?)
    }

    /// Whether some participant's stream is lost now.
    pub async fn has_open_gap(&self, session_id: SessionId) -> Result<bool, StoreError> {
        let open: Option<(i64,)> = on_pool!(self, |p| sqlx::query_as(
            "SELECT id FROM recording_gaps WHERE session_id = $1 AND ended_at IS NULL LIMIT 1"
        )
        .bind(session_id)
        .fetch_optional(p)
        .await)?;
        Ok(open.is_some())
    }

    /// The session's record: whether its recording has a gap.
    pub async fn recording_gap(&self, session_id: SessionId) -> Result<bool, StoreError> {
        let row: Option<(bool,)> = on_pool!(self, |p| sqlx::query_as(
            "SELECT recording_gap FROM sessions WHERE id = $1"
        )
        .bind(session_id)
        .fetch_optional(p)
        .await)?;
        row.map(|(b,)| b).ok_or(StoreError::NotFound)
    }
}
