//! The bus: what the hub needs from the other instances that serve the same sessions. One trait,
//! two implementations, chosen once at start-up (`startup.rs`) and handed to the hub, which
//! never asks which one it has:
//!
//! - [`LocalBus`]: one instance alone (no `redis.url`). There is nobody else: the members of a
//!   session are those the hub holds, a message for a participant not held here is lost, and
//!   there is no log of messages beyond the hub's own.
//! - `RedisBus` (`redis_bus.rs`): instances sharing one Redis. Membership and presence are keys,
//!   each session has a pub/sub channel, each participant's recent messages are logged for a
//!   resume on another instance. While Redis does not answer, its reads say "no view" (`None`)
//!   as the local bus's do, so the hub serves its own sockets alone until it recovers.
//!
//! Where the bus has no view (`None`), the hub answers from what it holds: that fallback is the
//! hub's, written once, for both the single instance and Redis being down.
//!
//! Why `Arc<dyn Bus>` and not `Hub<B: Bus>`: the bus is picked at run time from the settings,
//! and `Hub` is named by the application's state, the recorder, the socket tasks and their
//! tests; a type parameter would have to reach all of them (or an enum of the two would bring
//! the branching back). What it costs is a virtual call, and for the methods that wait a boxed
//! future: an allocation beside the JSON every message is built from, and nothing beside a
//! Redis round trip.

use std::sync::{Arc, Weak};

use futures_util::future::{BoxFuture, FutureExt};

use super::protocol::{Closing, seq_of};
use super::room::Member;
use crate::domain::SessionId;
use crate::metrics::Metrics;

/// What instances say to each other about a session's participants.
#[derive(Debug, PartialEq, Eq)]
pub enum Wire {
    /// Deliver `body` (an unnumbered message) to participant `pid`, wherever it is held.
    Deliver { pid: String, body: String },
    /// Close connection `conn` of `pid` on `instance` (an empty instance and conn 0 mean
    /// whichever holds it): it was replaced by a connection on another instance, or removed.
    Close {
        pid: String,
        instance: String,
        conn: u64,
        closing: Closing,
    },
    /// A participant's waiting-room state changed.
    State { pid: String, admitted: bool },
    /// The session ended: close every socket of it.
    End,
}

/// The hub, as the bus sees it: what other instances ask of the participants held here.
pub trait Inbound: Send + Sync {
    /// A message from another instance on a session's channel.
    fn on_wire(&self, session: SessionId, wire: Wire);
    /// The bus answers again after an outage, and may have forgotten everything (a restarted
    /// Redis): register again every participant held here. The bus waits for it.
    fn recovered(self: Arc<Self>) -> BoxFuture<'static, ()>;
}

/// What the hub needs from the instances it shares sessions with. Every method answers at once
/// or after one round trip; none fails: a bus that cannot answer says it has no view (`None`),
/// or that a message did not go (`false`), and the hub goes on with what it holds.
pub trait Bus: Send + Sync {
    /// This instance's name among those on the bus; each member held here carries it.
    fn instance(&self) -> &str;

    /// Hands the bus the hub, for what other instances send and for recoveries. Called once,
    /// by `Hub::new`; a weak reference, so that dropping the hub stops delivery.
    fn serve(&self, hub: Weak<dyn Inbound>);

    /// Listens on the session's channel and returns once that is confirmed (or has failed):
    /// called before this instance shows a newcomer in the room, so that what another instance
    /// says to it next is heard.
    fn listen(&self, session: SessionId) -> BoxFuture<'_, ()>;
    /// Listens on the session's channel without waiting; also after an outage.
    fn subscribe(&self, session: SessionId);
    /// Stops listening: this instance holds nobody of the session any more.
    fn unsubscribe(&self, session: SessionId);

    /// Every member of the session, on every instance; `None` when the bus has no view.
    fn members(&self, session: SessionId) -> BoxFuture<'_, Option<Vec<Member>>>;
    /// One member of the session, if the bus knows it there.
    fn member<'a>(&'a self, session: SessionId, pid: &'a str) -> BoxFuture<'a, Option<Member>>;
    /// Puts `member` in the session and reads every member, in one step: of two members joining
    /// at once, on any instances, the second always sees the first (issue 15 item 1).
    fn join<'a>(
        &'a self,
        session: SessionId,
        member: &'a Member,
    ) -> BoxFuture<'a, Option<Vec<Member>>>;
    /// Records `member` as it is now (state, connection); failures are the bus's to note.
    fn put_member<'a>(&'a self, session: SessionId, member: &'a Member) -> BoxFuture<'a, ()>;
    /// Removes `member` if it is still that connection on that instance: `Some(false)` when
    /// another instance has taken the participant over meanwhile, `None` without an answer.
    fn remove_member<'a>(
        &'a self,
        session: SessionId,
        member: &'a Member,
    ) -> BoxFuture<'a, Option<bool>>;
    /// Forgets the session's members (it ended).
    fn delete_session(&self, session: SessionId) -> BoxFuture<'_, ()>;
    /// Whether `instance` still lives; `true` when the bus cannot tell.
    fn instance_alive<'a>(&'a self, instance: &'a str) -> BoxFuture<'a, bool>;

    /// Sends `body` to `pid`, held on another instance. Returns whether it went.
    fn deliver<'a>(
        &'a self,
        session: SessionId,
        pid: &'a str,
        body: &'a str,
    ) -> BoxFuture<'a, bool>;
    /// Tells the other instances serving the session (failures are the bus's to note).
    fn publish(&self, session: SessionId, wire: Wire) -> BoxFuture<'_, ()>;

    /// Logs a message numbered for `pid`, for a resume on another instance; never waits.
    fn append_log(&self, session: SessionId, pid: &str, numbered: &str);
    /// The last seq logged for `pid` (0 if none): an instance taking the participant over
    /// continues its numbering.
    fn last_seq<'a>(&'a self, session: SessionId, pid: &'a str) -> BoxFuture<'a, u64>;
    /// The logged messages for `pid` numbered after `after`, if the log holds every one.
    fn replay<'a>(
        &'a self,
        session: SessionId,
        pid: &'a str,
        after: u64,
    ) -> BoxFuture<'a, Option<Vec<String>>>;
}

/// A fresh name for this instance.
pub fn instance_id() -> String {
    format!("{:016x}", rand::random::<u64>())
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

/// One instance alone: nobody to tell, nothing to ask. Every member is held by the hub here,
/// so the hub's own view is the whole view.
pub struct LocalBus {
    instance: String,
}

impl LocalBus {
    pub fn new(metrics: &Metrics) -> LocalBus {
        // -1: no Redis, by design (0 would mean Redis is down).
        metrics.redis_up.set(-1);
        LocalBus {
            instance: instance_id(),
        }
    }
}

fn ready<'a, T: Send + 'a>(value: T) -> BoxFuture<'a, T> {
    futures_util::future::ready(value).boxed()
}

impl Bus for LocalBus {
    fn instance(&self) -> &str {
        &self.instance
    }
    fn serve(&self, _hub: Weak<dyn Inbound>) {}
    fn listen(&self, _session: SessionId) -> BoxFuture<'_, ()> {
        ready(())
    }
    fn subscribe(&self, _session: SessionId) {}
    fn unsubscribe(&self, _session: SessionId) {}
    fn members(&self, _session: SessionId) -> BoxFuture<'_, Option<Vec<Member>>> {
        ready(None)
    }
    fn member<'a>(&'a self, _session: SessionId, _pid: &'a str) -> BoxFuture<'a, Option<Member>> {
        ready(None)
    }
    fn join<'a>(
        &'a self,
        _session: SessionId,
        _member: &'a Member,
    ) -> BoxFuture<'a, Option<Vec<Member>>> {
        ready(None)
    }
    fn put_member<'a>(&'a self, _session: SessionId, _member: &'a Member) -> BoxFuture<'a, ()> {
        ready(())
    }
    fn remove_member<'a>(
        &'a self,
        _session: SessionId,
        _member: &'a Member,
    ) -> BoxFuture<'a, Option<bool>> {
        ready(None)
    }
    fn delete_session(&self, _session: SessionId) -> BoxFuture<'_, ()> {
        ready(())
    }
    fn instance_alive<'a>(&'a self, _instance: &'a str) -> BoxFuture<'a, bool> {
        ready(true)
    }
    fn deliver<'a>(
        &'a self,
        _session: SessionId,
        _pid: &'a str,
        _body: &'a str,
    ) -> BoxFuture<'a, bool> {
        // Not held here means not held anywhere: the message is lost, as the hub counts.
        ready(false)
    }
    fn publish(&self, _session: SessionId, _wire: Wire) -> BoxFuture<'_, ()> {
        ready(())
    }
    fn append_log(&self, _session: SessionId, _pid: &str, _numbered: &str) {}
    fn last_seq<'a>(&'a self, _session: SessionId, _pid: &'a str) -> BoxFuture<'a, u64> {
        ready(0)
    }
    fn replay<'a>(
        &'a self,
        _session: SessionId,
        _pid: &'a str,
        _after: u64,
    ) -> BoxFuture<'a, Option<Vec<String>>> {
        ready(None)
    }
}

#[cfg(test)]
mod tests {
    use super::contiguous_after;

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
