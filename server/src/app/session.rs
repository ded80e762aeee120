//! A session's lifecycle, in one place (issue 15, items 9 and 10): how its status moves with
//! the events on its timeline ([`transition`]), whether a reception was really **held** and for
//! how long ([`reception`]), and the use cases that depend on that: ending a session with its
//! outcome ([`end`]) and writing its transcript ([`write_transcript`]).
//!
//! **Held** (接访成立): the petitioner and the host side (the host court's officer, or a joint
//! reception's co-host) were both in the room — the petitioner admitted — with media flowing
//! both ways, for at least `records.min_reception_seconds` in all, inside the session's window
//! (from `auth.join_early_minutes` before the slot to `auth.join_late_minutes` after it).
//! Media is what the clients report (`quality`, every 10 s, with the inbound bitrate measured
//! since their previous report): a report with `bitrate_kbps > 0` shows media reached that
//! participant over the time since its previous report, and at most [`REPORT_SPAN_MS`] back.
//! The timeline keeps whole seconds, so a report in the very second of the admission vouches for
//! nothing yet; at the 60 s default that costs at most a second. `docs/lifecycle.md` works an
//! example through.
//!
//! The store applies [`transition`] inside the transaction that records the event (it is handed
//! the function, so that the store does not import this module, which imports the store).

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use crate::app::assignments::{self, Source};
use crate::app::clock;
use crate::app::ledger;
use crate::app::scope::Scope;
use crate::auth::Staff;
use crate::config::Settings;
use crate::domain::{Channel, EventKind, Outcome, Role, SessionStatus};
use crate::error::{ApiError, ErrorCode};
use crate::signalling::protocol::{Participant, ParticipantRole};
use crate::store::ledger::OutcomeCorrection;
use crate::store::{EndSession, EventRow, SessionRow, Store, StoreError};

/// The participant id of the petitioner on every timeline.
pub const PETITIONER: &str = "petitioner";

/// How far back one quality report vouches for media: the clients report every 10 s; 15 s
/// leaves room for a late timer without letting one report stand for a long silence.
pub const REPORT_SPAN_MS: i64 = 15_000;

/// The status a session moves to when an event of `kind` by `actor` (with `data`) happens
/// while it is `current`, if any:
///
/// - scheduled → waiting (someone is in) → live (the petitioner is admitted) → ended;
/// - live → waiting when the petitioner leaves, is removed, or drops past the grace period
///   (the hub then records `left`): a session without its petitioner is not live, and
///   [`crate::routes`] show it as 信访人已离开 (waiting, having started);
/// - interrupted (everyone lost, after the petitioner had been in) → live when the petitioner
///   is back, waiting when only others come back;
/// - a waiting session that never had its petitioner goes back to scheduled once everyone has
///   left (`emptied`, from the sweeper): nobody joining and leaving makes it interrupted;
/// - no_show when the petitioner never came; a late petitioner is still received.
pub fn transition(
    kind: EventKind,
    actor: &str,
    data: &Value,
    current: SessionStatus,
) -> Option<SessionStatus> {
    use EventKind::{Admitted, Emptied, Joined, Left, Removed, Replaced, Resumed};
    use SessionStatus::{Interrupted, Live, NoShow, Scheduled, Waiting};
    let petitioner = data["role"] == "petitioner";
    let petitioner_in = petitioner && data["state"] == "admitted";
    let admits_petitioner = data["participant"] == PETITIONER;
    match (kind, current) {
        (Joined, Scheduled) if petitioner_in => Some(Live),
        (Joined, Scheduled) => Some(Waiting),
        (Joined, Waiting) if petitioner_in => Some(Live),
        (Joined, Interrupted) if petitioner_in => Some(Live),
        (Joined, Interrupted) => Some(Waiting),
        (Resumed, Interrupted) if actor == PETITIONER => Some(Live),
        (Resumed, Interrupted) => Some(Waiting),
        (Admitted, Scheduled | Waiting | NoShow | Interrupted) if admits_petitioner => Some(Live),
        // Replaced by another socket, the petitioner waits to be admitted again.
        (Left | Removed | Replaced, Live) if actor == PETITIONER => Some(Waiting),
        // A petitioner who comes late, after the sweeper called it a no-show, is still received.
        (Joined, NoShow) if petitioner => Some(if petitioner_in { Live } else { Waiting }),
        (EventKind::Interrupted, Live | Waiting) => Some(Interrupted),
        (Emptied, Waiting) => Some(Scheduled),
        (EventKind::NoShow, Scheduled | Waiting) => Some(NoShow),
        _ => None,
    }
}

/// The petitioner, as every participant sees them.
pub fn petitioner() -> Participant {
    Participant {
        id: PETITIONER.into(),
        role: ParticipantRole::Petitioner,
        name: "信访人".into(),
    }
}

/// Who a member of staff takes part in `session` as, if at all (403 otherwise): the host
/// court's officer hosts, the joint court's co-hosts, the booking court's coordinator sits beside
/// the petitioner, a supervisor of the host court or a court above it observes. The signalling
/// upgrade and the recorder both ask this.
pub async fn staff_participant(
    store: &Store,
    staff: Staff,
    session: &SessionRow,
) -> Result<Participant, ApiError> {
    let role = match staff.role {
        Role::Officer if session.host_court_id == staff.court_id => ParticipantRole::Host,
        Role::Officer if session.joint_court_id == Some(staff.court_id) => ParticipantRole::CoHost,
        Role::Coordinator if Scope::of(store, &staff).sees_session(session) => {
            ParticipantRole::LocalStaff
        }
        Role::Supervisor if crate::app::leaders::leads(store, &staff, session).await? => {
            ParticipantRole::Leader
        }
        // The host court's supervisors, and those of the courts above it, observe.
        Role::Supervisor
            if Scope::of(store, &staff)
                .in_branch(session.host_court_id)
                .await? =>
        {
            ParticipantRole::Observer
        }
        _ => {
            return Err(ApiError::Forbidden(
                "you are not a participant of this session",
            ));
        }
    };
    Ok(Participant {
        id: format!("user-{}", staff.user_id),
        role,
        name: staff.name,
    })
}

/// When a session may be joined and when its reception counts: from `auth.join_early_minutes`
/// before its slot to `auth.join_late_minutes` after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub opens: DateTime<Utc>,
    pub closes: DateTime<Utc>,
}

impl Window {
    pub fn of(session: &SessionRow, settings: &Settings) -> Window {
        Window::around(
            session.starts_at,
            session.ends_at,
            settings.auth.join_early_minutes,
            settings.auth.join_late_minutes,
        )
    }

    pub fn around(
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
        early_minutes: i64,
        late_minutes: i64,
    ) -> Window {
        Window {
            opens: starts_at - Duration::minutes(early_minutes),
            closes: ends_at + Duration::minutes(late_minutes),
        }
    }

    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.opens <= at && at <= self.closes
    }
}

/// The span of a day's list of sessions (`GET /sessions?day=`): those starting on `day` in
/// Beijing, and, on today's list, also those whose join window is open already. A session at
/// 00:00 can be joined from 23:30 (`auth.join_early_minutes`); on the next day's list only, the
/// officer would not see it, nor be alerted that its petitioner is waiting.
pub fn day_list(
    day: chrono::NaiveDate,
    now: DateTime<Utc>,
    join_early_minutes: i64,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let start = crate::app::clock::day_start(day);
    let end = crate::app::clock::day_start(day.succ_opt()?);
    if crate::app::clock::local_day(now) == day {
        Some((start, end.max(now + Duration::minutes(join_early_minutes))))
    } else {
        Some((start, end))
    }
}

/// What a timeline says about the reception.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reception {
    /// Milliseconds in which the petitioner and the host side were both in the room with media
    /// flowing to each, inside the window and before `now`.
    pub connected_ms: i64,
    /// The petitioner was let in at some time (joined admitted, or admitted by a host).
    pub petitioner_admitted: bool,
}

impl Reception {
    /// Whole seconds, rounded down: what the record keeps.
    pub fn connected_seconds(&self) -> i64 {
        self.connected_ms / 1000
    }

    /// Held: some time with both sides and media, and at least `min_seconds` of it.
    pub fn held(&self, min_seconds: i64) -> bool {
        self.connected_ms > 0 && self.connected_seconds() >= min_seconds
    }
}

/// Half-open intervals `[start, end)` in milliseconds since the epoch.
type Spans = Vec<(i64, i64)>;

/// Sorts and merges overlapping or touching intervals; drops empty ones.
fn normalize(mut spans: Spans) -> Spans {
    spans.retain(|(a, b)| a < b);
    spans.sort_unstable();
    let mut out: Spans = Vec::with_capacity(spans.len());
    for (a, b) in spans {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// The intersection of two normalized interval lists.
fn intersect(x: &[(i64, i64)], y: &[(i64, i64)]) -> Spans {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < x.len() && j < y.len() {
        let a = x[i].0.max(y[j].0);
        let b = x[i].1.min(y[j].1);
        if a < b {
            out.push((a, b));
        }
        if x[i].1 < y[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

fn total(spans: &[(i64, i64)]) -> i64 {
    spans.iter().map(|(a, b)| b - a).sum()
}

/// One participant as the timeline tells it.
#[derive(Default)]
struct Person {
    role: String,
    present: bool,
    admitted: bool,
    /// Since when it has been in the room (present and admitted), if it is.
    since: Option<i64>,
    connected: Spans,
    last_report: Option<i64>,
    media: Spans,
}

impl Person {
    fn open(&mut self, at: i64) {
        if self.present && self.admitted && self.since.is_none() {
            self.since = Some(at);
        }
    }

    fn close(&mut self, at: i64) {
        if let Some(since) = self.since.take() {
            self.connected.push((since, at));
        }
    }
}

/// Whether the timeline `events` (in the order they were recorded) shows a held reception, and
/// for how long; `now` closes whatever is still open. Pure: the same events give the same
/// answer, which is what makes the record checkable afterwards.
pub fn reception(events: &[EventRow], window: Window, now: DateTime<Utc>) -> Reception {
    let mut people: std::collections::BTreeMap<String, Person> = Default::default();
    let mut petitioner_admitted = false;
    // What is recorded after `now` has not happened yet, as far as this answer goes.
    for e in events.iter().filter(|e| e.at <= now) {
        let at = e.at.timestamp_millis();
        let data: Value = serde_json::from_str(&e.data).unwrap_or(Value::Null);
        // A kind this build does not know (a newer instance's) changes nobody's presence.
        match e.kind.parse::<EventKind>().ok() {
            Some(EventKind::Joined) => {
                let p = people.entry(e.actor.clone()).or_default();
                if let Some(role) = data["role"].as_str() {
                    p.role = role.to_owned();
                }
                p.close(at);
                p.present = true;
                p.admitted = data["state"] == "admitted";
                p.open(at);
            }
            Some(EventKind::Resumed) => {
                let p = people.entry(e.actor.clone()).or_default();
                p.present = true;
                p.open(at);
            }
            Some(EventKind::Admitted) => {
                if let Some(pid) = data["participant"].as_str() {
                    let p = people.entry(pid.to_owned()).or_default();
                    p.admitted = true;
                    p.open(at);
                }
            }
            Some(EventKind::Left | EventKind::Removed) => {
                let p = people.entry(e.actor.clone()).or_default();
                p.close(at);
                p.present = false;
                p.admitted = false;
            }
            Some(EventKind::Quality) => {
                let p = people.entry(e.actor.clone()).or_default();
                let back = p
                    .last_report
                    .map_or(REPORT_SPAN_MS, |prev| (at - prev).min(REPORT_SPAN_MS));
                if data["bitrate_kbps"].as_f64().is_some_and(|k| k > 0.0) {
                    p.media.push((at - back, at));
                }
                p.last_report = Some(at);
            }
            _ => {}
        }
        if let Some(p) = people.get(PETITIONER) {
            petitioner_admitted |= p.since.is_some();
        }
    }
    let end = now.timestamp_millis();
    let counted = normalize(vec![(
        window.opens.timestamp_millis(),
        window.closes.timestamp_millis().min(end),
    )]);
    let mut petitioner: Spans = Vec::new();
    let mut host_side: Spans = Vec::new();
    for (id, mut p) in people {
        p.close(end);
        let with_media = intersect(&normalize(p.connected), &normalize(p.media));
        if id == PETITIONER {
            petitioner = with_media;
        } else if p.role == "host" || p.role == "co_host" {
            host_side.extend(with_media);
        }
    }
    let both = intersect(&petitioner, &normalize(host_side));
    Reception {
        connected_ms: total(&intersect(&both, &counted)),
        petitioner_admitted,
    }
}

/// What the host sends to end a session.
pub struct EndCommand<'a> {
    pub outcome: Outcome,
    pub note: &'a str,
    pub follow_up_deadline: Option<&'a str>,
    pub follow_up_person: Option<&'a str>,
}

/// The host court's officer ends a held session with its outcome; the case's ledger gets its
/// entry, with the connected minutes. A session that was not held is refused: 409
/// `session_not_held` when the petitioner was never let in, 409 `reception_not_held` when the
/// petitioner was let in but the two sides were not connected with media for
/// `records.min_reception_seconds` inside the window. Either way no ledger entry is written.
pub async fn end(
    store: &Store,
    settings: &Settings,
    staff: &Staff,
    session: &SessionRow,
    command: EndCommand<'_>,
    clock: clock::Clock,
) -> Result<Reception, ApiError> {
    if session.host_court_id != staff.court_id {
        return Err(ApiError::Forbidden(
            "only the host court's officers end this session",
        ));
    }
    if session.status == SessionStatus::Ended {
        return Err(ApiError::conflict(
            ErrorCode::SessionEnded,
            "this session has already ended",
        ));
    }
    let note = command.note.trim();
    if note.chars().count() > 2000 {
        return Err(ApiError::invalid("note: at most 2000 characters"));
    }
    // 接访中止 is recorded with its reason.
    if command.outcome == Outcome::ReceptionStopped && note.is_empty() {
        return Err(ApiError::invalid(
            "note: say why the reception was stopped (reception_stopped)",
        ));
    }
    if let Some(d) = command.follow_up_deadline {
        let day = courtlink_parsers::fields::parse_day("follow_up_deadline", d)?;
        if day < clock.today() {
            return Err(ApiError::invalid(
                "follow_up_deadline must not be in the past",
            ));
        }
    }
    // A person's name, like every other: normalized, with hidden characters refused.
    let person = command
        .follow_up_person
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| crate::auth::name_input("follow_up_person", p, 64))
        .transpose()?;
    // 诉访分离: only an outcome that fits the case's class (422 `outcome_not_for_class`).
    let case = store.case(session.case_id).await?;
    ledger::check_outcome(command.outcome, case.case_class)?;
    let events = store.events(session.id).await?;
    let held = reception(&events, Window::of(session, settings), clock.now());
    // The ledger counts an ended session as a petition handled locally: a session where staff
    // waited alone, or where nobody was seen and heard, must not have an outcome.
    if session.started_at.is_none() || !held.petitioner_admitted {
        return Err(ApiError::conflict(
            ErrorCode::SessionNotHeld,
            "the petitioner was never let in: this session cannot have an outcome",
        ));
    }
    let min = settings.records.min_reception_seconds;
    if !held.held(min) {
        return Err(ApiError::conflict(
            ErrorCode::ReceptionNotHeld,
            format!(
                "the petitioner and the host were connected with media for {} s of the {min} s \
                 a reception needs: this session cannot have an outcome yet",
                held.connected_seconds()
            ),
        ));
    }
    let channel = Channel::video_with(session.host_court_level)
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("a basic court hosted a session")))?;
    // 交办 from the reception: the host court hands the case down to the case's court
    // (docs/follow-ups.md), checked before the session's end is written.
    let follow_ups = assignments::FollowUps {
        settings: &settings.follow_ups,
        clock,
    };
    let hand_down = match command.outcome {
        Outcome::Assign => Some(
            assignments::for_session_end(store, follow_ups, &case, session.host_court_id, note)
                .await?,
        ),
        _ => None,
    };
    let ledger_note = format!(
        "{} {} — {}",
        session.host_court_name, session.host_room_name, command.outcome
    );
    let actor = format!("user-{}", staff.user_id);
    store
        .end_session(&EndSession {
            session_id: session.id,
            booking_id: session.booking_id,
            case_id: session.case_id,
            outcome: command.outcome,
            note,
            channel,
            ledger_note: &ledger_note,
            actor: &actor,
            actor_name: &staff.name,
            follow_up_deadline: command.follow_up_deadline,
            follow_up_person: person.as_deref(),
            connected_seconds: held.connected_seconds(),
        })
        .await?;
    if let Some(plan) = hand_down {
        assignments::create(
            store,
            follow_ups,
            &plan,
            Source::Session(session.id),
            &actor,
        )
        .await?;
    }
    Ok(held)
}

/// What is sent to correct an ended session's outcome.
pub struct OutcomeCorrectionCommand<'a> {
    pub outcome: Outcome,
    pub reason: &'a str,
}

/// Corrects the outcome of an ended session, keeping the history (docs/outcomes.md,
/// "Correcting a session's outcome"): the ledger gets a correction entry beside the one the
/// session wrote (the original stays, shown as corrected), the session carries the corrected
/// outcome (the statistics and the records read it), and the timeline an `outcome_corrected`
/// event with the original, the correction and the reason.
///
/// Who: the officer who recorded the outcome (ended the session), or a supervisor of the host
/// court; nobody else (403 `forbidden`). Refused: a session that has not ended (409
/// `session_not_ended`), an empty reason (422 `correction_reason_required`; at most 500
/// characters, `invalid_input`), the outcome it already has (422 `outcome_unchanged`), one that
/// does not fit the case's class (422 `outcome_not_for_class`), and 交办 on either side (422
/// `outcome_correction_assign`: a hand-down has its own task and deadline, which a correction
/// neither makes nor unmakes). Returns the correction's ledger entry id.
pub async fn correct_outcome(
    store: &Store,
    staff: &Staff,
    session: &SessionRow,
    command: OutcomeCorrectionCommand<'_>,
) -> Result<i64, ApiError> {
    if session.host_court_id != staff.court_id {
        return Err(ApiError::Forbidden(
            "only the host court corrects this session's outcome",
        ));
    }
    let actor = format!("user-{}", staff.user_id);
    match staff.role {
        Role::Supervisor => {}
        Role::Officer => {
            let events = store.events(session.id).await?;
            let recorded_by = events
                .iter()
                .rev()
                .find(|e| e.kind == EventKind::Ended.as_str())
                .map(|e| e.actor.as_str());
            // Before the end there is no outcome to correct: said below, as 409.
            if recorded_by.is_some_and(|by| by != actor) {
                return Err(ApiError::Forbidden(
                    "only the officer who recorded the outcome, or the host court's supervisor, \
                     corrects it",
                ));
            }
        }
        Role::Coordinator | Role::Admin => {
            return Err(ApiError::Forbidden(
                "only the host court's officer or supervisor corrects an outcome",
            ));
        }
    }
    let from = match (session.status, session.outcome.as_deref()) {
        (SessionStatus::Ended, Some(o)) => o
            .parse::<Outcome>()
            .map_err(|e: String| ApiError::Internal(anyhow::anyhow!(e)))?,
        _ => {
            return Err(ApiError::conflict(
                ErrorCode::SessionNotEnded,
                "the session has no outcome yet: end it with one",
            ));
        }
    };
    let reason = ledger::correction_reason(command.reason)?;
    let to = command.outcome;
    if to == from {
        return Err(ApiError::Unprocessable {
            code: ErrorCode::OutcomeUnchanged,
            message: format!("the session's outcome is already {to}"),
        });
    }
    let case = store.case(session.case_id).await?;
    ledger::check_outcome(to, case.case_class)?;
    if from == Outcome::Assign || to == Outcome::Assign {
        return Err(ApiError::Unprocessable {
            code: ErrorCode::OutcomeCorrectionAssign,
            message: "a correction neither hands a case down (交办) nor takes a hand-down back"
                .into(),
        });
    }
    let ledger_note = format!(
        "{} {} — {}",
        session.host_court_name, session.host_room_name, to
    );
    let entry = store
        .correct_session_outcome(&OutcomeCorrection {
            session_id: session.id,
            from,
            to,
            reason: &reason,
            ledger_note: &ledger_note,
            actor: &actor,
            actor_name: &staff.name,
        })
        .await
        .map_err(|e| match e {
            StoreError::Stale => ApiError::conflict(
                ErrorCode::OutcomeChanged,
                "the outcome was corrected meanwhile: reload the session and try again",
            ),
            other => other.into(),
        })?;
    tracing::info!(session = session.id.get(), %from, %to, "session outcome corrected");
    Ok(entry)
}

/// The host writes (or rewrites) the transcript of a session that has started and not ended:
/// 409 `session_not_started` before the petitioner was ever let in (a transcript of a
/// reception that did not happen would be a record of nothing), 409 `session_ended` after.
pub async fn write_transcript(
    store: &Store,
    session: &SessionRow,
    text: &str,
    actor: &str,
) -> Result<(), ApiError> {
    if session.started_at.is_none()
        && !matches!(session.status, SessionStatus::Ended | SessionStatus::NoShow)
    {
        return Err(ApiError::conflict(
            ErrorCode::SessionNotStarted,
            "the petitioner has not been let in yet: there is nothing to write down",
        ));
    }
    store.set_transcript(session.id, text, actor).await?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly by panicking")]
mod tests {
    use super::*;
    use serde_json::json;

    /// 2026-03-02 10:00 Beijing: the slot starts here.
    fn t0() -> DateTime<Utc> {
        "2026-03-02T02:00:00Z".parse().unwrap()
    }

    /// `seconds` after the slot's start (fractions allowed).
    fn at(seconds: f64) -> DateTime<Utc> {
        t0() + Duration::milliseconds((seconds * 1000.0) as i64)
    }

    /// A 30-minute slot with the default allowances: the window is 01:30..04:00 UTC.
    fn window() -> Window {
        Window::around(t0(), t0() + Duration::minutes(30), 30, 90)
    }

    /// A day's list of sessions, worked by hand: 6 December 2026 in Beijing is 5 Dec 16:00 UTC to
    /// 6 Dec 16:00 UTC. At 23:40 Beijing (15:40 UTC) today's list reaches on to 00:10, so a
    /// session at 00:00, joinable since 23:30, is on it; at 22:00 it is not; another day's list
    /// is that day only.
    #[test]
    fn todays_list_holds_what_can_be_joined_now() {
        let day: chrono::NaiveDate = "2026-12-06".parse().unwrap();
        let utc = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            day_list(day, utc("2026-12-06T15:40:00Z"), 30),
            Some((utc("2026-12-05T16:00:00Z"), utc("2026-12-06T16:10:00Z")))
        );
        assert_eq!(
            day_list(day, utc("2026-12-06T14:00:00Z"), 30),
            Some((utc("2026-12-05T16:00:00Z"), utc("2026-12-06T16:00:00Z")))
        );
        assert_eq!(
            day_list(day, utc("2026-12-05T15:40:00Z"), 30),
            Some((utc("2026-12-05T16:00:00Z"), utc("2026-12-06T16:00:00Z"))),
            "the 6th's list seen on the 5th is the 6th only"
        );
    }

    struct Timeline(Vec<EventRow>);

    impl Timeline {
        fn new() -> Timeline {
            Timeline(Vec::new())
        }
        fn ev(mut self, s: f64, kind: &str, actor: &str, data: Value) -> Timeline {
            let id = self.0.len() as i64 + 1;
            self.0.push(EventRow {
                id,
                session_id: crate::domain::SessionId(1),
                at: at(s),
                kind: kind.into(),
                actor: actor.into(),
                data: data.to_string(),
            });
            self
        }
        fn host_joins(self, s: f64) -> Timeline {
            self.ev(
                s,
                "joined",
                "user-1",
                json!({"role": "host", "state": "admitted"}),
            )
        }
        fn petitioner_waits(self, s: f64) -> Timeline {
            self.ev(
                s,
                "joined",
                PETITIONER,
                json!({"role": "petitioner", "state": "waiting"}),
            )
        }
        fn admit(self, s: f64) -> Timeline {
            self.ev(s, "admitted", "user-1", json!({"participant": PETITIONER}))
        }
        fn quality(self, s: f64, who: &str, kbps: f64) -> Timeline {
            self.ev(
                s,
                "quality",
                who,
                json!({"rtt_ms": 40.0, "packet_loss": 0.0, "bitrate_kbps": kbps}),
            )
        }
        fn leaves(self, s: f64, who: &str) -> Timeline {
            self.ev(s, "left", who, json!({}))
        }
        fn seconds(&self, now: f64) -> f64 {
            reception(&self.0, window(), at(now)).connected_ms as f64 / 1000.0
        }
    }

    /// The probe of issue 15: the host admits the petitioner at 10 s, the petitioner leaves at
    /// 10.5 s, no media ever flows; the host leaves and comes back alone. Connected with media:
    /// nothing, so not held however long the host stays.
    #[test]
    fn admitted_and_gone_without_media_is_not_held() {
        let t = Timeline::new()
            .host_joins(0.0)
            .petitioner_waits(5.0)
            .admit(10.0)
            .leaves(10.5, PETITIONER)
            .leaves(20.0, "user-1")
            .host_joins(30.0);
        let r = reception(&t.0, window(), at(600.0));
        assert_eq!(r.connected_ms, 0);
        assert!(r.petitioner_admitted);
        assert!(!r.held(0));
        assert!(!r.held(60));
    }

    /// A short real reception.
    ///
    /// - host in the room from 0 s; petitioner waits from 5 s, admitted at 10 s, leaves at 45 s:
    ///   petitioner in the room [10, 45).
    /// - petitioner reports media at 20, 30, 40 s. The first report reaches back 15 s: [5, 20);
    ///   then [20, 30), [30, 40): media [5, 40); with presence: [10, 40).
    /// - host reports at 22, 32, 42 s: [7, 22) ∪ [22, 32) ∪ [32, 42) = [7, 42), in the room
    ///   throughout.
    /// - both: [10, 40) = 30 s. Held with a minimum of 30 s, not with 60 s.
    #[test]
    fn both_sides_with_media_count_their_overlap() {
        let t = Timeline::new()
            .host_joins(0.0)
            .petitioner_waits(5.0)
            .admit(10.0)
            .quality(20.0, PETITIONER, 800.0)
            .quality(22.0, "user-1", 900.0)
            .quality(30.0, PETITIONER, 800.0)
            .quality(32.0, "user-1", 900.0)
            .quality(40.0, PETITIONER, 800.0)
            .quality(42.0, "user-1", 900.0)
            .leaves(45.0, PETITIONER);
        assert_eq!(t.seconds(100.0), 30.0);
        let r = reception(&t.0, window(), at(100.0));
        assert!(r.held(30));
        assert!(!r.held(60));
    }

    /// As above, but the petitioner's report at 30 s says 0 kbps: [20, 30) has no media.
    /// Petitioner [10, 20) ∪ [30, 40); host [7, 42): both 10 + 10 = 20 s.
    #[test]
    fn a_report_without_bitrate_is_no_evidence() {
        let t = Timeline::new()
            .host_joins(0.0)
            .petitioner_waits(5.0)
            .admit(10.0)
            .quality(20.0, PETITIONER, 800.0)
            .quality(22.0, "user-1", 900.0)
            .quality(30.0, PETITIONER, 0.0)
            .quality(32.0, "user-1", 900.0)
            .quality(40.0, PETITIONER, 800.0)
            .quality(42.0, "user-1", 900.0)
            .leaves(45.0, PETITIONER);
        assert_eq!(t.seconds(100.0), 20.0);
    }

    /// Media from one side only: the host hears nothing (no host reports). Not held.
    #[test]
    fn media_from_one_side_only_is_not_held() {
        let t = Timeline::new()
            .host_joins(0.0)
            .petitioner_waits(5.0)
            .admit(10.0)
            .quality(20.0, PETITIONER, 800.0)
            .quality(30.0, PETITIONER, 800.0);
        assert_eq!(t.seconds(100.0), 0.0);
    }

    /// Reports 40 s apart vouch for 15 s each, not for the silence between: petitioner reports
    /// at 20 s ([5, 20)) and 60 s ([45, 60)); the host reports every 10 s from 20 to 60 s
    /// ([5, 60)); both in the room from 10 s until `now` = 100 s. Both: [10, 20) ∪ [45, 60) = 25 s.
    #[test]
    fn a_long_silence_is_not_bridged() {
        let mut t = Timeline::new()
            .host_joins(0.0)
            .petitioner_waits(5.0)
            .admit(10.0)
            .quality(20.0, PETITIONER, 800.0)
            .quality(60.0, PETITIONER, 800.0);
        for s in [20.0, 30.0, 40.0, 50.0, 60.0] {
            t = t.quality(s, "user-1", 900.0);
        }
        assert_eq!(t.seconds(100.0), 25.0);
    }

    /// While the host is out of the room the petitioner's media does not count.
    ///
    /// - host in the room [0, 25) and again from 35 s; petitioner admitted at 10 s, still in.
    /// - both report at 10, 15, 20 s: [-5, 10) ∪ [10, 15) ∪ [15, 20) = [-5, 20) each.
    /// - the petitioner reports at 25 s ([20, 25)); the host, out, does not.
    /// - both report at 40, 45, 50 s: the petitioner [25, 50); the host's report at 40 s
    ///   reaches back 15 s to 25 s, but it was out until 35 s: presence clips it to [35, 50).
    /// - both, until `now` = 50 s: [10, 20) ∪ [35, 50) = 10 + 15 = 25 s (the host's last 5 s
    ///   before leaving, [20, 25), have no report of its own).
    #[test]
    fn the_host_away_does_not_count() {
        let mut t = Timeline::new()
            .host_joins(0.0)
            .petitioner_waits(5.0)
            .admit(10.0);
        for s in [10.0, 15.0, 20.0] {
            t = t.quality(s, PETITIONER, 800.0).quality(s, "user-1", 900.0);
        }
        t = t
            .leaves(25.0, "user-1")
            .quality(25.0, PETITIONER, 800.0)
            .host_joins(35.0);
        for s in [40.0, 45.0, 50.0] {
            t = t.quality(s, PETITIONER, 800.0).quality(s, "user-1", 900.0);
        }
        assert_eq!(t.seconds(50.0), 25.0);
    }

    /// A coordinator (local staff) beside the petitioner is not the host side: with only the
    /// coordinator's media the reception is not held; a joint reception's co-host is.
    #[test]
    fn the_host_side_is_host_or_co_host() {
        let base = Timeline::new()
            .ev(
                0.0,
                "joined",
                "user-7",
                json!({"role": "local_staff", "state": "admitted"}),
            )
            .ev(
                0.0,
                "joined",
                "user-9",
                json!({"role": "co_host", "state": "admitted"}),
            )
            .petitioner_waits(5.0)
            .ev(
                10.0,
                "admitted",
                "user-9",
                json!({"participant": PETITIONER}),
            )
            .quality(20.0, PETITIONER, 800.0);
        let coordinator = base.ev(20.0, "quality", "user-7", json!({"bitrate_kbps": 500.0}));
        assert_eq!(coordinator.seconds(30.0), 0.0);
        let co_host = coordinator.ev(20.0, "quality", "user-9", json!({"bitrate_kbps": 500.0}));
        // Petitioner [10, 20) (its report reaches back to 5 s, it was admitted at 10 s), the
        // co-host [5, 20): 10 s.
        assert_eq!(co_host.seconds(30.0), 10.0);
    }

    /// Only the window counts: a 1-minute slot with no allowances is 02:00..02:01; a reception
    /// with media on both sides from 10 s to 100 s counts [10, 60) = 50 s.
    #[test]
    fn time_outside_the_window_does_not_count() {
        let mut t = Timeline::new()
            .host_joins(0.0)
            .petitioner_waits(5.0)
            .admit(10.0);
        for s in (2..=10).map(|i| i as f64 * 10.0) {
            t = t.quality(s, PETITIONER, 800.0).quality(s, "user-1", 900.0);
        }
        let narrow = Window::around(t0(), t0() + Duration::minutes(1), 0, 0);
        assert_eq!(reception(&t.0, narrow, at(200.0)).connected_ms, 50_000);
        // And `now` closes what is still open: at 35 s only [10, 30) is vouched for.
        assert_eq!(reception(&t.0, window(), at(35.0)).connected_ms, 20_000);
    }

    /// A petitioner who never got in was never received, whatever media staff report.
    #[test]
    fn a_petitioner_left_waiting_was_not_received() {
        let t = Timeline::new()
            .host_joins(0.0)
            .petitioner_waits(5.0)
            .quality(20.0, PETITIONER, 800.0)
            .quality(20.0, "user-1", 900.0);
        let r = reception(&t.0, window(), at(30.0));
        assert_eq!(r.connected_ms, 0);
        assert!(!r.petitioner_admitted);
    }

    #[test]
    fn the_status_follows_the_petitioner() {
        use crate::domain::SessionStatus as S;
        let host = json!({"role": "host", "state": "admitted"});
        let waiting = json!({"role": "petitioner", "state": "waiting"});
        let admit = json!({"participant": PETITIONER});
        let none = json!({});
        assert_eq!(
            transition(EventKind::Joined, "user-1", &host, S::Scheduled),
            Some(S::Waiting)
        );
        assert_eq!(
            transition(EventKind::Joined, PETITIONER, &waiting, S::Waiting),
            None
        );
        assert_eq!(
            transition(EventKind::Admitted, "user-1", &admit, S::Waiting),
            Some(S::Live)
        );
        // Admitting someone else (a coordinator kept waiting) does not start the reception.
        let other = json!({"participant": "user-7"});
        assert_eq!(
            transition(EventKind::Admitted, "user-1", &other, S::Waiting),
            None
        );
        // The petitioner leaves, or is sent out: no longer live.
        assert_eq!(
            transition(EventKind::Left, PETITIONER, &none, S::Live),
            Some(S::Waiting)
        );
        assert_eq!(
            transition(EventKind::Removed, PETITIONER, &none, S::Live),
            Some(S::Waiting)
        );
        // Staff leaving and coming back alone change nothing.
        assert_eq!(
            transition(EventKind::Left, "user-1", &none, S::Waiting),
            None
        );
        assert_eq!(
            transition(EventKind::Joined, "user-1", &host, S::Waiting),
            None
        );
        assert_eq!(transition(EventKind::Left, "user-1", &none, S::Live), None);
        // After an interruption, only the petitioner makes it live again.
        assert_eq!(
            transition(EventKind::Joined, "user-1", &host, S::Interrupted),
            Some(S::Waiting)
        );
        assert_eq!(
            transition(EventKind::Resumed, PETITIONER, &none, S::Interrupted),
            Some(S::Live)
        );
        assert_eq!(
            transition(EventKind::Admitted, "user-1", &admit, S::Interrupted),
            Some(S::Live)
        );
        // A session that never had its petitioner goes back to scheduled when emptied.
        assert_eq!(
            transition(EventKind::Emptied, "system", &none, S::Waiting),
            Some(S::Scheduled)
        );
        assert_eq!(
            transition(EventKind::Emptied, "system", &none, S::Live),
            None
        );
        assert_eq!(
            transition(EventKind::NoShow, "system", &none, S::Waiting),
            Some(S::NoShow)
        );
        assert_eq!(
            transition(EventKind::Joined, PETITIONER, &waiting, S::NoShow),
            Some(S::Waiting)
        );
    }
}
