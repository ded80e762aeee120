//! The application's shared state, built once by start-up (`startup.rs`) and handed to every
//! route as `web::Data<AppState>`. A module of its own, so that the routes, which need it, and
//! start-up, which needs the routes, do not import each other.

use std::sync::Arc;

use crate::auth::{AttemptsByAddress, TokenVersions, Tokens};
use crate::config::Settings;
use crate::holds::Holds;
use crate::metrics::Metrics;
use crate::signalling::hub::Hub;
use crate::store::Store;

pub struct AppState {
    pub settings: Settings,
    pub store: Store,
    pub tokens: Arc<Tokens>,
    pub hub: Hub,
    pub metrics: Arc<Metrics>,
    pub login_attempts: AttemptsByAddress,
    /// The server's own WebRTC peer for connectivity tests.
    pub echo: crate::connectivity::Echo,
    pub holds: Holds,
    pub token_versions: Arc<TokenVersions>,
    /// Brakes on guessing join codes and passwords (issue 15).
    pub guards: crate::auth::Guards,
    /// The supervised background loops; stopped last on shutdown (`tasks.rs`).
    pub tasks: crate::tasks::Tasks,
    /// The recorder of each reception (`recording/`).
    pub recorder: crate::recording::Recorder,
    /// "Now", for every rule that reads the date (`app/clock.rs`).
    pub clock: crate::app::clock::Clock,
}
