//! The signalling hub: who is in which session, numbering and delivery of messages, the
//! waiting room, resumes, and sessions spread over instances through the bus.
//!
//! Each instance keeps the participants whose sockets it holds (and, for a grace period, those
//! whose sockets dropped) in `Local`, behind one std `Mutex` that is held only to look up,
//! number and `try_send` — never across an `.await`. A message is numbered by the instance that
//! holds its recipient, with that participant's own counter, so `seq` rises by one per message a
//! participant receives and a gap always means loss. What this instance does not hold is the
//! bus's (`bus.rs`): the membership of every instance, messages for participants held
//! elsewhere, each participant's recent messages for a resume on another instance. The hub
//! does not know which bus it has (one instance alone, or Redis); where the bus has no view
//! (alone, or Redis down) the hub answers from what it holds. Records are written to SQL before
//! anyone is told (`Store::add_event`).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures_util::future::{BoxFuture, FutureExt};
use serde_json::value::RawValue;

use super::bus::{Bus, Inbound, Wire, contiguous_after};
use super::outbox::{self, TrySendError};
use super::protocol::{
    Closing, IceServer, MediaKind, MemberState, Participant, PeerInfo, ServerMessage, SignalError,
    numbered, seq_of,
};
use super::room::{Member, Outbound};
use crate::app::recording::{self as recording_rules, RecordingState};
use crate::app::session::{PETITIONER, transition};
use crate::domain::{EventKind, SessionId};
use crate::metrics::Metrics;
use crate::store::Store;

/// A participant held by this instance.
struct Held {
    member: Member,
    /// None while the socket is gone and a resume may still come.
    tx: Option<outbox::Sender>,
    last_seq: u64,
    /// Recent messages for a resume. Grown a slot at a time while short: most sockets sit idle
    /// with a few messages logged, and every one of them pays for the spare room.
    log: VecDeque<Box<str>>,
    log_bytes: usize,
    dropped_at: Option<Instant>,
    /// Messages for a socket that has not had its first message yet (`welcome` or `resumed`),
    /// not yet numbered: they follow it. Without this, a message from another participant
    /// could overtake the welcome, which makes a client start over and forget it (issue 15
    /// item 2).
    pending: Option<Vec<String>>,
}

/// Bytes of recent messages kept per participant held here.
const LOG_CAP_BYTES: usize = 64 * 1024;

#[derive(Default)]
struct Local {
    /// Session → participants held here, in order of arrival.
    sessions: HashMap<SessionId, Vec<Held>>,
}

impl Local {
    fn held(&mut self, session: SessionId, pid: &str) -> Option<&mut Held> {
        self.sessions
            .get_mut(&session)?
            .iter_mut()
            .find(|h| h.member.participant.id == pid)
    }
}

#[derive(Debug, Clone)]
pub struct HubConfig {
    pub max_participants: usize,
    pub resume_grace: Duration,
    pub waiting_room: bool,
    /// Messages kept per participant for a resume on this instance (also capped at
    /// `LOG_CAP_BYTES`, so that a long, busy session does not grow without bound).
    pub log_cap: usize,
    /// Sessions are recorded (`recording.enabled`): participants are told the recording's state.
    pub recording: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum HubError {
    UnknownParticipant,
    NotAdmitted,
    NotAllowed,
    NotWaiting,
    Full,
}

impl HubError {
    pub fn code(&self) -> SignalError {
        match self {
            HubError::UnknownParticipant => SignalError::UnknownParticipant,
            HubError::NotAdmitted => SignalError::NotAdmitted,
            HubError::NotAllowed => SignalError::NotAllowed,
            HubError::NotWaiting => SignalError::NotWaiting,
            HubError::Full => SignalError::SessionFull,
        }
    }
}

/// How a socket ended, which decides what the others are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Departure {
    /// Left on purpose (a `leave`, a normal close, removal, a protocol violation): others are
    /// told at once.
    Leave,
    /// The line dropped: keep the place for the resume grace period, tell nobody yet.
    Drop,
    /// Replaced by a newer connection, or the session ended: nothing to do.
    Silent,
}

/// A cheap clone of an `Arc`: the recorder tells the session's participants through it too.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    instance: String,
    local: Mutex<Local>,
    bus: Arc<dyn Bus>,
    store: Store,
    config: HubConfig,
    metrics: Arc<Metrics>,
    next_conn: AtomicU64,
    /// Instances seen dead (liveness key gone), and since when: their members are swept after
    /// the grace period.
    dead_since: Mutex<HashMap<String, Instant>>,
    /// One participant's comings and goings on this instance, one at a time: a socket's leave
    /// (with its bus step and its `left` on the timeline) finishes before the same participant's
    /// next socket is let in. Without this a host who left and came straight back could be
    /// written `joined`, then `left`, and the record said they were gone. Striped by session and
    /// participant: two others sharing a stripe only wait for each other's few milliseconds.
    doors: [tokio::sync::Mutex<()>; DOORS],
}

const DOORS: usize = 64;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every change under these locks is a single insert, remove or field update, so the data is
    // consistent even if a panic poisoned the lock.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Hub {
    /// A hub over `bus`, which start-up chose (`bus.rs`); it starts the hub's sweeper.
    pub fn new(
        store: Store,
        config: HubConfig,
        metrics: Arc<Metrics>,
        bus: Arc<dyn Bus>,
        tasks: &crate::tasks::Tasks,
    ) -> Hub {
        let inner = Arc::new(Inner {
            instance: bus.instance().to_owned(),
            local: Mutex::new(Local::default()),
            bus,
            store,
            config,
            metrics,
            next_conn: AtomicU64::new(1),
            dead_since: Mutex::new(HashMap::new()),
            doors: std::array::from_fn(|_| tokio::sync::Mutex::new(())),
        });
        let inbound: std::sync::Weak<Inner> = Arc::downgrade(&inner);
        inner.bus.serve(inbound);
        let sweeper = Arc::downgrade(&inner);
        tasks.spawn_loop("hub sweeper", move |mut stop| {
            let sweeper = sweeper.clone();
            async move {
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                let mut round = 0u32;
                while stop.tick(&mut tick).await {
                    let Some(inner) = sweeper.upgrade() else {
                        break;
                    };
                    inner.sweep(round % 5 == 0).await;
                    round = round.wrapping_add(1);
                }
                Ok(())
            }
        });
        Hub { inner }
    }

    pub fn connection_id(&self) -> u64 {
        self.inner.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// Sessions with a participant held here.
    pub fn sessions_held(&self) -> usize {
        lock(&self.inner.local).sessions.len()
    }

    /// Whether `pid` may come in: already a member (a replacement or resume), or there is room.
    pub async fn has_room_for(&self, session: SessionId, pid: &str) -> bool {
        let members = self.inner.members(session).await;
        members.iter().any(|m| m.participant.id == pid)
            || members.len() < self.inner.config.max_participants
    }

    /// Takes in a new socket for `participant`. With `resume` (the last seq the client saw), a
    /// participant still within its grace period gets what it missed and nobody sees it leave
    /// and rejoin; otherwise it is welcomed afresh.
    ///
    /// Joining is one step with seeing who is there: the newcomer is put in the room and the
    /// room read under one lock here, and in one step on the bus across instances, so of two
    /// participants joining at once the second always sees the first and announces itself to
    /// it; nobody is stranded unseen (issue 15 item 1). The newcomer's first message is its
    /// `welcome` (or `resumed`): what others send it meanwhile waits behind it (item 2).
    ///
    /// The petitioner's place is held by a seat, the join token's own id. Only the same seat
    /// resuming within the grace period keeps an admitted place; a second socket (another
    /// device, or the same page starting afresh) waits to be admitted again, and the timeline
    /// records the replacement (item 5).
    #[allow(clippy::too_many_arguments, reason = "one socket's whole introduction")]
    pub async fn attach(
        &self,
        session: SessionId,
        participant: Participant,
        seat: Option<String>,
        conn: u64,
        tx: outbox::Sender,
        resume: Option<u64>,
        ice_servers: &[IceServer],
    ) -> Result<(), HubError> {
        let inner = &self.inner;
        let pid = participant.id.clone();
        let _door = inner.door(session, &pid).lock().await;
        // Listen on the session's channel before anyone can see us in the room.
        inner.bus.listen(session).await;
        let members = inner.members(session).await;
        let existing = members.iter().find(|m| m.participant.id == pid).cloned();
        if existing.is_none() && members.len() >= inner.config.max_participants {
            return Err(HubError::Full);
        }
        let same_seat = existing.as_ref().is_some_and(|e| e.seat == seat);
        let resuming = resume.is_some() && same_seat;
        let gated = inner.config.waiting_room && participant.role.waits();
        let state = match &existing {
            Some(e) if resuming || !gated => e.state,
            _ if gated => MemberState::Waiting,
            _ => MemberState::Admitted,
        };
        let replaced = existing.as_ref().is_some_and(|_| gated && !resuming);
        // From here on, messages for this participant wait for its first one.
        if let Some(h) = lock(&inner.local).held(session, &pid) {
            h.pending.get_or_insert_with(Vec::new);
        }
        // A resume needs every message since the client's last seq, here or on the bus.
        let missed = match (resume, resuming) {
            (Some(after), true) => inner.missed(session, &pid, after).await,
            _ => None,
        };
        let member = Member {
            participant: participant.clone(),
            state,
            instance: inner.instance.clone(),
            conn,
            connected: true,
            since_ms: now_ms(),
            joined_ms: match (&missed, &existing) {
                (Some(_), Some(e)) => e.joined_ms,
                _ => after_everyone(&members, &pid),
            },
            seat,
        };
        // Taking over from another instance: continue that participant's numbering.
        let mut floor = resume.unwrap_or(0);
        if let Some(e) = existing.as_ref().filter(|e| e.instance != inner.instance) {
            floor = floor.max(inner.bus.last_seq(session, &pid).await);
            // Connected or in its grace period, the old instance must let go of it, or it would
            // go on taking in messages meant for the participant.
            let close = Wire::Close {
                pid: pid.clone(),
                instance: e.instance.clone(),
                conn: e.conn,
                closing: Closing::Replaced,
            };
            inner.bus.publish(session, close).await;
        }
        let (first_here, local_others) = {
            let mut local = lock(&inner.local);
            let first = !local.sessions.contains_key(&session);
            let held = local.sessions.entry(session).or_default();
            match held.iter_mut().find(|h| h.member.participant.id == pid) {
                Some(h) => {
                    if let Some(old) = h.tx.replace(tx) {
                        let _ = old.try_send(Outbound::Close(Closing::Replaced));
                    }
                    h.member = member.clone();
                    h.dropped_at = None;
                    h.last_seq = h.last_seq.max(floor);
                    h.pending.get_or_insert_with(Vec::new);
                }
                None => {
                    // A session holds a handful of participants: grow one at a time rather
                    // than doubling, since every idle session pays for the spare room.
                    held.reserve_exact(1);
                    held.push(Held {
                        member: member.clone(),
                        tx: Some(tx),
                        last_seq: floor,
                        log: VecDeque::new(),
                        log_bytes: 0,
                        dropped_at: None,
                        pending: Some(Vec::new()),
                    });
                }
            }
            let others: Vec<Member> = held
                .iter()
                .filter(|h| h.member.participant.id != pid)
                .map(|h| h.member.clone())
                .collect();
            (first, others)
        };
        let mut others = local_others;
        if first_here {
            inner.bus.subscribe(session);
        }
        if let Some(all) = inner.bus.join(session, &member).await {
            others = all
                .into_iter()
                .filter(|m| m.participant.id != pid)
                .collect();
        }

        if let Some(missed) = missed {
            inner
                .record(
                    session,
                    EventKind::Resumed,
                    &pid,
                    serde_json::json!({"after": resume.unwrap_or(0)}),
                )
                .await;
            let resumed = ServerMessage::Resumed {
                you: &participant,
                state,
                participants: peers_of(&member, &others),
                ice_servers,
            }
            .body();
            inner.open(session, &pid, conn, missed, &resumed);
            inner.metrics.resumes.inc();
            inner.tell_recording(session, &pid).await;
            return Ok(());
        }
        if replaced {
            inner
                .record(
                    session,
                    EventKind::Replaced,
                    &pid,
                    serde_json::json!({"role": participant.role, "state": state}),
                )
                .await;
        }
        inner
            .record(session, EventKind::Joined, &pid, serde_json::json!({"role": participant.role, "name": participant.name, "state": state}))
            .await;
        let welcome = ServerMessage::Welcome {
            session_id: session.get(),
            you: &participant,
            state,
            participants: peers_of(&member, &others),
            ice_servers,
        };
        inner.open(session, &pid, conn, Vec::new(), &welcome.body());
        inner.tell_recording(session, &pid).await;
        if participant.role.moderates() {
            // A host who arrives after the petitioner (or comes back) must see who is waiting.
            for m in others.iter().filter(|m| m.state == MemberState::Waiting) {
                let waiting = ServerMessage::Waiting {
                    participant: &m.participant,
                }
                .body();
                inner.send(session, &pid, &waiting).await;
            }
        }
        if existing.is_some() {
            // A fresh connection of someone already here: the others drop their old peer
            // connection to it and expect a new offer (or, for a petitioner sent back to the
            // waiting room, a new admission).
            let left = ServerMessage::Left {
                participant_id: &pid,
            }
            .body();
            inner
                .broadcast(session, &others, |_| Some(left.clone()))
                .await;
        }
        match state {
            MemberState::Waiting => {
                let waiting = ServerMessage::Waiting {
                    participant: &participant,
                }
                .body();
                inner
                    .broadcast(session, &others, |m| {
                        m.participant.role.moderates().then(|| waiting.clone())
                    })
                    .await;
            }
            MemberState::Admitted => {
                inner.announce_joined(session, &others, &participant).await;
            }
        }
        Ok(())
    }

    /// A socket ended. Returns nothing: what the others are told depends on `how`.
    pub async fn detach(&self, session: SessionId, pid: &str, conn: u64, how: Departure) {
        let inner = &self.inner;
        match how {
            Departure::Silent => {}
            Departure::Leave => inner.leave(session, pid, Some(conn)).await,
            Departure::Drop => {
                let member = {
                    let mut local = lock(&inner.local);
                    match local.held(session, pid) {
                        Some(h) if h.member.conn == conn => {
                            h.tx = None;
                            h.dropped_at = Some(Instant::now());
                            h.member.connected = false;
                            Some(h.member.clone())
                        }
                        _ => None,
                    }
                };
                if let Some(member) = member {
                    inner.bus.put_member(session, &member).await;
                }
            }
        }
    }

    /// Relays a description or candidate, unchanged, between two admitted participants.
    pub async fn signal(
        &self,
        session: SessionId,
        from: &str,
        to: &str,
        data: &RawValue,
    ) -> Result<(), HubError> {
        let inner = &self.inner;
        if from == to {
            return Err(HubError::UnknownParticipant);
        }
        if inner.state_of(session, from).await != Some(MemberState::Admitted) {
            return Err(HubError::NotAdmitted);
        }
        match inner.state_of(session, to).await {
            None => Err(HubError::UnknownParticipant),
            Some(MemberState::Waiting) => Err(HubError::NotAdmitted),
            Some(MemberState::Admitted) => {
                inner
                    .send(session, to, &ServerMessage::Signal { from, data }.body())
                    .await;
                Ok(())
            }
        }
    }

    /// A chat line: to everyone, or — from someone in the waiting room — to the hosts only.
    /// The sender gets its own line back, numbered like every other message.
    pub async fn chat(
        &self,
        session: SessionId,
        from: &Participant,
        text: &str,
    ) -> Result<(), crate::store::StoreError> {
        let inner = &self.inner;
        let data = serde_json::json!({"text": text, "name": from.name});
        let event = inner
            .store
            .add_event(session, EventKind::Chat, &from.id, &data, transition)
            .await?;
        let waiting = inner.state_of(session, &from.id).await == Some(MemberState::Waiting);
        let body = ServerMessage::Chat {
            from: &from.id,
            name: &from.name,
            text,
            at: event.at,
        }
        .body();
        let members = inner.members(session).await;
        inner
            .broadcast(session, &members, |m| {
                (!waiting || m.participant.id == from.id || m.participant.role.moderates())
                    .then(|| body.clone())
            })
            .await;
        Ok(())
    }

    /// A host admits a waiting participant: it is told whom to offer to, the others that it joined.
    pub async fn admit(
        &self,
        session: SessionId,
        by: &Participant,
        pid: &str,
    ) -> Result<(), HubError> {
        let inner = &self.inner;
        if !by.role.moderates() {
            return Err(HubError::NotAllowed);
        }
        let members = inner.members(session).await;
        let mut target = members
            .iter()
            .find(|m| m.participant.id == pid)
            .cloned()
            .ok_or(HubError::UnknownParticipant)?;
        if target.state != MemberState::Waiting {
            return Err(HubError::NotWaiting);
        }
        target.state = MemberState::Admitted;
        target.joined_ms = after_everyone(&members, pid);
        inner
            .record(
                session,
                EventKind::Admitted,
                &by.id,
                serde_json::json!({"participant": pid}),
            )
            .await;
        inner.set_state(session, pid, true, Some(target.joined_ms));
        inner.bus.put_member(session, &target).await;
        let state = Wire::State {
            pid: pid.to_owned(),
            admitted: true,
        };
        inner.bus.publish(session, state).await;
        let others: Vec<Member> = members
            .into_iter()
            .filter(|m| m.participant.id != pid)
            .collect();
        let admitted = ServerMessage::Admitted {
            participants: peers_of(&target, &others),
        }
        .body();
        inner.send(session, pid, &admitted).await;
        inner
            .announce_joined(session, &others, &target.participant)
            .await;
        if pid == PETITIONER {
            // Recording starts when the host admits the petitioner.
            inner.announce_recording(session).await;
        }
        Ok(())
    }

    /// Tells everyone in the session the recording's state (the recorder, on a gap or a resume).
    pub async fn recording(
        &self,
        session: SessionId,
        state: RecordingState,
        at: chrono::DateTime<chrono::Utc>,
    ) {
        let inner = &self.inner;
        let members = inner.members(session).await;
        let body = ServerMessage::Recording {
            state: state.as_str(),
            at,
        }
        .body();
        inner
            .broadcast(session, &members, |_| Some(body.clone()))
            .await;
    }

    /// A host sends a participant out: it is told, its socket closed with 4001, the others told it left.
    pub async fn remove(
        &self,
        session: SessionId,
        by: &Participant,
        pid: &str,
    ) -> Result<(), HubError> {
        let inner = &self.inner;
        if !by.role.moderates() || by.id == pid {
            return Err(HubError::NotAllowed);
        }
        if inner.state_of(session, pid).await.is_none() {
            return Err(HubError::UnknownParticipant);
        }
        inner
            .record(
                session,
                EventKind::Removed,
                pid,
                serde_json::json!({"by": by.id}),
            )
            .await;
        inner
            .send(session, pid, &ServerMessage::Removed { by: &by.id }.body())
            .await;
        if !inner.close_local(session, pid, Closing::Removed) {
            let close = Wire::Close {
                pid: pid.to_owned(),
                instance: String::new(),
                conn: 0,
                closing: Closing::Removed,
            };
            inner.bus.publish(session, close).await;
        }
        Ok(())
    }

    /// A host asks a participant to mute (advisory: media flows peer to peer).
    pub async fn mute(
        &self,
        session: SessionId,
        by: &Participant,
        pid: &str,
        kind: MediaKind,
    ) -> Result<(), HubError> {
        let inner = &self.inner;
        if !by.role.moderates() {
            return Err(HubError::NotAllowed);
        }
        if inner.state_of(session, pid).await.is_none() {
            return Err(HubError::UnknownParticipant);
        }
        inner
            .record(
                session,
                EventKind::MuteRequested,
                pid,
                serde_json::json!({"by": by.id, "kind": kind}),
            )
            .await;
        inner
            .send(
                session,
                pid,
                &ServerMessage::Mute { by: &by.id, kind }.body(),
            )
            .await;
        Ok(())
    }

    /// Sends an error to one participant.
    pub async fn error(&self, session: SessionId, pid: &str, code: SignalError, message: &str) {
        self.inner
            .send(session, pid, &ServerMessage::Error { code, message }.body())
            .await;
    }

    /// Tells everyone the session has ended, closes their sockets and forgets the session.
    pub async fn end(&self, session: SessionId, outcome: &str) {
        let inner = &self.inner;
        let members = inner.members(session).await;
        if inner.config.recording {
            // The recording ends with the session: a gap still open ends here too.
            let now = chrono::Utc::now();
            if let Err(e) = inner.store.close_gaps(session, None, now).await {
                tracing::warn!(session = session.get(), error = %e, "cannot close the recording's gaps");
            }
            let off = ServerMessage::Recording {
                state: RecordingState::Off.as_str(),
                at: now,
            }
            .body();
            inner
                .broadcast(session, &members, |_| Some(off.clone()))
                .await;
        }
        let ended = ServerMessage::Ended { outcome }.body();
        inner
            .broadcast(session, &members, |_| Some(ended.clone()))
            .await;
        inner.end_local(session);
        inner.bus.publish(session, Wire::End).await;
        inner.bus.delete_session(session).await;
    }

    /// For a graceful shutdown: tell every socket held here to reconnect elsewhere (with
    /// `resume.<seq>`) and close it; their places are kept for the grace period.
    pub fn drain(&self) {
        let inner = &self.inner;
        let mut local = lock(&inner.local);
        let body = ServerMessage::Reconnect {}.body();
        for (session, held) in local.sessions.iter_mut() {
            for h in held.iter_mut() {
                let text = inner.number(*session, h, &body);
                if let Some(tx) = &h.tx {
                    let _ = tx.try_send(Outbound::Text(text));
                    let _ = tx.try_send(Outbound::Close(Closing::Restarting));
                }
            }
        }
    }
}

/// A join time later than every other member's, so that a newcomer is impolite towards all of
/// them even across instances whose clocks differ a little.
fn after_everyone(members: &[Member], me: &str) -> i64 {
    let latest = members
        .iter()
        .filter(|m| m.participant.id != me)
        .map(|m| m.joined_ms)
        .max()
        .unwrap_or(0);
    now_ms().max(latest + 1)
}

/// The admitted participants `me` negotiates with, and whether `me` is polite towards each:
/// of each pair, the one that entered the call first is polite.
fn peers_of<'a>(me: &Member, others: &'a [Member]) -> Vec<PeerInfo<'a>> {
    others
        .iter()
        .filter(|m| m.state == MemberState::Admitted)
        .map(|m| PeerInfo {
            participant: &m.participant,
            polite: (me.joined_ms, &me.participant.id) < (m.joined_ms, &m.participant.id),
        })
        .collect()
}

impl Inner {
    /// The session's members: from the bus when it has a view, else those held here.
    async fn members(&self, session: SessionId) -> Vec<Member> {
        match self.bus.members(session).await {
            Some(members) => members,
            None => self.local_members(session),
        }
    }

    fn local_members(&self, session: SessionId) -> Vec<Member> {
        lock(&self.local)
            .sessions
            .get(&session)
            .map(|held| held.iter().map(|h| h.member.clone()).collect())
            .unwrap_or_default()
    }

    async fn state_of(&self, session: SessionId, pid: &str) -> Option<MemberState> {
        if let Some(h) = lock(&self.local).held(session, pid) {
            return Some(h.member.state);
        }
        self.bus.member(session, pid).await.map(|m| m.state)
    }

    fn set_state(&self, session: SessionId, pid: &str, admitted: bool, joined_ms: Option<i64>) {
        if let Some(h) = lock(&self.local).held(session, pid) {
            h.member.state = if admitted {
                MemberState::Admitted
            } else {
                MemberState::Waiting
            };
            if let Some(t) = joined_ms {
                h.member.joined_ms = t;
            }
        }
    }

    /// The recording's state now, from SQL (every instance reads the same); `Off` when
    /// recording is disabled or the session cannot be read.
    async fn recording_state(&self, session: SessionId) -> RecordingState {
        if !self.config.recording {
            return RecordingState::Off;
        }
        match self.store.session(session).await {
            Ok(row) => recording_rules::state_of(&self.store, true, &row)
                .await
                .unwrap_or(RecordingState::Off),
            Err(_) => RecordingState::Off,
        }
    }

    /// Tells one participant (who just joined or resumed) the recording's state, unless off.
    async fn tell_recording(&self, session: SessionId, pid: &str) {
        let state = self.recording_state(session).await;
        if state != RecordingState::Off {
            let body = ServerMessage::Recording {
                state: state.as_str(),
                at: chrono::Utc::now(),
            }
            .body();
            self.send(session, pid, &body).await;
        }
    }

    /// Tells everyone the recording's state now.
    async fn announce_recording(&self, session: SessionId) {
        if !self.config.recording {
            return;
        }
        let state = self.recording_state(session).await;
        let members = self.members(session).await;
        let body = ServerMessage::Recording {
            state: state.as_str(),
            at: chrono::Utc::now(),
        }
        .body();
        self.broadcast(session, &members, |_| Some(body.clone()))
            .await;
    }

    /// Records an event; a failure is logged (the socket's own path already refused on a store
    /// failure at join, and a lost leave must not keep a participant in the room).
    async fn record(
        &self,
        session: SessionId,
        kind: EventKind,
        actor: &str,
        data: serde_json::Value,
    ) {
        if let Err(e) = self
            .store
            .add_event(session, kind, actor, &data, transition)
            .await
        {
            tracing::error!(session = session.get(), kind = kind.as_str(), error = %e, "cannot record a session event");
        }
    }

    /// Numbers `body` for a participant held here, logs it for resumes, and returns it.
    fn number(&self, session: SessionId, h: &mut Held, body: &str) -> String {
        h.last_seq += 1;
        let text = numbered(h.last_seq, body);
        h.log_bytes += text.len();
        if h.log.len() == h.log.capacity() && h.log.len() < 4 {
            h.log.reserve_exact(1);
        }
        h.log.push_back(text.as_str().into());
        while h.log.len() > self.config.log_cap || h.log_bytes > LOG_CAP_BYTES {
            match h.log.pop_front() {
                Some(old) => h.log_bytes -= old.len(),
                None => break,
            }
        }
        self.bus
            .append_log(session, &h.member.participant.id, &text);
        text
    }

    /// Delivers to `pid` if it is held here. Returns whether it was.
    fn deliver_local(&self, session: SessionId, pid: &str, body: &str) -> bool {
        let mut local = lock(&self.local);
        let Some(h) = local.held(session, pid) else {
            return false;
        };
        if let Some(pending) = &mut h.pending {
            pending.push(body.to_owned());
            return true;
        }
        let text = self.number(session, h, body);
        if let Some(tx) = &h.tx {
            match tx.try_send(Outbound::Text(text)) {
                Ok(()) => {
                    self.metrics.messages_relayed.inc();
                }
                Err(TrySendError::Full(_)) => {
                    // It does not read: drop the socket (its task sees the queue close) and keep
                    // its place for a resume, as for any dropped line.
                    tracing::warn!(
                        session = session.get(),
                        participant = pid,
                        "queue full; dropping a slow socket"
                    );
                    h.tx = None;
                    h.dropped_at = Some(Instant::now());
                    h.member.connected = false;
                    self.metrics.slow_consumers_dropped.inc();
                }
                Err(TrySendError::Closed(_)) => {
                    self.metrics.messages_dropped.inc();
                }
            }
        }
        true
    }

    /// Sends `body` to `pid`: directly when held here, over the bus otherwise.
    async fn send(&self, session: SessionId, pid: &str, body: &str) {
        if self.deliver_local(session, pid, body) {
            return;
        }
        if !self.bus.deliver(session, pid, body).await {
            self.metrics.messages_dropped.inc();
        }
    }

    async fn broadcast(
        &self,
        session: SessionId,
        members: &[Member],
        body_for: impl Fn(&Member) -> Option<String>,
    ) {
        // Each recipient gets one message from this call, so sending concurrently keeps every
        // recipient's order.
        let sends = members
            .iter()
            .filter_map(|m| body_for(m).map(|body| (m.participant.id.as_str(), body)));
        futures_util::future::join_all(
            sends.map(|(pid, body)| async move { self.send(session, pid, &body).await }),
        )
        .await;
    }

    /// The messages after `after` for a resume: from this instance's log, else from the bus's.
    async fn missed(&self, session: SessionId, pid: &str, after: u64) -> Option<Vec<String>> {
        let local: Option<Vec<String>> = lock(&self.local).held(session, pid).and_then(|h| {
            let all: Vec<String> = h.log.iter().map(|m| m.to_string()).collect();
            let covers = h.last_seq == after || all.iter().any(|m| seq_of(m) == Some(after + 1));
            covers.then(|| contiguous_after(all, after)).flatten()
        });
        if local.is_some() {
            return local;
        }
        self.bus.replay(session, pid, after).await
    }

    /// Gives connection `conn` of `pid` its first messages: `missed` (already numbered, for a
    /// resume), then `first` (the welcome or resumed), then what waited for them.
    fn open(&self, session: SessionId, pid: &str, conn: u64, missed: Vec<String>, first: &str) {
        let mut local = lock(&self.local);
        let Some(h) = local.held(session, pid).filter(|h| h.member.conn == conn) else {
            return;
        };
        if let Some(last) = missed.last().and_then(|m| seq_of(m)) {
            h.last_seq = h.last_seq.max(last);
        }
        let waited = h.pending.take().unwrap_or_default();
        let mut out = missed;
        out.push(self.number(session, h, first));
        for body in &waited {
            out.push(self.number(session, h, body));
        }
        if let Some(tx) = &h.tx {
            for m in out {
                if tx.try_send(Outbound::Text(m)).is_ok() {
                    self.metrics.messages_relayed.inc();
                }
            }
        }
    }

    /// Closes `pid`'s socket if held here; a participant in its grace period leaves at once.
    /// Returns whether it was held here.
    fn close_local(self: &Inner, session: SessionId, pid: &str, closing: Closing) -> bool {
        let mut local = lock(&self.local);
        let Some(h) = local.held(session, pid) else {
            return false;
        };
        match &h.tx {
            Some(tx) => {
                let _ = tx.try_send(Outbound::Close(closing));
            }
            // No socket to close: make the grace period run out now.
            None => h.dropped_at = Some(Instant::now() - self.config.resume_grace * 2),
        }
        true
    }

    fn end_local(&self, session: SessionId) {
        let held = lock(&self.local).sessions.remove(&session);
        for h in held.into_iter().flatten() {
            if let Some(tx) = h.tx {
                let _ = tx.try_send(Outbound::Close(Closing::SessionEnded));
            }
        }
        self.bus.unsubscribe(session);
    }

    /// The lock that keeps one participant's comings and goings in order (`Inner::doors`).
    fn door(&self, session: SessionId, pid: &str) -> &tokio::sync::Mutex<()> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (session, pid).hash(&mut h);
        &self.doors[(h.finish() % DOORS as u64) as usize]
    }

    /// Someone leaves: forget them, record it, tell the others.
    async fn leave(&self, session: SessionId, pid: &str, conn: Option<u64>) {
        let _door = self.door(session, pid).lock().await;
        let removed = {
            let mut local = lock(&self.local);
            let mut removed = None;
            if let Some(held) = local.sessions.get_mut(&session) {
                if let Some(i) = held.iter().position(|h| {
                    h.member.participant.id == pid && conn.is_none_or(|c| h.member.conn == c)
                }) {
                    removed = Some(held.remove(i).member);
                }
                if held.is_empty() {
                    local.sessions.remove(&session);
                    self.bus.unsubscribe(session);
                }
            }
            removed
        };
        let Some(member) = removed else { return };
        // Another instance may have taken this participant over meanwhile: then it stays.
        if let Some(false) = self.bus.remove_member(session, &member).await {
            return;
        }
        self.announce_left(session, pid).await;
    }

    /// Tells the admitted among `others` that `who` entered the call (and offers to them).
    async fn announce_joined(&self, session: SessionId, others: &[Member], who: &Participant) {
        let joined = ServerMessage::Joined {
            participant: who,
            polite: true,
        }
        .body();
        self.broadcast(session, others, |m| {
            (m.state == MemberState::Admitted).then(|| joined.clone())
        })
        .await;
    }

    async fn announce_left(&self, session: SessionId, pid: &str) {
        self.record(session, EventKind::Left, pid, serde_json::json!({}))
            .await;
        // Someone who left the call is not a stream the recorder lost.
        if self.config.recording
            && self
                .store
                .close_gaps(session, Some(pid), chrono::Utc::now())
                .await
                .unwrap_or(0)
                > 0
        {
            self.announce_recording(session).await;
        }
        let members = self.members(session).await;
        let left = ServerMessage::Left {
            participant_id: pid,
        }
        .body();
        self.broadcast(session, &members, |m| {
            (m.participant.id != pid).then(|| left.clone())
        })
        .await;
    }
}

/// What the bus brings from other instances.
impl Inbound for Inner {
    fn on_wire(&self, session: SessionId, wire: Wire) {
        match wire {
            Wire::Deliver { pid, body } => {
                self.deliver_local(session, &pid, &body);
            }
            Wire::Close {
                pid,
                instance,
                conn,
                closing,
            } => {
                let mut local = lock(&self.local);
                if let Some(h) = local.held(session, &pid) {
                    let matches = (instance.is_empty() || instance == self.instance)
                        && (conn == 0 || conn == h.member.conn);
                    if matches && closing == Closing::Replaced && instance == self.instance {
                        // Taken over by another instance: forget it here without a leave.
                        if let Some(tx) = h.tx.take() {
                            let _ = tx.try_send(Outbound::Close(closing));
                        }
                        if let Some(held) = local.sessions.get_mut(&session) {
                            held.retain(|h| h.member.participant.id != pid);
                        }
                    } else if matches {
                        drop(local);
                        self.close_local(session, &pid, closing);
                    }
                }
            }
            Wire::State { pid, admitted } => self.set_state(session, &pid, admitted, None),
            Wire::End => self.end_local(session),
        }
    }

    /// After an outage of the bus (or a restart of Redis, which forgets everything): register
    /// again every participant held here.
    fn recovered(self: Arc<Self>) -> BoxFuture<'static, ()> {
        async move {
            let held: Vec<(SessionId, Member)> = lock(&self.local)
                .sessions
                .iter()
                .flat_map(|(s, held)| held.iter().map(|h| (*s, h.member.clone())))
                .collect();
            for (session, member) in held {
                self.bus.subscribe(session);
                self.bus.put_member(session, &member).await;
            }
        }
        .boxed()
    }
}

impl Inner {
    /// Ends the grace of dropped participants held here; every few rounds also of participants
    /// held by instances that died (when the bus knows of other instances).
    async fn sweep(&self, check_dead_instances: bool) {
        let grace = self.config.resume_grace;
        let expired: Vec<(SessionId, String, u64)> = lock(&self.local)
            .sessions
            .iter()
            .flat_map(|(s, held)| {
                held.iter()
                    .filter(|h| h.dropped_at.is_some_and(|t| t.elapsed() >= grace))
                    .map(|h| (*s, h.member.participant.id.clone(), h.member.conn))
                    .collect::<Vec<_>>()
            })
            .collect();
        for (session, pid, conn) in expired {
            self.leave(session, &pid, Some(conn)).await;
        }
        if !check_dead_instances {
            return;
        }
        let sessions: Vec<SessionId> = lock(&self.local).sessions.keys().copied().collect();
        for session in sessions {
            // No view (alone, or the bus is down): nobody else to sweep.
            let Some(members) = self.bus.members(session).await else {
                return;
            };
            for m in members.into_iter().filter(|m| m.instance != self.instance) {
                if self.bus.instance_alive(&m.instance).await {
                    lock(&self.dead_since).remove(&m.instance);
                    continue;
                }
                let since = *lock(&self.dead_since)
                    .entry(m.instance.clone())
                    .or_insert_with(Instant::now);
                if since.elapsed() >= grace
                    && self.bus.remove_member(session, &m).await == Some(true)
                {
                    self.announce_left(session, &m.participant.id).await;
                }
            }
        }
    }
}
