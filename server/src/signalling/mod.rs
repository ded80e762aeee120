//! WebRTC signalling: one WebSocket per participant, one room per session, over one instance or
//! several sharing Redis. The protocol is written down in `docs/signalling.md`; `protocol`
//! mirrors it in types.

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
