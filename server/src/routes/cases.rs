use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::views::{CaseDetail, CaseView, ClassChangeView, CourtRef, LedgerEntryView, RoomView};
use crate::app::ledger;
use crate::app::scope::Scope;
use crate::auth::Staff;
use crate::domain::{CaseClass, CaseId, Channel, Outcome, ReceivingOrgan, Role};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::state::AppState;
use crate::store::CaseRow;
pub use courtlink_parsers::bodies::ExtensionRequest;

/// The cases of the coordinator's own court.
#[utoipa::path(
    get,
    path = "/api/v1/cases",
    responses((status = 200, body = [CaseView]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])),
    tag = "cases"
)]
#[get("/cases")]
pub async fn list_cases(
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<HttpResponse, ApiError> {
    staff.require(&[Role::Coordinator])?;
    let calendar = crate::app::clocks::calendar(&state).await?;
    let today = state.clock.today();
    let cases: Vec<CaseView> = state
        .store
        .cases_of_court(staff.court_id)
        .await?
        .into_iter()
        .map(|c| CaseView::new(c, &calendar, today))
        .collect();
    Ok(HttpResponse::Ok().json(cases))
}

/// One case with its ledger (台账), corrections beside what they correct, and its class changes:
/// for its own court and every court above it.
#[utoipa::path(
    get,
    path = "/api/v1/cases/{id}",
    params(("id" = i64, Path, description = "case id")),
    responses(
        (status = 200, body = CaseDetail),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "cases"
)]
#[get("/cases/{id}")]
pub async fn get_case(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<CaseId>,
) -> Result<HttpResponse, ApiError> {
    let (case, ledger, changes) = ledger::case_file(&state.store, &staff, *id).await?;
    Ok(HttpResponse::Ok().json(detail(&state, case, ledger, changes).await?))
}

fn follow_ups(state: &AppState) -> crate::app::assignments::FollowUps<'_> {
    crate::app::assignments::FollowUps {
        settings: &state.settings.follow_ups,
        clock: state.clock,
    }
}

async fn detail(
    state: &AppState,
    case: CaseRow,
    ledger: Vec<crate::store::LedgerRow>,
    changes: Vec<crate::store::ledger::ClassChangeRow>,
) -> Result<CaseDetail, ApiError> {
    let calendar = crate::app::clocks::calendar(state).await?;
    let follow_ups =
        crate::app::assignments::of_case(&state.store, follow_ups(state), case.id).await?;
    // The caller is a reader of the case (`ledger::case_file` checked it).
    let attachments = state.store.attachments(case.id).await?;
    Ok(CaseDetail {
        attachments,
        follow_ups,
        case: CaseView::new(case, &calendar, state.clock.today()),
        ledger: ledger
            .into_iter()
            .map(LedgerEntryView::try_from)
            .collect::<Result<Vec<_>, _>>()?,
        class_changes: changes
            .into_iter()
            .map(ClassChangeView::try_from)
            .collect::<Result<Vec<_>, _>>()?,
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenCaseRequest {
    /// The court's own number for the case, 1 to 64 characters, unique in the court.
    pub case_number: String,
    /// 1 to 64 characters.
    pub petitioner_name: String,
    /// 18 characters with a valid check digit. Sealed at rest; never in a URL or a log line.
    pub petitioner_id_number: String,
    /// 1 to 10000 (default 1); five or more make the case collective (集体访).
    pub petitioner_count: Option<i32>,
    /// Required for five or more petitioners.
    pub representative: Option<String>,
    /// 原审案号: required for a litigation matter; also used to find the same matter again.
    pub original_case_number: Option<String>,
    /// 原审法院.
    pub original_court: Option<String>,
    /// 案件类型 of the original lawsuit (e.g. 民事, 执行).
    pub original_case_kind: Option<String>,
    /// The matter in the petitioner's words, 1 to 4000 characters.
    pub matter: String,
    /// The summary, 1 to 200 characters.
    pub subject: String,
    /// How it came in: local_visit, letter, phone or online.
    pub channel: Channel,
    pub case_class: CaseClass,
    /// When it came in (default now; not in the future).
    pub received_at: Option<DateTime<Utc>>,
    /// Open it even though a case with the same petitioner or original case exists.
    #[serde(default)]
    pub confirm_new: bool,
}

/// An existing case that may be the same matter (never with the identity number).
#[derive(Serialize, ToSchema)]
pub struct CaseMatchView {
    pub id: i64,
    pub case_number: String,
    pub court: CourtRef,
    pub status: crate::domain::CaseStatus,
    pub case_class: CaseClass,
    /// `petitioner` (same identity number) or `original_case` (same 原审案号).
    pub matched_on: String,
}

/// 409 `possible_duplicate`: the matches, for the coordinator to decide.
#[derive(Serialize, ToSchema)]
pub struct PossibleDuplicate {
    /// `possible_duplicate`.
    pub code: ErrorCode,
    pub message: String,
    /// The matches (only with `possible_duplicate`; `case_number_taken` has none).
    #[schema(required = false)]
    pub matches: Vec<CaseMatchView>,
}

/// Opens a case at the coordinator's court (立案/登记), with the contact that brought it in. A
/// case with the same petitioner or the same original case number is offered first (409
/// `possible_duplicate`); send `confirm_new: true` to open it anyway.
#[utoipa::path(
    post,
    path = "/api/v1/cases",
    request_body = OpenCaseRequest,
    responses(
        (status = 201, body = CaseDetail),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 409, description = "possible_duplicate (with the matches) or case_number_taken", body = PossibleDuplicate),
        (status = 422, description = "invalid_input, invalid_name, invalid_id_number", body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "cases"
)]
#[post("/cases")]
pub async fn open_case(
    state: web::Data<AppState>,
    staff: Staff,
    body: web::Json<OpenCaseRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let opened = ledger::open_case(
        &state.store,
        &staff,
        ledger::OpenCaseCommand {
            fields: ledger::CaseFields {
                case_number: &b.case_number,
                petitioner_name: &b.petitioner_name,
                petitioner_id_number: &b.petitioner_id_number,
                petitioner_count: b.petitioner_count,
                representative: b.representative.as_deref(),
                original_case_number: b.original_case_number.as_deref(),
                original_court: b.original_court.as_deref(),
                original_case_kind: b.original_case_kind.as_deref(),
                matter: &b.matter,
                subject: &b.subject,
                channel: b.channel,
                case_class: b.case_class,
                received_at: b.received_at,
            },
            confirm_new: b.confirm_new,
            now: state.clock.now(),
        },
    )
    .await?;
    match opened {
        ledger::Opened::Created(id) => {
            let (case, entries, changes) = ledger::case_file(&state.store, &staff, id).await?;
            Ok(HttpResponse::Created()
                .insert_header(("Location", format!("/api/v1/cases/{id}")))
                .json(detail(&state, case, entries, changes).await?))
        }
        ledger::Opened::PossibleDuplicates(rows) => {
            let matches = rows
                .into_iter()
                .map(|m| {
                    Ok(CaseMatchView {
                        id: m.id.get(),
                        case_number: m.case_number,
                        court: CourtRef {
                            id: m.court_id,
                            name: m.court_name,
                        },
                        status: m.status,
                        case_class: m.case_class,
                        matched_on: m.matched_on,
                    })
                })
                .collect::<Result<Vec<_>, ApiError>>()?;
            Ok(HttpResponse::Conflict().json(PossibleDuplicate {
                code: ErrorCode::PossibleDuplicate,
                message: format!(
                    "{} existing case(s) may be the same matter: open one of them, or send \
                     confirm_new to open a new case",
                    matches.len()
                ),
                matches,
            }))
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactRequest {
    /// local_visit, letter, phone, online, to_province or to_beijing (video receptions are
    /// written by the session that held them).
    pub channel: Channel,
    /// When it happened (default now; not in the future).
    pub at: Option<DateTime<Utc>>,
    /// Who received it (default: the caller), 1 to 64 characters.
    pub received_by: Option<String>,
    /// Default `court`.
    pub receiving_organ: Option<ReceivingOrgan>,
    /// For `court`: the case's court (the default for local channels) or a court above it;
    /// required for to_province / to_beijing received by a court. Absent for the organs.
    pub receiving_court_id: Option<i64>,
    /// What happened, 1 to 2000 characters.
    pub summary: String,
    /// Must fit the case's class (GET /cases/{id}/outcomes).
    pub outcome: Option<Outcome>,
    /// A contact the court made or arranged itself, e.g. its own follow-up call (default false).
    #[serde(default)]
    pub court_initiated: bool,
    /// The id of an entry of this case that this one corrects; the original stays.
    pub corrects: Option<i64>,
    /// Why: required with `corrects`, 1 to 500 characters.
    pub reason: Option<String>,
    /// With outcome `assign` (交办) handed down by the receiving court above: the follow-up
    /// task's terms, each with a default (docs/follow-ups.md).
    pub assignment: Option<AssignTermsRequest>,
}

/// The terms of a 交办 (docs/follow-ups.md).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignTermsRequest {
    /// The court it goes to: the case's court by default; the assigning court or one below it.
    pub court_id: Option<i64>,
    /// The deadline in working days (default `follow_ups.default_working_days`, 15), within
    /// `follow_ups.min_working_days`..=`max_working_days` (1 to 60).
    pub working_days: Option<i64>,
    /// What the court below is to do, 1 to 2000 characters (default: the summary).
    pub instruction: Option<String>,
}

/// Logs a contact on a case of the coordinator's court (有访必录), or a correction of one.
#[utoipa::path(
    post,
    path = "/api/v1/cases/{id}/contacts",
    params(("id" = i64, Path, description = "case id")),
    request_body = ContactRequest,
    responses(
        (status = 201, body = CaseDetail),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "invalid_input, invalid_name, video_by_session_only, outcome_not_for_class, receiving_court_invalid, correction_target_invalid; for 交办: assign_needs_higher_court, assignment_court_invalid, deadline_out_of_bounds", body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "cases"
)]
#[post("/cases/{id}/contacts")]
pub async fn log_contact(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<CaseId>,
    body: web::Json<ContactRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    crate::app::assignments::log_contact(
        &state.store,
        follow_ups(&state),
        &staff,
        *id,
        ledger::ContactCommand {
            channel: b.channel,
            at: b.at,
            now: state.clock.now(),
            received_by: b.received_by.as_deref(),
            receiving_organ: b.receiving_organ,
            receiving_court_id: b.receiving_court_id,
            summary: &b.summary,
            outcome: b.outcome,
            court_initiated: b.court_initiated,
            corrects: b.corrects,
            reason: b.reason.as_deref(),
        },
        b.assignment
            .as_ref()
            .map(|a| crate::app::assignments::Terms {
                court_id: a.court_id,
                working_days: a.working_days,
                instruction: a.instruction.as_deref(),
            }),
    )
    .await?;
    let (case, entries, changes) = ledger::case_file(&state.store, &staff, *id).await?;
    Ok(HttpResponse::Created().json(detail(&state, case, entries, changes).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassRequest {
    pub case_class: CaseClass,
    /// Why (required), 1 to 500 characters.
    pub reason: String,
}

/// Changes a case's class (诉访分离: 涉诉 / 信访), with a reason; audited and on its timeline.
#[utoipa::path(
    post,
    path = "/api/v1/cases/{id}/class",
    params(("id" = i64, Path, description = "case id")),
    request_body = ClassRequest,
    responses(
        (status = 200, body = CaseDetail),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "class_unchanged", body = ErrorBody),
        (status = 422, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "cases"
)]
#[post("/cases/{id}/class")]
pub async fn change_class(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<CaseId>,
    body: web::Json<ClassRequest>,
) -> Result<HttpResponse, ApiError> {
    ledger::change_class(&state.store, &staff, *id, body.case_class, &body.reason).await?;
    let (case, entries, changes) = ledger::case_file(&state.store, &staff, *id).await?;
    Ok(HttpResponse::Ok().json(detail(&state, case, entries, changes).await?))
}

/// The outcomes that fit the case's class, in order: what the UI offers.
#[utoipa::path(
    get,
    path = "/api/v1/cases/{id}/outcomes",
    params(("id" = i64, Path, description = "case id")),
    responses(
        (status = 200, body = [Outcome]),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "cases"
)]
#[get("/cases/{id}/outcomes")]
pub async fn outcomes(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<CaseId>,
) -> Result<HttpResponse, ApiError> {
    let case = Scope::of(&state.store, &staff).readable_case(*id).await?;
    Ok(HttpResponse::Ok().json(ledger::outcomes_for(&case)))
}

/// The video rooms of the coordinator's court.
#[utoipa::path(
    get,
    path = "/api/v1/local-rooms",
    responses((status = 200, body = [RoomView]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])),
    tag = "cases"
)]
#[get("/local-rooms")]
pub async fn local_rooms(
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<HttpResponse, ApiError> {
    staff.require(&[Role::Coordinator])?;
    let rooms: Vec<RoomView> = state
        .store
        .local_rooms(staff.court_id)
        .await?
        .into_iter()
        .map(|r| RoomView {
            id: r.id,
            name: r.name,
        })
        .collect();
    Ok(HttpResponse::Ok().json(rooms))
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct IdentityRead {
    pub case_id: i64,
    /// Unmasked. Each read is written to the audit log.
    pub petitioner_id_number: String,
}

/// Reads a petitioner's identity number unmasked: a separate, audited action of the case's
/// own court (PIPL: identity numbers are sensitive personal information).
#[utoipa::path(
    post,
    path = "/api/v1/cases/{id}/identity-reads",
    params(("id" = i64, Path, description = "case id")),
    responses(
        (status = 200, body = IdentityRead),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "cases"
)]
#[actix_web::post("/cases/{id}/identity-reads")]
pub async fn read_identity(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<CaseId>,
) -> Result<HttpResponse, ApiError> {
    let case = Scope::of(&state.store, &staff).writable_case(*id).await?;
    let number = state
        .store
        .read_identity_audited(case.id, &format!("user-{}", staff.user_id))
        .await?;
    Ok(HttpResponse::Ok().json(IdentityRead {
        case_id: case.id.get(),
        petitioner_id_number: number,
    }))
}

/// Asks to extend the handling period of an accepted case that is not yet answered: once, by
/// up to 30 days, with a reason. The request changes no clock: it applies when a person in
/// charge approves it (`POST /api/v1/extensions/{id}/decision`, docs/clocks.md).
#[utoipa::path(
    post,
    path = "/api/v1/cases/{id}/extension",
    params(("id" = i64, Path, description = "case id")),
    request_body = ExtensionRequest,
    responses(
        (status = 202, description = "asked for; pending approval", body = crate::store::clocks::ExtensionRow),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "already_done: asked for or approved before; extension_not_applicable: not accepted, or already answered", body = ErrorBody),
        (status = 422, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "cases"
)]
#[actix_web::post("/cases/{id}/extension")]
pub async fn extend(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<CaseId>,
    body: web::Json<ExtensionRequest>,
) -> Result<HttpResponse, ApiError> {
    let case = Scope::of(&state.store, &staff).writable_case(*id).await?;
    let asked =
        crate::app::clocks::request_extension(&state, &staff, &case, body.days, &body.reason)
            .await?;
    Ok(HttpResponse::Accepted().json(asked))
}

#[derive(Deserialize, utoipa::ToSchema, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum TemplateFormat {
    Csv,
    Xlsx,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TemplateQuery {
    /// `csv` (UTF-8 with BOM; the default) or `xlsx`.
    pub format: Option<TemplateFormat>,
}

/// The ledger template (台账导入模板): the header row of an import, in zh-CN (the English
/// column names are accepted too). The XLSX has every column formatted as text and a second
/// sheet, 填写说明, that says what goes in each column (docs/ledger.md).
#[utoipa::path(
    get,
    path = "/api/v1/cases/import/template",
    params(TemplateQuery),
    responses(
        (status = 200, description = "CSV (UTF-8 with BOM) or an XLSX workbook", content((String = "text/csv"), (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "cases"
)]
#[get("/cases/import/template")]
pub async fn import_template(
    staff: Staff,
    query: web::Query<TemplateQuery>,
) -> Result<HttpResponse, ApiError> {
    use crate::app::ledger_import as import;
    ledger::may_open_cases(&staff)?;
    let (bytes, content_type, name) = match query.format.unwrap_or(TemplateFormat::Csv) {
        TemplateFormat::Csv => (
            import::template_csv(),
            "text/csv; charset=utf-8",
            "ledger-template.csv",
        ),
        TemplateFormat::Xlsx => (
            import::template_xlsx()?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "ledger-template.xlsx",
        ),
    };
    // 台账导入模板, percent-encoded for `filename*`.
    let zh = "%E5%8F%B0%E8%B4%A6%E5%AF%BC%E5%85%A5%E6%A8%A1%E6%9D%BF";
    let ext = name.rsplit('.').next().unwrap_or("csv");
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CONTENT_TYPE, content_type))
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\"; filename*=UTF-8''{zh}.{ext}"),
        ))
        .body(bytes))
}

/// The file of an import, read up to the limit: 413 `import_too_large` past it, by the declared
/// length before anything is read, or as soon as the bytes run over.
async fn read_upload(
    req: &actix_web::HttpRequest,
    body: web::Payload,
    max: usize,
) -> Result<Vec<u8>, ApiError> {
    read_body(req, body, max, crate::app::ledger_import::too_large).await
}

/// An uploaded file, read up to `max` bytes: `too_large(max)` past it, by the declared length
/// before anything is read, or as soon as the bytes run over. (Imports and attachments.)
pub(super) async fn read_body(
    req: &actix_web::HttpRequest,
    mut body: web::Payload,
    max: usize,
    too_large: fn(usize) -> ApiError,
) -> Result<Vec<u8>, ApiError> {
    use futures_util::StreamExt;
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = declared.filter(|&n| n > max as u64) {
        // Up to twice the limit the client's file is read to its end, so that it reads the
        // answer; past that it is cut off.
        if n <= 2 * max as u64 {
            drain(&mut body, n as usize).await;
        }
        return Err(too_large(max));
    }
    let mut bytes = Vec::with_capacity(declared.map_or(64 * 1024, |n| n as usize));
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| match e {
            actix_web::error::PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
                ApiError::BadRequest {
                    code: ErrorCode::BodyTooSlow,
                    message: io.to_string(),
                }
            }
            other => ApiError::BadRequest {
                code: ErrorCode::BadRequest,
                message: format!("the file could not be read: {other}"),
            },
        })?;
        if bytes.len() + chunk.len() > max {
            drain(&mut body, max).await;
            return Err(too_large(max));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// Reads and drops what is left of a refused upload: up to `limit` more bytes, for at most 5 s.
/// Otherwise the connection closes after the refusal, and a client still sending its file gets
/// a broken pipe instead of the answer (a browser shows a network error, not the 413's words).
async fn drain(body: &mut web::Payload, limit: usize) {
    use futures_util::StreamExt;
    let mut left = limit;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while let Some(Ok(chunk)) = body.next().await {
            let Some(rest) = left.checked_sub(chunk.len()) else {
                break;
            };
            left = rest;
        }
    })
    .await;
}

fn import_limits(state: &AppState) -> crate::app::ledger_import::Limits {
    crate::app::ledger_import::Limits {
        max_bytes: state.settings.ledger.import_max_bytes,
        max_rows: state.settings.ledger.import_max_rows,
    }
}

/// Previews the import of a ledger file (CSV or XLSX, sent as the body; its type is read from
/// its content): the rows that would be created, the rows that are the same matter as a case on
/// record (matched: not created), and the rows refused, each with its row number (the header is
/// row 1), a stable code and the reason in zh-CN. Changes nothing.
#[utoipa::path(
    post,
    path = "/api/v1/cases/import/preview",
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the ledger file: CSV (UTF-8 or GB18030) or XLSX"),
    responses(
        (status = 200, body = crate::app::ledger_import::ImportReport),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 413, description = "import_too_large, import_too_many_rows", body = ErrorBody),
        (status = 415, description = "import_unsupported_type: neither CSV nor XLSX", body = ErrorBody),
        (status = 422, description = "import_unreadable, import_missing_columns, import_unknown_columns, import_duplicate_columns", body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "cases"
)]
#[post("/cases/import/preview")]
pub async fn import_preview(
    state: web::Data<AppState>,
    staff: Staff,
    req: actix_web::HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    ledger::may_open_cases(&staff)?;
    let limits = import_limits(&state);
    let bytes = read_upload(&req, body, limits.max_bytes).await?;
    let report =
        crate::app::ledger_import::preview(&state.store, &staff, &bytes, limits, state.clock.now())
            .await?;
    Ok(HttpResponse::Ok().json(report))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CommitQuery {
    /// The `plan` of the preview: if the import would now do anything else, nothing is written
    /// (409 `import_changed`).
    pub plan: Option<String>,
}

/// Imports a ledger file into the caller's court (at `/import/commit`: `/cases/import` alone
/// would be read as `GET /cases/{id}`): the same file again after its preview (not a
/// token: nothing is kept between the two, so any instance can take the commit, and the file
/// is checked afresh against the ledger as it is now). Every new case is written in one
/// transaction with its intake contact and audit entry; matched and refused rows are reported
/// and not written. A file that cannot be read changes nothing.
#[utoipa::path(
    post,
    path = "/api/v1/cases/import/commit",
    params(CommitQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the ledger file: CSV (UTF-8 or GB18030) or XLSX"),
    responses(
        (status = 200, description = "committed: the new cases' ids on their rows", body = crate::app::ledger_import::ImportReport),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 409, description = "import_changed: the plan differs from the preview's, or the ledger changed while writing; nothing written", body = ErrorBody),
        (status = 413, description = "import_too_large, import_too_many_rows", body = ErrorBody),
        (status = 415, description = "import_unsupported_type: neither CSV nor XLSX", body = ErrorBody),
        (status = 422, description = "import_unreadable, import_missing_columns, import_unknown_columns, import_duplicate_columns", body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "cases"
)]
#[post("/cases/import/commit")]
pub async fn import_commit(
    state: web::Data<AppState>,
    staff: Staff,
    req: actix_web::HttpRequest,
    query: web::Query<CommitQuery>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    ledger::may_open_cases(&staff)?;
    let limits = import_limits(&state);
    let bytes = read_upload(&req, body, limits.max_bytes).await?;
    let report = crate::app::ledger_import::commit(
        &state.store,
        &staff,
        &bytes,
        limits,
        query.plan.as_deref(),
        state.clock.now(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(report))
}
