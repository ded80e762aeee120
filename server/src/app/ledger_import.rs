//! Importing a court's existing petition ledger (台账) from CSV or XLSX (docs/ledger.md).
//!
//! A file is read into rows (`read_rows`), each row's cells into the fields POST /cases takes,
//! and every row is checked by `app::ledger::check_case`, the one copy of the rules for a new
//! case. Then rows that are the same matter as another row of the file are refused (all of
//! them, each naming the others), rows that are the same matter as an existing case are matched
//! (`app::ledger::same_matter`, the rule POST /cases offers duplicates by) and not created, and
//! the rest would be created. `preview` only reports that plan; `commit` makes it again from the
//! same file and writes every new case in one transaction (`Store::import_cases`), so that a
//! ledger that changed in between is planned afresh, and a plan that no longer holds when the
//! transaction starts writes nothing.
//!
//! Identity numbers never leave here whole: the report masks them, and nothing is logged per row.

use std::collections::{BTreeMap, HashMap};
use std::io::Cursor;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::app::ledger::{
    CaseFields, CheckedCase, FieldError, MatchKey, check_case, may_open_cases, same_matter, to_open,
};
use crate::auth::Staff;
use crate::domain::{CaseClass, CaseId, Channel, mask_id_number};
use crate::error::{ApiError, ErrorCode};
use crate::store::Store;

/// A column of the ledger file: its key (the POST /cases field, also accepted as a header),
/// its zh-CN header, other headers it is known by, whether it must have a value, and what
/// goes in it (for the template's instructions).
pub struct Column {
    pub key: &'static str,
    pub zh: &'static str,
    aliases: &'static [&'static str],
    pub required: bool,
    pub note: &'static str,
}

/// The columns, in the template's order. Headers are matched after trimming, without a
/// trailing `*`, and case-blind for the English ones.
pub const COLUMNS: &[Column] = &[
    Column {
        key: "case_number",
        zh: "案件编号",
        aliases: &["case number", "编号"],
        required: true,
        note: "本院的案件编号，1至64个字，本院内不得重复。",
    },
    Column {
        key: "case_class",
        zh: "案件类别",
        aliases: &["case class", "类别"],
        required: true,
        note: "涉诉 或 信访（诉访分离）。",
    },
    Column {
        key: "petitioner_name",
        zh: "信访人姓名",
        aliases: &["petitioner name", "信访人"],
        required: true,
        note: "1至64个字。",
    },
    Column {
        key: "petitioner_id_number",
        zh: "身份证号码",
        aliases: &["petitioner id number", "身份证号", "公民身份号码"],
        required: true,
        note: "18位，最后一位可为X。请以文本格式填写，否则Excel会改掉后几位。导入后加密保存，预览中只显示首尾几位。",
    },
    Column {
        key: "petitioner_count",
        zh: "信访人数",
        aliases: &["petitioner count", "人数"],
        required: false,
        note: "1至10000的整数，不填为1；5人以上为集体访，须填写代表人。",
    },
    Column {
        key: "representative",
        zh: "代表人",
        aliases: &[],
        required: false,
        note: "集体访（5人以上）必填。",
    },
    Column {
        key: "original_case_number",
        zh: "原审案号",
        aliases: &["original case number"],
        required: false,
        note: "涉诉案件必填；同一原审案号的已有案件视为同一事项。",
    },
    Column {
        key: "original_court",
        zh: "原审法院",
        aliases: &["original court"],
        required: false,
        note: "1至64个字。",
    },
    Column {
        key: "original_case_kind",
        zh: "原审案件类型",
        aliases: &["original case kind"],
        required: false,
        note: "如 民事、刑事、行政、执行，1至32个字。",
    },
    Column {
        key: "matter",
        zh: "信访事项",
        aliases: &[],
        required: true,
        note: "尽量照信访人的原话，1至4000个字。",
    },
    Column {
        key: "subject",
        zh: "内容摘要",
        aliases: &["摘要"],
        required: true,
        note: "1至200个字。",
    },
    Column {
        key: "channel",
        zh: "来源渠道",
        aliases: &["intake channel", "渠道"],
        required: true,
        note: "来访、来信、电话 或 网上信访。",
    },
    Column {
        key: "received_at",
        zh: "登记日期",
        aliases: &["received at", "received on", "日期", "来访日期"],
        required: false,
        note: "如 2026-03-15 或 2026-03-15 09:30（北京时间），不得晚于今天；不填为导入当时。",
    },
];

/// The columns' zh-CN header for a field of `check_case`.
fn label(key: &str) -> &'static str {
    COLUMNS.iter().find(|c| c.key == key).map_or("", |c| c.zh)
}

/// The limits of one import (settings `ledger.import_max_bytes`, `ledger.import_max_rows`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_rows: usize,
}

/// How many times its own size an XLSX may unpack to: text in a workbook packs about ten to
/// one, and a zip bomb packs thousands to one.
const UNPACK_RATIO: u64 = 16;
/// Columns read from an XLSX row; a ledger has 13.
const MAX_COLUMNS: u32 = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    Csv,
    Xlsx,
}

/// A cell as read: its text, or an Excel error value (`#N/A`, `#VALUE!` …).
#[derive(Debug, Clone)]
enum Cell {
    Text(String),
    Error,
}

/// A non-blank row of the file, numbered as the court's Excel shows it (the header is row 1).
struct RawRow {
    row: u32,
    cells: Vec<Cell>,
}

fn unreadable(message: impl Into<String>) -> ApiError {
    ApiError::Unprocessable {
        code: ErrorCode::ImportUnreadable,
        message: message.into(),
    }
}

fn unsupported(message: impl Into<String>) -> ApiError {
    ApiError::UnsupportedType {
        code: ErrorCode::ImportUnsupportedType,
        message: message.into(),
    }
}

fn too_many_rows(max: usize) -> ApiError {
    ApiError::TooLarge {
        code: ErrorCode::ImportTooManyRows,
        message: format!("a ledger import takes at most {max} rows; split the file"),
    }
}

/// What the file is, from its content (never from its name or declared type): an XLSX is a
/// zip archive; CSV is text. An old `.xls`, a PDF or other binary is refused (415).
pub fn sniff(bytes: &[u8]) -> Result<FileFormat, ApiError> {
    if bytes.starts_with(b"PK\x03\x04") {
        return Ok(FileFormat::Xlsx);
    }
    if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        return Err(unsupported(
            "this is an old Excel .xls (or another Office 97 file): save it as .xlsx or CSV",
        ));
    }
    let head = &bytes[..bytes.len().min(8192)];
    if head
        .iter()
        .any(|&b| b == 0 || (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0C)))
    {
        return Err(unsupported(
            "the file is neither CSV text nor an XLSX workbook",
        ));
    }
    Ok(FileFormat::Csv)
}

/// The file's non-blank rows, the header first. 413 past the row cap, 415 for what is not CSV
/// or XLSX, 422 `import_unreadable` for a damaged one.
fn read_rows(bytes: &[u8], limits: Limits) -> Result<(FileFormat, Vec<RawRow>), ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(unreadable("the file is empty"));
    }
    let format = sniff(bytes)?;
    let rows = match format {
        FileFormat::Csv => csv_rows(bytes, limits)?,
        FileFormat::Xlsx => xlsx_rows(bytes, limits)?,
    };
    Ok((format, rows))
}

/// CSV as Excel writes it: UTF-8 (with or without its BOM), or GB18030 (Excel's "CSV" on a
/// Chinese Windows); one record per row, quoted fields may hold line breaks.
fn csv_rows(bytes: &[u8], limits: Limits) -> Result<Vec<RawRow>, ApiError> {
    let text: std::borrow::Cow<'_, str> = match std::str::from_utf8(bytes) {
        Ok(t) => t.into(),
        Err(_) => {
            let (t, _, bad) = encoding_rs::GB18030.decode(bytes);
            if bad {
                return Err(unsupported(
                    "the CSV file is neither UTF-8 nor GBK/GB18030 text",
                ));
            }
            t
        }
    };
    let text = text.trim_start_matches('\u{feff}');
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| unreadable(format!("the CSV cannot be read: {e}")))?;
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if rows.len() > limits.max_rows {
            return Err(too_many_rows(limits.max_rows));
        }
        rows.push(RawRow {
            row: u32::try_from(i + 1).unwrap_or(u32::MAX),
            cells: record.iter().map(|c| Cell::Text(c.to_owned())).collect(),
        });
    }
    Ok(rows)
}

/// The first worksheet of an XLSX, read cell by cell (calamine's streaming reader: a sheet with
/// one cell at A1 and one at XFD1048576 must not become a grid of 17 billion cells). Before
/// calamine opens it, the sizes its zip directory declares are added up: past
/// `UNPACK_RATIO` times the upload limit, 413.
fn xlsx_rows(bytes: &[u8], limits: Limits) -> Result<Vec<RawRow>, ApiError> {
    use calamine::{DataRef, Reader, Xlsx};

    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|_| unsupported("the file looks like a zip archive but cannot be opened"))?;
    let mut unpacked: u64 = 0;
    for i in 0..archive.len() {
        let entry = archive
            .by_index_raw(i)
            .map_err(|_| unsupported("the zip archive is damaged"))?;
        unpacked = unpacked.saturating_add(entry.size());
    }
    let cap = (limits.max_bytes as u64).saturating_mul(UNPACK_RATIO);
    if unpacked > cap {
        return Err(ApiError::TooLarge {
            code: ErrorCode::ImportTooLarge,
            message: format!("the workbook unpacks to more than {cap} bytes"),
        });
    }
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes))
        .map_err(|_| unsupported("the zip archive is not an Excel workbook (.xlsx)"))?;
    let Some(first) = book.sheet_names().into_iter().next() else {
        return Err(unreadable("the workbook has no worksheet"));
    };
    let mut cells = book
        .worksheet_cells_reader(&first)
        .map_err(|e| unreadable(format!("the worksheet cannot be read: {e}")))?;
    let mut rows: BTreeMap<u32, Vec<Cell>> = BTreeMap::new();
    loop {
        let cell = match cells.next_cell() {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => return Err(unreadable(format!("the worksheet cannot be read: {e}"))),
        };
        let (r, c) = cell.get_position();
        if c >= MAX_COLUMNS {
            continue;
        }
        let value = match cell.get_value() {
            DataRef::Empty => continue,
            DataRef::String(s) => Cell::Text(s.clone()),
            DataRef::SharedString(s) => Cell::Text((*s).to_owned()),
            DataRef::Int(i) => Cell::Text(i.to_string()),
            DataRef::Float(f) => Cell::Text(float_text(*f)),
            DataRef::Bool(b) => Cell::Text(if *b { "TRUE" } else { "FALSE" }.into()),
            DataRef::DateTime(d) if d.is_datetime() => Cell::Text(excel_date_text(d.as_f64())),
            DataRef::DateTime(d) => Cell::Text(float_text(d.as_f64())),
            DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => Cell::Text(s.clone()),
            DataRef::Error(_) => Cell::Error,
        };
        if matches!(&value, Cell::Text(t) if t.trim().is_empty()) {
            continue;
        }
        if !rows.contains_key(&r) && rows.len() > limits.max_rows {
            return Err(too_many_rows(limits.max_rows));
        }
        let row = rows.entry(r).or_default();
        let at = c as usize;
        if row.len() <= at {
            row.resize(at + 1, Cell::Text(String::new()));
        }
        row[at] = value;
    }
    Ok(rows
        .into_iter()
        .map(|(r, cells)| RawRow {
            row: r.saturating_add(1),
            cells,
        })
        .collect())
}

/// A number as a person typed it: `3`, not `3.0`.
fn float_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        f.to_string()
    }
}

/// An Excel date serial (1900 system) as `2026-03-15` or `2026-03-15 09:30:00`.
fn excel_date_text(serial: f64) -> String {
    let Some(epoch) = NaiveDate::from_ymd_opt(1899, 12, 30).and_then(|d| d.and_hms_opt(0, 0, 0))
    else {
        return serial.to_string();
    };
    let seconds = (serial * 86_400.0).round() as i64;
    let at = epoch + chrono::Duration::seconds(seconds);
    if seconds % 86_400 == 0 {
        at.date().format("%Y-%m-%d").to_string()
    } else {
        at.format("%Y-%m-%d %H:%M:%S").to_string()
    }
}

/// A header cell as an error message repeats it: at most 32 characters, and masked if it could
/// be an identity number (a file without its header row has data in row 1).
fn shown(raw: &str) -> String {
    if raw.chars().filter(char::is_ascii_digit).count() >= 6 {
        return mask_id_number(raw);
    }
    raw.chars().take(32).collect()
}

/// Which file column holds which field. 422 for a header that is missing a required column,
/// names a column twice, or names one this import does not know.
fn columns_of(header: &RawRow) -> Result<HashMap<&'static str, usize>, ApiError> {
    let mut map = HashMap::new();
    let mut unknown = Vec::new();
    for (i, cell) in header.cells.iter().enumerate() {
        let Cell::Text(raw) = cell else {
            unknown.push(format!("#{}", i + 1));
            continue;
        };
        let name = raw
            .trim()
            .trim_end_matches(['*', '＊'])
            .trim()
            .to_lowercase();
        if name.is_empty() {
            continue;
        }
        let Some(col) = COLUMNS.iter().find(|c| {
            c.zh == name
                || c.key == name
                || c.key.replace('_', " ") == name
                || c.aliases.contains(&name.as_str())
        }) else {
            unknown.push(shown(raw.trim()));
            continue;
        };
        if map.insert(col.key, i).is_some() {
            return Err(ApiError::Unprocessable {
                code: ErrorCode::ImportDuplicateColumns,
                message: format!("the column {} ({}) appears twice in row 1", col.zh, col.key),
            });
        }
    }
    if !unknown.is_empty() {
        return Err(ApiError::Unprocessable {
            code: ErrorCode::ImportUnknownColumns,
            message: format!(
                "row 1 names columns this import does not know: {}; use the template's headers",
                unknown.join(", ")
            ),
        });
    }
    let missing: Vec<String> = COLUMNS
        .iter()
        .filter(|c| c.required && !map.contains_key(c.key))
        .map(|c| format!("{} ({})", c.zh, c.key))
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::Unprocessable {
            code: ErrorCode::ImportMissingColumns,
            message: format!(
                "row {} (the header) lacks the columns {}",
                header.row,
                missing.join(", ")
            ),
        });
    }
    Ok(map)
}

/// A row this import will not take, and why: a stable code, the column, and the reason in
/// zh-CN (and in English).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RefusedRow {
    /// The row number as the court's Excel shows it (the header is row 1).
    pub row: u32,
    /// `invalid_input`, `invalid_name`, `invalid_id_number`, `duplicate_in_file` or
    /// `case_number_taken`.
    pub code: ErrorCode,
    /// The column (its zh-CN header), when one column is at fault.
    #[schema(required = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<&'static str>,
    /// Why, in zh-CN.
    pub message: String,
    /// Why, in English.
    pub message_en: String,
}

/// A row that would be (or was) opened as a new case.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedRow {
    pub row: u32,
    pub case_number: String,
    pub petitioner_name: String,
    /// Masked: `330***********123X`.
    pub petitioner_id_number: String,
    pub case_class: CaseClass,
    pub channel: Channel,
    pub subject: String,
    /// The new case, once committed.
    #[schema(required = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<i64>)]
    pub case_id: Option<CaseId>,
}

/// An existing case that a row is the same matter as.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportMatch {
    #[schema(value_type = i64)]
    pub case_id: CaseId,
    pub case_number: String,
    pub court_id: i64,
    pub court_name: String,
    /// `petitioner` (same identity number) or `original_case` (same 原审案号).
    pub matched_on: String,
}

/// A row that is the same matter as a case on record: not created (log the contact on that
/// case instead).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MatchedRow {
    pub row: u32,
    pub case_number: String,
    /// Masked.
    pub petitioner_id_number: String,
    /// Most recent first.
    pub matches: Vec<ImportMatch>,
}

/// What an import of a file would do (a preview) or did (a commit).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportReport {
    pub format: FileFormat,
    /// Data rows read (blank rows are skipped).
    pub rows: usize,
    /// The plan's digest: send it as `plan` with the commit, which then writes nothing if the
    /// plan has changed since this preview (409 `import_changed`).
    pub plan: String,
    /// True once the cases are written.
    pub committed: bool,
    pub created: Vec<CreatedRow>,
    pub matched: Vec<MatchedRow>,
    pub refused: Vec<RefusedRow>,
}

/// A planned import: the report, and the checked cases to write.
struct Plan {
    report: ImportReport,
    cases: Vec<CheckedCase>,
    keys: Vec<MatchKey>,
    file_sha256: String,
}

fn cell<'r>(row: &'r RawRow, columns: &HashMap<&'static str, usize>, key: &str) -> &'r str {
    match columns.get(key).and_then(|&i| row.cells.get(i)) {
        Some(Cell::Text(t)) => t.as_str(),
        _ => "",
    }
}

fn refuse_cell(row: u32, key: &'static str, zh: &str, en: &str) -> RefusedRow {
    RefusedRow {
        row,
        code: ErrorCode::InvalidInput,
        column: Some(label(key)),
        message: format!("{}：{zh}", label(key)),
        message_en: format!("{key}: {en}"),
    }
}

fn refuse_field(row: u32, e: FieldError) -> RefusedRow {
    RefusedRow {
        row,
        code: e.code,
        column: Some(label(e.field)),
        message: format!("{}：{}", label(e.field), e.message_zh),
        message_en: e.message,
    }
}

fn parse_class(t: &str) -> Option<CaseClass> {
    match t.trim().to_lowercase().as_str() {
        "涉诉" | "诉" | "litigation" => Some(CaseClass::Litigation),
        "信访" | "访" | "petition" => Some(CaseClass::Petition),
        _ => None,
    }
}

/// Any channel by its zh-CN name or its code; which of them a case may come in by is
/// `check_case`'s rule, not this reader's.
fn parse_channel(t: &str) -> Option<Channel> {
    let t = t.trim();
    let zh = match t {
        "来访" | "来访（本院）" | "来访(本院)" | "走访" => Some(Channel::LocalVisit),
        "来信" => Some(Channel::Letter),
        "电话" | "来电" => Some(Channel::Phone),
        "网上信访" | "网信" => Some(Channel::Online),
        "与最高法视频接访" => Some(Channel::VideoSpc),
        "与高院视频接访" => Some(Channel::VideoHigh),
        "与中院视频接访" => Some(Channel::VideoIntermediate),
        "到省访" => Some(Channel::ToProvince),
        "进京访" => Some(Channel::ToBeijing),
        _ => None,
    };
    zh.or_else(|| t.to_lowercase().parse().ok())
}

/// A date or date and time in Beijing time, as courts type them.
fn parse_received(t: &str) -> Option<DateTime<Utc>> {
    let t = t.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(t) {
        return Some(at.with_timezone(&Utc));
    }
    let tz = crate::app::clock::beijing();
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y/%m/%d %H:%M:%S",
        "%Y/%m/%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
    ] {
        if let Ok(at) = NaiveDateTime::parse_from_str(t, f) {
            return tz.from_local_datetime(&at).single().map(|a| a.to_utc());
        }
    }
    for f in ["%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y%m%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(t, f) {
            return tz
                .from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
                .single()
                .map(|a| a.to_utc());
        }
    }
    None
}

/// One row's fields, read from its cells and checked by `check_case`.
fn check_row(
    row: &RawRow,
    columns: &HashMap<&'static str, usize>,
    now: DateTime<Utc>,
) -> Result<CheckedCase, RefusedRow> {
    let n = row.row;
    for (key, &i) in columns {
        if matches!(row.cells.get(i), Some(Cell::Error)) {
            return Err(refuse_cell(
                n,
                key,
                "单元格是错误值（如 #N/A、#VALUE!），请改为实际内容",
                "the cell holds an Excel error value",
            ));
        }
    }
    let get = |key| cell(row, columns, key);
    let optional = |key| Some(get(key)).filter(|t| !t.trim().is_empty());
    let case_class = parse_class(get("case_class")).ok_or_else(|| {
        refuse_cell(
            n,
            "case_class",
            "须为“涉诉”或“信访”",
            "litigation (涉诉) or petition (信访)",
        )
    })?;
    let channel = parse_channel(get("channel")).ok_or_else(|| {
        refuse_cell(
            n,
            "channel",
            "须为来访、来信、电话或网上信访",
            "local_visit, letter, phone or online",
        )
    })?;
    let petitioner_count = match optional("petitioner_count") {
        None => None,
        Some(t) => Some(
            t.trim()
                .parse::<i32>()
                .map_err(|_| refuse_cell(n, "petitioner_count", "须为整数", "a whole number"))?,
        ),
    };
    let received_at = match optional("received_at") {
        None => None,
        Some(t) => Some(parse_received(t).ok_or_else(|| {
            refuse_cell(
                n,
                "received_at",
                "日期格式不对，应如 2026-03-15 或 2026-03-15 09:30",
                "a date such as 2026-03-15, or 2026-03-15 09:30 (Beijing time)",
            )
        })?),
    };
    check_case(
        &CaseFields {
            case_number: get("case_number"),
            petitioner_name: get("petitioner_name"),
            petitioner_id_number: get("petitioner_id_number"),
            petitioner_count,
            representative: optional("representative"),
            original_case_number: optional("original_case_number"),
            original_court: optional("original_court"),
            original_case_kind: optional("original_case_kind"),
            matter: get("matter"),
            subject: get("subject"),
            channel,
            case_class,
            received_at,
        },
        now,
    )
    .map_err(|e| refuse_field(n, e))
}

/// Reads, checks and matches every row: the plan that a preview shows and a commit writes.
async fn plan(
    store: &Store,
    staff: &Staff,
    bytes: &[u8],
    limits: Limits,
    now: DateTime<Utc>,
) -> Result<Plan, ApiError> {
    may_open_cases(staff)?;
    if bytes.len() > limits.max_bytes {
        return Err(too_large(limits.max_bytes));
    }
    let file_sha256 = hex::encode(Sha256::digest(bytes));
    let (format, raw) = read_rows(bytes, limits)?;
    let Some((header, data)) = raw.split_first() else {
        return Err(unreadable("the file is empty"));
    };
    let columns = columns_of(header)?;
    if data.len() > limits.max_rows {
        return Err(too_many_rows(limits.max_rows));
    }

    let mut refused: Vec<RefusedRow> = Vec::new();
    let mut good: Vec<(u32, CheckedCase, MatchKey)> = Vec::new();
    for row in data {
        match check_row(row, &columns, now) {
            Ok(case) => {
                let key = MatchKey::of(&case)?;
                good.push((row.row, case, key));
            }
            Err(r) => refused.push(r),
        }
    }

    // The same matter twice in the file (or one case number twice): every such row is refused,
    // each naming the others, for the court to decide which is right.
    let mut same: BTreeMap<usize, Vec<(u32, &'static str)>> = BTreeMap::new();
    {
        let mut seen: HashMap<(&'static str, &str), Vec<usize>> = HashMap::new();
        for (i, (_, case, key)) in good.iter().enumerate() {
            seen.entry(("case_number", case.case_number.as_str()))
                .or_default()
                .push(i);
            seen.entry(("petitioner", key.id_hash.as_str()))
                .or_default()
                .push(i);
            if let Some(o) = key.original_case_number.as_deref() {
                seen.entry(("original_case", o)).or_default().push(i);
            }
        }
        for ((what, _), rows) in &seen {
            if rows.len() < 2 {
                continue;
            }
            for &i in rows {
                for &j in rows {
                    if i != j {
                        same.entry(i).or_default().push((good[j].0, *what));
                    }
                }
            }
        }
    }
    let mut checked: Vec<(u32, CheckedCase, MatchKey)> = Vec::new();
    for (i, (row, case, key)) in good.into_iter().enumerate() {
        let Some(mut others) = same.remove(&i) else {
            checked.push((row, case, key));
            continue;
        };
        others.sort_unstable();
        others.dedup();
        let rows_zh: Vec<String> = others.iter().map(|(r, _)| format!("第{r}行")).collect();
        let rows_en: Vec<String> = others.iter().map(|(r, _)| r.to_string()).collect();
        let mut whats: Vec<&str> = others.iter().map(|(_, w)| *w).collect();
        whats.sort_unstable();
        whats.dedup();
        let whats_zh: Vec<&str> = whats
            .iter()
            .map(|w| match *w {
                "case_number" => "案件编号相同",
                "petitioner" => "同一信访人",
                _ => "同一原审案号",
            })
            .collect();
        refused.push(RefusedRow {
            row,
            code: ErrorCode::DuplicateInFile,
            column: None,
            message: format!(
                "与{}重复（{}）：同一事项在文件中只能有一行，请核对后保留一行",
                rows_zh.join("、"),
                whats_zh.join("、")
            ),
            message_en: format!(
                "the same matter as row(s) {} ({}): keep one row",
                rows_en.join(", "),
                whats.join(", ")
            ),
        });
    }

    // The same matter as a case on record: matched, not created.
    let keys: Vec<MatchKey> = checked
        .iter()
        .map(|(_, _, k)| MatchKey {
            id_hash: k.id_hash.clone(),
            original_case_number: k.original_case_number.clone(),
        })
        .collect();
    let matches = same_matter(store, &keys).await?;
    let numbers: Vec<&str> = checked
        .iter()
        .map(|(_, c, _)| c.case_number.as_str())
        .collect();
    let taken: std::collections::HashSet<String> = store
        .taken_case_numbers(staff.court_id, &numbers)
        .await?
        .into_iter()
        .collect();

    let mut created = Vec::new();
    let mut matched = Vec::new();
    let mut cases = Vec::new();
    let mut new_keys = Vec::new();
    for ((row, case, key), found) in checked.into_iter().zip(matches) {
        let masked = mask_id_number(case.id_number.as_str());
        if !found.is_empty() {
            matched.push(MatchedRow {
                row,
                case_number: case.case_number.clone(),
                petitioner_id_number: masked,
                matches: found
                    .into_iter()
                    .map(|m| ImportMatch {
                        case_id: m.id,
                        case_number: m.case_number,
                        court_id: m.court_id,
                        court_name: m.court_name,
                        matched_on: m.matched_on,
                    })
                    .collect(),
            });
            continue;
        }
        if taken.contains(&case.case_number) {
            refused.push(RefusedRow {
                row,
                code: ErrorCode::CaseNumberTaken,
                column: Some(label("case_number")),
                message: format!("{}：本院已经有这个编号的案件", label("case_number")),
                message_en: "case_number: this court already has a case with that number".into(),
            });
            continue;
        }
        created.push(CreatedRow {
            row,
            case_number: case.case_number.clone(),
            petitioner_name: case.petitioner_name.clone(),
            petitioner_id_number: masked,
            case_class: case.case_class,
            channel: case.channel,
            subject: case.subject.clone(),
            case_id: None,
        });
        cases.push(case);
        new_keys.push(key);
    }
    refused.sort_by_key(|r| r.row);

    // The digest of what the plan would do with this file, row by row.
    let mut digest = Sha256::new();
    digest.update(file_sha256.as_bytes());
    for c in &created {
        digest.update(format!("c{};", c.row));
    }
    for m in &matched {
        let ids: Vec<String> = m.matches.iter().map(|x| x.case_id.to_string()).collect();
        digest.update(format!("m{}:{};", m.row, ids.join(",")));
    }
    for r in &refused {
        digest.update(format!("r{}:{};", r.row, r.code));
    }
    Ok(Plan {
        report: ImportReport {
            format,
            rows: data.len(),
            plan: hex::encode(digest.finalize()),
            committed: false,
            created,
            matched,
            refused,
        },
        cases,
        keys: new_keys,
        file_sha256,
    })
}

/// 413 `import_too_large`.
pub fn too_large(max_bytes: usize) -> ApiError {
    ApiError::TooLarge {
        code: ErrorCode::ImportTooLarge,
        message: format!("a ledger file may be at most {max_bytes} bytes; split it"),
    }
}

/// What importing `bytes` would do, changing nothing. `now` is the server's (`app::clock`): no
/// case is received after it.
pub async fn preview(
    store: &Store,
    staff: &Staff,
    bytes: &[u8],
    limits: Limits,
    now: DateTime<Utc>,
) -> Result<ImportReport, ApiError> {
    Ok(plan(store, staff, bytes, limits, now).await?.report)
}

/// Imports `bytes` into the caller's court: plans it again (so that a ledger changed since the
/// preview is checked afresh), and, if `expected` names a plan, refuses 409 `import_changed`
/// when this one differs (with nothing written). Then every new case is written in one
/// transaction and the import is audited. Matched and refused rows are reported, not written.
pub async fn commit(
    store: &Store,
    staff: &Staff,
    bytes: &[u8],
    limits: Limits,
    expected: Option<&str>,
    now: DateTime<Utc>,
) -> Result<ImportReport, ApiError> {
    let Plan {
        mut report,
        cases,
        keys,
        file_sha256,
    } = plan(store, staff, bytes, limits, now).await?;
    if expected.is_some_and(|p| p != report.plan) {
        return Err(ApiError::conflict(
            ErrorCode::ImportChanged,
            "the ledger or the file changed since the preview: preview it again",
        ));
    }
    let actor = format!("user-{}", staff.user_id);
    let rows: Vec<_> = cases.iter().map(|c| to_open(c, staff, &actor)).collect();
    let pairs: Vec<(&str, Option<&str>)> = keys
        .iter()
        .map(|k| (k.id_hash.as_str(), k.original_case_number.as_deref()))
        .collect();
    let summary = serde_json::json!({
        "format": report.format,
        "file_sha256": file_sha256,
        "rows": report.rows,
        "created": report.created.len(),
        "matched": report.matched.len(),
        "refused": report.refused.len(),
    });
    let ids = store
        .import_cases(staff.court_id, &rows, &pairs, &actor, summary)
        .await?;
    for (row, id) in report.created.iter_mut().zip(ids) {
        row.case_id = Some(id);
    }
    report.committed = true;
    tracing::info!(
        court_id = staff.court_id,
        created = report.created.len(),
        matched = report.matched.len(),
        refused = report.refused.len(),
        "ledger imported"
    );
    Ok(report)
}

/// The template: the header row alone, as CSV (UTF-8 with its BOM, so that Excel shows the
/// Chinese headers) .
pub fn template_csv() -> Vec<u8> {
    let header: Vec<&str> = COLUMNS.iter().map(|c| c.zh).collect();
    format!("\u{feff}{}\r\n", header.join(",")).into_bytes()
}

/// The template as XLSX: the sheet 台账 with the header row (required columns in bold) and
/// every column formatted as text (so that Excel keeps identity numbers whole), and a second
/// sheet 填写说明 that says what goes in each column. An import reads only the first sheet.
pub fn template_xlsx() -> Result<Vec<u8>, ApiError> {
    use rust_xlsxwriter::{Format, Workbook};
    let fail = |e: rust_xlsxwriter::XlsxError| ApiError::Internal(anyhow::anyhow!("xlsx: {e}"));
    let mut book = Workbook::new();
    let text = Format::new().set_num_format("@");
    let bold = Format::new().set_bold().set_num_format("@");
    let sheet = book.add_worksheet();
    sheet.set_name("台账").map_err(fail)?;
    for (i, c) in COLUMNS.iter().enumerate() {
        let col = u16::try_from(i).map_err(|e| ApiError::Internal(e.into()))?;
        sheet.set_column_format(col, &text).map_err(fail)?;
        sheet
            .set_column_width(col, if c.key == "matter" { 40 } else { 16 })
            .map_err(fail)?;
        let f = if c.required { &bold } else { &text };
        sheet
            .write_string_with_format(0, col, c.zh, f)
            .map_err(fail)?;
    }
    sheet.set_freeze_panes(1, 0).map_err(fail)?;
    let notes = book.add_worksheet();
    notes.set_name("填写说明").map_err(fail)?;
    let head = Format::new().set_bold();
    for (col, h) in ["列名", "英文列名", "必填", "说明"].iter().enumerate() {
        notes
            .write_string_with_format(0, col as u16, *h, &head)
            .map_err(fail)?;
    }
    for (i, c) in COLUMNS.iter().enumerate() {
        let r = u32::try_from(i + 1).map_err(|e| ApiError::Internal(e.into()))?;
        notes.write_string(r, 0, c.zh).map_err(fail)?;
        notes.write_string(r, 1, c.key).map_err(fail)?;
        notes
            .write_string(r, 2, if c.required { "是" } else { "否" })
            .map_err(fail)?;
        notes.write_string(r, 3, c.note).map_err(fail)?;
    }
    notes.set_column_width(0, 16).map_err(fail)?;
    notes.set_column_width(1, 24).map_err(fail)?;
    notes.set_column_width(3, 80).map_err(fail)?;
    book.save_to_buffer().map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_content() {
        assert_eq!(sniff(b"PK\x03\x04rest").ok(), Some(FileFormat::Xlsx));
        assert_eq!(
            sniff("案件编号,信访人".as_bytes()).ok(),
            Some(FileFormat::Csv)
        );
        assert!(sniff(&[0xD0, 0xCF, 0x11, 0xE0, 0, 0]).is_err());
        assert!(sniff(b"%PDF-1.7\n\x00\x01").is_err());
    }

    #[test]
    fn excel_dates_read_as_people_type_them() {
        assert_eq!(excel_date_text(46096.0), "2026-03-15");
        assert_eq!(float_text(3.0), "3");
        assert!(parse_received("2026年3月15日").is_some());
        assert!(parse_received("2026-03-15 09:30").is_some());
        assert!(parse_received("15/03/2026").is_none());
    }

    #[test]
    fn a_header_never_repeats_an_identity_number() {
        assert_eq!(shown("11010519491231002X"), "110***********002X");
        assert_eq!(shown("备注"), "备注");
    }
}
