//! Inputs the fuzz targets (`fuzz/`, see docs/fuzzing.md) found the code getting wrong, kept as
//! tests so the bugs stay fixed without running the fuzzer.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly by panicking"
)]

use crate::common;

use common::{TestApp, assert_error};
use courtlink::error::ErrorCode;
use courtlink::schedule::Window;
use courtlink_parsers::fields::parse_day;
use serde_json::json;

/// `request_bodies`: chrono reads `%Y-%m-%d` leniently (space-padded and signed fields), and
/// ten characters was the only other check, so `2030- 1-01` passed as 1 January. Calendar days
/// are stored and range-compared as text, where `2030- 1-01` sorts before `2030-01-01`: the
/// holiday was kept but never found, and no later PUT of the year removed it.
#[test]
fn days_are_read_only_in_their_own_form() {
    for bad in [
        "2030-10- 8",
        "2030- 1-01",
        "+2030-1-01",
        " 2030-1-1",
        "2030-1-1  ",
    ] {
        let e = parse_day("day", bad).expect_err(bad);
        assert_eq!(e.code(), ErrorCode::InvalidInput, "{bad}");
    }
    assert_eq!(
        parse_day("day", "2030-10-08").unwrap().to_string(),
        "2030-10-08",
        "the day's own form still passes"
    );
}

/// `request_bodies`: the same leniency let ` 9:00` and `09: 0` through as window times; windows
/// are stored, ordered (`ORDER BY opens`) and shown as the text given.
#[test]
fn window_times_are_read_only_as_hh_mm() {
    let window = |opens: &str, closes: &str| Window {
        opens: opens.into(),
        closes: closes.into(),
        slot_minutes: 60,
        buffer_minutes: 0,
    };
    for (opens, closes) in [(" 9:00", "12:00"), ("09: 0", "12:00"), ("09:00", "12: 0")] {
        let e = window(opens, closes).parse().expect_err(opens);
        assert_eq!(e.code, ErrorCode::BadTime, "{opens}–{closes}");
    }
    assert!(window("09:00", "12:00").parse().is_ok());
}

/// The calendar bug end to end: the lenient day is refused with 422 instead of stored.
#[tokio::test]
async fn a_calendar_day_not_written_yyyy_mm_dd_is_refused() {
    let app = TestApp::spawn().await;
    let admin = app.login("admin").await;
    let res = reqwest::Client::new()
        .put(app.url("/api/v1/calendar/2031"))
        .bearer_auth(&admin)
        .json(&json!([{"day": "2031- 1-01", "kind": "holiday", "name": "元旦"}]))
        .send()
        .await
        .unwrap();
    assert_error(res, 422, "calendar_invalid").await;
}
