//! Domain values with rules, parsed at the edge and never passed around as bare strings.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        // Read through a string: a value of another type (`42`, `[]`) is then the field's error
        // (422 naming it), where serde_json would call it malformed JSON.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case", try_from = "String")]
        pub enum $name { $($variant),+ }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(s: String) -> Result<Self, String> {
                s.parse()
            }
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!(
                        "'{}' is not a valid {} (one of: {})",
                        s,
                        stringify!($name),
                        [$($text),+].join(", ")
                    )),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        // A column of the type reads as the value, and a value binds as its string: a row that
        // holds another string is the store's error (the columns have CHECK constraints), not a
        // string that each reader compares by hand.
        #[cfg(feature = "sqlx")]
        impl<DB: sqlx::Database> sqlx::Type<DB> for $name
        where
            str: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as sqlx::Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as sqlx::Type<DB>>::compatible(ty)
            }
        }

        #[cfg(feature = "sqlx")]
        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $name
        where
            &'r str: sqlx::Decode<'r, DB>,
        {
            fn decode(
                value: <DB as sqlx::Database>::ValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                Ok(<&'r str as sqlx::Decode<'r, DB>>::decode(value)?.parse::<$name>()?)
            }
        }

        #[cfg(feature = "sqlx")]
        impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for $name
        where
            &'q str: sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as sqlx::Database>::ArgumentBuffer<'q>,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&'q str as sqlx::Encode<'q, DB>>::encode_by_ref(&self.as_str(), buf)
            }
        }
    };
}

/// An id of one kind of row, so that one kind cannot be passed where another is expected. A
/// booking and its session are written together and usually get the same number, so a booking's
/// id given for a session's would pass every test and read the wrong row on a real server: the
/// types make it a compile error. On the wire and in the database it is the bare integer.
macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl $name {
            /// The bare number, for the wire (a signalling message, a token's claim, a log's field).
            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;

            /// As the number is written (a token's `sub`, a path's segment).
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map($name)
            }
        }

        #[cfg(feature = "sqlx")]
        impl<DB: sqlx::Database> sqlx::Type<DB> for $name
        where
            i64: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <i64 as sqlx::Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <i64 as sqlx::Type<DB>>::compatible(ty)
            }
        }

        #[cfg(feature = "sqlx")]
        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $name
        where
            i64: sqlx::Decode<'r, DB>,
        {
            fn decode(
                value: <DB as sqlx::Database>::ValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                Ok($name(<i64 as sqlx::Decode<'r, DB>>::decode(value)?))
            }
        }

        #[cfg(feature = "sqlx")]
        impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for $name
        where
            i64: sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as sqlx::Database>::ArgumentBuffer<'q>,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <i64 as sqlx::Encode<'q, DB>>::encode_by_ref(&self.0, buf)
            }
        }
    };
}

id_type!(
    /// A session (`sessions.id`): what the hub, the timeline and the record are about.
    SessionId
);

id_type!(
    /// A booking (`bookings.id`): what is cancelled, moved and has a join code.
    BookingId
);

id_type!(
    /// A bookable slot (`slots.id`): what is held and booked, of a host court's room.
    SlotId
);

id_type!(
    /// A member of staff (`users.id`): a coordinator, an officer, a supervisor. A booking
    /// names its officers by it, beside the room they sit in.
    UserId
);

id_type!(
    /// A petition case (`cases.id`): what bookings, sessions, the ledger, clocks and the case's
    /// file belong to. On a fresh database the first case, booking and session are all 1.
    CaseId
);

string_enum!(
    /// Where a court stands in the hierarchy.
    CourtLevel { Supreme => "supreme", High => "high", Intermediate => "intermediate", Basic => "basic" }
);

string_enum!(
    /// Why a connectivity test failed (docs/connectivity.md): the page shows each with its
    /// words (`roomtest.reason.<code>`) and the figures, beside the server's sentence.
    TestFailure {
        IceFailed => "ice_failed",
        Closed => "closed",
        ConnectionLost => "connection_lost",
        NoEcho => "no_echo",
        NoMedia => "no_media",
        RttTooHigh => "rtt_too_high",
        LossTooHigh => "loss_too_high",
        JitterTooHigh => "jitter_too_high",
        BitrateTooLow => "bitrate_too_low",
        Abandoned => "abandoned",
        ServerError => "server_error",
    }
);

string_enum!(
    /// What a staff account may do.
    Role { Admin => "admin", Coordinator => "coordinator", Officer => "officer", Supervisor => "supervisor" }
);

string_enum!(
    /// What a reception or contact came to, in the terms courts use (docs/outcomes.md):
    /// 释法明理, 导入诉讼程序, 立案复查, 不属受理范围告知, 不再受理告知, 终结, 司法救助, 交办, 督办,
    /// 接访中止, and 息诉罢访 (a result recorded when the petitioner withdraws, not an instrument).
    Outcome {
        ExplainedLaw => "explained_law",
        IntoProcedure => "into_procedure",
        ReviewFiled => "review_filed",
        NotWithinScope => "not_within_scope",
        NoLongerAccepted => "no_longer_accepted",
        Concluded => "concluded",
        JudicialAid => "judicial_aid",
        Assign => "assign",
        Supervise => "supervise",
        ReceptionStopped => "reception_stopped",
        Withdrawn => "withdrawn",
    }
);

string_enum!(
    /// Where a petition case stands (docs/ledger.md, "A case's status"): 已登记 when opened,
    /// 已受理 once its acceptance is recorded, 已终结 once a standing contact of its ledger ends
    /// it with the outcome `concluded` (终结). The first two are stored; `concluded` is read from
    /// the ledger (`store::rows::CASE_STATUS`), so that a corrected outcome changes it too.
    CaseStatus { Registered => "registered", Accepted => "accepted", Concluded => "concluded" }
);

string_enum!(
    /// 诉访分离: a litigation matter (涉诉, channelled into procedure) or a petition matter (信访).
    CaseClass { Litigation => "litigation", Petition => "petition" }
);

string_enum!(
    /// The body that received a contact: a court, or a non-court petition organ above
    /// (provincial or central). Statistics count 越级访 from it and the case's court.
    ReceivingOrgan { Court => "court", ProvincialOrgan => "provincial_organ", CentralOrgan => "central_organ" }
);

impl Outcome {
    /// The one place that decides which outcomes fit which class of case (诉访分离). Channelling
    /// into procedure, 立案复查, 终结 and 司法救助 belong to litigation matters; telling a
    /// petitioner that the matter is outside the courts' remit belongs to petition matters.
    pub fn fits(self, class: CaseClass) -> bool {
        match self {
            Outcome::IntoProcedure
            | Outcome::ReviewFiled
            | Outcome::Concluded
            | Outcome::JudicialAid => class == CaseClass::Litigation,
            Outcome::NotWithinScope => class == CaseClass::Petition,
            Outcome::ExplainedLaw
            | Outcome::NoLongerAccepted
            | Outcome::Assign
            | Outcome::Supervise
            | Outcome::ReceptionStopped
            | Outcome::Withdrawn => true,
        }
    }

    /// The outcomes offered for a case of `class`, in the order of `ALL`.
    pub fn for_class(class: CaseClass) -> Vec<Outcome> {
        Outcome::ALL
            .iter()
            .copied()
            .filter(|o| o.fits(class))
            .collect()
    }
}

string_enum!(
    /// The channel of a contact on a case (台账): 来访, 来信, 电话, 网上信访, the video receptions
    /// (written only by a held session), and 到省访 / 进京访 reported from above.
    Channel {
        LocalVisit => "local_visit",
        Letter => "letter",
        Phone => "phone",
        Online => "online",
        VideoSpc => "video_spc",
        VideoHigh => "video_high",
        VideoIntermediate => "video_intermediate",
        ToProvince => "to_province",
        ToBeijing => "to_beijing",
    }
);

string_enum!(
    /// Whose statistics a ledger entry counts in.
    CountedAs { Local => "local", Province => "province", Beijing => "beijing" }
);

string_enum!(
    SessionStatus {
        Scheduled => "scheduled",
        Waiting => "waiting",
        Live => "live",
        Interrupted => "interrupted",
        Ended => "ended",
        NoShow => "no_show",
    }
);

string_enum!(
    /// What a session's timeline records (`session_events.kind`): the one list of its entries'
    /// kinds, written by the hub, the lifecycle, the record and the recorder, and read by the
    /// lifecycle and the reception's account.
    EventKind {
        Joined => "joined",
        Resumed => "resumed",
        Replaced => "replaced",
        Admitted => "admitted",
        Left => "left",
        Removed => "removed",
        MuteRequested => "mute_requested",
        Chat => "chat",
        Quality => "quality",
        MediaLost => "media_lost",
        MediaRestored => "media_restored",
        Interrupted => "interrupted",
        Emptied => "emptied",
        NoShow => "no_show",
        StatusChanged => "status_changed",
        Ended => "ended",
        Note => "note",
        Correction => "correction",
        TranscriptDecided => "transcript_decided",
        Rated => "rated",
        OutcomeCorrected => "outcome_corrected",
        IdentityConfirmed => "identity_confirmed",
        LeaderAdded => "leader_added",
        RecordingTrackSkipped => "recording_track_skipped",
        RecordingGapStarted => "recording_gap_started",
        RecordingGapEnded => "recording_gap_ended",
    }
);

string_enum!(
    /// The petitioner's rating at the end (满意 / 基本满意 / 不满意).
    Satisfaction { Satisfied => "satisfied", BasicallySatisfied => "basically_satisfied", Dissatisfied => "dissatisfied" }
);

string_enum!(
    /// What the petitioner did with the transcript (笔录): signed it, or refused to.
    TranscriptDecision { Confirmed => "confirmed", Refused => "refused" }
);

string_enum!(
    /// How the petitioner's identity was confirmed in a session (身份核验): by the local court's
    /// staff in the video room (`in_room`), or by the host court's officer seeing the identity
    /// card on camera, for a petitioner who joined from their own device (`on_camera`).
    IdentityCheck { InRoom => "in_room", OnCamera => "on_camera" }
);

string_enum!(
    BookingStatus { Booked => "booked", Cancelled => "cancelled", Completed => "completed" }
);

string_enum!(
    /// Where an application (申请) stands: waiting for the host court (`pending`), a slot offered
    /// (`proposed`), more material asked for (`more_info`), or closed as `approved` (booked),
    /// `rejected` or `withdrawn`.
    ApplicationStatus {
        Pending => "pending",
        Proposed => "proposed",
        MoreInfo => "more_info",
        Approved => "approved",
        Rejected => "rejected",
        Withdrawn => "withdrawn",
    }
);

impl ApplicationStatus {
    /// The statuses in which the host court may still decide and the case may not apply again.
    pub const OPEN: &'static [ApplicationStatus] = &[
        ApplicationStatus::Pending,
        ApplicationStatus::Proposed,
        ApplicationStatus::MoreInfo,
    ];

    pub fn is_open(self) -> bool {
        ApplicationStatus::OPEN.contains(&self)
    }
}

impl Channel {
    /// The one place that decides how a contact is counted. A video reception with the SPC is
    /// handled locally, not a petition to Beijing (进京访); one with a high court is not a
    /// petition to the province (到省访). Only a petitioner who actually travelled counts there.
    pub fn counted_as(self) -> CountedAs {
        match self {
            Channel::ToBeijing => CountedAs::Beijing,
            Channel::ToProvince => CountedAs::Province,
            Channel::LocalVisit
            | Channel::Letter
            | Channel::Phone
            | Channel::Online
            | Channel::VideoSpc
            | Channel::VideoHigh
            | Channel::VideoIntermediate => CountedAs::Local,
        }
    }

    /// A video reception: written only by a held session, never logged by hand.
    pub fn is_video(self) -> bool {
        matches!(
            self,
            Channel::VideoSpc | Channel::VideoHigh | Channel::VideoIntermediate
        )
    }

    /// The ledger channel of a video reception hosted by a court of `level`.
    pub fn video_with(level: CourtLevel) -> Option<Channel> {
        match level {
            CourtLevel::Supreme => Some(Channel::VideoSpc),
            CourtLevel::High => Some(Channel::VideoHigh),
            CourtLevel::Intermediate => Some(Channel::VideoIntermediate),
            CourtLevel::Basic => None,
        }
    }
}

/// A petitioner's join code: 12 digits, shown as `1234-5678-9012`. Typed by people, so spaces and
/// dashes are ignored on input. The store keeps its keyed hash, to find it, and the code sealed,
/// to print the notice again.
#[derive(Clone, PartialEq, Eq)]
pub struct JoinCode(String);

impl JoinCode {
    pub const DIGITS: usize = 12;

    pub fn generate() -> JoinCode {
        use rand::Rng;
        let mut rng = rand::rngs::OsRng;
        JoinCode(
            (0..Self::DIGITS)
                .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
                .collect(),
        )
    }

    pub fn parse(input: &str) -> Result<JoinCode, String> {
        let digits: String = input
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '\u{3000}'))
            .collect();
        if digits.len() != Self::DIGITS || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!("a join code is {} digits", Self::DIGITS));
        }
        Ok(JoinCode(digits))
    }

    /// `1234-5678-9012`, for people.
    pub fn display(&self) -> String {
        let s = &self.0;
        format!("{}-{}-{}", &s[0..4], &s[4..8], &s[8..12])
    }

    /// What the store keeps of a code: an HMAC-SHA256 under a key derived from
    /// `privacy.data_key`, so that a copy of the database does not let anyone try all 10^12
    /// codes offline. (Only a process without an installed data key, a benchmark fixture, gets
    /// the unkeyed form.)
    pub fn hash(&self) -> String {
        match crate::crypto::sealer() {
            Ok(sealer) => sealer.lookup(&format!("join-code:{}", self.0)),
            Err(_) => self.legacy_hash(),
        }
    }

    /// The code sealed for the notice (reprinted without a new code); `None` in a process
    /// without a data key, which then keeps the hash only.
    pub fn sealed(&self) -> Option<String> {
        crate::crypto::sealer().ok().map(|s| s.seal(&self.0))
    }

    /// A sealed code opened again; `None` if it does not open or is not a code.
    pub fn unseal(stored: &str) -> Option<JoinCode> {
        let plain = crate::crypto::sealer().ok()?.open(stored).ok()?;
        JoinCode::parse(&plain).ok()
    }

    /// The unkeyed SHA-256 that codes issued before migration 0014 are stored as; still
    /// looked up, so that notices already printed keep working until their window closes.
    pub fn legacy_hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }
}

/// Never print a join code by accident: it admits to a session.
impl fmt::Debug for JoinCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JoinCode(****)")
    }
}

/// A resident identity number (居民身份证号码, GB 11643): 17 digits, a check digit (0-9 or X,
/// ISO 7064 MOD 11-2), with a real date of birth in digits 7 to 14. Never printed: `Debug`
/// shows the mask only.
#[derive(Clone, PartialEq, Eq)]
pub struct IdNumber(String);

impl IdNumber {
    pub fn parse(input: &str) -> Result<IdNumber, String> {
        let text = input.trim().to_ascii_uppercase();
        let bytes = text.as_bytes();
        let check = text.get(..17).and_then(IdNumber::check_digit);
        let last = (bytes.len() == 18)
            .then(|| char::from(bytes[17]))
            .filter(|c| c.is_ascii_digit() || *c == 'X');
        let (Some(check), Some(last)) = (check, last) else {
            return Err("an identity number is 17 digits and a check digit (0-9 or X)".into());
        };
        if last != check {
            return Err("the identity number's check digit does not match".into());
        }
        if chrono::NaiveDate::parse_from_str(&text[6..14], "%Y%m%d").is_err() {
            return Err("the identity number's date of birth is not a date".into());
        }
        Ok(IdNumber(text))
    }

    /// The check digit (ISO 7064 MOD 11-2) of an identity number's first 17 digits, or `None`
    /// when they are not 17 ASCII digits. The one place the rule is written: the generators of
    /// made-up numbers (tests, the load tools) use it too.
    pub fn check_digit(first17: &str) -> Option<char> {
        const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
        const CHECK: &[u8; 11] = b"10X98765432";
        let digits = first17.as_bytes();
        if digits.len() != 17 || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let sum: u32 = digits
            .iter()
            .zip(WEIGHTS)
            .map(|(b, w)| u32::from(b - b'0') * w)
            .sum();
        Some(char::from(CHECK[(sum % 11) as usize]))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdNumber({})", mask_id_number(&self.0))
    }
}

/// 集体访: five or more petitioners on one matter. The one place the flag is derived.
pub fn is_collective(petitioner_count: i32) -> bool {
    petitioner_count >= 5
}

/// Masks a phone number for output: `138****1234` (first three, last four).
pub fn mask_phone(phone: &str) -> String {
    mask_id_number(phone)
}

/// Masks an identity number for output: `110***********123X` (first three, last four).
pub fn mask_id_number(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() <= 7 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

/// The kinds of file a case attachment may be, each recognised by its content (magic bytes),
/// never by its name (docs/ledger.md, "Attachments"). Which of them a court accepts is the
/// setting `attachments.allowed_types`. Written here rather than with a sniffing crate: six
/// signatures, where a crate would recognise a hundred kinds that must never be accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum MediaType {
    Pdf,
    Jpeg,
    Png,
    Gif,
    Webp,
    Tiff,
}

impl MediaType {
    pub const ALL: &'static [MediaType] = &[
        MediaType::Pdf,
        MediaType::Jpeg,
        MediaType::Png,
        MediaType::Gif,
        MediaType::Webp,
        MediaType::Tiff,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::Pdf => "application/pdf",
            MediaType::Jpeg => "image/jpeg",
            MediaType::Png => "image/png",
            MediaType::Gif => "image/gif",
            MediaType::Webp => "image/webp",
            MediaType::Tiff => "image/tiff",
        }
    }

    /// The file name extension a download is given (the stored name may say otherwise).
    pub fn extension(self) -> &'static str {
        match self {
            MediaType::Pdf => "pdf",
            MediaType::Jpeg => "jpg",
            MediaType::Png => "png",
            MediaType::Gif => "gif",
            MediaType::Webp => "webp",
            MediaType::Tiff => "tif",
        }
    }

    /// The type the bytes are, read from their first bytes; `None` for anything else.
    pub fn sniff(bytes: &[u8]) -> Option<MediaType> {
        let starts = |magic: &[u8]| bytes.starts_with(magic);
        if starts(b"%PDF-") {
            Some(MediaType::Pdf)
        } else if starts(&[0xFF, 0xD8, 0xFF]) {
            Some(MediaType::Jpeg)
        } else if starts(b"\x89PNG\r\n\x1a\n") {
            Some(MediaType::Png)
        } else if starts(b"GIF87a") || starts(b"GIF89a") {
            Some(MediaType::Gif)
        } else if bytes.len() >= 12 && starts(b"RIFF") && &bytes[8..12] == b"WEBP" {
            Some(MediaType::Webp)
        } else if starts(b"II*\0") || starts(b"MM\0*") {
            Some(MediaType::Tiff)
        } else {
            None
        }
    }
}

impl std::str::FromStr for MediaType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        MediaType::ALL
            .iter()
            .copied()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = MediaType::ALL.iter().map(|m| m.as_str()).collect();
                format!("'{s}' is not one of {}", known.join(", "))
            })
    }
}

impl TryFrom<String> for MediaType {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<MediaType> for &'static str {
    fn from(m: MediaType) -> &'static str {
        m.as_str()
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn video_receptions_count_as_local() {
        assert_eq!(Channel::VideoSpc.counted_as(), CountedAs::Local);
        assert_eq!(Channel::VideoHigh.counted_as(), CountedAs::Local);
        assert_eq!(Channel::VideoIntermediate.counted_as(), CountedAs::Local);
        assert_eq!(Channel::ToBeijing.counted_as(), CountedAs::Beijing);
        assert_eq!(Channel::ToProvince.counted_as(), CountedAs::Province);
        assert_eq!(
            Channel::video_with(CourtLevel::Supreme),
            Some(Channel::VideoSpc)
        );
        assert_eq!(Channel::video_with(CourtLevel::Basic), None);
    }

    #[test]
    fn join_code_parses_what_people_type() {
        let c = JoinCode::parse("1234 5678-9012").unwrap();
        assert_eq!(c.display(), "1234-5678-9012");
        assert!(JoinCode::parse("1234").is_err());
        assert!(JoinCode::parse("12345678901a").is_err());
        assert!(JoinCode::parse("１２３４５６７８９０１２").is_err());
        assert_eq!(format!("{c:?}"), "JoinCode(****)");
        let g = JoinCode::generate();
        assert_eq!(JoinCode::parse(&g.display()).unwrap(), g);
    }

    #[test]
    fn identity_numbers_are_masked() {
        assert_eq!(mask_id_number("11010519491231002X"), "110***********002X");
        assert_eq!(mask_id_number("123"), "***");
        assert_eq!(mask_phone("13812341234"), "138****1234");
    }

    #[test]
    fn media_types_are_read_from_the_content() {
        assert_eq!(MediaType::sniff(b"%PDF-1.7\n"), Some(MediaType::Pdf));
        assert_eq!(
            MediaType::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(MediaType::Jpeg)
        );
        assert_eq!(
            MediaType::sniff(b"\x89PNG\r\n\x1a\n...."),
            Some(MediaType::Png)
        );
        assert_eq!(
            MediaType::sniff(b"RIFF\0\0\0\0WEBPVP8 "),
            Some(MediaType::Webp)
        );
        assert_eq!(MediaType::sniff(b"RIFF\0\0\0\0WAVE"), None);
        assert_eq!(MediaType::sniff(b"MZ\x90\0"), None);
        assert_eq!(MediaType::sniff(b"<html>%PDF-"), None);
        assert_eq!(MediaType::sniff(b""), None);
        for m in MediaType::ALL {
            assert_eq!(m.as_str().parse::<MediaType>().unwrap(), *m);
        }
    }

    #[test]
    fn enums_round_trip() {
        for o in Outcome::ALL {
            assert_eq!(o.as_str().parse::<Outcome>().unwrap(), *o);
        }
        assert!("bribe".parse::<Outcome>().is_err());
        assert!("stop_notice".parse::<Outcome>().is_err());
    }

    #[test]
    fn identity_numbers_are_checked() {
        // GB 11643's own example.
        assert!(IdNumber::parse("11010519491231002X").is_ok());
        assert_eq!(IdNumber::check_digit("11010519491231002"), Some('X'));
        assert_eq!(IdNumber::check_digit("1101051949123100"), None);
        assert_eq!(IdNumber::check_digit("1101051949123100A"), None);
        assert!(IdNumber::parse("11010519491231002x").is_ok());
        assert!(IdNumber::parse("110105194912310021").is_err());
        assert!(IdNumber::parse("11010519491331002X").is_err());
        assert!(IdNumber::parse("1101051949123100").is_err());
        assert!(IdNumber::parse("１１０１０５１９４９１２３１００２Ｘ").is_err());
        let n = IdNumber::parse("11010519491231002X").unwrap();
        assert_eq!(format!("{n:?}"), "IdNumber(110***********002X)");
        assert!(is_collective(5) && !is_collective(4));
    }

    #[test]
    fn outcomes_fit_their_class() {
        assert!(Outcome::IntoProcedure.fits(CaseClass::Litigation));
        assert!(!Outcome::IntoProcedure.fits(CaseClass::Petition));
        assert!(!Outcome::Concluded.fits(CaseClass::Petition));
        assert!(!Outcome::NotWithinScope.fits(CaseClass::Litigation));
        assert!(Outcome::Withdrawn.fits(CaseClass::Petition));
        assert!(Outcome::Withdrawn.fits(CaseClass::Litigation));
        assert!(Outcome::for_class(CaseClass::Litigation).contains(&Outcome::ReviewFiled));
        assert!(!Outcome::for_class(CaseClass::Petition).contains(&Outcome::ReviewFiled));
        assert!(!Channel::Phone.is_video());
        assert!(Channel::VideoHigh.is_video());
    }
}
