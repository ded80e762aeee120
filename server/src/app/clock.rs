//! Court time, defined once. Instants are stored and compared in UTC; what a person reads, and
//! every calendar day (a slot's day, a deadline's day, "today"), is Beijing time: UTC+8, with no
//! daylight saving, so a fixed offset is exact.

use chrono::{
    DateTime, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset, SubsecRound,
    TimeZone, Utc,
};
use serde::Serialize;
use utoipa::ToSchema;

use std::collections::{BTreeSet, HashMap};

use chrono::{Datelike, Weekday};

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

/// The server's "now", read in one place. The served binary always runs on the system clock;
/// tests may start an application on a clock that begins at a fixed instant and runs on from
/// there ([`Clock::starting_at`], reachable only from Rust code that builds the application: no
/// setting, variable or request turns it on).
#[derive(Debug, Clone, Copy, Default)]
pub struct Clock {
    /// Added to the system time: zero on the system clock.
    offset: Duration,
}

impl Clock {
    pub fn system() -> Clock {
        Clock::default()
    }

    /// A clock that reads `at` now and then runs at the pace of the system clock. For tests:
    /// `courtlink serve` never builds one (tests/server/clocks.rs checks).
    #[doc(hidden)]
    pub fn starting_at(at: DateTime<Utc>) -> Clock {
        Clock {
            offset: at - Utc::now(),
        }
    }

    /// Now, to the whole second (stored timestamps compare as text in SQLite).
    pub fn now(&self) -> DateTime<Utc> {
        (Utc::now() + self.offset).trunc_subsecs(0)
    }

    /// Today in Beijing.
    pub fn today(&self) -> NaiveDate {
        local_day(self.now())
    }
}

// --- the national calendar ---------------------------------------------------------------------

/// One day of the national calendar that differs from Monday–Friday.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalendarDay {
    Holiday,
    /// A worked weekend day (调休), following the timetable of this weekday.
    Workday {
        follows: u32,
    },
}

#[derive(Debug, Clone, Default)]
pub struct Calendar {
    pub days: HashMap<NaiveDate, CalendarDay>,
    /// The years whose calendar is loaded: only their days are known to work or not.
    pub loaded_years: BTreeSet<i32>,
    /// Years not loaded on which an admin has allowed slots on the Monday–Friday pattern.
    pub allowed_years: BTreeSet<i32>,
}

impl Calendar {
    /// The day's year has its calendar loaded.
    pub fn knows(&self, day: NaiveDate) -> bool {
        self.loaded_years.contains(&day.year())
    }

    /// Slots may be published on this day: its year is loaded, or an admin allowed it.
    pub fn publishable(&self, day: NaiveDate) -> bool {
        self.knows(day) || self.allowed_years.contains(&day.year())
    }

    /// The weekday whose template applies on `day`, or `None` when nobody works that day.
    pub fn timetable(&self, day: NaiveDate) -> Option<u32> {
        match self.days.get(&day) {
            Some(CalendarDay::Holiday) => None,
            Some(CalendarDay::Workday { follows }) => Some(*follows),
            None => match day.weekday() {
                Weekday::Sat | Weekday::Sun => None,
                other => Some(other.number_from_monday()),
            },
        }
    }

    pub fn is_working_day(&self, day: NaiveDate) -> bool {
        self.timetable(day).is_some()
    }
}

// --- periods -------------------------------------------------------------------------------------

/// How a period is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Calendar days; a last day that is a holiday or a rest day moves to the next working day
    /// (民法典 art. 203).
    CalendarDays,
    /// Working days: holidays and rest days are skipped, make-up days (调休) count.
    WorkingDays,
}

/// The last day of a period, and whether it rests on a year whose calendar is not loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub day: NaiveDate,
    /// Some day the rule had to look at lies in a year whose calendar is not loaded: the day is
    /// what Monday–Friday would give, and may move when that year is loaded.
    pub provisional: bool,
}

/// A period of `length` units that starts with an event on `start` (the day of the event is
/// not counted: 60 days from 1 March end on 30 April).
pub fn period_end(calendar: &Calendar, start: NaiveDate, length: i64, unit: Unit) -> Due {
    let mut provisional = false;
    let mut look = |day: NaiveDate| {
        provisional |= !calendar.knows(day);
        calendar.is_working_day(day)
    };
    let mut day = start;
    match unit {
        Unit::CalendarDays => {
            day = start + Duration::days(length);
            // A last day off moves on to the next working day; a year has fewer than 30 days
            // off in a row, so the bound only guards bad calendars.
            for _ in 0..60 {
                if look(day) {
                    break;
                }
                day += Duration::days(1);
            }
        }
        Unit::WorkingDays => {
            let mut left = length;
            let mut guard = 0;
            while left > 0 && guard < length * 4 + 60 {
                day += Duration::days(1);
                guard += 1;
                if look(day) {
                    left -= 1;
                }
            }
        }
    }
    Due { day, provisional }
}

// --- the statutory clocks of a case --------------------------------------------------------------

/// 信访工作条例: decide on acceptance within 15 days of receipt.
pub const ACCEPTANCE_DAYS: i64 = 15;
/// Handle within 60 days of acceptance (extendable once, by up to 30, with approval).
pub const HANDLING_DAYS: i64 = 60;
/// The most an approved extension adds.
pub const MAX_EXTENSION_DAYS: i64 = 30;
/// Ask for a review (复查) or re-review (复核) within 30 days; decided within 30 days.
pub const REVIEW_DAYS: i64 = 30;

/// The dates a case's clocks run from (`YYYY-MM-DD`, Beijing).
#[derive(Default)]
pub struct CaseDates<'a> {
    pub received: Option<&'a str>,
    pub accepted: Option<&'a str>,
    /// Days of an *approved* extension (0 when none was approved).
    pub extension_days: i32,
    pub answered: Option<&'a str>,
    pub review_requested: Option<&'a str>,
    pub review_decided: Option<&'a str>,
    pub rereview_requested: Option<&'a str>,
    pub rereview_decided: Option<&'a str>,
}

/// One clock of a case (docs/clocks.md).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CaseClock {
    /// `acceptance`, `handling`, `review_request`, `review`, `rereview_request`, `rereview`.
    pub name: &'static str,
    /// Whose obligation it is: `court` (overdue when it passes) or `petitioner` (a window).
    pub party: &'static str,
    /// `YYYY-MM-DD`, after the holiday rule.
    pub due: String,
    pub unit: Unit,
    /// The stopping event has happened.
    pub stopped: bool,
    /// The due day rests on a year whose calendar is not loaded.
    pub provisional: bool,
    /// A court's open clock whose due day has passed.
    pub overdue: bool,
}

/// What is due when (信访工作条例, calendar days, 民法典 art. 203 for a last day off): deciding
/// on acceptance within 15 days of receipt; handling within 60 days of acceptance, extended once
/// by up to 30 days only with a person in charge's approval; after the written answer the
/// petitioner may ask for a review (复查) within 30 days, decided within 30 days, and then for a
/// re-review (复核) on the same terms. Each clock stops at its event.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Clocks {
    pub acceptance_due: Option<String>,
    pub handling_due: Option<String>,
    /// The petitioner's windows to ask, and the court's deadlines to decide.
    pub review_request_until: Option<String>,
    pub review_due: Option<String>,
    pub rereview_request_until: Option<String>,
    pub rereview_due: Option<String>,
    /// The court's next open obligation, and whether it has passed.
    pub next_due: Option<String>,
    pub overdue: bool,
    /// The next due day rests on a year whose calendar is not loaded.
    pub provisional: bool,
    /// Every clock that has started, in the order a case meets them.
    pub all: Vec<CaseClock>,
}

fn date(s: Option<&str>) -> Option<NaiveDate> {
    s.and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
}

impl Clocks {
    pub fn of(d: &CaseDates<'_>, calendar: &Calendar, today: NaiveDate) -> Clocks {
        let received = date(d.received);
        let accepted = date(d.accepted);
        let answered = date(d.answered);
        let review_requested = date(d.review_requested);
        let review_decided = date(d.review_decided);
        let rereview_requested = date(d.rereview_requested);
        let rereview_decided = date(d.rereview_decided);
        let mut all = Vec::new();
        let mut clock = |name: &'static str,
                         party: &'static str,
                         start: Option<NaiveDate>,
                         days: i64,
                         stop: bool|
         -> Option<Due> {
            let due = period_end(calendar, start?, days, Unit::CalendarDays);
            all.push(CaseClock {
                name,
                party,
                due: due.day.to_string(),
                unit: Unit::CalendarDays,
                stopped: stop,
                provisional: due.provisional,
                overdue: party == "court" && !stop && due.day < today,
            });
            Some(due)
        };
        let extension = i64::from(d.extension_days).clamp(0, MAX_EXTENSION_DAYS);
        // A later event stops an earlier clock too: a case answered without a recorded
        // acceptance has been accepted.
        let acceptance = clock(
            "acceptance",
            "court",
            received,
            ACCEPTANCE_DAYS,
            accepted.is_some() || answered.is_some(),
        );
        let handling = clock(
            "handling",
            "court",
            accepted,
            HANDLING_DAYS + extension,
            answered.is_some(),
        );
        let review_request = clock(
            "review_request",
            "petitioner",
            answered,
            REVIEW_DAYS,
            review_requested.is_some(),
        );
        let review = clock(
            "review",
            "court",
            review_requested,
            REVIEW_DAYS,
            review_decided.is_some(),
        );
        let rereview_request = clock(
            "rereview_request",
            "petitioner",
            review_decided,
            REVIEW_DAYS,
            rereview_requested.is_some(),
        );
        let rereview = clock(
            "rereview",
            "court",
            rereview_requested,
            REVIEW_DAYS,
            rereview_decided.is_some(),
        );
        // The court's obligation at the stage the case has reached: the open clock, if any.
        let next = all
            .iter()
            .rev()
            .find(|c| c.party == "court" && !c.stopped)
            .cloned();
        let text = |d: Option<Due>| d.map(|d| d.day.to_string());
        Clocks {
            acceptance_due: text(acceptance),
            handling_due: text(handling),
            review_request_until: text(review_request),
            review_due: text(review),
            rereview_request_until: text(rereview_request),
            rereview_due: text(rereview),
            next_due: next.as_ref().map(|c| c.due.clone()),
            overdue: next.as_ref().is_some_and(|c| c.overdue),
            provisional: next.as_ref().is_some_and(|c| c.provisional),
            all,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    /// 2026 as shipped (migration 0008), around National Day, and loaded.
    fn calendar_2026() -> Calendar {
        let mut c = Calendar::default();
        c.loaded_years.insert(2026);
        for d in [
            "2026-09-25",
            "2026-09-26",
            "2026-09-27",
            "2026-10-01",
            "2026-10-02",
            "2026-10-03",
            "2026-10-04",
            "2026-10-05",
            "2026-10-06",
            "2026-10-07",
        ] {
            c.days.insert(day(d), CalendarDay::Holiday);
        }
        c.days
            .insert(day("2026-09-20"), CalendarDay::Workday { follows: 4 });
        c.days
            .insert(day("2026-10-10"), CalendarDay::Workday { follows: 5 });
        c
    }

    #[test]
    fn a_period_ending_on_a_holiday_ends_on_the_next_working_day() {
        let c = calendar_2026();
        // docs/clocks.md, worked example: a review asked on 1 September is due 30 days later,
        // 1 October, National Day; the holiday runs to 7 October, so it is due on Thursday 8.
        let due = period_end(&c, day("2026-09-01"), 30, Unit::CalendarDays);
        assert_eq!(
            due,
            Due {
                day: day("2026-10-08"),
                provisional: false
            }
        );
        // Ending on a Saturday moves to Monday; ending on a make-up Saturday stays.
        assert_eq!(
            period_end(&c, day("2026-11-04"), 3, Unit::CalendarDays).day,
            day("2026-11-09")
        );
        assert_eq!(
            period_end(&c, day("2026-10-07"), 3, Unit::CalendarDays).day,
            day("2026-10-10")
        );
        // An ordinary weekday stays where the count ends.
        assert_eq!(
            period_end(&c, day("2026-11-02"), 2, Unit::CalendarDays).day,
            day("2026-11-04")
        );
    }

    #[test]
    fn working_days_skip_holidays_and_count_make_up_days() {
        let c = calendar_2026();
        // From Wednesday 30 September: Thu 1 – Wed 7 October are holidays, Thu 8 and Fri 9
        // work, Saturday 10 is a make-up day, then Monday 12.
        let due = |n| period_end(&c, day("2026-09-30"), n, Unit::WorkingDays).day;
        assert_eq!(due(1), day("2026-10-08"));
        assert_eq!(due(3), day("2026-10-10"));
        assert_eq!(due(4), day("2026-10-12"));
        // Sunday 20 September is a make-up day: one working day from Saturday 19 is Sunday 20.
        assert_eq!(
            period_end(&c, day("2026-09-19"), 1, Unit::WorkingDays).day,
            day("2026-09-20")
        );
    }

    #[test]
    fn a_day_of_an_unloaded_year_is_provisional() {
        let c = calendar_2026();
        let due = period_end(&c, day("2026-12-20"), 15, Unit::CalendarDays);
        assert_eq!(due.day, day("2027-01-04"));
        assert!(due.provisional, "2027 is not loaded");
        let known = period_end(&c, day("2026-11-01"), 15, Unit::CalendarDays);
        assert!(!known.provisional);
    }

    #[test]
    fn each_clock_stops_at_its_event_and_only_open_clocks_are_overdue() {
        let c = calendar_2026();
        let today = day("2026-11-30");
        let mut d = CaseDates {
            received: Some("2026-06-01"),
            accepted: Some("2026-06-05"),
            answered: Some("2026-07-01"),
            review_requested: Some("2026-07-10"),
            review_decided: Some("2026-08-01"),
            rereview_requested: Some("2026-08-10"),
            ..CaseDates::default()
        };
        let open = Clocks::of(&d, &c, today);
        // 10 August + 30 = 9 September, a Wednesday.
        assert_eq!(open.next_due.as_deref(), Some("2026-09-09"));
        assert!(open.overdue);
        d.rereview_decided = Some("2026-09-01");
        let closed = Clocks::of(&d, &c, today);
        assert_eq!(closed.next_due, None);
        assert!(!closed.overdue);
        assert!(closed.all.iter().all(|c| !c.overdue), "{:?}", closed.all);
        assert_eq!(closed.rereview_due.as_deref(), Some("2026-09-09"));
    }

    #[test]
    fn only_an_approved_extension_moves_the_handling_clock() {
        let c = calendar_2026();
        let d = CaseDates {
            accepted: Some("2026-08-02"),
            ..CaseDates::default()
        };
        // 2 August + 60 = 1 October → 8 October; + 30 more = 31 October, a Saturday → 2 November.
        let plain = Clocks::of(&d, &c, day("2026-08-03"));
        assert_eq!(plain.handling_due.as_deref(), Some("2026-10-08"));
        let extended = Clocks::of(
            &CaseDates {
                extension_days: 30,
                ..d
            },
            &c,
            day("2026-08-03"),
        );
        assert_eq!(extended.handling_due.as_deref(), Some("2026-11-02"));
    }

    #[test]
    fn a_fixed_clock_reads_its_instant() {
        let at = DateTime::parse_from_rfc3339("2026-09-28T02:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        let clock = Clock::starting_at(at);
        assert!((clock.now() - at).num_seconds().abs() <= 1);
        assert_eq!(clock.today(), day("2026-09-28"));
    }

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

    #[test]
    fn statutory_clocks() {
        // Last days on a weekend move to Monday: 9 January 2027 (a Saturday, and provisional:
        // 2027 is not loaded) and 20 December 2026 (a Sunday).
        let cal = calendar_2026();
        let today = day("2026-11-28");
        let d = |received, accepted, extension_days| CaseDates {
            received,
            accepted,
            extension_days,
            ..CaseDates::default()
        };
        let c = Clocks::of(&d(Some("2026-11-01"), None, 0), &cal, today);
        assert_eq!(
            (
                c.acceptance_due.as_deref(),
                c.next_due.as_deref(),
                c.overdue
            ),
            (Some("2026-11-16"), Some("2026-11-16"), true)
        );
        let c = Clocks::of(&d(Some("2026-11-01"), Some("2026-11-10"), 0), &cal, today);
        assert_eq!(
            (c.handling_due.as_deref(), c.next_due.as_deref(), c.overdue),
            (Some("2027-01-11"), Some("2027-01-11"), false)
        );
        let c = Clocks::of(&d(Some("2026-11-01"), Some("2026-11-10"), 30), &cal, today);
        assert_eq!(c.handling_due.as_deref(), Some("2027-02-08"));
        assert_eq!(
            Clocks::of(&CaseDates::default(), &cal, today).next_due,
            None
        );
        // Answered: the petitioner has 30 days to ask for a review; nothing is due from the court.
        let answered = CaseDates {
            answered: Some("2026-11-20"),
            ..d(Some("2026-10-01"), Some("2026-10-05"), 0)
        };
        let c = Clocks::of(&answered, &cal, today);
        assert_eq!(
            (c.review_request_until.as_deref(), c.next_due.as_deref()),
            (Some("2026-12-21"), None)
        );
        // A review asked for is due 30 days later; after it, a re-review on the same terms.
        let review = CaseDates {
            review_requested: Some("2026-10-20"),
            ..answered
        };
        assert_eq!(
            (
                Clocks::of(&review, &cal, today).next_due.as_deref(),
                Clocks::of(&review, &cal, today).overdue
            ),
            (Some("2026-11-19"), true)
        );
        let decided = CaseDates {
            review_decided: Some("2026-11-15"),
            ..review
        };
        let c = Clocks::of(&decided, &cal, today);
        assert_eq!(
            (c.rereview_request_until.as_deref(), c.next_due.as_deref()),
            (Some("2026-12-15"), None)
        );
        let rereview = CaseDates {
            rereview_requested: Some("2026-11-25"),
            ..decided
        };
        assert_eq!(
            Clocks::of(&rereview, &cal, today).next_due.as_deref(),
            Some("2026-12-25")
        );
    }
}
