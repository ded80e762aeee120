//! In-app notifications (the caller's own) and webhook registration (an admin's own court).

use actix_web::{HttpResponse, delete, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Staff;
use crate::domain::Role;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::notify::webhook;
use crate::state::AppState;
use crate::store::audit::AuditEntry;
use crate::store::notify::{self as queries, DeliveryView, WebhookRow};
pub use courtlink_parsers::bodies::NewWebhook;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list_notifications)
        .service(read_notification)
        .service(create_webhook)
        .service(list_webhooks)
        .service(delete_webhook)
        .service(webhook_deliveries);
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// How many, newest first (1–200, default 50).
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct NotificationView {
    pub id: i64,
    /// `booking.created`, `booking.approved`, `booking.rescheduled`, `booking.cancelled`,
    /// `booking.needs_move`, `booking.reminder`, `booking.no_show`, `application.*`.
    pub event: String,
    /// The event's data: ids, `starts_at`, `case_number`, court names, `reason`, `note`, …
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub read: bool,
}

#[derive(Serialize, ToSchema)]
pub struct NotificationList {
    pub items: Vec<NotificationView>,
    /// The caller's unread notifications, all of them (not only those listed).
    pub unread: i64,
}

/// The caller's notifications, newest first, and how many are unread.
#[utoipa::path(
    get,
    path = "/api/v1/notifications",
    params(("limit" = Option<i64>, Query, description = "how many, 1–200 (default 50)")),
    responses((status = 200, body = NotificationList), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])),
    tag = "notifications"
)]
#[get("/notifications")]
pub async fn list_notifications(
    state: web::Data<AppState>,
    staff: Staff,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid("limit must be between 1 and 200"));
    }
    let (rows, unread) = queries::notifications_of(&state.store, staff.user_id, limit).await?;
    let items = rows
        .into_iter()
        .map(|r| NotificationView {
            id: r.id,
            event: r.event,
            data: serde_json::from_str(&r.data).unwrap_or(serde_json::Value::Null),
            created_at: r.created_at,
            read: r.read_at.is_some(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(NotificationList { items, unread }))
}

/// Marks one of the caller's notifications read (again is fine).
#[utoipa::path(
    post,
    path = "/api/v1/notifications/{id}/read",
    params(("id" = i64, Path, description = "notification id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, description = "not the caller's", body = ErrorBody)),
    security(("bearer" = [])),
    tag = "notifications"
)]
#[post("/notifications/{id}/read")]
pub async fn read_notification(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    if queries::mark_read(&state.store, staff.user_id, *id, state.store.now()).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound("notification"))
    }
}

#[derive(Serialize, ToSchema)]
pub struct WebhookView {
    pub id: i64,
    pub court_id: i64,
    pub url: String,
    pub topics: Vec<String>,
    pub active: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<WebhookRow> for WebhookView {
    fn from(w: WebhookRow) -> Self {
        WebhookView {
            id: w.id,
            court_id: w.court_id,
            url: w.url,
            topics: serde_json::from_str(&w.topics).unwrap_or_default(),
            active: w.active,
            created_at: w.created_at,
        }
    }
}

/// Registers a webhook for the admin's own court. Each delivery is signed with the secret:
/// `X-CourtLink-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks",
    request_body = NewWebhook,
    responses((status = 201, body = WebhookView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, description = "invalid_input: bad URL, short secret or unknown event; webhook_target_refused: the URL names a loopback, link-local or unspecified address, or localhost, not in notifications.webhook_allowed_hosts", body = ErrorBody)),
    security(("bearer" = [])),
    tag = "notifications"
)]
#[post("/webhooks")]
pub async fn create_webhook(
    state: web::Data<AppState>,
    staff: Staff,
    body: web::Json<NewWebhook>,
) -> Result<HttpResponse, ApiError> {
    staff.require(&[Role::Admin])?;
    let url = body.url.trim();
    webhook::check_url(url).map_err(|m| ApiError::invalid(format!("url: {m}")))?;
    let allowed = webhook::AllowedHosts::new(&state.settings.notifications.webhook_allowed_hosts);
    webhook::check_target(url, &allowed).map_err(|m| ApiError::Unprocessable {
        code: ErrorCode::WebhookTargetRefused,
        message: format!("url: {m}"),
    })?;
    webhook::check_secret(&body.secret).map_err(|m| ApiError::invalid(format!("secret: {m}")))?;
    let mut topics = body.topics.clone();
    topics.sort();
    topics.dedup();
    if let Some(bad) = topics
        .iter()
        .find(|t| !crate::notify::EVENTS.contains(&t.as_str()))
    {
        return Err(ApiError::invalid(format!(
            "topics: unknown event '{bad}'; known: {}",
            crate::notify::EVENTS.join(", ")
        )));
    }
    let row = queries::insert_webhook(
        &state.store,
        staff.court_id,
        url,
        &body.secret,
        &topics,
        staff.user_id,
    )
    .await?;
    state
        .store
        .audit(&AuditEntry::new(
            format!("user-{}", staff.user_id),
            "webhook.create",
            format!("webhook:{}", row.id),
            serde_json::json!({ "court_id": staff.court_id, "url": url, "topics": topics }),
        ))
        .await?;
    Ok(HttpResponse::Created().json(WebhookView::from(row)))
}

/// The active webhooks of the admin's own court (secrets are never shown).
#[utoipa::path(
    get,
    path = "/api/v1/webhooks",
    responses((status = 200, body = [WebhookView]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])),
    tag = "notifications"
)]
#[get("/webhooks")]
pub async fn list_webhooks(
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<HttpResponse, ApiError> {
    staff.require(&[Role::Admin])?;
    let hooks: Vec<WebhookView> = queries::webhooks_of(&state.store, staff.court_id)
        .await?
        .into_iter()
        .map(WebhookView::from)
        .collect();
    Ok(HttpResponse::Ok().json(hooks))
}

/// Removes a webhook of the admin's own court; its pending deliveries are dropped as failed.
#[utoipa::path(
    delete,
    path = "/api/v1/webhooks/{id}",
    params(("id" = i64, Path, description = "webhook id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])),
    tag = "notifications"
)]
#[delete("/webhooks/{id}")]
pub async fn delete_webhook(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    staff.require(&[Role::Admin])?;
    if !queries::deactivate_webhook(&state.store, staff.court_id, *id).await? {
        return Err(ApiError::NotFound("webhook"));
    }
    state
        .store
        .audit(&AuditEntry::new(
            format!("user-{}", staff.user_id),
            "webhook.delete",
            format!("webhook:{id}"),
            serde_json::json!({ "court_id": staff.court_id }),
        ))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The latest deliveries of one of the admin's court's webhooks: status, attempts, last error.
#[utoipa::path(
    get,
    path = "/api/v1/webhooks/{id}/deliveries",
    params(("id" = i64, Path, description = "webhook id")),
    responses((status = 200, body = [DeliveryView]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])),
    tag = "notifications"
)]
#[get("/webhooks/{id}/deliveries")]
pub async fn webhook_deliveries(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    staff.require(&[Role::Admin])?;
    let rows = queries::deliveries_of(&state.store, staff.court_id, *id).await?;
    Ok(HttpResponse::Ok().json(rows))
}
