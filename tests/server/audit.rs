//! The audit log: every change and every unmasked read is recorded, hash-chained, and
//! `courtlink audit verify` finds a row edited or deleted behind the application's back.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly by panicking"
)]

use crate::common;

use common::{TestApp, assert_error};
use courtlink::store::audit::{AuditVerdict, verify};
use courtlink::store::{Pool, Store};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

async fn store_of(app: &TestApp) -> Store {
    Store::connect(app.settings.database.url.expose_secret(), 2)
        .await
        .unwrap()
}

async fn exec(store: &Store, sql: &str) {
    match store.pool() {
        Pool::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
        Pool::Postgres(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
    }
    .unwrap();
}

/// Runs `courtlink audit verify` against the app's database: (exit code, stdout + stderr).
fn verify_cli(app: &TestApp) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_courtlink"))
        .args(["audit", "verify"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env(
            "COURTLINK__DATABASE__URL",
            app.settings.database.url.expose_secret(),
        )
        .env("COURTLINK__LOG__FILTER", "error")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

async fn audit_trail(app: TestApp) {
    let bad = app
        .post(
            "/api/v1/auth/login",
            None,
            &json!({"username": "xihu.coord", "password": "nope"}),
        )
        .await;
    assert_error(bad, 401, "bad_credentials").await;
    let s = app.book_demo_session().await;
    // An unmasked read is its own action, for the case's own court only.
    let path = format!("/api/v1/cases/{}/identity-reads", s.case_id);
    let res = app
        .post(&path, Some(&s.coordinator_token), &json!({}))
        .await;
    assert_eq!(res.status(), 200);
    let read: Value = res.json().await.unwrap();
    assert_eq!(read["petitioner_id_number"].as_str().unwrap().len(), 18);
    let other = app.login("shangcheng.coord").await;
    assert_error(
        app.post(&path, Some(&other), &json!({})).await,
        403,
        "forbidden",
    )
    .await;
    let res = app
        .post(
            &format!("/api/v1/bookings/{}/join-code", s.booking_id),
            Some(&s.coordinator_token),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    // The new code revokes the petitioner's old token (issue 15): the petitioner joins anew.
    let issued: Value = res.json().await.unwrap();
    let joined: Value = app
        .post(
            "/api/v1/auth/join",
            None,
            &json!({"code": issued["join_code"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let petitioner_token = joined["token"].as_str().unwrap();
    // A session ends only once someone has come.
    let (mut host, mut petitioner) =
        common::live_call(&app, s.session_id, &s.officer_token, petitioner_token).await;
    common::media_flows(
        &app,
        s.session_id,
        &s.officer_token,
        &mut host,
        &mut petitioner,
    )
    .await;
    let res = app
        .post(
            &format!("/api/v1/sessions/{}/end", s.session_id),
            Some(&s.officer_token),
            &json!({"outcome": "explained_law"}),
        )
        .await;
    assert_eq!(res.status(), 200);

    let store = store_of(&app).await;
    let rows = store.audit_rows().await.unwrap();
    let actions: Vec<&str> = rows.iter().map(|r| r.action.as_str()).collect();
    for want in [
        "auth.login_failed",
        "auth.login",
        "booking.create",
        "case.identity_read",
        "session.join_code_reissued",
        "session.end",
    ] {
        assert!(actions.contains(&want), "{want} in {actions:?}");
    }
    assert!(
        rows.iter()
            .all(|r| !r.detail.contains(&s.join_code.replace('-', ""))
                && !r.detail.contains("courtlink-demo"))
    );
    assert!(matches!(verify(&rows), AuditVerdict::Intact { .. }));
    let (code, text) = verify_cli(&app);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("intact"), "{text}");

    // Edit a row behind the application's back: the chain breaks at that row.
    let booking_row = rows
        .iter()
        .find(|r| r.action == "booking.create")
        .unwrap()
        .id;
    exec(
        &store,
        &format!("UPDATE audit_entries SET detail = '{{}}' WHERE id = {booking_row}"),
    )
    .await;
    assert!(
        matches!(verify(&store.audit_rows().await.unwrap()), AuditVerdict::Broken { id, .. } if id == booking_row)
    );
    let (code, text) = verify_cli(&app);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains(&format!("entry {booking_row}")), "{text}");
}
on_both_backends!(every_change_is_audited_and_tampering_is_found, audit_trail);

#[tokio::test]
async fn a_deleted_row_breaks_the_chain_at_the_next_one() {
    let app = TestApp::spawn().await;
    let store = store_of(&app).await;
    // The demo's own set-up (its host courts' settings, a template) is audited too.
    let seeded = store.audit_rows().await.unwrap().len();
    for user in ["xihu.coord", "spc.officer", "zj.officer"] {
        app.login(user).await;
    }
    let rows = store.audit_rows().await.unwrap();
    assert_eq!(rows.len(), seeded + 3);
    exec(
        &store,
        &format!(
            "DELETE FROM audit_entries WHERE id = {}",
            rows[seeded + 1].id
        ),
    )
    .await;
    match verify(&store.audit_rows().await.unwrap()) {
        AuditVerdict::Broken { id, reason } => {
            assert_eq!(id, rows[seeded + 2].id);
            assert!(reason.contains("deleted"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}
