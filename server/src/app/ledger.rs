//! The petition ledger (台账): opening a case, logging every contact (有访必录), correcting a
//! contact, changing a case's class (诉访分离), and who may read and write which case. Every
//! rule of the ledger is here, once; `store::ledger` only runs the queries. See docs/ledger.md.

use chrono::{DateTime, Datelike, Duration, Utc};

use crate::app::scope::Scope;
use crate::auth::{NameError, Staff, name_input, normalize_name};
use crate::domain::{
    CaseClass, CaseId, Channel, IdNumber, Outcome, ReceivingOrgan, Role, is_collective,
};
use crate::error::{ApiError, ErrorCode};
use crate::store::ledger::{CaseMatchRow, ClassChangeRow, MatchCandidate, NewContact, OpenCase};
use crate::store::{CaseRow, LedgerRow, Store, StoreError};

/// The outcomes that fit a case (the rule is `Outcome::fits`).
pub fn outcomes_for(case: &CaseRow) -> Vec<Outcome> {
    Outcome::for_class(case.case_class)
}

/// Refuses an outcome that does not fit the case's class: 422 `outcome_not_for_class`. Used by
/// contacts here and by a session's end (`app::session::end`).
pub fn check_outcome(outcome: Outcome, class: CaseClass) -> Result<(), ApiError> {
    if outcome.fits(class) {
        return Ok(());
    }
    Err(ApiError::Unprocessable {
        code: ErrorCode::OutcomeNotForClass,
        message: format!("the outcome {outcome} does not fit a {class} case (诉访分离)"),
    })
}

/// A field that breaks a rule of the ledger: the field, the stable code, and the rule in English
/// (the API's message) and in zh-CN (a ledger import's preview, which court staff read beside
/// their Excel file). Built only by the checks below, so each rule is written once.
#[derive(Debug, Clone)]
pub struct FieldError {
    pub field: &'static str,
    /// `invalid_input`, `invalid_name` or `invalid_id_number`.
    pub code: ErrorCode,
    /// The API's message, naming the field: `matter: 1 to 4000 characters`.
    pub message: String,
    /// The same rule in zh-CN, without the field's name (the import names its column).
    pub message_zh: String,
}

impl FieldError {
    fn invalid(field: &'static str, rule: impl std::fmt::Display, zh: impl Into<String>) -> Self {
        FieldError {
            field,
            code: ErrorCode::InvalidInput,
            message: format!("{field}: {rule}"),
            message_zh: zh.into(),
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        match e.code {
            ErrorCode::InvalidInput => ApiError::Invalid(e.message),
            code => ApiError::Unprocessable {
                code,
                message: e.message,
            },
        }
    }
}

/// The rule for free text: trimmed, 1 to `max` characters, no control characters other than
/// line breaks and tabs.
fn text_rule(field: &'static str, raw: &str, max: usize) -> Result<String, FieldError> {
    let t = raw.trim();
    if t.is_empty() || t.chars().count() > max {
        return Err(FieldError::invalid(
            field,
            format!("1 to {max} characters"),
            format!("须填写，1至{max}个字"),
        ));
    }
    if t.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(FieldError::invalid(
            field,
            "control characters are not allowed",
            "含有不可见的控制字符",
        ));
    }
    Ok(t.to_owned())
}

/// A case number (案号) in the one form courts write it: the year in full-width brackets and no
/// spaces, （2026）浙0106信访12号, as the SPC's rules on case numbers set out. Typed or imported
/// with ASCII brackets, 〔〕 or spaces, it is stored in that form, so one case is never two.
fn case_number_rule(field: &'static str, raw: &str) -> Result<String, FieldError> {
    let t = text_rule(field, raw, 64)?;
    Ok(t.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '(' | '〔' | '［' | '[' => '（',
            ')' | '〕' | '］' | ']' => '）',
            other => other,
        })
        .collect())
}

fn optional_text_rule(
    field: &'static str,
    raw: Option<&str>,
    max: usize,
) -> Result<Option<String>, FieldError> {
    raw.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| text_rule(field, t, max))
        .transpose()
}

/// A person's name: the rule is `auth::normalize_name`; 422 `invalid_name` for hidden characters.
fn name_rule(field: &'static str, raw: &str, max: usize) -> Result<String, FieldError> {
    normalize_name(raw, max).map_err(|e| match e {
        NameError::Length(max) => FieldError::invalid(
            field,
            format!("1 to {max} characters"),
            format!("须填写，1至{max}个字"),
        ),
        NameError::Hidden => FieldError {
            field,
            code: ErrorCode::InvalidName,
            message: format!("{field}: {e}"),
            message_zh: "含有控制字符或不可见的格式字符".into(),
        },
    })
}

/// Free text from a request: 422 `invalid_input` naming the field (the rule is `text_rule`).
fn text(field: &'static str, raw: &str, max: usize) -> Result<String, ApiError> {
    Ok(text_rule(field, raw, max)?)
}

/// The reason for a correction (of a contact's or a session's outcome): required, 1 to 500
/// characters; 422 `correction_reason_required` when it is missing or blank.
pub fn correction_reason(raw: &str) -> Result<String, ApiError> {
    if raw.trim().is_empty() {
        return Err(ApiError::Unprocessable {
            code: ErrorCode::CorrectionReasonRequired,
            message: "reason: say why the outcome is corrected".into(),
        });
    }
    text("reason", raw, 500)
}

fn optional_text(
    field: &'static str,
    raw: Option<&str>,
    max: usize,
) -> Result<Option<String>, ApiError> {
    Ok(optional_text_rule(field, raw, max)?)
}

/// The rule for an instant a person gives for something that happened: not after `now` (the
/// server's clock, `app::clock`; a few minutes of clock skew allowed), and not before 2000.
/// None is `now`.
fn past_instant_rule(
    field: &'static str,
    at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, FieldError> {
    let at = at.unwrap_or(now);
    if at > now + Duration::minutes(5) {
        return Err(FieldError::invalid(
            field,
            "must not be in the future",
            "不能晚于今天",
        ));
    }
    if at.year() < 2000 {
        return Err(FieldError::invalid(
            field,
            "must be after 2000",
            "须在2000年以后",
        ));
    }
    Ok(at)
}

fn past_instant(
    field: &'static str,
    at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, ApiError> {
    Ok(past_instant_rule(field, at, now)?)
}

/// The fields of a case to open, as read from a request (POST /cases) or from a row of an
/// imported ledger (`app::ledger_import`).
pub struct CaseFields<'a> {
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
}

/// A case whose every field keeps the rules: what `check_case` gives.
#[derive(Debug)]
pub struct CheckedCase {
    pub case_number: String,
    pub petitioner_name: String,
    pub id_number: IdNumber,
    pub petitioner_count: i32,
    pub collective: bool,
    pub representative: Option<String>,
    pub original_case_number: Option<String>,
    pub original_court: Option<String>,
    pub original_case_kind: Option<String>,
    pub matter: String,
    pub subject: String,
    pub channel: Channel,
    pub case_class: CaseClass,
    pub received_at: DateTime<Utc>,
}

/// What a coordinator asks to open, as read from the request.
pub struct OpenCaseCommand<'a> {
    pub fields: CaseFields<'a>,
    pub confirm_new: bool,
    /// The server's now (`app::clock`): no case is received after it.
    pub now: DateTime<Utc>,
}

pub enum Opened {
    Created(CaseId),
    /// The same matter may be on record already: nothing was written; ask again with
    /// `confirm_new` to open it anyway.
    PossibleDuplicates(Vec<CaseMatchRow>),
}

/// The channels a case can come in by at the local court. Video receptions are written by a
/// session, and 到省访 / 进京访 are contacts reported on a case that exists.
pub const INTAKE: &[Channel] = &[
    Channel::LocalVisit,
    Channel::Letter,
    Channel::Phone,
    Channel::Online,
];

/// Who may open a case (POST /cases, and each row of an imported ledger): a coordinator, at
/// their own court.
pub fn may_open_cases(staff: &Staff) -> Result<(), ApiError> {
    staff.require(&[Role::Coordinator])
}

/// Every rule a new case's fields keep, in one place: POST /cases and each row of an imported
/// ledger call this, and nothing else checks them.
pub fn check_case(f: &CaseFields<'_>, now: DateTime<Utc>) -> Result<CheckedCase, FieldError> {
    let case_number = case_number_rule("case_number", f.case_number)?;
    let petitioner_name = name_rule("petitioner_name", f.petitioner_name, 64)?;
    // The message never repeats the number.
    let id_number = IdNumber::parse(f.petitioner_id_number).map_err(|why| FieldError {
        field: "petitioner_id_number",
        code: ErrorCode::InvalidIdNumber,
        message: format!("petitioner_id_number: {why}"),
        message_zh: "身份证号码不正确（18位，最后一位校验码可为X，出生日期须有效）".into(),
    })?;
    let petitioner_count = f.petitioner_count.unwrap_or(1);
    if !(1..=10_000).contains(&petitioner_count) {
        return Err(FieldError::invalid(
            "petitioner_count",
            "1 to 10000",
            "须为1至10000的整数",
        ));
    }
    let collective = is_collective(petitioner_count);
    let representative = f
        .representative
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| name_rule("representative", r, 64))
        .transpose()?;
    if collective && representative.is_none() {
        return Err(FieldError::invalid(
            "representative",
            "required for five or more petitioners (集体访)",
            "5人以上（集体访）须填写代表人",
        ));
    }
    let original_case_number = match f.original_case_number.map(str::trim) {
        None | Some("") => None,
        Some(raw) => Some(case_number_rule("original_case_number", raw)?),
    };
    let original_court = optional_text_rule("original_court", f.original_court, 64)?;
    let original_case_kind = optional_text_rule("original_case_kind", f.original_case_kind, 32)?;
    if f.case_class == CaseClass::Litigation && original_case_number.is_none() {
        return Err(FieldError::invalid(
            "original_case_number",
            "required for a litigation matter (涉诉)",
            "涉诉案件须填写原审案号",
        ));
    }
    let matter = text_rule("matter", f.matter, 4000)?;
    let subject = text_rule("subject", f.subject, 200)?;
    if !INTAKE.contains(&f.channel) {
        return Err(FieldError::invalid(
            "channel",
            "a case comes in by local_visit, letter, phone or online",
            "须为来访、来信、电话或网上信访",
        ));
    }
    let received_at = past_instant_rule("received_at", f.received_at, now)?;
    Ok(CheckedCase {
        case_number,
        petitioner_name,
        id_number,
        petitioner_count,
        collective,
        representative,
        original_case_number,
        original_court,
        original_case_kind,
        matter,
        subject,
        channel: f.channel,
        case_class: f.case_class,
        received_at,
    })
}

/// What finds the same matter again: the keyed hash of the petitioner's identity number, and
/// the original case number (原审案号) when there is one.
pub struct MatchKey {
    pub id_hash: String,
    pub original_case_number: Option<String>,
}

impl MatchKey {
    pub fn of(case: &CheckedCase) -> Result<MatchKey, ApiError> {
        let sealer = crate::crypto::sealer().map_err(|e| ApiError::Internal(e.into()))?;
        Ok(MatchKey {
            id_hash: sealer.lookup(case.id_number.as_str()),
            original_case_number: case.original_case_number.clone(),
        })
    }
}

/// The existing cases that may be the same matter as each key, most recent first, at most 20
/// each: any case, at any court, with the same petitioner (keyed hash) or the same original
/// case number. The one place this rule is decided; the store only finds the candidates.
pub async fn same_matter(
    store: &Store,
    keys: &[MatchKey],
) -> Result<Vec<Vec<CaseMatchRow>>, ApiError> {
    let pairs: Vec<(&str, Option<&str>)> = keys
        .iter()
        .map(|k| (k.id_hash.as_str(), k.original_case_number.as_deref()))
        .collect();
    let candidates = store.match_candidates(&pairs).await?;
    let mut by_hash: std::collections::HashMap<&str, Vec<&MatchCandidate>> = Default::default();
    let mut by_original: std::collections::HashMap<&str, Vec<&MatchCandidate>> = Default::default();
    for c in &candidates {
        if let Some(h) = c.petitioner_id_hash.as_deref() {
            by_hash.entry(h).or_default().push(c);
        }
        if let Some(o) = c.original_case_number.as_deref() {
            by_original.entry(o).or_default().push(c);
        }
    }
    Ok(keys
        .iter()
        .map(|k| {
            let mut found: Vec<CaseMatchRow> = Vec::new();
            let same_person = by_hash.get(k.id_hash.as_str()).into_iter().flatten();
            let same_original = k
                .original_case_number
                .as_deref()
                .and_then(|o| by_original.get(o))
                .into_iter()
                .flatten();
            for c in same_person.chain(same_original) {
                if found.iter().any(|f| f.id == c.id) {
                    continue;
                }
                found.push(CaseMatchRow {
                    id: c.id,
                    case_number: c.case_number.clone(),
                    court_id: c.court_id,
                    court_name: c.court_name.clone(),
                    status: c.status,
                    case_class: c.case_class,
                    matched_on: if c.petitioner_id_hash.as_deref() == Some(k.id_hash.as_str()) {
                        "petitioner"
                    } else {
                        "original_case"
                    }
                    .to_owned(),
                });
            }
            found.sort_by_key(|m| std::cmp::Reverse(m.id));
            found.truncate(20);
            found
        })
        .collect())
}

/// What the store writes for a checked case, opened by `staff`.
pub fn to_open<'a>(case: &'a CheckedCase, staff: &'a Staff, actor: &'a str) -> OpenCase<'a> {
    OpenCase {
        court_id: staff.court_id,
        case_number: &case.case_number,
        petitioner_name: &case.petitioner_name,
        petitioner_id_number: case.id_number.as_str(),
        petitioner_count: case.petitioner_count,
        collective: case.collective,
        representative: case.representative.as_deref(),
        original_case_number: case.original_case_number.as_deref(),
        original_court: case.original_court.as_deref(),
        original_case_kind: case.original_case_kind.as_deref(),
        matter: &case.matter,
        subject: &case.subject,
        intake_channel: case.channel,
        case_class: case.case_class,
        received_at: case.received_at,
        actor,
        actor_name: &staff.name,
    }
}

/// Opens a case at the coordinator's court, with the contact that brought it in (有访必录).
/// Every field is checked first (`check_case`); then an existing case with the same petitioner
/// or the same original case number is offered (`same_matter`), unless `confirm_new`.
pub async fn open_case(
    store: &Store,
    staff: &Staff,
    cmd: OpenCaseCommand<'_>,
) -> Result<Opened, ApiError> {
    may_open_cases(staff)?;
    let case = check_case(&cmd.fields, cmd.now)?;
    if !cmd.confirm_new {
        let matches = same_matter(store, &[MatchKey::of(&case)?])
            .await?
            .into_iter()
            .next()
            .unwrap_or_default();
        if !matches.is_empty() {
            return Ok(Opened::PossibleDuplicates(matches));
        }
    }
    let actor = format!("user-{}", staff.user_id);
    let id = store.open_case(&to_open(&case, staff, &actor)).await?;
    tracing::info!(case_id = id.get(), court_id = staff.court_id, "case opened");
    Ok(Opened::Created(id))
}

/// A contact to log, as read from the request.
pub struct ContactCommand<'a> {
    pub channel: Channel,
    pub at: Option<DateTime<Utc>>,
    /// The server's now (`app::clock`): the contact's time when `at` is none, and its latest.
    pub now: DateTime<Utc>,
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
    case_id: CaseId,
    cmd: ContactCommand<'_>,
) -> Result<i64, ApiError> {
    let case = Scope::of(store, staff).writable_case(case_id).await?;
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
            code: ErrorCode::VideoBySessionOnly,
            message: "a video reception is written by the session that held it, not by hand".into(),
        });
    }
    let at = past_instant("at", cmd.at, cmd.now)?;
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
        check_outcome(outcome, case.case_class)?;
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
            if !crate::app::scope::within(store, case.court_id, court).await? {
                return Err(ApiError::Unprocessable {
                    code: ErrorCode::ReceivingCourtInvalid,
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
                    code: ErrorCode::ReceivingCourtInvalid,
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
                code: ErrorCode::CorrectionTargetInvalid,
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
    case_id: CaseId,
    to: CaseClass,
    reason: &str,
) -> Result<CaseRow, ApiError> {
    let case = Scope::of(store, staff).writable_case(case_id).await?;
    let reason = text("reason", reason, 500)?;
    match store
        .change_case_class(case.id, to, &reason, &format!("user-{}", staff.user_id))
        .await
    {
        Ok(()) => {}
        Err(StoreError::AlreadyDone) => {
            return Err(ApiError::conflict(
                ErrorCode::ClassUnchanged,
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
    case_id: CaseId,
) -> Result<(CaseRow, Vec<LedgerRow>, Vec<ClassChangeRow>), ApiError> {
    let case = Scope::of(store, staff).readable_case(case_id).await?;
    let ledger = store.ledger(case.id).await?;
    let changes = store.class_changes(case.id).await?;
    Ok((case, ledger, changes))
}

#[cfg(test)]
mod tests {
    use super::case_number_rule;

    #[test]
    fn a_case_number_is_stored_in_one_form() {
        for typed in [
            "(2026)浙0106信访12号",
            "（2026）浙0106信访12号",
            " ( 2026 ) 浙0106 信访12号 ",
            "〔2026〕浙0106信访12号",
        ] {
            assert_eq!(
                case_number_rule("case_number", typed).ok().as_deref(),
                Some("（2026）浙0106信访12号"),
                "{typed}"
            );
        }
        assert!(case_number_rule("case_number", "  ").is_err());
    }
}
