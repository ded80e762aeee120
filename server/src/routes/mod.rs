//! HTTP routes under `/api/v1`, plus health and the OpenAPI document.

pub mod auth;
pub mod bookings;
pub mod cases;
pub mod health;
pub mod metrics;
pub mod openapi;
pub mod records;
pub mod sessions;
pub mod signal;
pub mod transcript;
pub mod views;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(health::healthz)
        .service(metrics::metrics)
        .service(openapi::openapi_json)
        .service(
            web::scope("/api/v1")
                .service(auth::login)
                .service(auth::join)
                .service(auth::refresh)
                .service(auth::unlock)
                .service(auth::me)
                .service(cases::list_cases)
                .service(cases::get_case)
                .service(cases::local_rooms)
                .service(cases::read_identity)
                .service(cases::extend)
                .service(bookings::open_slots)
                .service(bookings::create_booking)
                .service(bookings::reissue_join_code)
                .service(sessions::list_sessions)
                .service(sessions::get_session)
                .service(sessions::end_session)
                .service(signal::signal)
                .service(transcript::put_transcript)
                .service(transcript::get_transcript)
                .service(transcript::decide_transcript)
                .service(transcript::rate)
                .service(transcript::add_note)
                .service(transcript::add_correction)
                .configure(records::configure)
                .default_service(web::to(api_not_found)),
        );
}

async fn api_not_found() -> Result<actix_web::HttpResponse, crate::error::ApiError> {
    Err(crate::error::ApiError::NotFound("endpoint"))
}
