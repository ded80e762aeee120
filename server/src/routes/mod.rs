//! HTTP routes under `/api/v1`, plus health and the OpenAPI document.

pub mod admin;
pub mod applications;
pub mod assignments;
pub mod attachments;
pub mod auth;
pub mod bookings;
pub mod cases;
pub mod clocks;
pub mod connectivity;
pub mod health;
pub mod ics;
pub mod metrics;
pub mod notice;
pub mod notifications;
pub mod openapi;
pub mod preconditions;
pub mod recording;
pub mod records;
pub mod rooms;
pub mod schedule;
pub mod sessions;
pub mod signal;
pub mod statistics;
pub mod transcript;
pub mod views;

use crate::error::ErrorCode;
use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(health::healthz)
        .service(metrics::metrics)
        .service(openapi::openapi_json)
        .service(
            web::scope("/api/v1")
                .service(auth::login)
                .service(auth::change_password)
                .service(auth::join)
                .service(auth::refresh)
                .service(auth::logout)
                .service(auth::unlock)
                .service(auth::me)
                .service(cases::list_cases)
                .service(cases::get_case)
                .service(cases::open_case)
                .service(cases::log_contact)
                .service(cases::change_class)
                .service(cases::outcomes)
                .service(cases::local_rooms)
                .service(cases::read_identity)
                .service(cases::extend)
                .service(cases::import_template)
                .service(cases::import_preview)
                .service(cases::import_commit)
                .service(clocks::record_clock_event)
                .service(clocks::overdue_clocks)
                .service(clocks::pending_extensions)
                .service(clocks::decide_extension)
                .service(clocks::calendar_status)
                .service(clocks::calendar_example)
                .service(clocks::put_calendar_file)
                .service(clocks::allow_unloaded)
                .service(clocks::case_extensions)
                .service(bookings::open_slots)
                .service(bookings::create_booking)
                .service(bookings::reissue_join_code)
                .service(bookings::list_bookings)
                .service(bookings::get_booking)
                .service(bookings::cancel_booking)
                .service(bookings::reschedule_booking)
                .service(bookings::place_hold)
                .service(bookings::release_hold)
                .service(applications::create_application)
                .service(applications::list_applications)
                .service(applications::get_application)
                .service(applications::review_application)
                .service(applications::answer_application)
                .service(schedule::get_settings)
                .service(schedule::put_settings)
                .service(schedule::get_template)
                .service(schedule::put_template)
                .service(schedule::list_overrides)
                .service(schedule::add_override)
                .service(schedule::delete_override)
                .service(schedule::room_calendar)
                .service(rooms::host_rooms)
                .service(schedule::get_calendar)
                .service(schedule::put_calendar)
                .service(schedule::set_category)
                .service(sessions::list_sessions)
                .service(sessions::get_session)
                .service(sessions::end_session)
                .service(sessions::correct_outcome)
                .service(signal::signal)
                .service(transcript::put_transcript)
                .service(transcript::get_transcript)
                .service(transcript::decide_transcript)
                .service(transcript::rate)
                .service(transcript::add_note)
                .service(transcript::add_correction)
                .service(transcript::confirm_identity)
                .service(sessions::list_leaders)
                .service(sessions::add_leader)
                .configure(records::configure)
                .service(statistics::statistics)
                .configure(connectivity::configure)
                .configure(notifications::configure)
                .configure(assignments::configure)
                .configure(ics::configure)
                .configure(notice::configure)
                .configure(admin::configure)
                // Issue 16: case attachments and court directories.
                .configure(attachments::configure)
                // Issue 20: recordings.
                .configure(recording::configure)
                .default_service(web::to(api_not_found)),
        );
}

/// No route took the request: 405 with `Allow` when the path is one the API serves with other
/// methods, else 404.
async fn api_not_found(
    req: actix_web::HttpRequest,
) -> Result<actix_web::HttpResponse, crate::error::ApiError> {
    let Some(methods) = openapi::methods_at(req.path()) else {
        return Err(crate::error::ApiError::NotFound("endpoint"));
    };
    let allow = methods.join(", ");
    Ok(actix_web::HttpResponse::MethodNotAllowed()
        .insert_header((actix_web::http::header::ALLOW, allow.clone()))
        .json(crate::error::ErrorBody {
            code: ErrorCode::MethodNotAllowed,
            message: format!(
                "{} is not answered at this path; it answers {allow}",
                req.method()
            ),
            rule: None,
        }))
}
