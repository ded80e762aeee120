//! Tokens: signing and checking them.
//!
//! Tokens are JWTs pinned to HS256 with `exp`, `nbf`, `iat`, `aud`, `iss` and `sub` required.
//! Staff tokens (audience `courtlink-staff`) carry the user's role and court; join tokens
//! (audience `courtlink-join`) admit a petitioner to one session and nothing else. Neither
//! audience is accepted where the other is expected.
//!
//! Keys rotate by `kid`: tokens are signed with the current key and carry its id; the keys
//! listed in `auth.previous_keys` still verify the tokens they signed until those expire, so a
//! rotation logs nobody out early. Staff tokens carry their user's `ver` (token version): a
//! logout, a disabled account, a new password or a new role bumps it (a database trigger), and
//! every request reads the current version, so older tokens stop working at once on every
//! instance (open sockets are closed by the hub's revocation sweep). Join tokens carry their
//! session's `jv` (join version), which moves on when the join code is replaced, and a `seat`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::domain::{Role, SessionId};
use crate::error::ApiError;

pub const STAFF_AUDIENCE: &str = "courtlink-staff";
pub const JOIN_AUDIENCE: &str = "courtlink-join";
const ALGORITHM: Algorithm = Algorithm::HS256;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StaffClaims {
    pub iss: String,
    pub aud: String,
    /// The user's id.
    pub sub: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    pub role: Role,
    pub court: i64,
    pub name: String,
    /// The user's token version when this token was issued.
    pub ver: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinClaims {
    pub iss: String,
    pub aud: String,
    /// `petitioner:<session id>`.
    pub sub: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    /// The one session this token admits to.
    pub sid: SessionId,
    /// The session's join version when the token was minted: replacing the join code moves it
    /// on, and every older token stops. (Absent in tokens minted before it existed: 0.)
    #[serde(default)]
    pub jv: i64,
    /// A random id of this token: the seat it holds in the session.
    #[serde(default)]
    pub seat: String,
}

/// What `Tokens` is built from: the part of the `auth` settings (server/src/config.rs, where
/// each key is documented) that signs and checks tokens.
pub struct TokenKeys<'a> {
    pub issuer: &'a str,
    pub signing_key: &'a SecretString,
    pub signing_kid: &'a str,
    /// Keys rotated out, as (`kid`, key): they verify, and sign nothing.
    pub previous_keys: Vec<(&'a str, &'a SecretString)>,
    pub staff_token_minutes: i64,
    pub leeway_seconds: u64,
}

/// Signs and checks tokens. Built once at start-up.
pub struct Tokens {
    encoding: EncodingKey,
    kid: String,
    /// Every key that verifies, by `kid`: the current one and the previous ones.
    decoding: HashMap<String, DecodingKey>,
    issuer: String,
    leeway: u64,
    staff_minutes: i64,
}

impl Tokens {
    /// From the keys and lifetimes; the server passes its `auth` settings (`&AuthSettings`
    /// converts, server/src/auth.rs).
    pub fn new<'a>(keys: impl Into<TokenKeys<'a>>) -> Tokens {
        let keys = keys.into();
        let key = keys.signing_key.expose_secret().as_bytes();
        let mut decoding: HashMap<String, DecodingKey> = keys
            .previous_keys
            .iter()
            .map(|(kid, key)| {
                (
                    (*kid).to_owned(),
                    DecodingKey::from_secret(key.expose_secret().as_bytes()),
                )
            })
            .collect();
        decoding.insert(keys.signing_kid.to_owned(), DecodingKey::from_secret(key));
        Tokens {
            encoding: EncodingKey::from_secret(key),
            kid: keys.signing_kid.to_owned(),
            decoding,
            issuer: keys.issuer.to_owned(),
            leeway: keys.leeway_seconds,
            staff_minutes: keys.staff_token_minutes,
        }
    }

    /// A token for a user at token version 0 (benchmarks and generated users).
    pub fn issue_staff(
        &self,
        user_id: i64,
        role: Role,
        court: i64,
        name: &str,
    ) -> Result<(String, DateTime<Utc>), ApiError> {
        self.issue_staff_at(user_id, role, court, name, 0)
    }

    pub fn issue_staff_at(
        &self,
        user_id: i64,
        role: Role,
        court: i64,
        name: &str,
        ver: i64,
    ) -> Result<(String, DateTime<Utc>), ApiError> {
        let now = Utc::now();
        let exp = now + chrono::Duration::minutes(self.staff_minutes);
        let claims = StaffClaims {
            iss: self.issuer.clone(),
            aud: STAFF_AUDIENCE.into(),
            sub: user_id.to_string(),
            exp: exp.timestamp(),
            nbf: now.timestamp(),
            iat: now.timestamp(),
            role,
            court,
            name: name.to_owned(),
            ver,
        };
        Ok((self.sign(&claims)?, exp))
    }

    /// A join token at join version 0 (benchmarks and generated sessions).
    pub fn issue_join(
        &self,
        session_id: SessionId,
        until: DateTime<Utc>,
    ) -> Result<String, ApiError> {
        self.issue_join_at(session_id, until, 0)
    }

    pub fn issue_join_at(
        &self,
        session_id: SessionId,
        until: DateTime<Utc>,
        join_version: i64,
    ) -> Result<String, ApiError> {
        use rand::Rng;
        let now = Utc::now();
        let seat: [u8; 12] = rand::rngs::OsRng.r#gen();
        let claims = JoinClaims {
            iss: self.issuer.clone(),
            aud: JOIN_AUDIENCE.into(),
            sub: format!("petitioner:{session_id}"),
            exp: until.timestamp(),
            nbf: now.timestamp(),
            iat: now.timestamp(),
            sid: session_id,
            jv: join_version,
            seat: hex::encode(seat),
        };
        self.sign(&claims)
    }

    fn sign<C: Serialize>(&self, claims: &C) -> Result<String, ApiError> {
        let mut header = Header::new(ALGORITHM);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("cannot sign a token: {e}")))
    }

    pub fn verify_staff(&self, token: &str) -> Result<StaffClaims, ApiError> {
        let claims: StaffClaims = self.verify(token, STAFF_AUDIENCE)?;
        Ok(claims)
    }

    pub fn verify_join(&self, token: &str) -> Result<JoinClaims, ApiError> {
        self.verify(token, JOIN_AUDIENCE)
    }

    fn verify<C: DeserializeOwned + IssuedAt>(
        &self,
        token: &str,
        audience: &str,
    ) -> Result<C, ApiError> {
        let mut validation = Validation::new(ALGORITHM);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "aud", "iss", "sub"]);
        validation.set_audience(&[audience]);
        validation.set_issuer(&[&self.issuer]);
        validation.validate_nbf = true;
        validation.leeway = self.leeway;
        let refused =
            || ApiError::Unauthenticated("the token is missing, invalid or expired; log in again");
        // The header is read only to pick the key; `decode` checks the algorithm again.
        let kid = jsonwebtoken::decode_header(token)
            .map_err(|_| refused())?
            .kid
            .ok_or_else(refused)?;
        let key = self.decoding.get(&kid).ok_or_else(refused)?;
        let data = jsonwebtoken::decode::<C>(token, key, &validation).map_err(|_| refused())?;
        // jsonwebtoken never checks `iat`: a token issued in the future is forged or from a bad clock.
        if data.claims.iat() > Utc::now().timestamp() + self.leeway as i64 {
            return Err(ApiError::Unauthenticated(
                "the token was issued in the future",
            ));
        }
        Ok(data.claims)
    }
}

trait IssuedAt {
    fn iat(&self) -> i64;
}
impl IssuedAt for StaffClaims {
    fn iat(&self) -> i64 {
        self.iat
    }
}
impl IssuedAt for JoinClaims {
    fn iat(&self) -> i64 {
        self.iat
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn key(c: char) -> SecretString {
        SecretString::from(c.to_string().repeat(40))
    }

    /// The test keys: `k2` current, `k1` previous.
    fn keys<'a>(current: &'a SecretString, previous: &'a SecretString) -> TokenKeys<'a> {
        TokenKeys {
            issuer: "courtlink",
            signing_key: current,
            signing_kid: "k2",
            previous_keys: vec![("k1", previous)],
            staff_token_minutes: 60,
            leeway_seconds: 30,
        }
    }

    #[test]
    fn keys_rotate_by_kid_without_logging_anyone_out() {
        let (k, o) = (key('k'), key('o'));
        let old = Tokens::new(TokenKeys {
            signing_kid: "k1",
            signing_key: &o,
            previous_keys: vec![],
            ..keys(&k, &o)
        });
        let (token, _) = old.issue_staff(7, Role::Officer, 1, "x").unwrap();
        // After the rotation k1 only verifies; its tokens still work until they expire.
        let new = Tokens::new(keys(&k, &o));
        assert_eq!(new.verify_staff(&token).unwrap().sub, "7");
        let (fresh, _) = new.issue_staff(8, Role::Officer, 1, "y").unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&fresh).unwrap().kid.as_deref(),
            Some("k2")
        );
        // Once k1 is dropped from previous_keys, its tokens stop.
        let dropped = Tokens::new(TokenKeys {
            previous_keys: vec![],
            ..keys(&k, &o)
        });
        assert!(dropped.verify_staff(&token).is_err());
        assert!(dropped.verify_staff(&fresh).is_ok());
        // A token without a kid, or with an unknown one, is refused.
        let mut header = Header::new(ALGORITHM);
        header.kid = Some("k9".into());
        let claims = new.verify_staff(&fresh).unwrap();
        let forged = jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_secret("k".repeat(40).as_bytes()),
        )
        .unwrap();
        assert!(new.verify_staff(&forged).is_err());
        let no_kid = jsonwebtoken::encode(
            &Header::new(ALGORITHM),
            &claims,
            &EncodingKey::from_secret("k".repeat(40).as_bytes()),
        )
        .unwrap();
        assert!(new.verify_staff(&no_kid).is_err());
    }

    #[test]
    fn staff_token_round_trips_and_is_not_a_join_token() {
        let (k, o) = (key('k'), key('o'));
        let t = Tokens::new(keys(&k, &o));
        let (token, _) = t.issue_staff(7, Role::Officer, 1, "x").unwrap();
        let c = t.verify_staff(&token).unwrap();
        assert_eq!((c.sub.as_str(), c.role, c.court), ("7", Role::Officer, 1));
        assert!(t.verify_join(&token).is_err());
        let join = t
            .issue_join(SessionId(3), Utc::now() + chrono::Duration::minutes(5))
            .unwrap();
        assert_eq!(t.verify_join(&join).unwrap().sid, SessionId(3));
        assert!(t.verify_staff(&join).is_err());
    }
}
