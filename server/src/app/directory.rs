//! Each court's directory (issue 16, "directories"): its contact person (联系人) and its
//! technical-support person (技术保障人员), each a name and a phone number. Shown on bookings,
//! on the appointment notice and on a failed connectivity test. Every rule of it is here: who
//! writes, who reads, and when a phone is shown whole (docs/ledger.md, "Directories").
//!
//! Phones are shown whole only to someone who needs to dial them:
//! - the court's own staff;
//! - the other side of a live booking (the local court's coordinator and the host court's or a
//!   joint court's officers), on that booking's views and through `GET /courts/{id}/directory`;
//!
//! everyone else who may read the directory (the courts above it) sees them masked
//! (`138****1234`), as a campaign shows another court's persons.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::scope::Scope;
use crate::auth::{Staff, name_input};
use crate::domain::{Role, SessionStatus, mask_phone};
use crate::error::ApiError;
use crate::store::directory::{DirectoryRow, SetDirectory};
use crate::store::{Store, StoreError};

/// A person of a directory.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Person {
    /// 1 to 50 characters.
    pub name: String,
    /// 7 to 20 digits, with spaces and dashes allowed (`0571-8800 1234`); masked
    /// (`057*******1234`) for readers who do not dial it (docs/ledger.md).
    pub phone: String,
}

/// A court's directory as a reader sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CourtDirectory {
    pub court_id: i64,
    pub court_name: String,
    /// 联系人
    pub contact: Option<Person>,
    /// 技术保障人员
    pub tech_support: Option<Person>,
    /// The phones are masked for this reader.
    pub masked: bool,
    /// `directory`: what the court keeps; `campaign`: what it last recorded for a
    /// connectivity campaign (it has no directory yet); `none`: nothing on record.
    pub source: String,
    pub updated_at: Option<DateTime<Utc>>,
}

/// How much of a phone a reader sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exposure {
    Whole,
    Masked,
}

/// The one rule for a phone shown to someone outside the court: whole to its own court and to
/// the other side of a live booking, masked to everyone else.
pub fn exposure(reader_court: i64, court: i64, live_booking: bool) -> Exposure {
    if reader_court == court || live_booking {
        Exposure::Whole
    } else {
        Exposure::Masked
    }
}

/// The rule for a phone number: 7 to 20 digits, with spaces and dashes. One rule, used here and
/// by a campaign's contacts.
pub fn phone_ok(p: &str) -> bool {
    let p = p.trim();
    let digits = p.chars().filter(char::is_ascii_digit).count();
    (7..=20).contains(&digits)
        && p.chars()
            .all(|c| c.is_ascii_digit() || c == '-' || c == ' ')
}

fn person_input(field: &str, p: &Person) -> Result<(String, String), ApiError> {
    let name = name_input(&format!("{field}.name"), &p.name, 50)?;
    if !phone_ok(&p.phone) {
        return Err(ApiError::invalid(format!(
            "{field}.phone: a phone number (7 to 20 digits, spaces and dashes)"
        )));
    }
    Ok((name, p.phone.trim().to_owned()))
}

/// What a court keeps, or what it last recorded for a campaign, or nothing; phones whole.
async fn stored(
    store: &Store,
    court_id: i64,
) -> Result<(Option<DirectoryRow>, &'static str), ApiError> {
    if let Some(d) = store.directory(court_id).await? {
        return Ok((Some(d), "directory"));
    }
    if let Some(d) = store.latest_campaign_persons(court_id).await? {
        return Ok((Some(d), "campaign"));
    }
    Ok((None, "none"))
}

/// A court's directory, with phones whole or masked.
pub async fn of_court(
    store: &Store,
    court_id: i64,
    exposure: Exposure,
) -> Result<CourtDirectory, ApiError> {
    let court = match store.court(court_id).await {
        Ok(c) => c,
        Err(StoreError::NotFound) => return Err(ApiError::NotFound("court")),
        Err(e) => return Err(e.into()),
    };
    let (row, source) = stored(store, court_id).await?;
    let show = |p: &Option<(String, String)>| {
        p.as_ref().map(|(name, phone)| Person {
            name: name.clone(),
            phone: match exposure {
                Exposure::Whole => phone.clone(),
                Exposure::Masked => mask_phone(phone),
            },
        })
    };
    Ok(CourtDirectory {
        court_id,
        court_name: court.name,
        contact: row.as_ref().and_then(|r| show(&r.contact)),
        tech_support: row.as_ref().and_then(|r| show(&r.tech)),
        masked: exposure == Exposure::Masked,
        source: source.to_owned(),
        updated_at: row.map(|r| r.updated_at),
    })
}

/// `GET /courts/{id}/directory`: the court's own staff and the other side of a live booking
/// read it whole; the courts above it read it with phones masked; anyone else is refused.
pub async fn read(store: &Store, staff: &Staff, court_id: i64) -> Result<CourtDirectory, ApiError> {
    // 404 before 403: a court that does not exist is not "outside your branch".
    match store.court(court_id).await {
        Ok(_) => {}
        Err(StoreError::NotFound) => return Err(ApiError::NotFound("court")),
        Err(e) => return Err(e.into()),
    }
    let own = staff.court_id == court_id;
    let live = !own && store.live_booking_between(staff.court_id, court_id).await?;
    if !own && !live && !Scope::of(store, staff).in_branch(court_id).await? {
        return Err(ApiError::Forbidden(
            "this court's directory is read by its own court, the courts above it, and the other side of a live booking",
        ));
    }
    of_court(store, court_id, exposure(staff.court_id, court_id, live)).await
}

/// `PUT /courts/{id}/directory`: the court's own coordinator or administrator sets both persons
/// (an absent person is cleared). Audited, without the phones.
pub async fn set(
    store: &Store,
    staff: &Staff,
    court_id: i64,
    contact: Option<&Person>,
    tech_support: Option<&Person>,
) -> Result<CourtDirectory, ApiError> {
    staff.require(&[Role::Coordinator, Role::Admin])?;
    if staff.court_id != court_id {
        return Err(ApiError::Forbidden(
            "only the court's own coordinator or administrator keeps its directory",
        ));
    }
    let contact = contact.map(|p| person_input("contact", p)).transpose()?;
    let tech = tech_support
        .map(|p| person_input("tech_support", p))
        .transpose()?;
    store
        .set_directory(&SetDirectory {
            court_id,
            contact: contact.as_ref().map(|(n, p)| (n.as_str(), p.as_str())),
            tech: tech.as_ref().map(|(n, p)| (n.as_str(), p.as_str())),
            updated_by: staff.user_id,
            actor: &format!("user-{}", staff.user_id),
        })
        .await?;
    tracing::info!(court_id, "court directory set");
    of_court(store, court_id, Exposure::Whole).await
}

/// The directories of the courts of one booking, as a party to it sees them: each court's
/// phones whole while the booking is live (the other side needs to dial them), and after it
/// only the reader's own court's.
pub async fn of_booking(
    store: &Store,
    reader_court: i64,
    courts: &[i64],
    live: bool,
) -> Result<Vec<CourtDirectory>, ApiError> {
    let mut out = Vec::new();
    for &court in courts {
        if out.iter().any(|d: &CourtDirectory| d.court_id == court) {
            continue;
        }
        out.push(of_court(store, court, exposure(reader_court, court, live)).await?);
    }
    Ok(out)
}

/// The directories of a session's courts (local, host, joint) for a staff member of one of
/// them: phones whole while the session is still to be held or under way (`scheduled`,
/// `waiting`, `live`, `interrupted`), afterwards only the reader's own court's.
pub async fn of_session(
    store: &Store,
    reader_court: i64,
    session: &crate::store::SessionRow,
) -> Result<Vec<CourtDirectory>, ApiError> {
    let live = matches!(
        session.status,
        SessionStatus::Scheduled
            | SessionStatus::Waiting
            | SessionStatus::Live
            | SessionStatus::Interrupted
    );
    let mut courts = vec![session.local_court_id, session.host_court_id];
    courts.extend(session.joint_court_id);
    of_booking(store, reader_court, &courts, live).await
}

/// The technical-support person of a room's court, to name on a failed connectivity test (and
/// when a room reaches no relay): whole for the court's own staff, masked for the courts above.
pub async fn support_for(
    store: &Store,
    reader_court: i64,
    court_id: i64,
) -> Result<Option<Person>, ApiError> {
    Ok(
        of_court(store, court_id, exposure(reader_court, court_id, false))
            .await?
            .tech_support,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_and_exposure() {
        assert!(phone_ok("0571-8800 1234"));
        assert!(phone_ok("13800001234"));
        assert!(!phone_ok("123456"));
        assert!(!phone_ok("+86 138 0000 1234"));
        assert!(!phone_ok("1380000123x"));
        assert_eq!(exposure(1, 1, false), Exposure::Whole);
        assert_eq!(exposure(2, 1, true), Exposure::Whole);
        assert_eq!(exposure(2, 1, false), Exposure::Masked);
    }
}
