//! Several instances sharing PostgreSQL and Redis: sessions spread over instances, resumes on
//! another instance, Redis restarting under live sessions, an instance killed outright.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly by panicking"
)]

use crate::common;

use std::io::BufRead;
use std::time::{Duration, Instant};

use common::{Backend, TestApp, next_json, next_of, with_redis, ws_connect, ws_join, ws_send};
use serde_json::json;

/// Two instances on one fresh PostgreSQL database and the given Redis.
async fn two_instances(redis_url: String) -> Option<(TestApp, TestApp)> {
    let a = TestApp::spawn_with(Backend::Postgres, with_redis(redis_url)).await?;
    let b = a.spawn_peer().await;
    Some((a, b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_spans_two_instances() {
    let Some(redis) = common::shared_redis() else {
        return;
    };
    let Some((a, b)) = two_instances(redis).await else {
        return;
    };
    let s = a.book_demo_session().await;
    let mut host = ws_join(&a, s.session_id, &s.officer_token).await;
    assert_eq!(next_json(&mut host).await["participants"], json!([]));
    let mut petitioner = ws_join(&b, s.session_id, &s.petitioner_token).await;
    let welcome = next_json(&mut petitioner).await;
    assert_eq!(
        welcome["participants"][0]["role"], "host",
        "instance B sees who is on A"
    );
    common::admit_petitioner(&mut host, &mut petitioner).await;
    let data = json!({"description": {"type": "offer", "sdp": "v=0\r\n"}});
    ws_send(
        &mut petitioner,
        &json!({"type": "signal", "to": "user-2", "data": data}),
    )
    .await;
    let got = next_of(&mut host, "signal").await;
    assert_eq!(got["data"], data);
    ws_send(&mut host, &json!({"type": "chat", "text": "跨实例"})).await;
    assert_eq!(next_of(&mut petitioner, "chat").await["text"], "跨实例");
    assert_eq!(next_of(&mut host, "chat").await["text"], "跨实例");
    common::media_flows(
        &a,
        s.session_id,
        &s.officer_token,
        &mut host,
        &mut petitioner,
    )
    .await;
    // Ending on one instance closes the sockets held by the other.
    let res = a
        .post(
            &format!("/api/v1/sessions/{}/end", s.session_id),
            Some(&s.officer_token),
            &json!({"outcome": "explained_law"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        next_of(&mut petitioner, "ended").await["outcome"],
        "explained_law"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_participant_resumes_on_the_other_instance() {
    let Some(redis) = common::shared_redis() else {
        return;
    };
    let Some((a, b)) = two_instances(redis).await else {
        return;
    };
    let s = a.book_demo_session().await;
    let mut host = ws_join(&a, s.session_id, &s.officer_token).await;
    next_json(&mut host).await;
    let mut petitioner = ws_join(&b, s.session_id, &s.petitioner_token).await;
    next_json(&mut petitioner).await;
    common::admit_petitioner(&mut host, &mut petitioner).await;
    ws_send(&mut host, &json!({"type": "chat", "text": "一"})).await;
    let last = next_of(&mut petitioner, "chat").await["seq"]
        .as_u64()
        .unwrap();
    next_of(&mut host, "chat").await;

    drop(petitioner);
    tokio::time::sleep(Duration::from_millis(300)).await;
    ws_send(&mut host, &json!({"type": "chat", "text": "二"})).await;
    next_of(&mut host, "chat").await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut back = ws_connect(
        &a,
        s.session_id,
        &format!("courtlink.v1, auth.{}, resume.{last}", s.petitioner_token),
    )
    .await
    .unwrap();
    let missed = next_json(&mut back).await;
    assert_eq!(
        (missed["text"].as_str(), missed["seq"].as_u64()),
        (Some("二"), Some(last + 1))
    );
    assert_eq!(next_json(&mut back).await["type"], "resumed");
    ws_send(&mut host, &json!({"type": "chat", "text": "三"})).await;
    let next = next_json(&mut host).await;
    assert_eq!(
        (next["type"].as_str(), next["text"].as_str()),
        (Some("chat"), Some("三")),
        "no leave or join in between"
    );
    // The other instance tells the resumed socket the recording's state (read from SQL).
    let told = next_json(&mut back).await;
    assert_eq!(
        (
            told["type"].as_str(),
            told["state"].as_str(),
            told["seq"].as_u64()
        ),
        (Some("recording"), Some("on"), Some(last + 3))
    );
    assert_eq!(
        next_of(&mut back, "chat").await["seq"],
        last + 4,
        "after the replay, `resumed` and `recording`"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarting_under_a_live_session() {
    let Some(mut redis) = common::PrivateRedis::start() else {
        return;
    };
    let Some((a, b)) = two_instances(redis.url()).await else {
        return;
    };
    let s = a.book_demo_session().await;
    let mut host = ws_join(&a, s.session_id, &s.officer_token).await;
    next_json(&mut host).await;
    let mut local = ws_join(&a, s.session_id, &s.coordinator_token).await;
    next_json(&mut local).await;
    next_of(&mut host, "joined").await;
    let mut petitioner = ws_join(&b, s.session_id, &s.petitioner_token).await;
    next_json(&mut petitioner).await;
    common::admit_petitioner(&mut host, &mut petitioner).await;

    redis.stop();
    // Sessions keep working on each instance, and records keep being written.
    ws_send(&mut host, &json!({"type": "chat", "text": "Redis 不在"})).await;
    assert_eq!(next_of(&mut local, "chat").await["text"], "Redis 不在");
    let timeline = a
        .get(
            &format!("/api/v1/sessions/{}", s.session_id),
            Some(&s.officer_token),
        )
        .await;
    assert_eq!(timeline.status(), 200, "no 500 on the record paths");
    let body: serde_json::Value = timeline.json().await.unwrap();
    assert!(
        body["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["data"]["text"] == "Redis 不在")
    );

    redis.restart();
    let back = Instant::now();
    // Cross-instance delivery resumes by itself within 5 s, with no restart of CourtLink.
    let mut delivered = false;
    while back.elapsed() < Duration::from_secs(5) && !delivered {
        ws_send(&mut host, &json!({"type": "chat", "text": "又回来了"})).await;
        if let Ok(v) =
            tokio::time::timeout(Duration::from_millis(400), next_of(&mut petitioner, "chat")).await
        {
            delivered = v["text"] == "又回来了";
        }
    }
    assert!(
        delivered,
        "cross-instance delivery within 5 s of Redis coming back"
    );
    eprintln!(
        "cross-instance delivery resumed {:?} after Redis came back",
        back.elapsed()
    );
}

/// A `courtlink serve` process of its own, so that it can be killed outright.
struct Process {
    child: std::process::Child,
    port: u16,
}

impl Process {
    fn start(database_url: &str, redis_url: &str, prefix: &str) -> Process {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_courtlink"))
            .arg("serve")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("COURTLINK__SERVER__PORT", "0")
            .env("COURTLINK__DATABASE__URL", database_url)
            .env("COURTLINK__REDIS__URL", redis_url)
            .env("COURTLINK__REDIS__KEY_PREFIX", prefix)
            .env("COURTLINK__LOG__FILTER", "warn")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("courtlink starts");
        let stdout = child.stdout.take().unwrap();
        let mut lines = std::io::BufReader::new(stdout).lines();
        let port = loop {
            let line = lines.next().expect("a line").expect("readable");
            if let Some(rest) = line.strip_prefix("CourtLink is serving on http://127.0.0.1:") {
                break rest.trim_end_matches('/').parse().unwrap();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Process { child, port }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_killed_outright_and_its_participant_resuming_on_another() {
    let Some(redis) = common::shared_redis() else {
        return;
    };
    let Some(a) = TestApp::spawn_with(Backend::Postgres, with_redis(redis.clone())).await else {
        return;
    };
    let db = secrecy::ExposeSecret::expose_secret(&a.settings.database.url).to_owned();
    let b = Process::start(&db, &redis, &a.settings.redis.key_prefix);
    let s = a.book_demo_session().await;
    let mut host = ws_join(&a, s.session_id, &s.officer_token).await;
    next_json(&mut host).await;

    let b_url = format!(
        "ws://127.0.0.1:{}/api/v1/sessions/{}/signal",
        b.port, s.session_id
    );
    let mut petitioner = raw_ws(
        &b_url,
        &format!("courtlink.v1, auth.{}", s.petitioner_token),
    )
    .await;
    next_json(&mut petitioner).await;
    common::admit_petitioner(&mut host, &mut petitioner).await;
    ws_send(&mut host, &json!({"type": "chat", "text": "杀掉之前"})).await;
    let last = next_of(&mut petitioner, "chat").await["seq"]
        .as_u64()
        .unwrap();
    next_of(&mut host, "chat").await;

    let mut b = b;
    b.child.kill().unwrap(); // SIGKILL
    b.child.wait().unwrap();
    drop(petitioner);
    let mut back = ws_connect(
        &a,
        s.session_id,
        &format!("courtlink.v1, auth.{}, resume.{last}", s.petitioner_token),
    )
    .await
    .unwrap();
    let resumed = next_json(&mut back).await;
    assert_eq!(
        (resumed["type"].as_str(), resumed["seq"].as_u64()),
        (Some("resumed"), Some(last + 1))
    );
    ws_send(&mut back, &json!({"type": "chat", "text": "我换了一台"})).await;
    let next = next_json(&mut host).await;
    assert_eq!(
        (next["type"].as_str(), next["text"].as_str()),
        (Some("chat"), Some("我换了一台")),
        "the host saw no leave"
    );
}

async fn raw_ws(url: &str, protocols: &str) -> common::Ws {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", protocols.parse().unwrap());
    tokio_tungstenite::connect_async(req)
        .await
        .expect("socket opens")
        .0
}
