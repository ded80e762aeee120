//! Issue 16's case file and directories, on SQLite and PostgreSQL: attachments to a case (type
//! read from the content, SHA-256 kept, size and types from the settings, scoped as the case is,
//! append-only, every download audited) and each court's directory (联系人, 技术保障人员: phones
//! sealed at rest, whole for the court and the other side of a live booking, masked for the
//! courts above, refused to anyone else; shown on sessions and on the notice; a court without a
//! directory shows what it last recorded for a connectivity campaign).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly by panicking"
)]

use crate::common;

use common::{TestApp, assert_error};
use courtlink::store::{Pool, Store};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

async fn court_id(app: &TestApp, name: &str) -> i64 {
    let admin = app.login("admin").await;
    app.get_ok("/api/v1/admin/courts", &admin)
        .await
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("court {name}"))["id"]
        .as_i64()
        .unwrap()
}

async fn query_strings(app: &TestApp, sql: &str, bind: &str) -> Vec<String> {
    let store = Store::connect(app.settings.database.url.expose_secret(), 1)
        .await
        .unwrap();
    let rows: Vec<(String,)> = match store.pool() {
        Pool::Sqlite(p) => sqlx::query_as(sql).bind(bind).fetch_all(p).await.unwrap(),
        Pool::Postgres(p) => sqlx::query_as(sql).bind(bind).fetch_all(p).await.unwrap(),
    };
    store.close().await;
    rows.into_iter().map(|r| r.0).collect()
}

async fn raw(app: &TestApp, sql: &str) -> Result<(), String> {
    let store = Store::connect(app.settings.database.url.expose_secret(), 1)
        .await
        .unwrap();
    let out = match store.pool() {
        Pool::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
        Pool::Postgres(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
    };
    store.close().await;
    out.map_err(|e| e.to_string())
}

async fn upload(
    app: &TestApp,
    token: &str,
    case: i64,
    name: Option<&str>,
    bytes: Vec<u8>,
) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url(&format!("/api/v1/cases/{case}/attachments")))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(bytes);
    if let Some(name) = name {
        let encoded: String = name
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_' {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        req = req.header(
            "content-disposition",
            format!("attachment; filename*=UTF-8''{encoded}"),
        );
    }
    req.send().await.unwrap()
}

fn pdf(text: &str) -> Vec<u8> {
    format!("%PDF-1.4\n% {text}\n%%EOF\n").into_bytes()
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";

async fn attachments_are_checked_scoped_and_audited(app: TestApp) {
    let coord = app.login("xihu.coord").await;
    let sibling = app.login("shangcheng.coord").await;
    let above = app.login("hz.officer").await;
    let case = app.get_ok("/api/v1/cases", &coord).await[0]["id"]
        .as_i64()
        .unwrap();

    // A PDF with a Chinese name: stored with its SHA-256 and the type read from the content.
    let judgment = pdf("判决书 （2025）浙0106民初123号");
    let res = upload(
        &app,
        &coord,
        case,
        Some("C:\\扫描\\判决书.pdf"),
        judgment.clone(),
    )
    .await;
    assert_eq!(res.status(), 201);
    let added: Value = res.json().await.unwrap();
    assert_eq!(added["file_name"], "判决书.pdf", "the path is cut off");
    assert_eq!(added["media_type"], "application/pdf");
    assert_eq!(added["size_bytes"], judgment.len());
    assert_eq!(added["sha256"], hex::encode(Sha256::digest(&judgment)));
    // A PNG named .pdf is a PNG: the content decides, not the name.
    let res = upload(&app, &coord, case, Some("身份证.pdf"), PNG.to_vec()).await;
    assert_eq!(res.status(), 201);
    let png: Value = res.json().await.unwrap();
    assert_eq!(png["media_type"], "image/png");
    // No name sent: one is given.
    let res = upload(&app, &coord, case, None, pdf("no name")).await;
    assert_eq!(res.status(), 201);
    let unnamed: Value = res.json().await.unwrap();
    assert_eq!(unnamed["file_name"], "附件.pdf");

    // Bad input: each refused with its code, and nothing stored.
    let exe = b"MZ\x90\0\x03\0\0\0 this program cannot be run in DOS mode".to_vec();
    assert_error(
        upload(&app, &coord, case, Some("材料.pdf"), exe).await,
        415,
        "attachment_type_not_allowed",
    )
    .await;
    assert_error(
        upload(
            &app,
            &coord,
            case,
            Some("a.pdf"),
            b"<html>%PDF-1.4</html>".to_vec(),
        )
        .await,
        415,
        "attachment_type_not_allowed",
    )
    .await;
    // A TIFF is a known type, but not one the default settings permit.
    assert_error(
        upload(
            &app,
            &coord,
            case,
            Some("scan.tif"),
            b"II*\0\x08\0\0\0".to_vec(),
        )
        .await,
        415,
        "attachment_type_not_allowed",
    )
    .await;
    assert_error(
        upload(&app, &coord, case, Some("empty.pdf"), Vec::new()).await,
        422,
        "attachment_empty",
    )
    .await;
    let max = app.settings.attachments.max_bytes;
    let mut big = pdf("big");
    big.resize(max + 1, b' ');
    assert_error(
        upload(&app, &coord, case, Some("big.pdf"), big).await,
        413,
        "attachment_too_large",
    )
    .await;
    // A file well over the limit still gets its answer, not a broken connection: the server
    // refuses it by its declared length at once, and reads the rest while the client is still
    // sending it (a browser would show a network error instead of the words of the 413).
    for _ in 0..5 {
        let mut bigger = pdf("bigger");
        bigger.resize(max + max / 2, b' ');
        assert_error(
            upload(&app, &coord, case, Some("bigger.pdf"), bigger).await,
            413,
            "attachment_too_large",
        )
        .await;
    }
    assert_error(
        upload(&app, &coord, case, Some("a\u{202E}fdp.exe"), pdf("x")).await,
        422,
        "invalid_name",
    )
    .await;
    // Wrong scope: a sibling court, a court above, another role: only the case's own court
    // writes.
    for token in [&sibling, &above] {
        assert_error(
            upload(&app, token, case, Some("x.pdf"), pdf("x")).await,
            403,
            "forbidden",
        )
        .await;
    }
    assert_error(
        upload(&app, &coord, 999_999, Some("x.pdf"), pdf("x")).await,
        404,
        "not_found",
    )
    .await;

    // The case's readers see the list (also on the case file); a sibling court does not.
    let path = format!("/api/v1/cases/{case}/attachments");
    let list = app.get_ok(&path, &above).await;
    assert_eq!(list.as_array().unwrap().len(), 3, "{list}");
    let file = app.get_ok(&format!("/api/v1/cases/{case}"), &coord).await;
    assert_eq!(file["attachments"].as_array().unwrap().len(), 3);
    assert_error(app.get(&path, Some(&sibling)).await, 403, "forbidden").await;

    // Download: the bytes, the sniffed type, as a download, not sniffed by the browser.
    let one = format!("{path}/{}", added["id"]);
    let res = app.get(&one, Some(&above)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment"),
    );
    assert!(res.headers().contains_key("repr-digest"));
    assert_eq!(res.bytes().await.unwrap().to_vec(), judgment);
    // The host officer of a booking on the case reads it too (the host court is above).
    let demo = app.book_demo_session().await;
    assert_eq!(demo.case_id, case);
    let res = app.get(&one, Some(&demo.officer_token)).await;
    assert_eq!(res.status(), 200);
    assert_error(app.get(&one, Some(&sibling)).await, 403, "forbidden").await;
    // An attachment of another case is not found through this one.
    let other_case = app.get_ok("/api/v1/cases", &coord).await[1]["id"]
        .as_i64()
        .unwrap();
    assert_error(
        app.get(
            &format!("/api/v1/cases/{other_case}/attachments/{}", added["id"]),
            Some(&coord),
        )
        .await,
        404,
        "not_found",
    )
    .await;

    // Every download is on the audit chain (two here), with the file's SHA-256; the uploads too.
    let downloads = query_strings(
        &app,
        "SELECT detail FROM audit_entries WHERE action = 'case.attachment_downloaded' AND subject = $1",
        &format!("case:{case}"),
    )
    .await;
    assert_eq!(downloads.len(), 2, "{downloads:?}");
    assert!(downloads[0].contains(added["sha256"].as_str().unwrap()));
    let uploads = query_strings(
        &app,
        "SELECT detail FROM audit_entries WHERE action = 'case.attachment_added' AND subject = $1",
        &format!("case:{case}"),
    )
    .await;
    assert_eq!(uploads.len(), 3);

    // Append-only: the database refuses to change or delete what was attached.
    let id = added["id"].as_i64().unwrap();
    assert!(
        raw(
            &app,
            &format!("UPDATE case_attachments SET file_name = 'x' WHERE id = {id}")
        )
        .await
        .is_err()
    );
    assert!(
        raw(
            &app,
            &format!("DELETE FROM case_attachments WHERE id = {id}")
        )
        .await
        .is_err()
    );
}
on_both_backends!(attachments, attachments_are_checked_scoped_and_audited);

async fn directories_are_sealed_and_shown_to_whom_they_serve(app: TestApp) {
    let coord = app.login("xihu.coord").await;
    let sibling = app.login("shangcheng.coord").await;
    let above = app.login("hz.officer").await;
    let spc = app.login("spc.officer").await;
    let xihu = court_id(&app, "杭州市西湖区人民法院").await;
    let path = format!("/api/v1/courts/{xihu}/directory");

    // Nothing yet.
    let empty = app.get_ok(&path, &coord).await;
    assert_eq!(empty["source"], "none");
    assert!(empty["contact"].is_null());

    let body = json!({
        "contact": {"name": "陈专干", "phone": "13800001234"},
        "tech_support": {"name": "技术科 李工", "phone": "0571-8700 1234"},
    });
    let put = |token: &str, body: &Value| {
        app.client
            .put(app.url(&path))
            .bearer_auth(token.to_owned())
            .json(body)
            .send()
    };
    let res = put(&coord, &body).await.unwrap();
    assert_eq!(res.status(), 200);
    let saved: Value = res.json().await.unwrap();
    assert_eq!(saved["contact"]["phone"], "13800001234");
    assert_eq!(saved["source"], "directory");
    assert_eq!(saved["masked"], false);

    // Sealed at rest: no phone in the table, and none in the audit entry.
    let stored = query_strings(
        &app,
        "SELECT contact_phone_sealed || ' ' || tech_phone_sealed FROM court_directories \
         WHERE CAST(court_id AS TEXT) = $1",
        &xihu.to_string(),
    )
    .await;
    assert_eq!(stored.len(), 1);
    assert!(stored[0].starts_with("v1:"), "{stored:?}");
    assert!(!stored[0].contains("1380000") && !stored[0].contains("8700"));
    let audit = query_strings(
        &app,
        "SELECT detail FROM audit_entries WHERE action = 'court.directory_set' AND subject = $1",
        &format!("court:{xihu}"),
    )
    .await;
    assert_eq!(audit.len(), 1);
    assert!(audit[0].contains("陈专干") && !audit[0].contains("13800001234"));

    // A court above reads it masked; a sibling and a court with no booking with it do not read
    // it whole (the SPC is above: masked).
    let masked = app.get_ok(&path, &above).await;
    assert_eq!(masked["contact"]["phone"], "138****1234");
    assert_eq!(masked["masked"], true);
    assert_eq!(app.get_ok(&path, &spc).await["masked"], true);
    assert_error(app.get(&path, Some(&sibling)).await, 403, "forbidden").await;

    // Writes: only the court's own coordinator (or admin), only its own court, valid fields.
    assert_error(put(&above, &body).await.unwrap(), 403, "forbidden").await;
    assert_error(put(&sibling, &body).await.unwrap(), 403, "forbidden").await;
    for (bad, code) in [
        (
            json!({"contact": {"name": "陈", "phone": "12345"}}),
            "invalid_input",
        ),
        (
            json!({"contact": {"name": "", "phone": "13800001234"}}),
            "invalid_input",
        ),
        (
            json!({"contact": {"name": "陈\u{202E}", "phone": "13800001234"}}),
            "invalid_name",
        ),
    ] {
        assert_error(put(&coord, &bad).await.unwrap(), 422, code).await;
    }

    // A live booking between 西湖 and the SPC: the SPC's officer reads 西湖's phones whole, on
    // the directory and on the day's sessions; the notice prints them for the petitioner.
    let demo = app.book_demo_session().await;
    let whole = app.get_ok(&path, &spc).await;
    assert_eq!(whole["contact"]["phone"], "13800001234", "{whole}");
    let day = app.get_ok("/api/v1/sessions", &spc).await;
    let session = day
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == demo.session_id)
        .expect("the booked session is today's");
    let contacts = session["contacts"].as_array().unwrap();
    let local = contacts.iter().find(|d| d["court_id"] == xihu).unwrap();
    assert_eq!(local["tech_support"]["name"], "技术科 李工");
    assert_eq!(local["tech_support"]["phone"], "0571-8700 1234");
    assert_eq!(contacts.len(), 2, "local and host court: {contacts:?}");
    let notice = app
        .get_ok(
            &format!("/api/v1/bookings/{}/notice", demo.booking_id),
            &coord,
        )
        .await;
    assert_eq!(notice["local_contacts"]["contact"]["name"], "陈专干");
    assert_eq!(notice["local_contacts"]["contact"]["phone"], "13800001234");
    // Both sides' view of the booking names the same people.
    for token in [&coord, &spc] {
        let booking = app
            .get_ok(&format!("/api/v1/bookings/{}", demo.booking_id), token)
            .await;
        assert_eq!(booking["id"], demo.booking_id);
        let contacts = booking["contacts"].as_array().unwrap();
        let local = contacts.iter().find(|d| d["court_id"] == xihu).unwrap();
        assert_eq!(local["contact"]["phone"], "13800001234", "{booking}");
        assert_eq!(local["tech_support"]["name"], "技术科 李工");
    }

    // Clearing a person.
    let res = put(
        &coord,
        &json!({"contact": {"name": "陈专干", "phone": "13800001234"}}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.json::<Value>().await.unwrap()["tech_support"].is_null());
}
on_both_backends!(
    directories,
    directories_are_sealed_and_shown_to_whom_they_serve
);

/// A court that recorded its persons only for a connectivity campaign (before directories):
/// that record is shown, its phones now sealed too, until the court saves a directory.
async fn a_campaign_record_stands_in_for_a_directory(app: TestApp) {
    let coord = app.login("xihu.coord").await;
    let hz = app.login("hz.officer").await;
    let xihu = court_id(&app, "杭州市西湖区人民法院").await;
    let deadline = (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339();
    let res = app
        .post(
            "/api/v1/connectivity/campaigns",
            Some(&hz),
            &json!({"title": "联通测试", "deadline": deadline}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let campaign = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let res = app
        .client
        .put(app.url(&format!(
            "/api/v1/connectivity/campaigns/{campaign}/contacts"
        )))
        .bearer_auth(&coord)
        .json(
            &json!({"contact_name": "王立", "contact_phone": "0571-8800 1234",
                      "tech_name": "陈技", "tech_phone": "0571-8800 5678"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let stored = query_strings(
        &app,
        "SELECT tech_phone FROM connectivity_contacts WHERE CAST(campaign_id AS TEXT) = $1",
        &campaign.to_string(),
    )
    .await;
    assert!(stored[0].starts_with("v1:"), "sealed: {stored:?}");
    // The campaign view still opens it (masked for the court above).
    let view = app
        .get_ok(&format!("/api/v1/connectivity/campaigns/{campaign}"), &hz)
        .await;
    let court = view["courts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == xihu)
        .unwrap();
    assert_eq!(court["tech_support"]["phone"], "057*******5678");

    let path = format!("/api/v1/courts/{xihu}/directory");
    let d = app.get_ok(&path, &coord).await;
    assert_eq!(d["source"], "campaign");
    assert_eq!(d["tech_support"]["name"], "陈技");
    assert_eq!(d["tech_support"]["phone"], "0571-8800 5678");
    let res = app
        .client
        .put(app.url(&path))
        .bearer_auth(&coord)
        .json(&json!({"tech_support": {"name": "赵工", "phone": "0571-8800 9999"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let d = app.get_ok(&path, &coord).await;
    assert_eq!(d["source"], "directory");
    assert_eq!(d["tech_support"]["name"], "赵工");
    assert!(d["contact"].is_null());
}
on_both_backends!(
    campaign_fallback,
    a_campaign_record_stands_in_for_a_directory
);

/// Each code an upload can be refused with has its words in zh-CN and in English (what the pages
/// show).
#[test]
fn new_codes_have_words_in_both_catalogues() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for lang in ["zh-CN", "en"] {
        let text = std::fs::read_to_string(root.join(format!("web/i18n/{lang}.js"))).unwrap();
        // `forbidden` is the answer to the wrong scope, as everywhere in the API.
        for code in [
            "attachment_too_large",
            "attachment_type_not_allowed",
            "attachment_empty",
            "forbidden",
            "invalid_name",
        ] {
            for key in [format!("'error.{code}':"), format!("'error.{code}.next':")] {
                assert!(text.contains(&key), "{lang} lacks {key}");
            }
        }
    }
}

/// The attachment settings are checked at start-up, each failure naming its key; a type the
/// server cannot recognise by content is not accepted as a setting at all.
#[test]
fn bad_attachment_settings_are_named() {
    for max in [0, 1023, (64 << 20) + 1] {
        let mut s = common::test_settings("sqlite://unused.db".into());
        s.attachments.max_bytes = max;
        let err = s.validate().expect_err("a bad size").to_string();
        assert!(err.contains("attachments.max_bytes"), "{max}: {err}");
    }
    let mut s = common::test_settings("sqlite://unused.db".into());
    s.attachments.allowed_types.clear();
    let err = s.validate().expect_err("no type").to_string();
    assert!(err.contains("attachments.allowed_types"), "{err}");
    for bad in ["text/html", "application/x-msdownload", "pdf", "image/*"] {
        assert!(
            serde_json::from_value::<courtlink::domain::MediaType>(json!(bad)).is_err(),
            "{bad}"
        );
    }
    let s = common::test_settings("sqlite://unused.db".into());
    assert!(s.validate().is_ok());
    assert_eq!(s.attachments.max_bytes, 10 << 20, "10 MiB by default");
    let defaults: Vec<&str> = s
        .attachments
        .allowed_types
        .iter()
        .map(|m| m.as_str())
        .collect();
    assert_eq!(
        defaults,
        [
            "application/pdf",
            "image/jpeg",
            "image/png",
            "image/gif",
            "image/webp"
        ]
    );
}

/// The description lists every type a download can be sent as (the openapi property test checks
/// a 2xx body's media type against it, but reaches no attachment with the demo data).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_are_described_with_every_type() {
    let app = TestApp::spawn().await;
    let doc: Value = app
        .get("/api/openapi.json", None)
        .await
        .json()
        .await
        .unwrap();
    let content = &doc["paths"]["/api/v1/cases/{id}/attachments/{attachment_id}"]["get"]["responses"]
        ["200"]["content"];
    for m in courtlink::domain::MediaType::ALL {
        assert!(content.get(m.as_str()).is_some(), "{m}: {content}");
    }
}
