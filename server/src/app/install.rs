//! A new install's first administrator (`courtlink create-first-admin`): before it, nobody can
//! sign in, and every other court, room and account is made through the administration API by
//! that administrator. Allowed only while the install has no account at all, so that it is a
//! way in for the installer and never a second door beside the administrators' own.

use crate::auth::{hash_password, name_input, new_password, username_input};
use crate::domain::{CourtLevel, Role};
use crate::error::ApiError;
use crate::store::admin::{NewAccount, Saved};
use crate::store::{Store, StoreError};

/// What the installer gives: the top court of this install (the SPC for the national install, a
/// high court for a province's) and its administrator.
pub struct FirstAdmin<'a> {
    pub court_name: &'a str,
    pub court_level: &'a str,
    pub username: &'a str,
    pub display_name: &'a str,
    pub password: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The install already has accounts: its administrators make the next ones.
    #[error(
        "this install already has {0} account(s); an administrator makes new ones in the admin page"
    )]
    AlreadyInstalled(i64),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ApiError> for InstallError {
    fn from(e: ApiError) -> Self {
        InstallError::Invalid(e.to_string())
    }
}

/// The court (found by name if it is there already) and the administrator, who must choose a
/// password of their own at the first sign-in (`must_change_password`), as for any account
/// someone else set up. Returns the court's and the user's ids.
pub async fn first_admin(store: &Store, a: &FirstAdmin<'_>) -> Result<(i64, i64), InstallError> {
    let accounts = store.user_count().await?;
    if accounts > 0 {
        return Err(InstallError::AlreadyInstalled(accounts));
    }
    let court_name = name_input("court_name", a.court_name, 64)?;
    let level: CourtLevel = a.court_level.parse().map_err(|_| {
        InstallError::Invalid(format!(
            "court_level: one of supreme, high, intermediate, basic (got {:?})",
            a.court_level
        ))
    })?;
    let username = username_input(a.username)?;
    let display_name = name_input("display_name", a.display_name, 64)?;
    new_password(a.password, &[&username, &display_name])?;
    let password_hash =
        hash_password(a.password).map_err(|e| InstallError::Invalid(e.to_string()))?;
    let existing = match store.court_by_name(&court_name).await? {
        Some(id) => Some(store.court(id).await?),
        None => None,
    };
    let court = match existing {
        Some(c) if c.level == level => c.id,
        Some(c) => {
            return Err(InstallError::Invalid(format!(
                "court_name: {court_name} is already here as a {} court",
                c.level
            )));
        }
        None => {
            store
                .insert_court(&court_name, level.as_str(), None)
                .await?
        }
    };
    let account = NewAccount {
        court_id: court,
        username: &username,
        display_name: &display_name,
        role: Role::Admin,
        password_hash: &password_hash,
    };
    match store.admin_create_user(&account, "installer").await? {
        Saved::Done(id) => Ok((court, id)),
        Saved::Taken => Err(InstallError::Invalid("username: taken".into())),
    }
}
