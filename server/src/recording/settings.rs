//! The `[recording]` settings: whether sessions are recorded, where the files go while a
//! session runs and after, and how long they are kept (docs/recording.md, docs/deploy.md).

use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::config_error::ConfigError;

/// The shortest retention the settings accept: six months (the network security law's minimum
/// for logs is a floor, not a target).
pub const MIN_RETENTION_DAYS: u32 = 183;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingSettings {
    /// Record sessions. Off: `POST /sessions/{id}/recording` answers 503 `recorder_unavailable`
    /// and the call goes on unrecorded (the signalling still announces `recording` off).
    pub enabled: bool,
    /// Where the recorder writes the sealed files of the sessions it is recording, on this
    /// instance's own disk. A file moves to the store when its part closes; a file whose upload
    /// failed stays here until a retry succeeds.
    pub spool_dir: PathBuf,
    /// Where closed files are kept: `local` (the folder `store_dir`) or `s3` (the bucket of
    /// `[recording.s3]`), both through the `object_store` crate. Several instances serving one
    /// court network need one store they all reach: a bucket, or a folder they all mount.
    #[serde(default)]
    pub store: StoreKind,
    /// The store's folder when `store = "local"`: on this machine, or a network file system
    /// every instance mounts. Not read with `s3`.
    pub store_dir: PathBuf,
    /// The bucket when `store = "s3"`.
    #[serde(default)]
    pub s3: S3Settings,
    /// Days a recording is kept after its part closed; the purge job deletes it after that and
    /// records the deletion. At least 183 (six months).
    pub retention_days: u32,
    /// Below this many free megabytes in `spool_dir`, new parts are refused with 503
    /// `recorder_unavailable` (the browser retries later; the call goes on).
    pub min_free_megabytes: u64,
    /// Parts being recorded at once on this instance; the next is refused with 503.
    pub max_parts: usize,
}

/// Which store keeps the closed files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// A folder (`recording.store_dir`).
    #[default]
    Local,
    /// An S3-compatible bucket (`[recording.s3]`): MinIO, Ceph RGW or a cloud's object storage.
    S3,
}

/// An S3-compatible bucket (`recording.store = "s3"`; docs/deploy.md). Files are written under
/// their object keys (`session-<id>/<participant>-part<n>.clrec`), sealed as on disk: the bucket
/// never holds a readable recording.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Settings {
    /// The service's URL, e.g. `https://s3.court.internal:9000` (path-style requests:
    /// `<endpoint>/<bucket>/<key>`). `http://` only with `allow_http`.
    pub endpoint: String,
    /// The bucket, which must exist (CourtLink never creates one).
    pub bucket: String,
    /// The region the service expects in its signatures; S3-compatible services on an intranet
    /// mostly take `us-east-1`.
    pub region: String,
    /// The access key (its id and secret) of an account that may get, put, head and delete
    /// objects in the bucket, and run multipart uploads.
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    /// Allow a plain `http://` endpoint: a closed intranet where the files are sealed anyway.
    /// With `https://`, the server's certificate is checked against the system's trusted
    /// certificates (install the court's own CA there).
    pub allow_http: bool,
}

impl Default for S3Settings {
    fn default() -> S3Settings {
        S3Settings {
            endpoint: String::new(),
            bucket: String::new(),
            region: "us-east-1".into(),
            access_key_id: String::new(),
            secret_access_key: SecretString::default(),
            allow_http: false,
        }
    }
}

impl S3Settings {
    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| {
            Err(ConfigError::Invalid {
                key,
                message: message.to_owned(),
            })
        };
        let Ok(url) = reqwest::Url::parse(&self.endpoint) else {
            return invalid(
                "recording.s3.endpoint",
                "must be the service's URL, e.g. https://s3.court.internal:9000",
            );
        };
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            "http" => {
                return invalid(
                    "recording.s3.endpoint",
                    "is http://: set recording.s3.allow_http = true to allow a plain-HTTP endpoint",
                );
            }
            _ => {
                return invalid(
                    "recording.s3.endpoint",
                    "must start with https:// or http://",
                );
            }
        }
        if url.host_str().is_none_or(str::is_empty)
            || !url.username().is_empty()
            || url.password().is_some()
            || url.query().is_some()
            || url.fragment().is_some()
            || !matches!(url.path(), "" | "/")
        {
            return invalid(
                "recording.s3.endpoint",
                "must be scheme, host and port only (the bucket is recording.s3.bucket; the keys are not put in the URL)",
            );
        }
        // S3's bucket naming rules (3–63 of a–z, 0–9, '.', '-', starting and ending with a
        // letter or digit): a bad name would only fail at the first upload, mid-session.
        let b = self.bucket.as_bytes();
        let ok_char =
            |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'.';
        let ends_ok =
            |c: Option<&u8>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !(3..=63).contains(&b.len())
            || !b.iter().all(ok_char)
            || !ends_ok(b.first())
            || !ends_ok(b.last())
        {
            return invalid(
                "recording.s3.bucket",
                "must be an S3 bucket name: 3 to 63 of a-z, 0-9, '.' and '-', starting and ending with a letter or digit",
            );
        }
        if self.region.is_empty()
            || !self
                .region
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-')
        {
            return invalid(
                "recording.s3.region",
                "must name a region, e.g. us-east-1 (what the service expects in signatures)",
            );
        }
        if self.access_key_id.is_empty() {
            return invalid(
                "recording.s3.access_key_id",
                "must be set when recording.store = \"s3\"",
            );
        }
        if self.secret_access_key.expose_secret().is_empty() {
            return invalid(
                "recording.s3.secret_access_key",
                "must be set when recording.store = \"s3\" (COURTLINK__RECORDING__S3__SECRET_ACCESS_KEY)",
            );
        }
        Ok(())
    }
}

impl RecordingSettings {
    /// Where closed files go, in words (`check-config`), without the credentials.
    pub fn store_description(&self) -> String {
        match self.store {
            StoreKind::Local => format!("the folder {}", self.store_dir.display()),
            StoreKind::S3 => format!("the S3 bucket {} at {}", self.s3.bucket, self.s3.endpoint),
        }
    }

    /// Rules that serde cannot express. Each failure names its key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: String| Err(ConfigError::Invalid { key, message });
        if self.retention_days < MIN_RETENTION_DAYS {
            return invalid(
                "recording.retention_days",
                format!(
                    "must be at least {MIN_RETENTION_DAYS} (six months); recordings are evidence"
                ),
            );
        }
        if self.retention_days > 36_500 {
            return invalid("recording.retention_days", "must be at most 36500".into());
        }
        if self.spool_dir.as_os_str().is_empty() {
            return invalid("recording.spool_dir", "must name a folder".into());
        }
        match self.store {
            StoreKind::Local if self.store_dir.as_os_str().is_empty() => {
                return invalid("recording.store_dir", "must name a folder".into());
            }
            StoreKind::Local => {}
            StoreKind::S3 => self.s3.validate()?,
        }
        if !(1..=10_000).contains(&self.max_parts) {
            return invalid("recording.max_parts", "must be between 1 and 10000".into());
        }
        Ok(())
    }
}
