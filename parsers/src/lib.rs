//! CourtLink's parsers of what the outside world sends, in a crate of their own so that the fuzz
//! targets (fuzz/, docs/fuzzing.md) build them without the server's crate graph: signalling
//! messages, join codes and the other domain values, tokens, the SDP offers of the server's own
//! peers, and the API's request bodies with the checks a route makes on their fields before
//! anything else. The server re-exports each
//! module where it was used (`courtlink::domain`, `courtlink::crypto`, `courtlink::error::ApiError`,
//! `courtlink::signalling::protocol`, `courtlink::auth::Tokens`, the bodies in their routes): one
//! definition each.

pub mod crypto;
// `string_enum!` is the error module's too.
#[macro_use]
pub mod domain;
pub mod bodies;
pub mod error;
pub mod fields;
pub mod names;
pub mod passwords;
pub mod protocol;
pub mod schedule;
pub mod sdp;
pub mod tokens;
pub mod webhook;
