//! Safe retries and safe updates: `Idempotency-Key` on booking POSTs, and `ETag` / `If-Match`
//! on updates of bookings, applications, templates and settings.

use std::future::Future;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::domain::UserId;
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;
use crate::store::booking::Idempotency;

pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// `"v<version>"`: strong, and opaque enough that nobody relies on its shape.
pub fn etag(version: i32) -> String {
    format!("\"v{version}\"")
}

/// The version the caller's `If-Match` names: 428 without one, 412 when it names nothing we
/// could have issued.
pub fn if_match(req: &HttpRequest) -> Result<i32, ApiError> {
    let value = req
        .headers()
        .get(header::IF_MATCH)
        .ok_or(ApiError::PreconditionRequired)?;
    value
        .to_str()
        .ok()
        .map(|v| v.trim().trim_start_matches("W/"))
        .and_then(|v| v.strip_prefix("\"v"))
        .and_then(|v| v.strip_suffix('"'))
        .and_then(|v| v.parse().ok())
        .ok_or(ApiError::PreconditionFailed)
}

/// A JSON answer with the record's ETag.
pub fn with_etag(status: StatusCode, version: i32, body: &impl Serialize) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ETAG, etag(version)))
        .json(body)
}

fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let key = value.to_str().unwrap_or_default();
    if key.is_empty() || key.len() > 128 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::BadRequest {
            code: ErrorCode::BadIdempotencyKey,
            message: "Idempotency-Key must be 1 to 128 visible ASCII characters".into(),
        });
    }
    Ok(Some(key.to_owned()))
}

/// Who keeps a successful answer under its `Idempotency-Key`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Keeper {
    /// The work, in the transaction of its effect: every success of a booking
    /// (`store::Book::idempotency`). Storing it again afterwards was one more write
    /// transaction per booking, a commit and a wait for the pool among them, in the morning's
    /// rush (docs/benchmarks.md, the province day's bookings broken down).
    Work,
    /// [`once`], after the work answers.
    Once,
}

/// Runs `work` once per `Idempotency-Key` (if the request has one): a retry with the same key
/// and body gets the first answer again, the same key with another body 422, and a retry while
/// the first is still running 409. A failed request leaves nothing behind, so its retry runs.
/// `work` receives the key, to store its answer atomically with its effect where it can; it
/// says which it does with `keeper`.
pub async fn once<T, F, Fut>(
    state: &AppState,
    req: &HttpRequest,
    user_id: UserId,
    body: &T,
    keeper: Keeper,
    work: F,
) -> Result<HttpResponse, ApiError>
where
    T: Serialize,
    F: FnOnce(Option<String>) -> Fut,
    Fut: Future<Output = Result<(StatusCode, serde_json::Value), ApiError>>,
{
    let Some(key) = idempotency_key(req)? else {
        let (status, json) = work(None).await?;
        return Ok(HttpResponse::build(status).json(json));
    };
    let mut hasher = Sha256::new();
    hasher.update(req.method().as_str());
    hasher.update(b" ");
    hasher.update(req.path());
    hasher.update(b"\n");
    hasher.update(serde_json::to_vec(body).unwrap_or_default());
    let hash = hex::encode(hasher.finalize());
    let store = &state.store;
    match store
        .idempotency_begin(user_id, &key, &hash, state.store.now())
        .await?
    {
        Idempotency::Fresh => {}
        Idempotency::Replay { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            return Ok(HttpResponse::build(status)
                .insert_header(("Idempotent-Replayed", HeaderValue::from_static("true")))
                .content_type("application/json")
                .body(body));
        }
        Idempotency::Mismatch => {
            return Err(ApiError::Unprocessable {
                code: ErrorCode::IdempotencyKeyReused,
                message: "this Idempotency-Key was used with another request body".into(),
            });
        }
        Idempotency::InFlight => {
            return Err(ApiError::conflict(
                ErrorCode::IdempotencyInFlight,
                "a request with this Idempotency-Key is still being handled; retry shortly",
            ));
        }
    }
    match work(Some(key.clone())).await {
        Ok((status, json)) => {
            let text = json.to_string();
            if keeper == Keeper::Once {
                store
                    .idempotency_finish(user_id, &key, status.as_u16(), &text)
                    .await?;
            }
            Ok(HttpResponse::build(status)
                .content_type("application/json")
                .body(text))
        }
        Err(e) => {
            if let Err(forget) = store.idempotency_abandon(user_id, &key).await {
                tracing::warn!(error = %forget, "idempotency key left in flight; it expires by itself");
            }
            Err(e)
        }
    }
}
