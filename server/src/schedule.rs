//! Availability: the slots a host room offers, computed from its weekly template, its date
//! overrides and the national working-day calendar (statutory holidays and make-up days, 调休).
//!
//! Everything here is pure: the store loads the inputs, this module says which slots they yield,
//! and the store publishes the difference. Times of day are Asia/Shanghai wall-clock time; China
//! has had no daylight saving since 1991, so a fixed +08:00 offset is exact.

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use crate::app::clock;
use courtlink_parsers::error::ErrorCode;
use utoipa::ToSchema;

pub const MIN_SLOT_MINUTES: u32 = 30;
pub const MAX_SLOT_MINUTES: u32 = 120;
pub const MAX_BUFFER_MINUTES: u32 = 120;

pub use crate::app::clock::local_day;

/// What kind of matter a case is. A themed day admits only cases of its kind.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
// Read through a string, so that `{"theme": 42}` is the field's error, not "malformed JSON".
#[serde(rename_all = "snake_case", try_from = "String")]
pub enum Category {
    Criminal,
    Civil,
    Administrative,
    Enforcement,
    Compensation,
    Other,
}

impl TryFrom<String> for Category {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Category::parse(&s).ok_or_else(|| {
            format!("'{s}' is not a category (criminal, civil, administrative, enforcement, compensation, other)")
        })
    }
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Criminal => "criminal",
            Category::Civil => "civil",
            Category::Administrative => "administrative",
            Category::Enforcement => "enforcement",
            Category::Compensation => "compensation",
            Category::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Category> {
        Some(match s {
            "criminal" => Category::Criminal,
            "civil" => Category::Civil,
            "administrative" => Category::Administrative,
            "enforcement" => Category::Enforcement,
            "compensation" => Category::Compensation,
            "other" => Category::Other,
            _ => return None,
        })
    }
}

/// Why a template or an override is refused; `code` is the API's stable error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleError {
    pub code: ErrorCode,
    pub message: String,
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

fn refuse(code: ErrorCode, message: impl Into<String>) -> ScheduleError {
    ScheduleError {
        code,
        message: message.into(),
    }
}

/// A window of a day in which a room receives: back-to-back slots of `slot_minutes`, each
/// followed by `buffer_minutes` (for notes and the next connection).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// `HH:MM`, Asia/Shanghai.
    #[schema(example = "09:00")]
    pub opens: String,
    /// `HH:MM`, Asia/Shanghai; after `opens`.
    #[schema(example = "12:00")]
    pub closes: String,
    /// 30 to 120.
    pub slot_minutes: u32,
    /// 0 to 120.
    #[serde(default)]
    pub buffer_minutes: u32,
}

/// A window checked and parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedWindow {
    pub opens: NaiveTime,
    pub closes: NaiveTime,
    pub slot_minutes: u32,
    pub buffer_minutes: u32,
}

/// An `HH:MM` time, in exactly that form: windows are stored, sorted and shown as text (found by
/// fuzzing: chrono also reads ` 9:00` and `09: 0`).
fn parse_time(field: &str, s: &str) -> Result<NaiveTime, ScheduleError> {
    NaiveTime::parse_from_str(s, "%H:%M")
        .ok()
        .filter(|t| t.format("%H:%M").to_string() == s)
        .ok_or_else(|| {
            refuse(
                ErrorCode::BadTime,
                format!("{field} must be a time of day as HH:MM, not {s:?}"),
            )
        })
}

impl Window {
    pub fn parse(&self) -> Result<ParsedWindow, ScheduleError> {
        let opens = parse_time("opens", &self.opens)?;
        let closes = parse_time("closes", &self.closes)?;
        if closes <= opens {
            return Err(refuse(
                ErrorCode::BadWindow,
                format!(
                    "the window {}–{} closes before it opens",
                    self.opens, self.closes
                ),
            ));
        }
        if !(MIN_SLOT_MINUTES..=MAX_SLOT_MINUTES).contains(&self.slot_minutes) {
            return Err(refuse(
                ErrorCode::SlotLengthOutOfRange,
                format!(
                    "a slot lasts {MIN_SLOT_MINUTES} to {MAX_SLOT_MINUTES} minutes, not {}",
                    self.slot_minutes
                ),
            ));
        }
        if self.buffer_minutes > MAX_BUFFER_MINUTES {
            return Err(refuse(
                ErrorCode::BufferOutOfRange,
                format!(
                    "the buffer between slots is 0 to {MAX_BUFFER_MINUTES} minutes, not {}",
                    self.buffer_minutes
                ),
            ));
        }
        if (closes - opens).num_minutes() < i64::from(self.slot_minutes) {
            return Err(refuse(
                ErrorCode::BadWindow,
                format!(
                    "the window {}–{} is shorter than one {}-minute slot",
                    self.opens, self.closes, self.slot_minutes
                ),
            ));
        }
        Ok(ParsedWindow {
            opens,
            closes,
            slot_minutes: self.slot_minutes,
            buffer_minutes: self.buffer_minutes,
        })
    }
}

/// One weekday of a room's weekly template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateDay {
    /// 1 = Monday … 5 = Friday. Weekends and holidays open only by a date override.
    pub weekday: u32,
    /// Only cases of this kind may book this day.
    #[serde(default)]
    pub theme: Option<Category>,
    pub windows: Vec<Window>,
}

/// A room's weekly template, checked: windows per weekday (1..=5), sorted, not overlapping.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Template {
    pub days: HashMap<u32, (Option<Category>, Vec<ParsedWindow>)>,
}

fn check_no_overlap(label: &str, windows: &mut [ParsedWindow]) -> Result<(), ScheduleError> {
    windows.sort_by_key(|w| w.opens);
    for pair in windows.windows(2) {
        if pair[1].opens < pair[0].closes {
            return Err(refuse(
                ErrorCode::TemplateOverlap,
                format!(
                    "{label}: the windows {}–{} and {}–{} overlap",
                    pair[0].opens.format("%H:%M"),
                    pair[0].closes.format("%H:%M"),
                    pair[1].opens.format("%H:%M"),
                    pair[1].closes.format("%H:%M")
                ),
            ));
        }
    }
    Ok(())
}

impl Template {
    pub fn parse(days: &[TemplateDay]) -> Result<Template, ScheduleError> {
        let mut out = Template::default();
        for day in days {
            if !(1..=5).contains(&day.weekday) {
                return Err(refuse(
                    ErrorCode::BadWeekday,
                    format!(
                        "weekday is 1 (Monday) to 5 (Friday), not {}; open a weekend day with a date override",
                        day.weekday
                    ),
                ));
            }
            if out.days.contains_key(&day.weekday) {
                return Err(refuse(
                    ErrorCode::BadWeekday,
                    format!("weekday {} is given twice", day.weekday),
                ));
            }
            let mut windows = day
                .windows
                .iter()
                .map(Window::parse)
                .collect::<Result<Vec<_>, _>>()?;
            check_no_overlap(&format!("weekday {}", day.weekday), &mut windows)?;
            out.days.insert(day.weekday, (day.theme, windows));
        }
        Ok(out)
    }
}

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

    #[test]
    fn bad_templates_are_refused_with_a_code() {
        let code = |days: &[TemplateDay]| Template::parse(days).unwrap_err().code.as_str();
        let day = |weekday, windows| TemplateDay {
            weekday,
            theme: None,
            windows,
        };
        assert_eq!(
            code(&[day(
                2,
                vec![
                    window("09:00", "11:00", 60, 0),
                    window("10:30", "12:00", 60, 0)
                ]
            )]),
            "template_overlap"
        );
        assert_eq!(
            code(&[day(2, vec![window("09:00", "12:00", 20, 0)])]),
            "slot_length_out_of_range"
        );
        assert_eq!(
            code(&[day(2, vec![window("09:00", "12:00", 150, 0)])]),
            "slot_length_out_of_range"
        );
        assert_eq!(
            code(&[day(2, vec![window("12:00", "09:00", 60, 0)])]),
            "bad_window"
        );
        assert_eq!(
            code(&[day(2, vec![window("09:00", "09:45", 60, 0)])]),
            "bad_window"
        );
        assert_eq!(
            code(&[day(2, vec![window("9:00", "12:00", 60, 0)])]),
            "bad_time"
        );
        assert_eq!(
            code(&[day(2, vec![window("25:00", "26:00", 60, 0)])]),
            "bad_time"
        );
        assert_eq!(
            code(&[day(6, vec![window("09:00", "12:00", 60, 0)])]),
            "bad_weekday"
        );
        assert_eq!(code(&[day(2, vec![]), day(2, vec![])]), "bad_weekday");
        assert_eq!(
            code(&[day(2, vec![window("09:00", "12:00", 60, 200)])]),
            "buffer_out_of_range"
        );
    }
}
