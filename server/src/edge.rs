//! What every request must satisfy before a route sees it: a `Host`, and a body that arrives
//! within `server.body_read_seconds`. (actix itself bounds the request head: it must arrive
//! within `server.header_read_seconds`, in at most 32 KiB and 96 header lines.)

use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError, web};
use futures_util::StreamExt;

use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// Refuses a request without a `Host` (HTTP/1.1 requires one; HTTP/2 carries `:authority`):
/// without it, nothing tells which site it was meant for, and absolute links cannot be made.
pub async fn require_host(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let has_host = req
        .headers()
        .get(actix_web::http::header::HOST)
        .is_some_and(|h| !h.is_empty())
        || req.uri().authority().is_some();
    if !has_host {
        let refusal = ApiError::BadRequest {
            code: ErrorCode::MissingHost,
            message: "the request has no Host header".into(),
        };
        return Ok(req.into_response(refusal.error_response()));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// Gives the request body a deadline: a body still trickling in after `server.body_read_seconds`
/// fails to read (the extractor answers `body_too_slow`), so that a slow client cannot hold a
/// worker and a database-free request slot forever.
///
/// A WebSocket upgrade is left alone: after the upgrade its "body" is the socket's frames, which
/// arrive for as long as the call lasts; the signalling socket has its own heartbeat and idle
/// limits (`signalling::socket`).
pub async fn body_deadline(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let upgrade = req
        .headers()
        .get(actix_web::http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if upgrade {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let limit = req
        .app_data::<web::Data<AppState>>()
        .map_or(30, |s| s.settings.server.body_read_seconds);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(limit);
    let payload = req.take_payload();
    let timed = futures_util::stream::unfold(Some(payload), move |payload| async move {
        let mut payload = payload?;
        match tokio::time::timeout_at(deadline, payload.next()).await {
            Ok(Some(chunk)) => Some((chunk, Some(payload))),
            Ok(None) => None,
            Err(_) => Some((Err(PayloadError::Io(body_too_slow())), None)),
        }
    });
    let boxed: std::pin::Pin<
        Box<dyn futures_util::Stream<Item = Result<web::Bytes, PayloadError>>>,
    > = Box::pin(timed);
    req.set_payload(actix_web::dev::Payload::from(boxed));
    Ok(next.call(req).await?.map_into_boxed_body())
}

/// The error a body past its deadline reads as (recognised by `error::json_error_handler`).
pub fn body_too_slow() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "the request body did not arrive within server.body_read_seconds",
    )
}
