//! Connectivity tests (联通测试) and the campaigns that order them. See `docs/connectivity.md`.
//!
//! Who does what:
//! - a room terminal — any staff member of the room's court, typically its coordinator — runs a
//!   test of one of its court's local rooms; a petitioner (join token) runs the same echo test
//!   as a device check, recorded against the session;
//! - a court's staff read the tests of their own rooms and of the rooms of every court below;
//! - an officer, supervisor or admin of a court with courts below it opens a campaign with a
//!   deadline; the campaign covers every court below the opener;
//! - the campaign is seen in full by the opener and the courts above it, and by each court in
//!   its scope for its own part (itself and the courts below it), which also records its contact
//!   and technical-support persons. Any other court gets 404, as if there were no campaign.

use actix_web::http::header;
use actix_web::{HttpResponse, get, post, put, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::room_tests::{self, RoomUnderTest};
use crate::app::scope::{self, Scope};
use crate::auth::{Caller, Staff};
use crate::connectivity::TestRequest;
use crate::connectivity::measure::Figures;
use crate::domain::{Role, SessionId, mask_phone};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::connectivity::{CampaignRow, RoomStanding, TestRow};
pub use courtlink_parsers::bodies::{Contacts, Description, OpenCampaign, StartTest};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(start_test)
        .service(get_test)
        .service(report_test)
        .service(my_rooms)
        .service(incoming_rooms)
        .service(open_campaign)
        .service(list_campaigns)
        .service(get_campaign)
        .service(export_campaign)
        .service(set_contacts);
}

// --- tests -------------------------------------------------------------------------------------

#[derive(Serialize, ToSchema)]
pub struct AnswerView {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub sdp: String,
}

#[derive(Serialize, ToSchema)]
pub struct TestStarted {
    pub test_id: i64,
    /// The server peer's answer, with every server candidate in it.
    pub answer: AnswerView,
    /// ICE must connect within this long, or the test fails.
    pub connect_timeout_seconds: u64,
    /// How long the server measures once connected.
    pub measure_seconds: u64,
    /// The court's TURN relays, one per URL, with credentials for this test only (10 minutes):
    /// the page checks that it can reach each (docs/connectivity.md, "The relay").
    pub relay: Vec<RelayServer>,
    /// The technical-support person (技术保障人员) of the room's court, from its directory (or,
    /// for a court without one, what it last recorded for a campaign), to name when the room
    /// reaches no relay (none for a petitioner's device check).
    pub support: Option<Person>,
}

#[derive(Serialize, ToSchema)]
pub struct RelayServer {
    /// One `turn:`/`turns:` URL, e.g. `turn:turn.court.example:3478?transport=udp`.
    pub url: String,
    pub username: String,
    pub credential: String,
}

/// How long the relay credentials handed out with a connectivity test last.
const RELAY_CHECK_SECONDS: i64 = 600;

/// Credentials for a connectivity test's relay check, one entry per configured TURN URL.
fn relay_servers(state: &AppState, run_by: &str) -> Vec<RelayServer> {
    let ice = &state.settings.ice;
    let username = format!(
        "{}:test-{run_by}",
        Utc::now().timestamp() + RELAY_CHECK_SECONDS
    );
    let credential = crate::signalling::ice::turn_password(
        secrecy::ExposeSecret::expose_secret(&ice.turn_secret),
        &username,
    );
    ice.turn_urls
        .iter()
        .map(|url| RelayServer {
            url: url.clone(),
            username: username.clone(),
            credential: credential.clone(),
        })
        .collect()
}

#[derive(Serialize, ToSchema)]
pub struct TestView {
    pub id: i64,
    pub room_id: Option<i64>,
    pub session_id: Option<i64>,
    /// A host court's reception room under test (instead of `room_id`).
    pub host_room_id: Option<i64>,
    /// `media` (audio and/or video plus the data channel) or `data` (the data channel only).
    pub kind: String,
    /// `running`, `passed` or `failed`.
    pub status: String,
    /// Why it failed: `ice_failed`, `connection_lost`, `no_echo`, `no_media`, `rtt_too_high`,
    /// `loss_too_high`, `jitter_too_high`, `bitrate_too_low`, `abandoned`, `server_error`.
    pub reason_code: Option<String>,
    /// The reason in words.
    pub reason: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Measured by the server.
    pub figures: Figures,
    /// What the client measured on its side, as it reported it.
    #[schema(value_type = Option<Object>)]
    pub client_report: Option<serde_json::Value>,
    pub thresholds: Thresholds,
    /// For a failed test of a room: its court's technical-support person (技术保障人员) from the
    /// court's directory, to call; the phone whole for the room's own court, masked for the
    /// courts above (docs/ledger.md, "Directories"). Null otherwise.
    pub support: Option<Person>,
}

#[derive(Serialize, ToSchema)]
pub struct Thresholds {
    pub max_rtt_ms: f64,
    pub max_loss_percent: f64,
    pub max_jitter_ms: f64,
    pub min_bitrate_kbps: f64,
}

fn thresholds(state: &AppState) -> Thresholds {
    let s = state.echo.settings();
    Thresholds {
        max_rtt_ms: s.max_rtt_ms,
        max_loss_percent: s.max_loss_percent,
        max_jitter_ms: s.max_jitter_ms,
        min_bitrate_kbps: s.min_bitrate_kbps,
    }
}

fn test_view(state: &AppState, t: TestRow) -> TestView {
    TestView {
        id: t.id,
        room_id: t.local_room_id,
        session_id: t.session_id.map(SessionId::get),
        host_room_id: t.host_room_id,
        kind: t.kind,
        status: t.status,
        reason_code: t.reason_code,
        reason: t.reason,
        started_at: t.started_at,
        finished_at: t.finished_at,
        figures: Figures {
            local_candidate: t.local_candidate,
            remote_candidate: t.remote_candidate,
            connect_ms: t.connect_ms,
            rtt_ms: t.rtt_ms,
            loss_percent: t.loss_percent,
            jitter_ms: t.jitter_ms,
            bitrate_kbps: t.bitrate_kbps,
        },
        client_report: t
            .client_report
            .as_deref()
            .and_then(|r| serde_json::from_str(r).ok()),
        thresholds: thresholds(state),
        support: None,
    }
}

fn not_found(e: StoreError, what: &'static str) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::NotFound(what),
        e => e.into(),
    }
}

/// Starts a test: the server's peer answers the offer, then echoes and measures for
/// `measure_seconds` once connected, and records the result (poll `GET .../tests/{id}`).
#[utoipa::path(
    post,
    path = "/api/v1/connectivity/tests",
    request_body = StartTest,
    responses(
        (status = 201, body = TestStarted),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "no data channel, no candidates, not an offer", body = ErrorBody),
        (status = 429, description = "too_many_tests: this instance runs its most tests at once; too_many_device_checks: a petitioner's token or booking has started its most device checks in the window (connectivity.device_checks_per_token, device_checks_per_booking per device_check_window_minutes; see Retry-After)", body = ErrorBody,
            headers(("Retry-After" = u64, description = "with too_many_device_checks: seconds until the oldest counted check stops counting")))
    ),
    security(("bearer" = [])),
    tag = "connectivity"
)]
#[post("/connectivity/tests")]
pub async fn start_test(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<StartTest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    if body.offer.kind != "offer" {
        return Err(ApiError::invalid("offer.type: must be 'offer'"));
    }
    let (room, host_room, session, run_by) = match &caller {
        Caller::Staff(staff) => {
            let run_by = format!("user-{}", staff.user_id);
            match room_tests::room_under_test(&state.store, staff, body.room_id, body.host_room_id)
                .await?
            {
                RoomUnderTest::Local(id) => (Some(id), None, None, run_by),
                RoomUnderTest::Host(id) => (None, Some(id), None, run_by),
            }
        }
        Caller::Petitioner(p) => {
            if body.room_id.is_some() || body.host_room_id.is_some() {
                return Err(ApiError::invalid(
                    "room_id: a device check is recorded against your session, not a room",
                ));
            }
            (
                None,
                None,
                Some(p.session_id),
                format!("petitioner-{}", p.seat),
            )
        }
    };
    let started = state
        .echo
        .start(TestRequest {
            local_room_id: room,
            host_room_id: host_room,
            session_id: session,
            run_by,
            offer_sdp: body.offer.sdp,
        })
        .await?;
    let support = match &caller {
        Caller::Staff(staff) => {
            crate::app::directory::support_for(&state.store, staff.court_id, staff.court_id).await?
        }
        Caller::Petitioner(_) => None,
    };
    let relay = relay_servers(&state, &run_by_label(&caller));
    let s = state.echo.settings();
    Ok(HttpResponse::Created().json(TestStarted {
        relay,
        support,
        test_id: started.test_id,
        answer: AnswerView {
            kind: "answer",
            sdp: started.answer_sdp,
        },
        connect_timeout_seconds: s.connect_timeout_seconds,
        measure_seconds: s.measure_seconds,
    }))
}

/// Who runs a test, as the relay credentials name it (no personal data).
fn run_by_label(caller: &Caller) -> String {
    match caller {
        Caller::Staff(staff) => format!("user-{}", staff.user_id),
        Caller::Petitioner(p) => format!("session-{}", p.session_id),
    }
}

/// The court of the room a test names (a local or a host room); none for a device check.
async fn room_court(state: &AppState, test: &TestRow) -> Result<Option<i64>, ApiError> {
    Ok(match (test.local_room_id, test.host_room_id) {
        (Some(room), _) => Some(state.store.local_room(room).await?.court_id),
        (None, Some(room)) => Some(state.store.host_room_court(room).await?),
        (None, None) => None,
    })
}

/// A test that `caller` may read (`run`: that it may report on, i.e. that it ran).
async fn readable_test(
    state: &AppState,
    caller: &Caller,
    id: i64,
    run: bool,
) -> Result<TestRow, ApiError> {
    let test = state
        .store
        .connectivity_test(id)
        .await
        .map_err(|e| not_found(e, "connectivity test"))?;
    let allowed = match caller {
        Caller::Petitioner(p) => test.session_id == Some(p.session_id),
        Caller::Staff(staff) => match room_court(state, &test).await? {
            None => false,
            Some(court) if run => court == staff.court_id,
            Some(court) => {
                Scope::of(&state.store, staff)
                    .may_read_room_test(court)
                    .await?
            }
        },
    };
    if allowed {
        Ok(test)
    } else {
        Err(ApiError::NotFound("connectivity test"))
    }
}

/// A test's state and figures: `running` until it is recorded.
#[utoipa::path(
    get,
    path = "/api/v1/connectivity/tests/{id}",
    params(("id" = i64, Path, description = "test id")),
    responses(
        (status = 200, body = TestView),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "connectivity"
)]
#[get("/connectivity/tests/{id}")]
pub async fn get_test(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let test = readable_test(&state, &caller, id.into_inner(), false).await?;
    let support = match (&caller, test.status.as_str()) {
        (Caller::Staff(staff), "failed") => match room_court(&state, &test).await? {
            Some(court) => {
                crate::app::directory::support_for(&state.store, staff.court_id, court).await?
            }
            None => None,
        },
        _ => None,
    };
    let mut view = test_view(&state, test);
    view.support = support;
    Ok(HttpResponse::Ok().json(view))
}

/// The client's own figures (e.g. from `getStats()`), kept beside the server's as extra
/// evidence; they do not change the verdict. A JSON object of at most 4 KiB.
#[utoipa::path(
    post,
    path = "/api/v1/connectivity/tests/{id}/report",
    params(("id" = i64, Path, description = "test id")),
    request_body(content = Object),
    responses(
        (status = 204),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "connectivity"
)]
#[post("/connectivity/tests/{id}/report")]
pub async fn report_test(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i64>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let test = readable_test(&state, &caller, id.into_inner(), true).await?;
    if !body.is_object() {
        return Err(ApiError::invalid("the report must be a JSON object"));
    }
    let text = body.to_string();
    if text.len() > 4096 {
        return Err(ApiError::invalid("the report is over 4096 bytes"));
    }
    state
        .store
        .set_connectivity_client_report(test.id, &text)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize, ToSchema)]
pub struct RoomTests {
    pub id: i64,
    pub name: String,
    /// `local` (a video room, tested with `room_id`) or `host` (the court's own reception room,
    /// tested with `host_room_id`).
    pub kind: &'static str,
    /// The room's latest tests, newest first (at most 5).
    pub tests: Vec<TestView>,
}

/// The caller's own court's rooms, each with its latest tests (the room terminal's list): its
/// local video rooms, then its own reception rooms (a host court's officer tests the room they
/// receive from).
#[utoipa::path(
    get,
    path = "/api/v1/connectivity/rooms",
    responses(
        (status = 200, body = [RoomTests]),
        (status = 401, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "connectivity"
)]
#[get("/connectivity/rooms")]
pub async fn my_rooms(state: web::Data<AppState>, staff: Staff) -> Result<HttpResponse, ApiError> {
    let mut out = Vec::new();
    for room in state.store.local_rooms(staff.court_id).await? {
        let tests = state
            .store
            .connectivity_tests_of_room(room.id, 5)
            .await?
            .into_iter()
            .map(|t| test_view(&state, t))
            .collect();
        out.push(RoomTests {
            id: room.id,
            name: room.name,
            kind: "local",
            tests,
        });
    }
    for room in state.store.host_rooms_of(staff.court_id).await? {
        let tests = state
            .store
            .connectivity_tests_of_host_room(room.id, 5)
            .await?
            .into_iter()
            .map(|t| test_view(&state, t))
            .collect();
        out.push(RoomTests {
            id: room.id,
            name: room.name,
            kind: "host",
            tests,
        });
    }
    Ok(HttpResponse::Ok().json(out))
}

/// A local room that will call the reader's court soon, with its latest tests and whom to call
/// about it.
#[derive(Serialize, ToSchema)]
pub struct IncomingRoomView {
    pub id: i64,
    pub name: String,
    pub court_id: i64,
    pub court_name: String,
    /// The first of its bookings with the reader's court in the coming week.
    pub first_session_at: chrono::DateTime<chrono::Utc>,
    /// Its latest tests, newest first (at most 3); none: never tested.
    pub tests: Vec<TestView>,
    /// Its court's technical-support person (技术保障人员), whole: a booking between the two
    /// courts is live.
    pub tech_support: Option<crate::app::directory::Person>,
}

/// For the host court's officers and supervisors (the officer's 联通测试 page): the local rooms
/// that will call this court in the next 7 days, each with its latest tests and its court's
/// technical-support person, the failed and untested first.
#[utoipa::path(
    get,
    path = "/api/v1/connectivity/incoming",
    responses(
        (status = 200, body = [IncomingRoomView]),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "connectivity"
)]
#[get("/connectivity/incoming")]
pub async fn incoming_rooms(
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<HttpResponse, ApiError> {
    staff.require(&[Role::Officer, Role::Supervisor])?;
    let now = state.clock.now();
    let rooms = state
        .store
        .incoming_rooms(staff.court_id, now, now + chrono::Duration::days(7))
        .await?;
    let mut out = Vec::with_capacity(rooms.len());
    for r in rooms {
        let tests: Vec<TestView> = state
            .store
            .connectivity_tests_of_room(r.room_id, 3)
            .await?
            .into_iter()
            .map(|t| test_view(&state, t))
            .collect();
        let tech_support =
            crate::app::directory::of_booking(&state.store, staff.court_id, &[r.court_id], true)
                .await?
                .into_iter()
                .next()
                .and_then(|d| d.tech_support);
        out.push(IncomingRoomView {
            id: r.room_id,
            name: r.room_name,
            court_id: r.court_id,
            court_name: r.court_name,
            first_session_at: r.first_start,
            tests,
            tech_support,
        });
    }
    // What needs a call first: the rooms whose latest test failed, then those never tested.
    out.sort_by_key(|r| match r.tests.first().map(|t| t.status.as_str()) {
        Some("failed") => 0,
        None => 1,
        _ => 2,
    });
    Ok(HttpResponse::Ok().json(out))
}

// --- campaigns ---------------------------------------------------------------------------------

#[derive(Serialize, ToSchema)]
pub struct CampaignCreated {
    pub id: i64,
}

#[derive(Serialize, ToSchema)]
pub struct CampaignSummary {
    pub id: i64,
    pub title: String,
    pub court_id: i64,
    pub court_name: String,
    pub deadline: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

impl From<CampaignRow> for CampaignSummary {
    fn from(c: CampaignRow) -> Self {
        CampaignSummary {
            id: c.id,
            title: c.title,
            court_id: c.court_id,
            court_name: c.court_name,
            deadline: c.deadline,
            created_at: c.created_at,
        }
    }
}

/// A campaign's contact and technical-support persons have the directory's shape; the phone is
/// masked (`138****1234`) except for the person's own court.
pub use crate::app::directory::Person;

#[derive(Serialize, ToSchema, Default, Debug, PartialEq, Eq)]
pub struct Counts {
    pub rooms: i64,
    pub passed: i64,
    pub failed: i64,
    pub not_tested: i64,
    pub overdue: i64,
}

#[derive(Serialize, ToSchema)]
pub struct RoomStatus {
    pub id: i64,
    pub name: String,
    /// `passed`, `failed`, `not_tested` or `overdue` (the deadline passed without a pass).
    pub status: &'static str,
    pub reason_code: Option<String>,
    pub reason: Option<String>,
    pub test_id: Option<i64>,
    pub tested_at: Option<DateTime<Utc>>,
    pub rtt_ms: Option<f64>,
    pub loss_percent: Option<f64>,
    pub jitter_ms: Option<f64>,
    pub bitrate_kbps: Option<f64>,
}

#[derive(Serialize, ToSchema)]
pub struct CourtStatus {
    pub id: i64,
    pub name: String,
    pub level: String,
    /// 联络人员
    pub contact: Option<Person>,
    /// 技术保障人员
    pub tech_support: Option<Person>,
    pub rooms: Vec<RoomStatus>,
}

#[derive(Serialize, ToSchema)]
pub struct CampaignView {
    #[serde(flatten)]
    pub campaign: CampaignSummary,
    /// The deadline has passed.
    pub closed: bool,
    pub counts: Counts,
    pub courts: Vec<CourtStatus>,
}

/// Opens a campaign: every local room of every court below the caller's court is to pass a
/// connectivity test by the deadline.
#[utoipa::path(
    post,
    path = "/api/v1/connectivity/campaigns",
    request_body = OpenCampaign,
    responses(
        (status = 201, body = CampaignCreated),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "connectivity"
)]
#[post("/connectivity/campaigns")]
pub async fn open_campaign(
    state: web::Data<AppState>,
    staff: Staff,
    body: web::Json<OpenCampaign>,
) -> Result<HttpResponse, ApiError> {
    staff.require(&[Role::Officer, Role::Supervisor, Role::Admin])?;
    let title = body.title.trim();
    if title.is_empty() || title.chars().count() > 200 || title.chars().any(char::is_control) {
        return Err(ApiError::invalid("title: 1 to 200 characters"));
    }
    if body.deadline <= Utc::now() {
        return Err(ApiError::invalid("deadline: must be in the future"));
    }
    if state.store.courts_below(staff.court_id).await?.is_empty() {
        return Err(ApiError::Forbidden(
            "your court has no courts below it to test",
        ));
    }
    let id = state
        .store
        .create_campaign(staff.court_id, title, body.deadline, staff.user_id)
        .await?;
    tracing::info!(
        campaign = id,
        court = staff.court_id,
        "connectivity campaign opened"
    );
    Ok(HttpResponse::Created().json(CampaignCreated { id }))
}

/// Campaigns that concern the caller's court: opened by it, by a court above it, or by a court
/// below it.
#[utoipa::path(
    get,
    path = "/api/v1/connectivity/campaigns",
    responses(
        (status = 200, body = [CampaignSummary]),
        (status = 401, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "connectivity"
)]
#[get("/connectivity/campaigns")]
pub async fn list_campaigns(
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<HttpResponse, ApiError> {
    let list: Vec<CampaignSummary> = state
        .store
        .campaigns_for(staff.court_id)
        .await?
        .into_iter()
        .map(CampaignSummary::from)
        .collect();
    Ok(HttpResponse::Ok().json(list))
}

/// How much of a campaign a caller sees.
enum Part {
    /// The opener, or a court above it: everything.
    Whole,
    /// A court in scope: itself and the courts below it.
    Branch(i64),
}

async fn campaign_for(
    state: &AppState,
    staff: &Staff,
    id: i64,
) -> Result<(CampaignRow, Part), ApiError> {
    let campaign = state
        .store
        .campaign(id)
        .await
        .map_err(|e| not_found(e, "campaign"))?;
    if Scope::of(&state.store, staff)
        .in_branch(campaign.court_id)
        .await?
    {
        return Ok((campaign, Part::Whole));
    }
    if scope::within(&state.store, staff.court_id, campaign.court_id).await? {
        return Ok((campaign, Part::Branch(staff.court_id)));
    }
    Err(ApiError::NotFound("campaign"))
}

/// A room's status in a campaign at `now`.
fn room_status(r: RoomStanding, deadline: DateTime<Utc>, now: DateTime<Utc>) -> RoomStatus {
    let status = match r.status.as_deref() {
        Some("passed") => "passed",
        _ if now > deadline => "overdue",
        Some(_) => "failed",
        None => "not_tested",
    };
    RoomStatus {
        id: r.room_id,
        name: r.room_name,
        status,
        reason_code: r.reason_code,
        reason: r.reason,
        test_id: r.test_id,
        tested_at: r.finished_at,
        rtt_ms: r.rtt_ms,
        loss_percent: r.loss_percent,
        jitter_ms: r.jitter_ms,
        bitrate_kbps: r.bitrate_kbps,
    }
}

async fn campaign_view(state: &AppState, staff: &Staff, id: i64) -> Result<CampaignView, ApiError> {
    let (campaign, part) = campaign_for(state, staff, id).await?;
    let now = Utc::now();
    let mut courts = state.store.courts_below(campaign.court_id).await?;
    if let Part::Branch(own) = part {
        let mut kept = Vec::new();
        for c in courts {
            if scope::within(&state.store, c.id, own).await? {
                kept.push(c);
            }
        }
        courts = kept;
    }
    let mut standings = state
        .store
        .room_standings(campaign.court_id, campaign.created_at)
        .await?;
    let contacts = state.store.campaign_contacts(campaign.id).await?;
    let person = |court_id: i64, name: &str, phone: &str| Person {
        name: name.to_owned(),
        phone: if court_id == staff.court_id {
            phone.to_owned()
        } else {
            mask_phone(phone)
        },
    };
    let mut counts = Counts::default();
    let mut out = Vec::new();
    for court in courts {
        let contact = contacts.iter().find(|c| c.court_id == court.id);
        let rooms: Vec<RoomStatus> = standings
            .iter()
            .filter(|r| r.court_id == court.id)
            .cloned()
            .map(|r| room_status(r, campaign.deadline, now))
            .collect();
        standings.retain(|r| r.court_id != court.id);
        for r in &rooms {
            counts.rooms += 1;
            match r.status {
                "passed" => counts.passed += 1,
                "failed" => counts.failed += 1,
                "overdue" => counts.overdue += 1,
                _ => counts.not_tested += 1,
            }
        }
        out.push(CourtStatus {
            id: court.id,
            name: court.name,
            level: court.level.to_string(),
            contact: contact.map(|c| person(c.court_id, &c.contact_name, &c.contact_phone)),
            tech_support: contact.map(|c| person(c.court_id, &c.tech_name, &c.tech_phone)),
            rooms,
        });
    }
    Ok(CampaignView {
        closed: now > campaign.deadline,
        campaign: campaign.into(),
        counts,
        courts: out,
    })
}

/// The campaign: every court and room in the caller's part of it, with status and counts.
#[utoipa::path(
    get,
    path = "/api/v1/connectivity/campaigns/{id}",
    params(("id" = i64, Path, description = "campaign id")),
    responses(
        (status = 200, body = CampaignView),
        (status = 401, body = ErrorBody),
        (status = 404, description = "no such campaign, or not one that concerns your court", body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "connectivity"
)]
#[get("/connectivity/campaigns/{id}")]
pub async fn get_campaign(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let view = campaign_view(&state, &staff, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(view))
}

fn status_zh(status: &str) -> &'static str {
    match status {
        "passed" => "通过",
        "failed" => "未通过",
        "overdue" => "逾期",
        _ => "未测试",
    }
}

fn csv_text(t: &str) -> String {
    let t = if t.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{t}")
    } else {
        t.to_owned()
    };
    if t.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", t.replace('"', "\"\""))
    } else {
        t
    }
}

fn num(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.1}")).unwrap_or_default()
}

/// The campaign view as CSV (UTF-8 with a byte-order mark, for spreadsheet programs): one line
/// per room, with its court's contact and technical-support persons (phones masked).
#[utoipa::path(
    get,
    path = "/api/v1/connectivity/campaigns/{id}/export.csv",
    params(("id" = i64, Path, description = "campaign id")),
    responses(
        (status = 200, content_type = "text/csv", body = String),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "connectivity"
)]
#[get("/connectivity/campaigns/{id}/export.csv")]
pub async fn export_campaign(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let view = campaign_view(&state, &staff, id).await?;
    let mut out = String::from("\u{feff}");
    out.push_str(
        "法院,视频接访室,状态,原因,测试时间,往返时延(ms),丢包率(%),抖动(ms),码率(kbit/s),\
         联络人员,联络电话,技术保障人员,技术保障电话\r\n",
    );
    for court in &view.courts {
        let (cn, cp) = court
            .contact
            .as_ref()
            .map_or((String::new(), String::new()), |p| {
                (p.name.clone(), mask_phone(&p.phone))
            });
        let (tn, tp) = court
            .tech_support
            .as_ref()
            .map_or((String::new(), String::new()), |p| {
                (p.name.clone(), mask_phone(&p.phone))
            });
        let mut rooms: Vec<Option<&RoomStatus>> = court.rooms.iter().map(Some).collect();
        if rooms.is_empty() {
            rooms.push(None);
        }
        for r in rooms {
            let fields = [
                csv_text(&court.name),
                csv_text(r.map_or("", |r| r.name.as_str())),
                r.map_or(String::new(), |r| status_zh(r.status).to_owned()),
                csv_text(r.and_then(|r| r.reason.as_deref()).unwrap_or("")),
                r.and_then(|r| r.tested_at)
                    .map(|t| {
                        t.with_timezone(&crate::app::clock::beijing())
                            .format("%Y-%m-%d %H:%M")
                            .to_string()
                    })
                    .unwrap_or_default(),
                num(r.and_then(|r| r.rtt_ms)),
                num(r.and_then(|r| r.loss_percent)),
                num(r.and_then(|r| r.jitter_ms)),
                num(r.and_then(|r| r.bitrate_kbps)),
                csv_text(&cn),
                csv_text(&cp),
                csv_text(&tn),
                csv_text(&tp),
            ];
            out.push_str(&fields.join(","));
            out.push_str("\r\n");
        }
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"connectivity-campaign-{id}.csv\""),
        ))
        .body(out))
}

/// Records the caller's court's contact person (联络人员) and technical-support person
/// (技术保障人员) for a campaign that covers it.
#[utoipa::path(
    put,
    path = "/api/v1/connectivity/campaigns/{id}/contacts",
    params(("id" = i64, Path, description = "campaign id")),
    request_body = Contacts,
    responses(
        (status = 204),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "invalid_input; invalid_name: a control, bidi-override or zero-width character in a name", body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "connectivity"
)]
#[put("/connectivity/campaigns/{id}/contacts")]
pub async fn set_contacts(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
    body: web::Json<Contacts>,
) -> Result<HttpResponse, ApiError> {
    let (campaign, part) = campaign_for(&state, &staff, id.into_inner()).await?;
    if !matches!(part, Part::Branch(_)) || staff.court_id == campaign.court_id {
        return Err(ApiError::Forbidden(
            "only a court the campaign covers records its contacts",
        ));
    }
    let phone_ok = crate::app::directory::phone_ok;
    let contact_name = crate::auth::name_input("contact_name", &body.contact_name, 50)?;
    let tech_name = crate::auth::name_input("tech_name", &body.tech_name, 50)?;
    if !phone_ok(&body.contact_phone) || !phone_ok(&body.tech_phone) {
        return Err(ApiError::invalid(
            "contact_phone, tech_phone: a phone number (7 to 20 digits, spaces and dashes)",
        ));
    }
    state
        .store
        .set_campaign_contacts(
            campaign.id,
            staff.court_id,
            (&contact_name, body.contact_phone.trim()),
            (&tech_name, body.tech_phone.trim()),
            staff.user_id,
        )
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standing(status: Option<&str>) -> RoomStanding {
        RoomStanding {
            room_id: 1,
            room_name: "r".into(),
            court_id: 1,
            test_id: None,
            status: status.map(str::to_owned),
            reason_code: None,
            reason: None,
            finished_at: None,
            rtt_ms: None,
            loss_percent: None,
            jitter_ms: None,
            bitrate_kbps: None,
        }
    }

    #[test]
    fn statuses_before_and_after_the_deadline() {
        let now = Utc::now();
        let later = now + chrono::Duration::days(1);
        let earlier = now - chrono::Duration::days(1);
        assert_eq!(
            room_status(standing(Some("passed")), earlier, now).status,
            "passed"
        );
        assert_eq!(
            room_status(standing(Some("failed")), later, now).status,
            "failed"
        );
        assert_eq!(
            room_status(standing(Some("failed")), earlier, now).status,
            "overdue"
        );
        assert_eq!(room_status(standing(None), later, now).status, "not_tested");
        assert_eq!(room_status(standing(None), earlier, now).status, "overdue");
        assert_eq!(csv_text("=1+1"), "'=1+1");
        assert_eq!(csv_text("a,b"), "\"a,b\"");
    }
}
