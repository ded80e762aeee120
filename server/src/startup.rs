//! Builds the application: store, tokens, hub and HTTP server. Shared state is built once here,
//! outside the `HttpServer::new` closure, which runs once per worker.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_files::Files;
use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::middleware::{DefaultHeaders, Next, from_fn};
use actix_web::{App, HttpServer, web};
use secrecy::ExposeSecret;
use tracing_actix_web::TracingLogger;

use crate::app::clock::Clock;
use crate::auth::{Tokens, Verifier};
use crate::config::Settings;
use crate::domain::EventKind;
use crate::error::{json_error_handler, path_error_handler, query_error_handler};
use crate::metrics::Metrics;
use crate::signalling::bus::{Bus, LocalBus};
use crate::signalling::hub::{Hub, HubConfig};
use crate::signalling::redis_bus::RedisBus;
use crate::state::AppState;
use crate::store::Store;
use crate::tasks::Tasks;
use crate::{demo, routes};

/// Pages may load and connect to nothing but CourtLink itself: court networks are closed, and
/// this also stops injected scripts and framing. (`connect-src 'self'` covers the same-origin
/// WebSocket.)
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; object-src 'none'; \
    frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Largest JSON body accepted by the API.
const MAX_JSON_BYTES: usize = 64 * 1024;

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
}

/// Stops an application the way SIGTERM does: sockets are told to reconnect elsewhere, then the
/// server stops accepting and waits up to `server.drain_seconds` for what is in flight, and
/// last the background loops are stopped, each given up to `server.drain_seconds` more to
/// finish its round.
#[derive(Clone)]
pub struct Shutdown {
    state: web::Data<AppState>,
    server: ServerHandle,
}

impl Shutdown {
    pub async fn drain(&self) {
        tracing::info!("draining: asking every socket to reconnect elsewhere");
        self.state.hub.drain();
        // The recorder closes its parts now, while the sockets go: each file is finalized and
        // sealed, and the browsers record their next part on the instance they move to.
        let recorder = self.state.recorder.clone();
        let closing = tokio::spawn(async move { recorder.close_all().await });
        // Let the socket tasks record their departure while the runtime still runs: stopping
        // the server drops them, and a task dropped mid-write would lose its `left`.
        let deadline =
            Instant::now() + Duration::from_secs(self.state.settings.server.drain_seconds);
        while self.state.metrics.connections_open.get() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.server.stop(true).await;
        let wait = Duration::from_secs(self.state.settings.server.drain_seconds);
        if tokio::time::timeout(wait, closing).await.is_err() {
            tracing::warn!(
                "recordings still closing after the drain; the recording keeper goes on"
            );
        }
        self.state.stop_background().await;
    }
}

impl AppState {
    /// Stops the background loops, waiting up to `server.drain_seconds`. Idempotent.
    async fn stop_background(&self) {
        let deadline = Duration::from_secs(self.settings.server.drain_seconds);
        let late = self.tasks.shutdown(deadline).await;
        if late.is_empty() {
            tracing::info!("background loops stopped");
        }
    }
}

impl Application {
    /// Connects to the store, migrates it, seeds demo data when the settings ask for it, and
    /// binds the listener (port 0 picks a free port).
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        Self::build_with_clock(settings, Clock::system()).await
    }

    /// [`Application::build`] on a given clock: tests start one at a fixed instant
    /// (`Clock::starting_at`). The served binary always builds on the system clock.
    #[doc(hidden)]
    pub async fn build_with_clock(settings: Settings, clock: Clock) -> anyhow::Result<Application> {
        crate::crypto::install(settings.privacy.data_key.expose_secret().as_bytes())?;
        let store = Store::connect(
            settings.database.url.expose_secret(),
            settings.database.max_connections,
        )
        .await?
        .with_clock(clock);
        store.migrate().await?;
        if settings.demo.seed {
            demo::seed_at(&store, &settings.demo.password, clock.now()).await?;
        }
        Self::build_on(settings, store, clock).await
    }

    /// On a store already connected: the application runs on the store's clock.
    pub async fn build_with_store(settings: Settings, store: Store) -> anyhow::Result<Application> {
        let clock = store.clock();
        Self::build_on(settings, store, clock).await
    }

    async fn build_on(
        settings: Settings,
        store: Store,
        clock: Clock,
    ) -> anyhow::Result<Application> {
        let listener = TcpListener::bind((settings.server.host.as_str(), settings.server.port))
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot listen on {}:{}: {e}",
                    settings.server.host,
                    settings.server.port
                )
            })?;
        let port = listener.local_addr()?.port();
        let web_dir = settings.server.web_dir.clone();
        if !web_dir.join("index.html").is_file() {
            tracing::warn!(dir = %web_dir.display(), "server.web_dir has no index.html; the browser app will not load");
        }
        let metrics = Arc::new(Metrics::default());
        let signalling = &settings.signalling;
        let hub_config = HubConfig {
            max_participants: signalling.max_participants,
            resume_grace: Duration::from_secs(signalling.resume_grace_seconds),
            waiting_room: signalling.waiting_room,
            log_cap: 256,
            recording: settings.recording.enabled,
        };
        // Background loops run under this supervisor; shutdown stops them (see `Shutdown`).
        let tasks = Tasks::new();
        // The one place that chooses the signalling bus; the hub never asks which it has.
        let bus: Arc<dyn Bus> = match settings.redis.url.as_str() {
            "" => Arc::new(LocalBus::new(&metrics)),
            url => Arc::new(
                RedisBus::connect(url, &settings.redis.key_prefix, metrics.clone(), &tasks)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot reach Redis at redis.url: {e}"))?,
            ),
        };
        let hub = Hub::new(store.clone(), hub_config, metrics.clone(), bus, &tasks);
        spawn_records_sweeper(&tasks, store.clone(), settings.records.clone());
        crate::notify::spawn(&tasks, store.clone(), settings.notifications.clone());
        crate::app::assignments::spawn_reminders(
            &tasks,
            store.clone(),
            settings.follow_ups.clone(),
            clock,
        );
        spawn_schedule_keeper(
            &tasks,
            store.clone(),
            settings.scheduling.idempotency_hours,
            clock,
        );
        let holds = match settings.redis.url.as_str() {
            "" => crate::holds::Holds::local(),
            url => crate::holds::Holds::redis(url, &settings.redis.key_prefix)
                .await
                .map_err(|e| anyhow::anyhow!("cannot reach Redis at redis.url: {e}"))?,
        };
        let (connectivity, echo_store) = (settings.connectivity.clone(), store.clone());
        let workers = settings.server.workers;
        let drain = settings.server.drain_seconds;
        let header_read = Duration::from_secs(settings.server.header_read_seconds);
        let guards = crate::auth::Guards::new(&settings.auth);
        let tokens = Arc::new(Tokens::new(&settings.auth));
        let token_versions = Arc::new(crate::auth::TokenVersions);
        // The request extractors get what they check callers with, and nothing else.
        let verifier = web::Data::new(Verifier {
            tokens: tokens.clone(),
            token_versions: token_versions.clone(),
            store: store.clone(),
        });
        let recorder = crate::recording::Recorder::new(
            settings.recording.clone(),
            settings.connectivity.clone(),
            settings.privacy.data_key.clone(),
            store.clone(),
            hub.clone(),
            &tasks,
        );
        let state = web::Data::new(AppState {
            recorder,
            tokens,
            hub,
            store,
            settings,
            metrics,
            login_attempts: Default::default(),
            echo: crate::connectivity::Echo::new(connectivity, echo_store, &tasks),
            holds,
            token_versions,
            guards,
            tasks,
            clock,
        });
        let app_state = state.clone();
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .app_data(verifier.clone())
                .app_data(
                    web::JsonConfig::default()
                        .limit(MAX_JSON_BYTES)
                        .error_handler(json_error_handler),
                )
                .app_data(web::QueryConfig::default().error_handler(query_error_handler))
                .app_data(web::PathConfig::default().error_handler(path_error_handler))
                .wrap(
                    DefaultHeaders::new()
                        .add(("X-Content-Type-Options", "nosniff"))
                        .add(("Referrer-Policy", "no-referrer"))
                        .add(("X-Frame-Options", "DENY"))
                        .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY)),
                )
                .wrap(from_fn(observe_latency))
                .wrap(from_fn(crate::edge::body_deadline))
                .wrap(from_fn(crate::edge::require_host))
                .wrap(TracingLogger::<crate::telemetry::RedactingRootSpan>::new())
                .configure(routes::configure)
                .service(Files::new("/", &web_dir).index_file("index.html"))
        })
        // Signalling is many small messages: Nagle's algorithm with delayed ACKs would hold
        // them back by tens of milliseconds.
        .on_connect(|conn, _| {
            if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
                let _ = tcp.set_nodelay(true);
            }
        })
        .client_request_timeout(header_read)
        .client_disconnect_timeout(Duration::from_secs(1))
        .shutdown_timeout(drain)
        .disable_signals()
        .listen(listener)?;
        if workers > 0 {
            server = server.workers(workers);
        }
        Ok(Application {
            port,
            server: server.run(),
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The application's state, for a test that drives a part of it (the password pool, say)
    /// directly.
    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    pub fn shutdown(&self) -> Shutdown {
        Shutdown {
            state: self.state.clone(),
            server: self.server.handle(),
        }
    }

    /// Runs until the server stops; SIGTERM or Ctrl-C drains it first.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let shutdown = self.shutdown();
        tokio::spawn(async move {
            wait_for_stop_signal().await;
            shutdown.drain().await;
        });
        let stopped = self.server.await;
        // The drain above goes on to stop the background loops once the server has stopped;
        // returning now would let the runtime drop them mid-round, so wait here as well.
        self.state.stop_background().await;
        stopped
    }
}

/// Marks interrupted sessions and no-shows. Every instance runs it; each change is conditional
/// on the session's current status, so two instances never record one transition twice.
fn spawn_records_sweeper(tasks: &Tasks, store: Store, settings: crate::config::RecordsSettings) {
    tasks.spawn_loop("records sweeper", move |stop| {
        records_sweeper(stop, store.clone(), settings.clone())
    });
}

async fn records_sweeper(
    mut stop: crate::tasks::Stop,
    store: Store,
    settings: crate::config::RecordsSettings,
) -> anyhow::Result<()> {
    use crate::app::session::transition;
    let mut tick = tokio::time::interval(Duration::from_secs(settings.sweep_seconds));
    while stop.tick(&mut tick).await {
        let now = store.now();
        let lost = now - chrono::Duration::seconds(settings.interrupt_after_seconds);
        match store.sessions_everyone_lost(lost).await {
            Ok(ids) => {
                for (id, started) in ids {
                    // A session that never had its petitioner was not interrupted: it is
                    // merely empty again.
                    let kind = if started {
                        EventKind::Interrupted
                    } else {
                        EventKind::Emptied
                    };
                    let _ = store
                        .add_event(id, kind, "system", &serde_json::json!({}), transition)
                        .await;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "finding lost sessions failed; retried next sweep")
            }
        }
        let late = now - chrono::Duration::minutes(settings.no_show_after_minutes);
        match store.sessions_without_petitioner(late).await {
            Ok(ids) => {
                for id in ids {
                    let _ = store
                        .add_event(
                            id,
                            EventKind::NoShow,
                            "system",
                            &serde_json::json!({}),
                            transition,
                        )
                        .await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "finding no-shows failed; retried next sweep"),
        }
    }
    Ok(())
}

/// Keeps published availability reaching the horizon as days pass (at start-up, then hourly),
/// forgets idempotency keys older than their lifetime, and seals older cases (the sealing pass).
fn spawn_schedule_keeper(tasks: &Tasks, store: Store, idempotency_hours: i64, clock: Clock) {
    tasks.spawn_loop("schedule keeper", move |stop| {
        schedule_keeper(stop, store.clone(), idempotency_hours, clock)
    });
}

async fn schedule_keeper(
    mut stop: crate::tasks::Stop,
    store: Store,
    idempotency_hours: i64,
    clock: Clock,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    let mut warned = None;
    while stop.tick(&mut tick).await {
        let now = clock.now();
        // The admin is told, in the log too (once a day), when a year's calendar is missing.
        warned = crate::app::calendar::warn_in_log(&store, clock.today(), warned).await;
        if let Err(e) = store.publish_all(now).await {
            tracing::warn!(error = %e, "publishing availability failed; retried within the hour");
        }
        if let Err(e) = store
            .forget_idempotency_keys(now - chrono::Duration::hours(idempotency_hours))
            .await
        {
            tracing::warn!(error = %e, "forgetting idempotency keys failed; retried within the hour");
        }
        // Cases written before sealing existed, a batch at a time; a stop waits for the
        // batch in hand only.
        while !stop.is_stopped() {
            match store.seal_legacy_cases(500).await {
                Ok(0) => break,
                Ok(n) => tracing::info!(sealed = n, "sealed the petitioner data of older cases"),
                Err(e) => {
                    tracing::warn!(error = %e, "sealing older cases failed; retried within the hour");
                    break;
                }
            }
        }
    }
    Ok(())
}

async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Request latency by route pattern, for `/metrics`.
async fn observe_latency(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let method = req.method().to_string();
    let res = next.call(req).await?;
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    if let Some(state) = res.request().app_data::<web::Data<AppState>>() {
        state
            .metrics
            .observe_request(&method, &route, start.elapsed().as_secs_f64());
    }
    Ok(res)
}
