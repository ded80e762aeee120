//! Availability: the slots a host room offers, computed from its weekly template, its date
//! overrides and the national working-day calendar (statutory holidays and make-up days, 调休).
//!
//! Everything here is pure: the store loads the inputs, this module says which slots they yield,
//! and the store publishes the difference. Times of day are Asia/Shanghai wall-clock time; China
//! has had no daylight saving since 1991, so a fixed +08:00 offset is exact.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

use crate::app::clock;

pub use crate::app::clock::local_day;
// The forms a host court writes (templates, windows, categories) and their checks are in the
// parsers crate, beside the other request bodies.
pub use courtlink_parsers::schedule::{
    Category, MAX_BUFFER_MINUTES, MAX_SLOT_MINUTES, MIN_SLOT_MINUTES, ParsedWindow, ScheduleError,
    Template, TemplateDay, Window,
};

/// A date's exception for one room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Override {
    /// Closed all day (a meeting, maintenance): the template's windows do not apply.
    Closed,
    /// An extra opening, added to whatever the template gives (also on a holiday or weekend).
    Open(ParsedWindow, Option<Category>),
}

pub use crate::app::clock::{Calendar, CalendarDay};

/// A slot that the inputs yield.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Computed {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub theme: Option<Category>,
}

fn at(day: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
    clock::instant(day, time)
}

fn cut(day: NaiveDate, w: &ParsedWindow, theme: Option<Category>, out: &mut Vec<Computed>) {
    let (Some(mut start), Some(end)) = (at(day, w.opens), at(day, w.closes)) else {
        return;
    };
    let length = chrono::Duration::minutes(i64::from(w.slot_minutes));
    let step = length + chrono::Duration::minutes(i64::from(w.buffer_minutes));
    while start + length <= end {
        out.push(Computed {
            starts_at: start,
            ends_at: start + length,
            theme,
        });
        start += step;
    }
}

/// The slots of one room on the days `from..=to` (Asia/Shanghai), in time order. Where an
/// extra opening overlaps the template's windows, the earlier slot wins.
pub fn compute(
    template: &Template,
    overrides: &HashMap<NaiveDate, Vec<Override>>,
    calendar: &Calendar,
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<Computed> {
    let mut out = Vec::new();
    let mut day = from;
    while day <= to {
        let exceptions = overrides.get(&day).map(Vec::as_slice).unwrap_or(&[]);
        let mut today = Vec::new();
        if !exceptions.contains(&Override::Closed) {
            if let Some((theme, windows)) = calendar
                .timetable(day)
                .and_then(|weekday| template.days.get(&weekday))
            {
                for w in windows {
                    cut(day, w, *theme, &mut today);
                }
            }
        }
        for exception in exceptions {
            if let Override::Open(w, theme) = exception {
                cut(day, w, *theme, &mut today);
            }
        }
        today.sort();
        let mut last_end: Option<DateTime<Utc>> = None;
        for slot in today {
            if last_end.is_none_or(|end| slot.starts_at >= end) {
                last_end = Some(slot.ends_at);
                out.push(slot);
            }
        }
        let Some(next) = day.succ_opt() else { break };
        day = next;
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn window(opens: &str, closes: &str, slot: u32, buffer: u32) -> Window {
        Window {
            opens: opens.into(),
            closes: closes.into(),
            slot_minutes: slot,
            buffer_minutes: buffer,
        }
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn calendar_2026() -> Calendar {
        let mut c = Calendar::default();
        c.days.insert(date("2026-10-01"), CalendarDay::Holiday);
        c.days
            .insert(date("2026-10-10"), CalendarDay::Workday { follows: 5 });
        c
    }

    #[test]
    fn a_window_is_cut_into_slots_with_buffers() {
        let t = Template::parse(&[TemplateDay {
            weekday: 1,
            theme: None,
            windows: vec![window("09:00", "12:00", 60, 15)],
        }])
        .unwrap();
        // 2026-11-30 is a Monday.
        let slots = compute(
            &t,
            &HashMap::new(),
            &Calendar::default(),
            date("2026-11-30"),
            date("2026-11-30"),
        );
        let starts: Vec<String> = slots
            .iter()
            .map(|s| {
                s.starts_at
                    .with_timezone(&clock::beijing())
                    .format("%H:%M")
                    .to_string()
            })
            .collect();
        // 09:00, 10:15; 11:30 would end at 12:30, after closing.
        assert_eq!(starts, ["09:00", "10:15"]);
        assert_eq!(slots[0].starts_at.to_rfc3339(), "2026-11-30T01:00:00+00:00");
    }

    #[test]
    fn holidays_close_and_make_up_days_open_with_the_followed_timetable() {
        let t = Template::parse(&[
            TemplateDay {
                weekday: 4,
                theme: None,
                windows: vec![window("09:00", "10:00", 60, 0)],
            },
            TemplateDay {
                weekday: 5,
                theme: Some(Category::Criminal),
                windows: vec![window("14:00", "15:00", 60, 0)],
            },
        ])
        .unwrap();
        let cal = calendar_2026();
        // Thursday 2026-10-01 is National Day; Saturday 2026-10-10 is worked as a Friday.
        let slots = compute(
            &t,
            &HashMap::new(),
            &cal,
            date("2026-09-28"),
            date("2026-10-11"),
        );
        let days: Vec<NaiveDate> = slots.iter().map(|s| local_day(s.starts_at)).collect();
        assert!(!days.contains(&date("2026-10-01")));
        assert!(days.contains(&date("2026-10-08")));
        assert!(days.contains(&date("2026-10-10")));
        assert!(!days.contains(&date("2026-10-11")));
        let saturday = slots
            .iter()
            .find(|s| local_day(s.starts_at) == date("2026-10-10"))
            .unwrap();
        assert_eq!(saturday.theme, Some(Category::Criminal));
        assert_eq!(cal.timetable(date("2026-10-03")), None);
    }

    #[test]
    fn overrides_close_a_day_or_open_an_extra_window() {
        let t = Template::parse(&[TemplateDay {
            weekday: 1,
            theme: None,
            windows: vec![window("09:00", "10:00", 60, 0)],
        }])
        .unwrap();
        let extra = window("09:30", "11:30", 60, 0).parse().unwrap();
        let mut o = HashMap::new();
        o.insert(date("2026-11-30"), vec![Override::Closed]);
        // A Saturday opened by hand, and a Monday where the extra window overlaps the template.
        o.insert(
            date("2026-12-05"),
            vec![Override::Open(extra, Some(Category::Civil))],
        );
        o.insert(date("2026-12-07"), vec![Override::Open(extra, None)]);
        let slots = compute(
            &t,
            &o,
            &Calendar::default(),
            date("2026-11-30"),
            date("2026-12-07"),
        );
        let per_day = |d: &str| {
            slots
                .iter()
                .filter(|s| local_day(s.starts_at) == date(d))
                .count()
        };
        assert_eq!(per_day("2026-11-30"), 0);
        assert_eq!(per_day("2026-12-05"), 2);
        // 09:00–10:00 from the template; 09:30 overlaps it and is dropped; 10:30–11:30 stays.
        assert_eq!(per_day("2026-12-07"), 2);
    }
}
