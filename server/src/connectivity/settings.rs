//! The `[connectivity]` settings: where the server's peer may bind, how many tests may run at
//! once, and the thresholds a test must meet to pass.

use std::net::IpAddr;

use serde::Deserialize;

use crate::config_error::ConfigError;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectivitySettings {
    /// Addresses the server's peer binds its UDP sockets to. `0.0.0.0` (or `::`) means every
    /// interface of that family except loopback and link-local; a concrete address binds that
    /// one interface only. Loopback (`127.0.0.1`) reaches only clients on this machine.
    pub bind_addresses: Vec<String>,
    /// Lowest UDP port the server's peer may use; with `port_max`, a range to open in the
    /// firewall. Both 0: any ephemeral port.
    pub port_min: u16,
    /// Highest UDP port the server's peer may use (inclusive).
    pub port_max: u16,
    /// Addresses to announce instead of the bound ones, when the server sits behind a 1:1 NAT
    /// (the address clients reach it at). Empty: announce the bound addresses.
    pub nat_1to1_ips: Vec<String>,
    /// Tests running at once on this instance; the next one is refused with `too_many_tests`.
    pub max_concurrent: usize,
    /// A petitioner's device checks (tests started with a join token) are counted over a
    /// sliding window of this many minutes (1–1440), in the database, so on every instance;
    pub device_check_window_minutes: u64,
    /// in one window at most this many per join token (1–1000), refused with 429
    /// `too_many_device_checks` and `Retry-After`;
    pub device_checks_per_token: u32,
    /// and at most this many per booking, whatever the token (from `device_checks_per_token`
    /// to 10000): re-joining for a fresh token does not reset it.
    pub device_checks_per_booking: u32,
    /// A test whose ICE has not connected within this many seconds fails ("no route").
    pub connect_timeout_seconds: u64,
    /// How long a connected test measures (the bitrate must hold for this long), in seconds.
    pub measure_seconds: u64,
    /// A test still marked running after this many seconds (e.g. its instance stopped) is
    /// recorded as abandoned. Must exceed connect timeout plus measuring time.
    pub abandon_seconds: u64,
    /// Pass thresholds: the highest median round-trip time, in milliseconds;
    pub max_rtt_ms: f64,
    /// the highest packet loss, in percent;
    pub max_loss_percent: f64,
    /// the highest jitter, in milliseconds;
    pub max_jitter_ms: f64,
    /// the lowest bitrate arriving at the server over the measuring time, in kbit/s (tests with
    /// audio and video; a data-only test is judged on round trip, loss and jitter).
    pub min_bitrate_kbps: f64,
}

impl ConnectivitySettings {
    /// Rules that serde cannot express. Each failure names its key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: String| Err(ConfigError::Invalid { key, message });
        if self.bind_addresses.is_empty() {
            return invalid(
                "connectivity.bind_addresses",
                "must name at least one address".into(),
            );
        }
        for a in &self.bind_addresses {
            if a.parse::<IpAddr>().is_err() {
                return invalid(
                    "connectivity.bind_addresses",
                    format!("'{a}' is not an IP address"),
                );
            }
        }
        for a in &self.nat_1to1_ips {
            if a.parse::<IpAddr>().is_err() {
                return invalid(
                    "connectivity.nat_1to1_ips",
                    format!("'{a}' is not an IP address"),
                );
            }
        }
        let ranged = self.port_min != 0 || self.port_max != 0;
        if ranged && (self.port_min < 1024 || self.port_max < self.port_min) {
            return invalid(
                "connectivity.port_max",
                "port_min..=port_max must be a range within 1024..=65535 (or both 0)".into(),
            );
        }
        if !(1..=1000).contains(&self.max_concurrent) {
            return invalid(
                "connectivity.max_concurrent",
                "must be between 1 and 1000".into(),
            );
        }
        if !(1..=1440).contains(&self.device_check_window_minutes) {
            return invalid(
                "connectivity.device_check_window_minutes",
                "must be between 1 and 1440".into(),
            );
        }
        if !(1..=1000).contains(&self.device_checks_per_token) {
            return invalid(
                "connectivity.device_checks_per_token",
                "must be between 1 and 1000".into(),
            );
        }
        if !(self.device_checks_per_token..=10_000).contains(&self.device_checks_per_booking) {
            return invalid(
                "connectivity.device_checks_per_booking",
                "must be at least connectivity.device_checks_per_token and at most 10000".into(),
            );
        }
        if !(1..=120).contains(&self.connect_timeout_seconds) {
            return invalid(
                "connectivity.connect_timeout_seconds",
                "must be between 1 and 120".into(),
            );
        }
        if !(1..=120).contains(&self.measure_seconds) {
            return invalid(
                "connectivity.measure_seconds",
                "must be between 1 and 120".into(),
            );
        }
        if self.abandon_seconds < self.connect_timeout_seconds + self.measure_seconds + 10 {
            return invalid(
                "connectivity.abandon_seconds",
                "must be at least connect_timeout_seconds + measure_seconds + 10".into(),
            );
        }
        let positive = [
            ("connectivity.max_rtt_ms", self.max_rtt_ms),
            ("connectivity.max_jitter_ms", self.max_jitter_ms),
        ];
        for (key, v) in positive {
            if !(v.is_finite() && v > 0.0) {
                return invalid(key, "must be a positive number".into());
            }
        }
        if !(self.max_loss_percent.is_finite() && (0.0..=100.0).contains(&self.max_loss_percent)) {
            return invalid(
                "connectivity.max_loss_percent",
                "must be between 0 and 100".into(),
            );
        }
        if !(self.min_bitrate_kbps.is_finite() && self.min_bitrate_kbps >= 0.0) {
            return invalid("connectivity.min_bitrate_kbps", "must be 0 or more".into());
        }
        Ok(())
    }
}
