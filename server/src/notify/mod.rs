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
pub mod settings;
pub mod webhook;
pub mod worker;

pub use settings::NotifySettings;
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
    "assignment.created",
    "assignment.due_soon",
    "assignment.overdue",
    "assignment.supervised",
    "assignment.reported",
];

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
            webhook_allowed_hosts: vec![],
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
