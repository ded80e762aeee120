//! What the API answers with: rows turned into documented shapes. Identity numbers leave only masked.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{CourtLevel, SessionId, SessionStatus, mask_id_number, mask_phone};
use crate::error::ApiError;
use crate::store::{CaseRow, EventRow, LedgerRow, SessionRow, SlotRow};

fn parse<T: std::str::FromStr<Err = String>>(text: &str) -> Result<T, ApiError> {
    text.parse()
        .map_err(|e: String| ApiError::Internal(anyhow::anyhow!("stored value: {e}")))
}

#[derive(Serialize, ToSchema)]
pub struct CourtView {
    pub id: i64,
    pub name: String,
    pub level: CourtLevel,
}

impl CourtView {
    pub fn new(id: i64, name: &str, level: CourtLevel) -> CourtView {
        CourtView {
            id,
            name: name.to_owned(),
            level,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct RoomView {
    pub id: i64,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct CaseView {
    pub id: i64,
    pub case_number: String,
    pub petitioner_name: String,
    /// Masked: `110***********002X`.
    pub petitioner_id_masked: String,
    pub subject: String,
    pub status: crate::domain::CaseStatus,
    /// 1, 2 or 3 (一级, 二级, 三级).
    pub tier: i32,
    pub lead: Option<String>,
    pub deadline: Option<String>,
    /// At risk of petitioning the province or Beijing (到省进京访苗头).
    pub escalation_risk: bool,
    /// Masked: `138****1234`.
    pub petitioner_phone_masked: String,
    /// 四包四定: measures and goal (the lead and deadline are above).
    pub measures: Option<String>,
    pub goal: Option<String>,
    /// `YYYY-MM-DD` the petition was received and accepted.
    pub received_on: Option<String>,
    pub accepted_on: Option<String>,
    /// Days the handling period was extended with a person in charge's approval (at most 30,
    /// once), and why; 0 until an extension is approved.
    pub extension_days: i32,
    pub extension_reason: Option<String>,
    /// Statutory clocks (信访工作条例), in calendar days, a last day off moved to the next
    /// working day (docs/clocks.md).
    pub clocks: Clocks,
    /// 诉访分离: litigation (涉诉) or petition (信访).
    pub case_class: crate::domain::CaseClass,
    /// How many petitioners share the matter.
    pub petitioner_count: i32,
    /// 集体访, derived: five or more petitioners.
    pub collective: bool,
    /// For a collective matter: its representative.
    pub representative: Option<String>,
    /// The underlying lawsuit: 原审案号, 原审法院, 案件类型.
    pub original_case_number: Option<String>,
    pub original_court: Option<String>,
    pub original_case_kind: Option<String>,
    /// The matter in the petitioner's words (`subject` is the summary).
    pub matter: String,
    /// The channel the case came in by; absent for cases from before the ledger kept it.
    pub intake_channel: Option<crate::domain::Channel>,
    /// `user-<id>` who opened it, and when; absent for cases from before the ledger kept it.
    pub opened_by: Option<String>,
    pub opened_at: Option<DateTime<Utc>>,
}

pub use crate::app::clock::Clocks;

impl CaseView {
    /// The case with its clocks on the national calendar, as of `today` (`app/clocks.rs`).
    pub fn new(c: CaseRow, calendar: &crate::schedule::Calendar, today: chrono::NaiveDate) -> Self {
        let clocks = crate::app::clocks::of_case(&c, calendar, today);
        CaseView {
            id: c.id.get(),
            case_number: c.case_number,
            petitioner_name: c.petitioner_name,
            petitioner_id_masked: mask_id_number(&c.petitioner_id_number),
            subject: c.subject,
            status: c.status,
            tier: c.tier,
            lead: c.lead,
            deadline: c.deadline,
            escalation_risk: c.escalation_risk,
            petitioner_phone_masked: mask_phone(&c.petitioner_phone),
            clocks,
            measures: c.measures,
            goal: c.goal,
            received_on: c.received_on,
            accepted_on: c.accepted_on,
            extension_days: c.extension_days,
            extension_reason: c.extension_reason,
            case_class: c.case_class,
            petitioner_count: c.petitioner_count,
            collective: c.collective,
            representative: c.representative,
            original_case_number: c.original_case_number,
            original_court: c.original_court,
            original_case_kind: c.original_case_kind,
            matter: c.matter,
            intake_channel: c.intake_channel.as_deref().and_then(|ch| ch.parse().ok()),
            opened_by: c.opened_by,
            opened_at: c.opened_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct LedgerEntryView {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub channel: crate::domain::Channel,
    pub counted_as: crate::domain::CountedAs,
    pub session_id: Option<i64>,
    /// The summary of the contact.
    pub note: String,
    /// The contact's outcome; for a video reception, the session's.
    pub outcome: Option<crate::domain::Outcome>,
    /// For a video reception: the officer's note.
    pub outcome_note: Option<String>,
    /// Who received it (a name or an office).
    pub received_by: Option<String>,
    /// The body that received it: a court (`receiving_court`) or a petition organ above.
    pub receiving_organ: crate::domain::ReceivingOrgan,
    pub receiving_court: Option<CourtRef>,
    /// A contact the court made or arranged itself (its video receptions, its follow-up
    /// calls): never a repeat petition.
    pub court_initiated: bool,
    /// For a video reception: the minutes both sides were connected.
    pub connected_minutes: Option<i64>,
    /// This entry corrects entry `corrects`, for `correction_reason`.
    pub corrects: Option<i64>,
    pub correction_reason: Option<String>,
    /// A later entry corrects this one: shown, but superseded.
    pub corrected_by: Option<i64>,
    /// `user-<id>` who recorded it, and when (absent on entries from before the ledger kept it).
    pub recorded_by: Option<String>,
    pub recorded_at: Option<DateTime<Utc>>,
}

/// A court named in a view.
#[derive(Serialize, ToSchema)]
pub struct CourtRef {
    pub id: i64,
    pub name: String,
}

impl TryFrom<LedgerRow> for LedgerEntryView {
    type Error = ApiError;
    fn try_from(l: LedgerRow) -> Result<Self, ApiError> {
        Ok(LedgerEntryView {
            id: l.id,
            at: l.at,
            channel: parse(&l.channel)?,
            counted_as: parse(&l.counted_as)?,
            session_id: l.session_id.map(SessionId::get),
            note: l.note,
            outcome: l.outcome.as_deref().map(parse).transpose()?,
            outcome_note: l.outcome_note,
            received_by: l.received_by,
            receiving_organ: parse(&l.receiving_organ)?,
            receiving_court: l.receiving_court_id.map(|id| CourtRef {
                id,
                name: l.receiving_court_name.unwrap_or_default(),
            }),
            court_initiated: l.court_initiated,
            connected_minutes: l.connected_minutes,
            corrects: l.corrects_id,
            correction_reason: l.correction_reason,
            corrected_by: l.corrected_by,
            recorded_by: l.recorded_by,
            recorded_at: l.recorded_at,
        })
    }
}

/// A change of a case's class, on its timeline.
#[derive(Serialize, ToSchema)]
pub struct ClassChangeView {
    pub at: DateTime<Utc>,
    /// `user-<id>`.
    pub by: String,
    pub from: crate::domain::CaseClass,
    pub to: crate::domain::CaseClass,
    pub reason: String,
}

impl TryFrom<crate::store::ledger::ClassChangeRow> for ClassChangeView {
    type Error = ApiError;
    fn try_from(c: crate::store::ledger::ClassChangeRow) -> Result<Self, ApiError> {
        Ok(ClassChangeView {
            at: c.at,
            by: c.actor,
            from: parse(&c.from)?,
            to: parse(&c.to)?,
            reason: c.reason,
        })
    }
}

#[derive(Serialize, ToSchema)]
pub struct CaseDetail {
    #[serde(flatten)]
    pub case: CaseView,
    /// Every contact, oldest first; corrections beside what they correct.
    pub ledger: Vec<LedgerEntryView>,
    /// Changes of class (诉访分离), oldest first.
    pub class_changes: Vec<ClassChangeView>,
    /// Follow-up tasks handed down on the case (交办), each with its steps: assigned, reminded,
    /// overdue, supervised (督办), reported (办结报告). docs/follow-ups.md.
    pub follow_ups: Vec<crate::app::assignments::AssignmentDetail>,
    /// The files the case's court attached, oldest first, without their bytes (download each
    /// with `GET /cases/{id}/attachments/{attachment_id}`, audited). docs/ledger.md.
    pub attachments: Vec<crate::store::attachments::AttachmentRow>,
}

#[derive(Serialize, ToSchema)]
pub struct SlotView {
    pub id: i64,
    pub host_room: RoomView,
    pub court: CourtView,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// A themed slot takes only cases of this category (criminal, civil, …).
    pub theme: Option<String>,
}

impl TryFrom<SlotRow> for SlotView {
    type Error = ApiError;
    fn try_from(s: SlotRow) -> Result<Self, ApiError> {
        Ok(SlotView {
            id: s.id.get(),
            court: CourtView::new(s.court_id, &s.court_name, s.court_level),
            host_room: RoomView {
                id: s.host_room_id,
                name: s.host_room_name,
            },
            starts_at: s.starts_at,
            ends_at: s.ends_at,
            theme: s.theme,
        })
    }
}

#[derive(Serialize, ToSchema)]
pub struct SessionView {
    pub id: i64,
    pub status: crate::domain::SessionStatus,
    pub case_id: i64,
    pub case_number: String,
    pub host_court: CourtView,
    pub host_room: String,
    pub local_court: String,
    pub local_room: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub outcome: Option<crate::domain::Outcome>,
    pub outcome_note: Option<String>,
    /// `YYYY-MM-DD`: when the follow-up of the outcome is due, and who answers for it.
    pub follow_up_deadline: Option<String>,
    pub follow_up_person: Option<String>,
    pub satisfaction: Option<crate::domain::Satisfaction>,
    /// Total time the session stood interrupted (everyone lost) before people came back.
    pub interrupted_seconds: i32,
    /// Seconds the petitioner and the host were connected with media inside the window, kept
    /// when the session ended (docs/lifecycle.md); null before.
    pub connected_seconds: Option<i64>,
    /// The petitioner had been let in and has left (信访人已离开): the session is `waiting`
    /// again, or `interrupted` once everyone has gone.
    pub petitioner_left: bool,
    /// The directories (联系人, 技术保障人员) of the booking's courts — local court, host court,
    /// and a joint reception's second court — in the day's list and in one session's detail
    /// (empty in the answer to ending a session). Phones whole while the session is still to be
    /// held (the other side needs to dial them), afterwards only the reader's own court's
    /// (docs/ledger.md, "Directories").
    pub contacts: Vec<crate::app::directory::CourtDirectory>,
    /// The booking court's leaders named on the session (领导包案), in the day's list and in one
    /// session's detail (empty in the answer to ending a session).
    pub leaders: Vec<crate::store::leaders::LeaderRow>,
}

impl TryFrom<SessionRow> for SessionView {
    type Error = ApiError;
    fn try_from(s: SessionRow) -> Result<Self, ApiError> {
        Ok(SessionView {
            contacts: Vec::new(),
            leaders: Vec::new(),
            id: s.id.get(),
            status: s.status,
            case_id: s.case_id.get(),
            case_number: s.case_number,
            host_court: CourtView::new(s.host_court_id, &s.host_court_name, s.host_court_level),
            host_room: s.host_room_name,
            local_court: s.local_court_name,
            local_room: s.local_room_name,
            starts_at: s.starts_at,
            ends_at: s.ends_at,
            started_at: s.started_at,
            ended_at: s.ended_at,
            outcome: s.outcome.as_deref().map(parse).transpose()?,
            outcome_note: s.outcome_note,
            follow_up_deadline: s.follow_up_deadline,
            follow_up_person: s.follow_up_person,
            satisfaction: s.satisfaction.as_deref().map(parse).transpose()?,
            interrupted_seconds: s.interrupted_seconds,
            connected_seconds: s.connected_seconds,
            petitioner_left: s.started_at.is_some()
                && matches!(
                    s.status,
                    SessionStatus::Waiting | SessionStatus::Interrupted
                ),
        })
    }
}

#[derive(Serialize, ToSchema)]
pub struct EventView {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// `joined`, `left`, `chat` or `ended`.
    pub kind: String,
    /// Participant id: `user-<id>` or `petitioner`.
    pub actor: String,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

impl From<EventRow> for EventView {
    fn from(e: EventRow) -> Self {
        EventView {
            id: e.id,
            at: e.at,
            kind: e.kind,
            actor: e.actor,
            data: serde_json::from_str(&e.data).unwrap_or(serde_json::Value::Null),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct TranscriptView {
    pub text: String,
    pub decision: Option<crate::domain::TranscriptDecision>,
    /// SHA-256 (hex) of the text the petitioner confirmed or refused.
    pub sha256: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
}

impl TranscriptView {
    pub fn of(s: &SessionRow) -> Result<TranscriptView, ApiError> {
        Ok(TranscriptView {
            text: s.transcript.clone(),
            decision: s.transcript_decision.as_deref().map(parse).transpose()?,
            sha256: s.transcript_sha256.clone(),
            decided_at: s.transcript_decided_at,
        })
    }
}

#[derive(Serialize, ToSchema)]
pub struct SessionDetail {
    #[serde(flatten)]
    pub session: SessionView,
    pub transcript: TranscriptView,
    pub events: Vec<EventView>,
}
