//! Counters for `GET /metrics`, in the OpenMetrics text format that Prometheus scrapes, written by
//! `prometheus-client`. Every figure is changed by the code that knows it (sockets, hub, bus,
//! request middleware); the registry only encodes them.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The `Content-Type` of [`Metrics::render`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds of the request-latency buckets, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

/// The instance's metrics. Each handle is a cheap clone of an atomic that the registry also holds.
pub struct Metrics {
    pub connections_open: Gauge,
    pub messages_relayed: Counter,
    pub messages_dropped: Counter,
    pub slow_consumers_dropped: Counter,
    pub resumes: Counter,
    pub rate_limited: Counter,
    /// 1 when Redis answers, 0 when not, -1 when not configured.
    pub redis_up: Gauge,
    /// Set from the hub when rendering: the hub, not this module, knows the sessions.
    sessions_live: Gauge,
    requests: Family<RouteLabels, Histogram, fn() -> Histogram>,
    registry: Registry,
}

fn latency_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

impl Default for Metrics {
    fn default() -> Self {
        let m = Metrics {
            connections_open: Gauge::default(),
            messages_relayed: Counter::default(),
            messages_dropped: Counter::default(),
            slow_consumers_dropped: Counter::default(),
            resumes: Counter::default(),
            rate_limited: Counter::default(),
            redis_up: Gauge::default(),
            sessions_live: Gauge::default(),
            requests: Family::new_with_constructor(latency_histogram),
            registry: Registry::default(),
        };
        let mut registry = Registry::default();
        // Counters are registered without `_total`: the encoder appends it to the sample.
        registry.register(
            "courtlink_ws_connections_open",
            "Signalling sockets open on this instance",
            m.connections_open.clone(),
        );
        registry.register(
            "courtlink_sessions_live",
            "Sessions with a participant on this instance",
            m.sessions_live.clone(),
        );
        registry.register(
            "courtlink_messages_relayed",
            "Signalling messages delivered to sockets",
            m.messages_relayed.clone(),
        );
        registry.register(
            "courtlink_messages_dropped",
            "Signalling messages that could not be delivered",
            m.messages_dropped.clone(),
        );
        registry.register(
            "courtlink_slow_consumers_dropped",
            "Sockets dropped because their queue was full",
            m.slow_consumers_dropped.clone(),
        );
        registry.register(
            "courtlink_resumes",
            "Reconnections that resumed without a leave",
            m.resumes.clone(),
        );
        registry.register(
            "courtlink_rate_limited",
            "Messages refused by the per-connection rate limit",
            m.rate_limited.clone(),
        );
        registry.register(
            "courtlink_redis_up",
            "1 when Redis answers, 0 when not, -1 when not configured",
            m.redis_up.clone(),
        );
        registry.register(
            "courtlink_http_request_duration_seconds",
            "HTTP request latency by route",
            m.requests.clone(),
        );
        Metrics { registry, ..m }
    }
}

impl Metrics {
    pub fn observe_request(&self, method: &str, route: &str, seconds: f64) {
        self.requests
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route: route.to_owned(),
            })
            .observe(seconds);
    }

    pub fn render(&self, sessions_live: usize) -> String {
        self.sessions_live
            .set(i64::try_from(sessions_live).unwrap_or(i64::MAX));
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_documented_names_and_labels() {
        let m = Metrics::default();
        m.resumes.inc();
        m.redis_up.set(-1);
        m.connections_open.inc();
        m.observe_request("GET", "/api/v1/bookings/{id}", 0.003);
        m.observe_request("GET", "/api/v1/bookings/{id}", 2.0);
        let text = m.render(4);
        for line in [
            "courtlink_ws_connections_open 1",
            "courtlink_sessions_live 4",
            "courtlink_messages_relayed_total 0",
            "courtlink_messages_dropped_total 0",
            "courtlink_slow_consumers_dropped_total 0",
            "courtlink_resumes_total 1",
            "courtlink_rate_limited_total 0",
            "courtlink_redis_up -1",
            "# TYPE courtlink_http_request_duration_seconds histogram",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
        }
        let sample = |suffix: &str, le: Option<&str>| {
            let labels = match le {
                Some(le) => format!("le=\"{le}\",method=\"GET\",route=\"/api/v1/bookings/{{id}}\""),
                None => "method=\"GET\",route=\"/api/v1/bookings/{id}\"".to_owned(),
            };
            let head = format!("courtlink_http_request_duration_seconds_{suffix}{{");
            text.lines()
                .find(|l| {
                    l.starts_with(&head)
                        && labels.split(',').all(|pair| l.contains(pair))
                        && (le.is_some() || !l.contains("le="))
                })
                .and_then(|l| l.rsplit_once(' '))
                .map(|(_, v)| v.to_owned())
                .unwrap_or_else(|| panic!("no {suffix} {le:?} in:\n{text}"))
        };
        assert_eq!(sample("bucket", Some("0.001")), "0");
        assert_eq!(sample("bucket", Some("0.005")), "1");
        assert_eq!(sample("bucket", Some("1.0")), "1");
        assert_eq!(sample("bucket", Some("+Inf")), "2");
        assert_eq!(sample("count", None), "2");
        assert!(text.ends_with("# EOF\n"));
    }
}
