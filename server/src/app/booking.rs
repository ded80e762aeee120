//! Booking: the one entry point for every path that makes a booking. A direct booking
//! (`POST /bookings`), an application booked at once where the host court approves
//! automatically, the host court's approval of an application, the coordinator accepting a
//! counter-proposal, and a reschedule all end in [`book`], which checks the same rules for each:
//!
//! 1. the local side: the case, the video room and the accompanying officer belong to the local
//!    court, and the case is not closed ([`local_side`]);
//! 2. eligibility ([`check_eligibility`]): the host court is above the local court, the SPC
//!    receives after the high court's review (read from the records, never from the request)
//!    or jointly with it, the joint court is another
//!    court above, and **a case holds at most one live booking with one host court**;
//! 3. holds: a slot someone else holds is refused;
//! 4. the store's write transaction (`BEGIN IMMEDIATE` on SQLite; on PostgreSQL the host
//!    court's advisory lock shared, then one lock for the local court's share and one for the
//!    petitioner): notice, horizon, theme, the weekly fair share, the petitioner's limit and
//!    the database's overlap guards, with the idempotent answer stored in that same
//!    transaction.
//!
//! Scope checks (who may act for which court) stay those the routes used; they move to
//! `app/scope.rs` when that lands.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::scope::Scope;
use crate::auth::Staff;
use crate::domain::{
    BookingId, BookingStatus, CaseId, CaseStatus, CourtLevel, JoinCode, SessionId, SlotId, UserId,
};
use crate::error::{ApiError, ErrorCode, IneligibleRule};
use crate::state::AppState;
use crate::store::applications::{ApplicationRow, EligibilityFacts};
use crate::store::booking::{Answered, Book, BookingDetail, Replaced};
use crate::store::{BookingRow, CaseRow, SlotRow, StoreError};

/// A booking's answer: the 201 body of every path that books, and what an idempotent retry
/// gets back.
#[derive(Serialize, ToSchema)]
pub struct BookingCreated {
    #[schema(value_type = i64)]
    pub id: BookingId,
    #[schema(value_type = i64)]
    pub session_id: SessionId,
    #[schema(value_type = i64)]
    pub slot_id: SlotId,
    #[schema(value_type = i64)]
    pub case_id: CaseId,
    pub local_room_id: i64,
    pub status: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// The petitioner's code, `1234-5678-9012`. Shown only in this answer.
    pub join_code: String,
    /// `/join.html#code=…`: the code rides after `#`, which browsers never send to a server.
    pub join_path: String,
    /// The booking this one replaced, when it was rescheduled.
    #[schema(value_type = Option<i64>)]
    pub rescheduled_from: Option<BookingId>,
}

impl BookingCreated {
    pub fn new(
        b: BookingRow,
        code: &JoinCode,
        rescheduled_from: Option<BookingId>,
    ) -> BookingCreated {
        BookingCreated {
            id: b.id,
            session_id: b.session_id,
            slot_id: b.slot_id,
            case_id: b.case_id,
            local_room_id: b.local_room_id,
            status: b.status.to_string(),
            starts_at: b.starts_at,
            ends_at: b.ends_at,
            join_path: format!("/join.html#code={}", code.display()),
            join_code: code.display(),
            rescheduled_from,
        }
    }

    fn json(self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

pub fn not_found(what: &'static str) -> impl FnOnce(StoreError) -> ApiError {
    move |e| match e {
        StoreError::NotFound => ApiError::invalid(format!("{what} does not exist")),
        other => other.into(),
    }
}

pub fn ineligible(rule: IneligibleRule, message: impl Into<String>) -> ApiError {
    ApiError::Ineligible {
        rule,
        message: message.into(),
    }
}

/// A slot of the host court `host_court_id`: 404 `slot_id` when there is none, 422 with `wrong`
/// when it is another court's. Every path that takes a slot for a host court asks here.
pub async fn host_slot(
    state: &AppState,
    host_court_id: i64,
    slot_id: SlotId,
    wrong: &'static str,
) -> Result<SlotRow, ApiError> {
    let slot = state
        .store
        .slot(slot_id)
        .await
        .map_err(not_found("slot_id"))?;
    if slot.court_id != host_court_id {
        return Err(ApiError::invalid(wrong));
    }
    Ok(slot)
}

/// What a booking names on the local side, checked against the local court. Only `local_side`
/// makes one (the private field), so that no path books with a side it did not check.
#[expect(
    clippy::manual_non_exhaustive,
    reason = "the private field keeps the crate's other modules from making one; \
              #[non_exhaustive] would keep out only other crates"
)]
pub struct LocalSide {
    pub case: CaseRow,
    pub local_court_id: i64,
    pub local_room_id: i64,
    pub local_officer_id: Option<UserId>,
    _checked: (),
}

/// The case, the video room and the accompanying officer must be the local court's, and the
/// case open.
pub async fn local_side(
    state: &AppState,
    local_court_id: i64,
    case_id: CaseId,
    local_room_id: i64,
    local_officer_id: Option<UserId>,
) -> Result<LocalSide, ApiError> {
    let store = &state.store;
    let case = store.case(case_id).await.map_err(not_found("case_id"))?;
    if case.court_id != local_court_id {
        return Err(ApiError::Forbidden("this case belongs to another court"));
    }
    let room = store
        .local_room(local_room_id)
        .await
        .map_err(not_found("local_room_id"))?;
    if room.court_id != local_court_id {
        return Err(ApiError::Forbidden(
            "this video room belongs to another court",
        ));
    }
    if let Some(officer) = local_officer_id {
        let user = store
            .user_by_id(officer)
            .await
            .map_err(not_found("local_officer_id"))?;
        if user.court_id != local_court_id || user.disabled {
            return Err(ApiError::invalid(
                "local_officer_id must be an active user of your court",
            ));
        }
    }
    if case.status == CaseStatus::Concluded {
        return Err(ineligible(
            IneligibleRule::CaseClosed,
            "this case was concluded (终结): no further reception is arranged for it",
        ));
    }
    Ok(LocalSide {
        case,
        local_court_id,
        local_room_id,
        local_officer_id,
        _checked: (),
    })
}

/// What the eligibility rules look at.
pub struct Eligibility<'a> {
    pub host_court_id: i64,
    pub joint_court_id: Option<i64>,
    /// The facts a coordinator states in an application. Only their consistency is checked
    /// (`joint_with_high_court` needs a `joint_court_id`); `high_court_reviewed` is ignored:
    /// the high court's review is read from the records.
    pub facts: Option<&'a EligibilityFacts>,
    /// A reschedule: the live booking that this one replaces does not count against the case.
    pub replaces: Option<BookingId>,
}

/// The eligibility rules, the same on every path; a refusal is 422 `ineligible` naming the rule.
pub async fn check_eligibility(
    state: &AppState,
    local: &LocalSide,
    e: &Eligibility<'_>,
) -> Result<(), ApiError> {
    let store = &state.store;
    let above = crate::app::scope::courts_above(store, local.local_court_id).await?;
    let Some(host) = above.iter().find(|c| c.id == e.host_court_id) else {
        return Err(ineligible(
            IneligibleRule::HostNotAbove,
            "a session may be asked only of a court above yours",
        ));
    };
    // The SPC receives a case the high court has reviewed, or jointly with that high court.
    // Derived from the records on every path; the coordinator's `facts` are not believed.
    if host.level == CourtLevel::Supreme {
        let high = above
            .iter()
            .find(|c| c.level == CourtLevel::High)
            .map(|c| c.id);
        let joint_with_high = high.is_some() && e.joint_court_id == high;
        if !joint_with_high && store.high_court_review(local.case.id).await?.is_none() {
            return Err(ineligible(
                IneligibleRule::SpcNeedsHighCourtReview,
                "the Supreme People's Court receives a case after the high court has reviewed it \
                 (立案复查 recorded by a high court session on the case, or the case's review \
                 decision recorded as the high court's), or jointly with the high court (name it \
                 as joint_court_id)",
            ));
        }
    }
    if let Some(facts) = e.facts {
        if facts.joint_with_high_court && e.joint_court_id.is_none() {
            return Err(ineligible(
                IneligibleRule::JointCourtMissing,
                "a joint reception needs joint_court_id: the high court above yours",
            ));
        }
    }
    if let Some(joint) = e.joint_court_id {
        if joint == e.host_court_id || !above.iter().any(|c| c.id == joint) {
            return Err(ApiError::invalid(
                "joint_court_id must be another court above yours",
            ));
        }
    }
    check_one_live_booking(state, local.case.id, e.host_court_id, e.replaces).await
}

/// A case (and so its petitioner) holds at most one live booking with one host court: a second
/// one, by any path, is refused `ineligible` / `already_booked`. The petitioner's limit across
/// their cases (`active_limit_per_petitioner`) is counted in the booking's transaction.
async fn check_one_live_booking(
    state: &AppState,
    case_id: CaseId,
    host_court_id: i64,
    replaces: Option<BookingId>,
) -> Result<(), ApiError> {
    if state
        .store
        .case_has_live_booking_with(case_id, host_court_id, state.clock.now(), replaces)
        .await?
    {
        return Err(ineligible(
            IneligibleRule::AlreadyBooked,
            "this case already has a session booked with this court",
        ));
    }
    Ok(())
}

/// How a booking came to be asked for.
pub enum Path<'a> {
    /// `POST /bookings`: only host courts that approve automatically take these.
    Direct,
    /// An application (its id and the version the caller saw) becomes `approved` with it.
    Application {
        id: i64,
        version: i32,
        facts: Option<&'a EligibilityFacts>,
    },
    /// The live booking it replaces, cancelled in the same transaction.
    Reschedule(Replaced<'a>),
}

/// One booking to make, whatever the path.
pub struct Request<'a> {
    pub slot: &'a SlotRow,
    pub local: &'a LocalSide,
    pub joint_court_id: Option<i64>,
    pub path: Path<'a>,
    pub idempotency_key: Option<&'a str>,
}

/// Books under every rule, or says which one refused. Answers the 201 body.
pub async fn book(
    state: &AppState,
    staff: &Staff,
    req: Request<'_>,
) -> Result<serde_json::Value, ApiError> {
    let (facts, replaces) = match &req.path {
        Path::Direct => (None, None),
        Path::Application { facts, .. } => (*facts, None),
        Path::Reschedule(r) => (None, Some(r.booking_id)),
    };
    check_eligibility(
        state,
        req.local,
        &Eligibility {
            host_court_id: req.slot.court_id,
            joint_court_id: req.joint_court_id,
            facts,
            replaces,
        },
    )
    .await?;
    let settings = state.store.host_settings(req.slot.court_id).await?;
    if matches!(req.path, Path::Direct) && !settings.auto_approve {
        return Err(ApiError::Unprocessable {
            code: ErrorCode::ApplicationRequired,
            message: format!(
                "{} reviews every request: apply for a session instead",
                req.slot.court_name
            ),
        });
    }
    if state
        .holds
        .holder(req.slot.id)
        .await
        .is_some_and(|holder| holder != staff.user_id)
    {
        return Err(ApiError::conflict(
            ErrorCode::SlotHeld,
            "another coordinator is booking this slot right now; choose another",
        ));
    }
    let code = JoinCode::generate();
    let (application, replaces) = match req.path {
        Path::Direct => (None, None),
        Path::Application { id, version, .. } => (Some((id, version)), None),
        Path::Reschedule(r) => (None, Some(r)),
    };
    let rescheduled_from = replaces.as_ref().map(|r| r.booking_id);
    let render = |row: &BookingRow| {
        let body =
            serde_json::to_string(&BookingCreated::new(row.clone(), &code, rescheduled_from))
                .unwrap_or_default();
        (201, body)
    };
    let booking = state
        .store
        .book(&Book {
            slot: req.slot,
            settings: &settings,
            case: &req.local.case,
            local_court_id: req.local.local_court_id,
            local_room_id: req.local.local_room_id,
            local_officer_id: req.local.local_officer_id,
            joint_court_id: req.joint_court_id,
            created_by: staff.user_id,
            join_code_hash: &code.hash(),
            join_code_sealed: code.sealed(),
            application,
            replaces,
            at: state.clock.now(),
            idempotency: req.idempotency_key.map(|key| Answered {
                user_id: staff.user_id,
                key,
                render: &render,
            }),
        })
        .await?;
    state.holds.release(req.slot.id, staff.user_id).await;
    tracing::info!(
        booking = booking.id.get(),
        session = booking.session_id.get(),
        "booked"
    );
    Ok(BookingCreated::new(booking, &code, rescheduled_from).json())
}

/// What `POST /bookings` names.
pub struct Direct {
    pub slot_id: SlotId,
    pub case_id: CaseId,
    pub local_room_id: i64,
    pub local_officer_id: Option<UserId>,
    pub joint_court_id: Option<i64>,
}

/// A coordinator books a slot directly.
pub async fn direct(
    state: &AppState,
    staff: &Staff,
    d: &Direct,
    idempotency_key: Option<&str>,
) -> Result<serde_json::Value, ApiError> {
    let local = local_side(
        state,
        staff.court_id,
        d.case_id,
        d.local_room_id,
        d.local_officer_id,
    )
    .await?;
    let slot = Scope::of(&state.store, staff).slot_above(d.slot_id).await?;
    book(
        state,
        staff,
        Request {
            slot: &slot,
            local: &local,
            joint_court_id: d.joint_court_id,
            path: Path::Direct,
            idempotency_key,
        },
    )
    .await
}

/// Books the chosen slot, or the first free one in the preferred ranges, for a new application
/// to a host court that approves automatically. `None`: nothing fitted; it waits for review.
pub async fn auto_book(
    state: &AppState,
    staff: &Staff,
    a: &ApplicationRow,
    facts: &EligibilityFacts,
    chosen: Option<SlotId>,
    local: &LocalSide,
) -> Result<Option<serde_json::Value>, ApiError> {
    let candidates: Vec<SlotId> = match chosen {
        Some(slot) => vec![slot],
        None => {
            let preferred: Vec<crate::store::applications::TimeRange> =
                serde_json::from_str(&a.preferred).unwrap_or_default();
            let mut found = Vec::new();
            for range in &preferred {
                for slot in state
                    .store
                    .next_free_slots(
                        a.host_court_id,
                        local.case.category,
                        range.from,
                        state.clock.now(),
                        20,
                    )
                    .await?
                {
                    if slot.ends_at <= range.to {
                        found.push(slot.id);
                    }
                }
            }
            found
        }
    };
    for slot_id in candidates.into_iter().take(5) {
        let slot = host_slot(
            state,
            a.host_court_id,
            slot_id,
            "slot_id must be a slot of host_court_id",
        )
        .await?;
        let booked = book(
            state,
            staff,
            Request {
                slot: &slot,
                local,
                joint_court_id: a.joint_court_id,
                path: Path::Application {
                    id: a.id,
                    version: a.version,
                    facts: Some(facts),
                },
                idempotency_key: None,
            },
        )
        .await;
        match booked {
            Ok(booked) => return Ok(Some(booked)),
            // Someone was quicker, or this slot does not suit: try the next one.
            Err(ApiError::Conflict { .. } | ApiError::Unprocessable { .. }) if chosen.is_none() => {
                continue;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// The host court approves an application into one of its slots, or the coordinator accepts
/// the slot the host court proposed: the same rules as any booking, for the applying court.
pub async fn book_application(
    state: &AppState,
    staff: &Staff,
    a: &ApplicationRow,
    version: i32,
    slot: &SlotRow,
) -> Result<serde_json::Value, ApiError> {
    let local = local_side(
        state,
        a.local_court_id,
        a.case_id,
        a.local_room_id,
        a.local_officer_id,
    )
    .await?;
    book(
        state,
        staff,
        Request {
            slot,
            local: &local,
            joint_court_id: a.joint_court_id,
            path: Path::Application {
                id: a.id,
                version,
                facts: None,
            },
            idempotency_key: None,
        },
    )
    .await
}

/// Moves a live booking to another slot of the same host court: the old booking is cancelled
/// with the reason and the new one points back at it, in one transaction.
pub async fn reschedule(
    state: &AppState,
    staff: &Staff,
    b: &BookingDetail,
    slot_id: SlotId,
    reason: &str,
    expected_version: i32,
    idempotency_key: Option<&str>,
) -> Result<serde_json::Value, ApiError> {
    if b.status != BookingStatus::Booked {
        return Err(ApiError::conflict(
            ErrorCode::BookingNotLive,
            "this booking is not live",
        ));
    }
    let slot = host_slot(
        state,
        b.host_court_id,
        slot_id,
        "a booking moves within its host court: choose one of its slots",
    )
    .await?;
    // The local side is checked again, as on every path: a case concluded since it was booked
    // is not moved to a new time.
    let local = local_side(
        state,
        b.local_court_id,
        b.case_id,
        b.local_room_id,
        b.local_officer_id,
    )
    .await?;
    let joint = state.store.booking_joint_court(b.id).await?;
    book(
        state,
        staff,
        Request {
            slot: &slot,
            local: &local,
            joint_court_id: joint,
            path: Path::Reschedule(Replaced {
                booking_id: b.id,
                expected_version,
                reason,
            }),
            idempotency_key,
        },
    )
    .await
}
