//! A local court's leaders named on a session (领导包案, issue 16). The rules (who names whom,
//! when) are in `app::leaders`; this only writes what it decided and reads it back.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{EventRow, Store, StoreError, audit};
use crate::domain::{EventKind, SessionId, UserId};

/// A leader named on a session.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct LeaderRow {
    #[schema(value_type = i64)]
    pub user_id: UserId,
    pub name: String,
    /// `user-<id>` of the coordinator who named them.
    pub added_by: String,
    pub added_at: DateTime<Utc>,
}

/// A user who may be named: a supervisor of the court.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct CandidateRow {
    #[schema(value_type = i64)]
    pub user_id: UserId,
    pub name: String,
}

impl Store {
    /// Names a leader on a session: the row, a `leader_added` event on its timeline and an
    /// audit entry, in one transaction. `AlreadyDone` when they are named already.
    pub async fn add_leader(
        &self,
        session_id: SessionId,
        user_id: UserId,
        name: &str,
        actor: &str,
    ) -> Result<EventRow, StoreError> {
        let at = self.now();
        let data = serde_json::json!({"participant": format!("user-{user_id}"), "name": name});
        let id: i64 = in_write_tx!(self, |tx, chain| {
            let (taken,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM session_leaders WHERE session_id = $1 AND user_id = $2",
            )
            .bind(session_id)
            .bind(user_id)
            .fetch_one(&mut *tx)
            .await?;
            if taken > 0 {
                return Err(StoreError::AlreadyDone);
            }
            sqlx::query(
                "INSERT INTO session_leaders (session_id, user_id, added_by, added_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(session_id)
            .bind(user_id)
            .bind(actor)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO session_events (session_id, at, kind, actor, data) \
                 VALUES ($1, $2, $5, $3, $4) RETURNING id",
            )
            .bind(session_id)
            .bind(at)
            .bind(actor)
            .bind(data.to_string())
            .bind(EventKind::LeaderAdded.as_str())
            .fetch_one(&mut *tx)
            .await?;
            let entry = audit::AuditEntry::new(
                actor.to_owned(),
                "session.leader_added",
                format!("session:{session_id}"),
                data.clone(),
            );
            chain.push(self.now(), &entry);
            id
        });
        self.event(session_id, id).await
    }

    /// The leaders named on a session, in the order they were named.
    pub async fn leaders(&self, session_id: SessionId) -> Result<Vec<LeaderRow>, StoreError> {
        let sql = "SELECT l.user_id, u.display_name AS name, l.added_by, l.added_at \
                   FROM session_leaders l JOIN users u ON u.id = l.user_id \
                   WHERE l.session_id = $1 ORDER BY l.added_at, l.user_id";
        Ok(on_pool!(self, |p| sqlx::query_as(sql)
            .bind(session_id)
            .fetch_all(p)
            .await)?)
    }

    /// Whether `user_id` is named as a leader on the session.
    pub async fn is_leader(
        &self,
        session_id: SessionId,
        user_id: UserId,
    ) -> Result<bool, StoreError> {
        let sql = "SELECT COUNT(*) FROM session_leaders WHERE session_id = $1 AND user_id = $2";
        let (n,): (i64,) = on_pool!(self, |p| sqlx::query_as(sql)
            .bind(session_id)
            .bind(user_id)
            .fetch_one(p)
            .await)?;
        Ok(n > 0)
    }

    /// The ids of the sessions `user_id` is named on.
    pub async fn sessions_led_by(&self, user_id: UserId) -> Result<Vec<SessionId>, StoreError> {
        let sql = "SELECT session_id FROM session_leaders WHERE user_id = $1 ORDER BY session_id";
        let rows: Vec<(SessionId,)> = on_pool!(self, |p| sqlx::query_as(sql)
            .bind(user_id)
            .fetch_all(p)
            .await)?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// The court's active supervisors: whom its coordinator may name as a session's leader.
    pub async fn leader_candidates(&self, court_id: i64) -> Result<Vec<CandidateRow>, StoreError> {
        let sql = "SELECT id AS user_id, display_name AS name FROM users \
                   WHERE court_id = $1 AND role = 'supervisor' AND NOT disabled ORDER BY id";
        Ok(on_pool!(self, |p| sqlx::query_as(sql)
            .bind(court_id)
            .fetch_all(p)
            .await)?)
    }
}
