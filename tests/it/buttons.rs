//! Button round trip: everything a card offers to press is sent back through the bot as
//! the user would send it, and must be understood and answered.
//!
//! More than 60 starting questions (every intent, five languages, several periods), asked
//! as the demo users on a fixed Wednesday; every "send message" button of every card, and
//! of the cards those buttons return (two levels), is pressed in the same conversation.
//! A press fails when the answer is "not understood", "not found", a refusal (the bot
//! offered something the asker may not have), an error, or a question back ("which
//! period?") — a button is the bot's own words and must carry everything it needs. The
//! one question back allowed is "which of these items?", whose buttons are pressed too.

use std::collections::BTreeSet;

use askerp::pipeline::{Answer, Decision};
use jiff::civil::{Date, date};

use crate::support::DemoBot as Fixed;

async fn on(today: Date) -> Fixed {
    Fixed::on(today).await
}

impl Fixed {
    /// An order of a Kowloon store (the manager's scope) that exists in the demo data.
    async fn kowloon_order(&self) -> String {
        sqlx::query_scalar(
            "SELECT o.number FROM orders o JOIN places p ON p.code = o.store \
             WHERE p.region = 'KLN' ORDER BY o.number LIMIT 1",
        )
        .fetch_one(&self.db)
        .await
        .expect("an order")
    }
}

/// What went wrong with a press, if anything.
fn failure(a: &Answer) -> Option<String> {
    let why = a.reason.clone().unwrap_or_default();
    match a.decision {
        Decision::Allow if why.starts_with("not found") => Some(format!("not found ({why})")),
        Decision::Allow | Decision::Smalltalk => None,
        // "Which one?" with each matching item as a button (pressed at the next level):
        // the question was understood, and a family name means several items.
        Decision::Clarify if why == "several items match" && !presses(a).is_empty() => None,
        d => Some(format!("{} ({why})", d.as_str())),
    }
}

fn presses(a: &Answer) -> Vec<String> {
    a.card
        .buttons
        .iter()
        .filter_map(|b| b.follow_up_text())
        .collect()
}

#[tokio::test]
async fn every_button_of_every_card_is_understood_two_levels_deep() {
    // A Wednesday: weeks and months are unfinished, so "to date" periods appear on cards.
    let f = on(date(2026, 12, 2)).await;
    let order = f.kowloon_order().await;
    let m = "demo.manager";
    let s = "demo.staff";
    let h = "demo.hr";
    let a = "demo.admin";
    let starts: Vec<(&str, String)> = vec![
        // inventory.stock
        (s, "how many iPhone 15 Pro 256GB in stock?".into()),
        (s, "iPhone 15 Pro 觀塘倉仲有幾多?".into()),
        (s, "维他柠檬茶还有货吗?".into()),
        (s, "berapa stok Vita Lemon Tea di gudang Kwun Tong?".into()),
        (s, "iPhone 15 Pro ở kho Tsuen Wan còn bao nhiêu?".into()),
        (s, "A4影印紙有冇貨".into()),
        (m, "stock of Samsung Galaxy S24 in Kwai Chung".into()),
        (s, "Coca-Cola 仲有幾多".into()),
        // inventory.low_stock
        (s, "which items are low on stock in Tsuen Wan?".into()),
        (s, "邊啲貨要補?".into()),
        (m, "观塘仓库存不足的有哪些".into()),
        (s, "stok rendah di Kwai Chung".into()),
        (s, "mặt hàng nào sắp hết ở kho Kwun Tong".into()),
        (a, "low stock".into()),
        // sales.summary
        (m, "sales last month in Kowloon".into()),
        (m, "上個月九龍區營業額".into()),
        (m, "sales this week in Mong Kok".into()),
        (m, "旺角今個月賣咗幾多".into()),
        (m, "jualan Tsim Sha Tsui minggu lepas".into()),
        (m, "doanh số Sham Shui Po tháng này".into()),
        (m, "九龙区上个月销售额".into()),
        (m, "sales yesterday in Kowloon".into()),
        (m, "sales 1 Nov to 15 Nov in Kowloon".into()),
        (m, "sales last 4 weeks in Kowloon".into()),
        (m, "sales Q3 in Kowloon".into()),
        (m, "sales year to date in Kowloon".into()),
        (a, "sales this month".into()),
        (a, "sales last year".into()),
        (a, "今年銷售額".into()),
        (a, "jualan bulan lepas".into()),
        (a, "doanh thu tuần trước".into()),
        (m, "Kowloon sales this month vs last year".into()),
        // sales.top_items
        (m, "top 5 items last month in Kowloon".into()),
        (m, "旺角上個月最好賣嘅貨".into()),
        (m, "top 10 by quantity in Tsim Sha Tsui this month".into()),
        (m, "5 barang paling laris di Mong Kok bulan ini".into()),
        (m, "top 3 mặt hàng bán chạy nhất ở Kowloon tuần này".into()),
        (a, "best sellers this quarter".into()),
        (a, "本月最暢銷十項產品".into()),
        (a, "top 5 last week".into()),
        // sales.order_status
        (m, format!("status of {order}")),
        (m, format!("{order} 到咗未?")),
        (m, format!("status pesanan {order}")),
        (m, format!("đơn hàng {order} thế nào rồi")),
        (a, format!("订单 {order} 状态")),
        // report.sales
        (m, "weekly sales report".into()),
        (m, "monthly sales report Kowloon".into()),
        (m, "上個月九龍區銷售報告".into()),
        (m, "laporan jualan bulanan".into()),
        (m, "báo cáo doanh số tuần này".into()),
        (a, "quarterly report".into()),
        (a, "sales report last week".into()),
        (a, "年報".into()),
        (a, "daily report".into()),
        // leave.balance
        (s, "how many annual leave days do I have?".into()),
        (s, "我仲有幾多日年假?".into()),
        (s, "我还有几天假?".into()),
        (s, "baki cuti tahunan saya".into()),
        (s, "tôi còn bao nhiêu ngày phép".into()),
        (h, "Chan Tai Man annual leave balance".into()),
        (h, "陳大文仲有幾多日病假?".into()),
        (a, "sick leave balance".into()),
        // help, smalltalk
        (s, "help".into()),
        (m, "你可以做咩?".into()),
        (h, "bantuan".into()),
        (a, "trợ giúp".into()),
        (a, "help".into()),
        (m, "hi".into()),
    ];
    assert!(starts.len() >= 60, "{}", starts.len());

    let mut failures: Vec<String> = Vec::new();
    let mut pressed = 0usize;
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    for (n, (user, text)) in starts.iter().enumerate() {
        let conversation = format!("buttons-{n}");
        let first = f.ask_in(user, &conversation, text).await;
        if let Some(why) = failure(&first) {
            failures.push(format!("start [{user}] {text:?}: {why}"));
            continue;
        }
        for level_one in presses(&first) {
            pressed += 1;
            let answer = f.ask_in(user, &conversation, &level_one).await;
            if let Some(why) = failure(&answer) {
                failures.push(format!("[{user}] {text:?} → button {level_one:?}: {why}"));
                continue;
            }
            for level_two in presses(&answer) {
                if !seen.insert((user.to_string(), level_two.clone())) {
                    continue;
                }
                pressed += 1;
                let second = f.ask_in(user, &conversation, &level_two).await;
                if let Some(why) = failure(&second) {
                    failures.push(format!(
                        "[{user}] {text:?} → {level_one:?} → button {level_two:?}: {why}"
                    ));
                }
            }
        }
    }
    println!(
        "{} starting questions, {pressed} buttons pressed",
        starts.len()
    );
    assert!(pressed >= 200, "only {pressed} buttons were pressed");
    assert!(
        failures.is_empty(),
        "{} of {pressed} presses failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
