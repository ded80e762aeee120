//! The Redis bus (`bus.rs` says what a bus is): membership and presence as keys, per-participant
//! message logs for resumes on another instance, and one pub/sub channel per session between
//! instances.
//!
//! Commands go through a `ConnectionManager`, which reconnects by itself. The subscription is a
//! dedicated connection whose stream simply ends when Redis goes away, so a loop of our own
//! reconnects it and subscribes again to every session this instance still holds. Any failed
//! command marks Redis down; the bus then answers as the local one does (no view, nothing
//! delivered) and the hub serves its own sockets alone, until a pinger marks it up again (and has
//! the hub re-register this instance's members) within a second of Redis answering.
//!
//! Its three loops (subscriber, log writer, pinger) run under the supervisor (`tasks.rs`), each
//! by name, and end at shutdown; the log writer first writes what is queued.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::future::{BoxFuture, FutureExt};
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use tokio::sync::mpsc;

use super::bus::{Bus, Inbound, Wire, contiguous_after, instance_id};
use super::keys;
use super::protocol::{Closing, seq_of};
use super::room::Member;
use crate::domain::SessionId;
use crate::metrics::Metrics;
use crate::tasks::{Stop, Tasks};

/// A `Wire` on a session's channel: one line of header, then a body.
fn encode(wire: &Wire) -> String {
    match wire {
        Wire::Deliver { pid, body } => format!("D {pid}\n{body}"),
        Wire::Close {
            pid,
            instance,
            conn,
            closing,
        } => format!("C {pid} {instance} {conn} {}", closing.code()),
        Wire::State { pid, admitted } => format!("S {pid} {}", u8::from(*admitted)),
        // The code is the session's end (1000), as instances of earlier versions expect.
        Wire::End => format!("X {}", Closing::SessionEnded.code()),
    }
}

fn decode(text: &str) -> Option<Wire> {
    let (head, body) = text.split_once('\n').unwrap_or((text, ""));
    let mut words = head.split(' ');
    match words.next()? {
        "D" => Some(Wire::Deliver {
            pid: words.next()?.to_owned(),
            body: body.to_owned(),
        }),
        "C" => Some(Wire::Close {
            pid: words.next()?.to_owned(),
            instance: words.next()?.to_owned(),
            conn: words.next()?.parse().ok()?,
            // What one instance asks another to close for.
            closing: match words.next()?.parse::<u16>().ok()? {
                4000 => Closing::Replaced,
                4001 => Closing::Removed,
                _ => return None,
            },
        }),
        "S" => Some(Wire::State {
            pid: words.next()?.to_owned(),
            admitted: words.next()? == "1",
        }),
        "X" => Some(Wire::End),
        _ => None,
    }
}

/// Deletes a member only if it is still the same connection: a newer one on another instance
/// must not be removed by an old one's leave.
const CAS_DELETE: &str = r#"
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
local m = cjson.decode(v)
if m.instance == ARGV[2] and tostring(m.conn) == ARGV[3] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 1
end
return 0
"#;

/// The hub, once `serve` has been called.
type HubSlot = Arc<OnceLock<Weak<dyn Inbound>>>;

fn hub_of(slot: &HubSlot) -> Option<Arc<dyn Inbound>> {
    slot.get().and_then(Weak::upgrade)
}

pub struct RedisBus {
    instance: String,
    conn: ConnectionManager,
    prefix: String,
    healthy: Arc<AtomicBool>,
    hub: HubSlot,
    sub_tx: mpsc::UnboundedSender<SubCommand>,
    log_tx: mpsc::Sender<LogEntry>,
    cas_delete: redis::Script,
}

enum SubCommand {
    /// Subscribe, and say so once Redis has confirmed it.
    Subscribe(SessionId, Option<tokio::sync::oneshot::Sender<()>>),
    Unsubscribe(SessionId),
}

/// A numbered message for a participant's log: (session, participant, message).
type LogEntry = (SessionId, String, String);

/// A loop's receiving end, taken again by the loop the supervisor restarts after a panic.
type Shared<T> = Arc<tokio::sync::Mutex<T>>;

impl RedisBus {
    /// Connects (failing if Redis does not answer at start) and starts the subscriber, the log
    /// writer and the pinger (which keeps this instance's liveness key) under `tasks`.
    pub async fn connect(
        url: &str,
        prefix: &str,
        metrics: Arc<Metrics>,
        tasks: &Tasks,
    ) -> anyhow::Result<RedisBus> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(1)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = client.get_connection_manager_with_config(config).await?;
        let instance = instance_id();
        let healthy = Arc::new(AtomicBool::new(true));
        metrics.redis_up.set(1);
        let hub: HubSlot = Arc::new(OnceLock::new());
        let subscribed = Arc::new(Mutex::new(HashSet::new()));
        let (sub_tx, sub_rx) = mpsc::unbounded_channel();
        let (log_tx, log_rx) = mpsc::channel(4096);
        let bus = RedisBus {
            instance: instance.clone(),
            conn: conn.clone(),
            prefix: prefix.to_owned(),
            healthy: healthy.clone(),
            hub: hub.clone(),
            sub_tx,
            log_tx,
            cas_delete: redis::Script::new(CAS_DELETE),
        };
        let sub_rx: Shared<_> = Arc::new(tokio::sync::Mutex::new(sub_rx));
        let (sub_prefix, sub_hub, sub_healthy) = (prefix.to_owned(), hub.clone(), healthy.clone());
        tasks.spawn_loop("redis subscriber", move |stop| {
            subscriber(
                stop,
                client.clone(),
                sub_prefix.clone(),
                subscribed.clone(),
                sub_rx.clone(),
                sub_hub.clone(),
                sub_healthy.clone(),
            )
        });
        let log_rx: Shared<_> = Arc::new(tokio::sync::Mutex::new(log_rx));
        let (log_conn, log_prefix) = (conn.clone(), prefix.to_owned());
        tasks.spawn_loop("redis log writer", move |stop| {
            log_writer(stop, log_conn.clone(), log_prefix.clone(), log_rx.clone())
        });
        let key = keys::instance(prefix, &instance);
        tasks.spawn_loop("redis pinger", move |stop| {
            pinger(
                stop,
                conn.clone(),
                key.clone(),
                healthy.clone(),
                hub.clone(),
                metrics.clone(),
            )
        });
        Ok(bus)
    }

    fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    fn note<T>(&self, result: redis::RedisResult<T>) -> redis::RedisResult<T> {
        if let Err(e) = &result {
            if self.healthy.swap(false, Ordering::Relaxed) {
                tracing::warn!(error = %e, "Redis is not answering; serving this instance's sockets alone");
            }
        }
        result
    }

    async fn read_members(&self, session: SessionId) -> redis::RedisResult<Vec<Member>> {
        let mut c = self.conn.clone();
        let raw: Vec<(String, String)> =
            self.note(c.hgetall(keys::members(&self.prefix, session)).await)?;
        Ok(parse_members(raw))
    }

    async fn publish_wire(&self, session: SessionId, wire: &Wire) -> redis::RedisResult<()> {
        let mut c = self.conn.clone();
        self.note(
            c.publish(keys::channel(&self.prefix, session), encode(wire))
                .await,
        )
    }

    /// Subscribes to a session's channel and returns once Redis has confirmed it (or after a
    /// second): a member announced by another instance right after this one joins must not be
    /// published before this instance listens.
    async fn subscribed(&self, session: SessionId) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self
            .sub_tx
            .send(SubCommand::Subscribe(session, Some(tx)))
            .is_err()
        {
            return;
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), rx).await;
    }
}

fn parse_members(raw: Vec<(String, String)>) -> Vec<Member> {
    raw.into_iter()
        .filter_map(|(_, v)| serde_json::from_str(&v).ok())
        .collect()
}

impl Bus for RedisBus {
    fn instance(&self) -> &str {
        &self.instance
    }

    fn serve(&self, hub: Weak<dyn Inbound>) {
        let _ = self.hub.set(hub);
    }

    fn listen(&self, session: SessionId) -> BoxFuture<'_, ()> {
        async move {
            if self.is_healthy() {
                self.subscribed(session).await;
            }
        }
        .boxed()
    }

    fn subscribe(&self, session: SessionId) {
        let _ = self.sub_tx.send(SubCommand::Subscribe(session, None));
    }

    fn unsubscribe(&self, session: SessionId) {
        let _ = self.sub_tx.send(SubCommand::Unsubscribe(session));
    }

    fn members(&self, session: SessionId) -> BoxFuture<'_, Option<Vec<Member>>> {
        async move {
            if !self.is_healthy() {
                return None;
            }
            self.read_members(session).await.ok()
        }
        .boxed()
    }

    fn member<'a>(&'a self, session: SessionId, pid: &'a str) -> BoxFuture<'a, Option<Member>> {
        async move {
            if !self.is_healthy() {
                return None;
            }
            let mut c = self.conn.clone();
            let raw: redis::RedisResult<Option<String>> =
                self.note(c.hget(keys::members(&self.prefix, session), pid).await);
            raw.ok()
                .flatten()
                .and_then(|v| serde_json::from_str(&v).ok())
        }
        .boxed()
    }

    fn join<'a>(
        &'a self,
        session: SessionId,
        member: &'a Member,
    ) -> BoxFuture<'a, Option<Vec<Member>>> {
        async move {
            let key = keys::members(&self.prefix, session);
            let value = serde_json::to_string(member).unwrap_or_default();
            let mut c = self.conn.clone();
            let (raw,): (Vec<(String, String)>,) = self
                .note(
                    redis::pipe()
                        .atomic()
                        .hset(&key, &member.participant.id, value)
                        .ignore()
                        .expire(&key, keys::MEMBERS_TTL_SECONDS)
                        .ignore()
                        .hgetall(&key)
                        .query_async(&mut c)
                        .await,
                )
                .ok()?;
            Some(parse_members(raw))
        }
        .boxed()
    }

    fn put_member<'a>(&'a self, session: SessionId, member: &'a Member) -> BoxFuture<'a, ()> {
        async move {
            let key = keys::members(&self.prefix, session);
            let value = serde_json::to_string(member).unwrap_or_default();
            let mut c = self.conn.clone();
            let _ = self.note(
                redis::pipe()
                    .hset(&key, &member.participant.id, value)
                    .ignore()
                    .expire(&key, keys::MEMBERS_TTL_SECONDS)
                    .ignore()
                    .query_async::<()>(&mut c)
                    .await,
            );
        }
        .boxed()
    }

    fn remove_member<'a>(
        &'a self,
        session: SessionId,
        member: &'a Member,
    ) -> BoxFuture<'a, Option<bool>> {
        async move {
            let mut c = self.conn.clone();
            let removed: i64 = self
                .note(
                    self.cas_delete
                        .key(keys::members(&self.prefix, session))
                        .arg(&member.participant.id)
                        .arg(&member.instance)
                        .arg(member.conn.to_string())
                        .invoke_async(&mut c)
                        .await,
                )
                .ok()?;
            Some(removed == 1)
        }
        .boxed()
    }

    fn delete_session(&self, session: SessionId) -> BoxFuture<'_, ()> {
        async move {
            let mut c = self.conn.clone();
            let _: redis::RedisResult<()> =
                self.note(c.del(keys::members(&self.prefix, session)).await);
        }
        .boxed()
    }

    fn instance_alive<'a>(&'a self, instance: &'a str) -> BoxFuture<'a, bool> {
        async move {
            let mut c = self.conn.clone();
            self.note(c.exists(keys::instance(&self.prefix, instance)).await)
                .unwrap_or(true)
        }
        .boxed()
    }

    fn deliver<'a>(
        &'a self,
        session: SessionId,
        pid: &'a str,
        body: &'a str,
    ) -> BoxFuture<'a, bool> {
        async move {
            if !self.is_healthy() {
                return false;
            }
            let wire = Wire::Deliver {
                pid: pid.to_owned(),
                body: body.to_owned(),
            };
            self.publish_wire(session, &wire).await.is_ok()
        }
        .boxed()
    }

    fn publish(&self, session: SessionId, wire: Wire) -> BoxFuture<'_, ()> {
        async move {
            let _ = self.publish_wire(session, &wire).await;
        }
        .boxed()
    }

    /// Queues the message for the log writer; a full queue drops it, which at worst turns a
    /// resume elsewhere into a fresh join.
    fn append_log(&self, session: SessionId, pid: &str, numbered: &str) {
        let _ = self
            .log_tx
            .try_send((session, pid.to_owned(), numbered.to_owned()));
    }

    fn last_seq<'a>(&'a self, session: SessionId, pid: &'a str) -> BoxFuture<'a, u64> {
        async move {
            let mut c = self.conn.clone();
            let last: redis::RedisResult<Option<String>> =
                self.note(c.lindex(keys::log(&self.prefix, session, pid), -1).await);
            last.ok().flatten().as_deref().and_then(seq_of).unwrap_or(0)
        }
        .boxed()
    }

    fn replay<'a>(
        &'a self,
        session: SessionId,
        pid: &'a str,
        after: u64,
    ) -> BoxFuture<'a, Option<Vec<String>>> {
        async move {
            let mut c = self.conn.clone();
            let all: Vec<String> = self
                .note(c.lrange(keys::log(&self.prefix, session, pid), 0, -1).await)
                .ok()?;
            contiguous_after(all, after)
        }
        .boxed()
    }
}

/// Waits `pause`; `false` when shutdown began instead.
async fn pause(stop: &mut Stop, pause: Duration) -> bool {
    tokio::select! {
        _ = stop.stopped() => false,
        _ = tokio::time::sleep(pause) => true,
    }
}

async fn subscriber(
    mut stop: Stop,
    client: redis::Client,
    prefix: String,
    subscribed: Arc<Mutex<HashSet<SessionId>>>,
    commands: Shared<mpsc::UnboundedReceiver<SubCommand>>,
    hub: HubSlot,
    healthy: Arc<AtomicBool>,
) -> anyhow::Result<()> {
    let mut commands = commands.lock().await;
    loop {
        let pubsub = tokio::select! {
            _ = stop.stopped() => return Ok(()),
            pubsub = client.get_async_pubsub() => pubsub,
        };
        let pubsub = match pubsub {
            Ok(p) => p,
            Err(_) => {
                if !pause(&mut stop, Duration::from_millis(250)).await {
                    return Ok(());
                }
                continue;
            }
        };
        let (mut sink, mut stream) = pubsub.split();
        let wanted: Vec<SessionId> = subscribed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .copied()
            .collect();
        let mut ok = true;
        for session in wanted {
            ok &= sink
                .subscribe(keys::channel(&prefix, session))
                .await
                .is_ok();
        }
        if !ok {
            continue;
        }
        loop {
            tokio::select! {
                _ = stop.stopped() => return Ok(()),
                message = stream.next() => {
                    let Some(message) = message else { break };
                    let channel = message.get_channel_name().to_owned();
                    let Some(session) = keys::session_of_channel(&prefix, &channel) else { continue };
                    let payload: String = match message.get_payload() { Ok(p) => p, Err(_) => continue };
                    if let (Some(wire), Some(hub)) = (decode(&payload), hub_of(&hub)) {
                        hub.on_wire(session, wire);
                    }
                }
                command = commands.recv() => {
                    // The bus is gone: nobody will ask for anything again.
                    let Some(command) = command else { return Ok(()) };
                    let result = match command {
                        SubCommand::Subscribe(s, confirm) => {
                            let fresh = subscribed.lock().unwrap_or_else(|p| p.into_inner()).insert(s);
                            let result = if fresh {
                                sink.subscribe(keys::channel(&prefix, s)).await
                            } else {
                                Ok(())
                            };
                            if let (Ok(()), Some(confirm)) = (&result, confirm) {
                                let _ = confirm.send(());
                            }
                            result
                        }
                        SubCommand::Unsubscribe(s) => {
                            subscribed.lock().unwrap_or_else(|p| p.into_inner()).remove(&s);
                            sink.unsubscribe(keys::channel(&prefix, s)).await
                        }
                    };
                    if result.is_err() {
                        break;
                    }
                }
            }
        }
        healthy.store(false, Ordering::Relaxed);
        tracing::warn!("Redis subscription lost; reconnecting");
        if !pause(&mut stop, Duration::from_millis(250)).await {
            return Ok(());
        }
    }
}

async fn write_log(
    conn: &mut ConnectionManager,
    prefix: &str,
    (session, pid, message): LogEntry,
) -> redis::RedisResult<()> {
    let key = keys::log(prefix, session, &pid);
    redis::pipe()
        .rpush(&key, message)
        .ignore()
        .ltrim(&key, -keys::LOG_CAP, -1)
        .ignore()
        .expire(&key, keys::LOG_TTL_SECONDS)
        .ignore()
        .query_async::<()>(conn)
        .await
}

async fn log_writer(
    mut stop: Stop,
    mut conn: ConnectionManager,
    prefix: String,
    rx: Shared<mpsc::Receiver<LogEntry>>,
) -> anyhow::Result<()> {
    let mut rx = rx.lock().await;
    loop {
        let next = tokio::select! {
            _ = stop.stopped() => break,
            next = rx.recv() => next,
        };
        // None: the bus is gone, and with it whatever could be queued.
        let Some(entry) = next else { return Ok(()) };
        let _ = write_log(&mut conn, &prefix, entry).await;
    }
    // Stopping: the drain has just logged each socket's `reconnect`, and the instance its
    // participants move to resumes them from this log, so write what is queued, unless Redis
    // has stopped answering.
    while let Ok(entry) = rx.try_recv() {
        if write_log(&mut conn, &prefix, entry).await.is_err() {
            break;
        }
    }
    Ok(())
}

/// Pings every half second: marks Redis up or down, keeps this instance's liveness key, and on
/// recovery has the hub register its members again (a restarted Redis has forgotten them).
async fn pinger(
    mut stop: Stop,
    mut conn: ConnectionManager,
    key: String,
    healthy: Arc<AtomicBool>,
    hub: HubSlot,
    metrics: Arc<Metrics>,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut beats = 0u32;
    let mut was_up = true;
    while stop.tick(&mut tick).await {
        let alive: redis::RedisResult<()> = if beats % 6 == 0 || !was_up {
            conn.set_ex(&key, "1", keys::INSTANCE_TTL_SECONDS).await
        } else {
            redis::cmd("PING").query_async(&mut conn).await
        };
        beats = beats.wrapping_add(1);
        let up = alive.is_ok();
        let recovered = up && (!was_up || !healthy.load(Ordering::Relaxed));
        if recovered {
            healthy.store(true, Ordering::Relaxed);
            tracing::info!("Redis answers again");
        } else if !up {
            healthy.store(false, Ordering::Relaxed);
        }
        if up != was_up {
            metrics.redis_up.set(i64::from(up));
        }
        was_up = up;
        if recovered {
            // Within this round, so that the re-registration is supervised with the pinger and
            // shutdown waits for it; the next ping waits for it too.
            if let Some(hub) = hub_of(&hub) {
                hub.recovered().await;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_round_trips() {
        for w in [
            Wire::Deliver {
                pid: "user-1".into(),
                body: "\"type\":\"x\"}\nwith newline".into(),
            },
            Wire::Close {
                pid: "petitioner".into(),
                instance: "ab12".into(),
                conn: 7,
                closing: Closing::Replaced,
            },
            Wire::Close {
                pid: "user-4".into(),
                instance: String::new(),
                conn: 0,
                closing: Closing::Removed,
            },
            Wire::State {
                pid: "petitioner".into(),
                admitted: true,
            },
            Wire::End,
        ] {
            assert_eq!(decode(&encode(&w)), Some(w));
        }
        assert_eq!(decode("Q nonsense"), None);
    }

    /// The Redis at 127.0.0.1:6379, as the integration tests find it: absent, the test is
    /// skipped loudly, or fails when `COURTLINK_REQUIRE_SERVICES` is set.
    fn local_redis() -> Option<String> {
        match std::net::TcpStream::connect("127.0.0.1:6379") {
            Ok(_) => Some("redis://127.0.0.1:6379/".into()),
            Err(e) => {
                assert!(
                    std::env::var("COURTLINK_REQUIRE_SERVICES").is_err(),
                    "Redis is required but 127.0.0.1:6379 does not answer: {e}"
                );
                eprintln!("\n*** SKIPPED: Redis at 127.0.0.1:6379 does not answer ({e}) ***\n");
                None
            }
        }
    }

    /// The bus's loops run under the supervisor by name, and a shutdown ends them in time; the
    /// log writer writes what was queued before it returns (a drained socket resumes from it).
    #[tokio::test]
    async fn its_loops_are_named_and_end_at_shutdown_after_writing_the_log() {
        let Some(url) = local_redis() else { return };
        let tasks = Tasks::new();
        let metrics = Arc::new(Metrics::default());
        let prefix = format!("courtlink-lib-test-{}:", instance_id());
        let bus = RedisBus::connect(&url, &prefix, metrics.clone(), &tasks)
            .await
            .unwrap();
        let mut running = tasks.running();
        running.sort_unstable();
        assert_eq!(
            running,
            ["redis log writer", "redis pinger", "redis subscriber"]
        );
        assert_eq!(metrics.redis_up.get(), 1);
        for seq in 1..=3 {
            bus.append_log(
                SessionId(7),
                "petitioner",
                &format!("{{\"seq\":{seq},\"type\":\"x\"}}"),
            );
        }
        let late = tasks.shutdown(Duration::from_secs(5)).await;
        assert!(late.is_empty(), "{late:?}");
        assert!(tasks.running().is_empty());
        assert_eq!(bus.last_seq(SessionId(7), "petitioner").await, 3);
        assert_eq!(
            bus.replay(SessionId(7), "petitioner", 1)
                .await
                .map(|m| m.len()),
            Some(2)
        );
    }
}
