//! `courtlink bench`: load generators and benchmarks that print figures. Each scenario starts the
//! servers it measures as child processes (so that their CPU time and memory can be read from
//! /proc) and drives them with WebSocket clients from this process.
//!
//! - `relay`: N two-party sessions relaying ~600-byte signals, first flat out (throughput), then
//!   at a stated offered load (latency), against CourtLink and against a baseline: a bare
//!   actix-ws relay on the same stack with no auth and no bookkeeping.
//! - `idle`: N authenticated idle sockets on one instance: memory per connection.
//! - `hop`: the latency added when the two parties sit on two instances sharing Redis.
//! - `records`: session-log pages and monthly statistics on a database filled by
//!   `courtlink generate` (no servers: the store's queries, timed one by one).
//! - `province`: a province's day on PostgreSQL and Redis, compressed (`crate::loadtest`).
//! - `import`: a ledger of `--count` rows imported (CSV, XLSX: preview and commit) beside the same
//!   cases opened one by one through `app::ledger::open_case`, on fresh SQLite files.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::auth::Tokens;
use crate::config::Settings;
use crate::domain::Role;
use crate::loadkit::{Server, Ws, connect, courtlink_env};
use crate::store::Store;

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
    #[command(flatten)]
    pub province: crate::loadtest::ProvinceArgs,
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
    let (officer, court, sessions) = store.seed_synthetic_sessions(count, "bench").await?;
    store.close().await;
    let tokens = Tokens::new(&settings.auth);
    let until = chrono::Utc::now() + chrono::Duration::hours(6);
    let (host_token, _) = tokens.issue_staff(officer, Role::Officer, court, "bench officer")?;
    let pairs = sessions
        .into_iter()
        .map(|s| Ok((s, host_token.clone(), tokens.issue_join(s, until)?)))
        .collect::<Result<Vec<_>, crate::error::ApiError>>()?;
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
    }
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
/// database as `courtlink generate` left it. Each query is made through the store exactly as the
/// handler makes it (the page, or the statistics), one at a time, on a warm pool. Courts and months are drawn at random (fixed seed) for every query.
async fn records(settings: &Settings, args: &BenchArgs) -> anyhow::Result<()> {
    use rand::seq::SliceRandom;
    use rand::{Rng, SeedableRng};

    use crate::store::records::{LogFilter, Under};

    let url = secrecy::ExposeSecret::expose_secret(&settings.database.url);
    let store = Store::connect(url, 4).await?;
    store.migrate().await?;
    let ids = |sql: &'static str| {
        let store = store.clone();
        async move {
            let rows: Vec<(i64,)> = match &store {
                Store::Sqlite(p) => sqlx::query_as(sql).fetch_all(p).await?,
                Store::Postgres(p) => sqlx::query_as(sql).fetch_all(p).await?,
            };
            anyhow::Ok(rows.into_iter().map(|(id,)| id).collect::<Vec<i64>>())
        }
    };
    let spc =
        ids("SELECT id FROM courts WHERE level = 'supreme' AND parent_id IS NULL ORDER BY id")
            .await?
            .first()
            .copied()
            .context("no SPC: run `courtlink generate` first")?;
    let provinces = ids("SELECT id FROM courts WHERE level = 'high' ORDER BY id").await?;
    let basics = ids("SELECT c.id FROM courts c WHERE c.level = 'basic' \
         AND EXISTS (SELECT 1 FROM local_rooms lr WHERE lr.court_id = c.id) ORDER BY c.id")
    .await?;
    let sessions = ids("SELECT COUNT(*) FROM sessions").await?;
    if provinces.is_empty() || basics.is_empty() {
        bail!("no generated courts: run `courtlink generate` first");
    }
    // The last twelve whole months in Beijing time.
    let tz = crate::app::clock::beijing();
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
        months.push((month_start(back)?, month_start(back - 1)?));
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
        let (from, to) = months[rng.gen_range(0..months.len())];
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
            before = rows.get(49).map(|r| (r.starts_at, r.booking_id));
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

    // 4. Statistics of a month: a province, then the whole country.
    let mut t = Timings::default();
    for i in 0..warm + n {
        t.measuring = i >= warm;
        let court = *provinces.choose(&mut rng).context("a province")?;
        let (from, to) = months[rng.gen_range(0..months.len())];
        let began = Instant::now();
        let rows = store
            .statistics(court, Under::Province(court), from, to)
            .await?;
        t.add(began, rows.len());
    }
    t.print("statistics: a province, one month");
    let mut t = Timings::default();
    for i in 0..4 + (n / 5).max(1) {
        t.measuring = i >= 4;
        let (from, to) = months[rng.gen_range(0..months.len())];
        let began = Instant::now();
        let rows = store.statistics(spc, Under::All, from, to).await?;
        t.add(began, rows.len());
    }
    t.print("statistics: the country, one month");
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
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let born = chrono::NaiveDate::from_ymd_opt(1950, 1, 1).unwrap_or_default()
        + chrono::Duration::days(i64::from(n / 1000));
    let body = format!("110105{}{:03}", born.format("%Y%m%d"), n % 1000);
    let sum: u32 = body
        .bytes()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    let check = char::from(b"10X98765432"[(sum % 11) as usize]);
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
    use crate::app::ledger_import::COLUMNS;
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(COLUMNS.iter().map(|c| c.zh))?;
    for r in rows {
        w.write_record(r)?;
    }
    w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))
}

fn bench_xlsx(rows: &[Vec<String>]) -> anyhow::Result<Vec<u8>> {
    use crate::app::ledger_import::COLUMNS;
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
) -> anyhow::Result<(Store, crate::auth::Staff)> {
    let store = Store::connect(&format!("sqlite://{}/{name}.db", dir.display()), 4).await?;
    store.migrate().await?;
    crate::demo::seed(&store, "bench-password-0000").await?;
    let Store::Sqlite(pool) = &store else {
        bail!("the import bench runs on SQLite");
    };
    let (user_id, court_id): (i64, i64) =
        sqlx::query_as("SELECT id, court_id FROM users WHERE username = 'xihu.coord'")
            .fetch_one(pool)
            .await?;
    let staff = crate::auth::Staff {
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

/// `courtlink bench import --count 10000`: a ledger of `count` rows imported into a fresh
/// SQLite ledger, as CSV and as XLSX (preview, commit, and the same file again, all matched),
/// timed through `app::ledger_import` exactly as the handlers call it (no HTTP). Baseline from
/// the same run: the same rows opened one at a time through `app::ledger::open_case`, as
/// `count` POST /cases would, on another fresh file.
async fn import(args: &BenchArgs) -> anyhow::Result<()> {
    use crate::app::ledger_import::{self, Limits};

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
        let p = ledger_import::preview(&store, &staff, file, limits).await?;
        line(&format!("{format} preview (empty ledger)"), seconds(t), &p);
        let t = Instant::now();
        let c = ledger_import::commit(&store, &staff, file, limits, Some(&p.plan)).await?;
        line(&format!("{format} commit"), seconds(t), &c);
        let t = Instant::now();
        let again = ledger_import::preview(&store, &staff, file, limits).await?;
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
        crate::app::ledger::open_case(
            &store,
            &staff,
            crate::app::ledger::OpenCaseCommand {
                fields: crate::app::ledger::CaseFields {
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
                        "来访" => crate::domain::Channel::LocalVisit,
                        "来信" => crate::domain::Channel::Letter,
                        "电话" => crate::domain::Channel::Phone,
                        _ => crate::domain::Channel::Online,
                    },
                    case_class: if r[1] == "涉诉" {
                        crate::domain::CaseClass::Litigation
                    } else {
                        crate::domain::CaseClass::Petition
                    },
                    received_at: Some(received),
                },
                confirm_new: false,
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
