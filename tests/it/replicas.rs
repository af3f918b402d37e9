//! Two askerp replicas behind one DingTalk simulator, sharing state on a real Redis
//! server (`scripts/ci/redis.sh` starts it and sets `ASKERP_TEST_REDIS_URL`): a message
//! delivered to both is answered once (HTTP and Stream), a follow-up asked through the
//! other replica or after a restart continues the conversation, a replica that died
//! mid-answer leaves the message to the other, the shutdown spool is answered by another
//! replica, and Redis going away mid-run degrades as documented in `askerp::state`:
//! answers go on from each replica's memory, marked `degraded` in the audit, counted in
//! the metrics — no crash.
//!
//! Each test uses its own key prefix, so tests running together never share state.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use askerp::audit::AuditLog;
use askerp::config::{Config, Mode, Secret, StateBackend};
use askerp::dingtalk::sim::{Incoming, Sent, Simulator};
use askerp::server::{self, AppState};
use jiff::Timestamp;
use serde_json::Value;

use crate::support::{APP_KEY, SECRET};

const WAIT: Duration = Duration::from_secs(10);

/// The test Redis, or `None` (skipped with a notice) when it is not running here.
pub(crate) fn redis_url() -> Option<String> {
    match std::env::var("ASKERP_TEST_REDIS_URL") {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            assert!(
                std::env::var("ASKERP_TEST_REQUIRE_SERVERS").as_deref() != Ok("1"),
                "ASKERP_TEST_REDIS_URL is not set but ASKERP_TEST_REQUIRE_SERVERS=1: run scripts/ci/redis.sh"
            );
            eprintln!(
                "notice: ASKERP_TEST_REDIS_URL not set, skipping (scripts/ci/redis.sh starts it)"
            );
            None
        }
    }
}

fn unique_prefix() -> String {
    let mut b = [0u8; 6];
    getrandom::fill(&mut b).expect("random");
    format!("askerp-test-{}:", hex::encode(b))
}

/// One DingTalk for every replica of a test.
struct Ding {
    sim: Simulator,
    base: String,
}

impl Ding {
    async fn new() -> Ding {
        let sim = Simulator::new(APP_KEY, SECRET);
        let base = sim.serve_on_loopback().await.expect("simulator");
        Ding { sim, base }
    }
}

/// One askerp replica: its own process state, audit file and demo database.
struct Replica {
    base: String,
    state: AppState,
    audit_path: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Replica {
    async fn start(
        ding: &Ding,
        redis: &str,
        prefix: &str,
        tweak: impl FnOnce(&mut Config),
    ) -> Replica {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config::default();
        config.dingtalk.app_key = APP_KEY.into();
        config.dingtalk.app_secret = Secret::new(SECRET);
        config.dingtalk.api_base = ding.base.clone();
        config.dingtalk.oapi_base = ding.base.clone();
        config.dingtalk.stream_backoff_initial_ms = 50;
        config.dingtalk.stream_backoff_max_secs = 1;
        config.dingtalk.send_retry_base_ms = 20;
        config.erp.demo_database = Some(dir.path().join("demo.sqlite"));
        config.audit.path = dir.path().join("audit.jsonl");
        config.server.shutdown_drain_secs = 0;
        config.server.admin_listen = "127.0.0.1:0".into();
        config.state.backend = StateBackend::Redis;
        config.state.url = Secret::new(redis);
        config.state.key_prefix = prefix.into();
        config.state.in_flight_secs = 2;
        config.state.timeout_ms = 300;
        tweak(&mut config);
        config.validate().expect("valid test config");
        Replica::start_with(config, dir).await
    }

    async fn start_with(config: Config, dir: tempfile::TempDir) -> Replica {
        let bot = askerp::setup::bot(&config).await.expect("bot");
        let audit = Arc::new(AuditLog::open(&config.audit.path).expect("audit"));
        let audit_path = config.audit.path.clone();
        let state = AppState::new(Arc::new(config), Arc::new(bot), audit).expect("state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(server::serve(listener, state.clone(), None, async {
            let _ = stopped.await;
        }));
        Replica {
            base,
            state,
            audit_path,
            stop: Some(stop),
            server: Some(server),
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    /// Stops the replica as SIGTERM does and waits until it has.
    async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let stopped = tokio::time::timeout(WAIT, server).await;
            assert!(stopped.is_ok(), "the replica did not stop");
        }
    }

    async fn post(&self, ding: &Ding, msg: &Incoming, at: Timestamp) -> reqwest::StatusCode {
        let cb = ding.sim.callback(msg, at);
        self.post_signed(&cb).await
    }

    async fn post_signed(&self, cb: &askerp::dingtalk::sim::SignedCallback) -> reqwest::StatusCode {
        self.http
            .post(format!("{}/dingtalk/callback", self.base))
            .header("timestamp", &cb.timestamp)
            .header("sign", &cb.sign)
            .json(&cb.body)
            .send()
            .await
            .expect("post")
            .status()
    }

    fn audit(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.audit_path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

/// Waits a little and returns everything sent, to prove nothing more arrives.
async fn settle(ding: &Ding) -> Vec<Sent> {
    tokio::time::sleep(Duration::from_millis(800)).await;
    ding.sim.sent()
}

/// Records of answered messages (not refusals or summaries) across replicas.
fn answered(replicas: &[&Replica]) -> Vec<Value> {
    replicas
        .iter()
        .flat_map(|r| r.audit())
        .filter(|r| r["outcome"] == "delivered")
        .collect()
}

/// Asks `text` 1:1 as `user` through `replica` and returns the reply and its record.
async fn ask(ding: &Ding, replica: &Replica, user: &str, text: &str) -> (Sent, Value) {
    let before = ding.sim.sent().len();
    let records = replica.audit().len();
    let status = replica
        .post(ding, &Incoming::text(user, text), Timestamp::now())
        .await;
    assert_eq!(status, 200);
    let sent = ding.sim.wait_for_sent(before + 1, WAIT).await;
    let reply = sent.get(before).cloned().expect("a reply");
    let mut record = None;
    for _ in 0..200 {
        if let Some(r) = replica.audit().get(records) {
            record = Some(r.clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    (reply, record.expect("an audit record"))
}

#[tokio::test]
async fn a_callback_delivered_to_both_replicas_is_answered_once() {
    let Some(redis) = redis_url() else { return };
    let ding = Ding::new().await;
    let prefix = unique_prefix();
    let a = Replica::start(&ding, &redis, &prefix, |_| {}).await;
    let b = Replica::start(&ding, &redis, &prefix, |_| {}).await;
    let questions = [
        "how many iPhone 15 Pro 256GB in stock?",
        "iPhone 15 Pro 256GB 觀塘倉仲有幾多?",
        "上個月九龍區營業額",
        "help",
    ];
    for (i, q) in questions.iter().enumerate() {
        let msg = Incoming::text("demo.staff", q).in_group(&format!("cidBoth{i}=="));
        let cb = ding.sim.callback(&msg, Timestamp::now());
        // The same signed callback reaches both replicas at once (a retry through the
        // load balancer lands on the other pod).
        let (sa, sb) = tokio::join!(a.post_signed(&cb), b.post_signed(&cb));
        assert_eq!((sa, sb), (reqwest::StatusCode::OK, reqwest::StatusCode::OK));
    }
    ding.sim.wait_for_sent(questions.len(), WAIT).await;
    let sent = settle(&ding).await;
    let done = answered(&[&a, &b]);
    assert_eq!(
        done.len(),
        questions.len(),
        "answered twice or lost: {done:#?}"
    );
    for i in 0..questions.len() {
        let conv = format!("cidBoth{i}==");
        let n = done
            .iter()
            .filter(|r| r["conversation_id"] == conv.as_str())
            .count();
        assert_eq!(n, 1, "{conv} answered {n} times");
    }
    assert_eq!(sent.len(), questions.len(), "{sent:#?}");
    let dups = a.state.metrics.get("callback_duplicates")
        + b.state.metrics.get("callback_duplicates")
        + a.state.metrics.get("redeliveries_other_replica")
        + b.state.metrics.get("redeliveries_other_replica");
    assert_eq!(
        dups,
        questions.len() as u64,
        "every second delivery is seen as one"
    );
}

#[tokio::test]
async fn a_stream_message_pushed_to_both_replicas_is_answered_once() {
    let Some(redis) = redis_url() else { return };
    let ding = Ding::new().await;
    ding.sim.start_gateway().await.expect("gateway");
    let prefix = unique_prefix();
    let stream = |c: &mut Config| c.dingtalk.mode = Mode::Stream;
    let a = Replica::start(&ding, &redis, &prefix, stream).await;
    assert!(ding.sim.wait_for_stream_connects(1, WAIT).await);
    let b = Replica::start(&ding, &redis, &prefix, stream).await;
    assert!(ding.sim.wait_for_stream_connects(2, WAIT).await);
    for _ in 0..50 {
        if ding.sim.stream_connections() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(ding.sim.stream_connections(), 2);
    let texts = [
        "sales last month in Kowloon",
        "上個月九龍區營業額",
        "doanh số tháng trước ở Cửu Long",
    ];
    for (i, t) in texts.iter().enumerate() {
        let msg = Incoming::text("demo.manager", t).in_group(&format!("cidStream{i}=="));
        let frames = ding.sim.push_message_to_each(&msg);
        assert_eq!(frames.len(), 2, "pushed to both connections");
        for f in &frames {
            let ack = ding
                .sim
                .wait_for_ack(f, WAIT)
                .await
                .expect("an ACK from each replica");
            assert_eq!(ack["code"], 200, "{ack}");
        }
    }
    ding.sim.wait_for_sent(texts.len(), WAIT).await;
    let sent = settle(&ding).await;
    assert_eq!(sent.len(), texts.len(), "answered twice: {sent:#?}");
    let done = answered(&[&a, &b]);
    assert_eq!(done.len(), texts.len(), "{done:#?}");
}

#[tokio::test]
async fn a_follow_up_through_the_other_replica_continues_the_conversation() {
    let Some(redis) = redis_url() else { return };
    let ding = Ding::new().await;
    let prefix = unique_prefix();
    let a = Replica::start(&ding, &redis, &prefix, |_| {}).await;
    let b = Replica::start(&ding, &redis, &prefix, |_| {}).await;

    let (_, first) = ask(&ding, &a, "demo.manager", "sales last month in Kowloon").await;
    assert_eq!(first["decision"], "allow", "{first}");
    let (_, next) = ask(&ding, &b, "demo.manager", "what about last year").await;
    assert_eq!(
        next["source"], "context",
        "B did not know A's question: {next}"
    );
    assert_eq!(next["intent"], "sales.summary");
    assert_eq!(next["slots"]["region"], "Kowloon");

    // In Cantonese, the other way round.
    let (_, q) = ask(
        &ding,
        &b,
        "demo.staff",
        "iPhone 15 Pro 256GB 觀塘倉仲有幾多?",
    )
    .await;
    assert_eq!(q["decision"], "allow", "{q}");
    let (reply, f) = ask(&ding, &a, "demo.staff", "荃灣呢?").await;
    assert_eq!(f["source"], "context", "{f}");
    assert_eq!(f["slots"]["item"], q["slots"]["item"]);
    assert!(reply.text.contains("荃灣"), "{}", reply.text);
}

#[tokio::test]
async fn a_rolling_restart_loses_no_follow_up_context() {
    let Some(redis) = redis_url() else { return };
    let ding = Ding::new().await;
    let prefix = unique_prefix();
    let mut a = Replica::start(&ding, &redis, &prefix, |_| {}).await;
    let (_, first) = ask(&ding, &a, "demo.manager", "上個月九龍區營業額").await;
    assert_eq!(first["decision"], "allow", "{first}");
    // The pod is replaced: the old one stops, a new one (fresh memory) starts.
    a.stop().await;
    let a2 = Replica::start(&ding, &redis, &prefix, |_| {}).await;
    let (_, next) = ask(&ding, &a2, "demo.manager", "and in Mong Kok?").await;
    assert_eq!(
        next["source"], "context",
        "the restart lost the context: {next}"
    );
    assert_eq!(next["decision"], "allow");
    assert_eq!(next["slots"]["period"], first["slots"]["period"]);
}

#[tokio::test]
async fn a_message_held_by_a_replica_that_died_is_answered_once_by_another() {
    let Some(redis) = redis_url() else { return };
    let ding = Ding::new().await;
    let prefix = unique_prefix();
    let b = Replica::start(&ding, &redis, &prefix, |_| {}).await;
    let msg = Incoming::text("demo.staff", "how many iPhone 15 Pro 256GB in stock?");
    let cb = ding.sim.callback(&msg, Timestamp::now());
    let msg_id = cb.body["msgId"].as_str().expect("msgId").to_string();
    // A replica claimed the message and died before answering: its claim is in Redis
    // with no heartbeat behind it.
    let client = redis::Client::open(redis.as_str()).expect("redis");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let _: () = redis::cmd("SET")
        .arg(format!("{prefix}msg:{msg_id}"))
        .arg("f:dead-replica")
        .arg("PX")
        .arg(1500)
        .query_async(&mut conn)
        .await
        .expect("set");
    // DingTalk redelivers it to the live replica.
    assert_eq!(b.post_signed(&cb).await, 200);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        ding.sim.sent().is_empty(),
        "answered while the other claim was alive"
    );
    ding.sim.wait_for_sent(1, WAIT).await;
    // A further redelivery after the answer is dropped.
    assert_eq!(b.post_signed(&cb).await, 200);
    let sent = settle(&ding).await;
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(answered(&[&b]).len(), 1);
    let state: String = redis::cmd("GET")
        .arg(format!("{prefix}msg:{msg_id}"))
        .query_async(&mut conn)
        .await
        .expect("get");
    assert_eq!(state, "done");
}

#[tokio::test]
async fn what_a_stopping_replica_spooled_is_answered_by_another_once() {
    let Some(redis) = redis_url() else { return };
    let ding = Ding::new().await;
    let prefix = unique_prefix();
    let tight = |c: &mut Config| {
        c.server.shutdown_grace_secs = 1;
        c.dingtalk.send_per_minute = 1;
    };
    let mut a = Replica::start(&ding, &redis, &prefix, tight).await;
    for i in 0..6 {
        let text = if i % 2 == 0 {
            "how many iPhone 15 Pro 256GB in stock?"
        } else {
            "iPhone 15 Pro 256GB 仲有幾多?"
        };
        assert_eq!(
            a.post(&ding, &Incoming::text("demo.staff", text), Timestamp::now())
                .await,
            200
        );
    }
    ding.sim.wait_for_sent(1, WAIT).await;
    a.stop().await;
    let a_records = a.audit();
    let spooled = a_records
        .iter()
        .filter(|r| r["outcome"] == "spooled")
        .count();
    let delivered_by_a = a_records
        .iter()
        .filter(|r| r["outcome"] == "delivered")
        .count();
    assert!(spooled > 0, "nothing was queued: the test proves nothing");
    assert_eq!(spooled + delivered_by_a, 6, "{a_records:#?}");
    // Another replica (its own, empty spool file) takes them from Redis.
    let b = Replica::start(&ding, &redis, &prefix, |_| {}).await;
    ding.sim.wait_for_sent(6, WAIT).await;
    let sent = settle(&ding).await;
    assert_eq!(sent.len(), 6, "{sent:#?}");
    let by_b: Vec<Value> = b
        .audit()
        .into_iter()
        .filter(|r| r["channel"] == "spool")
        .collect();
    assert_eq!(by_b.len(), spooled, "{by_b:#?}");
    // And a third start finds nothing left to answer.
    let c = Replica::start(&ding, &redis, &prefix, |_| {}).await;
    assert_eq!(settle(&ding).await.len(), 6);
    assert!(c.audit().iter().all(|r| r["channel"] != "spool"));
}

#[tokio::test]
async fn the_send_budget_is_shared_by_the_replicas() {
    let Some(redis) = redis_url() else { return };
    let prefix = unique_prefix();
    let config = askerp::config::StateConfig {
        backend: StateBackend::Redis,
        url: Secret::new(redis),
        key_prefix: prefix,
        ..Default::default()
    };
    let a = askerp::state::RedisStore::connect(&config).expect("a");
    let b = askerp::state::RedisStore::connect(&config).expect("b");
    let key = a.key("budget", "group:cidShared==");
    assert_eq!(a.take_send_slot(&key, 2).await.expect("slot"), None);
    assert_eq!(b.take_send_slot(&key, 2).await.expect("slot"), None);
    let wait = a
        .take_send_slot(&key, 2)
        .await
        .expect("slot")
        .expect("a third send must wait");
    assert!(
        wait > Duration::from_secs(55) && wait <= Duration::from_secs(60),
        "{wait:?}"
    );
    let wait_b = b.take_send_slot(&key, 2).await.expect("slot");
    assert!(wait_b.is_some(), "the other replica must wait too");
}

/// A Redis server of the test's own, to stop in the middle.
struct OwnRedis {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl OwnRedis {
    fn start_on(port: u16) -> Option<OwnRedis> {
        let bin = std::env::var("ASKERP_TEST_REDIS_SERVER")
            .ok()
            .filter(|b| !b.is_empty())?;
        let dir = tempfile::tempdir().expect("tempdir");
        let child = std::process::Command::new(bin)
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server");
        Some(OwnRedis {
            child,
            port,
            _dir: dir,
        })
    }

    async fn wait_ready(&self) {
        let client = redis::Client::open(self.url().as_str()).expect("client");
        for _ in 0..100 {
            if let Ok(mut c) = client.get_multiplexed_async_connection().await {
                let pong: Result<String, _> = redis::cmd("PING").query_async(&mut c).await;
                if pong.is_ok() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("own redis-server did not start");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[tokio::test]
async fn redis_stopping_mid_run_degrades_to_local_memory_and_says_so() {
    let Some(_) = redis_url() else { return };
    let port = free_port();
    let Some(mut own) = OwnRedis::start_on(port) else {
        assert!(
            std::env::var("ASKERP_TEST_REQUIRE_SERVERS").as_deref() != Ok("1"),
            "ASKERP_TEST_REDIS_SERVER is not set: run scripts/ci/redis.sh"
        );
        return;
    };
    own.wait_ready().await;
    let ding = Ding::new().await;
    let prefix = unique_prefix();
    let a = Replica::start(&ding, &own.url(), &prefix, |_| {}).await;
    let (_, before) = ask(
        &ding,
        &a,
        "demo.staff",
        "how many iPhone 15 Pro 256GB in stock?",
    )
    .await;
    assert_eq!(before["decision"], "allow");
    assert!(before.get("state").is_none(), "{before}");

    own.stop();
    // Answered from the replica's own memory, in English and in Cantonese.
    let (reply, during) = ask(
        &ding,
        &a,
        "demo.staff",
        "how many iPhone 15 Pro 256GB in stock?",
    )
    .await;
    assert_eq!(during["decision"], "allow", "{during}");
    assert_eq!(during["state"], "degraded", "{during}");
    assert!(reply.text.contains("256GB"), "{}", reply.text);
    let (_, zh) = ask(
        &ding,
        &a,
        "demo.staff",
        "iPhone 15 Pro 256GB 觀塘倉仲有幾多?",
    )
    .await;
    assert_eq!(zh["state"], "degraded");
    // A redelivery during the outage is still dropped by the replica's own memory.
    let msg = Incoming::text("demo.staff", "help");
    let cb = ding.sim.callback(&msg, Timestamp::now());
    let n = ding.sim.sent().len();
    assert_eq!(a.post_signed(&cb).await, 200);
    ding.sim.wait_for_sent(n + 1, WAIT).await;
    assert_eq!(a.post_signed(&cb).await, 200);
    assert_eq!(
        settle(&ding).await.len(),
        n + 1,
        "answered twice by one replica"
    );
    let text = askerp::server::metrics_text(&a.state);
    assert!(
        text.lines().any(
            |l| l.starts_with("askerp_state_fallbacks_total{part=\"dedupe\"}")
                && !l.ends_with(" 0")
        ),
        "{text}"
    );

    // Redis comes back on the same address: shared state again, by itself.
    let own2 = OwnRedis::start_on(port).expect("restart");
    own2.wait_ready().await;
    let mut back = None;
    for _ in 0..20 {
        let (_, r) = ask(&ding, &a, "demo.staff", "help").await;
        if r.get("state").is_none() {
            back = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(back.is_some(), "never went back to Redis");
    assert!(askerp::audit::verify(&a.audit_path, None).is_ok());
}

fn interactive_cards(c: &mut Config) {
    c.dingtalk.card_template_id = "tpl-askerp.schema".into();
    c.dingtalk.card_callback_route_key = "askerp".into();
    c.dingtalk.card_callback_token = Secret::new("card-token");
}

/// A card one replica delivered into a group, pressed through the other replica: the
/// other replica knows the card's real space from Redis, so a question anyone in the group
/// may see updates the card in place, and a personal one goes to the presser privately
/// — whatever the callback claims about the space.
#[tokio::test]
async fn a_card_press_through_the_other_replica_knows_where_the_card_is() {
    use askerp::dingtalk::sim::Destination;
    let Some(redis) = redis_url() else { return };
    let ding = Ding::new().await;
    let prefix = unique_prefix();
    let a = Replica::start(&ding, &redis, &prefix, interactive_cards).await;
    let b = Replica::start(&ding, &redis, &prefix, interactive_cards).await;
    let msg = Incoming::text("demo.manager", "how many iPhone 15 Pro 256GB in stock?")
        .in_group("cidCardShared==");
    assert_eq!(a.post(&ding, &msg, Timestamp::now()).await, 200);
    let sent = ding.sim.wait_for_sent(1, WAIT).await;
    let Destination::Card { out_track_id, .. } = sent[0].to.clone() else {
        panic!("not a card: {:?}", sent[0].to);
    };
    let press = |question: &str| {
        serde_json::json!({ "type": "actionCallback", "outTrackId": out_track_id,
            "userId": "demo.staff", "userIdType": 1, "spaceType": "IM_ROBOT", "spaceId": "demo.staff",
            "content": serde_json::json!({"cardPrivateData": {"params": {"question": question}}}).to_string() })
    };
    let url = format!("{}/dingtalk/card?token=card-token", b.base);
    // Personal, in English and Cantonese: private, the group's card untouched.
    let mut expected = 1;
    for q in ["how many annual leave days do I have?", "我仲有幾多日年假?"] {
        let ok = b
            .http
            .post(&url)
            .json(&press(q))
            .send()
            .await
            .expect("post");
        assert_eq!(ok.status(), 200);
        expected += 1;
        let sent = ding.sim.wait_for_sent(expected, WAIT).await;
        assert_eq!(
            sent[expected - 1].to,
            Destination::Private {
                user_ids: vec!["demo.staff".into()]
            },
            "{:?}",
            sent[expected - 1]
        );
    }
    // Shareable (stock in another warehouse): B updates the group's card in place, which
    // it could only do knowing the card is A's group card.
    let ok = b
        .http
        .post(&url)
        .json(&press("iPhone 15 Pro 256GB 荃灣倉仲有幾多?"))
        .send()
        .await
        .expect("post");
    assert_eq!(ok.status(), 200);
    let sent = ding.sim.wait_for_sent(expected + 1, WAIT).await;
    assert!(
        matches!(&sent[expected].to, Destination::CardUpdate { out_track_id: id } if *id == out_track_id),
        "{:?}",
        sent[expected]
    );
    let card = ding.sim.card(&out_track_id).expect("card");
    assert!(card.to_string().contains("荃灣"), "{card}");
}

/// A signed event report replayed to the other replica sends nothing: the event id is
/// claimed in Redis, so the second replica answers `duplicate`.
#[tokio::test]
async fn an_event_report_replayed_to_the_other_replica_is_handled_once() {
    let Some(redis) = redis_url() else { return };
    let ding = Ding::new().await;
    let prefix = unique_prefix();
    let tweak = |c: &mut Config| {
        c.push.sources.insert(
            "erp".into(),
            askerp::push::config::SourceConfig {
                secret: Secret::new("erp-secret"),
            },
        );
        c.alert_routes
            .push(askerp::push::routing::AlertRouteConfig {
                kind: askerp::push::routing::AlertKind::OrderState,
                warehouses: vec![],
                regions: vec![],
                stores: vec![],
                states: vec![],
                min_amount: None,
                users: vec!["demo.admin".into()],
                groups: vec![],
                locale: "en".into(),
            });
    };
    let a = Replica::start(&ding, &redis, &prefix, tweak).await;
    let b = Replica::start(&ding, &redis, &prefix, tweak).await;
    let db = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        a._dir.path().join("demo.sqlite").display()
    ))
    .await
    .expect("demo db");
    let (number,): (String,) = sqlx::query_as("SELECT number FROM orders ORDER BY number LIMIT 1")
        .fetch_one(&db)
        .await
        .expect("an order");
    let body = serde_json::to_vec(
        &serde_json::json!({"id": format!("{prefix}e1"), "kind": "order_state", "order": number}),
    )
    .expect("json");
    let t = Timestamp::now().as_second();
    let signature = askerp::push::inbound::sign("erp-secret", t, &body);
    let mut answers = Vec::new();
    for replica in [&a, &b] {
        let resp = replica
            .http
            .post(format!("{}/events/erp", replica.base))
            .header(askerp::push::inbound::TIMESTAMP_HEADER, t.to_string())
            .header(askerp::push::inbound::SIGNATURE_HEADER, &signature)
            .body(body.clone())
            .send()
            .await
            .expect("post");
        assert_eq!(resp.status().as_u16(), 200);
        let v: Value = resp.json().await.expect("json");
        answers.push(v["status"].as_str().unwrap_or_default().to_string());
    }
    assert_eq!(answers, ["handled", "duplicate"]);
    ding.sim.wait_for_sent(1, WAIT).await;
    let sent = settle(&ding).await;
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(b.state.metrics.get("events_duplicates"), 1);
}
