//! Follow-up questions, answers to clarifying questions, and "did you mean…" for items,
//! through signed callbacks: what the user sees and what the audit log records.

use std::time::Duration;

use askerp::dingtalk::sim::{Incoming, Sent};
use jiff::civil::Date;
use serde_json::Value;

use crate::support::TestApp;

fn today() -> Date {
    jiff::Zoned::now()
        .with_time_zone(jiff::tz::TimeZone::get("Asia/Hong_Kong").expect("tz"))
        .date()
}

fn last_month() -> (String, String) {
    let last = today().first_of_month().yesterday().expect("date");
    (last.first_of_month().to_string(), last.to_string())
}

fn last_year() -> (String, String) {
    let y = today().year() - 1;
    (format!("{y}-01-01"), format!("{y}-12-31"))
}

/// Sends `msg` and returns the reply and its audit record.
async fn send(app: &TestApp, msg: Incoming) -> (Sent, Value) {
    let before = app.sim.sent().len();
    let records = app.audit_lines().len();
    assert_eq!(app.say(&msg).await, 200, "callback refused");
    let sent = app
        .sim
        .wait_for_sent(before + 1, Duration::from_secs(10))
        .await;
    let reply = sent.get(before).cloned().expect("a reply");
    let lines = app.audit(records + 1).await;
    let record = lines.get(records).cloned().expect("an audit record");
    (reply, record)
}

async fn ask(app: &TestApp, user: &str, text: &str) -> (Sent, Value) {
    send(app, Incoming::text(user, text)).await
}

fn period(record: &Value) -> (String, String) {
    let p = &record["slots"]["period"];
    (
        p["start"].as_str().unwrap_or_default().to_string(),
        p["end"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test]
async fn a_follow_up_changes_the_period_and_keeps_the_place() {
    let app = TestApp::start().await;
    let (_, first) = ask(&app, "demo.manager", "sales last month in Kowloon").await;
    assert_eq!(first["decision"], "allow");
    assert_eq!(first["source"], "rule");

    let (_, next) = ask(&app, "demo.manager", "what about last year").await;
    assert_eq!(next["intent"], "sales.summary", "{next}");
    assert_eq!(next["source"], "context");
    assert_eq!(next["decision"], "allow");
    assert_eq!(next["slots"]["region"], "Kowloon");
    assert_eq!(period(&next), last_year());
}

#[tokio::test]
async fn a_cantonese_follow_up_keeps_the_item_and_changes_the_warehouse() {
    let app = TestApp::start().await;
    let (_, first) = ask(&app, "demo.staff", "iPhone 15 Pro 256GB 觀塘倉仲有幾多?").await;
    assert_eq!(first["decision"], "allow", "{first}");

    let (reply, next) = ask(&app, "demo.staff", "荃灣呢?").await;
    assert_eq!(next["intent"], "inventory.stock", "{next}");
    assert_eq!(next["source"], "context");
    assert_eq!(next["slots"]["warehouse"], "荃灣");
    assert_eq!(next["slots"]["item"], first["slots"]["item"]);
    assert!(reply.text.contains("荃灣"), "{}", reply.text);
    assert!(
        !reply.text.contains("觀塘"),
        "only Tsuen Wan: {}",
        reply.text
    );
}

#[tokio::test]
async fn follow_ups_are_checked_by_the_policy_every_time() {
    let app = TestApp::start().await;
    let (_, first) = ask(&app, "demo.manager", "上個月九龍區營業額").await;
    assert_eq!(first["decision"], "allow");

    // Mong Kok is in Kowloon: allowed.
    let (_, inside) = ask(&app, "demo.manager", "and in Mong Kok?").await;
    assert_eq!(inside["source"], "context", "{inside}");
    assert_eq!(inside["decision"], "allow");
    assert_eq!(period(&inside), last_month());

    // Causeway Bay is on Hong Kong Island: the same follow-up is refused.
    let (reply, outside) = ask(&app, "demo.manager", "and in Causeway Bay?").await;
    assert_eq!(outside["source"], "context", "{outside}");
    assert_eq!(outside["decision"], "deny");
    assert!(!reply.text.contains("HK$"), "no figures: {}", reply.text);
}

#[tokio::test]
async fn the_answer_to_a_clarifying_question_completes_the_question() {
    let app = TestApp::start().await;
    let (_, asked) = ask(&app, "demo.admin", "sales in Kowloon").await;
    assert_eq!(asked["decision"], "clarify", "{asked}");

    let (_, answered) = ask(&app, "demo.admin", "last month").await;
    assert_eq!(answered["intent"], "sales.summary", "{answered}");
    assert_eq!(answered["source"], "context");
    assert_eq!(answered["decision"], "allow");
    assert_eq!(answered["slots"]["region"], "Kowloon");
    assert_eq!(period(&answered), last_month());
}

#[tokio::test]
async fn context_belongs_to_one_user_in_one_conversation() {
    let app = TestApp::start().await;
    let group = "cidFollowUpGroup==";
    let (_, first) = send(
        &app,
        Incoming::text("demo.manager", "sales last month in Kowloon").in_group(group),
    )
    .await;
    assert_eq!(first["decision"], "allow");

    // Another member of the group cannot continue the manager's question.
    let (_, other) = send(
        &app,
        Incoming::text("demo.admin", "what about last year").in_group(group),
    )
    .await;
    assert_eq!(other["decision"], "not_understood", "{other}");

    // Nor can the manager in another conversation.
    let (_, elsewhere) = ask(&app, "demo.manager", "what about last year").await;
    assert_eq!(elsewhere["decision"], "not_understood", "{elsewhere}");

    // The manager in the group can.
    let (_, same) = send(
        &app,
        Incoming::text("demo.manager", "what about last year").in_group(group),
    )
    .await;
    assert_eq!(same["source"], "context", "{same}");
    assert_eq!(same["decision"], "allow");
}

#[tokio::test]
async fn context_expires() {
    let app = TestApp::start_with(|c| c.context.expiry_secs = 1, None).await;
    let (_, first) = ask(&app, "demo.manager", "sales last month in Kowloon").await;
    assert_eq!(first["decision"], "allow");
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let (_, late) = ask(&app, "demo.manager", "what about last year").await;
    assert_eq!(late["decision"], "not_understood", "{late}");
}

#[tokio::test]
async fn several_matching_items_ask_which_and_each_button_names_one() {
    let app = TestApp::start().await;
    for question in [
        "how many iPhone 15 Pro in stock?",
        "iPhone 15 Pro 觀塘倉仲有幾多?",
    ] {
        let (choice, record) = ask(&app, "demo.staff", question).await;
        assert_eq!(record["decision"], "clarify", "{question}: {record}");
        assert_eq!(choice.buttons.len(), 3, "{question}: {:?}", choice.buttons);
        let names = ["128GB", "256GB", "512GB"];
        for (title, url) in &choice.buttons {
            let button = askerp::card::Button {
                title: title.clone(),
                url: url.clone(),
            };
            let text = button.follow_up_text().expect("a question button");
            let (reply, pressed) = ask(&app, "demo.staff", &text).await;
            assert_eq!(pressed["decision"], "allow", "{text}: {pressed}");
            let shown: Vec<&str> = names
                .iter()
                .copied()
                .filter(|n| reply.text.contains(n))
                .collect();
            assert_eq!(shown.len(), 1, "{text} shows one item: {}", reply.text);
        }
    }
}

#[tokio::test]
async fn typos_and_word_order_find_the_item() {
    let app = TestApp::start().await;
    for question in [
        "how many iphnoe 15 pro 256gb in stock?",
        "how many 256GB iPhone 15 Pro in stock?",
    ] {
        let (reply, record) = ask(&app, "demo.staff", question).await;
        assert_eq!(record["decision"], "allow", "{question}: {record}");
        assert!(reply.text.contains("256GB"), "{question}: {}", reply.text);
        assert!(!reply.text.contains("128GB"), "{question}: {}", reply.text);
    }
    let (choice, record) = ask(&app, "demo.staff", "how many vita lemon tee in stock?").await;
    assert_eq!(record["decision"], "clarify", "{record}");
    assert!(choice.buttons.len() >= 2, "{:?}", choice.buttons);
    assert!(
        choice
            .buttons
            .iter()
            .all(|(t, _)| t.contains("Vita Lemon Tea")),
        "{:?}",
        choice.buttons
    );
}
