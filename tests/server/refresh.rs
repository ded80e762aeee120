//! Refresh tokens (issue 21, item 2): a login sets an HttpOnly cookie whose token renews the
//! short staff token at `POST /auth/refresh` and is rotated at each use; a rotated token
//! presented again is refused and ends the sign-in (reuse detection); a logout (or any
//! revocation of the user's tokens) and the sign-in's end refuse it too. Both backends.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly by panicking"
)]

use serde_json::{Value, json};

use crate::common::{self, TestApp, assert_error};

/// The refresh token in an answer's `Set-Cookie`, and the cookie's attributes.
fn set_cookie(res: &reqwest::Response) -> Option<(String, String)> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let rest = v.strip_prefix("courtlink_refresh=")?;
            let (value, attributes) = rest.split_once(';').unwrap_or((rest, ""));
            Some((value.to_owned(), attributes.to_owned()))
        })
}

async fn login(app: &TestApp, username: &str) -> (String, String) {
    // The demo account may first have to set its own password (common::login_with does).
    app.login(username).await;
    let res = app
        .post(
            "/api/v1/auth/login",
            None,
            &json!({"username": username, "password": common::DEMO_PASSWORD}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let (cookie, attributes) = set_cookie(&res).expect("a login sets the refresh cookie");
    for attribute in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/api/v1/auth",
        "Max-Age=43200",
    ] {
        assert!(
            attributes.contains(attribute),
            "{attribute} in {attributes}"
        );
    }
    let body: Value = res.json().await.unwrap();
    (body["token"].as_str().unwrap().to_owned(), cookie)
}

async fn refresh(app: &TestApp, cookie: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/refresh"))
        .header("Cookie", format!("courtlink_refresh={cookie}"))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
}

async fn expire_every_sign_in(app: &TestApp) {
    let url = secrecy::ExposeSecret::expose_secret(&app.settings.database.url).to_owned();
    let store = courtlink::store::Store::connect(&url, 1).await.unwrap();
    let past = chrono::Utc::now() - chrono::Duration::hours(1);
    let sql = "UPDATE refresh_tokens SET expires_at = $1";
    match store.pool() {
        courtlink::store::Pool::Sqlite(p) => {
            sqlx::query(sql).bind(past).execute(p).await.unwrap();
        }
        courtlink::store::Pool::Postgres(p) => {
            sqlx::query(sql).bind(past).execute(p).await.unwrap();
        }
    }
    store.close().await;
}

async fn refresh_tokens(app: TestApp) {
    // Works: a fresh staff token and the user, without any bearer token, and a new cookie.
    let (_, first) = login(&app, "xihu.coord").await;
    let res = refresh(&app, &first).await;
    assert_eq!(res.status(), 200);
    let (second, attributes) = set_cookie(&res).expect("the cookie is rotated");
    assert_ne!(second, first);
    assert!(attributes.contains("HttpOnly"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["user"]["username"], "xihu.coord");
    let token = body["token"].as_str().unwrap();
    assert_eq!(
        app.get_ok("/api/v1/me", token).await["username"],
        "xihu.coord"
    );

    // The rotated one is refused, and presenting it ends the sign-in: the newer one of the
    // same family stops too (someone else has a copy).
    let res = refresh(&app, &first).await;
    let (cleared, attributes) = set_cookie(&res).expect("a refusal clears the cookie");
    assert!(cleared.is_empty() && attributes.contains("Max-Age=0"));
    assert_error(res, 401, "refresh_reused").await;
    assert_error(refresh(&app, &second).await, 401, "signed_out").await;

    // Revoked: a logout cuts every sign-in of the user at once (the token version moved on),
    // even one whose cookie the logout did not carry.
    let (token, other_device) = login(&app, "xihu.coord").await;
    let (_, this_device) = login(&app, "xihu.coord").await;
    let res = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(&token)
        .header("Cookie", format!("courtlink_refresh={this_device}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert!(set_cookie(&res).is_some_and(|(v, a)| v.is_empty() && a.contains("Max-Age=0")));
    assert_error(refresh(&app, &other_device).await, 401, "signed_out").await;
    assert_error(refresh(&app, &this_device).await, 401, "signed_out").await;

    // Expired: past its day (`auth.refresh_token_hours`), a sign-in renews nothing.
    let (_, late) = login(&app, "xihu.coord").await;
    expire_every_sign_in(&app).await;
    assert_error(refresh(&app, &late).await, 401, "signed_out").await;

    // An unknown cookie, and none at all without a bearer token.
    assert_error(refresh(&app, "00ff").await, 401, "signed_out").await;
    assert_error(
        app.post("/api/v1/auth/refresh", None, &json!({})).await,
        401,
        "unauthenticated",
    )
    .await;
}

on_both_backends!(refresh_t, refresh_tokens);
