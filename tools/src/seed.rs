//! Synthetic sessions for the load generators and benchmarks (`courtlink-bench bench`,
//! `benches/webrtc_join.rs`): a host court with one officer, a local court with one case, and
//! `count` booked sessions, each from its own local room. Written straight into the tables in one
//! transaction (seconds, not minutes), bypassing the booking rules on purpose: this is load
//! data, and it lives here, not in the server a court installs.

use courtlink::store::{Pool, Store};

/// Fills the store: returns (officer user id, host court id, session ids).
pub async fn synthetic_sessions(
    store: &Store,
    count: usize,
    tag: &str,
) -> anyhow::Result<(i64, i64, Vec<i64>)> {
    let at = store.now();
    macro_rules! fill {
        ($pool:expr) => {{
            let mut tx = $pool.begin().await?;
            let seeded = async {
            let (host,): (i64,) = sqlx::query_as(
                "INSERT INTO courts (name, level) VALUES ($1, 'supreme') RETURNING id",
            )
            .bind(format!("{tag} host court"))
            .fetch_one(&mut *tx)
            .await?;
            let (local,): (i64,) = sqlx::query_as(
                "INSERT INTO courts (name, level, parent_id) VALUES ($1, 'basic', $2) RETURNING id",
            )
            .bind(format!("{tag} local court"))
            .bind(host)
            .fetch_one(&mut *tx)
            .await?;
            let (officer,): (i64,) = sqlx::query_as(
                "INSERT INTO users (court_id, username, display_name, role, password_hash) \
                 VALUES ($1, $2, 'bench officer', 'officer', '!') RETURNING id",
            )
            .bind(host)
            .bind(format!("{tag}.officer"))
            .fetch_one(&mut *tx)
            .await?;
            let (case,): (i64,) = sqlx::query_as(
                "INSERT INTO cases (court_id, case_number, petitioner_name, petitioner_id_number, subject, status, tier, created_at) \
                 VALUES ($1, $2, 'bench', '000000000000000000', 'bench', 'registered', 3, $3) RETURNING id",
            )
            .bind(local)
            .bind(format!("{tag}-case"))
            .bind(at)
            .fetch_one(&mut *tx)
            .await?;
            let mut sessions = Vec::with_capacity(count);
            for i in 0..count {
                // Every session can be joined now: the server lets nobody in outside a session's
                // window (`auth.join_early_minutes` before it starts), so they all start now, each
                // in a host room of its own (one room's slots may not overlap). Spread a minute
                // apart in one room, the 31st and later were refused 409 `outside_window`.
                let starts = at;
                let ends = starts + chrono::Duration::minutes(60);
                let (room,): (i64,) = sqlx::query_as(
                    "INSERT INTO host_rooms (court_id, name) VALUES ($1, $2) RETURNING id",
                )
                .bind(host)
                .bind(format!("bench {i}"))
                .fetch_one(&mut *tx)
                .await?;
                let (local_room,): (i64,) = sqlx::query_as(
                    "INSERT INTO local_rooms (court_id, name) VALUES ($1, $2) RETURNING id",
                )
                .bind(local)
                .bind(format!("room {i}"))
                .fetch_one(&mut *tx)
                .await?;
                let (slot,): (i64,) =
                    sqlx::query_as("INSERT INTO slots (host_room_id, starts_at, ends_at) VALUES ($1, $2, $3) RETURNING id")
                        .bind(room)
                        .bind(starts)
                        .bind(ends)
                        .fetch_one(&mut *tx)
                        .await?;
                let (booking,): (i64,) = sqlx::query_as(
                    "INSERT INTO bookings (slot_id, case_id, local_room_id, starts_at, ends_at, status, created_by, created_at) \
                     VALUES ($1, $2, $3, $4, $5, 'booked', $6, $7) RETURNING id",
                )
                .bind(slot)
                .bind(case)
                .bind(local_room)
                .bind(starts)
                .bind(ends)
                .bind(officer)
                .bind(at)
                .fetch_one(&mut *tx)
                .await?;
                let (session,): (i64,) = sqlx::query_as(
                    "INSERT INTO sessions (booking_id, status, join_code_hash) VALUES ($1, 'scheduled', $2) RETURNING id",
                )
                .bind(booking)
                .bind(format!("{tag}-{i}"))
                .fetch_one(&mut *tx)
                .await?;
                sessions.push(session);
            }
            Ok::<_, sqlx::Error>((officer, host, sessions))
            }
            .await?;
            tx.commit().await?;
            Ok(seeded)
        }};
    }
    match store.pool() {
        Pool::Sqlite(pool) => fill!(pool),
        Pool::Postgres(pool) => fill!(pool),
    }
}
