//! Every value of a closed set that a page shows has words in both catalogues (issue 14, issue
//! 18 item 11). The page falls back to the raw value (`tEnum`), so a value the server writes and
//! the catalogues miss shows in English on a Chinese page: the timeline's `replaced` and
//! `emptied` did.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly by panicking"
)]

use std::path::Path;

use courtlink::domain::{
    BookingStatus, Channel, CountedAs, EventKind, Outcome, Satisfaction, SessionStatus,
    TestFailure, TranscriptDecision,
};
use courtlink::error::{ErrorCode, IneligibleRule};
use courtlink::signalling::protocol::SignalError;

/// The keys `prefix.value` missing from the catalogue text `catalogue`.
fn missing(catalogue: &str, prefix: &str, values: &[&str]) -> Vec<String> {
    values
        .iter()
        .map(|v| format!("{prefix}{v}"))
        .filter(|key| !catalogue.contains(&format!("'{key}':")))
        .collect()
}

fn sets() -> Vec<(&'static str, Vec<&'static str>)> {
    fn strs<T: Copy>(all: &[T], f: fn(T) -> &'static str) -> Vec<&'static str> {
        all.iter().map(|v| f(*v)).collect()
    }
    vec![
        ("event.kind.", strs(EventKind::ALL, EventKind::as_str)),
        (
            "session.status.",
            strs(SessionStatus::ALL, SessionStatus::as_str),
        ),
        (
            "booking.status.",
            strs(BookingStatus::ALL, BookingStatus::as_str),
        ),
        ("outcome.", strs(Outcome::ALL, Outcome::as_str)),
        ("ledger.channel.", strs(Channel::ALL, Channel::as_str)),
        ("ledger.counted.", strs(CountedAs::ALL, CountedAs::as_str)),
        (
            "satisfaction.",
            strs(Satisfaction::ALL, Satisfaction::as_str),
        ),
        (
            "transcript.decision.",
            strs(TranscriptDecision::ALL, TranscriptDecision::as_str),
        ),
        // A refused booking or application names its rule by these words (`api.js`).
        (
            "error.ineligible.",
            strs(IneligibleRule::ALL, IneligibleRule::as_str),
        ),
        // The room test and the petitioner's line check show a failed test by these words.
        (
            "roomtest.reason.",
            strs(TestFailure::ALL, TestFailure::as_str),
        ),
        // The call page shows a refused message's code by these words (`callview.js`).
        ("signal.error.", strs(SignalError::ALL, SignalError::as_str)),
    ]
}

#[test]
fn every_closed_set_has_words_in_both_languages() {
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("web/i18n");
    let mut problems = Vec::new();
    for lang in ["zh-CN", "en"] {
        let text = std::fs::read_to_string(web.join(format!("{lang}.js"))).unwrap();
        for (prefix, values) in sets() {
            for key in missing(&text, prefix, &values) {
                problems.push(format!("{lang}: {key}"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "values the server writes have no words in the catalogue:\n{}",
        problems.join("\n")
    );
}

/// The check can fail: a key that is absent, or present only in a comment's words, is named.
#[test]
fn the_catalogue_check_finds_a_missing_key() {
    let catalogue = "export default {\n  'event.kind.joined': '进入',\n  // event.kind.left\n};\n";
    assert_eq!(
        missing(catalogue, "event.kind.", &["joined", "left"]),
        vec!["event.kind.left".to_owned()]
    );
}

/// Codes that no page shows as a refusal, each with why.
const NOT_SHOWN: &[(&str, &str)] = &[
    (
        "method_not_allowed",
        "a 405: the pages send only the methods the API has",
    ),
    (
        "origin_not_allowed",
        "a WebSocket handshake refused: the page sees its socket close",
    ),
];

/// Codes whose words are under another key than `error.<code>`: the key's prefix, and why.
const WORDS_ELSEWHERE: &[(&str, &str, &str)] = &[
    (
        "calendar_bad_row",
        "calendar.row.",
        "a row of an uploaded calendar",
    ),
    (
        "calendar_bad_day",
        "calendar.row.",
        "a row of an uploaded calendar",
    ),
    (
        "calendar_wrong_year",
        "calendar.row.",
        "a row of an uploaded calendar",
    ),
    (
        "calendar_duplicate_day",
        "calendar.row.",
        "a row of an uploaded calendar",
    ),
    (
        "calendar_bad_kind",
        "calendar.row.",
        "a row of an uploaded calendar",
    ),
    (
        "calendar_unnamed",
        "calendar.row.",
        "a row of an uploaded calendar",
    ),
    (
        "calendar_makeup_not_weekend",
        "calendar.row.",
        "a row of an uploaded calendar",
    ),
    (
        "calendar_bad_follows",
        "calendar.row.",
        "a row of an uploaded calendar",
    ),
    (
        "calendar_year_missing",
        "calendar.warning.",
        "a warning beside the calendar",
    ),
];

/// Every error code the API can answer with (`ErrorCode`, a closed set) has zh-CN and English
/// words (`error.<code>`, or the key `WORDS_ELSEWHERE` names), or is one no page shows, named in
/// `NOT_SHOWN`. Without words the page
/// says "unknown error" and shows the code: the petitioner's `transcript_empty` did.
#[test]
fn every_error_code_has_words_in_both_languages() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut problems = Vec::new();
    for lang in ["zh-CN", "en"] {
        let text = std::fs::read_to_string(root.join(format!("web/i18n/{lang}.js"))).unwrap();
        for code in ErrorCode::ALL.iter().map(|c| c.as_str()) {
            if NOT_SHOWN.iter().any(|(c, _)| *c == code) {
                continue;
            }
            let prefix = WORDS_ELSEWHERE
                .iter()
                .find(|(c, _, _)| *c == code)
                .map_or("error.", |(_, prefix, _)| *prefix);
            if !text.contains(&format!("'{prefix}{code}':")) {
                problems.push(format!("{lang}: {prefix}{code}"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "error codes with no words in the catalogue (add them, or name the code in NOT_SHOWN with why):\n{}",
        problems.join("\n")
    );
}

/// Each code named in the exceptions is a code of the API.
#[test]
fn the_exceptions_are_codes() {
    let named = NOT_SHOWN
        .iter()
        .map(|(c, why)| (*c, *why))
        .chain(WORDS_ELSEWHERE.iter().map(|(c, _, why)| (*c, *why)));
    for (code, why) in named {
        assert!(
            code.parse::<ErrorCode>().is_ok(),
            "{code} ({why}) is not an ErrorCode"
        );
    }
}
