//! A case's attachments (the case file): the bytes in the database beside their SHA-256, the
//! type read from the content, and who uploaded them. Append-only (triggers refuse an update or
//! a delete). The rules (who uploads, who reads, the permitted types and sizes) are in
//! `app::attachments`; this only runs the queries, and writes the audit entries in the same
//! transaction as what they record.

use crate::domain::CaseId;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Store, StoreError, audit};

/// An attachment as listed (without its bytes).
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct AttachmentRow {
    pub id: i64,
    #[schema(value_type = i64)]
    pub case_id: CaseId,
    /// The name it was uploaded with (shown; never used to decide its type).
    pub file_name: String,
    /// The type read from the content: `application/pdf`, `image/jpeg`, …
    pub media_type: String,
    pub size_bytes: i64,
    /// SHA-256 of the bytes as received, lower-case hex.
    pub sha256: String,
    /// `user-<id>` and the name of who uploaded it.
    pub uploaded_by: String,
    pub uploaded_by_name: String,
    pub uploaded_at: DateTime<Utc>,
}

pub struct NewAttachment<'a> {
    pub case_id: CaseId,
    pub file_name: &'a str,
    pub media_type: &'a str,
    pub sha256: &'a str,
    pub content: &'a [u8],
    pub actor: &'a str,
    pub actor_name: &'a str,
}

const COLUMNS: &str = "id, case_id, file_name, media_type, size_bytes, sha256, uploaded_by, \
                       uploaded_by_name, uploaded_at";

impl Store {
    /// Stores an attachment and its audit entry (`case.attachment_added`: name, type, size,
    /// SHA-256) in one transaction.
    pub async fn add_attachment(&self, a: &NewAttachment<'_>) -> Result<AttachmentRow, StoreError> {
        let at = self.now();
        let size = i64::try_from(a.content.len())
            .map_err(|_| StoreError::Corrupt("an attachment over i64::MAX bytes".into()))?;
        let id: i64 = in_write_tx!(self, |tx, chain| {
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO case_attachments (case_id, file_name, media_type, size_bytes, sha256, \
                 content, uploaded_by, uploaded_by_name, uploaded_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            )
            .bind(a.case_id)
            .bind(a.file_name)
            .bind(a.media_type)
            .bind(size)
            .bind(a.sha256)
            .bind(a.content)
            .bind(a.actor)
            .bind(a.actor_name)
            .bind(at)
            .fetch_one(&mut *tx)
            .await?;
            let entry = audit::AuditEntry::new(
                a.actor.to_owned(),
                "case.attachment_added",
                format!("case:{}", a.case_id),
                serde_json::json!({
                    "attachment": id,
                    "file_name": a.file_name,
                    "media_type": a.media_type,
                    "size_bytes": size,
                    "sha256": a.sha256,
                }),
            );
            chain.push(self.now(), &entry);
            id
        });
        self.attachment(a.case_id, id).await
    }

    /// The attachments of a case, oldest first.
    pub async fn attachments(&self, case_id: CaseId) -> Result<Vec<AttachmentRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM case_attachments WHERE case_id = $1 ORDER BY id");
        Ok(on_pool!(self, |p| sqlx::query_as(&sql)
            .bind(case_id)
            .fetch_all(p)
            .await)?)
    }

    /// The attachments a completion report (办结报告) names, without their bytes, oldest first.
    pub async fn report_attachments(
        &self,
        assignment_id: i64,
    ) -> Result<Vec<AttachmentRow>, StoreError> {
        let columns = COLUMNS
            .split(", ")
            .map(|c| format!("c.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {columns} FROM assignment_report_attachments r \
             JOIN case_attachments c ON c.id = r.attachment_id \
             WHERE r.assignment_id = $1 ORDER BY c.id"
        );
        Ok(on_pool!(self, |p| sqlx::query_as(&sql)
            .bind(assignment_id)
            .fetch_all(p)
            .await)?)
    }

    /// One attachment of a case, without its bytes; `NotFound` if the case has no such one.
    pub async fn attachment(&self, case_id: CaseId, id: i64) -> Result<AttachmentRow, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM case_attachments WHERE case_id = $1 AND id = $2");
        Ok(on_pool!(self, |p| sqlx::query_as(&sql)
            .bind(case_id)
            .bind(id)
            .fetch_one(p)
            .await)?)
    }

    /// An attachment's bytes, read and audited (`case.attachment_downloaded`, with its id and
    /// SHA-256) in one transaction: every download is on the audit chain.
    pub async fn attachment_content_audited(
        &self,
        case_id: CaseId,
        id: i64,
        actor: &str,
    ) -> Result<(AttachmentRow, Vec<u8>), StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM case_attachments WHERE case_id = $1 AND id = $2");
        in_write_tx!(self, |tx, chain| {
            let row: AttachmentRow = sqlx::query_as(&sql)
                .bind(case_id)
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
            let (content,): (Vec<u8>,) =
                sqlx::query_as("SELECT content FROM case_attachments WHERE id = $1")
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
            let entry = audit::AuditEntry::new(
                actor,
                "case.attachment_downloaded",
                format!("case:{case_id}"),
                serde_json::json!({"attachment": id, "sha256": row.sha256}),
            );
            chain.push(self.now(), &entry);
            Ok((row, content))
        })
    }
}
