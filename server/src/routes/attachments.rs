//! Attachments to a case (the case file) and each court's directory (联系人, 技术保障人员).
//! The rules are in `app::attachments` and `app::directory`; docs/ledger.md.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, put, web};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::app::directory::{CourtDirectory, Person};
use crate::app::{attachments, directory};
use crate::auth::Staff;
use crate::domain::CaseId;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::store::attachments::AttachmentRow;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(upload_attachment)
        .service(list_attachments)
        .service(download_attachment)
        .service(get_directory)
        .service(put_directory);
}

/// The name sent with an upload: `Content-Disposition: attachment; filename*=UTF-8''<percent-
/// encoded>` (or a plain `filename="…"`); never in the URL, where names would reach access logs.
fn sent_name(req: &HttpRequest) -> Option<String> {
    let cd = header::ContentDisposition::from_raw(req.headers().get(header::CONTENT_DISPOSITION)?)
        .ok()?;
    if let Some(ext) = cd.get_filename_ext() {
        return String::from_utf8(ext.value.clone()).ok();
    }
    cd.get_filename().map(str::to_owned)
}

/// Attaches a file to a case of the coordinator's court: a PDF or an image by default (the
/// permitted types and the size limit are settings), its type read from the content, never from
/// the name. Stored with its SHA-256; audited.
#[utoipa::path(
    post,
    path = "/api/v1/cases/{id}/attachments",
    params(
        ("id" = i64, Path, description = "case id"),
        ("Content-Disposition" = Option<String>, Header, description = "the file's name: `attachment; filename*=UTF-8''<percent-encoded name>`")
    ),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the file's bytes"),
    responses(
        (status = 201, body = AttachmentRow),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "forbidden: not the case's own court's coordinator", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 413, description = "attachment_too_large: over `attachments.max_bytes`", body = ErrorBody),
        (status = 415, description = "attachment_type_not_allowed: the content is not of a permitted type (whatever the name says)", body = ErrorBody),
        (status = 422, description = "attachment_empty; invalid_input, invalid_name: the file name", body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "cases"
)]
#[post("/cases/{id}/attachments")]
pub async fn upload_attachment(
    state: web::Data<AppState>,
    staff: Staff,
    req: HttpRequest,
    id: web::Path<CaseId>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    // Scope first: nobody's bytes are read for a case they may not write.
    let case = attachments::writable(&state.store, &staff, *id).await?;
    let settings = &state.settings.attachments;
    let bytes =
        super::cases::read_body(&req, body, settings.max_bytes, attachments::too_large).await?;
    let row = attachments::add(
        &state.store,
        &staff,
        &case,
        settings,
        sent_name(&req).as_deref(),
        &bytes,
    )
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/cases/{}/attachments/{}", case.id, row.id),
        ))
        .json(row))
}

/// The attachments of a case, without their bytes: for its court and every court above it.
#[utoipa::path(
    get,
    path = "/api/v1/cases/{id}/attachments",
    params(("id" = i64, Path, description = "case id")),
    responses(
        (status = 200, body = [AttachmentRow]),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "cases"
)]
#[get("/cases/{id}/attachments")]
pub async fn list_attachments(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<CaseId>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(attachments::list(&state.store, &staff, *id).await?))
}

/// Downloads an attachment: for the case's readers (its court and every court above it, so the
/// host officer of a booking on it). Every download is written to the audit chain
/// (`case.attachment_downloaded`). Sent with its sniffed type, as a download, with
/// `X-Content-Type-Options: nosniff` and its SHA-256 in `Repr-Digest`.
#[utoipa::path(
    get,
    path = "/api/v1/cases/{id}/attachments/{attachment_id}",
    params(
        ("id" = i64, Path, description = "case id"),
        ("attachment_id" = i64, Path, description = "attachment id")
    ),
    responses(
        (status = 200, description = "the file, with the type read from its content", content((Vec<u8> = "application/pdf"), (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"), (Vec<u8> = "image/gif"), (Vec<u8> = "image/webp"), (Vec<u8> = "image/tiff"))),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "cases"
)]
#[get("/cases/{id}/attachments/{attachment_id}")]
pub async fn download_attachment(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(CaseId, i64)>,
) -> Result<HttpResponse, ApiError> {
    use base64::Engine;
    let (case_id, id) = path.into_inner();
    let (row, content) = attachments::download(&state.store, &staff, case_id, id).await?;
    let digest = hex::decode(&row.sha256)
        .map(|d| base64::engine::general_purpose::STANDARD.encode(d))
        .unwrap_or_default();
    let ascii = format!("attachment-{}", row.id);
    let ext = row
        .media_type
        .parse::<crate::domain::MediaType>()
        .map_or("bin", crate::domain::MediaType::extension);
    let disposition = header::ContentDisposition {
        disposition: header::DispositionType::Attachment,
        parameters: vec![
            header::DispositionParam::Filename(format!("{ascii}.{ext}")),
            header::DispositionParam::FilenameExt(header::ExtendedValue {
                charset: header::Charset::Ext("UTF-8".into()),
                language_tag: None,
                value: row.file_name.clone().into_bytes(),
            }),
        ],
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, row.media_type.clone()))
        .insert_header(disposition)
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Cache-Control", "private, no-store"))
        .insert_header(("Repr-Digest", format!("sha-256=:{digest}:")))
        .body(content))
}

/// A court's directory: its contact person (联系人) and technical-support person (技术保障人员).
/// Read by the court's own staff (phones whole), by the other side of a live booking (phones
/// whole: they need to dial them), and by the courts above it (phones masked).
#[utoipa::path(
    get,
    path = "/api/v1/courts/{id}/directory",
    params(("id" = i64, Path, description = "court id")),
    responses(
        (status = 200, body = CourtDirectory),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "courts"
)]
#[get("/courts/{id}/directory")]
pub async fn get_directory(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let d = directory::read(&state.store, &staff, *id).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "private, no-store"))
        .json(d))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DirectoryRequest {
    /// 联系人; absent or null clears it.
    pub contact: Option<Person>,
    /// 技术保障人员; absent or null clears it.
    pub tech_support: Option<Person>,
}

/// Sets the caller's own court's directory (both persons; an absent one is cleared): its
/// coordinator or administrator. Phones are sealed at rest; the change is audited
/// (`court.directory_set`, without the phones).
#[utoipa::path(
    put,
    path = "/api/v1/courts/{id}/directory",
    params(("id" = i64, Path, description = "court id: the caller's own")),
    request_body = DirectoryRequest,
    responses(
        (status = 200, body = CourtDirectory),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "invalid_input (a name of 1 to 50 characters, a phone of 7 to 20 digits with spaces and dashes), invalid_name", body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "courts"
)]
#[put("/courts/{id}/directory")]
pub async fn put_directory(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
    body: web::Json<DirectoryRequest>,
) -> Result<HttpResponse, ApiError> {
    let d = directory::set(
        &state.store,
        &staff,
        *id,
        body.contact.as_ref(),
        body.tech_support.as_ref(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(d))
}
