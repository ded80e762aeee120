//! The store's own clock reading.

use chrono::{DateTime, SubsecRound, Utc};

/// Now, to the whole second: stored timestamps compare as text in SQLite.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}
