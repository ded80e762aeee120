//! How many concurrent connectivity tests (联通测试) one CourtLink instance sustains with the
//! figures still passing.
//!
//! Run with `cargo bench --bench connectivity_echo`. It starts the real `courtlink serve` as its
//! own process (embedded default: SQLite in a temporary folder, demo data; the server's peer on
//! 127.0.0.1, `connectivity.max_concurrent` raised to 256), then at each level (1, 4, 8, 16, 32,
//! 48, 64 by default; `CONNECTIVITY_ECHO_LEVELS=1,2,4` to choose) starts that many `webrtc`-crate room
//! terminals at once (tests/server/connectivity/client.rs: about 490 kbit/s of synthetic VP8 plus data
//! channel probes, each echoed by the server for the 10 s measuring time) and prints, per level:
//! how many passed, the server's figures (median and worst round trip, worst loss and jitter,
//! mean bitrate received) and the server process's CPU over the level, per test.
//!
//! The baseline is the first level: one test alone on the same instance in the same run.

#[path = "../tests/server/connectivity/client.rs"]
mod client;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use client::{Plan, run_test};
use serde_json::{Value, json};

const COMMAND: &str = "cargo bench --bench connectivity_echo";

struct Server {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// User plus system CPU of a process, in seconds (from /proc).
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

async fn start_server() -> anyhow::Result<Server> {
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let child = Command::new(env!("CARGO_BIN_EXE_courtlink"))
        .arg("serve")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("COURTLINK__SERVER__PORT", port.to_string())
        .env(
            "COURTLINK__DATABASE__URL",
            format!("sqlite://{}/courtlink.db", dir.path().display()),
        )
        .env("COURTLINK__LOG__FILTER", "error")
        .env("COURTLINK__CONNECTIVITY__BIND_ADDRESSES", "[\"127.0.0.1\"]")
        .env("COURTLINK__CONNECTIVITY__MAX_CONCURRENT", "256")
        // The slow side here is the bench: 128 room terminals' peers starve its own HTTP client,
        // which then takes more than the server's 5 s to send a request's head, and the
        // slow-client defence closes the connection (10 of 128 tests at 128, 2026-12-06).
        .env("COURTLINK__SERVER__HEADER_READ_SECONDS", "60")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting courtlink serve")?;
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    };
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = http.get(format!("{}/healthz", server.base)).send().await {
            if r.status().is_success() {
                return Ok(server);
            }
        }
        if Instant::now() > deadline {
            bail!("courtlink serve did not answer /healthz within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NAN, f64::max)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let levels: Vec<usize> = std::env::var("CONNECTIVITY_ECHO_LEVELS")
        .unwrap_or_else(|_| "1,4,8,16,32,48,64".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let server = start_server().await?;
    let pid = server.child.id();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let login: Value = http
        .post(format!("{}/api/v1/auth/login", server.base))
        .json(&json!({"username": "xihu.coord", "password": "courtlink-demo"}))
        .send()
        .await?
        .json()
        .await?;
    let token = login["token"].as_str().context("login token")?.to_owned();
    let rooms: Value = http
        .get(format!("{}/api/v1/connectivity/rooms", server.base))
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await?;
    let room = rooms[0]["id"].as_i64().context("a room")?;

    println!("{COMMAND}: one `courtlink serve` (pid {pid}); room terminals in this process");
    println!(
        "| concurrent tests | passed | rtt p50 ms | rtt max ms | loss max % | jitter max ms | kbit/s mean | server CPU % of one core | server CPU ms per test-second |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for level in levels {
        let cpu_before = cpu_seconds(pid);
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..level {
            let http = http.clone();
            let base = server.base.clone();
            let token = token.clone();
            tasks.push(tokio::spawn(async move {
                run_test(
                    &http,
                    &base,
                    &token,
                    Some(room),
                    Plan::default(),
                    Duration::from_secs(60),
                )
                .await
            }));
        }
        let mut results = Vec::new();
        let mut errors = Vec::new();
        for t in tasks {
            match t.await {
                Ok(Ok(side)) => results.push(side.result),
                Ok(Err(e)) => errors.push(format!("{e:#}")),
                Err(e) => errors.push(e.to_string()),
            }
        }
        let wall = started.elapsed().as_secs_f64();
        let cpu = cpu_seconds(pid) - cpu_before;
        let passed = results.iter().filter(|r| r["status"] == "passed").count();
        let fig = |k: &str| -> Vec<f64> {
            results
                .iter()
                .filter_map(|r| r["figures"][k].as_f64())
                .collect()
        };
        let mut rtt = fig("rtt_ms");
        let kbps = fig("bitrate_kbps");
        let mean_kbps = kbps.iter().sum::<f64>() / kbps.len().max(1) as f64;
        println!(
            "| {level} | {passed}/{level} | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} | {:.0} | {:.1} |",
            median(&mut rtt),
            max(&rtt),
            max(&fig("loss_percent")),
            max(&fig("jitter_ms")),
            mean_kbps,
            cpu / wall * 100.0,
            cpu * 1000.0 / (level as f64 * wall),
        );
        for r in results.iter().filter(|r| r["status"] != "passed") {
            println!("    not passed: {r}");
        }
        for e in &errors {
            println!("    error: {e}");
        }
        // Let the previous level's peers close before the next.
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    Ok(())
}
