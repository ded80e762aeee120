//! The application layer: each rule of the domain, once, between the HTTP routes and the store.
pub mod clock;
