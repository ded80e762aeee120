use actix_web::{HttpResponse, get, web};

use crate::state::AppState;

/// 200 when the store answers, 503 when it does not.
#[utoipa::path(get, path = "/healthz", responses(
        (status = 200, description = "`{\"status\":\"ok\"}`", body = Object),
        (status = 503, description = "store_unavailable", body = crate::error::ErrorBody)
    ), tag = "health")]
#[get("/healthz")]
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    match state.store.ping().await {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({"status": "ok"})),
        Err(e) => {
            tracing::warn!(error = %e, "health check: store not answering");
            HttpResponse::ServiceUnavailable()
                .json(serde_json::json!({"code": "store_unavailable", "message": "the database is not answering"}))
        }
    }
}
