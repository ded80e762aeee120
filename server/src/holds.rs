//! Short holds on slots: a coordinator who picks a slot holds it for a few minutes while they
//! fill in the booking, so that two coordinators do not race for it unknowingly. In Redis
//! (`SET NX PX`) when Redis is configured, so every instance sees the same holds; in-process
//! otherwise. A hold is advisory: the database decides who books the slot, and when Redis is
//! away holds are skipped rather than blocking anyone.
//!
//! Holds are capped per user and per host court (`scheduling.hold_cap_per_user`,
//! `scheduling.hold_cap_per_court`), so that one coordinator cannot take a whole court's slots
//! off the list: a new hold past either cap is refused; renewing one's own hold never is.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;

use crate::domain::{SlotId, UserId};
use crate::signalling::keys;

pub enum Holds {
    /// slot → (holder, host court, until).
    Local(Mutex<HashMap<SlotId, (UserId, i64, Instant)>>),
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
    /// The caller already holds this many slots: the per-user cap.
    UserCapReached(u32),
    /// The host court's slots already carry this many holds: the per-court cap.
    CourtCapReached(u32),
    /// Redis did not answer: no hold, and nobody is blocked.
    Unavailable,
}

/// How many holds one user, and one host court's slots, may carry at once.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    pub per_user: u32,
    pub per_court: u32,
}

/// Holds `KEYS[1]` (slot `ARGV[3]`) for user `ARGV[1]` for `ARGV[2]` ms unless someone else
/// holds it (0), or a new hold would pass the user's cap `ARGV[4]` (-1) or the court's cap
/// `ARGV[5]` (-2); 1 held. `KEYS[2]` and `KEYS[3]` are the sets of slots the user and the court
/// hold; members whose slot key has gone (expired or released) are pruned before counting, so
/// a release needs to know nothing but the slot.
const PLACE: &str = "local cur = redis.call('GET', KEYS[1]) \
    if cur and cur ~= ARGV[1] then return 0 end \
    if not cur then \
      local function live(set, holder) \
        local n = 0 \
        for _, slot in ipairs(redis.call('SMEMBERS', set)) do \
          local h = redis.call('GET', ARGV[6] .. slot) \
          if h and (holder == nil or h == holder) then n = n + 1 else redis.call('SREM', set, slot) end \
        end \
        return n \
      end \
      if live(KEYS[2], ARGV[1]) >= tonumber(ARGV[4]) then return -1 end \
      if live(KEYS[3], nil) >= tonumber(ARGV[5]) then return -2 end \
    end \
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) \
    redis.call('SADD', KEYS[2], ARGV[3]) redis.call('SADD', KEYS[3], ARGV[3]) \
    redis.call('PEXPIRE', KEYS[2], ARGV[2]) redis.call('PEXPIRE', KEYS[3], ARGV[2]) \
    return 1";

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

    /// Holds `slot` (of host court `court`) for `user` for `ttl`, unless someone else holds it
    /// or a new hold would pass a cap.
    pub async fn place(
        &self,
        slot: SlotId,
        court: i64,
        user: UserId,
        ttl: Duration,
        caps: Caps,
    ) -> Placed {
        match self {
            Holds::Local(map) => {
                let Ok(mut map) = map.lock() else {
                    return Placed::Unavailable;
                };
                let now = Instant::now();
                map.retain(|_, (_, _, until)| *until > now);
                match map.get(&slot) {
                    Some((holder, _, _)) if *holder != user => return Placed::HeldByOther,
                    Some(_) => {}
                    None => {
                        let count = |f: &dyn Fn(&(UserId, i64, Instant)) -> bool| {
                            map.values().filter(|h| f(h)).count()
                        };
                        if count(&|h| h.0 == user) >= caps.per_user as usize {
                            return Placed::UserCapReached(caps.per_user);
                        }
                        if count(&|h| h.1 == court) >= caps.per_court as usize {
                            return Placed::CourtCapReached(caps.per_court);
                        }
                    }
                }
                map.insert(slot, (user, court, now + ttl));
                Placed::Held
            }
            Holds::Redis { conn, prefix } => {
                let mut conn = conn.clone();
                let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
                // One script, atomic in Redis: the caps counted and the hold placed (or our own
                // renewed) in one step, so concurrent holds cannot all pass a cap.
                let placed: redis::RedisResult<i64> = redis::Script::new(PLACE)
                    .key(keys::slot_hold(prefix, slot))
                    .key(keys::user_holds(prefix, user.get()))
                    .key(keys::court_holds(prefix, court))
                    .arg(user.get())
                    .arg(ms)
                    .arg(slot.get())
                    .arg(caps.per_user)
                    .arg(caps.per_court)
                    .arg(keys::slot_hold(prefix, SlotId(0)).trim_end_matches('0'))
                    .invoke_async(&mut conn)
                    .await;
                match placed {
                    Ok(1) => Placed::Held,
                    Ok(-1) => Placed::UserCapReached(caps.per_user),
                    Ok(-2) => Placed::CourtCapReached(caps.per_court),
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
    pub async fn holder(&self, slot: SlotId) -> Option<UserId> {
        match self {
            Holds::Local(map) => {
                let map = map.lock().ok()?;
                map.get(&slot)
                    .filter(|(_, _, until)| *until > Instant::now())
                    .map(|(holder, _, _)| *holder)
            }
            Holds::Redis { conn, prefix } => {
                let mut conn = conn.clone();
                let got: redis::RedisResult<Option<i64>> = redis::cmd("GET")
                    .arg(keys::slot_hold(prefix, slot))
                    .query_async(&mut conn)
                    .await;
                got.ok().flatten().map(UserId)
            }
        }
    }

    /// Lets go of `slot` if `user` holds it.
    pub async fn release(&self, slot: SlotId, user: UserId) {
        match self {
            Holds::Local(map) => {
                if let Ok(mut map) = map.lock() {
                    if map.get(&slot).is_some_and(|(holder, _, _)| *holder == user) {
                        map.remove(&slot);
                    }
                }
            }
            Holds::Redis { conn, prefix } => {
                let mut conn = conn.clone();
                let done: redis::RedisResult<i64> = redis::Script::new(RELEASE)
                    .key(keys::slot_hold(prefix, slot))
                    .arg(user.get())
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

    const CAPS: Caps = Caps {
        per_user: 10,
        per_court: 10,
    };

    #[tokio::test]
    async fn a_local_hold_is_capped_per_user_and_per_court() {
        let holds = Holds::local();
        let caps = Caps {
            per_user: 2,
            per_court: 3,
        };
        let ttl = Duration::from_secs(60);
        assert_eq!(
            holds.place(SlotId(1), 9, UserId(1), ttl, caps).await,
            Placed::Held
        );
        assert_eq!(
            holds.place(SlotId(2), 9, UserId(1), ttl, caps).await,
            Placed::Held
        );
        assert_eq!(
            holds.place(SlotId(3), 9, UserId(1), ttl, caps).await,
            Placed::UserCapReached(2)
        );
        // Renewing one's own hold is never refused.
        assert_eq!(
            holds.place(SlotId(2), 9, UserId(1), ttl, caps).await,
            Placed::Held
        );
        assert_eq!(
            holds.place(SlotId(3), 9, UserId(2), ttl, caps).await,
            Placed::Held
        );
        assert_eq!(
            holds.place(SlotId(4), 9, UserId(3), ttl, caps).await,
            Placed::CourtCapReached(3)
        );
        assert_eq!(
            holds.place(SlotId(4), 8, UserId(3), ttl, caps).await,
            Placed::Held
        );
        holds.release(SlotId(1), UserId(1)).await;
        assert_eq!(
            holds.place(SlotId(5), 9, UserId(1), ttl, caps).await,
            Placed::Held
        );
    }

    #[tokio::test]
    async fn a_local_hold_excludes_others_until_it_expires() {
        let holds = Holds::local();
        assert_eq!(
            holds
                .place(SlotId(7), 1, UserId(1), Duration::from_millis(80), CAPS)
                .await,
            Placed::Held
        );
        assert_eq!(
            holds
                .place(SlotId(7), 1, UserId(2), Duration::from_secs(60), CAPS)
                .await,
            Placed::HeldByOther
        );
        assert_eq!(
            holds
                .place(SlotId(7), 1, UserId(1), Duration::from_millis(80), CAPS)
                .await,
            Placed::Held
        );
        assert_eq!(holds.holder(SlotId(7)).await, Some(UserId(1)));
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert_eq!(holds.holder(SlotId(7)).await, None);
        assert_eq!(
            holds
                .place(SlotId(7), 1, UserId(2), Duration::from_secs(60), CAPS)
                .await,
            Placed::Held
        );
        holds.release(SlotId(7), UserId(1)).await;
        assert_eq!(holds.holder(SlotId(7)).await, Some(UserId(2)));
        holds.release(SlotId(7), UserId(2)).await;
        assert_eq!(holds.holder(SlotId(7)).await, None);
    }
}
