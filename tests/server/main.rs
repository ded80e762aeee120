//! The integration tests: one binary, so the server (and the WebRTC stack it links) is linked once
//! instead of once per file. Each module is one area, spawning the real application on port 0
//! with its own database through `common::TestApp`. Run one area with
//! `cargo test --test server signalling::`. The browser tests are `tests/browser.rs`.

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod abuse;
mod admin;
mod api;
mod architecture;
mod assignments;
mod audit;
mod bookings_list;
mod case_files;
mod catalogue_sets;
mod clocks;
mod connectivity;
mod contention;
mod crash;
mod durability;
mod fuzz_regressions;
mod install;
mod joins;
mod leaders;
mod ledger;
mod ledger_import;
mod lifecycle;
mod log_scan;
mod notifications;
mod openapi_props;
mod outcome_corrections;
mod passwords;
mod privacy;
mod recording;
mod records;
mod refresh;
mod relay;
mod revocation;
mod rooms;
mod scale_out;
mod scheduling;
mod session_record;
mod signalling;
mod trust;
mod webrtc_peers;
