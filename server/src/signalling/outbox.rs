//! A socket's bounded outbound queue: the hub pushes without waiting, the socket task pops.
//!
//! It does what a `tokio::sync::mpsc` channel of capacity N would (one producer, one consumer,
//! `try_send` refusing when N messages wait, the consumer told when the producer lets go) at a
//! fraction of its idle cost: a tokio channel allocates a block of 32 slots and cache-padded
//! counters up front (about 1.3 KiB), this holds a `VecDeque` that grows with what is queued and
//! gives its room back once a burst has been sent. Every idle socket pays for one.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use super::room::Outbound;

/// Room kept in an emptied queue; a larger one (left by a burst) is given back.
const KEEP_EMPTY: usize = 1;

struct Shared {
    state: Mutex<State>,
    /// Wakes the consumer; `notify_one` keeps a permit when nobody waits, so no wake is lost.
    ready: Notify,
}

struct State {
    queue: VecDeque<Outbound>,
    capacity: usize,
    /// The sender was dropped: the consumer gets what is queued, then `None`.
    sender_gone: bool,
    /// The receiver was dropped: sends fail with `Closed`.
    receiver_gone: bool,
}

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    // Each change under the lock is a single push, pop or flag: consistent even if poisoned.
    shared.state.lock().unwrap_or_else(|p| p.into_inner())
}

/// Why a message was not queued. The message comes back with the error.
#[derive(Debug, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// `capacity` messages already wait: the consumer does not keep up.
    Full(T),
    /// The consumer is gone.
    Closed(T),
}

/// The hub's end. Not `Clone`: a queue has one producer, and dropping it closes the queue.
pub struct Sender {
    shared: Arc<Shared>,
}

/// The socket task's end.
pub struct Receiver {
    shared: Arc<Shared>,
}

/// A queue holding at most `capacity` (at least 1) messages.
pub fn channel(capacity: usize) -> (Sender, Receiver) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            capacity: capacity.max(1),
            sender_gone: false,
            receiver_gone: false,
        }),
        ready: Notify::new(),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

impl Sender {
    /// Queues `message` unless the queue is full or its consumer gone; never waits.
    pub fn try_send(&self, message: Outbound) -> Result<(), TrySendError<Outbound>> {
        let mut state = lock(&self.shared);
        if state.receiver_gone {
            return Err(TrySendError::Closed(message));
        }
        if state.queue.len() >= state.capacity {
            return Err(TrySendError::Full(message));
        }
        if state.queue.capacity() == 0 {
            // One message at a time is the common case: start with room for one.
            state.queue.reserve_exact(1);
        }
        state.queue.push_back(message);
        drop(state);
        self.shared.ready.notify_one();
        Ok(())
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        lock(&self.shared).sender_gone = true;
        self.shared.ready.notify_one();
    }
}

impl Receiver {
    /// The next message; `None` once the sender is gone and the queue is empty.
    pub async fn recv(&mut self) -> Option<Outbound> {
        loop {
            if let Some(next) = self.try_recv() {
                return Some(next);
            }
            if lock(&self.shared).sender_gone {
                // Something may have been queued between the two looks; the sender is gone, so
                // nothing more will be.
                return self.try_recv();
            }
            self.shared.ready.notified().await;
        }
    }

    /// The next message if one is queued.
    pub fn try_recv(&mut self) -> Option<Outbound> {
        let mut state = lock(&self.shared);
        let next = state.queue.pop_front();
        if state.queue.is_empty() && state.queue.capacity() > KEEP_EMPTY {
            state.queue = VecDeque::new();
        }
        next
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let mut state = lock(&self.shared);
        state.receiver_gone = true;
        state.queue = VecDeque::new();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::signalling::protocol::Closing;

    fn text(s: &str) -> Outbound {
        Outbound::Text(s.to_owned())
    }

    fn unwrap_text(m: Option<Outbound>) -> String {
        match m {
            Some(Outbound::Text(t)) => t,
            other => panic!("expected a text, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn delivers_in_order_and_refuses_beyond_capacity() {
        let (tx, mut rx) = channel(2);
        tx.try_send(text("a")).unwrap();
        tx.try_send(text("b")).unwrap();
        assert!(matches!(tx.try_send(text("c")), Err(TrySendError::Full(_))));
        assert_eq!(unwrap_text(rx.recv().await), "a");
        tx.try_send(text("c")).unwrap();
        assert_eq!(unwrap_text(rx.recv().await), "b");
        assert_eq!(unwrap_text(rx.recv().await), "c");
        assert!(rx.try_recv().is_none());
    }

    #[tokio::test]
    async fn the_consumer_drains_then_sees_the_sender_gone() {
        let (tx, mut rx) = channel(8);
        tx.try_send(text("a")).unwrap();
        tx.try_send(Outbound::Close(Closing::Replaced)).unwrap();
        drop(tx);
        assert_eq!(unwrap_text(rx.recv().await), "a");
        assert!(matches!(
            rx.recv().await,
            Some(Outbound::Close(Closing::Replaced))
        ));
        assert!(rx.recv().await.is_none());
        assert!(rx.recv().await.is_none());
    }

    #[tokio::test]
    async fn a_waiting_consumer_is_woken_by_a_send_and_by_the_sender_leaving() {
        let (tx, mut rx) = channel(8);
        let consumer = tokio::spawn(async move {
            let first = unwrap_text(rx.recv().await);
            let end = rx.recv().await;
            (first, end.is_none())
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        tx.try_send(text("late")).unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(tx);
        let (first, ended) = tokio::time::timeout(Duration::from_secs(5), consumer)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first, "late");
        assert!(ended);
    }

    #[tokio::test]
    async fn sends_fail_once_the_consumer_is_gone() {
        let (tx, rx) = channel(8);
        tx.try_send(text("a")).unwrap();
        drop(rx);
        assert!(matches!(
            tx.try_send(text("b")),
            Err(TrySendError::Closed(_))
        ));
    }

    #[test]
    fn an_emptied_queue_gives_back_the_room_of_a_burst() {
        let (tx, mut rx) = channel(256);
        for i in 0..100 {
            tx.try_send(text(&i.to_string())).unwrap();
        }
        while rx.try_recv().is_some() {}
        assert!(lock(&rx.shared).queue.capacity() <= KEEP_EMPTY);
    }

    #[test]
    fn an_idle_queue_is_small() {
        // The whole of a queue that holds nothing: the shared state behind one allocation.
        let size = std::mem::size_of::<Shared>();
        assert!(size <= 128, "an outbound queue costs {size} bytes");
    }
}
