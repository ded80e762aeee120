use actix_web::{HttpResponse, get};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
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
        auth::change_password,
        auth::join,
        auth::refresh,
        auth::logout,
        auth::unlock,
        auth::me,
        cases::list_cases,
        cases::get_case,
        cases::open_case,
        cases::log_contact,
        cases::change_class,
        cases::outcomes,
        cases::local_rooms,
        cases::read_identity,
        cases::extend,
        cases::import_template,
        cases::import_preview,
        cases::import_commit,
        super::clocks::record_clock_event,
        super::clocks::overdue_clocks,
        super::clocks::pending_extensions,
        super::clocks::decide_extension,
        super::clocks::calendar_status,
        super::clocks::calendar_example,
        super::clocks::put_calendar_file,
        super::clocks::allow_unloaded,
        super::clocks::case_extensions,
        bookings::open_slots,
        bookings::create_booking,
        bookings::reissue_join_code,
        bookings::list_bookings,
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
        sessions::correct_outcome,
        signal::signal,
        transcript::put_transcript,
        transcript::get_transcript,
        transcript::decide_transcript,
        transcript::rate,
        transcript::add_note,
        transcript::add_correction,
        transcript::confirm_identity,
        sessions::list_leaders,
        sessions::add_leader,
        records::list_records,
        records::get_record,
        super::statistics::statistics,
        super::connectivity::start_test,
        super::connectivity::get_test,
        super::connectivity::report_test,
        super::connectivity::my_rooms,
        super::connectivity::incoming_rooms,
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
        super::assignments::list_assignments,
        super::assignments::get_assignment,
        super::assignments::report_assignment,
        super::assignments::supervise_assignment,
        // Issue 16: case attachments and court directories.
        super::attachments::upload_attachment,
        super::attachments::list_attachments,
        super::attachments::download_attachment,
        super::attachments::get_directory,
        super::attachments::put_directory,
        // Issue 20: recordings.
        super::recording::start_recording,
        super::recording::list_recordings,
        super::recording::recording_media,
    ),
    components(schemas(ErrorBody, views::CourtView, views::RoomView, views::CaseView, views::CaseDetail,
        views::LedgerEntryView, views::CourtRef, views::ClassChangeView, cases::OpenCaseRequest,
        cases::ContactRequest, cases::ClassRequest, cases::CaseMatchView, cases::PossibleDuplicate, cases::TemplateFormat, crate::app::ledger_import::ImportReport, crate::app::ledger_import::CreatedRow, crate::app::ledger_import::MatchedRow, crate::app::ledger_import::ImportMatch, crate::app::ledger_import::RefusedRow, crate::app::ledger_import::FileFormat, views::SlotView, views::SessionView, views::SessionDetail, views::EventView,
        records::RecordView, records::RecordPage, records::RecordDetail, crate::app::statistics::Statistics,
        crate::app::statistics::StatsLine, crate::app::statistics::Figures, crate::app::statistics::Rates,
        crate::app::statistics::Split, crate::app::statistics::ByClass, crate::app::statistics::Part,
        crate::app::statistics::ReportCourt,
        super::notifications::NotificationView, super::notifications::NotificationList,
        super::notifications::NewWebhook, super::notifications::WebhookView,
        crate::store::notify::DeliveryView, super::notice::NoticeView,
        crate::app::assignments::Assignment, crate::app::assignments::AssignmentDetail,
        crate::app::assignments::AssignmentPage, crate::app::assignments::AssignmentStep,
        crate::app::assignments::AssignmentState, crate::app::assignments::CourtName,
        cases::AssignTermsRequest, super::assignments::ReportRequest,
        super::assignments::SuperviseRequest,
        // Issue 16: case attachments and court directories.
        crate::store::attachments::AttachmentRow, crate::app::directory::CourtDirectory,
        crate::app::directory::Person, super::attachments::DirectoryRequest,
        super::recording::StartRecording, super::recording::RecordingStarted,
        super::recording::RecordingList, super::recording::RecordingView,
        super::recording::GapView)),
    modifiers(&Bearer, &GenericAnswers)
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

/// The answers an operation may give whatever it does, which the extractors and the
/// authentication give before its handler runs: each is added to every operation that can earn
/// it and does not describe it already, so that the description lists every status.
struct GenericAnswers;

impl Modify for GenericAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::ParameterIn;
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in operations.into_iter().flatten() {
                let takes = |place: ParameterIn| {
                    op.parameters
                        .iter()
                        .flatten()
                        .any(|p| p.parameter_in == place)
                };
                let mut generic = Vec::new();
                if op.request_body.is_some() {
                    generic.push((
                        "400",
                        "malformed_json: the body is not JSON; bad_request: not sent as \
                         application/json, or over the body limit; body_too_slow: the body did \
                         not arrive in time",
                    ));
                }
                if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
                    generic.push((
                        "401",
                        "unauthenticated: no token, or one that is forged, expired or revoked",
                    ));
                }
                if takes(ParameterIn::Path) {
                    generic.push((
                        "404",
                        "not_found: a path parameter that is not of its type, or no such record",
                    ));
                }
                if takes(ParameterIn::Query) {
                    generic.push((
                        "422",
                        "invalid_input: a query parameter that is not of its type",
                    ));
                }
                for (status, description) in generic {
                    op.responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| error_response(description));
                }
            }
        }
    }
}

fn error_response(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build(),
    )
}

/// The methods the API answers at `path` (a concrete request path), from the description;
/// `None` when no documented path matches it. Built once.
pub fn methods_at(path: &str) -> Option<&'static [&'static str]> {
    use std::sync::OnceLock;
    static ROUTES: OnceLock<Vec<(actix_web::dev::ResourceDef, Vec<&'static str>)>> =
        OnceLock::new();
    let routes = ROUTES.get_or_init(|| {
        ApiDoc::openapi()
            .paths
            .paths
            .iter()
            .map(|(template, item)| {
                let methods = [
                    ("GET", item.get.is_some()),
                    ("PUT", item.put.is_some()),
                    ("POST", item.post.is_some()),
                    ("DELETE", item.delete.is_some()),
                    ("PATCH", item.patch.is_some()),
                ]
                .into_iter()
                .filter_map(|(m, present)| present.then_some(m))
                .collect();
                (actix_web::dev::ResourceDef::new(template.as_str()), methods)
            })
            .collect()
    });
    routes
        .iter()
        .find(|(def, _)| def.is_match(path))
        .map(|(_, methods)| methods.as_slice())
}

/// The OpenAPI 3.1 description of every endpoint.
#[get("/api/openapi.json")]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn refs<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
        match v {
            serde_json::Value::Object(map) => {
                if let Some(r) = map.get("$ref").and_then(serde_json::Value::as_str) {
                    out.push(r);
                }
                map.values().for_each(|x| refs(x, out));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }

    /// Every schema the document names is in it, and the error body lists every error code.
    #[test]
    fn every_reference_resolves_and_the_error_codes_are_listed() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
        let mut named = Vec::new();
        refs(&doc, &mut named);
        assert!(named.len() > 100, "{} references", named.len());
        let missing: Vec<&str> = named
            .into_iter()
            .filter(|r| {
                let name = r.trim_start_matches("#/components/schemas/");
                doc["components"]["schemas"].get(name).is_none()
            })
            .collect();
        assert!(missing.is_empty(), "unresolved: {missing:?}");
        let listed = &doc["components"]["schemas"]["ErrorCode"]["enum"];
        let listed: Vec<&str> = listed
            .as_array()
            .map(|a| a.iter().filter_map(serde_json::Value::as_str).collect())
            .unwrap_or_default();
        let all: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(listed, all);
    }
}
