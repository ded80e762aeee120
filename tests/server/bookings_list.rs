//! `GET /bookings`: a court's bookings as a list with filters and pages (issue 18 item 13),
//! under the same rule as one booking: the coordinator sees its local court's, the officer its
//! host court's, nobody else any.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly by panicking"
)]

use crate::common;

use common::{TestApp, assert_error};
use serde_json::Value;

fn ids(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|b| b["id"].as_i64().expect("id"))
        .collect()
}

async fn bookings_list(app: TestApp) {
    let s = app.book_demo_session().await;
    let coord = &s.coordinator_token;

    // Each side sees the booking, with the fields of GET /bookings/{id}.
    let mine = app.get_ok("/api/v1/bookings", coord).await;
    assert!(ids(&mine).contains(&s.booking_id), "{mine}");
    let mut one = app
        .get_ok(&format!("/api/v1/bookings/{}", s.booking_id), coord)
        .await;
    // One booking's view also names whom to call (its courts' directories); the list does not.
    let contacts = one
        .as_object_mut()
        .unwrap()
        .remove("contacts")
        .expect("GET /bookings/{id} names the courts' contacts");
    assert_eq!(contacts.as_array().unwrap().len(), 2, "{contacts}");
    let listed = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == s.booking_id)
        .unwrap();
    assert_eq!(
        listed, &one,
        "the list shows a booking's fields as GET /bookings/{{id}} does"
    );
    let host = app.get_ok("/api/v1/bookings", &s.officer_token).await;
    assert!(
        ids(&host).contains(&s.booking_id),
        "the host court's officer"
    );

    // Another local court sees none of it; a supervisor has no bookings list.
    let other = app.login("shangcheng.coord").await;
    let theirs = app.get_ok("/api/v1/bookings", &other).await;
    assert!(!ids(&theirs).contains(&s.booking_id), "{theirs}");
    let supervisor = app.login("zj.supervisor").await;
    assert_error(
        app.get("/api/v1/bookings", Some(&supervisor)).await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(app.get("/api/v1/bookings", None).await.status(), 401);

    // Filters: by case, by status, by day (Beijing days, the last one included).
    let by_case = app
        .get_ok(&format!("/api/v1/bookings?case_id={}", s.case_id), coord)
        .await;
    assert_eq!(ids(&by_case), vec![s.booking_id]);
    let cancelled = app.get_ok("/api/v1/bookings?status=cancelled", coord).await;
    assert!(!ids(&cancelled).contains(&s.booking_id));
    let day = courtlink::app::clock::local_day(one["starts_at"].as_str().unwrap().parse().unwrap())
        .format("%Y-%m-%d")
        .to_string();
    let that_day = app
        .get_ok(&format!("/api/v1/bookings?from={day}&to={day}"), coord)
        .await;
    assert!(ids(&that_day).contains(&s.booking_id), "{day}: {that_day}");
    let before = app
        .get_ok("/api/v1/bookings?from=2020-01-01&to=2020-01-31", coord)
        .await;
    assert!(ids(&before).is_empty());

    // Pages: the demo court has more bookings than one; a page of one points to the next.
    let all = ids(&app.get_ok("/api/v1/bookings?limit=200", coord).await);
    let mut paged = Vec::new();
    let mut offset = Some(0);
    while let Some(o) = offset {
        let page = app
            .get_ok(&format!("/api/v1/bookings?limit=1&offset={o}"), coord)
            .await;
        paged.extend(ids(&page));
        offset = page["next_offset"].as_i64();
        assert!(paged.len() <= all.len(), "the pages end");
    }
    assert_eq!(
        paged, all,
        "page by page, the same bookings in the same order"
    );

    // Bad input names the filter and changes nothing.
    for (query, named) in [
        ("status=done", "status"),
        ("from=2026-1-1", "from"),
        ("to=tomorrow", "to"),
        ("from=2026-12-02&to=2026-12-01", "to"),
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("offset=-1", "offset"),
    ] {
        let res = app
            .get(&format!("/api/v1/bookings?{query}"), Some(coord))
            .await;
        assert_eq!(res.status(), 422, "{query}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], "invalid_input", "{query}");
        assert!(
            body["message"].as_str().unwrap().starts_with(named),
            "{query}: {body}"
        );
    }
    let res = app.get("/api/v1/bookings?court=1", Some(coord)).await;
    assert_eq!(
        res.status(),
        422,
        "an unknown filter is refused, not ignored"
    );
}
on_both_backends!(bookings_list_both, bookings_list);
