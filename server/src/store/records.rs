//! Queries for what higher courts see: session logs and statistics over the court hierarchy.

#[allow(unused_imports)]
use super::{Store, StoreError};
