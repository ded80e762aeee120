//! Short holds on slots: a coordinator who picks a slot holds it for a few minutes while they
//! fill in the booking, so that two coordinators do not race for it unknowingly. In Redis
//! (`SET NX PX`) when Redis is configured, so every instance sees the same holds; in-process
//! otherwise. A hold is advisory: the database decides who books the slot, and when Redis is
//! away holds are skipped rather than blocking anyone.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;

use crate::signalling::keys;

pub enum Holds {
    Local(Mutex<HashMap<i64, (i64, Instant)>>),
    Redis {
        conn: ConnectionManager,
        prefix: String,
    },
}

/// What placing a hold found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placed {
    /// The caller holds the slot (newly, or again with a fresh expiry).
    Held,
    /// Someone else holds it.
    HeldByOther,
    /// Redis did not answer: no hold, and nobody is blocked.
    Unavailable,
}

/// Holds `KEYS[1]` for `ARGV[1]` for `ARGV[2]` ms unless someone else holds it: 1 held, 0 not.
const PLACE: &str = "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end \
    if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end \
    return 0";

/// Releases a hold only if the caller still holds it.
const RELEASE: &str =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

impl Holds {
    pub fn local() -> Holds {
        Holds::Local(Mutex::new(HashMap::new()))
    }

    pub async fn redis(url: &str, prefix: &str) -> anyhow::Result<Holds> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(1)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = client.get_connection_manager_with_config(config).await?;
        Ok(Holds::Redis {
            conn,
            prefix: prefix.to_owned(),
        })
    }

    /// Holds `slot` for `user` for `ttl`, unless someone else holds it.
    pub async fn place(&self, slot: i64, user: i64, ttl: Duration) -> Placed {
        match self {
            Holds::Local(map) => {
                let Ok(mut map) = map.lock() else {
                    return Placed::Unavailable;
                };
                let now = Instant::now();
                map.retain(|_, (_, until)| *until > now);
                match map.get(&slot) {
                    Some((holder, _)) if *holder != user => Placed::HeldByOther,
                    _ => {
                        map.insert(slot, (user, now + ttl));
                        Placed::Held
                    }
                }
            }
            Holds::Redis { conn, prefix } => {
                let key = keys::slot_hold(prefix, slot);
                let mut conn = conn.clone();
                let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
                // One script, atomic in Redis: SET NX, or renew the expiry if the hold is ours.
                let placed: redis::RedisResult<i64> = redis::Script::new(PLACE)
                    .key(&key)
                    .arg(user)
                    .arg(ms)
                    .invoke_async(&mut conn)
                    .await;
                match placed {
                    Ok(1) => Placed::Held,
                    Ok(_) => Placed::HeldByOther,
                    Err(e) => {
                        tracing::warn!(error = %e, "Redis did not answer; slot hold skipped");
                        Placed::Unavailable
                    }
                }
            }
        }
    }

    /// Who holds `slot` now, if anyone (and if Redis answers).
    pub async fn holder(&self, slot: i64) -> Option<i64> {
        match self {
            Holds::Local(map) => {
                let map = map.lock().ok()?;
                map.get(&slot)
                    .filter(|(_, until)| *until > Instant::now())
                    .map(|(holder, _)| *holder)
            }
            Holds::Redis { conn, prefix } => {
                let mut conn = conn.clone();
                let got: redis::RedisResult<Option<i64>> = redis::cmd("GET")
                    .arg(keys::slot_hold(prefix, slot))
                    .query_async(&mut conn)
                    .await;
                got.ok().flatten()
            }
        }
    }

    /// Lets go of `slot` if `user` holds it.
    pub async fn release(&self, slot: i64, user: i64) {
        match self {
            Holds::Local(map) => {
                if let Ok(mut map) = map.lock() {
                    if map.get(&slot).is_some_and(|(holder, _)| *holder == user) {
                        map.remove(&slot);
                    }
                }
            }
            Holds::Redis { conn, prefix } => {
                let mut conn = conn.clone();
                let done: redis::RedisResult<i64> = redis::Script::new(RELEASE)
                    .key(keys::slot_hold(prefix, slot))
                    .arg(user)
                    .invoke_async(&mut conn)
                    .await;
                if let Err(e) = done {
                    tracing::warn!(error = %e, "Redis did not answer; slot hold left to expire");
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_local_hold_excludes_others_until_it_expires() {
        let holds = Holds::local();
        assert_eq!(
            holds.place(7, 1, Duration::from_millis(80)).await,
            Placed::Held
        );
        assert_eq!(
            holds.place(7, 2, Duration::from_secs(60)).await,
            Placed::HeldByOther
        );
        assert_eq!(
            holds.place(7, 1, Duration::from_millis(80)).await,
            Placed::Held
        );
        assert_eq!(holds.holder(7).await, Some(1));
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert_eq!(holds.holder(7).await, None);
        assert_eq!(
            holds.place(7, 2, Duration::from_secs(60)).await,
            Placed::Held
        );
        holds.release(7, 1).await;
        assert_eq!(holds.holder(7).await, Some(2));
        holds.release(7, 2).await;
        assert_eq!(holds.holder(7).await, None);
    }
}
