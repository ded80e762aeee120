//! Recordings of each reception (issue 20, docs/recording.md): a participant's browser offers
//! its tracks to the recorder; readers of the session's record list and play the parts.
//!
//! Who may do what: sending is for the session's participants (the signalling upgrade's rule,
//! `app::session::staff_participant`, or the petitioner's join token); listing, playing and
//! downloading are for whoever may read the session's record (`app::scope::readable_record`), each play and download audited.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::connectivity::{AnswerView, Description};
use crate::app::scope::Scope;
use crate::auth::{Caller, Staff};
use crate::domain::SessionId;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::state::AppState;
use crate::store::audit::AuditEntry;
use crate::store::recording::RecordingRow;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(start_recording)
        .service(list_recordings)
        .service(recording_media);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRecording {
    /// The browser's offer with every ICE candidate in it (gathering complete): its camera and
    /// microphone tracks, sendonly.
    pub offer: Description,
}

#[derive(Serialize, ToSchema)]
pub struct RecordingStarted {
    /// The recorder's answer, with every server candidate in it.
    pub answer: AnswerView,
    /// The part this connection records.
    pub recording_id: i64,
}

/// Sends this participant's camera and microphone to the recorder: each call is a new part
/// (a reconnect after a gap makes a new one). From the petitioner's admission until the end.
#[utoipa::path(
    post,
    path = "/api/v1/sessions/{id}/recording",
    params(("id" = i64, Path, description = "session id")),
    request_body = StartRecording,
    responses(
        (status = 201, body = RecordingStarted),
        (status = 400, description = "bad_request: the body is too large", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "forbidden: not a participant of this session", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "not_recording: the petitioner has not been admitted yet, or the session has ended", body = ErrorBody),
        (status = 422, description = "invalid_input: not an offer, not SDP, no audio or video, no candidates", body = ErrorBody),
        (status = 503, description = "recorder_unavailable: recording is disabled, broken or full; the call goes on, try again later", body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "recordings"
)]
#[post("/sessions/{id}/recording")]
pub async fn start_recording(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<SessionId>,
    body: web::Json<StartRecording>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    if body.offer.kind != "offer" {
        return Err(ApiError::invalid("offer.type: must be 'offer'"));
    }
    let started = state
        .recorder
        .start(caller, id.into_inner(), body.offer.sdp)
        .await?;
    Ok(HttpResponse::Created().json(RecordingStarted {
        answer: AnswerView {
            kind: "answer",
            sdp: started.answer_sdp,
        },
        recording_id: started.recording_id,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct GapView {
    pub start: DateTime<Utc>,
    /// Null while the stream is still lost.
    pub end: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
pub struct RecordingView {
    pub id: i64,
    pub participant_id: String,
    /// `host`, `co_host`, `local_staff`, `petitioner` or `observer`.
    pub role: String,
    pub name: String,
    /// 1, 2, …: the participant's parts in order (a reconnect after a gap starts a new one).
    pub part: i64,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    /// Size of the sealed file.
    pub bytes: Option<i64>,
    /// SHA-256 of the sealed file, also in the audit chain.
    pub sha256: Option<String>,
    /// `recording`, `closed` (sealed, upload pending), `stored`, `failed` or `purged`.
    pub state: String,
    /// `video/webm` or `audio/webm`.
    pub media_type: String,
    /// Closed by a salvage after the server crashed: the file ends where the last full chunk
    /// on disk ended (under a second short of the crash); `duration_ms` is what was kept.
    pub salvaged: bool,
    /// Where the recorder lost this participant's stream, starting in this part.
    pub gaps: Vec<GapView>,
}

#[derive(Serialize, ToSchema)]
pub struct RecordingList {
    pub items: Vec<RecordingView>,
}

/// The parts recorded in a session, with their gaps, for readers of the session's record.
#[utoipa::path(
    get,
    path = "/api/v1/sessions/{id}/recordings",
    params(("id" = i64, Path, description = "session id")),
    responses(
        (status = 200, body = RecordingList),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "recordings"
)]
#[get("/sessions/{id}/recordings")]
pub async fn list_recordings(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<SessionId>,
) -> Result<HttpResponse, ApiError> {
    let session_id = id.into_inner();
    Scope::of(&state.store, &staff)
        .readable_record(session_id)
        .await?;
    let rows = state.store.recordings_of(session_id).await?;
    let gaps = state.store.gaps_of(session_id).await?;
    let items = rows
        .into_iter()
        .map(|r| RecordingView {
            gaps: gaps
                .iter()
                .filter(|g| g.recording_id == r.id)
                .map(|g| GapView {
                    start: g.started_at,
                    end: g.ended_at,
                })
                .collect(),
            id: r.id,
            participant_id: r.participant_id,
            role: r.role,
            name: r.name,
            part: r.part,
            started_at: r.started_at,
            ended_at: r.ended_at,
            duration_ms: r.duration_ms,
            bytes: r.bytes,
            sha256: r.sha256,
            state: r.state,
            media_type: r.media_type,
            salvaged: r.salvaged,
        })
        .collect();
    Ok(HttpResponse::Ok().json(RecordingList { items }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MediaQuery {
    /// `1`: as a download (`Content-Disposition: attachment`), audited as `recording.download`.
    pub download: Option<u8>,
}

/// `bytes=a-b`, `bytes=a-` or `bytes=-n` over a file of `len` bytes: the half-open range, or
/// `Err(())` when it cannot be satisfied. One range only; a list is answered whole.
fn byte_range(value: &str, len: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = value.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let range = match (a.is_empty(), b.is_empty()) {
        (true, false) => {
            let n: u64 = b.parse().ok()?;
            if n == 0 {
                return Some(Err(()));
            }
            (len.saturating_sub(n), len)
        }
        (false, _) => {
            let start: u64 = a.parse().ok()?;
            let end = if b.is_empty() {
                len
            } else {
                b.parse::<u64>().ok()?.saturating_add(1).min(len)
            };
            if start >= len || start >= end {
                return Some(Err(()));
            }
            (start, end)
        }
        (true, true) => return None,
    };
    Some(Ok(range))
}

/// A recorded part, decrypted, as WebM (`video/webm`, or `audio/webm` for a part without
/// video), for readers of the session's record. Answers one HTTP range (`Range: bytes=…`, 206),
/// so that a player can seek. A request from the start of the file is audited as
/// `recording.play` (or `recording.download` with `download=1`): who, when, which recording.
#[utoipa::path(
    get,
    path = "/api/v1/recordings/{id}/media",
    params(("id" = i64, Path, description = "recording id"), MediaQuery),
    responses(
        (status = 200, description = "the whole file", content((Vec<u8> = "video/webm"), (Vec<u8> = "audio/webm"))),
        (status = 206, description = "the range asked for", content((Vec<u8> = "video/webm"), (Vec<u8> = "audio/webm"))),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "recording_in_progress, recording_purged, recording_failed, recording_damaged (the file does not open: changed or cut short)", body = ErrorBody),
        (status = 416, description = "range_not_satisfiable", body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 503, description = "recorder_unavailable", body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "recordings"
)]
#[get("/recordings/{id}/media")]
pub async fn recording_media(
    state: web::Data<AppState>,
    staff: Staff,
    req: HttpRequest,
    id: web::Path<i64>,
    query: web::Query<MediaQuery>,
) -> Result<HttpResponse, ApiError> {
    let download = match query.download {
        None | Some(0) => false,
        Some(1) => true,
        Some(_) => return Err(ApiError::invalid("download: 1 or absent")),
    };
    let row: RecordingRow = match state.store.recording(id.into_inner()).await {
        Ok(r) => r,
        Err(crate::store::StoreError::NotFound) => return Err(ApiError::NotFound("recording")),
        Err(e) => return Err(e.into()),
    };
    Scope::of(&state.store, &staff)
        .readable_record(row.session_id)
        .await?;
    let reader = state.recorder.reader(&row).await?;
    let len = reader.plain_len();
    let asked = req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| byte_range(v, len));
    let (start, end, partial) = match asked {
        None => (0, len, false),
        Some(Ok((a, b))) => (a, b, true),
        Some(Err(())) => {
            return Ok(HttpResponse::RangeNotSatisfiable()
                .insert_header((header::CONTENT_RANGE, format!("bytes */{len}")))
                .json(ErrorBody {
                    code: ErrorCode::RangeNotSatisfiable,
                    message: format!("the file has {len} bytes"),
                    rule: None,
                }));
        }
    };
    if start == 0 {
        let action = if download {
            "recording.download"
        } else {
            "recording.play"
        };
        let entry = AuditEntry::new(
            format!("user-{}", staff.user_id),
            action,
            format!("recording:{}", row.id),
            serde_json::json!({
                "session_id": row.session_id,
                "participant": row.participant_id,
                "part": row.part,
                "court_id": staff.court_id,
            }),
        );
        state.store.audit(&entry).await?;
    }
    let mut res = if partial {
        let mut r = HttpResponse::PartialContent();
        r.insert_header((
            header::CONTENT_RANGE,
            format!("bytes {start}-{}/{len}", end - 1),
        ));
        r
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::CONTENT_TYPE, row.media_type.clone()))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .no_chunking(end - start);
    if download {
        res.insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"session-{}-{}-part{}.webm\"",
                row.session_id, row.participant_id, row.part
            ),
        ));
    }
    Ok(res.streaming(reader.stream(start, end)))
}

#[cfg(test)]
mod tests {
    use super::byte_range;

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        assert_eq!(byte_range("bytes=0-", 100), Some(Ok((0, 100))));
        assert_eq!(byte_range("bytes=10-19", 100), Some(Ok((10, 20))));
        assert_eq!(byte_range("bytes=90-200", 100), Some(Ok((90, 100))));
        assert_eq!(byte_range("bytes=-10", 100), Some(Ok((90, 100))));
        assert_eq!(byte_range("bytes=100-", 100), Some(Err(())));
        assert_eq!(byte_range("bytes=-0", 100), Some(Err(())));
        assert_eq!(byte_range("bytes=0-1,5-6", 100), None);
        assert_eq!(byte_range("items=0-1", 100), None);
        assert_eq!(byte_range("bytes=x-1", 100), None);
    }
}
