//! CourtLink's parsers of what the outside world sends, in a crate of their own so that the fuzz
//! targets (fuzz/, docs/fuzzing.md) build them without the server's crate graph. The server
//! re-exports each module where it was (`courtlink::domain`, `courtlink::crypto`,
//! `courtlink::error::ApiError`, `courtlink::signalling::protocol`, `courtlink::auth::Tokens`):
//! one definition each.

pub mod crypto;
// `string_enum!` is the error module's too.
#[macro_use]
pub mod domain;
pub mod error;
pub mod protocol;
pub mod tokens;
