//! Queries for the token and login rules of `auth.rs`: join-token versions and the login
//! slow-down (failures in a row per account, and the addresses an account is known at).

use chrono::{DateTime, Utc};

use super::{Store, StoreError, audit};
use crate::domain::{SessionId, UserId};

impl Store {
    /// A session's join-token version (it moves on whenever the join code is replaced; see
    /// migration 0014); `None` when there is no such session.
    pub async fn join_version(&self, session_id: SessionId) -> Result<Option<i64>, StoreError> {
        let row: Option<(i64,)> = on_pool!(self, |p| sqlx::query_as(
            "SELECT join_version FROM sessions WHERE id = $1"
        )
        .bind(session_id)
        .fetch_optional(p)
        .await)?;
        Ok(row.map(|(v,)| v))
    }

    /// The user whose username, lower-cased, is `username` (already normalized by
    /// `auth::normalize_username`): usernames stored before normalization may be mixed-case.
    /// Two such users that differ only in case are ambiguous, and neither is found.
    pub async fn user_by_login_name(
        &self,
        username: &str,
    ) -> Result<Option<super::UserRow>, StoreError> {
        let sql = "SELECT u.id, u.court_id, u.username, u.display_name, u.role, u.password_hash, \
                   u.disabled, c.name AS court_name, c.level AS court_level, u.failed_logins, u.locked_until, u.must_change_password \
                   FROM users u JOIN courts c ON c.id = u.court_id WHERE lower(u.username) = $1 LIMIT 2";
        let rows: Vec<super::UserRow> = on_pool!(self, |p| sqlx::query_as(sql)
            .bind(username)
            .fetch_all(p)
            .await)?;
        if rows.len() > 1 {
            tracing::warn!("two usernames differ only in case; rename one (login refused)");
            return Ok(None);
        }
        Ok(rows.into_iter().next())
    }

    /// Whether the user has logged in with the right password from `address` before.
    pub async fn login_address_known(
        &self,
        user_id: UserId,
        address: &str,
    ) -> Result<bool, StoreError> {
        let row: Option<(i64,)> = on_pool!(self, |p| sqlx::query_as(
            "SELECT user_id FROM login_addresses WHERE user_id = $1 AND address = $2"
        )
        .bind(user_id)
        .bind(address)
        .fetch_optional(p)
        .await)?;
        Ok(row.is_some())
    }

    /// A login with the right password: the address becomes known to the account, and the
    /// account's failures in a row and its slow-down end.
    pub async fn login_succeeded(&self, user_id: UserId, address: &str) -> Result<(), StoreError> {
        let now = self.now();
        in_write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO login_addresses (user_id, address, last_login_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (user_id, address) DO UPDATE SET last_login_at = $3",
            )
            .bind(user_id)
            .bind(address)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE users SET failed_logins = 0, locked_until = NULL \
                 WHERE id = $1 AND (failed_logins <> 0 OR locked_until IS NOT NULL)",
            )
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    /// Counts a wrong password for the account; once `free` have come in a row, the account is
    /// slowed down until the time `delay` gives for the count (audited when it starts).
    pub async fn login_failed(
        &self,
        user_id: UserId,
        free: i32,
        delay: impl Fn(i32) -> chrono::Duration,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let until = in_write_tx!(self, |tx, chain| {
            let (failed,): (i32,) = sqlx::query_as(
                "UPDATE users SET failed_logins = failed_logins + 1 WHERE id = $1 RETURNING failed_logins",
            )
            .bind(user_id)
            .fetch_one(&mut *tx)
            .await?;
            // No early return: it would leave the transaction uncommitted, and the count lost.
            if failed < free {
                None
            } else {
                // The machine's time, as the login checks it (`auth`), and not `self.now()`, which
                // drops the fraction: the first wait is one second.
                let until = Utc::now() + delay(failed - free);
                sqlx::query("UPDATE users SET locked_until = $2 WHERE id = $1")
                    .bind(user_id)
                    .bind(until)
                    .execute(&mut *tx)
                    .await?;
                if failed == free {
                    let entry = audit::AuditEntry::new(
                        "system",
                        "auth.login_slowed",
                        format!("user:{user_id}"),
                        serde_json::json!({"failed_logins": failed, "until": until}),
                    );
                    chain.push(self.now(), &entry);
                }
                Some(until)
            }
        });
        Ok(until)
    }
}
