//! A local court's leader in a session (领导包案, issue 16), on SQLite and PostgreSQL: the booking
//! court's coordinator names one of its supervisors; the leader finds the session in their day,
//! joins, waits in the waiting room like the petitioner, is admitted by the host, and every step
//! is on the timeline. Nobody else names a leader, and only a supervisor of the booking court can
//! be one.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly by panicking"
)]

use crate::common;
use common::{TestApp, assert_error, next_json, next_of, ws_join, ws_send};
use serde_json::{Value, json};

async fn a_leader_is_named_admitted_and_on_the_timeline(app: TestApp) {
    let s = app.book_demo_session().await;
    let sid = s.session_id;
    let path = format!("/api/v1/sessions/{sid}/leaders");

    // The coordinator sees whom they may name: the court's supervisors.
    let view = app.get_ok(&path, &s.coordinator_token).await;
    assert_eq!(view["leaders"], json!([]));
    let candidates = view["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 1, "{view}");
    assert_eq!(candidates[0]["name"], "西湖法院 李副院长");
    let leader_id = candidates[0]["user_id"].as_i64().unwrap();

    // Nobody else names one, or reads the candidates.
    let sibling = app.login("shangcheng.coord").await;
    let spc_supervisor = app.login("spc.supervisor").await;
    for token in [&sibling, &s.officer_token, &spc_supervisor] {
        assert_error(
            app.post(&path, Some(token), &json!({"user_id": leader_id}))
                .await,
            403,
            "forbidden",
        )
        .await;
        assert_error(app.get(&path, Some(token)).await, 403, "forbidden").await;
    }
    // Only a supervisor of the booking court can be one: not the coordinator, not the SPC's
    // supervisor, not a user that does not exist. Bad bodies are refused.
    let admin = app.login("admin").await;
    let users = app.get_ok("/api/v1/admin/users", &admin).await;
    let id_of = |name: &str| {
        users
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["username"] == name)
            .unwrap_or_else(|| panic!("{name} in {users}"))["id"]
            .clone()
    };
    for user in [id_of("xihu.coord"), id_of("spc.supervisor"), json!(999_999)] {
        assert_error(
            app.post(&path, Some(&s.coordinator_token), &json!({"user_id": user}))
                .await,
            422,
            "leader_not_eligible",
        )
        .await;
    }
    for bad in [
        json!({}),
        json!({"user_id": "李副院长"}),
        json!({"user_id": 1, "x": 1}),
    ] {
        let res = app.post(&path, Some(&s.coordinator_token), &bad).await;
        assert!(
            res.status() == 400 || res.status() == 422,
            "{bad}: {}",
            res.status()
        );
    }

    // Named once.
    let res = app
        .post(
            &path,
            Some(&s.coordinator_token),
            &json!({"user_id": leader_id}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let event: Value = res.json().await.unwrap();
    assert_eq!(event["kind"], "leader_added");
    assert_eq!(event["data"]["name"], "西湖法院 李副院长");
    assert_error(
        app.post(
            &path,
            Some(&s.coordinator_token),
            &json!({"user_id": leader_id}),
        )
        .await,
        409,
        "leader_already_added",
    )
    .await;

    // The leader finds the session in their day, beside nothing of their own court's hosting.
    let leader = app.login("xihu.leader").await;
    let day = app.get_ok("/api/v1/sessions", &leader).await;
    let listed = day
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == sid)
        .expect("the leader's day lists the session");
    assert_eq!(listed["leaders"][0]["user_id"], leader_id);

    // They join and wait; the host sees them waiting, admits them, and they are in.
    let mut host = ws_join(&app, sid, &s.officer_token).await;
    next_json(&mut host).await;
    let mut lead = ws_join(&app, sid, &leader).await;
    let welcome = next_json(&mut lead).await;
    assert_eq!(welcome["state"], "waiting", "{welcome}");
    assert_eq!(welcome["you"]["role"], "leader", "{welcome}");
    let waiting = next_of(&mut host, "waiting").await;
    let pid = format!("user-{leader_id}");
    assert!(waiting.to_string().contains(&pid), "{waiting}");
    ws_send(&mut host, &json!({"type": "admit", "participant": pid})).await;
    next_of(&mut lead, "admitted").await;

    // The timeline shows it all; a leader's coming does not make the session live.
    let detail = app
        .get_ok(&format!("/api/v1/sessions/{sid}"), &s.officer_token)
        .await;
    let kinds: Vec<&str> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.starts_with(&["leader_added"]), "{kinds:?}");
    assert!(kinds.contains(&"admitted"), "{kinds:?}");
    assert_ne!(
        detail["status"], "live",
        "only the petitioner makes it live"
    );
    assert_eq!(detail["leaders"][0]["name"], "西湖法院 李副院长");

    drop(lead);
    drop(host);
}
on_both_backends!(leaders, a_leader_is_named_admitted_and_on_the_timeline);

/// After the session, no leader is added.
async fn no_leader_after_the_end(app: TestApp) {
    // Cancelled before its start: a slot under way (or starting while the test runs) can't be.
    let s = app.book_demo_session_ahead().await;
    let path = format!("/api/v1/sessions/{}/leaders", s.session_id);
    let view = app.get_ok(&path, &s.coordinator_token).await;
    let leader_id = view["candidates"][0]["user_id"].as_i64().unwrap();
    let booking = app
        .get(
            &format!("/api/v1/bookings/{}", s.booking_id),
            Some(&s.coordinator_token),
        )
        .await;
    let etag = booking.headers()["etag"].to_str().unwrap().to_owned();
    let res = app
        .client
        .post(app.url(&format!("/api/v1/bookings/{}/cancel", s.booking_id)))
        .bearer_auth(&s.coordinator_token)
        .header("if-match", etag)
        .json(&json!({"reason": "信访人改约"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_error(
        app.post(
            &path,
            Some(&s.coordinator_token),
            &json!({"user_id": leader_id}),
        )
        .await,
        409,
        "session_ended",
    )
    .await;
}
on_both_backends!(after_the_end, no_leader_after_the_end);
