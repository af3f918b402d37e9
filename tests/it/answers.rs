//! Every intent answered through a signed callback, for a role that may ask it, with the
//! figure that is in the demo data. Expected figures are computed here with independent
//! SQL over the demo database, then formatted the way cards show them.

use askerp::card::{Messages, format};
use askerp::dingtalk::sim::Incoming;
use askerp::erp::{Money, Quantity};
use askerp::intent::Locale;
use jiff::civil::Date;
use rust_decimal::Decimal;
use sqlx::Row;

use crate::support::TestApp;

fn today() -> Date {
    jiff::Zoned::now()
        .with_time_zone(jiff::tz::TimeZone::get("Asia/Hong_Kong").expect("tz"))
        .date()
}

fn last_month() -> (Date, Date) {
    let first_this = today().first_of_month();
    let last = first_this.yesterday().expect("date");
    (last.first_of_month(), last)
}

fn hkd(cents: i64, locale: Locale) -> String {
    format::money(
        locale,
        &Money {
            amount: Decimal::new(cents, 2),
            currency: "HKD".into(),
        },
    )
}

/// Sum of counted sales in `[start, end]` for stores in `region`.
async fn region_sales(app: &TestApp, region: &str, start: Date, end: Date) -> i64 {
    let db = app.db().await;
    sqlx::query(
        "SELECT COALESCE(SUM(o.total_cents), 0) FROM orders o JOIN places p ON p.code = o.store \
         WHERE p.region = ? AND o.order_date BETWEEN ? AND ? \
         AND o.state IN ('confirmed','picking','shipped','delivered')",
    )
    .bind(region)
    .bind(start.to_string())
    .bind(end.to_string())
    .fetch_one(&db)
    .await
    .expect("sum")
    .get::<i64, _>(0)
}

#[tokio::test]
async fn stock_in_english_with_the_available_quantity_per_warehouse() {
    let app = TestApp::start().await;
    let reply = app
        .ask("demo.staff", "how many iPhone 15 Pro 256GB in stock?")
        .await;
    let db = app.db().await;
    let rows = sqlx::query(
        "SELECT s.warehouse, s.on_hand - s.reserved, i.unit FROM stock s JOIN items i ON i.sku = s.sku \
         WHERE i.name_en = 'iPhone 15 Pro 256GB' ORDER BY s.warehouse",
    )
    .fetch_all(&db)
    .await
    .expect("stock");
    assert_eq!(rows.len(), 3);
    let messages = Messages::builtin().expect("messages");
    for row in rows {
        let q = Quantity {
            value: Decimal::from(row.get::<i64, _>(1)),
            unit: row.get(2),
        };
        let shown = format::quantity(Locale::En, &q, &messages);
        assert!(
            reply.text.contains(&shown),
            "{shown} missing in {}",
            reply.text
        );
    }
    assert!(reply.text.contains("Kwun Tong"));
    assert!(!reply.buttons.is_empty());
}

#[tokio::test]
async fn stock_in_cantonese_for_one_warehouse() {
    let app = TestApp::start().await;
    let reply = app
        .ask("demo.staff", "@ERP助手 維他檸檬茶 250ml 觀塘倉仲有幾多?")
        .await;
    let db = app.db().await;
    let row = sqlx::query(
        "SELECT s.on_hand - s.reserved, i.unit FROM stock s JOIN items i ON i.sku = s.sku \
         WHERE i.name_en = 'Vita Lemon Tea 250ml' AND s.warehouse = 'KT'",
    )
    .fetch_one(&db)
    .await
    .expect("stock");
    let q = Quantity {
        value: Decimal::from(row.get::<i64, _>(0)),
        unit: row.get(1),
    };
    let shown = format::quantity(Locale::ZhHk, &q, &Messages::builtin().expect("messages"));
    assert!(
        reply.text.contains(&shown),
        "{shown} missing in {}",
        reply.text
    );
    assert!(reply.text.contains("觀塘"), "{}", reply.text);
    assert!(
        !reply.text.contains("荃灣：") && !reply.text.contains("**荃灣**"),
        "{}",
        reply.text
    );
}

#[tokio::test]
async fn low_stock_lists_the_worst_line_of_the_warehouse() {
    let app = TestApp::start().await;
    let reply = app
        .ask("demo.staff", "which items are low on stock in Tsuen Wan?")
        .await;
    let db = app.db().await;
    let worst: String = sqlx::query(
        "SELECT i.name_en FROM stock s JOIN items i ON i.sku = s.sku WHERE s.warehouse = 'TW' \
         AND s.on_hand - s.reserved <= s.reorder_level \
         ORDER BY (s.reorder_level - (s.on_hand - s.reserved)) DESC, s.sku LIMIT 1",
    )
    .fetch_one(&db)
    .await
    .expect("low")
    .get(0);
    assert!(
        reply.text.contains(&worst),
        "{worst} missing in {}",
        reply.text
    );
}

#[tokio::test]
async fn sales_last_month_in_kowloon_in_both_languages() {
    let app = TestApp::start().await;
    let (start, end) = last_month();
    let expected = region_sales(&app, "KLN", start, end).await;
    assert!(expected > 0);
    let reply = app.ask("demo.manager", "sales last month in Kowloon").await;
    assert!(
        reply.text.contains(&hkd(expected, Locale::En)),
        "{} missing in {}",
        hkd(expected, Locale::En),
        reply.text
    );
    let reply = app.ask("demo.manager", "上個月九龍區營業額").await;
    assert!(
        reply.text.contains(&hkd(expected, Locale::ZhHk)),
        "{}",
        reply.text
    );
    assert!(reply.text.contains("九龍"), "{}", reply.text);
}

#[tokio::test]
async fn a_manager_without_a_place_gets_their_own_region() {
    let app = TestApp::start().await;
    let (start, end) = last_month();
    let expected = region_sales(&app, "KLN", start, end).await;
    let reply = app.ask("demo.admin", "sales last month in Kowloon").await;
    assert!(
        reply.text.contains(&hkd(expected, Locale::En)),
        "{}",
        reply.text
    );
    let reply = app.ask("demo.manager", "sales last month").await;
    assert!(
        reply.text.contains(&hkd(expected, Locale::En)),
        "{}",
        reply.text
    );
}

#[tokio::test]
async fn sales_outside_the_managers_region_are_refused() {
    let app = TestApp::start().await;
    let reply = app
        .ask("demo.manager", "sales last month in Hong Kong Island")
        .await;
    let audit = app.audit(1).await;
    assert_eq!(audit[0]["decision"], "deny");
    assert!(
        !reply.text.contains("HK$"),
        "figures leaked: {}",
        reply.text
    );
    assert!(reply.text.contains("Kowloon"), "{}", reply.text);
}

#[tokio::test]
async fn store_staff_may_not_see_sales() {
    let app = TestApp::start().await;
    let reply = app.ask("demo.staff", "sales last month in Kowloon").await;
    assert!(
        !reply.text.contains("HK$"),
        "figures leaked: {}",
        reply.text
    );
    let audit = app.audit(1).await;
    assert_eq!(audit[0]["decision"], "deny");
    assert_eq!(audit[0]["intent"], "sales.summary");
}

#[tokio::test]
async fn top_items_this_month_for_the_managers_region() {
    let app = TestApp::start().await;
    let db = app.db().await;
    let start = today().first_of_month();
    let best: String = sqlx::query(
        "SELECT i.name_en FROM order_lines l JOIN orders o ON o.id = l.order_id \
         JOIN places p ON p.code = o.store JOIN items i ON i.sku = l.sku \
         WHERE p.region = 'KLN' AND o.order_date BETWEEN ? AND ? \
         AND o.state IN ('confirmed','picking','shipped','delivered') \
         GROUP BY l.sku ORDER BY SUM(l.amount_cents) DESC, l.sku LIMIT 1",
    )
    .bind(start.to_string())
    .bind(today().last_of_month().to_string())
    .fetch_one(&db)
    .await
    .expect("best seller")
    .get(0);
    let reply = app.ask("demo.manager", "top 5 items this month").await;
    assert!(
        reply.text.contains(&best),
        "{best} missing in {}",
        reply.text
    );
}

#[tokio::test]
async fn order_status_with_customer_and_total() {
    let app = TestApp::start().await;
    let db = app.db().await;
    let row = sqlx::query(
        "SELECT o.number, c.name, o.total_cents FROM orders o JOIN customers c ON c.id = o.customer_id \
         JOIN places p ON p.code = o.store WHERE p.region = 'KLN' ORDER BY o.order_date DESC, o.number DESC LIMIT 1",
    )
    .fetch_one(&db)
    .await
    .expect("order");
    let number: String = row.get(0);
    let customer: String = row.get(1);
    let reply = app
        .ask("demo.manager", &format!("status of {number}"))
        .await;
    assert!(reply.text.contains(&number), "{}", reply.text);
    assert!(
        reply.text.contains(&customer),
        "{customer} missing in {}",
        reply.text
    );
    assert!(
        reply.text.contains(&hkd(row.get(2), Locale::En)),
        "{}",
        reply.text
    );

    // The same manager may not read an order booked on Hong Kong Island.
    let other: String = sqlx::query(
        "SELECT o.number FROM orders o JOIN places p ON p.code = o.store WHERE p.region = 'HKI' LIMIT 1",
    )
    .fetch_one(&db)
    .await
    .expect("order")
    .get(0);
    let reply = app.ask("demo.manager", &format!("status of {other}")).await;
    assert!(!reply.text.contains("HK$"), "{}", reply.text);
}

/// Remaining days of `leave_type` for `employee` this year, as the card shows them.
async fn remaining(app: &TestApp, employee: &str, leave_type: &str) -> String {
    let db = app.db().await;
    let year = today().year().to_string();
    let entitled: i64 = sqlx::query(
        "SELECT COALESCE(SUM(half_days), 0) FROM leave_entitlements WHERE employee_id = ? AND year = ? AND leave_type = ?",
    )
    .bind(employee)
    .bind(&year)
    .bind(leave_type)
    .fetch_one(&db)
    .await
    .expect("entitled")
    .get(0);
    let taken: i64 = sqlx::query(
        "SELECT COALESCE(SUM(half_days), 0) FROM leave_taken WHERE employee_id = ? AND leave_type = ? \
         AND substr(start_date, 1, 4) = ?",
    )
    .bind(employee)
    .bind(leave_type)
    .bind(&year)
    .fetch_one(&db)
    .await
    .expect("taken")
    .get(0);
    format::decimal(Locale::En, Decimal::new((entitled - taken) * 5, 1), 0, 1)
}

#[tokio::test]
async fn own_annual_leave_in_a_one_to_one_chat() {
    let app = TestApp::start().await;
    let expected = remaining(&app, "E1001", "annual").await;
    let reply = app
        .ask("demo.staff", "how many annual leave days do I have?")
        .await;
    assert!(
        reply.text.contains(&format!("## {expected} day")),
        "{expected} missing in {}",
        reply.text
    );
}

#[tokio::test]
async fn hr_asks_about_a_colleague_by_chinese_name() {
    let app = TestApp::start().await;
    let expected = remaining(&app, "E1001", "annual").await;
    let reply = app.ask("demo.hr", "陳大文仲有幾多日年假?").await;
    assert!(
        reply.text.contains(&format!("## {expected} 日")),
        "{expected} missing in {}",
        reply.text
    );
    assert!(reply.text.contains("陳大文"), "{}", reply.text);
}

#[tokio::test]
async fn staff_may_not_see_a_colleagues_leave() {
    let app = TestApp::start().await;
    let reply = app
        .ask(
            "demo.staff",
            "how much sick leave does Peter Wong have left?",
        )
        .await;
    assert!(!reply.text.contains("Peter Wong have"), "{}", reply.text);
    let audit = app.audit(1).await;
    assert_eq!(audit[0]["decision"], "deny");
    assert!(audit[0]["reason"].to_string().contains("OthersLeave"));
}

#[tokio::test]
async fn hr_asks_about_a_mentioned_colleague() {
    let app = TestApp::start().await;
    let expected = remaining(&app, "E1001", "annual").await;
    let mut msg = Incoming::text("demo.hr", "仲有幾多日年假?");
    msg.mentions = vec!["demo.staff".into()];
    let msg = msg.in_group("cidHrGroup==");
    assert_eq!(app.say(&msg).await, 200);
    let sent = app
        .sim
        .wait_for_sent(2, std::time::Duration::from_secs(10))
        .await;
    let private = sent
        .iter()
        .find(|s| matches!(s.to, askerp::dingtalk::sim::Destination::Private { .. }))
        .expect("private answer");
    assert!(
        private.text.contains(&format!("## {expected} 日")),
        "{}",
        private.text
    );
}

#[tokio::test]
async fn sales_report_compares_with_the_previous_period() {
    let app = TestApp::start().await;
    let (start, end) = last_month();
    let expected = region_sales(&app, "KLN", start, end).await;
    let reply = app.ask("demo.manager", "sales report last month").await;
    assert!(
        reply.text.contains(&hkd(expected, Locale::En)),
        "{}",
        reply.text
    );
    assert!(
        reply.text.contains('▲') || reply.text.contains('▼'),
        "{}",
        reply.text
    );
}

#[tokio::test]
async fn help_lists_what_the_role_may_ask() {
    let app = TestApp::start().await;
    let staff = app.ask("demo.staff", "help").await;
    let manager = app.ask("demo.manager", "help").await;
    assert!(staff.text.len() < manager.text.len());
    assert!(!staff.buttons.is_empty());
    for b in &staff.buttons {
        assert!(b.1.starts_with("dtmd://dingtalkclient/sendMessage?content="));
    }
}

#[tokio::test]
async fn not_understood_and_missing_period_get_a_helpful_reply() {
    let app = TestApp::start().await;
    let reply = app
        .ask("demo.manager", "what's the weather tomorrow?")
        .await;
    assert!(!reply.buttons.is_empty());
    let reply = app.ask("demo.manager", "sales in Kowloon").await;
    assert!(!reply.buttons.is_empty(), "clarify offers periods");
    let audit = app.audit(2).await;
    assert_eq!(audit[0]["decision"], "not_understood");
    assert_eq!(audit[1]["decision"], "clarify");
    let reply = app
        .ask("demo.staff", "how many Unobtainium Widget in stock?")
        .await;
    assert!(reply.text.contains("Unobtainium Widget"), "{}", reply.text);
}

/// Buttons send follow-up questions as the user; each must be understood again, by the
/// same rules, for the same asker.
#[tokio::test]
async fn every_button_follow_up_is_understood() {
    let app = TestApp::start().await;
    let questions = [
        ("demo.staff", "how many iPhone 15 Pro 256GB in stock?"),
        ("demo.staff", "A4影印紙 觀塘倉仲有幾多?"),
        ("demo.staff", "which items are low on stock in Tsuen Wan?"),
        ("demo.manager", "sales last month in Kowloon"),
        ("demo.manager", "上個月九龍區營業額"),
        ("demo.manager", "top 5 items this month"),
        ("demo.manager", "sales report last month"),
        ("demo.manager", "sales in Kowloon"),
        ("demo.manager", "九龍區營業額"),
        ("demo.manager", "help"),
        ("demo.staff", "幫助"),
        ("demo.staff", "what's the weather tomorrow?"),
        ("demo.staff", "how many iPhone in stock?"),
    ];
    let now = jiff::Zoned::now();
    let mut checked = 0;
    let mut failures = Vec::new();
    for (user, q) in questions {
        let reply = app.ask(user, q).await;
        for (title, url) in &reply.buttons {
            let button = askerp::card::Button {
                title: title.clone(),
                url: url.clone(),
            };
            let text = button.follow_up_text().expect("a follow-up link");
            let r = app.state.bot.resolver.resolve(&text, &now);
            if r.intent.is_none() {
                failures.push(format!("button {title:?} of {q:?} sends {text:?}"));
            }
            checked += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "not understood:\n{}",
        failures.join("\n")
    );
    assert!(checked > 20, "only {checked} buttons checked");
}

#[tokio::test]
async fn sales_for_one_store_whichever_way_it_is_named() {
    let app = TestApp::start().await;
    let db = app.db().await;
    let year_start = today().first_of_year();
    let expected: i64 = sqlx::query(
        "SELECT COALESCE(SUM(total_cents), 0) FROM orders WHERE store = 'CWB' AND order_date BETWEEN ? AND ? \
         AND state IN ('confirmed','picking','shipped','delivered')",
    )
    .bind(year_start.to_string())
    .bind(today().last_of_year().to_string())
    .fetch_one(&db)
    .await
    .expect("sum")
    .get(0);
    for q in [
        "sales this year for Causeway Bay store",
        "sales this year in Causeway Bay",
        "銅鑼灣店今年營業額",
    ] {
        let reply = app.ask("demo.admin", q).await;
        assert!(
            reply.text.contains(&hkd(expected, Locale::En)),
            "{q}: {} missing in {}",
            hkd(expected, Locale::En),
            reply.text
        );
    }
}
