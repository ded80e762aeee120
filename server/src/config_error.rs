//! The error of settings that cannot be read or break a rule, naming the key.
//!
//! A module of its own, below everything: each part's settings (`[connectivity]`,
//! `[notifications]`) validate themselves where they are declared, and `config` gathers them, so
//! neither may import the other.

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(String),
    #[error("configuration: {key}: {message}")]
    Invalid { key: &'static str, message: String },
}
