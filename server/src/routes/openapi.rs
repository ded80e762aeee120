use actix_web::{HttpResponse, get};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{auth, bookings, cases, health, records, sessions, signal, transcript, views};
use crate::error::ErrorBody;

#[derive(OpenApi)]
#[openapi(
    info(title = "CourtLink", description = "Remote video reception (远程视频接访) between courts"),
    paths(
        health::healthz,
        auth::login,
        auth::join,
        auth::refresh,
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
    ),
    components(schemas(ErrorBody, views::CourtView, views::RoomView, views::CaseView, views::CaseDetail,
        views::LedgerEntryView, views::SlotView, views::SessionView, views::SessionDetail, views::EventView,
        records::RecordView, records::RecordPage, records::RecordDetail, records::Statistics,
        records::StatsLine, records::Figures, records::Rates)),
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
