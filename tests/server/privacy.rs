//! Petitioners' identity and phone numbers are sealed at rest: the database holds neither, the
//! API shows masks, the one audited read opens the number, and older plaintext rows get sealed.
//! On SQLite and PostgreSQL.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly by panicking"
)]

use crate::common;

use common::TestApp;
use courtlink::store::{Pool, Store};
use secrecy::ExposeSecret;
use serde_json::json;

/// The demo's made-up numbers (server/src/demo.rs).
const DEMO_ID: &str = "33010619650101123X";
const DEMO_PHONE: &str = "13800001234";

async fn rows(store: &Store, sql: &str) -> Vec<(i64, String, String, Option<String>)> {
    match store.pool() {
        Pool::Sqlite(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
        Pool::Postgres(p) => sqlx::query_as(sql).fetch_all(p).await.unwrap(),
    }
}

async fn sealed_at_rest(app: TestApp) {
    let store = Store::connect(app.settings.database.url.expose_secret(), 2)
        .await
        .unwrap();
    let all = "SELECT id, petitioner_id_number, petitioner_phone, petitioner_id_hash FROM cases ORDER BY id";
    let cases = rows(&store, all).await;
    assert!(!cases.is_empty());
    for (id, number, phone, hash) in &cases {
        assert!(
            number.starts_with("v1:"),
            "case {id}: identity number stored as {number}"
        );
        assert!(
            phone.is_empty() || phone.starts_with("v1:"),
            "case {id}: phone stored as {phone}"
        );
        assert_eq!(
            hash.as_deref().map(str::len),
            Some(64),
            "case {id}: keyed hash"
        );
        for secret in [DEMO_ID, DEMO_PHONE, "3301", "1380000"] {
            assert!(
                !number.contains(secret) && !phone.contains(secret),
                "case {id} leaks {secret}"
            );
        }
    }

    // The API masks; the audited read opens.
    let coordinator = app.login("xihu.coord").await;
    let list = app.get_ok("/api/v1/cases", &coordinator).await;
    let first = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["petitioner_id_masked"] == "330***********123X")
        .expect("a demo case of 西湖");
    let text = list.to_string();
    assert!(
        !text.contains(DEMO_ID) && !text.contains(DEMO_PHONE),
        "{text}"
    );
    let id = first["id"].as_i64().unwrap();
    let read = app
        .post(
            &format!("/api/v1/cases/{id}/identity-reads"),
            Some(&coordinator),
            &json!({}),
        )
        .await;
    assert_eq!(read.status().as_u16(), 200);
    let body: serde_json::Value = read.json().await.unwrap();
    assert_eq!(body["petitioner_id_number"], DEMO_ID);

    // A row written before sealing existed reads as it is, and the background pass seals it.
    let legacy = "INSERT INTO cases (court_id, case_number, petitioner_name, petitioner_id_number, \
                  subject, status, tier, created_at, petitioner_phone) \
                  SELECT court_id, 'legacy-1', '旧某', '110101195001011234', '旧案', 'registered', 3, created_at, \
                  '13911112222' FROM cases WHERE id = ";
    let sql = format!("{legacy}{id}");
    match store.pool() {
        Pool::Sqlite(p) => sqlx::query(&sql).execute(p).await.map(|_| ()).unwrap(),
        Pool::Postgres(p) => sqlx::query(&sql).execute(p).await.map(|_| ()).unwrap(),
    }
    let sealed = store.seal_legacy_cases(500).await.unwrap();
    assert_eq!(sealed, 1);
    assert_eq!(
        store.seal_legacy_cases(500).await.unwrap(),
        0,
        "nothing left to seal"
    );
    let after = rows(&store, all).await;
    let (legacy_id, number, phone, hash) = after.last().unwrap().clone();
    assert!(number.starts_with("v1:") && phone.starts_with("v1:") && hash.is_some());
    let case = store
        .case(courtlink::domain::CaseId(legacy_id))
        .await
        .unwrap();
    assert_eq!(case.petitioner_id_number, "110101195001011234");
    assert_eq!(case.petitioner_phone, "13911112222");

    // A sealed value altered in the database is refused, not shown.
    let tamper = format!(
        "UPDATE cases SET petitioner_phone = 'v1:' || 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' WHERE id = {legacy_id}"
    );
    match store.pool() {
        Pool::Sqlite(p) => sqlx::query(&tamper).execute(p).await.map(|_| ()).unwrap(),
        Pool::Postgres(p) => sqlx::query(&tamper).execute(p).await.map(|_| ()).unwrap(),
    }
    assert!(
        store
            .case(courtlink::domain::CaseId(legacy_id))
            .await
            .is_err()
    );
    store.close().await;
}

on_both_backends!(
    identity_and_phone_numbers_are_sealed_at_rest,
    sealed_at_rest
);
