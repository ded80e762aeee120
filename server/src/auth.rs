//! Tokens and passwords.
//!
//! Tokens are JWTs pinned to HS256 with `exp`, `nbf`, `iat`, `aud`, `iss` and `sub` required.
//! Staff tokens (audience `courtlink-staff`) carry the user's role and court; join tokens
//! (audience `courtlink-join`) admit a petitioner to one session and nothing else. Neither
//! audience is accepted where the other is expected.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::config::AuthSettings;
use crate::domain::Role;
use crate::error::ApiError;
use crate::startup::AppState;

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
    pub sid: i64,
}

/// Signs and checks tokens. Built once at start-up.
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    issuer: String,
    leeway: u64,
    staff_minutes: i64,
}

impl Tokens {
    pub fn new(settings: &AuthSettings) -> Tokens {
        let key = settings.signing_key.expose_secret().as_bytes();
        Tokens {
            encoding: EncodingKey::from_secret(key),
            decoding: DecodingKey::from_secret(key),
            issuer: settings.issuer.clone(),
            leeway: settings.leeway_seconds,
            staff_minutes: settings.staff_token_minutes,
        }
    }

    pub fn issue_staff(
        &self,
        user_id: i64,
        role: Role,
        court: i64,
        name: &str,
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
        };
        Ok((self.sign(&claims)?, exp))
    }

    pub fn issue_join(&self, session_id: i64, until: DateTime<Utc>) -> Result<String, ApiError> {
        let now = Utc::now();
        let claims = JoinClaims {
            iss: self.issuer.clone(),
            aud: JOIN_AUDIENCE.into(),
            sub: format!("petitioner:{session_id}"),
            exp: until.timestamp(),
            nbf: now.timestamp(),
            iat: now.timestamp(),
            sid: session_id,
        };
        self.sign(&claims)
    }

    fn sign<C: Serialize>(&self, claims: &C) -> Result<String, ApiError> {
        jsonwebtoken::encode(&Header::new(ALGORITHM), claims, &self.encoding)
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
        let data = jsonwebtoken::decode::<C>(token, &self.decoding, &validation).map_err(|_| {
            ApiError::Unauthenticated("the token is missing, invalid or expired; log in again")
        })?;
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

/// The argon2id hash of a password, in PHC string form.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash a password: {e}"))
}

/// Checks a password against a stored hash. CPU-heavy: call it off the async workers.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// An authenticated staff member, from `Authorization: Bearer <token>`.
#[derive(Debug, Clone)]
pub struct Staff {
    pub user_id: i64,
    pub role: Role,
    pub court_id: i64,
    pub name: String,
}

impl Staff {
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::Forbidden("your role may not do this"))
        }
    }
}

pub fn bearer(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

impl FromRequest for Staff {
    type Error = ApiError;
    type Future = Ready<Result<Staff, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready((|| {
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no application state")))?;
            let token = bearer(req).ok_or(ApiError::Unauthenticated("log in first"))?;
            let claims = state.tokens.verify_staff(token)?;
            let user_id = claims
                .sub
                .parse()
                .map_err(|_| ApiError::Unauthenticated("the token names no user"))?;
            Ok(Staff {
                user_id,
                role: claims.role,
                court_id: claims.court,
                name: claims.name,
            })
        })())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn tokens() -> Tokens {
        Tokens::new(&AuthSettings {
            issuer: "courtlink".into(),
            signing_key: SecretString::from("k".repeat(40)),
            staff_token_minutes: 60,
            leeway_seconds: 30,
            join_early_minutes: 30,
            join_late_minutes: 90,
            max_failed_logins: 5,
            lockout_minutes: 15,
            login_attempts_per_minute: 30,
        })
    }

    #[test]
    fn staff_token_round_trips_and_is_not_a_join_token() {
        let t = tokens();
        let (token, _) = t.issue_staff(7, Role::Officer, 1, "x").unwrap();
        let c = t.verify_staff(&token).unwrap();
        assert_eq!((c.sub.as_str(), c.role, c.court), ("7", Role::Officer, 1));
        assert!(t.verify_join(&token).is_err());
        let join = t
            .issue_join(3, Utc::now() + chrono::Duration::minutes(5))
            .unwrap();
        assert_eq!(t.verify_join(&join).unwrap().sid, 3);
        assert!(t.verify_staff(&join).is_err());
    }

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correct horse").unwrap();
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a hash"));
    }
}

/// A petitioner, from `Authorization: Bearer <join token>`: admitted to one session only.
#[derive(Debug, Clone)]
pub struct Petitioner {
    pub session_id: i64,
}

impl FromRequest for Petitioner {
    type Error = ApiError;
    type Future = Ready<Result<Petitioner, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready((|| {
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no application state")))?;
            let token =
                bearer(req).ok_or(ApiError::Unauthenticated("join with your code first"))?;
            let claims = state.tokens.verify_join(token)?;
            Ok(Petitioner {
                session_id: claims.sid,
            })
        })())
    }
}

/// Either kind of caller, for what both staff and the petitioner may read.
#[derive(Debug, Clone)]
pub enum Caller {
    Staff(Staff),
    Petitioner(Petitioner),
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Caller, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        use std::future::Future;
        use std::task::{Context, Poll, Waker};
        // Both extractors are ready at once; poll each a single time.
        let mut cx = Context::from_waker(Waker::noop());
        let mut staff = Staff::from_request(req, payload);
        if let Poll::Ready(Ok(s)) = std::pin::Pin::new(&mut staff).poll(&mut cx) {
            return ready(Ok(Caller::Staff(s)));
        }
        let mut petitioner = Petitioner::from_request(req, payload);
        match std::pin::Pin::new(&mut petitioner).poll(&mut cx) {
            Poll::Ready(Ok(p)) => ready(Ok(Caller::Petitioner(p))),
            _ => ready(Err(ApiError::Unauthenticated(
                "the token is missing, invalid or expired",
            ))),
        }
    }
}

/// Login attempts per address in the current minute (per instance: a coarse brake on guessing;
/// the per-account lockout in the store is the real guard and holds across instances).
#[derive(Default)]
pub struct AttemptsByAddress(
    std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, (std::time::Instant, u32)>>,
);

impl AttemptsByAddress {
    /// Counts an attempt; false when the address has used up its minute.
    pub fn allow(&self, address: std::net::IpAddr, per_minute: u32) -> bool {
        let now = std::time::Instant::now();
        let minute = std::time::Duration::from_secs(60);
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 10_000 {
            map.retain(|_, (start, _)| now.duration_since(*start) < minute);
        }
        let entry = map.entry(address).or_insert((now, 0));
        if now.duration_since(entry.0) >= minute {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= per_minute
    }
}
