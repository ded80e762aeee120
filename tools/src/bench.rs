//! `courtlink-bench bench`: load generators and benchmarks that print figures. Each scenario starts the
//! servers it measures as child processes (so that their CPU time and memory can be read from
//! /proc) and drives them with WebSocket clients from this process.
//!
//! - `relay`: N two-party sessions relaying ~600-byte signals, first flat out (throughput), then
//!   at a stated offered load (latency), against CourtLink and against a baseline: a bare
//!   actix-ws relay on the same stack with no auth and no bookkeeping.
//! - `idle`: N authenticated idle sockets on one instance: memory per connection.
//! - `hop`: the latency added when the two parties sit on two instances sharing Redis.
//! - `records`: session-log pages and monthly statistics on a database filled by
//!   `courtlink-bench generate` (no servers: the store's queries, timed one by one).
//! - `province`: a province's day on PostgreSQL and Redis, compressed (`crate::loadtest`).
//! - `import`: a ledger of `--count` rows imported (CSV, XLSX: preview and commit) beside the same
//!   cases opened one by one through `app::ledger::open_case`, on fresh SQLite files.
//! - `booking`: `--count` coordinators book `--slots` slots all at once through the HTTP API
//!   (hold, then `POST /bookings` with an `Idempotency-Key`, as web/js/schedule-coord.js does),
//!   on SQLite and on PostgreSQL, beside plain `INSERT`s of booking rows on the same database.
//!
//! They live in the tools crate (issue 14), not in the `courtlink` binary that courts install.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::loadkit::{Server, Ws, connect, courtlink_env};
use courtlink::auth::Tokens;
use courtlink::config::Settings;
use courtlink::domain::{Role, SessionId};
use courtlink::store::{Pool, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    Relay,
    Idle,
    Hop,
    /// Session-log pages and monthly statistics on the configured (generated) database.
    Records,
    /// A province's day of bookings, sessions and record reads, compressed (`crate::loadtest`).
    Province,
    /// Importing a ledger of `--count` rows (CSV and XLSX, preview and commit), beside the same
    /// cases opened one at a time as POST /cases opens them; on fresh SQLite files.
    Import,
    /// `--count` clients booking `--slots` slots at once through the HTTP API, on SQLite and on
    /// PostgreSQL, beside as many plain INSERTs of booking rows as bookings were made.
    Booking,
    /// `--count` recorded sessions at once for `--seconds`: each a sender of 720p-sized VP8 at
    /// about 1.5 Mbit/s and Opus into the server's recorder (muxed to WebM, sealed), beside one
    /// session alone in the same run; CPU, memory and RTP packets lost at the recorder.
    Recording,
}

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[arg(value_enum)]
    pub scenario: Scenario,
    /// Two-party sessions (relay, hop) or idle connections (idle).
    #[arg(long, default_value_t = 1000)]
    pub count: usize,
    /// Seconds of measurement per phase.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Messages in flight per session during the throughput phase.
    #[arg(long, default_value_t = 4)]
    pub window: usize,
    /// Messages per second per client during the latency phase.
    #[arg(long, default_value_t = 5.0)]
    pub rate: f64,
    /// Redis for the `hop` scenario.
    #[arg(long, default_value = "redis://127.0.0.1:6379/")]
    pub redis_url: String,
    /// Queries per measurement in the `records` scenario (statistics of the country: a fifth).
    #[arg(long, default_value_t = 200)]
    pub queries: usize,
    /// `booking`: the slots the clients contend for.
    #[arg(long, default_value_t = 100)]
    pub slots: usize,
    /// `booking`: which databases to run on.
    #[arg(long, value_enum, default_value_t = Backends::Both)]
    pub backend: Backends,
    /// `booking`: the PostgreSQL database the run drops and creates (on `--pg-url`'s server).
    #[arg(long, default_value = "courtlink_bench_booking")]
    pub booking_database: String,
    #[command(flatten)]
    pub province: crate::loadtest::ProvinceArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backends {
    Sqlite,
    Postgres,
    Both,
}

/// Sessions in a fresh SQLite file, and tokens for both parties of each.
struct Fixture {
    _dir: tempfile::TempDir,
    database_url: String,
    pairs: Vec<(i64, String, String)>,
}

async fn fixture(settings: &Settings, count: usize) -> anyhow::Result<Fixture> {
    let dir = tempfile::tempdir()?;
    let database_url = format!("sqlite://{}/bench.db", dir.path().display());
    let store = Store::connect(&database_url, 2).await?;
    store.migrate().await?;
    let (officer, court, sessions) =
        crate::seed::synthetic_sessions(&store, count, "bench").await?;
    store.close().await;
    let tokens = Tokens::new(&settings.auth);
    let until = chrono::Utc::now() + chrono::Duration::hours(6);
    let (host_token, _) = tokens.issue_staff(officer, Role::Officer, court, "bench officer")?;
    let pairs = sessions
        .into_iter()
        .map(|s| {
            Ok((
                s,
                host_token.clone(),
                tokens.issue_join(SessionId(s), until)?,
            ))
        })
        .collect::<Result<Vec<_>, courtlink::error::ApiError>>()?;
    Ok(Fixture {
        _dir: dir,
        database_url,
        pairs,
    })
}

fn start_courtlink(
    settings: &Settings,
    database_url: &str,
    redis: Option<&str>,
) -> anyhow::Result<Server> {
    Server::spawn(
        &["serve"],
        &courtlink_env(settings, database_url, redis),
        "is serving on http://127.0.0.1:",
    )
}

/// Two connected parties: (sender-side socket, the id of its peer) each way.
struct Pair {
    a: Ws,
    b: Ws,
    a_to: String,
    b_to: String,
}

async fn read_until(ws: &mut Ws, kind: &str) -> anyhow::Result<String> {
    loop {
        match tokio::time::timeout(Duration::from_secs(30), ws.next()).await? {
            Some(Ok(Message::Text(t))) if t.as_str().contains(&format!("\"type\":\"{kind}\"")) => {
                return Ok(t.to_string());
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => bail!("socket closed while waiting for {kind}"),
        }
    }
}

async fn courtlink_pairs(fixture: &Fixture, ports: (u16, u16)) -> anyhow::Result<Vec<Pair>> {
    let mut pairs = Vec::with_capacity(fixture.pairs.len());
    for (session, host, petitioner) in &fixture.pairs {
        let url = |port: u16| format!("ws://127.0.0.1:{port}/api/v1/sessions/{session}/signal");
        let mut a = connect(&url(ports.0), Some(&format!("courtlink.v1, auth.{host}"))).await?;
        let welcome = read_until(&mut a, "welcome").await?;
        let host_id = serde_json::from_str::<serde_json::Value>(&welcome)?["you"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let mut b = connect(
            &url(ports.1),
            Some(&format!("courtlink.v1, auth.{petitioner}")),
        )
        .await?;
        read_until(&mut b, "welcome").await?;
        read_until(&mut a, "joined").await?;
        pairs.push(Pair {
            a,
            b,
            a_to: "petitioner".into(),
            b_to: host_id,
        });
    }
    Ok(pairs)
}

async fn baseline_pairs(port: u16, count: usize) -> anyhow::Result<Vec<Pair>> {
    // Fresh room numbers for every phase: the baseline never forgets a room.
    static NEXT_ROOM: AtomicU64 = AtomicU64::new(0);
    let first = NEXT_ROOM.fetch_add(count as u64, Ordering::Relaxed);
    let mut pairs = Vec::with_capacity(count);
    for i in 0..count as u64 {
        let url = format!("ws://127.0.0.1:{port}/relay/{}", first + i);
        let a = connect(&url, None).await?;
        let b = connect(&url, None).await?;
        pairs.push(Pair {
            a,
            b,
            a_to: "b".into(),
            b_to: "a".into(),
        });
    }
    // Let the relay register the second socket of every room.
    tokio::time::sleep(Duration::from_millis(300)).await;
    Ok(pairs)
}

/// A signal of about 600 bytes carrying its send time in nanoseconds since `epoch`.
fn payload(to: &str, epoch: Instant, pad: &str) -> String {
    let t = epoch.elapsed().as_nanos();
    format!(
        r#"{{"type":"signal","to":"{to}","data":{{"t":{t},"candidate":{{"candidate":"{pad}","sdpMid":"0","sdpMLineIndex":0}}}}}}"#
    )
}

fn sent_at(text: &str) -> Option<u128> {
    let i = text.find("\"t\":")? + 4;
    let rest = &text[i..];
    let end = rest.find(|c: char| !c.is_ascii_digit())?;
    rest[..end].parse().ok()
}

#[derive(Default)]
struct Phase {
    received: u64,
    latencies_us: Vec<u32>,
    seconds: f64,
}

impl Phase {
    fn percentile(&mut self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        self.latencies_us.sort_unstable();
        let i = ((self.latencies_us.len() - 1) as f64 * p).round() as usize;
        f64::from(self.latencies_us[i]) / 1000.0
    }

    fn max_ms(&self) -> f64 {
        self.latencies_us
            .iter()
            .max()
            .map(|m| f64::from(*m) / 1000.0)
            .unwrap_or(f64::NAN)
    }

    fn rate(&self) -> f64 {
        self.received as f64 / self.seconds
    }
}

/// Drives every pair for `seconds`. With `window`, each side keeps that many messages bouncing
/// (throughput); with `rate`, each side sends at that many messages a second (latency).
async fn drive(pairs: Vec<Pair>, seconds: u64, window: Option<usize>, rate: Option<f64>) -> Phase {
    let epoch = Instant::now();
    let pad: Arc<str> = "x".repeat(480).into();
    let stop = Arc::new(AtomicBool::new(false));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let received = Arc::new(AtomicU64::new(0));
    // Latencies count only between the warm-up and the stop.
    let measuring = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for pair in pairs {
        for (ws, to) in [(pair.a, pair.a_to), (pair.b, pair.b_to)] {
            let (pad, stop, received, measuring) = (
                pad.clone(),
                stop.clone(),
                received.clone(),
                measuring.clone(),
            );
            let mut stop_rx = stop_rx.clone();
            tasks.push(tokio::spawn(async move {
                let (mut sink, mut stream) = ws.split();
                let mut latencies = Vec::new();
                if let Some(w) = window {
                    for _ in 0..w {
                        let _ = sink.send(Message::text(payload(&to, epoch, &pad))).await;
                    }
                }
                let period = rate.map(|r| Duration::from_secs_f64(1.0 / r));
                // Spread the senders over the period so they do not tick together.
                let offset = period.map(|p| p.mul_f64(rand::random::<f64>())).unwrap_or_default();
                let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + offset, period.unwrap_or(Duration::from_secs(3600)));
                loop {
                    tokio::select! {
                        msg = stream.next() => match msg {
                            Some(Ok(Message::Text(text))) => {
                                if let Some(t) = sent_at(text.as_str()) {
                                    let now = epoch.elapsed().as_nanos();
                                    if measuring.load(Ordering::Relaxed) {
                                        latencies.push(((now.saturating_sub(t)) / 1000).min(u128::from(u32::MAX)) as u32);
                                    }
                                    received.fetch_add(1, Ordering::Relaxed);
                                    if window.is_some() && !stop.load(Ordering::Relaxed) {
                                        let _ = sink.send(Message::text(payload(&to, epoch, &pad))).await;
                                    }
                                }
                            }
                            Some(Ok(_)) => {}
                            _ => break,
                        },
                        _ = tick.tick(), if rate.is_some() => {
                            if stop.load(Ordering::Relaxed) { break; }
                            let _ = sink.send(Message::text(payload(&to, epoch, &pad))).await;
                        }
                        _ = stop_rx.changed() => {
                            // Let what is in flight land, then hang up.
                            tokio::time::sleep(Duration::from_millis(300)).await;
                            break;
                        }
                    }
                }
                let _ = sink.close().await;
                latencies
            }));
        }
    }
    // Warm up for a second, then measure.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let start_count = received.load(Ordering::Relaxed);
    measuring.store(true, Ordering::Relaxed);
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let counted = received.load(Ordering::Relaxed) - start_count;
    let elapsed = start.elapsed().as_secs_f64();
    measuring.store(false, Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    let _ = stop_tx.send(true);
    let mut phase = Phase {
        received: counted,
        latencies_us: Vec::new(),
        seconds: elapsed,
    };
    for t in tasks {
        if let Ok(mut l) = t.await {
            phase.latencies_us.append(&mut l);
        }
    }
    phase
}

pub async fn run(settings: Settings, args: BenchArgs) -> anyhow::Result<()> {
    match args.scenario {
        Scenario::Relay => relay(&settings, &args).await,
        Scenario::Idle => idle(&settings, &args).await,
        Scenario::Hop => hop(&settings, &args).await,
        Scenario::Records => records(&settings, &args).await,
        Scenario::Province => {
            crate::loadtest::run(&settings, &args.province, &args.redis_url).await
        }
        Scenario::Import => import(&args).await,
        Scenario::Booking => booking(&settings, &args).await,
        Scenario::Recording => recording(&args).await,
    }
}

/// Recorded sessions (`courtlink::recording::bench`): one alone first (the baseline), then
/// `--count` at once, each for `--seconds`.
async fn recording(args: &BenchArgs) -> anyhow::Result<()> {
    use courtlink::recording::bench::{Report, run};
    fn line(label: &str, r: &Report) {
        let sent: u64 = r.per_session.iter().map(|p| p.rtp_sent).sum();
        let lost: u64 = r
            .per_session
            .iter()
            .map(|p| p.rtp_sent.saturating_sub(p.rtp_received))
            .sum();
        let dropped: u64 = r.per_session.iter().map(|p| p.frames_dropped).sum();
        let short = r
            .per_session
            .iter()
            .filter(|p| p.duration_ms < (r.seconds as i64 * 1000) * 9 / 10)
            .count();
        println!(
            "{label:>22}: {:>4} sessions x {} s | CPU {:>6.1} % of one core ({:.1} % per session) | RSS {:>6.0} MB ({:.1} MB per session) | RTP sent {sent}, lost at the recorder {lost} ({:.2} %) | frames dropped {dropped} | files under 90 % of the time {short}",
            r.sessions,
            r.seconds,
            r.cpu_percent_of_one_core,
            r.cpu_percent_of_one_core / r.sessions.max(1) as f64,
            r.rss_megabytes,
            r.rss_megabytes / r.sessions.max(1) as f64,
            if sent > 0 {
                lost as f64 * 100.0 / sent as f64
            } else {
                0.0
            },
        );
    }
    // A datagram the kernel dropped because a socket's receive buffer was full is counted in
    // /proc/net/snmp (Linux): on loopback that is the only place the "network" drops, so a loss
    // beside an equal count here is the receiver not reading in time.
    fn udp_receive_buffer_drops() -> Option<u64> {
        let snmp = std::fs::read_to_string("/proc/net/snmp").ok()?;
        let mut rows = snmp.lines().filter(|l| l.starts_with("Udp: "));
        let (names, values) = (rows.next()?, rows.next()?);
        let at = names.split_whitespace().position(|n| n == "RcvbufErrors")?;
        values.split_whitespace().nth(at)?.parse().ok()
    }
    println!(
        "a session here is one participant's stream (camera and microphone): a two-party reception is two"
    );
    for (label, count) in [("baseline, one stream", 1), ("at once", args.count)] {
        let before = udp_receive_buffer_drops();
        let report = run(count, args.seconds).await?;
        line(label, &report);
        if let (Some(a), Some(b)) = (before, udp_receive_buffer_drops()) {
            println!(
                "{:>22}  UDP datagrams the kernel dropped for a full receive buffer meanwhile (whole machine): {}",
                "",
                b - a
            );
        }
    }
    Ok(())
}

async fn relay(settings: &Settings, args: &BenchArgs) -> anyhow::Result<()> {
    let fixture = fixture(settings, args.count).await?;
    println!(
        "relay: {} two-party sessions, ~600-byte signals, {} s per phase, on {} cores",
        args.count,
        args.seconds,
        num_cpus()
    );
    println!(
        "| server | throughput (msg/s) | server CPU µs/msg | p50 ms | p99 ms | max ms | at offered load (msg/s) |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    let mut throughputs = Vec::new();
    for which in ["baseline", "courtlink"] {
        let server = if which == "baseline" {
            Server::spawn(
                &["bench-baseline-server"],
                &[("COURTLINK__LOG__FILTER", "error".to_owned())],
                "baseline relay on 127.0.0.1:",
            )?
        } else {
            start_courtlink(settings, &fixture.database_url, None)?
        };
        let connect_pairs = || async {
            if which == "baseline" {
                baseline_pairs(server.port, args.count).await
            } else {
                courtlink_pairs(&fixture, (server.port, server.port)).await
            }
        };
        let pairs = connect_pairs().await?;
        let cpu0 = server.cpu_seconds();
        let mut flat_out = drive(pairs, args.seconds, Some(args.window), None).await;
        let cpu = server.cpu_seconds() - cpu0;
        let per_msg =
            cpu * 1e6 / (flat_out.received as f64 * (flat_out.seconds + 1.0) / flat_out.seconds);
        let pairs = connect_pairs().await?;
        let mut paced = drive(pairs, args.seconds, None, Some(args.rate)).await;
        println!(
            "| {which} | {:.0} | {per_msg:.1} | {:.2} | {:.2} | {:.2} | {:.0} |",
            flat_out.rate(),
            paced.percentile(0.50),
            paced.percentile(0.99),
            paced.max_ms(),
            paced.rate()
        );
        let _ = flat_out.percentile(0.5);
        throughputs.push(flat_out.rate());
    }
    println!(
        "\ncourtlink / baseline throughput: {:.0} %",
        100.0 * throughputs[1] / throughputs[0]
    );
    Ok(())
}

async fn idle(settings: &Settings, args: &BenchArgs) -> anyhow::Result<()> {
    let sessions = args.count.div_ceil(2);
    let fixture = fixture(settings, sessions + 1).await?;
    println!(
        "idle: {} idle sockets per server, memory per connection from the server's RSS",
        sessions * 2
    );
    println!(
        "| server | RSS before (KiB) | RSS after (KiB) | KiB per connection | open time (s) | sockets closed |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    for which in ["baseline", "courtlink"] {
        let server = if which == "baseline" {
            Server::spawn(
                &["bench-baseline-server"],
                &[("COURTLINK__LOG__FILTER", "error".to_owned())],
                "baseline relay on 127.0.0.1:",
            )?
        } else {
            start_courtlink(settings, &fixture.database_url, None)?
        };
        // One pair first, so that start-up allocations are not counted per connection.
        let (warm_pairs, rest) = fixture.pairs.split_at(1);
        let open = |pairs: Vec<(i64, String, String)>| {
            let port = server.port;
            let database_url = fixture.database_url.clone();
            async move {
                if which == "baseline" {
                    baseline_pairs(port, pairs.len()).await
                } else {
                    courtlink_pairs(
                        &Fixture {
                            _dir: tempfile::tempdir()?,
                            database_url,
                            pairs,
                        },
                        (port, port),
                    )
                    .await
                }
            }
        };
        let closed = Arc::new(AtomicU64::new(0));
        let warm = keep_answering(open(warm_pairs.to_vec()).await?, &closed);
        tokio::time::sleep(Duration::from_secs(2)).await;
        let before = server.rss_kib();
        let started = Instant::now();
        // In chunks, so that every socket is answering long before the server's client timeout.
        let mut pairs = Vec::with_capacity(rest.len() * 2);
        for chunk in rest.chunks(250) {
            pairs.extend(keep_answering(open(chunk.to_vec()).await?, &closed));
        }
        let opened = started.elapsed().as_secs_f64();
        let connections = pairs.len();
        tokio::time::sleep(Duration::from_secs(3)).await;
        let after = server.rss_kib();
        let lost = closed.load(Ordering::Relaxed);
        println!(
            "| {which} | {before} | {after} | {:.1} | {opened:.1} | {lost} |",
            after.saturating_sub(before) as f64 / connections as f64
        );
        for task in pairs.into_iter().chain(warm) {
            task.abort();
        }
    }
    Ok(())
}

/// Idle, not dead: every socket gets a task that reads what the server sends, so that its pings
/// are answered (as a browser does) and no socket is closed for silence while the rest open.
/// Sockets that close anyway are counted in `closed`; a figure with any is not comparable.
fn keep_answering(pairs: Vec<Pair>, closed: &Arc<AtomicU64>) -> Vec<tokio::task::JoinHandle<()>> {
    pairs
        .into_iter()
        .flat_map(|p| [p.a, p.b])
        .map(|mut ws| {
            let closed = closed.clone();
            tokio::spawn(async move {
                while let Some(Ok(message)) = ws.next().await {
                    if message.is_close() {
                        break;
                    }
                }
                closed.fetch_add(1, Ordering::Relaxed);
            })
        })
        .collect()
}

async fn hop(settings: &Settings, args: &BenchArgs) -> anyhow::Result<()> {
    let fixture = fixture(settings, args.count).await?;
    let a = start_courtlink(settings, &fixture.database_url, Some(&args.redis_url))?;
    let b = start_courtlink(settings, &fixture.database_url, Some(&args.redis_url))?;
    println!(
        "hop: {} two-party sessions at {} msg/s per client, {} s per phase, Redis {}",
        args.count, args.rate, args.seconds, args.redis_url
    );
    println!("| parties | p50 ms | p99 ms | max ms | msg/s |");
    println!("| --- | --- | --- | --- | --- |");
    let mut p50 = Vec::new();
    for (label, ports) in [
        ("both on instance A", (a.port, a.port)),
        ("one on A, one on B (through Redis)", (a.port, b.port)),
    ] {
        let pairs = courtlink_pairs(&fixture, ports).await?;
        let mut phase = drive(pairs, args.seconds, None, Some(args.rate)).await;
        let median = phase.percentile(0.5);
        println!(
            "| {label} | {median:.3} | {:.3} | {:.3} | {:.0} |",
            phase.percentile(0.99),
            phase.max_ms(),
            phase.rate()
        );
        p50.push(median);
        // Let the grace period of the previous phase's sockets pass unnoticed: fresh joins replace them.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!(
        "\nadded by the cross-instance hop: p50 {:.3} ms",
        p50[1] - p50[0]
    );
    Ok(())
}

fn num_cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// The baseline: a bare actix-ws relay between the two sockets of a room. No auth, no JSON, no
/// numbering, no records; the same stack otherwise (actix-web, actix-ws, tokio).
pub async fn baseline_server() -> anyhow::Result<()> {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use actix_web::{App, HttpRequest, HttpServer, web};
    use tokio::sync::mpsc;

    type Rooms = Arc<Mutex<HashMap<u64, Vec<mpsc::Sender<String>>>>>;
    let rooms: Rooms = Arc::new(Mutex::new(HashMap::new()));

    async fn relay(
        req: HttpRequest,
        body: web::Payload,
        room: web::Path<u64>,
        rooms: web::Data<Rooms>,
    ) -> actix_web::Result<actix_web::HttpResponse> {
        let (res, mut session, stream) = actix_ws::handle(&req, body)?;
        let (tx, mut rx) = mpsc::channel::<String>(1024);
        let index = {
            let mut rooms = rooms.lock().unwrap_or_else(|p| p.into_inner());
            let members = rooms.entry(*room).or_default();
            members.push(tx);
            members.len() - 1
        };
        let room = *room;
        let rooms = rooms.get_ref().clone();
        actix_web::rt::spawn(async move {
            let mut stream = stream.max_frame_size(64 * 1024);
            loop {
                tokio::select! {
                    msg = stream.next() => match msg {
                        Some(Ok(actix_ws::Message::Text(text))) => {
                            let peer = rooms.lock().unwrap_or_else(|p| p.into_inner()).get(&room).and_then(|m| m.get(index ^ 1).cloned());
                            if let Some(peer) = peer {
                                let _ = peer.try_send(text.to_string());
                            }
                        }
                        Some(Ok(_)) => {}
                        _ => break,
                    },
                    out = rx.recv() => match out {
                        Some(text) => if session.text(text).await.is_err() { break },
                        None => break,
                    },
                }
            }
        });
        Ok(res)
    }

    let data = web::Data::new(rooms);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/relay/{room}", web::get().to(relay))
    })
    .on_connect(|conn, _| {
        if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
            let _ = tcp.set_nodelay(true);
        }
    })
    .bind(("127.0.0.1", 0))?;
    let port = server.addrs().first().map(|a| a.port()).unwrap_or(0);
    println!("baseline relay on 127.0.0.1:{port}");
    server.run().await?;
    Ok(())
}

// --- records ------------------------------------------------------------------------------------

/// `records`: the time of a session-log page and of a month's statistics, on the configured
/// database as `courtlink-bench generate` left it. Each query is made through the store exactly as the
/// handler makes it (the page, or the statistics), one at a time, on a warm pool. Courts and months are drawn at random (fixed seed) for every query.
async fn records(settings: &Settings, args: &BenchArgs) -> anyhow::Result<()> {
    use rand::seq::SliceRandom;
    use rand::{Rng, SeedableRng};

    use courtlink::store::records::{LogFilter, Under};

    let url = secrecy::ExposeSecret::expose_secret(&settings.database.url);
    let store = Store::connect(url, 4).await?;
    store.migrate().await?;
    let ids = |sql: &'static str| {
        let store = store.clone();
        async move {
            let rows: Vec<(i64,)> = match store.pool() {
                Pool::Sqlite(p) => sqlx::query_as(sql).fetch_all(p).await?,
                Pool::Postgres(p) => sqlx::query_as(sql).fetch_all(p).await?,
            };
            anyhow::Ok(rows.into_iter().map(|(id,)| id).collect::<Vec<i64>>())
        }
    };
    let spc =
        ids("SELECT id FROM courts WHERE level = 'supreme' AND parent_id IS NULL ORDER BY id")
            .await?
            .first()
            .copied()
            .context("no SPC: run `courtlink-bench generate` first")?;
    let provinces = ids("SELECT id FROM courts WHERE level = 'high' ORDER BY id").await?;
    let basics = ids("SELECT c.id FROM courts c WHERE c.level = 'basic' \
         AND EXISTS (SELECT 1 FROM local_rooms lr WHERE lr.court_id = c.id) ORDER BY c.id")
    .await?;
    let sessions = ids("SELECT COUNT(*) FROM sessions").await?;
    if provinces.is_empty() || basics.is_empty() {
        bail!("no generated courts: run `courtlink-bench generate` first");
    }
    // The last twelve whole months in Beijing time.
    let tz = courtlink::app::clock::beijing();
    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
    let month_start = |back: u32| -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
        use chrono::{Datelike, TimeZone};
        let mut y = today.year();
        let mut m = today.month() as i32 - back as i32;
        while m < 1 {
            m += 12;
            y -= 1;
        }
        let d = chrono::NaiveDate::from_ymd_opt(y, m as u32, 1).context("a month")?;
        tz.from_local_datetime(&d.and_hms_opt(0, 0, 0).context("midnight")?)
            .single()
            .map(|t| t.with_timezone(&chrono::Utc))
            .context("a month start")
    };
    let mut months = Vec::new();
    for back in 1..=12 {
        let start = month_start(back)?;
        let name = start.with_timezone(&tz).format("%Y-%m").to_string();
        months.push((start, month_start(back - 1)?, name));
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let n = args.queries.max(1);
    // Unmeasured queries first, so that every pooled connection has connected and planned each
    // query shape once, as in a server that has been up for a while.
    let warm = (n / 10).max(8);
    println!(
        "records on {} ({} sessions, {} provinces, {} basic courts with rooms); {n} queries each",
        store.backend(),
        sessions.first().copied().unwrap_or(0),
        provinces.len(),
        basics.len()
    );
    println!("\n| query | runs | p50 ms | p99 ms | max ms | rows (mean) |");
    println!("| --- | --- | --- | --- | --- | --- |");

    let ended = vec!["ended".to_owned()];
    // 1. A basic court's coordinator: its held sessions of the last three months, first page.
    let mut t = Timings::default();
    for i in 0..warm + n {
        t.measuring = i >= warm;
        let court = *basics.choose(&mut rng).context("a court")?;
        let began = Instant::now();
        let rows = store
            .record_page(&LogFilter {
                under: Under::Court(court),
                statuses: ended.clone(),
                from: Some(months[2].0),
                limit: 51,
                ..LogFilter::default()
            })
            .await?;
        t.add(began, rows.len());
    }
    t.print("log page: a basic court, ended, last 3 months");

    // 2. A province's supervisor: one month, ended with a given outcome; page 1, then page 3.
    let outcomes = ["explained_law", "assign", "withdrawn", "supervise"];
    let mut first = Timings::default();
    let mut third = Timings::default();
    for i in 0..warm + n {
        first.measuring = i >= warm;
        third.measuring = i >= warm;
        let court = *provinces.choose(&mut rng).context("a province")?;
        let (from, to, _) = months[rng.gen_range(0..months.len())].clone();
        let outcome = outcomes[rng.gen_range(0..outcomes.len())].to_owned();
        let mut before = None;
        for page in 1..=3 {
            let began = Instant::now();
            let rows = store
                .record_page(&LogFilter {
                    under: Under::Province(court),
                    statuses: ended.clone(),
                    outcomes: vec![outcome.clone()],
                    from: Some(from),
                    to: Some(to),
                    before,
                    limit: 51,
                    ..LogFilter::default()
                })
                .await?;
            match page {
                1 => first.add(began, rows.len()),
                3 => third.add(began, rows.len()),
                _ => {}
            }
            before = rows.get(49).map(|r| (r.starts_at, r.booking_id.get()));
            if before.is_none() {
                break;
            }
        }
    }
    first.print("log page: a province, one month, ended + outcome, page 1");
    third.print("log page: the same, page 3 (cursor)");

    // 3. The SPC: the sessions one high court hosted, any time, first page.
    let mut t = Timings::default();
    for i in 0..warm + n {
        t.measuring = i >= warm;
        let host = *provinces.choose(&mut rng).context("a province")?;
        let began = Instant::now();
        let rows = store
            .record_page(&LogFilter {
                host_court: Some(host),
                limit: 51,
                ..LogFilter::default()
            })
            .await?;
        t.add(began, rows.len());
    }
    t.print("log page: the SPC, hosted by one high court");

    // 4. Statistics of a month: a province, then the whole country; each from the monthly
    // tallies (what a report on a calendar month reads) and, as the baseline, counted from the
    // month's rows (what any other period reads), on the same courts and months.
    for (tallied, label) in [(true, "tallies"), (false, "counted from the rows")] {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let mut t = Timings::default();
        for i in 0..warm + n {
            t.measuring = i >= warm;
            let court = *provinces.choose(&mut rng).context("a province")?;
            let (from, to, name) = &months[rng.gen_range(0..months.len())];
            let month = tallied.then_some(name.as_str());
            let began = Instant::now();
            let rows = store
                .statistics(court, Under::Province(court), *from, *to, month)
                .await?;
            t.add(began, rows.len());
        }
        t.print(&format!("statistics: a province, one month ({label})"));
        let mut t = Timings::default();
        for i in 0..4 + (n / 5).max(1) {
            t.measuring = i >= 4;
            let (from, to, name) = &months[rng.gen_range(0..months.len())];
            let month = tallied.then_some(name.as_str());
            let began = Instant::now();
            let rows = store.statistics(spc, Under::All, *from, *to, month).await?;
            t.add(began, rows.len());
        }
        t.print(&format!("statistics: the country, one month ({label})"));
    }
    store.close().await;
    Ok(())
}

#[derive(Default)]
struct Timings {
    ms: Vec<f64>,
    rows: usize,
    /// False while warming up.
    measuring: bool,
}

impl Timings {
    fn add(&mut self, began: Instant, rows: usize) {
        if !self.measuring {
            return;
        }
        self.ms.push(began.elapsed().as_secs_f64() * 1000.0);
        self.rows += rows;
    }

    fn print(&mut self, what: &str) {
        if self.ms.is_empty() {
            println!("| {what} | 0 | | | | |");
            return;
        }
        self.ms.sort_by(f64::total_cmp);
        let at = |p: f64| self.ms[((self.ms.len() - 1) as f64 * p).round() as usize];
        println!(
            "| {what} | {} | {:.2} | {:.2} | {:.2} | {:.1} |",
            self.ms.len(),
            at(0.5),
            at(0.99),
            self.ms[self.ms.len() - 1],
            self.rows as f64 / self.ms.len() as f64
        );
    }
}

/// A made-up valid identity number (GB 11643 check digit) for person `n`.
fn bench_id_number(n: u32) -> String {
    let born = chrono::NaiveDate::from_ymd_opt(1950, 1, 1).unwrap_or_default()
        + chrono::Duration::days(i64::from(n / 1000));
    let body = format!("110105{}{:03}", born.format("%Y%m%d"), n % 1000);
    let check = courtlink::domain::IdNumber::check_digit(&body).unwrap_or('0');
    format!("{body}{check}")
}

/// The cells of ledger row `n` (every eighth a litigation matter, every twentieth collective).
fn bench_row(n: u32) -> Vec<String> {
    let litigation = n % 8 == 0;
    let collective = n % 20 == 0;
    vec![
        format!("（2025）基准{n}号"),
        if litigation { "涉诉" } else { "信访" }.into(),
        format!("测试{n}"),
        bench_id_number(n),
        if collective { "6" } else { "1" }.into(),
        if collective {
            "李代表".into()
        } else {
            String::new()
        },
        if litigation {
            format!("（2023）浙0106民初{n}号")
        } else {
            String::new()
        },
        if litigation {
            "西湖区人民法院"
        } else {
            ""
        }
        .into(),
        if litigation { "民事" } else { "" }.into(),
        "判决生效后一直没有执行，申请执行也没有结果，工资被拖欠两年，家里生活困难。".into(),
        "拖欠工资执行难".into(),
        ["来访", "来信", "电话", "网上信访"][(n % 4) as usize].into(),
        format!("2025-{:02}-{:02}", n % 12 + 1, n % 28 + 1),
    ]
}

fn bench_csv(rows: &[Vec<String>]) -> anyhow::Result<Vec<u8>> {
    use courtlink::app::ledger_import::COLUMNS;
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(COLUMNS.iter().map(|c| c.zh))?;
    for r in rows {
        w.write_record(r)?;
    }
    w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))
}

fn bench_xlsx(rows: &[Vec<String>]) -> anyhow::Result<Vec<u8>> {
    use courtlink::app::ledger_import::COLUMNS;
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, col) in COLUMNS.iter().enumerate() {
        sheet.write_string(0, u16::try_from(c)?, col.zh)?;
    }
    for (r, cells) in rows.iter().enumerate() {
        for (c, v) in cells.iter().enumerate() {
            if !v.is_empty() {
                sheet.write_string(u32::try_from(r + 1)?, u16::try_from(c)?, v)?;
            }
        }
    }
    Ok(book.save_to_buffer()?)
}

/// A fresh SQLite ledger with the demo courts, and 西湖's coordinator as the importing user.
async fn import_fixture(
    dir: &std::path::Path,
    name: &str,
) -> anyhow::Result<(Store, courtlink::auth::Staff)> {
    let store = Store::connect(&format!("sqlite://{}/{name}.db", dir.display()), 4).await?;
    store.migrate().await?;
    courtlink::demo::seed(&store, "bench-password-0000").await?;
    let Pool::Sqlite(pool) = store.pool() else {
        bail!("the import bench runs on SQLite");
    };
    let (user_id, court_id): (courtlink::domain::UserId, i64) =
        sqlx::query_as("SELECT id, court_id FROM users WHERE username = 'xihu.coord'")
            .fetch_one(pool)
            .await?;
    let staff = courtlink::auth::Staff {
        user_id,
        role: Role::Coordinator,
        court_id,
        name: "bench coordinator".into(),
        token_version: 0,
    };
    Ok((store, staff))
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// `courtlink-bench bench import --count 10000`: a ledger of `count` rows imported into a fresh
/// SQLite ledger, as CSV and as XLSX (preview, commit, and the same file again, all matched),
/// timed through `app::ledger_import` exactly as the handlers call it (no HTTP). Baseline from
/// the same run: the same rows opened one at a time through `app::ledger::open_case`, as
/// `count` POST /cases would, on another fresh file.
async fn import(args: &BenchArgs) -> anyhow::Result<()> {
    use courtlink::app::ledger_import::{self, Limits};

    let count = u32::try_from(args.count)?;
    let limits = Limits {
        max_bytes: 64 << 20,
        max_rows: 100_000,
    };
    let rows: Vec<Vec<String>> = (1..=count).map(bench_row).collect();
    let csv = bench_csv(&rows)?;
    let xlsx = bench_xlsx(&rows)?;
    println!(
        "import: {count} rows (CSV {} KiB, XLSX {} KiB), SQLite, {} cores, load average before: {}",
        csv.len() / 1024,
        xlsx.len() / 1024,
        num_cpus(),
        loadavg()
    );
    let dir = tempfile::tempdir()?;
    let seconds = |t: Instant| t.elapsed().as_secs_f64();
    println!("\n| step | seconds | rows/s | created | matched | refused |");
    println!("| --- | --- | --- | --- | --- | --- |");
    let line = |step: &str, s: f64, r: &ledger_import::ImportReport| {
        println!(
            "| {step} | {s:.2} | {:.0} | {} | {} | {} |",
            f64::from(count) / s,
            r.created.len(),
            r.matched.len(),
            r.refused.len()
        );
    };
    for (format, file) in [("CSV", &csv), ("XLSX", &xlsx)] {
        let (store, staff) = import_fixture(dir.path(), format).await?;
        let t = Instant::now();
        let p = ledger_import::preview(&store, &staff, file, limits, chrono::Utc::now()).await?;
        line(&format!("{format} preview (empty ledger)"), seconds(t), &p);
        let t = Instant::now();
        let c = ledger_import::commit(
            &store,
            &staff,
            file,
            limits,
            Some(&p.plan),
            chrono::Utc::now(),
        )
        .await?;
        line(&format!("{format} commit"), seconds(t), &c);
        let t = Instant::now();
        let again =
            ledger_import::preview(&store, &staff, file, limits, chrono::Utc::now()).await?;
        line(
            &format!("{format} preview again (all matched)"),
            seconds(t),
            &again,
        );
        store.close().await;
    }
    // Baseline: the same cases, one POST /cases at a time (without HTTP).
    let (store, staff) = import_fixture(dir.path(), "baseline").await?;
    let t = Instant::now();
    for r in &rows {
        let count: Option<i32> = r[4].parse().ok();
        let opt = |i: usize| Some(r[i].as_str()).filter(|v| !v.is_empty());
        let received = chrono::NaiveDate::parse_from_str(&r[12], "%Y-%m-%d")?
            .and_hms_opt(0, 0, 0)
            .context("midnight")?
            .and_utc();
        courtlink::app::ledger::open_case(
            &store,
            &staff,
            courtlink::app::ledger::OpenCaseCommand {
                fields: courtlink::app::ledger::CaseFields {
                    case_number: &r[0],
                    petitioner_name: &r[2],
                    petitioner_id_number: &r[3],
                    petitioner_count: count,
                    representative: opt(5),
                    original_case_number: opt(6),
                    original_court: opt(7),
                    original_case_kind: opt(8),
                    matter: &r[9],
                    subject: &r[10],
                    channel: match r[11].as_str() {
                        "来访" => courtlink::domain::Channel::LocalVisit,
                        "来信" => courtlink::domain::Channel::Letter,
                        "电话" => courtlink::domain::Channel::Phone,
                        _ => courtlink::domain::Channel::Online,
                    },
                    case_class: if r[1] == "涉诉" {
                        courtlink::domain::CaseClass::Litigation
                    } else {
                        courtlink::domain::CaseClass::Petition
                    },
                    received_at: Some(received),
                },
                confirm_new: false,
                now: chrono::Utc::now(),
            },
        )
        .await?;
    }
    let s = seconds(t);
    println!(
        "| baseline: {count} × open_case (POST /cases without HTTP) | {s:.2} | {:.0} | {count} | 0 | 0 |",
        f64::from(count) / s
    );
    store.close().await;
    println!("\nload average after: {}", loadavg());
    Ok(())
}

// --- bookings under contention --------------------------------------------------------------

/// Slots per host court in the `booking` scenario: fewer than `scheduling.hold_cap_per_court`
/// (40 by default), so that every slot of a host court can be held at once, as in a province
/// where several host courts open their week together.
const SLOTS_PER_HOST: usize = 25;
/// Local courts below each host court, sharing its clients.
const LOCALS_PER_HOST: usize = 5;

/// One coordinator at a browser: its token, the slot it goes for, its case and video room.
struct Contestant {
    token: String,
    slot: i64,
    case_id: i64,
    local_room_id: i64,
}

/// A booking row for the baseline's plain INSERT.
struct PlainRow {
    slot_id: i64,
    case_id: i64,
    local_room_id: i64,
    host_room_id: i64,
    created_by: i64,
    starts_at: chrono::DateTime<chrono::Utc>,
    ends_at: chrono::DateTime<chrono::Utc>,
}

struct Contest {
    clients: Vec<Contestant>,
    /// 09:00 in Beijing three days on: every contested slot starts that day.
    day: chrono::DateTime<chrono::Utc>,
    /// Rows for two rounds of the baseline, on the two days after `day`.
    plain: [Vec<PlainRow>; 2],
}

/// Runs `$body` in a transaction on whichever pool the store holds (a tool's own SQL: the
/// store's macros are private to it).
macro_rules! bench_tx {
    ($store:expr, |$tx:ident| $body:block) => {
        match $store.pool() {
            Pool::Sqlite(pool) => {
                let mut $tx = pool.begin().await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
            Pool::Postgres(pool) => {
                let mut $tx = pool.begin().await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
        }
    };
}

/// Courts, rooms, slots, coordinators and their cases for `clients` contending for `slots`:
/// one high court over `slots / 25` intermediate host courts (taking bookings at once, at any
/// notice), each with five basic courts below it; every client is a coordinator of its own with
/// a case of its own (another petitioner each) and a video room of its own; client `i` goes for
/// slot `i % slots`, so that every slot has the same number of contenders.
async fn contest_world(
    store: &Store,
    settings: &Settings,
    clients: usize,
    slots: usize,
) -> anyhow::Result<Contest> {
    use chrono::TimeZone;
    let tz = courtlink::app::clock::beijing();
    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
    let nine = |days: u64| -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
        let d = today + chrono::Days::new(days);
        Ok(tz
            .from_local_datetime(&d.and_hms_opt(9, 0, 0).context("09:00")?)
            .single()
            .context("09:00 in Beijing")?
            .with_timezone(&chrono::Utc))
    };
    let day = nine(3)?;
    let plain_days = [nine(4)?, nine(5)?];
    let hosts = slots.div_ceil(SLOTS_PER_HOST);
    let sealer = courtlink::crypto::sealer()?;
    // Per host court: (court, its slots, its local courts).
    type Host = (i64, Vec<i64>, Vec<i64>);
    // Host courts; (user, court, case, video room) per client; the baseline's reception rooms.
    type Seeded = (Vec<Host>, Vec<(i64, i64, i64, i64)>, Vec<i64>);
    let (hosts, users, plain_rooms): Seeded = bench_tx!(store, |tx| {
        let (high,): (i64,) = sqlx::query_as(
            "INSERT INTO courts (name, level) VALUES ('基准高级人民法院', 'high') RETURNING id",
        )
        .fetch_one(&mut *tx)
        .await?;
        let mut out = Vec::new();
        for h in 0..hosts {
            let (court,): (i64,) = sqlx::query_as(
                    "INSERT INTO courts (name, level, parent_id) VALUES ($1, 'intermediate', $2) RETURNING id",
                )
                .bind(format!("基准第{h}中级人民法院"))
                .bind(high)
                .fetch_one(&mut *tx)
                .await?;
            let here = SLOTS_PER_HOST.min(slots - h * SLOTS_PER_HOST);
            // Five slots of an hour a day per reception room.
            let mut ids = Vec::new();
            let mut room: i64 = 0;
            for k in 0..here {
                if k % 5 == 0 {
                    (room,) = sqlx::query_as(
                        "INSERT INTO host_rooms (court_id, name) VALUES ($1, $2) RETURNING id",
                    )
                    .bind(court)
                    .bind(format!("接谈室{}", k / 5 + 1))
                    .fetch_one(&mut *tx)
                    .await?;
                }
                let starts = day + chrono::Duration::hours((k % 5) as i64);
                let (slot,): (i64,) = sqlx::query_as(
                        "INSERT INTO slots (host_room_id, starts_at, ends_at) VALUES ($1, $2, $3) RETURNING id",
                    )
                    .bind(room)
                    .bind(starts)
                    .bind(starts + chrono::Duration::hours(1))
                    .fetch_one(&mut *tx)
                    .await?;
                ids.push(slot);
            }
            let mut locals = Vec::new();
            for l in 0..LOCALS_PER_HOST {
                let (local,): (i64,) = sqlx::query_as(
                        "INSERT INTO courts (name, level, parent_id) VALUES ($1, 'basic', $2) RETURNING id",
                    )
                    .bind(format!("基准第{h}中院辖{l}基层人民法院"))
                    .bind(court)
                    .fetch_one(&mut *tx)
                    .await?;
                locals.push(local);
            }
            out.push((court, ids, locals));
        }
        let now = chrono::Utc::now();
        let mut users = Vec::new();
        for i in 0..clients {
            let slot = i % slots;
            let locals = &out[slot / SLOTS_PER_HOST].2;
            let court = locals[(i / slots) % locals.len()];
            let (user,): (i64,) = sqlx::query_as(
                "INSERT INTO users (court_id, username, display_name, role, password_hash) \
                     VALUES ($1, $2, $3, 'coordinator', '!') RETURNING id",
            )
            .bind(court)
            .bind(format!("bench.booking.{i}"))
            .bind(format!("基准专干{i}"))
            .fetch_one(&mut *tx)
            .await?;
            let (room,): (i64,) = sqlx::query_as(
                "INSERT INTO local_rooms (court_id, name) VALUES ($1, $2) RETURNING id",
            )
            .bind(court)
            .bind(format!("视频接访室{i}"))
            .fetch_one(&mut *tx)
            .await?;
            let number = bench_id_number(u32::try_from(i)?);
            let (case,): (i64,) = sqlx::query_as(
                "INSERT INTO cases (court_id, case_number, petitioner_name, petitioner_id_number, \
                     subject, status, tier, created_at, petitioner_id_hash) \
                     VALUES ($1, $2, $3, $4, '基准', 'registered', 1, $5, $6) RETURNING id",
            )
            .bind(court)
            .bind(format!("（2026）基准{i}号"))
            .bind(format!("基准{i}"))
            .bind(sealer.seal(&number))
            .bind(now)
            .bind(sealer.lookup(&number))
            .fetch_one(&mut *tx)
            .await?;
            users.push((user, court, case, room));
        }
        // The baseline's reception rooms, in the first host court.
        let mut plain_rooms = Vec::new();
        for k in 0..slots.div_ceil(5) {
            let (room,): (i64,) = sqlx::query_as(
                "INSERT INTO host_rooms (court_id, name) VALUES ($1, $2) RETURNING id",
            )
            .bind(out[0].0)
            .bind(format!("基线接谈室{k}"))
            .fetch_one(&mut *tx)
            .await?;
            plain_rooms.push(room);
        }
        (out, users, plain_rooms)
    });
    for (court, _, _) in &hosts {
        let current = store.host_settings(*court).await?;
        let open = courtlink::store::schedule::HostSettings {
            auto_approve: true,
            min_notice_hours: 0,
            ..courtlink::store::schedule::HostSettings::defaults(*court)
        };
        store
            .put_host_settings(&open, current.version, "bench")
            .await?;
    }
    // The baseline's slots: one per booking the contest makes, per round.
    let mut plain: [Vec<PlainRow>; 2] = [Vec::new(), Vec::new()];
    for (round, at) in plain_days.iter().enumerate() {
        let rows = bench_tx!(store, |tx| {
            let mut rows = Vec::new();
            for k in 0..slots {
                let room = plain_rooms[k / 5];
                let starts = *at + chrono::Duration::hours((k % 5) as i64);
                let ends = starts + chrono::Duration::hours(1);
                let (slot,): (i64,) = sqlx::query_as(
                    "INSERT INTO slots (host_room_id, starts_at, ends_at) VALUES ($1, $2, $3) RETURNING id",
                )
                .bind(room)
                .bind(starts)
                .bind(ends)
                .fetch_one(&mut *tx)
                .await?;
                let (user, _, case, local_room) = users[k];
                rows.push(PlainRow {
                    slot_id: slot,
                    case_id: case,
                    local_room_id: local_room,
                    host_room_id: room,
                    created_by: user,
                    starts_at: starts,
                    ends_at: ends,
                });
            }
            rows
        });
        plain[round] = rows;
    }
    let tokens = Tokens::new(&settings.auth);
    let mut out = Vec::with_capacity(clients);
    for (i, (user, court, case_id, local_room_id)) in users.into_iter().enumerate() {
        let slot = hosts[(i % slots) / SLOTS_PER_HOST].1[(i % slots) % SLOTS_PER_HOST];
        let (token, _) = tokens.issue_staff(user, Role::Coordinator, court, "基准专干")?;
        out.push(Contestant {
            token,
            slot,
            case_id,
            local_room_id,
        });
    }
    Ok(Contest {
        clients: out,
        day,
        plain,
    })
}

/// What one client's attempt came to.
enum Attempt {
    /// Held, then booked: the booking's id, the Idempotency-Key and body sent, and timings.
    Booked {
        id: i64,
        key: String,
        body: serde_json::Value,
        token: String,
        hold_ms: f64,
        book_ms: f64,
        /// Since the start of the contest.
        done_s: f64,
    },
    /// Refused as the web app expects when someone else was quicker (`slot_held`,
    /// `slot_taken`).
    Refused { code: String, hold_ms: f64 },
    /// Anything else: the run fails.
    Failed(String),
}

async fn attempt(http: &reqwest::Client, base: &str, c: &Contestant, epoch: Instant) -> Attempt {
    let failed = |what: &str, e: &dyn std::fmt::Display| Attempt::Failed(format!("{what}: {e}"));
    let began = Instant::now();
    let hold = match http
        .post(format!("{base}/api/v1/holds"))
        .bearer_auth(&c.token)
        .json(&serde_json::json!({ "slot_id": c.slot }))
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => return failed("POST /holds", &e),
    };
    let status = hold.status().as_u16();
    let text = hold.text().await.unwrap_or_default();
    let hold_ms = began.elapsed().as_secs_f64() * 1000.0;
    if status == 409 {
        let code = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["code"].as_str().map(str::to_owned))
            .unwrap_or_default();
        if code == "slot_held" || code == "slot_taken" {
            return Attempt::Refused { code, hold_ms };
        }
    }
    if status != 201 {
        return Attempt::Failed(format!("POST /holds answered {status}: {text}"));
    }
    // One key per attempt, as the web app makes when the hold is granted.
    let key = format!("{:032x}", rand::random::<u128>());
    let body = serde_json::json!({
        "slot_id": c.slot, "case_id": c.case_id, "local_room_id": c.local_room_id,
    });
    let booking_began = Instant::now();
    let answer = match http
        .post(format!("{base}/api/v1/bookings"))
        .bearer_auth(&c.token)
        .header("Idempotency-Key", &key)
        .json(&body)
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => return failed("POST /bookings", &e),
    };
    let status = answer.status().as_u16();
    let text = answer.text().await.unwrap_or_default();
    let book_ms = booking_began.elapsed().as_secs_f64() * 1000.0;
    let id = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["id"].as_i64());
    match (status, id) {
        (201, Some(id)) => Attempt::Booked {
            id,
            key,
            body,
            token: c.token.clone(),
            hold_ms,
            book_ms,
            done_s: epoch.elapsed().as_secs_f64(),
        },
        _ => Attempt::Failed(format!("POST /bookings answered {status}: {text}")),
    }
}

/// Milliseconds at the `p` quantile (nearest rank) of an unsorted sample.
fn quantile(sample: &mut [f64], p: f64) -> f64 {
    if sample.is_empty() {
        return f64::NAN;
    }
    sample.sort_by(f64::total_cmp);
    sample[((sample.len() - 1) as f64 * p).round() as usize]
}

/// What PostgreSQL's backends of the bench database were doing, sampled every 10 ms.
#[derive(Default)]
struct WaitSamples {
    /// (state, wait) → backend-samples.
    counts: std::collections::BTreeMap<String, u64>,
    ticks: u64,
}

async fn sample_waits(
    pool: sqlx::PgPool,
    database: String,
    stop: tokio::sync::watch::Receiver<bool>,
) -> WaitSamples {
    let mut out = WaitSamples::default();
    // The per-host-court lock is taken with two int4 keys (objsubid 2), the audit chain's with
    // one bigint key (objsubid 1).
    let sql = "SELECT a.state, COALESCE(a.wait_event_type, ''), COALESCE(a.wait_event, ''), \
               (SELECT CASE WHEN l.objsubid = 2 THEN 'host court lock' ELSE 'audit chain lock' END \
                FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted AND l.locktype = 'advisory' LIMIT 1) \
               FROM pg_stat_activity a WHERE a.datname = $1 AND a.pid <> pg_backend_pid() \
               AND a.backend_type = 'client backend' AND a.state <> 'idle'";
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    while !*stop.borrow() {
        tick.tick().await;
        let rows: Vec<(Option<String>, String, String, Option<String>)> =
            match sqlx::query_as(sql).bind(&database).fetch_all(&pool).await {
                Ok(rows) => rows,
                Err(_) => continue,
            };
        out.ticks += 1;
        for (state, kind, event, lock) in rows {
            let state = state.unwrap_or_default();
            let what = match (state.as_str(), kind.as_str(), lock) {
                ("idle in transaction", _, _) => {
                    "in a transaction, waiting for the server's next statement".to_owned()
                }
                (_, "Lock", Some(lock)) => format!("waiting for the {lock}"),
                (_, "", _) => "running (CPU)".to_owned(),
                (_, kind, _) => format!("waiting: {kind}/{event}"),
            };
            *out.counts.entry(what).or_default() += 1;
        }
    }
    out
}

/// What the server process's threads were doing, sampled every 10 ms from
/// `/proc/<pid>/task/*/syscall` (the system call each thread is blocked in, or `running`).
#[derive(Default)]
struct ThreadSamples {
    counts: std::collections::BTreeMap<&'static str, u64>,
    ticks: u64,
}

impl ThreadSamples {
    fn table(&self, backend: &str) -> String {
        let mut rows: Vec<_> = self.counts.iter().collect();
        rows.sort_by_key(|r| std::cmp::Reverse(*r.1));
        let mut out = format!(
            "{backend}: what the server's threads were doing during the contest ({} samples of \
             /proc/<pid>/task/*/syscall every 10 ms; threads idle in epoll or futex not shown)\n\n\
             | threads were | mean threads |\n| --- | --- |\n",
            self.ticks
        );
        for (what, n) in rows {
            out.push_str(&format!(
                "| {what} | {:.2} |\n",
                *n as f64 / self.ticks.max(1) as f64
            ));
        }
        out
    }
}

async fn sample_threads(pid: u32, stop: tokio::sync::watch::Receiver<bool>) -> ThreadSamples {
    let mut out = ThreadSamples::default();
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    while !*stop.borrow() {
        tick.tick().await;
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            break;
        };
        out.ticks += 1;
        for task in tasks.flatten() {
            let call = std::fs::read_to_string(task.path().join("syscall")).unwrap_or_default();
            // x86_64 system call numbers.
            let what = match call.split_whitespace().next().unwrap_or("") {
                "running" => "running (CPU)",
                "74" | "75" => "in fsync / fdatasync",
                "35" | "230" => {
                    "sleeping in nanosleep (SQLite's busy handler waiting for the write lock)"
                }
                "0" | "1" | "17" | "18" | "19" | "20" | "295" | "296" => {
                    "in read / write (file or socket)"
                }
                "202" | "232" | "281" | "7" | "271" | "" => continue,
                _ => "in another system call",
            };
            *out.counts.entry(what).or_default() += 1;
        }
    }
    out
}

/// The baseline: `rows.len()` plain INSERTs of booking rows, no checks and no transaction of
/// their own beyond the statement, all at once over a pool as large as the server's. Returns
/// (seconds, per-insert milliseconds).
async fn plain_inserts(
    url: &str,
    connections: u32,
    rows: &[PlainRow],
) -> anyhow::Result<(f64, Vec<f64>)> {
    let store = Store::connect(url, connections).await?;
    // Every connection opened before the clock starts.
    let mut warm = Vec::new();
    for _ in 0..connections {
        warm.push(async {
            match store.pool() {
                Pool::Sqlite(p) => sqlx::query("SELECT 1").execute(p).await.map(|_| ()),
                Pool::Postgres(p) => sqlx::query("SELECT 1").execute(p).await.map(|_| ()),
            }
        });
    }
    for r in futures_util::future::join_all(warm).await {
        r?;
    }
    let sql = "INSERT INTO bookings (slot_id, case_id, local_room_id, starts_at, ends_at, status, \
               created_by, created_at, host_room_id) \
               VALUES ($1, $2, $3, $4, $5, 'booked', $6, $7, $8) RETURNING id";
    let began = Instant::now();
    let inserts = rows.iter().map(|r| {
        let store = &store;
        async move {
            let t = Instant::now();
            let at = chrono::Utc::now();
            let done: Result<(i64,), sqlx::Error> = match store.pool() {
                Pool::Sqlite(p) => {
                    sqlx::query_as(sql)
                        .bind(r.slot_id)
                        .bind(r.case_id)
                        .bind(r.local_room_id)
                        .bind(r.starts_at)
                        .bind(r.ends_at)
                        .bind(r.created_by)
                        .bind(at)
                        .bind(r.host_room_id)
                        .fetch_one(p)
                        .await
                }
                Pool::Postgres(p) => {
                    sqlx::query_as(sql)
                        .bind(r.slot_id)
                        .bind(r.case_id)
                        .bind(r.local_room_id)
                        .bind(r.starts_at)
                        .bind(r.ends_at)
                        .bind(r.created_by)
                        .bind(at)
                        .bind(r.host_room_id)
                        .fetch_one(p)
                        .await
                }
            };
            done.map(|_| t.elapsed().as_secs_f64() * 1000.0)
        }
    });
    let latencies = futures_util::future::join_all(inserts)
        .await
        .into_iter()
        .collect::<Result<Vec<f64>, _>>()?;
    let seconds = began.elapsed().as_secs_f64();
    store.close().await;
    Ok((seconds, latencies))
}

async fn fresh_pg_database(admin: &str, name: &str) -> anyhow::Result<String> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        bail!("--booking-database must be lower-case letters, digits and _");
    }
    let pool = sqlx::PgPool::connect(admin).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&pool)
        .await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&pool)
        .await?;
    pool.close().await;
    let base = admin
        .rsplit_once('/')
        .map(|(b, _)| b)
        .context("--pg-url names no database")?;
    Ok(format!("{base}/{name}"))
}

async fn drop_pg_database(admin: &str, name: &str) -> anyhow::Result<()> {
    let pool = sqlx::PgPool::connect(admin).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&pool)
        .await?;
    pool.close().await;
    Ok(())
}

/// `courtlink-bench bench booking --count 1000 --slots 100`: see docs/benchmarks.md ("Bookings under
/// contention"). Fails (non-zero exit) unless every slot was booked exactly once, with no
/// overlap, every refusal was one the web app expects, and every retry with the same key got
/// the same booking back.
async fn booking(settings: &Settings, args: &BenchArgs) -> anyhow::Result<()> {
    let clients = args.count;
    let slots = args.slots;
    if slots == 0 || clients < slots {
        bail!("--count (clients) must be at least --slots, and --slots at least 1");
    }
    let loads = loadavg();
    let up = std::fs::read_to_string("/proc/uptime").unwrap_or_default();
    println!(
        "booking: {clients} clients over {slots} slots ({} host courts), {} cores, load average before: {loads} (uptime {} s)",
        slots.div_ceil(SLOTS_PER_HOST),
        num_cpus(),
        up.split_whitespace().next().unwrap_or("?"),
    );
    let backends: &[&str] = match args.backend {
        Backends::Sqlite => &["sqlite"],
        Backends::Postgres => &["postgres"],
        Backends::Both => &["sqlite", "postgres"],
    };
    let mut lines = Vec::new();
    let mut notes = Vec::new();
    for &backend in backends {
        let dir = tempfile::tempdir()?;
        let (url, redis) = if backend == "sqlite" {
            (
                format!("sqlite://{}/booking.db", dir.path().display()),
                None,
            )
        } else {
            (
                fresh_pg_database(&args.province.pg_url, &args.booking_database).await?,
                Some(args.redis_url.as_str()),
            )
        };
        let store = Store::connect(&url, 4).await?;
        store.migrate().await?;
        let world = contest_world(&store, settings, clients, slots).await?;
        let server = start_courtlink(settings, &url, redis)?;
        let base = format!("http://127.0.0.1:{}", server.port);
        let http = reqwest::Client::builder()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(usize::MAX)
            .timeout(Duration::from_secs(300))
            .build()?;
        // Every client's connection open before the start, as browsers that loaded the page.
        let warm = (0..clients).map(|_| http.get(format!("{base}/healthz")).send());
        for r in futures_util::future::join_all(warm).await {
            r?.error_for_status()?;
        }

        let admin = match store.pool() {
            Pool::Postgres(_) => Some(sqlx::PgPool::connect(&args.province.pg_url).await?),
            Pool::Sqlite(_) => None,
        };
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let sampler = admin.clone().map(|pool| {
            tokio::spawn(sample_waits(
                pool,
                args.booking_database.clone(),
                stop_rx.clone(),
            ))
        });
        // All at once: every client waits at the barrier, then the gate opens.
        let clients_arc: Arc<Vec<Contestant>> = Arc::new(world.clients);
        let ready = Arc::new(tokio::sync::Barrier::new(clients + 1));
        let (go_tx, go_rx) = tokio::sync::watch::channel(None::<Instant>);
        let mut tasks = Vec::with_capacity(clients);
        for i in 0..clients {
            let (http, base, all, ready, mut go) = (
                http.clone(),
                base.clone(),
                clients_arc.clone(),
                ready.clone(),
                go_rx.clone(),
            );
            tasks.push(tokio::spawn(async move {
                ready.wait().await;
                let epoch = loop {
                    if let Some(at) = *go.borrow_and_update() {
                        break at;
                    }
                    if go.changed().await.is_err() {
                        return Attempt::Failed("the start never came".into());
                    }
                };
                attempt(&http, &base, &all[i], epoch).await
            }));
        }
        let threads = tokio::spawn(sample_threads(server.pid(), stop_rx.clone()));
        ready.wait().await;
        let cpu0 = server.cpu_seconds();
        let epoch = Instant::now();
        let _ = go_tx.send(Some(epoch));
        let mut outcomes = Vec::with_capacity(clients);
        for t in tasks {
            outcomes.push(t.await.unwrap_or_else(|e| Attempt::Failed(e.to_string())));
        }
        let wall = epoch.elapsed().as_secs_f64();
        let cpu = server.cpu_seconds() - cpu0;
        let _ = stop_tx.send(true);
        let threads = threads.await?;
        let waits = match sampler {
            Some(s) => Some(s.await?),
            None => None,
        };

        // What the clients saw.
        let mut failures = Vec::new();
        let (mut hold_ms, mut book_ms, mut whole_ms, mut refused_ms) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut refusals: std::collections::BTreeMap<String, usize> = Default::default();
        let mut booked = Vec::new();
        let mut last_booked = 0f64;
        for o in outcomes {
            match o {
                Attempt::Booked {
                    id,
                    key,
                    body,
                    token,
                    hold_ms: h,
                    book_ms: b,
                    done_s,
                } => {
                    hold_ms.push(h);
                    book_ms.push(b);
                    whole_ms.push(h + b);
                    last_booked = last_booked.max(done_s);
                    booked.push((id, key, body, token));
                }
                Attempt::Refused { code, hold_ms: h } => {
                    refused_ms.push(h);
                    *refusals.entry(code).or_default() += 1;
                }
                Attempt::Failed(why) => failures.push(why),
            }
        }

        // What the database holds.
        let mut problems = Vec::new();
        if let Some(first) = failures.first() {
            problems.push(format!(
                "{} attempts failed unexpectedly, e.g. {first}",
                failures.len()
            ));
        }
        if booked.len() != slots {
            problems.push(format!(
                "{} bookings answered 201, expected exactly {slots}",
                booked.len()
            ));
        }
        let checks = Checks::read(&store, world.day).await?;
        if checks.live != i64::try_from(slots)? {
            problems.push(format!(
                "{} live bookings in the database, expected exactly {slots}",
                checks.live
            ));
        }
        if checks.overlaps != 0 || checks.doubled_slots != 0 {
            problems.push(format!(
                "{} overlapping pairs of live bookings, {} slots booked twice",
                checks.overlaps, checks.doubled_slots
            ));
        }
        if checks.sessions != checks.live {
            problems.push(format!(
                "{} sessions for {} bookings",
                checks.sessions, checks.live
            ));
        }
        let mut answered: Vec<i64> = booked.iter().map(|b| b.0).collect();
        answered.sort_unstable();
        if answered != checks.ids {
            problems.push("the bookings answered 201 are not those in the database".into());
        }
        // A retry of each booking with its key (a browser whose answer was lost) gets the same
        // booking back and books nothing more.
        let replays = booked.iter().map(|(id, key, body, token)| {
            let http = http.clone();
            let base = base.clone();
            async move {
                let r = http
                    .post(format!("{base}/api/v1/bookings"))
                    .bearer_auth(token)
                    .header("Idempotency-Key", key)
                    .json(body)
                    .send()
                    .await
                    .ok()?;
                let status = r.status().as_u16();
                let v: serde_json::Value = r.json().await.ok()?;
                (status == 201 && v["id"].as_i64() == Some(*id)).then_some(())
            }
        });
        let replayed = futures_util::future::join_all(replays)
            .await
            .into_iter()
            .filter(Option::is_some)
            .count();
        if replayed != booked.len() {
            problems.push(format!(
                "{} of {} retries with the same Idempotency-Key got their booking back",
                replayed,
                booked.len()
            ));
        }
        if Checks::read(&store, world.day).await?.live != checks.live {
            problems.push("a retry with the same Idempotency-Key booked again".into());
        }

        // The baseline, on the same database with the server idle: two rounds, the faster
        // counts (the stricter ratio).
        let connections = settings.database.max_connections;
        let mut rounds = Vec::new();
        for rows in &world.plain {
            let rows = &rows[..booked.len().min(rows.len())];
            rounds.push(plain_inserts(&url, connections, rows).await?);
        }
        drop(server);
        store.close().await;

        let n = booked.len() as f64;
        let rate = n / last_booked.max(1e-9);
        let (plain_s, mut plain_ms) = rounds
            .into_iter()
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .context("a baseline round")?;
        let plain_rate = plain_ms.len() as f64 / plain_s;
        lines.push(format!(
            "| {backend} | {clients} / {slots} | {} | {} | {last_booked:.2} | {wall:.2} | {rate:.0} | {:.0} / {:.0} | {:.0} / {:.0} | {:.0} / {:.0} | {plain_rate:.0} | {:.1} / {:.1} | **{:.2}×** | {cpu:.2} |",
            booked.len(),
            refusals
                .iter()
                .map(|(c, n)| format!("{n} {c}"))
                .collect::<Vec<_>>()
                .join(", "),
            quantile(&mut book_ms, 0.5),
            quantile(&mut book_ms, 0.99),
            quantile(&mut whole_ms, 0.5),
            quantile(&mut whole_ms, 0.99),
            quantile(&mut refused_ms, 0.5),
            quantile(&mut refused_ms, 0.99),
            quantile(&mut plain_ms, 0.5),
            quantile(&mut plain_ms, 0.99),
            rate / plain_rate,
        ));
        if let Some(w) = waits {
            let total: u64 = w.counts.values().sum();
            let mut rows: Vec<_> = w.counts.into_iter().collect();
            rows.sort_by_key(|r| std::cmp::Reverse(r.1));
            let mut note = format!(
                "{backend}: what PostgreSQL's backends of the bench database were doing during \
                 the contest ({} samples of pg_stat_activity and pg_locks every 10 ms; mean \
                 backends not idle {:.2})\n",
                w.ticks,
                total as f64 / w.ticks.max(1) as f64,
            );
            note.push_str("\n| backends were | share of backend-samples | mean backends |\n| --- | --- | --- |\n");
            for (what, count) in rows {
                note.push_str(&format!(
                    "| {what} | {:.0} % | {:.2} |\n",
                    100.0 * count as f64 / total.max(1) as f64,
                    count as f64 / w.ticks.max(1) as f64
                ));
            }
            notes.push(note);
        }
        notes.push(threads.table(backend));
        notes.push(format!(
            "{backend}: hold (POST /holds) of the winners p50 / p99 {:.0} / {:.0} ms; server CPU {cpu:.2} s over {wall:.2} s of contest ({:.0} % of one core)",
            quantile(&mut hold_ms, 0.5),
            quantile(&mut hold_ms, 0.99),
            100.0 * cpu / wall
        ));
        println!(
            "{backend}: {} booked, {} refused as expected, {} failed; live {}, overlaps {}, slots booked twice {}, retries replayed {replayed}/{}",
            booked.len(),
            refusals.values().sum::<usize>(),
            failures.len(),
            checks.live,
            checks.overlaps,
            checks.doubled_slots,
            booked.len()
        );
        if !problems.is_empty() {
            for p in &problems {
                println!("[FAIL] {p}");
            }
            bail!(
                "booking on {backend}: {} checks failed (the database is kept)",
                problems.len()
            );
        }
        if backend == "postgres" {
            drop_pg_database(&args.province.pg_url, &args.booking_database).await?;
        }
    }
    println!(
        "\n| backend | clients / slots | booked | refused at the hold | last booking (s) | all answered (s) | bookings/s | POST /bookings p50 / p99 ms | hold + book p50 / p99 ms | refused hold p50 / p99 ms | plain INSERTs/s | INSERT p50 / p99 ms | ratio | server CPU s |"
    );
    println!(
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    for l in &lines {
        println!("{l}");
    }
    for n in &notes {
        println!("\n{n}");
    }
    println!("\nload average after: {}", loadavg());
    println!("booking: passed (every slot booked exactly once, no overlap, every retry replayed)");
    Ok(())
}

/// The contest's bookings as the database holds them.
struct Checks {
    live: i64,
    sessions: i64,
    overlaps: i64,
    doubled_slots: i64,
    ids: Vec<i64>,
}

impl Checks {
    async fn read(store: &Store, day: chrono::DateTime<chrono::Utc>) -> anyhow::Result<Checks> {
        let until = day + chrono::Duration::days(1);
        let one = |sql: &'static str| async move {
            let (n,): (i64,) = match store.pool() {
                Pool::Sqlite(p) => sqlx::query_as(sql).bind(until).fetch_one(p).await?,
                Pool::Postgres(p) => sqlx::query_as(sql).bind(until).fetch_one(p).await?,
            };
            anyhow::Ok(n)
        };
        let live =
            one("SELECT COUNT(*) FROM bookings WHERE status <> 'cancelled' AND starts_at < $1")
                .await?;
        let sessions = one(
            "SELECT COUNT(*) FROM sessions s JOIN bookings b ON b.id = s.booking_id \
             WHERE b.status <> 'cancelled' AND b.starts_at < $1",
        )
        .await?;
        let overlaps = one(
            "SELECT COUNT(*) FROM bookings a JOIN bookings b ON a.id < b.id \
             AND a.status <> 'cancelled' AND b.status <> 'cancelled' \
             AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at \
             AND (a.host_room_id = b.host_room_id OR a.local_room_id = b.local_room_id \
                  OR a.slot_id = b.slot_id) \
             WHERE a.starts_at < $1",
        )
        .await?;
        let doubled_slots = one(
            "SELECT COUNT(*) FROM (SELECT slot_id FROM bookings WHERE status <> 'cancelled' \
             AND starts_at < $1 GROUP BY slot_id HAVING COUNT(*) > 1) x",
        )
        .await?;
        let sql =
            "SELECT id FROM bookings WHERE status <> 'cancelled' AND starts_at < $1 ORDER BY id";
        let ids: Vec<(i64,)> = match store.pool() {
            Pool::Sqlite(p) => sqlx::query_as(sql).bind(until).fetch_all(p).await?,
            Pool::Postgres(p) => sqlx::query_as(sql).bind(until).fetch_all(p).await?,
        };
        Ok(Checks {
            live,
            sessions,
            overlaps,
            doubled_slots,
            ids: ids.into_iter().map(|r| r.0).collect(),
        })
    }
}
