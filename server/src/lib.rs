//! CourtLink: remote video reception (远程视频接访) between a local court and the courts above it.

pub mod app;
pub mod auth;
pub mod config;
pub mod config_error;
pub mod connectivity;
pub use courtlink_parsers::crypto;
pub mod demo;
pub use courtlink_parsers::domain;
pub mod edge;
pub mod error;
pub mod holds;
pub mod metrics;
pub mod notify;
pub mod process;
pub mod recording;
pub mod routes;
pub mod schedule;
pub mod signalling;
pub mod startup;
pub mod state;
pub mod store;
pub mod tasks;
pub mod telemetry;
