//! The whole path over HTTP and WebSocket — book, join, talk, end, record — on SQLite and
//! PostgreSQL, and the wrong people and bad input at every door.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly by panicking"
)]

use crate::common;

use common::{TestApp, assert_error, next_json, next_of, ws_join, ws_send};
use courtlink::domain::BookingId;
use serde_json::{Value, json};

async fn whole_path(app: TestApp) {
    // 1. The coordinator of a basic court picks a case, sees the slots of every court above it,
    //    and books one of the SPC for the case and one of its rooms.
    let coord = app.login("xihu.coord").await;
    let cases = app.get_ok("/api/v1/cases", &coord).await;
    let case = &cases[0];
    assert!(
        case["petitioner_id_masked"]
            .as_str()
            .unwrap()
            .contains("****")
    );
    let slots = app.get_ok("/api/v1/slots", &coord).await;
    let levels: std::collections::BTreeSet<&str> = slots
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["court"]["level"].as_str().unwrap())
        .collect();
    assert_eq!(
        levels,
        ["high", "intermediate", "supreme"].into_iter().collect()
    );
    let rooms = app.get_ok("/api/v1/local-rooms", &coord).await;
    let slot = app.joinable_spc_slot(&coord).await;
    let res = app
        .post(
            "/api/v1/bookings",
            Some(&coord),
            &json!({"slot_id": slot["id"], "case_id": case["id"], "local_room_id": rooms[0]["id"]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let booking: Value = res.json().await.unwrap();
    let code = booking["join_code"].as_str().unwrap();
    assert_eq!(booking["join_path"], format!("/join.html#code={code}"));
    let session_id = booking["session_id"].as_i64().unwrap();

    // 2. The SPC officer sees it among the day's sessions and joins.
    let officer = app.login("spc.officer").await;
    let day = slot["starts_at"]
        .as_str()
        .unwrap()
        .parse::<chrono::DateTime<chrono::Utc>>()
        .unwrap()
        .with_timezone(&courtlink::app::clock::beijing())
        .format("%Y-%m-%d")
        .to_string();
    let today = app
        .get_ok(&format!("/api/v1/sessions?day={day}"), &officer)
        .await;
    assert!(
        today
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == session_id && s["status"] == "scheduled")
    );
    let mut officer_ws = ws_join(&app, session_id, &officer).await;
    let welcome = next_json(&mut officer_ws).await;
    assert_eq!(welcome["type"], "welcome");
    assert_eq!(welcome["you"]["role"], "host");
    assert_eq!(welcome["participants"], json!([]));

    // 3. The petitioner joins by code; the two are told who is polite and exchange signals.
    let res = app
        .post("/api/v1/auth/join", None, &json!({"code": code}))
        .await;
    assert_eq!(res.status(), 200);
    let joined: Value = res.json().await.unwrap();
    assert_eq!(joined["session_id"], session_id);
    let petitioner = joined["token"].as_str().unwrap();
    let mut petitioner_ws = ws_join(&app, session_id, petitioner).await;
    let welcome = next_json(&mut petitioner_ws).await;
    assert_eq!(
        (welcome["you"]["id"].as_str(), welcome["state"].as_str()),
        (Some("petitioner"), Some("waiting"))
    );
    assert_eq!(welcome["participants"][0]["role"], "host");
    let officer_id = welcome["participants"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The petitioner waits until the officer admits them; then the pair learns who is polite.
    let news = next_json(&mut officer_ws).await;
    assert_eq!(
        (news["type"].as_str(), news["participant"]["id"].as_str()),
        (Some("waiting"), Some("petitioner"))
    );
    ws_send(
        &mut officer_ws,
        &json!({"type": "admit", "participant": "petitioner"}),
    )
    .await;
    let admitted = next_json(&mut petitioner_ws).await;
    assert_eq!(admitted["type"], "admitted");
    assert_eq!(
        admitted["participants"][0]["id"].as_str(),
        Some(officer_id.as_str())
    );
    assert_eq!(admitted["participants"][0]["polite"], false);
    let news = next_json(&mut officer_ws).await;
    assert_eq!(
        (news["type"].as_str(), news["polite"].as_bool()),
        (Some("joined"), Some(true))
    );

    let offer =
        json!({"description": {"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}});
    ws_send(
        &mut petitioner_ws,
        &json!({"type": "signal", "to": officer_id, "data": offer}),
    )
    .await;
    let got = next_of(&mut officer_ws, "signal").await;
    assert_eq!(
        (got["from"].as_str(), &got["data"]),
        (Some("petitioner"), &offer)
    );
    let answer = json!({"description": {"type": "answer", "sdp": "v=0\r\n"}});
    ws_send(
        &mut officer_ws,
        &json!({"type": "signal", "to": "petitioner", "data": answer}),
    )
    .await;
    assert_eq!(next_of(&mut petitioner_ws, "signal").await["data"], answer);

    // Chat works both ways and every message's seq rises.
    ws_send(
        &mut petitioner_ws,
        &json!({"type": "chat", "text": "法官您好，能听到吗？"}),
    )
    .await;
    let line = next_of(&mut officer_ws, "chat").await;
    assert_eq!(
        (line["from"].as_str(), line["text"].as_str()),
        (Some("petitioner"), Some("法官您好，能听到吗？"))
    );
    ws_send(
        &mut officer_ws,
        &json!({"type": "chat", "text": "能听到，请讲。"}),
    )
    .await;
    let mine = next_of(&mut petitioner_ws, "chat").await;
    let line = next_of(&mut petitioner_ws, "chat").await;
    assert_eq!(mine["text"], "法官您好，能听到吗？");
    assert_eq!(line["text"], "能听到，请讲。");
    assert!(line["seq"].as_u64() > mine["seq"].as_u64());

    // 4. The officer ends the session with an outcome; both sides are told.
    common::media_flows(
        &app,
        session_id,
        &officer,
        &mut officer_ws,
        &mut petitioner_ws,
    )
    .await;
    let res = app
        .post(
            &format!("/api/v1/sessions/{session_id}/end"),
            Some(&officer),
            &json!({"outcome": "explained_law", "note": "已当面答复，释法明理。"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let ended: Value = res.json().await.unwrap();
    assert_eq!(
        (ended["status"].as_str(), ended["outcome"].as_str()),
        (Some("ended"), Some("explained_law"))
    );
    assert_eq!(
        next_of(&mut petitioner_ws, "ended").await["outcome"],
        "explained_law"
    );
    assert_eq!(
        next_of(&mut officer_ws, "ended").await["outcome"],
        "explained_law"
    );
    let again = app
        .post(
            &format!("/api/v1/sessions/{session_id}/end"),
            Some(&officer),
            &json!({"outcome": "assign"}),
        )
        .await;
    assert_error(again, 409, "session_ended").await;
    // Nobody joins an ended session, and its code no longer works (answered as a wrong code
    // would be: issue 15 item 6).
    let late = app
        .post("/api/v1/auth/join", None, &json!({"code": code}))
        .await;
    assert_error(late, 401, "bad_join_code").await;

    // 5. The ledger shows a video reception with the SPC, counted as handled locally.
    let detail = app
        .get_ok(&format!("/api/v1/cases/{}", case["id"]), &coord)
        .await;
    let entry = detail["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["session_id"] == session_id)
        .expect("a ledger entry for the session");
    assert_eq!(
        (entry["channel"].as_str(), entry["counted_as"].as_str()),
        (Some("video_spc"), Some("local"))
    );
    // The timeline holds joins, chat, the media reports and the outcome (leaves arrive as the
    // sockets close).
    let timeline = app
        .get_ok(&format!("/api/v1/sessions/{session_id}"), &officer)
        .await;
    let events = timeline["events"].as_array().unwrap();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .filter(|k| *k != "status_changed")
        .collect();
    assert_eq!(
        &kinds[..8],
        [
            "joined", "joined", "admitted", "chat", "chat", "quality", "quality", "ended"
        ],
        "{kinds:?}"
    );
    let ended_event = events.iter().find(|e| e["kind"] == "ended").unwrap();
    assert_eq!(ended_event["data"]["outcome"], "explained_law");
    // Every change of status is on the timeline, with who caused it.
    let changes: Vec<(String, String, String)> = events
        .iter()
        .filter(|e| e["kind"] == "status_changed")
        .map(|e| {
            let d = &e["data"];
            (
                d["from"].as_str().unwrap().to_owned(),
                d["to"].as_str().unwrap().to_owned(),
                e["actor"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            (
                "scheduled".to_owned(),
                "waiting".to_owned(),
                officer_id.clone()
            ),
            ("waiting".to_owned(), "live".to_owned(), officer_id.clone()),
            ("live".to_owned(), "ended".to_owned(), officer_id.clone()),
        ]
    );
    drop(petitioner_ws);
    drop(officer_ws);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let t = app
        .get_ok(&format!("/api/v1/sessions/{session_id}"), &officer)
        .await;
    let left = t["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "left")
        .count();
    assert_eq!(left, 0, "after the end, closing sockets are not leaves");
}
on_both_backends!(the_whole_path, whole_path);

async fn one_slot_raced(app: TestApp) {
    let coord = app.login("xihu.coord").await;
    let case_id = app.get_ok("/api/v1/cases", &coord).await[0]["id"].clone();
    let room_id = app.get_ok("/api/v1/local-rooms", &coord).await[0]["id"].clone();
    let slot = app.joinable_spc_slot(&coord).await;
    let body = json!({"slot_id": slot["id"], "case_id": case_id, "local_room_id": room_id});
    let attempts = (0..100).map(|_| app.post("/api/v1/bookings", Some(&coord), &body));
    let answers = futures_util::future::join_all(attempts).await;
    let mut created = 0;
    let mut conflicts = 0;
    for res in answers {
        match res.status().as_u16() {
            201 => created += 1,
            409 => {
                let v: Value = res.json().await.unwrap();
                assert!(
                    v["code"] == "slot_taken" || v["code"] == "local_room_busy",
                    "{v}"
                );
                conflicts += 1;
            }
            // Once the winner has committed, the same case already holds a live booking with
            // this host court: refused by the one-live-booking rule (issue 14), which a direct
            // booking skipped before.
            422 => {
                let v: Value = res.json().await.unwrap();
                assert!(
                    v["code"] == "ineligible" && v["rule"] == "already_booked",
                    "{v}"
                );
                conflicts += 1;
            }
            other => panic!("unexpected {other}: {}", res.text().await.unwrap()),
        }
    }
    assert_eq!((created, conflicts), (1, 99));
    let open = app.get_ok("/api/v1/slots", &coord).await;
    assert!(
        !open
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == slot["id"]),
        "a booked slot is no longer open"
    );
}
on_both_backends!(one_hundred_bookings_of_one_slot, one_slot_raced);

async fn scope_and_roles(app: TestApp) {
    let s = app.book_demo_session().await;
    let other_coord = app.login("shangcheng.coord").await;
    let high_officer = app.login("zj.officer").await;
    let admin = app.login("admin").await;
    let sid = s.session_id;

    // A coordinator of another court cannot read this court's case, its sessions, or book with it.
    assert_error(
        app.get(&format!("/api/v1/cases/{}", s.case_id), Some(&other_coord))
            .await,
        403,
        "forbidden",
    )
    .await;
    assert_error(
        app.get(&format!("/api/v1/sessions/{sid}"), Some(&other_coord))
            .await,
        403,
        "forbidden",
    )
    .await;
    let rooms = app.get_ok("/api/v1/local-rooms", &other_coord).await;
    let slot = app.joinable_spc_slot(&other_coord).await;
    let res = app
        .post(
            "/api/v1/bookings",
            Some(&other_coord),
            &json!({"slot_id": slot["id"], "case_id": s.case_id, "local_room_id": rooms[0]["id"]}),
        )
        .await;
    assert_error(res, 403, "forbidden").await;
    // An officer of a court that did not host the session neither sees it nor ends it.
    assert_error(
        app.get(&format!("/api/v1/sessions/{sid}"), Some(&high_officer))
            .await,
        403,
        "forbidden",
    )
    .await;
    let res = app
        .post(
            &format!("/api/v1/sessions/{sid}/end"),
            Some(&high_officer),
            &json!({"outcome": "explained_law"}),
        )
        .await;
    assert_error(res, 403, "forbidden").await;
    let day_list = app.get_ok("/api/v1/sessions", &high_officer).await;
    assert!(!day_list.as_array().unwrap().iter().any(|x| x["id"] == sid));
    // Roles: a coordinator does not end sessions, an officer does not book, an admin reads no cases.
    let res = app
        .post(
            &format!("/api/v1/sessions/{sid}/end"),
            Some(&s.coordinator_token),
            &json!({"outcome": "explained_law"}),
        )
        .await;
    assert_error(res, 403, "forbidden").await;
    assert_error(
        app.get("/api/v1/cases", Some(&s.officer_token)).await,
        403,
        "forbidden",
    )
    .await;
    assert_error(
        app.get("/api/v1/cases", Some(&admin)).await,
        403,
        "forbidden",
    )
    .await;
    // A petitioner's token opens nothing but its session's socket.
    for path in [
        "/api/v1/cases",
        "/api/v1/me",
        "/api/v1/sessions",
        &format!("/api/v1/sessions/{sid}"),
    ] {
        assert_error(
            app.get(path, Some(&s.petitioner_token)).await,
            401,
            "unauthenticated",
        )
        .await;
    }
    // Unknown things are 404, not 500.
    assert_error(
        app.get("/api/v1/cases/999999", Some(&s.coordinator_token))
            .await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        app.get("/api/v1/sessions/999999", Some(&s.officer_token))
            .await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        app.get("/api/v1/no-such-thing", Some(&s.officer_token))
            .await,
        404,
        "not_found",
    )
    .await;
}
on_both_backends!(scope_and_roles_are_checked, scope_and_roles);

/// A token signed with `key`, naming the demo key's id (`auth.signing_kid`).
fn forge(claims: &Value, key: &str, alg: jsonwebtoken::Algorithm) -> String {
    let mut header = jsonwebtoken::Header::new(alg);
    header.kid = Some("k1".into());
    jsonwebtoken::encode(
        &header,
        claims,
        &jsonwebtoken::EncodingKey::from_secret(key.as_bytes()),
    )
    .unwrap()
}

fn staff_claims(app: &TestApp, user: i64, aud: &str, exp_offset: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"iss": app.settings.auth.issuer, "aud": aud, "sub": user.to_string(), "exp": now + exp_offset,
           "nbf": now - 5, "iat": now - 5, "role": "coordinator", "court": 4, "name": "x", "ver": 0})
}

#[tokio::test]
async fn bad_tokens_are_refused() {
    use base64_like::b64;
    let app = TestApp::spawn().await;
    let key = courtlink::config::DEMO_SIGNING_KEY;
    let me = |t: String| {
        let app = &app;
        async move { app.get("/api/v1/me", Some(&t)).await }
    };
    let hs = jsonwebtoken::Algorithm::HS256;
    // A good forged-with-the-right-key token works, so the refusals below are about what they change.
    let good = staff_claims(&app, 6, "courtlink-staff", 600);
    assert_eq!(me(forge(&good, key, hs)).await.status(), 200);
    // Without a kid, or with a kid no key has, it is refused.
    let no_kid = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(hs),
        &good,
        &jsonwebtoken::EncodingKey::from_secret(key.as_bytes()),
    )
    .unwrap();
    assert_error(me(no_kid).await, 401, "unauthenticated").await;
    // A token of an older version of the user (logged out since) is refused.
    let mut stale = good.clone();
    stale["ver"] = json!(-1);
    assert_error(me(forge(&stale, key, hs)).await, 401, "unauthenticated").await;
    // Expired (beyond the 30 s leeway).
    assert_error(
        me(forge(
            &staff_claims(&app, 6, "courtlink-staff", -120),
            key,
            hs,
        ))
        .await,
        401,
        "unauthenticated",
    )
    .await;
    // Another audience.
    assert_error(
        me(forge(&staff_claims(&app, 6, "someone-else", 600), key, hs)).await,
        401,
        "unauthenticated",
    )
    .await;
    // Another algorithm of the same family, and another key.
    assert_error(
        me(forge(&good, key, jsonwebtoken::Algorithm::HS512)).await,
        401,
        "unauthenticated",
    )
    .await;
    assert_error(
        me(forge(&good, &"x".repeat(48), hs)).await,
        401,
        "unauthenticated",
    )
    .await;
    // A required claim missing.
    let mut no_nbf = good.clone();
    no_nbf.as_object_mut().unwrap().remove("nbf");
    assert_error(me(forge(&no_nbf, key, hs)).await, 401, "unauthenticated").await;
    // Issued in the future.
    let mut future = good.clone();
    future["iat"] = json!(chrono::Utc::now().timestamp() + 3600);
    assert_error(me(forge(&future, key, hs)).await, 401, "unauthenticated").await;
    // alg: none, with and without a signature part.
    let unsigned = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(good.to_string().as_bytes())
    );
    assert_error(me(unsigned.clone()).await, 401, "unauthenticated").await;
    assert_error(
        me(unsigned.trim_end_matches('.').to_owned()).await,
        401,
        "unauthenticated",
    )
    .await;
    // A tampered payload under the original signature: promote the coordinator to officer.
    let token = app.login("xihu.coord").await;
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&base64_like::unb64(parts[1])).unwrap();
    claims["role"] = json!("officer");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64(claims.to_string().as_bytes()),
        parts[2]
    );
    assert_error(me(tampered).await, 401, "unauthenticated").await;
    // No token, garbage, wrong scheme.
    assert_error(app.get("/api/v1/me", None).await, 401, "unauthenticated").await;
    assert_error(me("garbage".into()).await, 401, "unauthenticated").await;
    let res = app
        .client
        .get(app.url("/api/v1/me"))
        .header("Authorization", format!("Basic {token}"))
        .send()
        .await
        .unwrap();
    assert_error(res, 401, "unauthenticated").await;
}

/// Just enough base64url (no padding) to forge tokens in tests.
mod base64_like {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    pub fn b64(bytes: &[u8]) -> String {
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
            for i in 0..=chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }
    pub fn unb64(text: &str) -> Vec<u8> {
        let vals: Vec<u32> = text
            .bytes()
            .map(|c| ALPHABET.iter().position(|a| *a == c).unwrap() as u32)
            .collect();
        let mut out = Vec::new();
        for chunk in vals.chunks(4) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, v)| acc | (v << (18 - 6 * i)));
            for i in 0..chunk.len() - 1 {
                out.push((n >> (16 - 8 * i)) as u8);
            }
        }
        out
    }
}

#[tokio::test]
async fn bad_input_gets_clear_errors() {
    let app = TestApp::spawn().await;
    let coord = app.login("xihu.coord").await;
    // Login: wrong password, unknown user, empty fields, malformed JSON, unknown fields.
    let res = app
        .post(
            "/api/v1/auth/login",
            None,
            &json!({"username": "xihu.coord", "password": "wrong"}),
        )
        .await;
    assert_error(res, 401, "bad_credentials").await;
    let res = app
        .post(
            "/api/v1/auth/login",
            None,
            &json!({"username": "nobody", "password": "wrong"}),
        )
        .await;
    assert_error(res, 401, "bad_credentials").await;
    let res = app
        .post(
            "/api/v1/auth/login",
            None,
            &json!({"username": "", "password": ""}),
        )
        .await;
    assert_error(res, 422, "invalid_input").await;
    // Valid JSON with a value of the wrong type where an enum is expected: the field, not the
    // JSON, is wrong.
    let case = app.get_ok("/api/v1/cases", &coord).await[0]["id"]
        .as_i64()
        .unwrap();
    let res = app
        .client
        .put(app.url(&format!("/api/v1/cases/{case}/category")))
        .bearer_auth(&coord)
        .json(&json!({"category": 42}))
        .send()
        .await
        .unwrap();
    assert_error(res, 422, "invalid_input").await;
    assert_error(
        app.post_raw("/api/v1/auth/login", None, "{\"username\": ")
            .await,
        400,
        "malformed_json",
    )
    .await;
    let res = app
        .post(
            "/api/v1/auth/login",
            None,
            &json!({"username": "a", "password": "b", "admin": true}),
        )
        .await;
    assert_error(res, 422, "invalid_input").await;
    // Join codes: malformed, unknown.
    assert_error(
        app.post("/api/v1/auth/join", None, &json!({"code": "12ab"}))
            .await,
        422,
        "invalid_input",
    )
    .await;
    assert_error(
        app.post(
            "/api/v1/auth/join",
            None,
            &json!({"code": "0000-0000-0000"}),
        )
        .await,
        401,
        "bad_join_code",
    )
    .await;
    // Bookings: wrong types, ids naming nothing, a slot that is over.
    let res = app
        .post(
            "/api/v1/bookings",
            Some(&coord),
            &json!({"slot_id": "one", "case_id": 1, "local_room_id": 1}),
        )
        .await;
    let v = assert_error(res, 422, "invalid_input").await;
    assert!(
        v["message"].as_str().unwrap().contains("expected i64"),
        "{v}"
    );
    let res = app
        .post(
            "/api/v1/bookings",
            Some(&coord),
            &json!({"case_id": 1, "local_room_id": 1}),
        )
        .await;
    assert_error(res, 422, "invalid_input").await;
    let res = app
        .post(
            "/api/v1/bookings",
            Some(&coord),
            &json!({"slot_id": 999999, "case_id": 1, "local_room_id": 1}),
        )
        .await;
    let v = assert_error(res, 422, "invalid_input").await;
    assert!(v["message"].as_str().unwrap().contains("slot_id"), "{v}");
    let huge = format!(
        "{{\"username\": \"{}\", \"password\": \"x\"}}",
        "a".repeat(100_000)
    );
    assert_error(
        app.post_raw("/api/v1/auth/login", None, &huge).await,
        400,
        "bad_request",
    )
    .await;
    // Outcomes and days that do not exist.
    let s = app.book_demo_session().await;
    let res = app
        .post(
            &format!("/api/v1/sessions/{}/end", s.session_id),
            Some(&s.officer_token),
            &json!({"outcome": "bribe"}),
        )
        .await;
    assert_error(res, 422, "invalid_input").await;
    assert_error(
        app.get("/api/v1/sessions?day=yesterday", Some(&s.officer_token))
            .await,
        422,
        "invalid_input",
    )
    .await;
    // Nothing was lost along the way: the session is still scheduled and bookable data intact.
    let t = app
        .get_ok(
            &format!("/api/v1/sessions/{}", s.session_id),
            &s.officer_token,
        )
        .await;
    assert_eq!(t["status"], "scheduled");
}

#[tokio::test]
async fn join_code_can_be_reissued_and_the_old_one_dies() {
    let app = TestApp::spawn().await;
    let s = app.book_demo_session().await;
    let res = app
        .post(
            &format!("/api/v1/bookings/{}/join-code", s.booking_id),
            Some(&s.coordinator_token),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let fresh: Value = res.json().await.unwrap();
    assert_ne!(fresh["join_code"], s.join_code);
    assert_error(
        app.post("/api/v1/auth/join", None, &json!({"code": s.join_code}))
            .await,
        401,
        "bad_join_code",
    )
    .await;
    assert_eq!(
        app.post(
            "/api/v1/auth/join",
            None,
            &json!({"code": fresh["join_code"]})
        )
        .await
        .status(),
        200
    );
    let other = app.login("shangcheng.coord").await;
    let res = app
        .post(
            &format!("/api/v1/bookings/{}/join-code", s.booking_id),
            Some(&other),
            &json!({}),
        )
        .await;
    assert_error(res, 403, "forbidden").await;
}

#[tokio::test]
async fn health_openapi_and_the_web_app_are_served() {
    let app = TestApp::spawn().await;
    let res = app.get("/healthz", None).await;
    assert_eq!(res.status(), 200);
    common::assert_documented(
        &app,
        &[
            ("/healthz", "get"),
            ("/api/v1/auth/login", "post"),
            ("/api/v1/auth/join", "post"),
            ("/api/v1/me", "get"),
            ("/api/v1/cases", "get"),
            ("/api/v1/cases/{id}", "get"),
            ("/api/v1/local-rooms", "get"),
            ("/api/v1/slots", "get"),
            ("/api/v1/bookings", "post"),
            ("/api/v1/bookings/{id}/join-code", "post"),
            ("/api/v1/sessions", "get"),
            ("/api/v1/sessions/{id}", "get"),
            ("/api/v1/sessions/{id}/end", "post"),
            ("/api/v1/sessions/{id}/signal", "get"),
        ],
    )
    .await;
    for page in ["/", "/join.html", "/coordinator.html", "/officer.html"] {
        let res = app.get(page, None).await;
        assert_eq!(res.status(), 200, "{page}");
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
        let csp = res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        let html = res.text().await.unwrap();
        assert!(html.contains("zh-CN"), "{page} is Chinese first");
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "{page} loads nothing from elsewhere"
        );
    }
}

#[tokio::test]
async fn a_token_is_refreshed_and_an_early_end_frees_the_room() {
    let app = TestApp::spawn().await;
    let s = app.book_demo_session().await;
    let res = app
        .post("/api/v1/auth/refresh", Some(&s.officer_token), &json!({}))
        .await;
    assert_eq!(res.status(), 200);
    let fresh: Value = res.json().await.unwrap();
    let token = fresh["token"].as_str().unwrap();
    assert_eq!(
        app.get_ok("/api/v1/me", token).await["username"],
        "spc.officer"
    );
    assert_error(
        app.post(
            "/api/v1/auth/refresh",
            Some(&s.petitioner_token),
            &json!({}),
        )
        .await,
        401,
        "unauthenticated",
    )
    .await;

    // Someone has to have come for a session to have an outcome.
    let res = app
        .post(
            &format!("/api/v1/sessions/{}/end", s.session_id),
            Some(token),
            &json!({"outcome": "withdrawn"}),
        )
        .await;
    assert_error(res, 409, "session_not_held").await;
    let (mut host, mut petitioner) =
        common::live_call(&app, s.session_id, token, &s.petitioner_token).await;
    common::media_flows(&app, s.session_id, token, &mut host, &mut petitioner).await;
    // The session ends within its slot: the ledger names the outcome, and the booking now ends
    // when the reception did, so its local room is free for the rest of the window.
    let booked = app
        .get_ok(&format!("/api/v1/sessions/{}", s.session_id), token)
        .await;
    let res = app
        .post(
            &format!("/api/v1/sessions/{}/end", s.session_id),
            Some(token),
            &json!({"outcome": "withdrawn"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let ended: Value = res.json().await.unwrap();
    let detail = app
        .get_ok(
            &format!("/api/v1/cases/{}", s.case_id),
            &s.coordinator_token,
        )
        .await;
    let entry = detail["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["session_id"] == s.session_id)
        .unwrap();
    assert_eq!(entry["outcome"], "withdrawn");
    let time = |v: &Value| {
        v.as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
    };
    // The session keeps its booked times; the actual ones are beside them.
    assert_eq!(
        (&ended["starts_at"], &ended["ends_at"]),
        (&booked["starts_at"], &booked["ends_at"])
    );
    assert!(time(&ended["ended_at"]) <= time(&booked["ends_at"]));
    let store = courtlink::store::Store::connect(
        secrecy::ExposeSecret::expose_secret(&app.settings.database.url),
        1,
    )
    .await
    .unwrap();
    let booking = store.booking(BookingId(s.booking_id)).await.unwrap();
    if time(&booked["starts_at"]) < chrono::Utc::now() {
        assert_eq!(
            Some(booking.ends_at),
            ended["ended_at"].as_str().map(|t| t.parse().unwrap()),
            "the room is free from the end on"
        );
    }
}

#[tokio::test]
async fn repeated_failed_logins_slow_the_account_until_an_admin_lifts_it() {
    let app = TestApp::spawn().await;
    let wrong = json!({"username": "hz.officer", "password": "guess"});
    for _ in 0..5 {
        assert_error(
            app.post("/api/v1/auth/login", None, &wrong).await,
            401,
            "bad_credentials",
        )
        .await;
    }
    // Slowed down: from an address the account has never logged in from, even the right
    // password waits (issue 15 item 15: no lockout; the owner's known address is let in, see
    // tests/trust.rs).
    let right = json!({"username": "hz.officer", "password": common::DEMO_PASSWORD});
    let v = assert_error(
        app.post("/api/v1/auth/login", None, &right).await,
        429,
        "login_slowed",
    )
    .await;
    assert!(v["message"].as_str().unwrap().contains("try again"), "{v}");
    // Other accounts are not affected.
    app.login("zj.officer").await;
    // Only an admin of a court at or above the user's lifts it.
    let user_id = {
        let store = courtlink::store::Store::connect(
            secrecy::ExposeSecret::expose_secret(&app.settings.database.url),
            1,
        )
        .await
        .unwrap();
        store
            .user_by_username("hz.officer")
            .await
            .unwrap()
            .unwrap()
            .id
    };
    let coord = app.login("xihu.coord").await;
    let path = format!("/api/v1/admin/users/{user_id}/unlock");
    assert_error(
        app.post(&path, Some(&coord), &json!({})).await,
        403,
        "forbidden",
    )
    .await;
    let admin = app.login("admin").await;
    assert_error(
        app.post(
            "/api/v1/admin/users/999999/unlock",
            Some(&admin),
            &json!({}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        app.post(&path, Some(&admin), &json!({})).await.status(),
        204
    );
    assert_eq!(
        app.post("/api/v1/auth/login", None, &right).await.status(),
        200
    );
}

#[tokio::test]
async fn one_address_may_try_only_so_often() {
    let app = TestApp::spawn_with(common::Backend::Sqlite, |s| {
        s.auth.login_attempts_per_minute = 3
    })
    .await
    .unwrap();
    let wrong = json!({"username": "nobody", "password": "guess"});
    for _ in 0..3 {
        assert_error(
            app.post("/api/v1/auth/login", None, &wrong).await,
            401,
            "bad_credentials",
        )
        .await;
    }
    assert_error(
        app.post("/api/v1/auth/login", None, &wrong).await,
        429,
        "too_many_attempts",
    )
    .await;
}
