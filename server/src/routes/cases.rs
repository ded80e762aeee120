use actix_web::{HttpResponse, get, web};

use super::views::{CaseDetail, CaseView, LedgerEntryView, RoomView};
use crate::auth::Staff;
use crate::domain::Role;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::store::StoreError;

/// A case of the caller's own court: 404 if there is none, 403 if it is another court's.
async fn own_case(
    state: &AppState,
    staff: &Staff,
    id: i64,
) -> Result<crate::store::CaseRow, ApiError> {
    let case = match state.store.case(id).await {
        Ok(c) => c,
        Err(StoreError::NotFound) => return Err(ApiError::NotFound("case")),
        Err(e) => return Err(e.into()),
    };
    if case.court_id != staff.court_id {
        return Err(ApiError::Forbidden("this case belongs to another court"));
    }
    Ok(case)
}

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
    let cases: Vec<CaseView> = state
        .store
        .cases_of_court(staff.court_id)
        .await?
        .into_iter()
        .map(CaseView::from)
        .collect();
    Ok(HttpResponse::Ok().json(cases))
}

/// One case of the coordinator's court, with its ledger (台账).
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
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    staff.require(&[Role::Coordinator])?;
    let case = own_case(&state, &staff, *id).await?;
    let ledger = state
        .store
        .ledger(case.id)
        .await?
        .into_iter()
        .map(LedgerEntryView::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(CaseDetail {
        case: case.into(),
        ledger,
    }))
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
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    staff.require(&[Role::Coordinator])?;
    let case = own_case(&state, &staff, *id).await?;
    let number = state
        .store
        .read_identity_audited(case.id, &format!("user-{}", staff.user_id))
        .await?;
    Ok(HttpResponse::Ok().json(IdentityRead {
        case_id: case.id,
        petitioner_id_number: number,
    }))
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionRequest {
    /// 1 to 30 days.
    pub days: i32,
    /// Why the case is complex enough to need more time (required).
    pub reason: String,
}

/// Extends the handling period of an accepted case, once, by up to 30 days, with a reason.
#[utoipa::path(
    post,
    path = "/api/v1/cases/{id}/extension",
    params(("id" = i64, Path, description = "case id")),
    request_body = ExtensionRequest,
    responses(
        (status = 200, body = CaseView),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "already_done: extended before, or not yet accepted", body = ErrorBody),
        (status = 422, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "cases"
)]
#[actix_web::post("/cases/{id}/extension")]
pub async fn extend(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
    body: web::Json<ExtensionRequest>,
) -> Result<HttpResponse, ApiError> {
    staff.require(&[Role::Coordinator])?;
    if !(1..=30).contains(&body.days) {
        return Err(ApiError::invalid("days: 1 to 30"));
    }
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ApiError::invalid("reason: 1 to 500 characters"));
    }
    let case = own_case(&state, &staff, *id).await?;
    state
        .store
        .extend_case(
            case.id,
            body.days,
            reason,
            &format!("user-{}", staff.user_id),
        )
        .await?;
    Ok(HttpResponse::Ok().json(CaseView::from(state.store.case(case.id).await?)))
}
