//! Applications (申请) and their review (审核): the local court asks, the host court decides.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::preconditions::{self, if_match, with_etag};
use crate::app::booking::{self, Eligibility, LocalSide, ineligible, not_found};
use crate::app::scope::Scope;
use crate::auth::Staff;
use crate::domain::Role;
use crate::error::{ApiError, ErrorBody, ErrorCode, IneligibleRule};
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::applications::{ApplicationRow, Decision, NewApplication};
pub use courtlink_parsers::bodies::{Answer, ApplicationRequest, Review};
use courtlink_parsers::fields::{check_preferred_at, check_text};

#[derive(Serialize, ToSchema)]
pub struct ApplicationCreated {
    pub application: ApplicationRow,
    /// Present when the host court approved automatically: the booking, with the join code.
    #[schema(value_type = Option<super::bookings::BookingCreated>)]
    pub booking: Option<serde_json::Value>,
    /// Why the chosen slot could not be booked at once; the application waits for review.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub booking_refused: Option<String>,
}

/// An application's rules before anything is written: the booking rules' eligibility (the same
/// on every path, in `app::booking`), and one open application per case.
async fn check_application(
    state: &AppState,
    body: &ApplicationRequest,
    local: &LocalSide,
) -> Result<(), ApiError> {
    booking::check_eligibility(
        state,
        local,
        &Eligibility {
            host_court_id: body.host_court_id,
            joint_court_id: body.joint_court_id,
            facts: Some(&body.facts),
            replaces: None,
        },
    )
    .await?;
    if state.store.case_has_open_application(local.case.id).await? {
        return Err(ineligible(
            IneligibleRule::ApplicationOpen,
            "this case already has an open application; wait for its answer or withdraw it",
        ));
    }
    Ok(())
}

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
    staff.require(&[Role::Coordinator])?;
    let body = body.into_inner();
    preconditions::once(&state, &req, staff.user_id, &body, |_key| async {
        check_text("reason", &body.reason, 2000)?;
        check_text("facts.note", &format!("{}.", body.facts.note), 2000)?;
        check_preferred_at(&body.preferred, state.clock.now())?;
        let local = booking::local_side(
            &state,
            staff.court_id,
            body.case_id,
            body.local_room_id,
            body.local_officer_id,
        )
        .await?;
        check_application(&state, &body, &local).await?;
        let store = &state.store;
        if let Some(slot_id) = body.slot_id {
            let slot = store.slot(slot_id).await.map_err(not_found("slot_id"))?;
            if slot.court_id != body.host_court_id {
                return Err(ApiError::invalid("slot_id must be a slot of host_court_id"));
            }
        }
        let settings = store.host_settings(body.host_court_id).await?;
        let id = match store
            .insert_application(&NewApplication {
                case_id: local.case.id,
                local_court_id: staff.court_id,
                host_court_id: body.host_court_id,
                local_room_id: body.local_room_id,
                local_officer_id: body.local_officer_id,
                joint_court_id: body.joint_court_id,
                preferred: &body.preferred,
                reason: body.reason.trim(),
                facts: &body.facts,
                created_by: staff.user_id,
                at: state.clock.now(),
            })
            .await
        {
            Ok(id) => id,
            // Another request for the same case was quicker.
            Err(StoreError::Conflict {
                code: ErrorCode::ApplicationOpen,
                ..
            }) => {
                return Err(ineligible(
                    IneligibleRule::ApplicationOpen,
                    "this case already has an open application; wait for its answer or withdraw it",
                ));
            }
            Err(e) => return Err(e.into()),
        };
        let (mut booking, mut booking_refused) = (None, None);
        if settings.auto_approve {
            let application = store.application(id).await?;
            match booking::auto_book(
                &state,
                &staff,
                &application,
                &body.facts,
                body.slot_id,
                &local,
            )
            .await
            {
                Ok(b) => booking = b,
                // The application stands; the host court reviews it like any other.
                Err(e @ (ApiError::Conflict { .. } | ApiError::Unprocessable { .. })) => {
                    booking_refused = Some(e.to_string());
                }
                Err(e) => return Err(e),
            }
        }
        let application = store.application(id).await?;
        Ok((
            StatusCode::CREATED,
            serde_json::to_value(ApplicationCreated {
                application,
                booking,
                booking_refused,
            })
            .unwrap_or_default(),
        ))
    })
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
    let status = query.status.as_deref();
    if let Some(s) = status {
        if ![
            "pending",
            "proposed",
            "more_info",
            "approved",
            "rejected",
            "withdrawn",
        ]
        .contains(&s)
        {
            return Err(ApiError::invalid(format!("unknown status {s:?}")));
        }
    }
    let rows = match staff.role {
        Role::Coordinator => {
            state
                .store
                .applications(Some(staff.court_id), None, status)
                .await?
        }
        Role::Officer | Role::Supervisor | Role::Admin => {
            state
                .store
                .applications(None, Some(staff.court_id), status)
                .await?
        }
    };
    Ok(HttpResponse::Ok().json(rows))
}

/// Whether the caller may see the application (`scope::application_side`); returns whether they
/// are on the host side.
fn application_side(state: &AppState, staff: &Staff, a: &ApplicationRow) -> Result<bool, ApiError> {
    Scope::of(&state.store, staff).application_side(a.local_court_id, a.host_court_id)
}

async fn load(state: &AppState, id: i64) -> Result<ApplicationRow, ApiError> {
    match state.store.application(id).await {
        Ok(a) => Ok(a),
        Err(StoreError::NotFound) => Err(ApiError::NotFound("application")),
        Err(e) => Err(e.into()),
    }
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
    let a = load(&state, *id).await?;
    application_side(&state, &staff, &a)?;
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
    staff.require(&[Role::Officer, Role::Admin])?;
    let a = load(&state, *id).await?;
    if !application_side(&state, &staff, &a)? {
        return Err(ApiError::Forbidden("only the host court reviews"));
    }
    let version = if_match(&req)?;
    let store = &state.store;
    let at = state.clock.now();
    let own_slot = |slot_id: i64| async move {
        let slot = store.slot(slot_id).await.map_err(not_found("slot_id"))?;
        if slot.court_id != a.host_court_id {
            return Err(ApiError::invalid(
                "slot_id must be one of your court's slots",
            ));
        }
        Ok(slot)
    };
    match body.into_inner() {
        Review::Approve { slot_id } => {
            let slot = own_slot(slot_id).await?;
            if !matches!(a.status.as_str(), "pending" | "proposed" | "more_info") {
                return Err(ApiError::conflict(
                    ErrorCode::ApplicationNotOpen,
                    format!("this application is {}", a.status),
                ));
            }
            booking::book_application(&state, &staff, &a, version, &slot).await?;
        }
        Review::Propose { slot_id, note } => {
            own_slot(slot_id).await?;
            if store.slot_is_booked(slot_id).await? {
                return Err(ApiError::from(StoreError::SlotTaken));
            }
            check_text("note", &note, 2000)?;
            store
                .decide_application(
                    a.id,
                    version,
                    &Decision::Propose {
                        slot_id,
                        note: &note,
                    },
                    staff.user_id,
                    at,
                )
                .await?;
        }
        Review::MoreInfo { note } => {
            check_text("note", &note, 2000)?;
            store
                .decide_application(
                    a.id,
                    version,
                    &Decision::MoreInfo { note: &note },
                    staff.user_id,
                    at,
                )
                .await?;
        }
        Review::Reject { reason } => {
            check_text("reason", &reason, 2000)?;
            store
                .decide_application(
                    a.id,
                    version,
                    &Decision::Reject { reason: &reason },
                    staff.user_id,
                    at,
                )
                .await?;
        }
    }
    let a = load(&state, a.id).await?;
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
    staff.require(&[Role::Coordinator])?;
    let a = load(&state, *id).await?;
    if application_side(&state, &staff, &a)? {
        return Err(ApiError::Forbidden("only the applying court answers"));
    }
    let version = if_match(&req)?;
    let store = &state.store;
    let at = state.clock.now();
    let mut booking = None;
    match body.into_inner() {
        Answer::Accept => {
            let (Some(slot_id), "proposed") = (a.proposed_slot_id, a.status.as_str()) else {
                return Err(ApiError::conflict(
                    ErrorCode::NothingProposed,
                    "the host court has not proposed a slot",
                ));
            };
            let slot = store.slot(slot_id).await?;
            booking = Some(booking::book_application(&state, &staff, &a, version, &slot).await?);
        }
        Answer::Amend {
            reason,
            facts,
            preferred,
        } => {
            check_text("reason", &reason, 2000)?;
            check_preferred_at(&preferred, state.clock.now())?;
            store
                .decide_application(
                    a.id,
                    version,
                    &Decision::Amend {
                        reason: reason.trim(),
                        facts: &facts,
                        preferred: &preferred,
                    },
                    staff.user_id,
                    at,
                )
                .await?;
        }
        Answer::Withdraw => {
            store
                .decide_application(a.id, version, &Decision::Withdraw, staff.user_id, at)
                .await?;
        }
    }
    let application = load(&state, a.id).await?;
    Ok(with_etag(
        StatusCode::OK,
        application.version,
        &ApplicationCreated {
            application,
            booking,
            booking_refused: None,
        },
    ))
}
