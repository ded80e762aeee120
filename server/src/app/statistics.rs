//! The figures a higher court reads (三高三低 and the session counts), made from the counted
//! facts of `store::records`. Every definition is in `docs/statistics.md`, with a hand-worked
//! example that `tests/server/records.rs` checks figure by figure.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::CourtLevel;
use crate::error::ApiError;
use crate::store::Store;
use crate::store::records::{Counts, StatsRow, Under};

/// The figures of one court, or one branch of the hierarchy, over the period, for some class
/// of cases. Definitions are in `docs/statistics.md`.
#[derive(Serialize, ToSchema, Debug, Clone, PartialEq)]
pub struct Figures {
    /// Sessions booked by the branch's local courts (not cancelled), by scheduled start.
    pub booked: i64,
    pub cancelled: i64,
    /// Booked sessions that took place (ended: a reception was held).
    pub held: i64,
    /// Held sessions in which nobody confirmed the petitioner's identity (counted apart).
    pub held_unconfirmed: i64,
    /// Held sessions whose recording has a gap: the recorder lost some participant's stream
    /// for a while (docs/recording.md).
    pub held_recording_gap: i64,
    /// Held sessions of which no recording was kept at all (recording off, or no part's file
    /// closed).
    pub held_unrecorded: i64,
    pub no_show: i64,
    /// Booked sessions whose call was interrupted at least once.
    pub interrupted: i64,
    /// Sessions (not cancelled) hosted by the branch's courts.
    pub hosted: i64,
    /// Mean length of the held sessions, start to end.
    pub average_duration_minutes: Option<f64>,
    /// Video receptions with the SPC on the branch's cases: not counted as 进京访 (whether they
    /// resolved anything is the outcome's business).
    pub video_spc: i64,
    /// Video receptions with a high court: not counted as 到省访.
    pub video_high: i64,
    /// Contacts recorded as petitions in person in Beijing / at the province.
    pub to_beijing: i64,
    pub to_province: i64,
    /// Ledger entries (every letter, visit, call and reception) on the branch's cases.
    pub contacts: i64,
    /// Contacts the petitioner made (not the court's own receptions and follow-ups).
    pub petitions: i64,
    /// Cases with at least one contact.
    pub cases: i64,
    /// Cases first received in the period (初访).
    pub first_visits: i64,
    /// Of those, the cases closed by `computed_at`: answered, and no repeat petition since.
    pub first_visits_closed: i64,
    /// Petitions on a matter already answered (重复访).
    pub repeat_petitions: i64,
    /// Petitions received two or more levels above the case's court, or by an organ at that
    /// height (越级访).
    pub skip_level_petitions: i64,
    /// Petitions on collective cases (集体访).
    pub collective_petitions: i64,
    /// Held sessions hosted by the branch's courts that the petitioner rated, and those rated
    /// satisfied or basically satisfied: the rating is of the receiving court.
    pub rated: i64,
    pub satisfied: i64,
    pub rates: Rates,
}

/// 三高三低: each a fraction from 0 to 1 (four decimals), or null when nothing was counted.
#[derive(Serialize, ToSchema, Debug, Clone, PartialEq)]
pub struct Rates {
    /// first_visits_closed / first_visits (初访结案率).
    pub first_visit_closure: Option<f64>,
    /// Reception quality (接访质量) has no measure in the records: always null.
    pub reception_quality: Option<f64>,
    /// satisfied / rated (满意率).
    pub satisfaction: Option<f64>,
    /// repeat_petitions / petitions (重复访率).
    pub repeat: Option<f64>,
    /// skip_level_petitions / petitions (越级访率).
    pub skip_level: Option<f64>,
    /// collective_petitions / petitions (集体访率).
    pub collective: Option<f64>,
}

pub fn rate(n: i64, d: i64) -> Option<f64> {
    (d > 0).then(|| ((n as f64 / d as f64) * 10_000.0).round() / 10_000.0)
}

impl From<&Counts> for Figures {
    fn from(s: &Counts) -> Figures {
        Figures {
            booked: s.booked,
            cancelled: s.cancelled,
            held: s.held,
            held_unconfirmed: s.held_unconfirmed,
            held_recording_gap: s.held_recording_gap,
            held_unrecorded: s.held_unrecorded,
            no_show: s.no_show,
            interrupted: s.interrupted,
            hosted: s.hosted,
            average_duration_minutes: (s.timed > 0)
                .then(|| (s.duration_seconds / s.timed as f64 / 60.0 * 10.0).round() / 10.0),
            video_spc: s.video_spc,
            video_high: s.video_high,
            to_beijing: s.to_beijing,
            to_province: s.to_province,
            contacts: s.contacts,
            petitions: s.petitions,
            cases: s.cases,
            first_visits: s.first_visits,
            first_visits_closed: s.first_visits_closed,
            repeat_petitions: s.repeat,
            skip_level_petitions: s.skip_level,
            collective_petitions: s.collective,
            rated: s.rated,
            satisfied: s.satisfied,
            rates: Rates {
                first_visit_closure: rate(s.first_visits_closed, s.first_visits),
                reception_quality: None,
                satisfaction: rate(s.satisfied, s.rated),
                repeat: rate(s.repeat, s.petitions),
                skip_level: rate(s.skip_level, s.petitions),
                collective: rate(s.collective, s.petitions),
            },
        }
    }
}

/// The figures of the cases of each class: 涉诉 (`litigation`) and 信访 (`petition`).
#[derive(Serialize, ToSchema, Debug, Clone, PartialEq)]
pub struct ByClass {
    pub litigation: Figures,
    pub petition: Figures,
}

/// Figures for all cases, and split by class.
#[derive(Serialize, ToSchema, Debug, Clone, PartialEq)]
pub struct Split {
    #[serde(flatten)]
    pub all: Figures,
    pub by_class: ByClass,
}

impl Split {
    fn of(litigation: &Counts, petition: &Counts) -> Split {
        let mut all = litigation.clone();
        all.add(petition);
        Split {
            all: Figures::from(&all),
            by_class: ByClass {
                litigation: Figures::from(litigation),
                petition: Figures::from(petition),
            },
        }
    }
}

/// A court of a report.
#[derive(Serialize, ToSchema, Debug, Clone, PartialEq)]
pub struct ReportCourt {
    pub id: i64,
    pub name: String,
    pub level: CourtLevel,
}

impl ReportCourt {
    fn new(id: i64, name: &str, level: CourtLevel) -> ReportCourt {
        ReportCourt {
            id,
            name: name.to_owned(),
            level,
        }
    }
}

/// Which part of a report a line is.
#[derive(Serialize, ToSchema, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// The court's own sessions and cases (本院).
    Own,
    /// A court directly below it, with everything below that court (下辖).
    Below,
    /// The sum of the lines (合计).
    Total,
}

#[derive(Serialize, ToSchema)]
pub struct StatsLine {
    pub court: ReportCourt,
    pub part: Part,
    #[serde(flatten)]
    pub figures: Split,
}

#[derive(Serialize, ToSchema)]
pub struct Statistics {
    pub court: ReportCourt,
    /// First and last day (inclusive) in Asia/Shanghai.
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// When the figures were computed: first-visit closure looks at the ledger up to this
    /// instant, so a later report on the same period can show more cases closed, or fewer.
    pub computed_at: DateTime<Utc>,
    /// The court's whole scope: the sum of `rows`.
    pub totals: Split,
    pub rows: Vec<StatsLine>,
}

/// The statistics of `court` (which the caller may read: `under` is its scope) over the days
/// `from`..=`to`, whose instants are `[start, end)`.
pub async fn report(
    store: &Store,
    court: i64,
    under: Under,
    (from, to): (NaiveDate, NaiveDate),
    (start, end): (DateTime<Utc>, DateTime<Utc>),
) -> Result<Statistics, ApiError> {
    let computed_at = store.now();
    let month = calendar_month(from, to);
    let rows: Vec<StatsRow> = store
        .statistics(court, under, start, end, month.as_deref())
        .await?;
    let root = store.court(court).await?;
    let mut litigation = Counts::default();
    let mut petition = Counts::default();
    let mut lines = Vec::with_capacity(rows.len());
    for r in &rows {
        litigation.add(&r.litigation);
        petition.add(&r.petition);
        lines.push(StatsLine {
            court: ReportCourt::new(r.court_id, &r.court_name, r.court_level),
            part: if r.court_id == court {
                Part::Own
            } else {
                Part::Below
            },
            figures: Split::of(&r.litigation, &r.petition),
        });
    }
    Ok(Statistics {
        court: ReportCourt::new(root.id, &root.name, root.level),
        from,
        to,
        computed_at,
        totals: Split::of(&litigation, &petition),
        rows: lines,
    })
}

/// The last day of `day`'s month.
pub fn last_of_month(day: NaiveDate) -> NaiveDate {
    day.with_day(1)
        .and_then(|first| first.checked_add_months(chrono::Months::new(1)))
        .and_then(|next| next.pred_opt())
        .unwrap_or(day)
}

/// `YYYY-MM` when the days `from`..=`to` are one whole calendar month (the 月报 covers one, and
/// a report on one reads the store's monthly tallies instead of the month's rows).
pub fn calendar_month(from: NaiveDate, to: NaiveDate) -> Option<String> {
    (from.day() == 1 && to == last_of_month(from)).then(|| from.format("%Y-%m").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_end_where_they_should() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
        assert_eq!(last_of_month(d(2026, 2, 10)), d(2026, 2, 28));
        assert_eq!(last_of_month(d(2028, 2, 1)), d(2028, 2, 29));
        assert_eq!(last_of_month(d(2026, 12, 5)), d(2026, 12, 31));
    }

    #[test]
    fn a_whole_calendar_month_and_nothing_else() {
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let month = |a: &str, b: &str| calendar_month(day(a), day(b));
        assert_eq!(
            month("2026-02-01", "2026-02-28").as_deref(),
            Some("2026-02")
        );
        assert_eq!(
            month("2028-02-01", "2028-02-29").as_deref(),
            Some("2028-02")
        );
        assert_eq!(
            month("2026-12-01", "2026-12-31").as_deref(),
            Some("2026-12")
        );
        assert_eq!(month("2026-02-01", "2026-02-27"), None);
        assert_eq!(month("2026-02-02", "2026-03-01"), None);
        assert_eq!(month("2026-01-01", "2026-02-28"), None);
        assert_eq!(month("2026-03-01", "2026-03-01"), None);
    }

    #[test]
    fn rates_round_and_refuse_empty_denominators() {
        assert_eq!(rate(1, 3), Some(0.3333));
        assert_eq!(rate(0, 0), None);
    }
}
