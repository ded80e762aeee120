//! Attachments to a case (the case file, issue 16): uploaded by the case's own court, read by
//! the case's readers — its court and every court above it, which includes the host court of any
//! booking on it (a host court is always above the local court) — and every download audited.
//! The type is read from the content (magic bytes), never from the file name; the size limit
//! and the permitted types are settings (`attachments.*`). docs/ledger.md, "Attachments".

use sha2::{Digest, Sha256};

use crate::app::scope::Scope;
use crate::auth::{Staff, name_input};
use crate::config::AttachmentSettings;
use crate::domain::{CaseId, MediaType};
use crate::error::{ApiError, ErrorCode};
use crate::store::attachments::{AttachmentRow, NewAttachment};
use crate::store::{CaseRow, Store, StoreError};

/// 413 `attachment_too_large`.
pub fn too_large(max: usize) -> ApiError {
    ApiError::TooLarge {
        code: ErrorCode::AttachmentTooLarge,
        message: format!(
            "the file is over {} bytes ({:.1} MiB), the largest attachment accepted",
            max,
            max as f64 / (1024.0 * 1024.0)
        ),
    }
}

/// The case the caller may attach files to: only the case's own court's coordinator (as for
/// every write to the case's ledger). Checked before the body is read.
pub async fn writable(store: &Store, staff: &Staff, case_id: CaseId) -> Result<CaseRow, ApiError> {
    Scope::of(store, staff).writable_case(case_id).await
}

/// The rule for an attachment's bytes: not empty, not over the limit, and of a permitted type as
/// read from the content. Returns the type.
pub fn check_content(bytes: &[u8], settings: &AttachmentSettings) -> Result<MediaType, ApiError> {
    if bytes.is_empty() {
        return Err(ApiError::Unprocessable {
            code: ErrorCode::AttachmentEmpty,
            message: "the file is empty".into(),
        });
    }
    if bytes.len() > settings.max_bytes {
        return Err(too_large(settings.max_bytes));
    }
    let allowed: Vec<&str> = settings.allowed_types.iter().map(|m| m.as_str()).collect();
    match MediaType::sniff(bytes) {
        Some(kind) if settings.allowed_types.contains(&kind) => Ok(kind),
        found => Err(ApiError::UnsupportedType {
            code: ErrorCode::AttachmentTypeNotAllowed,
            message: format!(
                "the file's content is {}; attachments may be {} (the type is read from the \
                 content, not from the file name)",
                found.map_or("of no permitted type", MediaType::as_str),
                allowed.join(", ")
            ),
        }),
    }
}

/// The name an attachment is shown by: the last part of what the client sent (a path is cut to
/// its file name), 1 to 200 characters, no hidden characters; `附件.<ext>` when none was sent.
fn file_name(raw: Option<&str>, kind: MediaType) -> Result<String, ApiError> {
    let base = raw
        .map(|r| r.rsplit(['/', '\\']).next().unwrap_or(r).trim())
        .filter(|r| !r.is_empty());
    match base {
        Some(name) => name_input("file_name", name, 200),
        None => Ok(format!("附件.{}", kind.extension())),
    }
}

/// Adds an attachment to a case the caller may write (see [`writable`]): checked by content,
/// stored with its SHA-256, audited.
pub async fn add(
    store: &Store,
    staff: &Staff,
    case: &CaseRow,
    settings: &AttachmentSettings,
    raw_name: Option<&str>,
    bytes: &[u8],
) -> Result<AttachmentRow, ApiError> {
    let kind = check_content(bytes, settings)?;
    let name = file_name(raw_name, kind)?;
    let sha256 = hex::encode(Sha256::digest(bytes));
    let row = store
        .add_attachment(&NewAttachment {
            case_id: case.id,
            file_name: &name,
            media_type: kind.as_str(),
            sha256: &sha256,
            content: bytes,
            actor: &format!("user-{}", staff.user_id),
            actor_name: &staff.name,
        })
        .await?;
    tracing::info!(
        case_id = case.id.get(),
        attachment = row.id,
        size = bytes.len(),
        "attachment added"
    );
    Ok(row)
}

/// The attachments of a case the caller may read.
pub async fn list(
    store: &Store,
    staff: &Staff,
    case_id: CaseId,
) -> Result<Vec<AttachmentRow>, ApiError> {
    let case = Scope::of(store, staff).readable_case(case_id).await?;
    Ok(store.attachments(case.id).await?)
}

/// An attachment's bytes for a reader of its case; the download is written to the audit chain
/// in the same transaction that reads it.
pub async fn download(
    store: &Store,
    staff: &Staff,
    case_id: CaseId,
    id: i64,
) -> Result<(AttachmentRow, Vec<u8>), ApiError> {
    let case = Scope::of(store, staff).readable_case(case_id).await?;
    match store
        .attachment_content_audited(case.id, id, &format!("user-{}", staff.user_id))
        .await
    {
        Ok(found) => Ok(found),
        Err(StoreError::NotFound) => Err(ApiError::NotFound("attachment")),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> AttachmentSettings {
        AttachmentSettings {
            max_bytes: 16,
            allowed_types: vec![MediaType::Pdf, MediaType::Png],
        }
    }

    #[test]
    fn content_decides() {
        assert_eq!(
            check_content(b"%PDF-1.4 x", &settings()).ok(),
            Some(MediaType::Pdf)
        );
        let code = |b: &[u8]| check_content(b, &settings()).unwrap_err().code();
        assert_eq!(code(b""), ErrorCode::AttachmentEmpty);
        assert_eq!(
            code(b"%PDF-1.4 this is too long"),
            ErrorCode::AttachmentTooLarge
        );
        assert_eq!(
            code(&[0xFF, 0xD8, 0xFF, 0xE0]),
            ErrorCode::AttachmentTypeNotAllowed
        );
        assert_eq!(code(b"MZ\x90\0 exe"), ErrorCode::AttachmentTypeNotAllowed);
    }

    #[test]
    fn names() {
        assert_eq!(
            file_name(Some("C:\\scans\\判决书.pdf"), MediaType::Pdf).unwrap(),
            "判决书.pdf"
        );
        assert_eq!(
            file_name(Some("../../etc/passwd"), MediaType::Pdf).unwrap(),
            "passwd"
        );
        assert_eq!(file_name(None, MediaType::Png).unwrap(), "附件.png");
        assert_eq!(file_name(Some("  "), MediaType::Jpeg).unwrap(), "附件.jpg");
        assert!(file_name(Some("a\u{202E}fdp.exe"), MediaType::Pdf).is_err());
    }
}
