//! A real TURN relay (coturn, `tests/common/turn.rs`) against CourtLink's credentials and its
//! probe (`courtlink check-config --probe`): an allocation over UDP and over TCP with minted
//! credentials; 401 for another secret, for expired credentials and for a tampered username;
//! 403 for a peer the relay denies; unreachable for a closed port; credentials that end with the
//! session's window; malformed URLs refused at start-up with the key named.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly by panicking"
)]

use courtlink::config::{IceSettings, IceUrl, Settings, Transport};
use courtlink::connectivity::relay::{ProbeOutcome, probe, probe_all};
use courtlink::signalling::ice::turn_password;
use secrecy::SecretString;

use crate::common::turn::{Coturn, CoturnOptions, TURN_SECRET};
use crate::common::{self, TestApp, next_json, ws_join};

fn ice(relay: &Coturn, secret: &str, transports: &[&str]) -> IceSettings {
    IceSettings {
        stun_urls: Vec::new(),
        turn_urls: transports.iter().map(|t| relay.url(t)).collect(),
        turn_secret: SecretString::from(secret.to_owned()),
        turn_ttl_seconds: 3600,
    }
}

fn in_an_hour() -> i64 {
    chrono::Utc::now().timestamp() + 3600
}

#[test]
fn minted_credentials_relay_over_udp_and_tcp() {
    let Some(relay) = Coturn::start(CoturnOptions::default()) else {
        return;
    };
    let reports = probe_all(
        &ice(&relay, TURN_SECRET, &["udp", "tcp"]),
        in_an_hour(),
        None,
    );
    assert_eq!(reports.len(), 2);
    for r in &reports {
        assert!(
            matches!(r.outcome, ProbeOutcome::Relayed { .. }),
            "{}: {:?}\ncoturn's log:\n{}",
            r.url,
            r.outcome,
            relay.log_text()
        );
    }
}

#[test]
fn another_secret_expired_or_tampered_credentials_are_refused_with_401() {
    let Some(relay) = Coturn::start(CoturnOptions::default()) else {
        return;
    };
    for transport in ["udp", "tcp"] {
        let wrong = probe_all(
            &ice(&relay, "not-the-relays-secret-at-all", &[transport]),
            in_an_hour(),
            None,
        );
        assert!(
            matches!(wrong[0].outcome, ProbeOutcome::Unauthorized(_)),
            "{transport}: another secret: {:?}",
            wrong[0].outcome
        );
        let expired = probe_all(
            &ice(&relay, TURN_SECRET, &[transport]),
            chrono::Utc::now().timestamp() - 5,
            None,
        );
        assert!(
            matches!(expired[0].outcome, ProbeOutcome::Unauthorized(_)),
            "{transport}: expired: {:?}",
            expired[0].outcome
        );
    }
    // A participant who stretches its own expiry keeps the old password: refused.
    let url = IceUrl::parse(&relay.url("udp")).unwrap();
    let minted = format!("{}:petitioner", in_an_hour());
    let password = turn_password(TURN_SECRET, &minted);
    let stretched = format!("{}:petitioner", in_an_hour() + 86_400);
    assert!(matches!(
        probe(&url, &stretched, &password, None),
        ProbeOutcome::Unauthorized(_)
    ));
    assert!(matches!(
        probe(&url, &minted, &password, None),
        ProbeOutcome::Relayed { .. }
    ));
}

#[test]
fn a_denied_peer_is_403_and_a_closed_port_is_unreachable() {
    let Some(relay) = Coturn::start(CoturnOptions {
        deny_loopback_peers: true,
        ..Default::default()
    }) else {
        return;
    };
    let denied = probe_all(&ice(&relay, TURN_SECRET, &["udp"]), in_an_hour(), None);
    assert!(
        matches!(denied[0].outcome, ProbeOutcome::Forbidden(_)),
        "{:?}",
        denied[0].outcome
    );
    // A port nobody listens on: UDP gets a port-unreachable, TCP a refused connection.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    for transport in ["udp", "tcp"] {
        let url = IceUrl::parse(&format!("turn:127.0.0.1:{port}?transport={transport}")).unwrap();
        let outcome = probe(&url, "1:x", "y", None);
        assert!(
            matches!(outcome, ProbeOutcome::Unreachable(_)),
            "{transport}: {outcome:?}"
        );
    }
}

/// A participant's credentials end with the session's joining window, not hours later, and the
/// relay takes them while the window is open.
#[tokio::test]
async fn a_participants_credentials_end_with_the_sessions_window() {
    let Some(relay) = Coturn::start(CoturnOptions::default()) else {
        return;
    };
    let url = relay.url("udp");
    let app = TestApp::spawn_with(common::Backend::Sqlite, move |s| {
        s.ice.turn_urls = vec![url];
        s.ice.turn_secret = SecretString::from(TURN_SECRET.to_owned());
        s.ice.turn_ttl_seconds = 86_400;
    })
    .await
    .unwrap();
    let s = app.book_demo_session().await;
    let session = app
        .get_ok(
            &format!("/api/v1/sessions/{}", s.session_id),
            &s.officer_token,
        )
        .await;
    let ends_at = chrono::DateTime::parse_from_rfc3339(session["ends_at"].as_str().unwrap())
        .unwrap()
        .timestamp();
    let window_closes = ends_at + app.settings.auth.join_late_minutes * 60;
    let mut petitioner = ws_join(&app, s.session_id, &s.petitioner_token).await;
    let welcome = next_json(&mut petitioner).await;
    let turn = &welcome["ice_servers"][0];
    let username = turn["username"].as_str().unwrap();
    let password = turn["credential"].as_str().unwrap();
    let expiry: i64 = username.split_once(':').unwrap().0.parse().unwrap();
    assert_eq!(
        expiry, window_closes,
        "the credentials end when the joining window closes, not after the day-long TTL"
    );
    let url = IceUrl::parse(&relay.url("udp")).unwrap();
    assert!(matches!(
        probe(&url, username, password, None),
        ProbeOutcome::Relayed { .. }
    ));
}

#[test]
fn turn_and_stun_urls_are_read_as_browsers_read_them() {
    let u = IceUrl::parse("turn:turn.court.example:3478?transport=tcp").unwrap();
    assert_eq!(
        (u.turn, u.secure, u.host.as_str(), u.port, u.transport),
        (true, false, "turn.court.example", 3478, Transport::Tcp)
    );
    let u = IceUrl::parse("turns:turn.court.example").unwrap();
    assert_eq!(
        (u.secure, u.port, u.transport),
        (true, 5349, Transport::Tcp)
    );
    let u = IceUrl::parse("turn:[fd00::1]:3478").unwrap();
    assert_eq!((u.host.as_str(), u.transport), ("fd00::1", Transport::Udp));
    assert!(!IceUrl::parse("stun:10.1.2.3").unwrap().turn);
    for bad in [
        "turn://turn.court.example:3478",
        "http://turn.court.example",
        "turn:",
        "turn:host:99999",
        "turn:host:0",
        "turn:host:3478?transport=sctp",
        "turn:user@host:3478",
        "turn:host :3478",
        "stun:host?transport=udp",
        "turn.court.example:3478",
    ] {
        assert!(IceUrl::parse(bad).is_err(), "{bad} must be refused");
    }
}

fn check_config_with(overrides: &str) -> (bool, String) {
    let (code, out) = common::courtlink_with(overrides, &["check-config"], &[]);
    (code == 0, out)
}

/// A malformed TURN URL, or TURN without a secret, stops `check-config` (and so the server's
/// start) with the key named; neither ever reaches a browser.
#[test]
fn check_config_refuses_malformed_turn_settings_naming_the_key() {
    let (ok, out) = check_config_with(
        "[ice]\nturn_urls = [\"turn://turn.court.example:3478\"]\nturn_secret = \"0123456789abcdef0123\"\n",
    );
    assert!(!ok, "{out}");
    assert!(out.contains("ice.turn_urls"), "{out}");
    let (ok, out) = check_config_with("[ice]\nturn_urls = [\"turn:turn.court.example:3478\"]\n");
    assert!(!ok, "{out}");
    assert!(out.contains("ice.turn_secret"), "{out}");
    let (ok, out) = check_config_with("[ice]\nstun_urls = [\"turn:turn.court.example\"]\n");
    assert!(!ok, "{out}");
    assert!(out.contains("ice.stun_urls"), "{out}");
    let (ok, out) = check_config_with("");
    assert!(ok, "{out}");
}

/// `check-config --probe` against a real relay: success with the right secret, exit 1 naming
/// 401 with another.
#[test]
fn check_config_probe_reports_each_relay() {
    let Some(relay) = Coturn::start(CoturnOptions::default()) else {
        return;
    };
    let settings = |secret: &str| {
        format!(
            "[ice]\nturn_urls = [\"{}\", \"{}\"]\nturn_secret = \"{secret}\"\n",
            relay.url("udp"),
            relay.url("tcp")
        )
    };
    let run = |secret: &str| {
        let (code, out) =
            common::courtlink_with(&settings(secret), &["check-config", "--probe"], &[]);
        (code == 0, out)
    };
    let (ok, out) = run(TURN_SECRET);
    assert!(ok, "{out}");
    assert_eq!(
        out.matches(": ok: relayed address 127.0.0.1:").count(),
        2,
        "{out}"
    );
    let (ok, out) = run("another-secret-entirely-0123");
    assert!(!ok, "{out}");
    assert_eq!(out.matches("401 unauthorized").count(), 2, "{out}");
    assert!(out.contains("2 of 2 TURN URLs do not relay"), "{out}");
    // The probe prints no credential.
    assert!(
        !out.contains(TURN_SECRET) && !out.contains(":probe"),
        "{out}"
    );
}

/// Settings read the same way in the library: the unit of the check above.
#[test]
fn settings_validation_names_the_turn_key() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut s = Settings::load(&repo.join("config"), "default").unwrap();
    s.ice.turn_urls = vec!["turn:host:3478?transport=quic".into()];
    s.ice.turn_secret = SecretString::from("0123456789abcdef0123".to_owned());
    let err = s.validate().unwrap_err().to_string();
    assert!(err.contains("ice.turn_urls"), "{err}");
}
