//! The `[notifications]` settings: how often the outbox is worked, how webhooks are retried, and
//! when reminders go out.

use serde::Deserialize;

use crate::config_error::ConfigError;

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
    /// Hosts (names or IP addresses, no port) a webhook may reach although they are, or
    /// resolve to, a loopback, link-local or unspecified address, which are otherwise refused
    /// at registration and at every delivery (see `notify::webhook`). Empty by default.
    pub webhook_allowed_hosts: Vec<String>,
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
        for host in &self.webhook_allowed_hosts {
            if let Err(message) = super::webhook::check_allowed_host(host) {
                return Err(ConfigError::Invalid {
                    key: "notifications.webhook_allowed_hosts",
                    message,
                });
            }
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
