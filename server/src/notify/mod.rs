//! Notifications: delivery of the outbox that the scheduling code writes in the same transaction
//! as each change.
//!
//! Every instance runs one worker ([`spawn`]). Each tick it
//! 1. enqueues `booking.reminder` for bookings about to start and `booking.no_show` for sessions
//!    the records sweeper marked no-show (each exactly once: a marker column is set in the same
//!    transaction as the outbox row);
//! 2. fans each due outbox row out, in one transaction per row, into in-app notifications (the
//!    local court's coordinators and the host court's officers) and one delivery row per
//!    matching webhook of either court; a failure leaves the row for a later attempt, with
//!    exponential backoff, and never drops it;
//! 3. POSTs due webhook deliveries, each signed, each with its own attempts and backoff, so that
//!    one failing receiver holds back no other; after `max_attempts` a delivery is `failed`.
//!
//! Claiming is safe with several instances: PostgreSQL rows are claimed with
//! `FOR UPDATE SKIP LOCKED`, SQLite work runs in one write transaction. A webhook delivery is
//! leased (its `next_attempt_at` pushed past the request timeout) before the request is sent, so
//! no transaction stays open across the network and a crashed instance's deliveries come due
//! again: delivery is at least once; receivers deduplicate on `X-CourtLink-Delivery`.

pub mod ics;
pub mod queries;
pub mod webhook;
pub mod worker;

use serde::Deserialize;

use crate::config::ConfigError;

pub use worker::spawn;

/// Event names a webhook may subscribe to. `booking.approved` is a `booking.created` that
/// carries out an approved application.
pub const EVENTS: &[&str] = &[
    "booking.created",
    "booking.approved",
    "booking.rescheduled",
    "booking.cancelled",
    "booking.needs_move",
    "booking.reminder",
    "booking.no_show",
    "application.created",
    "application.proposed",
    "application.more_info",
    "application.rejected",
    "application.withdrawn",
    "application.amended",
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySettings {
    /// How often each instance looks for due work, in milliseconds (50–60000).
    pub poll_millis: u64,
    /// Most outbox rows and most webhook deliveries one tick handles (1–1000).
    pub batch: i64,
    /// A webhook delivery is tried this many times, then marked `failed` (1–50).
    pub max_attempts: i32,
    /// The first retry waits this long, in seconds; each further one twice as long (1–3600).
    pub backoff_base_seconds: i64,
    /// ...but never longer than this, in seconds (at least the base, at most 86400).
    pub backoff_max_seconds: i64,
    /// Timeout of one webhook request, connecting included, in seconds (1–60).
    pub request_timeout_seconds: u64,
    /// `booking.reminder` goes out this many minutes before a booking starts; 0: no reminders.
    pub reminder_minutes: i64,
}

impl NotifySettings {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| {
            Err(ConfigError::Invalid {
                key,
                message: message.to_owned(),
            })
        };
        if !(50..=60_000).contains(&self.poll_millis) {
            return invalid("notifications.poll_millis", "must be between 50 and 60000");
        }
        if !(1..=1000).contains(&self.batch) {
            return invalid("notifications.batch", "must be between 1 and 1000");
        }
        if !(1..=50).contains(&self.max_attempts) {
            return invalid("notifications.max_attempts", "must be between 1 and 50");
        }
        if !(1..=3600).contains(&self.backoff_base_seconds) {
            return invalid(
                "notifications.backoff_base_seconds",
                "must be between 1 and 3600",
            );
        }
        if !(self.backoff_base_seconds..=86_400).contains(&self.backoff_max_seconds) {
            return invalid(
                "notifications.backoff_max_seconds",
                "must be at least notifications.backoff_base_seconds and at most 86400",
            );
        }
        if !(1..=60).contains(&self.request_timeout_seconds) {
            return invalid(
                "notifications.request_timeout_seconds",
                "must be between 1 and 60",
            );
        }
        if !(0..=1440).contains(&self.reminder_minutes) {
            return invalid(
                "notifications.reminder_minutes",
                "must be between 0 and 1440",
            );
        }
        Ok(())
    }

    /// The wait before attempt `attempts + 1`, after `attempts` failed ones.
    pub fn backoff(&self, attempts: i32) -> chrono::Duration {
        let exp = attempts.clamp(1, 30) - 1;
        let secs = self
            .backoff_base_seconds
            .saturating_mul(1_i64 << exp)
            .min(self.backoff_max_seconds);
        chrono::Duration::seconds(secs)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn settings() -> NotifySettings {
        NotifySettings {
            poll_millis: 1000,
            batch: 50,
            max_attempts: 10,
            backoff_base_seconds: 10,
            backoff_max_seconds: 3600,
            request_timeout_seconds: 10,
            reminder_minutes: 60,
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let s = settings();
        let secs: Vec<i64> = (1..=11).map(|a| s.backoff(a).num_seconds()).collect();
        assert_eq!(
            secs,
            [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]
        );
        assert_eq!(s.backoff(0).num_seconds(), 10);
        assert_eq!(s.backoff(i32::MAX).num_seconds(), 3600);
    }

    #[test]
    fn bad_value_in_the_file_is_named() {
        let repo = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config");
        let text = std::fs::read_to_string(repo.join("default.toml")).unwrap();
        assert!(text.contains("max_attempts = 10"));
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("default.toml"),
            text.replace("max_attempts = 10", "max_attempts = 0"),
        )
        .unwrap();
        let err = crate::config::Settings::load(dir.path(), "default").unwrap_err();
        assert!(
            err.to_string().contains("notifications.max_attempts"),
            "{err}"
        );
    }

    #[test]
    fn bad_values_are_named() {
        assert!(settings().validate().is_ok());
        let mut s = settings();
        s.backoff_max_seconds = 5;
        let err = s.validate().unwrap_err().to_string();
        assert!(err.contains("notifications.backoff_max_seconds"), "{err}");
        let mut s = settings();
        s.max_attempts = 0;
        let err = s.validate().unwrap_err().to_string();
        assert!(err.contains("notifications.max_attempts"), "{err}");
        let mut s = settings();
        s.request_timeout_seconds = 0;
        let err = s.validate().unwrap_err().to_string();
        assert!(
            err.contains("notifications.request_timeout_seconds"),
            "{err}"
        );
    }
}
