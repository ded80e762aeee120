//! WebRTC signalling: one WebSocket per participant, one room per session, over one instance or
//! several sharing Redis. The protocol is written down in `docs/signalling.md`; `protocol`
//! mirrors it in types.
//!
//! A message's path: `socket` (the socket's task) → `hub` (membership, numbering, delivery to
//! the sockets held here) → `bus` (the other instances: `LocalBus` alone, `redis_bus` over
//! Redis), chosen once at start-up.

pub mod bus;
pub mod hub;
pub mod ice;
pub mod keys;
pub mod outbox;
/// In the parsers crate (parsers/), which the fuzz targets build without the server.
pub use courtlink_parsers::protocol;
pub mod redis_bus;
pub mod room;
pub mod socket;
pub mod wire;
