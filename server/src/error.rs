//! The API's public error: a stable snake_case `code`, a human message, and the right status.
//! Causes go to the log, never to the client.
//!
//! `ApiError` itself is defined in the parsers crate (parsers/src/error.rs), whose parsers
//! answer with it; here are the extractors' error handlers and the store's errors mapped to it.

pub use courtlink_parsers::error::{ApiError, ErrorBody, ErrorCode, IneligibleRule};

/// Turns actix's JSON extractor failures into our codes: syntax → 400, shape → 422 naming the field.
pub fn json_error_handler(
    err: actix_web::error::JsonPayloadError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as J;
    let api = match &err {
        J::Deserialize(e) if e.is_data() => ApiError::invalid(e.to_string()),
        J::Deserialize(e) => ApiError::MalformedJson(format!("the body is not valid JSON: {e}")),
        J::ContentType => ApiError::BadRequest {
            code: ErrorCode::BadRequest,
            message: "send the body as application/json".into(),
        },
        J::Overflow { .. } | J::OverflowKnownLength { .. } => ApiError::BadRequest {
            code: ErrorCode::BadRequest,
            message: "the body is too large".into(),
        },
        J::Payload(actix_web::error::PayloadError::Io(e))
            if e.kind() == std::io::ErrorKind::TimedOut =>
        {
            ApiError::BadRequest {
                code: ErrorCode::BodyTooSlow,
                message: e.to_string(),
            }
        }
        _ => ApiError::MalformedJson(format!("the body could not be read: {err}")),
    };
    api.into()
}

pub fn query_error_handler(
    err: actix_web::error::QueryPayloadError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    ApiError::invalid(format!("bad query string: {err}")).into()
}

pub fn path_error_handler(
    _err: actix_web::error::PathError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    ApiError::NotFound("resource").into()
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::StoreError as S;
        match e {
            S::SlotTaken => ApiError::conflict(ErrorCode::SlotTaken, e.to_string()),
            S::LocalRoomBusy => ApiError::conflict(ErrorCode::LocalRoomBusy, e.to_string()),
            S::SessionEnded => ApiError::conflict(ErrorCode::SessionEnded, e.to_string()),
            S::NotFound => ApiError::NotFound("record"),
            S::AlreadyDone => ApiError::conflict(ErrorCode::AlreadyDone, e.to_string()),
            S::NotYet => ApiError::conflict(ErrorCode::SessionNotEnded, e.to_string()),
            S::NothingToConfirm => ApiError::conflict(ErrorCode::TranscriptEmpty, e.to_string()),
            S::Rule { code, message } => ApiError::Unprocessable { code, message },
            S::Conflict { code, message } => ApiError::Conflict { code, message },
            S::Stale => ApiError::PreconditionFailed,
            S::Retryable(_) | S::Unavailable(_) => ApiError::StoreUnavailable(e.into()),
            S::Other(_) | S::Corrupt(_) => ApiError::Internal(e.into()),
        }
    }
}
