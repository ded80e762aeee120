//! Demo data for the embedded default: courts of one province under the SPC, rooms, users and
//! a few petition cases, seeded once; and two days of half-hour slots, topped up at every start
//! so that a demo always has something to book. (Real availability comes from the host courts'
//! own schedules.)

use chrono::{DateTime, Duration, DurationRound, Utc};

use crate::auth::hash_password;
use crate::domain::{Channel, Role, UserId};
use crate::store::directory::SetDirectory;
use crate::store::{NewCase, NewUser, RoomKind, Store};

pub const SLOT_MINUTES: i64 = 30;
pub const SLOT_HOURS_AHEAD: i64 = 48;

/// The demo logins, printed at start-up: (username, what they are).
pub const LOGINS: &[(&str, &str)] = &[
    ("xihu.coord", "杭州市西湖区人民法院 信访专干 (coordinator)"),
    (
        "shangcheng.coord",
        "杭州市上城区人民法院 信访专干 (coordinator)",
    ),
    ("spc.officer", "最高人民法院 接访法官 (officer)"),
    ("zj.officer", "浙江省高级人民法院 接访法官 (officer)"),
    ("hz.officer", "杭州市中级人民法院 接访法官 (officer)"),
    ("spc.supervisor", "最高人民法院 领导 (supervisor)"),
    ("zj.supervisor", "浙江省高级人民法院 领导 (supervisor)"),
    (
        "xihu.leader",
        "杭州市西湖区人民法院 院领导，可被指派包案 (supervisor)",
    ),
    ("admin", "系统管理员 (admin)"),
];

/// Seeds the demo once (when there are no courts yet) and tops up the slots every time.
pub async fn seed(store: &Store, password: &str) -> anyhow::Result<()> {
    seed_at(store, password, store.now()).await
}

/// [`seed`] as of `at` (the application's clock).
pub async fn seed_at(store: &Store, password: &str, at: DateTime<Utc>) -> anyhow::Result<()> {
    if store.count_courts().await? == 0 {
        seed_once(store, password, at).await?;
        tracing::info!("demo data seeded");
    }
    demo_scheduling(store, at).await?;
    let added = top_up_slots(store, at).await?;
    tracing::info!(added, "demo slots topped up");
    Ok(())
}

async fn seed_once(store: &Store, password: &str, at: DateTime<Utc>) -> anyhow::Result<()> {
    let spc = store.insert_court("最高人民法院", "supreme", None).await?;
    let high = store
        .insert_court("浙江省高级人民法院", "high", Some(spc))
        .await?;
    let mid = store
        .insert_court("杭州市中级人民法院", "intermediate", Some(high))
        .await?;
    let xihu = store
        .insert_court("杭州市西湖区人民法院", "basic", Some(mid))
        .await?;
    let shangcheng = store
        .insert_court("杭州市上城区人民法院", "basic", Some(mid))
        .await?;

    for (court, name) in [
        (spc, "第一接谈室"),
        (spc, "第二接谈室"),
        (high, "接谈室一"),
        (mid, "接谈室一"),
    ] {
        store.insert_room(RoomKind::Host, court, name).await?;
    }
    for (court, name) in [
        (xihu, "视频接访室一"),
        (xihu, "视频接访室二"),
        (shangcheng, "视频接访室"),
        (mid, "视频接访室"),
    ] {
        store.insert_room(RoomKind::Local, court, name).await?;
    }

    // One argon2 hash for every demo user: they share the printed demo password.
    let hash = hash_password(password)?;
    let mut admin = 0;
    for (court, username, display_name, role) in [
        (spc, "admin", "系统管理员", Role::Admin),
        (spc, "spc.officer", "最高法 周法官", Role::Officer),
        (spc, "spc.supervisor", "最高法 吴庭长", Role::Supervisor),
        (high, "zj.officer", "浙江高院 郑法官", Role::Officer),
        (high, "zj.supervisor", "浙江高院 王院长", Role::Supervisor),
        (mid, "hz.officer", "杭州中院 冯法官", Role::Officer),
        (xihu, "xihu.coord", "西湖法院 陈专干", Role::Coordinator),
        // A leader of the local court, to be named on a session (领导包案).
        (xihu, "xihu.leader", "西湖法院 李副院长", Role::Supervisor),
        (
            shangcheng,
            "shangcheng.coord",
            "上城法院 褚专干",
            Role::Coordinator,
        ),
    ] {
        let id = store
            .insert_user(&NewUser {
                court_id: court,
                username,
                display_name,
                role,
                password_hash: &hash,
            })
            .await?;
        if username == "admin" {
            admin = id;
        }
    }

    // The receiving courts' directories (联系人, 技术保障人员), so that a booking, the notice and
    // a failed connectivity test show whom to call. The two basic courts keep none: their
    // coordinators set their own (`PUT /courts/{id}/directory`), as a new court would. The
    // numbers are made up.
    for (court, contact, tech) in [
        (
            spc,
            ("立案庭 接访室", "010-6755 0001"),
            ("信息中心 值班", "010-6755 0002"),
        ),
        (
            high,
            ("立案庭 信访窗口", "0571-8700 0101"),
            ("技术处 值班", "0571-8700 0102"),
        ),
        (
            mid,
            ("立案庭 信访窗口", "0571-8800 0201"),
            ("技术科 值班", "0571-8800 0202"),
        ),
    ] {
        store
            .set_directory(&SetDirectory {
                court_id: court,
                contact: Some(contact),
                tech: Some(tech),
                updated_by: UserId(admin),
                actor: &format!("user-{admin}"),
            })
            .await?;
    }

    // Identity numbers are made up (the check digit is not even valid); only masks ever leave.
    let cases = [
        (
            xihu,
            "（2026）浙0106信访12号",
            "王某某",
            "33010619650101123X",
            "劳动争议执行款长期未到位",
            1,
            Some("李副院长"),
            true,
        ),
        (
            xihu,
            "（2026）浙0106信访15号",
            "陈某某",
            "330106197203154321",
            "房屋征收补偿标准异议",
            2,
            Some("张庭长"),
            false,
        ),
        (
            xihu,
            "（2026）浙0106信访21号",
            "刘某某",
            "330106198811207654",
            "交通事故赔偿执行",
            3,
            None,
            false,
        ),
        (
            shangcheng,
            "（2026）浙0102信访8号",
            "赵某某",
            "330102196009094567",
            "民间借贷案件执行",
            2,
            Some("孙副院长"),
            true,
        ),
        (
            shangcheng,
            "（2026）浙0102信访9号",
            "孙某某",
            "330102197512128888",
            "离婚后财产分割",
            3,
            None,
            false,
        ),
    ];
    let today = at;
    let day = |offset: i64| {
        (today + Duration::days(offset))
            .format("%Y-%m-%d")
            .to_string()
    };
    let (received, accepted) = (day(-40), day(-33));
    let phones = [
        "13800001234",
        "13912345678",
        "13700007777",
        "13655556666",
        "18800009999",
    ];
    for (i, (court, number, name, id_number, subject, tier, lead, risk)) in
        cases.into_iter().enumerate()
    {
        let deadline = day(45);
        let case_id = store
            .insert_case(&NewCase {
                court_id: court,
                case_number: number,
                petitioner_name: name,
                petitioner_id_number: id_number,
                subject,
                status: crate::domain::CaseStatus::Accepted,
                tier,
                lead,
                deadline: Some(&deadline),
                escalation_risk: risk,
                petitioner_phone: phones[i % phones.len()],
                measures: Some("包案领导接谈，释法明理，协调执行"),
                goal: Some("息诉罢访"),
                received_on: Some(&received),
                accepted_on: Some(&accepted),
            })
            .await?;
        store
            .insert_ledger_entry(
                case_id,
                today - Duration::days(40),
                Channel::Letter,
                "来信反映",
            )
            .await?;
        store
            .insert_ledger_entry(
                case_id,
                today - Duration::days(21),
                Channel::LocalVisit,
                "来院接待",
            )
            .await?;
        if matches!(i, 0 | 1 | 3) {
            // These were answered and reviewed (复查) by the high court: the records that make a
            // case eligible for an SPC reception (docs/clocks.md). 西湖's third case and 上城's
            // second are still in handling, with no review.
            use crate::store::clocks::CaseEvent;
            for (event, offset, by) in [
                (CaseEvent::Answered, -30, None),
                (CaseEvent::ReviewRequested, -25, None),
                (CaseEvent::ReviewDecided, -10, Some(high)),
            ] {
                store
                    .record_case_event(case_id, event, &day(offset), by, "demo")
                    .await?;
            }
        }
        if risk {
            store
                .insert_ledger_entry(
                    case_id,
                    today - Duration::days(9),
                    Channel::ToProvince,
                    "赴省信访",
                )
                .await?;
        }
    }
    Ok(())
}

/// The demo's host courts take bookings at once, at any notice, so that the demo (and the
/// tests built on it) can book a slot that starts now; and the SPC's 第三接谈室 runs on a real
/// weekly template: mornings and afternoons on working days, criminal cases on Tuesdays.
async fn demo_scheduling(store: &Store, at: DateTime<Utc>) -> anyhow::Result<()> {
    use crate::schedule::{Category, TemplateDay, Window};
    use crate::store::schedule::HostSettings;
    for court in store.host_court_ids().await? {
        let current = store.host_settings(court).await?;
        if current.version == 0 {
            let settings = HostSettings {
                auto_approve: true,
                min_notice_hours: 0,
                active_limit_per_petitioner: 100,
                ..HostSettings::defaults(court)
            };
            store.put_host_settings(&settings, 0, "demo").await?;
        }
    }
    let Some(spc) = store.court_by_name("最高人民法院").await? else {
        return Ok(());
    };
    let room = match store.host_room_by_name(spc, "第三接谈室").await? {
        Some(room) => room,
        None => store.insert_room(RoomKind::Host, spc, "第三接谈室").await?,
    };
    let (_, version) = store.template(room).await?;
    if version == 0 {
        let window = |opens: &str, closes: &str| Window {
            opens: opens.into(),
            closes: closes.into(),
            slot_minutes: 60,
            buffer_minutes: 15,
        };
        let days: Vec<TemplateDay> = (1..=5)
            .map(|weekday| TemplateDay {
                weekday,
                theme: (weekday == 2).then_some(Category::Criminal),
                windows: vec![window("09:00", "12:00"), window("14:00", "17:30")],
            })
            .collect();
        store.put_template(room, &days, 0, "demo", at).await?;
    }
    Ok(())
}

/// Adds half-hour slots to every host room from the current half hour for two days.
pub async fn top_up_slots(store: &Store, at: DateTime<Utc>) -> anyhow::Result<usize> {
    let step = Duration::minutes(SLOT_MINUTES);
    let first = at.duration_trunc(step)?;
    let mut added = 0;
    for room in store.host_room_ids().await? {
        let mut start = first;
        while start < first + Duration::hours(SLOT_HOURS_AHEAD) {
            if store.ensure_slot(room, start, start + step).await? {
                added += 1;
            }
            start += step;
        }
    }
    Ok(added)
}
