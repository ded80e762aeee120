//! The application layer: every rule, once, between the HTTP routes and the store. A route reads
//! the request, calls one use case here and maps the answer to HTTP; the store below only runs
//! queries.

pub mod applications;
pub mod assignments;
pub mod attachments;
pub mod booking;
pub mod calendar;
pub mod clock;
pub mod clocks;
pub mod directory;
pub mod identity;
pub mod install;
pub mod leaders;
pub mod ledger;
pub mod ledger_import;
pub mod recording;
pub mod room_tests;
pub mod scope;
pub mod session;
pub mod signin;
pub mod statistics;
