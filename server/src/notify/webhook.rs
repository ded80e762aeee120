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

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Shortest and longest secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 16;
pub const MAX_SECRET_BYTES: usize = 256;
pub const MAX_URL_BYTES: usize = 2000;

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

/// Checks a webhook URL: absolute `http://`, with a host, without credentials or fragment.
pub fn check_url(url: &str) -> Result<(), &'static str> {
    if url.len() > MAX_URL_BYTES {
        return Err("the URL is too long");
    }
    let parsed = reqwest::Url::parse(url).map_err(|_| "not a valid absolute URL")?;
    match parsed.scheme() {
        "http" => {}
        "https" => {
            return Err(
                "https:// is not supported by this build (no TLS stack); use http:// on the court network",
            );
        }
        _ => return Err("the URL must start with http://"),
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("the URL names no host");
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("the URL must not carry credentials; the secret signs each delivery");
    }
    if parsed.fragment().is_some() {
        return Err("the URL must not have a fragment");
    }
    Ok(())
}

pub fn check_secret(secret: &str) -> Result<(), &'static str> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err("the secret must be at least 16 bytes");
    }
    if secret.len() > MAX_SECRET_BYTES {
        return Err("the secret must be at most 256 bytes");
    }
    Ok(())
}

/// The HTTP client for deliveries: a timeout on every request, no redirects.
pub fn client(timeout: std::time::Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("CourtLink-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// One delivery attempt. Ok on a 2xx answer; otherwise why not.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    secret: &str,
    event: &str,
    delivery_id: i64,
    body: &str,
) -> Result<(), String> {
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
            if e.is_timeout() {
                "timed out".to_owned()
            } else if e.is_connect() {
                format!("cannot connect: {e}")
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
        assert!(check_secret("short").is_err());
        assert!(check_secret(&"s".repeat(16)).is_ok());
        assert!(check_secret(&"s".repeat(257)).is_err());
    }
}
