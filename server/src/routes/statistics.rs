//! `GET /api/v1/records/statistics`: the figures of a court over a period (`app::statistics`),
//! as JSON, or as a CSV or XLSX file in zh-CN (English on request). Who may read which court is
//! the session log's rule (`routes::records`).

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use chrono::Datelike;
use serde::Deserialize;
use utoipa::IntoParams;

use super::records::{MAX_PERIOD_DAYS, parse_day, period};
use crate::app::assignments::MonthTask;
use crate::app::clock;
use crate::app::clocks::{OverdueClock, overdue};
use crate::app::scope::{Scope, check_court};
use crate::app::statistics::{
    Figures, Part, ReportCourt, Statistics, calendar_month, last_of_month, report,
};
use crate::auth::Staff;
use crate::domain::CourtLevel;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// The court to report on (within your scope); your own court by default.
    pub court: Option<i64>,
    /// First day, `YYYY-MM-DD` in Asia/Shanghai; the first of this month by default.
    pub from: Option<String>,
    /// Last day, inclusive; the last of `from`'s month by default. At most 366 days in all.
    pub to: Option<String>,
    /// `json` (default), `csv` or `xlsx`.
    pub format: Option<String>,
    /// The language of a CSV or XLSX file: `zh-CN` (default) or `en`.
    pub lang: Option<String>,
    /// `monthly`: the report a court files upward (月报), an XLSX workbook of one whole month
    /// with the figures and the overdue clocks of the court and the courts below it.
    pub report: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
    Xlsx,
}

/// The language of an export.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lang {
    Zh,
    En,
}

/// Statistics of a court over a period, as JSON, CSV or XLSX.
#[utoipa::path(
    get,
    path = "/api/v1/records/statistics",
    params(StatsQuery),
    responses(
        (status = 200, body = Statistics, description = "JSON; `text/csv` or an XLSX workbook with `format`"),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)
    ),
    security(("bearer" = [])),
    tag = "records"
)]
#[get("/records/statistics")]
#[tracing::instrument(skip_all, fields(user = staff.user_id.get()))]
pub async fn statistics(
    state: web::Data<AppState>,
    staff: Staff,
    query: web::Query<StatsQuery>,
) -> Result<HttpResponse, ApiError> {
    let reach = Scope::of(&state.store, &staff).reach().await?;
    let format = match query.format.as_deref() {
        None | Some("json") => Format::Json,
        Some("csv") => Format::Csv,
        Some("xlsx") => Format::Xlsx,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "format: '{other}' is not one of json, csv, xlsx"
            )));
        }
    };
    let lang = match query.lang.as_deref() {
        None | Some("zh-CN") => Lang::Zh,
        Some("en") => Lang::En,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "lang: '{other}' is not one of zh-CN, en"
            )));
        }
    };
    let monthly = match query.report.as_deref() {
        None => false,
        Some("monthly") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "report: '{other}' is not monthly"
            )));
        }
    };
    if monthly && format != Format::Xlsx {
        return Err(ApiError::invalid(
            "report: the monthly report is an XLSX file: format=xlsx",
        ));
    }
    let court_id = query.court.unwrap_or(staff.court_id);
    let under = check_court(&state.store, &reach, court_id).await?;
    let today = state.clock.today();
    let from = match &query.from {
        Some(t) => parse_day("from", t)?,
        None => today.with_day(1).unwrap_or(today),
    };
    let to = match &query.to {
        Some(t) => parse_day("to", t)?,
        None => last_of_month(from),
    };
    if monthly && calendar_month(from, to).is_none() {
        return Err(ApiError::invalid(
            "from, to: the monthly report covers one whole month, from its first day to its last",
        ));
    }
    let instants = period(from, to)?;
    if (to - from).num_days() + 1 > MAX_PERIOD_DAYS {
        return Err(ApiError::invalid(format!(
            "to: a period is at most {MAX_PERIOD_DAYS} days"
        )));
    }
    let stats = report(&state.store, court_id, under, (from, to), instants).await?;
    if monthly {
        let overdue = overdue_below(&state, court_id, &reach).await?;
        let subtree = !matches!(
            reach,
            crate::store::records::Reach::Court { subtree: false, .. }
        );
        let tasks = crate::app::assignments::of_month(
            &state.store,
            &state.settings.follow_ups,
            state.clock,
            court_id,
            subtree,
            (from, to),
        )
        .await?;
        let name = format!("courtlink-monthly-{court_id}-{}", from.format("%Y-%m"));
        return Ok(HttpResponse::Ok()
            .insert_header((
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ))
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.xlsx\""),
            ))
            .body(monthly_xlsx(&stats, &overdue, &tasks, lang)?));
    }
    let filename = format!("courtlink-statistics-{court_id}-{from}-{to}");
    match format {
        Format::Json => Ok(HttpResponse::Ok().json(stats)),
        Format::Csv => Ok(HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}.csv\""),
            ))
            .body(to_csv(&stats, lang))),
        Format::Xlsx => Ok(HttpResponse::Ok()
            .insert_header((
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ))
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}.xlsx\""),
            ))
            .body(to_xlsx(&stats, lang)?)),
    }
}

// --- exports -----------------------------------------------------------------------------------

/// A cell of an export row.
enum Cell {
    Text(String),
    Int(i64),
    /// A number with one decimal (minutes).
    Minutes(Option<f64>),
    /// A fraction shown as a percentage in XLSX, with four decimals in CSV.
    Rate(Option<f64>),
}

/// The export columns: (English key, zh-CN heading). Each court has three lines: all its cases,
/// then 涉诉 and 信访 apart (`class`).
const COLUMNS: &[(&str, &str)] = &[
    ("court_id", "法院编号"),
    ("court_name", "法院"),
    ("court_level", "级别"),
    ("part", "范围"),
    ("class", "案件类别"),
    ("booked", "预约场次"),
    ("cancelled", "取消"),
    ("held", "已接谈"),
    ("held_unconfirmed", "已接谈但未核验身份"),
    ("held_recording_gap", "已接谈但录像有中断"),
    ("held_unrecorded", "已接谈但无录像"),
    ("no_show", "未到场"),
    ("interrupted", "曾中断"),
    ("hosted", "主持接访"),
    ("average_duration_minutes", "平均时长(分钟)"),
    ("video_spc", "与最高人民法院视频接访(不计为进京访)"),
    ("video_high", "与高级人民法院视频接访(不计为到省访)"),
    ("to_beijing", "进京访"),
    ("to_province", "到省访"),
    ("contacts", "登记总数"),
    ("petitions", "信访人来信来访件次"),
    ("cases", "案件数"),
    ("first_visits", "初访"),
    ("first_visits_closed", "初访已结案"),
    ("repeat_petitions", "重复访"),
    ("skip_level_petitions", "越级访"),
    ("collective_petitions", "集体访"),
    ("rated", "已评价"),
    ("satisfied", "满意及基本满意"),
    ("first_visit_closure_rate", "初访结案率"),
    ("satisfaction_rate", "满意率"),
    ("repeat_rate", "重复访率"),
    ("skip_level_rate", "越级访率"),
    ("collective_rate", "集体访率"),
];

fn level_name(level: CourtLevel, lang: Lang) -> &'static str {
    match (lang, level) {
        (Lang::En, l) => l.as_str(),
        (Lang::Zh, CourtLevel::Supreme) => "最高人民法院",
        (Lang::Zh, CourtLevel::High) => "高级人民法院",
        (Lang::Zh, CourtLevel::Intermediate) => "中级人民法院",
        (Lang::Zh, CourtLevel::Basic) => "基层人民法院",
    }
}

fn part_name(part: Part, lang: Lang) -> &'static str {
    match (lang, part) {
        (Lang::Zh, Part::Own) => "本院",
        (Lang::Zh, Part::Below) => "下辖各院",
        (Lang::Zh, Part::Total) => "合计",
        (Lang::En, Part::Own) => "own",
        (Lang::En, Part::Below) => "below",
        (Lang::En, Part::Total) => "total",
    }
}

/// The class column: all cases, 涉诉 or 信访.
fn class_names(lang: Lang) -> [&'static str; 3] {
    match lang {
        Lang::Zh => ["全部", "涉诉", "信访"],
        Lang::En => ["all", "litigation", "petition"],
    }
}

fn cells(court: &ReportCourt, part: Part, class: &str, f: &Figures, lang: Lang) -> Vec<Cell> {
    vec![
        Cell::Int(court.id),
        Cell::Text(court.name.clone()),
        Cell::Text(level_name(court.level, lang).to_owned()),
        Cell::Text(part_name(part, lang).to_owned()),
        Cell::Text(class.to_owned()),
        Cell::Int(f.booked),
        Cell::Int(f.cancelled),
        Cell::Int(f.held),
        Cell::Int(f.held_unconfirmed),
        Cell::Int(f.held_recording_gap),
        Cell::Int(f.held_unrecorded),
        Cell::Int(f.no_show),
        Cell::Int(f.interrupted),
        Cell::Int(f.hosted),
        Cell::Minutes(f.average_duration_minutes),
        Cell::Int(f.video_spc),
        Cell::Int(f.video_high),
        Cell::Int(f.to_beijing),
        Cell::Int(f.to_province),
        Cell::Int(f.contacts),
        Cell::Int(f.petitions),
        Cell::Int(f.cases),
        Cell::Int(f.first_visits),
        Cell::Int(f.first_visits_closed),
        Cell::Int(f.repeat_petitions),
        Cell::Int(f.skip_level_petitions),
        Cell::Int(f.collective_petitions),
        Cell::Int(f.rated),
        Cell::Int(f.satisfied),
        Cell::Rate(f.rates.first_visit_closure),
        Cell::Rate(f.rates.satisfaction),
        Cell::Rate(f.rates.repeat),
        Cell::Rate(f.rates.skip_level),
        Cell::Rate(f.rates.collective),
    ]
}

/// Every line of an export: each row (all, 涉诉, 信访), then the total the same way.
fn export_lines(s: &Statistics, lang: Lang) -> Vec<Vec<Cell>> {
    let [all, litigation, petition] = class_names(lang);
    let mut lines = Vec::with_capacity((s.rows.len() + 1) * 3);
    let rows = s
        .rows
        .iter()
        .map(|l| (&l.court, l.part, &l.figures))
        .chain(std::iter::once((&s.court, Part::Total, &s.totals)));
    for (court, part, split) in rows {
        lines.push(cells(court, part, all, &split.all, lang));
        lines.push(cells(
            court,
            part,
            litigation,
            &split.by_class.litigation,
            lang,
        ));
        lines.push(cells(court, part, petition, &split.by_class.petition, lang));
    }
    lines
}

/// RFC 4180 CSV with a UTF-8 byte-order mark (so spreadsheet programs read the Chinese names).
/// Text that a spreadsheet would take for a formula is prefixed with a quote.
fn to_csv(s: &Statistics, lang: Lang) -> String {
    let mut out = String::from("\u{feff}");
    let header: Vec<&str> = COLUMNS
        .iter()
        .map(|(k, zh)| if lang == Lang::Zh { *zh } else { *k })
        .collect();
    out.push_str(&header.join(","));
    out.push_str("\r\n");
    for line in export_lines(s, lang) {
        let fields: Vec<String> = line
            .iter()
            .map(|c| match c {
                Cell::Text(t) => csv_text(t),
                Cell::Int(n) => n.to_string(),
                Cell::Minutes(m) => m.map(|m| format!("{m:.1}")).unwrap_or_default(),
                Cell::Rate(r) => r.map(|r| format!("{r:.4}")).unwrap_or_default(),
            })
            .collect();
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

fn csv_text(t: &str) -> String {
    let t = if t.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{t}")
    } else {
        t.to_owned()
    };
    if t.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", t.replace('"', "\"\""))
    } else {
        t
    }
}

fn fail(e: rust_xlsxwriter::XlsxError) -> ApiError {
    ApiError::Internal(anyhow::anyhow!("xlsx: {e}"))
}

fn to_xlsx(s: &Statistics, lang: Lang) -> Result<Vec<u8>, ApiError> {
    let mut book = rust_xlsxwriter::Workbook::new();
    stats_sheet(&mut book, s, lang)?;
    book.save_to_buffer().map_err(fail)
}

/// The overdue clocks of the court and of every court below it that the reader may read.
async fn overdue_below(
    state: &AppState,
    court_id: i64,
    reach: &crate::store::records::Reach,
) -> Result<Vec<(String, OverdueClock)>, ApiError> {
    let courts = match reach {
        crate::store::records::Reach::Court { subtree: false, .. } => {
            vec![state.store.court(court_id).await?]
        }
        _ => state.store.courts_under(court_id).await?,
    };
    let mut out = Vec::new();
    for c in courts {
        for clock in overdue(state, c.id).await? {
            out.push((c.name.clone(), clock));
        }
    }
    Ok(out)
}

/// The monthly report a court files upward (月报): the statistics sheet, then the overdue
/// clocks of the court and the courts below it, then the month's follow-up tasks (交办).
fn monthly_xlsx(
    s: &Statistics,
    overdue: &[(String, OverdueClock)],
    tasks: &[MonthTask],
    lang: Lang,
) -> Result<Vec<u8>, ApiError> {
    use rust_xlsxwriter::Format as XFormat;
    let mut book = rust_xlsxwriter::Workbook::new();
    stats_sheet(&mut book, s, lang)?;
    let zh = lang == Lang::Zh;
    let sheet = book.add_worksheet();
    sheet
        .set_name(if zh { "超期期限" } else { "Overdue clocks" })
        .map_err(fail)?;
    let bold = XFormat::new().set_bold();
    let title = if zh {
        format!(
            "{} 超期未办的法定期限（截至 {}）",
            s.court.name,
            clock::local(s.computed_at).format("%Y-%m-%d")
        )
    } else {
        format!(
            "{}: overdue clocks (as of {})",
            s.court.name,
            clock::local(s.computed_at).format("%Y-%m-%d")
        )
    };
    sheet
        .write_string_with_format(0, 0, title, &bold)
        .map_err(fail)?;
    let headings: [&str; 6] = if zh {
        ["法院", "案号", "期限", "应办结日", "超期天数", "暂定"]
    } else {
        [
            "court",
            "case_number",
            "clock",
            "due",
            "days_overdue",
            "provisional",
        ]
    };
    for (col, h) in headings.iter().enumerate() {
        sheet
            .write_string_with_format(1, col as u16, *h, &bold)
            .map_err(fail)?;
        sheet
            .set_column_width(col as u16, if col < 2 { 30 } else { 12 })
            .map_err(fail)?;
    }
    if overdue.is_empty() {
        sheet
            .write_string(2, 0, if zh { "无超期期限" } else { "none" })
            .map_err(fail)?;
    }
    for (i, (court, c)) in overdue.iter().enumerate() {
        let row = i as u32 + 2;
        sheet.write_string(row, 0, court).map_err(fail)?;
        sheet.write_string(row, 1, &c.case_number).map_err(fail)?;
        sheet
            .write_string(row, 2, clock_name(c.clock, lang))
            .map_err(fail)?;
        sheet.write_string(row, 3, &c.due).map_err(fail)?;
        sheet
            .write_number(row, 4, c.days_overdue as f64)
            .map_err(fail)?;
        let provisional = match (zh, c.provisional) {
            (true, true) => "是",
            (true, false) => "否",
            (false, p) => {
                if p {
                    "yes"
                } else {
                    "no"
                }
            }
        };
        sheet.write_string(row, 5, provisional).map_err(fail)?;
    }
    tasks_sheet(&mut book, s, tasks, lang)?;
    book.save_to_buffer().map_err(fail)
}

/// The follow-up tasks (交办) the month saw, each as open, overdue, closed on time or closed
/// late (as of the report's day).
fn tasks_sheet(
    book: &mut rust_xlsxwriter::Workbook,
    s: &Statistics,
    tasks: &[MonthTask],
    lang: Lang,
) -> Result<(), ApiError> {
    use crate::app::assignments::AssignmentState as S;
    let zh = lang == Lang::Zh;
    let bold = rust_xlsxwriter::Format::new().set_bold();
    let sheet = book.add_worksheet();
    sheet
        .set_name(if zh { "交办事项" } else { "Follow-ups" })
        .map_err(fail)?;
    let as_of = clock::local(s.computed_at).format("%Y-%m-%d");
    let title = if zh {
        format!("{} 本期交办事项（截至 {as_of}）", s.court.name)
    } else {
        format!(
            "{}: follow-up tasks of the period (as of {as_of})",
            s.court.name
        )
    };
    sheet
        .write_string_with_format(0, 0, title, &bold)
        .map_err(fail)?;
    let headings: [&str; 7] = if zh {
        [
            "承办法院",
            "案号",
            "交办法院",
            "交办日",
            "应办结日",
            "办结日",
            "状态",
        ]
    } else {
        [
            "court",
            "case_number",
            "assigned_by",
            "assigned_on",
            "due_on",
            "reported_on",
            "state",
        ]
    };
    for (col, h) in headings.iter().enumerate() {
        sheet
            .write_string_with_format(1, col as u16, *h, &bold)
            .map_err(fail)?;
        sheet
            .set_column_width(col as u16, if col < 3 { 30 } else { 12 })
            .map_err(fail)?;
    }
    if tasks.is_empty() {
        sheet
            .write_string(2, 0, if zh { "本期无交办事项" } else { "none" })
            .map_err(fail)?;
    }
    for (i, t) in tasks.iter().enumerate() {
        let row = i as u32 + 2;
        let state = match (t.state, t.closed_late, zh) {
            (S::Closed, Some(true), true) => "逾期办结",
            (S::Closed, _, true) => "按期办结",
            (S::Overdue, _, true) => "超期未办结",
            (_, _, true) => "办理中",
            (S::Closed, Some(true), false) => "closed late",
            (S::Closed, _, false) => "closed on time",
            (S::Overdue, _, false) => "overdue",
            (_, _, false) => "open",
        };
        let cells = [
            t.court_name.as_str(),
            &t.case_number,
            &t.assigning_court_name,
            &t.assigned_on,
            &t.due_on,
            t.reported_on.as_deref().unwrap_or(""),
            state,
        ];
        for (col, text) in cells.iter().enumerate() {
            sheet.write_string(row, col as u16, *text).map_err(fail)?;
        }
    }
    Ok(())
}

fn clock_name(clock: &str, lang: Lang) -> &str {
    match (lang, clock) {
        (Lang::Zh, "acceptance") => "受理告知",
        (Lang::Zh, "handling") => "办理",
        (Lang::Zh, "review") => "复查",
        (Lang::Zh, "rereview") => "复核",
        (_, other) => other,
    }
}

/// The figures on a sheet of their own, as the statistics page shows them.
fn stats_sheet(
    book: &mut rust_xlsxwriter::Workbook,
    s: &Statistics,
    lang: Lang,
) -> Result<(), ApiError> {
    use rust_xlsxwriter::Format as XFormat;
    let sheet = book.add_worksheet();
    sheet
        .set_name(if lang == Lang::Zh {
            "统计"
        } else {
            "Statistics"
        })
        .map_err(fail)?;
    let bold = XFormat::new().set_bold();
    let percent = XFormat::new().set_num_format("0.00%");
    let minutes = XFormat::new().set_num_format("0.0");
    let title = match lang {
        Lang::Zh => format!(
            "{} 远程视频接访统计 {} 至 {}（计算于 {}）",
            s.court.name,
            s.from,
            s.to,
            clock::local(s.computed_at).format("%Y-%m-%d %H:%M")
        ),
        Lang::En => format!(
            "{} remote video reception statistics {} to {} (computed {} Beijing time)",
            s.court.name,
            s.from,
            s.to,
            clock::local(s.computed_at).format("%Y-%m-%d %H:%M")
        ),
    };
    sheet
        .write_string_with_format(0, 0, title, &bold)
        .map_err(fail)?;
    for (col, (key, heading)) in COLUMNS.iter().enumerate() {
        let col = col as u16;
        let text = if lang == Lang::Zh { *heading } else { *key };
        sheet
            .write_string_with_format(1, col, text, &bold)
            .map_err(fail)?;
        sheet
            .set_column_width(col, if col == 1 { 30 } else { 12 })
            .map_err(fail)?;
    }
    for (i, line) in export_lines(s, lang).into_iter().enumerate() {
        let row = i as u32 + 2;
        for (col, cell) in line.into_iter().enumerate() {
            let col = col as u16;
            match cell {
                Cell::Text(t) => sheet.write_string(row, col, t).map(|_| ()),
                Cell::Int(n) => sheet.write_number(row, col, n as f64).map(|_| ()),
                Cell::Minutes(Some(m)) => sheet
                    .write_number_with_format(row, col, m, &minutes)
                    .map(|_| ()),
                Cell::Rate(Some(r)) => sheet
                    .write_number_with_format(row, col, r, &percent)
                    .map(|_| ()),
                Cell::Minutes(None) | Cell::Rate(None) => Ok(()),
            }
            .map_err(fail)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        assert_eq!(csv_text("西湖法院"), "西湖法院");
        assert_eq!(csv_text("a,b"), "\"a,b\"");
        assert_eq!(csv_text("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_text("=1+1"), "'=1+1");
    }

    #[test]
    fn every_column_has_a_cell() {
        let f = Figures::from(&crate::store::records::Counts::default());
        let court = ReportCourt {
            id: 1,
            name: "x".into(),
            level: CourtLevel::Basic,
        };
        assert_eq!(
            cells(&court, Part::Own, "全部", &f, Lang::Zh).len(),
            COLUMNS.len()
        );
    }
}
