use actix_web::{HttpResponse, get};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    admin, applications, auth, bookings, cases, health, records, schedule, sessions, signal,
    transcript, views,
};
use crate::error::ErrorBody;

#[derive(OpenApi)]
#[openapi(
    info(title = "CourtLink", description = "Remote video reception (远程视频接访) between courts"),
    paths(
        health::healthz,
        auth::login,
        auth::join,
        auth::refresh,
        auth::logout,
        auth::unlock,
        auth::me,
        cases::list_cases,
        cases::get_case,
        cases::local_rooms,
        cases::read_identity,
        cases::extend,
        bookings::open_slots,
        bookings::create_booking,
        bookings::reissue_join_code,
        bookings::get_booking,
        bookings::cancel_booking,
        bookings::reschedule_booking,
        bookings::place_hold,
        bookings::release_hold,
        applications::create_application,
        applications::list_applications,
        applications::get_application,
        applications::review_application,
        applications::answer_application,
        schedule::get_settings,
        schedule::put_settings,
        schedule::get_template,
        schedule::put_template,
        schedule::list_overrides,
        schedule::add_override,
        schedule::delete_override,
        schedule::room_calendar,
        schedule::get_calendar,
        schedule::put_calendar,
        schedule::set_category,
        sessions::list_sessions,
        sessions::get_session,
        sessions::end_session,
        signal::signal,
        transcript::put_transcript,
        transcript::get_transcript,
        transcript::decide_transcript,
        transcript::rate,
        transcript::add_note,
        transcript::add_correction,
        records::list_records,
        records::get_record,
        records::statistics,
        super::connectivity::start_test,
        super::connectivity::get_test,
        super::connectivity::report_test,
        super::connectivity::my_rooms,
        super::connectivity::open_campaign,
        super::connectivity::list_campaigns,
        super::connectivity::get_campaign,
        super::connectivity::export_campaign,
        super::connectivity::set_contacts,
        admin::list_courts,
        admin::create_court,
        admin::rename_court,
        admin::create_room,
        admin::rename_room,
        admin::list_users,
        admin::create_user,
        admin::update_user,
        admin::reset_password,
        super::notifications::list_notifications,
        super::notifications::read_notification,
        super::notifications::create_webhook,
        super::notifications::list_webhooks,
        super::notifications::delete_webhook,
        super::notifications::webhook_deliveries,
        super::ics::host_room_feed,
        super::ics::local_room_feed,
        super::ics::officer_feed,
        super::notice::booking_notice,
        super::rooms::host_rooms,
    ),
    components(schemas(ErrorBody, views::CourtView, views::RoomView, views::CaseView, views::CaseDetail,
        views::LedgerEntryView, views::SlotView, views::SessionView, views::SessionDetail, views::EventView,
        records::RecordView, records::RecordPage, records::RecordDetail, records::Statistics,
        records::StatsLine, records::Figures, records::Rates,
        super::notifications::NotificationView, super::notifications::NotificationList,
        super::notifications::NewWebhook, super::notifications::WebhookView,
        crate::notify::queries::DeliveryView, super::notice::NoticeView)),
    modifiers(&Bearer)
)]
pub struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The OpenAPI 3.1 description of every endpoint.
#[get("/api/openapi.json")]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
