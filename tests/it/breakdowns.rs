//! Breakdowns by month, week, day, customer, region and store, asked in all five
//! languages against the demo ERP seeded for Wednesday 2 December 2026: the rows on the
//! card, on the chart and in `facts` are recomputed here with independent SQL over the
//! demo database, and stay within the asker's scope.

use askerp::card::format;
use askerp::erp::Money;
use askerp::intent::Locale;
use askerp::pipeline::Answer;
use jiff::ToSpan;
use jiff::civil::{Date, date};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use sqlx::Row;

use crate::support::DemoBot;

const COUNTED: &str = "('confirmed','picking','shipped','delivered')";

/// Wednesday 2 December 2026: "this year" is 1 January to date, "last month" November.
fn today() -> Date {
    date(2026, 12, 2)
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

fn money_fact(cents: i64) -> Value {
    json!({"amount": Decimal::new(cents, 2).to_string(), "currency": "HKD"})
}

/// What a row is keyed by, as `facts` writes it, with its total in cents and orders.
#[derive(Debug, Clone, PartialEq)]
struct Expected {
    key: Value,
    cents: i64,
    orders: i64,
}

/// `(total cents, orders)` of `regions` (all when empty) from `start` to `end`.
async fn totals(db: &sqlx::SqlitePool, start: Date, end: Date, regions: &[&str]) -> (i64, i64) {
    let row = sqlx::query(&format!(
        "SELECT COALESCE(SUM(o.total_cents), 0), COUNT(*) FROM orders o \
         JOIN places p ON p.code = o.store \
         WHERE o.order_date BETWEEN ? AND ? AND o.state IN {COUNTED} \
         AND (? = '' OR instr(?, ',' || p.region || ',') > 0)"
    ))
    .bind(start.to_string())
    .bind(end.to_string())
    .bind(regions.join(","))
    .bind(format!(",{},", regions.join(",")))
    .fetch_one(db)
    .await
    .expect("totals");
    (row.get(0), row.get(1))
}

/// Months (calendar), weeks (Monday to Sunday) or days of `start..=end`, each clipped.
fn buckets(start: Date, end: Date, unit: &str) -> Vec<(Date, Date)> {
    let mut out = Vec::new();
    let mut s = start;
    while s <= end {
        let e = match unit {
            "month" => s.last_of_month(),
            "week" => {
                let back = i64::from(s.weekday().to_monday_zero_offset());
                s.checked_sub(back.days()).expect("monday") + 6.days()
            }
            _ => s,
        };
        let e = e.min(end);
        out.push((s, e));
        s = e.tomorrow().expect("tomorrow");
    }
    out
}

async fn time_rows(db: &sqlx::SqlitePool, start: Date, end: Date, unit: &str) -> Vec<Expected> {
    let mut out = Vec::new();
    for (s, e) in buckets(start, end, unit) {
        let (cents, orders) = totals(db, s, e, &[]).await;
        out.push(Expected {
            key: json!({"period": {"start": s.to_string(), "end": e.to_string()}}),
            cents,
            orders,
        });
    }
    out
}

/// Per store (or, with `by_region`, per region) in `regions` (all when empty), largest
/// first, ties by code.
async fn place_rows(
    db: &sqlx::SqlitePool,
    start: Date,
    end: Date,
    regions: &[&str],
    by_region: bool,
) -> Vec<Expected> {
    let group = if by_region { "p.region" } else { "o.store" };
    let kind = if by_region { "region" } else { "store" };
    sqlx::query(&format!(
        "SELECT {group} AS code, SUM(o.total_cents) AS t, COUNT(*) FROM orders o \
         JOIN places p ON p.code = o.store \
         WHERE o.order_date BETWEEN ? AND ? AND o.state IN {COUNTED} \
         AND (? = '' OR instr(?, ',' || p.region || ',') > 0) \
         GROUP BY {group} ORDER BY t DESC, code"
    ))
    .bind(start.to_string())
    .bind(end.to_string())
    .bind(regions.join(","))
    .bind(format!(",{},", regions.join(",")))
    .fetch_all(db)
    .await
    .expect("per place")
    .iter()
    .map(|r| Expected {
        key: json!({"code": r.get::<String, _>(0), "kind": kind}),
        cents: r.get(1),
        orders: r.get(2),
    })
    .collect()
}

async fn customer_rows(db: &sqlx::SqlitePool, start: Date, end: Date) -> Vec<Expected> {
    sqlx::query(&format!(
        "SELECT c.name, SUM(o.total_cents) AS t, COUNT(*) FROM orders o \
         JOIN customers c ON c.id = o.customer_id \
         WHERE o.order_date BETWEEN ? AND ? AND o.state IN {COUNTED} \
         GROUP BY c.id ORDER BY t DESC, c.name"
    ))
    .bind(start.to_string())
    .bind(end.to_string())
    .fetch_all(db)
    .await
    .expect("per customer")
    .iter()
    .map(|r| Expected {
        key: json!({"customer": r.get::<String, _>(0)}),
        cents: r.get(1),
        orders: r.get(2),
    })
    .collect()
}

/// The key of a `facts` row in the form [`Expected`] uses.
fn fact_key(row: &Value) -> Value {
    if let Some(p) = row.get("period") {
        json!({"period": p})
    } else if let Some(c) = row.get("customer") {
        json!({"customer": c})
    } else {
        json!({"code": row["place"]["code"], "kind": row["place_kind"]})
    }
}

/// Checks the answer's breakdown against `want`: `facts` row by row, every row's amount
/// printed on the card (in date order or largest first), and the chart's bars the
/// largest rows with the same amounts.
fn check(question: &str, locale: Locale, answer: &Answer, by: &str, want: &[Expected]) {
    let f = answer
        .facts()
        .unwrap_or_else(|| panic!("{question}: no facts; {}", answer.card.markdown));
    assert_eq!(f["kind"], "report", "{question}");
    assert_eq!(f["breakdown"]["by"], by, "{question}: {f}");
    let rows = f["breakdown"]["rows"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(rows.len(), want.len(), "{question}: {f}");
    assert!(!want.is_empty(), "{question}: nothing to compare");
    for (row, w) in rows.iter().zip(want) {
        assert_eq!(fact_key(row), w.key, "{question}");
        assert_eq!(row["total"], money_fact(w.cents), "{question}: {row}");
        assert_eq!(row["orders"], w.orders, "{question}: {row}");
    }
    // The rows add up to the card's total.
    let sum: i64 = want.iter().map(|w| w.cents).sum();
    assert_eq!(f["total"], money_fact(sum), "{question}");
    // Every row is a line of the card, in the facts' order.
    let md = &answer.card.markdown;
    let mut at = 0;
    for w in want.iter().take(31) {
        let shown = format!(": {}", hkd(w.cents, locale));
        let shown_zh = format!("：{}", hkd(w.cents, locale));
        let (found, len) = md[at..]
            .find(&shown)
            .map(|i| (i, shown.len()))
            .or_else(|| md[at..].find(&shown_zh).map(|i| (i, shown_zh.len())))
            .unwrap_or_else(|| panic!("{question}: {shown} not after {at}\n{md}"));
        at += found + len;
    }
    // The chart's bars: the largest rows, with their amounts.
    let chart = answer.chart.as_ref().expect("a report has a chart");
    let mut largest: Vec<&Expected> = want.iter().collect();
    largest.sort_by_key(|w| std::cmp::Reverse(w.cents));
    let bars: Vec<Decimal> = chart.breakdown.iter().map(|b| b.amount).collect();
    let expected: Vec<Decimal> = largest
        .iter()
        .take(bars.len().max(1))
        .map(|w| Decimal::new(w.cents, 2))
        .collect();
    assert_eq!(bars, expected, "{question}: chart bars");
    assert_eq!(bars.len(), want.len().min(6), "{question}");
}

#[tokio::test]
async fn breakdowns_in_every_language_match_sql() {
    let fixed = DemoBot::on(today()).await;
    let db = &fixed.db;
    let (jan1, nov1, nov30) = (date(2026, 1, 1), date(2026, 11, 1), date(2026, 11, 30));
    let by_month = time_rows(db, jan1, today(), "month").await;
    let by_week = time_rows(db, nov1, nov30, "week").await;
    let by_day = time_rows(db, nov1, nov30, "day").await;
    let by_store = place_rows(db, nov1, nov30, &[], false).await;
    let by_region = place_rows(db, nov1, nov30, &[], true).await;
    let by_customer = customer_rows(db, nov1, nov30).await;
    assert_eq!(by_month.len(), 12);
    assert_eq!(by_week.len(), 6, "1 Nov is a Sunday, 30 Nov a Monday");
    assert_eq!(by_day.len(), 30);
    assert_eq!(by_region.len(), 3);
    let cases: Vec<(Locale, &str, &str, &[Expected])> = vec![
        (Locale::En, "sales by month this year", "month", &by_month),
        (Locale::ZhHk, "每月銷售額", "month", &by_month),
        (Locale::ZhCn, "今年每个月销售额", "month", &by_month),
        (
            Locale::Ms,
            "jualan tahun ini ikut bulan",
            "month",
            &by_month,
        ),
        (
            Locale::Vi,
            "doanh thu năm nay theo tháng",
            "month",
            &by_month,
        ),
        (Locale::En, "sales last month by week", "week", &by_week),
        (Locale::ZhHk, "上個月營業額按週", "week", &by_week),
        (
            Locale::Vi,
            "doanh thu tháng trước theo tuần",
            "week",
            &by_week,
        ),
        (Locale::En, "sales last month by day", "day", &by_day),
        (Locale::Ms, "jualan bulan lepas ikut hari", "day", &by_day),
        (Locale::En, "sales last month by store", "store", &by_store),
        (Locale::ZhCn, "上个月销售额按门店", "store", &by_store),
        (Locale::ZhHk, "上個月各分店營業額", "store", &by_store),
        (
            Locale::Ms,
            "jualan bulan lepas ikut kedai",
            "store",
            &by_store,
        ),
        (
            Locale::Vi,
            "doanh thu tháng trước theo cửa hàng",
            "store",
            &by_store,
        ),
        (
            Locale::En,
            "sales last month by region",
            "region",
            &by_region,
        ),
        (Locale::ZhHk, "上個月營業額按地區", "region", &by_region),
        (
            Locale::Ms,
            "jualan bulan lepas ikut kawasan",
            "region",
            &by_region,
        ),
        (
            Locale::En,
            "sales last month by customer",
            "customer",
            &by_customer,
        ),
        (Locale::ZhHk, "上個月營業額按客戶", "customer", &by_customer),
        (Locale::ZhCn, "上个月销售额按客户", "customer", &by_customer),
        (
            Locale::Ms,
            "jualan bulan lepas ikut pelanggan",
            "customer",
            &by_customer,
        ),
        (
            Locale::Vi,
            "doanh thu tháng trước theo khách hàng",
            "customer",
            &by_customer,
        ),
        (Locale::En, "monthly sales report by store", "store", &[]),
    ];
    for (locale, question, by, want) in cases {
        let answer = fixed
            .ask_in("demo.admin", &format!("cid-{question}"), question)
            .await;
        if want.is_empty() {
            // This month to date (1–2 December) by store.
            let dec = place_rows(db, date(2026, 12, 1), today(), &[], false).await;
            check(question, locale, &answer, by, &dec);
            continue;
        }
        check(question, locale, &answer, by, want);
        assert_eq!(answer.locale, locale, "{question}");
    }
}

/// The rows stay within the asker's scope: the Kowloon manager's "by store" lists only
/// Kowloon's stores and "by region" only Kowloon; store staff, whose role has no sales
/// questions, get a refusal without figures.
#[tokio::test]
async fn breakdowns_stay_within_the_askers_scope() {
    let fixed = DemoBot::on(today()).await;
    let db = &fixed.db;
    let (nov1, nov30) = (date(2026, 11, 1), date(2026, 11, 30));
    let kowloon = place_rows(db, nov1, nov30, &["KLN"], false).await;
    let all = place_rows(db, nov1, nov30, &[], false).await;
    assert!(
        kowloon.len() < all.len(),
        "the demo has stores outside Kowloon"
    );
    for (locale, q) in [
        (Locale::En, "sales last month by store"),
        (Locale::ZhHk, "上個月營業額按分店"),
        (Locale::Ms, "jualan bulan lepas ikut kedai"),
    ] {
        let answer = fixed.ask_in("demo.manager", &format!("m-{q}"), q).await;
        check(q, locale, &answer, "store", &kowloon);
        let f = answer.facts().expect("facts");
        assert_eq!(f["scope"]["regions"][0]["code"], "KLN", "{q}: {f}");
    }
    let region = place_rows(db, nov1, nov30, &["KLN"], true).await;
    assert_eq!(region.len(), 1);
    let answer = fixed
        .ask_in("demo.manager", "m-region", "sales last month by region")
        .await;
    check(
        "by region (Kowloon)",
        Locale::En,
        &answer,
        "region",
        &region,
    );
    let (kln_total, _) = totals(db, nov1, nov30, &["KLN"]).await;
    assert_eq!(region[0].cents, kln_total);

    for q in ["sales last month by store", "每月銷售額"] {
        let answer = fixed.ask_in("demo.staff", &format!("s-{q}"), q).await;
        assert!(answer.facts().is_none(), "{q}: {:?}", answer.facts());
        assert!(
            !answer.card.markdown.contains("HK$"),
            "{q}: {}",
            answer.card.markdown
        );
        assert!(answer.chart.is_none(), "{q}");
    }
}

/// "By day" over a whole year would be 336 lines: the card lists months instead and says
/// so, and `facts` records what was asked.
#[tokio::test]
async fn a_breakdown_too_fine_for_a_card_is_listed_coarser_and_says_so() {
    let fixed = DemoBot::on(today()).await;
    let by_month = time_rows(&fixed.db, date(2026, 1, 1), today(), "month").await;
    for (locale, q, note) in [
        (
            Locale::En,
            "sales this year by day",
            "more lines than a card shows",
        ),
        (Locale::ZhHk, "今年營業額按日", "一張卡放唔晒"),
    ] {
        let answer = fixed.ask_in("demo.admin", &format!("c-{q}"), q).await;
        check(q, locale, &answer, "month", &by_month);
        let f = answer.facts().expect("facts");
        assert_eq!(f["breakdown"]["asked"], "day", "{q}");
        assert!(
            answer.card.markdown.contains(note),
            "{q}: {}",
            answer.card.markdown
        );
    }
}
