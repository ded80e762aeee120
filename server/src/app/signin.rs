//! Signing in once a day (issue 21): a login starts a refresh-token family that lasts
//! `auth.refresh_token_hours`; the short staff token (`auth.staff_token_minutes`) is renewed
//! with it, and each renewal rotates it. Revocation stays immediate: a family is worth nothing
//! once its user's token version has moved on (a logout, a disabled account, a new password,
//! role or court), and a used token presented again revokes its family (reuse detection).
//! docs/security.md says why the token rides in an HttpOnly cookie.

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

use crate::domain::UserId;
use crate::error::{ApiError, ErrorCode};
use crate::store::refresh::Presented;
use crate::store::{Store, StoreError, UserRow};

/// A refresh token as it travels: 32 random bytes, hex.
fn new_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// What is stored of a token.
fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A refresh token and the end of its family.
pub struct Refresh {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// Starts a family for a user who has just proved their password, at token version `ver`.
pub async fn start(
    store: &Store,
    user_id: UserId,
    ver: i64,
    hours: i64,
    at: DateTime<Utc>,
) -> Result<Refresh, ApiError> {
    let token = new_token();
    let expires_at = at + Duration::hours(hours);
    let family = hex::encode(rand::random::<[u8; 16]>());
    store
        .issue_refresh(user_id, &family, &digest(&token), ver, expires_at, at)
        .await?;
    Ok(Refresh { token, expires_at })
}

fn signed_out(message: &str) -> ApiError {
    ApiError::SignedOut {
        code: ErrorCode::SignedOut,
        message: message.into(),
    }
}

/// A renewal: the user as the database has them now, their token version, and the family's
/// next token.
pub struct Renewed {
    pub user: UserRow,
    pub ver: i64,
    pub refresh: Refresh,
}

/// Exchanges a presented refresh token for the next one of its family, if it is still worth
/// anything. 401 `signed_out` (unknown, expired, or its user's tokens revoked since) or
/// `refresh_reused` (presented before: the family is revoked).
pub async fn renew(store: &Store, presented: &str, at: DateTime<Utc>) -> Result<Renewed, ApiError> {
    let next = new_token();
    let (user_id, ver, expires_at) = match store
        .rotate_refresh(&digest(presented), &digest(&next), at)
        .await?
    {
        Presented::Rotated {
            user_id,
            ver,
            expires_at,
        } => (user_id, ver, expires_at),
        Presented::Unknown => {
            return Err(signed_out(
                "this sign-in is not known (or was ended); log in again",
            ));
        }
        Presented::Expired => return Err(signed_out("this sign-in's day is over; log in again")),
        Presented::Reused => {
            tracing::warn!("a used refresh token was presented again: its sign-in is revoked");
            return Err(ApiError::SignedOut {
                code: ErrorCode::RefreshReused,
                message:
                    "this sign-in was used from somewhere else, so it has been ended; log in again"
                        .into(),
            });
        }
    };
    let user = match store.user_by_id(user_id).await {
        Ok(u) => u,
        Err(StoreError::NotFound) => return Err(signed_out("log in again")),
        Err(e) => return Err(e.into()),
    };
    if user.disabled || store.token_version(user_id).await? != Some(ver) {
        store.revoke_refresh(&digest(&next)).await?;
        return Err(signed_out(
            "you have been logged out (or the account changed); log in again",
        ));
    }
    Ok(Renewed {
        user,
        ver,
        refresh: Refresh {
            token: next,
            expires_at,
        },
    })
}

/// Ends the family of a presented token (a logout).
pub async fn end(store: &Store, presented: &str) -> Result<(), ApiError> {
    store.revoke_refresh(&digest(presented)).await?;
    Ok(())
}
