//! The odata connector against a real SAP CAP server shaped like S/4HANA and
//! SuccessFactors (`tests/fixtures/cap`, started by `scripts/ci/cap.sh`, which sets
//! `ASKERP_TEST_CAP_URL`), over V2 and V4; and its OAuth client-credentials flow against a
//! small token stub.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use askerp::config::Secret;
use askerp::erp::odata::{ODataAuth, ODataConfig, ODataConnector};
use askerp::erp::{Connector, ErpError, SalesFilter};
use askerp::intent::LeaveType;
use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use jiff::civil::date;
use rust_decimal::Decimal;

use crate::tryton::{assert_shared_answers, dec, server};

const PLACES: &str = r#"
[[places]]
code = "WH"
kind = "warehouse"
name_en = "Kwun Tong Warehouse"
name_zh = "觀塘倉"
region = "KLN"

[[places]]
code = "TW"
kind = "warehouse"
name_en = "Tsuen Wan Warehouse"
name_zh = "荃灣倉"
region = "NT"
"#;

fn v2(url: &str) -> ODataConfig {
    let mut cfg: ODataConfig = toml::from_str(&format!(
        r#"
        url = "{url}"
        version = "v2"
        units = {{ PC = "pc" }}
        reorder_levels = {{ "WIDGET-B" = 40, "GADGET-X" = 10 }}
        [auth]
        kind = "basic"
        username = "alice"
        password = "set below"
        {PLACES}
        "#
    ))
    .expect("v2 config");
    cfg.auth = ODataAuth::Basic {
        username: "alice".into(),
        password: Secret::new("alice-pw"),
    };
    cfg
}

fn v4(url: &str) -> ODataConfig {
    let mut cfg = v2(url);
    cfg.version = askerp::erp::odata::ODataVersion::V4;
    cfg.stock.service = "/odata/v4/API_MATERIAL_STOCK_SRV".into();
    cfg.items.service = "/odata/v4/API_PRODUCT_SRV".into();
    cfg.sales.service = "/odata/v4/API_SALES_ORDER_SRV".into();
    cfg.leave.service = "/odata/v4/sf".into();
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

#[tokio::test]
async fn odata_v2_answers_the_shared_questions_like_s4_and_successfactors() {
    let Some(url) = server("ASKERP_TEST_CAP_URL", "odata_v2_shared") else {
        return;
    };
    let c = ODataConnector::connect("s4", &v2(&url))
        .await
        .expect("connect");
    // The service pages every 3 rows, so these answers need __next to be followed.
    assert_shared_answers(&c).await;

    let region = c
        .sales_summary(&SalesFilter {
            regions: vec!["NT".into()],
            ..mar_apr_2025()
        })
        .await
        .expect("NT summary");
    assert_eq!((region.total.amount, region.orders), (dec("299.97"), 1));
    let nowhere = c
        .sales_summary(&SalesFilter {
            regions: vec!["HKI".into()],
            ..mar_apr_2025()
        })
        .await
        .expect("region without stores");
    assert_eq!((nowhere.total.amount, nowhere.orders), (dec("0"), 0));

    let items = c.find_items("widget a").await.expect("items");
    assert_eq!(items.len(), 1);
    assert_eq!(
        (items[0].name_en.as_str(), items[0].name_zh.as_str()),
        ("Widget A", "小部件A")
    );

    let people = c.find_employees("chan").await.expect("employees");
    assert_eq!(people.len(), 1);
    assert_eq!(
        (people[0].id.as_str(), people[0].name_en.as_str()),
        ("E1001", "Chan Tai Man")
    );
    let balance = c
        .leave_balance("E1001", date(2025, 6, 1))
        .await
        .expect("leave")
        .expect("known employee");
    let lines: Vec<_> = balance
        .lines
        .iter()
        .map(|l| (l.leave_type, l.remaining.value, l.remaining.unit.clone()))
        .collect();
    assert_eq!(
        lines,
        vec![
            (LeaveType::Annual, dec("12.5"), "day".to_string()),
            (LeaveType::Sick, dec("4"), "day".to_string()),
        ]
    );
    assert_eq!(balance.year, 2025);
    // A closed account of last year does not count.
    let e1002 = c
        .leave_balance("E1002", date(2025, 6, 1))
        .await
        .expect("leave")
        .expect("known");
    assert_eq!(e1002.lines.len(), 1);
    assert_eq!(e1002.lines[0].remaining.value, dec("9"));
    assert!(
        c.leave_balance("E9999", date(2025, 6, 1))
            .await
            .expect("leave")
            .is_none()
    );
}

#[tokio::test]
async fn odata_v4_gives_the_same_answers_with_and_without_apply() {
    let Some(url) = server("ASKERP_TEST_CAP_URL", "odata_v4_shared") else {
        return;
    };
    let c = ODataConnector::connect("cap-v4", &v4(&url))
        .await
        .expect("connect");
    assert_shared_answers(&c).await;
    let server_side = c.sales_summary(&mar_apr_2025()).await.expect("summary");
    assert!(
        !c.apply_refused(),
        "CAP supports $apply, so totals came from the server"
    );

    let mut cfg = v4(&url);
    cfg.aggregation = askerp::erp::odata::Aggregation::Client;
    let client = ODataConnector::connect("cap-v4-client", &cfg)
        .await
        .expect("connect");
    let client_side = client
        .sales_summary(&mar_apr_2025())
        .await
        .expect("summary");
    assert_eq!(server_side, client_side);

    let leave = c
        .leave_balance("E1001", date(2025, 6, 1))
        .await
        .expect("leave v4")
        .expect("known");
    assert_eq!(leave.lines[0].remaining.value, dec("12.5"));
}

#[tokio::test]
async fn odata_retries_throttled_reads_after_retry_after() {
    let Some(url) = server("ASKERP_TEST_CAP_URL", "odata_retries") else {
        return;
    };
    let key = format!("retry-{}", std::process::id());
    let mut cfg = v4(&url);
    cfg.headers.insert("X-Mock-Status".into(), "429".into());
    cfg.headers.insert("X-Mock-Fail-Times".into(), "1".into());
    cfg.headers.insert("X-Mock-Key".into(), key);
    let c = ODataConnector::connect("cap", &cfg).await.expect("connect");
    let started = std::time::Instant::now();
    let order = c.order("PO-1001").await.expect("order after one 429");
    assert!(order.is_some());
    assert_eq!(c.retries(), 1);
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(900),
        "waited Retry-After"
    );

    let mut cfg = v4(&url);
    cfg.headers.insert("X-Mock-Status".into(), "429".into());
    cfg.max_retries = 1;
    let c = ODataConnector::connect("cap", &cfg).await.expect("connect");
    let err = c.order("PO-1001").await.expect_err("must fail");
    assert!(
        matches!(err, ErpError::Unavailable { ref detail, .. } if detail.contains("throttled (HTTP 429")),
        "{err}"
    );
    assert_eq!(c.retries(), 1);
}

#[tokio::test]
async fn odata_explains_wrong_credentials_and_service_errors() {
    let Some(url) = server("ASKERP_TEST_CAP_URL", "odata_errors") else {
        return;
    };
    let mut cfg = v2(&url);
    cfg.auth = ODataAuth::Basic {
        username: "alice".into(),
        password: Secret::new("wrong-pw"),
    };
    let c = ODataConnector::connect("s4", &cfg).await.expect("connect");
    let err = c.order("1").await.expect_err("must fail");
    assert!(
        matches!(err, ErpError::Unavailable { ref detail, .. }
            if detail.contains("refused user \"alice\"") && !detail.contains("wrong-pw")),
        "{err}"
    );

    // SuccessFactors refuses balance queries without a type; a mapping that drops the type
    // field name must surface the service's message.
    let mut cfg = v2(&url);
    cfg.leave.account_type = "timeAccount".into();
    let c = ODataConnector::connect("sf", &cfg).await.expect("connect");
    let err = c
        .leave_balance("E1001", date(2025, 6, 1))
        .await
        .expect_err("must fail");
    assert!(
        matches!(err, ErpError::Query { ref detail, .. } if detail.contains("HTTP 400") && detail.contains("timeAccountType")),
        "{err}"
    );
}

/// A token endpoint and a one-entity V4 service that only accepts its current token.
#[derive(Clone, Default)]
struct OAuthStub {
    issued: Arc<AtomicU64>,
    /// The token number the service accepts.
    accepted: Arc<AtomicU64>,
}

async fn token(
    axum::extract::State(stub): axum::extract::State<OAuthStub>,
    headers: HeaderMap,
    body: String,
) -> impl IntoResponse {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // base64("client:secret")
    if auth != "Basic Y2xpZW50OnNlY3JldA==" || !body.contains("grant_type=client_credentials") {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(serde_json::json!({"error": "invalid_client"})),
        );
    }
    let n = stub.issued.fetch_add(1, Ordering::SeqCst) + 1;
    (
        StatusCode::OK,
        axum::Json(
            serde_json::json!({"access_token": format!("tok-{n}"), "token_type": "bearer", "expires_in": 3600}),
        ),
    )
}

async fn orders(
    axum::extract::State(stub): axum::extract::State<OAuthStub>,
    headers: HeaderMap,
) -> impl IntoResponse {
    let want = format!("Bearer tok-{}", stub.accepted.load(Ordering::SeqCst));
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(want.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(serde_json::json!({"error": {"code": "401", "message": "Unauthorized"}})),
        );
    }
    (
        StatusCode::OK,
        axum::Json(serde_json::json!({"value": [{
            "SalesOrder": "9", "PurchaseOrderByCustomer": "PO-9", "SalesOrderDate": "2025-03-03",
            "SoldToParty": "Globex", "SalesOrganization": "WH", "TotalNetAmount": 10,
            "TransactionCurrency": "HKD", "OverallSDProcessStatus": "A",
            "OverallTotalDeliveryStatus": "A", "OverallSDDocumentRejectionSts": "A"}]})),
    )
}

async fn empty() -> impl IntoResponse {
    axum::Json(serde_json::json!({"value": []}))
}

#[tokio::test]
async fn odata_oauth_tokens_are_cached_and_renewed_after_401() {
    let stub = OAuthStub::default();
    stub.accepted.store(1, Ordering::SeqCst);
    let app = Router::new()
        .route("/oauth/token", post(token))
        .route("/svc/A_SalesOrder", get(orders))
        .route("/svc/A_SalesOrderItem", get(empty))
        .with_state(stub.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    let mut cfg = v4(&base);
    cfg.sales.service = "/svc".into();
    cfg.auth = ODataAuth::Oauth2 {
        token_url: format!("{base}/oauth/token"),
        client_id: "client".into(),
        client_secret: Secret::new("secret"),
        scope: None,
    };
    let c = ODataConnector::connect("s4-oauth", &cfg)
        .await
        .expect("connect");
    for _ in 0..3 {
        let order = c.order("9").await.expect("order").expect("exists");
        assert_eq!(order.total.amount, dec("10"));
    }
    assert_eq!(
        c.token_requests(),
        1,
        "one token serves every call until it expires"
    );

    // The server revokes the token: the next call gets 401, fetches a new one, succeeds.
    stub.accepted.store(2, Ordering::SeqCst);
    assert!(c.order("9").await.expect("order after renewal").is_some());
    assert_eq!(c.token_requests(), 2);

    // Wrong client secret: a clear error that does not show the secret.
    if let ODataAuth::Oauth2 { client_secret, .. } = &mut cfg.auth {
        *client_secret = Secret::new("nope-secret");
    }
    let c = ODataConnector::connect("s4-oauth", &cfg)
        .await
        .expect("connect");
    let err = c.order("9").await.expect_err("must fail");
    assert!(
        matches!(err, ErpError::Unavailable { ref detail, .. }
            if detail.contains("wrong client id or secret") && !detail.contains("nope-secret")),
        "{err}"
    );
}

/// Sales per customer from the CAP service (V2 paged, V4): the counted orders of March–April
/// 2025 per `SoldToParty`, adding up to the total the V4 service aggregates itself with
/// `$apply`; a store filter keeps only that store's customers.
#[tokio::test]
async fn odata_answers_sales_per_customer_adding_up_to_the_servers_total() {
    let Some(url) = server("ASKERP_TEST_CAP_URL", "odata_sales_per_customer") else {
        return;
    };
    let s = |x: &str| x.to_string();
    let want = vec![
        (s("Umbrella"), dec("299.97"), 1),
        (s("Initech"), dec("150.99"), 1),
        (s("Globex"), dec("50.00"), 1),
    ];
    for cfg in [v2(&url), v4(&url)] {
        let c = ODataConnector::connect("cap", &cfg).await.expect("connect");
        let rows = c
            .sales_by_customer(&mar_apr_2025())
            .await
            .expect("per customer");
        let got: Vec<(String, Decimal, u64)> = rows
            .iter()
            .map(|r| (r.customer.clone(), r.total.amount, r.orders))
            .collect();
        assert_eq!(got, want, "{:?}", cfg.version);
        assert!(rows.iter().all(|r| r.total.currency == "HKD"));
        let total = c
            .sales_summary(&mar_apr_2025())
            .await
            .expect("summary")
            .total;
        let sum: Decimal = rows.iter().map(|r| r.total.amount).sum();
        assert_eq!(
            sum, total.amount,
            "{:?}: customers add up to the total",
            cfg.version
        );
        let wh = c
            .sales_by_customer(&SalesFilter {
                stores: vec![s("WH")],
                ..mar_apr_2025()
            })
            .await
            .expect("per customer in WH");
        let names: Vec<&str> = wh.iter().map(|r| r.customer.as_str()).collect();
        assert_eq!(names, ["Initech", "Globex"], "{:?}", cfg.version);
    }
}
