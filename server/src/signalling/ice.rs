//! ICE servers for a participant: the configured STUN URLs, and TURN URLs with credentials minted
//! per participant in coturn's `use-auth-secret` convention: username `<expiry>:<id>`, password
//! base64(HMAC-SHA1(secret, username)).
//!
//! The credentials expire when the session's joining window closes (`auth.join_late_minutes`
//! after its end), and never later than `ice.turn_ttl_seconds` from now: a credential copied out
//! of a browser cannot relay traffic for hours after the reception. coturn checks the expiry on
//! every allocation and refresh, so an allocation made with it ends with the window too.

use base64::Engine;
use hmac::{Hmac, Mac};
use secrecy::ExposeSecret;
use sha1::Sha1;

use super::protocol::IceServer;
use crate::config::IceSettings;

/// Shortest life of minted credentials, so that a socket opened at the window's last moment can
/// still gather its relay candidates.
const MIN_LIFETIME_SECONDS: i64 = 60;

pub fn servers_for(
    settings: &IceSettings,
    participant_id: &str,
    now_unix: i64,
    window_closes_unix: i64,
) -> Vec<IceServer> {
    let mut servers = Vec::new();
    if !settings.stun_urls.is_empty() {
        servers.push(IceServer {
            urls: settings.stun_urls.clone(),
            username: None,
            credential: None,
        });
    }
    if !settings.turn_urls.is_empty() {
        let expires = (now_unix + settings.turn_ttl_seconds)
            .min(window_closes_unix)
            .max(now_unix + MIN_LIFETIME_SECONDS);
        let username = format!("{expires}:{participant_id}");
        servers.push(IceServer {
            urls: settings.turn_urls.clone(),
            credential: Some(turn_password(
                settings.turn_secret.expose_secret(),
                &username,
            )),
            username: Some(username),
        });
    }
    servers
}

pub fn turn_password(secret: &str, username: &str) -> String {
    // HMAC takes a key of any length, so building it cannot fail.
    let mut mac =
        <Hmac<Sha1> as Mac>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coturn_credentials() {
        // Computed independently: printf '1433895918:1' | openssl dgst -sha1 -hmac north -binary | base64
        assert_eq!(
            turn_password("north", "1433895918:1"),
            "FVvRuEpfqU2aWPC2GTK78NIG77I="
        );
    }

    #[test]
    fn servers_carry_expiring_usernames() {
        let s = IceSettings {
            stun_urls: vec!["stun:stun.court.example:3478".into()],
            turn_urls: vec!["turn:turn.court.example:3478?transport=udp".into()],
            turn_secret: secrecy::SecretString::from("north".to_owned()),
            turn_ttl_seconds: 3600,
        };
        let v = servers_for(&s, "petitioner", 1000, 1_000_000);
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].username.as_deref(), Some("4600:petitioner"));
        assert!(v[1].credential.is_some());
        // The window closes before the TTL would run out: the credentials end with the window.
        let v = servers_for(&s, "petitioner", 1000, 1900);
        assert_eq!(v[1].username.as_deref(), Some("1900:petitioner"));
        // A window that has closed still leaves a minute to gather candidates, no more.
        let v = servers_for(&s, "petitioner", 1000, 500);
        assert_eq!(v[1].username.as_deref(), Some("1060:petitioner"));
    }
}
