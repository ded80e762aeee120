//! Each court's directory (联系人, 技术保障人员): names in the clear, phones sealed at rest as
//! identity numbers are. The rules (who writes, who reads what unmasked, the fallback to a
//! campaign's record) are in `app::directory`; this only reads and writes rows.

use crate::domain::UserId;
use chrono::{DateTime, Utc};

use super::{Store, StoreError, audit};

/// A court's directory as stored, phones opened.
#[derive(Debug, Clone)]
pub struct DirectoryRow {
    pub court_id: i64,
    pub contact: Option<(String, String)>,
    pub tech: Option<(String, String)>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Raw {
    court_id: i64,
    contact_name: Option<String>,
    contact_phone_sealed: Option<String>,
    tech_name: Option<String>,
    tech_phone_sealed: Option<String>,
    updated_at: DateTime<Utc>,
}

/// A phone as stored: sealed (`v1:…`), or plain text written before sealing, which reads as it is.
pub(crate) fn open_phone(stored: &str) -> Result<String, StoreError> {
    let sealer = crate::crypto::sealer().map_err(|e| StoreError::Corrupt(e.to_string()))?;
    sealer
        .open(stored)
        .map_err(|e| StoreError::Corrupt(format!("a sealed phone number: {e}")))
}

pub(crate) fn seal_phone(plain: &str) -> Result<String, StoreError> {
    let sealer = crate::crypto::sealer().map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(sealer.seal(plain))
}

fn person(
    name: Option<String>,
    phone: Option<String>,
) -> Result<Option<(String, String)>, StoreError> {
    match (name, phone) {
        (Some(n), Some(p)) => Ok(Some((n, open_phone(&p)?))),
        _ => Ok(None),
    }
}

/// What to write: each person a (name, phone) pair, or absent.
pub struct SetDirectory<'a> {
    pub court_id: i64,
    pub contact: Option<(&'a str, &'a str)>,
    pub tech: Option<(&'a str, &'a str)>,
    pub updated_by: UserId,
    /// `user-<id>`, for the audit entry.
    pub actor: &'a str,
}

impl Raw {
    /// The row with its phones opened.
    fn open(self) -> Result<DirectoryRow, StoreError> {
        Ok(DirectoryRow {
            court_id: self.court_id,
            contact: person(self.contact_name, self.contact_phone_sealed)?,
            tech: person(self.tech_name, self.tech_phone_sealed)?,
            updated_at: self.updated_at,
        })
    }
}

impl Store {
    /// The directory a court keeps, if it has written one.
    pub async fn directory(&self, court_id: i64) -> Result<Option<DirectoryRow>, StoreError> {
        let sql = "SELECT court_id, contact_name, contact_phone_sealed, tech_name, \
                   tech_phone_sealed, updated_at FROM court_directories WHERE court_id = $1";
        let raw: Option<Raw> = on_pool!(self, |p| sqlx::query_as(sql)
            .bind(court_id)
            .fetch_optional(p)
            .await)?;
        raw.map(Raw::open).transpose()
    }

    /// The persons a court recorded most recently on a connectivity campaign (where they were
    /// kept before courts had a directory), phones opened.
    pub async fn latest_campaign_persons(
        &self,
        court_id: i64,
    ) -> Result<Option<DirectoryRow>, StoreError> {
        let sql = "SELECT court_id, contact_name, contact_phone AS contact_phone_sealed, \
                   tech_name, tech_phone AS tech_phone_sealed, updated_at \
                   FROM connectivity_contacts WHERE court_id = $1 \
                   ORDER BY updated_at DESC LIMIT 1";
        let raw: Option<Raw> = on_pool!(self, |p| sqlx::query_as(sql)
            .bind(court_id)
            .fetch_optional(p)
            .await)?;
        raw.map(Raw::open).transpose()
    }

    /// Writes a court's directory (replacing what it held) with its audit entry, in one
    /// transaction. The audit entry names who changed it and which persons are set, never a
    /// phone number.
    pub async fn set_directory(&self, d: &SetDirectory<'_>) -> Result<(), StoreError> {
        let at = self.now();
        let contact_phone = d.contact.map(|(_, p)| seal_phone(p)).transpose()?;
        let tech_phone = d.tech.map(|(_, p)| seal_phone(p)).transpose()?;
        let detail = serde_json::json!({
            "contact_name": d.contact.map(|(n, _)| n),
            "tech_name": d.tech.map(|(n, _)| n),
        });
        in_write_tx!(self, |tx, chain| {
            sqlx::query(
                "INSERT INTO court_directories (court_id, contact_name, contact_phone_sealed, \
                 tech_name, tech_phone_sealed, updated_by, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (court_id) DO UPDATE SET contact_name = excluded.contact_name, \
                 contact_phone_sealed = excluded.contact_phone_sealed, \
                 tech_name = excluded.tech_name, tech_phone_sealed = excluded.tech_phone_sealed, \
                 updated_by = excluded.updated_by, updated_at = excluded.updated_at",
            )
            .bind(d.court_id)
            .bind(d.contact.map(|(n, _)| n))
            .bind(contact_phone.as_deref())
            .bind(d.tech.map(|(n, _)| n))
            .bind(tech_phone.as_deref())
            .bind(d.updated_by)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            let entry = audit::AuditEntry::new(
                d.actor.to_owned(),
                "court.directory_set",
                format!("court:{}", d.court_id),
                detail.clone(),
            );
            chain.push(self.now(), &entry);
        });
        Ok(())
    }

    /// Whether courts `a` and `b` are the two sides of a live booking: one the local court, the
    /// other the host court or a joint reception's second court.
    pub async fn live_booking_between(&self, a: i64, b: i64) -> Result<bool, StoreError> {
        let sql = "SELECT COUNT(*) FROM bookings bk \
                   JOIN local_rooms lr ON lr.id = bk.local_room_id \
                   JOIN slots s ON s.id = bk.slot_id \
                   JOIN host_rooms hr ON hr.id = s.host_room_id \
                   WHERE bk.status = 'booked' AND ( \
                     (lr.court_id = $1 AND (hr.court_id = $2 OR bk.joint_court_id = $2)) \
                     OR (lr.court_id = $2 AND (hr.court_id = $1 OR bk.joint_court_id = $1)))";
        let (n,): (i64,) = on_pool!(self, |p| sqlx::query_as(sql)
            .bind(a)
            .bind(b)
            .fetch_one(p)
            .await)?;
        Ok(n > 0)
    }
}
