//! Applications (申请) and their review (审核): the local court asks, the host court decides.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::preconditions::{self, Keeper, if_match, with_etag};
use crate::app::applications;
pub use crate::app::applications::ApplicationCreated;
use crate::auth::Staff;
use crate::domain::Role;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::store::applications::ApplicationRow;
pub use courtlink_parsers::bodies::{Answer, ApplicationRequest, Review};

/// Applies for a session for one case. Eligibility rules are checked at once (422
/// `ineligible` naming the rule). Where the host court approves automatically and a free slot
/// was chosen (or one lies in the preferred ranges), the session is booked at once.
#[utoipa::path(
    post,
    path = "/api/v1/applications",
    request_body = ApplicationRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "same key and body: the same answer")),
    responses(
        (status = 201, body = ApplicationCreated),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody),
        (status = 422, description = "invalid_input, ineligible (with `rule`), or a booking rule", body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "applications"
)]
#[post("/applications")]
pub async fn create_application(
    state: web::Data<AppState>,
    staff: Staff,
    req: HttpRequest,
    body: web::Json<ApplicationRequest>,
) -> Result<HttpResponse, ApiError> {
    // Before the idempotency key is read, as for every POST that takes one.
    staff.require(&[Role::Coordinator])?;
    let body = body.into_inner();
    preconditions::once(
        &state,
        &req,
        staff.user_id,
        &body,
        Keeper::Once,
        |_key| async {
            let created = applications::apply(&state, &staff, &body).await?;
            Ok((
                StatusCode::CREATED,
                serde_json::to_value(created).unwrap_or_default(),
            ))
        },
    )
    .await
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ApplicationQuery {
    /// pending, proposed, more_info, approved, rejected, withdrawn.
    pub status: Option<String>,
}

/// A coordinator's own court's applications; an officer's or supervisor's review queue (the
/// applications addressed to their court).
#[utoipa::path(
    get,
    path = "/api/v1/applications",
    params(ApplicationQuery),
    responses((status = 200, body = [ApplicationRow]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])),
    tag = "applications"
)]
#[get("/applications")]
pub async fn list_applications(
    state: web::Data<AppState>,
    staff: Staff,
    query: web::Query<ApplicationQuery>,
) -> Result<HttpResponse, ApiError> {
    let rows = applications::list(&state, &staff, query.status.as_deref()).await?;
    Ok(HttpResponse::Ok().json(rows))
}

/// One application, with its ETag.
#[utoipa::path(
    get,
    path = "/api/v1/applications/{id}",
    params(("id" = i64, Path, description = "application id")),
    responses((status = 200, body = ApplicationRow, headers(("ETag" = String))), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])),
    tag = "applications"
)]
#[get("/applications/{id}")]
pub async fn get_application(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let a = applications::get(&state, &staff, *id).await?;
    Ok(with_etag(StatusCode::OK, a.version, &a))
}

/// Reviews an application (the host court's officer or admin; `If-Match` required).
#[utoipa::path(
    post,
    path = "/api/v1/applications/{id}/review",
    params(("id" = i64, Path, description = "application id"), ("If-Match" = String, Header, description = "the application's ETag")),
    request_body = Review,
    responses(
        (status = 200, body = ApplicationRow),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "application_not_open, slot_taken, …", body = ErrorBody),
        (status = 412, body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 428, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "applications"
)]
#[post("/applications/{id}/review")]
pub async fn review_application(
    state: web::Data<AppState>,
    staff: Staff,
    req: HttpRequest,
    id: web::Path<i64>,
    body: web::Json<Review>,
) -> Result<HttpResponse, ApiError> {
    let a = applications::review(&state, &staff, *id, if_match(&req), body.into_inner()).await?;
    Ok(with_etag(StatusCode::OK, a.version, &a))
}

/// The coordinator answers: accept a proposed slot, amend after a request for more material,
/// or withdraw (`If-Match` required).
#[utoipa::path(
    post,
    path = "/api/v1/applications/{id}/answer",
    params(("id" = i64, Path, description = "application id"), ("If-Match" = String, Header, description = "the application's ETag")),
    request_body = Answer,
    responses(
        (status = 200, body = ApplicationCreated),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody),
        (status = 412, body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 428, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "applications"
)]
#[post("/applications/{id}/answer")]
pub async fn answer_application(
    state: web::Data<AppState>,
    staff: Staff,
    req: HttpRequest,
    id: web::Path<i64>,
    body: web::Json<Answer>,
) -> Result<HttpResponse, ApiError> {
    let answered =
        applications::answer(&state, &staff, *id, if_match(&req), body.into_inner()).await?;
    Ok(with_etag(
        StatusCode::OK,
        answered.application.version,
        &answered,
    ))
}
