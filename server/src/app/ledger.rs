//! The petition ledger (台账): opening a case, logging every contact (有访必录), correcting a
//! contact, changing a case's class (诉访分离), and who may read and write which case. Every
//! rule of the ledger is here, once; `store::ledger` only runs the queries. See docs/ledger.md.

use chrono::{DateTime, Datelike, Duration, Utc};

use crate::auth::{Staff, name_input};
use crate::domain::{CaseClass, Channel, IdNumber, Outcome, ReceivingOrgan, Role, is_collective};
use crate::error::ApiError;
use crate::store::ledger::{CaseMatchRow, ClassChangeRow, NewContact, OpenCase};
use crate::store::{CaseRow, LedgerRow, Store, StoreError};

/// Who may read a case: the staff of its own court and of every court above it.
const READERS: &[Role] = &[Role::Coordinator, Role::Officer, Role::Supervisor];

/// A case the caller may read: its court or a court above it. 404 if there is none, 403 if it
/// lies outside the caller's branch (a sibling court, a court below a sibling).
pub async fn readable_case(store: &Store, staff: &Staff, id: i64) -> Result<CaseRow, ApiError> {
    staff.require(READERS)?;
    let case = case(store, id).await?;
    if !store.court_within(case.court_id, staff.court_id).await? {
        return Err(ApiError::Forbidden(
            "this case belongs to a court outside your branch",
        ));
    }
    Ok(case)
}

/// A case the caller may write: only the case's own court, and only its coordinators. The
/// courts above read it but do not keep its ledger.
pub async fn writable_case(store: &Store, staff: &Staff, id: i64) -> Result<CaseRow, ApiError> {
    staff.require(&[Role::Coordinator])?;
    let case = case(store, id).await?;
    if case.court_id != staff.court_id {
        return Err(ApiError::Forbidden(
            "this case belongs to another court: only its own court changes it",
        ));
    }
    Ok(case)
}

async fn case(store: &Store, id: i64) -> Result<CaseRow, ApiError> {
    match store.case(id).await {
        Ok(c) => Ok(c),
        Err(StoreError::NotFound) => Err(ApiError::NotFound("case")),
        Err(e) => Err(e.into()),
    }
}

/// The class a case row holds.
pub fn class_of(case: &CaseRow) -> Result<CaseClass, ApiError> {
    case.case_class
        .parse()
        .map_err(|e: String| ApiError::Internal(anyhow::anyhow!(e)))
}

/// The outcomes that fit a case (the rule is `Outcome::fits`).
pub fn outcomes_for(case: &CaseRow) -> Result<Vec<Outcome>, ApiError> {
    Ok(Outcome::for_class(class_of(case)?))
}

/// Refuses an outcome that does not fit the case's class: 422 `outcome_not_for_class`. Used by
/// contacts here and by a session's end (`app::session::end`).
pub fn check_outcome(outcome: Outcome, class: CaseClass) -> Result<(), ApiError> {
    if outcome.fits(class) {
        return Ok(());
    }
    Err(ApiError::Unprocessable {
        code: "outcome_not_for_class",
        message: format!("the outcome {outcome} does not fit a {class} case (诉访分离)"),
    })
}

/// Free text from a request: trimmed, 1 to `max` characters, no control characters other than
/// line breaks and tabs. 422 `invalid_input` naming the field.
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

fn optional_text(field: &str, raw: Option<&str>, max: usize) -> Result<Option<String>, ApiError> {
    raw.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| text(field, t, max))
        .transpose()
}

/// An instant a person gives for something that happened: not in the future (a few minutes of
/// clock skew allowed), and not before 2000.
fn past_instant(field: &str, at: Option<DateTime<Utc>>) -> Result<DateTime<Utc>, ApiError> {
    let now = Utc::now();
    let at = at.unwrap_or(now);
    if at > now + Duration::minutes(5) {
        return Err(ApiError::invalid(format!(
            "{field}: must not be in the future"
        )));
    }
    if at.year() < 2000 {
        return Err(ApiError::invalid(format!("{field}: must be after 2000")));
    }
    Ok(at)
}

/// What a coordinator asks to open, as read from the request.
pub struct OpenCaseCommand<'a> {
    pub case_number: &'a str,
    pub petitioner_name: &'a str,
    pub petitioner_id_number: &'a str,
    pub petitioner_count: Option<i32>,
    pub representative: Option<&'a str>,
    pub original_case_number: Option<&'a str>,
    pub original_court: Option<&'a str>,
    pub original_case_kind: Option<&'a str>,
    pub matter: &'a str,
    pub subject: &'a str,
    pub channel: Channel,
    pub case_class: CaseClass,
    pub received_at: Option<DateTime<Utc>>,
    pub confirm_new: bool,
}

pub enum Opened {
    Created(i64),
    /// The same matter may be on record already: nothing was written; ask again with
    /// `confirm_new` to open it anyway.
    PossibleDuplicates(Vec<CaseMatchRow>),
}

/// The channels a case can come in by at the local court. Video receptions are written by a
/// session, and 到省访 / 进京访 are contacts reported on a case that exists.
const INTAKE: &[Channel] = &[
    Channel::LocalVisit,
    Channel::Letter,
    Channel::Phone,
    Channel::Online,
];

/// Opens a case at the coordinator's court, with the contact that brought it in (有访必录).
/// Every field is checked first; then an existing case with the same petitioner (keyed hash of
/// the identity number) or the same original case number is offered, unless `confirm_new`.
pub async fn open_case(
    store: &Store,
    staff: &Staff,
    cmd: OpenCaseCommand<'_>,
) -> Result<Opened, ApiError> {
    staff.require(&[Role::Coordinator])?;
    let case_number = text("case_number", cmd.case_number, 64)?;
    let petitioner_name = name_input("petitioner_name", cmd.petitioner_name, 64)?;
    // The message never repeats the number.
    let id_number =
        IdNumber::parse(cmd.petitioner_id_number).map_err(|why| ApiError::Unprocessable {
            code: "invalid_id_number",
            message: format!("petitioner_id_number: {why}"),
        })?;
    let count = cmd.petitioner_count.unwrap_or(1);
    if !(1..=10_000).contains(&count) {
        return Err(ApiError::invalid("petitioner_count: 1 to 10000"));
    }
    let collective = is_collective(count);
    let representative = cmd
        .representative
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| name_input("representative", r, 64))
        .transpose()?;
    if collective && representative.is_none() {
        return Err(ApiError::invalid(
            "representative: required for five or more petitioners (集体访)",
        ));
    }
    let original_case_number = optional_text("original_case_number", cmd.original_case_number, 64)?;
    let original_court = optional_text("original_court", cmd.original_court, 64)?;
    let original_case_kind = optional_text("original_case_kind", cmd.original_case_kind, 32)?;
    if cmd.case_class == CaseClass::Litigation && original_case_number.is_none() {
        return Err(ApiError::invalid(
            "original_case_number: required for a litigation matter (涉诉)",
        ));
    }
    let matter = text("matter", cmd.matter, 4000)?;
    let subject = text("subject", cmd.subject, 200)?;
    if !INTAKE.contains(&cmd.channel) {
        return Err(ApiError::invalid(
            "channel: a case comes in by local_visit, letter, phone or online",
        ));
    }
    let received_at = past_instant("received_at", cmd.received_at)?;

    if !cmd.confirm_new {
        let sealer = crate::crypto::sealer().map_err(|e| ApiError::Internal(e.into()))?;
        let matches = store
            .matching_cases(
                &sealer.lookup(id_number.as_str()),
                original_case_number.as_deref(),
            )
            .await?;
        if !matches.is_empty() {
            return Ok(Opened::PossibleDuplicates(matches));
        }
    }
    let actor = format!("user-{}", staff.user_id);
    let id = store
        .open_case(&OpenCase {
            court_id: staff.court_id,
            case_number: &case_number,
            petitioner_name: &petitioner_name,
            petitioner_id_number: id_number.as_str(),
            petitioner_count: count,
            collective,
            representative: representative.as_deref(),
            original_case_number: original_case_number.as_deref(),
            original_court: original_court.as_deref(),
            original_case_kind: original_case_kind.as_deref(),
            matter: &matter,
            subject: &subject,
            intake_channel: cmd.channel,
            case_class: cmd.case_class,
            received_at,
            actor: &actor,
            actor_name: &staff.name,
        })
        .await?;
    tracing::info!(case_id = id, court_id = staff.court_id, "case opened");
    Ok(Opened::Created(id))
}

/// A contact to log, as read from the request.
pub struct ContactCommand<'a> {
    pub channel: Channel,
    pub at: Option<DateTime<Utc>>,
    pub received_by: Option<&'a str>,
    pub receiving_organ: Option<ReceivingOrgan>,
    pub receiving_court_id: Option<i64>,
    pub summary: &'a str,
    pub outcome: Option<Outcome>,
    pub court_initiated: bool,
    pub corrects: Option<i64>,
    pub reason: Option<&'a str>,
}

/// Logs a contact on a case of the caller's court, or a correction of one: the original stays
/// and both are shown. Video receptions are written only by a held session. (A contact with
/// outcome `assign` comes through `app::assignments::log_contact`, which hands the task down.)
pub async fn log_contact(
    store: &Store,
    staff: &Staff,
    case_id: i64,
    cmd: ContactCommand<'_>,
) -> Result<i64, ApiError> {
    let case = writable_case(store, staff, case_id).await?;
    record_contact(store, staff, &case, cmd).await
}

/// The body of [`log_contact`], for a case whose writer has been checked: the case's own
/// coordinator there, a court pressing a court below (督办) in `app::assignments::supervise`.
pub(crate) async fn record_contact(
    store: &Store,
    staff: &Staff,
    case: &CaseRow,
    cmd: ContactCommand<'_>,
) -> Result<i64, ApiError> {
    if cmd.channel.is_video() {
        return Err(ApiError::Unprocessable {
            code: "video_by_session_only",
            message: "a video reception is written by the session that held it, not by hand".into(),
        });
    }
    let at = past_instant("at", cmd.at)?;
    let summary = text("summary", cmd.summary, 2000)?;
    let received_by = match cmd.received_by.map(str::trim).filter(|r| !r.is_empty()) {
        Some(r) => name_input("received_by", r, 64)?,
        None => staff.name.clone(),
    };
    let reason = optional_text("reason", cmd.reason, 500)?;
    match (cmd.corrects, &reason) {
        (Some(_), None) => {
            return Err(ApiError::invalid(
                "reason: a correction needs its reason (1 to 500 characters)",
            ));
        }
        (None, Some(_)) => {
            return Err(ApiError::invalid(
                "reason: only a correction (corrects) takes a reason",
            ));
        }
        _ => {}
    }
    if let Some(outcome) = cmd.outcome {
        check_outcome(outcome, class_of(case)?)?;
    }
    let organ = cmd.receiving_organ.unwrap_or(ReceivingOrgan::Court);
    let receiving_court_id = match organ {
        ReceivingOrgan::Court => {
            let court = match (cmd.receiving_court_id, cmd.channel) {
                (Some(c), _) => c,
                (None, Channel::ToProvince | Channel::ToBeijing) => {
                    return Err(ApiError::invalid(
                        "receiving_court_id: say which court above received the petitioner",
                    ));
                }
                (None, _) => case.court_id,
            };
            // The case's own court, or a court above it.
            if !store.court_within(case.court_id, court).await? {
                return Err(ApiError::Unprocessable {
                    code: "receiving_court_invalid",
                    message: "receiving_court_id: the case's court or a court above it".into(),
                });
            }
            Some(court)
        }
        ReceivingOrgan::ProvincialOrgan | ReceivingOrgan::CentralOrgan => {
            let expected = if organ == ReceivingOrgan::ProvincialOrgan {
                Channel::ToProvince
            } else {
                Channel::ToBeijing
            };
            if cmd.receiving_court_id.is_some() || cmd.channel != expected {
                return Err(ApiError::Unprocessable {
                    code: "receiving_court_invalid",
                    message: format!(
                        "receiving_organ {organ}: channel {expected}, and no receiving_court_id"
                    ),
                });
            }
            None
        }
    };
    if let Some(target) = cmd.corrects {
        if store.ledger_entry_case(target).await? != Some(case.id) {
            return Err(ApiError::Unprocessable {
                code: "correction_target_invalid",
                message: "corrects: an entry of this case's ledger".into(),
            });
        }
    }
    let actor = format!("user-{}", staff.user_id);
    let id = store
        .log_contact(&NewContact {
            case_id: case.id,
            at,
            channel: cmd.channel,
            received_by: &received_by,
            receiving_organ: organ,
            receiving_court_id,
            note: &summary,
            outcome: cmd.outcome,
            court_initiated: cmd.court_initiated,
            corrects_id: cmd.corrects,
            correction_reason: reason.as_deref(),
            actor: &actor,
        })
        .await?;
    Ok(id)
}

/// Changes a case's class (诉访分离) with a reason: audited, and shown on the case's timeline.
/// 409 `class_unchanged` when the case already has that class.
pub async fn change_class(
    store: &Store,
    staff: &Staff,
    case_id: i64,
    to: CaseClass,
    reason: &str,
) -> Result<CaseRow, ApiError> {
    let case = writable_case(store, staff, case_id).await?;
    let reason = text("reason", reason, 500)?;
    match store
        .change_case_class(case.id, to, &reason, &format!("user-{}", staff.user_id))
        .await
    {
        Ok(()) => {}
        Err(StoreError::AlreadyDone) => {
            return Err(ApiError::conflict(
                "class_unchanged",
                format!("the case is already a {to} case"),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(store.case(case.id).await?)
}

/// A case as its readers see it: the case, its ledger (corrections included) and its class
/// changes.
pub async fn case_file(
    store: &Store,
    staff: &Staff,
    case_id: i64,
) -> Result<(CaseRow, Vec<LedgerRow>, Vec<ClassChangeRow>), ApiError> {
    let case = readable_case(store, staff, case_id).await?;
    let ledger = store.ledger(case.id).await?;
    let changes = store.class_changes(case.id).await?;
    Ok((case, ledger, changes))
}
