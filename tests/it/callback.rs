//! The HTTP callback: signatures, dedupe, webhook safety, private delivery, failures.

use std::sync::Arc;
use std::time::Duration;

use askerp::dingtalk::sign::sign;
use askerp::dingtalk::sim::{Destination, Incoming};
use askerp::erp::*;
use async_trait::async_trait;
use jiff::Timestamp;
use jiff::civil::Date;

use crate::support::{SECRET, TestApp, has_digit};

#[tokio::test]
async fn missing_wrong_and_expired_signatures_are_refused_and_not_processed() {
    let app = TestApp::start().await;
    let msg = Incoming::text("demo.staff", "how many iPhone 15 Pro 256GB in stock?");
    let cb = app.sim.callback(&msg, Timestamp::now());

    assert_eq!(app.post_raw(None, None, &cb.body).await, 401);
    assert_eq!(app.post_raw(Some(&cb.timestamp), None, &cb.body).await, 401);
    assert_eq!(app.post_raw(None, Some(&cb.sign), &cb.body).await, 401);
    let wrong = sign("not-the-secret", &cb.timestamp);
    assert_eq!(
        app.post_raw(Some(&cb.timestamp), Some(&wrong), &cb.body)
            .await,
        401
    );
    // Signed correctly, but two hours old.
    let old = (Timestamp::now().as_millisecond() - 2 * 3_600_000).to_string();
    assert_eq!(
        app.post_raw(Some(&old), Some(&sign(SECRET, &old)), &cb.body)
            .await,
        401
    );
    // Signed correctly, but from the future beyond the window.
    let future = (Timestamp::now().as_millisecond() + 2 * 3_600_000).to_string();
    assert_eq!(
        app.post_raw(Some(&future), Some(&sign(SECRET, &future)), &cb.body)
            .await,
        401
    );

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(app.sim.sent().is_empty(), "a refused callback was answered");
    let audit = app.audit(6).await;
    assert_eq!(audit.len(), 6);
    assert!(audit.iter().all(|r| r["decision"] == "refused"));

    // The same message, properly signed, is answered.
    assert_eq!(app.post(&cb).await, 200);
    let sent = app.sim.wait_for_sent(1, Duration::from_secs(10)).await;
    assert_eq!(sent.len(), 1);
}

#[tokio::test]
async fn a_redelivered_message_is_answered_once() {
    let app = TestApp::start().await;
    let msg = Incoming::text("demo.staff", "help");
    let cb = app.sim.callback(&msg, Timestamp::now());
    let (a, b, c) = tokio::join!(app.post(&cb), app.post(&cb), app.post(&cb));
    assert!([a, b, c].iter().all(|s| *s == 200));
    // A later redelivery (DingTalk retry) too.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.post(&cb).await, 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.sim.sent().len(), 1, "answered more than once");
    assert_eq!(app.audit(1).await.len(), 1);
    assert_eq!(app.state.metrics.get("callback_duplicates"), 3);
}

#[tokio::test]
async fn a_foreign_session_webhook_is_never_called() {
    // A listener that counts every connection: it plays the attacker's host.
    let foreign = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let foreign_addr = foreign.local_addr().expect("addr");
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    tokio::spawn(async move {
        while let Ok((_s, _)) = foreign.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let app = TestApp::start().await;
    let mut msg = Incoming::text("demo.staff", "help").in_group("cidGroupA==");
    msg.session_webhook = Some(format!(
        "http://{foreign_addr}/robot/sendBySession?session=stolen"
    ));
    assert_eq!(app.say(&msg).await, 200);
    let sent = app.sim.wait_for_sent(1, Duration::from_secs(10)).await;
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
    // The answer still reaches the group, through the OpenAPI on the configured host.
    assert_eq!(
        sent[0].to,
        Destination::Group {
            conversation_id: "cidGroupA==".into()
        }
    );
    let audit = app.audit(1).await;
    let sends = audit[0]["sends"].to_string();
    assert!(sends.contains("webhook:refused:foreign_host"), "{sends}");
}

#[tokio::test]
async fn an_expired_session_webhook_falls_back_to_the_openapi() {
    let app = TestApp::start().await;
    let mut msg = Incoming::text("demo.staff", "help");
    msg.webhook_ttl = Duration::from_millis(0);
    assert_eq!(app.say(&msg).await, 200);
    let sent = app.sim.wait_for_sent(1, Duration::from_secs(10)).await;
    assert_eq!(
        sent[0].to,
        Destination::Private {
            user_ids: vec!["demo.staff".into()]
        }
    );
    let audit = app.audit(1).await;
    assert!(
        audit[0]["sends"]
            .to_string()
            .contains("webhook:refused:expired")
    );
}

#[tokio::test]
async fn a_failing_webhook_falls_back_to_the_openapi() {
    let app = TestApp::start().await;
    let msg = Incoming::text("demo.staff", "help").in_group("cidGroupB==");
    app.sim.expire_session(&app.sim.session_for(&msg.msg_id));
    assert_eq!(app.say(&msg).await, 200);
    let sent = app.sim.wait_for_sent(1, Duration::from_secs(10)).await;
    assert_eq!(
        sent[0].to,
        Destination::Group {
            conversation_id: "cidGroupB==".into()
        }
    );
    let audit = app.audit(1).await;
    assert!(
        audit[0]["sends"].to_string().contains("300001"),
        "{}",
        audit[0]
    );
}

#[tokio::test]
async fn an_unknown_user_is_told_how_to_get_access() {
    let app = TestApp::start().await;
    let reply = app
        .ask("0999888777", "how many iPhone 15 Pro 256GB in stock?")
        .await;
    assert!(reply.text.contains("0999888777"), "{}", reply.text);
    assert!(
        !reply.text.contains("Kwun Tong"),
        "data leaked: {}",
        reply.text
    );
    let audit = app.audit(1).await;
    assert_eq!(audit[0]["decision"], "unknown_user");
    assert_eq!(audit[0]["user"], "0999888777");
}

#[tokio::test]
async fn a_wrong_robot_code_is_refused() {
    let app =
        TestApp::start_with(|c| c.dingtalk.robot_code = "dingexpectedrobot".into(), None).await;
    let msg = Incoming::text("demo.staff", "help");
    assert_eq!(app.say(&msg).await, 403);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(app.sim.sent().is_empty());
}

#[tokio::test]
async fn malformed_bodies_are_refused_politely() {
    let app = TestApp::start().await;
    let ts = Timestamp::now().as_millisecond().to_string();
    let status = app
        .post_raw(
            Some(&ts),
            Some(&sign(SECRET, &ts)),
            &serde_json::json!({"not": "a robot message"}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(app.audit(1).await[0]["decision"], "refused");
}

#[tokio::test]
async fn pictures_get_a_polite_answer() {
    let app = TestApp::start().await;
    let msg = Incoming::text("demo.staff", "x");
    let mut cb = app.sim.callback(&msg, Timestamp::now());
    cb.body["msgtype"] = "picture".into();
    cb.body["content"] = serde_json::json!({"downloadCode": "d", "pictureDownloadCode": "p"});
    cb.body.as_object_mut().map(|o| o.remove("text"));
    assert_eq!(app.post(&cb).await, 200);
    let sent = app.sim.wait_for_sent(1, Duration::from_secs(10)).await;
    assert!(!sent[0].text.is_empty());
    assert_eq!(app.audit(1).await[0]["decision"], "not_understood");
}

#[tokio::test]
async fn leave_asked_in_a_group_is_answered_privately() {
    let app = TestApp::start().await;
    let msg = Incoming::text("demo.staff", "how many annual leave days do I have?")
        .in_group("cidStoreGroup==");
    assert_eq!(app.say(&msg).await, 200);
    let sent = app.sim.wait_for_sent(2, Duration::from_secs(10)).await;
    assert_eq!(sent.len(), 2, "{sent:#?}");
    let private = sent
        .iter()
        .find(|s| matches!(s.to, Destination::Private { .. }))
        .expect("a private message");
    assert_eq!(
        private.to,
        Destination::Private {
            user_ids: vec!["demo.staff".into()]
        }
    );
    assert!(has_digit(&private.text), "no figures: {}", private.text);
    let note = sent
        .iter()
        .find(|s| matches!(s.to, Destination::Webhook { .. }))
        .expect("a note in the group");
    assert!(
        !has_digit(&note.text),
        "figures in the group: {}",
        note.text
    );
    assert!(
        !has_digit(&note.title),
        "figures in the group: {}",
        note.title
    );
    let audit = app.audit(1).await;
    assert_eq!(audit[0]["delivery"], "private");
    assert_eq!(audit[0]["outcome"], "delivered");
}

/// A connector whose ERP is down, or (with `hang`) never answers.
struct BrokenErp {
    hang: bool,
}

impl BrokenErp {
    async fn fail<T>(&self) -> Result<T, ErpError> {
        if self.hang {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        Err(ErpError::Unavailable {
            connector: "broken".into(),
            detail: "connection refused".into(),
        })
    }
}

#[async_trait]
impl Connector for BrokenErp {
    fn name(&self) -> &str {
        "broken"
    }
    async fn places(&self) -> Result<Places, ErpError> {
        self.fail().await
    }
    async fn find_items(&self, _: &str) -> Result<Vec<Item>, ErpError> {
        self.fail().await
    }
    async fn stock(&self, _: &[String], _: Option<&str>) -> Result<Vec<StockLine>, ErpError> {
        self.fail().await
    }
    async fn low_stock(&self, _: Option<&str>) -> Result<Vec<StockLine>, ErpError> {
        self.fail().await
    }
    async fn sales_summary(&self, _: &SalesFilter) -> Result<SalesSummary, ErpError> {
        self.fail().await
    }
    async fn top_items(&self, _: &SalesFilter, _: u32) -> Result<Vec<TopItem>, ErpError> {
        self.fail().await
    }
    async fn order(&self, _: &str) -> Result<Option<Order>, ErpError> {
        self.fail().await
    }
    async fn find_employees(&self, _: &str) -> Result<Vec<Employee>, ErpError> {
        self.fail().await
    }
    async fn leave_balance(&self, _: &str, _: Date) -> Result<Option<LeaveBalance>, ErpError> {
        self.fail().await
    }
}

#[tokio::test]
async fn an_erp_failure_gives_an_error_card_with_a_reference() {
    let app = TestApp::start_with(|_| {}, Some(Arc::new(BrokenErp { hang: false }))).await;
    let reply = app
        .ask("demo.staff", "how many iPhone 15 Pro 256GB in stock?")
        .await;
    let audit = app.audit(1).await;
    assert_eq!(audit[0]["decision"], "error");
    let reference = askerp::server::reference(audit[0]["msg_id"].as_str().unwrap_or_default());
    assert!(reply.text.contains(&reference), "{}", reply.text);
    assert!(
        audit[0]["reason"]
            .to_string()
            .contains("connection refused")
    );
}

#[tokio::test]
async fn a_slow_erp_gives_a_timeout_card() {
    let app = TestApp::start_with(
        |c| c.erp.timeout_secs = 1,
        Some(Arc::new(BrokenErp { hang: true })),
    )
    .await;
    let started = std::time::Instant::now();
    let reply = app
        .ask("demo.staff", "how many iPhone 15 Pro 256GB in stock?")
        .await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(!reply.text.is_empty());
    let audit = app.audit(1).await;
    assert_eq!(audit[0]["decision"], "error");
    assert!(audit[0]["reason"].to_string().contains("timed out"));
}

#[tokio::test]
async fn when_the_private_answer_cannot_be_sent_the_group_is_told_without_figures() {
    let app = TestApp::start().await;
    app.sim.make_unreachable("demo.staff");
    let msg = Incoming::text("demo.staff", "我仲有幾多日年假?").in_group("cidStoreGroup==");
    assert_eq!(app.say(&msg).await, 200);
    let sent = app.sim.wait_for_sent(1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = if sent.len() == 1 {
        app.sim.sent()
    } else {
        sent
    };
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert!(matches!(sent[0].to, Destination::Webhook { .. }));
    assert!(!has_digit(&sent[0].text), "{}", sent[0].text);
    assert!(sent[0].title.contains("私訊"), "{}", sent[0].title);
    let audit = app.audit(1).await;
    assert_eq!(audit[0]["outcome"], "failed");
    assert!(
        audit[0]["sends"].to_string().contains("invalid"),
        "{}",
        audit[0]
    );
}

#[tokio::test]
async fn shutdown_reports_not_ready_while_it_still_accepts_then_stops() {
    let app = TestApp::start_with(|c| c.server.shutdown_drain_secs = 1, None).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(askerp::server::serve(
        listener,
        app.state.clone(),
        None,
        async {
            let _ = stopped.await;
        },
    ));
    let ready = |base: String| async move {
        reqwest::get(format!("{base}/readyz"))
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    };
    assert_eq!(ready(base.clone()).await, 200);
    let _ = stop.send(());
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Draining: still answering, but telling the load balancer to go elsewhere.
    assert_eq!(ready(base.clone()).await, 503);
    let finished = tokio::time::timeout(Duration::from_secs(5), server).await;
    assert!(finished.is_ok(), "the server did not stop after draining");
}

/// SIGTERM with answers still queued (here: held back by the per-conversation send
/// budget): when the grace period is over, every acknowledged message has an answer or an
/// audit record saying it was not answered, never fewer.
#[tokio::test]
async fn shutdown_accounts_for_every_acknowledged_message() {
    let app = TestApp::start_with(
        |c| {
            c.server.shutdown_grace_secs = 1;
            c.dingtalk.send_per_minute = 1;
        },
        None,
    )
    .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(askerp::server::serve(
        listener,
        app.state.clone(),
        None,
        async {
            let _ = stopped.await;
        },
    ));
    let http = reqwest::Client::new();
    for i in 0..20 {
        let text = if i % 2 == 0 {
            "how many iPhone 15 Pro 256GB in stock?"
        } else {
            "iPhone 15 Pro 256GB 仲有幾多?"
        };
        let cb = app
            .sim
            .callback(&Incoming::text("demo.staff", text), Timestamp::now());
        let status = http
            .post(format!("{base}/dingtalk/callback"))
            .header("timestamp", &cb.timestamp)
            .header("sign", &cb.sign)
            .json(&cb.body)
            .send()
            .await
            .expect("post")
            .status();
        assert_eq!(status, 200);
    }
    app.sim.wait_for_sent(1, Duration::from_secs(10)).await;
    let _ = stop.send(());
    let finished = tokio::time::timeout(Duration::from_secs(10), server).await;
    assert!(finished.is_ok(), "the server did not stop");
    let delivered = app.sim.sent().len();
    let audit = app.audit_lines();
    let answered = audit.iter().filter(|r| r["outcome"] == "delivered").count();
    let spooled: Vec<&serde_json::Value> = audit
        .iter()
        .filter(|r| r["outcome"] == "spooled" || r["outcome"] == "not_answered")
        .collect();
    assert_eq!(answered, delivered);
    assert_eq!(answered + spooled.len(), 20, "{audit:#?}");
    assert!(
        !spooled.is_empty(),
        "nothing was queued: the test proves nothing"
    );
    assert!(
        spooled
            .iter()
            .all(|r| r["reason"].as_str().is_some_and(|s| s.contains("shutdown"))),
        "{spooled:#?}"
    );
    assert!(askerp::audit::verify(&app.audit_path, None).is_ok());

    // The next start answers what the spool held, each once.
    let held = audit.iter().filter(|r| r["outcome"] == "spooled").count();
    assert_eq!(held, spooled.len(), "a queued answer was not spooled");
    let mut config = (*app.state.config).clone();
    config.dingtalk.send_per_minute = 100;
    let bot = askerp::setup::bot(&config).await.expect("bot");
    let state = askerp::server::AppState::new(
        std::sync::Arc::new(config),
        std::sync::Arc::new(bot),
        std::sync::Arc::clone(&app.state.audit),
    )
    .expect("state");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    tokio::spawn(askerp::server::serve(
        listener,
        state,
        None,
        std::future::pending(),
    ));
    let sent = app
        .sim
        .wait_for_sent(delivered + held, Duration::from_secs(15))
        .await;
    assert_eq!(
        sent.len(),
        delivered + held,
        "spooled messages not answered"
    );
    let audit = app.audit(20 + held).await;
    let resumed = audit.iter().filter(|r| r["channel"] == "spool").count();
    assert_eq!(resumed, held, "{audit:#?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.sim.sent().len(), delivered + held, "answered twice");
}

/// The demo ERP with a bug: its leave lookup panics the first `panics` times.
struct PanickyDemo {
    inner: askerp::erp::demo::DemoErp,
    panics: Arc<std::sync::atomic::AtomicU32>,
}

#[async_trait]
impl Connector for PanickyDemo {
    fn name(&self) -> &str {
        "panicky-demo"
    }
    async fn places(&self) -> Result<Places, ErpError> {
        self.inner.places().await
    }
    async fn vocabulary(&self) -> Result<Vocabulary, ErpError> {
        self.inner.vocabulary().await
    }
    async fn find_items(&self, t: &str) -> Result<Vec<Item>, ErpError> {
        self.inner.find_items(t).await
    }
    async fn stock(&self, s: &[String], w: Option<&str>) -> Result<Vec<StockLine>, ErpError> {
        self.inner.stock(s, w).await
    }
    async fn low_stock(&self, w: Option<&str>) -> Result<Vec<StockLine>, ErpError> {
        self.inner.low_stock(w).await
    }
    async fn sales_summary(&self, f: &SalesFilter) -> Result<SalesSummary, ErpError> {
        self.inner.sales_summary(f).await
    }
    async fn top_items(&self, f: &SalesFilter, n: u32) -> Result<Vec<TopItem>, ErpError> {
        self.inner.top_items(f, n).await
    }
    async fn order(&self, n: &str) -> Result<Option<Order>, ErpError> {
        self.inner.order(n).await
    }
    async fn find_employees(&self, t: &str) -> Result<Vec<Employee>, ErpError> {
        self.inner.find_employees(t).await
    }
    async fn leave_balance(&self, e: &str, d: Date) -> Result<Option<LeaveBalance>, ErpError> {
        use std::sync::atomic::Ordering;
        if self
            .panics
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            panic!("a connector bug");
        }
        self.inner.leave_balance(e, d).await
    }
}

/// A panic while answering (a connector's bug) loses nothing silently: the message gets
/// an audit record saying it failed, and since nothing was sent, DingTalk's redelivery
/// of it is answered — once. In English and Cantonese.
#[tokio::test]
async fn a_message_whose_answer_died_is_recorded_and_answered_when_redelivered() {
    let today = jiff::Zoned::now()
        .with_time_zone(jiff::tz::TimeZone::get("Asia/Hong_Kong").expect("tz"))
        .date();
    let panics = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let erp = PanickyDemo {
        inner: askerp::erp::demo::DemoErp::open(None, today)
            .await
            .expect("demo ERP"),
        panics: Arc::clone(&panics),
    };
    let app = TestApp::start_with(|_| {}, Some(Arc::new(erp))).await;
    let mut answered = 0;
    // Two people: a second question of the same person would come from the ERP cache.
    for (user, text) in [
        ("demo.staff", "how many annual leave days do I have?"),
        ("demo.manager", "我仲有幾多日年假?"),
    ] {
        panics.store(1, std::sync::atomic::Ordering::SeqCst);
        let cb = app
            .sim
            .callback(&Incoming::text(user, text), Timestamp::now());
        let records = app.audit_lines().len();
        assert_eq!(app.post(&cb).await, 200);
        let lines = app.audit(records + 1).await;
        let failed = &lines[records];
        assert_eq!(failed["decision"], "error", "{failed}");
        assert_eq!(failed["outcome"], "not_answered");
        assert!(
            failed["reason"]
                .as_str()
                .is_some_and(|r| r.contains("redelivery will be answered")),
            "{failed}"
        );
        assert_eq!(app.sim.sent().len(), answered, "something was sent");
        // DingTalk sends it again: now it is answered, once.
        assert_eq!(app.post(&cb).await, 200);
        answered += 1;
        let sent = app
            .sim
            .wait_for_sent(answered, Duration::from_secs(10))
            .await;
        assert!(
            has_digit(&sent[answered - 1].text),
            "{}",
            sent[answered - 1].text
        );
        assert_eq!(app.post(&cb).await, 200);
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(app.sim.sent().len(), answered, "answered twice");
    }
    assert_eq!(app.state.metrics.get("answers_panicked"), 2);
    assert!(askerp::audit::verify(&app.audit_path, None).is_ok());
}
