//! Report, sales and best-seller cards on fixed days (a Monday, a Wednesday, the 1st and
//! the last day of a month, the first day of a quarter, 1 January), in all five
//! languages, against the demo ERP seeded for that day. Periods, comparison periods and
//! "to date" labels are written out here by hand; totals are recomputed with independent
//! SQL over the demo database.

use askerp::card::{Card, Messages, format};
use askerp::erp::Money;
use askerp::intent::frame::frame;
use askerp::intent::{Locale, Period};
use askerp::pipeline::Answer;
use jiff::civil::{Date, date};
use jiff::tz::TimeZone;
use rust_decimal::Decimal;
use sqlx::Row;

use crate::support::DemoBot as Fixed;

/// The bot with the demo ERP seeded for `today`, kept in a file the test reads too.
async fn on(today: Date) -> Fixed {
    Fixed::on(today).await
}

impl Fixed {
    async fn ask(&self, user: &str, text: &str) -> Answer {
        self.ask_in(user, &format!("cid-{user}-{text}"), text).await
    }

    /// Counted sales of the whole company in `p`, in cents.
    async fn company_sales(&self, p: Period) -> i64 {
        sqlx::query(
            "SELECT COALESCE(SUM(total_cents), 0) FROM orders \
             WHERE order_date BETWEEN ? AND ? \
             AND state IN ('confirmed','picking','shipped','delivered')",
        )
        .bind(p.start.to_string())
        .bind(p.end.to_string())
        .fetch_one(&self.db)
        .await
        .expect("sum")
        .get::<i64, _>(0)
    }
}

fn p(s: (i16, i8, i8), e: (i16, i8, i8)) -> Period {
    Period {
        start: date(s.0, s.1, s.2),
        end: date(e.0, e.1, e.2),
    }
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

fn text_of(card: &Card) -> String {
    format!("{}\n{}", card.title, card.markdown)
}

/// The report question for a period kind, in each language.
fn report_question(kind: &str, locale: Locale) -> &'static str {
    match (kind, locale) {
        ("week", Locale::En) => "weekly sales report",
        ("week", Locale::ZhHk) => "本週銷售報告",
        ("week", Locale::ZhCn) => "本周销售报告",
        ("week", Locale::Ms) => "laporan jualan minggu ini",
        ("week", Locale::Vi) => "báo cáo doanh thu tuần này",
        ("month", Locale::En) => "sales report this month",
        ("month", Locale::ZhHk) => "今個月銷售報告",
        ("month", Locale::ZhCn) => "本月销售报告",
        ("month", Locale::Ms) => "laporan jualan bulan ini",
        ("month", Locale::Vi) => "báo cáo doanh thu tháng này",
        ("quarter", Locale::En) => "sales report this quarter",
        ("quarter", Locale::ZhHk) => "今季銷售報告",
        ("quarter", Locale::ZhCn) => "本季度销售报告",
        ("quarter", Locale::Ms) => "laporan jualan suku tahun ini",
        ("quarter", Locale::Vi) => "báo cáo doanh thu quý này",
        ("year", Locale::En) => "sales report this year",
        ("year", Locale::ZhHk) => "今年銷售報告",
        ("year", Locale::ZhCn) => "今年销售报告",
        ("year", Locale::Ms) => "laporan jualan tahun ini",
        ("year", Locale::Vi) => "báo cáo doanh thu năm nay",
        ("last_month", Locale::En) => "sales report last month",
        ("last_month", Locale::ZhHk) => "上個月銷售報告",
        ("last_month", Locale::ZhCn) => "上个月销售报告",
        ("last_month", Locale::Ms) => "laporan jualan bulan lepas",
        ("last_month", Locale::Vi) => "báo cáo doanh thu tháng trước",
        ("last_quarter", Locale::En) => "sales report last quarter",
        ("last_quarter", Locale::ZhHk) => "上季銷售報告",
        ("last_quarter", Locale::ZhCn) => "上季度销售报告",
        ("last_quarter", Locale::Ms) => "laporan jualan suku tahun lepas",
        ("last_quarter", Locale::Vi) => "báo cáo doanh thu quý trước",
        ("last_year", Locale::En) => "sales report last year",
        ("last_year", Locale::ZhHk) => "去年銷售報告",
        ("last_year", Locale::ZhCn) => "去年销售报告",
        ("last_year", Locale::Ms) => "laporan jualan tahun lepas",
        ("last_year", Locale::Vi) => "báo cáo doanh thu năm ngoái",
        _ => "",
    }
}

/// (today, period kind, the period the card shows, what it is compared with, to date).
type Case = ((i16, i8, i8), &'static str, Period, Period, bool);

fn cases() -> Vec<Case> {
    vec![
        // Wednesday 2 December 2026.
        (
            (2026, 12, 2),
            "week",
            p((2026, 11, 30), (2026, 12, 2)),
            p((2026, 11, 23), (2026, 11, 25)),
            true,
        ),
        (
            (2026, 12, 2),
            "month",
            p((2026, 12, 1), (2026, 12, 2)),
            p((2026, 11, 1), (2026, 11, 2)),
            true,
        ),
        (
            (2026, 12, 2),
            "quarter",
            p((2026, 10, 1), (2026, 12, 2)),
            p((2026, 7, 1), (2026, 9, 2)),
            true,
        ),
        (
            (2026, 12, 2),
            "year",
            p((2026, 1, 1), (2026, 12, 2)),
            p((2025, 1, 1), (2025, 12, 2)),
            true,
        ),
        (
            (2026, 12, 2),
            "last_month",
            p((2026, 11, 1), (2026, 11, 30)),
            p((2026, 10, 1), (2026, 10, 31)),
            false,
        ),
        // Monday 30 November 2026, the last day of a month.
        (
            (2026, 11, 30),
            "week",
            p((2026, 11, 30), (2026, 11, 30)),
            p((2026, 11, 23), (2026, 11, 23)),
            true,
        ),
        (
            (2026, 11, 30),
            "month",
            p((2026, 11, 1), (2026, 11, 30)),
            p((2026, 10, 1), (2026, 10, 30)),
            true,
        ),
        (
            (2026, 11, 30),
            "last_month",
            p((2026, 10, 1), (2026, 10, 31)),
            p((2026, 9, 1), (2026, 9, 30)),
            false,
        ),
        // Tuesday 1 December 2026, the first day of a month.
        (
            (2026, 12, 1),
            "month",
            p((2026, 12, 1), (2026, 12, 1)),
            p((2026, 11, 1), (2026, 11, 1)),
            true,
        ),
        (
            (2026, 12, 1),
            "week",
            p((2026, 11, 30), (2026, 12, 1)),
            p((2026, 11, 23), (2026, 11, 24)),
            true,
        ),
        (
            (2026, 12, 1),
            "last_month",
            p((2026, 11, 1), (2026, 11, 30)),
            p((2026, 10, 1), (2026, 10, 31)),
            false,
        ),
        // Thursday 1 October 2026, the first day of a quarter.
        (
            (2026, 10, 1),
            "quarter",
            p((2026, 10, 1), (2026, 10, 1)),
            p((2026, 7, 1), (2026, 7, 1)),
            true,
        ),
        (
            (2026, 10, 1),
            "last_quarter",
            p((2026, 7, 1), (2026, 9, 30)),
            p((2026, 4, 1), (2026, 6, 30)),
            false,
        ),
        // Thursday 1 January 2026.
        (
            (2026, 1, 1),
            "year",
            p((2026, 1, 1), (2026, 1, 1)),
            p((2025, 1, 1), (2025, 1, 1)),
            true,
        ),
        (
            (2026, 1, 1),
            "month",
            p((2026, 1, 1), (2026, 1, 1)),
            p((2025, 12, 1), (2025, 12, 1)),
            true,
        ),
        (
            (2026, 1, 1),
            "last_year",
            p((2025, 1, 1), (2025, 12, 31)),
            p((2024, 1, 1), (2024, 12, 31)),
            false,
        ),
    ]
}

#[tokio::test]
async fn report_periods_on_fixed_days_in_every_language() {
    let messages = Messages::builtin().expect("catalogs");
    let mut failures = Vec::new();
    let mut by_day: Vec<((i16, i8, i8), Vec<Case>)> = Vec::new();
    for c in cases() {
        match by_day.iter_mut().find(|(d, _)| *d == c.0) {
            Some((_, list)) => list.push(c),
            None => by_day.push((c.0, vec![c])),
        }
    }
    for (day, list) in by_day {
        let fixed = on(date(day.0, day.1, day.2)).await;
        for (_, kind, current, previous, to_date) in list {
            let expected_current = fixed.company_sales(current).await;
            let expected_previous = fixed.company_sales(previous).await;
            for locale in Locale::ALL {
                let question = report_question(kind, locale);
                // The admin sees the whole company, so the SQL above is the whole figure.
                let answer = fixed.ask("demo.admin", question).await;
                let text = text_of(&answer.card);
                let mut problems = Vec::new();
                if answer.locale != locale {
                    problems.push(format!("answered in {:?}", answer.locale));
                }
                let shown = format::period(locale, &current);
                let title = if to_date {
                    messages.fill(locale, "common.to_date", &[("period", &shown)])
                } else {
                    shown.clone()
                };
                if !answer.card.markdown.contains(&title) {
                    problems.push(format!("period {title:?} missing"));
                }
                let to_date_word = messages.fill(locale, "common.to_date", &[("period", "")]);
                if !to_date && text.contains(to_date_word.trim()) {
                    problems.push("a complete period labelled to date".into());
                }
                let before = format::period(locale, &previous);
                if !answer.card.markdown.contains(&before) {
                    problems.push(format!("comparison {before:?} missing"));
                }
                if to_date {
                    let note = messages.fill(
                        locale,
                        "common.same_days",
                        &[("period", &shown), ("previous_period", &before)],
                    );
                    if !answer.card.markdown.contains(&note) {
                        problems.push(format!("no same-days note {note:?}"));
                    }
                }
                for cents in [expected_current, expected_previous] {
                    let money = hkd(cents, locale);
                    if !answer.card.markdown.contains(&money) {
                        problems.push(format!("figure {money} missing"));
                    }
                }
                // The "previous period" button asks for exactly the comparison period.
                let previous_button = answer
                    .card
                    .buttons
                    .first()
                    .and_then(|b| b.follow_up_text())
                    .unwrap_or_default();
                if !previous_button.contains(&before) {
                    problems.push(format!("previous button asks {previous_button:?}"));
                }
                if !problems.is_empty() {
                    failures.push(format!(
                        "{day:?} {kind} {locale:?} {question:?}: {}\n{text}",
                        problems.join("; ")
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Every period a card prints on a button comes back, through the bot, as the period the
/// card meant; the sales card's "previous period" and the report's comparison agree.
#[tokio::test]
async fn every_printed_period_round_trips_through_the_bot() {
    let mut failures = Vec::new();
    for day in [date(2026, 12, 2), date(2026, 11, 30), date(2026, 1, 1)] {
        let fixed = on(day).await;
        let cal = *fixed.bot.resolver.calendar();
        let tz = TimeZone::get("Asia/Hong_Kong").expect("tz");
        let now = day.at(10, 0, 0, 0).to_zoned(tz).expect("now");
        for locale in Locale::ALL {
            for kind in ["week", "month", "year", "last_month"] {
                let question = report_question(kind, locale);
                let resolved = fixed.bot.resolver.resolve(question, &now);
                let Some(asked) = resolved.slots.period else {
                    failures.push(format!("{question:?} has no period"));
                    continue;
                };
                let framed = frame(asked, day, &cal);
                let report = fixed.ask("demo.admin", question).await;
                // The same question as a sales total: its "previous period" button.
                let sales_question = match locale {
                    Locale::En | Locale::Ms | Locale::Vi => question
                        .replace("sales report", "sales")
                        .replace("weekly sales", "sales this week")
                        .replace("laporan jualan", "jualan")
                        .replace("báo cáo doanh thu", "doanh thu"),
                    Locale::ZhHk => question.replace("銷售報告", "營業額"),
                    Locale::ZhCn => question.replace("销售报告", "销售额"),
                };
                let sales = fixed.ask("demo.admin", &sales_question).await;
                for (card, what) in [(&report.card, "report"), (&sales.card, "sales")] {
                    for (i, b) in card.buttons.iter().enumerate() {
                        let Some(text) = b.follow_up_text() else {
                            continue;
                        };
                        let r = fixed.bot.resolver.resolve(&text, &now);
                        let Some(period) = r.slots.period else {
                            failures.push(format!("{what} {question:?}: {text:?} has no period"));
                            continue;
                        };
                        let back = frame(period, day, &cal).period;
                        let want = if i == 0 {
                            framed.previous
                        } else {
                            framed.period
                        };
                        if r.locale != locale || back != want {
                            failures.push(format!(
                                "{day} {what} {question:?}: button {text:?} means {back:?} \
                                 in {:?}, the card meant {want:?}",
                                r.locale
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn an_unknown_customer_is_not_found_never_zero() {
    let fixed = on(date(2026, 12, 2)).await;
    let answer = fixed
        .ask("demo.admin", "sales to Blue Sky Travl Agency this year")
        .await;
    let text = text_of(&answer.card);
    assert!(!text.contains("HK$0.00"), "{text}");
    assert!(text.contains("Blue Sky Travl Agency"), "{text}");
    let button = answer
        .card
        .buttons
        .iter()
        .find(|b| b.title.contains("Blue Sky Travel Agency"))
        .unwrap_or_else(|| panic!("a did-you-mean button: {text}"));
    // Pressing it asks again with the ERP's name, and the answer is that customer's sales.
    let again = button.follow_up_text().expect("a question");
    let answer = fixed.ask("demo.admin", &again).await;
    let expected: i64 = sqlx::query(
        "SELECT COALESCE(SUM(o.total_cents), 0) FROM orders o \
         JOIN customers c ON c.id = o.customer_id \
         WHERE c.name = 'Blue Sky Travel Agency Ltd.' \
         AND o.order_date BETWEEN '2026-01-01' AND '2026-12-02' \
         AND o.state IN ('confirmed','picking','shipped','delivered')",
    )
    .fetch_one(&fixed.db)
    .await
    .expect("sum")
    .get(0);
    assert!(expected > 0, "the demo has sales for this customer");
    assert!(
        answer.card.markdown.contains(&hkd(expected, Locale::En)),
        "{}",
        answer.card.markdown
    );
    // A name nothing resembles is not found either, in every language.
    for (question, not_found) in [
        (
            "sales to Zebra Quantum Holdings this year",
            "couldn't find a customer",
        ),
        ("今年Zebra Quantum Holdings嘅營業額", "搵唔到符合"),
        (
            "jualan kepada Zebra Quantum Holdings tahun ini",
            "tidak menjumpai pelanggan",
        ),
        (
            "doanh thu cho khách hàng Zebra Quantum Holdings năm nay",
            "không tìm thấy khách hàng",
        ),
    ] {
        let answer = fixed.ask("demo.admin", question).await;
        let text = text_of(&answer.card);
        assert!(
            text.contains(not_found) && !text.contains("HK$0"),
            "{question}: {text}"
        );
    }
}

#[tokio::test]
async fn help_names_only_customers_and_items_the_erp_has() {
    let fixed = on(date(2026, 12, 2)).await;
    for (user, question) in [
        ("demo.admin", "help"),
        ("demo.admin", "幫助"),
        ("demo.manager", "help"),
    ] {
        let answer = fixed.ask(user, question).await;
        let text = text_of(&answer.card);
        assert!(!text.contains("Golden Dragon"), "{text}");
        assert!(!text.contains("金龍貿易"), "{text}");
        for b in &answer.card.buttons {
            let q = b.follow_up_text().unwrap_or_default();
            let reply = fixed.ask(user, &q).await;
            assert!(
                !reply.card.title.contains("Not found") && !reply.card.title.contains("搵唔到"),
                "help example {q:?} names something the ERP does not have: {}",
                reply.card.markdown
            );
        }
    }
}

#[tokio::test]
async fn the_scope_line_names_the_store_asked_about() {
    let fixed = on(date(2026, 12, 2)).await;
    for (question, scope) in [
        ("top 10 items in Mong Kok last week", "Scope: Mong Kok"),
        ("sales report in Mong Kok last week", "Scope: Mong Kok"),
        ("上星期旺角熱賣貨品", "範圍：旺角"),
        ("上周铜锣湾畅销商品", "范围：铜锣湾"),
        ("上星期銅鑼灣銷售報告", "範圍：銅鑼灣"),
        ("barang terlaris di Mong Kok minggu lepas", "Skop: Mong Kok"),
        (
            "mặt hàng bán chạy tại Mong Kok tuần trước",
            "Phạm vi: Mong Kok",
        ),
    ] {
        let answer = fixed.ask("demo.admin", question).await;
        let text = text_of(&answer.card);
        assert!(text.contains(scope), "{question}: {text}");
        for whole in [
            "whole company",
            "全公司",
            "seluruh syarikat",
            "toàn công ty",
        ] {
            assert!(!text.contains(whole), "{question}: {text}");
        }
    }
}

#[tokio::test]
async fn top_items_by_quantity_are_ranked_by_quantity_in_every_language() {
    let fixed = on(date(2026, 12, 2)).await;
    let nov = p((2026, 11, 1), (2026, 11, 30));
    // Independently: every item's November quantity and revenue.
    let rows = sqlx::query(
        "SELECT i.name_en, i.unit, SUM(l.qty) AS q, SUM(l.amount_cents) AS r \
         FROM order_lines l JOIN orders o ON o.id = l.order_id JOIN items i ON i.sku = l.sku \
         WHERE o.order_date BETWEEN ? AND ? \
         AND o.state IN ('confirmed','picking','shipped','delivered') \
         GROUP BY i.sku",
    )
    .bind(nov.start.to_string())
    .bind(nov.end.to_string())
    .fetch_all(&fixed.db)
    .await
    .expect("rows");
    let mut items: Vec<(String, String, i64, i64)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    // The unit with the most revenue first, then quantity within it.
    let mut units: Vec<(String, i64)> = Vec::new();
    for (_, unit, _, revenue) in &items {
        match units.iter_mut().find(|(u, _)| u == unit) {
            Some((_, r)) => *r += revenue,
            None => units.push((unit.clone(), *revenue)),
        }
    }
    units.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let unit_rank = |u: &str| units.iter().position(|(x, _)| x == u).unwrap_or(usize::MAX);
    items.sort_by(|a, b| {
        unit_rank(&a.1)
            .cmp(&unit_rank(&b.1))
            .then(b.2.cmp(&a.2))
            .then(b.3.cmp(&a.3))
    });
    let expected: Vec<String> = items.iter().take(5).map(|i| i.0.clone()).collect();
    for question in [
        "top 5 items by quantity last month",
        "上個月按數量頭5位熱賣貨品",
        "上个月按数量前5畅销商品",
        "5 barang terlaris ikut kuantiti bulan lepas",
        "5 mặt hàng bán chạy theo số lượng tháng trước",
    ] {
        let answer = fixed.ask("demo.admin", question).await;
        let md = &answer.card.markdown;
        let mut at = 0;
        for name in &expected {
            // English item names appear as they are; Chinese cards show the Chinese name,
            // so they are checked by position only in English, Malay and Vietnamese.
            if answer.locale.is_chinese() {
                break;
            }
            let pos = md[at..]
                .find(name.as_str())
                .unwrap_or_else(|| panic!("{question}: {name} missing or out of order\n{md}"));
            at += pos + name.len();
        }
        assert_eq!(
            md.matches("\n1. ").count() + md.matches("\n5. ").count(),
            2,
            "{md}"
        );
        let by_quantity = Messages::builtin()
            .expect("catalogs")
            .text(answer.locale, "top_items.by_quantity");
        assert!(md.contains(&by_quantity), "{question}: {md}");
        assert!(!md.contains("\n6. "), "{question}: five rows\n{md}");
    }
}

const COUNTED: &str = "('confirmed','picking','shipped','delivered')";

/// `(total cents, orders)` of the whole company in `p`.
async fn totals(db: &sqlx::SqlitePool, p: Period) -> (i64, i64) {
    let row = sqlx::query(&format!(
        "SELECT COALESCE(SUM(total_cents), 0), COUNT(*) FROM orders \
         WHERE order_date BETWEEN ? AND ? AND state IN {COUNTED}"
    ))
    .bind(p.start.to_string())
    .bind(p.end.to_string())
    .fetch_one(db)
    .await
    .expect("totals");
    (row.get(0), row.get(1))
}

/// `(store, total cents, orders)`, largest first.
async fn per_store(db: &sqlx::SqlitePool, p: Period) -> Vec<(String, i64, i64)> {
    sqlx::query(&format!(
        "SELECT store, SUM(total_cents) AS t, COUNT(*) FROM orders \
         WHERE order_date BETWEEN ? AND ? AND state IN {COUNTED} \
         GROUP BY store ORDER BY t DESC, store"
    ))
    .bind(p.start.to_string())
    .bind(p.end.to_string())
    .fetch_all(db)
    .await
    .expect("per store")
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

/// `(sku, quantity, unit, revenue cents)` of the five best sellers by revenue.
async fn top5(db: &sqlx::SqlitePool, p: Period) -> Vec<(String, i64, String, i64)> {
    sqlx::query(&format!(
        "SELECT l.sku, SUM(l.qty), i.unit, SUM(l.amount_cents) AS r FROM order_lines l \
         JOIN orders o ON o.id = l.order_id JOIN items i ON i.sku = l.sku \
         WHERE o.order_date BETWEEN ? AND ? AND o.state IN {COUNTED} \
         GROUP BY l.sku ORDER BY r DESC, l.sku LIMIT 5"
    ))
    .bind(p.start.to_string())
    .bind(p.end.to_string())
    .fetch_all(db)
    .await
    .expect("top items")
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
    .collect()
}

fn money_fact(cents: i64) -> serde_json::Value {
    serde_json::json!({"amount": Decimal::new(cents, 2).to_string(), "currency": "HKD"})
}

/// Every `HK$…` figure printed in `markdown`.
fn printed_amounts(markdown: &str) -> Vec<String> {
    markdown
        .match_indices("HK$")
        .map(|(i, _)| {
            let rest = &markdown[i + 3..];
            let n: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == ',' || *c == '.')
                .collect();
            let n = n.trim_end_matches(['.', ',']);
            let negative = markdown[..i].ends_with('-');
            format!("{}HK${n}", if negative { "-" } else { "" })
        })
        .collect()
}

/// Every money value anywhere in `facts`, formatted as the card would print it.
fn fact_amounts(v: &serde_json::Value, locale: Locale, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            if let (Some(a), Some(c)) = (m.get("amount"), m.get("currency"))
                && let (Some(a), Some(c)) = (a.as_str(), c.as_str())
                && let Ok(amount) = a.parse::<Decimal>()
            {
                for amount in [amount, amount.abs()] {
                    out.push(format::money(
                        locale,
                        &Money {
                            amount,
                            currency: c.into(),
                        },
                    ));
                }
            }
            m.values().for_each(|x| fact_amounts(x, locale, out));
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| fact_amounts(x, locale, out)),
        _ => {}
    }
}

/// `ask --json`'s facts of a report and of a sales answer, in every language: the
/// figures match SQL over the demo database, and every amount the markdown prints is
/// one of them.
#[tokio::test]
async fn facts_match_sql_and_cover_every_printed_figure() {
    // Wednesday 2 December 2026: November is complete and compared with October.
    let fixed = on(date(2026, 12, 2)).await;
    let nov = p((2026, 11, 1), (2026, 11, 30));
    let oct = p((2026, 10, 1), (2026, 10, 31));
    let (total, orders) = totals(&fixed.db, nov).await;
    let (prev_total, prev_orders) = totals(&fixed.db, oct).await;
    let stores = per_store(&fixed.db, nov).await;
    let top = top5(&fixed.db, nov).await;
    let sales_q = [
        (Locale::En, "sales last month"),
        (Locale::ZhHk, "上個月營業額"),
        (Locale::ZhCn, "上个月销售额"),
        (Locale::Ms, "jualan bulan lepas"),
        (Locale::Vi, "doanh thu tháng trước"),
    ];
    for locale in Locale::ALL {
        let sales = sales_q
            .iter()
            .find(|(l, _)| *l == locale)
            .map(|(_, q)| *q)
            .unwrap_or_default();
        for (kind, question) in [
            ("report", report_question("last_month", locale)),
            ("sales", sales),
        ] {
            let answer = fixed.ask("demo.admin", question).await;
            let f = answer
                .facts()
                .unwrap_or_else(|| panic!("{question}: no facts; {}", answer.card.markdown));
            assert_eq!(f["kind"], kind, "{question}");
            assert_eq!(
                f["period"],
                serde_json::json!({"start": "2026-11-01", "end": "2026-11-30"})
            );
            assert_eq!(
                f["comparison_period"],
                serde_json::json!({"start": "2026-10-01", "end": "2026-10-31"})
            );
            assert_eq!(f["to_date"], false);
            assert_eq!(f["scope"]["kind"], "company");
            assert_eq!(f["total"], money_fact(total), "{question}");
            assert_eq!(f["orders"], orders, "{question}");
            let rows = f["by_store"].as_array().cloned().unwrap_or_default();
            assert_eq!(rows.len(), stores.len(), "{question}");
            for (row, (code, cents, n)) in rows.iter().zip(&stores) {
                assert_eq!(row["store"]["code"], code.as_str(), "{question}");
                assert_eq!(row["total"], money_fact(*cents), "{question}");
                assert_eq!(row["orders"], *n, "{question}");
            }
            if kind == "report" {
                assert_eq!(f["previous"]["total"], money_fact(prev_total));
                assert_eq!(f["previous"]["orders"], prev_orders);
                assert_eq!(f["change"]["amount"], money_fact(total - prev_total));
                let items = f["top_items"].as_array().cloned().unwrap_or_default();
                assert_eq!(items.len(), top.len(), "{question}");
                for (row, (sku, qty, unit, cents)) in items.iter().zip(&top) {
                    assert_eq!(row["sku"], sku.as_str());
                    assert_eq!(
                        row["quantity"],
                        serde_json::json!({"value": qty.to_string(), "unit": unit})
                    );
                    assert_eq!(row["revenue"], money_fact(*cents));
                }
                if let Some(pct) = f["change"]["percent"].as_str() {
                    let pct: Decimal = pct.parse().expect("percent");
                    let shown = format::decimal(locale, pct.abs(), 1, 1);
                    assert!(answer.card.markdown.contains(&shown), "{question}: {shown}");
                }
            }
            let count = format::count(locale, u64::try_from(orders).unwrap_or_default());
            assert!(answer.card.markdown.contains(&count), "{question}: {count}");
            let mut known = Vec::new();
            fact_amounts(&f, locale, &mut known);
            for printed in printed_amounts(&answer.card.markdown) {
                assert!(
                    known.contains(&printed),
                    "{question}: {printed} printed but not in facts {f}"
                );
            }
            assert!(!printed_amounts(&answer.card.markdown).is_empty());
        }
    }
}

/// "vs last year" in every language, on a sales report and a sales question: the card
/// compares with the same dates one year earlier (a period to date with the same days
/// last year), says so in the asker's language, and its figures match SQL.
#[tokio::test]
async fn vs_last_year_compares_the_same_dates_last_year_in_every_language() {
    let messages = Messages::builtin().expect("catalogs");
    // Wednesday 2 December 2026.
    let fixed = on(date(2026, 12, 2)).await;
    let questions: [(Locale, &str, Period, Period); 10] = [
        (
            Locale::En,
            "sales report last month vs last year",
            p((2026, 11, 1), (2026, 11, 30)),
            p((2025, 11, 1), (2025, 11, 30)),
        ),
        (
            Locale::ZhHk,
            "上個月銷售報告同去年比",
            p((2026, 11, 1), (2026, 11, 30)),
            p((2025, 11, 1), (2025, 11, 30)),
        ),
        (
            Locale::ZhCn,
            "上个月销售报告同比",
            p((2026, 11, 1), (2026, 11, 30)),
            p((2025, 11, 1), (2025, 11, 30)),
        ),
        (
            Locale::Ms,
            "laporan jualan bulan lepas berbanding tahun lepas",
            p((2026, 11, 1), (2026, 11, 30)),
            p((2025, 11, 1), (2025, 11, 30)),
        ),
        (
            Locale::Vi,
            "báo cáo doanh thu tháng trước so với cùng kỳ năm trước",
            p((2026, 11, 1), (2026, 11, 30)),
            p((2025, 11, 1), (2025, 11, 30)),
        ),
        // To date: the same days last year.
        (
            Locale::En,
            "sales this month vs last year",
            p((2026, 12, 1), (2026, 12, 2)),
            p((2025, 12, 1), (2025, 12, 2)),
        ),
        (
            Locale::ZhHk,
            "今個月營業額比去年同期",
            p((2026, 12, 1), (2026, 12, 2)),
            p((2025, 12, 1), (2025, 12, 2)),
        ),
        (
            Locale::ZhCn,
            "本月销售报告同比",
            p((2026, 12, 1), (2026, 12, 2)),
            p((2025, 12, 1), (2025, 12, 2)),
        ),
        (
            Locale::Ms,
            "jualan bulan ini berbanding tahun lepas",
            p((2026, 12, 1), (2026, 12, 2)),
            p((2025, 12, 1), (2025, 12, 2)),
        ),
        (
            Locale::Vi,
            "doanh thu tháng này so với cùng kỳ năm trước",
            p((2026, 12, 1), (2026, 12, 2)),
            p((2025, 12, 1), (2025, 12, 2)),
        ),
    ];
    for (locale, question, current, previous) in questions {
        let answer = fixed.ask("demo.admin", question).await;
        let text = text_of(&answer.card);
        assert_eq!(answer.locale, locale, "{question}");
        let resolution = answer.resolution.clone().expect("resolved");
        assert_eq!(
            resolution.slots.compare,
            Some(askerp::intent::Compare::LastYear),
            "{question}"
        );
        let f = answer
            .facts()
            .unwrap_or_else(|| panic!("{question}: no facts: {text}"));
        assert_eq!(f["kind"], "report", "{question}");
        assert_eq!(f["comparison"], "last_year", "{question}");
        let dates =
            |x: Period| serde_json::json!({"start": x.start.to_string(), "end": x.end.to_string()});
        assert_eq!(f["period"], dates(current), "{question}");
        assert_eq!(f["comparison_period"], dates(previous), "{question}");
        let (now_cents, _) = totals(&fixed.db, current).await;
        let (then_cents, then_orders) = totals(&fixed.db, previous).await;
        assert!(then_cents > 0, "the demo has last year's sales");
        assert_eq!(f["total"], money_fact(now_cents), "{question}");
        assert_eq!(f["previous"]["total"], money_fact(then_cents), "{question}");
        assert_eq!(f["previous"]["orders"], then_orders, "{question}");
        assert!(text.contains(&hkd(now_cents, locale)), "{question}: {text}");
        assert!(
            text.contains(&hkd(then_cents, locale)),
            "{question}: {text}"
        );
        // The card says it is last year's same dates, in the asker's language.
        let template = messages
            .get(locale, "report.vs_last_year")
            .expect("vs_last_year message");
        let lead = template.split('{').next().unwrap_or_default();
        assert!(
            !lead.is_empty() && text.contains(lead),
            "{question}: {text}"
        );
        let same_days = messages.get(locale, "common.same_days").unwrap_or_default();
        let middle = same_days
            .split('}')
            .nth(1)
            .and_then(|m| m.split('{').next())
            .unwrap_or_default();
        assert!(
            middle.is_empty() || !text.contains(middle),
            "{question}: says previous period: {text}"
        );
    }
}
