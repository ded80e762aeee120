//! Who confirmed the petitioner's identity in a session, and how (issue 16, "who was really
//! there"). The rules are in `app::identity`; this only writes what it decided.

use super::{EventRow, Store, StoreError, audit};
use crate::domain::{EventKind, SessionId};

/// A confirmation to record.
pub struct IdentityConfirmation<'a> {
    pub session_id: SessionId,
    /// `in_room` or `on_camera`.
    pub how: &'a str,
    /// `user-<id>`.
    pub actor: &'a str,
    pub actor_name: &'a str,
}

impl Store {
    /// Records the confirmation once: the session's columns, an `identity_confirmed` event on
    /// its timeline and an audit entry, in one transaction. `AlreadyDone` when the session has a
    /// confirmation already (the first one stands).
    pub async fn confirm_identity(
        &self,
        c: &IdentityConfirmation<'_>,
    ) -> Result<EventRow, StoreError> {
        let at = self.now();
        let data = serde_json::json!({"how": c.how, "name": c.actor_name});
        let id: i64 = in_write_tx!(self, |tx, chain| {
            let done = sqlx::query(
                "UPDATE sessions SET identity_confirmed_how = $2, identity_confirmed_by = $3, \
                 identity_confirmed_by_name = $4, identity_confirmed_at = $5 \
                 WHERE id = $1 AND identity_confirmed_how IS NULL",
            )
            .bind(c.session_id)
            .bind(c.how)
            .bind(c.actor)
            .bind(c.actor_name)
            .bind(at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if done == 0 {
                return Err(StoreError::AlreadyDone);
            }
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO session_events (session_id, at, kind, actor, data) \
                 VALUES ($1, $2, $5, $3, $4) RETURNING id",
            )
            .bind(c.session_id)
            .bind(at)
            .bind(c.actor)
            .bind(data.to_string())
            .bind(EventKind::IdentityConfirmed.as_str())
            .fetch_one(&mut *tx)
            .await?;
            let entry = audit::AuditEntry::new(
                c.actor.to_owned(),
                "session.identity_confirmed",
                format!("session:{}", c.session_id),
                data.clone(),
            );
            chain.push(self.now(), &entry);
            id
        });
        self.event(c.session_id, id).await
    }
}
