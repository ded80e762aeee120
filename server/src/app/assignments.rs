//! Follow-ups (交办 → 办结报告, 督办; docs/follow-ups.md), every rule once:
//!
//! - a 交办 outcome, on a contact that a court above the case's court handed down or on the end
//!   of a session that such a court hosted, creates a task for a court at or below the assigning
//!   court (the case's court by default), due a number of working days after the day it was
//!   handed down, on the national calendar (`app::clock::period_end`);
//! - the assigned court's coordinators and officers close it with a completion report
//!   (办结报告), once;
//! - the assigning court and the courts above it read the tasks of their branch and press a
//!   court below (督办): a step on the task and a contact with outcome `supervise` on the
//!   case's ledger, written by `app::ledger::record_contact`;
//! - a sweep reminds each open task once when its due day is near and once when it has passed.
//!
//! Who may see a task is the ledger's scope rule (`app::scope::in_branch`): the assigned court and
//! every court above it.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::clock::{Calendar, Clock, Unit, period_end};
use crate::app::scope::Scope;
use crate::app::{ledger, scope};
use crate::auth::Staff;
use crate::config::FollowUpSettings;
use crate::domain::{CaseId, Channel, Outcome, ReceivingOrgan, Role, SessionId};
use crate::error::{ApiError, ErrorCode};
use crate::store::assignments::{AssignmentRow, Filter, NewAssignment, Reminder, StepRow};
use crate::store::attachments::AttachmentRow;
use crate::store::{CaseRow, Store, StoreError};

/// What the rules of a follow-up read besides the store: its settings and today.
#[derive(Clone, Copy)]
pub struct FollowUps<'a> {
    pub settings: &'a FollowUpSettings,
    pub clock: Clock,
}

/// Where a task stands, as of today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AssignmentState {
    /// Not reported, and not yet due soon.
    Open,
    /// Not reported, due within `follow_ups.remind_working_days` working days.
    Due,
    /// Not reported, and the due day has passed.
    Overdue,
    /// Reported (办结).
    Closed,
}

/// One step of a task: `assigned`, `reminded` (due soon), `overdue`, `supervised` (督办),
/// `reported` (办结报告).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AssignmentStep {
    pub at: DateTime<Utc>,
    pub kind: String,
    /// `user-<id>`, or `system` for the reminders.
    pub actor: String,
    pub note: Option<String>,
    /// For `assigned` by a contact and for `supervised`: the entry on the case's ledger.
    pub ledger_entry_id: Option<i64>,
}

/// A court named in a task.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CourtName {
    pub id: i64,
    pub name: String,
}

/// A follow-up task (交办).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Assignment {
    pub id: i64,
    #[schema(value_type = i64)]
    pub case_id: CaseId,
    pub case_number: String,
    /// The court that handed it down.
    pub assigning_court: CourtName,
    /// The court it went to, which reports.
    pub court: CourtName,
    pub instruction: String,
    pub working_days: i32,
    /// `YYYY-MM-DD`, Beijing: the day it was handed down, and the last day to report.
    pub assigned_on: String,
    pub due_on: String,
    pub state: AssignmentState,
    /// For a closed task: reported after its due day.
    pub closed_late: Option<bool>,
    /// The contact that handed it down, or the session whose end did.
    pub ledger_entry_id: Option<i64>,
    pub session_id: Option<i64>,
    pub assigned_by: String,
    pub assigned_at: DateTime<Utc>,
    /// The completion report (办结报告), its day, and who wrote it.
    pub report: Option<String>,
    pub reported_on: Option<String>,
    pub reported_by: Option<String>,
    pub reported_at: Option<DateTime<Utc>>,
}

/// A task with its timeline.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AssignmentDetail {
    #[serde(flatten)]
    pub assignment: Assignment,
    /// Every step, oldest first.
    pub steps: Vec<AssignmentStep>,
    /// The papers the completion report names: attachments of the task's case (download them
    /// from the case's file, `GET /cases/{id}/attachments/{attachment}`).
    pub report_attachments: Vec<AttachmentRow>,
}

/// One page of a list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AssignmentPage {
    pub items: Vec<Assignment>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

/// Today and the last day that counts as due soon, as of `clock`.
fn window(calendar: &Calendar, settings: &FollowUpSettings, today: NaiveDate) -> NaiveDate {
    period_end(
        calendar,
        today,
        settings.remind_working_days,
        Unit::WorkingDays,
    )
    .day
}

fn view(row: AssignmentRow, today: NaiveDate, soon: NaiveDate) -> Assignment {
    let today = today.format("%Y-%m-%d").to_string();
    let soon = soon.format("%Y-%m-%d").to_string();
    let state = match &row.reported_on {
        Some(_) => AssignmentState::Closed,
        None if row.due_on < today => AssignmentState::Overdue,
        None if row.due_on <= soon => AssignmentState::Due,
        None => AssignmentState::Open,
    };
    Assignment {
        closed_late: row.reported_on.as_ref().map(|r| *r > row.due_on),
        id: row.id,
        case_id: row.case_id,
        case_number: row.case_number,
        assigning_court: CourtName {
            id: row.assigning_court_id,
            name: row.assigning_court_name,
        },
        court: CourtName {
            id: row.court_id,
            name: row.court_name,
        },
        instruction: row.instruction,
        working_days: row.working_days,
        assigned_on: row.assigned_on,
        due_on: row.due_on,
        state,
        ledger_entry_id: row.ledger_entry_id,
        session_id: row.session_id,
        assigned_by: row.assigned_by,
        assigned_at: row.assigned_at,
        report: row.report,
        reported_on: row.reported_on,
        reported_by: row.reported_by,
        reported_at: row.reported_at,
    }
}

fn step(s: StepRow) -> AssignmentStep {
    AssignmentStep {
        at: s.at,
        kind: s.kind,
        actor: s.actor,
        note: s.note,
        ledger_entry_id: s.ledger_entry_id,
    }
}

/// Free text: trimmed, 1 to `max` characters, no control characters but line breaks and tabs.
fn text(field: &str, raw: &str, max: usize) -> Result<String, ApiError> {
    let t = raw.trim();
    if t.is_empty() || t.chars().count() > max {
        return Err(ApiError::invalid(format!("{field}: 1 to {max} characters")));
    }
    if t.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ApiError::invalid(format!(
            "{field}: control characters are not allowed"
        )));
    }
    Ok(t.to_owned())
}

// --- handing down --------------------------------------------------------------------------------

/// What the assigning court may say about a 交办; each part has a default.
#[derive(Debug, Clone, Copy, Default)]
pub struct Terms<'a> {
    /// The court it goes to: the case's court by default; at or below the assigning court.
    pub court_id: Option<i64>,
    /// The deadline in working days: `follow_ups.default_working_days` by default, within
    /// `min_working_days..=max_working_days`.
    pub working_days: Option<i64>,
    /// What the court below is to do: the contact's summary or the session's note by default.
    pub instruction: Option<&'a str>,
}

/// A checked 交办, ready to be written once what handed it down is on record.
#[derive(Debug, Clone)]
pub struct Plan {
    case_id: CaseId,
    assigning_court_id: i64,
    court_id: i64,
    instruction: String,
    working_days: i64,
    assigned_on: NaiveDate,
    due_on: NaiveDate,
}

/// Checks a 交办 before anything is written: the assigning court lies above the case's court
/// (422 `assign_needs_higher_court`), the court it goes to exists and is the assigning court or
/// one below it (422 `assignment_court_invalid`), the deadline lies within the bounds (422
/// `deadline_out_of_bounds`), the instruction is 1 to 2000 characters (422 `invalid_input`).
pub async fn plan(
    store: &Store,
    ctx: FollowUps<'_>,
    case: &CaseRow,
    assigning_court_id: Option<i64>,
    terms: Terms<'_>,
    fallback_instruction: &str,
) -> Result<Plan, ApiError> {
    let assigning = match assigning_court_id {
        Some(a) if scope::above(store, a, case.court_id).await? => a,
        _ => {
            return Err(ApiError::Unprocessable {
                code: ErrorCode::AssignNeedsHigherCourt,
                message: "交办 is handed down by a court above the case's court: name it as the \
                          receiving court (receiving_court_id)"
                    .into(),
            });
        }
    };
    let court = terms.court_id.unwrap_or(case.court_id);
    if store.find_court(court).await?.is_none() || !scope::within(store, court, assigning).await? {
        return Err(ApiError::Unprocessable {
            code: ErrorCode::AssignmentCourtInvalid,
            message: "assignment.court_id: the assigning court or a court below it".into(),
        });
    }
    let s = ctx.settings;
    let days = terms.working_days.unwrap_or(s.default_working_days);
    if !(s.min_working_days..=s.max_working_days).contains(&days) {
        return Err(ApiError::Unprocessable {
            code: ErrorCode::DeadlineOutOfBounds,
            message: format!(
                "assignment.working_days: {} to {} working days",
                s.min_working_days, s.max_working_days
            ),
        });
    }
    let instruction = match terms.instruction {
        Some(i) => text("assignment.instruction", i, 2000)?,
        None => text("assignment.instruction", fallback_instruction, 2000)
            .unwrap_or_else(|_| "交办".to_owned()),
    };
    let calendar = store.calendar().await?;
    let today = ctx.clock.today();
    let due = period_end(&calendar, today, days, Unit::WorkingDays);
    Ok(Plan {
        case_id: case.id,
        assigning_court_id: assigning,
        court_id: court,
        instruction,
        working_days: days,
        assigned_on: today,
        due_on: due.day,
    })
}

/// Logs a contact on a case of the caller's court (`app::ledger::log_contact`); with outcome
/// `assign` handed down by its receiving court above, and not a correction, the contact hands
/// the task down as well. The terms are checked before anything is written; `terms` without
/// that outcome is refused (422 `invalid_input`).
pub async fn log_contact(
    store: &Store,
    ctx: FollowUps<'_>,
    staff: &Staff,
    case_id: CaseId,
    cmd: ledger::ContactCommand<'_>,
    terms: Option<Terms<'_>>,
) -> Result<i64, ApiError> {
    let case = Scope::of(store, staff).writable_case(case_id).await?;
    let plan = match (cmd.outcome, cmd.corrects) {
        (Some(Outcome::Assign), None) => {
            let assigning = match cmd.receiving_organ.unwrap_or(ReceivingOrgan::Court) {
                ReceivingOrgan::Court => cmd.receiving_court_id,
                _ => None,
            };
            let terms = terms.unwrap_or_default();
            Some(plan(store, ctx, &case, assigning, terms, cmd.summary).await?)
        }
        _ if terms.is_some() => {
            return Err(ApiError::invalid(
                "assignment: only with the outcome assign (交办), and not on a correction",
            ));
        }
        _ => None,
    };
    let id = ledger::record_contact(store, staff, &case, cmd).await?;
    if let Some(plan) = plan {
        let actor = format!("user-{}", staff.user_id);
        create(store, ctx, &plan, Source::Contact(id), &actor).await?;
    }
    Ok(id)
}

/// What handed a task down.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    Contact(i64),
    Session(SessionId),
}

/// Writes a checked 交办, with its `assigned` step and the notification to the court below.
pub async fn create(
    store: &Store,
    ctx: FollowUps<'_>,
    plan: &Plan,
    source: Source,
    actor: &str,
) -> Result<i64, ApiError> {
    let (ledger_entry_id, session_id) = match source {
        Source::Contact(id) => (Some(id), None),
        Source::Session(id) => (None, Some(id)),
    };
    let id = store
        .create_assignment(&NewAssignment {
            case_id: plan.case_id,
            assigning_court_id: plan.assigning_court_id,
            court_id: plan.court_id,
            instruction: &plan.instruction,
            working_days: i32::try_from(plan.working_days).unwrap_or(i32::MAX),
            assigned_on: &plan.assigned_on.format("%Y-%m-%d").to_string(),
            due_on: &plan.due_on.format("%Y-%m-%d").to_string(),
            ledger_entry_id,
            session_id,
            actor,
            at: ctx.clock.now(),
        })
        .await?;
    tracing::info!(
        assignment = id,
        case_id = plan.case_id.get(),
        court_id = plan.court_id,
        "follow-up handed down"
    );
    Ok(id)
}

/// The 交办 of a session's end, checked before the end is written: the host court hands the
/// case down to the case's court, with the default deadline and the officer's note as the
/// instruction. Written by [`create`] with [`Source::Session`] once the session has ended; a
/// session hands down one task at most (a unique column).
pub async fn for_session_end(
    store: &Store,
    ctx: FollowUps<'_>,
    case: &CaseRow,
    host_court_id: i64,
    note: &str,
) -> Result<Plan, ApiError> {
    plan(
        store,
        ctx,
        case,
        Some(host_court_id),
        Terms::default(),
        note,
    )
    .await
}

// --- reading -------------------------------------------------------------------------------------

const READERS: &[Role] = &[Role::Coordinator, Role::Officer, Role::Supervisor];

async fn load(store: &Store, id: i64) -> Result<AssignmentRow, ApiError> {
    match store.assignment(id).await {
        Ok(a) => Ok(a),
        Err(StoreError::NotFound) => Err(ApiError::NotFound("assignment")),
        Err(e) => Err(e.into()),
    }
}

/// A task the caller may read: its court's staff and those of every court above it.
async fn readable(store: &Store, staff: &Staff, id: i64) -> Result<AssignmentRow, ApiError> {
    staff.require(READERS)?;
    let a = load(store, id).await?;
    if !Scope::of(store, staff).in_branch(a.court_id).await? {
        return Err(ApiError::Forbidden(
            "this task went to a court outside your branch",
        ));
    }
    Ok(a)
}

async fn detail(
    store: &Store,
    ctx: FollowUps<'_>,
    row: AssignmentRow,
) -> Result<AssignmentDetail, ApiError> {
    let calendar = store.calendar().await?;
    let today = ctx.clock.today();
    let soon = window(&calendar, ctx.settings, today);
    let steps = store.assignment_steps(row.id).await?;
    let report_attachments = store.report_attachments(row.id).await?;
    Ok(AssignmentDetail {
        assignment: view(row, today, soon),
        steps: steps.into_iter().map(step).collect(),
        report_attachments,
    })
}

/// One task with its timeline.
pub async fn get(
    store: &Store,
    ctx: FollowUps<'_>,
    staff: &Staff,
    id: i64,
) -> Result<AssignmentDetail, ApiError> {
    let row = readable(store, staff, id).await?;
    detail(store, ctx, row).await
}

/// The tasks of a case, each with its timeline, for the case's file (its readers are checked
/// by `app::ledger::case_file`).
pub async fn of_case(
    store: &Store,
    ctx: FollowUps<'_>,
    case_id: CaseId,
) -> Result<Vec<AssignmentDetail>, ApiError> {
    let rows = store.assignments_of_case(case_id).await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let calendar = store.calendar().await?;
    let today = ctx.clock.today();
    let soon = window(&calendar, ctx.settings, today);
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let steps = store.assignment_steps(row.id).await?;
        let report_attachments = store.report_attachments(row.id).await?;
        out.push(AssignmentDetail {
            assignment: view(row, today, soon),
            steps: steps.into_iter().map(step).collect(),
            report_attachments,
        });
    }
    Ok(out)
}

/// What a list asks for.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListQuery {
    pub state: Option<AssignmentState>,
    /// Only the tasks that went to this court (within the caller's branch, else 403).
    pub court_id: Option<i64>,
    /// From 1.
    pub page: Option<i64>,
    /// 1 to 100, default 20.
    pub per_page: Option<i64>,
}

/// The tasks that went to the caller's court or a court below it, earliest due first.
pub async fn list(
    store: &Store,
    ctx: FollowUps<'_>,
    staff: &Staff,
    q: ListQuery,
) -> Result<AssignmentPage, ApiError> {
    staff.require(READERS)?;
    let page = q.page.unwrap_or(1);
    let per_page = q.per_page.unwrap_or(20);
    if !(1..=100_000).contains(&page) {
        return Err(ApiError::invalid("page: 1 to 100000"));
    }
    if !(1..=100).contains(&per_page) {
        return Err(ApiError::invalid("per_page: 1 to 100"));
    }
    if let Some(c) = q.court_id {
        if store.find_court(c).await?.is_none() {
            return Err(ApiError::invalid("court_id: no such court"));
        }
        if !Scope::of(store, staff).in_branch(c).await? {
            return Err(ApiError::Forbidden(
                "that court is outside your branch: you read your court and the courts below it",
            ));
        }
    }
    let filter = match q.state {
        None => Filter::All,
        Some(AssignmentState::Open) => Filter::Open,
        Some(AssignmentState::Due) => Filter::Due,
        Some(AssignmentState::Overdue) => Filter::Overdue,
        Some(AssignmentState::Closed) => Filter::Closed,
    };
    let calendar = store.calendar().await?;
    let today = ctx.clock.today();
    let soon = window(&calendar, ctx.settings, today);
    let (rows, total) = store
        .list_assignments(
            staff.court_id,
            q.court_id,
            filter,
            &today.format("%Y-%m-%d").to_string(),
            &soon.format("%Y-%m-%d").to_string(),
            per_page,
            (page - 1) * per_page,
        )
        .await?;
    Ok(AssignmentPage {
        items: rows.into_iter().map(|r| view(r, today, soon)).collect(),
        total,
        page,
        per_page,
    })
}

// --- closing and pressing ------------------------------------------------------------------------

/// Most papers one completion report names.
pub const MAX_REPORT_ATTACHMENTS: usize = 20;

/// The assigned court's coordinator or officer closes the task with its completion report
/// (办结报告): the text (1 to 4000 characters), the day (default today; not in the future,
/// not before the task was handed down) and the papers it names (0 to 20 attachments of the
/// task's case, each once). 403 for another court, 409 `assignment_closed` once it is closed,
/// 422 `attachment_not_on_case` for an attachment of another case or none.
pub async fn report(
    store: &Store,
    ctx: FollowUps<'_>,
    staff: &Staff,
    id: i64,
    report: &str,
    reported_on: Option<&str>,
    attachments: &[i64],
) -> Result<AssignmentDetail, ApiError> {
    let a = readable(store, staff, id).await?;
    staff.require(&[Role::Coordinator, Role::Officer])?;
    if a.court_id != staff.court_id {
        return Err(ApiError::Denied {
            code: ErrorCode::AssignmentOtherCourt,
            message: "only the court the task went to reports on it".into(),
        });
    }
    if a.report.is_some() {
        return Err(closed());
    }
    let report = text("report", report, 4000)?;
    let today = ctx.clock.today();
    let day = match reported_on {
        None => today,
        Some(d) => courtlink_parsers::fields::parse_day("reported_on", d)?,
    };
    if day > today {
        return Err(ApiError::invalid("reported_on: not in the future"));
    }
    if day.format("%Y-%m-%d").to_string() < a.assigned_on {
        return Err(ApiError::invalid(
            "reported_on: not before the day the task was handed down",
        ));
    }
    let attachments = report_papers(store, a.case_id, attachments).await?;
    match store
        .report_assignment(
            a.id,
            &report,
            &day.format("%Y-%m-%d").to_string(),
            &attachments,
            &format!("user-{}", staff.user_id),
            ctx.clock.now(),
        )
        .await
    {
        Ok(()) => {}
        Err(StoreError::AlreadyDone) => return Err(closed()),
        Err(e) => return Err(e.into()),
    }
    detail(store, ctx, load(store, id).await?).await
}

/// The papers a report names: at most [`MAX_REPORT_ATTACHMENTS`], each once, each an attachment
/// of the task's case (uploaded to its file first: checked by content, with its SHA-256).
async fn report_papers(store: &Store, case_id: CaseId, ids: &[i64]) -> Result<Vec<i64>, ApiError> {
    if ids.len() > MAX_REPORT_ATTACHMENTS {
        return Err(ApiError::invalid(format!(
            "attachments: at most {MAX_REPORT_ATTACHMENTS}"
        )));
    }
    let mut seen = std::collections::BTreeSet::new();
    for &id in ids {
        if !seen.insert(id) {
            return Err(ApiError::invalid("attachments: each attachment once"));
        }
        match store.attachment(case_id, id).await {
            Ok(_) => {}
            Err(StoreError::NotFound) => {
                return Err(ApiError::Unprocessable {
                    code: ErrorCode::AttachmentNotOnCase,
                    message: format!("attachment {id} is not in this task's case file"),
                });
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(ids.to_vec())
}

fn closed() -> ApiError {
    ApiError::conflict(
        ErrorCode::AssignmentClosed,
        "this task is closed: its completion report is on record",
    )
}

/// The assigning court, or a court above it, presses the court below (督办) with a note:
/// a contact with outcome `supervise` on the case's ledger (received by the supervising court,
/// by `channel`, default a letter 督办函), and the `supervised` step on the task. 403 for any
/// other court, 409 `assignment_closed` for a closed task.
pub async fn supervise(
    store: &Store,
    ctx: FollowUps<'_>,
    staff: &Staff,
    id: i64,
    note: &str,
    channel: Option<Channel>,
) -> Result<AssignmentDetail, ApiError> {
    let a = readable(store, staff, id).await?;
    if !Scope::of(store, staff)
        .in_branch(a.assigning_court_id)
        .await?
    {
        return Err(ApiError::Denied {
            code: ErrorCode::NotSupervisingCourt,
            message: "督办 is for the court that handed the task down and the courts above it"
                .into(),
        });
    }
    if a.report.is_some() {
        return Err(closed());
    }
    let note = text("note", note, 2000)?;
    let case = store.case(a.case_id).await?;
    let summary = format!("督办（{}，{} 到期）：{note}", a.court_name, a.due_on);
    let entry = ledger::record_contact(
        store,
        staff,
        &case,
        ledger::ContactCommand {
            channel: channel.unwrap_or(Channel::Letter),
            at: None,
            now: ctx.clock.now(),
            received_by: None,
            receiving_organ: Some(ReceivingOrgan::Court),
            receiving_court_id: Some(staff.court_id),
            summary: &summary,
            outcome: Some(Outcome::Supervise),
            court_initiated: true,
            corrects: None,
            reason: None,
        },
    )
    .await?;
    match store
        .supervise_assignment(
            a.id,
            &note,
            entry,
            &format!("user-{}", staff.user_id),
            ctx.clock.now(),
        )
        .await
    {
        Ok(()) => {}
        Err(StoreError::AlreadyDone) => return Err(closed()),
        Err(e) => return Err(e.into()),
    }
    detail(store, ctx, load(store, id).await?).await
}

// --- reminders -----------------------------------------------------------------------------------

/// One sweep: queues the due-soon and the overdue reminders that are owed, each once per task.
pub async fn remind(
    store: &Store,
    settings: &FollowUpSettings,
    clock: Clock,
) -> Result<usize, StoreError> {
    let calendar = store.calendar().await?;
    let today = clock.today();
    let soon = window(&calendar, settings, today)
        .format("%Y-%m-%d")
        .to_string();
    let today = today.format("%Y-%m-%d").to_string();
    let now = clock.now();
    let mut n = 0;
    for reminder in [Reminder::Overdue, Reminder::DueSoon] {
        n += store
            .remind_assignments(reminder, &today, &soon, now, 200)
            .await?;
    }
    Ok(n)
}

/// Starts the reminder sweep as the supervised loop `follow-up reminders`.
pub fn spawn_reminders(
    tasks: &crate::tasks::Tasks,
    store: Store,
    settings: FollowUpSettings,
    clock: Clock,
) {
    tasks.spawn_loop("follow-up reminders", move |stop| {
        reminders(stop, store.clone(), settings.clone(), clock)
    });
}

async fn reminders(
    mut stop: crate::tasks::Stop,
    store: Store,
    settings: FollowUpSettings,
    clock: Clock,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(settings.sweep_seconds));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while stop.tick(&mut tick).await {
        match remind(&store, &settings, clock).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(reminded = n, "follow-up reminders queued"),
            Err(e) => tracing::warn!(error = %e, "follow-up reminders failed; retried next sweep"),
        }
    }
    Ok(())
}

// --- the monthly report --------------------------------------------------------------------------

/// A task of a month, as the monthly report lists it.
#[derive(Debug, Clone)]
pub struct MonthTask {
    pub court_name: String,
    pub case_number: String,
    pub assigning_court_name: String,
    pub assigned_on: String,
    pub due_on: String,
    pub reported_on: Option<String>,
    pub state: AssignmentState,
    pub closed_late: Option<bool>,
}

/// The tasks of the courts a monthly report covers that the month saw (handed down by its
/// end, open or reported on or after its start), as of `clock`'s today.
pub async fn of_month(
    store: &Store,
    settings: &FollowUpSettings,
    clock: Clock,
    court_id: i64,
    subtree: bool,
    (from, to): (NaiveDate, NaiveDate),
) -> Result<Vec<MonthTask>, ApiError> {
    let calendar = store.calendar().await?;
    let today = clock.today();
    let soon = window(&calendar, settings, today);
    let rows = store
        .assignments_of_period(
            court_id,
            subtree,
            &from.format("%Y-%m-%d").to_string(),
            &to.format("%Y-%m-%d").to_string(),
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let a = view(r, today, soon);
            MonthTask {
                court_name: a.court.name,
                case_number: a.case_number,
                assigning_court_name: a.assigning_court.name,
                assigned_on: a.assigned_on,
                due_on: a.due_on,
                reported_on: a.reported_on,
                state: a.state,
                closed_late: a.closed_late,
            }
        })
        .collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly by panicking")]
mod tests {
    use super::*;
    use crate::app::clock::CalendarDay;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// docs/follow-ups.md's worked example: 15 working days from Monday 28 September 2026 run
    /// over National Day (1–7 October) and the worked Saturday 10 October to Friday 23 October.
    #[test]
    fn fifteen_working_days_over_national_day() {
        let mut c = Calendar::default();
        c.loaded_years.insert(2026);
        for d in 1..=7 {
            c.days
                .insert(day(&format!("2026-10-0{d}")), CalendarDay::Holiday);
        }
        c.days
            .insert(day("2026-10-10"), CalendarDay::Workday { follows: 5 });
        let due = period_end(&c, day("2026-09-28"), 15, Unit::WorkingDays);
        assert_eq!(due.day, day("2026-10-23"));
        assert!(!due.provisional);
    }
}
