//! The `[recording]` settings: whether sessions are recorded, where the files go while a
//! session runs and after, and how long they are kept (docs/recording.md, docs/deploy.md).

use std::path::PathBuf;

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
    /// Where closed files are kept: a folder on this machine (or a network file system every
    /// instance mounts). The store is reached through the `object_store` crate; only its local
    /// file system is built in (S3 is the lead's decision, docs/deploy.md).
    pub store_dir: PathBuf,
    /// Days a recording is kept after its part closed; the purge job deletes it after that and
    /// records the deletion. At least 183 (six months).
    pub retention_days: u32,
    /// Below this many free megabytes in `spool_dir`, new parts are refused with 503
    /// `recorder_unavailable` (the browser retries later; the call goes on).
    pub min_free_megabytes: u64,
    /// Parts being recorded at once on this instance; the next is refused with 503.
    pub max_parts: usize,
}

impl RecordingSettings {
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
        if self.store_dir.as_os_str().is_empty() {
            return invalid("recording.store_dir", "must name a folder".into());
        }
        if !(1..=10_000).contains(&self.max_parts) {
            return invalid("recording.max_parts", "must be between 1 and 10000".into());
        }
        Ok(())
    }
}
