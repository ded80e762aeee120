use actix_web::{HttpResponse, get, web};

use crate::state::AppState;

/// OpenMetrics text (Prometheus scrapes it): sockets, sessions, messages relayed and dropped, resumes, Redis health and
/// request latency by route. Meant for the monitoring network: keep it off the public proxy.
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(crate::metrics::CONTENT_TYPE)
        .body(state.metrics.render(state.hub.sessions_held()))
}
