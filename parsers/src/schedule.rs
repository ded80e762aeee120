//! A host room's weekly template and date windows as a host court writes them, and its booking
//! rules: the forms and their checks (docs/scheduling.md). The server's `schedule` module turns
//! checked templates into slots; the store keeps them.

use std::collections::HashMap;
use std::fmt;

use chrono::NaiveTime;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ErrorCode;

pub const MIN_SLOT_MINUTES: u32 = 30;
pub const MAX_SLOT_MINUTES: u32 = 120;
pub const MAX_BUFFER_MINUTES: u32 = 120;

string_enum!(
    /// What kind of matter a case is. A themed day admits only cases of its kind.
    Category {
        Criminal => "criminal",
        Civil => "civil",
        Administrative => "administrative",
        Enforcement => "enforcement",
        Compensation => "compensation",
        Other => "other",
    }
);

impl Category {
    pub fn parse(s: &str) -> Option<Category> {
        s.parse().ok()
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

/// A host court's booking rules. A court without a row has the defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct HostSettings {
    #[serde(skip_deserializing)]
    pub court_id: i64,
    /// How far ahead slots are published and may be booked, in days (1–180).
    pub horizon_days: i32,
    /// A booking must be made at least this many hours before the slot starts (0–720).
    pub min_notice_hours: i32,
    /// Applications with a chosen free slot are booked at once, without review.
    pub auto_approve: bool,
    /// Live bookings one local court may hold with this court in one week; null: no limit.
    pub weekly_limit_per_local_court: Option<i32>,
    /// Live, future bookings one petitioner may hold at once (1–100).
    pub active_limit_per_petitioner: i32,
    #[serde(skip_deserializing)]
    pub version: i32,
}

impl HostSettings {
    pub fn defaults(court_id: i64) -> HostSettings {
        HostSettings {
            court_id,
            horizon_days: 28,
            min_notice_hours: 24,
            auto_approve: false,
            weekly_limit_per_local_court: None,
            active_limit_per_petitioner: 2,
            version: 0,
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if !(1..=180).contains(&self.horizon_days) {
            return Err("horizon_days must be 1 to 180".into());
        }
        if !(0..=720).contains(&self.min_notice_hours) {
            return Err("min_notice_hours must be 0 to 720".into());
        }
        if let Some(limit) = self.weekly_limit_per_local_court {
            if !(1..=1000).contains(&limit) {
                return Err("weekly_limit_per_local_court must be 1 to 1000, or null".into());
            }
        }
        if !(1..=100).contains(&self.active_limit_per_petitioner) {
            return Err("active_limit_per_petitioner must be 1 to 100".into());
        }
        Ok(())
    }
}

/// A calendar day that differs from Monday–Friday.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
#[serde(deny_unknown_fields)]
pub struct CalendarEntry {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// `holiday` or `workday` (a worked weekend day, 调休).
    pub kind: String,
    pub name: String,
    /// For a workday: the weekday (1–5) whose timetable it follows.
    #[serde(default)]
    pub follows_weekday: Option<i32>,
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
