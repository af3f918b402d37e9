//! The leaks an adversarial run found, each closed and kept closed: a refusal that told
//! which orders exist, a card press that wrote a personal answer into a group's card, a
//! replay answered again after the dedupe memory, and the weak points next to them (a
//! missing robotCode, an unknown conversation type, an unknown user's id in a group).
//! Every case is asked in at least two languages.

use std::time::Duration;

use askerp::config::{Config, Secret};
use askerp::dingtalk::sim::{Destination, Incoming};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use crate::support::{TestApp, has_digit};

const WAIT: Duration = Duration::from_secs(10);

/// An order of the demo ERP at a store outside Kowloon (the manager's region), and its
/// store's names, read from the demo database itself.
async fn order_outside_kowloon(app: &TestApp) -> (String, Vec<String>) {
    let db = app.db().await;
    let row: (String, String, String, String) = sqlx::query_as(
        "SELECT o.number, p.code, p.name_en, p.name_zh FROM orders o \
         JOIN places p ON p.code = o.store \
         WHERE p.region IS NOT 'KLN' ORDER BY o.number LIMIT 1",
    )
    .fetch_one(&db)
    .await
    .expect("an order outside Kowloon");
    (row.0, vec![row.1, row.2, row.3])
}

/// As the Kowloon manager, an existing order of another region and a number that does
/// not exist get the same card (number aside), naming no store, in every language.
#[tokio::test]
async fn an_order_outside_the_askers_scope_is_answered_like_an_unknown_number() {
    let app = TestApp::start().await;
    let (number, store_names) = order_outside_kowloon(&app).await;
    let missing = "SO-2026-99999";
    for template in [
        "status of {n}",
        "{n} 張單去到邊?",
        "订单 {n} 的状态",
        "status pesanan {n}",
        "tình trạng đơn hàng {n}",
    ] {
        let real = app
            .ask("demo.manager", &template.replace("{n}", &number))
            .await;
        let fake = app
            .ask("demo.manager", &template.replace("{n}", missing))
            .await;
        assert_eq!(
            real.text.replace(&number, "#"),
            fake.text.replace(missing, "#"),
            "{template}: the refusal differs from not-found"
        );
        assert_eq!(real.title, fake.title, "{template}");
        assert_eq!(real.buttons.len(), fake.buttons.len(), "{template}");
        for name in &store_names {
            assert!(
                !real.text.contains(name.as_str()),
                "{template}: store {name} named: {}",
                real.text
            );
        }
    }
    // The audit keeps the truth.
    let audit = app.audit(10).await;
    assert_eq!(audit[0]["decision"], "deny", "{}", audit[0]);
    assert!(
        audit[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("outside scope")),
        "{}",
        audit[0]
    );
    assert_ne!(audit[1]["decision"], "deny");
}

fn card_app_config(c: &mut Config) {
    c.dingtalk.card_template_id = "tpl-askerp.schema".into();
    c.dingtalk.card_callback_route_key = "askerp".into();
    c.dingtalk.card_callback_token = Secret::new("card-token");
}

/// A card delivered into a group, then pressed by a colleague asking their own leave
/// with a `spaceType` that is missing, empty, unknown or even claims 1:1: the answer goes
/// to the presser privately and the group's card never shows it.
#[tokio::test]
async fn a_press_on_a_group_card_never_writes_personal_data_into_it() {
    let app = TestApp::start_with(card_app_config, None).await;
    let msg = Incoming::text("demo.manager", "how many iPhone 15 Pro 256GB in stock?")
        .in_group("cidLeakGroup==");
    assert_eq!(app.say(&msg).await, 200);
    let sent = app.sim.wait_for_sent(1, WAIT).await;
    let Destination::Card { out_track_id, .. } = sent[0].to.clone() else {
        panic!("not a card: {:?}", sent[0].to);
    };
    let url = format!("{}/dingtalk/card?token=card-token", app.base);
    let claims: [Option<(&str, &str)>; 5] = [
        None,
        Some(("", "")),
        Some(("IM_SOMETHING_NEW", "cidLeakGroup==")),
        Some(("IM_ROBOT", "demo.staff")),
        Some(("im_robot", "")),
    ];
    let mut expected = sent.len();
    for (i, claim) in claims.iter().enumerate() {
        let question = if i % 2 == 0 {
            "how many annual leave days do I have?"
        } else {
            "我仲有幾多日年假?"
        };
        let mut press = json!({ "type": "actionCallback", "outTrackId": out_track_id,
            "userId": "demo.staff", "userIdType": 1,
            "content": json!({"cardPrivateData": {"params": {"question": question}}}).to_string() });
        if let Some((space_type, space_id)) = claim {
            press["spaceType"] = json!(space_type);
            press["spaceId"] = json!(space_id);
        }
        let ok = app.http.post(&url).json(&press).send().await.expect("post");
        assert_eq!(ok.status(), 200);
        expected += 1;
        let sent = app.sim.wait_for_sent(expected, WAIT).await;
        let last = &sent[expected - 1];
        assert_eq!(
            last.to,
            Destination::Private {
                user_ids: vec!["demo.staff".into()]
            },
            "claim {claim:?}: {last:?}"
        );
        assert!(has_digit(&last.text), "{}", last.text);
        assert!(
            !sent
                .iter()
                .any(|s| matches!(s.to, Destination::CardUpdate { .. })),
            "claim {claim:?}: the group's card was updated"
        );
        let card = app.sim.card(&out_track_id).expect("card");
        assert!(
            card["markdown"]
                .as_str()
                .is_some_and(|m| m.contains("Kwun Tong") && !m.contains("leave")),
            "claim {claim:?}: {card}"
        );
    }
}

/// A press on a card this process never delivered (another replica's, or a made-up id)
/// is answered privately and never updates anything in place.
#[tokio::test]
async fn a_press_on_an_unknown_card_is_answered_privately_only() {
    let app = TestApp::start_with(card_app_config, None).await;
    let url = format!("{}/dingtalk/card?token=card-token", app.base);
    for question in ["sales last month in Kowloon", "上個月九龍區銷售額"] {
        let press = json!({ "type": "actionCallback", "outTrackId": "askerp-forged",
            "userId": "demo.manager", "spaceType": "IM_ROBOT", "spaceId": "demo.manager",
            "content": json!({"cardPrivateData": {"params": {"question": question}}}).to_string() });
        let before = app.sim.sent().len();
        let ok = app.http.post(&url).json(&press).send().await.expect("post");
        assert_eq!(ok.status(), 200);
        let sent = app.sim.wait_for_sent(before + 1, WAIT).await;
        assert_eq!(
            sent[before].to,
            Destination::Private {
                user_ids: vec!["demo.manager".into()]
            }
        );
    }
}

/// The signature window is 5 minutes by default and the dedupe memory covers it: the
/// identical signed callback replayed after ten minutes is refused, and within the
/// window it is dropped as a redelivery. Nothing is answered twice.
#[tokio::test]
async fn a_replayed_callback_is_never_answered_twice() {
    let app = TestApp::start().await;
    for text in ["how many annual leave days do I have?", "我仲有幾多日年假?"] {
        let msg = Incoming::text("demo.staff", text);
        let before = app.sim.sent().len();
        let cb = app.sim.callback(&msg, Timestamp::now());
        assert_eq!(app.post(&cb).await, 200);
        app.sim.wait_for_sent(before + 1, WAIT).await;
        // The same bytes again at once: a redelivery.
        assert_eq!(app.post(&cb).await, 200);
        // Signed 610 s ago (what a replay after the old 600 s memory looks like).
        let old = app
            .sim
            .callback(&msg, Timestamp::now() - SignedDuration::from_secs(610));
        assert_eq!(app.post(&old).await, 401);
        // Just outside the default 300 s window.
        let old = app.sim.callback(
            &Incoming::text("demo.staff", text),
            Timestamp::now() - SignedDuration::from_secs(301),
        );
        assert_eq!(app.post(&old).await, 401);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(app.sim.sent().len(), before + 1, "answered twice");
    }
}

/// A configuration whose dedupe memory is shorter than the signature window is refused,
/// and a window above 5 minutes is warned about.
#[test]
fn dedupe_memory_shorter_than_the_signature_window_is_refused() {
    let mut c = Config::default();
    c.dingtalk.timestamp_window_secs = 3600;
    c.server.dedupe_ttl_secs = 600;
    let err = c.validate().expect_err("refused").to_string();
    assert!(err.contains("server.dedupe_ttl_secs"), "{err}");
    c.server.dedupe_ttl_secs = 3600;
    assert!(c.validate().is_ok());
    assert!(
        c.warnings()
            .iter()
            .any(|w| w.contains("timestamp_window_secs")),
        "{:?}",
        c.warnings()
    );
    assert!(Config::default().warnings().is_empty());
    c.dingtalk.timestamp_window_secs = 7200;
    c.server.dedupe_ttl_secs = 7200;
    assert!(c.validate().is_err());
}

/// With `dingtalk.robot_code` set, a callback without `robotCode` is refused like one
/// with another robot's code.
#[tokio::test]
async fn a_callback_without_robot_code_is_refused_when_one_is_configured() {
    let app = TestApp::start_with(|c| c.dingtalk.robot_code = askerp_test_robot_code(), None).await;
    for text in ["help", "你可以做啲咩"] {
        let mut cb = app
            .sim
            .callback(&Incoming::text("demo.staff", text), Timestamp::now());
        if let Some(o) = cb.body.as_object_mut() {
            o.remove("robotCode");
        }
        assert_eq!(app.post(&cb).await, 403, "{text}");
        let mut cb = app
            .sim
            .callback(&Incoming::text("demo.staff", text), Timestamp::now());
        cb.body["robotCode"] = json!("");
        assert_eq!(app.post(&cb).await, 403, "{text}");
    }
    // The robot's own code is still accepted.
    let reply = app.ask("demo.staff", "help").await;
    assert!(!reply.text.is_empty());
}

/// The simulator signs callbacks with the app key as the robot code (DingTalk's
/// "enterprise internal app" robots use the app key as robotCode).
fn askerp_test_robot_code() -> String {
    crate::support::APP_KEY.to_string()
}

/// A message whose `conversationType` is missing, empty or new is a group message: a
/// personal answer goes privately and the conversation sees only a note without figures.
#[tokio::test]
async fn an_unknown_conversation_type_is_treated_as_a_group() {
    let app = TestApp::start().await;
    for (i, kind) in [Value::Null, json!(""), json!("3"), json!(" 2 ")]
        .into_iter()
        .enumerate()
    {
        let text = if i % 2 == 0 {
            "how many annual leave days do I have?"
        } else {
            "我仲有幾多日年假?"
        };
        let msg = Incoming::text("demo.staff", text);
        let mut cb = app.sim.callback(&msg, Timestamp::now());
        match &kind {
            Value::Null => {
                if let Some(o) = cb.body.as_object_mut() {
                    o.remove("conversationType");
                }
            }
            k => cb.body["conversationType"] = k.clone(),
        }
        let before = app.sim.sent().len();
        assert_eq!(app.post(&cb).await, 200);
        let sent = app.sim.wait_for_sent(before + 2, WAIT).await;
        let new = &sent[before..];
        let private = new
            .iter()
            .find(|s| matches!(s.to, Destination::Private { .. }))
            .unwrap_or_else(|| panic!("type {kind}: no private answer: {new:#?}"));
        assert!(has_digit(&private.text));
        for s in new
            .iter()
            .filter(|s| !matches!(s.to, Destination::Private { .. }))
        {
            assert!(
                !has_digit(&s.text),
                "type {kind}: figures in the conversation: {}",
                s.text
            );
        }
    }
}

/// An unknown user asking in a group: the group's note carries no user id; the id an
/// admin needs goes to the asker 1:1.
#[tokio::test]
async fn an_unknown_users_id_is_never_posted_in_a_group() {
    let app = TestApp::start().await;
    for text in [
        "how many iPhone 15 Pro 256GB in stock?",
        "iPhone 15 Pro 256GB 仲有幾多?",
    ] {
        let msg = Incoming::text("0999888777", text).in_group("cidStrangers==");
        let before = app.sim.sent().len();
        assert_eq!(app.say(&msg).await, 200);
        let sent = app.sim.wait_for_sent(before + 2, WAIT).await;
        let new = &sent[before..];
        let private = new
            .iter()
            .find(|s| matches!(s.to, Destination::Private { .. }))
            .unwrap_or_else(|| panic!("no private note: {new:#?}"));
        assert!(private.text.contains("0999888777"), "{}", private.text);
        for s in new
            .iter()
            .filter(|s| !matches!(s.to, Destination::Private { .. }))
        {
            // `@<id>` is DingTalk's mention markup (shown as the person's name), not text.
            let shown = s.text.replace("@0999888777", "");
            assert!(!shown.contains("0999888777"), "id in the group: {}", s.text);
            assert!(
                !s.text.contains("Kwun Tong"),
                "data in the group: {}",
                s.text
            );
        }
    }
}

/// 10,000 unsigned callbacks: every one refused, counted in the metrics, and the audit
/// grows by a bounded number of records (the sampled ones, then one summary a minute).
#[tokio::test]
async fn a_flood_of_unsigned_callbacks_cannot_fill_the_audit_disk() {
    let app = TestApp::start().await;
    let body = json!({"msgId": "flood", "text": {"content": "x"}});
    let url = format!("{}/dingtalk/callback", app.base);
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..16 {
        let http = app.http.clone();
        let url = url.clone();
        let body = body.clone();
        tasks.spawn(async move {
            let mut refused = 0u32;
            for i in 0..625 {
                let req = if (worker + i) % 3 == 0 {
                    http.post(&url)
                        .header("timestamp", "1")
                        .header("sign", "bad")
                } else {
                    http.post(&url)
                };
                if req
                    .json(&body)
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == reqwest::StatusCode::UNAUTHORIZED)
                {
                    refused += 1;
                }
            }
            refused
        });
    }
    let mut refused = 0;
    while let Some(n) = tasks.join_next().await {
        refused += n.unwrap_or(0);
    }
    assert_eq!(refused, 10_000);
    let lines = app.audit_lines();
    assert!(
        lines.len() <= askerp::server::REFUSALS_RECORDED_PER_MINUTE as usize + 2,
        "{} audit records for a flood",
        lines.len()
    );
    let bytes = std::fs::metadata(&app.audit_path)
        .map(|m| m.len())
        .unwrap_or(0);
    assert!(bytes < 16 * 1024, "audit grew by {bytes} bytes");
    let metrics = app
        .http
        .get(format!("{}/metrics", app.admin_base))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .unwrap_or_default();
    assert!(metrics.contains("audit_refusals_sampled_out"), "{metrics}");
    // The minute's summary says how many were not recorded one by one.
    app.state.flush_refusals(true);
    let last = app.audit_lines().pop().expect("a summary");
    assert_eq!(last["channel"], "summary", "{last}");
    let reason = last["reason"].as_str().unwrap_or_default();
    let counted: u64 = reason
        .split(|c: char| !c.is_ascii_digit())
        .find(|s| !s.is_empty())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert_eq!(
        counted + askerp::server::REFUSALS_RECORDED_PER_MINUTE,
        10_000,
        "{reason}"
    );
    assert!(askerp::audit::verify(&app.audit_path, None).is_ok());
}

/// With `dingtalk.callback_allow_cidrs`, a correctly signed callback from elsewhere is
/// refused; behind a trusted proxy the forwarded address is what counts.
#[tokio::test]
async fn callbacks_from_outside_the_allowed_networks_are_refused() {
    let app = TestApp::start_with(
        |c| c.dingtalk.callback_allow_cidrs = vec!["203.0.113.0/24".into()],
        None,
    )
    .await;
    for text in ["help", "你可以做啲咩"] {
        assert_eq!(app.say(&Incoming::text("demo.staff", text)).await, 403);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(app.sim.sent().is_empty());

    let proxied = TestApp::start_with(
        |c| {
            c.dingtalk.callback_allow_cidrs = vec!["203.0.113.0/24".into()];
            c.dingtalk.trusted_proxy_cidrs = vec!["127.0.0.1".into()];
        },
        None,
    )
    .await;
    let url = format!("{}/dingtalk/callback", proxied.base);
    for (forwarded, want) in [
        ("203.0.113.7", 200),
        ("198.51.100.1", 403),
        ("203.0.113.7, 198.51.100.1", 403),
    ] {
        let cb = proxied
            .sim
            .callback(&Incoming::text("demo.staff", "help"), Timestamp::now());
        let status = proxied
            .http
            .post(&url)
            .header("timestamp", &cb.timestamp)
            .header("sign", &cb.sign)
            .header("x-forwarded-for", forwarded)
            .json(&cb.body)
            .send()
            .await
            .expect("post")
            .status();
        assert_eq!(status.as_u16(), want, "{forwarded}");
    }
    let mut bad = Config::default();
    bad.dingtalk.callback_allow_cidrs = vec!["dingtalk.com".into()];
    assert!(bad.validate().is_err());
}

/// A Simplified-Chinese refusal names places in Simplified script, as asked.
#[tokio::test]
async fn simplified_chinese_refusals_name_places_in_simplified_script() {
    let app = TestApp::start().await;
    for (i, text) in ["上个月铜锣湾的销售额是多少?", "铜锣湾这个月卖了多少钱"]
        .into_iter()
        .enumerate()
    {
        let reply = app.ask("demo.manager", text).await;
        let audit = app.audit(i + 1).await;
        assert_eq!(audit[i]["decision"], "deny", "{text}: {}", reply.text);
        assert!(reply.text.contains("九龙"), "{text}: {}", reply.text);
        for traditional in ["九龍", "銅鑼灣"] {
            assert!(!reply.text.contains(traditional), "{text}: {}", reply.text);
        }
    }
}
