//! The `sql` connector against real databases: the same legacy-style schema (cryptic
//! upper-case names, amounts kept as strings, dates as `YYYYMMDD` text, status letters) is
//! loaded into SQLite, PostgreSQL and MariaDB, and the same configured queries must give
//! the same canonical answers and the same cards. Then the protection layer: a burst of
//! identical questions, a stopped database, a slow one, and wrong credentials.
//!
//! PostgreSQL and MariaDB come from `scripts/ci/databases.sh` (`ASKERP_TEST_PG_URL`,
//! `ASKERP_TEST_MYSQL_URL`, `ASKERP_TEST_DB_PASSWORD`); without them those parts are
//! skipped with a notice, unless `ASKERP_TEST_REQUIRE_SERVERS=1`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use askerp::channel::Conversation;
use askerp::config::Config;
use askerp::erp::config::{Domain, Protect};
use askerp::erp::protect::{Guard, Protected};
use askerp::erp::router::Opened;
use askerp::erp::sql::{SqlConfig, SqlConnector};
use askerp::erp::{
    Connector, Employee, ErpError, ErpRouter, Item, LeaveBalance, Order, Places, SalesFilter,
    SalesSummary, StockLine, TopItem,
};
use askerp::pipeline::{Bot, Question};
use async_trait::async_trait;
use jiff::civil::Date;
use rust_decimal::Decimal;

const PASSWORD_ENV: &str = "ASKERP_TEST_DB_PASSWORD";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Sqlite,
    Postgres,
    MariaDb,
}

/// One database holding the legacy schema under `prefix` (a schema or database name).
struct Target {
    kind: Kind,
    url: String,
    password: Option<String>,
    prefix: String,
    _dir: Option<tempfile::TempDir>,
}

fn server_url(var: &str, what: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            assert!(
                std::env::var("ASKERP_TEST_REQUIRE_SERVERS").as_deref() != Ok("1"),
                "{var} is not set but ASKERP_TEST_REQUIRE_SERVERS=1: run scripts/ci/databases.sh"
            );
            eprintln!(
                "notice: {var} not set, skipping the {what} part (scripts/ci/databases.sh starts it)"
            );
            None
        }
    }
}

/// Decimal column type: SQLite keeps legacy decimals as text (its REAL would not be exact).
fn dec(kind: Kind) -> &'static str {
    if kind == Kind::Sqlite {
        "TEXT"
    } else {
        "DECIMAL(12,2)"
    }
}

fn schema(kind: Kind, p: &str) -> Vec<String> {
    let d = dec(kind);
    let mut s = vec![
        format!(
            "CREATE TABLE {p}WHSMAST (WHCD CHAR(4) NOT NULL, WHTYP CHAR(1) NOT NULL, WHNM VARCHAR(40), WHNMC VARCHAR(40), RGN CHAR(3), ALIAS VARCHAR(80))"
        ),
        format!(
            "CREATE TABLE {p}INVMAST (ITMNO VARCHAR(20) NOT NULL, DESC1 VARCHAR(80), DESC2 VARCHAR(80), UOM CHAR(4))"
        ),
        format!(
            "CREATE TABLE {p}INVBAL (ITMNO VARCHAR(20) NOT NULL, WHCD CHAR(4) NOT NULL, QOH VARCHAR(12), QRSV {d}, ROL INT)"
        ),
        format!(
            "CREATE TABLE {p}SOHDR (SONO VARCHAR(16) NOT NULL, CUSTNM VARCHAR(60), STCD CHAR(4), SODT CHAR(8), STAT CHAR(1), DLDT CHAR(8), SOAMT VARCHAR(16), CURR CHAR(3))"
        ),
        format!(
            "CREATE TABLE {p}SOLINE (SONO VARCHAR(16) NOT NULL, LNNO INT, ITMNO VARCHAR(20), QTY {d}, UPRC {d}, LAMT {d})"
        ),
        format!(
            "CREATE TABLE {p}EMPMAST (EMPNO VARCHAR(8) NOT NULL, ENM VARCHAR(60), CNM VARCHAR(20))"
        ),
        format!(
            "CREATE TABLE {p}EMPLV (EMPNO VARCHAR(8) NOT NULL, LVYR INT, LVTYP CHAR(2), ENT {d}, TKN {d})"
        ),
    ];
    for row in [
        "('HKI','R','Hong Kong Island','港島',NULL,'HK Island')",
        "('KLN','R','Kowloon','九龍',NULL,NULL)",
        "('KT','W','Kwun Tong','觀塘','KLN','KT WH')",
        "('TW','W','Tsuen Wan','荃灣','KLN',NULL)",
        "('CWB','S','Causeway Bay','銅鑼灣','HKI',NULL)",
        "('MK','S','Mong Kok','旺角','KLN',NULL)",
    ] {
        s.push(format!("INSERT INTO {p}WHSMAST VALUES {row}"));
    }
    for row in [
        "('IPH15P-256','iPhone 15 Pro 256GB','iPhone 15 Pro 256GB','pc')",
        "('A4-80G','A4 Copy Paper 80gsm','A4 影印紙 80克','ream')",
        "('WTR-500','Distilled Water 500ml','蒸餾水 500毫升','btl')",
    ] {
        s.push(format!("INSERT INTO {p}INVMAST VALUES {row}"));
    }
    for row in [
        "('IPH15P-256','KT','  120','12.00',20)",
        "('IPH15P-256','TW','8','3.00',10)",
        "('A4-80G','KT','1,250','250.50',300)",
        "('WTR-500','TW','40','0',50)",
    ] {
        s.push(format!("INSERT INTO {p}INVBAL VALUES {row}"));
    }
    for row in [
        "('SO-2026-00042','Wing On Trading','MK','20260305','S','20260309','18198.00','HKD')",
        "('SO-2026-00043','Pacific Stationers','CWB','20260312','C',NULL,'1340.10','HKD')",
        "('SO-2026-00044','Wing On Trading','MK','20260320','X',NULL,'9099.00','HKD')",
        "('SO-2026-00045','Harbour Cafe','MK','20260402','D','20260403','96.50','HKD')",
    ] {
        s.push(format!("INSERT INTO {p}SOHDR VALUES {row}"));
    }
    for row in [
        "('SO-2026-00042',1,'IPH15P-256','2','9099.00','18198.00')",
        "('SO-2026-00043',1,'A4-80G','30','44.67','1340.10')",
        "('SO-2026-00044',1,'IPH15P-256','1','9099.00','9099.00')",
        "('SO-2026-00045',1,'WTR-500','25','3.86','96.50')",
    ] {
        s.push(format!("INSERT INTO {p}SOLINE VALUES {row}"));
    }
    for row in [
        "('E001','Chan Tai Man','陳大文')",
        "('E002','Wong Siu Ming','黃小明')",
    ] {
        s.push(format!("INSERT INTO {p}EMPMAST VALUES {row}"));
    }
    for row in [
        "('E001',2026,'AL','14.0','3.5')",
        "('E001',2026,'SL','12.0','1.0')",
        "('E001',2025,'AL','12.0','12.0')",
    ] {
        s.push(format!("INSERT INTO {p}EMPLV VALUES {row}"));
    }
    s
}

/// The connector configuration an operator would write for this legacy database: the
/// same SQL for all three servers; `{p}` is the schema prefix.
fn connector_toml(url: &str, p: &str) -> String {
    format!(
        r#"
url = "{url}"
statement_timeout_ms = 3000

[queries.places]
sql = "SELECT WHCD, CASE WHTYP WHEN 'W' THEN 'warehouse' WHEN 'S' THEN 'store' ELSE 'region' END AS kind, WHNM, WHNMC, RGN AS region, ALIAS AS aliases FROM {p}WHSMAST"
columns = {{ code = "WHCD", name_en = "WHNM", name_zh = "WHNMC" }}

[queries.find_items]
sql = "SELECT ITMNO AS sku, DESC1 AS name_en, DESC2 AS name_zh, UOM AS unit FROM {p}INVMAST WHERE LOWER(ITMNO) = LOWER(:text) OR LOWER(DESC1) LIKE :like OR DESC2 LIKE :like"

[queries.stock]
sql = "SELECT b.ITMNO, m.DESC1, m.DESC2, m.UOM, b.WHCD, b.QOH, b.QRSV, b.ROL FROM {p}INVBAL b JOIN {p}INVMAST m ON m.ITMNO = b.ITMNO WHERE b.ITMNO = :item AND (:warehouse IS NULL OR b.WHCD = :warehouse)"
columns = {{ sku = "ITMNO", name_en = "DESC1", name_zh = "DESC2", unit = "UOM", warehouse = "WHCD", on_hand = "QOH", reserved = "QRSV", reorder_level = "ROL" }}

[queries.low_stock]
sql = "SELECT b.ITMNO, m.DESC1, m.DESC2, m.UOM, b.WHCD, b.QOH, b.QRSV, b.ROL FROM {p}INVBAL b JOIN {p}INVMAST m ON m.ITMNO = b.ITMNO WHERE (:warehouse IS NULL OR b.WHCD = :warehouse)"
columns = {{ sku = "ITMNO", name_en = "DESC1", name_zh = "DESC2", unit = "UOM", warehouse = "WHCD", on_hand = "QOH", reserved = "QRSV", reorder_level = "ROL" }}

# One row per order; askerp adds them up per store (exactly, from the string amounts).
[queries.sales_summary]
sql = "SELECT STCD AS store, SOAMT AS total, 1 AS orders, CURR AS currency FROM {p}SOHDR WHERE SODT BETWEEN REPLACE(:start, '-', '') AND REPLACE(:end, '-', '') AND STAT <> 'X' AND (:customer_like IS NULL OR LOWER(CUSTNM) LIKE :customer_like)"

# One row per order with its customer and store; askerp adds them up per customer.
[queries.sales_by_customer]
sql = "SELECT CUSTNM AS customer, STCD AS store, SOAMT AS total, 1 AS orders, CURR AS currency FROM {p}SOHDR WHERE SODT BETWEEN REPLACE(:start, '-', '') AND REPLACE(:end, '-', '') AND STAT <> 'X'"

[queries.top_items]
sql = "SELECT l.ITMNO AS sku, m.DESC1 AS name_en, m.DESC2 AS name_zh, m.UOM AS unit, l.QTY AS quantity, l.LAMT AS revenue, h.STCD AS store FROM {p}SOLINE l JOIN {p}SOHDR h ON h.SONO = l.SONO JOIN {p}INVMAST m ON m.ITMNO = l.ITMNO WHERE h.SODT BETWEEN REPLACE(:start, '-', '') AND REPLACE(:end, '-', '') AND h.STAT <> 'X' AND (:customer_like IS NULL OR LOWER(h.CUSTNM) LIKE :customer_like)"

[queries.order]
sql = "SELECT h.SONO AS number, h.CUSTNM AS customer, h.STCD AS store, h.SODT AS order_date, CASE h.STAT WHEN 'C' THEN 'confirmed' WHEN 'S' THEN 'shipped' WHEN 'D' THEN 'delivered' WHEN 'X' THEN 'cancelled' ELSE 'draft' END AS state, h.DLDT AS delivery_date, h.SOAMT AS total, h.CURR AS currency, l.ITMNO AS sku, m.DESC1 AS name_en, m.DESC2 AS name_zh, m.UOM AS unit, l.QTY AS quantity, l.UPRC AS unit_price, l.LAMT AS amount FROM {p}SOHDR h LEFT JOIN {p}SOLINE l ON l.SONO = h.SONO LEFT JOIN {p}INVMAST m ON m.ITMNO = l.ITMNO WHERE UPPER(h.SONO) = :order ORDER BY l.LNNO"

[queries.find_employees]
sql = "SELECT EMPNO AS id, ENM AS name_en, CNM AS name_zh FROM {p}EMPMAST WHERE LOWER(ENM) LIKE :like OR CNM LIKE :like"

[queries.leave_balance]
sql = "SELECT e.EMPNO AS id, e.ENM AS name_en, e.CNM AS name_zh, CASE v.LVTYP WHEN 'AL' THEN 'annual' WHEN 'SL' THEN 'sick' ELSE 'other' END AS leave_type, v.ENT AS entitled, v.TKN AS taken FROM {p}EMPMAST e JOIN {p}EMPLV v ON v.EMPNO = e.EMPNO WHERE e.EMPNO = :employee AND v.LVYR = :year"
"#
    )
}

macro_rules! exec_all {
    ($pool:expr, $stmts:expr) => {
        for s in $stmts {
            sqlx::query(&s)
                .execute($pool)
                .await
                .unwrap_or_else(|e| panic!("{s}: {e}"));
        }
    };
}

/// Creates the legacy schema named `name` on every available target.
async fn targets(name: &str) -> Vec<Target> {
    let mut out = Vec::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("legacy.db");
    let url = format!("sqlite://{}", path.display());
    {
        let opts = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let pool = sqlx::SqlitePool::connect_with(opts).await.expect("sqlite");
        exec_all!(&pool, schema(Kind::Sqlite, ""));
        pool.close().await;
    }
    out.push(Target {
        kind: Kind::Sqlite,
        url,
        password: None,
        prefix: String::new(),
        _dir: Some(dir),
    });
    let password = std::env::var(PASSWORD_ENV).ok();
    if let Some(url) = server_url("ASKERP_TEST_PG_URL", "PostgreSQL") {
        let opts: sqlx::postgres::PgConnectOptions = url.parse().expect("pg url");
        let opts = opts.password(password.as_deref().unwrap_or_default());
        let pool = sqlx::PgPool::connect_with(opts).await.expect("postgres");
        let mut stmts = vec![
            format!("DROP SCHEMA IF EXISTS {name} CASCADE"),
            format!("CREATE SCHEMA {name}"),
        ];
        stmts.extend(schema(Kind::Postgres, &format!("{name}.")));
        exec_all!(&pool, stmts);
        pool.close().await;
        out.push(Target {
            kind: Kind::Postgres,
            url,
            password: password.clone(),
            prefix: format!("{name}."),
            _dir: None,
        });
    }
    if let Some(url) = server_url("ASKERP_TEST_MYSQL_URL", "MariaDB") {
        let opts: sqlx::mysql::MySqlConnectOptions = url.parse().expect("mysql url");
        let opts = opts.password(password.as_deref().unwrap_or_default());
        let pool = sqlx::MySqlPool::connect_with(opts).await.expect("mariadb");
        let mut stmts = vec![
            format!("DROP DATABASE IF EXISTS {name}"),
            format!("CREATE DATABASE {name} CHARACTER SET utf8mb4"),
        ];
        stmts.extend(schema(Kind::MariaDb, &format!("{name}.")));
        exec_all!(&pool, stmts);
        pool.close().await;
        out.push(Target {
            kind: Kind::MariaDb,
            url,
            password,
            prefix: format!("{name}."),
            _dir: None,
        });
    }
    out
}

fn sql_config(t: &Target) -> SqlConfig {
    let mut c: SqlConfig =
        toml::from_str(&connector_toml(&t.url, &t.prefix)).expect("connector config");
    c.password = t.password.clone().map(askerp::config::Secret::new);
    c
}

fn router_for(connector: Arc<dyn Connector>, protect: Protect) -> ErpRouter {
    let name = connector.name().to_string();
    let guard = Arc::new(Guard::new(&name, protect));
    let guarded: Arc<dyn Connector> = Arc::new(Protected::new(connector, Arc::clone(&guard)));
    ErpRouter::single(
        Opened {
            name,
            connector: guarded,
            guard,
        },
        Duration::from_secs(60),
        Duration::from_secs(10),
    )
}

fn date(s: &str) -> Date {
    s.parse().expect("date")
}

fn march() -> SalesFilter {
    SalesFilter {
        start: date("2026-03-01"),
        end: date("2026-03-31"),
        regions: vec![],
        stores: vec![],
        customer: None,
    }
}

/// Everything the connector can answer, as JSON, for comparison across databases.
async fn canonical(router: &ErpRouter) -> serde_json::Value {
    let kln = SalesFilter {
        regions: vec!["KLN".into()],
        ..march()
    };
    serde_json::json!({
        "places": router.places().await.expect("places").data,
        "items": router.find_items("iphone").await.expect("items").data,
        "stock": router.stock(&["IPH15P-256".into(), "A4-80G".into()], None).await.expect("stock").data,
        "stock_kt": router.stock(&["IPH15P-256".into()], Some("KT")).await.expect("stock").data,
        "low": router.low_stock(None).await.expect("low").data,
        "sales": router.sales_summary(&march()).await.expect("sales").data,
        "sales_kln": router.sales_summary(&kln).await.expect("sales").data,
        "top": router.top_items(&march(), 5).await.expect("top").data,
        "customers": router.sales_by_customer(&march()).await.expect("customers").data,
        "customers_kln": router.sales_by_customer(&kln).await.expect("customers").data,
        "order": router.order("so-2026-00042 ").await.expect("order").data,
        "no_order": router.order("SO-2026-99999").await.expect("order").data,
        "employees": router.find_employees("chan").await.expect("employees").data,
        "leave": router.leave_balance("E001", date("2026-06-30")).await.expect("leave").data,
    })
}

#[tokio::test]
async fn the_same_legacy_data_gives_the_same_answers_in_sqlite_postgres_and_mariadb() {
    let targets = targets("askerp_t_same").await;
    let mut results = Vec::new();
    for t in &targets {
        let c = SqlConnector::connect("legacy", &sql_config(t), "HKD").expect("connect");
        let router = router_for(Arc::new(c), Protect::default());
        results.push((t.kind, canonical(&router).await));
    }
    let (_, first) = &results[0];
    // Exact figures, read from strings and decimals, with currency and unit.
    let sales = &first["sales"];
    assert_eq!(sales["total"]["amount"], "19538.1", "{sales}");
    assert_eq!(sales["total"]["currency"], "HKD");
    assert_eq!(sales["orders"], 2, "the cancelled order is not counted");
    assert_eq!(sales["by_store"][0]["store"]["code"], "MK");
    assert_eq!(first["sales_kln"]["total"]["amount"], "18198");
    let stock = &first["stock_kt"][0];
    assert_eq!(stock["on_hand"]["value"], "120");
    assert_eq!(stock["available"]["value"], "108");
    assert_eq!(stock["available"]["unit"], "pc");
    assert_eq!(stock["warehouse"]["name_zh"], "觀塘");
    let low: Vec<&str> = first["low"]
        .as_array()
        .expect("low")
        .iter()
        .map(|l| l["item"]["sku"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        low,
        ["WTR-500", "IPH15P-256"],
        "available at or below the reorder level, largest gap first"
    );
    let order = &first["order"];
    assert_eq!(order["state"], "shipped");
    assert_eq!(order["order_date"], "2026-03-05");
    assert_eq!(order["delivery_date"], "2026-03-09");
    assert_eq!(order["lines"][0]["unit_price"]["amount"], "9099");
    assert_eq!(first["no_order"], serde_json::Value::Null);
    assert_eq!(first["top"][0]["item"]["sku"], "IPH15P-256");
    assert_eq!(first["top"][0]["quantity"]["value"], "2");
    let customers = &first["customers"];
    assert_eq!(customers[0]["customer"], "Wing On Trading", "{customers}");
    assert_eq!(
        customers[0]["total"]["amount"], "18198",
        "the cancelled order is not counted"
    );
    assert_eq!(customers[0]["orders"], 1);
    assert_eq!(customers[1]["customer"], "Pacific Stationers");
    assert_eq!(customers[1]["total"]["amount"], "1340.1");
    assert_eq!(customers.as_array().map(Vec::len), Some(2));
    assert_eq!(
        first["customers_kln"].as_array().map(Vec::len),
        Some(1),
        "Pacific Stationers bought in Causeway Bay, outside Kowloon"
    );
    let leave = &first["leave"]["lines"];
    assert_eq!(leave[0]["leave_type"], "annual");
    assert_eq!(leave[0]["remaining"]["value"], "10.5");
    assert_eq!(leave[0]["remaining"]["unit"], "day");
    for (kind, r) in &results[1..] {
        assert_eq!(r, first, "{kind:?} differs from SQLite");
    }
    eprintln!(
        "compared canonical answers of {:?}",
        results.iter().map(|(k, _)| *k).collect::<Vec<_>>()
    );
}

/// The bot on one database per run: inventory and sales from the legacy database, leave
/// from a second (HR) connector, through configuration only.
async fn bot_for(t: &Target, dir: &std::path::Path) -> Bot {
    bot_with(t, dir, |_| {}).await
}

/// [`bot_for`], with `tweak` applied to the configuration first.
async fn bot_with(t: &Target, dir: &std::path::Path, tweak: impl FnOnce(&mut Config)) -> Bot {
    let directory = dir.join("directory.toml");
    std::fs::write(
        &directory,
        "version = 1\n[[user]]\ndingtalk_user_id = \"u-chan\"\nemployee_id = \"E001\"\nname = \"Chan Tai Man\"\nroles = [\"admin\"]\n",
    )
    .expect("directory");
    let connector = connector_toml(&t.url, &t.prefix)
        .replace("[queries.", "[erp.connectors.legacy.queries.")
        .replacen("url =", "kind = \"sql\"\nurl =", 1);
    let hr = connector_toml(&t.url, &t.prefix)
        .replace("[queries.", "[erp.connectors.hr.queries.")
        .replacen("url =", "kind = \"sql\"\nurl =", 1);
    let text = format!(
        "[data]\ndirectory = {:?}\n[erp]\nconnector = \"legacy\"\n[erp.routes]\nleave = \"hr\"\n[erp.connectors.legacy]\n{connector}\n[erp.connectors.hr]\n{hr}\n",
        directory.display().to_string()
    );
    let mut config = Config::from_toml(&text).expect("config");
    for c in config.erp.connectors.values_mut() {
        if let askerp::erp::config::ConnectorKind::Sql(s) = &mut c.kind {
            s.password = t.password.clone().map(askerp::config::Secret::new);
        }
    }
    tweak(&mut config);
    askerp::setup::bot(&config).await.expect("bot")
}

fn question(text: &str) -> Question {
    Question {
        text: Some(text.into()),
        msgtype: "text".into(),
        user_id: Some("u-chan".into()),
        conversation: Conversation::OneToOne,
        conversation_id: "cid-sql-test".into(),
        mentioned: vec![],
        now: jiff::Zoned::now()
            .with_time_zone(jiff::tz::TimeZone::get("Asia/Hong_Kong").expect("tz")),
        reference: "test".into(),
    }
}

/// A card without the line that says when the data was read.
fn card_text(bot_answer: &askerp::pipeline::Answer) -> String {
    let c = &bot_answer.card;
    let body: Vec<&str> = c
        .markdown
        .lines()
        .filter(|l| !l.contains("as of ") && !l.contains("截至 "))
        .collect();
    format!("{}\n{}", c.title, body.join("\n"))
}

#[tokio::test]
async fn the_same_question_gives_the_same_card_from_every_database() {
    let targets = targets("askerp_t_cards").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cards: Vec<(Kind, Vec<String>)> = Vec::new();
    for t in &targets {
        let bot = bot_for(t, dir.path()).await;
        assert_eq!(bot.erp.connector_for(Domain::Leave), "hr");
        assert_eq!(bot.erp.connector_for(Domain::Inventory), "legacy");
        let mut texts = Vec::new();
        for q in [
            "how many iPhone 15 Pro 256GB in stock?",
            "status of SO-2026-00042",
            "how many annual leave days do I have?",
        ] {
            let a = bot.answer(&question(q)).await;
            assert_eq!(
                a.decision.as_str(),
                "allow",
                "{q}: {:?} {:?}",
                a.reason,
                a.card
            );
            texts.push(card_text(&a));
        }
        assert!(
            texts[0].contains("108"),
            "available stock on the card: {}",
            texts[0]
        );
        assert!(texts[1].contains("Wing On Trading"), "{}", texts[1]);
        assert!(texts[2].contains("10.5"), "{}", texts[2]);
        cards.push((t.kind, texts));
    }
    for (kind, texts) in &cards[1..] {
        assert_eq!(texts, &cards[0].1, "{kind:?} cards differ from SQLite");
    }
}

/// Counts the calls that reach the database.
struct Counting {
    inner: Arc<dyn Connector>,
    calls: AtomicUsize,
}

#[async_trait]
impl Connector for Counting {
    fn name(&self) -> &str {
        self.inner.name()
    }
    async fn places(&self) -> Result<Places, ErpError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.places().await
    }
    async fn find_items(&self, t: &str) -> Result<Vec<Item>, ErpError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.find_items(t).await
    }
    async fn stock(&self, s: &[String], w: Option<&str>) -> Result<Vec<StockLine>, ErpError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.stock(s, w).await
    }
    async fn low_stock(&self, w: Option<&str>) -> Result<Vec<StockLine>, ErpError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.low_stock(w).await
    }
    async fn sales_summary(&self, f: &SalesFilter) -> Result<SalesSummary, ErpError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.sales_summary(f).await
    }
    async fn top_items(&self, f: &SalesFilter, n: u32) -> Result<Vec<TopItem>, ErpError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.top_items(f, n).await
    }
    async fn order(&self, n: &str) -> Result<Option<Order>, ErpError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.order(n).await
    }
    async fn find_employees(&self, t: &str) -> Result<Vec<Employee>, ErpError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.find_employees(t).await
    }
    async fn leave_balance(&self, e: &str, on: Date) -> Result<Option<LeaveBalance>, ErpError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.leave_balance(e, on).await
    }
}

#[tokio::test]
async fn two_hundred_identical_questions_make_one_database_call() {
    let targets = targets("askerp_t_burst").await;
    for t in &targets {
        let sql = SqlConnector::connect("legacy", &sql_config(t), "HKD").expect("connect");
        let counting = Arc::new(Counting {
            inner: Arc::new(sql),
            calls: AtomicUsize::new(0),
        });
        let router = router_for(counting.clone(), Protect::default());
        let server_before = pg_statements(t, "SOHDR").await;
        let tasks: Vec<_> = (0..200)
            .map(|_| {
                let r = router.clone();
                tokio::spawn(async move { r.sales_summary(&march()).await.map(|f| f.data.total) })
            })
            .collect();
        for task in tasks {
            let total = task.await.expect("task").expect("answer");
            assert_eq!(total.amount, Decimal::new(195381, 1));
        }
        assert_eq!(
            counting.calls.load(Ordering::SeqCst),
            1,
            "{:?}: 200 identical questions must reach the database once",
            t.kind
        );
        // On PostgreSQL, also what the server itself counted.
        if let (Some(before), Some(after)) = (server_before, pg_statements(t, "SOHDR").await) {
            assert_eq!(
                after - before,
                1,
                "PostgreSQL ran the sales statement {} times",
                after - before
            );
            eprintln!("PostgreSQL pg_stat_statements: 200 questions, 1 statement");
        }
        let metrics = router.metrics_text();
        assert!(
            metrics.contains("askerp_erp_connector_cache_hits_total{connector=\"legacy\"} 199"),
            "{metrics}"
        );
    }
}

/// How many times PostgreSQL ran statements reading `table` of this target's schema
/// (`pg_stat_statements`, enabled by `scripts/ci/databases.sh`); `None` elsewhere.
async fn pg_statements(t: &Target, table: &str) -> Option<i64> {
    if t.kind != Kind::Postgres {
        return None;
    }
    let opts: sqlx::postgres::PgConnectOptions = t.url.parse().expect("pg url");
    let opts = opts.password(t.password.as_deref().unwrap_or_default());
    let pool = sqlx::PgPool::connect_with(opts).await.expect("postgres");
    let pattern = format!("%{}{}%", t.prefix.to_lowercase(), table.to_lowercase());
    let n: i64 = sqlx::query_scalar(
        "SELECT COALESCE(SUM(calls), 0)::bigint FROM pg_stat_statements WHERE LOWER(query) LIKE $1 AND query NOT LIKE '%pg_stat_statements%'",
    )
    .bind(pattern)
    .fetch_one(&pool)
    .await
    .expect("pg_stat_statements (run scripts/ci/databases.sh)");
    pool.close().await;
    Some(n)
}

/// A TCP relay in front of PostgreSQL that the test can stop and start, playing a
/// database server that goes away and comes back on the same address.
struct Relay {
    addr: std::net::SocketAddr,
    target: String,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Relay {
    async fn start(target: String, addr: Option<std::net::SocketAddr>) -> Relay {
        let listener = tokio::net::TcpListener::bind(addr.unwrap_or(([127, 0, 0, 1], 0).into()))
            .await
            .expect("bind relay");
        let addr = listener.local_addr().expect("addr");
        let to = target.clone();
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    break;
                };
                let to = to.clone();
                conns.spawn(async move {
                    if let Ok(mut out) = tokio::net::TcpStream::connect(to).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
            }
        });
        Relay {
            addr,
            target,
            task: Some(task),
        }
    }

    /// Stops listening and cuts every open connection.
    fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

#[tokio::test]
async fn a_stopped_database_opens_the_circuit_and_answers_resume_after_restart() {
    let Some(url) = server_url("ASKERP_TEST_PG_URL", "PostgreSQL") else {
        return;
    };
    let targets = targets("askerp_t_breaker").await;
    let Some(pg) = targets.iter().find(|t| t.kind == Kind::Postgres) else {
        return;
    };
    let parsed = url::Url::parse(&url).expect("url");
    let server = format!(
        "{}:{}",
        parsed.host_str().unwrap_or("127.0.0.1"),
        parsed.port().unwrap_or(5432)
    );
    let mut relay = Relay::start(server.clone(), None).await;
    let mut relayed = url::Url::parse(&url).expect("url");
    relayed.set_port(Some(relay.addr.port())).expect("port");
    let mut cfg = sql_config(pg);
    cfg.url = relayed.to_string();
    let c = SqlConnector::connect("legacy", &cfg, "HKD").expect("connect");
    let protect = Protect {
        retries: 1,
        backoff_ms: 10,
        breaker_failures: 2,
        breaker_open_ms: 500,
        attempt_timeout_ms: 2_000,
        ..Protect::default()
    };
    let router = router_for(Arc::new(c), protect);
    assert!(router.find_items("iphone").await.is_ok());

    relay.stop();
    // Two questions fail (each after one retry), which opens the circuit.
    for text in ["paper", "water"] {
        let e = router.find_items(text).await.expect_err("database is down");
        assert!(e.is_transient(), "{e}");
    }
    let started = Instant::now();
    let e = router.find_items("a4").await.expect_err("circuit open");
    assert!(matches!(e, ErpError::CircuitOpen { .. }), "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the user must hear at once"
    );
    let unhealthy = router.health().await;
    assert!(unhealthy[0].1.is_err(), "/readyz sees the open circuit");

    let _relay = Relay::start(relay.target.clone(), Some(relay.addr)).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let items = router
        .find_items("distilled")
        .await
        .expect("answers resume after the restart");
    assert_eq!(items.data[0].sku, "WTR-500");
    assert!(router.find_items("copy").await.is_ok());
    assert!(
        router
            .metrics_text()
            .contains("askerp_erp_connector_circuit_open{connector=\"legacy\"} 0")
    );
}

#[tokio::test]
async fn a_slow_database_gives_a_timeout_answer() {
    let Some(_) = server_url("ASKERP_TEST_PG_URL", "PostgreSQL") else {
        return;
    };
    let targets = targets("askerp_t_slow").await;
    let Some(pg) = targets.iter().find(|t| t.kind == Kind::Postgres) else {
        return;
    };
    let slow = |cfg: &mut SqlConfig| {
        if let Some(q) = cfg.queries.find_items.as_mut() {
            q.sql = format!(
                "SELECT ITMNO AS sku, DESC1 AS name_en, DESC2 AS name_zh, UOM AS unit FROM {}INVMAST, (SELECT pg_sleep(3)) AS s WHERE LOWER(DESC1) LIKE :like",
                pg.prefix
            );
        }
    };
    // askerp's own per-attempt timeout.
    let mut cfg = sql_config(pg);
    slow(&mut cfg);
    let router = router_for(
        Arc::new(SqlConnector::connect("legacy", &cfg, "HKD").expect("connect")),
        Protect {
            retries: 0,
            attempt_timeout_ms: 300,
            ..Protect::default()
        },
    );
    let started = Instant::now();
    let e = router.find_items("iphone").await.expect_err("slow");
    assert!(matches!(e, ErpError::Timeout { .. }), "{e}");
    assert!(started.elapsed() < Duration::from_secs(2));
    // The database's statement timeout, set by the connector on every session.
    let mut cfg = sql_config(pg);
    slow(&mut cfg);
    cfg.statement_timeout_ms = 300;
    let router = router_for(
        Arc::new(SqlConnector::connect("legacy", &cfg, "HKD").expect("connect")),
        Protect {
            retries: 0,
            ..Protect::default()
        },
    );
    let e = router.find_items("iphone").await.expect_err("slow");
    assert!(matches!(e, ErpError::Timeout { .. }), "{e}");
}

#[tokio::test]
async fn the_connector_cannot_write() {
    for t in targets("askerp_t_readonly").await {
        let mut cfg = sql_config(&t);
        // A write smuggled past the SELECT check inside a CTE must still be refused by the
        // read-only session (SQLite and MariaDB refuse the statement itself).
        if let Some(q) = cfg.queries.find_employees.as_mut() {
            q.sql = match t.kind {
                Kind::Postgres => format!(
                    "WITH x AS (DELETE FROM {p}EMPMAST RETURNING EMPNO) SELECT EMPNO AS id, ENM AS name_en, CNM AS name_zh FROM {p}EMPMAST WHERE LOWER(ENM) LIKE :like",
                    p = t.prefix
                ),
                _ => continue,
            };
        }
        let c = SqlConnector::connect("legacy", &cfg, "HKD").expect("connect");
        let e = c.find_employees("chan").await.expect_err("read-only");
        assert!(e.to_string().contains("read-only"), "{e}");
    }
    let bad: Result<SqlConfig, _> = toml::from_str(
        "url = \"sqlite://x.db\"\n[queries.places]\nsql = \"DELETE FROM WHSMAST\"\n",
    );
    let bad = bad.expect("parses");
    assert!(
        SqlConnector::connect("legacy", &bad, "HKD").is_err(),
        "a non-SELECT statement is refused"
    );
}

#[tokio::test]
async fn wrong_credentials_are_named_in_check_and_the_reply() {
    let targets = targets("askerp_t_creds").await;
    for t in targets.iter().filter(|t| t.kind != Kind::Sqlite) {
        let url = &t.url;
        let dir = tempfile::tempdir().expect("tempdir");
        let directory = dir.path().join("directory.toml");
        std::fs::write(
            &directory,
            "version = 1\n[[user]]\ndingtalk_user_id = \"u-chan\"\nemployee_id = \"E001\"\nname = \"Chan\"\nroles = [\"admin\"]\n",
        )
        .expect("directory");
        let connector = connector_toml(url, &t.prefix)
            .replace("[queries.", "[erp.connectors.legacy.queries.")
            .replacen("url =", "kind = \"sql\"\nurl =", 1);
        let config_path = dir.path().join("askerp.toml");
        std::fs::write(
            &config_path,
            format!(
                "[data]\ndirectory = {:?}\n[erp]\nconnector = \"legacy\"\n[erp.connectors.legacy]\n{connector}",
                directory.display().to_string()
            ),
        )
        .expect("config");
        // askerp check names the problem.
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_askerp"))
            .args(["check", "--config"])
            .arg(&config_path)
            .env(
                "ASKERP_ERP__CONNECTORS__LEGACY__PASSWORD",
                "not-the-password",
            )
            .output()
            .expect("askerp check");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stdout}");
        assert!(
            stdout.contains("✗ connector legacy") && stdout.contains("credentials"),
            "{url}: {stdout}\n{stderr}"
        );
        // The right password from the environment (where secrets belong).
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_askerp"))
            .args(["check", "--config"])
            .arg(&config_path)
            .env(
                "ASKERP_ERP__CONNECTORS__LEGACY__PASSWORD",
                t.password.as_deref().unwrap_or_default(),
            )
            .output()
            .expect("askerp check");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("✓ connector legacy: answered"),
            "{url}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The user hears that askerp's sign-in was refused and that IT must fix it; the
        // audit reason says which connector.
        let config = Config::load(Some(&config_path)).expect("config");
        let bot = askerp::setup::bot(&config)
            .await
            .expect("bot starts anyway");
        let a = bot
            .answer(&question("how many iPhone 15 Pro 256GB in stock?"))
            .await;
        assert_eq!(a.decision.as_str(), "error");
        assert!(
            a.card.markdown.contains("refused askerp's sign-in"),
            "{:?}",
            a.card
        );
        assert!(a.card.markdown.contains("IT admin"), "{:?}", a.card);
        assert!(
            a.reason
                .as_deref()
                .unwrap_or_default()
                .contains("credentials"),
            "{:?}",
            a.reason
        );
    }
}

#[tokio::test]
async fn routing_and_protection_settings_are_checked_offline() {
    let err = Config::from_toml(
        r#"
        [erp]
        connector = "legacy"
        [erp.routes]
        leave = "payroll"
        [erp.protect]
        max_concurrency = 0
        [erp.connectors.legacy]
        kind = "sql"
        url = "oracle://erp"
        [erp.connectors.legacy.queries.places]
        sql = "UPDATE WHSMAST SET WHNM = :name"
        "#,
    )
    .expect_err("invalid");
    let text = err.to_string();
    for needle in [
        "erp.routes.leave = \"payroll\"",
        "erp.protect.max_concurrency",
        "erp.connectors.legacy.url",
        "queries.places.sql must be a SELECT",
        "queries.stock is missing",
        "data.directory must be set",
    ] {
        assert!(text.contains(needle), "{needle} missing from {text}");
    }
}

#[tokio::test]
async fn readyz_and_metrics_show_each_connector() {
    let app = crate::support::TestApp::start().await;
    let ready = app
        .http
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status().as_u16(), 200);
    let metrics = app
        .http
        .get(format!("{}/metrics", app.admin_base))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("askerp_erp_connector_calls_total{connector=\"demo\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("askerp_erp_connector_circuit_open{connector=\"demo\"} 0"));

    // A database that cannot be opened: not ready, and the reason names the connector.
    let cfg: SqlConfig = toml::from_str(
        "url = \"sqlite:///nonexistent-askerp-dir/legacy.db\"\n[queries.places]\nsql = \"SELECT 1 AS code\"\n",
    )
    .expect("config");
    let broken = SqlConnector::connect("legacy", &cfg, "HKD").expect("lazy connect");
    let app = crate::support::TestApp::start_with(|_| {}, Some(Arc::new(broken))).await;
    let not_ready = app
        .http
        .get(format!("{}/readyz", app.base))
        .send()
        .await
        .expect("readyz");
    assert_eq!(not_ready.status().as_u16(), 503);
    let body = not_ready.text().await.expect("body");
    assert!(body.contains("connector legacy"), "{body}");
}

#[tokio::test]
async fn sessions_are_read_only_and_the_database_enforces_the_statement_timeout() {
    for t in targets("askerp_t_session").await {
        let (settings, sleep) = match t.kind {
            Kind::Sqlite => continue,
            Kind::Postgres => (
                "SELECT current_setting('transaction_read_only') AS code, 'region' AS kind, current_setting('statement_timeout') AS name_en",
                "SELECT 'x' AS sku, 'x' AS name_en, 'pc' AS unit FROM (SELECT pg_sleep(3)) AS s WHERE :like IS NOT NULL",
            ),
            Kind::MariaDb => (
                "SELECT CAST(@@session.tx_read_only AS CHAR) AS code, 'region' AS kind, CAST(@@session.max_statement_time AS CHAR) AS name_en",
                "SELECT 'x' AS sku, 'x' AS name_en, 'pc' AS unit, SLEEP(3) AS s FROM DUAL WHERE :like IS NOT NULL",
            ),
        };
        let mut cfg = sql_config(&t);
        cfg.statement_timeout_ms = 400;
        if let Some(q) = cfg.queries.places.as_mut() {
            q.sql = settings.into();
            q.columns.clear();
        }
        if let Some(q) = cfg.queries.find_items.as_mut() {
            q.sql = sleep.into();
        }
        let c = SqlConnector::connect("legacy", &cfg, "HKD").expect("connect");
        let places = c.places().await.expect("settings");
        let p = &places.places[0];
        match t.kind {
            Kind::Postgres => {
                assert_eq!(p.code, "on", "read-only session");
                assert_eq!(p.name_en, "400ms");
            }
            _ => {
                assert!(
                    p.code == "1" || p.code.eq_ignore_ascii_case("on"),
                    "read-only session: {}",
                    p.code
                );
                assert!(p.name_en.starts_with("0.4"), "{}", p.name_en);
            }
        }
        let started = Instant::now();
        let e = c.find_items("x").await.expect_err("statement timeout");
        assert!(matches!(e, ErpError::Timeout { .. }), "{:?}: {e}", t.kind);
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", t.kind);
    }
}

#[tokio::test]
async fn users_hear_at_once_while_the_database_is_down_and_get_answers_after_it_returns() {
    let Some(url) = server_url("ASKERP_TEST_PG_URL", "PostgreSQL") else {
        return;
    };
    let targets = targets("askerp_t_down").await;
    let Some(pg) = targets.iter().find(|t| t.kind == Kind::Postgres) else {
        return;
    };
    let parsed = url::Url::parse(&url).expect("url");
    let server = format!(
        "{}:{}",
        parsed.host_str().unwrap_or("127.0.0.1"),
        parsed.port().unwrap_or(5432)
    );
    let mut relay = Relay::start(server, None).await;
    let mut relayed = parsed.clone();
    relayed.set_port(Some(relay.addr.port())).expect("port");
    let through_relay = Target {
        kind: Kind::Postgres,
        url: relayed.to_string(),
        password: pg.password.clone(),
        prefix: pg.prefix.clone(),
        _dir: None,
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let bot = bot_with(&through_relay, dir.path(), |c| {
        c.erp.protect = Protect {
            retries: 0,
            breaker_failures: 2,
            breaker_open_ms: 500,
            ..Protect::default()
        };
    })
    .await;
    let a = bot.answer(&question("status of SO-2026-00042")).await;
    assert_eq!(a.decision.as_str(), "allow", "{:?}", a.reason);

    relay.stop();
    for q in ["status of SO-2026-00043", "status of SO-2026-00044"] {
        let a = bot.answer(&question(q)).await;
        assert_eq!(a.decision.as_str(), "error", "{q}");
    }
    let started = Instant::now();
    let a = bot.answer(&question("status of SO-2026-00045")).await;
    let waited = started.elapsed();
    assert_eq!(a.decision.as_str(), "error");
    assert!(a.card.markdown.contains("can't be reached"), "{:?}", a.card);
    assert!(
        a.reason
            .as_deref()
            .unwrap_or_default()
            .contains("circuit open"),
        "{:?}",
        a.reason
    );
    assert!(waited < Duration::from_secs(1), "answered after {waited:?}");
    eprintln!("circuit open: the user was answered after {waited:?}");

    let _relay = Relay::start(relay.target.clone(), Some(relay.addr)).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let a = bot.answer(&question("status of SO-2026-00045")).await;
    assert_eq!(
        a.decision.as_str(),
        "allow",
        "answers resume: {:?}",
        a.reason
    );
    assert!(a.card.markdown.contains("Harbour Cafe"), "{:?}", a.card);
}

/// Runs one statement on `t` (a test's own connection, not the read-only connector's).
async fn exec_on(t: &Target, stmt: &str) {
    let password = t.password.as_deref().unwrap_or_default();
    match t.kind {
        Kind::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&t.url).await.expect("sqlite");
            exec_all!(&pool, [stmt.to_string()]);
            pool.close().await;
        }
        Kind::Postgres => {
            let opts: sqlx::postgres::PgConnectOptions = t.url.parse().expect("pg url");
            let pool = sqlx::PgPool::connect_with(opts.password(password))
                .await
                .expect("postgres");
            exec_all!(&pool, [stmt.to_string()]);
            pool.close().await;
        }
        Kind::MariaDb => {
            let opts: sqlx::mysql::MySqlConnectOptions = t.url.parse().expect("mysql url");
            let pool = sqlx::MySqlPool::connect_with(opts.password(password))
                .await
                .expect("mariadb");
            exec_all!(&pool, [stmt.to_string()]);
            pool.close().await;
        }
    }
}

async fn poll_alerts<'a>(
    alerts: &'a askerp::push::alerts::LowStockAlerts,
    deps: &'a askerp::push::scheduler::Deps<'a>,
    store: &'a askerp::push::store::FileStore,
) -> askerp::push::alerts::PollReport {
    tokio::time::sleep(Duration::from_millis(5)).await;
    let now =
        jiff::Zoned::now().with_time_zone(jiff::tz::TimeZone::get("Asia/Hong_Kong").expect("tz"));
    alerts.poll(deps, store, &now).await.expect("poll")
}

/// Issue 10: low-stock alerts over the `sql` connector, with the stock changed by an
/// `UPDATE` between polls: one message per crossing however often it is polled, re-armed
/// only after the stock recovers above the reorder level, and a restart does not re-fire.
#[tokio::test]
async fn low_stock_alerts_follow_updates_between_polls_in_every_database() {
    use askerp::push::alerts::LowStockAlerts;
    use askerp::push::routing::{AlertKind, AlertRouteConfig};
    use askerp::push::scheduler::Deps;
    use askerp::push::store::FileStore;

    for t in targets("push_alerts").await {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut bot = bot_for(&t, dir.path()).await;
        let connector = SqlConnector::connect("legacy", &sql_config(&t), "HKD").expect("connect");
        // Read afresh at every poll (the server polls less often than its cache lives).
        bot.erp = ErpRouter::from_connector(
            Arc::new(connector),
            Duration::from_millis(1),
            Duration::from_secs(10),
        );
        let sim =
            askerp::dingtalk::sim::Simulator::new(crate::support::APP_KEY, crate::support::SECRET);
        let base = sim.serve_on_loopback().await.expect("simulator");
        let mut config = Config::default();
        config.dingtalk.app_key = crate::support::APP_KEY.into();
        config.dingtalk.app_secret = askerp::config::Secret::new(crate::support::SECRET);
        config.dingtalk.api_base = base.clone();
        config.dingtalk.oapi_base = base;
        let client = askerp::dingtalk::DingTalkClient::new(&config.dingtalk).expect("client");
        let audit_path = dir.path().join("audit.jsonl");
        let audit = askerp::audit::AuditLog::open(&audit_path).expect("audit");
        let deps = Deps {
            bot: &bot,
            client: &client,
            audit: &audit,
        };
        let alerts = LowStockAlerts::new(
            vec![AlertRouteConfig {
                kind: AlertKind::LowStock,
                warehouses: vec![],
                regions: vec!["KLN".into()],
                stores: vec![],
                states: vec![],
                min_amount: None,
                users: vec!["u-chan".into()],
                groups: vec![],
                locale: "en".into(),
            }],
            vec![],
        );
        let state = dir.path().join("audit.jsonl.push.json");
        let store = FileStore::open(&state).expect("state");
        // iPhone 15 Pro at Tsuen Wan is already low: the starting point, not an alert.
        let r = poll_alerts(&alerts, &deps, &store).await;
        assert!(r.baseline, "{:?}: {r:?}", t.kind);
        assert!(sim.sent().is_empty());
        // Kwun Tong's iPhones: 120 on hand, 12 reserved, reorder level 20. 25 on hand
        // leaves 13 available: below the level.
        let p = &t.prefix;
        exec_on(
            &t,
            &format!("UPDATE {p}INVBAL SET QOH = '25' WHERE ITMNO = 'IPH15P-256' AND WHCD = 'KT'"),
        )
        .await;
        let mut fired = Vec::new();
        for _ in 0..10 {
            fired.extend(poll_alerts(&alerts, &deps, &store).await.fired);
        }
        assert_eq!(fired, ["KT:IPH15P-256"], "{:?}", t.kind);
        let sent = sim.sent();
        assert_eq!(sent.len(), 1, "{:?}: {sent:#?}", t.kind);
        assert!(
            sent[0].text.contains("13"),
            "{:?}: the available quantity: {}",
            t.kind,
            sent[0].text
        );
        assert!(sent[0].title.contains("iPhone 15 Pro"), "{}", sent[0].title);
        // A restart while still low does not re-fire.
        drop(store);
        let store = FileStore::open(&state).expect("state");
        assert!(poll_alerts(&alerts, &deps, &store).await.fired.is_empty());
        // Recovers above the level: re-armed; drops again: one more message.
        exec_on(
            &t,
            &format!("UPDATE {p}INVBAL SET QOH = '120' WHERE ITMNO = 'IPH15P-256' AND WHCD = 'KT'"),
        )
        .await;
        assert_eq!(
            poll_alerts(&alerts, &deps, &store).await.rearmed,
            ["KT:IPH15P-256"],
            "{:?}",
            t.kind
        );
        exec_on(
            &t,
            &format!("UPDATE {p}INVBAL SET QOH = '20' WHERE ITMNO = 'IPH15P-256' AND WHCD = 'KT'"),
        )
        .await;
        assert_eq!(
            poll_alerts(&alerts, &deps, &store).await.fired,
            ["KT:IPH15P-256"],
            "{:?}",
            t.kind
        );
        assert!(poll_alerts(&alerts, &deps, &store).await.fired.is_empty());
        assert_eq!(sim.sent().len(), 2, "{:?}", t.kind);
        let records: Vec<serde_json::Value> = std::fs::read_to_string(&audit_path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let delivered = records
            .iter()
            .filter(|r| r["channel"] == "alert" && r["outcome"] == "delivered")
            .count();
        assert_eq!(delivered, 2, "{:?}", t.kind);
        eprintln!("{:?}: low-stock alert crossings checked", t.kind);
    }
}

/// Sales per customer through the connector equal the database server's own sums
/// (PostgreSQL and MariaDB adding the string amounts as DECIMAL), customer by customer.
#[tokio::test]
async fn per_customer_sales_equal_each_servers_own_sums() {
    let targets = targets("askerp_t_customers").await;
    let (start, end) = (date("2026-03-01"), date("2026-04-30"));
    let filter = SalesFilter {
        start,
        end,
        ..march()
    };
    for t in &targets {
        let c = SqlConnector::connect("legacy", &sql_config(t), "HKD").expect("connect");
        let router = router_for(Arc::new(c), Protect::default());
        let got: Vec<(String, Decimal, u64)> = router
            .sales_by_customer(&filter)
            .await
            .expect("customers")
            .data
            .into_iter()
            .map(|c| (c.customer, c.total.amount, c.orders))
            .collect();
        let p = &t.prefix;
        let sql = format!(
            "SELECT CUSTNM, SUM(CAST(SOAMT AS DECIMAL(12,2))) AS t, COUNT(*) FROM {p}SOHDR \
             WHERE SODT BETWEEN '20260301' AND '20260430' AND STAT <> 'X' \
             GROUP BY CUSTNM ORDER BY t DESC, CUSTNM"
        );
        let password = t.password.clone().unwrap_or_default();
        let server: Vec<(String, Decimal, i64)> = match t.kind {
            // SQLite has no exact DECIMAL: the figures are written out instead.
            Kind::Sqlite => vec![
                ("Wing On Trading".into(), Decimal::new(1_819_800, 2), 1),
                ("Pacific Stationers".into(), Decimal::new(134_010, 2), 1),
                ("Harbour Cafe".into(), Decimal::new(9_650, 2), 1),
            ],
            Kind::Postgres => {
                let opts: sqlx::postgres::PgConnectOptions = t.url.parse().expect("pg url");
                let pool = sqlx::PgPool::connect_with(opts.password(&password))
                    .await
                    .expect("postgres");
                sqlx::query_as(&sql)
                    .fetch_all(&pool)
                    .await
                    .expect("pg sums")
            }
            Kind::MariaDb => {
                let opts: sqlx::mysql::MySqlConnectOptions = t.url.parse().expect("mysql url");
                let pool = sqlx::MySqlPool::connect_with(opts.password(&password))
                    .await
                    .expect("mariadb");
                sqlx::query_as(&sql)
                    .fetch_all(&pool)
                    .await
                    .expect("mariadb sums")
            }
        };
        let server: Vec<(String, Decimal, u64)> = server
            .into_iter()
            .map(|(c, t, n)| (c, t.normalize(), u64::try_from(n).unwrap_or(0)))
            .collect();
        let got: Vec<(String, Decimal, u64)> = got
            .into_iter()
            .map(|(c, t, n)| (c, t.normalize(), n))
            .collect();
        assert_eq!(got, server, "{:?}", t.kind);
        eprintln!(
            "{:?}: per-customer sales equal the server's own sums",
            t.kind
        );
    }
}
