//! Importing a court's ledger from CSV or XLSX (issue 16, docs/ledger.md), on SQLite and
//! PostgreSQL: the preview (created, matched and refused rows with their row numbers and
//! reasons), the commit (every new case in one transaction; matched rows not created; a second
//! import creates nothing), rows refused by the very rules of POST /cases, duplicates inside the
//! file, files that are too large, not CSV or XLSX, or damaged (nothing changes), who may import
//! and into which court, and the template, which imports cleanly.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly by panicking"
)]

use crate::common;

use common::{TestApp, assert_error};
use courtlink::domain::IdNumber;
use courtlink::store::{Pool, Store};
use secrecy::ExposeSecret;
use serde_json::Value;

const HEADER: [&str; 13] = [
    "案件编号",
    "案件类别",
    "信访人姓名",
    "身份证号码",
    "信访人数",
    "代表人",
    "原审案号",
    "原审法院",
    "原审案件类型",
    "信访事项",
    "内容摘要",
    "来源渠道",
    "登记日期",
];

/// A valid identity number (GB 11643 check digit) for made-up person `n` (up to 365,000):
/// born on day `n / 1000` after 1960-01-01, sequence `n % 1000`.
fn id_number(n: u32) -> String {
    let born = chrono::NaiveDate::from_ymd_opt(1960, 1, 1).unwrap()
        + chrono::Duration::days(i64::from(n / 1000));
    let body = format!("110105{}{:03}", born.format("%Y%m%d"), n % 1000);
    format!("{body}{}", IdNumber::check_digit(&body).unwrap())
}

/// A good row for person `n`: a petition matter by letter.
fn row(n: u32) -> Vec<String> {
    vec![
        format!("（2026）导{n}号"),
        "信访".into(),
        format!("王{n}"),
        id_number(n),
        "".into(),
        "".into(),
        "".into(),
        "".into(),
        "".into(),
        "判决后一直没有执行，工资被拖欠两年。".into(),
        "拖欠工资执行难".into(),
        "来信".into(),
        "2026-03-15".into(),
    ]
}

fn csv_of(rows: &[Vec<String>]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(HEADER).unwrap();
    for r in rows {
        w.write_record(r).unwrap();
    }
    w.into_inner().unwrap()
}

/// An XLSX as a court's Excel writes it: identity numbers as text, the count as a number, the
/// date as a date-formatted number.
fn xlsx_of(rows: &[Vec<String>]) -> Vec<u8> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut book = Workbook::new();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let sheet = book.add_worksheet();
    for (c, h) in HEADER.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    for (r, cells) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (c, v) in cells.iter().enumerate() {
            let c = c as u16;
            if v.is_empty() {
                continue;
            }
            if c == 4 {
                sheet.write_number(r, c, v.parse::<f64>().unwrap()).unwrap();
            } else if c == 12 {
                let d = chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").unwrap();
                let serial =
                    (d - chrono::NaiveDate::from_ymd_opt(1899, 12, 30).unwrap()).num_days() as f64;
                sheet.write_number_with_format(r, c, serial, &date).unwrap();
            } else {
                sheet.write_string(r, c, v).unwrap();
            }
        }
    }
    book.save_to_buffer().unwrap()
}

async fn upload(app: &TestApp, path: &str, token: Option<&str>, bytes: &[u8]) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url(path))
        .header("content-type", "application/octet-stream")
        .body(bytes.to_vec());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.expect("upload sent")
}

async fn ok(res: reqwest::Response) -> Value {
    let status = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

async fn preview(app: &TestApp, token: &str, bytes: &[u8]) -> Value {
    ok(upload(app, "/api/v1/cases/import/preview", Some(token), bytes).await).await
}

async fn commit(app: &TestApp, token: &str, bytes: &[u8], plan: Option<&str>) -> Value {
    let path = match plan {
        Some(p) => format!("/api/v1/cases/import/commit?plan={p}"),
        None => "/api/v1/cases/import/commit".into(),
    };
    ok(upload(app, &path, Some(token), bytes).await).await
}

/// Every case in the database, whatever the court.
async fn all_cases(app: &TestApp) -> i64 {
    scalar(app, "SELECT COUNT(*) FROM cases").await
}

async fn scalar(app: &TestApp, sql: &str) -> i64 {
    let store = Store::connect(app.settings.database.url.expose_secret(), 1)
        .await
        .unwrap();
    let (n,): (i64,) = match store.pool() {
        Pool::Sqlite(p) => sqlx::query_as(sql).fetch_one(p).await.unwrap(),
        Pool::Postgres(p) => sqlx::query_as(sql).fetch_one(p).await.unwrap(),
    };
    store.close().await;
    n
}

fn len(v: &Value, key: &str) -> usize {
    v[key].as_array().unwrap().len()
}

async fn csv_preview_commit_and_again(app: TestApp) {
    let coord = app.login("xihu.coord").await;
    let mut rows: Vec<Vec<String>> = (1..=3).map(row).collect();
    // Row 3 of the file: a collective matter with its representative, litigation with 原审案号.
    rows[1][1] = "涉诉".into();
    rows[1][4] = "6".into();
    rows[1][5] = "李代表".into();
    rows[1][6] = "（2024）浙0106民初1号".into();
    rows[1][7] = "西湖区人民法院".into();
    rows[1][8] = "民事".into();
    // Row 5: a bad identity number; row 6: litigation without 原审案号; row 7: five without a
    // representative; row 8: a channel a case cannot come in by.
    let mut bad_id = row(4);
    bad_id[3] = "110105196001010011".into();
    let mut no_original = row(5);
    no_original[1] = "涉诉".into();
    let mut no_rep = row(6);
    no_rep[4] = "5".into();
    let mut beijing = row(7);
    beijing[11] = "进京访".into();
    rows.extend([bad_id, no_original, no_rep, beijing]);
    let file = csv_of(&rows);
    let before = all_cases(&app).await;

    let p = preview(&app, &coord, &file).await;
    assert_eq!(p["format"], "csv");
    assert_eq!(p["rows"], 7);
    assert_eq!(p["committed"], false);
    assert_eq!(len(&p, "created"), 3, "{p}");
    assert_eq!(len(&p, "matched"), 0, "{p}");
    let refused = p["refused"].as_array().unwrap();
    let got: Vec<(u64, &str, &str)> = refused
        .iter()
        .map(|r| {
            (
                r["row"].as_u64().unwrap(),
                r["code"].as_str().unwrap(),
                r["column"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (5, "invalid_id_number", "身份证号码"),
            (6, "invalid_input", "原审案号"),
            (7, "invalid_input", "代表人"),
            (8, "invalid_input", "来源渠道"),
        ]
    );
    // The reasons are zh-CN, from the rules POST /cases keeps (its English message beside).
    assert!(
        refused[1]["message"]
            .as_str()
            .unwrap()
            .contains("涉诉案件须填写原审案号")
    );
    assert_eq!(
        refused[1]["message_en"],
        "original_case_number: required for a litigation matter (涉诉)"
    );
    // Identity numbers only masked.
    let text = p.to_string();
    for n in 1..=4 {
        assert!(!text.contains(&id_number(n)[3..14]), "{text}");
    }
    assert!(text.contains("110***********"), "{text}");
    assert_eq!(all_cases(&app).await, before, "a preview writes nothing");

    let c = commit(&app, &coord, &file, p["plan"].as_str()).await;
    assert_eq!(c["committed"], true);
    assert_eq!(len(&c, "created"), 3);
    assert_eq!(len(&c, "refused"), 4);
    assert_eq!(all_cases(&app).await, before + 3);
    let id = c["created"][1]["case_id"].as_i64().unwrap();
    let case = app.get_ok(&format!("/api/v1/cases/{id}"), &coord).await;
    assert_eq!(case["case_class"], "litigation");
    assert_eq!(case["petitioner_count"], 6);
    assert_eq!(case["collective"], true);
    assert_eq!(case["representative"], "李代表");
    assert_eq!(case["original_case_number"], "（2024）浙0106民初1号");
    assert_eq!(case["received_on"], "2026-03-15");
    assert_eq!(case["ledger"][0]["channel"], "letter");
    // Audited: each case as POST /cases audits it, and the import once.
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM audit_entries WHERE action = 'ledger.imported'"
        )
        .await,
        1
    );
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM audit_entries WHERE action = 'case.opened' AND detail LIKE '%\"import\":true%'"
        )
        .await,
        3
    );

    // The old plan no longer holds: nothing written.
    assert_error(
        upload(
            &app,
            &format!(
                "/api/v1/cases/import/commit?plan={}",
                p["plan"].as_str().unwrap()
            ),
            Some(&coord),
            &file,
        )
        .await,
        409,
        "import_changed",
    )
    .await;
    assert_eq!(all_cases(&app).await, before + 3);

    // The same file again: the three are matched with their cases, nothing new.
    let again = commit(&app, &coord, &file, None).await;
    assert_eq!(len(&again, "created"), 0, "{again}");
    assert_eq!(len(&again, "matched"), 3, "{again}");
    assert_eq!(again["matched"][1]["row"], 3);
    assert_eq!(again["matched"][1]["matches"][0]["case_id"], id);
    assert_eq!(
        again["matched"][1]["matches"][0]["matched_on"],
        "petitioner"
    );
    assert_eq!(all_cases(&app).await, before + 3);

    common::assert_documented(
        &app,
        &[
            ("/api/v1/cases/import/template", "get"),
            ("/api/v1/cases/import/preview", "post"),
            ("/api/v1/cases/import/commit", "post"),
        ],
    )
    .await;
}
on_both_backends!(csv_import, csv_preview_commit_and_again);

/// The acceptance: a 1,000-row XLSX with 20 bad rows.
async fn xlsx_thousand_rows_twenty_bad(app: TestApp) {
    let coord = app.login("xihu.coord").await;
    let mut rows: Vec<Vec<String>> = (1000..2000).map(row).collect();
    let mut bad = Vec::new();
    for i in (0..1000).step_by(50) {
        rows[i][10] = String::new(); // no summary
        bad.push(i as u64 + 2);
    }
    rows[1][4] = "3".into();
    let file = xlsx_of(&rows);
    let before = all_cases(&app).await;
    let p = preview(&app, &coord, &file).await;
    assert_eq!(p["format"], "xlsx");
    assert_eq!(p["rows"], 1000);
    assert_eq!(len(&p, "created"), 980);
    let refused: Vec<u64> = p["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["code"], "invalid_input");
            assert_eq!(r["column"], "内容摘要");
            r["row"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(refused, bad);
    let c = commit(&app, &coord, &file, p["plan"].as_str()).await;
    assert_eq!(len(&c, "created"), 980);
    assert_eq!(all_cases(&app).await, before + 980);
    // Row 2 is refused; row 3 is the first created, with its count read from a number cell.
    assert_eq!(c["created"][0]["row"], 3);
    let id = c["created"][0]["case_id"].as_i64().unwrap();
    let case = app.get_ok(&format!("/api/v1/cases/{id}"), &coord).await;
    assert_eq!(case["petitioner_count"], 3);
    assert_eq!(case["received_on"], "2026-03-15");
    let again = preview(&app, &coord, &file).await;
    assert_eq!(len(&again, "created"), 0);
    assert_eq!(len(&again, "matched"), 980);
    assert_eq!(len(&again, "refused"), 20);
}
on_both_backends!(xlsx_import, xlsx_thousand_rows_twenty_bad);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_inside_the_file_name_each_other() {
    let app = TestApp::spawn().await;
    let coord = app.login("xihu.coord").await;
    let mut rows: Vec<Vec<String>> = (1..=4).map(row).collect();
    rows[2][3] = id_number(1); // row 4: the petitioner of row 2
    rows[3][0] = rows[0][0].clone(); // row 5: the case number of row 2
    let p = preview(&app, &coord, &csv_of(&rows)).await;
    assert_eq!(len(&p, "created"), 1, "{p}");
    assert_eq!(p["created"][0]["row"], 3);
    let refused = p["refused"].as_array().unwrap();
    let rows_of: Vec<u64> = refused.iter().map(|r| r["row"].as_u64().unwrap()).collect();
    assert_eq!(rows_of, vec![2, 4, 5]);
    for r in refused {
        assert_eq!(r["code"], "duplicate_in_file");
    }
    let msg = |i: usize| refused[i]["message"].as_str().unwrap().to_owned();
    assert!(
        msg(0).contains("第4行") && msg(0).contains("第5行"),
        "{}",
        msg(0)
    );
    assert!(
        msg(1).contains("第2行") && msg(1).contains("同一信访人"),
        "{}",
        msg(1)
    );
    assert!(
        msg(2).contains("第2行") && msg(2).contains("案件编号相同"),
        "{}",
        msg(2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_files_change_nothing() {
    let app = TestApp::spawn_with(common::Backend::Sqlite, |s| {
        s.ledger.import_max_bytes = 64 * 1024;
        s.ledger.import_max_rows = 50;
    })
    .await
    .unwrap();
    let coord = app.login("xihu.coord").await;
    let before = all_cases(&app).await;
    let audit_before = scalar(&app, "SELECT COUNT(*) FROM audit_entries").await;
    let good = csv_of(&(1..=3).map(row).collect::<Vec<_>>());
    let mut truncated_xlsx = xlsx_of(&(1..=3).map(row).collect::<Vec<_>>());
    truncated_xlsx.truncate(200);
    // A zip bomb-ish workbook: 2 MiB of zeros that pack into a few KiB.
    let bomb = {
        use std::io::Write;
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        z.start_file(
            "xl/worksheets/sheet1.xml",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        z.write_all(&vec![b' '; 2 << 20]).unwrap();
        z.finish().unwrap().into_inner()
    };
    let not_a_workbook = {
        use std::io::Write;
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        z.start_file("readme.txt", zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(b"hello").unwrap();
        z.finish().unwrap().into_inner()
    };
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (vec![b'x'; 70 * 1024], 413, "import_too_large"),
        (
            csv_of(&(1..=51).map(row).collect::<Vec<_>>()),
            413,
            "import_too_many_rows",
        ),
        (bomb, 413, "import_too_large"),
        (
            b"%PDF-1.7\n\x00\x01\x02binary".to_vec(),
            415,
            "import_unsupported_type",
        ),
        (
            vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0],
            415,
            "import_unsupported_type",
        ),
        (
            vec![0xFF, 0xFE, 0x00, 0x41, 0x00, 0x42],
            415,
            "import_unsupported_type",
        ),
        (truncated_xlsx, 415, "import_unsupported_type"),
        (not_a_workbook, 415, "import_unsupported_type"),
        (Vec::new(), 422, "import_unreadable"),
        (
            "案件编号,信访人姓名\n1,张三\n".as_bytes().to_vec(),
            422,
            "import_missing_columns",
        ),
        (
            {
                let mut f = String::from_utf8(good.clone()).unwrap();
                f = f.replacen("登记日期", "备注", 1);
                f.into_bytes()
            },
            422,
            "import_unknown_columns",
        ),
        (
            {
                let f = String::from_utf8(good.clone()).unwrap();
                f.replacen("登记日期", "案件编号", 1).into_bytes()
            },
            422,
            "import_duplicate_columns",
        ),
        (
            b"{\"unexpected\":true}".to_vec(),
            422,
            "import_unknown_columns",
        ),
    ];
    for (file, status, code) in &cases {
        for path in [
            "/api/v1/cases/import/preview",
            "/api/v1/cases/import/commit",
        ] {
            let res = upload(&app, path, Some(&coord), file).await;
            assert_error(res, *status, code).await;
        }
    }
    // A file without its header row: refused, and the refusal does not repeat the number it
    // found where a header should be.
    let headerless = String::from_utf8(good.clone()).unwrap();
    let headerless = headerless.split_once('\n').unwrap().1;
    let body = assert_error(
        upload(
            &app,
            "/api/v1/cases/import/preview",
            Some(&coord),
            headerless.as_bytes(),
        )
        .await,
        422,
        "import_unknown_columns",
    )
    .await;
    assert!(!body.to_string().contains(&id_number(1)[3..14]), "{body}");
    assert_eq!(all_cases(&app).await, before);
    assert_eq!(
        scalar(&app, "SELECT COUNT(*) FROM audit_entries").await,
        audit_before
    );
    // A CSV that Excel saved in GBK is read.
    let (gbk, _, _) = encoding_rs::GBK.encode(std::str::from_utf8(&good).unwrap());
    let p = preview(&app, &coord, &gbk).await;
    assert_eq!(len(&p, "created"), 3, "{p}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_coordinator_imports_into_their_own_court() {
    let app = TestApp::spawn().await;
    let file = csv_of(&(1..=2).map(row).collect::<Vec<_>>());
    for path in [
        "/api/v1/cases/import/preview",
        "/api/v1/cases/import/commit",
    ] {
        assert_error(
            upload(&app, path, None, &file).await,
            401,
            "unauthenticated",
        )
        .await;
        for user in ["hz.officer", "zj.supervisor", "admin"] {
            let token = app.login(user).await;
            assert_error(
                upload(&app, path, Some(&token), &file).await,
                403,
                "forbidden",
            )
            .await;
        }
    }
    let officer = app.login("hz.officer").await;
    assert_error(
        app.get("/api/v1/cases/import/template", Some(&officer))
            .await,
        403,
        "forbidden",
    )
    .await;

    // Another court's coordinator imports into their own court, never into 西湖's.
    let xihu = app.login("xihu.coord").await;
    let other = app.login("shangcheng.coord").await;
    let xihu_before = app.get_ok("/api/v1/cases", &xihu).await;
    let c = commit(&app, &other, &file, None).await;
    assert_eq!(len(&c, "created"), 2);
    let xihu_after = app.get_ok("/api/v1/cases", &xihu).await;
    assert_eq!(xihu_before, xihu_after);
    let theirs = app.get_ok("/api/v1/cases", &other).await;
    assert!(
        theirs
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["case_number"] == "（2026）导1号")
    );
    // 西湖 importing the same people: matched with 上城's cases (the rule POST /cases offers
    // duplicates by), not created.
    let p = preview(&app, &xihu, &file).await;
    assert_eq!(len(&p, "matched"), 2, "{p}");
    assert_eq!(len(&p, "created"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_template_imports_cleanly() {
    let app = TestApp::spawn().await;
    let coord = app.login("xihu.coord").await;
    let res = app
        .get("/api/v1/cases/import/template?format=csv", Some(&coord))
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = res.bytes().await.unwrap().to_vec();
    assert!(csv.starts_with("\u{feff}案件编号,案件类别".as_bytes()));
    let p = preview(&app, &coord, &csv).await;
    assert_eq!((p["rows"].as_u64(), len(&p, "refused")), (Some(0), 0));
    // Filled in as a court would: rows under the template's header.
    let mut filled = csv.clone();
    let rows = csv_of(&(1..=2).map(row).collect::<Vec<_>>());
    let body = String::from_utf8(rows).unwrap();
    filled.extend_from_slice(body.split_once('\n').unwrap().1.as_bytes());
    let c = commit(&app, &coord, &filled, None).await;
    assert_eq!(len(&c, "created"), 2, "{c}");

    let res = app
        .get("/api/v1/cases/import/template?format=xlsx", Some(&coord))
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(".xlsx")
    );
    let xlsx = res.bytes().await.unwrap().to_vec();
    let p = preview(&app, &coord, &xlsx).await;
    assert_eq!(p["format"], "xlsx");
    assert_eq!((p["rows"].as_u64(), len(&p, "refused")), (Some(0), 0));
    assert_error(
        app.get("/api/v1/cases/import/template?format=pdf", Some(&coord))
            .await,
        422,
        "invalid_input",
    )
    .await;

    // English headers are read too.
    let english =
        "case_number,case_class,petitioner_name,petitioner_id_number,matter,subject,channel\n\
                   E-1,petition,Zhang San,"
            .to_owned()
            + &id_number(77)
            + ",unpaid wages,wages,letter\n";
    let p = preview(&app, &coord, english.as_bytes()).await;
    assert_eq!(len(&p, "created"), 1, "{p}");
}
