//! The API's public error: a stable snake_case `code`, a human message, and the right status.
//! Causes go to the log, never to the client.
//!
//! In the parsers crate because the parsers and token checks answer with it; the HTTP response
//! (`actix_web::ResponseError`) is built only with the `actix` feature, which the server turns on
//! and the fuzz targets leave off.

#[cfg(feature = "actix")]
use actix_web::http::StatusCode;
#[cfg(feature = "actix")]
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    MalformedJson(String),
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
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
    Denied { code: &'static str, message: String },
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// Slow down: `too_many_attempts`, `account_locked`.
    #[error("{message}")]
    TooMany { code: &'static str, message: String },
    /// A 429 that says when to come back: `Retry-After`, whole seconds rounded up.
    #[error("{message}")]
    RetryAfter {
        code: &'static str,
        message: String,
        wait: std::time::Duration,
    },
    #[error("{0}")]
    Invalid(String),
    /// Well-formed but refused by a rule with a code of its own (422), e.g. `too_soon`.
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    /// An application fails an eligibility rule (422 `ineligible`, naming the rule).
    #[error("{message}")]
    Ineligible { rule: &'static str, message: String },
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
    TooLarge { code: &'static str, message: String },
    /// An upload of a kind the endpoint does not read (415), e.g. `import_unsupported_type`.
    #[error("{message}")]
    UnsupportedType { code: &'static str, message: String },
    /// A 401 with a code of its own: `signed_out`, `refresh_reused` (refresh tokens).
    #[error("{message}")]
    SignedOut { code: &'static str, message: String },
    /// A part of the server that is down or full while the rest works (503), e.g.
    /// `recorder_unavailable`: the client tries again later.
    #[error("{message}")]
    Unavailable { code: &'static str, message: String },
    /// The instance's password work is at its bound (503 `busy`, with `Retry-After`).
    #[error("the server is busy checking other passwords; try again in a few seconds")]
    Busy { wait: std::time::Duration },
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable, machine-readable code, e.g. `slot_taken`.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
    /// For `ineligible`: the eligibility rule that failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<&'static str>,
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::MalformedJson(_) => "malformed_json",
            ApiError::BadRequest { code, .. } => code,
            ApiError::Unauthenticated(_) => "unauthenticated",
            ApiError::BadCredentials => "bad_credentials",
            ApiError::BadJoinCode => "bad_join_code",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::Denied { code, .. } => code,
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict { code, .. } => code,
            ApiError::TooMany { code, .. } | ApiError::RetryAfter { code, .. } => code,
            ApiError::Invalid(_) => "invalid_input",
            ApiError::Unprocessable { code, .. } => code,
            ApiError::Ineligible { .. } => "ineligible",
            ApiError::PreconditionFailed => "precondition_failed",
            ApiError::PreconditionRequired => "precondition_required",
            ApiError::StoreUnavailable(_) => "store_unavailable",
            ApiError::Internal(_) => "internal",
            ApiError::TooLarge { code, .. } | ApiError::UnsupportedType { code, .. } => code,
            ApiError::Busy { .. } => "busy",
            ApiError::SignedOut { code, .. } => code,
            ApiError::Unavailable { code, .. } => code,
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> ApiError {
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
                    code = self.code(),
                    error = format!("{cause:#}"),
                    "request failed"
                );
            }
            _ => tracing::debug!(code = self.code(), "request refused"),
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
                ApiError::Ineligible { rule, .. } => Some(rule),
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
