//! What a webhook is registered with: an `http://` URL on the court network and a secret
//! (docs/notifications.md). Delivering and signing are the server's (`courtlink::notify::webhook`).

/// Shortest and longest secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 16;
pub const MAX_SECRET_BYTES: usize = 256;
pub const MAX_URL_BYTES: usize = 2000;

/// Checks a webhook URL: absolute `http://`, with a host, without credentials or fragment.
pub fn check_url(url: &str) -> Result<(), &'static str> {
    if url.len() > MAX_URL_BYTES {
        return Err("the URL is too long");
    }
    let parsed = url::Url::parse(url).map_err(|_| "not a valid absolute URL")?;
    match parsed.scheme() {
        "http" => {}
        "https" => {
            return Err(
                "https:// is not supported by this build (no TLS stack); use http:// on the court network",
            );
        }
        _ => return Err("the URL must start with http://"),
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("the URL names no host");
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("the URL must not carry credentials; the secret signs each delivery");
    }
    if parsed.fragment().is_some() {
        return Err("the URL must not have a fragment");
    }
    Ok(())
}

/// A webhook's HMAC key: 16 to 256 bytes.
pub fn check_secret(secret: &str) -> Result<(), &'static str> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err("the secret must be at least 16 bytes");
    }
    if secret.len() > MAX_SECRET_BYTES {
        return Err("the secret must be at most 256 bytes");
    }
    Ok(())
}
