//! No identity number, phone number, password, token or join code in any log line: the real
//! binary, logging everything at `debug` (request lines included), is taken through every path
//! that handles them — login (also a failed one), unmasked identity reads, opening a case,
//! booking (the join code
//! is in the answer), joining by code (also with a wrong code), the signalling upgrade with the
//! token in its subprotocol, an ICS feed with a token in its URL, logout — and everything it
//! printed is searched for them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly by panicking"
)]

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

/// The demo's made-up identity and phone numbers (server/src/demo.rs).
const SECRETS: &[&str] = &[
    "33010619650101123X",
    "330106197203154321",
    "330106198811207654",
    "330102196009094567",
    "330102197512128888",
    "13800001234",
    "13912345678",
    "13700007777",
    "13655556666",
    "18800009999",
    // Identity numbers given when opening a case (tests/server/ledger.rs), one with a wrong
    // check digit.
    "11010519491231002X",
    "110105194912310021",
    // A password that was tried (the demo password itself is printed on purpose at start-up).
    "wrong-password-1",
];

fn collect(stream: impl std::io::Read + Send + 'static, into: Arc<Mutex<Vec<String>>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            into.lock().unwrap().push(line);
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_a_log_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_courtlink"))
        .arg("serve")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("COURTLINK__SERVER__PORT", "0")
        .env(
            "COURTLINK__DATABASE__URL",
            format!("sqlite://{}/courtlink.db", dir.path().display()),
        )
        .env("COURTLINK__LOG__FILTER", "debug")
        .env("COURTLINK__LOG__FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("courtlink starts");
    let lines = Arc::new(Mutex::new(Vec::new()));
    collect(child.stdout.take().unwrap(), lines.clone());
    collect(child.stderr.take().unwrap(), lines.clone());
    let port: u16 = loop {
        let found = lines.lock().unwrap().iter().find_map(|l| {
            l.split("CourtLink is serving on http://127.0.0.1:")
                .nth(1)
                .map(|rest| rest.trim_end_matches('/').parse().unwrap())
        });
        if let Some(port) = found {
            break port;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "courtlink exited with {status}: {:?}",
                lines.lock().unwrap()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let base = format!("http://127.0.0.1:{port}/api/v1");
    let http = reqwest::Client::new();
    let post = |path: &str, token: Option<&str>, body: Value| {
        let mut req = http.post(format!("{base}{path}")).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };

    let mut tokens = Vec::new();
    let mut codes = Vec::new();
    // A failed login, then a good one.
    let res = post(
        "/auth/login",
        None,
        json!({"username": "xihu.coord", "password": "wrong-password-1"}),
    )
    .await
    .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    let login = |username: &'static str| {
        let request = post(
            "/auth/login",
            None,
            json!({"username": username, "password": common::DEMO_PASSWORD}),
        );
        async move {
            let answer: Value = request.await.unwrap().json().await.unwrap();
            answer["token"].as_str().unwrap().to_owned()
        }
    };
    let coordinator = login("xihu.coord").await;
    tokens.push(coordinator.clone());
    tokens.push(login("spc.officer").await);

    // Every case, and every unmasked identity read.
    let cases: Value = http
        .get(format!("{base}/cases"))
        .bearer_auth(&coordinator)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut opened = 0;
    for case in cases.as_array().unwrap() {
        let id = case["id"].as_i64().unwrap();
        let read: Value = post(
            &format!("/cases/{id}/identity-reads"),
            Some(&coordinator),
            json!({}),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        assert!(SECRETS.contains(&read["petitioner_id_number"].as_str().unwrap()));
        opened += 1;
    }
    assert!(opened >= 3);

    // Opening a case: refused for a wrong check digit, opened, then offered as the same matter.
    let case = |id: &str| {
        json!({"case_number": "（2026）浙0106信900号", "petitioner_name": "测试", "petitioner_id_number": id,
               "matter": "m", "subject": "s", "channel": "letter", "case_class": "petition"})
    };
    for (id, status) in [
        ("110105194912310021", 422),
        ("11010519491231002X", 201),
        ("11010519491231002x", 409),
    ] {
        let res = post("/cases", Some(&coordinator), case(id)).await.unwrap();
        assert_eq!(res.status(), status, "{id}");
    }

    // A booking: its answer carries the join code.
    let slots: Value = http
        .get(format!("{base}/slots"))
        .bearer_auth(&coordinator)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let slot = slots
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["court"]["level"] == "supreme" && s["theme"].is_null())
        .expect("an SPC slot");
    let rooms: Value = http
        .get(format!("{base}/local-rooms"))
        .bearer_auth(&coordinator)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let booking: Value = post(
        "/bookings",
        Some(&coordinator),
        json!({"slot_id": slot["id"], "case_id": cases[0]["id"], "local_room_id": rooms[0]["id"]}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let code = booking["join_code"]
        .as_str()
        .expect("a join code")
        .to_owned();
    codes.push(code.clone());
    codes.push(code.replace('-', ""));

    // Joining by code, with a wrong code first.
    let wrong = post("/auth/join", None, json!({"code": "1111-2222-3333"}))
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    codes.push("1111-2222-3333".into());
    codes.push("111122223333".into());
    let joined: Value = post("/auth/join", None, json!({"code": code}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let join_token = joined["token"].as_str().expect("a join token").to_owned();
    tokens.push(join_token.clone());

    // The signalling upgrade carries the token in its subprotocol.
    let session = booking["session_id"].as_i64().unwrap();
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://127.0.0.1:{port}/api/v1/sessions/{session}/signal")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        format!("courtlink.v1, auth.{join_token}").parse().unwrap(),
    );
    let (ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("signalling upgrade");
    drop(ws);

    // A calendar client that can only put the feed's token in the URL (issue 15 item 22): the
    // request line is logged, the token is not.
    for param in ["token", "access_token"] {
        let _ = http
            .get(format!(
                "{base}/ics/local-rooms/1?{param}={coordinator}&from=2026-12-01"
            ))
            .send()
            .await
            .unwrap();
    }

    // Logging out.
    let res = post("/auth/logout", Some(&coordinator), json!({}))
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 204);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = child.kill();
    let _ = child.wait();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let lines = lines.lock().unwrap();
    assert!(lines.len() > 20, "the server logged: {lines:?}");
    let mut leaks = Vec::new();
    for line in lines.iter() {
        for secret in SECRETS
            .iter()
            .map(|s| s.to_string())
            .chain(tokens.iter().cloned())
            .chain(codes.iter().cloned())
        {
            if line.contains(&secret) {
                leaks.push(format!("{secret:.12}… in: {line:.200}"));
            }
        }
        // A token's signature alone is as good as the token to an attacker who has its header.
        for token in &tokens {
            if let Some(signature) = token.rsplit('.').next() {
                if line.contains(signature) {
                    leaks.push(format!("a token signature in: {line:.200}"));
                }
            }
        }
    }
    eprintln!("{} log lines scanned", lines.len());
    assert!(
        leaks.is_empty(),
        "secrets in the log:\n{}",
        leaks.join("\n")
    );
}
