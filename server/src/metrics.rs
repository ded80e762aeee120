//! Counters for `GET /metrics`, in Prometheus text format. Plain atomics: nothing here is worth
//! a dependency, and every figure is read straight from the code that changes it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Upper bounds of the request-latency buckets, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Default)]
pub struct Metrics {
    pub connections_open: AtomicI64,
    pub messages_relayed: AtomicU64,
    pub messages_dropped: AtomicU64,
    pub slow_consumers_dropped: AtomicU64,
    pub resumes: AtomicU64,
    pub rate_limited: AtomicU64,
    pub redis_up: AtomicI64,
    routes: Mutex<BTreeMap<(String, String), Histogram>>,
}

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Metrics {
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn observe_request(&self, method: &str, route: &str, seconds: f64) {
        let mut routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        let h = routes
            .entry((method.to_owned(), route.to_owned()))
            .or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }

    pub fn render(&self, sessions_live: usize) -> String {
        let mut out = String::new();
        let mut gauge = |name: &str, help: &str, kind: &str, value: String| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        gauge(
            "courtlink_ws_connections_open",
            "Signalling sockets open on this instance.",
            "gauge",
            self.connections_open.load(Ordering::Relaxed).to_string(),
        );
        gauge(
            "courtlink_sessions_live",
            "Sessions with a participant on this instance.",
            "gauge",
            sessions_live.to_string(),
        );
        gauge(
            "courtlink_messages_relayed_total",
            "Signalling messages delivered to sockets.",
            "counter",
            self.messages_relayed.load(Ordering::Relaxed).to_string(),
        );
        gauge(
            "courtlink_messages_dropped_total",
            "Signalling messages that could not be delivered.",
            "counter",
            self.messages_dropped.load(Ordering::Relaxed).to_string(),
        );
        gauge(
            "courtlink_slow_consumers_dropped_total",
            "Sockets dropped because their queue was full.",
            "counter",
            self.slow_consumers_dropped
                .load(Ordering::Relaxed)
                .to_string(),
        );
        gauge(
            "courtlink_resumes_total",
            "Reconnections that resumed without a leave.",
            "counter",
            self.resumes.load(Ordering::Relaxed).to_string(),
        );
        gauge(
            "courtlink_rate_limited_total",
            "Messages refused by the per-connection rate limit.",
            "counter",
            self.rate_limited.load(Ordering::Relaxed).to_string(),
        );
        gauge(
            "courtlink_redis_up",
            "1 when Redis answers, 0 when not, -1 when not configured.",
            "gauge",
            self.redis_up.load(Ordering::Relaxed).to_string(),
        );
        let routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        let name = "courtlink_http_request_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} HTTP request latency by route.\n# TYPE {name} histogram"
        );
        for ((method, route), h) in routes.iter() {
            let labels = format!("method=\"{method}\",route=\"{}\"", route.replace('"', "'"));
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "{name}_bucket{{{labels},le=\"{bound}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(out, "{name}_sum{{{labels}}} {}", h.sum);
            let _ = writeln!(out, "{name}_count{{{labels}}} {}", h.count);
        }
        out
    }
}
