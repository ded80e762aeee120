//! The API's request bodies: the first byte picks a body type, the rest is its JSON. The body is
//! read the way `web::Json` reads it, then put through the checks its route makes before it
//! touches the store, where those are plain functions.
//!
//! Properties:
//! - nothing panics;
//! - a body that is valid JSON but not a valid body is the field's error (422 `invalid_input`),
//!   never `malformed_json` (400), as `error::json_error_handler` classifies it;
//! - a body type the API also writes (idempotency keys fingerprint it) reads back what it wrote;
//! - each check refuses with its route's documented, stable code, gives the same answer when
//!   asked twice, and what it accepts has the documented shape (lengths, ranges, no control
//!   characters, trimmed); checks that return a cleaned value accept that value again unchanged.

#![no_main]

use chrono::Utc;
use courtlink_parsers::bodies::{self, TimeRange};
use courtlink_parsers::domain::JoinCode;
use courtlink_parsers::error::ApiError;
use courtlink_parsers::fields;
use courtlink_parsers::names;
use courtlink_parsers::passwords::{MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS, new_password};
use courtlink_parsers::schedule::{
    CalendarEntry, HostSettings, MAX_BUFFER_MINUTES, MAX_SLOT_MINUTES, MIN_SLOT_MINUTES, Template,
    Window,
};
use courtlink_parsers::webhook;
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The codes `Template::parse` and `Window::parse` answer with (docs: PUT template, POST override).
const SCHEDULE_CODES: &[&str] = &[
    "template_overlap",
    "slot_length_out_of_range",
    "buffer_out_of_range",
    "bad_window",
    "bad_time",
    "bad_weekday",
];

fuzz_target!(|data: &[u8]| {
    let Some((&which, json)) = data.split_first() else {
        return;
    };
    match which % 32 {
        0 => {
            read::<bodies::LoginRequest>(json);
        }
        1 => {
            if let Some(b) = read::<bodies::JoinRequest>(json) {
                let r = JoinCode::parse(&b.code).map_err(ApiError::invalid);
                stable(&r, &r, &["invalid_input"]);
            }
        }
        2 => {
            if let Some(b) = read::<bodies::NewCourt>(json) {
                name(&b.name);
            }
        }
        3 => {
            if let Some(b) = read::<bodies::Rename>(json) {
                name(&b.name);
            }
        }
        4 => {
            if let Some(b) = read::<bodies::NewRoom>(json) {
                name(&b.name);
            }
        }
        5 => {
            if let Some(b) = read::<bodies::NewUserRequest>(json) {
                username(&b.username);
                display_name(&b.display_name);
                password(&b.password);
            }
        }
        6 => {
            if let Some(b) = read::<bodies::UserUpdate>(json) {
                if let Some(n) = &b.display_name {
                    display_name(n);
                }
            }
        }
        7 => {
            if let Some(b) = read::<bodies::PasswordReset>(json) {
                password(&b.password);
            }
        }
        8 => {
            if let Some(b) = read_back::<bodies::ApplicationRequest>(json) {
                text(&b.reason, 2000);
                text(&format!("{}.", b.facts.note), 2000);
                preferred(&b.preferred);
            }
        }
        9 => {
            if let Some(b) = read::<bodies::Review>(json) {
                match &b {
                    bodies::Review::Propose { note, .. } | bodies::Review::MoreInfo { note } => {
                        text(note, 2000)
                    }
                    bodies::Review::Reject { reason } => text(reason, 2000),
                    bodies::Review::Approve { .. } => {}
                }
            }
        }
        10 => {
            if let Some(bodies::Answer::Amend {
                reason,
                preferred: p,
                ..
            }) = read_back::<bodies::Answer>(json)
            {
                text(&reason, 2000);
                preferred(&p);
            }
        }
        11 => {
            read_back::<bodies::HoldRequest>(json);
        }
        12 => {
            read_back::<bodies::BookingRequest>(json);
        }
        13 => {
            if let Some(b) = read::<bodies::CancelRequest>(json) {
                reason(&b.reason);
            }
        }
        14 => {
            if let Some(b) = read_back::<bodies::RescheduleRequest>(json) {
                reason(&b.reason);
            }
        }
        15 => {
            read::<bodies::ExtensionRequest>(json);
        }
        16 => {
            read::<bodies::CategoryRequest>(json);
        }
        17 => {
            if let Some(s) = read_back::<HostSettings>(json) {
                if s.validate().is_ok() {
                    assert!((1..=180).contains(&s.horizon_days));
                    assert!((0..=720).contains(&s.min_notice_hours));
                    assert!((1..=100).contains(&s.active_limit_per_petitioner));
                    assert!(
                        s.weekly_limit_per_local_court
                            .is_none_or(|l| (1..=1000).contains(&l))
                    );
                }
                assert_eq!(s.validate(), s.validate());
            }
        }
        18 => {
            if let Some(b) = read_back::<bodies::TemplateBody>(json) {
                template(&b);
            }
        }
        19 => {
            if let Some(b) = read::<bodies::OverrideRequest>(json) {
                day(&b.day);
                if let Some(w) = &b.window {
                    window(w);
                }
            }
        }
        20 => {
            if let Some(entries) = read_back::<Vec<CalendarEntry>>(json) {
                for e in &entries {
                    day(&e.day);
                }
            }
        }
        21 => {
            read::<bodies::EndRequest>(json);
        }
        22 => {
            if let Some(b) = read::<bodies::TranscriptText>(json) {
                bounded(&b.text, 50_000);
            }
        }
        23 => {
            read::<bodies::DecisionRequest>(json);
        }
        24 => {
            read::<bodies::RatingRequest>(json);
        }
        25 => {
            if let Some(b) = read::<bodies::NoteRequest>(json) {
                bounded(&b.text, 2_000);
            }
        }
        26 => {
            if let Some(b) = read::<bodies::CorrectionRequest>(json) {
                bounded(&b.text, 2_000);
            }
        }
        27 => {
            if let Some(b) = read::<bodies::NewWebhook>(json) {
                let url = b.url.trim();
                if webhook::check_url(url).is_ok() {
                    assert!(url.len() <= webhook::MAX_URL_BYTES);
                    // Any `#` starts a fragment, and a fragment is refused.
                    assert!(!url.contains('#'), "a fragment passed: {url:?}");
                }
                assert_eq!(webhook::check_url(url), webhook::check_url(url));
                if webhook::check_secret(&b.secret).is_ok() {
                    assert!((16..=256).contains(&b.secret.len()));
                }
            }
        }
        28 => {
            read::<bodies::StartTest>(json);
        }
        29 => {
            read::<bodies::OpenCampaign>(json);
        }
        30 => {
            read::<bodies::Contacts>(json);
        }
        _ => {
            // The connectivity report: any JSON value is read, the route wants an object.
            read::<serde_json::Value>(json);
        }
    }
});

/// Reads a body as `web::Json` does, and checks how a refusal would be classified.
fn read<T: DeserializeOwned>(json: &[u8]) -> Option<T> {
    match serde_json::from_slice::<T>(json) {
        Ok(body) => Some(body),
        Err(e) => {
            // Bodies are objects. serde also reads a struct from an array (`[17]` is a hold),
            // and then calls surplus elements "trailing characters": not checked here.
            let valid_json =
                serde_json::from_slice::<serde_json::Value>(json).is_ok_and(|v| v.is_object());
            // A number too large for any type (`1e400`) is refused by the JSON reader itself.
            let out_of_range = e.to_string().starts_with("number out of range");
            if valid_json && !out_of_range {
                assert!(
                    e.is_data(),
                    "valid JSON refused as malformed (400 instead of 422): {e}"
                );
            }
            None
        }
    }
}

/// Reads a body the API also serialises, and checks that it reads back what it wrote.
fn read_back<T: DeserializeOwned + Serialize>(json: &[u8]) -> Option<T> {
    let body = read::<T>(json)?;
    let written = serde_json::to_string(&body).expect("a body serialises");
    let again: T = serde_json::from_str(&written)
        .unwrap_or_else(|e| panic!("a body does not read back what it wrote: {e}: {written}"));
    assert_eq!(serde_json::to_string(&again).expect("serialises"), written);
    Some(body)
}

/// Same input, same answer, and only the listed codes.
fn stable<T: PartialEq + std::fmt::Debug>(
    first: &Result<T, ApiError>,
    second: &Result<T, ApiError>,
    codes: &[&str],
) {
    match (first, second) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(a), Err(b)) => {
            assert_eq!(a.code(), b.code());
            assert_eq!(a.to_string(), b.to_string());
            assert!(
                codes.contains(&a.code().as_str()),
                "unexpected code {}",
                a.code()
            );
            assert!(!a.to_string().is_empty());
        }
        _ => panic!("the same input gave {first:?} and then {second:?}"),
    }
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// Court and room names (`names::name_field`).
fn name(raw: &str) {
    let r = names::name_field("name", raw);
    stable(
        &r,
        &names::name_field("name", raw),
        &["invalid_input", "invalid_name"],
    );
    if let Ok(n) = r {
        assert_eq!(n, n.trim());
        assert!((1..=100).contains(&chars(&n)));
        assert!(!n.chars().any(names::is_hidden_char));
        assert_eq!(names::name_field("name", &n).ok(), Some(n));
    }
}

fn display_name(raw: &str) {
    let r = names::display_name_field(raw);
    stable(
        &r,
        &names::display_name_field(raw),
        &["invalid_input", "invalid_name"],
    );
    if let Ok(n) = r {
        assert_eq!(n, n.trim());
        assert!((1..=64).contains(&chars(&n)));
        assert!(!n.chars().any(names::is_hidden_char));
        assert_eq!(names::display_name_field(&n).ok(), Some(n));
    }
}

fn username(raw: &str) {
    let r = names::username_input(raw);
    stable(&r, &names::username_input(raw), &["invalid_input"]);
    if let Ok(u) = r {
        assert_eq!(u, raw.to_ascii_lowercase());
        assert!((3..=64).contains(&u.len()));
        assert!(
            u.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        );
    }
}

/// The one rule for a password someone sets (`auth::new_password`): too short or too long is
/// `invalid_input`, guessable is `weak_password`.
fn password(raw: &str) {
    let personal = ["fuzz.user", "某人"];
    let r = new_password(raw, &personal);
    stable(
        &r,
        &new_password(raw, &personal),
        &["invalid_input", "weak_password"],
    );
    if r.is_ok() {
        assert!(chars(raw) >= MIN_PASSWORD_CHARS);
        assert!(raw.len() <= MAX_PASSWORD_BYTES);
    }
}

/// Free text of applications (`fields::check_text`).
fn text(raw: &str, max: usize) {
    let r = fields::check_text("field", raw, max);
    stable(
        &r,
        &fields::check_text("field", raw, max),
        &["invalid_input"],
    );
    assert_eq!(r.is_ok(), (1..=max).contains(&chars(raw.trim())));
}

fn preferred(ranges: &[TimeRange]) {
    let at = Utc::now();
    let r = fields::check_preferred_at(ranges, at);
    stable(
        &r,
        &fields::check_preferred_at(ranges, at),
        &["invalid_input"],
    );
    if r.is_ok() {
        assert!((1..=10).contains(&ranges.len()));
        for t in ranges {
            assert!(t.to > t.from);
            assert!(t.to > at);
            assert!(t.from <= at + chrono::Duration::days(366));
        }
    }
}

/// Cancellation and rescheduling reasons (`fields::require_reason`).
fn reason(raw: &str) {
    let r = fields::require_reason(raw);
    stable(&r, &fields::require_reason(raw), &["invalid_input"]);
    if let Ok(t) = r {
        assert_eq!(t, t.trim());
        assert!((2..=500).contains(&chars(t)));
        assert_eq!(fields::require_reason(t).ok(), Some(t));
    }
}

/// Transcript, notes and corrections (`fields::bounded`).
fn bounded(raw: &str, max: usize) {
    let r = fields::bounded(raw, max, "text");
    stable(&r, &fields::bounded(raw, max, "text"), &["invalid_input"]);
    if let Ok(t) = r {
        assert_eq!(t, t.trim());
        assert!((1..=max).contains(&chars(&t)));
        assert_eq!(fields::bounded(&t, max, "text").ok(), Some(t));
    }
}

/// `YYYY-MM-DD` days (`fields::parse_day`).
fn day(raw: &str) {
    let r = fields::parse_day("day", raw);
    stable(&r, &fields::parse_day("day", raw), &["invalid_input"]);
    if let Ok(d) = r {
        assert_eq!(raw.len(), 10);
        // What is stored and shown is the text given: it must be the day's own form.
        assert_eq!(d.format("%Y-%m-%d").to_string(), raw, "accepted {raw:?}");
    }
}

fn window(w: &Window) {
    let r = w.parse();
    assert_eq!(r, w.parse());
    match r {
        Ok(p) => {
            assert!(p.closes > p.opens);
            assert!((MIN_SLOT_MINUTES..=MAX_SLOT_MINUTES).contains(&p.slot_minutes));
            assert!(p.buffer_minutes <= MAX_BUFFER_MINUTES);
            assert!((p.closes - p.opens).num_minutes() >= i64::from(p.slot_minutes));
            // What is stored and shown is the text given: it must be the time's own form.
            assert_eq!(p.opens.format("%H:%M").to_string(), w.opens);
            assert_eq!(p.closes.format("%H:%M").to_string(), w.closes);
        }
        Err(e) => assert!(SCHEDULE_CODES.contains(&e.code.as_str()), "{}", e.code),
    }
}

fn template(b: &bodies::TemplateBody) {
    let r = Template::parse(&b.days);
    assert_eq!(r, Template::parse(&b.days));
    match r {
        Ok(t) => {
            assert_eq!(t.days.len(), b.days.len());
            for (weekday, (_, windows)) in &t.days {
                assert!((1..=5).contains(weekday));
                for pair in windows.windows(2) {
                    assert!(pair[0].closes <= pair[1].opens, "overlap accepted");
                }
            }
            for d in &b.days {
                for w in &d.windows {
                    window(w);
                }
            }
        }
        Err(e) => assert!(SCHEDULE_CODES.contains(&e.code.as_str()), "{}", e.code),
    }
}
