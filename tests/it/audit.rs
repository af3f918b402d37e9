//! The audit sinks beyond the file: PostgreSQL (a real server; two writers standing in
//! for two replicas share one chain) and the search over the file.

use std::sync::Arc;
use std::time::Duration;

use askerp::audit::{AuditLog, AuditRecord};
use askerp::config::{AuditConfig, AuditSink, Secret};

use crate::support::TestApp;

/// The test server's URL with its password, or `None` (skipped) when no server is set up.
fn pg_url() -> Option<String> {
    let url = match std::env::var("ASKERP_TEST_PG_URL") {
        Ok(u) if !u.is_empty() => u,
        _ => {
            assert!(
                std::env::var("ASKERP_TEST_REQUIRE_SERVERS").as_deref() != Ok("1"),
                "ASKERP_TEST_PG_URL is not set: run scripts/ci/databases.sh"
            );
            eprintln!("notice: ASKERP_TEST_PG_URL not set, skipping the PostgreSQL audit sink");
            return None;
        }
    };
    let mut parsed = url::Url::parse(&url).ok()?;
    if let Ok(pw) = std::env::var("ASKERP_TEST_DB_PASSWORD") {
        let _ = parsed.set_password(Some(&pw));
    }
    Some(parsed.to_string())
}

fn record(i: usize, writer: &str) -> AuditRecord {
    AuditRecord {
        msg_id: format!("{writer}-{i}"),
        channel: "callback".into(),
        decision: "allow".into(),
        outcome: "delivered".into(),
        ..AuditRecord::default()
    }
}

/// Two writers (two replicas) append concurrently: one chain, every record, verified;
/// editing a row, deleting one, or cutting the tail is detected.
#[tokio::test]
async fn the_postgres_sink_keeps_one_chain_across_replicas() {
    let Some(url) = pg_url() else { return };
    let table = format!("askerp_audit_test_{}", std::process::id());
    let config = AuditConfig {
        sink: AuditSink::Postgres,
        postgres_url: Secret::new(url.clone()),
        postgres_table: table.clone(),
        ..AuditConfig::default()
    };
    let a = Arc::new(AuditLog::from_config(&config).expect("sink a"));
    let b = Arc::new(AuditLog::from_config(&config).expect("sink b"));
    let mut tasks = Vec::new();
    for (name, log) in [("a", Arc::clone(&a)), ("b", Arc::clone(&b))] {
        tasks.push(tokio::spawn(async move {
            for i in 0..150 {
                log.append(&record(i, name)).expect("append");
                if i % 40 == 0 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer");
    }
    a.close().await.expect("flush a");
    b.close().await.expect("flush b");
    let v = askerp::audit::postgres::verify(&url, &table, None)
        .await
        .expect("intact");
    assert_eq!(v.records, 300);
    let head = v.head.clone();
    assert!(
        askerp::audit::postgres::verify(&url, &table, Some(&head))
            .await
            .is_ok()
    );

    let pool = sqlx::PgPool::connect(&url).await.expect("connect");
    let exec = |sql: String| {
        let pool = pool.clone();
        async move { sqlx::query(&sql).execute(&pool).await.expect("sql") }
    };
    exec(format!(
        "UPDATE {table} SET line = replace(line, '\"a-7\"', '\"a-X\"') WHERE line LIKE '%\"a-7\"%'"
    ))
    .await;
    assert!(
        askerp::audit::postgres::verify(&url, &table, None)
            .await
            .is_err(),
        "edit"
    );
    exec(format!(
        "UPDATE {table} SET line = replace(line, '\"a-X\"', '\"a-7\"') WHERE line LIKE '%\"a-X\"%'"
    ))
    .await;
    assert!(
        askerp::audit::postgres::verify(&url, &table, None)
            .await
            .is_ok()
    );
    exec(format!(
        "DELETE FROM {table} WHERE seq = (SELECT min(seq) + 10 FROM {table})"
    ))
    .await;
    assert!(
        askerp::audit::postgres::verify(&url, &table, None)
            .await
            .is_err(),
        "delete"
    );
    exec(format!("DROP TABLE {table}")).await;
}

/// `audit search` finds who asked about a colleague's leave, from the records the server
/// wrote, and prints no figures.
#[tokio::test]
async fn search_answers_who_saw_whose_data() {
    let app = TestApp::start().await;
    app.ask(
        "demo.hr",
        "how many annual leave days does Chan Tai Man have?",
    )
    .await;
    app.ask("demo.staff", "how many iPhone 15 Pro 256GB in stock?")
        .await;
    app.audit(2).await;
    let filter = askerp::audit::search::Filter {
        subject: Some("chan tai man".into()),
        ..Default::default()
    };
    let found = askerp::audit::search::search(&app.audit_path, &filter).expect("search");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0]["user"], "demo.hr");
    let line = askerp::audit::search::describe(&found[0]);
    assert!(line.contains("leave.balance"), "{line}");
    let by_user = askerp::audit::search::Filter {
        user: Some("demo.staff".into()),
        ..Default::default()
    };
    let found = askerp::audit::search::search(&app.audit_path, &by_user).expect("search");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["intent"], "inventory.stock");
}
