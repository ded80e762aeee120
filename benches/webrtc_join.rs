//! How long a petitioner takes from opening its signalling WebSocket to a working WebRTC call.
//!
//! Run with `cargo bench --bench webrtc_join`. It starts the real application in this process
//! (`Application::build`, settings from `config/default.toml`, port 0, a fresh SQLite file),
//! creates 50 sessions as `courtlink bench` does (`courtlink_tools::seed::synthetic_sessions`, tokens minted
//! with `Tokens`), and for each session, one after the other, joins a real `webrtc`-crate peer
//! as the officer and then one as the petitioner, which negotiate through the relay (perfect
//! negotiation, trickle ICE on loopback) and open a data channel. For every pair it measures,
//! from the moment the petitioner starts its WebSocket connect:
//!
//! - the WebSocket upgrade and the `welcome` message,
//! - both peer connections `connected`,
//! - the data channel open on both sides,
//!
//! and prints the median, p90, min and max of each (nearest rank).
//!
//! The waiting room is off, so the petitioner is admitted at once; set
//! `WEBRTC_JOIN_WAITING_ROOM=1` to keep it on and have the officer admit the petitioner through
//! the protocol (the admission round trip is then part of the figures).

#[path = "../tests/common/peer.rs"]
mod peer;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use courtlink::auth::Tokens;
use courtlink::config::Settings;
use courtlink::domain::{Role, SessionId};
use courtlink::startup::Application;
use courtlink::store::Store;
use peer::{SignalPeer, admit_from_waiting_room, negotiate_and_exchange};
use secrecy::SecretString;

const COMMAND: &str = "cargo bench --bench webrtc_join";
const PAIRS: usize = 50;
const NEGOTIATION_TIMEOUT: Duration = Duration::from_secs(30);
const PAYLOAD: &[u8] = b"webrtc_join: bytes over the data channel";

/// One pair's figures, each from the petitioner's connect.
struct Sample {
    upgraded: Duration,
    welcomed: Duration,
    connected: Duration,
    open: Duration,
}

/// Picks one figure out of a sample.
type Figure = fn(&Sample) -> Duration;

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; there is nothing to choose.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let waiting_room = std::env::var("WEBRTC_JOIN_WAITING_ROOM").is_ok_and(|v| v == "1");
    let dir = tempfile::tempdir()?;
    let database_url = format!("sqlite://{}/webrtc-join.db", dir.path().display());

    let mut settings =
        Settings::load(&repo.join("config"), "default").context("config/default.toml")?;
    settings.server.port = 0;
    settings.server.web_dir = repo.join("web");
    settings.database.url = SecretString::from(database_url.clone());
    settings.demo.seed = false;
    settings.log.filter = "error".into();
    settings.signalling.waiting_room = waiting_room;

    // The fixture, as `courtlink bench` builds it: sessions of one synthetic host court, one
    // officer token for all, one join token per session.
    let store = Store::connect(&database_url, 2).await?;
    store.migrate().await?;
    let (officer_id, court, sessions) =
        courtlink_tools::seed::synthetic_sessions(&store, PAIRS, "webrtc-join").await?;
    store.close().await;
    let tokens = Tokens::new(&settings.auth);
    let (officer_token, _) =
        tokens.issue_staff(officer_id, Role::Officer, court, "bench officer")?;
    let until = chrono::Utc::now() + chrono::Duration::hours(6);

    let app = Application::build(settings).await?;
    let port = app.port();
    let shutdown = app.shutdown();
    let server = tokio::spawn(app.run_until_stopped());

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "webrtc_join: {PAIRS} officer/petitioner pairs of webrtc-crate peers, one pair at a time, \
         each in its own session, on one in-process instance (SQLite, waiting room {}), \
         {cores} cores",
        if waiting_room {
            "on: the officer admits through the protocol"
        } else {
            "off"
        }
    );
    let mut samples = Vec::with_capacity(PAIRS);
    for (i, session) in sessions.iter().enumerate() {
        let join_token = tokens.issue_join(SessionId(*session), until)?;
        let url = format!("ws://127.0.0.1:{port}/api/v1/sessions/{session}/signal");
        let sample = pair(&url, &officer_token, &join_token, waiting_room)
            .await
            .with_context(|| format!("pair {} (session {session})", i + 1))?;
        if i == 0 {
            println!(
                "first pair: connected {:.0?}, data channel open {:.0?}",
                sample.connected, sample.open
            );
        }
        samples.push(sample);
    }

    println!(
        "\n| from the petitioner's WebSocket connect to | median | p90 | min | max |\n\
         | --- | --- | --- | --- | --- |"
    );
    let rows: [(&str, Figure); 4] = [
        ("WebSocket upgrade done", |s| s.upgraded),
        ("`welcome` received", |s| s.welcomed),
        ("both peer connections `connected`", |s| s.connected),
        ("data channel open on both sides", |s| s.open),
    ];
    for (label, pick) in rows {
        let mut d: Vec<Duration> = samples.iter().map(pick).collect();
        d.sort();
        println!(
            "| {label} | {} | {} | {} | {} |",
            ms(percentile(&d, 0.5)),
            ms(percentile(&d, 0.9)),
            ms(d.first().copied()),
            ms(d.last().copied())
        );
    }
    println!("\n{} pairs measured; command: {COMMAND}", samples.len());

    // Let the last sockets' departures be recorded before the workers stop: a socket task
    // still writing its `left` event when `stop` drops it panics in sqlx ("this functionality
    // requires a Tokio context").
    tokio::time::sleep(Duration::from_secs(1)).await;
    shutdown.drain().await;
    server.abort();
    Ok(())
}

/// One officer joins, then the petitioner, and they negotiate a data channel through the relay.
async fn pair(
    url: &str,
    officer_token: &str,
    join_token: &str,
    waiting_room: bool,
) -> anyhow::Result<Sample> {
    let mut officer = SignalPeer::connect(url, officer_token)
        .await
        .context("officer connects")?;
    let mut petitioner = SignalPeer::connect(url, join_token)
        .await
        .context("petitioner connects")?;
    let welcomed = petitioner.started_at().elapsed();
    let start = petitioner.started_at();
    if waiting_room {
        admit_from_waiting_room(&mut officer, &mut petitioner, Duration::from_secs(10)).await?;
    } else if !petitioner.is_admitted() {
        bail!(
            "waiting room off, yet the petitioner waits: {}",
            petitioner.welcome()
        );
    }
    let x =
        negotiate_and_exchange(&mut officer, &mut petitioner, PAYLOAD, NEGOTIATION_TIMEOUT).await?;
    if x.first_received != PAYLOAD || x.second_received != PAYLOAD {
        bail!(
            "the data channel carried other bytes: {} and {} bytes back",
            x.first_received.len(),
            x.second_received.len()
        );
    }
    let sample = Sample {
        upgraded: petitioner.joined_at().saturating_duration_since(start),
        welcomed,
        connected: x.connected_at.saturating_duration_since(start),
        open: x.open_at.saturating_duration_since(start),
    };
    officer.close().await;
    petitioner.close().await;
    Ok(sample)
}

/// Nearest-rank percentile of sorted durations.
fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted.get(rank - 1).copied()
}

fn ms(d: Option<Duration>) -> String {
    d.map_or_else(
        || "-".to_owned(),
        |d| format!("{:.1} ms", d.as_secs_f64() * 1000.0),
    )
}
