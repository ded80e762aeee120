//! iCalendar feeds (RFC 5545) of bookings, in Asia/Shanghai: CRLF line ends, lines folded at 75
//! octets (never inside a UTF-8 character), TEXT values escaped, one stable UID per booking
//! (`booking-<id>@courtlink`) whose SEQUENCE is the booking's version, cancelled bookings as
//! `STATUS:CANCELLED` so that calendars remove them.
//!
//! Written by hand on purpose: the `icalendar` crate (0.17.6, the newest for Rust 1.85, and
//! 0.17.17 alike) folds a line whose rest after the first fold is exactly 75 octets into a
//! 76-octet continuation line, keeps control characters in TEXT, and has no VTIMEZONE
//! component; this module is short and its tests pin each of those cases.

use chrono::{DateTime, Utc};

use crate::domain::BookingStatus;
use crate::store::notify::CalendarBooking;

/// China Standard Time: +08:00 all year (no daylight saving since 1991).
pub const TZID: &str = "Asia/Shanghai";

/// Escapes a TEXT value (RFC 5545 §3.3.11).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Folds one content line at 75 octets (§3.1) and ends it with CRLF.
pub fn fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + line.len() / 70 * 3 + 2);
    let mut used = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if used + n > 75 {
            out.push_str("\r\n ");
            used = 1;
        }
        out.push(c);
        used += n;
    }
    out.push_str("\r\n");
    out
}

/// Asia/Shanghai wall-clock time in the basic format, e.g. `20261128T093000`.
pub fn local_time(at: DateTime<Utc>) -> String {
    crate::app::clock::local(at)
        .format("%Y%m%dT%H%M%S")
        .to_string()
}

fn utc_time(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}

/// A whole feed.
pub fn calendar(name: &str, bookings: &[CalendarBooking], now: DateTime<Utc>) -> String {
    let mut lines: Vec<String> = vec![
        "BEGIN:VCALENDAR".into(),
        "VERSION:2.0".into(),
        "PRODID:-//CourtLink//Remote video reception//ZH".into(),
        "CALSCALE:GREGORIAN".into(),
        "METHOD:PUBLISH".into(),
        format!("X-WR-CALNAME:{}", escape(name)),
        format!("X-WR-TIMEZONE:{TZID}"),
        "BEGIN:VTIMEZONE".into(),
        format!("TZID:{TZID}"),
        "BEGIN:STANDARD".into(),
        "DTSTART:19700101T000000".into(),
        "TZOFFSETFROM:+0800".into(),
        "TZOFFSETTO:+0800".into(),
        "TZNAME:CST".into(),
        "END:STANDARD".into(),
        "END:VTIMEZONE".into(),
    ];
    for b in bookings {
        lines.extend(event(b, now));
    }
    lines.push("END:VCALENDAR".into());
    lines.iter().map(|l| fold(l)).collect()
}

fn event(b: &CalendarBooking, now: DateTime<Utc>) -> Vec<String> {
    let cancelled = b.status == BookingStatus::Cancelled;
    let mut description = format!(
        "案号 {}\n接谈法院 {}（{}）\n接访法院 {}（{}）",
        b.case_number, b.host_court_name, b.host_room_name, b.local_court_name, b.local_room_name
    );
    if let (true, Some(reason)) = (cancelled, &b.cancel_reason) {
        description.push_str(&format!("\n已取消：{reason}"));
    }
    vec![
        "BEGIN:VEVENT".into(),
        format!("UID:booking-{}@courtlink", b.id),
        format!("DTSTAMP:{}", utc_time(now)),
        format!("CREATED:{}", utc_time(b.created_at)),
        format!("DTSTART;TZID={TZID}:{}", local_time(b.starts_at)),
        format!("DTEND;TZID={TZID}:{}", local_time(b.ends_at)),
        format!("SEQUENCE:{}", b.version.max(0)),
        format!(
            "SUMMARY:{}",
            escape(&format!(
                "视频接访 {} · {} — {}",
                b.case_number, b.local_court_name, b.host_court_name
            ))
        ),
        format!(
            "LOCATION:{}",
            escape(&format!("{}；{}", b.host_room_name, b.local_room_name))
        ),
        format!("DESCRIPTION:{}", escape(&description)),
        format!(
            "STATUS:{}",
            if cancelled { "CANCELLED" } else { "CONFIRMED" }
        ),
        "TRANSP:OPAQUE".into(),
        "END:VEVENT".into(),
    ]
}

/// Unfolds a feed into its content lines (for tests and tools).
pub fn unfold(text: &str) -> Vec<String> {
    text.replace("\r\n ", "")
        .replace("\r\n\t", "")
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn booking(status: &str) -> CalendarBooking {
        CalendarBooking {
            id: crate::domain::BookingId(42),
            status: status.parse().unwrap(),
            starts_at: "2026-11-30T01:30:00Z".parse().unwrap(),
            ends_at: "2026-11-30T02:30:00Z".parse().unwrap(),
            created_at: "2026-11-28T01:00:00Z".parse().unwrap(),
            version: 3,
            case_number: "(2026)京01信访12号".into(),
            host_court_id: 1,
            host_court_name: "最高人民法院".into(),
            host_room_name: "第3接谈室".into(),
            local_court_id: 9,
            local_court_name: "北京市朝阳区人民法院, 东坝; 法庭".into(),
            local_room_name: "视频接访室\\一".into(),
            cancel_reason: Some("法官出差".into()),
            case_id: crate::domain::CaseId(5),
            petitioner_name: "张三".into(),
        }
    }

    #[test]
    fn escapes_text() {
        assert_eq!(escape("a,b;c\\d\ne\r"), "a\\,b\\;c\\\\d\\ne");
    }

    #[test]
    fn folds_at_75_octets_without_splitting_characters() {
        let line = format!("DESCRIPTION:{}", "接".repeat(60));
        let folded = fold(&line);
        assert!(folded.ends_with("\r\n"));
        for part in folded.trim_end_matches("\r\n").split("\r\n") {
            assert!(part.len() <= 75, "{} octets: {part}", part.len());
        }
        assert_eq!(unfold(&folded), vec![line.clone()]);
        let short = "VERSION:2.0";
        assert_eq!(fold(short), "VERSION:2.0\r\n");
        let exact = "X".repeat(75);
        assert_eq!(fold(&exact), format!("{exact}\r\n"));
        let over = "X".repeat(76);
        assert_eq!(fold(&over), format!("{}\r\n X\r\n", "X".repeat(75)));
        // 75 octets, then 75 more: the second line needs a third (the fold's space counts).
        let twice = "X".repeat(150);
        assert_eq!(
            fold(&twice),
            format!("{}\r\n {}\r\n X\r\n", "X".repeat(75), "X".repeat(74))
        );
    }

    #[test]
    fn feed_parses_back_in_shanghai_time() {
        let now: DateTime<Utc> = "2026-11-28T04:00:00Z".parse().unwrap();
        let text = calendar("第3接谈室", &[booking("booked"), booking("cancelled")], now);
        assert!(text.ends_with("END:VCALENDAR\r\n"));
        assert!(!text.replace("\r\n", "").contains('\n'), "bare LF");
        for raw in text.split("\r\n") {
            assert!(raw.len() <= 75);
        }
        let lines = unfold(&text);
        let get = |name: &str| -> Vec<String> {
            lines
                .iter()
                .filter_map(|l| {
                    let (head, value) = l.split_once(':')?;
                    (head.split(';').next() == Some(name)).then(|| value.to_owned())
                })
                .collect()
        };
        assert_eq!(get("METHOD"), ["PUBLISH"]);
        assert_eq!(get("TZID"), [TZID]);
        assert_eq!(get("DTSTART")[1..], ["20261130T093000", "20261130T093000"]);
        assert_eq!(get("DTEND"), ["20261130T103000", "20261130T103000"]);
        assert_eq!(get("UID"), ["booking-42@courtlink", "booking-42@courtlink"]);
        assert_eq!(get("STATUS"), ["CONFIRMED", "CANCELLED"]);
        assert!(lines.contains(&"DTSTART;TZID=Asia/Shanghai:20261130T093000".to_owned()));
        let description = &get("DESCRIPTION")[0];
        assert!(description.contains("东坝\\; 法庭") && description.contains("\\n"));
        assert!(description.contains("北京市朝阳区人民法院\\, 东坝"));
        assert!(get("DESCRIPTION")[1].contains("已取消：法官出差"));
        let begins = lines.iter().filter(|l| l.starts_with("BEGIN:")).count();
        let ends = lines.iter().filter(|l| l.starts_with("END:")).count();
        assert_eq!((begins, ends), (5, 5));
    }
}
