//! A case's clocks as use cases: reading them on the calendar, recording the events that start
//! and stop them, asking for an extension and approving it (负责人批准), and the list of
//! overdue clocks. The rule for counting a period is `app/clock.rs`; docs/clocks.md says what
//! each clock is.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::clock::{CaseDates, Clocks};
use crate::app::scope::Scope;
use crate::auth::Staff;
use crate::domain::{CaseId, Role, UserId};
use crate::error::{ApiError, ErrorCode};
use crate::schedule::Calendar;
use crate::state::AppState;
use crate::store::clocks::{CaseEvent, ExtensionRow};
use crate::store::{CaseRow, StoreError};

/// The national calendar, for computing clocks.
pub async fn calendar(state: &AppState) -> Result<Calendar, ApiError> {
    Ok(state.store.calendar().await?)
}

/// A case's clocks on the calendar, as of `today`.
pub fn of_case(c: &CaseRow, calendar: &Calendar, today: NaiveDate) -> Clocks {
    Clocks::of(
        &CaseDates {
            received: c.received_on.as_deref(),
            accepted: c.accepted_on.as_deref(),
            extension_days: c.extension_days,
            answered: c.answered_on.as_deref(),
            review_requested: c.review_requested_on.as_deref(),
            review_decided: c.review_decided_on.as_deref(),
            rereview_requested: c.rereview_requested_on.as_deref(),
            rereview_decided: c.rereview_decided_on.as_deref(),
        },
        calendar,
        today,
    )
}

fn refuse(code: ErrorCode, message: impl Into<String>) -> ApiError {
    ApiError::Unprocessable {
        code,
        message: message.into(),
    }
}

fn text_of(field: &str, text: &str) -> Result<String, ApiError> {
    let t = text.trim();
    if t.is_empty() || t.chars().count() > 500 {
        return Err(ApiError::invalid(format!("{field}: 1 to 500 characters")));
    }
    Ok(t.to_owned())
}

/// A coordinator of the case's court asks to extend its handling period. Nothing changes until
/// a person in charge approves.
pub async fn request_extension(
    state: &AppState,
    staff: &Staff,
    case: &CaseRow,
    days: i32,
    reason: &str,
) -> Result<ExtensionRow, ApiError> {
    staff.require(&[Role::Coordinator])?;
    if !(1..=30).contains(&days) {
        return Err(ApiError::invalid("days: 1 to 30"));
    }
    let reason = text_of("reason", reason)?;
    if case.accepted_on.is_none() || case.answered_on.is_some() {
        return Err(ApiError::conflict(
            ErrorCode::ExtensionNotApplicable,
            "only the handling period of an accepted case that is not yet answered is extended",
        ));
    }
    let id = match state
        .store
        .request_extension(case.id, days, &reason, staff.user_id, state.clock.now())
        .await
    {
        Ok(id) => id,
        Err(StoreError::AlreadyDone) => {
            return Err(ApiError::conflict(
                ErrorCode::AlreadyDone,
                "the handling period is extended once: this case already has an extension asked for or approved",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    Ok(state.store.extension(id).await?)
}

/// A person in charge decides on an extension: a supervisor of the case's court or of a court
/// above it, never the one who asked. The note (审批意见) is required either way.
pub async fn decide_extension(
    state: &AppState,
    staff: &Staff,
    extension_id: i64,
    approve: bool,
    note: &str,
) -> Result<ExtensionRow, ApiError> {
    staff.require(&[Role::Supervisor])?;
    let note = text_of("note", note)?;
    let ext = match state.store.extension(extension_id).await {
        Ok(e) => e,
        Err(StoreError::NotFound) => return Err(ApiError::NotFound("extension")),
        Err(e) => return Err(e.into()),
    };
    let case = state.store.case(ext.case_id).await?;
    let in_charge = crate::app::scope::within(&state.store, case.court_id, staff.court_id).await?;
    if !in_charge {
        return Err(ApiError::Denied {
            code: ErrorCode::NotInCharge,
            message: "an extension is approved by the leadership of the case's court or of a court above it".into(),
        });
    }
    if ext.requested_by == Some(staff.user_id) {
        return Err(ApiError::Denied {
            code: ErrorCode::ExtensionSelfApproval,
            message: "whoever asked for an extension may not approve it".into(),
        });
    }
    match state
        .store
        .decide_extension(ext.id, approve, &note, staff.user_id, state.clock.now())
        .await
    {
        Ok(()) => {}
        Err(StoreError::Stale) => {
            return Err(ApiError::conflict(
                ErrorCode::ExtensionDecided,
                "this extension has already been decided",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(state.store.extension(ext.id).await?)
}

/// Records an event that starts or stops a clock, on the day it happened: never in the future,
/// never before the event it follows, and once.
pub async fn record_event(
    state: &AppState,
    case: &CaseRow,
    event: CaseEvent,
    on: &str,
    decided_by_court_id: Option<i64>,
    actor: &str,
) -> Result<(), ApiError> {
    let day = courtlink_parsers::fields::parse_day("on", on)?;
    if day > state.clock.today() {
        return Err(refuse(
            ErrorCode::ClockEventInFuture,
            "an event is recorded on the day it happened, not ahead of it",
        ));
    }
    let day_of = |e: CaseEvent| match e {
        CaseEvent::Accepted => case.accepted_on.as_deref(),
        CaseEvent::Answered => case.answered_on.as_deref(),
        CaseEvent::ReviewRequested => case.review_requested_on.as_deref(),
        CaseEvent::ReviewDecided => case.review_decided_on.as_deref(),
        CaseEvent::RereviewRequested => case.rereview_requested_on.as_deref(),
        CaseEvent::RereviewDecided => case.rereview_decided_on.as_deref(),
    };
    let before = match event.after() {
        Some(prior) => match day_of(prior) {
            Some(d) => Some(d),
            None => {
                return Err(refuse(
                    ErrorCode::ClockEventOutOfOrder,
                    format!("{} comes after {}", event.as_str(), prior.as_str()),
                ));
            }
        },
        // Acceptance follows the petition's receipt and comes before the written answer (an
        // answer recorded without it has already stopped the acceptance clock).
        None if event == CaseEvent::Accepted => {
            if case.answered_on.is_some() {
                return Err(refuse(
                    ErrorCode::ClockEventOutOfOrder,
                    "accepted comes before answered: this case is already answered",
                ));
            }
            case.received_on.as_deref()
        }
        None => case.accepted_on.as_deref(),
    };
    if before.is_some_and(|b| on < b) {
        return Err(refuse(
            ErrorCode::ClockEventOutOfOrder,
            format!(
                "{} cannot be earlier than the event it follows",
                event.as_str()
            ),
        ));
    }
    if decided_by_court_id.is_some() && event != CaseEvent::ReviewDecided {
        return Err(ApiError::invalid(
            "decided_by_court_id belongs to review_decided only",
        ));
    }
    if let Some(court) = decided_by_court_id {
        if !crate::app::scope::above(&state.store, court, case.court_id).await? {
            return Err(ApiError::invalid(
                "decided_by_court_id must be a court above the case's court",
            ));
        }
    }
    match state
        .store
        .record_case_event(case.id, event, on, decided_by_court_id, actor)
        .await
    {
        Ok(()) => Ok(()),
        Err(StoreError::AlreadyDone) => Err(ApiError::conflict(
            ErrorCode::AlreadyDone,
            "this event is already recorded on the case",
        )),
        Err(e) => Err(e.into()),
    }
}

/// An open clock of a court's whose due day has passed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OverdueClock {
    #[schema(value_type = i64)]
    pub case_id: CaseId,
    pub case_number: String,
    /// The case's court (the one that owes the clock).
    pub court_id: i64,
    pub court_name: String,
    /// `acceptance`, `handling`, `review` or `rereview`.
    pub clock: &'static str,
    /// `YYYY-MM-DD`.
    pub due: String,
    pub days_overdue: i64,
    /// The due day rests on a year whose calendar is not loaded.
    pub provisional: bool,
}

/// Which courts' clocks `staff` reads for `court` (default its own): a coordinator its own
/// court's; a supervisor the court it names, its own or one below, and every court below that.
/// Returns the court and whether its branch is included.
async fn overdue_scope(
    state: &AppState,
    staff: &Staff,
    court: Option<i64>,
) -> Result<(i64, bool), ApiError> {
    staff.require(&[Role::Coordinator, Role::Supervisor])?;
    let court = court.unwrap_or(staff.court_id);
    let branch = staff.role == Role::Supervisor;
    if court == staff.court_id {
        return Ok((court, branch));
    }
    if state.store.find_court(court).await?.is_none() {
        return Err(ApiError::invalid(format!(
            "court_id: no court has id {court}"
        )));
    }
    if !branch || !Scope::of(&state.store, staff).in_branch(court).await? {
        return Err(ApiError::Forbidden(
            "that court is outside your court's scope",
        ));
    }
    Ok((court, true))
}

/// The overdue clocks that `staff` asks for (GET /clocks/overdue): those of a court's cases, and
/// of its branch for a supervisor (see `overdue_scope`).
pub async fn overdue_for(
    state: &AppState,
    staff: &Staff,
    court: Option<i64>,
) -> Result<Vec<OverdueClock>, ApiError> {
    let (court, branch) = overdue_scope(state, staff, court).await?;
    overdue_under(state, court, branch).await
}

/// The overdue clocks of one court's own cases (the monthly report lists them court by court).
pub async fn overdue(state: &AppState, court_id: i64) -> Result<Vec<OverdueClock>, ApiError> {
    overdue_under(state, court_id, false).await
}

/// The overdue clocks of a court's cases, and of its branch with `branch`: open clocks only, a
/// stopped clock never is. Oldest due day first.
async fn overdue_under(
    state: &AppState,
    court: i64,
    branch: bool,
) -> Result<Vec<OverdueClock>, ApiError> {
    let calendar = calendar(state).await?;
    let today = state.clock.today();
    let mut out = Vec::new();
    for case in state.store.case_clocks_under(court, branch).await? {
        let clocks = Clocks::of(
            &CaseDates {
                received: case.received_on.as_deref(),
                accepted: case.accepted_on.as_deref(),
                extension_days: case.extension_days,
                answered: case.answered_on.as_deref(),
                review_requested: case.review_requested_on.as_deref(),
                review_decided: case.review_decided_on.as_deref(),
                rereview_requested: case.rereview_requested_on.as_deref(),
                rereview_decided: case.rereview_decided_on.as_deref(),
            },
            &calendar,
            today,
        );
        for c in clocks.all {
            if !c.overdue {
                continue;
            }
            let due = NaiveDate::parse_from_str(&c.due, "%Y-%m-%d").unwrap_or(today);
            out.push(OverdueClock {
                case_id: case.id,
                case_number: case.case_number.clone(),
                court_id: case.court_id,
                court_name: case.court_name.clone(),
                clock: c.name,
                due: c.due,
                days_overdue: (today - due).num_days(),
                provisional: c.provisional,
            });
        }
    }
    out.sort_by(|a, b| a.due.cmp(&b.due).then(a.case_id.cmp(&b.case_id)));
    Ok(out)
}

/// A pending extension request as a person in charge decides it: the case, its court, who
/// asked, and the handling clock's day now and if approved.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PendingExtension {
    pub id: i64,
    #[schema(value_type = i64)]
    pub case_id: CaseId,
    pub case_number: String,
    pub court_id: i64,
    pub court_name: String,
    pub days: i32,
    pub reason: String,
    /// Null for an extension recorded before approvals existed (migration 0017).
    #[schema(value_type = Option<i64>)]
    pub requested_by: Option<UserId>,
    pub requested_by_name: Option<String>,
    pub requested_at: DateTime<Utc>,
    /// The handling clock's last day now (`YYYY-MM-DD`), and with the extension approved.
    pub handling_due: Option<String>,
    pub due_if_approved: Option<String>,
    /// Either day rests on a year whose calendar is not loaded.
    pub provisional: bool,
}

/// The extension requests waiting for a supervisor: those of its court's cases and of the
/// courts below it.
pub async fn pending_extensions(
    state: &AppState,
    staff: &Staff,
) -> Result<Vec<PendingExtension>, ApiError> {
    staff.require(&[Role::Supervisor])?;
    let calendar = calendar(state).await?;
    let today = state.clock.today();
    let handling = |accepted: Option<&str>, extension_days: i32| {
        let clocks = Clocks::of(
            &CaseDates {
                received: None,
                accepted,
                extension_days,
                answered: None,
                review_requested: None,
                review_decided: None,
                rereview_requested: None,
                rereview_decided: None,
            },
            &calendar,
            today,
        );
        let provisional = clocks.provisional;
        (clocks.handling_due, provisional)
    };
    Ok(state
        .store
        .pending_extensions_under(staff.court_id)
        .await?
        .into_iter()
        .map(|e| {
            let (now, p1) = handling(e.accepted_on.as_deref(), 0);
            let (then, p2) = handling(e.accepted_on.as_deref(), e.days);
            PendingExtension {
                id: e.id,
                case_id: e.case_id,
                case_number: e.case_number,
                court_id: e.court_id,
                court_name: e.court_name,
                days: e.days,
                reason: e.reason,
                requested_by: e.requested_by,
                requested_by_name: e.requested_by_name,
                requested_at: e.requested_at,
                handling_due: now,
                due_if_approved: then,
                provisional: p1 || p2,
            }
        })
        .collect())
}
