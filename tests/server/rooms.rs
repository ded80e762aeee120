//! `GET /api/v1/host-rooms`: a host court's staff list their own court's reception rooms (the
//! officer's calendar and template editor start from it); other roles and other courts' rooms
//! stay out.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly by panicking"
)]

use crate::common;

use common::{TestApp, assert_error};
use serde_json::Value;

fn names(rooms: &Value) -> Vec<String> {
    rooms
        .as_array()
        .expect("a list")
        .iter()
        .map(|r| r["name"].as_str().expect("a name").to_owned())
        .collect()
}

async fn own_court_rooms_only(app: TestApp) {
    let spc = app.login("spc.officer").await;
    let rooms = app.get_ok("/api/v1/host-rooms", &spc).await;
    let spc_names = names(&rooms);
    assert!(
        spc_names.iter().any(|n| n == "第三接谈室"),
        "the SPC's templated room is listed: {rooms}"
    );
    // Each listed room is one the officer may open: its template and its calendar answer.
    for room in rooms.as_array().unwrap() {
        let id = room["id"].as_i64().expect("an id");
        app.get_ok(&format!("/api/v1/host-rooms/{id}/template"), &spc)
            .await;
        app.get_ok(&format!("/api/v1/host-rooms/{id}/calendar"), &spc)
            .await;
    }
    // The supervisor of the same court sees the same rooms.
    let supervisor = app.login("spc.supervisor").await;
    assert_eq!(app.get_ok("/api/v1/host-rooms", &supervisor).await, rooms);

    // The high court's officer: its own rooms, none of the SPC's.
    let zj = app.login("zj.officer").await;
    let zj_rooms = app.get_ok("/api/v1/host-rooms", &zj).await;
    let zj_ids: Vec<i64> = zj_rooms
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert!(
        !zj_ids.is_empty(),
        "the high court has reception rooms: {zj_rooms}"
    );
    for room in rooms.as_array().unwrap() {
        assert!(
            !zj_ids.contains(&room["id"].as_i64().unwrap()),
            "no SPC room for the high court: {zj_rooms}"
        );
    }

    // A local court's coordinator keeps no reception rooms: refused; no token: 401.
    let coord = app.login("xihu.coord").await;
    assert_error(
        app.get("/api/v1/host-rooms", Some(&coord)).await,
        403,
        "forbidden",
    )
    .await;
    assert_error(
        app.get("/api/v1/host-rooms", None).await,
        401,
        "unauthenticated",
    )
    .await;
}

on_both_backends!(own_court_rooms_only, own_court_rooms_only);
