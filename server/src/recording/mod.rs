//! The recorder (issue 20, docs/recording.md): each participant's browser sends its camera and
//! microphone to a receive-only peer of the server as well (`POST /sessions/{id}/recording`);
//! each such connection is a **part**, written as one WebM (muxed as encoded, no decoding),
//! sealed at rest, moved to the store when it closes, its SHA-256 in the row and the audit chain.
//!
//! - `peer`: the receive-only `webrtc` peer and the RTP → frame reassembly;
//! - `muxer`: libwebm on a thread of its own;
//! - `sealed`: the chunked AEAD file format;
//! - `storage`: spool and store through `object_store`;
//! - this file: the parts of this instance, their watch (gaps), closing, uploading, the purge;
//!   the rules it follows are `app::recording`.
//!
//! The call never depends on the recorder: it is a second connection, and everything here fails
//! on its own (a gap on the timeline, `interrupted` in the signalling).

pub mod bench;
pub mod muxer;
pub mod peer;
pub mod sealed;
pub mod settings;
pub mod storage;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::watch;
use webrtc::peer_connection::RTCPeerConnectionState;

use crate::app::recording::{self as rules, RecordingState};
use crate::auth::Caller;
use crate::connectivity::ConnectivitySettings;
use crate::domain::{EventKind, SessionId};
use crate::error::{ApiError, ErrorCode};
use crate::signalling::hub::Hub;
use crate::signalling::protocol::Participant;
use crate::store::recording::{ClosedPart, NewPart, RecordingRow};
use crate::store::{Store, StoreError};
use peer::{AnswerError, PeerEvent, RecorderPeer, Track};
use settings::RecordingSettings;
use storage::{Place, Storage};

/// No RTP on a track for this long is a gap.
pub const SILENCE: Duration = Duration::from_secs(3);
/// A part whose connection is not up this long after its offer is given up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// Frames waiting for the muxer's thread, per part.
const MUX_QUEUE: usize = 4096;

/// A part as this instance holds it.
struct Live {
    stop: watch::Sender<bool>,
    done: watch::Receiver<bool>,
}

struct Inner {
    settings: RecordingSettings,
    network: ConnectivitySettings,
    master: SecretString,
    store: Store,
    hub: Hub,
    storage: Option<Storage>,
    parts: Mutex<HashMap<i64, Live>>,
    /// When this recorder started: a part that began before it and is still `recording` in
    /// this spool was left by a crash (`salvage`).
    started_at: chrono::DateTime<Utc>,
    /// The application's own runtime. An HTTP worker's runtime stops with the HTTP server,
    /// before the background loops: a part's peer and its watch must outlive it, so that a
    /// shutdown closes the files cleanly.
    runtime: tokio::runtime::Handle,
}

/// The recorder of this instance. A cheap clone of an `Arc`.
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn unavailable(message: impl Into<String>) -> ApiError {
    ApiError::Unavailable {
        code: ErrorCode::RecorderUnavailable,
        message: message.into(),
    }
}

/// An offer, checked before a peer is built for it: read as every server peer reads one
/// (`courtlink_parsers::sdp`), with the camera and microphone the recorder keeps.
fn check_offer(sdp: &str) -> Result<(), ApiError> {
    if courtlink_parsers::sdp::Offer::read(sdp)?.media.is_empty() {
        return Err(ApiError::invalid(
            "offer: no audio or video; add the camera and microphone tracks (sendonly)",
        ));
    }
    Ok(())
}

/// Free bytes on the file system that holds `dir` (its nearest existing ancestor).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn free_bytes(dir: &std::path::Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let mut at = dir;
    while !at.exists() {
        at = at.parent()?;
    }
    let path = if at.as_os_str().is_empty() {
        std::ffi::CString::new(".").ok()?
    } else {
        std::ffi::CString::new(at.as_os_str().as_bytes()).ok()?
    };
    // SAFETY: statvfs writes into the struct we own, from a NUL-terminated path.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(path.as_ptr(), &mut s) };
    #[allow(
        clippy::useless_conversion,
        reason = "fsblkcnt_t and c_ulong are u64 on 64-bit targets only"
    )]
    let free = u64::from(s.f_bavail).saturating_mul(u64::from(s.f_frsize));
    (rc == 0).then_some(free)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn free_bytes(_dir: &std::path::Path) -> Option<u64> {
    None
}

/// Takes an exclusive advisory lock (`flock`) on a part's file, without waiting: false when
/// another open of it holds one (a part being recorded, in this process or another). Released
/// when every handle of this open is closed, by a crash too.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn lock_file(file: &std::fs::File) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor this File owns and keeps open for the call.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn lock_file(_file: &std::fs::File) -> bool {
    true
}

/// What POST /sessions/{id}/recording answers.
pub struct Started {
    pub recording_id: i64,
    pub answer_sdp: String,
}

impl Recorder {
    pub fn new(
        settings: RecordingSettings,
        network: ConnectivitySettings,
        master: SecretString,
        store: Store,
        hub: Hub,
        tasks: &crate::tasks::Tasks,
    ) -> Recorder {
        // A store that cannot be opened leaves the recorder unavailable (503), not the server.
        let storage = if settings.enabled {
            match Storage::open(&settings) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::error!(
                        error = format!("{e:#}"),
                        "the recording store cannot be opened; recording is unavailable"
                    );
                    None
                }
            }
        } else {
            None
        };
        let recorder = Recorder {
            inner: Arc::new(Inner {
                settings,
                network,
                master,
                store,
                hub,
                storage,
                parts: Mutex::new(HashMap::new()),
                started_at: Utc::now(),
                runtime: tokio::runtime::Handle::current(),
            }),
        };
        if recorder.inner.storage.is_some() {
            let keeper = recorder.clone();
            tasks.spawn_loop("recording keeper", move |stop| {
                let keeper = keeper.clone();
                async move { keeper.keep(stop).await }
            });
        }
        recorder
    }

    pub fn enabled(&self) -> bool {
        self.inner.storage.is_some()
    }

    pub fn settings(&self) -> &RecordingSettings {
        &self.inner.settings
    }

    /// Parts recording on this instance now.
    pub fn parts_held(&self) -> usize {
        lock(&self.inner.parts).len()
    }

    /// A new part for `caller` in session `session_id`: checks who and when (`app::recording`),
    /// answers the offer and starts recording what comes.
    pub async fn start(
        &self,
        caller: Caller,
        session_id: SessionId,
        offer_sdp: String,
    ) -> Result<Started, ApiError> {
        let this = self.clone();
        self.inner
            .runtime
            .spawn(async move { this.start_here(caller, session_id, offer_sdp).await })
            .await
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("the recorder's start failed: {e}")))?
    }

    async fn start_here(
        &self,
        caller: Caller,
        session_id: SessionId,
        offer_sdp: String,
    ) -> Result<Started, ApiError> {
        let inner = &self.inner;
        let session = match inner.store.session(session_id).await {
            Ok(s) => s,
            Err(StoreError::NotFound) => return Err(ApiError::NotFound("session")),
            Err(e) => return Err(e.into()),
        };
        let participant = rules::sender(&inner.store, caller, &session).await?;
        check_offer(&offer_sdp)?;
        let Some(storage) = inner.storage.clone() else {
            return Err(unavailable("recording is not available on this server"));
        };
        if lock(&inner.parts).len() >= inner.settings.max_parts {
            return Err(unavailable(
                "the recorder is full; the call goes on, try again in a minute",
            ));
        }
        let min_free = inner.settings.min_free_megabytes * 1024 * 1024;
        if free_bytes(&storage.spool_dir).is_some_and(|free| free < min_free) {
            tracing::error!(dir = %storage.spool_dir.display(), "the recording spool is nearly full");
            return Err(unavailable(
                "the recorder's disk is full; the call goes on, try again later",
            ));
        }
        // A track in a codec the muxer cannot hold is skipped, and the timeline says so; an
        // offer with nothing the recorder can keep is refused (the browser does not retry it).
        let tracks = peer::sent_tracks(&offer_sdp);
        let sends_audio = tracks.iter().any(|t| t.kind == "audio" && t.kept());
        let sent = tracks.len();
        let skipped: Vec<Track> = tracks.into_iter().filter(|t| !t.kept()).collect();
        if !skipped.is_empty() && skipped.len() == sent {
            self.note_skipped(session_id, None, &participant.id, &skipped)
                .await;
            return Err(ApiError::invalid(format!(
                "offer: no track in a codec the recorder keeps (Opus, VP8 or VP9); offered {}",
                skipped
                    .iter()
                    .map(|t| format!("{} {}", t.kind, t.codecs.join("/")))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        // The peer answers first: an offer it refuses leaves no part behind.
        let (frames_tx, frames_rx) = std::sync::mpsc::sync_channel(MUX_QUEUE);
        // The muxer starts the file once it knows its tracks. Told of the sound only by its
        // first packet, it started a file without sound whenever the camera's first keyframe
        // came before that packet (a microphone that starts late, a busy instance).
        if sends_audio {
            let _ = frames_tx.try_send(muxer::Input::AudioOffered);
        }
        let started = Instant::now();
        let (peer, answer_sdp) =
            RecorderPeer::answer(&inner.network, &offer_sdp, frames_tx.clone(), started)
                .await
                .map_err(|e| match e {
                    AnswerError::Refused(e) => ApiError::invalid(format!("offer: {e:#}")),
                    AnswerError::Server(e) => {
                        tracing::error!(error = format!("{e:#}"), "the recorder's peer failed");
                        unavailable("the recorder could not answer; try again later")
                    }
                })?;
        let row = match inner
            .store
            .start_part(&NewPart {
                session_id,
                participant_id: &participant.id,
                role: role_name(&participant),
                name: &participant.name,
                at: Utc::now(),
            })
            .await
        {
            Ok(row) => row,
            Err(e) => {
                let _ = peer.pc.close().await;
                return Err(e.into());
            }
        };
        let file = storage
            .spool_file(&row.object_key)
            .map_err(|e| unavailable(format!("the recorder cannot write: {e:#}")))
            .and_then(|path| {
                std::fs::OpenOptions::new()
                    .create_new(true)
                    .read(true)
                    .write(true)
                    .open(&path)
                    .map_err(|e| unavailable(format!("the recorder cannot write: {e}")))
            });
        // The part holds its file locked until its row is closed: a salvage never takes it.
        let file = file.and_then(|f| {
            let held = f
                .try_clone()
                .map_err(|e| unavailable(format!("the recorder cannot write: {e}")))?;
            if lock_file(&held) {
                Ok((f, held))
            } else {
                Err(unavailable(
                    "the recorder's file is held by another process",
                ))
            }
        });
        let (file, held) = match file {
            Ok(f) => f,
            Err(e) => {
                let _ = peer.pc.close().await;
                let _ = inner.store.fail_part(row.id, Utc::now()).await;
                return Err(e);
            }
        };
        self.note_skipped(session_id, Some(row.id), &participant.id, &skipped)
            .await;
        self.run_part(
            row.clone(),
            participant,
            peer,
            (file, held),
            (frames_tx, frames_rx),
            started,
            sends_audio,
        );
        Ok(Started {
            recording_id: row.id,
            answer_sdp,
        })
    }

    /// Starts the muxer's thread and the part's watch.
    #[allow(
        clippy::too_many_arguments,
        reason = "one part's pieces, handed over once"
    )]
    fn run_part(
        &self,
        row: RecordingRow,
        participant: Participant,
        peer: RecorderPeer,
        (file, held): (std::fs::File, std::fs::File),
        (frames_tx, frames_rx): (
            std::sync::mpsc::SyncSender<muxer::Input>,
            std::sync::mpsc::Receiver<muxer::Input>,
        ),
        started: Instant,
        sends_audio: bool,
    ) {
        let inner = &self.inner;
        let master = inner.master.expose_secret().as_bytes().to_vec();
        let muxing = tokio::task::spawn_blocking(move || muxer::run(file, &master, frames_rx));
        let (stop_tx, stop_rx) = watch::channel(false);
        let (done_tx, done_rx) = watch::channel(false);
        lock(&inner.parts).insert(
            row.id,
            Live {
                stop: stop_tx,
                done: done_rx,
            },
        );
        let part = Part {
            recorder: self.clone(),
            row,
            participant,
            peer,
            started,
            sends_audio,
            frames: frames_tx,
            _held: held,
        };
        tokio::spawn(async move {
            part.run(stop_rx, muxing).await;
            let _ = done_tx.send(true);
        });
    }

    /// Notes on the timeline that a part whose offer sends sound holds none: none reached the
    /// recorder, or none before the file started (docs/recording.md). Without the note the
    /// file would be silent and nothing would say why.
    async fn note_no_sound(&self, session_id: SessionId, recording_id: i64, participant: &str) {
        tracing::warn!(
            session_id = session_id.get(),
            recording = recording_id,
            "a part whose offer sends sound closed without any"
        );
        let data = serde_json::json!({
            "participant": participant,
            "recording_id": recording_id,
            "kind": "audio",
            "codecs": [],
            "why": "no_sound",
        });
        self.note_track(session_id, &data).await;
    }

    /// A `recording_track_skipped` entry (actor `recorder`).
    async fn note_track(&self, session_id: SessionId, data: &serde_json::Value) {
        let noted = self
            .inner
            .store
            .add_event(
                session_id,
                EventKind::RecordingTrackSkipped,
                "recorder",
                data,
                |_, _, _, _| None,
            )
            .await;
        if let Err(e) = noted {
            tracing::warn!(session_id = session_id.get(), error = %e, "cannot note a track not recorded");
        }
    }

    /// Notes on the timeline each track of `participant` that is not recorded for its codec
    /// (`recording_track_skipped`, actor `recorder`): the record says why a file lacks it.
    async fn note_skipped(
        &self,
        session_id: SessionId,
        recording_id: Option<i64>,
        participant: &str,
        tracks: &[Track],
    ) {
        for track in tracks {
            tracing::warn!(
                session_id = session_id.get(),
                kind = track.kind,
                codecs = ?track.codecs,
                "a track in a codec the recorder cannot keep is skipped"
            );
            let data = serde_json::json!({
                "participant": participant,
                "recording_id": recording_id,
                "kind": track.kind,
                "codecs": track.codecs,
            });
            self.note_track(session_id, &data).await;
        }
    }

    /// Tells everyone in the session the recording state now.
    async fn announce(&self, session_id: SessionId) {
        let inner = &self.inner;
        match inner.store.session(session_id).await {
            Ok(session) => match rules::state_of(&inner.store, self.enabled(), &session).await {
                Ok(state) => inner.hub.recording(session_id, state, Utc::now()).await,
                Err(e) => {
                    tracing::warn!(session_id = session_id.get(), error = %e, "cannot read the recording state")
                }
            },
            Err(e) => {
                tracing::warn!(session_id = session_id.get(), error = %e, "cannot read the session")
            }
        }
    }

    /// The supervised loop: retries uploads, closes parts a crash left open, purges expired
    /// files; at shutdown, closes every part of this instance cleanly.
    async fn keep(&self, mut stop: crate::tasks::Stop) -> anyhow::Result<()> {
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        let mut round = 0u64;
        while stop.tick(&mut tick).await {
            self.retry_uploads().await;
            if round % 120 == 0 {
                self.salvage().await;
                self.purge().await;
                self.fail_abandoned().await;
            }
            round += 1;
        }
        self.close_all().await;
        Ok(())
    }

    /// Parts still `recording` a day after they started were left by an instance that died
    /// (no session lasts that long) and that has not come back to salvage them (`salvage`):
    /// marked `failed`, so that the list says what was kept. Their file, in that instance's
    /// spool, stays for an operator (it is sealed; it lacks its last chunk).
    async fn fail_abandoned(&self) {
        let before = Utc::now() - chrono::Duration::hours(24);
        let rows = match self.inner.store.abandoned_parts(before).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list abandoned recordings");
                return;
            }
        };
        for row in rows {
            if lock(&self.inner.parts).contains_key(&row.id) {
                continue;
            }
            tracing::warn!(
                recording = row.id,
                "a part left recording by a stopped instance is marked failed"
            );
            let _ = self.inner.store.fail_part(row.id, Utc::now()).await;
        }
    }

    /// Closes every part of this instance and waits for their files to be sealed.
    pub async fn close_all(&self) {
        let parts: Vec<(i64, watch::Receiver<bool>)> = {
            let parts = lock(&self.inner.parts);
            for live in parts.values() {
                let _ = live.stop.send(true);
            }
            parts.iter().map(|(id, l)| (*id, l.done.clone())).collect()
        };
        for (id, mut done) in parts {
            if done.wait_for(|d| *d).await.is_err() {
                tracing::warn!(recording = id, "a part ended without saying so");
            }
        }
    }

    /// A part's file is closed and sealed in the spool: its hash goes into the row and the
    /// audit chain (in one transaction), then the file moves to the store.
    async fn record_closed(
        &self,
        storage: &Storage,
        row: &RecordingRow,
        closed: &muxer::Closed,
        at: chrono::DateTime<Utc>,
        salvaged: bool,
    ) {
        let store = &self.inner.store;
        let (sha, bytes) = match storage.sha256(Place::Spool, &row.object_key).await {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(
                    recording = row.id,
                    error = format!("{e:#}"),
                    "cannot hash a closed part"
                );
                let _ = store.fail_part(row.id, at).await;
                return;
            }
        };
        let record = store
            .close_part(&ClosedPart {
                id: row.id,
                at,
                media_type: if closed.video {
                    "video/webm"
                } else {
                    "audio/webm"
                },
                duration_ms: closed.duration_ms,
                bytes: i64::try_from(bytes).unwrap_or(i64::MAX),
                sha256: &sha,
                salvaged,
            })
            .await;
        if let Err(e) = record {
            tracing::error!(recording = row.id, error = %e, "cannot record a closed part; its file stays in the spool");
            return;
        }
        self.upload(storage, row).await;
    }

    /// Parts a hard crash of this instance left `recording` in its spool: each file lacks the
    /// chunk that was in memory, and libwebm never finished it (no duration, no cues). What its
    /// full chunks hold is muxed again into a finished WebM (`muxer::remux`), sealed, recorded
    /// like any closed part with `salvaged` set on its row (its duration and size say what was
    /// kept), and uploaded. A file that keeps nothing marks its part `failed` and stays in the
    /// spool for an operator. Runs at start-up and then hourly.
    ///
    /// Only a part that began before this recorder started, and whose file no process holds
    /// (each part holds an exclusive `flock` on its file until its row is closed), is an
    /// orphan: an instance that shares this spool by mistake is never robbed of a live part.
    async fn salvage(&self) {
        let Some(storage) = &self.inner.storage else {
            return;
        };
        let rows = match self.inner.store.recordings_in(&["recording"]).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list recordings to salvage");
                return;
            }
        };
        for row in rows {
            if row.started_at >= self.inner.started_at
                || lock(&self.inner.parts).contains_key(&row.id)
            {
                continue;
            }
            let path = storage.spool_dir.join(&row.object_key);
            let Ok(source) = std::fs::File::open(&path) else {
                continue;
            };
            if !lock_file(&source) {
                continue;
            }
            let ended = source
                .metadata()
                .and_then(|m| m.modified())
                .map(chrono::DateTime::<Utc>::from)
                .unwrap_or_else(|_| Utc::now());
            let fresh = path.with_extension("salvage");
            let _ = std::fs::remove_file(&fresh);
            let target = std::fs::OpenOptions::new()
                .create_new(true)
                .read(true)
                .write(true)
                .open(&fresh);
            let master = self.inner.master.expose_secret().as_bytes().to_vec();
            let remuxed = match target {
                Ok(target) => tokio::task::spawn_blocking(move || {
                    let reader = sealed::Salvage::new(std::io::BufReader::new(&source), &master)?;
                    muxer::remux(reader, target, &master)
                })
                .await
                .map_err(|e| anyhow::anyhow!("the salvage stopped: {e}"))
                .and_then(|r| r),
                Err(e) => Err(anyhow::anyhow!("creating {}: {e}", fresh.display())),
            };
            let closed = match remuxed.and_then(|c| {
                std::fs::rename(&fresh, &path)?;
                Ok(c)
            }) {
                Ok(c) => c,
                Err(e) => {
                    let _ = std::fs::remove_file(&fresh);
                    tracing::error!(
                        recording = row.id,
                        error = format!("{e:#}"),
                        "a part left by a crash keeps nothing; its file stays in the spool"
                    );
                    let _ = self.inner.store.fail_part(row.id, ended).await;
                    continue;
                }
            };
            tracing::warn!(
                recording = row.id,
                duration_ms = closed.duration_ms,
                audio_frames = closed.audio_frames,
                video_frames = closed.video_frames,
                "a part left by a crash is salvaged up to its last full chunk"
            );
            self.record_closed(storage, &row, &closed, ended, true)
                .await;
        }
    }

    /// Closed parts whose file is still in this instance's spool: upload again.
    async fn retry_uploads(&self) {
        let Some(storage) = &self.inner.storage else {
            return;
        };
        let rows = match self.inner.store.recordings_in(&["closed"]).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list recordings to upload");
                return;
            }
        };
        for row in rows {
            if !storage.spool_dir.join(&row.object_key).is_file() {
                continue;
            }
            self.upload(storage, &row).await;
        }
    }

    async fn upload(&self, storage: &Storage, row: &RecordingRow) {
        match storage.upload(&row.object_key).await {
            Ok(()) => {
                if let Err(e) = self.inner.store.mark_stored(row.id).await {
                    tracing::warn!(recording = row.id, error = %e, "stored, but not marked so");
                }
            }
            Err(e) => {
                tracing::warn!(
                    recording = row.id,
                    error = format!("{e:#}"),
                    "upload failed; the spool copy is kept and retried"
                )
            }
        }
    }

    /// Deletes the files of parts that closed more than `retention_days` ago; each deletion is
    /// marked on the row and audited.
    pub async fn purge(&self) -> usize {
        let Some(storage) = &self.inner.storage else {
            return 0;
        };
        let now = Utc::now();
        let before = rules::purge_before(now, self.inner.settings.retention_days);
        let rows = match self.inner.store.expired_recordings(before).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list expired recordings");
                return 0;
            }
        };
        let mut purged = 0;
        for row in rows {
            let spool = storage.delete(Place::Spool, &row.object_key).await;
            let store = storage.delete(Place::Store, &row.object_key).await;
            if let Err(e) = spool.and(store) {
                tracing::warn!(
                    recording = row.id,
                    error = format!("{e:#}"),
                    "cannot delete an expired recording"
                );
                continue;
            }
            match self.inner.store.mark_purged(row.id, now).await {
                Ok(()) => purged += 1,
                Err(e) => tracing::warn!(recording = row.id, error = %e, "deleted but not marked"),
            }
        }
        purged
    }

    /// The sealed file of a part, for reading: the store's copy, or the spool's while its
    /// upload is pending.
    pub async fn reader(&self, row: &RecordingRow) -> Result<storage::Reader, ApiError> {
        let Some(storage) = &self.inner.storage else {
            return Err(unavailable("recording is not available on this server"));
        };
        let place = match row.state.as_str() {
            "stored" => Place::Store,
            "closed" if storage.exists(Place::Spool, &row.object_key).await => Place::Spool,
            // Uploaded, and not yet marked so.
            "closed" if storage.exists(Place::Store, &row.object_key).await => Place::Store,
            "closed" => {
                return Err(ApiError::conflict(
                    ErrorCode::RecordingNotUploaded,
                    "this recording is still on the instance that recorded it, waiting for its \
                     upload to the store; any instance plays it once the upload has succeeded",
                ));
            }
            "recording" => {
                return Err(ApiError::conflict(
                    ErrorCode::RecordingInProgress,
                    "this part is still being recorded; it plays once it is closed",
                ));
            }
            "purged" => {
                return Err(ApiError::conflict(
                    ErrorCode::RecordingPurged,
                    "this recording was deleted at the end of its retention period",
                ));
            }
            _ => {
                return Err(ApiError::conflict(
                    ErrorCode::RecordingFailed,
                    "nothing of this part could be kept",
                ));
            }
        };
        storage
            .open_reader(
                place,
                &row.object_key,
                self.inner.master.expose_secret().as_bytes(),
            )
            .await
            .map_err(|e| {
                tracing::error!(
                    recording = row.id,
                    error = format!("{e:#}"),
                    "a recording does not open"
                );
                ApiError::conflict(
                    ErrorCode::RecordingDamaged,
                    "this recording's file does not open: it was changed or cut short",
                )
            })
    }
}

fn role_name(p: &Participant) -> &'static str {
    use crate::signalling::protocol::ParticipantRole as R;
    match p.role {
        R::Host => "host",
        R::CoHost => "co_host",
        R::LocalStaff => "local_staff",
        R::Petitioner => "petitioner",
        R::Observer => "observer",
        R::Leader => "leader",
    }
}

/// Checks every file that has a recorded hash against it (`courtlink audit verify`): the
/// number checked, or the first that does not match.
pub async fn verify_files(
    store: &Store,
    settings: &RecordingSettings,
) -> anyhow::Result<Result<usize, String>> {
    let rows = store.recordings_in(&["closed", "stored"]).await?;
    if rows.is_empty() {
        return Ok(Ok(0));
    }
    let storage = Storage::open(settings)?;
    for row in &rows {
        let Some(want) = &row.sha256 else { continue };
        let place = if row.state == "closed" && storage.exists(Place::Spool, &row.object_key).await
        {
            Place::Spool
        } else {
            Place::Store
        };
        match storage.sha256(place, &row.object_key).await {
            Ok((got, _)) if &got == want => {}
            Ok((got, _)) => {
                return Ok(Err(format!(
                    "recording {} ({}): its file hashes to {got}, not the recorded {want}",
                    row.id, row.object_key
                )));
            }
            Err(e) => {
                return Ok(Err(format!(
                    "recording {} ({}): its file cannot be read: {e:#}",
                    row.id, row.object_key
                )));
            }
        }
    }
    Ok(Ok(rows.len()))
}

/// One part while it records.
struct Part {
    recorder: Recorder,
    row: RecordingRow,
    participant: Participant,
    peer: RecorderPeer,
    started: Instant,
    /// The offer sends sound in a codec the recorder keeps.
    sends_audio: bool,
    /// To tell the muxer to finish.
    frames: std::sync::mpsc::SyncSender<muxer::Input>,
    /// The part's file, locked (`lock_file`) until the part is dropped, after its row closed.
    _held: std::fs::File,
}

/// Why a part ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The session ended, or the server is stopping: a clean close.
    Closed,
    /// The connection failed or was closed while the session ran: a gap.
    Lost,
    /// It never connected.
    NeverUp,
}

impl Part {
    async fn run(
        mut self,
        mut stop: watch::Receiver<bool>,
        muxing: tokio::task::JoinHandle<anyhow::Result<muxer::Closed>>,
    ) {
        let store = self.recorder.inner.store.clone();
        let session_id = self.row.session_id;
        let pid = self.participant.id.clone();
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        let mut connected = false;
        let mut silent = false;
        let mut round = 0u32;
        let end = loop {
            tokio::select! {
                // The guard `wait_for` returns must not live across the other arms' awaits.
                _ = async { let _ = stop.wait_for(|s| *s).await; } => break End::Closed,
                event = self.peer.events.recv() => match event {
                    Some(PeerEvent::State(RTCPeerConnectionState::Connected)) => {
                        if !connected {
                            connected = true;
                            // The participant is back: a gap of theirs ends now.
                            if store.close_gaps(session_id, Some(&pid), Utc::now()).await.unwrap_or(0) > 0 {
                                self.recorder.announce(session_id).await;
                            }
                        }
                    }
                    Some(PeerEvent::State(
                        RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed,
                    )) | None => break if connected { End::Lost } else { End::NeverUp },
                    Some(PeerEvent::Skipped(track)) => {
                        self.recorder
                            .note_skipped(session_id, Some(self.row.id), &pid, &[track])
                            .await;
                    }
                    Some(_) => {}
                },
                _ = tick.tick() => {
                    round = round.wrapping_add(1);
                    if !connected && self.started.elapsed() > CONNECT_TIMEOUT {
                        break End::NeverUp;
                    }
                    // Every 2 s: has the session ended (on any instance)?
                    if round % 4 == 0 {
                        if let Ok(s) = store.session(session_id).await {
                            if !rules::runs(&s) {
                                break End::Closed;
                            }
                        }
                    }
                    if connected {
                        let quiet = self.silent_for();
                        if !silent && quiet.is_some_and(|q| q >= SILENCE) {
                            silent = true;
                            let at = Utc::now() - chrono::Duration::from_std(quiet.unwrap_or(SILENCE)).unwrap_or_default();
                            if store.open_gap(session_id, self.row.id, &pid, at, "no_media").await.unwrap_or(false) {
                                self.recorder.announce(session_id).await;
                            }
                        } else if silent && quiet.is_some_and(|q| q < Duration::from_secs(1)) {
                            silent = false;
                            if store.close_gaps(session_id, Some(&pid), Utc::now()).await.unwrap_or(0) > 0 {
                                self.recorder.announce(session_id).await;
                            }
                        }
                    }
                }
            }
        };
        // The file first: closing a peer connection can take seconds on a loaded machine, and
        // at a shutdown the file must be sealed within the drain. Frames still arriving are
        // dropped once the muxer has been told to end.
        let pc = self.peer.pc.clone();
        let closing_peer = tokio::spawn(async move {
            let _ = pc.close().await;
        });
        // The muxer finishes what it holds, then finalizes and seals. Its queue drains fast;
        // a full queue only means a moment's wait.
        let mut end_sent = false;
        for _ in 0..500 {
            match self.frames.try_send(muxer::Input::End) {
                Ok(()) | Err(std::sync::mpsc::TrySendError::Disconnected(_)) => {
                    end_sent = true;
                    break;
                }
                Err(std::sync::mpsc::TrySendError::Full(_)) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
        if !end_sent {
            tracing::warn!(
                recording = self.row.id,
                "the muxer's queue stayed full; closing anyway"
            );
        }
        let closed = match muxing.await {
            Ok(r) => r,
            Err(e) => Err(anyhow::anyhow!("the muxer stopped: {e}")),
        };
        self.finish(closed).await;
        let _ = closing_peer.await;
        if end == End::Lost {
            let still = store
                .session(session_id)
                .await
                .map(|s| rules::runs(&s))
                .unwrap_or(false);
            if still
                && store
                    .open_gap(session_id, self.row.id, &pid, Utc::now(), "connection_lost")
                    .await
                    .unwrap_or(false)
            {
                self.recorder.announce(session_id).await;
            }
        }
        lock(&self.recorder.inner.parts).remove(&self.row.id);
    }

    /// How long since the last RTP packet of a track that has had some.
    fn silent_for(&self) -> Option<Duration> {
        let m = &self.peer.meter;
        let now = self.started.elapsed().as_millis() as i64;
        let last = m
            .last_audio_ms
            .load(Ordering::Relaxed)
            .max(m.last_video_ms.load(Ordering::Relaxed));
        (last >= 0).then(|| Duration::from_millis((now - last).max(0) as u64))
    }

    /// Records the closed file (hash in the row and the audit chain) and moves it to the store.
    async fn finish(&self, closed: anyhow::Result<muxer::Closed>) {
        let inner = &self.recorder.inner;
        let Some(storage) = &inner.storage else {
            return;
        };
        let now = Utc::now();
        let closed = match closed {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(
                    recording = self.row.id,
                    error = format!("{e:#}"),
                    "a part kept nothing"
                );
                let _ = storage.delete(Place::Spool, &self.row.object_key).await;
                let _ = inner.store.fail_part(self.row.id, now).await;
                return;
            }
        };
        let dropped = self.peer.meter.frames_dropped.load(Ordering::Relaxed);
        tracing::info!(
            recording = self.row.id,
            duration_ms = closed.duration_ms,
            audio_frames = closed.audio_frames,
            video_frames = closed.video_frames,
            frames_dropped = dropped,
            "a part closed"
        );
        if self.sends_audio && closed.audio_frames == 0 {
            self.recorder
                .note_no_sound(self.row.session_id, self.row.id, &self.participant.id)
                .await;
        }
        self.recorder
            .record_closed(storage, &self.row, &closed, now, false)
            .await;
    }
}

/// The state a hub tells a participant who joins or resumes (`None`: nothing to say).
pub fn worth_telling(state: RecordingState) -> bool {
    state != RecordingState::Off
}
