//! Test harness: askerp served on a loopback port with the DingTalk simulator as its
//! DingTalk (both `api_base` and `oapi_base`), the demo ERP in a temporary SQLite file
//! (so tests can compute expected figures with their own SQL), and the audit log in a
//! temporary directory.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use askerp::audit::AuditLog;
use askerp::config::{Config, Secret};
use askerp::dingtalk::sim::{Incoming, Sent, SignedCallback, Simulator};
use askerp::erp::{Connector, ErpRouter};
use askerp::server::{self, AppState};
use jiff::Timestamp;
use serde_json::Value;

pub const APP_KEY: &str = "dingtestappkey";
pub const SECRET: &str = "askerp-test-secret";

pub struct TestApp {
    pub base: String,
    /// The admin listener (`/metrics`, probes, `POST /admin/reload`).
    pub admin_base: String,
    pub sim: Simulator,
    pub state: AppState,
    pub audit_path: PathBuf,
    pub db_path: PathBuf,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl TestApp {
    pub async fn start() -> TestApp {
        TestApp::start_with(|_| {}, None).await
    }

    /// Starts the app; `tweak` edits the configuration, `connector` replaces the demo ERP.
    pub async fn start_with(
        tweak: impl FnOnce(&mut Config),
        connector: Option<Arc<dyn Connector>>,
    ) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        TestApp::start_on(listener, tweak, connector).await
    }

    /// Starts the app on `listener` (bound by the caller, who then knows the address
    /// before the configuration is made, e.g. for `server.public_url`).
    pub async fn start_on(
        listener: tokio::net::TcpListener,
        tweak: impl FnOnce(&mut Config),
        connector: Option<Arc<dyn Connector>>,
    ) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let sim = Simulator::new(APP_KEY, SECRET);
        let sim_base = sim.serve_on_loopback().await.expect("simulator");
        let mut config = Config::default();
        config.dingtalk.app_key = APP_KEY.into();
        config.dingtalk.app_secret = Secret::new(SECRET);
        config.dingtalk.api_base = sim_base.clone();
        config.dingtalk.oapi_base = sim_base;
        config.erp.demo_database = Some(dir.path().join("demo.sqlite"));
        config.audit.path = dir.path().join("audit.jsonl");
        // Tests stop servers on purpose; the ones about draining set it themselves.
        config.server.shutdown_drain_secs = 0;
        let admin = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind admin");
        let admin_addr = admin.local_addr().expect("admin addr");
        config.server.admin_listen = admin_addr.to_string();
        tweak(&mut config);
        config.validate().expect("valid test config");
        let mut bot = askerp::setup::bot(&config).await.expect("bot");
        if let Some(c) = connector {
            bot.erp = ErpRouter::from_connector(
                c,
                Duration::from_secs(config.erp.cache_ttl_secs),
                Duration::from_secs(config.erp.timeout_secs),
            );
        }
        let audit = Arc::new(AuditLog::open(&config.audit.path).expect("audit"));
        let audit_path = config.audit.path.clone();
        let db_path = dir.path().join("demo.sqlite");
        let state = AppState::new(Arc::new(config), Arc::new(bot), audit).expect("state");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let serving = state.clone();
        tokio::spawn(server::serve_admin(admin, state.clone()));
        tokio::spawn(async move {
            let _ = server::serve(listener, serving, None, std::future::pending()).await;
        });
        TestApp {
            base,
            admin_base: format!("http://{admin_addr}"),
            sim,
            state,
            audit_path,
            db_path,
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    /// POSTs a callback with the given headers (None = header left out).
    pub async fn post_raw(
        &self,
        timestamp: Option<&str>,
        sign: Option<&str>,
        body: &Value,
    ) -> reqwest::StatusCode {
        let mut req = self.http.post(format!("{}/dingtalk/callback", self.base));
        if let Some(t) = timestamp {
            req = req.header("timestamp", t);
        }
        if let Some(s) = sign {
            req = req.header("sign", s);
        }
        req.json(body).send().await.expect("post").status()
    }

    pub async fn post(&self, cb: &SignedCallback) -> reqwest::StatusCode {
        self.post_raw(Some(&cb.timestamp), Some(&cb.sign), &cb.body)
            .await
    }

    /// Sends a message as DingTalk would, now.
    pub async fn say(&self, msg: &Incoming) -> reqwest::StatusCode {
        self.post(&self.sim.callback(msg, Timestamp::now())).await
    }

    /// Sends `text` 1:1 from `user` and waits for the single reply.
    pub async fn ask(&self, user: &str, text: &str) -> Sent {
        let before = self.sim.sent().len();
        let status = self.say(&Incoming::text(user, text)).await;
        assert_eq!(status, 200, "callback refused");
        let sent = self
            .sim
            .wait_for_sent(before + 1, Duration::from_secs(10))
            .await;
        sent.get(before).cloned().expect("a reply")
    }

    /// Waits until the audit log has at least `n` lines and returns them.
    pub async fn audit(&self, n: usize) -> Vec<Value> {
        for _ in 0..200 {
            let lines = self.audit_lines();
            if lines.len() >= n {
                return lines;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        self.audit_lines()
    }

    pub fn audit_lines(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.audit_path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Opens the demo ERP's database for independent expected-value queries.
    pub async fn db(&self) -> sqlx::SqlitePool {
        let url = format!("sqlite://{}?mode=ro", self.db_path.display());
        sqlx::SqlitePool::connect(&url).await.expect("demo db")
    }
}

/// True when the text contains any ASCII digit (personal notes must carry none).
pub fn has_digit(text: &str) -> bool {
    text.chars().any(|c| c.is_ascii_digit())
}

/// A bot answering in-process (no server), over the demo ERP seeded for `today` in a
/// temporary SQLite file that the test may query too (read-only) for expected figures.
pub struct DemoBot {
    pub bot: askerp::pipeline::Bot,
    pub today: jiff::civil::Date,
    pub db: sqlx::SqlitePool,
    _dir: tempfile::TempDir,
}

impl DemoBot {
    pub async fn on(today: jiff::civil::Date) -> DemoBot {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("demo.sqlite");
        let mut bot = askerp::setup::bot(&Config::default()).await.expect("bot");
        let demo = askerp::erp::demo::DemoErp::open(Some(&path), today)
            .await
            .expect("demo");
        bot.erp = ErpRouter::from_connector(
            Arc::new(demo),
            Duration::from_secs(60),
            Duration::from_secs(10),
        );
        let url = format!("sqlite://{}?mode=ro", path.display());
        let db = sqlx::SqlitePool::connect(&url).await.expect("demo db");
        DemoBot {
            bot,
            today,
            db,
            _dir: dir,
        }
    }

    /// `text` asked by `user` 1:1 in `conversation` at 10:00 Hong Kong time on `today`.
    pub async fn ask_in(
        &self,
        user: &str,
        conversation: &str,
        text: &str,
    ) -> askerp::pipeline::Answer {
        let tz = jiff::tz::TimeZone::get("Asia/Hong_Kong").expect("tz");
        let now = self
            .today
            .at(10, 0, 0, 0)
            .to_zoned(tz)
            .expect("a time in Hong Kong");
        let q = askerp::pipeline::Question {
            text: Some(text.to_string()),
            msgtype: "text".into(),
            user_id: Some(user.to_string()),
            conversation: askerp::channel::Conversation::OneToOne,
            conversation_id: conversation.to_string(),
            mentioned: vec![],
            now,
            reference: "test".into(),
        };
        self.bot.answer(&q).await
    }
}
