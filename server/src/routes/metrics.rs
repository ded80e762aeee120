use actix_web::{HttpResponse, get, web};

use crate::state::AppState;

/// Prometheus text: sockets, sessions, messages relayed and dropped, resumes, Redis health and
/// request latency by route. Meant for the monitoring network: keep it off the public proxy.
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render(state.hub.sessions_held()))
}
