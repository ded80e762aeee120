//! One task per WebSocket: it `select!`s over inbound frames, its bounded outbound queue and a
//! heartbeat tick, and tells the hub how it ended on every way out.

use std::time::{Duration, Instant};

use tracing::Instrument;

use super::hub::{Departure, HubError};
use super::outbox;
use super::protocol::{
    ClientMessage, Closing, IceServer, MAX_CHAT_CHARS, MediaChange, Participant, SignalError,
};
use super::room::Outbound;
use super::wire::{self, CloseCode, Inbound, ProtocolError};
use crate::app::session::transition;
use crate::domain::{EventKind, SessionId, UserId};
use crate::state::AppState;

pub struct Connection {
    pub session_id: SessionId,
    pub participant: Participant,
    /// What only the socket's introduction needs: boxed and let go once the welcome is sent,
    /// so that it does not stay in the state of a socket that may idle for hours.
    pub intro: Option<Box<Introduction>>,
    /// The token, checked again at every heartbeat: a logout, a disabled account or a replaced
    /// join code closes the socket.
    pub revocable: Revocable,
}

#[derive(Debug, Default)]
pub struct Introduction {
    /// The petitioner's seat (the join token's id); None for staff.
    pub seat: Option<String>,
    /// The last seq the client saw, when it asked to resume.
    pub resume: Option<u64>,
    pub ice_servers: Vec<IceServer>,
}

#[derive(Debug, Clone, Copy)]
pub enum Revocable {
    /// A staff token: its user's token version.
    Staff { user_id: UserId, version: i64 },
    /// A join token: the session's join version it was minted under.
    JoinCode {
        session_id: SessionId,
        join_version: i64,
    },
}

/// A token bucket: `rate` messages a second, bursts up to `burst`. A message past it is refused
/// with an error and the socket goes on; only a flood closes it: more than `burst` refusals
/// within one `window`. Refusals are counted per window, not over the socket's life, so a long
/// call that now and then bursts past the bucket (an ICE restart's candidates) is never cut
/// (issue 15 item 3).
struct RateLimit {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
    window: Duration,
    window_started: Instant,
    refused_in_window: u32,
}

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Allow,
    Refuse,
    Close,
}

impl RateLimit {
    fn new(rate: u32, burst: u32, window: Duration, now: Instant) -> RateLimit {
        RateLimit {
            rate: f64::from(rate),
            burst: f64::from(burst),
            tokens: f64::from(burst),
            last: now,
            window,
            window_started: now,
            refused_in_window: 0,
        }
    }

    fn check(&mut self, now: Instant) -> Verdict {
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Verdict::Allow;
        }
        if now.duration_since(self.window_started) >= self.window {
            self.window_started = now;
            self.refused_in_window = 0;
        }
        self.refused_in_window += 1;
        if f64::from(self.refused_in_window) > self.burst {
            Verdict::Close
        } else {
            Verdict::Refuse
        }
    }
}

/// Serves one socket until it ends, and tells the hub how it ended.
///
/// Not an `async fn`: one would keep its arguments in its state beside the inner future's own
/// copy of them, and this state is paid for by every idle socket for as long as it stays open.
pub fn run(
    state: actix_web::web::Data<AppState>,
    conn: Connection,
    ws: wire::Writer,
    stream: wire::Reader,
) -> impl std::future::Future<Output = ()> {
    let span = tracing::info_span!("signal", session = conn.session_id.get(), participant = %conn.participant.id);
    serve(state, conn, ws, stream).instrument(span)
}

async fn serve(
    state: actix_web::web::Data<AppState>,
    mut conn: Connection,
    mut ws: wire::Writer,
    mut stream: wire::Reader,
) {
    let settings = &state.settings.signalling;
    let hub = &state.hub;
    let metrics = &state.metrics;
    let conn_id = hub.connection_id();
    let (tx, mut rx) = outbox::channel(settings.outbound_queue);
    let sid = conn.session_id;
    // Needed for the welcome only: let go of the TURN credentials once it is sent.
    let intro = conn.intro.take().unwrap_or_default();
    let resuming = intro.resume.is_some();
    let pid = conn.participant.id.as_str();

    // The hub's futures (store and Redis I/O) are large and short-lived; boxing them keeps
    // them out of this task's state, which lives as long as the socket: thousands of idle
    // sockets then cost a few hundred bytes each here instead of kilobytes.
    let participant = conn.participant.clone();
    let attached = Box::pin(async move {
        let Introduction {
            seat,
            resume,
            ice_servers,
        } = *intro;
        hub.attach(sid, participant, seat, conn_id, tx, resume, &ice_servers)
            .await
    })
    .await;
    if let Err(e) = attached {
        tracing::info!(code = e.code().as_str(), "join refused");
        let _ = Box::pin(close(&mut ws, Closing::Refused(e.code()))).await;
        return;
    }
    metrics.connections_open.inc();
    tracing::info!(resume = resuming, "joined");

    let mut heartbeat = tokio::time::interval(Duration::from_secs(settings.heartbeat_seconds));
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let timeout = Duration::from_secs(settings.client_timeout_seconds);
    let mut last_heard = Instant::now();
    let mut limit = RateLimit::new(
        settings.rate_limit_per_second,
        settings.rate_limit_burst,
        Duration::from_secs(settings.rate_limit_window_seconds),
        Instant::now(),
    );

    let departure = loop {
        tokio::select! {
            inbound = stream.recv() => match inbound {
                None => break Departure::Drop,
                Some(Ok(Inbound::Text(text))) => {
                    last_heard = Instant::now();
                    match limit.check(Instant::now()) {
                        Verdict::Allow => {}
                        Verdict::Refuse => {
                            metrics.rate_limited.inc();
                            Box::pin(hub.error(sid, pid, SignalError::RateLimited, "too many messages; slow down")).await;
                            continue;
                        }
                        Verdict::Close => {
                            metrics.rate_limited.inc();
                            tracing::warn!("message flood; closing");
                            Box::pin(flush(&mut rx, &mut ws)).await;
                            let _ = Box::pin(close(&mut ws, Closing::RateLimited)).await;
                            break Departure::Leave;
                        }
                    }
                    if Box::pin(handle_text(&state, &conn, &text)).await == Some(Departure::Leave) {
                        Box::pin(flush(&mut rx, &mut ws)).await;
                        let _ = Box::pin(close(&mut ws, Closing::Left)).await;
                        break Departure::Leave;
                    }
                }
                Some(Ok(Inbound::Binary(_))) => {
                    last_heard = Instant::now();
                    Box::pin(hub.error(sid, pid, SignalError::BinaryNotSupported, "send text frames holding JSON")).await;
                }
                Some(Ok(Inbound::Ping(bytes))) => {
                    last_heard = Instant::now();
                    if Box::pin(ws.pong(&bytes)).await.is_err() {
                        break Departure::Drop;
                    }
                }
                Some(Ok(Inbound::Pong(_))) => last_heard = Instant::now(),
                Some(Ok(Inbound::Close(why))) => {
                    // A normal close is a goodbye; anything else (a page unloading, a
                    // network fault) keeps the place for a resume.
                    let normal = why.as_ref().is_none_or(|r| r.code == CloseCode::Normal);
                    break if normal { Departure::Leave } else { Departure::Drop };
                }
                Some(Err(ProtocolError::Overflow)) => {
                    tracing::info!("frame over the size limit; closing");
                    let _ = Box::pin(close(&mut ws, Closing::FrameTooLarge)).await;
                    break Departure::Leave;
                }
                Some(Err(e)) => {
                    tracing::info!(error = %e, "protocol violation; closing");
                    let _ = Box::pin(close(&mut ws, Closing::ProtocolViolation)).await;
                    break Departure::Leave;
                }
            },
            outbound = rx.recv() => match outbound {
                Some(Outbound::Text(text)) => {
                    if ws.text(text).await.is_err() {
                        break Departure::Drop;
                    }
                }
                Some(Outbound::Close(closing)) => {
                    let _ = Box::pin(close(&mut ws, closing)).await;
                    break match closing {
                        Closing::Replaced | Closing::SessionEnded => Departure::Silent,
                        Closing::Removed => Departure::Leave,
                        _ => Departure::Drop,
                    };
                }
                None => {
                    // The hub let go of our queue: we did not read fast enough.
                    let _ = Box::pin(close(&mut ws, Closing::TooSlow)).await;
                    break Departure::Drop;
                }
            },
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > timeout {
                    tracing::info!("no pong within the timeout; closing");
                    let _ = Box::pin(close(&mut ws, Closing::Timeout)).await;
                    break Departure::Drop;
                }
                if revoked(&state, conn.revocable).await {
                    tracing::info!("the token was revoked; closing");
                    let _ = Box::pin(close(&mut ws, Closing::Revoked)).await;
                    break Departure::Leave;
                }
                if ws.ping().await.is_err() {
                    break Departure::Drop;
                }
            }
        }
    };
    Box::pin(hub.detach(sid, pid, conn_id, departure)).await;
    metrics.connections_open.dec();
    tracing::info!(?departure, "left");
}

/// Whether the socket's token was revoked since it connected: a staff member's tokens, or the
/// join code a petitioner's token was minted from (issue 15 item 5: a replaced code leaves no
/// socket of the old one in the room). Boxed: it runs once a heartbeat, and its future must not
/// grow every idle socket's state. A store that does not answer keeps the socket: revocation
/// is no reason for an outage.
fn revoked(
    state: &AppState,
    token: Revocable,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + '_>> {
    Box::pin(async move {
        match token {
            Revocable::Staff { user_id, version } => matches!(
                state
                    .token_versions
                    .accepts(&state.store, user_id, version)
                    .await,
                Ok(false)
            ),
            Revocable::JoinCode {
                session_id,
                join_version,
            } => matches!(
                state.store.join_version(session_id).await,
                Ok(Some(current)) if current != join_version
            ),
        }
    })
}

/// Sends what is already queued, so that a close the server starts does not overtake the
/// errors that explain it.
/// Sends the close frame of `closing`: its code and its reason.
async fn close(ws: &mut wire::Writer, closing: Closing) -> Result<(), wire::Closed> {
    let code = match closing.code() {
        1000 => CloseCode::Normal,
        1001 => CloseCode::Away,
        1002 => CloseCode::Protocol,
        1008 => CloseCode::Policy,
        1009 => CloseCode::Size,
        1012 => CloseCode::Restart,
        other => CloseCode::Other(other),
    };
    ws.close(code, closing.reason()).await
}

async fn flush(rx: &mut outbox::Receiver, ws: &mut wire::Writer) {
    while let Some(Outbound::Text(text)) = rx.try_recv() {
        if ws.text(text).await.is_err() {
            return;
        }
    }
}

/// Handles one text message. Returns `Some(Leave)` when the client said goodbye.
async fn handle_text(state: &AppState, conn: &Connection, text: &str) -> Option<Departure> {
    let hub = &state.hub;
    let sid = conn.session_id;
    let me = &conn.participant;
    let message = match ClientMessage::parse(text) {
        Ok(m) => m,
        Err(e) => {
            hub.error(sid, &me.id, SignalError::MalformedMessage, &e.0)
                .await;
            return None;
        }
    };
    let refused = |e: HubError, subject: &str| {
        let message = match e {
            HubError::UnknownParticipant => format!("no participant '{subject}' in this session"),
            HubError::NotAdmitted => {
                "signalling waits until the host admits the participant".to_owned()
            }
            HubError::NotAllowed => "only the host may do this".to_owned(),
            HubError::NotWaiting => format!("'{subject}' is not in the waiting room"),
            HubError::Full => "the session is full".to_owned(),
        };
        (e.code(), message)
    };
    let outcome = match message {
        ClientMessage::Signal { to, data } => hub
            .signal(sid, &me.id, &to, data)
            .await
            .map_err(|e| refused(e, &to)),
        ClientMessage::Chat { text } => {
            let trimmed = text.trim();
            let chars = trimmed.chars().count();
            if chars == 0 || chars > MAX_CHAT_CHARS {
                Err((
                    SignalError::ChatTooLong,
                    format!("a chat line holds 1 to {MAX_CHAT_CHARS} characters"),
                ))
            } else {
                hub.chat(sid, me, trimmed).await.map_err(|e| {
                    tracing::error!(error = %e, "cannot record a chat line");
                    (
                        SignalError::StoreUnavailable,
                        "the line was not saved; send it again".to_owned(),
                    )
                })
            }
        }
        ClientMessage::Admit { participant } => hub
            .admit(sid, me, &participant)
            .await
            .map_err(|e| refused(e, &participant)),
        ClientMessage::Remove { participant } => hub
            .remove(sid, me, &participant)
            .await
            .map_err(|e| refused(e, &participant)),
        ClientMessage::Mute { participant, kind } => hub
            .mute(sid, me, &participant, kind)
            .await
            .map_err(|e| refused(e, &participant)),
        ClientMessage::Leave => return Some(Departure::Leave),
        ClientMessage::Quality {
            rtt_ms,
            packet_loss,
            bitrate_kbps,
        } => {
            let data = serde_json::json!({"rtt_ms": rtt_ms, "packet_loss": packet_loss, "bitrate_kbps": bitrate_kbps});
            state
                .store
                .add_event(sid, EventKind::Quality, &me.id, &data, transition)
                .await
                .map(|_| ())
                .map_err(|e| {
                    tracing::error!(error = %e, "cannot record a quality report");
                    (
                        SignalError::StoreUnavailable,
                        "the report was not saved".to_owned(),
                    )
                })
        }
        ClientMessage::Media { peer, change } => {
            let (kind, data) = match change {
                MediaChange::Lost => (EventKind::MediaLost, serde_json::json!({"peer": peer})),
                MediaChange::Restored { seconds } => (
                    EventKind::MediaRestored,
                    serde_json::json!({"peer": peer, "seconds": (seconds * 10.0).round() / 10.0}),
                ),
            };
            state
                .store
                .add_event(sid, kind, &me.id, &data, transition)
                .await
                .map(|_| ())
                .map_err(|e| {
                    tracing::error!(error = %e, "cannot record a media drop");
                    (
                        SignalError::StoreUnavailable,
                        "the drop was not saved".to_owned(),
                    )
                })
        }
    };
    if let Err((code, message)) = outcome {
        hub.error(sid, &me.id, code, &message).await;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 90-minute call at a normal rate, with an ICE restart every five minutes that sends 150
    /// messages at once (50 past the bucket), is never cut; a flood is cut within a second.
    /// The old rule, which counted refusals over the socket's life, cut the call at the third
    /// restart.
    #[test]
    fn refusals_are_counted_per_window_so_a_long_call_is_never_cut() {
        let start = Instant::now();
        let mut limit = RateLimit::new(50, 100, Duration::from_secs(10), start);
        let (mut refused, mut t) = (0, Duration::ZERO);
        while t < Duration::from_secs(90 * 60) {
            // Chat, quality reports and keep-alives: two messages a second.
            assert_ne!(limit.check(start + t), Verdict::Close, "cut at {t:?}");
            if t.as_millis() % 300_000 == 0 {
                for _ in 0..150 {
                    match limit.check(start + t) {
                        Verdict::Close => panic!("cut by the restart at {t:?}"),
                        Verdict::Refuse => refused += 1,
                        Verdict::Allow => {}
                    }
                }
            }
            t += Duration::from_millis(500);
        }
        assert!(
            refused >= 18 * 50,
            "the bursts were refused in part: {refused}"
        );

        let mut flood = RateLimit::new(50, 100, Duration::from_secs(10), start);
        let closed_at = (0..2000u64)
            .find(|i| flood.check(start + Duration::from_millis(i / 2)) == Verdict::Close)
            .expect("a flood is closed");
        assert!(closed_at < 1000, "closed after {closed_at} messages");
    }

    /// `run` lives as long as its socket, so its state is paid for by every idle connection.
    #[tokio::test]
    async fn the_socket_task_state_stays_small() {
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config");
        let settings = crate::config::Settings::load(&dir, "default").unwrap();
        let store = crate::store::Store::connect("sqlite::memory:", 1)
            .await
            .unwrap();
        let metrics = std::sync::Arc::new(crate::metrics::Metrics::default());
        let config = super::super::hub::HubConfig {
            max_participants: 6,
            resume_grace: Duration::from_secs(60),
            waiting_room: true,
            log_cap: 256,
            recording: false,
        };
        let tasks = crate::tasks::Tasks::new();
        let bus = std::sync::Arc::new(super::super::bus::LocalBus::new(&metrics));
        let hub = super::super::hub::Hub::new(store.clone(), config, metrics.clone(), bus, &tasks);
        let mut off = settings.recording.clone();
        off.enabled = false;
        let recorder = crate::recording::Recorder::new(
            off,
            settings.connectivity.clone(),
            settings.privacy.data_key.clone(),
            store.clone(),
            hub.clone(),
            &tasks,
        );
        let state = actix_web::web::Data::new(AppState {
            recorder,
            tokens: std::sync::Arc::new(crate::auth::Tokens::new(&settings.auth)),
            echo: crate::connectivity::Echo::new(
                settings.connectivity.clone(),
                store.clone(),
                &tasks,
            ),
            holds: crate::holds::Holds::local(),
            token_versions: std::sync::Arc::new(crate::auth::TokenVersions),
            guards: crate::auth::Guards::new(&settings.auth),
            settings,
            store,
            hub,
            metrics,
            login_attempts: Default::default(),
            tasks,
            clock: crate::app::clock::Clock::system(),
        });
        let req = actix_web::test::TestRequest::default()
            .insert_header(("upgrade", "websocket"))
            .insert_header(("connection", "upgrade"))
            .insert_header(("sec-websocket-version", "13"))
            .insert_header(("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="))
            .to_http_parts();
        let (req, mut payload) = req;
        let body =
            <actix_web::web::Payload as actix_web::FromRequest>::from_request(&req, &mut payload)
                .await
                .unwrap();
        let (_res, ws, stream) = wire::accept(&req, body, "courtlink.v1", 65536).unwrap();
        let participant = Participant {
            id: "petitioner".into(),
            role: super::super::protocol::ParticipantRole::Petitioner,
            name: "x".into(),
        };
        let conn = Connection {
            session_id: SessionId(1),
            participant,
            intro: Some(Box::new(Introduction {
                seat: Some("0123456789abcdef01234567".into()),
                resume: None,
                ice_servers: vec![],
            })),
            revocable: Revocable::JoinCode {
                session_id: SessionId(1),
                join_version: 0,
            },
        };
        let task = run(state, conn, ws, stream);
        let size = std::mem::size_of_val(&task);
        println!("socket task state: {size} bytes");
        assert!(size <= 1152, "the socket task's state is {size} bytes");
    }
}
