//! Queries for administrators: courts, rooms and users of a court and every court below it.
//!
//! Every change is one write transaction that also appends its audit entry, so a change and its
//! record commit or fail together. Names that must be unique (a court's name, a room's name in
//! its court, a username) are left to the database's unique indexes: a clash comes back as
//! [`Saved::Taken`], not as an error, and the transaction is rolled back.

use chrono::{DateTime, Utc};

use super::{CourtRow, Store, StoreError, UserRow, audit};
use crate::domain::{Role, UserId};
pub use courtlink_parsers::bodies::RoomType;

/// The outcome of a write that may clash with a unique name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Saved<T> {
    Done(T),
    /// The name is already in use.
    Taken,
}

/// A room as an administrator sees it: host (接谈室) or local (接访室).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AdminRoomRow {
    pub id: i64,
    pub court_id: i64,
    pub name: String,
    /// `host` or `local`.
    pub kind: String,
}

/// What an administrator may change about a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChange<'a> {
    pub display_name: Option<&'a str>,
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

/// A new account, its password already hashed.
#[derive(Debug, Clone)]
pub struct NewAccount<'a> {
    pub court_id: i64,
    pub username: &'a str,
    pub display_name: &'a str,
    pub role: Role,
    pub password_hash: &'a str,
}

/// The courts at and below `$1`, with their depth below it (0 for the court itself).
use super::tree::BRANCH as SUBTREE;

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}

fn room_table(kind: RoomType) -> &'static str {
    match kind {
        RoomType::Host => "host_rooms",
        RoomType::Local => "local_rooms",
    }
}

fn room_kind_name(kind: RoomType) -> &'static str {
    match kind {
        RoomType::Host => "host",
        RoomType::Local => "local",
    }
}

impl Store {
    /// A court and every court below it, top down.
    pub async fn courts_under(&self, court_id: i64) -> Result<Vec<CourtRow>, StoreError> {
        let sql = format!(
            "{SUBTREE}SELECT c.id, c.name, c.level, c.parent_id FROM courts c \
             JOIN down ON down.id = c.id ORDER BY down.depth, c.id"
        );
        Ok(on_pool!(self, |p| sqlx::query_as(&sql)
            .bind(court_id)
            .fetch_all(p)
            .await)?)
    }

    /// The host and local rooms of a court and every court below it.
    pub async fn rooms_under(&self, court_id: i64) -> Result<Vec<AdminRoomRow>, StoreError> {
        let sql = format!(
            "{SUBTREE}SELECT r.id, r.court_id, r.name, CAST('host' AS TEXT) AS kind FROM host_rooms r \
             WHERE r.court_id IN (SELECT id FROM down) \
             UNION ALL \
             SELECT r.id, r.court_id, r.name, CAST('local' AS TEXT) AS kind FROM local_rooms r \
             WHERE r.court_id IN (SELECT id FROM down) \
             ORDER BY court_id, kind, id"
        );
        Ok(on_pool!(self, |p| sqlx::query_as(&sql)
            .bind(court_id)
            .fetch_all(p)
            .await)?)
    }

    /// The users of a court and every court below it.
    pub async fn users_under(&self, court_id: i64) -> Result<Vec<UserRow>, StoreError> {
        let sql = format!(
            "{SUBTREE}SELECT u.id, u.court_id, u.username, u.display_name, u.role, u.password_hash, \
             u.disabled, c.name AS court_name, c.level AS court_level, u.failed_logins, u.locked_until, u.must_change_password \
             FROM users u JOIN courts c ON c.id = u.court_id JOIN down ON down.id = u.court_id \
             ORDER BY down.depth, u.court_id, u.username"
        );
        Ok(on_pool!(self, |p| sqlx::query_as(&sql)
            .bind(court_id)
            .fetch_all(p)
            .await)?)
    }

    /// One room, or None.
    pub async fn find_room(
        &self,
        kind: RoomType,
        id: i64,
    ) -> Result<Option<AdminRoomRow>, StoreError> {
        let sql = format!(
            "SELECT id, court_id, name, CAST('{}' AS TEXT) AS kind FROM {} WHERE id = $1",
            room_kind_name(kind),
            room_table(kind)
        );
        Ok(on_pool!(self, |p| sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(p)
            .await)?)
    }

    /// A new court below `parent_id` (audited).
    pub async fn admin_create_court(
        &self,
        name: &str,
        level: &str,
        parent_id: i64,
        actor: &str,
    ) -> Result<Saved<i64>, StoreError> {
        in_write_tx!(self, |tx, chain| {
            let inserted: Result<(i64,), sqlx::Error> = sqlx::query_as(
                "INSERT INTO courts (name, level, parent_id) VALUES ($1, $2, $3) RETURNING id",
            )
            .bind(name)
            .bind(level)
            .bind(parent_id)
            .fetch_one(&mut *tx)
            .await;
            let id = match inserted {
                Ok((id,)) => id,
                Err(e) if is_unique_violation(&e) => return Ok(Saved::Taken),
                Err(e) => return Err(e.into()),
            };
            let entry = audit::AuditEntry::new(
                actor,
                "admin.court_created",
                format!("court:{id}"),
                serde_json::json!({"name": name, "level": level, "parent_id": parent_id}),
            );
            chain.push(self.now(), &entry);
            Ok(Saved::Done(id))
        })
    }

    /// Renames a court (audited).
    pub async fn admin_rename_court(
        &self,
        id: i64,
        name: &str,
        actor: &str,
    ) -> Result<Saved<()>, StoreError> {
        in_write_tx!(self, |tx, chain| {
            let done = sqlx::query("UPDATE courts SET name = $2 WHERE id = $1")
                .bind(id)
                .bind(name)
                .execute(&mut *tx)
                .await;
            match done {
                Ok(d) if d.rows_affected() == 0 => return Err(StoreError::NotFound),
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => return Ok(Saved::Taken),
                Err(e) => return Err(e.into()),
            }
            let entry = audit::AuditEntry::new(
                actor,
                "admin.court_renamed",
                format!("court:{id}"),
                serde_json::json!({"name": name}),
            );
            chain.push(self.now(), &entry);
            Ok(Saved::Done(()))
        })
    }

    /// A new host or local room in a court (audited).
    pub async fn admin_create_room(
        &self,
        kind: RoomType,
        court_id: i64,
        name: &str,
        actor: &str,
    ) -> Result<Saved<i64>, StoreError> {
        let sql = format!(
            "INSERT INTO {} (court_id, name) VALUES ($1, $2) RETURNING id",
            room_table(kind)
        );
        in_write_tx!(self, |tx, chain| {
            let inserted: Result<(i64,), sqlx::Error> = sqlx::query_as(&sql)
                .bind(court_id)
                .bind(name)
                .fetch_one(&mut *tx)
                .await;
            let id = match inserted {
                Ok((id,)) => id,
                Err(e) if is_unique_violation(&e) => return Ok(Saved::Taken),
                Err(e) => return Err(e.into()),
            };
            let entry = audit::AuditEntry::new(
                actor,
                "admin.room_created",
                format!("{}_room:{id}", room_kind_name(kind)),
                serde_json::json!({"court_id": court_id, "name": name}),
            );
            chain.push(self.now(), &entry);
            Ok(Saved::Done(id))
        })
    }

    /// Renames a room (audited).
    pub async fn admin_rename_room(
        &self,
        kind: RoomType,
        id: i64,
        name: &str,
        actor: &str,
    ) -> Result<Saved<()>, StoreError> {
        let sql = format!("UPDATE {} SET name = $2 WHERE id = $1", room_table(kind));
        in_write_tx!(self, |tx, chain| {
            let done = sqlx::query(&sql)
                .bind(id)
                .bind(name)
                .execute(&mut *tx)
                .await;
            match done {
                Ok(d) if d.rows_affected() == 0 => return Err(StoreError::NotFound),
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => return Ok(Saved::Taken),
                Err(e) => return Err(e.into()),
            }
            let entry = audit::AuditEntry::new(
                actor,
                "admin.room_renamed",
                format!("{}_room:{id}", room_kind_name(kind)),
                serde_json::json!({"name": name}),
            );
            chain.push(self.now(), &entry);
            Ok(Saved::Done(()))
        })
    }

    /// A new staff account (audited; the password hash is never in the audit entry).
    /// How many accounts the install has (`app::install`: the first administrator only on none).
    pub async fn user_count(&self) -> Result<i64, StoreError> {
        let (n,): (i64,) = on_pool!(self, |p| sqlx::query_as("SELECT COUNT(*) FROM users")
            .fetch_one(p)
            .await)?;
        Ok(n)
    }

    pub async fn admin_create_user(
        &self,
        user: &NewAccount<'_>,
        actor: &str,
    ) -> Result<Saved<i64>, StoreError> {
        in_write_tx!(self, |tx, chain| {
            let inserted: Result<(i64,), sqlx::Error> = sqlx::query_as(
                "INSERT INTO users (court_id, username, display_name, role, password_hash, must_change_password) \
                 VALUES ($1, $2, $3, $4, $5, TRUE) RETURNING id",
            )
            .bind(user.court_id)
            .bind(user.username)
            .bind(user.display_name)
            .bind(user.role.as_str())
            .bind(user.password_hash)
            .fetch_one(&mut *tx)
            .await;
            let id = match inserted {
                Ok((id,)) => id,
                Err(e) if is_unique_violation(&e) => return Ok(Saved::Taken),
                Err(e) => return Err(e.into()),
            };
            let entry = audit::AuditEntry::new(
                actor,
                "admin.user_created",
                format!("user:{id}"),
                serde_json::json!({
                    "court_id": user.court_id,
                    "username": user.username,
                    "role": user.role.as_str(),
                }),
            );
            chain.push(self.now(), &entry);
            Ok(Saved::Done(id))
        })
    }

    /// Changes a user's name, role or whether the account is disabled (audited, one entry
    /// naming what changed).
    pub async fn admin_update_user(
        &self,
        id: UserId,
        change: &UserChange<'_>,
        actor: &str,
    ) -> Result<(), StoreError> {
        in_write_tx!(self, |tx, chain| {
            let done = sqlx::query(
                "UPDATE users SET display_name = COALESCE($2, display_name), \
                 role = COALESCE($3, role), disabled = COALESCE($4, disabled) WHERE id = $1",
            )
            .bind(id)
            .bind(change.display_name)
            .bind(change.role.map(Role::as_str))
            .bind(change.disabled)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            let mut detail = serde_json::Map::new();
            if let Some(name) = change.display_name {
                detail.insert("display_name".into(), name.into());
            }
            if let Some(role) = change.role {
                detail.insert("role".into(), role.as_str().into());
            }
            if let Some(disabled) = change.disabled {
                detail.insert("disabled".into(), disabled.into());
            }
            let entry = audit::AuditEntry::new(
                actor,
                "admin.user_updated",
                format!("user:{id}"),
                serde_json::Value::Object(detail),
            );
            chain.push(self.now(), &entry);
        });
        Ok(())
    }

    /// Sets a new password and lifts any lockout (audited; the hash is not in the entry). The
    /// administrator knows it, so its owner must replace it at the next login.
    pub async fn admin_reset_password(
        &self,
        id: UserId,
        password_hash: &str,
        actor: &str,
    ) -> Result<(), StoreError> {
        in_write_tx!(self, |tx, chain| {
            let done = sqlx::query(
                "UPDATE users SET password_hash = $2, failed_logins = 0, locked_until = NULL, \
                 must_change_password = TRUE WHERE id = $1",
            )
            .bind(id)
            .bind(password_hash)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            let entry = audit::AuditEntry::new(
                actor,
                "admin.password_reset",
                format!("user:{id}"),
                serde_json::json!({"lockout_cleared": true}),
            );
            chain.push(self.now(), &entry);
        });
        Ok(())
    }
}

impl Store {
    /// The owner sets their own password (the one an administrator gave them, or any): no
    /// longer one to replace. Older tokens stop working (the `users_revoke_tokens` trigger).
    pub async fn change_own_password(
        &self,
        id: UserId,
        password_hash: &str,
    ) -> Result<(), StoreError> {
        in_write_tx!(self, |tx, chain| {
            let done = sqlx::query(
                "UPDATE users SET password_hash = $2, must_change_password = FALSE, \
                 failed_logins = 0, locked_until = NULL WHERE id = $1",
            )
            .bind(id)
            .bind(password_hash)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            let entry = audit::AuditEntry::new(
                format!("user-{id}"),
                "auth.password_changed",
                format!("user:{id}"),
                serde_json::json!({}),
            );
            chain.push(self.now(), &entry);
        });
        Ok(())
    }
}

/// When a lockout (if any) ends, for display.
pub fn locked_now(until: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    until.filter(|t| *t > Utc::now())
}
