//! The API's public error: a stable snake_case `code`, a human message, and the right status.
//! Causes go to the log, never to the client.
//!
//! In the parsers crate because the parsers and token checks answer with it; the HTTP response
//! (`actix_web::ResponseError`) is built only with the `actix` feature, which the server turns on
//! and the fuzz targets leave off.

use std::fmt;

#[cfg(feature = "actix")]
use actix_web::http::StatusCode;
#[cfg(feature = "actix")]
use actix_web::{HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

string_enum!(
    /// The eligibility rule a booking or an application failed (422 `ineligible`, its `rule`;
    /// docs/scheduling.md): each is checked in one place, `app::booking`, and each has its words
    /// in both catalogues (`error.ineligible.<rule>`).
    IneligibleRule {
        CaseClosed => "case_closed",
        HostNotAbove => "host_not_above",
        SpcNeedsHighCourtReview => "spc_needs_high_court_review",
        JointCourtMissing => "joint_court_missing",
        AlreadyBooked => "already_booked",
        ApplicationOpen => "application_open",
    }
);

string_enum!(
    /// Every code the API answers a refusal or a failure with: the `code` of each error body, one
    /// stable snake_case string per value (docs/api.md). A closed set, so that a code is never
    /// misspelt at a refusal, and every code has its words in both catalogues (tests/server,
    /// `catalogue_sets`).
    ErrorCode {
        AlreadyDone => "already_done",
        ApplicationNotOpen => "application_not_open",
        ApplicationOpen => "application_open",
        ApplicationRequired => "application_required",
        AssignNeedsHigherCourt => "assign_needs_higher_court",
        AssignmentClosed => "assignment_closed",
        AssignmentCourtInvalid => "assignment_court_invalid",
        AssignmentOtherCourt => "assignment_other_court",
        AttachmentEmpty => "attachment_empty",
        AttachmentNotOnCase => "attachment_not_on_case",
        AttachmentTooLarge => "attachment_too_large",
        AttachmentTypeNotAllowed => "attachment_type_not_allowed",
        BadCredentials => "bad_credentials",
        BadIdempotencyKey => "bad_idempotency_key",
        BadJoinCode => "bad_join_code",
        BadRequest => "bad_request",
        BadSubprotocol => "bad_subprotocol",
        BadTime => "bad_time",
        BadWeekday => "bad_weekday",
        BadWindow => "bad_window",
        BeyondHorizon => "beyond_horizon",
        BodyTooSlow => "body_too_slow",
        BookingCancelled => "booking_cancelled",
        BookingNotLive => "booking_not_live",
        BufferOutOfRange => "buffer_out_of_range",
        Busy => "busy",
        CalendarBadDay => "calendar_bad_day",
        CalendarBadFollows => "calendar_bad_follows",
        CalendarBadKind => "calendar_bad_kind",
        CalendarBadRow => "calendar_bad_row",
        CalendarDuplicateDay => "calendar_duplicate_day",
        CalendarInvalid => "calendar_invalid",
        CalendarLoaded => "calendar_loaded",
        CalendarMakeupNotWeekend => "calendar_makeup_not_weekend",
        CalendarUnnamed => "calendar_unnamed",
        CalendarWrongYear => "calendar_wrong_year",
        CalendarYearMissing => "calendar_year_missing",
        CaseNumberTaken => "case_number_taken",
        ClassUnchanged => "class_unchanged",
        ClockEventInFuture => "clock_event_in_future",
        ClockEventOutOfOrder => "clock_event_out_of_order",
        CorrectionReasonRequired => "correction_reason_required",
        CorrectionTargetInvalid => "correction_target_invalid",
        CourtNameTaken => "court_name_taken",
        DayPast => "day_past",
        DeadlineOutOfBounds => "deadline_out_of_bounds",
        DuplicateInFile => "duplicate_in_file",
        ExtensionDecided => "extension_decided",
        ExtensionNotApplicable => "extension_not_applicable",
        ExtensionSelfApproval => "extension_self_approval",
        Forbidden => "forbidden",
        HoldCapReached => "hold_cap_reached",
        HostRoomBusy => "host_room_busy",
        IdempotencyInFlight => "idempotency_in_flight",
        IdempotencyKeyReused => "idempotency_key_reused",
        IdentityAlreadyConfirmed => "identity_already_confirmed",
        ImportChanged => "import_changed",
        ImportDuplicateColumns => "import_duplicate_columns",
        ImportMissingColumns => "import_missing_columns",
        ImportTooLarge => "import_too_large",
        ImportTooManyRows => "import_too_many_rows",
        ImportUnknownColumns => "import_unknown_columns",
        ImportUnreadable => "import_unreadable",
        ImportUnsupportedType => "import_unsupported_type",
        Ineligible => "ineligible",
        Internal => "internal",
        InvalidIdNumber => "invalid_id_number",
        InvalidInput => "invalid_input",
        InvalidName => "invalid_name",
        LeaderAlreadyAdded => "leader_already_added",
        LeaderNotEligible => "leader_not_eligible",
        LocalOfficerBusy => "local_officer_busy",
        LocalRoomBusy => "local_room_busy",
        LoginSlowed => "login_slowed",
        MalformedJson => "malformed_json",
        MethodNotAllowed => "method_not_allowed",
        MissingHost => "missing_host",
        NotFound => "not_found",
        NotInCharge => "not_in_charge",
        NotRecording => "not_recording",
        NotSupervisingCourt => "not_supervising_court",
        NothingProposed => "nothing_proposed",
        OriginNotAllowed => "origin_not_allowed",
        OutcomeChanged => "outcome_changed",
        OutcomeCorrectionAssign => "outcome_correction_assign",
        OutcomeNotForClass => "outcome_not_for_class",
        OutcomeUnchanged => "outcome_unchanged",
        OutsideWindow => "outside_window",
        OwnAccount => "own_account",
        PasswordChangeRequired => "password_change_required",
        PasswordUnchanged => "password_unchanged",
        PetitionerLimitReached => "petitioner_limit_reached",
        PossibleDuplicate => "possible_duplicate",
        PreconditionFailed => "precondition_failed",
        PreconditionRequired => "precondition_required",
        RangeNotSatisfiable => "range_not_satisfiable",
        ReceivingCourtInvalid => "receiving_court_invalid",
        ReceptionNotHeld => "reception_not_held",
        RecorderUnavailable => "recorder_unavailable",
        RecordingDamaged => "recording_damaged",
        RecordingFailed => "recording_failed",
        RecordingInProgress => "recording_in_progress",
        RecordingNotUploaded => "recording_not_uploaded",
        RecordingPurged => "recording_purged",
        RefreshReused => "refresh_reused",
        RoomNameTaken => "room_name_taken",
        SessionEnded => "session_ended",
        SessionFull => "session_full",
        SessionNotEnded => "session_not_ended",
        SessionNotHeld => "session_not_held",
        SessionNotStarted => "session_not_started",
        SessionStarted => "session_started",
        SignedOut => "signed_out",
        SlotHeld => "slot_held",
        SlotLengthOutOfRange => "slot_length_out_of_range",
        SlotPast => "slot_past",
        SlotTaken => "slot_taken",
        SlotWithdrawn => "slot_withdrawn",
        StoreUnavailable => "store_unavailable",
        TemplateOverlap => "template_overlap",
        ThemeMismatch => "theme_mismatch",
        TooManyAttempts => "too_many_attempts",
        TooManyDeviceChecks => "too_many_device_checks",
        TooManyJoinAttempts => "too_many_join_attempts",
        TooManyLeaders => "too_many_leaders",
        TooManyTests => "too_many_tests",
        TooSoon => "too_soon",
        TranscriptEmpty => "transcript_empty",
        Unauthenticated => "unauthenticated",
        UsernameTaken => "username_taken",
        VideoBySessionOnly => "video_by_session_only",
        WeakPassword => "weak_password",
        WebhookTargetRefused => "webhook_target_refused",
        WeeklyLimitReached => "weekly_limit_reached",
    }
);

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    MalformedJson(String),
    #[error("{message}")]
    BadRequest { code: ErrorCode, message: String },
    #[error("{0}")]
    Unauthenticated(&'static str),
    #[error("wrong username or password")]
    BadCredentials,
    #[error("this join code is not valid; check it with the court")]
    BadJoinCode,
    #[error("{0}")]
    Forbidden(&'static str),
    /// A refusal with a code of its own, e.g. `outside_join_window`.
    #[error("{message}")]
    Denied { code: ErrorCode, message: String },
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{message}")]
    Conflict { code: ErrorCode, message: String },
    /// Slow down: `too_many_attempts`, `too_many_join_attempts`.
    #[error("{message}")]
    TooMany { code: ErrorCode, message: String },
    /// A 429 that says when to come back: `Retry-After`, whole seconds rounded up.
    #[error("{message}")]
    RetryAfter {
        code: ErrorCode,
        message: String,
        wait: std::time::Duration,
    },
    #[error("{0}")]
    Invalid(String),
    /// Well-formed but refused by a rule with a code of its own (422), e.g. `too_soon`.
    #[error("{message}")]
    Unprocessable { code: ErrorCode, message: String },
    /// An application fails an eligibility rule (422 `ineligible`, naming the rule).
    #[error("{message}")]
    Ineligible {
        rule: IneligibleRule,
        message: String,
    },
    /// `If-Match` names a version that is no longer current (412).
    #[error("this record has changed since you read it; reload it and try again")]
    PreconditionFailed,
    /// An update without `If-Match` (428).
    #[error("send the record's ETag in If-Match, so that you do not overwrite a newer change")]
    PreconditionRequired,
    #[error("the database is not answering; try again shortly")]
    StoreUnavailable(#[source] anyhow::Error),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
    /// An upload over a size or row limit (413), e.g. `import_too_large`.
    #[error("{message}")]
    TooLarge { code: ErrorCode, message: String },
    /// An upload of a kind the endpoint does not read (415), e.g. `import_unsupported_type`.
    #[error("{message}")]
    UnsupportedType { code: ErrorCode, message: String },
    /// A 401 with a code of its own: `signed_out`, `refresh_reused` (refresh tokens).
    #[error("{message}")]
    SignedOut { code: ErrorCode, message: String },
    /// A part of the server that is down or full while the rest works (503), e.g.
    /// `recorder_unavailable`: the client tries again later.
    #[error("{message}")]
    Unavailable { code: ErrorCode, message: String },
    /// The instance's password work is at its bound (503 `busy`, with `Retry-After`).
    #[error("the server is busy checking other passwords; try again in a few seconds")]
    Busy { wait: std::time::Duration },
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable, machine-readable code, e.g. `slot_taken`.
    pub code: ErrorCode,
    /// Human-readable explanation.
    pub message: String,
    /// For `ineligible`: the eligibility rule that failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<IneligibleRule>,
}

impl ApiError {
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::MalformedJson(_) => ErrorCode::MalformedJson,
            ApiError::BadRequest { code, .. } => *code,
            ApiError::Unauthenticated(_) => ErrorCode::Unauthenticated,
            ApiError::BadCredentials => ErrorCode::BadCredentials,
            ApiError::BadJoinCode => ErrorCode::BadJoinCode,
            ApiError::Forbidden(_) => ErrorCode::Forbidden,
            ApiError::Denied { code, .. } => *code,
            ApiError::NotFound(_) => ErrorCode::NotFound,
            ApiError::Conflict { code, .. } => *code,
            ApiError::TooMany { code, .. } | ApiError::RetryAfter { code, .. } => *code,
            ApiError::Invalid(_) => ErrorCode::InvalidInput,
            ApiError::Unprocessable { code, .. } => *code,
            ApiError::Ineligible { .. } => ErrorCode::Ineligible,
            ApiError::PreconditionFailed => ErrorCode::PreconditionFailed,
            ApiError::PreconditionRequired => ErrorCode::PreconditionRequired,
            ApiError::StoreUnavailable(_) => ErrorCode::StoreUnavailable,
            ApiError::Internal(_) => ErrorCode::Internal,
            ApiError::TooLarge { code, .. } | ApiError::UnsupportedType { code, .. } => *code,
            ApiError::Busy { .. } => ErrorCode::Busy,
            ApiError::SignedOut { code, .. } => *code,
            ApiError::Unavailable { code, .. } => *code,
        }
    }

    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError::Conflict {
            code,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::Invalid(message.into())
    }
}

#[cfg(feature = "actix")]
impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::MalformedJson(_) | ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated(_) | ApiError::BadCredentials | ApiError::BadJoinCode => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::Forbidden(_) | ApiError::Denied { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::TooMany { .. } | ApiError::RetryAfter { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Invalid(_) | ApiError::Unprocessable { .. } | ApiError::Ineligible { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ApiError::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            ApiError::StoreUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Busy { .. } | ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::SignedOut { .. } => StatusCode::UNAUTHORIZED,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ApiError::StoreUnavailable(cause) | ApiError::Internal(cause) => {
                tracing::error!(
                    code = self.code().as_str(),
                    error = format!("{cause:#}"),
                    "request failed"
                );
            }
            _ => tracing::debug!(code = self.code().as_str(), "request refused"),
        }
        let mut res = HttpResponse::build(self.status_code());
        if let ApiError::RetryAfter { wait, .. } | ApiError::Busy { wait } = self {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            res.insert_header((actix_web::http::header::RETRY_AFTER, secs.max(1)));
        }
        res.json(ErrorBody {
            code: self.code(),
            message: self.to_string(),
            rule: match self {
                ApiError::Ineligible { rule, .. } => Some(*rule),
                _ => None,
            },
        })
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError::Internal(e)
    }
}
