//! What higher courts see: session logs with filters, and statistics per court and period.
//!
//! Who reads what: officers and supervisors read the sessions booked by their court and by every
//! court below it (which includes every session their court hosted, see `store::records`); the
//! SPC's read everything; coordinators read their own court's. Administrators read none.

use actix_web::{HttpResponse, get, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use super::views::{CourtView, EventView};
use crate::app::scope::Scope;
use crate::app::{clock, scope};
use crate::auth::Staff;
use crate::domain::{BookingStatus, Outcome, SessionId};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::store::records::{LogFilter, RecordRow};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list_records).service(get_record);
}

/// Rows per log page unless `limit` says otherwise, and the most a page may have.
pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;
/// The longest period one statistics request may cover.
pub const MAX_PERIOD_DAYS: i64 = 366;

/// The session statuses a log may be filtered by; `cancelled` means the booking was cancelled.
pub const STATUSES: &[&str] = &[
    "scheduled",
    "waiting",
    "live",
    "interrupted",
    "ended",
    "no_show",
    "cancelled",
];

// --- dates -------------------------------------------------------------------------------------

/// A period's first or last day (the form is every day's, `fields::parse_day`), in the years a
/// period's instants can be worked out for.
pub(super) fn parse_day(field: &str, text: &str) -> Result<NaiveDate, ApiError> {
    let day = courtlink_parsers::fields::parse_day(field, text)?;
    if !(2000..=2999).contains(&day.year()) {
        return Err(ApiError::invalid(format!(
            "{field}: a day of the years 2000 to 2999, not {text:?}"
        )));
    }
    Ok(day)
}

/// The instant a day starts in Asia/Shanghai.
fn day_start(day: NaiveDate) -> Result<DateTime<Utc>, ApiError> {
    clock::beijing()
        .from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default())
        .single()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| ApiError::invalid("the date is out of range"))
}

/// `from` and `to` (both inclusive days in Asia/Shanghai) as `[start, end)` in UTC.
pub(super) fn period(
    from: NaiveDate,
    to: NaiveDate,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    if to < from {
        return Err(ApiError::invalid("to: must not be before from"));
    }
    Ok((day_start(from)?, day_start(to)? + Duration::days(1)))
}

fn list_of<'a>(field: &str, text: &'a str) -> Result<Vec<&'a str>, ApiError> {
    let items: Vec<&str> = text.split(',').map(str::trim).collect();
    if items.iter().any(|s| s.is_empty()) {
        return Err(ApiError::invalid(format!(
            "{field}: a comma-separated list of values"
        )));
    }
    Ok(items)
}

// --- the page cursor ---------------------------------------------------------------------------

/// An opaque, signed position in one query's results: the last row's (starts_at, booking id)
/// and a fingerprint of the filters. A cursor that was edited, or that belongs to another query
/// or another reader, is refused rather than silently reinterpreted.
struct Cursor {
    key: Vec<u8>,
}

type HmacSha256 = Hmac<Sha256>;

impl Cursor {
    fn new(state: &AppState) -> Result<Cursor, ApiError> {
        // A key of its own, derived from the signing key, so a cursor is never a token's MAC.
        let mut mac = Self::keyed(state.settings.auth.signing_key.expose_secret().as_bytes())?;
        mac.update(b"courtlink records cursor v1");
        Ok(Cursor {
            key: mac.finalize().into_bytes().to_vec(),
        })
    }

    fn keyed(key: &[u8]) -> Result<HmacSha256, ApiError> {
        <HmacSha256 as Mac>::new_from_slice(key)
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("cursor key: {e}")))
    }

    fn mac(&self) -> Result<HmacSha256, ApiError> {
        Self::keyed(&self.key)
    }

    fn encode(
        &self,
        starts_at: DateTime<Utc>,
        booking_id: i64,
        fingerprint: &str,
    ) -> Result<String, ApiError> {
        let payload = format!("1.{}.{booking_id}.{fingerprint}", starts_at.timestamp());
        let mut mac = self.mac()?;
        mac.update(payload.as_bytes());
        let tag = mac.finalize().into_bytes();
        Ok(format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(&tag[..16])
        ))
    }

    fn decode(&self, text: &str, fingerprint: &str) -> Result<(DateTime<Utc>, i64), ApiError> {
        let bad = || {
            ApiError::invalid("cursor: not a cursor this server issued; start from the first page")
        };
        let (payload, tag) = text.split_once('.').ok_or_else(bad)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| bad())?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| bad())?;
        if tag.len() != 16 {
            return Err(bad());
        }
        let mut mac = self.mac()?;
        mac.update(&payload);
        mac.verify_truncated_left(&tag).map_err(|_| bad())?;
        let payload = String::from_utf8(payload).map_err(|_| bad())?;
        let parts: Vec<&str> = payload.split('.').collect();
        let [version, at, id, fp] = parts.as_slice() else {
            return Err(bad());
        };
        if *version != "1" {
            return Err(bad());
        }
        if *fp != fingerprint {
            return Err(ApiError::invalid(
                "cursor: it belongs to a query with other filters; start from the first page",
            ));
        }
        let at = at
            .parse::<i64>()
            .ok()
            .and_then(|s| DateTime::<Utc>::from_timestamp(s, 0))
            .ok_or_else(bad)?;
        let id = id.parse::<i64>().map_err(|_| bad())?;
        Ok((at, id))
    }
}

// --- session logs ------------------------------------------------------------------------------

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// Sessions booked by this court and the courts below it (within your scope).
    pub court: Option<i64>,
    /// Sessions hosted by this court.
    pub host_court: Option<i64>,
    /// First day, `YYYY-MM-DD` in Asia/Shanghai (by scheduled start).
    pub from: Option<String>,
    /// Last day, inclusive, `YYYY-MM-DD` in Asia/Shanghai.
    pub to: Option<String>,
    /// Outcomes, comma-separated (`reply,assign`).
    pub outcome: Option<String>,
    /// Statuses, comma-separated: `scheduled`, `waiting`, `live`, `interrupted`, `ended`,
    /// `no_show`, or `cancelled` (the booking was cancelled).
    pub status: Option<String>,
    /// Exact case number.
    pub case_number: Option<String>,
    /// Rows per page: 1 to 200, 50 by default.
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page, with the same filters.
    pub cursor: Option<String>,
}

/// One session in a log. Carries no petitioner identity: the case number names the case.
#[derive(Serialize, ToSchema)]
pub struct RecordView {
    pub id: i64,
    /// `scheduled`, `waiting`, `live`, `interrupted`, `ended`, `no_show`, or `cancelled` when the
    /// booking was cancelled.
    pub status: String,
    pub case_id: i64,
    pub case_number: String,
    pub host_court: CourtView,
    pub host_room: String,
    pub local_court: CourtView,
    pub local_room: String,
    /// The second higher court of a joint reception (联合接访).
    pub joint_court_id: Option<i64>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// From `started_at` to `ended_at`.
    pub duration_seconds: Option<i64>,
    /// Seconds the call was down while the session was live.
    pub interrupted_seconds: i32,
    pub outcome: Option<Outcome>,
    pub outcome_note: Option<String>,
    /// `satisfied`, `basically_satisfied` or `dissatisfied`, when the petitioner rated it.
    pub satisfaction: Option<String>,
    pub follow_up_deadline: Option<String>,
    /// The recording has a gap: the recorder lost someone's stream while the session ran (the
    /// gaps are on the timeline and in `GET /sessions/{id}/recordings`).
    pub recording_gap: bool,
}

impl TryFrom<RecordRow> for RecordView {
    type Error = ApiError;
    fn try_from(r: RecordRow) -> Result<Self, ApiError> {
        let outcome = r
            .outcome
            .as_deref()
            .map(str::parse::<Outcome>)
            .transpose()
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored outcome: {e}")))?;
        Ok(RecordView {
            id: r.id.get(),
            status: if r.booking_status == BookingStatus::Cancelled {
                BookingStatus::Cancelled.to_string()
            } else {
                r.status.to_string()
            },
            case_id: r.case_id.get(),
            case_number: r.case_number,
            host_court: CourtView::new(r.host_court_id, &r.host_court_name, r.host_court_level),
            host_room: r.host_room_name,
            local_court: CourtView::new(r.local_court_id, &r.local_court_name, r.local_court_level),
            local_room: r.local_room_name,
            joint_court_id: r.joint_court_id,
            starts_at: r.starts_at,
            ends_at: r.ends_at,
            started_at: r.started_at,
            ended_at: r.ended_at,
            duration_seconds: match (r.started_at, r.ended_at) {
                (Some(s), Some(e)) => Some((e - s).num_seconds()),
                _ => None,
            },
            interrupted_seconds: r.interrupted_seconds,
            outcome,
            outcome_note: r.outcome_note,
            satisfaction: r.satisfaction,
            follow_up_deadline: r.follow_up_deadline,
            recording_gap: r.recording_gap,
        })
    }
}

#[derive(Serialize, ToSchema)]
pub struct RecordPage {
    /// Newest first (by scheduled start).
    pub items: Vec<RecordView>,
    /// Pass as `cursor` (with the same filters) for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RecordDetail {
    #[serde(flatten)]
    pub record: RecordView,
    /// The timeline: joins, leaves, admissions, chat, the end.
    pub events: Vec<EventView>,
}

/// The filters of a log request, checked: the store filter and the cursor's fingerprint.
async fn log_filter(
    state: &AppState,
    staff: &Staff,
    q: &LogQuery,
) -> Result<(LogFilter, String), ApiError> {
    let reach = Scope::of(&state.store, staff).reach().await?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(format!(
            "limit: between 1 and {MAX_LIMIT}"
        )));
    }
    let from = q
        .from
        .as_deref()
        .map(|t| parse_day("from", t))
        .transpose()?;
    let to = q.to.as_deref().map(|t| parse_day("to", t)).transpose()?;
    if let (Some(f), Some(t)) = (from, to) {
        if t < f {
            return Err(ApiError::invalid("to: must not be before from"));
        }
    }
    let mut outcomes = Vec::new();
    if let Some(text) = &q.outcome {
        for o in list_of("outcome", text)? {
            let parsed: Outcome = o.parse().map_err(|_| {
                ApiError::invalid(format!(
                    "outcome: '{o}' is not one of {}",
                    Outcome::ALL
                        .iter()
                        .map(|o| o.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
            outcomes.push(parsed.as_str().to_owned());
        }
    }
    let mut statuses = Vec::new();
    if let Some(text) = &q.status {
        for s in list_of("status", text)? {
            if !STATUSES.contains(&s) {
                return Err(ApiError::invalid(format!(
                    "status: '{s}' is not one of {}",
                    STATUSES.join(", ")
                )));
            }
            statuses.push(s.to_owned());
        }
    }
    outcomes.sort();
    outcomes.dedup();
    statuses.sort();
    statuses.dedup();
    let case_number = match q.case_number.as_deref().map(str::trim) {
        Some("") => return Err(ApiError::invalid("case_number: must not be empty")),
        Some(n) if n.chars().count() > 100 => {
            return Err(ApiError::invalid("case_number: at most 100 characters"));
        }
        other => other.map(str::to_owned),
    };
    if let Some(h) = q.host_court {
        if state.store.find_court(h).await?.is_none() {
            return Err(ApiError::invalid(format!(
                "host_court: no court has id {h}"
            )));
        }
    }
    let under = scope::check_court(&state.store, &reach, q.court.unwrap_or(staff.court_id)).await?;
    // Everything that decides which rows a query returns, except the page position and size.
    let canonical = format!(
        "{}|{}|{:?}|{:?}|{:?}|{:?}|{}|{}|{:?}",
        staff.court_id,
        staff.role,
        q.court,
        q.host_court,
        from,
        to,
        outcomes.join(","),
        statuses.join(","),
        case_number
    );
    let fingerprint = hex::encode(&Sha256::digest(canonical.as_bytes())[..8]);
    let (from, to) = (
        from.map(day_start).transpose()?,
        to.map(|d| day_start(d).map(|t| t + Duration::days(1)))
            .transpose()?,
    );
    let filter = LogFilter {
        under,
        host_court: q.host_court,
        from,
        to,
        outcomes,
        statuses,
        case_number,
        before: None,
        limit,
    };
    Ok((filter, fingerprint))
}

/// A page of the session log the caller may read, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/records/sessions",
    params(LogQuery),
    responses(
        (status = 200, body = RecordPage),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "records"
)]
#[get("/records/sessions")]
#[tracing::instrument(skip_all, fields(user = staff.user_id.get()))]
pub async fn list_records(
    state: web::Data<AppState>,
    staff: Staff,
    query: web::Query<LogQuery>,
) -> Result<HttpResponse, ApiError> {
    let (mut filter, fingerprint) = log_filter(&state, &staff, &query).await?;
    let cursor = Cursor::new(&state)?;
    if let Some(text) = &query.cursor {
        filter.before = Some(cursor.decode(text, &fingerprint)?);
    }
    let limit = filter.limit;
    // One row more than asked tells whether there is a next page.
    filter.limit = limit + 1;
    let mut rows = state.store.record_page(&filter).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = match rows.last() {
        Some(last) if more => {
            Some(cursor.encode(last.starts_at, last.booking_id.get(), &fingerprint)?)
        }
        _ => None,
    };
    let items = rows
        .into_iter()
        .map(RecordView::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(RecordPage { items, next_cursor }))
}

/// One session with its whole timeline, for anyone whose scope covers it.
#[utoipa::path(
    get,
    path = "/api/v1/records/sessions/{id}",
    params(("id" = i64, Path, description = "session id")),
    responses(
        (status = 200, body = RecordDetail),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "records"
)]
#[get("/records/sessions/{id}")]
#[tracing::instrument(skip_all, fields(user = staff.user_id.get()))]
pub async fn get_record(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<SessionId>,
) -> Result<HttpResponse, ApiError> {
    let record = Scope::of(&state.store, &staff).readable_record(*id).await?;
    let events = state
        .store
        .events(record.id)
        .await?
        .into_iter()
        .map(EventView::from)
        .collect();
    Ok(HttpResponse::Ok().json(RecordDetail {
        record: record.try_into()?,
        events,
    }))
}
