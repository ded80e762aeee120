//! WebRTC signalling: one WebSocket per participant, one room per session.
//! The protocol is written down in `docs/signalling.md`; `protocol` mirrors it in types.

pub mod hub;
pub mod protocol;
pub mod socket;
