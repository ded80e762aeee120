//! Every Redis key and channel CourtLink uses, in one place. All keys start with the configured
//! prefix (`redis.key_prefix`), so several deployments or test runs can share one Redis. A
//! session's keys carry `{<session id>}` as a hash tag, so they stay together in a cluster.

use crate::domain::{SessionId, SlotId};

/// Members of a session: hash of participant id → JSON `Member` (role, state, instance,
/// connection, connected flag). Presence: refreshed while anyone is in the session, expires a
/// day after the last change.
pub fn members(prefix: &str, session: SessionId) -> String {
    format!("{prefix}s:{{{session}}}:members")
}

/// The recent messages sent to one participant, already numbered, for a resume on another
/// instance: a list capped at `LOG_CAP` entries, expiring `LOG_TTL_SECONDS` after the last one.
pub fn log(prefix: &str, session: SessionId, participant: &str) -> String {
    format!("{prefix}s:{{{session}}}:log:{participant}")
}

/// Pub/sub channel of a session: messages for its participants and control words between the
/// instances that hold them (see `redis_bus::Wire`).
pub fn channel(prefix: &str, session: SessionId) -> String {
    format!("{prefix}s:{{{session}}}:ch")
}

/// The session id of a channel name made by [`channel`].
pub fn session_of_channel(prefix: &str, channel: &str) -> Option<SessionId> {
    channel
        .strip_prefix(prefix)?
        .strip_prefix("s:{")?
        .strip_suffix("}:ch")?
        .parse()
        .ok()
        .map(SessionId)
}

/// Liveness of an instance: set every few seconds with a short TTL; gone means dead.
pub fn instance(prefix: &str, id: &str) -> String {
    format!("{prefix}instance:{id}")
}

/// A coordinator's short hold on a slot while they finish booking it (`SET NX PX`): the value
/// is the holder's user id. Advisory only: the database decides who books the slot.
pub fn slot_hold(prefix: &str, slot: SlotId) -> String {
    format!("{prefix}hold:slot:{slot}")
}

/// The set of slot ids a user holds (pruned of expired holds when counted against the cap).
pub fn user_holds(prefix: &str, user: i64) -> String {
    format!("{prefix}hold:user:{user}")
}

/// The set of slot ids held on one host court's slots.
pub fn court_holds(prefix: &str, court: i64) -> String {
    format!("{prefix}hold:court:{court}")
}

pub const LOG_CAP: isize = 512;
pub const LOG_TTL_SECONDS: i64 = 300;
pub const MEMBERS_TTL_SECONDS: i64 = 86_400;
pub const INSTANCE_TTL_SECONDS: u64 = 15;

#[cfg(test)]
mod tests {
    use crate::domain::SessionId;

    #[test]
    fn channel_names_round_trip() {
        let c = super::channel("cl:", SessionId(42));
        assert_eq!(c, "cl:s:{42}:ch");
        assert_eq!(super::session_of_channel("cl:", &c), Some(SessionId(42)));
        assert_eq!(super::session_of_channel("other:", &c), None);
    }
}
