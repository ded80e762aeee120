//! One task per WebSocket: it `select!`s over inbound frames, its bounded outbound queue and a
//! heartbeat tick, and tells the hub how it ended on every way out.

use std::time::{Duration, Instant};

use tracing::Instrument;

use super::hub::{Departure, HubError};
use super::outbox;
use super::protocol::{
    CLOSE_RATE_LIMITED, CLOSE_REMOVED, CLOSE_REPLACED, CLOSE_RESTARTING, CLOSE_REVOKED,
    ClientMessage, IceServer, MAX_CHAT_CHARS, Participant,
};
use super::room::Outbound;
use super::wire::{self, CloseCode, Inbound, ProtocolError};
use crate::app::session::transition;
use crate::state::AppState;

pub struct Connection {
    pub session_id: i64,
    pub participant: Participant,
    /// The last seq the client saw, when it asked to resume.
    pub resume: Option<u64>,
    pub ice_servers: Vec<IceServer>,
    /// A staff member's token, checked again at every heartbeat: a logout or a disabled
    /// account closes the socket (petitioners' join tokens end with their session instead).
    pub revocable: Option<Revocable>,
}

#[derive(Debug, Clone, Copy)]
pub struct Revocable {
    pub user_id: i64,
    pub version: i64,
}

/// A token bucket: `rate` messages a second, bursts up to `burst`.
struct RateLimit {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
    refused: u32,
}

impl RateLimit {
    fn new(rate: u32, burst: u32) -> RateLimit {
        RateLimit {
            rate: f64::from(rate),
            burst: f64::from(burst),
            tokens: f64::from(burst),
            last: Instant::now(),
            refused: 0,
        }
    }

    fn allow(&mut self) -> bool {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            self.refused += 1;
            false
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
    let span = tracing::info_span!("signal", session = conn.session_id, participant = %conn.participant.id);
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
    let ice_servers = std::mem::take(&mut conn.ice_servers);
    let pid = conn.participant.id.as_str();

    // The hub's futures (store and Redis I/O) are large and short-lived; boxing them keeps
    // them out of this task's state, which lives as long as the socket: thousands of idle
    // sockets then cost a few hundred bytes each here instead of kilobytes.
    let (participant, resume) = (conn.participant.clone(), conn.resume);
    let attached = Box::pin(async move {
        hub.attach(sid, participant, conn_id, tx, resume, &ice_servers)
            .await
    })
    .await;
    if let Err(e) = attached {
        tracing::info!(code = e.code(), "join refused");
        let _ = Box::pin(ws.close(CloseCode::Other(4009), e.code())).await;
        return;
    }
    metrics
        .connections_open
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tracing::info!(resume = conn.resume.is_some(), "joined");

    let mut heartbeat = tokio::time::interval(Duration::from_secs(settings.heartbeat_seconds));
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let timeout = Duration::from_secs(settings.client_timeout_seconds);
    let mut last_heard = Instant::now();
    let mut limit = RateLimit::new(settings.rate_limit_per_second, settings.rate_limit_burst);

    let departure = loop {
        tokio::select! {
            inbound = stream.recv() => match inbound {
                None => break Departure::Drop,
                Some(Ok(Inbound::Text(text))) => {
                    last_heard = Instant::now();
                    if !limit.allow() {
                        crate::metrics::Metrics::inc(&metrics.rate_limited);
                        if limit.refused > settings.rate_limit_burst {
                            tracing::warn!("message flood; closing");
                            Box::pin(flush(&mut rx, &mut ws)).await;
                            let _ = Box::pin(ws.close(CloseCode::Other(CLOSE_RATE_LIMITED), "rate limited")).await;
                            break Departure::Leave;
                        }
                        Box::pin(hub.error(sid, pid, "rate_limited", "too many messages; slow down")).await;
                        continue;
                    }
                    if Box::pin(handle_text(&state, &conn, &text)).await == Some(Departure::Leave) {
                        Box::pin(flush(&mut rx, &mut ws)).await;
                        let _ = Box::pin(ws.close(CloseCode::Normal, "left")).await;
                        break Departure::Leave;
                    }
                }
                Some(Ok(Inbound::Binary(_))) => {
                    last_heard = Instant::now();
                    Box::pin(hub.error(sid, pid, "binary_not_supported", "send text frames holding JSON")).await;
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
                    let _ = Box::pin(ws.close(CloseCode::Size, "frame too large")).await;
                    break Departure::Leave;
                }
                Some(Err(e)) => {
                    tracing::info!(error = %e, "protocol violation; closing");
                    let _ = Box::pin(ws.close(CloseCode::Protocol, "protocol violation")).await;
                    break Departure::Leave;
                }
            },
            outbound = rx.recv() => match outbound {
                Some(Outbound::Text(text)) => {
                    if ws.text(text).await.is_err() {
                        break Departure::Drop;
                    }
                }
                Some(Outbound::Close(code, why)) => {
                    let close_code = if code == 1000 { CloseCode::Normal } else if code == CLOSE_RESTARTING { CloseCode::Restart } else { CloseCode::Other(code) };
                    let _ = Box::pin(ws.close(close_code, why)).await;
                    break match code {
                        CLOSE_REPLACED | 1000 => Departure::Silent,
                        CLOSE_REMOVED => Departure::Leave,
                        _ => Departure::Drop,
                    };
                }
                None => {
                    // The hub let go of our queue: we did not read fast enough.
                    let _ = Box::pin(ws.close(CloseCode::Policy, "too slow")).await;
                    break Departure::Drop;
                }
            },
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > timeout {
                    tracing::info!("no pong within the timeout; closing");
                    let _ = Box::pin(ws.close(CloseCode::Away, "timeout")).await;
                    break Departure::Drop;
                }
                if revoked(&state, conn.revocable).await {
                    tracing::info!("the user's tokens were revoked; closing");
                    let _ = Box::pin(ws.close(CloseCode::Other(CLOSE_REVOKED), "revoked")).await;
                    break Departure::Leave;
                }
                if ws.ping().await.is_err() {
                    break Departure::Drop;
                }
            }
        }
    };
    Box::pin(hub.detach(sid, pid, conn_id, departure)).await;
    metrics
        .connections_open
        .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    tracing::info!(?departure, "left");
}

/// Whether a staff socket's tokens were revoked since it connected. Boxed: it runs once a
/// heartbeat, and its future must not grow every idle socket's state. A store that does not
/// answer keeps the socket: revocation is no reason for an outage.
fn revoked(
    state: &AppState,
    token: Option<Revocable>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + '_>> {
    Box::pin(async move {
        match token {
            Some(t) => matches!(
                state
                    .token_versions
                    .accepts(&state.store, t.user_id, t.version)
                    .await,
                Ok(false)
            ),
            None => false,
        }
    })
}

/// Sends what is already queued, so that a close the server starts does not overtake the
/// errors that explain it.
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
            hub.error(sid, &me.id, "malformed_message", &e.0).await;
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
                    "chat_too_long",
                    format!("a chat line holds 1 to {MAX_CHAT_CHARS} characters"),
                ))
            } else {
                hub.chat(sid, me, trimmed).await.map_err(|e| {
                    tracing::error!(error = %e, "cannot record a chat line");
                    (
                        "store_unavailable",
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
                .add_event(sid, "quality", &me.id, &data, transition)
                .await
                .map(|_| ())
                .map_err(|e| {
                    tracing::error!(error = %e, "cannot record a quality report");
                    ("store_unavailable", "the report was not saved".to_owned())
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
        };
        let hub = super::super::hub::Hub::new(store.clone(), config, metrics.clone(), None)
            .await
            .unwrap();
        let state = actix_web::web::Data::new(AppState {
            tokens: std::sync::Arc::new(crate::auth::Tokens::new(&settings.auth)),
            echo: crate::connectivity::Echo::new(settings.connectivity.clone(), store.clone()),
            holds: crate::holds::Holds::local(),
            token_versions: std::sync::Arc::new(crate::auth::TokenVersions),
            guards: crate::auth::Guards::new(&settings.auth),
            settings,
            store,
            hub,
            metrics,
            login_attempts: Default::default(),
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
            session_id: 1,
            participant,
            resume: None,
            ice_servers: vec![],
            revocable: Some(Revocable {
                user_id: 1,
                version: 0,
            }),
        };
        let task = run(state, conn, ws, stream);
        let size = std::mem::size_of_val(&task);
        println!("socket task state: {size} bytes");
        assert!(size <= 1152, "the socket task's state is {size} bytes");
    }
}
