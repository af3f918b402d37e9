//! The inbound endpoint (issue 10): `POST /events/<source>` on the public listener, signed
//! with a per-source secret, replay-protected, each report read from the demo ERP and
//! routed by `[[alert_route]]` like a polled alert, delivered through the simulator.

use std::time::Duration;

use askerp::config::Secret;
use askerp::dingtalk::sim::Destination;
use askerp::push::config::{GroupConfig, SourceConfig};
use askerp::push::inbound::{SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};
use askerp::push::routing::{AlertKind, AlertRouteConfig};
use serde_json::{Value, json};

use crate::support::TestApp;

const WMS_SECRET: &str = "wms-shared-secret";

fn route(kind: AlertKind, users: &[&str], locale: &str) -> AlertRouteConfig {
    AlertRouteConfig {
        kind,
        warehouses: vec![],
        regions: vec![],
        stores: vec![],
        states: vec![],
        min_amount: None,
        users: users.iter().map(|u| u.to_string()).collect(),
        groups: vec![],
        locale: locale.into(),
    }
}

async fn app() -> TestApp {
    TestApp::start_with(
        |c| {
            c.push.sources.insert(
                "wms".into(),
                SourceConfig {
                    secret: Secret::new(WMS_SECRET),
                },
            );
            c.push.groups.push(GroupConfig {
                id: "cid-kln-managers".into(),
                name: "Kowloon managers".into(),
                audience_role: "sales_manager".into(),
                regions: vec!["KLN".into()],
                stores: vec![],
            });
            // The pollers stay out of the way: their first poll only sets the baseline.
            c.push.low_stock_poll_secs = 3600;
            c.push.tick_secs = 3600;
            c.alert_routes
                .push(route(AlertKind::LowStock, &["demo.staff"], "zh-HK"));
            let mut shipped = route(AlertKind::OrderState, &["demo.manager", "demo.admin"], "en");
            shipped.states = vec!["shipped".into()];
            shipped.groups = vec!["cid-kln-managers".into()];
            c.alert_routes.push(shipped);
            let mut large = route(AlertKind::OrderAmount, &["demo.admin"], "en");
            large.min_amount = Some(rust_decimal::Decimal::from(1000));
            c.alert_routes.push(large);
        },
        None,
    )
    .await
}

/// Posts `body` to `/events/<source>` signed with `secret` at `timestamp`.
async fn post(
    app: &TestApp,
    source: &str,
    secret: &str,
    timestamp: i64,
    body: &Value,
) -> (u16, Value) {
    let body = serde_json::to_vec(body).expect("json");
    post_raw(
        app,
        source,
        Some(&sign(secret, timestamp, &body)),
        timestamp,
        body,
    )
    .await
}

async fn post_raw(
    app: &TestApp,
    source: &str,
    signature: Option<&str>,
    timestamp: i64,
    body: Vec<u8>,
) -> (u16, Value) {
    let mut req = app
        .http
        .post(format!("{}/events/{source}", app.base))
        .header(TIMESTAMP_HEADER, timestamp.to_string())
        .header("content-type", "application/json")
        .body(body);
    if let Some(s) = signature {
        req = req.header(SIGNATURE_HEADER, s);
    }
    let resp = req.send().await.expect("post");
    let status = resp.status().as_u16();
    let v = resp.json().await.unwrap_or(Value::Null);
    (status, v)
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

async fn db(app: &TestApp) -> sqlx::SqlitePool {
    sqlx::SqlitePool::connect(&format!("sqlite://{}", app.db_path.display()))
        .await
        .expect("demo db")
}

/// Waits until the low-stock poller's first poll (the baseline) is in the audit, so it
/// cannot take a change made by the test for its starting point.
async fn baseline(app: &TestApp) {
    for _ in 0..200 {
        if app.audit_lines().iter().any(|r| {
            r["reason"]
                .as_str()
                .is_some_and(|s| s.starts_with("first poll"))
        }) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no baseline poll: {:#?}", app.audit_lines());
}

#[tokio::test]
async fn a_signed_low_stock_report_is_read_from_the_erp_sent_once_and_its_button_answers() {
    let app = app().await;
    baseline(&app).await;
    let db = db(&app).await;
    let (sku, warehouse, reserved, level): (String, String, i64, i64) = sqlx::query_as(
        "SELECT sku, warehouse, reserved, reorder_level FROM stock \
         WHERE reorder_level > 0 AND on_hand - reserved > reorder_level \
         ORDER BY sku, warehouse LIMIT 1",
    )
    .fetch_one(&db)
    .await
    .expect("a watched line");
    let report = json!({"id": "wms-1", "kind": "low_stock", "warehouse": warehouse, "sku": sku});

    // The ERP does not bear it out yet (stock above the level): nothing is sent.
    let (status, body) = post(&app, "wms", WMS_SECRET, now(), &report).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "not_sent", "{body}");
    assert!(app.sim.sent().is_empty());

    // The stock drops; a new report (new id) is read afresh, past the ERP cache.
    sqlx::query("UPDATE stock SET on_hand = ? WHERE sku = ? AND warehouse = ?")
        .bind(reserved + level - 1)
        .bind(&sku)
        .bind(&warehouse)
        .execute(&db)
        .await
        .expect("update");
    let report = json!({"id": "wms-2", "kind": "low_stock", "warehouse": warehouse, "sku": sku});
    let t = now();
    let (status, body) = post(&app, "wms", WMS_SECRET, t, &report).await;
    assert_eq!(
        (status, &body["status"]),
        (200, &json!("handled")),
        "{body}"
    );
    assert_eq!(body["delivered"], 1);
    let sent = app.sim.wait_for_sent(1, Duration::from_secs(5)).await;
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert!(
        matches!(&sent[0].to, Destination::Private { user_ids } if user_ids == &["demo.staff".to_string()])
    );
    assert!(sent[0].title.contains("低於安全存量"), "{}", sent[0].title);
    assert!(
        sent[0].text.contains(&(level - 1).to_string()),
        "the ERP's available figure: {}",
        sent[0].text
    );

    // The very same request again (a replay within the window): nothing more.
    let (status, body) = post(&app, "wms", WMS_SECRET, t, &report).await;
    assert_eq!(
        (status, &body["status"]),
        (200, &json!("duplicate")),
        "{body}"
    );
    // Another report of the same crossing (new id): one message per crossing.
    let again = json!({"id": "wms-3", "kind": "low_stock", "warehouse": warehouse, "sku": sku});
    let (status, body) = post(&app, "wms", WMS_SECRET, now(), &again).await;
    assert_eq!(
        (status, &body["status"]),
        (200, &json!("not_sent")),
        "{body}"
    );
    assert!(
        body["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("already alerted"),
        "{body}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.sim.sent().len(), 1);
    assert_eq!(app.state.metrics.get("events_duplicates"), 1);

    // The button asks the natural next question, and the bot answers it.
    let question = askerp::card::Button {
        title: sent[0].buttons[0].0.clone(),
        url: sent[0].buttons[0].1.clone(),
    }
    .follow_up_text()
    .expect("a question button");
    let answer = ask(&app, "demo.staff", &question).await;
    assert_eq!(
        answer
            .resolution
            .as_ref()
            .and_then(|r| r.intent)
            .map(|i| i.name()),
        Some("inventory.stock"),
        "{question}"
    );
    assert_eq!(answer.decision.as_str(), "allow", "{question}");
    assert!(
        answer.card.markdown.contains(&sku) || answer.card.title.contains(&sku),
        "{question}: {}",
        answer.card.markdown
    );

    let audit = app.audit_lines();
    let delivered: Vec<&Value> = audit
        .iter()
        .filter(|r| r["channel"] == "alert" && r["outcome"] == "delivered")
        .collect();
    assert_eq!(delivered.len(), 1, "{audit:#?}");
    assert_eq!(delivered[0]["msg_id"], "event:wms:wms-2");
    assert_eq!(delivered[0]["principal"], "E1001");
}

/// What the bot answers `text` asked 1:1 by `user` now.
async fn ask(app: &TestApp, user: &str, text: &str) -> askerp::pipeline::Answer {
    let bot = app.state.bot();
    let q = askerp::pipeline::Question {
        text: Some(text.to_string()),
        msgtype: "text".into(),
        user_id: Some(user.to_string()),
        conversation: askerp::channel::Conversation::OneToOne,
        conversation_id: format!("cid-{user}"),
        mentioned: vec![],
        now: jiff::Zoned::now().with_time_zone(bot.tz.clone()),
        reference: "test".into(),
    };
    bot.answer(&q).await
}

#[tokio::test]
async fn order_reports_reach_only_who_may_see_the_order_and_are_refused_when_not_signed() {
    let app = app().await;
    let db = db(&app).await;
    // An order of a Kowloon store and one of a Hong Kong Island store, both shipped.
    let order_in = |region: &'static str| {
        let db = db.clone();
        async move {
            let (number, total): (String, i64) = sqlx::query_as(
                "SELECT o.number, o.total_cents FROM orders o JOIN places p ON p.code = o.store \
                 WHERE p.region = ? AND o.total_cents > 100000 ORDER BY o.number LIMIT 1",
            )
            .bind(region)
            .fetch_one(&db)
            .await
            .expect("an order");
            sqlx::query("UPDATE orders SET state = 'shipped' WHERE number = ?")
                .bind(&number)
                .execute(&db)
                .await
                .expect("ship");
            (number, total)
        }
    };
    let (kln, _) = order_in("KLN").await;
    let (hki, hki_total) = order_in("HKI").await;

    // Refused before anything is read: unknown source, no or a wrong signature, a stale
    // timestamp, a body that is not a report. Each answer says why; nothing is sent.
    let report = json!({"id": "erp-1", "kind": "order_state", "order": kln});
    let (status, _) = post(&app, "nobody", WMS_SECRET, now(), &report).await;
    assert_eq!(status, 404);
    let bytes = serde_json::to_vec(&report).expect("json");
    let (status, _) = post_raw(&app, "wms", None, now(), bytes.clone()).await;
    assert_eq!(status, 401);
    let (status, _) = post(&app, "wms", "not-the-secret", now(), &report).await;
    assert_eq!(status, 401);
    let (status, _) = post(&app, "wms", WMS_SECRET, now() - 3600, &report).await;
    assert_eq!(status, 401, "stale");
    let forged = sign(WMS_SECRET, now(), &bytes);
    let mut tampered = bytes.clone();
    tampered.extend_from_slice(b" ");
    let (status, _) = post_raw(&app, "wms", Some(&forged), now(), tampered).await;
    assert_eq!(status, 401, "a body changed after signing");
    let (status, body) = post(
        &app,
        "wms",
        WMS_SECRET,
        now(),
        &json!({"id": "x", "kind": "price_change"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(app.state.metrics.get("events_rejected_unknown_source"), 1);
    assert_eq!(
        app.state.metrics.get("events_rejected_missing_signature"),
        1
    );
    assert_eq!(app.state.metrics.get("events_rejected_bad_signature"), 2);
    assert_eq!(app.state.metrics.get("events_rejected_expired"), 1);
    assert_eq!(app.state.metrics.get("events_rejected_malformed"), 1);
    // The refusals are audited as refusals on channel `event` (sampled per minute).
    let refused = app
        .audit_lines()
        .into_iter()
        .filter(|r| r["channel"] == "event" && r["decision"] == "refused")
        .count();
    assert_eq!(refused, 6);
    // A refused report is not remembered as handled: signed properly, it goes through.
    assert!(app.sim.sent().is_empty());

    // The Kowloon order shipped: the Kowloon manager, the admin and the Kowloon managers'
    // group hear it.
    let (status, body) = post(&app, "wms", WMS_SECRET, now(), &report).await;
    assert_eq!((status, &body["delivered"]), (200, &json!(3)), "{body}");
    let sent = app.sim.wait_for_sent(3, Duration::from_secs(5)).await;
    assert_eq!(sent.len(), 3, "{sent:#?}");
    for s in &sent {
        assert!(
            s.title.contains(&kln) && s.title.to_lowercase().contains("shipped"),
            "{}",
            s.title
        );
    }
    assert!(sent.iter().any(|s| matches!(&s.to, Destination::Group { conversation_id } if conversation_id == "cid-kln-managers")));

    // The Hong Kong Island order: the Kowloon manager and group may not see it (sales
    // scope), so only the admin hears; both refusals are in the audit.
    let report = json!({"id": "erp-2", "kind": "order_state", "order": hki, "state": "shipped"});
    let (status, body) = post(&app, "wms", WMS_SECRET, now(), &report).await;
    assert_eq!((status, &body["delivered"]), (200, &json!(1)), "{body}");
    assert_eq!(body["not_delivered"], 2, "{body}");
    let sent = app.sim.wait_for_sent(4, Duration::from_secs(5)).await;
    assert!(
        matches!(&sent[3].to, Destination::Private { user_ids } if user_ids == &["demo.admin".to_string()])
    );
    let audit = app.audit_lines();
    let scope_refusals = audit
        .iter()
        .filter(|r| {
            r["msg_id"] == "event:wms:erp-2"
                && r["decision"] == "deny"
                && r["reason"]
                    .as_str()
                    .is_some_and(|s| s.contains("sales scope"))
        })
        .count();
    assert_eq!(scope_refusals, 2, "{audit:#?}");

    // A large order: the amount comes from the ERP, in the ERP's currency.
    let report = json!({"id": "erp-3", "kind": "order_amount", "order": hki});
    let (status, body) = post(&app, "wms", WMS_SECRET, now(), &report).await;
    assert_eq!((status, &body["delivered"]), (200, &json!(1)), "{body}");
    let sent = app.sim.wait_for_sent(5, Duration::from_secs(5)).await;
    let whole = (hki_total / 100).to_string();
    let grouped = whole
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect::<Vec<_>>()
        .join(",");
    assert!(
        sent[4].title.contains(&grouped),
        "{} vs {grouped}",
        sent[4].title
    );
    // Its button asks the order's status, and the bot answers it for the admin.
    let question = askerp::card::Button {
        title: sent[4].buttons[0].0.clone(),
        url: sent[4].buttons[0].1.clone(),
    }
    .follow_up_text()
    .expect("a question button");
    let answer = ask(&app, "demo.admin", &question).await;
    assert_eq!(
        answer
            .resolution
            .as_ref()
            .and_then(|r| r.intent)
            .map(|i| i.name()),
        Some("sales.order_status"),
        "{question}"
    );
    assert_eq!(answer.decision.as_str(), "allow", "{question}");
    assert!(answer.card.title.contains(&hki), "{}", answer.card.title);
    // An unknown order is not found in the ERP: nothing sent, said so.
    let report = json!({"id": "erp-4", "kind": "order_state", "order": "SO-1999-99999"});
    let (status, body) = post(&app, "wms", WMS_SECRET, now(), &report).await;
    assert_eq!(
        (status, &body["status"]),
        (200, &json!("not_sent")),
        "{body}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.sim.sent().len(), 5);
    askerp::audit::verify(&app.audit_path, None).expect("the chain holds");
}

/// Orders by polling (the demo ERP lists its recent orders): a state change is one
/// message per recipient however often it is polled, a restart neither repeats it nor
/// misses a change made meanwhile, and an order new to the list is checked for its
/// amount.
#[tokio::test]
async fn polled_orders_alert_once_per_state_and_survive_a_restart() {
    use askerp::push::orders::OrderAlerts;
    use askerp::push::store::FileStore;

    let rig = crate::push::Rig::with_demo_file().await;
    let db = sqlx::SqlitePool::connect(&format!("sqlite://{}", rig.demo_path().display()))
        .await
        .expect("demo db");
    let today = jiff::Zoned::now()
        .with_time_zone(crate::push::hk())
        .date()
        .to_string();
    let kln: Vec<(String, i64)> = sqlx::query_as(
        "SELECT o.number, o.total_cents FROM orders o JOIN places p ON p.code = o.store \
         WHERE p.region = 'KLN' AND o.total_cents > 100000 ORDER BY o.number LIMIT 2",
    )
    .fetch_all(&db)
    .await
    .expect("orders");
    let (watched, _) = kln[0].clone();
    let (late, _) = kln[1].clone();
    // Only the watched order is recent; the other is old (outside the lookback).
    sqlx::query("UPDATE orders SET order_date = '2020-01-01'")
        .execute(&db)
        .await
        .expect("age");
    sqlx::query("UPDATE orders SET order_date = ?, state = 'confirmed' WHERE number = ?")
        .bind(&today)
        .bind(&watched)
        .execute(&db)
        .await
        .expect("book");
    let mut shipped = route(AlertKind::OrderState, &["demo.manager", "demo.staff"], "en");
    shipped.states = vec!["shipped".into(), "delivered".into()];
    let mut large = route(AlertKind::OrderAmount, &["demo.admin"], "en");
    large.min_amount = Some(rust_decimal::Decimal::from(1000));
    let orders = OrderAlerts::new(vec![shipped, large], vec![], 14);
    let now = || jiff::Zoned::now().with_time_zone(crate::push::hk());
    let settle = || tokio::time::sleep(Duration::from_millis(5));
    let store = FileStore::open(&rig.state_path).expect("state");
    let r = orders
        .poll(&rig.deps(), &store, &now())
        .await
        .expect("poll");
    assert!(r.baseline && r.fired.is_empty(), "{r:?}");

    sqlx::query("UPDATE orders SET state = 'shipped' WHERE number = ?")
        .bind(&watched)
        .execute(&db)
        .await
        .expect("ship");
    for _ in 0..5 {
        settle().await;
        orders
            .poll(&rig.deps(), &store, &now())
            .await
            .expect("poll");
    }
    let sent = rig.sim.sent();
    // The manager hears; the store staff may not see orders (policy), audited.
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert!(
        matches!(&sent[0].to, Destination::Private { user_ids } if user_ids == &["demo.manager".to_string()])
    );
    assert!(
        sent[0].title.contains(&watched) && sent[0].title.to_lowercase().contains("shipped"),
        "{}",
        sent[0].title
    );
    let denied = rig
        .audit_lines()
        .into_iter()
        .filter(|r| r["decision"] == "deny" && r["user"] == "demo.staff")
        .count();
    assert_eq!(denied, 1);

    // Down for a while: the order is delivered meanwhile, and another order is booked.
    drop(store);
    sqlx::query("UPDATE orders SET state = 'delivered' WHERE number = ?")
        .bind(&watched)
        .execute(&db)
        .await
        .expect("deliver");
    sqlx::query("UPDATE orders SET order_date = ?, state = 'confirmed' WHERE number = ?")
        .bind(&today)
        .bind(&late)
        .execute(&db)
        .await
        .expect("book");
    settle().await;
    let store = FileStore::open(&rig.state_path).expect("state");
    let r = orders
        .poll(&rig.deps(), &store, &now())
        .await
        .expect("poll");
    let mut fired = r.fired.clone();
    fired.sort();
    let mut expected = vec![
        format!("order_state:{watched}:delivered"),
        format!("order_amount:{late}"),
    ];
    expected.sort();
    assert_eq!(fired, expected, "{r:?}");
    let sent = rig.sim.sent();
    assert_eq!(sent.len(), 3, "{sent:#?}");
    let to = |user: &str| {
        sent[1..]
            .iter()
            .find(|s| matches!(&s.to, Destination::Private { user_ids } if user_ids == &[user.to_string()]))
            .map(|s| s.title.clone())
            .unwrap_or_default()
    };
    assert!(
        to("demo.manager").to_lowercase().contains("delivered"),
        "{sent:#?}"
    );
    assert!(to("demo.admin").contains(&late), "{sent:#?}");
    // Polled again after the restart: nothing more.
    settle().await;
    let r = orders
        .poll(&rig.deps(), &store, &now())
        .await
        .expect("poll");
    assert!(r.fired.is_empty(), "{r:?}");
    assert_eq!(rig.sim.sent().len(), 3);
}
