//! A real TURN relay for the tests: Debian's coturn (`turnserver`), started in the foreground on
//! loopback in coturn's REST-credential mode (`use-auth-secret`) with the same secret the test
//! server mints credentials from, listening for UDP and TCP on a free port, relaying on a small
//! port range of its own. Each test gets its own relay; it is killed when the guard drops.
//!
//! `allow-loopback-peers` is set only because both browsers of a test live on 127.0.0.1; a court's
//! relay must never have it (docs/deploy.md).

use std::net::{TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use super::REQUIRE_SERVICES;

pub const TURNSERVER: &str = "/usr/bin/turnserver";
/// The secret shared by the test relay and the test server's `ice.turn_secret`.
pub const TURN_SECRET: &str = "courtlink-test-turn-secret-0123456789";
pub const TURN_REALM: &str = "courtlink.test";

pub struct Coturn {
    child: Child,
    pub host: String,
    pub port: u16,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

/// How the relay is set up for one test.
#[derive(Default, Clone)]
pub struct CoturnOptions {
    /// Refuse relaying to 127.0.0.1 peers (coturn's default), so a permission to a loopback
    /// peer is answered 403.
    pub deny_loopback_peers: bool,
    /// Run inside this network namespace, listening and relaying on this address of it
    /// (`tests/common/netns.rs`), instead of on 127.0.0.1.
    pub netns: Option<(String, String)>,
}

/// Relay ports: each relay takes its own block of 40, so relays of tests running at the same
/// time never share a port.
static NEXT_BLOCK: AtomicU16 = AtomicU16::new(0);

fn free_port() -> u16 {
    // A port free for both TCP and UDP at the time of asking.
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind a TCP port");
        let port = tcp.local_addr().expect("local address").port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

impl Coturn {
    /// Starts a relay, or returns None (after saying so loudly) when coturn is not installed and
    /// the environment does not require it.
    pub fn start(options: CoturnOptions) -> Option<Coturn> {
        if !std::path::Path::new(TURNSERVER).exists() {
            if std::env::var(REQUIRE_SERVICES).is_ok() {
                panic!(
                    "coturn is required ({REQUIRE_SERVICES} is set) but {TURNSERVER} is missing (apt-get install coturn)"
                );
            }
            eprintln!(
                "\n*** SKIPPED: {TURNSERVER} missing (apt-get install coturn); set {REQUIRE_SERVICES}=1 to fail instead ***\n"
            );
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("turnserver.log");
        let (host, port) = match &options.netns {
            // A fresh namespace has every port free.
            Some((_, address)) => (address.clone(), 3478),
            None => ("127.0.0.1".to_owned(), free_port()),
        };
        let block = NEXT_BLOCK.fetch_add(1, Ordering::Relaxed) % 300;
        // A base that differs between test processes too, away from the ephemeral range's start.
        let base = 20_000 + (std::process::id() as u16 % 50) * 200 + block * 40;
        let mut args = vec![
            "-n".to_owned(), // no configuration file: everything is on this command line
            format!("--listening-ip={host}"),
            format!("--relay-ip={host}"),
            format!("--listening-port={port}"),
            format!("--min-port={base}"),
            format!("--max-port={}", base + 39),
            "--use-auth-secret".to_owned(),
            format!("--static-auth-secret={TURN_SECRET}"),
            format!("--realm={TURN_REALM}"),
            "--fingerprint".to_owned(),
            "--no-cli".to_owned(),
            "--no-tls".to_owned(),
            "--no-dtls".to_owned(),
            "--no-multicast-peers".to_owned(),
            "--no-software-attribute".to_owned(),
            "--simple-log".to_owned(),
            // Verbose, so the log says when the listeners are open (and what each session did).
            "--verbose".to_owned(),
            format!("--log-file={}", log.display()),
            "--no-stdout-log".to_owned(),
            format!("--pidfile={}", dir.path().join("turnserver.pid").display()),
        ];
        if !options.deny_loopback_peers {
            args.push("--allow-loopback-peers".to_owned());
        }
        let mut command = match &options.netns {
            Some((ns, _)) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, TURNSERVER]);
                c
            }
            None => Command::new(TURNSERVER),
        };
        let child = command
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("turnserver starts");
        let relay = Coturn {
            child,
            host,
            port,
            log,
            _dir: dir,
        };
        relay.wait_listening();
        Some(relay)
    }

    /// Waits until the relay's listeners are open (UDP opens after TCP). Read
    /// from its log: a relay inside a test network is not reachable from here.
    fn wait_listening(&self) {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if self.log_text().contains("UDP listener opened on") {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "turnserver did not listen on 127.0.0.1:{} within 10 s; its log:\n{}",
            self.port,
            self.log_text()
        );
    }

    pub fn url(&self, transport: &str) -> String {
        format!("turn:{}:{}?transport={transport}", self.host, self.port)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
