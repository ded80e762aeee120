//! One task per WebSocket: it `select!`s over inbound frames, its bounded outbound queue and a
//! heartbeat tick, and deregisters from the hub on every way out.

use std::time::{Duration, Instant};

use actix_ws::{AggregatedMessage, CloseCode, CloseReason, ProtocolError};
use tokio::sync::mpsc;
use tracing::Instrument;

use super::hub::{HubError, Outbound};
use super::protocol::{CLOSE_REPLACED, ClientMessage, MAX_CHAT_CHARS, Participant};
use crate::startup::AppState;

enum Exit {
    /// The client went away or closed.
    Gone,
    /// A newer connection of the same identity took over, or the session ended: say nothing.
    Silent,
    /// Dropped by the server (too slow, silent too long, protocol violation).
    Dropped,
}

pub struct Connection {
    pub session_id: i64,
    pub participant: Participant,
}

pub async fn run(
    state: actix_web::web::Data<AppState>,
    conn: Connection,
    mut ws: actix_ws::Session,
    stream: actix_ws::MessageStream,
) {
    let span = tracing::info_span!("signal", session = conn.session_id, participant = %conn.participant.id);
    async move {
        let settings = &state.settings.signalling;
        let hub = &state.hub;
        let conn_id = hub.connection_id();
        let (tx, mut rx) = mpsc::channel(settings.outbound_queue);

        let joined = serde_json::json!({"role": conn.participant.role, "name": conn.participant.name});
        if let Err(e) = state.store.add_event(conn.session_id, "joined", &conn.participant.id, &joined).await {
            tracing::error!(error = %e, "cannot record the join; refusing the connection");
            let _ = ws.close(Some(CloseReason { code: CloseCode::Error, description: Some("store unavailable".into()) })).await;
            return;
        }
        hub.join(conn.session_id, conn.participant.clone(), conn_id, tx);
        tracing::info!("joined");

        let mut stream = stream
            .max_frame_size(settings.max_frame_bytes)
            .aggregate_continuations()
            .max_continuation_size(settings.max_frame_bytes);
        let mut heartbeat = tokio::time::interval(Duration::from_secs(settings.heartbeat_seconds));
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let timeout = Duration::from_secs(settings.client_timeout_seconds);
        let mut last_heard = Instant::now();

        let exit = loop {
            tokio::select! {
                inbound = stream.recv() => match inbound {
                    None => break Exit::Gone,
                    Some(Ok(AggregatedMessage::Text(text))) => {
                        last_heard = Instant::now();
                        handle_text(&state, &conn, conn_id, &text).await;
                    }
                    Some(Ok(AggregatedMessage::Binary(_))) => {
                        last_heard = Instant::now();
                        hub.error(conn.session_id, conn_id, "binary_not_supported", "send text frames holding JSON");
                    }
                    Some(Ok(AggregatedMessage::Ping(bytes))) => {
                        last_heard = Instant::now();
                        if ws.pong(&bytes).await.is_err() {
                            break Exit::Gone;
                        }
                    }
                    Some(Ok(AggregatedMessage::Pong(_))) => last_heard = Instant::now(),
                    Some(Ok(AggregatedMessage::Close(_))) => break Exit::Gone,
                    Some(Err(ProtocolError::Overflow)) => {
                        tracing::info!("frame over the size limit; closing");
                        let reason = CloseReason { code: CloseCode::Size, description: Some("frame too large".into()) };
                        let _ = ws.clone().close(Some(reason)).await;
                        break Exit::Dropped;
                    }
                    Some(Err(e)) => {
                        tracing::info!(error = %e, "protocol violation; closing");
                        let reason = CloseReason { code: CloseCode::Protocol, description: None };
                        let _ = ws.clone().close(Some(reason)).await;
                        break Exit::Dropped;
                    }
                },
                outbound = rx.recv() => match outbound {
                    Some(Outbound::Text(text)) => {
                        if ws.text(text).await.is_err() {
                            break Exit::Gone;
                        }
                    }
                    Some(Outbound::Close(code, why)) => {
                        let reason = CloseReason { code: CloseCode::Other(code), description: Some(why.into()) };
                        let _ = ws.clone().close(Some(reason)).await;
                        break if code == CLOSE_REPLACED || code == 1000 { Exit::Silent } else { Exit::Dropped };
                    }
                    None => {
                        // The hub let go of our queue: we were too slow and have been announced as gone.
                        let reason = CloseReason { code: CloseCode::Policy, description: Some("too slow".into()) };
                        let _ = ws.clone().close(Some(reason)).await;
                        break Exit::Dropped;
                    }
                },
                _ = heartbeat.tick() => {
                    if last_heard.elapsed() > timeout {
                        tracing::info!("no pong within the timeout; closing");
                        let _ = ws.clone().close(Some(CloseReason { code: CloseCode::Away, description: Some("timeout".into()) })).await;
                        break Exit::Dropped;
                    }
                    if ws.ping(b"").await.is_err() {
                        break Exit::Gone;
                    }
                }
            }
        };

        if !matches!(exit, Exit::Silent) {
            // Record first, then announce: the timeline never misses what others were told.
            let left = serde_json::json!({});
            if let Err(e) = state.store.add_event(conn.session_id, "left", &conn.participant.id, &left).await {
                tracing::error!(error = %e, "cannot record the leave");
            }
            hub.leave(conn.session_id, conn_id);
        }
        tracing::info!("left");
    }
    .instrument(span)
    .await
}

async fn handle_text(state: &AppState, conn: &Connection, conn_id: u64, text: &str) {
    let hub = &state.hub;
    let message = match ClientMessage::parse(text) {
        Ok(m) => m,
        Err(e) => {
            hub.error(conn.session_id, conn_id, "malformed_message", &e.0);
            return;
        }
    };
    match message {
        ClientMessage::Signal { to, data } => match hub.signal(conn.session_id, conn_id, &to, data)
        {
            Ok(()) => {}
            Err(HubError::UnknownParticipant) => hub.error(
                conn.session_id,
                conn_id,
                "unknown_participant",
                &format!("no participant '{to}' in this session"),
            ),
            Err(HubError::NotInSession) => {}
        },
        ClientMessage::Chat { text } => {
            let trimmed = text.trim();
            let chars = trimmed.chars().count();
            if chars == 0 || chars > MAX_CHAT_CHARS {
                hub.error(
                    conn.session_id,
                    conn_id,
                    "chat_too_long",
                    &format!("a chat line holds 1 to {MAX_CHAT_CHARS} characters"),
                );
                return;
            }
            let data = serde_json::json!({"text": trimmed, "name": conn.participant.name});
            match state
                .store
                .add_event(conn.session_id, "chat", &conn.participant.id, &data)
                .await
            {
                Ok(event) => hub.chat(conn.session_id, &conn.participant, trimmed, event.at),
                Err(e) => {
                    tracing::error!(error = %e, "cannot record a chat line");
                    hub.error(
                        conn.session_id,
                        conn_id,
                        "store_unavailable",
                        "the line was not saved; send it again",
                    );
                }
            }
        }
    }
}
