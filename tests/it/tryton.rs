//! The tryton connector against a real Tryton 8.2 server seeded by
//! `tests/fixtures/tryton/seed.py` (started by `scripts/ci/tryton.sh`, which sets
//! `ASKERP_TEST_TRYTON_URL`). Also holds the canonical answers every connector must give
//! for the shared test data set.

use askerp::config::Secret;
use askerp::erp::tryton::{TrytonConfig, TrytonConnector};
use askerp::erp::{Connector, ErpError, OrderState, PlaceKind, SalesFilter, StockLine};
use jiff::civil::date;
use rust_decimal::Decimal;

/// The address of a test server from `var`, or `None` (with a notice) when it is not
/// set; with `ASKERP_TEST_REQUIRE_SERVERS=1` a missing server fails the test.
pub fn server(var: &str, test: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var("ASKERP_TEST_REQUIRE_SERVERS").as_deref() == Ok("1") {
                panic!("{test}: {var} is not set but ASKERP_TEST_REQUIRE_SERVERS=1");
            }
            eprintln!("skipping {test}: {var} is not set (see scripts/ci/)");
            None
        }
    }
}

pub fn dec(text: &str) -> Decimal {
    text.parse().expect("decimal literal")
}

fn config(url: &str) -> TrytonConfig {
    let mut cfg: TrytonConfig = toml::from_str(&format!(
        r#"
        url = "{url}"
        database = "erp"
        username = "admin"
        password = "admin"
        units = {{ u = "pc" }}
        reorder_levels = {{ "WIDGET-B" = 40, "GADGET-X" = 10 }}
        "#
    ))
    .expect("tryton config");
    cfg.password = Secret::new("admin");
    cfg
}

fn mar_apr_2025() -> SalesFilter {
    SalesFilter {
        start: date(2025, 3, 1),
        end: date(2025, 4, 30),
        regions: vec![],
        stores: vec![],
        customer: None,
    }
}

fn brief(lines: &[StockLine]) -> Vec<(String, String, Decimal, Decimal, Decimal, String)> {
    let mut rows: Vec<_> = lines
        .iter()
        .map(|l| {
            (
                l.warehouse.code.clone(),
                l.item.sku.clone(),
                l.on_hand.value,
                l.reserved.value,
                l.available.value,
                l.on_hand.unit.clone(),
            )
        })
        .collect();
    rows.sort();
    rows
}

/// The answers the shared data set must give through any connector that carries it
/// (Tryton, the CAP OData service and the Odoo fake are all seeded with it).
pub async fn assert_shared_answers(c: &dyn Connector) {
    let who = c.name().to_string();
    let s = |t: &str| t.to_string();

    // Stock per warehouse: on hand, held by confirmed orders, available; unit mapped.
    let stock = c
        .stock(&[s("WIDGET-A"), s("GADGET-X")], None)
        .await
        .expect("stock");
    assert_eq!(
        brief(&stock),
        vec![
            (
                s("TW"),
                s("GADGET-X"),
                dec("12"),
                dec("3"),
                dec("9"),
                s("pc")
            ),
            (
                s("TW"),
                s("WIDGET-A"),
                dec("30"),
                dec("0"),
                dec("30"),
                s("pc")
            ),
            (
                s("WH"),
                s("GADGET-X"),
                dec("4"),
                dec("0"),
                dec("4"),
                s("pc")
            ),
            (
                s("WH"),
                s("WIDGET-A"),
                dec("100"),
                dec("5"),
                dec("95"),
                s("pc")
            ),
        ],
        "{who}: stock"
    );
    let wh = stock
        .iter()
        .find(|l| l.warehouse.code == "WH")
        .expect("WH line");
    assert_eq!(wh.warehouse.name_en, "Kwun Tong Warehouse", "{who}");
    assert_eq!(wh.warehouse.kind, PlaceKind::Warehouse, "{who}");
    let names: Vec<_> = stock.iter().map(|l| l.item.name_en.as_str()).collect();
    assert!(
        names.contains(&"Widget A") && names.contains(&"Gadget X"),
        "{who}: {names:?}"
    );
    assert!(
        c.stock(&[s("WIDGET-B")], Some("TW"))
            .await
            .expect("stock")
            .is_empty(),
        "{who}: nothing of WIDGET-B in TW"
    );

    // Low stock in one warehouse against the configured reorder levels.
    let low = c.low_stock(Some("WH")).await.expect("low stock");
    let low: Vec<_> = brief(&low)
        .into_iter()
        .map(|(w, sku, _, _, avail, _)| (w, sku, avail))
        .collect();
    assert_eq!(
        low,
        vec![
            (s("WH"), s("GADGET-X"), dec("4")),
            (s("WH"), s("WIDGET-B"), dec("38"))
        ],
        "{who}: low stock"
    );

    // Sales totals: confirmed orders only (no quotation, no cancelled), per store.
    let summary = c.sales_summary(&mar_apr_2025()).await.expect("summary");
    assert_eq!(summary.total.amount, dec("500.96"), "{who}: total");
    assert_eq!(summary.total.currency, "HKD", "{who}");
    assert_eq!(summary.orders, 3, "{who}: orders");
    let per_store: Vec<_> = summary
        .by_store
        .iter()
        .map(|s| (s.store.code.clone(), s.total.amount, s.orders))
        .collect();
    assert_eq!(
        per_store,
        vec![(s("TW"), dec("299.97"), 1), (s("WH"), dec("200.99"), 2)],
        "{who}: per store, largest first"
    );
    let only_wh = c
        .sales_summary(&SalesFilter {
            stores: vec![s("WH")],
            ..mar_apr_2025()
        })
        .await
        .expect("summary WH");
    assert_eq!(
        (only_wh.total.amount, only_wh.orders),
        (dec("200.99"), 2),
        "{who}: WH"
    );
    let initech = c
        .sales_summary(&SalesFilter {
            customer: Some(s("initech")),
            ..mar_apr_2025()
        })
        .await
        .expect("summary Initech");
    assert_eq!(
        (initech.total.amount, initech.orders),
        (dec("150.99"), 1),
        "{who}: customer"
    );
    let empty = c
        .sales_summary(&SalesFilter {
            start: date(2024, 1, 1),
            end: date(2024, 1, 31),
            ..mar_apr_2025()
        })
        .await
        .expect("empty period");
    assert_eq!(
        (empty.total.amount, empty.orders),
        (Decimal::ZERO, 0),
        "{who}: empty"
    );

    // Best sellers by revenue.
    let top = c.top_items(&mar_apr_2025(), 2).await.expect("top items");
    let top: Vec<_> = top
        .iter()
        .map(|t| {
            (
                t.item.sku.clone(),
                t.quantity.value,
                t.quantity.unit.clone(),
                t.revenue.amount,
            )
        })
        .collect();
    assert_eq!(
        top,
        vec![
            (s("GADGET-X"), dec("4"), s("pc"), dec("399.96")),
            (s("WIDGET-B"), dec("2"), s("pc"), dec("51.00")),
        ],
        "{who}: top items"
    );

    // Order status, by number and by the customer's reference.
    for key in ["2", "PO-1002"] {
        let order = c.order(key).await.expect("order").expect("order exists");
        assert_eq!(order.number, "2", "{who}: {key}");
        assert_eq!(order.customer, "Initech", "{who}");
        assert_eq!(order.state, OrderState::Shipped, "{who}");
        assert_eq!(order.order_date, date(2025, 3, 15), "{who}");
        assert_eq!(order.store.code, "WH", "{who}");
        assert_eq!(order.total.amount, dec("150.99"), "{who}");
        assert_eq!(order.total.currency, "HKD", "{who}");
        let mut lines: Vec<_> = order
            .lines
            .iter()
            .map(|l| {
                (
                    l.item.sku.clone(),
                    l.quantity.value,
                    l.unit_price.amount,
                    l.amount.amount,
                )
            })
            .collect();
        lines.sort();
        assert_eq!(
            lines,
            vec![
                (s("GADGET-X"), dec("1"), dec("99.99"), dec("99.99")),
                (s("WIDGET-B"), dec("2"), dec("25.50"), dec("51.00")),
            ],
            "{who}: lines"
        );
    }
    let open = c.order("PO-1003").await.expect("order").expect("exists");
    assert_eq!(
        (open.state, open.store.code.as_str()),
        (OrderState::Confirmed, "TW"),
        "{who}"
    );
    let cancelled = c.order("5").await.expect("order").expect("exists");
    assert_eq!(cancelled.state, OrderState::Cancelled, "{who}");
    assert!(
        c.order("SO-404").await.expect("order").is_none(),
        "{who}: unknown order"
    );

    // Items by what users write.
    let found = c.find_items("widget").await.expect("items");
    let skus: Vec<_> = found.iter().map(|i| i.sku.as_str()).collect();
    assert_eq!(skus, ["WIDGET-A", "WIDGET-B"], "{who}: find_items");
    let found = c.find_items("gadget x").await.expect("items");
    assert_eq!(found.len(), 1, "{who}");
    assert_eq!(
        (found[0].sku.as_str(), found[0].unit.as_str()),
        ("GADGET-X", "pc"),
        "{who}"
    );
}

#[tokio::test]
async fn tryton_answers_the_shared_questions() {
    let Some(url) = server(
        "ASKERP_TEST_TRYTON_URL",
        "tryton_answers_the_shared_questions",
    ) else {
        return;
    };
    let c = TrytonConnector::connect("tryton", &config(&url))
        .await
        .expect("connect");
    assert_shared_answers(&c).await;
    let places = c.places().await.expect("places");
    let tw = places
        .find(PlaceKind::Warehouse, "Tsuen Wan")
        .expect("TW by name");
    assert_eq!(tw.code, "TW");
    assert_eq!(c.logins(), 1, "one session serves every call");
    let err = c
        .leave_balance("E1001", date(2025, 6, 1))
        .await
        .expect_err("must fail");
    assert!(
        matches!(err, ErpError::Query { ref detail, .. } if detail.contains("no leave")),
        "{err}"
    );
}

#[tokio::test]
async fn tryton_logs_in_again_when_the_session_expires() {
    let Some(url) = server("ASKERP_TEST_TRYTON_URL", "tryton_logs_in_again") else {
        return;
    };
    let c = TrytonConnector::connect("tryton", &config(&url))
        .await
        .expect("connect");
    assert!(c.order("1").await.expect("order").is_some());
    assert_eq!(c.logins(), 1);
    c.expire_session_for_tests().await;
    let order = c.order("PO-1001").await.expect("order after expiry");
    assert_eq!(order.expect("exists").state, OrderState::Confirmed);
    assert_eq!(c.logins(), 2, "exactly one new login after the 401");
}

#[tokio::test]
async fn tryton_explains_wrong_credentials_and_wrong_paths() {
    let Some(url) = server(
        "ASKERP_TEST_TRYTON_URL",
        "tryton_explains_wrong_credentials",
    ) else {
        return;
    };
    let mut cfg = config(&url);
    cfg.password = Secret::new("not-the-password");
    let c = TrytonConnector::connect("tryton", &cfg)
        .await
        .expect("connect");
    let err = c.order("1").await.expect_err("must fail");
    assert!(
        matches!(err, ErpError::Unavailable { ref detail, .. }
            if detail.contains("wrong user name or password") && !detail.contains("not-the-password")),
        "{err}"
    );

    let mut cfg = config(&url);
    cfg.rpc_path = "/{database}/".into(); // the 6.x path on an 8.x server
    let c = TrytonConnector::connect("tryton", &cfg)
        .await
        .expect("connect");
    let err = c.places().await.expect_err("must fail");
    assert!(err.to_string().contains("rpc_path"), "{err}");

    let mut cfg = config(&url);
    cfg.database = "nope".into();
    let c = TrytonConnector::connect("tryton", &cfg)
        .await
        .expect("connect");
    let err = c.places().await.expect_err("must fail");
    assert!(err.to_string().contains("404"), "{err}");
}

/// A stand-in for Tryton 6.x (RPC at `/<db>/`, two-element login answer) whose login can
/// be switched to the rate-limit answer (HTTP 429) that real Tryton gives after repeated
/// failed logins.
#[tokio::test]
async fn tryton_handles_the_6x_path_and_the_login_rate_limit() {
    use axum::Json;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use serde_json::{Value, json};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let limited = Arc::new(AtomicBool::new(false));
    let flag = limited.clone();
    let app = axum::Router::new().route(
        "/erp/",
        axum::routing::post(move |Json(body): Json<Value>| {
            let flag = flag.clone();
            async move {
                let id = body["id"].clone();
                match body["method"].as_str() {
                    Some("common.db.login") if flag.load(Ordering::SeqCst) => {
                        StatusCode::TOO_MANY_REQUESTS.into_response()
                    }
                    Some("common.db.login") => {
                        Json(json!({"id": id, "result": [1, "k6"]})).into_response()
                    }
                    Some("model.stock.location.search_read") => Json(json!({"id": id, "result": [
                        {"id": 5, "code": "WH", "name": "Warehouse"}]}))
                    .into_response(),
                    _ => Json(json!({"id": id, "error": ["KeyError", "unknown"]})).into_response(),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    let mut cfg = config(&base);
    cfg.rpc_path = "/{database}/".into();
    let c = TrytonConnector::connect("tryton6", &cfg)
        .await
        .expect("connect");
    let places = c.places().await.expect("places over the 6.x path");
    assert_eq!(places.places.len(), 1);
    assert_eq!(c.logins(), 1);

    limited.store(true, Ordering::SeqCst);
    let c = TrytonConnector::connect("tryton6", &cfg)
        .await
        .expect("connect");
    let err = c.places().await.expect_err("must fail");
    assert!(
        matches!(err, ErpError::Unavailable { ref detail, .. } if detail.contains("rate limit")),
        "{err}"
    );
}

/// A warehouse judged by its own reorder levels: `warehouse_reorder_levels.WH` lowers
/// WIDGET-B's level there below what is available, so only GADGET-X stays low in WH, with
/// the server's own figure; the SKU-wide level still applies in the other warehouses.
#[tokio::test]
async fn tryton_low_stock_uses_each_warehouses_own_levels() {
    let Some(url) = server(
        "ASKERP_TEST_TRYTON_URL",
        "tryton_low_stock_uses_each_warehouses_own_levels",
    ) else {
        return;
    };
    let s = |t: &str| t.to_string();
    let mut cfg = config(&url);
    let per_wh: TrytonConfig = toml::from_str(&format!(
        r#"
        url = "{url}"
        database = "erp"
        username = "admin"
        password = "admin"
        [warehouse_reorder_levels.WH]
        "WIDGET-B" = 30
        "#
    ))
    .expect("tryton config with warehouse levels");
    cfg.warehouse_reorder_levels = per_wh.warehouse_reorder_levels;
    let c = TrytonConnector::connect("tryton", &cfg)
        .await
        .expect("connect");
    let low = c.low_stock(Some("WH")).await.expect("low stock");
    let low: Vec<_> = brief(&low)
        .into_iter()
        .map(|(w, sku, _, _, avail, _)| (w, sku, avail))
        .collect();
    assert_eq!(low, vec![(s("WH"), s("GADGET-X"), dec("4"))]);
    let stock = c.stock(&[s("WIDGET-B")], None).await.expect("stock");
    for line in &stock {
        let want = if line.warehouse.code == "WH" {
            "30"
        } else {
            "40"
        };
        assert_eq!(
            line.reorder_level.value,
            dec(want),
            "{}",
            line.warehouse.code
        );
    }
}

/// The bot asked by Tryton's own sale number: "order #2" in English and "訂單號 2" in
/// Cantonese reach the real server's order 2 and show its customer and total.
#[tokio::test]
async fn the_bot_answers_by_trytons_own_order_numbers() {
    use std::sync::Arc;
    use std::time::Duration;

    use askerp::channel::Conversation;
    use askerp::config::Config;
    use askerp::erp::ErpRouter;
    use askerp::pipeline::{Decision, Question};

    let Some(url) = server(
        "ASKERP_TEST_TRYTON_URL",
        "the_bot_answers_by_trytons_own_order_numbers",
    ) else {
        return;
    };
    let c = TrytonConnector::connect("tryton", &config(&url))
        .await
        .expect("connect");
    let mut bot = askerp::setup::bot(&Config::default()).await.expect("bot");
    bot.erp = ErpRouter::from_connector(
        Arc::new(c),
        Duration::from_secs(60),
        Duration::from_secs(10),
    );
    let tz = jiff::tz::TimeZone::get("Asia/Hong_Kong").expect("tz");
    for text in ["status of order #2", "訂單號 2 到咗未?"] {
        let q = Question {
            text: Some(text.to_string()),
            msgtype: "text".into(),
            user_id: Some("demo.admin".into()),
            conversation: Conversation::OneToOne,
            conversation_id: format!("tryton-{text}"),
            mentioned: vec![],
            now: jiff::Zoned::now().with_time_zone(tz.clone()),
            reference: "tryton".into(),
        };
        let a = bot.answer(&q).await;
        assert_eq!(a.decision, Decision::Allow, "{text}: {:?}", a.reason);
        assert!(
            a.card.markdown.contains("Initech"),
            "{text}: {}",
            a.card.markdown
        );
        assert!(
            a.card.markdown.contains("150.99"),
            "{text}: {}",
            a.card.markdown
        );
    }
}

/// Per-customer sales from the real server: the seed's confirmed orders of March–April
/// 2025 per party (the quotation, the cancelled and the draft order not counted), adding
/// up to the server's own period total; a store filter keeps only that warehouse's sales.
#[tokio::test]
async fn tryton_answers_sales_per_customer() {
    let Some(url) = server(
        "ASKERP_TEST_TRYTON_URL",
        "tryton_answers_sales_per_customer",
    ) else {
        return;
    };
    let c = TrytonConnector::connect("tryton", &config(&url))
        .await
        .expect("connect");
    let rows = c
        .sales_by_customer(&mar_apr_2025())
        .await
        .expect("per customer");
    let got: Vec<(String, Decimal, u64, String)> = rows
        .iter()
        .map(|r| {
            (
                r.customer.clone(),
                r.total.amount,
                r.orders,
                r.total.currency.clone(),
            )
        })
        .collect();
    let s = |x: &str| x.to_string();
    assert_eq!(
        got,
        vec![
            (s("Umbrella"), dec("299.97"), 1, s("HKD")),
            (s("Initech"), dec("150.99"), 1, s("HKD")),
            (s("Globex"), dec("50.00"), 1, s("HKD")),
        ]
    );
    let summary = c.sales_summary(&mar_apr_2025()).await.expect("summary");
    let sum: Decimal = rows.iter().map(|r| r.total.amount).sum();
    assert_eq!(
        sum, summary.total.amount,
        "customers add up to the server's total"
    );
    let only_wh = c
        .sales_by_customer(&SalesFilter {
            stores: vec![s("WH")],
            ..mar_apr_2025()
        })
        .await
        .expect("per customer in WH");
    let names: Vec<&str> = only_wh.iter().map(|r| r.customer.as_str()).collect();
    assert_eq!(
        names,
        ["Initech", "Globex"],
        "Umbrella bought from Tsuen Wan"
    );
}

/// "by quantity" through the bot over the real server: March 2025's items ranked by the
/// units sold (5 WIDGET-A, 2 WIDGET-B, 1 GADGET-X), in English and Cantonese, and "by
/// customer" listing the server's parties with their totals.
#[tokio::test]
async fn the_bot_ranks_trytons_items_by_quantity_and_breaks_sales_down_by_customer() {
    use std::sync::Arc;
    use std::time::Duration;

    use askerp::channel::Conversation;
    use askerp::config::Config;
    use askerp::erp::ErpRouter;
    use askerp::pipeline::{Decision, Question};

    let Some(url) = server(
        "ASKERP_TEST_TRYTON_URL",
        "the_bot_ranks_trytons_items_by_quantity_and_breaks_sales_down_by_customer",
    ) else {
        return;
    };
    let c = TrytonConnector::connect("tryton", &config(&url))
        .await
        .expect("connect");
    let mut bot = askerp::setup::bot(&Config::default()).await.expect("bot");
    bot.erp = ErpRouter::from_connector(
        Arc::new(c),
        Duration::from_secs(60),
        Duration::from_secs(10),
    );
    let tz = jiff::tz::TimeZone::get("Asia/Hong_Kong").expect("tz");
    let now = date(2025, 6, 2)
        .at(10, 0, 0, 0)
        .to_zoned(tz)
        .expect("a time in Hong Kong");
    let ask = |text: &str| Question {
        text: Some(text.to_string()),
        msgtype: "text".into(),
        user_id: Some("demo.admin".into()),
        conversation: Conversation::OneToOne,
        conversation_id: format!("tryton-{text}"),
        mentioned: vec![],
        now: now.clone(),
        reference: "tryton".into(),
    };
    for text in [
        "top 3 items by quantity in March 2025",
        "2025年3月賣得最多件嘅頭3件貨",
    ] {
        let a = bot.answer(&ask(text)).await;
        assert_eq!(a.decision, Decision::Allow, "{text}: {:?}", a.reason);
        let f = a.facts().expect("facts");
        assert_eq!(f["rank_by"], "quantity", "{text}: {f}");
        let ranked: Vec<(String, String)> = f["top_items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| {
                (
                    t["sku"].as_str().unwrap_or_default().to_string(),
                    t["quantity"]["value"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                )
            })
            .collect();
        let s = |x: &str| x.to_string();
        assert_eq!(
            ranked,
            vec![
                (s("WIDGET-A"), s("5")),
                (s("WIDGET-B"), s("2")),
                (s("GADGET-X"), s("1"))
            ],
            "{text}"
        );
    }
    let a = bot
        .answer(&ask("sales from 1 March 2025 to 30 April 2025 by customer"))
        .await;
    assert_eq!(a.decision, Decision::Allow, "{:?}", a.reason);
    let f = a.facts().expect("facts");
    assert_eq!(f["breakdown"]["by"], "customer", "{f}");
    let rows: Vec<(String, String)> = f["breakdown"]["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            (
                r["customer"].as_str().unwrap_or_default().to_string(),
                r["total"]["amount"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    let s = |x: &str| x.to_string();
    assert_eq!(
        rows,
        vec![
            (s("Umbrella"), s("299.97")),
            (s("Initech"), s("150.99")),
            (s("Globex"), s("50.00")),
        ]
    );
    assert!(a.card.markdown.contains("Umbrella"), "{}", a.card.markdown);
}
