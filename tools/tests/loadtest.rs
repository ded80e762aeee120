//! The province load test (`courtlink-bench bench province`, tools/src/loadtest.rs) at a tiny scale, so
//! that the harness cannot rot: a few courts, ten sessions with signalling, a day of 20 seconds,
//! on PostgreSQL and Redis. The harness exits non-zero when an answer was unexpected or a check on
//! the database failed (a slot booked twice, an overlap, an acknowledged write missing, a signal
//! lost); this test runs it and reads its verdict.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly by panicking"
)]

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Set (as CI does) to make tests that need PostgreSQL or Redis fail instead of skip; the same
/// variable as the server's tests (tests/common/mod.rs).
const REQUIRE_SERVICES: &str = "COURTLINK_REQUIRE_SERVICES";

/// Whether `what` answers at `address`; when it does not, fails if services are required and
/// otherwise says loudly that the test is skipped.
fn answers(what: &str, address: &str) -> bool {
    match std::net::TcpStream::connect(address) {
        Ok(_) => true,
        Err(e) => {
            if std::env::var(REQUIRE_SERVICES).is_ok() {
                panic!(
                    "{what} is required ({REQUIRE_SERVICES} is set) but {address} does not answer: {e}"
                );
            }
            eprintln!(
                "\n*** SKIPPED: {what} at {address} does not answer ({e}); set {REQUIRE_SERVICES}=1 to fail instead ***\n"
            );
            false
        }
    }
}

/// PostgreSQL (the admin URL's server) and Redis, or None when either is absent and not required.
fn services(admin: &str) -> Option<&'static str> {
    let postgres = admin
        .split('@')
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("127.0.0.1:5432");
    (answers("PostgreSQL", postgres) && answers("Redis", "127.0.0.1:6379"))
        .then_some("redis://127.0.0.1:6379/")
}

/// The repository's root: the tools read config/ from where they are run, as the docs run them.
fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tools/ is in the repository")
}

#[test]
fn a_tiny_province_day_passes_its_checks() {
    let admin = std::env::var("COURTLINK_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let Some(redis) = services(&admin) else {
        return;
    };
    let database = format!("courtlink_load_test_{}", std::process::id());
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_courtlink-bench"))
        .args([
            "bench",
            "province",
            "--courts",
            "8",
            "--sessions",
            "10",
            "--history",
            "200",
            "--minutes",
            "0.35",
            "--pg-url",
            &admin,
            "--database",
            &database,
            "--redis-url",
            redis,
        ])
        .current_dir(repository())
        .env("COURTLINK__LOG__FILTER", "error")
        .stdout(Stdio::piped())
        .spawn()
        .expect("courtlink-bench starts");
    let mut stdout = child.stdout.take().unwrap();
    let reading = std::thread::spawn(move || {
        let mut out = String::new();
        stdout.read_to_string(&mut out).unwrap();
        out
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(180) {
            let _ = child.kill();
            panic!("the province day did not finish within 3 minutes");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let out = reading.join().unwrap();
    println!("{out}");
    assert!(
        status.success(),
        "the province day failed ({status}); its report is above"
    );
    for expected in [
        "| `POST /api/v1/bookings` |",
        "| `POST /api/v1/sessions/{id}/end` |",
        "| `GET /api/v1/records/sessions` |",
        "[pass] no slot booked twice",
        "[pass] every signal sent was relayed",
        "province: passed",
    ] {
        assert!(out.contains(expected), "the report lacks {expected:?}");
    }
    // Ten sessions of three participants each.
    assert!(
        out.lines().any(|l| l.starts_with("| courtlink | 30 |")),
        "thirty signalling sockets"
    );
}

/// `courtlink-bench bench booking` (tools/src/bench.rs) at a tiny scale, so that it cannot rot: 20
/// clients over 5 slots, through the HTTP API of a server it starts, on SQLite and on
/// PostgreSQL (with Redis). The harness fails unless exactly 5 bookings were made with no
/// overlap, every other client was refused as the web app expects, and every retry with the
/// same Idempotency-Key got its booking back; this test reads its verdict and its table.
#[test]
fn a_tiny_booking_contest_passes_its_checks() {
    let admin = std::env::var("COURTLINK_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let Some(redis) = services(&admin) else {
        return;
    };
    let database = format!("courtlink_bench_booking_test_{}", std::process::id());
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_courtlink-bench"))
        .args([
            "bench",
            "booking",
            "--count",
            "20",
            "--slots",
            "5",
            "--pg-url",
            &admin,
            "--booking-database",
            &database,
            "--redis-url",
            redis,
        ])
        .current_dir(repository())
        .env("COURTLINK__LOG__FILTER", "error")
        .stdout(Stdio::piped())
        .spawn()
        .expect("courtlink-bench starts");
    let mut stdout = child.stdout.take().unwrap();
    let reading = std::thread::spawn(move || {
        let mut out = String::new();
        stdout.read_to_string(&mut out).unwrap();
        out
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("the booking contest did not finish within 2 minutes");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = reading.join().unwrap();
    println!("{out}");
    assert!(
        status.success(),
        "the booking contest failed ({status}); its report is above"
    );
    for backend in ["sqlite", "postgres"] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(&format!("| {backend} | 20 / 5 | 5 | "))),
            "{backend}: a row of figures with 5 booked"
        );
        assert!(
            out.contains(&format!(
                "{backend}: 5 booked, 15 refused as expected, 0 failed; live 5, overlaps 0, \
                 slots booked twice 0, retries replayed 5/5"
            )),
            "{backend}: the database's checks"
        );
    }
    assert!(out.contains("booking: passed"));
}

/// The signalling benches (`relay`, `hop`, `idle`) join many sessions at once: each must be
/// inside its join window. 40 sessions, one second: the 31st and later were refused 409 when the
/// seed spread the sessions a minute apart.
#[test]
fn a_tiny_relay_bench_joins_every_session() {
    let out = Command::new(env!("CARGO_BIN_EXE_courtlink-bench"))
        .args(["bench", "relay", "--count", "40", "--seconds", "1"])
        .current_dir(repository())
        .env("COURTLINK__LOG__FILTER", "error")
        .output()
        .expect("courtlink-bench starts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the relay bench failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.lines().any(|l| l.starts_with("| courtlink | ")),
        "a row of figures for CourtLink: {stdout}"
    );
}
