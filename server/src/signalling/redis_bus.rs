//! The Redis side of the hub: membership and presence as keys, per-participant message logs for
//! resumes on another instance, and one pub/sub channel per session between instances.
//!
//! Commands go through a `ConnectionManager`, which reconnects by itself. The subscription is a
//! dedicated connection whose stream simply ends when Redis goes away, so a task of our own
//! reconnects it and subscribes again to every session this instance still holds. Any failed
//! command marks Redis down; the hub then serves its own sockets alone, and a pinger marks it up
//! again (and re-registers this instance's members) within a second of Redis answering.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use tokio::sync::mpsc;

use super::keys;
use super::protocol::seq_of;

/// What instances say to each other on a session's channel (one line of header, then a body).
#[derive(Debug, PartialEq, Eq)]
pub enum Wire {
    /// Deliver `body` (an unnumbered message) to participant `pid`, wherever it is held.
    Deliver { pid: String, body: String },
    /// Close connection `conn` of `pid` on `instance` with `code` (0 for conn means any).
    Close {
        pid: String,
        instance: String,
        conn: u64,
        code: u16,
    },
    /// A participant's waiting-room state changed.
    State { pid: String, admitted: bool },
    /// The session ended: close every socket of it with `code`.
    End { code: u16 },
}

impl Wire {
    pub fn encode(&self) -> String {
        match self {
            Wire::Deliver { pid, body } => format!("D {pid}\n{body}"),
            Wire::Close {
                pid,
                instance,
                conn,
                code,
            } => format!("C {pid} {instance} {conn} {code}"),
            Wire::State { pid, admitted } => format!("S {pid} {}", u8::from(*admitted)),
            Wire::End { code } => format!("X {code}"),
        }
    }

    pub fn decode(text: &str) -> Option<Wire> {
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
                code: words.next()?.parse().ok()?,
            }),
            "S" => Some(Wire::State {
                pid: words.next()?.to_owned(),
                admitted: words.next()? == "1",
            }),
            "X" => Some(Wire::End {
                code: words.next()?.parse().ok()?,
            }),
            _ => None,
        }
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

/// Called for every message on a subscribed channel: (session id, decoded wire message).
pub type OnWire = Arc<dyn Fn(i64, Wire) + Send + Sync>;
/// Called when Redis answers again after an outage.
pub type OnRecover = Arc<dyn Fn() + Send + Sync>;

pub struct RedisBus {
    conn: ConnectionManager,
    prefix: String,
    healthy: Arc<AtomicBool>,
    sub_tx: mpsc::UnboundedSender<SubCommand>,
    log_tx: mpsc::Sender<(i64, String, String)>,
    cas_delete: redis::Script,
}

enum SubCommand {
    /// Subscribe, and say so once Redis has confirmed it.
    Subscribe(i64, Option<tokio::sync::oneshot::Sender<()>>),
    Unsubscribe(i64),
}

impl RedisBus {
    /// Connects (failing if Redis does not answer at start) and starts the subscriber, the log
    /// writer, the pinger and the instance heartbeat.
    pub async fn connect(
        url: &str,
        prefix: &str,
        instance: &str,
        on_wire: OnWire,
        on_recover: OnRecover,
        on_health: Arc<dyn Fn(bool) + Send + Sync>,
    ) -> anyhow::Result<RedisBus> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(1)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = client.get_connection_manager_with_config(config).await?;
        let healthy = Arc::new(AtomicBool::new(true));
        on_health(true);
        let subscribed = Arc::new(Mutex::new(HashSet::new()));
        let (sub_tx, sub_rx) = mpsc::unbounded_channel();
        let (log_tx, log_rx) = mpsc::channel(4096);
        let bus = RedisBus {
            conn: conn.clone(),
            prefix: prefix.to_owned(),
            healthy: healthy.clone(),
            sub_tx,
            log_tx,
            cas_delete: redis::Script::new(CAS_DELETE),
        };
        tokio::spawn(subscriber(
            client,
            prefix.to_owned(),
            subscribed,
            sub_rx,
            on_wire,
            healthy.clone(),
        ));
        tokio::spawn(log_writer(conn.clone(), prefix.to_owned(), log_rx));
        tokio::spawn(pinger(
            conn,
            prefix.to_owned(),
            instance.to_owned(),
            healthy,
            on_recover,
            on_health,
        ));
        Ok(bus)
    }

    pub fn is_healthy(&self) -> bool {
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

    pub async fn members(&self, session: i64) -> redis::RedisResult<Vec<super::room::Member>> {
        let mut c = self.conn.clone();
        let raw: Vec<(String, String)> =
            self.note(c.hgetall(keys::members(&self.prefix, session)).await)?;
        Ok(raw
            .into_iter()
            .filter_map(|(_, v)| serde_json::from_str(&v).ok())
            .collect())
    }

    pub async fn member(
        &self,
        session: i64,
        pid: &str,
    ) -> redis::RedisResult<Option<super::room::Member>> {
        let mut c = self.conn.clone();
        let raw: Option<String> =
            self.note(c.hget(keys::members(&self.prefix, session), pid).await)?;
        Ok(raw.and_then(|v| serde_json::from_str(&v).ok()))
    }

    pub async fn put_member(
        &self,
        session: i64,
        member: &super::room::Member,
    ) -> redis::RedisResult<()> {
        let key = keys::members(&self.prefix, session);
        let value = serde_json::to_string(member).unwrap_or_default();
        let mut c = self.conn.clone();
        self.note(
            redis::pipe()
                .hset(&key, &member.participant.id, value)
                .ignore()
                .expire(&key, keys::MEMBERS_TTL_SECONDS)
                .ignore()
                .query_async::<()>(&mut c)
                .await,
        )
    }

    /// Removes `pid` if it is still connection `conn` of `instance`. Returns whether it did.
    pub async fn remove_member(
        &self,
        session: i64,
        pid: &str,
        instance: &str,
        conn: u64,
    ) -> redis::RedisResult<bool> {
        let mut c = self.conn.clone();
        let removed: i64 = self.note(
            self.cas_delete
                .key(keys::members(&self.prefix, session))
                .arg(pid)
                .arg(instance)
                .arg(conn.to_string())
                .invoke_async(&mut c)
                .await,
        )?;
        Ok(removed == 1)
    }

    pub async fn delete_session(&self, session: i64) -> redis::RedisResult<()> {
        let mut c = self.conn.clone();
        self.note(c.del(keys::members(&self.prefix, session)).await)
    }

    pub async fn publish(&self, session: i64, wire: &Wire) -> redis::RedisResult<()> {
        let mut c = self.conn.clone();
        self.note(
            c.publish(keys::channel(&self.prefix, session), wire.encode())
                .await,
        )
    }

    /// Queues a numbered message for the participant's log; never waits (a full queue drops it,
    /// which at worst turns a resume elsewhere into a fresh join).
    pub fn append_log(&self, session: i64, pid: &str, numbered: &str) {
        let _ = self
            .log_tx
            .try_send((session, pid.to_owned(), numbered.to_owned()));
    }

    /// The logged messages numbered after `after`, if the log still holds every one of them.
    pub async fn replay(
        &self,
        session: i64,
        pid: &str,
        after: u64,
    ) -> redis::RedisResult<Option<Vec<String>>> {
        let mut c = self.conn.clone();
        let all: Vec<String> =
            self.note(c.lrange(keys::log(&self.prefix, session, pid), 0, -1).await)?;
        Ok(contiguous_after(all, after))
    }

    pub async fn last_seq(&self, session: i64, pid: &str) -> redis::RedisResult<u64> {
        let mut c = self.conn.clone();
        let last: Option<String> =
            self.note(c.lindex(keys::log(&self.prefix, session, pid), -1).await)?;
        Ok(last.as_deref().and_then(seq_of).unwrap_or(0))
    }

    pub async fn instance_alive(&self, instance: &str) -> redis::RedisResult<bool> {
        let mut c = self.conn.clone();
        self.note(c.exists(keys::instance(&self.prefix, instance)).await)
    }

    pub fn subscribe(&self, session: i64) {
        let _ = self.sub_tx.send(SubCommand::Subscribe(session, None));
    }

    /// Subscribes to a session's channel and returns once Redis has confirmed it (or after a
    /// second): a member announced by another instance right after this one joins must not be
    /// published before this instance listens. Returns whether it was confirmed.
    pub async fn subscribed(&self, session: i64) -> bool {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self
            .sub_tx
            .send(SubCommand::Subscribe(session, Some(tx)))
            .is_err()
        {
            return false;
        }
        matches!(
            tokio::time::timeout(Duration::from_secs(1), rx).await,
            Ok(Ok(()))
        )
    }

    /// Puts `member` in its session and reads every member, in one transaction: of two members
    /// joining at once, on any instances, the second always sees the first (issue 15 item 1).
    pub async fn join(
        &self,
        session: i64,
        member: &super::room::Member,
    ) -> redis::RedisResult<Vec<super::room::Member>> {
        let key = keys::members(&self.prefix, session);
        let value = serde_json::to_string(member).unwrap_or_default();
        let mut c = self.conn.clone();
        let (raw,): (Vec<(String, String)>,) = self.note(
            redis::pipe()
                .atomic()
                .hset(&key, &member.participant.id, value)
                .ignore()
                .expire(&key, keys::MEMBERS_TTL_SECONDS)
                .ignore()
                .hgetall(&key)
                .query_async(&mut c)
                .await,
        )?;
        Ok(raw
            .into_iter()
            .filter_map(|(_, v)| serde_json::from_str(&v).ok())
            .collect())
    }

    pub fn unsubscribe(&self, session: i64) {
        let _ = self.sub_tx.send(SubCommand::Unsubscribe(session));
    }
}

/// The messages after `after`, if they run on from it without a gap.
pub fn contiguous_after(all: Vec<String>, after: u64) -> Option<Vec<String>> {
    let newer: Vec<String> = all
        .into_iter()
        .filter(|m| seq_of(m).is_some_and(|s| s > after))
        .collect();
    let gapless = (after + 1..)
        .zip(newer.iter())
        .all(|(expected, m)| seq_of(m) == Some(expected));
    gapless.then_some(newer)
}

async fn subscriber(
    client: redis::Client,
    prefix: String,
    subscribed: Arc<Mutex<HashSet<i64>>>,
    mut commands: mpsc::UnboundedReceiver<SubCommand>,
    on_wire: OnWire,
    healthy: Arc<AtomicBool>,
) {
    loop {
        let pubsub = match client.get_async_pubsub().await {
            Ok(p) => p,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(250)).await;
                continue;
            }
        };
        let (mut sink, mut stream) = pubsub.split();
        let wanted: Vec<i64> = subscribed
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
                message = stream.next() => {
                    let Some(message) = message else { break };
                    let channel = message.get_channel_name().to_owned();
                    let Some(session) = keys::session_of_channel(&prefix, &channel) else { continue };
                    let payload: String = match message.get_payload() { Ok(p) => p, Err(_) => continue };
                    if let Some(wire) = Wire::decode(&payload) {
                        on_wire(session, wire);
                    }
                }
                command = commands.recv() => {
                    let Some(command) = command else { return };
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
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn log_writer(
    mut conn: ConnectionManager,
    prefix: String,
    mut rx: mpsc::Receiver<(i64, String, String)>,
) {
    while let Some((session, pid, message)) = rx.recv().await {
        let key = keys::log(&prefix, session, &pid);
        let _ = redis::pipe()
            .rpush(&key, message)
            .ignore()
            .ltrim(&key, -keys::LOG_CAP, -1)
            .ignore()
            .expire(&key, keys::LOG_TTL_SECONDS)
            .ignore()
            .query_async::<()>(&mut conn)
            .await;
    }
}

/// Pings every half second: marks Redis up or down, keeps this instance's liveness key, and on
/// recovery asks the hub to register its members again (a restarted Redis has forgotten them).
async fn pinger(
    mut conn: ConnectionManager,
    prefix: String,
    instance: String,
    healthy: Arc<AtomicBool>,
    on_recover: OnRecover,
    on_health: Arc<dyn Fn(bool) + Send + Sync>,
) {
    let key = keys::instance(&prefix, &instance);
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut beats = 0u32;
    let mut was_up = true;
    loop {
        tick.tick().await;
        let alive: redis::RedisResult<()> = if beats % 6 == 0 || !was_up {
            conn.set_ex(&key, "1", keys::INSTANCE_TTL_SECONDS).await
        } else {
            redis::cmd("PING").query_async(&mut conn).await
        };
        beats = beats.wrapping_add(1);
        let up = alive.is_ok();
        if up && (!was_up || !healthy.load(Ordering::Relaxed)) {
            healthy.store(true, Ordering::Relaxed);
            tracing::info!("Redis answers again");
            on_recover();
        } else if !up {
            healthy.store(false, Ordering::Relaxed);
        }
        if up != was_up {
            on_health(up);
        }
        was_up = up;
    }
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
                code: 4000,
            },
            Wire::State {
                pid: "petitioner".into(),
                admitted: true,
            },
            Wire::End { code: 1000 },
        ] {
            assert_eq!(Wire::decode(&w.encode()), Some(w));
        }
        assert_eq!(Wire::decode("Q nonsense"), None);
    }

    #[test]
    fn replay_needs_every_message() {
        let log: Vec<String> = (1..=5)
            .map(|s| format!("{{\"seq\":{s},\"type\":\"x\"}}"))
            .collect();
        assert_eq!(contiguous_after(log.clone(), 3).unwrap().len(), 2);
        assert_eq!(contiguous_after(log.clone(), 5).unwrap().len(), 0);
        assert_eq!(
            contiguous_after(log[2..].to_vec(), 0),
            None,
            "1 and 2 are gone"
        );
    }
}
