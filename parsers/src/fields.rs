//! Checks of single fields that several bodies share: free texts, reasons, days and preferred
//! time ranges. Each refuses with 422 `invalid_input` and names the field.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::bodies::TimeRange;
use crate::error::ApiError;

/// A free text of an application (its reason, a note): the rule of [`bounded`], where the
/// caller keeps the text as given.
pub fn check_text(field: &str, text: &str, max: usize) -> Result<(), ApiError> {
    bounded(text, max, field).map(drop)
}

/// The preferred ranges, checked as of `at` (the application's clock).
pub fn check_preferred_at(preferred: &[TimeRange], at: DateTime<Utc>) -> Result<(), ApiError> {
    if preferred.is_empty() || preferred.len() > 10 {
        return Err(ApiError::invalid("give 1 to 10 preferred time ranges"));
    }
    for r in preferred {
        if r.to <= r.from || r.to <= at {
            return Err(ApiError::invalid(
                "each preferred range must end after it starts, in the future",
            ));
        }
        if r.from > at + Duration::days(366) {
            return Err(ApiError::invalid(
                "preferred ranges must lie within the next year",
            ));
        }
    }
    Ok(())
}

/// The reason for cancelling or moving a booking: 2 to 500 characters, trimmed.
pub fn require_reason(reason: &str) -> Result<&str, ApiError> {
    let reason = reason.trim();
    if reason.chars().count() < 2 || reason.chars().count() > 500 {
        return Err(ApiError::invalid("reason must be 2 to 500 characters"));
    }
    Ok(reason)
}

/// A day that a request gives in its `field`, as `YYYY-MM-DD` in exactly that form: days are
/// stored and compared as text (found by fuzzing: chrono also reads `2030- 1-01` and
/// `2030-1-5`, which sort apart from the days they name). Every day a request gives, in a body
/// or a query, is read here.
pub fn parse_day(field: &str, text: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|d| text.len() == 10 && d.format("%Y-%m-%d").to_string() == text)
        .ok_or_else(|| {
            ApiError::invalid(format!(
                "{field}: a day written YYYY-MM-DD (Asia/Shanghai), not {text:?}"
            ))
        })
}

/// A text of the transcript, a note or a correction: trimmed, 1 to `max` characters.
pub fn bounded(text: &str, max: usize, field: &str) -> Result<String, ApiError> {
    let t = text.trim();
    if t.is_empty() || t.chars().count() > max {
        return Err(ApiError::invalid(format!("{field}: 1 to {max} characters")));
    }
    Ok(t.to_owned())
}
