//! The national working-day calendar as a year at a time: checking a year before it is loaded
//! (from JSON or from the small CSV file of docs/clocks.md), and telling the admin when a year
//! that slots or clocks reach is not loaded.

use std::collections::HashSet;

use chrono::{Datelike, NaiveDate, Weekday};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ErrorCode;
use crate::store::Store;
use crate::store::schedule::CalendarEntry;

/// The admin is warned this many days before a year whose calendar is missing starts.
pub const WARN_DAYS_BEFORE: i64 = 60;

/// What is wrong with one row of a calendar upload. `row` counts from 1: the CSV file's line
/// number, or the JSON array's element.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RowError {
    pub row: usize,
    /// `calendar_bad_row`, `calendar_bad_day`, `calendar_wrong_year`, `calendar_duplicate_day`,
    /// `calendar_bad_kind`, `calendar_unnamed`, `calendar_makeup_not_weekend`,
    /// `calendar_bad_follows`.
    pub code: ErrorCode,
    pub message: String,
}

fn row_error(row: usize, code: ErrorCode, message: impl Into<String>) -> RowError {
    RowError {
        row,
        code,
        message: message.into(),
    }
}

/// Checks one year's entries: each day once and in that year, a holiday named and following
/// no timetable, a make-up day (调休) named, on a Saturday or Sunday, and following a weekday
/// 1–5. Every problem is reported, with its row; nothing is loaded unless there are none.
pub fn check_year(year: i32, rows: &[(usize, CalendarEntry)]) -> Result<(), Vec<RowError>> {
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    for (row, e) in rows {
        let row = *row;
        let day = match NaiveDate::parse_from_str(&e.day, "%Y-%m-%d") {
            Ok(day) if day.format("%Y-%m-%d").to_string() == e.day => day,
            _ => {
                errors.push(row_error(
                    row,
                    ErrorCode::CalendarBadDay,
                    format!("{:?} is not a day written YYYY-MM-DD", e.day),
                ));
                continue;
            }
        };
        if day.year() != year {
            errors.push(row_error(
                row,
                ErrorCode::CalendarWrongYear,
                format!("{} is not in {year}", e.day),
            ));
        }
        if !seen.insert(day) {
            errors.push(row_error(
                row,
                ErrorCode::CalendarDuplicateDay,
                format!("{} is given twice", e.day),
            ));
        }
        let name = e.name.trim();
        if name.is_empty() || name.chars().count() > 50 {
            errors.push(row_error(
                row,
                ErrorCode::CalendarUnnamed,
                format!("{}: name it (1 to 50 characters), e.g. 国庆节", e.day),
            ));
        }
        let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
        match (e.kind.as_str(), e.follows_weekday) {
            ("holiday", None) => {}
            ("holiday", Some(_)) => errors.push(row_error(
                row,
                ErrorCode::CalendarBadFollows,
                format!("{}: a holiday follows no timetable", e.day),
            )),
            ("workday", follows) => {
                if !weekend {
                    errors.push(row_error(
                        row,
                        ErrorCode::CalendarMakeupNotWeekend,
                        format!(
                            "{}: a make-up working day (调休) is a Saturday or Sunday",
                            e.day
                        ),
                    ));
                }
                if !matches!(follows, Some(1..=5)) {
                    errors.push(row_error(
                        row,
                        ErrorCode::CalendarBadFollows,
                        format!(
                            "{}: a make-up working day names the weekday (1–5) whose timetable it follows",
                            e.day
                        ),
                    ));
                }
            }
            (other, _) => errors.push(row_error(
                row,
                ErrorCode::CalendarBadKind,
                format!("{}: kind is holiday or workday, not {other:?}", e.day),
            )),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Reads the CSV upload (docs/clocks.md): UTF-8, a header `day,kind,name,follows_weekday`,
/// then one day a line; blank lines and lines starting with `#` are skipped. Rows carry their
/// line numbers. Written by hand: four plain columns without quoting, smaller than a crate.
pub fn parse_csv(text: &str) -> Result<Vec<(usize, CalendarEntry)>, Vec<RowError>> {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut header = false;
    for (i, line) in text.trim_start_matches('\u{feff}').lines().enumerate() {
        let n = i + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        if !header {
            header = true;
            if cells != ["day", "kind", "name", "follows_weekday"] {
                errors.push(row_error(
                    n,
                    ErrorCode::CalendarBadRow,
                    "the first line is the header day,kind,name,follows_weekday",
                ));
                break;
            }
            continue;
        }
        let [day, kind, name, follows] = cells.as_slice() else {
            errors.push(row_error(
                n,
                ErrorCode::CalendarBadRow,
                format!(
                    "four columns, separated by commas; this line has {}",
                    cells.len()
                ),
            ));
            continue;
        };
        let follows_weekday = match *follows {
            "" => None,
            f => match f.parse::<i32>() {
                Ok(w) => Some(w),
                Err(_) => {
                    errors.push(row_error(
                        n,
                        ErrorCode::CalendarBadFollows,
                        format!("follows_weekday is a number 1–5 or empty, not {f:?}"),
                    ));
                    continue;
                }
            },
        };
        rows.push((
            n,
            CalendarEntry {
                day: (*day).to_owned(),
                kind: (*kind).to_owned(),
                name: (*name).to_owned(),
                follows_weekday,
            },
        ));
    }
    if !header {
        errors.push(row_error(1, ErrorCode::CalendarBadRow, "the file is empty"));
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

/// One year the admin must see to.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CalendarWarning {
    /// `calendar_year_missing`: the year starts within 60 days (or has started) and its
    /// holidays are not loaded.
    pub code: ErrorCode,
    pub year: i32,
    /// Days until the year starts (0 or less: it has started).
    pub starts_in_days: i64,
    /// Slots are published on its days on the Monday–Friday pattern (an admin allowed it).
    pub allow_unloaded: bool,
    pub message: String,
}

/// The years of concern on `today`: this year and, from 60 days before it starts, next year,
/// when not loaded.
pub async fn warnings(
    store: &Store,
    today: NaiveDate,
) -> Result<Vec<CalendarWarning>, crate::store::StoreError> {
    let calendar = store.calendar().await?;
    let mut out = Vec::new();
    for year in [today.year(), today.year() + 1] {
        let Some(starts) = NaiveDate::from_ymd_opt(year, 1, 1) else {
            continue;
        };
        let starts_in_days = (starts - today).num_days();
        if calendar.loaded_years.contains(&year) || starts_in_days > WARN_DAYS_BEFORE {
            continue;
        }
        let allow_unloaded = calendar.allowed_years.contains(&year);
        out.push(CalendarWarning {
            code: ErrorCode::CalendarYearMissing,
            year,
            starts_in_days,
            allow_unloaded,
            message: format!(
                "{year}年的法定节假日安排尚未导入：{}",
                if allow_unloaded {
                    "已允许按周一至周五排期，节假日可能被误排"
                } else {
                    "该年各日不发布号源，期限按周一至周五暂算"
                }
            ),
        });
    }
    Ok(out)
}

/// Logs the warnings (the schedule keeper calls this; it logs at most once a day).
pub async fn warn_in_log(
    store: &Store,
    today: NaiveDate,
    last: Option<NaiveDate>,
) -> Option<NaiveDate> {
    if last == Some(today) {
        return last;
    }
    match warnings(store, today).await {
        Ok(found) => {
            for w in found {
                tracing::warn!(
                    year = w.year,
                    starts_in_days = w.starts_in_days,
                    allow_unloaded = w.allow_unloaded,
                    "the national calendar of {} is not loaded: load it with PUT /api/v1/calendar/{}",
                    w.year,
                    w.year
                );
            }
            Some(today)
        }
        Err(e) => {
            tracing::warn!(error = %e, "reading the calendar's years failed; retried within the hour");
            last
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_example_file_is_read_and_checked() {
        let text = include_str!("../../../config/calendar/2027.example.csv");
        let rows = parse_csv(text).unwrap();
        assert!(!rows.is_empty());
        assert_eq!(check_year(2027, &rows), Ok(()));
    }

    #[test]
    fn a_bad_file_gets_a_code_per_row() {
        let text = "# example\nday,kind,name,follows_weekday\n\
                    2031-05-01,holiday,劳动节,\n\
                    2031-05-01,holiday,劳动节,\n\
                    2031-05-07,workday,调休,3\n\
                    2031-05-10,workday,,9\n\
                    2032-01-01,holiday,元旦,\n\
                    2031-5-2,holiday,劳动节,\n\
                    2031-05-03,vacation,劳动节,\n\
                    2031-05-04,holiday\n";
        let rows = parse_csv(text).map_err(|e| e[0].code.as_str());
        assert_eq!(rows, Err("calendar_bad_row"));
        let rows = parse_csv(text.trim_end().rsplit_once('\n').unwrap().0).unwrap();
        let errors: Vec<(usize, &str)> = check_year(2031, &rows)
            .unwrap_err()
            .into_iter()
            .map(|e| (e.row, e.code.as_str()))
            .collect();
        assert_eq!(
            errors,
            [
                (4, "calendar_duplicate_day"),
                (5, "calendar_makeup_not_weekend"),
                (6, "calendar_unnamed"),
                (6, "calendar_bad_follows"),
                (7, "calendar_wrong_year"),
                (8, "calendar_bad_day"),
                (9, "calendar_bad_kind"),
            ]
        );
    }
}
