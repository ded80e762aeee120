//! Supervised background work (issue 14 item 7).
//!
//! Every long-lived loop the server runs beside its requests (the notification worker, the
//! records sweeper, the schedule keeper with its sealing pass, the connectivity sweep, the hub's
//! sweeper, the Redis bus's subscriber, log writer and pinger) is started through
//! [`Tasks::spawn_loop`] under a name. The loop runs inside a span
//! carrying that name, so whatever it logs says which loop it was; if it returns an error or
//! panics, the supervisor logs that with the name and starts it again after a pause that grows
//! with consecutive failures. Each loop is handed a [`Stop`] and selects on it between rounds;
//! [`Tasks::shutdown`] raises it and waits, up to a deadline, for every loop to finish its round
//! and return, naming those that did not.
//!
//! Per-connection work (a WebSocket's task, which is also the one consumer of its outbox, and a
//! connectivity test's peer) is not supervised here: it ends with its connection, a restart
//! would have no socket to serve, and the drain in `startup.rs` waits for sockets on its own.

use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::watch;
use tokio::task::AbortHandle;
use tracing::Instrument;

/// Longest pause before restarting a loop that keeps failing.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The registry of background loops, held by the application. A cheap clone of an `Arc`.
#[derive(Clone)]
pub struct Tasks {
    inner: Arc<Inner>,
}

struct Inner {
    stop: watch::Sender<bool>,
    /// Loops not yet returned, by id. Changed only by `spawn_loop` and by each loop's guard, so
    /// `shutdown` can wait for it to empty without polling.
    running: watch::Sender<BTreeMap<u64, Running>>,
    next_id: AtomicU64,
    restarts: AtomicU64,
}

struct Running {
    name: &'static str,
    /// Set just after the spawn; a loop that already finished by then is not in the map.
    abort: Option<AbortHandle>,
}

/// Tells a loop that the application is stopping. Loops select on it between rounds.
#[derive(Clone)]
pub struct Stop(watch::Receiver<bool>);

impl Stop {
    pub fn is_stopped(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once shutdown has begun (at once if it already has).
    pub async fn stopped(&mut self) {
        // An error means the registry is gone, which is a stop too.
        let _ = self.0.wait_for(|stop| *stop).await;
    }

    /// Waits for the interval's next tick; `false` when shutdown began instead, and the loop
    /// should return.
    pub async fn tick(&mut self, tick: &mut tokio::time::Interval) -> bool {
        tokio::select! {
            _ = self.stopped() => false,
            _ = tick.tick() => !self.is_stopped(),
        }
    }
}

impl Default for Tasks {
    fn default() -> Self {
        Self::new()
    }
}

impl Tasks {
    pub fn new() -> Tasks {
        Tasks {
            inner: Arc::new(Inner {
                stop: watch::Sender::new(false),
                running: watch::Sender::new(BTreeMap::new()),
                next_id: AtomicU64::new(1),
                restarts: AtomicU64::new(0),
            }),
        }
    }

    /// Runs the loop `make` builds, under `name`, on the current runtime. `make` is called again
    /// after the loop fails (an error or a panic, both logged with the name); a loop that
    /// returns `Ok` is finished and not restarted. After shutdown has begun nothing is started.
    pub fn spawn_loop<F, Fut>(&self, name: &'static str, mut make: F)
    where
        F: FnMut(Stop) -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        if *self.inner.stop.borrow() {
            tracing::debug!(task = name, "not started: shutting down");
            return;
        }
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        self.inner.running.send_modify(|m| {
            m.insert(id, Running { name, abort: None });
        });
        let guard = Deregister {
            inner: self.inner.clone(),
            id,
        };
        let mut stop = Stop(self.inner.stop.subscribe());
        let span = tracing::info_span!("task", task = name);
        let handle = tokio::spawn(async move {
            let guard = guard;
            let mut failures = 0u32;
            loop {
                let round = AssertUnwindSafe(make(stop.clone())).catch_unwind();
                match round.instrument(span.clone()).await {
                    Ok(Ok(())) => {
                        tracing::debug!(task = name, "background loop finished");
                        break;
                    }
                    Ok(Err(e)) => {
                        tracing::error!(
                            task = name,
                            error = format!("{e:#}"),
                            "background loop failed; restarting it"
                        );
                    }
                    Err(panic) => {
                        tracing::error!(
                            task = name,
                            panic = panic_message(&*panic),
                            "background loop panicked; restarting it"
                        );
                    }
                }
                guard.inner.restarts.fetch_add(1, Ordering::Relaxed);
                failures = failures.saturating_add(1);
                let pause =
                    Duration::from_secs(1 << failures.min(6).saturating_sub(1)).min(MAX_BACKOFF);
                tokio::select! {
                    _ = stop.stopped() => break,
                    _ = tokio::time::sleep(pause) => {}
                }
                if stop.is_stopped() {
                    break;
                }
            }
            drop(guard);
        });
        let abort = handle.abort_handle();
        self.inner.running.send_modify(|m| {
            if let Some(r) = m.get_mut(&id) {
                r.abort = Some(abort);
            }
        });
    }

    /// Restarts after failures, over all loops since start-up.
    pub fn restarts(&self) -> u64 {
        self.inner.restarts.load(Ordering::Relaxed)
    }

    /// Names of the loops still running.
    pub fn running(&self) -> Vec<&'static str> {
        self.inner
            .running
            .borrow()
            .values()
            .map(|r| r.name)
            .collect()
    }

    /// Tells every loop to stop and waits up to `deadline` for all of them to return. Those
    /// still running then are logged by name, aborted, and their names returned. Safe to call
    /// more than once (a later call waits for what is left).
    pub async fn shutdown(&self, deadline: Duration) -> Vec<&'static str> {
        self.inner.stop.send_replace(true);
        let mut running = self.inner.running.subscribe();
        let all_done = running.wait_for(|m| m.is_empty());
        if let Ok(Ok(_)) = tokio::time::timeout(deadline, all_done).await {
            return Vec::new();
        }
        let late: Vec<(&'static str, Option<AbortHandle>)> = self
            .inner
            .running
            .borrow()
            .values()
            .map(|r| (r.name, r.abort.clone()))
            .collect();
        let names: Vec<&'static str> = late.iter().map(|(name, _)| *name).collect();
        tracing::warn!(tasks = ?names, deadline_seconds = deadline.as_secs_f64(), "background loops did not stop in time; abandoning them");
        for (_, abort) in late {
            if let Some(abort) = abort {
                abort.abort();
            }
        }
        names
    }
}

/// Takes a loop out of the registry however its task ends (returned, panicked past the
/// supervisor, or aborted).
struct Deregister {
    inner: Arc<Inner>,
    id: u64,
}

impl Drop for Deregister {
    fn drop(&mut self) {
        self.inner.running.send_modify(|m| {
            m.remove(&self.id);
        });
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(not a string)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Mutex;

    use super::*;

    /// Collects what the fmt subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
        }
    }

    /// A current-thread runtime runs spawned loops on this thread, under this default subscriber.
    fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .finish();
        (captured, tracing::subscriber::set_default(subscriber))
    }

    async fn until(mut done: impl FnMut() -> bool) {
        tokio::time::timeout(Duration::from_secs(5), async {
            while !done() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("condition not met within 5 s");
    }

    #[tokio::test]
    async fn a_failing_loop_is_logged_with_its_name_and_restarted() {
        let (logs, _guard) = capture();
        let tasks = Tasks::new();
        tasks.spawn_loop("flaky pass", |_stop| async {
            tracing::warn!("a round went wrong");
            anyhow::bail!("the store is unreachable")
        });
        let panicking = Tasks::new();
        panicking.spawn_loop("panicky pass", |_stop| async { panic!("out of bounds") });
        until(|| tasks.restarts() == 1 && panicking.restarts() == 1).await;
        let text = logs.text();
        let failed = text
            .lines()
            .find(|l| l.contains("background loop failed"))
            .unwrap_or_else(|| panic!("no failure logged in:\n{text}"));
        assert!(failed.contains("task=\"flaky pass\""), "{failed}");
        assert!(failed.contains("the store is unreachable"), "{failed}");
        // What the loop logs itself carries its name through the span.
        let own = text
            .lines()
            .find(|l| l.contains("a round went wrong"))
            .unwrap();
        assert!(own.contains("flaky pass"), "{own}");
        let panicked = text
            .lines()
            .find(|l| l.contains("background loop panicked"))
            .unwrap_or_else(|| panic!("no panic logged in:\n{text}"));
        assert!(panicked.contains("task=\"panicky pass\""), "{panicked}");
        assert!(panicked.contains("out of bounds"), "{panicked}");
        // Both are waiting to be restarted; shutdown ends the wait at once.
        assert!(tasks.shutdown(Duration::from_secs(1)).await.is_empty());
        assert!(panicking.shutdown(Duration::from_secs(1)).await.is_empty());
    }

    #[tokio::test]
    async fn shutdown_waits_for_a_loop_to_finish_its_round() {
        let tasks = Tasks::new();
        let finished = Arc::new(AtomicU64::new(0));
        let seen = finished.clone();
        tasks.spawn_loop("slow round", move |mut stop| {
            let finished = seen.clone();
            async move {
                stop.stopped().await;
                // The round in hand is finished before the loop returns.
                tokio::time::sleep(Duration::from_millis(200)).await;
                finished.store(1, Ordering::Relaxed);
                Ok(())
            }
        });
        assert_eq!(tasks.running(), vec!["slow round"]);
        let late = tasks.shutdown(Duration::from_secs(5)).await;
        assert!(late.is_empty(), "{late:?}");
        assert_eq!(finished.load(Ordering::Relaxed), 1);
        assert!(tasks.running().is_empty());
        // Nothing starts once shutdown has begun.
        tasks.spawn_loop("too late", |_stop| async { Ok(()) });
        assert!(tasks.running().is_empty());
    }

    #[tokio::test]
    async fn shutdown_gives_up_at_the_deadline_and_names_the_loop() {
        let (logs, _guard) = capture();
        let tasks = Tasks::new();
        tasks.spawn_loop("stubborn", |_stop| async {
            // Never looks at its stop signal.
            std::future::pending::<()>().await;
            Ok(())
        });
        tasks.spawn_loop("polite", |mut stop| async move {
            stop.stopped().await;
            Ok(())
        });
        let started = std::time::Instant::now();
        let late = tasks.shutdown(Duration::from_millis(300)).await;
        let waited = started.elapsed();
        assert_eq!(late, vec!["stubborn"]);
        assert!(waited >= Duration::from_millis(300), "{waited:?}");
        assert!(waited < Duration::from_secs(3), "{waited:?}");
        let text = logs.text();
        let line = text
            .lines()
            .find(|l| l.contains("did not stop in time"))
            .unwrap_or_else(|| panic!("nothing logged in:\n{text}"));
        assert!(
            line.contains("stubborn") && !line.contains("polite"),
            "{line}"
        );
        // The abandoned loop was aborted, so it leaves the registry.
        until(|| tasks.running().is_empty()).await;
    }
}
