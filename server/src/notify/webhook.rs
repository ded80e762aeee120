//! Signed webhooks: what a receiver gets, and how it checks it.
//!
//! Each delivery is a `POST` of a JSON body `{"event", "event_id", "created_at", "data"}` with
//! - `X-CourtLink-Event`: the event, e.g. `booking.created`;
//! - `X-CourtLink-Delivery`: the delivery's id, the same on every retry (deduplicate on it);
//! - `X-CourtLink-Timestamp`: the unix time of this attempt;
//! - `X-CourtLink-Signature`: `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
//!
//! A receiver recomputes the HMAC over the raw body, compares in constant time, and refuses a
//! timestamp more than a few minutes from its clock. Any 2xx answer counts as delivered.
//! Redirects are not followed.
//!
//! Receivers are on the court intranet and reached over plain `http://`: this build carries no
//! TLS stack, so an `https://` URL is refused at registration with that reason rather than
//! accepted and failed at every delivery. (The body is signed, not encrypted.)
//!
//! A webhook must not turn the server into a way in to itself or its machine: a receiver on a
//! loopback, link-local (169.254.0.0/16, fe80::/10, where cloud metadata services answer) or
//! unspecified address is refused, at registration when the URL names such an address (or
//! `localhost`), and at every delivery for the addresses a name resolves to then (so a name
//! that later resolves to 127.0.0.1, DNS rebinding, reaches nothing). The delivery connects
//! only to the addresses it checked, and never through a proxy. Hosts named in
//! `notifications.webhook_allowed_hosts` are exempt (e.g. a receiver on the same machine).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha2::Sha256;

// What a webhook may be registered with (its URL and secret) is checked in the parsers crate.
pub use courtlink_parsers::webhook::{
    MAX_SECRET_BYTES, MAX_URL_BYTES, MIN_SECRET_BYTES, check_secret, check_url,
};

/// The `X-CourtLink-Signature` value for `body` sent at unix time `t`.
pub fn signature(secret: &str, t: i64, body: &str) -> String {
    format!("t={t},v1={}", sign_hex(secret, t, body))
}

fn sign_hex(secret: &str, t: i64, body: &str) -> String {
    // HMAC takes a key of any length.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Checks a signature header as a receiver would: right HMAC, and `t` within `tolerance`
/// seconds of `now`.
pub fn verify(secret: &str, header: &str, body: &str, now: i64, tolerance: i64) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1 = hex::decode(v).ok(),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    if (now - t).abs() > tolerance {
        return false;
    }
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    mac.verify_slice(&v1).is_ok()
}

/// Whether a webhook may not reach `ip` unless its host is allowed by name: loopback,
/// link-local, unspecified (with the rest of 0.0.0.0/8, which reaches this machine), broadcast
/// and multicast, also when written as an IPv4-mapped IPv6 address.
pub fn forbidden_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            a.is_loopback()
                || a.is_link_local()
                || a.octets()[0] == 0
                || a.is_broadcast()
                || a.is_multicast()
        }
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => forbidden_address(IpAddr::V4(v4)),
            None => {
                a.is_loopback()
                    || a.is_unspecified()
                    || (a.segments()[0] & 0xffc0) == 0xfe80
                    || a.is_multicast()
            }
        },
    }
}

/// The hosts a webhook may reach although they are (or resolve to) forbidden addresses
/// (`notifications.webhook_allowed_hosts`): names lower-cased, addresses in canonical form.
#[derive(Debug, Clone, Default)]
pub struct AllowedHosts(Vec<String>);

impl AllowedHosts {
    /// From the setting's entries (each a host name or an IP address, checked by
    /// [`check_allowed_host`]).
    pub fn new(entries: &[String]) -> AllowedHosts {
        AllowedHosts(entries.iter().map(|e| canonical_host(e)).collect())
    }

    pub fn allows(&self, host: &str) -> bool {
        let host = canonical_host(host);
        self.0.contains(&host)
    }
}

/// A host as compared with the allow-list: an address in canonical form (without brackets),
/// a name lower-cased without a trailing dot.
fn canonical_host(host: &str) -> String {
    let bare = host.trim().trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.to_string(),
        Err(_) => bare.trim_end_matches('.').to_ascii_lowercase(),
    }
}

/// Checks one entry of `notifications.webhook_allowed_hosts`: a host name or an IP address,
/// without scheme, port or path.
pub fn check_allowed_host(entry: &str) -> Result<(), String> {
    let bare = entry.trim();
    if bare.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    let parsed = reqwest::Url::parse(&format!("http://{bare}/"));
    match parsed {
        Ok(u)
            if !bare.is_empty()
                && u.port().is_none()
                && u.path() == "/"
                && u.host_str().is_some_and(|h| {
                    h.eq_ignore_ascii_case(bare.trim_end_matches('.'))
                        || h.eq_ignore_ascii_case(bare)
                }) =>
        {
            Ok(())
        }
        _ => Err(format!(
            "'{entry}' is not a host name or an IP address (no scheme, port or path)"
        )),
    }
}

/// Checks where a webhook URL (already accepted by [`check_url`]) points: not at a forbidden
/// address nor at `localhost`, unless its host is allowed. A name is checked again at every
/// delivery, for the addresses it resolves to then.
pub fn check_target(url: &str, allowed: &AllowedHosts) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|_| "not a valid absolute URL".to_owned())?;
    let Some(host_text) = parsed.host_str().filter(|h| !h.is_empty()) else {
        return Err("the URL names no host".into());
    };
    if allowed.allows(host_text) {
        return Ok(());
    }
    // The URL parser has put an address in its canonical form (`2130706433` is 127.0.0.1).
    let bare = host_text.trim_start_matches('[').trim_end_matches(']');
    let refused = match bare.parse::<IpAddr>() {
        Ok(ip) => forbidden_address(ip),
        Err(_) => {
            let d = bare.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
    };
    if refused {
        Err(format!(
            "{host_text} is a loopback, link-local or unspecified address; a webhook may reach \
             it only if the server's notifications.webhook_allowed_hosts names it"
        ))
    } else {
        Ok(())
    }
}

/// Resolves delivery host names, keeping only the addresses a webhook may reach (all of them
/// for an allowed host): the connection goes to an address checked here, so a name cannot
/// pass one look-up and then connect to another.
struct GuardedResolver {
    allowed: Arc<AllowedHosts>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        let allowed = self.allowed.clone();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if allowed.allows(&host) {
                return Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs);
            }
            let (ok, refused): (Vec<SocketAddr>, Vec<SocketAddr>) =
                addrs.into_iter().partition(|a| !forbidden_address(a.ip()));
            if ok.is_empty() {
                let shown: Vec<String> = refused.iter().map(|a| a.ip().to_string()).collect();
                return Err(format!(
                    "refused: {host} resolves to {} (loopback, link-local or unspecified), \
                     and notifications.webhook_allowed_hosts does not name it",
                    shown.join(", ")
                )
                .into());
            }
            Ok(Box::new(ok.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The HTTP client for deliveries: a timeout on every request, no redirects, no proxy, and a
/// resolver that keeps forbidden addresses out unless the host is in `allowed`.
pub fn client(
    timeout: std::time::Duration,
    allowed: &AllowedHosts,
) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver {
            allowed: Arc::new(allowed.clone()),
        }))
        .user_agent(concat!("CourtLink-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// One delivery attempt. Ok on a 2xx answer; otherwise why not.
/// A URL naming an address is refused here (the resolver sees only names); the check is
/// repeated at each attempt so that the current allow-list decides.
pub async fn post(
    client: &reqwest::Client,
    allowed: &AllowedHosts,
    url: &str,
    secret: &str,
    event: &str,
    delivery_id: i64,
    body: &str,
) -> Result<(), String> {
    check_target(url, allowed).map_err(|e| format!("refused: {e}"))?;
    let t = chrono::Utc::now().timestamp();
    let res = client
        .post(url)
        .header("Content-Type", "application/json")
        .header("X-CourtLink-Event", event)
        .header("X-CourtLink-Delivery", delivery_id.to_string())
        .header("X-CourtLink-Timestamp", t.to_string())
        .header("X-CourtLink-Signature", signature(secret, t, body))
        .body(body.to_owned())
        .send()
        .await
        .map_err(|e| {
            // The resolver's refusal is in the cause chain, which reqwest does not print.
            let mut causes = String::new();
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                causes.push_str(&format!(": {c}"));
                cause = c.source();
            }
            if e.is_timeout() {
                "timed out".to_owned()
            } else if e.is_connect() {
                format!("cannot connect: {e}{causes}")
            } else {
                format!("request failed: {e}")
            }
        })?;
    let status = res.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("answered {}", status.as_u16()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_vector_and_verifies() {
        // HMAC-SHA256("key", "1700000000.{}") computed independently.
        let sig = signature("key", 1_700_000_000, "{}");
        assert_eq!(
            sig,
            "t=1700000000,v1=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
        );
        assert!(verify("key", &sig, "{}", 1_700_000_010, 300));
        assert!(!verify("key", &sig, "{} ", 1_700_000_010, 300));
        assert!(!verify("other", &sig, "{}", 1_700_000_010, 300));
        assert!(!verify("key", &sig, "{}", 1_700_001_000, 300));
        assert!(!verify("key", "v1=00", "{}", 1_700_000_000, 300));
    }

    #[test]
    fn urls_and_secrets_are_checked() {
        assert!(check_url("http://10.1.2.3:8080/hook").is_ok());
        assert!(check_url("http://hooks.court.example/courtlink?x=1").is_ok());
        assert!(
            check_url("https://hooks.court.example/")
                .unwrap_err()
                .contains("TLS")
        );
        assert!(check_url("ftp://hooks.court.example/").is_err());
        assert!(check_url("javascript:alert(1)").is_err());
        assert!(check_url("/relative").is_err());
        assert!(check_url("http://user:pw@host/").is_err());
        assert!(check_url("http://host/#frag").is_err());
        let none = AllowedHosts::default();
        for bad in [
            "http://127.0.0.1:8080/hook",
            "http://127.8.9.10/",
            "http://0.0.0.0:9/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]:8080/",
            "http://[::]/",
            "http://[fe80::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://localhost:8080/",
            "http://LocalHost./",
            "http://api.localhost/",
            "http://2130706433/",
        ] {
            assert!(check_target(bad, &none).is_err(), "{bad}");
        }
        for good in ["http://10.1.2.3:8080/hook", "http://hooks.court.example/"] {
            assert!(check_target(good, &none).is_ok(), "{good}");
        }
        let some = AllowedHosts::new(&["127.0.0.1".into(), "LocalHost".into(), "::1".into()]);
        assert!(check_target("http://127.0.0.1:8080/hook", &some).is_ok());
        assert!(check_target("http://localhost:8080/hook", &some).is_ok());
        assert!(check_target("http://[::1]:8080/hook", &some).is_ok());
        assert!(check_target("http://127.0.0.2:8080/hook", &some).is_err());
        assert!(check_allowed_host("hooks.internal").is_ok());
        assert!(check_allowed_host("10.0.0.1").is_ok());
        assert!(check_allowed_host("::1").is_ok());
        assert!(check_allowed_host("http://x/").is_err());
        assert!(check_allowed_host("x:80").is_err());
        assert!(check_allowed_host("").is_err());
        assert!(check_secret("short").is_err());
        assert!(check_secret(&"s".repeat(16)).is_ok());
        assert!(check_secret(&"s".repeat(257)).is_err());
    }
}
