//! What the hub, the socket tasks' queues (`outbox`) and the Redis bus all speak of: a member of
//! a session's room, and what a socket task is asked to do. A module below the three, so that the
//! hub can use the queues and the bus without them importing the hub.

use serde::{Deserialize, Serialize};

use super::protocol::{Closing, MemberState, Participant};

/// What a socket task is asked to do.
#[derive(Debug)]
pub enum Outbound {
    /// A numbered message, ready to send.
    Text(String),
    /// Close with this code and reason, then stop.
    Close(Closing),
}

/// A participant of a session as every instance sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Member {
    pub participant: Participant,
    pub state: MemberState,
    pub instance: String,
    pub conn: u64,
    pub connected: bool,
    pub since_ms: i64,
    /// When it entered the call (joined admitted, or was admitted): of each pair, the earlier
    /// one is polite. Kept across a resume, so politeness never flips.
    #[serde(default)]
    pub joined_ms: i64,
    /// The petitioner's seat: the join token's own id. Only the socket that holds the seat may
    /// pick up the admitted place again; any other must be admitted anew.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seat: Option<String>,
}
