//! Tests of the demo ERP: the seed's shape and determinism, and every connector call checked
//! against figures computed with plain SQL on the same pool.

use jiff::civil::date;
use rust_decimal::prelude::ToPrimitive;

use super::*;

const TODAY: Date = date(2026, 5, 15);

async fn demo(today: Date) -> DemoErp {
    DemoErp::open(None, today).await.expect("demo ERP opens")
}

/// Every row of every table, in row order, as text: equal dumps mean equal data.
async fn dump(pool: &SqlitePool) -> String {
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         ORDER BY name",
    )
    .fetch_all(pool)
    .await
    .expect("tables");
    let mut out = String::new();
    for (table,) in tables {
        let columns: Vec<(String,)> = sqlx::query_as("SELECT name FROM pragma_table_info(?1)")
            .bind(&table)
            .fetch_all(pool)
            .await
            .expect("columns");
        let row = columns
            .iter()
            .map(|(c,)| format!("quote({c})"))
            .collect::<Vec<_>>()
            .join(" || '|' || ");
        let rows: Vec<(String,)> =
            sqlx::query_as(&format!("SELECT {row} FROM {table} ORDER BY rowid"))
                .fetch_all(pool)
                .await
                .expect("rows");
        out.push_str(&format!("== {table} ({} rows)\n", rows.len()));
        for (r,) in rows {
            out.push_str(&r);
            out.push('\n');
        }
    }
    out
}

async fn scalar(pool: &SqlitePool, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn cents(m: &Money) -> i64 {
    assert_eq!(m.currency, "HKD");
    assert_eq!(m.amount.scale(), 2, "money has 2 dp: {}", m.amount);
    (m.amount * Decimal::from(100))
        .to_i64()
        .expect("amount fits")
}

fn filter(start: Date, end: Date) -> SalesFilter {
    SalesFilter {
        start,
        end,
        regions: vec![],
        stores: vec![],
        customer: None,
    }
}

fn names(items: &[Item]) -> Vec<&str> {
    items.iter().map(|i| i.name_en.as_str()).collect()
}

#[tokio::test]
async fn same_date_gives_the_same_data() {
    let a = demo(TODAY).await;
    let b = demo(TODAY).await;
    let (da, db) = (dump(a.pool()).await, dump(b.pool()).await);
    assert!(
        da.len() > 1_000_000,
        "dump covers the data ({} bytes)",
        da.len()
    );
    assert!(da == db, "two seeds for the same date differ");

    let month = filter(date(2026, 4, 1), date(2026, 4, 30));
    let (sa, sb) = (
        a.sales_summary(&month).await.expect("sales a"),
        b.sales_summary(&month).await.expect("sales b"),
    );
    assert_eq!(sa, sb);

    // A different seed date moves the window, but a past day's orders keep their content.
    let c = demo(TODAY.tomorrow().expect("date")).await;
    assert!(dump(c.pool()).await != da);
    let day = "SELECT group_concat(line, ',') FROM (SELECT store || ':' || customer_id || ':' \
               || total_cents AS line FROM orders WHERE order_date = '2026-03-02' ORDER BY id)";
    let same_day = |p: SqlitePool| async move {
        sqlx::query_scalar::<_, String>(day)
            .fetch_one(&p)
            .await
            .expect("day")
    };
    assert_eq!(
        same_day(a.pool().clone()).await,
        same_day(c.pool().clone()).await
    );
}

#[tokio::test]
async fn places_match_the_brief() {
    let erp = demo(TODAY).await;
    let places = erp.places().await.expect("places");
    let kinds = |k| {
        places
            .of_kind(k)
            .map(|p| p.code.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(kinds(PlaceKind::Region), ["HKI", "KLN", "NT"]);
    assert_eq!(kinds(PlaceKind::Warehouse), ["KT", "TW", "KC"]);
    assert_eq!(
        kinds(PlaceKind::Store),
        ["CWB", "CEN", "MK", "TST", "SSP", "ST", "TM"]
    );
    for (kind, text, code) in [
        (PlaceKind::Region, "HK Island", "HKI"),
        (PlaceKind::Region, "香港島", "HKI"),
        (PlaceKind::Region, "港島區", "HKI"),
        (PlaceKind::Region, "九龍", "KLN"),
        (PlaceKind::Region, "New Territories", "NT"),
        (PlaceKind::Warehouse, "觀塘倉", "KT"),
        (PlaceKind::Warehouse, "观塘", "KT"),
        (PlaceKind::Warehouse, "Kwun Tong warehouse", "KT"),
        (PlaceKind::Warehouse, "荃湾", "TW"),
        (PlaceKind::Warehouse, "葵涌", "KC"),
        (PlaceKind::Store, "铜锣湾", "CWB"),
        (PlaceKind::Store, "中環店", "CEN"),
        (PlaceKind::Store, "Mong Kok", "MK"),
        (PlaceKind::Store, "尖沙咀", "TST"),
        (PlaceKind::Store, "深水埗", "SSP"),
        (PlaceKind::Store, "沙田", "ST"),
        (PlaceKind::Store, "屯門", "TM"),
    ] {
        let found = places.find(kind, text).map(|p| p.code.as_str());
        assert_eq!(found, Some(code), "{text}");
    }
    let region = |code: &str| places.by_code(code).and_then(|p| p.region.clone());
    assert_eq!(region("KT").as_deref(), Some("KLN"));
    assert_eq!(region("TW").as_deref(), Some("NT"));
    assert_eq!(region("KC").as_deref(), Some("NT"));
    assert_eq!(region("CWB").as_deref(), Some("HKI"));
    assert_eq!(region("HKI"), None);
}

#[tokio::test]
async fn catalog_has_the_required_items() {
    let erp = demo(TODAY).await;
    let pool = erp.pool();
    assert!(scalar(pool, "SELECT COUNT(*) FROM items").await >= 150);
    assert_eq!(
        scalar(
            pool,
            "SELECT COUNT(*) FROM items WHERE name_en = '' OR name_zh = ''"
        )
        .await,
        0
    );
    for (en, zh, unit) in [
        ("iPhone 15 Pro 256GB", "iPhone 15 Pro 256GB", "pc"),
        ("iPhone 15 Pro 128GB", "iPhone 15 Pro 128GB", "pc"),
        ("iPhone 15 Pro 512GB", "iPhone 15 Pro 512GB", "pc"),
        ("Vita Lemon Tea 250ml", "維他檸檬茶 250ml", "pack"),
        ("A4 Copy Paper 80g", "A4影印紙 80克", "ream"),
    ] {
        let found: Vec<(String, String)> =
            sqlx::query_as("SELECT name_zh, unit FROM items WHERE name_en = ?1")
                .bind(en)
                .fetch_all(pool)
                .await
                .expect("item");
        assert_eq!(found, [(zh.to_string(), unit.to_string())], "{en}");
    }
    let other_phones = scalar(
        pool,
        "SELECT COUNT(*) FROM items WHERE name_en LIKE 'Samsung%' OR name_en LIKE 'Xiaomi%'",
    )
    .await;
    assert!(other_phones >= 2);
    // Stock for every item in every warehouse, reserved within on hand.
    assert_eq!(
        scalar(pool, "SELECT COUNT(*) FROM stock").await,
        3 * scalar(pool, "SELECT COUNT(*) FROM items").await
    );
    assert_eq!(
        scalar(
            pool,
            "SELECT COUNT(*) FROM stock WHERE reserved < 0 OR reserved > on_hand"
        )
        .await,
        0
    );
    assert!(scalar(pool, "SELECT COUNT(*) FROM customers").await >= 40);
    assert!(scalar(pool, "SELECT COUNT(*) FROM employees").await >= 20);
}

#[tokio::test]
async fn orders_cover_the_history_window() {
    let erp = demo(TODAY).await;
    let pool = erp.pool();
    let first: String = sqlx::query_scalar("SELECT MIN(order_date) FROM orders")
        .fetch_one(pool)
        .await
        .expect("min");
    let last: String = sqlx::query_scalar("SELECT MAX(order_date) FROM orders")
        .fetch_one(pool)
        .await
        .expect("max");
    assert_eq!(first, "2024-11-16");
    assert_eq!(last, TODAY.to_string());
    assert!(first.as_str() <= "2025-05-15", "at least 12 months");

    // 20–60 orders every day.
    let per_day: Vec<(String, i64)> =
        sqlx::query_as("SELECT order_date, COUNT(*) FROM orders GROUP BY order_date")
            .fetch_all(pool)
            .await
            .expect("per day");
    assert_eq!(per_day.len(), 546);
    assert!(per_day.iter().all(|(_, n)| (20..=60).contains(n)));

    // Numbers: SO-<order year>-<5 digits>, consecutive from 00001 within each year.
    let numbers: Vec<(String, String)> =
        sqlx::query_as("SELECT number, order_date FROM orders ORDER BY id")
            .fetch_all(pool)
            .await
            .expect("numbers");
    let mut expected_seq = HashMap::new();
    let re = regex::Regex::new(r"^SO-(\d{4})-(\d{5})$").expect("regex");
    for (number, day) in &numbers {
        let caps = re.captures(number).expect("number format");
        assert_eq!(&caps[1], &day[..4], "{number} booked on {day}");
        let seq = expected_seq.entry(caps[1].to_string()).or_insert(0u32);
        *seq += 1;
        assert_eq!(caps[2].parse::<u32>().expect("seq"), *seq, "{number}");
    }
    assert!(numbers.iter().any(|(n, _)| n == "SO-2026-00001"));

    // Lines and totals.
    assert_eq!(
        scalar(
            pool,
            "SELECT COUNT(*) FROM (SELECT order_id, COUNT(*) n FROM order_lines \
             GROUP BY order_id HAVING n NOT BETWEEN 1 AND 5)"
        )
        .await,
        0
    );
    assert_eq!(
        scalar(
            pool,
            "SELECT COUNT(*) FROM orders o WHERE total_cents <> \
             (SELECT SUM(amount_cents) FROM order_lines l WHERE l.order_id = o.id)"
        )
        .await,
        0
    );
    assert_eq!(
        scalar(
            pool,
            "SELECT COUNT(*) FROM order_lines WHERE amount_cents <> qty * unit_price_cents \
             OR qty <= 0"
        )
        .await,
        0
    );

    // States: old orders delivered (with a delivery date no later than today), recent ones
    // still moving, about 3 % cancelled.
    let total = scalar(pool, "SELECT COUNT(*) FROM orders").await;
    let cancelled = scalar(
        pool,
        "SELECT COUNT(*) FROM orders WHERE state = 'cancelled'",
    )
    .await;
    assert!(
        (total * 2 / 100..=total * 4 / 100).contains(&cancelled),
        "{cancelled}/{total}"
    );
    assert_eq!(
        scalar(
            pool,
            "SELECT COUNT(*) FROM orders WHERE order_date < '2026-05-01' \
             AND state NOT IN ('delivered', 'cancelled')"
        )
        .await,
        0
    );
    assert_eq!(
        scalar(
            pool,
            "SELECT COUNT(*) FROM orders WHERE (state = 'delivered') <> \
             (delivery_date IS NOT NULL) OR delivery_date > '2026-05-15' \
             OR delivery_date <= order_date"
        )
        .await,
        0
    );
    for state in ["confirmed", "picking", "shipped"] {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM orders WHERE state = ?1 AND order_date >= '2026-05-10'",
        )
        .bind(state)
        .fetch_one(pool)
        .await
        .expect("state count");
        assert!(n > 0, "some recent orders are {state}");
    }
}

#[tokio::test]
async fn sales_by_region_is_the_sum_of_its_stores() {
    let erp = demo(TODAY).await;
    let places = erp.places().await.expect("places");
    let april = filter(date(2026, 4, 1), date(2026, 4, 30));
    let all = erp.sales_summary(&april).await.expect("all");
    assert_eq!(all.start, april.start);
    assert_eq!(all.by_store.len(), 7);
    assert_eq!(
        cents(&all.total),
        all.by_store.iter().map(|s| cents(&s.total)).sum::<i64>()
    );
    assert_eq!(
        all.orders,
        all.by_store.iter().map(|s| s.orders).sum::<u64>()
    );
    assert!(
        all.by_store
            .windows(2)
            .all(|w| cents(&w[0].total) >= cents(&w[1].total)),
        "largest first"
    );

    let mut regions_total = 0;
    for region in ["HKI", "KLN", "NT"] {
        let by_region = erp
            .sales_summary(&SalesFilter {
                regions: vec![region.to_string()],
                ..april.clone()
            })
            .await
            .expect("region");
        let stores: Vec<String> = places
            .of_kind(PlaceKind::Store)
            .filter(|p| p.region.as_deref() == Some(region))
            .map(|p| p.code.clone())
            .collect();
        let mut sum = 0;
        for store in &stores {
            let one = erp
                .sales_summary(&SalesFilter {
                    stores: vec![store.clone()],
                    ..april.clone()
                })
                .await
                .expect("store");
            assert_eq!(one.by_store.len(), 1);
            sum += cents(&one.total);
        }
        assert_eq!(cents(&by_region.total), sum, "{region}");
        assert!(
            by_region
                .by_store
                .iter()
                .all(|s| s.store.region.as_deref() == Some(region))
        );
        regions_total += sum;

        // Stores outside the region give nothing when both filters are set.
        let outside = places
            .of_kind(PlaceKind::Store)
            .find(|p| p.region.as_deref() != Some(region))
            .map(|p| p.code.clone())
            .expect("another region's store");
        let none = erp
            .sales_summary(&SalesFilter {
                regions: vec![region.to_string()],
                stores: vec![outside],
                ..april.clone()
            })
            .await
            .expect("disjoint");
        assert_eq!((cents(&none.total), none.orders), (0, 0));
        assert!(none.by_store.is_empty());
    }
    assert_eq!(regions_total, cents(&all.total));
}

#[tokio::test]
async fn cancelled_and_draft_orders_are_not_sales() {
    let erp = demo(TODAY).await;
    let pool = erp.pool();
    // The last week holds drafts as well as cancellations.
    let week = filter(date(2026, 5, 9), TODAY);
    let summary = erp.sales_summary(&week).await.expect("sales");
    let sum = |states: &str| {
        format!(
            "SELECT COALESCE(SUM(total_cents), 0) FROM orders \
             WHERE order_date BETWEEN '2026-05-09' AND '2026-05-15' AND state IN ({states})"
        )
    };
    let counted = scalar(pool, &sum("'confirmed','picking','shipped','delivered'")).await;
    let excluded = scalar(pool, &sum("'cancelled'")).await;
    let drafts = scalar(pool, &sum("'draft'")).await;
    assert!(excluded > 0 && drafts > 0, "the week has both to exclude");
    assert_eq!(cents(&summary.total), counted);
    assert_eq!(
        summary.orders as i64,
        scalar(
            pool,
            "SELECT COUNT(*) FROM orders WHERE order_date BETWEEN '2026-05-09' AND '2026-05-15' \
             AND state NOT IN ('cancelled', 'draft')"
        )
        .await
    );

    // Best sellers cover the same orders: with no limit, their revenue is the total.
    let top = erp.top_items(&week, 1000).await.expect("top");
    assert_eq!(top.iter().map(|t| cents(&t.revenue)).sum::<i64>(), counted);
    assert!(
        top.windows(2)
            .all(|w| cents(&w[0].revenue) >= cents(&w[1].revenue))
    );
    let first = &top[0];
    assert_eq!(first.quantity.unit, first.item.unit);
    let top3 = erp.top_items(&week, 3).await.expect("top 3");
    assert_eq!(top3, top[..3]);
    assert!(erp.top_items(&week, 0).await.expect("none").is_empty());

    // An empty or inverted period is simply empty.
    let empty = erp
        .sales_summary(&filter(TODAY, date(2026, 5, 1)))
        .await
        .expect("inverted");
    assert_eq!((cents(&empty.total), empty.orders), (0, 0));
}

#[tokio::test]
async fn customer_filter_matches_part_of_the_name() {
    let erp = demo(TODAY).await;
    let year = filter(date(2025, 6, 1), date(2026, 5, 31));
    let sum = erp
        .sales_summary(&SalesFilter {
            customer: Some("lucky STAR".into()),
            ..year.clone()
        })
        .await
        .expect("customer");
    let expected = scalar(
        erp.pool(),
        "SELECT SUM(o.total_cents) FROM orders o JOIN customers c ON c.id = o.customer_id \
         WHERE c.name = 'Lucky Star Electronics Ltd.' AND o.order_date >= '2025-06-01' \
         AND o.state NOT IN ('cancelled', 'draft')",
    )
    .await;
    assert!(expected > 0);
    assert_eq!(cents(&sum.total), expected);
    let nobody = erp
        .sales_summary(&SalesFilter {
            customer: Some("no such customer".into()),
            ..year
        })
        .await
        .expect("nobody");
    assert_eq!(nobody.orders, 0);
}

#[tokio::test]
async fn low_stock_in_every_warehouse() {
    let erp = demo(TODAY).await;
    let all = erp.low_stock(None).await.expect("low");
    for wh in ["KT", "TW", "KC"] {
        let lines = erp.low_stock(Some(wh)).await.expect("low in one");
        assert!(lines.len() >= 5, "{wh} has {} low lines", lines.len());
        assert!(lines.iter().all(|l| l.warehouse.code == wh));
        let items = scalar(erp.pool(), "SELECT COUNT(*) FROM items").await as usize;
        assert!(lines.len() * 100 <= items * 10, "at most ~10 %");
    }
    let shortfall = |l: &StockLine| l.reorder_level.value - l.available.value;
    assert!(
        all.iter()
            .all(|l| l.available.value <= l.reorder_level.value)
    );
    assert!(all.windows(2).all(|w| shortfall(&w[0]) >= shortfall(&w[1])));
    assert!(
        all.iter()
            .all(|l| l.available.value == l.on_hand.value - l.reserved.value)
    );
    assert!(erp.low_stock(Some("XX")).await.expect("unknown").is_empty());
}

#[tokio::test]
async fn stock_lines_for_items() {
    let erp = demo(TODAY).await;
    let iphone = erp.find_items("iPhone 15 Pro 256GB").await.expect("find");
    let paper = erp.find_items("A4 Copy Paper 80g").await.expect("find");
    let skus = vec![paper[0].sku.clone(), iphone[0].sku.clone()];
    let lines = erp.stock(&skus, None).await.expect("stock");
    assert_eq!(lines.len(), 6);
    let order: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| (l.item.sku.as_str(), l.warehouse.code.as_str()))
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted, "by item, then warehouse code");
    for l in &lines {
        assert_eq!(l.on_hand.unit, l.item.unit);
        assert_eq!(l.available.value, l.on_hand.value - l.reserved.value);
    }
    let kt = erp
        .stock(&[iphone[0].sku.to_lowercase()], Some("kt"))
        .await
        .expect("kt");
    assert_eq!(kt.len(), 1);
    assert_eq!(kt[0].warehouse.name_zh, "觀塘");
    assert!(
        kt[0].available.value > kt[0].reorder_level.value,
        "healthy in KT"
    );
    assert!(erp.stock(&[], None).await.expect("none").is_empty());
    assert!(
        erp.stock(&["NOPE-1".into()], None)
            .await
            .expect("unknown")
            .is_empty()
    );
}

#[tokio::test]
async fn find_items_cases() {
    let erp = demo(TODAY).await;
    let exact = erp.find_items("iPhone 15 Pro 256GB").await.expect("exact");
    assert_eq!(names(&exact), ["iPhone 15 Pro 256GB"]);
    let by_sku = erp
        .find_items(&exact[0].sku.to_lowercase())
        .await
        .expect("sku");
    assert_eq!(by_sku, exact);

    let pro = erp.find_items("iphone 15 pro").await.expect("pro");
    assert_eq!(
        names(&pro),
        [
            "iPhone 15 Pro 128GB",
            "iPhone 15 Pro 256GB",
            "iPhone 15 Pro 512GB"
        ]
    );
    let all_15 = erp.find_items("iPhone 15").await.expect("15");
    assert_eq!(all_15.len(), 8);

    let vita = erp.find_items("維他檸檬茶").await.expect("zh");
    assert!(!vita.is_empty());
    assert!(vita.iter().all(|i| i.name_zh.starts_with("維他檸檬茶")));
    assert!(vita.iter().any(|i| i.name_en == "Vita Lemon Tea 250ml"));
    let vita_exact = erp.find_items("維他檸檬茶250ml").await.expect("no space");
    assert_eq!(names(&vita_exact), ["Vita Lemon Tea 250ml"]);
    let vita_en = erp
        .find_items("vita lemon tea 250ml")
        .await
        .expect("en exact");
    assert_eq!(names(&vita_en), ["Vita Lemon Tea 250ml"]);

    let paper = erp.find_items("A4影印紙").await.expect("paper");
    assert!(paper.iter().any(|i| i.name_en == "A4 Copy Paper 80g"));
    let paper_80 = erp.find_items("a4 copy paper 80g").await.expect("paper 80");
    assert_eq!(names(&paper_80), ["A4 Copy Paper 80g"]);
    assert_eq!(paper_80[0].unit, "ream");
    let mixed = erp.find_items("A4 影印紙").await.expect("mixed");
    assert_eq!(mixed.len(), 2);

    let wide = erp
        .find_items("ｉＰｈｏｎｅ　15 Pro 256GB")
        .await
        .expect("full width");
    assert_eq!(names(&wide), ["iPhone 15 Pro 256GB"]);

    assert!(erp.find_items("zzz").await.expect("none").is_empty());
    assert!(erp.find_items("   ").await.expect("blank").is_empty());

    // Best match first: names starting with the text, then names containing it as written,
    // then names merely containing its words; by SKU within each group.
    let cola = erp.find_items("cola 330ml").await.expect("cola");
    assert_eq!(
        names(&cola),
        [
            "Coca-Cola 330ml",
            "Coca-Cola 330ml x 24",
            "Coca-Cola Zero 330ml"
        ]
    );
    let coke = erp.find_items("coca-cola").await.expect("coke");
    assert_eq!(coke.len(), 3);
    assert!(coke.windows(2).all(|w| w[0].sku < w[1].sku));
}

#[tokio::test]
async fn orders_by_number() {
    let erp = demo(TODAY).await;
    assert_eq!(erp.order("SO-2026-99999").await.expect("missing"), None);
    assert_eq!(erp.order("nonsense").await.expect("missing"), None);
    let order = erp
        .order(" so-2026-00123 ")
        .await
        .expect("found")
        .expect("exists");
    assert_eq!(order.number, "SO-2026-00123");
    assert_eq!(order.order_date.year(), 2026);
    assert!(!order.lines.is_empty() && order.lines.len() <= 5);
    assert_eq!(
        cents(&order.total),
        order.lines.iter().map(|l| cents(&l.amount)).sum::<i64>()
    );
    for line in &order.lines {
        assert_eq!(line.quantity.unit, line.item.unit);
        assert_eq!(
            cents(&line.amount),
            cents(&line.unit_price) * line.quantity.value.to_i64().expect("qty")
        );
    }
    assert_eq!(order.state, OrderState::Delivered);
    assert!(order.delivery_date.is_some_and(|d| d > order.order_date));
    assert_eq!(order.store.kind, PlaceKind::Store);

    // A cancelled order is still found by number.
    let cancelled: String =
        sqlx::query_scalar("SELECT number FROM orders WHERE state = 'cancelled' LIMIT 1")
            .fetch_one(erp.pool())
            .await
            .expect("cancelled");
    let found = erp.order(&cancelled).await.expect("ok").expect("exists");
    assert_eq!(found.state, OrderState::Cancelled);
    assert_eq!(found.delivery_date, None);
}

#[tokio::test]
async fn find_employees_cases() {
    let erp = demo(TODAY).await;
    let ids = |v: Vec<Employee>| v.into_iter().map(|e| e.id).collect::<Vec<_>>();
    assert_eq!(
        ids(erp.find_employees("Chan Tai Man").await.expect("en")),
        ["E1001"]
    );
    assert_eq!(
        ids(erp.find_employees("chan  tai man").await.expect("en")),
        ["E1001"]
    );
    assert_eq!(
        ids(erp.find_employees("陳大文").await.expect("zh")),
        ["E1001"]
    );
    assert_eq!(
        ids(erp.find_employees("黃小明").await.expect("zh")),
        ["E2001"]
    );
    assert_eq!(
        ids(erp.find_employees("Lee Mei Ling").await.expect("hr")),
        ["E3001"]
    );
    assert_eq!(
        ids(erp.find_employees("何家欣").await.expect("it")),
        ["E9001"]
    );
    assert_eq!(
        ids(erp.find_employees("e1002").await.expect("id")),
        ["E1002"]
    );
    assert_eq!(
        ids(erp.find_employees("wong").await.expect("token")),
        ["E1002", "E2001"]
    );
    assert_eq!(
        ids(erp.find_employees("大文").await.expect("part")),
        ["E1001"]
    );
    let chans = ids(erp.find_employees("陳").await.expect("surname"));
    assert!(chans.contains(&"E1001".to_string()) && chans.len() >= 2);
    assert!(erp.find_employees("Nobody").await.expect("none").is_empty());
}

#[tokio::test]
async fn leave_balance_is_entitled_minus_taken() {
    let erp = demo(TODAY).await;
    let pool = erp.pool();
    assert_eq!(
        erp.leave_balance("E0000", TODAY).await.expect("unknown"),
        None
    );

    let employees: Vec<(String,)> = sqlx::query_as("SELECT id FROM employees ORDER BY id")
        .fetch_all(pool)
        .await
        .expect("ids");
    let mut saw_half_day = false;
    for year in [2025i16, 2026] {
        let on = date(year, 3, 1);
        for (id,) in &employees {
            let balance = erp
                .leave_balance(id, on)
                .await
                .expect("balance")
                .expect("known");
            assert_eq!(balance.year, year);
            assert_eq!(&balance.employee.id, id);
            let annual = balance
                .lines
                .iter()
                .find(|l| l.leave_type == LeaveType::Annual)
                .expect("everyone has annual leave");
            assert!((Decimal::from(7)..=Decimal::from(20)).contains(&annual.entitled.value));
            for line in &balance.lines {
                assert_eq!(line.entitled.unit, "day");
                assert_eq!(line.remaining.value, line.entitled.value - line.taken.value);
                assert!(line.remaining.value >= Decimal::ZERO, "{id} {line:?}");
                saw_half_day |= line.taken.value.fract() != Decimal::ZERO;
                let taken: i64 = sqlx::query_scalar(
                    "SELECT COALESCE(SUM(half_days), 0) FROM leave_taken \
                     WHERE employee_id = ?1 AND leave_type = ?2 \
                     AND start_date BETWEEN ?3 AND ?4",
                )
                .bind(id)
                .bind(line.leave_type.name())
                .bind(format!("{year}-01-01"))
                .bind(format!("{year}-12-31"))
                .fetch_one(pool)
                .await
                .expect("taken");
                assert_eq!(line.taken.value * Decimal::from(2), Decimal::from(taken));
            }
        }
    }
    assert!(saw_half_day, "some leave is taken in half days");

    // Nothing is booked after the seed date, and nothing crosses a year end.
    assert_eq!(
        scalar(
            pool,
            "SELECT COUNT(*) FROM leave_taken WHERE end_date > '2026-05-15' \
             OR substr(start_date, 1, 4) <> substr(end_date, 1, 4)"
        )
        .await,
        0
    );
    // Maternity and paternity only for some.
    let family = scalar(
        pool,
        "SELECT COUNT(DISTINCT employee_id) FROM leave_entitlements \
         WHERE leave_type IN ('maternity', 'paternity')",
    )
    .await;
    assert!((1..10).contains(&family));
    // Next year's entitlement exists, with nothing taken.
    let next = erp
        .leave_balance("E1001", date(2027, 1, 4))
        .await
        .expect("next")
        .expect("known");
    assert!(next.lines.iter().all(|l| l.taken.value.is_zero()));
    assert!(!next.lines.is_empty());
}

#[tokio::test]
async fn file_is_reused_for_the_same_date_and_rebuilt_otherwise() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nested").join("demo.sqlite");
    let marker = |path: PathBuf| async move {
        let options = SqliteConnectOptions::new().filename(path);
        let mut conn = SqliteConnection::connect_with(&options)
            .await
            .expect("rw connection");
        sqlx::query("INSERT INTO meta (key, value) VALUES ('marker', 'x')")
            .execute(&mut conn)
            .await
            .expect("marker");
        conn.close().await.expect("close");
    };
    let has_marker = |erp: &DemoErp| {
        let pool = erp.pool().clone();
        async move { scalar(&pool, "SELECT COUNT(*) FROM meta WHERE key = 'marker'").await == 1 }
    };

    let first = DemoErp::open(Some(&path), TODAY).await.expect("create");
    let dump_first = dump(first.pool()).await;
    drop(first);
    marker(path.clone()).await;

    let reused = DemoErp::open(Some(&path), TODAY).await.expect("reuse");
    assert!(has_marker(&reused).await, "same date reuses the file");
    // The pool is read-only.
    assert!(
        sqlx::query("DELETE FROM orders")
            .execute(reused.pool())
            .await
            .is_err()
    );
    drop(reused);

    let next_day = TODAY.tomorrow().expect("date");
    let rebuilt = DemoErp::open(Some(&path), next_day).await.expect("rebuild");
    assert!(
        !has_marker(&rebuilt).await,
        "another date rebuilds the file"
    );
    let seeded: String = sqlx::query_scalar("SELECT value FROM meta WHERE key = 'seed_date'")
        .fetch_one(rebuilt.pool())
        .await
        .expect("seed date");
    assert_eq!(seeded, next_day.to_string());
    drop(rebuilt);

    // Back to the first date: same data as the in-memory seed.
    let again = DemoErp::open(Some(&path), TODAY).await.expect("rebuild");
    assert!(dump(again.pool()).await == dump_first);
    assert!(dump(demo(TODAY).await.pool()).await == dump_first);
    drop(again);

    // A file that is not a demo database is replaced, not an error.
    std::fs::write(&path, b"not a database").expect("write");
    let replaced = DemoErp::open(Some(&path), TODAY).await.expect("replace");
    assert!(scalar(replaced.pool(), "SELECT COUNT(*) FROM items").await >= 150);
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().expect("dir"))
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().contains("seeding"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn in_memory_database_survives_the_pool_recycling_connections() {
    let erp = demo(TODAY).await;
    // Closing every pooled connection would drop a plain in-memory database.
    let pool = erp.pool().clone();
    for _ in 0..8 {
        let conn = pool.acquire().await.expect("conn");
        conn.close().await.expect("close");
    }
    let year = filter(date(2026, 1, 1), TODAY);
    let (a, b, c) = tokio::join!(
        erp.sales_summary(&year),
        erp.top_items(&year, 5),
        erp.low_stock(None)
    );
    assert!(a.expect("sales").orders > 0);
    assert_eq!(b.expect("top").len(), 5);
    assert!(!c.expect("low").is_empty());
}

#[tokio::test]
async fn year_boundary_seed() {
    // Seeded on 2 January: this year has two days of orders and almost no leave taken.
    let erp = demo(date(2026, 1, 2)).await;
    let first = erp
        .order("SO-2026-00001")
        .await
        .expect("ok")
        .expect("exists");
    assert_eq!(first.order_date, date(2026, 1, 1));
    let balance = erp
        .leave_balance("E1001", date(2026, 1, 2))
        .await
        .expect("ok")
        .expect("known");
    assert!(
        balance
            .lines
            .iter()
            .all(|l| l.taken.value <= Decimal::from(2))
    );
}

/// Run with `--nocapture` to see the timing.
#[tokio::test]
async fn seeding_is_fast() {
    let started = Instant::now();
    let data = seed::generate(TODAY).expect("generate");
    let generated = started.elapsed();
    let started = Instant::now();
    let erp = demo(TODAY).await;
    let opened = started.elapsed();
    eprintln!(
        "seed for {TODAY}: {} orders, {} lines, {} items; generate {generated:?}, \
         open in memory (generate + write + indexes) {opened:?}",
        data.orders.len(),
        data.lines.len(),
        data.items.len()
    );
    assert!(erp.pool().size() > 0);
}
