//! Applications (申请) and their review (审核): the local court asks for a session, the host court
//! approves it into a slot, proposes another, asks for more material or rejects it, and the
//! local court answers. The eligibility rules are the booking rules' (`app::booking`), checked on
//! every path; which decision applies to which status is the store's table
//! (`Store::decide_application`). The routes read the request and call one function here.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::booking::{self, Eligibility, LocalSide, ineligible};
use crate::app::scope::Scope;
use crate::auth::Staff;
use crate::domain::{ApplicationStatus, CaseId, Role, SlotId, UserId};
use crate::error::{ApiError, ErrorCode, IneligibleRule};
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::applications::{ApplicationRow, Decision, NewApplication};
use courtlink_parsers::bodies::{Answer, ApplicationRequest, Review};
use courtlink_parsers::fields::{check_preferred_at, check_text};

/// What applying (or answering with an acceptance) gives back.
#[derive(Serialize, ToSchema)]
pub struct ApplicationCreated {
    pub application: ApplicationRow,
    /// Present when the host court approved automatically: the booking, with the join code.
    #[schema(value_type = Option<crate::app::booking::BookingCreated>)]
    pub booking: Option<serde_json::Value>,
    /// Why the chosen slot could not be booked at once; the application waits for review.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub booking_refused: Option<String>,
}

const WRONG_SLOT_APPLIED: &str = "slot_id must be a slot of host_court_id";
const WRONG_SLOT_REVIEWED: &str = "slot_id must be one of your court's slots";

fn already_open() -> ApiError {
    ineligible(
        IneligibleRule::ApplicationOpen,
        "this case already has an open application; wait for its answer or withdraw it",
    )
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
        return Err(already_open());
    }
    Ok(())
}

/// A coordinator applies for a session for one case of its court. Where the host court
/// approves automatically and a free slot was chosen (or one lies in the preferred ranges), the
/// session is booked at once; a booking rule that refuses it leaves the application to review.
/// The caller is a coordinator: the route checks it before the request's idempotency key, as
/// for a direct booking.
pub async fn apply(
    state: &AppState,
    staff: &Staff,
    body: &ApplicationRequest,
) -> Result<ApplicationCreated, ApiError> {
    check_text("reason", &body.reason, 2000)?;
    check_text("facts.note", &format!("{}.", body.facts.note), 2000)?;
    check_preferred_at(&body.preferred, state.clock.now())?;
    let local = booking::local_side(
        state,
        staff.court_id,
        CaseId(body.case_id),
        body.local_room_id,
        body.local_officer_id.map(UserId),
    )
    .await?;
    check_application(state, body, &local).await?;
    let store = &state.store;
    if let Some(slot_id) = body.slot_id {
        booking::host_slot(
            state,
            body.host_court_id,
            SlotId(slot_id),
            WRONG_SLOT_APPLIED,
        )
        .await?;
    }
    let settings = store.host_settings(body.host_court_id).await?;
    let id = match store
        .insert_application(&NewApplication {
            case_id: local.case.id,
            local_court_id: staff.court_id,
            host_court_id: body.host_court_id,
            local_room_id: body.local_room_id,
            local_officer_id: body.local_officer_id.map(UserId),
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
        }) => return Err(already_open()),
        Err(e) => return Err(e.into()),
    };
    let (mut booking, mut booking_refused) = (None, None);
    if settings.auto_approve {
        let application = store.application(id).await?;
        match booking::auto_book(
            state,
            staff,
            &application,
            &body.facts,
            body.slot_id.map(SlotId),
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
    Ok(ApplicationCreated {
        application: store.application(id).await?,
        booking,
        booking_refused,
    })
}

/// A coordinator's own court's applications; an officer's or supervisor's review queue (the
/// applications addressed to their court). `status` filters by one status.
pub async fn list(
    state: &AppState,
    staff: &Staff,
    status: Option<&str>,
) -> Result<Vec<ApplicationRow>, ApiError> {
    let status = status
        .map(|s| {
            s.parse::<ApplicationStatus>()
                .map_err(|_| ApiError::invalid(format!("unknown status {s:?}")))
        })
        .transpose()?;
    let store = &state.store;
    Ok(match staff.role {
        Role::Coordinator => {
            store
                .applications(Some(staff.court_id), None, status)
                .await?
        }
        Role::Officer | Role::Supervisor | Role::Admin => {
            store
                .applications(None, Some(staff.court_id), status)
                .await?
        }
    })
}

/// An application the caller may see (`scope::application_side`), and whether they are on its
/// host side.
async fn visible(
    state: &AppState,
    staff: &Staff,
    id: i64,
) -> Result<(ApplicationRow, bool), ApiError> {
    let a = match state.store.application(id).await {
        Ok(a) => a,
        Err(StoreError::NotFound) => return Err(ApiError::NotFound("application")),
        Err(e) => return Err(e.into()),
    };
    let host_side =
        Scope::of(&state.store, staff).application_side(a.local_court_id, a.host_court_id)?;
    Ok((a, host_side))
}

/// One application, for either side.
pub async fn get(state: &AppState, staff: &Staff, id: i64) -> Result<ApplicationRow, ApiError> {
    Ok(visible(state, staff, id).await?.0)
}

/// The host court's decision (its officer or administrator), on the application as of
/// `version`: the request's `If-Match`, whose absence counts only once the caller may see the
/// application (404 and 403 first).
pub async fn review(
    state: &AppState,
    staff: &Staff,
    id: i64,
    version: Result<i32, ApiError>,
    review: Review,
) -> Result<ApplicationRow, ApiError> {
    staff.require(&[Role::Officer, Role::Admin])?;
    let (a, host_side) = visible(state, staff, id).await?;
    if !host_side {
        return Err(ApiError::Forbidden("only the host court reviews"));
    }
    let version = version?;
    let store = &state.store;
    let at = state.clock.now();
    match review {
        Review::Approve { slot_id } => {
            let slot_id = SlotId(slot_id);
            let slot =
                booking::host_slot(state, a.host_court_id, slot_id, WRONG_SLOT_REVIEWED).await?;
            if !a
                .status
                .parse::<ApplicationStatus>()
                .is_ok_and(ApplicationStatus::is_open)
            {
                return Err(ApiError::conflict(
                    ErrorCode::ApplicationNotOpen,
                    format!("this application is {}", a.status),
                ));
            }
            booking::book_application(state, staff, &a, version, &slot).await?;
        }
        Review::Propose { slot_id, note } => {
            let slot_id = SlotId(slot_id);
            booking::host_slot(state, a.host_court_id, slot_id, WRONG_SLOT_REVIEWED).await?;
            if store.slot_is_booked(slot_id).await? {
                return Err(ApiError::from(StoreError::SlotTaken));
            }
            check_text("note", &note, 2000)?;
            let decision = Decision::Propose {
                slot_id,
                note: &note,
            };
            decide(state, staff, &a, version, decision, at).await?;
        }
        Review::MoreInfo { note } => {
            check_text("note", &note, 2000)?;
            let decision = Decision::MoreInfo { note: &note };
            decide(state, staff, &a, version, decision, at).await?;
        }
        Review::Reject { reason } => {
            check_text("reason", &reason, 2000)?;
            let decision = Decision::Reject { reason: &reason };
            decide(state, staff, &a, version, decision, at).await?;
        }
    }
    get(state, staff, a.id).await
}

async fn decide(
    state: &AppState,
    staff: &Staff,
    a: &ApplicationRow,
    version: i32,
    decision: Decision<'_>,
    at: DateTime<Utc>,
) -> Result<(), ApiError> {
    Ok(state
        .store
        .decide_application(a.id, version, &decision, staff.user_id, at)
        .await?)
}

/// The applying court's answer (its coordinator), on the application as of `version` (as for
/// `review`): accept a proposed slot (booked at once), amend after a request for more material,
/// or withdraw.
pub async fn answer(
    state: &AppState,
    staff: &Staff,
    id: i64,
    version: Result<i32, ApiError>,
    answer: Answer,
) -> Result<ApplicationCreated, ApiError> {
    staff.require(&[Role::Coordinator])?;
    let (a, host_side) = visible(state, staff, id).await?;
    if host_side {
        return Err(ApiError::Forbidden("only the applying court answers"));
    }
    let version = version?;
    let at = state.clock.now();
    let mut booking = None;
    match answer {
        Answer::Accept => {
            let (Some(slot_id), Ok(ApplicationStatus::Proposed)) =
                (a.proposed_slot_id, a.status.parse::<ApplicationStatus>())
            else {
                return Err(ApiError::conflict(
                    ErrorCode::NothingProposed,
                    "the host court has not proposed a slot",
                ));
            };
            let slot = state.store.slot(slot_id).await?;
            booking = Some(booking::book_application(state, staff, &a, version, &slot).await?);
        }
        Answer::Amend {
            reason,
            facts,
            preferred,
        } => {
            check_text("reason", &reason, 2000)?;
            check_preferred_at(&preferred, at)?;
            let decision = Decision::Amend {
                reason: reason.trim(),
                facts: &facts,
                preferred: &preferred,
            };
            decide(state, staff, &a, version, decision, at).await?;
        }
        Answer::Withdraw => decide(state, staff, &a, version, Decision::Withdraw, at).await?,
    }
    Ok(ApplicationCreated {
        application: get(state, staff, a.id).await?,
        booking,
        booking_refused: None,
    })
}
