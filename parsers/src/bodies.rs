//! The API's request bodies: what each route reads from JSON, before it asks the application
//! anything. A route takes its body from here (`web::Json<T>`), runs the field checks it needs
//! (`fields`, `names`, `passwords`, `schedule`, `webhook`), and hands the result on. Kept apart
//! from the server so that the fuzz target `request_bodies` reads them without building it.
//!
//! Every body refuses fields it does not know (`deny_unknown_fields`), and every closed set is
//! read through a string, so that a wrong value is the field's 422, not "malformed JSON".

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{CourtLevel, Outcome, Role, Satisfaction, TranscriptDecision};
use crate::schedule::{Category, TemplateDay, Window};

// --- Signing in and joining (`/auth`) -------------------------------------------------------

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    /// 12 digits; spaces and dashes are ignored.
    pub code: String,
}

// --- Administration (`/admin`) --------------------------------------------------------------

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCourt {
    /// Unique among all courts, 1 to 100 characters.
    pub name: String,
    /// Below the parent's level (supreme › high › intermediate › basic).
    pub level: CourtLevel,
    /// The court directly above: the administrator's court or one below it.
    pub parent_id: i64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rename {
    /// 1 to 100 characters.
    pub name: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRoom {
    /// `host` (a reception room of a court above the basic level) or `local`.
    pub kind: RoomType,
    /// Unique among the court's rooms of that kind, 1 to 100 characters.
    pub name: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserRequest {
    pub court_id: i64,
    /// 3 to 64 of letters, digits, `.`, `_`, `-`; unique.
    pub username: String,
    /// 1 to 64 characters.
    pub display_name: String,
    pub role: Role,
    /// At least 10 characters.
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    /// True disables the account (it can no longer log in); false enables it again.
    pub disabled: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    /// At least 10 characters.
    pub password: String,
}

/// Which of a court's two kinds of room: a host room (接谈室, where a higher court's judge sits)
/// or a local room (接访室, where the petitioner sits).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
// Read through a string, so that `{"kind": 42}` is the field's error, not "malformed JSON".
#[serde(rename_all = "snake_case", try_from = "String")]
pub enum RoomType {
    Host,
    Local,
}

impl TryFrom<String> for RoomType {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        match s.as_str() {
            "host" => Ok(RoomType::Host),
            "local" => Ok(RoomType::Local),
            _ => Err(format!("'{s}' is not a kind of room (host, local)")),
        }
    }
}

// --- Applications (`/applications`) ---------------------------------------------------------

/// A preferred time range of the coordinator's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeRange {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// Facts the eligibility rules look at, attached by the coordinator.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EligibilityFacts {
    /// Accepted from older clients and ignored: whether the high court reviewed the case is
    /// read from the case's records (app/booking.rs), never taken from the applicant's word.
    #[serde(default)]
    pub high_court_reviewed: bool,
    /// A joint reception with the high court is requested (联合接访).
    #[serde(default)]
    pub joint_with_high_court: bool,
    /// Anything else the host court should know.
    #[serde(default)]
    pub note: String,
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationRequest {
    pub case_id: i64,
    pub host_court_id: i64,
    pub local_room_id: i64,
    #[serde(default)]
    pub local_officer_id: Option<i64>,
    #[serde(default)]
    pub joint_court_id: Option<i64>,
    /// When the petitioner could come; at least one range, each in the future.
    pub preferred: Vec<TimeRange>,
    pub reason: String,
    #[serde(default)]
    pub facts: EligibilityFacts,
    /// A free slot the coordinator chose (and may hold): booked at once where the host court
    /// approves automatically.
    #[serde(default)]
    pub slot_id: Option<i64>,
}

/// The host court's decision.
#[derive(Deserialize, ToSchema)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Review {
    /// Book the application into this slot of the court.
    Approve {
        slot_id: i64,
    },
    /// Offer this slot instead; the coordinator accepts it.
    Propose {
        slot_id: i64,
        note: String,
    },
    /// Ask the local court for more material.
    MoreInfo {
        note: String,
    },
    Reject {
        reason: String,
    },
}

/// The coordinator's answer to the host court.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Answer {
    /// Take the proposed slot: booked at once, with the join code in the answer.
    Accept,
    /// Send the material asked for: back to the host court's queue.
    Amend {
        reason: String,
        facts: EligibilityFacts,
        preferred: Vec<TimeRange>,
    },
    Withdraw,
}

// --- Bookings (`/bookings`) -----------------------------------------------------------------

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldRequest {
    pub slot_id: i64,
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingRequest {
    pub slot_id: i64,
    pub case_id: i64,
    pub local_room_id: i64,
    /// The local court's officer who accompanies the petitioner; never in two sessions at once.
    #[serde(default)]
    pub local_officer_id: Option<i64>,
    /// A joint reception (联合接访): a second court above yours that joins as co-host.
    #[serde(default)]
    pub joint_court_id: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// Why; a host court may cancel only with a reason (一旦预约就一定要谈).
    pub reason: String,
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RescheduleRequest {
    pub slot_id: i64,
    pub reason: String,
}

// --- Cases (`/cases`) -----------------------------------------------------------------------

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionRequest {
    /// 1 to 30 days.
    pub days: i32,
    /// Why the case is complex enough to need more time (required).
    pub reason: String,
}

// --- A host court's schedule (`/schedule`) --------------------------------------------------

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateBody {
    /// Monday to Friday, each with its windows and optional theme.
    pub days: Vec<TemplateDay>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OverrideRequest {
    /// `YYYY-MM-DD`, Asia/Shanghai.
    pub day: String,
    /// Without a window: closed all day. With one: an extra opening.
    #[serde(default)]
    pub window: Option<Window>,
    #[serde(default)]
    pub theme: Option<Category>,
    #[serde(default)]
    pub note: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryRequest {
    pub category: Category,
}

// --- Sessions (`/sessions`) -----------------------------------------------------------------

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndRequest {
    pub outcome: Outcome,
    /// Up to 2000 characters.
    #[serde(default)]
    pub note: String,
    /// `YYYY-MM-DD`, today or later: when the follow-up is due (e.g. for 交办 or 督办).
    #[serde(default)]
    pub follow_up_deadline: Option<String>,
    /// Who answers for the follow-up (up to 64 characters).
    #[serde(default)]
    pub follow_up_person: Option<String>,
}

// --- The transcript (`/sessions/{id}/transcript`) -------------------------------------------

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TranscriptText {
    pub text: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    pub decision: TranscriptDecision,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RatingRequest {
    pub satisfaction: Satisfaction,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    pub text: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectionRequest {
    /// The id of the timeline event this corrects.
    pub corrects: i64,
    pub text: String,
}

// --- Notifications (`/notifications`) -------------------------------------------------------

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// `http://` URL on the court network that receives the POSTs (no TLS in this build).
    pub url: String,
    /// HMAC-SHA256 key, 16–256 bytes. Kept by the server, never shown again.
    pub secret: String,
    /// Events to receive; empty or absent: all.
    #[serde(default)]
    pub topics: Vec<String>,
}

// --- Connectivity tests (`/connectivity`) ---------------------------------------------------

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Description {
    /// `offer` from the client, `answer` from the server.
    #[serde(rename = "type")]
    pub kind: String,
    pub sdp: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartTest {
    /// The local room under test (staff); absent for a petitioner's device check.
    pub room_id: Option<i64>,
    /// Instead of `room_id`: a host court's own reception room under test (its staff).
    #[serde(default)]
    pub host_room_id: Option<i64>,
    /// The client's offer with every ICE candidate in it (gathering complete) and a data
    /// channel labelled `courtlink-echo`; audio and video are optional.
    pub offer: Description,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenCampaign {
    /// e.g. `2026年第四季度视频接访联通测试` (1–200 characters).
    pub title: String,
    /// When every room below must have passed (RFC 3339); in the future.
    pub deadline: DateTime<Utc>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Contacts {
    pub contact_name: String,
    pub contact_phone: String,
    pub tech_name: String,
    pub tech_phone: String,
}
