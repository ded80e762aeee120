//! The one rule for a password someone sets. (Hashing and checking a password at login are the
//! server's: `courtlink::auth`.)

use crate::error::{ApiError, ErrorCode};

/// The shortest password anyone may set, in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// The longest, in bytes (login refuses longer ones).
pub const MAX_PASSWORD_BYTES: usize = 256;
/// The zxcvbn score (0 to 4) a new password must reach: 3 is "safely unguessable", more than
/// 10^8 guesses by zxcvbn's estimate, which takes the common passwords, names, keyboard walks,
/// dates and repeats into account. Argon2 slows each guess; the login limits slow them further.
const MIN_PASSWORD_SCORE: u8 = 3;

/// The one rule for a password someone sets (an administrator for an account, or its owner):
/// long enough, not too long, and not guessable, `personal` (the username, the name) counting
/// as known to an attacker.
pub fn new_password(password: &str, personal: &[&str]) -> Result<(), ApiError> {
    if password.chars().count() < MIN_PASSWORD_CHARS || password.len() > MAX_PASSWORD_BYTES {
        return Err(ApiError::invalid(format!(
            "password: at least {MIN_PASSWORD_CHARS} characters (and at most {MAX_PASSWORD_BYTES} bytes)"
        )));
    }
    let score = u8::from(zxcvbn::zxcvbn(password, personal).score());
    if score < MIN_PASSWORD_SCORE {
        return Err(ApiError::Unprocessable {
            code: ErrorCode::WeakPassword,
            message: format!(
                "password: too easy to guess (strength {score} of 4, at least {MIN_PASSWORD_SCORE} needed); \
                 use several unrelated words, or a longer mix"
            ),
        });
    }
    Ok(())
}
