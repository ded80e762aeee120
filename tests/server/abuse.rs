//! The service under abuse (issue 15): names that hide control, bidirectional-override or
//! zero-width characters (item 20). Each test failed on the code before its fix.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly by panicking"
)]

use crate::common;

use common::{TestApp, assert_error};
use serde_json::{Value, json};

// --- item 20: names ------------------------------------------------------------------------------

const RTL_OVERRIDE: &str = "\u{202E}";
const ZERO_WIDTH_SPACE: &str = "\u{200B}";

async fn court_id(app: &TestApp, admin: &str, name: &str) -> i64 {
    let courts = app.get_ok("/api/v1/admin/courts", admin).await;
    courts
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("court {name} in {courts}"))["id"]
        .as_i64()
        .unwrap()
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: &Value,
) -> reqwest::Response {
    app.client
        .request(method, app.url(path))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// A display name, a court's or room's name and a campaign contact's name with U+202E (which
/// shows `张三<U+202E>abc` as `张三cba`) or U+200B (which makes two names that look alike) are refused
/// with 422 `invalid_name`, and nothing is stored; a full-width name is stored in NFKC; a
/// username is stored lower-case.
async fn names_refuse_hidden_characters(app: TestApp) {
    let admin = app.login("admin").await;
    let xihu = court_id(&app, &admin, "杭州市西湖区人民法院").await;
    let user = |username: &str, name: String| {
        json!({"court_id": xihu, "username": username, "display_name": name,
               "role": "coordinator", "password": "a-long-enough-password"})
    };
    for (n, hidden) in [
        RTL_OVERRIDE,
        ZERO_WIDTH_SPACE,
        "\u{2066}",
        "\u{FEFF}",
        "\u{7}",
    ]
    .iter()
    .enumerate()
    {
        let res = app
            .post(
                "/api/v1/admin/users",
                Some(&admin),
                &user(&format!("hidden.{n}"), format!("张三{hidden}abc")),
            )
            .await;
        assert_error(res, 422, "invalid_name").await;
    }
    let users = app.get_ok("/api/v1/admin/users", &admin).await;
    assert!(
        !users.to_string().contains("hidden."),
        "no refused user was stored: {users}"
    );

    // NFKC: full-width letters and digits are stored as their plain forms; the username is
    // stored lower-case, so the same name in other case is taken.
    let res = app
        .post(
            "/api/v1/admin/users",
            Some(&admin),
            &user("Xihu.Clerk", "  ＷＡＮＧ　Ｌｉ１ ".into()),
        )
        .await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["display_name"], "WANG Li1");
    assert_eq!(created["username"], "xihu.clerk");
    let res = app
        .post(
            "/api/v1/admin/users",
            Some(&admin),
            &user("xihu.clerk", "王立".into()),
        )
        .await;
    assert_error(res, 409, "username_taken").await;

    // Renaming a user.
    let id = created["id"].as_i64().unwrap();
    let path = format!("/api/v1/admin/users/{id}");
    for hidden in [RTL_OVERRIDE, ZERO_WIDTH_SPACE] {
        let res = send(
            &app,
            reqwest::Method::PATCH,
            &path,
            &admin,
            &json!({"display_name": format!("王{hidden}立")}),
        )
        .await;
        assert_error(res, 422, "invalid_name").await;
    }
    let users = app.get_ok("/api/v1/admin/users", &admin).await;
    let stored = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == id)
        .unwrap();
    assert_eq!(stored["display_name"], "WANG Li1");

    // A court's and a room's name.
    let res = send(
        &app,
        reqwest::Method::PATCH,
        &format!("/api/v1/admin/courts/{xihu}"),
        &admin,
        &json!({"name": format!("杭州市西湖区{RTL_OVERRIDE}人民法院")}),
    )
    .await;
    assert_error(res, 422, "invalid_name").await;
    let res = app
        .post(
            &format!("/api/v1/admin/courts/{xihu}/rooms"),
            Some(&admin),
            &json!({"kind": "local", "name": format!("接访室{ZERO_WIDTH_SPACE}三")}),
        )
        .await;
    assert_error(res, 422, "invalid_name").await;

    // A campaign's contact and technical-support persons.
    let hz = app.login("hz.officer").await;
    let xihu_coord = app.login("xihu.coord").await;
    let deadline = chrono::Utc::now() + chrono::Duration::days(7);
    let res = app
        .post(
            "/api/v1/connectivity/campaigns",
            Some(&hz),
            &json!({"title": "联通测试", "deadline": deadline}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let campaign = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let contacts = format!("/api/v1/connectivity/campaigns/{campaign}/contacts");
    for (contact, tech) in [
        (format!("陈{ZERO_WIDTH_SPACE}专干"), "李工".to_owned()),
        ("陈专干".to_owned(), format!("李{RTL_OVERRIDE}工")),
    ] {
        let res = send(
            &app,
            reqwest::Method::PUT,
            &contacts,
            &xihu_coord,
            &json!({"contact_name": contact, "contact_phone": "13800001234",
                   "tech_name": tech, "tech_phone": "0571-88880000"}),
        )
        .await;
        assert_error(res, 422, "invalid_name").await;
    }
}

on_both_backends!(names, names_refuse_hidden_characters);
