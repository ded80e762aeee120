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
    let calendar = crate::app::clocks::calendar(&state).await?;
    Ok(HttpResponse::Ok().json(CaseDetail {
        case: CaseView::new(case, &calendar, state.clock.today()),
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
    id: web::Path<i64>,
    body: web::Json<ExtensionRequest>,
) -> Result<HttpResponse, ApiError> {
    staff.require(&[Role::Coordinator])?;
    let case = own_case(&state, &staff, *id).await?;
    let asked =
        crate::app::clocks::request_extension(&state, &staff, &case, body.days, &body.reason)
            .await?;
    Ok(HttpResponse::Accepted().json(asked))
}
