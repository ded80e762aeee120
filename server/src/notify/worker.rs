//! The delivery worker every instance runs (see the module's documentation).

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::settings::NotifySettings;
use crate::store::Store;
use crate::store::notify::{self as queries, Attempt};

/// Starts the worker (enqueueing, the outbox drain and deliveries) as the supervised loop
/// `notification worker`.
pub fn spawn(tasks: &crate::tasks::Tasks, store: Store, settings: NotifySettings) {
    tasks.spawn_loop("notification worker", move |stop| {
        run(stop, store.clone(), settings.clone())
    });
}

async fn run(
    mut stop: crate::tasks::Stop,
    store: Store,
    settings: NotifySettings,
) -> anyhow::Result<()> {
    let allowed = super::webhook::AllowedHosts::new(&settings.webhook_allowed_hosts);
    let client = match super::webhook::client(
        Duration::from_secs(settings.request_timeout_seconds),
        &allowed,
    ) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the webhook client; notifications are off");
            return Ok(());
        }
    };
    let mut tick = tokio::time::interval(Duration::from_millis(settings.poll_millis));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // A stop is seen between rounds: the round in hand (claims, fan-out, deliveries) finishes.
    while stop.tick(&mut tick).await {
        if let Err(e) = once(&store, &settings, &client, &allowed).await {
            tracing::warn!(error = %e, "retrying on the next tick");
        }
    }
    Ok(())
}

/// One round of work: enqueue reminders and no-show notices, fan out the outbox, send webhooks.
/// Public for tests that drive the worker by hand.
pub async fn once(
    store: &Store,
    settings: &NotifySettings,
    client: &reqwest::Client,
    allowed: &super::webhook::AllowedHosts,
) -> Result<(), crate::store::StoreError> {
    let now = store.now();
    if settings.reminder_minutes > 0 {
        queries::enqueue_reminders(
            store,
            now,
            chrono::Duration::minutes(settings.reminder_minutes),
            settings.batch,
        )
        .await?;
    }
    queries::enqueue_no_shows(store, now, settings.batch).await?;
    fan_out(store, settings, now).await?;
    deliver(store, settings, client, allowed, store.now()).await
}

async fn fan_out(
    store: &Store,
    settings: &NotifySettings,
    now: DateTime<Utc>,
) -> Result<(), crate::store::StoreError> {
    let rows = queries::claim_outbox(store, now, settings.batch).await?;
    for row in rows {
        if let Err(e) = queries::fan_out(store, &row, now).await {
            let retry = now + settings.backoff(row.attempts);
            tracing::warn!(outbox = row.id, attempts = row.attempts, error = %e, "fan-out failed; retried later");
            queries::outbox_failed(store, row.id, retry, &e.to_string()).await?;
        }
    }
    Ok(())
}

async fn deliver(
    store: &Store,
    settings: &NotifySettings,
    client: &reqwest::Client,
    allowed: &super::webhook::AllowedHosts,
    now: DateTime<Utc>,
) -> Result<(), crate::store::StoreError> {
    // Leased past the request timeout: another instance takes them only if this one died.
    let lease = now + chrono::Duration::seconds(settings.request_timeout_seconds as i64 + 30);
    let rows = queries::claim_deliveries(store, now, lease, settings.batch).await?;
    let sends = rows.iter().map(|d| async move {
        let result = if d.active {
            super::webhook::post(client, allowed, &d.url, &d.secret, &d.event, d.id, &d.body).await
        } else {
            Err("webhook removed".to_owned())
        };
        (d, result)
    });
    for (d, result) in futures_util::future::join_all(sends).await {
        let done = store.now();
        let attempt = match &result {
            Ok(()) => Attempt::Delivered,
            Err(e) if !d.active || d.attempts >= settings.max_attempts => Attempt::Failed(e),
            Err(e) => Attempt::Retry(done + settings.backoff(d.attempts), e),
        };
        if let Err(e) = &result {
            tracing::info!(delivery = d.id, webhook = d.webhook_id, attempts = d.attempts, error = %e, "webhook delivery failed");
        }
        queries::finish_delivery(store, d.id, done, attempt).await?;
    }
    Ok(())
}
