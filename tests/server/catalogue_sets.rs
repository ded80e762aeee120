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
    TranscriptDecision,
};

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

/// The error codes the API answers with, as written in the source: `code: "…"`,
/// `ApiError::conflict("…", …)`, and in an `error.rs` the fixed codes of `ApiError::code`.
fn error_codes(files: &[std::path::PathBuf]) -> std::collections::BTreeSet<String> {
    let mut codes = std::collections::BTreeSet::new();
    for f in files {
        let text = std::fs::read_to_string(f).unwrap();
        let squeezed: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        // In the error modules, a match arm's string is a code too (`ApiError::code`).
        let arms = f.file_name().is_some_and(|n| n == "error.rs");
        let markers: &[&str] = if arms {
            &["code: \"", "conflict( \"", "conflict(\"", "=> \""]
        } else {
            &["code: \"", "conflict( \"", "conflict(\""]
        };
        for marker in markers {
            for (i, _) in squeezed.match_indices(marker) {
                let rest = &squeezed[i + marker.len()..];
                if let Some(end) = rest.find('"') {
                    let code = &rest[..end];
                    if !code.is_empty() && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                    {
                        codes.insert(code.to_owned());
                    }
                }
            }
        }
    }
    codes
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
    (
        "calendar_bad_row",
        "a row of an uploaded calendar, in calendar.row.*",
    ),
    (
        "calendar_year_missing",
        "a warning beside the calendar, in calendar.warning.*",
    ),
];

/// Every error code the API can answer with has zh-CN and English words (`error.<code>`), or is
/// one no page shows, named in `NOT_SHOWN`. Without words the page says "unknown error" and
/// shows the code: the petitioner's `transcript_empty` did.
#[test]
fn every_error_code_has_words_in_both_languages() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    crate::architecture::rust_files(&root.join("server/src"), &mut files);
    files.push(root.join("parsers/src/error.rs"));
    let codes = error_codes(&files);
    assert!(
        codes.len() > 50,
        "too few codes found ({}): is the scan still right?",
        codes.len()
    );
    let mut problems = Vec::new();
    for lang in ["zh-CN", "en"] {
        let text = std::fs::read_to_string(root.join(format!("web/i18n/{lang}.js"))).unwrap();
        for code in &codes {
            let shown = !NOT_SHOWN.iter().any(|(c, _)| c == code);
            if shown && !text.contains(&format!("'error.{code}':")) {
                problems.push(format!("{lang}: error.{code}"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "error codes with no words in the catalogue (add them, or name the code in NOT_SHOWN with why):\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_code_scan_reads_every_form() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("a.rs");
    std::fs::write(
        &f,
        "ApiError::conflict(\n    \"slot_taken\",\n    \"m\")\nDenied { code: \"too_soon\", message }\n\
         // code: \"Not A Code\"\nApiError::conflict(\"already_done\", m)",
    )
    .unwrap();
    let codes: Vec<String> = error_codes(&[f]).into_iter().collect();
    assert_eq!(codes, ["already_done", "slot_taken", "too_soon"]);
}
