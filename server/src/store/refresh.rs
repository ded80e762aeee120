//! Refresh tokens (issue 21): one row per token, only its SHA-256 kept; a sign-in is a family
//! (migrations/*/0026_refresh_tokens.sql). The rules (what a presented token is worth) are in
//! `app::signin`; these are the queries, each change in one transaction.

use crate::domain::UserId;
use chrono::{DateTime, Utc};

use super::{Store, StoreError, audit};

/// What presenting a refresh token came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Presented {
    /// Rotated: `new_hash` now stands for the family, whose user and sign-in version these are.
    Rotated {
        user_id: UserId,
        ver: i64,
        expires_at: DateTime<Utc>,
    },
    /// No such token: never issued, or its family was revoked.
    Unknown,
    /// The family's day is over.
    Expired,
    /// Presented before (the token was stolen, or its holder's copy was): the whole family is
    /// revoked in the same transaction.
    Reused,
}

type Row = (i64, i64, String, i64, DateTime<Utc>, Option<DateTime<Utc>>);

impl Store {
    /// Starts a family (a sign-in) with its first token; the user's expired rows go.
    pub async fn issue_refresh(
        &self,
        user_id: UserId,
        family: &str,
        token_hash: &str,
        ver: i64,
        expires_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        in_write_tx!(self, |tx| {
            sqlx::query("DELETE FROM refresh_tokens WHERE user_id = $1 AND expires_at <= $2")
                .bind(user_id)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO refresh_tokens (user_id, family, token_hash, ver, expires_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(user_id)
            .bind(family)
            .bind(token_hash)
            .bind(ver)
            .bind(expires_at)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        });
        Ok(())
    }

    /// Exchanges the token hashed `old_hash` for the one hashed `new_hash`, in one transaction:
    /// a second use of a token (even two at once: the row is marked used only if it was not)
    /// revokes its family and is audited.
    pub async fn rotate_refresh(
        &self,
        old_hash: &str,
        new_hash: &str,
        at: DateTime<Utc>,
    ) -> Result<Presented, StoreError> {
        let presented = in_write_tx!(self, |tx, chain| {
            let row: Option<Row> = sqlx::query_as(
                "SELECT id, user_id, family, ver, expires_at, used_at FROM refresh_tokens \
                 WHERE token_hash = $1",
            )
            .bind(old_hash)
            .fetch_optional(&mut *tx)
            .await?;
            match row {
                None => Presented::Unknown,
                Some((id, user_id, family, ver, expires_at, used_at)) => {
                    let fresh = used_at.is_none()
                        && sqlx::query(
                            "UPDATE refresh_tokens SET used_at = $2 WHERE id = $1 AND used_at IS NULL",
                        )
                        .bind(id)
                        .bind(at)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected()
                            == 1;
                    if !fresh {
                        sqlx::query("DELETE FROM refresh_tokens WHERE family = $1")
                            .bind(&family)
                            .execute(&mut *tx)
                            .await?;
                        let entry = audit::AuditEntry::new(
                            format!("user-{user_id}"),
                            "auth.refresh_reused",
                            format!("user:{user_id}"),
                            serde_json::json!({}),
                        );
                        chain.push(self.now(), &entry);
                        Presented::Reused
                    } else if expires_at <= at {
                        Presented::Expired
                    } else {
                        sqlx::query(
                            "INSERT INTO refresh_tokens (user_id, family, token_hash, ver, expires_at, created_at) \
                             VALUES ($1, $2, $3, $4, $5, $6)",
                        )
                        .bind(user_id)
                        .bind(&family)
                        .bind(new_hash)
                        .bind(ver)
                        .bind(expires_at)
                        .bind(at)
                        .execute(&mut *tx)
                        .await?;
                        Presented::Rotated {
                            user_id: UserId(user_id),
                            ver,
                            expires_at,
                        }
                    }
                }
            }
        });
        Ok(presented)
    }

    /// Revokes the family of the token hashed `token_hash` (a logout, or a refusal).
    pub async fn revoke_refresh(&self, token_hash: &str) -> Result<(), StoreError> {
        on_pool!(self, |p| sqlx::query(
            "DELETE FROM refresh_tokens WHERE family IN \
             (SELECT family FROM refresh_tokens WHERE token_hash = $1)"
        )
        .bind(token_hash)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }
}
