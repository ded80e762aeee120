//! Court time, defined once. Instants are stored and compared in UTC; what a person reads, and
//! every calendar day (a slot's day, a deadline's day, "today"), is Beijing time: UTC+8, with no
//! daylight saving, so a fixed offset is exact.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc};

/// UTC+8.
pub fn beijing() -> FixedOffset {
    // 8 hours east is within chrono's range, so the fallback is never taken.
    FixedOffset::east_opt(8 * 3600).unwrap_or(Utc.fix())
}

/// The Beijing wall-clock time of an instant.
pub fn local(at: DateTime<Utc>) -> NaiveDateTime {
    at.with_timezone(&beijing()).naive_local()
}

/// The Beijing calendar day of an instant.
pub fn local_day(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&beijing()).date_naive()
}

/// The instant of a Beijing wall-clock time.
pub fn instant(day: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
    beijing()
        .from_local_datetime(&day.and_time(time))
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// 00:00 Beijing time of `day`, as an instant.
pub fn day_start(day: NaiveDate) -> DateTime<Utc> {
    // A fixed offset maps every wall-clock time to exactly one instant.
    instant(day, NaiveTime::MIN).unwrap_or_else(|| day.and_time(NaiveTime::MIN).and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beijing_is_eight_hours_ahead_and_days_turn_at_its_midnight() {
        let at = DateTime::parse_from_rfc3339("2026-12-31T16:30:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        assert_eq!(local(at).to_string(), "2027-01-01 00:30:00");
        assert_eq!(local_day(at).to_string(), "2027-01-01");
        let day = NaiveDate::from_ymd_opt(2027, 1, 1).unwrap_or_default();
        assert_eq!(day_start(day).to_rfc3339(), "2026-12-31T16:00:00+00:00");
        assert_eq!(day_start(local_day(at)) + chrono::Duration::minutes(30), at);
    }
}
