//! What higher courts see: session logs with filters, and statistics per court and period.
//!
//! Who reads what: officers and supervisors read the sessions booked by their court and by every
//! court below it (which includes every session their court hosted, see `store::records`); the
//! SPC's read everything; coordinators read their own court's. Administrators read none.

use actix_web::http::header;
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
use crate::app::clock;
use crate::auth::Staff;
use crate::domain::{Outcome, Role};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::store::records::{LogFilter, Reach, RecordRow, StatsRow, Under};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list_records)
        .service(get_record)
        .service(statistics);
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

// --- who reads what ----------------------------------------------------------------------------

async fn reach_of(state: &AppState, staff: &Staff) -> Result<Reach, ApiError> {
    match staff.role {
        Role::Admin => Err(ApiError::Forbidden(
            "administrators do not read session records",
        )),
        Role::Coordinator => Ok(Reach::Court {
            court_id: staff.court_id,
            subtree: false,
        }),
        Role::Officer | Role::Supervisor => {
            let court = state.store.court(staff.court_id).await?;
            if court.parent_id.is_none() && court.level == "supreme" {
                Ok(Reach::All)
            } else {
                Ok(Reach::Court {
                    court_id: staff.court_id,
                    subtree: true,
                })
            }
        }
    }
}

/// Checks that `court` exists (422) and lies within the reader's reach (403); returns the
/// sessions under it that the reader may read.
async fn check_court(state: &AppState, reach: &Reach, court: i64) -> Result<Under, ApiError> {
    let Some(row) = state.store.find_court(court).await? else {
        return Err(ApiError::invalid(format!("court: no court has id {court}")));
    };
    let within = match reach {
        Reach::All => true,
        Reach::Court {
            court_id,
            subtree: false,
        } => court == *court_id,
        Reach::Court {
            court_id,
            subtree: true,
        } => state.store.court_within(court, *court_id).await?,
    };
    let subtree = !matches!(reach, Reach::Court { subtree: false, .. });
    if within {
        Ok(Under::of(&row, subtree))
    } else {
        Err(ApiError::Forbidden(
            "that court is outside your court's scope",
        ))
    }
}

async fn may_read(state: &AppState, reach: &Reach, r: &RecordRow) -> Result<bool, ApiError> {
    Ok(match reach {
        Reach::All => true,
        Reach::Court {
            court_id,
            subtree: false,
        } => r.local_court_id == *court_id,
        Reach::Court {
            court_id,
            subtree: true,
        } => {
            r.host_court_id == *court_id
                || r.joint_court_id == Some(*court_id)
                || state
                    .store
                    .court_within(r.local_court_id, *court_id)
                    .await?
        }
    })
}

// --- dates -------------------------------------------------------------------------------------

fn parse_day(field: &str, text: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|d| (2000..=2999).contains(&d.year()))
        .ok_or_else(|| {
            ApiError::invalid(format!(
                "{field}: '{text}' is not a date YYYY-MM-DD (Asia/Shanghai)"
            ))
        })
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
fn period(from: NaiveDate, to: NaiveDate) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
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
            id: r.id,
            status: if r.booking_status == "cancelled" {
                "cancelled".to_owned()
            } else {
                r.status
            },
            case_id: r.case_id,
            case_number: r.case_number,
            host_court: CourtView::new(r.host_court_id, &r.host_court_name, &r.host_court_level)?,
            host_room: r.host_room_name,
            local_court: CourtView::new(
                r.local_court_id,
                &r.local_court_name,
                &r.local_court_level,
            )?,
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
    let reach = reach_of(state, staff).await?;
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
    let under = check_court(state, &reach, q.court.unwrap_or(staff.court_id)).await?;
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
#[tracing::instrument(skip_all, fields(user = staff.user_id))]
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
        Some(last) if more => Some(cursor.encode(last.starts_at, last.booking_id, &fingerprint)?),
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
#[tracing::instrument(skip_all, fields(user = staff.user_id))]
pub async fn get_record(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let reach = reach_of(&state, &staff).await?;
    let record = state
        .store
        .record(*id)
        .await?
        .ok_or(ApiError::NotFound("session"))?;
    if !may_read(&state, &reach, &record).await? {
        return Err(ApiError::Forbidden(
            "this session is outside your court's scope",
        ));
    }
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

// --- statistics --------------------------------------------------------------------------------

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// The court to report on (within your scope); your own court by default.
    pub court: Option<i64>,
    /// First day, `YYYY-MM-DD` in Asia/Shanghai; the first of this month by default.
    pub from: Option<String>,
    /// Last day, inclusive; the last of `from`'s month by default. At most 366 days in all.
    pub to: Option<String>,
    /// `json` (default), `csv` or `xlsx`.
    pub format: Option<String>,
}

/// The figures of one court, or one branch of the hierarchy, over the period. Definitions are in
/// `docs/statistics.md`.
#[derive(Serialize, ToSchema, Debug, Clone, PartialEq)]
pub struct Figures {
    /// Sessions booked by the branch's local courts (not cancelled), by scheduled start.
    pub booked: i64,
    pub cancelled: i64,
    /// Booked sessions that took place (ended).
    pub held: i64,
    pub no_show: i64,
    /// Booked sessions whose call was interrupted at least once.
    pub interrupted: i64,
    /// Sessions (not cancelled) hosted by the branch's courts.
    pub hosted: i64,
    /// Mean length of the held sessions, start to end.
    pub average_duration_minutes: Option<f64>,
    /// Video receptions with the SPC on the branch's cases: petitions to Beijing (进京访) avoided.
    pub kept_from_beijing: i64,
    /// Video receptions with a high court: petitions to the province (到省访) avoided.
    pub kept_from_province: i64,
    /// Contacts recorded as petitions in person in Beijing / at the province.
    pub to_beijing: i64,
    pub to_province: i64,
    /// Ledger entries (every letter, visit and reception) on the branch's cases.
    pub contacts: i64,
    /// Cases with at least one contact.
    pub cases: i64,
    /// Cases whose first contact ever fell in the period (初信初访).
    pub first_visits: i64,
    /// Of those, cases with no further contact before the period ended.
    pub first_visits_resolved: i64,
    /// Contacts on a case that had been in contact before.
    pub repeat_contacts: i64,
    /// Contacts in person at the province or in Beijing (越级访).
    pub skip_level_contacts: i64,
    /// Contacts on cases flagged collective (集体访).
    pub collective_contacts: i64,
    /// Held sessions the petitioner rated, and those rated satisfied or basically satisfied.
    pub rated: i64,
    pub satisfied: i64,
    pub rates: Rates,
}

/// 三高三低: each a fraction from 0 to 1 (four decimals), or null when nothing was counted.
#[derive(Serialize, ToSchema, Debug, Clone, PartialEq)]
pub struct Rates {
    /// first_visits_resolved / first_visits (初信初访化解率).
    pub first_visit_resolution: Option<f64>,
    /// repeat_contacts / contacts (重复访率).
    pub repeat: Option<f64>,
    /// skip_level_contacts / contacts (越级访率).
    pub skip_level: Option<f64>,
    /// collective_contacts / contacts (集体访率).
    pub collective: Option<f64>,
    /// satisfied / rated (满意率).
    pub satisfaction: Option<f64>,
}

fn rate(n: i64, d: i64) -> Option<f64> {
    (d > 0).then(|| ((n as f64 / d as f64) * 10_000.0).round() / 10_000.0)
}

impl From<&StatsRow> for Figures {
    fn from(s: &StatsRow) -> Figures {
        let repeat_contacts = s.contacts - s.first_visits;
        Figures {
            booked: s.booked,
            cancelled: s.cancelled,
            held: s.held,
            no_show: s.no_show,
            interrupted: s.interrupted,
            hosted: s.hosted,
            average_duration_minutes: (s.timed > 0)
                .then(|| (s.duration_seconds / s.timed as f64 / 60.0 * 10.0).round() / 10.0),
            kept_from_beijing: s.video_spc,
            kept_from_province: s.video_high,
            to_beijing: s.to_beijing,
            to_province: s.to_province,
            contacts: s.contacts,
            cases: s.cases,
            first_visits: s.first_visits,
            first_visits_resolved: s.first_visits_resolved,
            repeat_contacts,
            skip_level_contacts: s.skip_level,
            collective_contacts: s.collective,
            rated: s.rated,
            satisfied: s.satisfied,
            rates: Rates {
                first_visit_resolution: rate(s.first_visits_resolved, s.first_visits),
                repeat: rate(repeat_contacts, s.contacts),
                skip_level: rate(s.skip_level, s.contacts),
                collective: rate(s.collective, s.contacts),
                satisfaction: rate(s.satisfied, s.rated),
            },
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct StatsLine {
    pub court: CourtView,
    /// `own`: the court's own sessions and cases; `below`: a court directly below it, with
    /// everything below that court.
    pub part: String,
    #[serde(flatten)]
    pub figures: Figures,
}

#[derive(Serialize, ToSchema)]
pub struct Statistics {
    pub court: CourtView,
    /// First and last day (inclusive) in Asia/Shanghai.
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The court's whole scope: the sum of `rows`.
    pub totals: Figures,
    pub rows: Vec<StatsLine>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
    Xlsx,
}

/// Statistics of a court over a period, as JSON, CSV or XLSX.
#[utoipa::path(
    get,
    path = "/api/v1/records/statistics",
    params(StatsQuery),
    responses(
        (status = 200, body = Statistics, description = "JSON; `text/csv` or an XLSX workbook with `format`"),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "records"
)]
#[get("/records/statistics")]
#[tracing::instrument(skip_all, fields(user = staff.user_id))]
pub async fn statistics(
    state: web::Data<AppState>,
    staff: Staff,
    query: web::Query<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    let reach = reach_of(&state, &staff).await?;
    let format = match query.format.as_deref() {
        None | Some("json") => Format::Json,
        Some("csv") => Format::Csv,
        Some("xlsx") => Format::Xlsx,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "format: '{other}' is not one of json, csv, xlsx"
            )));
        }
    };
    let court_id = query.court.unwrap_or(staff.court_id);
    let under = check_court(&state, &reach, court_id).await?;
    let today = Utc::now().with_timezone(&clock::beijing()).date_naive();
    let from = match &query.from {
        Some(t) => parse_day("from", t)?,
        None => today.with_day(1).unwrap_or(today),
    };
    let to = match &query.to {
        Some(t) => parse_day("to", t)?,
        None => last_of_month(from),
    };
    let (start, end) = period(from, to)?;
    if (to - from).num_days() + 1 > MAX_PERIOD_DAYS {
        return Err(ApiError::invalid(format!(
            "to: a period is at most {MAX_PERIOD_DAYS} days"
        )));
    }
    let rows = state.store.statistics(court_id, under, start, end).await?;
    let court = state.store.court(court_id).await?;
    let mut total = StatsRow::default();
    let mut lines = Vec::with_capacity(rows.len());
    for r in &rows {
        total.add(r);
        lines.push(StatsLine {
            court: CourtView::new(r.court_id, &r.court_name, &r.court_level)?,
            part: if r.court_id == court_id {
                "own"
            } else {
                "below"
            }
            .to_owned(),
            figures: Figures::from(r),
        });
    }
    let stats = Statistics {
        court: CourtView::new(court.id, &court.name, &court.level)?,
        from,
        to,
        totals: Figures::from(&total),
        rows: lines,
    };
    let filename = format!("courtlink-statistics-{court_id}-{from}-{to}");
    match format {
        Format::Json => Ok(HttpResponse::Ok().json(stats)),
        Format::Csv => Ok(HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}.csv\""),
            ))
            .body(to_csv(&stats))),
        Format::Xlsx => Ok(HttpResponse::Ok()
            .insert_header((
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ))
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}.xlsx\""),
            ))
            .body(to_xlsx(&stats)?)),
    }
}

fn last_of_month(day: NaiveDate) -> NaiveDate {
    let (y, m) = if day.month() == 12 {
        (day.year() + 1, 1)
    } else {
        (day.year(), day.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
        .and_then(|d| d.pred_opt())
        .unwrap_or(day)
}

// --- exports -----------------------------------------------------------------------------------

/// A cell of an export row.
enum Cell {
    Text(String),
    Int(i64),
    /// A number with one decimal (minutes).
    Minutes(Option<f64>),
    /// A fraction shown as a percentage in XLSX, with four decimals in CSV.
    Rate(Option<f64>),
}

/// The export columns: (CSV key, XLSX heading).
const COLUMNS: &[(&str, &str)] = &[
    ("court_id", "法院编号"),
    ("court_name", "法院"),
    ("court_level", "级别"),
    ("part", "范围"),
    ("booked", "预约场次"),
    ("cancelled", "取消"),
    ("held", "已接谈"),
    ("no_show", "未到场"),
    ("interrupted", "中断"),
    ("hosted", "主持接访"),
    ("average_duration_minutes", "平均时长(分钟)"),
    ("kept_from_beijing", "视频接访替代进京访"),
    ("kept_from_province", "视频接访替代到省访"),
    ("to_beijing", "进京访"),
    ("to_province", "到省访"),
    ("contacts", "登记信访总数"),
    ("cases", "案件数"),
    ("first_visits", "初信初访"),
    ("first_visits_resolved", "初信初访化解"),
    ("repeat_contacts", "重复访"),
    ("skip_level_contacts", "越级访"),
    ("collective_contacts", "集体访"),
    ("rated", "已评价"),
    ("satisfied", "满意及基本满意"),
    ("first_visit_resolution_rate", "初信初访化解率"),
    ("repeat_rate", "重复访率"),
    ("skip_level_rate", "越级访率"),
    ("collective_rate", "集体访率"),
    ("satisfaction_rate", "满意率"),
];

fn cells(court: &CourtView, part: &str, f: &Figures) -> Vec<Cell> {
    vec![
        Cell::Int(court.id),
        Cell::Text(court.name.clone()),
        Cell::Text(court.level.as_str().to_owned()),
        Cell::Text(part.to_owned()),
        Cell::Int(f.booked),
        Cell::Int(f.cancelled),
        Cell::Int(f.held),
        Cell::Int(f.no_show),
        Cell::Int(f.interrupted),
        Cell::Int(f.hosted),
        Cell::Minutes(f.average_duration_minutes),
        Cell::Int(f.kept_from_beijing),
        Cell::Int(f.kept_from_province),
        Cell::Int(f.to_beijing),
        Cell::Int(f.to_province),
        Cell::Int(f.contacts),
        Cell::Int(f.cases),
        Cell::Int(f.first_visits),
        Cell::Int(f.first_visits_resolved),
        Cell::Int(f.repeat_contacts),
        Cell::Int(f.skip_level_contacts),
        Cell::Int(f.collective_contacts),
        Cell::Int(f.rated),
        Cell::Int(f.satisfied),
        Cell::Rate(f.rates.first_visit_resolution),
        Cell::Rate(f.rates.repeat),
        Cell::Rate(f.rates.skip_level),
        Cell::Rate(f.rates.collective),
        Cell::Rate(f.rates.satisfaction),
    ]
}

/// Every line of an export: the rows, then the total.
fn export_lines(s: &Statistics) -> Vec<Vec<Cell>> {
    let mut lines: Vec<Vec<Cell>> = s
        .rows
        .iter()
        .map(|l| cells(&l.court, &l.part, &l.figures))
        .collect();
    lines.push(cells(&s.court, "total", &s.totals));
    lines
}

/// RFC 4180 CSV with a UTF-8 byte-order mark (so spreadsheet programs read the Chinese names).
/// Text that a spreadsheet would take for a formula is prefixed with a quote.
fn to_csv(s: &Statistics) -> String {
    let mut out = String::from("\u{feff}");
    let header: Vec<&str> = COLUMNS.iter().map(|(k, _)| *k).collect();
    out.push_str(&header.join(","));
    out.push_str("\r\n");
    for line in export_lines(s) {
        let fields: Vec<String> = line
            .iter()
            .map(|c| match c {
                Cell::Text(t) => csv_text(t),
                Cell::Int(n) => n.to_string(),
                Cell::Minutes(m) => m.map(|m| format!("{m:.1}")).unwrap_or_default(),
                Cell::Rate(r) => r.map(|r| format!("{r:.4}")).unwrap_or_default(),
            })
            .collect();
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
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

fn to_xlsx(s: &Statistics) -> Result<Vec<u8>, ApiError> {
    use rust_xlsxwriter::{Format as XFormat, Workbook};
    let fail = |e: rust_xlsxwriter::XlsxError| ApiError::Internal(anyhow::anyhow!("xlsx: {e}"));
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("统计").map_err(fail)?;
    let bold = XFormat::new().set_bold();
    let percent = XFormat::new().set_num_format("0.00%");
    let minutes = XFormat::new().set_num_format("0.0");
    sheet
        .write_string_with_format(
            0,
            0,
            format!("{} 远程视频接访统计 {} 至 {}", s.court.name, s.from, s.to),
            &bold,
        )
        .map_err(fail)?;
    for (col, (_, heading)) in COLUMNS.iter().enumerate() {
        let col = col as u16;
        sheet
            .write_string_with_format(1, col, *heading, &bold)
            .map_err(fail)?;
        sheet
            .set_column_width(col, if col == 1 { 30 } else { 12 })
            .map_err(fail)?;
    }
    for (i, line) in export_lines(s).into_iter().enumerate() {
        let row = i as u32 + 2;
        for (col, cell) in line.into_iter().enumerate() {
            let col = col as u16;
            match cell {
                Cell::Text(t) => sheet.write_string(row, col, t).map(|_| ()),
                Cell::Int(n) => sheet.write_number(row, col, n as f64).map(|_| ()),
                Cell::Minutes(Some(m)) => sheet
                    .write_number_with_format(row, col, m, &minutes)
                    .map(|_| ()),
                Cell::Rate(Some(r)) => sheet
                    .write_number_with_format(row, col, r, &percent)
                    .map(|_| ()),
                Cell::Minutes(None) | Cell::Rate(None) => Ok(()),
            }
            .map_err(fail)?;
        }
    }
    book.save_to_buffer().map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        assert_eq!(csv_text("西湖法院"), "西湖法院");
        assert_eq!(csv_text("a,b"), "\"a,b\"");
        assert_eq!(csv_text("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_text("=1+1"), "'=1+1");
    }

    #[test]
    fn months_end_where_they_should() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(last_of_month(d(2026, 2, 10)), d(2026, 2, 28));
        assert_eq!(last_of_month(d(2028, 2, 1)), d(2028, 2, 29));
        assert_eq!(last_of_month(d(2026, 12, 5)), d(2026, 12, 31));
    }

    #[test]
    fn rates_round_and_refuse_empty_denominators() {
        assert_eq!(rate(1, 3), Some(0.3333));
        assert_eq!(rate(0, 0), None);
    }
}
