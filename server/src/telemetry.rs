//! Logging. Request spans carry a request id (tracing-actix-web). Never log tokens, join codes
//! or identity numbers: no handler records them, and the request span records the URL with
//! the value of any query parameter that may carry one redacted (`RedactingRootSpan`), since a
//! calendar client may put a feed's token in the URL.

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};

pub fn init(settings: &LogSettings) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match settings.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

/// Query parameters whose values never reach a log line, matched case-insensitively as parts of
/// the parameter's name (`token`, `access_token`, `join_code`, `api_key` …).
const SECRET_PARAMS: &[&str] = &[
    "token", "code", "key", "auth", "secret", "password", "sig", "session",
];

/// The request target (path and query) as it may be logged: the value of every query parameter
/// named like a secret, and every value that looks like a JWT, replaced by `[redacted]`.
pub fn redacted_target(uri: &actix_web::http::Uri) -> String {
    let path = uri.path();
    let Some(query) = uri.query() else {
        return path.to_owned();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let lower = name.to_ascii_lowercase();
            let secret_name = SECRET_PARAMS.iter().any(|s| lower.contains(s));
            // A JWT's header always begins `{"` → `eyJ` in base64url.
            let looks_like_jwt = value.starts_with("eyJ") || value.contains(".eyJ");
            if secret_name || looks_like_jwt {
                format!("{name}=[redacted]")
            } else {
                pair.to_owned()
            }
        })
        .collect();
    format!("{path}?{}", pairs.join("&"))
}

/// tracing-actix-web's root span with the target redacted (see `redacted_target`) and the peer's
/// own address as `http.client_ip` (the default reads `Forwarded` from anyone).
pub struct RedactingRootSpan;

impl tracing_actix_web::RootSpanBuilder for RedactingRootSpan {
    fn on_request_start(request: &actix_web::dev::ServiceRequest) -> tracing::Span {
        use actix_web::HttpMessage;
        let request_id = request
            .extensions()
            .get::<tracing_actix_web::RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        let route = request
            .match_pattern()
            .unwrap_or_else(|| "default".to_owned());
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = %route,
            http.flavor = ?request.version(),
            http.client_ip = %request.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default(),
            http.target = %redacted_target(request.uri()),
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            request_id = %request_id,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    fn on_request_end<B: actix_web::body::MessageBody>(
        span: tracing::Span,
        outcome: &Result<actix_web::dev::ServiceResponse<B>, actix_web::Error>,
    ) {
        tracing_actix_web::DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_a_query_are_redacted_and_the_rest_kept() {
        let uri: actix_web::http::Uri =
            "/api/v1/ics/officers/3?token=abc.def&from=2026-12-01&x=eyJhbGciOi.eyJzdWIi.sig"
                .parse()
                .unwrap_or_default();
        assert_eq!(
            redacted_target(&uri),
            "/api/v1/ics/officers/3?token=[redacted]&from=2026-12-01&x=[redacted]"
        );
        let plain: actix_web::http::Uri = "/api/v1/slots".parse().unwrap_or_default();
        assert_eq!(redacted_target(&plain), "/api/v1/slots");
    }
}
