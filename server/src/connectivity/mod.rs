//! Connectivity tests (联通测试): CourtLink's own WebRTC peer, which echoes what a room terminal
//! (or a petitioner's device) sends, and measures the line from the server's side.
//!
//! A test is one offer and one answer over HTTP (`POST /api/v1/connectivity/tests`): the client
//! gathers its ICE candidates completely before it sends its offer, and the answer carries the
//! server's. There is no session to signal in (a test is not a booked reception), so there is
//! no WebSocket and no trickling. Then:
//!
//! - the server's peer echoes every RTP packet of the client's audio and video back on a track
//!   of its own, and every data-channel message the client sends;
//! - it sends its own probes on the client's data channel (`p:<n>`), which the client echoes
//!   back unchanged; the round trip is timed on the server's clock;
//! - after `measure_seconds` connected, it takes the figures (see [`measure`]), judges them
//!   against the thresholds in `[connectivity]`, records the result and closes the connection.
//!
//! Each instance runs at most `max_concurrent` tests; a test holds its permit until it is
//! recorded and its peer closed, whatever happens to the client. A test row left `running` by
//! an instance that stopped is marked abandoned by a sweep.

pub mod measure;
mod peer;
pub mod relay;
pub mod settings;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::domain::SessionId;
use crate::error::{ApiError, ErrorCode};
use crate::store::Store;
use crate::store::connectivity::{Capped, DeviceCheckCap, NewTest};
pub use peer::{CHANNEL_LABEL, PROBE_PREFIX};
pub use settings::ConnectivitySettings;

/// The echo service of one instance.
#[derive(Clone)]
pub struct Echo {
    inner: Arc<Inner>,
}

struct Inner {
    settings: ConnectivitySettings,
    store: Store,
    permits: Arc<Semaphore>,
    /// UDP ports of the configured range held by running tests.
    ports: Mutex<HashSet<u16>>,
}

/// What a started test hands back to the client.
#[derive(Debug)]
pub struct Started {
    pub test_id: i64,
    pub answer_sdp: String,
}

/// Who runs a test, and for what.
#[derive(Debug, Clone)]
pub struct TestRequest {
    pub local_room_id: Option<i64>,
    /// A host court's own reception room under test (instead of a local room).
    pub host_room_id: Option<i64>,
    /// Set for a petitioner's device check, which is capped (see `ConnectivitySettings`).
    pub session_id: Option<SessionId>,
    /// `user-<id>`, or `petitioner-<seat>` (the seat names the join token).
    pub run_by: String,
    pub offer_sdp: String,
}

impl Echo {
    /// The service; also starts the sweep that records tests left running as abandoned.
    pub fn new(settings: ConnectivitySettings, store: Store, tasks: &crate::tasks::Tasks) -> Echo {
        let echo = Echo {
            inner: Arc::new(Inner {
                permits: Arc::new(Semaphore::new(settings.max_concurrent)),
                settings,
                store,
                ports: Mutex::new(HashSet::new()),
            }),
        };
        let sweeper = echo.clone();
        tasks.spawn_loop("connectivity sweep", move |stop| {
            sweeper.clone().sweep(stop)
        });
        echo
    }

    /// Records tests left running past `abandon_seconds` as abandoned, until shutdown.
    async fn sweep(self, mut stop: crate::tasks::Stop) -> anyhow::Result<()> {
        let settings = &self.inner.settings;
        let mut tick =
            tokio::time::interval(Duration::from_secs(settings.abandon_seconds.clamp(5, 60)));
        let age =
            chrono::Duration::seconds(i64::try_from(settings.abandon_seconds).unwrap_or(i64::MAX));
        while stop.tick(&mut tick).await {
            match self
                .inner
                .store
                .abandon_connectivity_tests(self.inner.store.now() - age)
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::warn!(n, "connectivity tests abandoned"),
                Err(e) => {
                    tracing::warn!(error = %e, "abandoned-test sweep failed; retried next sweep")
                }
            }
        }
        Ok(())
    }

    pub fn settings(&self) -> &ConnectivitySettings {
        &self.inner.settings
    }

    /// Tests running on this instance now.
    pub fn running(&self) -> usize {
        self.inner.settings.max_concurrent - self.inner.permits.available_permits()
    }

    /// Starts a test: records it, answers the offer (after gathering the server's candidates)
    /// and leaves a task that connects, echoes, measures and records the result.
    #[tracing::instrument(skip_all, fields(room = ?req.local_room_id, host_room = ?req.host_room_id, session = ?req.session_id))]
    pub async fn start(&self, req: TestRequest) -> Result<Started, ApiError> {
        let permit = self.inner.permits.clone().try_acquire_owned().map_err(|_| {
            ApiError::TooMany {
                code: ErrorCode::TooManyTests,
                message: format!(
                    "{} connectivity tests are already running on this server; try again in a minute",
                    self.inner.settings.max_concurrent
                ),
            }
        })?;
        let offer = peer::Offer::parse(&req.offer_sdp)?;
        let kind = if offer.has_media() { "media" } else { "data" };
        let started_at = self.inner.store.now();
        let test = NewTest {
            local_room_id: req.local_room_id,
            session_id: req.session_id,
            host_room_id: req.host_room_id,
            run_by: &req.run_by,
            kind,
            started_at,
        };
        let test_id = match req.session_id {
            None => self.inner.store.insert_connectivity_test(&test).await?,
            Some(session_id) => self.device_check(session_id, &test).await?,
        };
        let port = self.take_port()?;
        let built = peer::ServerPeer::answer(&self.inner.settings, port, offer).await;
        let (mut server_peer, answer_sdp) = match built {
            Ok(ok) => ok,
            Err(e) => {
                self.release_port(port);
                let reason = format!("the server's peer could not answer: {e:#}");
                let _ = self
                    .inner
                    .store
                    .finish_connectivity_test(
                        test_id,
                        &peer::failed(measure::TestFailure::ServerError, &reason),
                    )
                    .await;
                return Err(ApiError::Internal(e));
            }
        };
        let echo = self.clone();
        tokio::spawn(async move {
            let outcome = server_peer.run(&echo.inner.settings).await;
            if let Err(e) = echo
                .inner
                .store
                .finish_connectivity_test(test_id, &outcome.as_store())
                .await
            {
                tracing::error!(test_id, error = %e, "could not record a connectivity test");
            }
            tracing::info!(
                test_id,
                passed = outcome.passed,
                reason = outcome.failure.as_ref().map(|f| f.code.as_str()),
                "connectivity test finished"
            );
            server_peer.close().await;
            echo.release_port(port);
            drop(permit);
        });
        Ok(Started {
            test_id,
            answer_sdp,
        })
    }

    /// Records a petitioner's device check within its caps (per token, per booking), or says
    /// when the oldest counted check stops counting.
    async fn device_check(
        &self,
        session_id: SessionId,
        test: &NewTest<'_>,
    ) -> Result<i64, ApiError> {
        let s = &self.inner.settings;
        let window = chrono::Duration::minutes(
            i64::try_from(s.device_check_window_minutes).unwrap_or(i64::MAX),
        );
        let cap = DeviceCheckCap {
            since: test.started_at - window,
            per_token: i64::from(s.device_checks_per_token),
            per_booking: i64::from(s.device_checks_per_booking),
        };
        let (oldest, message) = match self
            .inner
            .store
            .insert_device_check(session_id, test, cap)
            .await?
        {
            Ok(id) => return Ok(id),
            Err(Capped::Token(oldest)) => (
                oldest,
                format!(
                    "this join token has run {} device checks in {} minutes, the most allowed; \
                     try again later",
                    s.device_checks_per_token, s.device_check_window_minutes
                ),
            ),
            Err(Capped::Booking(oldest)) => (
                oldest,
                format!(
                    "this booking has run {} device checks in {} minutes, the most allowed; \
                     try again later",
                    s.device_checks_per_booking, s.device_check_window_minutes
                ),
            ),
        };
        let wait = (oldest + window - test.started_at)
            .to_std()
            .unwrap_or(Duration::from_secs(1));
        tracing::info!(
            session_id = session_id.get(),
            wait_s = wait.as_secs(),
            "device check refused: cap reached"
        );
        Err(ApiError::RetryAfter {
            code: ErrorCode::TooManyDeviceChecks,
            message,
            wait,
        })
    }

    /// A free port of the configured range (marked taken), or None for an ephemeral port.
    fn take_port(&self) -> Result<Option<u16>, ApiError> {
        let s = &self.inner.settings;
        if s.port_min == 0 && s.port_max == 0 {
            return Ok(None);
        }
        let mut taken = self.inner.ports.lock().unwrap_or_else(|p| p.into_inner());
        let span = u32::from(s.port_max - s.port_min) + 1;
        let offset = rand::random::<u32>() % span;
        for i in 0..span {
            let port =
                u16::try_from(u32::from(s.port_min) + (offset + i) % span).unwrap_or(s.port_min);
            if taken.contains(&port) {
                continue;
            }
            // Free on every bind address now (another program may hold it).
            let free = s
                .bind_addresses
                .iter()
                .all(|a| std::net::UdpSocket::bind((a.as_str(), port)).is_ok());
            if free {
                taken.insert(port);
                return Ok(Some(port));
            }
        }
        Err(ApiError::TooMany {
            code: ErrorCode::TooManyTests,
            message: "no UDP port of the connectivity range is free; try again in a minute".into(),
        })
    }

    fn release_port(&self, port: Option<u16>) {
        if let Some(port) = port {
            let mut taken = self.inner.ports.lock().unwrap_or_else(|p| p.into_inner());
            taken.remove(&port);
        }
    }
}
