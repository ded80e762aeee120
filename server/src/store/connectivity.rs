//! Queries for connectivity tests (联通测试) and the campaigns that order them.
//!
//! A campaign belongs to the court that opened it and covers every court below it. A room's
//! standing in a campaign is its latest finished test since the campaign opened, whichever way it
//! was started: the room terminal needs to know nothing about campaigns.

use chrono::{DateTime, Utc};

use super::{CourtRow, Pool, Store, StoreError};
use crate::domain::{SessionId, UserId};

/// `down(id, depth)`: the court `$1` (depth 0) and the courts below it.
use super::tree::BRANCH;

#[derive(Debug, Clone)]
pub struct NewTest<'a> {
    pub local_room_id: Option<i64>,
    pub session_id: Option<SessionId>,
    /// A host court's own reception room (migration 0032).
    pub host_room_id: Option<i64>,
    /// `user-<id>`, or `petitioner-<seat>` (the join token's seat, see `JoinClaims::seat`).
    pub run_by: &'a str,
    /// `media` or `data`.
    pub kind: &'a str,
    pub started_at: DateTime<Utc>,
}

/// How many device checks a petitioner may start (see `ConnectivitySettings`).
#[derive(Debug, Clone, Copy)]
pub struct DeviceCheckCap {
    /// Since when tests count.
    pub since: DateTime<Utc>,
    pub per_token: i64,
    pub per_booking: i64,
}

/// A device check refused by its cap: which one, and the oldest counted test's start (it
/// stops counting one window after it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capped {
    Token(DateTime<Utc>),
    Booking(DateTime<Utc>),
}

/// How a test ended.
#[derive(Debug, Clone)]
pub struct TestOutcome<'a> {
    pub passed: bool,
    pub reason_code: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub local_candidate: Option<&'a str>,
    pub remote_candidate: Option<&'a str>,
    pub connect_ms: Option<i64>,
    pub rtt_ms: Option<f64>,
    pub loss_percent: Option<f64>,
    pub jitter_ms: Option<f64>,
    pub bitrate_kbps: Option<f64>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TestRow {
    pub id: i64,
    pub local_room_id: Option<i64>,
    pub session_id: Option<SessionId>,
    pub host_room_id: Option<i64>,
    pub run_by: String,
    pub kind: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub status: String,
    pub reason_code: Option<String>,
    pub reason: Option<String>,
    pub local_candidate: Option<String>,
    pub remote_candidate: Option<String>,
    pub connect_ms: Option<i64>,
    pub rtt_ms: Option<f64>,
    pub loss_percent: Option<f64>,
    pub jitter_ms: Option<f64>,
    pub bitrate_kbps: Option<f64>,
    pub client_report: Option<String>,
}

const TEST_COLUMNS: &str = "id, local_room_id, session_id, host_room_id, run_by, kind, started_at, finished_at, \
    status, reason_code, reason, local_candidate, remote_candidate, connect_ms, rtt_ms, \
    loss_percent, jitter_ms, bitrate_kbps, client_report";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CampaignRow {
    pub id: i64,
    pub court_id: i64,
    pub court_name: String,
    pub title: String,
    pub deadline: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ContactRow {
    pub court_id: i64,
    pub contact_name: String,
    pub contact_phone: String,
    pub tech_name: String,
    pub tech_phone: String,
    pub updated_at: DateTime<Utc>,
}

/// A room below a campaign's court with its latest finished test since the campaign opened.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RoomStanding {
    pub room_id: i64,
    pub room_name: String,
    pub court_id: i64,
    pub test_id: Option<i64>,
    pub status: Option<String>,
    pub reason_code: Option<String>,
    pub reason: Option<String>,
    pub finished_at: Option<DateTime<Utc>>,
    pub rtt_ms: Option<f64>,
    pub loss_percent: Option<f64>,
    pub jitter_ms: Option<f64>,
    pub bitrate_kbps: Option<f64>,
}

impl Store {
    pub async fn insert_connectivity_test(&self, t: &NewTest<'_>) -> Result<i64, StoreError> {
        let sql = "INSERT INTO connectivity_tests (local_room_id, session_id, host_room_id, run_by, \
                   kind, started_at, status) VALUES ($1, $2, $6, $3, $4, $5, 'running') RETURNING id";
        let (id,): (i64,) = on_pool!(self, |p| sqlx::query_as(sql)
            .bind(t.local_room_id)
            .bind(t.session_id)
            .bind(t.run_by)
            .bind(t.kind)
            .bind(t.started_at)
            .bind(t.host_room_id)
            .fetch_one(p)
            .await)?;
        Ok(id)
    }

    /// The latest tests of a host court's reception room, newest first.
    pub async fn connectivity_tests_of_host_room(
        &self,
        host_room_id: i64,
        limit: i64,
    ) -> Result<Vec<TestRow>, StoreError> {
        let sql = format!(
            "SELECT {TEST_COLUMNS} FROM connectivity_tests WHERE host_room_id = $1 \
             ORDER BY started_at DESC, id DESC LIMIT $2"
        );
        Ok(on_pool!(self, |p| sqlx::query_as(&sql)
            .bind(host_room_id)
            .bind(limit)
            .fetch_all(p)
            .await)?)
    }

    /// Records a petitioner's device check of `session_id` (`t.session_id` is not read), unless
    /// its token (`t.run_by`) or its session (one
    /// per booking) has started its cap of tests since `cap.since`. Counted in the database, so
    /// the caps hold across instances; the session's row is locked (PostgreSQL) or the write
    /// lock held (SQLite) from count to insert, so concurrent starts cannot both squeeze in.
    pub async fn insert_device_check(
        &self,
        session_id: SessionId,
        t: &NewTest<'_>,
        cap: DeviceCheckCap,
    ) -> Result<Result<i64, Capped>, StoreError> {
        let lock = match &self.pool {
            Pool::Postgres(_) => "SELECT id FROM sessions WHERE id = $1 FOR UPDATE",
            Pool::Sqlite(_) => "SELECT id FROM sessions WHERE id = $1",
        };
        let count = "SELECT COUNT(*), MIN(started_at) FROM connectivity_tests \
                     WHERE session_id = $1 AND started_at > $2";
        let count_token = "SELECT COUNT(*), MIN(started_at) FROM connectivity_tests \
                           WHERE session_id = $1 AND started_at > $2 AND run_by = $3";
        let insert = "INSERT INTO connectivity_tests (local_room_id, session_id, run_by, kind, \
                      started_at, status) VALUES ($1, $2, $3, $4, $5, 'running') RETURNING id";
        in_write_tx!(self, |tx| {
            sqlx::query(lock).bind(session_id).execute(&mut *tx).await?;
            let (n, oldest): (i64, Option<DateTime<Utc>>) = sqlx::query_as(count_token)
                .bind(session_id)
                .bind(cap.since)
                .bind(t.run_by)
                .fetch_one(&mut *tx)
                .await?;
            if n >= cap.per_token {
                return Ok(Err(Capped::Token(oldest.unwrap_or(cap.since))));
            }
            let (n, oldest): (i64, Option<DateTime<Utc>>) = sqlx::query_as(count)
                .bind(session_id)
                .bind(cap.since)
                .fetch_one(&mut *tx)
                .await?;
            if n >= cap.per_booking {
                return Ok(Err(Capped::Booking(oldest.unwrap_or(cap.since))));
            }
            let (id,): (i64,) = sqlx::query_as(insert)
                .bind(t.local_room_id)
                .bind(session_id)
                .bind(t.run_by)
                .bind(t.kind)
                .bind(t.started_at)
                .fetch_one(&mut *tx)
                .await?;
            Ok(Ok(id))
        })
    }

    /// Records how a running test ended; a test already finished (e.g. swept as abandoned) is
    /// left as it is.
    pub async fn finish_connectivity_test(
        &self,
        id: i64,
        o: &TestOutcome<'_>,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE connectivity_tests SET finished_at = $2, status = $3, reason_code = $4, \
                   reason = $5, local_candidate = $6, remote_candidate = $7, connect_ms = $8, \
                   rtt_ms = $9, loss_percent = $10, jitter_ms = $11, bitrate_kbps = $12 \
                   WHERE id = $1 AND status = 'running'";
        let status = if o.passed { "passed" } else { "failed" };
        on_pool!(self, |p| sqlx::query(sql)
            .bind(id)
            .bind(self.now())
            .bind(status)
            .bind(o.reason_code)
            .bind(o.reason)
            .bind(o.local_candidate)
            .bind(o.remote_candidate)
            .bind(o.connect_ms)
            .bind(o.rtt_ms)
            .bind(o.loss_percent)
            .bind(o.jitter_ms)
            .bind(o.bitrate_kbps)
            .execute(p)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Keeps the client's own figures (JSON) beside the server's.
    pub async fn set_connectivity_client_report(
        &self,
        id: i64,
        report: &str,
    ) -> Result<(), StoreError> {
        let sql = "UPDATE connectivity_tests SET client_report = $2 WHERE id = $1";
        on_pool!(self, |p| sqlx::query(sql)
            .bind(id)
            .bind(report)
            .execute(p)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    pub async fn connectivity_test(&self, id: i64) -> Result<TestRow, StoreError> {
        let sql = format!("SELECT {TEST_COLUMNS} FROM connectivity_tests WHERE id = $1");
        Ok(on_pool!(self, |p| sqlx::query_as(&sql)
            .bind(id)
            .fetch_one(p)
            .await)?)
    }

    /// The local rooms that will call `host_court` (as host or joint court) between `from` and
    /// `to`, or are calling it now (a booking not over at `from` counts: an officer opens the page
    /// during a session too), each once, by their first booking: (room id, room name, court id,
    /// court name, the first booking's start).
    pub async fn incoming_rooms(
        &self,
        host_court: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<IncomingRoom>, StoreError> {
        let sql = "SELECT lr.id AS room_id, lr.name AS room_name, lc.id AS court_id, \
                   lc.name AS court_name, MIN(b.starts_at) AS first_start \
                   FROM bookings b JOIN host_rooms hr ON hr.id = b.host_room_id \
                   JOIN local_rooms lr ON lr.id = b.local_room_id \
                   JOIN courts lc ON lc.id = lr.court_id \
                   WHERE (hr.court_id = $1 OR b.joint_court_id = $1) AND b.status = 'booked' \
                   AND b.ends_at > $2 AND b.starts_at < $3 \
                   GROUP BY lr.id, lr.name, lc.id, lc.name ORDER BY first_start, lr.id";
        Ok(on_pool!(self, |p| sqlx::query_as(sql)
            .bind(host_court)
            .bind(from)
            .bind(to)
            .fetch_all(p)
            .await)?)
    }

    /// The latest tests of a room, newest first.
    pub async fn connectivity_tests_of_room(
        &self,
        room_id: i64,
        limit: i64,
    ) -> Result<Vec<TestRow>, StoreError> {
        let sql = format!(
            "SELECT {TEST_COLUMNS} FROM connectivity_tests WHERE local_room_id = $1 \
             ORDER BY started_at DESC, id DESC LIMIT $2"
        );
        Ok(on_pool!(self, |p| sqlx::query_as(&sql)
            .bind(room_id)
            .bind(limit)
            .fetch_all(p)
            .await)?)
    }

    /// Marks tests still running that started before `before` as failed: their instance
    /// stopped or lost them. Returns how many.
    pub async fn abandon_connectivity_tests(
        &self,
        before: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let sql = "UPDATE connectivity_tests SET status = 'failed', finished_at = $2, \
                   reason_code = $3, reason = 'the test was abandoned before it finished' \
                   WHERE status = 'running' AND started_at < $1";
        let done = on_pool!(self, |p| sqlx::query(sql)
            .bind(before)
            .bind(self.now())
            .bind(crate::domain::TestFailure::Abandoned.as_str())
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done)
    }

    pub async fn create_campaign(
        &self,
        court_id: i64,
        title: &str,
        deadline: DateTime<Utc>,
        created_by: UserId,
    ) -> Result<i64, StoreError> {
        let sql = "INSERT INTO connectivity_campaigns (court_id, title, deadline, created_by, \
                   created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id";
        let (id,): (i64,) = on_pool!(self, |p| sqlx::query_as(sql)
            .bind(court_id)
            .bind(title)
            .bind(deadline)
            .bind(created_by)
            .bind(self.now())
            .fetch_one(p)
            .await)?;
        Ok(id)
    }

    pub async fn campaign(&self, id: i64) -> Result<CampaignRow, StoreError> {
        let sql = "SELECT k.id, k.court_id, c.name AS court_name, k.title, k.deadline, \
                   k.created_at FROM connectivity_campaigns k JOIN courts c ON c.id = k.court_id \
                   WHERE k.id = $1";
        Ok(on_pool!(self, |p| sqlx::query_as(sql)
            .bind(id)
            .fetch_one(p)
            .await)?)
    }

    /// Campaigns opened by `court_id`, by a court above it (it is in their scope) or by a
    /// court below it (it oversees them); newest deadline first.
    pub async fn campaigns_for(&self, court_id: i64) -> Result<Vec<CampaignRow>, StoreError> {
        let sql = format!(
            "{}SELECT k.id, k.court_id, c.name AS court_name, k.title, k.deadline, k.created_at \
             FROM connectivity_campaigns k JOIN courts c ON c.id = k.court_id \
             WHERE k.court_id IN (SELECT id FROM up) OR k.court_id IN (SELECT id FROM down) \
             ORDER BY k.deadline DESC, k.id DESC",
            super::tree::LINE_AND_BRANCH
        );
        Ok(on_pool!(self, |p| sqlx::query_as(&sql)
            .bind(court_id)
            .fetch_all(p)
            .await)?)
    }

    /// Every court strictly below `court_id`, by level then name.
    pub async fn courts_below(&self, court_id: i64) -> Result<Vec<CourtRow>, StoreError> {
        let sql = format!(
            "{BRANCH}SELECT c.id, c.name, c.level, c.parent_id FROM courts c \
             JOIN down ON down.id = c.id WHERE down.depth > 0 ORDER BY down.depth, c.id"
        );
        Ok(on_pool!(self, |p| sqlx::query_as(&sql)
            .bind(court_id)
            .fetch_all(p)
            .await)?)
    }

    /// Every local room of the courts below `court_id`, with its latest finished test since
    /// `since`.
    pub async fn room_standings(
        &self,
        court_id: i64,
        since: DateTime<Utc>,
    ) -> Result<Vec<RoomStanding>, StoreError> {
        let sql = format!(
            "{BRANCH}SELECT r.id AS room_id, r.name AS room_name, r.court_id, t.id AS test_id, \
             t.status, t.reason_code, t.reason, t.finished_at, t.rtt_ms, t.loss_percent, \
             t.jitter_ms, t.bitrate_kbps \
             FROM local_rooms r \
             LEFT JOIN connectivity_tests t ON t.id = ( \
               SELECT t2.id FROM connectivity_tests t2 WHERE t2.local_room_id = r.id \
               AND t2.status <> 'running' AND t2.started_at >= $2 \
               ORDER BY t2.started_at DESC, t2.id DESC LIMIT 1) \
             WHERE r.court_id IN (SELECT id FROM down WHERE depth > 0) ORDER BY r.court_id, r.id"
        );
        Ok(on_pool!(self, |p| sqlx::query_as(&sql)
            .bind(court_id)
            .bind(since)
            .fetch_all(p)
            .await)?)
    }

    /// The persons each court recorded for a campaign, phones opened (sealed since issue 16;
    /// older rows hold them plain, and read as they are).
    pub async fn campaign_contacts(&self, campaign_id: i64) -> Result<Vec<ContactRow>, StoreError> {
        let sql = "SELECT court_id, contact_name, contact_phone, tech_name, tech_phone, updated_at \
                   FROM connectivity_contacts WHERE campaign_id = $1 ORDER BY court_id";
        let rows: Vec<ContactRow> = on_pool!(self, |p| sqlx::query_as(sql)
            .bind(campaign_id)
            .fetch_all(p)
            .await)?;
        rows.into_iter()
            .map(|mut r| {
                r.contact_phone = super::directory::open_phone(&r.contact_phone)?;
                r.tech_phone = super::directory::open_phone(&r.tech_phone)?;
                Ok(r)
            })
            .collect()
    }

    pub async fn set_campaign_contacts(
        &self,
        campaign_id: i64,
        court_id: i64,
        contact: (&str, &str),
        tech: (&str, &str),
        updated_by: UserId,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO connectivity_contacts (campaign_id, court_id, contact_name, \
                   contact_phone, tech_name, tech_phone, updated_by, updated_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                   ON CONFLICT (campaign_id, court_id) DO UPDATE SET \
                   contact_name = excluded.contact_name, contact_phone = excluded.contact_phone, \
                   tech_name = excluded.tech_name, tech_phone = excluded.tech_phone, \
                   updated_by = excluded.updated_by, updated_at = excluded.updated_at";
        // Phones are sealed at rest, as a court's directory keeps them.
        let contact_phone = super::directory::seal_phone(contact.1)?;
        let tech_phone = super::directory::seal_phone(tech.1)?;
        on_pool!(self, |p| sqlx::query(sql)
            .bind(campaign_id)
            .bind(court_id)
            .bind(contact.0)
            .bind(&contact_phone)
            .bind(tech.0)
            .bind(&tech_phone)
            .bind(updated_by)
            .bind(self.now())
            .execute(p)
            .await
            .map(|_| ()))?;
        Ok(())
    }
}

/// A local room that will call a host court soon (`Store::incoming_rooms`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IncomingRoom {
    pub room_id: i64,
    pub room_name: String,
    pub court_id: i64,
    pub court_name: String,
    pub first_start: DateTime<Utc>,
}
