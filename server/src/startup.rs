//! Builds the application: store, tokens, hub and HTTP server. Shared state is built once here,
//! outside the `HttpServer::new` closure, which runs once per worker.

use std::net::TcpListener;

use actix_files::Files;
use actix_web::dev::Server;
use actix_web::middleware::DefaultHeaders;
use actix_web::{App, HttpServer, web};
use secrecy::ExposeSecret;
use tracing_actix_web::TracingLogger;

use crate::auth::Tokens;
use crate::config::Settings;
use crate::error::{json_error_handler, path_error_handler, query_error_handler};
use crate::signalling::hub::Hub;
use crate::store::Store;
use crate::{demo, routes};

/// Largest JSON body accepted by the API.
const MAX_JSON_BYTES: usize = 64 * 1024;

pub struct AppState {
    pub settings: Settings,
    pub store: Store,
    pub tokens: Tokens,
    pub hub: Hub,
}

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
}

impl Application {
    /// Connects to the store, migrates it, seeds demo data when the settings ask for it, and
    /// binds the listener (port 0 picks a free port).
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let store = Store::connect(
            settings.database.url.expose_secret(),
            settings.database.max_connections,
        )
        .await?;
        store.migrate().await?;
        if settings.demo.seed {
            demo::seed(&store, &settings.demo.password).await?;
        }
        Self::build_with_store(settings, store)
    }

    pub fn build_with_store(settings: Settings, store: Store) -> anyhow::Result<Application> {
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
        let workers = settings.server.workers;
        let state = web::Data::new(AppState {
            tokens: Tokens::new(&settings.auth),
            hub: Hub::default(),
            store,
            settings,
        });
        let app_state = state.clone();
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
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
                        .add(("X-Frame-Options", "DENY")),
                )
                .wrap(TracingLogger::default())
                .configure(routes::configure)
                .service(Files::new("/", &web_dir).index_file("index.html"))
        })
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

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
