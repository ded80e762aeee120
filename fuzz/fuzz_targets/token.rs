//! The token checks (`Tokens::verify_staff`, `Tokens::verify_join`) with fixed test settings.
//!
//! The first byte picks how the rest becomes a token:
//! - 0: the rest is the token, as text;
//! - 1: the rest is `key, header JSON, 0xFF, claims JSON`; the target encodes both and signs
//!   them with the current key (`k2`), the previous key (`k1`), a wrong key or nothing, so the
//!   fuzzer works on the header and the claims instead of being stopped by the signature;
//! - 2: the rest is a list of byte edits applied to a freshly issued valid token;
//! - 3: the rest gives a user, role, court, name and version: issued tokens must verify, each
//!   for its own audience only.
//!
//! Properties: never panics; every refusal is `unauthenticated`; an accepted token has three
//! parts, a header with `alg` HS256 and a `kid` of a configured key, a signature that is the
//! HMAC-SHA256 of its first two parts under that key (checked here, independently of
//! jsonwebtoken), claims with `exp`, `nbf`, `iat`, `aud`, `iss` and `sub`, the right audience
//! and issuer, not expired, not before its time, not issued in the future; and the claims
//! returned are the claims in the token.

#![no_main]

use std::sync::LazyLock;

use base64::Engine;
use base64::alphabet::URL_SAFE;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use chrono::Utc;
use courtlink_parsers::domain::{Role, SessionId};
use courtlink_parsers::error::ApiError;
use courtlink_parsers::tokens::{JOIN_AUDIENCE, STAFF_AUDIENCE, TokenKeys, Tokens};
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;
use serde::Serialize;
use serde_json::Value;
use sha2::Sha256;

const CURRENT: &[u8] = b"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk";
const PREVIOUS: &[u8] = b"oooooooooooooooooooooooooooooooooooooooo";
const WRONG: &[u8] = b"wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww";
const ISSUER: &str = "courtlink";
const LEEWAY: i64 = 30;
/// The clock moves while a run checks a token: allow it a few seconds.
const SLACK: i64 = 5;

static CURRENT_KEY: LazyLock<SecretString> =
    LazyLock::new(|| SecretString::from(String::from_utf8_lossy(CURRENT).into_owned()));
static PREVIOUS_KEY: LazyLock<SecretString> =
    LazyLock::new(|| SecretString::from(String::from_utf8_lossy(PREVIOUS).into_owned()));

static TOKENS: LazyLock<Tokens> = LazyLock::new(|| {
    Tokens::new(TokenKeys {
        issuer: ISSUER,
        signing_key: &CURRENT_KEY,
        signing_kid: "k2",
        previous_keys: vec![("k1", &PREVIOUS_KEY)],
        staff_token_minutes: 60,
        leeway_seconds: LEEWAY as u64,
    })
});

/// Decodes what jsonwebtoken might: either padding, any trailing bits.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => {
            if let Ok(token) = std::str::from_utf8(rest) {
                verify_both(token);
            }
        }
        1 => signed(rest),
        2 => edited(rest),
        _ => round_trip(rest),
    }
});

fn sign(key: &[u8], header: &[u8], claims: &[u8]) -> String {
    let head = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(head.as_bytes());
    format!(
        "{head}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

fn signed(rest: &[u8]) {
    let Some((&key, rest)) = rest.split_first() else {
        return;
    };
    let (header, claims) = match rest.iter().position(|&b| b == 0xFF) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let token = match key % 4 {
        0 => sign(CURRENT, header, claims),
        1 => sign(PREVIOUS, header, claims),
        2 => sign(WRONG, header, claims),
        _ => {
            let t = sign(CURRENT, header, claims);
            t[..=t.rfind('.').unwrap_or(0)].to_owned()
        }
    };
    verify_both(&token);
}

fn edited(rest: &[u8]) {
    let Some((&which, edits)) = rest.split_first() else {
        return;
    };
    let token = if which % 2 == 0 {
        TOKENS
            .issue_staff_at(7, Role::Officer, 1, "法官", 3)
            .expect("issues")
            .0
    } else {
        TOKENS
            .issue_join(SessionId(42), Utc::now() + chrono::Duration::minutes(30))
            .expect("issues")
    };
    let mut bytes = token.into_bytes();
    for edit in edits.chunks_exact(3) {
        let at = usize::from(edit[1]) % (bytes.len() + 1);
        match edit[0] % 3 {
            0 if at < bytes.len() => bytes[at] = edit[2],
            1 => bytes.insert(at, edit[2]),
            _ if at < bytes.len() => {
                bytes.remove(at);
            }
            _ => {}
        }
    }
    if let Ok(token) = String::from_utf8(bytes) {
        verify_both(&token);
    }
}

fn verify_both(token: &str) {
    match TOKENS.verify_staff(token) {
        Ok(claims) => genuine(token, STAFF_AUDIENCE, &claims),
        Err(e) => refused(&e),
    }
    match TOKENS.verify_join(token) {
        Ok(claims) => genuine(token, JOIN_AUDIENCE, &claims),
        Err(e) => refused(&e),
    }
}

fn refused(e: &ApiError) {
    assert_eq!(e.code().as_str(), "unauthenticated", "{e:?}");
}

/// Checks an accepted token by hand, without jsonwebtoken.
fn genuine(token: &str, audience: &str, returned: &impl Serialize) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "accepted {token:?}");
    let decode = |part: &str| {
        LENIENT
            .decode(part)
            .unwrap_or_else(|e| panic!("accepted {token:?} with a part that is not base64: {e}"))
    };
    let header: Value = serde_json::from_slice(&decode(parts[0])).expect("header is JSON");
    assert_eq!(header["alg"], "HS256", "accepted {header}");
    let key = match header["kid"].as_str() {
        Some("k2") => CURRENT,
        Some("k1") => PREVIOUS,
        other => panic!("accepted a token with kid {other:?}"),
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
    assert!(
        mac.verify_slice(&decode(parts[2])).is_ok(),
        "accepted {token:?}, not signed by its key"
    );
    let claims: Value = serde_json::from_slice(&decode(parts[1])).expect("claims are JSON");
    for required in ["exp", "nbf", "iat", "aud", "iss", "sub"] {
        assert!(
            claims.get(required).is_some_and(|v| !v.is_null()),
            "accepted claims without {required}: {claims}"
        );
    }
    assert_eq!(claims["iss"], ISSUER, "{claims}");
    assert_eq!(claims["aud"], audience, "{claims}");
    let now = Utc::now().timestamp();
    let time = |name: &str| {
        claims[name]
            .as_i64()
            .unwrap_or_else(|| panic!("accepted {name} = {}", claims[name]))
    };
    assert!(time("exp") >= now - LEEWAY - SLACK, "expired: {claims}");
    assert!(
        time("nbf") <= now + LEEWAY + SLACK,
        "not yet valid: {claims}"
    );
    assert!(
        time("iat") <= now + LEEWAY + SLACK,
        "issued in the future: {claims}"
    );
    let returned = serde_json::to_value(returned).expect("claims serialise");
    for (name, value) in returned.as_object().expect("claims are an object") {
        // Claims added later (a join token's `jv` and `seat`) read as their default when a token
        // minted before them lacks them: 0 and "", which no newer token carries.
        let defaulted = claims.get(name).is_none()
            && matches!(name.as_str(), "jv" | "seat")
            && (value == &Value::from(0) || value == &Value::from(""));
        assert!(
            defaulted || claims.get(name) == Some(value),
            "claim {name} of {claims}"
        );
    }
}

fn round_trip(rest: &[u8]) {
    if rest.len() < 25 {
        return;
    }
    let int = |at: usize| i64::from_le_bytes(rest[at..at + 8].try_into().unwrap_or([0; 8]));
    let (user, court, ver) = (int(0), int(8), int(16));
    let role = Role::ALL[usize::from(rest[24]) % Role::ALL.len()];
    let name = String::from_utf8_lossy(&rest[25..]);
    let (token, _) = TOKENS
        .issue_staff_at(user, role, court, &name, ver)
        .expect("a staff token is issued");
    let claims = TOKENS
        .verify_staff(&token)
        .unwrap_or_else(|e| panic!("own staff token refused: {e:?}"));
    assert_eq!(claims.sub, user.to_string());
    assert_eq!(
        (claims.role, claims.court, claims.name.as_str(), claims.ver),
        (role, court, &*name, ver)
    );
    assert!(TOKENS.verify_join(&token).is_err(), "a staff token joined");

    let until = Utc::now() + chrono::Duration::minutes(1 + court.rem_euclid(1440));
    let join = TOKENS
        .issue_join(SessionId(user), until)
        .expect("a join token is issued");
    let claims = TOKENS
        .verify_join(&join)
        .unwrap_or_else(|e| panic!("own join token refused: {e:?}"));
    assert_eq!(claims.sid, SessionId(user));
    assert!(
        TOKENS.verify_staff(&join).is_err(),
        "a join token passed as staff"
    );
}
