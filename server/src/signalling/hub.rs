//! The in-process signalling hub: who is in which session, and delivery to their sockets.
//!
//! One std `Mutex` guards all rooms. It is held only to look up recipients, number a message and
//! `try_send` it into bounded queues — never across an `.await` — so the order in which the lock
//! is taken is the order of `seq` within a session, and per-sender order is kept. A socket whose
//! queue is full is dropped rather than buffered without limit.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::value::RawValue;
use tokio::sync::mpsc;

use super::protocol::{CLOSE_REPLACED, Participant, PeerInfo, ServerMessage};

/// What a socket task is asked to do.
#[derive(Debug)]
pub enum Outbound {
    Text(String),
    /// Close with this code and reason, then stop.
    Close(u16, &'static str),
}

struct Member {
    participant: Participant,
    conn: u64,
    tx: mpsc::Sender<Outbound>,
}

#[derive(Default)]
struct Room {
    seq: u64,
    /// In order of arrival: of each pair, the earlier one is polite.
    members: Vec<Member>,
}

impl Room {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Sends to one member; a member whose queue is full is removed (its socket task sees its
    /// queue close and hangs up) and reported back.
    fn send_to(&mut self, index: usize, text: String) -> Option<Participant> {
        match self.members[index].tx.try_send(Outbound::Text(text)) {
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => None,
            Err(mpsc::error::TrySendError::Full(_)) => Some(self.members.remove(index).participant),
        }
    }

    /// Sends a message built for each recipient (with a fresh `seq`) to everyone but `except`.
    /// Members dropped as too slow are announced as having left.
    fn broadcast(&mut self, except: Option<u64>, build: &dyn Fn(u64) -> String) {
        let mut dropped = Vec::new();
        let mut i = 0;
        while i < self.members.len() {
            if Some(self.members[i].conn) == except {
                i += 1;
                continue;
            }
            let seq = self.next_seq();
            match self.send_to(i, build(seq)) {
                Some(gone) => dropped.push(gone),
                None => i += 1,
            }
        }
        for gone in dropped {
            tracing::warn!(participant = %gone.id, "dropped a participant whose queue was full");
            self.broadcast(None, &|seq| {
                ServerMessage::Left {
                    seq,
                    participant_id: &gone.id,
                }
                .to_json()
            });
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum HubError {
    UnknownParticipant,
    NotInSession,
}

pub struct Hub {
    rooms: Mutex<HashMap<i64, Room>>,
    next_conn: AtomicU64,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            rooms: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
        }
    }
}

impl Hub {
    pub fn connection_id(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    fn rooms(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Room>> {
        // A panic while holding the lock leaves the map consistent (every change is a single
        // push or remove), so a poisoned lock is still safe to use.
        self.rooms
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a participant and sends it `welcome`; the others get `joined`. A participant whose
    /// identity is already present replaces that connection silently.
    pub fn join(
        &self,
        session_id: i64,
        participant: Participant,
        conn: u64,
        tx: mpsc::Sender<Outbound>,
    ) {
        let mut rooms = self.rooms();
        let room = rooms.entry(session_id).or_default();
        let existing = room
            .members
            .iter()
            .position(|m| m.participant.id == participant.id);
        let replacing = existing.is_some();
        let member = Member {
            participant,
            conn,
            tx,
        };
        let index = match existing {
            Some(i) => {
                let old = std::mem::replace(&mut room.members[i], member);
                let _ = old.tx.try_send(Outbound::Close(CLOSE_REPLACED, "replaced"));
                i
            }
            None => {
                room.members.push(member);
                room.members.len() - 1
            }
        };
        let seq = room.next_seq();
        let me = &room.members[index].participant;
        let welcome = ServerMessage::Welcome {
            seq,
            session_id,
            you: me,
            participants: room
                .members
                .iter()
                .filter(|m| m.conn != conn)
                .map(|m| PeerInfo {
                    participant: &m.participant,
                    polite: false,
                })
                .collect(),
        }
        .to_json();
        let me = me.clone();
        if room.send_to(index, welcome).is_some() {
            return;
        }
        if !replacing {
            room.broadcast(Some(conn), &|seq| {
                ServerMessage::Joined {
                    seq,
                    participant: &me,
                    polite: true,
                }
                .to_json()
            });
        }
    }

    /// Removes connection `conn`, if it is still the current one for its identity, and tells the
    /// others. Returns whether it was.
    pub fn leave(&self, session_id: i64, conn: u64) -> bool {
        let mut rooms = self.rooms();
        let Some(room) = rooms.get_mut(&session_id) else {
            return false;
        };
        let Some(index) = room.members.iter().position(|m| m.conn == conn) else {
            return false;
        };
        let gone = room.members.remove(index).participant;
        room.broadcast(None, &|seq| {
            ServerMessage::Left {
                seq,
                participant_id: &gone.id,
            }
            .to_json()
        });
        if room.members.is_empty() {
            rooms.remove(&session_id);
        }
        true
    }

    /// Relays a description or candidate, unchanged, from connection `conn` to participant `to`.
    pub fn signal(
        &self,
        session_id: i64,
        conn: u64,
        to: &str,
        data: &RawValue,
    ) -> Result<(), HubError> {
        let mut rooms = self.rooms();
        let room = rooms.get_mut(&session_id).ok_or(HubError::NotInSession)?;
        let from = room
            .members
            .iter()
            .find(|m| m.conn == conn)
            .map(|m| m.participant.id.clone())
            .ok_or(HubError::NotInSession)?;
        let index = room
            .members
            .iter()
            .position(|m| m.participant.id == to && m.conn != conn)
            .ok_or(HubError::UnknownParticipant)?;
        let seq = room.next_seq();
        let text = ServerMessage::Signal {
            seq,
            from: &from,
            data,
        }
        .to_json();
        if let Some(gone) = room.send_to(index, text) {
            room.broadcast(None, &|seq| {
                ServerMessage::Left {
                    seq,
                    participant_id: &gone.id,
                }
                .to_json()
            });
        }
        Ok(())
    }

    /// Sends a chat line to everyone in the session, its sender included.
    pub fn chat(
        &self,
        session_id: i64,
        from: &Participant,
        text: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) {
        let mut rooms = self.rooms();
        if let Some(room) = rooms.get_mut(&session_id) {
            room.broadcast(None, &|seq| {
                ServerMessage::Chat {
                    seq,
                    from: &from.id,
                    name: &from.name,
                    text,
                    at,
                }
                .to_json()
            });
        }
    }

    /// Sends an error to one connection.
    pub fn error(&self, session_id: i64, conn: u64, code: &str, message: &str) {
        let mut rooms = self.rooms();
        if let Some(room) = rooms.get_mut(&session_id) {
            if let Some(index) = room.members.iter().position(|m| m.conn == conn) {
                let seq = room.next_seq();
                room.send_to(index, ServerMessage::Error { seq, code, message }.to_json());
            }
        }
    }

    /// Tells everyone the session has ended, then closes their sockets and forgets the room.
    pub fn end(&self, session_id: i64, outcome: &str) {
        let mut rooms = self.rooms();
        if let Some(mut room) = rooms.remove(&session_id) {
            room.broadcast(None, &|seq| ServerMessage::Ended { seq, outcome }.to_json());
            for m in &room.members {
                let _ = m.tx.try_send(Outbound::Close(1000, "session ended"));
            }
        }
    }

    /// Participants present in a session, in order of arrival.
    pub fn present(&self, session_id: i64) -> Vec<Participant> {
        self.rooms()
            .get(&session_id)
            .map(|r| r.members.iter().map(|m| m.participant.clone()).collect())
            .unwrap_or_default()
    }

    pub fn connections(&self) -> usize {
        self.rooms().values().map(|r| r.members.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::super::protocol::ParticipantRole;
    use super::*;

    fn p(id: &str) -> Participant {
        Participant {
            id: id.into(),
            role: ParticipantRole::Host,
            name: id.into(),
        }
    }

    fn next(rx: &mut mpsc::Receiver<Outbound>) -> serde_json::Value {
        match rx.try_recv().unwrap() {
            Outbound::Text(t) => serde_json::from_str(&t).unwrap(),
            Outbound::Close(code, _) => serde_json::json!({"close": code}),
        }
    }

    #[test]
    fn join_signal_leave_with_rising_seq_and_politeness() {
        let hub = Hub::default();
        let (atx, mut arx) = mpsc::channel(8);
        let (btx, mut brx) = mpsc::channel(8);
        hub.join(1, p("a"), 1, atx);
        assert_eq!(next(&mut arx)["type"], "welcome");
        hub.join(1, p("b"), 2, btx);
        let welcome = next(&mut brx);
        assert_eq!(welcome["participants"][0]["id"], "a");
        assert_eq!(welcome["participants"][0]["polite"], false);
        let joined = next(&mut arx);
        assert_eq!(
            (joined["type"].as_str(), joined["polite"].as_bool()),
            (Some("joined"), Some(true))
        );
        assert!(joined["seq"].as_u64() > welcome["seq"].as_u64());

        let data = RawValue::from_string(r#"{"x": 1}"#.into()).unwrap();
        hub.signal(1, 2, "a", &data).unwrap();
        let relayed = next(&mut arx);
        assert_eq!(relayed["from"], "b");
        assert_eq!(relayed["data"]["x"], 1);
        assert_eq!(
            hub.signal(1, 2, "nobody", &data),
            Err(HubError::UnknownParticipant)
        );
        assert_eq!(
            hub.signal(1, 2, "b", &data),
            Err(HubError::UnknownParticipant)
        );

        assert!(hub.leave(1, 2));
        assert_eq!(next(&mut arx)["type"], "left");
        assert!(!hub.leave(1, 2));
    }

    #[test]
    fn same_identity_replaces_without_announcement() {
        let hub = Hub::default();
        let (atx, mut arx) = mpsc::channel(8);
        let (b1, mut b1rx) = mpsc::channel(8);
        let (b2, mut b2rx) = mpsc::channel(8);
        hub.join(1, p("a"), 1, atx);
        hub.join(1, p("b"), 2, b1);
        hub.join(1, p("b"), 3, b2);
        next(&mut arx);
        assert_eq!(next(&mut arx)["type"], "joined");
        assert!(arx.try_recv().is_err(), "a sees no second join");
        next(&mut b1rx);
        assert_eq!(next(&mut b1rx)["close"], CLOSE_REPLACED);
        assert_eq!(next(&mut b2rx)["type"], "welcome");
        assert!(!hub.leave(1, 2), "the replaced connection leaves silently");
        assert_eq!(hub.present(1).len(), 2);
    }

    #[test]
    fn a_full_queue_drops_that_participant_only() {
        let hub = Hub::default();
        let (atx, mut arx) = mpsc::channel(64);
        let (btx, _brx_never_read) = mpsc::channel(2);
        hub.join(1, p("a"), 1, atx);
        hub.join(1, p("b"), 2, btx);
        for _ in 0..4 {
            hub.chat(1, &p("a"), "hi", chrono::Utc::now());
        }
        assert_eq!(hub.present(1).len(), 1);
        let mut saw_left = false;
        while let Ok(Outbound::Text(t)) = arx.try_recv() {
            saw_left |= t.contains(r#""type":"left""#);
        }
        assert!(saw_left);
    }
}
